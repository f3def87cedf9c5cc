"""Paper trading: a simulated account stepped day by day, decided and filled by the backtest's code.

One session for any number of tickers: ``step`` and ``replay`` open the experiment (``open_session``)
and the ledger says whether it trades one ticker (``TickerSession``, here) or a portfolio
(``portfolio.PortfolioSession``); the day loop, the settled day and the replay range
are ``experiment.Session``'s, the same for both.

One implementation, two modes. A step runs the registered strategy class in backtrader with
the project's broker model, resumed from the ledger (see ``day``): the decision is the
strategy's own ``next()`` (``strategies.signals.forecast_target`` for lstm-strategy) and the
fill is backtrader's own market-order arithmetic. The alternative, a small pure-Python broker,
would copy backtrader's sizing, slippage, cash-check and commission rules and could drift
from them; reusing backtrader makes replay-versus-``bt run`` parity exact by construction.

Every registered strategy paper-trades: a step feeds it the bars since the account opened,
up to the warm-up its indicators declare (``warmup`` on the class, e.g. 49 for sma-cross), so
its ``next()`` sees what it would see in ``bt run`` on the same day.

Forecasts follow the walk-forward: step n (step 0 opens the account and only decides)
forecasts the next day; it retrains when n is a multiple of ``retrain_every``, on the fold
``WalkForwardSplitter.fold`` gives for n // retrain_every (exactly ``bt run``'s fold of that
number), through ``forecasting.fit_fold``, the walk-forward's own code, continuing the
forecaster from memory or from its saved file, and predicts the window ending at the step's
close (every forecaster predicts each window independently of its batch), so replayed
forecasts are byte-identical to ``bt run``'s.

State lives in ``paper_dir()``: ``$BT_PAPER_DIR``, else ``$XDG_DATA_HOME/bt-lstm/paper``, else
``~/.local/share/bt-lstm/paper`` (see ``ledger`` for the database and its guarantees).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting import Forecaster, fit_fold, predict_members

from ..config import RunConfig
from ..data import ticker_prices
from ..strategy_setup import choose
from .day import trade_day, warmup_bars
from .experiment import Advance, Notify, Session, new_experiment_folder
from .ledger import Day, Ledger, StepRecord, experiment_lock, paper_dir
from .models import write_model_file
from .portfolio import PortfolioSession

__all__ = ["Advance", "DayReport", "replay", "start", "step"]

OnDay = Callable[[int, int, Any], None]  # (days done, days in all, the day's report: one ticker's or a portfolio's)


@dataclass(frozen=True)
class DayReport:
    """What one step did: the fill, the retrain, the forecast, the order queued, the account."""

    name: str
    ticker: str
    day: Day
    start_cash: float
    fill: dict[str, Any] | None
    rejected: bool
    model: dict[str, Any] | None
    forecast: float | None
    order: int | None


def start(name: str, config: RunConfig, *, folder: Path | None = None, notify: Notify | None = None) -> int:
    """Create experiment ``name`` trading one ticker (refused when it exists); its data must load. Returns its id."""
    # a known strategy that takes these settings, before any data is read
    folder = new_experiment_folder(name, folder, check=lambda: choose(config.strategy))
    ticker_prices(config.data, notify=notify)
    with Ledger(folder, create=True) as ledger:
        return ledger.create_experiment(name, config.to_dict())


def step(name: str, *, date: dt.date | None = None, folder: Path | None = None,
         notify: Notify | None = None, on_day: OnDay | None = None) -> Advance[Any]:  # fmt: skip
    """Step ``name`` (one ticker or a portfolio) through ``date`` (default: the latest settled day of data),
    catching up missed days."""
    with open_session(name, folder, notify) as session:
        return session.run(session.step_positions(date), on_day)


def replay(name: str, *, start: dt.date | None = None, end: dt.date | None = None, folder: Path | None = None,
           notify: Notify | None = None, on_day: OnDay | None = None) -> Advance[Any]:  # fmt: skip
    """Step ``name`` through history from ``start`` (its first trading day, as in ``bt run``) to ``end``.

    A new experiment opens on the trading day before ``start`` (it only decides there), so its
    fills and daily equity are those of ``bt run --start START --end END`` (``bt run topk-strategy`` for a
    portfolio). A started one continues from the day after its last step.
    """
    with open_session(name, folder, notify) as session:
        return session.run(session.replay_positions(start, end), on_day)


@contextlib.contextmanager
def open_session(name: str, folder: Path | None, notify: Notify | None) -> Iterator[Session[Any]]:
    """Hold experiment ``name``: its ledger, its lock (released on exit) and its data, as the ledger's kind says
    (one ticker or a portfolio)."""
    folder = Path(folder or paper_dir())
    with Ledger(folder) as ledger:
        exp = ledger.experiment(name)
        with experiment_lock(folder, name):
            kind = PortfolioSession if exp["portfolio"] else TickerSession
            yield kind(name, folder, ledger, exp, notify)


class TickerSession(Session[DayReport]):
    """One command's hold on an experiment of one ticker: its ledger, data and forecasters."""

    def __init__(self, name: str, folder: Path, ledger: Ledger, exp: dict[str, Any], notify: Notify | None) -> None:
        super().__init__(name, folder, ledger, exp)
        self.config = RunConfig.from_dict(exp["config"])
        self.forecast = self.config.forecast
        self.chosen = choose(self.config.strategy, strict=False)  # as it was started, by earlier versions too
        self.spec = self.chosen.spec
        self.prices = ticker_prices(self.config.data, notify=notify)
        self.frame = self.prices.frame
        self.days, self.source = self.frame.index, self.prices.source
        self.where = f"{self.prices.ticker} ({self.prices.source})"
        self.data_words = f"{self.prices.ticker} data ({self.prices.source})"
        self.close = self.frame["close"].to_numpy(dtype=np.float64)
        self.last = self.ledger.last_day(self.eid)
        self.members: list[Forecaster] | None = None
        latest = self.ledger.latest_model(self.eid)
        self.version = None if latest is None else latest["version"]
        self.opening = self.check_opening()
        self.warmup = warmup_bars(self.chosen.cls)

    def stepped(self) -> tuple[int, pd.Timestamp] | None:
        """The last stepped day's step number and date; None before the first step."""
        return None if self.last is None else (self.last.step, self.last.date)

    def step_at(self, p: int) -> DayReport:
        """One day: retrain if due, forecast, fill yesterday's order and decide today's; one transaction."""
        if self.opening is None:  # the first step (no last day)
            self.check_history(self.frame.index, p, self.prices.ticker)
            self.opening = p
        n = p - self.opening
        model, forecast, version = None, None, None
        if self.spec.uses_forecast:
            model = self._retrain(p, n) if self.retrains(n) else None
            forecast = self._forecast(p)
            version = self.version
        bars = self.frame.iloc[max(p - 1 - self.warmup, self.opening) : p + 1].assign(forecast=math.nan)
        bars.iloc[-1, -1] = math.nan if forecast is None else forecast
        queued = self.ledger.queued_order(self.eid)
        out = trade_day(bars, self.chosen.cls, self.chosen.params, self.config.broker, self.last, queued)
        day = Day(n, self.frame.index[p], float(self.close[p]), out.cash, out.equity, out.size, out.price)
        ticker = self.prices.ticker
        self.ledger.record_step(StepRecord(
            self.eid, n, day.date, day.close, day.cash, day.equity, [(ticker, day.size, day.price)],
            settled=[] if out.settled is None else [out.settled],
            fills=[] if out.fill is None or out.settled is None else [(out.settled[0], out.fill)],
            new_orders=[] if out.new_order is None else [(ticker, out.new_order, day.close)],
            forecasts=[] if forecast is None else [(ticker, forecast, day.close)], model_version=version, model=model,
        ))  # fmt: skip
        self.last = day
        return DayReport(self.name, self.prices.ticker, day, self.config.broker.cash, out.fill,
                         out.settled is not None and out.settled[1] == "rejected", model, forecast,
                         out.new_order)  # fmt: skip

    def _forecasters(self) -> list[Forecaster]:
        """The forecasters carried from the last retrain: in memory, else from the ledger's files."""
        if self.members is None:
            self.members = self.carried()
        return self.members

    def _retrain(self, p: int, n: int) -> dict[str, Any]:
        """Fit the fold whose origin is ``p`` (fold n // retrain_every); save a new model version."""
        members, fold = self._forecasters(), self.fold(p - n, p, len(self.close) - 1)
        info = fit_fold(members, self.close, fold, self.config.forecast.lookback)
        version = 1 if self.version is None else self.version + 1
        files = [write_model_file(self.folder, self.name, version, i, m.to_bytes()) for i, m in enumerate(members)]
        index, self.version = self.frame.index, version
        dates = {"train_start": f"{index[fold.train_start]:%Y-%m-%d}", "train_end": f"{index[p]:%Y-%m-%d}"}
        return {**info, "train_start": fold.train_start, **dates, "version": version, "files": files}

    def _forecast(self, p: int) -> float:
        """Forecast day p + 1 from the window ending at p, with the members of the last retrain."""
        predicted = predict_members(self._forecasters(), self.close, np.array([p]), self.config.forecast.lookback)
        return float(np.mean(predicted, axis=0)[0])
