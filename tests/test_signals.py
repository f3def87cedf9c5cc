"""The pure decision rule shared by backtests and paper trading."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies.signals import forecast_target, predicted_return, sign


@pytest.mark.parametrize(
    ("forecast", "close", "current", "threshold", "short", "expected"),
    [
        (101.0, 100.0, 0, 0.0, False, 1),  # predicted +1% -> long
        (99.0, 100.0, 1, 0.0, False, 0),  # predicted -1% -> exit
        (99.0, 100.0, 1, 0.0, True, -1),  # ... or short when allowed
        (100.5, 100.0, 0, 0.01, False, 0),  # inside the band: keep flat
        (100.5, 100.0, 1, 0.01, False, 1),  # inside the band: keep long
        (100.0, 100.0, 1, 0.0, False, 1),  # exactly zero: keep
        (math.nan, 100.0, 1, 0.0, False, 1),  # no forecast: keep
    ],
)
def test_forecast_target(forecast, close, current, threshold, short, expected) -> None:
    assert forecast_target(forecast, close, current, threshold=threshold, allow_short=short) == expected


@given(
    f=st.floats(1, 1000),
    c=st.floats(1, 1000),
    cur=st.sampled_from([-1, 0, 1]),
    th=st.floats(0, 0.2),
    short=st.booleans(),
)
def test_decision_is_consistent_with_predicted_return(f, c, cur, th, short) -> None:
    target = forecast_target(f, c, cur, threshold=th, allow_short=short)
    r = predicted_return(f, c)
    if r > th:
        assert target == 1
    elif r < -th:
        assert target == (-1 if short else 0)
    else:
        assert target == cur
    assert target >= 0 or short or cur < 0


def test_sign() -> None:
    assert (sign(5.0), sign(0.0), sign(-2)) == (1, 0, -1)
