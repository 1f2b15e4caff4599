"""Small SVG charts of a geostatistical fit: the semivariogram and observed vs predicted.

Pure functions that return SVG text (written by :func:`gis.outputs.write_text`). SVG,
not PNG: the project carries no plotting library (matplotlib is large for two charts; Pillow
is there only to encode map tiles), an SVG opens in any browser and in Excel/WPS (插入 → 图片), and its Chinese text
is drawn by the viewer's own fonts.

Examples
--------
>>> svg = scatter_svg(Chart("t", "x", "y"), [([0.0, 1.0], [0.0, 1.0], "#1f77b4", "pts")], diagonal=True)
>>> svg.startswith("<svg") and svg.count("<circle") == 2 and "<line" in svg
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
_Scale = Callable[[float], float]

__all__ = ["Chart", "scatter_svg", "nice_ticks"]

W, H = 640, 440
LEFT, RIGHT, TOP, BOTTOM = 72, 24, 40, 56


@dataclass(frozen=True)
class Chart:
    """Title and axis labels of a chart (already in the reader's language)."""

    title: str
    xlabel: str
    ylabel: str


def nice_ticks(lo: float, hi: float, n: int = 5) -> FloatArray:
    """About ``n`` round tick values covering ``[lo, hi]``.

    Examples
    --------
    >>> nice_ticks(0, 0.93).tolist()
    [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    """
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks: FloatArray = start + step * np.arange(int(math.ceil((hi - start) / step - 1e-9)) + 1)
    return ticks


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _axes(chart: Chart, xt: FloatArray, yt: FloatArray, sx: _Scale, sy: _Scale) -> list[str]:
    out = [f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="16">{escape(chart.title)}</text>',
           f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 14}" text-anchor="middle" font-size="13">'
           f'{escape(chart.xlabel)}</text>',
           f'<text transform="translate(18,{(TOP + H - BOTTOM) / 2}) rotate(-90)" text-anchor="middle" '
           f'font-size="13">{escape(chart.ylabel)}</text>']
    for t in xt:
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{H - BOTTOM}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{x:.1f}" y="{H - BOTTOM + 18}" text-anchor="middle" font-size="11">{_fmt(t)}</text>')
    for t in yt:
        y = sy(t)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_fmt(t)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" '
               'fill="none" stroke="#444"/>')
    return out


def _legend(items: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for i, (colour, text) in enumerate(items):
        y = TOP + 16 + 18 * i
        out.append(f'<rect x="{LEFT + 10}" y="{y - 9}" width="12" height="10" fill="{colour}"/>')
        out.append(f'<text x="{LEFT + 28}" y="{y}" font-size="12">{escape(text)}</text>')
    return out


def scatter_svg(chart: Chart, series: Sequence[tuple[Any, ...]], lines: Sequence[tuple[Any, ...]] = (),
                diagonal: bool = False, from_zero: bool = False) -> str:
    """An SVG chart of point series and line series.

    Parameters
    ----------
    chart : Chart
    series : sequence of ``(x, y, colour, legend text)``
        Drawn as dots.
    lines : sequence of ``(x, y, colour, legend text)``
        Drawn as polylines.
    diagonal : bool
        Draw the 1:1 line and use the same range on both axes (observed vs predicted).
    from_zero : bool
        Start both axes at 0 (a semivariogram).
    """
    xs = np.concatenate([np.asarray(s[0], float) for s in [*series, *lines]])
    ys = np.concatenate([np.asarray(s[1], float) for s in [*series, *lines]])
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    x0, x1 = (float(xs.min()), float(xs.max())) if len(xs) else (0.0, 1.0)
    y0, y1 = (float(ys.min()), float(ys.max())) if len(ys) else (0.0, 1.0)
    if diagonal:
        x0 = y0 = min(x0, y0)
        x1 = y1 = max(x1, y1)
    if from_zero:
        x0, y0 = min(0.0, x0), min(0.0, y0)
    xt, yt = nice_ticks(x0, x1), nice_ticks(y0, y1)
    if diagonal:
        xt = yt = xt if len(xt) >= len(yt) else yt

    def sx(v: float) -> float:
        return float(LEFT + (v - xt[0]) / (xt[-1] - xt[0]) * (W - LEFT - RIGHT))

    def sy(v: float) -> float:
        return float(H - BOTTOM - (v - yt[0]) / (yt[-1] - yt[0]) * (H - TOP - BOTTOM))

    out = _axes(chart, xt, yt, sx, sy)
    if diagonal:
        out.append(f'<line x1="{sx(xt[0]):.1f}" y1="{sy(xt[0]):.1f}" x2="{sx(xt[-1]):.1f}" y2="{sy(xt[-1]):.1f}" '
                   'stroke="#888" stroke-dasharray="5,4"/>')
    for x, y, colour, _ in lines:
        pts = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(x, y, strict=True))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for x, y, colour, _ in series:
        out += [f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="3" fill="{colour}" fill-opacity="0.7"/>'
                for a, b in zip(x, y, strict=True) if math.isfinite(a) and math.isfinite(b)]
    out += _legend([(s[2], s[3]) for s in [*series, *lines] if s[3]])
    body = "\n".join(out)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
            f'font-family="Noto Sans CJK SC, Microsoft YaHei, SimHei, sans-serif">\n{body}\n</svg>\n')
