"""Daily OHLCV prices from the bundled files, a user's CSV or Yahoo Finance (with a local cache).

Every source ends in the same canonical, validated, adjusted frame (see ``PriceData``), so a
backtest cannot tell where its prices came from, and a bad file fails at the boundary with a
one-line ``DataError`` naming the file, the row and the rule.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from reports.files import atomic_write_text

from ..errors import ConfigError, DataError, NetworkError
from .yahoo import Downloader, refresh_prices, yahoo_downloader

__all__ = ["BUNDLED_DIR", "PRICE_COLUMNS", "Downloader", "PriceData", "bundled_tickers", "default_cache_dir",
           "load_prices", "read_price_csv", "require_rows", "validate_prices",
           "yahoo_downloader"]  # fmt: skip

BUNDLED_DIR: Path = Path(__file__).parent / "bundled"
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")

Notify = Callable[[str], None]

_FILE_HINT = "fix the file or pass another --csv"
_YAHOO_HINT = "try again later or pass --csv PATH with a daily OHLCV file"
_TOLERANCE = 1e-9  # relative: the float noise that adjusting a bar leaves
_DATE_NAMES = ("date", "datetime", "timestamp", "time", "day", "trade_date", "unnamed_0")
_ADJ_NAMES = ("adj_close", "adjclose", "adjusted_close")
_TICKER = re.compile(r"[A-Za-z0-9.^=_-]{1,15}")
# Stamps such as yfinance's "2020-01-02 00:00:00-05:00" change offset with daylight saving time.
_OFFSET = re.compile(r"(\d\d:\d\d(?::\d\d(?:\.\d*)?)?)\s*(?:[+-]\d\d:?\d\d|Z)$")


@dataclass(frozen=True, eq=False)
class PriceData:
    """Validated daily prices of one ticker and where they came from.

    ``frame`` has a tz-naive, ascending, unique DatetimeIndex named "date" and float64
    columns ``PRICE_COLUMNS`` holding split- and dividend-adjusted prices.
    """

    ticker: str
    frame: pd.DataFrame
    source: str

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
    """Tickers with a price file shipped in ``BUNDLED_DIR`` (usable offline)."""
    return sorted(p.stem.upper() for p in BUNDLED_DIR.glob("*.csv"))


def default_cache_dir() -> Path:
    """$BT_CACHE_DIR, else $XDG_CACHE_HOME/bt-lstm, else ~/.cache/bt-lstm."""
    if os.environ.get("BT_CACHE_DIR"):
        return Path(os.environ["BT_CACHE_DIR"]).expanduser()
    xdg = Path(os.environ.get("XDG_CACHE_HOME", ""))
    return (xdg if xdg.is_absolute() else Path.home() / ".cache") / "bt-lstm"


def read_price_csv(path: Path, *, ticker: str | None = None) -> pd.DataFrame:
    """Read and validate a daily OHLCV CSV into the canonical ``PriceData.frame`` layout.

    Headers match case-insensitively (``Date``/``datetime``/``timestamp``..., ``open`` ...
    ``volume``, optional ``Adj Close``); other columns are dropped, and Yahoo's download
    layout works as it is. When both Close and Adj Close are present, the adjusted close is
    used and open, high and low are multiplied by adj_close / close of the same row, so the
    whole bar is adjusted alike and splits or dividends cause no jump. ``ticker`` only
    labels error messages.
    """
    path = Path(path)
    label = f"{path} ({ticker})" if ticker else str(path)
    raw, first_line = _read_table(path, label)
    return _canonical(raw, label, _FILE_HINT, first_line)


def validate_prices(frame: pd.DataFrame, *, source: str) -> None:
    """Raise a one-line ``DataError`` naming ``source``, the row and the rule that ``frame`` breaks.

    Rules: at least one row; a tz-naive DatetimeIndex, ascending and unique; open, high,
    low, close positive and finite; volume finite and >= 0; no missing values;
    high >= max(open, close) and low <= min(open, close), to a relative 1e-9.
    """
    _check(frame, source, _FILE_HINT)


def load_prices(
    ticker: str,
    *,
    csv: Path | None = None,
    source: Literal["auto", "bundled", "yahoo"] = "auto",
    cache_dir: Path | None = None,
    downloader: Downloader | None = None,
    notify: Callable[[str], None] | None = None,
) -> PriceData:
    """Daily prices of ``ticker`` from ``csv``, the bundled files or Yahoo Finance.

    "auto" takes the bundled file when there is one (no network), else Yahoo. Yahoo data is
    cached in ``<cache_dir>/prices/<TICKER>.csv`` and refreshed incrementally; without a
    network the cache, then the bundled file, is used and ``notify`` is told so.
    """
    name = _normalise_ticker(ticker)
    if source not in ("auto", "bundled", "yahoo"):
        raise ConfigError(f"price source {source!r} is not one of 'auto', 'bundled', 'yahoo'")
    if csv is not None:
        path = Path(csv).expanduser()
        return PriceData(name, read_price_csv(path, ticker=name), f"csv {path}")
    if source == "bundled" or (source == "auto" and name in bundled_tickers()):
        return _load_bundled(name)
    cache = Path(cache_dir or default_cache_dir()).expanduser() / "prices" / f"{name}.csv"
    return _load_yahoo(name, cache, downloader or yahoo_downloader, notify or (lambda _: None))


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


def _fail(label: str, where: str | None, what: str, rule: str | None, hint: str) -> DataError:
    at = f": {where}" if where else ""
    why = f" (rule: {rule})" if rule else ""
    text = " ".join(f"{label}{at}: {what}{why}; {hint}".split())  # one line, whatever a file holds
    return DataError("".join(c if c.isprintable() else "?" for c in text))


def _norm(name: object) -> str:
    return re.sub(r"[\s.:-]+", "_", str(name).strip().lower()).strip("_")


def _read_table(path: Path, label: str) -> tuple[pd.DataFrame, int]:
    """Every cell as text, and the file line of the first row (for messages)."""
    try:
        raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig", skipinitialspace=True)
    except FileNotFoundError:
        raise _fail(label, None, "no such file", None, "check the path given to --csv") from None
    except pd.errors.EmptyDataError:
        raise _fail(label, None, "the file is empty", None, _FILE_HINT) from None
    except UnicodeDecodeError:
        raise _fail(label, None, "not a UTF-8 text file", None, _FILE_HINT) from None
    except OSError as err:
        raise _fail(label, None, f"cannot be read ({err.strerror})", None, _FILE_HINT) from None
    except ValueError as err:  # pandas' ParserError included
        raise _fail(label, None, f"not a readable CSV ({str(err)[:120]})", None, _FILE_HINT) from None
    # yfinance's download().to_csv() writes three header lines: Price, Ticker, Date.
    head = [_norm(v) for v in raw.iloc[:2, 0].fillna("")] if raw.shape[1] else []
    if head[:1] == ["ticker"] and _norm(raw.columns[0]) == "price":
        skip = 2 if head == ["ticker", "date"] else 1
        raw = raw.iloc[skip:].rename(columns={raw.columns[0]: "date"}).reset_index(drop=True)
        return raw, 2 + skip
    return raw, 2


def _flatten(raw: pd.DataFrame) -> pd.DataFrame:
    """Keep the column level that names prices (yfinance answers Price x Ticker); dates as a column."""
    if isinstance(raw.columns, pd.MultiIndex):
        levels = [raw.columns.get_level_values(i) for i in range(raw.columns.nlevels)]
        names = next((lv for lv in levels if "close" in map(_norm, lv)), levels[0])
        raw = raw.set_axis(names, axis=1)
    return raw.reset_index(names="date") if isinstance(raw.index, pd.DatetimeIndex) else raw


def _canonical(raw: pd.DataFrame, label: str, hint: str, first_line: int | None) -> pd.DataFrame:
    """Any raw daily table (CSV text or a yfinance answer) -> the validated canonical frame."""
    raw = _flatten(raw)
    names = [_norm(c) for c in raw.columns]
    date = next((n for n in _DATE_NAMES if n in names), "date")
    adj = next((n for n in _ADJ_NAMES if n in names), None)
    wanted = [n for n in (date, *PRICE_COLUMNS, adj) if n]
    for name in wanted:
        if name not in names:
            found = ", ".join(map(str, raw.columns))[:200]
            raise _fail(label, None, f"no {name!r} column (found: {found})", None, hint)
        if names.count(name) > 1:
            raise _fail(label, None, f"column {name!r} appears more than once", None, hint)
    table = raw.set_axis(names, axis=1)[wanted]
    if table.empty:
        raise _fail(label, None, "no data rows", "at least 1 row", hint)
    where = "line {}" if first_line else "row {}"
    dates = _parse_dates(table[date], label, hint, lambda i: where.format(i + (first_line or 1)))
    values = {}
    for name in wanted[1:]:
        text = table[name]
        number = text if pd.api.types.is_numeric_dtype(text) else pd.to_numeric(text, errors="coerce")
        bad = np.flatnonzero(number.isna().to_numpy() & text.notna().to_numpy())
        if bad.size:
            what = f"{name} {str(text.iloc[bad[0]])[:40]!r} is not a number"
            raise _fail(label, f"row {dates[bad[0]]:%Y-%m-%d}", what, None, hint)
        values[name] = number.to_numpy(dtype="float64", na_value=np.nan)
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"))
    _check(frame, label, hint)  # on the file's own numbers, so that messages quote them
    if adj:
        _check(frame, label, hint, columns=(adj,))
        ratio = frame[adj] / frame["close"]
        frame = frame[list(PRICE_COLUMNS)].assign(
            open=frame["open"] * ratio, high=frame["high"] * ratio, low=frame["low"] * ratio, close=frame[adj]
        )
        _check(frame, label, hint)
    return frame


def _parse_dates(text: pd.Series, label: str, hint: str, where: Callable[[int], str]) -> pd.DatetimeIndex:
    if isinstance(text.dtype, pd.DatetimeTZDtype):
        dates = text.dt.tz_localize(None)  # the exchange's own calendar day
    elif pd.api.types.is_datetime64_dtype(text.dtype):
        dates = text
    else:
        clean = text.astype("str").str.strip().str.replace(_OFFSET, r"\1", regex=True).where(text.notna())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": the NaT check below says more
            try:
                dates = pd.to_datetime(clean, errors="coerce")
            except (ValueError, TypeError, OverflowError) as err:
                what = f"dates do not parse ({str(err)[:120]})"
                raise _fail(label, None, what, "dates parse", hint) from None
        if isinstance(dates.dtype, pd.DatetimeTZDtype):
            dates = dates.dt.tz_localize(None)
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        value = text.iloc[bad[0]]
        what = f"date {str(value)[:40]!r} is not a date in the file's format"
        what = "date is missing" if pd.isna(value) else what
        raise _fail(label, where(bad[0]), what, "dates parse", hint)
    return pd.DatetimeIndex(dates).normalize().as_unit("ns")


def _check(frame: pd.DataFrame, label: str, hint: str, columns: tuple[str, ...] = PRICE_COLUMNS) -> None:
    """The validation rules; each failure names the first offending row."""
    if not isinstance(frame, pd.DataFrame):
        raise _fail(label, None, f"expected a table, got {type(frame).__name__}", None, hint)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise _fail(label, None, f"no {missing[0]!r} column", None, hint)
    if len(frame) == 0:
        raise _fail(label, None, "no data rows", "at least 1 row", hint)
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise _fail(label, None, "the rows are not indexed by date", "dates parse", hint)
    if index.tz is not None:
        raise _fail(label, None, f"dates carry a time zone ({index.tz})", "tz-naive dates", hint)
    if index.hasnans:
        row = f"row {np.flatnonzero(index.isna())[0] + 1}"
        raise _fail(label, row, "date is missing", "dates parse", hint)
    step = np.diff(index.asi8)
    if (step <= 0).any():
        i = np.flatnonzero(step <= 0)[0] + 1
        what, rule = ("date appears twice", "dates unique") if step[i - 1] == 0 else (
            f"date is earlier than the row before ({index[i - 1]:%Y-%m-%d})", "dates ascending")  # fmt: skip
        raise _fail(label, f"row {index[i]:%Y-%m-%d}", what, rule, hint)
    x = _as_floats(frame, columns, label, hint)
    price = np.array([c != "volume" for c in columns])
    for mask, verb, rule in (
        (np.isnan(x), "is missing", "no missing values"),
        (np.isinf(x), "is not finite", "values finite"),
        ((x <= 0) & price, "is not positive", "prices > 0"),
        ((x < 0) & ~price, "is negative", "volume >= 0"),
    ):
        if mask.any():
            i, j = np.argwhere(mask)[0]
            shown = "" if np.isnan(x[i, j]) else f" {x[i, j]:.10g}"
            raise _fail(label, f"row {index[i]:%Y-%m-%d}", f"{columns[j]}{shown} {verb}", rule, hint)
    if columns == PRICE_COLUMNS:
        _check_range(x, index, label, hint)


def _check_range(x: np.ndarray, index: pd.DatetimeIndex, label: str, hint: str) -> None:
    """high >= max(open, close) and low <= min(open, close), up to float noise."""
    o, h, lo, c = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    for value, bound, bad, text, rule in (
        (h, top, h < top * (1 - _TOLERANCE), "high {} is below {}", "high >= max(open, close)"),
        (lo, bottom, lo > bottom * (1 + _TOLERANCE), "low {} is above {}", "low <= min(open, close)"),
    ):
        if bad.any():
            i = np.flatnonzero(bad)[0]
            which = f"{'open' if bound[i] == o[i] else 'close'} {bound[i]:.10g}"
            what = text.format(f"{value[i]:.10g}", which)
            raise _fail(label, f"row {index[i]:%Y-%m-%d}", what, rule, hint)


def _as_floats(frame: pd.DataFrame, columns: tuple[str, ...], label: str, hint: str) -> np.ndarray:
    for col in columns:
        if (frame.columns == col).sum() > 1:
            raise _fail(label, None, f"column {col!r} appears more than once", None, hint)
    try:
        return frame[list(columns)].apply(pd.to_numeric).to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as err:
        raise _fail(label, None, f"values that are not numbers ({str(err)[:80]})", None, hint) from None


def _load_bundled(name: str) -> PriceData:
    path = BUNDLED_DIR / f"{name}.csv"
    if not path.is_file():
        raise DataError(f"no bundled data for ticker {name} (bundled: {', '.join(bundled_tickers())}); "
                        "use one of those, --source yahoo, or pass --csv PATH")  # fmt: skip
    return PriceData(name, read_price_csv(path, ticker=name), f"bundled {path.name}")


def _load_yahoo(name: str, cache: Path, download: Downloader, say: Notify) -> PriceData:
    """Refresh the cache from Yahoo; without a network fall back to the cache, then the bundled file."""
    cached = None
    if cache.exists():
        try:
            cached = read_price_csv(cache, ticker=name)
        except DataError as err:  # replaced by the next good download
            say(f"ignoring unusable cache: {err}")
    parse = partial(_canonical, label=f"Yahoo {name} download", hint=_YAHOO_HINT, first_line=None)
    try:
        frame = refresh_prices(name, cached, download, parse, say)
    except (NetworkError, OSError) as err:  # OSError: requests' and curl's connection errors
        return _offline(name, cache, cached, err, say)
    if frame is not cached:
        try:
            atomic_write_text(cache, _serialise(frame))
        except OSError as err:
            say(f"could not write the price cache {cache} ({err.strerror}); continuing without it")
    return PriceData(name, frame, f"Yahoo cache {cache}")


def _offline(name: str, cache: Path, cached: pd.DataFrame | None, err: Exception, say: Notify) -> PriceData:
    if cached is not None:
        say(f"no network: using cached {name} data through {cached.index[-1]:%Y-%m-%d}")
        return PriceData(name, cached, f"Yahoo cache {cache}")
    if name in bundled_tickers():
        data = _load_bundled(name)
        say(f"no network: using bundled {name} data through {data.last_date:%Y-%m-%d}")
        return data
    why = "Yahoo Finance could not be reached and there is no cached or bundled copy"
    raise NetworkError(f"no data for ticker {name}: {why}; pass --csv PATH with a daily OHLCV file") from err
