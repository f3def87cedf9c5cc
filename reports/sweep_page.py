"""The sweep's one-page verdict, ``sweep.html``: headline, results, heatmaps, tests, coverage, method.

Built only from a sweep folder on disk (``reports.sweep_verdict.load_sweep``).
Self-contained: CSS inline, charts as PNG data URIs, one small inline script
that sorts the results table when a header is clicked; nothing is fetched.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import sweep_stats as ss
from .charts import encode_png, own_style, pyplot
from .files import atomic_write_text
from .page import CSS, html_table
from .sweep_verdict import Sweep, SweepVerdict, analyse_sweep, load_sweep

_SORT_CSS = "table.sortable th{cursor:pointer} table.sortable th:hover{background:#e6e6e6}"
_SORT_JS = """document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('thead th').forEach(function (th, col) {
    th.title = 'click to sort';
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var up = th.getAttribute('data-order') !== 'up';
      th.setAttribute('data-order', up ? 'up' : 'down');
      rows.sort(function (a, b) {
        var x = a.cells[col].textContent.trim(), y = b.cells[col].textContent.trim();
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return up ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});"""
JOB_COLUMNS = {"theils_u": "Theil's U", "dm_stat": "DM stat", "dm_p_value": "DM p", "p_holm": "Holm p",
               "p_bh": "BH p", "verdict_holm": "verdict (Holm)", "verdict_bh": "verdict (BH)",
               "directional_accuracy": "directional accuracy", "sharpe": "Sharpe", "bh_sharpe": "B&H Sharpe",
               "total_return": "total return", "bh_total_return": "B&H total return", "max_drawdown": "max drawdown",
               "trades": "trades", "psr_vs_buy_and_hold": "PSR vs B&H", "seconds": "seconds",
               "cache_hit": "cache hit"}  # fmt: skip


def _num(x: float, digits: int = 4) -> str:
    return "–" if x is None or pd.isna(x) else f"{float(x):.{digits}f}"


def _p(x: float) -> str:
    return "–" if x is None or pd.isna(x) else f"{float(x):.4g}"


def _results_table(verdict: SweepVerdict, keys: list[str]) -> str:
    """Every finished job: accuracy, DM and its Holm/BH adjustment within the grid point, strategy figures."""
    jobs = verdict.jobs
    shown = pd.DataFrame({"ticker": jobs["ticker"], **{k: jobs[k].astype(str) for k in keys}})
    for col, name in JOB_COLUMNS.items():
        if col not in jobs:
            continue
        values = jobs[col]
        if col.startswith(("p_", "dm_p")):
            shown[name] = values.map(_p)
        elif col in ("verdict_holm", "verdict_bh", "cache_hit"):
            shown[name] = values.map(lambda v: "–" if pd.isna(v) else str(v))
        elif col == "trades":
            shown[name] = values.map(lambda v: _num(v, 0))
        else:
            digits = 2 if col == "seconds" else 4
            shown[name] = values.map(lambda v, d=digits: _num(v, d))
    return (f'<p class="note">{len(jobs)} finished jobs; click a header to sort. Holm and BH p-values adjust each '
            f"job's DM p-value across the tickers of its grid point.</p>"
            f'<div class="scroll">{html_table(shown, index=False, table_id="results", classes="sortable")}</div>')


@own_style
def _heatmap(table: pd.DataFrame, title: str, cmap: str, center: float | None) -> str:
    """A grid-axis x grid-axis heatmap with each cell's value written in it."""
    from matplotlib.colors import TwoSlopeNorm

    plt = pyplot()
    values = table.to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    norm = None
    if center is not None and finite.size and finite.min() < center < finite.max():
        norm = TwoSlopeNorm(center, finite.min(), finite.max())
    fig, ax = plt.subplots(figsize=(min(11, 3 + 1.3 * values.shape[1]), min(8, 2 + 0.6 * values.shape[0])))
    image = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(range(values.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(values.shape[0]), [str(i) for i in table.index])
    ax.set_xlabel(str(table.columns.name))
    ax.set_ylabel(str(table.index.name))
    for (i, j), value in np.ndenumerate(values):
        r, g, b, _ = image.cmap(image.norm(value)) if np.isfinite(value) else (1, 1, 1, 1)
        ink = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
        ax.text(j, i, _num(value, 3), ha="center", va="center", fontsize=9, color=ink)
    fig.colorbar(image, ax=ax)
    ax.set_title(title)
    return encode_png(fig)


@own_style
def _bars(series: pd.Series, title: str) -> str:
    """One grid axis: a bar per value."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(min(11, 3 + 0.8 * len(series)), 3.6))
    ax.bar([str(i) for i in series.index], series.to_numpy(dtype=np.float64), color="#1f77b4")
    ax.set_xlabel(str(series.index.name))
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    return encode_png(fig)


def _grid_section(sweep: Sweep) -> str:
    """Heatmaps (or bars) of Theil's U and Sharpe averaged across tickers over the first two grid axes."""
    keys, results = sweep.grid_keys, sweep.results
    if results.empty or not keys:
        return '<p class="note">No grid to chart: the sweep has a single configuration (or no finished job).</p>'
    axes = keys[:2]
    rest = f" and over the other grid keys ({', '.join(keys[2:])})" if len(keys) > 2 else ""
    parts = [f'<p class="note">Means of the jobs\' values in results.csv, averaged across tickers{rest}.</p>']
    for col, title, cmap, center in (("theils_u", "Theil's U (below 1 beats naive)", "RdYlGn_r", 1.0),
                                     ("sharpe", "strategy Sharpe (annualised)", "RdYlGn", None)):  # fmt: skip
        if results[col].isna().all():
            parts.append(f'<p class="note">No job has a {html.escape(title.split(" (")[0])}.</p>')
            continue
        if len(axes) == 2:
            table = results.pivot_table(index=axes[0], columns=axes[1], values=col, aggfunc="mean", dropna=False)
            chart = _heatmap(table, f"mean {title}", cmap, center)
        else:
            table = results.groupby(axes[0])[col].mean().to_frame(f"mean {col}")
            chart = _bars(table.iloc[:, 0], f"mean {title}")
        shown = table.map(lambda v: _num(v, 4))
        parts.append(f'<h3>Mean {html.escape(title)}</h3><img alt="mean {col}" src="{chart}">{html_table(shown)}')
    return "".join(parts)


def _forecast_section(verdict: SweepVerdict) -> str:
    """Verdict counts (Holm, BH) and the pooled DM and sign tests for every grid point."""
    t = verdict.forecast_points
    if t.empty:
        return '<p class="note">No job made forecasts (the strategy does not forecast).</p>'
    shown = pd.DataFrame({"grid point": t["grid_point"], "tickers": t["tickers"],
                          "mean Theil's U": t["mean_theils_u"].map(_num),
                          **{f"{m.upper() if m == 'bh' else 'Holm'}: {v}": t[f"{m}_{v}"]
                             for m in ss.METHODS for v in ss.VERDICTS},
                          "pooled DM stat": t["pooled_dm_stat"].map(_num), "pooled DM p": t["pooled_dm_p"].map(_p),
                          "pooled DM p, Bonferroni": t["pooled_dm_p_bonferroni"].map(_p),
                          "common days": t["common_days"], "sign test: lower RMSE": t["sign_wins"],
                          "sign test: tickers": t["sign_n"], "sign test p": t["sign_p"].map(_p)})  # fmt: skip
    every = verdict.all_jobs
    family = ", ".join(f"{m.upper() if m == 'bh' else 'Holm'}: {c.better} better, "
                       f"{c.not_different} not different, {c.worse} worse" for m, c in every.items())
    point = verdict.forecast_point
    words = (f"<p>At the most accurate grid point ({html.escape(point)}, lowest mean Theil's U). "
             f"{html.escape(verdict.pooled[point].words(verdict.alpha))} "
             f"{html.escape(verdict.signs[point].words())}</p>") if point else ""
    return (f'<p class="note">Verdict at alpha = {verdict.alpha} on each job\'s Diebold-Mariano p-value (model vs '
            "naive, two-sided; the sign of the statistic gives the direction), adjusted across the tickers of each "
            "grid point by Holm (family-wise error) and Benjamini-Hochberg (false discovery rate).</p>"
            f"{words}{html_table(shown, index=False)}"
            f"<p>All {every['holm'].total} jobs with forecasts as one family (every ticker and grid point): "
            f"{html.escape(family)}.</p>")  # fmt: skip


def _strategy_section(verdict: SweepVerdict) -> str:
    """Per grid point portfolio Sharpe ratios; SPA, Reality Check and the deflated Sharpe ratio."""
    t = verdict.strategy_points
    shown = pd.DataFrame({"grid point": t["grid_point"], "tickers": t["tickers"],
                          "portfolio Sharpe": t["portfolio_sharpe"].map(_num),
                          "mean of jobs' Sharpe": t["mean_job_sharpe"].map(_num),
                          "B&H portfolio Sharpe": t["bh_portfolio_sharpe"].map(_num),
                          "mean excess return over B&H (annualised)": t["mean_excess_annual"].map(_num)})  # fmt: skip
    days = verdict.days
    span = f"{len(days)} days common to every finished job ({days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d})" \
        if len(days) else "no day common to every finished job"  # fmt: skip
    intro = (f'<p class="note">Each grid point\'s portfolio holds its tickers\' strategies in equal weight, '
             f"rebalanced daily: its return is the average of the tickers' daily returns, over the {span}. The "
             "best configuration is the one with the highest portfolio Sharpe.</p>")  # fmt: skip
    return intro + html_table(shown, index=False) + _tests_table(verdict)


def _tests_table(verdict: SweepVerdict) -> str:
    s, d = verdict.snooping, verdict.deflated
    if s is None:
        return "<p>Too few common days to run the bootstrap tests.</p>"
    rows = [("configurations tried (trials)", str(s.n_trials)), ("common days", str(s.n_days)),
            ("SPA p-value, consistent", _p(s.spa_consistent)), ("SPA p-value, lower", _p(s.spa_lower)),
            ("SPA p-value, upper", _p(s.spa_upper)), ("Reality Check p-value", _p(s.reality_check)),
            ("bootstrap", f"stationary, mean block {s.block_size} days, {s.reps} replications, seed {s.seed}")]
    if d is not None:
        rows += [("best configuration", verdict.best_point or "–"),
                 ("its Sharpe per day (annualised)", f"{_num(d.sharpe)} ({_num(ss.annualised(d.sharpe), 2)})"),
                 ("variance of the trials' daily Sharpe", f"{d.variance:.4g}"),
                 ("expected maximum daily Sharpe under the null", _num(d.expected_max)),
                 ("skewness, kurtosis of its returns", f"{_num(d.skew, 3)}, {_num(d.kurtosis, 3)}"),
                 ("deflated Sharpe ratio", _num(d.dsr))]  # fmt: skip
    table = html_table(pd.DataFrame(rows, columns=["test", "value"]), index=False)
    return (f"{table}<p class=\"note\">SPA (Hansen) and Reality Check (White) test whether any of the "
            f"{s.n_trials} grid points beats buy-and-hold: losses are minus each grid point's daily excess return "
            "over buy-and-hold, the benchmark's loss is 0; a small p says at least one does. The deflated Sharpe "
            "ratio (Bailey and Lopez de Prado, 2014) is the probability that the best configuration's true Sharpe "
            "is above zero once picking the best of the trials is accounted for; 0.95 or more is convincing. Note "
            "it tests Sharpe against zero, not against buy-and-hold. arch (the library) computes the SPA and "
            "Reality Check p-values from the maximum mean excess return without studentizing it, so with one "
            "seed the SPA upper and Reality Check p-values coincide.</p>")  # fmt: skip


def _coverage_section(sweep: Sweep, verdict: SweepVerdict) -> str:
    """Universe members without data, failed jobs and their errors, jobs never reported."""
    meta, parts = sweep.meta, []
    universe = meta.get("universe")
    if isinstance(universe, dict):
        missing = [str(m) for m in universe.get("missing") or []]
        parts.append(f"<p>Universe {html.escape(str(universe.get('name')))} as of "
                     f"{html.escape(str(universe.get('as_of')))}: {universe.get('members')} members, "
                     f"{len(missing)} without data{': ' if missing else ''}{html.escape(', '.join(missing))}.</p>")
    done = set(sweep.results["job_id"]) | set(sweep.failures["job_id"])
    lost = [str(j["job_id"]) for j in meta["jobs"] if str(j["job_id"]) not in done]
    parts.append(f"<p>{len(meta.get('tickers', []))} tickers, {verdict.n_jobs} jobs: {len(sweep.results)} finished, "
                 f"{len(sweep.failures)} failed, {len(lost)} not reported"
                 f"{': ' + html.escape(', '.join(lost)) if lost else ''}.</p>")  # fmt: skip
    if len(sweep.failures):
        failed = sweep.failures[["ticker", "grid_point", "job_id", "error"]]
        failed = failed.rename(columns={"grid_point": "grid point"})
        parts.append(f"<h3>Failed jobs</h3>{html_table(failed, index=False)}")
    return "".join(parts)


def _method_section(sweep: Sweep, verdict: SweepVerdict) -> str:
    """How each number is computed, so it can be recomputed from the CSVs; then the package versions."""
    items = [
        "Per-job figures are results.csv's. Theil's U is the forecast RMSE over the naive RMSE.",
        "Pooled DM: for each ticker of a grid point and each target day every ticker forecast, the model's squared "
        "error minus the naive one's, divided by that ticker's naive mean squared error over those days; averaged "
        "across tickers per day; Diebold-Mariano with the HLN correction, horizon 1, two-sided, on that series. "
        "Bonferroni multiplies its p-value by the number of grid points.",
        "Sign test: two-sided binomial test with probability one half of the number of tickers whose forecast RMSE "
        "is below the naive RMSE (ties left out).",
        "Strategies: daily returns from runs/<job_id>/returns.csv on the days common to every finished job; excess "
        "return is strategy minus buy_and_hold; Sharpe is mean over sample standard deviation times sqrt(252).",
        "Deflated Sharpe: expected maximum Sharpe E = sqrt(V) ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e))) with N "
        "the number of grid points, V the sample variance (ddof 1) of their daily portfolio Sharpe ratios and g the "
        "Euler-Mascheroni constant; DSR = Phi((SR - E) sqrt(T - 1) / sqrt(1 - skew SR + (kurtosis - 1) / 4 SR^2)).",
    ]
    versions = json.dumps(sweep.meta.get("versions", {}), indent=2)
    return (f"<ul>{''.join(f'<li>{html.escape(i)}</li>' for i in items)}</ul>"
            f"<h3>Package versions</h3><pre>{html.escape(versions)}</pre>")


def sweep_html(sweep: Sweep, verdict: SweepVerdict) -> str:
    """The full sweep page as one HTML string."""
    points = sweep.results["grid_point"].nunique()
    title = f"Sweep: {sweep.meta.get('strategy', 'strategy')}, {sweep.results['ticker'].nunique()} tickers x " \
            f"{points} grid points"  # fmt: skip
    sections = [("headline", "Headline", f'<p class="verdict">{html.escape(verdict.headline)}</p>')]
    if len(verdict.jobs):
        sections += [("results", "Results by ticker and grid point", _results_table(verdict, sweep.grid_keys)),
                     ("grid", "Over the grid", _grid_section(sweep)),
                     ("forecasts", "Forecasts against the naive forecast", _forecast_section(verdict)),
                     ("strategies", "Strategies against buy-and-hold", _strategy_section(verdict))]  # fmt: skip
    sections += [("coverage", "Data coverage and failures", _coverage_section(sweep, verdict)),
                 ("method", "Method and versions", _method_section(sweep, verdict))]
    toc = "".join(f'<li><a href="#{sid}">{html.escape(name)}</a></li>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{html.escape(name)}</h2>{content}</section>'
                   for sid, name, content in sections)  # fmt: skip
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<link rel="icon" href="data:,"><style>{CSS}{_SORT_CSS}</style></head><body><main>'
            f'<h1>{html.escape(title)}</h1><p class="note">{html.escape(str(sweep.folder.name))}; generated by '
            f"bt-lstm</p><nav><strong>Contents</strong><ol>{toc}</ol></nav>{body}</main>"
            f"<script>{_SORT_JS}</script></body></html>\n")  # fmt: skip


def write_sweep_page(folder: Path) -> tuple[Path, str]:
    """Read and check ``folder``, write ``sweep.html`` atomically; return its path and the headline.

    Nothing is written when a file of the folder is missing or damaged (``SweepFolderError``).
    """
    folder = Path(folder)
    sweep = load_sweep(folder)
    verdict = analyse_sweep(sweep)
    atomic_write_text(folder / "sweep.html", sweep_html(sweep, verdict))
    return folder / "sweep.html", verdict.headline


def build_sweep_page(folder: Path) -> Path:
    """Write ``folder/sweep.html`` from the sweep folder's files and return its path."""
    return write_sweep_page(folder)[0]


def sweep_headline(folder: Path) -> str:
    """The sweep's one-sentence verdict, computed from the folder (the same sentence the page leads with)."""
    return analyse_sweep(load_sweep(Path(folder))).headline
