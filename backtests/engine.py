"""Backtrader set-up and the recorders that turn a run into tables: one engine for one ticker or many.

The engine knows brokers and feeds; strategies only decide. One Cerebro gets one feed per ticker (a
single-ticker run is the case of one feed); the feed class is the strategy's ``feed`` attribute
(``ForecastData`` unless it says otherwise: a ranking strategy reads ``PortfolioData``). Orders are
market orders that fill at the next bar's open, with slippage applied to that open and commission
charged on the traded value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import backtrader as bt
import pandas as pd

from strategies.feeds import ForecastData

from .config import BrokerConfig

FILL_COLUMNS = ["date", "ticker", "action", "size", "price", "value", "commission"]
TRADE_COLUMNS = [c for c in FILL_COLUMNS if c != "ticker"]  # one ticker's trades.csv: the ticker goes unsaid


class EquityRecorder(bt.Analyzer):
    """Account value at each close."""

    def start(self) -> None:
        self.values: list[tuple[pd.Timestamp, float]] = []

    def next(self) -> None:
        self.values.append((pd.Timestamp(self.data.datetime.date(0)), self.strategy.broker.getvalue()))


class FillRecorder(bt.Analyzer):
    """Every executed order with its feed's ticker (and backtrader's order ``ref``, which paper trading
    matches to its queued orders), and how many orders the broker refused (not enough cash)."""

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
class BacktestResult:
    """Equity at each close (the first row is the starting cash), the fills with their tickers, end-of-day
    weights per ticker, the orders refused and a ranking strategy's decisions (empty for others)."""

    equity: pd.Series
    fills: pd.DataFrame
    weights: pd.DataFrame = field(default_factory=pd.DataFrame)
    refused: int = 0
    decisions: list[tuple[Any, dict[str, float]]] = field(default_factory=list)

    @property
    def returns(self) -> pd.Series:
        """Daily returns, one per day after the first."""
        return self.equity.pct_change().iloc[1:]

    @property
    def trades(self) -> pd.DataFrame:
        """The fills without their ticker: a single-ticker run's trades table."""
        return self.fills.reindex(columns=TRADE_COLUMNS)

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


def make_cerebro(broker: BrokerConfig) -> bt.Cerebro:
    """A Cerebro with this project's broker model and no default observers."""
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(broker.cash)
    cerebro.broker.setcommission(commission=broker.commission)
    if broker.slippage:
        cerebro.broker.set_slippage_perc(broker.slippage, slip_open=True, slip_out=False)
    return cerebro


def feed_class(strategy: type[bt.Strategy]) -> type[bt.feeds.PandasData]:
    """The feed a strategy reads: its ``feed`` attribute, ``ForecastData`` (bars and a forecast) by default."""
    feed: type[bt.feeds.PandasData] = getattr(strategy, "feed", ForecastData)
    return feed


def run_backtest(frames: Mapping[str, pd.DataFrame], strategy: type[bt.Strategy], params: Mapping[str, object],
                 broker: BrokerConfig) -> BacktestResult:  # fmt: skip
    """Run ``strategy`` over one feed per ticker (``{ticker: frame}``, all on the same days; one entry for a
    single-ticker strategy). A frame without the ``forecast`` column its feed reads gets one of NaN."""
    known = set(strategy.params._getkeys())
    unknown = sorted(set(params) - known)
    if unknown:
        raise TypeError(f"{strategy.__name__} has no parameter(s) {unknown}; it takes {sorted(known)}")
    feed = feed_class(strategy)
    reads_forecast = "forecast" in feed.lines.getlinealiases()
    cerebro = make_cerebro(broker)
    for ticker, frame in frames.items():
        if reads_forecast and "forecast" not in frame:
            frame = frame.assign(forecast=float("nan"))
        cerebro.adddata(feed(dataname=frame), name=ticker)
    cerebro.addstrategy(strategy, **params)
    cerebro.addanalyzer(EquityRecorder, _name="equity")
    cerebro.addanalyzer(FillRecorder, _name="fills")
    cerebro.addanalyzer(Holdings, _name="holdings")
    # Fewer bars than an indicator's period crash backtrader's vectorised mode; bar by bar they only never trade.
    bars = min(len(frame) for frame in frames.values())
    (result,) = cerebro.run(runonce=bars > getattr(strategy, "warmup", 0) + 1)
    return _result(result, list(frames))


def _result(result: Any, tickers: list[str]) -> BacktestResult:
    """The tables of a finished strategy instance's analyzers."""
    dates, values = zip(*result.analyzers.equity.values, strict=True)
    index = pd.DatetimeIndex(dates, name="date")
    equity = pd.Series(values, index=index, name="equity")
    held = pd.DataFrame(result.analyzers.holdings.rows, index=index, columns=tickers)
    fills = pd.DataFrame(result.analyzers.fills.fills, columns=FILL_COLUMNS)
    return BacktestResult(equity, fills, held.div(equity, axis=0), result.analyzers.fills.refused,
                          list(getattr(result, "decisions", [])))  # fmt: skip
