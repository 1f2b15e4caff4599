"""``agrigis verify``: does the imagery show what the registry claims, parcel by parcel?

Recipe: load the parcels whose category has an evidence rule (registry or a
GeoDataFrame; paddy and farmland parcels of ``--year``, remediation parcels of that year
or before), open the index stack that ``agrigis imagery stack --index NDVI,LSWI,EVI``
wrote, apply the rules table (``workflows/evidence_rules.yml`` or ``--rules``) with
:func:`gis.evidence.verify` — one zonal pass with one set of coverage weights — and write,
through :func:`gis.outputs.staged_outputs` (all files or none):

- ``evidence.csv`` and ``evidence.xlsx`` — one row per parcel, headers and verdicts in
  the chosen language; the XLSX adds the per-category summary (area claimed complete,
  supported, not supported, unobserved) and an "about" sheet with the rules' sources;
- ``evidence.gpkg`` (layer ``evidence``) — English codes, geometry (EPSG:4490) and
  ``series_json``: the parcel's NDVI curve with the window, for a map popup.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from gis.errors import InputError
from gis.evidence import EvidenceRules, load_rules, support_summary, verify
from gis.labels import headers, label, message
from workflows.options import lang_option, registry_option

log = logging.getLogger(__name__)

RULES_FILE = Path(__file__).with_name("evidence_rules.yml")
"""The default rules table (thresholds, windows, sources)."""
PARCEL_COLUMNS = ["project_code", "project_name", "category", "county_code", "year", "status", "area_mu"]
EVIDENCE_COLUMNS = ["rule", "verdict", "support", "n_obs", "observed_share", "flooded_share", "flooded_area_mu",
                    "first_flood", "peak_ndvi", "peak_date", "greenup", "change", "slope_per_year", "p_value",
                    "flood_rule"]
NAMES = {"csv": "evidence.csv", "xlsx": "evidence.xlsx", "gpkg": "evidence.gpkg"}


@dataclass
class VerifyResult:
    """What :func:`run_verify` returns."""

    table: pd.DataFrame  # one row per parcel, English codes
    parcels: Any  # GeoDataFrame: the table with geometry and series_json
    summary: pd.DataFrame  # per category: claimed complete / supported / not supported / unobserved (亩)
    year: int
    paths: dict[str, Path] = field(default_factory=dict)
    synthetic: bool = False


# ------------------------------------------------------------------------------ inputs


def open_evidence_stack(path: str | os.PathLike) -> tuple[dict, bool]:
    """The index variables of a NetCDF or Zarr stack (lazy, :func:`gis.stackfile.open_stack_dataset`),
    by index id (``ndvi``, ``lswi``, ``evi`` …), and whether it is synthetic."""
    from gis.stackfile import index_variables, open_stack_dataset

    ds = open_stack_dataset(path)
    stack = {name.lower(): da for name, da in index_variables(ds).items() if "time" in da.dims}
    return stack, str(ds.attrs.get("synthetic", "")).lower() == "true"


def _year(stack: dict, year: int | None, where: str) -> int:
    """``year``, checked against the stack's dates (default: its latest year)."""
    from gis.evidence import _need

    years = sorted(set(pd.DatetimeIndex(_need(stack, "ndvi").time.values).year))
    if year is None and years:
        return int(years[-1])
    if year not in years:
        raise InputError.of("error.evidence_year", path=where, year=year, have=", ".join(map(str, years)) or "-")
    return int(year)


def select_parcels(parcels, year: int, rules: EvidenceRules):
    """The parcels a rule applies to: paddy and farmland of ``year``, remediation of
    ``year`` or before (a trend needs the years after the works)."""
    from workflows.remediation import load_parcels

    cats = rules.paddy.categories + rules.cultivation.categories + rules.remediation.categories
    sel = load_parcels(parcels, None, cats)
    py = pd.to_numeric(sel["year"], errors="coerce")
    rem = sel["category"].isin(rules.remediation.categories)
    keep = (rem & (py <= year)) | (~rem & (py == year))
    if not keep.any():
        raise InputError.of("error.evidence_no_year_parcels", year=year, categories=", ".join(cats))
    out = sel.loc[keep].copy()
    out.attrs["synthetic"] = sel.attrs.get("synthetic", False)
    return out


# ------------------------------------------------------------------------------ the job


def run_verify(out_dir: str | os.PathLike | None = None, *, stack: str | os.PathLike, parcels=None, registry=None,
               year: int | None = None, rules: str | os.PathLike | EvidenceRules | None = None, lang: str = "zh",
               progress=None) -> VerifyResult:
    """Verify the parcels against the stack; write the outputs to ``out_dir`` if given.

    ``parcels`` is a GeoDataFrame with ``project_code, category, year`` (default: the
    registry's projects); ``rules`` a rules file or :class:`gis.evidence.EvidenceRules`
    (default: :data:`RULES_FILE`); ``year`` defaults to the stack's latest year.
    """
    rules_obj = rules if isinstance(rules, EvidenceRules) else _rules(rules)
    data, synthetic = open_evidence_stack(stack)
    year = _year(data, year, str(stack))
    if parcels is None:
        from workflows.options import registry_parcels

        parcels = registry_parcels(registry)
    sel = select_parcels(parcels, year, rules_obj)
    synthetic = synthetic or bool(sel.attrs.get("synthetic", False))
    ev = verify(sel, data, year, rules_obj, progress=progress)
    table = _table(sel, ev)
    gdf = _layer(sel, table, ev.attrs["ndvi"], year, rules_obj, synthetic)
    summary = support_summary(table) if {"status", "area_mu"} <= set(table.columns) else pd.DataFrame()
    res = VerifyResult(table=table, parcels=gdf, summary=summary, year=year, synthetic=synthetic)
    if out_dir is not None:
        src = rules if rules is not None and not isinstance(rules, EvidenceRules) else RULES_FILE
        res.paths = _write(Path(out_dir), res, rules_obj, str(stack), str(src), lang)
    return res


def _table(sel, ev: pd.DataFrame) -> pd.DataFrame:
    """Parcel columns + evidence columns, one row per parcel, English codes."""
    base = pd.DataFrame({c: sel[c] for c in PARCEL_COLUMNS if c in sel.columns})
    if "area_mu" not in base.columns:
        from gis.area import area_mu

        base["area_mu"] = area_mu(sel.geometry)
    ev = ev.copy()
    ev["flooded_area_mu"] = ev["flooded_share"] * base["area_mu"].astype("float64")
    return pd.concat([base, ev[EVIDENCE_COLUMNS]], axis=1).reset_index(drop=True)


def _rules(path: str | os.PathLike | None) -> EvidenceRules:
    """The rules table of ``--rules`` (default :data:`RULES_FILE`)."""
    return load_rules(RULES_FILE if path is None else path)


def _layer(sel, table: pd.DataFrame, ndvi: pd.DataFrame, year: int, rules: EvidenceRules, synthetic: bool):
    """The GeoPackage layer: the table, geometry in EPSG:4490 and each parcel's curve."""
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(table.copy(), geometry=sel.geometry.to_numpy(), crs=sel.crs).to_crs("EPSG:4490")
    for c in ("first_flood", "peak_date"):
        gdf[c] = pd.to_datetime(gdf[c]).dt.strftime("%Y-%m-%d").where(gdf[c].notna(), None)
    dates = [pd.Timestamp(t).strftime("%Y-%m-%d") for t in ndvi.columns]
    windows = {"paddy": rules.paddy.window, "cultivation": rules.cultivation.season}
    gdf["series_json"] = [
        json.dumps({"index": "ndvi", "dates": dates,
                    "values": [None if not np.isfinite(v) else round(float(v), 4) for v in ndvi.iloc[i].to_numpy()],
                    "window": [f"{year}-{d}" for d in windows[rule]] if rule in windows else None,
                    "first_flood": gdf["first_flood"].iloc[i], "peak_date": gdf["peak_date"].iloc[i]},
                   ensure_ascii=False)
        for i, rule in enumerate(table["rule"])]
    gdf["synthetic"] = synthetic
    return gdf


# ------------------------------------------------------------------------------ outputs


def _headers(columns, lang: str) -> dict[str, str]:
    return headers(columns, lang, ("column", "evidence.col"))


def _verdict(rule: str, verdict: str, lang: str) -> str:
    key = f"verdict.{verdict}" if rule == "remediation" else f"evidence.verdict.{rule}.{verdict}"
    return label(key, lang)


def display_table(table: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The table for people: codes as labels in ``lang``, dates as ``YYYY-MM-DD``."""
    from gis.labels import CATEGORIES, STATUSES

    t = table.copy()
    i = 0 if lang == "zh" else 1
    t["verdict"] = [_verdict(r, v, lang) for r, v in zip(t["rule"], t["verdict"], strict=True)]
    t["rule"] = [label(f"evidence.rule.{r}", lang) for r in t["rule"]]
    t["support"] = [label(f"evidence.support.{s}", lang) for s in t["support"]]
    t["category"] = [CATEGORIES.get(c, (c, c))[i] for c in t["category"]]
    if "status" in t.columns:
        t["status"] = [STATUSES.get(s, (s, s))[i] for s in t["status"]]
    for c in ("first_flood", "peak_date"):
        t[c] = pd.to_datetime(t[c]).dt.strftime("%Y-%m-%d").where(t[c].notna(), "")
    return t.rename(columns=_headers(t.columns, lang))


def _about(rules: EvidenceRules, stack: str, rules_src: str, year: int, notice: str, lang: str) -> pd.DataFrame:
    items = [(label("evidence.about.stack", lang), stack), (label("evidence.about.year", lang), str(year)),
             (label("evidence.about.rules", lang), rules_src)]
    items += [(message("evidence.about.source", lang, rule=label(f"evidence.rule.{k}", lang)), v)
              for k, v in rules.sources.items()]
    if notice:
        items.append((label("synthetic.label", lang), notice))
    return pd.DataFrame(items, columns=[label("evidence.item", lang), label("evidence.value", lang)])


def _write(out: Path, res: VerifyResult, rules: EvidenceRules, stack: str, rules_src: str, lang: str) -> dict[str, Path]:
    from gis.labels import CATEGORIES
    from gis.outputs import Sheet, staged_outputs, write_csv, write_excel

    notice = label("synthetic.notice", lang) if res.synthetic else ""
    disp = display_table(res.table, lang)
    summ = res.summary.copy()
    summ.index = [CATEGORIES.get(c, (c, c))[0 if lang == "zh" else 1] for c in summ.index]
    summ = summ.rename_axis(label("column.category", lang)).reset_index().rename(columns=_headers(summ.columns, lang))
    with staged_outputs(out, NAMES.values()) as tmp:
        write_csv(tmp / NAMES["csv"], disp, note=notice)
        notes = [notice] if notice else []
        write_excel(tmp / NAMES["xlsx"], [Sheet(label("evidence.sheet", lang), disp, notes=notes),
                                          Sheet(label("evidence.sheet_summary", lang), summ, notes=notes),
                                          Sheet(label("evidence.sheet_about", lang),
                                                _about(rules, stack, rules_src, res.year, notice, lang))],
                    footer=notice)
        res.parcels.to_file(tmp / NAMES["gpkg"], layer="evidence", driver="GPKG")
    return {k: out / n for k, n in NAMES.items()}


# ------------------------------------------------------------------------------ CLI


@click.command("verify")
@click.option("--stack", required=True, type=click.Path(path_type=Path),
              help="NetCDF stack from 'agrigis imagery stack --index NDVI,LSWI,EVI' (EVI optional: NDVI is used).")
@registry_option
@click.option("--year", type=int, default=None, help="Year verified (default: the stack's latest year).")
@click.option("--rules", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Rules table (thresholds, windows, sources); default: workflows/evidence_rules.yml.")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("evidence"),
              show_default=True, help="Output folder.")
@lang_option
def verify_command(stack: Path, registry, year: int | None, rules: Path | None, out_dir: Path, lang: str) -> None:
    """影像核验 / Per-parcel evidence from imagery for what the registry claims.

    New and improved paddy: the flooding signal in the transplanting window, then a summer
    NDVI peak; new cultivated land and high-standard farmland: a crop season; saline land:
    the remediation trend. Writes evidence.csv, evidence.xlsx and evidence.gpkg.
    """
    from rich.console import Console
    from rich.progress import Progress

    con = Console(stderr=True)
    with Progress(console=con, disable=not con.is_terminal, transient=True) as bar:
        task = bar.add_task(label("evidence.progress", lang), total=None)
        res = run_verify(out_dir, stack=stack, registry=registry, year=year, rules=rules, lang=lang,
                         progress=lambda done, total: bar.update(task, completed=done, total=total))
    if res.synthetic:
        click.echo(label("synthetic.notice", lang))
    for rule, part in res.table.groupby("rule", sort=False):
        counts = part["verdict"].value_counts()
        click.echo(message("evidence.counts", lang, rule=label(f"evidence.rule.{rule}", lang),
                           counts=", ".join(f"{_verdict(rule, v, lang)} {n}" for v, n in counts.items())))
    for p in res.paths.values():
        click.echo(message("evidence.written", lang, path=p))
