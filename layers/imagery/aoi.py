"""The area of interest of an imagery stack: a county, the city, a parcel file or bounds.

:func:`resolve_aoi` turns what a user types after ``--aoi`` into an :class:`Aoi`: the
polygon (in the output CRS) and the :class:`gis.coverage.Grid` that covers it at the
chosen resolution. Counties come from the catalogue layer with role ``counties``
(the bundled real boundaries unless a workspace overrides them); a parcel file is read
with the importer's reader (:func:`layers.io.read_parcels`), so every format it accepts
works here too. Cells whose centre lies outside the polygon are outside the AOI: the
stack holds NaN there and the valid fraction of a scene counts only cells inside.

Examples
--------
>>> aoi = resolve_aoi("0,0,100,60", crs="EPSG:4550", res=20)
>>> aoi.kind, aoi.grid.width, aoi.grid.height, int(aoi.inside().sum())
('bounds', 5, 3, 15)
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gis.coverage import Grid
from gis.errors import InputError

log = logging.getLogger(__name__)

CITY_NAMES = ("白城市", "白城", "baicheng", "city", "220800")
"""What ``--aoi`` accepts for the whole city (case-insensitive)."""

_NUMBERS = re.compile(r"^\s*[-+0-9.eE]+\s*(,\s*[-+0-9.eE]+\s*){3}$")


@dataclass(frozen=True)
class Aoi:
    """An area of interest on an output grid.

    Attributes
    ----------
    name : str
        What the user gave (county name, file name, bounds), for messages and attributes.
    kind : str
        ``county``, ``city``, ``parcels`` or ``bounds``.
    grid : Grid
        The grid covering the AOI (bounds widened to whole cells).
    geometry : shapely geometry or None
        The AOI polygon in the grid's CRS; None for bounds (every grid cell is inside).
    """

    name: str
    kind: str
    grid: Grid
    geometry: object = None

    def inside(self, grid: Grid | None = None) -> np.ndarray:
        """``True`` for the cells of ``grid`` (default: the AOI's grid, or a block of it)
        whose centre lies in the AOI polygon."""
        grid = grid or self.grid
        if self.geometry is None:
            return np.ones((grid.height, grid.width), dtype=bool)
        from rasterio.features import geometry_mask

        return geometry_mask([self.geometry], out_shape=(grid.height, grid.width), transform=grid.transform,
                             invert=True)


def _county_table(workspace=None):
    import layers

    return layers.get_catalog(workspace).load_role("counties")[0]


def _match_county(counties, value: str):
    """The rows of ``counties`` whose code or name (Chinese, pinyin, English; with or
    without the 市/县/区 suffix) is ``value``."""
    v = value.strip().casefold()
    hits = []
    for i, row in counties.iterrows():
        names = {str(row.get("county_code", "")).casefold()}
        for col in ("name_zh", "name_pinyin", "name_en"):
            text = row.get(col)
            if isinstance(text, str) and text:
                t = text.casefold()
                names |= {t, re.sub(r"[市县区]$", "", t), re.sub(r" (shi|xian|qu|city|county|district)$", "", t)}
        if v in names:
            hits.append(i)
    return counties.loc[hits]


def _polygon(gdf, crs):
    geom = gdf.to_crs(crs).geometry
    return geom.union_all() if hasattr(geom, "union_all") else geom.unary_union


def _from_geometry(name: str, kind: str, gdf, crs, res: float) -> Aoi:
    import pyproj

    crs = pyproj.CRS.from_user_input(crs)
    poly = _polygon(gdf, crs)
    grid = Grid.from_bounds(poly.bounds, crs=crs, res=res)
    return Aoi(name=name, kind=kind, grid=grid, geometry=poly)


def resolve_aoi(value: str, *, crs="EPSG:4550", res: float = 10.0, workspace=None) -> Aoi:
    """The :class:`Aoi` that ``value`` names, on a grid of ``res`` m cells in ``crs``.

    Parameters
    ----------
    value : str
        A county code or name (``220882``, ``大安市``, ``大安``, ``Da'an``), the city
        (``白城市``, ``220800``, ``city``), a parcel file (any format the importer reads:
        its polygons together form the AOI), or bounds ``xmin,ymin,xmax,ymax`` in ``crs``.
    crs : str, default EPSG:4550
        CRS of the output grid.
    res : float
        Cell size in metres.
    workspace : path, optional
        Workspace whose catalogue gives the counties (default: the current directory's).

    Raises
    ------
    InputError
        ``error.imagery_aoi`` for a value that is none of these (the message lists the
        counties); bounds and resolution errors as in :meth:`Grid.from_bounds`.
    """
    text = str(value).strip()
    if _NUMBERS.match(text):
        bounds = parse_bounds(text)
        return Aoi(name=text, kind="bounds", grid=Grid.from_bounds(bounds, crs=crs, res=res))
    path = Path(text)
    if path.is_file():
        from layers.io import read_parcels

        frame = read_parcels(path).frame
        if frame.empty:
            raise InputError.of("error.imagery_aoi_empty", path=path)
        return _from_geometry(path.name, "parcels", frame, crs, res)
    counties = _county_table(workspace)
    if text.casefold() in CITY_NAMES:
        return _from_geometry(text, "city", counties, crs, res)
    hit = _match_county(counties, text)
    if hit.empty:
        choices = ", ".join(f"{r.county_code} {getattr(r, 'name_zh', '')}".strip() for r in counties.itertuples())
        raise InputError.of("error.imagery_aoi", value=text, choices=choices)
    return _from_geometry(text, "county", hit, crs, res)


def parse_bounds(text: str) -> tuple[float, float, float, float]:
    """``"xmin,ymin,xmax,ymax"`` as four floats.

    Examples
    --------
    >>> parse_bounds("0, 0, 100,60")
    (0.0, 0.0, 100.0, 60.0)
    """
    try:
        vals = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        raise InputError.of("error.imagery_bounds", value=text) from None
    if len(vals) != 4:
        raise InputError.of("error.imagery_bounds", value=text)
    return vals
