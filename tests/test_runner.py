"""A run is a pure function of a picklable config and its data: it can be shipped to a worker."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest

from backtests.config import BrokerConfig, DataConfig, RunConfig, StrategyConfig, forecast_config
from backtests.data import load_prices
from backtests.errors import ConfigError
from backtests.runner import run
from reports.summaries import RunSummary

CONFIG = RunConfig(
    data=DataConfig("MSFT", start=dt.date(2025, 1, 2), end=dt.date(2025, 12, 31)),
    forecast=forecast_config(model="ridge", lookback=20, train_days=250),
    strategy=StrategyConfig(threshold=0.001),
    broker=BrokerConfig(cash=50_000),
)


def _summary(config: RunConfig) -> RunSummary:
    return run(config, load_prices(config.data.ticker), load_prices(config.data.benchmark)).summary


def test_config_pickles_and_compares_equal() -> None:
    assert pickle.loads(pickle.dumps(CONFIG)) == CONFIG
    assert hash(CONFIG) == hash(pickle.loads(pickle.dumps(CONFIG)))


def test_run_in_a_worker_process_equals_run_here() -> None:
    here = _summary(CONFIG)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        there = pool.submit(_summary, CONFIG).result(timeout=300)
    assert there == here
    assert here.first_day == "2025-01-02" and here.last_day == "2025-12-31"
    assert here.performance["strategy"].total_return != here.performance["buy_and_hold"].total_return


def test_returns_cover_exactly_the_forecast_days() -> None:
    prices = load_prices("MSFT")
    result = run(CONFIG, prices, load_prices("SPY"))
    assert list(result.returns.index) == list(result.forecasts["target_date"])
    assert list(result.baselines["target_date"]) == list(result.forecasts["target_date"])
    assert result.strategy.equity.index[0] == pd.Timestamp("2024-12-31")  # the first decision's day
    assert result.strategy.equity.iloc[0] == 50_000


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: BrokerConfig(cash=-1), "`cash`"),
        (lambda: StrategyConfig(size=1.5), "`size`"),
        (lambda: StrategyConfig(threshold=-0.1), "`threshold`"),
        (lambda: DataConfig("AAPL", start=dt.date(2024, 1, 2), end=dt.date(2023, 1, 2)), "after `end`"),
        (lambda: forecast_config(seeds=0), "`seeds`"),
        (lambda: forecast_config(params={"learning_rate": 2.0}), "`learning_rate`"),
    ],
)
def test_invalid_config_values_are_config_errors(make, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        make()


def test_a_period_shorter_than_the_sma_window_still_runs() -> None:
    short = RunConfig(data=DataConfig("AAPL", start=dt.date(2026, 7, 1)), forecast=forecast_config(model="naive"))
    result = run(short, load_prices("AAPL"), load_prices("SPY"))
    assert len(result.returns) == 32  # 2026-07-01 .. 2026-08-14 (3 July a holiday)
    assert (result.returns["sma_cross"] == 0).all()  # fewer bars than its 50-day average: never trades
