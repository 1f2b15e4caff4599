"""Coordinate reference systems used in Baicheng, and sniffing the CRS of bare coordinates.

* Stored geometry: CGCS2000 geographic, :data:`CGCS2000` = EPSG:4490 (lon/lat).
* Planar work: CGCS2000 3° Gauss-Krüger, CM 123°E, without zone prefix,
  :data:`GK_CM123` = EPSG:4550; with the zone prefix (eastings 41 xxx xxx) it is
  :data:`GK_ZONE41` = EPSG:4529. All of Baicheng lies in that zone.
* :func:`gk_crs` gives the CGCS2000 3° or 6° Gauss-Krüger CRS for any longitude in China.
* :func:`guess_crs` tells the CRS of coordinates that arrive without one;
  :func:`check_crs` tells whether coordinates are plausible for the CRS a file declares.

Always transform with ``always_xy=True``: x is easting/longitude, y northing/latitude.

Examples
--------
>>> gk_crs(122.8).to_epsg(), gk_crs(122.8, prefix=True).to_epsg()
(4550, 4529)
>>> g = guess_crs([41_560_000.0, 41_600_000.0], [5_050_000.0, 5_060_000.0])
>>> g.crs.to_epsg(), g.swapped
(4529, False)
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj

from .units import FloatArray

from .errors import AmbiguousCRSError, CRSError, Message
from .labels import DEFAULT_LANG, message

log = logging.getLogger(__name__)

__all__ = [
    "CGCS2000", "GK_CM123", "GK_ZONE41", "WGS84", "WEB_MERCATOR",
    "gk_crs", "gk_zone_crs", "CRSGuess", "guess_crs", "CRSCheck", "check_crs",
    "CHINA_BOUNDS", "BAICHENG_BOUNDS",
]

CGCS2000 = "EPSG:4490"
"""CGCS2000 geographic 2D (lon/lat with ``always_xy``): how agrigis stores geometry."""
GK_CM123 = "EPSG:4550"
"""CGCS2000 3° Gauss-Krüger CM 123°E, false easting 500 000 m (no zone prefix)."""
GK_ZONE41 = "EPSG:4529"
"""CGCS2000 3° Gauss-Krüger zone 41 (CM 123°E), false easting 41 500 000 m (with prefix)."""
WGS84 = "EPSG:4326"
WEB_MERCATOR = "EPSG:3857"

CHINA_BOUNDS = (73.0, 18.0, 135.5, 54.0)
"""(lon_min, lat_min, lon_max, lat_max) of China, for plausibility checks."""
BAICHENG_BOUNDS = (120.5, 43.5, 125.5, 47.5)
"""Baicheng (≈121.6–124.4°E, 44.2–46.3°N) with a margin of about half a degree."""

# CGCS2000 Gauss-Krüger EPSG blocks (verified with pyproj / PROJ 9.5):
#   3° zones 25..45 (CM 75..135°E): with prefix 4513..4533, without 4534..4554
#   6° zones 13..23 (CM 75..135°E): with prefix 4491..4501, without 4502..4512
_GK3_ZONES = range(25, 46)
_GK6_ZONES = range(13, 24)


def _zone(lon: float, width: int) -> int:
    if width == 3:
        return int(math.floor(lon / 3.0 + 0.5))
    if width == 6:
        return int(math.floor(lon / 6.0)) + 1
    raise CRSError(f"Gauss-Krüger zone width must be 3 or 6 degrees, not {width!r}")


def _gk_epsg(zone: int, width: int, prefix: bool) -> int:
    if width == 3:
        return (4513 if prefix else 4534) + zone - 25
    return (4491 if prefix else 4502) + zone - 13


def gk_crs(lon: float, width: int = 3, prefix: bool = False) -> pyproj.CRS:
    """The CGCS2000 Gauss-Krüger CRS whose zone contains longitude ``lon``.

    Parameters
    ----------
    lon : float
        Longitude in degrees east (China: 73.5–135°E).
    width : {3, 6}
        Zone width in degrees. 3° zone n has CM 3n°E; 6° zone n has CM 6n−3°E.
    prefix : bool
        True for the CRS whose false easting carries the zone number
        (zone × 1 000 000 + 500 000), False for plain 500 000 m.

    Raises
    ------
    CRSError
        If ``lon`` lies outside the zones that CGCS2000 defines (CM 75–135°E).

    Examples
    --------
    >>> gk_crs(122.8).name
    'CGCS2000 / 3-degree Gauss-Kruger CM 123E'
    >>> gk_crs(122.8, width=6, prefix=True).to_epsg()
    4499
    """
    lon = float(lon)
    zone = _zone(lon, width)
    zones = _GK3_ZONES if width == 3 else _GK6_ZONES
    if zone not in zones:
        raise CRSError(
            f"longitude {lon:g}° is outside the CGCS2000 {width}° Gauss-Krüger zones "
            f"(central meridians 75–135°E); pass a longitude in China"
        )
    return pyproj.CRS.from_epsg(_gk_epsg(zone, width, prefix))


def gk_zone_crs(zone: int, width: int = 3, prefix: bool = True) -> pyproj.CRS:
    """The CGCS2000 Gauss-Krüger CRS of zone number ``zone`` (as a 带号 gives it).

    Examples
    --------
    >>> gk_zone_crs(41).to_epsg(), gk_zone_crs(41, prefix=False).to_epsg(), gk_zone_crs(21, 6).to_epsg()
    (4529, 4550, 4499)
    """
    zones = _GK3_ZONES if width == 3 else _GK6_ZONES if width == 6 else ()
    if zone not in zones:
        raise CRSError(f"zone {zone!r} is not a CGCS2000 {width}° Gauss-Krüger zone "
                       f"({'25–45' if width == 3 else '13–23'} for {width}° zones)")
    return pyproj.CRS.from_epsg(_gk_epsg(int(zone), width, prefix))


@dataclass(frozen=True)
class CRSGuess:
    """Result of :func:`guess_crs`.

    Attributes
    ----------
    crs : pyproj.CRS
        The CRS of the coordinates, for ``always_xy=True`` use *after* swapping.
    swapped : bool
        True if the stored axes are in the wrong order (latitude/northing first):
        swap x and y before using ``crs``.
    reason : str
        One line for the user, saying what was seen and what was assumed, in English
        (stable: notebooks and :func:`check_crs` use it); :meth:`reason_text` gives it
        in either language.
    key : str
        Key of the reason's template in :data:`gis.labels.LABELS` (``"crs.…"``), or
        ``""`` for a guess made by hand (then :meth:`reason_text` is ``reason``).
    params : mapping
        The values filled into the template (coordinate ranges, CRS name, zone).
    """

    crs: pyproj.CRS
    swapped: bool
    reason: str
    key: str = ""
    params: Mapping[str, object] = dataclasses.field(default_factory=dict, compare=False)

    def reason_text(self, lang: str = DEFAULT_LANG) -> str:
        """:attr:`reason` in ``lang`` (``"zh"``, the default, or ``"en"``).

        Examples
        --------
        >>> g = guess_crs([45.2, 45.9], [122.5, 123.1])
        >>> print(g.reason_text())
        坐标轴顺序颠倒(第一个值是纬度/北坐标):坐标值 x 122.5…123.1、y 45.2…45.9 为中国境内的经纬度(度),按 China Geodetic Coordinate System 2000 (EPSG:4490) 处理
        >>> g.reason_text("en") == g.reason
        True
        """
        if not self.key:
            return self.reason
        text = message(self.key, lang, **self.params)
        return message("crs.swapped", lang, reason=text) if self.swapped else text

    def reason_message(self) -> Message | str:
        """:attr:`reason` as a :class:`~gis.errors.Message` to put into another message
        (``str()`` English, ``.text(lang)`` either language); the plain :attr:`reason`
        for a guess made by hand."""
        if not self.key:
            return self.reason
        m = Message(self.key, **self.params)
        return Message("crs.swapped", reason=m) if self.swapped else m


def _guess(crs: pyproj.CRS, swapped: bool, key: str, **params: Any) -> CRSGuess:
    """A :class:`CRSGuess` whose English ``reason`` is its template ``key`` filled with ``params``."""
    g = CRSGuess(crs, swapped, "", key, params)
    return dataclasses.replace(g, reason=g.reason_text("en"))


def _in(v: FloatArray, lo: float, hi: float) -> bool:
    return bool(v.size) and bool(np.all((v >= lo) & (v <= hi)))


def _on(lon: FloatArray, lat: FloatArray, bounds: tuple[float, float, float, float]) -> bool:
    return _in(lon, bounds[0], bounds[2]) and _in(lat, bounds[1], bounds[3])


@lru_cache(maxsize=64)
def _to_cgcs2000(crs_text: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(crs_text), CGCS2000, always_xy=True)


def _inverse(crs: str | pyproj.CRS, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    tr = _to_cgcs2000(crs if isinstance(crs, str) else pyproj.CRS(crs).to_wkt())
    with np.errstate(all="ignore"):
        lon, lat = tr.transform(x, y)
    return np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")


def _fmt(v: float) -> str:
    """A coordinate for a message: whole metres for eastings and northings, six
    significant digits otherwise (``1e+300``, never a 300-digit number)."""
    return f"{v:.0f}" if 1e5 <= abs(v) < 1e10 else f"{v:.6g}"


def _rng(v: FloatArray) -> str:
    return f"{_fmt(v.min())}…{_fmt(v.max())}"


def _clean(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(x, dtype="float64").ravel()
    y = np.asarray(y, dtype="float64").ravel()
    if x.shape != y.shape:
        raise CRSError(f"guess_crs: x and y have different lengths ({x.size} and {y.size})")
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def _name(crs: pyproj.CRS) -> str:
    return f"{crs.name} (EPSG:{crs.to_epsg()})"


def _guess_unswapped(x: FloatArray, y: FloatArray) -> tuple[pyproj.CRS, str, dict[str, Any]] | None:
    """``(crs, reason key, reason params)`` for (x = easting/lon, y = northing/lat) in the
    given order, or None."""
    # lon/lat degrees in China
    if _on(x, y, CHINA_BOUNDS):
        crs = pyproj.CRS.from_user_input(CGCS2000)
        return crs, "crs.lonlat_china", {"x": _rng(x), "y": _rng(y), "name": _name(crs)}
    ax = np.abs(x)
    # Web Mercator metres landing around Baicheng (exports from web maps)
    if _in(ax, 1e7, 1e8) and _in(y, 1e6, 1e7):
        lon, lat = _inverse(WEB_MERCATOR, x, y)
        if _on(lon, lat, BAICHENG_BOUNDS):
            crs = pyproj.CRS.from_user_input(WEB_MERCATOR)
            return crs, "crs.web_mercator", {"x": _rng(x), "y": _rng(y), "name": _name(crs)}
    # Gauss-Krüger with the zone number in front of the easting (8 digits)
    if _in(x, 1e7, 1e8 - 1) and _in(y, 1e6, 1e7):
        zones = np.unique(np.floor(x / 1e6).astype(int))
        if len(zones) == 1:
            zone = int(zones[0])
            width = 3 if zone in _GK3_ZONES else 6 if zone in _GK6_ZONES else None
            if width is not None:
                crs = pyproj.CRS.from_epsg(_gk_epsg(zone, width, True))
                lon, lat = _inverse(crs, x, y)
                if _on(lon, lat, CHINA_BOUNDS):
                    return crs, "crs.gk_zone_prefix", {"x": _rng(x), "zone": zone, "name": _name(crs)}
    # Gauss-Krüger without prefix (6-digit easting): only CM 123°E is safe, for Baicheng
    if _in(x, 1e5, 1e6 - 1) and _in(y, 1e6, 1e7):
        crs = pyproj.CRS.from_user_input(GK_CM123)
        lon, lat = _inverse(crs, x, y)
        if _on(lon, lat, BAICHENG_BOUNDS):
            return crs, "crs.gk_cm123", {"x": _rng(x), "y": _rng(y), "name": _name(crs)}
    return None


def guess_crs(x: npt.ArrayLike, y: npt.ArrayLike) -> CRSGuess:
    """Guess the CRS of coordinates that came without one (or with a wrong one).

    Parameters
    ----------
    x, y : array_like
        The first and second coordinate of every vertex *as stored* in the file
        (NaN/inf ignored).

    Returns
    -------
    CRSGuess
        ``crs``, ``swapped`` (swap x and y before use) and a one-line ``reason``
        (English; ``reason_text(lang)`` gives it in Chinese or English).

    Raises
    ------
    AmbiguousCRSError
        If the values fit none of the cases below, or fit in a way that cannot be
        told apart (e.g. 6-digit eastings away from Baicheng). The message lists the
        coordinate range and says how to declare the CRS.

    Notes
    -----
    Cases, tried in both axis orders (the stored order first):

    1. longitude/latitude degrees inside China (73–135.5°E, 18–54°N) → EPSG:4490;
    2. Web Mercator metres that fall on Baicheng → EPSG:3857;
    3. 8-digit eastings whose first two digits are a CGCS2000 Gauss-Krüger zone
       (3° zones 25–45 → EPSG:4513–4533, 6° zones 13–23 → EPSG:4491–4501) and that
       fall in China → that zone;
    4. 6-digit eastings and 7-digit northings that fall on Baicheng with CM 123°E
       → EPSG:4550 (elsewhere the central meridian cannot be told). UTM zone 51N
       (EPSG:32651) has the same central meridian but scale 0.9996, so its northings
       are ≈ 2 km smaller here; coordinates alone cannot tell the two apart, and the
       reason says so.

    Examples
    --------
    >>> guess_crs([122.5, 123.1], [45.2, 45.9]).crs.to_epsg()
    4490
    >>> g = guess_crs([45.2, 45.9], [122.5, 123.1])
    >>> g.crs.to_epsg(), g.swapped
    (4490, True)
    >>> print(guess_crs([562_000.0], [5_050_000.0]).reason)
    6-digit eastings 562000…562000 with northings 5050000…5050000 fall on Baicheng as Gauss-Krüger CM 123°E; assumed CGCS2000 / 3-degree Gauss-Kruger CM 123E (EPSG:4550) (UTM zone 51N data looks the same but lies ≈2 km off: then declare --crs EPSG:32651)
    >>> print(guess_crs([562_000.0], [5_050_000.0]).reason_text())
    6 位东坐标 562000…562000、北坐标 5050000…5050000 按中央经线 123°E 的高斯-克吕格投影落在白城市范围内,按 CGCS2000 / 3-degree Gauss-Kruger CM 123E (EPSG:4550) 处理(UTM 51N 带的数据数值相近,但位置相差约 2 公里:如为 UTM 坐标,请用 --crs EPSG:32651 指定)
    >>> guess_crs([3.0], [4.0])
    Traceback (most recent call last):
    ...
    gis.errors.AmbiguousCRSError: cannot tell the coordinate system of x 3…3, y 4…4: ...
    """
    x, y = _clean(x, y)
    if x.size == 0:
        raise AmbiguousCRSError.of("error.crs_no_coordinates")
    hit = _guess_unswapped(x, y)
    if hit is not None:
        return _guess(hit[0], False, hit[1], **hit[2])
    hit = _guess_unswapped(y, x)
    if hit is not None:
        return _guess(hit[0], True, hit[1], **hit[2])
    # Plain degrees outside China: only when the order is unmistakable
    if _in(np.abs(x), 0, 180) and _in(np.abs(y), 0, 90) and np.abs(x).max() > 90:
        crs = pyproj.CRS.from_user_input(CGCS2000)
        return _guess(crs, False, "crs.lonlat_abroad", x=_rng(x), y=_rng(y), name=_name(crs))
    raise AmbiguousCRSError.of("error.crs_ambiguous", x=_rng(x), y=_rng(y))


@dataclass(frozen=True)
class CRSCheck:
    """Result of :func:`check_crs`.

    Attributes
    ----------
    ok : bool
        True if the coordinates are plausible in the declared CRS (they land in China).
    reason : str
        One line for the user: why they are (not) plausible, and the suggestion if any,
        in English; :meth:`reason_text` gives it in either language.
    suggestion : CRSGuess or None
        :func:`guess_crs` of the coordinates when ``ok`` is False and a guess exists.
    message : gis.errors.Message or None
        The reason as a message key (``"crs.check_…"``) and its values; None for a
        check made by hand (then :meth:`reason_text` is ``reason``).
    """

    ok: bool
    reason: str
    suggestion: CRSGuess | None = None
    message: Message | None = dataclasses.field(default=None, compare=False, repr=False)

    def reason_text(self, lang: str = DEFAULT_LANG) -> str:
        """:attr:`reason` in ``lang`` (``"zh"``, the default, or ``"en"``).

        Examples
        --------
        >>> c = check_crs("EPSG:4326", [41_560_000.0], [5_050_000.0])
        >>> print(c.reason_text())
        声明的坐标系为 WGS 84 (EPSG:4326),但 x 41560000…41560000、y 5050000…5050000 不是中国境内的经纬度(度);根据坐标推测:8 位东坐标 41560000…41560000 以高斯-克吕格投影带号 41 开头,按 CGCS2000 / 3-degree Gauss-Kruger zone 41 (EPSG:4529) 处理
        >>> c.reason_text("en") == c.reason
        True
        """
        return self.reason if self.message is None else self.message.text(lang)

    def reason_message(self) -> Message | str:
        """The reason to put into another message: :attr:`message`, else :attr:`reason`."""
        return self.reason if self.message is None else self.message


def _check_result(ok: bool, key: str, suggestion: CRSGuess | None = None, **params: Any) -> CRSCheck:
    """A :class:`CRSCheck` whose English ``reason`` is its template ``key`` filled with ``params``."""
    m = Message(key, **params)
    return CRSCheck(ok, str(m), suggestion, m)


def check_crs(declared_crs: Any, x: npt.ArrayLike, y: npt.ArrayLike) -> CRSCheck:
    """Tell whether coordinates are plausible for the CRS a file declares.

    Use it when a file carries a CRS (a .prj, a GeoPackage SRS) that may be wrong:
    the classic case is a .prj saying WGS84 on Gauss-Krüger metres, or lon/lat
    stored as lat/lon. It never raises on implausible data; it reports.

    Parameters
    ----------
    declared_crs : CRS-like
        What the file says (anything ``pyproj.CRS.from_user_input`` accepts).
    x, y : array_like
        Coordinates *as stored* (first, second axis; GIS files store easting/lon first).

    Returns
    -------
    CRSCheck
        ``ok`` is True when every finite vertex, transformed from ``declared_crs`` to
        EPSG:4490 with ``always_xy=True``, lands inside China (73–135.5°E, 18–54°N).
        Otherwise ``ok`` is False, ``reason`` says where they landed, and
        ``suggestion`` holds :func:`guess_crs` (None if that is ambiguous too). The
        caller decides: use ``suggestion.crs`` (swap axes if ``suggestion.swapped``),
        or reject the file with ``reason``.

    Raises
    ------
    CRSError
        If ``declared_crs`` itself cannot be parsed.

    Examples
    --------
    >>> c = check_crs("EPSG:4326", [41_560_000.0], [5_050_000.0])
    >>> c.ok, c.suggestion.crs.to_epsg()
    (False, 4529)
    >>> print(c.reason)
    declared WGS 84 (EPSG:4326) but x 41560000…41560000, y 5050000…5050000 are not degrees in China; 8-digit eastings 41560000…41560000 start with the Gauss-Krüger zone number 41; assumed CGCS2000 / 3-degree Gauss-Kruger zone 41 (EPSG:4529)
    >>> check_crs("EPSG:4490", [122.8], [45.6]).ok
    True
    """
    try:
        crs = pyproj.CRS.from_user_input(declared_crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError.of("error.crs_declared_unparsable", crs=declared_crs, detail=str(exc)) from exc
    x, y = _clean(x, y)
    epsg = crs.to_epsg()
    name = f"{crs.name} (EPSG:{epsg})" if epsg else crs.name
    if x.size == 0:
        return _check_result(True, "crs.check_no_coordinates", name=name)
    lon, lat = _inverse(crs, x, y)
    if _on(lon, lat, CHINA_BOUNDS):
        return _check_result(True, "crs.check_ok", name=name, lon=_rng(lon), lat=_rng(lat))
    if crs.is_geographic:
        why = Message("crs.check_not_degrees", name=name, x=_rng(x), y=_rng(y))
    elif np.all(np.isfinite(lon)) and np.all(np.isfinite(lat)):
        why = Message("crs.check_outside", name=name, x=_rng(x), y=_rng(y), lon=_rng(lon), lat=_rng(lat))
    else:
        why = Message("crs.check_unplaceable", name=name, x=_rng(x), y=_rng(y))
    try:
        guess = guess_crs(x, y)
    except AmbiguousCRSError:
        return _check_result(False, "crs.check_no_guess", why=why)
    return _check_result(False, "crs.check_guess", guess, why=why, guess=guess.reason_message())
