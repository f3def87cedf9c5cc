"""The sweep page built from a small synthetic sweep folder; its numbers recomputed here from the CSVs."""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import math
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from arch.bootstrap import SPA
from scipy import stats

from reports.evaluation import forecast_metrics
from reports.metrics import performance
from reports.sweep_page import build_sweep_page, sweep_headline, write_sweep_page
from reports.sweep_verdict import SweepFolderError, load_sweep

from ._browser import chromium, page_url, visit

TICKERS = {"AAA": 30.0, "BBB": 150.0, "CCC": 3000.0}
GRID = {"lookback": [30, 60], "params.epochs": [5, 10]}
FAILED = ("CCC", {"lookback": 60, "params.epochs": 10})
SKILL = {30: 0.012, 60: 0.0}  # share of tomorrow's move the forecast knows (lookback 30 forecasts well)
NOISE = {5: 0.05, 10: 0.4}  # forecast noise in units of the daily move's standard deviation


_RESULT_COLUMNS = ["job_id", "ticker", "seeds", "forecast_rmse", "naive_rmse", "theils_u", "dm_stat", "dm_p_value",
                   "directional_accuracy", "total_return", "cagr", "sharpe", "max_drawdown", "trades",
                   "bh_total_return", "bh_sharpe", "psr_vs_buy_and_hold", "seconds", "worker", "cache_hit"]


def _job_id(ticker: str, grid: dict) -> str:
    return hashlib.sha1(json.dumps([ticker, grid], sort_keys=True).encode()).hexdigest()[:12]


def _run_tables(rng: np.random.Generator, start: float, grid: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    days = pd.bdate_range("2021-01-04", periods=301)
    price = start * np.exp(np.cumsum(rng.normal(0.0004, 0.015, len(days))))
    actual, naive = price[1:], price[:-1]
    move = actual - naive
    skill, noise = SKILL[grid.get("lookback", 60)], NOISE[grid.get("params.epochs", 10)]
    forecast = naive + skill * move + noise * move.std() * rng.normal(size=len(move))
    forecasts = pd.DataFrame({"target_date": days[1:], "origin_date": days[:-1], "forecast": forecast,
                              "actual": actual, "naive": naive, "fold": np.arange(len(move)) // 60})  # fmt: skip
    bh = actual / naive - 1
    returns = pd.DataFrame({"date": days[1:], "strategy": np.where(forecast > naive, bh, 0.0), "buy_and_hold": bh,
                            "sma_cross": 0.0, "benchmark": 0.8 * bh})  # fmt: skip
    return forecasts, returns


def _result_row(job_id: str, ticker: str, grid: dict, forecasts: pd.DataFrame, returns: pd.DataFrame) -> dict:
    m = forecast_metrics(forecasts).to_dict()
    s, b = performance(returns["strategy"]), performance(returns["buy_and_hold"])
    return {"job_id": job_id, "ticker": ticker, **grid, "seeds": 1, "forecast_rmse": m["rmse"],
            "naive_rmse": m["rmse"] / m["theils_u"], "theils_u": m["theils_u"], "dm_stat": m["dm_stat"],
            "dm_p_value": m["dm_p_value"], "directional_accuracy": m["directional_accuracy"],
            "total_return": s["total_return"], "cagr": s["cagr"], "sharpe": s["sharpe"],
            "max_drawdown": s["max_drawdown"], "trades": int((returns["strategy"] != 0).sum()),
            "bh_total_return": b["total_return"], "bh_sharpe": b["sharpe"], "psr_vs_buy_and_hold": 0.5,
            "seconds": 1.5, "worker": "w1", "cache_hit": False}  # fmt: skip


def write_sweep(folder: Path, seed: int = 7, grid: dict | None = None, failed: tuple | None = FAILED) -> Path:
    """A 3-ticker x 2x2-grid sweep folder (or ``grid``), one job failed, one universe member without data."""
    rng = np.random.default_rng(seed)
    grid = GRID if grid is None else grid
    grids = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    jobs = [{"job_id": _job_id(t, g), "ticker": t, "grid": g} for t in TICKERS for g in grids]
    rows, failures = [], []
    for job in jobs:
        if failed == "all" or (job["ticker"], job["grid"]) == failed:
            failures.append({"job_id": job["job_id"], "ticker": job["ticker"], **job["grid"],
                             "error": "ValueError: not enough rows for lookback 60"})  # fmt: skip
            continue
        forecasts, returns = _run_tables(rng, TICKERS[job["ticker"]], job["grid"])
        run = folder / "runs" / job["job_id"]
        run.mkdir(parents=True)
        forecasts.to_csv(run / "forecasts.csv", index=False, date_format="%Y-%m-%d", float_format="%.17g")
        returns.to_csv(run / "returns.csv", index=False, date_format="%Y-%m-%d", float_format="%.17g")
        rows.append(_result_row(job["job_id"], job["ticker"], job["grid"], forecasts, returns))
    keys = list(grid)
    columns = ["job_id", "ticker", *keys, *(c for c in _RESULT_COLUMNS if c not in ("job_id", "ticker"))]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=columns).to_csv(folder / "results.csv", index=False, float_format="%.17g")
    pd.DataFrame(failures, columns=["job_id", "ticker", *keys, "error"]).to_csv(folder / "failures.csv", index=False)
    meta = {"kind": "bt-lstm sweep", "format": 1, "strategy": "lstm-strategy", "grid": grid,
            "tickers": list(TICKERS), "jobs": jobs, "versions": {"numpy": np.__version__},
            "universe": {"name": "test4", "as_of": "2021-08-16", "members": 4, "missing": ["ZZZ"]}}  # fmt: skip
    (folder / "sweep.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sweep(tmp_path_factory.mktemp("sweep") / "sweep")


@pytest.fixture(scope="module")
def page(sweep_dir: Path) -> tuple[Path, str, str]:
    path, headline = write_sweep_page(sweep_dir)
    return path, headline, path.read_text(encoding="utf-8")


class _Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(text: str) -> list[pd.DataFrame]:
    parser = _Tables()
    parser.feed(text)
    return [pd.DataFrame(t[1:], columns=t[0]) for t in parser.tables if t]


def _holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    m = len(p)
    adjusted = np.maximum.accumulate([(m - i) * p[k] for i, k in enumerate(order)]).clip(max=1)
    out = np.empty(m)
    out[order] = adjusted
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)[::-1]
    m = len(p)
    adjusted = np.minimum.accumulate([p[k] * m / (m - i) for i, k in enumerate(order)]).clip(max=1)
    out = np.empty(m)
    out[order] = adjusted
    return out


def _recompute(folder: Path) -> dict:
    """The page's key numbers, recomputed from the CSVs without the reports package."""
    results = pd.read_csv(folder / "results.csv", dtype={"job_id": str})
    results["point"] = [f"lookback={a}, params.epochs={b}"
                        for a, b in zip(results["lookback"], results["params.epochs"], strict=True)]  # fmt: skip
    out: dict = {"points": {}}
    for point, group in results.groupby("point"):
        p, stat = group["dm_p_value"].to_numpy(), group["dm_stat"].to_numpy()
        holm, bh = _holm(p), _bh(p)
        tables = {t: pd.read_csv(folder / "runs" / j / "forecasts.csv", index_col="target_date")
                  for t, j in zip(group["ticker"], group["job_id"], strict=True)}  # fmt: skip
        days = sorted(set.intersection(*(set(t.index) for t in tables.values())))
        cols = []
        for t in tables.values():
            part = t.loc[days]
            model, naive = (part["forecast"] - part["actual"]) ** 2, (part["naive"] - part["actual"]) ** 2
            cols.append((model - naive).to_numpy() / naive.mean())
        d = np.mean(cols, axis=0)
        n = len(d)
        dm = d.mean() / math.sqrt(np.mean((d - d.mean()) ** 2) / n) * math.sqrt((n - 1) / n)
        wins, total = int((group["forecast_rmse"] < group["naive_rmse"]).sum()), len(group)
        sign_p = min(1.0, 2 * sum(math.comb(total, k) for k in range(max(wins, total - wins), total + 1)) / 2**total)
        grid = (str(group["lookback"].iloc[0]), str(group["params.epochs"].iloc[0]))
        out["points"][point] = {"grid": grid, "holm": holm, "bh": bh, "tickers": total,
                                "holm_better": int(((holm < 0.05) & (stat < 0)).sum()),
                                "holm_worse": int(((holm < 0.05) & (stat > 0)).sum()),
                                "bh_better": int(((bh < 0.05) & (stat < 0)).sum()),
                                "mean_u": group["theils_u"].mean(), "dm": dm,
                                "dm_p": 2 * stats.t(n - 1).sf(abs(dm)), "sign": (wins, total, sign_p)}  # fmt: skip
    out["returns"] = {j: pd.read_csv(folder / "runs" / j / "returns.csv", index_col="date") for j in results["job_id"]}
    out["results"] = results
    return out


def _portfolios(rec: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    results, returns = rec["results"], rec["returns"]
    days = sorted(set.intersection(*(set(r.index) for r in returns.values())))
    strategy, excess = {}, {}
    for point, group in results.groupby("point", sort=False):
        frames = [returns[j].loc[days] for j in group["job_id"]]
        strategy[point] = np.mean([f["strategy"] for f in frames], axis=0)
        excess[point] = np.mean([f["strategy"] - f["buy_and_hold"] for f in frames], axis=0)
    return pd.DataFrame(strategy, index=days), pd.DataFrame(excess, index=days)


def _dsr(strategy: pd.DataFrame) -> tuple[str, float]:
    sr = strategy.mean() / strategy.std(ddof=1)
    best = sr.idxmax()
    n, v, g = len(sr), sr.var(ddof=1), 0.5772156649015329
    e_max = math.sqrt(v) * ((1 - g) * stats.norm.ppf(1 - 1 / n) + g * stats.norm.ppf(1 - 1 / (n * math.e)))
    r = strategy[best]
    skew, kurt = stats.skew(r), stats.kurtosis(r, fisher=False)
    z = (sr[best] - e_max) * math.sqrt(len(r) - 1) / math.sqrt(1 - skew * sr[best] + (kurt - 1) / 4 * sr[best] ** 2)
    return best, float(stats.norm.cdf(z))


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def test_page_exists_is_self_contained_and_leads_with_the_headline(page, sweep_dir: Path) -> None:
    path, headline, text = page
    assert path == sweep_dir / "sweep.html" and path.exists()
    assert headline.startswith("After accounting for 4 configurations tried, ") and headline.endswith(".")
    assert f'<p class="verdict">{headline}</p>' in html.unescape(text)
    assert sweep_headline(sweep_dir) == headline  # deterministic: the bootstrap has a fixed seed
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "http://" not in text and "https://" not in text and "@import" not in text
    for sid in ("headline", "results", "grid", "forecasts", "strategies", "coverage", "method"):
        assert f'<section id="{sid}">' in text
    assert text.count('src="data:image/png;base64,') == 2  # Theil's U and Sharpe heatmaps
    assert "ZZZ" in text and "not enough rows for lookback 60" in text and "11 finished, 1 failed" in text


def test_forecast_numbers_match_an_independent_recomputation(page, sweep_dir: Path) -> None:
    _, headline, text = page
    rec = _recompute(sweep_dir)
    best = min(rec["points"], key=lambda k: rec["points"][k]["mean_u"])
    b = rec["points"][best]
    assert (f"the model is significantly better than naive on {b['holm_better']} of {b['tickers']} tickers after "
            f"Holm ({b['bh_better']} after BH) and significantly worse on {b['holm_worse']} at the most accurate "
            f"of 4 grid points ({best})") in headline  # fmt: skip
    assert f"(DM p {'= ' if b['dm_p'] >= 0.001 else ''}{_p(b['dm_p'])}; {_p(min(1, 4 * b['dm_p']))} after Bonferroni" \
        in headline  # fmt: skip
    wins, total, sign_p = b["sign"]
    assert f"on {wins} of {total} tickers" in text and f"probability {_p(sign_p)}" in text
    results = rec["results"]
    family = []
    every_p = results["dm_p_value"].to_numpy()
    for name, adjusted in (("Holm", _holm(every_p)), ("BH", _bh(every_p))):
        better = int(((adjusted < 0.05) & (results["dm_stat"] < 0)).sum())
        worse = int(((adjusted < 0.05) & (results["dm_stat"] > 0)).sum())
        family.append(f"{name}: {better} better, {len(results) - better - worse} not different, {worse} worse")
    assert f"All 11 jobs with forecasts as one family (every ticker and grid point): {', '.join(family)}." in text
    counts = next(t for t in _tables(text) if "Holm: better" in t.columns).set_index("grid point")
    jobs = next(t for t in _tables(text) if "Holm p" in t.columns)
    assert len(jobs) == 11
    for point, r in rec["points"].items():
        row = counts.loc[point]
        assert (int(row["Holm: better"]), int(row["BH: better"]), int(row["tickers"])) == \
            (r["holm_better"], r["bh_better"], r["tickers"])  # fmt: skip
        assert float(row["pooled DM stat"]) == pytest.approx(r["dm"], abs=1e-4)
        assert float(row["pooled DM p"]) == pytest.approx(r["dm_p"], rel=1e-3)
        assert float(row["mean Theil's U"]) == pytest.approx(r["mean_u"], abs=1e-4)
        mine = jobs[(jobs["lookback"] == r["grid"][0]) & (jobs["params.epochs"] == r["grid"][1])]
        assert len(mine) == r["tickers"]
        assert sorted(mine["Holm p"].astype(float)) == pytest.approx(sorted(r["holm"]), rel=1e-3)
        assert sorted(mine["BH p"].astype(float)) == pytest.approx(sorted(r["bh"]), rel=1e-3)


def test_strategy_numbers_match_an_independent_recomputation(page, sweep_dir: Path) -> None:
    _, headline, text = page
    strategy, excess = _portfolios(_recompute(sweep_dir))
    spa = SPA(np.zeros(len(excess)), -excess.to_numpy(), block_size=int(math.sqrt(len(excess))), reps=1000,
              seed=20140501)  # fmt: skip
    spa.compute()
    p = spa.pvalues
    best, dsr = _dsr(strategy)
    assert f"SPA {'p = ' if p['consistent'] >= 0.001 else 'p '}{_p(p['consistent'])}" in headline
    assert f"the best by Sharpe ({best}) has a deflated Sharpe ratio of {dsr:.2f}" in headline
    tests = next(t for t in _tables(text) if "test" in t.columns).set_index("test")["value"]
    assert float(tests["SPA p-value, consistent"]) == pytest.approx(p["consistent"], abs=1e-9)
    assert float(tests["SPA p-value, lower"]) == pytest.approx(p["lower"], abs=1e-9)
    assert float(tests["SPA p-value, upper"]) == pytest.approx(p["upper"], abs=1e-9)
    assert float(tests["deflated Sharpe ratio"]) == pytest.approx(dsr, abs=1e-4)
    assert tests["configurations tried (trials)"] == "4" and tests["common days"] == str(len(strategy))
    sharpes = next(t for t in _tables(text) if "portfolio Sharpe" in t.columns).set_index("grid point")
    for point in strategy:
        s = strategy[point]
        assert float(sharpes.loc[point, "portfolio Sharpe"]) == pytest.approx(s.mean() / s.std() * math.sqrt(252),
                                                                              abs=1e-4)  # fmt: skip


@pytest.mark.parametrize(("grid", "failed", "images", "words"), [
    ({"lookback": [30, 60]}, None, 2, "After accounting for 2 configurations tried"),
    ({}, None, 0, "No grid to chart"),
    ({"lookback": [30, 60], "params.epochs": [5, 10], "params.units": [8]}, None, 2, "other grid keys (params.units)"),
    (GRID, "all", 0, "None of the 12 jobs finished"),
], ids=["one axis: bars", "no grid: a note", "three axes: first two", "every job failed"])  # fmt: skip
def test_other_grid_shapes(grid: dict, failed, images: int, words: str, tmp_path: Path) -> None:
    folder = write_sweep(tmp_path / "sweep", grid=grid, failed=failed)
    path, headline = write_sweep_page(folder)
    text = html.unescape(path.read_text(encoding="utf-8"))
    assert words in text and headline in text
    assert text.count('src="data:image/png;base64,') == images


def _set_cell(path: Path, column: str, value: str) -> None:
    frame = pd.read_csv(path, dtype=str)
    frame.loc[0, column] = value
    frame.to_csv(path, index=False)


DAMAGES = {
    "results.csv missing": ("results.csv", lambda f, job: (f / "results.csv").unlink()),
    "failures.csv lacks a column": ("failures.csv", lambda f, job: (f / "failures.csv").write_text("job_id,ticker\n")),
    "sweep.json truncated": ("sweep.json", lambda f, job: (f / "sweep.json").write_text('{"kind": "bt-lstm sw')),
    "sweep.json foreign": ("sweep.json", lambda f, job: (f / "sweep.json").write_text('{"kind": "other"}')),
    "forecasts.csv missing": (f"{{job}}{os.sep}forecasts.csv",
                              lambda f, job: (f / "runs" / job / "forecasts.csv").unlink()),
    "returns.csv lacks a column": (f"{{job}}{os.sep}returns.csv", lambda f, job: (f / "runs" / job / "returns.csv")
                                   .write_text("date,strategy\n2021-01-05,0.1\n")),
    "forecasts.csv bad date": (f"{{job}}{os.sep}forecasts.csv", lambda f, job: _set_cell(
        f / "runs" / job / "forecasts.csv", "target_date", "yesterday")),
    "results.csv bad number": ("results.csv", lambda f, job: _set_cell(f / "results.csv", "sharpe", "oops")),
    "results.csv foreign job": ("results.csv", lambda f, job: _set_cell(f / "results.csv", "job_id", "feedface")),
}


@pytest.mark.parametrize("case", list(DAMAGES))
def test_damaged_folders_are_refused_naming_the_file(case: str, sweep_dir: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(sweep_dir, tmp_path / "sweep", ignore=shutil.ignore_patterns("sweep.html")))
    job = pd.read_csv(folder / "results.csv", dtype={"job_id": str})["job_id"].iloc[0]
    named, damage = DAMAGES[case]
    damage(folder, job)
    with pytest.raises(SweepFolderError, match=re.escape(named.format(job=job))) as err:
        build_sweep_page(folder)
    assert "\n" not in str(err.value) and not (folder / "sweep.html").exists()


def test_a_strategy_without_forecasts_and_no_failures_file(sweep_dir: Path, tmp_path: Path) -> None:
    """An SMA-style sweep: no forecasts.csv, NaN forecast metrics, and no failures.csv (nothing failed)."""
    folder = Path(shutil.copytree(sweep_dir, tmp_path / "sweep", ignore=shutil.ignore_patterns("sweep.html")))
    (folder / "failures.csv").unlink()
    results = pd.read_csv(folder / "results.csv", dtype={"job_id": str})
    for col in ("forecast_rmse", "naive_rmse", "theils_u", "dm_stat", "dm_p_value", "directional_accuracy"):
        results[col] = math.nan
    results.to_csv(folder / "results.csv", index=False)
    for job in results["job_id"]:
        (folder / "runs" / job / "forecasts.csv").unlink()
    path, headline = write_sweep_page(folder)
    text = html.unescape(path.read_text(encoding="utf-8"))
    assert headline.endswith("; there are no forecasts to compare with the naive forecast.")
    assert "No job made forecasts" in text and "11 finished, 0 failed, 1 not reported" in text
    assert text.count('src="data:image/png;base64,') == 1  # the Sharpe heatmap only


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SweepFolderError, match="no such sweep folder"):
        load_sweep(tmp_path / "nowhere")


@pytest.mark.skipif(chromium() is None and os.environ.get("CI") != "true", reason="Chromium is not installed")
def test_page_renders_and_sorts_in_headless_chromium(page) -> None:
    probe = """(() => { const th = document.querySelector('#results thead th:nth-child(1)');
      th.click(); th.click();
      const first = [...document.querySelectorAll('#results tbody tr')].map(r => r.cells[0].textContent);
      return {images: [...document.images].map(i => i.naturalWidth), first: first}; })()"""
    seen = visit(page_url(page[0]), probe)
    assert seen.problems == []
    assert all(w > 200 for w in seen.evaluated["images"])
    assert seen.evaluated["first"] == sorted(seen.evaluated["first"], reverse=True)
