"""Ellipsoidal area of (Multi)Polygons on the CGCS2000 (= GRS80) ellipsoid.

This is how the third national land survey (TD/T 1055-2019) measures parcels: geodetic
lon/lat on the CGCS2000 ellipsoid, never a planar area in degrees and never Web Mercator
(about 2× too large at Baicheng's latitude). Geometry in any CRS is first transformed to
EPSG:4490 lon/lat; the area of each ring is then the geodesic polygon area of
``pyproj.Geod(ellps="GRS80")`` (Karney's algorithm), so results equal
``Geod.geometry_area_perimeter`` on correctly oriented polygons to rounding. Unlike that
function, ring orientation does not matter here: exteriors count positive, holes
subtract.

Examples
--------
>>> from shapely import box
>>> round(float(area_m2(box(122.0, 45.0, 122.01, 45.01), crs="EPSG:4490")), 1)
876163.4
>>> round(float(area_mu(box(500_000, 5_000_000, 501_000, 5_001_000), crs="EPSG:4550")), 3)
1500.0
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache

import numpy as np
import pyproj

from .errors import CRSError, MissingCRSError
from .units import m2_to_mu

log = logging.getLogger(__name__)

__all__ = ["area_m2", "area_mu", "GEOD"]

GEOD = pyproj.Geod(ellps="GRS80")
"""The CGCS2000 / GRS80 ellipsoid used for every area in agrigis."""


@lru_cache(maxsize=32)
def _to_lonlat(crs_wkt: str) -> pyproj.Transformer | None:
    src = pyproj.CRS.from_wkt(crs_wkt)
    dst = pyproj.CRS.from_epsg(4490)
    if src == dst:
        return None
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _as_geometry_array(geoms) -> tuple[np.ndarray, object, bool]:
    """(object ndarray of geometries, crs found on the input or None, scalar input?)."""
    import shapely

    if isinstance(geoms, shapely.Geometry):
        return np.array([geoms], dtype=object), None, True
    try:
        import geopandas as gpd
    except ImportError:  # pragma: no cover - geopandas is a runtime dependency
        gpd = None
    if gpd is not None and isinstance(geoms, gpd.GeoDataFrame):
        geoms = geoms.geometry
    if gpd is not None and isinstance(geoms, (gpd.GeoSeries, gpd.array.GeometryArray)):
        return np.asarray(geoms.values if hasattr(geoms, "values") else geoms, dtype=object), geoms.crs, False
    arr = np.asarray(geoms, dtype=object)
    if arr.ndim != 1:
        arr = arr.ravel()
    return arr, None, False


def _resolve_crs(found, given) -> pyproj.CRS:
    if given is not None:
        try:
            given = pyproj.CRS.from_user_input(given)
        except pyproj.exceptions.CRSError as exc:
            raise CRSError(f"area: cannot understand crs={given!r} ({exc}); pass e.g. 'EPSG:4490'") from exc
    if found is not None and given is not None and not pyproj.CRS(found).equals(given):
        raise CRSError(
            f"area: the data is in {pyproj.CRS(found).to_string()} but crs={given.to_string()} was "
            "passed; drop the crs argument or reproject the data first"
        )
    crs = given if given is not None else found
    if crs is None:
        raise MissingCRSError(
            "area: the geometry has no CRS, so its area cannot be measured (a planar area in "
            "degrees would be meaningless); set one, e.g. gdf.set_crs('EPSG:4490') or "
            "area_m2(geoms, crs='EPSG:4550')"
        )
    return pyproj.CRS(crs)


def _polygon_parts(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten to single Polygons; returns (polygons, index of the input they came from)."""
    import shapely

    idx = np.arange(len(arr))
    parts = arr
    multi = {shapely.GeometryType.MULTIPOLYGON, shapely.GeometryType.GEOMETRYCOLLECTION,
             shapely.GeometryType.MULTILINESTRING, shapely.GeometryType.MULTIPOINT}
    while True:
        types = shapely.get_type_id(parts)
        if not np.isin(types, [int(t) for t in multi]).any():
            break
        parts, sub = shapely.get_parts(parts, return_index=True)
        idx = idx[sub]
    keep = shapely.get_type_id(parts) == int(shapely.GeometryType.POLYGON)
    return parts[keep], idx[keep]


_CHUNK = 4096  # rings per task; pyproj releases the GIL inside each ring's computation


# pyproj's public polygon_area_perimeter copies its input into new buffers on every call,
# which costs more than the geodesic computation for a parcel-sized ring; the Cython
# method underneath takes our (writable, contiguous float64) slices directly.
_PAP = getattr(GEOD, "_polygon_area_perimeter", None) or GEOD.polygon_area_perimeter


def _ring_chunk(lon, lat, starts, ends, out, lo, hi) -> None:
    pap = _PAP
    for i in range(lo, hi):
        s, e = starts[i], ends[i]
        out[i] = pap(lon[s:e], lat[s:e])[0] if e - s > 2 else 0.0


def _ring_areas(lon, lat, starts, ends) -> np.ndarray:
    """Signed geodesic area of each ring (Karney's algorithm in PROJ), threads over chunks."""
    n = len(starts)
    out = np.empty(n, dtype="float64")
    starts, ends = starts.tolist(), ends.tolist()
    workers = min(os.cpu_count() or 1, 4, -(-n // _CHUNK))
    if workers <= 1:
        _ring_chunk(lon, lat, starts, ends, out, 0, n)
        return out
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        jobs = [pool.submit(_ring_chunk, lon, lat, starts, ends, out, lo, min(lo + _CHUNK, n))
                for lo in range(0, n, _CHUNK)]
        for j in jobs:
            j.result()
    return out


def area_m2(geoms, crs=None) -> np.ndarray:
    """Ellipsoidal (CGCS2000 / GRS80) area of each geometry, in square metres.

    Parameters
    ----------
    geoms : shapely geometry, sequence/array of geometries, GeoSeries or GeoDataFrame
        Polygons and MultiPolygons (other geometry types have area 0; missing
        geometries give NaN; empty ones 0).
    crs : CRS-like, optional
        CRS of ``geoms``. GeoSeries/GeoDataFrames use their own ``.crs``; passing a
        different one raises :class:`~gis.errors.CRSError`.

    Returns
    -------
    numpy.ndarray of float64, one value per geometry (a numpy float for one geometry).

    Raises
    ------
    MissingCRSError
        If no CRS is known.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box, Polygon
    >>> ring = Polygon([(0, 0), (2000, 0), (2000, 2000), (0, 2000)], [[(500, 500), (1500, 500), (1500, 1500), (500, 1500)]])
    >>> s = gpd.GeoSeries([box(0, 0, 1000, 1000), ring], crs="EPSG:4550").translate(500_000, 5_000_000)
    >>> area_m2(s).round(0)
    array([1000000., 3000000.])
    """
    import shapely

    arr, found, scalar = _as_geometry_array(geoms)
    crs = _resolve_crs(found, crs)
    out = np.zeros(len(arr), dtype="float64")
    missing = shapely.is_missing(arr)
    out[missing] = np.nan
    polys, pidx = _polygon_parts(arr[~missing] if missing.any() else arr)
    if missing.any():
        pidx = np.flatnonzero(~missing)[pidx]
    if len(polys):
        rings, ridx = shapely.get_rings(polys, return_index=True)
        is_ext = np.ones(len(rings), dtype=bool)
        is_ext[1:] = ridx[1:] != ridx[:-1]
        coords, cidx = shapely.get_coordinates(rings, return_index=True)
        lon, lat = coords[:, 0], coords[:, 1]
        tr = _to_lonlat(crs.to_wkt())
        if tr is not None:
            lon, lat = tr.transform(lon, lat)
        if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
            raise CRSError(
                f"area: some coordinates cannot be transformed from {crs.to_string()} to "
                "lon/lat; check that the declared CRS is right"
            )
        if crs.is_geographic and (np.abs(lat).max(initial=0) > 90 or np.abs(lon).max(initial=0) > 360):
            raise CRSError(
                f"area: coordinates up to ({np.abs(lon).max():.0f}, {np.abs(lat).max():.0f}) are "
                f"not degrees, yet the CRS is {crs.to_string()}; declare the right CRS"
            )
        ends = np.searchsorted(cidx, np.arange(len(rings)), side="right")
        starts = np.concatenate([[0], ends[:-1]])
        ring_area = _ring_areas(np.array(lon, dtype="float64"), np.array(lat, dtype="float64"),
                                starts, ends)
        ring_area = np.abs(ring_area)
        ring_area[~is_ext] *= -1.0
        poly_area = np.bincount(ridx, weights=ring_area, minlength=len(polys))
        out += np.bincount(pidx, weights=poly_area, minlength=len(arr))
    return out[0] if scalar else out


def area_mu(geoms, crs=None) -> np.ndarray:
    """Ellipsoidal area in 亩 (1 亩 = 2000/3 m²); same arguments as :func:`area_m2`.

    Examples
    --------
    >>> from shapely import box
    >>> round(float(area_mu(box(500_000, 5_000_000, 500_100, 5_000_100), crs="EPSG:4550")), 6)
    15.0
    """
    return m2_to_mu(area_m2(geoms, crs=crs))
