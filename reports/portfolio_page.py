"""The portfolio run's one-page report: headline and PSR against every comparison, equity, holdings,
turnover and costs, each ticker's forecast verdict (Holm and Benjamini-Hochberg, as in a sweep), the
trades, the quantstats tearsheet and the provenance.

Built only from a saved folder (``reports.portfolio_saved``), so ``bt run topk-strategy`` and
``bt report`` write the same page; everything is inline, so it opens offline.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from .build import Draw, write_page
from .files import atomic_write_text
from .page import html_table, page, trades_table
from .portfolio_charts import equity_curves, holdings_heatmap, turnover_chart
from .portfolio_saved import RULE_LABELS, SavedPortfolio, load_portfolio
from .sweep_stats import VERDICTS, forecast_verdicts, format_p, pooled_dm, sign_test
from .tearsheet import tearsheet_html
from .wording import sentence, strategy_verdict

MAX_TRADES = 1000  # fills shown on the page (a table of thousands of rows slows the page, not the reader)


def _pct(x: float) -> str:
    return "–" if x != x else f"{x * 100:.2f}%"


def _num(x: float) -> str:
    return "–" if x != x else f"{x:.2f}"


def labels(run: SavedPortfolio) -> dict[str, str]:
    """What the page calls each return column."""
    bench = run.meta["benchmark"]["ticker"]
    return {**RULE_LABELS, "strategy": f"{run.meta['config']['strategy']['name']} ({_model(run)} forecasts)",
            "benchmark": f"benchmark ({bench})"}  # fmt: skip


def _model(run: SavedPortfolio) -> str:
    model = run.meta["config"]["forecast"]["model"]
    return "LSTM" if model == "lstm" else model


def headline_rows(run: SavedPortfolio) -> pd.DataFrame:
    """One row per rule and the benchmark: performance, the strategy's PSR against it, turnover and costs."""
    return rule_rows(run.meta["summary"], list(run.returns.columns), labels(run), "the strategy")


def rule_rows(s: dict, columns: list[str], names: dict[str, str], who: str) -> pd.DataFrame:
    """One row per column of a summary: performance, the PSR of ``who`` (the strategy, the account) against it,
    turnover and costs (a run report's and a paper report's headline)."""
    rows = []
    for col in columns:
        act = s["activity"].get(col, {})
        rows.append({"": names.get(col, col), "total return": _pct(s[col]["total_return"]),
                     "CAGR": _pct(s[col]["cagr"]), "Sharpe": _num(s[col]["sharpe"]),
                     "max drawdown": _pct(s[col]["max_drawdown"]),
                     f"PSR of {who} against it": "–" if col == "strategy" else _num(s["psr"][col]),
                     "turnover / year": _pct(act["turnover_per_year"]) if act else "–",
                     "costs paid": _pct(act["costs_fraction"]) if act else "–"})  # fmt: skip
    return pd.DataFrame(rows)


def headline(run: SavedPortfolio) -> str:
    """Section 1: the verdict against the equal-weight buy-and-hold, the table, and what was left out."""
    s, meta = run.meta["summary"], run.meta
    name = meta["config"]["strategy"]["name"]
    verdict = strategy_verdict(s["strategy"]["sharpe"], s["equal_weight"]["sharpe"], s["psr"]["equal_weight"], name)
    verdict = verdict.replace("buy-and-hold", "the equal-weight buy-and-hold")
    p = meta["portfolio"]
    rule = (f"Each close ranks {s['tickers']} tickers by predicted return and targets the top {p['k']} "
            f"({p['weighting']} weights, {meta['config']['strategy']['size']:.0%} of equity invested when {p['k']} "
            f"are held; cash for names not above the threshold {meta['config']['strategy']['threshold']:g})"
            + (f", replacing at most {p['n_drop']} a day" if p["n_drop"] is not None else "")
            + (f", trading at most {p['max_turnover']:.0%} of equity a day" if p["max_turnover"] else "")
            + "; orders fill at the next open.")  # fmt: skip
    left = f" {s['left_out']} tickers were left out (see the forecasts section)." if s["left_out"] else ""
    universe = meta.get("universe") or {}
    missing = f" {len(universe.get('missing', []))} members of {universe['name']} have no price data." \
        if universe.get("missing") else ""  # fmt: skip
    return (f'<p class="verdict">{html.escape(sentence(verdict))}</p>'
            f"{html_table(headline_rows(run), index=False)}"
            f"<p>{html.escape(rule)} Trades (fills): {s['trades']}; PSR {_num(s['psr_vs_zero'])} that the strategy's "
            f"true Sharpe exceeds 0.{html.escape(left + missing)}</p>"
            '<p class="note">PSR: the probability that the strategy\'s true Sharpe ratio exceeds that row\'s '
            "(Bailey and Lopez de Prado); every row is over the same days.</p>")  # fmt: skip


def activity_section(run: SavedPortfolio) -> str:
    """Turnover chart and the fills, turnover and costs of each rule."""
    s, names = run.meta["summary"], labels(run)
    rows = [{"": names.get(k, k), "fills": a["fills"], "orders refused": a["refused"],
             "turnover / year": _pct(a["turnover_per_year"]), "commission": f"{a['commission']:,.2f}",
             "slippage": f"{a['slippage']:,.2f}", "costs, % of starting cash": _pct(a["costs_fraction"])}
            for k, a in s["activity"].items()]  # fmt: skip
    return (f'<img alt="turnover" src="{turnover_chart(run.turnover, names)}">'
            f"{html_table(pd.DataFrame(rows), index=False)}"
            '<p class="note">Turnover: value bought plus sold over equity. Slippage: each fill\'s price against '
            "that day's open, times the shares.</p>")  # fmt: skip


def verdict_table(run: SavedPortfolio) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The used tickers with Holm and BH adjusted DM p-values and verdicts, and the left-out ones."""
    used = run.tickers[run.tickers["status"] == "used"].reset_index(drop=True)
    return forecast_verdicts(used), run.tickers[run.tickers["status"] != "used"]


def forecast_section(run: SavedPortfolio) -> str:
    """Per-ticker verdicts against the naive forecast, the pooled DM and sign tests, and the tickers left out."""
    table, left = verdict_table(run)
    counts = {v: int((table["verdict_holm"] == v).sum()) for v in VERDICTS}
    words = (f"Against the naive forecast, across {len(table)} tickers after Holm's adjustment: "
             f"{counts['better']} better, {counts['not different']} not different, {counts['worse']} worse.")
    by_ticker = {t: f.drop(columns="ticker") for t, f in run.forecasts.groupby("ticker")}
    tests = f"{pooled_dm(by_ticker).words()} {sign_test(table['rmse'], table['naive_rmse']).words()}"
    shown = table[["ticker", "rmse", "naive_rmse", "theils_u", "dm_stat", "dm_p_value", "p_holm", "p_bh",
                   "verdict_holm", "verdict_bh", "directional_accuracy"]].copy()  # fmt: skip
    for col in ("dm_p_value", "p_holm", "p_bh"):
        shown[col] = shown[col].map(format_p)
    shown["directional_accuracy"] = shown["directional_accuracy"].map(_pct)
    shown.columns = ["ticker", "RMSE", "naive RMSE", "Theil's U", "DM stat", "DM p", "Holm p", "BH p",
                     "verdict (Holm)", "verdict (BH)", "directional accuracy"]  # fmt: skip
    out = (f'<p class="verdict">{html.escape(words)}</p><p>{html.escape(tests)}</p>'
           f'<div class="scroll">{html_table(shown.round(4), index=False)}</div>')
    if len(left):
        out += f"<h3>Left out ({len(left)})</h3>{html_table(left[['ticker', 'status']], index=False)}"
    return out


def provenance(run: SavedPortfolio) -> str:
    """Configuration, universe, data sources and versions."""
    meta = run.meta
    data = {k: meta.get(k) for k in ("universe", "benchmark", "period", "code_version", "data")}
    return (f"<h3>Configuration</h3><pre>{html.escape(json.dumps(meta['config'], indent=2))}</pre>"
            f"<h3>Portfolio</h3><pre>{html.escape(json.dumps(meta['portfolio'], indent=2))}</pre>"
            f"<h3>Data</h3><pre>{html.escape(json.dumps(data, indent=2))}</pre>"
            f"<h3>Package versions</h3><pre>{html.escape(json.dumps(meta['versions'], indent=2))}</pre>")


def title(run: SavedPortfolio) -> str:
    """'DOW30 topk-strategy 2021-08-16 to 2026-08-14'."""
    meta = run.meta
    name = (meta.get("universe") or {}).get("name") or f"{meta['summary']['tickers']} tickers"
    return f"{name} {meta['config']['strategy']['name']} {meta['period']['first_day']} to {meta['period']['last_day']}"


def portfolio_page(run: SavedPortfolio, tearsheet: str) -> str:
    """The whole report page."""
    shown = run.trades.tail(MAX_TRADES)
    trades = shown.assign(date=shown["date"].dt.strftime("%Y-%m-%d")).round(4)
    note = "" if len(shown) == len(run.trades) else \
        f'<p class="note">The last {len(shown)} of {len(run.trades)} fills; trades.csv has them all.</p>'  # fmt: skip
    sheet = (f'<p><a href="{tearsheet}">Open the quantstats tearsheet on its own page</a>.</p>'
             f'<iframe title="quantstats tearsheet" src="{tearsheet}"></iframe>')  # fmt: skip
    sections = [
        ("headline", "Headline", headline(run)),
        ("equity", "Equity curves", f'<img alt="equity curves" src="{equity_curves(run.returns, labels(run))}">'),
        ("holdings", "Holdings over time", f'<img alt="holdings heatmap" src="{holdings_heatmap(run.weights)}">'),
        ("turnover", "Turnover and costs", activity_section(run)),
        ("forecasts", "Forecasts, ticker by ticker", forecast_section(run)),
        ("trades", "Trades", f"{note}{trades_table(trades)}"),
        ("tearsheet", "Quantstats tearsheet (strategy vs benchmark)", sheet),
        ("config", "Configuration, data and versions", provenance(run)),
    ]  # fmt: skip
    return page(title(run), f"model: {_model(run)}; generated by bt-lstm", sections)


def build_portfolio_report(folder: Path, *, draw: Draw | None = None) -> Path:
    """Read and check ``folder``, then write ``tearsheet.html`` and ``report.html`` atomically.

    ``draw`` (``draw(fn, *args)``, started elsewhere) draws the tearsheet in another process while
    this one draws the report's charts; without it both are drawn here.
    """
    folder = Path(folder)
    run = load_portfolio(folder)
    bench = run.returns["benchmark"].rename(run.meta["benchmark"]["ticker"])
    args = (run.returns["strategy"], bench, title(run))
    sheet = draw(tearsheet_html, *args) if draw is not None else None
    report = portfolio_page(run, "tearsheet.html")
    if sheet is not None:
        write_page(folder / "tearsheet.html", sheet, args[2])
    else:
        atomic_write_text(folder / "tearsheet.html", tearsheet_html(*args))
    atomic_write_text(folder / "report.html", report)
    return folder / "report.html"


def paper_portfolio_page(heading: str, meta: dict, returns: pd.DataFrame, weights: pd.DataFrame, fills: pd.DataFrame,
                         tearsheet: str) -> str:  # fmt: skip
    """``bt paper report``'s page for a portfolio: the account against ``bt run topk-strategy``'s comparisons and
    the benchmark over the same days, holdings, fills, tearsheet and settings."""
    s = meta["summary"]
    names = {**RULE_LABELS, "strategy": f"paper {meta['name']}",
             "benchmark": f"benchmark ({meta['benchmark']['ticker']})"}  # fmt: skip
    rows = rule_rows(s, list(returns.columns), names, "the account")
    verdict = strategy_verdict(s["strategy"]["sharpe"], s["equal_weight"]["sharpe"], s["psr"]["equal_weight"],
                               f"paper {meta['name']}").replace("buy-and-hold", "the equal-weight buy-and-hold")
    shown = fills.assign(date=pd.to_datetime(fills["date"]).dt.strftime("%Y-%m-%d")).round(4)
    sheet = (f'<p><a href="{tearsheet}">Open the quantstats tearsheet on its own page</a>.</p>'
             f'<iframe title="quantstats tearsheet" src="{tearsheet}"></iframe>')  # fmt: skip
    config = f"<pre>{html.escape(json.dumps(meta['config'], indent=2))}</pre>"
    note = (f"<p>Fills: {s['trades']}; PSR {_num(s['psr_vs_zero'])} that the account's true Sharpe exceeds 0.</p>"
            '<p class="note">Every row is over the account\'s days, from its opening cash, with its broker and rule '
            "settings; the top-k rows trade the account's rule on other scores. PSR: the probability that the "
            "account's true Sharpe ratio exceeds that row's (Bailey and Lopez de Prado).</p>")  # fmt: skip
    sections = [
        ("headline", "Headline", f'<p class="verdict">{html.escape(sentence(verdict))}</p>'
                                 f"{html_table(rows, index=False)}{note}"),
        ("equity", "Equity curves", f'<img alt="equity curves" src="{equity_curves(returns, names)}">'),
        ("holdings", "Holdings over time", f'<img alt="holdings heatmap" src="{holdings_heatmap(weights)}">'),
        ("fills", "Fills", trades_table(shown, "fills")),
        ("tearsheet", "Quantstats tearsheet (paper account vs benchmark)", sheet),
        ("config", "Configuration and versions",
         f"{config}<pre>{html.escape(json.dumps(meta['versions'], indent=2))}</pre>"),
    ]  # fmt: skip
    return page(heading, "paper trading; generated by bt-lstm", sections)
