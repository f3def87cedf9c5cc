"""Trading decisions as pure functions: the one logic that backtests and paper trading share.

A decision maps what is known at the close of day t (the close, the forecast
for t+1, the current position) to the position wanted at the next open.
Positions are signs: +1 long, 0 flat, -1 short.
"""

from __future__ import annotations

import math


def predicted_return(forecast: float, close: float) -> float:
    """The forecast's return over today's close (NaN when either is missing)."""
    if not (math.isfinite(forecast) and math.isfinite(close)) or close <= 0:
        return math.nan
    return forecast / close - 1.0


def forecast_target(
    forecast: float, close: float, current: int, *, threshold: float, allow_short: bool
) -> int:
    """Wanted position after the close: long above ``threshold``, out (or short) below ``-threshold``.

    Between the two bands, and when there is no forecast, the position is kept.
    """
    expected = predicted_return(forecast, close)
    if math.isnan(expected):
        return current
    if expected > threshold:
        return 1
    if expected < -threshold:
        return -1 if allow_short else 0
    return current


def sign(size: float) -> int:
    """+1, 0 or -1 for a position size."""
    return (size > 0) - (size < 0)
