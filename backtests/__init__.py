"""bt-lstm's library surface: what ``bt run`` does, from Python.

    from backtests import DataConfig, RunConfig, run
    result = run(RunConfig(DataConfig("AAPL")))   # loads the bundled prices, trains, backtests
    result.summary.performance["strategy"].sharpe; result.returns; result.forecasts
    result.save("runs/aapl")                      # the run folder and report, as ``bt run`` writes it

``run`` is a pure function of a frozen, picklable ``RunConfig`` and its data, so it runs
unchanged in another process or on a cluster worker. The rooms behind it: ``config``
(dataclasses and config files), ``data`` (prices), ``runner`` (the pure run), ``engine``
(backtrader), ``cache`` (forecast cache), ``runfolder`` (writing), ``pipeline`` (check, run, write: one
ticker's run or a ranking's), ``sweeps`` (many runs on Dask), ``paper`` (paper trading) and ``cli`` (the
``bt`` command).
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use, so ``bt --help`` does not pay for backtrader, scipy or pandas.
_LAZY = {
    "ForecastConfig": "forecasting",
    "BrokerConfig": "backtests.config",
    "DataConfig": "backtests.config",
    "RunConfig": "backtests.config",
    "StrategyConfig": "backtests.config",
    "PriceData": "backtests.data",
    "load_prices": "backtests.data",
    "BtError": "backtests.errors",
    "ConfigError": "backtests.errors",
    "DataError": "backtests.errors",
    "NetworkError": "backtests.errors",
    "RunResult": "backtests.runner",
    "run": "backtests.runner",
    "sweep": "backtests.sweeps",
    "ExecutorSpec": "backtests.sweeps",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'backtests' has no attribute {name!r}")
