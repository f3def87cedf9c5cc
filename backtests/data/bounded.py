"""Reading a file bt did not write in bounded time and memory: regular files only, a size cap.

Every input a user names (price files, config files, ticker lists, cached downloads, saved
models) is read through these. A FIFO, a device such as ``/dev/zero``, a socket or a
directory is refused before it is opened for reading (and again on the opened descriptor, so
a swap in between is caught), so nothing blocks on a pipe with no writer. Content, compressed
or not, is read in blocks and refused past ``max_file_bytes()`` (``BT_MAX_FILE_MB``, default
64 MiB: a century of daily bars is about 2 MB), so a gzip bomb costs at most the cap.

Refusals are ``OSError`` subclasses whose ``strerror`` reads well after "cannot be read (...)",
so every reader's existing handling of unreadable files gives the one-line message.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

from ..errors import ConfigError

__all__ = ["DEFAULT_MAX_MB", "MAX_ENV", "FileTooLarge", "NotRegularFile", "max_file_bytes", "open_regular",
           "read_bounded", "read_unpacked"]  # fmt: skip

MAX_ENV = "BT_MAX_FILE_MB"
DEFAULT_MAX_MB = 64
_BLOCK = 1 << 20
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))  # fmt: skip
# What gzip.open, bz2.open and lzma.open(handle, "rb") return, as the readers they are.
_PACKED: dict[str, Callable[[BinaryIO], io.BufferedIOBase]] = {
    ".gz": lambda handle: gzip.GzipFile(fileobj=handle, mode="rb"),
    ".bz2": lambda handle: bz2.BZ2File(handle, "rb"),
    ".xz": lambda handle: lzma.LZMAFile(handle, "rb"),
}


class NotRegularFile(OSError):
    """The path names a directory, FIFO, device or socket: not data."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"it is {kind}, not a regular file")
        self.strerror = self.args[0]


class FileTooLarge(OSError):
    """The file, or what it decompresses to, is larger than the cap."""

    def __init__(self, cap: int) -> None:
        mib = cap / (1 << 20)
        super().__init__(f"more than {mib:g} MiB, the limit on a file bt reads; set {MAX_ENV} to a larger "
                         "number of MiB to read it")  # fmt: skip
        self.strerror = self.args[0]
        self.cap = cap


def max_file_bytes() -> int:
    """The cap on a file's (decompressed) size: ``BT_MAX_FILE_MB`` MiB, default 64; ConfigError if malformed."""
    raw = os.environ.get(MAX_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_MB << 20
    try:
        mib = float(raw)
    except ValueError:
        mib = float("nan")
    if not 0 < mib <= 1 << 20:  # NaN fails too
        raise ConfigError(f"{MAX_ENV} must be a number of MiB between 0 and 1048576. Got {raw[:40]!r}.")
    return max(1, int(mib * (1 << 20)))


def _refuse_special(mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise NotRegularFile(next((name for test, name in _KINDS if test(mode)), "of another kind"))


@contextmanager
def open_regular(path: Path | str) -> Iterator[BinaryIO]:
    """``path`` opened for binary reading, refused unless it is (or links to) a regular file.

    The target's type is checked before opening, so a FIFO or device is never opened; the open
    itself does not block, and the descriptor's type is checked again.
    """
    _refuse_special(os.stat(path).st_mode)  # follows links: a link to /dev/zero is refused here
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        _refuse_special(os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_bounded(path: Path | str, cap: int | None = None) -> bytes:
    """A regular file's bytes as they are; ``FileTooLarge`` past ``cap`` (default ``max_file_bytes()``)."""
    limit = max_file_bytes() if cap is None else cap
    with open_regular(path) as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            raise FileTooLarge(limit)
        return _capped(handle, limit)


def read_unpacked(path: Path | str, cap: int | None = None) -> bytes:
    """A regular file's bytes decompressed by its suffix (.gz .bz2 .xz .zip) or gzip magic, in blocks to ``cap``.

    A zip archive must hold exactly one file. Decompression stops at the cap, so the memory a
    compressed file can take is bounded whatever it expands to.
    """
    limit = max_file_bytes() if cap is None else cap
    suffix = Path(path).suffix.lower()
    with open_regular(path) as handle:
        if suffix == ".zip":
            return _unzipped(handle, limit)
        packed = _PACKED.get(suffix) or (_PACKED[".gz"] if handle.read(2) == b"\x1f\x8b" else None)
        handle.seek(0)
        if packed is None:
            if os.fstat(handle.fileno()).st_size > limit:
                raise FileTooLarge(limit)
            return _capped(handle, limit)
        with packed(handle) as stream:
            return _capped(stream, limit)


def _unzipped(handle: BinaryIO, limit: int) -> bytes:
    with zipfile.ZipFile(handle) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise OSError(f"a zip archive must hold exactly one file, this one holds {len(names)}")
        with archive.open(names[0]) as member:
            return _capped(member, limit)


def _capped(stream: IO[bytes] | io.BufferedIOBase, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``, read in blocks; ``FileTooLarge`` if there are more."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        block = stream.read(min(_BLOCK, limit + 1 - size))
        if not block:
            return b"".join(chunks)
        chunks.append(block)
        size += len(block)
    raise FileTooLarge(limit)
