"""A forecaster's saved state as data that cannot run code: a JSON header plus NumPy arrays.

``pack`` writes a NumPy ``.npz`` archive (a zip file) holding ``header.json`` (format, class,
parameters and every scalar, list and dict of the learned state) and one ``.npy`` member per
array; ``unpack`` reads it back with ``allow_pickle=False``, so loading a file never executes
anything it contains. Files written before this format were pickles; ``unpack`` still reads
them through an unpickler that refuses every class but NumPy's array rebuilding, the
built-in containers and the project's own forecasters (and scikit-learn's ``Ridge``), so a
planted pickle that would run code is refused instead of run.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from typing import Any

import numpy as np

FORMAT = 2
_ARRAY = "__array__"
_TUPLE = "__tuple__"


class StateError(ValueError):
    """Bytes that are not a saved forecaster this version can read."""


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-ready ``value``; arrays go to ``arrays`` and leave a reference."""
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {_ARRAY: name}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _encode(v, arrays) for k, v in value.items()}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise StateError(f"cannot save a {type(value).__name__} in a forecaster's state; keep arrays and plain values")


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if _ARRAY in value:
            return arrays[value[_ARRAY]]
        if _TUPLE in value:
            return tuple(_decode(v, arrays) for v in value[_TUPLE])
        return {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


def pack(cls_path: str, params: dict[str, Any], state: dict[str, Any]) -> bytes:
    """The archive of one forecaster: class path, constructor parameters and learned state."""
    arrays: dict[str, np.ndarray] = {}
    header = {"format": FORMAT, "class": cls_path, "params": _encode(params, arrays), "state": _encode(state, arrays)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("header.json", json.dumps(header, sort_keys=True, allow_nan=True))
        for name, array in arrays.items():
            member = io.BytesIO()
            np.save(member, array, allow_pickle=False)
            archive.writestr(f"{name}.npy", member.getvalue())
    return buffer.getvalue()


def unpack(data: bytes) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(class path, params, state) from ``pack``'s bytes, or from a legacy pickle read safely."""
    if data[:2] == b"PK":
        return _unpack_archive(data)
    if data[:1] == b"\x80":
        return _unpack_legacy(data)
    raise StateError("not a saved forecaster (unknown format).")


def _unpack_archive(data: bytes) -> tuple[str, dict[str, Any], dict[str, Any]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            header = json.loads(archive.read("header.json"))
            arrays = {name.removesuffix(".npy"): np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
                      for name in archive.namelist() if name.endswith(".npy")}  # fmt: skip
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise StateError(f"not a saved forecaster ({exc}).") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise StateError("not a saved forecaster (unknown format).")
    return str(header["class"]), _decode(header["params"], arrays), _decode(header["state"], arrays)


# Legacy pickles (saved models of paper experiments made before FORMAT 2): rebuilt, never executed.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"), ("numpy", "ndarray"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy", "dtype"), ("builtins", "tuple"), ("builtins", "list"), ("builtins", "dict"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("sklearn.linear_model._ridge", "Ridge"),
}  # fmt: skip


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise StateError(f"a saved model file refers to {module}.{name}; only saved arrays are read")
        return super().find_class(module, name)


def _unpack_legacy(data: bytes) -> tuple[str, dict[str, Any], dict[str, Any]]:
    try:
        payload = _SafeUnpickler(io.BytesIO(data)).load()
    except StateError:
        raise
    except Exception as exc:  # a damaged pickle: whatever it raises, it is not ours
        raise StateError(f"not a saved forecaster ({type(exc).__name__}).") from None
    if not isinstance(payload, dict) or payload.get("format") != 1:
        raise StateError("not a saved forecaster (unknown format).")
    return str(payload["class"]), dict(payload["params"]), dict(payload["state"])
