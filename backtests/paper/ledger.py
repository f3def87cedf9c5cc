"""The paper-trading ledger: one SQLite database, model files beside it, one lock per experiment.

Layout of the data folder (``paper_dir()``)::

    paper.db                      experiments, orders, fills, positions, days (equity), forecasts, models
    models/NAME/v0003-m0.bin      one file per model version and ensemble member, checksummed in ``models``
    models/NAME/TICKER/v0003-m0.bin   the same, for each ticker of a portfolio experiment
    locks/NAME.lock               held (flock) by the process stepping NAME

An experiment trades one ticker or many (a portfolio; ``schema`` has the tables, version 2, and
migrates a version 1 ledger when it is first opened). A step is one transaction, so a process
killed at any point leaves the ledger as it was before the step or after it. Model files are
written (atomically) before that transaction and are only ever referenced by it, so an
interrupted step leaves at most an unreferenced file that the retried step rewrites. Double
application is refused three times over: the experiment's lock, a check inside the write
transaction that the step follows the last one, and UNIQUE constraints (one day per date, one
fill per order, one queued order per ticker).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reports.safe_read import file_kind

from ..errors import BtError
from ..folderlock import holder, open_lock_file, try_flock, write_pid
from .schema import SCHEMA, SCHEMA_VERSION, migrate

APPLICATION_ID = 0x62744C50  # "btLP", in the SQLite header: tells our database from any other
_MAGIC = b"SQLite format 3\x00"



Execute = Callable[..., sqlite3.Cursor]
TABLES = ("days", "positions", "orders", "fills", "forecasts", "models")  # an experiment's rows, as reports show them


class LedgerError(BtError):
    """The ledger database or a model file is unusable (corrupt, foreign, or changed)."""


class ExperimentError(BtError):
    """An unknown experiment, a name that exists, or one being stepped by another process."""


@dataclass(frozen=True)
class Day:
    """The account at one stepped close."""

    step: int
    date: pd.Timestamp
    close: float
    cash: float
    equity: float
    size: int
    price: float


@dataclass(frozen=True)
class Order:
    """An order decided at a close, to fill at the next open (``size`` is signed)."""

    id: int
    decision_date: pd.Timestamp
    size: int
    created_price: float
    ticker: str = ""


@dataclass(frozen=True)
class StepRecord:
    """Everything one step adds to the ledger, one ticker or many, written in one transaction (in this order:
    model, forecasts, the queued orders settled, their fills, the day, its positions, the new orders)."""

    experiment_id: int
    step: int
    date: pd.Timestamp
    close: float  # the day row's close: the ticker's (one ticker), the value held (a portfolio)
    cash: float
    equity: float
    positions: list[tuple[str, int, float]]  # (ticker, size, average price) at the close
    settled: list[tuple[int, str]] = field(default_factory=list)  # (order id, "filled" or "rejected")
    fills: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (order id, fill)
    new_orders: list[tuple[str, int, float]] = field(default_factory=list)  # (ticker, signed size, created price)
    forecasts: list[tuple[str, float, float]] = field(default_factory=list)  # (ticker, forecast, close)
    model_version: int | None = None  # the version the forecasts come from
    model: dict[str, Any] | None = None  # a new version's row, when the step retrained

    def __post_init__(self) -> None:
        if not {order for order, _ in self.fills} <= {order for order, _ in self.settled}:
            raise ValueError("a step's fill needs the order it settles")


def paper_dir() -> Path:
    """$BT_PAPER_DIR, else $XDG_DATA_HOME/bt-lstm/paper, else ~/.local/share/bt-lstm/paper."""
    if os.environ.get("BT_PAPER_DIR"):
        return Path(os.environ["BT_PAPER_DIR"]).expanduser()
    xdg = Path(os.environ.get("XDG_DATA_HOME", ""))
    return (xdg if xdg.is_absolute() else Path.home() / ".local" / "share") / "bt-lstm" / "paper"


def is_portfolio(config: dict[str, Any]) -> bool:
    """Whether an experiment's stored config trades a portfolio (many tickers) rather than one ticker."""
    return isinstance(config.get("portfolio"), dict)


def _iso(date: pd.Timestamp) -> str:
    return f"{pd.Timestamp(date):%Y-%m-%d}"


class Ledger:
    """An open ledger database; use as a context manager. Read commands never create it."""

    def __init__(self, folder: Path, *, create: bool = False) -> None:
        self.folder = Path(folder)
        self.path = self.folder / "paper.db"
        if not self._plain_file():
            if not create:
                raise ExperimentError(f"no paper experiments yet in {self.folder}; create one with `bt paper start`")
            self._initialise()
        version = self._check_header()
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            with self.guard():
                self.conn.execute("PRAGMA synchronous = FULL")  # WAL plus FULL: a commit survives power loss too
                problem = self.conn.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise LedgerError(f"{self.path} is corrupt ({problem}); restore it from a backup or move it away")
            if version != SCHEMA_VERSION:
                self._migrate()
            with self.guard():
                self.conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            self.conn.close()
            raise

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def _plain_file(self) -> bool:
        """Whether the ledger file exists; a LedgerError if it is not a regular file (a folder, a FIFO, whose
        reading would hang, a device, a link to nothing): it is left as it is."""
        hint = "move it away or point BT_PAPER_DIR elsewhere"
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            if self.path.is_symlink():
                target = os.readlink(self.path)
                raise LedgerError(f"{self.path} is a symbolic link to nothing ({target}); {hint}") from None
            return False
        except OSError as exc:
            raise LedgerError(f"{self.path} cannot be read ({exc.strerror}); {hint}") from None
        if not stat.S_ISREG(mode):
            raise LedgerError(f"{self.path} is {file_kind(mode)}, not a ledger file; {hint}")
        return True

    def _initialise(self) -> None:
        """Build the schema in a temporary file and rename it into place: a half-made ledger never exists."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".paper.db.", suffix=".tmp", dir=self.folder)
        os.close(fd)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            conn.executescript(f"PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
                               f"PRAGMA journal_mode = WAL; BEGIN; {SCHEMA} COMMIT;")  # fmt: skip
            conn.close()
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                os.link(tmp, self.path)  # unlike a rename, never replaces an existing ledger
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _migrate(self) -> None:
        """Migrate an older ledger to this schema in one transaction, or refuse it unchanged."""
        try:
            with self.guard():
                migrated = migrate(self.conn)
        except ValueError as exc:
            raise LedgerError(f"{self.path} cannot be migrated to ledger schema {SCHEMA_VERSION} ({exc}); it was left "
                              "as it was: use the bt version that wrote it, or move it away") from None  # fmt: skip
        if migrated:
            with contextlib.suppress(sqlite3.Error):  # the file's header then says so too, not only the WAL
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _check_header(self) -> int:
        """Refuse a file that is not our database by reading its header (never writing); its schema version."""
        with open(self.path, "rb") as handle:
            header = handle.read(100)
        hint = "move it away or point BT_PAPER_DIR elsewhere"
        if len(header) < 100 or not header.startswith(_MAGIC):
            raise LedgerError(f"{self.path} is not a SQLite database (corrupt or not ours); {hint}")
        if int.from_bytes(header[68:72], "big") != APPLICATION_ID:
            raise LedgerError(f"{self.path} is a SQLite database of another application, not a bt paper ledger; {hint}")
        version = int.from_bytes(header[60:64], "big")
        if version not in (1, SCHEMA_VERSION):
            raise LedgerError(f"{self.path} has ledger schema {version}; this bt reads schemas 1 (migrated when "
                              f"opened) and {SCHEMA_VERSION}; it was left as it was")  # fmt: skip
        return version

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Turn SQLite's corruption errors into a one-line LedgerError naming the file."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise LedgerError(f"{self.path} is locked by another process ({exc}); try again") from None
            raise LedgerError(f"{self.path} cannot be used ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path} is corrupt ({exc}); restore it from a backup or move it away") from None

    def _query(self, sql: str, *args: object) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.guard():
            cursor = self.conn.execute(sql, args)
            return [c[0] for c in cursor.description], cursor.fetchall()

    def _rows(self, sql: str, *args: object) -> list[dict[str, Any]]:
        names, rows = self._query(sql, *args)
        return [dict(zip(names, row, strict=True)) for row in rows]

    # Experiments

    def refuse_existing(self, name: str) -> None:
        """ExperimentError when an experiment called ``name`` exists."""
        if self._rows("SELECT id FROM experiments WHERE name = ?", name):
            raise ExperimentError(f"experiment {name!r} exists; pick another name (see `bt paper list`)")

    def create_experiment(self, name: str, config: dict[str, Any]) -> int:
        """Add an experiment; ExperimentError when the name exists."""
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        try:
            with self.guard():
                cursor = self.conn.execute("INSERT INTO experiments (name, config, created) VALUES (?, ?, ?)",
                                           (name, json.dumps(config, sort_keys=True), created))  # fmt: skip
        except sqlite3.IntegrityError:
            raise ExperimentError(f"experiment {name!r} exists; pick another name (see `bt paper list`)") from None
        if cursor.lastrowid is None:  # sqlite3 sets it after every INSERT; None would mean no row was added
            raise ExperimentError(f"experiment {name!r} was not added to the ledger; run the command again")
        return cursor.lastrowid

    def experiment(self, name: str) -> dict[str, Any]:
        """The experiment called ``name`` (id, name, config as a dict, created, and whether a portfolio)."""
        rows = self._rows("SELECT * FROM experiments WHERE name = ?", name)
        if not rows:
            known = ", ".join(r["name"] for r in self.experiments()) or "none"
            raise ExperimentError(f"no experiment {name!r} (experiments: {known}); create it with `bt paper start`")
        return _decoded(rows[0])

    def experiments(self) -> list[dict[str, Any]]:
        """Every experiment, oldest first."""
        return [_decoded(r) for r in self._rows("SELECT * FROM experiments ORDER BY id")]

    # State

    def last_day(self, experiment_id: int) -> Day | None:
        """The last stepped day, or None before the first step."""
        rows = self._rows(
            "SELECT d.*, p.size, p.price FROM days d JOIN positions p USING (experiment_id, date) "
            "WHERE experiment_id = ? ORDER BY step DESC LIMIT 1", experiment_id)  # fmt: skip
        if not rows:
            return None
        r = rows[0]
        return Day(r["step"], pd.Timestamp(r["date"]), r["close"], r["cash"], r["equity"], r["size"], r["price"])

    def queued_order(self, experiment_id: int) -> Order | None:
        """The order waiting for the next open, if any (an experiment of one ticker has at most one)."""
        orders = self.queued_orders(experiment_id)
        return orders[0] if orders else None

    def queued_orders(self, experiment_id: int) -> list[Order]:
        """Every order waiting for the next open, in the order they were placed."""
        rows = self._rows("SELECT * FROM orders WHERE experiment_id = ? AND status = 'queued' ORDER BY id",
                          experiment_id)  # fmt: skip
        return [Order(r["id"], pd.Timestamp(r["decision_date"]), r["size"], r["created_price"], r["ticker"])
                for r in rows]  # fmt: skip

    def last_account(self, experiment_id: int) -> dict[str, Any] | None:
        """The last stepped day's row (step, date, close, cash, equity), or None before the first step."""
        rows = self._rows("SELECT * FROM days WHERE experiment_id = ? ORDER BY step DESC LIMIT 1", experiment_id)
        return rows[0] if rows else None

    def positions_at(self, experiment_id: int, date: pd.Timestamp) -> dict[str, tuple[int, float]]:
        """The positions held at a stepped day's close: ticker -> (size, average price), in ticker order."""
        rows = self._rows("SELECT ticker, size, price FROM positions WHERE experiment_id = ? AND date = ? "
                          "ORDER BY ticker", experiment_id, _iso(date))  # fmt: skip
        return {r["ticker"]: (r["size"], r["price"]) for r in rows}

    def latest_model(self, experiment_id: int) -> dict[str, Any] | None:
        """The newest model version's row (``files`` decoded), or None."""
        rows = self._rows("SELECT * FROM models WHERE experiment_id = ? ORDER BY version DESC LIMIT 1", experiment_id)
        return {**rows[0], "files": json.loads(rows[0]["files"])} if rows else None

    def table(self, name: str, experiment_id: int) -> pd.DataFrame:
        """One ledger table of an experiment, in ledger order, without the experiment id."""
        order = {"days": "step", "positions": "date", "orders": "id", "fills": "id", "models": "version",
                 "forecasts": "origin_date"}[name]  # fmt: skip
        names, rows = self._query(f"SELECT * FROM {name} WHERE experiment_id = ? ORDER BY {order}", experiment_id)
        return pd.DataFrame(rows, columns=names).drop(columns="experiment_id")

    # Writing a step

    def record_step(self, record: StepRecord) -> None:
        """Apply one step atomically; ExperimentError when it does not follow the last step."""
        self.apply_step(record.experiment_id, record.step, record.date, lambda _: self._write_step(record))

    def apply_step(self, eid: int, step: int, date: pd.Timestamp, write: Callable[[Execute], object]) -> None:
        """Run ``write`` (given the connection's ``execute``) as step ``step`` of experiment ``eid``: one transaction,
        after checking that the step follows the ledger's last; ExperimentError when it does not, or when a
        constraint refuses it (nothing is changed then)."""
        try:
            with self.guard():
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    self._check_follows(eid, step, date)
                    write(self.conn.execute)
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            raise ExperimentError(f"step for {_iso(date)} refused by the ledger ({exc}); "
                                  "it was already applied") from None  # fmt: skip

    def _check_follows(self, eid: int, step: int, date: pd.Timestamp) -> None:
        last = self.conn.execute("SELECT max(step) FROM days WHERE experiment_id = ?", (eid,)).fetchone()[0]
        expected = 0 if last is None else last + 1
        if step != expected:
            raise ExperimentError(f"step {step} ({_iso(date)}) does not follow the ledger's last step "
                                  f"{last}; another process stepped this experiment, nothing was changed")  # fmt: skip

    def _write_step(self, r: StepRecord) -> None:
        eid, date, run = r.experiment_id, _iso(r.date), self.conn.execute
        if r.model is not None:
            m = r.model
            run("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (eid, m["version"], date, m["train_start"], m["train_end"], m["n_train"], m["epochs"],
                 m["val_loss"], m["seconds"], json.dumps(m["files"])))  # fmt: skip
        for ticker, forecast, close in r.forecasts:
            run("INSERT INTO forecasts (experiment_id, origin_date, forecast, close, model_version, ticker) "
                "VALUES (?, ?, ?, ?, ?, ?)", (eid, date, forecast, close, r.model_version, ticker))  # fmt: skip
        for order_id, status in r.settled:
            done = run("UPDATE orders SET status = ? WHERE id = ? AND experiment_id = ? AND status = 'queued'",
                       (status, order_id, eid)).rowcount  # fmt: skip
            if done != 1:
                raise ExperimentError(f"order {order_id} is not queued any more; another process stepped this day")
        for order_id, f in r.fills:
            run("INSERT INTO fills (order_id, experiment_id, date, action, size, price, value, commission) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (order_id, eid, _iso(f["date"]), f["action"], int(f["size"]),
                                                    f["price"], f["value"], f["commission"]))  # fmt: skip
        run("INSERT INTO days VALUES (?, ?, ?, ?, ?, ?)", (eid, r.step, date, r.close, r.cash, r.equity))
        for ticker, size, price in r.positions:
            run("INSERT INTO positions VALUES (?, ?, ?, ?, ?)", (eid, date, ticker, size, price))
        for ticker, size, price in r.new_orders:
            run("INSERT INTO orders (experiment_id, decision_date, size, created_price, status, ticker) "
                "VALUES (?, ?, ?, ?, 'queued', ?)", (eid, date, size, price, ticker))  # fmt: skip


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    config = json.loads(row["config"])
    return {**row, "config": config, "portfolio": is_portfolio(config)}


# Locks


@contextlib.contextmanager
def experiment_lock(folder: Path, name: str) -> Iterator[None]:
    """Hold the experiment's lock, or refuse at once when another process holds it."""
    path = folder / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_lock_file(path)  # a planted link (symbolic or hard) is refused, never written through
    try:
        if not try_flock(fd):
            raise ExperimentError(f"experiment {name!r} is being stepped by another process (pid {holder(fd)}); "
                                  "nothing was changed, try again when it finishes") from None  # fmt: skip
        write_pid(fd)
        yield
    finally:
        os.close(fd)  # closing releases the lock; a killed process releases it too
