"""Shared fixtures: bundled real data, tiny model settings, an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BUNDLED = Path(__file__).resolve().parents[1] / "backtests" / "data"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Small enough to train in seconds, same code path as the default model.
TINY_FORECAST = {
    "lookback": 10,
    "train_days": 80,
    "retrain_every": 10,
    "units": (8, 8),
    "dense": 4,
    "epochs": 3,
    "warm_epochs": 1,
    "batch_size": 32,
}


@pytest.fixture(scope="session")
def aapl() -> pd.DataFrame:
    """Bundled AAPL daily bars, date-indexed."""
    return pd.read_csv(BUNDLED / "AAPL.csv", parse_dates=["date"], index_col="date")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own BT_CACHE_DIR, so no test sees the user's cache or another test's."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("BT_CACHE_DIR", str(folder))
    return folder
