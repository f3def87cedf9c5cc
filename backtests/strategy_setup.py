"""The strategy a config chooses, ready for backtrader: its class (own params set, warm-up derived) and kwargs.

One place turns a ``StrategyConfig`` into what ``cerebro.addstrategy`` takes, for ``bt run``,
``bt signal`` and paper trading alike: the shared settings (``threshold``, ``allow_short``,
``size``) go only to a class that declares them, the own params (``[strategy.params]``) to every
one. Everything here happens before any data is read or any model trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strategies import params as strategy_params
from strategies import registry
from strategies.registry import StrategySpec

from .config import StrategyConfig
from .config.schema import SHARED
from .errors import ConfigError


@dataclass(frozen=True)
class ChosenStrategy:
    """A registered strategy with this config's values: ``cls`` (own params as defaults, ``warmup`` derived from
    them) and the ``params`` kwargs for ``cerebro.addstrategy``."""

    spec: StrategySpec
    cls: type
    params: dict[str, Any]

    @property
    def uses_forecast(self) -> bool:
        """Whether the strategy reads forecasts (so the walk-forward must run)."""
        return self.spec.uses_forecast


def choose(config: StrategyConfig, *, strict: bool = True) -> ChosenStrategy:
    """The strategy ``config`` names, with its parameters; ConfigError (one line) when it cannot work.

    ``strict`` (a new run, experiment or signal): a shared setting changed from its default for a
    strategy that does not declare it is refused (``--threshold`` for sma-cross would do nothing).
    A stored paper experiment is stepped with ``strict=False``: such a setting is left out, as it was.
    """
    try:
        spec = registry.get(config.name)
    except KeyError as exc:
        raise ConfigError(f"{exc.args[0]} (see `bt strategies`)") from None
    try:
        cls = spec.load()
    except Exception as exc:  # a plugin that fails to import: one line, before any training
        raise ConfigError(f"strategy {config.name!r} fails to import ({type(exc).__name__}: {exc}).") from None
    declared = strategy_params.declared(cls)
    if strict:
        _refuse_unused(config, declared)
    own = config.given_params()
    kwargs = {name: getattr(config, name) for name in SHARED if name in declared}
    return ChosenStrategy(spec, strategy_params.configured(cls, own), {**kwargs, **own})


def _refuse_unused(config: StrategyConfig, declared: dict[str, Any]) -> None:
    """ConfigError for a shared setting set away from its default that the strategy does not take."""
    defaults = StrategyConfig()
    for name in SHARED:
        if name not in declared and getattr(config, name) != getattr(defaults, name):
            takes = ", ".join(declared) or "none"
            raise ConfigError(f"strategy {config.name!r} takes no `{name}` (its parameters: {takes}); drop it.")
