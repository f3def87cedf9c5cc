"""Backtrader set-up and the recorders that turn a run into tables.

The engine knows brokers and feeds; strategies only decide. Orders are
market orders that fill at the next bar's open, with slippage applied to
that open and commission charged on the traded value.
"""

from __future__ import annotations

from dataclasses import dataclass

import backtrader as bt
import pandas as pd

from strategies.feeds import ForecastData

from .config import BrokerConfig

FILL_COLUMNS = ["date", "action", "size", "price", "value", "commission"]


class EquityRecorder(bt.Analyzer):
    """Account value at each close."""

    def start(self) -> None:
        self.values: list[tuple[pd.Timestamp, float]] = []

    def next(self) -> None:
        self.values.append((pd.Timestamp(self.data.datetime.date(0)), self.strategy.broker.getvalue()))


class FillRecorder(bt.Analyzer):
    """Every executed order: the trades table."""

    def start(self) -> None:
        self.fills: list[dict[str, object]] = []

    def notify_order(self, order: bt.Order) -> None:
        if order.status != order.Completed:
            return
        size = order.executed.size
        self.fills.append({
            "date": pd.Timestamp(bt.num2date(order.executed.dt).date()),
            "action": "buy" if size > 0 else "sell",
            "size": abs(size),
            "price": order.executed.price,
            "value": abs(size) * order.executed.price,
            "commission": order.executed.comm,
        })  # fmt: skip


@dataclass(frozen=True)
class BacktestResult:
    """Equity at each close (the first row is the starting cash) and the fills."""

    equity: pd.Series
    fills: pd.DataFrame

    @property
    def returns(self) -> pd.Series:
        """Daily returns, one per day after the first."""
        return self.equity.pct_change().iloc[1:]


def make_cerebro(broker: BrokerConfig) -> bt.Cerebro:
    """A Cerebro with this project's broker model and no default observers."""
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(broker.cash)
    cerebro.broker.setcommission(commission=broker.commission)
    if broker.slippage:
        cerebro.broker.set_slippage_perc(broker.slippage, slip_open=True, slip_out=False)
    return cerebro


def run_backtest(
    frame: pd.DataFrame, strategy: type[bt.Strategy], params: dict[str, object], broker: BrokerConfig
) -> BacktestResult:
    """Run ``strategy`` over ``frame`` (OHLCV plus an optional ``forecast`` column)."""
    frame = frame.copy()
    if "forecast" not in frame:
        frame["forecast"] = float("nan")
    known = set(strategy.params._getkeys())
    unknown = sorted(set(params) - known)
    if unknown:
        raise TypeError(f"{strategy.__name__} has no parameter(s) {unknown}; it takes {sorted(known)}")
    cerebro = make_cerebro(broker)
    cerebro.adddata(ForecastData(dataname=frame))
    cerebro.addstrategy(strategy, **params)
    cerebro.addanalyzer(EquityRecorder, _name="equity")
    cerebro.addanalyzer(FillRecorder, _name="fills")
    # Fewer bars than an indicator's period crash backtrader's vectorised mode; bar by bar they only never trade.
    (result,) = cerebro.run(runonce=len(frame) > getattr(strategy, "warmup", 0) + 1)
    dates, values = zip(*result.analyzers.equity.values, strict=True)
    equity = pd.Series(values, index=pd.DatetimeIndex(dates, name="date"), name="equity")
    fills = pd.DataFrame(result.analyzers.fills.fills, columns=FILL_COLUMNS)
    return BacktestResult(equity=equity, fills=fills)
