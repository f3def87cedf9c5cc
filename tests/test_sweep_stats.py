"""The sweep verdict's statistics against hand computations, published numbers and planted effects."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reports import sweep_stats as ss
from reports.evaluation import probabilistic_sharpe_ratio


def test_holm_and_bh_match_hand_computed_adjustments() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max: 0.02, 0.03, 0.06,
    # 0.06
    assert ss.adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: p * 4 / rank = 0.02, 0.02, 0.04, 0.04 -> running min from the top: 0.02, 0.02, 0.04, 0.04
    assert ss.adjust_pvalues(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # A missing p-value is no test: two tests, not three.
    assert ss.adjust_pvalues([0.01, math.nan, 0.04], "holm") == pytest.approx([0.02, math.nan, 0.04], nan_ok=True)
    assert ss.adjust_pvalues([0.9, 0.8], "holm") == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError, match="method"):
        ss.adjust_pvalues(p, "bonferroni")


def test_verdicts_take_direction_from_the_dm_sign_and_count_under_each_method() -> None:
    results = pd.DataFrame({"dm_stat": [-3.0, 2.5, -0.1, 4.0, math.nan], "dm_p_value": [0.001, 0.01, 0.8, 0.03, 1.0]})
    got = ss.forecast_verdicts(results)
    # Holm (m = 5): 0.005, 0.04, 0.09, 1, 1; BH: 0.005, 0.025, 0.05, 1, 1 (0.03 * 5 / 3 = 0.05 is not < 0.05)
    assert got["p_holm"].tolist() == pytest.approx([0.005, 0.04, 1.0, 0.09, 1.0])
    assert got["p_bh"].tolist() == pytest.approx([0.005, 0.025, 1.0, 0.05, 1.0])
    assert got["verdict_holm"].tolist() == ["better", "worse", "not different", "not different", "not different"]
    counts = ss.verdict_counts(got)
    assert counts["holm"] == ss.VerdictCounts(better=1, not_different=3, worse=1) and counts["holm"].total == 5
    assert counts["holm"].by_verdict() == {"better": 1, "not different": 3, "worse": 1}
    four = ss.verdict_counts(ss.forecast_verdicts(results.iloc[:4]))  # m = 4: BH 0.03 * 4 / 3 = 0.04 < 0.05
    assert four == {"holm": ss.VerdictCounts(1, 2, 1), "bh": ss.VerdictCounts(1, 1, 2)}
    with pytest.raises(TypeError, match="VerdictCounts.worse must be int. Got 1.0."):
        ss.VerdictCounts(1, 2, 1.0)  # type: ignore[arg-type]


def test_sign_test_is_the_binomial_tail_and_leaves_out_ties() -> None:
    model = [1.0] * 8 + [3.0] * 2 + [2.0, math.nan]
    naive = [2.0] * 10 + [2.0, 2.0]
    got = ss.sign_test(model, naive)
    assert (got.wins, got.n) == (8, 10)
    assert got.p_value == pytest.approx(2 * (45 + 10 + 1) / 1024)  # P(X >= 8) + P(X <= 2), X ~ Bin(10, 1/2)
    assert "8 of 10 tickers" in got.words() and "0.109" in got.words()
    assert ss.sign_test([], []).n == 0


def _forecast_table(days: pd.DatetimeIndex, naive_err: np.ndarray, model_err: np.ndarray, level: float) -> pd.DataFrame:
    actual = level + np.arange(len(days), dtype=float)
    return pd.DataFrame({"target_date": days, "forecast": actual + model_err, "actual": actual,
                         "naive": actual + naive_err})  # fmt: skip


def _hand_pooled(tables: dict[str, pd.DataFrame]) -> tuple[float, float, int]:
    """Scaled loss differential averaged across tickers, then the DM statistic with HLN (h = 1) by hand."""
    days = sorted(set.intersection(*(set(t["target_date"]) for t in tables.values())))
    columns = []
    for t in tables.values():
        part = t.set_index("target_date").loc[days]
        e_model, e_naive = part["forecast"] - part["actual"], part["naive"] - part["actual"]
        columns.append(((e_model**2 - e_naive**2) / (e_naive**2).mean()).to_numpy())
    d = np.mean(columns, axis=0)
    n = len(d)
    stat = d.mean() / math.sqrt(d.var(ddof=0) / n) * math.sqrt((n + 1 - 2) / n)
    return stat, 2 * stats.t(n - 1).sf(abs(stat)), n


def _three_tickers(seed: int, shrink: float) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2022-01-03", periods=250)
    tables = {}
    for ticker, scale in (("A", 0.5), ("B", 2.0), ("C", 40.0)):
        naive = rng.normal(0, scale, len(days))
        model = naive * shrink + rng.normal(0, 0.1 * scale, len(days)) if shrink else rng.normal(0, scale, len(days))
        tables[ticker] = _forecast_table(days, naive, model, 100 * scale)
    return tables


def test_pooled_dm_finds_a_planted_improvement_and_matches_a_hand_computation() -> None:
    tables = _three_tickers(1, shrink=0.9)
    got = ss.pooled_dm(tables)
    stat, p, n = _hand_pooled(tables)
    assert (got.statistic, got.p_value, got.n_days, got.n_tickers) == (pytest.approx(stat), pytest.approx(p), n, 3)
    assert got.statistic < 0 and got.p_value < 0.001 and got.significant() == "better"
    assert "significantly more accurate" in got.words()
    # The pooled loss is in each ticker's naive-MSE units: rescaling one ticker's prices changes nothing.
    scaled = {**tables, "C": tables["C"].assign(**{c: tables["C"][c] * 1000 for c in ("forecast", "actual", "naive")})}
    assert ss.pooled_dm(scaled).statistic == pytest.approx(got.statistic)


def test_pooled_dm_on_equally_good_forecasts_is_not_significant_and_uses_common_days_only() -> None:
    tables = _three_tickers(3, shrink=0.0)
    tables["A"] = pd.concat([tables["A"], _forecast_table(pd.bdate_range("2023-06-01", periods=5), np.ones(5),
                                                          np.full(5, 9.0), 50.0)])  # fmt: skip
    got = ss.pooled_dm(tables)
    stat, p, n = _hand_pooled(tables)
    assert got.n_days == n == 250
    assert got.statistic == pytest.approx(stat) and got.p_value == pytest.approx(p)
    assert got.p_value > 0.05 and got.significant() == "not different"
    assert got.significant(n_tests=1000) == "not different"
    assert "not significantly different" in got.words()


def test_pooled_dm_bonferroni_factor_can_remove_significance() -> None:
    got = ss.PooledDM(statistic=-2.2, p_value=0.03, mean_differential=-0.01, n_days=100, n_tickers=3)
    assert got.significant() == "better" and got.significant(n_tests=4) == "not different"


def _excess(seed: int, means: list[float], t: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 0.01, (t, len(means))) + np.array(means)
    return pd.DataFrame(values, columns=[f"g{i}" for i in range(len(means))])


def test_spa_and_reality_check_find_a_truly_better_strategy() -> None:
    got = ss.snooping_tests(_excess(11, [0.0, 0.0, 0.0009, 0.0, -0.0005]))  # t about 2.8 for g2
    assert got.spa_consistent < 0.01 and got.spa_lower < 0.01 and got.reality_check < 0.05
    assert (got.n_trials, got.n_days, got.block_size) == (5, 1000, 31)


def test_spa_and_reality_check_see_nothing_when_no_strategy_is_better() -> None:
    data = _excess(12, [0.0, -0.0002, 0.0, -0.0004, 0.0])
    got = ss.snooping_tests(data)
    assert got.spa_consistent > 0.1 and got.spa_upper > 0.1 and got.reality_check > 0.1
    assert got.spa_lower <= got.spa_consistent <= got.spa_upper
    assert ss.snooping_tests(data) == got  # the fixed seed makes the bootstrap reproducible
    assert ss.snooping_tests(data, seed=1).spa_consistent != pytest.approx(got.spa_consistent, abs=0)
    with pytest.raises(ValueError, match="T >= 3"):
        ss.snooping_tests(data.iloc[:2])


def test_deflated_sharpe_reproduces_the_papers_worked_example() -> None:
    """Bailey and Lopez de Prado (2014), section "A numerical example".

    100 trials whose annualised Sharpe ratios have variance 1/2; the best has an
    annualised Sharpe of 2.5 over 5 years of daily returns (T = 1250, 250 days a
    year), skewness -3 and kurtosis 10. The paper finds E[max SR] = 0.1132 per
    day (1.7894 annualised) and DSR = 0.9004.
    """
    per_day = math.sqrt(250)
    e_max = ss.expected_max_sharpe(100, 0.5 / 250)
    assert e_max == pytest.approx(0.1132, abs=5e-5)
    assert e_max * per_day == pytest.approx(1.7894, abs=5e-4)
    got = ss.deflated_sharpe_ratio(2.5 / per_day, 1250, -3.0, 10.0, 100, 0.5 / 250)
    assert got.dsr == pytest.approx(0.9004, abs=5e-5)
    assert got.expected_max == e_max and got.n_trials == 100
    # Each ingredient pulls the right way: more trials or fatter tails lower the DSR.
    assert ss.deflated_sharpe_ratio(2.5 / per_day, 1250, -3.0, 10.0, 1000, 0.5 / 250).dsr < got.dsr
    assert ss.deflated_sharpe_ratio(2.5 / per_day, 1250, -3.0, 30.0, 100, 0.5 / 250).dsr < got.dsr


def test_expected_maximum_sharpe_is_close_to_a_simulated_maximum() -> None:
    rng = np.random.default_rng(5)
    simulated = rng.normal(0, 0.2, (20000, 50)).max(axis=1).mean()
    assert ss.expected_max_sharpe(50, 0.04) == pytest.approx(simulated, rel=0.02)
    assert ss.expected_max_sharpe(1, 0.04) == 0.0


def test_deflated_sharpe_of_best_picks_the_best_and_with_one_trial_is_the_psr() -> None:
    rng = np.random.default_rng(8)
    returns = pd.DataFrame({"a": rng.normal(0.0002, 0.01, 500), "b": rng.normal(0.002, 0.01, 500),
                            "c": rng.normal(0.0, 0.01, 500)})  # fmt: skip
    best, got = ss.deflated_sharpe_of_best(returns)
    sharpes = returns.mean() / returns.std(ddof=1)
    assert best == sharpes.idxmax() == "b"
    assert got.variance == pytest.approx(sharpes.var(ddof=1)) and got.n_obs == 500 and got.n_trials == 3
    assert got.skew == pytest.approx(stats.skew(returns["b"]))
    assert got.kurtosis == pytest.approx(stats.kurtosis(returns["b"], fisher=False))
    assert got.dsr < probabilistic_sharpe_ratio(returns["b"], 0.0)
    _, alone = ss.deflated_sharpe_of_best(returns[["b"]])
    assert alone.dsr == pytest.approx(probabilistic_sharpe_ratio(returns["b"], 0.0))


def test_grid_point_returns_average_tickers_on_common_days() -> None:
    days = pd.bdate_range("2022-01-03", periods=6)

    def frame(strategy: list[float], bh: list[float], when: pd.DatetimeIndex = days) -> pd.DataFrame:
        return pd.DataFrame({"strategy": strategy, "buy_and_hold": bh}, index=when)

    returns = {"j1": frame([0.01] * 6, [0.02] * 6), "j2": frame([0.03] * 6, [0.0] * 6),
               "j3": frame([0.05] * 5, [0.01] * 5, days[1:]), "j4": frame([-0.01] * 6, [0.0] * 6)}  # fmt: skip
    got = ss.grid_point_returns(returns, {"j1": "p", "j2": "p", "j3": "q", "j4": "q"})
    assert list(got["strategy"].columns) == ["p", "q"] and list(got["strategy"].index) == list(days[1:])
    assert got["strategy"]["p"].tolist() == pytest.approx([0.02] * 5)
    assert got["strategy"]["q"].tolist() == pytest.approx([0.02] * 5)
    assert got["excess"]["p"].tolist() == pytest.approx([0.01] * 5)
    assert got["excess"]["q"].tolist() == pytest.approx([0.015] * 5)


def test_format_p() -> None:
    assert [ss.format_p(p) for p in (0.41234, 0.0004, math.nan)] == ["0.412", "< 0.001", "n/a"]
