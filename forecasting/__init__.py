"""Walk-forward forecasting: an LSTM, simple baselines and plugins behind one contract.

TensorFlow is imported only when an LSTM is fit, never by importing this package.
``forecasting.registry`` names every forecaster (plugins through the entry-point group
``bt_lstm.forecasters``); ``forecasting.testing.check_forecaster`` is the conformance kit.
"""

from .base import Forecaster
from .baselines import DriftForecaster, MovingAverageForecaster, NaiveForecaster, RidgeForecaster
from .config import ForecastConfig
from .lstm import LSTMForecaster
from .splitter import Fold, WalkForwardSplitter
from .walkforward import WalkForwardResult, fit_fold, predict_members, resolve_period, train_arrays, walk_forward

__all__ = [
    "DriftForecaster",
    "Fold",
    "ForecastConfig",
    "Forecaster",
    "LSTMForecaster",
    "MovingAverageForecaster",
    "NaiveForecaster",
    "RidgeForecaster",
    "WalkForwardResult",
    "WalkForwardSplitter",
    "fit_fold",
    "predict_members",
    "resolve_period",
    "train_arrays",
    "walk_forward",
]
