"""The registry in a PostgreSQL/PostGIS database: one store for a bureau and its county offices.

``Registry("postgresql://user@host:port/db")`` selects this backend. It keeps the same
tables as the GeoPackage (:mod:`.geopackage`): ``projects`` (every version, geometry
``MultiPolygon`` EPSG:4490 with a GiST index), ``batches``, the view ``projects_current``
and QGIS's own ``layer_styles`` table, so QGIS opens the layer categorised. Times are the
same ISO text as in the GeoPackage, so a version's fingerprint is the same in both.

Schema
    Created by agrigis on first use, in steps (:data:`MIGRATIONS`); the table
    ``agrigis_schema`` holds the version. A newer agrigis brings an older schema up to
    date on open; an older agrigis refuses a newer schema (``error.pg_schema_newer``).
Roles (row-level security, enforced by PostgreSQL itself)
    ``agrigis_city`` reads and writes everything; ``agrigis_county`` reads everything,
    writes only rows whose ``county_code`` is the county of the login role (table
    ``agrigis_roles``) and undoes only its own batches; ``agrigis_viewer`` only reads.
    :meth:`PostGISBackend.grant` creates a login role in one of them.
Writes
    One transaction per import; versions are written with ``COPY``. Two offices that
    update the same project at once: the first wins, the second gets
    ``error.pg_conflict`` and its batch changes nothing.

Every psycopg error becomes one keyed :class:`~gis.errors.AgrigisError` (:func:`pg_error`).
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import shapely

from gis.errors import AgrigisError, DataFileError, RegistryBusyError, RegistryError, require

from .. import qgis_style
from .model import (
    ATTRIBUTES, BATCH_COLUMNS, COLUMNS, FINGERPRINTED, GEOM, INSPECTION_TABLE, PHOTO_TABLE, SRS_ID, TABLE, TABLES,
    _NUMERIC, _py, _text, fingerprints,
)

log = logging.getLogger(__name__)

ROLES = ("city", "county", "viewer")
"""Kinds of login role :meth:`PostGISBackend.grant` creates (group role ``agrigis_<kind>``)."""

_COLS_SQL = f"""
  {GEOM} geometry(MultiPolygon, {SRS_ID}),
  project_code text NOT NULL, project_name text, category text NOT NULL, county_code text NOT NULL,
  year integer, status text NOT NULL, declared_area_mu double precision, area_mu double precision NOT NULL,
  investment_wan_yuan double precision, batch_id text NOT NULL, valid_from text NOT NULL, valid_to text,
  closed_by text, source_row integer, fingerprint text"""

_V1 = f"""
CREATE TABLE {TABLE} (fid bigserial PRIMARY KEY, {_COLS_SQL});
CREATE UNIQUE INDEX {TABLE}_current_code ON {TABLE} (project_code) WHERE valid_to IS NULL;
CREATE INDEX {TABLE}_{GEOM}_gist ON {TABLE} USING gist ({GEOM});
COMMENT ON TABLE {TABLE} IS '项目图斑 project parcels, all versions (valid_to NULL = current)';
CREATE VIEW {TABLE}_current AS SELECT fid, {GEOM}, project_code, project_name, category, county_code, year,
  status, declared_area_mu, area_mu, investment_wan_yuan, batch_id, valid_from FROM {TABLE} WHERE valid_to IS NULL;
COMMENT ON VIEW {TABLE}_current IS '当前项目图斑 current project parcels';
CREATE TABLE batches (
  fid bigserial PRIMARY KEY, batch_id text NOT NULL UNIQUE, imported_at text NOT NULL, "user" text, host text,
  source_path text, source_sha256 text, n_read integer, n_accepted integer, n_repaired integer,
  n_rejected integer, n_new integer, n_updated integer, n_unchanged integer,
  synthetic boolean NOT NULL DEFAULT false, status text NOT NULL DEFAULT 'active', undone_at text,
  undone_by text, note text, db_role text NOT NULL DEFAULT current_user);
CREATE TABLE IF NOT EXISTS layer_styles (
  id serial PRIMARY KEY, f_table_catalog varchar, f_table_schema varchar, f_table_name varchar,
  f_geometry_column varchar, stylename text, styleqml xml, stylesld xml, useasdefault boolean,
  description text, owner varchar(63) DEFAULT current_user, ui xml,
  update_time timestamp DEFAULT current_timestamp, type varchar);
"""

_V2 = f"""
CREATE INDEX {TABLE}_batch ON {TABLE} (batch_id);
CREATE INDEX {TABLE}_closed_by ON {TABLE} (closed_by) WHERE closed_by IS NOT NULL;
CREATE TABLE agrigis_roles (role_name text PRIMARY KEY, kind text NOT NULL, county_code text);
CREATE FUNCTION agrigis_role_county() RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT county_code FROM agrigis_roles WHERE role_name = current_user $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agrigis_city') THEN CREATE ROLE agrigis_city NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agrigis_county') THEN CREATE ROLE agrigis_county NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agrigis_viewer') THEN CREATE ROLE agrigis_viewer NOLOGIN; END IF;
END $$;
GRANT SELECT ON {TABLE}, {TABLE}_current, batches, layer_styles, agrigis_schema, agrigis_roles
  TO agrigis_city, agrigis_county, agrigis_viewer;
GRANT INSERT, UPDATE, DELETE ON {TABLE}, batches TO agrigis_city, agrigis_county;
GRANT USAGE ON SEQUENCE {TABLE}_fid_seq, batches_fid_seq TO agrigis_city, agrigis_county;
ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_all ON {TABLE} FOR SELECT USING (true);
CREATE POLICY city_all ON {TABLE} FOR ALL TO agrigis_city USING (true) WITH CHECK (true);
CREATE POLICY county_insert ON {TABLE} FOR INSERT TO agrigis_county
  WITH CHECK (county_code = agrigis_role_county());
CREATE POLICY county_update ON {TABLE} FOR UPDATE TO agrigis_county
  USING (county_code = agrigis_role_county()) WITH CHECK (county_code = agrigis_role_county());
CREATE POLICY county_delete ON {TABLE} FOR DELETE TO agrigis_county
  USING (county_code = agrigis_role_county()
         AND batch_id IN (SELECT b.batch_id FROM batches b WHERE b.db_role = current_user));
ALTER TABLE batches ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_all ON batches FOR SELECT USING (true);
CREATE POLICY city_all ON batches FOR ALL TO agrigis_city USING (true) WITH CHECK (true);
CREATE POLICY own_insert ON batches FOR INSERT TO agrigis_county WITH CHECK (db_role = current_user);
CREATE POLICY own_update ON batches FOR UPDATE TO agrigis_county
  USING (db_role = current_user) WITH CHECK (db_role = current_user);
"""

_V3 = f"""
CREATE TABLE IF NOT EXISTS {INSPECTION_TABLE} (
  fid bigserial PRIMARY KEY, {GEOM} geometry(Point, {SRS_ID}), inspection_id text NOT NULL UNIQUE,
  project_code text NOT NULL, version text, version_current text, finding text NOT NULL, note text,
  area_mu double precision, accuracy_m double precision, position_time text, created_at text,
  photo_count integer NOT NULL, imported_at text NOT NULL, source_sha256 text NOT NULL);
CREATE INDEX IF NOT EXISTS {INSPECTION_TABLE}_code ON {INSPECTION_TABLE} (project_code);
COMMENT ON TABLE {INSPECTION_TABLE} IS '现场核查 field inspections (photos in {PHOTO_TABLE}, linked by inspection_id)';
CREATE TABLE IF NOT EXISTS {PHOTO_TABLE} (
  fid bigserial PRIMARY KEY, inspection_id text NOT NULL REFERENCES {INSPECTION_TABLE} (inspection_id),
  photo_index integer NOT NULL, name text, mime text NOT NULL, sha256 text NOT NULL, data bytea NOT NULL,
  UNIQUE (inspection_id, photo_index));
COMMENT ON TABLE {PHOTO_TABLE} IS '现场核查照片 inspection photos';
GRANT SELECT ON {INSPECTION_TABLE}, {PHOTO_TABLE} TO agrigis_city, agrigis_county, agrigis_viewer;
GRANT INSERT ON {INSPECTION_TABLE}, {PHOTO_TABLE} TO agrigis_city, agrigis_county;
GRANT USAGE ON SEQUENCE {INSPECTION_TABLE}_fid_seq, {PHOTO_TABLE}_fid_seq TO agrigis_city, agrigis_county;
"""

MIGRATIONS = {1: _V1, 2: _V2, 3: _V3}
"""SQL that brings the schema from version ``n - 1`` to ``n`` (a new database runs all)."""

SCHEMA_VERSION = max(MIGRATIONS)
"""The schema version this agrigis writes."""

_LOCK = 7_248_510_018  # advisory lock key while creating or migrating the schema


def hide_password(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and ``Registry.path``).

    Examples
    --------
    >>> hide_password("postgresql://city:secret@localhost:5433/registry")
    'postgresql://city:***@localhost:5433/registry'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r":[^:@/]*@", ":***@", url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def pg_error(url: str, exc: Exception) -> AgrigisError:
    """A psycopg error on the registry ``url`` said in plain words, with the remedy.

    Examples
    --------
    >>> import psycopg
    >>> str(pg_error("postgresql://x@h/db", psycopg.OperationalError('password authentication failed for user "x"')))
    'postgresql://x@h/db: the server refused the login of "x" (wrong password or user); check the user and password in the URL, PGPASSWORD or ~/.pgpass'
    """
    import psycopg

    where = hide_password(url)
    text = str(exc).strip()
    low = text.lower()
    first = text.splitlines()[0] if text else type(exc).__name__
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return RegistryBusyError.of("error.pg_busy", path=where)
    if "postgis" in low and ("extension" in low or "control file" in low):
        return DataFileError.of("error.pg_no_postgis", path=where, detail=first)
    if sqlstate in ("23505", "40001", "40P01"):  # unique violation, serialization failure, deadlock
        return RegistryError.of("error.pg_conflict", path=where, detail=first)
    if "row-level security" in low:
        return RegistryError.of("error.pg_rls", path=where, detail=first)
    if sqlstate == "42501" or "permission denied" in low:
        return RegistryError.of("error.pg_permission", path=where, detail=first)
    if "password authentication failed" in low or "no password supplied" in low or sqlstate == "28P01" \
            or re.search(r'role "[^"]*" does not exist', low) and "fatal" in low:
        user = re.search(r'(?:user|role) "([^"]*)"', text)
        return DataFileError.of("error.pg_auth", path=where, user=user.group(1) if user else "?")
    if "does not exist" in low and "database" in low:
        return DataFileError.of("error.pg_no_database", path=where, detail=first)
    if isinstance(exc, psycopg.ProgrammingError) and ("dsn" in low or "conninfo" in low or "uri" in low) \
            or "connection option" in low or "invalid uri" in low:
        return DataFileError.of("error.pg_bad_url", path=where, detail=first)
    if "terminat" in low or "server closed the connection" in low or "connection" in low and "lost" in low \
            or isinstance(exc, psycopg.OperationalError) and getattr(exc, "_agrigis_open", False):
        return DataFileError.of("error.pg_connection_lost", path=where, detail=first)
    if isinstance(exc, psycopg.OperationalError):
        return DataFileError.of("error.pg_unreachable", path=where, detail=first)
    return DataFileError.of("error.pg_storage", path=where, detail=first)


class PostGISBackend:
    """The registry in a PostgreSQL database with PostGIS (see the module docstring).

    Parameters
    ----------
    url : str
        ``postgresql://user[:password]@host[:port]/database`` (libpq URL; ``PGPASSWORD``
        and ``~/.pgpass`` work as usual).
    timeout : float
        Seconds to connect, and seconds a writer waits for a lock before
        :class:`~gis.errors.RegistryBusyError`.
    """

    has_fingerprint = True
    row_security = True

    def __init__(self, url: str, timeout: float = 30.0):
        require("psycopg", "the PostgreSQL/PostGIS registry")
        self.url = url
        self.display = hide_password(url)
        self.timeout = timeout
        self._ensure_schema()
        self.own_county = self._own_county()

    # -- connections -----------------------------------------------------------------
    @contextmanager
    def _guard(self):
        """Turn psycopg errors raised inside the block into clear registry errors."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            raise pg_error(self.url, exc) from None

    def _connect(self):
        import psycopg

        try:
            con = psycopg.connect(self.url, connect_timeout=max(1, int(self.timeout)), application_name="agrigis")
        except psycopg.Error as exc:
            raise pg_error(self.url, exc) from None
        with self._guard():
            con.execute(f"SET lock_timeout = {int(self.timeout * 1000)}")
            con.commit()
        return con

    @contextmanager
    def transaction(self):
        """One transaction: committed at the end of the block, rolled back on any error."""
        import psycopg

        con = self._connect()
        try:
            with self._guard():
                try:
                    yield con
                    con.commit()
                except psycopg.OperationalError as exc:
                    exc._agrigis_open = True  # the connection broke inside the transaction
                    raise
                except BaseException:
                    if not con.closed:
                        try:
                            con.rollback()
                        except psycopg.Error as exc:  # pragma: no cover - the server rolls back anyway
                            log.debug("rollback failed after an error: %s", exc)
                    raise
        finally:
            con.close()

    @contextmanager
    def _read(self):
        con = self._connect()
        try:
            with self._guard():
                yield con
        finally:
            con.close()

    # -- schema ----------------------------------------------------------------------
    def _ensure_schema(self) -> None:
        """Create the schema, or bring an older one up to date; refuse a newer one."""
        with self._read() as con:
            version = self._version(con)
            con.commit()
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise RegistryError.of("error.pg_schema_newer", path=self.display, found=version, known=SCHEMA_VERSION)
        with self.transaction() as con:
            con.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            version = self._version(con)  # another process may have done it meanwhile
            if version == 0:
                con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                con.execute("CREATE TABLE IF NOT EXISTS agrigis_schema (version integer NOT NULL, written_by text)")
                con.execute("INSERT INTO agrigis_schema VALUES (0, 'agrigis')")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                con.execute(MIGRATIONS[step])
                if step == 1:
                    self._write_styles(con)
            con.execute("UPDATE agrigis_schema SET version = %s", (SCHEMA_VERSION,))
        if version:
            log.warning("%s: schema of an earlier agrigis (version %d) brought up to version %d",
                        self.display, version, SCHEMA_VERSION)

    def _version(self, con) -> int:
        if con.execute("SELECT to_regclass('agrigis_schema')").fetchone()[0] is None:
            if con.execute(f"SELECT to_regclass('{TABLE}')").fetchone()[0] is not None:
                raise RegistryError.of("error.pg_not_agrigis", path=self.display, table=TABLE)
            return 0
        row = con.execute("SELECT max(version) FROM agrigis_schema").fetchone()
        return int(row[0] or 0)

    @staticmethod
    def _write_styles(con) -> None:
        """QGIS's ``layer_styles`` rows (QML and SLD as XML documents, as QGIS writes them)."""
        rows = qgis_style.style_rows(TABLE, GEOM) + qgis_style.style_rows(f"{TABLE}_current", GEOM)
        for _cat, _schema, table, col, name, qml, sld, default, desc, _owner, _ui in rows:
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                "stylename, styleqml, stylesld, useasdefault, description, type) VALUES (current_database(), "
                "current_schema(), %s, %s, %s, XMLPARSE(DOCUMENT %s), XMLPARSE(DOCUMENT %s), %s, %s, 'vector')",
                (table, col, name, qml, sld, bool(default), desc))

    def _own_county(self) -> str | None:
        """The county this login may write (a county-office role), else None (writes all
        or nothing, as its role says); sets :attr:`row_security` (policies apply to this
        login: not a superuser, not the owner of the tables)."""
        with self._read() as con:
            row = con.execute(
                "SELECT agrigis_role_county(), pg_has_role('agrigis_county', 'MEMBER') "
                "AND NOT pg_has_role('agrigis_city', 'MEMBER') AND NOT rolsuper, "
                f"NOT (rolsuper OR rolbypassrls OR pg_has_role((SELECT tableowner FROM pg_tables "
                f"WHERE tablename = '{TABLE}' AND schemaname = current_schema()), 'MEMBER')) "
                "FROM pg_roles WHERE rolname = current_user").fetchone()
        self.row_security = bool(row and row[2])
        return row[0] if row and row[1] else None

    def grant(self, role: str, kind: str, *, county: str | None = None, password: str | None = None) -> None:
        """Create (or update) the login ``role`` as a ``kind`` of :data:`ROLES`.

        Needs a connection of the database owner or a superuser (``CREATEROLE``). A
        ``county`` role needs its GB/T 2260 ``county`` code.
        """
        from psycopg import sql

        if kind not in ROLES:
            raise RegistryError.of("error.pg_role_kind", kind=kind, choices=", ".join(ROLES))
        if (kind == "county") != (county is not None):
            raise RegistryError.of("error.pg_role_county", role=role, kind=kind)
        name = sql.Identifier(role)
        with self.transaction() as con:
            exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            con.execute(sql.SQL("CREATE ROLE {} LOGIN" if not exists else "ALTER ROLE {} LOGIN").format(name))
            if password is not None:
                con.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(password)))
            for other in ROLES:
                if other != kind:
                    con.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(f"agrigis_{other}"), name))
            con.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(f"agrigis_{kind}"), name))
            con.execute("INSERT INTO agrigis_roles VALUES (%s, %s, %s) ON CONFLICT (role_name) DO UPDATE "
                        "SET kind = excluded.kind, county_code = excluded.county_code", (role, kind, county))

    # -- reading ---------------------------------------------------------------------
    _FRAME = ("fid", GEOM, *COLUMNS, "closed_by", "source_row", "fingerprint")
    _SELECT = ", ".join(f"ST_AsBinary({GEOM}, 'NDR')" if c == GEOM else c for c in _FRAME)

    def _frame(self, rows, seal: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
        df = pd.DataFrame.from_records(rows, columns=list(self._FRAME))
        wkb = [None if w is None else bytes(w) for w in df.pop(GEOM).tolist()]
        geoms = shapely.from_wkb(np.array(wkb, dtype=object)) if len(df) else np.array([], dtype=object)
        if seal:
            now = fingerprints(df, wkb)
            df["_sealed"] = np.asarray(now, dtype=object) == df["fingerprint"].to_numpy(dtype=object)
        return df, geoms

    def current_versions(self, tx, codes: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
        rows = tx.execute(f"SELECT {self._SELECT} FROM {TABLE} WHERE valid_to IS NULL AND project_code = ANY(%s)",
                          (list(dict.fromkeys(codes)),)).fetchall()
        return self._frame(rows)

    def current_codes(self, tx=None) -> set[str]:
        """The codes of the current versions (no geometry); ``tx``: inside that transaction."""
        sql = f"SELECT project_code FROM {TABLE} WHERE valid_to IS NULL"
        if tx is None:
            with self._read() as con:
                return {str(c) for (c,) in con.execute(sql).fetchall()}
        return {str(c) for (c,) in tx.execute(sql).fetchall()}

    def read_projects(self, include_history: bool = False, where: str | None = None, params=()):
        sql = f"SELECT {self._SELECT} FROM {TABLE}"
        conds = [] if include_history else ["valid_to IS NULL"]
        if where:
            conds.append(where.replace("?", "%s"))
        if conds:
            sql += " WHERE " + " AND ".join(f"({c})" for c in conds)
        with self._read() as con:
            rows = con.execute(sql + " ORDER BY fid", params).fetchall()
        return self._frame(rows, seal=True)

    def read_batches(self) -> pd.DataFrame:
        cols = ", ".join(f'"{c}"' for c in BATCH_COLUMNS)
        with self._read() as con:
            rows = con.execute(f"SELECT {cols} FROM batches ORDER BY fid").fetchall()
        df = pd.DataFrame.from_records(rows, columns=list(BATCH_COLUMNS), coerce_float=True)
        df["synthetic"] = df["synthetic"].astype(bool)
        return df

    def read_seals(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Every version with its stored and recomputed fingerprint, for ``verify``."""
        with self._read() as con:
            rows = con.execute(f"SELECT fid, ST_AsBinary({GEOM}, 'NDR'), valid_to, fingerprint, "
                               f"{', '.join(FINGERPRINTED)} FROM {TABLE} ORDER BY fid").fetchall()
        df = pd.DataFrame.from_records(rows, columns=["fid", GEOM, "valid_to", "fingerprint", *FINGERPRINTED])
        wkb = [None if w is None else bytes(w) for w in df.pop(GEOM).tolist()]
        geoms = shapely.from_wkb(np.array(wkb, dtype=object), on_invalid="ignore") if len(df) else np.array([])
        canon = shapely.to_wkb(geoms, byte_order=1, flavor="iso", output_dimension=2) if len(df) else []
        df["now"] = fingerprints(df, [None if g is None else bytes(w) for g, w in zip(geoms, canon, strict=True)])
        return df, geoms

    # -- writing ---------------------------------------------------------------------
    def insert_versions(self, tx, rows: pd.DataFrame, geoms: np.ndarray) -> None:
        """Write versions with ``COPY`` (geometry as hex EWKB, SRID 4490)."""
        if not len(rows):
            return
        geoms = np.asarray(geoms, dtype=object)
        wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso", output_dimension=2)
        ewkb = shapely.to_wkb(shapely.set_srid(geoms, SRS_ID), hex=True, byte_order=1, include_srid=True,
                              output_dimension=2)
        cols = [*ATTRIBUTES, "batch_id", "valid_from", "source_row"]
        values = {c: _py(rows[c]) if c in _NUMERIC or c == "source_row" else _text(_py(rows[c])) for c in cols}
        fps = fingerprints(values, [bytes(w) for w in wkb])
        names = f"{GEOM}, {', '.join(cols)}, fingerprint"
        self._copy(tx, TABLE, names, zip(ewkb.tolist(), *(values[c] for c in cols), fps, strict=True))

    def close_versions(self, tx, fids: list[int], at: str, batch_id: str) -> None:
        """End the current versions ``fids``; a version another writer ended meanwhile (or
        one this role may not change) is a conflict: the whole batch is refused."""
        if not fids:
            return
        cur = tx.execute(f"UPDATE {TABLE} SET valid_to = %s, closed_by = %s "
                         "WHERE fid = ANY(%s) AND valid_to IS NULL", (at, batch_id, [int(f) for f in fids]))
        if cur.rowcount != len(fids):
            raise RegistryError.of("error.pg_conflict", path=self.display,
                                   detail=f"{len(fids) - cur.rowcount} of {len(fids)} versions changed meanwhile "
                                          "or may not be changed by this role")

    def insert_batch(self, tx, meta: dict) -> None:
        cols = [c for c in BATCH_COLUMNS if c in meta]
        tx.execute(f"INSERT INTO batches ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in cols)}) "
                   f"VALUES ({', '.join(['%s'] * len(cols))})", [meta[c] for c in cols])

    def undo_batch(self, tx, batch_id: str, at: str, user: str) -> tuple[int, int]:
        row = tx.execute("SELECT status, db_role FROM batches WHERE batch_id = %s", (batch_id,)).fetchone()
        if row is None:
            raise RegistryError.of("error.no_batch", batch_id=batch_id, path=self.display)
        if row[0] != "active":
            raise RegistryError.of("error.batch_undone", batch_id=batch_id)
        later = tx.execute(f"SELECT DISTINCT closed_by FROM {TABLE} WHERE batch_id = %s AND closed_by IS NOT NULL",
                           (batch_id,)).fetchall()
        if later:
            raise RegistryError.of("error.batch_replaced", batch_id=batch_id, names=", ".join(sorted(r[0] for r in later)))
        marked = tx.execute("UPDATE batches SET status = 'undone', undone_at = %s, undone_by = %s "
                            "WHERE batch_id = %s", (at, user, batch_id)).rowcount
        expected = tx.execute(f"SELECT count(*) FROM {TABLE} WHERE batch_id = %s", (batch_id,)).fetchone()[0]
        deleted = tx.execute(f"DELETE FROM {TABLE} WHERE batch_id = %s", (batch_id,)).rowcount
        if not marked or deleted != expected:  # row-level security: not this role's batch
            raise RegistryError.of("error.pg_undo_not_own", batch_id=batch_id, owner=row[1], path=self.display)
        restored = tx.execute(f"UPDATE {TABLE} SET valid_to = NULL, closed_by = NULL WHERE closed_by = %s",
                              (batch_id,)).rowcount
        return deleted, restored

    # -- inspections and whole tables (agrigis registry copy) ------------------------------
    def ensure_inspections(self, tx) -> None:
        """The inspection tables are part of the schema (migration 3): nothing to do."""

    def dump(self, table: str, where: str | None = None, params=(), order: str = "fid", tx=None):
        """``(columns, rows)`` of one of :data:`~.model.TABLES` as stored (``geom`` as
        little-endian WKB); ``where`` uses ``?`` like the GeoPackage's."""
        cols = list(TABLES[table])
        sel = ", ".join(f"ST_AsBinary({GEOM}, 'NDR')" if c == GEOM else f'"{c}"' for c in cols)
        sql = f"SELECT {sel} FROM {table}" + (f" WHERE {where.replace('?', '%s')}" if where else "") + \
            f" ORDER BY {order}"
        if tx is None:
            with self._read() as con:
                return self.dump(table, where, params, order, tx=con)
        rows = tx.execute(sql, params).fetchall()
        if GEOM in cols:
            g = cols.index(GEOM)
            rows = [(*r[:g], None if r[g] is None else bytes(r[g]), *r[g + 1:]) for r in rows]
        return cols, rows

    def load(self, tx, table: str, cols: list[str], rows: list[tuple]) -> None:
        """Insert rows as :meth:`dump` reads them with ``COPY`` (``fid`` kept when given,
        the table's id sequence moved past it)."""
        if not rows:
            return
        if GEOM in cols:
            g = cols.index(GEOM)
            wkb = np.array([r[g] for r in rows], dtype=object)
            ewkb = shapely.to_wkb(shapely.set_srid(shapely.from_wkb(wkb), SRS_ID), hex=True, byte_order=1,
                                  include_srid=True, output_dimension=2).tolist()
            rows = [(*r[:g], e, *r[g + 1:]) for r, e in zip(rows, ewkb, strict=True)]
        self._copy(tx, table, ", ".join(f'"{c}"' for c in cols), rows)
        if "fid" in cols:
            tx.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'fid'), "
                       f"(SELECT greatest(max(fid), 1) FROM {table}))")

    def _copy(self, tx, table: str, names: str, rows) -> None:
        """``COPY`` rows into ``table``; under row-level security (which refuses ``COPY``)
        into a temporary table, then one ``INSERT`` the policies check."""
        target = table
        if self.row_security:
            target = f"_agrigis_{table}"
            tx.execute(f"CREATE TEMP TABLE IF NOT EXISTS {target} ON COMMIT DROP AS "
                       f"SELECT {names} FROM {table} WITH NO DATA")
            tx.execute(f"TRUNCATE {target}")
        with tx.cursor().copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if self.row_security:
            tx.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {target}")

    def is_empty(self) -> bool:
        """No version, batch or inspection stored yet (a copy may go here)."""
        with self._read() as con:
            return not any(con.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0] for t in TABLES)
