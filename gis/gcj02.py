"""GCJ-02 ("Mars coordinates"): the offset of Amap/Gaode and Tencent maps.

GCJ-02 is not a PROJ CRS but a deliberate perturbation of WGS84 lon/lat, applied only
inside China; in Baicheng it moves points about 500–570 m (≈ 450–520 m east, 210–240 m
north). agrigis never stores GCJ-02: input declared as GCJ-02 is converted back with
:func:`gcj02_to_wgs84` on import, and geometry is shifted with :func:`to_gcj02` only to
draw it over Gaode tiles. CGCS2000 (EPSG:4490) and WGS84 agree to cm–dm, far below
parcel accuracy, so "WGS84" here means EPSG:4490 lon/lat too.

The forward formula is the public reverse-engineered one (as in ``eviltransform`` and
``prcoords``); the inverse iterates the forward function to a fixed point (≤ 1e-10°,
about 0.01 mm), far better than the usual 1-step inverse (≈ 1 m error).

Examples
--------
>>> lon, lat = wgs84_to_gcj02(122.84, 45.62)        # Baicheng city centre
>>> round(float(lon), 6), round(float(lat), 6)
(122.84587, 45.621906)
>>> back = gcj02_to_wgs84(lon, lat)
>>> round(float(back[0]), 9), round(float(back[1]), 9)
(122.84, 45.62)
>>> wgs84_to_gcj02(2.35, 48.85)                     # Paris: outside China, unchanged
(array(2.35), array(48.85))
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import CRSError

FloatArray = npt.NDArray[np.float64]
_LonLatFn = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]

log = logging.getLogger(__name__)

__all__ = ["wgs84_to_gcj02", "gcj02_to_wgs84", "to_gcj02", "from_gcj02", "in_china", "gcj02_evidence", "looks_like_gcj02"]

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the formula uses it
_EE = 0.00669342162296594323  # Krasovsky e²
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271

INVERSE_TOL_DEG = 1e-10
"""Stop iterating the inverse when the forward residual is below this (≈ 0.01 mm)."""
_MAX_ITER = 30


def in_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether points fall in the box where GCJ-02 applies (same box as prcoords).

    Examples
    --------
    >>> in_china([122.8, 2.35], [45.6, 48.85])
    array([ True, False])
    """
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    inside: npt.NDArray[np.bool_] = (lon >= _LON_MIN) & (lon <= _LON_MAX) & (lat >= _LAT_MIN) & (lat <= _LAT_MAX)
    return inside


def _delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 offset in degrees (dlon, dlat) at WGS84 (lon, lat), no China check."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    sx = np.sqrt(np.abs(x))
    s6 = 2.0 * np.sin(x * 6.0 * pi) + 2.0 * np.sin(x * 2.0 * pi)
    dlat_m = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
        + (s6 + 2.0 * np.sin(y * pi) + 4.0 * np.sin(y / 3.0 * pi)
           + 16.0 * np.sin(y / 12.0 * pi) + 32.0 * np.sin(y / 30.0 * pi)) * 20.0 / 3.0
    )
    dlon_m = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
        + (s6 + 2.0 * np.sin(x * pi) + 4.0 * np.sin(x / 3.0 * pi)
           + 15.0 * np.sin(x / 12.0 * pi) + 30.0 * np.sin(x / 30.0 * pi)) * 20.0 / 3.0
    )
    rad = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad) ** 2
    lat_deg_len = np.radians(_A * (1.0 - _EE) / magic**1.5)
    lon_deg_len = np.radians(_A * np.cos(rad) / np.sqrt(magic))
    return dlon_m / lon_deg_len, dlat_m / lat_deg_len


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS84 / CGCS2000 lon/lat → GCJ-02 lon/lat, vectorised; points outside China unchanged.

    Parameters
    ----------
    lon, lat : float or array_like
        Degrees, any (broadcastable) shape.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        GCJ-02 longitude and latitude, float64, same shape as the input.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02([122.0, 124.0], [45.0, 45.5])
    >>> (lon - [122.0, 124.0]).round(4), (lat - [45.0, 45.5]).round(4)
    (array([0.0058, 0.0065]), array([0.002 , 0.0021]))
    """
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    lon, lat = np.broadcast_arrays(lon, lat)
    dlon, dlat = _delta(lon, lat)
    inside = in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 lon/lat → WGS84 / CGCS2000 lon/lat, exact (iterated) inverse, vectorised.

    Starts from the 1-step inverse and applies fixed-point corrections until the forward
    transform of the result reproduces the input to 1e-10° (normally 3–4 rounds), so the
    round trip is good to far better than 1 cm. Points outside China are unchanged.

    Examples
    --------
    >>> g = wgs84_to_gcj02(123.5, 46.0)
    >>> w = gcj02_to_wgs84(*g)
    >>> abs(float(w[0]) - 123.5) < 1e-9 and abs(float(w[1]) - 46.0) < 1e-9
    True
    """
    glon = np.asarray(lon, dtype="float64")
    glat = np.asarray(lat, dtype="float64")
    glon, glat = np.broadcast_arrays(glon, glat)
    inside = in_china(glon, glat)
    dlon, dlat = _delta(glon, glat)
    wlon, wlat = glon - dlon, glat - dlat
    for _ in range(_MAX_ITER):
        dlon, dlat = _delta(wlon, wlat)
        rlon = wlon + dlon - glon
        rlat = wlat + dlat - glat
        wlon = wlon - rlon
        wlat = wlat - rlat
        err = np.nanmax(np.abs(np.concatenate([rlon.ravel(), rlat.ravel(), [0.0]])))
        if err < INVERSE_TOL_DEG:
            break
    return np.where(inside, wlon, glon), np.where(inside, wlat, glat)


# --- geometries -------------------------------------------------------------------------


def _coord_func(fn: _LonLatFn) -> Callable[[FloatArray], FloatArray]:
    def f(coords: FloatArray) -> FloatArray:
        out = np.array(coords, dtype="float64", copy=True)
        if len(out):
            out[:, 0], out[:, 1] = fn(out[:, 0], out[:, 1])
        return out

    return f


def _check_lonlat_crs(obj: Any) -> None:
    crs = getattr(obj, "crs", None)
    if crs is not None and not crs.is_geographic:
        raise CRSError(
            f"GCJ-02 conversion needs lon/lat coordinates but the data is in {crs.name} "
            f"({crs.to_string()}); reproject it first, e.g. gdf.to_crs('EPSG:4490')"
        )


def _apply(obj: Any, fn: _LonLatFn) -> Any:
    import shapely

    func = _coord_func(fn)

    def geoms(g: Any) -> Any:
        if _SHAPELY_Z_NONE:
            return shapely.transform(g, func, include_z=None)  # type: ignore[call-overload]  # stubs: bool only
        return shapely.transform(g, func)

    try:
        import geopandas as gpd
    except ImportError:  # pragma: no cover - geopandas is a runtime dependency
        gpd = None
    if gpd is not None and isinstance(obj, gpd.GeoDataFrame):
        _check_lonlat_crs(obj)
        out = obj.copy()
        out[obj.geometry.name] = gpd.GeoSeries(
            geoms(obj.geometry.values), index=obj.index, crs=obj.crs
        )
        return out
    if gpd is not None and isinstance(obj, gpd.GeoSeries):
        _check_lonlat_crs(obj)
        return gpd.GeoSeries(geoms(obj.values), index=obj.index, crs=obj.crs, name=obj.name)
    if gpd is not None and isinstance(obj, gpd.array.GeometryArray):
        _check_lonlat_crs(obj)
        return gpd.array.from_shapely(geoms(np.asarray(obj)), crs=obj.crs)
    if isinstance(obj, shapely.Geometry):
        return geoms(obj)
    arr = np.asarray(obj, dtype=object)
    return geoms(arr)


def _shapely_supports_z_none() -> bool:
    """shapely >= 2.1 keeps each geometry's own dimensionality with ``include_z=None``."""
    import shapely

    major, minor = (int(p) for p in re.findall(r"\d+", shapely.__version__)[:2])
    return (major, minor) >= (2, 1)


_SHAPELY_Z_NONE = _shapely_supports_z_none()


def to_gcj02(obj: Any) -> Any:
    """Shift lon/lat geometry to GCJ-02 (for display over Amap/Gaode tiles only).

    Parameters
    ----------
    obj : shapely geometry, array of geometries, GeoSeries or GeoDataFrame
        In lon/lat (EPSG:4490 / 4326). A GeoSeries/GeoDataFrame keeps its CRS label
        (GCJ-02 has no CRS of its own); a projected CRS raises :class:`CRSError`.

    Returns
    -------
    Same type as ``obj``, a new object; Z values are kept unchanged.

    Examples
    --------
    >>> from shapely import Point
    >>> to_gcj02(Point(122.84, 45.62)).wkt
    'POINT (122.84586953... 45.62190638...)'
    """
    return _apply(obj, wgs84_to_gcj02)


def from_gcj02(obj: Any) -> Any:
    """Convert GCJ-02 lon/lat geometry back to WGS84 / CGCS2000 with the exact inverse.

    Same input types as :func:`to_gcj02`.

    Examples
    --------
    >>> from shapely import Point
    >>> p = from_gcj02(to_gcj02(Point(122.84, 45.62)))
    >>> round(p.x, 9), round(p.y, 9)
    (122.84, 45.62)
    """
    return _apply(obj, gcj02_to_wgs84)


SHIFT_MATCH_SAMPLE = 2000
"""Vertices compared with the reference lines by :func:`gcj02_evidence`."""


def gcj02_evidence(geoms: npt.ArrayLike, reference_lines: npt.ArrayLike,
                   sample: int = SHIFT_MATCH_SAMPLE) -> tuple[float, float]:
    """How far the vertices of ``geoms`` lie from ``reference_lines`` (e.g. the county
    boundaries), as they are and after a GCJ-02 → WGS84 shift: ``(median m, median m)``.

    Both in EPSG:4490/WGS84 lon/lat; distances in metres (local equirectangular scale,
    ample for a ratio of hundreds of metres). A file of Amap/DataV outlines lies some
    300 m from the true county lines and on them (< 1 m) once shifted; parcels lie
    equally far either way. See :func:`looks_like_gcj02`.

    Examples
    --------
    >>> import shapely
    >>> line = shapely.LineString([(122.5, 45.5), (123.0, 45.6), (123.2, 45.3)])
    >>> moved = to_gcj02(line)
    >>> before, after = gcj02_evidence([moved], [line])
    >>> before > 100, after < 0.01
    (True, True)
    """
    import shapely

    g = np.asarray(geoms, dtype=object)
    g = g[[isinstance(x, shapely.Geometry) and not shapely.is_empty(x) for x in g]]
    xy = shapely.get_coordinates(g) if len(g) else np.zeros((0, 2))
    if not len(xy):
        return float("nan"), float("nan")
    xy = xy[np.linspace(0, len(xy) - 1, min(len(xy), sample)).astype(int)]
    lines = shapely.union_all(np.asarray(reference_lines, dtype=object))
    shapely.prepare(lines)
    kx, ky = 111_320.0 * np.cos(np.radians(float(np.mean(xy[:, 1])))), 110_574.0

    def metres(points: FloatArray) -> float:
        scaled = shapely.transform(shapely.points(points), lambda c: c * [kx, ky])
        return float(np.median(shapely.distance(scaled, shapely.transform(lines, lambda c: c * [kx, ky]))))

    back = np.c_[gcj02_to_wgs84(xy[:, 0], xy[:, 1])]
    return metres(xy), metres(back)


def looks_like_gcj02(before_m: float, after_m: float) -> bool:
    """True when shapes match the reference lines only after the GCJ-02 shift: more than
    100 m off as they are, within 50 m and five times closer once shifted.

    >>> looks_like_gcj02(370.9, 0.6), looks_like_gcj02(4000.0, 3800.0), looks_like_gcj02(3.0, 400.0)
    (True, False, False)
    """
    return bool(before_m > 100 and after_m < 50 and after_m * 5 < before_m)
