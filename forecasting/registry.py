"""Named forecasters: the built-ins and plugins (entry-point group ``bt_lstm.forecasters``).

A plugin's entry point names a class that implements the forecaster contract (see
``forecasting.base``): ``fit(windows, targets)`` returning the forecaster, ``predict(windows)``,
``get_params()``, a class attribute ``name``, picklable. Listing never fails: a plugin that
cannot be imported, or breaks the contract, is listed with its error and refused by ``load``
with one line naming it. ``code_identity`` is what the forecast cache keys on, so a changed
plugin retrains instead of reusing stale forecasts.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUP = "bt_lstm.forecasters"
REQUIRED = ("fit", "predict", "get_params")

_BUILTIN = {
    "lstm": "forecasting.lstm:LSTMForecaster",
    "naive": "forecasting.baselines:NaiveForecaster",
    "drift": "forecasting.baselines:DriftForecaster",
    "moving-average": "forecasting.baselines:MovingAverageForecaster",
    "ridge": "forecasting.baselines:RidgeForecaster",
}


class ForecasterError(ValueError):
    """An unknown forecaster name, or a plugin that fails to import or breaks the contract."""


@dataclass(frozen=True)
class ForecasterSpec:
    """A registered forecaster: where its class lives and which distribution ships it."""

    name: str
    target: str
    distribution: str | None = None  # None for the built-ins
    version: str | None = None

    @property
    def builtin(self) -> bool:
        return self.distribution is None

    def load(self) -> type:
        """Import the class and check the contract; ForecasterError (one line) when either fails."""
        return _load(self)

    def problem(self) -> str | None:
        """Why the plugin cannot be used, or None."""
        try:
            self.load()
        except ForecasterError as exc:
            return str(exc)
        return None

    def description(self) -> str:
        """The class's ``description``, else its docstring's first line, else why it is broken."""
        try:
            cls = self.load()
        except ForecasterError as exc:
            return f"broken plugin: {exc}"
        doc = getattr(cls, "description", "") or (cls.__doc__ or "").strip().split("\n")[0]
        return doc or "plugin forecaster"


@cache
def _load(spec: ForecasterSpec) -> type:
    where = f"forecaster {spec.name!r} ({spec.target}" + (f", from {spec.distribution}" if spec.distribution else "")
    module_name, _, attr = spec.target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:  # a plugin's import error must not become a traceback
        raise ForecasterError(f"{where}) fails to import: {type(exc).__name__}: {exc}".split("\n")[0]) from None
    if not isinstance(cls, type):
        raise ForecasterError(f"{where}) is not a class")
    missing = [m for m in REQUIRED if not callable(getattr(cls, m, None))]
    if missing:
        raise ForecasterError(f"{where}) breaks the forecaster contract: no {', '.join(missing)} method")
    return cls


def available() -> dict[str, ForecasterSpec]:
    """Every forecaster by name: built-ins first, then installed plugins (a plugin cannot shadow a built-in)."""
    specs = {name: ForecasterSpec(name, target) for name, target in _BUILTIN.items()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in specs:
            dist = ep.dist.name if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else "unknown"
            specs[ep.name] = ForecasterSpec(ep.name, ep.value, dist, version)
    return specs


def get(name: str) -> ForecasterSpec:
    """The forecaster called ``name``; ForecasterError lists the known names.

    A built-in is found without scanning the installed distributions' entry points (a plugin cannot
    shadow it), which a portfolio of thirty tickers would otherwise do hundreds of times.
    """
    if name in _BUILTIN:
        return ForecasterSpec(name, _BUILTIN[name])
    specs = available()
    if name not in specs:
        raise ForecasterError(f"unknown model {name!r}; choose one of: {', '.join(specs)} (see `bt models`).")
    return specs[name]


def saved_class(path: str) -> type | None:
    """The registered forecaster class a saved model names (``module:Class``), or None; nothing else is imported.

    ``path`` is matched by name against the built-ins' and the installed plugins' entry points first;
    a plugin whose class lives elsewhere than its entry point says (re-exported by its package) is
    matched by the class's own ``module:Class`` once the plugin, registered by the user, is loaded.
    """
    builtin = next((ForecasterSpec(name, t) for name, t in _BUILTIN.items() if t == path), None)
    if builtin is not None:  # found without scanning the installed distributions (as ``get`` does)
        return _loaded(builtin)
    specs = available()
    for spec in specs.values():
        if spec.target == path:
            return _loaded(spec)
    for spec in specs.values():
        if not spec.builtin and (cls := _loaded(spec)) is not None and f"{cls.__module__}:{cls.__qualname__}" == path:
            return cls
    return None


def _loaded(spec: ForecasterSpec) -> type | None:
    try:
        return spec.load()
    except ForecasterError:
        return None


def parameters(cls: type) -> dict[str, Any]:
    """The constructor parameters of a forecaster class and their defaults (``inspect.Parameter.empty`` if none)."""
    out = {}
    for p in inspect.signature(cls).parameters.values():
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            out[p.name] = p.default
    return out


def code_identity(name: str) -> dict[str, str]:
    """What the forecast cache keys on: the distribution, its version and a digest of the code.

    Built-ins hash the whole ``forecasting`` package; a plugin hashes its top-level package
    (or its module file), so any edit to it changes the key.
    """
    spec = get(name)
    cls = spec.load()
    root = Path(__file__).parent if spec.builtin else _source_root(cls)
    return {"distribution": spec.distribution or "bt-lstm", "version": spec.version or "builtin",
            "code": _digest(root)}  # fmt: skip


def _source_root(cls: type) -> Path:
    top = sys.modules[cls.__module__.split(".")[0]]
    file = getattr(top, "__file__", None) or inspect.getfile(cls)
    path = Path(file)
    return path.parent if path.name == "__init__.py" else path


@cache
def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
    for path in files:
        digest.update(path.relative_to(root.parent).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
