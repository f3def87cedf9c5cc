"""The headline of a report: the strategy against each comparison the run has, in a table and in words.

A run over one ticker compares the strategy with buy-and-hold, an SMA crossover and the benchmark;
a run over several compares it with other ranking rules (each with its turnover and costs) and the
benchmark, with the strategy's PSR against each. Which table a page shows follows the run's summary.
"""

from __future__ import annotations

import html

import pandas as pd

from . import charts
from .forecast_sections import forecast_words, model_label
from .layout import html_table
from .saved import SavedRun
from .wording import sentence, strategy_verdict

LABELS = {"strategy": "strategy", "buy_and_hold": "buy-and-hold", "sma_cross": "SMA crossover (20/50)",
          "benchmark": "benchmark"}  # fmt: skip
RULE_LABELS = {"strategy": "top-k on the model's forecasts", "equal_weight": "equal weight, rebalanced monthly",
               "topk_naive": "top-k on the naive forecast", "topk_ridge": "top-k on the ridge forecast",
               "momentum": "top-k on 12-1 month momentum", "benchmark": "benchmark"}  # fmt: skip
PSR_NOTE = ('<p class="note">PSR: the probability that the strategy\'s true Sharpe ratio exceeds that row\'s '
            "(Bailey and Lopez de Prado); every row is over the same days.</p>")  # fmt: skip


def _pct(x: float) -> str:
    return "–" if x != x else f"{x * 100:.2f}%"


def _num(x: float) -> str:
    return "n/a" if x != x else f"{x:.2f}"  # NaN: a flat series (no trade) has no Sharpe, hence no PSR


def _cell(x: float) -> str:
    return "–" if x != x else f"{x:.2f}"


def labels(run: SavedRun, strategy: str | None = None) -> dict[str, str]:
    """What the page calls each return column; ``strategy`` names the strategy's (a paper account's) row."""
    meta = run.meta
    name = meta["config"]["strategy"]["name"]
    if strategy is None:
        strategy = f"{name} ({model_label(meta)} forecasts)" if run.compares_rules else name
    names = RULE_LABELS if run.compares_rules else LABELS
    return {**names, "strategy": strategy, "benchmark": f"benchmark ({meta['benchmark']['ticker']})"}


def headline(run: SavedRun) -> str:
    """One ticker's headline: the verdicts (forecast, when the run has forecasts; strategy against buy-and-hold),
    the strategy against buy-and-hold, the SMA crossover and the benchmark, trades and PSR."""
    s, meta = run.meta["summary"], run.meta
    bench = meta["benchmark"]["ticker"]
    rows = [{"": LABELS[k] if k != "benchmark" else f"benchmark ({bench})", "total return": _pct(s[k]["total_return"]),
             "CAGR": _pct(s[k]["cagr"]), "Sharpe": _num(s[k]["sharpe"]), "max drawdown": _pct(s[k]["max_drawdown"])}
            for k in LABELS if k in s]  # fmt: skip
    name = meta["config"]["strategy"]["name"]
    rows[0][""] = name
    trade = strategy_verdict(s["strategy"]["sharpe"], s["buy_and_hold"]["sharpe"], s["psr_vs_buy_and_hold"], name)
    parts = [f'<p class="verdict">{html.escape(sentence(trade))}</p>', html_table(pd.DataFrame(rows), index=False),
             f"<p>Trades (fills): {s['trades']}. Probabilistic Sharpe ratio: {_num(s['psr_vs_zero'])} that the true "
             f"Sharpe exceeds 0, {_num(s['psr_vs_buy_and_hold'])} that it exceeds buy-and-hold's.</p>"]  # fmt: skip
    if run.forecasts is not None:
        parts.insert(0, f'<p class="verdict">{html.escape(sentence(forecast_words(run)))}</p>')
        parts.append(f"<p>Forecast RMSE {s['forecast_rmse']:.4f} against {s['naive_rmse']:.4f} for the naive "
                     f"forecast (tomorrow = today): ratio {s['rmse_ratio']:.3f}, Diebold-Mariano p = "
                     f"{s['dm_p_value']:.3g}.</p>")  # fmt: skip
    return "".join(parts)


def rule_rows(run: SavedRun, names: dict[str, str], who: str) -> pd.DataFrame:
    """One row per return column: performance, the PSR of ``who`` (the strategy, the account) against it,
    turnover and costs."""
    s = run.meta["summary"]
    rows = []
    for col in run.returns_table().columns:
        act = s["activity"].get(col, {})
        rows.append({"": names.get(col, col), "total return": _pct(s[col]["total_return"]),
                     "CAGR": _pct(s[col]["cagr"]), "Sharpe": _cell(s[col]["sharpe"]),
                     "max drawdown": _pct(s[col]["max_drawdown"]),
                     f"PSR of {who} against it": "–" if col == "strategy" else _cell(s["psr"][col]),
                     "turnover / year": _pct(act["turnover_per_year"]) if act else "–",
                     "costs paid": _pct(act["costs_fraction"]) if act else "–"})  # fmt: skip
    return pd.DataFrame(rows)


def rule_verdict(run: SavedRun, name: str) -> str:
    """The strategy (or account) ``name`` against the equal-weight buy-and-hold, in words."""
    s = run.meta["summary"]
    verdict = strategy_verdict(s["strategy"]["sharpe"], s["equal_weight"]["sharpe"], s["psr"]["equal_weight"], name)
    verdict = verdict.replace("buy-and-hold", "the equal-weight buy-and-hold")
    return f'<p class="verdict">{html.escape(sentence(verdict))}</p>'


def rules_headline(run: SavedRun) -> str:
    """Several tickers' headline: the verdict against the equal-weight buy-and-hold, the table, the rule in words
    and what was left out."""
    s, meta = run.meta["summary"], run.meta
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
    return (f"{rule_verdict(run, meta['config']['strategy']['name'])}"
            f"{html_table(rule_rows(run, labels(run), 'the strategy'), index=False)}"
            f"<p>{html.escape(rule)} Trades (fills): {s['trades']}; PSR {_cell(s['psr_vs_zero'])} that the strategy's "
            f"true Sharpe exceeds 0.{html.escape(left + missing)}</p>{PSR_NOTE}")  # fmt: skip


def activity_section(run: SavedRun) -> str:
    """Turnover chart and the fills, turnover and costs of each rule."""
    s, names = run.meta["summary"], labels(run)
    if run.turnover is None:
        raise ValueError(f"{run.folder}: the run has no turnover.csv; the turnover section needs it.")
    rows = [{"": names.get(k, k), "fills": a["fills"], "orders refused": a["refused"],
             "turnover / year": _pct(a["turnover_per_year"]), "commission": f"{a['commission']:,.2f}",
             "slippage": f"{a['slippage']:,.2f}", "costs, % of starting cash": _pct(a["costs_fraction"])}
            for k, a in s["activity"].items()]  # fmt: skip
    return (f'<img alt="turnover" src="{charts.turnover_chart(run.turnover, names)}">'
            f"{html_table(pd.DataFrame(rows), index=False)}"
            '<p class="note">Turnover: value bought plus sold over equity. Slippage: each fill\'s price against '
            "that day's open, times the shares.</p>")  # fmt: skip


def account_headline(run: SavedRun) -> str:
    """A paper account over several tickers: its verdict against the equal-weight buy-and-hold and the table of
    ``bt run topk-strategy``'s comparisons over the account's days."""
    s, name = run.meta["summary"], f"paper {run.meta['name']}"
    rows = rule_rows(run, labels(run, name), "the account")
    return (f"{rule_verdict(run, name)}{html_table(rows, index=False)}"
            f"<p>Fills: {s['trades']}; PSR {_cell(s['psr_vs_zero'])} that the account's true Sharpe exceeds 0.</p>"
            '<p class="note">Every row is over the account\'s days, from its opening cash, with its broker and rule '
            "settings; the top-k rows trade the account's rule on other scores. PSR: the probability that the "
            "account's true Sharpe ratio exceeds that row's (Bailey and Lopez de Prado).</p>")  # fmt: skip
