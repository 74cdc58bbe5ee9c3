"""Item volume over time by stage, as a stacked-bar SVG rendered on the server.

Only numbers and fixed stage names reach the SVG, and every text node is escaped
anyway; styling is by CSS class (the Content-Security-Policy forbids inline styles).
"""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

from aggregator.config.schema import STAGES


def months_back(now: datetime, count: int) -> list[str]:
    """The last ``count`` months as YYYY-MM, oldest first, ending with ``now``'s month."""
    year, month = now.year, now.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def volume_svg(counts: dict[tuple[str, str], int], months: list[str], *, width: int = 720,
               height: int = 220) -> Markup:
    """A stacked bar per month, one colour (CSS class s-<stage>) per stage, with axis and legend."""
    left, right, top, bottom = 36, 8, 10, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(counts.get((m, s), 0) for s in STAGES) for m in months]
    peak = max([*totals, 1])
    scale = _nice_ceiling(peak)
    slot = plot_w / max(len(months), 1)
    bar_w = max(4.0, slot * 0.62)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">',
             '<title id="chart-title">Items per month by funnel stage</title>']
    for i in range(5):  # grid lines and y labels
        value = scale * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 3:.1f}" text-anchor="end">'
                     f"{escape(_short(value))}</text>")
    for i, month in enumerate(months):
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h
        for stage in STAGES:
            n = counts.get((month, stage), 0)
            if not n:
                continue
            h = plot_h * n / scale
            y -= h
            parts.append(f'<rect class="s-{stage}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                         f'height="{h:.1f}"><title>{escape(month)} · {escape(stage)}: {n}</title></rect>')
        if len(months) <= 12 or i % 2 == 0:
            parts.append(f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" '
                         f'text-anchor="middle">{escape(_month_label(month))}</text>')
    ly, cell = height - 14, plot_w / len(STAGES)
    for n, stage in enumerate(STAGES):
        lx = left + cell * n
        parts.append(f'<rect class="s-{stage}" x="{lx:.1f}" y="{ly - 8}" width="10" height="10" rx="2"/>')
        parts.append(f'<text class="legend" x="{lx + 14:.1f}" y="{ly + 1}">{escape(stage.capitalize())}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice_ceiling(value: int) -> float:
    for step in (4, 8, 20, 40, 80, 200, 400, 800, 2000, 4000, 8000, 20000, 40000, 80000):
        if value <= step:
            return float(step)
    return float(value)


def _short(value: float) -> str:
    return f"{value / 1000:.0f}k" if value >= 10000 else f"{value:.0f}"


def _month_label(month: str) -> str:
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    year, mon = month.split("-")
    return f"{names[int(mon) - 1]} {year[2:]}"
