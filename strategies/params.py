"""A strategy's own parameters: what its class declares, checked and typed, and the warm-up they imply.

A strategy declares its parameters the backtrader way, ``params = (("fast", 20), ...)``; each
default's type is the parameter's type (a bool is no int, an int is also a float, a ``None``
default takes any scalar). Values come from a config file (TOML-typed) or from
``--strategy-param KEY=VALUE`` (text, read by the default's type). A strategy whose indicators
need history before a paper-trading day declares ``warmup`` (bars), or ``warmup_for(params)``
when that depends on its parameters (sma-cross: ``slow - 1``); a ``check_params(params)``
staticmethod may refuse combinations (ValueError naming the parameter).
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from typing import Any

__all__ = ["ParamError", "coerce", "configured", "declared", "resolve", "warmup"]


class ParamError(ValueError):
    """A strategy parameter that is unknown, has no value or has the wrong type (one line)."""


def declared(cls: type) -> dict[str, Any]:
    """The parameters ``cls`` declares (backtrader ``params``) and their defaults, in declaration order."""
    params = getattr(cls, "params", None)
    if params is None or not hasattr(params, "_getitems"):
        return {}
    return dict(params._getitems())


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, str):
        return "a string"
    return "a value"


def _from_text(text: str, default: Any) -> Any:
    """``text`` read as the default's type; ParamError-free: returns ``text`` unchanged when it does not parse."""
    raw = text.strip()
    if isinstance(default, bool):
        return {"true": True, "false": False}.get(raw.lower(), text)
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            return text
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            return text
    if isinstance(default, str):
        return text
    try:  # a None (or other) default: a number or boolean as TOML reads it, else the text
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def coerce(name: str, value: Any, default: Any) -> Any:
    """``value`` (TOML-typed, or text from the command line) as the type of ``default``; ParamError if it is not."""
    if isinstance(value, str) and not isinstance(default, str):
        if not value.strip():
            raise ParamError(f"strategy parameter {name!r} has no value; give {name}={_kind(default)}.")
        value = _from_text(value, default)
    ok = True
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif default is None:
        ok = isinstance(value, bool | int | float | str) and not (isinstance(value, float) and not math.isfinite(value))
    if not ok:
        raise ParamError(f"strategy parameter {name!r} must be {_kind(default)}. Got {value!r}.")
    return value


def resolve(cls: type, given: Mapping[str, Any], *, strategy: str) -> dict[str, Any]:
    """Every parameter of ``cls``: its defaults with ``given`` over them, checked; ParamError names a bad one."""
    defaults = declared(cls)
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        names = ", ".join(defaults) or "none"
        raise ParamError(f"strategy {strategy!r} has no parameter {unknown[0]!r}; its parameters: {names}.")
    values = {**defaults, **{k: coerce(k, v, defaults[k]) for k, v in given.items()}}
    check = getattr(cls, "check_params", None)
    if callable(check):
        check(values)
    warmup(cls, values)  # a warm-up that cannot be computed is refused here, before any work
    return values


def warmup(cls: type, values: Mapping[str, Any]) -> int:
    """Bars of history before the previous close that ``cls`` with ``values`` needs (``warmup_for`` or ``warmup``)."""
    rule = getattr(cls, "warmup_for", None)
    bars = rule(values) if callable(rule) else getattr(cls, "warmup", 0)
    if isinstance(bars, bool) or not isinstance(bars, int) or bars < 0:
        raise ParamError(f"{cls.__name__}'s warm-up must be a whole number of bars >= 0. Got {bars!r}.")
    return bars


def configured(cls: type, given: Mapping[str, Any]) -> type:
    """``cls`` with ``given`` as its parameters' defaults and its ``warmup`` derived from them.

    ``cls`` itself when nothing is given, so a default run uses the class unchanged. The subclass
    is made once per (class, values), so paper trading's per-class wrappers are made once too.
    """
    if not given:
        return cls
    return _subclass(cls, tuple(sorted(given.items())))


@functools.cache
def _subclass(cls: type, items: tuple[tuple[str, Any], ...]) -> type:
    values = {**declared(cls), **dict(items)}
    namespace = {"params": items, "warmup": warmup(cls, values), "__doc__": cls.__doc__,
                 "__module__": cls.__module__, "__qualname__": cls.__qualname__}  # fmt: skip
    return type(cls.__name__, (cls,), namespace)
