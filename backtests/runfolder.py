"""The run folder: a run's tables, run.json and report, written in the format ``reports.saved`` reads.

``bt run`` writes it; ``bt report`` rebuilds the report from it without training. One writer for every kind of
run (``write_folder``: checked, staged, run.json last, the report drawn): a kind gives only its
``FolderContents``, the tables and run.json (one ticker's: ``run_contents``; a ranking's:
``backtests.portfolio.folder.portfolio_contents``).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from reports.files import atomic_write_text, write_csv, write_json
from reports.saved import FORMAT, KIND, SavedRun

from .cache import code_version
from .outfolder import check_writable, staged

if TYPE_CHECKING:
    from reports.build import Draw, Pending

PACKAGES = ("backtrader", "tensorflow", "keras", "pandas", "numpy", "scikit-learn", "quantstats", "yfinance")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run's numbers depend on."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def data_provenance(data: Any, repair_bars: str) -> dict[str, Any]:
    """Where prices came from: ticker, source, sha256, first and last day, the bar repair policy and its count."""
    return {"ticker": data.ticker, "source": data.source, "fingerprint": data.fingerprint,
            "first_date": f"{data.first_date:%Y-%m-%d}", "last_date": f"{data.last_date:%Y-%m-%d}",
            "repair_bars": repair_bars, "repaired_rows": int(getattr(data, "repaired", 0))}  # fmt: skip


def run_metadata(result: Any) -> dict[str, Any]:
    """The contents of run.json for a ``RunResult``: config, provenance, versions and summary."""

    def describe(data: Any) -> dict[str, Any]:
        return data_provenance(data, result.config.data.repair_bars)

    return {
        "kind": KIND,
        "format": FORMAT,
        "config": result.config.to_dict(),
        "data": describe(result.prices),
        "benchmark": describe(result.benchmark),
        "period": {"first_day": result.summary.first_day, "last_day": result.summary.last_day},
        "code_version": code_version(result.config.forecast.model),
        "forecasts_from_cache": result.forecasts_from_cache,
        "versions": package_versions(),
        "summary": result.summary.to_dict(),
    }


Table = tuple[pd.DataFrame | None, bool]  # a CSV's frame (None: not written) and whether its index is written


@dataclass(frozen=True)
class FolderContents:
    """What one kind of run puts in its folder beside the report: its CSV tables, in order, and run.json."""

    tables: dict[str, Table]
    meta: dict[str, Any]


def run_contents(result: Any) -> FolderContents:
    """A single-ticker ``RunResult``'s tables (forecasts, folds, baselines, trades, returns) and run.json."""
    tables: dict[str, Table] = {"forecasts.csv": (result.forecasts, False), "folds.csv": (result.folds, False),
                                "baselines.csv": (result.baselines, False),
                                "trades.csv": (result.strategy.trades, False), "returns.csv": (result.returns, True)}
    return FolderContents(tables, run_metadata(result))  # fmt: skip


def write_tables(contents: FolderContents, out: Path) -> dict[str, Path]:
    """Write the run's CSV tables and run.json (last, so its presence marks a complete folder)."""
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, (table, index) in contents.tables.items():
        if table is not None:
            write_csv(table, out / name, index=index)
            paths[name] = out / name
    write_json(out / "run.json", contents.meta)
    paths["run.json"] = out / "run.json"
    return paths


def write_folder(contents: FolderContents, out: Path, *, report: bool = True, overwrite: bool = False,
                 tearsheet: Pending | None = None, draw: Draw | None = None) -> dict[str, Path]:  # fmt: skip
    """The whole run folder of any kind of run (its tables, run.json, report.html and tearsheet.html), staged
    and swapped in whole or not at all; an existing run is replaced only with ``overwrite``.

    ``tearsheet``: the run's tearsheet already being drawn elsewhere; else ``draw(fn, *args)`` starts it
    elsewhere meanwhile (see ``reports.build.build_report``).
    """
    check_writable(out, what="run folder", marker="run.json", overwrite=overwrite)
    with staged(out) as stage:
        names = list(write_tables(contents, stage))
        if report:
            from reports.build import build_report

            build_report(stage, tearsheet=tearsheet, draw=draw)
            names += ["report.html", "tearsheet.html"]
    return {name: out / name for name in names}


def write_run(result: Any, out: Path, *, report: bool = True, overwrite: bool = False,
              tearsheet: Pending | None = None) -> dict[str, Path]:  # fmt: skip
    """A single-ticker run's folder (``write_folder`` of its ``run_contents``)."""
    return write_folder(run_contents(result), out, report=report, overwrite=overwrite, tearsheet=tearsheet)


def walk_forward_metadata(config: Any, prices: Any, forecasts: pd.DataFrame, cached: bool) -> dict[str, Any]:
    """Provenance of a walk-forward: config, data, period, versions."""
    return {
        "kind": "bt-lstm walk-forward",
        "format": FORMAT,
        "config": config.to_dict(),
        "data": data_provenance(prices, config.data.repair_bars),
        "period": {"first_day": f"{forecasts['target_date'].iloc[0]:%Y-%m-%d}",
                   "last_day": f"{forecasts['target_date'].iloc[-1]:%Y-%m-%d}"},
        "forecasts_from_cache": cached,
        "versions": package_versions(),
    }  # fmt: skip


def write_walk_forward(run: SavedRun, out: Path, *, overwrite: bool = False) -> dict[str, Path]:
    """``bt walk-forward``'s folder: forecasts, folds, baselines, metrics.json and forecast.html."""
    from reports.forecast_sections import metrics_frame, per_fold_frame
    from reports.page import forecast_page

    table = metrics_frame(run)
    run.meta["metrics"] = table.reset_index().to_dict(orient="records")
    per_fold = per_fold_frame(run)
    for col in ("start", "end"):
        per_fold[col] = per_fold[col].dt.strftime("%Y-%m-%d")
    run.meta["per_fold"] = per_fold.to_dict(orient="records")
    check_writable(out, what="run folder", marker="metrics.json", overwrite=overwrite)
    with staged(out) as stage:
        for name, frame in (("forecasts.csv", run.forecasts), ("folds.csv", run.folds),
                            ("baselines.csv", run.baselines)):  # fmt: skip
            write_csv(frame, stage / name, index=False)
        write_json(stage / "metrics.json", run.meta)
        atomic_write_text(stage / "forecast.html", forecast_page(run))
    names = ("forecasts.csv", "folds.csv", "baselines.csv", "metrics.json", "forecast.html")
    return {name: out / name for name in names}
