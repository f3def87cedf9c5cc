"""``bt paper ...``: thin typer commands over ``backtests.paper`` (a ranking strategy's: ``portfolio_paper``).

The paper library, backtrader and TensorFlow are imported inside the commands, so help
stays instant. ``bt paper start`` takes its data from Yahoo (through the cache) by default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from . import console, portfolio_paper
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
from .portfolio import RULE_OPTIONS, K, MaxTurnover, NDrop, PortfolioSize, Weighting, given_options
from .sweep import AsOf, Tickers, TickersFile, UniverseOpt

if TYPE_CHECKING:
    from ..paper import Advance

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
        return portfolio_paper.start(name, locals(), selection, chosen.strategy)
    run_config = build(locals(), defaults=PAPER_DEFAULTS).config
    paper.start(name, run_config, notify=console.notice)
    _say(f"created paper experiment {name}: {run_config.data.ticker} {run_config.strategy.name}, "
         f"cash {run_config.broker.cash:,.2f}, in {paper.paper_dir()}")  # fmt: skip
    _say(f"next: bt paper step {name}   or   bt paper replay {name} --start YYYY-MM-DD")


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
    if not isinstance(result.days[-1], paper.DayReport):
        return portfolio_paper.print_replayed(name, result.days)
    first, last = result.days[0], result.days[-1]
    fills = sum(r.fill is not None for r in result.days)
    _say(f"{name}: stepped {len(result.days)} days, {first.day.date:%Y-%m-%d} to {last.day.date:%Y-%m-%d}; "
               f"{fills} fills")  # fmt: skip
    _print_account(last)


def _nothing(name: str, result: Advance[Any]) -> None:
    through = "no day yet" if result.stepped_through is None else f"{result.stepped_through:%Y-%m-%d}"
    data = "the data" if result.source is None else f"the data ({result.source})"
    _say(f"{name}: nothing to step; already stepped through {through} and {data} ends "
               f"on {result.data_end:%Y-%m-%d}. Nothing was changed.")  # fmt: skip


def _print_day(r: Any) -> None:
    """One stepped day, of one ticker or (``portfolio_paper.print_day``) of a portfolio."""
    from ..paper import DayReport

    if not isinstance(r, DayReport):
        return portfolio_paper.print_day(r)
    head = f"{r.name} {r.day.date:%Y-%m-%d} (day {r.day.step})"
    if r.fill is not None:
        f = r.fill
        head += (f": {'bought' if f['action'] == 'buy' else 'sold'} {f['size']} {r.ticker} at {f['price']:,.4f} "
                 f"(commission {f['commission']:,.2f})")  # fmt: skip
    elif r.day.step == 0:
        head += ": opened the account (the first decision; nothing to fill yet)"
    elif r.rejected:
        head += ": yesterday's order was rejected by the broker (not enough cash)"
    else:
        head += ": no fill"
    _say(head)
    if r.model is not None:
        m = r.model
        _say(f"  retrained model v{m['version']} on {m['train_start']} to {m['train_end']} "
                   f"({m['n_train']} samples, {m['seconds']:.1f} s)")  # fmt: skip
    if r.forecast is not None:
        change = r.forecast / r.day.close - 1
        _say(f"  forecast for the next day {r.forecast:,.4f} ({change:+.3%} on the close {r.day.close:,.4f})")
    order = "no order" if r.order is None else f"{'buy' if r.order > 0 else 'sell'} {abs(r.order)} at the next open"
    _say(f"  queued: {order}")
    _print_account(r)


def _print_account(r: Any) -> None:
    _say(f"  equity {r.day.equity:,.2f} ({r.day.equity / r.start_cash - 1:+.2%}), cash {r.day.cash:,.2f}, "
               f"position {r.day.size} {r.ticker}")  # fmt: skip


@paper_app.command("status")
def status_command(name: Name, as_json: Json = False) -> None:
    """The account, queued order, last forecast and model version of NAME."""
    from .. import paper

    portfolio = paper.is_portfolio_experiment(name)  # the ledger says; the account's words differ
    info = paper.status(name)
    if as_json:
        console.out.print_json(json.dumps(info, default=str))
        return
    if portfolio:
        return portfolio_paper.print_status(info)
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
