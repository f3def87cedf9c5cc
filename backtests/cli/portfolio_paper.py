"""The portfolio side of ``bt paper start`` (a ranking strategy: ``--strategy topk-strategy --universe ...``),
``step``, ``replay``, ``status`` and ``report``: thin bodies over ``backtests.portfolio.paper``.

``bt paper start`` comes here when ``backtests.selection.route`` finds a ranking strategy; ``bt paper step``
and the others look at the experiment and call the portfolio functions for a portfolio experiment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import console
from .portfolio import portfolio_config

if TYPE_CHECKING:
    from ..selection import TickerSelection

PAPER_DEFAULTS = {"data": {"source": "yahoo"}}  # as `bt paper start`: fresh data, the cache offline


def start(name: str, options: dict[str, Any], selection: TickerSelection, strategy: str) -> None:
    """Create experiment NAME: a paper account trading the top k of a universe (a name that exists is refused)."""
    from ..paper import paper_dir
    from ..portfolio.paper import start_portfolio

    resolved, _ = portfolio_config(options, selection, strategy, defaults=PAPER_DEFAULTS)
    _, left = start_portfolio(name, resolved, notify=console.notice)
    kept = len(resolved.tickers) - len(left)
    console.say(f"created paper experiment {name}: {resolved.name} {resolved.run.strategy.name} over "
                f"{kept} tickers (top {resolved.topk.k}), cash {resolved.run.broker.cash:,.2f}, in {paper_dir()}")
    if left:
        console.notice(f"left out for lack of data: {', '.join(left)}")
    console.say(f"next: bt paper step {name}   or   bt paper replay {name} --start YYYY-MM-DD")


def is_portfolio_experiment(name: str) -> bool:
    """Whether experiment ``name`` exists and trades a portfolio (False when there is no ledger or no such name)."""
    from ..errors import BtError
    from ..paper import paper_dir
    from ..paper.ledger import Ledger
    from ..portfolio.config import is_portfolio

    if not (paper_dir() / "paper.db").exists():
        return False
    try:
        with Ledger(paper_dir()) as ledger:
            return is_portfolio(ledger.experiment(name)["config"])
    except BtError:
        return False  # the single-ticker command reports it, in its words


def step(name: str, date: Any) -> None:
    """``bt paper step`` of a portfolio experiment."""
    from ..portfolio.paper import step_portfolio

    result = step_portfolio(name, date=date, notify=console.notice, on_day=lambda d, t, report: print_day(report))
    if not result.days:
        _nothing(name, result)


def replay(name: str, start: Any, end: Any, on_day: Any) -> None:
    """``bt paper replay`` of a portfolio experiment (``on_day`` drives the progress bar)."""
    from ..portfolio.paper import replay_portfolio

    result = replay_portfolio(name, start=start, end=end, notify=console.notice, on_day=on_day)
    if not result.days:
        _nothing(name, result)
        return
    first, last = result.days[0], result.days[-1]
    fills = sum(len(r.fills) for r in result.days)
    console.say(f"{name}: stepped {len(result.days)} days, {first.date:%Y-%m-%d} to {last.date:%Y-%m-%d}; "
                f"{fills} fills")  # fmt: skip
    _account(last)


def _nothing(name: str, result: Any) -> None:
    through = "no day yet" if result.stepped_through is None else f"{result.stepped_through:%Y-%m-%d}"
    console.say(f"{name}: nothing to step; already stepped through {through} and the data ends on "
                f"{result.data_end:%Y-%m-%d}. Nothing was changed.")  # fmt: skip


def print_day(r: Any) -> None:
    """One stepped day: fills, retrains, targets and orders queued, the account."""
    head = f"{r.name} {r.date:%Y-%m-%d} (day {r.step})"
    if r.step == 0:
        head += ": opened the account (the first decision; nothing to fill yet)"
    else:
        head += f": {len(r.fills)} fills" + (f", {r.rejected} orders rejected (not enough cash)" if r.rejected else "")
    console.say(head)
    for f in r.fills:
        console.say(f"  {'bought' if f['action'] == 'buy' else 'sold'} {f['size']} {f['ticker']} at "
                    f"{f['price']:,.4f} (commission {f['commission']:,.2f})")  # fmt: skip
    if r.retrained:
        console.say(f"  retrained the models of {r.retrained} tickers")
    targets = ", ".join(f"{t} {w:.1%}" for t, w in r.targets.items() if w > 0) or "none (cash)"
    console.say(f"  targets for the next open: {targets}")
    orders = ", ".join(f"{'buy' if s > 0 else 'sell'} {abs(s)} {t}" for t, s in r.orders) or "no order"
    console.say(f"  queued: {orders}")
    _account(r)


def _account(r: Any) -> None:
    console.say(f"  equity {r.equity:,.2f} ({r.equity / r.start_cash - 1:+.2%}), cash {r.cash:,.2f}")


def status(name: str, as_json: bool) -> None:
    """``bt paper status`` of a portfolio experiment."""
    from ..portfolio.paper_account import portfolio_status

    info = portfolio_status(name)
    if as_json:
        console.out.print_json(json.dumps(info, default=str))
        return
    through = f" through {info['last_date']}" if info["last_date"] else ""
    console.say(f"{info['name']}: {info['universe']} {info['strategy']} ({info['model']}, top {info['k']} of "
                f"{len(info['tickers'])}), {info['days']} days stepped{through}")  # fmt: skip
    held = ", ".join(f"{t} {s}" for t, s in info["positions"].items()) or "nothing"
    console.say(f"  equity {info['equity']:,.2f} ({info['total_return']:+.2%}), cash {info['cash']:,.2f}, "
                f"holding {held}; {info['fills']} fills")  # fmt: skip
    for q in info["queued_orders"]:
        console.say(f"  queued: {'buy' if q['size'] > 0 else 'sell'} {abs(q['size'])} {q['ticker']} "
                    f"(decided {q['decided']})")  # fmt: skip
    if info["model_version"]:
        console.say(f"  models v{info['model_version']['version']} trained {info['model_version']['date']}")


def report(name: str, out: Path, *, overwrite: bool = False) -> None:
    """``bt paper report`` of a portfolio experiment (an earlier report in ``out`` replaced only with ``overwrite``)."""
    from ..portfolio.paper_account import write_portfolio_paper_report

    paths = write_portfolio_paper_report(name, out, notify=console.notice, overwrite=overwrite)
    console.say(f"report: {paths['report.html']}")
    console.say(f"orders: {paths['orders.csv']}  fills: {paths['fills.csv']}")
