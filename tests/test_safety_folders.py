"""Issue 18, data loss: bt deletes or replaces only what bt wrote, one writer per folder, nothing left behind.

Each test puts a user's files beside bt's (or plants a link) the way the issue's reproductions did and
checks the new behaviour: a one-line refusal naming the foreign file, the user's files byte for byte as
they were, and no hidden staging folder or lock file left beside the output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backtests.cli import app
from backtests.folderlock import let_go
from backtests.manifest import MANIFEST
from backtests.outfolder import FolderError, check_writable
from backtests.paper.account import write_portfolio_paper_report
from reports.files import atomic_write_text

from .conftest import bt

NAIVE = ["--model", "naive", "--start", "2026-06-01", "--train-days", "60", "--lookback", "10"]
RIDGE_SWEEP = ["--model", "ridge", "--start", "2026-06-01", "--train-days", "60", "--lookback", "10", "--source",
               "bundled", "--scheduler", "sync"]  # fmt: skip
BUY_AND_HOLD = ["--strategy", "buy-and-hold", "--source", "bundled"]
LEGACY_RUN = Path(__file__).parent / "fixtures" / "legacy" / "run-ridge"

# Another bt process writing a folder, held where its staging folder exists until told to go on (a line on stdin).
WRITER = """
import sys
from pathlib import Path
from backtests.outfolder import check_writable, staged
out = Path(sys.argv[1])
check_writable(out, what="run folder", marker="run.json", overwrite=True)
with staged(out) as stage:
    (stage / "run.json").write_text('{"kind": "bt-lstm run"}')
    print("staged", flush=True)
    sys.stdin.readline()
"""
# Another bt process holding a folder's lock (a sweep still running there), until told to let go.
HOLDER = """
import sys
from backtests.folderlock import claim
claim(sys.argv[1], "sweep folder")
print("held", flush=True)
sys.stdin.readline()
"""


def _child(code: str, out: Path, ready: str) -> subprocess.Popen[str]:
    """Start another process at ``code`` and wait for it to say ``ready``."""
    child = subprocess.Popen([sys.executable, "-c", code, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    assert child.stdout is not None and child.stdout.readline().strip() == ready
    return child


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _error(code: int, output: str, *parts: str) -> None:
    """Exit code 2 and one ``error:`` line, the last (a progress bar may stand before it)."""
    lines = [line for line in output.strip().splitlines() if not line.startswith(("training folds", "replaying"))]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), output
    for part in parts:
        assert part in lines[0], lines[0]


def _hidden(folder: Path) -> list[str]:
    """Hidden entries beside output folders: staging folders and lock files left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _run(out: Path, *extra: str) -> tuple[int, str]:
    return _invoke("run", "lstm-strategy", "AAPL", *NAIVE, "--out", str(out), *extra)


@pytest.mark.parametrize("command", ["run", "walk-forward"])
def test_overwrite_refuses_a_folder_holding_user_files_and_keeps_them(tmp_path: Path, command: str) -> None:
    out = tmp_path / "r1c"
    args = ["run", "lstm-strategy", "AAPL"] if command == "run" else ["walk-forward", "AAPL"]
    assert _invoke(*args, *NAIVE, "--out", str(out))[0] == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["files"]) == sorted(p.name for p in out.iterdir() if p.name != MANIFEST)
    (out / "my_notes.md").write_text("notes")
    (out / "sub").mkdir()
    (out / "sub" / "x.txt").write_text("mine")
    before = _snapshot(out)
    _error(*_invoke(*args, *NAIVE, "--out", str(out), "--overwrite"), "r1c holds my_notes.md, which bt did not write")
    assert _snapshot(out) == before
    (out / "my_notes.md").unlink()
    _error(*_invoke(*args, *NAIVE, "--out", str(out), "--overwrite"), "holds sub, which bt did not write")
    assert (out / "sub" / "x.txt").read_text() == "mine"
    shutil.rmtree(out / "sub")
    out.chmod(0o700)
    assert _invoke(*args, *NAIVE, "--out", str(out), "--overwrite")[0] == 0
    assert (out.stat().st_mode & 0o777) == 0o700  # the folder's permissions are kept
    assert _hidden(tmp_path) == []


def test_a_foreign_run_json_does_not_make_a_folder_bts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "cv.txt").write_text("cv")
    (home / ".bashrc").write_text("alias x=y")
    (home / "run.json").write_text(json.dumps({"name": "my own run"}))
    before = _snapshot(home)
    for extra in ((), ("--overwrite",)):
        _error(*_run(home, *extra), "holds run.json, which bt did not write")
    (home / "run.json").unlink()  # an empty-looking folder of other files: refused as before
    _error(*_run(home, "--overwrite"), "holds other files")
    assert _snapshot(home) == {k: v for k, v in before.items() if k != "run.json"}


def test_an_earlier_versions_run_folder_is_replaced_only_when_it_holds_just_its_files(tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(LEGACY_RUN, old)
    (old / "notes.txt").write_text("mine")
    _error(*_run(old), "already holds results (run.json)", "--overwrite")
    _error(*_run(old, "--overwrite"), "holds notes.txt, which bt did not write")
    (old / "notes.txt").unlink()
    assert _invoke("report", str(old))[0] == 0  # still readable, and bt report writes only bt's pages
    assert _run(old, "--overwrite")[0] == 0
    assert (old / MANIFEST).exists() and _hidden(tmp_path) == []


@pytest.mark.parametrize("extra", [(), ("weights", "returns")])
def test_an_earlier_versions_paper_report_is_recognised_by_its_exact_files(tmp_path: Path, extra: tuple) -> None:
    out = tmp_path / "report"
    out.mkdir()
    for name in [*(f"{t}.csv" for t in ("days", "positions", "orders", "fills", "forecasts", "models", *extra)),
                 "report.html", "tearsheet.html"]:  # fmt: skip
        (out / name).write_text("x")
    try:
        check_writable(out, what="report folder", marker="report.html", overwrite=True)  # bt's: may be replaced
    finally:
        let_go(out)
    (out / "days.csv").unlink()  # not every file such a report wrote: not recognisably bt's
    with pytest.raises(FolderError, match="holds report.html, which bt did not write"):
        check_writable(out, what="report folder", marker="report.html", overwrite=True)
    assert not (tmp_path / ".report.bt-lock").exists()


def test_a_damaged_manifest_or_a_linked_out_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert _run(out)[0] == 0
    (out / MANIFEST).write_text("not json")
    _error(*_run(out, "--overwrite"), f"holds a {MANIFEST} bt did not write")
    (tmp_path / "link").symlink_to(out)
    _error(*_run(tmp_path / "link", "--overwrite"), "link is a symbolic link")
    assert (out / "run.json").exists()


def test_paper_report_overwrites_only_with_overwrite_and_only_bts_files(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BT_PAPER_DIR", str(tmp_path / "paper"))
    assert _invoke("paper", "start", "bh", "--ticker", "MSFT", *BUY_AND_HOLD)[0] == 0
    assert _invoke("paper", "replay", "bh", "--start", "2025-01-02", "--end", "2025-01-10")[0] == 0
    run = tmp_path / "run"  # a run folder bt wrote, beside a user's notes
    shutil.copytree(LEGACY_RUN, run)
    (run / "notes.txt").write_text("mine")
    before = _snapshot(run)
    _error(*_invoke("paper", "report", "bh", "--out", str(run)), "already holds results", "--overwrite")
    _error(*_invoke("paper", "report", "bh", "--out", str(run), "--overwrite"), "holds notes.txt, which bt did not")
    assert _snapshot(run) == before
    report = tmp_path / "report"
    assert _invoke("paper", "report", "bh", "--out", str(report))[0] == 0
    _error(*_invoke("paper", "report", "bh", "--out", str(report)), "already holds results (report.html)")
    assert _invoke("paper", "report", "bh", "--out", str(report), "--overwrite")[0] == 0
    # The portfolio report checks its folder the same way, before it looks for the experiment.
    with pytest.raises(FolderError, match="already holds results"):
        write_portfolio_paper_report("no-such-experiment", report, folder=tmp_path / "paper")
    with pytest.raises(FolderError, match="holds notes.txt"):
        write_portfolio_paper_report("no-such-experiment", run, folder=tmp_path / "paper", overwrite=True)


def test_a_second_writer_is_refused_at_once(tmp_path: Path) -> None:
    out = tmp_path / "x"
    child = _child(WRITER, out, "staged")
    try:
        code, output = _run(out, "--overwrite")
        _error(code, output, "is being written by another bt process", f"pid {child.pid}")
        assert "training folds" not in output
    finally:
        child.communicate("go\n", timeout=120)
    assert child.returncode == 0 and json.loads((out / "run.json").read_text()) == {"kind": "bt-lstm run"}
    assert _hidden(tmp_path) == []


def test_a_second_sweep_on_one_folder_is_refused_and_the_first_keeps_its_rows(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    sweep = ["sweep", "lstm-strategy", *RIDGE_SWEEP, "--out", str(out)]
    assert _invoke(*sweep, "--tickers", "AAPL,MSFT")[0] == 0
    rows = (out / "results.csv").read_bytes()
    child = _child(HOLDER, out, "held")  # as a first sweep still running there would hold it
    try:
        _error(*_invoke(*sweep, "--tickers", "SPY"), "sweep folder", "being written by another bt process")
    finally:
        child.communicate("go\n", timeout=120)
    assert (out / "results.csv").read_bytes() == rows
    code, output = _invoke(*sweep, "--tickers", "AAPL,MSFT")
    assert code == 0 and "2 from an earlier run" in output, output
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("name", ["sweep.json", "failures.csv", "sweep.html", "results.csv"])
def test_a_sweep_never_replaces_a_users_sweep_files(tmp_path: Path, name: str) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / name).write_text("my own file")
    (out / "notes.txt").write_text("notes")
    code, output = _invoke("sweep", "lstm-strategy", "--tickers", "AAPL", *RIDGE_SWEEP, "--out", str(out))
    _error(code, output, f"holds {name}, which bt did not write")
    assert sorted(p.name for p in out.iterdir()) == sorted([name, "notes.txt"])
    assert (out / name).read_text() == "my own file"


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_nothing_is_left_behind_after_sigterm_and_a_killed_writers_leftovers_are_cleaned(tmp_path: Path,
                                                                                        how: str) -> None:  # fmt: skip
    out = tmp_path / "run"
    shutil.copytree(LEGACY_RUN, out)
    before = _snapshot(out)
    child = _child(WRITER, out, "staged")
    assert any(n.startswith(".run.writing-") for n in _hidden(tmp_path))
    child.send_signal(getattr(signal, how))
    child.communicate(timeout=120)
    assert _snapshot(out) == before
    if how == "SIGTERM":
        assert child.returncode == 128 + signal.SIGTERM and _hidden(tmp_path) == []
        return
    assert _hidden(tmp_path) != []  # SIGKILL leaves the staging folder and the lock file ...
    assert _run(out, "--overwrite")[0] == 0  # ... which the next writer of the same folder removes
    assert _hidden(tmp_path) == [] and _snapshot(out) != before


def test_a_command_failing_after_its_check_leaves_no_lock_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    result = bt("run", "lstm-strategy", "AAPL", *NAIVE, "--csv", str(missing), "--out", str(tmp_path / "r"))
    _error(result.returncode, result.stderr, "missing.csv")  # found after the run folder was checked and claimed
    assert sorted(os.listdir(tmp_path)) == []


def test_the_current_folder_is_refused_as_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / "here"
    here.mkdir()
    (here / "notes.txt").write_text("mine")
    monkeypatch.chdir(here)
    for out in (".", "..", str(here)):
        _error(*_run(Path(out), "--overwrite"), f"run folder {out} is the current folder or holds it")
    assert sorted(os.listdir(here)) == ["notes.txt"] and _hidden(tmp_path) == []


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_planted_lock_link_is_refused_and_its_target_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 link: str) -> None:  # fmt: skip
    paper = tmp_path / "paper"
    monkeypatch.setenv("BT_PAPER_DIR", str(paper))
    assert _invoke("paper", "start", "demo", "--ticker", "MSFT", *BUY_AND_HOLD)[0] == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    lock = paper / "locks" / "demo.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.unlink(missing_ok=True)
    lock.symlink_to(victim) if link == "symbolic" else os.link(victim, lock)
    code, output = _invoke("paper", "step", "demo", "--date", "2025-01-02")
    _error(code, output, "demo.lock", "symbolic link" if link == "symbolic" else "hard links")
    assert victim.read_text() == "precious"


def test_an_output_folder_lock_that_is_a_link_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / ".r.bt-lock").symlink_to(victim)
    _error(*_run(tmp_path / "r"), ".r.bt-lock is a symbolic link")
    assert victim.read_text() == "precious" and not (tmp_path / "r").exists()


def test_atomic_writes_replace_a_link_at_the_name_never_write_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "out.txt").symlink_to(victim)
    atomic_write_text(tmp_path / "out.txt", "bt's")
    assert victim.read_text() == "precious"
    assert not (tmp_path / "out.txt").is_symlink() and (tmp_path / "out.txt").read_text() == "bt's"


def test_bt_report_is_refused_while_another_process_writes_the_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(LEGACY_RUN, run)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    child = _child(HOLDER, run, "held")  # e.g. `bt run --overwrite` about to replace the folder whole
    try:
        code, output = _invoke("report", str(run))
        _error(code, output, f"run folder {run} is being written by another bt process", f"pid {child.pid}")
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    finally:
        child.communicate("go\n", timeout=120)
    assert _hidden(tmp_path) == []


def test_bt_sweep_report_is_refused_while_a_sweep_writes_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "sweep"
    folder.mkdir()
    child = _child(HOLDER, folder, "held")  # a sweep still adding rows there
    try:
        _error(*_invoke("sweep-report", str(folder)), f"sweep folder {folder} is being written by another bt process")
    finally:
        child.communicate("go\n", timeout=120)
    assert _hidden(tmp_path) == [] and list(folder.iterdir()) == []
