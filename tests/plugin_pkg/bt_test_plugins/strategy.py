"""A plugin strategy: the forecast rule, taken only in the direction of a short moving average."""

from __future__ import annotations

import backtrader as bt

from strategies.signals import forecast_target, sign

PERIOD = 5


class FilteredForecastStrategy(bt.Strategy):
    """Trade the forecast only with the trend: long above the 5-day average, short below it."""

    params = (("threshold", 0.0), ("allow_short", False), ("size", 0.95))
    warmup = PERIOD  # paper trading feeds this many bars of history before yesterday's close

    def __init__(self) -> None:
        self.average = bt.indicators.SMA(self.data.close, period=PERIOD)

    def next(self) -> None:
        current = sign(self.position.size)
        target = forecast_target(self.data.forecast[0], self.data.close[0], current,
                                 threshold=self.p.threshold, allow_short=self.p.allow_short)  # fmt: skip
        trend = sign(self.data.close[0] - self.average[0])
        if target != 0 and target != trend:
            target = 0
        if target != current:
            self.order_target_percent(target=target * self.p.size)
