"""The quantstats HTML tearsheet, made to work offline, quietly, and the same for the same returns.

The benchmark is always passed as a return series, so quantstats never
downloads anything. Two defects of its template are mended: the remote
favicon is replaced by an inline empty one (no request, so it opens offline)
and ``<body onload="save()">``, which calls an undefined function, loses it.
Figures are drawn by ``reports.figure_canvas``, a matplotlib backend (selected
through matplotlib's public backend API) that draws each figure once and
writes SVGs without a creation date; with stable element ids (matplotlib's
``svg.hashsalt`` setting) the same returns give the same file. Nothing of
matplotlib, scipy, yfinance or quantstats is replaced or patched.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import re
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from .files import atomic_write_text

BACKEND = "module://reports.figure_canvas"  # imported by matplotlib when the first figure is made


def _quiet_matplotlib() -> None:
    import matplotlib

    matplotlib.use(BACKEND, force=True)  # Agg, minus the redraws for a window (see reports.figure_canvas)
    matplotlib.rcParams["svg.hashsalt"] = "bt-lstm"  # element ids from the content, not from a random salt
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


def preload() -> None:
    """Import what a tearsheet needs (a drawing process calls this while the run computes)."""
    _quiet_matplotlib()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        import matplotlib.pyplot  # noqa: F401
        import quantstats  # noqa: F401


def prepare_drawing_process() -> None:
    """``preload`` for a process that only draws (``backtests.drawing`` runs it as the process starts)."""
    preload()


def tearsheet_title(ticker: str, strategy: str, first_day: str, last_day: str) -> str:
    """The tearsheet's title, as ``bt run`` and ``bt report`` both write it."""
    return f"{ticker} {strategy} {first_day} to {last_day}"


def tearsheet_key(returns: pd.Series, benchmark: pd.Series, title: str) -> str:
    """What a drawn tearsheet is a function of, as one digest: its two series (names, days and exact values),
    its title, this module's and the canvas's source, and the versions of the libraries that draw it.

    Equal keys give byte-identical pages (``tests/test_page_cache.py`` draws twice), so a page drawn once
    can be served from ``backtests.page_cache`` instead of drawn again."""
    from importlib.metadata import version

    here = Path(__file__).parent
    payload = {
        "series": [s.to_csv(float_format="%.17g", date_format="%Y-%m-%d", lineterminator="\n", header=[str(s.name)])
                   for s in (returns, benchmark)],
        "title": title,
        "code": [hashlib.sha256((here / name).read_bytes()).hexdigest()
                 for name in ("tearsheet.py", "figure_canvas.py")],
        "versions": [version(name) for name in ("quantstats", "matplotlib", "seaborn", "pandas", "numpy", "scipy")],
    }  # fmt: skip
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def tearsheet_html(returns: pd.Series, benchmark: pd.Series, title: str) -> str:
    """The quantstats tearsheet of ``returns`` against ``benchmark`` as page text (picklable: runs anywhere)."""
    preload()
    import quantstats as qs

    strategy = returns.astype(float).rename("Strategy")
    bench = benchmark.reindex(strategy.index).fillna(0.0).astype(float).rename(benchmark.name)
    with (tempfile.TemporaryDirectory(prefix="bt-tearsheet-") as scratch, warnings.catch_warnings(),
          contextlib.redirect_stdout(io.StringIO())):  # fmt: skip
        warnings.simplefilter("ignore")
        output = Path(scratch) / "tearsheet.html"
        try:
            qs.reports.html(strategy, benchmark=bench, output=str(output), title=title)
            html = output.read_text(encoding="utf-8")
        except (ValueError, ZeroDivisionError, FloatingPointError) as exc:  # e.g. a strategy that never traded
            html = _no_tearsheet(title, exc)
    html = re.sub(r'<link rel="shortcut icon"[^>]*>', '<link rel="icon" href="data:,">', html)
    return html.replace('<body onload="save()">', "<body>")  # the template calls a function it never defines


def write_tearsheet(returns: pd.Series, benchmark: pd.Series, path: Path, *, title: str) -> Path:
    """Write a quantstats tearsheet of ``returns`` against ``benchmark`` to ``path`` atomically."""
    atomic_write_text(path, tearsheet_html(returns, benchmark, title))
    return path


def _no_tearsheet(title: str, exc: Exception) -> str:
    """A small page in place of the tearsheet when quantstats cannot draw one (a flat return series)."""
    import html as escape

    why = escape.escape(" ".join(str(exc).split()))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape.escape(title)}</title>'
            f'<link rel="icon" href="data:,"></head><body><h1>{escape.escape(title)}</h1><p>quantstats could not '
            f"draw a tearsheet for these returns ({why}); a strategy that never traded has a flat return "
            "series.</p></body></html>\n")  # fmt: skip
