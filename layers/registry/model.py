"""The registry's data model, shared by the rules and every backend: field names,
fingerprints, area, batch ids and value conversions (no storage here)."""

from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import math
import os
import secrets
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

SRS_ID = 4490
TABLE = "projects"
GEOM = "geom"

ATTRIBUTES = (
    "project_code",
    "project_name",
    "category",
    "county_code",
    "year",
    "status",
    "declared_area_mu",
    "area_mu",
    "investment_wan_yuan",
)
"""Attribute fields of a project version written by an import."""

COLUMNS = ATTRIBUTES + ("batch_id", "valid_from", "valid_to")
"""Columns of :meth:`Registry.projects` (plus ``geometry``), as in DESIGN.md."""

COMPARED = ("project_name", "category", "county_code", "year", "status", "declared_area_mu",
            "investment_wan_yuan")
"""Attributes that make a re-imported project a *changed* version (with the geometry)."""

BATCH_COLUMNS = (
    "batch_id", "imported_at", "user", "host", "source_path", "source_sha256", "n_read", "n_accepted",
    "n_repaired", "n_rejected", "n_new", "n_updated", "n_unchanged", "synthetic", "status", "undone_at",
    "undone_by", "note",
)

FINGERPRINTED = ATTRIBUTES + ("batch_id", "valid_from")
"""Fields sealed by a version's ``fingerprint`` (with the geometry); they never change
after the version is written (``valid_to`` and ``closed_by`` do, when it is replaced)."""

_NUMERIC = frozenset({"year", "declared_area_mu", "area_mu", "investment_wan_yuan"})

REQUIRED_COLUMNS = {
    TABLE: ("fid", GEOM, *COLUMNS, "closed_by", "source_row"),
    "batches": ("fid", *BATCH_COLUMNS),
}
"""Columns the registry needs in each table (``fingerprint`` is added to older files)."""


def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _canon(column: str, values) -> list[str]:
    """Values of one column as SQLite returns them, whatever type was bound (affinity):
    numbers as ``repr(float)``, texts as they are, missing as ``\\x00``."""
    values = values if isinstance(values, list) else list(values)
    fast = _canon_fast(column, values)
    return fast if fast is not None else _canon_each(column, values)


def _canon_fast(column: str, values: list) -> list[str] | None:
    """:func:`_canon` of a column of the usual types in one pass (numbers as Python
    ``float``/``int``, texts as ``str``, missing as None); None for any other column."""
    types = set(map(type, values))
    if column in _NUMERIC and types <= {float, int, type(None)}:
        try:
            x = np.array(values, dtype="float64")  # None → NaN; ints as float() rounds them
        except OverflowError:  # an int beyond float64: value by value
            return None
        return _float_texts(x)
    if column not in _NUMERIC and types <= {str, type(None)}:
        return ["\x00" if v is None else v for v in values]
    return None


def _float_texts(x: np.ndarray) -> list[str]:
    """``repr`` of each float, ``\\x00`` for NaN; a value repeated in the column (a year, a
    declared area) is written once (the same bits: ``-0.0`` is not ``0.0``)."""
    codes, uniq = pd.factorize(x.view("int64"))
    if 2 * len(uniq) > len(x):  # mostly distinct (computed areas): no table
        out = list(map(repr, x.tolist()))
    else:
        out = np.array(list(map(repr, uniq.view("float64").tolist())), dtype=object)[codes].tolist()
    for i in np.flatnonzero(np.isnan(x)):
        out[i] = "\x00"
    return out


def _canon_each(column: str, values: list) -> list[str]:
    """:func:`_canon`, value by value."""
    out = []
    for v in values:
        if _missing(v):
            out.append("\x00")
            continue
        if column in _NUMERIC:
            try:
                out.append(repr(float(v)))
                continue
            except (TypeError, ValueError):
                pass
        out.append(str(v))
    return out


def fingerprints(values, wkbs) -> list[str]:
    """The fingerprint of each version: 32 hex digits of the SHA-256 of its
    :data:`FINGERPRINTED` values, then 32 of the SHA-256 of its geometry WKB.

    ``values`` maps each field of :data:`FINGERPRINTED` to a sequence (a DataFrame does).

    Examples
    --------
    >>> v = {c: [None] for c in FINGERPRINTED}
    >>> fp = fingerprints(v, [b"\\x01"])[0]
    >>> len(fp), fp == fingerprints({**v, "year": [2024]}, [b"\\x01"])[0]
    (64, False)
    """
    cols = [_canon(c, list(values[c])) for c in FINGERPRINTED]
    out = []
    for parts, wkb in zip(zip(*cols, strict=True), wkbs, strict=True):
        attrs = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
        geom = hashlib.sha256(b"" if wkb is None else wkb).hexdigest()[:32]
        out.append(attrs + geom)
    return out


def geometry_area_mu(geoms) -> np.ndarray:
    """Ellipsoidal area (亩) of EPSG:4490 geometries; NaN where there is no polygon."""
    from gis.area import area_mu

    g = np.asarray(geoms, dtype=object)
    out = np.full(len(g), np.nan)
    ok = np.isin(shapely.get_type_id(g), (3, 6)) & ~shapely.is_empty(g)
    if ok.any():
        out[ok] = area_mu(g[ok], crs="EPSG:4490")
    return out


# -- data carried between the layers ----------------------------------------------------


@dataclass
class WriteResult:
    """What one batch did to the registry."""

    batch_id: str | None
    """The batch written; None when no row was accepted (no batch is recorded then)."""
    n_new: int = 0
    n_updated: int = 0
    n_unchanged: int = 0
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["_row", "reason"]))
    """Rows refused inside the transaction (code exists with other data, no ``--update``)."""


def now_iso() -> str:
    """UTC now as GeoPackage DATETIME text (``YYYY-MM-DDTHH:MM:SS.sssZ``)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_batch_id() -> str:
    """A sortable, unique batch id such as ``20261125-161230-3fa2c81d`` (32 random bits:
    five offices importing in the same second do not collide)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no login name (containers)
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def _py(s: pd.Series) -> list:
    """Column values as Python scalars with None for missing (what sqlite3 binds)."""
    if s.dtype.kind == "f":
        return [None if math.isnan(v) else v for v in s.to_numpy(dtype="float64").tolist()]
    if s.dtype.kind in "iub":
        return s.to_numpy().tolist()
    out = s.astype(object).tolist()
    if set(map(type, out)) <= {str, type(None)}:  # texts as they are (the usual text column)
        return out
    return [None if _missing(v)
            else (v.item() if isinstance(v, np.generic) else v) for v in out]


def _text(values: list) -> list:
    """Text fields bound as text (what SQLite stores, so the fingerprint sees the same)."""
    return [v if v is None or isinstance(v, str) else str(v) for v in values]


def _area_agrees(stored: np.ndarray, computed: np.ndarray) -> np.ndarray:
    """Stored ``area_mu`` equals the area computed from the geometry (to 0.001 亩 or 1e-6)."""
    diff = np.abs(stored - computed)
    return np.isfinite(diff) & (diff <= np.maximum(1e-3, 1e-6 * np.abs(computed)))


def _same_vec(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise equality of two value arrays: missing == missing, numbers to 1e-9."""
    a = pd.Series(a, dtype=object).where(pd.notna(pd.Series(a, dtype=object)), None)
    b = pd.Series(b, dtype=object).where(pd.notna(pd.Series(b, dtype=object)), None)
    na, nb = a.isna().to_numpy(), b.isna().to_numpy()
    out = na & nb
    both = ~na & ~nb
    fa = pd.to_numeric(a, errors="coerce").to_numpy(dtype="float64")
    fb = pd.to_numeric(b, errors="coerce").to_numpy(dtype="float64")
    num = both & np.isfinite(fa) & np.isfinite(fb)
    out[num] = np.abs(fa[num] - fb[num]) <= 1e-9 * np.maximum(1.0, np.abs(fa[num]))
    txt = both & ~num
    out[txt] = a[txt].astype(str).to_numpy() == b[txt].astype(str).to_numpy()
    return out


def _fmt_mu(v: float) -> str:
    return "?" if math.isnan(v) else f"{v:,.2f}"



def _multi(geoms: np.ndarray) -> np.ndarray:
    """Polygons → single-part MultiPolygons (the layer type)."""
    out = np.array(geoms, dtype=object)
    poly = shapely.get_type_id(out) == 3
    if poly.any():
        out[poly] = shapely.multipolygons(out[poly], indices=np.arange(int(poly.sum())))
    return out


INSPECTION_TABLE = "inspections"
PHOTO_TABLE = "inspection_photos"

INSPECTION_COLUMNS = (
    "inspection_id", "project_code", "version", "version_current", "finding", "note", "area_mu", "accuracy_m",
    "position_time", "created_at", "photo_count", "imported_at", "source_sha256",
)
"""Fields of a stored field inspection (besides ``fid`` and its point ``lon``/``lat``),
the same in both backends (:mod:`layers.inspections`)."""

PHOTO_COLUMNS = ("inspection_id", "photo_index", "name", "mime", "sha256", "data")
"""Fields of a stored inspection photo (besides ``fid``); ``data`` is the JPEG/PNG bytes."""

TABLES = {
    TABLE: ("fid", GEOM, *COLUMNS, "closed_by", "source_row", "fingerprint"),
    "batches": ("fid", *BATCH_COLUMNS),
    INSPECTION_TABLE: ("fid", GEOM, *INSPECTION_COLUMNS),
    PHOTO_TABLE: ("fid", *PHOTO_COLUMNS),
}
"""Every table of a registry with its columns, as ``Backend.dump`` reads them and
``Backend.load`` writes them (a ``geom`` column as ISO WKB, little-endian, 2D), in the
order ``agrigis registry copy`` moves them."""
