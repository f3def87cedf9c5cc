"""The library entry points behind ``bt run``: load the data a config names, run, write.

Everything here is usable from Python without the CLI; ``notify`` receives
one-line notices (data fallbacks) and ``on_fold`` training progress.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from forecasting.walkforward import FoldCallback

from .cache import ForecastCache
from .config import DataConfig, RunConfig
from .data import PriceData, default_cache_dir, load_prices
from .runner import RunResult, run, write_run

Notify = Callable[[str], None]


def load_run_data(config: DataConfig, *, notify: Notify | None = None,
                  cache_dir: Path | None = None) -> tuple[PriceData, PriceData]:  # fmt: skip
    """The prices and benchmark prices a data config names."""
    prices = load_prices(config.ticker, csv=None if config.csv is None else Path(config.csv),
                         source=config.source, cache_dir=cache_dir, notify=notify)  # fmt: skip
    bench_csv = None if config.benchmark_csv is None else Path(config.benchmark_csv)
    benchmark = load_prices(config.benchmark, csv=bench_csv, source=config.source,
                            cache_dir=cache_dir, notify=notify)  # fmt: skip
    return prices, benchmark


def default_run_folder(config: RunConfig, now: dt.datetime | None = None) -> Path:
    """``runs/TICKER-STRATEGY-YYYYmmdd-HHMMSS``: a new folder, so no earlier run is overwritten."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.data.ticker}-{config.strategy.name}-{stamp}"


@dataclass(frozen=True)
class RunRequest:
    """A config plus where to write and whether to use the forecast cache."""

    config: RunConfig
    out: Path | None = None
    use_cache: bool = True
    cache_dir: Path | None = None


def run_and_write(request: RunRequest, *, notify: Notify | None = None,
                  on_fold: FoldCallback | None = None) -> tuple[RunResult, dict[str, Path]]:  # fmt: skip
    """Load data, run, and write the run folder; returns the result and the files written."""
    cache_root = request.cache_dir or default_cache_dir()
    prices, benchmark = load_run_data(request.config.data, notify=notify, cache_dir=cache_root)
    cache = ForecastCache(cache_root / "forecasts") if request.use_cache else None
    result = run(request.config, prices, benchmark, cache=cache, on_fold=on_fold)
    out = request.out or default_run_folder(request.config)
    return result, write_run(result, out)
