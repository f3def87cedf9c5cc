"""Backtests: data loading, run configuration, the backtrader engine, the runner and the ``bt`` CLI.

The public library entry points are ``backtests.api.run_and_write`` (what
``bt run`` does) and ``backtests.runner.run`` (the pure function behind it).
"""
