"""User-facing errors: each carries a one-line message and the exit code the CLI uses."""

from __future__ import annotations


class BtError(Exception):
    """Base of every error caused by the user's input (data, options, files).

    The CLI prints ``str(error)`` on one line and exits with ``exit_code``;
    anything that is not a ``BtError`` is a bug and keeps its traceback.
    """

    exit_code: int = 2


class DataError(BtError):
    """A data file, ticker or downloaded table that cannot be used."""


class ConfigError(BtError):
    """An option or configuration value that is out of range or inconsistent."""


class NetworkError(DataError):
    """Data was needed from the network and none could be had."""
