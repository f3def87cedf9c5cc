"""Any raw daily table (a CSV file's text cells or a yfinance answer) -> the canonical, validated frame.

The canonical frame has a tz-naive, ascending, unique DatetimeIndex named "date" and float64
columns ``PRICE_COLUMNS``. Every refusal is a one-line ``DataError`` naming the source, the row
and the rule (``fail``). ``Options`` carries what a lenient reading of a user's file changes:
how numbers and dates are written, newest-first order, and the repair of bars. A table read
here has no row dated after today in New York (``market_today``; ``Options.today`` stands in
for it in tests), and no one-day spike: a close ``SPIKE`` times above or below both neighbours.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["ADJ_NAMES", "FILE_HINT", "INTRADAY_HINT", "PRICE_COLUMNS", "SPIKE", "TOLERANCE", "Options", "Outcome",
           "canonical", "check", "fail", "market_today", "norm", "spike_rows", "to_frame"]  # fmt: skip

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
FILE_HINT = "fix the file or pass another --csv"
INTRADAY_HINT = "resample it to daily bars (first open, highest high, lowest low, last close, summed volume)"
TOLERANCE = 1e-9  # relative: the float noise that adjusting a bar leaves
# A close this many times above, or below, the closes on both sides of it: a data error (a day's prices
# multiplied by 10^4). Over the 720 real price files measured (bundled, and the shared data's 663 stocks and
# 13 ETFs), legitimate one-day round trips stay under 7x (GLK's 0.009 -> 0.06 -> 0.005 in 2016); all rows
# above are Yahoo's garbage bars of 9 delisted stocks (GDW 2014-11-26: 40.77 between closes of 0.005), 7 of
# which the high/low rule refused already.
SPIKE = 50.0
MARKET = ZoneInfo("America/New_York")  # the exchanges whose daily bars bt reads
DATE_NAMES = ("date", "datetime", "timestamp", "time", "day", "trade_date", "unnamed_0")
ADJ_NAMES = ("adj_close", "adjclose", "adjusted_close")
# Stamps such as yfinance's "2020-01-02 00:00:00-05:00" change offset with daylight saving time.
_FIRST_DAY, _LAST_DAY = pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31")  # nanosecond timestamps' range
_DATE_CHARS = 64  # "Thursday, January 02, 2020 00:00:00-05:00" is 41; dateutil is quadratic in a cell's length
_OFFSET = re.compile(r"(\d\d:\d\d(?::\d\d(?:\.\d*)?)?)\s*(?:[+-]\d\d:?\d\d|Z)$")

Numbers = Callable[[str, pd.Series], pd.Series]  # (column, text cells) -> floats, NaN where not a number
Repair = Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DatetimeIndex]]  # -> repaired frame, dates changed


@dataclass(frozen=True)
class Options:
    """How to read a table beyond the canonical layout (the defaults read it as it is)."""

    newest_first: bool = False  # a strictly descending date column is reversed
    numbers: Numbers | None = None  # the file's way of writing numbers; None: plain pandas numbers
    dates: Callable[[pd.Series], pd.Series] | None = None  # rewrites date text as ISO 8601 before it is parsed
    repair: Repair | None = None  # applied to the file's own numbers before the rules are checked
    flatten: Repair | None = None  # one-day spikes flattened, before ``repair``
    today: Callable[[], dt.date] | None = None  # the day after which rows are refused; None: ``market_today``


@dataclass(frozen=True)
class Outcome:
    """The canonical frame and what reading it changed."""

    frame: pd.DataFrame
    reversed: bool = False
    repaired: pd.DatetimeIndex | None = None
    flattened: pd.DatetimeIndex | None = None


def fail(label: str, where: str | None, what: str, rule: str | None, hint: str) -> DataError:
    """A one-line DataError: ``LABEL: WHERE: WHAT (rule: RULE); HINT`` (printable characters only)."""
    at = f": {where}" if where else ""
    why = f" (rule: {rule})" if rule else ""
    text = " ".join(f"{label}{at}: {what}{why}; {hint}".split())  # one line, whatever a file holds
    return DataError("".join(c if c.isprintable() else "?" for c in text))


def market_today() -> dt.date:
    """Today's date in New York: a daily bar dated later does not exist yet."""
    return dt.datetime.now(MARKET).date()


def norm(name: object) -> str:
    """A header as the canonical names are written: lower case, runs of space . : - as one "_"."""
    return re.sub(r"[\s.:-]+", "_", str(name).strip().lower()).strip("_")


def canonical(raw: pd.DataFrame, label: str, hint: str, first_line: int | None) -> pd.DataFrame:
    """Any raw daily table (CSV text or a yfinance answer) -> the validated canonical frame."""
    return to_frame(raw, label, hint, first_line).frame


def to_frame(raw: pd.DataFrame, label: str, hint: str, first_line: int | None,
             options: Options = Options()) -> Outcome:  # fmt: skip
    """``canonical`` with ``options``: the frame, and whether rows were reversed or bars repaired."""
    table, date, adj = _columns(_flatten(raw), label, hint)
    where = "line {}" if first_line else "row {}"

    def line(i: int) -> str:
        return where.format(i + (first_line or 1))

    dates = _parse_dates(table[date], label, hint, line, options.dates)
    _refuse_future(dates, (options.today or market_today)(), label, hint, line)
    step = np.diff(dates.asi8)
    flip = options.newest_first and step.size > 0 and bool((step <= 0).all() and (step < 0).any())
    if flip:  # newest first (a repeated date is then reported as such)
        table, dates = table.iloc[::-1], dates[::-1]
    values = {name: _numbers(table[name], name, dates, label, hint, options.numbers) for name in table.columns[1:]}
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"))
    repaired = flattened = None
    if options.flatten is not None:
        frame, flattened = options.flatten(frame)
    if options.repair is not None:
        frame, repaired = options.repair(frame)
    check(frame, label, hint)  # on the file's own numbers, so that messages quote them
    if adj:
        check(frame, label, hint, columns=(adj,))
        ratio = frame[adj] / frame["close"]
        frame = frame[list(PRICE_COLUMNS)].assign(
            open=frame["open"] * ratio, high=frame["high"] * ratio, low=frame["low"] * ratio, close=frame[adj]
        )
        check(frame, label, hint)
    return Outcome(frame, flip, repaired, flattened)


def _flatten(raw: pd.DataFrame) -> pd.DataFrame:
    """Keep the column level that names prices (yfinance answers Price x Ticker); dates as a column."""
    if isinstance(raw.columns, pd.MultiIndex):
        levels = [raw.columns.get_level_values(i) for i in range(raw.columns.nlevels)]
        names = next((lv for lv in levels if "close" in map(norm, lv)), levels[0])
        raw = raw.set_axis(names, axis=1)
    return raw.reset_index(names="date") if isinstance(raw.index, pd.DatetimeIndex) else raw


def _columns(raw: pd.DataFrame, label: str, hint: str) -> tuple[pd.DataFrame, str, str | None]:
    """The date column, the price columns and an adjusted close if any, under their canonical names."""
    names = [norm(c) for c in raw.columns]
    date = next((n for n in DATE_NAMES if n in names), "date")
    adj = next((n for n in ADJ_NAMES if n in names), None)
    wanted = [n for n in (date, *PRICE_COLUMNS, adj) if n]
    for name in wanted:
        if name not in names:
            found = ", ".join(map(str, raw.columns))[:200]
            raise fail(label, None, f"no {name!r} column (found: {found})", None, hint)
        if names.count(name) > 1:
            raise fail(label, None, f"column {name!r} appears more than once", None, hint)
    table = raw.set_axis(names, axis=1)[wanted]
    if table.empty:
        raise fail(label, None, "no data rows", "at least 1 row", hint)
    return table, date, adj


def _numbers(text: pd.Series, name: str, dates: pd.DatetimeIndex, label: str, hint: str,
             parse: Numbers | None) -> np.ndarray:  # fmt: skip
    """One column as float64; the first cell that is not a number is named with its row's date."""
    if pd.api.types.is_numeric_dtype(text):
        number = text
    else:
        number = parse(name, text) if parse else pd.to_numeric(text, errors="coerce")
    bad = np.flatnonzero(number.isna().to_numpy() & text.notna().to_numpy())
    if bad.size:
        what = f"{name} {str(text.iloc[bad[0]])[:40]!r} is not a number"
        raise fail(label, f"row {dates[bad[0]]:%Y-%m-%d}", what, None, hint)
    return number.to_numpy(dtype="float64", na_value=np.nan)


def _parse_dates(text: pd.Series, label: str, hint: str, where: Callable[[int], str],
                 rewrite: Callable[[pd.Series], pd.Series] | None = None) -> pd.DatetimeIndex:  # fmt: skip
    if isinstance(text.dtype, pd.DatetimeTZDtype):
        dates = text.dt.tz_localize(None)  # the exchange's own calendar day
    elif pd.api.types.is_datetime64_dtype(text.dtype):
        dates = text
    else:
        clean = text.astype("str").str.strip()
        clean = clean.where(text.notna() & (clean.str.len() <= _DATE_CHARS))  # a longer cell is not a date
        clean = (rewrite(clean) if rewrite else clean).str.replace(_OFFSET, r"\1", regex=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": the NaT check below says more
            try:
                dates = pd.to_datetime(clean, errors="coerce", format="ISO8601" if rewrite else None)
            except (ValueError, TypeError, OverflowError) as err:
                what = f"dates do not parse ({str(err)[:120]})"
                raise fail(label, None, what, "dates parse", hint) from None
        if isinstance(dates.dtype, pd.DatetimeTZDtype):
            dates = dates.dt.tz_localize(None)
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        value = text.iloc[bad[0]]
        what = f"date {str(value)[:40]!r} is not a date in the file's format"
        what = "date is missing" if pd.isna(value) else what
        raise fail(label, where(bad[0]), what, "dates parse", hint)
    index = pd.DatetimeIndex(dates)
    far = np.flatnonzero(np.asarray((index < _FIRST_DAY) | (index > _LAST_DAY)))
    if far.size:  # pandas parses such years in a coarser unit than the nanoseconds a frame's dates have
        what = f"date {str(text.iloc[far[0]])[:40]!r} is outside {_FIRST_DAY:%Y} to {_LAST_DAY:%Y}"
        raise fail(label, where(far[0]), what, "dates parse", hint)
    _refuse_intraday(index, label)
    return index.normalize().as_unit("ns")


def _refuse_future(dates: pd.DatetimeIndex, today: dt.date, label: str, hint: str,
                   where: Callable[[int], str]) -> None:  # fmt: skip
    """The first row dated after ``today`` (in the file's order) is refused: no such bar exists yet."""
    late = np.flatnonzero(np.asarray(dates.normalize() > pd.Timestamp(today)))
    if late.size:
        what = f"date {dates[late[0]]:%Y-%m-%d} is after today ({today:%Y-%m-%d} in New York)"
        raise fail(label, where(late[0]), what, "no dates in the future", hint)


def _refuse_intraday(stamps: pd.DatetimeIndex, label: str) -> None:
    """Several rows on one day at different times: intraday bars, which no daily rule can fix."""
    days = stamps.normalize()
    if not days.has_duplicates or (stamps == days).all():
        return
    times = pd.Series(stamps).groupby(days).nunique()
    several = times[times > 1]
    if len(several):
        day = several.index[0]
        shown = sorted({f"{t:%H:%M}" for t in stamps[days == day]})[:3]
        what = f"several rows at different times ({', '.join(shown)}): intraday data"
        raise fail(label, f"day {day:%Y-%m-%d}", what, "one row per day", INTRADAY_HINT)


def check(frame: pd.DataFrame, label: str, hint: str, columns: tuple[str, ...] = PRICE_COLUMNS) -> None:
    """The validation rules; each failure names the first offending row."""
    if not isinstance(frame, pd.DataFrame):
        raise fail(label, None, f"expected a table, got {type(frame).__name__}", None, hint)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise fail(label, None, f"no {missing[0]!r} column", None, hint)
    if len(frame) == 0:
        raise fail(label, None, "no data rows", "at least 1 row", hint)
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise fail(label, None, "the rows are not indexed by date", "dates parse", hint)
    if index.tz is not None:
        raise fail(label, None, f"dates carry a time zone ({index.tz})", "tz-naive dates", hint)
    if index.hasnans:
        row = f"row {np.flatnonzero(index.isna())[0] + 1}"
        raise fail(label, row, "date is missing", "dates parse", hint)
    step = np.diff(index.asi8)
    if (step <= 0).any():
        i = np.flatnonzero(step <= 0)[0] + 1
        what, rule = ("date appears twice", "dates unique") if step[i - 1] == 0 else (
            f"date is earlier than the row before ({index[i - 1]:%Y-%m-%d})", "dates ascending")  # fmt: skip
        raise fail(label, f"row {index[i]:%Y-%m-%d}", what, rule, hint)
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
            raise fail(label, f"row {index[i]:%Y-%m-%d}", f"{columns[j]}{shown} {verb}", rule, hint)
    if columns == PRICE_COLUMNS:
        _check_range(x, index, label, hint)
        _check_spikes(x[:, 3], index, label, hint)


def _check_range(x: np.ndarray, index: pd.DatetimeIndex, label: str, hint: str) -> None:
    """high >= max(open, close) and low <= min(open, close), up to float noise."""
    o, h, lo, c = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    for value, bound, bad, text, rule in (
        (h, top, h < top * (1 - TOLERANCE), "high {} is below {}", "high >= max(open, close)"),
        (lo, bottom, lo > bottom * (1 + TOLERANCE), "low {} is above {}", "low <= min(open, close)"),
    ):
        if bad.any():
            i = np.flatnonzero(bad)[0]
            which = f"{'open' if bound[i] == o[i] else 'close'} {bound[i]:.10g}"
            what = text.format(f"{value[i]:.10g}", which)
            raise fail(label, f"row {index[i]:%Y-%m-%d}", what, rule, hint)


def spike_rows(close: np.ndarray) -> np.ndarray:
    """Rows whose close is over ``SPIKE`` times, or under a ``SPIKE``-th of, the positive closes on both sides."""
    flags = np.zeros(close.shape, dtype=bool)
    if close.size >= 3:
        mid, before, after = close[1:-1], close[:-2], close[2:]
        with np.errstate(invalid="ignore", over="ignore"):
            valid = (mid > 0) & (before > 0) & (after > 0)  # NaN compares False
            up = (mid > SPIKE * before) & (mid > SPIKE * after)
            down = (mid * SPIKE < before) & (mid * SPIKE < after)
        flags[1:-1] = valid & (up | down)
    return flags


def _check_spikes(close: np.ndarray, index: pd.DatetimeIndex, label: str, hint: str) -> None:
    """A one-day spike that reverts (a day's prices multiplied by 10^4) is refused, naming the row."""
    flags = spike_rows(close)
    if flags.any():
        i = int(np.flatnonzero(flags)[0])
        c, before, after = close[i], close[i - 1], close[i + 1]
        times = f"{min(c / before, c / after):,.0f} times" if c > before else f"1/{min(before / c, after / c):,.0f} of"
        what = f"close {c:.10g} is {times} the closes before ({before:.10g}) and after ({after:.10g}) it"
        rule = f"no one-day spike of {SPIKE:g}x and back"
        raise fail(label, f"row {index[i]:%Y-%m-%d}", what, rule, hint)


def _as_floats(frame: pd.DataFrame, columns: tuple[str, ...], label: str, hint: str) -> np.ndarray:
    for col in columns:
        if (frame.columns == col).sum() > 1:
            raise fail(label, None, f"column {col!r} appears more than once", None, hint)
    try:
        return frame[list(columns)].apply(pd.to_numeric).to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as err:
        raise fail(label, None, f"values that are not numbers ({str(err)[:80]})", None, hint) from None
