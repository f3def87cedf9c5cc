"""Saved models of paper experiments: one file per model version and ensemble member, beside the ledger.

Files are written atomically before the step that references them and checked against the
ledger's sha256 when read; their content is data (``Forecaster.to_bytes``), never executed. A
model file is read only if it is a regular file no larger than 4 GiB (the largest LSTM the
forecasters allow, two layers of 4,096 units, has about 200 million weights: under 2 GB as
float64) or ``BT_MAX_FILE_MB`` if that is higher.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from forecasting import Forecaster
from reports.files import atomic_write_bytes

from ..data.bounded import max_file_bytes, read_bounded
from .ledger import LedgerError

_MODEL_CAP = 4 << 30


def load_model_file(folder: Path, entry: dict[str, str]) -> Forecaster:
    """The forecaster saved in a model file: checksum checked, then read as data (never executed)."""
    data = read_model_file(folder, entry)
    try:
        return Forecaster.from_bytes(data)
    except ValueError as exc:
        raise LedgerError(f"model file {folder / entry['path']} cannot be used ({exc})") from None


def read_model_file(folder: Path, entry: dict[str, str]) -> bytes:
    """The bytes of a model file, checked against the ledger's checksum."""
    path = folder / entry["path"]
    try:
        data = read_bounded(path, max(_MODEL_CAP, max_file_bytes()))
    except OSError as exc:  # also a folder, pipe or device in its place, or a file over the size cap
        raise LedgerError(f"model file {path} cannot be read ({exc.strerror}); the ledger references it") from None
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise LedgerError(f"model file {path} does not match the ledger's checksum (changed or corrupt)")
    return data


def write_model_file(folder: Path, name: str, version: int, member: int, data: bytes) -> dict[str, str]:
    """Write one member of a model version atomically; its path (relative to ``folder``) and sha256."""
    relative = Path("models") / name / f"v{version:04d}-m{member}.bin"
    atomic_write_bytes(folder / relative, data)
    return {"path": relative.as_posix(), "sha256": hashlib.sha256(data).hexdigest()}
