"""A backtrader data feed that carries the forecast as a line."""

from __future__ import annotations

import backtrader as bt
import pandas as pd


class ForecastData(bt.feeds.PandasData):
    """PandasData plus a ``forecast`` line.

    The value on day t is the forecast *for t+1* made at the close of t, so a
    strategy reads ``self.data.forecast[0]`` beside ``self.data.close[0]``.
    Usable in anyone's own ``bt.Cerebro()``; the column is found by name.
    """

    lines = ("forecast",)
    params = (("forecast", -1), ("openinterest", None))


def attach_forecasts(ohlcv: pd.DataFrame, forecasts: pd.DataFrame) -> pd.DataFrame:
    """The bars a forecast strategy trades on, with the ``forecast`` column ForecastData reads.

    ``forecasts`` is a walk-forward table (``origin_date``, ``forecast``, ...).
    Rows run from the first forecast's origin day (the first decision, filled
    at the next open) to the last target day; each row carries the forecast
    made at its close, NaN on the last day (its target lies beyond the data).
    """
    by_origin = forecasts.set_index("origin_date")["forecast"]
    first_origin, last_target = forecasts["origin_date"].iloc[0], forecasts["target_date"].iloc[-1]
    frame = ohlcv.loc[first_origin:last_target].copy()
    frame["forecast"] = by_origin.reindex(frame.index)
    return frame
