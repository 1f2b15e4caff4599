"""Synthetic rasters of the demo workspace on a CGCS2000 Gauss-Krüger grid (EPSG:4550).

Everything here is SYNTHETIC. Smooth random fields (white noise smoothed with
:func:`scipy.ndimage.gaussian_filter`) are shaped by a few plausible rules:

* DEM: higher in the north-west (the Greater Khingan foothills, ~300 m), falling to
  ~120 m in the east, with hollows along rivers and around lakes;
* soil EC (ECe, dS/m), pH and ESP (%): saline-sodic in the eastern lowlands of Da'an and
  Zhenlai and in low spots elsewhere; pH and ESP rise with EC (soda soils);
* land cover: water, built-up, saline barren, paddy (low land near water), grassland,
  forest (north-western hills) and cropland everywhere else;
* NDVI (the model of the demo's Sentinel-2 products, :mod:`layers.demo_imagery`): a
  seasonal curve per land-cover class, where parcels of
  remediation and new-paddy projects rise after their project year.

Fields are computed on a coarse *analysis grid* and interpolated to the output grid in
row windows, so memory stays bounded for large grids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from rasterio.features import rasterize
from scipy.ndimage import distance_transform_edt, gaussian_filter, map_coordinates

from gis.crs import GK_CM123
from gis.labels import label

log = logging.getLogger(__name__)

_LC = [(1, "cropland", "#e6d27a"), (2, "paddy", "#7ac8e6"), (3, "grassland", "#a6d96a"),
       (4, "forest", "#1a9641"), (5, "water", "#2b83ba"), (6, "built_up", "#d7191c"),
       (7, "saline_barren", "#f0f0f0")]
LANDCOVER_CLASSES = pd.DataFrame(
    [(v, c, label(f"demo.landcover.{c}", "zh"), label(f"demo.landcover.{c}", "en"), col)
     for v, c, col in _LC],
    columns=["value", "code", "name_zh", "name_en", "color"],
)
"""Land-cover class table (raster value → code, names, colour)."""
LC = dict(zip(LANDCOVER_CLASSES.code, LANDCOVER_CLASSES.value, strict=True))

NODATA_F = -9999.0
NODATA_LC = 0
GTIFF = dict(driver="GTiff", compress="deflate", zlevel=1, tiled=True, blockxsize=256,
             blockysize=256)

TOWNS = [  # county seats (lon, lat, radius m) for built-up land
    (122.84, 45.62, 5000.0), (122.79, 45.34, 3500.0), (124.29, 45.51, 3500.0),
    (123.20, 45.85, 3000.0), (123.09, 44.81, 3000.0),
]


@dataclass(frozen=True)
class Grid:
    """A north-up grid in EPSG:4550."""

    x0: float
    y0: float  # top edge
    res: float
    width: int
    height: int

    @property
    def transform(self) -> Affine:
        return Affine(self.res, 0, self.x0, 0, -self.res, self.y0)

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @classmethod
    def covering(cls, bounds, res: float, snap: float = 1000.0) -> "Grid":
        minx, miny, maxx, maxy = bounds
        x0 = np.floor(minx / snap) * snap
        y1 = np.ceil(maxy / snap) * snap
        w = int(np.ceil((maxx - x0) / res))
        h = int(np.ceil((y1 - miny) / res))
        return cls(float(x0), float(y1), float(res), w, h)

    def centres(self, row0: int = 0, nrows: int | None = None):
        nrows = self.height - row0 if nrows is None else nrows
        xs = self.x0 + (np.arange(self.width) + 0.5) * self.res
        ys = self.y0 - (np.arange(row0, row0 + nrows) + 0.5) * self.res
        return np.meshgrid(xs, ys)


def _normalised_smooth(white: np.ndarray, sigma: float) -> np.ndarray:
    z = gaussian_filter(white, sigma=sigma, mode="reflect")
    return (z - z.mean()) / (z.std() + 1e-12)


def _smooth_noises(rng: np.random.Generator, shape, sigmas: list[float]) -> list[np.ndarray]:
    """Smooth random fields (white noise drawn from ``rng`` for each of ``sigmas`` in turn,
    smoothed, normalised to mean 0 and deviation 1), the filters on two threads (SciPy's
    filters release the GIL; the widest first, as it takes longest)."""
    from concurrent.futures import ThreadPoolExecutor

    whites = [rng.standard_normal(shape) for _ in sigmas]
    order = sorted(range(len(sigmas)), key=lambda i: -sigmas[i])
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip(order, pool.map(lambda i: _normalised_smooth(whites[i], sigmas[i]), order), strict=True))
    return [done[i] for i in range(len(sigmas))]


class Drivers:
    """Coarse fields (on the analysis grid) from which every raster is derived."""

    def __init__(self, counties: gpd.GeoDataFrame, rivers: gpd.GeoDataFrame,
                 lakes: gpd.GeoDataFrame, rng: np.random.Generator, res: float = 250.0):
        gk = counties.to_crs(GK_CM123)
        self.city = shapely.union_all(gk.geometry.values)
        self.grid = g = Grid.covering(self.city.bounds, res)
        sh, tr = g.shape, g.transform
        riv = rivers.to_crs(GK_CM123)
        lk = lakes.to_crs(GK_CM123)
        self.lake_gk = shapely.union_all(lk.geometry.values) if len(lk) else shapely.Polygon()

        def dist(geoms) -> np.ndarray:
            geoms = [x for x in geoms if not x.is_empty]
            if not geoms:
                return np.full(sh, 1e6)
            m = rasterize(geoms, out_shape=sh, transform=tr, all_touched=True, default_value=1)
            return distance_transform_edt(m == 0) * res

        self.d_river = dist(list(riv.geometry[riv.kind == "river"]) + list(lk.geometry))
        self.d_canal = dist(list(riv.geometry[riv.kind == "canal"]))
        self.d_lake = dist(list(lk.geometry))
        x, y = g.centres()
        minx, miny, maxx, maxy = self.city.bounds
        east = np.clip((x - minx) / (maxx - minx), 0, 1)
        north = np.clip((y - miny) / (maxy - miny), 0, 1)
        self.east = east
        s = 1000.0 / res  # sigma in cells per km
        n_big, n_mid, n_salt, n_salt2, self.n_veg, self.n_lc = _smooth_noises(
            rng, sh, [18 * s, 4 * s, 6 * s, 1.5 * s, 2 * s, 1.2 * s])
        nw = np.clip(0.65 * (1 - east) + 0.35 * north, 0, 1)
        self.dem = (122.0 + 175.0 * nw ** 1.6 + 14.0 * n_big + 4.0 * n_mid
                    - 10.0 * np.exp(-self.d_river / 2500.0) - 8.0 * np.exp(-self.d_lake / 3000.0))
        low = np.clip((235.0 - self.dem) / 110.0, 0, 1)
        self.low = low
        south = np.clip(1.0 - north * 1.6, 0, 1)  # Tongyu's saline grassland
        self.log_ec = (-0.8 + 2.9 * low * (0.25 + 0.75 * east + 0.45 * south)
                       + 0.55 * n_salt + 0.35 * n_salt2
                       + 0.5 * np.exp(-self.d_lake / 6000.0))

    def sample(self, field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear value of an analysis-grid field at planar points x, y."""
        g = self.grid
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim == 2 and x.shape[0] > 1 and np.array_equal(x[0], x[-1]):  # a regular grid: separable, fast
            return _bilinear_grid(field, (g.y0 - y[:, 0]) / g.res - 0.5, (x[0] - g.x0) / g.res - 0.5)
        col = (x - g.x0) / g.res - 0.5
        row = (g.y0 - y) / g.res - 0.5
        return map_coordinates(field, [row.ravel(), col.ravel()], order=1, mode="nearest").reshape(
            np.shape(x))

    def fields(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
               res: float) -> dict[str, np.ndarray]:
        """All raster values at cell centres x, y (planar), with fine noise."""
        s = lambda f: self.sample(f, x, y)  # noqa: E731
        dem = s(self.dem) + rng.normal(0, 0.25, x.shape)
        log_ec = s(self.log_ec) + rng.normal(0, 0.08, x.shape)
        ec = np.clip(np.exp(log_ec), 0.1, 45.0)
        ph = np.clip(7.25 + 0.78 * np.log1p(ec) + rng.normal(0, 0.06, x.shape), 6.5, 10.6)
        esp = np.clip(2.0 + 2.1 * ec ** 0.92 + rng.normal(0, 0.8, x.shape), 0.5, 85.0)
        d_river, d_canal = s(self.d_river), s(self.d_canal)
        veg, nlc = s(self.n_veg), s(self.n_lc)
        low = np.clip((235.0 - dem) / 110.0, 0, 1)
        minx, _miny, maxx, _maxy = self.city.bounds
        east = np.clip((x - minx) / (maxx - minx), 0, 1)
        lc = np.full(x.shape, LC["cropland"], dtype="uint8")
        near_water = np.minimum(d_river, d_canal)
        paddy = (near_water < 6000) & (low > 0.55) & (ec < 9) & (nlc > -0.2) & (east > 0.45)
        lc[paddy] = LC["paddy"]
        lc[((ec > 4.0) & (veg > -0.6)) | ((veg < -1.2) & (east < 0.6))] = LC["grassland"]
        lc[(dem > 235) & (veg > 0.7)] = LC["forest"]
        lc[(veg > 1.6) & (dem < 230)] = LC["forest"]  # shelterbelts and plantations
        lc[(ec > 11.0) & (low > 0.5)] = LC["saline_barren"]
        built = _towns(x, y)
        built |= (nlc > 2.4) & (veg < 0)  # villages
        lc[built] = LC["built_up"]
        water = (s(self.d_lake) < res * 0.5) | (d_river < max(res * 0.5, 120.0))
        lc[water] = LC["water"]
        return {"dem": dem.astype("float32"), "soil_ec": ec.astype("float32"),
                "soil_ph": ph.astype("float32"), "soil_esp": esp.astype("float32"),
                "landcover": lc}


def _bilinear_grid(field: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``field`` at fractional ``rows`` × ``cols`` (clamped)."""

    def axis(v, n):
        v = np.clip(v, 0, n - 1)
        i0 = np.minimum(np.floor(v).astype(int), max(n - 2, 0))
        return i0, np.minimum(i0 + 1, n - 1), (v - i0)

    r0, r1, wr = axis(rows, field.shape[0])
    c0, c1, wc = axis(cols, field.shape[1])
    # along the columns first, on the field's rows that are read only (the same figures
    # as interpolating each of the four corners on the output grid, in a fraction of it)
    used = np.unique(np.concatenate([r0, r1]))
    sub = field[used]
    across = sub[:, c0] * (1 - wc) + sub[:, c1] * wc
    top, bot = across[np.searchsorted(used, r0)], across[np.searchsorted(used, r1)]
    return top * (1 - wr)[:, None] + bot * wr[:, None]


def _towns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True within a county seat's radius of :data:`TOWNS` (on a regular grid of
    centres, only the rows near each town are computed: the same figures)."""
    built = np.zeros(x.shape, bool)
    regular = x.ndim == 2 and x.shape[0] > 1 and np.array_equal(x[0], x[-1])
    for (bx, by), r in _town_xy():
        if not regular:
            built |= (x - bx) ** 2 + (y - by) ** 2 < r ** 2
            continue
        dy2 = (y[:, 0] - by) ** 2
        rows = np.flatnonzero(dy2 < r ** 2)
        if len(rows):
            built[rows] |= (x[0] - bx) ** 2 + dy2[rows, None] < r ** 2
    return built


def _town_xy():
    from pyproj import Transformer

    t = Transformer.from_crs("EPSG:4490", GK_CM123, always_xy=True)
    return [(t.transform(lon, lat), r) for lon, lat, r in TOWNS]


RASTERS = {
    # name -> (dtype, nodata, unit, zh, en)
    "dem": ("float32", NODATA_F, "m", "数字高程模型(合成)", "Elevation (synthetic)"),
    "soil_ec": ("float32", NODATA_F, "dS/m", "土壤电导率ECe(合成)", "Soil EC, ECe (synthetic)"),
    "soil_ph": ("float32", NODATA_F, "pH", "土壤pH(合成)", "Soil pH (synthetic)"),
    "soil_esp": ("float32", NODATA_F, "%", "土壤碱化度ESP(合成)", "Soil ESP (synthetic)"),
    "landcover": ("uint8", NODATA_LC, "class", "土地覆盖(合成)", "Land cover (synthetic)"),
}


def write_static_rasters(drivers: Drivers, folder: Path, res: float, seed: int,
                         window_rows: int | None = None, on_step=None) -> dict[str, Path]:
    """Write DEM, soil EC/pH/ESP and land cover GeoTIFFs at ``res`` metres, by row windows.

    Cells outside the city are nodata. Returns ``{name: path}``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    grid = Grid.covering(drivers.city.bounds, res)
    if window_rows is None:  # ~2 million cells per window: bounded memory at 10 m
        window_rows = int(np.clip(2_000_000 // grid.width, 16, 4096))
    paths = {k: folder / f"{k}.tif" for k in RASTERS}
    dsts = {}
    try:
        for k, (dtype, nodata, unit, *_x) in RASTERS.items():
            prof = dict(GTIFF, width=grid.width, height=grid.height, count=1, dtype=dtype,
                        crs=GK_CM123, transform=grid.transform, nodata=nodata)
            dsts[k] = rasterio.open(paths[k], "w", **prof)
            dsts[k].update_tags(units=unit, synthetic="true",
                                source=f"agrigis demo generator, seed {seed}")
            if k == "landcover":
                dsts[k].write_colormap(1, {int(v): _rgb(c) for v, c in
                                           zip(LANDCOVER_CLASSES.value, LANDCOVER_CLASSES.color, strict=True)})
        nwin = int(np.ceil(grid.height / window_rows))
        for r0, n, vals, inside in _windows(drivers, grid, window_rows, seed, res):
            win = rasterio.windows.Window(0, r0, grid.width, n)
            for k, (dtype, nodata, *_x) in RASTERS.items():
                a = vals[k].astype(dtype)
                a[~inside] = nodata
                dsts[k].write(a, 1, window=win)
            if on_step:
                on_step(1 / nwin)
    finally:
        for d in dsts.values():
            d.close()
    return paths


def _windows(drivers: Drivers, grid: Grid, window_rows: int, seed: int, res: float):
    """``(first row, rows, values, inside the city)`` of each row window of ``grid`` in
    turn, computed two windows at a time on two threads (NumPy releases the GIL; each
    window has its own seeded noise, so the values do not depend on the order), at most
    two ahead of the window being written (bounded memory)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int):
        r0 = i * window_rows
        n = min(window_rows, grid.height - r0)
        x, y = grid.centres(r0, n)
        vals = drivers.fields(x, y, np.random.default_rng([seed, 7, i]), res)
        tr = grid.transform @ Affine.translation(0, r0)
        inside = rasterize([drivers.city], out_shape=(n, grid.width), transform=tr, default_value=1).astype(bool)
        return r0, n, vals, inside

    nwin = int(np.ceil(grid.height / window_rows))
    with ThreadPoolExecutor(max_workers=2) as pool:
        ahead: deque = deque(pool.submit(one, i) for i in range(min(2, nwin)))
        for i in range(2, nwin + 2):
            done = ahead.popleft().result()
            if i < nwin:
                ahead.append(pool.submit(one, i))
            yield done


def _rgb(hexcolor: str) -> tuple[int, int, int, int]:
    h = hexcolor.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 255)


# --- NDVI -----------------------------------------------------------------------------

# monthly NDVI curves (Jan..Dec) per land-cover class; Baicheng: snow Dec–Mar,
# sowing May, peak July–August, harvest late September.
_SEASON = np.array([0.0, 0.0, 0.02, 0.08, 0.25, 0.60, 0.95, 1.0, 0.70, 0.25, 0.05, 0.0])
_CURVES = {  # (winter base, summer peak)
    LC["cropland"]: (0.08, 0.72), LC["paddy"]: (0.05, 0.80), LC["grassland"]: (0.10, 0.48),
    LC["forest"]: (0.15, 0.82), LC["water"]: (-0.15, -0.05), LC["built_up"]: (0.08, 0.22),
    LC["saline_barren"]: (0.05, 0.14),
}
IMPROVING = ("paddy_new", "paddy_improved", "saline_demo_area", "new_cultivated_land")
"""Categories whose parcels turn green after the project year (remediation)."""


def ndvi_stack(drivers: Drivers, landcover_path: Path, parcels: gpd.GeoDataFrame,
               res: float, years=tuple(range(2020, 2025)), seed: int = 0, *,
               grid: Grid | None = None, crs: str = GK_CM123, months=tuple(range(1, 13)),
               landcover: np.ndarray | None = None):
    """Monthly NDVI at ``res`` metres: ``(grid, bands)`` where ``bands`` yields
    ``(date "YYYY-MM-15", float32 array)`` one month at a time.

    The grid covers the city in EPSG:4550 unless ``grid`` (a grid in ``crs``, e.g. the
    UTM grid of the demo's Sentinel-2 products) is given; ``months`` (1–12) limits the
    months yielded. A month's values do not depend on the grid's extent or on which
    other months are asked for (the noise is seeded per year and month). ``landcover``:
    the land cover already on ``grid`` (:func:`landcover_on`), if the caller has it.

    Each cell follows the seasonal curve of its land-cover class (read from the land
    cover raster, resampled by nearest neighbour). Parcels of :data:`IMPROVING`
    categories that are completed or accepted follow the saline-barren curve before
    their project year, recover through the project year's season and follow the paddy
    (or cropland) curve after it.
    """
    if grid is None:
        grid = Grid.covering(drivers.city.bounds, res)
    lc = landcover_on(landcover_path, grid, crs) if landcover is None else landcover
    base = np.zeros(grid.shape, "float32")
    peak = np.zeros(grid.shape, "float32")
    for v, (b, p) in _CURVES.items():
        base[lc == v], peak[lc == v] = b, p
    pyear, target_peak = _project_years(parcels, grid, crs)
    rng = np.random.default_rng([seed, 11])
    cellnoise = gaussian_filter(rng.standard_normal(grid.shape), 1.0).astype("float32") * 0.05
    city = gpd.GeoSeries([drivers.city], crs=GK_CM123).to_crs(crs).iloc[0]
    inside = rasterize([city], out_shape=grid.shape, transform=grid.transform,
                       default_value=1).astype(bool)
    x, y = grid.centres()
    if crs != GK_CM123:
        from pyproj import Transformer

        x, y = Transformer.from_crs(crs, GK_CM123, always_xy=True).transform(x, y)
    ec_field = drivers.sample(drivers.log_ec, x, y)
    salt_penalty = np.clip((ec_field - 1.0) * 0.08, 0, 0.3).astype("float32")

    def bands():
        for yr in years:
            for m in (mm - 1 for mm in months):
                pk = peak - salt_penalty * (lc != LC["water"])
                if pyear.any():
                    barren = _CURVES[LC["saline_barren"]][1]
                    frac = np.clip((m - 4) / 4.0, 0, 1)  # green-up through the project year
                    # share of the recovery reached: 0 before, ramps in the project year,
                    # 80 % the year after, full from the second year after
                    share = np.select([pyear > yr, pyear == yr, pyear == yr - 1],
                                      [0.0, 0.5 * frac, 0.8], 1.0).astype("float32")
                    pk = np.where(pyear > 0, barren + (target_peak - barren) * share, pk)
                mrng = np.random.default_rng([seed, 13, yr, m])
                v = base + (pk - base) * _SEASON[m] + cellnoise + mrng.normal(0, 0.015, grid.shape)
                v = np.clip(v, -0.2, 0.95)
                v[~inside] = np.nan
                yield f"{yr}-{m + 1:02d}-15", v.astype("float32")

    return grid, bands()


def landcover_on(landcover_path: Path, grid: Grid, crs: str) -> np.ndarray:
    """The land-cover raster on ``grid`` (in ``crs``): mode when coarser, else nearest."""
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    lc = np.zeros(grid.shape, "uint8")
    with rasterio.open(landcover_path) as src:
        reproject(rasterio.band(src, 1), lc, dst_transform=grid.transform, dst_crs=crs,
                  resampling=Resampling.mode if src.res[0] < grid.res else Resampling.nearest,
                  src_nodata=NODATA_LC, dst_nodata=NODATA_LC)
    return lc


def _project_years(parcels: gpd.GeoDataFrame, grid: Grid, crs: str):
    """``(project year per cell (0 = none), peak NDVI the project reaches)`` of the
    completed/accepted :data:`IMPROVING` parcels on ``grid``."""
    pyear = np.zeros(grid.shape, "int16")
    target_peak = np.zeros(grid.shape, "float32")
    if not len(parcels):
        return pyear, target_peak
    sel = parcels[parcels.category.isin(IMPROVING)
                  & parcels.status.isin(["completed", "accepted"])].to_crs(crs)
    if len(sel):
        order = sel.sort_values("year", kind="stable")
        # all_touched: small parcels on a coarse NDVI grid still mark their cells
        pyear = rasterize(zip(order.geometry, order.year.astype(int), strict=True), out_shape=grid.shape,
                          transform=grid.transform, fill=0, dtype="int16", all_touched=True)
        paddy = order.category.isin(["paddy_new", "paddy_improved"]).astype(int) + 1
        kind = rasterize(zip(order.geometry, paddy, strict=True), out_shape=grid.shape,
                         transform=grid.transform, fill=0, dtype="uint8", all_touched=True)
        target_peak = np.where(kind == 2, _CURVES[LC["paddy"]][1],
                               _CURVES[LC["cropland"]][1]).astype("float32")
    return pyear, target_peak
