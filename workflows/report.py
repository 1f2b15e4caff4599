"""One-page offline HTML reports: tables and bar charts without scripts or network.

The Excel and CSV writers, the atomic writes and the cell sanitiser every output uses
live in :mod:`gis.outputs`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Iterable, Sequence

import pandas as pd

from gis.outputs import cell_value

__all__ = ["html_table", "html_page", "svg_bars", "Bar"]


# ------------------------------------------------------------------------------ HTML


def html_table(df: pd.DataFrame, decimals: dict[str, int] | None = None, classes: str = "",
               plain: Iterable[str] = ()) -> str:
    """A plain HTML table; numbers right-aligned with the given decimals per column.

    Columns in ``plain`` (years, codes) are shown without thousands separators.
    """
    decimals = decimals or {}
    plain = set(plain)
    out = [f'<table class="{html.escape(classes)}"><thead><tr>']
    out += [f"<th>{html.escape(str(c))}</th>" for c in df.columns]
    out.append("</tr></thead><tbody>")
    for rec in df.itertuples(index=False):
        out.append("<tr>")
        for c, raw in zip(df.columns, rec, strict=True):
            v = cell_value(raw)
            if isinstance(v, bool) or v is None or not isinstance(v, (int, float)):
                out.append(f"<td>{html.escape('' if v is None else str(v))}</td>")
            else:
                d = decimals.get(c, 0 if isinstance(v, int) else 2)
                sep = "" if c in plain else ","
                out.append(f'<td class="num">{v:{sep}.{d}f}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


@dataclass
class Bar:
    """One horizontal bar: stacked ``segments`` [(value, colour, label)], a ``target`` line
    and an optional ``marker`` (e.g. where the schedule says the city should be)."""

    label: str
    segments: Sequence[tuple[float, str, str]]
    target: float
    marker: float | None = None
    text: str = ""


def svg_bars(bars: Sequence[Bar], width: int = 900, marker_label: str = "", target_label: str = "") -> str:
    """Inline SVG of horizontal stacked bars, each scaled to its own target (100 %).

    No scripts and no network: the chart is part of the page.
    """
    def est(text: str) -> int:  # rough text width in px at 12 px: CJK ≈ 12, latin ≈ 7
        return sum(12 if ord(ch) > 0x2E80 else 7 for ch in text)

    label_w = min(360, max(120, max((est(b.label) for b in bars), default=0) + 16))
    text_w = min(300, max(150, max((est(b.text) for b in bars), default=0) + 16))
    row_h = 30
    plot_w = max(300, width - label_w - text_w)
    width = label_w + plot_w + text_w
    h = row_h * len(bars) + 36
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" '
             f'viewBox="0 0 {width} {h}" style="max-width:100%;height:auto" role="img" '
             'font-family="sans-serif" font-size="12">']
    scale_max = 1.25
    for i, b in enumerate(bars):
        y = 8 + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{html.escape(b.label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{plot_w}" height="16" fill="#f2f2f2"/>')
        x = label_w
        for value, colour, name in b.segments:
            frac = 0.0 if not b.target else max(value, 0) / b.target
            w = min(frac, scale_max - (x - label_w) / plot_w * scale_max) / scale_max * plot_w
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="16" fill="{colour}">'
                             f"<title>{html.escape(name)}: {value:,.2f}</title></rect>")
                x += w
        tx = label_w + plot_w / scale_max
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y}" y2="{y + 22}" stroke="#000" stroke-width="2">'
                     f"<title>{html.escape(target_label)}</title></line>")
        if b.marker is not None and b.target:
            mx = label_w + min(b.marker / b.target, scale_max) / scale_max * plot_w
            parts.append(f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{y}" y2="{y + 22}" stroke="#c00000" '
                         f'stroke-width="2" stroke-dasharray="3,2"><title>{html.escape(marker_label)}</title></line>')
        parts.append(f'<text x="{label_w + plot_w + 8}" y="{y + 15}">{html.escape(b.text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #ccc}
.sub{color:#555;margin-bottom:12px}.warn{background:#fff2cc;border:1px solid #d6b656;padding:8px 12px;margin:12px 0;font-weight:bold}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{border:1px solid #ccc;padding:3px 6px}
th{background:#ddebf7;text-align:left}td.num{white-space:nowrap;text-align:right;font-variant-numeric:tabular-nums}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
footer{margin-top:24px;color:#666;font-size:12px;border-top:1px solid #ccc;padding-top:6px}
"""


def html_page(title: str, body: str, subtitle: str = "", warning: str = "", footer: str = "", lang: str = "zh") -> str:
    """A self-contained HTML page (inline CSS, no scripts, no network)."""
    warn = f'<div class="warn">{html.escape(warning)}</div>' if warning else ""
    foot = html.escape(footer) + (f"<br><strong>{html.escape(warning)}</strong>" if warning else "")
    return (
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><div class=\"sub\">{html.escape(subtitle)}</div>{warn}{body}"
        f"<footer>{foot}</footer></body></html>"
    )
