"""Inline SVG charts for the HTML report: no JavaScript, no CDN, nothing to download.

Each function returns one ``<svg>`` element as a string; every text inside goes through
:func:`forecast.report.fmt.esc`. Charts carry ``class="chart <kind>"`` so tests can find them.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from forecast.report.fmt import esc, fmt_num, fmt_pct

BLUE = "#1f5fa8"
GREEN = "#2e8b57"
GREY = "#333333"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


class _Frame:
    """A plot area with linear x and y scales inside a ``width`` x ``height`` SVG."""

    def __init__(self, width: int, height: int, x0: float, x1: float, y0: float, y1: float,
                 left: int = 56, right: int = 12, top: int = 28, bottom: int = 34) -> None:
        self.w, self.h = width, height
        self.l, self.r, self.t, self.b = left, right, top, bottom
        self.x0, self.x1 = x0, (x1 if x1 > x0 else x0 + 1)
        self.y0, self.y1 = y0, (y1 if y1 > y0 else y0 + 1)

    def x(self, v: float) -> float:
        return self.l + (v - self.x0) / (self.x1 - self.x0) * (self.w - self.l - self.r)

    def y(self, v: float) -> float:
        return self.h - self.b - (v - self.y0) / (self.y1 - self.y0) * (self.h - self.t - self.b)

    def points(self, xs: Sequence[float], ys: Sequence[float]) -> str:
        return " ".join(f"{self.x(a):.1f},{self.y(b):.1f}" for a, b in zip(xs, ys))

    def y_axis(self, lang: str, decimals: int = 0) -> str:
        out = []
        for v in _ticks(self.y0, self.y1):
            yy = self.y(v)
            out.append(f'<line x1="{self.l}" x2="{self.w - self.r}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>'
                       f'<text x="{self.l - 4}" y="{yy + 4:.1f}" text-anchor="end">{fmt_num(v, lang, decimals)}</text>')
        return "".join(out)


def _open(width: int, height: int, kind: str, title: str) -> str:
    return (f'<svg class="chart {kind}" role="img" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" font-family="sans-serif" font-size="11">'
            f'<title>{esc(title)}</title><text x="8" y="16" font-size="13" font-weight="bold">{esc(title)}</text>')


def fan_chart(history: Sequence[float], hist_labels: Sequence[str], quantiles: dict[str, Sequence[float]],
              fc_labels: Sequence[str], supply: Sequence[float], title: str, legend: dict[str, str],
              lang: str = "fr", width: int = 640, height: int = 260) -> str:
    """History line, forecast median with 80 % and 95 % bands, and supply bars over the forecast months.

    ``quantiles`` holds ``q0.025, q0.1, q0.5, q0.9, q0.975`` arrays over the forecast months;
    ``supply`` has one value per forecast month; labels are one per month, drawn when not empty.
    """
    nh, nf = len(history), len(fc_labels)
    xs_h = list(range(nh))
    xs_f = list(range(nh, nh + nf))
    top = max([*history, *quantiles["q0.975"], *supply, 1.0])
    fr = _Frame(width, height, 0, max(nh + nf - 1, 1), 0, top * 1.05, top=44)
    parts = [_open(width, height, "fan", title), fr.y_axis(lang)]
    labels = [*hist_labels, *fc_labels]
    for i, lab in enumerate(labels):
        if lab:
            parts.append(f'<text x="{fr.x(i):.1f}" y="{height - 14}" text-anchor="middle">{esc(lab)}</text>')
    bar_w = max((fr.x(1) - fr.x(0)) * 0.6, 1.0)
    for xv, s in zip(xs_f, supply):
        if s > 0:
            parts.append(f'<rect class="supply" x="{fr.x(xv) - bar_w / 2:.1f}" y="{fr.y(s):.1f}" width="{bar_w:.1f}" '
                         f'height="{fr.y(0) - fr.y(s):.1f}" fill="{GREEN}" opacity="0.75"/>')
    for lo, hi, op, cls in (("q0.025", "q0.975", 0.18, "band95"), ("q0.1", "q0.9", 0.32, "band80")):
        poly = fr.points(xs_f, quantiles[hi]) + " " + fr.points(xs_f[::-1], list(quantiles[lo])[::-1])
        parts.append(f'<polygon class="{cls}" points="{poly}" fill="{BLUE}" opacity="{op}"/>')
    if nh:
        parts.append(f'<polyline class="history" points="{fr.points(xs_h, history)}" fill="none" stroke="{GREY}" stroke-width="1.3"/>')
    parts.append(f'<polyline class="median" points="{fr.points(xs_f, quantiles["q0.5"])}" fill="none" stroke="{BLUE}" stroke-width="2"/>')
    parts.append(_legend(width - 12, [(GREY, legend["observed"]), (BLUE, legend["forecast"]),
                                      (GREEN, legend["supply"])]))
    parts.append("</svg>")
    return "".join(parts)


def _legend(right: float, items: list[tuple[str, str]], y: int = 24) -> str:
    out, x = [], right
    for color, text in reversed(items):
        x -= 8 + 6.2 * len(text)
        out.append(f'<rect class="legend" x="{x:.0f}" y="{y}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{x + 13:.0f}" y="{y + 9}">{esc(text)}</text>')
        x -= 14
    return "".join(out)


def _heat_color(p: float) -> str:
    """White (0) to deep red (1)."""
    p = min(max(p, 0.0), 1.0)
    r, g, b = 255, int(255 - 200 * p), int(255 - 210 * p)
    return f"rgb({r},{g},{b})"


def heatmap(rows: Sequence[str], cols: Sequence[str], values: np.ndarray, title: str, lang: str = "fr",
            col_titles: Sequence[str] | None = None, cell: int = 46, left: int = 170) -> str:
    """Cells coloured by probability (NaN = no occupation there, drawn grey), one row per zone."""
    width = left + cell * len(cols) + 12
    height = 60 + cell * len(rows)
    parts = [_open(width, height, "heatmap", title)]
    for j, c in enumerate(cols):
        tip = col_titles[j] if col_titles else c
        parts.append(f'<text x="{left + cell * j + cell / 2:.0f}" y="48" text-anchor="middle"><title>{esc(tip)}</title>{esc(c)}</text>')
    for i, r in enumerate(rows):
        y = 56 + cell * i
        parts.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4:.0f}" text-anchor="end">{esc(r)}</text>')
        for j in range(len(cols)):
            v = float(values[i, j])
            x = left + cell * j
            if math.isnan(v):
                parts.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="#eee"/>')
                continue
            tip = f"{r} × {col_titles[j] if col_titles else cols[j]} : {fmt_pct(v, lang)}"
            ink = "#fff" if v > 0.6 else "#000"
            parts.append(f'<g class="cell"><title>{esc(tip)}</title><rect x="{x}" y="{y}" width="{cell - 2}" '
                         f'height="{cell - 2}" fill="{_heat_color(v)}"/><text x="{x + cell / 2 - 1:.0f}" '
                         f'y="{y + cell / 2 + 3:.0f}" text-anchor="middle" fill="{ink}">{fmt_pct(v, lang)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(x: Sequence[float], series: dict[str, Sequence[float]], title: str, x_label: str, lang: str = "fr",
               width: int = 560, height: int = 260) -> str:
    """One or more lines over a numeric x (the budget curve); dots on each point."""
    colors = [BLUE, GREEN, "#c0392b", "#8e44ad"]
    ys = [v for s in series.values() for v in s if math.isfinite(v)]
    fr = _Frame(width, height, float(min(x)), float(max(x)), 0, max(ys + [1.0]) * 1.05, top=44, bottom=40)
    parts = [_open(width, height, "line", title), fr.y_axis(lang)]
    for v in _ticks(fr.x0, fr.x1, 4):
        parts.append(f'<text x="{fr.x(v):.1f}" y="{height - 22}" text-anchor="middle">{fmt_num(v, lang)}</text>')
    parts.append(f'<text x="{width / 2:.0f}" y="{height - 6}" text-anchor="middle">{esc(x_label)}</text>')
    for k, (name, ys_) in enumerate(series.items()):
        color = colors[k % len(colors)]
        parts.append(f'<polyline points="{fr.points(x, ys_)}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts.extend(f'<circle cx="{fr.x(a):.1f}" cy="{fr.y(b):.1f}" r="2.5" fill="{color}"/>'
                     for a, b in zip(x, ys_) if math.isfinite(b))
    parts.append(_legend(width - 12, [(colors[k % len(colors)], n) for k, n in enumerate(series)]))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, lang: str = "fr", decimals: int = 3,
              highlight: str | None = None, width: int = 480) -> str:
    """Horizontal bars, one per label (the model comparison); ``highlight`` drawn in blue."""
    row, left = 24, 150
    height = 34 + row * len(labels)
    top = max([v for v in values if math.isfinite(v)] + [1e-9])
    parts = [_open(width, height, "bars", title)]
    for i, (lab, v) in enumerate(zip(labels, values)):
        y = 26 + row * i
        w = 0 if not math.isfinite(v) else (width - left - 70) * v / top
        color = BLUE if lab == highlight else "#8aa9c9"
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{esc(lab)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{color}"/>'
                     f'<text x="{left + w + 4:.1f}" y="{y + 14}">{fmt_num(v, lang, decimals)}</text>')
    parts.append("</svg>")
    return "".join(parts)
