"""A portfolio run, as a pure function of its config and its data.

``run_portfolio`` loads every ticker's prices, takes (or computes) each one's walk-forward
forecasts over one period, and backtests, over exactly the same days and with the same broker,
the top-k rule on the model's forecasts and its comparisons: the equal-weight buy-and-hold of the
universe (rebalanced monthly), the same rule on the naive and the ridge baselines' forecasts and
on 12-1 month momentum, and the benchmark. It reads no file but prices and the forecast cache.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting import resolve_period
from reports.evaluation import forecast_metrics
from reports.summaries import Coverage, PortfolioSummary

from ..cache import ForecastCache
from ..data import PriceData, benchmark_prices, benchmark_returns, load_prices, membership_mask
from ..engine import BacktestResult
from ..errors import DataError
from ..runner import Executor
from . import panel as pn
from . import rules as bts
from .config import PortfolioConfig
from .forecasts import OnTicker, TickerForecasts, all_forecasts

Notify = Callable[[str], None]


@dataclass(frozen=True)
class PortfolioResult:
    """Everything a portfolio run produced.

    ``returns``: one column per rule (``strategy``, ``equal_weight``, ``topk_naive``,
    ``topk_ridge``, ``momentum``) and ``benchmark``; ``runs``: each rule's backtest;
    ``tickers``: the per-ticker table (forecast accuracy, or why it was left out).
    """

    config: PortfolioConfig
    universe: dict[str, Any] | None
    prices: dict[str, PriceData]
    benchmark: PriceData
    forecasts: dict[str, TickerForecasts]
    runs: dict[str, BacktestResult]
    returns: pd.DataFrame
    tickers: pd.DataFrame
    summary: PortfolioSummary

    @property
    def strategy(self) -> BacktestResult:
        """The top-k rule's backtest on the model's forecasts."""
        return self.runs["strategy"]

    def save(self, out: Path | str, *, report: bool = True, overwrite: bool = False, draw: Any = None
             ) -> dict[str, Path]:  # fmt: skip
        """Write the run folder (tables, run.json, report.html, tearsheet.html), whole or not at all;
        ``draw(fn, *args)`` draws the tearsheet elsewhere meanwhile (e.g. ``ExecutorSession.draw``)."""
        from ..runfolder import write_folder
        from .folder import portfolio_contents

        return write_folder(portfolio_contents(self), Path(out), report=report, overwrite=overwrite, draw=draw)


def load_all(config: PortfolioConfig, notify: Notify | None = None) -> tuple[dict[str, PriceData], dict[str, str]]:
    """Every ticker's prices, and why each ticker that has none was left out."""
    data, prices, left = config.run.data, {}, {}
    for ticker in config.tickers:
        try:
            prices[ticker] = load_prices(ticker, source=data.source, notify=notify, repair_bars=data.repair_bars)
        except DataError as exc:
            left[ticker] = " ".join(str(exc).split())
    if not prices:
        raise DataError(f"none of the {len(config.tickers)} tickers has prices ({next(iter(left.values()))})")
    return prices, left


def target_days(config: PortfolioConfig, prices: dict[str, PriceData]) -> tuple[dt.date, dt.date]:
    """The first and last target day of the portfolio, on the calendar of all its tickers."""
    days = pn.calendar(prices)
    data = config.run.data
    start, end = (None if d is None else pd.Timestamp(d) for d in (data.start, data.end))
    try:
        first, last = resolve_period(days, config.run.forecast.splitter(), start, end)
    except ValueError as exc:
        raise DataError(f"the portfolio's days ({len(prices)} tickers): {exc}") from None
    return days[first].date(), days[last].date()


def run_portfolio(config: PortfolioConfig, *, universe: dict[str, Any] | None = None,
                  cache: ForecastCache | None = None, executor: Executor | None = None, notify: Notify | None = None,
                  on_ticker: OnTicker | None = None) -> PortfolioResult:  # fmt: skip
    """Forecast every ticker, backtest the rule and its comparisons, and summarise.

    ``executor`` (the command's ``ExecutorSession``; None: this process) runs the forecasts the cache does
    not hold, one task per ticker whose tables come back, and then the rules' backtests side by side.
    """
    prices, left = load_all(config, notify)
    period = target_days(config, prices)
    forecasts, failed = all_forecasts(config, prices, period, cache=cache, executor=executor, notify=notify,
                                      on_ticker=on_ticker)  # fmt: skip
    left.update(failed)
    if not forecasts:
        raise DataError(f"no ticker has forecasts over {period[0]} to {period[1]} ({next(iter(failed.values()))})")
    used = {t: prices[t] for t in sorted(forecasts)}
    days = pn.calendar(used)
    dates = days[days.searchsorted(pd.Timestamp(period[0])) - 1 : days.searchsorted(pd.Timestamp(period[1])) + 1]
    member = membership_mask(list(used), dates) if config.membership else None
    runs = bts.run_rules(config, used, forecasts, dates, member, executor=executor)
    bench = benchmark_prices(config.run.data, notify=notify)
    returns, summary = bts.compare(runs, benchmark_returns(bench, dates), used, dates, config.run.broker.cash)
    summary = replace(summary, coverage=Coverage(tickers=len(used), left_out=len(left),
                                                 folds=max(f.folds for f in forecasts.values()),
                                                 forecasts_from_cache=sum(f.cached for f in forecasts.values())))
    table = ticker_table(config, forecasts, left, universe)
    return PortfolioResult(config, universe, used, bench, forecasts, runs, returns, table, summary)


def ticker_table(config: PortfolioConfig, forecasts: dict[str, TickerForecasts], left: dict[str, str],
                 universe: dict[str, Any] | None) -> pd.DataFrame:  # fmt: skip
    """One row per ticker of the universe: its forecast accuracy against naive, or why it was left out."""
    rows = []
    for ticker, fc in sorted(forecasts.items()):
        m = forecast_metrics(fc.model)
        rows.append({"ticker": ticker, "status": "used", "folds": fc.folds, "cache_hit": fc.cached, "rmse": m.rmse,
                     "theils_u": m.theils_u, "dm_stat": m.dm_stat, "dm_p_value": m.dm_p_value,
                     "directional_accuracy": m.directional_accuracy,
                     "naive_rmse": m.rmse / m.theils_u if m.theils_u else float("nan"), "n": m.n})  # fmt: skip
    for ticker, why in sorted(left.items()):
        rows.append({"ticker": ticker, "status": f"left out: {why}"})
    for ticker in (universe or {}).get("missing", []):
        rows.append({"ticker": ticker, "status": "left out: no price data"})
    return pd.DataFrame(rows, columns=TICKER_COLUMNS)


TICKER_COLUMNS = ["ticker", "status", "folds", "cache_hit", "rmse", "naive_rmse", "theils_u", "dm_stat", "dm_p_value",
                  "directional_accuracy", "n"]  # fmt: skip
