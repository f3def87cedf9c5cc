"""The portfolio strategies in backtrader: a synthetic universe with a known ranking, membership, the 100% bound,
and the pinned statistics of the equal-weight buy-and-hold of the Dow over a fixed half year of bundled data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.config import BrokerConfig
from backtests.data import load_prices, universe
from backtests.engine import run_backtest
from backtests.portfolio.panel import calendar, momentum_scores, panel, volatility
from reports.metrics import performance
from strategies.topk import EqualWeight, TopkStrategy

FREE = BrokerConfig(cash=100_000.0, commission=0.0, slippage=0.0)
DATES = pd.bdate_range("2025-03-03", periods=8, name="date")
# Scores known at each close (rows: days; columns: tickers). k = 2.
SCORES = pd.DataFrame({
    "A": [0.05, 0.05, 0.01, 0.01, 0.03, 0.03, 0.03, 0.03],
    "B": [0.04, 0.04, 0.04, 0.04, 0.04, 0.04, 0.04, 0.04],
    "C": [0.01, 0.01, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05],
    "D": [0.00, 0.00, 0.00, 0.06, 0.06, 0.06, -0.01, -0.01],
    "E": [-0.02, -0.02, -0.02, -0.02, -0.02, -0.02, -0.02, -0.02],
}, index=DATES)  # fmt: skip
# D is an index member until day 5 (it leaves at the close of day 5: not a member from day 5 on).
MEMBER = pd.DataFrame(True, index=DATES, columns=SCORES.columns)
MEMBER.loc[DATES[5]:, "D"] = False
# Held at each close: the names decided at the close before, filled at this day's open.
EXPECTED = [set(), {"A", "B"}, {"A", "B"}, {"B", "C"}, {"C", "D"}, {"C", "D"}, {"B", "C"}, {"B", "C"}]


def frames(scores: pd.DataFrame, member: pd.DataFrame, prices: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    out = {}
    for t in scores:
        close = prices[t] if prices is not None else pd.Series(100.0, index=scores.index)
        out[t] = pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                               "volume": 1e6, "score": scores[t], "volatility": 0.02,
                               "eligible": member[t].astype(float)}, index=scores.index)  # fmt: skip
    return out


def test_top_k_holds_exactly_the_expected_names_and_weights_each_day() -> None:
    run = run_backtest(frames(SCORES, MEMBER), TopkStrategy, {"k": 2, "size": 0.95}, FREE)
    held = [set(row[row > 0].index) for _, row in run.weights.iterrows()]
    assert held == EXPECTED
    for _, row in run.weights.iterrows():
        assert all(w == pytest.approx(0.475, abs=1e-12) for w in row[row > 0])  # 475 shares at 100 of 100,000
    # D left the index on day 5: sold at the next open although its score ranks first.
    sold = run.fills[(run.fills["ticker"] == "D") & (run.fills["action"] == "sell")]
    assert list(sold["date"]) == [DATES[6]]
    assert run.decisions[5][1]["D"] == 0.0 and run.refused == 0
    # Orders are placed sells first: on day 3 B stays, A is sold and C bought at the same open.
    day3 = run.fills[run.fills["date"] == DATES[3]]
    assert list(day3["action"]) == ["sell", "buy"] and list(day3["ticker"]) == ["A", "C"]


def test_dropout_and_inverse_volatility_in_the_backtest() -> None:
    run = run_backtest(frames(SCORES, MEMBER), TopkStrategy, {"k": 2, "size": 0.95, "n_drop": 0}, FREE)
    held = [set(row[row > 0].index) for _, row in run.weights.iterrows()]
    assert held[3] == {"A", "B"}  # n_drop 0: A stays although C ranks above it
    data = frames(SCORES, MEMBER)
    data["A"]["volatility"] = 0.01
    run = run_backtest(data, TopkStrategy, {"k": 2, "weighting": "inverse-volatility"}, FREE)
    weights = run.weights.iloc[1]
    assert weights["A"] == pytest.approx(0.95 * 2 / 3, abs=1e-3) and weights["B"] == pytest.approx(0.95 / 3, abs=1e-3)


def test_never_more_than_all_of_equity_on_random_prices_and_scores() -> None:
    rng = np.random.default_rng(5)
    dates = pd.bdate_range("2024-01-01", periods=120, name="date")
    names = [f"T{i}" for i in range(8)]
    prices = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.03, (120, 8)), axis=0)), index=dates, columns=names)
    scores = pd.DataFrame(rng.normal(0, 0.01, (120, 8)), index=dates, columns=names)
    member = pd.DataFrame(rng.random((120, 8)) > 0.1, index=dates, columns=names)
    for params in ({"k": 3, "size": 1.0}, {"k": 4, "max_turnover": 0.3, "size": 1.0}, {"k": 2, "n_drop": 1}):
        run = run_backtest(frames(scores, member, prices), TopkStrategy, params, BrokerConfig())
        assert (run.weights.sum(axis=1) <= 1.0 + 1e-9).all() and (run.weights >= 0).all().all()
        assert (run.weights.gt(0).sum(axis=1) <= params["k"]).all() or "max_turnover" in params
        assert all(max(sum(w for w in d.values() if w > 0), 0) <= 1.0 + 1e-12 for _, d in run.decisions)


def test_equal_weight_holds_every_member_and_drops_a_leaver_at_once() -> None:
    run = run_backtest(frames(SCORES, MEMBER), EqualWeight, {"size": 0.95}, FREE)
    assert set(run.weights.iloc[1][run.weights.iloc[1] > 0].index) == set("ABCDE")
    assert run.weights.iloc[1]["A"] == pytest.approx(0.19)
    assert run.weights.iloc[6]["D"] == 0 and run.weights.iloc[5]["D"] > 0  # left on day 5, sold at day 6's open


def test_panel_scores_and_volatility_use_data_through_each_day_only() -> None:
    close = pd.Series(np.arange(1.0, 301.0), index=pd.bdate_range("2024-01-01", periods=300))
    assert np.isnan(momentum_scores(close).iloc[251]) and momentum_scores(close).iloc[252] == pytest.approx(232 / 1 - 1)
    vol = volatility(close)
    assert np.isnan(vol.iloc[59]) and vol.iloc[60] == pytest.approx(close.pct_change().iloc[1:61].std())
    # A value at day t does not change when later days change: nothing after t is read.
    changed = close.copy()
    changed.iloc[200:] *= 3
    assert momentum_scores(changed).iloc[:200].equals(momentum_scores(close).iloc[:200])
    assert volatility(changed).iloc[:200].equals(vol.iloc[:200])


# The equal-weight buy-and-hold of the Dow, 2025-01-02 to 2025-06-30 (bundled prices, default broker).
PINNED = {"total_return": 0.05428726860680988, "cagr": 0.11538148197220699, "sharpe": 0.6676689525533969,
          "max_drawdown": -0.1419833924428484}  # fmt: skip


def test_equal_weight_buy_and_hold_pinned_statistics() -> None:
    tickers = universe("dow30").tickers
    prices = {t: load_prices(t, source="bundled") for t in tickers}
    days = calendar(prices)
    dates = days[(days >= "2024-12-31") & (days <= "2025-06-30")]
    run = run_backtest(panel(prices, dates, {t: pd.Series(0.0, index=dates) for t in tickers}),
                                 EqualWeight, {"size": 0.95}, BrokerConfig())  # fmt: skip
    assert len(run.returns) == 122 and len(run.fills) == 126 and run.refused == 0
    assert run.fills["commission"].sum() == pytest.approx(58.02031661862147, rel=1e-12)
    assert run.equity.iloc[-1] == pytest.approx(105428.72686068107, rel=1e-12)
    got = performance(run.returns)
    for key, value in PINNED.items():
        assert got[key] == pytest.approx(value, rel=1e-10), key
