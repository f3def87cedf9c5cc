"""Reading a paper experiment, one ticker or a portfolio: the list, one experiment's status, its report folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from reports.files import atomic_write_text, write_csv
from reports.saved import SavedRun
from reports.wording import forecast_verdict, strategy_verdict
from strategies.classic import BuyAndHold

from ..config import RunConfig
from ..data import benchmark_prices, benchmark_returns, ticker_prices
from ..engine import run_backtest
from ..outfolder import check_writable, staged
from ..runfolder import package_versions
from ..runner import summarise
from .experiment import REPORT_DAYS, Notify, experiment_tables, is_portfolio_experiment
from .ledger import Ledger, paper_dir
from .portfolio_account import portfolio_status, write_portfolio_paper_report


def experiments(*, folder: Path | None = None) -> list[dict[str, Any]]:
    """One summary per experiment (name, ticker, strategy, days, last date, equity, return)."""
    folder = Path(folder or paper_dir())
    if not (folder / "paper.db").exists():
        return []
    with Ledger(folder) as ledger:
        return [_summary(ledger, exp) for exp in ledger.experiments()]


def status(name: str, *, folder: Path | None = None) -> dict[str, Any]:
    """The experiment's account, queued order, last forecast, model version, settings and verdicts (a portfolio's:
    ``portfolio_account.portfolio_status``)."""
    if is_portfolio_experiment(name, folder=folder):
        return portfolio_status(name, folder=folder)
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
    out["verdicts"] = verdicts(paper_run(name, folder=folder)[0]) if out["days"] >= REPORT_DAYS else []
    return out


def _summary(ledger: Ledger, exp: dict[str, Any]) -> dict[str, Any]:
    config, last = exp["config"], ledger.last_day(exp["id"])
    cash0 = config["broker"]["cash"]
    base = {"name": exp["name"], "ticker": config["data"]["ticker"], "strategy": config["strategy"]["name"],
            "model": config["forecast"]["model"], "created": exp["created"], "start_cash": cash0}  # fmt: skip
    if exp["portfolio"]:  # many tickers: the account from its days, the position as names held
        row = ledger.last_account(exp["id"])
        if row is not None:
            held = ledger.positions_at(exp["id"], pd.Timestamp(row["date"]))
            return {**base, "days": row["step"] + 1, "last_date": row["date"], "cash": row["cash"],
                    "position": len(held), "equity": row["equity"], "total_return": row["equity"] / cash0 - 1.0}
    if last is None:
        return {**base, "days": 0, "last_date": None, "cash": cash0, "position": 0, "equity": cash0,
                "total_return": 0.0}  # fmt: skip
    return {**base, "days": last.step + 1, "last_date": f"{last.date:%Y-%m-%d}", "cash": last.cash,
            "position": last.size, "position_price": last.price, "equity": last.equity,
            "total_return": last.equity / cash0 - 1.0}  # fmt: skip


def _returns_and_forecasts(config: RunConfig, tables: dict[str, pd.DataFrame],
                           notify: Notify | None) -> tuple[pd.DataFrame, pd.DataFrame | None, Any]:  # fmt: skip
    """The account's daily returns beside buy-and-hold's and the benchmark's over the same days, and the
    forecasts table (each forecast against the next day's close and the naive forecast)."""
    days = tables["days"]
    dates = pd.DatetimeIndex(pd.to_datetime(days["date"]), name="date")
    prices = ticker_prices(config.data, notify=notify)
    bars = prices.frame.loc[dates]
    hold = run_backtest({config.data.ticker: bars}, BuyAndHold, {"size": config.strategy.size}, config.broker)
    equity = pd.Series(days["equity"].to_numpy(), index=dates)
    bench = benchmark_prices(config.data, notify=notify)
    returns = pd.DataFrame({"strategy": equity.pct_change().iloc[1:], "buy_and_hold": hold.returns,
                            "benchmark": benchmark_returns(bench, dates)})  # fmt: skip
    returns.index.name = "date"
    fc = tables["forecasts"]
    if fc.empty:
        return returns, None, (prices, bench)
    index, close = prices.frame.index, prices.frame["close"]
    origin = pd.DatetimeIndex(pd.to_datetime(fc["origin_date"]))
    after = index.searchsorted(origin, side="right")
    known = after < len(index)
    column = {c: fc[c].to_numpy()[known] for c in ("forecast", "close", "model_version")}
    table = pd.DataFrame({"target_date": index[after[known]], "origin_date": origin[known],
                          "forecast": column["forecast"], "actual": close.to_numpy()[after[known]],
                          "naive": column["close"], "fold": column["model_version"]})  # fmt: skip
    return returns, (table if len(table) >= 3 else None), (prices, bench)


def paper_run(name: str, *, folder: Path | None = None, notify: Notify | None = None) -> tuple[SavedRun, dict]:
    """The experiment as a saved run: returns, fills, forecasts and a summary like ``bt run``'s, and its tables."""
    exp, tables = experiment_tables(name, folder=folder, report=True)
    config = RunConfig.from_dict(exp["config"])
    returns, forecasts, (prices, bench) = _returns_and_forecasts(config, tables, notify)
    summary = summarise(returns, len(tables["fills"]), forecasts)
    describe = {"ticker": prices.ticker, "source": prices.source, "last_date": f"{prices.last_date:%Y-%m-%d}"}
    meta = {"name": name, "config": exp["config"], "summary": summary.to_dict(), "data": describe,
            "benchmark": {"ticker": bench.ticker, "source": bench.source},
            "period": {"first_day": summary.first_day, "last_day": summary.last_day},
            "versions": package_versions()}  # fmt: skip
    return SavedRun(Path("."), meta, returns, tables["fills"], forecasts, None, None), tables


def verdicts(run: SavedRun) -> list[str]:
    """The strategy verdict and, with forecasts, the forecast verdict: the sentences ``bt run`` prints."""
    s, strategy = run.meta["summary"], run.meta["config"]["strategy"]["name"]
    words = [strategy_verdict(s["strategy"]["sharpe"], s["buy_and_hold"]["sharpe"], s["psr_vs_buy_and_hold"],
                              strategy)]  # fmt: skip
    if run.forecasts is not None:
        model = run.meta["config"]["forecast"]["model"]
        words.append(forecast_verdict(s["rmse_ratio"], s["dm_p_value"], "LSTM" if model == "lstm" else model))
    return words


def write_report(name: str, out: Path, *, folder: Path | None = None, notify: Notify | None = None,
                 overwrite: bool = False) -> dict[str, Path]:  # fmt: skip
    """report.html (the headline of ``bt run``'s report, equity, fills, tearsheet) and the ledger's tables as CSV.

    An earlier report folder is replaced only with ``overwrite``, and only when it holds nothing bt did not write.
    A portfolio's report is ``portfolio_account.write_portfolio_paper_report``'s.
    """
    from reports.page import paper_page
    from reports.tearsheet import write_tearsheet

    if is_portfolio_experiment(name, folder=folder):
        return write_portfolio_paper_report(name, out, folder=folder, notify=notify, overwrite=overwrite)
    out = Path(out)
    check_writable(out, what="report folder", marker="report.html", overwrite=overwrite)
    run, tables = paper_run(name, folder=folder, notify=notify)
    period = run.meta["period"]
    title = f"{run.meta['data']['ticker']} paper {name} {period['first_day']} to {period['last_day']}"
    with staged(out, what="report folder") as stage:
        for table, frame in tables.items():
            write_csv(frame, stage / f"{table}.csv", index=False)
        returns = run.returns_table()
        write_tearsheet(returns["strategy"], returns["benchmark"], stage / "tearsheet.html", title=title)
        atomic_write_text(stage / "report.html", paper_page(run, "tearsheet.html"))
    return {name: out / name for name in [*(f"{t}.csv" for t in tables), "tearsheet.html", "report.html"]}
