"""One run, as a pure function of its config and its data.

``run`` trains (or reuses cached) walk-forward forecasts and the baselines'
forecasts, backtests the strategy, buy-and-hold and an SMA crossover, and
takes the benchmark's returns, all over exactly the days that have
out-of-sample forecasts. It reads no file but the forecast cache and writes
nothing else; ``backtests.runfolder`` saves what it returns.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from forecasting import WalkForwardResult, resolve_period, walk_forward
from forecasting.walkforward import FoldCallback
from reports.evaluation import forecast_metrics, strategy_psr
from reports.metrics import performance, rmse
from strategies import registry
from strategies.classic import BuyAndHold, SmaCross
from strategies.feeds import attach_forecasts

from .cache import ForecastCache, forecast_key, series_fingerprint
from .config import RunConfig
from .data import PriceData
from .engine import FILL_COLUMNS, BacktestResult, run_backtest
from .errors import ConfigError, DataError

BASELINES = ("naive", "drift", "moving-average", "ridge")


@dataclass(frozen=True)
class RunResult:
    """Everything a run produced.

    ``returns`` has the columns strategy, buy_and_hold, sma_cross and benchmark;
    ``baselines`` has target_date and one forecast column per baseline.
    """

    config: RunConfig
    prices: PriceData
    benchmark: PriceData
    forecasts: pd.DataFrame | None
    folds: pd.DataFrame | None
    baselines: pd.DataFrame | None
    strategy: BacktestResult
    buy_and_hold: BacktestResult
    returns: pd.DataFrame
    summary: dict[str, Any]
    forecasts_from_cache: bool


def target_period(config: RunConfig, prices: PriceData) -> tuple[int, int]:
    """Positions of the first and last target day, or a one-line DataError."""
    start = pd.Timestamp(config.data.start) if config.data.start else None
    end = pd.Timestamp(config.data.end) if config.data.end else None
    try:
        return resolve_period(prices.frame.index, config.forecast.splitter(), start, end)
    except ValueError as exc:
        raise DataError(f"{prices.ticker} ({prices.source}): {exc}") from None


def forecasts_for(
    config: RunConfig, close: pd.Series, first: int, last: int,
    cache: ForecastCache | None = None, on_fold: FoldCallback | None = None,
) -> tuple[WalkForwardResult, bool]:  # fmt: skip
    """The walk-forward of ``config.forecast`` (from the cache when it matches) and whether it was cached."""
    key = forecast_key(series_fingerprint(close.iloc[: last + 1]), config.forecast,
                       close.index[first], close.index[last])  # fmt: skip
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit, True
    result = walk_forward(close, config.forecast.forecasters(), config.forecast.splitter(),
                          first_target=first, last_target=last, on_fold=on_fold)  # fmt: skip
    if cache is not None:
        cache.put(key, result)
    return result, False


def baseline_forecasts(config: RunConfig, close: pd.Series, first: int, last: int) -> pd.DataFrame:
    """Every baseline's walk-forward on the same splitter and days (cheap: no network to train)."""
    columns: dict[str, Any] = {}
    for name in BASELINES:
        cfg = dataclasses.replace(config.forecast, model=name, seeds=1)
        wf = walk_forward(close, cfg.forecaster(), cfg.splitter(), first_target=first, last_target=last)
        columns.setdefault("target_date", wf.forecasts["target_date"])
        columns[name] = wf.forecasts["forecast"]
    return pd.DataFrame(columns)


def _benchmark_returns(benchmark: PriceData, dates: pd.DatetimeIndex) -> pd.Series:
    close = benchmark.frame["close"]
    if close.index[0] > dates[0] or close.index[-1] < dates[-1]:
        raise DataError(
            f"benchmark {benchmark.ticker} ({benchmark.source}) runs {close.index[0]:%Y-%m-%d} to "
            f"{close.index[-1]:%Y-%m-%d} and does not cover {dates[0]:%Y-%m-%d} to "
            f"{dates[-1]:%Y-%m-%d}; pass another --benchmark."
        )
    aligned = close.reindex(close.index.union(dates)).ffill().reindex(dates)
    return aligned.pct_change().iloc[1:].rename(benchmark.ticker)


def run(
    config: RunConfig,
    prices: PriceData,
    benchmark: PriceData,
    *,
    cache: ForecastCache | None = None,
    on_fold: FoldCallback | None = None,
) -> RunResult:
    """Forecast, backtest and summarise one run."""
    try:
        spec = registry.get(config.strategy.name)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None
    first, last = target_period(config, prices)
    close = prices.frame["close"]
    frame = prices.frame.iloc[first - 1 : last + 1]
    wf, cached, baselines = None, False, None
    if spec.uses_forecast:
        wf, cached = forecasts_for(config, close, first, last, cache, on_fold)
        baselines = baseline_forecasts(config, close, first, last)
        frame = attach_forecasts(prices.frame, wf.forecasts)
    size = config.strategy.size
    strategy = run_backtest(frame, spec.load(), config.strategy.params_for(spec.uses_forecast), config.broker)
    hold = run_backtest(frame, BuyAndHold, {"size": size}, config.broker)
    sma = _sma_cross(frame, size, config)
    returns = pd.DataFrame({
        "strategy": strategy.returns,
        "buy_and_hold": hold.returns,
        "sma_cross": sma.returns,
        "benchmark": _benchmark_returns(benchmark, frame.index),
    })  # fmt: skip
    returns.index.name = "date"
    summary = summarise(returns, len(strategy.fills), None if wf is None else wf.forecasts)
    if wf is not None:
        summary["folds"] = len(wf.folds)
    return RunResult(config, prices, benchmark, None if wf is None else wf.forecasts,
                     None if wf is None else wf.folds, baselines, strategy, hold, returns, summary, cached)  # fmt: skip


def _sma_cross(frame: pd.DataFrame, size: float, config: RunConfig) -> BacktestResult:
    """The SMA crossover over the same bars; over fewer bars than its slow average it never trades."""
    if len(frame) > SmaCross.params.slow:
        return run_backtest(frame, SmaCross, {"size": size}, config.broker)
    flat = pd.Series(config.broker.cash, index=frame.index, name="equity")
    return BacktestResult(equity=flat, fills=pd.DataFrame(columns=FILL_COLUMNS))


def summarise(returns: pd.DataFrame, trades: int, forecasts: pd.DataFrame | None) -> dict[str, Any]:
    """Headline figures: performance of each return column, trades, forecast accuracy vs naive, PSR."""
    summary: dict[str, Any] = {col: performance(returns[col]) for col in returns}
    summary.update(strategy_psr(returns["strategy"], returns["buy_and_hold"]))
    summary["trades"] = trades
    summary["first_day"] = f"{returns.index[0]:%Y-%m-%d}"
    summary["last_day"] = f"{returns.index[-1]:%Y-%m-%d}"
    summary["days"] = len(returns)
    if forecasts is not None:
        metrics = forecast_metrics(forecasts)
        summary["forecast_rmse"] = metrics["rmse"]
        summary["naive_rmse"] = rmse(forecasts["naive"], forecasts["actual"])
        summary["rmse_ratio"] = metrics["theils_u"]
        summary["dm_p_value"] = metrics["dm_p_value"]
    return summary
