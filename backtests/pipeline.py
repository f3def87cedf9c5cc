"""What ``bt run`` and ``bt walk-forward`` do, as library calls: check, load, compute, write the folder.

A run is a set of N >= 1 tickers, and one pipeline runs it: ``run_and_write`` of a ``RunRequest`` whose config
is one ticker's (``RunConfig``) or a ranking's over many (``PortfolioConfig``). Both kinds share the folder rule
(``runs/NAME-STRATEGY-YYYYmmdd-HHMMSS``), the checks of the folder and the forecast cache before any work, the
cache, and the one staged writer (``runfolder.write_folder``); only the computation and the tables differ.
Everything here is usable from Python without the CLI; ``notify`` receives one-line notices (data fallbacks),
``on_fold`` one ticker's training progress and ``on_ticker`` a ranking's, ticker by ticker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import pandas as pd

from forecasting.walkforward import FoldCallback
from reports.saved import SavedRun
from reports.tearsheet import tearsheet_html, tearsheet_title

from .cache import ForecastCache
from .config import RunConfig
from .data import benchmark_prices, default_cache_dir, ticker_prices
from .outfolder import check_writable
from .parallel import ExecutorSession
from .runfolder import FolderContents, run_contents, walk_forward_metadata, write_folder, write_walk_forward
from .runner import RunResult, forecast, run

if TYPE_CHECKING:
    from reports.build import Pending

    from .portfolio.config import PortfolioConfig
    from .portfolio.forecasts import OnTicker
    from .portfolio.runner import PortfolioResult

Notify = Callable[[str], None]
ConfigT = TypeVar("ConfigT", RunConfig, "PortfolioConfig")  # the portfolio package is imported only for a ranking


def run_name(config: RunConfig | PortfolioConfig) -> str:
    """What a run is called in its folder's name: its ticker, or a ranking's portfolio name (DOW30, PORTFOLIO)."""
    return config.data.ticker if isinstance(config, RunConfig) else config.name


def default_run_folder(config: RunConfig | PortfolioConfig, now: dt.datetime | None = None,
                       kind: str | None = None) -> Path:  # fmt: skip
    """``runs/NAME-STRATEGY-YYYYmmdd-HHMMSS`` (``kind`` in place of the strategy: ``walk-forward``): a new
    folder, so no earlier run is overwritten."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    strategy = config.strategy.name if isinstance(config, RunConfig) else config.run.strategy.name
    return Path("runs") / f"{run_name(config)}-{kind or strategy}-{stamp}"


@dataclass(frozen=True)
class RunRequest(Generic[ConfigT]):
    """A run's config (one ticker's ``RunConfig`` or a ranking's ``PortfolioConfig``), where to write it and
    whether to use the forecast cache. ``cache_dir``: the cache folder (default ``$BT_CACHE_DIR``) of the
    forecasts, and of one ticker's downloaded prices (a ranking's prices use the default). ``universe``: a
    ranking's universe as chosen (its members and those without data), kept in run.json; None for one ticker
    or a list of tickers."""

    config: ConfigT
    out: Path | None = None
    use_cache: bool = True
    cache_dir: Path | None = None
    overwrite: bool = False
    universe: dict[str, Any] | None = None

    def folder(self, now: dt.datetime | None = None, kind: str | None = None) -> Path:
        """``out``, else ``default_run_folder``."""
        return Path(self.out) if self.out is not None else default_run_folder(self.config, now, kind)

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


@overload
def run_and_write(request: RunRequest[RunConfig], *, notify: Notify | None = ..., on_fold: FoldCallback | None = ...,
                  on_ticker: OnTicker | None = ..., executor: ExecutorSession | None = ...,
                  ) -> tuple[RunResult, dict[str, Path]]: ...  # fmt: skip
@overload
def run_and_write(request: RunRequest[PortfolioConfig], *, notify: Notify | None = ...,
                  on_fold: FoldCallback | None = ..., on_ticker: OnTicker | None = ...,
                  executor: ExecutorSession | None = ...) -> tuple[PortfolioResult, dict[str, Path]]: ...  # fmt: skip
def run_and_write(request: RunRequest[Any], *, notify: Notify | None = None, on_fold: FoldCallback | None = None,
                  on_ticker: OnTicker | None = None, executor: ExecutorSession | None = None,
                  ) -> tuple[RunResult | PortfolioResult, dict[str, Path]]:  # fmt: skip
    """Check the folder and the cache, run (one ticker, or a ranking over many), and write the run folder;
    returns the result and the files written.

    With an ``executor`` the run's independent pieces run where it says (one ticker's walk-forward pieces, a
    ranking's tickers and rules), its workers stop once the forecasts and backtests are done, and the
    tearsheet is drawn by it (one ticker's from the moment the strategy's returns are known) while the
    report's charts are drawn here.
    """
    out = request.folder()
    request.check(out, "run.json")
    result: RunResult | PortfolioResult
    if isinstance(request.config, RunConfig):
        result, contents, tearsheet = _single(request, notify, on_fold, executor)
    else:
        result, contents, tearsheet = _ranking(request, notify, on_ticker, executor)
    draw = executor.draw if executor is not None and tearsheet is None else None
    return result, write_folder(contents, out, overwrite=request.overwrite, tearsheet=tearsheet, draw=draw)


def _single(request: RunRequest[RunConfig], notify: Notify | None, on_fold: FoldCallback | None,
            executor: ExecutorSession | None) -> tuple[RunResult, FolderContents, Pending | None]:  # fmt: skip
    """One ticker's run, its folder's contents, and its tearsheet if ``executor`` is drawing it already."""
    data = request.config.data
    prices = ticker_prices(data, cache_dir=request.cache_dir, notify=notify)
    benchmark = benchmark_prices(data, cache_dir=request.cache_dir, notify=notify)
    started: list[Pending] = []

    def start_tearsheet(returns: pd.DataFrame) -> None:
        assert executor is not None
        executor.release_workers()  # forecasting is done: the cluster stops while the report is written
        title = tearsheet_title(prices.ticker, request.config.strategy.name, f"{returns.index[0]:%Y-%m-%d}",
                                f"{returns.index[-1]:%Y-%m-%d}")  # fmt: skip
        bench = returns["benchmark"].rename(benchmark.ticker)
        started.append(executor.draw(tearsheet_html, returns["strategy"], bench, title))

    result = run(request.config, prices, benchmark, cache=request.cache(notify), on_fold=on_fold, executor=executor,
                 on_strategy=start_tearsheet if executor is not None else None)  # fmt: skip
    return result, run_contents(result), started[0] if started else None


def _ranking(request: RunRequest[PortfolioConfig], notify: Notify | None, on_ticker: OnTicker | None,
             executor: ExecutorSession | None) -> tuple[PortfolioResult, FolderContents, None]:  # fmt: skip
    """A ranking's run over its tickers and its folder's contents (its tearsheet is drawn with the report)."""
    from .portfolio.folder import portfolio_contents
    from .portfolio.runner import run_portfolio

    result = run_portfolio(request.config, universe=request.universe, cache=request.cache(notify),
                           executor=executor, notify=notify, on_ticker=on_ticker)  # fmt: skip
    if executor is not None:
        executor.release_workers()  # the cluster stops in the background while the folder is written
    return result, portfolio_contents(result), None


def walk_forward_and_write(request: RunRequest[RunConfig], *, notify: Notify | None = None,
                           on_fold: FoldCallback | None = None, executor: ExecutorSession | None = None,
                           ) -> tuple[dict[str, Any], dict[str, Path]]:  # fmt: skip
    """``bt walk-forward``: forecasts and baselines only, their metrics, and forecast.html.

    Writes forecasts.csv, folds.csv, baselines.csv, metrics.json and forecast.html;
    returns the contents of metrics.json and the files written.
    """
    config = request.config
    out = request.folder(kind="walk-forward")
    request.check(out, "metrics.json")
    prices = ticker_prices(config.data, cache_dir=request.cache_dir, notify=notify)
    fc = forecast(config, prices, cache=request.cache(notify), on_fold=on_fold, executor=executor)
    if executor is not None:
        executor.release_workers()
    meta = walk_forward_metadata(config, prices, fc.forecasts, fc.from_cache)
    saved = SavedRun(out, meta, None, None, fc.forecasts, fc.folds, fc.baselines)
    return meta, write_walk_forward(saved, out, overwrite=request.overwrite)
