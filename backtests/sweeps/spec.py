"""What a sweep runs: tickers x a grid of run settings, each job a frozen ``RunConfig``.

A grid key names any run setting the way a config file does, without its table
(``lookback``, ``threshold``, ``commission``, ``model``), a model parameter as
``params.NAME`` (``epochs`` and the other LSTM shortcuts are accepted too). Every job's
config is built and validated before any job starts, so a bad grid is one line at once; the jobs
are counted before they are built, and more than ``--max-jobs`` (default 10,000) is refused.
A job's id is a digest of its whole config: the same job in a larger grid has the same id,
which is how a rerun finds the results it already has.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from forecasting import ForecastConfig

from ..config import RunConfig
from ..errors import ConfigError

# Grid key -> (table, field). Data location settings (ticker, csv) are not grid keys: tickers are their own axis.
GRID_KEYS: dict[str, tuple[str, str]] = {
    "start": ("data", "start"), "end": ("data", "end"), "benchmark": ("data", "benchmark"),
    "model": ("forecast", "model"), "lookback": ("forecast", "lookback"), "train_days": ("forecast", "train_days"),
    "retrain_every": ("forecast", "retrain_every"), "window": ("forecast", "window"), "seed": ("forecast", "seed"),
    "seeds": ("forecast", "seeds"), "threshold": ("strategy", "threshold"),
    "allow_short": ("strategy", "allow_short"), "size": ("strategy", "size"), "cash": ("broker", "cash"),
    "commission": ("broker", "commission"), "slippage": ("broker", "slippage"),
}  # fmt: skip
SHORTCUTS = ("epochs", "warm_epochs", "warm_start", "batch_size", "learning_rate", "units", "dense", "patience")

Grid = tuple[tuple[str, tuple[Any, ...]], ...]
MAX_JOBS = 10_000  # a sweep's default cap (--max-jobs): a million grid points is a typo, not a plan


def _value(text: str) -> Any:
    """A grid value as TOML reads it (``5``, ``0.1``, ``true``, ``2024-01-02``), else as plain text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def canonical_key(key: str) -> str:
    """``epochs`` -> ``params.epochs``; a setting's own key unchanged; ConfigError for anything else."""
    key = key.strip().replace("-", "_")
    if key in GRID_KEYS or (key.startswith("params.") and len(key) > len("params.")):
        return key
    if key in SHORTCUTS:
        return f"params.{key}"
    known = ", ".join([*GRID_KEYS, "params.NAME", *SHORTCUTS])
    raise ConfigError(f"unknown grid key {key!r}; use one of: {known}.")


def parse_grid(options: Iterable[str]) -> Grid:
    """``--grid key=v1,v2`` options as ordered (key, values) pairs; one-line ConfigError when malformed."""
    grid: dict[str, tuple[Any, ...]] = {}
    for text in options:
        key, sep, raw = text.partition("=")
        if not sep:
            raise ConfigError(f"--grid {text!r} is not KEY=V1,V2,... (e.g. --grid lookback=30,60).")
        values = [v.strip() for v in raw.split(",")]
        if not values or any(v == "" for v in values):
            raise ConfigError(f"--grid {text!r} has an empty value; list values separated by commas.")
        grid[canonical_key(key)] = tuple(_value(v) for v in values)
    return tuple(grid.items())


def grid_from_table(table: dict[str, Any], where: str) -> Grid:
    """The ``grid`` of a ``[sweep]`` table: ``{key = [values]}``; ConfigError names the file."""
    grid = {}
    for key, values in table.items():
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ConfigError(f"{where}: [sweep.grid] {key} has no values.")
        grid[canonical_key(key)] = tuple(values)
    return tuple(grid.items())


@dataclass(frozen=True)
class Job:
    """One (ticker, grid point): its id, its grid values and the whole config a worker runs."""

    index: int
    job_id: str
    ticker: str
    point: tuple[tuple[str, Any], ...]
    config: RunConfig

    @property
    def grid(self) -> dict[str, Any]:
        return dict(self.point)


def job_id(config: RunConfig) -> str:
    """A digest of the whole config: stable across runs, machines and grid sizes."""
    text = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _with(config: RunConfig, key: str, value: Any) -> RunConfig:
    """``config`` with one grid setting changed (a model switch drops the other model's params)."""
    if key.startswith("params."):
        params = {**config.forecast.given_params(), key.removeprefix("params."): value}
        return dataclasses.replace(config, forecast=dataclasses.replace(config.forecast, params=tuple(params.items())))
    table, name = GRID_KEYS[key]
    if table == "forecast":
        return dataclasses.replace(config, forecast=config.forecast.replace(**{name: value}))
    return dataclasses.replace(config, **{table: dataclasses.replace(getattr(config, table), **{name: value})})


def _point_config(base: RunConfig, ticker: str, point: Sequence[tuple[str, Any]]) -> RunConfig:
    config = dataclasses.replace(base, data=dataclasses.replace(base.data, ticker=ticker, csv=None))
    model = dict(point).get("model")
    ordered = sorted(point, key=lambda kv: kv[0] != "model")  # switch model first, then its params
    if model is not None:
        config = _with(config, "model", model)
    for key, value in ordered:
        if key != "model":
            config = _with(config, key, value)
    return config


def check_job_count(tickers: int, grid: Grid, max_jobs: int | None = MAX_JOBS) -> int:
    """The number of jobs (tickers x grid points), counted without building them; ConfigError above ``max_jobs``."""
    if max_jobs is not None and max_jobs < 1:
        raise ConfigError(f"--max-jobs must be at least 1. Got {max_jobs}.")
    points = math.prod(len(values) for _, values in grid)
    count = tickers * points
    if max_jobs is not None and count > max_jobs:
        sizes = " x ".join(f"{len(values)} {key}" for key, values in grid)
        shape = f"{tickers} ticker(s)" + (f" x {sizes}" if sizes else "")
        raise ConfigError(f"the sweep has {count:,} jobs ({shape}), more than --max-jobs {max_jobs:,}; shrink "
                          f"the grid or the tickers, or pass --max-jobs {count}")  # fmt: skip
    return count


def build_jobs(base: RunConfig, tickers: Sequence[str], grid: Grid, *, max_jobs: int | None = MAX_JOBS) -> list[Job]:
    """Every (ticker, grid point) as a validated job, tickers outermost; ConfigError names a bad point.

    The jobs are counted first: more than ``max_jobs`` (None: no cap) is refused before any is built.
    """
    if not tickers:
        raise ConfigError("no tickers: pass --tickers, --tickers-file or --universe (or [sweep] tickers).")
    check_job_count(len(tickers), grid, max_jobs)
    keys = [k for k, _ in grid]
    jobs: list[Job] = []
    for ticker in tickers:
        for values in itertools.product(*(v for _, v in grid)):
            point = tuple(zip(keys, values, strict=True))
            try:
                config = _point_config(base, ticker, point)
            except (ConfigError, ValueError, TypeError) as exc:
                shown = ", ".join(f"{k}={v!r}" for k, v in point) or "the base config"
                raise ConfigError(f"grid point {shown} is not a valid run: {exc}") from None
            jobs.append(Job(len(jobs), job_id(config), ticker, point, config))
    return jobs


def describe(forecast: ForecastConfig) -> str:
    """A short label of a forecast config for tables: 'lstm x3 seeds'."""
    return forecast.model + (f" x{forecast.seeds} seeds" if forecast.seeds > 1 else "")
