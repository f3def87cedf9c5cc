"""On-disk cache of walk-forward results, keyed by data, settings and code version.

A run that changes only strategy or broker settings reuses the forecasts
instead of retraining. The key hashes the exact prices the walk-forward
reads, every forecasting setting, the target period and a digest of the
``forecasting`` package's source (for a plugin: its distribution, version and code
digest), so any change there retrains.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pandas as pd

from forecasting import ForecastConfig, WalkForwardResult, registry
from reports.files import atomic_write_bytes

_FORMAT = 1


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


class ForecastCache:
    """A folder of pickled walk-forward results; unreadable entries count as misses."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.pkl"

    def get(self, key: str) -> WalkForwardResult | None:
        """The cached result for ``key``, or None."""
        path = self._path(key)
        try:
            payload = pickle.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except Exception:  # a truncated or foreign file is a miss; it is rewritten on put
            return None
        if not isinstance(payload, dict) or payload.get("key") != key:
            return None
        return WalkForwardResult(forecasts=payload["forecasts"], folds=payload["folds"])

    def put(self, key: str, result: WalkForwardResult) -> None:
        """Store ``result`` under ``key`` atomically."""
        payload = {"key": key, "forecasts": result.forecasts, "folds": result.folds}
        atomic_write_bytes(self._path(key), pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
