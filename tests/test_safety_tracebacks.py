"""Issue 18, the drawing process and the remaining tracebacks: a page past its memory or time limit is not
drawn while everything else is (and ``bt report`` draws it later), a run without a trade writes its folder,
and a damaged run.json, a special file where a saved file or the paper ledger should be, or an outlier bar
end in one line or a correct result, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from backtests.paper.ledger import Ledger, LedgerError
from reports.saved import SavedRunError, load_run

from .conftest import BUNDLED

SHORT = ["--start", "2026-06-01"]
MEMORY_CAP = 8 << 30  # the bt process, its drawing process included, may not take more than this


def bt(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """``bt ARGS`` in a fresh interpreter whose address space is capped at MEMORY_CAP (the test's own limit)."""
    code = (f"import resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP})); "
            "from backtests.cli import main; sys.argv[0] = 'bt'; main()")  # fmt: skip
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(word in lines[0] for word in words), lines[0]


@pytest.fixture(scope="module")
def no_trade_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bt run lstm-strategy AAPL --model naive``: the naive forecast predicts no change, so it never trades."""
    out = tmp_path_factory.mktemp("no-trade") / "run"
    env = {"BT_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    result = bt("run", "lstm-strategy", "AAPL", "--model", "naive", *SHORT, "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    return out


def test_a_single_ticker_run_without_a_trade_says_so(no_trade_run: Path) -> None:
    assert pd.read_csv(no_trade_run / "trades.csv").empty
    page = (no_trade_run / "report.html").read_text()
    assert "No trades: the strategy never traded" in page and "Probabilistic Sharpe ratio: n/a" in page
    assert "nan" not in page.split('id="headline"')[1].split("</section>")[0]


@pytest.fixture(scope="module")
def portfolio_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's ``bt run topk-strategy --tickers AAPL,MSFT,SPY --k 2 --model naive``: it never trades."""
    out = tmp_path_factory.mktemp("portfolio") / "run"
    result = bt("run", "topk-strategy", "--tickers", "AAPL,MSFT,SPY", "--k", "2", "--model", "naive", *SHORT,
                "--out", str(out), env={"BT_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))})  # fmt: skip
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "trades (fills): 0" in result.stdout
    return out


def test_a_portfolio_run_without_a_trade_writes_its_folder_and_report(portfolio_run: Path) -> None:
    assert pd.read_csv(portfolio_run / "trades.csv").empty
    assert "No trades: the strategy never traded" in (portfolio_run / "report.html").read_text()
    assert load_run(portfolio_run).trades.empty
    again = bt("report", str(portfolio_run))
    assert again.returncode == 0 and again.stdout.startswith("report: "), again.stderr


def test_a_page_past_its_memory_limit_is_not_drawn_and_everything_else_is(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = bt("run", "lstm-strategy", "AAPL", "--model", "ridge", *SHORT, "--out", str(out),
                env={"BT_DRAW_MEMORY_MB": "20"})  # fmt: skip
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    (notice,) = [line for line in result.stderr.splitlines() if "not drawn" in line]
    assert notice.startswith("the quantstats tearsheet was not drawn") and "BT_DRAW_MEMORY_MB" in notice
    assert "`bt report RUN_FOLDER`" in notice
    for name in ("returns.csv", "trades.csv", "forecasts.csv", "run.json", "report.html"):
        assert (out / name).is_file(), name
    assert "This page was not drawn" in (out / "tearsheet.html").read_text()
    assert load_run(out).returns is not None

    redrawn = bt("report", str(out))  # the limit back at its default: the page is drawn
    assert redrawn.returncode == 0 and "not drawn" not in redrawn.stderr, redrawn.stderr
    sheet = (out / "tearsheet.html").read_bytes()
    assert b"<svg" in sheet and b"was not drawn" not in sheet

    failed = bt("report", str(out), env={"BT_DRAW_MEMORY_MB": "20"})  # a redraw that fails keeps the page
    assert failed.returncode == 0 and "not drawn" in failed.stderr, failed.stderr
    assert (out / "tearsheet.html").read_bytes() == sheet


_TIME_LIMIT = """
import os, time
os.environ["BT_DRAW_SECONDS"] = "1"
from backtests import drawing
from reports.undrawn import PageNotDrawn

def stubborn():  # catches its alarm and goes on: only ending its process stops it
    while True:
        try:
            time.sleep(600)
        except PageNotDrawn:
            pass

drawing.GRACE_SECONDS = 2
pool = drawing.start(int)
notes = []
for page in (time.sleep, stubborn):
    try:
        drawing.Drawing(pool, page, (600,) if page is time.sleep else (), notes.append).result()
    except PageNotDrawn as exc:
        print(exc, flush=True)
pool.shutdown(wait=True)
print(len(notes), flush=True)
"""


def test_a_page_past_its_time_limit_is_ended() -> None:
    # The limits are far apart (a page sleeps 600 s against a limit of 1 s): only a real hang fails this.
    done = subprocess.run([sys.executable, "-c", _TIME_LIMIT], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    alarm, ended, notes = done.stdout.strip().splitlines()
    assert alarm == "it took longer than 1 s (BT_DRAW_SECONDS)"
    assert ended == "it took longer than 1 s (BT_DRAW_SECONDS); its drawing process was ended"
    assert notes == "2"


@pytest.mark.parametrize("value", ["0", "abc"])
def test_malformed_drawing_limits_are_one_line_before_any_work(tmp_path: Path, value: str) -> None:
    result = bt("run", "lstm-strategy", "AAPL", "--model", "naive", *SHORT, "--out", str(tmp_path / "r"),
                env={"BT_DRAW_SECONDS": value})  # fmt: skip
    one_line_error(result, "BT_DRAW_SECONDS must be a number above 0")
    assert not (tmp_path / "r").exists()


def test_an_outlier_bar_ends_in_a_result_or_one_line(tmp_path: Path) -> None:
    prices = pd.read_csv(BUNDLED / "AAPL.csv")
    spike = prices["date"] == "2026-07-01"
    prices.loc[spike, ["open", "high", "low", "close"]] *= 1e4  # a day 10^4 times too high, and back
    prices.to_csv(tmp_path / "spike.csv", index=False)
    out = tmp_path / "run"
    result = bt("run", "lstm-strategy", "AAPL", "--csv", str(tmp_path / "spike.csv"), "--model", "ridge", *SHORT,
                "--out", str(out))  # fmt: skip
    if result.returncode == 2:  # the bar rules refuse it
        one_line_error(result, "spike.csv")
    else:
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert (out / "report.html").is_file() and (out / "tearsheet.html").is_file()


_DELETE = object()  # in a change: remove the field


def _rewrite(folder: Path, change: dict[str, object]) -> None:
    meta = json.loads((folder / "run.json").read_text())
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        table = meta
        for key in parents:
            table = table[key]
        if value is _DELETE:
            del table[last]
        else:
            table[last] = value
    (folder / "run.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"summary": "fine"}, 'field summary must be a JSON object, but it is "fine"'),
        ({"summary": None}, "field summary must be a JSON object, but it is null"),
        ({"summary": _DELETE}, "field summary must be a JSON object, but it is missing"),
        ({"summary.strategy.sharpe": "high"}, 'field summary.strategy.sharpe must be a number, but it is "high"'),
        ({"summary.trades": True}, "field summary.trades must be a whole number, but it is true"),
        ({"summary.forecast_rmse": [1]}, "field summary.forecast_rmse must be a number, but it is list"),
        ({"summary.benchmark": 3}, "field summary.benchmark must be a JSON object, but it is 3"),
        ({"data.ticker": 5}, "field data.ticker must be text, but it is 5"),
        ({"period": []}, "field period must be a JSON object, but it is list"),
        ({"config.strategy": None}, "field config.strategy must be a JSON object, but it is null"),
        ({"versions": "x"}, 'field versions must be a JSON object, but it is "x"'),
    ],
)
def test_a_run_json_with_a_wrong_field_is_one_line(no_trade_run: Path, tmp_path: Path, change: dict,
                                                   words: str) -> None:  # fmt: skip
    folder = _copy(no_trade_run, tmp_path / "copy")
    _rewrite(folder, change)
    with pytest.raises(SavedRunError) as raised:
        load_run(folder)
    message = str(raised.value)
    assert message.startswith(f"{folder / 'run.json'}: {words}") and "rerun `bt run`" in message
    assert "\n" not in message


def test_bt_report_on_a_wrong_summary_is_one_line(no_trade_run: Path, tmp_path: Path) -> None:
    folder = _copy(no_trade_run, tmp_path / "copy")
    _rewrite(folder, {"summary": None})
    before = (folder / "report.html").read_bytes()
    one_line_error(bt("report", str(folder)), "run.json: field summary must be a JSON object")
    assert (folder / "report.html").read_bytes() == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="makes a FIFO")
@pytest.mark.parametrize("name", ["run.json", "returns.csv"])
def test_a_saved_file_that_is_a_fifo_is_refused_not_read(no_trade_run: Path, tmp_path: Path, name: str) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    for path in no_trade_run.iterdir():
        if path.name != name:
            (folder / path.name).write_bytes(path.read_bytes())
    os.mkfifo(folder / name)  # reading it would wait for a writer forever
    one_line_error(bt("report", str(folder), timeout=120), f"{name}: not a regular file")


def test_a_huge_or_deeply_nested_run_json_is_refused(no_trade_run: Path, tmp_path: Path) -> None:
    with open(tmp_path / "run.json", "wb") as handle:
        handle.truncate(65 << 20)  # 65 MiB (sparse): refused by its size, never read whole
    with pytest.raises(SavedRunError, match="larger than 64 MiB"):
        load_run(tmp_path)
    (tmp_path / "run.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SavedRunError, match="nested too deeply"):
        load_run(tmp_path)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"summary": "x"}, 'field summary must be a JSON object, but it is "x"'),
        ({"summary.activity.momentum.fills": "a"}, 'field summary.activity.momentum.fills must be a number'),
        ({"summary.psr.equal_weight": None}, "field summary.psr.equal_weight must be a number, but it is null"),
        ({"portfolio.k": "2"}, 'field portfolio.k must be a whole number, but it is "2"'),
        ({"universe": 7}, "field universe must be a JSON object or null, but it is 7"),
    ],
)
def test_a_portfolio_run_json_with_a_wrong_field_is_one_line(tmp_path: Path, change: dict, words: str,
                                                             portfolio_run: Path) -> None:  # fmt: skip
    folder = _copy(portfolio_run, tmp_path / "copy")
    _rewrite(folder, change)
    with pytest.raises(SavedRunError) as raised:
        load_run(folder)
    assert str(raised.value).startswith(f"{folder / 'run.json'}: {words}")


@pytest.mark.parametrize("kind", ["folder", "fifo", "link to nothing", "device"])
def test_a_paper_ledger_that_is_not_a_file_is_one_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "paper.db"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "link to nothing":
        path.symlink_to(tmp_path / "gone.db")
    else:
        path.symlink_to("/dev/zero")
    expected = {"folder": "is a directory", "fifo": r"is a FIFO \(named pipe\)", "device": "is a character device",
                "link to nothing": "is a symbolic link to nothing"}[kind]  # fmt: skip
    with pytest.raises(LedgerError, match=expected):
        Ledger(tmp_path, create=True)
    assert path.is_symlink() or path.exists()  # left as it was


def test_bt_paper_on_a_ledger_that_is_a_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "paper.db").mkdir()
    one_line_error(bt("paper", "list", env={"BT_PAPER_DIR": str(tmp_path)}), "paper.db is a directory, not a ledger")


def _copy(source: Path, folder: Path) -> Path:
    folder.mkdir()
    for path in source.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


@pytest.mark.parametrize(("name", "column"), [("returns.csv", "strategy"), ("forecasts.csv", "forecast"),
                                              ("folds.csv", "fold"), ("baselines.csv", "naive")])  # fmt: skip
def test_a_saved_table_edited_into_words_is_one_line(no_trade_run: Path, tmp_path: Path, name: str,
                                                     column: str) -> None:  # fmt: skip
    folder = _copy(no_trade_run, tmp_path / "copy")
    table = pd.read_csv(folder / name)
    table[column] = "abc"  # pandas would fail on it halfway through a page, far from the file
    table.to_csv(folder / name, index=False)
    with pytest.raises(SavedRunError) as raised:
        load_run(folder)
    expected = f"{folder / name}: column {column} holds values that are not numbers; the file is damaged."
    assert str(raised.value) == expected
    if name == "returns.csv":
        one_line_error(bt("report", str(folder)), f"{name}: column {column} holds values that are not numbers")


def test_a_portfolio_table_in_words_is_one_line_and_a_left_out_ticker_is_not(portfolio_run: Path,
                                                                              tmp_path: Path) -> None:  # fmt: skip
    folder = _copy(portfolio_run, tmp_path / "copy")
    tickers = pd.read_csv(folder / "tickers.csv")
    left_out = pd.DataFrame([{"ticker": "ZZZQ", "status": "left out: no price data"}])
    pd.concat([tickers, left_out]).to_csv(folder / "tickers.csv", index=False)  # cache_hit: True, ..., empty
    assert len(load_run(folder).tickers) == len(tickers) + 1
    weights = pd.read_csv(folder / "weights.csv")
    weights["AAPL"] = "abc"
    weights.to_csv(folder / "weights.csv", index=False)
    with pytest.raises(SavedRunError, match=r"weights\.csv: column AAPL holds values that are not numbers"):
        load_run(folder)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="makes a FIFO")
@pytest.mark.parametrize("name", ["sweep.json", "results.csv"])
def test_bt_sweep_report_refuses_a_fifo_not_reads_it(tmp_path: Path, name: str) -> None:
    from reports.sweep_verdict import FORMAT, KIND

    meta = {"kind": KIND, "format": FORMAT, "grid": {}, "jobs": [{"job_id": "a"}]}
    (tmp_path / "sweep.json").write_text(json.dumps(meta))
    (tmp_path / name).unlink(missing_ok=True)
    os.mkfifo(tmp_path / name)  # reading it would wait for a writer forever
    one_line_error(bt("sweep-report", str(tmp_path), timeout=120), f"{name}: not a regular file")


def test_bt_sweep_report_refuses_a_huge_sweep_json_unread(tmp_path: Path) -> None:
    with open(tmp_path / "sweep.json", "wb") as handle:
        handle.truncate(65 << 20)  # sparse: refused by its size
    one_line_error(bt("sweep-report", str(tmp_path)), "sweep.json: larger than 64 MiB, too large for a sweep.json")


def test_a_huge_saved_table_is_refused_unread_and_the_cap_can_be_raised(no_trade_run: Path, tmp_path: Path) -> None:
    folder = _copy(no_trade_run, tmp_path / "copy")
    with open(folder / "returns.csv", "r+b") as handle:
        handle.truncate(1 << 30)  # 1 GiB (sparse): refused by its size, never read whole
    with pytest.raises(SavedRunError, match="returns.csv: larger than 64 MiB, the limit on a table bt reads; set "
                                            "BT_MAX_FILE_MB to a larger number of MiB"):  # fmt: skip
        load_run(folder)
    one_line_error(bt("report", str(folder)), "returns.csv: larger than 64 MiB", "BT_MAX_FILE_MB")
    small = _copy(no_trade_run, tmp_path / "small")
    size = (small / "returns.csv").stat().st_size
    one_line_error(bt("report", str(small), env={"BT_MAX_FILE_MB": f"{size / 2 / (1 << 20):.6f}"}),
                   "returns.csv: larger than", "the limit on a table bt reads")  # fmt: skip
    assert load_run(small).returns is not None  # under the default cap the same folder reads


def test_bt_sweep_report_refuses_a_huge_table_unread(tmp_path: Path) -> None:
    from reports.sweep_verdict import FORMAT, KIND

    meta = {"kind": KIND, "format": FORMAT, "grid": {}, "jobs": [{"job_id": "a"}]}
    (tmp_path / "sweep.json").write_text(json.dumps(meta))
    with open(tmp_path / "results.csv", "wb") as handle:
        handle.truncate(65 << 20)  # sparse: refused by its size
    one_line_error(bt("sweep-report", str(tmp_path)), "results.csv: larger than 64 MiB, the limit on a table bt reads")
