"""Zonal statistics: summaries of raster cells inside each zone, exact and fast.

:func:`zonal_stats` builds coverage weights once per (zones, grid) — see
:mod:`gis.coverage` — and then reads the raster in windows of rows (or dask chunks),
gathering only the cells the zones touch. A time stack (a DataArray with a ``time`` dim,
a list of files, a NetCDF/Zarr store) reuses one set of weights for every date.

Statistics (``w`` is the weight of a cell: its coverage fraction for ``method="exact"``,
1 for ``"center"``/``"all_touched"``; cells that are NaN, nodata or masked on a date are
left out on that date):

``count``  Σw (for ``exact``: cells inside, counted by fraction)
``sum``    Σw·v          ``mean``  Σw·v / Σw
``min``/``max``  smallest / largest value of any cell with w > 0
``std``    √(Σw·(v − mean)² / Σw)  (weighted population standard deviation)
``median``, ``pNN`` (``p10``, ``p90``, ``p2.5`` …)  weighted quantiles, defined as in
           exactextract 0.3: merge equal values (adding their weights), sort the n
           distinct values xᵢ (0-based i) with weights wᵢ, let Cᵢ be the weight of the
           values below xᵢ and sᵢ = i·wᵢ + (n−1)·Cᵢ; the q-quantile interpolates linearly
           between the xᵢ whose sᵢ enclose q·(n−1)·Σw (the largest x if none). With
           distinct values and equal weights this is numpy's default (type 7) quantile.
``majority``/``minority``  value with the largest / smallest Σw (ties: smallest value)
``variety``  number of distinct values
``categorical=True`` adds, for each class value c, ``area_mu_c`` — Σ w·(ellipsoidal GRS80
area of the cell) in 亩 — and ``frac_c``, the share of the zone's valid area in class c.

Every result also has ``coverage_fraction`` (share of the zone's area inside the raster)
and ``partly_outside``.

Every input goes through one engine: a list of files, an in-memory DataArray, a dask
DataArray (any chunking) and a NetCDF/Zarr path (opened lazily, without dask) are all
read in windows of whole rows, widened to whole storage blocks / dask chunks; rows two
windows share are decoded once and kept (dask chunks are stored straight into the
buffer, never concatenated), and only the cells the zones touch are gathered, so results
agree to the last bit across inputs and the stack is never loaded whole. Memory: one
buffer of the widest window × the dates read together (at most ``_READ_BUFFER`` bytes)
plus ``workers + 1`` gathered windows.

With a ``distributed.Client`` active, a dask stack (and a NetCDF/Zarr path, then opened
with its chunks) runs on the client's cluster with the same engine: the windows are cut
into one contiguous run per worker thread; each task gets the dask graph of its own rows
(a stack opened from files is read by the worker, from the files, by path; no data
passes through the client) and its run's coverage weights, scattered once. A worker
thread holds what the local engine holds — its widest window widened to whole chunks
(≤ window rows + 2 × chunk rows) × width × dates × itemsize, the chunks being computed
and two windows' gathered cells in float64 — so memory per worker follows from the
window and chunk sizes, never from the stack (see :func:`_distributed_bands`).

One-time costs of the first call in a process (measured in
``benchmarks/results/zonal_paths.md``): the first touch of the working memory (page
faults, ≈ 0.3 s of system CPU for 4,000 parcels on 3000² × 12); the first
``rasterio.open`` (GDAL driver registration, < 0.1 s) and the first
``xarray.open_dataset`` (backend discovery and the h5netcdf import, ≈ 0.3 s); on a
cluster, each worker's first task imports agrigis and opens the files (≈ 2 s). No JIT,
no cache to warm: a second call builds the weights again unless they are cached (the
last two are, see ``coverage=``). A dask stack from ``rioxarray.open_rasterio`` keeps
its files open, so GDAL's block cache (5 % of RAM by default) can serve a second call's
reads; the first call decodes them (rioxarray's default lock also lets one thread
decode at a time; ``open_rasterio(..., lock=False)`` lifts that).

Examples
--------
>>> import numpy as np, xarray as xr, geopandas as gpd, rioxarray  # noqa: F401
>>> from shapely import box
>>> da = xr.DataArray(np.arange(16.0).reshape(4, 4), dims=("y", "x"),
...                   coords={"y": [35.0, 25.0, 15.0, 5.0], "x": [5.0, 15.0, 25.0, 35.0]})
>>> da = da.rio.write_crs("EPSG:4550")
>>> zones = gpd.GeoDataFrame({"name": ["a", "b"]},
...                          geometry=[box(0, 0, 20, 20), box(10, 10, 40, 25)],
...                          crs="EPSG:4550").set_index("name")
>>> zonal_stats(zones, da, stats=["count", "mean", "max"])
      count       mean   max  coverage_fraction  partly_outside
name
a       4.0  10.500000  13.0                1.0           False
b       4.5   8.666667  11.0                1.0           False
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import (TYPE_CHECKING, Any, Callable, Iterable, Literal, NamedTuple, Protocol, Sequence, SupportsFloat,
                    TypeAlias, TypeVar, cast, overload)

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from .coverage import METHODS, Band, Coverage, Grid, IndexArray, IntArray, _where
from .errors import DataFileError, GridError, InputError, Message
from .units import FloatArray, m2_to_mu

if TYPE_CHECKING:
    from collections.abc import Iterator

    import geopandas as gpd
    import xarray as xr
    from dask.array import Array as DaskArray

Zones: TypeAlias = "gpd.GeoDataFrame | gpd.GeoSeries"
"""Zones as :func:`zonal_stats` takes them (polygons with a CRS)."""
RasterInput: TypeAlias = Any
"""A raster as :func:`zonal_stats` takes it: a path, an open rasterio dataset, an xarray
DataArray/Dataset with a CRS, or a list of these on one grid (duck-typed)."""
_Raw: TypeAlias = npt.NDArray[Any]
"""Cell values as stored (any dtype), or their validity."""
_Meta: TypeAlias = tuple[Any, Any, Any]
"""A date's (nodata, scale, offset) as the file or array gives them (each may be None)."""
_FileMeta: TypeAlias = tuple[Any, Any, Any, bool]
"""A file's (nodata, scale, offset, whether its mask band counts)."""
_Gathered: TypeAlias = tuple[_Raw, Sequence[_Meta], "npt.NDArray[np.bool_] | None"]
"""What a reader gives for a window: (T, cells) raw values, each date's meta, validity."""
_ClassKey: TypeAlias = int | float
_Stats: TypeAlias = dict[str, FloatArray]
"""statistic -> (zones, T)."""
_Classes: TypeAlias = dict[_ClassKey, FloatArray]
"""class value -> area in m² (zones, T)."""
_BandResult: TypeAlias = tuple[_Stats, _Classes, "FloatArray | None"]
"""One band's (statistics, class areas, valid area)."""
_Window: TypeAlias = tuple[sp.csr_array, _Raw, Sequence[_Meta], "npt.NDArray[np.bool_] | None"]
"""A window read for computing: its weights, then what the reader gathered."""
_T = TypeVar("_T")
_R = TypeVar("_R")
_Client: TypeAlias = Any
"""A ``distributed.Client`` (its methods carry no type information)."""
_CacheKey: TypeAlias = tuple[str, tuple[float, ...], int, int, str, str]

log = logging.getLogger(__name__)

__all__ = ["zonal_stats", "ZonalRequest", "raster_grid", "dates_in_names", "STATS", "DEFAULT_STATS"]

STATS = ("count", "sum", "mean", "min", "max", "std", "median", "majority", "minority",
         "variety")
"""Names of the statistics (plus ``pNN`` quantiles such as ``p10``)."""
DEFAULT_STATS = ("count", "mean", "min", "max", "std")
_RANKED = ("median", "majority", "minority", "variety")  # need the cells' values sorted
_QUANT = re.compile(r"^p(\d+(?:\.\d+)?)$")
_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])(?:[-_.]?(0[1-9]|[12]\d|3[01]))?(?!\d)")
_CACHE: OrderedDict[_CacheKey, Coverage] = OrderedDict()
_CACHE_SIZE = 2
_GDAL_CACHE = 32 * 2**20  # bytes
_READ_BUFFER = 512 * 2**20  # bytes of decoded rows kept for the dates read together


@overload
def dates_in_names(names: Sequence[str], where: str | Message = ...,
                   strict: Literal[True] = ...) -> pd.DatetimeIndex: ...
@overload
def dates_in_names(names: Sequence[str], where: str | Message = ...,
                   strict: bool = ...) -> pd.DatetimeIndex | None: ...
def dates_in_names(names: Sequence[str], where: str | Message = "stack",
                   strict: bool = True) -> pd.DatetimeIndex | None:
    """The date written in each name (a file name or band description) as a
    ``pandas.DatetimeIndex``: ``2024-05-01``, ``2024_05_01``, ``20240501`` or ``2024-05``
    (the first of the month), anywhere in the name.

    With ``strict`` a name without a date raises :class:`InputError` naming it; without,
    the result is None when any name has no date.

    Examples
    --------
    >>> dates_in_names(["ndvi_2024-05-01.tif", "LC08_118028_20240617_T1.tif", "s2_2024_07"]).strftime("%Y-%m-%d").tolist()
    ['2024-05-01', '2024-06-17', '2024-07-01']
    >>> dates_in_names(["tile_8000_d01.tif"], strict=False) is None
    True
    """
    out: list[pd.Timestamp] = []
    place = _where(where, "stack", "error.where_stack")
    for v in names:
        m = _DATE.search(str(v))
        if m is None:
            if not strict:
                return None
            raise InputError.of("error.date_unknown", where=place, value=v)
        try:
            out.append(pd.Timestamp(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)))
        except ValueError:  # 2023-02-30
            if not strict:
                return None
            raise InputError.of("error.date_invalid", where=place, value=v, date=m.group(0)) from None
    return pd.DatetimeIndex(out)


# ----------------------------------------------------------------------------------------
# raster sources
# ----------------------------------------------------------------------------------------
class _Source:
    """A single raster or a stack on one grid, read by windows of full rows."""

    grid: Grid
    times: list[Any] | None  # None for a single raster
    time_name: Hashable = "time"
    dask: DaskArray | None = None  # a dask array (time, y, x) when dask-backed
    name: str = "raster"
    block_rows: int = 1  # rows of a storage block / dask chunk: windows align to them

    row_bytes: int = 0  # bytes one row of one date takes in a reader's buffer

    def widen(self, r0: int, r1: int) -> tuple[int, int]:
        """Rows ``r0:r1`` widened to whole storage blocks (dask chunks): what a reader
        decodes for that window."""
        B, H = max(int(self.block_rows), 1), self.grid.height
        return r0 // B * B, min(-(-r1 // B) * B, H)

    def reader(self, dates: slice, threads: int, capacity: int) -> _Reader:
        """An object whose ``gather(r0, r1, idx)`` returns the cells ``idx`` (counted
        from row ``r0``) of rows ``r0:r1`` for the ``dates``: ``(T, len(idx))`` raw
        values, each date's (nodata, scale, offset) and the validity (or None). Called
        with windows in order down the raster; ``capacity`` is the most rows a window
        spans once widened to whole storage blocks."""
        raise NotImplementedError

    def env(self) -> contextlib.AbstractContextManager[Any]:
        """Settings for the library that reads the files, for one whole run."""
        return contextlib.nullcontext()

    def close(self) -> None:
        pass


class _Reader(Protocol):
    """What :meth:`_Source.reader` returns (see there)."""

    def gather(self, r0: int, r1: int, idx: IndexArray) -> _Gathered: ...

    def close(self) -> None: ...


def _file_times(paths: Sequence[str]) -> list[Any]:
    """Dates of a list of files from their names when every name holds a distinct date,
    else the file names (without extension)."""
    stems = [Path(str(p)).stem for p in paths]
    dates = dates_in_names(stems, strict=False)
    return list(dates) if dates is not None and dates.is_unique else stems


def _invalid(arr: _Raw, nodata: Any, mask: _Raw | None = None,
             nan: bool = True) -> npt.NDArray[np.bool_] | None:
    """Cells of raw ``arr`` that are nodata, masked out (``mask`` False) or, with
    ``nan``, NaN; None when no such cell can exist."""
    bad = np.isnan(arr) if nan and arr.dtype.kind == "f" else None
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        bad = arr == nodata if bad is None else bad | (arr == nodata)
    if mask is not None:
        bad = ~mask if bad is None else bad | ~mask
    return bad


def _apply(arr: _Raw, nodata: Any, scale: Any, offset: Any, mask: _Raw | None = None) -> FloatArray:
    """To float64 with NaN for nodata/masked cells, then scale and offset."""
    out = arr.astype(np.float64)
    bad = _invalid(arr, nodata, mask, nan=False)  # NaN stays NaN anyway
    if bad is not None:
        out[bad] = np.nan
    if scale not in (None, 1.0):
        out *= scale
    if offset not in (None, 0.0):
        out += offset
    return out


class _RasterioSource(_Source):
    def __init__(self, paths: Sequence[Any], band: int, nodata: float | None = None,
                 times: Sequence[Any] | None = None, stack: bool = False) -> None:
        """``paths``: file paths or open rasterio datasets (read as they are)."""
        import rasterio

        self._rasterio = rasterio
        self.paths: list[str] = []
        self._given: list[Any] = []  # the caller's open datasets (None for a path)
        self.band = band
        grid: Grid | None = None
        self.meta: list[_FileMeta] = []
        self.drivers: list[str] = []
        for p in paths:
            if hasattr(p, "read") and hasattr(p, "transform"):  # open dataset
                ds, own = p, False
            else:
                try:
                    ds, own = rasterio.open(p), True
                except rasterio.errors.RasterioIOError as exc:
                    raise DataFileError.of("error.raster_cannot_open", path=p, detail=exc) from exc
            try:
                if not 1 <= band <= ds.count:
                    raise InputError.of("error.band_missing", path=ds.name, band=band, count=ds.count)
                g = Grid.of(ds).check(str(ds.name))
                if grid is None:
                    grid = g
                elif not grid.same_as(g):
                    raise GridError.of("error.stack_grid", path=ds.name, grid=g.describe_message(),
                                       first=grid.describe_message())
                if grid is g:  # the first file: its storage blocks and cell size
                    self.block_rows = int(ds.block_shapes[band - 1][0])
                self.dtype = np.result_type(getattr(self, "dtype", ds.dtypes[band - 1]),
                                            ds.dtypes[band - 1])
                self.row_bytes = self.dtype.itemsize * g.width
                nd = ds.nodata if nodata is None else nodata
                flags = ds.mask_flag_enums[band - 1]
                use_mask = any(f.name in ("per_dataset", "alpha") for f in flags)
                self.meta.append((nd, ds.scales[band - 1], ds.offsets[band - 1], use_mask))
                self.paths.append(ds.name)
                self.drivers.append(ds.driver)
                self._given.append(None if own else ds)
            finally:
                if own:
                    ds.close()
        assert grid is not None  # paths is not empty
        self.grid = grid
        self.name = str(self.paths[0])
        self.times = (list(times) if times is not None else _file_times(self.paths)) \
            if stack else None

    def env(self) -> contextlib.AbstractContextManager[Any]:
        """A small GDAL block cache: :class:`_Strips` decodes each block once and keeps
        the rows it still needs itself, so GDAL's default cache (5 % of RAM) would only
        hold memory."""
        return cast("contextlib.AbstractContextManager[Any]", self._rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE))

    def reader(self, dates: slice, threads: int, capacity: int) -> "_Strips":
        """Decodes each storage block once (see :class:`_Strips`); GeoTIFFs with
        ``threads`` decoding threads each (GDAL's ``NUM_THREADS`` open option)."""
        dss: list[Any] = []
        own: list[Any] = []
        try:
            for i in range(len(self.paths))[dates]:
                if self._given[i] is not None:  # the caller's dataset: read as it is
                    dss.append(self._given[i])
                    continue
                opts = {"NUM_THREADS": max(int(threads), 1)} if self.drivers[i] in (
                    "GTiff", "COG") else {}
                try:
                    ds = self._rasterio.open(self.paths[i], **opts)
                except self._rasterio.errors.RasterioIOError as exc:
                    raise DataFileError.of("error.raster_cannot_open", path=self.paths[i], detail=exc) from exc
                own.append(ds)
                dss.append(ds)
        except BaseException:
            for ds in own:
                ds.close()
            raise
        return _Strips(self, dss, own, self.meta[dates], capacity)


class _RowBuffer:
    """Rows ``lo:hi`` of every date of a source, decoded once.

    Windows move down the raster (each starts at or below the previous one's start) and
    overlap a little: a zone's window runs to its last row. :meth:`gather` keeps the
    rows the next window shares with the last one and decodes only the rest, in whole
    storage blocks (or dask chunks), straight into one preallocated buffer per date.
    Decoding a block twice, or into a fresh array, costs more than all the arithmetic
    of a mean. Subclasses say how rows are decoded (:meth:`_decode`).
    """

    def __init__(self, src: _Source, T: int, dtype: np.dtype[Any], meta: Sequence[_Meta | _FileMeta],
                 capacity: int, masks: bool = False) -> None:
        self.src, self.meta = src, meta
        W = src.grid.width
        self.buf: _Raw = np.empty((T, capacity, W), dtype=dtype)
        self.mbuf: npt.NDArray[np.uint8] | None = np.empty((T, capacity, W), dtype=np.uint8) if masks else None
        self.lo = self.hi = 0
        self.rows_decoded = 0  # rows read from the source, all dates (tests check it)

    def _decode(self, a: int, b: int, rows: slice) -> None:
        """Decode grid rows ``a:b`` of every date into ``self.buf[:, rows]``."""
        raise NotImplementedError

    def _load(self, r0: int, r1: int) -> None:
        a, b = self.src.widen(r0, r1)
        if b - a > self.buf.shape[1]:
            raise AssertionError(f"rows {a}:{b} exceed the buffer of {self.buf.shape[1]}")
        if self.lo <= a < self.hi:  # keep the shared rows: move them to the top
            n = self.hi - a
            self.buf[:, :n] = self.buf[:, a - self.lo:self.hi - self.lo]
            if self.mbuf is not None:
                self.mbuf[:, :n] = self.mbuf[:, a - self.lo:self.hi - self.lo]
            self.lo = a
        else:
            self.lo = self.hi = a
        if b <= self.hi:
            return
        self._decode(self.hi, b, slice(self.hi - self.lo, b - self.lo))
        self.rows_decoded += (b - self.hi) * self.buf.shape[0]
        self.hi = b

    def gather(self, r0: int, r1: int, idx: IndexArray) -> _Gathered:
        """Cells ``idx`` (counted from row ``r0``) of rows ``r0:r1`` of every date:
        ``(T, len(idx))`` raw values, the dates' (nodata, scale, offset) and their
        validity ``(T, len(idx))`` (or None)."""
        self._load(r0, r1)
        T, W = self.buf.shape[0], self.buf.shape[2]
        off = (r0 - self.lo) * W
        graw = np.empty((T, len(idx)), dtype=self.buf.dtype)
        for i in range(T):
            flat = self.buf[i].reshape(-1)
            np.take(flat[off:off + (r1 - r0) * W], idx, out=graw[i])
        gmask = None
        if self.mbuf is not None:
            gmask = np.empty((T, len(idx)), dtype=bool)
            for i in range(T):
                flat = self.mbuf[i].reshape(-1)
                np.greater(flat[off:off + (r1 - r0) * W][idx], 0, out=gmask[i])
        return graw, [m[:3] for m in self.meta], gmask

    def close(self) -> None:
        pass


class _Strips(_RowBuffer):
    """The row buffer of a :class:`_RasterioSource`: GDAL decodes whole blocks."""

    src: _RasterioSource

    def __init__(self, src: _RasterioSource, dss: list[Any], own: list[Any], meta: list[_FileMeta],
                 capacity: int) -> None:
        super().__init__(src, len(dss), src.dtype, meta, capacity,
                         masks=any(m[3] for m in meta))
        self.masked = [m[3] for m in meta]  # the dates whose mask band counts
        self.dss, self.own = dss, own

    def _decode(self, a: int, b: int, rows: slice) -> None:
        from rasterio.windows import Window

        src = self.src
        win = Window(0, a, src.grid.width, b - a)
        for i, ds in enumerate(self.dss):
            try:
                ds.read(src.band, window=win, out=self.buf[i, rows])
                if self.mbuf is None:
                    continue
                self.mbuf[i, rows] = ds.read_masks(src.band, window=win) if self.masked[i] else 255
            except src._rasterio.errors.RasterioError as exc:
                why = exc.__cause__ or exc  # rasterio's own text only points at GDAL's
                raise DataFileError.of("error.raster_damaged", path=ds.name, first=a, last=b - 1,
                                       band=src.band, detail=why) from exc

    def close(self) -> None:
        """Close the files this reader opened (not the caller's datasets)."""
        for ds in self.own:
            ds.close()
        self.own = []


class _LazyRows(_RowBuffer):
    """The row buffer of a dask-backed or lazily opened DataArray: each window's new
    rows (whole chunks) are computed — dask's threads, or the file's own lazy indexing —
    and nothing else of the stack is ever materialised."""

    src: _XarraySource

    def __init__(self, src: _XarraySource, dates: slice, capacity: int) -> None:
        T = len(range(len(src.meta))[dates])
        super().__init__(src, T, src.dtype, src.meta[dates], capacity)
        self.dates = dates

    def _decode(self, a: int, b: int, rows: slice) -> None:
        self.src.rows_into(self.buf[:, rows], self.dates, a, b)


class _XarraySource(_Source):
    def __init__(self, da: xr.DataArray, nodata: float | None = None, name: str = "raster") -> None:
        import xarray as xr  # noqa: F401

        self.name = name
        ydim, xdim = da.rio.y_dim, da.rio.x_dim
        if ydim in da.coords and da.sizes[ydim] > 1 and da[ydim][1] > da[ydim][0]:
            da = da.isel({ydim: slice(None, None, -1)})  # south-up (NetCDF): flip, lazily
        grid = Grid.of(da).check(name)
        others = [d for d in da.dims if d not in (ydim, xdim)]
        if len(others) > 1:
            raise InputError.of("error.dataarray_dims", name=_where(name, "raster", "error.where_raster"),
                                dims=da.dims)
        if others and da.sizes[others[0]] == 1 and others[0] != "time":
            da = da.squeeze(others[0], drop=True)
            others = []
        if others:
            self.time_name = others[0]
            self.times = list(da[others[0]].values) if others[0] in da.coords else \
                list(range(da.sizes[others[0]]))
            da = da.transpose(others[0], ydim, xdim)
        else:
            self.times = None
            da = da.transpose(ydim, xdim).expand_dims("__t")
        self.grid = grid
        self.da, self.dtype = da, da.dtype
        nd = da.rio.nodata if nodata is None else nodata
        self.nodata = None if nd is None else (None if np.isnan(nd) else nd)
        attrs = da.attrs
        self.scale = attrs.get("scale_factor", None)
        self.offset = attrs.get("add_offset", None)
        var = da.variable
        self.dask = var.data if _is_dask(var._data) else None
        self.in_memory = self.dask is None and bool(getattr(var, "_in_memory", False))
        self.array = var.values if self.in_memory else None  # a view, no copy
        self.edges = None  # row edges of the dask chunks (they may be uneven)
        if self.dask is not None:
            self.edges = np.concatenate([[0], np.cumsum(self.dask.chunks[1])])
            self.block_rows = int(self.dask.chunks[1][0])
        elif not self.in_memory:  # lazily opened file: read windows of its own chunks
            chunks = da.encoding.get("chunksizes") or da.encoding.get("preferred_chunks")
            if isinstance(chunks, dict):
                chunks = chunks.get(ydim)
            elif chunks:
                chunks = chunks[-2]
            self.block_rows = int(chunks or 1)
        self.row_bytes = 0 if self.in_memory else da.dtype.itemsize * grid.width  # buffered
        self.meta = [(self.nodata, self.scale, self.offset)] * da.shape[0]

    def widen(self, r0: int, r1: int) -> tuple[int, int]:
        if self.edges is None:
            return super().widen(r0, r1)
        e = self.edges
        return int(e[np.searchsorted(e, r0, side="right") - 1]), int(e[np.searchsorted(e, r1)])

    def reader(self, dates: slice, threads: int, capacity: int) -> _Reader:
        if self.in_memory:
            return _ArrayReader(self, dates)
        return _LazyRows(self, dates, capacity)

    def rows_into(self, out: _Raw, dates: slice, a: int, b: int) -> None:
        """Grid rows ``a:b`` of the ``dates`` into ``out``: for a dask array only the
        chunks these rows fall in, computed by dask's threads, each stored straight into
        its place (no concatenated copy); else the file's own lazy indexing."""
        if self.dask is None:
            out[...] = self.da[dates, a:b, :].values
            return
        _store(self.dask[dates, a:b, :], out)


class _ShippedRows(_XarraySource):
    """Rows ``lo:hi`` of a dask stack as sent to a ``distributed`` worker: the dask graph
    of those rows only (culled), so a file-backed stack is read by the worker itself,
    from the file, and no data goes through the client. Grid rows keep their numbers."""

    dask: DaskArray

    def __init__(self, src: _XarraySource, lo: int, hi: int) -> None:  # noqa: D107 - no super()
        from dask.base import optimize as dask_optimize

        optimize: Callable[[DaskArray], tuple[DaskArray]] = dask_optimize  # unannotated in dask
        assert src.dask is not None  # only dask stacks go to a cluster
        self.grid, self.times, self.meta, self.name = src.grid, src.times, src.meta, src.name
        self.edges, self.block_rows, self.row_bytes = src.edges, src.block_rows, src.row_bytes
        self.dtype = src.dtype
        self.lo, self.in_memory = lo, False
        self.dask, = optimize(src.dask[:, lo:hi, :])

    def rows_into(self, out: _Raw, dates: slice, a: int, b: int) -> None:
        _store(self.dask[dates, a - self.lo:b - self.lo, :], out)


def _store(part: DaskArray, out: _Raw) -> None:
    """Compute the dask array ``part`` into ``out`` with dask's local threads (also on a
    ``distributed`` worker: the task's own rows), chunk by chunk."""
    import dask.array

    dask.array.store(part, out, lock=False, scheduler="threads")


class _ArrayReader:
    """Windows of an in-memory DataArray (nothing to decode)."""

    def __init__(self, src: _XarraySource, dates: slice) -> None:
        self.src, self.dates = src, dates

    def gather(self, r0: int, r1: int, idx: IndexArray) -> _Gathered:
        assert self.src.array is not None  # an in-memory source
        raw = self.src.array[self.dates, r0:r1, :]
        return raw.reshape(raw.shape[0], -1)[:, idx], self.src.meta[self.dates], None

    def close(self) -> None:
        pass


def _is_dask(x: object) -> bool:
    return type(x).__module__.startswith("dask")


def _open(raster: RasterInput, band: int, nodata: float | None, times: Sequence[Any] | None,
          variable: str | None) -> _Source:
    """Turn whatever the user passed into a :class:`_Source`."""
    if isinstance(raster, (list, tuple)):
        if not raster:
            raise InputError("an empty list of rasters was given")
        if all(hasattr(r, "rio") for r in raster):
            import xarray as xr

            da = xr.concat(list(raster), dim="time")
            if times is not None:
                da = da.assign_coords(time=list(times))
            return _XarraySource(da, nodata)
        return _RasterioSource(raster, band, nodata, times, stack=True)
    if hasattr(raster, "rio"):
        da = raster
        if hasattr(raster, "data_vars"):  # Dataset
            da = _pick_variable(raster, variable, Message("error.where_dataset"))
        return _XarraySource(da, nodata)
    if hasattr(raster, "read") and hasattr(raster, "transform"):
        return _RasterioSource([raster], band, nodata)
    if isinstance(raster, (str, os.PathLike)):
        p = Path(raster)
        if p.suffix.lower() in (".nc", ".nc4", ".cdf", ".zarr") or p.is_dir():
            # lazily: windows read by the file's own indexing; dask only for a cluster
            da = _open_xarray(p, variable, chunks={} if _client() is not None else None)
            return _XarraySource(da, nodata, str(p))
        if not p.exists():
            raise DataFileError.of("error.raster_not_found", path=p)
        return _RasterioSource([p], band, nodata)
    raise InputError(f"cannot read a raster from {type(raster).__name__}; pass a path, an "
                     "open rasterio dataset, an xarray DataArray/Dataset with a CRS or a "
                     "list of rasters on one grid")


def _pick_variable(ds: xr.Dataset, variable: str | None, where: str | Message) -> xr.DataArray:
    """``variable``, else the one raster variable of ``ds`` (a composite's ``valid_count``
    companions do not count: a composite stack has one index)."""
    from .stackfile import index_variables

    names = [v for v, da in index_variables(ds).items() if da.ndim >= 2]
    if variable is not None:
        if variable not in ds.data_vars:
            raise InputError.of("error.no_variable", where=where, variable=variable, names=names)
        return ds[variable]
    if len(names) != 1:
        raise InputError.of("error.choose_variable", where=where, names=names)
    return ds[names[0]]


def _open_xarray(path: Path, variable: str | None, chunks: dict[str, int] | None = None) -> xr.DataArray:
    """The variable of a NetCDF file or Zarr store, opened lazily (dask with ``chunks``)."""
    from .stackfile import open_stack_dataset

    return _pick_variable(open_stack_dataset(path, chunks=chunks), variable, str(path))


def raster_grid(raster: RasterInput, band: int = 1, variable: str | None = None) -> Grid:
    """The (checked) grid of anything :func:`zonal_stats` accepts as a raster.

    Examples
    --------
    >>> import numpy as np, xarray as xr, rioxarray  # noqa: F401
    >>> da = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"),
    ...                   coords={"y": [15.0, 5.0], "x": [5.0, 15.0, 25.0]})
    >>> raster_grid(da.rio.write_crs("EPSG:4550")).describe()
    '3×2 cells of 10×10 at (0, 20), EPSG:4550'
    """
    src = _open(raster, band, None, None, variable)
    try:
        return src.grid
    finally:
        src.close()


# ----------------------------------------------------------------------------------------
# statistics on gathered cells
# ----------------------------------------------------------------------------------------
def _parse_stats(stats: Iterable[str] | str) -> list[str]:
    if isinstance(stats, str):
        stats = [s.strip() for s in stats.split(",") if s.strip()]
    out: list[str] = []
    for given in stats:
        s = str(given).strip().lower()
        m = _QUANT.match(s)
        if s not in STATS and not (m and 0 <= float(m.group(1)) <= 100):
            raise InputError.of("error.unknown_stat", stat=s, choices=", ".join(STATS))
        if s not in out:
            out.append(s)
    return out


def _weighted_quantiles(z: IntArray, v: FloatArray, w: FloatArray, n_zones: int,
                        qs: Sequence[float]) -> FloatArray:
    """exactextract's weighted quantiles per zone.

    ``z, v, w`` are the distinct (zone, value) pairs with their summed weights, sorted by
    zone then value. Returns ``(len(qs), n_zones)`` (NaN for empty zones).
    """
    out = np.full((len(qs), n_zones), np.nan)
    if not len(v):
        return out
    counts = np.bincount(z, minlength=n_zones)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n = counts[z].astype(np.float64)
    i = np.arange(len(z)) - starts[z]
    cw = np.cumsum(w)
    base = np.zeros(n_zones)  # cumulative weight before each zone's first value
    has = counts > 0  # (zones with no valid cell may come last: no start to index)
    base[has] = cw[starts[has]] - w[starts[has]]
    before = cw - w - base[z]  # cumulative weight before this value, within its zone
    s = i * w + (n - 1) * before
    total = np.bincount(z, weights=w, minlength=n_zones)
    sn = total * (counts - 1)
    # normalise s into [0, 1] per zone and offset by zone number for one searchsorted
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(sn[z] > 0, s / sn[z], 0.0)
    key = z + np.minimum(u, 1.0) * 0.5
    zs = np.flatnonzero(counts > 0)
    first, last = starts[zs], starts[zs] + counts[zs] - 1
    for k, q in enumerate(qs):
        right = np.searchsorted(key, zs + q * 0.5, side="right")
        left = np.clip(right - 1, first, last)
        r = np.minimum(right, last)
        sl, sr = s[left], s[r]
        t = q * sn[zs]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(sr > sl, (t - sl) / (sr - sl), 0.0)
        val = v[left] + frac * (v[r] - v[left])
        out[k, zs] = np.where((right > last) | (counts[zs] == 1), v[left], val)
    return out


def _linear(graw: _Raw, gmask: npt.NDArray[np.bool_] | None, w: FloatArray, meta: Sequence[_Meta],
            seg: _ZoneSums, stats: Sequence[str]) -> _Stats:
    """count, sum and mean straight from the raw cells (the common time-series case).

    One pass makes w·v in float64; cells that are NaN, nodata or masked are zeroed only
    on the dates that have any, and the count Σw is summed once for all clear dates.
    Scale and offset are applied to the sums: Σw(s·v + o) = s·Σw·v + o·Σw.
    """
    T = graw.shape[0]
    wv = np.multiply(graw, w, dtype=np.float64)
    full = seg(w[None, :])[:, 0]
    cnt = np.repeat(full[:, None], T, axis=1)
    for t in range(T):
        bad = _invalid(graw[t], meta[t][0], None if gmask is None else gmask[t])
        if bad is not None and bad.any():
            wv[t][bad] = 0.0
            cnt[:, t] = seg(np.where(bad, 0.0, w)[None, :])[:, 0]
    sm = seg(wv)
    for t, (_, scale, offset) in enumerate(meta):
        if scale not in (None, 1.0):
            sm[:, t] *= scale
        if offset not in (None, 0.0):
            sm[:, t] += offset * cnt[:, t]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, sm / cnt, np.nan)
    res = {"count": cnt, "sum": sm, "mean": mean}
    return {k: res[k] for k in stats}


@dataclass(frozen=True)
class _Job:
    """What every window computes: the statistics, whether class areas too, on which grid."""

    stats: tuple[str, ...]
    categorical: bool
    grid: Grid


def _band_compute(weights: sp.csr_array, raw: _Raw, meta: Sequence[_Meta], job: _Job, *,
                  row0: int = 0, masks: _Raw | None = None, gathered: bool = False) -> _BandResult:
    """All statistics for the zones of one band (window of rows from ``row0``).

    ``raw`` is (T, rows, width) as stored (or, with ``gathered``, already (T, nnz) in
    the order of ``weights.indices``), ``meta`` the (nodata, scale, offset) of each
    date and ``masks`` the validity of the same shape, or None. Returns
    ``(dict stat -> (nz, T), dict class -> (area_m2 (nz, T)), valid_area (nz, T))``.
    """
    stats, categorical, grid = list(job.stats), job.categorical, job.grid
    seg = _ZoneSums(weights)
    if gathered:
        graw, gmask = raw, masks
    else:  # gather only the cells the zones touch
        graw = np.asarray(raw).reshape(raw.shape[0], -1)[:, weights.indices]
        gmask = None if masks is None else np.asarray(masks).reshape(raw.shape[0], -1)[:, weights.indices]
    if set(stats) <= {"count", "sum", "mean"} and not categorical:
        return _linear(graw, gmask, weights.data, meta, seg, stats), {}, None
    vals = _masked_values(graw, gmask, meta)
    del graw, gmask
    valid = ~np.isnan(vals)
    res = _moments(vals, valid, weights.data, seg, stats)
    res.update(_extremes(vals, valid, weights, stats))
    classes: _Classes = {}
    if categorical or any(s in _RANKED or _QUANT.match(s) for s in stats):
        cell_area = _cell_areas(weights.indices, row0, grid) if categorical else None
        ranked, classes = _ranked(vals, valid, weights, stats, cell_area)
        res.update(ranked)
    valid_area: FloatArray | None = None
    if categorical:  # the sum of the class areas (zeros when there is no class)
        valid_area = sum(classes.values(), np.zeros((seg.n, vals.shape[0])))
    return ({k: res[k] for k in stats}, classes, valid_area)


class _ZoneSums:
    """Per-zone sums of gathered cells, (T, nnz) -> (nz, T): each zone's cells are one run."""

    def __init__(self, weights: sp.csr_array) -> None:
        self.n: int = weights.shape[0]
        self.counts: IntArray = np.diff(weights.indptr)
        self.nonempty = self.counts > 0
        self.starts: IntArray = weights.indptr[:-1][self.nonempty]

    def __call__(self, x: npt.NDArray[Any]) -> FloatArray:
        out = np.zeros((self.n, x.shape[0]))
        if len(self.starts):
            out[self.nonempty] = np.add.reduceat(x, self.starts, axis=1).T
        return out

    def zone_of_cell(self) -> IntArray:
        """The zone number of each gathered cell."""
        return np.repeat(np.arange(self.n), self.counts)


def _masked_values(graw: _Raw, gmask: npt.NDArray[np.bool_] | None, meta: Sequence[_Meta]) -> FloatArray:
    """Gathered cells as float values: scale and offset applied, NaN where invalid."""
    if gmask is None and all(m == meta[0] for m in meta):  # one conversion for all dates
        return _apply(graw, *meta[0])
    vals = np.empty(graw.shape)
    for t in range(graw.shape[0]):
        vals[t] = _apply(graw[t], *meta[t], None if gmask is None else gmask[t])
    return vals


def _moments(vals: FloatArray, valid: npt.NDArray[np.bool_], w: FloatArray, seg: _ZoneSums,
             stats: Sequence[str]) -> _Stats:
    """count Σw and, when asked, sum Σw·v, mean and the weighted population std."""
    res: _Stats = {}
    wv = np.where(valid, w, 0.0)
    cnt = seg(wv)
    res["count"] = cnt
    if {"sum", "mean", "std"} & set(stats):
        sm = seg(np.where(valid, vals, 0.0) * w)
        res["sum"] = sm
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(cnt > 0, sm / cnt, np.nan)
        res["mean"] = mean
        if "std" in stats:
            d = np.where(valid, vals - mean[seg.zone_of_cell()].T, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                res["std"] = np.sqrt(np.where(cnt > 0, seg(wv * d * d) / cnt, np.nan))
    return res


def _extremes(vals: FloatArray, valid: npt.NDArray[np.bool_], weights: sp.csr_array,
              stats: Sequence[str]) -> _Stats:
    """min and max of the valid cells of each zone (NaN for a zone without any)."""
    nz, T = weights.shape[0], vals.shape[0]
    has = np.diff(weights.indptr) > 0
    s = weights.indptr[:-1][has]
    res: _Stats = {}
    for name, fill, ufunc in (("min", np.inf, np.minimum), ("max", -np.inf, np.maximum)):
        if name in stats:
            r = np.full((nz, T), np.nan)
            if len(s):
                r[has] = ufunc.reduceat(np.where(valid, vals, fill), s, axis=1).T
            r[~np.isfinite(r)] = np.nan
            res[name] = r
    return res


def _cell_areas(idx: IndexArray, row0: int, grid: Grid) -> FloatArray:
    """Ellipsoidal area (m²) of the gathered cells ``idx`` of a window starting at ``row0``."""
    return grid.cell_area_m2(row0 + idx // grid.width, idx % grid.width)


class _Runs(NamedTuple):
    """One date's valid cells as distinct (zone, value) runs, sorted by zone then value."""

    order: IntArray  # the sort of the cells
    starts: IntArray  # first sorted cell of each run
    zone: IntArray
    value: FloatArray
    weight: FloatArray  # summed weight of the run


def _runs(z: IntArray, v: FloatArray, w: FloatArray) -> _Runs:
    """Merge equal (zone, value) cells, adding their weights."""
    order = np.lexsort((v, z))
    zo, vo, wo = z[order], v[order], w[order]
    new = np.ones(len(zo), bool)
    new[1:] = (zo[1:] != zo[:-1]) | (vo[1:] != vo[:-1])
    rs = np.flatnonzero(new)
    return _Runs(order, rs, zo[rs], vo[rs], np.add.reduceat(wo, rs))


def _quantile_of(stat: str) -> float:
    """The quantile a statistic asks for: 0.5 for ``median``, 0.9 for ``p90``."""
    if stat == "median":
        return 0.5
    m = _QUANT.match(stat)
    assert m is not None  # _parse_stats lets only known statistics through
    return float(m.group(1)) / 100


def _ranked(vals: FloatArray, valid: npt.NDArray[np.bool_], weights: sp.csr_array, stats: Sequence[str],
            cell_area: FloatArray | None) -> tuple[_Stats, _Classes]:
    """Quantiles, majority, minority, variety and (with ``cell_area``) class areas, by date.

    Returns ``(dict stat -> (nz, T), dict class -> area_m2 (nz, T))``.
    """
    nz, T = weights.shape[0], vals.shape[0]
    w = weights.data
    z = np.repeat(np.arange(nz), np.diff(weights.indptr))
    qnames = [s for s in stats if s == "median" or _QUANT.match(s)]
    qs = [_quantile_of(s) for s in qnames]
    cat_needed = cell_area is not None or {"majority", "minority", "variety"} & set(stats)
    qres = np.full((len(qs), nz, T), np.nan)
    maj, mino, var = np.full((nz, T), np.nan), np.full((nz, T), np.nan), np.zeros((nz, T))
    classes: _Classes = {}
    for t in range(T):
        ok = valid[t]
        if not ok.any():
            continue
        r = _runs(z[ok], vals[t][ok], w[ok])
        if qs:
            qres[:, :, t] = _weighted_quantiles(r.zone, r.value, r.weight, nz, qs)
        if cat_needed:
            var[:, t] = np.bincount(r.zone, minlength=nz)
            _majority_minority(r, maj[:, t], mino[:, t])
            if cell_area is not None:
                ra = np.add.reduceat((w[ok] * cell_area[ok])[r.order], r.starts)
                for c in np.unique(r.value):
                    sel = r.value == c
                    a = classes.setdefault(_class_key(c), np.zeros((nz, T)))
                    a[r.zone[sel], t] += ra[sel]
    res = {name: qres[k] for k, name in enumerate(qnames)}
    res.update(majority=maj, minority=mino, variety=var)
    return res, classes


def _majority_minority(r: _Runs, maj: FloatArray, mino: FloatArray) -> None:
    """Fill, per zone, the value of largest / smallest weight (ties: the smallest value)."""
    rz, rv, rw = r.zone, r.value, r.weight
    o = np.lexsort((rv, -rw, rz))
    first = np.ones(len(o), bool)
    first[1:] = rz[o][1:] != rz[o][:-1]
    maj[rz[o][first]] = rv[o][first]
    o = np.lexsort((rv, rw, rz))
    mino[rz[o][first]] = rv[o][first]


def _pipeline(read: Callable[[int], _T], compute: Callable[[int, _T], _R], total: int, workers: int,
              done: Callable[[int, _R], None]) -> None:
    """``compute(k, read(k))`` for k in 0..total-1: ``read`` runs in order on one thread
    (GDAL decodes with its own threads), ``compute`` on ``workers`` threads, overlapping
    the next reads. At most ``workers + 1`` windows are in memory at once."""
    from collections import deque

    with ThreadPoolExecutor(1) as rd, ThreadPoolExecutor(max(workers, 1)) as cp:
        reads = deque(rd.submit(read, k) for k in range(min(2, total)))
        computing: deque[Future[_R]] = deque()
        try:
            for k in range(total):
                data = reads.popleft().result()
                if k + 2 < total:
                    reads.append(rd.submit(read, k + 2))
                computing.append(cp.submit(compute, k, data))
                del data
                while len(computing) > workers or (computing and k == total - 1):
                    j = k - len(computing) + 1
                    done(j, computing.popleft().result())
        except BaseException:
            pending: list[Future[Any]] = [*reads, *computing]
            for f in pending:
                f.cancel()
            raise


def _run_windows(src: _Source, bands: list[Band], job: _Job, *, T: int, workers: int,
                 progress: Callable[[int, int], None] | None = None,
                 weights_of: Callable[[Band], sp.csr_array] | None = None) -> list[_BandResult]:
    """Statistics of every band of zones, dates in groups that fit the read buffers.

    ``weights_of(band)`` gives a band's weights (default: ``band.weights``)."""
    spans = (src.widen(b.row0, b.row1) for b in bands)
    capacity = max((b - a for a, b in spans), default=1)
    per_date = capacity * src.row_bytes
    group = T if per_date == 0 else int(np.clip(_READ_BUFFER // per_date, 1, T))
    groups = [slice(t, min(t + group, T)) for t in range(0, T, group)]
    parts: list[list[_BandResult]] = [[] for _ in bands]  # per band, a result per group
    finished = [0, len(bands) * len(groups)]

    def record(k: int, res: _BandResult) -> None:
        parts[k].append(res)  # the groups run one after the other: in order of dates
        finished[0] += 1
        if progress:
            progress(*finished)

    for dates in groups:
        _run_dates(src, bands, job, dates, capacity=capacity, workers=workers,
                   weights_of=weights_of or (lambda b: b.weights), done=record)
    return [_join_dates(p) for p in parts]


def _run_dates(src: _Source, bands: list[Band], job: _Job, dates: slice, *, capacity: int, workers: int,
               weights_of: Callable[[Band], sp.csr_array], done: Callable[[int, _BandResult], None]) -> None:
    """``done(k, result)`` for every band ``k`` and one group of dates, as windows
    finish: windows read in order on one thread while ``workers`` threads compute."""
    reader = src.reader(dates, workers, capacity)

    def read(k: int) -> _Window:
        b = bands[k]
        wb = weights_of(b)
        return (wb, *reader.gather(b.row0, b.row1, wb.indices))

    def compute(k: int, data: _Window) -> _BandResult:
        wb, raw, meta, masks = data
        return _band_compute(wb, raw, meta, job, row0=bands[k].row0, masks=masks,
                             gathered=True)

    try:
        with src.env():
            _pipeline(read, compute, len(bands), workers, done)
    finally:
        reader.close()


def _join_dates(parts: list[_BandResult]) -> _BandResult:
    """One band's results of several date groups as one (stats, classes, valid area)."""
    if len(parts) == 1:
        return parts[0]
    res = {s: np.concatenate([p[0][s] for p in parts], axis=1) for s in parts[0][0]}
    keys = sorted({c for p in parts for c in p[1]})
    classes = {c: np.concatenate([p[1].get(c, np.zeros_like(p[0][next(iter(p[0]))]))
                                  for p in parts], axis=1) for c in keys}
    va = None if parts[0][2] is None else np.concatenate([p[2] for p in parts if p[2] is not None], axis=1)
    return res, classes, va


def _class_key(c: SupportsFloat) -> _ClassKey:
    f = float(c)
    return int(f) if f.is_integer() else f


# ----------------------------------------------------------------------------------------
# the public function
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ZonalRequest:
    """What :func:`zonal_stats` computes, and how: every option by name.

    Build one in a notebook and pass it as ``request=``; any field can also be passed to
    :func:`zonal_stats` as a keyword, which overrides the same field of the request.

    Attributes
    ----------
    stats : list of str or comma-separated str
        See the module docstring: count, sum, mean, min, max, std, median, pNN,
        majority, minority, variety.
    method : {"exact", "center", "all_touched"}
        How cells count: by the fraction inside the zone, by centre-in-zone, or any touch.
    categorical : bool
        Add ``area_mu_<class>`` (ellipsoidal 亩) and ``frac_<class>`` for each value.
    geometry : bool
        Return a GeoDataFrame with the zones' geometry (single rasters only).
    band : int
        Band of a multi-band file.
    nodata : float, optional
        Override the raster's nodata value.
    times : sequence, optional
        Labels of the dates of a list of files (default: the dates in the file names,
        see :func:`dates_in_names`, when every name holds a distinct one; else the
        names).
    variable : str, optional
        Variable of a Dataset / NetCDF / Zarr with several.
    workers : int, optional
        Threads computing windows, and threads decoding each GeoTIFF (default: all
        cores). Windows are read in order on one more thread while others compute.
    rows_per_band : int, optional
        Rows per window (default: about 4 million cells per window and date).

    Examples
    --------
    >>> req = ZonalRequest(stats="mean,p90", method="center")
    >>> req.method, req.band, req.categorical
    ('center', 1, False)
    """

    stats: Iterable[str] | str = DEFAULT_STATS
    method: str = "exact"
    categorical: bool = False
    geometry: bool = False
    band: int = 1
    nodata: float | None = None
    times: Sequence[Any] | None = None
    variable: str | None = None
    workers: int | None = None
    rows_per_band: int | None = None


def zonal_stats(
    zones: Zones,
    raster: RasterInput,
    request: ZonalRequest | Iterable[str] | str | None = None,
    *,
    coverage: Coverage | str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> pd.DataFrame | xr.DataArray:
    """Statistics of raster cells inside each zone.

    Parameters
    ----------
    zones : geopandas.GeoDataFrame or GeoSeries
        (Multi)Polygons in any CRS; they are reprojected to the raster's CRS. They may
        overlap and may lie partly outside the raster.
    raster : path, rasterio dataset, xarray DataArray/Dataset, or list of these
        One raster gives a DataFrame; a stack (a DataArray with a ``time`` or other
        extra dim, a list of rasters on one grid, or a NetCDF/Zarr path) gives an xarray
        DataArray ``(zone, time, stat)``. dask-backed arrays are read chunk by chunk
        (with a ``distributed`` client active, on its workers).
    request : ZonalRequest, optional
        The statistics and options (see :class:`ZonalRequest`); a list or a
        comma-separated string is taken as ``stats``.
    coverage : Coverage or path, optional
        Weights from :class:`gis.coverage.Coverage` (or a saved ``.npz``); checked
        against the zones and the grid. Without it, weights are built (and the last two
        are cached in memory for repeat calls).
    progress : callable(done, total), optional
        Called after each window.
    **options
        Any field of :class:`ZonalRequest` by name (``stats="mean", method="center",
        categorical=True, band=2, nodata=0, times=..., workers=4`` …); it overrides the
        same field of ``request``.

    Returns
    -------
    pandas.DataFrame, geopandas.GeoDataFrame or xarray.DataArray

    Examples
    --------
    >>> import numpy as np, xarray as xr, geopandas as gpd, rioxarray  # noqa: F401
    >>> from shapely import box
    >>> da = xr.DataArray(np.array([[1.0, 2.0], [np.nan, 4.0]]), dims=("y", "x"),
    ...                   coords={"y": [15.0, 5.0], "x": [5.0, 15.0]}).rio.write_crs("EPSG:4550")
    >>> zones = gpd.GeoSeries([box(0, 0, 20, 20)], crs="EPSG:4550")
    >>> zonal_stats(zones, da, stats="count,sum,median,majority")
       count  sum  median  majority  coverage_fraction  partly_outside
    0    3.0  7.0     2.0       1.0                1.0           False
    >>> zonal_stats(zones, da, ZonalRequest(stats=["max"], method="center"))
       max  coverage_fraction  partly_outside
    0  4.0                1.0           False
    """
    if request is not None and not isinstance(request, ZonalRequest):
        request, options = None, {"stats": request, **options}
    req = replace(request or ZonalRequest(), **options)
    stats = _parse_stats(req.stats)
    if req.method not in METHODS:
        raise InputError.of("error.unknown_method", method=req.method, choices=", ".join(METHODS))
    if hasattr(zones, "geometry") and not hasattr(zones, "columns"):  # GeoSeries
        zones = zones.to_frame("geometry") if zones.name != "geometry" else zones.to_frame()
    src = _open(raster, req.band, req.nodata, req.times, req.variable)
    try:
        cov = _coverage(zones, src, req.method, coverage)
        return _run(zones, src, cov, stats, req, progress)
    finally:
        src.close()


def _coverage(zones: pd.DataFrame, src: _Source, method: str,
              coverage: Coverage | str | os.PathLike[str] | None) -> Coverage:
    if coverage is not None:
        if not isinstance(coverage, Coverage):
            coverage = Coverage.load(coverage)
        coverage.check_grid(src.grid, f"coverage weights for {src.name}")
        coverage.check_zones(zones)
        if coverage.method != method:
            log.info("using the given %s weights (method=%r ignored)", coverage.method, method)
        return coverage
    from .coverage import zones_fingerprint

    g = src.grid
    assert g.crs is not None  # sources check their grid
    key: _CacheKey = (zones_fingerprint(zones), tuple(g.transform)[:6], g.width, g.height,
           g.crs.to_wkt(), method)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    cov = Coverage.build(zones, g, method, name=src.name)
    _CACHE[key] = cov
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return cov


def _run(zones: pd.DataFrame, src: _Source, cov: Coverage, stats: list[str], req: ZonalRequest,
         progress: Callable[[int, int], None] | None) -> pd.DataFrame | xr.DataArray:
    """Compute every band of zones, then assemble a table (or a zone × time × stat array)."""
    T = 1 if src.times is None else len(src.times)
    bands = cov.bands(req.rows_per_band or _rows_per_band(src, T), weights=False)
    job = _Job(tuple(stats), req.categorical, src.grid)
    client = _client() if src.dask is not None else None
    if client is not None:
        assert isinstance(src, _XarraySource)  # only dask-backed sources go to a cluster
        results = _distributed_bands(client, src, cov, bands, job, progress)
    else:  # every local input — files, arrays, dask, lazy files — through one engine
        results = _run_windows(src, bands, job, T=T, workers=req.workers or os.cpu_count() or 1,
                               progress=progress, weights_of=cov.band_weights)
    out, class_area, valid_area = _assemble(bands, results, stats, cov.matrix.shape[0], T)
    names, arrays = list(stats), [out[s] for s in stats]
    if req.categorical:
        _add_class_columns(names, arrays, class_area, valid_area)
    return _result(zones, src, cov, names, arrays, req.geometry)


def _rows_per_band(src: _Source, T: int) -> int:
    """About 4 million cells per window over all dates, in whole blocks (each block is
    decoded once)."""
    block = max(int(src.block_rows), 1)
    return max(4_000_000 // max(src.grid.width * T, 1) // block, 1) * block


def _client() -> _Client | None:
    """The active ``distributed`` client, or None (``distributed`` is not imported for
    this: a user who has made a client has imported it)."""
    import sys

    if "distributed" not in sys.modules:
        return None
    from distributed import default_client as distributed_client

    default_client: Callable[[], _Client] = distributed_client  # unannotated in distributed
    try:
        return default_client()
    except ValueError:
        return None


def _distributed_bands(client: _Client, src: _XarraySource, cov: Coverage, bands: list[Band], job: _Job,
                       progress: Callable[[int, int], None] | None) -> list[_BandResult]:
    """The bands as tasks on the cluster of ``client``: the same engine as the local
    path (:func:`_run_windows`), run by each worker on its own contiguous run of bands.

    The bands are cut into one run per worker thread. A task gets the dask graph of its
    rows only (:class:`_ShippedRows`: for a stack opened from files, the worker opens
    the files by path and reads its rows itself) and that run's coverage weights,
    scattered once; it decodes each chunk of its rows once (the chunks two runs share
    are read by both: one chunk row per boundary). Memory per worker thread, for
    ``c``-row chunks, windows of ``r`` rows (≈ 4 million cells over all dates by
    default, see :func:`_rows_per_band`; plus the tallest zone), width ``W``, ``T``
    dates of ``b`` bytes: one buffer of ``(r + 2c) × W × T × b`` (dates are read in
    groups beyond ``_READ_BUFFER``), the chunks dask computes at once (one per local
    thread, ``c × W × b`` each for one date) and two windows' gathered cells
    (``nnz × T × 8``). E.g. 3000² × 12 float32 in 256-row chunks: ≈ 0.1 GB.
    """
    from distributed import as_completed as distributed_as_completed

    as_completed: Callable[[list[Any]], Iterator[Any]] = distributed_as_completed  # unannotated

    nthreads = max(sum(client.nthreads().values()), 1)
    runs = [r for r in np.array_split(np.arange(len(bands)), min(nthreads, len(bands))) if len(r)]
    T = len(src.meta)
    futures: list[Any] = []  # distributed.Future
    where: dict[str, int] = {}
    for k, run in enumerate(runs):
        part = [replace(bands[i], weights=cov.band_weights(bands[i])) for i in run]
        lo, hi = src.widen(min(b.row0 for b in part), max(b.row1 for b in part))
        weights = client.scatter([part], hash=False)[0]
        fut = client.submit(_run_group, _ShippedRows(src, lo, hi), weights, job, T, pure=False)
        futures.append(fut)
        where[fut.key] = k
    results: dict[int, _BandResult] = {}
    done = 0
    for fut in as_completed(futures):
        run = runs[where[fut.key]]
        for i, res in zip(run, fut.result(), strict=True):
            results[int(i)] = res
        fut.release()
        done += len(run)
        if progress:
            progress(done, len(bands))
    return [results[i] for i in range(len(bands))]


def _run_group(src: _Source, bands: list[Band], job: _Job, T: int) -> list[_BandResult]:
    """One distributed task: the local engine over a run of bands (their weights set)."""
    return _run_windows(src, bands, job, T=T, workers=1)


def _assemble(bands: list[Band], results: list[_BandResult], stats: list[str], n: int,
              T: int) -> tuple[_Stats, _Classes, FloatArray]:
    """The bands' results as (zone, T) arrays: per statistic, per class area, valid area."""
    out = {s: np.full((n, T), np.nan) for s in stats}
    for s in ("count", "sum", "variety"):  # empty zones: nothing counted, nothing summed
        if s in out:
            out[s][:] = 0.0
    class_area: _Classes = {}
    valid_area = np.zeros((n, T))
    for b, (res, classes, va) in zip(bands, results, strict=True):
        for s in stats:
            out[s][b.ids] = res[s]
        for c, a in classes.items():
            class_area.setdefault(c, np.zeros((n, T)))[b.ids] = a
        if va is not None:
            valid_area[b.ids] = va
    return out, class_area, valid_area


def _add_class_columns(names: list[str], arrays: list[FloatArray], class_area: _Classes,
                       valid_area: FloatArray) -> None:
    """Append ``area_mu_<class>`` (亩), then ``frac_<class>`` (share of the valid area)."""
    for c in sorted(class_area):
        names.append(f"area_mu_{c}")
        arrays.append(m2_to_mu(class_area[c]))
    for c in sorted(class_area):
        names.append(f"frac_{c}")
        with np.errstate(invalid="ignore", divide="ignore"):
            arrays.append(np.where(valid_area > 0, class_area[c] / valid_area, np.nan))


def _result(zones: pd.DataFrame, src: _Source, cov: Coverage, names: list[str], arrays: list[FloatArray],
            geometry: bool) -> pd.DataFrame | xr.DataArray:
    """A DataFrame (GeoDataFrame with ``geometry``) for one raster, a DataArray for a stack."""
    inside = cov.inside
    partly = (inside < 1 - 1e-9)
    index = zones.index
    if src.times is None:
        df = pd.DataFrame({k: a[:, 0] for k, a in zip(names, arrays, strict=True)}, index=index)
        df["coverage_fraction"] = inside
        df["partly_outside"] = partly
        if geometry:
            import geopandas as gpd

            return gpd.GeoDataFrame(df, geometry=zones.geometry.values, crs=zones.crs)
        return df
    import xarray as xr

    data = np.stack(arrays, axis=-1)  # zone, time, stat
    zname = index.name or "zone"
    return xr.DataArray(
        data, dims=(zname, src.time_name, "stat"),
        coords={zname: index.values, src.time_name: src.times, "stat": names,
                "coverage_fraction": (zname, inside), "partly_outside": (zname, partly)},
        name="zonal_stats",
    )
