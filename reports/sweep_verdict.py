"""A sweep folder read back and checked, and its verdict: the statistics of ``sweep_stats`` put together.

``backtests.sweep`` writes the folder (``sweep.json``, ``results.csv``,
``failures.csv``, ``runs/<job_id>/{forecasts,returns}.csv``). Reading validates
every file: a missing, truncated or foreign one is a one-line
``SweepFolderError`` naming it. ``analyse_sweep`` turns the folder into a
``SweepVerdict``; every number in it can be recomputed from those CSVs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import sweep_stats as ss
from .metrics import TRADING_DAYS, sharpe
from .saved_fields import read_json, read_table
from .summaries import checked

KIND = "bt-lstm sweep"
FORMAT = 1
MIN_DAYS = 20  # fewer common days than this and the bootstrap tests are not run
RESULT_COLUMNS = ["job_id", "ticker", "forecast_rmse", "naive_rmse", "theils_u", "dm_stat", "dm_p_value",
                  "directional_accuracy", "total_return", "sharpe", "max_drawdown", "trades", "bh_total_return",
                  "bh_sharpe"]  # fmt: skip
TEXT_COLUMNS = ("job_id", "ticker", "worker", "error")
RUN_COLUMNS = {"forecasts.csv": ["target_date", "origin_date", "forecast", "actual", "naive", "fold"],
               "returns.csv": ["date", "strategy", "buy_and_hold"]}  # fmt: skip
DATES = {"forecasts.csv": ["target_date", "origin_date"], "returns.csv": ["date"]}
NUMBERS = {"forecasts.csv": ["forecast", "actual", "naive"], "returns.csv": ["strategy", "buy_and_hold"],
           "results.csv": RESULT_COLUMNS[2:]}  # fmt: skip


class SweepFolderError(ValueError):
    """A sweep folder, or one of its files, that cannot be read; the message is one line naming it.

    It carries ``exit_code`` 2, so the CLI treats it as bad input, not a bug.
    """

    exit_code = 2


@dataclass(frozen=True)
class Sweep:
    """A sweep folder read back; ``results`` and ``failures`` gain a ``grid_point`` label column."""

    folder: Path
    meta: dict[str, Any]
    grid_keys: list[str]
    results: pd.DataFrame
    failures: pd.DataFrame
    forecasts: dict[str, pd.DataFrame]
    returns: dict[str, pd.DataFrame]


def grid_label(values: dict[str, Any]) -> str:
    """``"lookback=30, params.epochs=5"``; a sweep without a grid has one configuration."""
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "single configuration"


def _damaged(path: Path, why: str) -> SweepFolderError:
    return SweepFolderError(f"{path}: {' '.join(why.split())[:160]}")


def _read_csv(path: Path, required: list[str], name: str) -> pd.DataFrame:
    """A CSV with its required columns, dates parsed and numbers checked; errors name the file."""
    try:  # a FIFO would block, a device never end: refused, as is a table over BT_MAX_FILE_MB
        frame = read_table(path, SweepFolderError, "rerun `bt sweep`", dtype={c: str for c in TEXT_COLUMNS})
    except FileNotFoundError:
        raise _damaged(path, "missing; the sweep folder is incomplete (rerun `bt sweep`).") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise _damaged(path, f"not a bt-lstm sweep table (missing columns {', '.join(missing)}).")
    for col in DATES.get(name, []):
        frame[col] = pd.to_datetime(frame[col], errors="coerce", format="ISO8601")
        if frame[col].isna().any():
            raise _damaged(path, f"column {col} holds values that are not dates; the file is damaged.")
    for col in NUMBERS.get(name, []):
        try:
            frame[col] = pd.to_numeric(frame[col], errors="raise").astype(np.float64)
        except (ValueError, TypeError):
            raise _damaged(path, f"column {col} holds values that are not numbers; the file is damaged.") from None
    return frame


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / "sweep.json"
    try:
        meta = read_json(path, SweepFolderError, "rerun `bt sweep`")  # a regular file, capped in size and depth
    except FileNotFoundError:
        raise _damaged(path, f"missing; {folder} is not a sweep folder.") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise _damaged(path, "not a bt-lstm sweep file.")
    if meta.get("format") != FORMAT:
        raise _damaged(path, f"written by another version (format {meta.get('format')}, this reads {FORMAT}).")
    jobs = meta.get("jobs")
    if not isinstance(meta.get("grid"), dict) or not isinstance(jobs, list) or \
            not all(isinstance(j, dict) and "job_id" in j for j in jobs):  # fmt: skip
        raise _damaged(path, "damaged (no grid or no job list).")
    return meta


def _check_jobs(path: Path, frame: pd.DataFrame, known: set[str]) -> None:
    unknown = sorted(set(frame["job_id"]) - known)
    if unknown:
        raise _damaged(path, f"job {unknown[0]} is not in sweep.json; the folder mixes two sweeps.")
    if frame["job_id"].duplicated().any():
        raise _damaged(path, f"job {frame.loc[frame['job_id'].duplicated(), 'job_id'].iloc[0]} appears twice.")


def _read_run(folder: Path, job_id: str, forecasts_expected: bool) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """A job's returns.csv and its forecasts.csv (None for a strategy that does not forecast)."""
    runs = folder / "runs" / job_id
    forecasts = None
    if forecasts_expected or (runs / "forecasts.csv").exists():
        forecasts = _read_csv(runs / "forecasts.csv", RUN_COLUMNS["forecasts.csv"], "forecasts.csv")
        if forecasts["target_date"].duplicated().any():
            raise _damaged(runs / "forecasts.csv", "repeats a target date; the file is damaged.")
    returns = _read_csv(runs / "returns.csv", RUN_COLUMNS["returns.csv"], "returns.csv").set_index("date")
    if returns.index.duplicated().any():
        raise _damaged(runs / "returns.csv", "repeats a date; the file is damaged.")
    if returns[["strategy", "buy_and_hold"]].isna().any().any():
        raise _damaged(runs / "returns.csv", "has missing returns; the file is damaged.")
    return forecasts, returns


def _read_jobs_table(folder: Path, name: str, required: list[str], keys: list[str], known: set[str]) -> pd.DataFrame:
    """results.csv or failures.csv, checked against sweep.json, with a ``grid_point`` label column."""
    frame = _read_csv(folder / name, required + keys, name)
    _check_jobs(folder / name, frame, known)
    frame["grid_point"] = [grid_label(dict(zip(keys, v, strict=True))) for v in frame[keys].itertuples(False)]
    return frame


def load_sweep(folder: Path) -> Sweep:
    """Read and check a sweep folder: sweep.json, results.csv, failures.csv and every finished job's run files.

    failures.csv may be absent (no job has failed); a job's forecasts.csv may be
    absent only when its results row has no forecast RMSE (a strategy without forecasts).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SweepFolderError(f"{folder}: no such sweep folder.")
    meta = _read_meta(folder)
    keys = [str(k) for k in meta["grid"]]
    known = {str(j["job_id"]) for j in meta["jobs"]}
    results = _read_jobs_table(folder, "results.csv", RESULT_COLUMNS, keys, known)
    if (folder / "failures.csv").exists():
        failures = _read_jobs_table(folder, "failures.csv", ["job_id", "ticker", "error"], keys, known)
    else:
        failures = pd.DataFrame(columns=["job_id", "ticker", *keys, "error", "grid_point"], dtype=object)
    runs = {j: _read_run(folder, j, bool(np.isfinite(r))) for j, r in zip(results["job_id"], results["forecast_rmse"],
                                                                        strict=True)}  # fmt: skip
    return Sweep(folder, meta, keys, results, failures, {j: r[0] for j, r in runs.items() if r[0] is not None},
                 {j: r[1] for j, r in runs.items()})  # fmt: skip


@dataclass(frozen=True)
class SweepVerdict:
    """Everything the sweep page reports; ``jobs`` adds within-grid-point Holm/BH p-values and verdicts."""

    jobs: pd.DataFrame
    forecast_points: pd.DataFrame
    all_jobs: dict[str, ss.VerdictCounts]
    forecast_point: str | None
    pooled: dict[str, ss.PooledDM]
    signs: dict[str, ss.SignTest]
    strategy_points: pd.DataFrame
    best_point: str | None
    snooping: ss.SnoopingTests | None
    deflated: ss.DeflatedSharpe | None
    days: pd.DatetimeIndex
    n_jobs: int
    alpha: float
    headline: str = ""

    def __post_init__(self) -> None:
        checked(self)


def _point_row(point: str, group: pd.DataFrame, verdicts: pd.DataFrame, pooled: ss.PooledDM, sign: ss.SignTest,
               n_points: int) -> dict[str, Any]:  # fmt: skip
    """One grid point's forecast summary: verdict counts, pooled DM (and its Bonferroni p), sign test."""
    counts = ss.verdict_counts(verdicts)
    return {"grid_point": point, "tickers": len(group), "mean_theils_u": group["theils_u"].mean(),
            **{f"{m}_{v}": n for m in ss.METHODS for v, n in counts[m].by_verdict().items()},
            "pooled_dm_stat": pooled.statistic, "pooled_dm_p": pooled.p_value,
            "pooled_dm_p_bonferroni": float(np.minimum(1.0, pooled.p_value * n_points)),
            "pooled_mean_differential": pooled.mean_differential, "common_days": pooled.n_days,
            "sign_wins": sign.wins, "sign_n": sign.n, "sign_p": sign.p_value}  # fmt: skip


def forecasting_jobs(sweep: Sweep) -> pd.DataFrame:
    """The results rows of jobs that made forecasts (all of them unless the strategy does not forecast)."""
    return sweep.results[sweep.results["job_id"].isin(sweep.forecasts)]


def _forecast_part(sweep: Sweep, alpha: float) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """Per-job verdicts within each grid point, and one row of counts and pooled tests per grid point."""
    parts, rows, pooled, signs = [], [], {}, {}
    groups = list(forecasting_jobs(sweep).groupby("grid_point", sort=False))
    for point, group in groups:
        verdicts = ss.forecast_verdicts(group, alpha)
        parts.append(verdicts)
        tables = {t: sweep.forecasts[j] for t, j in zip(group["ticker"], group["job_id"], strict=True)}
        pooled[point] = ss.pooled_dm(tables)
        signs[point] = ss.sign_test(group["forecast_rmse"], group["naive_rmse"])
        rows.append(_point_row(point, group, verdicts, pooled[point], signs[point], len(groups)))
    extra = pd.concat(parts)[[f"{k}_{m}" for k in ("p", "verdict") for m in ss.METHODS]] if parts else None
    jobs = sweep.results.join(extra) if extra is not None else sweep.results
    return jobs, pd.DataFrame(rows), pooled, signs


def _strategy_part(sweep: Sweep, seed: int, reps: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per grid point: equal-weight portfolio Sharpe ratios; SPA/RC over all points and the DSR of the best."""
    points = dict(zip(sweep.results["job_id"], sweep.results["grid_point"], strict=True))
    series = ss.grid_point_returns(sweep.returns, points)
    strategy, bh, excess = series["strategy"], series["buy_and_hold"], series["excess"]
    mean_sharpe = sweep.results.groupby("grid_point", sort=False)["sharpe"].mean()
    table = pd.DataFrame({"grid_point": list(strategy.columns),
                          "tickers": sweep.results.groupby("grid_point", sort=False).size()[strategy.columns].values,
                          "portfolio_sharpe": [sharpe(strategy[c]) for c in strategy.columns],
                          "mean_job_sharpe": mean_sharpe[strategy.columns].values,
                          "bh_portfolio_sharpe": [sharpe(bh[c]) for c in bh.columns],
                          "mean_excess_annual": [excess[c].mean() * TRADING_DAYS for c in excess.columns]})  # fmt: skip
    days = pd.DatetimeIndex(strategy.index)  # no finished job: an empty RangeIndex, as no days
    extra: dict[str, Any] = {"days": days, "snooping": None, "deflated": None, "best_point": None}
    if len(strategy.index) >= MIN_DAYS:
        extra["snooping"] = ss.snooping_tests(excess, seed=seed, reps=reps)
        try:
            extra["best_point"], extra["deflated"] = ss.deflated_sharpe_of_best(strategy)
        except ValueError:
            pass
    return table, extra


def analyse_sweep(sweep: Sweep, *, alpha: float = ss.ALPHA, seed: int = ss.SEED, reps: int = ss.REPS) -> SweepVerdict:
    """All the sweep's verdict statistics, and the one-sentence headline."""
    jobs, points, pooled, signs = _forecast_part(sweep, alpha)
    forecasting = forecasting_jobs(sweep)
    all_jobs = ss.verdict_counts(ss.forecast_verdicts(forecasting, alpha)) if len(forecasting) else {}
    forecast_point = None
    if len(points) and points["mean_theils_u"].notna().any():
        forecast_point = str(points.loc[points["mean_theils_u"].idxmin(), "grid_point"])
    strategy, extra = _strategy_part(sweep, seed, reps)
    verdict = SweepVerdict(jobs, points, all_jobs, forecast_point, pooled, signs, strategy, extra["best_point"],
                           extra["snooping"], extra["deflated"], extra["days"], len(sweep.meta["jobs"]), alpha)
    return replace(verdict, headline=headline(verdict))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def p_text(p: float) -> str:
    """``"p = 0.412"``, ``"p < 0.001"`` or ``"no p-value"``."""
    shown = ss.format_p(p)
    return "no p-value" if shown == "n/a" else f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def _strategy_clause(v: SweepVerdict) -> str:
    s = v.snooping
    if s is None:
        return f"With only {len(v.days)} days common to every job, the strategies were not tested against buy-and-hold"
    beats = s.spa_consistent < v.alpha
    tests = f"(SPA {p_text(s.spa_consistent)}, Reality Check {p_text(s.reality_check)})"
    dsr = math.nan if v.deflated is None else v.deflated.dsr
    has_dsr = not math.isnan(dsr)
    if s.n_trials == 1:
        text = f"With a single configuration, the strategy {'beats' if beats else 'does not beat'} buy-and-hold {tests}"
        return text + (f" and its deflated Sharpe ratio is {dsr:.2f}" if has_dsr else "")
    text = (f"After accounting for {_plural(s.n_trials, 'configuration')} tried, "
            f"{'at least one configuration beats' if beats else 'no configuration beats'} buy-and-hold {tests}")
    if has_dsr:
        text += f" and the best by Sharpe ({v.best_point}) has a deflated Sharpe ratio of {dsr:.2f}"
    return text


def _forecast_clause(v: SweepVerdict) -> str:
    if v.forecast_point is None:
        return "there are no forecasts to compare with the naive forecast"
    row = v.forecast_points.set_index("grid_point").loc[v.forecast_point]
    better, bh_better, worse, n = (int(row[c]) for c in ("holm_better", "bh_better", "holm_worse", "tickers"))
    k = len(v.forecast_points)
    where = f" at the most accurate of {k} grid points ({v.forecast_point})" if k > 1 else ""
    counted = (f"the model is significantly better than naive on {better} of {n} tickers after Holm ({bh_better} "
               f"after BH) and significantly worse on {worse}{where}")  # fmt: skip
    pooled = v.pooled[v.forecast_point]
    if math.isnan(pooled.p_value):
        return f"{counted}; the pooled DM test could not be run (fewer than 3 target days common to all tickers)"
    answer = {"better": "significantly more accurate than", "worse": "significantly less accurate than",
              "not different": "not significantly different from"}[pooled.significant(v.alpha, k)]  # fmt: skip
    bonferroni = f"; {ss.format_p(min(1.0, pooled.p_value * k))} after Bonferroni for {k} grid points" if k > 1 else ""
    return f"{counted}, and pooled across tickers it is {answer} naive (DM {p_text(pooled.p_value)}{bonferroni})"


def headline(v: SweepVerdict) -> str:
    """One sentence: does any configuration beat buy-and-hold, and does the model beat the naive forecast."""
    if v.jobs.empty:
        return f"None of the {v.n_jobs} jobs finished, so there is no verdict; see the failed jobs below."
    return f"{_strategy_clause(v)}; {_forecast_clause(v)}."
