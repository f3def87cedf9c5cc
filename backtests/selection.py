"""Which path a command runs: one ticker, or a ranking over many, decided by the strategy's registered kind.

``bt run``, ``bt signal`` and ``bt paper start`` take a strategy and the tickers a command line names (TICKER
arguments, ``--tickers``, ``--tickers-file``, ``--universe``). ``route`` is the one place that looks up the
strategy's kind (``strategies.registry``: ``SINGLE`` or ``RANKING``) and checks that what was named fits it, so a
single-ticker rule given a universe, or a ranking given one ticker, is one line before any work starts.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from strategies import registry
from strategies.registry import RANKING, SINGLE

from .config.layers import read_config_file
from .config.schema import StrategyConfig
from .data.bounded import read_bounded
from .errors import ConfigError

__all__ = ["RANKING", "SINGLE", "Route", "TickerSelection", "route"]


@dataclass(frozen=True)
class TickerSelection:
    """The tickers a command line names: TICKER arguments (``listed``), or one of ``--tickers`` (comma-separated
    text), ``--tickers-file`` and ``--universe`` (``--as-of`` with sp500). Nothing named: the config file's."""

    listed: tuple[str, ...] = ()
    tickers: str | None = None
    tickers_file: Path | None = None
    universe: str | None = None
    as_of: str | None = None

    def options(self) -> list[str]:
        """The selection options given (``--tickers``, ``--tickers-file``, ``--universe``, ``--as-of``)."""
        given = (("--tickers", self.tickers), ("--tickers-file", self.tickers_file), ("--universe", self.universe),
                 ("--as-of", self.as_of))  # fmt: skip
        return [name for name, value in given if value is not None]

    def names_many(self) -> bool:
        """Whether this names several tickers (an option of the list kind, or two TICKERs and more)."""
        return bool(self.options()) or len(self.listed) > 1

    def ticker(self) -> str | None:
        """The one TICKER argument (None when none was given)."""
        return self.listed[0] if self.listed else None

    def tickers_text(self) -> str | None:
        """The tickers as ``--tickers`` text: the TICKER arguments, else the option."""
        return ",".join(self.listed) if self.listed else self.tickers


@dataclass(frozen=True)
class Route:
    """The strategy a command runs and its kind (``SINGLE`` or ``RANKING``)."""

    strategy: str
    kind: str


def route(strategy: str | None, selection: TickerSelection, *, config_file: Path | None = None,
          only_ranking: Sequence[str] = (), only_single: Sequence[str] = (),
          positional: bool = False) -> Route:  # fmt: skip
    """The path that runs ``strategy`` over ``selection``: the strategy's registered kind.

    ``strategy`` None: the ``[strategy] name`` of ``config_file``, else topk-strategy when ``selection`` names
    several tickers or the file has a ``[portfolio]`` table, else the default (lstm-strategy).
    ``only_ranking`` / ``only_single``: the options given that only one kind takes. ConfigError, one line saying
    what to do, when they do not fit or the strategy is unknown (naming every known one, of both kinds;
    ``positional``: STRATEGY is the first argument, so a lone unknown name there is likely a ticker, and the
    line says where a ticker goes).
    """
    name = strategy or _file_strategy(config_file)
    if name is None and selection.names_many():
        name = registry.ranking_names()[0]
    if name is None:
        name = StrategyConfig.name  # the default, a single-ticker strategy
        return Route(name, _check_single(name, selection, only_ranking))
    try:
        kind = registry.find(name).kind
    except KeyError as exc:  # `bt run AAPL`: a ticker where the strategy goes
        lone = positional and name == strategy and not selection.listed
        hint = f"; the TICKER follows the strategy, e.g. {StrategyConfig.name} {name}" if lone else ""
        raise ConfigError(f"{exc.args[0]} (see `bt strategies`){hint}.") from None
    if kind == RANKING:
        return Route(name, _check_ranking(name, selection, only_single))
    return Route(name, _check_single(name, selection, only_ranking))


def _file_strategy(path: Path | None) -> str | None:
    """The ``[strategy] name`` of a config file (or run.json), if it sets one."""
    if path is None:
        return None
    name = read_config_file(Path(path), ignore=("portfolio", "sweep")).get("strategy", {}).get("name")
    if isinstance(name, str):
        return name
    # No [strategy] name but a [portfolio] table (universe, tickers, k): a ranking run, as --universe would say.
    if Path(path).suffix.lower() != ".json" and "portfolio" in tomllib.loads(read_bounded(Path(path)).decode()):
        return registry.ranking_names()[0]
    return None


def _check_single(name: str, selection: TickerSelection, only_ranking: Sequence[str]) -> str:
    given = [*selection.options(), *only_ranking]
    if len(selection.listed) > 1:
        fix = f"give one TICKER, not {len(selection.listed)}"
    elif given:
        fix = f"drop {given[0]}"
    else:
        return SINGLE
    ranking = ", ".join(registry.ranking_names())
    raise ConfigError(f"{name} is not a portfolio strategy (it trades one ticker): {fix}; rank several tickers with "
                      f"{ranking}, or run {name} on each with `bt sweep`.")  # fmt: skip


def _check_ranking(name: str, selection: TickerSelection, only_single: Sequence[str]) -> str:
    if selection.listed and selection.options():
        raise ConfigError(f"give the tickers once: TICKER arguments or {selection.options()[0]}, not both.")
    if len(selection.listed) == 1:
        raise ConfigError(f"{name} ranks several tickers, and {selection.listed[0]} alone is one: give --universe "
                          "(e.g. dow30), --tickers A,B,... or several TICKERs.")  # fmt: skip
    if only_single:
        raise ConfigError(f"{only_single[0]} applies to one ticker's run, not to {name}, which reads each ticker's "
                          f"own data: drop {only_single[0]}.")  # fmt: skip
    return RANKING
