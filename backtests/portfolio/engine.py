"""One Cerebro, one feed per ticker: a portfolio strategy backtested with the project's broker model.

``engine.make_cerebro`` gives the broker (cash, commission on traded value, slippage on the
next open), so a portfolio's fills follow exactly the rules of a single-ticker run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import backtrader as bt
import pandas as pd

from strategies.topk import PortfolioData

from ..config import BrokerConfig
from ..engine import EquityRecorder, make_cerebro

RUNONCE = True
FILL_COLUMNS = ["date", "ticker", "action", "size", "price", "value", "commission"]


class TickerFills(bt.Analyzer):
    """Every executed order with its ticker (and backtrader's order ``ref``), and how many orders the broker
    refused (not enough cash)."""

    def start(self) -> None:
        self.fills: list[dict[str, object]] = []
        self.refused = 0

    def notify_order(self, order: bt.Order) -> None:
        if order.status in (order.Margin, order.Rejected):
            self.refused += 1
        if order.status != order.Completed:
            return
        size = order.executed.size
        self.fills.append({
            "date": pd.Timestamp(bt.num2date(order.executed.dt).date()), "ticker": order.data._name,
            "action": "buy" if size > 0 else "sell", "size": abs(size), "price": order.executed.price,
            "value": abs(size) * order.executed.price, "commission": order.executed.comm, "ref": order.ref,
        })  # fmt: skip


class Holdings(bt.Analyzer):
    """The value of each position at each close."""

    def start(self) -> None:
        self.rows: list[list[float]] = []

    def next(self) -> None:
        broker = self.strategy.broker
        self.rows.append([broker.getposition(d).size * d.close[0] for d in self.strategy.datas])


@dataclass(frozen=True)
class PortfolioBacktest:
    """Equity at each close (the first row is the starting cash), fills with tickers, end-of-day weights."""

    equity: pd.Series
    fills: pd.DataFrame
    weights: pd.DataFrame
    refused: int
    decisions: list[tuple[Any, dict[str, float]]]

    @property
    def returns(self) -> pd.Series:
        """Daily returns, one per day after the first."""
        return self.equity.pct_change().iloc[1:]

    def turnover(self) -> pd.Series:
        """Value traded each day (buys plus sells) over the equity at the previous close."""
        traded = self.fills.groupby("date")["value"].sum().reindex(self.equity.index, fill_value=0.0)
        return (traded / self.equity.shift(1)).iloc[1:].rename("turnover")

    def costs(self, opens: pd.DataFrame) -> dict[str, float]:
        """Commission and slippage paid (each fill's price against that day's open), in money."""
        if self.fills.empty:
            return {"commission": 0.0, "slippage": 0.0}
        rows = opens.index.get_indexer(pd.DatetimeIndex(self.fills["date"]))
        cols = opens.columns.get_indexer(self.fills["ticker"])
        open_price = opens.to_numpy(dtype=float)[rows, cols]
        slip = abs(self.fills["price"].to_numpy(dtype=float) - open_price) * self.fills["size"].to_numpy()
        return {"commission": float(self.fills["commission"].sum()), "slippage": float(slip.sum())}


def run_portfolio_backtest(frames: dict[str, pd.DataFrame], strategy: type[bt.Strategy], params: dict[str, Any],
                           broker: BrokerConfig) -> PortfolioBacktest:  # fmt: skip
    """Run ``strategy`` over one ``PortfolioData`` feed per ticker (all on the same days)."""
    known = set(strategy.params._getkeys())
    unknown = sorted(set(params) - known)
    if unknown:
        raise TypeError(f"{strategy.__name__} has no parameter(s) {unknown}; it takes {sorted(known)}")
    cerebro = make_cerebro(broker)
    for ticker, frame in frames.items():
        cerebro.adddata(PortfolioData(dataname=frame), name=ticker)
    cerebro.addstrategy(strategy, **params)
    cerebro.addanalyzer(EquityRecorder, _name="equity")
    cerebro.addanalyzer(TickerFills, _name="fills")
    cerebro.addanalyzer(Holdings, _name="holdings")
    (result,) = cerebro.run(runonce=RUNONCE)
    dates, values = zip(*result.analyzers.equity.values, strict=True)
    index = pd.DatetimeIndex(dates, name="date")
    equity = pd.Series(values, index=index, name="equity")
    held = pd.DataFrame(result.analyzers.holdings.rows, index=index, columns=list(frames))
    fills = pd.DataFrame(result.analyzers.fills.fills, columns=FILL_COLUMNS)
    return PortfolioBacktest(equity, fills, held.div(equity, axis=0), result.analyzers.fills.refused,
                             list(getattr(result, "decisions", [])))  # fmt: skip
