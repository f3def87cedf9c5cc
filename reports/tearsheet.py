"""The quantstats HTML tearsheet, made to work offline, quietly, and drawn once.

The benchmark is always passed as a return series, so quantstats never
downloads anything. Two defects of its template are mended: the remote
favicon is replaced by an inline empty one (no request, so it opens offline)
and ``<body onload="save()">``, which calls an undefined function, loses it.
quantstats saves each figure through ``pyplot.savefig``, which draws the figure
again after saving it (for interactive windows, of which there are none), and
runs an empty layout pass before; here each figure is drawn once, a fifth less
time. Its SVGs carry no creation date and stable element ids, so the same
returns give the same file.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import re
import sys
import tempfile
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from .files import atomic_write_text


def _quiet_matplotlib() -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
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


class _ImportedOnUse(types.ModuleType):
    """Stands in for a module until an attribute of it is used; then the real module is imported."""

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


class _UnchangedDoc:
    """Stands in for scipy's docstring parser in ``xp_capabilities``: the function keeps its own docstring."""

    def __init__(self, function: Any, *args: Any, **kwargs: Any) -> None:
        self.text = getattr(function, "__doc__", None) or ""

    def __getitem__(self, section: str) -> list[str]:
        return []  # the section the note would be added to; the note is dropped

    def __str__(self) -> str:
        return "\n" + self.text  # the decorator drops the first line (the signature it expects there)


def _probe() -> None:
    """Summary.

    Notes
    -----
    A docstring for checking the stand-in on.
    """


def _docstrings_left_alone() -> None:
    """As scipy (1.17) imports, its ``xp_capabilities`` decorator parses and rewrites the docstrings of
    some 500 functions to add a note on array-API support: half of importing ``scipy.stats``, which
    quantstats and seaborn need. A process that only draws never reads them, so there they keep their
    text. The stand-in is tried on a function first: a scipy that uses its parser otherwise keeps it."""
    if "scipy.stats" in sys.modules:
        return
    try:
        capabilities = importlib.import_module("scipy._lib._array_api")
        parser, decorate = capabilities.FunctionDoc, capabilities.xp_capabilities
    except (ImportError, AttributeError):  # another scipy layout: imported as it is
        return
    capabilities.FunctionDoc = _UnchangedDoc
    try:
        decorate()(_probe)
    except Exception:  # noqa: BLE001 - any failure means this scipy is not the one the stand-in fits
        capabilities.FunctionDoc = parser


def prepare_drawing_process() -> None:
    """``preload`` for a process that only draws: quantstats imports yfinance only to download, which
    a tearsheet never does, so there yfinance is imported on first use (a sixth of the import time);
    scipy's functions keep their docstrings as written (``_docstrings_left_alone``)."""
    if "yfinance" not in sys.modules:
        sys.modules["yfinance"] = _ImportedOnUse("yfinance")
    _docstrings_left_alone()
    preload()


@contextlib.contextmanager
def _figures_drawn_once() -> Iterator[None]:
    """``pyplot.savefig`` without its redraw after saving, and SVGs without a creation date.

    quantstats lays each figure out (``tight_layout``) before saving it, which leaves a layout
    engine that does nothing but makes ``savefig`` draw the figure once more to run it; it goes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    def savefig(*args: Any, **kwargs: Any) -> None:
        if kwargs.get("format") == "svg":
            kwargs.setdefault("metadata", {"Date": None})
        figure = plt.gcf()
        if isinstance(figure.get_layout_engine(), PlaceHolderLayoutEngine):
            figure.set_layout_engine(None)
        figure.savefig(*args, **kwargs)

    saved = plt.savefig
    plt.savefig = savefig
    try:
        yield
    finally:
        plt.savefig = saved


def tearsheet_title(ticker: str, strategy: str, first_day: str, last_day: str) -> str:
    """The tearsheet's title, as ``bt run`` and ``bt report`` both write it."""
    return f"{ticker} {strategy} {first_day} to {last_day}"


def tearsheet_html(returns: pd.Series, benchmark: pd.Series, title: str) -> str:
    """The quantstats tearsheet of ``returns`` against ``benchmark`` as page text (picklable: runs anywhere)."""
    preload()
    import quantstats as qs

    strategy = returns.astype(float).rename("Strategy")
    bench = benchmark.reindex(strategy.index).fillna(0.0).astype(float).rename(benchmark.name)
    with (tempfile.TemporaryDirectory(prefix="bt-tearsheet-") as scratch, warnings.catch_warnings(),
          contextlib.redirect_stdout(io.StringIO()), _figures_drawn_once()):  # fmt: skip
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
