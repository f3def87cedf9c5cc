"""Summary statistics pinned on small hand-computed cases."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from reports.evaluation import rmse
from reports.metrics import cagr, max_drawdown, performance, sharpe, total_return


def test_total_return_compounds() -> None:
    assert total_return(pd.Series([0.1, -0.1])) == pytest.approx(1.1 * 0.9 - 1)


def test_cagr_over_two_years() -> None:
    r = pd.Series([0.0] * 503 + [0.21])  # 504 days = 2 years, +21% in all
    assert cagr(r) == pytest.approx(0.1, abs=1e-12)


def test_sharpe_by_hand() -> None:
    r = pd.Series([0.01, -0.01, 0.02, 0.0])
    mean, std = 0.005, math.sqrt(((0.005**2) + (0.015**2) + (0.015**2) + (0.005**2)) / 3)
    assert sharpe(r) == pytest.approx(mean / std * math.sqrt(252))
    assert math.isnan(sharpe(pd.Series([0.0, 0.0, 0.0])))


def test_max_drawdown_by_hand() -> None:
    # equity 1.1, 0.55, 0.66, 1.32: peak 1.1 -> trough 0.55 is -50%
    assert max_drawdown(pd.Series([0.1, -0.5, 0.2, 1.0])) == pytest.approx(-0.5)
    assert max_drawdown(pd.Series([-0.2])) == pytest.approx(-0.2)  # a loss on day one counts
    assert max_drawdown(pd.Series([0.1, 0.1])) == 0.0


def test_rmse_and_performance_keys() -> None:
    assert rmse(pd.Series([1.0, 3.0]), pd.Series([2.0, 1.0])) == pytest.approx(math.sqrt(2.5))
    assert set(performance(pd.Series([0.01, 0.02]))) == {"total_return", "cagr", "sharpe", "max_drawdown"}
