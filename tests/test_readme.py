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


def _python_blocks() -> list[str]:
    return [body for lang, body in BLOCKS if lang == "python"]


def test_library_example_runs(tmp_path: Path) -> None:
    """The README's library example, as a user would paste it, in a fresh folder."""
    code = _python_blocks()[0]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "target_date" in result.stdout
    assert re.search(r"Sharpe -?\d+\.\d\d, RMSE / naive \d\.\d{3}", result.stdout)
    assert (tmp_path / "runs" / "aapl-example" / "report.html").is_file()
    assert (tmp_path / "runs" / "aapl-example" / "forecasts.csv").is_file()


def test_plugin_forecaster_example_passes_the_conformance_kit() -> None:
    """The README's plugin forecaster and its test, run together: a newcomer's plugin from the README alone."""
    forecaster, check = _python_blocks()[1:3]
    code = f"{forecaster}\n{check}\ntest_my_forecaster_honours_the_contract()\nprint('conformant')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "conformant" in result.stdout


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
