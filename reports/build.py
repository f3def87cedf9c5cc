"""Write a run folder's report.html (and its quantstats tearsheet.html) from the saved files.

Any run folder: one ticker's or several's, written by this version or an earlier one in the same
format (``reports.saved.load_run`` reads them all). The tearsheet is the slow page (quantstats
draws fourteen figures); given somewhere else to draw it (``draw``, or a ``tearsheet`` already
being drawn), the report's charts are drawn here meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .files import atomic_write_text
from .page import run_page, title
from .saved import load_run
from .tearsheet import tearsheet_html, tearsheet_key
from .undrawn import PageNotDrawn, undrawn_page


class Pending(Protocol):
    """A page being drawn elsewhere: a ``concurrent.futures`` or Dask future of its text."""

    def result(self) -> str: ...


Draw = Callable[..., Pending]  # draw(fn, *args): fn(*args) started elsewhere


class PageStore(Protocol):
    """Drawn pages kept by their ``tearsheet_key`` (``backtests.page_cache.PageCache``): a miss is None."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, text: str) -> None: ...


def build_report(folder: Path, *, tearsheet: Pending | None = None, draw: Draw | None = None,
                 pages: PageStore | None = None) -> Path:
    """Read and check ``folder``, then write ``tearsheet.html`` and ``report.html`` atomically.

    ``tearsheet`` is this run's tearsheet (``tearsheet_html`` of its saved strategy and benchmark
    returns and title) already being drawn; otherwise ``draw`` starts it, or it is drawn here once
    the report's charts are. Nothing is written when a saved file is missing, damaged or from another
    version; a tearsheet that was not drawn (``PageNotDrawn``: past the drawing process's limits) is
    a short page saying so. ``pages``: where a tearsheet drawn before for the same inputs is taken from
    (and this one is kept), so a rerun whose returns did not change does not draw it again.
    """
    folder = Path(folder)
    run = load_run(folder)
    heading = title(run)
    returns = run.returns_table()
    args = (returns["strategy"], returns["benchmark"].rename(run.meta["benchmark"]["ticker"]), heading)
    key = None  # the page cache's key of a tearsheet still to draw
    if pages is not None and tearsheet is None:
        key = tearsheet_key(*args)
        kept = pages.get(key)
        if kept is not None:
            tearsheet, key = _Drawn(kept), None
    if tearsheet is None and draw is not None:
        tearsheet = draw(tearsheet_html, *args)
    page = run_page(run, "tearsheet.html")
    if tearsheet is None:
        tearsheet = _Drawn(tearsheet_html(*args))
    drawn = write_page(folder / "tearsheet.html", tearsheet, heading)
    if pages is not None and key is not None and drawn is not None:
        pages.put(key, drawn)
    atomic_write_text(folder / "report.html", page)
    return folder / "report.html"


def write_page(path: Path, pending: Pending, title: str) -> str | None:
    """Write a page drawn elsewhere and return its text; if it was not drawn (``PageNotDrawn``), a short page
    saying why, unless ``path`` holds the page already (``bt report`` redrawing it from the same saved returns
    keeps it), and None."""
    try:
        text = pending.result()
    except PageNotDrawn as exc:
        if not path.is_file():
            atomic_write_text(path, undrawn_page(title, str(exc)))
        return None
    atomic_write_text(path, text)
    return text


class _Drawn:
    """A page drawn in this process."""

    def __init__(self, text: str) -> None:
        self.text = text

    def result(self) -> str:
        return self.text
