"""The project registry: one GeoPackage with every project parcel, its history and batches.

Layout of ``registry.gpkg`` (a standard GeoPackage 1.4 that GDAL, pyogrio and QGIS open):

``projects`` (features, MultiPolygon, EPSG:4490, R-tree index)
    one row per *version* of a project parcel: the fields of DESIGN.md's data model
    (``project_code … investment_wan_yuan, batch_id, valid_from, valid_to``) plus
    ``closed_by`` (the batch that ended this version), ``source_row`` and ``fingerprint``
    (SHA-256 of the version's fields and geometry when it was written, see
    :func:`fingerprints`). The current version of a project has ``valid_to`` NULL (a
    partial unique index guarantees one).
``batches`` (attributes)
    one row per import: who, when, source path and sha256, counts, ``synthetic``,
    ``status`` (``active`` / ``undone``).
``projects_current`` (features, a view)
    only the current versions (``valid_to`` NULL): the layer to open in QGIS.
``layer_styles``
    the QGIS default styles of both layers (categorised by ``category``), see
    :mod:`layers.qgis_style`.

Writes go through :class:`GeoPackageBackend`, which holds the SQL; :class:`Registry`
holds the rules (history, updates, undo) and talks to the backend through a small
interface (:class:`Backend`) so a PostGIS backend can be added later. Every import is
one SQLite transaction (``BEGIN IMMEDIATE`` … ``COMMIT``, rollback journal): a process
killed at any moment leaves either the state before the import or the whole batch, and
a second writer waits up to ``timeout`` seconds, then fails with
:class:`~gis.errors.RegistryBusyError`. Every other SQLite error (full disk, read-only
file, damaged pages) becomes one clear error naming the file and the remedy
(:func:`storage_error`); the schema is checked on open, and a registry of an earlier
agrigis gets its ``fingerprint`` column then.

Integrity: ``area_mu`` is computed here from the geometry when a version is written,
and again on reading wherever a version no longer matches its fingerprint (edited by
hand in QGIS); :meth:`Registry.verify` lists such versions (``agrigis registry verify``).

Examples
--------
>>> import tempfile, geopandas as gpd
>>> from shapely import box
>>> reg = Registry(tempfile.mkdtemp() + "/r.gpkg")
>>> rows = gpd.GeoDataFrame({"project_code": ["P1"], "project_name": ["示例"],
...     "category": ["paddy_new"], "county_code": ["220821"], "year": [2024],
...     "status": ["planned"], "declared_area_mu": [None], "area_mu": [1500.0],
...     "investment_wan_yuan": [None]}, geometry=[box(123.0, 45.6, 123.01, 45.61)], crs="EPSG:4490")
>>> out = reg.write(rows, source="a.shp", sha256="0" * 64)
>>> out.n_new, len(reg.projects()), reg.batches()["n_new"].tolist()
(1, 1, [1])
"""

from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import logging
import os
import secrets
import socket
import sqlite3
import struct
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np
import pandas as pd
import shapely

from gis.errors import AgrigisError, DataFileError, RegistryBusyError, RegistryError
from gis.labels import DEFAULT_LANG, label, message

from . import qgis_style

log = logging.getLogger(__name__)

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

EXPORT_MARK = "agrigis registry export"
"""Text every export carries (layer description, CSV/Excel note): an existing file with it
may be replaced by the next export; any other existing file is refused."""

_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_EXPORT_DRIVERS = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON",
                   ".csv": None, ".xlsx": None, ".txt": None}

_WKT1_4490 = (
    'GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",'
    '6378137,298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AUTHORITY["EPSG","4490"]]'
)
_WKT1_4326 = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",'
    '0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],'
    'AUTHORITY["EPSG","4326"]]'
)

_SCHEMA = f"""
PRAGMA application_id = 1196444487;
PRAGMA user_version = 10400;
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
  ('WGS 84 geodetic', 4326, 'EPSG', 4326, '{_WKT1_4326}', 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid'),
  ('China Geodetic Coordinate System 2000', {SRS_ID}, 'EPSG', 4490, '{_WKT1_4490}', 'CGCS2000 (EPSG:4490)');
CREATE TABLE {TABLE} (
  fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  {GEOM} MULTIPOLYGON,
  project_code TEXT NOT NULL,
  project_name TEXT,
  category TEXT NOT NULL,
  county_code TEXT NOT NULL,
  year INTEGER,
  status TEXT NOT NULL,
  declared_area_mu REAL,
  area_mu REAL NOT NULL,
  investment_wan_yuan REAL,
  batch_id TEXT NOT NULL,
  valid_from DATETIME NOT NULL,
  valid_to DATETIME,
  closed_by TEXT,
  source_row INTEGER,
  fingerprint TEXT);
CREATE UNIQUE INDEX {TABLE}_current_code ON {TABLE}(project_code) WHERE valid_to IS NULL;
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('{TABLE}', 'features', '{TABLE}', '项目图斑 project parcels, all versions (valid_to NULL = current)', {SRS_ID});
INSERT INTO gpkg_geometry_columns VALUES ('{TABLE}', '{GEOM}', 'MULTIPOLYGON', {SRS_ID}, 0, 0);
CREATE VIRTUAL TABLE rtree_{TABLE}_{GEOM} USING rtree(id, minx, maxx, miny, maxy);
INSERT INTO gpkg_extensions VALUES ('{TABLE}', '{GEOM}', 'gpkg_rtree_index',
  'http://www.geopackage.org/spec120/#extension_rtree', 'write-only');
CREATE TRIGGER rtree_{TABLE}_{GEOM}_insert AFTER INSERT ON {TABLE}
  WHEN (new.{GEOM} NOT NULL AND NOT ST_IsEmpty(NEW.{GEOM}))
  BEGIN INSERT OR REPLACE INTO rtree_{TABLE}_{GEOM} VALUES (NEW.fid, ST_MinX(NEW.{GEOM}), ST_MaxX(NEW.{GEOM}),
    ST_MinY(NEW.{GEOM}), ST_MaxY(NEW.{GEOM})); END;
CREATE TRIGGER rtree_{TABLE}_{GEOM}_update1 AFTER UPDATE OF {GEOM} ON {TABLE}
  WHEN OLD.fid = NEW.fid AND (NEW.{GEOM} NOTNULL AND NOT ST_IsEmpty(NEW.{GEOM}))
  BEGIN INSERT OR REPLACE INTO rtree_{TABLE}_{GEOM} VALUES (NEW.fid, ST_MinX(NEW.{GEOM}), ST_MaxX(NEW.{GEOM}),
    ST_MinY(NEW.{GEOM}), ST_MaxY(NEW.{GEOM})); END;
CREATE TRIGGER rtree_{TABLE}_{GEOM}_update2 AFTER UPDATE OF {GEOM} ON {TABLE}
  WHEN OLD.fid = NEW.fid AND (NEW.{GEOM} ISNULL OR ST_IsEmpty(NEW.{GEOM}))
  BEGIN DELETE FROM rtree_{TABLE}_{GEOM} WHERE id = OLD.fid; END;
CREATE TRIGGER rtree_{TABLE}_{GEOM}_update3 AFTER UPDATE ON {TABLE}
  WHEN OLD.fid != NEW.fid AND (NEW.{GEOM} NOTNULL AND NOT ST_IsEmpty(NEW.{GEOM}))
  BEGIN DELETE FROM rtree_{TABLE}_{GEOM} WHERE id = OLD.fid;
    INSERT OR REPLACE INTO rtree_{TABLE}_{GEOM} VALUES (NEW.fid, ST_MinX(NEW.{GEOM}), ST_MaxX(NEW.{GEOM}),
    ST_MinY(NEW.{GEOM}), ST_MaxY(NEW.{GEOM})); END;
CREATE TRIGGER rtree_{TABLE}_{GEOM}_update4 AFTER UPDATE ON {TABLE}
  WHEN OLD.fid != NEW.fid AND (NEW.{GEOM} ISNULL OR ST_IsEmpty(NEW.{GEOM}))
  BEGIN DELETE FROM rtree_{TABLE}_{GEOM} WHERE id IN (OLD.fid, NEW.fid); END;
CREATE TRIGGER rtree_{TABLE}_{GEOM}_delete AFTER DELETE ON {TABLE}
  WHEN old.{GEOM} NOT NULL
  BEGIN DELETE FROM rtree_{TABLE}_{GEOM} WHERE id = OLD.fid; END;
CREATE VIEW {TABLE}_current AS SELECT fid, {GEOM}, project_code, project_name, category, county_code, year,
  status, declared_area_mu, area_mu, investment_wan_yuan, batch_id, valid_from FROM {TABLE} WHERE valid_to IS NULL;
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('{TABLE}_current', 'features', '{TABLE}_current', '当前项目图斑 current project parcels (view)', {SRS_ID});
INSERT INTO gpkg_geometry_columns VALUES ('{TABLE}_current', '{GEOM}', 'MULTIPOLYGON', {SRS_ID}, 0, 0);
CREATE TABLE batches (
  fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  batch_id TEXT NOT NULL UNIQUE,
  imported_at DATETIME NOT NULL,
  user TEXT, host TEXT,
  source_path TEXT, source_sha256 TEXT,
  n_read INTEGER, n_accepted INTEGER, n_repaired INTEGER, n_rejected INTEGER,
  n_new INTEGER, n_updated INTEGER, n_unchanged INTEGER,
  synthetic BOOLEAN NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'active',
  undone_at DATETIME, undone_by TEXT,
  note TEXT);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('batches', 'attributes', 'batches', '导入批次 import batches');
{qgis_style.LAYER_STYLES_DDL};
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS default styles');
"""


# -- GeoPackage geometry blobs ----------------------------------------------------------

_ENV_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_HEADER = np.dtype([("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs", "<i4"), ("env", "<f8", (4,))])


def to_gpkg_blobs(geoms: np.ndarray, srs_id: int = SRS_ID) -> list[bytes]:
    """GeoPackage binary blobs (little-endian, XY envelope) of shapely geometries.

    Examples
    --------
    >>> from shapely import box
    >>> b = to_gpkg_blobs(np.array([box(0, 0, 1, 2)]))[0]
    >>> b[:2], from_gpkg_blobs([b])[0].bounds
    (b'GP', (0.0, 0.0, 1.0, 2.0))
    """
    geoms = np.asarray(geoms, dtype=object)
    head = np.zeros(len(geoms), dtype=_HEADER)
    head["magic"] = b"GP"
    head["flags"] = 0b00000011  # little endian, envelope [minx, maxx, miny, maxy]
    head["srs"] = srs_id
    b = shapely.bounds(geoms)
    head["env"] = b[:, [0, 2, 1, 3]]
    wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso", output_dimension=2)
    heads = head.tobytes()
    n = _HEADER.itemsize
    return [heads[i * n:(i + 1) * n] + w for i, w in enumerate(wkb)]


def _header_len(blob: bytes) -> int:
    return 8 + _ENV_BYTES[(blob[3] >> 1) & 0b111]


def from_gpkg_blobs(blobs, on_invalid: str = "raise") -> np.ndarray:
    """Shapely geometries of GeoPackage blobs (``None`` stays ``None``); with
    ``on_invalid="ignore"`` an unreadable blob gives ``None`` too."""
    if on_invalid == "raise":
        wkb = [blob_wkb(b) for b in blobs]
    else:
        wkb = []
        for b in blobs:
            try:
                wkb.append(blob_wkb(b))
            except (KeyError, IndexError, TypeError):
                wkb.append(None)
    return shapely.from_wkb(np.array(wkb, dtype=object), on_invalid=on_invalid)


def _envelope(blob):
    flags = blob[3]
    if (flags >> 1) & 0b111:
        return struct.unpack_from("<4d" if flags & 1 else ">4d", blob, 8)
    g = shapely.from_wkb(bytes(blob)[_header_len(blob):])
    x0, y0, x1, y1 = g.bounds
    return x0, x1, y0, y1


def blob_wkb(blob) -> bytes | None:
    """The WKB inside a GeoPackage blob, as stored (``None`` stays ``None``)."""
    return None if blob is None else bytes(blob)[_header_len(blob):]


def canonical_wkb(blobs) -> list[bytes | None]:
    """WKB of GeoPackage blobs re-encoded as :func:`to_gpkg_blobs` writes it
    (little-endian ISO, 2D), so a blob rewritten by QGIS or GDAL with the same geometry
    gives the same bytes; unreadable or missing blobs give ``None``."""
    geoms = from_gpkg_blobs(blobs, on_invalid="ignore")
    out = shapely.to_wkb(geoms, byte_order=1, flavor="iso", output_dimension=2)
    return [None if g is None else bytes(w) for g, w in zip(geoms, out, strict=True)]


def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and v != v)


def _canon(column: str, values) -> list[str]:
    """Values of one column as SQLite returns them, whatever type was bound (affinity):
    numbers as ``repr(float)``, texts as they are, missing as ``\\x00``."""
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
    for parts, wkb in zip(zip(*cols), wkbs, strict=True):
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


def _register_functions(con: sqlite3.Connection) -> None:
    """The ST_* functions the GeoPackage R-tree triggers call (GDAL has them built in)."""
    con.create_function("ST_IsEmpty", 1, lambda b: None if b is None else (b[3] >> 4) & 1, deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        con.create_function(name, 1, lambda b, i=i: None if b is None else _envelope(b)[i], deterministic=True)


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
    """A sortable, unique batch id such as ``20261125-161230-3fa2``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no login name (containers)
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


class Backend(Protocol):
    """What :class:`Registry` needs from a store (GeoPackage now, PostGIS later)."""

    def transaction(self) -> Iterator[object]: ...

    def current_versions(self, tx, codes: list[str]) -> pd.DataFrame: ...

    def insert_versions(self, tx, rows: pd.DataFrame, geoms: np.ndarray) -> None: ...

    def close_versions(self, tx, fids: list[int], at: str, batch_id: str) -> None: ...

    def insert_batch(self, tx, meta: dict) -> None: ...

    def undo_batch(self, tx, batch_id: str, at: str, user: str) -> tuple[int, int]: ...

    def read_projects(self, include_history: bool) -> tuple[pd.DataFrame, np.ndarray]: ...

    def read_batches(self) -> pd.DataFrame: ...


def storage_error(path: str | os.PathLike, exc: sqlite3.Error) -> AgrigisError:
    """A SQLite error on the registry ``path`` said in plain words, with the remedy.

    Examples
    --------
    >>> str(storage_error("r.gpkg", sqlite3.OperationalError("database or disk is full")))
    'r.gpkg: the disk is full; the registry was not changed. Free some space and run again'
    """
    name = getattr(exc, "sqlite_errorname", "") or ""
    low = str(exc).lower()
    detail = str(exc)
    if name.startswith("SQLITE_FULL") or "disk is full" in low:
        return DataFileError.of("error.registry_disk_full", path=path)
    if name.startswith("SQLITE_READONLY") or "readonly" in low:
        return DataFileError.of("error.registry_read_only", path=path, detail=detail)
    if name.startswith("SQLITE_NOTADB") or "not a database" in low:
        return DataFileError.of("error.registry_not_gpkg", path=path, detail=detail)
    if name.startswith("SQLITE_CORRUPT") or "malformed" in low:
        return DataFileError.of("error.registry_corrupt", path=path, detail=detail)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in low:
        return RegistryBusyError.of("error.registry_locked", path=path)
    if name.startswith("SQLITE_CANTOPEN"):
        return DataFileError.of("error.registry_cannot_open", path=path, detail=detail)
    return DataFileError.of("error.registry_storage", path=path, detail=detail)


def _rollback(con: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: SQLite ends it by itself on some errors
    (a full disk), and a failed ROLLBACK must never hide the error that caused it."""
    if con.in_transaction:
        try:
            con.execute("ROLLBACK")
        except sqlite3.Error as exc:  # pragma: no cover - closing the connection rolls back too
            log.debug("rollback failed after an error: %s", exc)


class GeoPackageBackend:
    """The registry in one GeoPackage file, written with plain ``sqlite3``.

    Every SQLite error (full disk, read-only file, damaged pages, a foreign schema) is
    turned into a keyed :class:`~gis.errors.AgrigisError` naming the file and the remedy
    in one place, :meth:`_guard`, which wraps every connection this class opens.
    """

    def __init__(self, path: str | os.PathLike, timeout: float = 30.0):
        self.path = Path(path)
        self.timeout = timeout
        self.has_fingerprint = True
        if not self.path.exists():
            self._create()
        self._check()

    @contextmanager
    def _guard(self):
        """Turn SQLite errors raised inside the block into clear registry errors."""
        try:
            yield
        except sqlite3.Error as exc:
            raise storage_error(self.path, exc) from None

    # -- file level ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise DataFileError.of("error.registry_cannot_open", path=self.path, detail=str(exc)) from None
        try:
            _register_functions(con)
            con.execute("PRAGMA foreign_keys = OFF")
            con.execute("PRAGMA cache_size = -262144")  # 256 MB: bulk inserts into indexes stay in memory
        except sqlite3.Error:
            con.close()
            raise
        return con

    def _create(self) -> None:
        """Create the file atomically: schema in a temp file, then hard-link into place."""
        from gis.outputs import output_error

        try:
            with self._guard():
                self._create_file()
        except OSError as exc:
            if isinstance(exc, AgrigisError):
                raise
            raise output_error(self.path, exc) from None

    def _create_file(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".registry-", suffix=".gpkg", dir=self.path.parent)
        os.close(fd)
        os.unlink(tmp)
        try:
            con = sqlite3.connect(tmp, isolation_level=None)
            try:
                _register_functions(con)
                con.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
                con.executemany(
                    "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                    "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    qgis_style.style_rows(TABLE, GEOM) + qgis_style.style_rows(f"{TABLE}_current", GEOM),
                )
            finally:
                con.close()
            try:
                os.link(tmp, self.path)  # atomic; fails if another process created it meanwhile
            except FileExistsError:
                pass
            except OSError:  # file systems without hard links (FAT, some network shares)
                if not self.path.exists():
                    os.replace(tmp, self.path)
        finally:
            for extra in (tmp, tmp + "-journal"):
                if os.path.exists(extra):
                    os.unlink(extra)

    def _check(self) -> None:
        """Refuse a file that is not a registry of this schema; add ``fingerprint`` to an
        older one (see :meth:`_migrate`)."""
        with self._read() as con:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {TABLE, "batches"} <= names:
                raise DataFileError.of("error.registry_not_agrigis", path=self.path)
            have = {t: {r[1] for r in con.execute(f"PRAGMA table_info({t})")} for t in REQUIRED_COLUMNS}
        for table, cols in REQUIRED_COLUMNS.items():
            missing = [c for c in cols if c not in have[table]]
            if missing:
                raise DataFileError.of("error.registry_schema", path=self.path, table=table,
                                       columns=", ".join(missing))
        if "fingerprint" not in have[TABLE]:
            self._migrate()

    def _migrate(self) -> None:
        """Add the ``fingerprint`` column to a registry written by an older agrigis and seal
        its versions; a version whose ``area_mu`` does not match its geometry is left
        without a fingerprint (so ``registry verify`` reports it). A read-only file is
        read as it is (no fingerprints, areas computed from the geometry)."""
        try:
            with self.transaction() as tx:
                if "fingerprint" in {r[1] for r in tx.execute(f"PRAGMA table_info({TABLE})")}:
                    return  # another process migrated it meanwhile
                tx.execute(f"ALTER TABLE {TABLE} ADD COLUMN fingerprint TEXT")
                rows = tx.execute(f"SELECT fid, {GEOM}, {', '.join(FINGERPRINTED)} FROM {TABLE}").fetchall()
                df = pd.DataFrame.from_records(rows, columns=["fid", GEOM, *FINGERPRINTED])
                blobs = df.pop(GEOM).tolist()
                fps = fingerprints(df, canonical_wkb(blobs))
                area = geometry_area_mu(from_gpkg_blobs(blobs, on_invalid="ignore")) if len(df) else np.zeros(0)
                ok = _area_agrees(pd.to_numeric(df["area_mu"], errors="coerce").to_numpy(dtype="float64"), area)
                tx.executemany(f"UPDATE {TABLE} SET fingerprint = ? WHERE fid = ?",
                               [(fp if good else None, int(f))
                                for fp, good, f in zip(fps, ok, df["fid"], strict=True)])
            log.warning("%s: written by an earlier agrigis; recorded fingerprints of %d versions "
                        "(%d with a stale area_mu left without one, see agrigis registry verify)",
                        self.path, int(ok.sum()), int((~ok).sum()))
        except DataFileError as exc:
            if exc.key != "error.registry_read_only":
                raise
            self.has_fingerprint = False
            log.info("%s is read-only: read without fingerprints", self.path)

    @contextmanager
    def transaction(self):
        with self._guard():
            con = self._connect()
            try:
                try:
                    con.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if "locked" in str(exc) or "busy" in str(exc):
                        raise RegistryBusyError.of("error.registry_busy", path=self.path,
                                                   timeout=self.timeout) from None
                    raise
                try:
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    _rollback(con)
                    raise
            finally:
                con.close()

    @contextmanager
    def _read(self):
        with self._guard():
            con = self._connect()
            try:
                yield con
            finally:
                con.close()

    # -- reading ---------------------------------------------------------------------
    _FRAME = ("fid", GEOM, *COLUMNS, "closed_by", "source_row", "fingerprint")

    @property
    def _SELECT(self) -> str:  # noqa: N802 - reads like the constant it was
        fp = "fingerprint" if self.has_fingerprint else "NULL AS fingerprint"
        return ", ".join((*self._FRAME[:-1], fp))

    def _frame(self, cur, seal: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows of a ``SELECT _SELECT`` and their geometries; with ``seal`` a boolean
        column ``_sealed``: the stored fingerprint matches the row as it is now."""
        rows = cur.fetchall()
        df = pd.DataFrame.from_records(rows, columns=list(self._FRAME))
        blobs = df.pop(GEOM).tolist()
        geoms = from_gpkg_blobs(blobs) if len(df) else np.array([], dtype=object)
        if seal:
            now = fingerprints(df, [blob_wkb(b) for b in blobs])
            df["_sealed"] = np.asarray(now, dtype=object) == df["fingerprint"].to_numpy(dtype=object)
        return df, geoms

    def current_versions(self, tx, codes: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
        if tx.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {TABLE} WHERE valid_to IS NULL)").fetchone()[0]:
            return self._frame(tx.execute(f"SELECT {self._SELECT} FROM {TABLE} WHERE 0"))
        tx.execute("CREATE TEMP TABLE IF NOT EXISTS _codes (code TEXT PRIMARY KEY)")
        tx.execute("DELETE FROM _codes")
        tx.executemany("INSERT OR IGNORE INTO _codes VALUES (?)", ((c,) for c in codes))
        cur = tx.execute(
            f"SELECT {self._SELECT} FROM {TABLE} JOIN _codes ON project_code = code WHERE valid_to IS NULL"
        )
        return self._frame(cur)

    def read_projects(self, include_history: bool = False, where: str | None = None, params=()):
        sql = f"SELECT {self._SELECT} FROM {TABLE}"
        conds = [] if include_history else ["valid_to IS NULL"]
        if where:
            conds.append(where)
        if conds:
            sql += " WHERE " + " AND ".join(f"({c})" for c in conds)
        with self._read() as con:
            return self._frame(con.execute(sql + " ORDER BY fid", params), seal=True)

    def read_batches(self) -> pd.DataFrame:
        with self._read() as con:
            rows = con.execute(f"SELECT {', '.join(BATCH_COLUMNS)} FROM batches ORDER BY fid").fetchall()
        df = pd.DataFrame.from_records(rows, columns=list(BATCH_COLUMNS), coerce_float=True)
        df["synthetic"] = df["synthetic"].astype(bool)
        return df

    def read_seals(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Every version with its stored and its recomputed fingerprint (``fingerprint``,
        ``now``; geometry re-encoded canonically) and its geometry, for ``verify``."""
        with self._read() as con:
            rows = con.execute(f"SELECT fid, {GEOM}, valid_to, "
                               f"{'fingerprint' if self.has_fingerprint else 'NULL'}, "
                               f"{', '.join(FINGERPRINTED)} FROM {TABLE} ORDER BY fid").fetchall()
        df = pd.DataFrame.from_records(rows, columns=["fid", GEOM, "valid_to", "fingerprint", *FINGERPRINTED])
        blobs = df.pop(GEOM).tolist()
        df["now"] = fingerprints(df, canonical_wkb(blobs))
        return df, from_gpkg_blobs(blobs, on_invalid="ignore") if len(df) else np.array([], dtype=object)

    # -- writing ---------------------------------------------------------------------
    def insert_versions(self, tx, rows: pd.DataFrame, geoms: np.ndarray) -> None:
        if not len(rows):
            return
        geoms = np.asarray(geoms, dtype=object)
        blobs = to_gpkg_blobs(geoms)
        start = tx.execute(
            f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{TABLE}'), 0), "
            f"coalesce((SELECT max(fid) FROM {TABLE}), 0)) + 1"
        ).fetchone()[0]
        fids = list(range(start, start + len(rows)))
        cols = ["fid", GEOM, *ATTRIBUTES, "batch_id", "valid_from", "source_row"]
        values = {c: _py(rows[c]) if c in _NUMERIC or c == "source_row" else _text(_py(rows[c])) for c in cols[2:]}
        data = [fids, blobs] + [values[c] for c in cols[2:]]
        if self.has_fingerprint:
            cols.append("fingerprint")
            data.append(fingerprints(values, [blob_wkb(b) for b in blobs]))
        # The R-tree insert trigger calls a Python function per row (slow for bulk
        # loads): inside this transaction drop it, fill the R-tree in one go from the
        # bounds, and put the identical trigger back before COMMIT. Other connections
        # never see the file without it.
        trig = f"rtree_{TABLE}_{GEOM}_insert"
        sql = tx.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (trig,)).fetchone()
        if sql:
            tx.execute(f"DROP TRIGGER {trig}")
        tx.executemany(
            f"INSERT INTO {TABLE} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", zip(*data)
        )
        b = shapely.bounds(geoms)
        o = _morton_order(b)  # spatially sorted inserts build the R-tree ~20 % faster
        tx.executemany(
            f"INSERT OR REPLACE INTO rtree_{TABLE}_{GEOM} VALUES (?, ?, ?, ?, ?)",
            zip(np.asarray(fids)[o].tolist(), b[o, 0].tolist(), b[o, 2].tolist(), b[o, 1].tolist(), b[o, 3].tolist()),
        )
        if sql:
            tx.execute(sql[0])
        ext = (np.nanmin(b[:, 0]), np.nanmin(b[:, 1]), np.nanmax(b[:, 2]), np.nanmax(b[:, 3]))
        tx.execute(
            "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?1), ?1), min_y = min(coalesce(min_y, ?2), ?2), "
            "max_x = max(coalesce(max_x, ?3), ?3), max_y = max(coalesce(max_y, ?4), ?4), "
            "last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = ?5",
            (*map(float, ext), TABLE),
        )

    def close_versions(self, tx, fids: list[int], at: str, batch_id: str) -> None:
        tx.executemany(
            f"UPDATE {TABLE} SET valid_to = ?, closed_by = ? WHERE fid = ? AND valid_to IS NULL",
            ((at, batch_id, int(f)) for f in fids),
        )

    def insert_batch(self, tx, meta: dict) -> None:
        cols = [c for c in BATCH_COLUMNS if c in meta]
        tx.execute(
            f"INSERT INTO batches ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [meta[c] for c in cols],
        )

    def undo_batch(self, tx, batch_id: str, at: str, user: str) -> tuple[int, int]:
        row = tx.execute("SELECT status FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        if row is None:
            raise RegistryError.of("error.no_batch", batch_id=batch_id, path=self.path)
        if row[0] != "active":
            raise RegistryError.of("error.batch_undone", batch_id=batch_id)
        later = tx.execute(
            f"SELECT DISTINCT closed_by FROM {TABLE} WHERE batch_id = ? AND closed_by IS NOT NULL", (batch_id,)
        ).fetchall()
        if later:
            names = ", ".join(sorted(r[0] for r in later))
            raise RegistryError.of("error.batch_replaced", batch_id=batch_id, names=names)
        deleted = tx.execute(f"DELETE FROM {TABLE} WHERE batch_id = ?", (batch_id,)).rowcount
        restored = tx.execute(
            f"UPDATE {TABLE} SET valid_to = NULL, closed_by = NULL WHERE closed_by = ?", (batch_id,)
        ).rowcount
        tx.execute(
            "UPDATE batches SET status = 'undone', undone_at = ?, undone_by = ? WHERE batch_id = ?",
            (at, user, batch_id),
        )
        return deleted, restored


def _morton_order(bounds: np.ndarray) -> np.ndarray:
    """Order of boxes along a Z-order (Morton) curve of their centres."""
    cx = (bounds[:, 0] + bounds[:, 2]) / 2
    cy = (bounds[:, 1] + bounds[:, 3]) / 2

    def scale(v):
        lo, span = np.nanmin(v), np.ptp(v[np.isfinite(v)]) if np.isfinite(v).any() else 0.0
        return np.nan_to_num((v - lo) / span * 65535 if span > 0 else v * 0).astype(np.uint64)

    def spread(v):
        v = (v | (v << np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x3333333333333333)
        return (v | (v << np.uint64(1))) & np.uint64(0x5555555555555555)

    return np.argsort(spread(scale(cx)) | (spread(scale(cy)) << np.uint64(1)), kind="stable")


def _py(s: pd.Series) -> list:
    """Column values as Python scalars with None for missing (what sqlite3 binds)."""
    if s.dtype.kind == "f":
        return [None if v != v else v for v in s.to_numpy(dtype="float64").tolist()]
    if s.dtype.kind in "iub":
        return s.to_numpy().tolist()
    out = s.astype(object).tolist()
    return [None if v is None or v is pd.NA or (isinstance(v, float) and v != v)
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


# -- the registry ---------------------------------------------------------------------


class Registry:
    """The project registry (one GeoPackage by default).

    Parameters
    ----------
    path : str or Path
        The GeoPackage; created (empty, with schema and QGIS style) if missing.
    timeout : float
        Seconds a writer waits for another writer before :class:`RegistryBusyError`.
    """

    def __init__(self, path: str | os.PathLike, *, timeout: float = 30.0, backend: Backend | None = None):
        self.path = Path(path)
        self.backend = backend or GeoPackageBackend(self.path, timeout=timeout)

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r})"

    # -- reading ---------------------------------------------------------------------
    def projects(self, include_history: bool = False, *, as_of: str | None = None):
        """Project parcels as a GeoDataFrame in EPSG:4490.

        Parameters
        ----------
        include_history : bool
            Also the versions that were replaced (``valid_to`` set).
        as_of : str, optional
            ISO time: the versions valid at that moment (overrides ``include_history``).

        The frame's ``attrs["synthetic"]`` is True when any row comes from a batch
        imported with ``synthetic=True`` (demo data); ``attrs["synthetic_batches"]``
        lists those batches.

        ``area_mu`` is never taken on trust: where a version no longer matches its
        fingerprint (edited by hand, e.g. in QGIS) it is computed from the geometry.
        """
        import geopandas as gpd

        where, params = None, ()
        if as_of is not None:
            where, params = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)", (as_of, as_of)
            include_history = True
        df, geoms = self.backend.read_projects(include_history, where, params)
        sealed = df.pop("_sealed").to_numpy(dtype=bool) if "_sealed" in df else np.zeros(len(df), dtype=bool)
        drop = ["closed_by", "source_row"] if not include_history else ["source_row"]
        df = df.drop(columns=[*drop, "fingerprint"], errors="ignore")
        df["year"] = pd.array(df["year"], dtype="Int64")
        for c in ("declared_area_mu", "area_mu", "investment_wan_yuan"):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        if (~sealed).any():
            df.loc[~sealed, "area_mu"] = geometry_area_mu(np.asarray(geoms, dtype=object)[~sealed])
        fid = df.pop("fid")
        gdf = gpd.GeoDataFrame(df, geometry=list(geoms) if len(df) else [], crs="EPSG:4490")
        gdf.index = pd.Index(fid.to_numpy(), name="fid")
        syn = self.synthetic_batches()
        used = sorted(set(gdf["batch_id"]) & syn)
        gdf.attrs["synthetic_batches"] = used
        gdf.attrs["synthetic"] = bool(used)
        return gdf

    def history(self, project_code: str):
        """All versions of one project, oldest first."""
        df = self.projects(include_history=True)
        out = df[df["project_code"] == str(project_code)]
        if out.empty:
            raise RegistryError.of("error.no_project", code=project_code, path=self.path)
        return out.sort_values("valid_from")

    def batches(self) -> pd.DataFrame:
        """Import batches, oldest first (``synthetic`` is a boolean column)."""
        return self.backend.read_batches()

    def synthetic_batches(self) -> set[str]:
        b = self.batches()
        return set(b.loc[b["synthetic"] & (b["status"] == "active"), "batch_id"])

    # -- writing ---------------------------------------------------------------------
    def write(self, rows, *, source: str, sha256: str, update: bool = False, synthetic: bool = False,
              counts: dict | None = None, batch_id: str | None = None, note: str | None = None,
              tx=None, lang: str = DEFAULT_LANG) -> WriteResult:
        """Write validated rows as one batch (one transaction unless ``tx`` is given).

        ``rows`` is a GeoDataFrame with :data:`ATTRIBUTES`, geometry in EPSG:4490
        (Polygon/MultiPolygon) and optionally ``_row`` (source row, for messages).
        A code already current with identical data is *unchanged*; with different data
        it becomes a new version only with ``update=True``, else the row is refused
        (returned in ``WriteResult.rejected``, with a reason in ``lang``, default Chinese).
        ``area_mu`` is computed here from the geometry (a value in ``rows`` is ignored).
        When no row is new, updated or unchanged, no batch is recorded (``batch_id`` None).
        """
        if tx is None:
            with self.backend.transaction() as tx:
                return self.write(rows, source=source, sha256=sha256, update=update, synthetic=synthetic,
                                  counts=counts, batch_id=batch_id, note=note, tx=tx, lang=lang)
        batch_id = batch_id or new_batch_id()
        at = now_iso()
        rows = rows.reset_index(drop=True)
        geoms = _multi(np.asarray(rows.geometry.values, dtype=object))
        rows["area_mu"] = geometry_area_mu(geoms)  # computed here, never taken from the caller
        src_rows = rows["_row"] if "_row" in rows else pd.Series(np.arange(1, len(rows) + 1))
        old, old_geoms = self.backend.current_versions(tx, rows["project_code"].astype(str).tolist())
        old = old.assign(_g=list(old_geoms)).set_index("project_code") if len(old) else old
        new_mask = np.ones(len(rows), dtype=bool)
        close: list[int] = []
        rejected = []
        n_unchanged = n_updated = 0
        if len(old):
            codes = rows["project_code"].astype(str)
            known = codes.isin(old.index).to_numpy()
            idx = np.flatnonzero(known)
            o = old.loc[codes.iloc[idx]]
            diff = np.zeros((len(idx), len(COMPARED) + 1), dtype=bool)
            for j, c in enumerate(COMPARED):
                diff[:, j] = ~_same_vec(rows[c].iloc[idx].to_numpy(), o[c].to_numpy())
            diff[:, -1] = ~shapely.equals_exact(
                shapely.normalize(geoms[idx]), shapely.normalize(np.asarray(o["_g"].to_numpy(), dtype=object)), 1e-9
            )
            names = np.array([*COMPARED, "geometry"])
            sep = label("registry.list_separator", lang)
            shown = dict(zip(names, names)) if lang == "en" else {
                **{c: label(f"column.{c}", lang) for c in COMPARED}, "geometry": label("field.geometry", lang)}
            for k, i in enumerate(idx):
                changed = names[diff[k]].tolist()
                if not changed:
                    new_mask[i] = False
                    n_unchanged += 1
                elif update:
                    close.append(int(o["fid"].iloc[k]))
                    n_updated += 1
                else:
                    new_mask[i] = False
                    rejected.append((int(src_rows.iloc[i]), message(
                        "reject.registry_conflict", lang, code=codes.iloc[i], batch=o["batch_id"].iloc[k],
                        fields=sep.join(shown[c] for c in changed))))
        if not new_mask.any() and not n_unchanged:  # nothing accepted: no (empty) batch
            return WriteResult(batch_id=None, rejected=pd.DataFrame(rejected, columns=["_row", "reason"]))
        self.backend.close_versions(tx, close, at, batch_id)
        ins = rows.loc[new_mask, list(ATTRIBUTES)].copy()
        ins["batch_id"] = batch_id
        ins["valid_from"] = at
        ins["source_row"] = src_rows[new_mask].to_numpy()
        ins["project_code"] = ins["project_code"].astype(str)
        self.backend.insert_versions(tx, ins, geoms[new_mask])
        counts = dict(counts or {})
        n_rej = len(rejected)
        meta = {
            "batch_id": batch_id, "imported_at": at, "user": _user(), "host": socket.gethostname(),
            "source_path": source, "source_sha256": sha256,
            "n_read": counts.get("n_read", len(rows)),
            "n_accepted": counts.get("n_accepted", len(rows)) - n_rej,
            "n_repaired": counts.get("n_repaired", 0),
            "n_rejected": counts.get("n_rejected", 0) + n_rej,
            "n_new": int(new_mask.sum()) - n_updated, "n_updated": n_updated, "n_unchanged": n_unchanged,
            "synthetic": bool(synthetic), "status": "active", "note": note,
        }
        self.backend.insert_batch(tx, meta)
        return WriteResult(batch_id=batch_id, n_new=meta["n_new"], n_updated=n_updated, n_unchanged=n_unchanged,
                           rejected=pd.DataFrame(rejected, columns=["_row", "reason"]))

    @contextmanager
    def transaction(self):
        """One transaction for several :meth:`write` calls (pass ``tx=``)."""
        with self.backend.transaction() as tx:
            yield tx

    def undo(self, batch_id: str) -> tuple[int, int]:
        """Undo a batch: delete its versions, reopen those it closed. Returns (deleted, restored)."""
        with self.backend.transaction() as tx:
            return self.backend.undo_batch(tx, batch_id, now_iso(), _user())

    # -- integrity -------------------------------------------------------------------
    def verify(self, lang: str = DEFAULT_LANG) -> pd.DataFrame:
        """Versions that changed since they were written (hand edits, e.g. in QGIS).

        Returns one row per problem: ``fid, project_code, valid_to, batch_id, problem,
        detail`` (``detail`` in ``lang``). Problems: ``no_fingerprint`` (a row added by
        hand), ``geometry_edited``, ``attributes_edited``, ``area_stale`` (``area_mu``
        differs from the area of the geometry) and ``rows_missing`` (a batch has fewer
        versions than it wrote: rows were deleted). An empty frame: nothing changed.
        """
        df, geoms = self.backend.read_seals()
        stored = df["fingerprint"].astype(object).where(df["fingerprint"].notna(), None).tolist()
        out = []

        def add(i, problem, **params):
            r = df.iloc[i]
            out.append({"fid": int(r["fid"]), "project_code": r["project_code"], "valid_to": r["valid_to"],
                        "batch_id": r["batch_id"], "problem": problem,
                        "detail": message(f"verify.{problem}", lang, **params)})

        area = geometry_area_mu(geoms) if len(df) else np.zeros(0)
        have = pd.to_numeric(df["area_mu"], errors="coerce").to_numpy(dtype="float64")
        area_ok = _area_agrees(have, area)
        for i, (fp, now) in enumerate(zip(stored, df["now"], strict=True)):
            if not isinstance(fp, str):
                add(i, "no_fingerprint")
            else:
                if fp[32:] != now[32:]:
                    add(i, "geometry_edited")
                if fp[:32] != now[:32]:
                    add(i, "attributes_edited")
            if not area_ok[i]:
                add(i, "area_stale", stored=_fmt_mu(have[i]), computed=_fmt_mu(area[i]))
        out += self._missing_rows(df, lang)
        cols = ["fid", "project_code", "valid_to", "batch_id", "problem", "detail"]
        return pd.DataFrame(out, columns=cols)

    def _missing_rows(self, df: pd.DataFrame, lang: str) -> list[dict]:
        """Active batches with fewer versions than they wrote (rows deleted by hand)."""
        b = self.batches()
        b = b[b["status"] == "active"]
        found = df.groupby("batch_id").size()
        out = []
        for bid, n_new, n_upd in zip(b["batch_id"], b["n_new"], b["n_updated"], strict=True):
            expected = int(pd.to_numeric(n_new, errors="coerce") or 0) + int(pd.to_numeric(n_upd, errors="coerce") or 0)
            k = int(found.get(bid, 0))
            if k < expected:
                out.append({"fid": None, "project_code": None, "valid_to": None, "batch_id": bid,
                            "problem": "rows_missing",
                            "detail": message("verify.rows_missing", lang, batch=bid, expected=expected, found=k)})
        return out

    # -- export ------------------------------------------------------------------------
    def export(self, path: str | os.PathLike, *, include_history: bool = False, lang: str = "zh",
               force: bool = False, category: str | None = None, county: str | None = None,
               per_project: bool = False) -> Path:
        """Write the projects to a GeoPackage, Shapefile, GeoJSON, CSV, XLSX or the
        自然资源部 boundary-point TXT (:mod:`layers.boundary_txt`).

        The file is written to a temporary name and renamed into place (a Shapefile's
        parts together), so a failure leaves the previous file as it was. Refused: the
        registry itself (also through a link), and an existing file that is not an earlier
        export (:data:`EXPORT_MARK`), unless ``force``. Text cells of CSV/XLSX can never
        run as formulas and control characters are removed.

        ``category`` / ``county`` (codes or Chinese names) keep only those projects.
        ``per_project`` (TXT only): ``path`` is a folder that receives one
        ``<project_code>.txt`` per project, as a county office submits them.
        """
        out = Path(path)
        suffix = ".txt" if per_project else out.suffix.lower()
        if suffix not in _EXPORT_DRIVERS:
            raise DataFileError.of("error.export_format", path=out, suffix=suffix)
        gdf = _export_filter(self.projects(include_history=include_history), category, county)
        if suffix == ".txt":
            return _export_txt(gdf, out, per_project, lambda t: self._check_target(t, force))
        parts = [out.with_suffix(s) for s in _SHP_PARTS] if suffix == ".shp" else [out]
        for part in parts:
            self._check_target(part, force)
        mark = f"{label('registry.export_mark', lang)}: {self.path.name}, {now_iso()}"
        notes = [mark] + ([label("synthetic.notice", lang)] if gdf.attrs.get("synthetic") else [])
        if suffix in (".csv", ".xlsx"):
            return _export_table(gdf, out, notes, lang)
        return _export_layer(gdf, out, _EXPORT_DRIVERS[suffix], mark)

    def _check_target(self, target: Path, force: bool) -> None:
        if not (target.exists() or target.is_symlink()):
            return
        if _same_file(target, self.path):
            raise DataFileError.of("error.export_is_registry", path=target, registry=self.path)
        if not force and not _is_own_export(target):
            raise DataFileError.of("error.export_exists", path=target)


def _fmt_mu(v: float) -> str:
    return "?" if v != v else f"{v:,.2f}"


def _same_file(a: Path, b: Path) -> bool:
    """``a`` and ``b`` are one file: the same path, a symbolic link to it, or a hard link."""
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        pass
    try:
        return a.resolve() == b.resolve()
    except OSError:  # pragma: no cover - a link loop
        return False


def _is_own_export(path: Path) -> bool:
    """``path`` was written by :meth:`Registry.export` (it carries :data:`EXPORT_MARK`)."""
    import zipfile

    suffix = path.suffix.lower()
    mark = EXPORT_MARK.encode()
    try:
        if suffix == ".gpkg":
            con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                desc = con.execute("SELECT description FROM gpkg_contents WHERE table_name = ?", (TABLE,)).fetchone()
            finally:
                con.close()
            return "batches" not in names and bool(desc) and EXPORT_MARK in (desc[0] or "")
        if suffix in (".geojson", ".json"):
            with open(path, "rb") as f:
                return mark in f.read(65536)
        if suffix == ".csv":
            with open(path, "rb") as f:
                f.seek(max(0, path.stat().st_size - 4096))
                return mark in f.read()
        if suffix == ".xlsx":
            return _xlsx_has(path, mark)
        if suffix == ".txt":
            with open(path, "rb") as f:
                return f"数据产生单位={EXPORT_MARK}".encode("gb18030") in f.read(4096)
    except (OSError, sqlite3.Error, ValueError, zipfile.BadZipFile):
        return False
    return False  # a Shapefile carries no mark: replacing one needs --force


def _xlsx_has(path: Path, mark: bytes, limit: int = 256 << 20) -> bool:
    """A sheet or the shared strings of an .xlsx contain ``mark`` (read in chunks, at most
    ``limit`` bytes in all: a hostile file cannot make this slow)."""
    import zipfile

    seen = 0
    with zipfile.ZipFile(path) as z:
        members = [n for n in z.namelist() if n.startswith("xl/worksheets/") or n == "xl/sharedStrings.xml"]
        for name in members:
            with z.open(name) as f:
                tail = b""
                while seen < limit:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    if mark in tail + chunk:
                        return True
                    tail, seen = chunk[-len(mark):], seen + len(chunk)
    return False


def _export_table(gdf, out: Path, notes: list[str], lang: str) -> Path:
    """CSV or XLSX through :mod:`gis.outputs` (formula-looking text stays text)."""
    from gis.outputs import Sheet, write_csv, write_excel

    df = pd.DataFrame(gdf.drop(columns="geometry"))
    df["geometry_wkt"] = gdf.geometry.to_wkt()
    df = df.rename(columns={c: label(f"column.{c}", lang) for c in df.columns if _has_label(c)})
    if out.suffix.lower() == ".csv":
        return write_csv(out, df, note=" · ".join(notes))
    return write_excel(out, [Sheet(TABLE, df, notes=notes)], footer=notes[-1] if len(notes) > 1 else "")


def _export_filter(gdf, category: str | None, county: str | None):
    """The projects of one category and/or county (a code, or its Chinese or English name)."""
    from gis.errors import InputError
    from gis.labels import CATEGORIES, COUNTIES

    for col, value, codes in (("category", category, CATEGORIES), ("county_code", county, COUNTIES)):
        if value is None:
            continue
        code = next((str(c) for c, names in codes.items() if value in (str(c), *names)), None)
        if code is None:
            raise InputError.of("error.export_filter", what=col, value=value, choices=", ".join(map(str, codes)))
        gdf = gdf[gdf[col] == code]
    return gdf


def _export_txt(gdf, out: Path, per_project: bool, check) -> Path:
    """The boundary-point TXT: one file for all projects, or one per project in the folder
    ``out``; CGCS2000 3° Gauss-Krüger with the zone prefix of the projects' middle
    longitude; written GB18030 (GBK for every GBK character) through :mod:`gis.outputs`.
    ``check(path)`` refuses a target that may not be replaced."""
    from gis.crs import gk_zone_crs
    from gis.outputs import atomic_write, staged_outputs
    from gis.errors import InputError
    from gis.units import mu_to_ha
    from layers.boundary_txt import TxtParcelOut, format_boundary_txt

    if gdf.empty:
        raise InputError.of("error.export_nothing", path=out)
    gdf = gdf.sort_values("project_code", kind="stable")
    lon = shapely.get_x(shapely.centroid(np.asarray(gdf.geometry.values, dtype=object)))
    zone = int(np.floor(float(np.median(lon)) / 3 + 0.5))
    plane = gdf.geometry.to_crs(gk_zone_crs(zone, 3, prefix=True))
    parcels = [TxtParcelOut(str(r.project_code), str(r.project_name or ""), label(f"category.{r.category}"),
                            float(mu_to_ha(r.area_mu)), g)
               for r, g in zip(gdf.itertuples(), plane, strict=True)]
    text = lambda ps: format_boundary_txt(ps, zone=zone, producer=EXPORT_MARK,  # noqa: E731
                                          date=now_iso()[:10]).encode("gb18030")
    if not per_project:
        check(out)
        return atomic_write(out, lambda tmp: tmp.write_bytes(text(parcels)))
    names = [f"{_file_name(p.code)}.txt" for p in parcels]
    for n in names:
        check(out / n)
    with staged_outputs(out, names) as tmp:
        for n, p in zip(names, parcels, strict=True):
            (tmp / n).write_bytes(text([p]))
    return out


def _file_name(code: str) -> str:
    """A project code as a file name (characters no file system takes become ``_``)."""
    import re

    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", code).strip(". ") or "_"


def _export_layer(gdf, out: Path, driver: str, mark: str) -> Path:
    """GeoPackage, GeoJSON or Shapefile through :mod:`gis.outputs` (temp file, then rename)."""
    import pyogrio

    from gis.outputs import atomic_write, staged_outputs

    data = gdf.reset_index(drop=True)
    if driver == "ESRI Shapefile":
        names = [out.with_suffix(s).name for s in _SHP_PARTS]
        with staged_outputs(out.parent, names) as tmp:
            pyogrio.write_dataframe(data, tmp / out.name, driver=driver, encoding="UTF-8")
        return out
    layer = TABLE if driver == "GPKG" else None
    return atomic_write(out, lambda tmp: pyogrio.write_dataframe(
        data, tmp, layer=layer, driver=driver, layer_options={"DESCRIPTION": mark}))


def _has_label(col: str) -> bool:
    from gis.labels import LABELS

    return f"column.{col}" in LABELS


def _multi(geoms: np.ndarray) -> np.ndarray:
    """Polygons → single-part MultiPolygons (the layer type)."""
    out = np.array(geoms, dtype=object)
    poly = shapely.get_type_id(out) == 3
    if poly.any():
        out[poly] = shapely.multipolygons(out[poly], indices=np.arange(int(poly.sum())))
    return out
