"""One sweep job as a worker runs it: the same pure ``run`` as ``bt run``, answered as plain tables.

The worker receives the job's frozen ``RunConfig`` and nothing else, loads its own prices,
reads and writes the shared forecast cache (atomic writes: two workers computing the same
key is harmless), and returns only plain values: one results row (numbers and strings) and
the run folder's files as text. Nothing the client receives needs unpickling beyond Dask's
own protocol of built-in types.
"""

from __future__ import annotations

import math
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from reports.build import build_report
from reports.evaluation import forecast_metrics

from ..cache_key import CacheKey
from ..config import RunConfig
from ..data import default_cache_dir
from ..errors import BtError
from ..page_cache import PageCache
from ..runner import RunResult, default_cache, run

METRICS = ["seeds", "forecast_rmse", "naive_rmse", "theils_u", "dm_stat", "dm_p_value", "directional_accuracy",
           "total_return", "cagr", "sharpe", "max_drawdown", "trades", "bh_total_return", "bh_sharpe",
           "psr_vs_buy_and_hold", "seconds", "worker", "cache_hit"]  # fmt: skip
TIMING = ("seconds", "worker", "cache_hit")  # the columns that differ between two runs of the same sweep


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return f"local {socket.gethostname()}:{os.getpid()}"


def results_row(result: RunResult) -> dict[str, Any]:
    """The sweep's row of one run: forecast accuracy against naive, the strategy against buy-and-hold."""
    s = result.summary
    strategy, hold = s.performance["strategy"], s.performance["buy_and_hold"]
    accuracy = dict.fromkeys(("forecast_rmse", "naive_rmse", "theils_u", "dm_stat", "dm_p_value",
                              "directional_accuracy"), math.nan)  # fmt: skip
    if result.forecasts is not None and s.forecast is not None:
        fm = forecast_metrics(result.forecasts)
        accuracy = {"forecast_rmse": fm.rmse, "naive_rmse": s.forecast.naive_rmse, "theils_u": fm.theils_u,
                    "dm_stat": fm.dm_stat, "dm_p_value": fm.dm_p_value,
                    "directional_accuracy": fm.directional_accuracy}  # fmt: skip
    return {
        "seeds": result.config.forecast.seeds, **accuracy,
        "total_return": strategy.total_return, "cagr": strategy.cagr, "sharpe": strategy.sharpe,
        "max_drawdown": strategy.max_drawdown, "trades": s.trades, "bh_total_return": hold.total_return,
        "bh_sharpe": hold.sharpe, "psr_vs_buy_and_hold": s.psr_vs_buy_and_hold,
        "cache_hit": result.forecasts_from_cache,
    }  # fmt: skip


def _files(result: RunResult, lean: bool, cache_key: CacheKey | None) -> dict[str, str]:
    """The run folder's files as text: written by the same code as ``bt run``, then read back.

    The tearsheet comes from the page cache when the same returns were drawn before (a rerun)."""
    with tempfile.TemporaryDirectory(prefix="bt-sweep-job-") as tmp:
        folder = Path(tmp) / "run"
        paths = result.save(folder, report=False)
        if not lean:
            build_report(folder, pages=PageCache(default_cache_dir() / "pages", key=cache_key))
            paths.update({name: folder / name for name in ("report.html", "tearsheet.html")})
        return {name: Path(path).read_text(encoding="utf-8") for name, path in paths.items()}


def run_job(config: RunConfig, lean: bool = False, cache_key: CacheKey | None = None) -> dict[str, Any]:
    """Run one job; bad data or settings become ``{"ok": False, "error": ...}``, never an exception.

    ``cache_key`` signs and verifies the forecast cache's entries: the client's key, given to each job.
    """
    began = time.perf_counter()
    worker = _worker_name()
    try:
        result = run(config, cache=default_cache(cache_key))
        row = results_row(result)
        files = _files(result, lean, cache_key)
    except BtError as exc:
        return {"ok": False, "error": " ".join(str(exc).split()), "worker": worker}
    row.update(seconds=time.perf_counter() - began, worker=worker)
    return {"ok": True, "row": row, "files": files}
