"""Synthetic reference vectors of the demo workspace: rivers, canals, lakes, reserves.

Everything here is SYNTHETIC: plausible lines and polygons placed after published
descriptions (DOMAIN.md §5), not surveyed boundaries. The river courses follow a few
waypoints with a smooth random meander; the two national nature reserves are blobs
centred on their published coordinates and sized to their published areas (checked with
:func:`gis.area.area_m2`, clipped to their county).

All functions take and return geometry in EPSG:4490 (lon/lat); planar work happens in
EPSG:4550 (Gauss-Krüger CM 123°E).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from scipy.ndimage import gaussian_filter1d
from shapely.geometry import LineString, Polygon

from gis.area import area_m2
from gis.crs import CGCS2000, GK_CM123

log = logging.getLogger(__name__)

TO_GK = Transformer.from_crs(CGCS2000, GK_CM123, always_xy=True)

ZHENLAI, TONGYU, DAAN, TAONAN, TAOBEI = "220821", "220822", "220882", "220881", "220802"

RESERVES = {
    # name -> (county, centre lon, lat, published area ha, half-extent ratio x:y, zh, en)
    "momoge": (ZHENLAI, 123.76, 46.00, 144_000.0, (0.85, 1.15), "莫莫格国家级自然保护区",
               "Momoge National Nature Reserve"),
    "xianghai": (TONGYU, 122.30, 45.03, 105_467.0, (0.95, 1.05), "向海国家级自然保护区",
                 "Xianghai National Nature Reserve"),
}
"""Published facts used to place the reserves (DOMAIN.md §5.3).

Momoge: 123°27′–124°04′E, 45°42′–46°18′N, 144,000 ha. Xianghai: 105,467 ha around
122°05′–122°31′E, 44°55′–45°09′N; that box is only ~880 km², too small for the
published area, so the blob is centred on it and sized to the area (it spills over).
"""

# (name_zh, name_en, kind, waypoints lon/lat, meander amplitude m)
_LINES = [
    ("洮儿河", "Taoer River", "river",
     [(121.62, 45.46), (121.95, 45.40), (122.30, 45.37), (122.62, 45.33), (122.82, 45.40),
      (123.02, 45.52), (123.30, 45.58), (123.55, 45.66), (123.80, 45.72), (124.02, 45.74)],
     1500.0),
    ("霍林河", "Huolin River", "river",
     [(121.66, 45.22), (121.92, 45.10), (122.18, 45.04), (122.40, 44.98), (122.70, 44.90),
      (123.00, 44.83), (123.30, 44.75)], 1200.0),
    ("引嫩入白总干渠", "Yinnen-rubai main canal", "canal",
     [(124.02, 46.08), (123.80, 46.02), (123.55, 45.96), (123.30, 45.88), (123.10, 45.78),
      (122.92, 45.68)], 150.0),
    ("大安灌区一干渠", "Da'an irrigation canal 1", "canal",
     [(124.20, 45.48), (124.00, 45.46), (123.80, 45.42), (123.60, 45.38), (123.42, 45.33)], 120.0),
    ("大安灌区二干渠", "Da'an irrigation canal 2", "canal",
     [(124.12, 45.22), (123.92, 45.20), (123.72, 45.17), (123.55, 45.12)], 120.0),
    ("镇赉灌区干渠", "Zhenlai irrigation canal", "canal",
     [(123.95, 45.85), (123.70, 45.82), (123.45, 45.78), (123.25, 45.70)], 120.0),
]

_LAKES = [
    # name_zh, name_en, lon, lat, radius m
    ("月亮泡", "Yueliang Pao", 123.86, 45.71, 5500.0),
    ("向海湖", "Xianghai lakes", 122.33, 45.00, 3500.0),
    ("莫莫格泡沼", "Momoge marsh lakes", 123.80, 46.05, 4000.0),
    ("牛心套保", "Niuxintaobao", 123.50, 45.25, 3000.0),
    ("查干浩特泡", "Chaganhaote Pao", 123.62, 45.02, 2500.0),
]


def _gk(lonlat: np.ndarray) -> np.ndarray:
    x, y = TO_GK.transform(lonlat[:, 0], lonlat[:, 1])
    return np.column_stack([x, y])


def meander(xy: np.ndarray, amplitude: float, rng: np.random.Generator,
            step: float = 300.0) -> np.ndarray:
    """Densify a planar polyline to ``step`` metres and add a smooth sideways wiggle."""
    line = LineString(xy)
    n = max(int(line.length / step), 2)
    pts = shapely.get_coordinates(shapely.line_interpolate_point(line, np.linspace(0, line.length, n)))
    d = np.gradient(pts, axis=0)
    normal = np.column_stack([-d[:, 1], d[:, 0]])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    off = gaussian_filter1d(rng.normal(0, 1, n), sigma=max(n / 25, 3), mode="nearest")
    off *= amplitude / max(np.abs(off).max(), 1e-9)
    off[0] = off[-1] = 0.0
    return pts + normal * off[:, None]


def east_edge_line(region_gk, inset: float = 1500.0, step: float = 2000.0) -> np.ndarray:
    """Points just inside the eastern edge of ``region_gk`` from north to south."""
    minx, miny, maxx, maxy = region_gk.bounds
    ys = np.arange(maxy - 500.0, miny + 500.0, -step)
    pts = []
    for y in ys:
        cut = region_gk.intersection(LineString([(minx - 1, y), (maxx + 1, y)]))
        if cut.is_empty:
            continue
        pts.append((cut.bounds[2] - inset, y))
    return np.asarray(pts)


def rivers_and_canals(counties: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Synthetic rivers (嫩江, 洮儿河, 霍林河) and canals as lines in EPSG:4490.

    The Nen River runs just inside the eastern edge of Zhenlai and Da'an (it is their
    border with Heilongjiang); the others follow rough published courses.
    """
    gk = counties.to_crs(GK_CM123)
    city_gk = shapely.union_all(gk.geometry.values)
    east = shapely.union_all(gk.loc[gk.county_code.isin([ZHENLAI, DAAN])].geometry.values)
    rows = []
    nen = east_edge_line(east)
    nen_xy = meander(nen, 1500.0, rng)
    rows.append(("嫩江", "Nen River", "river", nen_xy))
    for zh, en, kind, wps, amp in _LINES:
        rows.append((zh, en, kind, meander(_gk(np.asarray(wps)), amp, rng)))
    geoms, out = [], []
    clip = shapely.box(*city_gk.bounds).buffer(3000)
    for zh, en, kind, xy in rows:
        g = LineString(xy).intersection(clip)
        geoms.append(g)
        out.append({"name_zh": zh, "name_en": en, "kind": kind})
    df = gpd.GeoDataFrame(out, geometry=geoms, crs=GK_CM123).to_crs(CGCS2000)
    return df


def blob(cx: float, cy: float, rx: float, ry: float, rng: np.random.Generator, *,
         n: int = 180, roughness: float = 0.18) -> Polygon:
    """A smooth irregular closed shape around (cx, cy) with half-extents rx, ry (metres)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 7):
        r += roughness / k * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    return Polygon(np.column_stack([cx + rx * r * np.cos(t), cy + ry * r * np.sin(t)]))


def lakes(counties: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Synthetic lakes (月亮泡, 向海 …) as polygons in EPSG:4490, clipped to the city."""
    city_gk = shapely.union_all(counties.to_crs(GK_CM123).geometry.values)
    rows, geoms = [], []
    for zh, en, lon, lat, r in _LAKES:
        (x, y), = _gk(np.array([[lon, lat]]))
        g = blob(x, y, r * rng.uniform(0.8, 1.2), r * rng.uniform(0.6, 1.0), rng, roughness=0.3)
        g = g.intersection(city_gk)
        if not g.is_empty:
            rows.append({"name_zh": zh, "name_en": en, "kind": "lake"})
            geoms.append(g)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=GK_CM123).to_crs(CGCS2000)


def _sized_blob(shape_gk: Polygon, clip_gk, target_m2: float, cx: float, cy: float) -> Polygon:
    """Scale ``shape_gk`` about (cx, cy) so that its part inside ``clip_gk`` has the
    ellipsoidal area ``target_m2`` (fixed-point on the linear scale; within 0.02 %)."""
    s, g = 1.0, shape_gk
    for _ in range(30):
        g = shapely.affinity.scale(shape_gk, s, s, origin=(cx, cy)).intersection(clip_gk)
        a = float(area_m2(gpd.GeoSeries([g], crs=GK_CM123).to_crs(CGCS2000))[0])
        if abs(a - target_m2) / target_m2 < 2e-4:
            break
        s *= (target_m2 / a) ** 0.5 if a > 0 else 1.5
    return g


def reserves(counties: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """The 莫莫格 and 向海 national nature reserves as synthetic polygons (EPSG:4490).

    Centred on the published coordinates, clipped to their county and sized so the
    clipped polygon has the published area (columns ``area_ha`` = published area).
    """
    import shapely.affinity  # noqa: F401  (used in _sized_blob)

    gk = counties.to_crs(GK_CM123).set_index("county_code")
    rows, geoms = [], []
    for key, (county, lon, lat, ha, (ax, ay), zh, en) in RESERVES.items():
        (x, y), = _gk(np.array([[lon, lat]]))
        r = np.sqrt(ha * 1e4 / np.pi)
        shape = blob(x, y, r * ax, r * ay, rng, roughness=0.12)
        g = _sized_blob(shape, gk.geometry[county], ha * 1e4, x, y)
        rows.append({"reserve_code": key, "name_zh": zh, "name_en": en, "county_code": county,
                     "level": "national", "published_area_ha": ha})
        geoms.append(g)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=GK_CM123).to_crs(CGCS2000)
