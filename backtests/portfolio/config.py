"""The frozen configuration of a portfolio run: the run settings, the tickers and the top-k rule.

A config file may carry, beside the run tables, a ``[portfolio]`` table (options given on the
command line win, key by key)::

    [portfolio]
    universe = "dow30"        # or tickers = ["AAPL", "MSFT"], or tickers_file = "list.txt"
    as_of = 2021-08-16        # for universe = "sp500"
    k = 5
    weighting = "inverse-volatility"
    n_drop = 1
    max_turnover = 0.5

A portfolio's ``run.json`` keeps these under ``"portfolio"``, so ``--config run.json`` reproduces a run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strategies.ranking import TopkRule

from ..config import RunConfig
from ..data.bounded import read_bounded
from ..errors import ConfigError

STRATEGY = "topk-strategy"
SELECTION_KEYS = ("tickers", "tickers_file", "universe", "as_of")
RULE_KEYS = ("k", "weighting", "n_drop", "max_turnover")


@dataclass(frozen=True)
class TopkSettings:
    """The rule's own settings (the threshold and the invested fraction are the run's ``[strategy]``)."""

    k: int = 5
    weighting: str = "equal"
    n_drop: int | None = None
    max_turnover: float | None = None

    def __post_init__(self) -> None:
        self.rule(0.0, 0.95)  # validates, with messages naming the setting

    def rule(self, threshold: float | None, size: float) -> TopkRule:
        """The ``TopkRule`` these settings give with a threshold and a size; ConfigError when invalid."""
        try:
            return TopkRule(self.k, self.weighting, threshold, self.n_drop, self.max_turnover, size)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


@dataclass(frozen=True)
class PortfolioConfig:
    """A whole portfolio run: the run settings every ticker shares, the tickers, the rule.

    ``tickers`` (and ``universe``, ``as_of``) are what it runs over; each ticker's prices and forecasts use
    ``run`` with its own ticker (``ticker_run``). ``run.data.ticker`` holds the portfolio's ``name`` only so
    that run.json and paper experiments keep the key older readers expect; nothing decides by it.
    ``membership``: check point-in-time S&P 500 membership day by day (universe sp500).
    """

    run: RunConfig
    tickers: tuple[str, ...]
    topk: TopkSettings = field(default_factory=TopkSettings)
    universe: str | None = None
    as_of: dt.date | None = None
    membership: bool = False

    def __post_init__(self) -> None:
        if not self.tickers:
            raise ConfigError("no tickers: pass --tickers, --tickers-file or --universe.")
        if self.run.strategy.allow_short:
            raise ConfigError(f"{STRATEGY} is long-only: drop --allow-short.")
        self.rule()

    @property
    def name(self) -> str:
        """What the portfolio is called: its universe upper-cased (DOW30), or PORTFOLIO for a list of tickers."""
        return portfolio_name(self.universe)

    def rule(self, *, thresholded: bool = True) -> TopkRule:
        """The top-k rule of this run; ``thresholded=False`` for a ranking score that is no predicted return."""
        return self.topk.rule(self.run.strategy.threshold if thresholded else None, self.run.strategy.size)

    def ticker_run(self, ticker: str, start: dt.date | None = None, end: dt.date | None = None) -> RunConfig:
        """The single-ticker run config of one ticker (its prices and forecasts), over ``start``..``end``."""
        data = dataclasses.replace(self.run.data, ticker=ticker, csv=None, start=start or self.run.data.start,
                                   end=end or self.run.data.end)  # fmt: skip
        return dataclasses.replace(self.run, data=data)

    def portfolio_dict(self) -> dict[str, Any]:
        """The ``portfolio`` part of run.json and of a paper experiment's config."""
        return {"tickers": list(self.tickers), "universe": self.universe,
                "as_of": self.as_of.isoformat() if self.as_of else None, "membership": self.membership,
                **dataclasses.asdict(self.topk)}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The run's tables plus ``portfolio``: what a paper experiment stores."""
        return {**self.run.to_dict(), "portfolio": self.portfolio_dict()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PortfolioConfig:
        """The config ``to_dict`` wrote; ConfigError when it cannot be read."""
        run = RunConfig.from_dict(values)
        try:
            p = dict(values["portfolio"])
            topk = TopkSettings(**{k: p[k] for k in RULE_KEYS})
            as_of = dt.date.fromisoformat(p["as_of"]) if p.get("as_of") else None
            return cls(run, tuple(p["tickers"]), topk, p.get("universe"), as_of, bool(p.get("membership")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the saved portfolio config cannot be read ({exc}).") from None


def portfolio_name(universe: str | None) -> str:
    """The name of a portfolio over ``universe`` (None: a list of tickers), as titles, folders and run.json show it."""
    return universe.upper() if universe else "PORTFOLIO"


def portfolio_table(path: Path | None) -> dict[str, Any]:
    """The ``[portfolio]`` table of a TOML config file, or the ``portfolio`` of a run.json (empty when none)."""
    if path is None:
        return {}
    path = Path(path)
    try:
        text = read_bounded(path).decode("utf-8")  # never a pipe or device, and within the size cap
        if path.suffix.lower() == ".json":
            table = json.loads(text).get("portfolio", {})
        else:
            table = tomllib.loads(text).get("portfolio", {})
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, RecursionError):
        return {}  # the run layer reports an unreadable file with its reason
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [portfolio] must be a table.")
    known = (*SELECTION_KEYS, *RULE_KEYS, "membership")
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} in [portfolio]; its keys are {', '.join(known)}.")
    return table


def rule_settings(table: dict[str, Any], given: dict[str, Any]) -> TopkSettings:
    """The rule's settings: defaults < the ``[portfolio]`` table < the options given (None: not given)."""
    values = {k: table[k] for k in RULE_KEYS if k in table}
    values.update({k: v for k, v in given.items() if k in RULE_KEYS and v is not None})
    try:
        return TopkSettings(**values)
    except TypeError as exc:
        raise ConfigError(f"[portfolio]: {exc}") from None
