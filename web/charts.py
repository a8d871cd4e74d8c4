"""Charts: the volume as an SVG image drawn by pygal (/voc/volume.svg), and the VoC page's
stacked bars as geometry its template draws as inline SVG (values on hover and focus)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


def line_chart(labels: Sequence[str], series: Mapping[str, Sequence[float | None]],
               unit: str, title: str | None = None) -> bytes:
    """Lines of values per label (None: no value that day) as an SVG document from 0 (to 100
    for a percentage), about twelve labels shown, values printed with `unit` ("%", " h");
    the title is the document's <title> (what a reader of the SVG alone is told)."""
    pygal = _pygal()
    digits = 0 if unit == "%" else 1
    top = 100 if unit == "%" else max((v for vs in series.values() for v in vs if v), default=1)
    chart = pygal.Line(width=900, height=300, js=[], x_label_rotation=45, margin=10,
                       range=(0, top), dots_size=3, title=title, title_font_size=14,
                       show_minor_x_labels=False, legend_at_bottom=True,
                       allow_interruptions=True, value_formatter=lambda v: f"{v:.{digits}f}{unit}")
    chart.x_labels = list(labels)
    step = max(1, len(labels) // 12)
    chart.x_labels_major = [label for i, label in enumerate(labels) if i % step == 0]
    for name, values in series.items():
        chart.add(name, list(values))
    svg: bytes = chart.render()
    return svg


def stacked_bar_chart(labels: Sequence[str], series: Mapping[str, Sequence[int]]) -> bytes:
    """Bars of counts per label, one stacked segment per series, as an SVG document."""
    pygal = _pygal()
    chart = pygal.StackedBar(width=900, height=260, js=[], margin=10, legend_at_bottom=True,
                             print_values=False)
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    svg: bytes = chart.render()
    return svg


SERIES = ("negative", "neutral", "positive", "none", "team")  # bottom to top
SERIES_NAMES = {"negative": "negative", "neutral": "neutral", "positive": "positive",
                "none": "no sentiment yet", "team": "the team's replies"}


@dataclass(frozen=True, slots=True)
class Segment:
    series: str
    count: int
    y: float
    height: float


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # the bucket's first day
    total: int
    x: float
    width: float
    top: float  # y of the bar's top (its value is shown just above)
    segments: tuple[Segment, ...]
    labelled: bool  # its date is written under the axis (about twelve are)

    @property
    def summary(self) -> str:
        """What hover (<title>), focus and screen readers say about the bar."""
        parts = ", ".join(f"{s.count} {SERIES_NAMES[s.series]}" for s in self.segments)
        noun = "message" if self.total == 1 else "messages"
        return f"{self.label}: {self.total} {noun}" + (f" ({parts})" if parts else "")


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bottom: float  # y of the axis
    left: float  # x of the axis
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[int, float], ...]  # (value, y) of the horizontal grid lines
    series: tuple[str, ...]  # the series any bar has, bottom to top


def _nice(top: int) -> int:
    """A round number at least `top` (1, 2, 5 times a power of ten)."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= top:
                return step * scale
        scale *= 10


def stacked_bars(buckets: Sequence[tuple[str, Mapping[str, int]]], width: int = 900,
                 height: int = 280) -> Chart:
    """The geometry of a stacked bar chart of (bucket start, count per series) in SERIES
    order, drawn as inline SVG by the page: every bar says its numbers on hover (<title>)
    and on focus, and the page lists them in a table too."""
    left, right, top, bottom = 44.0, 8.0, 18.0, float(height - 56)
    scale_top = _nice(max((sum(c.get(s, 0) for s in SERIES) for _, c in buckets),
                         default=0) or 1)
    per_unit = (bottom - top) / scale_top
    slot = (width - left - right) / max(len(buckets), 1)
    step = max(1, len(buckets) // 12)
    bars = []
    for i, (label, counts) in enumerate(buckets):
        y, segments = bottom, []
        for name in SERIES:
            n = counts.get(name, 0)
            if n > 0:
                y -= n * per_unit
                segments.append(Segment(name, n, round(y, 2), round(n * per_unit, 2)))
        bars.append(Bar(label, sum(counts.get(s, 0) for s in SERIES),
                        round(left + i * slot + slot * 0.1, 2), round(slot * 0.8, 2),
                        round(y, 2), tuple(segments), i % step == 0))
    ticks = tuple((v, round(bottom - v * per_unit, 2))
                  for v in (0, scale_top // 2, scale_top) if v or scale_top)
    used = tuple(s for s in SERIES if any(seg.series == s for b in bars for seg in b.segments))
    return Chart(width, height, bottom, left, tuple(bars), tuple(dict.fromkeys(ticks)), used)
