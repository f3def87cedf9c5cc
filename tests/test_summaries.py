"""Typed summaries: one dict form (run.json's ``summary``) that round-trips unchanged, and wrong types refused."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from backtests.data import load_prices
from backtests.engine import FILL_COLUMNS, BacktestResult
from backtests.portfolio.rules import summarise as portfolio_summarise
from backtests.runner import summarise
from reports.summaries import Activity, Coverage, Performance, PortfolioSummary, RunSummary

LEGACY = Path(__file__).parent / "fixtures" / "legacy" / "run-ridge"


def _text(value: Any) -> str:
    return json.dumps(value, indent=2)


def _returns(tickers: tuple[str, ...], days: int = 80) -> pd.DataFrame:
    closes = pd.DataFrame({t: load_prices(t).frame["close"] for t in tickers}).dropna().iloc[-days:]
    returns = closes.pct_change().iloc[1:]
    returns.index.name = "date"
    return returns


def test_a_saved_run_summary_round_trips_byte_for_byte() -> None:
    saved = json.loads((LEGACY / "run.json").read_text())["summary"]
    summary = RunSummary.from_dict(saved)
    assert _text(summary.to_dict()) == _text(saved)
    assert summary.forecast is not None and summary.forecast.folds == 3 and summary.trades == 3
    assert list(summary.performance) == ["strategy", "buy_and_hold", "sma_cross", "benchmark"]


def test_a_computed_run_summary_round_trips_with_and_without_forecasts() -> None:
    returns = _returns(("AAPL", "MSFT", "SPY")).set_axis(["strategy", "buy_and_hold", "benchmark"], axis=1)
    plain = summarise(returns, 4, None)
    assert plain.forecast is None and "forecast_rmse" not in plain.to_dict()
    forecasts = pd.DataFrame({"target_date": returns.index, "forecast": 1.0 + returns["strategy"],
                              "actual": 1.0 + returns["buy_and_hold"], "naive": 1.0, "fold": 0})  # fmt: skip
    for summary in (plain, summarise(returns, 4, forecasts, 2), summarise(returns, 4, forecasts)):
        again = RunSummary.from_dict(json.loads(json.dumps(summary.to_dict())))
        assert _text(again.to_dict()) == _text(summary.to_dict())
    paper = summarise(returns, 4, forecasts).to_dict()
    assert "forecast_rmse" in paper and "folds" not in paper  # a paper run has forecasts but no folds
    assert list(summarise(returns, 4, forecasts, 2).to_dict())[-5:] == ["forecast_rmse", "naive_rmse", "rmse_ratio",
                                                                        "dm_p_value", "folds"]  # fmt: skip


def _portfolio() -> PortfolioSummary:
    returns = _returns(("AAPL", "MSFT", "SPY"))
    equity = {name: 1000.0 * (1.0 + pd.concat([pd.Series([0.0]), returns[t].reset_index(drop=True)])).cumprod()
              for name, t in (("strategy", "AAPL"), ("equal_weight", "MSFT"))}  # fmt: skip
    dates = pd.DatetimeIndex([returns.index[0] - pd.Timedelta(days=1), *returns.index], name="date")
    runs = {name: BacktestResult(e.set_axis(dates), pd.DataFrame(columns=FILL_COLUMNS),
                                    pd.DataFrame(0.0, index=dates, columns=["AAPL"]), 1, [])
            for name, e in equity.items()}  # fmt: skip
    table = pd.DataFrame({name: r.returns for name, r in runs.items()}).assign(benchmark=returns["SPY"].values)
    opens = pd.DataFrame({"AAPL": 1.0}, index=dates)
    return portfolio_summarise(table, runs, opens, 1000.0)


def test_a_portfolio_summary_round_trips_with_and_without_coverage() -> None:
    summary = _portfolio()
    assert summary.activity["strategy"] == Activity(0, 1, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert list(summary.psr) == ["equal_weight", "benchmark"]
    covered = dataclasses.replace(summary, coverage=Coverage(tickers=2, left_out=1, folds=3, forecasts_from_cache=0))
    for each in (summary, covered):
        again = PortfolioSummary.from_dict(json.loads(json.dumps(each.to_dict())))
        assert _text(again.to_dict()) == _text(each.to_dict())
    assert list(covered.to_dict())[-4:] == ["tickers", "left_out", "folds", "forecasts_from_cache"]
    assert list(summary.to_dict())[:3] == ["strategy", "equal_weight", "benchmark"]


def test_a_wrong_type_is_refused_where_it_is_made() -> None:
    saved = json.loads((LEGACY / "run.json").read_text())["summary"]
    summary = RunSummary.from_dict(saved)
    with pytest.raises(TypeError, match=r"RunSummary.trades must be int. Got 3.0."):
        dataclasses.replace(summary, trades=3.0)
    with pytest.raises(TypeError, match="RunSummary.trades must be int. Got True."):
        dataclasses.replace(summary, trades=True)
    with pytest.raises(TypeError, match="RunSummary.first_day must be str"):
        dataclasses.replace(summary, first_day=pd.Timestamp("2026-06-01"))
    with pytest.raises(TypeError, match="Performance.sharpe must be float. Got '1.2'."):
        Performance(0.1, 0.2, "1.2", -0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"RunSummary.performance must be dict\[str, Performance\]. Got"):
        dataclasses.replace(summary, performance={"strategy": {"sharpe": 1.0}})
    portfolio = _portfolio()
    with pytest.raises(TypeError, match="PortfolioSummary.psr must be"):
        dataclasses.replace(portfolio, psr={"benchmark": None})
    with pytest.raises(TypeError, match="Coverage.folds must be int. Got None."):
        Coverage(tickers=2, left_out=1, folds=None, forecasts_from_cache=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trades": "3"}, "RunSummary.trades must be int. Got '3'."),
        ({"psr_vs_zero": None}, "RunSummary.psr_vs_zero must be float. Got None."),
        ({"strategy": {"total_return": 0.1}}, r"summary.strategy must have the fields"),
        ({"benchmark": 3}, "summary.benchmark must be a mapping. Got 3."),
        ({"sma_cross": {"total_return": 0.1, "cagr": 0.1, "sharpe": "high", "max_drawdown": 0.0}},
         "Performance.sharpe must be float. Got 'high'."),
        ({"days": None}, "RunSummary.days must be int. Got None."),
        ({"folds": 2.5}, "ForecastAccuracy.folds must be int | None. Got 2.5."),
        ({"naive_rmse": None}, "ForecastAccuracy.naive_rmse must be float. Got None."),
    ],
)  # fmt: skip
def test_from_dict_refuses_a_field_of_the_wrong_type(change: dict[str, Any], message: str) -> None:
    saved = {**json.loads((LEGACY / "run.json").read_text())["summary"], **change}
    with pytest.raises(TypeError, match=message.replace(".", r"\.").replace("|", r"\|").replace("(", r"\(")):
        RunSummary.from_dict(saved)


def test_from_dict_refuses_missing_fields() -> None:
    saved = json.loads((LEGACY / "run.json").read_text())["summary"]
    with pytest.raises(TypeError, match=r"summary lacks the fields \['days'\]"):
        RunSummary.from_dict({k: v for k, v in saved.items() if k != "days"})
    with pytest.raises(TypeError, match=r"lacks the fields \['dm_p_value'\]"):
        RunSummary.from_dict({k: v for k, v in saved.items() if k != "dm_p_value"})
    with pytest.raises(TypeError, match="summary must be a mapping"):
        RunSummary.from_dict([1, 2])
    portfolio = _portfolio().to_dict()
    with pytest.raises(TypeError, match="Coverage.left_out must be int. Got None."):
        PortfolioSummary.from_dict({**portfolio, "tickers": 2})
    assert math.isnan(RunSummary.from_dict({**saved, "psr_vs_zero": math.nan}).psr_vs_zero)
