"""Each ticker's walk-forward forecasts, from the forecast cache when it has them, on Dask when asked.

Every ticker gets the model's walk-forward (``runner.forecasts_for``, the code and cache keys of
``bt run``) and the naive and ridge baselines' over the same target days (cached the same way).
With an executor, the model's walk-forwards run first as sweep jobs (``sweeps.engine.run_jobs``: a
loopback LocalCluster, an existing cluster or ``sync``); each job fills the shared forecast cache,
from which the tables are then read here, so a ticker's forecasts are the same either way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from forecasting import WalkForwardResult, walk_forward

from ..cache import ForecastCache, forecast_key, series_fingerprint
from ..cache_check import Expected
from ..config import RunConfig
from ..data import PriceData
from ..errors import BtError
from ..runner import target_period
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
    key = forecast_key(fingerprint, config.forecast, close.index[first], close.index[last])
    if cache is not None and (hit := cache.get(key, Expected.of(close, config.forecast, first, last))) is not None:
        return hit, True
    result = walk_forward(close, config.forecast.forecasters(), config.forecast.splitter(), first_target=first,
                          last_target=last)  # fmt: skip
    if cache is not None:
        cache.put(key, result)
    return result, False


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


def all_forecasts(config: PortfolioConfig, prices: dict[str, PriceData], period: tuple[dt.date, dt.date], *,
                  cache: ForecastCache | None, executor: Any = None, notify: Notify | None = None,
                  on_ticker: OnTicker | None = None) -> tuple[dict[str, TickerForecasts], dict[str, str]]:  # fmt: skip
    """Every ticker's forecasts over ``period`` (first and last target day) and, per ticker left out, why.

    ``executor``: None (in this process), or an ``ExecutorSpec`` or scheduler name for Dask.
    """
    configs = {t: config.ticker_run(t, *period) for t in prices}
    failed: dict[str, str] = {}
    if executor is not None:
        failed.update(_on_dask(configs, executor, notify, cache))
    done: dict[str, TickerForecasts] = {}
    for i, (ticker, run_config) in enumerate(configs.items(), 1):
        if ticker not in failed:
            try:
                done[ticker] = ticker_forecasts(run_config, prices[ticker], cache)
            except BtError as exc:
                failed[ticker] = " ".join(str(exc).split())
        if on_ticker is not None:
            on_ticker(i, len(configs), ticker)
    return done, failed


def _on_dask(configs: dict[str, RunConfig], executor: Any, notify: Notify | None,
             cache: ForecastCache | None) -> dict[str, str]:  # fmt: skip
    """Run each ticker's walk-forward as a lean sweep job (filling the shared cache, signed with ``cache``'s key,
    which the jobs are given); the tickers that failed."""
    from ..sweeps.engine import ExecutorSpec, run_jobs
    from ..sweeps.sweeper import as_jobs

    spec = executor if isinstance(executor, ExecutorSpec) else ExecutorSpec(scheduler=str(executor))
    jobs = as_jobs([dataclasses.replace(c, strategy=dataclasses.replace(c.strategy, name="lstm-strategy"))
                    for c in configs.values()])  # fmt: skip
    failed: dict[str, str] = {}

    def on_done(job: Any, outcome: dict[str, Any]) -> None:
        if not outcome.get("ok"):
            failed[job.ticker] = str(outcome.get("error", "failed"))

    run_jobs(jobs, spec, lean=True, on_done=on_done, notify=notify or (lambda _: None),
             key=cache.key if cache is not None else None)  # fmt: skip
    return failed
