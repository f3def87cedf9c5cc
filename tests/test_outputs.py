"""Output folders: refused before any work when they cannot be written, and never left half-written."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import reports.files
from backtests.cli import app

NAIVE = ["--model", "naive", "--start", "2026-06-01", "--train-days", "60", "--lookback", "10"]


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _one_line_error(code: int, output: str, *parts: str) -> None:
    """Exit code 2 and one ``error:`` line, the last (a progress bar may stand before it)."""
    lines = [line for line in output.strip().splitlines() if not line.startswith("training folds")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), output
    for part in parts:
        assert part in lines[0], lines[0]


@pytest.mark.parametrize(
    ("out", "part"),
    [("/dev/null", "is not a folder"), ("/proc/bt-test/run", "cannot be written"), ("FILE/run", "is a file")],
)
def test_unwritable_run_folders_are_refused_before_any_work(tmp_path: Path, out: str, part: str) -> None:
    (tmp_path / "FILE").write_text("a file")
    out = out.replace("FILE", str(tmp_path / "FILE"))
    for command in ("run", "walk-forward"):
        args = [command, "lstm-strategy", "AAPL"] if command == "run" else [command, "AAPL"]
        code, output = _invoke(*args, *NAIVE, "--out", out)
        _one_line_error(code, output, out, part)
        assert "training folds" not in output


def test_a_folder_that_holds_a_run_is_refused_then_replaced_whole(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _invoke("run", "lstm-strategy", "AAPL", *NAIVE, "--out", str(out))[0] == 0
    before = _snapshot(out)
    code, output = _invoke("run", "lstm-strategy", "AAPL", *NAIVE, "--threshold", "0.01", "--out", str(out))
    _one_line_error(code, output, "already holds results", "--overwrite")
    assert _snapshot(out) == before
    code, _ = _invoke("run", "lstm-strategy", "AAPL", *NAIVE, "--threshold", "0.01", "--out", str(out), "--overwrite")
    assert code == 0 and _snapshot(out) != before
    assert set(_snapshot(out)) == set(before)  # the same files, all from the new run
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_a_folder_with_other_files_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, output = _invoke("run", "lstm-strategy", "AAPL", *NAIVE, "--out", str(tmp_path))
    _one_line_error(code, output, "holds other files")
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("existing", [True, False])
def test_disk_full_midway_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      existing: bool) -> None:  # fmt: skip
    out = tmp_path / "run"
    if existing:
        assert _invoke("run", "lstm-strategy", "AAPL", *NAIVE, "--out", str(out))[0] == 0
    before = _snapshot(out) if existing else None
    real, calls = reports.files.atomic_write_bytes, []

    def third_fails(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(reports.files, "atomic_write_bytes", third_fails)
    args = ["run", "lstm-strategy", "AAPL", *NAIVE, "--threshold", "0.01", "--out", str(out), "--overwrite",
            "--no-cache"]  # only the run folder's files are written
    code, output = _invoke(*args)
    _one_line_error(code, output, "could not write run folder", "No space left on device", "nothing was changed")
    assert len(calls) == 3
    if existing:
        assert _snapshot(out) == before
    else:
        assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == (["run"] if existing else [])


def test_unwritable_cache_and_paper_folders_are_one_line_errors(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BT_CACHE_DIR", "/proc/bt-test-cache")
    code, output = _invoke("run", "lstm-strategy", "AAPL", *NAIVE, "--out", str(tmp_path / "r"))
    _one_line_error(code, output, "forecast cache folder", "BT_CACHE_DIR")
    assert _invoke("run", "lstm-strategy", "AAPL", *NAIVE, "--out", str(tmp_path / "r"), "--no-cache")[0] == 0
    monkeypatch.setenv("BT_PAPER_DIR", "/proc/bt-test-paper")
    code, output = _invoke("paper", "start", "x", "--ticker", "AAPL", "--source", "bundled", *NAIVE[:2])
    _one_line_error(code, output, "paper data folder", "BT_PAPER_DIR")
