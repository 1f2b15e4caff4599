"""The progress map: parcels by category and status over a county choropleth of completion.

Layers, bottom to top: county choropleth of completion % (one switchable layer per
target, the first shown), nature reserves, canals, project parcels, county boundaries
with names (always on, not in the switcher, not clickable).
"""

from __future__ import annotations

import logging

import pandas as pd

from gis.errors import InputError
from gis.labels import CATEGORIES, label

from . import style as S
from .base import FieldMap

log = logging.getLogger(__name__)


def _completion_legend(fm: FieldMap, title: str) -> None:
    edges = S.COMPLETION_EDGES
    names = [f"< {edges[0]} %"] + [f"{a}–{b} %" for a, b in zip(edges[:-1], edges[1:])] + [f"≥ {edges[-1]} %"]
    items = [(n, {"color": "#555555", "weight": 0.5, "fillColor": c, "fillOpacity": 0.6})
             for n, c in zip(names, S.COMPLETION_COLORS)]
    items.append((fm.L("maps.no_data"), {"color": "#555555", "weight": 0.5, "fillColor": S.NODATA_COLOR, "fillOpacity": 0.6}))
    fm.add_legend(title, items)


def progress_map(parcels, counties, county_progress: pd.DataFrame | None = None, *, reserves=None, canals=None,
                 title: str | None = None, lang: str = "zh", basemap: str = "osm", tianditu_key: str | None = None,
                 online: bool = False, attribution: str | None = None, synthetic: bool = False,
                 series: dict | None = None, series_label: str | None = None, simplify_m: float | None = None,
                 max_targets: int | None = None, value_label: str | None = None) -> FieldMap:
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
        name), ``completion_pct``; optional ``done_wan_mu``, ``target_wan_mu``
        (:meth:`gis.tracking.Progress.county_shares` gives exactly this). One switchable
        choropleth per target; ``max_targets`` limits them (with a warning).
    reserves, canals : GeoDataFrame, optional
        Nature reserves (polygons) and canals (lines), with an optional ``name`` column.
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
        for i, t in enumerate(targets):
            sub = cp[cp["target"] == t].drop(columns="target")
            g = cty[["county_code", name_col, cty.geometry.name]].merge(sub, on="county_code", how="left")
            tname = label(f"category.{t}", lang) if t in CATEGORIES else str(t)
            if "target_name" in sub.columns:
                tname = str(sub["target_name"].iloc[0])
                g = g.drop(columns="target_name")
            g["target_name"] = tname
            rows = [(fm.L("maps.target"), "target_name", "text"), (vlabel, "completion_pct", "pct")]
            if "done_wan_mu" in g.columns:
                rows.append((fm.L("maps.done_wan_mu"), "done_wan_mu", "num"))
            if "target_wan_mu" in g.columns:
                rows.append((fm.L("maps.target_wan_mu"), "target_wan_mu", "num"))
            fm.add_polygons(
                g, f"{fm.L('maps.choropleth')}: {tname}",
                {"color": "#555555", "weight": 0.5, "fillOpacity": 0.55},
                popup=rows, title_col=name_col, tooltip_col=name_col, show=(i == 0), layer_id=f"choropleth{i}",
                breaks={"field": "completion_pct", "edges": S.COMPLETION_EDGES, "colors": S.COMPLETION_COLORS,
                        "nodata": S.NODATA_COLOR},
            )
        _completion_legend(fm, vlabel)
    if reserves is not None and len(reserves):
        col = "name" if "name" in reserves.columns else None
        fm.add_polygons(reserves, fm.L("maps.reserves"), S.RESERVE, title_col=col, tooltip_col=col,
                        popup=[] if col else None, layer_id="reserves", legend=fm.L("maps.reserves"))
    if canals is not None and len(canals):
        col = "name" if "name" in canals.columns else None
        fm.add_polygons(canals, fm.L("maps.canals"), S.CANAL, tooltip_col=col, layer_id="canals",
                        legend=fm.L("maps.canals"), geom_type="line")
    fm.add_parcels(parcels, series=series, series_label=series_label, simplify_m=simplify_m)
    fm.add_polygons(cty, fm.L("maps.counties"), S.COUNTY_BOUNDARY, label_col=name_col, control=False,
                    interactive=False, layer_id="counties", legend=fm.L("maps.counties"), geom_type="line")
    return fm
