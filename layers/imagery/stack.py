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

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

import numpy as np

from gis import masks
from gis.composite import reflectance
from gis.coverage import Grid
from gis.masks import MaskOptions

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



# ------------------------------------------------------------------------------ per scene


def _rasterio_crs(grid: Grid):
    from rasterio.crs import CRS

    return CRS.from_user_input(grid.crs.to_wkt())


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


MASK_THRESHOLD = 1e-3
"""A grid cell is masked when the bilinear weight of masked source cells under it exceeds
this (the any-cloud rule; the small margin keeps aligned grids exact)."""


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


def mask_on_grid(path: str, grid: Grid, to_mask: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``True`` where a masked source cell (``to_mask`` of the raw layer) contributes to a
    grid cell under bilinear resampling — the any-cloud rule: a cell is usable only if
    every source mask cell its reflectance was interpolated from is clear. Cells outside
    the source are masked. Only the source window under ``grid`` is read.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    out = np.ones((grid.height, grid.width), dtype="float32")
    with rasterio.open(path) as src:
        win = _source_window(src, grid)
        if win is None:
            return out.astype(bool)
        raw = src.read(1, window=win)
        bad = to_mask(raw).astype("float32")
        reproject(bad, out, src_transform=src.window_transform(win), src_crs=src.crs, src_nodata=None,
                  dst_transform=grid.transform, dst_crs=_rasterio_crs(grid), dst_nodata=1.0,
                  resampling=Resampling.bilinear, init_dest_nodata=True)
    return out > MASK_THRESHOLD


def scene_mask(scene: Scene, grid: Grid, options: MaskOptions = MaskOptions()) -> np.ndarray:
    """``True`` where the scene's mask layer(s) exclude a grid cell (any-cloud rule, see
    :func:`mask_on_grid`; the layer's no-data value is always masked)."""
    m, res = scene.mask, grid.transform.a

    def layer(raw: np.ndarray) -> np.ndarray:
        out = masks.layer_mask(raw, m.kind, options)
        return out | (raw == m.nodata) if m.nodata is not None else out

    out = mask_on_grid(m.path_for(res), grid, layer)
    rs = scene.extra_masks.get("qa_radsat")
    if rs is not None and options.radsat:
        out |= mask_on_grid(rs.path_for(res), grid, lambda raw: masks.radsat_mask(raw, rs.bands))
    return out


def read_bands_on_grid(paths: Sequence[str], grid: Grid) -> list[np.ndarray]:
    """Band 1 of each file of ``paths`` warped bilinearly onto ``grid`` (float32), files on
    the same source grid in one pass (GDAL shares the coordinate transformation). Only
    the source window under ``grid`` is decoded. No-data is not used by the warper
    (faster, and the scene's mask layer masks every cell a no-data source cell touches);
    cells outside the source get 0.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    groups: dict[tuple, list[int]] = {}
    meta = []
    for i, path in enumerate(paths):
        src = rasterio.open(path)
        meta.append(src)
        groups.setdefault((tuple(src.transform), src.width, src.height, src.crs.to_wkt()), []).append(i)
    out: list[np.ndarray | None] = [None] * len(paths)
    try:
        for members in groups.values():
            src = meta[members[0]]
            win = _source_window(src, grid)
            dst = np.zeros((len(members), grid.height, grid.width), dtype="float32")
            if win is not None:
                raw = np.stack([meta[i].read(1, window=win) for i in members]).astype("float32")
                reproject(raw, dst, src_transform=src.window_transform(win), src_crs=src.crs,
                          dst_transform=grid.transform, dst_crs=_rasterio_crs(grid),
                          resampling=Resampling.bilinear)
            for k, i in enumerate(members):
                out[i] = dst[k]
    finally:
        for src in meta:
            src.close()
    return out


def scene_index(scene: Scene, index, grid: Grid, options: MaskOptions = MaskOptions()) -> np.ndarray:
    """``index`` (name or :class:`gis.indices.Index`) of one scene on ``grid``, NaN where masked."""
    from gis.indices import compute_index, get_index

    ix = get_index(index)
    sources = [scene.bands[sym] for sym in ix.bands]
    dns = read_bands_on_grid([src.path for src in sources], grid)
    bands = {sym: reflectance(dn, src.scale, src.offset, None)
             for sym, src, dn in zip(ix.bands, sources, dns, strict=True)}
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.asarray(compute_index(ix, bands), dtype="float32")
    values[scene_mask(scene, grid, options)] = np.nan
    return values


# ------------------------------------------------------------------------------ stack

BLOCK_ROWS = 1024
"""Rows of the output grid read per task: one source JPEG 2000 tile row at 10 m, so a
tile is decoded about once, and memory per task is ``BLOCK_ROWS × width`` cells."""


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
    block by block when computed or written); ``block_rows`` rows of the grid per task.
    """

    mask: MaskOptions = MaskOptions()
    aoi: object = None
    lazy: bool = False
    block_rows: int = BLOCK_ROWS


class _Counter:
    """Thread-safe ``progress(done, total)`` calls as blocks finish."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None):
        import threading

        self.done, self.total, self.progress, self.lock = 0, total, progress, threading.Lock()

    def tick(self) -> None:
        if self.progress is None:
            return
        with self.lock:
            self.done += 1
            self.progress(self.done, self.total)


def _block(scene: Scene, ix, block: Grid, inside: np.ndarray, options: MaskOptions, counter: _Counter) -> np.ndarray:
    """One scene's index on one block of the grid, NaN outside the AOI (not read at all
    when the block lies wholly outside)."""
    if not inside.any():
        out = np.full((1, block.height, block.width), np.nan, dtype="float32")
    else:
        values = scene_index(scene, ix, block, options)
        values[~inside] = np.nan
        out = values[None]
    counter.tick()
    return out


def _lazy_layers(scenes: Sequence[Scene], ix, grid: Grid, opts: StackOptions, progress):
    """The ``time × y × x`` dask array of the scenes and the dask array of AOI cells."""
    import dask
    import dask.array as dsa

    blocks = row_blocks(grid, opts.block_rows)
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


def index_stack(scenes: Sequence[Scene], index, grid: Grid, options: MaskOptions | StackOptions = MaskOptions(),
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
