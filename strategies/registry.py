"""Named strategies, built in and from plugins (entry point group ``bt_lstm.strategies``).

The registry holds import paths, not classes, so listing strategies does not
import backtrader. A plugin's entry point names a ``bt.Strategy`` subclass;
its docstring's first line is its description.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "bt_lstm.strategies"


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy: its name, where its class lives, and whether it reads forecasts."""

    name: str
    target: str
    description: str
    uses_forecast: bool

    def load(self) -> type:
        """Import and return the strategy class."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


_BUILTIN = (
    StrategySpec(
        "lstm-strategy",
        "strategies.lstm_strategy:ForecastStrategy",
        "long when the forecast for tomorrow beats today's close by --threshold; fills at next open",
        True,
    ),
    StrategySpec(
        "buy-and-hold", "strategies.classic:BuyAndHold", "buy on the first day and hold", False
    ),
    StrategySpec(
        "sma-cross",
        "strategies.classic:SmaCross",
        "long while the 20-day SMA is above the 50-day SMA",
        False,
    ),
)


def _plugin_description(target: str) -> str:
    """First docstring line of a plugin's class, or a note that it failed to import."""
    try:
        spec = StrategySpec("plugin", target, "", True)
        doc = (spec.load().__doc__ or "").strip()
    except Exception as exc:  # a broken plugin must not break `bt strategies`
        return f"plugin (fails to import: {type(exc).__name__})"
    return doc.splitlines()[0] if doc else "plugin strategy"


def available() -> dict[str, StrategySpec]:
    """Every strategy by name: built-ins first, then installed plugins."""
    specs = {spec.name: spec for spec in _BUILTIN}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in specs:
            specs[ep.name] = StrategySpec(ep.name, ep.value, _plugin_description(ep.value), True)
    return specs


def get(name: str) -> StrategySpec:
    """The strategy called ``name``; KeyError lists the known names."""
    specs = available()
    if name not in specs:
        raise KeyError(f"unknown strategy {name!r}; choose one of: {', '.join(specs)}")
    return specs[name]
