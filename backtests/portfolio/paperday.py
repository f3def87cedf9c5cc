"""One portfolio paper-trading day, by the backtest's own code: ``TopkStrategy`` and backtrader's broker.

As ``backtests.paper.day`` does for one ticker: backtrader runs over yesterday's bar and today's,
one ``PortfolioData`` feed per ticker, with ``engine.make_cerebro``'s broker resumed from the
ledger's cash and positions. On yesterday's bar the queued orders are submitted again, unchanged
and in the order they were placed (sells, then buys); on today's bar the broker fills them at the
open and ``TopkStrategy.next`` decides from the close. Positions are set up for every feed in feed
order, as ``bt run``'s first decision leaves them, so the account's value is summed in the same
order and every fill and every equity figure is the one ``bt run topk-strategy`` computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import backtrader as bt
import pandas as pd

from strategies.topk import PortfolioData, TopkStrategy

from ..config import BrokerConfig
from ..engine import EquityRecorder, make_cerebro
from .engine import TickerFills

Holdings = dict[str, tuple[int, float]]  # ticker -> (size, average price)


class ResumedBroker(bt.brokers.BackBroker):
    """The engine's broker, starting from a saved cash balance and positions instead of flat."""

    def resume(self, datas: list[bt.AbstractDataBase], cash: float, held: Holdings) -> None:
        """Start from ``cash`` and ``held`` (by feed name) at yesterday's close."""
        self.p.cash = cash  # init() starts from p.cash
        self.resumed = (datas, held)

    def start(self) -> None:
        super().start()
        datas, held = self.resumed
        for data in datas:  # every feed, in feed order: the order the account's value is summed in
            size, price = held.get(data._name, (0, 0.0))
            self.positions[data] = bt.Position(size, price)


class PaperTopk(TopkStrategy):
    """``TopkStrategy`` that, on yesterday's bar, only submits the queued orders again."""

    # backtrader's metaclass adds these to TopkStrategy's params; mypy sees a tuple replacing another.
    params = (("queued", ()),)  # type: ignore[assignment]

    def next(self) -> None:
        if len(self) < self.datas[0].buflen():
            feeds = {d._name: d for d in self.datas}
            for ticker, size in self.p.queued:
                (self.buy if size > 0 else self.sell)(data=feeds[ticker], size=abs(size))
            return
        super().next()


@dataclass(frozen=True)
class PortfolioDay:
    """The account at today's close, what became of the queued orders, today's fills and new orders."""

    cash: float
    equity: float
    held: Holdings
    settled: list[str]  # per queued order, in order: "filled" or "rejected"
    fills: list[tuple[int, dict[str, Any]]]  # (index of the queued order, fill)
    new_orders: list[tuple[str, int]]  # (ticker, signed size), in the order placed
    targets: dict[str, float]


def trade_portfolio_day(frames: dict[str, pd.DataFrame], params: dict[str, Any], broker: BrokerConfig,
                        cash: float | None, held: Holdings, queued: list[tuple[str, int]]) -> PortfolioDay:  # fmt: skip
    """Fill the queued orders at today's open and decide at its close; ``frames`` hold [yesterday,] today.

    ``cash`` None: the account opens today (its first decision, nothing held or queued).
    """
    cerebro = make_cerebro(broker)
    feeds = [PortfolioData(dataname=frame) for frame in frames.values()]
    for name, feed in zip(frames, feeds, strict=True):
        cerebro.adddata(feed, name=name)
    if cash is not None:
        resumed = ResumedBroker(**cerebro.broker.p._getkwargs())
        resumed.comminfo = dict(cerebro.broker.comminfo)
        resumed.resume(feeds, cash, held)
        cerebro.broker = resumed
    cerebro.addstrategy(PaperTopk, queued=tuple(queued), **params)
    cerebro.addanalyzer(EquityRecorder, _name="equity")
    cerebro.addanalyzer(TickerFills, _name="fills")
    (result,) = cerebro.run(runonce=False)
    orders = result.broker.orders
    refs = {orders[i].ref: i for i in range(len(queued))}
    settled = ["filled" if orders[i].status == bt.Order.Completed else "rejected" for i in range(len(queued))]
    fills = [(refs[f.pop("ref")], f) for f in result.analyzers.fills.fills]
    new = [(o.data._name, int(o.size)) for o in orders[len(queued) :] if o.alive()]
    positions = {d._name: result.broker.getposition(d) for d in feeds}
    return PortfolioDay(float(result.broker.cash), float(result.analyzers.equity.values[-1][1]),
                        {t: (int(p.size), float(p.price)) for t, p in positions.items() if p.size},
                        settled, fills, new, result.decisions[-1][1] if result.decisions else {})  # fmt: skip
