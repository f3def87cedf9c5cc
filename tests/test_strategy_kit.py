"""The strategy conformance kit (``strategies.testing.check_strategy``): every built-in passes, and it catches a
strategy that peeks at later bars, one whose warm-up is too short, one that keeps state across days, one that is
not deterministic, and parameters that do not fit."""

from __future__ import annotations

import random
from pathlib import Path

import backtrader as bt
import pytest

from backtests.config import BrokerConfig
from backtests.engine import run_backtest
from strategies import registry
from strategies.classic import SmaCross
from strategies.testing import check_strategy, default_bars

PLUGIN_SOURCE = Path(__file__).parent / "plugin_pkg"


@pytest.mark.parametrize("name", ["lstm-strategy", "buy-and-hold", "sma-cross"])
def test_every_builtin_strategy_keeps_the_contract(name: str) -> None:
    cls = registry.get(name).load()
    check_strategy(cls)
    # ... and the bars it is checked on make it trade, so the comparisons compare orders.
    assert len(run_backtest({"T": default_bars()}, cls, {}, BrokerConfig()).fills) >= 1


def test_sma_cross_with_its_own_periods_keeps_the_contract() -> None:
    assert len(run_backtest({"T": default_bars()}, SmaCross, {"fast": 5, "slow": 15}, BrokerConfig()).fills) >= 6
    check_strategy(SmaCross, {"fast": 5, "slow": 15})


def test_the_plugin_strategy_keeps_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGIN_SOURCE))
    from bt_test_plugins.strategy import FilteredForecastStrategy

    check_strategy(FilteredForecastStrategy, {"allow_short": True})


class PeekingStrategy(bt.Strategy):
    """Long when tomorrow's close (a bar it must not see) is above today's."""

    params = (("size", 0.95),)

    def next(self) -> None:
        rising = len(self) < self.data.buflen() and self.data.close[1] > self.data.close[0]
        if rising and not self.position:
            self.order_target_percent(target=self.p.size)
        elif not rising and self.position:
            self.order_target_percent(target=0.0)


def test_a_strategy_that_reads_a_later_bar_is_caught() -> None:
    with pytest.raises(AssertionError, match=r"PeekingStrategy looks ahead: with the bars after \S+ (cut off|changed)"):
        check_strategy(PeekingStrategy)


class ShortWarmup(bt.Strategy):
    """Long above a 20-day average, declaring a warm-up of 2 bars (it needs 19)."""

    warmup = 2

    def __init__(self) -> None:
        self.above = self.data.close > bt.indicators.SMA(self.data.close, period=20)

    def next(self) -> None:
        if self.above[0] and not self.position:
            self.order_target_percent(target=0.5)
        elif not self.above[0] and self.position:
            self.order_target_percent(target=0.0)


def test_a_warmup_shorter_than_the_indicators_need_is_caught() -> None:
    with pytest.raises(AssertionError, match=r"ShortWarmup's warm-up \(2 bars\) is too small: .* calls its prenext"):
        check_strategy(ShortWarmup)
    ShortWarmup.warmup = 19  # period - 1: then it passes
    try:
        check_strategy(ShortWarmup)
    finally:
        ShortWarmup.warmup = 2


class EveryTenthDay(bt.Strategy):
    """Trades every tenth day it has seen: a count a paper day, seeing a few bars, cannot know."""

    def __init__(self) -> None:
        self.seen = 0

    def next(self) -> None:
        self.seen += 1
        if self.seen % 10 == 0:
            self.order_target_percent(target=0.0 if self.position else 0.5)


def test_state_kept_across_days_is_caught() -> None:
    with pytest.raises(AssertionError, match=r"EveryTenthDay decides differently in a paper replay: on \S+"):
        check_strategy(EveryTenthDay)


class Coin(bt.Strategy):
    """Buys one share on a coin flip."""

    def next(self) -> None:
        if random.random() < 0.2:
            self.buy(size=1)


def test_a_strategy_that_is_not_deterministic_is_caught() -> None:
    with pytest.raises(AssertionError, match="Coin is not deterministic"):
        check_strategy(Coin)


@pytest.mark.parametrize(
    ("params", "message"),
    [({"period": 3}, "has no parameter 'period'"), ({"fast": "x"}, "'fast' must be an integer"),
     ({"fast": 60}, "fast period must be below its slow one")],
)  # fmt: skip
def test_parameters_that_do_not_fit_are_caught(params: dict[str, object], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_strategy(SmaCross, params)


def test_a_warmup_that_disagrees_with_warmup_for_is_caught() -> None:
    class Longer(SmaCross):
        warmup = 10  # SmaCross.warmup_for gives slow - 1 = 49

    with pytest.raises(AssertionError, match=r"Longer.warmup \(10\) is not warmup_for\(params\) \(49\)"):
        check_strategy(Longer)
    with pytest.raises(AssertionError, match="is not a backtrader.Strategy subclass"):
        check_strategy(int)


def test_listed_params_read_from_source_are_those_of_the_classes() -> None:
    from strategies.params import declared

    for spec in [*registry.available().values(), *registry.PORTFOLIO]:
        assert registry.params(spec) == declared(spec.load()), spec.name
