"""Make the README screenshots from a demo run.

    python docs/make_screenshots.py [--workspace DIR] [--size default] [--seed 0] [--reuse]

1. runs ``agrigis demo`` (through :func:`workflows.demo.run_demo`) into a workspace
   (default: a temporary folder), unless ``--reuse`` and the workspace already has outputs;
2. ``docs/progress-map.png``: the progress map HTML, screenshotted in headless Chromium
   (Playwright, Debian's ``/usr/bin/chromium``);
   ``docs/progress-map-daan.png``: the same map zoomed to the paddy pilot area in Da'an;
3. ``docs/progress-excel.png``: the first sheet of ``progress.xlsx`` read back with
   openpyxl, rendered as an HTML table that imitates a spreadsheet (column letters, row
   numbers, bold header, the sheet's number formats, the footer line) and screenshotted
   in the same browser. LibreOffice is not installed here, so this is a faithful
   rendering of the cell values, not of Excel's own drawing.
"""

from __future__ import annotations

import argparse
import html
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def _fmt(v, number_format: str) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if "%" in number_format:
            return f"{v * 100:.1f}%"
        digits = 2
        if "." in number_format:
            digits = len(number_format.split(".")[1].rstrip("#%);").replace("#", "0"))
            digits = max(0, min(digits, 4))
        elif number_format in ("0", "#,##0"):
            digits = 0
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def sheet_html(xlsx: Path, max_rows: int = 40) -> str:
    """The first sheet of ``xlsx`` as a spreadsheet-looking HTML page."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    wb = load_workbook(xlsx)
    ws = wb.worksheets[0]
    rows = []
    ncol = ws.max_column
    for r, row in enumerate(ws.iter_rows(min_row=1, max_row=min(ws.max_row, max_rows)), start=1):
        cells = []
        for c in row[:ncol]:
            txt = html.escape(_fmt(c.value, c.number_format or ""))
            style = []
            if c.font is not None and c.font.b:
                style.append("font-weight:bold")
            fill = c.fill.fgColor.rgb if c.fill is not None and c.fill.fill_type == "solid" else None
            if isinstance(fill, str) and len(fill) == 8 and fill != "00000000":
                style.append(f"background:#{fill[2:]}")
            if isinstance(c.value, (int, float)):
                style.append("text-align:right")
            cells.append(f'<td style="{";".join(style)}">{txt}</td>')
        rows.append(f'<tr><th class="rn">{r}</th>{"".join(cells)}</tr>')
    head = "".join(f"<th>{get_column_letter(i)}</th>" for i in range(1, ncol + 1))
    tabs = "".join(f'<span class="{"on" if i == 0 else ""}">{html.escape(s.title)}</span>'
                   for i, s in enumerate(wb.worksheets))
    return f"""<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; font: 13px "Noto Sans CJK SC", "WenQuanYi Zen Hei", sans-serif; background: #fff; }}
.bar {{ background: #217346; color: #fff; padding: 6px 10px; font-weight: bold; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #d4d4d4; padding: 3px 6px; white-space: nowrap; }}
thead th, th.rn {{ background: #f3f3f3; color: #555; font-weight: normal; text-align: center; }}
.tabs span {{ display: inline-block; padding: 4px 12px; border: 1px solid #ccc; border-top: 0;
             background: #f3f3f3; }}
.tabs span.on {{ background: #fff; color: #217346; font-weight: bold; }}
</style><div class="bar">{html.escape(xlsx.name)}</div>
<table><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>
<div class="tabs">{tabs}</div>"""


def screenshot(browser, url: str, out: Path, *, width: int = 1280, height: int = 860,
               wait_js: str | None = None, full_width: bool = False, then_js: str | None = None) -> Path:
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    if wait_js:
        page.wait_for_function(wait_js)
    if then_js:
        page.evaluate(then_js)
    page.wait_for_timeout(800)
    if full_width:
        w = page.evaluate("document.querySelector('table').scrollWidth + 20")
        h = page.evaluate("document.body.scrollHeight")
        page.set_viewport_size({"width": min(int(w), 2400), "height": min(int(h), 1600)})
    page.screenshot(path=str(out))
    page.close()
    if errors:
        raise RuntimeError(f"JavaScript errors on {url}: {errors}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, default=None)
    ap.add_argument("--size", default="default", choices=["small", "default", "large"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lang", default="zh", choices=["zh", "en"])
    ap.add_argument("--reuse", action="store_true", help="reuse an existing demo workspace")
    a = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    ws = a.workspace or Path(tempfile.mkdtemp(prefix="agrigis-demo-")) / "demo"
    xlsx = ws / "outputs" / "progress" / "progress.xlsx"
    pmap = ws / "outputs" / "maps" / "progress_map.html"
    if not (a.reuse and xlsx.exists() and pmap.exists()):
        from rich.progress import Progress

        from workflows.demo import run_demo, summary_table

        with Progress() as bar:
            run = run_demo(ws, seed=a.seed, size=a.size, lang=a.lang, progress=bar, strict=True)
        from rich.console import Console

        Console().print(summary_table(run))
    page = ws / "outputs" / "progress" / "progress_sheet.html"
    page.write_text(sheet_html(xlsx), encoding="utf-8")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            screenshot(b, pmap.resolve().as_uri(), DOCS / "progress-map.png",
                       wait_js="window.agrigis && agrigis.maps.length > 0")
            screenshot(b, pmap.resolve().as_uri(), DOCS / "progress-map-daan.png",
                       wait_js="window.agrigis && agrigis.maps.length > 0",
                       then_js="agrigis.maps[0].map.setView([45.42, 123.95], 11, {animate: false})")
            screenshot(b, page.resolve().as_uri(), DOCS / "progress-excel.png", full_width=True)
        finally:
            b.close()
    print(DOCS / "progress-map.png")
    print(DOCS / "progress-map-daan.png")
    print(DOCS / "progress-excel.png")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(DOCS.parent))
    sys.exit(main())
