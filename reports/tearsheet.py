"""The quantstats HTML tearsheet, made to work offline and quietly.

The benchmark is always passed as a return series, so quantstats never
downloads anything; the one remote resource its template names (a favicon)
is removed so the page opens with no network and no failed request.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from pathlib import Path

import pandas as pd

from backtests.files import atomic_write_text


def _quiet_matplotlib() -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


def write_tearsheet(returns: pd.Series, benchmark: pd.Series, path: Path, *, title: str) -> Path:
    """Write a quantstats tearsheet of ``returns`` against ``benchmark`` to ``path`` atomically."""
    _quiet_matplotlib()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        import quantstats as qs

        strategy = returns.astype(float).rename("Strategy")
        bench = benchmark.reindex(strategy.index).fillna(0.0).astype(float).rename(benchmark.name)
        scratch = path.with_name(f".{path.name}.qs.tmp")
        try:
            qs.reports.html(strategy, benchmark=bench, output=str(scratch), title=title)
            html = scratch.read_text(encoding="utf-8")
        finally:
            scratch.unlink(missing_ok=True)
    html = re.sub(r'<link rel="shortcut icon"[^>]*>', "", html)
    atomic_write_text(path, html)
    return path
