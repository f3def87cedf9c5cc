"""The ``bt`` command: ``app`` (run, walk-forward, report, strategies, models, config), ``paper`` (paper
trading and signals), ``options`` (shared options and the config they build) and ``console`` (output).

``app`` is imported on first use: ``main`` forks the drawing process before it imports anything else.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Any

__all__ = ["app", "main"]


def _commands() -> ModuleType:
    """The ``app`` module, imported now; ``app`` here is its Typer application (not the module, which
    importing it binds to that name)."""
    module = importlib.import_module(".app", __name__)
    globals()["app"] = module.app
    return module


def main() -> None:
    """The console-script entry point: the drawing process first (``backtests.drawing.start_early``),
    for a command that draws a page in one, then the command (``app.main``)."""
    from ..drawing import start_early, stop_early

    try:
        start_early(sys.argv[1:])
        commands = _commands()
    except KeyboardInterrupt:  # Ctrl-C while starting: the exit code of an interrupted command, no traceback
        stop_early()
        os._exit(130)
    commands.main()


def __getattr__(name: str) -> Any:
    if name == "app":
        return _commands().app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
