"""The run's one-page HTML report: headline, forecasts, errors, folds, equity, tearsheet, provenance.

Built only from a saved run folder (``reports.saved.SavedRun``), so
``bt run`` and ``bt report`` produce the same page. Everything is inline
(charts as PNG data URIs, CSS in the page), so it opens offline.
"""

from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd

from . import charts
from .evaluation import forecast_metrics, metrics_table, per_fold_metrics
from .wording import forecast_verdict, sentence, strategy_verdict

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:1.5rem 2rem 4rem;background:#fff}
h1{margin:.2rem 0 .4rem;font-size:1.6rem} h2{margin-top:2.4rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
nav ol{columns:2;margin:.4rem 0 1rem} table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:right} th:first-child,td:first-child{text-align:left}
thead th{background:#f2f2f2} img{max-width:100%} .verdict{font-size:1.15rem;font-weight:600;margin:.8rem 0}
.note{color:#555;font-size:.9rem} iframe{width:100%;height:900px;border:1px solid #ddd}
pre{background:#f6f6f6;padding:.8rem;overflow-x:auto;font-size:.8rem} .scroll{max-height:420px;overflow-y:auto}
"""

LABELS = {"strategy": "strategy", "buy_and_hold": "buy-and-hold", "sma_cross": "SMA crossover (20/50)",
          "benchmark": "benchmark"}  # fmt: skip


def html_table(frame: pd.DataFrame, **kwargs: Any) -> str:
    """A table as every page shows it: no border, "–" for missing values, text escaped."""
    return frame.to_html(border=0, na_rep="–", escape=True, **kwargs)


def trades_table(trades: pd.DataFrame, what: str = "trades") -> str:
    """The fills as a scrolling table, or a line saying there were none (a strategy that never traded)."""
    if trades.empty:
        return f'<p class="note">No {what}: the strategy never traded in this period.</p>'
    return f'<div class="scroll">{html_table(trades, index=False)}</div>'


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def _num(x: float) -> str:
    return "n/a" if x != x else f"{x:.2f}"  # NaN: a flat series (no trade) has no Sharpe, hence no PSR


def model_label(meta: dict[str, Any]) -> str:
    """'LSTM' or the baseline's name, as the report calls the run's forecaster."""
    model = meta["config"]["forecast"]["model"]
    return "LSTM" if model == "lstm" else model


def forecast_tables(run: Any) -> dict[str, pd.DataFrame]:
    """The run's model and each baseline as forecasts tables over the same days."""
    tables = {model_label(run.meta): run.forecasts}
    for name in run.baselines.columns.drop("target_date"):
        if name != run.meta["config"]["forecast"]["model"]:
            tables[name] = run.forecasts.assign(forecast=run.baselines[name].to_numpy())
    return tables


def metrics_frame(run: Any) -> pd.DataFrame:
    """Metrics of the model, every baseline and, with several seeds, each seed's mean and std."""
    table = metrics_table(forecast_tables(run))
    members = [c for c in run.forecasts.columns if c.startswith("member_")]
    if members:
        per_seed = pd.DataFrame([forecast_metrics(run.forecasts.assign(forecast=run.forecasts[c])).to_dict()
                                 for c in members])  # fmt: skip
        label = model_label(run.meta)
        table.loc[f"{label}, single seed: mean"] = per_seed.mean()
        table.loc[f"{label}, single seed: std ({len(members)} seeds)"] = per_seed.std(ddof=1)
        table = table.rename(index={label: f"{label} (mean of {len(members)} seeds)"})
    return table


def per_fold_frame(run: Any) -> pd.DataFrame:
    """Per-fold metrics of the model and every baseline, one row per (model, fold)."""
    parts = [per_fold_metrics(table).assign(model=name) for name, table in forecast_tables(run).items()]
    frame = pd.concat(parts, ignore_index=True)
    return frame[["model", *[c for c in frame.columns if c != "model"]]]


def _fold_theils_u(run: Any) -> pd.DataFrame:
    wide = per_fold_frame(run).pivot(index="fold", columns="model", values="theils_u")
    wide = wide[list(forecast_tables(run))]
    wide.columns = [f"Theil's U {name}" for name in wide.columns]
    return wide.reset_index()


def _format_metrics(table: pd.DataFrame) -> pd.DataFrame:
    shown = table[["rmse", "mae", "mape", "directional_accuracy", "theils_u", "dm_stat", "dm_p_value"]].copy()
    shown.columns = ["RMSE", "MAE", "MAPE", "directional accuracy", "Theil's U", "DM stat", "DM p-value vs naive"]
    for col in ("MAPE", "directional accuracy"):
        shown[col] = shown[col].map(lambda v: "n/a" if pd.isna(v) else f"{v * 100:.2f}%")
    return shown.round(4)


def forecast_words(run: Any) -> str:
    """The forecast verdict of a saved run, as every page and the terminal say it."""
    metrics = forecast_metrics(run.forecasts)
    return forecast_verdict(metrics.theils_u, metrics.dm_p_value, model_label(run.meta))


def headline(run: Any) -> str:
    """Section 1: strategy vs buy-and-hold vs SMA vs benchmark, and the forecast verdict in plain words."""
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


def forecast_sections(run: Any) -> list[tuple[str, str, str]]:
    """Sections 2-4: predicted vs actual, errors and metrics, folds."""
    ticker = run.meta["data"]["ticker"]
    label = model_label(run.meta)
    full = charts.predicted_vs_actual(run.forecasts, run.folds, title=f"{ticker}: {label} forecast vs actual close")
    zoom = charts.predicted_vs_actual(run.forecasts, run.folds, title="last 6 months", last_months=6)
    folds = run.folds.copy()
    for col in ("train_start", "train_end", "test_start", "test_end"):
        folds[col] = folds[col].dt.strftime("%Y-%m-%d")
    folds = folds.rename(columns={"n_train": "samples", "epochs": "epochs run", "val_loss": "final val loss",
                                  "seconds": "seconds"}).merge(_fold_theils_u(run), on="fold").round(4)  # fmt: skip
    return [
        ("forecast", "Predicted vs actual price",
         f'<p class="note">Every point is out of sample: the forecast for a day uses prices through the day '
         f'before only; the model was retrained at each purple line.</p><img alt="predicted vs actual" src="{full}">'
         f'<img alt="predicted vs actual, last 6 months" src="{zoom}">'),
        ("errors", "Forecast errors and metrics",
         f'<img alt="rolling RMSE" src="{charts.error_over_time(run.forecasts)}">'
         f"{html_table(_format_metrics(metrics_frame(run)))}"
         '<p class="note">Theil\'s U is RMSE over the naive RMSE (below 1 beats naive). The Diebold-Mariano test '
         "(squared errors, Harvey-Leybourne-Newbold correction) compares each model with the naive forecast.</p>"),
        ("folds", "Walk-forward folds",
         '<p class="note">Training range, epochs run, final validation loss and seconds of each retrain, and each '
         "model's Theil's U over that fold's days (below 1: better than naive in that fold).</p>"
         f'<div class="scroll">{html_table(folds, index=False)}</div>'),
    ]  # fmt: skip


def provenance(run: Any) -> str:
    """Section 7: configuration, data source and fingerprint, versions."""
    meta = run.meta
    data = {k: meta[k] for k in ("data", "benchmark", "period", "code_version") if k in meta}
    return (f"<h3>Configuration</h3><pre>{html.escape(json.dumps(meta['config'], indent=2))}</pre>"
            f"<h3>Data</h3><pre>{html.escape(json.dumps(data, indent=2))}</pre>"
            f"<h3>Package versions</h3><pre>{html.escape(json.dumps(meta['versions'], indent=2))}</pre>")  # fmt: skip


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    """A report page: heading, subtitle, a table of contents and the sections (id, name, HTML)."""
    toc = "".join(f'<li><a href="#{sid}">{html.escape(name)}</a></li>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{html.escape(name)}</h2>{content}</section>'
                   for sid, name, content in sections)  # fmt: skip
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<link rel="icon" href="data:,"><style>{CSS}</style></head><body><main><h1>{html.escape(title)}</h1>'
            f'<p class="note">{html.escape(subtitle)}</p><nav><strong>Contents</strong><ol>{toc}</ol></nav>'
            f"{body}</main></body></html>\n")  # fmt: skip


def _title(run: Any, what: str | None = None) -> tuple[str, str]:
    meta = run.meta
    period = f"{meta['period']['first_day']} to {meta['period']['last_day']}"
    repaired = meta["data"].get("repaired_rows", 0)
    repair = f", {repaired} bars repaired ({meta['data']['repair_bars']})" if repaired else ""
    return (f"{meta['data']['ticker']} {what or meta['config']['strategy']['name']} {period}",
            f"data: {meta['data']['source']} (through {meta['data']['last_date']}{repair}); "
            f"model: {model_label(meta)}; generated by bt-lstm")  # fmt: skip


def run_page(run: Any, tearsheet: str | None) -> str:
    """The full report of a ``bt run`` folder."""
    title, subtitle = _title(run)
    trades = run.trades.assign(date=run.trades["date"].dt.strftime("%Y-%m-%d")).round(4)
    labels = {**LABELS, "strategy": run.meta["config"]["strategy"]["name"],
              "benchmark": f"benchmark ({run.meta['benchmark']['ticker']})"}  # fmt: skip
    sections = [("headline", "Headline", headline(run))]
    if run.forecasts is not None:
        sections += forecast_sections(run)
    sections.append(("equity", "Equity curves and trades",
                     f'<img alt="equity curves" src="{charts.equity_curves(run.returns, labels)}">'
                     f"{trades_table(trades)}"))  # fmt: skip
    sheet = (f'<p><a href="{tearsheet}">Open the quantstats tearsheet on its own page</a>.</p>'
             f'<iframe title="quantstats tearsheet" src="{tearsheet}"></iframe>') if tearsheet else "<p>None.</p>"
    sections.append(("tearsheet", "Quantstats tearsheet (strategy vs benchmark)", sheet))
    sections.append(("config", "Configuration, data and versions", provenance(run)))
    return page(title, subtitle, sections)


def forecast_page(run: Any) -> str:
    """The forecast sections alone (``bt walk-forward``'s forecast.html)."""
    title, subtitle = _title(run, f"{model_label(run.meta)} walk-forward")
    verdict = ("verdict", "Verdict", f'<p class="verdict">{html.escape(sentence(forecast_words(run)))}</p>')
    sections = [verdict, *forecast_sections(run), ("config", "Configuration, data and versions", provenance(run))]
    return page(title, subtitle, sections)


def paper_page(run: Any, tearsheet: str) -> str:
    """``bt paper report``'s page: the headline of ``report.html`` (verdicts included), equity, fills, tearsheet."""
    title, subtitle = _title(run, f"{run.meta['config']['strategy']['name']} paper {run.meta['name']}")
    bench = run.meta["benchmark"]["ticker"]
    labels = {**LABELS, "strategy": f"paper {run.meta['name']}", "benchmark": f"benchmark ({bench})"}
    trades = run.trades.assign(date=pd.to_datetime(run.trades["date"]).dt.strftime("%Y-%m-%d")).round(4)
    sheet = (f'<p><a href="{tearsheet}">Open the quantstats tearsheet on its own page</a>.</p>'
             f'<iframe title="quantstats tearsheet" src="{tearsheet}"></iframe>')  # fmt: skip
    sections = [("headline", "Headline", headline(run)),
                ("equity", "Equity curves and fills",
                 f'<img alt="equity curves" src="{charts.equity_curves(run.returns, labels)}">'
                 f"{trades_table(trades, 'fills')}"),
                ("tearsheet", "Quantstats tearsheet (paper account vs benchmark)", sheet),
                ("config", "Configuration, data and versions", provenance(run))]  # fmt: skip
    return page(title, subtitle, sections)
