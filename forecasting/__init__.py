"""Walk-forward forecasting: an LSTM and simple baselines behind one contract.

TensorFlow is imported only when an LSTM is fit, never by importing this package.
"""

from .base import Forecaster
from .baselines import DriftForecaster, MovingAverageForecaster, NaiveForecaster, RidgeForecaster
from .config import FORECASTERS, ForecastConfig
from .lstm import LSTMForecaster
from .splitter import Fold, WalkForwardSplitter
from .walkforward import WalkForwardResult, resolve_period, walk_forward

__all__ = [
    "FORECASTERS",
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
    "resolve_period",
    "walk_forward",
]
