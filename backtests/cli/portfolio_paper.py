"""The portfolio side of ``bt paper start`` (a ranking strategy: ``--strategy topk-strategy --universe ...``),
and how ``bt paper step``, ``replay`` and ``status`` print a portfolio's days and account: thin over
``backtests.paper``.

``bt paper start`` comes here (``start``) when ``backtests.selection.route`` finds a ranking strategy;
``bt paper step`` and the others call the one paper library, which opens the experiment as its ledger
says, and print with ``print_day``, ``print_replayed`` and ``print_status`` when it trades a portfolio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import console
from .portfolio import portfolio_config

if TYPE_CHECKING:
    from ..selection import TickerSelection

PAPER_DEFAULTS = {"data": {"source": "yahoo"}}  # as `bt paper start`: fresh data, the cache offline


def start(name: str, options: dict[str, Any], selection: TickerSelection, strategy: str) -> None:
    """Create experiment NAME: a paper account trading the top k of a universe (a name that exists is refused)."""
    from ..paper import paper_dir, start_portfolio

    resolved, _ = portfolio_config(options, selection, strategy, defaults=PAPER_DEFAULTS)
    _, left = start_portfolio(name, resolved, notify=console.notice)
    kept = len(resolved.tickers) - len(left)
    console.say(f"created paper experiment {name}: {resolved.name} {resolved.run.strategy.name} over "
                f"{kept} tickers (top {resolved.topk.k}), cash {resolved.run.broker.cash:,.2f}, in {paper_dir()}")
    if left:
        console.notice(f"left out for lack of data: {', '.join(left)}")
    console.say(f"next: bt paper step {name}   or   bt paper replay {name} --start YYYY-MM-DD")


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


def print_status(info: dict[str, Any]) -> None:
    """``bt paper status`` of a portfolio experiment, in words."""
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


def print_replayed(name: str, days: list[Any]) -> None:
    """The end of ``bt paper replay`` of a portfolio: the days stepped, the fills and the account."""
    first, last = days[0], days[-1]
    fills = sum(len(r.fills) for r in days)
    console.say(f"{name}: stepped {len(days)} days, {first.date:%Y-%m-%d} to {last.date:%Y-%m-%d}; {fills} fills")
    _account(last)
