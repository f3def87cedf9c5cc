"""Daily OHLCV prices from the bundled files, a user's CSV or Yahoo Finance (with a local cache).

Every source ends in the same canonical, validated, adjusted frame (see ``PriceData``), so a
backtest cannot tell where its prices came from, and a bad file fails at the boundary with a
one-line ``DataError`` naming the file, the row and the rule.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from reports.files import atomic_write_text

from ..errors import ConfigError, DataError, NetworkError
from .canonical import FILE_HINT, PRICE_COLUMNS, Options, canonical, check, to_frame
from .layouts import standardise
from .repair import RepairBars, check_policy, clip_bars, flatten_spikes, repair_notice, spike_notice
from .sniff import read_plain_table, sniff_table
from .yahoo import Downloader, refresh_prices, yahoo_downloader

__all__ = ["BUNDLED_DIR", "PRICE_COLUMNS", "Downloader", "PriceData", "PriceFile", "bundled_tickers",
           "default_cache_dir", "load_prices", "read_price_csv", "read_price_file", "reading_notice",
           "require_rows", "validate_prices", "yahoo_downloader"]  # fmt: skip

BUNDLED_DIR: Path = Path(__file__).parent / "bundled"
_BUNDLED_SUFFIXES = (".csv", ".csv.gz")  # in this order: a plain T.csv wins over T.csv.gz

Notify = Callable[[str], None]

_YAHOO_HINT = "try again later or pass --csv PATH with a daily OHLCV file"
_TICKER = re.compile(r"[A-Za-z0-9.^=_-]{1,15}")


@dataclass(frozen=True, eq=False)
class PriceData:
    """Validated daily prices of one ticker and where they came from.

    ``frame`` has a tz-naive, ascending, unique DatetimeIndex named "date" and float64
    columns ``PRICE_COLUMNS`` holding split- and dividend-adjusted prices.
    """

    ticker: str
    frame: pd.DataFrame
    source: str
    repaired: int = 0  # rows ``repair_bars="clip"`` changed (a high or low clipped, a spike flattened)

    @property
    def first_date(self) -> pd.Timestamp:
        return self.frame.index[0]

    @property
    def last_date(self) -> pd.Timestamp:
        return self.frame.index[-1]

    @property
    def fingerprint(self) -> str:
        """sha256 of the frame's exact CSV text: the same on every machine for the same prices."""
        return hashlib.sha256(_serialise(self.frame).encode("utf-8")).hexdigest()


def bundled_tickers() -> list[str]:
    """Tickers with a price file shipped in ``BUNDLED_DIR`` (usable offline): ``T.csv`` or gzip ``T.csv.gz``."""
    return sorted({_bundled_name(p) for p in BUNDLED_DIR.iterdir() if p.is_file() and _bundled_name(p)})


def _bundled_name(path: Path) -> str:
    """The ticker a bundled price file holds ("" for any other file)."""
    for suffix in _BUNDLED_SUFFIXES:
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return path.name[: -len(suffix)].upper()
    return ""


def default_cache_dir() -> Path:
    """$BT_CACHE_DIR, else $XDG_CACHE_HOME/bt-lstm, else ~/.cache/bt-lstm."""
    if os.environ.get("BT_CACHE_DIR"):
        return Path(os.environ["BT_CACHE_DIR"]).expanduser()
    xdg = Path(os.environ.get("XDG_CACHE_HOME", ""))
    return (xdg if xdg.is_absolute() else Path.home() / ".cache") / "bt-lstm"


@dataclass(frozen=True, eq=False)
class PriceFile:
    """A price file as ``read_price_file`` read it.

    ``frame`` is canonical (see ``PriceData``); ``reading`` says what about the file was not the
    canonical layout (empty for a plain file); ``repaired`` holds the dates of the bars that
    ``repair_bars="clip"`` changed, ``flattened`` those of the one-day spikes it flattened.
    """

    path: Path
    frame: pd.DataFrame
    reading: tuple[str, ...] = ()
    repaired: pd.DatetimeIndex = field(default_factory=lambda: pd.DatetimeIndex([], name="date"))
    flattened: pd.DatetimeIndex = field(default_factory=lambda: pd.DatetimeIndex([], name="date"))


def read_price_csv(path: Path, *, ticker: str | None = None) -> pd.DataFrame:
    """Read and validate a daily OHLCV CSV in the canonical layout into the ``PriceData.frame`` layout.

    Headers match case-insensitively (``Date``/``datetime``/``timestamp``..., ``open`` ...
    ``volume``, optional ``Adj Close``); other columns are dropped, and Yahoo's download
    layout works as it is. When both Close and Adj Close are present, the adjusted close is
    used and open, high and low are multiplied by adj_close / close of the same row, so the
    whole bar is adjusted alike and splits or dividends cause no jump. A ``.gz`` file is read
    decompressed (the bundled universes are ``T.csv.gz``). ``ticker`` only labels error messages.
    Rows must be oldest first; ``read_price_file`` also reads the other common layouts.
    """
    return _read_plain(Path(path), ticker, "refuse").frame


def read_price_file(path: Path, *, ticker: str | None = None, repair_bars: RepairBars = "refuse") -> PriceFile:
    """Read a daily OHLCV file in any common layout whose reading is unambiguous, and say how it was read.

    Beyond ``read_price_csv``: newest-first rows (a strictly descending date column is
    reversed); semicolon- or tab-separated files; decimal commas, thousands separators,
    currency signs and ``1.2M``/``3.4K``/``2B`` volumes; vendor column names (``Close/Last``,
    ``Adj. Close``, ``Price`` as close, ``Vol.``); day/month or month/day dates decided by the
    rows; UTF-16 and UTF-8 with a byte-order mark. What the file leaves open (dates that read
    both ways on every row, intraday rows) is a one-line ``DataError`` saying what to change.
    With ``repair_bars="clip"`` a bar whose high or low does not contain its open and close is
    clipped to them, and a one-day spike is flattened to the close before it, instead of refused.
    Rows dated after today in New York are refused, and so is a file that is not a regular file
    or holds more than ``BT_MAX_FILE_MB`` (default 64) MiB decompressed.
    """
    path, policy = Path(path), check_policy(repair_bars)
    label = f"{path} ({ticker})" if ticker else str(path)
    sniffed = sniff_table(path, label)
    layout = standardise(sniffed.raw, label)
    options = Options(newest_first=True, numbers=layout.numbers, dates=layout.dates, **_repairs(policy))
    outcome = to_frame(layout.raw, label, FILE_HINT, sniffed.first_line, options)
    reading = (*sniffed.notes, *layout.notes, *(("newest first (reversed)",) if outcome.reversed else ()))
    return PriceFile(path, outcome.frame, reading, _dates(outcome.repaired), _dates(outcome.flattened))


def reading_notice(file: PriceFile) -> str | None:
    """One line saying how ``file`` was read, e.g. "read x.csv as semicolon-separated with decimal
    commas, newest first (reversed)"; None for a file in the canonical layout."""
    if not file.reading:
        return None
    marks = [n.removeprefix("with ") for n in file.reading if n.startswith("with ")]
    notes = [n for n in file.reading if not n.startswith("with ")]
    head = next((n for n in notes if n.endswith("-separated")), "comma-separated")
    head += f" with {' and '.join(marks)}" if marks else ""  # "semicolon-separated with decimal commas"
    return f"read {file.path} as {', '.join([head, *(n for n in notes if not n.endswith('-separated'))])}"


def validate_prices(frame: pd.DataFrame, *, source: str) -> None:
    """Raise a one-line ``DataError`` naming ``source``, the row and the rule that ``frame`` breaks.

    Rules: at least one row; a tz-naive DatetimeIndex, ascending and unique; open, high,
    low, close positive and finite; volume finite and >= 0; no missing values;
    high >= max(open, close) and low <= min(open, close), to a relative 1e-9; no close
    more than 50 times above, or below, the closes on both sides of it (a one-day spike).
    """
    check(frame, source, FILE_HINT)


def load_prices(
    ticker: str,
    *,
    csv: Path | None = None,
    source: Literal["auto", "bundled", "yahoo"] = "auto",
    cache_dir: Path | None = None,
    downloader: Downloader | None = None,
    notify: Callable[[str], None] | None = None,
    repair_bars: RepairBars = "refuse",
) -> PriceData:
    """Daily prices of ``ticker`` from ``csv``, the bundled files or Yahoo Finance.

    "auto" takes the bundled file when there is one (no network), else Yahoo. Yahoo data is
    cached in ``<cache_dir>/prices/<TICKER>.csv`` and refreshed incrementally; without a
    network the cache, then the bundled file, is used and ``notify`` is told so. A ``csv``
    file may be in any layout ``read_price_file`` reads; ``notify`` is told how it was read.
    ``repair_bars`` ("refuse" or "clip") applies to the csv and bundled files; Yahoo's answers
    are cached as they come, so a broken bar in one is refused.
    """
    name = _normalise_ticker(ticker)
    if source not in ("auto", "bundled", "yahoo"):
        raise ConfigError(f"price source {source!r} is not one of 'auto', 'bundled', 'yahoo'")
    policy, say = check_policy(repair_bars), notify or (lambda _: None)
    if csv is not None:
        path = Path(csv).expanduser()
        return _announced(name, read_price_file(path, ticker=name, repair_bars=policy), f"csv {path}", say)
    if source == "bundled" or (source == "auto" and name in bundled_tickers()):
        return _load_bundled(name, policy, say)
    cache = Path(cache_dir or default_cache_dir()).expanduser() / "prices" / f"{name}.csv"
    return _load_yahoo(name, cache, downloader or yahoo_downloader, say, policy)


def require_rows(data: PriceData, n: int, *, why: str) -> None:
    """Raise ``DataError`` when ``data`` has fewer than ``n`` rows, saying why they are needed."""
    have = len(data.frame)
    if have < n:
        span = f" ({data.first_date:%Y-%m-%d} to {data.last_date:%Y-%m-%d})" if have else ""
        raise DataError(f"{data.ticker} ({data.source}): {have} rows{span} but {n} are needed ({why}); "
                        "pass --csv PATH with a longer history or ask for shorter windows")  # fmt: skip


def _normalise_ticker(ticker: str) -> str:
    if not isinstance(ticker, str) or not _TICKER.fullmatch(ticker):
        raise DataError(f"ticker {ticker!r} is not valid: use 1 to 15 letters, digits or . ^ = _ -; "
                        "for other data pass --csv PATH")  # fmt: skip
    return ticker.upper()


def _serialise(frame: pd.DataFrame) -> str:
    # %.17g round-trips every float64 exactly, so the cache loses nothing.
    return frame.to_csv(float_format="%.17g", date_format="%Y-%m-%d", lineterminator="\n")


def _dates(dates: pd.DatetimeIndex | None) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([] if dates is None else dates, name="date")


def _read_plain(path: Path, ticker: str | None, policy: RepairBars) -> PriceFile:
    """A file in the canonical layout (rows oldest first), its bars repaired by ``policy``."""
    label = f"{path} ({ticker})" if ticker else str(path)
    raw, first_line = read_plain_table(path, label)
    outcome = to_frame(raw, label, FILE_HINT, first_line, Options(**_repairs(policy)))
    return PriceFile(path, outcome.frame, (), _dates(outcome.repaired), _dates(outcome.flattened))


def _repairs(policy: RepairBars) -> dict[str, Any]:
    """The ``Options`` fields that repair bars under ``policy``."""
    return {"repair": clip_bars, "flatten": flatten_spikes} if policy == "clip" else {}


def _announced(name: str, file: PriceFile, source: str, say: Notify) -> PriceData:
    """``file`` as PriceData, after telling ``say`` how it was read and which bars were repaired."""
    notice = reading_notice(file)
    if notice:
        say(notice)
    if len(file.flattened):
        say(spike_notice(str(file.path), file.flattened))
    if len(file.repaired):
        say(repair_notice(str(file.path), file.repaired))
    return PriceData(name, file.frame, source, len(file.repaired) + len(file.flattened))


def _load_bundled(name: str, policy: RepairBars = "refuse", say: Notify | None = None) -> PriceData:
    paths = [BUNDLED_DIR / f"{name}{suffix}" for suffix in _BUNDLED_SUFFIXES]
    path = next((p for p in paths if p.is_file()), paths[0])
    if not path.is_file():
        raise DataError(f"no bundled data for ticker {name} (bundled: {', '.join(bundled_tickers())}); "
                        "use one of those, --source yahoo, or pass --csv PATH")  # fmt: skip
    return _announced(name, _read_plain(path, name, policy), f"bundled {path.name}", say or (lambda _: None))


def _load_yahoo(name: str, cache: Path, download: Downloader, say: Notify, policy: RepairBars) -> PriceData:
    """Refresh the cache from Yahoo; without a network fall back to the cache, then the bundled file."""
    cached = None
    if cache.exists():
        try:
            cached = read_price_csv(cache, ticker=name)
        except DataError as err:  # replaced by the next good download
            say(f"ignoring unusable cache: {err}")
    parse = partial(canonical, label=f"Yahoo {name} download", hint=_YAHOO_HINT, first_line=None)
    try:
        frame = refresh_prices(name, cached, download, parse, say)
    except (NetworkError, OSError) as err:  # OSError: requests' and curl's connection errors
        return _offline(name, cache, cached, err, say, policy)
    if frame is not cached:
        try:
            atomic_write_text(cache, _serialise(frame))
        except OSError as err:
            say(f"could not write the price cache {cache} ({err.strerror}); continuing without it")
    return PriceData(name, frame, f"Yahoo cache {cache}")


def _offline(name: str, cache: Path, cached: pd.DataFrame | None, err: Exception, say: Notify,
             policy: RepairBars) -> PriceData:  # fmt: skip
    if cached is not None:
        say(f"no network: using cached {name} data through {cached.index[-1]:%Y-%m-%d}")
        return PriceData(name, cached, f"Yahoo cache {cache}")
    if name in bundled_tickers():
        data = _load_bundled(name, policy, say)
        say(f"no network: using bundled {name} data through {data.last_date:%Y-%m-%d}")
        return data
    why = "Yahoo Finance could not be reached and there is no cached or bundled copy"
    raise NetworkError(f"no data for ticker {name}: {why}; pass --csv PATH with a daily OHLCV file") from err
