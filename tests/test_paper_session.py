"""The rules every paper experiment shares, one ticker or many (``backtests.paper.experiment``): the settled
day, the experiment's kind as its ledger says it, and the CLI leaving the ledger to the library."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from backtests.errors import ConfigError
from backtests.paper.experiment import MARKET, is_portfolio_experiment, new_experiment_folder, settled_end
from backtests.paper.ledger import Ledger

from .conftest import bt
from .test_paper import assert_one_line_error

CLI = Path(__file__).parents[1] / "backtests" / "cli"
DAYS = pd.DatetimeIndex(["2026-07-01", "2026-07-02"])


@pytest.mark.parametrize(
    ("now", "end"),
    [
        (dt.datetime(2026, 7, 2, 16, 14, tzinfo=MARKET), 0),  # today's bar before the close settles: not final
        (dt.datetime(2026, 7, 2, 16, 15, tzinfo=MARKET), 1),
        (dt.datetime(2026, 7, 3, 9, 0, tzinfo=MARKET), 1),  # the bar is yesterday's
    ],
)
def test_a_bar_dated_today_settles_after_the_us_close(now: dt.datetime, end: int) -> None:
    assert settled_end(DAYS, now) == end


def test_the_settled_day_is_read_in_the_markets_time_zone() -> None:
    # 21:00 in London on 2 July is 16:00 in New York: the bar of 2 July is not final yet.
    london = dt.datetime(2026, 7, 2, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert settled_end(DAYS, london.astimezone(MARKET)) == 0


def test_the_ledger_says_which_experiments_trade_a_portfolio(tmp_path: Path) -> None:
    folder = tmp_path / "paper"
    assert not is_portfolio_experiment("many", folder=folder)  # no ledger yet
    assert not (folder / "paper.db").exists()  # asking creates nothing
    with Ledger(folder, create=True) as ledger:
        ledger.create_experiment("one", {"data": {"ticker": "AAPL"}})
        ledger.create_experiment("many", {"data": {"ticker": "PORTFOLIO"}, "portfolio": {"tickers": ["A", "B"]}})
        kinds = {e["name"]: e["portfolio"] for e in ledger.experiments()}
    assert kinds == {"one": False, "many": True}
    assert is_portfolio_experiment("many", folder=folder)
    assert not is_portfolio_experiment("one", folder=folder)
    assert not is_portfolio_experiment("nope", folder=folder)  # the command reports an unknown name


def test_a_new_experiment_needs_a_valid_unused_name(tmp_path: Path) -> None:
    folder = tmp_path / "paper"
    with pytest.raises(ConfigError, match="experiment name 'a b' is not valid"):
        new_experiment_folder("a b", folder)
    assert new_experiment_folder("ok", folder) == folder
    with Ledger(folder, create=True) as ledger:
        ledger.create_experiment("ok", {"data": {"ticker": "AAPL"}})
    with pytest.raises(Exception, match="experiment 'ok' exists"):
        new_experiment_folder("ok", folder)


def test_the_cli_leaves_the_ledger_to_the_library() -> None:
    """No command module opens SQLite or the ledger itself: the paper library decides what a ledger holds."""
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
            assert "sqlite3" not in names and not module.endswith("ledger"), path.name
            if isinstance(node, ast.ImportFrom):
                assert "Ledger" not in [a.name for a in node.names], path.name


@pytest.mark.parametrize(
    ("start", "ticker"),
    [
        (["--ticker", "MSFT", "--strategy", "buy-and-hold"], "MSFT"),
        (["--strategy", "topk-strategy", "--tickers", "MSFT,KO", "--model", "ridge", "--k", "1"], "MSFT"),
    ],
    ids=["one-ticker", "portfolio"],
)
def test_an_account_opens_only_once_the_training_window_fits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: list[str], ticker: str
) -> None:
    """One rule and one message for both kinds: the data through the opening day must hold ``--train-days``."""
    monkeypatch.setenv("BT_PAPER_DIR", str(tmp_path / "paper"))
    assert bt("paper", "start", "early", *start, "--train-days", "120", "--source", "bundled").returncode == 0
    assert_one_line_error(bt("paper", "step", "early", "--date", "2004-01-06"),
                          f"early cannot open on 2004-01-06: {ticker} has 3 days of data through it",
                          "the model needs 120 (--train-days); start on or after 2004-06-2")  # fmt: skip
