"""Each ticker's walk-forward forecasts: from the forecast cache when it has them, else as executor tasks.

Every ticker gets the model's walk-forward (the code and cache keys of ``bt run``) and the naive and
ridge baselines' over the same target days (cached the same way). The tickers the client's cache
holds whole are read here; each other ticker is one task (``ticker_task``) of the command's executor
(``backtests.parallel``: this process, a loopback LocalCluster or a running cluster), which RETURNS
its tables: a worker reads and fills its own forecast cache (its ``BT_CACHE_DIR``, signed with the
client's key), and the client trains nothing, whatever cache the workers share or not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from forecasting import WalkForwardResult, walk_forward
from forecasting.parallel import InProcess, Task

from ..cache import ForecastCache, forecast_key, series_fingerprint
from ..cache_check import Expected
from ..cache_key import CacheKey
from ..config import RunConfig
from ..data import PriceData
from ..errors import BtError
from ..runner import Executor, default_cache, target_period
from .config import PortfolioConfig

COMPARED = ("naive", "ridge")  # the baselines whose forecasts drive the rule as comparisons
Notify = Callable[[str], None]
OnTicker = Callable[[int, int, str], None]


@dataclass(frozen=True)
class TickerForecasts:
    """One ticker's walk-forward table of the model, the baselines' tables, its folds, and whether cached."""

    ticker: str
    model: pd.DataFrame
    baselines: dict[str, pd.DataFrame]
    folds: int
    cached: bool


def baseline_config(config: RunConfig, name: str) -> RunConfig:
    """``config`` with a baseline's forecaster (one seed): the config ``runner.baseline_forecasts`` uses too."""
    return dataclasses.replace(config, forecast=config.forecast.replace(model=name, seeds=1))


def cached_walk_forward(config: RunConfig, close: pd.Series, first: int, last: int, fingerprint: str,
                        cache: ForecastCache | None) -> tuple[WalkForwardResult, bool]:  # fmt: skip
    """``runner.forecasts_for`` with the prices' fingerprint given (the same key): the walk-forward and if cached."""
    if (hit := _cached(config, close, first, last, fingerprint, cache)) is not None:
        return hit, True
    result = walk_forward(close, config.forecast.forecasters(), config.forecast.splitter(), first_target=first,
                          last_target=last)  # fmt: skip
    if cache is not None:
        cache.put(forecast_key(fingerprint, config.forecast, close.index[first], close.index[last]), result)
    return result, False


def _cached(config: RunConfig, close: pd.Series, first: int, last: int, fingerprint: str,
            cache: ForecastCache | None) -> WalkForwardResult | None:  # fmt: skip
    """The walk-forward of ``config`` that ``cache`` holds and that checks out against ``close``, or None."""
    if cache is None:
        return None
    key = forecast_key(fingerprint, config.forecast, close.index[first], close.index[last])
    return cache.get(key, Expected.of(close, config.forecast, first, last))


def cached_ticker(config: RunConfig, prices: PriceData, cache: ForecastCache) -> TickerForecasts | None:
    """One ticker's forecasts when ``cache`` holds every table ``ticker_forecasts`` would give, else None."""
    try:
        close, (first, last), fingerprint = _series(config, prices)
    except BtError:
        return None  # the task says why
    model = _cached(config, close, first, last, fingerprint, cache)
    if model is None:
        return None
    baselines = {}
    for name in COMPARED:
        if config.forecast.model == name and config.forecast.seeds == 1:
            baselines[name] = model.forecasts
        elif (hit := _cached(baseline_config(config, name), close, first, last, fingerprint, cache)) is not None:
            baselines[name] = hit.forecasts
        else:
            return None
    return TickerForecasts(prices.ticker, model.forecasts, baselines, len(model.folds), True)


def ticker_forecasts(config: RunConfig, prices: PriceData, cache: ForecastCache | None) -> TickerForecasts:
    """The model's and the compared baselines' walk-forwards of one ticker over its config's period."""
    close, (first, last), fingerprint = _series(config, prices)
    wf, cached = cached_walk_forward(config, close, first, last, fingerprint, cache)
    baselines = _baselines(config, close, (first, last), fingerprint, cache, model=wf.forecasts)
    return TickerForecasts(prices.ticker, wf.forecasts, baselines, len(wf.folds), cached)


def baseline_forecasts(config: RunConfig, prices: PriceData, cache: ForecastCache | None) -> dict[str, pd.DataFrame]:
    """Only the compared baselines' walk-forwards of one ticker over its config's period (what paper trading's
    report compares the account with), the same tables ``ticker_forecasts`` gives."""
    close, period, fingerprint = _series(config, prices)
    return _baselines(config, close, period, fingerprint, cache)


def _series(config: RunConfig, prices: PriceData) -> tuple[pd.Series, tuple[int, int], str]:
    """The closes, the positions of the first and last target day, and the fingerprint the cache keys use."""
    first, last = target_period(config, prices)
    close = prices.frame["close"]
    return close, (first, last), series_fingerprint(close.iloc[: last + 1])


def _baselines(config: RunConfig, close: pd.Series, period: tuple[int, int], fingerprint: str,
               cache: ForecastCache | None, model: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:  # fmt: skip
    """Each compared baseline's walk-forward; ``model``, the model's own table, stands for the baseline it is."""
    out = {}
    for name in COMPARED:
        if model is not None and config.forecast.model == name and config.forecast.seeds == 1:
            out[name] = model
        else:
            other = cached_walk_forward(baseline_config(config, name), close, *period, fingerprint, cache)
            out[name] = other[0].forecasts
    return out


def ticker_task(config: RunConfig, prices: PriceData, cache: ForecastCache | CacheKey | None,
                report: Callable[[Any], None]) -> TickerForecasts | str:  # fmt: skip
    """One ticker's forecasts as an executor task, or the one-line reason it has none.

    ``cache``: the client's cache (in this process), the client's key (on a worker: the worker's own
    cache under its ``BT_CACHE_DIR``, signed and checked with that key), or None (no cache)."""
    store = default_cache(cache) if isinstance(cache, CacheKey) else cache
    try:
        return ticker_forecasts(config, prices, store)
    except BtError as exc:
        return " ".join(str(exc).split())


def all_forecasts(config: PortfolioConfig, prices: dict[str, PriceData], period: tuple[dt.date, dt.date], *,
                  cache: ForecastCache | None, executor: Executor | None = None, notify: Notify | None = None,
                  on_ticker: OnTicker | None = None) -> tuple[dict[str, TickerForecasts], dict[str, str]]:  # fmt: skip
    """Every ticker's forecasts over ``period`` (first and last target day) and, per ticker left out, why.

    ``executor`` (the command's ``ExecutorSession``; None: this process) runs the tickers ``cache`` does
    not hold whole, one task each; ``on_ticker(done, total, ticker)`` follows them as each completes.
    """
    configs = {t: config.ticker_run(t, *period) for t in prices}
    found: dict[str, TickerForecasts | str] = {}

    def done(ticker: str, outcome: TickerForecasts | str) -> None:
        found[ticker] = outcome
        if on_ticker is not None:
            on_ticker(len(found), len(configs), ticker)

    for ticker, run_config in configs.items():
        if cache is not None and (hit := cached_ticker(run_config, prices[ticker], cache)) is not None:
            done(ticker, hit)
    missing = [t for t in configs if t not in found]
    runner = (executor.runner(len(missing), spread=True, doing="the portfolio's forecasts were computed")
              if executor is not None else InProcess())  # fmt: skip
    where = cache if isinstance(runner, InProcess) else (cache.key if cache is not None else None)
    tasks = [Task(ticker_task, (configs[t], prices[t], where), f"forecasts-{t}") for t in missing]
    runner.each(tasks, lambda position, outcome: done(missing[position], outcome))
    ok = {t: out for t in configs if isinstance(out := found[t], TickerForecasts)}
    return ok, {t: out for t in configs if isinstance(out := found[t], str)}
