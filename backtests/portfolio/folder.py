"""What a portfolio run puts in its run folder: its tables and run.json (``portfolio_contents``); the folder is
written, whole or not at all, by ``backtests.runfolder.write_folder``, the one writer of every kind of run.

Files: ``returns.csv`` (date x rule and benchmark), ``equity.csv`` (date x rule, from the opening
day's starting cash: the daily equity paper trading reproduces), ``weights.csv`` (date x ticker, the strategy's
end-of-day weights), ``trades.csv`` (the strategy's fills with tickers), ``turnover.csv`` (date x
rule), ``tickers.csv`` (each ticker's forecast accuracy, or why it was left out), ``forecasts.csv``
(every ticker's walk-forward, long), ``run.json``, ``report.html`` and ``tearsheet.html``.
``reports.saved`` reads them back; ``bt report`` rebuilds the pages from them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports.saved import PORTFOLIO_FORMAT, PORTFOLIO_KIND

from ..cache import code_version
from ..runfolder import FolderContents, Table, package_versions

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


def portfolio_contents(result: Any) -> FolderContents:
    """A ``PortfolioResult``'s tables and run.json, for ``backtests.runfolder.write_folder``."""
    strategy = result.strategy
    turnover = pd.DataFrame({name: run.turnover() for name, run in result.runs.items()})
    turnover.index.name = "date"
    weights = strategy.weights.iloc[1:]
    equity = pd.DataFrame({name: run.equity for name, run in result.runs.items()})
    tables: dict[str, Table] = {"returns.csv": (result.returns, True), "equity.csv": (equity, True),
                                "weights.csv": (weights, True), "trades.csv": (strategy.fills, False),
                                "turnover.csv": (turnover, True), "tickers.csv": (result.tickers, False),
                                "forecasts.csv": (forecasts_table(result), False)}  # fmt: skip
    return FolderContents(tables, run_metadata(result))
