"""Nothing the project reads back from a folder can run code: the forecast cache and saved models."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.cache import ForecastCache
from forecasting import Forecaster, RidgeForecaster, walk_forward
from forecasting.state import StateError

from .conftest import tiny_forecast


class _Planted:
    """Unpickling this writes a marker file: the proof that a loader ran code from a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "code ran"))


def _result(aapl: pd.DataFrame, seeds: int = 1):
    close = aapl["close"].loc["2018-01-01":"2019-06-30"]
    cfg = tiny_forecast("ridge")
    return walk_forward(close, cfg.forecaster(), cfg.splitter(), first_target=100, last_target=140)


def test_cache_round_trip_is_exact(tmp_path: Path, aapl: pd.DataFrame) -> None:
    result = _result(aapl)
    result.forecasts["member_0"] = result.forecasts["forecast"] * (1 + 1e-12)  # odd floats survive too
    cache = ForecastCache(tmp_path)
    cache.put("k", result)
    back = cache.get("k")
    pd.testing.assert_frame_equal(back.forecasts, result.forecasts, check_exact=True)
    pd.testing.assert_frame_equal(back.folds, result.folds, check_exact=True)
    assert not list(tmp_path.glob("*.pkl"))


@pytest.mark.parametrize("damage", ["truncate", "edit", "foreign-header", "missing-table"])
def test_damaged_entries_are_misses_with_a_notice(tmp_path: Path, aapl: pd.DataFrame, damage: str) -> None:
    notices: list[str] = []
    cache = ForecastCache(tmp_path, notify=notices.append)
    cache.put("k", _result(aapl))
    table = tmp_path / "k.forecasts.csv"
    if damage == "truncate":
        table.write_bytes(table.read_bytes()[:200])
    elif damage == "edit":
        table.write_text(table.read_text().replace("2018", "2017", 1))
    elif damage == "foreign-header":
        (tmp_path / "k.json").write_text(json.dumps({"key": "other", "format": 2}))
    else:
        (tmp_path / "k.folds.csv").unlink()
    assert cache.get("k") is None
    assert len(notices) == 1 and "recomputing" in notices[0]
    cache.put("k", _result(aapl))  # rewritten by the next put
    assert cache.get("k") is not None


def test_a_planted_pickle_in_the_cache_never_runs(tmp_path: Path, aapl: pd.DataFrame) -> None:
    marker = tmp_path / "ran.txt"
    evil = pickle.dumps(_Planted(marker))
    cache = ForecastCache(tmp_path / "cache", notify=lambda _: None)
    cache.put("k", _result(aapl))
    (tmp_path / "cache" / "k.pkl").write_bytes(evil)  # the old format's file name
    (tmp_path / "cache" / "k.forecasts.csv").write_bytes(evil)  # and in place of a table, checksum fixed up
    header = json.loads((tmp_path / "cache" / "k.json").read_text())
    header["sha256"]["forecasts"] = hashlib.sha256(evil).hexdigest()
    (tmp_path / "cache" / "k.json").write_text(json.dumps(header))
    assert cache.get("k") is None
    assert not marker.exists()


def test_saved_models_hold_no_pickle_and_refuse_planted_ones(tmp_path: Path, aapl: pd.DataFrame) -> None:
    from forecasting.windows import windows_ending_at

    close = aapl["close"].to_numpy()
    windows = windows_ending_at(close, np.arange(20, 300), 20)
    model = RidgeForecaster(alpha=0.5).fit(windows[:-1], close[21:300])
    data = model.to_bytes()
    assert data[:2] == b"PK" and b"\x80\x04" not in data[:64]  # a zip of JSON and .npy, not a pickle
    assert Forecaster.from_bytes(data).predict(windows).tobytes() == model.predict(windows).tobytes()
    marker = tmp_path / "ran.txt"
    planted = pickle.dumps({"format": 1, "class": "forecasting.baselines:NaiveForecaster", "params": {},
                            "state": {"x": _Planted(marker)}})  # fmt: skip
    with pytest.raises(StateError, match="only saved arrays are read"):
        Forecaster.from_bytes(planted)
    assert not marker.exists()
