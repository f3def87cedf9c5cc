"""Terminal presentation for the CLI: the two consoles, one-line notices and errors, progress, tables."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:  # pandas and numpy, not needed for --help
    from reports.summaries import RunSummary

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def say(text: str) -> None:
    """One line of output; user text (names, paths) is never read as rich markup."""
    out.print(text, soft_wrap=True, markup=False)


def notice(message: str) -> None:
    """A one-line notice on stderr (data fallbacks and the like)."""
    err.print(escape(message), soft_wrap=True)


def fail(message: str, code: int) -> None:
    """Print ``error: MESSAGE`` on one line of stderr and exit with ``code``."""
    err.print(f"[red]error:[/red] {escape(' '.join(message.split()))}", soft_wrap=True)
    sys.exit(code)


@contextmanager
def fold_progress(console: Console) -> Iterator[Any]:
    """A progress bar over folds; yields the ``on_fold`` callback to pass to the library.

    The bar appears at the first callback (training starting), so a run that
    fails on its input, or needs no training, shows none.
    """
    progress = Progress(
        TextColumn("training folds"), BarColumn(), MofNCompleteColumn(),
        TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
        console=console, transient=False,
    )  # fmt: skip
    task = progress.add_task("folds", total=None)
    started = False

    def on_fold(done: int, total: int, row: dict[str, object]) -> None:
        nonlocal started
        if not started:
            progress.start()
            started = True
        progress.update(task, total=total, completed=done)

    try:
        yield on_fold
    finally:
        if started:
            progress.stop()


def _pct(value: float) -> str:
    return f"{value * 100:,.2f}%"


def summary_table(summary: RunSummary, ticker: str, benchmark: str, strategy: str) -> Table:
    """Return, CAGR, Sharpe and drawdown of the strategy, buy-and-hold and the benchmark."""
    table = Table(title=f"{ticker} {strategy}  {summary.first_day} to {summary.last_day} ({summary.days} days)")
    for col in ("", "total return", "CAGR", "Sharpe", "max drawdown"):
        table.add_column(col, justify="right" if col else "left")
    for key, label in (("strategy", strategy), ("buy_and_hold", "buy-and-hold"), ("benchmark", benchmark)):
        row = summary.performance[key]
        table.add_row(label, _pct(row.total_return), _pct(row.cagr), f"{row.sharpe:.2f}", _pct(row.max_drawdown))
    return table


def print_summary(console: Console, summary: RunSummary, *, ticker: str, benchmark: str, strategy: str,
                  model_name: str, report: Path | None, cached: bool, seconds: float) -> None:  # fmt: skip
    """The closing lines of ``bt run``."""
    from reports.wording import forecast_verdict, strategy_verdict

    console.print(summary_table(summary, ticker, benchmark, strategy))
    s = summary
    trade = strategy_verdict(s.performance["strategy"].sharpe, s.performance["buy_and_hold"].sharpe,
                             s.psr_vs_buy_and_hold, strategy)  # fmt: skip
    console.print(f"trades (fills): {s.trades}; {trade}", soft_wrap=True, markup=False)
    if (fc := s.forecast) is not None:
        model = "LSTM" if model_name == "lstm" else model_name
        console.print(
            f"forecast RMSE {fc.forecast_rmse:.4f} vs naive (tomorrow = today) {fc.naive_rmse:.4f}: "
            f"{forecast_verdict(fc.rmse_ratio, fc.dm_p_value, model)} ({fc.folds} folds"
            f"{', from cache' if cached else ''})",
            soft_wrap=True, markup=False,
        )  # fmt: skip
    if report is not None:
        console.print(f"report: {report}", soft_wrap=True)
    console.print(f"done in {seconds:.1f} s")


def timer() -> float:
    """Wall clock for the closing line."""
    return time.perf_counter()


def print_metrics(console: Console, meta: dict[str, Any], page: Path) -> None:
    """The metrics table of ``bt walk-forward``: the model and every baseline."""
    table = Table(title=f"{meta['data']['ticker']} walk-forward  {meta['period']['first_day']} to "
                        f"{meta['period']['last_day']}")  # fmt: skip
    columns = (("model", "model", str), ("rmse", "RMSE", "{:.4f}".format), ("mae", "MAE", "{:.4f}".format),
               ("mape", "MAPE", _pct), ("directional_accuracy", "direction", _pct),
               ("theils_u", "Theil's U", "{:.3f}".format), ("dm_p_value", "DM p", "{:.3g}".format))  # fmt: skip
    for _, label, _fmt in columns:
        table.add_column(label, justify="left" if label == "model" else "right", no_wrap=True)
    for row in meta["metrics"]:
        table.add_row(*("n/a" if row[key] != row[key] else fmt(row[key]) for key, _, fmt in columns))
    console.print(table)
    console.print(f"forecast report: {page}", soft_wrap=True)
