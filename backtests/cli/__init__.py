"""The ``bt`` command: ``app`` (run, walk-forward, report, strategies, models, config), ``paper`` (paper
trading and signals), ``options`` (shared options and the config they build) and ``console`` (output)."""

from .app import app, main

__all__ = ["app", "main"]
