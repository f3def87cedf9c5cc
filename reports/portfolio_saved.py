"""Portfolio run folders read back, checked: what the portfolio report is built from.

``backtests.portfolio.folder`` writes the folder in this format; a missing, truncated or
foreign file is a one-line ``SavedRunError`` naming it, and nothing is overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .saved import SavedRunError, read_run_json
from .saved_fields import PORTFOLIO_FIELDS, check_fields, check_numbers, portfolio_column_fields, read_json, read_table

KIND = "bt-lstm portfolio run"
FORMAT = 1
RULE_LABELS = {"strategy": "top-k on the model's forecasts", "equal_weight": "equal weight, rebalanced monthly",
               "topk_naive": "top-k on the naive forecast", "topk_ridge": "top-k on the ridge forecast",
               "momentum": "top-k on 12-1 month momentum", "benchmark": "benchmark"}  # fmt: skip
_TABLES = {"returns.csv": (["date", "strategy", "equal_weight", "benchmark"], ["date"], "date"),
           "weights.csv": (["date"], ["date"], "date"),
           "turnover.csv": (["date", "strategy"], ["date"], "date"),
           "trades.csv": (["date", "ticker", "action", "size", "price", "value", "commission"], ["date"], None),
           "tickers.csv": (["ticker", "status", "rmse", "theils_u", "dm_stat", "dm_p_value"], [], None),
           "forecasts.csv": (["ticker", "target_date", "forecast", "actual", "naive"], ["target_date"], None)}


@dataclass(frozen=True)
class SavedPortfolio:
    """A portfolio run folder read back: run.json's contents and every table."""

    folder: Path
    meta: dict[str, Any]
    returns: pd.DataFrame
    weights: pd.DataFrame
    turnover: pd.DataFrame
    trades: pd.DataFrame
    tickers: pd.DataFrame
    forecasts: pd.DataFrame


def kind_of(folder: Path) -> str | None:
    """The ``kind`` in a folder's run.json (None when it has none that can be read)."""
    try:
        meta = read_json(Path(folder) / "run.json", SavedRunError, "")
    except (OSError, SavedRunError):  # load_run then says what is wrong with it
        return None
    return meta.get("kind") if isinstance(meta, dict) else None


def _table(folder: Path, name: str) -> pd.DataFrame:
    columns, dates, index = _TABLES[name]
    path = folder / name
    try:
        frame = read_table(path, SavedRunError, "rerun `bt run topk-strategy`", parse_dates=dates)
    except FileNotFoundError:
        raise SavedRunError(f"{path}: missing; rerun `bt run topk-strategy` to recreate the run folder.") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SavedRunError(f"{path}: not a bt-lstm portfolio table (missing columns {', '.join(missing)}).")
    for col in dates:
        if frame.empty:  # a run without trades: no dates to parse
            frame[col] = pd.to_datetime(frame[col])
        elif not pd.api.types.is_datetime64_any_dtype(frame[col]):
            raise SavedRunError(f"{path}: column {col} holds values that are not dates; the file is damaged.")
    check_numbers(path, frame, [*dates, "origin_date", "ticker", "action", "status", "cache_hit"], SavedRunError)
    return frame.set_index(index) if index else frame


def load_portfolio(folder: Path) -> SavedPortfolio:
    """Read and check a portfolio run folder."""
    folder = Path(folder)
    meta = read_run_json(folder, kind=KIND, version=FORMAT, what="bt-lstm portfolio run", rerun="bt run topk-strategy")
    hint = "rerun `bt run topk-strategy`"
    check_fields(folder / "run.json", meta, PORTFOLIO_FIELDS, error=SavedRunError, hint=hint)
    tables = {name.removesuffix(".csv"): _table(folder, name) for name in _TABLES}
    columns = portfolio_column_fields(tables["returns"].columns, meta["summary"]["activity"])
    check_fields(folder / "run.json", meta, columns, error=SavedRunError, hint=hint)
    if len(tables["weights"]) != len(tables["returns"]):
        raise SavedRunError(f"{folder / 'weights.csv'}: {len(tables['weights'])} rows but returns.csv has "
                            f"{len(tables['returns'])}; the folder is damaged.")  # fmt: skip
    return SavedPortfolio(folder, meta, **tables)
