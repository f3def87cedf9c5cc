"""Saved run folders read back, checked: what ``bt report`` and every page builder reads.

``backtests.runfolder`` writes a folder in this format; reading validates every file, so a
missing, truncated or foreign file is a one-line ``SavedRunError`` naming it and nothing is
overwritten. A ``bt walk-forward`` folder has forecasts but no returns or trades.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .saved_fields import FORECAST_FIELDS, RUN_FIELDS, check_fields, check_numbers, metric_fields, read_json, read_table

FORMAT = 2
KIND = "bt-lstm run"
COLUMNS = {
    "forecasts.csv": ["target_date", "origin_date", "forecast", "actual", "naive", "fold"],
    "folds.csv": ["fold", "train_start", "train_end", "test_start", "test_end", "n_train", "epochs", "val_loss"],
    "baselines.csv": ["target_date", "naive"],
    "trades.csv": ["date", "action", "size", "price", "value", "commission"],
    "returns.csv": ["date", "strategy", "buy_and_hold", "sma_cross", "benchmark"],
}
_DATES = {"forecasts.csv": ["target_date", "origin_date"], "baselines.csv": ["target_date"], "trades.csv": ["date"],
          "returns.csv": ["date"], "folds.csv": ["train_start", "train_end", "test_start", "test_end"]}  # fmt: skip


class SavedRunError(ValueError):
    """A run folder, or one of its files, that cannot be read; the message is one line naming it.

    It carries ``exit_code`` 2, so the CLI treats it as bad input, not a bug.
    """

    exit_code = 2


@dataclass(frozen=True)
class SavedRun:
    """A run folder read back: run.json's contents and each table (None where the run had none)."""

    folder: Path
    meta: dict[str, Any]
    returns: pd.DataFrame | None
    trades: pd.DataFrame | None
    forecasts: pd.DataFrame | None
    folds: pd.DataFrame | None
    baselines: pd.DataFrame | None

    def returns_table(self) -> pd.DataFrame:
        """``returns``, for a page that needs them; SavedRunError for a run without (a walk-forward's)."""
        if self.returns is None:
            raise SavedRunError(f"{self.folder}: the run has no returns.csv; this page needs a backtest (`bt run`).")
        return self.returns


def _read_table(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    try:
        frame = read_table(path, SavedRunError, "rerun `bt run`", parse_dates=_DATES[name])
    except FileNotFoundError:
        raise SavedRunError(f"{path}: missing; rerun `bt run` to recreate the run folder.") from None
    missing = [c for c in COLUMNS[name] if c not in frame.columns]
    if missing:
        raise SavedRunError(f"{path}: not a bt-lstm table (missing columns {', '.join(missing)}).")
    for col in _DATES[name]:
        if frame.empty:  # a run without trades: no dates to parse
            frame[col] = pd.to_datetime(frame[col])
        elif not pd.api.types.is_datetime64_any_dtype(frame[col]):
            raise SavedRunError(f"{path}: column {col} holds values that are not dates; the file is damaged.")
    check_numbers(path, frame, [*_DATES[name], "action"], SavedRunError)
    return frame


def read_run_json(folder: Path, *, kind: str, version: int, what: str, rerun: str) -> dict[str, Any]:
    """``folder/run.json``, checked: there, valid JSON, of ``kind`` and of format ``version``; else a one-line
    SavedRunError naming the file (``what`` names the kind of file, ``rerun`` the command that rewrites it)."""
    path = folder / "run.json"
    try:
        meta = read_json(path, SavedRunError, f"rerun `{rerun}`")
    except FileNotFoundError:
        raise SavedRunError(f"{path}: missing; {folder} is not a complete run folder.") from None
    if not isinstance(meta, dict) or meta.get("kind") != kind:
        raise SavedRunError(f"{path}: not a {what} file.")
    if meta.get("format") != version:
        raise SavedRunError(f"{path}: written by another version (format {meta.get('format')}, "
                            f"this version reads {version}); rerun `{rerun}`.")  # fmt: skip
    return meta


def load_run(folder: Path) -> SavedRun:
    """Read and check a run folder written by ``write_tables``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SavedRunError(f"{folder}: no such run folder.")
    meta = read_run_json(folder, kind=KIND, version=FORMAT, what="bt-lstm run", rerun="bt run")
    has_forecasts = check_run_fields(folder / "run.json", meta)
    returns = _read_table(folder, "returns.csv").set_index("date")
    trades = _read_table(folder, "trades.csv")
    forecasts, folds, baselines = (
        (_read_table(folder, n) for n in ("forecasts.csv", "folds.csv", "baselines.csv"))
        if has_forecasts else (None, None, None)
    )  # fmt: skip
    if forecasts is not None and len(forecasts) != len(returns):
        raise SavedRunError(f"{folder / 'forecasts.csv'}: {len(forecasts)} rows but returns.csv has "
                        f"{len(returns)}; the folder is damaged, rerun `bt run`.")  # fmt: skip
    return SavedRun(folder, meta, returns, trades, forecasts, folds, baselines)


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
