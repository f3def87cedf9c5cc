"""A matplotlib backend for drawing report figures to files: Agg, with no window to keep up to date.

Selected through matplotlib's public backend API (``matplotlib.use("module://reports.figure_canvas")``);
its canvas is a subclass of the Agg canvas that overrides two public methods, so nothing of matplotlib
or of quantstats is replaced:

- ``draw_idle``: ``pyplot.savefig`` asks the canvas to redraw the figure after saving it, for a window
  showing it. There is none here, so the request is dropped (matplotlib's own docs leave that strategy
  to the backend), instead of drawing every tearsheet figure a second time.
- ``print_figure``: quantstats lays each figure out (``tight_layout``) before saving it, which leaves an
  idle layout placeholder that makes saving run one more layout pass; the layout is done, so the
  placeholder is dropped first. An SVG is written without a creation date, so the same figure gives
  the same file.
"""

from __future__ import annotations

from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.layout_engine import PlaceHolderLayoutEngine

BACKEND = f"module://{__name__}"  # what ``matplotlib.use`` takes to select this backend


class ReportCanvas(FigureCanvasAgg):
    """The Agg canvas for figures that are only ever saved to files."""

    def draw_idle(self, *args: Any, **kwargs: Any) -> None:
        """No window shows the figure, so nothing is redrawn for one."""

    def print_figure(self, filename: Any, *args: Any, **kwargs: Any) -> Any:
        """Save the figure: without a layout pass when its layout was already done, and SVGs undated."""
        if isinstance(self.figure.get_layout_engine(), PlaceHolderLayoutEngine):
            self.figure.set_layout_engine(None)
        if (kwargs.get("format") or str(filename).rpartition(".")[2]).lower() == "svg":
            kwargs["metadata"] = {"Date": None, **(kwargs.get("metadata") or {})}
        return super().print_figure(filename, *args, **kwargs)


FigureCanvas = ReportCanvas  # the name a matplotlib backend module exports its canvas under
