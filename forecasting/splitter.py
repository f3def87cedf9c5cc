"""The walk-forward splitter: where each fold trains and which days it forecasts.

Folds are anchored at the first target day and step forward by
``retrain_every``; their positions never depend on how much data follows,
so removing or changing later data cannot move an earlier fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WindowKind = Literal["rolling", "expanding"]


@dataclass(frozen=True)
class Fold:
    """One retrain point. All indices are positions in the price array, inclusive.

    The model is fit on prices ``train_start..origin`` (nothing later), then
    forecasts each day ``test_start..test_end``; the forecast for day ``j`` is
    made from prices through day ``j - 1`` only.
    """

    number: int
    train_start: int
    origin: int
    test_start: int
    test_end: int


@dataclass(frozen=True)
class WalkForwardSplitter:
    """Rolling (default) or expanding training window, retrained every ``retrain_every`` days.

    ``train_days`` counts the prices in the training window (lookback
    included), so a fold has ``train_days - lookback`` training samples.
    """

    train_days: int = 756
    retrain_every: int = 21
    lookback: int = 60
    window: WindowKind = "rolling"

    def __post_init__(self) -> None:
        for name in ("train_days", "retrain_every", "lookback"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer greater than 0. Got {value!r}.")
        if self.lookback < 2:
            raise ValueError(f"`lookback` must be at least 2 days. Got {self.lookback}.")
        if self.train_days < self.lookback + 10:
            raise ValueError(
                f"`train_days` must exceed `lookback` by at least 10 days so a fold has "
                f"samples to train and validate on. Got train_days={self.train_days}, "
                f"lookback={self.lookback}."
            )
        if self.window not in ("rolling", "expanding"):
            raise ValueError(f"`window` must be 'rolling' or 'expanding'. Got {self.window!r}.")

    @property
    def min_history(self) -> int:
        """Prices needed before the first target day."""
        return self.train_days

    def split(self, n_obs: int, first_target: int, last_target: int | None = None) -> list[Fold]:
        """Folds covering target days ``first_target..last_target`` (default: the last day)."""
        last = n_obs - 1 if last_target is None else last_target
        if first_target < self.min_history:
            raise ValueError(
                f"the first target day needs {self.min_history} earlier prices "
                f"(`train_days`); only {first_target} are available."
            )
        if not first_target <= last < n_obs:
            raise ValueError(f"no target days between positions {first_target} and {last}.")
        count = len(range(first_target, last + 1, self.retrain_every))
        return [self.fold(number, first_target, last) for number in range(count)]

    def fold(self, number: int, first_target: int, last_target: int) -> Fold:
        """Fold ``number`` of a walk-forward whose first target day is ``first_target``.

        Its test days end at ``last_target`` at the latest. Paper trading asks for one fold at
        a time, so a step trains on exactly the window of ``bt run``'s fold of the same number.
        """
        test_start = first_target + number * self.retrain_every
        origin = test_start - 1
        start = 0 if self.window == "expanding" else origin - self.train_days + 1
        return Fold(number, start, origin, test_start, min(test_start + self.retrain_every - 1, last_target))
