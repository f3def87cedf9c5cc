"""The forecast sections of a report: how the model's out-of-sample forecasts compare with the baselines'.

A run over one ticker shows its walk-forward in detail (predicted vs actual, rolling errors, every
baseline's metrics, the folds); a run over several shows each ticker's verdict against the naive
forecast, adjusted for testing many (Holm and Benjamini-Hochberg, as in a sweep).
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from . import charts
from .evaluation import forecast_metrics, metrics_table, per_fold_metrics
from .layout import Section, html_table
from .saved import SavedRun
from .sweep_stats import VERDICTS, forecast_verdicts, format_p, pooled_dm, sign_test
from .wording import forecast_verdict


def _forecasts(run: SavedRun) -> pd.DataFrame:
    if run.forecasts is None:
        raise ValueError(f"{run.folder}: the run has no forecasts; a forecast section needs them.")
    return run.forecasts


def _walk_forward(run: SavedRun) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One ticker's forecasts, folds and baselines; ValueError for a run without them (these sections need them)."""
    if run.folds is None or run.baselines is None:
        raise ValueError(f"{run.folder}: the run has no folds or baselines; a walk-forward section needs them.")
    return _forecasts(run), run.folds, run.baselines


def model_label(meta: dict[str, Any]) -> str:
    """'LSTM' or the baseline's name, as the report calls the run's forecaster."""
    model = meta["config"]["forecast"]["model"]
    return "LSTM" if model == "lstm" else model


def forecast_tables(run: SavedRun) -> dict[str, pd.DataFrame]:
    """One ticker's run: its model and each baseline as forecasts tables over the same days."""
    forecasts, _, baselines = _walk_forward(run)
    tables = {model_label(run.meta): forecasts}
    for name in baselines.columns.drop("target_date"):
        if name != run.meta["config"]["forecast"]["model"]:
            tables[name] = forecasts.assign(forecast=baselines[name].to_numpy())
    return tables


def metrics_frame(run: SavedRun) -> pd.DataFrame:
    """Metrics of the model, every baseline and, with several seeds, each seed's mean and std."""
    table = metrics_table(forecast_tables(run))
    forecasts = _forecasts(run)
    members = [c for c in forecasts.columns if c.startswith("member_")]
    if members:
        per_seed = pd.DataFrame([forecast_metrics(forecasts.assign(forecast=forecasts[c])).to_dict()
                                 for c in members])  # fmt: skip
        label = model_label(run.meta)
        table.loc[f"{label}, single seed: mean"] = per_seed.mean()
        table.loc[f"{label}, single seed: std ({len(members)} seeds)"] = per_seed.std(ddof=1)
        table = table.rename(index={label: f"{label} (mean of {len(members)} seeds)"})
    return table


def per_fold_frame(run: SavedRun) -> pd.DataFrame:
    """Per-fold metrics of the model and every baseline, one row per (model, fold)."""
    parts = [per_fold_metrics(table).assign(model=name) for name, table in forecast_tables(run).items()]
    frame = pd.concat(parts, ignore_index=True)
    return frame[["model", *[c for c in frame.columns if c != "model"]]]


def _fold_theils_u(run: SavedRun) -> pd.DataFrame:
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


def forecast_words(run: SavedRun) -> str:
    """The forecast verdict of a saved run, as every page and the terminal say it."""
    metrics = forecast_metrics(_forecasts(run))
    return forecast_verdict(metrics.theils_u, metrics.dm_p_value, model_label(run.meta))


def forecast_sections(run: SavedRun) -> list[Section]:
    """One ticker's walk-forward: predicted vs actual, errors and metrics of every model, folds."""
    ticker = run.meta["data"]["ticker"]
    label = model_label(run.meta)
    forecasts, folds, _ = _walk_forward(run)
    full = charts.predicted_vs_actual(forecasts, folds, title=f"{ticker}: {label} forecast vs actual close")
    zoom = charts.predicted_vs_actual(forecasts, folds, title="last 6 months", last_months=6)
    folds = folds.copy()
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
         f'<img alt="rolling RMSE" src="{charts.error_over_time(forecasts)}">'
         f"{html_table(_format_metrics(metrics_frame(run)))}"
         '<p class="note">Theil\'s U is RMSE over the naive RMSE (below 1 beats naive). The Diebold-Mariano test '
         "(squared errors, Harvey-Leybourne-Newbold correction) compares each model with the naive forecast.</p>"),
        ("folds", "Walk-forward folds",
         '<p class="note">Training range, epochs run, final validation loss and seconds of each retrain, and each '
         "model's Theil's U over that fold's days (below 1: better than naive in that fold).</p>"
         f'<div class="scroll">{html_table(folds, index=False)}</div>'),
    ]  # fmt: skip


def verdict_table(run: SavedRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run over several tickers: the used ones with Holm and BH adjusted DM p-values and verdicts, and the
    left-out ones; ValueError for a run without a tickers table."""
    tickers = run.tickers
    if tickers is None:
        raise ValueError(f"{run.folder}: the run has no tickers table; the per-ticker section needs one.")
    used = tickers[tickers["status"] == "used"].reset_index(drop=True)
    return forecast_verdicts(used), tickers[tickers["status"] != "used"]


def ticker_section(run: SavedRun) -> str:
    """Per-ticker verdicts against the naive forecast, the pooled DM and sign tests, and the tickers left out."""
    table, left = verdict_table(run)
    counts = {v: int((table["verdict_holm"] == v).sum()) for v in VERDICTS}
    words = (
        f"Against the naive forecast, across {len(table)} tickers after Holm's adjustment: "
        f"{counts['better']} better, {counts['not different']} not different, {counts['worse']} worse."
    )
    by_ticker = {t: f.drop(columns="ticker") for t, f in _forecasts(run).groupby("ticker")}
    tests = f"{pooled_dm(by_ticker).words()} {sign_test(table['rmse'], table['naive_rmse']).words()}"
    shown = table[["ticker", "rmse", "naive_rmse", "theils_u", "dm_stat", "dm_p_value", "p_holm", "p_bh",
                   "verdict_holm", "verdict_bh", "directional_accuracy"]].copy()  # fmt: skip
    for col in ("dm_p_value", "p_holm", "p_bh"):
        shown[col] = shown[col].map(format_p)
    shown["directional_accuracy"] = shown["directional_accuracy"].map(lambda x: "–" if x != x else f"{x * 100:.2f}%")
    shown.columns = ["ticker", "RMSE", "naive RMSE", "Theil's U", "DM stat", "DM p", "Holm p", "BH p",
                     "verdict (Holm)", "verdict (BH)", "directional accuracy"]  # fmt: skip
    out = (
        f'<p class="verdict">{html.escape(words)}</p><p>{html.escape(tests)}</p>'
        f'<div class="scroll">{html_table(shown.round(4), index=False)}</div>'
    )
    if len(left):
        out += f"<h3>Left out ({len(left)})</h3>{html_table(left[['ticker', 'status']], index=False)}"
    return out
