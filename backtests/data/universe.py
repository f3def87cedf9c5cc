"""Multi-ticker universes: named ticker lists, point-in-time S&P 500 membership, ticker files.

Bundled (``bundled/universe/``, offline): ``dow30.csv`` (the Dow Jones Industrial Average's
30 members as of its change of 2024-11-08), ``sectors.csv`` (the nine SPDR sector ETFs) and
``sp500_membership.csv`` (``ticker,start_date,end_date``: each interval a ticker was in the S&P
500, 1996-01-02 to 2025-11-16, from the MIT-licensed GitHub repository fja05680/sp500). The prices of
dow30 and sectors are bundled too (``bundled/T.csv`` or ``T.csv.gz``).

Membership intervals are half-open: a ticker is a member on day D when
``start_date <= D < end_date`` (an empty end_date: still a member). end_date is the day of the
change, when the ticker is already out; the counts the data's README gives (497 members on
2006-01-03, 505 on 2021-08-16) hold only with that reading. Membership after 2025-11-16 is
taken as unchanged.

A point-in-time S&P 500 built from the data at hand is survivorship-*reduced*, not
survivorship-free: most delisted members have no price history anywhere this package looks,
and ``Universe.missing`` names them, so that a report can say how many there were.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError, NetworkError
from .bounded import open_regular, read_bounded
from .prices import BUNDLED_DIR, Downloader, bundled_tickers, default_cache_dir, load_prices

__all__ = ["MEMBERSHIP_FILE", "MEMBERSHIP_KNOWN_THROUGH", "UNIVERSES", "UNIVERSE_DIR", "Universe",
           "download_missing", "is_member", "membership", "membership_mask", "membership_span",
           "parse_tickers", "tickers_from_file", "universe"]  # fmt: skip

UNIVERSE_DIR: Path = BUNDLED_DIR / "universe"
MEMBERSHIP_FILE: Path = UNIVERSE_DIR / "sp500_membership.csv"
# The membership file's own date (fja05680/sp500, 2025-11-16); later days are taken as unchanged.
MEMBERSHIP_KNOWN_THROUGH = dt.date(2025, 11, 16)
UNIVERSES = ("dow30", "sectors", "sp500")

_PRICES_SOURCE = "yfinance downloads (auto_adjust) published in GitHub's Alexander-Trading/Trading-Daten"
_STATIC = {
    "dow30": ("dow30.csv", "the Dow Jones Industrial Average's members as of its change of 2024-11-08"),
    "sectors": ("sectors.csv", "the nine SPDR sector ETFs"),
}
# The rule load_prices applies to a ticker, so that a listed ticker is one it accepts.
_TICKER = re.compile(r"[A-Za-z0-9.^=_-]{1,15}")
_TICKER_RULE = "use 1 to 15 letters, digits or . ^ = _ -"
_LINE_CAP = 4096  # a price file's header or first row is far shorter; a file without line breaks is not read whole


@dataclass(frozen=True)
class Universe:
    """A resolved universe: the tickers to trade and what was left out.

    ``tickers``: the members with price data available offline (bundled, or in the Yahoo
    cache ``<cache_dir>/prices/TICKER.csv``; for sp500 a file that starts after ``as_of`` does
    not count), in the list's order (sp500: alphabetical).
    ``as_of``: the day whose index members these are (sp500), None for a fixed list.
    ``members``: how many tickers the universe has on that day, with or without data.
    ``missing``: the members without data (``members == len(tickers) + len(missing)``).
    ``source``: where the list came from and how the data was found, in words.
    """

    name: str
    tickers: tuple[str, ...]
    as_of: dt.date | None
    members: int
    missing: tuple[str, ...]
    source: str

    @property
    def summary(self) -> str:
        """One line for logs and reports.

        For example "sp500 as of 2021-08-16: 30 of 505 members with data, 475 missing (A, AAL, ...)".
        """
        day = f" as of {self.as_of:%Y-%m-%d}" if self.as_of else ""
        text = f"{self.name}{day}: {len(self.tickers)} of {self.members} members with data"
        if self.missing:
            shown = ", ".join(self.missing[:8]) + (", ..." if len(self.missing) > 8 else "")
            text += f", {len(self.missing)} missing ({shown})"
        return text


def universe(name: str, *, as_of: object = None, cache_dir: Path | None = None) -> Universe:
    """The universe ``name`` ("dow30", "sectors" or "sp500"); sp500 needs ``as_of``, the others take none.

    ``as_of`` is a date, a Timestamp or "YYYY-MM-DD". ``cache_dir`` is the Yahoo cache
    searched for prices that are not bundled (default: ``default_cache_dir()``).
    """
    key = str(name).strip().lower()
    if key not in UNIVERSES:
        raise ConfigError(f"unknown universe {name!r}: use one of {', '.join(UNIVERSES)} "
                          "(sp500 with --as-of), or list tickers yourself")  # fmt: skip
    cache = Path(cache_dir or default_cache_dir()).expanduser()
    if key == "sp500":
        if as_of is None:
            first, _ = membership_span()
            raise ConfigError(f"universe sp500 is point-in-time: pass --as-of YYYY-MM-DD, the day whose S&P 500 "
                              f"members to use (membership data from {first:%Y-%m-%d})")  # fmt: skip
        day = _day(as_of, "--as-of")
        members = membership(day)
        have, missing, late = _split_by_data(members, cache, day)
        shipped = set(bundled_tickers())
        bundled = sum(t in shipped for t in have)
        stale = f", taken as unchanged after {MEMBERSHIP_KNOWN_THROUGH:%Y-%m-%d}" if (
            day.date() > MEMBERSHIP_KNOWN_THROUGH) else ""  # fmt: skip
        source = (f"S&P 500 members on {day:%Y-%m-%d} (intervals from GitHub's fja05680/sp500 of "
                  f"{MEMBERSHIP_KNOWN_THROUGH:%Y-%m-%d}{stale}); prices for {len(have)} of {len(members)}: "
                  f"{bundled} bundled, {len(have) - bundled} from the Yahoo cache {cache / 'prices'}; "
                  f"{len(missing)} missing ({late} of them with a file that starts after that day, most often "
                  "another company's under a reused ticker): survivorship-reduced, not survivorship-free")  # fmt: skip
        return Universe("sp500", have, day.date(), len(members), missing, source)
    file, what = _STATIC[key]
    if as_of is not None:
        raise ConfigError(f"--as-of applies only to sp500: {key} is a fixed list ({what}); "
                          "drop --as-of, or use the sp500 universe")  # fmt: skip
    members = tickers_from_file(UNIVERSE_DIR / file)
    have, missing, _ = _split_by_data(members, cache)
    source = f"{key}: {what} (a fixed list, not point-in-time), bundled; prices bundled, {_PRICES_SOURCE}"
    return Universe(key, have, None, len(members), missing, source)


def download_missing(u: Universe, *, cache_dir: Path | None = None, downloader: Downloader | None = None,
                     notify: Callable[[str], None] | None = None) -> Universe:  # fmt: skip
    """Download ``u.missing`` from Yahoo into the cache (a network is needed), then resolve ``u`` again.

    Tickers with a dot (BRK.B) are skipped: Yahoo spells them with "-" and no file holds them.
    A ticker Yahoo does not know is reported through ``notify`` and skipped; the first network
    failure ends the downloads. Most delisted members cannot be had from Yahoo at all.
    """
    say = notify or (lambda _: None)
    cache = Path(cache_dir or default_cache_dir()).expanduser()
    for ticker in u.missing:
        if "." in ticker:
            continue
        try:
            load_prices(ticker, source="yahoo", cache_dir=cache, downloader=downloader, notify=say)
        except NetworkError as err:
            say(f"stopping downloads: {err}")
            break
        except DataError as err:
            say(f"skipping {ticker}: {err}")
    return universe(u.name, as_of=u.as_of, cache_dir=cache)


def tickers_from_file(path: Path | str) -> tuple[str, ...]:
    """The tickers in a text file: one per line, upper-cased, duplicates dropped (first kept).

    Blank lines and ``#`` comments (whole lines or after a ticker) are ignored, and so is a
    first line ``ticker`` (a one-column CSV's header). An invalid ticker is a one-line
    ``DataError`` naming the file and the line.
    """
    path = Path(path).expanduser()
    try:
        lines = read_bounded(path).decode("utf-8-sig").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: no such ticker file; check the path") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file; write one ticker per line") from None
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror or err}); check the path") from None
    found: dict[str, None] = {}
    header_done = False
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not header_done and text.lower() == "ticker":
            header_done = True
            continue
        header_done = True
        if not _TICKER.fullmatch(text):
            shown = "".join(c if c.isprintable() else "?" for c in text[:40])
            raise DataError(f"{path}: line {number}: {shown!r} is not a ticker ({_TICKER_RULE}; "
                            "one ticker per line, # starts a comment); fix or remove the line")  # fmt: skip
        found.setdefault(text.upper(), None)
    if not found:
        raise DataError(f"{path}: no tickers in the file; write one ticker per line")
    return tuple(found)


def parse_tickers(text: str) -> tuple[str, ...]:
    """Tickers typed as one option: ``"AAPL,msft, SPY"`` -> ``("AAPL", "MSFT", "SPY")``.

    Commas and/or spaces separate them; they are upper-cased and duplicates dropped (first kept).
    """
    items = str(text).replace(",", " ").split()
    found: dict[str, None] = {}
    for item in items:
        if not _TICKER.fullmatch(item):
            shown = "".join(c if c.isprintable() else "?" for c in item[:40])
            raise ConfigError(f"ticker {shown!r} in {str(text)[:80]!r} is not valid: {_TICKER_RULE}; "
                              "separate tickers with commas")  # fmt: skip
        found.setdefault(item.upper(), None)
    if not found:
        raise ConfigError("no tickers given: pass them separated by commas, e.g. AAPL,MSFT,SPY")
    return tuple(found)


def membership_span() -> tuple[pd.Timestamp, pd.Timestamp]:
    """The days the S&P 500 membership can answer for: its first interval's start to today.

    The intervals are known through ``MEMBERSHIP_KNOWN_THROUGH``; later days, up to today,
    are answered as if nothing had changed since.
    """
    intervals = _intervals()
    return pd.Timestamp(intervals.start.min()), pd.Timestamp(dt.date.today())


def membership(day: object) -> tuple[str, ...]:
    """The S&P 500 members on ``day`` (date, Timestamp or "YYYY-MM-DD"), sorted."""
    when = _day(day, "day")
    iv = _intervals()
    inside = (iv.start.to_numpy() <= when.to_datetime64()) & ~(iv.end.to_numpy() <= when.to_datetime64())
    return tuple(sorted(set(iv.ticker.to_numpy()[inside])))


def is_member(ticker: str, day: object) -> bool:
    """Whether ``ticker`` is in the S&P 500 on ``day`` (False for a ticker that never was)."""
    return bool(membership_mask([ticker], pd.DatetimeIndex([_day(day, "day")])).iloc[0, 0])


def membership_mask(tickers: Iterable[str], dates: Iterable[object]) -> pd.DataFrame:
    """S&P 500 membership, point in time: a bool frame indexed by ``dates``, one column per ticker.

    ``mask.loc[d, t]`` is True when ``t`` was a member on ``d`` (the time of day is ignored). A
    ticker that never was a member is all False. Days before the membership data's first day
    or after today raise ``ConfigError``: slice the dates to ``membership_span()``.
    """
    index = pd.DatetimeIndex(dates)
    if index.tz is not None:
        index = index.tz_localize(None)
    names = list(dict.fromkeys(str(t).upper() for t in tickers))
    days = index.normalize().to_numpy("datetime64[ns]")
    if len(days):
        _day(pd.Timestamp(days.min()), "date")
        _day(pd.Timestamp(days.max()), "date")
    iv = _intervals()
    iv = iv[iv.ticker.isin(names)]
    column = {name: j for j, name in enumerate(names)}
    mask = np.zeros((len(days), len(names)), dtype=bool)
    for ticker, start, end in zip(iv.ticker.to_numpy(), iv.start.to_numpy(), iv.end.to_numpy(), strict=True):
        inside = days >= start
        if not np.isnat(end):
            inside &= days < end
        mask[:, column[ticker]] |= inside
    return pd.DataFrame(mask, index=index, columns=pd.Index(names, name="ticker"))


def _split_by_data(members: Iterable[str], cache: Path,
                   day: pd.Timestamp | None = None) -> tuple[tuple[str, ...], tuple[str, ...], int]:  # fmt: skip
    """(members with data, members without, how many of those have a file that starts after ``day``).

    A member has data when it has a bundled file or a Yahoo cache file ``<cache>/prices/T.csv``
    and, given ``day``, that file's first row is on or before ``day``: a later start is most
    often another company that took the ticker over (DOW in 2006 was Dow Chemical, Yahoo's DOW
    is Dow Inc. from 2019), whose prices must not stand in for the member's.
    """
    bundled = set(bundled_tickers())
    prices = cache / "prices"
    have, missing, late = list[str](), list[str](), 0
    for ticker in members:
        path = _bundled_path(ticker) if ticker in bundled else prices / f"{ticker}.csv"
        ok = "." not in ticker or ticker in bundled
        ok = ok and path.is_file()
        if ok and day is not None and (first := _first_day(path)) is not None and first > day:
            ok, late = False, late + 1
        (have if ok else missing).append(ticker)
    return tuple(have), tuple(missing), late


def _bundled_path(ticker: str) -> Path:
    plain = BUNDLED_DIR / f"{ticker}.csv"
    return plain if plain.is_file() else BUNDLED_DIR / f"{ticker}.csv.gz"


def _first_day(path: Path) -> pd.Timestamp | None:
    """The date on a price file's first data row (None when that is not plain to see: the loader checks it)."""
    try:
        with open_regular(path) as raw, (gzip.open(raw) if path.name.endswith(".gz") else raw) as file:
            file.readline(_LINE_CAP)
            return pd.Timestamp(file.readline(_LINE_CAP).split(b",", 1)[0].decode("utf-8-sig").strip()).normalize()
    except (OSError, EOFError, ValueError, TypeError, zlib.error):
        return None


def _day(value: object, what: str) -> pd.Timestamp:
    """``value`` as a midnight Timestamp inside ``membership_span()``, or a one-line ConfigError."""
    try:
        day = pd.Timestamp(value)
    except (TypeError, ValueError):
        day = pd.NaT
    if day is pd.NaT or pd.isna(day):
        raise ConfigError(f"{what} {str(value)[:40]!r} is not a date: write it as YYYY-MM-DD")
    if day.tzinfo is not None:
        day = day.tz_localize(None)
    day = day.normalize()
    first, last = membership_span()
    if not first <= day <= last:
        raise ConfigError(f"{what} {day:%Y-%m-%d} is outside the S&P 500 membership data: {first:%Y-%m-%d} to "
                          f"{MEMBERSHIP_KNOWN_THROUGH:%Y-%m-%d}, taken as unchanged since, so up to today "
                          f"({last:%Y-%m-%d}); pick a day in that range")  # fmt: skip
    return day


@functools.cache
def _intervals() -> pd.DataFrame:
    """The bundled membership intervals (ticker, start, end with NaT for "still a member"), checked."""
    path = MEMBERSHIP_FILE
    hint = "reinstall the package"
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot be read ({str(err)[:120]}); {hint}") from None
    if list(raw.columns) != ["ticker", "start_date", "end_date"]:
        raise DataError(f"{path}: columns {list(raw.columns)} are not ticker,start_date,end_date; {hint}")
    start = pd.to_datetime(raw.start_date, format="%Y-%m-%d", errors="coerce")
    end = pd.to_datetime(raw.end_date.replace("", None), format="%Y-%m-%d", errors="coerce")
    bad_ticker = ~raw.ticker.str.fullmatch(_TICKER.pattern)
    for bad, rule in (
        (bad_ticker, "a valid ticker"),
        (start.isna(), "start_date is a YYYY-MM-DD date"),
        (end.isna() & (raw.end_date != ""), "end_date is empty or a YYYY-MM-DD date"),
        (end.notna() & (end <= start), "start_date < end_date"),
    ):
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{path}: line {i + 2}: {','.join(raw.iloc[i])!r} breaks the rule: {rule}; {hint}")
    return pd.DataFrame({"ticker": raw.ticker.str.upper(), "start": start.astype("datetime64[ns]"),
                         "end": end.astype("datetime64[ns]")})  # fmt: skip
