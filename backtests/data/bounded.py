"""Reading a file bt did not write in bounded time and memory: regular files only, a size cap.

Every input a user names (price files, config files, ticker lists, cached downloads, saved
models) is read through these. A FIFO, a device such as ``/dev/zero``, a socket or a
directory is refused before it is opened for reading (and again on the opened descriptor, so
a swap in between is caught), so nothing blocks on a pipe with no writer. Content, compressed
or not, is read in blocks and refused past ``max_file_bytes()`` (``BT_MAX_FILE_MB``, default
64 MiB: a century of daily bars is about 2 MB), so a gzip bomb costs at most the cap.

Refusals are ``OSError`` subclasses whose ``strerror`` reads well after "cannot be read (...)",
so every reader's existing handling of unreadable files gives the one-line message. The regular-file
check and the capped read are ``reports.safe_read``'s (shared with the cache and saved folders);
this module adds decompression and the ``ConfigError`` for a malformed ``BT_MAX_FILE_MB``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from reports import safe_read
from reports.safe_read import DEFAULT_MAX_MB, MAX_ENV, FileTooLarge, NotRegularFile, capped, open_regular, read_capped

from ..errors import ConfigError

__all__ = ["DEFAULT_MAX_MB", "MAX_ENV", "FileTooLarge", "NotRegularFile", "max_file_bytes", "open_regular",
           "read_bounded", "read_unpacked"]  # fmt: skip

# What gzip.open, bz2.open and lzma.open(handle, "rb") return, as the readers they are.
_PACKED: dict[str, Callable[[BinaryIO], io.BufferedIOBase]] = {
    ".gz": lambda handle: gzip.GzipFile(fileobj=handle, mode="rb"),
    ".bz2": lambda handle: bz2.BZ2File(handle, "rb"),
    ".xz": lambda handle: lzma.LZMAFile(handle, "rb"),
}


def max_file_bytes() -> int:
    """The cap on a file's (decompressed) size: ``BT_MAX_FILE_MB`` MiB, default 64; ConfigError if malformed."""
    try:
        return safe_read.max_file_bytes()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def read_bounded(path: Path | str, cap: int | None = None) -> bytes:
    """A regular file's bytes as they are (a link followed); ``FileTooLarge`` past ``cap`` (default: the env's cap)."""
    return read_capped(path, max_file_bytes() if cap is None else cap)


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
            return capped(handle, limit)
        with packed(handle) as stream:
            return capped(stream, limit)


def _unzipped(handle: BinaryIO, limit: int) -> bytes:
    with zipfile.ZipFile(handle) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise OSError(f"a zip archive must hold exactly one file, this one holds {len(names)}")
        with archive.open(names[0]) as member:
            return capped(member, limit)
