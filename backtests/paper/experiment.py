"""What every paper experiment shares, one ticker or many: the name rule, the settled day, the replay range,
the ledger's answer to "one ticker or a portfolio", and the ``Session`` a command holds.

A session is one command's hold on an experiment (its ledger, its lock, its data). The day-by-day loop,
the day a plain step goes to and the days a replay steps are the same for any number of tickers; what a
day does (``step_at``) is ``session.PaperSession``'s, the one session of N >= 1 tickers.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pandas as pd

from forecasting import Fold, ForecastConfig, Forecaster, resolve_period

from ..data.canonical import MARKET  # the exchanges' time zone
from ..errors import BtError, ConfigError, DataError
from ..outfolder import check_writable
from .ledger import TABLES, Ledger, paper_dir
from .models import load_model_file

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SETTLED_AFTER = dt.time(16, 15)  # a bar dated today is final only after the US close

R = TypeVar("R")
Notify = Callable[[str], None]


def new_experiment_folder(name: str, folder: Path | None, *, check: Callable[[], object] = lambda: None) -> Path:
    """The data folder a new experiment ``name`` goes in, once its name is valid, ``check`` passes (a config
    check, before any data is read), the folder is writable and no experiment has that name."""
    if not NAME.fullmatch(name):
        raise ConfigError(f"experiment name {name!r} is not valid: use 1 to 64 letters, digits, '.', '_' or '-'")
    check()
    folder = Path(folder or paper_dir())
    check_writable(folder, what="paper data folder", hint="set BT_PAPER_DIR to a writable folder")
    if (folder / "paper.db").exists():
        with Ledger(folder) as ledger:
            ledger.refuse_existing(name)  # before loading any data
    return folder


def is_portfolio_experiment(name: str, *, folder: Path | None = None) -> bool:
    """Whether experiment ``name`` exists and trades a portfolio, as its ledger says (False without a ledger or
    such a name: the command then reports that in its words)."""
    folder = Path(folder or paper_dir())
    if not (folder / "paper.db").exists():
        return False
    try:
        with Ledger(folder) as ledger:
            return bool(ledger.experiment(name)["portfolio"])
    except BtError:
        return False


REPORT_DAYS = 3  # stepped days a report needs: two daily returns


def experiment_tables(name: str, *, folder: Path | None = None,
                      report: bool = False) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:  # fmt: skip
    """Experiment ``name`` and its ledger tables (``ledger.TABLES``), read in one transaction; with ``report``,
    refused unless it has the ``REPORT_DAYS`` a report needs."""
    with Ledger(Path(folder or paper_dir())) as ledger:
        exp = ledger.experiment(name)
        tables = {t: ledger.table(t, exp["id"]) for t in TABLES}
    if report and len(tables["days"]) < REPORT_DAYS:
        raise DataError(f"{name} has {len(tables['days'])} stepped days; a report needs at least {REPORT_DAYS} "
                        "(step or replay more)")  # fmt: skip
    return exp, tables


def settled_end(days: pd.DatetimeIndex, now: dt.datetime | None = None) -> int:
    """The last position of ``days``, less a bar dated today before the US market closes (not final yet)."""
    now = now or dt.datetime.now(MARKET)
    last = len(days) - 1
    return last - 1 if days[last].date() == now.date() and now.time() < SETTLED_AFTER else last


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


@dataclass(frozen=True)
class Advance(Generic[R]):
    """The days a step or replay applied (maybe none), where the data ends and (one ticker) where it came from."""

    days: list[R]
    data_end: pd.Timestamp
    source: str | None
    stepped_through: pd.Timestamp | None


class Session(ABC, Generic[R]):
    """One command's hold on an experiment: the rules of its days; ``session.PaperSession`` sets ``forecast``,
    ``days``, ``opening`` (with ``check_opening``), ``where``, ``data_words`` and ``source``, and defines
    ``stepped`` and ``step_at`` (one day, one transaction)."""

    forecast: ForecastConfig  # the experiment's forecast settings (every ticker's)
    days: pd.DatetimeIndex  # the experiment's trading days in its data
    opening: int | None  # position of step 0 in ``days``; None before the first step
    where: str  # where the days come from, in a replay's errors
    data_words: str  # the data, in errors: "AAPL data (yahoo)", "the data of NAME's tickers"
    source: str | None = None

    def __init__(self, name: str, folder: Path, ledger: Ledger, experiment: dict[str, Any]) -> None:
        self.name, self.folder, self.ledger, self.eid = name, folder, ledger, experiment["id"]

    @abstractmethod
    def stepped(self) -> tuple[int, pd.Timestamp] | None:
        """The last stepped day's step number and date; None before the first step."""

    @abstractmethod
    def step_at(self, p: int) -> R:
        """Step the day at position ``p``: fill, retrain, forecast, decide; one ledger transaction."""

    def check_opening(self) -> int | None:
        """Position of step 0 in ``days`` (None before the first step); the data must still have the ledger's
        days, as many of them from the same first day."""
        last = self.stepped()
        if last is None:
            return None
        step, date = last
        first = self.ledger.table("days", self.eid)["date"].iloc[0]
        if date not in self.days or pd.Timestamp(first) not in self.days:
            raise DataError(f"{self.data_words} no longer has {self.name}'s days {first} to {date:%Y-%m-%d}; "
                            "use the data it was run on")  # fmt: skip
        opening = int(self.days.get_loc(date)) - step
        if opening < 0 or f"{self.days[opening]:%Y-%m-%d}" != first:
            raise DataError(f"{self.data_words} does not have the same trading days as {self.name}'s ledger "
                            f"({step + 1} days from {first}); use the data it was run on")  # fmt: skip
        return opening

    def position(self, date: dt.date) -> int:
        """Position of trading day ``date`` in ``days``; DataError when the data has no such day."""
        stamp, days = pd.Timestamp(date), self.days
        if stamp not in days:
            before = days[days < stamp]
            hint = f"; the trading day before it is {before[-1]:%Y-%m-%d}" if len(before) else ""
            raise DataError(f"{self.data_words} has no trading day {date} "
                            f"(it runs {days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}){hint}")  # fmt: skip
        return int(days.get_loc(stamp))

    def splitter(self) -> Any:
        """The walk-forward splitter a replay's first day is resolved with (as ``bt run``'s)."""
        return self.forecast.splitter()

    def fold(self, opening: int, here: int, last: int) -> Fold:
        """The walk-forward fold a retrain at position ``here`` of a series fits (step 0 at ``opening``, the
        series ending at ``last``): the splitter's fold of the same number as in ``bt run``."""
        return self.splitter().fold((here - opening) // self.forecast.retrain_every, opening + 1, last)

    def check_history(self, index: pd.DatetimeIndex, opening: int, ticker: str) -> None:
        """Refuse to open the account at position ``opening`` of a ticker's days ``index`` unless the model's
        training window (``train_days``) fits in the data through it, as the walk-forward's first fold does."""
        need = self.forecast.train_days
        if opening < need - 1:
            later = f"start on or after {index[need - 1]:%Y-%m-%d}" if len(index) >= need else "use more data"
            raise DataError(f"{self.name} cannot open on {index[opening]:%Y-%m-%d}: {ticker} has {opening + 1} days "
                            f"of data through it and the model needs {need} (--train-days); {later}")  # fmt: skip

    def retrains(self, n: int) -> bool:
        """Whether step ``n`` retrains: every ``retrain_every`` steps from step 0, as the walk-forward refits."""
        return n % self.forecast.retrain_every == 0

    def carried(self, ticker: str | None = None) -> list[Forecaster]:
        """The forecasters of the newest model version that has files of ``ticker`` (None: an experiment of one
        ticker, whose files name none), read from their files; fresh ones before the first retrain."""
        models = self.ledger.table("models", self.eid).sort_values("version", ascending=False)
        for files in models["files"]:
            entries = [e for e in json.loads(files) if e.get("ticker") == ticker]
            if entries:
                return [load_model_file(self.folder, e) for e in entries]
        return self.forecast.forecasters()

    @property
    def last_position(self) -> int | None:
        """Position of the last stepped day in ``days``; None before the first step."""
        last = self.stepped()
        return None if self.opening is None or last is None else self.opening + last[0]

    def step_positions(self, date: dt.date | None) -> range:
        """The positions a step through ``date`` (default: the latest settled day) applies, missed days first."""
        target = self.position(date) if date else settled_end(self.days)
        last = self.last_position
        return range(target if last is None else last + 1, target + 1)

    def replay_positions(self, start: dt.date | None, end: dt.date | None) -> range:
        """The positions a replay from ``start`` to ``end`` applies (see ``replay_positions``)."""
        at, last = self.last_position, self.stepped()
        mark = None if at is None or last is None else (at, f"{last[1]:%Y-%m-%d}")
        return replay_positions(self.days, self.splitter(), start, end, last=mark, name=self.name, where=self.where)

    def run(self, positions: range, on_day: Callable[[int, int, R], None] | None) -> Advance[R]:
        """Step each position in order, one transaction each."""
        reports = []
        for done, p in enumerate(positions, 1):
            reports.append(self.step_at(p))
            if on_day is not None:
                on_day(done, len(positions), reports[-1])
        last = self.stepped()
        return Advance(reports, self.days[-1], self.source, None if last is None else last[1])
