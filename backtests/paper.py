"""Paper trading: a simulated account stepped day by day, decided and filled by the backtest's code.

One implementation, two modes. A step runs the registered strategy class in backtrader with
the project's broker model, resumed from the ledger (see ``_paperday``): the decision is the
strategy's own ``next()`` (``strategies.signals.forecast_target`` for lstm-strategy) and the
fill is backtrader's own market-order arithmetic. The alternative, a small pure-Python broker,
would copy backtrader's sizing, slippage, cash-check and commission rules and could drift
from them; reusing backtrader makes replay-versus-``bt run`` parity exact by construction.

Supported strategies: ``lstm-strategy`` and ``buy-and-hold``, which decide from the current
bar, the forecast and the position. ``sma-cross`` needs indicator history and plugins may keep
state between bars, so both are refused.

Forecasts follow the walk-forward: step n (step 0 opens the account and only decides)
forecasts the next day; it retrains when n is a multiple of ``retrain_every``, on exactly the
training window of ``bt run``'s fold n // retrain_every, continuing the forecaster from memory
or from its saved file. Keras' outputs vary in the last bits with the batch size, so a step
predicts its window inside a batch shaped like the backtest's fold; replayed forecasts are then
byte-identical to ``bt run``'s.

State lives in ``paper_dir()``: ``$BT_PAPER_DIR``, else ``$XDG_DATA_HOME/bt-lstm/paper``, else
``~/.local/share/bt-lstm/paper`` (see ``_ledger`` for the database and its guarantees).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from forecasting import ForecastConfig, Forecaster, resolve_period
from forecasting.windows import windows_ending_at
from strategies import registry

from ._ledger import Day, Ledger, StepRecord, experiment_lock, read_model_file, write_model_file
from ._paperday import fit_fold, latest_signal, trade_day
from .config import BrokerConfig, DataConfig, RunConfig, StrategyConfig
from .data import PriceData, default_cache_dir, load_prices
from .errors import ConfigError, DataError
from .files import write_csv

__all__ = ["SUPPORTED", "Advance", "DayReport", "config_from_dict", "experiments", "latest_signal", "paper_dir",
           "replay", "start", "status", "step", "write_report"]  # fmt: skip

SUPPORTED = ("lstm-strategy", "buy-and-hold")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MARKET = ZoneInfo("America/New_York")
_SETTLED_AFTER = dt.time(16, 15)  # a bar dated today is final only after the US close

Notify = Callable[[str], None]
OnDay = Callable[[int, int, "DayReport"], None]


def paper_dir() -> Path:
    """$BT_PAPER_DIR, else $XDG_DATA_HOME/bt-lstm/paper, else ~/.local/share/bt-lstm/paper."""
    if os.environ.get("BT_PAPER_DIR"):
        return Path(os.environ["BT_PAPER_DIR"]).expanduser()
    xdg = Path(os.environ.get("XDG_DATA_HOME", ""))
    return (xdg if xdg.is_absolute() else Path.home() / ".local" / "share") / "bt-lstm" / "paper"


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


def config_from_dict(values: dict[str, Any]) -> RunConfig:
    """Rebuild a ``RunConfig`` from ``RunConfig.to_dict()``."""
    data = dict(values["data"])
    for key in ("start", "end"):
        data[key] = dt.date.fromisoformat(data[key]) if data[key] else None
    try:
        return RunConfig(DataConfig(**data), ForecastConfig(**values["forecast"]),
                         StrategyConfig(**values["strategy"]), BrokerConfig(**values["broker"]))  # fmt: skip
    except TypeError as exc:
        raise ConfigError(f"the experiment's stored settings do not fit this version of bt ({exc})") from None


def start(name: str, config: RunConfig, *, folder: Path | None = None, notify: Notify | None = None) -> int:
    """Create experiment ``name`` (refused when it exists); its data must load. Returns its id."""
    if not _NAME.fullmatch(name):
        raise ConfigError(f"experiment name {name!r} is not valid: use 1 to 64 letters, digits, '.', '_' or '-'")
    if config.strategy.name not in SUPPORTED:
        raise ConfigError(f"paper trading supports {' and '.join(SUPPORTED)}; {config.strategy.name!r} "
                          "decides from indicator history or plugin state that a daily step does not keep")  # fmt: skip
    folder = Path(folder or paper_dir())
    if (folder / "paper.db").exists():
        with Ledger(folder) as ledger:
            ledger.refuse_existing(name)  # before loading any data
    _load(config.data, notify)
    with Ledger(folder, create=True) as ledger:
        return ledger.create_experiment(name, config.to_dict())


def step(name: str, *, date: dt.date | None = None, folder: Path | None = None,
         notify: Notify | None = None, on_day: OnDay | None = None) -> Advance:  # fmt: skip
    """Step ``name`` through ``date`` (default: the latest settled day of data), catching up missed days."""
    with _Session(name, Path(folder or paper_dir()), notify) as session:
        target = session.position(date) if date else session.settled_end()
        first = target if session.last is None else session.last_position + 1
        return session.run(range(first, target + 1), None, on_day)


def replay(name: str, *, start: dt.date | None = None, end: dt.date | None = None, folder: Path | None = None,
           notify: Notify | None = None, on_day: OnDay | None = None) -> Advance:  # fmt: skip
    """Step ``name`` through history from ``start`` (its first trading day, as in ``bt run``) to ``end``.

    A new experiment opens on the trading day before ``start`` (it only decides there), so its
    fills and daily equity are those of ``bt run --start START --end END``. A started one
    continues from the day after its last step.
    """
    with _Session(name, Path(folder or paper_dir()), notify) as session:
        index, stamp = session.frame.index, (lambda d: None if d is None else pd.Timestamp(d))
        if session.last is None:
            if start is None:
                raise ConfigError("--start is needed for the first replay of an experiment (its first trading day)")
            try:
                first, last = resolve_period(index, session.config.forecast.splitter(), stamp(start), stamp(end))
            except ValueError as exc:
                raise DataError(f"{session.prices.ticker} ({session.prices.source}): {exc}") from None
            return session.run(range(first - 1, last + 1), last, on_day)
        last = len(index) - 1 if end is None else int(index.searchsorted(stamp(end), side="right")) - 1
        if start is not None and int(index.searchsorted(stamp(start))) - 1 > session.last_position:
            raise ConfigError(f"{name} was stepped through {session.last.date:%Y-%m-%d}; a replay continues from "
                              f"the next day, so --start {start} would leave a gap (drop --start)")  # fmt: skip
        return session.run(range(session.last_position + 1, last + 1), last, on_day)


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
        self._held.enter_context(experiment_lock(self.folder, self.name))
        self.eid, self.config = exp["id"], config_from_dict(exp["config"])
        self.spec = registry.get(self.config.strategy.name)
        self.prices = _load(self.config.data, notify)
        self.frame = self.prices.frame
        self.close = self.frame["close"].to_numpy(dtype=np.float64)
        self.last = self.ledger.last_day(self.eid)
        self.members: list[Forecaster] | None = None
        latest = self.ledger.latest_model(self.eid)
        self.version = None if latest is None else latest["version"]
        self.opening = self._opening()

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
    def last_position(self) -> int:
        return self.opening + self.last.step

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

    def run(self, positions: range, end: int | None, on_day: OnDay | None) -> Advance:
        """Step each position in order, one transaction each."""
        reports = []
        for done, p in enumerate(positions, 1):
            reports.append(self._step(p, end))
            if on_day is not None:
                on_day(done, len(positions), reports[-1])
        through = None if self.last is None else self.last.date
        return Advance(reports, self.frame.index[-1], self.prices.source, through)

    def _step(self, p: int, end: int | None) -> DayReport:
        if self.last is None:
            self._check_opening(p)
            self.opening = p
        n = p - self.opening
        model, forecast, version = None, None, None
        if self.spec.uses_forecast:
            model = self._retrain(p, n) if n % self.config.forecast.retrain_every == 0 else None
            forecast = self._forecast(p, n, end)
            version = self.version
        bars = self.frame.iloc[max(p - 1, self.opening) : p + 1].assign(forecast=math.nan)
        bars.iloc[-1, -1] = math.nan if forecast is None else forecast
        queued = self.ledger.queued_order(self.eid)
        params = self.config.strategy.params_for(self.spec.uses_forecast)
        out = trade_day(bars, self.spec.load(), params, self.config.broker, self.last, queued)
        day = Day(n, self.frame.index[p], float(self.close[p]), out.cash, out.equity, out.size, out.price)
        new_order = None if out.new_order is None else (out.new_order, float(self.close[p]))
        settled = None if queued is None else (queued.id, out.settled)
        self.ledger.record_step(StepRecord(self.eid, day, self.prices.ticker, settled, out.fill, new_order,
                                           forecast, version, model))  # fmt: skip
        self.last = day
        return DayReport(self.name, self.prices.ticker, day, self.config.broker.cash, out.fill,
                         out.settled == "rejected", model, forecast, out.new_order)  # fmt: skip

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
                self.members = [Forecaster.from_bytes(read_model_file(self.folder, f)) for f in latest["files"]]
        return self.members

    def _retrain(self, p: int, n: int) -> dict[str, Any]:
        """Fit fold n // retrain_every on prices through ``p``; save a new model version."""
        members = self._forecasters()
        info = fit_fold(members, self.close, p, self.config.forecast)
        version = 1 if self.version is None else self.version + 1
        files = [write_model_file(self.folder, self.name, version, i, m.to_bytes()) for i, m in enumerate(members)]
        index, self.version = self.frame.index, version
        dates = {"train_start": f"{index[info['train_start']]:%Y-%m-%d}", "train_end": f"{index[p]:%Y-%m-%d}"}
        return {**info, **dates, "version": version, "files": files}

    def _forecast(self, p: int, n: int, end: int | None) -> float:
        """Forecast day p + 1 inside a batch shaped like ``bt run``'s fold (see the module docstring)."""
        every = self.config.forecast.retrain_every
        test_start = self.opening + 1 + (n // every) * every
        i = p + 1 - test_start
        size = every if end is None else max(min(every, end - test_start + 1), i + 1)
        ends = np.concatenate([np.arange(test_start - 1, p + 1), np.full(size - i - 1, p)])
        windows = windows_ending_at(self.close, ends, self.config.forecast.lookback)
        return float(np.mean([m.predict(windows) for m in self._forecasters()], axis=0)[i])


def _load(data: DataConfig, notify: Notify | None) -> PriceData:
    return load_prices(data.ticker, csv=None if data.csv is None else Path(data.csv), source=data.source,
                       cache_dir=default_cache_dir(), notify=notify)  # fmt: skip


# Reading the ledger


def experiments(*, folder: Path | None = None) -> list[dict[str, Any]]:
    """One summary per experiment (name, ticker, strategy, days, last date, equity, return)."""
    folder = Path(folder or paper_dir())
    if not (folder / "paper.db").exists():
        return []
    with Ledger(folder) as ledger:
        return [_summary(ledger, exp) for exp in ledger.experiments()]


def status(name: str, *, folder: Path | None = None) -> dict[str, Any]:
    """The experiment's account, queued order, last forecast, model version and settings."""
    with Ledger(Path(folder or paper_dir())) as ledger:
        exp = ledger.experiment(name)
        eid, out = exp["id"], _summary(ledger, exp)
        queued, model = ledger.queued_order(eid), ledger.latest_model(eid)
        forecasts = ledger.table("forecasts", eid)
        out["queued_order"] = None if queued is None else {"decided": f"{queued.decision_date:%Y-%m-%d}",
                                                           "size": queued.size}  # fmt: skip
        out["last_forecast"] = None if forecasts.empty else {
            k: forecasts[k].iloc[-1] for k in ("origin_date", "forecast", "close")}  # fmt: skip
        out["model_version"] = None if model is None else {k: model[k] for k in ("version", "train_start", "train_end")}
        out["fills"] = len(ledger.table("fills", eid))
        out["config"] = exp["config"]
        return out


def _summary(ledger: Ledger, exp: dict[str, Any]) -> dict[str, Any]:
    config, last = exp["config"], ledger.last_day(exp["id"])
    cash0 = config["broker"]["cash"]
    base = {"name": exp["name"], "ticker": config["data"]["ticker"], "strategy": config["strategy"]["name"],
            "model": config["forecast"]["model"], "created": exp["created"], "start_cash": cash0}  # fmt: skip
    if last is None:
        return {**base, "days": 0, "last_date": None, "cash": cash0, "position": 0, "equity": cash0,
                "total_return": 0.0}  # fmt: skip
    return {**base, "days": last.step + 1, "last_date": f"{last.date:%Y-%m-%d}", "cash": last.cash,
            "position": last.size, "position_price": last.price, "equity": last.equity,
            "total_return": last.equity / cash0 - 1.0}  # fmt: skip


def write_report(name: str, out: Path, *, folder: Path | None = None, notify: Notify | None = None) -> dict[str, Path]:
    """A quantstats report of the paper account against the benchmark, plus the ledger's tables as CSV."""
    from reports.tearsheet import write_tearsheet

    with Ledger(Path(folder or paper_dir())) as ledger:
        exp = ledger.experiment(name)
        names = ("days", "positions", "orders", "fills", "forecasts", "models")
        tables = {t: ledger.table(t, exp["id"]) for t in names}
    days = tables["days"]
    if len(days) < 3:
        raise DataError(f"{name} has {len(days)} stepped days; a report needs at least 3 (step or replay more)")
    config = config_from_dict(exp["config"])
    equity = pd.Series(days["equity"].to_numpy(), index=pd.DatetimeIndex(days["date"], name="date"))
    benchmark = _benchmark_returns(config.data, equity.index, notify)
    out, paths = Path(out), {}
    for table, frame in tables.items():
        paths[f"{table}.csv"] = out / f"{table}.csv"
        write_csv(frame, paths[f"{table}.csv"], index=False)
    span = f"{equity.index[0]:%Y-%m-%d} to {equity.index[-1]:%Y-%m-%d}"
    title = f"{config.data.ticker} {config.strategy.name} paper {name} {span}"
    paths["report.html"] = write_tearsheet(equity.pct_change().iloc[1:], benchmark, out / "report.html", title=title)
    return paths


def _benchmark_returns(data: DataConfig, dates: pd.DatetimeIndex, notify: Notify | None) -> pd.Series:
    """The benchmark's daily returns over ``dates`` (its last close carried over days it did not trade)."""
    bench = load_prices(data.benchmark, csv=None if data.benchmark_csv is None else Path(data.benchmark_csv),
                        source=data.source, cache_dir=default_cache_dir(), notify=notify)  # fmt: skip
    close = bench.frame["close"]
    if close.index[0] > dates[0] or close.index[-1] < dates[-1]:
        raise DataError(f"benchmark {bench.ticker} ({bench.source}) runs {close.index[0]:%Y-%m-%d} to "
                        f"{close.index[-1]:%Y-%m-%d} and does not cover {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}")
    aligned = close.reindex(close.index.union(dates)).ffill().reindex(dates)
    return aligned.pct_change().iloc[1:].rename(bench.ticker)
