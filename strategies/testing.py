"""Conformance kit for strategy plugins: call ``check_strategy`` in your own pytest tests.

    from strategies.testing import check_strategy

    def test_my_strategy_keeps_the_contract():
        check_strategy(MyStrategy, {"period": 10})

It raises ``AssertionError`` naming the first broken rule:

* **params**: the class declares its parameters the backtrader way, the ones given exist and have
  the defaults' types, and its warm-up (``warmup`` or ``warmup_for(params)``) is a whole number of bars;
* **determinism**: two backtests over the same bars place the same orders;
* **bars given only**: the orders placed at or before a day drawn at random stay the same when the
  bars after that day are cut off, or changed (``trials`` days, drawn with ``seed``);
* **paper replay**: each day, the strategy given only its warm-up bars and the day before, with the
  account the backtest had after that day's open, places the orders it placed in the backtest
  (as paper trading runs it, one day at a time; a warm-up too short or state kept across days fails).

The bars are one feed (``strategies.feeds.ForecastData``): OHLCV plus a ``forecast`` line, by
default the last 160 bundled AAPL days with a seeded forecast around each close, so a forecast
strategy trades too. The whole check takes a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from .feeds import ForecastData
from .params import configured, resolve, warmup

__all__ = ["check_strategy", "default_bars"]

Decision = tuple[str, str, float]  # (day, "buy" or "sell", shares)
BUNDLED_AAPL = Path(__file__).resolve().parents[1] / "backtests" / "data" / "bundled" / "AAPL.csv"


def default_bars(days: int = 160, seed: int = 0) -> pd.DataFrame:
    """The last ``days`` bundled AAPL bars with a ``forecast`` for the next close: the close times 1 + N(0, 1%)."""
    frame = pd.read_csv(BUNDLED_AAPL, parse_dates=["date"], index_col="date").iloc[-days:]
    frame = frame[["open", "high", "low", "close", "volume"]].astype(float)
    noise = np.random.default_rng(seed).normal(0.0, 0.01, len(frame))
    return frame.assign(forecast=frame["close"].to_numpy() * (1.0 + noise))


def check_strategy(cls: type, params: dict[str, Any] | None = None, *, bars: pd.DataFrame | None = None,
                   trials: int = 4, seed: int = 0, cash: float = 100_000.0,
                   commission: float = 0.0005) -> None:  # fmt: skip
    """Check that ``cls`` (with ``params``) keeps the strategy contract over ``bars``; AssertionError if not.

    Parameters
    ----------
    cls : a ``backtrader.Strategy`` subclass over one feed.
    params : its own parameters to set (the others keep their defaults).
    bars : daily OHLCV with a ``forecast`` column, indexed by date (default ``default_bars()``).
    trials : how many days are drawn for the cut and changed future bars.
    seed : seeds the days drawn and the changes.
    cash, commission : the broker's starting cash and commission (a fraction of traded value).
    """
    strategy, _ = _checked_class(cls, params or {})
    frame = default_bars(seed=seed) if bars is None else bars
    run = _Runner(strategy, cash, commission)
    decisions = run.backtest(frame, "the bars given")
    assert decisions == run.backtest(frame, "the same bars again"), \
        f"{cls.__name__} is not deterministic: two backtests over the same bars place different orders"  # fmt: skip
    rng = np.random.default_rng(seed)
    for day in sorted(rng.choice(np.arange(1, len(frame) - 1), size=min(trials, len(frame) - 2), replace=False)):
        _check_future(run, frame, int(day), decisions, rng)
    _check_replay(run, frame, warmup_of(strategy), decisions)


def _checked_class(cls: type, params: dict[str, Any]) -> tuple[type, dict[str, Any]]:
    """``cls`` with ``params`` set, and all its parameter values; AssertionError when they do not fit."""
    assert isinstance(cls, type) and issubclass(cls, bt.Strategy), f"{cls!r} is not a backtrader.Strategy subclass"
    try:
        values = resolve(cls, params, strategy=cls.__name__)
    except (ValueError, TypeError, KeyError) as exc:
        raise AssertionError(f"{cls.__name__}'s parameters: {exc}") from None
    strategy = configured(cls, params)
    assert warmup_of(strategy) == warmup(cls, values), \
        f"{cls.__name__}.warmup ({warmup_of(strategy)}) is not warmup_for(params) ({warmup(cls, values)})"  # fmt: skip
    return strategy, values


def _check_future(run: _Runner, frame: pd.DataFrame, day: int, decisions: list[Decision],
                  rng: np.random.Generator) -> None:  # fmt: skip
    """Orders placed at or before ``day`` must not change when the bars after it are cut or changed."""
    stamp = f"{frame.index[day]:%Y-%m-%d}"
    before = [d for d in decisions if d[0] <= stamp]
    cut = [d for d in run.backtest(frame.iloc[: day + 1], f"the bars cut after {stamp}") if d[0] <= stamp]
    assert cut == before, _moved(run, "cut off", stamp, before, cut)
    changed = frame.copy()
    factor = rng.uniform(0.5, 1.5, len(frame) - day - 1)
    columns = ["open", "high", "low", "close", "forecast"]
    changed.iloc[day + 1 :, [changed.columns.get_loc(c) for c in columns]] *= factor[:, None]
    moved = [d for d in run.backtest(changed, f"the bars changed after {stamp}") if d[0] <= stamp]
    assert moved == before, _moved(run, "changed", stamp, before, moved)


def _moved(run: _Runner, how: str, stamp: str, before: list[Decision], after: list[Decision]) -> str:
    pairs = enumerate(zip(before, after, strict=False))
    first = next((i for i, (a, b) in pairs if a != b), min(len(before), len(after)))
    return (f"{run.name} looks ahead: with the bars after {stamp} {how}, its orders up to {stamp} differ "
            f"(from {before[first:first + 1] or 'none'} to {after[first:first + 1] or 'none'}); "
            "a decision may read only the bars up to its own day")


def _check_replay(run: _Runner, frame: pd.DataFrame, bars: int, decisions: list[Decision]) -> None:
    """Each day alone (warm-up bars, the day before, the day), from the backtest's account: the same orders."""
    states = run.states
    for p in range(bars + 1, len(frame)):
        stamp = f"{frame.index[p]:%Y-%m-%d}"
        wanted = [d for d in decisions if d[0] == stamp]
        got, call = run.day(frame.iloc[p - 1 - bars : p + 1], states[stamp])
        assert call == "next", (f"{run.name}'s warm-up ({bars} bars) is too small: on {stamp}, after {bars + 2} "
                                f"bars, backtrader calls its {call}, not next as in a backtest; it must be at least "
                                "its indicators' longest period - 1")  # fmt: skip
        assert got == wanted, (f"{run.name} decides differently in a paper replay: on {stamp}, given its "
                               f"{bars} warm-up bars and the backtest's account, it placed {got or 'no order'} "
                               f"instead of {wanted or 'no order'}; decide from the bars (and position) only, "
                               "and declare the warm-up its indicators need")  # fmt: skip


class _State(bt.Analyzer):
    """The account at each close: cash, position size and price."""

    def start(self) -> None:
        self.rows: dict[str, tuple[float, float, float]] = {}

    def next(self) -> None:
        position = self.strategy.getposition(self.data)
        self.rows[f"{self.data.datetime.date(0):%Y-%m-%d}"] = (self.strategy.broker.getcash(), position.size,
                                                               position.price)  # fmt: skip


class _Resumed(bt.brokers.BackBroker):
    """A broker that starts from a given cash balance and position (the backtest's at a close)."""

    def resume(self, data: bt.AbstractDataBase, state: tuple[float, float, float], since: pd.Timestamp) -> None:
        self.p.cash = state[0]
        self._state = (data, state, since.to_pydatetime())

    def start(self) -> None:
        super().start()
        data, (_, size, price), since = self._state
        if size:
            position = bt.Position(size, price)
            position.datetime = since  # where a short's interest would start (the broker charges none here)
            self.positions[data] = position


class _Runner:
    """Backtests and single paper days of one strategy class, with one broker model."""

    def __init__(self, strategy: type, cash: float, commission: float) -> None:
        self.strategy, self.cash, self.commission = strategy, cash, commission
        self.name = strategy.__name__
        self.states: dict[str, tuple[float, float, float]] = {}
        self.last_day = _last_day_only(strategy)

    def _cerebro(self, frame: pd.DataFrame, broker: bt.brokers.BackBroker | None = None) -> tuple[bt.Cerebro, Any]:
        cerebro = bt.Cerebro(stdstats=False)
        if broker is None:
            cerebro.broker.setcash(self.cash)
        else:
            cerebro.broker = broker  # its cash is the resumed account's
        cerebro.broker.setcommission(commission=self.commission)
        feed = ForecastData(dataname=frame)
        cerebro.adddata(feed)
        return cerebro, feed

    def backtest(self, frame: pd.DataFrame, what: str) -> list[Decision]:
        """The orders placed over ``frame``, in order; the account at each close is kept from the first call."""
        cerebro, _ = self._cerebro(frame)
        cerebro.addstrategy(self.strategy)
        cerebro.addanalyzer(_State, _name="state")
        (result,) = _run(cerebro, f"{self.name} fails on {what}", runonce=len(frame) > warmup_of(self.strategy) + 1)
        if not self.states:
            self.states = result.analyzers.state.rows
        return _decisions(result.broker.orders)

    def day(self, bars: pd.DataFrame, state: tuple[float, float, float]) -> tuple[list[Decision], str]:
        """The orders placed on the last of ``bars`` from the account ``state``, and the call backtrader made there."""
        broker = _Resumed()
        cerebro, feed = self._cerebro(bars, broker)
        broker.resume(feed, state, bars.index[0])
        cerebro.addstrategy(self.last_day)
        (result,) = _run(cerebro, f"{self.name} fails on a paper day", runonce=False)
        return _decisions(result.broker.orders), getattr(result, "_kit_call", "prenext")


def warmup_of(strategy: type) -> int:
    """The warm-up bars paper trading feeds the class: its ``warmup`` attribute (0 when it has none)."""
    value = getattr(strategy, "warmup", 0)
    assert not isinstance(value, bool) and isinstance(value, int) and value >= 0, \
        f"{strategy.__name__}.warmup must be a whole number of bars >= 0. Got {value!r}."  # fmt: skip
    return value


def _run(cerebro: bt.Cerebro, what: str, *, runonce: bool) -> list[Any]:
    try:
        return cerebro.run(runonce=runonce)
    except Exception as exc:  # the strategy's own error, reported with the bars it failed on
        raise AssertionError(f"{what}: {type(exc).__name__}: {exc}") from exc


def _decisions(orders: list[bt.Order]) -> list[Decision]:
    return [(f"{bt.num2date(o.created.dt):%Y-%m-%d}", "buy" if o.isbuy() else "sell", abs(float(o.created.size)))
            for o in orders]  # fmt: skip


def _last_day_only(strategy: type) -> type:
    """``strategy`` deciding only on the last bar (earlier bars only feed its indicators), as a paper day does."""

    def wrap(method: str) -> Callable[[bt.Strategy], None]:
        own = getattr(strategy, method)

        def wrapped(self: bt.Strategy) -> None:
            if len(self) < self.data.buflen():
                return
            if not hasattr(self, "_kit_call"):
                self._kit_call = method
            own(self)

        wrapped.__name__ = method
        return wrapped

    return type(f"Day{strategy.__name__}", (strategy,), {m: wrap(m) for m in ("prenext", "nextstart", "next")})

