"""The README's commands and example, exercised as a user would run them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_setup_commands() -> None:
    (lang1, main), (lang2, tests) = BLOCKS[0], BLOCKS[1]
    assert (lang1, lang2) == ("sh", "sh")
    assert README.index("```sh") < README.index("\n## ")  # before any section
    assert main.strip().endswith("bt run lstm-strategy AAPL")
    assert tests.strip().endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.strip() in ci.splitlines()


def test_library_example_runs() -> None:
    (code,) = [body for lang, body in BLOCKS if lang == "python"]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert re.search(r"final value: [\d,]+\.\d\d", result.stdout)
    assert "target_date" in result.stdout


@pytest.mark.slow
def test_main_command_runs_the_real_default_pipeline(tmp_path: Path) -> None:
    """``bt run lstm-strategy AAPL`` exactly as the README says, in a fresh folder (about 1.5 minutes)."""
    code = "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"
    result = subprocess.run([sys.executable, "-c", code, "run", "lstm-strategy", "AAPL"],
                            capture_output=True, text=True, timeout=900, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("AAPL-lstm-strategy-")
    summary = json.loads((run_dir / "run.json").read_text())["summary"]
    assert summary["folds"] == 60 and summary["days"] == 1255
    assert (summary["first_day"], summary["last_day"]) == ("2021-08-16", "2026-08-14")
    # A sanity bound, not a quality claim: a broken model would be far off the naive forecast.
    assert 0.9 < summary["rmse_ratio"] < 1.1
    assert f"report: runs/{run_dir.name}/report.html" in result.stdout


def test_ruff_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
