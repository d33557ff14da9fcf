"""Charts as inline SVG, drawn in Python so the quality report needs no script library and
loads nothing from the network."""

from __future__ import annotations

from html import escape

import pandas as pd
from markupsafe import Markup


def _number(value: float) -> str:
    """A bar's value as short text: 12, 3.5 (as the report's cells show numbers)."""
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


def bar_chart(items: list[tuple[str, float]], label: str, width: int = 640) -> Markup:
    """Horizontal bars, one per (label, value), largest value full width; escaped labels."""
    if not items:
        return Markup("")
    row, left, right = 20, 210, 60
    top = max(v for _, v in items) or 1
    height = row * len(items) + 4
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(label)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, (name, value) in enumerate(items):
        y = 2 + i * row
        w = (width - left - right) * value / top
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(name[:28])}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="#4a78b5">'
            f"<title>{escape(name)}: {_number(value)}</title></rect>"
            f'<text x="{left + w + 4:.1f}" y="{y + 14}">{_number(value)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram(scores: pd.Series, label: str, width: int = 640, height: int = 180) -> Markup:
    """Score distribution in ten bins of 10 points (the last bin holds 100)."""
    if scores.empty:
        return Markup("")
    bins = (scores.clip(0, 100) // 10).clip(upper=9).astype(int).value_counts()
    counts = [int(bins.get(i, 0)) for i in range(10)]
    top = max(counts) or 1
    bar = (width - 40) / 10
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(label)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, n in enumerate(counts):
        h = (height - 40) * n / top
        x = 20 + i * bar
        name = f"{i * 10}–{i * 10 + 10}"  # lower bound in, upper out (100 is in the last)
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{height - 20 - h:.1f}" width="{bar - 4:.1f}" '
            f'height="{h:.1f}" fill="#4a78b5"><title>{name}: {n}</title></rect>'
            f'<text x="{x + bar / 2:.1f}" y="{height - 24 - h:.1f}" text-anchor="middle">{n}</text>'
            f'<text x="{x + bar / 2:.1f}" y="{height - 6}" text-anchor="middle">{name}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
