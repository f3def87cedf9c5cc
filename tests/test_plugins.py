"""Plugins: a real distribution (tests/plugin_pkg) installed with pip, used through the CLI and the conformance kit.

The session fixture pip-installs ``bt-lstm-test-plugins`` into a temporary folder; each test
here puts that folder on ``sys.path`` and ``PYTHONPATH`` (other test modules do not see the
plugins). It ships the ``ewma`` forecaster, the ``ma-filter`` strategy (with a ``warmup``) and
two broken forecasters: ``broken-name`` (fails to import) and ``no-predict`` (no ``predict``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting import ForecastConfig, Forecaster, registry, resolve_period, walk_forward
from forecasting.testing import check_forecaster

from .conftest import bt

PLUGIN_SOURCE = Path(__file__).parent / "plugin_pkg"
PERIOD = ["--start", "2026-05-01", "--end", "2026-07-31"]
GEOMETRY = ["--source", "bundled", "--train-days", "60", "--lookback", "10", "--retrain-every", "5", "--allow-short"]
EWMA = ["--model", "ewma", "--param", "span=7"]  # not the default span (10), so the --param must reach the model


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/plugin_pkg`` installed by pip into a fresh folder, built from a copy so the tree stays clean."""
    root = tmp_path_factory.mktemp("plugins")
    source, site = root / "source", root / "site"
    shutil.copytree(PLUGIN_SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-input", "--disable-pip-version-check",
           "--target", str(site), str(source)]  # fmt: skip
    errors = []
    for extra in (["--no-build-isolation"], []):  # without the network only the first can build
        done = subprocess.run([*pip, *extra], capture_output=True, text=True, timeout=600)
        if done.returncode == 0:
            return site
        errors.append(done.stderr.strip().splitlines()[-1:])
    pytest.fail(f"pip could not install {PLUGIN_SOURCE}: {errors}")


@pytest.fixture(autouse=True)
def plugins(plugin_site: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The plugins visible in this process (sys.path) and in ``bt`` subprocesses (PYTHONPATH); a private paper dir."""
    monkeypatch.syspath_prepend(str(plugin_site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(plugin_site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("BT_PAPER_DIR", str(tmp_path / "paper"))
    return plugin_site


def assert_one_line_error(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]


def ewma_walk_forward(span: int) -> pd.DataFrame:
    """The walk-forward of the plugin over PERIOD with GEOMETRY, in this process."""
    from backtests.data import load_prices

    config = ForecastConfig(model="ewma", lookback=10, train_days=60, retrain_every=5, params={"span": span})
    assert config.forecaster_class().__module__ == "bt_test_plugins.ewma"
    close = load_prices("AAPL", source="bundled").frame["close"]
    first, last = resolve_period(close.index, config.splitter(), pd.Timestamp(PERIOD[1]), pd.Timestamp(PERIOD[3]))
    return walk_forward(close, config.forecasters(), config.splitter(), first_target=first, last_target=last).forecasts


def assert_forecasts_are(path: Path, expected: pd.DataFrame) -> None:
    saved = pd.read_csv(path, parse_dates=["target_date", "origin_date"])
    assert list(saved["target_date"]) == list(expected["target_date"])
    assert list(saved["origin_date"]) == list(expected["origin_date"])
    assert saved["forecast"].to_numpy().tobytes() == expected["forecast"].to_numpy().tobytes()


# Listing


def test_models_and_strategies_list_builtins_plugins_and_broken_plugins() -> None:
    result = bt("models")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert list(lines)[:5] == ["lstm", "naive", "drift", "moving-average", "ridge"]
    assert all("built-in" in lines[name] for name in list(lines)[:5])
    assert "bt-lstm-test-plugins 0.1.0" in lines["ewma"] and "EWMA of the window's daily log returns" in lines["ewma"]
    assert "broken plugin" in lines["broken-name"]
    assert "fails to import: ImportError: bt_test_plugins.broken is broken on purpose" in lines["broken-name"]
    assert "broken plugin" in lines["no-predict"] and "no predict method" in lines["no-predict"]
    strategies = bt("strategies")
    assert strategies.returncode == 0, strategies.stderr
    assert "ma-filter" in strategies.stdout and "Trade the forecast only with the trend" in strategies.stdout


# bt run and bt walk-forward


def test_run_with_the_plugin_forecaster_trades_its_walk_forward(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = bt("run", "lstm-strategy", "AAPL", *EWMA, *GEOMETRY, *PERIOD, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert_forecasts_are(out / "forecasts.csv", ewma_walk_forward(span=7))
    meta = json.loads((out / "run.json").read_text())
    assert meta["config"]["forecast"]["model"] == "ewma" and meta["config"]["forecast"]["params"] == {"span": 7}
    assert meta["code_version"] == registry.code_identity("ewma")["code"]
    assert len(pd.read_csv(out / "trades.csv")) >= 4


def test_walk_forward_command_with_the_plugin(tmp_path: Path) -> None:
    out = tmp_path / "wf"
    result = bt("walk-forward", "AAPL", *EWMA, *GEOMETRY[:-1], *PERIOD, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert_forecasts_are(out / "forecasts.csv", ewma_walk_forward(span=7))
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["config"]["forecast"]["model"] == "ewma" and meta["config"]["forecast"]["params"] == {"span": 7}
    assert {"naive", "ridge"} <= set(pd.read_csv(out / "baselines.csv").columns)


# Paper trading: replay equals bt run, for a plugin forecaster and for a plugin strategy


def ledger(folder: Path, name: str) -> dict[str, pd.DataFrame]:
    with sqlite3.connect(folder / "paper.db") as conn:
        (eid,) = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
        read = lambda sql: pd.read_sql(sql, conn, params=(eid,))  # noqa: E731
        return {
            "fills": read("SELECT date, action, size, price, value, commission FROM fills "
                          "WHERE experiment_id = ? ORDER BY id"),
            "days": read("SELECT date, equity FROM days WHERE experiment_id = ? ORDER BY step"),
        }  # fmt: skip


def assert_replay_is_the_run(folder: Path, name: str, out: Path) -> pd.DataFrame:
    """The replay's fills and daily equity are ``bt run``'s (the approach of test_paper's parity test)."""
    book, trades = ledger(folder, name), pd.read_csv(out / "trades.csv")
    fills = book["fills"]
    assert len(trades) >= 6 and {"buy", "sell"} <= set(trades["action"])
    assert list(fills["date"]) == list(trades["date"])
    assert list(fills["action"]) == list(trades["action"]) and list(fills["size"]) == list(trades["size"])
    for column in ("price", "value", "commission"):
        np.testing.assert_allclose(fills[column], trades[column], rtol=1e-12, atol=0)
    returns = pd.read_csv(out / "returns.csv", index_col="date")["strategy"]
    days = book["days"].set_index("date")
    assert list(days.index[1:]) == list(returns.index)
    equity = days["equity"].iloc[0] * np.cumprod(1.0 + returns.to_numpy())
    assert np.max(np.abs(days["equity"].iloc[1:].to_numpy() / equity - 1)) < 1e-9
    return trades


@pytest.mark.parametrize(
    ("strategy", "model"),
    [("lstm-strategy", EWMA), ("ma-filter", ["--model", "ridge"])],
    ids=["plugin-forecaster", "plugin-strategy"],
)
def test_paper_replay_gives_the_fills_and_equity_of_bt_run(strategy: str, model: list[str], tmp_path: Path) -> None:
    out, folder = tmp_path / "run", Path(os.environ["BT_PAPER_DIR"])
    run = subprocess.Popen([sys.executable, "-c", _MAIN, "run", strategy, "AAPL", *model, *GEOMETRY, *PERIOD,
                            "--out", str(out), "--no-cache"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)  # fmt: skip
    started = bt("paper", "start", "ref", "--ticker", "AAPL", "--strategy", strategy, *model, *GEOMETRY)
    assert started.returncode == 0, started.stderr
    replayed = bt("paper", "replay", "ref", *PERIOD)
    assert replayed.returncode == 0, replayed.stderr
    _, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    trades = assert_replay_is_the_run(folder, "ref", out)
    # The built-in rule on the same forecasts makes lstm-strategy's trades, and not the plugin's (its own rule ran).
    assert (fill_days(trades) == fill_days(builtin_rule_trades(out))) == (strategy == "lstm-strategy")


def fill_days(fills: pd.DataFrame) -> list[tuple[str, str, int]]:
    return [(f"{pd.Timestamp(d):%Y-%m-%d}", a, int(n)) for d, a, n in zip(*(fills[c] for c in FILL_KEY), strict=True)]


FILL_KEY = ("date", "action", "size")


def builtin_rule_trades(out: Path) -> pd.DataFrame:
    """The fills lstm-strategy makes on the forecasts of the run in ``out``."""
    from backtests.config import BrokerConfig
    from backtests.data import load_prices
    from backtests.engine import run_backtest
    from strategies.feeds import attach_forecasts
    from strategies.lstm_strategy import ForecastStrategy

    forecasts = pd.read_csv(out / "forecasts.csv", parse_dates=["target_date", "origin_date"])
    frame = attach_forecasts(load_prices("AAPL", source="bundled").frame, forecasts)
    params = {"threshold": 0.0, "allow_short": True, "size": 0.95}
    return run_backtest({"T": frame}, ForecastStrategy, params, BrokerConfig()).fills


_MAIN = "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"


# Errors


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (["run", "lstm-strategy", "AAPL", "--model", "broken-name"], ["'broken-name'", "fails to import",
                                                                       "bt-lstm-test-plugins"]),
        (["run", "lstm-strategy", "AAPL", "--model", "no-predict"], ["'no-predict'", "no predict method"]),
        (["walk-forward", "AAPL", "--model", "broken-name"], ["'broken-name'", "fails to import"]),
        (["paper", "start", "x", "--ticker", "AAPL", "--source", "bundled", "--model", "no-predict"],
         ["'no-predict'", "no predict method"]),
        (["run", "lstm-strategy", "AAPL", "--model", "ewma", "--param", "nonsense=1"], ["'nonsense'", "span"]),
        (["paper", "start", "x", "--ticker", "AAPL", "--model", "ewma", "--param", "nonsense=1"], ["'nonsense'"]),
    ],
    ids=["broken-name", "no-predict", "walk-forward-broken", "paper-no-predict", "nonsense-param",
         "paper-nonsense-param"],
)  # fmt: skip
def test_broken_plugins_and_unknown_params_are_one_line_errors(args: list[str], parts: list[str]) -> None:
    assert_one_line_error(bt(*args), *parts)


# The forecast cache key follows the plugin's code

_KEYS = """
import json, pandas as pd, bt_test_plugins
from backtests.cache import forecast_key
from forecasting import ForecastConfig
days = pd.Timestamp("2026-05-01"), pd.Timestamp("2026-07-31")
key = lambda model: forecast_key("prices", ForecastConfig(model=model, lookback=10, train_days=60), *days)
print(json.dumps({"ewma": key("ewma"), "ridge": key("ridge"), "file": bt_test_plugins.__file__}))
"""


def test_forecast_cache_key_changes_when_the_plugin_code_changes(plugin_site: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(plugin_site, site)
    env = {**os.environ, "PYTHONPATH": str(site)}  # only the copy: the module edited below is the one imported

    def keys() -> dict[str, str]:
        done = subprocess.run([sys.executable, "-c", _KEYS], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    before, again = keys(), keys()
    assert before == again and Path(before["file"]).is_relative_to(site)
    module = site / "bt_test_plugins" / "ewma.py"
    module.write_text(module.read_text().replace("SPAN_LIMIT = 1000", "SPAN_LIMIT = 999"))
    after = keys()
    assert after["ewma"] != before["ewma"]
    assert after["ridge"] == before["ridge"]  # a plugin's edit leaves the built-ins' cached forecasts valid


# The conformance kit


@pytest.mark.parametrize(
    ("model", "params"),
    [("naive", {}), ("drift", {}), ("moving-average", {"window": 5}), ("ridge", {"alpha": 0.5}), ("ewma", {"span": 5})],
)
def test_check_forecaster_passes_for_builtins_and_the_plugin(model: str, params: dict[str, object]) -> None:
    check_forecaster(registry.get(model).load(), params)


@pytest.mark.slow
def test_check_forecaster_passes_for_the_lstm() -> None:
    check_forecaster(registry.get("lstm").load(), {"units": (8, 8), "dense": 4, "epochs": 2, "batch_size": 32})


_TAPE: dict[float, float] = {}  # a global "price tape": each close seen -> the close after it


@dataclasses.dataclass
class PeekingForecaster(Forecaster):
    """Answers each window with the next close, read from a global tape that the whole batch fills."""

    name = "peeking"

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        pass

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        _TAPE.clear()
        for window in windows:  # later windows in the batch hold the days after earlier windows' origins
            _TAPE.update(zip(window[:-1], window[1:], strict=True))
        return np.array([_TAPE.get(w[-1], w[-1]) for w in windows])


@dataclasses.dataclass
class NoisyForecaster(Forecaster):
    """Today's close times unseeded noise: a different forecast on every call."""

    name = "noisy"

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        pass

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        return windows[:, -1] * (1 + np.random.default_rng().normal(0.0, 1e-3, len(windows)))


@dataclasses.dataclass
class ForgetfulForecaster(Forecaster):
    """Keeps what it learns in an attribute without the trailing underscore, so to_bytes drops it."""

    name = "forgetful"

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        self.level = float(np.mean(targets / windows[:, -1]))

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        return windows[:, -1] * self.level


@dataclasses.dataclass
class HiddenParamForecaster(Forecaster):
    """get_params leaves out its constructor argument."""

    scale: float = 1.0
    name = "hidden"

    def get_params(self) -> dict[str, object]:
        return {}

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        pass

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        return windows[:, -1] * self.scale


@dataclasses.dataclass
class TwoPerWindowForecaster(Forecaster):
    """Returns two numbers per window."""

    name = "two"

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        pass

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        return np.repeat(windows[:, -1], 2)


def test_check_forecaster_catches_a_peek_at_future_data_through_a_global() -> None:
    with pytest.raises(AssertionError, match=r"PeekingForecaster \('peeking'\): look-ahead: with the prices after"):
        check_forecaster(PeekingForecaster)


def test_check_forecaster_catches_a_non_deterministic_forecaster() -> None:
    with pytest.raises(AssertionError, match=r"NoisyForecaster \('noisy'\): not deterministic"):
        check_forecaster(NoisyForecaster)


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (ForgetfulForecaster, "to_bytes/from_bytes raised AttributeError"),
        (HiddenParamForecaster, r"get_params\(\) must return the constructor arguments \['scale'\]"),
        (TwoPerWindowForecaster, "predict must return one float per window: 10 windows gave shape"),
        (type("Nameless", (), {"fit": len, "predict": len, "get_params": dict}), "Nameless.name must be"),
        (type("Unpredictable", (), {"fit": len, "get_params": dict, "name": "x"}), "no predict method"),
    ],
    ids=["save-load", "get-params", "shape", "name", "no-predict"],
)
def test_check_forecaster_names_the_broken_rule(cls: type, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_forecaster(cls)
