"""Which tickers and which grid a sweep runs, from command-line options and a ``[sweep]`` table.

A config file may carry, beside the run tables, a ``[sweep]`` table::

    [sweep]
    universe = "dow30"          # or tickers = ["AAPL", "MSFT"], or tickers_file = "list.txt"
    as_of = 2021-08-16          # for universe = "sp500"
    grid = { lookback = [30, 60], epochs = [5, 10] }

Options given on the command line win over the table, key by key.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.bounded import read_bounded
from ..data.universe import Universe, download_missing, parse_tickers, tickers_from_file, universe
from ..errors import ConfigError
from .spec import Grid, grid_from_table, parse_grid

SWEEP_KEYS = ("tickers", "tickers_file", "universe", "as_of", "grid")


def sweep_table(path: Path | None) -> dict[str, Any]:
    """The ``[sweep]`` table of a TOML config file (empty without a file or a table)."""
    if path is None or Path(path).suffix.lower() == ".json":
        return {}
    try:
        table = tomllib.loads(read_bounded(path).decode("utf-8")).get("sweep", {})  # never a pipe or device
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return {}  # the run layer reports an unreadable file with its reason
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [sweep] must be a table.")
    unknown = sorted(set(table) - set(SWEEP_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} in [sweep]; its keys are {', '.join(SWEEP_KEYS)}.")
    return table


@dataclass(frozen=True)
class Selection:
    """The tickers a sweep runs and, for a named universe, what it is and which members have no data."""

    tickers: tuple[str, ...]
    universe: Universe | None

    def describe(self) -> dict[str, Any] | None:
        """The universe part of sweep.json (None for explicit tickers)."""
        u = self.universe
        if u is None:
            return None
        return {"name": u.name, "as_of": u.as_of.isoformat() if u.as_of else None, "members": u.members,
                "missing": list(u.missing), "source": u.source}  # fmt: skip


def _as_of(value: Any, where: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{where} {value!r} is not a date; use YYYY-MM-DD.") from None


def select_tickers(*, tickers: str | None, tickers_file: Path | None, universe_name: str | None,
                   as_of: str | None, table: dict[str, Any], cache_dir: Path | None = None,
                   notify: Callable[[str], None] | None = None) -> Selection:  # fmt: skip
    """Tickers from exactly one source: ``--tickers``, ``--tickers-file``, ``--universe`` (else the table)."""
    given = [name for name, value in (("--tickers", tickers), ("--tickers-file", tickers_file),
                                      ("--universe", universe_name)) if value is not None]  # fmt: skip
    if len(given) > 1:
        raise ConfigError(f"give one of {', '.join(given)}, not several.")
    if not given:
        tickers = ",".join(table["tickers"]) if isinstance(table.get("tickers"), list) else table.get("tickers")
        tickers_file = table.get("tickers_file")
        universe_name = table.get("universe")
    day = _as_of(as_of if as_of is not None else table.get("as_of"), "--as-of")
    if universe_name is not None:
        named = universe(str(universe_name), as_of=day, cache_dir=cache_dir)
        if named.missing and named.name == "sp500":  # bundled, then the Yahoo cache, then Yahoo itself
            named = download_missing(named, cache_dir=cache_dir, notify=notify)
        return Selection(tuple(named.tickers), named)
    if day is not None:
        raise ConfigError("--as-of applies to --universe sp500 only.")
    if tickers_file is not None:
        return Selection(tuple(tickers_from_file(Path(tickers_file))), None)
    if tickers is not None:
        return Selection(tuple(parse_tickers(str(tickers))), None)
    raise ConfigError("no tickers: pass --tickers, --tickers-file or --universe (or tickers in the [sweep] or "
                      "[portfolio] table of --config).")


def select_grid(options: list[str] | None, table: dict[str, Any], where: str) -> Grid:
    """``--grid`` options over the table's ``grid``, key by key."""
    from_file = dict(grid_from_table(table.get("grid") or {}, where))
    from_cli = dict(parse_grid(options or []))
    return tuple({**from_file, **from_cli}.items())
