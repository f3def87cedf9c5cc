"""What a cached walk-forward must be for a run to use it: complete, finite, and true to the run's data.

A cache entry is signed (``backtests.cache_key``), but a signature says only who wrote it. These
checks say that what is served is a walk-forward of this run's prices: one row per target day,
the target and origin dates, actual and naive prices equal to what the run's price data says for
those days, fold numbers and fold dates as the splitter makes them, and forecasts that are finite
floats. ``check_entry`` raises ValueError naming the first problem; the cache turns it into a miss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting import ForecastConfig, WalkForwardResult
from forecasting.walkforward import FOLD_COLUMNS, FORECAST_COLUMNS

_DATES = ("target_date", "origin_date")
_FOLD_DATES = ("train_start", "train_end", "test_start", "test_end")


@dataclass(frozen=True)
class Expected:
    """What the run's data says a walk-forward's tables hold, besides the forecasts themselves."""

    forecasts: pd.DataFrame  # target_date, origin_date, actual, naive, fold: one row per target day
    folds: pd.DataFrame  # fold, the four fold dates, n_train
    members: int

    @classmethod
    def of(cls, close: pd.Series, config: ForecastConfig, first: int, last: int) -> Expected:
        """The tables ``walk_forward(close, config..., first_target=first, last_target=last)`` must give."""
        splitter = config.splitter()
        values = close.to_numpy(dtype=np.float64)[: last + 1]
        dates = close.index[: last + 1]
        folds = splitter.split(len(values), first, last)
        targets = np.concatenate([np.arange(f.test_start, f.test_end + 1) for f in folds])
        forecasts = pd.DataFrame({
            "target_date": dates[targets], "origin_date": dates[targets - 1],
            "actual": values[targets], "naive": values[targets - 1],
            "fold": np.concatenate([np.full(f.test_end - f.test_start + 1, f.number) for f in folds]),
        })  # fmt: skip
        rows = [{"fold": f.number, "train_start": dates[f.train_start], "train_end": dates[f.origin],
                 "test_start": dates[f.test_start], "test_end": dates[f.test_end],
                 "n_train": max(0, f.origin - f.train_start - splitter.lookback + 1)} for f in folds]  # fmt: skip
        return cls(forecasts, pd.DataFrame(rows), config.seeds)


def check_entry(result: WalkForwardResult, expect: Expected | None = None) -> None:
    """ValueError naming the first way ``result`` is not a usable walk-forward (of ``expect``'s data, if given)."""
    forecasts, folds = result.forecasts, result.folds
    _check_shape(forecasts, folds)
    if expect is not None:
        _check_against(forecasts, folds, expect)


def _check_shape(forecasts: pd.DataFrame, folds: pd.DataFrame) -> None:
    """Columns, dtypes, finite values, one row per day in order, folds numbered 0, 1, ... and all used."""
    columns = list(forecasts.columns)
    members = columns[len(FORECAST_COLUMNS) :]
    if columns[: len(FORECAST_COLUMNS)] != FORECAST_COLUMNS or members != [f"member_{i}" for i in range(len(members))]:
        raise ValueError(f"forecasts table has the columns {columns}")
    if list(folds.columns) != FOLD_COLUMNS:
        raise ValueError(f"folds table has the columns {list(folds.columns)}")
    if forecasts.empty or folds.empty:
        raise ValueError("forecasts or folds table is empty")
    for name in ("forecast", "actual", "naive", *members):
        _finite_floats("forecasts", forecasts, name)
    for name in ("epochs", "seconds"):
        _finite_floats("folds", folds, name)
    if folds["val_loss"].dtype != np.float64:
        raise ValueError("folds table: val_loss is not a float column")
    for table, names in (("forecasts", _DATES), ("folds", _FOLD_DATES)):
        frame = forecasts if table == "forecasts" else folds
        for name in names:
            if frame[name].dtype.kind != "M" or frame[name].isna().any():
                raise ValueError(f"{table} table: {name} is not a column of dates")
    for table, frame, name in (("forecasts", forecasts, "fold"), ("folds", folds, "fold"), ("folds", folds, "n_train")):
        if frame[name].dtype != np.int64:
            raise ValueError(f"{table} table: {name} is not an integer column")
    target = forecasts["target_date"]
    if not target.is_monotonic_increasing or target.duplicated().any():
        raise ValueError("forecasts table: target dates are duplicated or out of order")
    if (forecasts["origin_date"] >= target).any():
        raise ValueError("forecasts table: an origin date is not before its target date")
    numbered = np.array_equal(folds["fold"].to_numpy(), np.arange(len(folds)))
    if not numbered or not forecasts["fold"].isin(folds["fold"]).all():
        raise ValueError("folds are not numbered 0, 1, ... or a forecast names an unknown fold")


def _finite_floats(table: str, frame: pd.DataFrame, name: str) -> None:
    if frame[name].dtype != np.float64 or not np.isfinite(frame[name].to_numpy()).all():
        raise ValueError(f"{table} table: {name} is not a column of finite numbers")


def _check_against(forecasts: pd.DataFrame, folds: pd.DataFrame, expect: Expected) -> None:
    """The same days, prices and folds as the run's data gives, and the config's ensemble members."""
    members = len(forecasts.columns) - len(FORECAST_COLUMNS)
    if members != (expect.members if expect.members > 1 else 0):
        raise ValueError(f"forecasts table has {members} member columns; the run has {expect.members} seeds")
    for table, got, want in (("forecasts", forecasts, expect.forecasts), ("folds", folds, expect.folds)):
        if len(got) != len(want):
            unit = "one per target day" if table == "forecasts" else "one per fold"
            raise ValueError(f"{table} table has {len(got)} rows; the run's data needs {len(want)} ({unit})")
        for name in want.columns:
            _same(table, name, got[name], want[name], want.iloc[:, 0])


def _same(table: str, name: str, got: pd.Series, want: pd.Series, label: pd.Series) -> None:
    """ValueError naming the first row where ``got`` differs from ``want`` (dates compared as instants)."""
    a, b = got.to_numpy(), want.to_numpy()
    if want.dtype.kind == "M":
        a, b = a.astype("datetime64[ns]"), b.astype("datetime64[ns]")
    differs = a != b
    if differs.any():
        row = int(np.argmax(differs))
        where = label.iloc[row]
        where = f"{where:%Y-%m-%d}" if isinstance(where, pd.Timestamp) else f"fold {where}"
        raise ValueError(f"{table} table: {name} of {where} is {got.iloc[row]!s}, the run's data says "
                         f"{want.iloc[row]!s}")  # fmt: skip
