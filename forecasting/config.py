"""The forecasting settings as one frozen, picklable value, and what they build.

General settings (which model, the walk-forward geometry, seeds) are fields; everything
model-specific is in ``params`` and checked against the forecaster's own constructor, so a
plugin forecaster gets its settings the same way as the LSTM and no model carries another's.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import registry
from .base import Forecaster
from .splitter import WalkForwardSplitter, WindowKind
from .tf_runtime import SEED_LIMIT

Params = tuple[tuple[str, Any], ...]
MEMBER_STEP = 10_000  # an ensemble's members have the seeds ``seed``, ``seed + MEMBER_STEP``, ...


def _frozen(value: Any) -> Any:
    """Lists become tuples, so params stay hashable and compare equal after a JSON round trip."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


@dataclass(frozen=True)
class ForecastConfig:
    """Everything that decides the forecasts; equal configs on equal data give equal forecasts.

    ``params`` (a mapping, stored as sorted pairs) are the model's constructor arguments;
    those not given keep the model's defaults. Validation happens here, so a bad value is
    refused before any data is read (ValueError naming it).
    """

    model: str = "lstm"
    lookback: int = 60
    train_days: int = 756
    retrain_every: int = 21
    window: WindowKind = "rolling"
    seed: int = 0
    seeds: int = 1
    params: Params = field(default=())

    def __post_init__(self) -> None:
        items = self.params.items() if isinstance(self.params, Mapping) else self.params
        object.__setattr__(self, "params", tuple(sorted((str(k), _frozen(v)) for k, v in items)))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < SEED_LIMIT:
            raise ValueError(f"`seed` must be an integer from 0 to {SEED_LIMIT - 1}. Got {self.seed!r}.")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or not 1 <= self.seeds <= 100:
            raise ValueError(f"`seeds` must be an integer from 1 to 100. Got {self.seeds!r}.")
        highest = SEED_LIMIT - 1 - MEMBER_STEP * (self.seeds - 1)  # the last member's seed must fit too
        if self.seed > highest:
            raise ValueError(
                f"`seed` must be at most {highest} with `seeds` {self.seeds} (the ensemble's members take "
                f"the seeds from it in steps of {MEMBER_STEP}, up to {SEED_LIMIT - 1}). Got {self.seed}."
            )
        self.splitter()
        self._check_params()
        self.forecaster()

    def _check_params(self) -> None:
        known = self.model_parameters()
        for key, _ in self.params:
            if key == "seed":
                raise ValueError("`seed` is a general setting ([forecast] seed, --seed), not a model parameter.")
            if key not in known:
                names = ", ".join(k for k in known if k != "seed") or "none"
                raise ValueError(f"model {self.model!r} has no parameter {key!r}; its parameters: {names}.")

    def forecaster_class(self) -> type[Forecaster]:
        """The model's class, from the registry (ValueError for unknown or broken ones)."""
        return registry.get(self.model).load()

    def model_parameters(self) -> dict[str, Any]:
        """The model's parameters and their defaults."""
        return registry.parameters(self.forecaster_class())

    def given_params(self) -> dict[str, Any]:
        """The params set in this config (the model's defaults apply to the rest)."""
        return dict(self.params)

    def resolved_params(self) -> dict[str, Any]:
        """Every model parameter: the defaults with this config's params over them (seed left out)."""
        empty = inspect.Parameter.empty
        defaults = {k: v for k, v in self.model_parameters().items() if k != "seed" and v is not empty}
        return {**defaults, **self.given_params()}

    def splitter(self) -> WalkForwardSplitter:
        """The walk-forward splitter these settings describe."""
        return WalkForwardSplitter(self.train_days, self.retrain_every, self.lookback, self.window)

    def forecasters(self) -> list[Forecaster]:
        """The ensemble the walk-forward fits: one member per seed (``seed``, ``seed + 10000``, ...).

        Each member's initial weights come from its seed and its shuffle order from
        (seed, fold), so members differ. A model without a ``seed`` parameter is
        deterministic and needs no second member.
        """
        if "seed" not in self.model_parameters():
            return [self.forecaster()]
        return [self.forecaster(seed=self.seed + MEMBER_STEP * i) for i in range(self.seeds)]

    def forecaster(self, seed: int | None = None) -> Forecaster:
        """A fresh, unfitted forecaster built from ``params`` (and the seed, when the model takes one)."""
        cls = self.forecaster_class()
        kwargs = self.given_params()
        if "seed" in registry.parameters(cls):
            kwargs["seed"] = self.seed if seed is None else seed
        return cls(**kwargs)

    def replace(self, **changes: Any) -> ForecastConfig:
        """A copy with ``changes``; switching ``model`` drops params the new model does not take."""
        if "model" in changes and "params" not in changes and changes["model"] != self.model:
            changes["params"] = ()
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready values; ``params`` lists every model parameter, defaults included."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "params"}
        out["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.resolved_params().items()}
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ForecastConfig:
        """The config ``to_dict`` wrote, also from files written before ``params`` existed.

        Those kept the LSTM's settings (epochs, units, ...) beside the general ones; any key
        that is not a general setting is taken as a model parameter.
        """
        general = {f.name for f in dataclasses.fields(cls)} - {"params"}
        base = cls(**{k: v for k, v in values.items() if k in general})
        if "params" in values:
            return dataclasses.replace(base, params=tuple(dict(values["params"] or {}).items()))
        takes = base.model_parameters()
        legacy = tuple((k, v) for k, v in values.items() if k not in general and k in takes and k != "seed")
        return dataclasses.replace(base, params=legacy)
