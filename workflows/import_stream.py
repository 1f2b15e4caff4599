"""``agrigis import`` of large files, chunk by chunk (called by
:func:`workflows.importing.import_files` when a file streams, see
:func:`workflows.importing.open_file_stream`).

Each chunk of :func:`layers.io.chunk_rows` rows is read, repaired, mapped, checked (county,
codes near the registry's) and written into the registry as part of the file's one batch,
inside the one transaction of the whole import: an import that fails or is interrupted
leaves the registry as it was. What the checks across chunks need is kept over the whole
file, and only that: one code key per row for a first pass over the code column (rows
whose code repeats in the file, up to case, spaces, hyphens and underscores, or that have
no usable code, are held back and checked together after the last chunk, so duplicate and
near-duplicate codes are judged as over the whole file), the rejected rows and the repair
texts (for the rejects files and the report), and a sample of at most
:data:`gis.gcj02.SHIFT_MATCH_SAMPLE` vertices per chunk for the GCJ-02 check. The registry
rows, rejects, repairs, notes and counts are those of the whole-file import
(``tests/test_import_chunks.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gis.labels import label
from workflows.importing import (
    FileReport, ImportReport, KnownCodes, check_rows, known_codes, file_report, gcj02_note, late_rejects,
    drop_near_codes, Prepared, prepare_file, registry_for_import, write_prepared, write_rejects,
)


class _Refused(Exception):
    """A file accepted none of its rows: the import's transaction rolls back."""


@dataclass
class _Acc:
    """What a streamed file keeps from chunk to chunk."""

    batch_id: str
    at: str
    before: dict = field(default_factory=lambda: {"rejects": [], "repairs": [], "accepted": 0})
    """Rejects, repairs and accepted rows before the registry was asked (for a refusal)."""
    rejects: list = field(default_factory=list)
    repairs: list = field(default_factory=list)
    accepted: int = 0
    batch: dict = field(default_factory=lambda: dict.fromkeys(
        ("n_accepted", "n_repaired", "n_rejected", "n_new", "n_updated", "n_unchanged"), 0))
    """The counts of the batch's record, as :meth:`layers.registry.Registry.write` counts them."""
    written: bool = False
    codes: set[str] = field(default_factory=set)
    sample: list = field(default_factory=list)


def import_streamed(paths: list[Path], streams: dict, registry: tuple, read: dict, *, update: bool, timeout: float,
                    bar) -> ImportReport:
    """:func:`workflows.importing.import_files` when at least one file streams: every file
    (streamed or read whole) is written in one transaction; a file that accepts none of
    its rows rolls it back and is reported as refused. A registry this import creates is
    built beside its path and moved there only once all is committed
    (:func:`workflows.importing.registry_for_import`). ``registry``: ``(path, Registry or None)``."""
    reg_path, reg = registry
    where = reg_path if reg is None else reg.path
    lang = read["lang"]
    done: list[tuple[Prepared, Prepared]] = []  # (as written, as prepared before the registry)
    try:
        with registry_for_import(reg_path, reg, timeout) as target, target.transaction() as tx:
            known = known_codes(None if reg is None else target, tx)  # read while this import holds the write lock
            for p in paths:
                bar.step(f"{label('registry.reading', lang)} {p.name}")
                done.append(_one_file(target, tx, p, streams[p], read, known=known, update=update))
            if any(f.report.n_read and not before.report.n_accepted for f, before in done):
                raise _Refused
            bar.step(label("registry.writing", lang))
            for prep, _ in done:  # written while the registry is locked: if this fails, all roll back
                write_rejects(prep)
    except _Refused:
        preps = [before for _, before in done]
        for prep in preps:
            write_rejects(prep)
        bar.done()
        refused = [p.report.source for p in preps if p.report.n_read and not p.report.n_accepted]
        return ImportReport(files=[p.report for p in preps], registry=where, refused=refused)
    bar.done()
    return ImportReport(files=[prep.report for prep, _ in done], registry=where)


def _one_file(reg, tx, path: Path, stream, read: dict, *, known: KnownCodes,
              update: bool) -> tuple[Prepared, Prepared]:
    """One file written in ``tx``: ``(as written, as prepared before the registry)``."""
    if stream is None:
        prep = prepare_file(path, **read)
        before = Prepared(path=path, report=dataclasses.replace(prep.report), rows=prep.rows, rejects=prep.rejects)
        write_prepared(reg, tx, prep, known, update=update, synthetic=read["synthetic"], lang=read["lang"])
        return prep, before
    return _stream_file(reg, tx, path, stream, read, known=known, update=update)


def _stream_file(reg, tx, path: Path, stream, read: dict, *, known: KnownCodes,
                 update: bool) -> tuple[Prepared, Prepared]:
    """A streamed file, chunk by chunk, as one batch in ``tx``."""
    from layers.registry.model import new_batch_id, now_iso

    rep = file_report(path, stream.source, stream.n_read, stream.notes, stream.crs_note,
                      synthetic=read["synthetic"], lang=read["lang"])
    repeated = _repeated_codes(stream, read["mapping"])
    acc = _Acc(batch_id=new_batch_id(), at=now_iso())
    ctx = {"reg": reg, "tx": tx, "path": path, "source": stream.source, "read": read, "known": known,
           "update": update, "acc": acc}
    held, empty = [], None
    for res in stream.chunks():
        frame = res.frame.set_axis(res.frame["_row"].to_numpy() - 1)  # an index unique over the file
        acc.sample.append(_vertex_sample(frame))
        back = repeated[frame["_row"].to_numpy() - 1]
        held.append(frame[back])
        empty = res.rejects.iloc[:0]
        _chunk(ctx, frame[~back], res.rejects)
    if held and sum(map(len, held)):
        _chunk(ctx, pd.concat(held), empty)
    return _finish(ctx, rep, stream)


def _chunk(ctx: dict, frame, read_rejects) -> None:
    """Check and write one chunk of rows (``frame``; read-stage rejects ``read_rejects``)."""
    acc, read, lang = ctx["acc"], ctx["read"], ctx["read"]["lang"]
    if not len(frame):
        for rows in (acc.before["rejects"], acc.rejects):
            rows.append(read_rejects)
        return
    opts = {k: read[k] for k in ("counties", "mapping", "category", "year", "status")}
    part = check_rows(frame, read_rejects, ctx["source"], opts, lang)
    acc.before["rejects"].append(part.rejects)
    acc.before["repairs"].append(part.repairs)
    acc.before["accepted"] += part.n_accepted
    rep = FileReport(source=ctx["source"], sha256="", n_accepted=part.n_accepted, n_rejected=len(part.rejects),
                     repairs=part.repairs, n_repaired=int(part.repairs["row"].nunique()))
    prep = Prepared(path=ctx["path"], report=rep, rows=part.rows, rejects=part.rejects, frame=part.frame)
    drop_near_codes(prep, ctx["known"], lang)
    # the batch's record counts as write() does: after the near codes, before the registry's refusals
    n_refused = 0
    counted = {"n_accepted": rep.n_accepted, "n_rejected": rep.n_rejected, "n_repaired": rep.n_repaired}
    if len(prep.rows):
        res = ctx["reg"].write_rows(prep.rows, tx=ctx["tx"], batch_id=acc.batch_id, at=acc.at,
                                    update=ctx["update"], lang=lang, current=ctx["known"])
        acc.written |= res.batch_id is not None
        for k in ("n_new", "n_updated", "n_unchanged"):
            acc.batch[k] += getattr(res, k)
        n_refused = len(res.rejected)
        if n_refused:
            late_rejects(prep, res.rejected)
    acc.batch["n_accepted"] += counted["n_accepted"] - n_refused
    acc.batch["n_rejected"] += counted["n_rejected"] + n_refused
    acc.batch["n_repaired"] += counted["n_repaired"]
    acc.codes.update(map(str, prep.rows["project_code"]))
    acc.rejects.append(prep.rejects)
    acc.repairs.append(rep.repairs)
    acc.accepted += rep.n_accepted


def _finish(ctx: dict, rep: FileReport, stream) -> tuple[Prepared, Prepared]:
    """The file's report, rejects and batch record once its last chunk is written."""
    acc, read = ctx["acc"], ctx["read"]
    rej = _sorted_rejects(acc.rejects)
    if read["source_datum"] is None:
        rep.notes.extend(_stream_gcj02(acc.sample, stream.columns, read["counties"], stream.source, read["lang"]))
    before = dataclasses.replace(rep, notes=list(rep.notes), n_accepted=acc.before["accepted"])
    _set_rows(before, acc.before["rejects"], acc.before["repairs"])
    rep.n_accepted = acc.accepted
    _set_rows(rep, acc.rejects, acc.repairs)
    rep.n_new, rep.n_updated, rep.n_unchanged = (acc.batch[k] for k in ("n_new", "n_updated", "n_unchanged"))
    if acc.written:
        ctx["reg"].record_batch(ctx["tx"], batch_id=acc.batch_id, at=acc.at, source=str(ctx["path"].resolve()),
                                sha256=rep.sha256, synthetic=read["synthetic"],
                                counts={"n_read": rep.n_read, **acc.batch})
        rep.batch_id = acc.batch_id
    ctx["known"].update(acc.codes)
    path = ctx["path"]
    return (Prepared(path=path, report=rep, rows=None, rejects=rej),
            Prepared(path=path, report=before, rows=None, rejects=_sorted_rejects(acc.before["rejects"])))


def _set_rows(rep: FileReport, rejects: list, repairs: list) -> None:
    """Counts and repairs of a file report from its chunks' rejects and repairs."""
    rep.n_rejected = int(sum(map(len, rejects)))
    some = [r for r in repairs if len(r)]
    rep.repairs = (pd.concat(some, ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True)
                   if some else pd.DataFrame({"row": pd.Series(dtype="int64"), "repair": pd.Series(dtype=object)}))
    rep.n_repaired = int(rep.repairs["row"].nunique())


def _sorted_rejects(frames: list):
    import geopandas as gpd

    rej = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4490")
    return rej.sort_values("_row", kind="stable")


def _vertex_sample(frame) -> np.ndarray:
    """At most :data:`gis.gcj02.SHIFT_MATCH_SAMPLE` vertices of a chunk, evenly spaced."""
    import shapely

    from gis.gcj02 import SHIFT_MATCH_SAMPLE

    xy = shapely.get_coordinates(np.asarray(frame.geometry.values, dtype=object))
    return xy[np.linspace(0, len(xy) - 1, min(len(xy), SHIFT_MATCH_SAMPLE)).astype(int)]


def _stream_gcj02(sample: list, columns: list[str], counties, source: str, lang: str) -> list[str]:
    """The GCJ-02 warning of :func:`workflows.importing._gcj02_warning`, from the chunks'
    vertex samples (the same vertices as the whole file's while a chunk has no more than
    :data:`gis.gcj02.SHIFT_MATCH_SAMPLE`)."""
    import shapely

    from layers.io import amap_signature

    xy = np.concatenate(sample) if sample else np.zeros((0, 2))
    if not len(xy) or amap_signature(columns):
        return []
    return gcj02_note(np.array([shapely.multipoints(xy)], dtype=object), counties, source, lang)


_NO_CODE = " no code "
"""The key of a missing or unusable code (a real key has no spaces)."""


def _repeated_codes(stream, mapping) -> np.ndarray:
    """Per row of the file: is its code's key (:func:`layers.fields.code_key`) shared with
    another row, or has it no usable code? Such rows are checked together after the last
    chunk. One pass over the code column, no geometry."""
    col = mapping.match_columns(stream.columns).get("project_code")
    if col is None:  # the first chunk's field mapping says what is missing
        return np.zeros(stream.n_read, dtype=bool)
    keys = _code_keys(stream.column(col))
    return keys.duplicated(keep=False).to_numpy() | (keys == _NO_CODE).to_numpy()


def _code_keys(values: pd.Series) -> pd.Series:
    """The code key of each value as :func:`layers.fields.map_fields` reads it
    (:func:`layers.fields.code_keys`), :data:`_NO_CODE` for a missing or unusable code."""
    from layers.fields import code_keys

    if values.dtype.kind in "iu":  # whole numbers: their digits are the code and its key
        return values.astype(str).astype(object)
    keys = code_keys(values.tolist())
    return pd.Series([_NO_CODE if k is None else k for k in keys], index=values.index, dtype=object)
