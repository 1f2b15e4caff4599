"""Geometry in EPSG:4550 (Gauss-Krüger CM 123°E), where agrigis computes topology, and
ellipsoidal areas of it.

:func:`to_gk` reprojects in steps (the same transform as ``GeoSeries.to_crs``);
:func:`gk_with_area` also measures each source geometry's ellipsoidal area. For the
usual registry parcels — lon/lat (EPSG:4490) Polygons without holes — both come from one
pass over the coordinates: the lon/lat give the areas, their transform the EPSG:4550
polygons (rebuilt from the ragged coordinate arrays, not copied and overwritten).

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> s = gpd.GeoSeries([box(122.0, 45.0, 122.01, 45.01)], crs="EPSG:4490")
>>> geoms, area = gk_with_area(s, "the parcels")
>>> round(float(area[0]), 1), round(float(area_gk(geoms)[0]), 1)
(876163.4, 876163.4)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .area import area_m2, is_lonlat, lonlat_ring_areas
from .crs import GK_CM123 as GK
from .errors import MissingCRSError
from .units import FloatArray

if TYPE_CHECKING:
    from .coverage import GeomArray

__all__ = ["to_gk", "area_gk", "gk_with_area"]

_STEP = 131_072  # geometries per step of a reprojection: bounds its temporary arrays


def _geoms(gs: Any) -> GeomArray:
    return np.asarray(gs.array if hasattr(gs, "array") else gs, dtype=object)


def _require_crs(gdf: Any, what: str) -> None:
    """A :class:`~gis.errors.MissingCRSError` naming ``what`` when ``gdf`` has no CRS."""
    if gdf.crs is None:
        raise MissingCRSError(
            f"{what} has no CRS; set it first, e.g. gdf.set_crs('EPSG:4490') for lon/lat"
        )


def to_gk(gdf: Any, what: str) -> GeomArray:
    """The geometries in EPSG:4550, reprojected in steps (the same transform as ``to_crs``)."""
    import pyproj
    import shapely

    _require_crs(gdf, what)
    geoms = _geoms(gdf.geometry)
    if pyproj.CRS(gdf.crs).equals(GK):
        same: GeomArray = geoms.copy()
        return same
    tr = pyproj.Transformer.from_crs(gdf.crs, GK, always_xy=True)
    out = np.empty(len(geoms), dtype=object)
    for lo in range(0, len(geoms), _STEP):
        out[lo:lo + _STEP] = shapely.transform(geoms[lo:lo + _STEP],
                                               lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    return out


def area_gk(geoms: GeomArray | list[Any]) -> FloatArray:
    """Ellipsoidal area (m²) of EPSG:4550 geometries."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return np.zeros(0)
    return np.asarray(area_m2(geoms, crs=GK), dtype=np.float64)


def gk_with_area(src: Any, what: str) -> tuple[GeomArray, FloatArray]:
    """``src`` (a GeoSeries) in EPSG:4550 and the ellipsoidal area (m²) of each geometry."""
    _require_crs(src, what)
    geoms = _geoms(src.geometry)
    if is_lonlat(src.crs) and _simple_polygons(geoms):
        return _lonlat_polygons_to_gk(geoms, src.crs)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:  # both release the GIL for most of their time
        area_job = pool.submit(area_m2, src)  # from the source CRS: no second transform
        P = to_gk(src, what)
        return P, np.asarray(area_job.result(), dtype="float64")


def _simple_polygons(geoms: GeomArray) -> bool:
    """All geometries are Polygons without holes (an empty one has no coordinates)."""
    import shapely

    return bool(len(geoms)) and bool(
        np.all(shapely.get_type_id(geoms) == int(shapely.GeometryType.POLYGON))
        and not shapely.get_num_interior_rings(geoms).any()
    )


def _lonlat_polygons_to_gk(geoms: GeomArray, crs: Any) -> tuple[GeomArray, FloatArray]:
    """Lon/lat Polygons without holes: their coordinates read once, for the areas and the
    EPSG:4550 polygons (the same coordinates ``to_gk`` gives, bit for bit)."""
    import pyproj
    import shapely

    tr = pyproj.Transformer.from_crs(crs, GK, always_xy=True)
    out = np.empty(len(geoms), dtype=object)
    area = np.empty(len(geoms), dtype="float64")
    for lo in range(0, len(geoms), _STEP):
        part = geoms[lo:lo + _STEP]
        coords, owner = shapely.get_coordinates(part, return_index=True)
        offsets = np.zeros(len(part) + 1, dtype=np.intp)
        np.cumsum(np.bincount(owner, minlength=len(part)), out=offsets[1:])
        area[lo:lo + len(part)] = lonlat_ring_areas(coords[:, 0], coords[:, 1], offsets)
        xy = np.column_stack(tr.transform(coords[:, 0], coords[:, 1]))
        out[lo:lo + len(part)] = shapely.from_ragged_array(shapely.GeometryType.POLYGON, xy,
                                                           (offsets, np.arange(len(part) + 1)))
    return out, area
