"""``bt sweep`` and ``bt sweep-report``: thin typer commands over ``backtests.sweeps``.

Dask, TensorFlow and the report code are imported inside the commands, so help stays instant.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from . import console
from .options import (
    AllowShort,
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
    Param,
    RepairBars,
    RetrainEvery,
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
)  # fmt: skip

if TYPE_CHECKING:
    from ..sweeps import Progress as JobProgress

Tickers = Annotated[str | None, typer.Option(help="Comma-separated tickers, e.g. AAPL,MSFT,SPY.")]
TickersFile = Annotated[Path | None, typer.Option(help="File with one ticker per line (# comments allowed).")]
UniverseOpt = Annotated[str | None, typer.Option("--universe", help="Named universe: dow30, sectors, or sp500.")]
AsOf = Annotated[str | None, typer.Option(help="Index members on this day, YYYY-MM-DD (with --universe sp500).")]
GridOpt = Annotated[list[str] | None, typer.Option("--grid", help="KEY=V1,V2,... over any run setting (repeatable).")]
Workers = Annotated[int | None, typer.Option(help="Worker processes of the local cluster. [default: one per core]")]
Scheduler = Annotated[str | None, typer.Option(help="sync, or tcp://HOST:PORT / tls://HOST:PORT of a running "
                                                    "`dask scheduler`. [default: a new local cluster on 127.0.0.1]")]
TlsCa = Annotated[Path | None, typer.Option("--tls-ca-file", help="TLS: certificate authority file.")]
TlsCert = Annotated[Path | None, typer.Option("--tls-cert", help="TLS: this client's certificate.")]
TlsKey = Annotated[Path | None, typer.Option("--tls-key", help="TLS: this client's private key.")]
Lean = Annotated[bool, typer.Option("--lean", help="Keep only each job's tables, no per-job report pages.")]
MaxJobs = Annotated[int, typer.Option("--max-jobs", help="Refuse a sweep of more jobs than this (tickers x grid "
                                                        "points), counted before any job is built. [default: 10000]")]


def sweep_command(
    strategy: Annotated[str | None, typer.Argument(help="Strategy (see `bt strategies`). [default: lstm-strategy]")]
    = None,
    tickers: Tickers = None, tickers_file: TickersFile = None, universe: UniverseOpt = None, as_of: AsOf = None,
    grid: GridOpt = None, config: Config = None, workers: Workers = None, scheduler: Scheduler = None,
    tls_ca_file: TlsCa = None, tls_cert: TlsCert = None, tls_key: TlsKey = None, lean: Lean = False,
    max_jobs: MaxJobs = 10_000,
    out: Annotated[Path | None, typer.Option(help="Sweep folder. [default: runs/sweep-STRATEGY-TIMESTAMP]")] = None,
    start: Start = None, end: End = None, source: Source = None,
    repair_bars: RepairBars = None, model: Model = None, param: Param = None, strategy_param: StrategyParam = None,
    seed: Seed = None, seeds: Seeds = None, lookback: Lookback = None, train_days: TrainDays = None,
    retrain_every: RetrainEvery = None, window: Window = None, epochs: Epochs = None, warm_epochs: WarmEpochs = None,
    warm_start: WarmStart = None, batch_size: BatchSize = None, learning_rate: LearningRate = None,
    threshold: Threshold = None, allow_short: AllowShort = None, size: Size = None, cash: Cash = None,
    commission: Commission = None, slippage: Slippage = None, benchmark: Benchmark = None,
) -> None:  # fmt: skip
    """Run STRATEGY over many tickers and a grid of settings on Dask; write results.csv and sweep.html."""
    from ..errors import ConfigError
    from ..selection import RANKING, TickerSelection, route
    from ..strategy_setup import choose
    from ..sweeps import ExecutorSpec, build_jobs, sweep
    from ..sweeps.plan import select_grid, select_tickers, sweep_table

    ranking = route(strategy, TickerSelection(), config_file=config)  # the argument's, else the file's strategy
    if ranking.kind == RANKING:  # a sweep's job is one ticker
        raise ConfigError(f"{ranking.strategy} ranks a universe in one run, and a sweep runs one ticker per job: use "
                          f"`bt run {ranking.strategy} --universe U`, or sweep a single-ticker strategy.")  # fmt: skip
    table = sweep_table(config)
    chosen = select_tickers(tickers=tickers, tickers_file=tickers_file, universe_name=universe, as_of=as_of,
                            table=table, notify=console.notice)  # fmt: skip
    # The base is the first ticker's run (select_tickers never gives none); every job sets its own ticker.
    base = build({**locals(), "ticker": chosen.tickers[0]}, ignore=("sweep",)).config
    jobs = build_jobs(base, chosen.tickers, select_grid(grid, table, str(config)), max_jobs=max_jobs)
    for settings in {job.config.strategy for job in jobs}:  # a setting the strategy does not take: one line now
        choose(settings)
    executor = ExecutorSpec(scheduler or "local", workers, *(None if p is None else str(p)
                                                             for p in (tls_ca_file, tls_cert, tls_key)))  # fmt: skip
    executor.check_reachable()  # a wrong --scheduler is one line now, before the sweep folder is touched
    folder = out or Path("runs") / f"sweep-{base.strategy.name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    _say_universe(chosen.describe())
    with _JobBar() as on_progress:
        try:
            result = sweep(jobs, out=folder, executor=executor, grid=select_grid(grid, table, str(config)),
                           universe=chosen.describe(), lean=lean, notify=console.notice, on_progress=on_progress)
        except KeyboardInterrupt:
            done = _finished(folder)
            console.err.print(f"interrupted: {done} of {len(jobs)} jobs have results, saved in {folder}; rerun "
                              "the same command to compute only the rest", soft_wrap=True, markup=False)  # fmt: skip
            sys.exit(130)
    console.say(f"{len(result.results)} of {len(jobs)} jobs have results ({result.computed} run now, "
                f"{result.reused} from an earlier run), {len(result.failures)} failed: see {folder}/failures.csv")
    if result.headline:
        console.say(result.headline)
    console.say(f"results: {folder / 'results.csv'}")
    if result.page is not None:
        console.say(f"verdict: {result.page}")


def _finished(folder: Path) -> int:
    """Jobs with a row in results.csv (read as text: no pandas needed to count lines)."""
    try:
        return max(0, len((folder / "results.csv").read_text(encoding="utf-8").splitlines()) - 1)
    except OSError:
        return 0


def _say_universe(universe: dict[str, Any] | None) -> None:
    if universe and universe["missing"]:
        names = ", ".join(universe["missing"][:12]) + (" ..." if len(universe["missing"]) > 12 else "")
        console.notice(f"{universe['name']}: {len(universe['missing'])} of {universe['members']} members have "
                       f"no data and are left out (survivorship): {names}")  # fmt: skip


class _JobBar:
    """A bar over jobs (done, failed, running, elapsed, time left), updated as jobs complete in any order.

    It also sees that a Ctrl-C stops the sweep: library code can swallow the KeyboardInterrupt (pandas'
    C parser turns one during a read into a parser error, which fails the job instead), so the signal
    is remembered and the sweep stops at the next job's completion if it has not stopped already.
    """

    def __enter__(self) -> Any:
        self.interrupted = False
        self.previous = signal.signal(signal.SIGINT, self._on_interrupt)
        self.bar = Progress(TextColumn("jobs"), BarColumn(), TextColumn("{task.fields[counts]}"),
                            TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                            console=console.err)  # fmt: skip
        self.task = self.bar.add_task("jobs", total=None, counts="")
        return self.update

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        self.interrupted = True
        raise KeyboardInterrupt

    def update(self, p: JobProgress) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        if not self.bar.live.is_started:
            self.bar.start()
        counts = f"{p.done + p.failed}/{p.total} done, {p.failed} failed, {p.running} running"
        self.bar.update(self.task, total=p.total, completed=p.done + p.failed, counts=counts)

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self.previous)
        self.bar.stop()


def sweep_report_command(
    folder: Annotated[Path, typer.Argument(help="A folder written by `bt sweep`.")],
) -> None:
    """Rebuild sweep.html of FOLDER from its saved results and run folders, without running anything."""
    from reports.sweep_page import write_sweep_page

    from ..folderlock import holding

    with holding(folder, "sweep folder"):  # not while a sweep still adds rows there
        page, headline = write_sweep_page(folder)
    console.say(headline)
    console.say(f"verdict: {page}")
