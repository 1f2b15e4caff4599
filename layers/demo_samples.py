"""SYNTHETIC soil sample table of the demo workspace, drawn from its own soil rasters.

:func:`write_samples` lays a jittered grid of sampling points over the city (about one
point per :data:`SPACING_KM` square, as a soil census lays its 0–20 cm plough-layer
points), drops points on water and built-up land, reads the demo's synthetic soil EC
(ECe, saturated paste), pH and ESP rasters at each point, adds a laboratory error
(:data:`LAB_ERROR`) and writes the table as a census table would have it: Chinese
headers with units, the EC method named (饱和泥浆浸提液 ECe), a county, the land use and
a remark that says the values are synthetic.

``workflows.demo`` maps the table back with ``agrigis soil interpolate`` (kriging) and
runs suitability on the maps; the tests compare those maps with the rasters the samples
came from.

Examples
--------
>>> list(COLUMNS)[:4]
['采样点编号', '县(市、区)', '经度', '纬度']
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

SAMPLES_FILE = "samples/soil_samples.xlsx"
"""Where the table is written inside the workspace."""
SPACING_KM = 7.5
"""Side of the square per sampling point (≈ 450 points over the city's 26,000 km²)."""
LAB_ERROR = {"ph": 0.05, "ec": 0.05, "esp": 0.5}
"""Laboratory error: pH ± 0.05 (SD), EC ± 5 % (relative SD), ESP ± 0.5 percentage points."""
EC_METHOD = "饱和泥浆浸提液(ECe)"
SAMPLE_DATE = np.datetime64("2024-04-20")
"""Spring sampling after the thaw; the points are visited over :data:`SAMPLE_DAYS` days."""
SAMPLE_DAYS = 21
REMARK = "合成演示数据,非实测(agrigis demo)"
COLUMNS = {  # header -> what it holds
    "采样点编号": "sample_id", "县(市、区)": "county", "经度": "lon", "纬度": "lat",
    "采样深度(cm)": "depth", "采样日期": "date", "土地利用": "land_use", "pH": "ph",
    "电导率(dS/m)": "ec", "电导率测定方法": "ec_method", "碱化度(%)": "esp", "备注": "remark",
}
"""The table's columns (what ``layers/sample_fields.yml`` reads) and what each holds."""
LAND_USE = {1: "耕地", 2: "水田", 3: "草地", 4: "林地", 7: "盐碱荒地"}
"""Land-cover value → the land use written in the table (water 5, built-up 6: no sample)."""


@dataclass(frozen=True)
class SoilRasters:
    """The demo's truth rasters the samples are read from."""

    ec: Path
    ph: Path
    esp: Path
    landcover: Path


def sample_points(city, rng: np.random.Generator, spacing_m: float = SPACING_KM * 1000) -> np.ndarray:
    """``(n, 2)`` planar points: one uniformly placed in each ``spacing_m`` square of a
    grid over ``city`` (a polygon in EPSG:4550) whose point falls inside it.

    Examples
    --------
    >>> import shapely
    >>> pts = sample_points(shapely.box(0, 0, 10_000, 10_000), np.random.default_rng(0), 1000.0)
    >>> len(pts)
    100
    """
    import shapely

    minx, miny, maxx, maxy = city.bounds
    xs = np.arange(minx, maxx, spacing_m)
    ys = np.arange(miny, maxy, spacing_m)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    pts = np.column_stack([gx, gy]) + rng.uniform(0, spacing_m, (len(gx), 2))
    return pts[shapely.contains_xy(city, pts[:, 0], pts[:, 1])]


def _read_at(path: Path, pts: np.ndarray) -> np.ndarray:
    """Values of a single-band raster at planar points (NaN at nodata and outside)."""
    import rasterio

    with rasterio.open(path) as src:
        vals = np.array([v[0] for v in src.sample(pts, indexes=1, masked=False)], dtype="float64")
        if src.nodata is not None:
            vals[vals == src.nodata] = np.nan
    return vals


def _counties_at(counties, pts: np.ndarray) -> list[str]:
    """Chinese county name of each planar point."""
    import geopandas as gpd

    gk = counties.to_crs("EPSG:4550")
    where = gpd.GeoDataFrame(geometry=gpd.points_from_xy(pts[:, 0], pts[:, 1]), crs=gk.crs)
    hit = gpd.sjoin(where, gk[["name_zh", "geometry"]], how="left", predicate="within")
    return hit.groupby(level=0)["name_zh"].first().reindex(range(len(pts))).fillna("").tolist()


def sample_table(rasters: SoilRasters, city, counties, rng: np.random.Generator) -> pd.DataFrame:
    """The synthetic sample table (columns :data:`COLUMNS`) from the truth ``rasters``."""
    from pyproj import Transformer

    pts = sample_points(city, rng)
    lc = _read_at(rasters.landcover, pts)
    truth = {k: _read_at(getattr(rasters, k), pts) for k in ("ph", "ec", "esp")}
    keep = np.isin(lc, list(LAND_USE)) & np.all([np.isfinite(v) for v in truth.values()], axis=0)
    pts, lc = pts[keep], lc[keep]
    n = len(pts)
    ph = truth["ph"][keep] + rng.normal(0, LAB_ERROR["ph"], n)
    ec = truth["ec"][keep] * np.exp(rng.normal(0, LAB_ERROR["ec"], n))
    esp = np.clip(truth["esp"][keep] + rng.normal(0, LAB_ERROR["esp"], n), 0.1, None)
    lon, lat = Transformer.from_crs("EPSG:4550", "EPSG:4490", always_xy=True).transform(pts[:, 0], pts[:, 1])
    days = rng.integers(0, SAMPLE_DAYS, n)
    order = np.lexsort((-pts[:, 1], pts[:, 0]))  # west to east, north to south: the field route
    table = pd.DataFrame({
        "采样点编号": [f"HZ{i:04d}" for i in range(1, n + 1)],
        "县(市、区)": np.asarray(_counties_at(counties, pts), dtype=object)[order],
        "经度": np.round(lon, 6)[order], "纬度": np.round(lat, 6)[order],
        "采样深度(cm)": "0-20",
        "采样日期": [str(d) for d in (SAMPLE_DATE + days.astype("timedelta64[D]"))[order]],
        "土地利用": [LAND_USE[int(v)] for v in lc[order]],
        "pH": np.round(ph, 2)[order], "电导率(dS/m)": np.round(ec, 2)[order],
        "电导率测定方法": EC_METHOD, "碱化度(%)": np.round(esp, 1)[order], "备注": REMARK,
    })
    return table


def write_samples(folder: Path, rasters: SoilRasters, city, counties, seed: int) -> Path:
    """Write the table into ``folder/`` :data:`SAMPLES_FILE` (one sheet, synthetic notice in
    the sheet name, every row's remark and the page footer). Returns its path."""
    from gis.labels import label
    from gis.outputs import Sheet, write_excel

    table = sample_table(rasters, city, counties, np.random.default_rng([seed, 17]))
    path = Path(folder) / SAMPLES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_excel(path, [Sheet("土壤采样点(合成)", table)], footer=label("synthetic.notice", "zh"))
    log.debug("%d synthetic soil samples in %s", len(table), path)
    return path
