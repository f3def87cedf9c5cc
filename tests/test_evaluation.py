"""Forecast metrics, the Diebold-Mariano test and the probabilistic Sharpe ratio, pinned by hand and cross-checked."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from reports.evaluation import (
    DMResult,
    annualised_to_period_sharpe,
    diebold_mariano,
    directional_accuracy,
    forecast_metrics,
    mae,
    mape,
    metrics_table,
    per_fold_metrics,
    probabilistic_sharpe_ratio,
    rmse,
    sharpe_per_period,
    strategy_psr,
    theils_u,
)
from reports.wording import forecast_verdict, strategy_verdict

# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def closes(aapl: pd.DataFrame) -> pd.Series:
    """Bundled AAPL closes."""
    return aapl["close"]


def _table(closes: pd.Series, drift: float, days: int = 300, fold_days: int = 50) -> pd.DataFrame:
    """A forecasts table over the last ``days`` closes: forecast = previous close * (1 + drift)."""
    c = closes.iloc[-days - 1 :]
    prev, today = c.to_numpy()[:-1], c.to_numpy()[1:]
    return pd.DataFrame({
        "target_date": c.index[1:],
        "origin_date": c.index[:-1],
        "forecast": prev * (1 + drift),
        "actual": today,
        "naive": prev,
        "fold": np.arange(days) // fold_days,
    })  # fmt: skip


# ---------------------------------------------------------------- point metrics


def test_point_metrics_by_hand() -> None:
    f, a, naive = [2.0, 4.0, 6.0], [1.0, 5.0, 3.0], [1.0, 4.0, 5.0]
    # errors f - a = 1, -1, 3: squares 1, 1, 9 -> mean 11/3
    assert rmse(f, a) == pytest.approx(math.sqrt(11 / 3))
    # |errors| 1, 1, 3 -> mean 5/3
    assert mae(f, a) == pytest.approx(5 / 3)
    # |e| / |a| = 1/1, 1/5, 3/3 -> (1 + 0.2 + 1) / 3
    assert mape(f, a) == pytest.approx(2.2 / 3)
    # naive errors 0, -1, 2: squares 0, 1, 4 -> RMSE sqrt(5/3); U = sqrt(11/3) / sqrt(5/3) = sqrt(11/5)
    assert theils_u(f, a, naive) == pytest.approx(math.sqrt(11 / 5))
    assert theils_u(a, a, naive) == 0.0
    assert math.isnan(theils_u(f, a, a))  # a perfect naive forecast leaves nothing to compare with


def test_directional_accuracy_with_ties() -> None:
    origin = [10.0] * 5
    forecast = [11.0, 9.0, 10.0, 10.0, 12.0]  # signs +, -, 0, 0, +
    actual = [12.0, 11.0, 10.0, 9.0, 10.0]  # signs +, +, 0, -, 0
    # day 1 + vs + right; day 2 - vs + wrong; day 3 0 vs 0 right (both flat);
    # day 4 flat call on a down day wrong; day 5 up call on a flat day wrong -> 2 / 5
    assert directional_accuracy(forecast, actual, origin) == pytest.approx(0.4)


def test_metric_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="same length"):
        rmse([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="empty"):
        mae([], [])
    with pytest.raises(ValueError, match="zero"):
        mape([1.0, 2.0], [0.0, 1.0])


finite = st.floats(min_value=1.0, max_value=1_000.0, allow_nan=False)


@st.composite
def forecast_rows(draw: st.DrawFn, min_size: int = 3) -> tuple[list[float], list[float], list[float]]:
    n = draw(st.integers(min_value=min_size, max_value=40))
    rows = draw(st.lists(st.tuples(finite, finite, finite), min_size=n, max_size=n))
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


@given(forecast_rows())
def test_theils_u_of_the_naive_forecast_is_exactly_one(rows: tuple[list[float], list[float], list[float]]) -> None:
    _, actual, naive = rows
    assume(rmse(naive, actual) > 0)
    assert theils_u(naive, actual, naive) == 1.0


@given(forecast_rows())
def test_metric_ranges(rows: tuple[list[float], list[float], list[float]]) -> None:
    forecast, actual, naive = rows
    assert mape(forecast, actual) >= 0
    hit = directional_accuracy(forecast, actual, naive)
    assert 0.0 <= hit <= 1.0 or (math.isnan(hit) and forecast == naive)
    assert rmse(forecast, actual) >= mae(forecast, actual) - 1e-9  # RMSE >= MAE (power means)


@settings(max_examples=50)
@given(forecast_rows(min_size=4), st.randoms(use_true_random=False))
def test_table_metrics_ignore_row_order(rows: tuple[list[float], list[float], list[float]], rnd: random.Random) -> None:
    forecast, actual, naive = rows
    table = pd.DataFrame({
        "target_date": pd.bdate_range("2024-01-01", periods=len(actual)),
        "forecast": forecast, "actual": actual, "naive": naive, "fold": 0,
    })  # fmt: skip
    order = list(range(len(table)))
    rnd.shuffle(order)
    before, after = forecast_metrics(table).to_dict(), forecast_metrics(table.iloc[order]).to_dict()
    for key, value in before.items():
        if math.isnan(value):
            assert math.isnan(after[key]), key
        else:
            assert after[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


# ---------------------------------------------------------------- Diebold-Mariano


def _t_cdf_by_quadrature(x: float, df: int, steps: int = 20_000) -> float:
    """Student-t CDF from its density by Simpson's rule: no scipy, so an independent check."""
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def pdf(u: float) -> float:
        return math.exp(log_c - (df + 1) / 2 * math.log1p(u * u / df))

    b, h = abs(x), abs(x) / steps
    area = pdf(0.0) + pdf(b) + sum((4 if i % 2 else 2) * pdf(i * h) for i in range(1, steps))
    half = area * h / 3
    return 0.5 + half if x >= 0 else 0.5 - half


def _naive_dm(e1: list[float], e2: list[float], h: int, power: int, alternative: str) -> tuple[float, float]:
    """Diebold-Mariano with the HLN correction, written out loop by loop (after R's forecast::dm.test)."""
    n = len(e1)
    d = [abs(a) ** power - abs(b) ** power for a, b in zip(e1, e2, strict=True)]
    mean = sum(d) / n
    gamma = []
    for k in range(h):
        total = 0.0
        for t in range(k, n):
            total += (d[t] - mean) * (d[t - k] - mean)
        gamma.append(total / n)
    variance = gamma[0]
    for k in range(1, h):
        variance += 2 * gamma[k]
    variance /= n
    if variance <= 0 and h > 1:  # dm.test's fallback
        return _naive_dm(e1, e2, 1, power, alternative)
    dm = mean / math.sqrt(variance)
    dm *= math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    lower = _t_cdf_by_quadrature(dm, n - 1)
    p = {"two-sided": 2 * min(lower, 1 - lower), "less": lower, "greater": 1 - lower}[alternative]
    return dm, p


def test_dm_readme_example_worked_by_hand() -> None:
    # Published example (README of the pure-Python `dieboldmariano` package, edoannunziata/dieboldmariano):
    # actual 10 20 30 40 50, F 11 21 29 42 53, G 13 26 24 40 59, dm_test(T, F, G, one_sided=True)
    # -> (-2.2229922805746782, 0.04515565862099125). By hand:
    #   e_F = 1 1 -1 2 3 -> squares 1 1 1 4 9;  e_G = 3 6 -6 0 9 -> squares 9 36 36 0 81
    #   d = -8 -35 -35 4 -72, mean = -146/5 = -29.2
    #   d - mean = 21.2 -5.8 -5.8 33.2 -42.8; squares sum to 3450.8; gamma0 = 3450.8/5 = 690.16
    #   DM = -29.2 / sqrt(690.16/5) = -29.2 / 11.74870 = -2.485384
    #   HLN (h=1): sqrt((5 + 1 - 2) / 5) = sqrt(0.8) -> DM* = -2.222992; P(t_4 < -2.222992) = 0.045156
    e_f = np.array([11, 21, 29, 42, 53]) - np.array([10, 20, 30, 40, 50])
    e_g = np.array([13, 26, 24, 40, 59]) - np.array([10, 20, 30, 40, 50])
    assert -29.2 / math.sqrt(690.16 / 5) * math.sqrt(0.8) == pytest.approx(-2.2229922805746782, rel=1e-12)
    less = diebold_mariano(e_f, e_g, alternative="less")
    assert less == DMResult(pytest.approx(-2.2229922805746782, rel=1e-12), pytest.approx(0.04515565862099125), 5, 1)
    assert diebold_mariano(e_f, e_g).p_value == pytest.approx(2 * 0.04515565862099125)


def test_dm_matches_dieboldmariano_package_tests() -> None:
    # The same package's own tests. Case 1: squared loss, h=1, two-sided -> DM -2.4905, p 0.05513. By hand:
    #   squares 0 1 4 9 16 25 vs 0 4 9 9 25 36 -> d = 0 -3 -5 0 -9 -11, mean -28/6
    #   gamma0 = 105.333/6 = 17.556; DM = -4.6667 / sqrt(17.556/6) = -2.7283; * sqrt(5/6) = -2.4905
    one = diebold_mariano([0, 1, 2, 3, 4, 5], [0, 2, 3, 3, 5, 6])
    assert one.statistic == pytest.approx(-2.4905, abs=5e-5)
    assert one.p_value == pytest.approx(0.05513, abs=5e-6)
    # Case 2: absolute loss, h=3, one-sided on the "less" side -> DM 1.2109, p 0.877.
    # fmt: off
    p1 = [0.3675225224615024, 0.5450608127223211, 0.22044990720021074, 0.8688743471040006, 0.6072512228948467,
          0.8582283746501538, 0.41662295816718187, 0.3812100211114714, 0.7185133356116706, 0.30827323290318875,
          0.4297093624074402, 0.8615974488577858, 0.7240514514808826, 0.3450839595261038, 0.19675301374013598]
    p2 = [0.12794132529988733, 0.3679643204341153, 0.768715420996091, 0.09972248964114683, 0.27197653636654284,
          0.28797629010039505, 0.9160213458582482, 0.6112628048698798, 0.5452873235576241, 0.06785907231746158,
          0.6072666485541124, 0.6241575753989782, 0.39998026828867217, 0.19895665605941748, 0.8094941215215619]
    # fmt: on
    three = diebold_mariano(p1, p2, horizon=3, power=1, alternative="less")
    assert (three.statistic, three.horizon) == (pytest.approx(1.2109, abs=5e-5), 3)
    assert three.p_value == pytest.approx(0.877, abs=5e-4)


@pytest.mark.parametrize("horizon", [1, 2, 3, 4])
@pytest.mark.parametrize("power", [1, 2])
@pytest.mark.parametrize("rival", ["drift", "reversal", "mean5"])
def test_dm_matches_a_naive_implementation_on_real_errors(
    closes: pd.Series, horizon: int, power: int, rival: str
) -> None:
    c = closes.to_numpy()[-251:]
    actual, today, yesterday = c[5:], c[4:-1], c[3:-2]
    forecast = {
        "drift": today * 1.001,  # p ~ 0.35-0.65
        "reversal": today - 0.1 * (today - yesterday),  # p ~ 0.1-0.25
        "mean5": np.convolve(c, np.ones(5) / 5, mode="valid")[:-1],  # clearly worse: p ~ 1e-5 to 1e-15
    }[rival]
    e_model, e_naive = (forecast - actual).tolist(), (today - actual).tolist()
    for alternative in ("two-sided", "less", "greater"):
        got = diebold_mariano(e_model, e_naive, horizon=horizon, power=power, alternative=alternative)
        stat, p = _naive_dm(e_model, e_naive, horizon, power, alternative)
        assert got.statistic == pytest.approx(stat, rel=1e-10)
        assert got.p_value == pytest.approx(p, rel=1e-7, abs=1e-10)  # abs: quadrature cannot resolve p < 1e-10
        assert (got.n, got.horizon) == (246, horizon)


def test_dm_degenerate_and_symmetric_cases() -> None:
    rng = np.random.default_rng(7)
    e1, e2 = rng.normal(size=60), rng.normal(size=60)
    same = diebold_mariano(e1, e1)
    assert math.isnan(same.statistic) and same.p_value == 1.0
    assert diebold_mariano(e1, e2).statistic == pytest.approx(-diebold_mariano(e2, e1).statistic)
    assert diebold_mariano(e1, e2).p_value == pytest.approx(diebold_mariano(e2, e1).p_value)
    less = diebold_mariano(e1, e2, horizon=2, alternative="less").p_value
    greater = diebold_mariano(e1, e2, horizon=2, alternative="greater").p_value
    assert less + greater == pytest.approx(1.0, abs=1e-12)
    better = diebold_mariano(0.5 * e2 + 0.05 * e1, e2, alternative="less")
    assert better.statistic < 0 and better.p_value < 1e-4


def test_dm_negative_long_run_variance_falls_back_to_horizon_one() -> None:
    # d alternates -3, 5: lag-1 autocovariance ~ -gamma0, so gamma0 + 2 gamma1 < 0 at h = 2.
    e1, e2 = [1.0, 3.0] * 10, [2.0] * 20
    got = diebold_mariano(e1, e2, horizon=2)
    assert got.horizon == 1
    assert got == diebold_mariano(e1, e2, horizon=1)


@pytest.mark.parametrize(
    ("e1", "e2", "kwargs", "message"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0], {}, "same length"),
        ([1.0, 2.0], [2.0, 1.0], {}, "at least 3"),
        ([1.0, math.nan, 3.0], [1.0, 2.0, 3.0], {}, "NaN"),
        ([1.0, 2.0, 3.0], [3.0, 1.0, 2.0], {"horizon": 3}, "horizon"),
        ([1.0, 2.0, 3.0], [3.0, 1.0, 2.0], {"alternative": "two.sided"}, "alternative"),
    ],
)
def test_dm_rejects_bad_input(e1: list[float], e2: list[float], kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        diebold_mariano(e1, e2, **kwargs)


# ---------------------------------------------------------------- tables and verdict


def test_forecast_metrics_on_aapl(closes: pd.Series) -> None:
    table = _table(closes, drift=0.001)
    m = forecast_metrics(table)
    f, a, o = table["forecast"], table["actual"], table["naive"]
    assert m.n == 300
    assert m.rmse == pytest.approx(rmse(f, a)) and m.mae == pytest.approx(mae(f, a))
    assert m.theils_u == pytest.approx(m.rmse / rmse(o, a))
    dm = diebold_mariano(f - a, o - a)
    assert (m.dm_stat, m.dm_p_value) == (dm.statistic, dm.p_value)
    assert list(m.to_dict()) == ["rmse", "mae", "mape", "directional_accuracy", "theils_u", "dm_stat", "dm_p_value",
                                 "n"]  # fmt: skip
    with pytest.raises(TypeError, match=r"ForecastMetrics.n must be int. Got 300.0"):
        dataclasses.replace(m, n=300.0)
    with pytest.raises(TypeError, match=r"ForecastMetrics.rmse must be float. Got '1.5'"):
        dataclasses.replace(m, rmse="1.5")


def test_metrics_table_has_a_naive_row(closes: pd.Series) -> None:
    drift = _table(closes, drift=0.001)
    naive = drift.assign(forecast=drift["naive"])
    frame = metrics_table({"LSTM": drift, "naive": naive})
    assert list(frame.index) == ["LSTM", "naive"] and frame.index.name == "model"
    assert frame.loc["naive", "theils_u"] == 1.0
    assert math.isnan(frame.loc["naive", "dm_stat"]) and frame.loc["naive", "dm_p_value"] == 1.0
    # a naive forecast never calls a move: it has no directional accuracy (shown as n/a)
    assert math.isnan(frame.loc["naive", "directional_accuracy"])
    with pytest.raises(ValueError, match="other target days"):
        metrics_table({"LSTM": drift, "short": naive.iloc[1:]})


def test_per_fold_metrics(closes: pd.Series) -> None:
    table = _table(closes, drift=0.001)
    folds = per_fold_metrics(table.iloc[::-1])  # row order must not matter
    assert list(folds["fold"]) == [0, 1, 2, 3, 4, 5]
    assert folds["n"].sum() == 300
    first = table[table["fold"] == 0]
    row = folds.iloc[0]
    assert (row["start"], row["end"]) == (first["target_date"].iloc[0], first["target_date"].iloc[-1])
    assert row["rmse"] == pytest.approx(rmse(first["forecast"], first["actual"]))
    assert row["naive_rmse"] == pytest.approx(rmse(first["naive"], first["actual"]))
    assert row["theils_u"] == pytest.approx(row["rmse"] / row["naive_rmse"])
    assert list(folds.columns) == [
        "fold", "start", "end", "n", "rmse", "naive_rmse", "theils_u", "mae", "directional_accuracy",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("u", "p", "words"),
    [
        (0.996, 0.71, "the LSTM's RMSE is 0.4% lower than naive's, not significant (DM p = 0.71)"),
        (1.014, 0.012, "the LSTM's RMSE is 1.4% higher than naive's, significantly worse (DM p = 0.012)"),
        (0.968, 0.01, "the LSTM's RMSE is 3.2% lower than naive's, significantly better (DM p = 0.01)"),
        (1.019, 0.41, "the LSTM's RMSE is 1.9% higher than naive's, not significant (DM p = 0.41)"),
        (0.968, 1e-5, "the LSTM's RMSE is 3.2% lower than naive's, significantly better (DM p < 0.001)"),
        (1.0, 1.0, "the LSTM's RMSE equals naive's (DM p = 1)"),
        (math.nan, math.nan, "the LSTM cannot be compared with the naive forecast (the naive RMSE is zero)"),
    ],
)
def test_forecast_verdict_wording(u: float, p: float, words: str) -> None:
    assert forecast_verdict(u, p) == words


def test_forecast_verdict_alpha_and_model_name() -> None:
    assert forecast_verdict(0.968, 0.01, "GRU", alpha=0.01).startswith("the GRU's RMSE is 3.2% lower")
    assert "not significant" in forecast_verdict(0.968, 0.01, alpha=0.01)


@pytest.mark.parametrize(
    ("sharpe", "bh", "psr", "words"),
    [
        (0.48, 0.67, 0.33, "lstm-strategy's Sharpe ratio 0.48 is lower than buy-and-hold's 0.67, not significant "
                           "(PSR 0.33 that its true Sharpe exceeds buy-and-hold's)"),
        (1.20, 0.50, 0.97, "lstm-strategy's Sharpe ratio 1.20 is higher than buy-and-hold's 0.50, significantly "
                           "better (PSR 0.97 that its true Sharpe exceeds buy-and-hold's)"),
        (-0.3, 0.9, 0.01, "lstm-strategy's Sharpe ratio -0.30 is lower than buy-and-hold's 0.90, significantly "
                          "worse (PSR 0.01 that its true Sharpe exceeds buy-and-hold's)"),
        (math.nan, 0.9, 0.5, "lstm-strategy cannot be compared with buy-and-hold (a flat return series has no "
                             "Sharpe ratio)"),
    ],
)
def test_strategy_verdict_wording(sharpe: float, bh: float, psr: float, words: str) -> None:
    assert strategy_verdict(sharpe, bh, psr, "lstm-strategy") == words


def test_naive_forecast_has_no_directional_accuracy() -> None:
    origin = np.array([1.0, 2.0, 3.0])
    assert math.isnan(directional_accuracy(origin, np.array([2.0, 1.0, 3.0]), origin))


# ---------------------------------------------------------------- probabilistic Sharpe ratio


def test_psr_by_hand_symmetric() -> None:
    r = [0.02, -0.01, 0.03, 0.01, 0.00]
    # mean 0.01; deviations .01 -.02 .02 0 -.01; sum of squares 1e-3
    # std (ddof=1) = sqrt(1e-3 / 4) -> SR = 0.01 / 0.0158114 = sqrt(0.4) = 0.632456
    # m2 = 1e-3/5 = 2e-4; m3 = (1 - 8 + 8 + 0 - 1)e-6 / 5 = 0 -> skew 0
    # m4 = (1 + 16 + 16 + 0 + 1)e-8 / 5 = 6.8e-8 -> kurt = 6.8e-8 / 4e-8 = 1.7
    # spread = 1 - 0 + (1.7 - 1)/4 * 0.4 = 1.07; z = sqrt(0.4) * sqrt(4) / sqrt(1.07) = 1.222836
    assert sharpe_per_period(r) == pytest.approx(math.sqrt(0.4))
    z = math.sqrt(0.4) * 2 / math.sqrt(1.07)
    assert probabilistic_sharpe_ratio(r) == pytest.approx(0.5 * math.erfc(-z / math.sqrt(2)))  # Phi(1.2228) = 0.8893
    assert probabilistic_sharpe_ratio(r) == pytest.approx(0.8893, abs=1e-4)


def test_psr_by_hand_skewed() -> None:
    r = [0.04, 0.0, 0.0, 0.0, 0.01]
    # in units of 0.01: mean 1; deviations 3 -1 -1 -1 0; sum of squares 12 -> SR = 1 / sqrt(12/4) = 1/sqrt(3)
    # m2 = 12/5 = 2.4; m3 = (27 - 3)/5 = 4.8 -> skew = 4.8 / 2.4**1.5 = 1.290994
    # m4 = (81 + 3)/5 = 16.8 -> kurt = 16.8 / 5.76 = 2.916667
    # spread = 1 - 1.290994/sqrt(3) + (1.916667/4) / 3 = 1 - 0.745356 + 0.159722 = 0.414366
    # z = (1/sqrt(3)) * sqrt(4) / sqrt(0.414366) = 1.793813 -> Phi = 0.96358
    sr, skew, kurt = 1 / math.sqrt(3), 4.8 / 2.4**1.5, 16.8 / 5.76
    z = sr * 2 / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert z == pytest.approx(1.793813, abs=1e-6)
    assert probabilistic_sharpe_ratio(r) == pytest.approx(0.5 * math.erfc(-z / math.sqrt(2)))
    # the same mean and spread without the right skew would be less convincing
    z_no_skew = sr * 2 / math.sqrt(1 + (kurt - 1) / 4 * sr**2)
    assert probabilistic_sharpe_ratio(r) > 0.5 * math.erfc(-z_no_skew / math.sqrt(2))


def test_psr_limits_and_normal_sample() -> None:
    rng = np.random.default_rng(3)
    r = rng.normal(0.0005, 0.01, size=500)
    assert probabilistic_sharpe_ratio(r, benchmark_sharpe=10.0) == pytest.approx(0.0, abs=1e-12)
    assert probabilistic_sharpe_ratio(r, benchmark_sharpe=-10.0) == pytest.approx(1.0, abs=1e-12)
    # a symmetric, normal-shaped sample (skew 0, kurt ~ 3): PSR ~ Phi(SR sqrt(n-1) / sqrt(1 + SR^2 / 2))
    n = 2000
    sym = 0.0004 + 0.01 * stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    sr = sharpe_per_period(sym)
    expected = stats.norm.cdf(sr * math.sqrt(n - 1) / math.sqrt(1 + sr**2 / 2))
    assert 0.8 < expected < 0.99
    assert probabilistic_sharpe_ratio(sym) == pytest.approx(expected, abs=1e-4)
    assert math.isnan(probabilistic_sharpe_ratio([0.01, 0.01, 0.01]))
    with pytest.raises(ValueError, match="NaN"):
        probabilistic_sharpe_ratio([0.01, math.nan, 0.02])


def test_strategy_psr_and_period_sharpe(closes: pd.Series) -> None:
    assert annualised_to_period_sharpe(math.sqrt(252)) == pytest.approx(1.0)
    assert annualised_to_period_sharpe(1.2, periods=12) == pytest.approx(1.2 / math.sqrt(12))
    buy_and_hold = closes.pct_change().dropna().iloc[-500:]
    out = strategy_psr(buy_and_hold, buy_and_hold)
    assert out.psr_vs_buy_and_hold == pytest.approx(0.5)  # a strategy equal to its benchmark: a coin flip
    assert out.psr_vs_zero == probabilistic_sharpe_ratio(buy_and_hold)
    with pytest.raises(TypeError, match="StrategyPSR.psr_vs_zero must be float. Got None"):
        dataclasses.replace(out, psr_vs_zero=None)
