"""``bt paper ...``: thin typer commands over ``backtests.paper``, one ticker or a portfolio.

``bt paper start`` builds a ``RunConfig`` or, when ``backtests.selection.route`` finds a ranking strategy
(``--strategy topk-strategy --universe ...``), a ``PortfolioConfig``, and hands either to ``paper.start``.
The other commands call the one paper library, which opens the experiment as its ledger says; a day is
printed from what its ``DayReport`` holds (one ticker's position, or a ranking strategy's targets), the
status from what ``paper.status`` gives. The paper library, backtrader and TensorFlow are imported inside
the commands, so help stays instant. ``bt paper start`` takes its data from Yahoo (through the cache) by default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from . import console
from .console import say as _say
from .options import (
    AllowShort,
    BatchSize,
    Benchmark,
    BenchmarkCsv,
    Cash,
    Commission,
    Config,
    Csv,
    Epochs,
    LearningRate,
    Lookback,
    Model,
    Param,
    RepairBars,
    RetrainEvery,
    Seed,
    Seeds,
    Slippage,
    StrategyParam,
    Threshold,
    TrainDays,
    WarmEpochs,
    WarmStart,
    Window,
    build,
    parse_date,
)  # fmt: skip
from .portfolio import RULE_OPTIONS, K, MaxTurnover, NDrop, PortfolioSize, Weighting, given_options, portfolio_config
from .sweep import AsOf, Tickers, TickersFile, UniverseOpt

if TYPE_CHECKING:
    from ..config import RunConfig
    from ..paper import Advance, DayReport
    from ..portfolio.config import PortfolioConfig

paper_app = typer.Typer(
    help="Paper trading: a simulated account stepped day by day with the backtest's own logic.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="Experiment name (letters, digits, '.', '_', '-').")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


PAPER_DEFAULTS = {"data": {"source": "yahoo"}}


@paper_app.command("start")
def start_command(
    name: Name,
    ticker: Annotated[str | None, typer.Option(help="Ticker, e.g. AAPL, of a single-ticker strategy. "
                                                    "[or [data] ticker]")] = None,
    strategy: Annotated[str | None, typer.Option(help="Strategy (see `bt strategies`). [default: lstm-strategy; "
                                                      "topk-strategy given several tickers]")] = None,
    tickers: Tickers = None, tickers_file: TickersFile = None, universe: UniverseOpt = None, as_of: AsOf = None,
    k: K = None, weighting: Weighting = None, n_drop: NDrop = None, max_turnover: MaxTurnover = None,
    config: Config = None, csv: Csv = None,
    source: Annotated[str | None, typer.Option(help="yahoo (fresh data; offline: cache, then bundled), auto, bundled. "
                                                    "[default: yahoo]")] = None, repair_bars: RepairBars = None,
    model: Model = None, param: Param = None, strategy_param: StrategyParam = None,
    seed: Seed = None, seeds: Seeds = None, lookback: Lookback = None,
    train_days: TrainDays = None, retrain_every: RetrainEvery = None, window: Window = None, epochs: Epochs = None,
    warm_epochs: WarmEpochs = None, warm_start: WarmStart = None, batch_size: BatchSize = None,
    learning_rate: LearningRate = None, threshold: Threshold = None, allow_short: AllowShort = None,
    size: PortfolioSize = None, cash: Cash = None, commission: Commission = None, slippage: Slippage = None,
    benchmark: Benchmark = None, benchmark_csv: BenchmarkCsv = None,
) -> None:  # fmt: skip
    """Create experiment NAME: a paper account trading TICKER, or for a ranking strategy the top k of a universe
    (--universe, --tickers, --tickers-file), with these settings (a name that exists is refused)."""
    from .. import paper
    from ..selection import RANKING, TickerSelection, route

    selection = TickerSelection((ticker,) if ticker else (), tickers, tickers_file, universe, as_of)
    chosen = route(strategy, selection, config_file=config, only_ranking=given_options(locals(), RULE_OPTIONS),
                   only_single=given_options(locals(), ("csv",)))  # fmt: skip
    if chosen.kind == RANKING:
        resolved: RunConfig | PortfolioConfig
        resolved, _ = portfolio_config(locals(), selection, chosen.strategy, defaults=PAPER_DEFAULTS)
    else:
        resolved = build(locals(), defaults=PAPER_DEFAULTS).config
    _, left = paper.start(name, resolved, notify=console.notice)
    _created(name, resolved, left, paper.paper_dir())
    _say(f"next: bt paper step {name}   or   bt paper replay {name} --start YYYY-MM-DD")


def _created(name: str, config: RunConfig | PortfolioConfig, left: dict[str, str], folder: Path) -> None:
    """The line naming a new experiment: its ticker and strategy, or its universe, strategy and tickers kept."""
    from ..config import RunConfig

    if isinstance(config, RunConfig):
        _say(f"created paper experiment {name}: {config.data.ticker} {config.strategy.name}, "
             f"cash {config.broker.cash:,.2f}, in {folder}")  # fmt: skip
        return
    kept = len(config.tickers) - len(left)
    _say(f"created paper experiment {name}: {config.name} {config.run.strategy.name} over {kept} tickers "
         f"(top {config.topk.k}), cash {config.run.broker.cash:,.2f}, in {folder}")  # fmt: skip
    if left:
        console.notice(f"left out for lack of data: {', '.join(left)}")


@paper_app.command("step")
def step_command(
    name: Name,
    date: Annotated[str | None, typer.Option(help="Trading day to step through. [default: latest day with data]")]
    = None,
) -> None:
    """Advance NAME through one trading day: fill yesterday's order at the open, retrain if due, decide."""
    from .. import paper

    result = paper.step(name, date=parse_date(date, "--date"), notify=console.notice,
                        on_day=lambda done, total, report: _print_day(report))  # fmt: skip
    if not result.days:
        _nothing(name, result)


@paper_app.command("replay")
def replay_command(
    name: Name,
    start: Annotated[str | None, typer.Option(help="First trading day, YYYY-MM-DD (as bt run --start).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD. [default: last day of data]")] = None,
) -> None:
    """Step NAME day by day through history (bundled, cached or --csv data), with a progress bar."""
    from .. import paper

    progress = Progress(TextColumn("replaying days"), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"),
                        TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                        console=console.err)  # fmt: skip
    task = progress.add_task("days", total=None)

    def on_day(done: int, total: int, report: object) -> None:
        if done == 1:
            progress.start()
        progress.update(task, total=total, completed=done)

    try:
        result = paper.replay(name, start=parse_date(start, "--start"), end=parse_date(end, "--end"),
                              notify=console.notice, on_day=on_day)  # fmt: skip
    finally:
        progress.stop()
    if not result.days:
        _nothing(name, result)
        return
    first, last = result.days[0], result.days[-1]
    fills = sum(len(r.fills) for r in result.days)
    _say(f"{name}: stepped {len(result.days)} days, {first.date:%Y-%m-%d} to {last.date:%Y-%m-%d}; {fills} fills")
    _print_account(last)


def _nothing(name: str, result: Advance[Any]) -> None:
    through = "no day yet" if result.stepped_through is None else f"{result.stepped_through:%Y-%m-%d}"
    data = "the data" if result.source is None else f"the data ({result.source})"
    _say(f"{name}: nothing to step; already stepped through {through} and {data} ends "
               f"on {result.data_end:%Y-%m-%d}. Nothing was changed.")  # fmt: skip


def _print_day(r: DayReport) -> None:
    """One stepped day, from what its report holds: the fills, a retrain, the forecast (one ticker) or the
    targets (a ranking strategy), the orders queued and the account."""
    head = f"{r.name} {r.date:%Y-%m-%d} (day {r.step})"
    if r.step == 0 and not r.fills:
        _say(head + ": opened the account (the first decision; nothing to fill yet)")
    elif r.targets is not None:
        _say(head + f": {len(r.fills)} fills" + (f", {r.rejected} orders rejected (not enough cash)"
                                                 if r.rejected else ""))  # fmt: skip
        for f in r.fills:
            _say(f"  {_filled(f)}")
    elif r.fills:
        _say(f"{head}: {_filled(r.fills[0])}")
    else:
        _say(head + (": yesterday's order was rejected by the broker (not enough cash)" if r.rejected
                     else ": no fill"))  # fmt: skip
    if r.targets is not None:
        _print_targets(r)
    else:
        _print_forecast(r)
    _print_account(r)


def _filled(f: dict[str, Any]) -> str:
    return (f"{'bought' if f['action'] == 'buy' else 'sold'} {f['size']} {f['ticker']} at {f['price']:,.4f} "
            f"(commission {f['commission']:,.2f})")  # fmt: skip


def _print_forecast(r: DayReport) -> None:
    """One ticker's retrain, forecast and queued order."""
    if r.model is not None:
        m = r.model
        _say(f"  retrained model v{m['version']} on {m['train_start']} to {m['train_end']} "
             f"({m['n_train']} samples, {m['seconds']:.1f} s)")  # fmt: skip
    for forecast, close in r.forecasts.values():
        _say(f"  forecast for the next day {forecast:,.4f} ({forecast / close - 1:+.3%} on the close {close:,.4f})")
    size = r.orders[0][1] if r.orders else 0
    order = "no order" if not r.orders else f"{'buy' if size > 0 else 'sell'} {abs(size)} at the next open"
    _say(f"  queued: {order}")


def _print_targets(r: DayReport) -> None:
    """A ranking strategy's retrains, targets and queued orders."""
    if r.retrained:
        _say(f"  retrained the models of {r.retrained} tickers")
    targets = ", ".join(f"{t} {w:.1%}" for t, w in (r.targets or {}).items() if w > 0) or "none (cash)"
    _say(f"  targets for the next open: {targets}")
    orders = ", ".join(f"{'buy' if s > 0 else 'sell'} {abs(s)} {t}" for t, s in r.orders) or "no order"
    _say(f"  queued: {orders}")


def _print_account(r: DayReport) -> None:
    """The account at the close; one ticker's position beside it."""
    line = f"  equity {r.equity:,.2f} ({r.equity / r.start_cash - 1:+.2%}), cash {r.cash:,.2f}"
    if r.targets is None:
        ((ticker, (size, _)),) = r.held.items()
        line += f", position {size} {ticker}"
    _say(line)


@paper_app.command("status")
def status_command(name: Name, as_json: Json = False) -> None:
    """The account, queued order, last forecast and model version of NAME."""
    from .. import paper

    portfolio = paper.is_portfolio_experiment(name)  # the ledger says; the account's words differ
    info = paper.status(name)
    if as_json:
        console.out.print_json(json.dumps(info, default=str))
        return
    if portfolio:  # the names held, the orders queued
        return _print_portfolio_status(info)
    _say(f"{info['name']}: {info['ticker']} {info['strategy']} ({info['model']}), {info['days']} days stepped"
               + (f" through {info['last_date']}" if info["last_date"] else ""))  # fmt: skip
    _say(f"  equity {info['equity']:,.2f} ({info['total_return']:+.2%}), cash {info['cash']:,.2f}, "
               f"position {info['position']}, {info['fills']} fills")  # fmt: skip
    if info["queued_order"]:
        q = info["queued_order"]
        _say(f"  queued: {'buy' if q['size'] > 0 else 'sell'} {abs(q['size'])} (decided {q['decided']})")
    if info["last_forecast"]:
        f = info["last_forecast"]
        _say(f"  last forecast {f['forecast']:,.4f} for the day after {f['origin_date']} "
                   f"(close {f['close']:,.4f})")
    if info["model_version"]:
        m = info["model_version"]
        _say(f"  model v{m['version']} trained on {m['train_start']} to {m['train_end']}")
    for words in info["verdicts"]:
        _say(f"  {words}")


def _print_portfolio_status(info: dict[str, Any]) -> None:
    """``bt paper status`` of a portfolio experiment, in words."""
    through = f" through {info['last_date']}" if info["last_date"] else ""
    _say(f"{info['name']}: {info['universe']} {info['strategy']} ({info['model']}, top {info['k']} of "
         f"{len(info['tickers'])}), {info['days']} days stepped{through}")  # fmt: skip
    held = ", ".join(f"{t} {s}" for t, s in info["positions"].items()) or "nothing"
    _say(f"  equity {info['equity']:,.2f} ({info['total_return']:+.2%}), cash {info['cash']:,.2f}, "
         f"holding {held}; {info['fills']} fills")  # fmt: skip
    for q in info["queued_orders"]:
        _say(f"  queued: {'buy' if q['size'] > 0 else 'sell'} {abs(q['size'])} {q['ticker']} (decided {q['decided']})")
    if info["model_version"]:
        _say(f"  models v{info['model_version']['version']} trained {info['model_version']['date']}")


@paper_app.command("list")
def list_command() -> None:
    """Every experiment, one line each."""
    from .. import paper

    rows = paper.experiments()
    if not rows:
        _say(f"no paper experiments in {paper.paper_dir()}")
    for r in rows:
        through = r["last_date"] or "not stepped"
        _say(f"{r['name']:<20} {r['ticker']:<6} {r['strategy']:<14} {r['days']:>5} days  {through:<11} "
                   f"equity {r['equity']:>14,.2f} ({r['total_return']:+.2%})")  # fmt: skip


@paper_app.command("report")
def report_command(
    name: Name,
    out: Annotated[Path | None, typer.Option(help="Report folder. [default: runs/paper-NAME-TIMESTAMP]")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier report in --out.")] = False,
) -> None:
    """A quantstats HTML report of NAME's account against the benchmark, plus its orders and fills as CSV."""
    import datetime as dt

    from .. import paper

    folder = out or Path("runs") / f"paper-{name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    paths = paper.write_report(name, folder, notify=console.notice, overwrite=overwrite)
    _say(f"report: {paths['report.html']}")
    _say(f"orders: {paths['orders.csv']}  fills: {paths['fills.csv']}")
