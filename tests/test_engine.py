"""The backtest engine on bundled AAPL: pinned buy-and-hold statistics and fill timing."""

from __future__ import annotations

import pandas as pd
import pytest

from backtests.config import BrokerConfig
from backtests.engine import run_backtest
from strategies import BuyAndHold, ForecastStrategy, SmaCross


@pytest.fixture(scope="module")
def year_2020(aapl: pd.DataFrame) -> pd.DataFrame:
    return aapl.loc["2020-01-02":"2020-12-31"]


def test_buy_and_hold_pinned(year_2020: pd.DataFrame) -> None:
    broker = BrokerConfig()  # cash 100k, commission 5 bp, slippage 5 bp
    result = run_backtest({"T": year_2020}, BuyAndHold, {"size": 0.95}, broker)
    assert len(result.fills) == 1
    assert len(result.equity) == len(year_2020) == 253
    fill = result.fills.iloc[0]
    # Decided at the first close, filled at the second day's open plus slippage.
    assert fill["date"] == pd.Timestamp("2020-01-03")
    # Sized on the decision day's close: int(95% of 100k / close).
    assert fill["size"] == int(0.95 * 100_000 // year_2020["close"].iloc[0]) == 1314
    assert fill["price"] == pytest.approx(year_2020["open"].iloc[1] * 1.0005)
    by_hand = (100_000 - 1314 * fill["price"] * 1.0005) + 1314 * year_2020["close"].iloc[-1]
    assert result.equity.iloc[-1] == pytest.approx(by_hand, rel=1e-12)
    assert result.equity.iloc[-1] == pytest.approx(175_218.21, abs=0.01)
    assert result.equity.iloc[0] == 100_000


def test_forecast_strategy_trades_on_next_open(year_2020: pd.DataFrame) -> None:
    frame = year_2020.iloc[:30].copy()
    # A forecast of +1% for days 0..9, -1% afterwards: buy at open 1, sell at open 11.
    frame["forecast"] = frame["close"] * ([1.01] * 10 + [0.99] * 20)
    result = run_backtest({"T": frame}, ForecastStrategy, {"threshold": 0.0, "allow_short": False, "size": 0.5},
                          BrokerConfig(commission=0.0, slippage=0.0))  # fmt: skip
    assert list(result.fills["action"]) == ["buy", "sell"]
    assert list(result.fills["date"]) == [frame.index[1], frame.index[11]]
    assert list(result.fills["price"]) == [frame["open"].iloc[1], frame["open"].iloc[11]]


def test_unknown_strategy_parameter_is_an_error(year_2020: pd.DataFrame) -> None:
    with pytest.raises(TypeError, match="no parameter"):
        run_backtest({"T": year_2020}, BuyAndHold, {"sise": 0.5}, BrokerConfig())


def test_sma_cross_waits_for_its_averages(year_2020: pd.DataFrame) -> None:
    result = run_backtest({"T": year_2020}, SmaCross, {"size": 0.95}, BrokerConfig())
    assert len(result.equity) == len(year_2020)
    assert result.fills.empty or result.fills["date"].iloc[0] >= year_2020.index[50]


@pytest.mark.parametrize("bars", [5, 49, 50])
def test_sma_cross_over_fewer_bars_than_its_slow_average_never_trades(year_2020: pd.DataFrame, bars: int) -> None:
    """Backtrader's vectorised mode crashes on a feed shorter than an indicator's period; the engine must not."""
    result = run_backtest({"T": year_2020.iloc[:bars]}, SmaCross, {"size": 0.95}, BrokerConfig())
    assert result.fills.empty and len(result.equity) == bars
