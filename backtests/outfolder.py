"""Output folders written whole or not at all, checked before any long work starts, replacing only bt's files.

``check_writable`` is called before training: a path that cannot be created or written (a
read-only place, a path through a file, ``/dev/null``) is a one-line error then, not a
traceback after the training. For an output folder (one with a ``marker``) it also claims the
folder for this process (``folderlock``: a second writer is refused at once), removes what a
killed earlier writer left beside it, and refuses a folder holding anything bt did not write
(``manifest``); ``--overwrite`` replaces only a folder of bt's files. ``staged`` writes a folder's
files into a hidden sibling and swaps it into place only when every file and the manifest are
written, so a disk that fills up or a permission lost midway leaves the earlier folder exactly as
it was, and a new folder never half-written; the earlier folder's permissions are kept.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import ConfigError
from .folderlock import claim, let_go, uninterrupted
from .manifest import MANIFEST, DamagedManifest, Owned, first_foreign, owned, plain_files, write_manifest


class FolderError(ConfigError):
    """An output folder that cannot be written, or one that holds earlier results (one line)."""


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def check_writable(path: Path, *, what: str, marker: str | None = None, overwrite: bool = False,
                   hint: str = "pass another --out") -> None:  # fmt: skip
    """Refuse ``path`` unless it can be created and written; with ``marker`` (an output folder), also claim it
    and refuse a folder that holds results (without ``overwrite``) or any file bt did not write.

    Nothing is left behind: the probe file is removed, and missing parents (made only for the folder's lock
    file) are removed again if the command ends before the folder is written.
    """
    path = Path(path).expanduser()
    if marker:
        check_target(path, what=what, hint=hint)
    if path.exists() and not path.is_dir():
        raise FolderError(f"{what} {path} exists and is not a folder; {hint}")
    base = _existing_ancestor(path)
    if not base.is_dir():
        raise FolderError(f"{what} {path} cannot be created: {base} is a file, not a folder; {hint}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".bt-write-test-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise FolderError(f"{what} {path} cannot be written ({exc.strerror or exc}); {hint}") from None
    if marker:
        claim(path, what)
        try:
            remove_leftovers(path)
            _check_contents(path, what, marker, overwrite, hint)
        except BaseException:
            let_go(path)
            raise


def check_target(path: Path, *, what: str, hint: str = "pass another --out", replaced: bool = True) -> None:
    """Refuse an output folder that is a symbolic link; one that is ``replaced`` whole, also the current folder
    or one holding it (the shell would be left in a deleted folder)."""
    if path.is_symlink():
        raise FolderError(f"{what} {path} is a symbolic link; bt writes only into a real folder: pass the folder "
                          f"it points to, or {hint}")  # fmt: skip
    if not replaced:
        return
    try:
        here = Path.cwd().resolve()
    except OSError:
        return
    real = Path(os.path.realpath(path))
    if real == here or real in here.parents:
        raise FolderError(f"{what} {path} is the current folder or holds it, and bt replaces an output folder "
                          f"whole; {hint} (a new sub-folder, e.g. --out runs/NAME)")  # fmt: skip


def _check_contents(path: Path, what: str, marker: str, overwrite: bool, hint: str) -> None:
    if not path.is_dir() or not any(path.iterdir()):
        return
    try:
        ours = owned(path)
    except DamagedManifest:
        raise FolderError(f"{what} {path} holds a {MANIFEST} bt did not write; move the folder away or "
                          f"{hint}") from None  # fmt: skip
    if ours is None:
        if (path / marker).exists():
            raise FolderError(f"{what} {path} holds {marker}, which bt did not write; move it away or {hint}")
        first = sorted(os.listdir(path))[0]
        raise FolderError(f"{what} {path} holds other files ({first}; it would be replaced whole); {hint}")
    if not overwrite:
        held = marker if (path / marker).exists() else _shown(ours)
        raise FolderError(f"{what} {path} already holds results ({held}); pass --overwrite to replace them, "
                          f"or {hint}")  # fmt: skip
    foreign = first_foreign(path, ours)
    if foreign is not None:
        raise FolderError(f"{what} {path} holds {foreign}, which bt did not write; move it away or {hint}")


def _shown(ours: Owned) -> str:
    return f"a bt {ours.what}" if ours.what else MANIFEST


def _leftover_pattern(path: Path) -> re.Pattern[str]:
    name = Path(os.path.abspath(path)).name
    return re.compile(re.escape(f".{name}.") + r"(writing|old)-[a-z0-9_]{8}")


def remove_leftovers(path: Path) -> list[str]:
    """Remove the staging folders a killed writer of ``path`` left beside it; only while holding its lock."""
    path = Path(os.path.abspath(path))
    pattern, removed = _leftover_pattern(path), list[str]()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if pattern.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False) \
                and entry.stat(follow_symlinks=False).st_uid == os.getuid():  # fmt: skip
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


@contextlib.contextmanager
def staged(path: Path, *, what: str = "run folder") -> Iterator[Path]:
    """A hidden sibling folder to write into; on success it (with its manifest) replaces ``path``, on failure or
    SIGTERM it is removed. The folder's lock is released at the end either way."""
    path = Path(os.path.abspath(Path(path).expanduser()))
    try:
        claim(path, what)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.writing-", dir=path.parent))
        except OSError as exc:
            raise FolderError(f"{what} {path} cannot be written ({exc.strerror or exc}); pass another --out") from None
        try:
            yield stage
            write_manifest(stage, what, plain_files(stage))
            _swap(stage, path)
        except OSError as exc:
            shutil.rmtree(stage, ignore_errors=True)
            raise FolderError(f"could not write {what} {path} ({exc.strerror or exc}); nothing was changed "
                              "there") from None  # fmt: skip
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    finally:
        let_go(path)


def _swap(stage: Path, path: Path) -> None:
    """Put ``stage`` where ``path`` is, with its permissions; an earlier folder is moved aside first, removed last."""
    with uninterrupted():
        existing = path.is_dir() and not path.is_symlink()
        os.chmod(stage, stat.S_IMODE(os.stat(path).st_mode) if existing else 0o777 & ~_umask())
        if not existing:
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
