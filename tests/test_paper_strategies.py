"""Every registered strategy paper-trades as in ``bt run``: warm-up bars, parity, ``bt paper start``, ``bt signal``.

The parity tests run the real ``bt`` entry point (``bt run`` beside ``bt paper start`` and
``bt paper replay``) over a year and a half of bundled AAPL, long enough for sma-cross to
cross many times, and compare fills and daily equity exactly. The warm-up tests show that
without the bars a strategy's indicators need, the same comparison fails.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from backtests.config import BrokerConfig, DataConfig, RunConfig, StrategyConfig
from backtests.engine import run_backtest
from strategies.classic import BuyAndHold, SmaCross
from strategies.signals import forecast_target

from .conftest import BUNDLED
from .test_paper import _MAIN, assert_one_line_error, invoke, tables
from .test_paper import bt as bt_cli

START, END = "2025-01-01", "2026-08-14"
PERIOD = ["--start", START, "--end", END]  # 406 days from the opening day 2024-12-31; sma-cross: 11 fills on AAPL
OPENING = "2024-12-31"  # the trading day before START: the first bar of `bt run` and step 0 of the replay
CLASSES = {"sma-cross": SmaCross, "buy-and-hold": BuyAndHold}
RIDGE = ["--model", "ridge", "--train-days", "120", "--lookback", "20"]


@pytest.fixture(autouse=True)
def paper_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path_factory.mktemp("paper")
    monkeypatch.setenv("BT_PAPER_DIR", str(folder))
    return folder


def aapl_bars(start: str = OPENING, end: str = END) -> pd.DataFrame:
    return pd.read_csv(BUNDLED / "AAPL.csv", parse_dates=["date"], index_col="date").loc[start:end]


def assert_trades_as_backtest(ledger: dict[str, pd.DataFrame], trades: pd.DataFrame, equity: pd.Series) -> None:
    """The ledger's fills are ``trades`` and its daily equity is ``equity``, exactly (same floats)."""
    fills = ledger["fills"].assign(date=lambda f: pd.to_datetime(f["date"]))
    trades = trades.assign(date=lambda f: pd.to_datetime(f["date"])).reset_index(drop=True)
    pd.testing.assert_frame_equal(fills, trades, check_exact=True, check_dtype=False, obj="fills")
    days = ledger["days"]
    assert list(pd.to_datetime(days["date"])) == list(equity.index), "the days differ"
    assert days["equity"].tolist() == equity.tolist(), "the daily equity differs"


# Parity with `bt run`: fills and daily equity, same floats


@pytest.fixture(scope="module", params=["sma-cross", "buy-and-hold"])
def parity(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """``bt run STRATEGY AAPL`` and a paper replay over the same period, run side by side."""
    strategy = request.param
    folder, out = tmp_path_factory.mktemp("paper"), tmp_path_factory.mktemp("run") / "run"
    env = {**os.environ, "BT_PAPER_DIR": str(folder), "BT_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    main = [sys.executable, "-c", _MAIN]
    run = subprocess.Popen([*main, "run", strategy, "AAPL", "--source", "bundled", *PERIOD, "--out", str(out),
                            "--no-cache"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)  # fmt: skip
    started = subprocess.run([*main, "paper", "start", "ref", "--ticker", "AAPL", "--source", "bundled",
                              "--strategy", strategy], env=env, capture_output=True, text=True)  # fmt: skip
    assert started.returncode == 0, started.stderr
    replayed = subprocess.run([*main, "paper", "replay", "ref", *PERIOD], env=env, capture_output=True, text=True)
    assert replayed.returncode == 0, replayed.stderr
    _, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    return strategy, folder, out


def test_replay_trades_exactly_as_bt_run(parity: tuple[str, Path, Path]) -> None:
    strategy, folder, out = parity
    ledger = tables(folder, "ref")
    trades = pd.read_csv(out / "trades.csv")
    # The fills of `bt run`'s trades.csv, and the equity of the engine itself over the same bars.
    backtest = run_backtest({"T": aapl_bars()}, CLASSES[strategy], {"size": 0.95}, BrokerConfig())
    assert_trades_as_backtest(ledger, trades, backtest.equity)
    # ... and the daily returns `bt run` wrote are those of the ledger's equity, to the bit.
    returns = pd.read_csv(out / "returns.csv", index_col="date")["strategy"]
    assert ledger["days"]["equity"].pct_change().iloc[1:].tolist() == returns.tolist()
    assert len(ledger["days"]) == 406 and ledger["days"]["date"].iloc[0] == OPENING
    actions = trades["action"].tolist()
    if strategy == "sma-cross":  # several crossovers, long and flat in turn; the first once the slow SMA is ready
        assert len(actions) >= 8 and actions == ["buy", "sell"] * (len(actions) // 2) + ["buy"] * (len(actions) % 2)
        assert trades["date"].iloc[0] > f"{aapl_bars().index[49]:%Y-%m-%d}"
    else:
        assert actions == ["buy"] and trades["date"].iloc[0] == "2025-01-02"


# Warm-up: the bars a strategy's indicators need before the previous close


def _replay_in_process(folder: Path, strategy: str, start: str = START, end: str = END) -> dict[str, pd.DataFrame]:
    from backtests import paper

    config = RunConfig(data=DataConfig("AAPL", source="bundled"), strategy=StrategyConfig(strategy))
    paper.start("x", config, folder=folder)
    paper.replay("x", start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end), folder=folder)
    return tables(folder, "x")


def test_without_the_warmup_bars_the_replay_diverges_from_bt_run(tmp_path: Path, monkeypatch) -> None:
    # The parity check above, on a replay whose days get no warm-up bars: it must fail.
    from backtests.paper import session

    backtest = run_backtest({"T": aapl_bars()}, SmaCross, {"size": 0.95}, BrokerConfig())
    assert len(backtest.fills) >= 8
    monkeypatch.setattr(session, "warmup_bars", lambda strategy: 0)
    ledger = _replay_in_process(tmp_path, "sma-cross")
    with pytest.raises(AssertionError):
        assert_trades_as_backtest(ledger, backtest.trades, backtest.equity)
    # The slow SMA never gets its 50 bars: no trade at all, the equity stays the cash.
    assert ledger["fills"].empty and set(ledger["days"]["equity"]) == {100_000.0}


def test_the_same_comparison_passes_in_process_with_the_warmup(tmp_path: Path) -> None:

    backtest = run_backtest({"T": aapl_bars()}, SmaCross, {"size": 0.95}, BrokerConfig())
    assert_trades_as_backtest(_replay_in_process(tmp_path, "sma-cross"), backtest.trades,
                              backtest.equity)  # fmt: skip


@pytest.mark.parametrize("warmup", [0, 47, 48])
def test_a_warmup_shorter_than_the_slow_average_needs_is_refused(tmp_path: Path, monkeypatch, warmup: int) -> None:
    # 48 (slow - 2) gives the averages but backtrader's `nextstart` instead of `next` every day.
    monkeypatch.setattr(SmaCross, "warmup", warmup)
    call = "prenext" if warmup < 48 else "nextstart"
    refused = rf"SmaCross\.warmup \({warmup}\) is too small: .* calls its {call}, not next"
    with pytest.raises(RuntimeError, match=refused):
        _replay_in_process(tmp_path, "sma-cross", end="2025-04-30")


class Probe(bt.Strategy):
    """A 3-bar SMA; records, per bar, which of prenext/nextstart/next backtrader called and the SMA."""

    warmup = 2  # period - 1
    calls: ClassVar[list[tuple[Any, ...]]] = []

    def __init__(self) -> None:
        self.sma = bt.indicators.SMA(self.data.close, period=3)

    def _record(self, method: str) -> None:
        Probe.calls.append((self.data.datetime.date(0), method, None if method == "prenext" else self.sma[0]))

    def prenext(self) -> None:
        self._record("prenext")

    def nextstart(self) -> None:  # overridden: paper trading must call it only where `bt run` does
        self._record("nextstart")
        super().nextstart()

    def next(self) -> None:
        self._record("next")


def test_each_day_the_strategy_gets_the_call_and_indicator_values_of_bt_run(aapl: pd.DataFrame) -> None:
    from backtests.paper.day import trade_day

    frame = aapl.iloc[:12].assign(forecast=math.nan)
    Probe.calls = []
    run_backtest({"T": frame}, Probe, {}, BrokerConfig())
    backtest, Probe.calls = Probe.calls, []
    assert [c[1] for c in backtest[:5]] == ["prenext", "prenext", "nextstart", "next", "next"]
    for p in range(len(frame)):  # each day alone, with the bars a paper step feeds it
        trade_day(frame.iloc[max(p - 1 - Probe.warmup, 0) : p + 1], Probe, {}, BrokerConfig(), None, None)
    assert Probe.calls == backtest  # same days, same calls (nextstart once), same SMA values to the bit


# `bt paper start` takes every registered strategy


def test_paper_start_accepts_every_registered_strategy() -> None:
    for strategy in ("sma-cross", "buy-and-hold", "lstm-strategy"):
        code, out = invoke("paper", "start", strategy, "--ticker", "AAPL", "--source", "bundled",
                           "--strategy", strategy)  # fmt: skip
        assert code == 0 and f"created paper experiment {strategy}: AAPL {strategy}" in out, out
    result = bt_cli("paper", "start", "bad", "--ticker", "AAPL", "--source", "bundled", "--strategy", "no-such")
    assert_one_line_error(result, "unknown strategy 'no-such'", "sma-cross", "buy-and-hold")


# `bt signal`: the order the strategy class itself places


HELD = {"flat": 0, "long": 1, "short": -1}
KEYS = {"ticker", "source", "strategy", "data_through", "close", "forecast", "predicted_return", "holding", "action",
        "order_size", "position", "threshold", "model"}  # fmt: skip
TRAINED = {"train_start", "train_end", "n_train"}
# SmaCross.next: with the fast SMA above the slow one, buy when holding nothing; below, close any position.
SMA_CROSS = {
    (True, "flat"): ("buy", "long"),
    (True, "long"): ("hold", "long"),
    (True, "short"): ("hold", "short"),
    (False, "flat"): ("hold", "flat"),
    (False, "long"): ("sell", "flat"),
    (False, "short"): ("buy", "flat"),
}


def signal(tmp_path: Path, strategy: str, position: str, through: str | None, *extra: str) -> dict[str, Any]:
    data = ["--source", "bundled"]
    if through is not None:  # the bundled history cut at `through`, so the averages point the other way
        aapl_bars("2004-01-01", through).to_csv(tmp_path / "aapl.csv")
        data = ["--csv", str(tmp_path / "aapl.csv")]
    code, out = invoke("signal", "AAPL", *data, "--strategy", strategy, "--position", position, *extra, "--json")
    assert code == 0, out
    return json.loads(out)


def check_common(s: dict[str, Any], strategy: str, position: str, through: str | None, keys: set[str]) -> int:
    """Keys, data and the order's consistency with the action; returns the shares held before the order."""
    assert set(s) == keys and s["strategy"] == strategy and s["holding"] == position
    closes = aapl_bars("2004-01-01", through or END)["close"]
    assert s["data_through"] == f"{closes.index[-1]:%Y-%m-%d}" and s["close"] == float(closes.iloc[-1])
    assert s["action"] == ("buy" if s["order_size"] > 0 else "sell" if s["order_size"] < 0 else "hold")
    # The account holds 95% of the cash in shares, bought at the previous close.
    return HELD[position] * math.floor(0.95 * 100_000 / float(closes.iloc[-2]))


@pytest.mark.parametrize("through", [None, "2025-04-08"], ids=["fast-above", "fast-below"])
@pytest.mark.parametrize("position", ["flat", "long", "short"])
def test_signal_sma_cross_is_the_crossing_of_the_averages(tmp_path: Path, position: str, through: str | None) -> None:
    s = signal(tmp_path, "sma-cross", position, through)
    held = check_common(s, "sma-cross", position, through, KEYS)
    assert s["forecast"] is None and s["predicted_return"] is None and s["model"] is None
    close = aapl_bars("2004-01-01", through or END)["close"]
    fast, slow = close.rolling(20).mean().iloc[-1], close.rolling(50).mean().iloc[-1]
    assert abs(fast - slow) > 1.0  # far from a tie: the sign is not a rounding matter
    above = fast > slow
    assert above == (through is None)
    assert (s["action"], s["position"]) == SMA_CROSS[above, position]
    if not above and held:
        assert s["order_size"] == -held  # closes exactly the position held


@pytest.mark.parametrize("position", ["flat", "long", "short"])
def test_signal_buy_and_hold_buys_only_when_flat(tmp_path: Path, position: str) -> None:
    s = signal(tmp_path, "buy-and-hold", position, None)
    check_common(s, "buy-and-hold", position, None, KEYS)
    assert s["action"] == ("buy" if position == "flat" else "hold")
    assert s["position"] == ("long" if position == "flat" else position)
    if position == "flat":
        assert s["order_size"] == math.floor(0.95 * 100_000 / s["close"])


@pytest.mark.parametrize("through", [None, "2025-04-08"], ids=["forecast-up", "forecast-down"])
@pytest.mark.parametrize("position", ["flat", "long", "short"])
def test_signal_lstm_strategy_follows_forecast_target(tmp_path: Path, position: str, through: str | None) -> None:
    s = signal(tmp_path, "lstm-strategy", position, through, *RIDGE)
    held = check_common(s, "lstm-strategy", position, through, KEYS | TRAINED)
    assert s["model"] == "ridge" and s["n_train"] == 100 and s["train_end"] == s["data_through"]
    assert s["predicted_return"] == s["forecast"] / s["close"] - 1
    assert (s["predicted_return"] > 0) == (through is None)
    target = forecast_target(s["forecast"], s["close"], HELD[position], threshold=0.0, allow_short=False)
    assert s["position"] == ("flat", "long", "short")[target]
    want = "buy" if target > HELD[position] else "sell" if target < HELD[position] else "hold"
    assert s["action"] == want
    if target == 0 and held:
        assert s["order_size"] == -held


def test_signal_position_must_be_flat_long_or_short() -> None:
    result = bt_cli("signal", "AAPL", "--source", "bundled", "--strategy", "sma-cross", "--position", "sideways")
    assert_one_line_error(result, "--position must be flat, long or short", "'sideways'")


def test_signal_lstm_strategy_may_go_short(tmp_path: Path) -> None:
    s = signal(tmp_path, "lstm-strategy", "long", "2025-04-08", *RIDGE, "--allow-short")
    held = math.floor(0.95 * 100_000 / float(aapl_bars(end="2025-04-07")["close"].iloc[-1]))
    assert s["action"] == "sell" and s["position"] == "short" and s["order_size"] < -held
    assert np.sign(s["predicted_return"]) == -1
