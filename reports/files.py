"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename over ``path``.

    Never writes through a link: the temporary file is created new (``O_EXCL``, ``O_NOFOLLOW``) and the rename
    replaces a link at ``path`` rather than its target.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_csv(frame: pd.DataFrame, path: Path, **kwargs: Any) -> None:
    """A table as CSV, atomically: floats round-trip exactly (17 digits), dates as YYYY-MM-DD."""
    atomic_write_text(path, frame.to_csv(float_format="%.17g", date_format="%Y-%m-%d", **kwargs))


def write_json(path: Path, value: Any) -> None:
    """Indented JSON, atomically; NumPy scalars are written as plain numbers."""

    def plain(item: object) -> object:
        if hasattr(item, "item"):
            return item.item()
        raise TypeError(f"cannot serialise {type(item).__name__}")

    atomic_write_text(path, json.dumps(value, indent=2, default=plain) + "\n")
