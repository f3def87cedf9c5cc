"""``bt paper ...`` and ``bt signal``: thin typer commands over ``backtests.paper``.

Registered at the end of ``backtests.cli`` (import this module through it). The paper
library, backtrader and TensorFlow are imported inside the commands, so help stays instant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .cli import (
    _B,
    _F,
    _S,
    AllowShort,
    BatchSize,
    Benchmark,
    BenchmarkCsv,
    Cash,
    Commission,
    Csv,
    Epochs,
    LearningRate,
    Lookback,
    Model,
    RetrainEvery,
    Seed,
    Seeds,
    Size,
    Slippage,
    Source,
    Threshold,
    TrainDays,
    WarmEpochs,
    WarmStart,
    Window,
    _config,
    _date,
    _err,
    _notice,
    _out,
)

if TYPE_CHECKING:
    from .paper import Advance, DayReport

def _say(text: str) -> None:
    """One line of output; user text (names, paths) is never read as rich markup."""
    _out.print(text, soft_wrap=True, markup=False)


paper_app = typer.Typer(
    help="Paper trading: a simulated account stepped day by day with the backtest's own logic.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="Experiment name (letters, digits, '.', '_', '-').")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@paper_app.command("start")
def start_command(
    name: Name,
    ticker: Annotated[str, typer.Option(help="Ticker, e.g. AAPL.")],
    strategy: Annotated[str, typer.Option(help="lstm-strategy or buy-and-hold.")] = "lstm-strategy",
    csv: Csv = None,
    source: Annotated[str, typer.Option(help="yahoo (fresh data; offline: cache, then bundled), auto, bundled.")]
    = "yahoo",
    model: Model = _F.model,
    seed: Seed = _F.seed,
    seeds: Seeds = _F.seeds,
    lookback: Lookback = _F.lookback,
    train_days: TrainDays = _F.train_days,
    retrain_every: RetrainEvery = _F.retrain_every,
    window: Window = _F.window,
    epochs: Epochs = _F.epochs,
    warm_epochs: WarmEpochs = _F.warm_epochs,
    warm_start: WarmStart = _F.warm_start,
    batch_size: BatchSize = _F.batch_size,
    learning_rate: LearningRate = _F.learning_rate,
    threshold: Threshold = _S.threshold,
    allow_short: AllowShort = _S.allow_short,
    size: Size = _S.size,
    cash: Cash = _B.cash,
    commission: Commission = _B.commission,
    slippage: Slippage = _B.slippage,
    benchmark: Benchmark = "SPY",
    benchmark_csv: BenchmarkCsv = None,
) -> None:
    """Create experiment NAME: a paper account trading TICKER with these settings (a name that exists is refused)."""
    from . import paper

    config = _config(locals())
    paper.start(name, config, notify=_notice)
    _say(f"created paper experiment {name}: {config.data.ticker} {strategy}, cash {cash:,.2f}, "
               f"in {paper.paper_dir()}")  # fmt: skip
    _say(f"next: bt paper step {name}   or   bt paper replay {name} --start YYYY-MM-DD")


@paper_app.command("step")
def step_command(
    name: Name,
    date: Annotated[str | None, typer.Option(help="Trading day to step through. [default: latest day with data]")]
    = None,
) -> None:
    """Advance NAME through one trading day: fill yesterday's order at the open, retrain if due, decide."""
    from . import paper

    result = paper.step(name, date=_date(date, "--date"), notify=_notice,
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
    from . import paper

    progress = Progress(TextColumn("replaying days"), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"),
                        TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=_err)  # fmt: skip
    task = progress.add_task("days", total=None)

    def on_day(done: int, total: int, report: DayReport) -> None:
        if done == 1:
            progress.start()
        progress.update(task, total=total, completed=done)

    try:
        result = paper.replay(name, start=_date(start, "--start"), end=_date(end, "--end"), notify=_notice,
                              on_day=on_day)  # fmt: skip
    finally:
        progress.stop()
    if not result.days:
        _nothing(name, result)
        return
    first, last = result.days[0], result.days[-1]
    fills = sum(r.fill is not None for r in result.days)
    _say(f"{name}: stepped {len(result.days)} days, {first.day.date:%Y-%m-%d} to {last.day.date:%Y-%m-%d}; "
               f"{fills} fills")  # fmt: skip
    _print_account(last)


def _nothing(name: str, result: Advance) -> None:
    through = "no day yet" if result.stepped_through is None else f"{result.stepped_through:%Y-%m-%d}"
    _say(f"{name}: nothing to step; already stepped through {through} and the data ({result.source}) ends "
               f"on {result.data_end:%Y-%m-%d}. Nothing was changed.")  # fmt: skip


def _print_day(r: DayReport) -> None:
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


def _print_account(r: DayReport) -> None:
    _say(f"  equity {r.day.equity:,.2f} ({r.day.equity / r.start_cash - 1:+.2%}), cash {r.day.cash:,.2f}, "
               f"position {r.day.size} {r.ticker}")  # fmt: skip


@paper_app.command("status")
def status_command(name: Name, as_json: Json = False) -> None:
    """The account, queued order, last forecast and model version of NAME."""
    from . import paper

    info = paper.status(name)
    if as_json:
        _out.print_json(json.dumps(info, default=str))
        return
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


@paper_app.command("list")
def list_command() -> None:
    """Every experiment, one line each."""
    from . import paper

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
) -> None:
    """A quantstats HTML report of NAME's account against the benchmark, plus its orders and fills as CSV."""
    import datetime as dt

    from . import paper

    folder = out or Path("runs") / f"paper-{name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    paths = paper.write_report(name, folder, notify=_notice)
    _say(f"report: {paths['report.html']}")
    _say(f"orders: {paths['orders.csv']}  fills: {paths['fills.csv']}")


def signal_command(
    ticker: Annotated[str, typer.Argument(help="Ticker, e.g. AAPL.")],
    as_json: Json = False,
    csv: Csv = None,
    source: Source = "auto",
    model: Model = _F.model,
    seed: Seed = _F.seed,
    seeds: Seeds = _F.seeds,
    lookback: Lookback = _F.lookback,
    train_days: TrainDays = _F.train_days,
    window: Window = _F.window,
    epochs: Epochs = _F.epochs,
    batch_size: BatchSize = _F.batch_size,
    learning_rate: LearningRate = _F.learning_rate,
    threshold: Threshold = _S.threshold,
    allow_short: AllowShort = _S.allow_short,
) -> None:
    """The latest forecast for TICKER and the action it implies for the next trading day."""
    from . import paper
    from .data import default_cache_dir, load_prices

    config = _config(locals())
    prices = load_prices(config.data.ticker, csv=csv, source=config.data.source, cache_dir=default_cache_dir(),
                         notify=_notice)  # fmt: skip
    s = paper.latest_signal(config, prices)
    if as_json:
        _out.print_json(json.dumps(s))
        return
    _say(f"{s['ticker']}: {s['action'].upper()} for the next trading day after {s['data_through']} "
               f"(position {s['position']})")  # fmt: skip
    _say(f"  forecast {s['forecast']:,.4f} vs close {s['close']:,.4f}: {s['predicted_return']:+.3%} "
               f"(threshold {s['threshold']:.3%})")  # fmt: skip
    _say(f"  {s['model']} model trained on {s['train_start']} to {s['train_end']} ({s['n_train']} samples); "
               f"data: {s['source']}")  # fmt: skip
