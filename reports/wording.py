"""The verdicts in words: one sentence each, the same in the terminal, every page and paper trading.

A verdict gives the size of the difference, its direction and whether it is significant at 5%:
"the LSTM's RMSE is 0.4% lower than naive's, not significant (DM p = 0.71)". "Significant" for a
forecast means the Diebold-Mariano p-value is below alpha; for a strategy against buy-and-hold it
means the probabilistic Sharpe ratio is above 1 - alpha (better) or below alpha (worse).
"""

from __future__ import annotations

import math

ALPHA = 0.05


def format_p(p: float) -> str:
    """'= 0.71', '= 0.012', '< 0.001', or '= n/a'."""
    if math.isnan(p):
        return "= n/a"
    return "< 0.001" if p < 0.001 else f"= {p:.2g}"


def forecast_verdict(theils_u: float, dm_p_value: float, model: str = "LSTM", alpha: float = ALPHA) -> str:
    """The model's RMSE against the naive forecast's: how much, which way, and whether significant."""
    u, p = float(theils_u), float(dm_p_value)
    if math.isnan(u):
        return f"the {model} cannot be compared with the naive forecast (the naive RMSE is zero)"
    test = f"(DM p {format_p(p)})"
    if u == 1:
        return f"the {model}'s RMSE equals naive's {test}"
    side = "lower" if u < 1 else "higher"
    size = f"the {model}'s RMSE is {abs(u - 1) * 100:.1f}% {side} than naive's"
    if not p < alpha:
        return f"{size}, not significant {test}"
    return f"{size}, significantly {'better' if u < 1 else 'worse'} {test}"


def strategy_verdict(sharpe: float, bh_sharpe: float, psr_vs_bh: float, strategy: str,
                     alpha: float = ALPHA) -> str:  # fmt: skip
    """The strategy's Sharpe ratio against buy-and-hold's, with the PSR as the test of the difference."""
    if math.isnan(sharpe) or math.isnan(bh_sharpe) or math.isnan(psr_vs_bh):
        return f"{strategy} cannot be compared with buy-and-hold (a flat return series has no Sharpe ratio)"
    side = "higher" if sharpe > bh_sharpe else "lower" if sharpe < bh_sharpe else "the same"
    head = f"{strategy}'s Sharpe ratio {sharpe:.2f} is {side} than buy-and-hold's {bh_sharpe:.2f}"
    if side == "the same":
        head = f"{strategy}'s Sharpe ratio {sharpe:.2f} equals buy-and-hold's"
    psr = f"(PSR {psr_vs_bh:.2f} that its true Sharpe exceeds buy-and-hold's)"
    if psr_vs_bh > 1 - alpha:
        return f"{head}, significantly better {psr}"
    if psr_vs_bh < alpha:
        return f"{head}, significantly worse {psr}"
    return f"{head}, not significant {psr}"


def sentence(text: str) -> str:
    """Capitalised, with a full stop: for pages."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
