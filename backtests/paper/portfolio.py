"""Paper trading a portfolio: the top-k rule stepped day by day on the shared ledger, as ``bt run topk-strategy``.

An experiment stores its ``PortfolioConfig``. ``PortfolioSession`` is the kind of
``experiment.Session`` that ``bt paper step`` and ``replay`` hold for such an experiment
(``session.step`` and ``replay`` open it). A step is one trading day of the portfolio's calendar
and one ledger transaction: each ticker retrains on its walk-forward schedule (the splitter's fold
of the same number as in ``bt run``, through ``forecasting.fit_fold``) and forecasts the next day;
then ``day.trade_portfolio_day`` fills yesterday's orders at the open and decides today's from
the close, with the backtest's strategy class and broker. So replaying a period gives the fills and
the daily equity of ``bt run topk-strategy`` over it. The lock, the step-follows check and the
constraints of ``ledger`` keep a day from being applied twice.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting import Forecaster, fit_fold, predict_members

from ..data import PriceData, membership_mask
from ..errors import DataError
from ..portfolio.config import PortfolioConfig
from ..portfolio.panel import calendar, ticker_frame
from ..portfolio.runner import load_all
from .day import trade_portfolio_day
from .experiment import Notify, Session, new_experiment_folder
from .ledger import Ledger, StepRecord
from .models import write_model_file


@dataclass(frozen=True)
class PortfolioDayReport:
    """What one step did: the account at the close, the fills, the retrains and the orders queued."""

    name: str
    step: int
    date: pd.Timestamp
    cash: float
    equity: float
    start_cash: float
    fills: list[dict[str, Any]]
    rejected: int
    retrained: int
    targets: dict[str, float]
    orders: list[tuple[str, int]]


def start_portfolio(name: str, config: PortfolioConfig, *, folder: Path | None = None,
                    notify: Notify | None = None) -> tuple[int, dict[str, str]]:  # fmt: skip
    """Create portfolio experiment ``name`` with the tickers that have data; its id and the tickers left out."""
    folder = new_experiment_folder(name, folder)
    prices, left = load_all(config, notify)
    kept = dataclasses.replace(config, tickers=tuple(t for t in config.tickers if t in prices))
    with Ledger(folder, create=True) as ledger:
        return ledger.create_experiment(name, kept.to_dict()), left


class PortfolioSession(Session[PortfolioDayReport]):
    """One command's hold on a portfolio experiment (``session.open_session`` opens it): its
    prices, on the calendar of its tickers' days, and its forecasters."""

    where = "the portfolio's days"

    def __init__(self, name: str, folder: Path, ledger: Ledger, exp: dict[str, Any], notify: Notify | None) -> None:
        super().__init__(name, folder, ledger, exp)
        self.data_words = f"the data of {name}'s tickers"
        self.config = PortfolioConfig.from_dict(exp["config"])
        self.forecast = self.config.run.forecast
        self.prices, left = load_all(self.config, notify)
        if left:
            raise DataError(f"{self.name}: {', '.join(left)} have no data now ({next(iter(left.values()))})")
        self.days = calendar(self.prices)
        self.last = self.ledger.last_account(self.eid)
        self.members: dict[str, list[Forecaster]] = {}
        latest = self.ledger.latest_model(self.eid)
        self.version = None if latest is None else latest["version"]
        self.opening = self.check_opening()
        self.frames: dict[str, pd.DataFrame] | None = None

    def stepped(self) -> tuple[int, pd.Timestamp] | None:
        """The last stepped day's step number and date; None before the first step."""
        return None if self.last is None else (self.last["step"], pd.Timestamp(self.last["date"]))

    def step_at(self, p: int) -> PortfolioDayReport:
        """One day: retrain what is due, forecast, fill yesterday's orders, decide; one transaction."""
        if self.opening is None:  # the first step (no last day)
            self.opening = p
        n = p - self.opening
        forecasts, files = self.forecast_day(p)
        frames = self.day_frames(p, n, forecasts)
        queued = self.ledger.queued_orders(self.eid)
        last, held = None, {}
        if self.last is not None:
            last = (pd.Timestamp(self.last["date"]), self.last["cash"])
            held = self.ledger.positions_at(self.eid, last[0])
        rule, orders = dataclasses.asdict(self.config.rule()), [(o.ticker, o.size) for o in queued]
        out = trade_portfolio_day(frames, rule, self.config.run.broker, last, held, orders)
        date, closes = self.days[p], {t: float(f["close"].iloc[-1]) for t, f in frames.items()}
        model = self.model_row(date, files) if files else None
        self.ledger.record_step(StepRecord(
            self.eid, n, date, out.equity - out.cash, out.cash, out.equity,
            [(t, size, price) for t, (size, price) in sorted(out.held.items())],
            settled=[(o.id, status) for o, status in zip(queued, out.settled, strict=True)],
            fills=[(queued[i].id, f) for i, f in out.fills],
            new_orders=[(t, size, closes[t]) for t, size in out.new_orders],
            forecasts=[(t, forecast, close) for t, (forecast, close) in sorted(forecasts.items())],
            model_version=self.version, model=model,
        ))  # fmt: skip
        self.last = {"step": n, "date": f"{date:%Y-%m-%d}", "cash": out.cash, "equity": out.equity}
        fills = [{**f, "ticker": queued[i].ticker} for i, f in out.fills]
        return PortfolioDayReport(self.name, n, date, out.cash, out.equity, self.config.run.broker.cash, fills,
                                  out.settled.count("rejected"), len({e["ticker"] for e in files}), out.targets,
                                  out.new_orders)  # fmt: skip

    def forecast_day(self, p: int) -> tuple[dict[str, tuple[float, float]], list[dict[str, str]]]:
        """Each ticker's forecast for the next day and its close (tickers with a bar today); model files written."""
        date = self.days[p]
        out, files = {}, []
        for ticker, prices in self.prices.items():
            index = prices.frame.index
            if date not in index:
                continue
            here, opening = int(index.get_loc(date)), self.ticker_opening(prices)
            close = prices.frame["close"].to_numpy(dtype=np.float64)
            if self.retrains(here - opening):
                files += self.retrain(ticker, close, here, opening)
            predicted = predict_members(self.forecasters(ticker), close, np.array([here]), self.forecast.lookback)
            out[ticker] = (float(np.mean(predicted, axis=0)[0]), float(close[here]))
        return out, files

    def ticker_opening(self, prices: PriceData) -> int:
        """Position of the experiment's opening day in one ticker's own data (it must trade that day)."""
        day, index = self.days[self.opening], prices.frame.index
        if day not in index:
            raise DataError(f"{prices.ticker} did not trade on {day:%Y-%m-%d}, the day {self.name} opens; "
                            "open it on another day or leave the ticker out")  # fmt: skip
        opening = int(index.get_loc(day))
        self.check_history(index, opening, prices.ticker)
        return opening

    def retrain(self, ticker: str, close: np.ndarray, here: int, opening: int) -> list[dict[str, str]]:
        """Fit the ticker's fold whose origin is today; write its model files (before the step's transaction)."""
        members = self.forecasters(ticker)
        fold = self.fold(opening, here, len(close) - 1)
        start = self.prices[ticker].frame.index[fold.train_start]
        self.info = {**fit_fold(members, close, fold, self.forecast.lookback), "train_start": f"{start:%Y-%m-%d}"}
        version = 1 if self.version is None else self.version + 1
        return [{"ticker": ticker, **write_model_file(self.folder, f"{self.name}/{ticker}", version, i, m.to_bytes())}
                for i, m in enumerate(members)]  # fmt: skip

    def forecasters(self, ticker: str) -> list[Forecaster]:
        """The ticker's forecasters from its last retrain: in memory, else from the ledger's files."""
        if ticker not in self.members:
            self.members[ticker] = self.carried(ticker)
        return self.members[ticker]

    def model_row(self, date: pd.Timestamp, files: list[dict[str, str]]) -> dict[str, Any]:
        """The ``models`` row of today's retrain (the training window and figures of its last ticker)."""
        self.version = 1 if self.version is None else self.version + 1
        info = self.info
        return {"version": self.version, "train_start": info["train_start"], "train_end": f"{date:%Y-%m-%d}",
                "n_train": info["n_train"], "epochs": info["epochs"], "val_loss": info["val_loss"],
                "seconds": info["seconds"], "files": files}  # fmt: skip

    def day_frames(self, p: int, n: int, forecasts: dict[str, tuple[float, float]]) -> dict[str, pd.DataFrame]:
        """The feeds of day ``p`` (step ``n``): [yesterday,] today, with today's scores (as ``bt run``'s panel has
        them)."""
        if self.frames is None:
            dates = self.days[p - n :]
            member = membership_mask(list(self.prices), dates) if self.config.membership else None
            empty = pd.Series(math.nan, index=dates)
            self.frames = {t: ticker_frame(self.prices[t], dates, empty, None if member is None else member[t])
                           for t in sorted(self.prices)}  # fmt: skip
        out = {}
        for ticker, frame in self.frames.items():
            part = frame.iloc[max(n - 1, 0) : n + 1].copy()
            forecast, close = forecasts.get(ticker, (math.nan, math.nan))
            part.iloc[-1, part.columns.get_loc("score")] = forecast / close - 1.0 if close > 0 else math.nan
            out[ticker] = part
        return out
