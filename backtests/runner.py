"""One run, as a pure function of its config and its data.

``run`` trains (or reuses cached) walk-forward forecasts and the baselines'
forecasts, backtests the strategy, buy-and-hold and an SMA crossover, and
takes the benchmark's returns, all over exactly the days that have
out-of-sample forecasts. Given no prices it loads them from the config (so a
worker needs nothing but the config); it reads no file but the prices and the
forecast cache, and writes nothing else; ``RunResult.save`` writes the run folder.
Given an executor, the walk-forward's independent pieces (ensemble members, folds
without warm start, the baselines) run side by side where it says, with
byte-identical forecasts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from forecasting import ForecastConfig, WalkForwardResult, resolve_period, walk_forward
from forecasting.parallel import InProcess, TaskRunner, WalkForwardPlan, run_plans
from forecasting.walkforward import FoldCallback
from reports.summaries import ForecastAccuracy, Performance, RunSummary
from strategies.classic import BuyAndHold, SmaCross
from strategies.feeds import attach_forecasts
from strategies.params import declared

from .cache import ForecastCache, forecast_key, series_fingerprint
from .cache_check import Expected
from .cache_key import CacheKey
from .config import RunConfig
from .data import PriceData, benchmark_prices, benchmark_returns, default_cache_dir, ticker_prices
from .engine import FILL_COLUMNS, BacktestResult, run_backtest
from .errors import DataError
from .strategy_setup import choose

BASELINES = ("naive", "drift", "moving-average", "ridge")
Notify = Callable[[str], None]
OnStrategy = Callable[[pd.DataFrame], None]


class Executor(Protocol):
    """Picks where a job of ``units`` pieces that could run side by side runs (``backtests.parallel``):
    ``spread`` sends even one piece to a cluster that was asked for; ``start=False`` starts none for a short
    job; ``doing`` names the work in errors."""

    def runner(self, units: int, *, spread: bool = False, start: bool = True, doing: str = ...) -> TaskRunner: ...


@dataclass(frozen=True)
class Forecasts:
    """A run's walk-forward forecasts, per-fold table, the baselines' forecasts, and whether they were cached."""

    forecasts: pd.DataFrame
    folds: pd.DataFrame
    baselines: pd.DataFrame
    from_cache: bool


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
    summary: RunSummary
    forecasts_from_cache: bool

    def save(self, out: Path | str, *, report: bool = True, overwrite: bool = False) -> dict[str, Path]:
        """Write the run folder (tables, run.json, and unless ``report=False`` report.html and tearsheet.html).

        The folder is written whole or not at all; one that holds a run is replaced only with ``overwrite``.
        """
        from .runfolder import write_run

        return write_run(self, Path(out), report=report, overwrite=overwrite)


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
    if cache is not None and (hit := cache.get(key, Expected.of(close, config.forecast, first, last))) is not None:
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
        cfg = config.forecast.replace(model=name, seeds=1)
        wf = walk_forward(close, cfg.forecaster(), cfg.splitter(), first_target=first, last_target=last)
        columns.setdefault("target_date", wf.forecasts["target_date"])
        columns[name] = wf.forecasts["forecast"]
    return pd.DataFrame(columns)


def forecast(config: RunConfig, prices: PriceData, *, cache: ForecastCache | None = None,
             on_fold: FoldCallback | None = None, executor: Executor | None = None) -> Forecasts:  # fmt: skip
    """The model's walk-forward over the config's period and the baselines' over the same days.

    Each is read from ``cache`` when there (the baselines' under the keys ``forecasts_for`` would
    give them) and stored there when computed. Without an ``executor``, or when the model is one
    piece (one member with warm start), they are computed here one after another; otherwise the
    model's pieces and the baselines run as one batch on the executor's runner. Same forecasts.
    """
    first, last = target_period(config, prices)
    close = prices.frame["close"]
    fingerprint = series_fingerprint(close.iloc[: last + 1])
    configs = {"model": config.forecast, **{name: config.forecast.replace(model=name, seeds=1) for name in BASELINES}}
    days = close.index[first], close.index[last]
    keys = {name: forecast_key(fingerprint, cfg, *days) for name, cfg in configs.items()}
    results = _cached(cache, keys, configs, close, (first, last))
    cached = "model" in results
    missing: dict[str, str] = {}
    for name in configs:
        if name not in results:
            missing.setdefault(keys[name], name)  # a baseline as the model is computed once
    computed = _walk_forwards({name: configs[name] for name in missing.values()}, close, first, last,
                              on_fold=on_fold, executor=executor)  # fmt: skip
    for key, name in missing.items():
        if cache is not None:
            cache.put(key, computed[name])
    results.update({name: computed[missing[keys[name]]] for name in configs if name not in results})
    table = pd.DataFrame({"target_date": results[BASELINES[0]].forecasts["target_date"],
                          **{name: results[name].forecasts["forecast"] for name in BASELINES}})  # fmt: skip
    return Forecasts(results["model"].forecasts, results["model"].folds, table, cached)


def _cached(cache: ForecastCache | None, keys: dict[str, str], configs: dict[str, ForecastConfig], close: pd.Series,
            period: tuple[int, int]) -> dict[str, WalkForwardResult]:  # fmt: skip
    """Each config's walk-forward that ``cache`` holds and that checks out against ``close`` (none without a cache)."""
    if cache is None:
        return {}
    found: dict[str, WalkForwardResult | None] = {}
    for name, key in keys.items():  # a baseline that is the model too is one entry, read (and reported) once
        if key not in found:
            found[key] = cache.get(key, Expected.of(close, configs[name], *period))
    return {name: hit for name, key in keys.items() if (hit := found[key]) is not None}


def _walk_forwards(configs: dict[str, ForecastConfig], close: pd.Series, first: int, last: int, *,
                   on_fold: FoldCallback | None, executor: Executor | None,
                   ) -> dict[str, WalkForwardResult]:  # fmt: skip
    """Each config's walk-forward ("model" with its ensemble and progress, baselines with one member)."""
    plans = {name: WalkForwardPlan.of(close, cfg.forecasters() if name == "model" else cfg.forecaster(),
                                      cfg.splitter(), first_target=first, last_target=last)
             for name, cfg in configs.items()}  # fmt: skip
    units = plans["model"].units() if "model" in plans else 0
    runner = executor.runner(units) if executor is not None and units > 1 else InProcess()
    if isinstance(runner, InProcess):  # fold by fold, with progress after each fold
        return {name: walk_forward(close, cfg.forecasters() if name == "model" else cfg.forecaster(), cfg.splitter(),
                                   first_target=first, last_target=last, on_fold=on_fold if name == "model" else None)
                for name, cfg in configs.items()}  # fmt: skip
    names = sorted(plans, key=lambda name: name != "model")  # the model first: progress follows its folds
    results = run_plans([plans[name] for name in names], runner, on_fold if names[0] == "model" else None)
    return dict(zip(names, results, strict=True))


def default_cache(key: CacheKey | None = None) -> ForecastCache:
    """The forecast cache under ``$BT_CACHE_DIR`` (default ``~/.cache/bt-lstm``), signed with ``key``
    (default: this user's, ``cache_key.cache_key()``; a worker is given its client's)."""
    return ForecastCache(default_cache_dir() / "forecasts", key=key)


def run(
    config: RunConfig,
    prices: PriceData | None = None,
    benchmark: PriceData | None = None,
    *,
    cache: ForecastCache | None = None,
    on_fold: FoldCallback | None = None,
    notify: Notify | None = None,
    executor: Executor | None = None,
    on_strategy: OnStrategy | None = None,
) -> RunResult:
    """Forecast, backtest and summarise one run; prices not given are loaded from ``config.data``.

    ``executor`` runs the walk-forward's independent pieces (see ``forecast``). ``on_strategy``
    receives the strategy's and the benchmark's daily returns (the ``strategy`` and ``benchmark``
    columns of ``RunResult.returns``) as soon as they are known, before the other backtests.
    """
    chosen = choose(config.strategy)  # the class and its parameters, checked before any data or training
    prices = prices or ticker_prices(config.data, notify=notify)
    benchmark = benchmark or benchmark_prices(config.data, notify=notify)
    first, last = target_period(config, prices)
    frame = prices.frame.iloc[first - 1 : last + 1]
    fc = None
    if chosen.uses_forecast:
        fc = forecast(config, prices, cache=cache, on_fold=on_fold, executor=executor)
        frame = attach_forecasts(prices.frame, fc.forecasts)
    size = config.strategy.size
    strategy = run_backtest({config.data.ticker: frame}, chosen.cls, chosen.params, config.broker)
    bench = benchmark_returns(benchmark, frame.index)
    if on_strategy is not None:
        on_strategy(_returns(strategy=strategy.returns, benchmark=bench))
    hold = run_backtest({config.data.ticker: frame}, BuyAndHold, {"size": size}, config.broker)
    returns = _returns(strategy=strategy.returns, buy_and_hold=hold.returns,
                       sma_cross=_sma_cross(frame, size, config).returns, benchmark=bench)  # fmt: skip
    summary = summarise(returns, len(strategy.fills), None if fc is None else fc.forecasts,
                        None if fc is None else len(fc.folds))  # fmt: skip
    return RunResult(config, prices, benchmark, fc and fc.forecasts, fc and fc.folds, fc and fc.baselines,
                     strategy, hold, returns, summary, bool(fc and fc.from_cache))  # fmt: skip


def _returns(**columns: pd.Series) -> pd.DataFrame:
    """Daily returns side by side, indexed by ``date``."""
    returns = pd.DataFrame(columns)
    returns.index.name = "date"
    return returns


def _sma_cross(frame: pd.DataFrame, size: float, config: RunConfig) -> BacktestResult:
    """The SMA crossover over the same bars; over fewer bars than its slow average it never trades."""
    if len(frame) > declared(SmaCross)["slow"]:
        return run_backtest({config.data.ticker: frame}, SmaCross, {"size": size}, config.broker)
    flat = pd.Series(config.broker.cash, index=frame.index, name="equity")
    return BacktestResult(equity=flat, fills=pd.DataFrame(columns=FILL_COLUMNS))


def summarise(returns: pd.DataFrame, trades: int, forecasts: pd.DataFrame | None,
              folds: int | None = None) -> RunSummary:  # fmt: skip
    """Headline figures: performance of each return column, trades, forecast accuracy vs naive (over ``folds``
    folds: None where there are none, as in paper trading), PSR."""
    # Imported here: scipy's statistics are needed only now, after the strategy's returns (and a
    # tearsheet started on them elsewhere), not before.
    from reports.evaluation import forecast_metrics, rmse, strategy_psr

    psr = strategy_psr(returns["strategy"], returns["buy_and_hold"])
    accuracy = None
    if forecasts is not None:
        metrics = forecast_metrics(forecasts)
        naive = rmse(forecasts["naive"], forecasts["actual"])
        accuracy = ForecastAccuracy(forecast_rmse=metrics.rmse, naive_rmse=naive, rmse_ratio=metrics.theils_u,
                                    dm_p_value=metrics.dm_p_value, folds=folds)  # fmt: skip
    return RunSummary(performance={col: Performance.of(returns[col]) for col in returns},
                      psr_vs_zero=psr.psr_vs_zero, psr_vs_buy_and_hold=psr.psr_vs_buy_and_hold, trades=trades,
                      first_day=f"{returns.index[0]:%Y-%m-%d}", last_day=f"{returns.index[-1]:%Y-%m-%d}",
                      days=len(returns), forecast=accuracy)  # fmt: skip
