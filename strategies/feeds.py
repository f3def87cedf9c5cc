"""Backtrader data feeds over pandas frames: bulk-preloaded, and one that carries the forecast as a line."""

from __future__ import annotations

import math

import backtrader as bt
import pandas as pd
from backtrader.linebuffer import LineBuffer


class FrameData(bt.feeds.PandasData):
    """PandasData whose preload copies each column into its line at once.

    Backtrader's own preload reads one value per line per bar through ``DataFrame.iloc``,
    a third of a cached run's backtest time. This fills the same buffers with the same
    floats (the datetime line through backtrader's ``date2num``, a missing column as NaN)
    and leaves the same pointers; with filters, time zones, date bounds or bounded buffers
    it falls back to backtrader's loop.
    """

    def preload(self) -> None:
        if not self._plain():
            super().preload()
            return
        frame = self.p.dataname
        rows = len(frame)
        for name in self.getlinealiases():
            line = getattr(self.lines, name)
            if name == "datetime":
                values = [bt.date2num(stamp.to_pydatetime()) for stamp in frame.index]
            elif self._colmapping[name] is None:
                values = [math.nan] * rows
            else:
                values = frame.iloc[:, self._colmapping[name]].to_numpy(dtype=float).tolist()
            line.array.extend(values)
            line.idx += rows  # where ``rows`` calls of ``forward`` leave it
            line.lencount += rows
        self._idx = rows  # PandasData's row pointer, past the last row as its loop leaves it
        self._last()
        self.home()

    def _plain(self) -> bool:
        """Whether nothing but the frame's values goes into the lines (else backtrader's loop is needed)."""
        lines = [getattr(self.lines, name) for name in self.getlinealiases()]
        return (not self._filters and not self._ffilters and not self._tzinput and not self._barstack
                and not self._barstash and self._colmapping.get("datetime") is None
                and self.fromdate == -math.inf and self.todate == math.inf
                and isinstance(self.p.dataname.index, pd.DatetimeIndex) and self.p.dataname.index.tz is None
                and all(line.mode == LineBuffer.UnBounded and len(line.array) == 0 for line in lines))  # fmt: skip


class ForecastData(FrameData):
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
