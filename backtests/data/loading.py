"""The prices a run's ``DataConfig`` names, loaded one way for every command and worker.

``bt run``, ``bt walk-forward``, paper trading, ``bt signal`` and sweep workers all call
these, so a ticker, a ``--csv`` file and the benchmark are resolved identically everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..config import DataConfig
from ..errors import DataError
from .prices import PriceData, default_cache_dir, load_prices

Notify = Callable[[str], None]


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def ticker_prices(data: DataConfig, *, cache_dir: Path | None = None, notify: Notify | None = None) -> PriceData:
    """The prices of the config's ticker (or its ``csv`` file)."""
    return load_prices(data.ticker, csv=_path(data.csv), source=data.source,
                       cache_dir=cache_dir or default_cache_dir(), notify=notify,
                       repair_bars=data.repair_bars)  # fmt: skip


def benchmark_prices(data: DataConfig, *, cache_dir: Path | None = None, notify: Notify | None = None) -> PriceData:
    """The prices of the config's benchmark (or its ``benchmark_csv`` file).

    A price file's (or download's) errors advise passing ``--csv``; for the benchmark they name
    ``--benchmark-csv``, the option that sets the benchmark's file.
    """
    try:
        return load_prices(data.benchmark, csv=_path(data.benchmark_csv), source=data.source,
                           cache_dir=cache_dir or default_cache_dir(), notify=notify,
                           repair_bars=data.repair_bars)  # fmt: skip
    except DataError as exc:
        raise type(exc)(_benchmark_words(str(exc))) from None


def _benchmark_words(message: str) -> str:
    """``message`` with its advice about ``--csv`` pointed at ``--benchmark-csv`` (the file named stays as it is)."""
    for said in ("another --csv", "pass --csv PATH", "given to --csv"):
        message = message.replace(said, said.replace("--csv", "--benchmark-csv"))
    return message


def benchmark_returns(benchmark: PriceData, dates: pd.DatetimeIndex) -> pd.Series:
    """The benchmark's daily returns over ``dates`` (its last close carried over days it did not trade)."""
    close = benchmark.frame["close"]
    if close.index[0] > dates[0] or close.index[-1] < dates[-1]:
        raise DataError(
            f"benchmark {benchmark.ticker} ({benchmark.source}) runs {close.index[0]:%Y-%m-%d} to "
            f"{close.index[-1]:%Y-%m-%d} and does not cover {dates[0]:%Y-%m-%d} to "
            f"{dates[-1]:%Y-%m-%d}; pass another --benchmark."
        )
    aligned = close.reindex(close.index.union(dates)).ffill().reindex(dates)
    return aligned.pct_change().iloc[1:].rename(benchmark.ticker)
