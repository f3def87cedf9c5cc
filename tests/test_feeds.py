"""FrameData's column-at-a-time preload fills exactly what backtrader's own bar-by-bar loop fills."""

from __future__ import annotations

import math

import backtrader as bt
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.config import BrokerConfig
from backtests.engine import run_backtest
from strategies import ForecastStrategy
from strategies.feeds import ForecastData
from strategies.topk import PortfolioData


class LoopForecastData(bt.feeds.PandasData):
    """The same lines as ForecastData, loaded by backtrader's own preload loop."""

    lines = ("forecast",)
    params = (("forecast", -1), ("openinterest", None))


def _lines_after_preload(feed_type: type, frame: pd.DataFrame) -> dict[str, tuple[list[float], int, int]]:
    """Each line's buffer, index and length once a Cerebro has preloaded ``feed_type`` over ``frame``."""
    seen: dict[str, tuple[list[float], int, int]] = {}

    class Snapshot(bt.Strategy):
        def start(self) -> None:  # after preload, before the first bar
            for name in self.data.getlinealiases():
                line = getattr(self.data.lines, name)
                seen[name] = (list(line.array), line.idx, len(line))

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(feed_type(dataname=frame))
    cerebro.addstrategy(Snapshot)
    cerebro.run(runonce=True)
    return seen


def _same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 60), seed=st.integers(0, 2**32 - 1), nan_share=st.floats(0.0, 1.0))
def test_frame_preload_fills_what_the_loop_fills(rows: int, seed: int, nan_share: float) -> None:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, rows)))
    frame = pd.DataFrame({"open": close * rng.uniform(0.98, 1.02, rows), "high": close * 1.03,
                          "low": close * 0.97, "close": close, "volume": rng.integers(0, 10**9, rows)},
                         index=pd.bdate_range("2015-01-02", periods=rows))  # fmt: skip
    frame["forecast"] = np.where(rng.uniform(size=rows) < nan_share, np.nan, close * rng.uniform(0.95, 1.05, rows))
    fast, loop = _lines_after_preload(ForecastData, frame), _lines_after_preload(LoopForecastData, frame)
    assert fast.keys() == loop.keys()
    for name in loop:
        assert _same(fast[name][0], loop[name][0]), name
        assert fast[name][1:] == loop[name][1:], name


def test_a_backtest_on_either_feed_gives_the_same_fills_and_equity(aapl: pd.DataFrame, monkeypatch) -> None:
    import backtests.engine

    frame = aapl.loc["2019-01-02":"2021-12-31"].copy()
    frame["forecast"] = frame["close"].shift(-1) * 1.001  # a perfect-foresight toy: it trades often
    params = {"threshold": 0.0, "allow_short": True, "size": 0.9}
    fast = run_backtest({"T": frame}, ForecastStrategy, params, BrokerConfig())
    monkeypatch.setattr(backtests.engine, "ForecastData", LoopForecastData)
    loop = run_backtest({"T": frame}, ForecastStrategy, params, BrokerConfig())
    assert len(fast.fills) > 20
    pd.testing.assert_frame_equal(fast.fills, loop.fills, check_exact=True)
    pd.testing.assert_series_equal(fast.equity, loop.equity, check_exact=True)


def test_filters_and_date_bounds_fall_back_to_the_loop(aapl: pd.DataFrame) -> None:
    frame = aapl.loc["2020-01-02":"2020-03-31"].copy()
    frame["forecast"] = np.nan
    cerebro = bt.Cerebro(stdstats=False)
    bounded = ForecastData(dataname=frame, fromdate=pd.Timestamp("2020-02-03").to_pydatetime())
    cerebro.adddata(bounded)
    cerebro.addstrategy(bt.Strategy)
    cerebro.run()
    assert bt.num2date(bounded.datetime.array[0]).date() == pd.Timestamp("2020-02-03").date()
    assert len(bounded.close.array) == len(frame.loc["2020-02-03":])


class LoopPortfolioData(bt.feeds.PandasData):
    """The same lines as PortfolioData, loaded by backtrader's own preload loop."""

    lines = ("score", "volatility", "eligible")
    params = (("score", -1), ("volatility", -1), ("eligible", -1), ("openinterest", None))


def test_portfolio_feeds_preload_what_the_loop_fills(aapl: pd.DataFrame) -> None:
    frame = aapl.loc["2020-01-02":"2020-06-30"].copy()
    frame["score"] = frame["close"].pct_change().shift(-1)
    frame["volatility"] = frame["close"].pct_change().rolling(20).std()
    frame["eligible"] = (np.arange(len(frame)) % 7 != 3).astype(int)
    fast, loop = _lines_after_preload(PortfolioData, frame), _lines_after_preload(LoopPortfolioData, frame)
    assert fast.keys() == loop.keys() >= {"score", "volatility", "eligible", "close"}
    for name in loop:
        assert _same(fast[name][0], loop[name][0]), name
        assert fast[name][1:] == loop[name][1:], name
