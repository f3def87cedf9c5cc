"""Write a run folder's report.html (and its quantstats tearsheet.html) from the saved files."""

from __future__ import annotations

from pathlib import Path

from .files import atomic_write_text
from .page import run_page
from .saved import load_run
from .tearsheet import write_tearsheet


def build_report(folder: Path) -> Path:
    """Read and check ``folder``, then write ``tearsheet.html`` and ``report.html`` atomically.

    Nothing is written when a saved file is missing, damaged or from another version.
    """
    folder = Path(folder)
    run = load_run(folder)
    meta = run.meta
    title = f"{meta['data']['ticker']} {meta['config']['strategy']['name']} " \
            f"{meta['period']['first_day']} to {meta['period']['last_day']}"  # fmt: skip
    bench = run.returns["benchmark"].rename(meta["benchmark"]["ticker"])
    write_tearsheet(run.returns["strategy"], bench, folder / "tearsheet.html", title=title)
    page = run_page(run, "tearsheet.html")
    atomic_write_text(folder / "report.html", page)
    return folder / "report.html"
