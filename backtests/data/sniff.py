"""A price file's bytes as a table of text cells: compression, encoding and delimiter sniffed.

``read_plain_table`` reads the canonical layout only (comma-separated UTF-8, what the bundled
files and the Yahoo cache hold). ``sniff_table`` also reads UTF-16 and UTF-8 with a byte-order
mark, and semicolon- or tab-separated files, and says so in its ``notes``. Both refuse with
the same one-line messages: no such file, empty, not text, not a readable CSV.
"""

from __future__ import annotations

import codecs
import csv
import io
import lzma
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .bounded import MAX_ENV, FileTooLarge, NotRegularFile, read_unpacked
from .canonical import FILE_HINT, fail, norm
from .layouts import ALIASES, vendor_name

__all__ = ["DELIMITERS", "Sniffed", "read_plain_table", "sniff_table"]

# delimiter -> how a notice names it (a comma says nothing: it is the canonical layout)
DELIMITERS = {",": "", ";": "semicolon-separated", "\t": "tab-separated"}
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
_NO_BOM = "UTF-16 (without a byte-order mark)"
_MAX_COLUMNS = 256  # a daily price file has 5 to 10


@dataclass(frozen=True)
class Sniffed:
    """Every cell as text, the file line of the first row, the delimiter, and how the file was read."""

    raw: pd.DataFrame
    first_line: int
    delimiter: str
    notes: tuple[str, ...]


def read_plain_table(path: Path, label: str) -> tuple[pd.DataFrame, int]:
    """Every cell as text, and the file line of the first row (for messages): the canonical layout."""
    with _refusals(label):
        # Read and decoded here, not by pandas from the path: a Ctrl-C while pandas' C parser reads a file
        # can come out as "Calling read(nbytes) on source failed", a bad-file error instead of an interrupt;
        # and read_unpacked refuses pipes, devices and folders and stops at the size cap.
        text = read_unpacked(path).decode("utf-8-sig")
        _check_fields(text, ",", label)
        raw = pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True)
    return _drop_yfinance_header(raw)


def sniff_table(path: Path, label: str) -> Sniffed:
    """Every cell as text of a file in any common layout, and how it was read."""
    with _refusals(label):
        text, encoding = _decode(read_unpacked(path), label)
        delimiter = _delimiter(text, label)
        _check_fields(text, delimiter, label)
        raw = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, skipinitialspace=True)
    raw, first_line = _drop_yfinance_header(raw)
    notes = tuple(n for n in (encoding, DELIMITERS[delimiter]) if n)
    return Sniffed(raw, first_line, delimiter, notes)


@contextmanager
def _refusals(label: str) -> Iterator[None]:
    """Reading errors as one-line DataErrors naming the file."""
    try:
        yield
    except FileNotFoundError:
        raise fail(label, None, "no such file", None, "check the path given to --csv") from None
    except NotRegularFile as err:
        raise fail(label, None, str(err), None, "pass a regular file (not a pipe, device or folder)") from None
    except FileTooLarge as err:
        what = f"holds more than {err.cap / (1 << 20):g} MiB (decompressed), the limit on a file bt reads"
        raise fail(label, None, what, None, f"set {MAX_ENV} to a larger number of MiB, or pass another file") from None
    except pd.errors.EmptyDataError:
        raise fail(label, None, "the file is empty", None, FILE_HINT) from None
    except UnicodeDecodeError:
        raise fail(label, None, "not a UTF-8 text file", None, FILE_HINT) from None
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError, zlib.error) as err:  # a truncated or broken archive
        why = getattr(err, "strerror", None) or str(err)[:120] or type(err).__name__
        raise fail(label, None, f"cannot be read ({why})", None, FILE_HINT) from None
    except (ValueError, csv.Error) as err:  # pandas' ParserError included
        raise fail(label, None, f"not a readable CSV ({str(err)[:120]})", None, FILE_HINT) from None


def _check_fields(text: str, delimiter: str, label: str) -> None:
    """Refuse, before pandas reads it, a shape that costs pandas time growing faster than the file.

    A header of more than ``_MAX_COLUMNS`` fields, and a first row with two or more fields beyond the
    header's (pandas makes the extra ones a many-level index: a million took a minute) are refused; one
    more field is pandas' unnamed index column, as before.
    """
    rows = (row for row in csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True) if row)
    header, first = next(rows, []), next(rows, [])
    if len(header) > _MAX_COLUMNS:
        raise fail(label, "line 1", f"the header has {len(header):,} columns, more than the {_MAX_COLUMNS} read",
                   None, "keep the date, open, high, low, close and volume columns")  # fmt: skip
    if len(first) > len(header) + 1:
        what = f"the first row has {len(first):,} fields but the header {len(header)}"
        raise fail(label, None, what, None, FILE_HINT)


def _drop_yfinance_header(raw: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """yfinance's download().to_csv() writes three header lines: Price, Ticker, Date."""
    head = [norm(v) for v in raw.iloc[:2, 0].fillna("")] if raw.shape[1] else []
    if head[:1] == ["ticker"] and norm(raw.columns[0]) == "price":
        skip = 2 if head == ["ticker", "date"] else 1
        raw = raw.iloc[skip:].rename(columns={raw.columns[0]: "date"}).reset_index(drop=True)
        return raw, 2 + skip
    return raw, 2


def _decode(data: bytes, label: str) -> tuple[str, str]:
    """The text and how a notice names its encoding ("" for plain UTF-8)."""
    if not data.strip():
        raise pd.errors.EmptyDataError
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            return _text(data, codec, name, label), "UTF-8 with a byte-order mark" if name == "UTF-8" else name
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and "\x00" not in text:
        return text, ""
    utf16 = _utf16_without_bom(data)
    if utf16 is None:
        what = "not UTF-8 or UTF-16 text" if not text else "not a text file (it holds NUL bytes)"
        raise fail(label, None, what, None, "save it as UTF-8 CSV or pass another --csv")
    return _text(data, utf16, "UTF-16", label), _NO_BOM


def _utf16_without_bom(data: bytes) -> str | None:
    """utf-16-le or -be when every other byte is NUL, as in UTF-16 text of Latin letters and digits."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def _text(data: bytes, codec: str, name: str, label: str) -> str:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        raise fail(label, None, f"not valid {name} text", None, "save it as UTF-8 CSV or pass another --csv") from None
    if "\x00" in text:
        raise fail(label, None, "not a text file (it holds NUL characters)", None, FILE_HINT)
    return text.removeprefix("\ufeff")


def _delimiter(text: str, label: str) -> str:
    """The delimiter under which the header names the most known columns (a comma when none does)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    scores = {d: _known(header, d) for d in DELIMITERS}
    best = max(scores.values())
    tied = [d for d, score in scores.items() if score == best]
    if best and len(tied) > 1:
        shown = " or ".join(repr(d) for d in tied)
        raise fail(label, "line 1", f"the header splits into known columns at {shown}", None,
                   "use one delimiter (a comma) in the file")  # fmt: skip
    return tied[0] if best else ","


def _known(header: str, delimiter: str) -> int:
    """How many distinct known column names ``header`` holds when split at ``delimiter``."""
    try:
        cells = next(csv.reader([header], delimiter=delimiter, skipinitialspace=True), [])
    except csv.Error:
        return 0
    names = {vendor_name(c) for c in cells}
    return len(names & ALIASES.keys()) if len(cells) > 1 else 0
