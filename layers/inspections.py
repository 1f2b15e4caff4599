"""Field inspections (现场核查) in the registry: read the map's export, store them.

The field map (``maps/assets/inspect.js``) exports one GeoJSON FeatureCollection; each
feature is an inspection: a GPS point (or no geometry), ``id`` (a UUID made on the
phone), ``project_code``, ``version`` (the registry batch that wrote the parcel version
shown), ``finding``, ``note``, ``area_mu``, ``accuracy_m``, ``position_time``,
``created_at`` and up to three photos as JPEG ``data:`` URLs.

Two tables are added to the registry, beside ``projects`` (nothing of the registry's own
tables is touched); the SQL is the backend's (``Backend.ensure_inspections``, ``dump``,
``load`` of :mod:`layers.registry`), so a GeoPackage and a PostGIS registry (where
migration 3 creates them) behave the same:

``inspections`` (features, Point, EPSG:4490)
    one row per inspection, keyed by its ``inspection_id``; ``version_current`` is the
    batch of the project's current version when it was imported. QGIS opens it as a
    point layer; ``photo_count`` says how many photos it has.
``inspection_photos`` (attributes)
    the photo bytes (BLOB / bytea, exactly as the phone made them), with ``inspection_id`` and
    ``photo_index`` linking them to their inspection (a QGIS relation).

Import is all or nothing (one transaction), bounded (:data:`LIMITS`), and idempotent:
an inspection already stored (same id) is skipped, so importing the same file twice
changes nothing. An inspection of a code the registry does not have is rejected with
the reason; a file that is not an inspection export imports nothing.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import shapely

from gis.errors import DataFileError
from gis.labels import DEFAULT_LANG, message

from .registry.geopackage import point_blob  # noqa: F401 - kept where it was
from .registry.model import INSPECTION_COLUMNS, INSPECTION_TABLE, PHOTO_COLUMNS, PHOTO_TABLE

log = logging.getLogger(__name__)

FINDINGS = ("built", "partly_built", "not_started", "mismatch", "other")
"""Finding codes of the map's form (``maps.inspect.FINDINGS``; labels ``inspection.finding.*``)."""
TABLE = INSPECTION_TABLE
PHOTOS = PHOTO_TABLE
SRS_ID = 4490


@dataclass(frozen=True)
class Limits:
    """Bounds on what an export may hold (a phone export is a few MB)."""

    file_bytes: int = 200_000_000
    features: int = 10_000
    photos: int = 3
    photo_bytes: int = 5_000_000
    note_chars: int = 2000
    nesting: int = 64
    int_digits: int = 20


LIMITS = Limits()

_DATA_URL = re.compile(r"data:image/(jpeg|png);base64,([A-Za-z0-9+/=\s]+)\Z")
_ID = re.compile(r"[A-Za-z0-9-]{8,64}\Z")

@dataclass
class ImportResult:
    """What an import did: ``n_new`` stored, ``n_unchanged`` already there, ``rejected``
    (one row per inspection refused: ``feature``, ``project_code``, ``reason``)."""

    n_new: int = 0
    n_unchanged: int = 0
    n_photos: int = 0
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["feature", "project_code", "reason"]))


# -------------------------------------------------------------------- reading
def read_export(path, limits: Limits = LIMITS) -> list[dict]:
    """The inspections of an export file, checked; a bad file raises and nothing is read.

    Raises
    ------
    DataFileError
        Missing, too large, not JSON, not an inspection export, or a feature that breaks
        the format (the message names the feature and what is wrong).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError.of("error.inspections_missing", path=path)
    size = path.stat().st_size
    if size > limits.file_bytes:
        raise DataFileError.of("error.inspections_too_large", path=path, mb=size / 1e6, max_mb=limits.file_bytes / 1e6)
    raw = path.read_bytes()
    doc = _parse(path, raw, limits)
    if not (isinstance(doc, dict) and doc.get("type") == "FeatureCollection" and doc.get("agrigis") == "inspections"
            and isinstance(doc.get("features"), list)):
        raise DataFileError.of("error.inspections_not_export", path=path)
    feats = doc["features"]
    if len(feats) > limits.features:
        raise DataFileError.of("error.inspections_too_many", path=path, n=len(feats), max=limits.features)
    sha = hashlib.sha256(raw).hexdigest()
    recs = [dict(_feature(path, i + 1, f, limits), source_sha256=sha) for i, f in enumerate(feats)]
    return _unique(path, recs)


def _nesting(raw: bytes) -> int:
    """The deepest ``[``/``{`` nesting of a JSON text (strings left out; linear, no recursion)."""
    bare = re.sub(rb'"[^"\\]*(?:\\.[^"\\]*)*"', b'""', raw)
    depth = deepest = 0
    for m in re.finditer(rb"[\[{]+|[\]}]+", bare):
        run = len(m.group())
        depth += run if m.group()[:1] in b"[{" else -run
        deepest = max(deepest, depth)
    return deepest


def _parse(path: Path, raw: bytes, limits: Limits):
    """The JSON document of ``raw``; every way it can fail (bad UTF-8 or JSON, nesting
    deeper than ``limits.nesting``, integers longer than ``limits.int_digits``) is one
    ``error.inspections_not_json`` naming the file."""
    if _nesting(raw) > limits.nesting:
        raise DataFileError.of("error.inspections_not_json", path=path,
                               detail=f"nested deeper than {limits.nesting} levels")

    def bounded_int(text: str) -> int:
        if len(text.lstrip("-")) > limits.int_digits:
            raise ValueError(f"an integer of {len(text.lstrip('-'))} digits")
        return int(text)

    try:
        return json.loads(raw.decode("utf-8"), parse_int=bounded_int)
    except (ValueError, RecursionError, MemoryError) as exc:  # JSONDecodeError, UnicodeDecodeError are ValueErrors
        raise DataFileError.of("error.inspections_not_json", path=path, detail=exc) from None


def _unique(path: Path, recs: list[dict]) -> list[dict]:
    """``recs`` with repeats of an identical inspection dropped; the same id with other
    content refuses the file (naming the id), since either copy could be the right one."""
    seen: dict[str, tuple[int, dict]] = {}
    out = []
    for i, r in enumerate(recs, start=1):
        first = seen.get(r["inspection_id"])
        if first is None:
            seen[r["inspection_id"]] = (i, r)
            out.append(r)
        elif first[1] != r:
            raise DataFileError.of("error.inspections_duplicate_id", path=path, id=r["inspection_id"],
                                   first=first[0], feature=i)
    return out


def _bad(path, i: int, what: str) -> DataFileError:
    return DataFileError.of("error.inspections_bad_feature", path=path, feature=i, detail=what)


def _feature(path, i: int, f, limits: Limits) -> dict:
    """One feature → a checked record (raises on anything out of format)."""
    if not isinstance(f, dict) or not isinstance(f.get("properties"), dict):
        raise _bad(path, i, "no properties")
    p = f["properties"]
    iid, code = p.get("id"), p.get("project_code")
    if not isinstance(iid, str) or not _ID.match(iid):
        raise _bad(path, i, f"id {iid!r}")
    if not isinstance(code, str) or not code.strip() or len(code) > 100:
        raise _bad(path, i, f"project_code {code!r}")
    if p.get("finding") not in FINDINGS:
        raise _bad(path, i, f"finding {p.get('finding')!r} (one of {', '.join(FINDINGS)})")
    note = p.get("note")
    note = "" if note is None else note
    if not isinstance(note, str):
        raise _bad(path, i, f"note is {_kind(note)}, not text")
    if len(note) > limits.note_chars:
        raise _bad(path, i, f"note longer than {limits.note_chars} characters")
    rec = {"inspection_id": iid, "project_code": code.strip(), "version": _text(path, i, p, "version"),
           "finding": p["finding"], "note": note, "area_mu": _number(path, i, p, "area_mu"),
           "accuracy_m": _number(path, i, p, "accuracy_m"), "position_time": _text(path, i, p, "position_time"),
           "created_at": _text(path, i, p, "created_at"), "point": _point(path, i, f.get("geometry"))}
    rec["photos"] = _photos(path, i, p.get("photos") or [], limits)
    return rec


def _kind(v) -> str:
    """What a JSON value is, for messages (``a list``, ``an object`` …)."""
    if isinstance(v, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number"}.get(type(v), "null")


def _text(path, i: int, p: dict, key: str) -> str | None:
    """A short text field (a number is taken as its text); anything else refuses the feature."""
    v = p.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise _bad(path, i, f"{key} is {_kind(v)}, not text")
    return str(v)[:100]


def _number(path, i: int, p: dict, key: str) -> float | None:
    v = p.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _bad(path, i, f"{key} is {_kind(v)}, not a number")
    if not math.isfinite(v) or v < 0:
        raise _bad(path, i, f"{key} {v!r}")
    return float(v)


def _point(path, i: int, g) -> tuple[float, float] | None:
    if g is None:
        return None
    xy = g.get("coordinates") if isinstance(g, dict) else None
    ok = (g.get("type") == "Point" if isinstance(g, dict) else False) and isinstance(xy, list) \
        and len(xy) in (2, 3) and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in xy)
    if ok:
        lon, lat = float(xy[0]), float(xy[1])
        ok = -180 <= lon <= 180 and -90 <= lat <= 90
    if not ok:
        raise _bad(path, i, "geometry is not a lon/lat Point")
    return lon, lat


def _photos(path, i: int, photos, limits: Limits) -> list[dict]:
    if not isinstance(photos, list):
        raise _bad(path, i, f"photos is {_kind(photos)}, not a list")
    if len(photos) > limits.photos:
        raise _bad(path, i, f"more than {limits.photos} photos")
    out = []
    for k, ph in enumerate(photos, start=1):
        m = _DATA_URL.match(ph.get("data", "")) if isinstance(ph, dict) and isinstance(ph.get("data"), str) else None
        if m is None:
            raise _bad(path, i, f"photo {k} is not a JPEG/PNG data: URL")
        try:
            data = base64.b64decode(re.sub(r"\s", "", m.group(2)), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _bad(path, i, f"photo {k}: {exc}") from exc
        magic = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG"}[m.group(1)]
        if not data.startswith(magic) or len(data) > limits.photo_bytes:
            raise _bad(path, i, f"photo {k} is not a {m.group(1).upper()} image of at most {limits.photo_bytes} bytes")
        out.append({"name": _text(path, i, ph, "name"), "mime": f"image/{m.group(1)}", "data": data,
                    "sha256": hashlib.sha256(data).hexdigest()})
    return out


# -------------------------------------------------------------------- storing
def import_inspections(registry, path, lang: str = DEFAULT_LANG, limits: Limits = LIMITS) -> ImportResult:
    """Store the inspections of an export file in ``registry`` (a :class:`layers.registry.Registry`
    on either backend: GeoPackage or PostGIS).

    All or nothing: the file is checked completely first, then one transaction writes
    every inspection whose project code the registry knows and that is not stored yet.
    """
    recs = read_export(path, limits)
    projects = registry.projects(include_history=True)
    current = projects[projects["valid_to"].isna()].set_index("project_code")["batch_id"].to_dict()
    known = set(projects["project_code"].astype(str))
    versions = set(zip(projects["project_code"].astype(str), projects["batch_id"].astype(str), strict=True))
    res, rejected, new = ImportResult(), [], []
    at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    backend = registry.backend
    with backend.transaction() as tx:
        backend.ensure_inspections(tx)
        cols, have = backend.dump(TABLE, order="fid", tx=tx)
        stored = {r[cols.index("inspection_id")] for r in have}
        for i, r in enumerate(recs, start=1):
            reason = _refusal(r, known, versions, lang)
            if reason:
                rejected.append((i, r["project_code"], reason))
            elif r["inspection_id"] in stored:
                res.n_unchanged += 1
            else:
                new.append(r)
                stored.add(r["inspection_id"])
        _insert(backend, tx, new, current, at)
    res.n_new, res.n_photos = len(new), sum(len(r["photos"]) for r in new)
    res.rejected = pd.DataFrame(rejected, columns=["feature", "project_code", "reason"])
    return res


def _refusal(r: dict, known: set, versions: set, lang: str) -> str | None:
    if r["project_code"] not in known:
        return message("reject.inspection_unknown_code", lang, code=r["project_code"])
    if r["version"] is not None and (r["project_code"], r["version"]) not in versions:
        return message("reject.inspection_unknown_version", lang, code=r["project_code"], version=r["version"])
    return None


def _insert(backend, tx, recs: list[dict], current: dict, at: str) -> None:
    """Write new inspections and their photos through the backend (``Backend.load``)."""
    rows = [(None if r["point"] is None else shapely.to_wkb(shapely.Point(*r["point"]), byte_order=1),
             r["inspection_id"], r["project_code"], r["version"], current.get(r["project_code"]), r["finding"],
             r["note"], r["area_mu"], r["accuracy_m"], r["position_time"], r["created_at"], len(r["photos"]), at,
             r["source_sha256"]) for r in recs]
    backend.load(tx, TABLE, ["geom", *INSPECTION_COLUMNS], rows)
    photo_rows = [(r["inspection_id"], k, ph["name"], ph["mime"], ph["sha256"], ph["data"])
                  for r in recs for k, ph in enumerate(r["photos"], start=1)]
    backend.load(tx, PHOTOS, list(PHOTO_COLUMNS), photo_rows)


# -------------------------------------------------------------------- reading back
_SHOWN = ["inspection_id", "project_code", "version", "version_current", "finding", "note", "area_mu",
          "accuracy_m", "position_time", "created_at", "photo_count", "imported_at"]


def inspections(registry, project_code: str | None = None) -> pd.DataFrame:
    """Stored inspections (no photo bytes), oldest first; of one project with ``project_code``.

    An empty frame when none was ever imported.
    """
    where, params = ("project_code = ?", (str(project_code),)) if project_code is not None else (None, ())
    cols, rows = registry.backend.dump(TABLE, where, params, order="created_at, fid")
    df = pd.DataFrame.from_records(rows, columns=cols)
    return df[_SHOWN].reset_index(drop=True) if len(df) else pd.DataFrame(columns=_SHOWN)


def photos(registry, inspection_id: str) -> list[bytes]:
    """The photo bytes of one inspection, in order."""
    cols, rows = registry.backend.dump(PHOTOS, "inspection_id = ?", (inspection_id,), order="photo_index")
    k = cols.index("data")
    return [bytes(r[k]) for r in rows]


def latest_contradicting(registry) -> pd.DataFrame:
    """Projects whose current status is ``completed``/``accepted`` but whose latest
    inspection found something else than ``built`` (for ``check`` and ``progress``)."""
    ins = inspections(registry)
    if ins.empty:
        return ins.assign(status=pd.Series(dtype=object))
    latest = ins.sort_values(["created_at"]).groupby("project_code").tail(1)
    cur = registry.projects()[["project_code", "status"]]
    out = latest.merge(cur, on="project_code")
    return out[out["status"].isin(["completed", "accepted"]) & (out["finding"] != "built")].reset_index(drop=True)
