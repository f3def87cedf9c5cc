"""The portfolio run folder: tables, run.json and the report, written whole or not at all.

Files: ``returns.csv`` (date x rule and benchmark), ``equity.csv`` (date x rule, from the opening
day's starting cash: the daily equity paper trading reproduces), ``weights.csv`` (date x ticker, the strategy's
end-of-day weights), ``trades.csv`` (the strategy's fills with tickers), ``turnover.csv`` (date x
rule), ``tickers.csv`` (each ticker's forecast accuracy, or why it was left out), ``forecasts.csv``
(every ticker's walk-forward, long), ``run.json``, ``report.html`` and ``tearsheet.html``.
``reports.saved`` reads them back; ``bt report`` rebuilds the pages from them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from reports.files import write_csv, write_json
from reports.saved import PORTFOLIO_FORMAT, PORTFOLIO_KIND

from ..cache import code_version
from ..outfolder import check_writable, staged
from ..runfolder import package_versions

FORECAST_COLUMNS = ["ticker", "target_date", "origin_date", "forecast", "actual", "naive", "fold"]


def run_metadata(result: Any) -> dict[str, Any]:
    """The contents of run.json: config, universe, period, provenance, versions and summary."""
    config, bench = result.config, result.benchmark
    return {
        "kind": PORTFOLIO_KIND, "format": PORTFOLIO_FORMAT, "config": config.run.to_dict(),
        "portfolio": config.portfolio_dict(),
        "universe": result.universe,
        "benchmark": {"ticker": bench.ticker, "source": bench.source, "fingerprint": bench.fingerprint},
        "data": {t: {"source": p.source, "first_date": f"{p.first_date:%Y-%m-%d}",
                     "last_date": f"{p.last_date:%Y-%m-%d}"} for t, p in result.prices.items()},
        "period": {"first_day": result.summary.first_day, "last_day": result.summary.last_day},
        "code_version": code_version(config.run.forecast.model), "versions": package_versions(),
        "summary": result.summary.to_dict(),
    }  # fmt: skip


def forecasts_table(result: Any) -> pd.DataFrame:
    """Every ticker's walk-forward forecasts in one long table."""
    parts = [fc.model.assign(ticker=t)[FORECAST_COLUMNS] for t, fc in sorted(result.forecasts.items())]
    return pd.concat(parts, ignore_index=True)


def write_tables(result: Any, out: Path) -> list[str]:
    """Write the tables and run.json (last); the names written."""
    strategy = result.strategy
    turnover = pd.DataFrame({name: run.turnover() for name, run in result.runs.items()})
    turnover.index.name = "date"
    weights = strategy.weights.iloc[1:]
    equity = pd.DataFrame({name: run.equity for name, run in result.runs.items()})
    tables = {"returns.csv": (result.returns, True), "equity.csv": (equity, True), "weights.csv": (weights, True),
              "trades.csv": (strategy.fills, False), "turnover.csv": (turnover, True),
              "tickers.csv": (result.tickers, False), "forecasts.csv": (forecasts_table(result), False)}  # fmt: skip
    for name, (frame, index) in tables.items():
        write_csv(frame, out / name, index=index)
    write_json(out / "run.json", run_metadata(result))
    return [*tables, "run.json"]


def write_portfolio_run(result: Any, out: Path, *, report: bool = True, overwrite: bool = False,
                        draw: Any = None) -> dict[str, Path]:  # fmt: skip
    """The whole run folder, staged and swapped in; an existing run is replaced only with ``overwrite``.
    ``draw``: where the tearsheet is drawn meanwhile (see ``reports.build.build_report``)."""
    check_writable(out, what="run folder", marker="run.json", overwrite=overwrite)
    with staged(out) as stage:
        names = write_tables(result, stage)
        if report:
            from reports.build import build_report

            build_report(stage, draw=draw)
            names += ["report.html", "tearsheet.html"]
    return {name: out / name for name in names}
