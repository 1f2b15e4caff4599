"""Write tables for people: formatted Excel, CSV that Excel opens, one-page offline HTML.

Reusable by every workflow: hand it :class:`Sheet` objects whose DataFrames already carry
the headers a person reads (see :mod:`gis.labels`). Files are written to a temporary
name and renamed, so a failed run never leaves a half-written report.
"""

from __future__ import annotations

import html
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from gis.errors import DataFileError

__all__ = ["Sheet", "write_excel", "write_csv", "html_table", "html_page", "svg_bars", "Bar", "atomic_write",
           "staged_outputs"]


@dataclass
class Sheet:
    """One table of a report.

    ``formats`` maps a column to an Excel number format (``"0.00"``, ``"#,##0.0"`` …);
    ``notes`` are lines written under the table (e.g. the synthetic-data warning).
    """

    name: str
    df: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    notes: Sequence[str] = ()
    title: str = ""


def atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(f"cannot create the output folder {path.parent}: {exc}") from exc
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a report is for others to read
        os.replace(tmp, path)
    except PermissionError as exc:
        raise DataFileError(
            f"cannot write {path}: {exc.strerror}; close the file if it is open in Excel and run again"
        ) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@contextmanager
def staged_outputs(out_dir: str | os.PathLike, names: Iterable[str]):
    """Write several output files together: all of them, or none.

    Yields a temporary folder inside ``out_dir``; write every file of ``names`` there.
    When the block ends without an error the files are moved into ``out_dir`` (each
    move is atomic); on an error nothing in ``out_dir`` changes. The temporary folder
    is always removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with staged_outputs(d, ["a.txt"]) as tmp:
    ...     _ = (tmp / "a.txt").write_text("ok")
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt']
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(f"cannot create the output folder {out}: {exc}") from exc
    tmp = Path(tempfile.mkdtemp(prefix=".agrigis-", dir=out))
    try:
        yield tmp
        for n in names:
            try:
                os.replace(tmp / n, out / n)
            except PermissionError as exc:
                raise DataFileError(
                    f"cannot write {out / n}: {exc.strerror}; close the file if it is open and run again"
                ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _width(values: Iterable) -> int:
    w = 4
    for v in values:
        s = "" if v is None else str(v)
        w = max(w, sum(2 if ord(ch) > 0x2E80 else 1 for ch in s))
    return min(w + 2, 60)


def write_excel(path: str | os.PathLike, sheets: Sequence[Sheet], footer: str = "") -> Path:
    """Write ``sheets`` to one .xlsx: bold shaded header, frozen header row, column widths,
    number formats, notes under each table and ``footer`` in the printed page footer.

    Numbers stay numbers (never text), so Excel can sum and chart them.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    def write(tmp: Path) -> None:
        wb = Workbook()
        wb.remove(wb.active)
        head_font = Font(bold=True)
        head_fill = PatternFill("solid", fgColor="DDEBF7")
        for sh in sheets:
            ws = wb.create_sheet(_sheet_name(sh.name))
            row0 = 1
            if sh.title:
                ws.cell(row=1, column=1, value=sh.title).font = Font(bold=True, size=13)
                row0 = 2
            cols = list(sh.df.columns)
            for j, c in enumerate(cols, start=1):
                cell = ws.cell(row=row0, column=j, value=str(c))
                cell.font, cell.fill = head_font, head_fill
                cell.alignment = Alignment(wrap_text=True, vertical="center")
            for i, rec in enumerate(sh.df.itertuples(index=False), start=row0 + 1):
                for j, (c, v) in enumerate(zip(cols, rec), start=1):
                    cell = ws.cell(row=i, column=j, value=_cell(v))
                    if c in sh.formats and isinstance(cell.value, (int, float)):
                        cell.number_format = sh.formats[c]
            ws.freeze_panes = ws.cell(row=row0 + 1, column=1)
            for j, c in enumerate(cols, start=1):
                letter = ws.cell(row=row0, column=j).column_letter
                ws.column_dimensions[letter].width = _width([c, *sh.df[c].head(200).tolist()])
            r = row0 + len(sh.df) + 2
            for note in sh.notes:
                ws.cell(row=r, column=1, value=note).font = Font(italic=True, color="C00000")
                r += 1
            if footer:
                ws.oddFooter.center.text = footer.replace("&", "&&")
        wb.save(tmp)

    return atomic_write(Path(path), write)


def _sheet_name(name: str) -> str:
    bad = '[]:*?/\\'
    return "".join("_" if ch in bad else ch for ch in name)[:31]


def _cell(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            v = v.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(v, float) and math.isnan(v):
        return None
    if pd.isna(v) if not isinstance(v, (list, tuple, dict)) else False:
        return None
    return v


def write_csv(path: str | os.PathLike, df: pd.DataFrame, note: str = "") -> Path:
    """CSV in UTF-8 with a byte-order mark, so Excel on Windows shows Chinese correctly.

    ``note`` (e.g. the synthetic-data notice) is written as a last line starting with
    ``#``, so a person opening the file sees it; ``pd.read_csv(path, comment="#")``
    skips it.
    """
    def write(tmp: Path) -> None:
        df.to_csv(tmp, index=False, encoding="utf-8-sig")
        if note:
            with open(tmp, "a", encoding="utf-8") as f:
                f.write(f"# {note}\n")

    return atomic_write(Path(path), write)


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
        for c, v in zip(df.columns, rec):
            v = _cell(v)
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
