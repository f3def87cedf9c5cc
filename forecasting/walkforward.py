"""Walk-forward forecasting: retrain on a rolling window, forecast one day ahead.

Every forecast for day ``j`` is made by a model fit on prices through the
fold's origin (at or before ``j - 1``) from a window ending at ``j - 1``.
Nothing dated after the close of the day before the target is read: the
price array is even cut at ``end`` before any fold starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .base import Forecaster
from .splitter import Fold, WalkForwardSplitter
from .windows import windows_ending_at

FORECAST_COLUMNS = ["target_date", "origin_date", "forecast", "actual", "naive", "fold"]
FOLD_COLUMNS = [
    "fold", "train_start", "train_end", "test_start", "test_end",
    "n_train", "epochs", "val_loss", "seconds",
]  # fmt: skip

FoldCallback = Callable[[int, int, dict[str, object]], None]


@dataclass(frozen=True)
class WalkForwardResult:
    """One row per target day (``forecasts``) and one per retrain (``folds``)."""

    forecasts: pd.DataFrame
    folds: pd.DataFrame


def resolve_period(
    index: pd.DatetimeIndex,
    splitter: WalkForwardSplitter,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    default_years: int = 5,
) -> tuple[int, int]:
    """Positions of the first and last target day.

    Without ``start`` the period is the last ``default_years`` of the data, or
    as much as the training window leaves when the data is shorter.
    Raises ValueError with a message naming the option when the range is unusable.
    """
    if start is not None and end is not None and start > end:
        raise ValueError(f"`start` {start:%Y-%m-%d} is after `end` {end:%Y-%m-%d}.")
    last = len(index) - 1 if end is None else int(index.searchsorted(end, side="right")) - 1
    if last < 0:
        raise ValueError(f"`end` {end:%Y-%m-%d} is before the first day of data ({index[0]:%Y-%m-%d}).")
    need = splitter.min_history
    if last < need:
        raise ValueError(
            f"the data has {last + 1} rows through {index[last]:%Y-%m-%d}; the model needs more than "
            f"{need} (`train_days`) before the first forecast. Use a longer history or lower `train_days`."
        )
    if start is None:
        first = max(int(index.searchsorted(index[last] - pd.DateOffset(years=default_years))), need)
    else:
        first = int(index.searchsorted(start))
    if first < need:
        raise ValueError(
            f"`start` {start:%Y-%m-%d} leaves only {first} trading days of data before it; the model "
            f"needs {need} (`train_days`). Pick a start on or after {index[need]:%Y-%m-%d} or lower `train_days`."
        )
    if first > last:
        raise ValueError(
            f"no trading day to forecast between `start` {start:%Y-%m-%d} and {index[last]:%Y-%m-%d}; "
            f"widen `start`/`end`."
        )
    return first, last


def train_arrays(prices: np.ndarray, fold: Fold, lookback: int) -> tuple[np.ndarray, np.ndarray]:
    """The fold's training windows (ending ``train_start + lookback - 1 .. origin - 1``) and next-day targets."""
    ends = np.arange(fold.train_start + lookback - 1, fold.origin)
    return windows_ending_at(prices, ends, lookback), prices[ends + 1]


def fit_fold(members: Sequence[Forecaster], prices: np.ndarray, fold: Fold, lookback: int) -> dict[str, float]:
    """Fit every member on the fold's training window: what ``walk_forward`` and paper trading both do.

    Returns the training samples, the members' mean epochs and validation loss, and seconds.
    """
    began = time.perf_counter()
    x, y = train_arrays(prices, fold, lookback)
    infos = [fit_info(m.fit(x, y)) for m in members]
    return summarise_fits(infos, len(x), time.perf_counter() - began)


def summarise_fits(infos: Sequence[dict[str, float]], n_train: int, seconds: float) -> dict[str, float]:
    """One fold's row from its members' ``fit_info`` (in member order): samples, mean epochs and loss, seconds."""
    return {
        "n_train": n_train,
        "epochs": float(np.mean([i.get("epochs", 0.0) for i in infos])),
        "val_loss": float(np.mean([i.get("val_loss", np.nan) for i in infos])),
        "seconds": seconds,
    }


def predict_members(members: Sequence[Forecaster], prices: np.ndarray, ends: np.ndarray, lookback: int) -> np.ndarray:
    """Each member's forecasts (rows) for the days after positions ``ends``, from windows ending there."""
    windows = windows_ending_at(prices, ends, lookback)
    return np.array([np.asarray(m.predict(windows), dtype=np.float64).reshape(-1) for m in members])


def fresh(forecaster: Forecaster) -> Forecaster:
    """A new, unfitted copy with the same parameters (plugins need not write ``clone``)."""
    return type(forecaster)(**forecaster.get_params())


def fresh_members(forecaster: Forecaster | Sequence[Forecaster]) -> list[Forecaster]:
    """Unfitted copies of a forecaster or of each member of an ensemble (ValueError when there are none)."""
    members = [fresh(f) for f in forecaster] if isinstance(forecaster, Sequence) else [fresh(forecaster)]
    if not members:
        raise ValueError("walk_forward needs at least one forecaster.")
    return members


def fit_info(model: Forecaster) -> dict[str, float]:
    """What the model says about its last fit (epochs, validation loss), or nothing."""
    info = getattr(model, "fit_info", None)
    return dict(info()) if callable(info) else {}


def walk_forward(
    prices: pd.Series,
    forecaster: Forecaster | Sequence[Forecaster],
    splitter: WalkForwardSplitter,
    *,
    first_target: int,
    last_target: int,
    on_fold: FoldCallback | None = None,
) -> WalkForwardResult:
    """Fit ``forecaster`` fold by fold and forecast every target day out of sample.

    ``prices`` is a date-indexed close series. The forecaster is cloned first,
    so the caller's object is never trained and two calls give equal results.
    Given several forecasters (an ensemble, e.g. one LSTM per seed), each is fit
    on the same fold; ``forecast`` is their mean and ``member_<i>`` columns
    keep each one's forecast.
    ``on_fold(done, total, fold_row)`` is called before the first fold (done=0,
    empty row) and after each fold, for progress. ``forecasting.parallel`` gives the
    same result with members (or folds) fit side by side.
    """
    values = prices.to_numpy(dtype=np.float64)[: last_target + 1]
    dates = prices.index[: last_target + 1]
    members = fresh_members(forecaster)
    folds = splitter.split(len(values), first_target, last_target)
    rows, fold_rows = [], []
    if on_fold is not None:
        on_fold(0, len(folds), {})
    for fold in folds:
        info = fit_fold(members, values, fold, splitter.lookback)
        targets = np.arange(fold.test_start, fold.test_end + 1)
        predicted = predict_members(members, values, targets - 1, splitter.lookback)
        fold_rows.append(fold_row(dates, fold, info))
        rows.append(fold_forecasts(values, dates, fold, predicted))
        if on_fold is not None:
            on_fold(fold.number + 1, len(folds), fold_rows[-1])
    return assemble(rows, fold_rows)


def fold_row(dates: pd.DatetimeIndex, fold: Fold, info: dict[str, float]) -> dict[str, object]:
    """The fold's row of ``folds``: its dates and what ``summarise_fits`` says of its fit."""
    return {
        "fold": fold.number,
        "train_start": dates[fold.train_start],
        "train_end": dates[fold.origin],
        "test_start": dates[fold.test_start],
        "test_end": dates[fold.test_end],
        **info,
    }


def fold_forecasts(values: np.ndarray, dates: pd.DatetimeIndex, fold: Fold, predicted: np.ndarray) -> pd.DataFrame:
    """The fold's rows of ``forecasts`` from its members' forecasts (one row of ``predicted`` per member)."""
    targets = np.arange(fold.test_start, fold.test_end + 1)
    table = pd.DataFrame({
        "target_date": dates[targets],
        "origin_date": dates[targets - 1],
        "forecast": np.mean(predicted, axis=0),
        "actual": values[targets],
        "naive": values[targets - 1],
        "fold": fold.number,
    })  # fmt: skip
    if len(predicted) > 1:
        for i, member in enumerate(predicted):
            table[f"member_{i}"] = member
    return table


def assemble(tables: Sequence[pd.DataFrame], rows: Sequence[dict[str, object]]) -> WalkForwardResult:
    """The result from each fold's ``fold_forecasts`` and ``fold_row``, in fold order."""
    return WalkForwardResult(
        forecasts=pd.concat(tables, ignore_index=True),
        folds=pd.DataFrame(rows, columns=FOLD_COLUMNS),
    )
