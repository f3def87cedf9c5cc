"""Paper trading: a simulated account stepped day by day, decided and filled by the backtest's code.

``session`` opens an experiment and steps or replays it, ``day`` runs one day through
backtrader with the strategy class itself, ``ledger`` is the crash-safe SQLite store,
``account`` reads it back (list, status, report) and ``signal`` answers ``bt signal``.
"""

from .account import experiments, status, write_report
from .ledger import paper_dir
from .session import Advance, DayReport, replay, start, step
from .signal import latest_signal, parse_holding

__all__ = ["Advance", "DayReport", "experiments", "latest_signal", "paper_dir", "parse_holding", "replay", "start",
           "status", "step", "write_report"]  # fmt: skip
