"""Shared fixtures: bundled real data, tiny model settings, an isolated cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from forecasting import ForecastConfig

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BUNDLED = Path(__file__).resolve().parents[1] / "backtests" / "data" / "bundled"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Small enough to train in seconds, same code path as the default model.
TINY_GEOMETRY = {"lookback": 10, "train_days": 80, "retrain_every": 10}
TINY_LSTM = {"units": (8, 8), "dense": 4, "epochs": 3, "warm_epochs": 1, "batch_size": 32}


def tiny_forecast(model: str = "lstm", **params: object) -> ForecastConfig:
    """A tiny walk-forward geometry; for the LSTM a tiny network too (``params`` override its settings)."""
    return ForecastConfig(model=model, **TINY_GEOMETRY, params={**(TINY_LSTM if model == "lstm" else {}), **params})


@pytest.fixture(scope="session")
def aapl() -> pd.DataFrame:
    """Bundled AAPL daily bars, date-indexed."""
    return pd.read_csv(BUNDLED / "AAPL.csv", parse_dates=["date"], index_col="date")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own BT_CACHE_DIR and config folder, so no test sees the user's cache or key."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("BT_CACHE_DIR", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))  # the cache key file too
    return folder


def yahoo_resolves() -> bool:
    """Whether Yahoo Finance's host resolves: the offline tests only mean something when it does not."""
    import socket

    try:
        socket.getaddrinfo("query2.finance.yahoo.com", 443)
    except OSError:
        return False
    return True


# A short period and a small network on the CLI: the real pipeline in seconds.
TINY_CLI = ["--start", "2026-06-01", "--train-days", "120", "--lookback", "20", "--epochs", "3", "--batch-size", "32"]


def bt(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``bt`` entry point in a fresh interpreter, as a user's shell would."""
    code = "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=900, cwd=cwd)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One tiny ``bt run lstm-strategy AAPL`` shared by the CLI and report tests."""
    out = tmp_path_factory.mktemp("run") / "aapl"
    cache = tmp_path_factory.mktemp("tiny-cache")
    env_before = os.environ.get("BT_CACHE_DIR")
    os.environ["BT_CACHE_DIR"] = str(cache)
    try:
        return bt("run", "lstm-strategy", "AAPL", *TINY_CLI, "--seeds", "2", "--out", str(out), "--no-cache"), out
    finally:
        if env_before is None:
            os.environ.pop("BT_CACHE_DIR", None)
        else:
            os.environ["BT_CACHE_DIR"] = env_before
