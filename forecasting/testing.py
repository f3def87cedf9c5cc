"""Conformance kit for forecaster plugins: call ``check_forecaster`` in your own pytest tests.

    from forecasting.testing import check_forecaster

    def test_my_forecaster_keeps_the_contract():
        check_forecaster(MyForecaster, {"span": 10})

It raises ``AssertionError`` naming the first broken rule: the class's shape (``fit``,
``predict``, ``get_params``, a str ``name``), ``get_params`` round trips, ``fit`` returning
the forecaster, one finite float per window, determinism, no look-ahead (a seeded
randomized property: prices after a random day are cut or changed and every forecast made
at or before that day must stay byte-identical), pickling, and ``to_bytes``/``from_bytes``
when the class has them. The walk-forward is tiny (default: the last 90 bundled AAPL
closes, 3 folds), so the whole check takes seconds for a small model.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import registry
from .splitter import WalkForwardSplitter
from .walkforward import fit_fold, predict_members, train_arrays, walk_forward
from .windows import windows_ending_at

__all__ = ["check_forecaster"]


def check_forecaster(
    cls: type,
    params: dict[str, Any] | None = None,
    *,
    prices: pd.Series | np.ndarray | None = None,
    lookback: int = 10,
    train_days: int = 60,
    retrain_every: int = 10,
    trials: int = 4,
    seed: int = 0,
) -> None:
    """Check that ``cls`` (built with ``params``) keeps the forecaster contract; AssertionError if not.

    ``prices`` (a close series or 1-D array; default the last ``train_days + 3 * retrain_every``
    bundled AAPL closes) is walked forward from position ``train_days``. ``trials`` cuts or
    changes of the prices after a day drawn with ``seed`` test for look-ahead.
    """
    check_shape(cls)
    kit = _Kit(cls, dict(params or {}), _series(prices, train_days + 3 * retrain_every),
               WalkForwardSplitter(train_days, retrain_every, lookback))  # fmt: skip
    steps: dict[str, Callable[[], object]] = {
        "the params check": kit.check_params,
        "fit/predict": kit.check_fit_predict,
        "the walk-forward": kit.check_determinism,
        "the look-ahead check": lambda: kit.check_no_lookahead(trials, seed),
        "pickling": kit.check_pickle,
        "to_bytes/from_bytes": kit.check_save_load,
    }
    for what, step in steps.items():
        with kit.guard(what):
            step()


def check_shape(cls: type) -> None:
    """The registered shape: a class with ``fit``, ``predict``, ``get_params`` and a non-empty str ``name``."""
    if not isinstance(cls, type):
        raise AssertionError(f"a forecaster must be a class, not {cls!r}")
    missing = [m for m in registry.REQUIRED if not callable(getattr(cls, m, None))]
    if missing:
        raise AssertionError(f"{cls.__qualname__} has no {', '.join(missing)} method (the forecaster contract)")
    name = getattr(cls, "name", None)
    if not (isinstance(name, str) and name):
        raise AssertionError(f"{cls.__qualname__}.name must be a non-empty str, not {name!r}")


def _series(prices: pd.Series | np.ndarray | None, rows: int) -> pd.Series:
    """The prices as a date-indexed float series (default: the last ``rows`` bundled AAPL closes)."""
    if prices is None:
        return _bundled_closes(rows)
    if isinstance(prices, pd.Series):
        return prices.astype(float)
    values = np.asarray(prices, dtype=float)
    return pd.Series(values, index=pd.bdate_range("2000-01-03", periods=len(values)))


def _bundled_closes(rows: int) -> pd.Series:
    """The last ``rows`` closes of the AAPL file bt-lstm ships (read as data; forecasting imports no backtests code)."""
    folder = Path(__file__).resolve().parents[1] / "backtests" / "data" / "bundled"
    for name in ("AAPL.csv", "AAPL.csv.gz"):
        if (folder / name).exists():
            frame = pd.read_csv(folder / name, usecols=["date", "close"], parse_dates=["date"], index_col="date")
            return frame["close"].iloc[-rows:].astype(float)
    raise AssertionError(f"no bundled AAPL prices in {folder}; pass prices= to check_forecaster")


def _same(a: Any, b: Any) -> bool:
    """Equal parameter values, lists and tuples alike."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@dataclass
class _Kit:
    """One check: the class, its params, the prices and the walk-forward geometry."""

    cls: type
    params: dict[str, Any]
    series: pd.Series
    splitter: WalkForwardSplitter

    def __post_init__(self) -> None:
        self.who = f"{self.cls.__qualname__} ({getattr(self.cls, 'name', None)!r})"  # check_shape saw a str
        self.takes = registry.parameters(self.cls)
        if "seed" in self.takes and "seed" not in self.params:
            self.params["seed"] = 0  # two instances get the same seed
        self.values = self.series.to_numpy(dtype=np.float64)
        first = self.splitter.train_days
        if len(self.values) < first + 2:
            raise AssertionError(f"the check needs at least {first + 2} prices; got {len(self.values)}")
        self.first, self.last = first, len(self.values) - 1
        self.folds = self.splitter.split(len(self.values), first, self.last)

    def make(self) -> Any:
        """A fresh instance built from the params."""
        try:
            return self.cls(**self.params)
        except Exception as exc:
            raise self.fail(f"cannot be built from {self.params!r}: {type(exc).__name__}: {exc}") from exc

    def fail(self, rule: str) -> AssertionError:
        return AssertionError(f"{self.who}: {rule}")

    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Any exception but an AssertionError becomes one naming the step: raising breaks the contract too."""
        try:
            yield
        except AssertionError:
            raise
        except Exception as exc:
            raise self.fail(f"{what} raised {type(exc).__name__}: {exc}") from exc

    def check_params(self) -> None:
        """``get_params`` returns the constructor arguments, and they rebuild an equal-params copy."""
        f = self.make()
        got = f.get_params()
        if not isinstance(got, dict) or set(got) != set(self.takes):
            keys = sorted(got) if isinstance(got, dict) else got
            raise self.fail(f"get_params() must return the constructor arguments {sorted(self.takes)}; got {keys!r}")
        for key, value in self.params.items():
            if not _same(got[key], value):
                raise self.fail(f"get_params()[{key!r}] is {got[key]!r}, but the constructor was given {value!r}")
        copy = type(f)(**got).get_params()
        if set(copy) != set(got) or not all(_same(copy[k], got[k]) for k in got):
            raise self.fail(f"type(f)(**f.get_params()) has the params {copy!r}, not {got!r}")

    def train(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        """Fold ``number``'s training windows and targets."""
        return train_arrays(self.values, self.folds[number], self.splitter.lookback)

    def windows(self, number: int) -> np.ndarray:
        """Fold ``number``'s prediction windows (one per test day, ending the day before)."""
        fold = self.folds[number]
        return windows_ending_at(self.values, np.arange(fold.origin, fold.test_end), self.splitter.lookback)

    def predict(self, f: Any, windows: np.ndarray) -> np.ndarray:
        """``f.predict(windows)``, checked to be one finite float per window."""
        out = np.asarray(f.predict(windows), dtype=np.float64)
        if out.size != len(windows) or out.ndim not in (1, 2) or out.shape[0] != len(windows):
            raise self.fail(f"predict must return one float per window: {len(windows)} windows gave shape {out.shape}")
        if not np.isfinite(out).all():
            raise self.fail(f"predict returned non-finite values: {out.reshape(-1)[~np.isfinite(out.reshape(-1))]}")
        return out.reshape(-1)

    def check_fit_predict(self) -> None:
        """``fit`` returns the forecaster; ``predict`` gives one finite float per window, for one or many."""
        f = self.make()
        if f.fit(*self.train(0)) is not f:
            raise self.fail("fit(windows, targets) must return the forecaster itself (self)")
        windows = self.windows(0)
        self.predict(f, windows)
        self.predict(f, windows[:1])

    def run(self, series: pd.Series) -> np.ndarray:
        """The walk-forward forecasts of a fresh instance on ``series``, every target day."""
        result = walk_forward(series, self.make(), self.splitter, first_target=self.first, last_target=self.last)
        return result.forecasts["forecast"].to_numpy(dtype=np.float64)

    def check_determinism(self) -> None:
        """Two fresh instances (same params and seed) give byte-identical walk-forward forecasts."""
        first, second = self.run(self.series), self.run(self.series)
        if first.tobytes() != second.tobytes():
            differ = int(np.sum(first != second))
            raise self.fail(f"not deterministic: two fresh instances with the same params forecast differently "
                            f"on {differ} of {len(first)} days of the same prices")  # fmt: skip
        if not np.isfinite(first).all():
            raise self.fail("the walk-forward forecasts are not all finite")
        self.base = first

    def check_no_lookahead(self, trials: int, seed: int) -> None:
        """Cut or change every price after a random day t: forecasts made at or before t stay byte-identical."""
        rng = np.random.default_rng(seed)
        for trial in range(trials):
            t = int(rng.integers(self.first - 1, self.last - 1))  # an origin day, not the last one
            kind, forecasts = ("cut", self.cut(t)) if trial % 2 == 0 else ("changed", self.changed(t, rng))
            kept = t - (self.first - 1) + 1  # forecasts with origin first - 1 .. t
            if forecasts[:kept].tobytes() != self.base[:kept].tobytes():
                day = self.series.index[t]
                raise self.fail(f"look-ahead: with the prices after {day:%Y-%m-%d} (position {t}) {kind}, "
                                f"forecasts made on or before that day changed")  # fmt: skip

    def changed(self, t: int, rng: np.random.Generator) -> np.ndarray:
        """Forecasts after every price past ``t`` is moved by a random walk (positive, same length)."""
        values = self.values.copy()
        jump = rng.choice([-0.2, 0.2])  # a gap at t + 1, then a random walk of its own
        values[t + 1 :] = values[t + 1 :] * np.exp(jump + np.cumsum(rng.normal(0.0, 0.03, len(values) - t - 1)))
        return self.run(pd.Series(values, index=self.series.index))

    def cut(self, t: int) -> np.ndarray:
        """Forecasts for origins up to ``t`` from the prices cut after ``t``.

        Each fold is fit as the walk-forward does; its batch of windows is padded with the
        window ending at ``t`` to the fold's full size, as paper trading does, so a model whose
        outputs vary with the batch size (Keras) still compares byte for byte.
        """
        values, member, out = self.values[: t + 1], self.make(), []
        for fold in (f for f in self.folds if f.origin <= t):
            fit_fold([member], values, fold, self.splitter.lookback)
            ends = np.arange(fold.origin, fold.test_end)
            kept = ends[ends <= t]
            padded = np.concatenate([kept, np.full(len(ends) - len(kept), t)])
            out.append(predict_members([member], values, padded, self.splitter.lookback)[0][: len(kept)])
        return np.concatenate(out)

    def check_pickle(self) -> None:
        """Pickled before and after fitting, the forecaster predicts exactly as the original."""
        self._round_trip("a pickle round trip", lambda f: pickle.loads(pickle.dumps(f)), continues=False)

    def check_save_load(self) -> None:
        """With ``to_bytes``/``from_bytes``: the loaded forecaster predicts and fits on exactly as the original."""
        if not (callable(getattr(self.cls, "to_bytes", None)) and callable(getattr(self.cls, "from_bytes", None))):
            return
        self._round_trip("to_bytes/from_bytes", lambda f: type(f).from_bytes(f.to_bytes()), continues=True)

    def _round_trip(self, how: str, trip: Callable[[Any], Any], *, continues: bool) -> None:
        x0, windows0 = self.train(0), self.windows(0)
        fresh, restored = self.make(), self._trip(how, trip, self.make(), "an unfitted")
        if self._bytes(fresh.fit(*x0), windows0) != self._bytes(restored.fit(*x0), windows0):
            raise self.fail(f"after {how} of an unfitted instance, fitting predicts differently")
        fitted = self.make().fit(*x0)
        loaded = self._trip(how, trip, fitted, "a fitted")
        if self._bytes(loaded, windows0) != self._bytes(fitted, windows0):
            raise self.fail(f"after {how} of a fitted instance, predict gives different forecasts")
        if continues and len(self.folds) > 1:
            x1, windows1 = self.train(1), self.windows(1)
            if self._bytes(loaded.fit(*x1), windows1) != self._bytes(fitted.fit(*x1), windows1):
                raise self.fail(f"after {how}, a further fit does not continue as the original's does")

    def _trip(self, how: str, trip: Callable[[Any], Any], f: Any, which: str) -> Any:
        try:
            return trip(f)
        except Exception as exc:
            raise self.fail(f"{how} of {which} instance fails: {type(exc).__name__}: {exc}") from None

    def _bytes(self, f: Any, windows: np.ndarray) -> bytes:
        return self.predict(f, windows).tobytes()
