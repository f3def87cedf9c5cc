"""The ``bt`` command line: thin typer functions over library calls.

Each command parses, builds a config (``options.build``: defaults < ``--config`` file <
options given), calls one library function and prints. Heavy modules (TensorFlow,
backtrader, quantstats) are imported inside the commands, so ``bt --help`` and
``bt strategies`` answer at once. Errors from bad input are one line on stderr with exit
code 2, never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from ..errors import BtError
from . import console
from .options import (
    AllowShort,
    BatchSize,
    Benchmark,
    BenchmarkCsv,
    Cash,
    Commission,
    Config,
    Csv,
    End,
    Epochs,
    LearningRate,
    Lookback,
    Model,
    NoCache,
    Param,
    RepairBars,
    RetrainEvery,
    RunScheduler,
    RunWorkers,
    Seed,
    Seeds,
    Size,
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
    in_option_terms,
)  # fmt: skip
from .paper import paper_app
from .portfolio import RULE_OPTIONS, K, MaxTurnover, NDrop, PortfolioSize, Weighting, given_options, run_ranking
from .signal import signal_command
from .sweep import AsOf, Tickers, TickersFile, TlsCa, TlsCert, TlsKey, UniverseOpt, sweep_command, sweep_report_command

if TYPE_CHECKING:
    from ..parallel import ExecutorSession


class _OneLineErrors(TyperGroup):
    """Usage errors and BtErrors become one line on stderr and exit code 2."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:  # fmt: skip
        try:
            rv = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except Exception as exc:
            if type(exc).__module__.startswith(("typer", "click")) and hasattr(exc, "format_message"):
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                console.fail(f"{exc.format_message()}{hint}", getattr(exc, "exit_code", 2))
            if isinstance(exc, BtError) or getattr(type(exc), "exit_code", None) == 2:  # reports' input errors too
                console.fail(in_option_terms(str(exc)), 2)
            raise
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=_OneLineErrors,
    help="Walk-forward LSTM forecasts, backtested with backtrader, reported with quantstats.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace the results in an existing run folder.")]
Out = Annotated[Path | None, typer.Option(help="Run folder. [default: runs/TICKER-STRATEGY-TIMESTAMP; for a ranking "
                                               "strategy runs/UNIVERSE-STRATEGY-TIMESTAMP]")]  # fmt: skip
Ticker = Annotated[str | None, typer.Argument(help="Ticker, e.g. AAPL (bundled: AAPL, MSFT, SPY). [or [data] ticker]")]
TickerArgs = Annotated[list[str] | None, typer.Argument(
    metavar="TICKER", show_default=False,
    help="One ticker for a single-ticker strategy, e.g. AAPL (bundled: AAPL, MSFT, SPY), or the data table's "
         "ticker in --config; several, or --universe / --tickers / --tickers-file, for a ranking "
         "strategy.")]  # fmt: skip


@app.command("run")
def run_command(
    strategy: Annotated[str | None, typer.Argument(help="Strategy (see `bt strategies`). [default: lstm-strategy; "
                                                        "topk-strategy given several tickers]")] = None,
    symbols: TickerArgs = None, tickers: Tickers = None, tickers_file: TickersFile = None,
    universe: UniverseOpt = None, as_of: AsOf = None, k: K = None, weighting: Weighting = None,
    n_drop: NDrop = None, max_turnover: MaxTurnover = None,
    config: Config = None, start: Start = None, end: End = None, csv: Csv = None,
    source: Source = None,
    repair_bars: RepairBars = None, out: Out = None, model: Model = None, param: Param = None,
    strategy_param: StrategyParam = None, seed: Seed = None,
    seeds: Seeds = None, lookback: Lookback = None, train_days: TrainDays = None, retrain_every: RetrainEvery = None,
    window: Window = None, epochs: Epochs = None, warm_epochs: WarmEpochs = None, warm_start: WarmStart = None,
    batch_size: BatchSize = None, learning_rate: LearningRate = None, threshold: Threshold = None,
    allow_short: AllowShort = None, size: PortfolioSize = None, cash: Cash = None, commission: Commission = None,
    slippage: Slippage = None, benchmark: Benchmark = None, benchmark_csv: BenchmarkCsv = None,
    no_cache: NoCache = False, overwrite: Overwrite = False, workers: RunWorkers = None,
    scheduler: RunScheduler = None, tls_ca_file: TlsCa = None, tls_cert: TlsCert = None, tls_key: TlsKey = None,
) -> None:  # fmt: skip
    """Forecast walk-forward, backtest STRATEGY, write the run folder and report.

    A single-ticker strategy runs on one TICKER: bt run lstm-strategy AAPL.

    A ranking strategy holds the --k names of a universe with the best forecasts, day by day:

    bt run topk-strategy --universe dow30 (or --tickers A,B,..., --tickers-file F, or several TICKERs).

    `bt strategies` lists the strategies of each kind.
    """
    from ..selection import RANKING, TickerSelection, route

    selection = TickerSelection(tuple(symbols or ()), tickers, tickers_file, universe, as_of)
    chosen = route(strategy, selection, config_file=config, positional=True,
                   only_ranking=given_options(locals(), RULE_OPTIONS),
                   only_single=given_options(locals(), ("csv",)))  # fmt: skip
    if chosen.kind == RANKING:
        return run_ranking(locals(), selection, chosen.strategy)
    _run_single({**locals(), "ticker": selection.ticker()})


def _run_single(options: dict[str, Any]) -> None:
    """``bt run`` of a single-ticker strategy: one ticker's walk-forward, backtest, run folder and report."""
    resolved = build(options)
    began = console.timer()
    from reports.tearsheet import prepare_drawing_process

    from ..strategy_setup import choose

    choose(resolved.config.strategy)  # a setting the strategy does not take: one line before any process starts
    tls = (options["tls_ca_file"], options["tls_cert"], options["tls_key"])
    # The session starts (forks) its drawing process before the pipeline's heavy imports.
    with _executor(options["scheduler"], options["workers"], tls, prepare_drawing_process) as executor, \
            console.fold_progress(console.err) as on_fold:  # fmt: skip
        from ..pipeline import RunRequest, run_and_write

        request = RunRequest(resolved.config, options["out"], use_cache=not options["no_cache"],
                             overwrite=options["overwrite"])  # fmt: skip
        result, files = run_and_write(request, notify=console.notice, on_fold=on_fold, executor=executor)
    console.print_summary(
        console.out, result.summary, ticker=result.prices.ticker, benchmark=result.benchmark.ticker,
        strategy=resolved.config.strategy.name, model_name=resolved.config.forecast.model,
        report=files.get("report.html"), cached=result.forecasts_from_cache,
        seconds=console.timer() - began,
    )  # fmt: skip


@app.command("walk-forward")
def walk_forward_command(
    ticker: Ticker = None, config: Config = None, start: Start = None, end: End = None, csv: Csv = None,
    source: Source = None, repair_bars: RepairBars = None,
    out: Annotated[Path | None, typer.Option(help="Run folder. [default: runs/TICKER-walk-forward-TIMESTAMP]")] = None,
    model: Model = None, param: Param = None, seed: Seed = None, seeds: Seeds = None, lookback: Lookback = None,
    train_days: TrainDays = None, retrain_every: RetrainEvery = None, window: Window = None, epochs: Epochs = None,
    warm_epochs: WarmEpochs = None, warm_start: WarmStart = None, batch_size: BatchSize = None,
    learning_rate: LearningRate = None, no_cache: NoCache = False, overwrite: Overwrite = False,
    workers: RunWorkers = None, scheduler: RunScheduler = None, tls_ca_file: TlsCa = None, tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
) -> None:  # fmt: skip
    """Forecast TICKER walk-forward and compare the model with every baseline (no backtest)."""
    from ..pipeline import RunRequest, walk_forward_and_write

    resolved = build(locals())
    with _executor(scheduler, workers, (tls_ca_file, tls_cert, tls_key)) as executor, \
            console.fold_progress(console.err) as on_fold:  # fmt: skip
        request = RunRequest(resolved.config, out, use_cache=not no_cache, overwrite=overwrite)
        meta, files = walk_forward_and_write(request, notify=console.notice, on_fold=on_fold, executor=executor)
    console.print_metrics(console.out, meta, files["forecast.html"])


@app.command("report")
def report_command(
    run_folder: Annotated[Path, typer.Argument(help="A folder written by `bt run` or `bt run topk-strategy`.")],
) -> None:
    """Rebuild report.html (and tearsheet.html) of RUN_FOLDER from its saved files, without training."""
    from reports.build import build_report
    from reports.tearsheet import prepare_drawing_process

    from ..folderlock import holding

    with holding(run_folder, "run folder"):  # not while `bt run --overwrite` replaces the folder
        with _executor(None, None, preload=prepare_drawing_process) as executor:  # tearsheet drawn beside the charts
            console.out.print(f"report: {build_report(run_folder, draw=executor.draw)}", soft_wrap=True)


def _executor(scheduler: str | None, workers: int | None, tls: tuple[Path | None, ...] = (None, None, None),
              preload: Callable[[], None] | None = None) -> ExecutorSession:  # fmt: skip
    """The command's executor: where its independent pieces run and its pages are drawn."""
    from ..parallel import ExecutorSession

    ca, cert, key = (None if path is None else str(path) for path in tls)
    return ExecutorSession(scheduler, workers, (ca, cert, key), notify=console.notice, preload=preload)


@app.command("strategies")
def strategies_command() -> None:
    """List the strategies, single-ticker ones first, then the ranking ones (run over a universe), one line each,
    with each one's parameters and defaults (set with --strategy-param KEY=VALUE or [strategy.params])."""
    from strategies import registry

    for spec in registry.available().values():
        console.say(f"{spec.name:<16} {spec.description}{_strategy_params(spec)}")
    for spec in registry.PORTFOLIO:
        words = f"{spec.description}; runs over a universe: bt run {spec.name} --universe dow30"
        console.say(f"{spec.name:<16} {words}{_strategy_params(spec)}")


def _strategy_params(spec: Any) -> str:
    """``  [params: fast=20, slow=50, size=0.95]``, or nothing for a strategy that fails to import."""
    from strategies import registry

    from ..config.schema import SHARED

    try:
        values = registry.params(spec)
    except Exception:  # a broken plugin: its description already says why
        return ""
    own = _listed({k: v for k, v in values.items() if k not in SHARED})
    shared = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in values.items() if k in SHARED)
    return f"  [params: {own}{'; ' + shared if shared else ''}]"


def _listed(values: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" if isinstance(value, str) else f"{name}={value}"
                     for name, value in values.items()) or "none"  # fmt: skip


@app.command("models")
def models_command() -> None:
    """List the forecasters (built-in and plugins, broken plugins with their error), one line each,
    with each one's parameters and defaults (set with --param KEY=VALUE or [forecast.params])."""
    from forecasting import registry

    for spec in registry.available().values():
        origin = "built-in" if spec.builtin else f"{spec.distribution} {spec.version}"
        console.say(f"{spec.name:<16} {origin:<20} {spec.description()}{_model_params(spec)}")


def _model_params(spec: Any) -> str:
    """``  [params: units=(64, 32), ...]`` (``name=?`` for one without a default), or nothing if it is broken."""
    from inspect import Parameter

    from forecasting import registry

    if spec.problem() is not None:
        return ""
    try:
        values = registry.parameters(spec.load())
    except Exception:  # a plugin that fails to load: its description already says why
        return ""
    values = {k: "?" if v is Parameter.empty else v for k, v in values.items() if k != "seed"}  # seed: --seed
    return f"  [params: {_listed(values)}]"


app.add_typer(paper_app, name="paper")
app.command("signal")(signal_command)
app.command("sweep")(sweep_command)
app.command("sweep-report")(sweep_report_command)
config_app = typer.Typer(help="Inspect run configurations.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show_command(
    strategy: Annotated[str | None, typer.Option(help="Strategy. [default: lstm-strategy]")] = None,
    ticker: Annotated[str | None, typer.Option(help="Ticker.")] = None,
    config: Config = None, start: Start = None, end: End = None, csv: Csv = None, source: Source = None,
    repair_bars: RepairBars = None,
    model: Model = None, param: Param = None, strategy_param: StrategyParam = None,
    seed: Seed = None, seeds: Seeds = None, lookback: Lookback = None,
    train_days: TrainDays = None, retrain_every: RetrainEvery = None, window: Window = None, epochs: Epochs = None,
    warm_epochs: WarmEpochs = None, warm_start: WarmStart = None, batch_size: BatchSize = None,
    learning_rate: LearningRate = None, threshold: Threshold = None, allow_short: AllowShort = None, size: Size = None,
    cash: Cash = None, commission: Commission = None, slippage: Slippage = None, benchmark: Benchmark = None,
    benchmark_csv: BenchmarkCsv = None,
) -> None:  # fmt: skip
    """Print the effective config as TOML, with where each value came from (a valid --config file)."""
    from ..config.toml import to_toml

    console.out.print(to_toml(build(locals())), end="", soft_wrap=True, markup=False, highlight=False)


def main() -> None:
    """Console-script entry point.

    Once the command is done (every file written and closed, workers stopped) the process ends
    without tearing the interpreter down: module clean-up would add a third of a second to every
    command and can hang in TensorFlow's; the output streams and logging are flushed first.
    """
    from ..drawing import fewer_collections, stop_early
    from ..folderlock import let_go_all

    fewer_collections()
    try:
        app()
        code = 0
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        stop_early()
        let_go_all()  # the output folders' locks: os._exit below skips atexit
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a reader that went away (``bt ... | head``)
            pass
    os._exit(code)
