"""The forecast-driven strategy: trade on the predicted next-day return."""

from __future__ import annotations

import backtrader as bt

from .signals import forecast_target, sign


class ForecastStrategy(bt.Strategy):
    """Long when the forecast for tomorrow beats today's close by ``threshold``.

    At the close of day t the forecast for t+1 (the feed's ``forecast`` line)
    is compared with the close of t; the order fills at the next open.
    ``size`` is the fraction of equity a position takes.
    """

    params = (("threshold", 0.0), ("allow_short", False), ("size", 0.95))

    def next(self) -> None:
        current = sign(self.position.size)
        target = forecast_target(
            self.data.forecast[0],
            self.data.close[0],
            current,
            threshold=self.p.threshold,
            allow_short=self.p.allow_short,
        )
        if target != current:
            self.order_target_percent(target=target * self.p.size)
