"""Issue 18, inputs: any file a user names is read in bounded time and memory, and implausible data is refused.

Pipes, devices, sockets and folders given as price files, config files, cache entries, ticker
lists or saved models are refused in one line without blocking; compressed files stop at the size
cap (``BT_MAX_FILE_MB``) in bounded memory; a one-day spike of 50x and back is a broken bar
(refused, or flattened with ``--repair-bars clip``) while no legitimate real series has one; rows
dated after today in New York are refused; a config nested 500 deep is a one-line error.

Calls that would block forever if a refusal were missing run under ``within`` (a daemon thread
joined with a generous bound) or in a subprocess with a timeout: both fail only on a real hang.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from backtests.cli import app
from backtests.config.layers import read_config_file
from backtests.data import (
    BUNDLED_DIR,
    load_prices,
    read_price_csv,
    read_price_file,
    tickers_from_file,
    universe,
    validate_prices,
)
from backtests.data.canonical import FILE_HINT, Options, market_today, spike_rows, to_frame
from backtests.data.repair import flatten_spikes
from backtests.data.sniff import read_plain_table
from backtests.errors import BtError, ConfigError, DataError, NetworkError
from backtests.paper.ledger import LedgerError
from backtests.paper.models import read_model_file

from .conftest import SHARED_DATA

T = TypeVar("T")
HANG_GUARD_S = 120  # only a real hang gets near this: every call here answers at once
AAPL_TEXT = (BUNDLED_DIR / "AAPL.csv").read_text()
HEADER, *ROWS = AAPL_TEXT.splitlines()
AAPL = load_prices("AAPL").frame
RIDGE = ["--model", "ridge", "--start", "2026-06-01", "--train-days", "120", "--lookback", "20"]
SPIKE_DAY = "2026-07-01"


def within(call: Callable[[], T], seconds: float = HANG_GUARD_S) -> T:
    """``call()`` in a daemon thread; the test fails if it is still blocked after ``seconds``."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as err:  # handed back to the test below
            box["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still blocked after {seconds} s: a special file was opened or read")
    if "error" in box:
        raise box["error"]
    return box["value"]


def refused(call: Callable[[], object], kind: type[BtError], *parts: str) -> str:
    """The one-line message of the ``kind`` error ``call`` raises (without blocking), holding ``parts``."""
    with pytest.raises(kind) as caught:
        within(call)
    message = str(caught.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, message
    return message


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def assert_cli_refusal(code: int, output: str, *parts: str) -> None:
    lines = output.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    for part in parts:
        assert part in lines[0], lines[0]


def written(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def specials(tmp_path: Path) -> Iterator[dict[str, tuple[Path, str]]]:
    """A FIFO, a link to /dev/zero, a folder and a listening socket, each with the word its refusal uses."""
    folder = tmp_path / "specials"
    folder.mkdir()
    os.mkfifo(folder / "fifo.csv")
    (folder / "zero.csv").symlink_to("/dev/zero")
    (folder / "folder.csv").mkdir()
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock.csv"))
    server.listen()
    try:
        yield {"fifo": (folder / "fifo.csv", "FIFO"), "zero": (folder / "zero.csv", "character device"),
               "folder": (folder / "folder.csv", "directory"), "socket": (folder / "sock.csv", "socket")}  # fmt: skip
    finally:
        server.close()


# Special files: refused, never opened for reading, whatever reads them


def test_fifo_as_csv_ends_in_one_line_from_the_cli(tmp_path: Path) -> None:
    fifo = tmp_path / "prices.csv"
    os.mkfifo(fifo)
    code = "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"
    args = ["run", "lstm-strategy", "AAPL", *RIDGE, "--csv", str(fifo), "--out", str(tmp_path / "out")]
    try:
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                                timeout=HANG_GUARD_S)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("bt run --csv FIFO blocked")
    assert_cli_refusal(result.returncode, result.stderr, str(fifo), "FIFO (named pipe), not a regular file")
    assert not (tmp_path / "out").exists()


def test_a_sweep_resumed_over_a_fifo_results_file_ends_in_one_line(tmp_path: Path) -> None:
    from backtests.manifest import write_manifest

    folder = tmp_path / "sweep"
    folder.mkdir()
    write_manifest(folder, "sweep folder", ["results.csv"])  # bt's own sweep folder, as far as it can tell
    os.mkfifo(folder / "results.csv")
    code = "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"
    args = ["sweep", "lstm-strategy", "--tickers", "AAPL", *RIDGE, "--scheduler", "sync", "--out", str(folder)]
    try:
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                                timeout=HANG_GUARD_S)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("bt sweep over a FIFO results.csv blocked")
    assert_cli_refusal(result.returncode, result.stderr, "results.csv: it is a FIFO (named pipe), not a regular file")


@pytest.mark.parametrize("kind", ["fifo", "zero", "folder", "socket"])
def test_special_files_are_refused_as_prices_configs_tickers_and_models(
    specials: dict[str, tuple[Path, str]], kind: str
) -> None:
    path, word = specials[kind]
    refused(lambda: read_price_file(path), DataError, str(path), word, "not a regular file")
    refused(lambda: load_prices("AAPL", csv=path), DataError, str(path), word)
    refused(lambda: read_config_file(path), ConfigError, f"config file {path} cannot be read", word)
    refused(lambda: tickers_from_file(path), DataError, str(path), word)
    entry = {"path": path.name, "sha256": "0" * 64}
    refused(lambda: read_model_file(path.parent, entry), LedgerError, f"model file {path}", word)


def test_dev_zero_itself_is_refused_from_the_cli(tmp_path: Path) -> None:
    code, output = within(lambda: invoke("run", "lstm-strategy", "AAPL", *RIDGE, "--benchmark-csv", "/dev/zero",
                                         "--out", str(tmp_path / "out")))  # fmt: skip
    assert_cli_refusal(code, output, "/dev/zero", "character device")
    code, output = within(lambda: invoke("config", "show", "--config", str(tmp_path)))
    assert_cli_refusal(code, output, f"config file {tmp_path} cannot be read", "directory")


def offline(ticker: str, start: pd.Timestamp | None) -> pd.DataFrame:
    raise NetworkError("no network in this test")


@pytest.mark.parametrize("kind", ["zero", "fifo", "folder"])
def test_a_cache_entry_that_is_not_a_file_is_ignored_with_a_notice(
    tmp_path: Path, specials: dict[str, tuple[Path, str]], kind: str
) -> None:
    target, word = specials[kind]
    entry = tmp_path / "cache" / "prices" / "ZZZ.csv"
    entry.parent.mkdir(parents=True)
    entry.symlink_to(target)
    said: list[str] = []

    def load() -> object:
        return load_prices("ZZZ", source="yahoo", cache_dir=tmp_path / "cache", downloader=offline, notify=said.append)

    refused(load, NetworkError, "no data for ticker ZZZ")
    assert len(said) == 1 and said[0].startswith("ignoring unusable cache: ") and str(entry) in said[0], said
    assert word in said[0]
    # sp500 membership looks at each cached file's first row: a special one counts as no data, at once
    (entry.parent / "AAPL.csv").symlink_to(target)
    found = within(lambda: universe("sp500", as_of="2021-08-16", cache_dir=tmp_path / "cache"))
    assert "AAPL" in found.tickers  # bundled, so found whatever the cache holds


# Size cap: streamed decompression stops at BT_MAX_FILE_MB


def bomb(path: Path, mib: int) -> Path:
    """A file of ``mib`` MiB of digits once decompressed (by its suffix), a few KiB on disk."""
    block = b"1" * (1 << 20)
    if path.suffix == ".gz":  # members of one compressed block, concatenated: still one gzip file
        member = gzip.compress(block)
        path.write_bytes(b"".join([gzip.compress(HEADER.encode() + b"\n"), *[member] * mib]))
    elif path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("x.csv", "w") as member:
            for _ in range(mib):
                member.write(block)
    else:
        opener = {".bz2": "bz2", ".xz": "lzma"}[path.suffix]
        with __import__(opener).open(path, "wb") as file:
            for _ in range(mib):
                file.write(block)
    return path


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zip"])
def test_compression_bombs_stop_at_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    path = bomb(tmp_path / f"bomb.csv{suffix}", 12)
    monkeypatch.setenv("BT_MAX_FILE_MB", "2")
    refused(lambda: read_price_file(path), DataError, str(path), "more than 2 MiB (decompressed)",
            "set BT_MAX_FILE_MB to a larger number")  # fmt: skip
    monkeypatch.setenv("BT_MAX_FILE_MB", "16")  # raised above what it expands to: read, then refused as a table
    message = refused(lambda: read_price_file(path), DataError, str(path))
    assert "MiB" not in message


def test_gzip_bomb_costs_at_most_the_cap_in_memory(tmp_path: Path) -> None:
    """512 MiB once decompressed; with an 8 MiB cap the reader's peak memory grows by far less than that."""
    path = bomb(tmp_path / "bomb.csv.gz", 512)
    script = (
        "import resource, sys\n"
        "from backtests.data import read_price_file\n"
        "from backtests.errors import DataError\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    read_price_file(sys.argv[1])\nexcept DataError as err:\n    print(err)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    env = {**os.environ, "BT_MAX_FILE_MB": "8"}
    try:
        result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, env=env,
                                timeout=HANG_GUARD_S)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("reading a gzip bomb did not stop")
    message, grown_mb = result.stdout.strip().splitlines()
    assert "more than 8 MiB (decompressed)" in message, result.stdout + result.stderr
    assert int(grown_mb) < 128, grown_mb  # the whole bomb is 512 MiB: it was never held


def test_a_plain_file_over_the_cap_is_refused_and_the_cap_can_be_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = written(tmp_path / "aapl.csv", ROWS)
    size_mib = path.stat().st_size / (1 << 20)
    monkeypatch.setenv("BT_MAX_FILE_MB", f"{size_mib / 2:.3f}")
    refused(lambda: read_price_file(path), DataError, str(path), "the limit on a file bt reads", "BT_MAX_FILE_MB")
    monkeypatch.setenv("BT_MAX_FILE_MB", f"{size_mib * 2:.3f}")
    pd.testing.assert_frame_equal(read_price_file(path).frame, AAPL)
    for bad in ("lots", "0", "-5", "nan"):
        monkeypatch.setenv("BT_MAX_FILE_MB", bad)
        refused(lambda: read_price_file(path), ConfigError, "BT_MAX_FILE_MB must be a number of MiB", repr(bad))


# Shapes whose parsing time grew faster than the file: refused before pandas reads them

SHAPES = {
    "a 1 MiB date cell": (HEADER + "\n" + ROWS[0] + "\n" + "1" * (1 << 20) + ",1,1,1,1,1\n", "line 3: date '111"),
    "a first row of a million fields": (HEADER + "\n" + "2020-01-02" + "," * 1_000_000 + "\n", "1,000,001 fields"),
    "a header of 200,000 columns": (HEADER + "," + ",".join(f"c{i}" for i in range(200_000)) + "\n", "200,006 columns"),
    "a 1 MiB quoted field": (HEADER + "\n" + '"' + "x" * (1 << 20) + '"\n', "not a readable CSV"),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_pathological_shapes_end_in_one_line_at_once(tmp_path: Path, shape: str) -> None:
    text, part = SHAPES[shape]
    path = tmp_path / "shape.csv"
    path.write_text(text)
    refused(lambda: read_price_file(path), DataError, str(path), part)
    refused(lambda: read_price_csv(path), DataError, str(path))


# One-day spikes: refused, or flattened under --repair-bars clip; never found in legitimate real data


def spiked(factor: float, day: str = SPIKE_DAY) -> list[str]:
    """AAPL's rows with one day's open, high, low and close multiplied by ``factor``."""
    rows = list(ROWS)
    i = next(k for k, row in enumerate(rows) if row.startswith(day))
    date, *cells = rows[i].split(",")
    rows[i] = ",".join([date, *(repr(float(c) * factor) for c in cells[:4]), *cells[4:]])
    return rows


@pytest.mark.parametrize("factor", [1e4, 1e-4])
def test_a_one_day_spike_is_refused_naming_the_row_and_the_rule(tmp_path: Path, factor: float) -> None:
    path = written(tmp_path / "spike.csv", spiked(factor))
    refused(lambda: load_prices("AAPL", csv=path), DataError, str(path), f"row {SPIKE_DAY}",
            "the closes before", "(rule: no one-day spike of 50x and back)")  # fmt: skip
    code, output = invoke("run", "lstm-strategy", "AAPL", *RIDGE, "--csv", str(path), "--out", str(tmp_path / "o"))
    assert_cli_refusal(code, output, f"row {SPIKE_DAY}", "one-day spike")
    assert not (tmp_path / "o").exists()


def test_clip_flattens_a_spike_to_the_close_before_it(tmp_path: Path) -> None:
    path = written(tmp_path / "spike.csv", spiked(1e4))
    said: list[str] = []
    data = load_prices("AAPL", csv=path, repair_bars="clip", notify=said.append)
    assert said == [f"repair_bars = clip: flattened 1 row of {path} whose close was over 50 times, or under a 50th "
                    f"of, the closes on both sides (a one-day spike) to the close before it: {SPIKE_DAY}"]  # fmt: skip
    day = pd.Timestamp(SPIKE_DAY)
    before = AAPL.index[AAPL.index.get_loc(day) - 1]
    assert (data.frame.loc[day, ["open", "high", "low", "close"]] == AAPL.loc[before, "close"]).all()
    assert data.frame.loc[day, "volume"] == AAPL.loc[day, "volume"] and data.repaired == 1
    pd.testing.assert_frame_equal(data.frame.drop(day), AAPL.drop(day))


WINDOW = AAPL.iloc[-60:]


@settings(max_examples=60, deadline=None)
@given(row=st.integers(1, len(WINDOW) - 2), factor=st.floats(50.5, 1e6), up=st.booleans(),
       adjusted=st.booleans())  # fmt: skip
def test_any_spike_of_50x_and_back_is_caught_and_flattened(row: int, factor: float, up: bool, adjusted: bool) -> None:
    """A bar whose close ends ``factor`` times above the higher of its neighbours' closes (or below the lower)."""
    close = WINDOW["close"].to_numpy()
    near = close[row - 1 : row + 2 : 2]
    scale = (factor * near.max() if up else near.min() / factor) / close[row]
    frame = WINDOW.copy()
    frame.iloc[row, :4] *= scale
    with pytest.raises(DataError, match=f"row {frame.index[row]:%Y-%m-%d}: close .* one-day spike"):
        validate_prices(frame, source="prop")
    if adjusted:  # the spike in an adjusted close alone is flattened too
        frame = WINDOW.assign(adj_close=WINDOW["close"])
        frame.iloc[row, frame.columns.get_loc("adj_close")] *= scale
    fixed, dates = flatten_spikes(frame)
    assert list(dates) == [frame.index[row]]
    assert fixed.iloc[row]["close"] == WINDOW.iloc[row - 1]["close"]
    validate_prices(fixed[["open", "high", "low", "close", "volume"]], source="prop")
    pd.testing.assert_frame_equal(fixed.drop(frame.index[row]), frame.drop(frame.index[row]))


@settings(max_examples=60, deadline=None)
@given(row=st.integers(0, len(WINDOW) - 1), factor=st.floats(1 / 7, 7))
def test_moves_under_seven_fold_are_not_spikes(row: int, factor: float) -> None:
    frame = WINDOW.copy()
    frame.iloc[row, :4] *= factor  # the whole bar, so its high and low still contain its open and close
    validate_prices(frame, source="prop")
    assert flatten_spikes(frame)[0] is frame


KNOWN_BROKEN = {"BOL", "CBE", "CFC", "CIN", "GDW", "HPC", "KRI", "MEE", "TIE"}  # delisted: Yahoo's garbage bars


def test_no_legitimate_real_series_has_a_spike() -> None:
    """Every real price file at hand (bundled, and the shared data when present): the spike rule fires only on
    the nine delisted stocks whose downloads alternate between real prices and garbage (CBE 0.01 -> 170 -> 0.01,
    TIE 11,200 -> 2.09 -> 10,700), seven of which the high/low rule refuses anyway."""
    files = [*BUNDLED_DIR.glob("*.csv*"), *SHARED_DATA.glob("*.csv"), *SHARED_DATA.glob("universe/*/*.csv*"),
             *SHARED_DATA.glob("yahoo_format/*.csv")]  # fmt: skip
    flagged = set()
    for path in files:
        frame = pd.read_csv(path)
        closes = [c for c in frame.columns if c.lower().replace(" ", "_") in ("close", "adj_close")]
        if any(spike_rows(frame[c].to_numpy(dtype="float64")).any() for c in closes):
            flagged.add(path.name.split(".")[0])
    assert len(files) >= 40
    assert flagged <= KNOWN_BROKEN, flagged - KNOWN_BROKEN
    if (SHARED_DATA / "universe" / "stocks").is_dir():
        assert flagged == KNOWN_BROKEN


# Dates in the future


def test_rows_after_today_are_refused_naming_the_first_one() -> None:
    raw, first_line = read_plain_table(BUNDLED_DIR / "AAPL.csv", "aapl")
    today = dt.date(2026, 6, 1)  # a Monday: the file's rows from 2026-06-02 on do not exist yet
    with pytest.raises(DataError) as caught:
        to_frame(raw, "aapl", FILE_HINT, first_line, Options(today=lambda: today))
    line = ROWS.index(next(r for r in ROWS if r > "2026-06-02")) + 2
    assert str(caught.value) == (f"aapl: line {line}: date 2026-06-02 is after today (2026-06-01 in New York) "
                                 "(rule: no dates in the future); fix the file or pass another --csv")  # fmt: skip
    last = AAPL.index[-1].date()  # a row dated today is a bar (final after the close): kept
    assert to_frame(raw, "aapl", FILE_HINT, first_line, Options(today=lambda: last)).frame.equals(AAPL)
    assert market_today() >= last


def with_future_row(path: Path) -> tuple[Path, dt.date]:
    """AAPL's rows and one more, dated 40 days after today in New York."""
    future = market_today() + dt.timedelta(days=40)
    last = ROWS[-1].split(",")
    return written(path, [*ROWS, ",".join([f"{future:%Y-%m-%d}", *last[1:]])]), future


@pytest.mark.parametrize("option", ["--csv", "--benchmark-csv"])
def test_a_file_with_future_rows_is_refused_by_run(tmp_path: Path, option: str) -> None:
    path, future = with_future_row(tmp_path / "future.csv")
    code, output = invoke("run", "lstm-strategy", "AAPL", *RIDGE, option, str(path), "--out", str(tmp_path / "o"))
    assert_cli_refusal(code, output, str(path), f"line {len(ROWS) + 2}: date {future:%Y-%m-%d} is after today")
    assert not (tmp_path / "o").exists()


def test_a_paper_step_never_reads_past_today(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BT_PAPER_DIR", str(tmp_path / "paper"))
    path = written(tmp_path / "aapl.csv", ROWS)
    assert invoke("paper", "start", "fut", "--ticker", "AAPL", "--csv", str(path), "--model", "ridge")[0] == 0
    with_future_row(path)  # the file gains a row dated after today: the next step refuses the file
    code, output = invoke("paper", "step", "fut")
    assert_cli_refusal(code, output, str(path), "is after today")
    code, output = invoke("paper", "start", "fut2", "--ticker", "AAPL", "--csv", str(path), "--model", "ridge")
    assert_cli_refusal(code, output, str(path), "is after today")


# Deeply nested configs


def deep(kind: str, levels: int) -> str:
    if kind == "toml-arrays":
        return f'[data]\nticker = "AAPL"\n[forecast.params]\nunits = {"[" * levels}{"]" * levels}\n'
    if kind == "toml-tables":
        return f'[data]\nticker = "AAPL"\n[forecast.params]\nx = {"{a = " * levels}1{"}" * levels}\n'
    return '{"config": {"data": {"ticker": "AAPL"}, "x": ' + "[" * levels + "]" * levels + "}}"


@pytest.mark.parametrize("levels", [33, 500, 5000])
@pytest.mark.parametrize("kind", ["toml-arrays", "toml-tables", "json"])
def test_deeply_nested_configs_are_one_line_errors(tmp_path: Path, kind: str, levels: int) -> None:
    path = tmp_path / ("deep.json" if kind == "json" else "deep.toml")
    path.write_text(deep(kind, levels), encoding="utf-8")
    refused(lambda: read_config_file(path), ConfigError, f"config file {path} nests", "more than 32 levels deep")
    if levels == 500:  # every command that reads --config, each with its own reader of extra tables
        out = ["--out", str(tmp_path / "o")]
        for command in (["config", "show"], ["sweep", "--tickers", "AAPL", "--grid", "lookback=5,10", *out],
                        ["run", "topk-strategy", "--tickers", "AAPL,MSFT", *out]):  # fmt: skip
            assert_cli_refusal(*invoke(*command, "--config", str(path)), "levels deep")


def test_a_config_nested_as_deep_as_a_run_needs_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text('[data]\nticker = "AAPL"\n[forecast]\nmodel = "lstm"\n[forecast.params]\nunits = [16, 8]\n')
    assert read_config_file(path)["forecast"]["params"] == {"units": [16, 8]}


@pytest.mark.parametrize("option", ["--csv", "--benchmark-csv"])
def test_a_bad_price_file_is_refused_naming_the_option_that_gave_it(tmp_path: Path, option: str) -> None:
    empty, absent = tmp_path / "empty.csv", tmp_path / "absent.csv"
    empty.write_text("")
    for path, advice in ((empty, f"fix the file or pass another {option}"), (absent, f"given to {option}")):
        code, output = invoke("run", "lstm-strategy", "AAPL", *RIDGE, option, str(path), "--out", str(tmp_path / "o"))
        assert_cli_refusal(code, output, str(path), advice)
        if option == "--benchmark-csv":  # the benchmark's file is never blamed on --csv
            assert "--csv" not in output.replace("--benchmark-csv", "")
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="makes a FIFO")
def test_the_shared_reader_refuses_links_special_files_huge_and_deep_files(tmp_path: Path) -> None:
    import errno
    import json

    from reports.safe_read import FileTooLarge, JsonTooDeep, NotRegularFile, read_capped, read_json_capped

    (tmp_path / "plain.json").write_text(json.dumps({"a": [1, {"b": 2}]}))
    (tmp_path / "link.json").symlink_to(tmp_path / "plain.json")
    assert read_json_capped(tmp_path / "link.json", 100) == {"a": [1, {"b": 2}]}  # followed by default
    with pytest.raises(OSError) as caught:
        read_capped(tmp_path / "link.json", 100, follow_links=False)
    assert caught.value.errno == errno.ELOOP
    os.mkfifo(tmp_path / "fifo")
    for follow in (True, False):  # never opened for a blocking read, either way
        with pytest.raises(NotRegularFile, match=r"it is a FIFO \(named pipe\), not a regular file"):
            within(lambda follow=follow: read_capped(tmp_path / "fifo", 100, follow_links=follow))
    with pytest.raises(NotRegularFile, match="it is a directory"):
        read_capped(tmp_path, 100, follow_links=False)
    with pytest.raises(FileTooLarge, match="BT_MAX_FILE_MB"):
        read_json_capped(tmp_path / "plain.json", 10)
    (tmp_path / "deep.json").write_text("[" * 65 + "]" * 65)
    with pytest.raises(JsonTooDeep):
        read_json_capped(tmp_path / "deep.json", 1000, max_depth=64)
    assert read_json_capped(tmp_path / "deep.json", 1000, max_depth=65) is not None
    (tmp_path / "deeper.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(JsonTooDeep):
        read_json_capped(tmp_path / "deeper.json", 1 << 20)
