"""Saved run folders read back, checked: what ``bt report`` and every page builder reads.

One reader for a run over one ticker (``bt run``, ``backtests.runfolder``) or several
(``bt run topk-strategy``, ``backtests.portfolio.folder``), and for the folders earlier versions
wrote in the same formats. run.json's ``kind`` says which tables the folder holds; the ``SavedRun``
read back holds those and None for the rest, and a page shows the sections its tables allow.
Reading validates every file, so a missing, truncated or foreign file is a one-line
``SavedRunError`` naming it and nothing is overwritten. A ``bt walk-forward`` folder has forecasts
but no returns or trades.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .saved_fields import (
    FORECAST_FIELDS,
    PORTFOLIO_FIELDS,
    RUN_FIELDS,
    check_fields,
    check_numbers,
    metric_fields,
    portfolio_column_fields,
    read_json,
    read_table,
)

FORMAT = 2
KIND = "bt-lstm run"
PORTFOLIO_FORMAT = 1
PORTFOLIO_KIND = "bt-lstm portfolio run"


@dataclass(frozen=True)
class Table:
    """One saved CSV: the columns it must have, those holding dates, the index column, other text columns."""

    columns: tuple[str, ...]
    dates: tuple[str, ...] = ()
    index: str | None = None
    text: tuple[str, ...] = ()


Tables = dict[str, pd.DataFrame]  # "returns" -> returns.csv read back, ...


@dataclass(frozen=True)
class Format:
    """A kind of run folder: run.json's ``kind`` and ``format``, the tables it may hold, how messages name it,
    ``present`` (check run.json's fields; the names of the tables this run has) and ``agree`` (check that the
    tables read agree with each other and with run.json)."""

    kind: str
    version: int
    tables: dict[str, Table]
    what: str  # "bt-lstm run": how a message names the folder's files
    rerun: str  # the command that writes the folder again
    present: Callable[[Path, dict[str, Any]], tuple[str, ...]]
    agree: Callable[[Path, dict[str, Any], Tables], None]


_TICKER_TABLES = {
    "returns.csv": Table(("date", "strategy", "buy_and_hold", "sma_cross", "benchmark"), ("date",), "date"),
    "trades.csv": Table(("date", "action", "size", "price", "value", "commission"), ("date",), None, ("action",)),
    "forecasts.csv": Table(("target_date", "origin_date", "forecast", "actual", "naive", "fold"),
                           ("target_date", "origin_date")),
    "folds.csv": Table(("fold", "train_start", "train_end", "test_start", "test_end", "n_train", "epochs", "val_loss"),
                       ("train_start", "train_end", "test_start", "test_end")),
    "baselines.csv": Table(("target_date", "naive"), ("target_date",)),
}  # fmt: skip
_MANY = ("origin_date", "ticker", "action", "status", "cache_hit")  # text columns of a portfolio's tables
_PORTFOLIO_TABLES = {
    "returns.csv": Table(("date", "strategy", "equal_weight", "benchmark"), ("date",), "date", _MANY),
    "weights.csv": Table(("date",), ("date",), "date", _MANY),
    "turnover.csv": Table(("date", "strategy"), ("date",), "date", _MANY),
    "trades.csv": Table(("date", "ticker", "action", "size", "price", "value", "commission"), ("date",), None, _MANY),
    "tickers.csv": Table(("ticker", "status", "rmse", "theils_u", "dm_stat", "dm_p_value"), (), None, _MANY),
    "forecasts.csv": Table(("ticker", "target_date", "forecast", "actual", "naive"), ("target_date",), None, _MANY),
}  # fmt: skip


class SavedRunError(ValueError):
    """A run folder, or one of its files, that cannot be read; the message is one line naming it.

    It carries ``exit_code`` 2, so the CLI treats it as bad input, not a bug.
    """

    exit_code = 2


@dataclass(frozen=True)
class SavedRun:
    """A run folder read back: run.json's contents and each table, None where the run has none.

    Every run has ``meta``; a backtest has ``returns`` (date x strategy and each comparison) and
    ``trades``; one ticker's walk-forward has ``forecasts``, ``folds`` and ``baselines``. A run over
    several tickers has ``forecasts`` of every ticker (long, with a ``ticker`` column), ``weights``
    (date x ticker held), ``turnover`` (date x rule) and ``tickers`` (each ticker's forecast accuracy
    or why it was left out). A page shows the sections whose tables are there.
    """

    folder: Path
    meta: dict[str, Any]
    returns: pd.DataFrame | None
    trades: pd.DataFrame | None
    forecasts: pd.DataFrame | None
    folds: pd.DataFrame | None
    baselines: pd.DataFrame | None
    weights: pd.DataFrame | None = None
    turnover: pd.DataFrame | None = None
    tickers: pd.DataFrame | None = None

    def returns_table(self) -> pd.DataFrame:
        """``returns``, for a page that needs them; SavedRunError for a run without (a walk-forward's)."""
        if self.returns is None:
            raise SavedRunError(f"{self.folder}: the run has no returns.csv; this page needs a backtest (`bt run`).")
        return self.returns

    @property
    def compares_rules(self) -> bool:
        """Whether the summary has the strategy's PSR against each comparison and each rule's activity
        (turnover, costs): a run over several tickers, compared with other ranking rules."""
        summary = self.meta.get("summary")
        return isinstance(summary, dict) and "psr" in summary and "activity" in summary


def _read_table(folder: Path, name: str, form: Format) -> pd.DataFrame:
    spec, path = form.tables[name], folder / name
    try:
        frame = read_table(path, SavedRunError, f"rerun `{form.rerun}`", parse_dates=list(spec.dates))
    except FileNotFoundError:
        raise SavedRunError(f"{path}: missing; rerun `{form.rerun}` to recreate the run folder.") from None
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        table = form.what.removesuffix(" run")
        raise SavedRunError(f"{path}: not a {table} table (missing columns {', '.join(missing)}).")
    for col in spec.dates:
        if frame.empty:  # a run without trades: no dates to parse
            frame[col] = pd.to_datetime(frame[col])
        elif not pd.api.types.is_datetime64_any_dtype(frame[col]):
            raise SavedRunError(f"{path}: column {col} holds values that are not dates; the file is damaged.")
    check_numbers(path, frame, [*spec.dates, *spec.text], SavedRunError)
    return frame.set_index(spec.index) if spec.index else frame


def _run_json(folder: Path, rerun: str) -> Any:
    path = folder / "run.json"
    try:
        return read_json(path, SavedRunError, f"rerun `{rerun}`")
    except FileNotFoundError:
        raise SavedRunError(f"{path}: missing; {folder} is not a complete run folder.") from None


def _check_version(folder: Path, meta: dict[str, Any], version: int, rerun: str) -> None:
    if meta.get("format") != version:
        raise SavedRunError(f"{folder / 'run.json'}: written by another version (format {meta.get('format')}, "
                            f"this version reads {version}); rerun `{rerun}`.")  # fmt: skip


def load_run(folder: Path) -> SavedRun:
    """Read and check a run folder of any kind (one ticker or several), written by this version or an earlier one
    in the same format; a one-line SavedRunError naming the first file or field that is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SavedRunError(f"{folder}: no such run folder.")
    meta = _run_json(folder, "bt run")
    form = FORMATS.get(str(meta.get("kind"))) if isinstance(meta, dict) else None
    if form is None:
        raise SavedRunError(f"{folder / 'run.json'}: not a bt-lstm run file.")
    _check_version(folder, meta, form.version, form.rerun)
    names = form.present(folder / "run.json", meta)
    tables = {name.removesuffix(".csv"): _read_table(folder, name, form) for name in form.tables if name in names}
    form.agree(folder, meta, tables)
    return SavedRun(folder, meta, **{stem: tables.get(stem) for stem in _STEMS})


def check_run_fields(path: Path, meta: dict[str, Any]) -> bool:
    """Every field of a run's run.json that its page reads is there and of its type (a one-line
    SavedRunError naming the first that is not); whether the run has forecasts."""
    check_fields(path, meta, RUN_FIELDS, error=SavedRunError, hint="rerun `bt run`")
    summary = meta["summary"]
    shown = [col for col in ("sma_cross", "benchmark") if col in summary]
    has_forecasts = "forecast_rmse" in summary
    check_fields(path, meta, [*metric_fields(shown), *(FORECAST_FIELDS if has_forecasts else [])],
                 error=SavedRunError, hint="rerun `bt run`")  # fmt: skip
    return has_forecasts


def _ticker_tables(path: Path, meta: dict[str, Any]) -> tuple[str, ...]:
    """One ticker's run: returns and trades, and its walk-forward's tables when it has forecasts."""
    return tuple(_TICKER_TABLES) if check_run_fields(path, meta) else ("returns.csv", "trades.csv")


def _ticker_agree(folder: Path, meta: dict[str, Any], tables: Tables) -> None:
    forecasts, returns = tables.get("forecasts"), tables["returns"]
    if forecasts is not None and len(forecasts) != len(returns):
        raise SavedRunError(f"{folder / 'forecasts.csv'}: {len(forecasts)} rows but returns.csv has "
                            f"{len(returns)}; the folder is damaged, rerun `bt run`.")  # fmt: skip


def _portfolio_tables(path: Path, meta: dict[str, Any]) -> tuple[str, ...]:
    """Several tickers' run: every table, always."""
    check_fields(path, meta, PORTFOLIO_FIELDS, error=SavedRunError, hint="rerun `bt run topk-strategy`")
    return tuple(_PORTFOLIO_TABLES)


def _portfolio_agree(folder: Path, meta: dict[str, Any], tables: Tables) -> None:
    columns = portfolio_column_fields(tables["returns"].columns, meta["summary"]["activity"])
    check_fields(folder / "run.json", meta, columns, error=SavedRunError, hint="rerun `bt run topk-strategy`")
    if len(tables["weights"]) != len(tables["returns"]):
        raise SavedRunError(f"{folder / 'weights.csv'}: {len(tables['weights'])} rows but returns.csv has "
                            f"{len(tables['returns'])}; the folder is damaged.")  # fmt: skip


TICKER_RUN = Format(KIND, FORMAT, _TICKER_TABLES, "bt-lstm run", "bt run", _ticker_tables, _ticker_agree)
PORTFOLIO_RUN = Format(PORTFOLIO_KIND, PORTFOLIO_FORMAT, _PORTFOLIO_TABLES, "bt-lstm portfolio run",
                       "bt run topk-strategy", _portfolio_tables, _portfolio_agree)  # fmt: skip
FORMATS = {f.kind: f for f in (TICKER_RUN, PORTFOLIO_RUN)}
_STEMS = {name.removesuffix(".csv") for f in FORMATS.values() for name in f.tables}  # SavedRun's tables
