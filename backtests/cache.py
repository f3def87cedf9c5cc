"""On-disk cache of walk-forward results (tables, never pickles), keyed by data, settings and code version.

A run that changes only strategy or broker settings reuses the forecasts
instead of retraining. The key hashes the exact prices the walk-forward
reads, every forecasting setting, the target period and a digest of the
``forecasting`` package's source (for a plugin: its distribution, version and code
digest), so any change there retrains.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from forecasting import ForecastConfig, WalkForwardResult, registry
from reports.files import atomic_write_bytes

_FORMAT = 2


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


class ForecastCache:
    """A folder of walk-forward results as CSV tables plus a JSON header; nothing in it is ever executed.

    An entry is ``KEY.forecasts.csv``, ``KEY.folds.csv`` and ``KEY.json`` (the key, the format, each
    table's sha256 and column types), the header written last. A missing, truncated, foreign or
    mismatched entry is a miss (with one notice line when it exists but cannot be used) and is
    rewritten by the next ``put``; files of other formats (such as old pickles) are never opened.
    """

    def __init__(self, folder: Path, notify: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder)
        self.notify = notify or (lambda _: None)

    def _paths(self, key: str) -> dict[str, Path]:
        return {name: self.folder / f"{key}.{name}" for name in ("json", "forecasts.csv", "folds.csv")}

    def get(self, key: str) -> WalkForwardResult | None:
        """The cached result for ``key``, or None."""
        paths = self._paths(key)
        if not paths["json"].exists():
            return None
        try:
            header = json.loads(paths["json"].read_text(encoding="utf-8"))
            if not isinstance(header, dict) or header.get("key") != key or header.get("format") != _FORMAT:
                raise ValueError("a foreign or mismatched header")
            tables = {}
            for name in ("forecasts", "folds"):
                text = paths[f"{name}.csv"].read_bytes()
                if hashlib.sha256(text).hexdigest() != header["sha256"][name]:
                    raise ValueError(f"{name} table does not match its checksum")
                tables[name] = _table(text.decode("utf-8"), header["dtypes"][name])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.notify(f"ignoring unusable forecast cache entry {paths['json']} ({exc}); recomputing")
            return None
        return WalkForwardResult(forecasts=tables["forecasts"], folds=tables["folds"])

    def put(self, key: str, result: WalkForwardResult) -> None:
        """Store ``result`` under ``key``: each table atomically, then the header that vouches for them."""
        paths, header = self._paths(key), {"key": key, "format": _FORMAT, "sha256": {}, "dtypes": {}}
        for name, frame in (("forecasts", result.forecasts), ("folds", result.folds)):
            text = _table_text(frame).encode("utf-8")
            atomic_write_bytes(paths[f"{name}.csv"], text)
            header["sha256"][name] = hashlib.sha256(text).hexdigest()
            header["dtypes"][name] = {c: str(t) for c, t in frame.dtypes.items()}
        atomic_write_bytes(paths["json"], json.dumps(header, indent=1).encode("utf-8"))
