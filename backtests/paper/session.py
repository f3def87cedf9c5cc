"""Paper trading: a simulated account stepped day by day, decided and filled by the backtest's code.

One implementation, two modes. A step runs the registered strategy class in backtrader with
the project's broker model, resumed from the ledger (see ``_paperday``): the decision is the
strategy's own ``next()`` (``strategies.signals.forecast_target`` for lstm-strategy) and the
fill is backtrader's own market-order arithmetic. The alternative, a small pure-Python broker,
would copy backtrader's sizing, slippage, cash-check and commission rules and could drift
from them; reusing backtrader makes replay-versus-``bt run`` parity exact by construction.

Every registered strategy paper-trades: a step feeds it the bars since the account opened,
up to the warm-up its indicators declare (``warmup`` on the class, e.g. 49 for sma-cross), so
its ``next()`` sees what it would see in ``bt run`` on the same day.

Forecasts follow the walk-forward: step n (step 0 opens the account and only decides)
forecasts the next day; it retrains when n is a multiple of ``retrain_every``, on the fold
``WalkForwardSplitter.fold`` gives for n // retrain_every (exactly ``bt run``'s fold of that
number), through ``forecasting.fit_fold``, the walk-forward's own code, continuing the
forecaster from memory or from its saved file, and predicts the window ending at the step's
close (every forecaster predicts each window independently of its batch), so replayed
forecasts are byte-identical to ``bt run``'s.

State lives in ``paper_dir()``: ``$BT_PAPER_DIR``, else ``$XDG_DATA_HOME/bt-lstm/paper``, else
``~/.local/share/bt-lstm/paper`` (see ``ledger`` for the database and its guarantees).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from forecasting import Fold, Forecaster, fit_fold, predict_members, resolve_period

from ..config import RunConfig
from ..data import ticker_prices
from ..errors import ConfigError, DataError
from ..outfolder import check_writable
from ..strategy_setup import choose
from .day import trade_day, warmup_bars
from .ledger import Day, Ledger, StepRecord, experiment_lock, paper_dir
from .models import load_model_file, write_model_file

__all__ = ["Advance", "DayReport", "replay", "start", "step"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MARKET = ZoneInfo("America/New_York")
_SETTLED_AFTER = dt.time(16, 15)  # a bar dated today is final only after the US close

Notify = Callable[[str], None]
OnDay = Callable[[int, int, "DayReport"], None]


@dataclass(frozen=True)
class DayReport:
    """What one step did: the fill, the retrain, the forecast, the order queued, the account."""

    name: str
    ticker: str
    day: Day
    start_cash: float
    fill: dict[str, Any] | None
    rejected: bool
    model: dict[str, Any] | None
    forecast: float | None
    order: int | None


@dataclass(frozen=True)
class Advance:
    """The days a step or replay applied (maybe none), and where the data ends."""

    days: list[DayReport]
    data_end: pd.Timestamp
    source: str
    stepped_through: pd.Timestamp | None


def start(name: str, config: RunConfig, *, folder: Path | None = None, notify: Notify | None = None) -> int:
    """Create experiment ``name`` (refused when it exists); its data must load. Returns its id."""
    if not _NAME.fullmatch(name):
        raise ConfigError(f"experiment name {name!r} is not valid: use 1 to 64 letters, digits, '.', '_' or '-'")
    choose(config.strategy)  # a known strategy that takes these settings, before any data is read
    folder = Path(folder or paper_dir())
    check_writable(folder, what="paper data folder", hint="set BT_PAPER_DIR to a writable folder")
    if (folder / "paper.db").exists():
        with Ledger(folder) as ledger:
            ledger.refuse_existing(name)  # before loading any data
    ticker_prices(config.data, notify=notify)
    with Ledger(folder, create=True) as ledger:
        return ledger.create_experiment(name, config.to_dict())


def step(name: str, *, date: dt.date | None = None, folder: Path | None = None,
         notify: Notify | None = None, on_day: OnDay | None = None) -> Advance:  # fmt: skip
    """Step ``name`` through ``date`` (default: the latest settled day of data), catching up missed days."""
    with _Session(name, Path(folder or paper_dir()), notify) as session:
        target = session.position(date) if date else session.settled_end()
        last = session.last_position
        first = target if last is None else last + 1
        return session.run(range(first, target + 1), on_day)


def replay(name: str, *, start: dt.date | None = None, end: dt.date | None = None, folder: Path | None = None,
           notify: Notify | None = None, on_day: OnDay | None = None) -> Advance:  # fmt: skip
    """Step ``name`` through history from ``start`` (its first trading day, as in ``bt run``) to ``end``.

    A new experiment opens on the trading day before ``start`` (it only decides there), so its
    fills and daily equity are those of ``bt run --start START --end END``. A started one
    continues from the day after its last step.
    """
    with _Session(name, Path(folder or paper_dir()), notify) as session:
        at, day = session.last_position, session.last
        last = None if at is None or day is None else (at, f"{day.date:%Y-%m-%d}")
        where = f"{session.prices.ticker} ({session.prices.source})"
        positions = replay_positions(session.frame.index, session.config.forecast.splitter(), start, end,
                                     last=last, name=name, where=where)  # fmt: skip
        return session.run(positions, on_day)


def replay_positions(days: pd.DatetimeIndex, splitter: Any, start: dt.date | None, end: dt.date | None, *,
                     last: tuple[int, str] | None, name: str, where: str) -> range:  # fmt: skip
    """The positions in ``days`` a replay steps: a new experiment (``last`` None) from the day before ``start``
    (it only decides there) through ``end``, as ``bt run --start --end``; a started one, whose last step is
    ``last`` (position, date), from the day after it. One-line errors name ``where`` the days came from."""
    if last is None:
        if start is None:
            raise ConfigError("--start is needed for the first replay of an experiment (its first trading day)")
        try:
            first, final = resolve_period(days, splitter, _day(start), _day(end))
        except ValueError as exc:
            raise DataError(f"{where}: {exc}") from None
        return range(first - 1, final + 1)
    final = len(days) - 1 if end is None else int(days.searchsorted(_day(end), side="right")) - 1
    if start is not None and int(days.searchsorted(_day(start))) - 1 > last[0]:
        raise ConfigError(f"{name} was stepped through {last[1]}; a replay continues from the next day, "
                          f"so --start {start} would leave a gap (drop --start)")  # fmt: skip
    return range(last[0] + 1, final + 1)


def _day(date: dt.date | None) -> pd.Timestamp | None:
    return None if date is None else pd.Timestamp(date)


class _Session:
    """One command's hold on an experiment: its ledger, lock, data and forecasters."""

    def __init__(self, name: str, folder: Path, notify: Notify | None) -> None:
        self.name, self.folder, self._held = name, folder, contextlib.ExitStack()
        try:
            self._open(notify)
        except BaseException:
            self._held.close()
            raise

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self._held.close()  # releases the lock, closes the database

    def _open(self, notify: Notify | None) -> None:
        self.ledger = self._held.enter_context(Ledger(self.folder))
        exp = self.ledger.experiment(self.name)
        if "portfolio" in exp["config"]:
            raise ConfigError(f"{self.name} trades a portfolio: step it with backtests.portfolio.paper "
                              "(`bt paper step` and `bt paper replay` do)")  # fmt: skip
        self._held.enter_context(experiment_lock(self.folder, self.name))
        self.eid, self.config = exp["id"], RunConfig.from_dict(exp["config"])
        self.chosen = choose(self.config.strategy, strict=False)  # as it was started, by earlier versions too
        self.spec = self.chosen.spec
        self.prices = ticker_prices(self.config.data, notify=notify)
        self.frame = self.prices.frame
        self.close = self.frame["close"].to_numpy(dtype=np.float64)
        self.last = self.ledger.last_day(self.eid)
        self.members: list[Forecaster] | None = None
        latest = self.ledger.latest_model(self.eid)
        self.version = None if latest is None else latest["version"]
        self.opening = self._opening()
        self.warmup = warmup_bars(self.chosen.cls)

    def _opening(self) -> int | None:
        """Position of step 0 in the data; checks that the data still lines up with the ledger."""
        if self.last is None:
            return None
        index = self.frame.index
        where = f"{self.prices.ticker} data ({self.prices.source})"
        if self.last.date not in index:
            raise DataError(f"{where} no longer has {self.last.date:%Y-%m-%d}, the day {self.name} was stepped through")
        opening = index.get_loc(self.last.date) - self.last.step
        first = self.ledger.table("days", self.eid)["date"].iloc[0]
        if opening < 0 or f"{index[opening]:%Y-%m-%d}" != first:
            raise DataError(f"{where} does not have the same trading days as {self.name}'s ledger "
                            f"({self.last.step + 1} days from {first}); use the data it was run on")  # fmt: skip
        return opening

    @property
    def last_position(self) -> int | None:
        """Position of the last stepped day in the data; None before the first step."""
        return None if self.opening is None or self.last is None else self.opening + self.last.step

    def position(self, date: dt.date) -> int:
        """Position of trading day ``date``; DataError when the data has no such day."""
        stamp = pd.Timestamp(date)
        index = self.frame.index
        if stamp not in index:
            before = index[index < stamp]
            hint = f"; the trading day before it is {before[-1]:%Y-%m-%d}" if len(before) else ""
            raise DataError(f"{self.prices.ticker} data ({self.prices.source}) has no trading day {date} "
                            f"(it runs {index[0]:%Y-%m-%d} to {index[-1]:%Y-%m-%d}){hint}")  # fmt: skip
        return int(index.get_loc(stamp))

    def settled_end(self) -> int:
        """The last day of data, less a bar dated today before the market closes (its close is not final)."""
        now = dt.datetime.now(_MARKET)
        last = len(self.frame) - 1
        if self.frame.index[last].date() == now.date() and now.time() < _SETTLED_AFTER:
            return last - 1
        return last

    def run(self, positions: range, on_day: OnDay | None) -> Advance:
        """Step each position in order, one transaction each."""
        reports = []
        for done, p in enumerate(positions, 1):
            reports.append(self._step(p))
            if on_day is not None:
                on_day(done, len(positions), reports[-1])
        through = None if self.last is None else self.last.date
        return Advance(reports, self.frame.index[-1], self.prices.source, through)

    def _step(self, p: int) -> DayReport:
        if self.opening is None:  # the first step (no last day)
            self._check_opening(p)
            self.opening = p
        n = p - self.opening
        model, forecast, version = None, None, None
        if self.spec.uses_forecast:
            model = self._retrain(p, n) if n % self.config.forecast.retrain_every == 0 else None
            forecast = self._forecast(p)
            version = self.version
        bars = self.frame.iloc[max(p - 1 - self.warmup, self.opening) : p + 1].assign(forecast=math.nan)
        bars.iloc[-1, -1] = math.nan if forecast is None else forecast
        queued = self.ledger.queued_order(self.eid)
        out = trade_day(bars, self.chosen.cls, self.chosen.params, self.config.broker, self.last, queued)
        day = Day(n, self.frame.index[p], float(self.close[p]), out.cash, out.equity, out.size, out.price)
        new_order = None if out.new_order is None else (out.new_order, float(self.close[p]))
        self.ledger.record_step(StepRecord(self.eid, day, self.prices.ticker, out.settled, out.fill, new_order,
                                           forecast, version, model))  # fmt: skip
        self.last = day
        return DayReport(self.name, self.prices.ticker, day, self.config.broker.cash, out.fill,
                         out.settled is not None and out.settled[1] == "rejected", model, forecast,
                         out.new_order)  # fmt: skip

    def _check_opening(self, p: int) -> None:
        need = self.config.forecast.train_days
        if p < need - 1:
            index = self.frame.index
            raise DataError(f"{self.name} cannot start on {index[p]:%Y-%m-%d}: the model needs {need} days of data "
                            f"(--train-days) through its first day; start on or after {index[need - 1]:%Y-%m-%d}")

    def _forecasters(self) -> list[Forecaster]:
        """The forecasters carried from the last retrain: in memory, else from the ledger's files."""
        if self.members is None:
            latest = self.ledger.latest_model(self.eid)
            if latest is None:
                self.members = self.config.forecast.forecasters()
            else:
                self.members = [load_model_file(self.folder, f) for f in latest["files"]]
        return self.members

    def _fold(self, p: int, n: int) -> Fold:
        """The walk-forward fold step ``n`` (at position ``p``, so step 0 is at ``p - n``) belongs to, from the
        splitter (as in ``bt run``)."""
        every = self.config.forecast.retrain_every
        return self.config.forecast.splitter().fold(n // every, p - n + 1, len(self.close) - 1)

    def _retrain(self, p: int, n: int) -> dict[str, Any]:
        """Fit the fold whose origin is ``p`` (fold n // retrain_every); save a new model version."""
        members, fold = self._forecasters(), self._fold(p, n)
        info = fit_fold(members, self.close, fold, self.config.forecast.lookback)
        version = 1 if self.version is None else self.version + 1
        files = [write_model_file(self.folder, self.name, version, i, m.to_bytes()) for i, m in enumerate(members)]
        index, self.version = self.frame.index, version
        dates = {"train_start": f"{index[fold.train_start]:%Y-%m-%d}", "train_end": f"{index[p]:%Y-%m-%d}"}
        return {**info, "train_start": fold.train_start, **dates, "version": version, "files": files}

    def _forecast(self, p: int) -> float:
        """Forecast day p + 1 from the window ending at p, with the members of the last retrain."""
        predicted = predict_members(self._forecasters(), self.close, np.array([p]), self.config.forecast.lookback)
        return float(np.mean(predicted, axis=0)[0])
