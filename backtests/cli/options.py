"""The options the commands share, and the one function that turns given options into a config.

Every option defaults to None, meaning "not given", so the config layer can tell a value
typed on the command line from a default and let a ``--config`` file fill the rest
(precedence: defaults < file < environment < command line). The defaults that ``--help``
shows come from the config dataclasses themselves.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from ..config.layers import COMMAND_LINE, Layer, Resolved, check_layer, read_config_file, resolve
from ..errors import ConfigError

# option name -> (table, key); LSTM shortcuts set model parameters.
CLI_KEYS: dict[str, tuple[str, str]] = {
    "ticker": ("data", "ticker"), "csv": ("data", "csv"), "source": ("data", "source"), "start": ("data", "start"),
    "end": ("data", "end"), "benchmark": ("data", "benchmark"), "benchmark_csv": ("data", "benchmark_csv"),
    "repair_bars": ("data", "repair_bars"),
    "model": ("forecast", "model"), "lookback": ("forecast", "lookback"), "train_days": ("forecast", "train_days"),
    "retrain_every": ("forecast", "retrain_every"), "window": ("forecast", "window"), "seed": ("forecast", "seed"),
    "seeds": ("forecast", "seeds"), "strategy": ("strategy", "name"), "threshold": ("strategy", "threshold"),
    "allow_short": ("strategy", "allow_short"), "size": ("strategy", "size"), "cash": ("broker", "cash"),
    "commission": ("broker", "commission"), "slippage": ("broker", "slippage"),
}  # fmt: skip
LSTM_SHORTCUTS = ("epochs", "warm_epochs", "warm_start", "batch_size", "learning_rate")
PATHS = ("csv", "benchmark_csv")

Config = Annotated[
    Path | None,
    typer.Option("--config", help="TOML config file (or a run.json) with the run's tables."),
]
Param = Annotated[list[str] | None, typer.Option("--param", help="Model parameter KEY=VALUE (repeatable).")]
StrategyParam = Annotated[
    list[str] | None,
    typer.Option("--strategy-param", help="Strategy parameter KEY=VALUE (repeatable; see `bt strategies`), "
                 "e.g. fast=10 for sma-cross."),
]  # fmt: skip
Start = Annotated[
    str | None,
    typer.Option(help="First forecast day, YYYY-MM-DD. [default: 5 years before the last day]"),
]
End = Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD. [default: last day of data]")]
Csv = Annotated[Path | None, typer.Option(help="Daily OHLCV CSV to use instead of the ticker's data.")]
Source = Annotated[
    str | None,
    typer.Option(help="auto (bundled file, else Yahoo with cache), bundled, or yahoo. [default: auto]"),
]
Model = Annotated[str | None, typer.Option(help="Forecaster (see `bt models`). [default: lstm]")]
Seed = Annotated[int | None, typer.Option(help="Seed for every random choice. [default: 0]")]
Seeds = Annotated[
    int | None,
    typer.Option(help="Train N independently seeded models per fold; trade their mean. [default: 1]"),
]
Lookback = Annotated[int | None, typer.Option(help="Days of prices in each input window. [default: 60]")]
TrainDays = Annotated[int | None, typer.Option(help="Trading days in each training window. [default: 756]")]
RetrainEvery = Annotated[int | None, typer.Option(help="Retrain every N trading days. [default: 21]")]
Window = Annotated[str | None, typer.Option(help="Training window: rolling or expanding. [default: rolling]")]
Epochs = Annotated[
    int | None,
    typer.Option(help="LSTM: epochs of the first fold (early stopping may end sooner). [default: 20]"),
]
WarmEpochs = Annotated[
    int | None,
    typer.Option(help="LSTM: epochs of later folds, from the previous weights. [default: 1]"),
]
WarmStart = Annotated[
    bool | None,
    typer.Option("--warm-start/--no-warm-start", help="LSTM: continue from the last fold's weights. [default: warm]"),
]
BatchSize = Annotated[int | None, typer.Option(help="LSTM: training batch size. [default: 64]")]
LearningRate = Annotated[float | None, typer.Option(help="LSTM: Adam learning rate. [default: 0.001]")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Retrain even if cached forecasts exist.")]
Threshold = Annotated[
    float | None,
    typer.Option(help="Predicted return needed to go long (and -threshold to exit). [default: 0]"),
]
AllowShort = Annotated[
    bool | None,
    typer.Option("--allow-short/--no-allow-short", help="Go short below -threshold. [default: no]"),
]
Size = Annotated[float | None, typer.Option(help="Fraction of equity per position. [default: 0.95]")]
Cash = Annotated[float | None, typer.Option(help="Starting cash. [default: 100000]")]
Commission = Annotated[float | None, typer.Option(help="Commission, fraction of traded value. [default: 0.0005]")]
Slippage = Annotated[float | None, typer.Option(help="Slippage, fraction of the fill price. [default: 0.0005]")]
Benchmark = Annotated[str | None, typer.Option(help="Benchmark ticker. [default: SPY]")]
BenchmarkCsv = Annotated[Path | None, typer.Option(help="Benchmark OHLCV CSV.")]
RepairBars = Annotated[
    str | None,
    typer.Option(help="Bars whose high/low break the open/close: refuse, or clip them (and say how many). "
                      "[default: refuse]"),
]
# Where a single run's independent pieces run (ensemble members, folds without warm start, baselines).
RunWorkers = Annotated[
    int | None,
    typer.Option("--workers", help="Worker processes for the run's independent pieces. [default: one per core, "
                 "no more than the pieces]"),
]  # fmt: skip
RunScheduler = Annotated[
    str | None,
    typer.Option("--scheduler", help="sync (all in this process), local (a local cluster), or tcp://HOST:PORT / "
                 "tls://HOST:PORT of a running `dask scheduler`. [default: this process when the model is one "
                 "piece (one member, warm start) or cached, else a local cluster on 127.0.0.1]"),
]  # fmt: skip


def _param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as a TOML value (``5``, ``0.1``, ``true``, ``[32, 32]``), else as text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--param {text!r} is not KEY=VALUE (e.g. --param epochs=5).")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value


def _strategy_param(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` with VALUE kept as text: the strategy's config reads it by the parameter default's type."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--strategy-param {text!r} is not KEY=VALUE (e.g. --strategy-param fast=10).")
    return key.strip(), raw.strip()


def cli_layer(options: dict[str, Any]) -> Layer:
    """The settings actually given on the command line (None means not given)."""
    layer: Layer = {}
    for name, value in options.items():
        if value is None or name not in CLI_KEYS:
            continue
        if name in PATHS:
            value = str(Path(value).resolve())  # a paper experiment reads them again from any folder
        elif name in ("ticker", "benchmark"):
            value = value.upper()
        table, key = CLI_KEYS[name]
        layer.setdefault(table, {})[key] = value
    params = {name: options[name] for name in LSTM_SHORTCUTS if options.get(name) is not None}
    params.update(_param(text) for text in options.get("param") or [])
    if params:
        layer.setdefault("forecast", {})["params"] = params
    own = dict(_strategy_param(text) for text in options.get("strategy_param") or [])
    if own:
        layer.setdefault("strategy", {})["params"] = own
    return check_layer(layer, COMMAND_LINE)


def build(options: dict[str, Any], *, defaults: Layer | None = None, ignore: tuple[str, ...] = ()) -> Resolved:
    """The effective config of a command: its own defaults < ``--config`` file < the options given."""
    layers = [("default", defaults or {})]
    if options.get("config") is not None:
        path = Path(options["config"])
        layers.append((f"file {path}", read_config_file(path, ignore=ignore)))
    layers.append((COMMAND_LINE, cli_layer(options)))
    return resolve(layers)


def parse_date(value: str | None, option: str) -> dt.date | None:
    """A YYYY-MM-DD option value, or a one-line ConfigError naming the option."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date; use YYYY-MM-DD.") from None


def in_option_terms(message: str) -> str:
    """A library message as the command line says it: "`train_days`" becomes "--train-days ([forecast] train_days)"."""
    tables = {key: table for table, key in CLI_KEYS.values() if key != "name"}
    tables.update({key: "forecast.params" for key in LSTM_SHORTCUTS})

    def option(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in tables:
            return match.group(0)
        return f"--{key.replace('_', '-')} ([{tables[key]}] {key})"

    return re.sub(r"`([a-z_]+)`", option, message)
