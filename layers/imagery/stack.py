"""Scenes onto one grid, read from their files: an index per scene, masked, as a stack.

A :class:`Scene` is what :meth:`layers.imagery.Product.scene` hands over: band files with
their scale/offset/nodata and a mask layer. :func:`index_stack` reads, for each scene,
only the part of each file the :class:`gis.coverage.Grid` covers through
:class:`rasterio.vrt.WarpedVRT` (reflectance bilinear, masks nearest), computes a
registered index of :mod:`gis.indices` and returns a ``time × y × x`` DataArray with a CF
time coordinate, the CRS (rioxarray) and per-scene ``product_id``, ``sensor`` and
``valid_fraction``. The arithmetic is pure and lives in :mod:`gis`
(:func:`gis.composite.reflectance`, :func:`gis.masks.layer_mask`,
:func:`gis.composite.composite`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

import numpy as np

from gis import masks
from gis.composite import reflectance
from gis.errors import AgrigisError, DataFileError
from gis.coverage import Grid
from gis.masks import MaskOptions
from gis.sampling import MASK_THRESHOLD  # noqa: F401 - the any-cloud threshold, also used here
from gis.sampling import tiles_tapped

DEFAULT_MASK = MaskOptions()
"""The default mask options (SCL / QA_PIXEL default classes, see :class:`gis.masks.MaskOptions`)."""

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class BandSource:
    """One band file: reflectance = DN × ``scale`` + ``offset``; DN ``nodata`` → NaN."""

    path: str
    scale: float
    offset: float
    nodata: float | None


@dataclass(frozen=True)
class MaskSource:
    """A mask layer: ``kind`` is ``scl``, ``qa_pixel`` or ``qa_radsat``; ``paths`` maps a
    pixel size (m) to a file; ``bands`` are the Landsat band numbers QA_RADSAT checks."""

    kind: str
    paths: dict[int, str]
    nodata: int | None
    bands: tuple[int, ...] = ()

    def path_for(self, res: float | None = None) -> str:
        """The coarsest file not coarser than ``res``, else the finest."""
        sizes = sorted(self.paths)
        fit = [s for s in sizes if res is not None and s <= res + 1e-9]
        return self.paths[fit[-1] if fit else sizes[0]]


@dataclass(frozen=True)
class Scene:
    """One acquisition ready to be put on a grid (see :meth:`layers.imagery.Product.scene`)."""

    id: str
    sensor: str
    time: datetime
    bands: dict[str, BandSource]
    mask: MaskSource
    extra_masks: dict[str, MaskSource] = field(default_factory=dict)



class BandReadFault(Exception):
    """A band or mask file of a product that GDAL could not read (``path`` and the cause);
    :func:`scene_index` turns it into an error naming the product and band."""

    def __init__(self, path: str, cause: BaseException):
        super().__init__(f"{path}: {cause}")
        self.path, self.cause = path, cause


@contextlib.contextmanager
def _reading(path: str):
    """Map a reader fault of ``path`` (truncated or damaged file) to :class:`BandReadFault`."""
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError

    try:
        yield
    except AgrigisError:
        raise
    except (OSError, RasterioError, CPLE_BaseError) as exc:
        raise BandReadFault(path, exc) from exc


# ------------------------------------------------------------------------------ per scene


@functools.lru_cache(maxsize=64)
def _crs_of(key: str, wkt: str):
    from rasterio.crs import CRS

    return CRS.from_user_input(wkt)


def _crs_key(grid: Grid) -> str:
    return grid.crs.srs or grid.crs.to_wkt()


def _rasterio_crs(grid: Grid):
    """The grid's CRS as a rasterio CRS (cached: converting through WKT costs ~10 ms)."""
    key = _crs_key(grid)
    return _crs_of(key, key if key.upper().startswith("EPSG:") else grid.crs.to_wkt())


_local = threading.local()


def _to_source(grid: Grid, src_crs):
    """``f(x, y)`` from the grid's CRS to ``src_crs`` (a rasterio CRS), or None when they
    are the same; cached per thread (pyproj transformers are not shared between threads)."""
    cache = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    key = (_crs_key(grid), src_crs.to_wkt())
    if key not in cache:
        import pyproj

        src = pyproj.CRS.from_wkt(key[1])
        if src == grid.crs:
            cache[key] = None
        else:
            tr = pyproj.Transformer.from_crs(grid.crs, src, always_xy=True)
            cache[key] = tr.transform
    return cache[key]


FAST_MAX_RATIO = 1.05
"""The fast path (:mod:`gis.sampling`) serves files whose cells are at least this share
of the output cell (same size or finer only up to rounding, or coarser): plain bilinear
interpolation. A file much finer than the grid goes through GDAL's warper, whose
bilinear kernel widens with the downsampling factor."""


def _fast_ok(src, grid: Grid) -> bool:
    t = src.transform
    return t.b == 0 and t.d == 0 and grid.transform.a <= FAST_MAX_RATIO * abs(t.a) \
        and abs(grid.transform.e) <= FAST_MAX_RATIO * abs(t.e)


def _positions(src, grid: Grid, cache: dict):
    """:class:`gis.sampling.Positions` in ``src`` of the grid's cell centres. Computed once
    per source CRS and reused, through an affine map, for every file of that CRS (the
    10 m bands, the 20 m SCL …) — one coordinate transformation per scene and block, and
    none for the next scene of the same tile (:func:`_shared_positions`)."""
    key = src.crs.to_wkt()
    if key not in cache:
        t = src.transform
        cache[key] = (t, _shared_positions(grid, src.crs, t))
    ref, pos = cache[key]
    if tuple(ref) == tuple(src.transform):
        return pos
    return pos.mapped(~src.transform @ ref)  # reference pixel → this file's pixel


POSITIONS_KEPT = 64
"""Separable :class:`gis.sampling.Positions` kept between scenes (a few KB each): every
product of one tile shares them for each block of the grid."""
_shared: dict = {}
_shared_lock = threading.Lock()


def _shared_positions(grid: Grid, src_crs, src_transform):
    """Positions of ``grid`` in a file of ``src_crs`` and ``src_transform``, remembered
    (when separable) for the next product of the same tile."""
    from gis.sampling import pixel_positions

    key = (tuple(grid.transform), grid.width, grid.height, _crs_key(grid), src_crs.to_wkt(), tuple(src_transform))
    with _shared_lock:
        pos = _shared.get(key)
    if pos is not None:
        return pos
    pos = pixel_positions(grid.transform, grid.height, grid.width, _to_source(grid, src_crs), src_transform)
    if pos.separable:
        with _shared_lock:
            while len(_shared) >= POSITIONS_KEPT:
                _shared.pop(next(iter(_shared)))
            _shared[key] = pos
    return pos


def _read_window(src, grid: Grid, cache: dict):
    """(positions, window array, origin) of ``src`` under ``grid``; the array is None when
    the grid lies wholly outside ``src``. Only the window the bilinear taps touch is read;
    in a tiled file with a :class:`TileCache` (``cache[READING]``), only the tiles that
    cells of the AOI tap, each decoded once for the whole stack (:func:`_read_tiles`)."""
    from rasterio.windows import Window

    pos = _positions(src, grid, cache)
    win = pos.window(src.height, src.width)
    if win is None:
        return pos, None, (0, 0)
    r0, r1, c0, c1 = win
    how, tile = cache.get(READING), _tile_shape(src)
    if how is not None and how.tiles is not None and tile is not None:
        raw = _read_tiles(src, win, tiles_tapped(pos, how.inside, (r1, c1), tile), how.tiles)
        if raw is not None:
            return pos, raw, (r0, c0)
    return pos, src.read(1, window=Window(c0, r0, c1 - c0, r1 - r0)), (r0, c0)


READING = "reading"
"""Key of the :class:`Reading` in the per-scene cache dict (never a CRS, the other keys)."""
MIN_TILE = 256
"""Files tiled in blocks of at least this side are read tile by tile through the cache."""
TILE_CACHE_BYTES = 256 * 2**20
"""Decoded tiles a stack keeps (least recently used first out): a tile under the
boundary between two blocks of the grid is then decoded once, not once per block."""


@dataclass(frozen=True)
class Reading:
    """How a block is read: ``inside`` (cells that need a value, None: all) and the
    stack's :class:`TileCache` (None: plain window reads)."""

    inside: np.ndarray | None = None
    tiles: TileCache | None = None


class TileCache:
    """Decoded tiles of the source files, shared by the blocks (and threads) of one stack.

    ``get(key, load)`` returns the cached array or calls ``load()`` once — a second
    thread asking for a tile being decoded waits for it. At most ``limit`` bytes are
    kept; ``decoded`` counts the tiles actually decoded.

    Examples
    --------
    >>> c = TileCache(limit=16)
    >>> c.get("a", lambda: np.zeros(2, "uint8")).tolist(), c.get("a", lambda: 1 / 0).tolist(), c.decoded
    ([0, 0], [0, 0], 1)
    """

    def __init__(self, limit: int = TILE_CACHE_BYTES):
        from collections import OrderedDict

        self.limit, self.decoded, self.bytes = limit, 0, 0
        self.items: OrderedDict = OrderedDict()
        self.pending: dict = {}
        self.lock = threading.Lock()

    def clear(self) -> None:
        """Drop every cached tile (the counts stay)."""
        with self.lock:
            self.items.clear()
            self.bytes = 0

    def get(self, key, load: Callable[[], np.ndarray]) -> np.ndarray:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            event, mine = self.pending.get(key), False
            if event is None:
                event, mine = self.pending.setdefault(key, threading.Event()), True
        if not mine:
            event.wait()
            with self.lock:
                if key in self.items:
                    return self.items[key]
            return load()  # the loader failed or the tile is already evicted
        try:
            arr = load()
            with self.lock:
                self.decoded += 1
                self.items[key], self.bytes = arr, self.bytes + arr.nbytes
                while self.bytes > self.limit and self.items:
                    self.bytes -= self.items.popitem(last=False)[1].nbytes
        finally:
            with self.lock:
                self.pending.pop(key).set()
        return arr


def _tile_shape(src) -> tuple[int, int] | None:
    """(rows, columns) of the tiles of band 1 when the file is tiled in blocks of at
    least :data:`MIN_TILE` and can be told apart from other files (a path on disk)."""
    bh, bw = src.block_shapes[0]
    if min(bh, bw) < MIN_TILE or bw >= src.width and bh >= src.height:
        return None
    return bh, bw


def _read_tiles(src, win: tuple[int, int, int, int], need: np.ndarray | None, tiles: TileCache) -> np.ndarray | None:
    """The window ``win`` of band 1 assembled from whole tiles (``need``: which; the
    others stay 0, no AOI cell taps them), each decoded once through ``tiles``; None
    when the file has no identity on disk to key the cache by."""
    import os

    from rasterio.windows import Window

    try:
        st = os.stat(src.name)
    except OSError:
        return None
    ident = (src.name, st.st_ino, st.st_size, st.st_mtime_ns)
    (bh, bw), (r0, r1, c0, c1) = _tile_shape(src), win
    out = np.zeros((r1 - r0, c1 - c0), dtype=src.dtypes[0])
    for tr in range(r0 // bh, (r1 - 1) // bh + 1):
        for tc in range(c0 // bw, (c1 - 1) // bw + 1):
            if need is not None and not need[tr, tc]:
                continue
            y0, x0 = tr * bh, tc * bw
            h, w = min(bh, src.height - y0), min(bw, src.width - x0)
            data = tiles.get((ident, tr, tc), lambda y0=y0, x0=x0, h=h, w=w: src.read(1, window=Window(x0, y0, w, h)))
            ya, yb, xa, xb = max(r0, y0), min(r1, y0 + h), max(c0, x0), min(c1, x0 + w)
            out[ya - r0:yb - r0, xa - c0:xb - c0] = data[ya - y0:yb - y0, xa - x0:xb - x0]
    return out


def read_on_grid(path: str, grid: Grid, *, resampling: str = "bilinear", src_nodata: float | None = None,
                 fill: float = 0, dtype: str = "float32") -> np.ndarray:
    """Band 1 of ``path`` warped onto ``grid``; cells outside the source get ``fill``.

    GDAL's warper reads only the source blocks the grid needs (JPEG 2000 and GeoTIFF alike).
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    with rasterio.open(path) as src:
        nodata = src_nodata if src_nodata is not None else src.nodata
        with WarpedVRT(src, crs=_rasterio_crs(grid), transform=grid.transform, width=grid.width,
                       height=grid.height, resampling=Resampling[resampling], src_nodata=nodata,
                       nodata=fill, dtype=dtype) as vrt:
            return vrt.read(1)


def _source_window(src, grid: Grid, pad: int = 2):
    """The window of ``src`` under ``grid`` (padded by ``pad`` source pixels), or None."""
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    b = transform_bounds(_rasterio_crs(grid), src.crs, *grid.bounds, densify_pts=21)
    w = from_bounds(*b, transform=src.transform)
    c0, r0 = max(0, int(np.floor(w.col_off)) - pad), max(0, int(np.floor(w.row_off)) - pad)
    c1 = min(src.width, int(np.ceil(w.col_off + w.width)) + pad)
    r1 = min(src.height, int(np.ceil(w.row_off + w.height)) + pad)
    return Window(c0, r0, c1 - c0, r1 - r0) if c1 > c0 and r1 > r0 else None


CHUNK_ROWS = 256
"""Output rows sampled and computed at a time once a block's windows are decoded: the
temporaries of a chunk stay in the CPU cache (and are reused by the allocator) instead
of a dozen full-block float32 arrays per scene."""


@dataclass
class _Layer:
    """One decoded file under a grid: ``rows(a, b)`` samples output rows ``a:b``.

    Fast path: the decoded window ``raw`` (first cell ``origin`` of an image of
    ``image`` cells) and the pixel positions ``pos``; ``mask=True`` samples by the
    any-cloud rule (``raw`` is then boolean). GDAL path: ``full`` is the whole result."""

    pos: object = None
    raw: np.ndarray | None = None
    origin: tuple[int, int] = (0, 0)
    image: tuple[int, int] = (0, 0)
    full: np.ndarray | None = None
    mask: bool = False

    def rows(self, a: int, b: int) -> np.ndarray:
        from gis.sampling import Positions, masked_weight, sample

        if self.full is not None:
            return self.full[a:b]
        pos = self.pos
        part = Positions(pos.rows[a:b], pos.cols if pos.separable else pos.cols[a:b])
        if self.raw is None:
            return np.full((b - a, len(pos.cols) if pos.separable else pos.cols.shape[1]), self.mask,
                           dtype=bool if self.mask else "float32")
        if self.mask:
            return masked_weight(part, self.raw, self.origin, self.image)
        return sample(part, self.raw, self.origin, self.image)


def _mask_layer(path: str, grid: Grid, to_mask: Callable[[np.ndarray], np.ndarray], cache: dict) -> _Layer:
    """The mask layer of ``path`` under ``grid`` (see :func:`mask_on_grid`), decoded."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    with _reading(path), rasterio.open(path) as src:
        if _fast_ok(src, grid):
            pos, raw, origin = _read_window(src, grid, cache)
            return _Layer(pos, None if raw is None else to_mask(raw), origin, (src.height, src.width), mask=True)
        out = np.ones((grid.height, grid.width), dtype="float32")
        win = _source_window(src, grid)
        if win is not None:
            bad = to_mask(src.read(1, window=win)).astype("float32")
            reproject(bad, out, src_transform=src.window_transform(win), src_crs=src.crs, src_nodata=None,
                      dst_transform=grid.transform, dst_crs=_rasterio_crs(grid), dst_nodata=1.0,
                      resampling=Resampling.bilinear, init_dest_nodata=True)
    return _Layer(full=out > MASK_THRESHOLD, mask=True)


def mask_on_grid(path: str, grid: Grid, to_mask: Callable[[np.ndarray], np.ndarray],
                 cache: dict | None = None) -> np.ndarray:
    """``True`` where a masked source cell (``to_mask`` of the raw layer) contributes to a
    grid cell under bilinear resampling — the any-cloud rule: a cell is usable only if
    every source mask cell its reflectance was interpolated from is clear
    (:func:`gis.sampling.masked_weight`). Cells outside the source are masked. Only the
    source window under ``grid`` is read. ``cache`` (a dict per scene and grid) shares
    pixel positions with the scene's bands.
    """
    return _mask_layer(path, grid, to_mask, {} if cache is None else cache).rows(0, grid.height)


def _mask_layers(scene: Scene, grid: Grid, options: MaskOptions, cache: dict) -> list[_Layer]:
    """The decoded mask layers of ``scene`` (see :func:`scene_mask`)."""
    m, res = scene.mask, grid.transform.a

    def layer(raw: np.ndarray) -> np.ndarray:
        out = masks.layer_mask(raw, m.kind, options)
        return out | (raw == m.nodata) if m.nodata is not None else out

    out = [_mask_layer(m.path_for(res), grid, layer, cache)]
    rs = scene.extra_masks.get("qa_radsat")
    if rs is not None and options.radsat:
        out.append(_mask_layer(rs.path_for(res), grid, lambda raw: masks.radsat_mask(raw, rs.bands), cache))
    cp = scene.extra_masks.get("cldprb")
    if cp is not None and options.cloud_prob is not None:
        out.append(_mask_layer(cp.path_for(res), grid,
                               lambda raw: masks.cloud_probability_mask(raw, options.cloud_prob), cache))
    return out


def scene_mask(scene: Scene, grid: Grid, options: MaskOptions = DEFAULT_MASK, cache: dict | None = None) -> np.ndarray:
    """``True`` where the scene's mask layer(s) exclude a grid cell (any-cloud rule, see
    :func:`mask_on_grid`; the layer's no-data value is always masked): SCL / QA_PIXEL,
    QA_RADSAT (``options.radsat``) and ``MSK_CLDPRB`` above ``options.cloud_prob``."""
    return _any_rows(_mask_layers(scene, grid, options, {} if cache is None else cache), 0, grid.height)


def _any_rows(layers: list[_Layer], a: int, b: int) -> np.ndarray:
    out = layers[0].rows(a, b)
    for layer in layers[1:]:
        out |= layer.rows(a, b)
    return out


def _band_layers(paths: Sequence[str], grid: Grid, cache: dict) -> list[_Layer]:
    """The decoded band files of ``paths`` under ``grid`` (see :func:`read_bands_on_grid`)."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    groups: dict[tuple, list[int]] = {}
    meta = []
    for i, path in enumerate(paths):
        with _reading(path):
            src = rasterio.open(path)
        meta.append(src)
        groups.setdefault((tuple(src.transform), src.width, src.height, src.crs.to_wkt()), []).append(i)
    out: list[_Layer | None] = [None] * len(paths)
    try:
        for members in groups.values():
            src = meta[members[0]]
            if _fast_ok(src, grid):
                for i in members:
                    with _reading(paths[i]):
                        pos, raw, origin = _read_window(meta[i], grid, cache)
                    out[i] = _Layer(pos, raw, origin, (meta[i].height, meta[i].width))
                continue
            win = _source_window(src, grid)
            dst = np.zeros((len(members), grid.height, grid.width), dtype="float32")
            if win is not None:
                raw = np.stack([_read(meta[i], paths[i], win) for i in members]).astype("float32")
                reproject(raw, dst, src_transform=src.window_transform(win), src_crs=src.crs,
                          dst_transform=grid.transform, dst_crs=_rasterio_crs(grid),
                          resampling=Resampling.bilinear)
            for k, i in enumerate(members):
                out[i] = _Layer(full=dst[k])
    finally:
        for src in meta:
            src.close()
    return out


def read_bands_on_grid(paths: Sequence[str], grid: Grid, cache: dict | None = None) -> list[np.ndarray]:
    """Band 1 of each file of ``paths`` warped bilinearly onto ``grid`` (float32), files on
    the same source grid in one pass (GDAL shares the coordinate transformation). Only
    the source window under ``grid`` is decoded. No-data is not used by the warper
    (faster, and the scene's mask layer masks every cell a no-data source cell touches);
    cells outside the source get 0. Files no coarser than about the grid's cells are
    sampled by :mod:`gis.sampling` with pixel positions shared through ``cache``.
    """
    layers = _band_layers(paths, grid, {} if cache is None else cache)
    return [layer.rows(0, grid.height) for layer in layers]


def _read(src, path: str, win) -> np.ndarray:
    with _reading(path):
        return src.read(1, window=win)


def scene_index(scene: Scene, index, grid: Grid, options: MaskOptions = DEFAULT_MASK, *,
                reading: Reading | None = None) -> np.ndarray:
    """``index`` (name or :class:`gis.indices.Index`) of one scene on ``grid``, NaN where
    masked. The files are decoded once; sampling and arithmetic then run
    :data:`CHUNK_ROWS` output rows at a time. ``reading`` (see :class:`Reading`): the
    cells that need a value and the stack's tile cache; cells outside ``reading.inside``
    may hold anything (the caller sets them to NaN)."""
    from gis.indices import compute_index, get_index

    ix = get_index(index)
    sources = [scene.bands[sym] for sym in ix.bands]
    cache: dict = {} if reading is None else {READING: reading}
    try:
        layers = _band_layers([src.path for src in sources], grid, cache)
        if any(layer.full is None and layer.raw is None for layer in layers):
            return np.full((grid.height, grid.width), np.nan, dtype="float32")  # the grid misses the file
        mask_layers = _mask_layers(scene, grid, options, cache)
    except BandReadFault as fault:
        raise _unreadable(scene, fault) from fault.cause
    out = np.empty((grid.height, grid.width), dtype="float32")
    for a in range(0, grid.height, CHUNK_ROWS):
        b = min(grid.height, a + CHUNK_ROWS)
        bands = {sym: reflectance(layer.rows(a, b), src.scale, src.offset, None, dtype="float32", copy=False)
                 for sym, src, layer in zip(ix.bands, sources, layers, strict=True)}
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.asarray(compute_index(ix, bands), dtype="float32")  # float32 throughout
        values[_any_rows(mask_layers, a, b)] = np.nan
        out[a:b] = values
    return out


def _unreadable(scene: Scene, fault: BandReadFault) -> DataFileError:
    """``error.imagery_band_unreadable`` naming the scene's product, band and file."""
    names = {m.path_for(r): m.kind for m in (scene.mask, *scene.extra_masks.values()) for r in m.paths}
    names.update({b.path: sym for sym, b in scene.bands.items()})
    file = fault.path.replace("\\", "/").rsplit("/", 1)[-1]
    detail = " ".join(str(fault.cause).split())[:200]
    return DataFileError.of("error.imagery_band_unreadable", product=scene.id, band=names.get(fault.path, "?"),
                            file=file, detail=detail)


# ------------------------------------------------------------------------------ AOI cover

COVER_RES = 200.0
"""Cell size (m) of the coarse grid on which :func:`aoi_cover` counts cloud and coverage."""


@dataclass(frozen=True)
class Cover:
    """Cloud and coverage of one product over an AOI (percentages, one decimal)."""

    cloud_percent: float | None
    coverage_percent: float


def _mask_layer_nearest(path: str, grid: Grid) -> np.ndarray:
    """The raw mask layer on ``grid`` by nearest neighbour, float32, NaN outside it."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    out = np.full((grid.height, grid.width), np.nan, dtype="float32")
    with rasterio.open(path) as src:
        reproject(rasterio.band(src, 1), out, dst_transform=grid.transform, dst_crs=_rasterio_crs(grid),
                  dst_nodata=np.nan, resampling=Resampling.nearest, init_dest_nodata=True)
    return out


def aoi_cover(mask: MaskSource, inside: np.ndarray, grid: Grid, options: MaskOptions = DEFAULT_MASK) -> Cover:
    """Share of the AOI cells (``inside`` on ``grid``, a coarse grid) the product covers
    with data, and the share of those its mask layer (SCL / QA_PIXEL, default classes:
    cloud, shadow, cirrus, snow, saturated) masks. The coarsest mask file is read.
    """
    raw = _mask_layer_nearest(mask.path_for(grid.transform.a), grid)
    have = np.isfinite(raw) & inside
    if mask.nodata is not None:
        have &= raw != mask.nodata
    if mask.kind == "qa_pixel":
        have &= ~masks.qa_pixel_mask(np.nan_to_num(raw).astype("uint16"), ["fill"])
    n_in, n_have = int(inside.sum()), int(have.sum())
    coverage = round(100.0 * n_have / n_in, 1) if n_in else 0.0
    if not n_have:
        return Cover(None, coverage)
    bad = masks.layer_mask(np.nan_to_num(raw[have]).astype("uint16"), mask.kind, options)
    return Cover(round(100.0 * float(bad.mean()), 1), coverage)


# ------------------------------------------------------------------------------ stack

BLOCK_ROWS = 1024
"""Fewest rows of the output grid read per task (one source JPEG 2000 tile row at 10 m)."""
BLOCK_CELLS = 4_000_000
"""Cells per task when the grid is narrow enough: ``max(BLOCK_ROWS, BLOCK_CELLS // width)``
rows, so a narrow AOI is read in fewer, taller strips (each source tile row under a
strip boundary is decoded once per strip it touches) while memory per task stays about
``BLOCK_CELLS`` × 4 bytes × ~10 arrays."""


def auto_rows(grid: Grid) -> int:
    """Rows per task for ``grid`` (see :data:`BLOCK_CELLS`).

    Examples
    --------
    >>> auto_rows(Grid.from_bounds((0, 0, 20000, 20000), crs="EPSG:4550", res=10))
    2000
    >>> auto_rows(Grid.from_bounds((0, 0, 70000, 20000), crs="EPSG:4550", res=10))
    1024
    """
    return max(BLOCK_ROWS, BLOCK_CELLS // max(grid.width, 1))


def _utc_naive(t: datetime) -> np.datetime64:
    import pandas as pd

    ts = pd.Timestamp(t)
    ts = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts
    return ts.to_datetime64().astype("datetime64[ns]")


def row_blocks(grid: Grid, rows: int = BLOCK_ROWS) -> list[Grid]:
    """``grid`` cut into horizontal strips of at most ``rows`` rows (same CRS, cells).

    Examples
    --------
    >>> g = Grid.from_bounds((0, 0, 30, 50), crs="EPSG:4550", res=10)
    >>> [(b.height, b.bounds[3]) for b in row_blocks(g, 2)]
    [(2, 50.0), (2, 30.0), (1, 10.0)]
    """
    from affine import Affine

    rows, t = max(1, int(rows)), grid.transform
    return [Grid(Affine(t.a, t.b, t.c + t.b * r0, t.d, t.e, t.f + t.e * r0), grid.width,
                 min(rows, grid.height - r0), grid.crs) for r0 in range(0, grid.height, rows)]


@dataclass(frozen=True)
class StackOptions:
    """How :func:`index_stack` reads: masks, the AOI, laziness and block size.

    ``aoi`` is a :class:`layers.imagery.aoi.Aoi` (cells outside it are NaN and the valid
    fraction counts only cells inside); ``lazy`` returns a dask-backed DataArray (read
    block by block when computed or written); ``block_rows`` rows of the grid per task (default :func:`auto_rows`).
    """

    mask: MaskOptions = MaskOptions()
    aoi: object = None
    lazy: bool = False
    block_rows: int | None = None


class _Counter:
    """Thread-safe ``progress(done, total)`` calls as blocks finish, and the stack's
    :class:`TileCache` (shared by its blocks), emptied once every block is done: a lazy
    stack's graph holds this object for as long as the DataArray lives."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None):
        self.done, self.total, self.progress, self.lock = 0, total, progress, threading.Lock()
        self.tiles = TileCache()  # the stack's decoded tiles, shared by its blocks

    def tick(self) -> None:
        with self.lock:
            self.done += 1
            if self.done % max(self.total, 1) == 0:  # every block read (again, if recomputed)
                self.tiles.clear()
            if self.progress is not None:
                self.progress(self.done, self.total)


def _block(scene: Scene, ix, block: Grid, inside: np.ndarray, options: MaskOptions, counter: _Counter) -> np.ndarray:
    """One scene's index on one block of the grid, NaN outside the AOI (not read at all
    when the block lies wholly outside; only the source tiles AOI cells tap otherwise)."""
    if not inside.any():
        out = np.full((1, block.height, block.width), np.nan, dtype="float32")
    else:
        values = scene_index(scene, ix, block, options, reading=Reading(inside, counter.tiles))
        values[~inside] = np.nan
        out = values[None]
    counter.tick()
    return out


def _lazy_layers(scenes: Sequence[Scene], ix, grid: Grid, opts: StackOptions, progress):
    """The ``time × y × x`` dask array of the scenes and the dask array of AOI cells."""
    import dask
    import dask.array as dsa

    blocks = row_blocks(grid, opts.block_rows or auto_rows(grid))
    aoi = opts.aoi
    insides = [dask.delayed(aoi.inside if aoi is not None else _all_inside)(b) for b in blocks]
    inside = dsa.concatenate([dsa.from_delayed(m, (b.height, b.width), dtype=bool)
                              for m, b in zip(insides, blocks, strict=True)], axis=0)
    counter = _Counter(len(scenes) * len(blocks), progress)
    per_scene = []
    for scene in scenes:
        parts = [dsa.from_delayed(dask.delayed(_block)(scene, ix, b, m, opts.mask, counter),
                                  (1, b.height, b.width), dtype="float32")
                 for b, m in zip(blocks, insides, strict=True)]
        per_scene.append(dsa.concatenate(parts, axis=1))
    if not per_scene:
        return dsa.empty((0, grid.height, grid.width), dtype="float32"), inside
    return dsa.concatenate(per_scene, axis=0), inside


def _all_inside(block: Grid) -> np.ndarray:
    return np.ones((block.height, block.width), dtype=bool)


def index_stack(scenes: Sequence[Scene], index, grid: Grid, options: MaskOptions | StackOptions = DEFAULT_MASK,
                progress: Callable[[int, int], None] | None = None):
    """The ``time × y × x`` DataArray of ``index`` over ``scenes`` on ``grid``.

    Each scene is read block by block (:func:`row_blocks`), each block through a
    :class:`rasterio.vrt.WarpedVRT` that decodes only the source tiles under it, so
    memory is bounded by a block, not by a product. With ``StackOptions(lazy=True)`` the
    result is dask-backed and nothing is read until it is computed or written (a NetCDF
    write then streams block by block); otherwise it is computed here (two threads).

    Coordinates: ``time`` (UTC, CF-encoded when written to NetCDF), ``y``/``x`` cell
    centres, per time ``product_id``, ``sensor`` and ``valid_fraction`` (share of the AOI
    cells — all grid cells without an AOI — with a value). CRS via rioxarray; the mask
    options, the index formula and the AOI are in ``attrs``. ``progress(done, total)``
    is called as blocks finish.

    Examples
    --------
    >>> index_stack([], "NDVI", Grid.from_bounds((0, 0, 20, 20), crs="EPSG:4550", res=10)).shape
    (0, 2, 2)
    """
    import rioxarray  # noqa: F401 - registers the .rio accessor
    import xarray as xr

    from gis.indices import get_index

    opts = options if isinstance(options, StackOptions) else StackOptions(mask=options)
    ix = get_index(index)
    scenes = sorted(scenes, key=lambda s: (_utc_naive(s.time), s.id))
    data, inside = _lazy_layers(scenes, ix, grid, opts, progress)
    n_inside = inside.sum()
    valid = (_isfinite(data).sum(axis=(1, 2)) / np.maximum(n_inside, 1)).astype("float64")
    if not opts.lazy:
        import dask

        data, valid = dask.compute(data, valid, scheduler="threads")
    x, y = grid.coords()
    da = xr.DataArray(
        data, dims=("time", "y", "x"), name=ix.id,
        coords={"time": np.array([_utc_naive(s.time) for s in scenes], dtype="datetime64[ns]"), "y": y, "x": x,
                "product_id": ("time", [s.id for s in scenes]), "sensor": ("time", [s.sensor for s in scenes]),
                "valid_fraction": ("time", valid)},
        attrs={"index": ix.id, "formula": ix.formula, "reference": ix.reference, "resolution": grid.transform.a,
               **opts.mask.attrs(), **_aoi_attrs(opts.aoi)},
    )
    da["time"].attrs.update({"standard_name": "time", "long_name": "acquisition time (UTC)"})
    da["x"].attrs.update({"standard_name": "projection_x_coordinate", "units": "m"})
    da["y"].attrs.update({"standard_name": "projection_y_coordinate", "units": "m"})
    da["valid_fraction"].attrs["long_name"] = "share of the area of interest with a valid value"
    return da.rio.write_crs(_rasterio_crs(grid)).rio.write_transform(grid.transform)


def _isfinite(data):
    """``isfinite`` of a numpy or dask array, lazily for dask."""
    import dask.array as dsa

    return dsa.isfinite(data) if isinstance(data, dsa.Array) else np.isfinite(data)


def _aoi_attrs(aoi) -> dict[str, str]:
    if aoi is None:
        return {}
    return {"aoi": str(aoi.name), "aoi_kind": str(aoi.kind)}
