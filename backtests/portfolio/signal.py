"""``bt signal --universe``: today's ranking, each ticker's predicted return and the weights for the next open.

Each ticker's forecast is the walk-forward's for the day after its last close: the splitter's fold
whose origin is that day, fit by ``forecasting.fit_fold`` (as ``bt signal TICKER`` and paper trading
do). The weights are the top-k rule's (``strategies.ranking.target_weights``), from the holdings the
user says the account has (default: none), so the signal, the backtest and paper trading share one rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from forecasting import ForecastConfig, fit_fold, predict_members
from strategies.ranking import rank, target_weights

from ..data import PriceData, membership_mask
from ..errors import BtError, DataError
from .config import PortfolioConfig
from .panel import VOL_WINDOW, volatility
from .runner import load_all

Notify = Callable[[str], None]


def next_day_forecast(forecast: ForecastConfig, prices: PriceData) -> float:
    """The forecast for the day after the last close, from a model fit on the window that ends there."""
    close = prices.frame["close"].to_numpy(dtype=np.float64)
    p = len(close) - 1
    if p < forecast.train_days - 1:
        raise DataError(f"{prices.ticker} ({prices.source}) has {p + 1} rows; the model needs {forecast.train_days} "
                        "(--train-days)")  # fmt: skip
    members = forecast.forecasters()
    fit_fold(members, close, forecast.splitter().fold(0, p + 1, p + 1), forecast.lookback)
    return float(np.mean(predict_members(members, close, np.array([p]), forecast.lookback), axis=0)[0])


def ticker_rows(config: PortfolioConfig, prices: dict[str, PriceData], last: pd.Timestamp) -> list[dict[str, Any]]:
    """Per ticker: its close, forecast, predicted return, volatility and whether it may be bought today."""
    member = membership_mask(list(prices), [last]).iloc[0] if config.membership else None
    rows = []
    for ticker, p in sorted(prices.items()):
        close = float(p.frame["close"].iloc[-1])
        current = p.frame.index[-1] == last and (member is None or bool(member[ticker]))
        row = {"ticker": ticker, "data_through": f"{p.frame.index[-1]:%Y-%m-%d}", "close": close,
               "volatility": float(volatility(p.frame["close"]).iloc[-1]), "eligible": bool(current)}  # fmt: skip
        try:
            forecast, trouble = next_day_forecast(config.run.forecast, p), None
        except BtError as exc:
            forecast, trouble = math.nan, " ".join(str(exc).split())
        row["forecast"] = forecast
        if trouble is not None:
            row.update(eligible=False, note=trouble)
        row["predicted_return"] = forecast / close - 1.0 if close > 0 else math.nan
        rows.append(row)
    return rows


def portfolio_signal(config: PortfolioConfig, *, holdings: dict[str, float] | None = None,
                     notify: Notify | None = None) -> dict[str, Any]:  # fmt: skip
    """Today's ranking and the rule's target weights for the next open, from ``holdings`` (weights held now)."""
    prices, left = load_all(config, notify)
    last = max(p.frame.index[-1] for p in prices.values())
    rows = ticker_rows(config, prices, last)
    scores = {r["ticker"]: r["predicted_return"] for r in rows}
    current = dict(holdings or {})
    targets = target_weights(config.rule(), scores, current, eligible=[r["ticker"] for r in rows if r["eligible"]],
                             volatility={r["ticker"]: r["volatility"] for r in rows})  # fmt: skip
    order = {t: i + 1 for i, t in enumerate(rank(scores))}
    for r in rows:
        r.update(rank=order.get(r["ticker"]), target_weight=targets.get(r["ticker"], 0.0),
                 held_weight=current.get(r["ticker"], 0.0))
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0))
    plain = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    invested = sum(w for w in targets.values() if w > 0)
    return {"strategy": config.run.strategy.name, "model": config.run.forecast.model,
            "data_through": f"{last:%Y-%m-%d}", "k": config.topk.k, "weighting": config.topk.weighting,
            "threshold": config.run.strategy.threshold, "volatility_days": VOL_WINDOW,
            "targets": {t: w for t, w in targets.items() if w > 0}, "cash": 1.0 - invested,
            "ranking": plain, "left_out": left}  # fmt: skip
