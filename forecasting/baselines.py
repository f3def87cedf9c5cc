"""Simple baselines with the LSTM's interface: the bar any model must clear."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .base import Forecaster, log_relative


@dataclasses.dataclass
class NaiveForecaster(Forecaster):
    """Tomorrow = today (persistence). Very hard to beat on daily prices."""

    name = "naive"
    description = "tomorrow's price = today's close (persistence)"

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        pass

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        return windows[:, -1]


@dataclasses.dataclass
class DriftForecaster(Forecaster):
    """Naive plus the mean daily change over the training window."""

    name = "drift"
    description = "today's close plus the training window's mean daily change"

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        series = np.concatenate([windows[0], targets])
        self.drift_ = float((series[-1] - series[0]) / (len(series) - 1))

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        return windows[:, -1] + self.drift_


@dataclasses.dataclass
class MovingAverageForecaster(Forecaster):
    """Mean of the last ``window`` closes (the whole input window if it is shorter)."""

    window: int = 20
    name = "moving-average"
    description = "mean of the last 20 closes"

    def __post_init__(self) -> None:
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise ValueError(f"`window` must be an integer greater than 0. Got {self.window!r}.")

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        pass

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        return windows[:, -min(self.window, windows.shape[1]) :].mean(axis=1)


@dataclasses.dataclass
class RidgeForecaster(Forecaster):
    """Ridge regression of the next log return on the lagged, level-free window."""

    alpha: float = 1.0
    name = "ridge"
    description = "ridge regression on the same lagged window (scikit-learn)"

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        from sklearn.linear_model import Ridge

        x = log_relative(windows)[:, :-1]
        y = np.log(targets / windows[:, -1])
        self.model_ = Ridge(alpha=self.alpha).fit(x, y)

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        return windows[:, -1] * np.exp(self.model_.predict(log_relative(windows)[:, :-1]))

    def _get_state(self) -> dict[str, Any]:
        """The fitted coefficients as arrays (a scikit-learn object is not saved as such)."""
        state = super()._get_state()
        model = state.pop("model_", None)
        if model is not None:
            state["ridge"] = {"coef": model.coef_, "intercept": np.float64(model.intercept_),
                              "n_features": int(model.n_features_in_)}  # fmt: skip
        return state

    def _set_state(self, state: dict[str, Any]) -> None:
        from sklearn.linear_model import Ridge

        state = dict(state)
        fitted = state.pop("ridge", None)
        super()._set_state(state)
        if fitted is not None:  # predict() of a Ridge with these attributes is the fitted one's, bit for bit
            model = Ridge(alpha=self.alpha)
            model.coef_, model.intercept_ = np.asarray(fitted["coef"]), np.float64(fitted["intercept"])
            model.n_features_in_ = int(fitted["n_features"])
            self.model_ = model
