"""The 自然资源部 boundary-point text file (界址点坐标文件, 上图入库 / 报备 coordinate file):
its rules in one place, with the one reader and the one writer.

A file has a ``[属性描述]`` block of ``key=value`` lines (:data:`HEADER_KEYS`) and a
``[地块坐标]`` block where each parcel is a header line (:data:`PARCEL_FIELDS`, ending in
``@``) followed by its point lines ``点号,圈号,X,Y``: X is the northing, Y the easting
(often with the Gauss-Krüger zone number in front). Ring number 1 is the outer ring; a
later ring inside an earlier one is a hole, outside it a further part. The header's
area (地块面积) is in 公顷 unless 计量单位 names another area unit.

Reading (:func:`parse`, :func:`read_boundary_txt`) is forgiving about what public tools
vary — blank lines, a missing ``@``, an empty 精度, a ring not closed, ``J1`` or ``1`` as
point names — and says so in a note; a line it cannot place (neither a parcel header nor
a point line) refuses the file with its line number, since the parcel the following
points belong to is then ambiguous. Writing (:func:`format_boundary_txt`): CGCS2000 3°
Gauss-Krüger with the zone prefix, points J1…, rings closed, area in 公顷 to 4 decimals.

Examples
--------
>>> text = (
...     "[属性描述]\\n坐标系=2000国家大地坐标系\\n几度分带=3\\n带号=41\\n精度=0.001\\n"
...     "[地块坐标]\\n5,0.0100,P1,示例,面,,,,@\\n"
...     "J1,1,5000000,41500000\\nJ2,1,5000000,41500010\\nJ3,1,5000010,41500010\\n"
...     "J4,1,5000010,41500000\\nJ1,1,5000000,41500000\\n")
>>> f = parse(text, "a.txt")
>>> f.crs, f.parcels[0].fields["地块编号"], round(f.parcels[0].geometry().area, 1)
('EPSG:4529', 'P1', 100.0)
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from gis.errors import CRSError, InputError, Message

log = logging.getLogger(__name__)

ATTR_BLOCK = "[属性描述]"
COORD_BLOCK = "[地块坐标]"
HEADER_KEYS = ("格式版本号", "数据产生单位", "数据产生日期", "坐标系", "几度分带", "投影类型", "计量单位", "带号",
               "精度", "转换参数")
"""Keys of the ``[属性描述]`` block, in the order they are written."""
PARCEL_FIELDS = ("界址点数", "地块面积", "地块编号", "地块名称", "记录图形属性", "图幅号", "地块用途", "地类编码")
"""Fields of a parcel's header line (then ``@``)."""
AREA_UNITS = (("平方米", "m2"), ("公顷", "ha"), ("万亩", "wan_mu"), ("亩", "mu"))
"""计量单位 texts naming an area unit → :mod:`gis.units` code (公顷 when none is named)."""
AREA_COLUMN = {"ha": "地块面积(公顷)", "m2": "地块面积(平方米)", "mu": "地块面积(亩)", "wan_mu": "地块面积(万亩)"}
"""The column the declared area is read into (``layers/fields.yml`` knows each unit)."""
DEFAULT_PRECISION = 0.0001
"""精度 written, and taken when a file leaves it empty (metres)."""
DATUMS = {"cgcs2000": ("2000", "cgcs"), "xian80": ("西安", "xian", "80"), "beijing54": ("北京", "beijing", "54")}
_ELLIPSOIDS = {"xian80": "+a=6378140 +rf=298.257", "beijing54": "+ellps=krass"}
_NUM = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", re.ASCII)


def _is_int(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``²`` or ``٣``, which ``int`` refuses).

    Examples
    --------
    >>> _is_int("12"), _is_int("²"), _is_int("")
    (True, False, False)
    """
    return text.isascii() and text.isdigit()


def is_boundary_txt(text: str) -> bool:
    """True when ``text`` has the blocks of this format.

    Examples
    --------
    >>> is_boundary_txt("[属性描述]\\n坐标系=2000国家大地坐标系\\n[地块坐标]\\n"), is_boundary_txt("x,y\\n1,2\\n")
    (True, False)
    """
    head = text[:65536]
    return COORD_BLOCK in head or ATTR_BLOCK in head


@dataclass
class TxtParcel:
    """One parcel of a file: its header fields, its rings and where it was read."""

    fields: dict[str, str]
    line: int
    rings: list[tuple[int, list[tuple[float, float]], int]] = field(default_factory=list)
    """``(ring number, [(easting, northing) …], line of its first point)`` in file order."""
    problem: Message | None = None
    """Why the parcel cannot be used (a bad coordinate, a line or point feature)."""

    def geometry(self):
        """The parcel as a shapely (Multi)Polygon in the file's plane coordinates.

        Rings are taken in order: a ring inside an earlier part's outer ring is its
        hole, otherwise it starts a new part. Rings are closed here when a file left
        them open (:func:`parse` notes it)."""
        parts: list[tuple[shapely.Polygon, list]] = []
        for _, pts, _ in self.rings:
            ring = shapely.LinearRing(pts) if len(pts) >= 3 else None
            if ring is None:
                continue
            host = next((p for p in parts if p[0].contains(shapely.Polygon(ring).representative_point())), None)
            if host is None:
                parts.append((shapely.Polygon(ring), []))
            else:
                host[1].append(ring)
        polys = [shapely.Polygon(outer.exterior, holes) for outer, holes in parts]
        if not polys:
            return None
        return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


@dataclass
class TxtFile:
    """A parsed file: the ``[属性描述]`` values, the CRS they decide, parcels and notes."""

    header: dict[str, str]
    parcels: list[TxtParcel]
    crs: str | None = None
    """``EPSG:…`` (or a PROJ string for Xian 1980 / Beijing 1954 with 转换参数); None when
    the file does not say and the coordinates carry no zone prefix."""
    area_unit: str = "ha"
    precision: float = DEFAULT_PRECISION
    notes: list[Message] = field(default_factory=list)


# -- reading -----------------------------------------------------------------------------


def parse(text: str, path: str | Path, given_crs=None) -> TxtFile:
    """Parse the text of a boundary-point file (lines in any of CRLF/LF).

    Parameters
    ----------
    text : str
        The decoded file.
    path : str or Path
        Named in notes and errors.
    given_crs : optional
        The user's ``--crs``: for Xian 1980 / Beijing 1954 files it must carry
        transformation parameters (``+towgs84=…``) unless the file's 转换参数 does.

    Raises
    ------
    InputError
        A line that is neither a parcel header nor a point line, a point before any
        parcel header, a zone that contradicts the eastings' prefix (with the line).
    CRSError
        Xian 1980 / Beijing 1954 without transformation parameters; a 坐标系 not known.
    """
    lines = text.splitlines()
    header, start, notes = _header_block(lines, path)
    parcels = _coordinate_block(lines, start, path, notes)
    out = TxtFile(header=header, parcels=parcels, notes=notes, area_unit=_area_unit(header.get("计量单位", "")))
    out.precision = _precision(header, path, notes)
    out.crs = _decide_crs(out, path, given_crs)
    return out


def _header_block(lines: list[str], path) -> tuple[dict[str, str], int, list[Message]]:
    """``[属性描述]`` values, the index of the ``[地块坐标]`` line, notes."""
    header: dict[str, str] = {}
    notes: list[Message] = []
    block = None
    for i, raw in enumerate(lines):
        s = raw.strip().lstrip("\ufeff")
        if s == COORD_BLOCK:
            return header, i, notes
        if s == ATTR_BLOCK:
            block = ATTR_BLOCK
            continue
        if not s:
            continue
        if block is None or "=" not in s:
            raise InputError.of("error.txt_bad_header_line", path=path, line=i + 1, text=s[:60])
        key, _, value = s.partition("=")
        header[key.strip()] = value.strip()
    raise InputError.of("error.txt_no_coordinates", path=path)


def _coordinate_block(lines: list[str], start: int, path, notes: list[Message]) -> list[TxtParcel]:
    parcels: list[TxtParcel] = []
    blank = bare = no_at = False
    for i in range(start + 1, len(lines)):
        s = lines[i].strip()
        if not s:
            blank = True
            continue
        cells = [c.strip() for c in s.split(",")]
        if _is_point(cells):
            if not parcels:
                raise InputError.of("error.txt_point_before_header", path=path, line=i + 1)
            bare |= _add_point(parcels[-1], cells, i + 1)
        elif _is_parcel_header(cells):
            no_at |= cells[-1] != "@"
            parcels.append(TxtParcel(fields=dict(zip(PARCEL_FIELDS, cells[:8], strict=True)), line=i + 1))
        else:
            raise InputError.of("error.txt_bad_line", path=path, line=i + 1, text=s[:60])
    for flag, key in ((blank, "note.txt_blank_lines"), (no_at, "note.txt_no_at"), (bare, "note.txt_bare_point_names")):
        if flag:
            notes.append(Message(key, path=path))
    if not parcels:
        raise InputError.of("error.txt_no_parcels", path=path)
    for p in parcels:
        _finish(p, path, notes)
    return parcels


def _is_point(cells: list[str]) -> bool:
    """``点号,圈号,X,Y``: four cells, an integer ring number (a bad X or Y still makes a
    point line, rejected with its line)."""
    return len(cells) == 4 and _is_int(cells[1])


def _is_parcel_header(cells: list[str]) -> bool:
    """Eight fields (plus ``@``, or its empty place): an integer point count and a number (or empty) area."""
    n = len(cells) - (len(cells) == 9 and cells[-1] in ("@", ""))
    return n == 8 and _is_int(cells[0]) and (not cells[1] or bool(_NUM.match(cells[1])))


def _add_point(p: TxtParcel, cells: list[str], line: int) -> bool:
    """Add one point; returns True when its name is a bare number (``1`` for ``J1``)."""
    ring_no = int(cells[1])
    if p.problem is None and not (_NUM.match(cells[2]) and _NUM.match(cells[3])):
        p.problem = Message("reject.txt_bad_coordinate", line=line, x=cells[2], y=cells[3])
    if not p.rings or p.rings[-1][0] != ring_no:
        if any(r[0] == ring_no for r in p.rings) and p.problem is None:
            p.problem = Message("reject.txt_ring_split", line=line, ring=ring_no)
        p.rings.append((ring_no, [], line))
    if p.problem is None:
        p.rings[-1][1].append((float(cells[3]), float(cells[2])))  # (easting, northing)
    return _is_int(cells[0])


def _finish(p: TxtParcel, path, notes: list[Message]) -> None:
    """Close open rings (note), check the point count (note) and the feature kind."""
    kind = p.fields.get("记录图形属性", "")
    if p.problem is None and kind and kind not in ("面", "polygon"):
        p.problem = Message("reject.txt_not_polygon", line=p.line, kind=kind)
    for ring_no, pts, line in p.rings:
        if len(pts) >= 2 and pts[0] != pts[-1]:
            pts.append(pts[0])
            notes.append(Message("note.txt_ring_closed", path=path, line=line, ring=ring_no))
        if p.problem is None and len(set(pts)) < 3:
            p.problem = Message("reject.txt_ring_too_short", line=line, ring=ring_no, n=len(set(pts)))
    declared = int(p.fields["界址点数"])
    n = sum(len(pts) for _, pts, _ in p.rings)
    if p.problem is None and declared != n:
        notes.append(Message("note.txt_point_count", path=path, line=p.line, declared=declared, n=n))


def _area_unit(text: str) -> str:
    return next((code for name, code in AREA_UNITS if name in text), "ha")


def _precision(header: dict[str, str], path, notes: list[Message]) -> float:
    raw = header.get("精度", "")
    if _NUM.match(raw) and float(raw) > 0:
        return float(raw)
    notes.append(Message("note.txt_no_precision", path=path, precision=DEFAULT_PRECISION))
    return DEFAULT_PRECISION


# -- the CRS -----------------------------------------------------------------------------


def _datum(text: str, path) -> str:
    t = text.lower().replace(" ", "")
    if not t:
        return "cgcs2000"
    for code in ("xian80", "beijing54", "cgcs2000"):
        if any(k in t for k in DATUMS[code]):
            return code
    raise CRSError.of("error.txt_datum_unknown", path=path, datum=text)


def _decide_crs(f: TxtFile, path, given_crs) -> str | None:
    """The file's CRS from 坐标系, 几度分带, 带号 and the eastings' prefix."""
    from gis.crs import gk_zone_crs

    datum = _datum(f.header.get("坐标系", ""), path)
    zone, width, prefix = _zone(f, path)
    if datum != "cgcs2000":
        return _old_datum_crs(f, datum, path, given_crs, (zone, width, prefix))
    if given_crs is not None or zone is None:
        return None  # the user's --crs, or a guess from the coordinates, decides
    try:
        return f"EPSG:{gk_zone_crs(zone, width, prefix).to_epsg()}"
    except CRSError:
        raise CRSError.of("error.txt_zone_unknown", path=path, zone=zone, width=width) from None


def _zone(f: TxtFile, path) -> tuple[int | None, int, bool]:
    """(zone, width, prefix) from 带号 / 几度分带 and the eastings (a conflict refuses)."""
    eastings = [pt[0] for p in f.parcels for _, pts, _ in p.rings for pt in pts[:1]]
    declared = f.header.get("带号", "").strip()
    width_raw = re.sub(r"[^\d]", "", f.header.get("几度分带", ""))
    width = int(width_raw) if width_raw in ("3", "6") else None
    zone = int(declared) if _is_int(declared) else None
    prefixes = {int(e // 1_000_000) for e in eastings if e >= 1_000_000}
    prefix = bool(prefixes)
    if len(prefixes) > 1:
        raise CRSError.of("error.txt_zone_conflict", path=path, zone=declared or "?", prefixes=sorted(prefixes))
    if prefixes:
        found = prefixes.pop()
        if zone is not None and zone != found:
            raise CRSError.of("error.txt_zone_conflict", path=path, zone=zone, prefixes=[found])
        zone = found
    if width is None and zone is not None:
        width = 6 if zone < 25 else 3
    return zone, width or 3, prefix


def _old_datum_crs(f: TxtFile, datum: str, path, given_crs, zone_info) -> str | None:
    """Xian 1980 / Beijing 1954: a PROJ string from the file's 转换参数 (7 numbers), the
    user's --crs when it carries ``+towgs84``, else refused with the reason."""
    zone, width, prefix = zone_info
    params = [p.strip() for p in f.header.get("转换参数", "").split(",")]
    seven = len(params) == 7 and all(_NUM.match(p) for p in params) and any(float(p) for p in params)
    if given_crs is not None and _has_towgs84(given_crs):
        f.notes.append(Message("note.txt_old_datum_given", path=path, datum=f.header.get("坐标系", "")))
        return None
    if seven and zone is not None:
        cm = zone * 3 if width == 3 else zone * 6 - 3
        fe = zone * 1_000_000 + 500_000 if prefix else 500_000
        f.notes.append(Message("note.txt_old_datum_params", path=path, datum=f.header.get("坐标系", ""),
                               params=",".join(params)))
        return (f"+proj=tmerc +lat_0=0 +lon_0={cm} +k=1 +x_0={fe} +y_0=0 {_ELLIPSOIDS[datum]} "
                f"+towgs84={','.join(params)} +units=m +no_defs +type=crs")
    raise CRSError.of("error.txt_old_datum", path=path, datum=f.header.get("坐标系", ""))


def _has_towgs84(given) -> bool:
    import pyproj

    try:
        return pyproj.CRS.from_user_input(given).is_bound  # +towgs84=… makes a bound CRS
    except pyproj.exceptions.CRSError:
        return False


def read_boundary_txt(text: str, path: str | Path, given_crs=None):
    """``(attributes, geometries, CRS, notes)`` of a boundary-point file, for
    :func:`layers.io.read_parcels` (which repairs, transforms and rejects as for any file).

    The attributes are the header fields (地块编号 is the project code, the area column
    is named with its unit, see :data:`AREA_COLUMN`), one row per parcel; a parcel that
    cannot be used gets an unreadable geometry with the reason and its line.
    """
    import pandas as pd

    from layers.io import _Unreadable

    f = parse(text, path, given_crs)
    rows, geoms = [], []
    for p in f.parcels:
        row = {k: v for k, v in p.fields.items() if k not in ("界址点数", "地块面积")}
        row[AREA_COLUMN[f.area_unit]] = p.fields["地块面积"]
        rows.append(row)
        if p.problem is not None:
            geoms.append(_Unreadable(p.problem.key, **p.problem.params))
        else:
            g = p.geometry()
            geoms.append(g if g is not None else _Unreadable("reject.txt_ring_too_short", line=p.line, ring=1, n=0))
    columns = [c for c in PARCEL_FIELDS if c not in ("界址点数", "地块面积")] + [AREA_COLUMN[f.area_unit]]
    return pd.DataFrame(rows, columns=columns), np.array(geoms, dtype=object), f.crs, f.notes


# -- writing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TxtParcelOut:
    """One parcel to write: its code, name, use, area in 公顷 and geometry in the
    file's plane (easting, northing with the zone prefix)."""

    code: str
    name: str
    use: str
    area_ha: float
    geometry: object


def format_boundary_txt(parcels: list[TxtParcelOut], *, zone: int, producer: str, date: str,
                        precision: float = DEFAULT_PRECISION) -> str:
    """The file's text (CRLF line ends, as the submission tools write them).

    Examples
    --------
    >>> sq = shapely.box(41500000, 5000000, 41500010, 5000010)
    >>> t = format_boundary_txt([TxtParcelOut("P1", "示例", "", 0.01, sq)], zone=41, producer="x", date="2024-01-01")
    >>> t.splitlines()[12:14]
    ['5,0.0100,P1,示例,面,,,,@', 'J1,1,5000000.0000,41500010.0000']
    """
    decimals = max(0, round(-np.log10(precision)))
    values = {"格式版本号": "1.01版本", "数据产生单位": producer, "数据产生日期": date, "坐标系": "2000国家大地坐标系",
              "几度分带": "3", "投影类型": "高斯克吕格", "计量单位": "米", "带号": str(zone), "精度": f"{precision:g}",
              "转换参数": ",,,,,,"}
    out = [ATTR_BLOCK, *(f"{k}={values[k]}" for k in HEADER_KEYS), COORD_BLOCK]
    for p in parcels:
        points = _point_lines(p.geometry, decimals)
        fields = [str(len(points)), _area_text(p.area_ha), _cell(p.code), _cell(p.name), "面", "", _cell(p.use), ""]
        out.append(",".join(fields) + ",@")
        out.extend(points)
    return "\r\n".join(out) + "\r\n"


def _area_text(ha: float) -> str:
    """The area in 公顷 with 4 decimals, or as many more as it takes to read back the same
    number (a declared area exported and imported again stays the same).

    Examples
    --------
    >>> _area_text(16.3722), _area_text(245.5833 / 15)
    ('16.3722', '16.37222')
    """
    for k in range(4, 17):
        text = f"{ha:.{k}f}"
        if abs(float(text) - ha) <= 1e-13 * max(1.0, abs(ha)):
            return text
    return repr(float(ha))


def _cell(text: str) -> str:
    """A header field: commas would shift the fields, so they become full-width."""
    return str(text or "").replace(",", ",").replace("\r", " ").replace("\n", " ")


def _point_lines(geom, decimals: int) -> list[str]:
    """``J<n>,<ring>,X,Y`` for every ring (outer ring then holes, part after part),
    numbered on through the parcel; each ring closed by repeating its first point."""
    lines, n, ring_no = [], 0, 0
    for poly in shapely.get_parts(geom):
        for ring in (poly.exterior, *poly.interiors):
            ring_no += 1
            coords = np.asarray(ring.coords)[:-1]
            first = n + 1
            for e, north in coords:
                n += 1
                lines.append(f"J{n},{ring_no},{north:.{decimals}f},{e:.{decimals}f}")
            e, north = coords[0]
            lines.append(f"J{first},{ring_no},{north:.{decimals}f},{e:.{decimals}f}")
    return lines
