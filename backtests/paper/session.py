"""Paper trading: a simulated account stepped day by day, decided and filled by the backtest's code.

One session for any number of tickers: ``start`` creates an experiment (one ticker's ``RunConfig`` or a
portfolio's ``PortfolioConfig``), ``step`` and ``replay`` open it (``open_session``) as one ``PaperSession``.
A step is one trading day of the experiment's calendar and one ledger transaction: each ticker retrains on its
walk-forward schedule and forecasts the next day, in one loop over the tickers (one ticker is the loop of one),
then the day is traded by the function of ``day`` that the strategy's kind names (``strategies.registry``:
``trade_day`` for a single-ticker strategy, ``trade_portfolio_day`` for a ranking one, as ``bt run`` and
``bt run topk-strategy`` run them). The day loop, the settled day and the replay range are
``experiment.Session``'s.

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
forecasts the next day; a ticker retrains when n is a multiple of ``retrain_every``, on the fold
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
import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting import Forecaster, fit_fold, predict_members
from strategies import registry

from ..config import RunConfig
from ..data import PriceData, membership_mask, ticker_prices
from ..errors import DataError
from ..portfolio.config import PortfolioConfig
from ..portfolio.panel import calendar, ticker_frame
from ..portfolio.runner import load_all
from ..strategy_setup import choose
from .day import DayOutcome, Holdings, trade_day, trade_portfolio_day, warmup_bars
from .experiment import Advance, Notify, Session, new_experiment_folder
from .ledger import Day, Ledger, Order, StepRecord, experiment_lock, paper_dir
from .models import write_model_file

__all__ = ["Advance", "DayReport", "PaperSession", "replay", "start", "step"]

OnDay = Callable[[int, int, "DayReport"], None]  # (days done, days in all, the day's report)
Forecasts = dict[str, tuple[float, float]]  # ticker -> (forecast for the next day, today's close)


@dataclass(frozen=True)
class DayReport:
    """What one step did, one ticker or many: the account at the close, the fills, the retrain, the forecasts,
    the orders queued and (a ranking strategy) the target weights."""

    name: str
    step: int
    date: pd.Timestamp
    cash: float
    equity: float
    start_cash: float
    held: Holdings  # ticker -> (size, average price) at the close (one ticker's even when flat)
    fills: list[dict[str, Any]]  # each with its ticker
    rejected: int  # queued orders the broker refused (not enough cash)
    model: dict[str, Any] | None  # the new model version's row, when the step retrained
    retrained: int  # tickers retrained
    forecasts: Forecasts
    orders: list[tuple[str, int]]  # (ticker, signed size) queued for the next open
    targets: dict[str, float] | None  # a ranking strategy's target weights; None for a single-ticker strategy


def start(name: str, config: RunConfig | PortfolioConfig, *, folder: Path | None = None,
          notify: Notify | None = None) -> tuple[int, dict[str, str]]:  # fmt: skip
    """Create experiment ``name`` (refused when it exists) trading one ticker (a ``RunConfig``, whose data must
    load) or a portfolio (a ``PortfolioConfig``: the tickers that have data); its id and the tickers left out."""
    if isinstance(config, PortfolioConfig):
        folder = new_experiment_folder(name, folder)
        prices, left = load_all(config, notify)
        config = dataclasses.replace(config, tickers=tuple(t for t in config.tickers if t in prices))
    else:  # a known strategy that takes these settings, before any data is read
        folder = new_experiment_folder(name, folder, check=lambda: choose(config.strategy))
        ticker_prices(config.data, notify=notify)
        left = {}
    with Ledger(folder, create=True) as ledger:
        return ledger.create_experiment(name, config.to_dict()), left


def step(name: str, *, date: dt.date | None = None, folder: Path | None = None,
         notify: Notify | None = None, on_day: OnDay | None = None) -> Advance[DayReport]:  # fmt: skip
    """Step ``name`` (one ticker or a portfolio) through ``date`` (default: the latest settled day of data),
    catching up missed days."""
    with open_session(name, folder, notify) as session:
        return session.run(session.step_positions(date), on_day)


def replay(name: str, *, start: dt.date | None = None, end: dt.date | None = None, folder: Path | None = None,
           notify: Notify | None = None, on_day: OnDay | None = None) -> Advance[DayReport]:  # fmt: skip
    """Step ``name`` through history from ``start`` (its first trading day, as in ``bt run``) to ``end``.

    A new experiment opens on the trading day before ``start`` (it only decides there), so its
    fills and daily equity are those of ``bt run --start START --end END`` (``bt run topk-strategy`` for a
    portfolio). A started one continues from the day after its last step.
    """
    with open_session(name, folder, notify) as session:
        return session.run(session.replay_positions(start, end), on_day)


@contextlib.contextmanager
def open_session(name: str, folder: Path | None, notify: Notify | None) -> Iterator[PaperSession]:
    """Hold experiment ``name``: its ledger, its lock (released on exit) and its data."""
    folder = Path(folder or paper_dir())
    with Ledger(folder) as ledger:
        exp = ledger.experiment(name)
        with experiment_lock(folder, name):
            yield PaperSession(name, folder, ledger, exp, notify)


def load_experiment(name: str, exp: dict[str, Any], portfolio: PortfolioConfig | None,
                    notify: Notify | None) -> tuple[RunConfig, dict[str, PriceData], str, str]:  # fmt: skip
    """An experiment's run settings, its tickers' prices, and its data in a replay's errors and in others;
    ``portfolio``: its portfolio settings, None for one ticker."""
    if portfolio is None:
        config = RunConfig.from_dict(exp["config"])
        prices = ticker_prices(config.data, notify=notify)
        return config, {prices.ticker: prices}, f"{prices.ticker} ({prices.source})", \
            f"{prices.ticker} data ({prices.source})"  # fmt: skip
    loaded, left = load_all(portfolio, notify)
    if left:
        raise DataError(f"{name}: {', '.join(left)} have no data now ({next(iter(left.values()))})")
    return portfolio.run, loaded, "the portfolio's days", f"the data of {name}'s tickers"


class PaperSession(Session[DayReport]):
    """One command's hold on an experiment of N >= 1 tickers (``open_session`` opens it): its ledger, its
    tickers' prices on their calendar, its forecasters, and the strategy whose kind trades the day."""

    def __init__(self, name: str, folder: Path, ledger: Ledger, exp: dict[str, Any], notify: Notify | None) -> None:
        super().__init__(name, folder, ledger, exp)
        self.portfolio = PortfolioConfig.from_dict(exp["config"]) if exp["portfolio"] else None
        self.config, self.prices, self.where, self.data_words = load_experiment(name, exp, self.portfolio, notify)
        self.forecast = self.config.forecast
        if self.portfolio is None:  # a single-ticker strategy, as it was started (by earlier versions too)
            chosen = choose(self.config.strategy, strict=False)
            self.spec, self.cls, self.params = chosen.spec, chosen.cls, chosen.params
            self.source = next(iter(self.prices.values())).source
        else:  # a ranking strategy, with the portfolio's rule
            self.spec = registry.find(self.config.strategy.name)
            self.cls, self.params = self.spec.load(), dataclasses.asdict(self.portfolio.rule())
        self.warmup = warmup_bars(self.cls)
        self.days = calendar(self.prices)  # every day any ticker traded (one ticker: its own days)
        self.last = self.ledger.last_account(self.eid)
        self.members: dict[str | None, list[Forecaster]] = {}
        latest = self.ledger.latest_model(self.eid)
        self.version = None if latest is None else latest["version"]
        self.opening = self.check_opening()
        self.frames: dict[str, pd.DataFrame] | None = None

    def stepped(self) -> tuple[int, pd.Timestamp] | None:
        """The last stepped day's step number and date; None before the first step."""
        return None if self.last is None else (self.last["step"], pd.Timestamp(self.last["date"]))

    def step_at(self, p: int) -> DayReport:
        """One day: retrain what is due, forecast, fill yesterday's orders, decide; one transaction."""
        if self.opening is None:  # the first step (no last day): every ticker trading that day opens there
            self.opening = p
            for prices in self.trading(p):
                self.ticker_opening(prices)
        n = p - self.opening
        forecasts, model = self.forecast_day(p) if self.spec.uses_forecast else ({}, None)
        queued = self.ledger.queued_orders(self.eid)
        out = self.trade(p, n, forecasts, queued)
        date = self.days[p]
        self.ledger.record_step(StepRecord(
            self.eid, n, date, out.close, out.cash, out.equity, [(t, s, c) for t, (s, c) in sorted(out.held.items())],
            settled=[(o.id, status) for o, status in zip(queued, out.settled, strict=True)],
            fills=[(queued[i].id, f) for i, f in out.fills], new_orders=out.new_orders,
            forecasts=[(t, forecast, close) for t, (forecast, close) in sorted(forecasts.items())],
            model_version=self.version if self.spec.uses_forecast else None, model=model,
        ))  # fmt: skip
        self.last = {"step": n, "date": f"{date:%Y-%m-%d}", "close": out.close, "cash": out.cash,
                     "equity": out.equity}  # fmt: skip
        return DayReport(self.name, n, date, out.cash, out.equity, self.config.broker.cash, out.held,
                         [{"ticker": queued[i].ticker, **f} for i, f in out.fills], out.settled.count("rejected"),
                         model, len({e.get("ticker") for e in model["files"]}) if model else 0, forecasts,
                         [(t, size) for t, size, _ in out.new_orders], out.targets)  # fmt: skip

    def trading(self, p: int) -> Iterator[PriceData]:
        """The prices of each ticker that has a bar on day ``p``, in the experiment's ticker order."""
        return (prices for prices in self.prices.values() if self.days[p] in prices.frame.index)

    def trade(self, p: int, n: int, forecasts: Forecasts, queued: list[Order]) -> DayOutcome:
        """Fill the queued orders and decide today's with the strategy's kind's day (``day``)."""
        held = {} if self.last is None else self.ledger.positions_at(self.eid, pd.Timestamp(self.last["date"]))
        if self.spec.kind == registry.RANKING:  # one feed per ticker, scored by its forecast
            last = None if self.last is None else (pd.Timestamp(self.last["date"]), self.last["cash"])
            orders = [(o.ticker, o.size) for o in queued]
            return trade_portfolio_day(self.day_frames(p, n, forecasts), self.params, self.config.broker, last,
                                       held, orders)  # fmt: skip
        ((ticker, prices),) = self.prices.items()
        bars = prices.frame.iloc[max(p - 1 - self.warmup, self.opening or 0) : p + 1].assign(forecast=math.nan)
        bars.iloc[-1, -1] = forecasts.get(ticker, (math.nan, math.nan))[0]
        day = None
        if self.last is not None:  # the one position, whatever an earlier version named it
            size, price = next(iter(held.values()))
            r = self.last
            day = Day(r["step"], pd.Timestamp(r["date"]), r["close"], r["cash"], r["equity"], size, price)
        return trade_day(bars, self.cls, self.params, self.config.broker, day, queued[0] if queued else None,
                         ticker)  # fmt: skip

    def forecast_day(self, p: int) -> tuple[Forecasts, dict[str, Any] | None]:
        """Each ticker's forecast for the next day and its close (tickers with a bar today), and the ``models``
        row when some retrained (their files written before the step's transaction)."""
        date, version = self.days[p], 1 if self.version is None else self.version + 1
        out, files, info = {}, [], None
        for prices in self.trading(p):
            here, opening = int(prices.frame.index.get_loc(date)), self.ticker_opening(prices)
            close = prices.frame["close"].to_numpy(dtype=np.float64)
            if self.retrains(here - opening):
                info, saved = self.retrain(prices, close, here, opening, version)
                files += saved
            members = self.forecasters(prices.ticker)
            predicted = predict_members(members, close, np.array([here]), self.forecast.lookback)
            out[prices.ticker] = (float(np.mean(predicted, axis=0)[0]), float(close[here]))
        if info is None:
            return out, None
        self.version = version  # the training window and figures of the last ticker retrained
        return out, {**info, "version": version, "train_end": f"{date:%Y-%m-%d}", "files": files}

    def ticker_opening(self, prices: PriceData) -> int:
        """Position of the experiment's opening day in one ticker's own data (it must trade that day, with the
        model's training window before it)."""
        day, index = self.days[self.opening or 0], prices.frame.index
        if day not in index:
            raise DataError(f"{prices.ticker} did not trade on {day:%Y-%m-%d}, the day {self.name} opens; "
                            "open it on another day or leave the ticker out")  # fmt: skip
        opening = int(index.get_loc(day))
        self.check_history(index, opening, prices.ticker)
        return opening

    def tag(self, ticker: str) -> str | None:
        """The ticker a model file names: a portfolio's files name theirs, one ticker's (as ever) none."""
        return None if self.portfolio is None else ticker

    def retrain(self, prices: PriceData, close: np.ndarray, here: int, opening: int,
                version: int) -> tuple[dict[str, Any], list[dict[str, str]]]:  # fmt: skip
        """Fit the ticker's fold whose origin is today; its figures and its model files, written now."""
        members, ticker = self.forecasters(prices.ticker), prices.ticker
        fold = self.fold(opening, here, len(close) - 1)
        start = prices.frame.index[fold.train_start]
        info = {**fit_fold(members, close, fold, self.forecast.lookback), "train_start": f"{start:%Y-%m-%d}"}
        tag = self.tag(ticker)
        where = self.name if tag is None else f"{self.name}/{tag}"
        entries = [write_model_file(self.folder, where, version, i, m.to_bytes()) for i, m in enumerate(members)]
        return info, [e if tag is None else {"ticker": tag, **e} for e in entries]

    def forecasters(self, ticker: str) -> list[Forecaster]:
        """The ticker's forecasters from its last retrain: in memory, else from the ledger's files."""
        tag = self.tag(ticker)
        if tag not in self.members:
            self.members[tag] = self.carried(tag)
        return self.members[tag]

    def day_frames(self, p: int, n: int, forecasts: Forecasts) -> dict[str, pd.DataFrame]:
        """A portfolio's feeds of day ``p`` (step ``n``): [yesterday,] today, with today's scores (as ``bt run``'s
        panel has them)."""
        if self.frames is None:
            dates = self.days[p - n :]
            member = membership_mask(list(self.prices), dates) if self.portfolio and self.portfolio.membership else None
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
