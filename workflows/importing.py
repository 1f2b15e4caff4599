"""``agrigis import``: read parcel files, validate them, and add them to the registry.

Recipe, per file: read (:func:`layers.io.read_parcels`: encodings, CRS, repairs) → map
fields (:func:`layers.fields.map_fields`) → derive the county from the geometry
(:func:`gis.quality.largest_share`), check it against a declared county, reject parcels
outside Baicheng → write every file as its own batch, all in one registry transaction
(the registry computes the ellipsoidal area itself). Rows that cannot be used are written to
``<input>.rejects.gpkg`` and ``<input>.rejects.csv`` beside the input, one reason per
row. Nothing is written to the registry when a file cannot be read at all.

Large files stream: a GeoPackage layer or a Shapefile of more than
:func:`layers.io.chunk_rows` rows (:data:`layers.io.CHUNK_ROWS` = 50,000, or
``$AGRIGIS_IMPORT_CHUNK_ROWS``) is read, checked and written chunk by chunk
(:mod:`workflows.import_stream`), still as one batch in the one transaction of the import
(all or nothing), with the same rows, rejects, repairs, notes and counts as a whole-file
read. Its encoding and CRS are decided once per file. Peak memory is about 0.3 GB, plus
one chunk (about 2.5 KB a row as read, mapped and written: ~125 MB at 50,000 rows), plus
what the checks across chunks keep for the whole file: the code keys of a first pass over
the code column, the file's codes and each row's R-tree entry (a fid and its bounds, 40
bytes, written once before the COMMIT: :mod:`layers.registry.rtree`) — with SQLite's page
cache, capped at 256 MB, about 0.4 KB a row: 0.8–0.9 GB in all at 1,000,000 rows, against
2.4 GB read whole — and the rows whose code repeats in the file (held back and checked
together at the end), the rejected rows and the repair texts. The registry is locked for
writing while such a file is read. Files read whole: GeoJSON (GDAL parses it whole),
KML/KMZ, CSV/XLSX vertex tables (one parcel spans rows), the boundary-point TXT, zipped
layers, and a file whose declared-area column has no unit in its name (the unit is
inferred from every row).

A first import builds the new registry in a hidden file beside its path and moves it
there once everything is committed (:func:`registry_for_import`): an import that fails,
is interrupted or is killed leaves no empty registry behind.

The steps both ways of importing share (:mod:`workflows.import_stream` uses them):
:func:`prepare_file` (read and check a whole file), :func:`check_rows` (map, merge and
check rows: a file or one chunk), :func:`file_report`, :func:`gcj02_note`,
:func:`known_codes` / :class:`KnownCodes` (the registry's current codes),
:func:`near_registry_codes` / :func:`drop_near_codes`, :func:`write_prepared`, :func:`late_rejects`,
:func:`write_rejects`, :class:`Prepared` and :class:`Checked`.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import logging
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
import pandas as pd

from gis.errors import DataFileError, InputError, RegistryBusyError
from gis.outputs import output_error, staged_outputs, tidy_folder, write_csv
from gis.labels import COUNTIES, DEFAULT_LANG, label, message
from workflows.options import lang_option, registry_option, registry_path

log = logging.getLogger(__name__)

MIN_INSIDE_SHARE = 0.5
"""Parcels with less than this share of their area inside Baicheng are rejected."""


@dataclass
class FileReport:
    """What happened to one input file."""

    source: str
    sha256: str
    n_read: int = 0
    n_accepted: int = 0
    n_repaired: int = 0
    n_rejected: int = 0
    n_new: int = 0
    n_updated: int = 0
    n_unchanged: int = 0
    batch_id: str | None = None
    synthetic: bool = False
    notes: list[str] = field(default_factory=list)
    rejects: pd.DataFrame | None = None
    """``row, reason`` of every rejected row."""
    repairs: pd.DataFrame | None = None
    """``row, repair`` of every repaired row."""
    rejects_gpkg: Path | None = None
    rejects_csv: Path | None = None


@dataclass
class ImportReport:
    """Result of :func:`import_files`: one :class:`FileReport` per file."""

    files: list[FileReport]
    registry: Path
    refused: list[str] = field(default_factory=list)
    """Files of which no row could be imported: then nothing was written to the registry."""

    def _sum(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    n_read = property(lambda self: self._sum("n_read"))
    n_accepted = property(lambda self: self._sum("n_accepted"))
    n_repaired = property(lambda self: self._sum("n_repaired"))
    n_rejected = property(lambda self: self._sum("n_rejected"))
    n_new = property(lambda self: self._sum("n_new"))
    n_updated = property(lambda self: self._sum("n_updated"))
    n_unchanged = property(lambda self: self._sum("n_unchanged"))

    @property
    def batch_ids(self) -> list[str]:
        return [f.batch_id for f in self.files if f.batch_id]

    @property
    def batch_id(self) -> str | None:
        """The batch of a one-file import (the last batch otherwise)."""
        ids = self.batch_ids
        return ids[-1] if ids else None

    def rejects(self) -> pd.DataFrame:
        """All rejected rows: ``source, row, reason``."""
        frames = [f.rejects.assign(source=f.source) for f in self.files if f.rejects is not None and len(f.rejects)]
        if not frames:
            return pd.DataFrame(columns=["source", "row", "reason"])
        return pd.concat(frames, ignore_index=True)[["source", "row", "reason"]]


def file_sha256(path: Path) -> str:
    """sha256 of a file; for a Shapefile, of its .shp, .shx, .dbf, .prj and .cpg together."""
    h = hashlib.sha256()
    parts = [path]
    if path.suffix.lower() == ".shp":
        parts = [p for s in (".shp", ".shx", ".dbf", ".prj", ".cpg") for p in (path.with_suffix(s),) if p.exists()]
    for p in parts:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def rejects_paths(path: Path) -> tuple[Path, Path]:
    """``<input>.rejects.gpkg`` and ``<input>.rejects.csv`` beside the input."""
    return path.with_name(path.name + ".rejects.gpkg"), path.with_name(path.name + ".rejects.csv")


@dataclass
class Prepared:
    """One file read and checked, on its way to the registry."""

    path: Path
    report: FileReport
    rows: object  # GeoDataFrame of accepted rows
    rejects: object  # GeoDataFrame: row, reason, source columns, geometry
    frame: object = None  # the source rows as read (for late rejects)


def prepare_file(path, *, counties, mapping, category=None, year=None, status=None, crs=None,
                 source_datum=None, layer=None, encoding=None, synthetic=False,
                 lang: str = DEFAULT_LANG) -> Prepared:
    """Read, map and validate one whole file (no registry access); reasons, repairs and notes in ``lang``."""
    from layers.io import read_parcels

    path = Path(path)
    res = read_parcels(path, layer=layer, crs=crs, source_datum=source_datum, encoding=encoding,
                       mapping=mapping, lang=lang)
    rep = file_report(path, res.source, res.n_read, res.notes, res.crs_note, synthetic=synthetic, lang=lang)
    opts = {"counties": counties, "mapping": mapping, "category": category, "year": year, "status": status}
    part = check_rows(res.frame, res.rejects, res.source, opts, lang)
    rep.notes.extend(part.notes)
    if source_datum is None:
        rep.notes.extend(_gcj02_warning(part.frame, counties, res.source, lang))
    rep.n_accepted = part.n_accepted
    rep.n_repaired = int(part.repairs["row"].nunique())
    rep.n_rejected = len(part.rejects)
    rep.repairs = part.repairs
    return Prepared(path=path, report=rep, rows=part.rows, rejects=part.rejects, frame=part.frame)


def file_report(path: Path, source: str, n_read: int, notes: list[str], crs_note: str, *, synthetic: bool,
                 lang: str) -> FileReport:
    """The report of one file before its rows are validated: source, checksum, notes."""
    rep = FileReport(source=source, sha256=file_sha256(path), n_read=n_read, synthetic=synthetic, notes=list(notes))
    if crs_note and not any(crs_note in n for n in rep.notes):  # a guessed CRS is a note already
        rep.notes.append(message("note.crs", lang, crs_note=crs_note))
    return rep


@dataclass
class Checked:
    """Rows of a file (or of one chunk of it) mapped and validated."""

    rows: object  # GeoDataFrame of accepted parcels (``_row``, ``_rows``)
    rejects: object  # GeoDataFrame: _row, reason, source columns, geometry (sorted by _row)
    repairs: pd.DataFrame  # row, repair
    frame: object  # the source rows as read, with the value repairs
    notes: list[str]
    n_accepted: int  # source rows accepted


def check_rows(frame, read_rejects, source: str, opts: dict, lang: str) -> Checked:
    """Map fields, merge parts, infer the declared area's unit, check the county of the
    rows ``frame`` (read-stage rejects: ``read_rejects``); ``opts``: counties, mapping,
    category, year, status."""
    import geopandas as gpd

    from layers.fields import map_fields

    rows, field_rej = map_fields(frame.drop(columns="geometry"), opts["mapping"], source=source,
                                 category=opts["category"], year=opts["year"], status=opts["status"], lang=lang)
    frame = _add_repairs(frame, rows.pop("_repair"), lang)
    rows = gpd.GeoDataFrame(rows, geometry=frame.geometry.loc[rows.index], crs=frame.crs)
    rows, merged = merge_parts(rows, lang)
    notes = _declared_area_unit(rows, frame.columns, opts["mapping"], source, lang)
    reasons = pd.Series(field_rej["reason"].to_numpy(), index=field_rej.index, dtype=object)

    _county_of(rows, opts["counties"], reasons, lang)
    ok = ~rows.index.isin(reasons.index)
    accepted = rows.loc[ok].copy()
    accepted_rows = np.fromiter(itertools.chain.from_iterable(accepted["_rows"].tolist()), dtype="int64")
    repairs = frame.loc[frame["_row"].isin(accepted_rows), ["_row", "_repair"]]
    repairs = repairs[repairs["_repair"].notna()].rename(columns={"_row": "row", "_repair": "repair"})
    merged = merged[merged["row"].isin(accepted["_row"])]
    repairs = pd.concat([repairs, merged], ignore_index=True).sort_values("row", kind="stable")
    repairs = repairs.astype({"row": "int64", "repair": object})  # one dtype however many chunks

    # rejects: read-stage rejects + field/county rejects, with the source columns
    # a rejected merged parcel rejects all its source rows, each with the parcel's reason
    expanded = {}
    for idx, why in reasons.items():
        for r in (rows.at[idx, "_rows"] if idx in rows.index else (int(frame.at[idx, "_row"]),)):
            expanded[r] = why
    by_row = pd.Series(frame.index, index=frame["_row"].to_numpy())
    reasons = pd.Series({by_row[r]: why for r, why in sorted(expanded.items())}, dtype=object)
    later = frame.loc[reasons.index].copy()
    later.insert(1, "reason", reasons.to_numpy())
    rej = pd.concat([read_rejects, later.drop(columns=["_repair"], errors="ignore")], ignore_index=True)
    rej = gpd.GeoDataFrame(rej, geometry="geometry", crs="EPSG:4490").sort_values("_row", kind="stable")
    return Checked(rows=accepted, rejects=rej, repairs=repairs.reset_index(drop=True), frame=frame, notes=notes,
                    n_accepted=int(len(accepted_rows)))


def _county_of(rows, counties, reasons: pd.Series, lang: str) -> None:
    """Set ``county_code`` from the geometry (largest share); a parcel mostly outside
    Baicheng, or in another county than the one it declares, gets a reason (in place)."""
    from gis.quality import largest_share

    if not len(rows):
        rows["county_code"] = pd.Series(dtype=object)
        return
    import shapely

    share = largest_share(rows, counties, "county_code")
    names = {k: f"{v[0]} {k}" for k, v in COUNTIES.items()}
    county = share["zone"].to_numpy(dtype=object)
    outside = share["inside"].to_numpy() < MIN_INSIDE_SHARE
    centres = shapely.centroid(np.asarray(rows.geometry.values[outside], dtype=object))
    for idx, pt, inside in zip(rows.index[outside], centres, share["inside"].to_numpy()[outside], strict=True):
        reasons.loc[idx] = message("reject.outside_city", lang, pct=inside * 100, lon=pt.x, lat=pt.y)
    declared = rows["county_declared"].to_numpy(dtype=object)
    mism = (~outside) & pd.notna(declared) & (declared != county)
    for idx, d, g, s in zip(rows.index[mism], declared[mism], county[mism], share["share"].to_numpy()[mism],
                            strict=True):
        reasons.loc[idx] = message("reject.county_mismatch", lang, declared=names.get(d, d), pct=s * 100,
                                   actual=names.get(g, g))
    rows["county_code"] = county


def _gcj02_warning(frame, counties, source: str, lang: str = DEFAULT_LANG) -> list[str]:
    """A warning when the file's shapes match the county lines only after a GCJ-02 shift
    (Amap/DataV outlines imported without ``--source-datum gcj02``); none when the file
    already carries Amap/DataV attributes (the reader said so)."""
    from layers.io import amap_signature

    if not len(frame) or amap_signature(frame.columns):
        return []
    return gcj02_note(np.asarray(frame.geometry.values, dtype=object), counties, source, lang)


def gcj02_note(geoms: np.ndarray, counties, source: str, lang: str) -> list[str]:
    """:func:`_gcj02_warning` of these geometries (a streamed file passes a sample of its vertices)."""
    from gis.gcj02 import gcj02_evidence, looks_like_gcj02

    lines = np.asarray(counties.to_crs("EPSG:4490").boundary.values, dtype=object)
    before, after = gcj02_evidence(geoms, lines)
    if not looks_like_gcj02(before, after):
        return []
    log.warning("%s: shapes match the county lines only after a GCJ-02 shift", source)
    return [message("note.gcj02_shapes_match", lang, source=source, before=before, after=after)]


def _declared_area_unit(rows, columns, mapping, source: str, lang: str = DEFAULT_LANG) -> list[str]:
    """Declared areas of a column without a unit in its name, converted to 亩 when their
    ratio to the computed area shows another unit (6300 for a 9.45 亩 parcel is m²); a
    note says what was inferred. Refused when no unit fits the ratio."""
    from gis.area import area_mu
    from gis.units import convert, infer_area_unit
    from layers.fields import declared_area_column, load_mapping

    col, known = declared_area_column(mapping or load_mapping(), columns)
    if col is None or known or not len(rows) or rows["declared_area_mu"].isna().all():
        return []
    computed = area_mu(rows.geometry.values, crs="EPSG:4490")
    unit, ratio, share = infer_area_unit(rows["declared_area_mu"].to_numpy(dtype="float64"), computed)
    if unit is None:
        raise InputError.of("error.area_unit_ambiguous", source=source, column=col, ratio=ratio, pct=share * 100)
    if unit == "mu":
        return []
    rows["declared_area_mu"] = np.asarray(convert(rows["declared_area_mu"].to_numpy(dtype="float64"), unit, "mu"))
    return [message("note.area_unit_inferred", lang, column=col, ratio=ratio, unit=label(f"unit.{unit}", lang),
                    pct=share * 100)]


def _add_repairs(frame, notes: pd.Series, lang: str = DEFAULT_LANG):
    """``frame`` with the value repairs of :func:`layers.fields.map_fields` (decimal
    commas, normalised codes) added to its ``_repair`` texts (same index)."""
    notes = notes.dropna()
    if notes.empty:
        return frame
    frame = frame.copy()
    sep = label("registry.separator", lang)
    old = frame.loc[notes.index, "_repair"]
    frame.loc[notes.index, "_repair"] = [n if pd.isna(o) else f"{o}{sep}{n}" for o, n in zip(old, notes, strict=True)]
    return frame


def merge_parts(rows, lang: str = DEFAULT_LANG):
    """Merge rows marked as parts of one parcel (``_part_of``) into one multipolygon.

    Returns the rows (one per parcel, ``_rows`` = tuple of source rows) and a table
    ``row, repair`` describing each merge (in ``lang``). The declared area is summed
    over parts unless every part repeats the same figure (then it is the project's area).
    """
    import shapely

    rows = rows.copy()
    rows["_rows"] = np.fromiter(((r,) for r in rows["_row"].astype("int64").tolist()), dtype=object, count=len(rows))
    multi = rows["_part_of"].duplicated(keep=False)
    notes = []
    if multi.any():
        keep = ~multi
        merged = []
        for first, grp in rows[multi].groupby("_part_of", sort=False):
            row = grp.iloc[0].copy()
            row["geometry"] = shapely.union_all(np.asarray(grp.geometry.values, dtype=object))
            areas = grp["declared_area_mu"].dropna()
            if len(areas) and areas.nunique() > 1:
                row["declared_area_mu"] = float(areas.sum())
            row["_rows"] = tuple(int(r) for r in grp["_row"])
            merged.append(row)
            notes.append({"row": int(first), "repair": message(
                "repair.merged", lang, n=len(grp), code=row["project_code"],
                rows=label("registry.list_separator", lang).join(map(str, row["_rows"])))})
        import geopandas as gpd

        rows = pd.concat([rows[keep], gpd.GeoDataFrame(merged, geometry="geometry", crs=rows.crs)])
        rows = rows.sort_values("_row", kind="stable")
    return rows.drop(columns="_part_of"), pd.DataFrame(notes, columns=["row", "repair"])


REJECTS_COLUMNS = ("row", "reason", "wkt")
"""Columns of the rejects files that are agrigis's own; a source column of one of these
names (or ``fid``/``geom``, the GeoPackage's own) is written as ``src_<name>``."""


def rejects_table(rejects) -> tuple[pd.DataFrame, list]:
    """The rejects as written: ``row, reason``, the source columns (renamed where they
    would collide with ours, see :func:`layers.io.reserved_names`), ``wkt``; and the
    geometries."""
    from layers.io import reserved_names

    rej = rejects.reset_index(drop=True)
    src = [c for c in rej.columns if c not in ("_row", "reason", "geometry")]
    rename = reserved_names(src, reserved=(*REJECTS_COLUMNS, "fid", "geom", "geometry"))
    table = pd.DataFrame({"row": rej["_row"].to_numpy(), "reason": rej["reason"].to_numpy()})
    for c in src:
        v = rej[c]
        if v.dtype == object:
            v = v.map(lambda x: x if x is None or isinstance(x, (str, int, float)) else str(x))
        table[rename.get(c, c)] = v.to_numpy()
    geoms = list(rej.geometry)
    table["wkt"] = [None if g is None else g.wkt for g in geoms]
    return table, geoms


def write_rejects(prep: Prepared) -> None:
    """Rejects beside the input, both files or neither (stale ones from an earlier run
    are removed); written through :mod:`gis.outputs` (atomic, formula-safe CSV cells)."""
    gpkg, csv = rejects_paths(prep.path)
    rej = prep.rejects.reset_index(drop=True)
    prep.report.rejects = pd.DataFrame({"row": rej["_row"].to_numpy(), "reason": rej["reason"].to_numpy()})
    for p in (gpkg, csv):
        if p.is_dir() or (not len(rej) and p.exists()):
            try:
                p.unlink()
            except OSError as exc:
                raise DataFileError.of("error.rejects_replace", path=exc.filename, detail=exc.strerror) from None
    if not len(rej):
        return
    table, geoms = rejects_table(rej)
    try:
        with staged_outputs(csv.parent, [gpkg.name, csv.name]) as tmp:
            write_csv(tmp / csv.name, table)
            _write_rejects_gpkg(tmp / gpkg.name, table.drop(columns="wkt"), geoms, gpkg)
    except DataFileError as exc:
        if exc.key in ("error.output_permission", "error.output_folder"):  # a read-only folder: say so
            raise DataFileError.of("error.rejects_write", folder=csv.parent, detail=exc.params.get("detail")) from None
        raise
    prep.report.rejects_gpkg, prep.report.rejects_csv = gpkg, csv


def _write_rejects_gpkg(tmp: Path, table: pd.DataFrame, geoms: list, target: Path) -> None:
    import geopandas as gpd

    out = gpd.GeoDataFrame(table, geometry=geoms, crs="EPSG:4490")
    try:
        out.to_file(tmp, layer="rejects", driver="GPKG", geometry_type="Unknown")
    except OSError:
        raise
    except Exception as exc:  # pyogrio / GDAL errors are not OSErrors
        text = str(exc)
        if "disk is full" in text or "No space left" in text:
            raise output_error(target, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) from None
        raise DataFileError.of("error.rejects_gpkg_failed", path=target, detail=text[:200]) from None


def import_files(
    paths,
    registry=None,
    *,
    category: str | None = None,
    year: int | None = None,
    status: str | None = None,
    mapping=None,
    update: bool = False,
    synthetic: bool = False,
    crs=None,
    source_datum: str | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    counties=None,
    timeout: float = 30.0,
    progress: bool = False,
    lang: str = DEFAULT_LANG,
) -> ImportReport:
    """Import parcel files into the registry, one batch per file, in one transaction.

    Parameters
    ----------
    paths : path or list of paths
        Files to import (see :func:`layers.io.read_parcels` for formats).
    registry : path or Registry, optional
        Default :func:`workflows.options.registry_path` (``--registry``,
        ``$AGRIGIS_REGISTRY``, ``./registry.gpkg``).
    category, year, status : optional
        Values for every row (override the file's columns).
    mapping : path, optional
        A YAML extending :file:`layers/fields.yml`.
    update : bool
        Record changed projects as new versions (the old one gets ``valid_to``).
    synthetic : bool
        Mark the batches as synthetic (demo data).
    crs, source_datum, layer, encoding : optional
        Passed to :func:`layers.io.read_parcels`.
    counties : GeoDataFrame, optional
        County polygons (default: the catalogue layer with role ``counties``).
    timeout : float
        Seconds to wait for another writer of the registry.
    progress : bool
        Show a progress bar on stderr.
    lang : {"zh", "en"}
        Language of the reject reasons, repair texts and notes (in the report and the
        rejects files; default Chinese). Column names stay as they are.

    Returns
    -------
    ImportReport
        When a file accepts none of its rows, nothing is written to the registry and
        ``refused`` names the file (:func:`refusal` gives the error the CLI exits with).

    Large GeoPackage layers and Shapefiles are imported in chunks of
    :func:`layers.io.chunk_rows` rows (see the module's docstring for the memory bound);
    the result is the same.
    """
    from layers import load_role
    from layers.fields import load_mapping

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    reg_path, reg = _open_registry(registry, timeout)
    m = load_mapping(mapping)
    counties = load_role("counties") if counties is None else counties
    bar = _Bar(progress, len(paths))
    read = {"counties": counties, "mapping": m, "category": category, "year": year, "status": status, "crs": crs,
            "source_datum": source_datum, "layer": layer, "encoding": encoding, "synthetic": synthetic, "lang": lang}
    streams = {p: open_file_stream(p, read) for p in paths}
    if any(streams.values()):
        from workflows.import_stream import import_streamed

        return import_streamed(paths, streams, (reg_path, reg), read, update=update, timeout=timeout, bar=bar)
    return _import_whole(paths, (reg_path, reg), read, update=update, timeout=timeout, bar=bar)


def _import_whole(paths: list[Path], registry: tuple, read: dict, *, update: bool, timeout: float,
                  bar: "_Bar") -> ImportReport:
    """:func:`import_files` of files read whole: all are read and checked, then written."""
    reg_path, reg = registry
    prepared = [_prepare_step(bar, p, read) for p in paths]
    empty = [p.report.source for p in prepared if p.report.n_read and not p.report.n_accepted]
    if empty:  # no empty batch: nothing is written to the registry, the rejects files say why
        for prep in prepared:
            write_rejects(prep)
        bar.done()
        return ImportReport(files=[p.report for p in prepared], registry=reg_path or reg.path, refused=empty)
    bar.step(label("registry.writing", read["lang"]))
    with registry_for_import(reg_path, reg, timeout) as target:
        _write_batches(target, prepared, update=update, synthetic=read["synthetic"], lang=read["lang"])
    bar.done()
    return ImportReport(files=[p.report for p in prepared], registry=reg_path if reg is None else reg.path)


def open_file_stream(path: Path, read: dict):
    """A :class:`layers.io.ParcelStream` over ``path`` when it is imported in chunks (a
    GeoPackage layer or Shapefile of more than :func:`layers.io.chunk_rows` rows whose
    declared areas, if any, name their unit), else None (the file is read whole).
    ``read``: the keyword arguments of :func:`prepare_file`."""
    from layers.fields import declared_area_column
    from layers.io import open_stream

    stream = open_stream(path, layer=read["layer"], crs=read["crs"], source_datum=read["source_datum"],
                         encoding=read["encoding"], lang=read["lang"])
    if stream is None:
        return None
    col, known = declared_area_column(read["mapping"], stream.columns)
    if col is not None and not known:  # the unit is inferred from every row at once: read whole
        return None
    return stream


def _prepare_step(bar: "_Bar", path: Path, read: dict) -> Prepared:
    """:func:`prepare_file` of one file (``read``: its keyword arguments), shown on the bar."""
    bar.step(f"{label('registry.reading', read['lang'])} {path.name}")
    return prepare_file(path, **read)


def _open_registry(registry, timeout: float):
    """``(path, Registry or None)``: an existing registry is opened (and checked) first; a
    new one is created by :func:`registry_for_import` once the files have been read."""
    from layers.registry import Registry

    reg_path = None if isinstance(registry, Registry) else registry_path(registry)
    if isinstance(reg_path, Path) and reg_path.is_dir():
        raise DataFileError.of("error.registry_is_folder", path=reg_path)
    reg = registry if reg_path is None else (Registry(reg_path, timeout=timeout) if reg_path.exists() else None)
    return reg_path, reg


@contextmanager
def registry_for_import(reg_path, reg, timeout: float):
    """The registry an import writes to: ``reg`` when it exists already. Otherwise a new
    registry built in a hidden file beside ``reg_path`` and moved into place (a hard link,
    atomic) only when the block ends without an error, after its transaction committed: an
    import that fails, is interrupted or killed (SIGKILL, a power cut) leaves nothing at
    ``reg_path`` that looks like a registry. The hidden file a killed one leaves is removed
    by a later import into that folder once it is :data:`gis.outputs.STALE_AFTER` old."""
    if reg is not None:
        yield reg
        return
    from layers.registry import Registry

    tidy_folder(reg_path.parent)

    tmp = reg_path.with_name(f".{reg_path.name}.importing-{secrets.token_hex(4)}.gpkg")
    try:
        yield Registry(tmp, timeout=timeout)
        _move_into_place(tmp, reg_path)
    finally:
        for extra in ("", "-journal", "-wal", "-shm"):
            tmp.with_name(tmp.name + extra).unlink(missing_ok=True)


def _move_into_place(tmp: Path, target: Path) -> None:
    """``tmp`` (a registry just written) becomes ``target``, unless another import created
    ``target`` meanwhile (then that one stays, and this import is refused: try again)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise RegistryBusyError.of("error.registry_locked", path=target) from None
    except OSError as exc:  # file systems without hard links (FAT, some network shares)
        if target.exists():
            raise RegistryBusyError.of("error.registry_locked", path=target) from None
        try:
            os.replace(tmp, target)
        except OSError:
            raise output_error(target, exc) from None


def _write_batches(reg, prepared: list[Prepared], *, update: bool, synthetic: bool, lang: str) -> None:
    """One batch per prepared file, all in one transaction: all land or none does."""
    known = known_codes(reg)
    with reg.transaction() as tx:
        for prep in prepared:
            write_prepared(reg, tx, prep, known, update=update, synthetic=synthetic, lang=lang)
            # written while the registry is locked: if this fails, the batch rolls back
            write_rejects(prep)


def drop_near_codes(prep: Prepared, known: KnownCodes, lang: str) -> None:
    """Reject the rows of ``prep`` whose code nearly equals a registry code
    (:func:`near_registry_codes`), moving them to its rejects."""
    near = near_registry_codes(prep.rows, known, lang)
    if len(near):
        late_rejects(prep, near)
        prep.rows = prep.rows[~prep.rows["_row"].isin(near["_row"])]


def write_prepared(reg, tx, prep: Prepared, known: KnownCodes, *, update: bool, synthetic: bool, lang: str) -> None:
    """Write one prepared file as one batch in ``tx``; its codes join ``known``."""
    drop_near_codes(prep, known, lang)
    r = prep.report
    res = reg.write(prep.rows, source=str(prep.path.resolve()), sha256=r.sha256, update=update,
                    synthetic=synthetic, tx=tx, lang=lang,
                    counts={"n_read": r.n_read, "n_accepted": r.n_accepted, "n_repaired": r.n_repaired,
                            "n_rejected": r.n_rejected})
    r.batch_id, r.n_new, r.n_updated, r.n_unchanged = res.batch_id, res.n_new, res.n_updated, res.n_unchanged
    if len(res.rejected):
        late_rejects(prep, res.rejected)
    known.update(map(str, prep.rows["project_code"]))


def late_rejects(prep: Prepared, rejected: pd.DataFrame) -> None:
    """Add rows refused after reading (``_row, reason``, first row of a merged parcel) to
    the rejects and counts of ``prep``: every source row of such a parcel is refused."""
    r = prep.report
    parts = prep.rows.set_index("_row")["_rows"]
    reason = {r: why for first, why in zip(rejected["_row"], rejected["reason"], strict=True) for r in parts.loc[first]}
    src = _source_rows(prep, pd.Series(sorted(reason)))
    src.insert(1, "reason", src["_row"].map(reason))
    prep.rejects = pd.concat([prep.rejects, src], ignore_index=True).sort_values("_row", kind="stable")
    r.n_accepted -= len(reason)
    r.n_rejected += len(reason)
    r.repairs = r.repairs[~r.repairs["row"].isin(list(reason))].reset_index(drop=True)
    r.n_repaired = int(r.repairs["row"].nunique())


class KnownCodes:
    """The project codes current in the registry, plus those this import has written so
    far, with their code keys (:func:`layers.fields.code_key`) for :func:`near_registry_codes`:
    the keys of a large registry are computed once per import, not once per chunk. Works
    as the ``current`` of :meth:`layers.registry.Registry.write_rows` (``code in known``)."""

    def __init__(self, codes=()) -> None:
        self._codes: set[str] = set(codes)
        self._by_key: dict[str, list[str]] | None = None  # built when first asked (see near)

    def update(self, codes) -> None:
        """Add codes (text)."""
        from layers.fields import code_key

        new = [c for c in codes if c not in self._codes]
        self._codes.update(new)
        if self._by_key is not None:
            for c in dict.fromkeys(new):
                self._by_key.setdefault(code_key(c), []).append(c)

    def __contains__(self, code: object) -> bool:
        return code in self._codes

    def __len__(self) -> int:
        return len(self._codes)

    def near(self, code: str) -> list[str]:
        """The known codes that share the key of ``code``, sorted (``code`` itself among
        them if known). The keys are computed on the first call, once."""
        from layers.fields import code_key

        if self._by_key is None:
            self._by_key = {}
            for c in self._codes:
                self._by_key.setdefault(code_key(c), []).append(c)
        return sorted(self._by_key.get(code_key(code), ()))


def known_codes(reg, tx=None) -> KnownCodes:
    """The project codes now current in ``reg`` (none for a registry not created yet);
    ``tx``: read inside the import's transaction."""
    return KnownCodes() if reg is None else KnownCodes(reg.current_codes(tx))


def near_registry_codes(rows, known: KnownCodes, lang: str) -> pd.DataFrame:
    """``_row, reason`` of rows whose code is not in the registry but differs from a code
    there only in case, spaces, hyphens or underscores (``p-1``, ``P 1`` beside ``P1``):
    refused like such codes within one file, naming the registered code."""
    if not len(known) or rows is None or not len(rows):
        return pd.DataFrame(columns=["_row", "reason"])
    sep = label("registry.list_separator", lang)
    out = []
    for row, code in zip(rows["_row"], rows["project_code"].astype(str), strict=True):
        if code not in known and (other := known.near(code)):
            out.append((row, message("reject.near_registry_code", lang, code=code, other=sep.join(other))))
    return pd.DataFrame(out, columns=["_row", "reason"])


def refusal(report: ImportReport) -> InputError | None:
    """The error of an import in which a file accepted none of its rows (nothing was
    written to the registry), naming the file, a reason and the rejects file; else None."""
    f = next((f for f in report.files if f.source in report.refused), None)
    if f is None:
        return None
    first = f.rejects.iloc[0] if f.rejects is not None and len(f.rejects) else None
    return InputError.of("error.import_none_accepted", source=f.source, n=f.n_read,
                         row=first["row"] if first is not None else "?",
                         reason=first["reason"] if first is not None else "?", rejects=f.rejects_csv)


def _source_rows(prep: Prepared, rows: pd.Series):
    """Source rows (as read, with the cleaned geometry) of rows refused by the registry."""
    import geopandas as gpd

    keep = prep.frame[prep.frame["_row"].isin(rows)].drop(columns=["_repair"], errors="ignore")
    return gpd.GeoDataFrame(keep, geometry="geometry", crs="EPSG:4490")


class _Bar:
    """A rich progress bar over the steps of an import (silent unless enabled)."""

    def __init__(self, enabled: bool, n_files: int):
        self.p = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.p = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                              console=Console(stderr=True), transient=True)
            self.p.start()
            self.task = self.p.add_task("", total=n_files + 1)
            self.started = False

    def step(self, text: str) -> None:
        if self.p is not None:
            if self.started:
                self.p.advance(self.task)
            self.started = True
            self.p.update(self.task, description=text)

    def done(self) -> None:
        if self.p is not None:
            self.p.advance(self.task)
            self.p.stop()


def format_report(report: ImportReport, lang: str = "zh") -> str:
    """Plain-text summary of an import, one block per file."""
    L = lambda k: label(f"registry.{k}", lang)  # noqa: E731
    lines = []
    for f in report.files:
        lines.append(f"{L('file')} {f.source}")
        lines.append(
            f"  {L('read')} {f.n_read} · {L('accepted')} {f.n_accepted} ({L('new')} {f.n_new}, "
            f"{L('updated')} {f.n_updated}, {L('unchanged')} {f.n_unchanged}) · {L('repaired')} {f.n_repaired} · "
            f"{L('rejected')} {f.n_rejected}"
        )
        if f.batch_id:
            syn = f" · {L('synthetic')}" if f.synthetic else ""
            lines.append(f"  {L('batch')} {f.batch_id}{syn}")
        for n in f.notes:
            lines.append(f"  {L('note')}: {n}")
        if f.repairs is not None:
            for _, r in f.repairs.head(5).iterrows():
                lines.append(f"  {L('repaired')} {L('row')} {r['row']}: {r['repair']}")
            if len(f.repairs) > 5:
                lines.append(f"  {message('registry.more', lang, n=len(f.repairs) - 5)}")
        if f.rejects is not None and len(f.rejects):
            for _, r in f.rejects.head(10).iterrows():
                lines.append(f"  {L('rejected')} {L('row')} {r['row']}: {r['reason']}")
            if len(f.rejects) > 10:
                lines.append(f"  {message('registry.more', lang, n=len(f.rejects) - 10)}")
            lines.append(f"  {L('rejects_file')}: {f.rejects_csv} , {f.rejects_gpkg}")
    return "\n".join(lines)


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--category", help="Category of every parcel (code or Chinese name, e.g. 高标准农田).")
@click.option("--year", type=int, help="Construction year (建设年度) of every parcel.")
@click.option("--status", help="Status of every parcel (planned/approved/under_construction/completed/accepted or 规划…验收).")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML with extra column/value aliases (layout of layers/fields.yml).")
@click.option("--update", is_flag=True, help="Record changed projects as new versions (old ones kept as history).")
@click.option("--crs", help="Source CRS when the file has none or a wrong one, e.g. EPSG:4529.")
@click.option("--source-datum", type=click.Choice(["gcj02"]), help="gcj02: coordinates copied from Amap/Gaode.")
@click.option("--layer", help="Layer of a GeoPackage with several layers.")
@click.option("--encoding", help="Text encoding of DBF/CSV attributes (default: .cpg, else UTF-8/GB18030 detected).")
@click.option("--synthetic", is_flag=True, help="Mark the batch as synthetic (demo data, labelled as such).")
@registry_option
@lang_option
def import_command(*, files, category, year, status, mapping, update, crs, source_datum, layer, encoding, synthetic,
                   registry, lang):
    """Import parcel files into the registry (导入项目图斑).

    \b
    Examples:
      agrigis import 2024_高标准农田.shp --category 高标准农田 --year 2024
      agrigis import parcels.zip --update
      agrigis import amap_drawn.geojson --source-datum gcj02
    Rejected rows go to FILE.rejects.gpkg and FILE.rejects.csv beside each input.
    """
    report = import_files(list(files), registry, category=category, year=year, status=status, mapping=mapping,
                          update=update, synthetic=synthetic, crs=crs, source_datum=source_datum, layer=layer,
                          encoding=encoding, progress=True, lang=lang)
    click.echo(format_report(report, lang))
    if (exc := refusal(report)) is not None:
        raise exc  # one clear line, exit 1



