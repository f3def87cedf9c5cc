"""The bars a portfolio strategy trades on: one frame per ticker on one calendar, with what is known at each close.

Every frame has the calendar's days (the union of the tickers' trading days over the period),
OHLCV (a day a ticker did not trade repeats its last close, with no volume, and it is not
eligible that day), and the columns ``strategies.topk.PortfolioData`` reads: ``score``,
``volatility`` (the sample standard deviation of daily returns over the 60 days through the
day) and ``eligible`` (a bar that day and, with point-in-time membership, an index member).
Scores are known at the close: a forecast's predicted return for the next day, or 12-1 momentum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import PriceData

VOL_WINDOW = 60
MOMENTUM = (252, 21)  # 12-1 month momentum: the return from 252 to 21 trading days ago
OHLCV = ["open", "high", "low", "close", "volume"]


def calendar(prices: dict[str, PriceData]) -> pd.DatetimeIndex:
    """Every day any of the tickers traded, in order."""
    index = pd.DatetimeIndex([])
    for p in prices.values():
        index = index.union(p.frame.index)
    return pd.DatetimeIndex(index, name="date")


def forecast_scores(forecasts: pd.DataFrame) -> pd.Series:
    """Each forecast's predicted return over its origin day's close (the ``naive`` column), by origin day."""
    origin = pd.DatetimeIndex(forecasts["origin_date"])
    base = forecasts["naive"].to_numpy(dtype=np.float64)
    values = forecasts["forecast"].to_numpy(dtype=np.float64) / np.where(base > 0, base, np.nan) - 1.0
    return pd.Series(values, index=origin, name="score")


def momentum_scores(close: pd.Series) -> pd.Series:
    """12-1 month momentum at each close: close 21 trading days ago over close 252 days ago, less 1."""
    far, near = MOMENTUM
    return (close.shift(near) / close.shift(far) - 1.0).rename("score")


def volatility(close: pd.Series, window: int = VOL_WINDOW) -> pd.Series:
    """Standard deviation of daily returns over the ``window`` days through each day (NaN before)."""
    return close.pct_change().rolling(window, min_periods=window).std(ddof=1).rename("volatility")


def ticker_frame(prices: PriceData, dates: pd.DatetimeIndex, score: pd.Series,
                 member: pd.Series | None = None) -> pd.DataFrame:  # fmt: skip
    """One ticker's frame over ``dates``: bars, score, volatility and eligibility."""
    own = prices.frame
    frame = own[OHLCV].reindex(dates)
    traded = frame["close"].notna().to_numpy()
    close = frame["close"].ffill().bfill()
    for col in ("open", "high", "low"):
        frame[col] = frame[col].where(traded, close)
    frame["close"] = close
    frame["volume"] = frame["volume"].fillna(0.0)
    frame["score"] = score.reindex(dates).where(traded)
    frame["volatility"] = volatility(own["close"]).reindex(dates).where(traded)
    eligible = traded & np.isfinite(frame["close"].to_numpy())
    if member is not None:
        eligible &= member.reindex(dates, fill_value=False).to_numpy(dtype=bool)
    frame["eligible"] = eligible.astype(float)
    return frame


def panel(prices: dict[str, PriceData], dates: pd.DatetimeIndex, scores: dict[str, pd.Series],
          membership: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:  # fmt: skip
    """Every ticker's frame over ``dates``, in ticker order (the order the strategy places orders in)."""
    return {t: ticker_frame(prices[t], dates, scores[t], None if membership is None else membership[t])
            for t in sorted(scores)}  # fmt: skip


def rescored(prices: dict[str, PriceData], frames: dict[str, pd.DataFrame],
             scores: dict[str, pd.Series]) -> dict[str, pd.DataFrame]:  # fmt: skip
    """``frames`` with other scores (as ``ticker_frame`` sets them: NaN on a day the ticker did not trade)."""
    out = {}
    for t, frame in frames.items():
        traded = frame.index.isin(prices[t].frame.index)
        out[t] = frame.assign(score=scores[t].reindex(frame.index).where(traded))
    return out
