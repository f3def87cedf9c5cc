"""Reading a paper experiment: the list, one experiment's status, and its report folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from reports.files import write_csv

from ..config import RunConfig
from ..data import benchmark_prices, benchmark_returns
from ..errors import DataError
from .ledger import Ledger, paper_dir

Notify = Callable[[str], None]

def experiments(*, folder: Path | None = None) -> list[dict[str, Any]]:
    """One summary per experiment (name, ticker, strategy, days, last date, equity, return)."""
    folder = Path(folder or paper_dir())
    if not (folder / "paper.db").exists():
        return []
    with Ledger(folder) as ledger:
        return [_summary(ledger, exp) for exp in ledger.experiments()]


def status(name: str, *, folder: Path | None = None) -> dict[str, Any]:
    """The experiment's account, queued order, last forecast, model version and settings."""
    with Ledger(Path(folder or paper_dir())) as ledger:
        exp = ledger.experiment(name)
        eid, out = exp["id"], _summary(ledger, exp)
        queued, model = ledger.queued_order(eid), ledger.latest_model(eid)
        forecasts = ledger.table("forecasts", eid)
        out["queued_order"] = None if queued is None else {"decided": f"{queued.decision_date:%Y-%m-%d}",
                                                           "size": queued.size}  # fmt: skip
        out["last_forecast"] = None if forecasts.empty else {
            k: forecasts[k].iloc[-1] for k in ("origin_date", "forecast", "close")}  # fmt: skip
        out["model_version"] = None if model is None else {k: model[k] for k in ("version", "train_start", "train_end")}
        out["fills"] = len(ledger.table("fills", eid))
        out["config"] = exp["config"]
        return out


def _summary(ledger: Ledger, exp: dict[str, Any]) -> dict[str, Any]:
    config, last = exp["config"], ledger.last_day(exp["id"])
    cash0 = config["broker"]["cash"]
    base = {"name": exp["name"], "ticker": config["data"]["ticker"], "strategy": config["strategy"]["name"],
            "model": config["forecast"]["model"], "created": exp["created"], "start_cash": cash0}  # fmt: skip
    if last is None:
        return {**base, "days": 0, "last_date": None, "cash": cash0, "position": 0, "equity": cash0,
                "total_return": 0.0}  # fmt: skip
    return {**base, "days": last.step + 1, "last_date": f"{last.date:%Y-%m-%d}", "cash": last.cash,
            "position": last.size, "position_price": last.price, "equity": last.equity,
            "total_return": last.equity / cash0 - 1.0}  # fmt: skip


def write_report(name: str, out: Path, *, folder: Path | None = None, notify: Notify | None = None) -> dict[str, Path]:
    """A quantstats report of the paper account against the benchmark, plus the ledger's tables as CSV."""
    from reports.tearsheet import write_tearsheet

    with Ledger(Path(folder or paper_dir())) as ledger:
        exp = ledger.experiment(name)
        names = ("days", "positions", "orders", "fills", "forecasts", "models")
        tables = {t: ledger.table(t, exp["id"]) for t in names}
    days = tables["days"]
    if len(days) < 3:
        raise DataError(f"{name} has {len(days)} stepped days; a report needs at least 3 (step or replay more)")
    config = RunConfig.from_dict(exp["config"])
    equity = pd.Series(days["equity"].to_numpy(), index=pd.DatetimeIndex(days["date"], name="date"))
    benchmark = benchmark_returns(benchmark_prices(config.data, notify=notify), equity.index)
    out, paths = Path(out), {}
    for table, frame in tables.items():
        paths[f"{table}.csv"] = out / f"{table}.csv"
        write_csv(frame, paths[f"{table}.csv"], index=False)
    span = f"{equity.index[0]:%Y-%m-%d} to {equity.index[-1]:%Y-%m-%d}"
    title = f"{config.data.ticker} {config.strategy.name} paper {name} {span}"
    paths["report.html"] = write_tearsheet(equity.pct_change().iloc[1:], benchmark, out / "report.html", title=title)
    return paths
