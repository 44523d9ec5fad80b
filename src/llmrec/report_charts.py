"""SVG charts for the report, drawn from numbers alone: a line chart and a grouped bar chart.

Each chart is a standalone SVG document (its own xmlns, font and white background), so the same text
is inlined in report.html and written beside report.md. Data marks carry the class "mark" (plus "line",
"point" or "bar") so that a reader of the SVG, or a test, can tell data from axes and legend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

# Tableau 10: distinguishable, and calm enough for a page of tables.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
WIDTH = 820
HEIGHT = 360
LEGEND_WIDTH = 190  # room right of the plot for the legend, so it never covers data
LINE_HEIGHT = 14


@dataclass(frozen=True)
class Line:
    """One series of a line chart: (x, y) points in x order."""

    name: str
    colour: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Bars:
    """One series of a grouped bar chart: a value per group (None draws no bar)."""

    name: str
    colour: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class _Frame:
    """The plot rectangle inside the SVG and the data ranges it maps."""

    left: float
    top: float
    right: float
    bottom: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    def x(self, value: float) -> float:
        """Data x -> SVG x."""
        lo, hi = self.x_range
        return self.left + (value - lo) / (hi - lo) * (self.right - self.left)

    def y(self, value: float) -> float:
        """Data y -> SVG y (up is up)."""
        lo, hi = self.y_range
        return self.bottom - (value - lo) / (hi - lo) * (self.bottom - self.top)


def colour(i: int) -> str:
    """The i-th palette colour, cycling."""
    return PALETTE[i % len(PALETTE)]


def nice_ticks(lo: float, hi: float, target: int = 5, min_step: float = 0.0) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k apart) covering [lo, hi] in about `target` steps."""
    if hi <= lo:  # one value: widen around it so it sits inside the axis
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), min_step)
    start = math.floor(lo / step + 1e-9) * step
    count = math.ceil((hi - start) / step - 1e-9)
    return [round(start + i * step, 10) for i in range(count + 1)]


def tick_labels(ticks: Sequence[float], percent: bool = False) -> list[str]:
    """Tick values with the fewest decimals that still tell them apart (as percentages if asked)."""
    values = [t * 100 for t in ticks] if percent else list(ticks)
    step = abs(values[1] - values[0]) if len(values) > 1 else 1.0
    decimals = next((d for d in range(7) if abs(round(step, d) - step) < step * 1e-6), 6)
    return [f"{v:.{decimals}f}{'%' if percent else ''}".replace("-", "−") for v in values]


def line_chart(lines: Sequence[Line], title: str, x_label: str, y_label: str) -> str:
    """Lines with a marker per point (a lone point is a marker only), a legend, ticks and axis titles.

    x is a count (epochs), so its ticks are whole numbers.
    """
    xs = [x for line in lines for x, _ in line.points]
    ys = [y for line in lines for _, y in line.points]
    x_lo, x_hi = min(xs), max(xs)
    x_ticks = nice_ticks(x_lo, x_hi if x_hi > x_lo else x_lo + 1, min_step=1.0)
    y_ticks = nice_ticks(min(ys), max(ys))
    frame = _frame(x_ticks, y_ticks, label_lines=1)
    parts = _axes(frame, title, x_label, y_label, y_ticks, tick_labels(y_ticks))
    for x, label in zip(x_ticks, tick_labels(x_ticks), strict=True):
        parts.append(_x_tick(frame, frame.x(x), [label]))
    for line in lines:
        pts = [(frame.x(x), frame.y(y)) for x, y in line.points]
        group = [f'<g class="series" data-name="{escape(line.name)}">']
        if len(pts) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            group.append(
                f'<polyline class="mark line" points="{coords}" fill="none" stroke="{line.colour}" '
                'stroke-width="2" stroke-linejoin="round"/>'
            )
        for (px, py), (x, y) in zip(pts, line.points, strict=True):
            group.append(
                f'<circle class="mark point" cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{line.colour}" '
                f'stroke="#fff" stroke-width="1"><title>{escape(line.name)}: {x:g}, {y:.4f}</title></circle>'
            )
        parts.append("".join(group) + "</g>")
    parts += _legend(frame, [(line.name, line.colour) for line in lines], swatch="line")
    return _svg(parts)


def bar_chart(
    groups: Sequence[Sequence[str]],
    bars: Sequence[Bars],
    title: str,
    y_label: str,
    x_label: str = "",
    percent: bool = False,
) -> str:
    """Bars side by side within each group (labelled by its lines of text), y from zero, a legend."""
    values = [v for series in bars for v in series.values if v is not None]
    y_ticks = nice_ticks(0.0, max(values, default=0.0) or 1.0)
    n_lines = max((len(g) for g in groups), default=1)
    frame = _frame([0.0, float(len(groups))], y_ticks, label_lines=n_lines)
    parts = _axes(frame, title, x_label, y_label, y_ticks, tick_labels(y_ticks, percent))
    band = frame.x(1.0) - frame.x(0.0)
    width = band * 0.8 / max(len(bars), 1)
    shown: Callable[[float], str] = (lambda v: f"{v:.1%}") if percent else (lambda v: f"{v:.4f}")
    for g, label in enumerate(groups):
        parts.append(_x_tick(frame, frame.x(g + 0.5), label))
        for s, series in enumerate(bars):
            value = series.values[g]
            if value is None:
                continue
            x = frame.x(float(g)) + band * 0.1 + s * width
            top = frame.y(value)
            parts.append(
                f'<rect class="mark bar" x="{x:.1f}" y="{top:.1f}" width="{max(width - 2, 1):.1f}" '
                f'height="{frame.bottom - top:.1f}" fill="{series.colour}" rx="1.5">'
                f"<title>{escape(series.name)}, {escape(' '.join(label))}: {shown(value)}</title></rect>"
            )
    parts += _legend(frame, [(series.name, series.colour) for series in bars], swatch="box")
    return _svg(parts)


def _frame(x_ticks: Sequence[float], y_ticks: Sequence[float], label_lines: int) -> _Frame:
    """The plot rectangle, leaving room for the title, the y labels, x labels of `label_lines` lines and
    the legend."""
    bottom = HEIGHT - 34 - LINE_HEIGHT * label_lines
    return _Frame(
        left=70,
        top=44,
        right=WIDTH - LEGEND_WIDTH,
        bottom=bottom,
        x_range=(x_ticks[0], x_ticks[-1]),
        y_range=(y_ticks[0], y_ticks[-1]),
    )


def _axes(
    frame: _Frame, title: str, x_label: str, y_label: str, y_ticks: Sequence[float], y_labels: Sequence[str]
) -> list[str]:
    """Title, horizontal grid lines with y tick labels, the two axis lines and the axis titles."""
    heading = f'<text x="{frame.left}" y="22" font-size="14" font-weight="600" fill="#1f2933">'
    parts = [f"{heading}{escape(title)}</text>"]
    for value, label in zip(y_ticks, y_labels, strict=True):
        y = frame.y(value)
        parts.append(
            f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.right}" y2="{y:.1f}" stroke="#e4e7eb"/>'
            f'<text x="{frame.left - 8}" y="{y + 4:.1f}" font-size="11" fill="#52606d" '
            f'text-anchor="end">{label}</text>'
        )
    parts.append(
        f'<path d="M{frame.left},{frame.top} V{frame.bottom} H{frame.right}" fill="none" stroke="#9aa5b1"/>'
    )
    middle_y = (frame.top + frame.bottom) / 2
    parts.append(
        f'<text transform="translate(18,{middle_y:.1f}) rotate(-90)" font-size="12" fill="#3e4c59" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    if x_label:
        parts.append(
            f'<text x="{(frame.left + frame.right) / 2:.1f}" y="{HEIGHT - 10}" font-size="12" '
            f'fill="#3e4c59" text-anchor="middle">{escape(x_label)}</text>'
        )
    return parts


def _x_tick(frame: _Frame, x: float, lines: Sequence[str]) -> str:
    """A tick mark under the x axis at SVG x, with its label of one or more lines."""
    spans = "".join(
        f'<tspan x="{x:.1f}" dy="{LINE_HEIGHT if i else 0}">{escape(text)}</tspan>'
        for i, text in enumerate(lines)
    )
    return (
        f'<line x1="{x:.1f}" y1="{frame.bottom}" x2="{x:.1f}" y2="{frame.bottom + 5}" stroke="#9aa5b1"/>'
        f'<text y="{frame.bottom + 18}" font-size="11" fill="#52606d" text-anchor="middle">{spans}</text>'
    )


def _legend(frame: _Frame, entries: Sequence[tuple[str, str]], swatch: str) -> list[str]:
    """Legend entries right of the plot: a line with a dot for line charts, a box for bar charts."""
    parts = []
    x = frame.right + 24
    for i, (name, colour) in enumerate(entries):
        y = frame.top + 6 + i * 20
        if swatch == "line":
            parts.append(
                f'<line x1="{x}" y1="{y}" x2="{x + 18}" y2="{y}" stroke="{colour}" stroke-width="2"/>'
                f'<circle cx="{x + 9}" cy="{y}" r="3" fill="{colour}"/>'
            )
        else:
            parts.append(f'<rect x="{x + 2}" y="{y - 6}" width="12" height="12" rx="2" fill="{colour}"/>')
        parts.append(f'<text x="{x + 26}" y="{y + 4}" font-size="12" fill="#1f2933">{escape(name)}</text>')
    return parts


def _svg(parts: Sequence[str]) -> str:
    """Wrap chart parts in a standalone SVG document with a white background."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT}" role="img">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>' + "\n".join(parts) + "</svg>"
    )
