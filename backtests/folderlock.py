"""One writer per output folder, and lock files that never write through a link.

An output folder (``--out``) is claimed by a lock file beside it, ``.NAME.bt-lock``, held with
``flock`` from the check before any work until its files are written; a second ``bt`` process
claiming the same folder meanwhile is refused at once. Lock files are opened with ``O_NOFOLLOW``
and must be plain files with a single link, so a planted symbolic or hard link is refused instead
of overwritten. While a folder is claimed, SIGTERM ends the command through Python's normal exit
path (``SystemExit(143)``), so half-written staging folders are removed and the lock file too;
leftovers of a SIGKILLed writer are removed by the next writer of the same folder (``outfolder``).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import os
import signal
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

TERMINATED = 128 + signal.SIGTERM  # the exit status a shell reports for a process ended by SIGTERM


class LockError(ConfigError):
    """A lock that is held by another process, or a lock file that is a link or not a plain file."""


def open_lock_file(path: Path) -> int:
    """Open (creating) a lock file without following a link; refuse anything but a plain, singly linked file."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LockError(f"lock file {path} is a symbolic link; bt does not write through links: "
                            "remove the link and try again") from None  # fmt: skip
        raise LockError(f"lock file {path} cannot be opened ({exc.strerror or exc}); check the folder") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        kind = "has other hard links" if stat.S_ISREG(info.st_mode) else "is not a plain file"
        raise LockError(f"lock file {path} {kind}; bt does not write into it: remove it and try again")
    return fd


def try_flock(fd: int) -> bool:
    """Take the exclusive lock of ``fd`` now, or say it is held elsewhere (never waits)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def holder(fd: int) -> str:
    """The pid the holder wrote into the lock file, or '?'."""
    return os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"


def write_pid(fd: int) -> None:
    """Record this process as the holder."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)


def lock_path(folder: Path) -> Path:
    """Where the lock of an output folder lies: ``.NAME.bt-lock`` beside it."""
    folder = Path(os.path.abspath(folder))
    return folder.parent / f".{folder.name}.bt-lock"


@dataclass
class _Claim:
    fd: int
    path: Path
    created: list[Path] = field(default_factory=list)  # parent folders made for the lock, deepest last


_CLAIMS: dict[Path, _Claim] = {}
_TERM: dict[str, Any] = {"previous": None, "quiet": 0, "pending": False}


def claim(folder: Path, what: str) -> None:
    """Hold ``folder``'s lock until :func:`let_go` (or the process ends); refuse if another process holds it.

    Claiming a folder this process already holds does nothing. Missing parents are made for the lock
    file and removed again by :func:`let_go` if they are still empty.
    """
    key = Path(os.path.abspath(folder))
    if key in _CLAIMS:
        return
    created = _make_parents(key.parent, what)
    try:
        _CLAIMS[key] = _Claim(_lock_fresh(lock_path(key), Path(folder), what), lock_path(key), created)
    except BaseException:
        _remove_empty(created)
        raise
    _catch_sigterm()


def _lock_fresh(path: Path, folder: Path, what: str) -> int:
    """Lock ``path``; retry when a releasing holder unlinked the file we had opened."""
    for _ in range(20):
        fd = open_lock_file(path)
        if not try_flock(fd):
            pid = holder(fd)
            os.close(fd)
            raise LockError(f"{what} {folder} is being written by another bt process (pid {pid}); wait for it "
                            "to finish or pass another --out")  # fmt: skip
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                write_pid(fd)
                return fd
        os.close(fd)
    raise LockError(f"lock file {path} keeps changing; check that nothing else writes there")


def claimed(folder: Path) -> bool:
    """Whether this process holds ``folder``'s lock."""
    return Path(os.path.abspath(folder)) in _CLAIMS


def let_go(folder: Path) -> None:
    """Release ``folder``'s lock (removing its lock file) if this process holds it."""
    item = _CLAIMS.pop(Path(os.path.abspath(folder)), None)
    if item is None:
        return
    with contextlib.suppress(OSError):
        if os.stat(item.path, follow_symlinks=False).st_ino == os.fstat(item.fd).st_ino:
            os.unlink(item.path)  # still holding the lock: a waiting opener sees the file gone and retries
    os.close(item.fd)
    _remove_empty(item.created)
    if not _CLAIMS:
        _restore_sigterm()


@contextlib.contextmanager
def holding(folder: Path, what: str) -> Iterator[None]:
    """``folder``'s lock held inside (when the folder exists): for a command that rewrites files in a folder
    it did not create (``bt report``, ``bt sweep-report``), so a writer replacing the folder meanwhile is refused."""
    if Path(folder).is_dir():
        claim(folder, what)
    try:
        yield
    finally:
        let_go(folder)


@atexit.register
def let_go_all() -> None:
    """Release every folder this process holds: when it ends (also by ``os._exit``, which skips atexit)."""
    for folder in list(_CLAIMS):
        let_go(folder)


def _make_parents(parent: Path, what: str) -> list[Path]:
    missing = [p for p in (parent, *parent.parents) if not p.exists()][::-1]
    try:
        for p in missing:
            p.mkdir()
    except OSError as exc:
        raise LockError(f"{what} {parent} cannot be created ({exc.strerror or exc}); pass another --out") from None
    return missing


def _remove_empty(created: list[Path]) -> None:
    for p in reversed(created):
        try:
            p.rmdir()
        except OSError:
            return


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """A SIGTERM arriving inside is acted on at its end (a folder swap is never left halfway)."""
    _TERM["quiet"] += 1
    try:
        yield
    finally:
        _TERM["quiet"] -= 1
    if _TERM["pending"] and not _TERM["quiet"]:
        _TERM["pending"] = False
        raise SystemExit(TERMINATED)


def _on_sigterm(signum: int, frame: Any) -> None:
    if _TERM["quiet"]:
        _TERM["pending"] = True
        return
    raise SystemExit(TERMINATED)


def _catch_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread() or _TERM["previous"] is not None:
        return
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        _TERM["previous"] = signal.signal(signal.SIGTERM, _on_sigterm)


def _restore_sigterm() -> None:
    if _TERM["previous"] is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _TERM["previous"])
        _TERM["previous"] = None
