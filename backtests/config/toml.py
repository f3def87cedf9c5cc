"""The effective config as TOML, each value's source in a comment (``bt config show``).

The output is itself a valid config file: ``bt config show ... > run.toml`` then
``bt run --config run.toml`` runs the same configuration.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from .layers import DEFAULT, TABLES, Resolved
from .schema import SHARED


def toml_value(value: Any) -> str:
    """One TOML value: strings quoted and escaped, booleans lower-case, dates bare, lists in brackets."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def to_toml(resolved: Resolved) -> str:
    """The tables [data], [forecast], [forecast.params], [strategy], [strategy.params], [broker], with sources."""
    config = resolved.config
    lines = ["# bt-lstm run configuration; each value's source is in its comment.",
             "# Precedence: default < config file < environment < command line."]  # fmt: skip
    values = {"data": config.data, "forecast": config.forecast, "strategy": config.strategy, "broker": config.broker}
    for table, obj in values.items():
        lines += ["", f"[{table}]"]
        for name in (f.name for f in dataclasses.fields(TABLES[table]) if f.name != "params"):
            lines.append(_line(name, getattr(obj, name), resolved.sources[f"{table}.{name}"]))
        if table == "forecast":
            lines += ["", "[forecast.params]"]
            for name, value in config.forecast.resolved_params().items():
                lines.append(_line(name, value, resolved.sources[f"forecast.params.{name}"]))
        if table == "strategy":
            lines += _strategy_params(resolved)
    return "\n".join(lines) + "\n"


def _strategy_params(resolved: Resolved) -> list[str]:
    """The [strategy.params] table: the strategy class's own parameters, given or default (none if it is unknown)."""
    from strategies import registry
    from strategies.params import declared

    strategy = resolved.config.strategy
    try:
        defaults = declared(registry.find(strategy.name).load())
    except Exception:  # an unknown or broken strategy: the run itself says why, in one line
        return []
    given = strategy.given_params()
    own = {name: given.get(name, value) for name, value in defaults.items() if name not in SHARED}
    source = f"{DEFAULT} ({strategy.name})"
    return ["", "[strategy.params]"] + [
        _line(name, value, resolved.sources.get(f"strategy.params.{name}", source)) for name, value in own.items()]


def _line(name: str, value: Any, source: str) -> str:
    if value is None:
        return f"# {name} is not set  # {source}"
    return f"{name} = {toml_value(value)}  # {source}"
