"""Is the forecast better than "tomorrow = today", and is the strategy's Sharpe real?

Pure functions over the walk-forward forecasts table (columns ``target_date,
origin_date, forecast, actual, naive, fold``). Point metrics say how far off a
forecast is; the Diebold-Mariano test says whether it beats the naive forecast
by more than luck; the probabilistic Sharpe ratio says how sure we can be that
a strategy's Sharpe exceeds a benchmark's. Nothing here reads or writes files.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special  # not scipy.stats: a third of the import time, the same functions

from .summaries import checked

ALTERNATIVES = ("two-sided", "less", "greater")
TABLE_COLUMNS = ("target_date", "forecast", "actual", "naive", "fold")


def _arrays(**named: npt.ArrayLike) -> list[np.ndarray]:
    """The inputs as equal-length, non-empty 1-D float arrays; errors name the input."""
    arrays = {name: np.asarray(values, dtype=np.float64).ravel() for name, values in named.items()}
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs must have the same length. Got {lengths}.")
    if not next(iter(lengths.values())):
        raise ValueError(f"inputs must not be empty. Got {lengths}.")
    return list(arrays.values())


def rmse(forecast: npt.ArrayLike, actual: npt.ArrayLike) -> float:
    """Root mean squared error."""
    f, a = _arrays(forecast=forecast, actual=actual)
    return float(np.sqrt(np.mean((f - a) ** 2)))


def mae(forecast: npt.ArrayLike, actual: npt.ArrayLike) -> float:
    """Mean absolute error."""
    f, a = _arrays(forecast=forecast, actual=actual)
    return float(np.mean(np.abs(f - a)))


def mape(forecast: npt.ArrayLike, actual: npt.ArrayLike) -> float:
    """Mean of ``|f - a| / |a|`` as a fraction (0.01 = 1%); an actual of zero is an error."""
    f, a = _arrays(forecast=forecast, actual=actual)
    if np.any(a == 0):
        raise ValueError(f"mape is undefined when `actual` is zero (at positions {np.flatnonzero(a == 0)[:5]}).")
    return float(np.mean(np.abs(f - a) / np.abs(a)))


def directional_accuracy(forecast: npt.ArrayLike, actual: npt.ArrayLike, origin: npt.ArrayLike) -> float:
    """Share of days where the forecast called the direction of the move from ``origin``.

    A day counts when ``sign(forecast - origin) == sign(actual - origin)``. A tie
    (sign 0, "no change") counts only when both are ties: a flat forecast on a
    day that moved is wrong, and so is a call of up or down on a flat day. A
    forecast that never calls a direction (the naive one) has none: NaN.
    """
    f, a, o = _arrays(forecast=forecast, actual=actual, origin=origin)
    if np.all(f == o):  # the naive forecast predicts no change: it has no direction to be right about
        return math.nan
    return float(np.mean(np.sign(f - o) == np.sign(a - o)))


def theils_u(forecast: npt.ArrayLike, actual: npt.ArrayLike, naive: npt.ArrayLike) -> float:
    """RMSE of the forecast over RMSE of the naive forecast: below 1 beats persistence.

    NaN when the naive forecast is perfect (its RMSE is zero).
    """
    f, a, n = _arrays(forecast=forecast, actual=actual, naive=naive)
    bench = rmse(n, a)
    return rmse(f, a) / bench if bench > 0 else math.nan


@dataclass(frozen=True)
class DMResult:
    """A Diebold-Mariano test: HLN-corrected statistic, Student-t p-value, sample size, horizon used."""

    statistic: float
    p_value: float
    n: int
    horizon: int


def diebold_mariano(
    errors_model: npt.ArrayLike,
    errors_benchmark: npt.ArrayLike,
    *,
    horizon: int = 1,
    power: int = 2,
    alternative: str = "two-sided",
) -> DMResult:
    """Diebold-Mariano (1995) test of equal accuracy, with the Harvey-Leybourne-Newbold (1997) correction.

    The loss differential is ``d = |e_model|**power - |e_benchmark|**power``; its
    long-run variance sums the autocovariances (divided by n) up to lag
    ``horizon - 1``. ``DM* = mean(d) / sqrt(var / n) * sqrt((n + 1 - 2h + h(h-1)/n) / n)``,
    referred to Student's t with n - 1 degrees of freedom, as R's ``forecast::dm.test``.
    A negative statistic means the model's losses are smaller. ``alternative="less"``
    tests "the model is more accurate", ``"greater"`` the reverse.

    When ``d`` is constant (e.g. identical errors) the test has nothing to say:
    the statistic is NaN and the p-value 1. When the truncated long-run variance
    is negative (possible for horizon > 1) the test falls back to horizon 1, as
    ``dm.test`` does, and the result reports ``horizon=1``.
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"`alternative` must be one of {ALTERNATIVES}. Got {alternative!r}.")
    e1, e2 = _arrays(errors_model=errors_model, errors_benchmark=errors_benchmark)
    n = len(e1)
    if n < 3:
        raise ValueError(f"the Diebold-Mariano test needs at least 3 errors. Got {n}.")
    if np.isnan(e1).any() or np.isnan(e2).any():
        raise ValueError("the error series must not contain NaN.")
    if not isinstance(horizon, int | np.integer) or not 1 <= horizon < n:
        raise ValueError(f"`horizon` must be an integer from 1 to n - 1 = {n - 1}. Got {horizon!r}.")
    if not power > 0:
        raise ValueError(f"`power` must be positive. Got {power!r}.")
    d = np.abs(e1) ** power - np.abs(e2) ** power
    if np.all(d == d[0]):
        return DMResult(math.nan, 1.0, n, int(horizon))
    dev = d - d.mean()
    gammas = [float(dev[k:] @ dev[: n - k]) / n for k in range(horizon)]
    long_run = gammas[0] + 2.0 * sum(gammas[1:])
    if long_run <= 0:
        if horizon == 1:
            return DMResult(math.nan, 1.0, n, 1)
        return diebold_mariano(e1, e2, horizon=1, power=power, alternative=alternative)
    h = int(horizon)
    hln = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    statistic = float(d.mean() / math.sqrt(long_run / n) * hln)
    df = n - 1  # Student's t: cdf(x) = stdtr(df, x), sf(x) = stdtr(df, -x), as scipy.stats.t computes them
    p_value = {
        "two-sided": lambda: 2.0 * special.stdtr(df, -abs(statistic)),
        "less": lambda: special.stdtr(df, statistic),
        "greater": lambda: special.stdtr(df, -statistic),
    }[alternative]()
    return DMResult(statistic, float(min(p_value, 1.0)), n, h)


def _check_table(table: pd.DataFrame) -> None:
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"the forecasts table lacks columns {missing}. Got {list(table.columns)}.")
    if table.empty:
        raise ValueError("the forecasts table is empty.")


@dataclass(frozen=True)
class ForecastMetrics:
    """One model's accuracy over a forecasts table and its DM test against naive (``dm_stat < 0`` favours it)."""

    rmse: float
    mae: float
    mape: float
    directional_accuracy: float
    theils_u: float
    dm_stat: float
    dm_p_value: float
    n: int

    def __post_init__(self) -> None:
        checked(self)

    def to_dict(self) -> dict[str, float | int]:
        """The metrics by name, in this order: one row of a metrics table."""
        return dataclasses.asdict(self)


def forecast_metrics(table: pd.DataFrame) -> ForecastMetrics:
    """Accuracy of one model's forecasts table, and a DM test against the naive forecast.

    DM uses squared errors, horizon 1, two-sided; ``dm_stat < 0`` favours the model.
    """
    _check_table(table)
    f, a, o = (table[c].to_numpy(dtype=np.float64) for c in ("forecast", "actual", "naive"))
    # Fewer than 3 days leave no variance to test with: the DM test is undefined, not a crash.
    dm = diebold_mariano(f - a, o - a, horizon=1, power=2) if len(f) >= 3 else DMResult(math.nan, math.nan, len(f), 1)
    return ForecastMetrics(rmse=rmse(f, a), mae=mae(f, a), mape=mape(f, a),
                           directional_accuracy=directional_accuracy(f, a, o), theils_u=theils_u(f, a, o),
                           dm_stat=float(dm.statistic), dm_p_value=float(dm.p_value), n=len(table))  # fmt: skip


def metrics_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row of ``forecast_metrics`` per model, indexed by ``model``.

    The models must cover the same target days, or their errors would not be
    comparable. A naive model's row has Theil's U 1, DM statistic NaN and p 1.
    """
    if not tables:
        raise ValueError("`tables` is empty: pass at least one model's forecasts table.")
    days = {name: frozenset(pd.to_datetime(t["target_date"])) for name, t in tables.items() if "target_date" in t}
    reference_name, reference = next(iter(days.items()), ("", frozenset()))
    differ = [name for name, d in days.items() if d != reference]
    if differ:
        raise ValueError(f"models {differ} forecast other target days than {reference_name!r}; compare like with like.")
    rows = [forecast_metrics(table).to_dict() for table in tables.values()]
    return pd.DataFrame(rows, index=pd.Index(list(tables), name="model"))


def per_fold_metrics(table: pd.DataFrame) -> pd.DataFrame:
    """Accuracy fold by fold, to see whether any edge is steady or one lucky stretch."""
    _check_table(table)
    rows = []
    for fold, part in table.sort_values("target_date").groupby("fold", sort=True):
        f, a, o = (part[c].to_numpy(dtype=np.float64) for c in ("forecast", "actual", "naive"))
        rows.append({
            "fold": fold,
            "start": part["target_date"].iloc[0],
            "end": part["target_date"].iloc[-1],
            "n": len(part),
            "rmse": rmse(f, a),
            "naive_rmse": rmse(o, a),
            "theils_u": theils_u(f, a, o),
            "mae": mae(f, a),
            "directional_accuracy": directional_accuracy(f, a, o),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _returns(returns: npt.ArrayLike) -> np.ndarray:
    (r,) = _arrays(returns=returns)
    if np.isnan(r).any():
        raise ValueError("`returns` contains NaN; drop or fill them first.")
    return r


def sharpe_per_period(returns: npt.ArrayLike) -> float:
    """Mean over sample standard deviation (ddof=1), not annualised; NaN when flat or too short."""
    r = _returns(returns)
    if len(r) < 2:
        return math.nan
    std = r.std(ddof=1)
    return float(r.mean() / std) if std > 0 else math.nan


def annualised_to_period_sharpe(sharpe_annual: float, periods: int = 252) -> float:
    """Undo the ``sqrt(periods)`` scaling of an annualised Sharpe ratio."""
    if periods <= 0:
        raise ValueError(f"`periods` must be positive. Got {periods!r}.")
    return sharpe_annual / math.sqrt(periods)


def probabilistic_sharpe_ratio(returns: npt.ArrayLike, benchmark_sharpe: float = 0.0) -> float:
    """Probability that the true Sharpe exceeds ``benchmark_sharpe`` (Bailey & Lopez de Prado, 2012).

    ``PSR = Phi((SR - SR*) * sqrt(n - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR**2))``
    with SR and SR* per period (see ``annualised_to_period_sharpe``) and skew and
    kurt the sample (biased, non-excess) moments; with these the square root's
    argument is never negative. Fat tails and negative skew lower the PSR.
    NaN for fewer than 3 returns or flat returns.
    """
    r = _returns(returns)
    sr = sharpe_per_period(r)
    if len(r) < 3 or math.isnan(sr):
        return math.nan
    dev = r - r.mean()
    m2 = float(np.mean(dev**2))
    skew = float(np.mean(dev**3)) / m2**1.5
    kurt = float(np.mean(dev**4)) / m2**2
    spread = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2
    if not spread > 0:  # only for degenerate two-valued samples
        return math.nan
    z = (sr - benchmark_sharpe) * math.sqrt(len(r) - 1) / math.sqrt(spread)
    return float(special.ndtr(z))


@dataclass(frozen=True)
class StrategyPSR:
    """How sure we can be that the strategy's Sharpe beats zero, and beats buy-and-hold's (NaN: no answer)."""

    psr_vs_zero: float
    psr_vs_buy_and_hold: float

    def __post_init__(self) -> None:
        checked(self)


def strategy_psr(strategy_returns: npt.ArrayLike, buy_and_hold_returns: npt.ArrayLike) -> StrategyPSR:
    """PSR of the strategy against a zero Sharpe and against buy-and-hold's per-period Sharpe."""
    return StrategyPSR(
        psr_vs_zero=probabilistic_sharpe_ratio(strategy_returns, 0.0),
        psr_vs_buy_and_hold=probabilistic_sharpe_ratio(strategy_returns, sharpe_per_period(buy_and_hold_returns)),
    )
