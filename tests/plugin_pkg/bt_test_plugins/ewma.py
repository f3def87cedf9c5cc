"""A plugin forecaster: the next log return as a fitted multiple of the window's EWMA log return."""

from __future__ import annotations

import dataclasses

import numpy as np

from forecasting.base import Forecaster

SPAN_LIMIT = 1000


def ewma(returns: np.ndarray, span: int) -> np.ndarray:
    """Exponentially weighted mean of each row (oldest first), weights 2 / (span + 1)."""
    alpha = 2.0 / (span + 1.0)
    weights = (1.0 - alpha) ** np.arange(returns.shape[1])[::-1]
    return returns @ weights / weights.sum()


@dataclasses.dataclass
class EwmaForecaster(Forecaster):
    """EWMA of the window's daily log returns, scaled by a least-squares fit (level-free, no seed)."""

    span: int = 10
    name = "ewma"

    def __post_init__(self) -> None:
        if isinstance(self.span, bool) or not isinstance(self.span, int) or not 1 <= self.span <= SPAN_LIMIT:
            raise ValueError(f"`span` must be an integer from 1 to {SPAN_LIMIT}. Got {self.span!r}.")

    def _signal(self, windows: np.ndarray) -> np.ndarray:
        return ewma(np.diff(np.log(windows), axis=1), self.span)

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        signal = self._signal(windows)
        returns = np.log(targets / windows[:, -1])
        power = float(signal @ signal)
        self.beta_ = float(signal @ returns) / power if power > 0 else 0.0

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        return windows[:, -1] * np.exp(self.beta_ * self._signal(windows))
