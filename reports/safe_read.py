"""Reading a file in bounded time and memory: regular files only, a size cap, JSON of bounded depth.

The one place bt opens a file it may not have written (price files, configs, cache entries, key
files, manifests, saved run folders). A FIFO, a device such as ``/dev/zero``, a socket or a directory
is refused before it is read (a FIFO opened without blocking, the descriptor's type checked), and
content is read in blocks and refused past a cap, so nothing hangs and nothing fills memory.
Stdlib only, so that ``reports`` (which may not import ``backtests``) and ``backtests`` share it.

Refusals are ``OSError`` subclasses whose ``strerror`` reads well after "cannot be read (...)".
"""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO

__all__ = ["DEFAULT_MAX_MB", "MAX_ENV", "FileTooLarge", "JsonTooDeep", "NotRegularFile", "capped", "file_kind",
           "max_file_bytes", "open_regular", "read_capped", "read_json_capped"]  # fmt: skip

MAX_ENV = "BT_MAX_FILE_MB"
DEFAULT_MAX_MB = 64
BLOCK = 1 << 20
_KINDS = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISLNK, "a symbolic link"))  # fmt: skip


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in words: "a directory", "a FIFO (named pipe)", ..."""
    return next((name for test, name in _KINDS if test(mode)), "a file of another kind")


class NotRegularFile(OSError):
    """The path names a directory, FIFO, device or socket: not data."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"it is {kind}, not a regular file")
        self.strerror = self.args[0]
        self.kind = kind


class FileTooLarge(OSError):
    """The file, or what it decompresses to, is larger than the cap."""

    def __init__(self, cap: int) -> None:
        mib = cap / (1 << 20)
        super().__init__(f"more than {mib:g} MiB, the limit on a file bt reads; set {MAX_ENV} to a larger "
                         "number of MiB to read it")  # fmt: skip
        self.strerror = self.args[0]
        self.cap = cap


class JsonTooDeep(ValueError):
    """JSON nested deeper than the reader allows (a deep file would exhaust the stack)."""


def max_file_bytes() -> int:
    """The cap on a file's (decompressed) size: ``BT_MAX_FILE_MB`` MiB, default 64; ValueError if malformed."""
    raw = os.environ.get(MAX_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_MB << 20
    try:
        mib = float(raw)
    except ValueError:
        mib = float("nan")
    if not 0 < mib <= 1 << 20:  # NaN fails too
        raise ValueError(f"{MAX_ENV} must be a number of MiB between 0 and 1048576. Got {raw[:40]!r}.")
    return max(1, int(mib * (1 << 20)))


def _refuse_special(mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise NotRegularFile(file_kind(mode))


@contextmanager
def open_regular(path: Path | str, *, follow_links: bool = True, cap: int | None = None) -> Iterator[BinaryIO]:
    """``path`` opened for binary reading, refused unless it is a regular file (``NotRegularFile``).

    ``follow_links``: a link to a regular file is read; otherwise a link is refused by the open
    (``OSError`` with ``errno.ELOOP``). Following, the target's type is checked before opening, so a
    FIFO or device is never opened; the open never blocks, and the descriptor's type is checked
    again. With ``cap``, a file larger than ``cap`` bytes is ``FileTooLarge`` before any read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if follow_links:
        _refuse_special(os.stat(path).st_mode)
    else:
        flags |= os.O_NOFOLLOW
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        _refuse_special(info.st_mode)
        if cap is not None and info.st_size > cap:
            raise FileTooLarge(cap)
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def capped(stream: IO[bytes] | io.BufferedIOBase, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``, read in blocks; ``FileTooLarge`` if there are more."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        block = stream.read(min(BLOCK, limit + 1 - size))
        if not block:
            return b"".join(chunks)
        chunks.append(block)
        size += len(block)
    raise FileTooLarge(limit)


def read_capped(path: Path | str, cap: int, *, follow_links: bool = True) -> bytes:
    """A regular file's bytes, refused (``FileTooLarge``) past ``cap`` whether its size says so or its reading."""
    with open_regular(path, follow_links=follow_links, cap=cap) as handle:
        return capped(handle, cap)


def _depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` levels deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def read_json_capped(path: Path | str, cap: int, *, follow_links: bool = True, max_depth: int = 64) -> Any:
    """A regular file's JSON: at most ``cap`` bytes (``FileTooLarge``) and ``max_depth`` levels (``JsonTooDeep``).

    Invalid JSON or text that is not UTF-8 is a ``ValueError`` (``json.JSONDecodeError``, ``UnicodeDecodeError``).
    """
    data = read_capped(path, cap, follow_links=follow_links)
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise JsonTooDeep(f"JSON nested more than {max_depth} levels deep") from None
    if _depth_over(value, max_depth):
        raise JsonTooDeep(f"JSON nested more than {max_depth} levels deep")
    return value
