"""One paper-trading day, by the backtest's own code: the strategy class and backtrader's broker.

``trade_day`` runs backtrader over the day being stepped, the previous close and, before
them, the warm-up bars the strategy's indicators need (``warmup_bars``), with
``engine.make_cerebro``'s broker resumed from the ledger's cash and position. Warm-up bars
only feed indicators; on the previous bar yesterday's queued order is submitted again
unchanged (same size, created at the same close); on the last, backtrader's broker checks it and fills it at the open
(slippage capped by the bar's range, commission on the slipped price), and then the
strategy's own ``next()`` decides and sizes the next order from the close. So every rule
of the fill model is backtrader's, executed on the same numbers as in ``bt run``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import backtrader as bt
import pandas as pd

from strategies.feeds import ForecastData

from ..config import BrokerConfig
from ..engine import EquityRecorder, FillRecorder, make_cerebro
from .ledger import Day, Order


class _ResumedBroker(bt.brokers.BackBroker):
    """The engine's broker, starting from a saved cash balance and position instead of flat."""

    def resume(self, data: bt.AbstractDataBase, day: Day) -> None:
        self.p.cash = day.cash  # init() starts from p.cash
        self._resume = (data, day)

    def start(self) -> None:
        super().start()
        data, day = self._resume
        if day.size:
            position = bt.Position(day.size, day.price)
            position.datetime = day.date.to_pydatetime()  # last update: where short-interest accrual starts
            self.positions[data] = position


def _resumed(broker: bt.brokers.BackBroker, data: bt.AbstractDataBase, day: Day) -> _ResumedBroker:
    """A copy of ``broker`` (parameters, commission scheme) resumed at ``day``'s close."""
    copy = _ResumedBroker(**broker.p._getkwargs())
    copy.comminfo = dict(broker.comminfo)
    copy.resume(data, day)
    return copy


def warmup_bars(strategy: type) -> int:
    """Bars of history before the previous close that the strategy's indicators need (its ``warmup``, default 0).

    A day's feed is these bars, the previous close and the day itself, cut at the account's
    opening day, where ``bt run``'s bars start too. Either both feeds start at the opening day,
    or the paper feed holds ``warmup + 2`` bars; for a strategy whose indicators need n bars
    (its minimum period), ``warmup >= n - 1`` puts the last of them past the n-th, so the strategy
    gets ``next`` with the values of ``bt run``. ``warmup = n - 2`` would give the same values but
    ``nextstart`` on every day, and fewer leaves the indicators unready (``trade_day`` refuses both).
    """
    value = getattr(strategy, "warmup", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{strategy.__name__}.warmup must be a whole number of bars >= 0. Got {value!r}.")
    return value


def _before_last(self: bt.Strategy) -> None:
    """On the bar before the last, resubmit the queued order; earlier (warm-up) bars only feed indicators."""
    if len(self) == self.data.buflen() - 1 and self.p.queued:
        (self.buy if self.p.queued > 0 else self.sell)(size=abs(self.p.queued))


@functools.cache
def paper_strategy(strategy: type[bt.Strategy]) -> type[bt.Strategy]:
    """``strategy`` with one change: before the last bar it only resubmits the queued order.

    Backtrader calls ``prenext`` while the indicators warm up, ``nextstart`` once on the bar
    where they are first ready, then ``next``; all three are wrapped, so whichever of them falls
    on a warm-up bar does nothing of the strategy's, and on the last bar the strategy gets the
    same one as in ``bt run`` on that day (given enough warm-up bars, see ``warmup_bars``).
    """

    def wrap(method: str) -> Callable[[bt.Strategy], None]:
        own = getattr(strategy, method)

        def wrapped(self: bt.Strategy) -> None:
            if len(self) < self.data.buflen():
                return _before_last(self)
            if not hasattr(self, "_paper_call"):  # the one backtrader called on the last bar
                self._paper_call = method
            own(self)

        wrapped.__name__ = method
        return wrapped

    namespace = {"params": (("queued", 0),), **{m: wrap(m) for m in ("prenext", "nextstart", "next")}}
    return type(f"Paper{strategy.__name__}", (strategy,), namespace)


@dataclass(frozen=True)
class DayOutcome:
    """The account at the close, yesterday's order's fate, its fill and the order decided today."""

    cash: float
    equity: float
    size: int
    price: float
    settled: tuple[int, str] | None  # (the queued order's id, "filled" or "rejected") when one was queued
    fill: dict[str, Any] | None
    new_order: int | None  # signed size


def trade_day(
    bars: pd.DataFrame,
    strategy: type[bt.Strategy],
    params: dict[str, Any],
    broker: BrokerConfig,
    last: Day | None,
    queued: Order | None,
) -> DayOutcome:
    """Fill yesterday's order and decide today's; ``bars`` is [warm-up..., yesterday,] today with a forecast column."""
    cerebro = make_cerebro(broker)
    feed = ForecastData(dataname=bars)
    cerebro.adddata(feed)
    if last is not None:
        cerebro.broker = _resumed(cerebro.broker, feed, last)
    # A class is hashable; mypy reads type[Any] (backtrader has no types) as not Hashable.
    paper = paper_strategy(strategy)  # type: ignore[arg-type]
    cerebro.addstrategy(paper, queued=0 if queued is None else queued.size, **params)
    cerebro.addanalyzer(EquityRecorder, _name="equity")
    cerebro.addanalyzer(FillRecorder, _name="fills")
    # Bar by bar: backtrader's vectorised mode (runonce) fails on an indicator given fewer bars
    # than its period, which a feed cut at the opening day can be; the values are the same.
    (result,) = cerebro.run(runonce=False)
    warmup = warmup_bars(strategy)
    if len(bars) >= warmup + 2 and result._paper_call != "next":  # a full feed, and no `next` as in `bt run`
        raise RuntimeError(f"{strategy.__name__}.warmup ({warmup}) is too small: after {len(bars)} bars (warmup + 2) "
                           f"backtrader calls its {result._paper_call}, not next as in `bt run`; it must be at least "
                           "its indicators' longest period - 1")  # fmt: skip
    orders = result.broker.orders
    settled = None
    if queued is not None:
        settled = (queued.id, "filled" if orders[0].status == bt.Order.Completed else "rejected")
    pending = [o for o in orders if o.alive()]
    if len(pending) > 1:
        raise RuntimeError(f"{strategy.__name__} placed {len(pending)} orders in one day; paper trading takes one")
    fills = result.analyzers.fills.fills
    position = result.broker.getposition(feed)
    return DayOutcome(
        cash=float(result.broker.cash),
        equity=float(result.analyzers.equity.values[-1][1]),
        size=int(position.size),
        price=float(position.price),
        settled=settled,
        fill=fills[0] if fills else None,
        new_order=int(pending[0].size) if pending else None,
    )
