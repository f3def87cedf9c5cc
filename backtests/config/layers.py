"""Where each setting of a run comes from: defaults < config file < environment < command line.

A layer is a ``{table: {key: value}}`` mapping with the config's own field names (the
TOML tables ``[data]``, ``[forecast]``, ``[forecast.params]``, ``[strategy]``, ``[broker]``).
``resolve`` merges the layers key by key, builds the frozen ``RunConfig`` and remembers, for
every key, which layer gave its value, so ``bt config show`` can say so and an error can name
the file (or option) and the key that caused it. No run setting has an environment variable
today; the environment layer is where one would go.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forecasting import ForecastConfig

from ..data.bounded import read_bounded
from ..errors import ConfigError
from .schema import BrokerConfig, DataConfig, RunConfig, StrategyConfig

Layer = dict[str, dict[str, Any]]
TABLES: dict[str, type] = {"data": DataConfig, "forecast": ForecastConfig, "strategy": StrategyConfig,
                           "broker": BrokerConfig}  # fmt: skip
_DATES = {("data", "start"), ("data", "end")}
_TICKERS = {("data", "ticker"), ("data", "benchmark")}
_PATHS = (("data", "csv"), ("data", "benchmark_csv"))
_MAX_DEPTH = 32  # a run's config nests 4 deep ([forecast.params] units = [...]); run.json a few more
DEFAULT = "default"
COMMAND_LINE = "command line"


def at(where: str, table: str, key: str, value: Any) -> str:
    """How an error names a setting: the option on the command line, else the file, table and key."""
    if where == COMMAND_LINE:
        if key.startswith("params."):
            option = "--strategy-param" if table == "strategy" else "--param"
            return f"{option} {key.removeprefix('params.')}={value!r}"
        return f"--{key.replace('_', '-')} {value!r}"
    if key.startswith("params."):
        table, key = f"{table}.params", key.removeprefix("params.")
    return f"{where}: [{table}] {key} = {value!r}"


def _kind(table: str, key: str) -> tuple[type, ...]:
    """The Python type(s) a key's value must have in a file (bool is not an int; an int is a float)."""
    if (table, key) in _DATES:
        return (dt.date,)
    field = {f.name: f for f in dataclasses.fields(TABLES[table])}[key]
    text = str(field.type)
    if "bool" in text:
        return (bool,)
    if "int" in text and "float" not in text:
        return (int,)
    if "float" in text:
        return (int, float)
    return (str,)


def _describe(kinds: tuple[type, ...]) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dt.date: "a date"}
    return names[kinds[-1]] if len(kinds) == 1 or kinds == (int, float) else "a value"


def _check_value(where: str, table: str, key: str, value: Any) -> Any:
    """The value with its file type checked (dates may be TOML dates or YYYY-MM-DD strings)."""
    kinds = _kind(table, key)
    if dt.date in kinds and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{at(where, table, key, value)} is not a date; use YYYY-MM-DD.") from None
    if isinstance(value, dt.datetime) or (isinstance(value, bool) and bool not in kinds):
        raise ConfigError(f"{at(where, table, key, value)} must be {_describe(kinds)}.")
    if not isinstance(value, kinds):
        raise ConfigError(f"{at(where, table, key, value)} must be {_describe(kinds)}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{at(where, table, key, value)} must be a finite number.")
    return float(value) if float in kinds and isinstance(value, int | float) else value  # an int where a float goes


def check_layer(layer: dict[str, Any], where: str) -> Layer:
    """Validate a parsed file: known tables and keys, right types; ConfigError names ``where`` and the key."""
    if not isinstance(layer, dict):
        raise ConfigError(f"{where}: expected tables [data], [forecast], [strategy], [broker].")
    out: Layer = {}
    for table, values in layer.items():
        if table not in TABLES:
            names = ", ".join(f"[{t}]" for t in TABLES)
            raise ConfigError(f"{where}: unknown table [{table}]; the tables are {names}.")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{table}] must be a table of settings, not {values!r}.")
        known = [f.name for f in dataclasses.fields(TABLES[table])]
        out[table] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{where}: unknown key {key!r} in [{table}]; its keys are {', '.join(known)}.")
            if key == "params":  # [forecast.params] and [strategy.params]: checked by their config
                if not isinstance(value, dict):
                    raise ConfigError(f"{where}: [{table}.params] must be a table of parameters.")
                out[table][key] = dict(value)
            else:
                out[table][key] = _check_value(where, table, key, value)
                if (table, key) in _TICKERS:
                    out[table][key] = out[table][key].upper()  # as the command line and the data loader do
    return out


def read_config_file(path: Path, *, ignore: tuple[str, ...] = ()) -> Layer:
    """A TOML config file, or a ``run.json`` (its ``config``) to reproduce a run; ConfigError names the file.

    Tables named in ``ignore`` belong to another reader (``bt sweep``'s ``[sweep]``) and are skipped.
    """
    path = Path(path)
    try:
        text = read_bounded(path).decode("utf-8")
    except OSError as exc:  # also a folder, pipe or device, and a file over the size cap
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror or exc}).") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text.") from None
    if path.suffix.lower() == ".json":
        return _from_json(text, path)
    try:
        parsed = _shallow(tomllib.loads(text), path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML ({exc}).") from None
    except RecursionError:
        raise _too_deep(path) from None
    parsed = {table: values for table, values in parsed.items() if table not in ignore}
    return _anchored(check_layer(parsed, str(path)), path.parent)


def _too_deep(path: Path) -> ConfigError:
    return ConfigError(f"config file {path} nests tables or lists more than {_MAX_DEPTH} levels deep "
                       "(a run configuration needs 4); flatten it.")  # fmt: skip


def _shallow(parsed: Any, path: Path) -> Any:
    """``parsed`` itself, or a ConfigError when it nests deeper than ``_MAX_DEPTH`` (checked without recursion)."""
    level = [parsed]
    for _ in range(_MAX_DEPTH):
        level = [v for item in level if isinstance(item, dict | list) for v in (
            item.values() if isinstance(item, dict) else item)]  # fmt: skip
        if not level:
            return parsed
    raise _too_deep(path)


def _anchored(layer: Layer, folder: Path) -> Layer:
    """Relative ``csv`` paths in a file are relative to the file's folder, not to where ``bt`` runs."""
    for table, key in _PATHS:
        if key in layer.get(table, {}):
            given = Path(layer[table][key]).expanduser()
            layer[table][key] = str(given if given.is_absolute() else (folder / given).resolve())
    return layer


def _from_json(text: str, path: Path) -> Layer:
    try:
        parsed = _shallow(json.loads(text), path)
    except ValueError:
        raise ConfigError(f"config file {path} is not valid JSON.") from None
    except RecursionError:
        raise _too_deep(path) from None
    config = parsed.get("config", parsed) if isinstance(parsed, dict) else parsed
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path} holds no run configuration.")
    config = {table: dict(values) if isinstance(values, dict) else values for table, values in config.items()}
    forecast = config.get("forecast")
    if isinstance(forecast, dict) and "params" not in forecast:  # written before [forecast.params] existed
        try:
            legacy = ForecastConfig.from_dict(forecast)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"config file {path}: [forecast] cannot be read ({exc}).") from None
        config["forecast"] = {**legacy.to_dict(), "params": legacy.given_params()}
    for values in config.values():
        if isinstance(values, dict):
            for key in [k for k, v in values.items() if v is None]:
                del values[key]  # JSON null: not set
    return _anchored(check_layer(config, str(path)), path.parent)


@dataclass(frozen=True)
class Resolved:
    """The effective config and, per ``table.key`` (``forecast.params.KEY`` for model parameters), its source."""

    config: RunConfig
    sources: dict[str, str]


def merge(layers: list[tuple[str, Layer]]) -> tuple[Layer, dict[str, str]]:
    """Later layers win key by key; model and strategy parameters merge one by one too."""
    values: Layer = {table: {} for table in TABLES}
    sources: dict[str, str] = {}
    for source, layer in layers:
        for table, items in layer.items():
            for key, value in items.items():
                if key == "params":
                    params = values[table].setdefault("params", {})
                    for name, item in value.items():
                        params[name] = item
                        sources[f"{table}.params.{name}"] = source
                else:
                    values[table][key] = value
                    sources[f"{table}.{key}"] = source
    return values, sources


def resolve(layers: list[tuple[str, Layer]]) -> Resolved:
    """Merge ``layers`` (lowest first, after the built-in defaults) and build the ``RunConfig``."""
    values, sources = merge(layers)
    if "ticker" not in values["data"]:
        raise ConfigError("no ticker: give one on the command line, or as ticker in the [data] table of --config.")
    data = _build("data", values, sources)
    forecast = _build("forecast", values, sources)
    strategy = _build("strategy", values, sources)
    broker = _build("broker", values, sources)
    config = RunConfig(data, forecast, strategy, broker)
    for key in forecast.resolved_params():
        sources.setdefault(f"forecast.params.{key}", f"{DEFAULT} ({forecast.model})")
    for table in TABLES:
        for field in dataclasses.fields(TABLES[table]):
            if field.name != "params":
                sources.setdefault(f"{table}.{field.name}", DEFAULT)
    return Resolved(config, sources)


def _build(table: str, values: Layer, sources: dict[str, str]) -> Any:
    """One table's dataclass; a refused value is reported with the layer and key that gave it."""
    items = values[table]
    try:
        return TABLES[table](**items)
    except (ConfigError, ValueError, TypeError) as exc:
        message, blame = str(exc), _blame(table, items, sources, str(exc))
        if blame:  # a file's key, named as the file names it (not as the `--option` the CLI would make of it)
            message = re.sub(r"`([a-z_]+)`", r"\1", message)
        raise ConfigError(f"{blame}{message}") from None


def _blame(table: str, items: dict[str, Any], sources: dict[str, str], message: str) -> str:
    """'SOURCE: [table] key = value: ' for the given key the message names, else ''."""
    keys = list(items) + [f"params.{k}" for k in items.get("params", {})]
    for key in sorted(keys, key=len, reverse=True):
        name = key.removeprefix("params.")
        if any(f"{mark}{name}" in message.replace("-", "_") for mark in ("`", "--", "'", " ")):
            value = items["params"][name] if key.startswith("params.") else items[key]
            source = sources.get(f"{table}.{key}", DEFAULT)
            return "" if source == COMMAND_LINE else f"{at(source, table, key, value)}: "  # the CLI names options
    return ""
