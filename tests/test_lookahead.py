"""No look-ahead: forecasts made at or before day t ignore every price after t.

The property is checked on the real walk-forward with the real LSTM (tiny
settings) and with the ridge baseline: data after t is removed, or changed
by random factors, and every forecast with origin <= t must be identical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting import walk_forward

from .conftest import tiny_forecast

FIRST, LAST = 100, 139  # 40 target days, 4 folds of 10


@pytest.fixture(scope="module")
def close(aapl: pd.DataFrame) -> pd.Series:
    return aapl["close"].loc["2019-01-01":].iloc[: LAST + 1]


def _forecasts(close: pd.Series, model: str, last: int) -> pd.DataFrame:
    cfg = tiny_forecast(model)
    result = walk_forward(close, cfg.forecaster(), cfg.splitter(), first_target=FIRST, last_target=last)
    return result.forecasts


@pytest.fixture(scope="module")
def full(close: pd.Series) -> dict[str, pd.DataFrame]:
    return {m: _forecasts(close, m, LAST) for m in ("lstm", "ridge")}


def _check(close: pd.Series, full: pd.DataFrame, model: str, cut: int, mode: str, seed: int) -> None:
    t = close.index[cut]
    if mode == "removed":
        altered, last = close.iloc[: cut + 1], cut
    else:
        noise = np.random.default_rng(seed).uniform(0.5, 1.5, len(close) - cut - 1)
        altered = close.copy()
        altered.iloc[cut + 1 :] = altered.iloc[cut + 1 :].to_numpy() * noise
        last = LAST
    if last < FIRST:
        return
    got = _forecasts(altered, model, last)
    got = got[got["origin_date"] <= t].reset_index(drop=True)
    # Removing the data after t also removes target day t+1, so its forecast is not made.
    want = full[(full["origin_date"] <= t) & (full.index <= last - FIRST)].reset_index(drop=True)
    assert len(got) == len(want) == min(cut + 1, last) - FIRST + 1
    pd.testing.assert_frame_equal(got.drop(columns="actual"), want.drop(columns="actual"), check_exact=True)


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(cut=st.integers(FIRST, LAST - 1), mode=st.sampled_from(["removed", "changed"]), seed=st.integers(0, 99))
def test_lstm_forecasts_ignore_the_future(close, full, cut, mode, seed) -> None:
    _check(close, full["lstm"], "lstm", cut, mode, seed)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(cut=st.integers(FIRST, LAST - 1), mode=st.sampled_from(["removed", "changed"]), seed=st.integers(0, 99))
def test_ridge_forecasts_ignore_the_future(close, full, cut, mode, seed) -> None:
    _check(close, full["ridge"], "ridge", cut, mode, seed)


def test_each_forecast_uses_the_previous_close(full) -> None:
    fc = full["lstm"]
    assert (fc["origin_date"] < fc["target_date"]).all()
    assert fc["fold"].tolist() == sorted(fc["fold"].tolist())
