"""On-disk cache of walk-forward results (tables, never pickles), keyed by data, settings and code version.

A run that changes only strategy or broker settings reuses the forecasts
instead of retraining. The key hashes the exact prices the walk-forward
reads, every forecasting setting, the target period and a digest of the
``forecasting`` package's source (for a plugin: its distribution, version and code
digest), so any change there retrains. Entries are signed with the user's cache key
(``backtests.cache_key``) and checked against the run's own data before they are served
(``backtests.cache_check``), so a writer without the key cannot plant forecasts.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting import ForecastConfig, WalkForwardResult, registry
from forecasting.walkforward import FORECAST_COLUMNS
from reports.files import atomic_write_bytes
from reports.safe_read import FileTooLarge, NotRegularFile, read_capped

from .cache_check import Expected, check_entry
from .cache_key import ENV, CacheKey, cache_key, key_file

_FORMAT = 3  # 3: signed headers (entries of format 2 have other keys: recomputed once)
_HEADER_CAP = 64 * 1024
_TABLE_CAP = 64 * 1024 * 1024  # without an ``expect`` to size it


def code_version(model: str = "lstm") -> str:
    """Digest of the code that computes ``model``'s forecasts (the forecasting package for built-ins)."""
    return registry.code_identity(model)["code"]


def series_fingerprint(series: pd.Series) -> str:
    """sha256 of a date-indexed float series, stable across runs and machines."""
    text = series.to_csv(float_format="%.17g", date_format="%Y-%m-%d", header=False)
    return hashlib.sha256(text.encode()).hexdigest()


def forecast_key(prices_fingerprint: str, config: ForecastConfig, first: pd.Timestamp, last: pd.Timestamp) -> str:
    """The cache key of one walk-forward."""
    payload = {
        "format": _FORMAT,
        "code": registry.code_identity(config.model),  # distribution, version and code digest
        "prices": prices_fingerprint,
        "config": config.to_dict(),
        "first_target": f"{first:%Y-%m-%d}",
        "last_target": f"{last:%Y-%m-%d}",
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def _table_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format="%.17g", date_format="%Y-%m-%d", lineterminator="\n")


def _table(text: str, dtypes: dict[str, str]) -> pd.DataFrame:
    """A table written by ``_table_text``, with its columns' dtypes as they were (floats exact)."""
    dates = [c for c, t in dtypes.items() if t.startswith("datetime64")]
    frame = pd.read_csv(io.StringIO(text), parse_dates=dates)
    if list(frame.columns) != list(dtypes):
        raise ValueError("columns differ from the header")
    return frame.astype({c: t for c, t in dtypes.items() if c not in dates})


def _read_entry(path: Path, cap: int) -> bytes:
    """An entry file's bytes through ``reports.safe_read``, not following a link; ValueError for anything else.

    A link, a directory, a device or a FIFO, and a file over ``cap`` bytes, are refused before their
    content is read, so a planted entry costs neither a hang nor memory.
    """
    try:
        return read_capped(path, cap, follow_links=False)
    except NotRegularFile as exc:
        raise ValueError(f"{path.name} is not a regular file (it is {exc.kind})") from None
    except FileTooLarge:
        raise ValueError(f"{path.name} is larger than {cap} bytes") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"{path.name} is a symbolic link; only regular files are read") from None
        raise


def _signed_part(header: dict[str, Any]) -> bytes:
    """The bytes the entry's HMAC covers: the header (key, format, checksums, dtypes) without the HMAC."""
    return json.dumps({k: v for k, v in header.items() if k != "hmac"}, sort_keys=True, separators=(",", ":")).encode()


class ForecastCache:
    """A folder of walk-forward results as CSV tables plus a signed JSON header; nothing in it is ever executed.

    An entry is ``KEY.forecasts.csv``, ``KEY.folds.csv`` and ``KEY.json`` (the key, the format, each
    table's sha256 and column types, and an HMAC of all that with the user's cache key), the header
    written last. An entry is served only when its HMAC verifies, its tables match their checksums,
    and they pass ``cache_check.check_entry`` against what the run's data says (``expect``). Anything
    else (missing, truncated, foreign, signed with another key, a directory or FIFO or link in place
    of a file, too large, not the run's days or prices, NaN or short) is a miss, with one notice line
    when the entry exists, and is rewritten by the next ``put``. Files of other formats (such as old
    pickles) are never opened. ``key``: the signing key (default: ``cache_key.cache_key()``).
    """

    def __init__(self, folder: Path, notify: Callable[[str], None] | None = None, key: CacheKey | None = None) -> None:
        self.folder = Path(folder)
        self.notify = notify or (lambda _: None)
        self.key = key if key is not None else cache_key()

    def _paths(self, key: str) -> dict[str, Path]:
        return {name: self.folder / f"{key}.{name}" for name in ("json", "forecasts.csv", "folds.csv")}

    def get(self, key: str, expect: Expected | None = None) -> WalkForwardResult | None:
        """The cached result for ``key`` if it is usable (and a walk-forward of ``expect``'s data), else None."""
        paths = self._paths(key)
        try:
            os.lstat(paths["json"])
        except FileNotFoundError:
            return None
        except OSError:
            pass  # reported below, as reading it fails
        try:
            header = self._header(paths["json"], key)
            cap = _TABLE_CAP if expect is None else _cap(expect)
            tables = [self._read_table(paths[f"{name}.csv"], header, name, cap) for name in ("forecasts", "folds")]
            result = WalkForwardResult(forecasts=tables[0], folds=tables[1])
            check_entry(result, expect)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            self.notify(f"ignoring unusable forecast cache entry {paths['json']} ({_reason(exc)}); recomputing")
            return None
        return result

    def _header(self, path: Path, key: str) -> dict[str, Any]:
        """The entry's header, if it is this key's, in this format, and signed with this cache's key."""
        header = json.loads(_read_entry(path, _HEADER_CAP).decode("utf-8"))
        if not isinstance(header, dict) or header.get("key") != key or header.get("format") != _FORMAT:
            raise ValueError("a foreign or mismatched header")
        if not self.key.verifies(_signed_part(header), header.get("hmac")):
            raise ValueError(f"its signature does not verify with this cache's key, {ENV} or {key_file()}: "
                             "written with another key, or altered")  # fmt: skip
        return header

    @staticmethod
    def _read_table(path: Path, header: dict[str, Any], name: str, cap: int) -> pd.DataFrame:
        text = _read_entry(path, cap)
        if hashlib.sha256(text).hexdigest() != header["sha256"][name]:
            raise ValueError(f"{name} table does not match its checksum")
        return _table(text.decode("utf-8"), header["dtypes"][name])

    def put(self, key: str, result: WalkForwardResult) -> None:
        """Store ``result`` under ``key``: each table atomically, then the signed header that vouches for them.

        A folder that cannot take it (an entry's name taken by a directory, a full disk) is a notice:
        the run goes on without caching.
        """
        paths, sums, dtypes = self._paths(key), dict[str, str](), dict[str, dict[str, str]]()
        header: dict[str, Any] = {"key": key, "format": _FORMAT, "sha256": sums, "dtypes": dtypes}
        try:
            for name, frame in (("forecasts", result.forecasts), ("folds", result.folds)):
                text = _table_text(frame).encode("utf-8")
                atomic_write_bytes(paths[f"{name}.csv"], text)
                sums[name] = hashlib.sha256(text).hexdigest()
                dtypes[name] = {str(c): str(t) for c, t in frame.dtypes.items()}
            header["hmac"] = self.key.sign(_signed_part(header))
            atomic_write_bytes(paths["json"], json.dumps(header, indent=1).encode("utf-8"))
        except OSError as exc:
            self.notify(f"could not store forecast cache entry {paths['json']} ({exc.strerror or exc}); "
                        "the forecasts are not cached")  # fmt: skip


def _cap(expect: Expected) -> int:
    """Bytes a table of ``expect``'s rows may take: 32 per cell, and slack (a header of names, rounding)."""
    cells = len(expect.forecasts) * (len(FORECAST_COLUMNS) + expect.members)
    return 32 * cells + 65536


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        name = Path(exc.filename).name if isinstance(exc.filename, str) else "a file"
        return f"{name}: {exc.strerror or type(exc).__name__}"
    if isinstance(exc, RecursionError):
        return "its header is nested too deeply"
    if isinstance(exc, KeyError):
        return f"its header has no {exc.args[0]!r}"
    return " ".join(str(exc).split()) or type(exc).__name__
