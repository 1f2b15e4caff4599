"""What ``agrigis progress`` adds to :func:`gis.tracking.progress`: severities from the
land-use rules, flags from field inspections, and the imagery evidence per target.

Three steps, each a small function the progress job calls after computing:

- :func:`flag_severity` gives each flag ``problem`` or ``information``: a parcel in a
  nature reserve by the rules' reserve table (:meth:`gis.land_rules.LandRules.reserve`:
  wetland restoration there is information, a new paddy a problem), an overlap of two
  categories by :meth:`~gis.land_rules.LandRules.overlap`, everything else
  (declared twice, outside the city, area gap, no geometry, an inspection that
  disagrees) a problem;
- :func:`inspection_flags` turns the projects whose latest field inspection contradicts
  their completed/accepted status (:func:`layers.inspections.latest_contradicting`, via
  :func:`workflows.check.contradicted`) into flags ``inspection_contradicts``;
- :func:`inspection_table` lists every stored inspection with its project's name,
  county and current status, and whether it is the latest inspection of a
  completed/accepted project and found otherwise (the inspection sheet of the report);
- :func:`evidence_by_target` sums, per area target, the area claimed complete that the
  imagery supports, does not support, or did not observe
  (:func:`gis.evidence.support_summary` on the table of ``agrigis verify``).

Examples
--------
>>> import pandas as pd
>>> from workflows.check import load_rules
>>> flags = pd.DataFrame({"flag": ["in_protected_area", "in_protected_area", "area_gap"],
...                       "category": ["wetland_restoration", "paddy_new", "paddy_new"]})
>>> out = flag_severity(flags, load_rules())  # problems first
>>> list(zip(out["category"], out["severity"]))
[('paddy_new', 'problem'), ('paddy_new', 'problem'), ('wetland_restoration', 'information')]
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gis.errors import DataFileError, InputError

log = logging.getLogger(__name__)

__all__ = ["ProgressExtras", "flag_severity", "inspection_flags", "inspection_table", "INSPECTION_SHEET",
           "read_evidence", "evidence_by_target",
           "EVIDENCE_COLUMNS", "EVIDENCE_SUMMARY"]

EVIDENCE_COLUMNS = ("category", "status", "area_mu", "support")
"""Columns an evidence table needs (``agrigis verify`` writes them, and ``year``, ``county_code``)."""
EVIDENCE_SUMMARY = ("evidence_claimed_mu", "evidence_supported_mu", "evidence_not_supported_mu",
                    "evidence_unobserved_mu")
"""Columns :func:`evidence_by_target` adds to the progress summary (亩)."""
SEVERITY_ORDER = {"problem": 0, "information": 1}
INSPECTION_SHEET = ("project_code", "project_name", "county_code", "status", "finding", "note", "created_at",
                    "accuracy_m", "photo_count", "contradicts", "inspection_id")
"""Columns of :func:`inspection_table` (the report's inspection sheet, in this order)."""


@dataclass(frozen=True)
class ProgressExtras:
    """Optional inputs of :func:`workflows.progress.run_progress`.

    ``rules``: land-use rules file or :class:`gis.land_rules.LandRules` (default: the
    bundled ``workflows/land_rules.yml``); ``evidence``: ``evidence.gpkg`` of
    ``agrigis verify`` or its table as a DataFrame (default: none, no evidence columns);
    ``inspections``: add the flags of contradicting field inspections when a registry is
    read.
    """

    rules: object = None
    evidence: object = None
    inspections: bool = True


# ------------------------------------------------------------------------------ severity


def flag_severity(flags: pd.DataFrame, rules, lang: str = "zh") -> pd.DataFrame:
    """``flags`` with ``severity`` (``problem``/``information``) and ``rule`` (the reason
    from the rules, empty for flags no rule judges), problems first.

    ``in_protected_area`` → ``rules.reserve(category)``; ``overlap_cross`` (flags of
    two categories, ``other_category`` column) → ``rules.overlap(...)``; every other flag
    is a problem.
    """
    n = len(flags)
    sev = np.full(n, "problem", dtype=object)
    why = np.full(n, "", dtype=object)
    kinds = flags["flag"].astype(str).to_numpy() if n else np.array([], dtype=object)
    cats = flags["category"].astype(str).to_numpy() if n else np.array([], dtype=object)
    for i in np.flatnonzero(kinds == "in_protected_area"):
        r = rules.reserve(cats[i])
        sev[i], why[i] = r.severity, r.why(lang)
    if "other_category" in flags.columns:
        years = flags["year"].to_numpy(dtype=object) if "year" in flags.columns else np.full(n, None, dtype=object)
        other = flags["other_category"].astype(str).to_numpy()
        for i in np.flatnonzero(kinds == "overlap_cross"):
            r = rules.overlap(cats[i], other[i], years[i], None)
            sev[i], why[i] = r.severity, r.why(lang)
    out = flags.assign(severity=sev, rule=why)
    order = out["severity"].map(SEVERITY_ORDER).to_numpy()
    return out.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


def load_land_rules(rules=None):
    """A :class:`~gis.land_rules.LandRules`: given, read from a file, or the bundled table."""
    from workflows.check import load_rules

    if rules is None or isinstance(rules, (str, os.PathLike)):
        return load_rules(rules)
    return rules


# ------------------------------------------------------------------------------ inspections


def inspection_flags(registry, parcels, lang: str = "zh") -> pd.DataFrame:
    """Flags ``inspection_contradicts``: projects completed/accepted whose latest field
    inspection found otherwise, with the parcel's category, year, status, county and area.

    ``registry`` is a registry path (GeoPackage); ``parcels`` its current projects.
    """
    from gis.tracking import FLAG_COLS
    from workflows.check import contradicted

    c = contradicted(registry, lang)
    if c.empty:
        return pd.DataFrame(columns=FLAG_COLS)
    cols = [x for x in ("category", "year", "status", "county_code", "area_mu") if x in parcels.columns]
    info = pd.DataFrame(parcels[["project_code", *cols]]).drop_duplicates("project_code").set_index("project_code")
    info = info.reindex(c["code_a"].astype(str))
    get = lambda col: info[col].to_numpy() if col in info.columns else np.full(len(c), None, dtype=object)  # noqa: E731
    year = pd.array(pd.to_numeric(pd.Series(get("year")), errors="coerce"), dtype="Float64").astype("Int64")
    return pd.DataFrame({"flag": "inspection_contradicts", "project_code": c["code_a"].to_numpy(),
                         "other_project_code": None, "category": get("category"), "year": year,
                         "status": get("status"), "region": get("county_code"),
                         "area_mu": pd.to_numeric(pd.Series(get("area_mu")), errors="coerce").to_numpy(),
                         "declared_area_mu": np.nan, "detail": c["detail"].to_numpy()}, columns=FLAG_COLS)


def inspection_table(registry) -> pd.DataFrame:
    """Every field inspection stored in ``registry`` (a :class:`layers.registry.Registry`,
    GeoPackage or PostGIS), oldest first, with the project's name, county and current
    status (:data:`INSPECTION_SHEET`). ``contradicts`` is True for the inspections
    :func:`layers.inspections.latest_contradicting` reports: the latest of a project
    marked completed/accepted, finding something else than built. Empty when the
    registry holds no inspection.
    """
    from layers.inspections import inspections, latest_contradicting

    ins = inspections(registry)
    if ins.empty:
        return pd.DataFrame(columns=list(INSPECTION_SHEET))
    cur = pd.DataFrame(registry.projects())
    cols = [c for c in ("project_name", "county_code", "status") if c in cur.columns]
    cur = cur[["project_code", *cols]].drop_duplicates("project_code")
    out = ins.merge(cur, on="project_code", how="left")  # a project deleted since keeps its inspections
    for c in ("project_name", "county_code", "status"):
        if c not in out.columns:
            out[c] = None
    bad = set(latest_contradicting(registry)["inspection_id"].astype(str))
    out["contradicts"] = out["inspection_id"].astype(str).isin(bad)
    out["accuracy_m"] = pd.to_numeric(out["accuracy_m"], errors="coerce")
    out["photo_count"] = pd.to_numeric(out["photo_count"], errors="coerce").fillna(0).astype(int)
    return out[list(INSPECTION_SHEET)].reset_index(drop=True)


# ------------------------------------------------------------------------------ evidence


def read_evidence(source) -> pd.DataFrame:
    """The evidence table: a DataFrame as it is, or layer ``evidence`` of a GeoPackage
    written by ``agrigis verify`` (read without geometry), checked for its columns."""
    if isinstance(source, pd.DataFrame):
        table, where = pd.DataFrame(source), "DataFrame"
    else:
        path = Path(source)
        if not path.is_file():
            raise DataFileError.of("error.progress_evidence_missing", path=path)
        table, where = _read_gpkg(path), str(path)
    missing = [c for c in EVIDENCE_COLUMNS if c not in table.columns]
    if missing:
        raise InputError.of("error.progress_evidence_columns", path=where, missing=", ".join(missing),
                            columns=", ".join(map(str, table.columns)))
    return table


def _read_gpkg(path: Path) -> pd.DataFrame:
    import pyogrio

    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # noqa: BLE001 - GDAL's errors vary by file
        raise DataFileError.of("error.progress_evidence_unreadable", path=path, detail=exc) from exc
    if "evidence" not in layers:
        raise DataFileError.of("error.progress_evidence_layer", path=path, layers=", ".join(layers) or "-")
    return pd.DataFrame(pyogrio.read_dataframe(path, layer="evidence", read_geometry=False))


def evidence_by_target(targets, table: pd.DataFrame) -> pd.DataFrame:
    """Per area target (index ``key``): the area (亩) claimed complete by the target's own
    statuses, year and counties, and how much of it the imagery supports, does not
    support or did not observe (:data:`EVIDENCE_SUMMARY`). A target whose category the
    table does not cover (no evidence rule, or not verified) gets NaN, not 0.

    Examples
    --------
    >>> from gis.targets import parse_targets
    >>> ts = parse_targets({"city": {"code": "220800", "name_zh": "白城市", "name_en": "Baicheng"},
    ...     "year": 2024, "targets": [
    ...     {"key": "p", "category": "paddy_new", "name_zh": "水田", "name_en": "Paddy", "value": 1, "unit": "wan_mu"},
    ...     {"key": "f", "category": "afforestation", "name_zh": "造林", "name_en": "F", "value": 1, "unit": "wan_mu"}]})
    >>> t = pd.DataFrame({"category": ["paddy_new"] * 3, "year": [2024, 2024, 2023],
    ...     "status": ["completed", "accepted", "completed"], "area_mu": [10.0, 20.0, 5.0],
    ...     "support": ["supported", "not_supported", "unobserved"]})
    >>> evidence_by_target(ts, t).loc["p"].tolist(), bool(evidence_by_target(ts, t).loc["f"].isna().all())
    ([30.0, 10.0, 20.0, 0.0], True)
    """
    from gis.evidence import support_summary

    rows = {}
    covered = set(table["category"].astype(str))
    year = pd.to_numeric(table["year"], errors="coerce") if "year" in table.columns else None
    county = table["county_code"].astype(str) if "county_code" in table.columns else None
    for t in targets.area_targets:
        if t.category not in covered:
            rows[t.key] = [np.nan] * len(EVIDENCE_SUMMARY)
            continue
        sel = table["category"].astype(str) == t.category
        if year is not None:
            sel &= year == t.year
        if t.scope and county is not None:
            sel &= county.isin(t.scope)
        s = support_summary(table[sel], statuses=tuple(t.achieved_statuses))
        rows[t.key] = s.loc[t.category].tolist() if t.category in s.index else [0.0] * len(EVIDENCE_SUMMARY)
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(EVIDENCE_SUMMARY)).rename_axis("key")
