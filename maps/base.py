"""FieldMap: one self-contained, safe, Chinese-first HTML map.

A :class:`FieldMap` wraps a :class:`folium.Map` (the page skeleton, scale bar and the
Leaflet map object) and collects layers, legend sections and notes into one JSON
configuration that our own script (``maps/assets/agrigis.js``) turns into Leaflet layers,
popups, tooltips, legend, layer switcher and the field tools (full screen, locate-me,
measure in 亩, sketch + GeoJSON export). Text from data is never inserted as HTML: the
script escapes it or sets it with ``textContent``, and the configuration is embedded as
script-safe JSON.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> g = gpd.GeoDataFrame({"project_code": ["P1"], "project_name": ["示例"],
...     "category": ["paddy_new"], "status": ["completed"]},
...     geometry=[box(123.8, 45.6, 123.81, 45.61)], crs="EPSG:4490")
>>> fm = FieldMap(title="示例", basemap="none")
>>> fm.add_parcels(g)
>>> html = fm.to_html()
>>> "leaflet" in html and "agrigis.build" in html
True
"""

from __future__ import annotations

import hashlib
import html as _html
import logging
from pathlib import Path

import folium
import numpy as np
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from gis.errors import InputError
from gis.labels import CATEGORIES, STATUSES, check_lang, label, labels
from gis.outputs import write_text

from . import style as S
from .basemaps import basemap_specs, is_gcj
from .encode import compact_layer, to_lonlat
from .inspect import inspect_config
from .offline import escape_json_text, external_references, head_html, safe_json

log = logging.getLogger(__name__)

_TOOL_LABELS = (
    "legend", "fullscreen", "locate", "locating", "locate_failed", "position", "measure",
    "measure_hint", "distance", "area", "draw", "draw_hint", "draw_note", "finish", "export", "clear",
)
_IMAGERY_LABELS = ("imagery_open", "imagery_local", "imagery_pmtiles_only", "imagery_failed")


def area_mu(gdf) -> np.ndarray:
    """Ellipsoidal (GRS80) area in 亩, via :func:`gis.area.area_mu`."""
    from gis.area import area_mu as _area_mu

    return np.asarray(_area_mu(gdf))


class _Build(MacroElement):
    """Emits ``agrigis.build(map, config)`` after the folium map is created."""

    _template = Template(
        "{% macro html(this, kwargs) %}"
        '<script type="application/json" id="{{ this.get_name() }}">{{ this.config_json }}</script>'
        "{% endmacro %}"
        "{% macro script(this, kwargs) %}"
        "agrigis.build({{ this._parent.get_name() }}, '{{ this.get_name() }}');"
        "{% endmacro %}"
    )

    def __init__(self, config_json: str):
        super().__init__()
        self._name = "AgrigisBuild"
        self.config_json = config_json  # script-safe: no '<', '>' or '&' (see offline.safe_json)


class FieldMap:
    """Collects layers for one offline field map.

    Parameters
    ----------
    title : str
        Shown on the map and as the page title (escaped).
    lang : {"zh", "en"}
    basemap : str
        One of :data:`maps.basemaps.BASEMAPS`. ``gaode-*`` shifts all geometry to GCJ-02.
    tianditu_key : str, optional
        Else ``$AGRIGIS_TIANDITU_KEY``; without a key Tianditu layers are left out.
    online : bool
        Link Leaflet from a CDN instead of inlining it.
    attribution : str, optional
        Data source shown in the attribution line (escaped).
    synthetic : bool
        Label the data as synthetic demo data in the attribution and legend.
    """

    def __init__(self, title: str = "", lang: str = "zh", *, basemap: str = "osm", tianditu_key: str | None = None,
                 online: bool = False, attribution: str | None = None, synthetic: bool = False):
        self.lang = check_lang(lang)
        self.title = title
        self.basemap = basemap
        self.gcj = is_gcj(basemap)
        self.online = online
        self.synthetic = synthetic
        self.attribution = attribution
        self.basemaps, self.notes = basemap_specs(basemap, lang, tianditu_key)
        self.layers: list[dict] = []
        self.legend: list[dict] = []
        self._data: dict[str, str] = {}  # a layer's "data" key → its serialised data (JSON text)
        self._geometry_owner: dict[str, str] = {}  # digest of a layer's geometries → its id
        self._bounds: list[np.ndarray] = []
        self._parcel_bounds: list[np.ndarray] = []
        self.inspections = True  # the 现场核查 form in parcel popups (maps/assets/inspect.js)

    # ----------------------------------------------------------------- helpers
    def L(self, key: str) -> str:  # noqa: N802 - short on purpose
        return label(key, self.lang)

    def _prep(self, gdf):
        gdf = to_lonlat(gdf)
        gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
        if self.gcj and len(gdf):
            from gis.gcj02 import to_gcj02

            gdf = to_gcj02(gdf)
        if len(gdf):
            self._bounds.append(np.asarray(gdf.total_bounds, dtype=float))
        return gdf

    def _add(self, spec: dict, fc_text: str | None) -> None:
        spec["id"] = spec.get("id") or f"layer{len(self.layers)}"
        if fc_text is not None:  # kept aside; placed into the JSON by position (see _config_json)
            key = f"data{len(self.layers)}"
            self._data[key] = fc_text
            spec["data"] = key
        self.layers.append(spec)

    def add_legend(self, title: str | None, items: list[tuple[str, dict]], note: str | None = None) -> None:
        """A legend section: ``items`` are (label, swatch style) pairs; ``kind: 'line'`` draws a line."""
        self.legend.append({"title": title, "items": [{"label": str(t), "swatch": sw} for t, sw in items], "note": note})

    def _add_series(self, g, props: dict, popup: dict, series: dict | None, *, label: str | None,
                    marks: dict | None = None) -> None:
        """A trend chart in ``popup`` from ``series`` (project_code → (dates, values)).

        ``marks`` (project_code → ``{"window": [d0, d1] or None, "points": [[date, text], ...]}``)
        shades a date window on the chart and marks dates on it (first flood, peak).
        """
        if series and "project_code" in g.columns:
            props["ts"], dates = series_column(g["project_code"].astype(str), series)
            popup["series"] = {"field": "ts", "label": label or self.L("maps.trend"), "dates": dates}
            if marks:
                props["tw"] = [_marks(marks.get(str(c))) for c in g["project_code"]]
                popup["series"]["marks"] = "tw"

    # ------------------------------------------------------------------ layers
    def add_parcels(self, gdf, name: str | None = None, *, series: dict | None = None, series_label: str | None = None,
                    simplify_m: float | None = None, show: bool = True, legend: bool = True, note: str | None = None,
                    layer_id: str = "parcels") -> None:
        """Project parcels coloured by category and styled by status, with popups and tooltips.

        ``series`` maps project_code → (dates, values) for a small trend chart in the popup.
        """
        g = self._prep(gdf)
        if len(g):
            self._parcel_bounds.append(self._bounds[-1])
        for col in ("project_code", "category", "status"):
            if col not in g.columns:
                raise InputError.of("error.map_parcel_column", column=col, columns=", ".join(map(str, g.columns)))
        if "area_mu" not in g.columns or g["area_mu"].isna().any():
            g = g.copy()
            computed = area_mu(gdf.loc[g.index])  # on the stored (unshifted) geometry
            g["area_mu"] = g["area_mu"].fillna(dict(zip(g.index, computed, strict=True))) if "area_mu" in g.columns else computed
        props: dict[str, object] = {"k": "project_code", "c": "category", "s": "status", "a": "area_mu"}
        rows = [
            [self.L("column.project_code"), "k", "text"],
            [self.L("column.category"), "c", "lookup:category"],
            [self.L("column.status"), "s", "lookup:status"],
        ]
        optional = [("project_name", "n", None, None), ("county_code", "co", "column.county", "lookup:county"),
                    ("year", "y", "column.year", "int"), ("declared_area_mu", "d", "column.declared_area_mu", "mu")]
        for col, short, lab, kind in optional:
            if col in g.columns:
                props[short] = col
                if lab:
                    rows.append([self.L(lab), short, kind])
        if "batch_id" in g.columns:  # the version shown: the registry batch that wrote it
            props["v"] = "batch_id"
        rows.insert(3, [self.L("maps.area"), "a", "mu"])
        if "investment_wan_yuan" in g.columns:
            props["i"] = "investment_wan_yuan"
            rows.append([self.L("column.investment_wan_yuan"), "i", "num"])
        popup = {"title": "n" if "n" in props else "k", "rows": rows}
        self._add_series(g, props, popup, series, label=series_label)
        cats = [c for c in dict.fromkeys(g["category"].astype(str))]
        sts = [s for s in STATUSES if s in set(g["status"].astype(str))]
        spec = {
            "id": layer_id, "kind": "geojson", "batch": True, "name": name or self.L("maps.parcels"), "show": show,
            "style": S.parcel_style_spec(cats, sts), "popup": popup,
            "tooltip": [["", "n" if "n" in props else "k", "text"], ["", "c", "lookup:category"]],
            "note": note or (self.L("maps.synthetic") if self.synthetic else None), "inspect": self.inspections,
        }
        self._add(spec, compact_layer(g, props, simplify_m=simplify_m))
        if legend:
            self.add_legend(self.L("maps.category"),
                            [(label(f"category.{c}", self.lang) if c in CATEGORIES else c,
                              {"color": S.category_color(c), "fillColor": S.category_color(c), "fillOpacity": 0.7})
                             for c in cats])
            self.add_legend(self.L("maps.status"), [(self.L(f"status.{s}"), S.status_swatch(s)) for s in sts])

    def add_polygons(self, gdf, name: str, style: dict, *, popup: list[tuple[str, str, str]] | None = None,
                     title_col: str | None = None, tooltip_col: str | None = None, label_col: str | None = None,
                     control: bool = True, show: bool = True, interactive: bool = True, legend: str | None = None,
                     breaks: dict | None = None, layer_id: str | None = None, geom_type: str = "fill",
                     series: dict | None = None, series_label: str | None = None, classes: dict | None = None,
                     series_marks: dict | None = None) -> None:
        """A generic vector layer (counties, reserves, canals, classes) with escaped popups.

        ``popup`` rows are (label, column, kind) with kind in text, mu, wan_mu, pct, num, int,
        ``lookup:category|status|county``. ``breaks`` colours by a numeric column:
        ``{"field": col, "edges": [...], "colors": [...], "nodata": "#ddd"}``.
        ``series`` maps project_code → (dates, values) for a trend chart in the popup, and
        ``series_marks`` its window and marked dates (see :meth:`_add_series`).
        ``classes`` styles by the values of a text column, after ``breaks``:
        ``{"field": col, "values": {value: {leaflet path options}}}``.
        """
        g = self._prep(gdf)
        cols = {c for c in [title_col, tooltip_col, label_col] if c}
        cols |= {r[1] for r in popup or []}
        if breaks:
            cols.add(breaks["field"])
        if classes:
            cols.add(classes["field"])
        missing = [c for c in cols if c not in g.columns]
        if missing:
            raise InputError.of("error.map_layer_columns", name=name, missing=", ".join(missing),
                                columns=", ".join(map(str, g.columns)))
        shown = {c for c in [title_col, tooltip_col] if c} | {r[1] for r in popup or []}
        styled = {x["field"] for x in (breaks, classes) if x}
        props = {c: c for c in sorted(shown | styled)}
        spec: dict = {"id": layer_id, "kind": "geojson", "name": name, "show": show, "control": control,
                      "interactive": interactive, "style": {"base": dict(style)},
                      "batch": len(g) > 500 and not label_col}  # many polygons: one canvas batch
        if breaks:
            spec["style"]["breaks"] = breaks
        if classes:
            spec["style"]["by"] = [classes]
        if popup and interactive:
            spec["popup"] = {"title": title_col, "rows": [list(r) for r in popup]}
            self._add_series(g, props, spec["popup"], series, label=series_label, marks=series_marks)
        if tooltip_col and interactive:
            spec["tooltip"] = [["", tooltip_col, "text"]]
        if label_col:
            pts = g.geometry.representative_point()
            spec["labels"] = [[round(p.y, 6), round(p.x, 6), str(t)] for p, t in zip(pts, g[label_col], strict=True)]
        # the same geometries (a choropleth per target, the county outlines) are written once
        digest = hashlib.sha1(b"".join(shapely.to_wkb(np.asarray(g.geometry.values, dtype=object)))).hexdigest()
        spec["id"] = layer_id or f"layer{len(self.layers)}"
        owner = self._geometry_owner.setdefault(digest, spec["id"])
        self._add(spec, compact_layer(g, props, geometry_of=None if owner == spec["id"] else owner))
        if legend:
            sw = dict(style, kind="line") if geom_type == "line" else dict(style)
            self.add_legend(None, [(legend, sw)])

    def add_image(self, url: str, bounds, name: str, *, opacity: float = 0.75, pixelated: bool = True,
                  show: bool = True, layer_id: str | None = None) -> None:
        """An image overlay (a PNG data: URI made by :mod:`maps.raster_overlay`).

        ``bounds`` are ``(west, south, east, north)`` in lon/lat (shifted to GCJ-02 here when
        the basemap needs it).
        """
        w, s, e, n = map(float, bounds)
        if self.gcj:
            from gis.gcj02 import wgs84_to_gcj02

            cx, cy = (w + e) / 2, (s + n) / 2
            gx, gy = wgs84_to_gcj02(np.array([cx]), np.array([cy]))
            dx, dy = float(gx[0]) - cx, float(gy[0]) - cy
            w, e, s, n = w + dx, e + dx, s + dy, n + dy
        self._bounds.append(np.array([w, s, e, n]))
        self._add({"id": layer_id, "kind": "image", "name": name, "url": url, "show": show,
                   "bounds": [[s, w], [n, e]], "opacity": opacity, "pixelated": pixelated}, None)

    def add_embedded_imagery(self, tiles, name: str | None = None) -> None:
        """Imagery tiles carried inside the map (:func:`maps.imagery_tiles.embed_tiles`),
        shown as the basemap; the online basemaps stay in the switcher.

        Imagery tiles are in WGS84/CGCS2000 Web Mercator; they are refused on a Gaode
        (GCJ-02) map, where every layer is shifted and the imagery would sit ~550 m off.
        """
        if self.gcj:
            raise InputError.of("error.basemap_file_gcj", basemap=self.basemap)
        if not tiles.tiles:
            return
        spec = tiles.spec(name or self.L("maps.imagery_embedded"), tiles.source)
        for b in self.basemaps:
            b["show"] = False
        self.basemaps.insert(0, spec)

    def area_bounds(self) -> tuple[float, float, float, float] | None:
        """Lon/lat bounds of the parcels drawn (of every layer when there are none): the
        area whose imagery a map carries. None for an empty map."""
        b = self._parcel_bounds or self._bounds
        if not b:
            return None
        a = np.vstack(b)
        return float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()), float(a[:, 3].max())

    # ------------------------------------------------------------------ output
    def config(self) -> dict:
        attribution = " · ".join(x for x in [self.L("maps.synthetic") if self.synthetic else None, self.attribution] if x)
        legend = list(self.legend)
        notes = list(self.notes) + ([self.L("maps.synthetic")] if self.synthetic else [])
        if notes:
            legend.append({"title": None, "items": [], "note": " · ".join(notes)})
        bounds = None
        if self._bounds:
            b = np.vstack(self._bounds)
            bounds = [[float(b[:, 1].min()), float(b[:, 0].min())], [float(b[:, 3].max()), float(b[:, 2].max())]]
        return {
            "title": self.title, "lang": self.lang, "gcj": self.gcj, "basemaps": self.basemaps,
            "layers": self.layers, "legend": legend, "attribution": attribution or None, "bounds": bounds,
            "inspect": inspect_config(self.lang) if self.inspections else None,
            "labels": dict({k: self.L(f"maps.{k}") for k in _TOOL_LABELS + _IMAGERY_LABELS}, mu=self.L("unit.mu"),
                           wan_mu=self.L("unit.wan_mu"), project_code=self.L("column.project_code"),
                           project_name=self.L("column.project_name")),
            "lookups": {"category": labels("category", self.lang), "status": labels("status", self.lang),
                        "county": labels("county", self.lang)},
        }

    def folium_map(self) -> folium.Map:
        """The folium map with our assets and configuration attached (no CDN references)."""
        m = folium.Map(location=[45.6, 123.0], zoom_start=8, tiles=None, control_scale=False, prefer_canvas=True)
        m.default_js = []
        m.default_css = []
        m.get_root().header.add_child(Element(head_html(self.online)), name="agrigis_head")
        m.add_child(_Build(self._config_json()))
        return m

    def _config_json(self) -> str:
        """The configuration as script-safe JSON with each layer's data in place.

        The data texts are joined in by position while the JSON is put together, never
        by searching the serialised text for a marker, so no value, layer or file name a
        person typed can decide where data goes.
        """
        cfg = self.config()
        layers = cfg.pop("layers")
        return _with_member(safe_json(cfg), "layers", "[" + ",".join(self._layer_json(s) for s in layers) + "]")

    def _layer_json(self, spec: dict) -> str:
        key = spec.get("data")
        if not isinstance(key, str) or key not in self._data:
            return safe_json(spec)
        rest = safe_json({k: v for k, v in spec.items() if k != "data"})
        return _with_member(rest, "data", escape_json_text(self._data[key]))

    def to_html(self) -> str:
        html = self.folium_map().get_root().render()
        lang = "zh-CN" if self.lang == "zh" else "en"
        title = _html.escape(self.title or self.L("app.name"))
        html = html.replace("<html>", f'<html lang="{lang}">', 1)
        html = html.replace("<head>", f"<head>\n<title>{title}</title>", 1)
        if not self.online:
            bad = external_references(html)
            if bad:  # a programming error: something added a CDN reference
                raise RuntimeError(f"offline map still references external assets: {bad[:3]}")
        return html

    def save(self, path) -> Path:
        """Write the map to ``path`` atomically: a kill or a full disk leaves the previous
        file as it was (:func:`gis.outputs.write_text`)."""
        path = write_text(path, self.to_html())
        log.info("map written to %s (%.1f MB)", path, path.stat().st_size / 1e6)
        return path


def _with_member(obj_json: str, name: str, value_json: str) -> str:
    """The JSON object text ``obj_json`` with one more member ``name: value_json``.

    >>> _with_member('{"a":1}', "b", "[2]"), _with_member("{}", "b", "null")
    ('{"a":1,"b":[2]}', '{"b":null}')
    """
    if not (obj_json.startswith("{") and obj_json.endswith("}")):
        raise ValueError("not a JSON object")
    sep = "" if obj_json == "{}" else ","
    return f'{obj_json[:-1]}{sep}"{name}":{value_json}}}'


def series_column(codes, series: dict) -> tuple[list, list | None]:
    """Per-feature chart values, and the dates when every series has the same ones.

    Shared dates are stored once (a 6-year monthly NDVI series is then ~300 bytes a parcel
    instead of ~1.2 KB); otherwise each value is ``[dates, values]``.
    """
    per = [_series(series.get(str(c))) for c in codes]
    present = [x for x in per if x is not None]
    if present and all(x[0] == present[0][0] for x in present):
        return [None if x is None else [None if v is None else round(v, 3) for v in x[1]] for x in per], present[0][0]
    return per, None


def _marks(m: dict | None) -> list | None:
    """A chart's window and marked dates as stored per feature: ``[[d0, d1] or None, [[date, text], ...]]``.

    >>> _marks({"window": ["2024-05-10", "2024-06-20"], "points": [["2024-05-28", "flood"]]})
    [['2024-05-10', '2024-06-20'], [['2024-05-28', 'flood']]]
    >>> _marks(None) is None, _marks({"window": None, "points": [["", "x"], [None, "y"]]})
    (True, None)
    """
    if not m:
        return None
    w = m.get("window")
    window = [str(w[0])[:10], str(w[1])[:10]] if w and len(w) == 2 and w[0] and w[1] else None
    points = [[str(d)[:10], str(t)] for d, t in m.get("points") or [] if d]
    return [window, points] if window or points else None


def _series(s):
    """(dates, values) → [[date strings], [numbers]] for the trend chart; None if absent."""
    if s is None:
        return None
    if hasattr(s, "index") and hasattr(s, "values") and not isinstance(s, tuple):
        dates, values = list(s.index), list(s.values)
    else:
        dates, values = s
    dates = [str(d)[:10] for d in dates]
    vals = [None if v is None or not np.isfinite(float(v)) else round(float(v), 4) for v in values]
    return [dates, vals]
