"""A backtrader data feed that carries the forecast as a line."""

from __future__ import annotations

import backtrader as bt


class ForecastData(bt.feeds.PandasData):
    """PandasData plus a ``forecast`` line.

    The value on day t is the forecast *for t+1* made at the close of t, so a
    strategy reads ``self.data.forecast[0]`` beside ``self.data.close[0]``.
    Usable in anyone's own ``bt.Cerebro()``; the column is found by name.
    """

    lines = ("forecast",)
    params = (("forecast", -1), ("openinterest", None))
