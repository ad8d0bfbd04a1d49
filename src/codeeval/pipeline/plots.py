"""Inline SVG charts for the self-contained report (no plotting library, no external files).

Each function returns an ``<svg>`` string: grouped bars with confidence whiskers, strip plots of
per-item values, a forest plot of paired differences, and the gate's intervals against its margins.
Values are drawn as given; ``None``
values are drawn as "n/a".
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d"]
Bar = tuple[float | None, float | None, float | None]  # value, ci low, ci high


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _legend(names: list[str], x: float, y: float) -> str:
    parts = []
    for i, name in enumerate(names):
        cx = x + i * 130
        parts.append(f'<rect x="{cx}" y="{y - 9}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{cx + 14}" y="{y}" font-size="11">{escape(name)}</text>')
    return "".join(parts)


def grouped_bars(title: str, groups: list[str], series: dict[str, list[Bar]], *, ymax: float | None = None,
                 ylabel: str = "") -> str:
    """Bars per group (x axis) and series (colour), with CI whiskers where given."""
    names = list(series)
    values = [v for bars in series.values() for b in bars for v in b if v is not None]
    top = ymax if ymax is not None else (max(values) * 1.1 if values and max(values) > 0 else 1.0)
    longest = max((len(g) for g in groups), default=0)
    group_w = max(len(names) * 22 + 26, min(longest, 30) * 6 + 12)  # room for a label of up to 30 characters
    width = max(360, 70 + len(groups) * group_w, 70 + int(len(title) * 7.8))
    height, left, bottom, plot_h = 270, 50, 205, 160
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'font-family="sans-serif"><title>{escape(title)}</title>',
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
           f'<text x="12" y="{bottom - plot_h / 2}" font-size="10" transform="rotate(-90 12 {bottom - plot_h / 2})">'
           f'{escape(ylabel)}</text>']
    for frac in (0, 0.5, 1):
        y = bottom - frac * plot_h
        out.append(f'<line x1="{left}" x2="{width - 10}" y1="{y}" y2="{y}" stroke="#ddd"/>'
                   f'<text x="{left - 4}" y="{y + 3}" font-size="9" text-anchor="end">{_fmt(top * frac)}</text>')
    chars = max(6, group_w // 6)
    for g, group in enumerate(groups):
        gx = left + 10 + g * group_w
        for s, name in enumerate(names):
            value, lo, hi = series[name][g]
            x = gx + s * 22
            color = PALETTE[s % len(PALETTE)]
            if value is None:
                out.append(f'<text x="{x + 9}" y="{bottom - 3}" font-size="8" text-anchor="middle">n/a</text>')
                continue
            h = min(value, top) / top * plot_h
            out.append(f'<rect x="{x}" y="{bottom - h}" width="18" height="{h}" fill="{color}">'
                       f'<title>{escape(name)} {escape(group)}: {_fmt(value)}</title></rect>')
            if lo is not None and hi is not None:
                y1, y2 = bottom - min(lo, top) / top * plot_h, bottom - min(hi, top) / top * plot_h
                out.append(f'<line x1="{x + 9}" x2="{x + 9}" y1="{y1}" y2="{y2}" stroke="#222"/>'
                           f'<line x1="{x + 5}" x2="{x + 13}" y1="{y2}" y2="{y2}" stroke="#222"/>'
                           f'<line x1="{x + 5}" x2="{x + 13}" y1="{y1}" y2="{y1}" stroke="#222"/>')
        label = group if len(group) <= chars else group[:chars - 1] + "…"
        out.append(f'<text x="{gx + len(names) * 11}" y="{bottom + 14}" font-size="10" text-anchor="middle">'
                   f'{escape(label)}<title>{escape(group)}</title></text>')
    out.append(_legend(names, left, height - 12))
    out.append("</svg>")
    return "".join(out)


def strip_plot(title: str, rows: list[tuple[str, dict[str, list[float]]]], *, lo: float = 0.0, hi: float = 1.0) -> str:
    """One row per label; per-item values per series as dots, the mean as a tick."""
    names = sorted({n for _, by in rows for n in by})
    row_h, left, width = 16 * max(1, len(names)) + 10, 170, 560
    height = 40 + len(rows) * row_h + 24
    span = (hi - lo) or 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'font-family="sans-serif"><title>{escape(title)}</title>',
           f'<text x="10" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for frac in (0, 0.5, 1):
        x = left + frac * (width - left - 20)
        out.append(f'<line x1="{x}" x2="{x}" y1="26" y2="{height - 24}" stroke="#ddd"/>'
                   f'<text x="{x}" y="{height - 12}" font-size="9" text-anchor="middle">'
                   f'{_fmt(lo + frac * span)}</text>')
    for r, (label, by) in enumerate(rows):
        y0 = 34 + r * row_h
        out.append(f'<text x="{left - 6}" y="{y0 + row_h / 2}" font-size="10" text-anchor="end">{escape(label)}</text>')
        for s, name in enumerate(names):
            y = y0 + 8 + s * 16
            color = PALETTE[s % len(PALETTE)]
            vals = by.get(name, [])
            for v in vals:
                x = left + (min(max(v, lo), hi) - lo) / span * (width - left - 20)
                out.append(f'<circle cx="{x:.1f}" cy="{y}" r="3" fill="{color}" fill-opacity="0.55"/>')
            if vals:
                m = sum(vals) / len(vals)
                x = left + (min(max(m, lo), hi) - lo) / span * (width - left - 20)
                out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 6}" y2="{y + 6}" stroke="#000" stroke-width="2">'
                           f'<title>{escape(name)} mean {_fmt(m)}</title></line>')
    out.append(_legend(names, 10, height - 2))
    out.append("</svg>")
    return "".join(out)


def _difference_axis(title: str, width: int, height: int, left: int, m: float, *, top: int, bottom: int,
                     labels_y: int, zero_label: bool = False) -> tuple[list[str], Callable[[float], float]]:
    """The opening of a plot of differences on [-m, m]: the svg element, its title, the zero line and the
    axis labels; and the x position of a value."""
    mid = left + (width - left - 20) / 2

    def xpos(v: float) -> float:
        return mid + v / m * (width - left - 20) / 2

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'font-family="sans-serif"><title>{escape(title)}</title>',
           f'<text x="10" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
           f'<line x1="{mid}" x2="{mid}" y1="{top}" y2="{height - bottom}" stroke="#999"/>',
           f'<text x="{left}" y="{labels_y}" font-size="9">{_fmt(-m)}</text>']
    if zero_label:
        out.append(f'<text x="{mid}" y="{labels_y}" font-size="9" text-anchor="middle">0</text>')
    out.append(f'<text x="{width - 20}" y="{labels_y}" font-size="9" text-anchor="end">{_fmt(m)}</text>')
    return out, xpos


def forest_plot(title: str, rows: list[tuple[str, float, float | None, float | None, bool]]) -> str:
    """Paired differences (B - A) with CIs; significant rows are drawn solid, others hollow."""
    bounds = [abs(v) for _, d, lo, hi, _ in rows for v in (d, lo, hi) if v is not None] or [1.0]
    m = max(bounds) * 1.1 or 1.0
    left, width, row_h = 230, 620, 18
    height = 40 + len(rows) * row_h + 20
    out, xpos = _difference_axis(title, width, height, left, m, top=26, bottom=20, labels_y=height - 6)
    for r, (label, diff, lo, hi, sig) in enumerate(rows):
        y = 36 + r * row_h
        color = "#e45756" if sig and diff < 0 else "#54a24b" if sig else "#4c78a8"
        out.append(f'<text x="{left - 6}" y="{y + 4}" font-size="10" text-anchor="end">{escape(label)}</text>')
        if lo is not None and hi is not None:
            out.append(f'<line x1="{xpos(lo):.1f}" x2="{xpos(hi):.1f}" y1="{y}" y2="{y}" stroke="{color}"/>')
        fill = color if sig else "white"
        out.append(f'<circle cx="{xpos(diff):.1f}" cy="{y}" r="4" fill="{fill}" stroke="{color}">'
                   f'<title>{escape(label)}: {_fmt(diff)}</title></circle>')
    out.append("</svg>")
    return "".join(out)


GATE_COLOURS = {"regression": "#e45756", "improved": "#54a24b", "no regression": "#4c78a8", "inconclusive": "#d9a400",
                "not gating": "#aaaaaa"}


def gate_plot(title: str, rows: list[tuple[str, float | None, float | None, float | None, float, str]]) -> str:
    """The gate per metric: the point difference (dot), its one-sided interval (bar, when there is one) and
    the accepted drop ``-margin`` (dashed tick), coloured by the verdict; rows are
    (label, diff, low, high, margin, verdict)."""
    values = [abs(v) for _, d, lo, hi, m, _ in rows for v in (d, lo, hi, m) if v is not None] or [1.0]
    m = max(max(values) * 1.1, 0.05)
    left, width, row_h = 260, max(660, 20 + int(len(title) * 7.8)), 20
    height = 44 + len(rows) * row_h + 34
    out, xpos = _difference_axis(title, width, height, left, m, top=28, bottom=30, labels_y=height - 18,
                                 zero_label=True)
    for r, (label, diff, lo, hi, margin, verdict) in enumerate(rows):
        y = 40 + r * row_h
        color = GATE_COLOURS.get(verdict, "#888")
        out.append(f'<text x="{left - 6}" y="{y + 4}" font-size="10" text-anchor="end">{escape(label)}</text>'
                   f'<line x1="{xpos(-margin):.1f}" x2="{xpos(-margin):.1f}" y1="{y - 7}" y2="{y + 7}" '
                   f'stroke="#b00" stroke-dasharray="2,2"/>')
        if lo is not None and hi is not None:
            out.append(f'<line x1="{xpos(max(lo, -m)):.1f}" x2="{xpos(min(hi, m)):.1f}" y1="{y}" y2="{y}" '
                       f'stroke="{color}" stroke-width="3"/>')
        if diff is not None:
            out.append(f'<circle cx="{xpos(diff):.1f}" cy="{y}" r="4" fill="{color}">'
                       f'<title>{escape(label)}: {_fmt(diff)} ({escape(verdict)})</title></circle>')
    keys = list(GATE_COLOURS.items())
    for i, (verdict, color) in enumerate(keys):
        x = 10 + i * 110
        out.append(f'<rect x="{x}" y="{height - 11}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{x + 14}" y="{height - 2}" font-size="11">{escape(verdict)}</text>')
    out.append("</svg>")
    return "".join(out)
