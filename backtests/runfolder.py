"""The run folder: writing a run's tables and reading them back, checked.

``bt run`` writes it; ``bt report`` rebuilds the report from it without
training. Reading validates every file, so a missing, truncated or foreign
file is a one-line error naming it, and nothing is overwritten.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from .cache import code_version
from .errors import DataError
from .files import write_csv, write_json

FORMAT = 2
KIND = "bt-lstm run"
PACKAGES = ("backtrader", "tensorflow", "keras", "pandas", "numpy", "scikit-learn", "quantstats", "yfinance")
_COLUMNS = {
    "forecasts.csv": ["target_date", "origin_date", "forecast", "actual", "naive", "fold"],
    "folds.csv": ["fold", "train_start", "train_end", "test_start", "test_end", "n_train", "epochs", "val_loss"],
    "baselines.csv": ["target_date", "naive"],
    "trades.csv": ["date", "action", "size", "price", "value", "commission"],
    "returns.csv": ["date", "strategy", "buy_and_hold", "sma_cross", "benchmark"],
}
_DATES = {"forecasts.csv": ["target_date", "origin_date"], "baselines.csv": ["target_date"], "trades.csv": ["date"],
          "returns.csv": ["date"], "folds.csv": ["train_start", "train_end", "test_start", "test_end"]}  # fmt: skip


@dataclass(frozen=True)
class SavedRun:
    """A run folder read back: run.json's contents and each table (None where the run had none)."""

    folder: Path
    meta: dict[str, Any]
    returns: pd.DataFrame
    trades: pd.DataFrame
    forecasts: pd.DataFrame | None
    folds: pd.DataFrame | None
    baselines: pd.DataFrame | None


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run's numbers depend on."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_metadata(result: Any) -> dict[str, Any]:
    """The contents of run.json for a ``RunResult``: config, provenance, versions and summary."""

    def describe(data: Any) -> dict[str, str]:
        return {"ticker": data.ticker, "source": data.source, "fingerprint": data.fingerprint,
                "first_date": f"{data.first_date:%Y-%m-%d}", "last_date": f"{data.last_date:%Y-%m-%d}"}  # fmt: skip

    return {
        "kind": KIND,
        "format": FORMAT,
        "config": result.config.to_dict(),
        "data": describe(result.prices),
        "benchmark": describe(result.benchmark),
        "period": {"first_day": result.summary["first_day"], "last_day": result.summary["last_day"]},
        "code_version": code_version(),
        "forecasts_from_cache": result.forecasts_from_cache,
        "versions": package_versions(),
        "summary": result.summary,
    }


def write_tables(result: Any, out: Path) -> dict[str, Path]:
    """Write the run's CSV tables and run.json (last, so its presence marks a complete folder)."""
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    tables = {"forecasts.csv": result.forecasts, "folds.csv": result.folds, "baselines.csv": result.baselines,
              "trades.csv": result.strategy.fills}  # fmt: skip
    for name, table in tables.items():
        if table is not None:
            write_csv(table, out / name, index=False)
            paths[name] = out / name
    write_csv(result.returns, out / "returns.csv")
    paths["returns.csv"] = out / "returns.csv"
    write_json(out / "run.json", run_metadata(result))
    paths["run.json"] = out / "run.json"
    return paths


def _read_table(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    try:
        frame = pd.read_csv(path, parse_dates=_DATES[name], float_precision="round_trip")
    except FileNotFoundError:
        raise DataError(f"{path}: missing; rerun `bt run` to recreate the run folder.") from None
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable ({' '.join(str(exc).split())[:120]}).") from None
    missing = [c for c in _COLUMNS[name] if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: not a bt-lstm table (missing columns {', '.join(missing)}).")
    for col in _DATES[name]:
        if not pd.api.types.is_datetime64_any_dtype(frame[col]):
            raise DataError(f"{path}: column {col} holds values that are not dates; the file is damaged.")
    return frame


def load_run(folder: Path) -> SavedRun:
    """Read and check a run folder written by ``write_tables``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such run folder.")
    meta_path = folder / "run.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{meta_path}: missing; {folder} is not a complete run folder.") from None
    except (ValueError, UnicodeDecodeError):
        raise DataError(f"{meta_path}: not valid JSON (truncated or damaged); rerun `bt run`.") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise DataError(f"{meta_path}: not a bt-lstm run file.")
    if meta.get("format") != FORMAT:
        raise DataError(f"{meta_path}: written by another version (format {meta.get('format')}, "
                        f"this version reads {FORMAT}); rerun `bt run`.")  # fmt: skip
    returns = _read_table(folder, "returns.csv").set_index("date")
    trades = _read_table(folder, "trades.csv")
    has_forecasts = "forecast_rmse" in meta.get("summary", {})
    forecasts, folds, baselines = (
        (_read_table(folder, n) for n in ("forecasts.csv", "folds.csv", "baselines.csv"))
        if has_forecasts else (None, None, None)
    )  # fmt: skip
    if forecasts is not None and len(forecasts) != len(returns):
        raise DataError(f"{folder / 'forecasts.csv'}: {len(forecasts)} rows but returns.csv has "
                        f"{len(returns)}; the folder is damaged, rerun `bt run`.")  # fmt: skip
    return SavedRun(folder, meta, returns, trades, forecasts, folds, baselines)
