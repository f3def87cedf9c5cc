"""Config files: precedence (defaults < file < command line) with sources, ``bt config show``
round trips, ``--config run.json`` reproducing a run, and one-line errors naming the file, key and value."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.cli import options
from backtests.config import BrokerConfig, DataConfig, StrategyConfig
from backtests.config.layers import read_config_file
from backtests.errors import ConfigError
from forecasting import ForecastConfig

from .conftest import BUNDLED, bt
from .test_cli import assert_one_line_error

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
RIDGE = ["--model", "ridge", "--start", "2026-06-01", "--train-days", "120", "--lookback", "20"]
RIDGE_TOML = """\
[data]
ticker = "AAPL"
start = 2026-06-01

[forecast]
model = "ridge"
train_days = 120
lookback = 20
"""


def toml(value: Any) -> str:
    """One TOML value, written independently of ``backtests.config.toml``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return json.dumps(value)


def write_toml(path: Path, tables: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for table, items in tables.items():
        lines += [f"[{table}]", *(f"{key} = {toml(value)}" for key, value in items.items()), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --- precedence, as a property -------------------------------------------------------------------

dates = st.dates(dt.date(2015, 1, 1), dt.date(2020, 12, 31))
fraction = st.floats(0, 0.05, allow_nan=False, allow_infinity=False)
# option name -> (table, key, values); model params live in [forecast.params].
SETTINGS: dict[str, tuple[str, str, st.SearchStrategy[Any]]] = {
    "ticker": ("data", "ticker", st.sampled_from(["aapl", "MSFT", "Spy", "QQQ"])),
    "source": ("data", "source", st.sampled_from(["auto", "bundled", "yahoo"])),
    "start": ("data", "start", dates),
    "end": ("data", "end", st.dates(dt.date(2021, 1, 1), dt.date(2026, 8, 1))),  # always after any start
    "benchmark": ("data", "benchmark", st.sampled_from(["SPY", "qqq", "MSFT"])),
    "lookback": ("forecast", "lookback", st.integers(2, 90)),
    "train_days": ("forecast", "train_days", st.integers(100, 1500)),
    "retrain_every": ("forecast", "retrain_every", st.integers(1, 60)),
    "window": ("forecast", "window", st.sampled_from(["rolling", "expanding"])),
    "seed": ("forecast", "seed", st.integers(0, 10_000)),
    "seeds": ("forecast", "seeds", st.integers(1, 5)),
    "strategy": ("strategy", "name", st.sampled_from(["lstm-strategy", "buy-and-hold", "sma-cross"])),
    "threshold": ("strategy", "threshold", fraction),
    "allow_short": ("strategy", "allow_short", st.booleans()),
    "size": ("strategy", "size", st.floats(0.05, 1, allow_nan=False)),
    "cash": ("broker", "cash", st.one_of(st.integers(1, 10**7), st.floats(1, 1e7, allow_nan=False))),
    "commission": ("broker", "commission", fraction),
    "slippage": ("broker", "slippage", fraction),
}
PARAMS: dict[str, st.SearchStrategy[Any]] = {
    "epochs": st.integers(1, 50),  # these five are also CLI shortcut options (--epochs ...)
    "warm_epochs": st.integers(1, 5),
    "warm_start": st.booleans(),
    "batch_size": st.integers(1, 256),
    "learning_rate": st.floats(1e-5, 0.5, allow_nan=False),
    "units": st.lists(st.integers(1, 128), min_size=2, max_size=2),  # only through --param KEY=VALUE
    "dense": st.integers(1, 64),
    "patience": st.integers(1, 10),
}
DEFAULTS = {"data": DataConfig("X"), "forecast": ForecastConfig(), "strategy": StrategyConfig(),
            "broker": BrokerConfig()}  # fmt: skip
LSTM_DEFAULTS = ForecastConfig().resolved_params()
EVERYTHING = {**{name: values for name, (_, _, values) in SETTINGS.items()},
              **{f"param.{key}": values for key, values in PARAMS.items()}}  # fmt: skip


def some(values: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A random subset of ``values``' keys, each with a random value."""
    return st.fixed_dictionaries({}, optional=values)


def as_typed_on_the_command_line(name: str, value: Any) -> Any:
    """What typer hands the command for ``--name VALUE`` (dates stay text, floats are floats)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if name in ("threshold", "size", "cash", "commission", "slippage", "learning_rate"):
        return float(value)
    return value


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(file=some(EVERYTHING), cli=some(EVERYTHING))
def test_command_line_beats_file_beats_default_with_sources(file: dict[str, Any], cli: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tables: dict[str, dict[str, Any]] = {}
        for name, value in file.items():
            table, key = ("forecast.params", name[6:]) if name.startswith("param.") else SETTINGS[name][:2]
            tables.setdefault(table, {})[key] = value
        path = write_toml(Path(folder) / "run.toml", tables)
        given_options: dict[str, Any] = {"config": path, "param": []}
        for name, value in cli.items():
            key = name.removeprefix("param.")
            if key in options.LSTM_SHORTCUTS or not name.startswith("param."):
                given_options[key] = as_typed_on_the_command_line(key, value)
            else:
                given_options["param"].append(f"{key}={toml(value)}")
        if "ticker" not in file and "ticker" not in cli:
            with pytest.raises(ConfigError, match="no ticker"):
                options.build(given_options)
            return
        resolved = options.build(given_options)

    config, sources = resolved.config, resolved.sources
    for name, (table, key, _) in SETTINGS.items():
        expected = cli.get(name, file.get(name, getattr(DEFAULTS[table], key)))
        if key in ("ticker", "benchmark"):
            expected = expected.upper()
        source = "command line" if name in cli else f"file {path}" if name in file else "default"
        assert getattr(getattr(config, table), key) == expected, (name, file, cli)
        assert sources[f"{table}.{key}"] == source, name
    params = config.forecast.resolved_params()
    assert set(params) == set(LSTM_DEFAULTS)
    for key, default in LSTM_DEFAULTS.items():
        name = f"param.{key}"
        expected = cli.get(name, file.get(name, default))
        source = "command line" if name in cli else f"file {path}" if name in file else "default (lstm)"
        assert params[key] == (tuple(expected) if isinstance(expected, list) else expected), (key, file, cli)
        assert sources[f"forecast.params.{key}"] == source, key


def test_sources_name_every_setting_and_the_file() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_toml(Path(folder) / "a.toml", {"data": {"ticker": "MSFT"}, "forecast.params": {"epochs": 4}})
        resolved = options.build({"config": path, "lookback": 30})
    assert resolved.sources["data.ticker"] == f"file {path}"
    assert resolved.sources["forecast.lookback"] == "command line"
    assert resolved.sources["forecast.params.epochs"] == f"file {path}"
    assert resolved.sources["forecast.params.units"] == "default (lstm)"
    assert resolved.sources["broker.cash"] == "default"
    assert resolved.config.forecast.given_params() == {"epochs": 4}


# --- bt run --config, end to end (ridge: no TensorFlow training) ---------------------------------


@pytest.fixture(scope="module")
def ridge_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same ridge run given as options, as a TOML file, and as the first run's run.json."""
    root = tmp_path_factory.mktemp("ridge-runs")
    toml_file = root / "run.toml"
    toml_file.write_text(RIDGE_TOML)
    folders = {name: root / name for name in ("options", "toml", "json")}
    with pytest.MonkeyPatch.context() as env:  # module scope: set what the autouse cache fixture would
        env.setenv("BT_CACHE_DIR", str(root / "cache"))
        runs = {
            "options": bt("run", "lstm-strategy", "AAPL", *RIDGE, "--no-cache", "--out", str(folders["options"])),
            "toml": bt("run", "--config", str(toml_file), "--no-cache", "--out", str(folders["toml"])),
        }
        runs["json"] = bt("run", "--config", str(folders["options"] / "run.json"), "--no-cache",
                          "--out", str(folders["json"]))  # fmt: skip
    for name, result in runs.items():
        assert result.returncode == 0, (name, result.stderr)
    return folders


@pytest.mark.parametrize("how", ["toml", "json"])
def test_run_from_a_config_file_equals_the_run_from_options(ridge_runs: dict[str, Path], how: str) -> None:
    reference, other = ridge_runs["options"], ridge_runs[how]
    for name in ("forecasts.csv", "returns.csv", "trades.csv"):
        assert (other / name).read_bytes() == (reference / name).read_bytes(), name
    meta = json.loads((other / "run.json").read_text())
    assert meta["forecasts_from_cache"] is False  # really recomputed, not read back from the cache
    assert meta["config"] == json.loads((reference / "run.json").read_text())["config"]
    assert meta["config"]["forecast"]["model"] == "ridge" and meta["config"]["forecast"]["train_days"] == 120


def test_legacy_run_json_is_accepted_as_config_and_reproduces_the_run(tmp_path: Path) -> None:
    # Written before [forecast.params]: the LSTM's keys sit flat in [forecast] (and are dropped for ridge).
    legacy = LEGACY / "run-ridge"
    layer = read_config_file(legacy / "run.json")
    assert layer["forecast"]["model"] == "ridge" and layer["forecast"]["params"] == {}
    result = bt("run", "--config", str(legacy / "run.json"), "--no-cache", "--out", str(tmp_path / "again"))
    assert result.returncode == 0, result.stderr
    for name in ("forecasts.csv", "returns.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (legacy / name).read_bytes(), name


def test_command_line_overrides_a_run_json(tmp_path: Path) -> None:
    resolved = options.build({"config": LEGACY / "run-ridge" / "run.json", "lookback": 30, "ticker": "msft"})
    assert resolved.config.forecast.lookback == 30 and resolved.config.data.ticker == "MSFT"
    assert resolved.config.forecast.train_days == 120
    assert resolved.sources["forecast.train_days"] == f"file {LEGACY / 'run-ridge' / 'run.json'}"


# --- bt config show ------------------------------------------------------------------------------


def config_show(*args: str, cwd: Path | None = None) -> str:
    result = bt("config", "show", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_config_show_is_valid_toml_with_sources_and_round_trips(tmp_path: Path) -> None:
    first = write_toml(tmp_path / "first.toml", {"data": {"ticker": "msft", "start": dt.date(2026, 6, 1)},
                                                 "forecast": {"lookback": 20, "window": "expanding"},
                                                 "forecast.params": {"epochs": 4, "units": [8, 8]},
                                                 "broker": {"cash": 5000}})  # fmt: skip
    args = ["--config", str(first), "--seed", "7", "--batch-size", "16", "--param", "dense=4", "--allow-short"]
    shown = config_show(*args)
    parsed = tomllib.loads(shown)
    assert set(parsed) == {"data", "forecast", "strategy", "broker"}
    assert parsed["data"]["ticker"] == "MSFT" and parsed["forecast"]["params"]["units"] == [8, 8]
    lines = {line.split(" = ")[0]: line for line in shown.splitlines() if " = " in line}
    assert lines["lookback"].endswith(f"# file {first}")
    assert lines["seed"].endswith("# command line")
    assert lines["dense"].endswith("# command line")
    assert lines["epochs"].endswith(f"# file {first}")
    assert lines["patience"].endswith("# default (lstm)")
    assert lines["slippage"].endswith("# default")
    assert "# end is not set  # default" in shown

    again = tmp_path / "shown.toml"
    again.write_text(shown)
    second = config_show("--config", str(again))
    assert tomllib.loads(second) == parsed
    given = {"config": first, "seed": 7, "batch_size": 16, "param": ["dense=4"], "allow_short": True}
    # The same effective config (as run.json and the forecast cache see it: model defaults spelled out).
    assert options.build({"config": again}).config.to_dict() == options.build(given).config.to_dict()
    # Fed back, every value set in the file now comes from it.
    assert all(line.endswith(f"# file {again}") for line in second.splitlines() if " = " in line)


def test_config_show_without_a_file_round_trips(tmp_path: Path) -> None:
    shown = config_show("--ticker", "AAPL", "--model", "ridge", "--param", "alpha=2.5", "--commission", "0.001")
    assert "alpha = 2.5  # command line" in shown
    (tmp_path / "c.toml").write_text(shown)
    assert (
        options.build({"config": tmp_path / "c.toml"}).config
        == options.build({"ticker": "AAPL", "model": "ridge", "param": ["alpha=2.5"], "commission": 0.001}).config
    )


# --- relative paths in a config file ---------------------------------------------------------------


def test_relative_csv_in_a_config_file_is_relative_to_the_file(tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "project" / "configs", tmp_path / "elsewhere"
    (folder / "data").mkdir(parents=True)
    elsewhere.mkdir()
    shutil.copy(BUNDLED / "MSFT.csv", folder / "data" / "mine.csv")
    config = folder / "run.toml"
    config.write_text('[data]\nticker = "MINE"\ncsv = "data/mine.csv"\nbenchmark_csv = "../../bench.csv"\n'
                      'start = 2025-01-02\nend = 2025-06-30\n')  # fmt: skip
    layer = read_config_file(config)
    assert layer["data"]["csv"] == str((folder / "data" / "mine.csv").resolve())
    assert layer["data"]["benchmark_csv"] == str((tmp_path / "bench.csv").resolve())
    shutil.copy(BUNDLED / "SPY.csv", tmp_path / "bench.csv")
    # Run from another folder, with a relative --config: the data is still found, next to the file.
    result = bt("run", "buy-and-hold", "--config", "../project/configs/run.toml", "--out", "out", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    meta = json.loads((elsewhere / "out" / "run.json").read_text())
    assert meta["config"]["data"]["csv"] == str((folder / "data" / "mine.csv").resolve())
    assert meta["data"]["source"].startswith("csv ") and meta["data"]["ticker"] == "MINE"


def test_absolute_and_command_line_csv_paths_are_kept(tmp_path: Path) -> None:
    absolute = tmp_path / "x.csv"
    (tmp_path / "sub").mkdir()
    write_toml(tmp_path / "sub" / "run.toml", {"data": {"ticker": "X", "csv": str(absolute)}})
    assert read_config_file(tmp_path / "sub" / "run.toml")["data"]["csv"] == str(absolute)
    shown = config_show("--ticker", "X", "--csv", "rel.csv", cwd=tmp_path)  # the command line: relative to cwd
    assert f"csv = {json.dumps(str((tmp_path / 'rel.csv').resolve()))}  # command line" in shown


# --- one-line errors, before any training ---------------------------------------------------------

BAD_FILES = {
    "unknown-table": ("[data]\nticker = 'AAPL'\n[dta]\nx = 1\n", ["unknown table [dta]"]),
    "unknown-key": ("[data]\nticker = 'AAPL'\n[forecast]\nlookbak = 20\n", ["[forecast]", "'lookbak'"]),
    "string-for-int": (
        "[data]\nticker = 'AAPL'\n[forecast]\nlookback = '20'\n",
        ["[forecast] lookback", "'20'", "an integer"],
    ),
    "int-for-bool": (
        "[data]\nticker = 'AAPL'\n[strategy]\nallow_short = 1\n",
        ["[strategy] allow_short", "= 1", "true or false"],
    ),
    "bool-for-int": ("[data]\nticker = 'AAPL'\n[forecast]\nlookback = true\n", ["[forecast] lookback", "integer"]),
    "datetime": ("[data]\nticker = 'AAPL'\nstart = 2026-06-01T10:00:00\n", ["[data] start", "2026", "a date"]),
    "bad-date": ("[data]\nticker = 'AAPL'\nstart = '2026-13-01'\n", ["[data] start", "2026-13-01", "YYYY-MM-DD"]),
    "lookback-1": ("[data]\nticker = 'AAPL'\n[forecast]\nlookback = 1\n", ["[forecast] lookback = 1", "at least 2"]),
    "commission": ("[data]\nticker = 'AAPL'\n[broker]\ncommission = 0.5\n", ["[broker] commission = 0.5", "[0, 0.1)"]),
    "train-days": (
        "[data]\nticker = 'AAPL'\n[forecast]\ntrain_days = 15\nlookback = 10\n",
        ["[forecast] train_days = 15", "lookback"],
    ),
    "unknown-param": (
        "[data]\nticker = 'AAPL'\n[forecast.params]\nepochz = 5\n",
        ["[forecast.params] epochz = 5", "no parameter 'epochz'", "epochs"],
    ),
    "param-value": (
        "[data]\nticker = 'AAPL'\n[forecast.params]\nbatch_size = 0\n",
        ["[forecast.params] batch_size = 0", "greater than 0"],
    ),
    "param-of-another-model": (
        "[data]\nticker = 'AAPL'\n[forecast]\nmodel = 'ridge'\n[forecast.params]\nepochs = 5\n",
        ["[forecast.params] epochs = 5", "model 'ridge' has no parameter 'epochs'", "alpha"],
    ),
    "seed-as-param": (
        "[data]\nticker = 'AAPL'\n[forecast.params]\nseed = 3\n",
        ["[forecast.params] seed = 3", "[forecast] seed"],
    ),
    "params-not-a-table": ("[data]\nticker = 'AAPL'\n[forecast]\nparams = 3\n", ["[forecast.params]"]),
    "unknown-model": ("[data]\nticker = 'AAPL'\n[forecast]\nmodel = 'prophet'\n", ["model = 'prophet'", "bt models"]),
    "invalid-toml": ("[data]\nticker = 'AAPL'\n[forecast\nlookback = 20\n", ["not valid TOML", "line 3"]),
    "no-ticker": ("[forecast]\nlookback = 20\n", ["no ticker"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_config_file_is_a_one_line_error_before_training(tmp_path: Path, case: str) -> None:
    text, parts = BAD_FILES[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    out = tmp_path / "out"
    result = bt("run", "--config", str(path), "--out", str(out))
    names_file = [str(path)] if case != "no-ticker" else []
    assert_one_line_error(result, *names_file, *parts)
    assert not out.exists()
    assert "training" not in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert_one_line_error(bt("run", "--config", str(missing)), str(missing), "cannot be read")


def test_run_json_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("{not json")
    assert_one_line_error(bt("config", "show", "--config", str(path)), str(path), "not valid JSON")


def test_legacy_run_json_with_a_bad_value_is_one_line(tmp_path: Path) -> None:
    meta = json.loads((LEGACY / "run-ridge" / "run.json").read_text())
    meta["config"]["forecast"]["model"] = "prophet"
    path = tmp_path / "run.json"
    path.write_text(json.dumps(meta))
    assert_one_line_error(bt("config", "show", "--config", str(path)), str(path), "prophet")


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (["--param", "epochs"], ["--param 'epochs'", "KEY=VALUE"]),
        (["--param", "=5"], ["--param '=5'", "KEY=VALUE"]),
        (["--param", "epochz=5"], ["no parameter 'epochz'"]),
        (["--model", "ridge", "--param", "epochs=5"], ["model 'ridge' has no parameter 'epochs'"]),
        (["--param", "batch_size=big"], ["batch", "integer", "'big'"]),
    ],
)
def test_bad_param_option_is_a_one_line_error(tmp_path: Path, args: list[str], parts: list[str]) -> None:
    result = bt("run", "lstm-strategy", "AAPL", *args, "--out", str(tmp_path / "out"))
    assert_one_line_error(result, *parts)
    assert not (tmp_path / "out").exists()


def test_command_line_value_is_blamed_on_the_option_not_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "ok.toml", {"data": {"ticker": "AAPL"}, "broker": {"commission": 0.001}})
    result = bt("config", "show", "--config", str(path), "--commission", "0.5")
    assert_one_line_error(result, "--commission", "0.5")
    assert str(path) not in result.stderr
