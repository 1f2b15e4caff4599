"""The registry's rules (:class:`Registry`: history, updates, undo, verify, export) and
the :class:`Backend` protocol every store implements."""

from __future__ import annotations

import logging
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Container, Iterator, Protocol

import numpy as np
import pandas as pd
import shapely

from gis.errors import DataFileError, RegistryError
from gis.labels import DEFAULT_LANG, label, message

from .export import (
    _EXPORT_DRIVERS, _SHP_PARTS, _export_filter, _export_layer, _export_table, _export_txt, _is_own_export,
    _same_file,
)
from .geopackage import GeoPackageBackend
from .model import (
    ATTRIBUTES, COMPARED, WriteResult, _area_agrees, _fmt_mu, _multi, _same_vec, _user,
    geometry_area_mu, new_batch_id, now_iso,
)

log = logging.getLogger(__name__)

URL_SCHEMES = ("postgresql://", "postgres://")
"""Registry locations that name a PostgreSQL/PostGIS database instead of a GeoPackage."""


def is_url(location: str | os.PathLike) -> bool:
    """``location`` is a PostgreSQL URL (``postgresql://user@host:port/db``), not a file.

    Examples
    --------
    >>> is_url("postgresql://city@localhost/registry"), is_url("registry.gpkg")
    (True, False)
    """
    return isinstance(location, str) and location.lower().startswith(URL_SCHEMES)

class Backend(Protocol):
    """What :class:`Registry` and :mod:`layers.inspections` need from a store
    (:class:`~.geopackage.GeoPackageBackend`, :class:`~.postgis.PostGISBackend`).

    ``dump``/``load`` read and write whole rows of :data:`~.model.TABLES` as stored
    (``geom`` as little-endian ISO WKB, ``where`` with ``?`` placeholders): the
    inspections and ``agrigis registry copy`` use them."""

    def transaction(self) -> Iterator[object]: ...

    def current_versions(self, tx, codes: list[str]) -> pd.DataFrame: ...

    def insert_versions(self, tx, rows: pd.DataFrame, geoms: np.ndarray) -> None: ...

    def close_versions(self, tx, fids: list[int], at: str, batch_id: str) -> None: ...

    def insert_batch(self, tx, meta: dict) -> None: ...

    def undo_batch(self, tx, batch_id: str, at: str, user: str) -> tuple[int, int]: ...

    def read_projects(self, include_history: bool) -> tuple[pd.DataFrame, np.ndarray]: ...

    def current_codes(self, tx=None) -> set[str]: ...

    def read_batches(self) -> pd.DataFrame: ...

    def read_seals(self) -> tuple[pd.DataFrame, np.ndarray]: ...

    def ensure_inspections(self, tx) -> None: ...

    def dump(self, table: str, where: str | None = None, params=(), order: str = "fid",
             tx=None) -> tuple[list[str], list[tuple]]: ...

    def load(self, tx, table: str, cols: list[str], rows: list[tuple]) -> None: ...

    def is_empty(self) -> bool: ...


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
        if backend is None and is_url(path):
            from .postgis import PostGISBackend

            backend = PostGISBackend(str(path), timeout=timeout)
        if backend is not None and getattr(backend, "url", None):
            self.path = backend.display  # a URL (password hidden), not a file
        else:
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
        year = pd.to_numeric(df["year"], errors="coerce")  # a hand edit may have put text or 2024.5 there
        df["year"] = pd.array(year.where(year == year.round()), dtype="Int64")
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

    def current_codes(self, tx=None) -> set[str]:
        """The project codes now current (as text), without reading a geometry; ``tx``: read
        inside that transaction of :meth:`transaction`."""
        return self.backend.current_codes(tx)  # a fresh set from either backend

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
            with self.backend.transaction() as own_tx:
                return self.write(rows, source=source, sha256=sha256, update=update, synthetic=synthetic,
                                  counts=counts, batch_id=batch_id, note=note, tx=own_tx, lang=lang)
        batch_id = batch_id or new_batch_id()
        at = now_iso()
        n_given = len(rows)
        res = self.write_rows(rows, tx=tx, batch_id=batch_id, at=at, update=update, lang=lang)
        if res.batch_id is None:  # nothing accepted: no (empty) batch
            return res
        counts = dict(counts or {})
        n_rej = len(res.rejected)
        self.record_batch(tx, batch_id=batch_id, at=at, source=source, sha256=sha256, synthetic=synthetic, note=note,
                          counts={"n_read": counts.get("n_read", n_given),
                                  "n_accepted": counts.get("n_accepted", n_given) - n_rej,
                                  "n_repaired": counts.get("n_repaired", 0),
                                  "n_rejected": counts.get("n_rejected", 0) + n_rej,
                                  "n_new": res.n_new, "n_updated": res.n_updated, "n_unchanged": res.n_unchanged})
        return res

    def write_rows(self, rows, *, tx, batch_id: str, at: str, update: bool = False, lang: str = DEFAULT_LANG,
                   current: Container[str] | None = None) -> WriteResult:
        """The versions of :meth:`write` without the batch's own record: a batch written in
        parts (a file imported chunk by chunk) calls this per part, all in ``tx`` with one
        ``batch_id`` and ``at``, then :meth:`record_batch` once. ``WriteResult.batch_id`` is
        None when no row was new, updated or unchanged. ``current``: every code that may be
        current in the registry (read inside ``tx``, plus those written since); the rows'
        other codes are new without asking the registry, which a part of a large batch
        would otherwise ask by scanning every version written before it.

        Examples
        --------
        >>> with reg.transaction() as tx:  # doctest: +SKIP
        ...     res = reg.write_rows(rows, tx=tx, batch_id=new_batch_id(), at=now_iso())
        """
        rows = rows.reset_index(drop=True)
        if "_row" not in rows:
            rows["_row"] = np.arange(1, len(rows) + 1)
        rows, rejected = self._own_county_rows(rows, lang)
        geoms = _multi(np.asarray(rows.geometry.values, dtype=object))
        rows["area_mu"] = geometry_area_mu(geoms)  # computed here, never taken from the caller
        codes = rows["project_code"].astype(str).tolist()
        if current is not None:
            codes = [c for c in codes if c in current]
        old, old_geoms = self.backend.current_versions(tx, codes) if codes else (pd.DataFrame(), [])
        old = old.assign(_g=list(old_geoms)).set_index("project_code") if len(old) else old
        ch = _compare_current(rows, geoms, old, update=update, lang=lang)
        rejected.extend(ch.rejected)
        if not ch.new_mask.any() and not ch.n_unchanged:
            return WriteResult(batch_id=None, rejected=pd.DataFrame(rejected, columns=["_row", "reason"]))
        self.backend.close_versions(tx, ch.close, at, batch_id)
        new_mask = ch.new_mask
        ins = rows.loc[new_mask, list(ATTRIBUTES)].copy()
        ins["batch_id"] = batch_id
        ins["valid_from"] = at
        ins["source_row"] = rows["_row"][new_mask].to_numpy()
        ins["project_code"] = ins["project_code"].astype(str)
        self.backend.insert_versions(tx, ins, geoms[new_mask])
        return WriteResult(batch_id=batch_id, n_new=int(new_mask.sum()) - ch.n_updated, n_updated=ch.n_updated,
                           n_unchanged=ch.n_unchanged, rejected=pd.DataFrame(rejected, columns=["_row", "reason"]))

    def record_batch(self, tx, *, batch_id: str, at: str, source: str, sha256: str, counts: dict,
                     synthetic: bool = False, note: str | None = None) -> None:
        """The record of a batch whose versions :meth:`write_rows` wrote: ``counts`` holds
        ``n_read, n_accepted, n_repaired, n_rejected, n_new, n_updated, n_unchanged``."""
        meta = {
            "batch_id": batch_id, "imported_at": at, "user": _user(), "host": socket.gethostname(),
            "source_path": source, "source_sha256": sha256,
            **{k: int(counts[k]) for k in ("n_read", "n_accepted", "n_repaired", "n_rejected", "n_new", "n_updated",
                                           "n_unchanged")},
            "synthetic": bool(synthetic), "status": "active", "note": note,
        }
        self.backend.insert_batch(tx, meta)

    def _own_county_rows(self, rows, lang: str):
        """Rows this login may write, and the refused ones as ``(_row, reason)``: a
        county-office login of the PostGIS backend writes only its own county (the
        database refuses the others too, see :mod:`.postgis`)."""
        own = getattr(self.backend, "own_county", None)
        if own is None:
            return rows, []
        other = (rows["county_code"].astype(str) != own).to_numpy()
        rejected = [(int(r), message("reject.pg_other_county", lang, county=c, own=own))
                    for r, c in zip(rows.loc[other, "_row"], rows.loc[other, "county_code"], strict=True)]
        return rows.loc[~other].reset_index(drop=True), rejected

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
        mark = f"{label('registry.export_mark', lang)}: {getattr(self.path, 'name', self.path)}, {now_iso()}"
        notes = [mark] + ([label("synthetic.notice", lang)] if gdf.attrs.get("synthetic") else [])
        if suffix in (".csv", ".xlsx"):
            return _export_table(gdf, out, notes, lang)
        return _export_layer(gdf, out, _EXPORT_DRIVERS[suffix], mark)

    def _check_target(self, target: Path, force: bool) -> None:
        if not (target.exists() or target.is_symlink()):
            return
        if isinstance(self.path, Path) and _same_file(target, self.path):
            raise DataFileError.of("error.export_is_registry", path=target, registry=self.path)
        if not force and not _is_own_export(target):
            raise DataFileError.of("error.export_exists", path=target)


@dataclass
class _Changes:
    """How the rows to write relate to the current versions of their codes."""

    new_mask: np.ndarray  # rows to insert (new codes, and changed ones with ``update``)
    close: list[int] = field(default_factory=list)  # fids of the versions they replace
    n_unchanged: int = 0
    n_updated: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (_row, reason)


def _compare_current(rows, geoms: np.ndarray, old: pd.DataFrame, *, update: bool, lang: str) -> _Changes:
    """Compare each row with the current version of its code (attributes and geometry).

    Identical: unchanged, not written. Different: a new version with ``update``, else
    refused with the changed fields named in ``lang``.
    """
    ch = _Changes(new_mask=np.ones(len(rows), dtype=bool))
    if not len(old):
        return ch
    codes = rows["project_code"].astype(str)
    src_rows = rows["_row"]
    idx = np.flatnonzero(codes.isin(old.index).to_numpy())
    o = old.loc[codes.iloc[idx]]
    diff = np.zeros((len(idx), len(COMPARED) + 1), dtype=bool)
    for j, c in enumerate(COMPARED):
        diff[:, j] = ~_same_vec(rows[c].iloc[idx].to_numpy(), o[c].to_numpy())
    diff[:, -1] = ~shapely.equals_exact(
        shapely.normalize(geoms[idx]), shapely.normalize(np.asarray(o["_g"].to_numpy(), dtype=object)), 1e-9
    )
    names = np.array([*COMPARED, "geometry"])
    sep = label("registry.list_separator", lang)
    shown = dict(zip(names, names, strict=True)) if lang == "en" else {
        **{c: label(f"column.{c}", lang) for c in COMPARED}, "geometry": label("field.geometry", lang)}
    for k, i in enumerate(idx):
        changed = names[diff[k]].tolist()
        if not changed:
            ch.new_mask[i] = False
            ch.n_unchanged += 1
        elif update:
            ch.close.append(int(o["fid"].iloc[k]))
            ch.n_updated += 1
        else:
            ch.new_mask[i] = False
            ch.rejected.append((int(src_rows.iloc[i]), message(
                "reject.registry_conflict", lang, code=codes.iloc[i], batch=o["batch_id"].iloc[k],
                fields=sep.join(shown[c] for c in changed))))
    return ch
