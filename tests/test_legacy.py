"""Run folders and paper ledgers written by an older version (``tests/fixtures/legacy``, see its README) still load:
``bt report`` rebuilds an old run's report, and old paper experiments replay on to exactly the recorded days and fills.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import bt

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
# experiment -> the last day the expected tables were replayed to
EXPERIMENTS = {"old-ridge": "2026-07-31", "old-lstm": "2026-07-24"}


def test_bt_report_rebuilds_an_old_run_folder(tmp_path: Path) -> None:
    folder = tmp_path / "run-ridge"
    shutil.copytree(LEGACY / "run-ridge", folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert "report.html" not in before
    result = bt("report", str(folder))
    assert result.returncode == 0, result.stderr
    assert f"report: {folder / 'report.html'}" in result.stdout
    html = (folder / "report.html").read_text()
    assert "AAPL" in html and "lstm-strategy" in html
    assert (folder / "tearsheet.html").stat().st_size > 0
    # The saved tables are read, never rewritten.
    assert {name: (folder / name).read_bytes() for name in before} == before


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A copy of the old ledger, each experiment replayed on with ``bt paper replay``, then ``bt paper report``."""
    root = tmp_path_factory.mktemp("legacy-paper")
    shutil.copytree(LEGACY / "paper", root / "paper")
    reports = {}
    with pytest.MonkeyPatch.context() as env:  # module scope: set what the autouse cache fixture would
        env.setenv("BT_PAPER_DIR", str(root / "paper"))
        env.setenv("BT_CACHE_DIR", str(root / "cache"))
        listed = bt("paper", "list")
        assert listed.returncode == 0, listed.stderr
        assert [line.split()[0] for line in listed.stdout.splitlines()] == ["old-ridge", "old-lstm"]
        for name, end in EXPERIMENTS.items():
            result = bt("paper", "replay", name, "--end", end)
            assert result.returncode == 0, result.stderr
            assert f"to {end}" in result.stdout
            reports[name] = root / f"report-{name}"
            result = bt("paper", "report", name, "--out", str(reports[name]))
            assert result.returncode == 0, result.stderr
    return reports


@pytest.mark.parametrize("name", list(EXPERIMENTS))
@pytest.mark.parametrize("table", ["days", "fills"])
def test_old_paper_experiment_replays_to_the_recorded_days_and_fills(
    replayed: dict[str, Path], name: str, table: str
) -> None:
    got = (replayed[name] / f"{table}.csv").read_text()
    expected = (LEGACY / "expected" / f"{name}-{table}.csv").read_text()
    assert got == expected


def test_old_paper_experiment_keeps_its_settings(replayed: dict[str, Path]) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BT_PAPER_DIR", str(next(iter(replayed.values())).parent / "paper"))
        result = bt("paper", "status", "old-lstm", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["days"] == 18 and status["last_date"] == "2026-07-24" and status["fills"] == 1
    forecast = status["config"]["forecast"]
    assert forecast["model"] == "lstm" and forecast["retrain_every"] == 5 and forecast["lookback"] == 10
    # Written before [forecast.params]: the LSTM settings sit flat in the stored config, and still apply.
    assert forecast.get("params", forecast)["epochs"] == 2 and forecast.get("params", forecast)["batch_size"] == 32
