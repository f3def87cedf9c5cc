"""What survives a parameter sweep: multiple-testing-aware verdicts on forecasts and strategies.

A sweep tries many (ticker, grid point) jobs, so the best of them looks good by
luck alone. Every test here accounts for that:

* forecasts: each job's Diebold-Mariano p-value (model vs naive) adjusted across
  tickers with Holm (family-wise error) and Benjamini-Hochberg (false discovery
  rate); one pooled DM test on the cross-sectional average loss differential;
  a sign test over tickers of "model RMSE < naive RMSE";
* strategies: Hansen's SPA and White's Reality Check over all grid points
  against buy-and-hold, and the deflated Sharpe ratio (Bailey and Lopez de
  Prado, 2014) of the grid point with the best Sharpe.

Pure functions over tables; nothing here reads or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from .evaluation import diebold_mariano, sharpe_per_period
from .metrics import TRADING_DAYS
from .summaries import checked

ALPHA = 0.05
SEED = 20140501  # the bootstrap's seed: the same sweep always gives the same p-values
REPS = 1000
METHODS = {"holm": "holm", "bh": "fdr_bh"}  # our name -> statsmodels' name
VERDICTS = ("better", "not different", "worse")


def adjust_pvalues(p_values: npt.ArrayLike, method: str) -> np.ndarray:
    """Holm (``"holm"``) or Benjamini-Hochberg (``"bh"``) adjusted p-values, in the input's order.

    A NaN p-value (no test) stays NaN and does not count towards the number of tests.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {list(METHODS)}. Got {method!r}.")
    p = np.asarray(p_values, dtype=np.float64).ravel()
    adjusted = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        from statsmodels.stats.multitest import multipletests  # imported on use: a second of import time

        adjusted[tested] = multipletests(p[tested], method=METHODS[method])[1]
    return adjusted


def classify(dm_stat: npt.ArrayLike, p_values: npt.ArrayLike, alpha: float = ALPHA) -> np.ndarray:
    """"better" / "not different" / "worse" than naive: significant at ``alpha``, direction from the DM sign."""
    stat = np.asarray(dm_stat, dtype=np.float64).ravel()
    p = np.asarray(p_values, dtype=np.float64).ravel()
    significant = p < alpha  # NaN compares False: no test, no verdict
    out = np.full(stat.shape, VERDICTS[1], dtype=object)
    out[significant & (stat < 0)] = VERDICTS[0]
    out[significant & (stat > 0)] = VERDICTS[2]
    return out


def forecast_verdicts(results: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """``results`` with Holm and BH adjusted DM p-values across its rows, and the verdict under each.

    Pass one grid point's rows (one per ticker) to adjust across tickers.
    """
    out = results.copy()
    for name in METHODS:
        out[f"p_{name}"] = adjust_pvalues(out["dm_p_value"], name)
        out[f"verdict_{name}"] = classify(out["dm_stat"], out[f"p_{name}"], alpha)
    return out


@dataclass(frozen=True)
class VerdictCounts:
    """How many jobs are better / not different / worse than naive under one adjustment of the p-values."""

    better: int
    not_different: int
    worse: int

    def __post_init__(self) -> None:
        checked(self)

    @property
    def total(self) -> int:
        """All the jobs counted."""
        return self.better + self.not_different + self.worse

    def by_verdict(self) -> dict[str, int]:
        """The counts under the verdicts' words (``VERDICTS``), in that order: the columns of a table."""
        return dict(zip(VERDICTS, (self.better, self.not_different, self.worse), strict=True))


def verdict_counts(verdicts: pd.DataFrame) -> dict[str, VerdictCounts]:
    """How many rows are better / not different / worse than naive, under Holm and under BH."""
    return {name: VerdictCounts(*(int((verdicts[f"verdict_{name}"] == v).sum()) for v in VERDICTS))
            for name in METHODS}  # fmt: skip


def format_p(p: float) -> str:
    """A p-value as the pages print it: three decimals, "< 0.001" below that, "n/a" for none."""
    if p is None or math.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@dataclass(frozen=True)
class SignTest:
    """Two-sided binomial sign test over tickers of "model RMSE < naive RMSE" (ties left out)."""

    wins: int
    n: int
    p_value: float

    def words(self) -> str:
        """The result in plain words."""
        if not self.n:
            return "The sign test has no ticker to count (every RMSE ratio is missing or exactly 1)."
        return (f"The model had a lower RMSE than the naive forecast on {self.wins} of {self.n} tickers; "
                f"if each ticker were a coin flip, a split at least this uneven has probability "
                f"{format_p(self.p_value)} (two-sided sign test).")  # fmt: skip


def sign_test(model_rmse: npt.ArrayLike, naive_rmse: npt.ArrayLike) -> SignTest:
    """Count tickers whose model RMSE is below the naive RMSE; binomial test against one half."""
    m = np.asarray(model_rmse, dtype=np.float64).ravel()
    n = np.asarray(naive_rmse, dtype=np.float64).ravel()
    counted = np.isfinite(m) & np.isfinite(n) & (m != n)
    wins, total = int((m[counted] < n[counted]).sum()), int(counted.sum())
    from scipy.stats import binomtest  # imported on use: scipy.stats takes most of a second to import

    p = float(binomtest(wins, total, 0.5).pvalue) if total else math.nan
    return SignTest(wins, total, p)


def loss_differentials(forecasts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per ticker, squared error of the model minus that of the naive forecast, one row per common target day.

    Only target days every ticker forecast are kept. Each ticker's column is
    divided by its naive mean squared error over those days, so a $3,000 stock
    weighs no more than a $30 one: a column's mean is then ``U**2 - 1`` with U
    that ticker's Theil's U over the common days. Tickers whose naive MSE is 0
    are left out.
    """
    tables = {t: f.set_index("target_date") for t, f in forecasts.items()}
    if not tables:
        return pd.DataFrame()
    days = reduce(lambda a, b: a.intersection(b), (f.index for f in tables.values())).sort_values()
    columns = {}
    for ticker, table in tables.items():
        part = table.loc[days]
        model = (part["forecast"] - part["actual"]) ** 2
        naive = (part["naive"] - part["actual"]) ** 2
        if len(days) and naive.mean() > 0:
            columns[ticker] = (model - naive) / naive.mean()
    return pd.DataFrame(columns, index=days)


@dataclass(frozen=True)
class PooledDM:
    """DM test (HLN, horizon 1) on the cross-sectional average of the scaled loss differentials."""

    statistic: float
    p_value: float
    mean_differential: float
    n_days: int
    n_tickers: int

    def significant(self, alpha: float = ALPHA, n_tests: int = 1) -> str:
        """"better" / "not different" / "worse", with a Bonferroni factor for ``n_tests`` grid points."""
        return str(classify([self.statistic], [min(1.0, self.p_value * n_tests)], alpha)[0])

    def words(self, alpha: float = ALPHA) -> str:
        """The result in plain words."""
        if math.isnan(self.p_value):
            return "The pooled Diebold-Mariano test could not be run (too few common target days)."
        side = "lower" if self.mean_differential < 0 else "higher"
        answer = {"better": "significantly more accurate than", "worse": "significantly less accurate than",
                  "not different": "not significantly different from"}[self.significant(alpha)]  # fmt: skip
        shown = format_p(self.p_value)
        return (f"Over {self.n_tickers} tickers and {self.n_days} common days, the model's mean squared error was "
                f"on average {abs(self.mean_differential) * 100:.1f}% {side} than the naive forecast's: the model "
                f"is {answer} the naive forecast (pooled DM statistic {self.statistic:.2f}, "
                f"p {shown if shown.startswith('<') else '= ' + shown}).")  # fmt: skip


def pooled_dm(forecasts: Mapping[str, pd.DataFrame]) -> PooledDM:
    """Pooled DM test across tickers: average the scaled loss differentials per day, then test the mean.

    Averaging first keeps the cross-ticker correlation of errors inside the
    one series, so the test does not treat correlated tickers as independent.
    """
    table = loss_differentials(forecasts)
    d, n_tickers = table.mean(axis=1).to_numpy(), len(table.columns)
    if len(d) < 3 or not n_tickers:
        return PooledDM(math.nan, math.nan, math.nan, len(d), n_tickers)
    # |max(d,0)| - |max(-d,0)| = d: the existing DM test on a given differential (power 1).
    dm = diebold_mariano(np.maximum(d, 0.0), np.maximum(-d, 0.0), horizon=1, power=1)
    return PooledDM(dm.statistic, dm.p_value, float(d.mean()), len(d), n_tickers)


def grid_point_returns(returns: Mapping[str, pd.DataFrame], points: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """Equal-weight daily returns per grid point, on the days common to every job.

    ``returns`` maps a job id to its date-indexed returns (``strategy``,
    ``buy_and_hold``); ``points`` maps the job id to its grid point's label.
    Returns ``{"strategy", "buy_and_hold", "excess"}``, each a date x grid point
    table; excess is strategy minus buy-and-hold, averaged across tickers.
    """
    jobs = [j for j in points if j in returns]
    if not jobs:
        return {k: pd.DataFrame() for k in ("strategy", "buy_and_hold", "excess")}
    days = reduce(lambda a, b: a.intersection(b), (returns[j].index for j in jobs)).sort_values()
    order = list(dict.fromkeys(points[j] for j in jobs))
    labels = pd.Series([points[j] for j in jobs])
    out = {}
    for column in ("strategy", "buy_and_hold"):
        wide = pd.DataFrame({i: returns[j].loc[days, column].to_numpy() for i, j in enumerate(jobs)}, index=days)
        out[column] = wide.T.groupby(labels.to_numpy(), sort=False).mean().T[order]
    out["excess"] = out["strategy"] - out["buy_and_hold"]
    return out


@dataclass(frozen=True)
class SnoopingTests:
    """SPA (lower, consistent, upper) and Reality Check p-values of "some grid point beats buy-and-hold"."""

    spa_lower: float
    spa_consistent: float
    spa_upper: float
    reality_check: float
    n_trials: int
    n_days: int
    block_size: int
    reps: int
    seed: int


def snooping_tests(excess: pd.DataFrame, *, seed: int = SEED, reps: int = REPS,
                   block_size: int | None = None) -> SnoopingTests:  # fmt: skip
    """Hansen's SPA and White's Reality Check on daily excess returns over buy-and-hold (one column per trial).

    Losses are the negative excess returns; the benchmark (buy-and-hold) has loss
    0. The stationary bootstrap uses blocks of mean length ``sqrt(T)`` unless
    given and a fixed ``seed``, so a sweep always gets the same p-values. The
    Reality Check p-value is the RealityCheck's "upper" (never re-centred) one.
    Note: arch 8.0 computes both from the unstudentized maximum mean excess return.
    """
    values = excess.to_numpy(dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 3 or values.shape[1] < 1 or np.isnan(values).any():
        raise ValueError(f"need a NaN-free T x k table with T >= 3 and k >= 1. Got shape {values.shape}.")
    t = values.shape[0]
    block = int(block_size or max(1, int(math.sqrt(t))))
    benchmark = np.zeros(t)
    from arch.bootstrap import SPA, RealityCheck  # imported on use: two seconds of import time

    spa = SPA(benchmark, -values, block_size=block, reps=reps, seed=seed)
    spa.compute()
    rc = RealityCheck(benchmark, -values, block_size=block, reps=reps, seed=seed, studentize=False)
    rc.compute()
    p = spa.pvalues
    return SnoopingTests(float(p["lower"]), float(p["consistent"]), float(p["upper"]), float(rc.pvalues["upper"]),
                         values.shape[1], t, block, reps, seed)  # fmt: skip


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """Expected maximum Sharpe of ``n_trials`` zero-Sharpe trials whose estimates have ``variance``.

    ``sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))`` with g the
    Euler-Mascheroni constant (Bailey and Lopez de Prado, 2014). Per-period
    Sharpe in, per-period out. With one trial there is no selection: 0.
    """
    if n_trials < 1 or not variance >= 0:
        raise ValueError(f"need n_trials >= 1 and variance >= 0. Got {n_trials!r}, {variance!r}.")
    if n_trials == 1:
        return 0.0
    gamma = float(np.euler_gamma)
    z = special.ndtri  # the normal quantile, as scipy.stats.norm.ppf computes it
    return float(math.sqrt(variance) * ((1 - gamma) * z(1 - 1 / n_trials) + gamma * z(1 - 1 / (n_trials * math.e))))


def psr_from_moments(sharpe: float, benchmark: float, n_obs: int, skew: float, kurtosis: float) -> float:
    """Probabilistic Sharpe ratio from per-period Sharpe, sample length, skewness and (non-excess) kurtosis."""
    spread = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if n_obs < 2 or not spread > 0 or math.isnan(sharpe):
        return math.nan
    return float(special.ndtr((sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(spread)))


@dataclass(frozen=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio and every number that went into it (Sharpe ratios per period)."""

    dsr: float
    sharpe: float
    expected_max: float
    n_trials: int
    variance: float
    skew: float
    kurtosis: float
    n_obs: int


def deflated_sharpe_ratio(sharpe: float, n_obs: int, skew: float, kurtosis: float, n_trials: int,
                          variance: float) -> DeflatedSharpe:  # fmt: skip
    """PSR of the selected Sharpe against the expected maximum Sharpe of ``n_trials`` null trials.

    The probability that the best configuration's true Sharpe is above zero,
    once the selection among ``n_trials`` is accounted for.
    """
    sr0 = expected_max_sharpe(n_trials, variance)
    dsr = psr_from_moments(sharpe, sr0, n_obs, skew, kurtosis)
    return DeflatedSharpe(dsr, sharpe, sr0, n_trials, variance, skew, kurtosis, n_obs)


def moments(returns: npt.ArrayLike) -> tuple[float, float]:
    """Sample skewness and (non-excess) kurtosis, biased estimators as in the PSR."""
    r = np.asarray(returns, dtype=np.float64)
    dev = r - r.mean()
    m2 = float(np.mean(dev**2))
    if not m2 > 0:
        return math.nan, math.nan
    return float(np.mean(dev**3)) / m2**1.5, float(np.mean(dev**4)) / m2**2


def deflated_sharpe_of_best(strategy: pd.DataFrame) -> tuple[str, DeflatedSharpe]:
    """The column with the best per-period Sharpe and its deflated Sharpe ratio (trials: all columns)."""
    sharpes = pd.Series({c: sharpe_per_period(strategy[c]) for c in strategy.columns}, dtype=np.float64)
    if sharpes.isna().all():
        raise ValueError("no column has a Sharpe ratio (flat or too short returns).")
    best = str(sharpes.idxmax())
    finite = sharpes.dropna()
    variance = float(finite.var(ddof=1)) if len(finite) > 1 else 0.0
    skew, kurt = moments(strategy[best])
    return best, deflated_sharpe_ratio(float(sharpes[best]), len(strategy), skew, kurt, len(strategy.columns),
                                       variance)  # fmt: skip


def annualised(per_period: float) -> float:
    """A per-day Sharpe ratio times ``sqrt(252)``."""
    return per_period * math.sqrt(TRADING_DAYS)
