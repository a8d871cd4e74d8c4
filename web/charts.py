"""Charts as SVG images, drawn by pygal."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


def _pygal() -> Any:
    import pygal

    # pygal appends a legacy import hook for its map plugins to sys.meta_path; we draw no
    # maps, and the hook makes every later failed import warn (ImportWarning), so drop it.
    sys.meta_path[:] = [f for f in sys.meta_path
                        if type(f).__name__ != "PluginImportFixer"]
    return pygal


def bar_chart(buckets: Sequence[tuple[str, int]], title: str = "messages") -> bytes:
    """A bar chart of (label, count) as an SVG document, about twelve labels shown."""
    pygal = _pygal()
    chart = pygal.Bar(width=900, height=260, show_legend=False, js=[], x_label_rotation=45,
                      show_minor_x_labels=False, margin=10)
    chart.x_labels = [label for label, _ in buckets]
    step = max(1, len(buckets) // 12)
    chart.x_labels_major = [label for i, (label, _) in enumerate(buckets) if i % step == 0]
    chart.add(title, [count for _, count in buckets])
    svg: bytes = chart.render()
    return svg
