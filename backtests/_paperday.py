"""One paper-trading day, by the backtest's own code: the walk-forward fold's fit, and the trade.

``fit_fold`` fits forecasters on exactly the training window of the walk-forward fold whose
origin is a given day (``bt signal`` uses it on the latest day).

``trade_day`` runs backtrader over at most two bars, the previous close and the day being
stepped, with ``engine.make_cerebro``'s broker resumed from the ledger's cash and position.
On the first bar yesterday's queued order is submitted again unchanged (same size, created
at the same close); on the second, backtrader's broker checks it and fills it at the open
(slippage capped by the bar's range, commission on the slipped price), and then the
strategy's own ``next()`` decides and sizes the next order from the close. So every rule
of the fill model is backtrader's, executed on the same numbers as in ``bt run``.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from forecasting import ForecastConfig, Forecaster
from forecasting.splitter import Fold
from forecasting.walkforward import _train_arrays
from forecasting.windows import windows_ending_at
from strategies.feeds import ForecastData
from strategies.signals import forecast_target, predicted_return

from ._ledger import Day, Order
from .config import BrokerConfig, RunConfig
from .data import PriceData
from .engine import _Equity, _Fills, make_cerebro
from .errors import DataError


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


@functools.cache
def paper_strategy(strategy: type[bt.Strategy]) -> type[bt.Strategy]:
    """``strategy`` with one change: before the last bar it only resubmits the queued order."""

    def next_(self: bt.Strategy) -> None:
        if len(self) < self.data.buflen():
            if self.p.queued:
                (self.buy if self.p.queued > 0 else self.sell)(size=abs(self.p.queued))
            return
        strategy.next(self)

    return type(f"Paper{strategy.__name__}", (strategy,), {"params": (("queued", 0),), "next": next_})


@dataclass(frozen=True)
class DayOutcome:
    """The account at the close, yesterday's order's fate, its fill and the order decided today."""

    cash: float
    equity: float
    size: int
    price: float
    settled: str | None  # "filled" or "rejected" when an order was queued
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
    """Fill yesterday's order and decide today's; ``bars`` is [yesterday,] today with a forecast column."""
    cerebro = make_cerebro(broker)
    feed = ForecastData(dataname=bars)
    cerebro.adddata(feed)
    if last is not None:
        cerebro.broker = _resumed(cerebro.broker, feed, last)
    cerebro.addstrategy(paper_strategy(strategy), queued=0 if queued is None else queued.size, **params)
    cerebro.addanalyzer(_Equity, _name="equity")
    cerebro.addanalyzer(_Fills, _name="fills")
    (result,) = cerebro.run()
    orders = result.broker.orders
    settled = None
    if queued is not None:
        settled = "filled" if orders[0].status == bt.Order.Completed else "rejected"
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


def fit_fold(members: list[Forecaster], close: np.ndarray, p: int, config: ForecastConfig) -> dict[str, Any]:
    """Fit every member on the walk-forward training window whose origin is position ``p``."""
    start = 0 if config.window == "expanding" else p - config.train_days + 1
    x, y = _train_arrays(close, Fold(0, start, p, p + 1, p + 1), config.lookback)
    began = time.perf_counter()
    infos = [m.fit(x, y).fit_info() for m in members]
    return {
        "train_start": start,
        "n_train": len(x),
        "epochs": float(np.mean([i.get("epochs", 0.0) for i in infos])),
        "val_loss": float(np.mean([i.get("val_loss", np.nan) for i in infos])),
        "seconds": time.perf_counter() - began,
    }


_KEEP = 2  # not a position: forecast_target returns it unchanged when the forecast is inside the band
_ACTIONS = {1: ("buy", "long"), 0: ("sell", "flat"), -1: ("sell", "short"), _KEEP: ("hold", "unchanged")}


def latest_signal(config: RunConfig, prices: PriceData) -> dict[str, Any]:
    """Train on the latest window, forecast the next trading day and say what the strategy would do."""
    close = prices.frame["close"].to_numpy(dtype=np.float64)
    index, p, fc = prices.frame.index, len(close) - 1, config.forecast
    if p < fc.train_days - 1:
        raise DataError(f"{prices.ticker} ({prices.source}) has {p + 1} rows; the model needs {fc.train_days} "
                        "(--train-days); pass --csv PATH with a longer history or lower --train-days")  # fmt: skip
    members = fc.forecasters()
    info = fit_fold(members, close, p, fc)
    window = windows_ending_at(close, np.array([p]), fc.lookback)
    forecast = float(np.mean([m.predict(window) for m in members], axis=0)[0])
    s = config.strategy
    target = forecast_target(forecast, close[p], _KEEP, threshold=s.threshold, allow_short=s.allow_short)
    action, position = _ACTIONS[target]
    return {
        "ticker": prices.ticker, "source": prices.source, "data_through": f"{index[p]:%Y-%m-%d}",
        "close": float(close[p]), "forecast": forecast, "predicted_return": predicted_return(forecast, close[p]),
        "action": action, "position": position, "threshold": s.threshold, "model": fc.model,
        "train_start": f"{index[info['train_start']]:%Y-%m-%d}", "train_end": f"{index[p]:%Y-%m-%d}",
        "n_train": info["n_train"],
    }  # fmt: skip
