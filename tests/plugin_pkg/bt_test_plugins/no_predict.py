"""A plugin class that breaks the forecaster contract: it has no ``predict``."""

from __future__ import annotations

from typing import Any


class NoPredictForecaster:
    """Fits, but cannot forecast."""

    name = "no-predict"

    def fit(self, windows: Any, targets: Any) -> NoPredictForecaster:
        return self

    def get_params(self) -> dict[str, Any]:
        return {}
