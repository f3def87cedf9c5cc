"""Sliding windows over a price array, as zero-copy NumPy views."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def windows_ending_at(prices: np.ndarray, ends: np.ndarray, lookback: int) -> np.ndarray:
    """Windows ``prices[e - lookback + 1 : e + 1]`` for every index ``e`` in ``ends``.

    Returns an array of shape ``(len(ends), lookback)``; the last column is the
    price on the window's origin day ``e``.
    """
    ends = np.asarray(ends, dtype=np.int64)
    if ends.size and (ends.min() < lookback - 1 or ends.max() >= len(prices)):
        raise IndexError("a window would reach outside the price array")
    view = sliding_window_view(np.asarray(prices, dtype=np.float64), lookback)
    return view[ends - (lookback - 1)]
