"""``agrigis check``: overlaps, area mismatches, slivers and county straddles in the registry.

Recipe: load the current projects and the counties, run the detectors of
:mod:`gis.quality`, write one table (``check.xlsx`` or ``check.csv``, one row per
problem) and one GeoPackage (``check.gpkg``, a layer per kind of problem with the problem
geometry: the overlap itself, or the parcel).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import click
import pandas as pd

from gis.labels import label
from workflows.options import lang_option, open_registry, registry_option, registry_parcels
from gis.outputs import Sheet, staged_outputs, write_csv, write_excel

log = logging.getLogger(__name__)

KINDS = ("overlap_same", "overlap_cross", "area_mismatch", "sliver", "straddle", "registry_edit")
"""Problem kinds, in report order."""


@dataclass
class CheckResult:
    """Problems found by :func:`check_projects`."""

    problems: pd.DataFrame
    """``kind, code_a, code_b, category_a, category_b, value_mu, detail`` (+ geometry)."""
    layers: dict = field(default_factory=dict)
    """kind → GeoDataFrame of problem geometries."""
    table: Path | None = None
    gpkg: Path | None = None
    synthetic: bool = False

    def count(self, kind: str) -> int:
        return int((self.problems["kind"] == kind).sum())


def check_projects(parcels, counties=None) -> CheckResult:
    """Run every check on a GeoDataFrame of projects (registry columns, EPSG:4490)."""
    import geopandas as gpd

    from gis.quality import find_area_mismatches, find_overlaps, find_slivers, find_straddles

    if counties is None:
        from layers import load_role

        counties = load_role("counties")
    cat = parcels["category"].astype(str) if "category" in parcels else pd.Series("", index=parcels.index)
    rows, layers = [], {}
    ov = find_overlaps(parcels)
    for kind, part in (("overlap_same", ov[ov["same_category"]]), ("overlap_cross", ov[~ov["same_category"]])):
        for r in part.itertuples():
            rows.append({"kind": kind, "code_a": r.code_a, "code_b": r.code_b, "category_a": r.category_a,
                         "category_b": r.category_b, "value_mu": r.overlap_mu,
                         "detail": f"{r.overlap_mu:.2f} 亩 = {r.share_a * 100:.1f} % of {r.code_a}, "
                                   f"{r.share_b * 100:.1f} % of {r.code_b}",
                         "geometry": r.geometry})
        layers[kind] = part
    am = find_area_mismatches(parcels)
    for idx, r in am.iterrows():
        rows.append({"kind": "area_mismatch", "code_a": r["project_code"], "category_a": cat.loc[idx],
                     "value_mu": r["area_mu"],
                     "detail": f"declared {r['declared_area_mu']:.2f} 亩, computed {r['area_mu']:.2f} 亩 "
                               f"({r['difference_pct']:+.1f} %)", "geometry": r["geometry"]})
    layers["area_mismatch"] = am
    sl = find_slivers(parcels)
    for idx, r in sl.iterrows():
        rows.append({"kind": "sliver", "code_a": r["project_code"], "category_a": cat.loc[idx],
                     "value_mu": r["area_mu"], "detail": f"{r['area_mu']:.3f} 亩 < 1 亩", "geometry": r["geometry"]})
    layers["sliver"] = sl
    st = find_straddles(parcels, counties)
    for idx, r in st.iterrows():
        rows.append({"kind": "straddle", "code_a": r["project_code"], "category_a": cat.loc[idx],
                     "value_mu": None,
                     "detail": f"{r['share'] * 100:.1f} % in {r['county_code']}, {r['n_zones']} counties, "
                               f"{r['outside_share'] * 100:.1f} % outside Baicheng", "geometry": r["geometry"]})
    layers["straddle"] = st
    cols = ["kind", "code_a", "code_b", "category_a", "category_b", "value_mu", "detail", "geometry"]
    problems = pd.DataFrame(rows, columns=cols)
    layers = {k: gpd.GeoDataFrame(pd.DataFrame(v).reset_index(drop=True), geometry="geometry", crs="EPSG:4490")
              for k, v in layers.items() if len(v)}
    return CheckResult(problems=problems, layers=layers, synthetic=bool(parcels.attrs.get("synthetic", False)))


def registry_edits(registry=None, lang: str = "zh") -> pd.DataFrame:
    """Hand edits of the registry (:meth:`layers.registry.Registry.verify`) as check problems."""
    v = open_registry(registry).verify(lang)
    detail = [f"{d} [fid {'-' if f is None or f != f else int(f)}, {label('registry.batch', lang)} {b}]"
              for d, f, b in zip(v["detail"], v["fid"], v["batch_id"], strict=True)]
    return pd.DataFrame({"kind": "registry_edit", "code_a": v["project_code"], "detail": detail},
                        columns=["kind", "code_a", "code_b", "category_a", "category_b", "value_mu", "detail",
                                 "geometry"])


def run_check(registry=None, output=".", *, fmt: str = "xlsx", lang: str = "zh", counties=None) -> CheckResult:
    """Check the registry's current projects; write ``check.<fmt>`` and ``check.gpkg`` into ``output``."""
    parcels = registry_parcels(registry)
    res = check_projects(parcels, counties)
    edits = registry_edits(registry, lang)
    if len(edits):
        res.problems = pd.concat([res.problems.astype(object), edits.astype(object)], ignore_index=True)
    out = Path(output)
    table = res.problems.drop(columns="geometry").copy()
    table["kind"] = table["kind"].map(lambda k: label(f"check.{k}", lang))
    heads = {"kind": label("check.kind", lang), "code_a": label("check.code_a", lang),
             "code_b": label("check.code_b", lang), "category_a": label("column.category", lang) + " A",
             "category_b": label("column.category", lang) + " B", "value_mu": label("check.value_mu", lang),
             "detail": label("check.detail", lang)}
    table = table.rename(columns=heads)
    if res.synthetic:
        table.attrs["note"] = label("synthetic.notice", lang)
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
    return res


@click.command("check")
@registry_option
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for check.xlsx/csv and check.gpkg.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True)
@lang_option
def check_command(registry, output, fmt, lang):
    """Find overlaps, area mismatches, slivers and county straddles (数据质量检查)."""
    res = run_check(registry, output, fmt=fmt, lang=lang)
    click.echo(label("check.summary", lang) + (f" ({label('synthetic.notice', lang)})" if res.synthetic else ""))
    if res.problems.empty:
        click.echo("  " + label("check.none", lang))
    for kind in KINDS:
        n = res.count(kind)
        if n:
            click.echo(f"  {label(f'check.{kind}', lang)}: {n}")
    click.echo(f"  → {res.table}")
    if res.layers:
        click.echo(f"  → {res.gpkg}")
