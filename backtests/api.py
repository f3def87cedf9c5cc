"""The library entry points behind ``bt run``: load the data a config names, run, write.

Everything here is usable from Python without the CLI; ``notify`` receives
one-line notices (data fallbacks) and ``on_fold`` training progress.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from forecasting.walkforward import FoldCallback

from .cache import ForecastCache
from .config import DataConfig, RunConfig
from .data import PriceData, default_cache_dir, load_prices
from .files import atomic_write_text, write_csv, write_json
from .runfolder import FORMAT, package_versions, write_tables
from .runner import RunResult, baseline_forecasts, forecasts_for, run, target_period

Notify = Callable[[str], None]


def load_ticker_data(config: DataConfig, *, notify: Notify | None = None, cache_dir: Path | None = None) -> PriceData:
    """The prices of the config's ticker (or its --csv file)."""
    csv = None if config.csv is None else Path(config.csv)
    return load_prices(config.ticker, csv=csv, source=config.source, cache_dir=cache_dir, notify=notify)


def load_run_data(config: DataConfig, *, notify: Notify | None = None,
                  cache_dir: Path | None = None) -> tuple[PriceData, PriceData]:  # fmt: skip
    """The prices and benchmark prices a data config names."""
    prices = load_ticker_data(config, notify=notify, cache_dir=cache_dir)
    bench_csv = None if config.benchmark_csv is None else Path(config.benchmark_csv)
    benchmark = load_prices(config.benchmark, csv=bench_csv, source=config.source,
                            cache_dir=cache_dir, notify=notify)  # fmt: skip
    return prices, benchmark


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


def run_and_write(request: RunRequest, *, notify: Notify | None = None,
                  on_fold: FoldCallback | None = None) -> tuple[RunResult, dict[str, Path]]:  # fmt: skip
    """Load data, run, and write the run folder; returns the result and the files written."""
    cache_root = request.cache_dir or default_cache_dir()
    prices, benchmark = load_run_data(request.config.data, notify=notify, cache_dir=cache_root)
    cache = ForecastCache(cache_root / "forecasts") if request.use_cache else None
    result = run(request.config, prices, benchmark, cache=cache, on_fold=on_fold)
    out = Path(request.out or default_run_folder(request.config))
    paths = write_tables(result, out)
    from reports.build import build_report

    paths["report.html"] = build_report(out)
    paths["tearsheet.html"] = out / "tearsheet.html"
    return result, paths


def walk_forward_and_write(request: RunRequest, *, notify: Notify | None = None,
                           on_fold: FoldCallback | None = None) -> tuple[dict[str, Any], dict[str, Path]]:  # fmt: skip
    """``bt walk-forward``: forecasts and baselines only, their metrics, and forecast.html.

    Writes forecasts.csv, folds.csv, baselines.csv, metrics.json and forecast.html;
    returns the contents of metrics.json and the files written.
    """
    from reports.page import forecast_page, metrics_frame, per_fold_frame

    config = request.config
    cache_root = request.cache_dir or default_cache_dir()
    prices = load_ticker_data(config.data, notify=notify, cache_dir=cache_root)
    first, last = target_period(config, prices)
    close = prices.frame["close"]
    cache = ForecastCache(cache_root / "forecasts") if request.use_cache else None
    wf, cached = forecasts_for(config, close, first, last, cache, on_fold)
    baselines = baseline_forecasts(config, close, first, last)
    meta = walk_forward_metadata(config, prices, wf.forecasts, cached)
    run = SimpleNamespace(forecasts=wf.forecasts, folds=wf.folds, baselines=baselines, meta=meta)
    table = metrics_frame(run)
    run.meta["metrics"] = table.reset_index().to_dict(orient="records")
    per_fold = per_fold_frame(run)
    for col in ("start", "end"):
        per_fold[col] = per_fold[col].dt.strftime("%Y-%m-%d")
    run.meta["per_fold"] = per_fold.to_dict(orient="records")
    out = Path(request.out or default_run_folder(config, kind="walk-forward"))
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in (("forecasts.csv", run.forecasts), ("folds.csv", run.folds), ("baselines.csv", run.baselines)):
        write_csv(frame, out / name, index=False)
        paths[name] = out / name
    write_json(out / "metrics.json", run.meta)
    atomic_write_text(out / "forecast.html", forecast_page(run))
    paths["metrics.json"], paths["forecast.html"] = out / "metrics.json", out / "forecast.html"
    return run.meta, paths


def walk_forward_metadata(config: RunConfig, prices: PriceData, forecasts: Any, cached: bool) -> dict[str, Any]:
    """Provenance of a walk-forward: config, data, period, versions."""
    return {
        "kind": "bt-lstm walk-forward",
        "format": FORMAT,
        "config": config.to_dict(),
        "data": {"ticker": prices.ticker, "source": prices.source, "fingerprint": prices.fingerprint,
                 "first_date": f"{prices.first_date:%Y-%m-%d}", "last_date": f"{prices.last_date:%Y-%m-%d}"},
        "period": {"first_day": f"{forecasts['target_date'].iloc[0]:%Y-%m-%d}",
                   "last_day": f"{forecasts['target_date'].iloc[-1]:%Y-%m-%d}"},
        "forecasts_from_cache": cached,
        "versions": package_versions(),
    }  # fmt: skip

