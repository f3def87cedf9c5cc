"""The report's charts, drawn by matplotlib (headless) and embedded as PNG data URIs."""

from __future__ import annotations

import base64
import io
import logging
import warnings
from typing import Any

import pandas as pd

COLORS = {"actual": "#222222", "forecast": "#d62728", "naive": "#7f7f7f", "strategy": "#d62728",
          "buy_and_hold": "#1f77b4", "sma_cross": "#2ca02c", "benchmark": "#ff7f0e"}  # fmt: skip


def pyplot() -> Any:
    """matplotlib's pyplot on the headless Agg backend, its log noise silenced."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    import matplotlib.pyplot as plt

    return plt


def encode_png(fig: Any) -> str:
    """The figure as a PNG data URI (96 dpi), and closed."""
    plt = pyplot()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


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


def equity_curves(returns: pd.DataFrame, labels: dict[str, str]) -> str:
    """Growth of 1 for each return column on one chart."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 4.2))
    for col in returns:
        ax.plot(returns.index, (1 + returns[col]).cumprod(), lw=1.2, color=COLORS.get(col), label=labels.get(col, col))
    ax.axhline(1.0, color="#999999", lw=0.6)
    ax.set_ylabel("growth of 1")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return encode_png(fig)
