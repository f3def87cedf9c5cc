"""The quantstats HTML tearsheet, made to work offline and quietly.

The benchmark is always passed as a return series, so quantstats never
downloads anything. Two defects of its template are mended: the remote
favicon is replaced by an inline empty one (no request, so it opens offline)
and ``<body onload="save()">``, which calls an undefined function, loses it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from pathlib import Path

import pandas as pd

from .files import atomic_write_text


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
    html = re.sub(r'<link rel="shortcut icon"[^>]*>', '<link rel="icon" href="data:,">', html)
    html = html.replace('<body onload="save()">', "<body>")  # the template calls a function it never defines
    atomic_write_text(path, html)
    return path
