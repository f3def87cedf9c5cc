"""The typed summaries of a run and of a portfolio run, and their one dict form (run.json's ``summary``).

A summary is built once from a run's returns (``backtests.runner.summarise``,
``backtests.portfolio.rules.summarise``) and read by attribute everywhere in memory.
``to_dict`` is the only way to its JSON form, written in the order run.json has always had;
``from_dict`` is the only way back, and checks every field. Every constructor checks the type
of every field (``checked``), so a wrong value fails where it is made, not pages later.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import metrics


def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of type ``hint``: float, int, str, bool, a dataclass, ``X | None`` or ``dict[str, X]``."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if origin is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(_fits(k, key) and _fits(v, item) for k, v in value.items())
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, float)
    return isinstance(value, hint)


def _name(hint: Any) -> str:
    """``float``, ``int | None``, ``dict[str, Performance]``: a type as it is written in the class."""
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(\w+)", r"\1", str(hint))


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved field types of a dataclass, worked out once per class."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def checked(obj: Any) -> None:
    """Raise TypeError naming the field and showing the value when a field of dataclass ``obj`` has the wrong type."""
    hints = _hints(type(obj))
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if not _fits(value, hints[field.name]):
            raise TypeError(f"{type(obj).__name__}.{field.name} must be {_name(hints[field.name])}. Got {value!r}.")


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise TypeError(f"{what} must be a mapping. Got {data!r}.")
    return data


def _from(cls: type, data: Any, what: str) -> Any:
    """A dataclass of flat fields from its dict form: exactly its fields, each checked by the constructor."""
    data = _mapping(data, what)
    names = [f.name for f in dataclasses.fields(cls)]
    if sorted(data) != sorted(names):
        raise TypeError(f"{what} must have the fields {names}. Got {list(data)}.")
    return cls(**data)


@dataclass(frozen=True)
class Performance:
    """The four headline figures of one return series (``reports.metrics.performance``)."""

    total_return: float
    cagr: float
    sharpe: float
    max_drawdown: float

    def __post_init__(self) -> None:
        checked(self)

    @classmethod
    def of(cls, returns: pd.Series) -> Performance:
        """The figures of ``returns``."""
        return cls(**metrics.performance(returns))

    def to_dict(self) -> dict[str, float]:
        """The figures in run.json's order."""
        return dataclasses.asdict(self)


def _performances(data: Mapping[str, Any], known: tuple[str, ...], what: str) -> dict[str, Performance]:
    """The per-column figures of a summary's dict form: every key that is not a known field."""
    return {col: _from(Performance, value, f"{what}.{col}") for col, value in data.items() if col not in known}


@dataclass(frozen=True)
class ForecastAccuracy:
    """The model's forecasts against the naive forecast over a run's days; ``folds`` is None in a paper run."""

    forecast_rmse: float
    naive_rmse: float
    rmse_ratio: float
    dm_p_value: float
    folds: int | None = None

    def __post_init__(self) -> None:
        checked(self)


RUN_FIELDS = ("psr_vs_zero", "psr_vs_buy_and_hold", "trades", "first_day", "last_day", "days")
ACCURACY_FIELDS = ("forecast_rmse", "naive_rmse", "rmse_ratio", "dm_p_value", "folds")


@dataclass(frozen=True)
class RunSummary:
    """Headline figures of one run: each return column's performance (in the returns' column order), the
    strategy's PSR against zero and buy-and-hold, fills, the days, and the forecasts' accuracy if any."""

    performance: dict[str, Performance]
    psr_vs_zero: float
    psr_vs_buy_and_hold: float
    trades: int
    first_day: str
    last_day: str
    days: int
    forecast: ForecastAccuracy | None = None

    def __post_init__(self) -> None:
        checked(self)

    def to_dict(self) -> dict[str, Any]:
        """run.json's ``summary``: the columns' figures, then the fields, then the accuracy, as always written."""
        out: dict[str, Any] = {col: p.to_dict() for col, p in self.performance.items()}
        out.update({name: getattr(self, name) for name in RUN_FIELDS})
        if self.forecast is not None:
            accuracy = dataclasses.asdict(self.forecast)
            out.update({k: v for k, v in accuracy.items() if k != "folds" or v is not None})
        return out

    @classmethod
    def from_dict(cls, data: Any) -> RunSummary:
        """A summary from run.json's form; TypeError naming the field when one is missing or of the wrong type."""
        data = _mapping(data, "summary")
        missing = [name for name in RUN_FIELDS if name not in data]
        if missing:
            raise TypeError(f"summary lacks the fields {missing}.")
        forecast = None
        if "forecast_rmse" in data:
            missing = [name for name in ACCURACY_FIELDS[:-1] if name not in data]
            if missing:
                raise TypeError(f"summary has forecast_rmse but lacks the fields {missing}.")
            forecast = ForecastAccuracy(**{k: data[k] for k in ACCURACY_FIELDS if k in data})
        performances = _performances(data, RUN_FIELDS + ACCURACY_FIELDS, "summary")
        return cls(performances, forecast=forecast, **{name: data[name] for name in RUN_FIELDS})


@dataclass(frozen=True)
class Activity:
    """One portfolio rule's trading: fills, refused orders, annual turnover and costs (money, and fraction of cash)."""

    fills: int
    refused: int
    turnover_per_year: float
    commission: float
    slippage: float
    costs: float
    costs_fraction: float

    def __post_init__(self) -> None:
        checked(self)


@dataclass(frozen=True)
class Coverage:
    """What a portfolio run covered: tickers traded and left out, most folds, forecasts read from the cache."""

    tickers: int
    left_out: int
    folds: int
    forecasts_from_cache: int

    def __post_init__(self) -> None:
        checked(self)


PORTFOLIO_FIELDS = ("psr_vs_zero", "psr", "activity", "trades", "first_day", "last_day", "days")
COVERAGE_FIELDS = ("tickers", "left_out", "folds", "forecasts_from_cache")


@dataclass(frozen=True)
class PortfolioSummary:
    """Headline figures of a portfolio run: each column's performance, the strategy's PSR against zero and each
    other column (``psr``), each rule's activity, fills and days; ``coverage`` is None in a paper account."""

    performance: dict[str, Performance]
    psr_vs_zero: float
    psr: dict[str, float]
    activity: dict[str, Activity]
    trades: int
    first_day: str
    last_day: str
    days: int
    coverage: Coverage | None = None

    def __post_init__(self) -> None:
        checked(self)

    def to_dict(self) -> dict[str, Any]:
        """run.json's ``summary``, in the order it has always been written."""
        out: dict[str, Any] = {col: p.to_dict() for col, p in self.performance.items()}
        out.update({name: getattr(self, name) for name in PORTFOLIO_FIELDS})
        out["psr"] = dict(self.psr)
        out["activity"] = {name: dataclasses.asdict(a) for name, a in self.activity.items()}
        if self.coverage is not None:
            out.update(dataclasses.asdict(self.coverage))
        return out

    @classmethod
    def from_dict(cls, data: Any) -> PortfolioSummary:
        """A summary from run.json's form; TypeError naming the field when one is missing or of the wrong type."""
        data = _mapping(data, "summary")
        missing = [name for name in PORTFOLIO_FIELDS if name not in data]
        if missing:
            raise TypeError(f"summary lacks the fields {missing}.")
        activity = {name: _from(Activity, a, f"summary.activity.{name}")
                    for name, a in _mapping(data["activity"], "summary.activity").items()}  # fmt: skip
        coverage = None
        if any(name in data for name in COVERAGE_FIELDS):
            coverage = _from(Coverage, {k: data.get(k) for k in COVERAGE_FIELDS}, "summary's coverage")
        fields = {name: data[name] for name in PORTFOLIO_FIELDS if name != "activity"}
        return cls(_performances(data, PORTFOLIO_FIELDS + COVERAGE_FIELDS, "summary"), activity=activity,
                   coverage=coverage, **fields)  # fmt: skip
