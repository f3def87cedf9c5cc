"""The ``bt`` command line: thin typer functions over library calls.

Heavy modules (TensorFlow, backtrader, quantstats) are imported inside the
commands, so ``bt --help`` and ``bt strategies`` answer at once. Errors from
bad input are one line on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from forecasting.config import ForecastConfig

from . import _console
from .config import BrokerConfig, DataConfig, RunConfig, StrategyConfig, forecast_config
from .errors import BtError, ConfigError

_err = Console(stderr=True, highlight=False)
_out = Console(highlight=False)


class _OneLineErrors(TyperGroup):
    """Usage errors and BtErrors become one line on stderr and exit code 2."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except BtError as exc:
            _fail(str(exc), exc.exit_code)
        except Exception as exc:
            if not (type(exc).__module__.startswith("typer") and hasattr(exc, "format_message")):
                raise
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            _fail(f"{exc.format_message()}{hint}", getattr(exc, "exit_code", 2))
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _fail(message: str, code: int) -> None:
    _err.print(f"[red]error:[/red] {escape(' '.join(message.split()))}", soft_wrap=True)
    sys.exit(code)


app = typer.Typer(
    cls=_OneLineErrors,
    help="Walk-forward LSTM forecasts, backtested with backtrader, reported with quantstats.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date; use YYYY-MM-DD.") from None


_F = ForecastConfig
_S = StrategyConfig
_B = BrokerConfig

Start = Annotated[
    str | None, typer.Option(help="First forecast day, YYYY-MM-DD. [default: 5 years before the last day]")
]
End = Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD. [default: last day of data]")]
Csv = Annotated[Path | None, typer.Option(help="Daily OHLCV CSV to use instead of the ticker's data.")]
Source = Annotated[str, typer.Option(help="auto (bundled file, else Yahoo with cache), bundled, or yahoo.")]
Model = Annotated[str, typer.Option(help="Forecaster: lstm, naive, drift, moving-average, ridge.")]
Seed = Annotated[int, typer.Option(help="Seed for every random choice.")]
Seeds = Annotated[int, typer.Option(help="Train N independently seeded LSTMs per fold; trade their mean forecast.")]
Lookback = Annotated[int, typer.Option(help="Days of prices in each input window.")]
TrainDays = Annotated[int, typer.Option(help="Trading days in each training window (about 3 years).")]
RetrainEvery = Annotated[int, typer.Option(help="Retrain every N trading days.")]
Window = Annotated[str, typer.Option(help="Training window: rolling or expanding.")]
Epochs = Annotated[int, typer.Option(help="Epochs of the first fold (early stopping may end sooner).")]
WarmEpochs = Annotated[int, typer.Option(help="Epochs of later folds, which start from the previous weights.")]
WarmStart = Annotated[
    bool, typer.Option("--warm-start/--no-warm-start", help="Continue from the previous fold's weights.")
]
BatchSize = Annotated[int, typer.Option(help="Training batch size.")]
LearningRate = Annotated[float, typer.Option(help="Adam learning rate.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Retrain even if cached forecasts exist.")]
Threshold = Annotated[float, typer.Option(help="Predicted return needed to go long (and -threshold to exit).")]
AllowShort = Annotated[bool, typer.Option("--allow-short", help="Go short below -threshold.")]
Size = Annotated[float, typer.Option(help="Fraction of equity per position.")]
Cash = Annotated[float, typer.Option(help="Starting cash.")]
Commission = Annotated[float, typer.Option(help="Commission, fraction of traded value.")]
Slippage = Annotated[float, typer.Option(help="Slippage, fraction of the fill price.")]
Benchmark = Annotated[str, typer.Option(help="Benchmark ticker.")]
BenchmarkCsv = Annotated[Path | None, typer.Option(help="Benchmark OHLCV CSV.")]


@app.command("run")
def run_command(
    strategy: Annotated[str, typer.Argument(help="Strategy name (see `bt strategies`).")],
    ticker: Annotated[str, typer.Argument(help="Ticker, e.g. AAPL (bundled: AAPL, MSFT, SPY).")],
    start: Start = None,
    end: End = None,
    csv: Csv = None,
    source: Source = "auto",
    out: Annotated[Path | None, typer.Option(help="Run folder. [default: runs/TICKER-STRATEGY-TIMESTAMP]")] = None,
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
    no_cache: NoCache = False,
) -> None:
    """Forecast walk-forward, backtest STRATEGY on TICKER, write the run folder and report."""
    from .api import RunRequest, run_and_write

    _check_strategy(strategy)
    config = _config(locals())
    began = _console.timer()
    with _console.fold_progress(_err) as on_fold:
        result, files = run_and_write(
            RunRequest(config, out, use_cache=not no_cache), notify=_notice, on_fold=on_fold
        )
    _console.print_summary(
        _out, result.summary, ticker=result.prices.ticker, benchmark=result.benchmark.ticker,
        strategy=strategy, report=files.get("report.html"), cached=result.forecasts_from_cache,
        seconds=_console.timer() - began,
    )  # fmt: skip


@app.command("walk-forward")
def walk_forward_command(
    ticker: Annotated[str, typer.Argument(help="Ticker, e.g. AAPL (bundled: AAPL, MSFT, SPY).")],
    start: Start = None,
    end: End = None,
    csv: Csv = None,
    source: Source = "auto",
    out: Annotated[Path | None, typer.Option(help="Run folder. [default: runs/TICKER-walk-forward-TIMESTAMP]")] = None,
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
    no_cache: NoCache = False,
) -> None:
    """Forecast TICKER walk-forward and compare the model with every baseline (no backtest)."""
    from .api import RunRequest, walk_forward_and_write

    config = _config(locals())
    with _console.fold_progress(_err) as on_fold:
        meta, files = walk_forward_and_write(
            RunRequest(config, out, use_cache=not no_cache), notify=_notice, on_fold=on_fold
        )
    _console.print_metrics(_out, meta, files["forecast.html"])


@app.command("report")
def report_command(
    run_folder: Annotated[Path, typer.Argument(help="A folder written by `bt run`.")],
) -> None:
    """Rebuild report.html (and tearsheet.html) of RUN_FOLDER from its saved files, without training."""
    from reports.build import build_report

    _out.print(f"report: {build_report(run_folder)}", soft_wrap=True)


def _config(options: dict[str, Any]) -> RunConfig:
    """A RunConfig from a command's options (those a command lacks keep their defaults).

    CSV paths are made absolute: a paper experiment reads them again from any folder.
    """
    o = {**_DEFAULTS, **options}
    return RunConfig(
        data=DataConfig(o["ticker"].upper(), _absolute(o["csv"]), o["source"],
                        _date(o["start"], "--start"), _date(o["end"], "--end"), o["benchmark"].upper(),
                        _absolute(o["benchmark_csv"])),  # fmt: skip
        forecast=forecast_config(**{k: o[k] for k in _FORECAST_KEYS}),
        strategy=StrategyConfig(o["strategy"], o["threshold"], o["allow_short"], o["size"]),
        broker=BrokerConfig(o["cash"], o["commission"], o["slippage"]),
    )


_FORECAST_KEYS = ("model", "lookback", "train_days", "retrain_every", "window", "epochs", "warm_epochs",
                  "warm_start", "batch_size", "learning_rate", "seed", "seeds")  # fmt: skip
def _absolute(path: Path | None) -> str | None:
    return None if path is None else str(Path(path).resolve())


_DEFAULTS: dict[str, Any] = {
    **{key: getattr(_F, key) for key in _FORECAST_KEYS},
    "start": None, "end": None, "strategy": _S.name, "threshold": _S.threshold, "allow_short": _S.allow_short,
    "size": _S.size, "cash": _B.cash, "commission": _B.commission, "slippage": _B.slippage,
    "benchmark": "SPY", "benchmark_csv": None,
}  # fmt: skip


def _notice(message: str) -> None:
    _err.print(escape(message), soft_wrap=True)


def _check_strategy(name: str) -> None:
    from strategies import registry

    try:
        registry.get(name)
    except KeyError as exc:
        raise ConfigError(f"{exc.args[0]} (see `bt strategies`)") from None


@app.command("strategies")
def strategies_command() -> None:
    """List the registered strategies, one line each."""
    from strategies import registry

    for spec in registry.available().values():
        _out.print(f"{spec.name:<16} {spec.description}", soft_wrap=True)


def main() -> None:
    """Console-script entry point."""
    app()


# Paper trading and signals (backtests.cli_paper), registered last: that module reuses the options above.
from .cli_paper import paper_app, signal_command  # noqa: E402

app.add_typer(paper_app, name="paper")
app.command("signal")(signal_command)
