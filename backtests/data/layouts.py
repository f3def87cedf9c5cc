"""What vendors' price files write differently: column names, numbers and dates.

``standardise`` takes a file's table of text cells and returns it with the canonical column
names, plus readers for its numbers (decimal commas, thousands separators, currency signs,
``1.2M`` volumes) and dates (day/month or month/day order, decided from the rows), and one
note per thing it read differently. What cannot be decided from the file is refused with
one line that says what to change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from .canonical import ADJ_NAMES, DATE_NAMES, INTRADAY_HINT, PRICE_COLUMNS, Numbers, fail, norm

__all__ = ["ALIASES", "Layout", "standardise", "vendor_name"]

_TARGETS = ("date", *PRICE_COLUMNS, "adj_close")
_ALIAS_NAMES = {
    "date": "date datetime timestamp time day trade_date datum",
    "open": "open open_price opening_price eröffnung eroeffnung ouverture 1_open",
    "high": "high high_price hoch plus_haut 2_high",
    "low": "low low_price tief plus_bas 3_low",
    "close": "close close_last last last_price price close_price closing_price schluss schlusskurs clôture "
             "cloture 4_close",
    "adj_close": "adj_close adjclose adjusted_close adj_close_price 5_adjusted_close",
    "volume": "volume vol volumen 5_volume 6_volume",
}  # fmt: skip
# A header as ``vendor_name`` writes it -> the canonical column it names.
ALIASES: dict[str, str] = {alias: target for target, names in _ALIAS_NAMES.items() for alias in names.split()}
_OWN_NAMES = {"date": DATE_NAMES, "adj_close": ADJ_NAMES}  # what ``canonical`` itself recognises
_CURRENCY = re.compile(r"[$€£¥₹]")
_SPACES = re.compile(r"[\s\u00a0\u2009\u202f]+")
_SUFFIX = re.compile(r"^(\d[\d.,\s]*?)\s*([KMBkmb])$")
_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9}
_SPECIAL = {"nan", "inf", "+inf", "-inf", "infinity", "-infinity"}  # read as today: missing, not finite
_NUMERIC_DATE = r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})((?:[ T].*)?)$"
# Dates with month names; "%b" first, since a file that starts in May fits "%B" as well.
_NAMED_FORMATS = ("%b %d, %Y", "%d-%b-%Y", "%d %b %Y", "%b %d %Y", "%d-%b-%y", "%B %d, %Y", "%d %B %Y", "%B %d %Y")


@dataclass(frozen=True)
class Layout:
    """A table with canonical column names, how to read its numbers and dates, and notes on how it was read."""

    raw: pd.DataFrame
    numbers: Numbers | None
    dates: Callable[[pd.Series], pd.Series] | None
    notes: tuple[str, ...]


def vendor_name(name: object) -> str:
    """A header reduced to letters and digits joined by "_": "Close/Last" -> close_last, "Vol." -> vol."""
    return re.sub(r"[\W_]+", "_", str(name).strip().casefold()).strip("_")


def standardise(raw: pd.DataFrame, label: str) -> Layout:
    """``raw`` with vendor column names made canonical, and readers for its numbers and dates."""
    raw, renamed = _rename(raw, label)
    _refuse_time_column(raw, label)
    numbers, number_notes = _number_reader(raw, label)
    dates, date_notes = _date_reader(raw, label)
    return Layout(raw, numbers, dates, (*renamed, *number_notes, *date_notes))


# Column names


def _rename(raw: pd.DataFrame, label: str) -> tuple[pd.DataFrame, list[str]]:
    """Vendor names -> canonical names, for the columns ``canonical`` would not find by itself."""
    own = [norm(c) for c in raw.columns]
    renames, notes = {}, []
    for target in _TARGETS:
        if any(n in own for n in _OWN_NAMES.get(target, (target,))):
            continue
        found = [c for c, n in zip(raw.columns, own, strict=True) if ALIASES.get(vendor_name(c)) == target
                 and n not in ALIASES.values()]  # fmt: skip
        if len(found) > 1:
            names = " and ".join(repr(str(c)) for c in found[:2])
            raise fail(label, None, f"columns {names} could both be the {target.replace('_', ' ')}", None,
                       f"rename one of them to {target!r} or pass another --csv")  # fmt: skip
        if found:
            renames[found[0]] = target
            if vendor_name(found[0]) != target:
                notes.append(f"{str(found[0])[:30]!r} as {target.replace('adj_close', 'adjusted close')}")
    return raw.rename(columns=renames), notes


def _refuse_time_column(raw: pd.DataFrame, label: str) -> None:
    """A Date and a Time column with several times on one day: intraday bars."""
    names = [norm(c) for c in raw.columns]
    if "date" not in names or "time" not in names or names.count("date") > 1 or names.count("time") > 1:
        return
    pairs = raw.set_axis(names, axis=1)[["date", "time"]].dropna()
    times = pairs.groupby("date", sort=False)["time"].nunique()
    several = times[times > 1]
    if len(several):
        day = several.index[0]
        shown = sorted(pairs.loc[pairs["date"] == day, "time"].astype(str).unique())[:3]
        what = f"several rows at different times ({', '.join(shown)}): intraday data"
        raise fail(label, f"day {str(day)[:20]}", what, "one row per day", INTRADAY_HINT)


# Numbers


def _number_columns(raw: pd.DataFrame) -> dict[str, pd.Series]:
    names = [norm(c) for c in raw.columns]
    wanted = set(PRICE_COLUMNS) | set(ADJ_NAMES)
    return {n: raw.iloc[:, i] for i, n in enumerate(names) if n in wanted and names.count(n) == 1}


def _clean(text: pd.Series) -> pd.Series:
    """Cells without currency signs, outer spaces, and with every inner space as one " "."""
    s = text.astype("str").where(text.notna())
    return s.str.replace(_CURRENCY, "", regex=True).str.replace(_SPACES, " ", regex=True).str.strip()


def _number_reader(raw: pd.DataFrame, label: str) -> tuple[Numbers | None, list[str]]:
    """A reader for the file's way of writing numbers, or None when it writes them plainly."""
    columns = _number_columns(raw)
    if not columns:
        return None, []
    cells = pd.concat([_mantissa(_clean(s)) if n == "volume" else _clean(s) for n, s in columns.items()]).dropna()
    cells = cells[cells.str.contains(r"\d", regex=True)]
    decimal = _decimal_mark(cells, label)
    thousands = " " if cells.str.contains(" ", regex=False).any() else ("." if decimal == "," else ",")
    original = pd.concat(list(columns.values())).dropna().astype("str")
    notes = ["with decimal commas"] if decimal == "," else []
    if cells.str.contains(thousands, regex=False).any():
        shown = "space" if thousands == " " else repr(thousands)
        notes.append(f"with {shown} thousands separators")
    signs = sorted(set(_CURRENCY.findall("".join(original.tolist()))))
    notes += [f"{''.join(signs)!r} signs dropped"] if signs else []
    volume = _clean(columns["volume"]).dropna() if "volume" in columns else pd.Series([], dtype="str")
    notes += ["K/M/B volume suffixes expanded"] if volume.str.fullmatch(_SUFFIX).any() else []
    if not notes:
        return None, []
    return partial(_parse_numbers, decimal=decimal, thousands=thousands), notes


def _mantissa(volume: pd.Series) -> pd.Series:
    """Volume cells without a K, M or B suffix."""
    return volume.str.replace(_SUFFIX, r"\1", regex=True)


def _decimal_mark(cells: pd.Series, label: str) -> str:
    """The decimal mark, "." or ",", from the cells that show it; refused when they disagree or none can tell."""
    cells = cells.str.replace(" ", "", regex=False)  # a space groups thousands; it tells nothing here
    dots, commas = cells.str.contains(".", regex=False), cells.str.contains(",", regex=False)
    both = cells[dots & commas]
    if len(both):
        last = both.map(lambda c: "," if c.rfind(",") > c.rfind(".") else ".")
        if last.nunique() > 1:
            a, b = both[last == "."].iloc[0], both[last == ","].iloc[0]
            raise _marks_refusal(label, f"numbers such as {a!r} and {b!r} use ',' and '.' the opposite way")
        return str(last.iloc[0])
    comma = cells.str.fullmatch(r"[+-]?\d*,(?:\d{1,2}|\d{4,})") | (cells.str.count(r"\.") > 1)
    dot = cells.str.fullmatch(r"[+-]?\d*\.(?:\d{1,2}|\d{4,})(?:[eE][+-]?\d+)?") | (cells.str.count(",") > 1)
    if comma.any() and dot.any():
        a, b = cells[dot].iloc[0], cells[comma].iloc[0]
        raise _marks_refusal(label, f"numbers such as {a!r} and {b!r} use different decimal marks")
    if comma.any():
        return ","
    if dot.any() or not commas.any():
        return "."
    example = cells[commas].iloc[0]
    raise _marks_refusal(label, f"',' in numbers such as {example!r} may be a decimal mark or a thousands separator")


def _marks_refusal(label: str, what: str) -> Exception:
    return fail(label, None, what, None, "write numbers with a '.' decimal mark and no thousands separators")


def _parse_numbers(name: str, text: pd.Series, *, decimal: str, thousands: str) -> pd.Series:
    """Floats from cells such as "$1,234.56", "1.234,56" or (volume) "1.2M"; NaN where a cell is not one."""
    s = _clean(text)
    scale = pd.Series(1.0, index=s.index)
    if name == "volume":
        suffix = s.str.extract(_SUFFIX)[1]
        scale = suffix.str.upper().map(_SCALE).fillna(1.0).astype("float64")
        s = _mantissa(s)
    d, t = re.escape(decimal), re.escape(thousands)
    pattern = rf"[+-]?(?:(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)(?:{d}\d*)?|{d}\d+)(?:[eE][+-]?\d+)?"
    ok = s.str.fullmatch(pattern).fillna(False).astype(bool)
    plain = s.where(ok).str.replace(thousands, "", regex=False).str.replace(decimal, ".", regex=False)
    number = pd.to_numeric(plain, errors="coerce").astype("float64")
    special = s.str.lower().isin(_SPECIAL).fillna(False).astype(bool)
    number = number.where(~special, pd.to_numeric(s.where(special), errors="coerce"))
    scaled = scale != 1.0
    return number.where(~scaled, np.round(number * scale))


# Dates


def _date_reader(raw: pd.DataFrame, label: str) -> tuple[Callable[[pd.Series], pd.Series] | None, list[str]]:
    """A rewrite of the file's dates as ISO text, when they are not ISO already (None when they are)."""
    names = [norm(c) for c in raw.columns]
    date = next((n for n in DATE_NAMES if n in names), None)
    if date is None or names.count(date) > 1:
        return None, []
    text = raw.iloc[:, names.index(date)].dropna().astype("str").str.strip()
    parts = text.str.extract(_NUMERIC_DATE).dropna(subset=[0])
    if parts.empty:
        return _named_months(text), []
    a, b = parts[0].astype(int), parts[2].astype(int)
    day_first, month_first = _fits(a, b), _fits(b, a)
    if day_first.all() and month_first.all() and (a != b).any():
        example = text.loc[(a != b).idxmax()]
        what = f"dates such as {example!r} read both as day/month/year and as month/day/year on every row"
        raise fail(label, None, what, "unambiguous dates", "write the dates as YYYY-MM-DD or pass another --csv")
    first = bool(day_first.sum() > month_first.sum())
    note = "day/month/year dates" if first else "month/day/year dates"
    return partial(_iso_dates, day_first=first), [note]


def _named_months(text: pd.Series) -> Callable[[pd.Series], pd.Series] | None:
    """For dates such as "Jan 02, 2004" or "04-May-2026": the format that reads most of them."""
    if not text.str.contains(r"[^\W\d_]{3}", regex=True).any():
        return None
    sample = text.iloc[:500]
    read = {f: int(pd.to_datetime(sample, format=f, errors="coerce").notna().sum()) for f in _NAMED_FORMATS}
    best = max(read, key=read.__getitem__)
    return partial(_reformatted, fmt=best) if read[best] else None


def _reformatted(text: pd.Series, *, fmt: str) -> pd.Series:
    """Dates in ``fmt`` as ISO text; the cells that are not in it as they are."""
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    return parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), text)


def _fits(day: pd.Series, month: pd.Series) -> pd.Series:
    return (day >= 1) & (day <= 31) & (month >= 1) & (month <= 12)


def _iso_dates(text: pd.Series, *, day_first: bool) -> pd.Series:
    """Dates such as 03/04/2021 or 03.04.21 (and a time after them) as ISO text; other cells as they are."""
    parts = text.str.extract(_NUMERIC_DATE)
    ok = parts[0].notna()
    if not ok.any():
        return text
    parts = parts[ok]
    day, month = (parts[0], parts[2]) if day_first else (parts[2], parts[0])
    year = parts[3].where(parts[3].str.len() == 4, _century(parts[3]))
    iso = year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2) + parts[4].fillna("")
    out = text.astype(object)
    out[ok] = iso
    return out.astype("str").where(text.notna())


def _century(year: pd.Series) -> pd.Series:
    """Two-digit years as POSIX strptime reads them: 69-99 -> 19xx, 00-68 -> 20xx."""
    digits = pd.to_numeric(year, errors="coerce").fillna(0).astype(int)
    return pd.Series(np.where(digits < 69, "20", "19"), index=year.index) + year
