"""Read a soil sample table: 采样点编号, 经度/纬度 or X/Y, 采样深度, pH, EC, 全盐量, ESP, 日期.

:func:`read_samples` reads CSV, XLSX, GeoPackage and Shapefile tables of sampling points
(the Third National Soil Census, the saline-alkali pilot's monitoring) with the care of
the parcel importer:

* **Columns** in Chinese or English (:file:`layers/sample_fields.yml`); a unit in the
  header (``电导率(mS/cm)``, ``EC_uS/cm``, ``全盐量(%)``) is converted: EC to dS/m, total
  salt to g/kg. A header without a unit is taken in the stored unit (a note says so).
* **Coordinates**: lon/lat or Gauss-Krüger X/Y; the CRS is the file's (GeoPackage,
  Shapefile), ``crs=``, or sniffed from the values (:func:`layers.io.resolve_crs`, the
  importer's rules). Points are returned in EPSG:4490 with planar ``x, y`` in EPSG:4550.
* **Depth class** (``0-20``, ``20-40`` … cm; default ``0-20`` when there is no depth
  column) and the **EC method** (``ec_1_5`` 1:5 extract or ``ece`` saturated paste, from a
  method column or the EC header): kept per sample, never mixed silently later.
* **Rejects**, one row each, with the source row and the reason: rows without usable
  coordinates, a second sample at the same place (or with the same id) and depth,
  impossible values (pH outside 0–14, negative EC/salt, ESP outside 0–100) and text that
  is not a number. An impossible value rejects that value only (the other properties of
  the sample are kept); the rejects table names the column.

Nothing here writes files; :mod:`workflows.soil` writes the rejects.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"采样点编号": ["S1", "S2"], "经度": ["123.5", "123.6"], "纬度": ["45.5", "45.6"],
...                    "pH": ["9.1", "15"], "电导率(mS/cm)": ["0.8", "1.2"], "浸提方法": ["1:5", "1:5"]})
>>> res = samples_from_frame(df, source="t.csv", lang="en")
>>> res.frame[["sample_id", "ph", "ec", "ec_method", "depth"]].values.tolist()
[['S1', 9.1, 0.8, 'ec_1_5', '0-20'], ['S2', nan, 1.2, 'ec_1_5', '0-20']]
>>> print(res.rejects.loc[0, "reason"])
pH 15 is impossible (pH lies between 0 and 14)
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from gis.config import expect, load_yaml
from gis.errors import DataFileError, InputError
from gis.labels import DEFAULT_LANG, message

from .fields import norm

log = logging.getLogger(__name__)

SAMPLE_FIELDS_YML = Path(__file__).with_name("sample_fields.yml")
PROPERTIES = ("ph", "ec", "salt", "esp")
"""Soil properties a sample table may hold (stored units: pH, dS/m, g/kg, %)."""
UNITS = {"ph": "", "ec": "dS/m", "salt": "g/kg", "esp": "%"}
LIMITS = {"ph": (0.0, 14.0), "ec": (0.0, 200.0), "salt": (0.0, 1000.0), "esp": (0.0, 100.0)}
"""Possible range of each property (stored units). EC: saturated brines reach about
200 dS/m, no soil extract more; salt: 1000 g/kg is the whole sample."""
_TOO_HIGH = {"ec": "reject.soil_too_high_ec", "salt": "reject.soil_too_high_salt"}
"""Reasons for a value above the range where the range's own reason says "negative"."""
DEFAULT_DEPTH = "0-20"
PLANAR_CRS = "EPSG:4550"
SUFFIXES = (".csv", ".txt", ".xlsx", ".gpkg", ".shp")


@dataclass(frozen=True)
class SampleFields:
    """The parsed :file:`sample_fields.yml`."""

    columns: dict[str, list[str]]
    units: dict[str, dict[str, float]]
    ec_methods: dict[str, list[str]]
    depth_classes: tuple[str, ...]

    def ec_method(self, raw) -> str | None:
        """The EC method code of a value (``"1:5"`` → ``ec_1_5``), or None.

        Examples
        --------
        >>> f = sample_fields()
        >>> f.ec_method("1∶5浸提"), f.ec_method("ECe"), f.ec_method("?")
        ('ec_1_5', 'ece', None)
        """
        s = norm(raw).replace("∶", ":")
        for code, names in self.ec_methods.items():
            if s in names:
                return code
        if "1:5" in s:
            return "ec_1_5"
        return "ece" if s.startswith("ece") or "饱和" in s else None


@lru_cache(maxsize=1)
def sample_fields() -> SampleFields:
    """The bundled sample column table (:file:`layers/sample_fields.yml`)."""
    data = expect(load_yaml(SAMPLE_FIELDS_YML, what="sample fields"), "mapping", origin=SAMPLE_FIELDS_YML,
                  at="sample_fields")
    cols = {k: [norm(n) for n in expect(v, "list", origin=SAMPLE_FIELDS_YML, at=f"columns.{k}")]
            for k, v in expect(data.get("columns"), "mapping", origin=SAMPLE_FIELDS_YML, at="columns").items()}
    units = {p: {norm(u): float(f) for u, f in tbl.items()} for p, tbl in data["units"].items()}
    methods = {c: [norm(n) for n in v] for c, v in data["ec_methods"].items()}
    return SampleFields(cols, units, methods, tuple(str(d) for d in data["depth_classes"]))


@dataclass
class SampleRead:
    """Samples read from one table.

    Attributes
    ----------
    frame : GeoDataFrame
        Usable samples in EPSG:4490: ``_row`` (1-based data row of the source),
        ``sample_id, depth, date, ec_method``, the properties of :data:`PROPERTIES`
        present (stored units; NaN where empty or rejected) and planar ``x, y``
        (EPSG:4550, metres).
    rejects : DataFrame
        ``_row, column, value, reason`` — one row per rejected sample or value.
    source : str
    notes : list of str
        Column units assumed, the CRS decision, in the reader's language.
    units : dict
        Property → the unit its header named (``"mS/cm"``) or ``""`` if none.
    n_read : int
    """

    frame: object
    rejects: pd.DataFrame
    source: str
    notes: list[str] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)
    n_read: int = 0


# --------------------------------------------------------------------------- columns


_UNIT_SPLIT = re.compile(r"^(?P<base>.+?)[(_\[](?P<unit>[^()\[\]_]+)[)\]]?$")


def _match_column(name: str, fields: SampleFields) -> tuple[str, str] | None:
    """``(field, unit as written or "")`` of a column name, or None."""
    n = norm(name)
    for fld, aliases in fields.columns.items():
        if n in aliases:
            return fld, ""
    m = _UNIT_SPLIT.match(n)
    if m:
        base, unit = m.group("base"), m.group("unit")
        for fld, aliases in fields.columns.items():
            if base in aliases:
                return fld, unit
    return None


def match_columns(columns, fields: SampleFields | None = None) -> dict[str, tuple[str, str]]:
    """Sample field → (source column, unit written in its header) for the columns recognised.

    Examples
    --------
    >>> match_columns(["采样点编号", "经度", "纬度", "EC (µS/cm)", "全盐量(%)"])["ec"]
    ('EC (µS/cm)', 'μs/cm')
    """
    fields = fields or sample_fields()
    out: dict[str, tuple[str, str]] = {}
    for c in columns:
        if str(c).startswith("_"):
            continue
        hit = _match_column(str(c), fields)
        if hit and hit[0] not in out:
            out[hit[0]] = (c, hit[1])
    return out


def _factor(prop: str, unit: str, column, source, fields: SampleFields) -> float:
    if not unit or prop == "ph":
        return 1.0
    table = fields.units.get(prop, {})
    if unit not in table:
        raise InputError.of("error.soil_unit_unknown", path=source, column=column, unit=unit,
                            choices=", ".join(table) or "-")
    return table[unit]


# --------------------------------------------------------------------------- values


def _number(raw) -> float | None:
    """A float from a cell, NaN for an empty cell, None for text that is not a number."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return math.nan
    s = norm(raw).replace(",", "")
    if s in ("", "nan", "na", "-", "/", "—"):
        return math.nan
    try:
        return float(s)
    except ValueError:
        return None


def depth_class(raw, classes: tuple[str, ...]) -> str | None:
    """The depth class (``"0-20"``) of a depth cell, or None if it cannot be read.

    Examples
    --------
    >>> c = sample_fields().depth_classes
    >>> depth_class("0～20cm", c), depth_class("20-40", c), depth_class(10, c), depth_class("深", c)
    ('0-20', '20-40', '0-20', None)
    """
    s = norm(raw).replace("cm", "").replace("~", "-").replace("—", "-").replace("–", "-")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)", s)
    if m:
        a, b = float(m.group(1)), float(m.group(2))
        return f"{a:g}-{b:g}" if a < b else None
    v = _number(raw)
    if v is None or math.isnan(v):
        return None
    for c in classes:
        lo, hi = (float(p) for p in c.split("-"))
        if lo <= v < hi:
            return c
    return None


class _Rejects:
    """Collects ``(_row, column, value, reason)``."""

    def __init__(self, lang: str):
        self.lang, self.rows = lang, []

    def add(self, row: int, column, raw, key: str, /, **params) -> None:
        self.rows.append((int(row), "" if column is None else str(column), "" if raw is None else str(raw),
                          message(key, self.lang, **params)))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["_row", "column", "value", "reason"])


def _properties(df: pd.DataFrame, cols: dict, source, rej: _Rejects, fields: SampleFields) -> pd.DataFrame:
    """Numeric property columns in stored units; bad values NaN and rejected."""
    out = pd.DataFrame(index=df.index)
    for prop in PROPERTIES:
        if prop not in cols:
            continue
        column, unit = cols[prop]
        f = _factor(prop, unit, column, source, fields)
        lo, hi = LIMITS[prop]
        vals = np.full(len(df), np.nan)
        for i, (row, raw) in enumerate(zip(df["_row"], df[column], strict=True)):
            v = _number(raw)
            if v is None:
                rej.add(row, column, raw, "reject.soil_not_a_number", column=column, value=raw)
            elif not math.isnan(v) and not (lo <= v * f <= hi):  # also ±inf (1e400)
                key = _TOO_HIGH.get(prop, f"reject.soil_impossible_{prop}") if v * f > hi else \
                    f"reject.soil_impossible_{prop}"
                rej.add(row, column, raw, key, value=raw, max=f"{hi:g}")
            else:
                vals[i] = v * f
        out[prop] = vals
    return out


def _ec_methods(df, cols, fields: SampleFields, rej: _Rejects) -> pd.Series:
    """The EC method of each row: the method column, else the EC header, else None."""
    header = None
    if "ec" in cols:
        base = _UNIT_SPLIT.match(norm(cols["ec"][0]))
        name = base.group("base") if base else norm(cols["ec"][0])
        header = fields.ec_method(name) or ("ec_1_5" if "1:5" in name else "ece" if name.startswith("ece") else None)
    if "ec_method" not in cols:
        return pd.Series([header] * len(df), index=df.index, dtype=object)
    column = cols["ec_method"][0]
    out = []
    for row, raw in zip(df["_row"], df[column], strict=True):
        if not str(raw).strip() or str(raw).strip().lower() == "nan":
            out.append(header)
            continue
        code = fields.ec_method(raw)
        if code is None:
            rej.add(row, column, raw, "reject.soil_ec_method", value=raw)
        out.append(code)
    return pd.Series(out, index=df.index, dtype=object)


# --------------------------------------------------------------------------- coordinates


def _coords(df, cols, geoms, source) -> tuple[np.ndarray, np.ndarray, str]:
    """Raw x, y of each row (NaN where missing) and which pair was used."""
    if geoms is not None:
        import shapely

        ok = np.array([g is not None and not g.is_empty for g in geoms])
        x, y = np.full(len(df), np.nan), np.full(len(df), np.nan)
        if ok.any():
            pts = shapely.get_coordinates(shapely.centroid(np.asarray(geoms, dtype=object)[ok]))
            x[ok], y[ok] = pts[:, 0], pts[:, 1]
        return x, y, "geometry"
    for a, b in (("lon", "lat"), ("x", "y")):
        if a in cols and b in cols:
            conv = [np.array([_number(v) for v in df[cols[c][0]]], dtype=object) for c in (a, b)]
            return (np.array([np.nan if v is None else v for v in conv[0]], dtype="float64"),
                    np.array([np.nan if v is None else v for v in conv[1]], dtype="float64"), a)
    raise InputError.of("error.soil_no_coordinates", path=source, columns=", ".join(map(str, df.columns)))


@dataclass(frozen=True)
class _Reading:
    """What the steps of reading one table share: its name, the CRS its file declares and
    the one given, the language, the column table, and the rejects and notes collected."""

    source: str
    lang: str
    fields: SampleFields
    rejects: _Rejects
    notes: list[str]
    declared: object = None
    crs: object = None


def _locate(x: np.ndarray, y: np.ndarray, rd: _Reading) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """lon, lat (EPSG:4490) and planar x, y (EPSG:4550) of each row; NaN where missing."""
    import pyproj

    from .io import resolve_crs

    ok = np.isfinite(x) & np.isfinite(y)
    src, swapped, note, _ = resolve_crs(rd.declared, x[ok], y[ok], source=rd.source, given=rd.crs, lang=rd.lang)
    rd.notes.append(note)
    if swapped:
        x, y = y, x
    lon, lat = pyproj.Transformer.from_crs(src, "EPSG:4490", always_xy=True).transform(x, y)
    px, py = pyproj.Transformer.from_crs(src, PLANAR_CRS, always_xy=True).transform(x, y)
    return (np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64"),
            np.asarray(px, dtype="float64"), np.asarray(py, dtype="float64"))


# --------------------------------------------------------------------------- reading


def _read_table(path: Path, layer: str | None):
    """``(attributes as text, geometries or None, declared CRS or None)``."""
    s = path.suffix.lower()
    if s in (".csv", ".txt"):
        import io

        from .io import detect_encoding

        data = path.read_bytes()
        enc = detect_encoding(data)
        try:
            df = pd.read_csv(io.StringIO(data.decode(enc.replace("UTF-8", "utf-8-sig"))), dtype=str,
                             keep_default_na=False, sep=None, engine="python")
        except Exception as exc:  # noqa: BLE001 - any parser error is the file's
            raise DataFileError.of("error.csv_unreadable", path=path, detail=str(exc).splitlines()[0][:200]) from None
        return df, None, None
    if s == ".xlsx":
        try:
            df = pd.read_excel(path, sheet_name=layer or 0, dtype=str, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
            raise DataFileError.of("error.soil_xlsx_unreadable", path=path, detail=str(exc)[:200]) from None
        return df, None, None
    import pyogrio

    try:
        gdf = pyogrio.read_dataframe(str(path), layer=layer)
    except Exception as exc:  # noqa: BLE001 - pyogrio's DataSourceError and friends
        raise DataFileError.of("error.vector_unreadable", path=path, detail=str(exc)[:200]) from None
    declared = gdf.crs.to_wkt() if gdf.crs is not None else None
    return pd.DataFrame(gdf.drop(columns="geometry")), np.asarray(gdf.geometry.values, dtype=object), declared


def _check_path(path: Path) -> None:
    from layers.io import check_input_file

    check_input_file(path)
    if path.suffix.lower() not in SUFFIXES:
        raise DataFileError.of("error.soil_file_type", path=path, suffix=path.suffix, choices=", ".join(SUFFIXES))


def read_samples(path, *, layer: str | None = None, crs=None, lang: str = DEFAULT_LANG) -> SampleRead:
    """Read a soil sample table (CSV, XLSX, GeoPackage, Shapefile) into points with rejects.

    Parameters
    ----------
    path : str or Path
    layer : str, optional
        GeoPackage layer or XLSX sheet (default: the first).
    crs : optional
        CRS of the coordinates when the file has none and they cannot be sniffed.
    lang : {"zh", "en"}
        Language of the notes and reject reasons.

    Returns
    -------
    SampleRead
    """
    path = Path(path)
    _check_path(path)
    df, geoms, declared = _read_table(path, layer)
    return samples_from_frame(df, source=str(path), geoms=geoms, declared=declared, crs=crs, lang=lang)


def _base_frame(df: pd.DataFrame, cols: dict, rd: _Reading) -> pd.DataFrame:
    """``_row, sample_id, depth, date, ec_method`` of each row (unreadable depths rejected)."""
    fields, rej = rd.fields, rd.rejects
    out = pd.DataFrame({"_row": df["_row"]})
    out["sample_id"] = df[cols["sample_id"][0]].astype(str).str.strip() if "sample_id" in cols else \
        df["_row"].astype(str)
    if "depth" in cols:
        column = cols["depth"][0]
        depth = []
        for row, raw in zip(df["_row"], df[column], strict=True):
            d = depth_class(raw, fields.depth_classes) if str(raw).strip() else DEFAULT_DEPTH
            if d is None:
                rej.add(row, column, raw, "reject.soil_depth", value=raw)
            depth.append(d)
        out["depth"] = depth
    else:
        out["depth"] = DEFAULT_DEPTH
        rd.notes.append(message("note.soil_no_depth", rd.lang, depth=DEFAULT_DEPTH))
    out["date"] = df[cols["date"][0]].astype(str).str.strip() if "date" in cols else ""
    out["ec_method"] = _ec_methods(df, cols, fields, rej)
    return out


def _duplicates(out: pd.DataFrame, rej: _Rejects) -> np.ndarray:
    """Rows that repeat an earlier sample: same id and depth, or same place and depth."""
    dup = np.zeros(len(out), dtype=bool)
    seen_id: dict = {}
    seen_xy: dict = {}
    for i, (row, sid, depth, x, y) in enumerate(zip(out["_row"], out["sample_id"], out["depth"], out["x"], out["y"],
                                                    strict=True)):
        k_id, k_xy = (sid, depth), (round(float(x), 1), round(float(y), 1), depth)
        if k_id in seen_id:
            rej.add(row, "sample_id", sid, "reject.soil_duplicate_id", id=sid, depth=depth, first=seen_id[k_id])
            dup[i] = True
        elif k_xy in seen_xy:
            rej.add(row, "x/y", f"{x:.1f},{y:.1f}", "reject.soil_duplicate_place", depth=depth, first=seen_xy[k_xy])
            dup[i] = True
        else:
            seen_id[k_id], seen_xy[k_xy] = row, row
    return dup


def samples_from_frame(df: pd.DataFrame, *, source: str, geoms=None, declared=None, crs=None,
                       lang: str = DEFAULT_LANG) -> SampleRead:
    """:func:`read_samples` on a table already read (text cells; ``geoms`` for a layer)."""
    import geopandas as gpd

    fields = sample_fields()
    df = df.reset_index(drop=True).copy()
    df["_row"] = np.arange(1, len(df) + 1)
    cols = match_columns(df.columns, fields)
    props = [p for p in PROPERTIES if p in cols]
    if not props:
        raise InputError.of("error.soil_no_property", path=source, columns=", ".join(map(str, df.columns[:-1])))
    rej, notes = _Rejects(lang), []
    rd = _Reading(source, lang, fields, rej, notes, declared=declared, crs=crs)
    for p in props:
        if not cols[p][1] and UNITS[p]:
            notes.append(message("note.soil_unit_assumed", lang, column=cols[p][0], unit=UNITS[p]))
    x, y, _ = _coords(df, cols, geoms, source)
    out = _base_frame(df, cols, rd)
    out = pd.concat([out, _properties(df, cols, source, rej, fields)], axis=1)
    lon, lat, px, py = _locate(x, y, rd)
    out["x"], out["y"] = px, py
    bad = ~(np.isfinite(px) & np.isfinite(py))
    for row in out.loc[bad, "_row"]:
        rej.add(row, "x/y", "", "reject.soil_no_coordinates")
    bad |= out["depth"].isna().to_numpy()
    keep = out.loc[~bad].copy()
    dup = _duplicates(keep, rej)
    keep = keep.loc[~dup]
    ok = ~bad
    ok[np.flatnonzero(ok)[dup]] = False
    frame = gpd.GeoDataFrame(keep, geometry=gpd.points_from_xy(lon[ok], lat[ok]), crs="EPSG:4490")
    rejects = rej.frame().sort_values("_row", kind="stable").reset_index(drop=True)
    units = {p: cols[p][1] for p in props}
    return SampleRead(frame.reset_index(drop=True), rejects, source, notes, units, len(df))
