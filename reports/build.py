"""Write a run folder's report.html (and its quantstats tearsheet.html) from the saved files.

The tearsheet is the slow page (quantstats draws fourteen figures); given somewhere else to draw
it (``draw``, or a ``tearsheet`` already being drawn), the report's charts are drawn here meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .files import atomic_write_text
from .page import run_page
from .saved import load_run
from .tearsheet import tearsheet_html, tearsheet_title


class Pending(Protocol):
    """A page being drawn elsewhere: a ``concurrent.futures`` or Dask future of its text."""

    def result(self) -> str: ...


Draw = Callable[..., Pending]  # draw(fn, *args): fn(*args) started elsewhere


def build_report(folder: Path, *, tearsheet: Pending | None = None, draw: Draw | None = None) -> Path:
    """Read and check ``folder``, then write ``tearsheet.html`` and ``report.html`` atomically.

    ``tearsheet`` is this run's tearsheet (``tearsheet_html`` of its saved strategy and benchmark
    returns and title) already being drawn; otherwise ``draw`` starts it, or it is drawn here.
    Nothing is written when a saved file is missing, damaged or from another version.
    """
    folder = Path(folder)
    run = load_run(folder)
    meta = run.meta
    if tearsheet is None:
        title = tearsheet_title(meta["data"]["ticker"], meta["config"]["strategy"]["name"],
                                meta["period"]["first_day"], meta["period"]["last_day"])  # fmt: skip
        args: tuple[Any, ...] = (run.returns["strategy"], run.returns["benchmark"].rename(meta["benchmark"]["ticker"]),
                                 title)  # fmt: skip
        tearsheet = draw(tearsheet_html, *args) if draw is not None else _Drawn(tearsheet_html(*args))
    page = run_page(run, "tearsheet.html")
    atomic_write_text(folder / "tearsheet.html", tearsheet.result())
    atomic_write_text(folder / "report.html", page)
    return folder / "report.html"


class _Drawn:
    """A page drawn in this process."""

    def __init__(self, text: str) -> None:
        self.text = text

    def result(self) -> str:
        return self.text
