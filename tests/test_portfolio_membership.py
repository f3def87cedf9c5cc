"""Point-in-time S&P 500 membership, end to end: ``bt run topk-strategy --universe sp500`` sells a holding at the
open after it leaves the index, and never buys a name on a day it is not a member.

Real data only: the bundled membership intervals, the bundled Dow prices, and the shared universe's prices of
KBH (in the index until 2009-12-21) and BKNG (in from 2009-11-06), put in the Yahoo price cache as ``bt``
keeps them. Yahoo is made unreachable, so the cached files are what is traded, with or without a network.
Ridge over three months keeps it to seconds.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import backtests.data.prices as price_module
from backtests.cli import app
from backtests.data import load_prices, membership_mask
from backtests.errors import NetworkError

from .conftest import SHARED_DATA

STOCKS = SHARED_DATA / "universe" / "stocks"
LEAVER, LEFT, SOLD = "KBH", "2009-12-21", "2009-12-22"  # out of the index on 2009-12-21: sold at the next open
JOINER, JOINED, BOUGHT = "BKNG", "2009-11-06", "2009-11-09"  # in from 2009-11-06: first bought at the next open
K = 40  # more than the universe's tickers: every member with a forecast above the threshold is held
RUN = ["run", "topk-strategy", "--universe", "sp500", "--as-of", "2009-12-18", "--model", "ridge",
       "--train-days", "250", "--lookback", "20", "--retrain-every", "10", "--k", str(K),
       "--start", "2009-10-15", "--end", "2010-01-15"]  # fmt: skip


def offline(ticker: str, start: object) -> pd.DataFrame:
    raise NetworkError("Yahoo Finance is unreachable in this test")


@pytest.fixture(scope="module")
def sp500_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``bt run topk-strategy`` over the S&P 500 members of 2009-12-18 that have prices here."""
    if not all((STOCKS / f"{t}.csv.gz").exists() for t in (LEAVER, JOINER)):
        pytest.skip(f"{STOCKS} is not there")
    cache = tmp_path_factory.mktemp("sp500-cache")
    (cache / "prices").mkdir()
    for ticker in (LEAVER, JOINER):
        with gzip.open(STOCKS / f"{ticker}.csv.gz", "rt") as file:
            (cache / "prices" / f"{ticker}.csv").write_text(file.read())
    out = tmp_path_factory.mktemp("sp500") / "run"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BT_CACHE_DIR", str(cache))
        env.setattr(price_module, "yahoo_downloader", offline)
        result = CliRunner().invoke(app, [*RUN, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def tables(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """weights.csv, trades.csv and each forecast's predicted return (origin day x ticker)."""
    weights = pd.read_csv(out / "weights.csv", index_col="date", parse_dates=["date"])
    trades = pd.read_csv(out / "trades.csv", parse_dates=["date"])
    fc = pd.read_csv(out / "forecasts.csv", parse_dates=["origin_date"])
    predicted = fc.assign(r=fc["forecast"] / fc["naive"] - 1).pivot(index="origin_date", columns="ticker", values="r")
    return weights, trades, predicted


def decision_days(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The trading day before each of ``days``: when the orders filled (or the holdings set) on it were decided."""
    calendar = load_prices("KO", source="bundled").frame.index
    return calendar[calendar.get_indexer(days) - 1]


def test_a_holding_that_leaves_the_index_is_sold_at_the_next_open(sp500_run: Path) -> None:
    weights, trades, predicted = tables(sp500_run)
    meta = json.loads((sp500_run / "run.json").read_text())
    assert meta["portfolio"]["membership"] and meta["universe"]["name"] == "sp500"
    assert LEAVER in weights.columns and len(weights.columns) < K
    # Held at the close of the day it left, and forecast to rise: only leaving the index can make the rule sell it.
    assert weights.at[pd.Timestamp(LEFT), LEAVER] > 0 and predicted.at[pd.Timestamp(LEFT), LEAVER] > 0
    own = trades[trades["ticker"] == LEAVER]
    before, after = own[own["date"] <= LEFT], own[own["date"] > LEFT]
    held = before["size"].where(before["action"] == "buy", -before["size"]).sum()
    assert held > 0 and after[["date", "action", "size"]].values.tolist() == [[pd.Timestamp(SOLD), "sell", held]]
    assert (weights.loc[SOLD:, LEAVER] == 0).all() and len(weights.loc[SOLD:]) > 10


def test_a_name_is_never_bought_or_held_on_a_day_it_is_not_a_member(sp500_run: Path) -> None:
    weights, trades, predicted = tables(sp500_run)
    # BKNG was forecast to rise before it joined, yet was first bought at the open after the day it joined.
    assert (predicted.loc[: pd.Timestamp(JOINED) - pd.Timedelta(days=1), JOINER] > 0).any()
    own = trades[trades["ticker"] == JOINER]
    assert own.iloc[0][["date", "action"]].tolist() == [pd.Timestamp(BOUGHT), "buy"]
    assert (weights.loc[:JOINED, JOINER] == 0).all() and weights.at[pd.Timestamp(BOUGHT), JOINER] > 0
    # Every buy was decided on a day its name was a member; every holding was chosen on such a day.
    buys = trades[trades["action"] == "buy"]
    decided = decision_days(pd.DatetimeIndex(buys["date"]))
    member = membership_mask(weights.columns, decided.unique())
    assert all(member.at[d, t] for d, t in zip(decided, buys["ticker"], strict=True))
    chosen = membership_mask(weights.columns, decision_days(weights.index)).to_numpy()
    assert not ((weights.to_numpy() > 0) & ~chosen).any()
    assert not chosen.all()  # some name was out of the index on some day: the check had something to catch
