"""A page that could not be drawn: the error that says why, and the small page written in its place.

Standard library only: the drawing process (``backtests.drawing``) raises ``PageNotDrawn`` before it
imports anything else, and the page builders write ``undrawn_page`` where the page would have been.
"""

from __future__ import annotations

import html


class PageNotDrawn(RuntimeError):
    """A page the drawing process did not finish: past its memory or time limit, or the process died.

    ``str()`` is the reason, in words that name the limit and the variable that raises it.
    """


def undrawn_page(title: str, why: str) -> str:
    """A small page in place of a page that was not drawn, saying why and how to draw it again."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<link rel="icon" href="data:,"></head><body><h1>{html.escape(title)}</h1><p>This page was not '
            f"drawn: {html.escape(why)}. The run's tables, run.json and report.html are complete; "
            "<code>bt report RUN_FOLDER</code> draws this page again.</p></body></html>\n")  # fmt: skip
