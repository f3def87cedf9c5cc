"""Forecast-free strategies, for comparison."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

    @staticmethod
    def warmup_for(params: Mapping[str, Any]) -> int:
        """Paper trading's warm-up (``backtests.paper.day.warmup_bars``): bars fed before the previous close.

        With them and the day itself, ``slow + 1`` bars: the slow average is ready one bar before the
        last, so every day gets ``next`` with the averages of ``bt run`` (``slow - 2`` would give the same
        averages but ``nextstart``).
        """
        return int(params["slow"]) - 1

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> None:
        """Both periods at least 1 bar, the fast one shorter than the slow one, ``size`` a fraction of equity."""
        fast, slow = params["fast"], params["slow"]
        if fast < 1 or slow < 1:
            raise ValueError(f"sma-cross's fast and slow are periods of at least 1 bar. Got fast={fast}, slow={slow}.")
        if fast >= slow:
            raise ValueError(f"sma-cross's fast period must be below its slow one. Got fast={fast}, slow={slow}.")
        if not 0 < params["size"] <= 1:
            raise ValueError(f"sma-cross's size must be a fraction of equity in (0, 1]. Got {params['size']}.")

    warmup = warmup_for(dict(params))  # the defaults' warm-up, derived as for any other parameters

    def __init__(self) -> None:
        fast = bt.indicators.SMA(self.data.close, period=self.p.fast)
        slow = bt.indicators.SMA(self.data.close, period=self.p.slow)
        self.above = fast > slow

    def next(self) -> None:
        if self.above[0] and not self.position:
            self.order_target_percent(target=self.p.size)
        elif not self.above[0] and self.position:
            self.order_target_percent(target=0.0)
