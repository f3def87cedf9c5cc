"""Paper trading: parity with ``bt run``, idempotence, concurrency, crash safety, corrupt ledgers.

Subprocesses run the real ``bt`` entry point, so kills and races hit real processes and
real files. The LSTM runs are tiny; the many-kill test uses the ridge baseline for speed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from backtests.cli import app

from .conftest import tiny_forecast

LSTM = ["--source", "bundled", "--train-days", "250", "--lookback", "10", "--epochs", "3", "--retrain-every", "5",
        "--batch-size", "32", "--allow-short"]  # fmt: skip
PERIOD = ["--start", "2026-05-01", "--end", "2026-07-31"]  # 64 days, 13 fills, longs, shorts and reversals
RIDGE = ["--source", "bundled", "--model", "ridge", "--train-days", "60", "--lookback", "10", "--retrain-every", "3"]
TABLES = ("days", "positions", "orders", "fills", "forecasts", "models")


def bt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _MAIN, *args], capture_output=True, text=True, timeout=600)


def bt_popen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _MAIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


_MAIN = "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def assert_one_line_error(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]


@pytest.fixture(autouse=True)
def paper_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path_factory.mktemp("paper")
    monkeypatch.setenv("BT_PAPER_DIR", str(folder))
    return folder


def tables(folder: Path, name: str) -> dict[str, pd.DataFrame]:
    """The ledger's tables of experiment ``name``, read with plain sqlite3."""
    with sqlite3.connect(folder / "paper.db") as conn:
        (eid,) = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
        order = {"days": "step", "positions": "date", "orders": "id", "fills": "id", "models": "version",
                 "forecasts": "origin_date"}  # fmt: skip
        out = {t: pd.read_sql(f"SELECT * FROM {t} WHERE experiment_id = ? ORDER BY {order[t]}", conn, params=(eid,))
               for t in TABLES}  # fmt: skip
    out = {t: f.drop(columns=[c for c in ("experiment_id", "id", "order_id") if c in f]) for t, f in out.items()}
    out["models"] = out["models"].drop(columns=["seconds", "files"])
    return out


def assert_same_ledger(folder: Path, a: str, b: str) -> None:
    left, right = tables(folder, a), tables(folder, b)
    for name in TABLES:
        pd.testing.assert_frame_equal(left[name], right[name], check_exact=True, obj=name)


def stepped_days(folder: Path, name: str) -> int:
    """How many days the ledger holds for ``name`` (0 before the experiment exists or steps)."""
    try:
        with sqlite3.connect(folder / "paper.db", timeout=30) as conn:
            sql = "SELECT count(*) FROM days JOIN experiments ON experiments.id = experiment_id WHERE name = ?"
            return conn.execute(sql, (name,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def kill_while_stepping(proc: subprocess.Popen[str], folder: Path, name: str, at: int, jitter: float,
                        rng: random.Random) -> bool:  # fmt: skip
    """Wait until ``name`` has ``at`` days, kill ``proc`` within ``jitter`` seconds; False if it finished first."""
    while proc.poll() is None and stepped_days(folder, name) < at:
        time.sleep(0.01)
    time.sleep(rng.uniform(0, jitter))
    alive = proc.poll() is None
    proc.kill()
    proc.communicate()
    return alive


def check_invariants(folder: Path, name: str) -> int:
    """A ledger between steps: whole days only, every order settled but the last, files as recorded."""
    with sqlite3.connect(folder / "paper.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (eid,) = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
        read = lambda sql: pd.read_sql(sql, conn, params=(eid,))  # noqa: E731
        days = read("SELECT step, date, cash, equity, close FROM days WHERE experiment_id = ? ORDER BY step")
        positions = read("SELECT date, size FROM positions WHERE experiment_id = ? ORDER BY date")
        orders = read("SELECT id, decision_date, status FROM orders WHERE experiment_id = ? ORDER BY id")
        fills = read("SELECT order_id, date FROM fills WHERE experiment_id = ?")
        forecasts = read("SELECT origin_date FROM forecasts WHERE experiment_id = ? ORDER BY origin_date")
        models = read("SELECT version, files FROM models WHERE experiment_id = ? ORDER BY version")
    assert list(days["step"]) == list(range(len(days)))
    assert list(positions["date"]) == list(days["date"]) == list(forecasts["origin_date"])
    equity = days["cash"] + positions["size"] * days["close"]
    assert np.allclose(equity, days["equity"], rtol=1e-9, atol=0)
    queued = orders[orders["status"] == "queued"]
    assert len(queued) <= 1 and (queued.empty or queued["decision_date"].iloc[0] == days["date"].iloc[-1])
    assert set(orders["decision_date"]) <= set(days["date"])
    filled = orders[orders["status"] == "filled"]
    assert sorted(fills["order_id"]) == sorted(filled["id"])
    next_day = dict(zip(days["date"].iloc[:-1], days["date"].iloc[1:], strict=True))
    by_order = dict(zip(fills["order_id"], fills["date"], strict=True))
    assert all(by_order[i] == next_day[d] for i, d in zip(filled["id"], filled["decision_date"], strict=True))
    assert list(models["version"]) == list(range(1, len(models) + 1))
    for files in models["files"]:
        for entry in json.loads(files):
            assert hashlib.sha256((folder / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    return len(days)


# Persistence of the forecasters


@pytest.mark.slow
@pytest.mark.parametrize("warm_start", [True, False])
def test_saved_lstm_continues_the_walk_forward_byte_identically(aapl: pd.DataFrame, warm_start: bool) -> None:
    from forecasting import Forecaster
    from forecasting.splitter import Fold
    from forecasting.walkforward import train_arrays
    from forecasting.windows import windows_ending_at

    config = tiny_forecast(warm_start=warm_start)
    close = aapl["close"].to_numpy()

    def fold(p: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        train = train_arrays(close, Fold(0, p - config.train_days + 1, p, p + 1, p + 10), config.lookback)
        return train, windows_ending_at(close, np.arange(p, p + 10), config.lookback)

    p = len(close) - 40
    model = config.forecaster().fit(*fold(p)[0])
    saved = model.to_bytes()
    (x, y), windows = fold(p + 10)
    kept = model.fit(x, y).predict(windows)
    loaded = Forecaster.from_bytes(saved)
    assert type(loaded) is type(model) and loaded.fits_ == 1
    assert loaded.fit(x, y).predict(windows).tobytes() == kept.tobytes()


def test_baselines_round_trip_through_files(aapl: pd.DataFrame, tmp_path: Path) -> None:
    from forecasting import Forecaster, RidgeForecaster
    from forecasting.windows import windows_ending_at

    close = aapl["close"].to_numpy()
    windows = windows_ending_at(close, np.arange(20, 300), 20)
    model = RidgeForecaster(alpha=0.5).fit(windows[:-1], close[21:300])
    model.save(tmp_path / "ridge.bin")
    loaded = Forecaster.load(tmp_path / "ridge.bin")
    assert isinstance(loaded, RidgeForecaster) and loaded.alpha == 0.5
    assert loaded.predict(windows).tobytes() == model.predict(windows).tobytes()
    with pytest.raises(ValueError, match="not a LSTMForecaster"):
        from forecasting import LSTMForecaster

        LSTMForecaster.load(tmp_path / "ridge.bin")


# Parity with bt run, and crash safety with the LSTM


@pytest.fixture(scope="module")
def parity(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A paper replay and ``bt run`` over the same period and settings, run side by side."""
    folder, out = tmp_path_factory.mktemp("paper"), tmp_path_factory.mktemp("run") / "run"
    env = {**os.environ, "BT_PAPER_DIR": str(folder), "BT_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    run = subprocess.Popen([sys.executable, "-c", _MAIN, "run", "lstm-strategy", "AAPL", *LSTM, *PERIOD,
                            "--out", str(out), "--no-cache"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)  # fmt: skip
    started = subprocess.run([sys.executable, "-c", _MAIN, "paper", "start", "ref", "--ticker", "AAPL", *LSTM],
                             env=env, capture_output=True, text=True)  # fmt: skip
    assert started.returncode == 0, started.stderr
    replayed = subprocess.run([sys.executable, "-c", _MAIN, "paper", "replay", "ref", *PERIOD],
                              env=env, capture_output=True, text=True)  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    _, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    return folder, out


@pytest.mark.slow
def test_replay_gives_the_fills_and_equity_of_bt_run(parity: tuple[Path, Path]) -> None:
    folder, out = parity
    ledger = tables(folder, "ref")
    trades = pd.read_csv(out / "trades.csv")
    fills = ledger["fills"]
    assert len(trades) >= 10 and {"buy", "sell"} <= set(trades["action"])
    assert list(fills["date"]) == list(trades["date"])
    assert list(fills["action"]) == list(trades["action"]) and list(fills["size"]) == list(trades["size"])
    for column in ("price", "value", "commission"):
        np.testing.assert_allclose(fills[column], trades[column], rtol=1e-12, atol=0)
    returns = pd.read_csv(out / "returns.csv", index_col="date")["strategy"]
    days = ledger["days"].set_index("date")
    assert list(days.index[1:]) == list(returns.index)
    equity = days["equity"].iloc[0] * np.cumprod(1.0 + returns.to_numpy())
    assert np.max(np.abs(days["equity"].iloc[1:].to_numpy() / equity - 1)) < 1e-9
    # The shared logic goes all the way down: the forecasts themselves are byte-identical.
    forecasts = pd.read_csv(out / "forecasts.csv")
    assert list(ledger["forecasts"]["forecast"].iloc[: len(forecasts)]) == list(forecasts["forecast"])


@pytest.mark.slow
def test_lstm_replay_killed_and_resumed_matches_uninterrupted(parity: tuple[Path, Path], monkeypatch) -> None:
    folder, _ = parity
    monkeypatch.setenv("BT_PAPER_DIR", str(folder))
    assert bt("paper", "start", "killed", "--ticker", "AAPL", *LSTM).returncode == 0
    rng = random.Random(7)
    assert kill_while_stepping(bt_popen("paper", "replay", "killed", *PERIOD), folder, "killed", 25, 0.5, rng)
    check_invariants(folder, "killed")  # the resumed replay loads the model from its file
    finished = bt("paper", "replay", "killed", "--end", PERIOD[-1])
    assert finished.returncode == 0, finished.stderr
    assert check_invariants(folder, "killed") == len(tables(folder, "ref")["days"])
    assert_same_ledger(folder, "killed", "ref")


# Crash safety: many kills at random moments


@pytest.mark.slow
def test_random_kills_leave_the_ledger_before_or_after_a_step(paper_folder: Path) -> None:
    # Two years of days: each kill lands a few days past its target, more on a loaded machine, and all
    # 15 must land before the replay could finish.
    period = ["--start", "2024-08-01", "--end", "2026-07-31"]
    for name in ("ref", "crashy"):
        assert invoke("paper", "start", name, "--ticker", "AAPL", *RIDGE)[0] == 0
    assert invoke("paper", "replay", "ref", *period)[0] == 0
    total = len(tables(paper_folder, "ref")["days"])
    rng, kills, done = random.Random(11), 0, 0
    while done < total and kills < 15:
        proc = bt_popen("paper", "replay", "crashy", *period)
        kills += kill_while_stepping(proc, paper_folder, "crashy", done + rng.randint(1, 8), 0.05, rng)
        done = check_invariants(paper_folder, "crashy")
    assert kills == 15 and done < total, f"the replay ended before 15 kills landed inside it ({kills}, {done}/{total})"
    assert invoke("paper", "replay", "crashy", *period)[0] == 0
    assert_same_ledger(paper_folder, "crashy", "ref")


# Idempotence and concurrency


def test_a_day_stepped_twice_changes_nothing(paper_folder: Path) -> None:
    assert invoke("paper", "start", "idem", "--ticker", "AAPL", *RIDGE)[0] == 0
    assert invoke("paper", "step", "idem", "--date", "2026-06-01")[0] == 0
    code, out = invoke("paper", "step", "idem", "--date", "2026-06-03")
    assert code == 0 and "2026-06-02 (day 1)" in out and "2026-06-03 (day 2)" in out  # catches up missed days
    before = tables(paper_folder, "idem")
    for args in (["step", "idem", "--date", "2026-06-03"], ["step", "idem", "--date", "2026-06-02"],
                 ["replay", "idem", "--end", "2026-06-03"]):  # fmt: skip
        code, out = invoke("paper", *args)
        assert code == 0 and "already stepped through 2026-06-03" in out and "Nothing was changed" in out
    after = tables(paper_folder, "idem")
    for name in TABLES:
        pd.testing.assert_frame_equal(before[name], after[name], check_exact=True)


@pytest.mark.slow
def test_concurrent_steps_apply_once(paper_folder: Path) -> None:
    for name in ("race", "ref"):
        assert invoke("paper", "start", name, "--ticker", "AAPL", *RIDGE)[0] == 0
        assert invoke("paper", "replay", name, "--start", "2025-06-02", "--end", "2025-06-02")[0] == 0
    assert invoke("paper", "step", "ref", "--date", "2026-07-31")[0] == 0
    procs = [bt_popen("paper", "step", "race", "--date", "2026-07-31") for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    applied = [r for r in results if r[0] == 0 and "(day 2)" in r[1]]
    assert len(applied) == 1, results
    other = next(r for r in results if r is not applied[0])
    assert (other[0] == 2 and "being stepped by another process" in other[2]) or "Nothing was changed" in other[1]
    check_invariants(paper_folder, "race")
    assert_same_ledger(paper_folder, "race", "ref")


def test_a_held_lock_refuses_and_constraints_forbid_duplicates(paper_folder: Path) -> None:
    from backtests.paper.ledger import experiment_lock

    assert invoke("paper", "start", "locked", "--ticker", "AAPL", *RIDGE)[0] == 0
    assert invoke("paper", "replay", "locked", "--start", "2026-06-01", "--end", "2026-06-10")[0] == 0
    before = tables(paper_folder, "locked")
    with experiment_lock(paper_folder, "locked"):
        result = bt("paper", "step", "locked", "--date", "2026-06-11")
    assert_one_line_error(result, "'locked' is being stepped by another process", "nothing was changed")
    pd.testing.assert_frame_equal(before["days"], tables(paper_folder, "locked")["days"])
    with sqlite3.connect(paper_folder / "paper.db") as conn:
        fill = conn.execute("SELECT * FROM fills LIMIT 1").fetchone()
        day = conn.execute("SELECT * FROM days WHERE step = 1").fetchone()
        eid = day[0]
        queue = ("INSERT INTO orders (experiment_id, decision_date, size, created_price, status) "
                 "VALUES (?, ?, 1, 100.0, 'queued')")  # fmt: skip
        conn.execute("UPDATE orders SET status = 'filled' WHERE status = 'queued'")
        conn.execute(queue, (eid, "2099-01-01"))
        for sql, row in (("INSERT INTO fills (order_id, experiment_id, date, action, size, price, value, commission)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", fill[1:]),
                         ("INSERT INTO days VALUES (?, ?, ?, ?, ?, ?)", day),
                         (queue, (eid, "2099-01-02"))):  # a second queued order  # fmt: skip
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(sql, row)
        conn.rollback()


# Files that are not our ledger


def _sqlite_of_another_app(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")


def _damaged_ledger(path: Path) -> None:
    result = bt("paper", "start", "x", "--ticker", "AAPL", "--source", "bundled", "--strategy", "buy-and-hold")
    assert result.returncode == 0, result.stderr
    data = bytearray(path.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)  # every page after the first (which holds the schema)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("make", [lambda p: p.write_bytes(os.urandom(5000)), _sqlite_of_another_app, _damaged_ledger],
                         ids=["random-bytes", "another-sqlite-database", "damaged-pages"])  # fmt: skip
def test_a_corrupt_or_foreign_database_is_refused_untouched(paper_folder: Path, make) -> None:
    path = paper_folder / "paper.db"
    make(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for args in (["paper", "list"], ["paper", "status", "x"], ["paper", "step", "x"],
                 ["paper", "start", "y", "--ticker", "AAPL", "--source", "bundled"]):  # fmt: skip
        assert_one_line_error(bt(*args), str(path))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


# The commands, end to end


def test_start_status_list_report(paper_folder: Path, tmp_path: Path) -> None:
    code, out = invoke("paper", "start", "bh", "--ticker", "MSFT", "--strategy", "buy-and-hold", "--source", "bundled")
    assert code == 0 and "created paper experiment bh" in out
    result = bt("paper", "start", "bh", "--ticker", "MSFT")
    assert_one_line_error(result, "experiment 'bh' exists")
    assert_one_line_error(bt("paper", "start", "x", "--ticker", "MSFT", "--source", "bundled", "--strategy", "no-such"),
                          "unknown strategy 'no-such'", "sma-cross")  # every registered strategy may paper-trade
    assert_one_line_error(bt("paper", "status", "nope"), "no experiment 'nope'", "bh")
    assert_one_line_error(bt("paper", "replay", "bh"), "--start")
    code, out = invoke("paper", "replay", "bh", "--start", "2025-01-02", "--end", "2025-03-31")
    assert code == 0 and "stepped 61 days, 2024-12-31 to 2025-03-31; 1 fills" in out
    # Buy-and-hold too trades exactly as the backtest engine does over the same days.
    from backtests.config import BrokerConfig
    from backtests.engine import run_backtest
    from strategies.classic import BuyAndHold

    msft = pd.read_csv(Path(__file__).parents[1] / "backtests" / "data" / "bundled" / "MSFT.csv", parse_dates=["date"],
                       index_col="date").loc["2024-12-31":"2025-03-31"]  # fmt: skip
    backtest = run_backtest({"T": msft}, BuyAndHold, {"size": 0.95}, BrokerConfig())
    assert list(tables(paper_folder, "bh")["days"]["equity"]) == list(backtest.equity)
    code, out = invoke("paper", "status", "bh", "--json")
    status = json.loads(out)
    assert status["last_date"] == "2025-03-31" and status["fills"] == 1 and status["position"] > 0
    assert status["queued_order"] is None and status["config"]["strategy"]["name"] == "buy-and-hold"
    code, out = invoke("paper", "list")
    assert code == 0 and out.split()[:5] == ["bh", "MSFT", "buy-and-hold", "61", "days"]
    code, out = invoke("paper", "report", "bh", "--out", str(tmp_path / "rep"))
    assert code == 0, out
    fills = pd.read_csv(tmp_path / "rep" / "fills.csv")
    assert list(fills["date"]) == ["2025-01-02"]
    assert "MSFT buy-and-hold paper bh" in (tmp_path / "rep" / "report.html").read_text()
    assert (tmp_path / "rep" / "orders.csv").exists()


def test_step_with_no_new_data_says_where_the_data_ends(paper_folder: Path, monkeypatch) -> None:
    # A closed local port as proxy: Yahoo is unreachable whatever the machine's network.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    assert bt("paper", "start", "live", "--ticker", "AAPL", "--strategy", "buy-and-hold").returncode == 0
    first = bt("paper", "step", "live")
    assert first.returncode == 0, first.stderr
    assert "2026-08-14 (day 0)" in first.stdout and "no network" in first.stderr
    again = bt("paper", "step", "live")
    assert again.returncode == 0, again.stderr
    assert "ends on 2026-08-14" in again.stdout and "Nothing was changed" in again.stdout


def test_paper_help_stays_light() -> None:
    code = ("import sys; from typer.testing import CliRunner; from backtests.cli import app;"
            "[CliRunner().invoke(app, a) for a in (['paper', '--help'], ['paper', 'replay', '--help'], "
            "['signal', '--help'])];"
            "heavy = [m for m in ('tensorflow', 'keras', 'backtrader', 'quantstats') if m in sys.modules];"
            "assert not heavy, heavy")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_signal_reports_the_next_days_action() -> None:
    code, out = invoke("signal", "AAPL", "--model", "ridge", "--train-days", "120", "--lookback", "20", "--json")
    assert code == 0, out
    signal = json.loads(out)
    assert signal["data_through"] == "2026-08-14" and signal["action"] in ("buy", "sell", "hold")
    assert signal["strategy"] == "lstm-strategy" and signal["holding"] == "flat"  # --position defaults to flat
    # `position` is the position after the order; from flat the strategy only buys (no --allow-short).
    assert signal["action"] != "sell" and signal["order_size"] >= 0
    assert signal["position"] == ("long" if signal["action"] == "buy" else "flat")
    assert (signal["order_size"] > 0) == (signal["action"] == "buy")
    assert signal["train_end"] == "2026-08-14" and signal["n_train"] == 100
    assert signal["predicted_return"] == pytest.approx(signal["forecast"] / signal["close"] - 1)
    code, out = invoke("signal", "AAPL", "--model", "ridge", "--train-days", "120", "--lookback", "20")
    assert code == 0 and "lstm-strategy: " in out and "at the next open after 2026-08-14 (holding flat, then " in out
