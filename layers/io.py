"""Read any parcel file a user brings, into clean polygons in EPSG:4490.

Formats: Shapefile (also zipped), GeoPackage (pick a layer; layers are listed when the
choice is ambiguous), GeoJSON (also what our field maps export), KML/KMZ, and CSV with a
WKT column or lon/lat vertex columns (one row per vertex, grouped by project code).

What :func:`read_parcels` does, and says on the way (in ``lang``, Chinese by default,
from the ``note.*`` templates of :mod:`gis.labels`):

* **Encoding** of DBF/CSV text: a ``.cpg`` file is honoured; otherwise UTF-8 is tried
  and GB18030 (a superset of GBK) used when the bytes are not UTF-8. The choice is
  reported.
* **CRS**: a declared CRS is checked against the coordinates (``gis.crs.check_crs``);
  without one, ``gis.crs.guess_crs`` decides and its reason is reported in the notes.
  ``source_datum="gcj02"`` converts Amap/Gaode coordinates back exactly.
* **Geometry**: Z/M dropped; invalid rings repaired with ``make_valid`` keeping the
  polygonal parts (the area change is reported); empty, unreadable or non-polygonal
  geometry makes the row a *reject*, never a silent drop.
* **Text** (:func:`clean_texts`): control characters (a ``\\x0b`` pasted from Word) are
  removed from values and column names with a repair note; source columns named like
  agrigis's own (``_row``, ``reason``, ``geometry``) are renamed ``src_<name>``. Whole
  numbers of wide DBF Numeric columns (18-digit codes) are read from the DBF's text, so
  no digit is lost to a float.
* **Archives** (:func:`_extract`, the one archive guard): the entry count is bounded, and
  only the chosen layer's files are unpacked, bounded in total size and compression
  ratio before and while unpacking. Errors name ``archive.zip!member``.

Nothing here writes files; :mod:`workflows.importing` writes the rejects.
"""

from __future__ import annotations

import csv
import errno
import logging
import re
import struct
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gis.errors import AgrigisError, CRSError, DataFileError, InputError, Message
from gis.labels import DEFAULT_LANG, label, message
from gis.outputs import safe_text

log = logging.getLogger(__name__)

CGCS2000 = "EPSG:4490"

VECTOR_SUFFIXES = (".shp", ".zip", ".gpkg", ".geojson", ".json", ".kml", ".kmz", ".csv", ".txt", ".xlsx", ".xls")
"""File suffixes :func:`read_parcels` accepts."""

_WKT_COLUMNS = ("wkt", "geometry_wkt", "geometry", "geom", "the_geom", "shape", "几何", "图形", "坐标串")
_LON_COLUMNS = ("lon", "lng", "long", "longitude", "经度", "x", "x坐标", "东坐标")
_LAT_COLUMNS = ("lat", "latitude", "纬度", "y", "y坐标", "北坐标")
_ORDER_COLUMNS = ("vertex", "order", "seq", "点号", "序号", "顺序", "point_no")

MAX_ARCHIVE_ENTRIES = 10_000
"""A .zip/.kmz with more entries than this is refused (read from its central directory)."""
MAX_UNPACKED_BYTES = 2 << 30
"""At most this many bytes are unpacked from one archive (the chosen layer's files only)."""
MAX_RATIO = 100
"""A member larger than :data:`RATIO_MIN_BYTES` that expands more than this is a zip bomb."""
RATIO_MIN_BYTES = 4 << 20
CSV_FIELD_LIMIT = 64 << 20
"""Largest CSV cell read (a WKT polygon of about two million vertices)."""

_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_INTERNAL_NAMES = ("geometry", "reason")
"""Source column names agrigis uses inside a read table (besides every name starting with ``_``)."""


@dataclass
class ReadResult:
    """Rows read from one file.

    Attributes
    ----------
    frame : GeoDataFrame
        Usable rows in EPSG:4490 with the source's columns, ``_row`` (1-based row in
        the source) and ``_repair`` (text when the geometry or a text value was
        repaired, else None).
    rejects : GeoDataFrame
        ``_row, reason`` (+ the source columns and whatever geometry could be read).
    source : str
        The file (and layer) read.
    encoding : str or None
        Text encoding used for DBF/CSV attributes and how it was decided, e.g.
        ``GB18030 (detected)`` (in the reader's ``lang``).
    crs_note : str
        How the CRS was decided (in the reader's ``lang``).
    notes : list of str
        Notes for the user (encoding, CRS guessed, datum converted …), in the reader's
        ``lang``.
    n_read : int
        Rows in the source.
    """

    frame: object
    rejects: object
    source: str
    encoding: str | None = None
    crs_note: str = ""
    notes: list[str] = field(default_factory=list)
    n_read: int = 0


# -- encodings ------------------------------------------------------------------------


def detect_encoding(data: bytes, path: str | Path | None = None, offset: int = 0) -> str:
    """``"UTF-8"`` if ``data`` decodes as UTF-8 (or is ASCII), else ``"GB18030"``.

    GB18030 is a superset of GBK and GB2312, so it decodes all of them. When neither
    decodes, the error names ``path`` and the byte of the file (``data`` starts at byte
    ``offset`` of it) and says to give ``--encoding``.

    Examples
    --------
    >>> detect_encoding("项目".encode("gbk")), detect_encoding("项目".encode("utf-8"))
    ('GB18030', 'UTF-8')
    """
    try:
        data.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("gb18030")
        return "GB18030"
    except UnicodeDecodeError as exc:
        raise DataFileError.of("error.encoding_undecodable_file", path=path or "?", offset=offset + exc.start) from None


_CPG_NAMES = {"utf8": "UTF-8", "utf-8": "UTF-8", "65001": "UTF-8", "gbk": "GBK", "936": "GBK",
              "cp936": "GBK", "gb2312": "GBK", "gb18030": "GB18030", "54936": "GB18030",
              "big5": "BIG5", "950": "BIG5", "latin1": "ISO-8859-1", "iso-8859-1": "ISO-8859-1",
              "1252": "CP1252", "cp1252": "CP1252", "ansi 1252": "CP1252"}


def _dbf_encoding(shp: Path) -> tuple[str, tuple[str, dict]]:
    """(encoding, how it was decided) for the DBF beside ``shp``; *how* is a ``note.*``
    message key and its values."""
    cpg = _sibling(shp, ".cpg")
    if cpg is not None:
        raw = cpg.read_bytes().decode("ascii", "replace").strip()
        enc = _CPG_NAMES.get(raw.lower().replace("_", "-"))
        if enc is None:
            enc = raw.upper()
            try:
                "".encode(enc)
            except LookupError:
                raise DataFileError.of("error.cpg_unknown", cpg=cpg, raw=raw) from None
        return enc, ("note.encoding_cpg", {"enc": enc, "cpg": cpg.name})
    dbf = _sibling(shp, ".dbf")
    data = dbf.read_bytes()
    if len(data) < 32:
        raise DataFileError.of("error.dbf_truncated", dbf=dbf, size=len(data))
    header_len = struct.unpack("<H", data[8:10])[0]
    names = b"".join(data[p:p + 11].split(b"\0")[0] for p in range(32, min(header_len, len(data)) - 31, 32)
                     if data[p] != 0x0D)
    try:  # the records and the field names only: descriptors hold binary widths (254 = 0xFE)
        enc = detect_encoding(data[header_len:], dbf, header_len)
        enc = enc if detect_encoding(names, dbf) == "UTF-8" or enc != "UTF-8" else "GB18030"
    except DataFileError:
        enc, cut = _dbf_cut_values(data, header_len, dbf)
        return enc, ("note.encoding_cut_values", {"enc": enc, "n": cut})
    text = data[header_len:] + names
    how = "note.encoding_detected_no_cpg" if any(b > 127 for b in text) else "note.encoding_ascii_no_cpg"
    return enc, (how, {"enc": enc})


def _dbf_cut_values(data: bytes, header_len: int, dbf: Path) -> tuple[str, int]:
    """``("GB18030", number of values cut)`` when the records decode once the GBK values
    cut inside a character at their field's width lose their broken last byte (as GDAL
    reads them); else the encoding error, naming the file's byte."""
    n, _, rec_len, fields = _dbf_fields(data)
    n = min(n, (len(data) - header_len) // max(rec_len, 1))
    kept, cut = bytearray(), 0
    for r in range(n):
        rec = data[header_len + r * rec_len: header_len + (r + 1) * rec_len]
        for typ, off, width, _ in fields:
            v = rec[off:off + width]
            if typ == "C" and len(v) == width and v[-1:] > b"\x80":
                try:
                    v.decode("gb18030")
                except UnicodeDecodeError as exc:
                    if exc.start == width - 1:
                        v, cut = v[:-1], cut + 1
            kept += v + b" "
    try:
        bytes(kept).decode("gb18030")
    except UnicodeDecodeError:
        detect_encoding(data[header_len:], dbf, header_len)  # raises, naming the byte
    return "GB18030", cut


def _sibling(path: Path, suffix: str) -> Path | None:
    for s in (suffix, suffix.upper()):
        p = path.with_suffix(s)
        if p.exists():
            return p
    return None


# -- format readers: each returns (DataFrame of attributes, WKB/geometry array, crs, encoding,
# -- how the encoding was decided as (note.* message key, values))


def check_input_file(path: Path) -> None:
    """Refuse a missing path, a folder or an empty file with a keyed error naming it."""
    if not path.exists():
        raise DataFileError.of("error.file_not_found", path=path)
    if path.is_dir():
        raise DataFileError.of("error.is_folder", path=path)
    if path.stat().st_size == 0:
        raise DataFileError.of("error.file_empty", path=path)


def _raw_read(path, layer=None, encoding=None, fids: list | None = None, data: bytes | None = None, *,
              skip: int = 0, count: int | None = None, columns: list[str] | None = None, geometry: bool = True):
    """(attributes, WKB, declared CRS) of one layer; ``fids`` (a list) receives the
    feature ids (for a Shapefile: the 0-based DBF record of each row); ``data``: the
    file's content, read instead of ``path`` (which still names it in errors). ``skip``,
    ``count``: the rows ``skip`` … ``skip + count`` only; ``columns``: these attributes
    only; ``geometry=False``: no geometry (the WKB is None)."""
    import pyogrio

    kwargs: dict = {"skip_features": skip, "max_features": count, "columns": columns, "read_geometry": geometry}
    if encoding:
        kwargs["encoding"] = encoding
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta, got_fids, geom, field_data = pyogrio.raw.read(str(path) if data is None else data, layer=layer,
                                                                return_fids=fids is not None, **kwargs)
    except UnicodeDecodeError as exc:
        raise DataFileError.of("error.columns_undecodable", path=path, encoding=encoding or "UTF-8",
                               reason=exc.reason, start=exc.start) from None
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, FieldError …
        raise DataFileError.of("error.vector_unreadable", path=path, detail=_short(exc, path)) from None
    if fids is not None:
        fids.extend(np.asarray(got_fids).tolist())
    cols = {name: data for name, data in zip(meta["fields"], field_data, strict=True)}
    df = pd.DataFrame(cols)
    for c in df.columns:
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype):
            df[c] = df[c].map(lambda v: v.strip() if isinstance(v, str) else v)
    return df, geom, meta.get("crs")


DETAIL_CHARS = 600
"""Longest reader message (GDAL, pyogrio, csv) quoted in an error; longer ones end at a word."""


def _short(exc: Exception, path: str | Path | None = None) -> str:
    """The message of a reader's ``exc`` on one line, whole (or cut at a word with ``…``
    beyond :data:`DETAIL_CHARS`), with ``path`` shortened to its name (the error names it).

    Examples
    --------
    >>> _short(RuntimeError("'/a/b/220800.json' not recognized as being in a supported file format."), "/a/b/220800.json")
    "'220800.json' not recognized as being in a supported file format."
    """
    s = " ".join(str(exc).split()) or type(exc).__name__
    if path is not None and str(path) != Path(path).name:
        s = s.replace(str(path), Path(path).name)
    if len(s) <= DETAIL_CHARS:
        return s
    cut = s[:DETAIL_CHARS].rsplit(" ", 1)[0]
    return cut + " …"


def _shapefile_header(path: Path, encoding: str | None):
    """``(encoding, how it was found, the format's notes)`` of a Shapefile, after checking
    that its .dbf and .shx are there and agree with the .shp (whole-file and chunked reads)."""
    if _sibling(path, ".dbf") is None:
        raise DataFileError.of("error.dbf_missing", path=path, name=path.with_suffix(".dbf").name)
    shx = _sibling(path, ".shx")
    if shx is None:
        raise DataFileError.of("error.shx_missing", path=path, name=path.with_suffix(".shx").name)
    notes = _check_shp_sizes(path, shx)
    if encoding:
        return encoding.upper(), ("note.encoding_given", {"enc": encoding.upper()}), notes
    enc, note = _dbf_encoding(path)
    return enc, note, notes


def _read_shapefile(path: Path, encoding: str | None):
    enc, note, notes = _shapefile_header(path, encoding)
    fids: list[int] = []
    df, geom, crs = _raw_read(path, encoding=enc, fids=fids)
    return _exact_dbf_integers(_sibling(path, ".dbf"), df, fids), geom, crs, notes, note


def _dbf_fields(data: bytes) -> tuple[int, int, int, list[tuple[str, int, int, int]]]:
    """``(records, header length, record length, [(type, offset, width, decimals)])`` of a DBF."""
    n, head_len, rec_len = struct.unpack("<IHH", data[4:12])
    fields, offset, pos = [], 1, 32
    while pos + 32 <= min(head_len, len(data)) and data[pos] != 0x0D:
        typ, width, dec = chr(data[pos + 11]), data[pos + 16], data[pos + 17]
        fields.append((typ, offset, width, dec))
        offset += width
        pos += 32
    return n, head_len, rec_len, fields


def _exact_dbf_integers(dbf: Path, df: pd.DataFrame, fids: list[int]) -> pd.DataFrame:
    """Whole numbers of wide DBF Numeric columns, as GDAL reads them into floats (18-digit
    project codes would lose their last digits), read again from the DBF's own text."""
    import mmap

    with open(dbf, "rb") as f:  # mapped, not read: a streamed import reads one chunk's records at a time
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if dbf.stat().st_size else b""
    n, head_len, rec_len, fields = _dbf_fields(data)
    if len(fields) != len(df.columns) or not len(df) or rec_len < 1:
        return df
    n = min(n, (len(data) - head_len) // rec_len)
    records = np.frombuffer(data, dtype=f"S{rec_len}", count=n, offset=head_len)
    rows = np.asarray(fids, dtype="int64")
    if len(rows) != len(df) or (rows.size and (rows.min() < 0 or rows.max() >= n)):
        return df
    for col, (typ, offset, width, dec) in zip(df.columns, fields, strict=True):
        if typ in "NF" and dec == 0 and df[col].dtype.kind == "f":
            df[col] = [_dbf_int(bytes(r)[offset:offset + width]) for r in records[rows]]
        elif typ in "NF" and df[col].dtype.kind == "f" and (np.abs(df[col]) >= 2 ** 53).any():
            # N(24,6) holding 220821202400100001.000000: a float would keep 16 digits
            big = np.flatnonzero((np.abs(df[col]) >= 2 ** 53).to_numpy())
            values = df[col].astype(object)
            for i in big:
                values.iloc[i] = _dbf_exact(bytes(records[rows[i]])[offset:offset + width])
            df[col] = values
    return df


def _dbf_exact(raw: bytes):
    """A DBF number too large for a float's digits, from its own text: a whole number
    (``220821202400100001.000000``) as an int, any other as its text."""
    text = raw.decode("ascii", "replace").strip()
    m = re.fullmatch(r"([-+]?\d+)(?:\.0*)?", text)
    return int(m.group(1)) if m else text


def _dbf_int(raw: bytes):
    text = raw.decode("ascii", "replace").strip()
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    return None if not text or set(text) <= {"*"} else text


def _check_shp_sizes(shp: Path, shx: Path) -> list[Message]:
    """Truncated .shp and .shx files claiming more records than the .shp holds are
    refused; a main header whose file length is stale while the records and the .shx
    agree (GDAL reads it) gives a note."""
    size = shp.stat().st_size
    if size < 100:
        raise DataFileError.of("error.shp_too_short", shp=shp, size=size)
    with open(shp, "rb") as f:
        head = f.read(100)
    code, = struct.unpack(">i", head[:4])
    declared = struct.unpack(">i", head[24:28])[0] * 2
    if code != 9994:
        raise DataFileError.of("error.shp_bad_code", shp=shp, code=code)
    shx_size = shx.stat().st_size
    n_index = (shx_size - 100) // 8
    ends = np.zeros(0, dtype="int64")
    if shx_size >= 100:
        with open(shx, "rb") as f:
            f.seek(100)
            idx = f.read(8 * n_index)
        offsets = np.frombuffer(idx, dtype=">i4").reshape(-1, 2) if idx else np.zeros((0, 2), ">i4")
        ends = offsets[:, 0].astype("int64") * 2 + 8 + offsets[:, 1].astype("int64") * 2
    notes = []
    if declared != size:
        if not (len(ends) and ends.max() == size):
            raise DataFileError.of("error.shp_size_mismatch", shp=shp, declared=declared, size=size)
        notes.append(Message("note.shp_stale_header", shp=shp, declared=declared, size=size))  # GDAL reads it
    if len(ends) and ends.max() > size:
        bad = int(np.argmax(ends > size)) + 1
        raise DataFileError.of("error.shx_mismatch", shx=shx, n=n_index, bad=bad, shp=shp.name, size=size)
    return notes


def _read_gpkg(path: Path, layer: str | None):
    layer = _gpkg_layer(path, layer)
    df, geom, crs = _raw_read(path, layer=layer)
    return df, geom, crs, "UTF-8", ("note.encoding_gpkg", {"enc": "UTF-8"}), layer


def _gpkg_layer(path: Path, layer: str | None) -> str:
    """The layer of a GeoPackage to read: the one given, or its only spatial layer."""
    import pyogrio

    try:
        layers = pyogrio.list_layers(str(path))
    except Exception as exc:
        raise DataFileError.of("error.gpkg_unreadable", path=path, detail=_short(exc, path)) from None
    spatial = [str(name) for name, gtype in layers if gtype is not None]
    if layer is None:
        if len(spatial) == 1:
            layer = spatial[0]
        elif not spatial:
            raise InputError.of("error.gpkg_no_geometry", path=path)
        else:
            raise InputError.of("error.gpkg_several_layers", path=path, n=len(spatial), layers=", ".join(spatial))
    elif layer not in [str(n) for n, _ in layers]:
        raise InputError.of("error.gpkg_no_layer", path=path, layer=layer, layers=", ".join(spatial))
    return layer


def _read_kml(path: Path):
    import pyogrio

    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(str(path))]
    except Exception as exc:
        raise DataFileError.of("error.kml_unreadable", path=path, detail=_short(exc, path)) from None
    frames, geoms = [], []
    for lyr in layers:
        df, geom, _ = _raw_read(path, layer=lyr)
        frames.append(df)
        geoms.append(geom)
    if not frames:
        raise DataFileError.of("error.kml_empty", path=path)
    df = pd.concat(frames, ignore_index=True)
    geom = np.concatenate(geoms) if geoms else np.array([], dtype=object)
    notes = []
    if "Name" in df.columns:
        default = df["Name"].map(lambda v: isinstance(v, str) and v.strip().casefold() in KML_DEFAULT_NAMES)
        if default.any():
            names = sorted(set(df.loc[default, "Name"].str.strip()))
            df.loc[default, "Name"] = None
            notes.append(Message("note.kml_default_names", path=path, n=int(default.sum()), names=", ".join(names)))
    return df, geom, "EPSG:4326", notes


KML_DEFAULT_NAMES = frozenset(n.casefold() for n in (
    "未命名多边形", "未命名地标", "未命名路径", "未命名的多边形", "未命名的地标", "未命名", "Untitled Polygon",
    "Untitled Placemark", "Untitled Path", "Untitled"))
"""Names Google Earth (and 奥维/Ovi maps) give every new placemark: not a name, never a code."""


def _read_csv(path: Path, encoding: str | None, mapping=None):
    data = path.read_bytes()
    enc = encoding.upper() if encoding else detect_encoding(data, path)
    note = ("note.encoding_given" if encoding else "note.encoding_detected", {"enc": enc})
    import io as _io

    limit = csv.field_size_limit()
    try:  # the csv module refuses cells over 128 KiB by default: a WKT of ~5,500 vertices
        csv.field_size_limit(max(limit, CSV_FIELD_LIMIT))
        df = pd.read_csv(_io.StringIO(_without_note_lines(data.decode(enc.replace("UTF-8", "utf-8-sig")))), dtype=str,
                         keep_default_na=False, sep=None, engine="python")
    except Exception as exc:
        if "field larger than field limit" in str(exc):
            raise DataFileError.of("error.csv_field_too_large", path=path, limit=CSV_FIELD_LIMIT >> 20) from None
        raise DataFileError.of("error.csv_unreadable", path=path, detail=_short(exc)) from None
    finally:
        csv.field_size_limit(limit)
    df, geom, declared, notes = _table_geometry(path, df, mapping)
    return df, geom, declared, notes, enc, note


def _without_note_lines(text: str) -> str:
    """``text`` without the trailing lines that start with ``#``: the note
    :func:`gis.outputs.write_csv` writes under a table (an export's source and date)."""
    lines = text.rstrip("\r\n").splitlines(keepends=True)
    n = len(lines)
    while n > 1 and lines[n - 1].lstrip().startswith("#"):
        n -= 1
    return "".join(lines[:n]) if n < len(lines) else text


def _table_geometry(path: Path, df: pd.DataFrame, mapping=None):
    """``(attributes, geometries, declared CRS, notes)`` of a table of text cells (a CSV
    or an Excel sheet): a WKT column, or one row per vertex in lon/lat or X/Y columns."""
    from .fields import norm

    df = _drop_table_notes(df)
    normed = {norm(c): c for c in df.columns}
    wkt = next((normed[c] for c in _WKT_COLUMNS if c in normed), None)
    if wkt is not None:
        geom = np.empty(len(df), dtype=object)
        for i, raw in enumerate(df[wkt]):
            s = raw.strip() if isinstance(raw, str) else ""
            if not s:
                geom[i] = None
                continue
            try:
                g = shapely.from_wkt(s)
            except Exception:
                geom[i] = _Unreadable("reject.wkt_unparsable", column=wkt, text=s[:40])
                continue
            geom[i] = g
        return df.drop(columns=[wkt]), geom, None, []
    lon = next((normed[c] for c in _LON_COLUMNS if c in normed), None)
    lat = next((normed[c] for c in _LAT_COLUMNS if c in normed), None)
    if lon is None or lat is None:
        raise InputError.of("error.csv_no_geometry", path=path, columns=", ".join(map(str, df.columns)))
    return _vertices_to_polygons(path, df, lon, lat, normed, mapping)


_NOTE_STARTS = ("#", "agrigis ")
"""How the notes under an agrigis table begin (:func:`gis.outputs.write_csv` writes
``# note``; an export's first note is ``agrigis registry export: …``)."""


def _drop_table_notes(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without the notes written under an agrigis CSV/XLSX table: a trailing
    block of rows that fill only their first cell, the first of them starting with
    ``#`` or ``agrigis `` (an export is imported back without an "empty geometry"
    row)."""
    if len(df.columns) < 2 or df.empty:
        return df
    filled = df.map(lambda v: isinstance(v, str) and v.strip() != "")
    only_first = filled.iloc[:, 0] & ~filled.iloc[:, 1:].any(axis=1)
    n = 0
    while n < len(df) and only_first.iloc[len(df) - 1 - n]:
        n += 1
    if n and str(df.iloc[len(df) - n, 0]).lstrip().startswith(_NOTE_STARTS):
        return df.iloc[: len(df) - n]
    return df


class _Unreadable:
    """Placeholder for a geometry that could not be read, with the reason (a message key
    of :data:`gis.labels.LABELS` and its values, rendered in the reader's language)."""

    def __init__(self, key: str, **params):
        self.key, self.params = key, params

    def reason(self, lang: str = DEFAULT_LANG) -> str:
        return message(self.key, lang, **self.params)


def _vertices_to_polygons(path, df, lon, lat, normed, mapping=None):
    """One row per vertex → one polygon per project code (vertex order = row order).

    ``mapping`` (a :class:`~layers.fields.FieldMapping`, default the bundled one) finds
    the project-code column, so a user's ``--mapping`` names it too. A boundary-point
    table of one parcel (no code column, or only point numbers 1…n / J1…Jn in it) is one
    parcel, coded with the file's name, with a note; any other table of one point per
    code is points, each row rejected."""
    from .fields import load_mapping

    df = df.rename(columns=reserved_names(df.columns, reserved=()))  # keep clear of _x, _y, _line, _o
    x, y = _coordinate(df[lon]), _coordinate(df[lat])
    code_col = (mapping or load_mapping()).match_columns(df.columns).get("project_code")
    order = next((normed[c] for c in _ORDER_COLUMNS if c in normed), None)
    if code_col is None or not df[code_col].duplicated().any():
        if _one_parcel_table(df, code_col, x, y):
            return _one_parcel(path, df, (lon, lat), (x, y), code_col or order)
        # one point per row: points are not parcels; each row is rejected as a point
        geom = np.array([_Unreadable("reject.csv_point")] * len(df), dtype=object)
        return df.drop(columns=[lon, lat]), geom, None, []
    work = df.assign(_x=x, _y=y, _line=np.arange(2, len(df) + 2))
    if order is not None:
        work = work.assign(_o=pd.to_numeric(work[order], errors="coerce")).sort_values([code_col, "_o"], kind="stable")
    rows, geoms = [], []
    for _code, grp in work.groupby(code_col, sort=False):
        first = grp.iloc[0]
        attrs = first.drop(labels=[c for c in (lon, lat, order, "_x", "_y", "_o") if c in first.index])
        bad = grp[grp["_x"].isna() | grp["_y"].isna()]
        if len(bad):
            g = _Unreadable("reject.coordinate_not_number", x=bad.iloc[0][lon], y=bad.iloc[0][lat],
                            line=int(bad.iloc[0]["_line"]))
        elif len(grp) < 3:
            g = _Unreadable("reject.too_few_vertices", n=len(grp))
        else:
            g = shapely.Polygon(np.c_[grp["_x"].to_numpy(), grp["_y"].to_numpy()])
        rows.append(attrs)
        geoms.append(g)
    out = pd.DataFrame(rows).drop(columns=["_line"]).reset_index(drop=True)
    return out, np.array(geoms, dtype=object), None, []


def _coordinate(values: pd.Series) -> pd.Series:
    """Numbers of a coordinate column of text cells (full-width digits, spaces and
    thousands commas allowed); NaN where a cell is not a number."""
    import unicodedata

    text = values.astype(str).map(lambda v: unicodedata.normalize("NFKC", v).replace(",", "").strip())
    return pd.to_numeric(text, errors="coerce")


_POINT_NAME = re.compile(r"(?:J|JZD)?(\d+)", re.IGNORECASE)


def _one_parcel_table(df: pd.DataFrame, code_col: str | None, x: pd.Series, y: pd.Series) -> bool:
    """True for the boundary-point table of one parcel: three or more numeric points and
    no project code (no code column, or one holding only the point numbers 1…n or J1…Jn)."""
    if len(df) < 3 or x.isna().any() or y.isna().any():
        return False
    if code_col is None:
        return True
    found = [_POINT_NAME.fullmatch(str(v).strip()) for v in df[code_col]]
    if not all(found):
        return False
    numbers = sorted(int(m.group(1)) for m in found)
    return numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def _one_parcel(path: Path, df: pd.DataFrame, cols: tuple[str, str], xy: tuple[pd.Series, pd.Series],
                point_col: str | None):
    """The rows of a one-parcel boundary-point table as one parcel coded with the file's
    stem (points in the order of their numbers, else of the rows), with a note."""
    x, y = xy
    if point_col is not None:
        key = [int(m.group(1)) if (m := _POINT_NAME.fullmatch(str(v).strip())) else None for v in df[point_col]]
        if all(k is not None for k in key):
            pos = np.argsort(np.asarray(key), kind="stable")
            x, y = x.iloc[pos], y.iloc[pos]
    code = Path(str(path)).stem
    attrs = df.iloc[[0]].drop(columns=[c for c in (*cols, point_col) if c is not None]).reset_index(drop=True)
    attrs.insert(0, "项目编号", code)
    geom = np.array([shapely.Polygon(np.c_[x.to_numpy(), y.to_numpy()])], dtype=object)
    return attrs, geom, None, [Message("note.one_parcel_table", path=path, n=len(df), code=code)]


def _extract(path: Path, tmp: Path, kind: str) -> Path:
    """Unpack the one layer of a .zip (Shapefile etc.) or .kmz and return the file to read.

    The one archive guard: before anything is written, the central directory is checked
    (entry count, unsafe names) and only the chosen layer's files (a Shapefile's
    .shp/.shx/.dbf/.prj/.cpg, or the one .kml) are bounded in size and ratio and
    unpacked; the bytes really written are counted too, since the directory can lie.
    """
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > MAX_ARCHIVE_ENTRIES:
                raise DataFileError.of("error.archive_too_many_entries", path=path, n=len(infos),
                                       limit=MAX_ARCHIVE_ENTRIES)
            bad = [i.filename for i in infos if i.filename.startswith(("/", "\\"))
                   or ".." in Path(i.filename.replace("\\", "/")).parts]
            if bad:
                raise DataFileError.of("error.archive_unsafe", path=path, name=bad[0])
            members = _layer_members(path, infos, kind)
            _check_sizes(path, members)
            budget = [MAX_UNPACKED_BYTES]
            for info in members:
                _unpack(path, z, info, tmp, budget)
    except zipfile.BadZipFile:
        raise DataFileError.of("error.archive_invalid", path=path, kind=kind.upper()) from None
    return tmp / members[0].filename


def _layer_members(path: Path, infos: list, kind: str) -> list:
    """The entries of the one layer to read: the layer's file first, then its side files."""
    wanted = (".kml",) if kind == "kmz" else (".shp", ".gpkg", ".geojson", ".json", ".kml", ".csv")
    files = [i for i in infos if not i.is_dir()]
    found = sorted((i for i in files if Path(i.filename).suffix.lower() in wanted
                    and not Path(i.filename).name.startswith(".")), key=lambda i: i.filename)
    if not found:
        raise DataFileError.of("error.archive_no_kml" if kind == "kmz" else "error.archive_no_layer", path=path)
    if len(found) > 1 and kind == "zip":
        raise InputError.of("error.archive_several_layers", path=path, names=", ".join(i.filename for i in found))
    main = found[0]
    if Path(main.filename).suffix.lower() != ".shp":
        return [main]
    stem = main.filename[: -len(".shp")].lower()
    parts = [i for i in files if i is not main and i.filename[: -4].lower() == stem
             and i.filename[-4:].lower() in _SHP_PARTS]
    return [main, *parts]


def _check_sizes(path: Path, members: list) -> None:
    """Refuse, before unpacking, members that expand too much (as the directory says)."""
    total = 0
    for info in members:
        total += info.file_size
        member = f"{path}!{info.filename}"
        if total > MAX_UNPACKED_BYTES:
            raise DataFileError.of("error.archive_too_large", member=member, size=total, limit=MAX_UNPACKED_BYTES)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_MIN_BYTES and ratio > MAX_RATIO:
            raise DataFileError.of("error.archive_ratio", member=member, size=f"{info.file_size / 1e6:.1f}",
                                   packed=f"{info.compress_size / 1e3:.0f}", ratio=f"{ratio:.0f}", limit=MAX_RATIO)


def _unpack(path: Path, z: zipfile.ZipFile, info, tmp: Path, budget: list[int]) -> None:
    """Copy one member into ``tmp``, counting the bytes really written against ``budget``."""
    member = f"{path}!{info.filename}"
    target = tmp / info.filename
    if not target.resolve().is_relative_to(tmp.resolve()):
        raise DataFileError.of("error.archive_unsafe", path=path, name=info.filename)
    written = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with z.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                budget[0] -= len(chunk)
                if written > info.file_size:
                    raise DataFileError.of("error.archive_member_corrupt", member=member,
                                           detail=f"more than the {info.file_size} bytes it declares")
                if budget[0] < 0:
                    raise DataFileError.of("error.archive_too_large", member=member,
                                           size=MAX_UNPACKED_BYTES - budget[0], limit=MAX_UNPACKED_BYTES)
                dst.write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise DataFileError.of("error.archive_member_corrupt", member=member, detail=_short(exc)) from None
    except OSError as exc:
        if isinstance(exc, DataFileError):
            raise
        folder = tempfile.gettempdir()
        if exc.errno == errno.ENOSPC:
            raise DataFileError.of("error.archive_unpack_disk_full", member=member, folder=folder) from None
        raise DataFileError.of("error.archive_unpack_failed", member=member, folder=folder,
                               detail=exc.strerror or str(exc)) from None


def _name_members(exc: AgrigisError, tmp: str, archive: Path) -> AgrigisError:
    """``exc`` with every temporary path of an unpacked member written ``archive!member``."""
    prefix = tmp.rstrip("/") + "/"

    def fix(v):
        if isinstance(v, (str, Path)) and prefix in str(v):
            return str(v).replace(prefix, f"{archive}!")
        if isinstance(v, Message):
            return Message(v.key, **{k: fix(x) for k, x in v.params.items()})
        return v

    if getattr(exc, "key", None) is None:
        return type(exc)(fix(str(exc))) if prefix in str(exc) else exc
    return type(exc).of(exc.key, **{k: fix(v) for k, v in exc.params.items()})


# -- geometry cleaning -------------------------------------------------------------


_TYPE_KEYS = {"Point": "geometry.point", "MultiPoint": "geometry.point", "LineString": "geometry.line",
              "MultiLineString": "geometry.line", "LinearRing": "geometry.line"}


def clean_geometries(geoms: np.ndarray, lang: str = DEFAULT_LANG, *,
                     had_z: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repair parcel geometries.

    Parameters
    ----------
    geoms : ndarray of shapely geometries (``None`` or ``_Unreadable`` allowed)
    lang : {"zh", "en"}
        Language of the reject and repair texts.
    had_z : ndarray of bool, optional
        Which geometries had Z values as read (a CRS transform before this drops them
        silently); the "Z dropped" repair is given to these as well.

    Returns
    -------
    cleaned : ndarray of (Multi)Polygon or None
    reject : ndarray of str or None — why a row cannot be used
    repair : ndarray of str or None — what was repaired (with the area change)

    Examples
    --------
    >>> from shapely import Polygon
    >>> bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    >>> g, rej, rep = clean_geometries(np.array([bowtie], dtype=object), lang="en")
    >>> g[0].geom_type, rej[0], rep[0]
    ('MultiPolygon', None, 'self-intersecting ring repaired (make_valid, Self-intersection[1 1]), its signed area was 0 as drawn, now it covers the polygons enclosed')
    >>> clean_geometries(np.array([bowtie], dtype=object))[2][0]
    '多边形自相交,已修复(make_valid,Self-intersection[1 1]),按原绘制计算的面积为 0,修复后覆盖其围成的各个多边形'
    """
    n = len(geoms)
    reject = np.empty(n, dtype=object)
    repair = np.empty(n, dtype=object)
    is_geom = np.array([isinstance(g, shapely.Geometry) for g in geoms], dtype=bool)
    for i in np.flatnonzero(~is_geom):
        g = geoms[i]
        reject[i] = g.reason(lang) if isinstance(g, _Unreadable) else message("reject.empty_geometry", lang)
    arr = np.array([g if ok else None for g, ok in zip(geoms, is_geom, strict=True)], dtype=object)
    has_z = real_z(arr) if had_z is None else (real_z(arr) | np.asarray(had_z, dtype=bool))
    arr = shapely.force_2d(arr)
    poly = _polygonal_only(arr, is_geom, reject, repair, lang)
    good = poly & np.array([r is None for r in reject])
    _repair_invalid(arr, good, reject, repair, lang)
    ok = np.array([r is None for r in reject])
    out = np.empty(n, dtype=object)
    out[ok] = arr[ok]
    sep, z_dropped = label("registry.separator", lang), message("repair.z_dropped", lang)
    for i in np.flatnonzero(ok & has_z):
        repair[i] = sep.join(filter(None, [repair[i], z_dropped]))
    out[~ok] = None
    return out, reject, repair


def _polygonal_only(arr: np.ndarray, is_geom: np.ndarray, reject: np.ndarray, repair: np.ndarray,
                    lang: str) -> np.ndarray:
    """Reject empty and non-polygonal geometries, keep the polygonal parts of collections
    (in place); returns which rows now hold a non-empty (Multi)Polygon."""
    empty = is_geom & shapely.is_empty(arr)
    reject[empty] = message("reject.empty_geometry", lang)
    types = shapely.get_type_id(arr)
    poly = np.isin(types, (3, 6))
    coll = types == 7
    for i in np.flatnonzero(is_geom & ~empty & ~poly & ~coll):
        t = arr[i].geom_type
        kind = label(_TYPE_KEYS[t], lang) if t in _TYPE_KEYS else t
        reject[i] = message("reject.not_polygon", lang, kind=kind, geom_type=t)
    for i in np.flatnonzero(is_geom & ~empty & coll):
        parts = [p for p in shapely.get_parts(arr[i]) if p.geom_type in ("Polygon", "MultiPolygon")]
        if not parts:
            reject[i] = message("reject.collection_without_polygon", lang)
        else:
            dropped = len(shapely.get_parts(arr[i])) - len(parts)
            arr[i] = shapely.union_all(parts)
            repair[i] = message("repair.collection", lang, kept=len(parts), dropped=dropped)
            poly[i] = True
    return is_geom & ~empty & poly


def _repair_invalid(arr: np.ndarray, good: np.ndarray, reject: np.ndarray, repair: np.ndarray, lang: str) -> None:
    """``make_valid`` the invalid ones among ``good`` (in place), saying why and the area change;
    a polygon that collapses to nothing is rejected."""
    valid = np.zeros(len(arr), dtype=bool)
    valid[good] = shapely.is_valid(arr[good])
    fix = good & ~valid
    if not fix.any():
        return
    before = shapely.area(arr[fix])
    fixed = shapely.make_valid(arr[fix], method="structure", keep_collapsed=False)
    for j, (i, made) in enumerate(zip(np.flatnonzero(fix), fixed, strict=True)):
        g = _polygonal(made)
        why = shapely.is_valid_reason(arr[i])
        if g is None or g.is_empty:
            reject[i] = message("reject.collapses", lang, why=why)
            continue
        key = "repair.self_intersection" if "Self-intersection" in why or "Ring Self" in why else "repair.invalid"
        if before[j] > 0:
            change = message("repair.area_change", lang, pct=(g.area - before[j]) / before[j] * 100)
        else:
            change = message("repair.zero_area", lang)
        repair[i] = message(key, lang, why=why, change=change)
        arr[i] = g


def real_z(geoms: np.ndarray) -> np.ndarray:
    """Which geometries carry a Z value other than 0 (an elevation that dropping Z loses;
    the ``,0`` altitude of every KML point is none).

    Examples
    --------
    >>> from shapely import Point
    >>> real_z(np.array([Point(1, 2, 150), Point(1, 2, 0), Point(1, 2), None], dtype=object)).tolist()
    [True, False, False, False]
    """
    arr = np.asarray(geoms, dtype=object)
    out = np.zeros(len(arr), dtype=bool)
    has = np.flatnonzero(shapely.has_z(arr))
    if len(has):
        xyz, idx = shapely.get_coordinates(arr[has], include_z=True, return_index=True)
        z = xyz[:, 2]
        nonzero = np.bincount(idx, weights=(np.isfinite(z) & (z != 0)).astype(float), minlength=len(has)) > 0
        out[has[nonzero]] = True
    return out


def _polygonal(g):
    if g is None:
        return None
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else None


def _geoms_from_wkb(raw: np.ndarray) -> np.ndarray:
    """Shapely geometries from WKB; one that cannot be parsed becomes an ``_Unreadable``."""
    try:  # fast path: every geometry parses
        return np.asarray(shapely.from_wkb(np.asarray(raw, dtype=object)), dtype=object)
    except Exception:
        pass
    out = np.empty(len(raw), dtype=object)
    for i, b in enumerate(raw):
        if b is None:
            out[i] = None
            continue
        try:
            out[i] = shapely.from_wkb(b)
        except Exception as exc:
            msg = str(exc)
            if "at least 4" in msg or "LinearRing" in msg:
                out[i] = _Unreadable("reject.ring_too_short")
            else:
                out[i] = _Unreadable("reject.unreadable_geometry", error=msg[:80])
    return out


# -- CRS ----------------------------------------------------------------------------


CRS_PROBE_ROWS = 20_000
"""Geometries whose coordinates decide the CRS (:func:`_first_coords`), read once per file."""


def _first_coords(geoms: np.ndarray, limit: int = CRS_PROBE_ROWS) -> tuple[np.ndarray, np.ndarray]:
    ok = [g for g in geoms if isinstance(g, shapely.Geometry) and not g.is_empty]
    if not ok:
        return np.array([]), np.array([])
    xy = shapely.get_coordinates(np.array(ok[:limit], dtype=object))
    return xy[:, 0], xy[:, 1]


def resolve_crs(declared, x, y, *, source: str, given=None, lang: str = DEFAULT_LANG):
    """Decide the source CRS. Returns ``(pyproj.CRS, swapped: bool, note: str, warn: bool)``.

    ``note`` says how the CRS was decided, in ``lang``; ``warn`` is True when it was
    guessed from the coordinates. Errors (a CRS that does not fit) carry a message key:
    ``str(exc)`` is English, ``exc.text(lang)`` either language.
    """
    import pyproj

    from gis import crs as gcrs

    if given is not None:
        try:
            crs = pyproj.CRS.from_user_input(given)
        except pyproj.exceptions.CRSError:
            raise CRSError.of("error.crs_given_unknown", given=given) from None
        _check(gcrs, crs, x, y, source, Message("error.crs_what_given", crs=given))
        return crs, False, message("note.crs_given", lang, crs=crs.to_string()), False
    if declared:
        crs = pyproj.CRS.from_user_input(declared)
        _check(gcrs, crs, x, y, source, Message("error.crs_what_declared"))
        name = crs.to_string() if crs.to_epsg() else crs.name
        return crs, False, message("note.crs_declared", lang, crs=name), False
    if len(x) == 0:
        return pyproj.CRS.from_user_input(CGCS2000), False, message("note.crs_no_coordinates", lang), False
    try:
        g = gcrs.guess_crs(x, y)
    except CRSError as exc:
        raise type(exc).of("error.no_crs_declared", source=source, problem=exc) from None
    note = message("note.crs_guessed", lang, crs=g.crs.to_string(), reason=g.reason_text(lang))
    return g.crs, bool(g.swapped), note, True


def _check(gcrs, crs, x, y, source, what):
    if len(x) == 0:
        return
    res = gcrs.check_crs(crs, x, y)
    if res.ok:
        return
    fix = ""
    if res.suggestion is not None:
        code = res.suggestion.crs.to_epsg()
        swap = Message("error.crs_fix_swapped") if res.suggestion.swapped else ""
        fix = Message("error.crs_fix", code=code, swap=swap)
    raise CRSError.of("error.crs_mismatch", source=source, what=what, reason=res.reason_message(), fix=fix)


# -- the entry point ------------------------------------------------------------------


def read_parcels(
    path: str | Path,
    *,
    layer: str | None = None,
    crs=None,
    source_datum: str | None = None,
    encoding: str | None = None,
    mapping=None,
    lang: str = DEFAULT_LANG,
) -> ReadResult:
    """Read one parcel file into EPSG:4490 polygons, with rejects and notes.

    Parameters
    ----------
    path : str or Path
        A .shp, .zip (a zipped Shapefile or other layer), .gpkg, .geojson/.json,
        .kml/.kmz or .csv file.
    layer : str, optional
        Layer of a GeoPackage that holds several.
    crs : optional
        Override the source CRS (when the file's CRS is missing or wrong).
    source_datum : {"gcj02", None}
        ``"gcj02"``: the lon/lat are Amap/Gaode GCJ-02 and are converted back.
    encoding : str, optional
        Override the text encoding of DBF/CSV attributes.
    mapping : layers.fields.FieldMapping, optional
        Column names to recognise (default: the bundled table); used to find the
        project code of CSVs with one row per vertex.
    lang : {"zh", "en"}
        Language of the reject reasons, repair texts and notes (default Chinese).

    Returns
    -------
    ReadResult
    """
    path = _check_read_args(path, encoding, source_datum)
    df, geoms, declared, enc_how, label, fmt_notes = _read_source(path, layer, encoding, mapping, crs)
    notes = _header_notes(enc_how, fmt_notes, lang)
    df, text_repair = clean_texts(df, notes, lang)
    n = len(df)
    df = df.reset_index(drop=True)
    df["_row"] = np.arange(1, n + 1)

    geoms, had_z, crs_note = _to_cgcs2000(geoms, declared, notes, source=label, columns=df.columns, crs=crs,
                                          source_datum=source_datum, lang=lang)
    frame, rej = _split_rows(df, geoms, had_z, text_repair, lang)
    return ReadResult(frame=frame, rejects=rej, source=label, encoding=_encoding_note(enc_how, lang),
                      crs_note=crs_note, notes=notes, n_read=n)


def _check_read_args(path, encoding: str | None, source_datum: str | None) -> Path:
    """``path`` as a Path, once it, ``encoding`` and ``source_datum`` are known to be usable."""
    path = Path(path)
    check_input_file(path)
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise DataFileError.of("error.unknown_file_type", path=path, suffix=suffix)
    if encoding is not None:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError.of("error.encoding_unknown", encoding=encoding) from None
    if source_datum not in (None, "cgcs2000", "wgs84", "gcj02"):
        raise InputError.of("error.source_datum", value=source_datum)
    return path


def _encoding_note(enc_how, lang: str) -> str | None:
    return message(enc_how[0], lang, **enc_how[1]) if enc_how else None


def _header_notes(enc_how, fmt_notes: list, lang: str) -> list[str]:
    """The notes of a file before its rows are read: its encoding and the format's notes."""
    notes: list[str] = []
    if enc_how:
        notes.append(message("note.encoding", lang, how=_encoding_note(enc_how, lang)))
    notes.extend(m.text(lang) for m in fmt_notes)
    return notes


def _split_rows(df: pd.DataFrame, geoms: np.ndarray, had_z: np.ndarray, text_repair: list, lang: str):
    """``(frame, rejects)`` of rows read (``df`` with ``_row``, geometries in EPSG:4490):
    geometries repaired (:func:`clean_geometries`), unusable rows apart with their reason."""
    import geopandas as gpd

    cleaned, reject, repair = clean_geometries(geoms, lang, had_z=had_z)
    bad = np.array([r is not None for r in reject], dtype=bool)
    sep = message("registry.separator", lang)
    df["_repair"] = [sep.join(filter(None, pair)) or None for pair in zip(text_repair, repair, strict=True)]
    raw_geoms = np.array([g if isinstance(g, shapely.Geometry) else None for g in geoms], dtype=object)
    frame = gpd.GeoDataFrame(df.loc[~bad].copy(), geometry=list(cleaned[~bad]), crs=CGCS2000)
    rej = gpd.GeoDataFrame(df.loc[bad].drop(columns=["_repair"]).copy(), geometry=list(raw_geoms[bad]), crs=CGCS2000)
    rej.insert(1, "reason", reject[bad])
    return frame, rej


def _to_cgcs2000(geoms, declared, notes: list[str], *, source: str, columns, crs, source_datum: str | None,
                 lang: str) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The geometries in EPSG:4490: CRS resolved (declared, given or guessed), swapped axes
    put right, GCJ-02 undone; returns ``(geometries, which had Z, CRS note)`` and adds notes
    (a guessed CRS, Amap-looking ``columns``, GCJ-02 undone)."""
    x, y = _first_coords(geoms)
    src_crs, swapped, crs_note = _source_crs(declared, (x, y), notes, source=source, columns=columns, crs=crs,
                                             source_datum=source_datum, lang=lang)
    geoms, had_z, any_geom = _reproject(geoms, src_crs, swapped, source_datum)
    if source_datum == "gcj02" and any_geom:
        notes.append(message("note.gcj02", lang))
    return geoms, had_z, crs_note


def _source_crs(declared, xy, notes: list[str], *, source: str, columns, crs, source_datum: str | None, lang: str):
    """``(CRS, swapped, CRS note)`` of a file from its first coordinates ``xy``; adds the
    notes of a guessed CRS and of Amap-looking ``columns``."""
    src_crs, swapped, crs_note, warn = resolve_crs(declared, *xy, source=source, given=crs, lang=lang)
    if warn:
        notes.append(message("note.no_crs", lang, crs_note=crs_note))
    if source_datum != "gcj02" and (signs := amap_signature(columns)):
        notes.append(message("note.amap_signature", lang, source=source, columns=", ".join(signs)))
    return src_crs, swapped, crs_note


def _reproject(geoms, src_crs, swapped: bool, source_datum: str | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(geometries in EPSG:4490, which had Z, whether any row has a geometry)``."""
    geoms = np.array(geoms, dtype=object)
    is_geom = np.array([isinstance(g, shapely.Geometry) for g in geoms], dtype=bool)
    had_z = real_z(np.where(is_geom, geoms, None))  # a transform below drops Z silently
    if swapped and is_geom.any():
        geoms[is_geom] = shapely.transform(geoms[is_geom], lambda c: c[:, ::-1])
    if is_geom.any() and not src_crs.equals(CGCS2000):
        import pyproj

        t = pyproj.Transformer.from_crs(src_crs, CGCS2000, always_xy=True)
        geoms[is_geom] = shapely.transform(geoms[is_geom], lambda c: np.c_[t.transform(c[:, 0], c[:, 1])])
    if source_datum == "gcj02" and is_geom.any():
        from gis.gcj02 import from_gcj02

        geoms[is_geom] = from_gcj02(geoms[is_geom])
    return geoms, had_z, bool(is_geom.any())


def _read_source(path: Path, layer: str | None, encoding: str | None, mapping, crs=None):
    """``(attributes, geometries, declared CRS, encoding note, label, format notes)`` of
    one file; an archive's layer is unpacked into a temporary folder that errors never name."""
    suffix = path.suffix.lower()
    label = str(path)
    with tempfile.TemporaryDirectory(prefix="agrigis-read-") as tmp:
        inner = path
        try:
            if suffix in (".zip", ".kmz"):
                inner = _extract(path, Path(tmp), suffix[1:])
                label = f"{path}!{inner.relative_to(tmp)}"
            df, geoms, declared, enc_how, layer, fmt_notes = _read_format(inner, layer, encoding, mapping, crs)
        except AgrigisError as exc:
            if inner is path:
                raise
            raise _name_members(exc, tmp, path) from None
    if layer is not None and inner.suffix.lower() in (".gpkg", ".xlsx", ".xls"):
        label = f"{label}:{layer}"
    return df, geoms, declared, enc_how, label, fmt_notes


def _read_format(inner: Path, layer: str | None, encoding: str | None, mapping, crs=None):
    """Dispatch on the file type: ``(attributes, geometries, declared CRS, encoding note,
    layer, notes)``; ``notes`` are :class:`~gis.errors.Message` s of the format's reader."""
    s = inner.suffix.lower()
    enc_how, notes = None, []
    if s == ".shp":
        df, wkb, declared, notes, enc_how = _read_shapefile(inner, encoding)
    elif s == ".gpkg":
        df, wkb, declared, _, enc_how, layer = _read_gpkg(inner, layer)
    elif s == ".kml":
        df, wkb, declared, notes = _read_kml(inner)
    elif s == ".txt" and (txt := _boundary_text(inner, encoding)) is not None:
        from .boundary_txt import read_boundary_txt

        text, enc_how = txt
        df, geoms, declared, notes = read_boundary_txt(text, inner, crs)
        return df, geoms, declared, enc_how, layer, notes
    elif s in (".csv", ".txt"):
        df, geoms, declared, notes, _, enc_how = _read_csv(inner, encoding, mapping)
        return df, geoms, declared, enc_how, layer, notes
    elif s in (".xlsx", ".xls"):
        from .sheets import read_sheet

        df, layer, notes = read_sheet(inner, layer, mapping)
        df, geoms, declared, more = _table_geometry(inner, df, mapping)
        return df, geoms, declared, None, layer, notes + more
    else:  # GeoJSON
        data, notes = _bare_feature_array(inner)
        df, wkb, declared = _raw_read(inner, data=data)
    return df, _geoms_from_wkb(wkb), declared, enc_how, layer, notes


MAX_JSON_ARRAY_BYTES = 512 << 20
"""A bare JSON array of features larger than this is not wrapped (GDAL cannot read it)."""


def _bare_feature_array(path: Path) -> tuple[bytes | None, list[Message]]:
    """A bare JSON array of GeoJSON Features (how Amap/DataV outlines are often saved)
    as a FeatureCollection, with a note; ``(None, [])`` for any other file (read as is).
    An array of something else is refused with what it holds."""
    import json

    with open(path, "rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"[") or path.stat().st_size > MAX_JSON_ARRAY_BYTES:
        return None, []
    try:
        items = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError.of("error.vector_unreadable", path=path, detail=_short(exc, path)) from None
    bad = next((i for i, f in enumerate(items) if not (isinstance(f, dict) and f.get("type") == "Feature")), None)
    if bad is not None or not items:
        what = "[]" if not items else json.dumps(items[bad], ensure_ascii=False)[:60]
        raise DataFileError.of("error.json_array_not_features", path=path, item=(bad or 0) + 1, what=what)
    doc = json.dumps({"type": "FeatureCollection", "features": items}, ensure_ascii=False).encode("utf-8")
    return doc, [Message("note.json_bare_array", path=path, n=len(items))]


def _boundary_text(path: Path, encoding: str | None) -> tuple[str, tuple] | None:
    """``(text, encoding note)`` when ``path`` is a 自然资源部 boundary-point file
    (:mod:`layers.boundary_txt`), else None (it is read as CSV)."""
    from .boundary_txt import is_boundary_txt

    data = path.read_bytes()
    enc = encoding.upper() if encoding else detect_encoding(data, path)
    text = data.decode(enc.replace("UTF-8", "utf-8-sig"), errors="strict")
    if not is_boundary_txt(text):
        return None
    return text, ("note.encoding_given" if encoding else "note.encoding_detected", {"enc": enc})


# -- text values and column names -------------------------------------------------------


AMAP_COLUMNS = ("adcode", "acroutes", "childrennum", "subfeatureindex", "centroid")
"""Attributes of Amap / DataV administrative outlines (GCJ-02 coordinates)."""


def amap_signature(columns) -> list[str]:
    """The columns of ``columns`` that Amap / DataV outlines carry (``adcode`` and
    friends); such a file's coordinates are GCJ-02.

    Examples
    --------
    >>> amap_signature(["adcode", "name", "childrenNum", "项目编号"])
    ['adcode', 'childrenNum']
    """
    return [str(c) for c in columns if str(c).casefold() in AMAP_COLUMNS]



def reserved_names(columns, reserved=_INTERNAL_NAMES, taken=()) -> dict[str, str]:
    """``{source column: new name}`` for source columns whose name agrigis uses itself.

    A column is renamed ``src_<name>`` when its name starts with ``_`` (agrigis's own
    columns), equals one of ``reserved`` or ``taken`` in any case (GeoPackage and DBF
    names ignore case), or repeats an earlier column's name in another case.

    Examples
    --------
    >>> reserved_names(["项目编号", "_row", "Reason", "fid"], reserved=("row", "reason", "fid"))
    {'_row': 'src__row', 'Reason': 'src_Reason', 'fid': 'src_fid'}
    """
    blocked = {str(r).casefold() for r in (*reserved, *taken)}
    names = {str(c).casefold() for c in columns}
    out: dict[str, str] = {}
    seen: set[str] = set()
    for c in columns:
        name = str(c)
        key = name.casefold()
        if name.startswith("_") or key in blocked or key in seen:
            new = f"src_{name}"
            while new.casefold() in blocked | names | seen:
                new = f"src_{new}"
            out[c], key = new, new.casefold()
        seen.add(key)
    return out


def clean_texts(df: pd.DataFrame, notes: list[str], lang: str = DEFAULT_LANG) -> tuple[pd.DataFrame, list]:
    """Text values and column names without control characters, and source columns out
    of agrigis's own names (the one place a read table's text is normalised).

    A ``\\x0b`` pasted from Word imports, then blocks every Excel report: it is removed
    here, with a repair note per row (returned, ``None`` for rows left as they were);
    renamed columns get a note in ``notes``.
    """
    rename: dict = {}
    for c in df.columns:
        if isinstance(c, str) and safe_text(c).strip() != c:
            rename[c] = safe_text(c).strip() or "_"
            notes.append(message("note.column_control_chars", lang, raw=c, name=rename[c]))
    df = df.rename(columns=rename)
    internal = reserved_names(df.columns)
    for old, new in internal.items():
        notes.append(message("note.column_renamed", lang, raw=old, name=new))
    df = df.rename(columns=internal).reset_index(drop=True)
    changed = [[] for _ in range(len(df))]
    for c in df.columns:
        if not (df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype)):
            continue
        values = df[c].tolist()
        # a control character is never printable: printable text (nearly all) is left as it is
        for i in [i for i, v in enumerate(values) if isinstance(v, str) and not v.isprintable()]:
            clean = safe_text(values[i])
            if clean != values[i]:
                values[i] = clean
                changed[i].append(c)
        df[c] = values
    sep = label("registry.list_separator", lang)
    repair = [message("repair.control_chars", lang, columns=sep.join(map(repr, cols))) if cols else None
              for cols in changed]
    return df, repair


def list_layers(path: str | Path) -> list[str]:
    """Layer names of a GeoPackage or other multi-layer file."""
    import pyogrio

    check_input_file(Path(path))
    return [str(n) for n, _ in pyogrio.list_layers(str(path))]





# -- reading in chunks ------------------------------------------------------------------


CHUNK_ROWS = 50_000
"""Rows per chunk of a streamed read (:func:`open_stream`); ``$AGRIGIS_IMPORT_CHUNK_ROWS``
overrides it (a whole number ≥ 1; tests force tiny chunks with it)."""
STREAM_SUFFIXES = (".gpkg", ".shp")
"""Files read in chunks when they hold more than one chunk of rows: a GeoPackage layer and a
Shapefile, which GDAL reads feature by feature from any row on. The other formats (GeoJSON,
which GDAL parses whole; KML/KMZ; CSV/XLSX vertex tables, where one parcel spans rows; the
boundary-point TXT; zipped layers) are read whole."""


def chunk_rows() -> int:
    """Rows per chunk: :data:`CHUNK_ROWS`, or ``$AGRIGIS_IMPORT_CHUNK_ROWS`` when set.

    Examples
    --------
    >>> chunk_rows() >= 1
    True
    """
    import os

    raw = os.environ.get("AGRIGIS_IMPORT_CHUNK_ROWS", "").strip()
    if not raw:
        return CHUNK_ROWS
    try:
        return max(1, int(raw))
    except ValueError:
        log.warning("AGRIGIS_IMPORT_CHUNK_ROWS=%r is not a whole number: %d rows per chunk", raw, CHUNK_ROWS)
        return CHUNK_ROWS


@dataclass
class ParcelStream:
    """A parcel file read chunk by chunk (:func:`open_stream`): what is known of the whole
    file (rows, source, notes, CRS, encoding), decided once, and :meth:`chunks`.

    Memory: one chunk of ``chunk`` rows as read and cleaned at a time; the encoding and the
    CRS are decided once, from the DBF's bytes and the first :data:`CRS_PROBE_ROWS` rows."""

    path: Path
    source: str
    n_read: int
    chunk: int
    columns: list[str]
    """The columns as :func:`clean_texts` names them, in the file's order."""
    raw_columns: list[str]
    notes: list[str]
    crs_note: str
    encoding: str | None
    options: dict
    """``layer``/``encoding`` given to pyogrio, ``crs`` (pyproj CRS, swapped), ``datum``, ``lang``."""

    def column(self, name: str) -> pd.Series:
        """The values of one column (a name of :attr:`columns`) over every row, no geometry."""
        import pyogrio

        raw = self.raw_columns[self.columns.index(name)]
        try:  # through Arrow: a million codes in a fraction of a second, text as strings (not objects)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, table = pyogrio.raw.read_arrow(str(self.path), layer=self.options["layer"], columns=[raw],
                                                  read_geometry=False, encoding=self.options["encoding"])
            return table.column(0).to_pandas().reset_index(drop=True)
        except Exception:  # noqa: BLE001 - the plain reader says what is wrong, or reads it
            df, _, _ = _raw_read(self.path, self.options["layer"], self.options["encoding"], columns=[raw],
                                 geometry=False)
            return df[raw].reset_index(drop=True)

    def chunks(self):
        """Yield a :class:`ReadResult` per chunk of rows (``_row`` counts from the file's first row)."""
        for skip in range(0, self.n_read, self.chunk):
            df, geoms = self._read(skip, self.chunk)
            df, text_repair = clean_texts(df, [], self.options["lang"])  # its notes are the first chunk's
            df["_row"] = np.arange(skip + 1, skip + len(df) + 1)
            src_crs, swapped = self.options["crs"]
            geoms, had_z, _ = _reproject(geoms, src_crs, swapped, self.options["datum"])
            frame, rej = _split_rows(df, geoms, had_z, text_repair, self.options["lang"])
            yield ReadResult(frame=frame, rejects=rej, source=self.source, encoding=self.encoding,
                             crs_note=self.crs_note, n_read=len(df))

    def _read(self, skip: int, count: int) -> tuple[pd.DataFrame, np.ndarray]:
        o = self.options
        fids: list[int] | None = [] if self.path.suffix.lower() == ".shp" else None
        df, wkb, _ = _raw_read(self.path, o["layer"], o["encoding"], fids, skip=skip, count=count)
        if fids is not None:
            df = _exact_dbf_integers(_sibling(self.path, ".dbf"), df, fids)
        return df.reset_index(drop=True), _geoms_from_wkb(wkb)


def open_stream(path: str | Path, *, chunk: int | None = None, layer: str | None = None, crs=None,
                source_datum: str | None = None, encoding: str | None = None,
                lang: str = DEFAULT_LANG) -> ParcelStream | None:
    """A :class:`ParcelStream` over a GeoPackage layer or Shapefile of more than ``chunk``
    rows (default :func:`chunk_rows`); None for any other file, or when its header cannot
    be read (:func:`read_parcels` then reads it whole and says what is wrong).

    The rows, notes, repairs and rejects of its chunks together are those of
    :func:`read_parcels` on the whole file.

    Examples
    --------
    >>> open_stream("parcels.kml") is None  # KML is read whole
    True
    """
    path = Path(path)
    chunk = chunk or chunk_rows()
    if path.suffix.lower() not in STREAM_SUFFIXES:
        return None
    try:
        path = _check_read_args(path, encoding, source_datum)
        head = _stream_header(path, layer, encoding)
    except AgrigisError:
        return None
    if head["n"] <= chunk:
        return None
    opts = {"layer": head["layer"], "encoding": head["encoding"], "datum": source_datum, "lang": lang}
    first, _, declared = _raw_read(path, head["layer"], head["encoding"], count=1)
    notes = _header_notes(head["enc_how"], head["fmt_notes"], lang)
    cleaned, _ = clean_texts(first, notes, lang)
    x, y = _probe_coords(path, head)
    src_crs, swapped, crs_note = _source_crs(declared, (x, y), notes, source=head["source"],
                                             columns=[*cleaned.columns, "_row"], crs=crs,
                                             source_datum=source_datum, lang=lang)
    if source_datum == "gcj02" and len(x):
        notes.append(message("note.gcj02", lang))
    return ParcelStream(path=path, source=head["source"], n_read=head["n"], chunk=chunk,
                        columns=[str(c) for c in cleaned.columns], raw_columns=[str(c) for c in first.columns],
                        notes=notes, crs_note=crs_note, encoding=_encoding_note(head["enc_how"], lang),
                        options={**opts, "crs": (src_crs, swapped)})


def _stream_header(path: Path, layer: str | None, encoding: str | None) -> dict:
    """What :func:`_read_format` decides before reading rows, for a file read in chunks:
    layer, encoding (and how), the format's notes, the source label and the row count."""
    import pyogrio

    if path.suffix.lower() == ".shp":
        enc, how, fmt_notes = _shapefile_header(path, encoding)
        head = {"layer": None, "encoding": enc, "enc_how": how, "fmt_notes": fmt_notes, "source": str(path)}
    else:
        lyr = _gpkg_layer(path, layer)
        head = {"layer": lyr, "encoding": None, "enc_how": ("note.encoding_gpkg", {"enc": "UTF-8"}),
                "fmt_notes": [], "source": f"{path}:{lyr}"}
    try:
        info = pyogrio.read_info(str(path), layer=head["layer"], encoding=head["encoding"])
    except Exception as exc:
        raise DataFileError.of("error.vector_unreadable", path=path, detail=_short(exc, path)) from None
    return {**head, "n": int(info["features"])}


def _probe_coords(path: Path, head: dict) -> tuple[np.ndarray, np.ndarray]:
    """The coordinates :func:`_first_coords` takes from the whole file, from its first rows."""
    count = CRS_PROBE_ROWS
    while True:
        _, wkb, _ = _raw_read(path, head["layer"], head["encoding"], count=count, columns=[])
        geoms = _geoms_from_wkb(wkb)
        ok = sum(isinstance(g, shapely.Geometry) and not g.is_empty for g in geoms)
        if ok >= CRS_PROBE_ROWS or count >= head["n"]:
            return _first_coords(geoms)
        count *= 2
