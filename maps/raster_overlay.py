"""Raster overlays: a class raster or an index as a PNG image layer with a class legend.

The raster is reprojected to Web Mercator (EPSG:3857) first, because Leaflet stretches an
image overlay linearly between its corner coordinates in the map's projection; an image in
lon/lat would be misplaced by up to a few hundred metres across Baicheng. The PNG is
written with rasterio's PNG driver (no extra dependency) and embedded as a data: URI.
"""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path
from itertools import pairwise
from dataclasses import dataclass

import numpy as np

from gis.errors import GridError, InputError, MissingCRSError

from .style import CLASS_PALETTE, severity_colors

ROLE_SCHEMES_FILE = Path(__file__).with_name("raster_schemes.yml")
"""Catalogue role → severity scheme id (``roles:``), e.g. ``soil_ec: ec_aafc``."""

MAX_PIXELS = 2048
"""Longest side of the overlay image; larger rasters are resampled (legend unchanged)."""


@dataclass
class RasterClass:
    """One legend class: values ``lo <= v < hi`` (or ``v == value``) drawn in ``color``;
    ``closed="right"`` makes it ``lo < v <= hi`` (a value on a bound goes to the lower class)."""

    label: str
    color: str
    value: float | None = None
    lo: float | None = None
    hi: float | None = None
    closed: str = "left"


def _rgba(color: str, alpha: int = 255) -> tuple[int, int, int, int]:
    c = color.lstrip("#")
    if len(c) != 6:
        raise InputError(f"colour {color!r} is not #rrggbb")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), alpha


def to_web_mercator(da, categorical: bool, max_pixels: int = MAX_PIXELS):
    """Reproject a 2-D DataArray to EPSG:3857 (nearest for classes, bilinear otherwise)."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    from rasterio.enums import Resampling
    from rasterio.warp import calculate_default_transform

    if da.rio.crs is None:
        raise MissingCRSError.of("error.map_raster_no_crs")
    if da.ndim == 3 and da.shape[0] == 1:
        da = da[0]
    if da.ndim != 2:
        raise GridError.of("error.map_overlay_bands", dims=dict(da.sizes))
    nodata = da.rio.nodata
    da = da.astype("float64")
    if nodata is not None and not np.isnan(nodata):
        da = da.where(da != nodata)
    da = da.rio.write_nodata(np.nan)
    # the size GDAL would choose, without warping the whole raster just to learn it
    _, w, h = calculate_default_transform(da.rio.crs, "EPSG:3857", da.rio.width, da.rio.height,
                                          *da.rio.bounds())
    if max(h, w) <= max_pixels:
        return da.rio.reproject("EPSG:3857", resampling=Resampling.nearest if categorical else Resampling.bilinear)
    f = max_pixels / max(h, w)
    return da.rio.reproject("EPSG:3857", shape=(max(1, int(h * f)), max(1, int(w * f))),
                            resampling=Resampling.nearest if categorical else Resampling.average)


def classify(values: np.ndarray, classes: list[RasterClass]) -> np.ndarray:
    """Index of the class of each value (-1 for no data / no class)."""
    idx = np.full(values.shape, -1, dtype=np.int16)
    finite = np.isfinite(values)
    for i, c in enumerate(classes):
        if c.value is not None:
            m = finite & (values == c.value)
        else:
            m = finite.copy()
            right = c.closed == "right"
            if c.lo is not None:
                m &= (values > c.lo) if right else (values >= c.lo)
            if c.hi is not None:
                m &= (values <= c.hi) if right else (values < c.hi)
        idx[(idx == -1) & m] = i
    return idx


def png_data_uri(rgba: np.ndarray) -> str:
    """A (h, w, 4) uint8 array as a PNG data: URI."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    h, w, _ = rgba.shape
    with warnings.catch_warnings():
        # a plain picture has no geotransform on purpose: its bounds go to Leaflet
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile() as mem:
            with mem.open(driver="PNG", width=w, height=h, count=4, dtype="uint8") as dst:
                dst.write(np.moveaxis(rgba, 2, 0))
            data = mem.read()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def overlay_image(da, classes: list[RasterClass], max_pixels: int = MAX_PIXELS, alpha: int = 255):
    """Classified RGBA PNG data URI and lon/lat bounds ``(west, south, east, north)``.

    Bounds are the Web Mercator image corners converted to lon/lat, so the image sits
    exactly where it belongs on a Web Mercator map.
    """
    import rioxarray  # noqa: F401
    from pyproj import Transformer

    if not classes:
        raise InputError("a raster overlay needs at least one class for its legend")
    categorical = all(c.value is not None for c in classes)
    merc = to_web_mercator(da, categorical, max_pixels)
    vals = np.asarray(merc.values, dtype="float64")
    idx = classify(vals, classes)
    lut = np.array([_rgba(c.color, alpha) for c in classes] + [(0, 0, 0, 0)], dtype=np.uint8)
    rgba = lut[np.where(idx < 0, len(classes), idx)]
    x0, y0, x1, y1 = merc.rio.bounds()
    t = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    w, s = t.transform(x0, y0)
    e, n = t.transform(x1, y1)
    return png_data_uri(rgba), (w, s, e, n)


def classes_from_bins(edges: list[float], labels: list[str] | None = None, colors: list[str] | None = None,
                      fmt: str = "{:g}") -> list[RasterClass]:
    """Classes for a continuous index from bin edges, e.g. NDVI ``[0, .2, .4, .6]``.

    Values below the first edge and at or above the last get open classes.

    Examples
    --------
    >>> [c.label for c in classes_from_bins([0.2, 0.4])]
    ['< 0.2', '0.2 – 0.4', '≥ 0.4']
    """
    edges = list(edges)
    n = len(edges) + 1
    colors = colors or (CLASS_PALETTE[::-1][-n:] if n <= len(CLASS_PALETTE) else None)
    if colors is None or len(colors) < n:
        raise InputError(f"{n} classes need {n} colours")
    if labels is None:
        labels = [f"< {fmt.format(edges[0])}"]
        labels += [f"{fmt.format(a)} – {fmt.format(b)}" for a, b in pairwise(edges)]
        labels += [f"≥ {fmt.format(edges[-1])}"]
    if len(labels) != n:
        raise InputError(f"{n} classes need {n} labels, got {len(labels)}")
    bounds = [None] + edges + [None]
    return [RasterClass(label=labels[i], color=colors[i], lo=bounds[i], hi=bounds[i + 1]) for i in range(n)]


@cache
def role_schemes() -> dict[str, str]:
    """The role → scheme table of ``maps/raster_schemes.yml``.

    >>> role_schemes()["soil_ec"]
    'ec_aafc'
    """
    from gis.config import load_yaml

    raw = load_yaml(ROLE_SCHEMES_FILE, what="raster schemes") or {}
    return {str(k): str(v) for k, v in (raw.get("roles") or {}).items()}


def classes_from_scheme(scheme, lang: str = "zh") -> list[RasterClass]:
    """Classes of a severity scheme (:func:`gis.salinity.load_scheme`: an id, path or Scheme):
    the scheme's class names and bounds (a value on a bound goes where the scheme says),
    green (none/slight) → red (extreme).

    >>> [(c.label, c.lo, c.hi) for c in classes_from_scheme("ph_songnen")][:2]
    [('非碱化 ≤ 8.5', None, 8.5), ('轻度 (8.5, 9]', 8.5, 9.0)]
    """
    from gis.salinity import load_scheme

    s = load_scheme(scheme)
    names, spans = s.labels(lang), s.describe(unit=False)
    colors = severity_colors(len(names))
    bounds = [None, *s.bounds, None]
    return [RasterClass(label=f"{n} {d}", color=c, lo=bounds[i], hi=bounds[i + 1], closed=s.closed)
            for i, (n, d, c) in enumerate(zip(names, spans, colors, strict=True))]


def add_raster(fm, da, classes: list[RasterClass], name: str, *, title: str | None = None, opacity: float = 0.75,
               max_pixels: int = MAX_PIXELS, show: bool = True, layer_id: str | None = None,
               note: str | None = None) -> None:
    """Add a classified raster overlay and its class legend to a :class:`~maps.base.FieldMap`."""
    url, bounds = overlay_image(da, classes, max_pixels)
    fm.add_image(url, bounds, name, opacity=opacity, show=show, layer_id=layer_id,
                 pixelated=all(c.value is not None for c in classes))
    fm.add_legend(title or name, [(c.label, {"color": "#666666", "weight": 0.5, "fillColor": c.color,
                                              "fillOpacity": opacity}) for c in classes], note=note)
