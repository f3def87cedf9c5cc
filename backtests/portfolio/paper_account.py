"""Reading a portfolio paper experiment: its status, and its report folder beside the equal-weight buy-and-hold
of its tickers and the benchmark over the same days."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from reports.evaluation import probabilistic_sharpe_ratio, sharpe_per_period
from reports.files import atomic_write_text, write_csv
from reports.metrics import performance
from strategies.topk import EqualWeight

from ..data import benchmark_prices, benchmark_returns, membership_mask
from ..errors import ConfigError, DataError
from ..outfolder import check_writable, staged
from ..paper.ledger import Ledger, paper_dir
from ..runfolder import package_versions
from .config import PortfolioConfig, is_portfolio
from .engine import run_portfolio_backtest
from .panel import ticker_frame
from .runner import load_all

TABLES = ("days", "positions", "orders", "fills", "forecasts", "models")
Notify = Callable[[str], None]


def ledger_tables(name: str, folder: Path | None = None) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The experiment (refused unless a portfolio) and its ledger tables; fills carry their order's ticker."""
    with Ledger(Path(folder or paper_dir())) as ledger:
        exp = ledger.experiment(name)
        if not is_portfolio(exp["config"]):
            raise ConfigError(f"{name} trades one ticker, not a portfolio")
        tables = {t: ledger.table(t, exp["id"]) for t in TABLES}
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
    """The experiment's returns beside the equal-weight buy-and-hold of its tickers and the benchmark, its
    end-of-day weights and a summary like ``bt run topk-strategy``'s; and its ledger tables."""
    exp, t = ledger_tables(name, folder)
    if len(t["days"]) < 3:
        raise DataError(f"{name} has {len(t['days'])} stepped days; a report needs at least 3 (step or replay more)")
    config = PortfolioConfig.from_dict(exp["config"])
    dates = pd.DatetimeIndex(pd.to_datetime(t["days"]["date"]), name="date")
    prices, _ = load_all(config, notify)
    member = membership_mask(list(prices), dates) if config.membership else None
    frames = {tk: ticker_frame(prices[tk], dates, pd.Series(0.0, index=dates), None if member is None else member[tk])
              for tk in sorted(prices)}  # fmt: skip
    hold = run_portfolio_backtest(frames, EqualWeight, {"size": config.run.strategy.size}, config.run.broker)
    equity = pd.Series(t["days"]["equity"].to_numpy(), index=dates)
    bench = benchmark_prices(config.run.data, notify=notify)
    returns = pd.DataFrame({"strategy": equity.pct_change().iloc[1:], "equal_weight": hold.returns,
                            "benchmark": benchmark_returns(bench, dates)})  # fmt: skip
    returns.index.name = "date"
    weights = _weights(t["positions"], frames, equity).iloc[1:]
    summary = {col: performance(returns[col]) for col in returns}
    summary["psr"] = {c: probabilistic_sharpe_ratio(returns["strategy"], _zero_if_nan(sharpe_per_period(returns[c])))
                      for c in ("equal_weight", "benchmark")}  # fmt: skip
    summary.update(fills=len(t["fills"]), days=len(returns), first_day=f"{returns.index[0]:%Y-%m-%d}",
                   last_day=f"{returns.index[-1]:%Y-%m-%d}")  # fmt: skip
    meta = {"name": name, "config": exp["config"], "summary": summary, "versions": package_versions(),
            "benchmark": {"ticker": bench.ticker, "source": bench.source}}  # fmt: skip
    return meta, {"returns": returns, "weights": weights, **t}


def _zero_if_nan(value: float) -> float:
    return 0.0 if value != value else value


def _weights(positions: pd.DataFrame, frames: dict[str, pd.DataFrame], equity: pd.Series) -> pd.DataFrame:
    """Each ticker's value at each close over the account's equity (date x ticker)."""
    closes = pd.DataFrame({tk: f["close"] for tk, f in frames.items()})
    sizes = pd.DataFrame(0.0, index=closes.index, columns=closes.columns)
    for r in positions.itertuples():
        sizes.at[pd.Timestamp(r.date), r.ticker] = r.size
    return (sizes * closes).div(equity, axis=0)


def write_portfolio_paper_report(name: str, out: Path, *, folder: Path | None = None,
                                 notify: Notify | None = None) -> dict[str, Path]:  # fmt: skip
    """report.html (the account against the equal weight and the benchmark, holdings, fills, tearsheet) and the
    ledger's tables as CSV, written whole."""
    from reports.portfolio_page import paper_portfolio_page
    from reports.tearsheet import write_tearsheet

    out = Path(out)
    check_writable(out, what="report folder", marker="report.html", overwrite=True)
    meta, tables = paper_portfolio_run(name, folder=folder, notify=notify)
    title = f"{meta['config']['data']['ticker']} paper {name} {meta['summary']['first_day']} to " \
            f"{meta['summary']['last_day']}"  # fmt: skip
    returns = tables["returns"]
    with staged(out, what="report folder") as stage:
        for table in (*TABLES, "weights"):
            write_csv(tables[table], stage / f"{table}.csv", index=table == "weights")
        bench = returns["benchmark"].rename(meta["benchmark"]["ticker"])
        write_tearsheet(returns["strategy"], bench, stage / "tearsheet.html", title=title)
        atomic_write_text(stage / "report.html", paper_portfolio_page(title, meta, returns, tables["weights"],
                                                                      tables["fills"], "tearsheet.html"))
    names = [*(f"{t}.csv" for t in (*TABLES, "weights")), "tearsheet.html", "report.html"]
    return {n: out / n for n in names}
