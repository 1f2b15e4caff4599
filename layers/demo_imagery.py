"""SYNTHETIC Sentinel-2 L2A products of the demo workspace over Da'an (大安市).

:func:`write_products` writes one product per growing-season month (May–September,
acquired on the 15th at 02:50 UTC) for each year of the demo's NDVI model, in the real
``.SAFE`` layout (:func:`layers.imagery.synthetic.write_s2_product`: ids ending in
``_SYNTHETIC``, a ``SYNTHETIC.txt`` in each). Their NDVI is the demo's own model
(:func:`layers.demo_rasters.ndvi_stack`) evaluated on the products' grid, so a stack
built from them (``workflows.demo``) holds the model's values up to the products' digital
number quantisation, and the remediation verdicts keep their meaning.

The products lie on a UTM zone 51N grid (as real Sentinel-2 tiles over Baicheng) that
covers the bounding box of Da'an at the demo's NDVI cell size, with the coarse bands
(B8A, B11, B12, SCL) at twice it; cells outside the city are no data.

Examples
--------
>>> PRODUCT_MONTHS, PRODUCT_CRS
((5, 6, 7, 8, 9), 'EPSG:32651')
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np

from .demo_rasters import LC, Drivers, Grid, landcover_on, ndvi_stack

log = logging.getLogger(__name__)

PRODUCT_CRS = "EPSG:32651"
"""UTM zone 51N: the zone of Sentinel-2's tiles over Baicheng."""
PRODUCT_MONTHS = (5, 6, 7, 8, 9)
"""Months with a product each year: the growing season the remediation step reads."""
PRODUCT_COUNTY = "220882"
"""The county the products cover (Da'an, the pilot county)."""


@dataclass(frozen=True)
class Products:
    """The demo's products: their ``.SAFE`` folders, the folder holding them, and the
    grid (in :data:`PRODUCT_CRS`) of their fine bands."""

    folder: Path
    paths: list[Path]
    grid: Grid
    crs: str = PRODUCT_CRS

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        g = self.grid
        return g.x0, g.y0 - g.height * g.res, g.x0 + g.width * g.res, g.y0


def product_grid(counties: gpd.GeoDataFrame, res: float, county: str = PRODUCT_COUNTY) -> Grid:
    """The grid of ``res`` m cells in :data:`PRODUCT_CRS` over ``county``'s bounding box,
    its corners on multiples of ``2 × res`` (so the coarse bands align).

    Examples
    --------
    >>> import layers
    >>> g = product_grid(layers.load("counties", workspace=False), 500.0)
    >>> g.x0, g.y0, g.width, g.height
    (511000.0, 5068000.0, 192, 182)
    """
    poly = counties[counties.county_code.astype(str) == county].to_crs(PRODUCT_CRS)
    minx, miny, maxx, maxy = poly.total_bounds
    step = 2 * res
    x0, y1 = np.floor(minx / step) * step, np.ceil(maxy / step) * step
    w = int(np.ceil((np.ceil(maxx / step) * step - x0) / step)) * 2
    h = int(np.ceil((y1 - np.floor(miny / step) * step) / step)) * 2
    return Grid(float(x0), float(y1), float(res), w, h)


def _scl(lc: np.ndarray) -> np.ndarray:
    """Scene classification from land cover: water 6, built-up/saline barren 5 (not
    vegetated), everything else 4 (vegetation); no clouds."""
    scl = np.full(lc.shape, 4, dtype="uint8")
    scl[np.isin(lc, (LC["built_up"], LC["saline_barren"]))] = 5
    scl[lc == LC["water"]] = 6
    return scl


def write_products(folder: Path, drivers: Drivers, landcover: Path, parcels: gpd.GeoDataFrame,
                   counties: gpd.GeoDataFrame, res: float, *, years: tuple[int, ...], seed: int = 0,
                   on_step: Callable[[float], None] | None = None) -> Products:
    """Write the demo's SYNTHETIC Sentinel-2 L2A products into ``folder``.

    One product per month of :data:`PRODUCT_MONTHS` and year of ``years`` over Da'an at
    ``res`` m (rounded to whole metres), with the NDVI of
    :func:`layers.demo_rasters.ndvi_stack` for that month. Returns :class:`Products`.
    """
    from layers.imagery.synthetic import ProductSpec, write_s2_product

    res = float(max(1, round(res)))
    grid = product_grid(counties, res)
    folder.mkdir(parents=True, exist_ok=True)
    lc = landcover_on(landcover, grid, PRODUCT_CRS)  # once: the SCL band and the NDVI model
    scl = _scl(lc)
    _grid, bands = ndvi_stack(drivers, landcover, parcels, res, years=years, seed=seed, grid=grid,
                              crs=PRODUCT_CRS, months=PRODUCT_MONTHS, landcover=lc)
    paths = []
    total = len(years) * len(PRODUCT_MONTHS)
    for i, (date, ndvi) in enumerate(bands, start=1):
        y, m, d = (int(v) for v in date.split("-"))
        spec = ProductSpec(time=datetime(y, m, d, 2, 50, tzinfo=timezone.utc), crs=PRODUCT_CRS,
                           ulx=grid.x0, uly=grid.y0, res=int(res))
        paths.append(write_s2_product(folder, spec, ndvi, scl))
        if on_step:
            on_step(i / total)
    log.debug("%d synthetic products in %s", len(paths), folder)
    return Products(folder=folder, paths=paths, grid=grid)
