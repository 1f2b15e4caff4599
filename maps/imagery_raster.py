"""Web Mercator XYZ tiles cut from a GeoTIFF (or any raster GDAL reads), on demand.

Used by :func:`maps.imagery_tiles.open_tiles` for ``--basemap-file image.tif``. The
raster is warped to EPSG:3857 through a ``WarpedVRT`` (bilinear), read one 256 × 256
tile window at a time, so memory stays bounded whatever the image size. Bands 1–3 are
red, green, blue (one band: grey). 8-bit images are kept as they are; other types
(reflectance, DN) are stretched between the 2nd and 98th percentile of each band,
measured once on a small overview. A tile fully inside the image is JPEG; one at its
edge is PNG with transparency outside; a tile with no data is not made.

:meth:`RasterTileSource.get` may be called from several threads at once (``threadsafe``):
a GDAL dataset is not, so every thread reads through its own opened file and warp.
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from pathlib import Path

import numpy as np

from gis.errors import DataFileError, InputError

from .imagery_tiles import TILE, tile_bounds_3857

log = logging.getLogger(__name__)

JPEG_QUALITY = 80


class RasterTileSource:
    """XYZ tiles of a raster file (see the module docstring)."""

    threadsafe = True

    def __init__(self, path: Path):
        import rasterio

        self.name = path.name
        self._path = path
        try:
            self._src = rasterio.open(path)
        except rasterio.errors.RasterioIOError as exc:
            raise DataFileError.of("error.basemap_file_corrupt", path=path, detail=exc) from exc
        if self._src.crs is None:
            self._src.close()
            raise InputError.of("error.basemap_no_crs", path=path)
        self._bands = [1, 2, 3] if self._src.count >= 3 else [1, 1, 1]
        self._main = threading.get_ident()
        self._local = threading.local()
        self._opened: list = []  # the datasets of the other threads, closed in close()
        self._lock = threading.Lock()
        self._vrt = _warped(self._src)
        self._alpha = self._vrt.count  # the alpha band the warp added
        self._bounds = self._vrt.bounds
        self._stretch = self._stretch_of()
        self.fmt = "jpg"
        res = max(abs(self._vrt.transform.a), abs(self._vrt.transform.e))
        self.maxzoom = int(min(20, max(0, math.ceil(math.log2(40075016.686 / (TILE * res))))))
        self.minzoom = max(0, self.maxzoom - 8)

    def _stretch_of(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self._src.dtypes[0] == "uint8":
            return None
        h, w = self._src.height, self._src.width
        f = min(1.0, 512 / max(h, w))
        a = self._src.read(sorted(set(self._bands)), out_shape=(len(set(self._bands)), max(1, int(h * f)),
                                                                 max(1, int(w * f))), masked=True)
        a = a.astype("float64").filled(np.nan)
        lo = np.nanpercentile(a.reshape(len(a), -1), 2, axis=1)
        hi = np.nanpercentile(a.reshape(len(a), -1), 98, axis=1)
        if not np.all(np.isfinite(lo)):
            raise InputError.of("error.basemap_raster_empty", path=self.name)
        idx = {b: i for i, b in enumerate(sorted(set(self._bands)))}
        pick = [idx[b] for b in self._bands]
        return lo[pick], np.maximum(hi[pick], lo[pick] + 1e-12)

    def get(self, z: int, x: int, y: int) -> bytes | None:
        left, bottom, right, top = tile_bounds_3857(z, x, y)
        vb = self._bounds
        if right <= vb.left or left >= vb.right or top <= vb.bottom or bottom >= vb.top:
            return None
        data = self._read_tile(left, bottom, right, top)
        if data is None:
            return None
        alpha = data[3] > 0
        if not alpha.any():
            return None
        rgb = self._to_uint8(data[:3])
        if alpha.all():
            return _encode(rgb, "JPEG")
        return _encode(np.concatenate([rgb, np.where(alpha, 255, 0).astype("uint8")[None]]), "PNG")

    def _thread_vrt(self):
        """The warp this thread reads through (the first one in the thread that opened the file)."""
        if threading.get_ident() == self._main:
            return self._vrt
        vrt = getattr(self._local, "vrt", None)
        if vrt is None:
            import rasterio

            src = rasterio.open(self._path)
            vrt = self._local.vrt = _warped(src)
            with self._lock:
                self._opened += [vrt, src]
        return vrt

    def _read_tile(self, left: float, bottom: float, right: float, top: float) -> np.ndarray | None:
        """RGB + alpha of one tile: the part of the warped image inside it, placed in a
        256 × 256 array (a warped VRT cannot read outside itself)."""
        from rasterio.windows import Window, from_bounds

        vrt = self._thread_vrt()
        t = vrt.transform
        win = from_bounds(left, bottom, right, top, transform=t)
        full = Window(0, 0, vrt.width, vrt.height)
        try:
            part = win.intersection(full)
        except Exception:  # noqa: BLE001 - rasterio raises WindowError for disjoint windows
            return None
        sx, sy = TILE / win.width, TILE / win.height
        c0, r0 = int(round((part.col_off - win.col_off) * sx)), int(round((part.row_off - win.row_off) * sy))
        c1, r1 = int(round((part.col_off + part.width - win.col_off) * sx)), int(round((part.row_off + part.height - win.row_off) * sy))
        c1, r1 = min(c1, TILE), min(r1, TILE)
        if c1 <= c0 or r1 <= r0:
            return None
        out = np.zeros((4, TILE, TILE), dtype=vrt.dtypes[0])
        out[:, r0:r1, c0:c1] = vrt.read(self._bands + [self._alpha], window=part, out_shape=(4, r1 - r0, c1 - c0))
        return out

    def _to_uint8(self, rgb: np.ndarray) -> np.ndarray:
        if self._stretch is None:
            return rgb.astype("uint8")
        lo, hi = self._stretch
        v = (rgb.astype("float64") - lo[:, None, None]) / (hi - lo)[:, None, None]
        return np.clip(np.nan_to_num(v) * 255 + 0.5, 0, 255).astype("uint8")

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for ds in [*opened, self._vrt, self._src]:
            ds.close()


def _warped(src):
    """``src`` warped to EPSG:3857 (bilinear), an alpha band added where it has data."""
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    return WarpedVRT(src, crs="EPSG:3857", resampling=Resampling.bilinear, nodata=None, add_alpha=True)


def _encode(bands: np.ndarray, driver: str) -> bytes:
    """A (bands, h, w) uint8 array as JPEG or PNG bytes (rasterio's drivers, no Pillow)."""
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    n, h, w = bands.shape
    opts = {"QUALITY": JPEG_QUALITY} if driver == "JPEG" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile() as mem:
            with mem.open(driver=driver, width=w, height=h, count=n, dtype="uint8", **opts) as dst:
                dst.write(bands)
            return mem.read()
