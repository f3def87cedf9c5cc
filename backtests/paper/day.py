"""One paper-trading day, by the backtest's own code: the strategy class and backtrader's broker.

``trade_day`` runs backtrader over the day being stepped, the previous close and, before
them, the warm-up bars the strategy's indicators need (``warmup_bars``), with
``engine.make_cerebro``'s broker resumed from the ledger's cash and position. Warm-up bars
only feed indicators; on the previous bar yesterday's queued order is submitted again
unchanged (same size, created at the same close); on the last, backtrader's broker checks it and fills it at the open
(slippage capped by the bar's range, commission on the slipped price), and then the
strategy's own ``next()`` decides and sizes the next order from the close. So every rule
of the fill model is backtrader's, executed on the same numbers as in ``bt run``.

``trade_portfolio_day`` is the same day for a portfolio (``bt run topk-strategy``): one
``PortfolioData`` feed per ticker, yesterday's bar and today's; on yesterday's the queued orders are
submitted again, unchanged and in the order they were placed (sells, then buys); on today's the
broker fills them at the open and ``TopkStrategy.next`` decides from the close. Both resume the one
``ResumedBroker``, which sets a position up for every feed in feed order, as ``bt run``'s first
decision leaves them, so the account's value is summed in the same order as there. Both return the one
``DayOutcome`` (the account, the positions, the queued orders' fate, the fills, the new orders), whose
``close`` is what the ledger's day row holds for the kind: the ticker's close, or a portfolio's value held.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import backtrader as bt
import pandas as pd

from strategies.feeds import ForecastData
from strategies.topk import PortfolioData, TopkStrategy

from ..config import BrokerConfig
from ..engine import TRADE_COLUMNS, EquityRecorder, FillRecorder, make_cerebro
from .ledger import Day, Order

Holdings = dict[str, tuple[int, float]]  # feed name -> (size, average price)


class ResumedBroker(bt.brokers.BackBroker):
    """The engine's broker, starting from a saved cash balance and positions instead of flat: the one broker of
    every paper day, one ticker or many."""

    def resume(self, datas: list[bt.AbstractDataBase], cash: float, held: Holdings, since: pd.Timestamp) -> None:
        """Start from ``cash`` and ``held`` (by feed name) at the close of ``since``, the last stepped day."""
        self.p.cash = cash  # init() starts from p.cash
        self.resumed = (datas, held, since.to_pydatetime())

    def start(self) -> None:
        super().start()
        datas, held, since = self.resumed
        for data in datas:  # every feed, in feed order: the order the account's value is summed in
            size, price = held.get(data._name, (0, 0.0))
            position = bt.Position(size, price)
            if size:
                position.datetime = since  # last update: where short-interest accrual starts
            self.positions[data] = position


def resume_broker(cerebro: bt.Cerebro, datas: list[bt.AbstractDataBase], cash: float, held: Holdings,
                  since: pd.Timestamp) -> None:  # fmt: skip
    """Give ``cerebro`` a copy of its broker (parameters, commission scheme) resumed at ``since``'s close."""
    resumed = ResumedBroker(**cerebro.broker.p._getkwargs())
    resumed.comminfo = dict(cerebro.broker.comminfo)
    resumed.resume(datas, cash, held, since)
    cerebro.broker = resumed


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
    """On the bar before the last, resubmit the queued orders ((feed name, signed size), in the order they were
    placed); earlier (warm-up) bars only feed indicators."""
    if len(self) == self.data.buflen() - 1 and self.p.queued:
        feeds = {d._name: d for d in self.datas}
        for name, size in self.p.queued:
            (self.buy if size > 0 else self.sell)(data=feeds[name], size=abs(size))


@functools.cache
def paper_strategy(strategy: type[bt.Strategy]) -> type[bt.Strategy]:
    """``strategy`` with one change: before the last bar it only resubmits the queued orders (one ticker's
    strategy and a portfolio's alike).

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

    namespace = {"params": (("queued", ()),), **{m: wrap(m) for m in ("prenext", "nextstart", "next")}}
    return type(f"Paper{strategy.__name__}", (strategy,), namespace)


@dataclass(frozen=True)
class DayOutcome:
    """One paper day, one ticker or many: the account at today's close, what became of the queued orders, today's
    fills and the orders decided at the close."""

    cash: float
    equity: float
    close: float  # the ledger day's close: the ticker's (a single-ticker strategy), the value held (a ranking one)
    held: Holdings  # ticker -> (size, average price) at the close: one ticker's even when flat, a portfolio's names
    settled: list[str]  # per queued order, in order: "filled" or "rejected"
    fills: list[tuple[int, dict[str, Any]]]  # (index of the queued order, fill)
    new_orders: list[tuple[str, int, float]]  # (ticker, signed size, the close it was decided at), in the order placed
    targets: dict[str, float] | None  # a ranking strategy's target weights; None for a single-ticker strategy


def trade_day(
    bars: pd.DataFrame,
    strategy: type[bt.Strategy],
    params: dict[str, Any],
    broker: BrokerConfig,
    last: Day | None,
    queued: Order | None,
    ticker: str = "",
) -> DayOutcome:
    """Fill yesterday's order and decide today's; ``bars`` is [warm-up..., yesterday,] today with a forecast column,
    of ``ticker`` (the name the outcome's position and order carry)."""
    feed = ForecastData(dataname=bars)
    resume = None if last is None else (last.date, last.cash, {feed._name: (last.size, last.price)})
    orders = () if queued is None else ((feed._name, queued.size),)
    result = _run_day({feed._name: feed}, strategy, params, broker, resume, orders)
    warmup = warmup_bars(strategy)
    if len(bars) >= warmup + 2 and result._paper_call != "next":  # a full feed, and no `next` as in `bt run`
        raise RuntimeError(f"{strategy.__name__}.warmup ({warmup}) is too small: after {len(bars)} bars (warmup + 2) "
                           f"backtrader calls its {result._paper_call}, not next as in `bt run`; it must be at least "
                           "its indicators' longest period - 1")  # fmt: skip
    placed = result.broker.orders
    settled = [] if queued is None else ["filled" if placed[0].status == bt.Order.Completed else "rejected"]
    pending = [o for o in placed if o.alive()]
    if len(pending) > 1:
        raise RuntimeError(f"{strategy.__name__} placed {len(pending)} orders in one day; paper trading takes one")
    fills = result.analyzers.fills.fills
    position = result.broker.getposition(feed)
    close = float(bars["close"].iloc[-1])
    return DayOutcome(
        cash=float(result.broker.cash),
        equity=float(result.analyzers.equity.values[-1][1]),
        close=close,
        held={ticker: (int(position.size), float(position.price))},
        settled=settled,
        # as bt run's trades, with the ticker; a fill only settles the queued order
        fills=[(0, {**{k: v for k, v in fills[0].items() if k in TRADE_COLUMNS}, "ticker": ticker})]
        if fills and settled else [],
        new_orders=[(ticker, int(pending[0].size), close)] if pending else [],
        targets=None,
    )


def trade_portfolio_day(frames: dict[str, pd.DataFrame], params: dict[str, Any], broker: BrokerConfig,
                        last: tuple[pd.Timestamp, float] | None, held: Holdings,
                        queued: list[tuple[str, int]]) -> DayOutcome:  # fmt: skip
    """Fill the queued orders at today's open and decide at its close; ``frames`` hold [yesterday,] today.

    ``last``: the last stepped day and its cash; None when the account opens today (its first decision,
    nothing held or queued).
    """
    feeds = {name: PortfolioData(dataname=frame) for name, frame in frames.items()}
    resume = None if last is None else (last[0], last[1], held)
    result = _run_day(feeds, TopkStrategy, params, broker, resume, tuple(queued))
    orders = result.broker.orders
    refs = {orders[i].ref: i for i in range(len(queued))}
    settled = ["filled" if orders[i].status == bt.Order.Completed else "rejected" for i in range(len(queued))]
    fills = [(refs[f.pop("ref")], f) for f in result.analyzers.fills.fills]
    closes = {t: float(f["close"].iloc[-1]) for t, f in frames.items()}
    new = [(o.data._name, int(o.size), closes[o.data._name]) for o in orders[len(queued) :] if o.alive()]
    positions = {name: result.broker.getposition(d) for name, d in feeds.items()}
    cash, equity = float(result.broker.cash), float(result.analyzers.equity.values[-1][1])
    return DayOutcome(cash, equity, equity - cash, {t: (int(p.size), float(p.price)) for t, p in positions.items()
                                                    if p.size},
                      settled, fills, new, result.decisions[-1][1] if result.decisions else {})  # fmt: skip


def _run_day(feeds: dict[str, bt.AbstractDataBase], strategy: type[bt.Strategy], params: dict[str, Any],
             broker: BrokerConfig, resume: tuple[pd.Timestamp, float, Holdings] | None,
             queued: tuple[tuple[str, int], ...]) -> Any:  # fmt: skip
    """One paper day in backtrader, one ticker or many: the engine's broker, resumed at the last stepped day's
    close (``resume``: its date, cash and holdings) unless the account opens today, and ``paper_strategy``
    resubmitting the ``queued`` orders on yesterday's bar; the strategy instance after the run."""
    cerebro = make_cerebro(broker)
    for name, feed in feeds.items():
        cerebro.adddata(feed, name=name)
    if resume is not None:
        since, cash, held = resume
        resume_broker(cerebro, list(feeds.values()), cash, held, since)
    # A class is hashable; mypy reads type[Any] (backtrader has no types) as not Hashable.
    paper = paper_strategy(strategy)  # type: ignore[arg-type]
    cerebro.addstrategy(paper, queued=queued, **params)
    cerebro.addanalyzer(EquityRecorder, _name="equity")
    cerebro.addanalyzer(FillRecorder, _name="fills")
    # Bar by bar: backtrader's vectorised mode (runonce) fails on an indicator given fewer bars
    # than its period, which a feed cut at the opening day can be; the values are the same.
    (result,) = cerebro.run(runonce=False)
    return result
