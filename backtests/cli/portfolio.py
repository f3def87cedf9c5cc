"""The ranking side of ``bt run`` and ``bt signal`` (topk-strategy over a universe) and the portfolio options:
thin bodies over ``backtests.portfolio``.

``bt run STRATEGY [TICKER ...]`` is one command; ``backtests.selection.route`` decides from the strategy's
registered kind whether it runs here (a ranking strategy) or on one ticker. The portfolio library, backtrader
and TensorFlow are imported inside the functions, so help stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import console
from .options import build

if TYPE_CHECKING:
    from ..portfolio.config import PortfolioConfig
    from ..selection import TickerSelection
    from ..sweeps.plan import Selection

SHORT = {"strategy": "top-k, model", "equal_weight": "equal weight", "topk_naive": "top-k, naive",
         "topk_ridge": "top-k, ridge", "momentum": "top-k, momentum 12-1"}  # fmt: skip
PANEL = "Ranking strategies (topk-strategy)"
K = Annotated[int | None, typer.Option("--k", help="How many names to hold. [default: 5]", rich_help_panel=PANEL)]
Weighting = Annotated[str | None, typer.Option(help="equal or inverse-volatility (trailing 60 days). "
                                                    "[default: equal]", rich_help_panel=PANEL)]  # fmt: skip
NDrop = Annotated[int | None, typer.Option(help="Replace at most N held names a day (Qlib's TopkDropout). "
                                                "[default: no limit]", rich_help_panel=PANEL)]  # fmt: skip
MaxTurnover = Annotated[float | None, typer.Option(
    help="Trade at most this fraction of equity a day, buys plus sells. [default: no limit]",
    rich_help_panel=PANEL)]  # fmt: skip
PortfolioSize = Annotated[float | None, typer.Option("--size", help="Fraction of equity per position; for a ranking "
                                                                    "strategy, invested when k names are held. "
                                                                    "[default: 0.95]")]  # fmt: skip
RULE_OPTIONS = ("k", "weighting", "n_drop", "max_turnover")


def given_options(options: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    """The option flags among ``names`` that were given (not None): what ``selection.route`` checks."""
    return [f"--{name.replace('_', '-')}" for name in names if options.get(name) is not None]


def portfolio_config(options: dict[str, Any], selection: TickerSelection, strategy: str, *,
                     defaults: dict[str, Any] | None = None) -> tuple[PortfolioConfig, Selection]:  # fmt: skip
    """The ``PortfolioConfig`` of a ranking ``strategy`` over ``selection`` (else the ``[portfolio]`` table of
    ``--config``), and the tickers chosen."""
    from ..portfolio.config import PortfolioConfig, portfolio_name, portfolio_table, rule_settings
    from ..sweeps.plan import select_tickers

    table = portfolio_table(options.get("config"))
    chosen = select_tickers(tickers=selection.tickers_text(), tickers_file=selection.tickers_file,
                            universe_name=selection.universe, as_of=selection.as_of, table=table,
                            notify=console.notice)  # fmt: skip
    universe = chosen.universe
    name = portfolio_name(universe.name if universe else None)  # run.json's data.ticker, as older readers expect
    run = build({**options, "ticker": name, "strategy": strategy}, defaults=defaults,
                ignore=("portfolio", "sweep")).config  # fmt: skip
    given = {**options, **{k: v for k, v in run.strategy.given_params().items() if options.get(k) is None}}
    config = PortfolioConfig(run, chosen.tickers, rule_settings(table, given),
                             universe.name if universe else None, universe.as_of if universe else None,
                             membership=bool(universe and universe.name == "sp500"))  # fmt: skip
    return config, chosen


def run_ranking(options: dict[str, Any], selection: TickerSelection, strategy: str) -> None:
    """``bt run`` of a ranking strategy: rank the universe by forecast each day, trade the top k, compare with
    equal weight and the other rankings, write the run folder and report, print every rule's figures."""
    from ..pipeline import RunRequest, run_and_write

    resolved, chosen = portfolio_config(options, selection, strategy)
    _say_universe(chosen)
    began = console.timer()
    tls = tuple(None if p is None else str(p) for p in (options.get(k) for k in ("tls_ca_file", "tls_cert",
                                                                                   "tls_key")))  # fmt: skip
    with _session(options.get("workers"), options.get("scheduler"), tls) as session, _TickerBar() as on_ticker:
        request = RunRequest(resolved, options.get("out"), use_cache=not options.get("no_cache"),
                             overwrite=bool(options.get("overwrite")), universe=chosen.describe())  # fmt: skip
        result, files = run_and_write(request, notify=console.notice, on_ticker=on_ticker, executor=session)
    print_portfolio(result, files.get("report.html"), console.timer() - began)


def _session(workers: int | None, scheduler: str | None, tls: tuple[str | None, ...] = (None, None, None)) -> Any:
    """The command's executor (``--scheduler``, ``--workers``: the forecasts the cache lacks and the rules'
    backtests) and its drawing process (forked now, it imports the plotting stack meanwhile); with
    ``--scheduler sync`` everything stays in this process."""
    from reports.tearsheet import prepare_drawing_process

    from ..parallel import ExecutorSession

    ca, cert, key = tls
    return ExecutorSession(scheduler, workers, (ca, cert, key), notify=console.notice, preload=prepare_drawing_process,
                           preload_tensorflow=False)  # fmt: skip


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
        if self.bar.live.is_started:  # stopping a bar never shown writes a blank line before the error
            self.bar.stop()


def print_portfolio(result: Any, report: Path | None, seconds: float) -> None:
    """The closing lines of ``bt run topk-strategy``: every rule's figures, the verdict, what was left out."""
    from rich.table import Table

    from reports.wording import strategy_verdict

    s = result.summary
    cover = s.coverage
    table = Table(title=f"{result.config.name} {result.config.run.strategy.name}  {s.first_day} to "
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


def signal_ranking(options: dict[str, Any], selection: TickerSelection, strategy: str) -> None:
    """Today's ranking of the universe, each predicted return, and the target weights for the next open."""
    from ..data import parse_tickers
    from ..portfolio.signal import portfolio_signal

    resolved, _ = portfolio_config(options, selection, strategy)
    held = parse_tickers(options["hold"]) if options.get("hold") else ()
    weight = resolved.run.strategy.size / resolved.topk.k
    s = portfolio_signal(resolved, holdings={t: weight for t in held}, notify=console.notice)
    if options.get("as_json"):
        import json

        console.out.print_json(json.dumps(s))
        return
    targets = ", ".join(f"{t} {w:.1%}" for t, w in s["targets"].items()) or "none (all cash)"
    console.say(f"{resolved.name} {s['strategy']} ({s['model']}): targets for the next open after "
                f"{s['data_through']}: {targets}; cash {s['cash']:.1%}")  # fmt: skip
    for r in s["ranking"][: max(10, resolved.topk.k)]:
        predicted = "n/a" if r["predicted_return"] is None else f"{r['predicted_return']:+.3%}"
        mark = "" if r["eligible"] else " (not eligible today)"
        console.say(f"  {r['rank'] or '-':>3} {r['ticker']:<6} predicted {predicted:>9}  target "
                    f"{r['target_weight']:.1%}{mark}")  # fmt: skip
