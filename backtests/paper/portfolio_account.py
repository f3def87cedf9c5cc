"""Reading a portfolio paper experiment: its status, and its report folder (``account`` hands them over).

The report compares the account with what ``bt run topk-strategy`` compares its strategy with, over exactly
the account's days: the equal-weight buy-and-hold of its tickers (rebalanced monthly), the same top-k rule on
the naive and the ridge baselines' forecasts and on 12-1 momentum (``rules.run_rules``), and the benchmark,
with the PSR of the account against each (``rules.compare``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from reports.files import atomic_write_text, write_csv

from ..data import PriceData, benchmark_prices, benchmark_returns, membership_mask
from ..engine import FILL_COLUMNS, BacktestResult
from ..errors import ConfigError
from ..outfolder import check_writable, staged
from ..portfolio.config import PortfolioConfig
from ..portfolio.forecasts import TickerForecasts, baseline_forecasts
from ..portfolio.panel import ticker_frame
from ..portfolio.rules import RULES, compare, run_rules
from ..portfolio.runner import load_all
from ..runfolder import package_versions
from .experiment import Notify, experiment_tables
from .ledger import TABLES

DATED = ("weights", "returns")  # the report's tables indexed by date, beside the ledger's
COMPARISONS = tuple(r for r in RULES if r != "strategy")  # the account itself is the strategy


def ledger_tables(name: str, folder: Path | None = None, *,
                  report: bool = False) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:  # fmt: skip
    """The experiment (refused unless a portfolio) and its ledger tables (``report``: as ``experiment_tables``);
    fills carry their order's ticker."""
    exp, tables = experiment_tables(name, folder=folder, report=report)
    if not exp["portfolio"]:
        raise ConfigError(f"{name} trades one ticker, not a portfolio")
    tickers = tables["orders"].set_index("id")["ticker"]
    fills = tables["fills"]
    fills.insert(3, "ticker", fills["order_id"].map(tickers).to_numpy() if len(fills) else [])
    return exp, tables


def portfolio_status(name: str, *, folder: Path | None = None) -> dict[str, Any]:
    """The account at the last close, the names held, the orders queued, the last forecasts and the model."""
    exp, t = ledger_tables(name, folder)
    config, days = exp["config"], t["days"]
    cash0 = config["broker"]["cash"]
    last = days.iloc[-1] if len(days) else None
    out = {"name": name, "universe": config["data"]["ticker"], "tickers": config["portfolio"]["tickers"],
           "strategy": config["strategy"]["name"], "model": config["forecast"]["model"], "k": config["portfolio"]["k"],
           "created": exp["created"], "start_cash": cash0, "days": len(days), "fills": len(t["fills"]),
           "last_date": None if last is None else last["date"],
           "cash": cash0 if last is None else float(last["cash"]),
           "equity": cash0 if last is None else float(last["equity"])}  # fmt: skip
    out["total_return"] = out["equity"] / cash0 - 1.0
    held = t["positions"][t["positions"]["date"] == out["last_date"]]
    out["positions"] = {r.ticker: int(r.size) for r in held.itertuples()}
    queued = t["orders"][t["orders"]["status"] == "queued"]
    out["queued_orders"] = [{"ticker": r.ticker, "size": int(r.size), "decided": r.decision_date}
                            for r in queued.itertuples()]  # fmt: skip
    fc = t["forecasts"][t["forecasts"]["origin_date"] == out["last_date"]]
    out["last_forecasts"] = {r.ticker: {"forecast": float(r.forecast), "close": float(r.close),
                                        "predicted_return": float(r.forecast / r.close - 1.0)}
                             for r in fc.itertuples()}  # fmt: skip
    models = t["models"]
    out["model_version"] = None if models.empty else {"version": int(models["version"].iloc[-1]),
                                                      "date": str(models["date"].iloc[-1])}  # fmt: skip
    out["config"] = config
    return out


def paper_portfolio_run(name: str, *, folder: Path | None = None,
                        notify: Notify | None = None) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:  # fmt: skip
    """The account's returns beside those of the rules ``bt run topk-strategy`` compares with (``COMPARISONS``)
    and the benchmark's, all over the account's days; its end-of-day weights; a summary like ``bt run``'s (the
    PSR of the account against each); and its ledger tables."""
    exp, t = ledger_tables(name, folder, report=True)
    config = PortfolioConfig.from_dict(exp["config"])
    dates = pd.DatetimeIndex(pd.to_datetime(t["days"]["date"]), name="date")
    loaded, _ = load_all(config, notify)
    prices = {tk: loaded[tk] for tk in sorted(loaded)}
    member = membership_mask(list(prices), dates) if config.membership else None
    account = ledger_backtest(t, prices, dates)
    forecasts = paper_forecasts(config, prices, t["forecasts"], dates)
    runs = {"strategy": account, **run_rules(config, prices, forecasts, dates, member, names=COMPARISONS)}
    bench = benchmark_prices(config.run.data, notify=notify)
    returns, summary = compare(runs, benchmark_returns(bench, dates), prices, dates, config.run.broker.cash)
    meta = {"name": name, "config": exp["config"], "summary": summary.to_dict(), "versions": package_versions(),
            "benchmark": {"ticker": bench.ticker, "source": bench.source}}  # fmt: skip
    return meta, {"returns": returns, "weights": account.weights.iloc[1:], **t}


def ledger_backtest(t: dict[str, pd.DataFrame], prices: dict[str, PriceData],
                    dates: pd.DatetimeIndex) -> BacktestResult:  # fmt: skip
    """The account as its ledger has it, in the form a backtest takes (so ``rules.compare`` treats it as one):
    equity at each close, fills with tickers, end-of-day weights, and the orders rejected."""
    equity = pd.Series(t["days"]["equity"].to_numpy(dtype=float), index=dates, name="equity")
    fills = t["fills"].assign(date=pd.to_datetime(t["fills"]["date"]))[FILL_COLUMNS].reset_index(drop=True)
    flat = pd.Series(0.0, index=dates)
    closes = pd.DataFrame({tk: ticker_frame(p, dates, flat)["close"] for tk, p in prices.items()})
    sizes = pd.DataFrame(0.0, index=dates, columns=closes.columns)
    for r in t["positions"].itertuples():
        sizes.at[pd.Timestamp(r.date), r.ticker] = r.size
    refused = int((t["orders"]["status"] == "rejected").sum())
    return BacktestResult(equity, fills, (sizes * closes).div(equity, axis=0), refused, [])


def paper_forecasts(config: PortfolioConfig, prices: dict[str, PriceData], ledger: pd.DataFrame,
                    dates: pd.DatetimeIndex) -> dict[str, TickerForecasts]:  # fmt: skip
    """Per ticker: the forecasts the account traded on (the ledger's, each over the close it was made at) and the
    compared baselines' walk-forwards over the account's target days, as ``bt run`` over those days has them.

    The baselines are computed afresh, not read from or written to the forecast cache: they are cheap, and a
    report then writes nothing outside its folder.
    """
    first, last = dates[1].date(), dates[-1].date()
    out = {}
    for ticker, p in prices.items():
        own = ledger[ledger["ticker"] == ticker]
        model = pd.DataFrame({"origin_date": pd.to_datetime(own["origin_date"]).to_numpy(),
                              "forecast": own["forecast"].to_numpy(dtype=float),
                              "naive": own["close"].to_numpy(dtype=float)})  # fmt: skip
        baselines = baseline_forecasts(config.ticker_run(ticker, first, last), p, None)
        out[ticker] = TickerForecasts(ticker, model, baselines, int(own["model_version"].nunique()), False)
    return out


def write_portfolio_paper_report(name: str, out: Path, *, folder: Path | None = None,
                                 notify: Notify | None = None, overwrite: bool = False) -> dict[str, Path]:  # fmt: skip
    """report.html (the account against every comparison and the benchmark, holdings, fills, tearsheet), the
    ledger's tables, ``weights.csv`` and ``returns.csv`` (date x the account, each comparison and the benchmark)
    as CSV, written whole; an earlier report folder is replaced only with ``overwrite`` (and only bt's files)."""
    from reports.page import paper_portfolio_page
    from reports.tearsheet import write_tearsheet

    out = Path(out)
    check_writable(out, what="report folder", marker="report.html", overwrite=overwrite)
    meta, tables = paper_portfolio_run(name, folder=folder, notify=notify)
    title = f"{meta['config']['data']['ticker']} paper {name} {meta['summary']['first_day']} to " \
            f"{meta['summary']['last_day']}"  # fmt: skip
    returns = tables["returns"]
    with staged(out, what="report folder") as stage:
        for table in (*TABLES, *DATED):
            write_csv(tables[table], stage / f"{table}.csv", index=table in DATED)
        bench = returns["benchmark"].rename(meta["benchmark"]["ticker"])
        write_tearsheet(returns["strategy"], bench, stage / "tearsheet.html", title=title)
        atomic_write_text(stage / "report.html", paper_portfolio_page(title, meta, returns, tables["weights"],
                                                                      tables["fills"], "tearsheet.html"))
    names = [*(f"{t}.csv" for t in (*TABLES, *DATED)), "tearsheet.html", "report.html"]
    return {n: out / n for n in names}
