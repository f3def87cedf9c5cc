"""``bt signal``: the latest forecast and what the strategy class itself would order for the next open.

The forecast is the walk-forward's: the splitter's fold whose origin is the last day of data,
fit by ``forecasting.fit_fold``. The decision is the strategy's own ``next()``, run by
``trade_day`` over the latest bars (with the warm-up its indicators need) from an account that
holds the position the user says it holds, so ``bt signal``, ``bt run`` and paper trading
cannot disagree on what a forecast means.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from forecasting import fit_fold, predict_members
from strategies.signals import predicted_return

from ..config import RunConfig
from ..data import PriceData
from ..errors import ConfigError, DataError
from ..strategy_setup import choose
from .day import trade_day, warmup_bars
from .ledger import Day

Holding = Literal["flat", "long", "short"]
_SIDES: dict[Holding, int] = {"flat": 0, "long": 1, "short": -1}
_NAMES = {0: "flat", 1: "long", -1: "short"}


def _forecast(config: RunConfig, prices: PriceData) -> tuple[float, dict[str, Any]]:
    """Train on the latest walk-forward window and forecast the next trading day."""
    close = prices.frame["close"].to_numpy(dtype=np.float64)
    index, p, fc = prices.frame.index, len(close) - 1, config.forecast
    if p < fc.train_days - 1:
        raise DataError(f"{prices.ticker} ({prices.source}) has {p + 1} rows; the model needs {fc.train_days} "
                        "(--train-days); pass --csv PATH with a longer history or lower --train-days")  # fmt: skip
    fold = fc.splitter().fold(0, p + 1, p + 1)
    members = fc.forecasters()
    info = fit_fold(members, close, fold, fc.lookback)
    forecast = float(np.mean(predict_members(members, close, np.array([p]), fc.lookback), axis=0)[0])
    return forecast, {"model": fc.model, "train_start": f"{index[fold.train_start]:%Y-%m-%d}",
                      "train_end": f"{index[p]:%Y-%m-%d}", "n_train": info["n_train"]}  # fmt: skip


def _holding(config: RunConfig, bars: pd.DataFrame, side: int) -> Day | None:
    """An account holding ``size`` of equity long or short at the previous close (None when flat).

    ``bars`` is [warm-up..., previous close,] today: the position is bought at the bar before the last.
    """
    if side == 0:
        return None
    previous = max(len(bars) - 2, 0)
    cash, date, price = config.broker.cash, bars.index[previous], float(bars["close"].iloc[previous])
    shares = side * math.floor(config.strategy.size * cash / price)
    return Day(0, date, price, cash - shares * price, cash, shares, price)


def parse_holding(text: str) -> Holding:
    """``text`` (``--position``) as what is held now; ConfigError unless it is flat, long or short."""
    for side in _SIDES:
        if text == side:
            return side
    raise ConfigError(f"--position must be flat, long or short. Got {text!r}.")


def latest_signal(config: RunConfig, prices: PriceData, *, holding: Holding = "flat") -> dict[str, Any]:
    """Today's forecast (for forecasting strategies) and the order the strategy places for the next open."""
    holding = parse_holding(holding)  # a caller without a type checker may pass any text
    chosen = choose(config.strategy)
    spec, strategy = chosen.spec, chosen.cls
    forecast, about = _forecast(config, prices) if spec.uses_forecast else (math.nan, {"model": None})
    p = len(prices.frame) - 1
    bars = prices.frame.iloc[max(p - warmup_bars(strategy) - 1, 0) : p + 1].assign(forecast=math.nan)
    bars.iloc[-1, -1] = forecast
    out = trade_day(bars, strategy, chosen.params, config.broker,
                    _holding(config, bars, _SIDES[holding]), None, prices.ticker)  # fmt: skip
    order = out.new_orders[0][1] if out.new_orders else 0
    close = float(prices.frame["close"].iloc[-1])
    after = _NAMES[int(np.sign(out.held[prices.ticker][0] + order))]
    return {
        "ticker": prices.ticker, "source": prices.source, "strategy": spec.name,
        "data_through": f"{prices.frame.index[-1]:%Y-%m-%d}", "close": close,
        "forecast": None if math.isnan(forecast) else forecast,
        "predicted_return": None if math.isnan(forecast) else predicted_return(forecast, close),
        "holding": holding, "action": "buy" if order > 0 else "sell" if order < 0 else "hold",
        "order_size": order, "position": after, "threshold": config.strategy.threshold, **about,
    }  # fmt: skip
