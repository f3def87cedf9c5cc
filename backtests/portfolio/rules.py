"""The rules a portfolio run backtests over the same days, and the figures that compare them.

``strategy``: the top-k rule on the model's forecasts. ``equal_weight``: every name at 1/n,
rebalanced monthly (the buy-and-hold of the universe). ``topk_naive`` and ``topk_ridge``: the
same rule on the naive and the ridge baselines' forecasts (the naive forecast predicts no change,
so with a threshold of 0 or more it never buys: cash). ``momentum``: the same rule ranking 12-1
month momentum (not a predicted return, so without the threshold). Each backtest is one
deterministic Cerebro, so the results do not depend on the process it runs in.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from forecasting.parallel import InProcess, Task
from reports.evaluation import probabilistic_sharpe_ratio, sharpe_per_period
from reports.metrics import TRADING_DAYS
from reports.summaries import Activity, Performance, PortfolioSummary
from strategies.topk import EqualWeight, TopkStrategy

from ..config import BrokerConfig
from ..data import PriceData
from ..engine import FILL_COLUMNS, BacktestResult, run_backtest
from ..runner import Executor
from . import panel as pn
from .config import PortfolioConfig
from .forecasts import TickerForecasts

RULES = ("strategy", "equal_weight", "topk_naive", "topk_ridge", "momentum")
Job = tuple[dict[str, pd.DataFrame], type, dict[str, Any], BrokerConfig]


def rule_scores(name: str, prices: dict[str, PriceData], forecasts: dict[str, TickerForecasts]) -> dict[str, Any]:
    """Each ticker's score series under rule ``name`` (indexed by the day it is known)."""
    if name == "momentum":
        return {t: pn.momentum_scores(prices[t].frame["close"]) for t in forecasts}
    if name == "equal_weight":
        return {t: pd.Series(0.0, index=prices[t].frame.index) for t in forecasts}
    pick = {"strategy": lambda f: f.model, "topk_naive": lambda f: f.baselines["naive"],
            "topk_ridge": lambda f: f.baselines["ridge"]}[name]  # fmt: skip
    return {t: pn.forecast_scores(pick(f)) for t, f in forecasts.items()}


def rule_jobs(config: PortfolioConfig, prices: dict[str, PriceData], forecasts: dict[str, TickerForecasts],
              dates: pd.DatetimeIndex, member: pd.DataFrame | None) -> dict[str, Job]:  # fmt: skip
    """The backtest of each rule: its frames, strategy class, parameters and broker."""
    broker = config.run.broker
    jobs: dict[str, Job] = {}
    base = pn.panel(prices, dates, rule_scores("strategy", prices, forecasts), member)
    for name in RULES:
        frames = base if name == "strategy" else pn.rescored(prices, base, rule_scores(name, prices, forecasts))
        if name == "equal_weight":
            jobs[name] = (frames, EqualWeight, {"size": config.run.strategy.size}, broker)
        else:
            rule = config.rule(thresholded=name != "momentum")
            jobs[name] = (frames, TopkStrategy, dataclasses.asdict(rule), broker)
    return jobs


def rule_task(job: Job, report: Callable[[Any], None]) -> BacktestResult:
    """One rule's backtest as an executor task (no progress to report)."""
    return run_backtest(*job)


def never_buys(job: Job) -> bool:
    """Whether a thresholded top-k rule has no candidate on any day (the naive forecast's): it stays in cash."""
    frames, strategy, params, _ = job
    threshold = params.get("threshold")
    if strategy is not TopkStrategy or threshold is None:
        return False
    return not any(bool((frame["score"] > threshold).any()) for frame in frames.values())


def cash_only(job: Job) -> BacktestResult:
    """What the backtest of a rule that never buys gives, without running it: the starting cash every day."""
    frames, _, _, broker = job
    index = pd.DatetimeIndex(next(iter(frames.values())).index, name="date")
    equity = pd.Series(broker.cash, index=index, name="equity")
    weights = pd.DataFrame(0.0, index=index, columns=list(frames))
    return BacktestResult(equity, pd.DataFrame(columns=FILL_COLUMNS), weights, 0, [])


def run_rules(config: PortfolioConfig, prices: dict[str, PriceData], forecasts: dict[str, TickerForecasts],
              dates: pd.DatetimeIndex, member: pd.DataFrame | None, *, executor: Executor | None = None,
              names: tuple[str, ...] = RULES) -> dict[str, BacktestResult]:  # fmt: skip
    """Backtest the rules ``names`` (default: every rule) over ``dates``: in this process, or side by side on
    ``executor`` (the command's ``ExecutorSession``; each backtest of thirty tickers over five years takes a
    second or two). Paper trading's report leaves out ``strategy``: its ledger is the strategy."""
    jobs = {name: job for name, job in rule_jobs(config, prices, forecasts, dates, member).items() if name in names}
    same = "strategy" in jobs and config.run.forecast.model == "ridge" and config.run.forecast.seeds == 1
    if same:
        jobs.pop("topk_ridge", None)  # the same scores as the strategy's: the same backtest
    done = {name: cash_only(job) for name, job in jobs.items() if never_buys(job)}
    left = [name for name in jobs if name not in done]
    runner = (executor.runner(len(left), start=False, doing="the portfolio's backtests ran") if executor
              else InProcess())  # a few seconds each: a cluster is not started for them alone
    results = runner.run([Task(rule_task, (jobs[name],), f"rule-{name}") for name in left])
    done.update(zip(left, results, strict=True))
    if same:
        done.setdefault("topk_ridge", done["strategy"])
    return {name: done[name] for name in names}


def compare(runs: dict[str, BacktestResult], benchmark: pd.Series, prices: dict[str, PriceData],
            dates: pd.DatetimeIndex, cash: float) -> tuple[pd.DataFrame, PortfolioSummary]:  # fmt: skip
    """Each run's daily returns (a column each, in ``runs``' order) beside ``benchmark``'s, and their summary:
    what ``bt run topk-strategy`` and a portfolio paper report both show, over the same ``dates``."""
    returns = pd.DataFrame({name: r.returns for name, r in runs.items()})
    returns["benchmark"] = benchmark
    returns.index.name = "date"
    opens = pd.DataFrame({t: prices[t].frame["open"].reindex(dates) for t in prices})
    return returns, summarise(returns, runs, opens, cash)


def activity(run: BacktestResult, opens: pd.DataFrame, cash: float) -> Activity:
    """Fills, refused orders, annual turnover and the costs paid (money and fraction of the starting cash)."""
    costs = run.costs(opens)
    paid = costs["commission"] + costs["slippage"]
    return Activity(fills=len(run.fills), refused=run.refused,
                    turnover_per_year=float(run.turnover().mean() * TRADING_DAYS), commission=costs["commission"],
                    slippage=costs["slippage"], costs=paid, costs_fraction=paid / cash)  # fmt: skip


def summarise(returns: pd.DataFrame, runs: dict[str, BacktestResult], opens: pd.DataFrame,
              cash: float) -> PortfolioSummary:  # fmt: skip
    """Performance of every column, the strategy's PSR against zero and each comparison, activity and days."""
    strategy = returns["strategy"]
    return PortfolioSummary(
        performance={col: Performance.of(returns[col]) for col in returns},
        psr_vs_zero=probabilistic_sharpe_ratio(strategy, 0.0),
        psr={col: probabilistic_sharpe_ratio(strategy, _sharpe_or_zero(returns[col]))
             for col in returns if col != "strategy"},
        activity={name: activity(run, opens, cash) for name, run in runs.items()},
        trades=len(runs["strategy"].fills), first_day=f"{returns.index[0]:%Y-%m-%d}",
        last_day=f"{returns.index[-1]:%Y-%m-%d}", days=len(returns),
    )  # fmt: skip


def _sharpe_or_zero(returns: pd.Series) -> float:
    """Per-period Sharpe; 0 for a flat series (cash), which has none."""
    value = sharpe_per_period(returns)
    return 0.0 if math.isnan(value) else value
