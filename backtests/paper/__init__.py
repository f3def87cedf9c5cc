"""Paper trading: a simulated account stepped day by day, decided and filled by the backtest's code.

One stack for any number of tickers; the ledger says which an experiment trades. ``experiment``
holds what both share (the name rule, the settled day, the replay range, the ``Session`` loop),
``session`` starts, steps and replays an experiment (one ticker there, a portfolio in
``portfolio``), ``day`` runs one day through backtrader with the strategy class itself and the one
resumed broker, ``ledger`` is the crash-safe SQLite store, ``account`` reads it back (list, status,
report; a portfolio's in ``portfolio_account``) and ``signal`` answers ``bt signal``.
"""

from .account import experiments, status, write_report
from .experiment import Advance, is_portfolio_experiment
from .ledger import paper_dir
from .portfolio import PortfolioDayReport, start_portfolio
from .session import DayReport, replay, start, step
from .signal import latest_signal, parse_holding

__all__ = ["Advance", "DayReport", "PortfolioDayReport", "experiments", "is_portfolio_experiment", "latest_signal",
           "paper_dir", "parse_holding", "replay", "start", "start_portfolio", "status", "step",
           "write_report"]  # fmt: skip
