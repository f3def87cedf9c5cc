"""``bt signal [TICKER ...]``: the order a strategy places for the next trading day, as one command for both kinds.

A single-ticker strategy gives one ticker's forecast and action (``backtests.paper.latest_signal``); a ranking
strategy (``--universe``, ``--tickers``) gives today's ranking and target weights (``cli.portfolio.signal_ranking``).
``backtests.selection.route`` decides which from the strategy's registered kind. Heavy modules are imported inside.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from . import console
from .options import (
    AllowShort,
    BatchSize,
    Cash,
    Config,
    Csv,
    Epochs,
    LearningRate,
    Lookback,
    Model,
    Param,
    RepairBars,
    Seed,
    Seeds,
    Source,
    StrategyParam,
    Threshold,
    TrainDays,
    Window,
    build,
)  # fmt: skip
from .portfolio import (
    PANEL,
    RULE_OPTIONS,
    K,
    MaxTurnover,
    NDrop,
    PortfolioSize,
    Weighting,
    given_options,
    signal_ranking,
)  # fmt: skip
from .sweep import AsOf, Tickers, TickersFile, UniverseOpt

Symbols = Annotated[list[str] | None, typer.Argument(
    metavar="TICKER", show_default=False,
    help="One ticker for a single-ticker strategy, e.g. AAPL, or the data table's ticker in --config; several, "
         "or --universe / --tickers / --tickers-file, for a ranking strategy.")]  # fmt: skip
Position = Annotated[str | None, typer.Option(help="Single-ticker strategy: what you hold now, flat, long or short. "
                                                   "[default: flat]")]  # fmt: skip
Hold = Annotated[str | None, typer.Option(help="Names held now, comma-separated (each at its equal target weight). "
                                               "[default: none]", rich_help_panel=PANEL)]  # fmt: skip


def signal_command(
    symbols: Symbols = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    position: Position = None, hold: Hold = None,
    strategy: Annotated[str | None, typer.Option(help="Strategy (see `bt strategies`). [default: lstm-strategy; "
                                                      "topk-strategy given several tickers]")] = None,
    tickers: Tickers = None, tickers_file: TickersFile = None, universe: UniverseOpt = None, as_of: AsOf = None,
    k: K = None, weighting: Weighting = None, n_drop: NDrop = None, max_turnover: MaxTurnover = None,
    config: Config = None, csv: Csv = None, source: Source = None,
    repair_bars: RepairBars = None, model: Model = None, param: Param = None, strategy_param: StrategyParam = None,
    seed: Seed = None, seeds: Seeds = None, lookback: Lookback = None, train_days: TrainDays = None,
    window: Window = None, epochs: Epochs = None, batch_size: BatchSize = None, learning_rate: LearningRate = None,
    threshold: Threshold = None, allow_short: AllowShort = None, size: PortfolioSize = None, cash: Cash = None,
) -> None:  # fmt: skip
    """The latest forecast for TICKER and the order the strategy places for the next trading day; for a ranking
    strategy (bt signal --universe dow30), today's ranking and the target weights for the next open."""
    from ..selection import RANKING, TickerSelection, route

    selection = TickerSelection(tuple(symbols or ()), tickers, tickers_file, universe, as_of)
    chosen = route(strategy, selection, config_file=config,
                   only_ranking=given_options(locals(), (*RULE_OPTIONS, "hold")),
                   only_single=given_options(locals(), ("csv", "position")))  # fmt: skip
    if chosen.kind == RANKING:
        return signal_ranking(locals(), selection, chosen.strategy)
    _signal_single({**locals(), "ticker": selection.ticker()})


def _signal_single(options: dict[str, Any]) -> None:
    """One ticker's latest forecast and the action it implies, as text or JSON."""
    from .. import paper
    from ..data import ticker_prices

    run_config = build(options).config
    holding = paper.parse_holding(options["position"] or "flat")  # before any data is read
    prices = ticker_prices(run_config.data, notify=console.notice)
    s = paper.latest_signal(run_config, prices, holding=holding)
    if options["as_json"]:
        console.out.print_json(json.dumps(s))
        return
    console.say(f"{s['ticker']} {s['strategy']}: {s['action'].upper()} at the next open after {s['data_through']} "
                f"(holding {s['holding']}, then {s['position']})")  # fmt: skip
    if s["forecast"] is not None:
        console.say(f"  forecast {s['forecast']:,.4f} vs close {s['close']:,.4f}: {s['predicted_return']:+.3%} "
                    f"(threshold {s['threshold']:.3%})")  # fmt: skip
        console.say(f"  {s['model']} model trained on {s['train_start']} to {s['train_end']} ({s['n_train']} "
                    f"samples); data: {s['source']}")  # fmt: skip
