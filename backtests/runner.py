"""One run, as a pure function of its config and its data; and the run folder it writes.

``run`` trains (or reuses cached) walk-forward forecasts, backtests the
strategy, buy-and-hold and the benchmark over exactly the days that have
out-of-sample forecasts, and returns every table. ``write_run`` saves them.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting import WalkForwardResult, resolve_period, walk_forward
from forecasting.walkforward import FoldCallback
from reports.metrics import performance, rmse
from strategies import registry
from strategies.classic import BuyAndHold
from strategies.feeds import attach_forecasts

from .cache import ForecastCache, code_version, forecast_key, series_fingerprint
from .config import RunConfig
from .data import PriceData
from .engine import BacktestResult, run_backtest
from .errors import ConfigError, DataError
from .files import atomic_write_text

PACKAGES = ("backtrader", "tensorflow", "keras", "pandas", "numpy", "scikit-learn", "quantstats", "yfinance")


@dataclass(frozen=True)
class RunResult:
    """Everything a run produced; ``returns`` has strategy, buy_and_hold and benchmark columns."""

    config: RunConfig
    prices: PriceData
    benchmark: PriceData
    forecasts: pd.DataFrame | None
    folds: pd.DataFrame | None
    strategy: BacktestResult
    buy_and_hold: BacktestResult
    returns: pd.DataFrame
    summary: dict[str, Any]
    forecasts_from_cache: bool


def _period(config: RunConfig, prices: PriceData) -> tuple[int, int]:
    index = prices.frame.index
    start = pd.Timestamp(config.data.start) if config.data.start else None
    end = pd.Timestamp(config.data.end) if config.data.end else None
    try:
        return resolve_period(index, config.forecast.splitter(), start, end)
    except ValueError as exc:
        raise DataError(f"{prices.ticker} ({prices.source}): {exc}") from None


def _forecasts(
    config: RunConfig, close: pd.Series, first: int, last: int,
    cache: ForecastCache | None, on_fold: FoldCallback | None,
) -> tuple[WalkForwardResult, bool]:  # fmt: skip
    key = forecast_key(series_fingerprint(close.iloc[: last + 1]), config.forecast,
                       close.index[first], close.index[last])  # fmt: skip
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit, True
    result = walk_forward(close, config.forecast.forecasters(), config.forecast.splitter(),
                          first_target=first, last_target=last, on_fold=on_fold)  # fmt: skip
    if cache is not None:
        cache.put(key, result)
    return result, False


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
    """Forecast, backtest and summarise one run. Reads no files but the cache; writes only to it."""
    try:
        spec = registry.get(config.strategy.name)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None
    first, last = _period(config, prices)
    frame = prices.frame.iloc[first - 1 : last + 1]
    wf, cached = None, False
    if spec.uses_forecast:
        wf, cached = _forecasts(config, prices.frame["close"], first, last, cache, on_fold)
        frame = attach_forecasts(prices.frame, wf.forecasts)
    params = config.strategy.params_for(spec.uses_forecast)
    strategy = run_backtest(frame, spec.load(), params, config.broker)

    hold = run_backtest(frame, BuyAndHold, {"size": config.strategy.size}, config.broker)
    returns = pd.DataFrame({
        "strategy": strategy.returns,
        "buy_and_hold": hold.returns,
        "benchmark": _benchmark_returns(benchmark, frame.index),
    })  # fmt: skip
    returns.index.name = "date"
    summary = _summary(returns, strategy, wf)
    return RunResult(config, prices, benchmark, None if wf is None else wf.forecasts,
                     None if wf is None else wf.folds, strategy, hold, returns, summary, cached)  # fmt: skip


def _summary(returns: pd.DataFrame, strategy: BacktestResult, wf: WalkForwardResult | None) -> dict[str, Any]:
    summary: dict[str, Any] = {col: performance(returns[col]) for col in returns}
    summary["trades"] = len(strategy.fills)
    summary["first_day"] = f"{returns.index[0]:%Y-%m-%d}"
    summary["last_day"] = f"{returns.index[-1]:%Y-%m-%d}"
    summary["days"] = len(returns)
    if wf is not None:
        fc = wf.forecasts
        summary["forecast_rmse"] = rmse(fc["forecast"], fc["actual"])
        summary["naive_rmse"] = rmse(fc["naive"], fc["actual"])
        summary["rmse_ratio"] = summary["forecast_rmse"] / summary["naive_rmse"]
        summary["folds"] = len(wf.folds)
    return summary


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run's numbers depend on."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _csv(frame: pd.DataFrame, path: Path, **kwargs: Any) -> None:
    atomic_write_text(path, frame.to_csv(float_format="%.17g", date_format="%Y-%m-%d", **kwargs))


def run_metadata(result: RunResult) -> dict[str, Any]:
    """The contents of run.json: config, data provenance, versions and summary."""
    def describe(data: PriceData) -> dict[str, str]:
        return {"ticker": data.ticker, "source": data.source, "fingerprint": data.fingerprint,
                "first_date": f"{data.first_date:%Y-%m-%d}", "last_date": f"{data.last_date:%Y-%m-%d}"}  # fmt: skip

    return {
        "format": 1,
        "config": result.config.to_dict(),
        "data": describe(result.prices),
        "benchmark": describe(result.benchmark),
        "period": {"first_day": result.summary["first_day"], "last_day": result.summary["last_day"]},
        "code_version": code_version(),
        "forecasts_from_cache": result.forecasts_from_cache,
        "versions": package_versions(),
        "summary": result.summary,
    }


def write_run(result: RunResult, out: Path, *, report: bool = True) -> dict[str, Path]:
    """Write the run folder. Each file is replaced atomically; run.json is written last."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("forecasts.csv", "trades.csv", "returns.csv", "run.json")}
    if result.forecasts is not None:
        _csv(result.forecasts, paths["forecasts.csv"], index=False)
        _csv(result.folds, out / "folds.csv", index=False)
        paths["folds.csv"] = out / "folds.csv"
    else:
        del paths["forecasts.csv"]
    _csv(result.strategy.fills, paths["trades.csv"], index=False)
    _csv(result.returns, paths["returns.csv"])
    if report:
        from reports.tearsheet import write_tearsheet

        cfg = result.config
        title = (f"{result.prices.ticker} {cfg.strategy.name} "
                 f"{result.summary['first_day']} to {result.summary['last_day']}")  # fmt: skip
        paths["report.html"] = write_tearsheet(
            result.returns["strategy"], result.returns["benchmark"], out / "report.html", title=title
        )
    meta = json.dumps(run_metadata(result), indent=2, default=_json_default, allow_nan=True)
    atomic_write_text(paths["run.json"], meta + "\n")
    return paths


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
