"""What ``bt run topk-strategy`` does, as a library call: check, forecast, backtest, write the folder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cache import ForecastCache
from ..data import default_cache_dir
from ..outfolder import check_writable
from ..parallel import ExecutorSession
from .config import PortfolioConfig
from .forecasts import OnTicker
from .runner import PortfolioResult, run_portfolio

Notify = Callable[[str], None]


@dataclass(frozen=True)
class PortfolioRequest:
    """A portfolio config, the universe it came from, where to write, the cache and where the work runs.

    ``executor``: None (everything in this process), or the command's open ``ExecutorSession``, which
    computes the forecasts the cache does not hold (their tables come back from its tasks) and backtests
    the rule and its comparisons side by side. ``draw``: where the tearsheet is drawn.
    """

    config: PortfolioConfig
    universe: dict[str, Any] | None = None
    out: Path | None = None
    use_cache: bool = True
    overwrite: bool = False
    executor: ExecutorSession | None = None
    draw: Callable[..., Any] | None = None  # draw(fn, *args): the tearsheet drawn elsewhere meanwhile

    def folder(self, now: dt.datetime | None = None) -> Path:
        """``--out``, else ``runs/NAME-topk-strategy-YYYYmmdd-HHMMSS``."""
        if self.out is not None:
            return Path(self.out)
        stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
        return Path("runs") / f"{self.config.name}-{self.config.run.strategy.name}-{stamp}"

    def check(self, out: Path) -> None:
        """Before any work: the run folder and the forecast cache can be written (one-line errors)."""
        check_writable(out, what="run folder", marker="run.json", overwrite=self.overwrite)
        if self.use_cache:
            check_writable(default_cache_dir() / "forecasts", what="forecast cache folder",
                           hint="set BT_CACHE_DIR to a writable folder or pass --no-cache")  # fmt: skip

    def cache(self, notify: Notify | None = None) -> ForecastCache | None:
        """The forecast cache, or None with ``use_cache=False``."""
        return ForecastCache(default_cache_dir() / "forecasts", notify=notify) if self.use_cache else None


def run_and_write_portfolio(request: PortfolioRequest, *, notify: Notify | None = None,
                            on_ticker: OnTicker | None = None) -> tuple[PortfolioResult, dict[str, Path]]:  # fmt: skip
    """Check the outputs, run the portfolio and write its folder; the result and the files written."""
    out = request.folder()
    request.check(out)
    result = run_portfolio(request.config, universe=request.universe, cache=request.cache(notify),
                           executor=request.executor, notify=notify, on_ticker=on_ticker)  # fmt: skip
    if request.executor is not None:
        request.executor.release_workers()  # the cluster stops in the background while the folder is written
    return result, result.save(out, overwrite=request.overwrite, draw=request.draw)
