"""Rasters as zonal statistics read them: every input in windows of whole rows.

A list of files, an in-memory DataArray, a dask DataArray (any chunking) and a
NetCDF/Zarr path (opened lazily, without dask) each become a :class:`_Source` whose
reader gathers, window after window down the raster, the cells the zones touch: rows
two windows share are decoded once and kept, each date is decoded and gathered by one
thread (see :class:`_RowBuffer`), and a dask stack that is nothing but files opened by
``rioxarray.open_rasterio`` is read as those files (:func:`_as_files`), and a NetCDF-4
or Zarr path as stored (:class:`_StoredSource`). The statistics
of the gathered cells are :mod:`gis.zonal_engine`'s; :func:`gis.zonal.zonal_stats` is
the public entry. This module imports no pandas at import time (a ``distributed``
worker that reads rows imports it only if it needs dates from file names).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Protocol, Sequence, TypeAlias, cast, overload

import numpy as np
import numpy.typing as npt

from .coverage import Grid, IndexArray, IntArray, _where
from .errors import DataFileError, GridError, InputError, Message
from .hdf5_chunks import StoredChunks
from .stackfile import stack_kind
from .units import FloatArray

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr
    from dask.array import Array as DaskArray

__all__ = ["dates_in_names", "raster_grid", "RasterInput"]

RasterInput: TypeAlias = Any
"""A raster as :func:`gis.zonal.zonal_stats` takes it: a path, an open rasterio dataset,
an xarray DataArray/Dataset with a CRS, or a list of these on one grid (duck-typed)."""
_Raw: TypeAlias = npt.NDArray[Any]
"""Cell values as stored (any dtype), or their validity."""
_Meta: TypeAlias = tuple[Any, Any, Any]
"""A date's (nodata, scale, offset) as the file or array gives them (each may be None)."""
_FileMeta: TypeAlias = tuple[Any, Any, Any, bool]
"""A file's (nodata, scale, offset, whether its mask band counts)."""
_Gathered: TypeAlias = tuple[_Raw, Sequence[_Meta], "npt.NDArray[np.bool_] | None"]
"""What a reader gives for a window: (T, cells) raw values, each date's meta, validity."""
_Client: TypeAlias = Any
"""A ``distributed.Client`` (its methods carry no type information)."""

_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])(?:[-_.]?(0[1-9]|[12]\d|3[01]))?(?!\d)")
_GDAL_CACHE = 32 * 2**20  # bytes


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
    import pandas as pd

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
    cluster: bool = False  # whether an active distributed client runs this source
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

    def limit_to(self, rows: tuple[IntArray, IntArray],
                 cols: Callable[[], tuple[IntArray, IntArray]]) -> None:
        """The first and last row of the cells each zone reads (-1: none), and how to get
        their first and last column: a source may then leave out the storage blocks no
        zone's box reaches. By default it decodes whole rows (and asks for no columns)."""

    def shipped(self, lo: int, hi: int) -> _Source:
        """What a ``distributed`` task needs to read rows ``lo:hi`` (picklable)."""
        raise NotImplementedError

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


def _invalid(arr: _Raw, nodata: Any, mask: _Raw | None, out: npt.NDArray[np.bool_],
             tmp: npt.NDArray[np.bool_]) -> bool:
    """Mark in ``out`` the cells of raw ``arr`` that are NaN, nodata or masked out
    (``mask`` False); whether any is. ``out`` and ``tmp`` (work space) are bools of
    ``arr``'s shape: the statistics pass arrays they reuse window after window."""
    if arr.dtype.kind == "f":
        np.isnan(arr, out=out)
    else:
        out.fill(False)
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        out |= np.equal(arr, nodata, out=tmp)
    if mask is not None:
        out |= np.logical_not(mask, out=tmp)
    return bool(out.any())


def _apply(arr: _Raw, nodata: Any, scale: Any, offset: Any, mask: _Raw | None = None) -> FloatArray:
    """To float64 with NaN for nodata/masked cells, then scale and offset."""
    out = arr.astype(np.float64)
    bad = np.empty(arr.shape, dtype=bool)
    if _invalid(arr, nodata, mask, bad, np.empty_like(bad)):
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
        tilings: set[tuple[int, ...]] = set()
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
                tilings.add(tuple(ds.block_shapes[band - 1]))
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
        # the files' one tiling (rows, columns of a block) when they have one; which blocks to decode
        self.tile = tilings.pop() if len(tilings) == 1 else None
        self.need: npt.NDArray[np.bool_] | None = None
        self.times = (list(times) if times is not None else _file_times(self.paths)) \
            if stack else None

    def __getstate__(self) -> dict[str, Any]:
        """Paths and file facts only: a ``distributed`` worker opens the files itself."""
        if any(ds is not None for ds in self._given):
            raise InputError("open rasterio datasets cannot be sent to a cluster; pass paths")
        state = dict(self.__dict__)
        del state["_rasterio"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import rasterio

        self.__dict__.update(state, _rasterio=rasterio)

    def shipped(self, lo: int, hi: int) -> _Source:
        """The source itself: each task opens the files by path and reads its rows."""
        return self

    def limit_to(self, rows: tuple[IntArray, IntArray],
                 cols: Callable[[], tuple[IntArray, IntArray]]) -> None:
        """Files tiled in several blocks across: decode only the tiles some zone's box
        (its first to last row and column) reaches, a table of block rows × block columns
        (:attr:`need`). Rasters sparsely covered by zones decode a fraction of their
        tiles; a box is a little more than its zone's cells, so a few tiles more may be
        decoded than strictly needed, never fewer."""
        if self.tile is None or self.tile[1] >= self.grid.width:
            return
        (bh, bw), (r0, r1), (c0, c1) = self.tile, rows, cols()
        ok = r0 >= 0
        nbr, nbc = -(-self.grid.height // bh), -(-self.grid.width // bw)
        corners = np.zeros((nbr + 1, nbc + 1), dtype=np.int64)  # 2-D differences of the boxes
        a, b, c, d = r0[ok] // bh, r1[ok] // bh + 1, c0[ok] // bw, c1[ok] // bw + 1
        for rr, cc, sign in ((a, c, 1), (a, d, -1), (b, c, -1), (b, d, 1)):
            np.add.at(corners, (rr, cc), sign)
        self.need = corners.cumsum(axis=0).cumsum(axis=1)[:nbr, :nbc] > 0

    def env(self) -> contextlib.AbstractContextManager[Any]:
        """A small GDAL block cache: :class:`_Strips` decodes each block once and keeps
        the rows it still needs itself, so GDAL's default cache (5 % of RAM) would only
        hold memory."""
        return cast("contextlib.AbstractContextManager[Any]", self._rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE))

    def reader(self, dates: slice, threads: int, capacity: int) -> "_Strips":
        """Decodes each storage block once (see :class:`_Strips`), the dates on
        ``threads`` threads; a single GeoTIFF (one date) with ``threads`` GDAL decoding
        threads instead (its ``NUM_THREADS`` open option)."""
        n_dates = len(range(len(self.paths))[dates])
        gdal_threads = max(int(threads), 1) if n_dates == 1 else 1
        dss: list[Any] = []
        own: list[Any] = []
        try:
            for i in range(len(self.paths))[dates]:
                if self._given[i] is not None:  # the caller's dataset: read as it is
                    dss.append(self._given[i])
                    continue
                opts = {"NUM_THREADS": gdal_threads} if self.drivers[i] in (
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
        return _Strips(self, dss, own, self.meta[dates], capacity, threads)


class _RowBuffer:
    """Rows ``lo:hi`` of every date of a source, decoded once.

    Windows move down the raster (each starts at or below the previous one's start) and
    overlap a little: a zone's window runs to its last row. :meth:`gather` keeps the
    rows the next window shares with the last one and decodes only the rest, in whole
    storage blocks (or dask chunks), straight into one preallocated buffer per date.
    Decoding a block twice, or into a fresh array, costs more than all the arithmetic
    of a mean. Subclasses say how rows are decoded (:meth:`_decode`); with ``threads``
    > 1 the dates are moved, decoded (when the subclass decodes date by date) and
    gathered on that many threads, one date per thread at a time (GDAL, the numpy copy
    and take release the GIL).
    """

    by_date = False  # whether _decode can decode one date at a time (then in parallel)

    def __init__(self, src: _Source, T: int, dtype: np.dtype[Any], meta: Sequence[_Meta | _FileMeta],
                 capacity: int, *, masks: bool = False, threads: int = 1) -> None:
        self.src, self.meta = src, meta
        W = src.grid.width
        self.buf: _Raw = np.empty((T, capacity, W), dtype=dtype)
        self.mbuf: npt.NDArray[np.uint8] | None = np.empty((T, capacity, W), dtype=np.uint8) if masks else None
        self.lo = self.hi = 0
        self.rows_decoded = 0  # rows read from the source, all dates (tests check it)
        n = self._pool_threads(threads, T)
        self._pool = ThreadPoolExecutor(n) if n > 1 else None

    def _pool_threads(self, threads: int, T: int) -> int:
        """Threads of the reader's pool: one date per thread, so no more than dates."""
        return min(threads, T)

    def _decode(self, a: int, b: int, rows: slice, dates: range) -> None:
        """Decode grid rows ``a:b`` of the ``dates`` (positions in the buffer) into
        ``self.buf[dates, rows]``."""
        raise NotImplementedError

    def _each(self, work: Callable[[int], None]) -> None:
        """``work(i)`` for every date ``i`` of the buffer, on the reader's threads."""
        T = self.buf.shape[0]
        if self._pool is None:
            for i in range(T):
                work(i)
        else:
            for _ in self._pool.map(work, range(T)):
                pass

    def _move(self, r0: int, r1: int) -> tuple[slice | None, tuple[int, int] | None]:
        """Set the buffer to rows ``widen(r0, r1)``: the buffer rows to keep (moved to
        the top) and the grid rows ``(a, b)`` still to decode (None when none)."""
        a, b = self.src.widen(r0, r1)
        if b - a > self.buf.shape[1]:
            raise AssertionError(f"rows {a}:{b} exceed the buffer of {self.buf.shape[1]}")
        keep = None
        if self.lo <= a < self.hi:  # keep the shared rows
            keep = slice(a - self.lo, self.hi - self.lo)
            self.lo = a
        else:
            self.lo = self.hi = a
        if b <= self.hi:
            return keep, None
        new = (self.hi, b)
        self.rows_decoded += (b - self.hi) * self.buf.shape[0]
        self.hi = b
        return keep, new

    def gather(self, r0: int, r1: int, idx: IndexArray) -> _Gathered:
        """Cells ``idx`` (counted from row ``r0``) of rows ``r0:r1`` of every date:
        ``(T, len(idx))`` raw values, the dates' (nodata, scale, offset) and their
        validity ``(T, len(idx))`` (or None)."""
        keep, new = self._move(r0, r1)
        idx = idx.astype(np.intp, copy=False)  # once, not once per date
        T, W = self.buf.shape[0], self.buf.shape[2]
        rows = None if new is None else slice(new[0] - self.lo, new[1] - self.lo)
        off, n = (r0 - self.lo) * W, (r1 - r0) * W
        graw = np.empty((T, len(idx)), dtype=self.buf.dtype)
        gmask = None if self.mbuf is None else np.empty((T, len(idx)), dtype=bool)

        def move(i: int) -> None:
            for buf in (self.buf, self.mbuf):
                if buf is not None and keep is not None and keep.start > 0:
                    buf[i, :keep.stop - keep.start] = buf[i, keep]
            if self.by_date and new is not None and rows is not None:
                self._decode(new[0], new[1], rows, range(i, i + 1))

        def take(i: int) -> None:
            # mode="clip": the indices lie in the window, and numpy buffers ``out`` for "raise"
            np.take(self.buf[i].reshape(-1)[off:off + n], idx, out=graw[i], mode="clip")
            if gmask is not None and self.mbuf is not None:
                np.greater(self.mbuf[i].reshape(-1)[off:off + n][idx], 0, out=gmask[i])

        def move_and_take(i: int) -> None:
            move(i)
            take(i)

        if self.by_date:  # each date moved, decoded and gathered by one thread
            self._each(move_and_take)
        else:  # the rows kept moved, the new ones decoded for all dates, then gathered
            self._each(move)
            if new is not None and rows is not None:
                self._decode(new[0], new[1], rows, range(T))
            self._each(take)
        return graw, [m[:3] for m in self.meta], gmask

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class _Strips(_RowBuffer):
    """The row buffer of a :class:`_RasterioSource`: GDAL decodes whole blocks, each
    date by one thread through the date's own dataset handle (a handle is never shared
    by two threads at once)."""

    src: _RasterioSource
    by_date = True

    def __init__(self, src: _RasterioSource, dss: list[Any], own: list[Any], meta: list[_FileMeta],
                 capacity: int, threads: int = 1) -> None:
        if len({id(ds) for ds in dss}) < len(dss):  # one dataset given twice: one thread
            threads = 1
        super().__init__(src, len(dss), src.dtype, meta, capacity,
                         masks=any(m[3] for m in meta), threads=threads)
        self.masked = [m[3] for m in meta]  # the dates whose mask band counts
        self.dss, self.own = dss, own
        # cells read from the files, by date (a date is read by one thread at a time; tests check it)
        self.cells_decoded = [0] * len(dss)

    def _decode(self, a: int, b: int, rows: slice, dates: range) -> None:
        src = self.src
        for i in dates:
            ds = self.dss[i]
            try:
                for r0, r1, c0, c1 in self._pieces(a, b):
                    self._read(ds, i, slice(rows.start + r0 - a, rows.start + r1 - a), (r0, r1, c0, c1))
            except src._rasterio.errors.RasterioError as exc:
                why = exc.__cause__ or exc  # rasterio's own text only points at GDAL's
                raise DataFileError.of("error.raster_damaged", path=ds.name, first=a, last=b - 1,
                                       band=src.band, detail=why) from exc

    def _pieces(self, a: int, b: int) -> list[tuple[int, int, int, int]]:
        """Grid rows ``a:b`` as (row0, row1, col0, col1) pieces to decode: whole rows, or
        with the source's :attr:`_RasterioSource.need` the runs of tiles of each block row
        some zone reaches."""
        src, W = self.src, self.src.grid.width
        if src.need is None or src.tile is None:
            return [(a, b, 0, W)]
        (bh, bw), out = src.tile, []
        for k in range(a // bh, -(-b // bh)):
            r0, r1 = max(a, k * bh), min(b, (k + 1) * bh)
            edges = np.flatnonzero(np.diff(np.concatenate([[0], src.need[k].view(np.int8), [0]])))
            out += [(r0, r1, int(s) * bw, min(int(e) * bw, W)) for s, e in zip(edges[::2], edges[1::2], strict=True)]
        return out

    def _read(self, ds: Any, i: int, rows: slice, piece: tuple[int, int, int, int]) -> None:
        """Decode one piece of date ``i`` into the buffer rows ``rows`` (and its mask)."""
        from rasterio.windows import Window

        src = self.src
        r0, r1, c0, c1 = piece
        win = Window(c0, r0, c1 - c0, r1 - r0)
        self.cells_decoded[i] += (r1 - r0) * (c1 - c0)
        whole = c1 - c0 == src.grid.width  # whole rows: straight into the buffer
        if whole:
            ds.read(src.band, window=win, out=self.buf[i, rows])
        else:  # rasterio reads into contiguous arrays only
            self.buf[i, rows, c0:c1] = ds.read(src.band, window=win)
        if self.mbuf is not None:
            self.mbuf[i, rows, c0:c1] = ds.read_masks(src.band, window=win) if self.masked[i] else 255

    def close(self) -> None:
        """Close the files this reader opened (not the caller's datasets)."""
        super().close()
        for ds in self.own:
            ds.close()
        self.own = []


class _LazyRows(_RowBuffer):
    """The row buffer of a dask-backed or lazily opened DataArray: each window's new
    rows (whole chunks) are computed — dask's threads, or the file's own lazy indexing —
    for all dates at once, and nothing else of the stack is ever materialised."""

    src: _XarraySource

    def __init__(self, src: _XarraySource, dates: slice, capacity: int, threads: int = 1) -> None:
        T = len(range(len(src.meta))[dates])
        super().__init__(src, T, src.dtype, src.meta[dates], capacity, threads=threads)
        self.dates = dates

    def _decode(self, a: int, b: int, rows: slice, dates: range) -> None:
        self.src.rows_into(self.buf, rows, self.dates, (a, b))


class _XarraySource(_Source):
    def __init__(self, da: xr.DataArray, nodata: float | None = None, name: str = "raster") -> None:
        import xarray as xr  # noqa: F401

        self.name = name
        ydim, xdim = da.rio.y_dim, da.rio.x_dim
        if _south_up(da):
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
            da = da.transpose(ydim, xdim)
            if _is_dask(da.variable._data) or getattr(da.variable, "_in_memory", False):
                da = da.expand_dims("__t")  # lazily (dask) or a view; a lazily opened file
                # stays 2-D: xarray would load it whole to add the dimension
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
        self.cluster = self.dask is not None
        self.meta = [(self.nodata, self.scale, self.offset)] * (1 if self.times is None else len(self.times))

    def widen(self, r0: int, r1: int) -> tuple[int, int]:
        if self.edges is None:
            return super().widen(r0, r1)
        e = self.edges
        return int(e[np.searchsorted(e, r0, side="right") - 1]), int(e[np.searchsorted(e, r1)])

    def reader(self, dates: slice, threads: int, capacity: int) -> _Reader:
        if self.in_memory:
            return _ArrayReader(self, dates)
        return _LazyRows(self, dates, capacity, threads)

    def shipped(self, lo: int, hi: int) -> _Source:
        return _ShippedRows(self, lo, hi)

    def rows_into(self, buf: _Raw, rows: slice, dates: slice, span: tuple[int, int]) -> None:
        """Grid rows ``span`` of the ``dates`` into ``buf[:, rows]``: for a dask array
        only the chunks these rows fall in, computed by dask's threads, each stored
        straight into its place (no concatenated copy); else the file's own lazy
        indexing."""
        a, b = span
        if self.dask is None:
            if self.da.ndim == 2:  # a lazily opened file of one date
                buf[0, rows] = self.da[a:b, :].values
            else:
                buf[:, rows] = self.da[dates, a:b, :].values
            return
        _store(self.dask[dates, a:b, :], buf[:, rows])


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

    def rows_into(self, buf: _Raw, rows: slice, dates: slice, span: tuple[int, int]) -> None:
        a, b = span
        _store(self.dask[dates, a - self.lo:b - self.lo, :], buf[:, rows])


class _StoredSource(_XarraySource):
    """A NetCDF-4 or Zarr path whose variable the file stores as it is read — (time,) y,
    x, north up, with CF's ``_FillValue`` (or ``missing_value``), ``scale_factor`` and
    ``add_offset`` at most: windows are read straight from the file into the row buffer,
    as stored (:meth:`read`), and the engine masks and scales the gathered cells as it
    does a GeoTIFF's (:func:`_apply`). Through xarray's lazy indexing each window would
    be copied twice and masked and scaled whole first: three to four times the CPU of
    the read. Grid, dates and CRS are still xarray's (see :meth:`of`). One difference
    from xarray, by design: integers packed with a float32 ``scale_factor`` are decoded
    by xarray to float32 (each cell rounded to 7 digits); here they are scaled in float64,
    so statistics may differ from those of xarray's array by about 1e-7, relatively."""

    @property
    def threads_decode(self) -> bool:
        """Whether the reader's threads decode the chunks (else the reading library's)."""
        return False

    def __init__(self, da: xr.DataArray, path: Path, dtype: np.dtype[Any], shape: tuple[int, ...]) -> None:
        super().__init__(da, None, str(path))
        enc = da.encoding
        self.stored_shape = shape  # (dates,) rows, columns: a squeezed band is still stored
        self.dtype = dtype.newbyteorder("=")
        self.row_bytes = self.dtype.itemsize * self.grid.width
        fill = enc.get("_FillValue", enc.get("missing_value"))
        self.meta = [(fill, enc.get("scale_factor"), enc.get("add_offset"))] * len(self.meta)

    @classmethod
    def of(cls, da: xr.DataArray, path: Path, nodata: float | None) -> _StoredSource | None:
        """The source, when ``da`` (variable of the file ``path``, opened by xarray) can be
        read as stored and give what xarray decodes; else None (then xarray reads it): no
        ``nodata`` override or other nodata attribute, no ``_Unsigned`` or time units,
        one fill value, the file's own dims and row order, numbers of xarray's dtype."""
        enc = da.encoding
        fill, missing = enc.get("_FillValue"), enc.get("missing_value")
        if nodata is not None or "_Unsigned" in enc or "since" in str(enc.get("units", "")) \
                or any(v is not None and np.ndim(v) for v in (fill, missing)) \
                or (fill is not None and missing is not None and not _same_value(fill, missing)):
            return None
        if da.ndim not in (2, 3) or da.dims[-2:] != (da.rio.y_dim, da.rio.x_dim) or _south_up(da):
            return None
        src = cls._opened(da, path)
        if src is not None and src.nodata is not None:  # a nodata attribute xarray does not decode
            src.close()
            return None
        return src

    @classmethod
    def _opened(cls, da: xr.DataArray, path: Path) -> _StoredSource | None:
        """The source over the stored variable of ``da``, or None when the file does not
        store it as xarray shows it (shape, a dtype of numbers)."""
        raise NotImplementedError

    def read(self, buf: _Raw, rows: slice, sel: tuple[slice, ...], pool: ThreadPoolExecutor | None) -> None:
        """The stored cells ``sel`` ((dates,) rows, columns) into ``buf[:, rows]`` (date 0
        when the variable has no dates); ``pool``: the reader's threads."""
        raise NotImplementedError

    def reader(self, dates: slice, threads: int, capacity: int) -> _Reader:
        return _StoredRows(self, dates, capacity, threads)


def _stored_dtype(da: xr.DataArray, shape: tuple[int, ...], dtype: Any) -> bool:
    """Whether a stored variable of ``shape`` and ``dtype`` is what xarray shows as ``da``."""
    dtype = np.dtype(dtype)
    return tuple(shape) == da.shape and dtype.kind in "iuf" and dtype == da.encoding.get("dtype", dtype)


class _Hdf5Source(_StoredSource):
    """A NetCDF-4 variable read as stored (:class:`_StoredSource`) by h5py's
    ``read_direct``; deflated chunks decoded on every core by :mod:`gis.hdf5_chunks`
    (HDF5 decodes them on one, under its global lock)."""

    def __init__(self, da: xr.DataArray, path: Path, h5ds: Any) -> None:
        super().__init__(da, path, h5ds.dtype, h5ds.shape)
        self.h5 = h5ds
        self.chunks = StoredChunks.of(h5ds)  # None: HDF5 reads it (contiguous, other filters)

    @property
    def threads_decode(self) -> bool:
        return self.chunks is not None

    @classmethod
    def _opened(cls, da: xr.DataArray, path: Path) -> _StoredSource | None:
        import h5py

        try:
            f = h5py.File(path, "r")
        except OSError:  # NetCDF-3 (classic): not HDF5
            return None
        h5ds = f.get(str(da.name))
        if not isinstance(h5ds, h5py.Dataset) or not _stored_dtype(da, h5ds.shape, h5ds.dtype):
            f.close()
            return None
        try:
            return cls(da, path, h5ds)
        except BaseException:
            f.close()
            raise

    def read(self, buf: _Raw, rows: slice, sel: tuple[slice, ...], pool: ThreadPoolExecutor | None) -> None:
        if self.chunks is not None:
            self.chunks.read_into(buf[0, rows] if len(sel) == 2 else buf[:, rows], sel, pool)
        else:
            self.h5.read_direct(buf, sel, (0 if len(sel) == 2 else slice(None), rows, slice(None)))

    def close(self) -> None:
        self.h5.file.close()


class _ZarrSource(_StoredSource):
    """A Zarr variable read as stored (:class:`_StoredSource`): zarr decodes each
    window's chunks (on its own threads) straight into the row buffer."""

    def __init__(self, da: xr.DataArray, path: Path, array: Any) -> None:
        super().__init__(da, path, np.dtype(array.dtype), array.shape)
        self.stored = array

    @classmethod
    def _opened(cls, da: xr.DataArray, path: Path) -> _StoredSource | None:
        import zarr

        try:
            array = zarr.open_array(str(path), path=str(da.name), mode="r")
        except (OSError, KeyError, ValueError, TypeError):  # no plain array (zarr's errors are ValueErrors)
            return None
        return cls(da, path, array) if _stored_dtype(da, array.shape, array.dtype) else None

    def read(self, buf: _Raw, rows: slice, sel: tuple[slice, ...], pool: ThreadPoolExecutor | None) -> None:
        from zarr.buffer.cpu import NDBuffer

        out = buf[0, rows] if len(sel) == 2 else buf[:, rows]
        self.stored.get_basic_selection(sel, out=NDBuffer.from_numpy_array(out))


_STORED_SOURCES: dict[str, type[_StoredSource]] = {"netcdf": _Hdf5Source, "zarr": _ZarrSource}
"""The source that reads each kind of stack file (:func:`gis.stackfile.stack_kind`) as stored."""


class _StoredRows(_LazyRows):
    """The row buffer of a :class:`_StoredSource`: each window's new rows of every date
    read from the file as stored, straight into the buffer; the chunks decoded on the
    reader's threads when the source decodes them itself."""

    src: _StoredSource

    def _pool_threads(self, threads: int, T: int) -> int:
        """Chunks the source decodes itself go on every thread, however few the dates."""
        return threads if self.src.threads_decode else super()._pool_threads(threads, T)

    def _decode(self, a: int, b: int, rows: slice, dates: range) -> None:
        sel: tuple[slice, ...] = (slice(a, b), slice(0, self.src.grid.width))
        if len(self.src.stored_shape) == 3:
            d = range(self.src.stored_shape[0])[self.dates]
            sel = (slice(d.start, d.stop), *sel)
        try:
            self.src.read(self.buf, rows, sel, self._pool)
        except DataFileError:  # names the file and what is wrong already
            raise
        except (OSError, ValueError, RuntimeError) as exc:  # the library's own words on a bad chunk
            raise DataFileError.of("error.stack_damaged", path=self.src.name, variable=self.src.da.name,
                                   first=a, last=b - 1, detail=exc) from exc


def _south_up(da: xr.DataArray) -> bool:
    """Whether the rows of ``da`` run south to north (as NetCDF files often store them)."""
    ydim = da.rio.y_dim
    return bool(ydim in da.coords and da.sizes[ydim] > 1 and da[ydim][1] > da[ydim][0])


def _same_value(a: Any, b: Any) -> bool:
    """Whether two fill values are the same (NaN is NaN)."""
    return bool(a == b) or bool(np.isnan(a) and np.isnan(b))


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

            files = _lazy_files(raster, nodata, times)
            if files is not None:
                return files
            da = xr.concat(list(raster), dim="time")
            if times is not None:
                da = da.assign_coords(time=list(times))
            return _as_files(_XarraySource(da, nodata), nodata)
        return _RasterioSource(raster, band, nodata, times, stack=True)
    if hasattr(raster, "rio"):
        da = raster
        if hasattr(raster, "data_vars"):  # Dataset
            da = _pick_variable(raster, variable, Message("error.where_dataset"))
        return _as_stored(da, nodata) or _as_files(_XarraySource(da, nodata), nodata)
    if hasattr(raster, "read") and hasattr(raster, "transform"):
        return _RasterioSource([raster], band, nodata)
    if isinstance(raster, (str, os.PathLike)):
        p = Path(raster)
        if stack_kind(p) is not None or p.is_dir():
            # lazily: windows read by the file's own indexing; dask only for a cluster
            cluster = _client() is not None
            da = _open_xarray(p, variable, chunks={} if cluster else None)
            stored = _STORED_SOURCES.get(stack_kind(p) or "")
            direct = None if cluster or stored is None else stored.of(da, p, nodata)
            return direct or _XarraySource(da, nodata, str(p))
        if not p.exists():
            raise DataFileError.of("error.raster_not_found", path=p)
        return _RasterioSource([p], band, nodata)
    raise InputError(f"cannot read a raster from {type(raster).__name__}; pass a path, an "
                     "open rasterio dataset, an xarray DataArray/Dataset with a CRS or a "
                     "list of rasters on one grid")


_FILE_LAYERS = re.compile(r"^(original-open_rasterio|open_rasterio|getitem|concatenate|rechunk-merge|"
                          r"rechunk-split|transpose)-")
"""dask layers that only cut, join, rechunk or reorder what rioxarray reads from files."""


def _as_files(src: _XarraySource, nodata: float | None) -> _Source:
    """A dask stack whose every date is one file opened by ``rioxarray.open_rasterio``
    (one band, no VRT, no scale/offset or mask band), cut, squeezed, joined, rechunked
    or transposed but not otherwise computed on, and on the file's own grid — or one
    such file opened lazily without dask: read as that list of files (the same windowed reads, decoded on every core, and on a
    cluster by each worker from the files); any other source as it is. The values
    are the same cells either way, so are the statistics."""
    wrappers: list[Any] | None = None
    if src.dask is not None:
        wrappers = _rasterio_behind(src.dask)
    elif not src.in_memory and src.times is None:  # one date opened lazily, without dask
        w = _whole_file(src.da.variable._data)
        wrappers = None if w is None else [w]
    if not wrappers or any(w.vrt_params is not None or w.shape[0] != 1
                           or getattr(w, "_unsigned_dtype", None) is not None for w in wrappers):
        return src
    opened = [w.manager.acquire() for w in wrappers]
    # a plain one-band file (not one band of several picked by band_as_variable)
    if any(type(ds).__name__ != "DatasetReader" or ds.count != 1 for ds in opened):
        return src
    try:
        files = _RasterioSource([ds.name for ds in opened], 1, nodata, src.times,
                                stack=src.times is not None)
    except (DataFileError, InputError, GridError):
        return src
    same = files.grid.same_as(src.grid) and all(
        not use_mask and scale in (None, 1.0) and offset in (None, 0.0)
        and (_same_nodata(src.nodata, nd, w.masked) if nodata is None else not w.masked)
        for (nd, scale, offset, use_mask), w in zip(files.meta, wrappers, strict=True))
    if not same:
        return src
    files.time_name, files.name, files.cluster = src.time_name, src.name, src.dask is not None
    return files


def _lazy_files(das: Sequence[Any], nodata: float | None, times: Sequence[Any] | None) -> _Source | None:
    """A list of single dates each opened lazily from one file (``rioxarray.open_rasterio``
    without dask, see :func:`_as_files`): read as that list of files, with the dates
    ``times``, else the DataArrays' own ``time`` coordinates, else 0, 1, …, as
    ``xr.concat`` would number them — which would first load every file whole. None for
    any other list."""
    if any(_is_dask(da.variable._data) or getattr(da.variable, "_in_memory", True) for da in das):
        return None  # dask-backed (xr.concat keeps it lazy, and a cluster may run it) or in memory
    parts = [_as_files(_XarraySource(da, nodata), nodata) for da in das]
    if not all(isinstance(p, _RasterioSource) and p.times is None for p in parts):
        return None
    if times is None:
        own = [da.coords["time"].values[()] for da in das if "time" in da.coords and da["time"].ndim == 0]
        times = own if len(own) == len(das) else None if own else list(range(len(das)))
        if times is None:  # some dated, some not: as xarray joins them
            return None
    paths = [cast(_RasterioSource, p).paths[0] for p in parts]
    try:
        return _RasterioSource(paths, 1, nodata, times, stack=True)
    except GridError:  # files on different grids: xr.concat joins them by their coordinates
        return None


_STORED_LAYERS = re.compile(r"^(original-open_dataset|open_dataset|rechunk-merge|rechunk-split)-")
"""dask layers of a variable ``xr.open_dataset(..., chunks=...)`` opened, maybe rechunked."""
_ADAPTERS = ("MemoryCachedArray", "CopyOnWriteArray", "ImplicitToExplicitIndexingAdapter",
             "LazilyIndexedArray", "_ElementwiseFunctionArray")
"""xarray's lazy-array adapters between a DataArray and a file's variable (the last one
applies CF decoding: the fill value, scale and offset)."""
_STORED_WRAPPERS = {"H5NetCDFArrayWrapper": "netcdf", "ZarrArrayWrapper": "zarr"}
_NODATA_ATTRS = ("_FillValue", "missing_value", "fill_value", "nodata", "scale_factor", "add_offset")
"""Attributes by which a DataArray's own nodata, scale or offset (not the file's) apply."""


def _as_stored(da: xr.DataArray, nodata: float | None) -> _StoredSource | None:
    """A DataArray that is a NetCDF-4 or Zarr variable exactly as ``xr.open_dataset``
    opened it (lazily, or with dask chunks, maybe rechunked; coordinates unchanged, any
    CRS written on it): read as stored, like the file's path (:class:`_StoredSource`).
    Anything else — cut, reordered, computed on, decoded otherwise, renamed, from a group,
    with a nodata or scale attribute of its own, from a file replaced since it was opened,
    on a cluster — None. The file's variable is opened afresh and must decode alike: same
    CF decoding, same coordinates, so the numbers are those of the DataArray."""
    found = _stored_behind(da)
    if found is None:
        return None
    path, variable, chain = found
    if str(da.name) != variable or any(k in da.attrs for k in _NODATA_ATTRS):
        return None  # another variable's name, or nodata/scale of its own the file lacks
    try:
        fresh = _open_xarray(path, variable)
    except (DataFileError, InputError):
        return None
    again = _stored_behind(fresh)
    if again is None or again[2] != chain or fresh.dims != da.dims or fresh.shape != da.shape \
            or any((d in da.coords) != (d in fresh.coords)
                   or (d in da.coords and not np.array_equal(da[d].values, fresh[d].values)) for d in da.dims):
        return None
    mine = da.copy(deep=False)
    mine.encoding = dict(fresh.encoding)  # the file's own, whatever was done to the DataArray's
    return _STORED_SOURCES[stack_kind(path) or ""].of(mine, path, nodata)


def _stored_behind(da: xr.DataArray) -> tuple[Path, str, list[Any]] | None:
    """The file and variable that ``da`` reads whole through xarray's adapters only (lazily
    or through dask layers that only open and rechunk), and the CF decoding functions
    among those adapters; None for anything else or on a ``distributed`` cluster."""
    data: Any = da.variable._data
    if _is_dask(data):
        if _client() is not None:
            return None
        layers = dict(da.data.__dask_graph__().layers)
        if not all(_STORED_LAYERS.match(str(k)) for k in layers):
            return None
        originals = [v for k, layer in layers.items() if str(k).startswith("original-") for v in dict(layer).values()]
        if len(originals) != 1:
            return None
        data = originals[0]
    chain: list[Any] = []
    while type(data).__name__ in _ADAPTERS:
        if type(data).__name__ == "LazilyIndexedArray" and not all(
                isinstance(k, slice) and k == slice(None) for k in data.key.tuple):
            return None
        func = getattr(data, "func", None)
        if func is not None:  # CF decoding (the caching adapters differ with and without dask)
            chain.append((getattr(func, "func", func), repr(getattr(func, "keywords", None))))
        data = data.array
    kind = _STORED_WRAPPERS.get(type(data).__name__)
    try:  # xarray's and zarr's own attributes: their absence only means "read as a DataArray"
        if kind == "netcdf":
            path, variable = Path(data.datastore._filename), str(data.variable_name)
            if not _root_of_same_file(data.datastore, path):
                return None
        elif kind == "zarr":
            path, variable = Path(data._array.store.root), str(data._array.path)
        else:
            return None
    except (AttributeError, TypeError, OSError, ValueError):  # a file-less store (memory, remote)
        return None
    return (path, variable, chain) if stack_kind(path) == kind and path.exists() else None


def _root_of_same_file(store: Any, path: Path) -> bool:
    """Whether xarray's open NetCDF ``store`` reads the root group of the file now at
    ``path`` (not a group, and not a file since replaced at that path: xarray keeps
    reading the one it opened)."""
    group = store.ds  # the h5netcdf group the variables come from
    if group.name != "/":
        return False
    held = os.fstat(group._h5file.id.get_vfd_handle())
    now = path.stat()
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


def _same_nodata(given: Any, in_file: Any, masked: bool) -> bool:
    """Whether a DataArray with nodata ``given`` (None for NaN) read from a file with
    nodata ``in_file`` leaves out the same cells as the file."""
    no_file_nodata = in_file is None or (isinstance(in_file, float) and np.isnan(in_file))
    if given is None:
        return masked or no_file_nodata
    return not no_file_nodata and bool(given == in_file)


def _rasterio_behind(arr: DaskArray) -> list[Any] | None:
    """The ``rioxarray`` file wrapper each date of the dask array ``arr`` (time, y, x)
    reads, when every chunk of a date comes from that one whole file through layers
    that do not compute (:data:`_FILE_LAYERS`); else None."""
    from dask.optimization import cull as dask_cull

    cull: Callable[[dict[Any, Any], list[Any]], tuple[dict[Any, Any], Any]] = dask_cull  # unannotated
    graph = dict(arr.__dask_graph__())
    ny, nx = len(arr.chunks[1]), len(arr.chunks[2])
    out: list[Any] = []
    for t in range(arr.shape[0]):
        keys = [(arr.name, t, i, j) for i in range(ny) for j in range(nx)]
        needed, _ = cull(graph, keys)
        if not all(_FILE_LAYERS.match(str(k[0] if isinstance(k, tuple) else k)) for k in needed):
            return None
        found = {id(w): w for w in map(_whole_file, needed.values()) if w is not None}
        if len(found) != 1:
            return None
        out.extend(found.values())
    return out


def _whole_file(v: Any) -> Any:
    """The ``rioxarray`` file wrapper inside xarray's lazy-array adapters ``v``, when they
    read the whole file; else None."""
    while True:
        kind = type(v).__name__
        if kind == "RasterioArrayWrapper":
            return v
        if kind == "LazilyIndexedArray" and not _first_band_whole(v.key.tuple):
            return None
        if kind not in ("ImplicitToExplicitIndexingAdapter", "CopyOnWriteArray",
                        "LazilyIndexedArray", "MemoryCachedArray"):
            return None
        v = v.array


def _first_band_whole(key: tuple[Any, ...]) -> bool:
    """Whether a lazy index into a (band, y, x) file takes whole rows and columns of all
    bands or of the first (``squeeze("band")``, ``isel(band=0)``; :func:`_as_files` then
    checks that the file has one band)."""
    def whole(k: Any) -> bool:
        return isinstance(k, slice) and k == slice(None)

    return all(whole(k) for k in key[1:]) and (whole(key[0]) or (isinstance(key[0], (int, np.integer))
                                                                and key[0] == 0))


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
