"""Named strategies, built in and from plugins (entry point group ``bt_lstm.strategies``).

The registry holds import paths, not classes, so listing strategies does not
import backtrader. A plugin's entry point names a ``bt.Strategy`` subclass;
its docstring's first line is its description.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

ENTRY_POINT_GROUP = "bt_lstm.strategies"
SINGLE = "single"  # trades one ticker: a run is one feed
RANKING = "ranking"  # ranks a universe each day and holds the best: a run is one feed per ticker


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy: its name, where its class lives, whether it reads forecasts, and its kind.

    ``kind`` decides what a run of it takes: ``SINGLE`` one ticker, ``RANKING`` a universe (or a list of tickers).
    """

    name: str
    target: str
    description: str
    uses_forecast: bool
    kind: str = SINGLE

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
        "long while the fast SMA (20 days) is above the slow SMA (50 days)",
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


# Strategies over a universe (one feed per ticker): run by ``bt run topk-strategy --universe U``.
PORTFOLIO = (
    StrategySpec(
        "topk-strategy",
        "strategies.topk:TopkStrategy",
        "holds the k names of a universe with the best forecasts",
        True,
        RANKING,
    ),
)


def find(name: str) -> StrategySpec:
    """The strategy called ``name``, a registered one or a portfolio one; KeyError lists the known names."""
    for spec in PORTFOLIO:
        if spec.name == name:
            return spec
    try:
        return get(name)
    except KeyError:
        known = [*available(), *(spec.name for spec in PORTFOLIO)]
        raise KeyError(f"unknown strategy {name!r}; choose one of: {', '.join(known)}") from None


def ranking_names() -> tuple[str, ...]:
    """The names of the ranking strategies (run over a universe)."""
    return tuple(spec.name for spec in PORTFOLIO if spec.kind == RANKING)


def params(spec: StrategySpec) -> dict[str, object]:
    """The parameters the strategy's class declares and their defaults (``strategies.params.declared``).

    A built-in's are read from its source, so listing them does not import backtrader; a plugin's class is loaded.
    """
    if spec.target.startswith("strategies."):
        found = _params_in_source(spec.target)
        if found is not None:
            return found
    from .params import declared

    return declared(spec.load())


def _params_in_source(target: str) -> dict[str, object] | None:
    """The literal ``params = ((name, default), ...)`` of a class in its module's source (None if it has none)."""
    module, _, attr = target.partition(":")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == attr:
            for item in node.body:
                if isinstance(item, ast.Assign) and [getattr(t, "id", None) for t in item.targets] == ["params"]:
                    return dict(ast.literal_eval(item.value))
    return None


def get(name: str) -> StrategySpec:
    """The strategy called ``name``; KeyError lists the known names."""
    specs = available()
    if name not in specs:
        raise KeyError(f"unknown strategy {name!r}; choose one of: {', '.join(specs)}")
    return specs[name]
