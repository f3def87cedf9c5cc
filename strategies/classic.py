"""Forecast-free strategies, for comparison."""

from __future__ import annotations

import backtrader as bt


class BuyAndHold(bt.Strategy):
    """Buy ``size`` of equity at the first opportunity and hold to the end."""

    params = (("size", 0.95),)

    def next(self) -> None:
        if not self.position and not self.broker.get_orders_open():
            self.order_target_percent(target=self.p.size)


class SmaCross(bt.Strategy):
    """Long while the ``fast``-day SMA is above the ``slow``-day SMA, flat otherwise.

    The averages need ``slow`` bars of the backtest before the first signal.
    """

    params = (("fast", 20), ("slow", 50), ("size", 0.95))
    # Paper trading's warm-up (``backtests.paper.day.warmup_bars``): bars fed before the previous
    # close. With it and the day itself, ``slow + 1`` bars: the slow average is ready one bar before
    # the last, so every day gets ``next`` with the averages of ``bt run`` (``slow - 2`` would give
    # the same averages but ``nextstart``). A subclass with a longer ``slow`` must raise it to match.
    warmup = 49  # slow - 1

    def __init__(self) -> None:
        fast = bt.indicators.SMA(self.data.close, period=self.p.fast)
        slow = bt.indicators.SMA(self.data.close, period=self.p.slow)
        self.above = fast > slow

    def next(self) -> None:
        if self.above[0] and not self.position:
            self.order_target_percent(target=self.p.size)
        elif not self.above[0] and self.position:
            self.order_target_percent(target=0.0)
