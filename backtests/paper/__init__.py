"""Paper trading: a simulated account stepped day by day, decided and filled by the backtest's code.

One stack for any number of tickers; the ledger says which an experiment trades. ``experiment``
holds the rules every experiment shares (the name rule, the settled day, the replay range, the
``Session`` loop), ``session`` starts, steps and replays an experiment of N >= 1 tickers with one
``PaperSession``, ``day`` runs one day through backtrader with the strategy class itself and the one
resumed broker (one function per strategy kind), ``ledger`` is the crash-safe SQLite store,
``account`` reads it back (list, status, report) and ``signal`` answers ``bt signal``.
"""

from .account import experiments, status, write_report
from .experiment import Advance, is_portfolio_experiment
from .ledger import paper_dir
from .session import DayReport, replay, start, step
from .signal import latest_signal, parse_holding

__all__ = ["Advance", "DayReport", "experiments", "is_portfolio_experiment", "latest_signal", "paper_dir",
           "parse_holding", "replay", "start", "status", "step", "write_report"]  # fmt: skip
