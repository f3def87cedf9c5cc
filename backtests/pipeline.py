"""What ``bt run`` and ``bt walk-forward`` do, as library calls: load, compute, write the folder.

Everything here is usable from Python without the CLI; ``notify`` receives one-line
notices (data fallbacks) and ``on_fold`` training progress.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.walkforward import FoldCallback
from reports.saved import SavedRun
from reports.tearsheet import tearsheet_html, tearsheet_title

from .cache import ForecastCache
from .config import RunConfig
from .data import benchmark_prices, default_cache_dir, ticker_prices
from .outfolder import check_writable
from .parallel import ExecutorSession
from .runfolder import walk_forward_metadata, write_run, write_walk_forward
from .runner import RunResult, forecast, run

Notify = Callable[[str], None]


def default_run_folder(config: RunConfig, now: dt.datetime | None = None, kind: str | None = None) -> Path:
    """``runs/TICKER-STRATEGY-YYYYmmdd-HHMMSS``: a new folder, so no earlier run is overwritten."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.data.ticker}-{kind or config.strategy.name}-{stamp}"


@dataclass(frozen=True)
class RunRequest:
    """A config plus where to write and whether to use the forecast cache."""

    config: RunConfig
    out: Path | None = None
    use_cache: bool = True
    cache_dir: Path | None = None
    overwrite: bool = False

    def check(self, out: Path, marker: str) -> None:
        """Before any work: the output folder and the cache folder can be written (one-line errors)."""
        check_writable(out, what="run folder", marker=marker, overwrite=self.overwrite)
        if self.use_cache:
            check_writable((self.cache_dir or default_cache_dir()) / "forecasts", what="forecast cache folder",
                           hint="set BT_CACHE_DIR to a writable folder or pass --no-cache")  # fmt: skip

    def cache(self, notify: Notify | None = None) -> ForecastCache | None:
        """The forecast cache this request reads and writes, or None with ``use_cache=False``."""
        if not self.use_cache:
            return None
        return ForecastCache((self.cache_dir or default_cache_dir()) / "forecasts", notify=notify)


def run_and_write(request: RunRequest, *, notify: Notify | None = None, on_fold: FoldCallback | None = None,
                  executor: ExecutorSession | None = None) -> tuple[RunResult, dict[str, Path]]:  # fmt: skip
    """Load data, run, and write the run folder; returns the result and the files written.

    With an ``executor`` the walk-forward's independent pieces run where it says, and the tearsheet
    is drawn by it from the moment the strategy's returns are known, while the rest of the run and
    the report's charts are computed here; its workers, needed no more by then, stop meanwhile.
    """
    out = Path(request.out or default_run_folder(request.config))
    request.check(out, "run.json")
    data = request.config.data
    prices = ticker_prices(data, cache_dir=request.cache_dir, notify=notify)
    benchmark = benchmark_prices(data, cache_dir=request.cache_dir, notify=notify)
    started: list[Any] = []

    def start_tearsheet(returns: pd.DataFrame) -> None:
        assert executor is not None
        executor.release_workers()  # forecasting is done: the cluster stops while the report is written
        title = tearsheet_title(prices.ticker, request.config.strategy.name, f"{returns.index[0]:%Y-%m-%d}",
                                f"{returns.index[-1]:%Y-%m-%d}")  # fmt: skip
        bench = returns["benchmark"].rename(benchmark.ticker)
        started.append(executor.draw(tearsheet_html, returns["strategy"], bench, title))

    result = run(request.config, prices, benchmark, cache=request.cache(notify), on_fold=on_fold, executor=executor,
                 on_strategy=start_tearsheet if executor is not None else None)  # fmt: skip
    return result, write_run(result, out, overwrite=request.overwrite, tearsheet=started[0] if started else None)


def walk_forward_and_write(request: RunRequest, *, notify: Notify | None = None, on_fold: FoldCallback | None = None,
                           executor: ExecutorSession | None = None,
                           ) -> tuple[dict[str, Any], dict[str, Path]]:  # fmt: skip
    """``bt walk-forward``: forecasts and baselines only, their metrics, and forecast.html.

    Writes forecasts.csv, folds.csv, baselines.csv, metrics.json and forecast.html;
    returns the contents of metrics.json and the files written.
    """
    config = request.config
    out = Path(request.out or default_run_folder(config, kind="walk-forward"))
    request.check(out, "metrics.json")
    prices = ticker_prices(config.data, cache_dir=request.cache_dir, notify=notify)
    fc = forecast(config, prices, cache=request.cache(notify), on_fold=on_fold, executor=executor)
    if executor is not None:
        executor.release_workers()
    meta = walk_forward_metadata(config, prices, fc.forecasts, fc.from_cache)
    saved = SavedRun(out, meta, None, None, fc.forecasts, fc.folds, fc.baselines)
    return meta, write_walk_forward(saved, out, overwrite=request.overwrite)
