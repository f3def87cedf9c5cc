"""Reading a paper experiment, one ticker or a portfolio: the list, one experiment's status, its report folder.

``experiments``, ``status`` and ``write_report`` take any experiment; the ledger says what it trades. One
ticker's report compares the account with buy-and-hold and the benchmark over its days; a portfolio's with what
``bt run topk-strategy`` compares its strategy with, over exactly the account's days: the equal-weight
buy-and-hold of its tickers (rebalanced monthly), the same top-k rule on the naive and the ridge baselines'
forecasts and on 12-1 momentum (``rules.run_rules``), and the benchmark, with the PSR of the account against each
(``rules.compare``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from reports.files import atomic_write_text, write_csv
from reports.saved import SavedRun
from reports.wording import forecast_verdict, strategy_verdict
from strategies.classic import BuyAndHold

from ..config import RunConfig
from ..data import PriceData, benchmark_prices, benchmark_returns, membership_mask, ticker_prices
from ..engine import FILL_COLUMNS, BacktestResult, run_backtest
from ..errors import ConfigError
from ..outfolder import check_writable, staged
from ..portfolio.config import PortfolioConfig
from ..portfolio.forecasts import TickerForecasts, baseline_forecasts
from ..portfolio.panel import ticker_frame
from ..portfolio.rules import RULES, compare, run_rules
from ..portfolio.runner import load_all
from ..runfolder import package_versions
from ..runner import summarise
from .experiment import REPORT_DAYS, Notify, experiment_tables, is_portfolio_experiment
from .ledger import TABLES, Ledger, paper_dir


def experiments(*, folder: Path | None = None) -> list[dict[str, Any]]:
    """One summary per experiment (name, ticker, strategy, days, last date, equity, return)."""
    folder = Path(folder or paper_dir())
    if not (folder / "paper.db").exists():
        return []
    with Ledger(folder) as ledger:
        return [_summary(ledger, exp) for exp in ledger.experiments()]


def status(name: str, *, folder: Path | None = None) -> dict[str, Any]:
    """The experiment's account, queued order, last forecast, model version, settings and verdicts (a portfolio's:
    ``portfolio_status``)."""
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
    A portfolio's report is ``write_portfolio_paper_report``'s.
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
