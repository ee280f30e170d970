"""Charts as inline SVG rendered on the server: no JavaScript, no assets from the internet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 14, 36
PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#64748b")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: str


def short_number(value: float) -> str:
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    if value != int(value) and abs(value) < 10:
        return f"{value:.1f}"
    return f"{value:.0f}"


def nice_max(value: float) -> float:
    """A round upper bound for the axis (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** (len(str(int(value))) - 1)
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power:
            return step * power
    return 10.0 * power


def _frame(title: str, labels: Sequence[str], top: float) -> list[str]:
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    for i in range(5):
        y = PAD_TOP + plot_h * i / 4
        parts.append(f'<line class="grid" x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{short_number(top * (4 - i) / 4)}</text>"
        )
    step = (WIDTH - PAD_LEFT - PAD_RIGHT) / max(len(labels), 1)
    every = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % every == 0:
            x = PAD_LEFT + step * (i + 0.5)
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    return parts


def _legend(series: Sequence[Series]) -> str:
    # A class per palette colour (admin.css), not ``style="background:..."``: the console's CSP allows no inline styles.
    items = "".join(
        f'<span class="legend-item"><i class="swatch {_swatch(s.color)}"></i>{escape(s.name)}</span>' for s in series
    )
    return f'<div class="legend">{items}</div>'


def _swatch(color: str) -> str:
    return f"swatch-{PALETTE.index(color)}" if color in PALETTE else "swatch-other"


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, stacked: bool = False) -> Markup:
    """Grouped (or stacked) vertical bars, one group per label."""
    if stacked:
        top = nice_max(max((sum(s.values[i] for s in series) for i in range(len(labels))), default=0))
    else:
        top = nice_max(max((v for s in series for v in s.values), default=0))
    parts = _frame(title, labels, top)
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = (WIDTH - PAD_LEFT - PAD_RIGHT) / max(len(labels), 1)
    inner = step * 0.75
    for i, label in enumerate(labels):
        x0 = PAD_LEFT + step * i + (step - inner) / 2
        base = 0.0
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / top
            if stacked:
                x, w, y = x0, inner, PAD_TOP + plot_h - h - base
                base += h
            else:
                w = inner / max(len(series), 1)
                x, y = x0 + w * j, PAD_TOP + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w - 1, 1):.1f}" height="{h:.1f}" fill="{s.color}">'
                f"<title>{escape(s.name)} {escape(label)}: {value:,.0f}</title></rect>"
            )
    parts.append("</svg>")
    return Markup("".join(parts) + _legend(series))


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """Lines with a dot per label."""
    top = nice_max(max((v for s in series for v in s.values), default=0))
    parts = _frame(title, labels, top)
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = (WIDTH - PAD_LEFT - PAD_RIGHT) / max(len(labels), 1)
    for s in series:
        points = [
            (PAD_LEFT + step * (i + 0.5), PAD_TOP + plot_h - plot_h * max(v, 0) / top) for i, v in enumerate(s.values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="2.5" points="{path}"/>')
        for (x, y), label, v in zip(points, labels, s.values, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{s.color}">'
                f"<title>{escape(s.name)} {escape(label)}: {v:,.0f}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts) + _legend(series))
