"""Strategies: backtrader classes that only decide, plus the feed that carries forecasts.

Names are imported lazily so that ``strategies.registry`` (used by ``bt
strategies``) does not pay for importing backtrader.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BuyAndHold": "strategies.classic",
    "SmaCross": "strategies.classic",
    "ForecastData": "strategies.feeds",
    "attach_forecasts": "strategies.feeds",
    "ForecastStrategy": "strategies.lstm_strategy",
    "forecast_target": "strategies.signals",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'strategies' has no attribute {name!r}")
