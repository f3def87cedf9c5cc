"""What every report page shares: the stylesheet, the page around its sections, tables and the tearsheet frame.

Everything is inline (CSS in the page; charts are PNG data URIs), so a page opens offline.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:1.5rem 2rem 4rem;background:#fff}
h1{margin:.2rem 0 .4rem;font-size:1.6rem} h2{margin-top:2.4rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
nav ol{columns:2;margin:.4rem 0 1rem} table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:right} th:first-child,td:first-child{text-align:left}
thead th{background:#f2f2f2} img{max-width:100%} .verdict{font-size:1.15rem;font-weight:600;margin:.8rem 0}
.note{color:#555;font-size:.9rem} iframe{width:100%;height:900px;border:1px solid #ddd}
pre{background:#f6f6f6;padding:.8rem;overflow-x:auto;font-size:.8rem} .scroll{max-height:420px;overflow-y:auto}
"""

Section = tuple[str, str, str]  # (id, heading, HTML)


def html_table(frame: pd.DataFrame, **kwargs: Any) -> str:
    """A table as every page shows it: no border, "–" for missing values, text escaped."""
    return frame.to_html(border=0, na_rep="–", escape=True, **kwargs)


def trades_table(trades: pd.DataFrame, what: str = "trades") -> str:
    """The fills as a scrolling table, or a line saying there were none (a strategy that never traded)."""
    if trades.empty:
        return f'<p class="note">No {what}: the strategy never traded in this period.</p>'
    return f'<div class="scroll">{html_table(trades, index=False)}</div>'


def tearsheet_frame(tearsheet: str | None) -> str:
    """A link to the quantstats tearsheet and the page itself in a frame ("None." without one)."""
    if not tearsheet:
        return "<p>None.</p>"
    return (f'<p><a href="{tearsheet}">Open the quantstats tearsheet on its own page</a>.</p>'
            f'<iframe title="quantstats tearsheet" src="{tearsheet}"></iframe>')  # fmt: skip


def page(title: str, subtitle: str, sections: list[Section]) -> str:
    """A report page: heading, subtitle, a table of contents and the sections (id, name, HTML)."""
    toc = "".join(f'<li><a href="#{sid}">{html.escape(name)}</a></li>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{html.escape(name)}</h2>{content}</section>'
                   for sid, name, content in sections)  # fmt: skip
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<link rel="icon" href="data:,"><style>{CSS}</style></head><body><main><h1>{html.escape(title)}</h1>'
            f'<p class="note">{html.escape(subtitle)}</p><nav><strong>Contents</strong><ol>{toc}</ol></nav>'
            f"{body}</main></body></html>\n")  # fmt: skip
