"""``agrigis check``: overlaps, area mismatches, slivers, county straddles, projects in
nature reserves and completed projects an inspection contradicts, in the registry.

Recipe: load the current projects, the counties and the nature reserves, run the
detectors of :mod:`gis.quality`, judge each overlap and each project in a reserve by the
land-use rules (:file:`workflows/land_rules.yml`, :mod:`gis.land_rules`): a practice on
high-standard farmland is ``information``, two construction projects on the same land
in one year a ``problem``. Write one table (``check.xlsx`` or ``check.csv``, one row per
finding with its severity and the rule's reason) and one GeoPackage (``check.gpkg``, a
layer per kind with the finding's geometry: the overlap itself, or the parcel).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import click
import pandas as pd

from gis.labels import label, message
from workflows.options import lang_option, open_registry, registry_option, registry_parcels
from gis.outputs import Sheet, staged_outputs, write_csv, write_excel

log = logging.getLogger(__name__)

KINDS = ("overlap_same", "overlap_cross", "in_reserve", "area_mismatch", "sliver", "straddle",
         "inspection_contradicts", "registry_edit")
"""Kinds of finding, in report order."""
SEVERITIES = ("problem", "information")
RULES_YML = Path(__file__).with_name("land_rules.yml")
"""The bundled land-use rules (which categories may share land or lie in a reserve)."""
MIN_RESERVE_MU = 0.01
"""Projects overlapping a reserve by less than this (亩) are digitising noise."""
COLUMNS = ["kind", "severity", "code_a", "code_b", "category_a", "category_b", "value_mu", "detail", "rule",
           "geometry"]


@dataclass
class CheckResult:
    """Findings of :func:`check_projects`."""

    problems: pd.DataFrame
    """``kind, severity, code_a, code_b, category_a, category_b, value_mu, detail, rule``
    (+ geometry); ``severity`` is ``problem`` or ``information``."""
    layers: dict = field(default_factory=dict)
    """kind → GeoDataFrame of finding geometries."""
    table: Path | None = None
    gpkg: Path | None = None
    synthetic: bool = False

    def count(self, kind: str, severity: str | None = None) -> int:
        """Findings of ``kind`` (of one ``severity`` when given)."""
        sel = self.problems["kind"] == kind
        if severity is not None:
            sel &= self.problems["severity"] == severity
        return int(sel.sum())


def load_rules(path=None):
    """The land-use rules: ``path`` or the bundled :data:`RULES_YML` (read through
    :func:`gis.config.load_yaml`, category codes checked)."""
    from gis.labels import CATEGORIES
    from gis.land_rules import load_land_rules

    return load_land_rules(RULES_YML if path is None else Path(path), categories=CATEGORIES)


def check_projects(parcels, counties=None, *, protected_areas=None, rules=None, lang: str = "zh") -> CheckResult:
    """Run every check on a GeoDataFrame of projects (registry columns, EPSG:4490).

    ``protected_areas``: nature reserves (None: no reserve check); ``rules``: a
    :class:`gis.land_rules.LandRules` (default the bundled table); ``lang``: of the
    rules' reasons.
    """
    import geopandas as gpd

    if counties is None:
        from layers import load_role

        counties = load_role("counties")
    rules = load_rules() if rules is None else rules
    cat = parcels["category"].astype(str) if "category" in parcels else pd.Series("", index=parcels.index)
    rows, layers = [], {}
    _overlaps(parcels, rules, lang, rows, layers)
    if protected_areas is not None and len(protected_areas):
        _reserves(parcels, protected_areas, rules, lang, rows, layers)
    _per_parcel(parcels, counties, cat, lang, (rows, layers))
    problems = pd.DataFrame(rows, columns=COLUMNS)
    layers = {k: gpd.GeoDataFrame(pd.DataFrame(v).reset_index(drop=True), geometry="geometry", crs="EPSG:4490")
              for k, v in layers.items() if len(v)}
    return CheckResult(problems=problems, layers=layers, synthetic=bool(parcels.attrs.get("synthetic", False)))


def _overlaps(parcels, rules, lang: str, rows: list, layers: dict) -> None:
    """Overlapping pairs, each judged by the rules (same category / across categories)."""
    from gis.land_rules import classify_overlaps
    from gis.quality import find_overlaps

    ov = find_overlaps(parcels)
    if "year" in parcels and "project_code" in parcels:
        years = dict(zip(parcels["project_code"].astype(str), parcels["year"], strict=True))
        ov = ov.assign(year_a=ov["code_a"].map(years), year_b=ov["code_b"].map(years))
    ov = classify_overlaps(ov, rules, lang)
    for kind, part in (("overlap_same", ov[ov["same_category"]]), ("overlap_cross", ov[~ov["same_category"]])):
        for r in part.itertuples():
            rows.append({"kind": kind, "severity": r.severity, "code_a": r.code_a, "code_b": r.code_b,
                         "category_a": r.category_a, "category_b": r.category_b, "value_mu": r.overlap_mu,
                         "detail": message("check.detail_overlap", lang, mu=r.overlap_mu, code_a=r.code_a,
                                           share_a=r.share_a * 100, code_b=r.code_b, share_b=r.share_b * 100),
                         "rule": r.why, "geometry": r.geometry})
        layers[kind] = part.drop(columns=["year_a", "year_b"], errors="ignore")


def _reserves(parcels, protected_areas, rules, lang: str, rows: list, layers: dict) -> None:
    """Projects overlapping a nature reserve: expected (restoration) or a problem."""
    import numpy as np
    import shapely

    from gis.area import area_mu

    g = np.asarray(parcels.to_crs("EPSG:4490").geometry.values, dtype=object)
    res = protected_areas.to_crs("EPSG:4490")
    r = np.asarray(res.geometry.values, dtype=object)
    name_col = next((c for c in ("name_zh", "name", "NAME") if c in res.columns), None)
    names = res[name_col].astype(str).to_numpy() if name_col else np.array([f"#{i}" for i in range(len(r))])
    pi, ri = shapely.STRtree(r).query(g, predicate="intersects")
    if not len(pi):
        return
    mu = area_mu(shapely.intersection(g[pi], r[ri]), crs="EPSG:4490")
    keep = mu >= MIN_RESERVE_MU
    out = []
    for p, k, m in zip(pi[keep], ri[keep], mu[keep], strict=True):
        row = parcels.iloc[p]
        rule = rules.reserve(str(row.get("category", "")))
        share = m / float(row["area_mu"]) * 100 if row.get("area_mu") else float("nan")
        out.append({"kind": "in_reserve", "severity": rule.severity, "code_a": row.get("project_code"),
                    "category_a": row.get("category"), "value_mu": m,
                    "detail": message("check.detail_reserve", lang, name=names[k], mu=m, share=share),
                    "rule": rule.why(lang),
                    "geometry": g[p]})
    rows.extend(out)
    layers["in_reserve"] = pd.DataFrame(out).drop(columns=["kind"])


def _per_parcel(parcels, counties, cat: pd.Series, lang: str, out: tuple[list, dict]) -> None:
    """Area mismatches, slivers and county straddles: problems of one parcel each, their
    details in ``lang``; appended to ``out`` = ``(rows, layers)``."""
    from gis.quality import SLIVER_MU, find_area_mismatches, find_slivers, find_straddles

    rows, layers = out

    am = find_area_mismatches(parcels)
    for idx, r in am.iterrows():
        rows.append({"kind": "area_mismatch", "severity": "problem", "code_a": r["project_code"],
                     "category_a": cat.loc[idx], "value_mu": r["area_mu"],
                     "detail": message("check.detail_area_mismatch", lang, declared=r["declared_area_mu"],
                                       computed=r["area_mu"], pct=r["difference_pct"]), "geometry": r["geometry"]})
    layers["area_mismatch"] = am
    sl = find_slivers(parcels)
    for idx, r in sl.iterrows():
        rows.append({"kind": "sliver", "severity": "problem", "code_a": r["project_code"], "category_a": cat.loc[idx],
                     "value_mu": r["area_mu"], "detail": message("check.detail_sliver", lang, mu=r["area_mu"],
                                                                 limit=SLIVER_MU), "geometry": r["geometry"]})
    layers["sliver"] = sl
    st = find_straddles(parcels, counties)
    for idx, r in st.iterrows():
        rows.append({"kind": "straddle", "severity": "problem", "code_a": r["project_code"],
                     "category_a": cat.loc[idx], "value_mu": None,
                     "detail": message("check.detail_straddle", lang, share=r["share"] * 100, county=r["county_code"],
                                       n=r["n_zones"], outside=r["outside_share"] * 100), "geometry": r["geometry"]})
    layers["straddle"] = st


def registry_edits(registry=None, lang: str = "zh") -> pd.DataFrame:
    """Hand edits of the registry (:meth:`layers.registry.Registry.verify`) as check problems."""
    v = open_registry(registry).verify(lang)
    detail = [f"{d} [fid {'-' if f is None or pd.isna(f) else int(f)}, {label('registry.batch', lang)} {b}]"
              for d, f, b in zip(v["detail"], v["fid"], v["batch_id"], strict=True)]
    return pd.DataFrame({"kind": "registry_edit", "severity": "problem", "code_a": v["project_code"],
                         "detail": detail}, columns=COLUMNS)


def contradicted(registry=None, lang: str = "zh") -> pd.DataFrame:
    """Projects marked completed/accepted whose latest field inspection found otherwise
    (:func:`layers.inspections.latest_contradicting`), as check problems."""
    from layers.inspections import latest_contradicting

    c = latest_contradicting(open_registry(registry))
    from gis.labels import STATUSES

    detail = [message("check.inspection_detail", lang, status=STATUSES.get(s, (s, s))[lang == "en"],
                      finding=label(f"inspection.finding.{f}", lang), date=str(d or "?")[:10], note=n or "-")
              for s, f, d, n in zip(c["status"], c["finding"], c["created_at"], c["note"], strict=True)]
    return pd.DataFrame({"kind": "inspection_contradicts", "severity": "problem", "code_a": c["project_code"],
                         "detail": detail}, columns=COLUMNS)


@dataclass(frozen=True)
class CheckOptions:
    """Inputs of :func:`run_check` besides the registry: counties and reserves (default:
    the catalogue's layers with those roles), land-use rules (default the bundled table)
    and the catalogue workspace (default: the registry's folder when it holds a
    ``catalog.yml``, else as :func:`layers.load`)."""

    counties: object = None
    protected_areas: object = None
    rules: object = None
    workspace: object = None


def run_check(registry=None, output=".", *, fmt: str = "xlsx", lang: str = "zh", counties=None,
              options: CheckOptions | None = None, parcels=None) -> CheckResult:
    """Check the registry's current projects; write ``check.<fmt>`` and ``check.gpkg`` into ``output``.

    ``parcels``: the registry's current projects when the caller has already read them
    (:func:`workflows.options.registry_parcels`); the registry is still read for its hand
    edits and field inspections.
    """
    import layers
    from workflows.options import registry_path

    o = options or CheckOptions()
    parcels = registry_parcels(registry) if parcels is None else parcels
    rules = o.rules if o.rules is None or not isinstance(o.rules, (str, Path)) else load_rules(o.rules)
    workspace = o.workspace
    where = registry_path(registry)  # a GeoPackage path, or a PostGIS URL (no folder beside it)
    if workspace is None and isinstance(where, Path) and (where.parent / "catalog.yml").exists():
        workspace = where.parent
    cat = layers.get_catalog(workspace)  # counties and reserves from the same catalogue
    reserves = o.protected_areas
    if reserves is None:
        reserves = cat.load_role("protected_areas", required=False)[0]
    counties = counties if counties is not None else o.counties
    if counties is None:
        counties = cat.load_role("counties")[0]
    res = check_projects(parcels, counties, protected_areas=reserves, rules=rules, lang=lang)
    extra = [t for t in (registry_edits(registry, lang), contradicted(registry, lang)) if len(t)]
    if extra:
        res.problems = pd.concat([res.problems.astype(object), *(t.astype(object) for t in extra)], ignore_index=True)
    order = res.problems["severity"].map({s: i for i, s in enumerate(SEVERITIES)})
    res.problems = res.problems.iloc[order.argsort(kind="stable")].reset_index(drop=True)
    _write(res, Path(output), fmt, lang)
    return res


def _table(res: CheckResult, lang: str) -> tuple[pd.DataFrame, dict]:
    """The findings with readable kinds, severities and headers."""
    table = res.problems.drop(columns="geometry").copy()
    table["kind"] = table["kind"].map(lambda k: label(f"check.{k}", lang))
    table["severity"] = table["severity"].map(lambda k: label(f"check.severity_{k}", lang))
    heads = {"kind": label("check.kind", lang), "severity": label("check.severity", lang),
             "code_a": label("check.code_a", lang), "code_b": label("check.code_b", lang),
             "category_a": label("column.category", lang) + " A", "category_b": label("column.category", lang) + " B",
             "value_mu": label("check.value_mu", lang), "detail": label("check.detail", lang),
             "rule": label("check.rule", lang)}
    return table.rename(columns=heads), heads


def _write(res: CheckResult, out: Path, fmt: str, lang: str) -> None:
    """``check.<fmt>`` and ``check.gpkg``, together or neither."""
    table, heads = _table(res, lang)
    table_name = "check.csv" if fmt == "csv" else "check.xlsx"
    names = [table_name] + (["check.gpkg"] if res.layers else [])
    # all outputs land together, or none: a failed run leaves the previous check as it was
    notice = label("synthetic.notice", lang) if res.synthetic else ""
    with staged_outputs(out, names) as tmp:
        if fmt == "csv":
            write_csv(tmp / table_name, table, note=notice)
        else:
            write_excel(tmp / table_name, [Sheet("check", table, formats={heads["value_mu"]: "#,##0.00"},
                                                 notes=[notice] if notice else [])], footer=notice)
        for kind, gdf in res.layers.items():
            gdf.to_file(tmp / "check.gpkg", layer=kind, driver="GPKG")
    res.table = out / table_name
    res.gpkg = out / "check.gpkg"
    if not res.layers and res.gpkg.exists():
        res.gpkg.unlink()  # no problems now: the old problem layers would mislead


@click.command("check")
@registry_option
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for check.xlsx/csv and check.gpkg.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True)
@click.option("--rules", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Land-use rules (layout of workflows/land_rules.yml): which categories may share land.")
@lang_option
def check_command(registry, output, fmt, rules, lang):
    """Find overlaps, area mismatches, slivers, county straddles, projects in reserves and
    completed projects an inspection contradicts; problems and information apart (数据质量检查)."""
    res = run_check(registry, output, fmt=fmt, lang=lang, options=CheckOptions(rules=rules))
    click.echo(label("check.summary", lang) + (f" ({label('synthetic.notice', lang)})" if res.synthetic else ""))
    if res.problems.empty:
        click.echo("  " + label("check.none", lang))
    for sev in SEVERITIES:
        n = int((res.problems["severity"] == sev).sum())
        if not n:
            continue
        click.echo(message(f"check.total_{sev}", lang, n=n))
        for kind in KINDS:
            if k := res.count(kind, sev):
                click.echo(f"    {label(f'check.{kind}', lang)}: {k}")
    click.echo(f"  → {res.table}")
    if res.layers:
        click.echo(f"  → {res.gpkg}")
