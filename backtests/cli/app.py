"""The ``bt`` command line: thin typer functions over library calls.

Each command parses, builds a config (``options.build``: defaults < ``--config`` file <
options given), calls one library function and prints. Heavy modules (TensorFlow,
backtrader, quantstats) are imported inside the commands, so ``bt --help`` and
``bt strategies`` answer at once. Errors from bad input are one line on stderr with exit
code 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

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
    RetrainEvery,
    Seed,
    Seeds,
    Size,
    Slippage,
    Source,
    Start,
    Threshold,
    TrainDays,
    WarmEpochs,
    WarmStart,
    Window,
    build,
    in_option_terms,
)  # fmt: skip
from .paper import paper_app, signal_command
from .sweep import sweep_command, sweep_report_command


class _OneLineErrors(TyperGroup):
    """Usage errors and BtErrors become one line on stderr and exit code 2."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
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
Out = Annotated[Path | None, typer.Option(help="Run folder. [default: runs/TICKER-STRATEGY-TIMESTAMP]")]
Ticker = Annotated[str | None, typer.Argument(help="Ticker, e.g. AAPL (bundled: AAPL, MSFT, SPY). [or [data] ticker]")]


@app.command("run")
def run_command(
    strategy: Annotated[str | None, typer.Argument(help="Strategy (see `bt strategies`). [default: lstm-strategy]")]
    = None,
    ticker: Ticker = None, config: Config = None, start: Start = None, end: End = None, csv: Csv = None,
    source: Source = None, out: Out = None, model: Model = None, param: Param = None, seed: Seed = None,
    seeds: Seeds = None, lookback: Lookback = None, train_days: TrainDays = None, retrain_every: RetrainEvery = None,
    window: Window = None, epochs: Epochs = None, warm_epochs: WarmEpochs = None, warm_start: WarmStart = None,
    batch_size: BatchSize = None, learning_rate: LearningRate = None, threshold: Threshold = None,
    allow_short: AllowShort = None, size: Size = None, cash: Cash = None, commission: Commission = None,
    slippage: Slippage = None, benchmark: Benchmark = None, benchmark_csv: BenchmarkCsv = None,
    no_cache: NoCache = False, overwrite: Overwrite = False,
) -> None:  # fmt: skip
    """Forecast walk-forward, backtest STRATEGY on TICKER, write the run folder and report."""
    from ..pipeline import RunRequest, run_and_write

    resolved = build(locals())
    began = console.timer()
    with console.fold_progress(console.err) as on_fold:
        request = RunRequest(resolved.config, out, use_cache=not no_cache, overwrite=overwrite)
        result, files = run_and_write(request, notify=console.notice, on_fold=on_fold)
    console.print_summary(
        console.out, result.summary, ticker=result.prices.ticker, benchmark=result.benchmark.ticker,
        strategy=resolved.config.strategy.name, model_name=resolved.config.forecast.model,
        report=files.get("report.html"), cached=result.forecasts_from_cache,
        seconds=console.timer() - began,
    )  # fmt: skip


@app.command("walk-forward")
def walk_forward_command(
    ticker: Ticker = None, config: Config = None, start: Start = None, end: End = None, csv: Csv = None,
    source: Source = None,
    out: Annotated[Path | None, typer.Option(help="Run folder. [default: runs/TICKER-walk-forward-TIMESTAMP]")] = None,
    model: Model = None, param: Param = None, seed: Seed = None, seeds: Seeds = None, lookback: Lookback = None,
    train_days: TrainDays = None, retrain_every: RetrainEvery = None, window: Window = None, epochs: Epochs = None,
    warm_epochs: WarmEpochs = None, warm_start: WarmStart = None, batch_size: BatchSize = None,
    learning_rate: LearningRate = None, no_cache: NoCache = False, overwrite: Overwrite = False,
) -> None:  # fmt: skip
    """Forecast TICKER walk-forward and compare the model with every baseline (no backtest)."""
    from ..pipeline import RunRequest, walk_forward_and_write

    resolved = build(locals())
    with console.fold_progress(console.err) as on_fold:
        request = RunRequest(resolved.config, out, use_cache=not no_cache, overwrite=overwrite)
        meta, files = walk_forward_and_write(request, notify=console.notice, on_fold=on_fold)
    console.print_metrics(console.out, meta, files["forecast.html"])


@app.command("report")
def report_command(
    run_folder: Annotated[Path, typer.Argument(help="A folder written by `bt run`.")],
) -> None:
    """Rebuild report.html (and tearsheet.html) of RUN_FOLDER from its saved files, without training."""
    from reports.build import build_report

    console.out.print(f"report: {build_report(run_folder)}", soft_wrap=True)


@app.command("strategies")
def strategies_command() -> None:
    """List the registered strategies, one line each."""
    from strategies import registry

    for spec in registry.available().values():
        console.say(f"{spec.name:<16} {spec.description}")


@app.command("models")
def models_command() -> None:
    """List the forecasters (built-in and plugins, broken plugins with their error), one line each."""
    from forecasting import registry

    for spec in registry.available().values():
        origin = "built-in" if spec.builtin else f"{spec.distribution} {spec.version}"
        console.say(f"{spec.name:<16} {origin:<20} {spec.description()}")


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
    model: Model = None, param: Param = None, seed: Seed = None, seeds: Seeds = None, lookback: Lookback = None,
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
    """Console-script entry point."""
    app()
