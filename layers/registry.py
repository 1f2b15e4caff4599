"""The project registry: one GeoPackage with every project parcel, its history and batches.

Layout of ``registry.gpkg`` (a standard GeoPackage 1.4 that GDAL, pyogrio and QGIS open):

``projects`` (features, MultiPolygon, EPSG:4490, R-tree index)
    one row per *version* of a project parcel: the fields of DESIGN.md's data model
    (``project_code … investment_wan_yuan, batch_id, valid_from, valid_to``) plus
    ``closed_by`` (the batch that ended this version) and ``source_row``. The current
    version of a project has ``valid_to`` NULL (a partial unique index guarantees one).
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
:class:`~gis.errors.RegistryBusyError`.

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

from gis.errors import DataFileError, RegistryBusyError, RegistryError
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
  source_row INTEGER);
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


def from_gpkg_blobs(blobs) -> np.ndarray:
    """Shapely geometries of GeoPackage blobs (``None`` stays ``None``)."""
    wkb = [None if b is None else bytes(b)[_header_len(b):] for b in blobs]
    return shapely.from_wkb(np.array(wkb, dtype=object))


def _envelope(blob):
    flags = blob[3]
    if (flags >> 1) & 0b111:
        return struct.unpack_from("<4d" if flags & 1 else ">4d", blob, 8)
    g = shapely.from_wkb(bytes(blob)[_header_len(blob):])
    x0, y0, x1, y1 = g.bounds
    return x0, x1, y0, y1


def _register_functions(con: sqlite3.Connection) -> None:
    """The ST_* functions the GeoPackage R-tree triggers call (GDAL has them built in)."""
    con.create_function("ST_IsEmpty", 1, lambda b: None if b is None else (b[3] >> 4) & 1, deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        con.create_function(name, 1, lambda b, i=i: None if b is None else _envelope(b)[i], deterministic=True)


# -- data carried between the layers ----------------------------------------------------


@dataclass
class WriteResult:
    """What one batch did to the registry."""

    batch_id: str
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


class GeoPackageBackend:
    """The registry in one GeoPackage file, written with plain ``sqlite3``."""

    def __init__(self, path: str | os.PathLike, timeout: float = 30.0):
        self.path = Path(path)
        self.timeout = timeout
        if not self.path.exists():
            self._create()
        self._check()

    # -- file level ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise DataFileError.of("error.registry_cannot_open", path=self.path, detail=str(exc)) from None
        _register_functions(con)
        con.execute("PRAGMA foreign_keys = OFF")
        con.execute("PRAGMA cache_size = -262144")  # 256 MB: bulk inserts into indexes stay in memory
        return con

    def _create(self) -> None:
        """Create the file atomically: schema in a temp file, then hard-link into place."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".registry-", suffix=".gpkg", dir=self.path.parent)
        os.close(fd)
        os.unlink(tmp)
        try:
            con = sqlite3.connect(tmp, isolation_level=None)
            _register_functions(con)
            con.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
            con.executemany(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                qgis_style.style_rows(TABLE, GEOM) + qgis_style.style_rows(f"{TABLE}_current", GEOM),
            )
            con.close()
            try:
                os.link(tmp, self.path)  # atomic; fails if another process created it meanwhile
            except FileExistsError:
                pass
            except OSError:  # file systems without hard links (FAT, some network shares)
                if not self.path.exists():
                    os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _check(self) -> None:
        try:
            con = self._connect()
            try:
                names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise RegistryBusyError.of("error.registry_locked", path=self.path) from None
            raise DataFileError.of("error.registry_not_gpkg", path=self.path, detail=str(exc)) from None
        if not {TABLE, "batches"} <= names:
            raise DataFileError.of("error.registry_not_agrigis", path=self.path)

    @contextmanager
    def transaction(self):
        con = self._connect()
        try:
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise RegistryBusyError.of("error.registry_busy", path=self.path, timeout=self.timeout) from None
                raise
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()

    @contextmanager
    def _read(self):
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    # -- reading ---------------------------------------------------------------------
    _SELECT = ", ".join(("fid", GEOM) + COLUMNS + ("closed_by", "source_row"))

    def _frame(self, cur) -> tuple[pd.DataFrame, np.ndarray]:
        rows = cur.fetchall()
        cols = ["fid", GEOM, *COLUMNS, "closed_by", "source_row"]
        df = pd.DataFrame.from_records(rows, columns=cols)
        geoms = from_gpkg_blobs(df.pop(GEOM).tolist()) if len(df) else np.array([], dtype=object)
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
            return self._frame(con.execute(sql + " ORDER BY fid", params))

    def read_batches(self) -> pd.DataFrame:
        with self._read() as con:
            df = pd.read_sql_query(f"SELECT {', '.join(BATCH_COLUMNS)} FROM batches ORDER BY fid", con)
        df["synthetic"] = df["synthetic"].astype(bool)
        return df

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
        data = [fids, blobs] + [_py(rows[c]) for c in cols[2:]]
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
        """
        import geopandas as gpd

        where, params = None, ()
        if as_of is not None:
            where, params = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)", (as_of, as_of)
            include_history = True
        df, geoms = self.backend.read_projects(include_history, where, params)
        df = df.drop(columns=["closed_by", "source_row"] if not include_history else ["source_row"])
        df["year"] = pd.array(df["year"], dtype="Int64")
        for c in ("declared_area_mu", "area_mu", "investment_wan_yuan"):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
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
        """
        if tx is None:
            with self.backend.transaction() as tx:
                return self.write(rows, source=source, sha256=sha256, update=update, synthetic=synthetic,
                                  counts=counts, batch_id=batch_id, note=note, tx=tx, lang=lang)
        batch_id = batch_id or new_batch_id()
        at = now_iso()
        rows = rows.reset_index(drop=True)
        geoms = _multi(np.asarray(rows.geometry.values, dtype=object))
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

    def export(self, path: str | os.PathLike, *, include_history: bool = False, lang: str = "zh") -> Path:
        """Write the projects to a GeoPackage, Shapefile, GeoJSON, CSV or XLSX file."""
        from gis.labels import label

        out = Path(path)
        gdf = self.projects(include_history=include_history)
        suffix = out.suffix.lower()
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix in (".csv", ".xlsx"):
            df = pd.DataFrame(gdf.drop(columns="geometry"))
            df["geometry_wkt"] = gdf.geometry.to_wkt()
            df = df.rename(columns={c: label(f"column.{c}", lang) for c in df.columns if _has_label(c)})
            if suffix == ".csv":
                df.to_csv(out, index=False, encoding="utf-8-sig")
            else:
                df.to_excel(out, index=False)
            return out
        driver = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON"}.get(suffix)
        if driver is None:
            raise DataFileError.of("error.export_format", path=out, suffix=suffix)
        kw = {"encoding": "UTF-8"} if driver == "ESRI Shapefile" else {}
        gdf.reset_index(drop=True).to_file(out, driver=driver, layer=TABLE if driver == "GPKG" else None, **kw)
        return out


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
