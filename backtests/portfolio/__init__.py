"""Portfolios: rank a universe by forecast, trade the top k, compare, report, signal and paper-trade it.

``config`` holds the frozen settings, ``forecasts`` each ticker's walk-forward (cached, on Dask when
asked), ``panel`` the aligned bars and scores, ``engine`` the one-Cerebro backtest, ``rules`` the rule
and its comparisons, ``runner`` the pure ``run_portfolio``, ``folder`` the run folder, ``pipeline``
check-run-write for the CLI and ``signal`` today's targets; paper trading of a portfolio is
``backtests.paper``'s, the same stack as one ticker's.
"""

from .config import PortfolioConfig, TopkSettings
from .runner import PortfolioResult, run_portfolio

__all__ = ["PortfolioConfig", "PortfolioResult", "TopkSettings", "run_portfolio"]
