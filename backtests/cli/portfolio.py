"""``bt run topk-strategy``, ``bt signal --universe`` and the portfolio options: thin commands over
``backtests.portfolio``.

``bt run STRATEGY TICKER`` takes one ticker; a portfolio strategy takes a universe instead, so
``app`` routes ``bt run topk-strategy ...`` here (``portfolio_run_command``) and ``bt run lstm-strategy
AAPL`` stays as it is. The portfolio library, backtrader and TensorFlow are imported inside the
commands, so help stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from . import console
from .options import (
    BatchSize,
    Benchmark,
    Cash,
    Commission,
    Config,
    End,
    Epochs,
    LearningRate,
    Lookback,
    Model,
    NoCache,
    Param,
    RetrainEvery,
    Seed,
    Seeds,
    Slippage,
    Source,
    Start,
    StrategyParam,
    Threshold,
    TrainDays,
    WarmEpochs,
    WarmStart,
    Window,
    build,
)  # fmt: skip
from .sweep import AsOf, Scheduler, Tickers, TickersFile, UniverseOpt, Workers

# name -> the line `bt strategies` shows: a portfolio strategy runs over a universe, not one ticker
PORTFOLIO_STRATEGIES = {"topk-strategy": "holds the --k names of a universe with the best forecasts; runs over "
                                         "a universe: bt run topk-strategy --universe dow30"}  # fmt: skip
SHORT = {"strategy": "top-k, model", "equal_weight": "equal weight", "topk_naive": "top-k, naive",
         "topk_ridge": "top-k, ridge", "momentum": "top-k, momentum 12-1"}  # fmt: skip
K = Annotated[int | None, typer.Option("--k", help="How many names to hold. [default: 5]")]
Weighting = Annotated[str | None, typer.Option(help="equal or inverse-volatility (trailing 60 days). "
                                                    "[default: equal]")]  # fmt: skip
NDrop = Annotated[int | None, typer.Option(help="Replace at most N held names a day (Qlib's TopkDropout). "
                                                "[default: no limit]")]  # fmt: skip
MaxTurnover = Annotated[float | None, typer.Option(help="Trade at most this fraction of equity a day, buys plus "
                                                        "sells. [default: no limit]")]  # fmt: skip
PortfolioSize = Annotated[float | None, typer.Option("--size", help="Fraction of equity invested when k names are "
                                                                    "held. [default: 0.95]")]  # fmt: skip


def portfolio_config(options: dict[str, Any], *, defaults: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """The ``PortfolioConfig`` and the ticker selection the options (and ``--config``) give."""
    from ..portfolio.config import STRATEGY, PortfolioConfig, portfolio_table, rule_settings
    from ..sweeps.plan import select_tickers

    table = portfolio_table(options.get("config"))
    chosen = select_tickers(tickers=options.get("tickers"), tickers_file=options.get("tickers_file"),
                            universe_name=options.get("universe"), as_of=options.get("as_of"), table=table,
                            notify=console.notice)  # fmt: skip
    label = chosen.universe.name.upper() if chosen.universe else "PORTFOLIO"
    given = {**options, "ticker": label, "strategy": STRATEGY}
    run = build(given, defaults=defaults, ignore=("portfolio", "sweep")).config
    universe = chosen.universe
    given = {**options, **{k: v for k, v in run.strategy.given_params().items() if options.get(k) is None}}
    config = PortfolioConfig(run, chosen.tickers, rule_settings(table, given),
                             universe.name if universe else None, universe.as_of if universe else None,
                             membership=bool(universe and universe.name == "sp500"))  # fmt: skip
    return config, chosen


def portfolio_run_command(
    strategy: Annotated[str, typer.Argument(help="A portfolio strategy: topk-strategy.")],
    tickers: Tickers = None, tickers_file: TickersFile = None, universe: UniverseOpt = None, as_of: AsOf = None,
    k: K = None, weighting: Weighting = None, n_drop: NDrop = None, max_turnover: MaxTurnover = None,
    config: Config = None, workers: Workers = None, scheduler: Scheduler = None, start: Start = None,
    end: End = None, source: Source = None,
    out: Annotated[Path | None, typer.Option(help="Run folder. [default: runs/UNIVERSE-topk-strategy-TIMESTAMP]")]
    = None,
    model: Model = None, param: Param = None,
    strategy_param: StrategyParam = None, seed: Seed = None, seeds: Seeds = None, lookback: Lookback = None,
    train_days: TrainDays = None, retrain_every: RetrainEvery = None, window: Window = None, epochs: Epochs = None,
    warm_epochs: WarmEpochs = None, warm_start: WarmStart = None, batch_size: BatchSize = None,
    learning_rate: LearningRate = None, threshold: Threshold = None, size: PortfolioSize = None, cash: Cash = None,
    commission: Commission = None, slippage: Slippage = None, benchmark: Benchmark = None,
    no_cache: NoCache = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the results in an existing run folder.")]
    = False,
) -> None:  # fmt: skip
    """Rank a universe by forecast each day, trade the top k, compare, and write the run folder and report."""
    from ..portfolio.pipeline import PortfolioRequest, run_and_write_portfolio

    check_strategy(strategy)
    resolved, chosen = portfolio_config(locals())
    _say_universe(chosen)
    began = console.timer()
    with _session(workers, scheduler) as session, _TickerBar() as on_ticker:
        request = PortfolioRequest(resolved, chosen.describe(), out, not no_cache, overwrite, session,
                                   draw=session.draw)  # fmt: skip
        result, files = run_and_write_portfolio(request, notify=console.notice, on_ticker=on_ticker)
    print_portfolio(result, files.get("report.html"), console.timer() - began)


def _session(workers: int | None, scheduler: str | None) -> Any:
    """The command's executor (``--scheduler``, ``--workers``: the forecasts the cache lacks and the rules'
    backtests) and its drawing process (forked now, it imports the plotting stack meanwhile); with
    ``--scheduler sync`` everything stays in this process."""
    from reports.tearsheet import prepare_drawing_process

    from ..parallel import ExecutorSession

    return ExecutorSession(scheduler, workers, notify=console.notice, preload=prepare_drawing_process,
                           preload_tensorflow=False)  # fmt: skip


def check_strategy(name: str) -> None:
    """ConfigError unless ``name`` is a portfolio strategy."""
    from ..errors import ConfigError

    if name not in PORTFOLIO_STRATEGIES:
        raise ConfigError(f"{name!r} is not a portfolio strategy; use {', '.join(PORTFOLIO_STRATEGIES)}")


def _say_universe(chosen: Any) -> None:
    u = chosen.universe
    if u is not None and u.missing:
        names = ", ".join(u.missing[:12]) + (" ..." if len(u.missing) > 12 else "")
        console.notice(f"{u.name}: {len(u.missing)} of {u.members} members have no data and are left out "
                       f"(survivorship): {names}")  # fmt: skip


class _TickerBar:
    """A bar over tickers while their forecasts are read or computed; yields the ``on_ticker`` callback."""

    def __enter__(self) -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("forecasts"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[t]}"),
                            TimeElapsedColumn(), console=console.err, transient=True)  # fmt: skip
        self.task = self.bar.add_task("tickers", total=None, t="")
        return self.update

    def update(self, done: int, total: int, ticker: str) -> None:
        if not self.bar.live.is_started:
            self.bar.start()
        self.bar.update(self.task, total=total, completed=done, t=ticker)

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def print_portfolio(result: Any, report: Path | None, seconds: float) -> None:
    """The closing lines of ``bt run topk-strategy``: every rule's figures, the verdict, what was left out."""
    from rich.table import Table

    from reports.wording import strategy_verdict

    s = result.summary
    cover = s.coverage
    table = Table(title=f"{result.config.run.data.ticker} {result.config.run.strategy.name}  {s.first_day} to "
                        f"{s.last_day} ({s.days} days, {cover.tickers} tickers)")  # fmt: skip
    for col in ("", "total return", "CAGR", "Sharpe", "max drawdown", "PSR vs"):
        table.add_column(col, justify="right" if col else "left")
    for key in result.returns.columns:
        row, psr = s.performance[key], s.psr.get(key)
        label = f"benchmark ({result.benchmark.ticker})" if key == "benchmark" else SHORT[key]
        sharpe = "n/a" if row.sharpe != row.sharpe else f"{row.sharpe:.2f}"
        table.add_row(label, f"{row.total_return:.2%}", f"{row.cagr:.2%}", sharpe,
                      f"{row.max_drawdown:.2%}", "" if psr is None else f"{psr:.2f}")  # fmt: skip
    console.out.print(table)
    words = strategy_verdict(s.performance["strategy"].sharpe, s.performance["equal_weight"].sharpe,
                             s.psr["equal_weight"], result.config.run.strategy.name
                             ).replace("buy-and-hold", "equal-weight buy-and-hold")  # fmt: skip
    act = s.activity["strategy"]
    console.say(f"trades (fills): {s.trades}, turnover {act.turnover_per_year:.0%} a year, costs paid "
                f"{act.costs_fraction:.2%} of the starting cash; {words}")  # fmt: skip
    console.say(f"tickers: {cover.tickers} traded, {cover.left_out} left out; forecasts of "
                f"{cover.forecasts_from_cache} from the cache")
    if report is not None:
        console.say(f"report: {report}")
    console.say(f"done in {seconds:.1f} s")


def portfolio_signal_command(
    tickers: Tickers = None, tickers_file: TickersFile = None, universe: UniverseOpt = None, as_of: AsOf = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    hold: Annotated[str | None, typer.Option(help="Names held now, comma-separated (each at its equal target "
                                                  "weight). [default: none]")] = None,
    strategy: Annotated[str, typer.Option(help="A portfolio strategy.")] = "topk-strategy",
    k: K = None, weighting: Weighting = None, n_drop: NDrop = None, max_turnover: MaxTurnover = None,
    config: Config = None, source: Source = None, model: Model = None, param: Param = None,
    strategy_param: StrategyParam = None, seed: Seed = None,
    seeds: Seeds = None, lookback: Lookback = None, train_days: TrainDays = None, window: Window = None,
    epochs: Epochs = None, batch_size: BatchSize = None, learning_rate: LearningRate = None,
    threshold: Threshold = None, size: PortfolioSize = None,
) -> None:  # fmt: skip
    """Today's ranking of the universe, each predicted return, and the target weights for the next open."""
    from ..data import parse_tickers
    from ..portfolio.signal import portfolio_signal

    check_strategy(strategy)
    resolved, _ = portfolio_config(locals())
    held = parse_tickers(hold) if hold else ()
    weight = resolved.run.strategy.size / resolved.topk.k
    s = portfolio_signal(resolved, holdings={t: weight for t in held}, notify=console.notice)
    if as_json:
        import json

        console.out.print_json(json.dumps(s))
        return
    targets = ", ".join(f"{t} {w:.1%}" for t, w in s["targets"].items()) or "none (all cash)"
    console.say(f"{resolved.run.data.ticker} {s['strategy']} ({s['model']}): targets for the next open after "
                f"{s['data_through']}: {targets}; cash {s['cash']:.1%}")  # fmt: skip
    for r in s["ranking"][: max(10, resolved.topk.k)]:
        predicted = "n/a" if r["predicted_return"] is None else f"{r['predicted_return']:+.3%}"
        mark = "" if r["eligible"] else " (not eligible today)"
        console.say(f"  {r['rank'] or '-':>3} {r['ticker']:<6} predicted {predicted:>9}  target "
                    f"{r['target_weight']:.1%}{mark}")  # fmt: skip
