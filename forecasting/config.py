"""The forecasting settings as one frozen, picklable value, and what they build."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .base import Forecaster
from .baselines import DriftForecaster, MovingAverageForecaster, NaiveForecaster, RidgeForecaster
from .lstm import LSTMForecaster
from .splitter import WalkForwardSplitter, WindowKind

FORECASTERS: dict[str, type[Forecaster]] = {
    cls.name: cls
    for cls in (LSTMForecaster, NaiveForecaster, DriftForecaster, MovingAverageForecaster, RidgeForecaster)
}


@dataclass(frozen=True)
class ForecastConfig:
    """Everything that decides the forecasts; equal configs on equal data give equal forecasts.

    Built-in defaults follow the write-up's model. Validation happens here, so
    a bad value is refused before any data is read (ValueError naming it).
    """

    model: str = "lstm"
    lookback: int = 60
    train_days: int = 756
    retrain_every: int = 21
    window: WindowKind = "rolling"
    units: tuple[int, int] = (64, 64)
    dense: int = 32
    epochs: int = 20
    warm_epochs: int = 1
    warm_start: bool = True
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 3
    early_stopping: bool = True
    seed: int = 0
    seeds: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", tuple(self.units))
        if self.model not in FORECASTERS:
            raise ValueError(f"unknown model {self.model!r}; choose one of: {', '.join(FORECASTERS)}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"`seed` must be a non-negative integer. Got {self.seed!r}.")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or not 1 <= self.seeds <= 100:
            raise ValueError(f"`seeds` must be an integer from 1 to 100. Got {self.seeds!r}.")
        self.splitter()
        self.forecaster()

    def splitter(self) -> WalkForwardSplitter:
        """The walk-forward splitter these settings describe."""
        return WalkForwardSplitter(self.train_days, self.retrain_every, self.lookback, self.window)

    def forecasters(self) -> list[Forecaster]:
        """The ensemble the walk-forward fits: one LSTM per seed (``seed``, ``seed + 10000``, ...).

        Each member's initial weights come from its seed and its shuffle order from
        (seed, fold), so members differ. Deterministic baselines need no second member.
        """
        if self.model != "lstm":
            return [self.forecaster()]
        spaced = [self.seed + 10_000 * i for i in range(self.seeds)]
        return [dataclasses.replace(self, seed=s, seeds=1).forecaster() for s in spaced]

    def forecaster(self) -> Forecaster:
        """A fresh, unfitted forecaster (the LSTM takes the network settings)."""
        if self.model != "lstm":
            return FORECASTERS[self.model]()
        shared = [f.name for f in dataclasses.fields(LSTMForecaster) if f.init and hasattr(self, f.name)]
        return LSTMForecaster(**{name: getattr(self, name) for name in shared})

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready values."""
        out = dataclasses.asdict(self)
        out["units"] = list(self.units)
        return out
