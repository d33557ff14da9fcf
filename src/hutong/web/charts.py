"""The dashboard's charts as inline SVG, drawn in Python: the page loads no script library and
the CSP (``script-src 'self'``) has nothing to allow.

:mod:`hutong.quality.charts` scales bars to the largest value; a score needs a fixed 0–100
scale with its bands marked, and coverage needs a line over dates, so they are drawn here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from markupsafe import Markup

SERIES_COLOURS = ("#1f6feb", "#1a7f37")  # the app's accent and ok colours (app.css)


def _open(label: str, width: int, height: int) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(label)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>"
    )


def coverage_line(
    days: Sequence[date],
    series: Sequence[tuple[str, Sequence[float]]],
    label: str,
    width: int = 720,
    height: int = 240,
) -> Markup:
    """Shares (0..1) at the end of each day as step lines on a date axis, one per series.

    Steps, not slopes: coverage only changes when someone decides, so between two days with
    changes it stays at the earlier day's value.
    """
    if not days:
        return Markup("")
    left, right, top, bottom = 44, 40, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    first, last = days[0].toordinal(), days[-1].toordinal()
    span = max(last - first, 1)

    def x(day: date) -> float:
        if last == first:  # one day: draw it across the plot
            return left + plot_w / 2
        return left + plot_w * (day.toordinal() - first) / span

    def y(share: float) -> float:
        return top + plot_h * (1 - min(max(share, 0.0), 1.0))

    parts = [_open(label, width, height)]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}"/><text x="{left - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick:.0%}</text>'
        )
    for day in _ticks(days):
        parts.append(
            f'<text x="{x(day):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{day.isoformat()}</text>"
        )
    for (name, values), colour in zip(series, SERIES_COLOURS, strict=False):
        points: list[str] = []
        for i, (day, share) in enumerate(zip(days, values, strict=True)):
            if i:  # hold the previous value until this day
                points.append(f"{x(day):.1f},{y(values[i - 1]):.1f}")
            points.append(f"{x(day):.1f},{y(share):.1f}")
        if len(days) == 1:
            points = [f"{left},{y(values[0]):.1f}", f"{width - right},{y(values[0]):.1f}"]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{" ".join(points)}"><title>{escape(name)}</title></polyline>'
        )
        for day, share in zip(days, values, strict=True):
            parts.append(
                f'<circle cx="{x(day):.1f}" cy="{y(share):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)} {day.isoformat()}: {share:.1%}</title></circle>"
            )
    for i, (name, _) in enumerate(series[: len(SERIES_COLOURS)]):
        lx = left + i * 260
        parts.append(
            f'<rect x="{lx}" y="{height - 14}" width="12" height="4" '
            f'fill="{SERIES_COLOURS[i]}"/><text x="{lx + 16}" y="{height - 9}">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _ticks(days: Sequence[date], most: int = 6) -> list[date]:
    """Up to ``most`` day labels, first and last included, evenly picked from the days shown."""
    if len(days) <= most:
        return list(days)
    step = (len(days) - 1) / (most - 1)
    return [days[round(i * step)] for i in range(most)]


def score_bars(
    items: Sequence[tuple[str, float]],
    label: str,
    fail: float,
    excellent: float,
    width: int = 720,
) -> Markup:
    """Horizontal bars of mean scores on a fixed 0–100 scale, with the fail and excellent lines.

    A bar is coloured by its band (below ``fail``, below ``excellent``, excellent) so a weak
    department stands out without reading the numbers.
    """
    if not items:
        return Markup("")
    row, left, right, top = 22, 220, 48, 18
    plot = width - left - right
    height = top + row * len(items) + 6

    def x(score: float) -> float:
        return left + plot * min(max(score, 0.0), 100.0) / 100

    parts = [_open(label, width, height)]
    for mark, name in ((0, "0"), (fail, f"{fail:g}"), (excellent, f"{excellent:g}"), (100, "100")):
        parts.append(
            f'<line class="grid" x1="{x(mark):.1f}" x2="{x(mark):.1f}" y1="{top - 4}" '
            f'y2="{height - 4}"/><text x="{x(mark):.1f}" y="{top - 6}" '
            f'text-anchor="middle">{name}</text>'
        )
    for i, (name, score) in enumerate(items):
        band = "bad" if score < fail else "fair" if score < excellent else "good"
        y = top + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(name[:30])}</text>'
            f'<rect class="{band}" x="{left}" y="{y + 4}" width="{x(score) - left:.1f}" '
            f'height="{row - 8}"><title>{escape(name)}: {score:.2f}</title></rect>'
            f'<text x="{x(score) + 4:.1f}" y="{y + 15}">{score:.1f}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
