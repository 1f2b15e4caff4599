"""Excel workbooks (.xlsx, .xls) read as tables of text cells, like a CSV.

Boundary-point tables (编号, X, Y / 经度, 纬度) and parcel lists arrive as Excel more
often than as CSV. :func:`read_sheet` turns one sheet into a DataFrame of text cells,
which :mod:`layers.io` then reads exactly as a CSV (WKT column, or one row per vertex):

* **sheet**: the one sheet holding data, or the one named by ``--layer`` (the sheets are
  listed when the choice is ambiguous);
* **header**: the row among the first :data:`HEADER_ROWS` that names the most known
  columns (coordinates, WKT, the field mapping's aliases); title rows above it are
  skipped with a note; merged header cells give their text to every column they span,
  and an empty header cell under a merged group title takes that title;
* **numbers stored as text** stay text here (as in a CSV); numbers stored as numbers
  are written without float noise (``3797916.479``, ``12`` not ``12.0``).

``.xlsx`` is read with openpyxl, ``.xls`` with xlrd; nothing is written.

Examples
--------
>>> _text(3797916.479), _text(12.0), _text(" J1 "), _text(None)
('3797916.479', '12', 'J1', '')
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from pathlib import Path

import pandas as pd

from gis.errors import DataFileError, InputError, Message, require

log = logging.getLogger(__name__)

HEADER_ROWS = 10
"""The header row is looked for among this many first rows."""
MAX_CELLS = 500_000
"""A sheet with more cells than this is refused (a parcel list is far smaller)."""
MAX_XML_BYTES = 48 << 20
"""An .xlsx sheet (or its shared strings) whose XML inflates past this is refused before loading."""
EXCEL_MAX_ROWS = 1_048_576
"""Excel's last row: a sheet numbering a row past it was not saved by Excel (openpyxl
would stream a million empty rows to reach it)."""
MAX_EMPTY_RUN = 100_000
"""More empty rows than this in a row stop the streaming (row numbers that jump far ahead)."""


def read_sheet(path: Path, sheet: str | None = None, mapping=None) -> tuple[pd.DataFrame, str, list[Message]]:
    """One sheet of a workbook as text cells: ``(table, sheet name, notes)``.

    Parameters
    ----------
    path : Path
        An ``.xlsx`` or ``.xls`` file.
    sheet : str, optional
        The sheet to read (``--layer``); default the only sheet that holds data.
    mapping : layers.fields.FieldMapping, optional
        Column aliases that help find the header row (default: the bundled table).
    """
    grid, merged, name, notes = _load(path, sheet)
    _fill_merged(grid, merged)
    head = _header_row(grid, mapping)
    names = _header_names(grid, head)
    keep = [j for j, n in enumerate(names) if n or any(r[j] for r in grid[head + 1:] if j < len(r))]
    cols = _unique([names[j] or f"column_{j + 1}" for j in keep])
    rows = [[r[j] if j < len(r) else "" for j in keep] for r in grid[head + 1:]]
    rows = [r for r in rows if any(v for v in r)]
    notes += [Message("note.sheet_title_rows", path=path, sheet=name, n=head)] if head else []
    return pd.DataFrame(rows, columns=cols, dtype=object).astype(str), name, notes


def _load(path: Path, sheet: str | None) -> tuple[list[list[str]], list[tuple[int, int, int, int]], str, list[Message]]:
    """``(cells as text, merged ranges (row0, row1, col0, col1) 0-based end-exclusive, sheet, notes)``."""
    if path.suffix.lower() == ".xls":
        return (*_load_xls(path, sheet), [])
    openpyxl = require("openpyxl", "reading .xlsx files")
    _check_sizes(path, sheet or "", None)
    try:
        wb = openpyxl.load_workbook(path, data_only=True, read_only=True)  # streams: nothing loaded yet
    except Exception as exc:
        raise DataFileError.of("error.sheet_unreadable", path=path, detail=str(exc)[:200]) from None
    try:
        names = [ws.title for ws in wb.worksheets]
        filled = [ws.title for ws in wb.worksheets if (ws.max_row or 2) > 1 or (ws.max_column or 2) > 1]
        ws = wb[_choose(path, sheet, names, filled)]
        member = ws._worksheet_path.lstrip("/")
        declared = (ws.max_row or 0) * (ws.max_column or 0)
        if declared > MAX_CELLS:
            raise DataFileError.of("error.sheet_too_large", path=path, sheet=ws.title, n=declared, limit=MAX_CELLS)
        merged, formulas, last = _scan_xml(path, member)  # before streaming: the row numbers are bounded
        if last > EXCEL_MAX_ROWS:
            raise DataFileError.of("error.sheet_past_last_row", path=path, sheet=ws.title, row=last,
                                   limit=EXCEL_MAX_ROWS)
        grid = _stream(path, ws)
    finally:
        wb.close()
    notes = [Message("note.sheet_formula_no_value", path=path, sheet=ws.title, n=len(formulas),
                     cells=", ".join(formulas[:10]))] if formulas else []
    return grid, merged, ws.title, notes


def _check_sizes(path: Path, sheet: str, member: str | None) -> None:
    """The sheet's XML and the shared strings, uncompressed, within :data:`MAX_XML_BYTES`
    (read from the zip directory, before anything is inflated)."""
    import zipfile

    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataFileError.of("error.sheet_unreadable", path=path, detail=str(exc)[:200]) from None
    with z:
        for info in z.infolist():
            part = info.filename.startswith("xl/worksheets/") or info.filename == "xl/sharedStrings.xml"
            if part and info.file_size > MAX_XML_BYTES:
                raise DataFileError.of("error.sheet_xml_too_large", path=path, part=info.filename,
                                       n=info.file_size, limit=MAX_XML_BYTES)


def _stream(path: Path, ws) -> list[list[str]]:
    """The rows as text, streamed; stops past :data:`MAX_CELLS` (the declared dimension may
    lie), past :data:`EXCEL_MAX_ROWS` rows or after more than :data:`MAX_EMPTY_RUN` empty
    rows in a row (trailing empty rows are dropped)."""
    grid, n, empty = [], 0, 0
    try:
        for row in ws.iter_rows(values_only=True):
            n += len(row)
            if n > MAX_CELLS:
                raise DataFileError.of("error.sheet_too_large", path=path, sheet=ws.title, n=f"> {n}",
                                       limit=MAX_CELLS)
            cells = [_text(v) for v in row]
            empty = 0 if any(cells) else empty + 1
            if empty > MAX_EMPTY_RUN:
                raise DataFileError.of("error.sheet_empty_run", path=path, sheet=ws.title,
                                       row=len(grid) + 2 - empty, limit=MAX_EMPTY_RUN)
            grid.append(cells)
            if len(grid) > EXCEL_MAX_ROWS:
                raise DataFileError.of("error.sheet_past_last_row", path=path, sheet=ws.title, row=len(grid),
                                       limit=EXCEL_MAX_ROWS)
    except (ValueError, KeyError, TypeError) as exc:  # e.g. a row number past 1048576
        raise DataFileError.of("error.sheet_unreadable", path=path, detail=str(exc)[:200]) from None
    return grid


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')
_FORMULA_NO_VALUE = re.compile(
    rb'<(?:\w+:)?c r="([A-Z]+\d+)"[^>]*>\s*(?:<(?:\w+:)?f[^>]*/>|<(?:\w+:)?f[^>]*>[^<]*</(?:\w+:)?f>)'
    rb'\s*(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?\s*</(?:\w+:)?c>')


_ROW_NUMBER = re.compile(rb'<(?:\w+:)?row\b[^>]*?\sr="(\d+)"')


def _scan_xml(path: Path, member: str) -> tuple[list[tuple[int, int, int, int]], list[str], int]:
    """Merged ranges, the formula cells without a cached value (read as empty) and the
    highest row number, from the sheet's XML in chunks (its size is already bounded)."""
    import zipfile

    from openpyxl.utils import column_index_from_string as col

    merged, formulas, tail, last = set(), {}, b"", 0
    with zipfile.ZipFile(path) as z, z.open(member) as f:
        while chunk := f.read(1 << 20):
            data = tail + chunk
            for m in _MERGE.finditer(data):
                c0, r0, c1, r1 = m.groups()
                merged.add((int(r0) - 1, int(r1), col(c0.decode()) - 1, col(c1.decode())))
            for m in _FORMULA_NO_VALUE.finditer(data):
                formulas.setdefault(m.group(1).decode(), None)
            last = max([last, *(int(m.group(1)) for m in _ROW_NUMBER.finditer(data))])
            tail = data[-4096:]
    return sorted(merged), list(formulas), last


def _load_xls(path: Path, sheet: str | None):
    xlrd = require("xlrd", "reading .xls files")
    try:
        book = xlrd.open_workbook(str(path), formatting_info=True)
    except Exception as exc:
        raise DataFileError.of("error.sheet_unreadable", path=path, detail=str(exc)[:200]) from None
    names = book.sheet_names()
    filled = [s.name for s in book.sheets() if s.nrows and s.ncols]
    ws = book.sheet_by_name(_choose(path, sheet, names, filled))
    if ws.nrows * ws.ncols > MAX_CELLS:
        raise DataFileError.of("error.sheet_too_large", path=path, sheet=ws.name, n=ws.nrows * ws.ncols,
                               limit=MAX_CELLS)
    grid = []
    for i in range(ws.nrows):
        row = []
        for j in range(ws.ncols):
            c = ws.cell(i, j)
            v = c.value
            if c.ctype == xlrd.XL_CELL_DATE:
                v = xlrd.xldate.xldate_as_datetime(v, book.datemode)
            row.append(_text(v))
        grid.append(row)
    return grid, [tuple(m) for m in ws.merged_cells], ws.name


def _choose(path: Path, sheet: str | None, names: list[str], filled: list[str]) -> str:
    """The sheet to read: the one asked for, or the only one holding data."""
    sep = ", "
    if sheet is not None:
        if sheet not in names:
            raise InputError.of("error.sheet_missing", path=path, sheet=sheet, sheets=sep.join(names))
        return sheet
    if len(filled) == 1:
        return filled[0]
    if not filled:
        raise DataFileError.of("error.sheet_empty", path=path)
    raise InputError.of("error.sheet_several", path=path, n=len(filled), sheets=sep.join(filled))


def _text(v) -> str:
    """A cell as the text a CSV would hold: numbers without float noise, dates ISO."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 2 ** 53 else repr(v)
    if isinstance(v, (_dt.datetime, _dt.date)):
        return v.isoformat()
    return str(v).strip()


def _fill_merged(grid: list[list[str]], merged) -> None:
    """Every cell of a merged range holds the range's text (only its first cell has it)."""
    for r0, r1, c0, c1 in merged:
        if r0 >= len(grid):
            continue
        value = grid[r0][c0] if c0 < len(grid[r0]) else ""
        for i in range(r0, min(r1, len(grid))):
            for j in range(c0, min(c1, len(grid[i]))):
                grid[i][j] = value


def _header_row(grid: list[list[str]], mapping=None) -> int:
    """Index of the row (among the first :data:`HEADER_ROWS`) naming the most known columns;
    the first non-empty row when none names any."""
    from .fields import load_mapping, norm
    from .io import _LAT_COLUMNS, _LON_COLUMNS, _ORDER_COLUMNS, _WKT_COLUMNS

    m = mapping or load_mapping()
    known = {*_WKT_COLUMNS, *_LON_COLUMNS, *_LAT_COLUMNS, *_ORDER_COLUMNS, *m.area_units}
    for aliases in m.columns.values():
        known.update(aliases)
    best, best_n = None, 0
    for i, row in enumerate(grid[:HEADER_ROWS]):
        n = sum(1 for v in row if v and norm(v) in known)
        if n > best_n:
            best, best_n = i, n
    if best is not None:
        return best
    return next((i for i, row in enumerate(grid) if any(row)), 0)


def _header_names(grid: list[list[str]], head: int) -> list[str]:
    """Column names of the header row; an empty one takes the group title above it."""
    names = list(grid[head]) if grid else []
    if head:
        above = grid[head - 1]
        names = [n or (above[j] if j < len(above) else "") for j, n in enumerate(names)]
    return names


def _unique(names: list[str]) -> list[str]:
    """Column names made unique as pandas does (``X``, ``X.1``)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        out.append(n if k == 0 else f"{n}.{k}")
        seen[n] = k + 1
    return out
