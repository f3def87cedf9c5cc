"""The forecaster contract shared by the LSTM and every baseline.

A forecaster maps windows of raw prices (one row per origin day, oldest
first, the origin day's price last) to the next day's price. ``fit`` learns
only from the windows and targets it is given, so the walk-forward decides
what a model may see. Constructor arguments are stored unchanged; what is
learned ends in an underscore (skforecast/sktime convention).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from . import registry
from . import state as saved


def log_relative(windows: np.ndarray) -> np.ndarray:
    """Each window as log(price / origin price): level-free, so one model serves any price."""
    return np.log(windows / windows[:, -1:])


@dataclasses.dataclass
class Forecaster:
    """Base class: subclasses are dataclasses of their parameters and write ``_fit``/``_predict``."""

    name: ClassVar[str] = "base"
    description: ClassVar[str] = ""

    def fit(self, windows: np.ndarray, targets: np.ndarray) -> Self:
        """Learn from ``windows`` (n, lookback) and the next-day prices ``targets`` (n,)."""
        windows, targets = np.asarray(windows, float), np.asarray(targets, float)
        if windows.ndim != 2 or targets.shape != (windows.shape[0],) or windows.shape[0] < 2:
            raise ValueError(
                f"fit needs windows of shape (n, lookback) and n targets with n >= 2; "
                f"got {windows.shape} and {targets.shape}."
            )
        self._fit(windows, targets)
        self.is_fitted_ = True
        return self

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Next-day price for each window, in price units."""
        if not getattr(self, "is_fitted_", False):
            raise RuntimeError(f"{type(self).__name__} must be fit before predict.")
        windows = np.asarray(windows, float)
        if windows.ndim != 2:
            raise ValueError(f"predict needs windows of shape (n, lookback); got {windows.shape}.")
        return np.asarray(self._predict(windows), dtype=float).reshape(-1)

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments, as given."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def clone(self) -> Self:
        """A new, unfitted forecaster with the same parameters."""
        return type(self)(**self.get_params())

    def fit_info(self) -> dict[str, float]:
        """What the last ``fit`` did (epochs run, validation loss); empty for closed-form models."""
        return {}

    def to_bytes(self) -> bytes:
        """The forecaster's parameters and everything ``fit`` learned, as bytes that hold no code.

        A JSON header and NumPy arrays (``forecasting.state``), never a pickle: loading a
        file runs nothing it contains. ``from_bytes`` gives back a forecaster whose next
        ``predict`` and ``fit`` equal this one's, so a walk-forward can stop after any fold
        and resume in a new process.
        """
        kind = type(self)
        return saved.pack(f"{kind.__module__}:{kind.__qualname__}", self.get_params(), self._get_state())

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """The forecaster ``to_bytes`` wrote; ValueError when the bytes hold something else.

        The class the bytes name (``module:Class``) is used only when it is ``cls`` itself or a
        registered forecaster (``registry.saved_class``), found by name before anything is imported:
        a file cannot make this import a module of its choosing.
        """
        path, params, state = saved.unpack(data)
        own = f"{cls.__module__}:{cls.__qualname__}"
        kind = cls if path == own else registry.saved_class(path)
        if kind is None:
            raise saved.StateError(f"the saved forecaster's class {path} is not a registered forecaster "
                                   "(see `bt models`); nothing was imported")  # fmt: skip
        if not issubclass(kind, cls):
            raise saved.StateError(f"the saved forecaster is a {path}, not a {cls.__name__}.")
        try:
            forecaster = kind(**params)
        except TypeError as exc:
            raise saved.StateError(f"the saved forecaster's parameters do not fit {path} ({exc}).") from None
        forecaster._set_state(state)
        return forecaster

    def save(self, path: Path | str) -> None:
        """Write ``to_bytes()`` to ``path`` (callers that need an atomic write use ``to_bytes``)."""
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: Path | str) -> Self:
        """The forecaster saved at ``path``."""
        return cls.from_bytes(Path(path).read_bytes())

    def _get_state(self) -> dict[str, Any]:
        """What ``fit`` learned: the attributes whose names end in an underscore."""
        return {k: v for k, v in vars(self).items() if k.endswith("_")}

    def _set_state(self, state: dict[str, Any]) -> None:
        vars(self).update(state)

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        raise NotImplementedError

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        raise NotImplementedError
