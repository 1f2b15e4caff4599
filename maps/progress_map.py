"""The progress map: parcels by category and status over a county choropleth of completion.

Layers, bottom to top: county choropleth of completion % (one switchable layer per
target, the first shown), nature reserves, canals, project parcels, county boundaries
with names (always on, not in the switcher, not clickable). With an evidence table of
``agrigis verify``, the parcels the imagery checked are drawn on top, green where it
supports the claim, red where it does not, grey where it saw nothing.

Every figure of a county popup names its scope: the target is the city's (全市目标),
the area done is the county's (本县完成), the percentage is of the city target (占全市目标);
a county outside a target's pilot area shows 不在试点范围 and no figure.
"""

from __future__ import annotations

import logging
from itertools import pairwise

import pandas as pd

from gis.errors import InputError
from gis.labels import CATEGORIES, label

from . import style as S
from .base import FieldMap

log = logging.getLogger(__name__)


def _completion_legend(fm: FieldMap, title: str, out_of_scope: bool = False) -> None:
    edges = S.COMPLETION_EDGES
    names = [f"< {edges[0]} %"] + [f"{a}–{b} %" for a, b in pairwise(edges)] + [f"≥ {edges[-1]} %"]
    items = [(n, {"color": "#555555", "weight": 0.5, "fillColor": c, "fillOpacity": 0.6})
             for n, c in zip(names, S.COMPLETION_COLORS, strict=True)]
    items.append((fm.L("maps.no_data"), {"color": "#555555", "weight": 0.5, "fillColor": S.NODATA_COLOR, "fillOpacity": 0.6}))
    if out_of_scope:
        items.append((fm.L("maps.not_in_scope"), dict(S.OUT_OF_SCOPE, color="#555555", weight=0.8)))
    fm.add_legend(title, items)


def _choropleths(fm: FieldMap, cty, name_col: str, county_progress: pd.DataFrame, max_targets: int | None,
                 value_label: str | None) -> None:
    """One switchable county layer per target; every figure says whose it is (全市目标 /
    本县完成 / 占全市目标 %), and a county outside a target's pilot area says so instead."""
    need = {"county_code", "target", "completion_pct"} - set(county_progress.columns)
    if need:
        raise InputError(f"county progress table lacks column(s): {', '.join(sorted(need))}")
    cp = county_progress.copy()
    cp["county_code"] = cp["county_code"].astype(str)
    targets = list(dict.fromkeys(cp["target"]))
    if max_targets is not None and len(targets) > max_targets:
        log.warning("progress map: showing %d of %d targets (max_targets); left out: %s",
                    max_targets, len(targets), ", ".join(map(str, targets[max_targets:])))
        targets = targets[:max_targets]
    vlabel = value_label or fm.L("maps.completion_pct")
    any_out = False
    for i, t in enumerate(targets):
        g = _county_table(fm, cty, name_col, cp[cp["target"] == t].drop(columns="target"), t)
        any_out |= bool((g["scope"] == "out").any())
        rows = [(fm.L("maps.target"), "target_name", "text"), (fm.L("maps.scope"), "scope_text", "text")]
        if "target_wan_mu" in g.columns:
            rows.append((fm.L("maps.target_wan_mu"), "target_wan_mu", "num"))
        if "done_wan_mu" in g.columns:
            rows.append((fm.L("maps.done_wan_mu"), "done_wan_mu", "num"))
        rows.append((vlabel, "completion_pct", "pct"))
        fm.add_polygons(
            g, f"{fm.L('maps.choropleth')}: {g['target_name'].iloc[0]}",
            {"color": "#555555", "weight": 0.5, "fillOpacity": 0.55},
            popup=rows, title_col=name_col, tooltip_col=name_col, show=(i == 0), layer_id=f"choropleth{i}",
            breaks={"field": "completion_pct", "edges": S.COMPLETION_EDGES, "colors": S.COMPLETION_COLORS,
                    "nodata": S.NODATA_COLOR},
            classes={"field": "scope", "values": {"out": S.OUT_OF_SCOPE}},
        )
    _completion_legend(fm, vlabel, any_out)


def _county_table(fm: FieldMap, cty, name_col: str, sub: pd.DataFrame, target) -> pd.DataFrame:
    """The counties with one target's figures; outside its pilot area (``in_scope`` false)
    no county figure is shown, only 不在试点范围."""
    g = cty[["county_code", name_col, cty.geometry.name]].merge(sub, on="county_code", how="left")
    tname = label(f"category.{target}", fm.lang) if target in CATEGORIES else str(target)
    if "target_name" in sub.columns and len(sub):
        tname = str(sub["target_name"].iloc[0])
        g = g.drop(columns="target_name")
    g["target_name"] = tname
    out = ~g["in_scope"].fillna(True).astype(bool) if "in_scope" in g.columns else pd.Series(False, index=g.index)
    g["scope"] = out.map({True: "out", False: "in"})
    g["scope_text"] = out.map({True: fm.L("maps.not_in_scope"), False: None})
    for c in ("done_wan_mu", "completion_pct"):
        if c in g.columns:
            g[c] = g[c].astype(object).where(~out, None)
    return g


def _evidence_layer(fm: FieldMap, evidence) -> None:
    """Parcels the imagery checked, coloured by support (green / red / grey), each popup
    with the parcel's index curve, the window shaded and first flood / peak marked."""
    import json

    g = evidence.copy()
    g["support_text"] = [label(f"evidence.support.{v}", fm.lang) if v in S.SUPPORT_COLORS else v
                         for v in g["support"].astype(str)]
    series, marks = {}, {}
    for code, text in zip(g["project_code"].astype(str), g.get("series_json", pd.Series(None, index=g.index)),
                          strict=True):
        d = _series_doc(text)
        if d is None:
            continue
        series[code] = (d["dates"], d["values"])
        pts = [[d.get("first_flood"), label("evidence.col.first_flood", fm.lang)],
               [d.get("peak_date"), label("evidence.col.peak_date", fm.lang)]]
        marks[code] = {"window": d.get("window"), "points": pts}
    rows = [(fm.L("column.project_code"), "project_code", "text"), (fm.L("column.category"), "category", "lookup:category"),
            (fm.L("column.status"), "status", "lookup:status"),
            (label("evidence.col.support", fm.lang), "support_text", "text")]
    rows += [(label(f"evidence.col.{c}", fm.lang), c, kind) for c, kind in
             (("n_obs", "int"), ("first_flood", "text"), ("peak_ndvi", "num"), ("peak_date", "text")) if c in g.columns]
    colours = {k: {"color": v, "fillColor": v, "fillOpacity": 0.6, "weight": 2} for k, v in S.SUPPORT_COLORS.items()}
    name = fm.L("maps.evidence")
    fm.add_polygons(g, name, {"color": "#555555", "weight": 1.5, "fillOpacity": 0.6}, popup=rows,
                    title_col="project_code", tooltip_col="support_text", layer_id="evidence",
                    classes={"field": "support", "values": colours}, series=series or None,
                    series_label=json.loads(g["series_json"].dropna().iloc[0]).get("index", "ndvi").upper()
                    if series else None, series_marks=marks or None)
    fm.add_legend(name, [(label(f"evidence.support.{k}", fm.lang), dict(v, weight=1)) for k, v in colours.items()])


def _series_doc(text) -> dict | None:
    """``series_json`` of ``agrigis verify`` → dict, or None when absent or malformed."""
    import json

    if not isinstance(text, str) or not text:
        return None
    try:
        d = json.loads(text)
    except ValueError:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("dates"), list) or not isinstance(d.get("values"), list):
        return None
    return d


def progress_map(parcels, counties, county_progress: pd.DataFrame | None = None, *, reserves=None, canals=None,
                 title: str | None = None, lang: str = "zh", basemap: str = "osm", tianditu_key: str | None = None,
                 online: bool = False, attribution: str | None = None, synthetic: bool = False,
                 series: dict | None = None, series_label: str | None = None, simplify_m: float | None = None,
                 max_targets: int | None = None, value_label: str | None = None, evidence=None) -> FieldMap:
    """Build the progress map.

    Parameters
    ----------
    parcels : GeoDataFrame
        Registry projects (``project_code``, ``category``, ``status``; optional
        ``project_name``, ``county_code``, ``year``, ``area_mu``, ``declared_area_mu``).
    counties : GeoDataFrame
        ``county_code``, ``name_zh`` (and ``name_pinyin`` for English labels).
    county_progress : DataFrame, optional
        One row per (county, target): ``county_code``, ``target`` (a category code or a
        name), ``completion_pct``; optional ``done_wan_mu`` (the county's own),
        ``target_wan_mu`` (the city's), ``target_name`` and ``in_scope`` (false: the county
        is outside the target's pilot area and shows 不在试点范围, no figure).
        :meth:`gis.tracking.Progress.county_shares` gives all but ``in_scope``. One
        switchable choropleth per target; ``max_targets`` limits them (with a warning).
    reserves, canals : GeoDataFrame, optional
        Nature reserves (polygons) and canals (lines), with an optional ``name`` column.
    evidence : GeoDataFrame, optional
        Layer ``evidence`` of ``agrigis verify`` (``project_code``, ``category``,
        ``status``, ``support``, ``series_json`` …): parcels coloured by whether the
        imagery supports the claim, popups with the index curve.
    """
    fm = FieldMap(title=title or label("maps.progress_title", lang), lang=lang, basemap=basemap,
                  tianditu_key=tianditu_key, online=online, attribution=attribution, synthetic=synthetic)
    if "county_code" not in counties.columns:
        raise InputError.of("error.map_counties_code")
    cty = counties.copy()
    cty["county_code"] = cty["county_code"].astype(str)
    name_col = "name_zh" if lang == "zh" else next((c for c in ("name_en", "name_pinyin") if c in cty.columns), "name_zh")
    if name_col not in cty.columns:
        cty[name_col] = cty["county_code"].map(lambda c: label(f"county.{c}", lang) if c else c)
    if county_progress is not None and len(county_progress):
        _choropleths(fm, cty, name_col, county_progress, max_targets, value_label)
    if reserves is not None and len(reserves):
        col = "name" if "name" in reserves.columns else None
        fm.add_polygons(reserves, fm.L("maps.reserves"), S.RESERVE, title_col=col, tooltip_col=col,
                        popup=[] if col else None, layer_id="reserves", legend=fm.L("maps.reserves"))
    if canals is not None and len(canals):
        col = "name" if "name" in canals.columns else None
        fm.add_polygons(canals, fm.L("maps.canals"), S.CANAL, tooltip_col=col, layer_id="canals",
                        legend=fm.L("maps.canals"), geom_type="line")
    fm.add_parcels(parcels, series=series, series_label=series_label, simplify_m=simplify_m)
    if evidence is not None and len(evidence):
        _evidence_layer(fm, evidence)
    fm.add_polygons(cty, fm.L("maps.counties"), S.COUNTY_BOUNDARY, label_col=name_col, control=False,
                    interactive=False, layer_id="counties", legend=fm.L("maps.counties"), geom_type="line")
    return fm
