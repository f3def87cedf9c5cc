"""Run configuration: the typed, frozen dataclasses (``schema``) and the file layer that fills them.

A run is a pure function of a ``RunConfig`` and its data, so a config can be shipped to
another process or a cluster worker unchanged.
"""

from .schema import BrokerConfig, DataConfig, DataSource, RunConfig, StrategyConfig, forecast_config

__all__ = ["BrokerConfig", "DataConfig", "DataSource", "RunConfig", "StrategyConfig", "forecast_config"]
