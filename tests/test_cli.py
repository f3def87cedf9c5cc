"""The ``bt`` command line, driven as a user would: exit codes, one-line errors, files written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from backtests.cli import app

from .conftest import BUNDLED, bt, yahoo_resolves
from .conftest import TINY_CLI as TINY


def assert_one_line_error(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for part in parts:
        assert part in lines[0], lines[0]


def test_run_end_to_end(tiny_run) -> None:
    result, out = tiny_run
    assert result.returncode == 0, result.stderr
    for name in ("report.html", "tearsheet.html", "forecasts.csv", "trades.csv", "returns.csv", "run.json",
                 "folds.csv", "baselines.csv"):
        assert (out / name).stat().st_size > 0, name
    meta = json.loads((out / "run.json").read_text())
    assert meta["config"]["forecast"]["train_days"] == 120
    assert meta["data"]["source"] == "bundled AAPL.csv"
    assert meta["period"]["first_day"] == "2026-06-01"
    assert meta["versions"]["tensorflow"] != "not installed"
    forecasts = pd.read_csv(out / "forecasts.csv", parse_dates=["target_date", "origin_date"])
    assert list(forecasts.columns) == ["target_date", "origin_date", "forecast", "actual", "naive", "fold",
                                       "member_0", "member_1"]  # fmt: skip
    # --seeds 2: the traded forecast is the mean of the two seeds' forecasts.
    assert (forecasts["forecast"] - (forecasts["member_0"] + forecasts["member_1"]) / 2).abs().max() < 1e-9
    assert (forecasts["origin_date"] < forecasts["target_date"]).all()
    returns = pd.read_csv(out / "returns.csv", index_col="date", parse_dates=True)
    assert list(returns.columns) == ["strategy", "buy_and_hold", "sma_cross", "benchmark"]
    # The backtest covers exactly the days that have out-of-sample forecasts.
    assert list(returns.index) == list(forecasts["target_date"])
    for word in ("total return", "CAGR", "Sharpe", "max drawdown", "buy-and-hold", "SPY", "naive", "report:"):
        assert word in result.stdout
    html = (out / "tearsheet.html").read_text()
    assert "AAPL lstm-strategy 2026-06-01 to 2026-08-14" in html
    # Nothing is fetched from the network: no remote scripts, styles, images or icons.
    assert not re.search(r'(src=|<link[^>]*href=|url\(|@import )["\']?https?://', html)


def test_terminal_stays_free_of_library_noise(tiny_run) -> None:
    result, _ = tiny_run
    noise = ("oneDNN", "cuda", "absl", "tensorflow", "findfont", "Warning", "WARNING", "I0000")
    assert not [line for line in result.stderr.splitlines() if any(n in line for n in noise)], result.stderr


def test_second_run_reuses_forecasts_unless_no_cache(tmp_path: Path) -> None:
    first = bt("run", "lstm-strategy", "AAPL", *TINY, "--out", str(tmp_path / "a"))
    again = bt("run", "lstm-strategy", "AAPL", *TINY, "--threshold", "0.002", "--out", str(tmp_path / "b"))
    forced = bt("run", "lstm-strategy", "AAPL", *TINY, "--no-cache", "--out", str(tmp_path / "c"))
    assert first.returncode == again.returncode == forced.returncode == 0
    meta = [json.loads((tmp_path / d / "run.json").read_text()) for d in "abc"]
    assert [m["forecasts_from_cache"] for m in meta] == [False, True, False]
    assert (tmp_path / "a" / "forecasts.csv").read_bytes() == (tmp_path / "b" / "forecasts.csv").read_bytes()


def test_same_seed_gives_byte_identical_forecasts(tiny_run, tmp_path: Path) -> None:
    _, out = tiny_run
    again = bt("run", "lstm-strategy", "AAPL", *TINY, "--seeds", "2", "--out", str(tmp_path / "again"), "--no-cache")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "forecasts.csv").read_bytes() == (out / "forecasts.csv").read_bytes()


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (["run", "lstm-strategy", "AAPL", "--epochs", "-3"], ["--epochs", "must be an integer greater than 0", "-3"]),
        (["run", "lstm-strategy", "AAPL", "--start", "2024-01-01", "--end", "2023-01-01"], ["--start", "after"]),
        (["run", "momentum", "AAPL"], ["unknown strategy 'momentum'", "bt strategies"]),
        (["run", "lstm-strategy", "AAPL", "--start", "2024-13-01"], ["--start", "YYYY-MM-DD"]),
        (["run", "lstm-strategy", "AAPL", "--start", "2004-06-01"], ["--train-days", "2007"]),
        (["run", "lstm-strategy", "AAPL", "--commission", "0.5"], ["--commission"]),
        (["run", "lstm-strategy", "AAPL", "--model", "prophet"], ["unknown model 'prophet'"]),
        (["run", "lstm-strategy", "AAPL", "--window", "sliding"], ["--window", "sliding"]),
        (["run", "lstm-strategy", "AAPL", "--epochs", "many"], ["--epochs", "integer"]),
        (["run", "lstm-strategy", "AAPL", "--bogus"], ["--bogus"]),
        (["run", "lstm-strategy", "ZZZZ", "--source", "bundled"], ["ZZZZ", "--csv"]),
    ],
)
def test_bad_options_are_one_line_errors(args: list[str], parts: list[str]) -> None:
    assert_one_line_error(bt(*args), *parts)


def test_malformed_csv_is_refused_and_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,open,high,low,close,volume\n2024-01-02,10,9,8,9.5,100\n")
    out = tmp_path / "out"
    result = bt("run", "lstm-strategy", "MINE", "--csv", str(bad), "--out", str(out))
    assert_one_line_error(result, "bad.csv", "2024-01-02", "high")
    assert not out.exists()


def test_csv_too_short_for_the_model(tmp_path: Path) -> None:
    lines = (BUNDLED / "AAPL.csv").read_text().splitlines()
    short = tmp_path / "short.csv"
    short.write_text("\n".join(lines[:301]) + "\n")
    assert_one_line_error(bt("run", "lstm-strategy", "SHORT", "--csv", str(short)), "short.csv", "--train-days")


def test_help_and_strategies_do_not_import_tensorflow() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from backtests.cli import app;"
        "r = CliRunner().invoke(app, ['strategies']); assert r.exit_code == 0, r.output;"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output;"
        "r = CliRunner().invoke(app, ['run', '--help']); assert r.exit_code == 0, r.output;"
        "heavy = [m for m in ('tensorflow', 'keras', 'quantstats', 'backtrader') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_strategies_lists_one_line_each() -> None:
    result = CliRunner().invoke(app, ["strategies"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["lstm-strategy", "buy-and-hold", "sma-cross", "topk-strategy"]
    assert "bt run topk-strategy --universe dow30" in lines[-1]  # a portfolio: it runs over a universe


def test_buy_and_hold_needs_no_training(tmp_path: Path) -> None:
    result = bt("run", "buy-and-hold", "MSFT", "--start", "2025-01-02", "--end", "2025-12-31",
                "--out", str(tmp_path / "bh"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "training folds" not in result.stderr
    meta = json.loads((tmp_path / "bh" / "run.json").read_text())
    assert meta["summary"]["trades"] == 1
    assert not (tmp_path / "bh" / "forecasts.csv").exists()


offline_only = pytest.mark.skipif(yahoo_resolves(), reason="Yahoo Finance is reachable; these test the offline path")


@offline_only
def test_offline_yahoo_source_falls_back_to_bundled_with_one_line(tmp_path: Path) -> None:
    result = bt("run", "buy-and-hold", "AAPL", "--source", "yahoo", "--start", "2025-01-02",
                "--out", str(tmp_path / "o"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "no network" in line]
    assert len(notices) == 2  # the ticker and the benchmark
    assert "through 2026-08-14" in notices[0]


@offline_only
def test_offline_unknown_ticker_suggests_csv() -> None:
    assert_one_line_error(bt("run", "lstm-strategy", "ZZZZ"), "ZZZZ", "--csv")
