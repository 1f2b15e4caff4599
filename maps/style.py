"""Colours and line styles of the field maps, in one place.

Parcels are coloured by category and styled by status: planned/approved dashed with a
faint fill, under construction hatched (diagonal lines over a light fill) with a dotted
outline, completed solid,
accepted solid with a thicker outline. Leaflet path options are used as keys
(``color``, ``weight``, ``dashArray``, ``fillColor``, ``fillOpacity``).
"""

from __future__ import annotations

from gis.labels import CATEGORY_COLORS, OTHER_COLOR  # noqa: F401  (one table, shared with QGIS styles)

STATUS_STYLES: dict[str, dict] = {
    "planned": {"dashArray": "6 4", "weight": 1.5, "fillOpacity": 0.10},
    "approved": {"dashArray": "6 4", "weight": 2, "fillOpacity": 0.20},
    "under_construction": {"dashArray": "2 3", "weight": 2, "fillOpacity": 0.2, "hatch": True},
    "completed": {"dashArray": None, "weight": 1.5, "fillOpacity": 0.70},
    "accepted": {"dashArray": None, "weight": 3, "fillOpacity": 0.80},
}

PARCEL_BASE = {"color": OTHER_COLOR, "fillColor": OTHER_COLOR, "weight": 1.5, "opacity": 1, "fillOpacity": 0.5}

COUNTY_BOUNDARY = {"color": "#222222", "weight": 2.5, "fill": False, "opacity": 0.9}
RESERVE = {"color": "#238b45", "weight": 1.5, "dashArray": "8 4", "fillColor": "#74c476", "fillOpacity": 0.15}
CANAL = {"color": "#2171b5", "weight": 2, "opacity": 0.9}

# completion % classes of the county choropleth: edges are upper bounds of the classes
COMPLETION_EDGES = [25, 50, 75, 100]
COMPLETION_COLORS = ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#31a354"]
NODATA_COLOR = "#dddddd"

# does the imagery support what the registry claims (gis.evidence.SUPPORT)?
SUPPORT_COLORS = {"supported": "#1a9641", "not_supported": "#e31a1c", "unobserved": "#9e9e9e"}
# a county outside a target's pilot area: no figure, a pale hatch-like dashed outline
OUT_OF_SCOPE = {"fillColor": "#ffffff", "fillOpacity": 0.15, "dashArray": "4 4"}

# remediation verdicts (gis.trend.VERDICTS) and suitability score classes
VERDICT_COLORS = {"improving": "#1a9641", "no_clear_change": "#fee08b", "worsening": "#d7191c",
                  "insufficient_data": "#bbbbbb"}
SCORE_EDGES = [0.5, 0.7, 0.9]
SCORE_COLORS = ["#d7191c", "#fdae61", "#a6d96a", "#1a9641"]

# generic class palettes (suitability, remediation, raster classes)
CLASS_PALETTE = ["#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c", "#7b3294", "#2c7bb6", "#999999"]

# severity classes of a soil scheme (gis/schemes), none/slight (green) → extreme (red), by class count
SEVERITY_COLORS: dict[int, list[str]] = {
    2: ["#1a9641", "#d7191c"],
    3: ["#1a9641", "#ffffbf", "#d7191c"],
    4: ["#1a9641", "#a6d96a", "#fdae61", "#d7191c"],
    5: ["#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c"],
    6: ["#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c", "#8c0d25"],
}
# a single-hue sequential ramp, light → dark (uncertainty: interpolation standard deviation)
SEQUENTIAL_RAMP = ["#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c"]


def severity_colors(n: int) -> list[str]:
    """``n`` colours from green (none/slight) to red (extreme).

    >>> severity_colors(4)[0], severity_colors(4)[-1]
    ('#1a9641', '#d7191c')
    """
    if n not in SEVERITY_COLORS:
        raise ValueError(f"a severity scheme of {n} classes has no colours (2 to {max(SEVERITY_COLORS)} classes)")
    return list(SEVERITY_COLORS[n])


def sequential_colors(n: int) -> list[str]:
    """``n`` colours of :data:`SEQUENTIAL_RAMP`, evenly spread, light → dark.

    >>> sequential_colors(3)
    ['#c6dbef', '#4292c6', '#08519c']
    """
    if not 1 <= n <= len(SEQUENTIAL_RAMP):
        raise ValueError(f"the sequential ramp has 1 to {len(SEQUENTIAL_RAMP)} classes, not {n}")
    if n == 1:
        return [SEQUENTIAL_RAMP[-1]]
    last = len(SEQUENTIAL_RAMP) - 1
    return [SEQUENTIAL_RAMP[(i * last + (n - 1) // 2) // (n - 1)] for i in range(n)]


def category_color(code: str) -> str:
    return CATEGORY_COLORS.get(code, OTHER_COLOR)


def parcel_style_spec(categories, statuses) -> dict:
    """The JS style spec of a parcel layer: base + by category + by status."""
    cats = {c: {"color": category_color(c), "fillColor": category_color(c)} for c in categories}
    sts = {s: {k: v for k, v in STATUS_STYLES[s].items()} for s in statuses if s in STATUS_STYLES}
    return {"base": dict(PARCEL_BASE), "by": [{"field": "c", "values": cats}, {"field": "s", "values": sts}]}


def status_swatch(status: str) -> dict:
    st = dict(PARCEL_BASE, color="#444444", fillColor="#888888")
    st.update({k: v for k, v in STATUS_STYLES.get(status, {}).items() if v is not None})
    return st
