"""Typed, frozen, picklable run configuration: defaults < config file < command line.

A run is a pure function of a ``RunConfig`` and its data, so a config can be
shipped to another process or a cluster worker unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from forecasting import ForecastConfig

from ..errors import ConfigError

DataSource = Literal["auto", "bundled", "yahoo"]
RepairBars = Literal["refuse", "clip"]
StrategyParams = tuple[tuple[str, Any], ...]
SHARED = ("threshold", "allow_short", "size")  # [strategy]'s own settings, given to a strategy that declares them


@dataclass(frozen=True)
class DataConfig:
    """Which prices: a ticker (bundled, cached or from Yahoo) or a CSV file, and the period.

    ``repair_bars``: what to do with a file's bar whose high or low does not contain its open and
    close: "refuse" it (the default) or "clip" high and low to them (the run is told how many rows).
    """

    ticker: str
    csv: str | None = None
    source: DataSource = "auto"
    start: dt.date | None = None
    end: dt.date | None = None
    benchmark: str = "SPY"
    benchmark_csv: str | None = None
    repair_bars: RepairBars = "refuse"

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ConfigError(f"`start` {self.start} is after `end` {self.end}; swap them.")
        if self.source not in ("auto", "bundled", "yahoo"):
            raise ConfigError(f"`source` must be auto, bundled or yahoo. Got {self.source!r}.")
        if self.repair_bars not in ("refuse", "clip"):
            raise ConfigError(f"`repair_bars` must be refuse or clip. Got {self.repair_bars!r}.")


@dataclass(frozen=True)
class BrokerConfig:
    """Simulated broker: starting cash, commission and slippage as fractions of traded value."""

    cash: float = 100_000.0
    commission: float = 0.0005
    slippage: float = 0.0005

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cash) and self.cash > 0):
            raise ConfigError(f"`cash` must be a positive amount. Got {self.cash}.")
        for name in ("commission", "slippage"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value < 0.1):
                raise ConfigError(f"`{name}` must be a fraction in [0, 0.1). Got {value}.")


@dataclass(frozen=True)
class StrategyConfig:
    """Which strategy, the decision settings most strategies share, and the strategy's own parameters.

    ``threshold``, ``allow_short`` and ``size`` go to a strategy that declares them. ``params``
    (``[strategy.params]``, ``--strategy-param``; a mapping, stored as sorted pairs) are the
    strategy class's own backtrader params (sma-cross ``fast``/``slow``, topk ``k``, a plugin's),
    checked against the class and typed by their defaults when the config is built, so a bad one
    is refused before any data is read. Those not given keep the class's defaults.
    """

    name: str = "lstm-strategy"
    threshold: float = 0.0
    allow_short: bool = False
    size: float = 0.95
    params: StrategyParams = field(default=())

    def __post_init__(self) -> None:
        if not (math.isfinite(self.threshold) and 0 <= self.threshold < 1):
            raise ConfigError(f"`threshold` must be in [0, 1). Got {self.threshold}.")
        if not 0 < self.size <= 1:
            raise ConfigError(f"`size` must be a fraction of equity in (0, 1]. Got {self.size}.")
        items = self.params.items() if isinstance(self.params, Mapping) else self.params
        object.__setattr__(self, "params", tuple(sorted((str(k), v) for k, v in items)))
        if self.params:
            object.__setattr__(self, "params", tuple(sorted(self._checked_params().items())))

    def _checked_params(self) -> dict[str, Any]:
        """The given params typed by the class's defaults; ConfigError (one line) for an unknown strategy or param."""
        from strategies import params, registry

        try:
            cls = registry.find(self.name).load()
        except KeyError as exc:
            raise ConfigError(f"{exc.args[0]} (see `bt strategies`)") from None
        except Exception as exc:  # a plugin that fails to import
            raise ConfigError(f"strategy {self.name!r} fails to import ({type(exc).__name__}: {exc}).") from None
        given = self.given_params()
        shared = sorted(set(given) & set(SHARED))
        if shared:
            raise ConfigError(f"`{shared[0]}` is a [strategy] setting, not one of [strategy.params].")
        try:
            values = params.resolve(cls, given, strategy=self.name)
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(str(exc).rstrip(".") + " ([strategy.params], --strategy-param).") from None
        return {key: values[key] for key in given}

    def given_params(self) -> dict[str, Any]:
        """The strategy parameters set in this config (the class's defaults apply to the rest)."""
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values; ``params`` only when some are given (so earlier configs read the same)."""
        out: dict[str, Any] = {"name": self.name, "threshold": self.threshold, "allow_short": self.allow_short,
                               "size": self.size}  # fmt: skip
        if self.params:
            out["params"] = self.given_params()
        return out


@dataclass(frozen=True)
class RunConfig:
    """One whole run: data, forecasting, strategy and broker settings."""

    data: DataConfig
    forecast: ForecastConfig = field(default_factory=ForecastConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    broker: BrokerConfig = field(default_factory=BrokerConfig)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (dates as ISO strings)."""
        out = dataclasses.asdict(self)
        out["forecast"] = self.forecast.to_dict()
        out["strategy"] = self.strategy.to_dict()
        for key in ("start", "end"):
            value = out["data"][key]
            out["data"][key] = value.isoformat() if value else None
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """The config ``to_dict`` wrote (run.json, a paper ledger), old layouts included; ConfigError if unusable."""
        try:
            data = dict(values["data"])
            for key in ("start", "end"):
                data[key] = dt.date.fromisoformat(data[key]) if data.get(key) else None
            return cls(DataConfig(**data), ForecastConfig.from_dict(values["forecast"]),
                       StrategyConfig(**values["strategy"]), BrokerConfig(**values["broker"]))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the saved config cannot be read ({exc}).") from None


def forecast_config(**values: Any) -> ForecastConfig:
    """Build a ForecastConfig, turning its ValueError into a one-line ConfigError."""
    try:
        return ForecastConfig(**values)
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc)) from None
