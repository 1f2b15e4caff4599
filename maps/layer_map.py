"""Maps of one layer: any vector layer, a class map (suitability, remediation) or a raster."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd

from gis.errors import InputError
from gis.labels import label, message

from . import style as S
from .base import FieldMap
from .raster_overlay import RasterClass, add_raster, classes_from_bins, classes_from_scheme

MAX_POPUP_FIELDS = 8


def _new(title, lang, *, basemap, tianditu_key, online, attribution, synthetic) -> FieldMap:
    return FieldMap(title=title, lang=lang, basemap=basemap, tianditu_key=tianditu_key, online=online,
                    attribution=attribution, synthetic=synthetic)


def vector_map(gdf, *, name: str = "", fields: list[str] | None = None, title: str | None = None, lang: str = "zh",
               basemap: str = "osm", tianditu_key: str | None = None, online: bool = False,
               attribution: str | None = None, synthetic: bool = False, counties=None) -> FieldMap:
    """A map of any vector layer; the popup shows ``fields`` (default: the first 8 columns)."""
    fm = _new(title or name or label("maps.layer_title", lang), lang, basemap=basemap, tianditu_key=tianditu_key, online=online,
              attribution=attribution, synthetic=synthetic)
    if {"project_code", "category", "status"} <= set(gdf.columns):
        fm.add_parcels(gdf, name=name or None)
    else:
        cols = [c for c in gdf.columns if c != gdf.geometry.name]
        fields = fields or cols[:MAX_POPUP_FIELDS]
        bad = [f for f in fields if f not in gdf.columns]
        if bad:
            raise InputError.of("error.map_layer_columns", name=name, missing=", ".join(bad), columns=", ".join(cols))
        g = gdf[fields + [gdf.geometry.name]].copy()
        for f in fields:  # show everything as text (dates, mixed types)
            if not pd.api.types.is_numeric_dtype(g[f]):
                g[f] = g[f].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        lines = set(g.geom_type.dropna()) <= {"LineString", "MultiLineString"}
        style = S.CANAL if lines else {"color": "#d95f02", "weight": 1.5, "fillColor": "#fdae61", "fillOpacity": 0.4}
        fm.add_polygons(g, name or fm.L("maps.layer_title"), style, popup=[(f, f, "text") for f in fields],
                        title_col=fields[0] if fields else None, tooltip_col=fields[0] if fields else None,
                        layer_id="layer", legend=name or fm.L("maps.layer_title"), geom_type="line" if lines else "fill")
    _add_counties(fm, counties)
    return fm


def class_map(gdf, column: str, *, classes: dict[str, str] | None = None, colors: dict[str, str] | None = None,
              name: str = "", fields: list | None = None, title: str | None = None, lang: str = "zh",
              basemap: str = "osm", tianditu_key: str | None = None, online: bool = False,
              attribution: str | None = None, synthetic: bool = False, counties=None,
              class_label: str | None = None, series: dict | None = None,
              series_label: str | None = None) -> FieldMap:
    """Polygons coloured by a class column (suitability, remediation measures).

    ``classes`` maps class value → label shown (default: the values themselves, in order of
    appearance); ``colors`` maps class value → colour (default: the class palette).
    ``fields`` are extra popup rows: column names or (label, column, kind) tuples.
    ``series`` maps project_code → (dates, values): a trend chart in each popup.
    """
    if column not in gdf.columns:
        raise InputError.of("error.map_layer_column", name=name, column=column,
                            columns=", ".join(map(str, gdf.columns)))
    fm = _new(title or name, lang, basemap=basemap, tianditu_key=tianditu_key, online=online,
              attribution=attribution, synthetic=synthetic)
    values = [v for v in dict.fromkeys(gdf[column].astype(str)) if v not in ("None", "nan")]
    classes = classes or {v: v for v in values}
    colors = colors or {v: S.CLASS_PALETTE[i % len(S.CLASS_PALETTE)] for i, v in enumerate(classes)}
    g = gdf.copy()
    g["_class"] = g[column].astype(str).map(lambda v: classes.get(v, v))
    rows_in = [f if isinstance(f, tuple) else (f, f, "text") for f in (fields or [])]
    rows_in = [r for r in rows_in if r[1] in g.columns and r[1] != column]
    fields = [r[1] for r in rows_in]
    spec_style = {"color": "#444444", "weight": 1, "fillOpacity": 0.6, "fillColor": S.OTHER_COLOR}
    rows = [(class_label or fm.L("maps.class"), "_class", "text")] + rows_in
    title_col = "project_name" if "project_name" in g.columns else ("project_code" if "project_code" in g.columns else None)
    if title_col and title_col not in fields:
        rows.insert(0, (label(f"column.{title_col}", lang), title_col, "text"))
    for _, f, kind in rows_in:
        if kind == "text" and not pd.api.types.is_numeric_dtype(g[f]):
            g[f] = g[f].astype(str)
    fm.add_polygons(g, name or fm.L("maps.class"), spec_style, popup=rows, title_col=title_col,
                    tooltip_col="_class", layer_id="classes", series=series, series_label=series_label)
    # colour by class: a "by" style on the class label
    fm.layers[-1]["style"]["by"] = [{"field": "_class", "values": {classes[v]: {"fillColor": colors[v], "color": colors[v]}
                                                                   for v in classes}}]
    fm.add_legend(name or fm.L("maps.class"), [(classes[v], {"color": colors[v], "fillColor": colors[v], "fillOpacity": 0.6})
                                               for v in classes])
    _add_counties(fm, counties)
    return fm


def score_map(gdf, column: str = "score", *, edges=S.SCORE_EDGES, colors=S.SCORE_COLORS, name: str = "",
              fields: list | None = None, title: str | None = None, lang: str = "zh", basemap: str = "osm",
              tianditu_key: str | None = None, online: bool = False, attribution: str | None = None,
              synthetic: bool = False, counties=None, score_label: str | None = None) -> FieldMap:
    """Polygons coloured by a 0–1 score in classes (``edges``: upper bounds, one colour more
    than edges), e.g. paddy suitability candidates. ``fields``: popup rows (label, column,
    kind); the first text column is the popup title."""
    if column not in gdf.columns:
        raise InputError.of("error.map_layer_column", name=name, column=column,
                            columns=", ".join(map(str, gdf.columns)))
    fm = _new(title or name, lang, basemap=basemap, tianditu_key=tianditu_key, online=online,
              attribution=attribution, synthetic=synthetic)
    rows = [r for r in (fields or []) if r[1] in gdf.columns]
    title_col = rows[0][1] if rows and rows[0][2] == "text" else None
    style = {"color": "#333333", "weight": 1, "fillOpacity": 0.65}
    fm.add_polygons(gdf, name or column, style, popup=rows, title_col=title_col, tooltip_col=title_col,
                    layer_id="candidates",
                    breaks={"field": column, "edges": list(edges), "colors": list(colors), "nodata": S.NODATA_COLOR})
    names = [f"< {edges[0]}"] + [f"{a} – {b}" for a, b in pairwise(edges)] + [f"≥ {edges[-1]}"]
    fm.add_legend(score_label or column, [(n, dict(style, fillColor=c)) for n, c in zip(names, colors, strict=True)])
    _add_counties(fm, counties)
    return fm


def raster_map(da, *, classes: list[RasterClass] | None = None, bins: list[float] | None = None,
               scheme=None, unit: str | None = None, sequential: bool = False, name: str = "",
               title: str | None = None, lang: str = "zh", basemap: str = "osm", tianditu_key: str | None = None,
               online: bool = False, attribution: str | None = None, synthetic: bool = False, counties=None,
               parcels=None, max_pixels: int = 2048) -> FieldMap:
    """A raster overlay (class raster, severity scheme or an index in bins) with a class legend.

    ``scheme`` (a :func:`gis.salinity.load_scheme` id, path or Scheme) draws the scheme's
    classes green (none/slight) → red (extreme); otherwise ``bins`` (default: quintiles)
    in red (low) → green (high), or light → dark with ``sequential`` (uncertainty layers).
    ``unit`` goes into the legend title (a scheme brings its own).

    Examples
    --------
    >>> import xarray as xr, rioxarray
    >>> da = xr.DataArray(np.array([[1.0, 4.0], [9.0, 20.0]]), dims=("y", "x"),
    ...                   coords={"y": [45.6, 45.5], "x": [122.6, 122.7]}).rio.write_crs("EPSG:4490")
    >>> fm = raster_map(da, scheme="ec_aafc")
    >>> fm.legend[0]["title"], [i["label"] for i in fm.legend[0]["items"]][:2]
    ('图层(单位:dS/m)', ['非盐化 ≤ 2', '轻度 (2, 4]'])
    """
    import rioxarray  # noqa: F401

    fm = _new(title or name, lang, basemap=basemap, tianditu_key=tianditu_key, online=online,
              attribution=attribution, synthetic=synthetic)
    note = None
    if classes is None and scheme is not None:
        from gis.salinity import load_scheme

        s = load_scheme(scheme)
        classes, unit = classes_from_scheme(s, lang), (s.unit if s.variable != "ph" else None)
        note = message("maps.scheme_note", lang, title=(s.title_zh if lang == "zh" else s.title_en) or s.id)
    elif classes is None:
        bins = _quantile_bins(da, name) if bins is None else bins
        classes = classes_from_bins(bins, colors=S.sequential_colors(len(bins) + 1) if sequential else None)
    layer_name = name or fm.L("maps.layer_title")
    legend = message("maps.legend_unit", lang, name=layer_name, unit=unit) if unit and unit != "-" else layer_name
    add_raster(fm, da, classes, layer_name, title=legend, note=note, max_pixels=max_pixels, layer_id="raster")
    if parcels is not None and len(parcels):
        fm.add_parcels(parcels, legend=False, show=True)
    _add_counties(fm, counties)
    return fm


def _quantile_bins(da, name: str) -> list[float]:
    """Quintile edges of the valid values (duplicates merged), rounded to 3 decimals."""
    v = np.asarray(da.values, dtype="float64")
    v = v[np.isfinite(v)]
    if da.rio.nodata is not None:
        v = v[v != da.rio.nodata]
    if not len(v):
        raise InputError.of("error.map_raster_empty", name=name)
    return [float(x) for x in np.unique(np.round(np.quantile(v, [0.2, 0.4, 0.6, 0.8]), 3))]


def _add_counties(fm: FieldMap, counties) -> None:
    if counties is None or not len(counties):
        return
    name_col = "name_zh" if fm.lang == "zh" else next((c for c in ("name_en", "name_pinyin") if c in counties.columns), "name_zh")
    fm.add_polygons(counties, fm.L("maps.counties"), S.COUNTY_BOUNDARY,
                    label_col=name_col if name_col in counties.columns else None, control=False,
                    interactive=False, layer_id="counties", legend=fm.L("maps.counties"), geom_type="line")
