"""The report's charts, drawn by matplotlib (headless) and embedded as PNG data URIs.

Each chart draws whatever columns its table has: one ticker's comparisons or several tickers' rules.
Each is drawn in matplotlib's own default style (``own_style``), whatever the process drew before: quantstats
sets a seaborn theme and a font for the whole process when it is imported, so without it a sweep worker's
second report drew its charts in another font and size than its first, and than ``bt run``'s.
"""

from __future__ import annotations

import base64
import functools
import io
import logging
import warnings
from collections.abc import Callable
from typing import Any, ParamSpec

import numpy as np
import pandas as pd

COLORS = {"actual": "#222222", "forecast": "#d62728", "naive": "#7f7f7f", "strategy": "#d62728",
          "buy_and_hold": "#1f77b4", "sma_cross": "#2ca02c", "benchmark": "#ff7f0e", "equal_weight": "#1f77b4",
          "topk_naive": "#7f7f7f", "topk_ridge": "#2ca02c", "momentum": "#9467bd"}  # fmt: skip


def pyplot() -> Any:
    """matplotlib's pyplot on the headless Agg backend, its log noise silenced."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    import matplotlib.pyplot as plt

    return plt


P = ParamSpec("P")


def own_style(draw: Callable[P, str]) -> Callable[P, str]:
    """``draw`` run inside matplotlib's default style (``style.context("default")``), the process's own
    settings (a theme another library set, a user's matplotlibrc) put back afterwards."""

    @functools.wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> str:
        with pyplot().style.context("default"):
            return draw(*args, **kwargs)

    return drawn


def encode_png(fig: Any) -> str:
    """The figure as a PNG data URI (96 dpi), and closed."""
    plt = pyplot()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@own_style
def predicted_vs_actual(forecasts: pd.DataFrame, folds: pd.DataFrame | None, *, title: str,
                        last_months: int | None = None) -> str:  # fmt: skip
    """Out-of-sample forecast against the actual close, retrain points marked (optionally the last months)."""
    plt = pyplot()
    table = forecasts
    if last_months is not None:
        table = table[table["target_date"] > table["target_date"].max() - pd.DateOffset(months=last_months)]
    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.plot(table["target_date"], table["actual"], color=COLORS["actual"], lw=1.2, label="actual close")
    ax.plot(table["target_date"], table["forecast"], color=COLORS["forecast"], lw=1.0, alpha=0.85,
            label="forecast (out of sample)")  # fmt: skip
    if folds is not None:
        starts = folds["test_start"][folds["test_start"] >= table["target_date"].min()]
        if len(starts):  # one collection of full-height lines: far cheaper to draw than a line per retrain
            ax.vlines(starts, 0, 1, transform=ax.get_xaxis_transform(), colors="#9467bd", lw=0.6, alpha=0.35,
                      label="retrain")  # fmt: skip
    ax.set_title(title)
    ax.set_ylabel("price")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return encode_png(fig)


@own_style
def error_over_time(forecasts: pd.DataFrame, window: int = 21) -> str:
    """Rolling RMSE of the model and of the naive forecast: where the model gains or loses."""
    plt = pyplot()
    dates = forecasts["target_date"]
    fig, ax = plt.subplots(figsize=(11, 3.6))
    for col, label in (("forecast", "model"), ("naive", "naive (tomorrow = today)")):
        err = (forecasts[col] - forecasts["actual"]) ** 2
        ax.plot(dates, err.rolling(window, min_periods=1).mean() ** 0.5, lw=1.1, color=COLORS[col],
                label=f"{label}, {window}-day rolling RMSE")  # fmt: skip
    ax.set_ylabel("RMSE (price units)")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return encode_png(fig)


@own_style
def equity_curves(returns: pd.DataFrame, labels: dict[str, str]) -> str:
    """Growth of 1 of each return column on one chart, the strategy drawn last, on top and thicker, so that it
    stays visible among however many comparisons the run has."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 4.4))
    for col in [c for c in returns if c != "strategy"] + ["strategy"]:
        ax.plot(returns.index, (1 + returns[col]).cumprod(), lw=1.8 if col == "strategy" else 1.0,
                color=COLORS.get(col), label=labels.get(col, col), zorder=3 if col == "strategy" else 2)  # fmt: skip
    ax.axhline(1.0, color="#999999", lw=0.6)
    ax.set_ylabel("growth of 1")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return encode_png(fig)


@own_style
def holdings_heatmap(weights: pd.DataFrame) -> str:
    """Weight of each ticker (rows; only those ever held) on each day (columns), as a heatmap."""
    plt = pyplot()
    held = weights.loc[:, (weights > 0).any()] if len(weights.columns) else weights
    fig, ax = plt.subplots(figsize=(11, max(2.4, 0.22 * len(held.columns) + 1.2)))
    if held.empty or not len(held.columns):
        ax.text(0.5, 0.5, "no position was ever held", ha="center", va="center")
        ax.set_axis_off()
        return encode_png(fig)
    values = held.T.to_numpy(dtype=np.float64)
    image = ax.imshow(values * 100, aspect="auto", cmap="Blues", interpolation="nearest", vmin=0,
                      extent=(0, len(held), len(held.columns), 0))  # fmt: skip
    ax.set_yticks(np.arange(len(held.columns)) + 0.5, labels=list(held.columns), fontsize=7)
    ticks = np.linspace(0, len(held) - 1, num=min(8, len(held))).astype(int)
    ax.set_xticks(ticks + 0.5, labels=[f"{held.index[i]:%Y-%m-%d}" for i in ticks], fontsize=8)
    fig.colorbar(image, ax=ax, label="weight, % of equity", pad=0.01)
    ax.set_title("holdings at each close")
    return encode_png(fig)


@own_style
def turnover_chart(turnover: pd.DataFrame, labels: dict[str, str], window: int = 21) -> str:
    """Rolling mean of each rule's daily turnover (value traded over equity), rules that traded only."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 3.6))
    for col in [c for c in turnover if c != "strategy"] + ["strategy"]:
        if col in turnover and turnover[col].abs().sum() > 0:
            ax.plot(
                turnover.index,
                turnover[col].rolling(window, min_periods=1).mean() * 100,
                lw=1.6 if col == "strategy" else 1.0,
                color=COLORS.get(col),
                label=labels.get(col, col),
            )
    ax.set_ylabel(f"turnover, % of equity ({window}-day mean)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return encode_png(fig)
