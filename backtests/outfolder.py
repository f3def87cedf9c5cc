"""Output folders written whole or not at all, and checked before any long work starts.

``check_writable`` is called before training: a path that cannot be created or written (a
read-only place, a path through a file, ``/dev/null``) is a one-line error then, not a
traceback after the training. ``staged`` writes a folder's files into a hidden sibling and
swaps it into place only when every file is written, so a disk that fills up or a permission
lost midway leaves the earlier folder exactly as it was, and a new folder never half-written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import ConfigError


class FolderError(ConfigError):
    """An output folder that cannot be written, or one that holds earlier results (one line)."""


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def check_writable(path: Path, *, what: str, marker: str | None = None, overwrite: bool = False,
                   hint: str = "pass another --out") -> None:  # fmt: skip
    """Refuse ``path`` unless it can be created and written; with ``marker``, also a folder that holds results.

    Nothing is left behind: the probe file is removed and missing parents are not created.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise FolderError(f"{what} {path} exists and is not a folder; {hint}")
    if marker and (path / marker).exists():
        if not overwrite:
            raise FolderError(f"{what} {path} already holds results ({marker}); pass --overwrite to replace them, "
                              f"or {hint}")  # fmt: skip
    elif marker and path.is_dir() and any(path.iterdir()):
        raise FolderError(f"{what} {path} holds other files (it would be replaced whole); {hint}")
    base = _existing_ancestor(path)
    if not base.is_dir():
        raise FolderError(f"{what} {path} cannot be created: {base} is a file, not a folder; {hint}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".bt-write-test-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise FolderError(f"{what} {path} cannot be written ({exc.strerror or exc}); {hint}") from None


@contextlib.contextmanager
def staged(path: Path, *, what: str = "run folder") -> Iterator[Path]:
    """A hidden sibling folder to write into; on success it replaces ``path``, on failure it is removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.writing-", dir=path.parent))
    except OSError as exc:
        raise FolderError(f"{what} {path} cannot be written ({exc.strerror or exc}); pass another --out") from None
    try:
        yield stage
        _swap(stage, path)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise FolderError(f"could not write {what} {path} ({exc.strerror or exc}); nothing was changed there") from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _swap(stage: Path, path: Path) -> None:
    """Put ``stage`` where ``path`` is; an earlier folder is moved aside first and removed last."""
    os.chmod(stage, 0o777 & ~_umask())
    if not path.exists():
        os.rename(stage, path)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
    os.rename(path, old / path.name)
    try:
        os.rename(stage, path)
    except OSError:
        os.rename(old / path.name, path)  # put the earlier folder back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
