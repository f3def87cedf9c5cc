"""Summary statistics, written out so every number in a report can be checked by hand.

Returns are simple daily returns; a year is 252 trading days; the risk-free
rate is zero.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

TRADING_DAYS = 252


def total_return(returns: pd.Series) -> float:
    """Compounded return over the whole series."""
    return float(np.prod(1.0 + np.asarray(returns, float)) - 1.0)


def cagr(returns: pd.Series) -> float:
    """Compound annual growth rate, counting 252 returns as a year."""
    n = len(returns)
    if n == 0:
        return math.nan
    growth = 1.0 + total_return(returns)
    return growth ** (TRADING_DAYS / n) - 1.0 if growth > 0 else -1.0


def sharpe(returns: pd.Series) -> float:
    """Annualised Sharpe ratio: mean / sample std * sqrt(252); NaN when flat."""
    values = np.asarray(returns, float)
    if len(values) < 2:
        return math.nan
    std = values.std(ddof=1)
    return float(values.mean() / std * math.sqrt(TRADING_DAYS)) if std > 0 else math.nan


def max_drawdown(returns: pd.Series) -> float:
    """Largest peak-to-trough fall of the compounded equity, as a negative fraction."""
    equity = np.cumprod(1.0 + np.asarray(returns, float))
    if equity.size == 0:
        return 0.0
    peaks = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    return float((equity / peaks - 1.0).min())


def performance(returns: pd.Series) -> dict[str, float]:
    """The four headline figures of a return series."""
    return {
        "total_return": total_return(returns),
        "cagr": cagr(returns),
        "sharpe": sharpe(returns),
        "max_drawdown": max_drawdown(returns),
    }
