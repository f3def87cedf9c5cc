"""Portfolios: rank a universe by forecast, trade the top k, compare, report, signal and paper-trade it.

``config`` holds the frozen settings, ``forecasts`` each ticker's walk-forward (cached, on Dask when
asked), ``panel`` the aligned bars and scores, ``engine`` the one-Cerebro backtest, ``rules`` the rule
and its comparisons, ``runner`` the pure ``run_portfolio``, ``folder`` the tables and run.json of its run
folder (checked, written and reported by ``backtests.pipeline``, the one pipeline of every run) and
``signal`` today's targets; paper trading of a portfolio is ``backtests.paper``'s, the same stack as one
ticker's.
"""

from .config import PortfolioConfig, TopkSettings
from .runner import PortfolioResult, run_portfolio

__all__ = ["PortfolioConfig", "PortfolioResult", "TopkSettings", "run_portfolio"]
