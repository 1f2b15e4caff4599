"""Web Mercator XYZ tiles cut from a GeoTIFF (or any raster GDAL reads), on demand.

Used by :func:`maps.imagery_tiles.open_tiles` for ``--basemap-file image.tif``. A zoom
level is warped to EPSG:3857 in strips a few tiles high, each strip by one GDAL warp at
that level's own resolution, and the strip is cut into 256 × 256 tiles
(:meth:`RasterTileSource.level`); one tile alone (:meth:`RasterTileSource.get`) is the
same warp over that tile's bounds. The warp is bilinear at the tiles' pixel centres,
read from the finest overview of the file that is not finer than needed (GDAL's
``XSCALE=YSCALE=1``: the overviews do the averaging, the kernel is not widened), so a
level costs about one read of the overview it needs and memory stays bounded (one strip
per thread) whatever the image size. Bands 1–3 are red, green, blue (one band: grey).
8-bit images are kept as they are; other types (reflectance, DN) are stretched between
the 2nd and 98th percentile of each band, measured once on a small overview. A tile
fully inside the image is JPEG; one at its edge is PNG with transparency outside; a tile
with no data is not made.

:meth:`RasterTileSource.get` may be called from several threads at once (``threadsafe``):
a GDAL dataset is not, so every thread reads through its own opened file.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np

from gis.errors import DataFileError, InputError

from .imagery_tiles import TILE, tile_bounds_3857

log = logging.getLogger(__name__)

JPEG_QUALITY = 80
WORKERS = 2
"""Threads warping and encoding the strips of a level (GDAL lets go of the GIL for both)."""
STRIP_PIXELS = 8_000_000
"""Pixels of one block of tiles warped together (a strip of a level): about 32 MB per thread."""
WEB_MERCATOR = "EPSG:3857"
_HALF = 20037508.342789244


class RasterTileSource:
    """XYZ tiles of a raster file (see the module docstring)."""

    threadsafe = True
    cut_on_demand = True  # a level is judged from a sample before it is warped (imagery_tiles)

    def __init__(self, path: Path):
        import rasterio
        from rasterio.enums import ColorInterp
        from rasterio.warp import calculate_default_transform

        self.name = path.name
        self._path = path
        try:
            self._src = rasterio.open(path)
        except rasterio.errors.RasterioIOError as exc:
            raise DataFileError.of("error.basemap_file_corrupt", path=path, detail=exc) from exc
        src = self._src
        if src.crs is None:
            src.close()
            raise InputError.of("error.basemap_no_crs", path=path)
        self._bands = [1, 2, 3] if src.count >= 3 else [1, 1, 1]
        self._read_bands = sorted(set(self._bands))
        self._src_alpha = src.count if src.count >= 2 and src.colorinterp[-1] == ColorInterp.alpha else 0
        self._local = threading.local()
        self._opened: list = []  # the datasets of every thread, closed in close()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None  # the strip workers, made on first use
        t, w, h = calculate_default_transform(src.crs, WEB_MERCATOR, src.width, src.height, *src.bounds)
        self._bounds = (t.c, t.f + h * t.e, t.c + w * t.a, t.f)  # left, bottom, right, top in EPSG:3857
        self._res = max(abs(t.a), abs(t.e))  # the file's own pixel size in EPSG:3857
        self._overviews = src.overviews(1)
        self._stretch = self._stretch_of()
        self.fmt = "jpg"
        self.maxzoom = int(min(20, max(0, math.ceil(math.log2(2 * _HALF / (TILE * self._res))))))
        self.minzoom = max(0, self.maxzoom - 8)

    def _stretch_of(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self._src.dtypes[0] == "uint8":
            return None
        h, w = self._src.height, self._src.width
        f = min(1.0, 512 / max(h, w))
        nb = len(self._read_bands)
        a = self._src.read(self._read_bands, out_shape=(nb, max(1, int(h * f)), max(1, int(w * f))), masked=True)
        a = a.astype("float64").filled(np.nan)
        lo = np.nanpercentile(a.reshape(nb, -1), 2, axis=1)
        hi = np.nanpercentile(a.reshape(nb, -1), 98, axis=1)
        if not np.all(np.isfinite(lo)):
            raise InputError.of("error.basemap_raster_empty", path=self.name)
        pick = [self._read_bands.index(b) for b in self._bands]
        return lo[pick], np.maximum(hi[pick], lo[pick] + 1e-12)

    # ------------------------------------------------------------------ reading
    def overview_for(self, z: int) -> int:
        """Index of the overview a zoom level is warped from (-1: the full-resolution
        image): the coarsest one whose pixels are still no larger than the level's."""
        need = 2 * _HALF / 2 ** z / TILE / self._res  # the level's pixel, in file pixels
        best = -1
        for i, factor in enumerate(self._overviews):
            if factor <= need * (1 + 1e-9):
                best = i
        return best

    def _dataset(self, overview: int):
        """This thread's open dataset of the file (or of one of its overviews)."""
        import rasterio

        opened = getattr(self._local, "datasets", None)
        if opened is None:
            opened = self._local.datasets = {}
        if overview not in opened:
            kw = {} if overview < 0 else {"overview_level": overview}
            opened[overview] = ds = rasterio.open(self._path, **kw)
            with self._lock:
                self._opened.append(ds)
        return opened[overview]

    def warp(self, z: int, x0: int, y0: int, nx: int, ny: int) -> np.ndarray:
        """The ``nx`` × ``ny`` tiles from ``x0, y0`` of zoom ``z`` as one array
        ``(4, ny·256, nx·256)``: red, green, blue in the file's type and an alpha band
        (0 outside the image), by one bilinear warp (see the module docstring)."""
        import rasterio
        from rasterio.enums import Resampling
        from rasterio.transform import from_origin
        from rasterio.warp import reproject

        size = 2 * _HALF / 2 ** z / TILE
        left, _, _, top = tile_bounds_3857(z, x0, y0)
        src = self._dataset(self.overview_for(z))
        out = np.zeros((len(self._read_bands) + 1, ny * TILE, nx * TILE), dtype=src.dtypes[0])
        reproject(rasterio.band(src, self._read_bands), out, dst_transform=from_origin(left, top, size, size),
                  dst_crs=WEB_MERCATOR, resampling=Resampling.bilinear, dst_alpha=len(out),
                  src_alpha=self._src_alpha, XSCALE=1, YSCALE=1)
        pick = [self._read_bands.index(b) for b in self._bands]
        return out[[*pick, len(out) - 1]]

    def _outside(self, z: int, x0: int, y0: int, x1: int, y1: int) -> bool:
        left, _, _, top = tile_bounds_3857(z, x0, y0)
        _, bottom, right, _ = tile_bounds_3857(z, x1, y1)
        vl, vb, vr, vt = self._bounds
        return right <= vl or left >= vr or top <= vb or bottom >= vt

    def _strip(self, z: int, x0: int, x1: int, y0: int, y1: int) -> list[tuple[int, int, bytes | None]]:
        """The tiles of rows ``y0``–``y1`` and columns ``x0``–``x1`` (inclusive), row by row."""
        coords = [(x, y) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]
        if self._outside(z, x0, y0, x1, y1):
            return [(x, y, None) for x, y in coords]
        a = self.warp(z, x0, y0, x1 - x0 + 1, y1 - y0 + 1)
        return [(x, y, self._tile_bytes(a[:, (y - y0) * TILE:(y - y0 + 1) * TILE, (x - x0) * TILE:(x - x0 + 1) * TILE]))
                for x, y in coords]

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """One tile (JPEG or PNG bytes), or None where the image has no data."""
        return self._strip(z, x, x, y, y)[0][2]

    def level(self, z: int, x0: int, y0: int, x1: int, y1: int) -> Iterator[tuple[int, int, bytes | None]]:
        """Every tile of zoom ``z`` in the XYZ range, in blocks of at most
        :data:`STRIP_PIXELS` (strips the width of the range, north to south, unless it is
        wider), :data:`WORKERS` blocks at a time; stopping early (closing the iterator)
        cancels the blocks not begun."""
        cols = min(x1 - x0 + 1, max(1, STRIP_PIXELS // (TILE * TILE)))
        rows = max(1, STRIP_PIXELS // (cols * TILE * TILE))
        blocks = iter([(z, bx, min(bx + cols - 1, x1), by, min(by + rows - 1, y1))
                       for by in range(y0, y1 + 1, rows) for bx in range(x0, x1 + 1, cols)])
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="imagery")
        running: collections.deque = collections.deque()
        try:
            for _ in range(WORKERS):
                self._submit(running, blocks)
            while running:
                got = running.popleft().result()
                self._submit(running, blocks)
                yield from got
        finally:
            for f in running:
                f.cancel()

    def _submit(self, running: collections.deque, blocks: Iterator[tuple]) -> None:
        block = next(blocks, None)
        if block is not None:
            running.append(self._pool.submit(self._strip, *block))

    def _tile_bytes(self, data: np.ndarray) -> bytes | None:
        alpha = data[3] > 0
        if not alpha.any():
            return None
        rgb = self._to_uint8(data[:3])
        if alpha.all():
            return _encode(rgb, "JPEG")
        return _encode(np.concatenate([rgb, np.where(alpha, 255, 0).astype("uint8")[None]]), "PNG")

    def _to_uint8(self, rgb: np.ndarray) -> np.ndarray:
        if self._stretch is None:
            return np.ascontiguousarray(rgb, dtype="uint8")
        lo, hi = self._stretch
        v = (rgb.astype("float64") - lo[:, None, None]) / (hi - lo)[:, None, None]
        return np.clip(np.nan_to_num(v) * 255 + 0.5, 0, 255).astype("uint8")

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            opened, self._opened = self._opened, []
        for ds in [*opened, self._src]:
            ds.close()


def _encode(bands: np.ndarray, driver: str) -> bytes:
    """A (bands, h, w) uint8 array (3 bands, or 4 with alpha for PNG) as ``"JPEG"`` or
    ``"PNG"`` bytes. Pillow (libjpeg-turbo): about 0.8 ms for a 256 × 256 JPEG against
    3.4 ms through GDAL's JPEG driver here, the same size (optimised Huffman tables)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    img = Image.fromarray(np.ascontiguousarray(np.moveaxis(bands, 0, -1), dtype="uint8"))
    if driver == "JPEG":
        img.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        img.save(buf, "PNG")
    return buf.getvalue()
