"""Portfolio paper trading: replay against ``bt run topk-strategy`` (fills and equity byte for byte), kills at random
points of portfolio steps, the ledger's migration from one ticker per experiment, and refusing what cannot migrate.

Subprocesses run the real ``bt`` entry point, so kills hit real processes and real files. Ridge keeps it fast.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ._browser import chromium, page_url, visit
from .conftest import bt
from .test_paper import bt_popen, invoke, kill_while_stepping

LEGACY = Path(__file__).parent / "fixtures" / "legacy" / "paper"
TICKERS = ["--tickers", "AAPL,MSFT,NVDA,JPM,KO,CAT"]
SETTINGS = ["--model", "ridge", "--train-days", "120", "--lookback", "20", "--retrain-every", "5", "--k", "3",
            "--n-drop", "1", "--source", "bundled"]  # fmt: skip
PERIOD = ["--start", "2026-05-01", "--end", "2026-07-31"]
RULES = ["strategy", "equal_weight", "topk_naive", "topk_ridge", "momentum", "benchmark"]


@pytest.fixture(autouse=True)
def paper_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BT_PAPER_DIR", str(tmp_path / "paper"))
    return tmp_path / "paper"


def read(folder: Path, name: str) -> dict[str, pd.DataFrame]:
    """An experiment's tables with plain sqlite3 (fills with their order's ticker), ids left out."""
    with sqlite3.connect(folder / "paper.db") as conn:
        (eid,) = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
        q = lambda sql: pd.read_sql(sql, conn, params=(eid,))  # noqa: E731
        return {
            "days": q("SELECT step, date, close, cash, equity FROM days WHERE experiment_id = ? ORDER BY step"),
            "positions": q("SELECT date, ticker, size, price FROM positions WHERE experiment_id = ? "
                           "ORDER BY date, ticker"),
            "orders": q("SELECT decision_date, ticker, size, created_price, status FROM orders "
                        "WHERE experiment_id = ? ORDER BY id"),
            "fills": q("SELECT f.date, o.ticker, f.action, f.size, f.price, f.value, f.commission FROM fills f "
                       "JOIN orders o ON o.id = f.order_id WHERE f.experiment_id = ? ORDER BY f.id"),
            "forecasts": q("SELECT origin_date, ticker, forecast, close, model_version FROM forecasts "
                           "WHERE experiment_id = ? ORDER BY origin_date, ticker"),
        }  # fmt: skip


def invariants(folder: Path, name: str) -> int:
    """A portfolio ledger between steps: whole days only, the queue is the last day's orders, fills match orders."""
    with sqlite3.connect(folder / "paper.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    t = read(folder, name)
    days = t["days"]
    assert list(days["step"]) == list(range(len(days)))
    assert set(t["positions"]["date"]) <= set(days["date"]) and set(t["forecasts"]["origin_date"]) == set(days["date"])
    closes = t["forecasts"].set_index(["origin_date", "ticker"])["close"]
    pos = t["positions"]
    held = pd.Series(pos["size"].to_numpy() * closes.reindex(list(zip(pos["date"], pos["ticker"], strict=True)))
                     .to_numpy(), index=pos["date"].to_numpy()).groupby(level=0).sum()  # fmt: skip
    value = held.reindex(days["date"], fill_value=0.0).to_numpy()
    assert np.allclose(days["cash"] + value, days["equity"], rtol=1e-9, atol=0)
    assert np.allclose(days["close"], days["equity"] - days["cash"], rtol=1e-9, atol=1e-6)
    queued = t["orders"][t["orders"]["status"] == "queued"]
    assert queued.empty or set(queued["decision_date"]) == {days["date"].iloc[-1]}
    assert len(t["fills"]) == (t["orders"]["status"] == "filled").sum()
    return len(days)


@pytest.fixture(scope="module")
def parity(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``bt run topk-strategy`` and a portfolio paper replay over the same period and settings."""
    root = tmp_path_factory.mktemp("portfolio-parity")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BT_PAPER_DIR", str(root / "paper"))
        env.setenv("BT_CACHE_DIR", str(root / "cache"))
        run = bt("run", "topk-strategy", *TICKERS, *SETTINGS, *PERIOD, "--out", str(root / "run"))
        assert run.returncode == 0, run.stderr
        started = bt("paper", "start", "ref", "--strategy", "topk-strategy", *TICKERS, *SETTINGS)
        assert started.returncode == 0, started.stderr
        replayed = bt("paper", "replay", "ref", *PERIOD)
        assert replayed.returncode == 0, replayed.stderr
        report = bt("paper", "report", "ref", "--out", str(root / "report"))
        assert report.returncode == 0, report.stderr
    return root / "paper", root


def test_replay_gives_the_fills_and_daily_equity_of_bt_run_byte_for_byte(parity: tuple[Path, Path]) -> None:
    folder, root = parity
    ledger = read(folder, "ref")
    trades = pd.read_csv(root / "run" / "trades.csv")
    assert len(trades) > 20 and {"buy", "sell"} <= set(trades["action"]) and trades["ticker"].nunique() > 3
    pd.testing.assert_frame_equal(ledger["fills"], trades, check_exact=True, check_dtype=False)
    equity = pd.read_csv(root / "run" / "equity.csv", index_col="date")["strategy"]
    assert list(ledger["days"]["date"]) == list(equity.index)
    assert list(ledger["days"]["equity"]) == list(equity)  # floats equal to the last bit
    # The report's tables, as text, carry the same numbers.
    days = pd.read_csv(root / "report" / "days.csv", dtype=str)
    text = (root / "run" / "equity.csv").read_text().splitlines()[1:]
    assert [f"{d},{e}" for d, e in zip(days["date"], days["equity"], strict=True)] == [
        ",".join(line.split(",")[:2]) for line in text]
    invariants(folder, "ref")


def test_paper_report_of_a_portfolio(parity: tuple[Path, Path]) -> None:
    _, root = parity
    html = (root / "report" / "report.html").read_text()
    for sid in ("headline", "equity", "holdings", "fills", "tearsheet", "config"):
        assert f'id="{sid}"' in html
    assert "paper ref" in html and "equal weight, rebalanced monthly" in html
    weights = pd.read_csv(root / "report" / "weights.csv", index_col="date")
    run_weights = pd.read_csv(root / "run" / "weights.csv", index_col="date")
    pd.testing.assert_frame_equal(weights, run_weights, rtol=1e-12)
    fills = pd.read_csv(root / "report" / "fills.csv")
    assert "ticker" in fills.columns and len(fills) == len(pd.read_csv(root / "run" / "trades.csv"))
    if chromium() is not None:
        probe = "[...document.images].map(i => [i.alt, i.naturalWidth, i.naturalHeight])"
        seen = visit(page_url(root / "report" / "report.html"), probe)
        assert seen.problems == [] and [alt for alt, _, _ in seen.evaluated] == ["equity curves", "holdings heatmap"]
        assert all(w > 400 and h > 150 for _, w, h in seen.evaluated), seen.evaluated


def test_paper_report_compares_the_account_as_bt_run_compares_its_strategy(parity: tuple[Path, Path]) -> None:
    """The equal weight, the top-k rule on the naive and ridge forecasts and on momentum, and the benchmark, over
    exactly the account's days: the same returns and PSRs as ``bt run topk-strategy`` over those days."""
    from backtests.paper.account import paper_portfolio_run

    folder, root = parity
    returns = pd.read_csv(root / "report" / "returns.csv", index_col="date")
    days = read(folder, "ref")["days"]["date"]
    assert list(returns.columns) == RULES and list(returns.index) == list(days.iloc[1:])
    assert returns["topk_ridge"].equals(returns["strategy"])  # the model is ridge: the account's own rule
    assert (returns["topk_naive"] == 0).all() and returns["momentum"].ne(0).sum() > 20
    run = pd.read_csv(root / "run" / "returns.csv", index_col="date")
    pd.testing.assert_frame_equal(returns, run, check_exact=True)
    meta, _ = paper_portfolio_run("ref", folder=folder)
    s, summary = meta["summary"], json.loads((root / "run" / "run.json").read_text())["summary"]
    assert set(s["psr"]) == set(RULES) - {"strategy"} and (s["first_day"], s["days"]) == ("2026-05-01", 63)
    for col in RULES[1:]:
        assert s["psr"][col] == pytest.approx(summary["psr"][col], rel=1e-12), col
    assert s["activity"]["momentum"]["fills"] == summary["activity"]["momentum"]["fills"] > 0
    html = (root / "report" / "report.html").read_text()
    for label in ("equal weight, rebalanced monthly", "top-k on the naive forecast", "top-k on the ridge forecast",
                  "top-k on 12-1 month momentum", "benchmark (SPY)", "PSR of the account against it"):  # fmt: skip
        assert label in html, label


def test_status_and_list_of_a_portfolio(parity: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    folder, _ = parity
    monkeypatch.setenv("BT_PAPER_DIR", str(folder))
    listed = bt("paper", "list")
    assert listed.returncode == 0 and listed.stdout.split()[:4] == ["ref", "PORTFOLIO", "topk-strategy", "64"]
    status = bt("paper", "status", "ref")
    assert status.returncode == 0, status.stderr
    assert "PORTFOLIO topk-strategy (ridge, top 3 of 6), 64 days stepped through 2026-07-31" in status.stdout


def test_random_kills_leave_the_ledger_before_or_after_a_portfolio_step(paper_folder: Path) -> None:
    period = ["--start", "2026-01-02", "--end", "2026-07-31"]
    for name in ("ref", "crashy"):
        assert bt("paper", "start", name, "--strategy", "topk-strategy", *TICKERS, *SETTINGS).returncode == 0
    assert bt("paper", "replay", "ref", *period).returncode == 0
    total = invariants(paper_folder, "ref")
    rng, kills, done = random.Random(3), 0, 0
    while done < total and kills < 6:
        proc = bt_popen("paper", "replay", "crashy", *period)
        kills += kill_while_stepping(proc, paper_folder, "crashy", done + rng.randint(1, 10), 0.05, rng)
        done = invariants(paper_folder, "crashy")
    assert kills == 6 and done < total, f"the replay ended before 6 kills landed inside it ({kills}, {done}/{total})"
    finished = bt("paper", "replay", "crashy", *period)
    assert finished.returncode == 0, finished.stderr
    left, right = read(paper_folder, "crashy"), read(paper_folder, "ref")
    for table in left:
        pd.testing.assert_frame_equal(left[table], right[table], check_exact=True, obj=table)


def test_a_portfolio_day_stepped_twice_changes_nothing(paper_folder: Path) -> None:
    assert bt("paper", "start", "idem", "--strategy", "topk-strategy", *TICKERS, *SETTINGS).returncode == 0
    assert bt("paper", "replay", "idem", "--start", "2026-07-01", "--end", "2026-07-10").returncode == 0
    before = read(paper_folder, "idem")
    again = bt("paper", "step", "idem", "--date", "2026-07-10")
    assert again.returncode == 0 and "Nothing was changed" in again.stdout
    after = read(paper_folder, "idem")
    for table in before:
        pd.testing.assert_frame_equal(before[table], after[table], check_exact=True)


def test_concurrent_portfolio_steps_apply_once(paper_folder: Path) -> None:
    """Two ``bt paper step`` processes on one portfolio at once: one applies the days, the other changes nothing and
    says why, and the ledger is exactly what one step leaves (no day twice, no row lost)."""
    for name in ("race", "ref"):
        assert invoke("paper", "start", name, "--strategy", "topk-strategy", *TICKERS, *SETTINGS)[0] == 0
        assert invoke("paper", "replay", name, "--start", "2026-06-01", "--end", "2026-06-01")[0] == 0  # days 0, 1
    assert invoke("paper", "step", "ref", "--date", "2026-07-31")[0] == 0
    days = invariants(paper_folder, "ref")
    procs = [bt_popen("paper", "step", "race", "--date", "2026-07-31") for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    applied = [r for r in results if r[0] == 0 and "(day 2)" in r[1] and f"2026-07-31 (day {days - 1})" in r[1]]
    assert len(applied) == 1, results
    code, out, err = next(r for r in results if r is not applied[0])
    refused = code == 2 and len(err.strip().splitlines()) == 1 and "being stepped by another process" in err
    assert refused or (code == 0 and "Nothing was changed" in out and "(day" not in out), (code, out, err)
    assert invariants(paper_folder, "race") == days > 40
    left, right = read(paper_folder, "race"), read(paper_folder, "ref")
    for table in left:
        pd.testing.assert_frame_equal(left[table], right[table], check_exact=True, obj=table)


def legacy_rows(path: Path) -> dict[str, list[tuple]]:
    tables = ("experiments", "days", "positions", "orders", "fills", "models", "forecasts")
    columns = {"orders": "id, experiment_id, decision_date, size, created_price, status",
               "forecasts": "experiment_id, origin_date, forecast, close, model_version"}  # fmt: skip
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT {columns.get(t, '*')} FROM {t} ORDER BY 1, 2").fetchall() for t in tables}


def test_a_single_ticker_ledger_migrates_without_losing_a_row(paper_folder: Path) -> None:
    shutil.copytree(LEGACY, paper_folder)
    path = paper_folder / "paper.db"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    before = legacy_rows(path)
    assert sum(map(len, before.values())) > 50
    listed = bt("paper", "list")  # opening the ledger migrates it
    assert listed.returncode == 0, listed.stderr
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        tickers = {t: conn.execute(f"SELECT DISTINCT ticker FROM {t}").fetchall() for t in ("orders", "forecasts")}
    assert legacy_rows(path) == before
    assert tickers == {"orders": [("AAPL",)], "forecasts": [("AAPL",)]}
    # Migrated once: a second opening finds version 2 and changes nothing.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert bt("paper", "status", "old-ridge").returncode == 0
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def _break_orders(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE orders RENAME COLUMN created_price TO price_then")


def _future_version(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 3")


@pytest.mark.parametrize(("spoil", "words"), [(_break_orders, "cannot be migrated to ledger schema 2"),
                                              (_future_version, "has ledger schema 3")])  # fmt: skip
def test_an_old_ledger_that_cannot_migrate_is_refused_untouched(paper_folder: Path, spoil, words: str) -> None:
    shutil.copytree(LEGACY, paper_folder)
    path = paper_folder / "paper.db"
    spoil(path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for args in (["paper", "list"], ["paper", "status", "old-ridge"], ["paper", "replay", "old-ridge"]):
        result = bt(*args)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "left as it was" in lines[0], result.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize(("args", "words"), [
    (["paper", "start", "x", "--strategy", "topk-strategy", "--source", "bundled"], "no tickers"),
    (["paper", "start", "x", "--universe", "dow30", "--strategy", "lstm-strategy"], "not a portfolio strategy"),
    (["paper", "start", "bad name", "--tickers", "KO", "--strategy", "topk-strategy"], "is not valid"),
])  # fmt: skip
def test_portfolio_start_errors_are_one_line(args: list[str], words: str) -> None:
    result = bt(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr


@pytest.mark.slow
def test_lstm_portfolio_replay_matches_bt_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lstm = ["--tickers", "AAPL,KO,JPM", "--train-days", "250", "--lookback", "10", "--epochs", "2", "--retrain-every",
            "10", "--batch-size", "32", "--k", "1", "--source", "bundled"]  # fmt: skip
    period = ["--start", "2026-06-01", "--end", "2026-07-15"]
    monkeypatch.setenv("BT_CACHE_DIR", str(tmp_path / "cache"))
    run = bt("run", "topk-strategy", *lstm, *period, "--out", str(tmp_path / "run"))
    assert run.returncode == 0, run.stderr
    assert bt("paper", "start", "lstm", "--strategy", "topk-strategy", *lstm).returncode == 0
    replayed = bt("paper", "replay", "lstm", *period[:2], "--end", "2026-06-20")
    assert replayed.returncode == 0, replayed.stderr
    assert bt("paper", "replay", "lstm", "--end", period[-1]).returncode == 0  # resumed: models read from their files
    ledger = read(tmp_path / "paper", "lstm")
    trades = pd.read_csv(tmp_path / "run" / "trades.csv")
    pd.testing.assert_frame_equal(ledger["fills"], trades, check_exact=True, check_dtype=False)
    equity = pd.read_csv(tmp_path / "run" / "equity.csv", index_col="date")["strategy"]
    assert list(ledger["days"]["equity"]) == list(equity) and len(trades) > 2
