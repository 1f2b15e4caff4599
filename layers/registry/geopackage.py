"""The registry in one GeoPackage file (the embedded default backend), written with
plain ``sqlite3``: schema, geometry blobs, SQLite errors in plain words."""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gis.errors import AgrigisError, DataFileError, RegistryBusyError, RegistryError

from .. import qgis_style
from .rtree import RTREE, insert_entries as rtree_insert, write_entries as rtree_write
from .model import (
    ATTRIBUTES, COLUMNS, FINGERPRINTED, GEOM, INSPECTION_TABLE, PHOTO_TABLE,
    REQUIRED_COLUMNS, SRS_ID, TABLE, TABLES, BATCH_COLUMNS, _NUMERIC, _area_agrees, _py, _text, fingerprints,
    geometry_area_mu,
)

log = logging.getLogger(__name__)

WRITE_CHUNK = 50_000
"""Rows per step of a batch insert: the SQL rows of one step are built, inserted and freed
before the next, all inside the one transaction of the batch (all or nothing). The bytes
held for them are about WRITE_CHUNK × (blob + attributes), ~50 MB for ordinary parcels."""

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

CODE_INDEX = f"{TABLE}_code"
"""The index a registry without any index on ``projects(project_code)`` gets when it is
opened (a new registry has the unique index of the current codes, which serves too)."""

INDEXES = {
    "project_code": f"CREATE INDEX IF NOT EXISTS {CODE_INDEX} ON {TABLE}(project_code)",
    "batch_id": f"CREATE INDEX IF NOT EXISTS {TABLE}_batch ON {TABLE}(batch_id)",
    "closed_by": f"CREATE INDEX IF NOT EXISTS {TABLE}_closed_by ON {TABLE}(closed_by) WHERE closed_by IS NOT NULL",
}
"""The index on ``projects`` a registry gets for each column (as the PostGIS registry has
them) when it has no index starting with that column: ``batch_id`` and ``closed_by`` are
what ``undo`` looks up (:data:`UNDO_SQL`). A new registry is created with the last two."""

UNDO_SQL = {
    "later": f"SELECT DISTINCT closed_by FROM {TABLE} WHERE batch_id = ? AND closed_by IS NOT NULL",
    "delete": f"DELETE FROM {TABLE} WHERE batch_id = ?",
    "reopen": f"UPDATE {TABLE} SET valid_to = NULL, closed_by = NULL WHERE closed_by = ?",
}
"""What ``undo`` of a batch runs on ``projects``, its id the one parameter: the later
batches that closed its versions, deleting its versions, reopening those it closed."""

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
{INDEXES["batch_id"]};
{INDEXES["closed_by"]};
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
    return _blobs_and_wkb(geoms, srs_id)[0]


def _blobs_and_wkb(geoms: np.ndarray, srs_id: int = SRS_ID) -> tuple[list[bytes], list[bytes]]:
    """:func:`to_gpkg_blobs` and the WKB inside each blob (what the fingerprint hashes)."""
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
    return [heads[i * n:(i + 1) * n] + w for i, w in enumerate(wkb)], wkb.tolist()


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
    """The WKB inside a GeoPackage blob, as stored (``None`` stays ``None``); a blob too
    short or with an unknown header (written outside agrigis) is returned whole."""
    if blob is None:
        return None
    try:
        return bytes(blob)[_header_len(blob):]
    except (IndexError, KeyError, TypeError):
        return bytes(blob)


def point_blob(lon: float, lat: float, srs_id: int = SRS_ID) -> bytes:
    """A GeoPackage geometry blob of a point (standard header, no envelope, WKB).

    >>> point_blob(123.0, 45.0)[:4]
    b'GP\\x00\\x01'
    """
    return b"GP" + struct.pack("<BBi", 0, 1, srs_id) + struct.pack("<BIdd", 1, 1, lon, lat)


_INSPECTION_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {INSPECTION_TABLE} (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB, inspection_id TEXT NOT NULL UNIQUE,
  project_code TEXT NOT NULL, version TEXT, version_current TEXT, finding TEXT NOT NULL, note TEXT,
  area_mu REAL, accuracy_m REAL, position_time TEXT, created_at TEXT, photo_count INTEGER NOT NULL,
  imported_at TEXT NOT NULL, source_sha256 TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS {INSPECTION_TABLE}_code ON {INSPECTION_TABLE}(project_code);
CREATE TABLE IF NOT EXISTS {PHOTO_TABLE} (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  inspection_id TEXT NOT NULL REFERENCES {INSPECTION_TABLE}(inspection_id),
  photo_index INTEGER NOT NULL, name TEXT, mime TEXT NOT NULL, sha256 TEXT NOT NULL, data BLOB NOT NULL,
  UNIQUE (inspection_id, photo_index))
"""


def canonical_wkb(blobs) -> list[bytes | None]:
    """WKB of GeoPackage blobs re-encoded as :func:`to_gpkg_blobs` writes it
    (little-endian ISO, 2D), so a blob rewritten by QGIS or GDAL with the same geometry
    gives the same bytes; unreadable or missing blobs give ``None``."""
    geoms = from_gpkg_blobs(blobs, on_invalid="ignore")
    out = shapely.to_wkb(geoms, byte_order=1, flavor="iso", output_dimension=2)
    return [None if g is None else bytes(w) for g, w in zip(geoms, out, strict=True)]


def _register_functions(con: sqlite3.Connection) -> None:
    """The ST_* functions the GeoPackage R-tree triggers call (GDAL has them built in)."""
    con.create_function("ST_IsEmpty", 1, lambda b: None if b is None else (b[3] >> 4) & 1, deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        con.create_function(name, 1, lambda b, i=i: None if b is None else _envelope(b)[i], deterministic=True)



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
        self._rtree_entries: dict[sqlite3.Connection, list] = {}
        """R-tree entries ``(fids, bounds)`` of each open transaction, written before its COMMIT."""
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
        older one (see :meth:`_migrate`) and the indexes it lacks (:meth:`_add_indexes`)."""
        with self._read() as con:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {TABLE, "batches"} <= names:
                raise DataFileError.of("error.registry_not_agrigis", path=self.path)
            have = {t: {r[1] for r in con.execute(f"PRAGMA table_info({t})")} for t in REQUIRED_COLUMNS}
            missing_indexes = _missing_indexes(con)
        for table, cols in REQUIRED_COLUMNS.items():
            missing = [c for c in cols if c not in have[table]]
            if missing:
                raise DataFileError.of("error.registry_schema", path=self.path, table=table,
                                       columns=", ".join(missing))
        if "fingerprint" not in have[TABLE]:
            self._migrate()
        if missing_indexes:
            self._add_indexes(missing_indexes)

    def _add_indexes(self, columns: list[str]) -> None:
        """Index ``projects`` on the :data:`INDEXES` ``columns`` a registry has no index on
        (the current versions of an import's codes are looked up by ``project_code``, an
        undo's versions by ``batch_id`` and ``closed_by``; without them every chunk of a
        large import, every undo, scans the whole table). A read-only file is read as it is."""
        try:
            with self.transaction() as tx:
                for col in columns:
                    tx.execute(INDEXES[col])
            log.info("%s: indexed %s(%s)", self.path, TABLE, ", ".join(columns))
        except RegistryBusyError:  # another process is writing: read as it is, indexed on a later open
            log.info("%s is busy: read without an index on %s", self.path, ", ".join(columns))
        except DataFileError as exc:
            if exc.key != "error.registry_read_only":
                raise
            log.info("%s is read-only: read without an index on %s", self.path, ", ".join(columns))

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
                self._rtree_entries[con] = []
                try:
                    yield con
                    rtree_write(con, self._rtree_entries.pop(con))
                    con.execute("COMMIT")
                except BaseException:
                    _rollback(con)
                    raise
            finally:
                self._rtree_entries.pop(con, None)
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
        # a blob nobody could read (written outside agrigis) is no geometry; verify names the row
        geoms = from_gpkg_blobs(blobs, on_invalid="ignore") if len(df) else np.array([], dtype=object)
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
        cur = tx.execute(  # CROSS JOIN: one index search per code, never a scan of every version
            f"SELECT {self._SELECT} FROM _codes CROSS JOIN {TABLE} ON project_code = code WHERE valid_to IS NULL"
        )
        return self._frame(cur)

    def current_codes(self, tx=None) -> set[str]:
        """The codes of the current versions (read through the code index, no geometry)."""
        if tx is None:
            with self._read() as con:
                return self.current_codes(con)
        return {str(c) for (c,) in tx.execute(f"SELECT project_code FROM {TABLE} WHERE valid_to IS NULL")}

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
        start = tx.execute(
            f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{TABLE}'), 0), "
            f"coalesce((SELECT max(fid) FROM {TABLE}), 0)) + 1"
        ).fetchone()[0]
        fids = list(range(start, start + len(rows)))
        cols = ["fid", GEOM, *ATTRIBUTES, "batch_id", "valid_from", "source_row"]
        if self.has_fingerprint:
            cols.append("fingerprint")
        chunks = (self._feature_rows(rows.iloc[lo:lo + WRITE_CHUNK], geoms[lo:lo + WRITE_CHUNK],
                                     fids[lo:lo + WRITE_CHUNK], cols)
                  for lo in range(0, len(rows), WRITE_CHUNK))
        self._insert_features(tx, cols, chunks, fids, geoms)

    def _feature_rows(self, rows: pd.DataFrame, geoms: np.ndarray, fids: list[int], cols: list[str]) -> list[tuple]:
        """The SQL rows of one chunk: fid, GeoPackage blob, attributes (and fingerprint)."""
        blobs, wkbs = _blobs_and_wkb(geoms)
        attrs = [c for c in cols[2:] if c != "fingerprint"]
        values = {c: _py(rows[c]) if c in _NUMERIC or c == "source_row" else _text(_py(rows[c])) for c in attrs}
        data = [fids, blobs] + [values[c] for c in attrs]
        if self.has_fingerprint:
            data.append(fingerprints(values, wkbs))
        return list(zip(*data, strict=True))

    def _insert_features(self, tx, cols: list[str], row_chunks, fids: list[int], geoms: np.ndarray) -> None:
        """Insert rows of ``projects`` (lists of SQL rows, blobs included) and their R-tree entries.

        The R-tree insert trigger calls a Python function per row (slow for bulk loads):
        inside this transaction drop it and put the identical trigger back before COMMIT
        (other connections never see the file without it). The R-tree entries are kept
        (a fid and four bounds, 40 bytes a row) and written once, just before the COMMIT of
        :meth:`transaction` (:func:`.rtree.write_entries`: one bulk load into an empty
        R-tree, as a first import has); in a transaction this class did not open, at once."""
        trig = f"{RTREE}_insert"
        sql = tx.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (trig,)).fetchone()
        if sql:
            tx.execute(f"DROP TRIGGER {trig}")
        insert = f"INSERT INTO {TABLE} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        for rows in row_chunks:  # chunks of WRITE_CHUNK rows, all in the caller's transaction
            tx.executemany(insert, rows)
        ok = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        geoms, fids = geoms[ok], np.asarray(fids, dtype="int64")[ok]
        b = shapely.bounds(geoms)
        if tx in self._rtree_entries:  # this backend's transaction: written once, before its COMMIT
            self._rtree_entries[tx].append((fids, b))
        else:
            rtree_insert(tx, fids, b)
        if sql:
            tx.execute(sql[0])
        if not len(geoms):
            return
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
        later = tx.execute(UNDO_SQL["later"], (batch_id,)).fetchall()
        if later:
            names = ", ".join(sorted(r[0] for r in later))
            raise RegistryError.of("error.batch_replaced", batch_id=batch_id, names=names)
        deleted = tx.execute(UNDO_SQL["delete"], (batch_id,)).rowcount
        restored = tx.execute(UNDO_SQL["reopen"], (batch_id,)).rowcount
        tx.execute(
            "UPDATE batches SET status = 'undone', undone_at = ?, undone_by = ? WHERE batch_id = ?",
            (at, user, batch_id),
        )
        return deleted, restored

    # -- inspections and whole tables (agrigis registry copy) ------------------------------
    def ensure_inspections(self, tx) -> None:
        """Make ``inspections`` a point layer and ``inspection_photos`` a table of the
        GeoPackage (once; see :mod:`layers.inspections`)."""
        for stmt in filter(str.strip, _INSPECTION_SCHEMA.split(";")):  # not executescript: it would COMMIT
            tx.execute(stmt)
        if tx.execute("SELECT 1 FROM gpkg_contents WHERE table_name = ?", (INSPECTION_TABLE,)).fetchone():
            return
        tx.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
                   "VALUES (?, 'features', ?, ?, ?)", (INSPECTION_TABLE, INSPECTION_TABLE, "现场核查 field inspections "
                                                      f"(photos in {PHOTO_TABLE}, linked by inspection_id)", SRS_ID))
        tx.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'POINT', ?, 0, 0)", (INSPECTION_TABLE, SRS_ID))
        tx.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                   "VALUES (?, 'attributes', ?, ?)", (PHOTO_TABLE, PHOTO_TABLE, "现场核查照片 inspection photos"))

    def dump(self, table: str, where: str | None = None, params=(), order: str = "fid", tx=None):
        """``(columns, rows)`` of one of :data:`~.model.TABLES` as stored (``geom`` as WKB);
        no rows when the table was never created (inspections). ``where`` uses ``?``."""
        cols = list(TABLES[table])
        sql = f"SELECT {', '.join(cols)} FROM {table}" + (f" WHERE {where}" if where else "") + f" ORDER BY {order}"
        if tx is None:
            with self._read() as con:
                return self.dump(table, where, params, order, tx=con)
        if not tx.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
            return cols, []
        rows = tx.execute(sql, params).fetchall()
        if GEOM in cols:
            g = cols.index(GEOM)
            rows = [(*r[:g], blob_wkb(r[g]), *r[g + 1:]) for r in rows]
        return cols, rows

    def load(self, tx, table: str, cols: list[str], rows: list[tuple]) -> None:
        """Insert rows as :meth:`dump` reads them (``fid`` kept when given, ``geom`` WKB)."""
        if not rows:
            return
        if table in (INSPECTION_TABLE, PHOTO_TABLE):
            self.ensure_inspections(tx)
        if GEOM not in cols:
            tx.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
            return
        g = cols.index(GEOM)
        geoms = shapely.from_wkb(np.array([r[g] for r in rows], dtype=object))
        if table == TABLE:
            blobs = [None if w is None else b for w, b in zip((r[g] for r in rows), to_gpkg_blobs(geoms), strict=True)]
        else:  # points: a header without envelope, as the inspection import writes them
            head = b"GP" + struct.pack("<BBi", 0, 1, SRS_ID)
            blobs = [None if r[g] is None else head + bytes(r[g]) for r in rows]
        rows = [(*r[:g], blob, *r[g + 1:]) for r, blob in zip(rows, blobs, strict=True)]
        if table != TABLE:
            tx.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
            return
        fids = [r[cols.index("fid")] for r in rows] if "fid" in cols else None
        if fids is None:
            raise ValueError("projects rows are loaded with their fid")
        self._insert_features(tx, cols, [rows], fids, geoms)

    def is_empty(self) -> bool:
        """No version, batch or inspection stored yet (a copy may go here)."""
        with self._read() as con:
            return all(not self.dump(t, order="fid LIMIT 1", tx=con)[1] for t in TABLES)


def _missing_indexes(con: sqlite3.Connection) -> list[str]:
    """The :data:`INDEXES` columns no index of ``projects`` starts with."""
    first = set()
    for idx in con.execute(f"PRAGMA index_list({TABLE})").fetchall():
        col = con.execute(f"PRAGMA index_info('{idx[1]}')").fetchone()
        if col is not None:
            first.add(col[2])
    return [c for c in INDEXES if c not in first]
