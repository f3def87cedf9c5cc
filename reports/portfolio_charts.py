"""The portfolio report's own charts: holdings over time and turnover, as PNG data URIs (matplotlib, headless)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .charts import encode_png as png
from .charts import pyplot

COLORS = {"strategy": "#d62728", "equal_weight": "#1f77b4", "topk_naive": "#7f7f7f", "topk_ridge": "#2ca02c",
          "momentum": "#9467bd", "benchmark": "#ff7f0e"}  # fmt: skip


def equity_curves(returns: pd.DataFrame, labels: dict[str, str]) -> str:
    """Growth of 1 of each rule and the benchmark on one chart, the strategy drawn on top."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 4.4))
    for col in [c for c in returns if c != "strategy"] + ["strategy"]:
        ax.plot(returns.index, (1 + returns[col]).cumprod(), lw=1.8 if col == "strategy" else 1.0,
                color=COLORS.get(col), label=labels.get(col, col), zorder=3 if col == "strategy" else 2)  # fmt: skip
    ax.axhline(1.0, color="#999999", lw=0.6)
    ax.set_ylabel("growth of 1")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return png(fig)


def holdings_heatmap(weights: pd.DataFrame) -> str:
    """Weight of each ticker (rows; only those ever held) on each day (columns), as a heatmap."""
    plt = pyplot()
    held = weights.loc[:, (weights > 0).any()] if len(weights.columns) else weights
    fig, ax = plt.subplots(figsize=(11, max(2.4, 0.22 * len(held.columns) + 1.2)))
    if held.empty or not len(held.columns):
        ax.text(0.5, 0.5, "no position was ever held", ha="center", va="center")
        ax.set_axis_off()
        return png(fig)
    values = held.T.to_numpy(dtype=np.float64)
    image = ax.imshow(values * 100, aspect="auto", cmap="Blues", interpolation="nearest", vmin=0,
                      extent=(0, len(held), len(held.columns), 0))  # fmt: skip
    ax.set_yticks(np.arange(len(held.columns)) + 0.5, labels=list(held.columns), fontsize=7)
    ticks = np.linspace(0, len(held) - 1, num=min(8, len(held))).astype(int)
    ax.set_xticks(ticks + 0.5, labels=[f"{held.index[i]:%Y-%m-%d}" for i in ticks], fontsize=8)
    fig.colorbar(image, ax=ax, label="weight, % of equity", pad=0.01)
    ax.set_title("holdings at each close")
    return png(fig)


def turnover_chart(turnover: pd.DataFrame, labels: dict[str, str], window: int = 21) -> str:
    """Rolling mean of each rule's daily turnover (value traded over equity), rules that traded only."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 3.6))
    for col in [c for c in turnover if c != "strategy"] + ["strategy"]:
        if col in turnover and turnover[col].abs().sum() > 0:
            ax.plot(turnover.index, turnover[col].rolling(window, min_periods=1).mean() * 100,
                    lw=1.6 if col == "strategy" else 1.0, color=COLORS.get(col), label=labels.get(col, col))
    ax.set_ylabel(f"turnover, % of equity ({window}-day mean)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return png(fig)
