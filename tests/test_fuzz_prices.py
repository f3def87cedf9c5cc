"""Fuzz: the real bundled AAPL file mutated thousands of ways, fed to the real CLI (``bt walk-forward --csv``).

Each case writes one file: its dates, numbers and column names in a vendor's style or not, rows swapped,
duplicated, reversed or cut, cells blanked or garbled, columns dropped, renamed or added, bars broken,
several rows a day, then a delimiter, quoting, line ending, encoding, byte-order mark, gzip, and maybe
truncated or flipped bytes. Whatever comes of it: no traceback (the result's exception is None or
SystemExit), exit code 0 or 2, at most 3 lines of output on a failure, and the run folder that
``--out`` names (with ``--overwrite``, so that the data is read) left byte for byte as it was by every failure.

``BT_FUZZ_CASES`` sets the number of cases (default 150, about a minute on two cores: failures take
milliseconds, a success about a second for its report); ``BT_FUZZ_SEED`` the first seed (default 0).
"""

from __future__ import annotations

import collections
import csv
import gzip
import io
import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from backtests.cli import app
from backtests.data import BUNDLED_DIR

CASES = int(os.environ.get("BT_FUZZ_CASES", "150"))
SEED = int(os.environ.get("BT_FUZZ_SEED", "0"))
LINES = (BUNDLED_DIR / "AAPL.csv").read_text().splitlines()
HEADER = LINES[0].split(",")
BASE = [line.split(",") for line in LINES[-160:]]  # about 7 months: 60 training days, 10 lookback, 20 forecasts
START = BASE[140][0]
OPTIONS = ["--model", "naive", "--start", START, "--train-days", "60", "--lookback", "10"]

Table = tuple[list[str], list[list[str]]]  # header, rows of text cells

DATE_STYLES = ["%m/%d/%Y", "%d.%m.%Y", "%d/%m/%Y", "%b %d, %Y", "%Y-%m-%d 00:00:00-04:00", "%Y%m%d", "%m/%d/%y",
               "%Y/%m/%d", "%d-%b-%Y"]  # fmt: skip
VENDOR_NAMES = [
    ["Date", "Open", "High", "Low", "Close/Last", "Volume"],
    ["Date", "Open", "High", "Low", "Price", "Vol."],
    ["Datum", "Eröffnung", "Hoch", "Tief", "Schluss", "Volumen"],
    ["Date", "Ouverture", "Plus haut", "Plus bas", "Clôture", "Volume"],
    ["Date", "Open", "High", "Low", "Close*", "Volume"],
    [" DATE ", "open ", "HIGH", "Low", "close", "VOLUME"],
    ["timestamp", "1. open", "2. high", "3. low", "4. close", "5. volume"],
]
GARBAGE = "0123456789.,;:-+eE$€ /\t\"'abcxyzKMB%()\x00\xa0\u202f\ufeff\r\n"


def number_style(rng: random.Random, decimal_comma: bool) -> Callable[[str, bool], str]:
    """How the file writes a number (``volume`` True for the volume column)."""
    digits = rng.choice([None, 2, 4, 6])
    currency = rng.random() < 0.2
    thousands = rng.random() < 0.2
    suffix = rng.random() < 0.2

    def write(text: str, volume: bool) -> str:
        try:
            value = float(text)
        except ValueError:
            return text
        if volume and suffix and value >= 1e3:
            unit, scale = next((u, s) for u, s in (("B", 1e9), ("M", 1e6), ("K", 1e3)) if value >= s)
            out = f"{value / scale:.2f}{unit}"
        elif volume:
            out = f"{value:,.0f}" if thousands else f"{value:.0f}"
        else:
            out = f"{value:,.{digits}f}" if thousands and digits else (f"{value:.{digits}f}" if digits else text)
            out = f"${out}" if currency else out
        if decimal_comma:
            out = out.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return out

    return write


def styled(rng: random.Random, decimal_comma: bool) -> Table:
    """The base rows with a vendor's dates, names, numbers and order (or the canonical ones)."""
    header = list(rng.choice(VENDOR_NAMES)) if rng.random() < 0.4 else list(HEADER)
    date_style = rng.choice(DATE_STYLES) if rng.random() < 0.4 else None
    write = number_style(rng, decimal_comma) if rng.random() < 0.5 or decimal_comma else None
    rows = []
    for cells in BASE:
        day = pd.Timestamp(cells[0]).strftime(date_style) if date_style else cells[0]
        values = [write(c, i == 4) if write else c for i, c in enumerate(cells[1:])]
        rows.append([day, *values])
    return header, rows[::-1] if rng.random() < 0.3 else rows


def swap_rows(rng: random.Random, header: list[str], rows: list[list[str]]) -> Table:
    if len(rows) > 1:
        i, j = rng.sample(range(len(rows)), 2)
        rows[i], rows[j] = rows[j], rows[i]
    return header, rows


def blank_cell(rng: random.Random, header: list[str], rows: list[list[str]]) -> Table:
    if rows:
        row = rng.choice(rows)
        row[rng.randrange(len(row))] = rng.choice(["", " ", "NaN", "null", "-", "N/A"])
    return header, rows


def garble_cell(rng: random.Random, header: list[str], rows: list[list[str]]) -> Table:
    if rows:
        row = rng.choice(rows)
        j = rng.randrange(len(row))
        at = rng.randint(0, len(row[j]))
        noise = "".join(rng.choice(GARBAGE) for _ in range(rng.randint(1, 4)))
        row[j] = row[j][:at] + noise + row[j][at + rng.randint(0, 2) :]
    return header, rows


def drop_column(rng: random.Random, header: list[str], rows: list[list[str]]) -> Table:
    j = rng.randrange(len(header))
    return header[:j] + header[j + 1 :], [r[:j] + r[j + 1 :] for r in rows]


def rename_column(rng: random.Random, header: list[str], rows: list[list[str]]) -> Table:
    names = ["Adj Close", "Adj. Close", "Price", "Last", "Close", "Date", "Time", "Vol", "Change %", "", "x"]
    header[rng.randrange(len(header))] = rng.choice(names)
    return header, rows


def add_column(rng: random.Random, header: list[str], rows: list[list[str]]) -> Table:
    name = rng.choice(["Change %", "Adj Close", "Dividends", "Ticker", "Note"])
    value = rng.choice(["0.5%", "AAPL", "", "1.0"])
    j = rng.randint(0, len(header))
    return header[:j] + [name] + header[j:], [r[:j] + [value] + r[j:] for r in rows]


def shuffle_columns(rng: random.Random, header: list[str], rows: list[list[str]]) -> Table:
    order = list(range(len(header)))
    rng.shuffle(order)
    return [header[j] for j in order], [[r[j] for j in order] for r in rows if len(r) == len(order)]


def duplicate_row(rng: random.Random, header: list[str], rows: list[list[str]]) -> Table:
    if rows:
        i = rng.randrange(len(rows))
        rows.insert(i, list(rows[i]))
    return header, rows


def cut_rows(rng: random.Random, header: list[str], rows: list[list[str]]) -> Table:
    keep = rng.randint(0, len(rows))
    return header, rows[:keep] if rng.random() < 0.5 else rows[len(rows) - keep :]


def break_bar(rng: random.Random, header: list[str], rows: list[list[str]]) -> Table:
    if rows and len(rows[0]) > 3:
        row = rng.choice(rows)
        j = rng.choice([2, 3])
        try:
            row[j] = repr(float(row[j]) * (0.9 if j == 2 else 1.1))
        except ValueError:
            row[j] = "0"
    return header, rows


def intraday(rng: random.Random, header: list[str], rows: list[list[str]]) -> Table:
    out = []
    for row in rows[-10:]:
        out += [[f"{row[0]} {h:02}:30", *row[1:]] for h in (9, 10, 11)]
    return header, out


MUTATIONS = [swap_rows, blank_cell, garble_cell, drop_column, rename_column, add_column, shuffle_columns,
             duplicate_row, cut_rows, break_bar, intraday]  # fmt: skip


def serialised(rng: random.Random, table: Table, delimiter: str) -> tuple[bytes, str]:
    """The table as file bytes, and the file's suffix."""
    text = io.StringIO()
    quoting = rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
    writer = csv.writer(text, delimiter=delimiter, quoting=quoting, lineterminator=rng.choice(["\n", "\r\n"]))
    header, rows = table
    writer.writerows([header, *rows])
    encoding = rng.choice(["utf-8"] * 5 + ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1"])
    data = text.getvalue().encode(encoding, errors="replace")
    if rng.random() < 0.1:
        data = data[: rng.randint(0, len(data))]
    if rng.random() < 0.05 and data:
        at = rng.randrange(len(data))
        data = data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
    if rng.random() < 0.1:
        data = gzip.compress(data, mtime=0)
        return (data[: rng.randint(0, len(data))] if rng.random() < 0.2 else data), ".csv.gz"
    return data, rng.choice([".csv", ".csv", ".txt", ".tsv"])


def make_case(seed: int) -> tuple[bytes, str, bool]:
    """One mutated file: bytes, suffix, and whether the run is told repair_bars = "clip"."""
    rng = random.Random(seed)
    delimiter = rng.choice([",", ",", ",", ";", "\t"])
    table = styled(rng, decimal_comma=delimiter != "," and rng.random() < 0.6)
    for mutate in rng.sample(MUTATIONS, k=rng.choice([0, 0, 1, 1, 2, 3])):
        table = mutate(rng, list(table[0]), [list(r) for r in table[1]])
    data, suffix = serialised(rng, table, delimiter)
    return data, suffix, rng.random() < 0.2


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_fuzzed_price_files_through_the_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    base = tmp_path / "base.csv"
    base.write_text("\n".join([",".join(HEADER), *(",".join(r) for r in BASE)]) + "\n")
    out = tmp_path / "existing-run"
    first = runner.invoke(app, ["walk-forward", "X", "--csv", str(base), *OPTIONS, "--out", str(out)])
    assert first.exit_code == 0, first.output
    (tmp_path / "clip.toml").write_text('[data]\nrepair_bars = "clip"\n')
    outcomes: collections.Counter[str] = collections.Counter()
    problems: list[str] = []  # every case runs, so that a long run reports all it finds
    began = time.perf_counter()
    for seed in range(SEED, SEED + CASES):
        kind, problem = run_case(runner, tmp_path, seed, out)
        outcomes[kind] += 1
        problems += [problem] if problem else []
    seconds = time.perf_counter() - began
    print(f"\nfuzz: {CASES} cases from seed {SEED} in {seconds:.1f} s, {len(problems)} problems: " + ", ".join(
        f"{kind} {n}" for kind, n in outcomes.most_common()))  # fmt: skip
    assert not problems, f"{len(problems)} of {CASES} cases went wrong; the first:\n" + "\n".join(problems[:3])
    assert outcomes["read and run"] > 0 or CASES < 20  # the mutations leave many files readable


def run_case(runner: CliRunner, folder: Path, seed: int, out: Path) -> tuple[str, str | None]:
    """Run case ``seed`` into ``out`` (an existing run folder): its outcome, and what went wrong if anything."""
    data, suffix, repair = make_case(seed)
    path = folder / f"case{suffix}"
    path.write_bytes(data)
    before = snapshot(out)
    args = ["walk-forward", "X", "--csv", str(path), *OPTIONS, "--out", str(out), "--overwrite"]
    result = runner.invoke(app, args + (["--config", str(folder / "clip.toml")] if repair else []))
    where = f"seed {seed} ({suffix}, clip={repair}): exit {result.exit_code}: {result.output.strip()[-600:]}"
    if not (result.exception is None or isinstance(result.exception, SystemExit)):
        return "traceback", f"{where}: {type(result.exception).__name__}: {result.exception}"
    if result.exit_code == 0:
        return "read and run", None  # a successful run replaces the folder it was given
    lines = result.output.strip().splitlines()
    if result.exit_code != 2 or not 1 <= len(lines) <= 3 or not lines[-1].startswith("error: "):
        return "bad refusal", where
    if snapshot(out) != before:
        return "folder changed", f"{where}: the run folder changed"
    return _kind(lines[-1]), None


def _kind(error: str) -> str:
    """A refusal's rule, else its first words, for the summary."""
    rule = re.search(r"\(rule: (.*?)\);", error)
    if rule:
        return rule.group(1)
    what = error.split("): ", 1)[-1] if "): " in error else error.removeprefix("error: ")
    what = re.sub(r"^(row|line|day) [^:]*: ", "", what)
    return " ".join(re.sub(r"'[^']*'", "'...'", what).split()[:3])
