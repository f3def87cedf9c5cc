"""Strategy parameters: ``[strategy.params]`` and ``--strategy-param``, checked against the strategy class before any
work, typed by the defaults, stored only when given; warm-up derived from them; a plugin strategy that does not
declare ``threshold``/``allow_short`` runs; ``bt strategies`` and ``bt models`` list parameters and defaults."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from backtests.config import BrokerConfig, DataConfig, RunConfig, StrategyConfig
from backtests.config.layers import read_config_file, resolve
from backtests.engine import run_backtest
from backtests.errors import ConfigError
from backtests.strategy_setup import choose
from strategies.classic import SmaCross
from strategies.lstm_strategy import ForecastStrategy
from strategies.params import ParamError, coerce, configured
from strategies.params import resolve as resolve_params

from .conftest import BUNDLED, bt

FIXTURES = Path(__file__).parent / "fixtures"
TINY = ["--source", "bundled", "--start", "2026-06-01", "--train-days", "60", "--lookback", "10",
        "--retrain-every", "10"]  # fmt: skip


def assert_one_line_error(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]


# Values typed by the parameter's default


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [("10", 20, 10), (7, 20, 7), ("0.5", 0.95, 0.5), (1, 0.95, 1.0), ("true", False, True), ("False", True, False),
     ("equal", "x", "equal"), ("3", None, 3), ("0.25", None, 0.25), ("inverse", None, "inverse")],
)  # fmt: skip
def test_a_value_is_read_by_the_type_of_its_default(value: object, default: object, expected: object) -> None:
    got = coerce("p", value, default)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("value", "default", "message"),
    [("1.5", 20, "must be an integer. Got '1.5'"), (True, 20, "must be an integer. Got True"),
     (2.0, 20, "must be an integer"), ("yes", False, "must be true or false"), (1, False, "must be true or false"),
     ("abc", 0.5, "must be a number"), (float("nan"), 0.5, "must be a number"), (5, "x", "must be a string"),
     ("", 20, "'p' has no value")],
)  # fmt: skip
def test_an_ill_typed_or_missing_value_is_refused(value: object, default: object, message: str) -> None:
    with pytest.raises(ParamError, match=message):
        coerce("p", value, default)


def test_resolve_gives_every_parameter_and_refuses_an_unknown_one() -> None:
    assert resolve_params(SmaCross, {"fast": "5"}, strategy="sma-cross") == {"fast": 5, "slow": 50, "size": 0.95}
    with pytest.raises(ParamError, match="strategy 'sma-cross' has no parameter 'period'; its parameters: fast, slow"):
        resolve_params(SmaCross, {"period": 3}, strategy="sma-cross")
    with pytest.raises(ValueError, match="fast period must be below its slow one. Got fast=50, slow=50"):
        resolve_params(SmaCross, {"fast": 50}, strategy="sma-cross")


# The config: stored only when given, old configs load, errors name where the value came from


def test_params_are_typed_and_stored_only_when_given() -> None:
    given = StrategyConfig("sma-cross", params={"slow": "30", "fast": 5})
    assert given.params == (("fast", 5), ("slow", 30)) and given.given_params() == {"fast": 5, "slow": 30}
    config = RunConfig(DataConfig("AAPL"), strategy=given)
    assert config.to_dict()["strategy"]["params"] == {"fast": 5, "slow": 30}
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))).strategy == given
    assert "params" not in RunConfig(DataConfig("AAPL")).to_dict()["strategy"]  # a default run's run.json unchanged


def test_saved_configs_without_params_still_load() -> None:
    for path in sorted(FIXTURES.rglob("run.json")):
        stored = json.loads(path.read_text())["config"]
        assert "params" not in stored["strategy"]
        assert RunConfig.from_dict(stored).strategy.params == ()
        assert read_config_file(path)["strategy"].get("params") is None


@pytest.mark.parametrize(
    ("strategy", "params", "message"),
    [("sma-cross", {"period": 3}, "has no parameter 'period'"), ("sma-cross", {"fast": "x"}, "must be an integer"),
     ("lstm-strategy", {"threshold": 0.1}, "`threshold` is a [strategy] setting"),
     ("no-such", {"k": 1}, "unknown strategy 'no-such'")],
)  # fmt: skip
def test_a_bad_param_is_a_config_error(strategy: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        StrategyConfig(strategy, params=params)


def test_a_bad_param_in_a_config_file_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    head = '[data]\nticker = "AAPL"\n[strategy]\nname = "sma-cross"\n[strategy.params]\nslow = 30\n'
    path.write_text(head + 'fast = "a"\n')
    with pytest.raises(ConfigError, match=r"run.toml: \[strategy.params\] fast = 'a': strategy parameter 'fast' must"):
        resolve([("file", {}), (f"file {path}", read_config_file(path))])
    path.write_text(head)
    resolved = resolve([(f"file {path}", read_config_file(path))])
    assert resolved.config.strategy.given_params() == {"slow": 30}
    assert resolved.sources["strategy.params.slow"] == f"file {path}"


# What the strategy gets: shared settings only when declared, own params, a derived warm-up


def test_the_default_strategies_get_what_they_got_before() -> None:
    chosen = choose(StrategyConfig())
    assert chosen.cls is ForecastStrategy
    assert chosen.params == {"threshold": 0.0, "allow_short": False, "size": 0.95}
    sma = choose(StrategyConfig("sma-cross", size=0.5))
    assert sma.cls is SmaCross and sma.params == {"size": 0.5}


def test_the_warmup_follows_the_periods() -> None:
    assert SmaCross.warmup == 49
    chosen = choose(StrategyConfig("sma-cross", params={"fast": 5, "slow": 15}))
    assert chosen.cls.warmup == 14 and chosen.cls.params.slow == 15 and chosen.cls.__name__ == "SmaCross"
    assert chosen.params == {"fast": 5, "slow": 15, "size": 0.95}
    assert configured(SmaCross, {"fast": 5, "slow": 15}) is chosen.cls  # made once: paper wrappers are cached
    assert configured(SmaCross, {}) is SmaCross


def test_a_shared_setting_the_strategy_does_not_take_is_refused_for_new_runs_only() -> None:
    config = StrategyConfig("sma-cross", threshold=0.01)
    with pytest.raises(ConfigError, match="strategy 'sma-cross' takes no `threshold`"):
        choose(config)
    assert choose(config, strict=False).params == {"size": 0.95}  # a stored experiment steps as it did


def test_paper_replay_with_params_trades_as_the_backtest(tmp_path: Path) -> None:
    from backtests import paper

    params = {"fast": 5, "slow": 15}
    config = RunConfig(DataConfig("AAPL", source="bundled"), strategy=StrategyConfig("sma-cross", params=params))
    paper.start("x", config, folder=tmp_path)
    paper.replay("x", start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31), folder=tmp_path)
    bars = pd.read_csv(BUNDLED / "AAPL.csv", parse_dates=["date"], index_col="date").loc["2024-12-31":"2025-12-31"]
    backtest = run_backtest({"T": bars}, SmaCross, {**params, "size": 0.95}, BrokerConfig())
    import sqlite3

    with sqlite3.connect(tmp_path / "paper.db") as db:
        fills = pd.read_sql("SELECT date, size, price FROM fills ORDER BY id", db)
        equity = pd.read_sql("SELECT equity FROM days ORDER BY step", db)["equity"]
    assert len(backtest.fills) >= 10 and len(fills) == len(backtest.fills)
    assert fills["price"].tolist() == backtest.fills["price"].tolist()
    assert equity.tolist() == backtest.equity.tolist()


# The command line


def test_run_with_strategy_params(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = bt("run", "sma-cross", "AAPL", "--source", "bundled", "--start", "2025-01-01", "--end", "2025-12-31",
                "--strategy-param", "fast=5", "--strategy-param", "slow=15", "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "run.json").read_text())["config"]["strategy"]["params"] == {"fast": 5, "slow": 15}
    bars = pd.read_csv(BUNDLED / "AAPL.csv", parse_dates=["date"], index_col="date").loc["2024-12-31":"2025-12-31"]
    expected = run_backtest({"T": bars}, SmaCross, {"fast": 5, "slow": 15, "size": 0.95}, BrokerConfig()).fills
    trades = pd.read_csv(out / "trades.csv")
    assert trades["price"].tolist() == expected["price"].tolist()
    default = run_backtest({"T": bars}, SmaCross, {"size": 0.95}, BrokerConfig()).fills
    assert len(trades) != len(default)  # the periods reached the strategy


@pytest.mark.parametrize(
    ("args", "parts"),
    [(["run", "sma-cross", "AAPL", "--strategy-param", "fast=abc"], ["'fast' must be an integer. Got 'abc'"]),
     (["run", "lstm-strategy", "AAPL", "--strategy-param", "period=3"], ["no parameter 'period'"]),
     (["run", "sma-cross", "AAPL", "--strategy-param", "fast"], ["--strategy-param 'fast' is not KEY=VALUE"]),
     (["run", "sma-cross", "AAPL", "--threshold", "0.01"], ["takes no --threshold"]),
     (["signal", "AAPL", "--strategy", "sma-cross", "--strategy-param", "slow=1.5"], ["'slow' must be an integer"]),
     (["paper", "start", "x", "--ticker", "AAPL", "--strategy", "sma-cross", "--strategy-param", "fast=90"],
      ["fast period must be below its slow one"]),
     (["sweep", "sma-cross", "--tickers", "AAPL", "--strategy-param", "nope=1"], ["no parameter 'nope'"])],
    ids=["ill-typed", "unknown", "no-value", "not-taken", "signal", "paper-start", "sweep"],
)  # fmt: skip
def test_bad_strategy_params_are_one_line_before_any_work(args: list[str], parts: list[str], tmp_path: Path) -> None:
    result = bt(*args, "--source", "bundled", cwd=tmp_path)
    assert_one_line_error(result, *parts)
    assert "training" not in result.stderr and not list(tmp_path.iterdir())  # nothing trained, no folder written


def test_config_show_lists_the_strategy_params_and_their_sources() -> None:
    result = bt("config", "show", "--ticker", "AAPL", "--strategy", "sma-cross", "--strategy-param", "fast=10")
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("[strategy.params]\n")[1].split("\n\n")[0].splitlines()
    assert table == ["fast = 10  # command line", "slow = 50  # default (sma-cross)"]


def test_strategies_and_models_list_params_with_defaults() -> None:
    strategies = bt("strategies")
    assert strategies.returncode == 0, strategies.stderr
    lines = {line.split()[0]: line for line in strategies.stdout.splitlines()}
    assert lines["sma-cross"].endswith("[params: fast=20, slow=50; --size 0.95]")
    assert "k=5, weighting='equal', n_drop=None, max_turnover=None; --threshold 0.0, --size 0.95" in lines[
        "topk-strategy"]  # fmt: skip
    models = bt("models")
    assert models.returncode == 0, models.stderr
    lines = {line.split()[0]: line for line in models.stdout.splitlines()}
    assert lines["ridge"].endswith("[params: alpha=1.0]") and lines["naive"].endswith("[params: none]")
    assert "units=(64, 64)" in lines["lstm"] and "seed=" not in lines["lstm"]


# A plugin strategy with parameters of its own and no threshold/allow_short


PLUGIN = '''
import backtrader as bt

class TrendOnly(bt.Strategy):
    """Long while the close is above its PERIOD-day average (reads no forecast setting)."""

    params = (("period", 5),)

    @staticmethod
    def warmup_for(params):
        return params["period"] - 1

    def __init__(self):
        self.above = self.data.close > bt.indicators.SMA(self.data.close, period=self.p.period)

    def next(self):
        if self.above[0] and not self.position:
            self.order_target_percent(target=0.5)
        elif not self.above[0] and self.position:
            self.order_target_percent(target=0.0)
'''


@pytest.fixture()
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A plugin strategy ``trend-only`` found through its entry point (a dist-info folder beside its module)."""
    site = tmp_path / "site"
    (site / "bt_trend_plugin.py").parent.mkdir(parents=True)
    (site / "bt_trend_plugin.py").write_text(PLUGIN)
    info = site / "bt_trend_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bt-trend-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bt_lstm.strategies]\ntrend-only = bt_trend_plugin:TrendOnly\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    return site


def test_a_plugin_strategy_without_threshold_runs_with_its_own_params(plugin_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = bt("run", "trend-only", "AAPL", *TINY, "--model", "naive", "--strategy-param", "period=3",
                "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "run.json").read_text())["config"]["strategy"]["params"] == {"period": 3}
    assert len(pd.read_csv(out / "trades.csv")) >= 1
    refused = bt("run", "trend-only", "AAPL", *TINY, "--model", "naive", "--allow-short", cwd=tmp_path)
    assert_one_line_error(refused, "strategy 'trend-only' takes no --allow-short", "period")
    assert "training" not in refused.stderr
    listed = bt("strategies")
    assert "trend-only" in listed.stdout and "[params: period=5]" in listed.stdout

