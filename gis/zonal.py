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
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .coverage import Coverage, Grid, METHODS
from .errors import DataFileError, GridError, InputError
from .units import m2_to_mu

log = logging.getLogger(__name__)

__all__ = ["zonal_stats", "raster_grid", "STATS", "DEFAULT_STATS"]

STATS = ("count", "sum", "mean", "min", "max", "std", "median", "majority", "minority",
         "variety")
"""Names of the statistics (plus ``pNN`` quantiles such as ``p10``)."""
DEFAULT_STATS = ("count", "mean", "min", "max", "std")
_QUANT = re.compile(r"^p(\d+(?:\.\d+)?)$")
_CACHE: "OrderedDict[tuple, Coverage]" = OrderedDict()
_CACHE_SIZE = 2
_GDAL_CACHE = 64 * 2**20  # bytes


# ----------------------------------------------------------------------------------------
# raster sources
# ----------------------------------------------------------------------------------------
class _Source:
    """A single raster or a stack on one grid, read by windows of full rows."""

    grid: Grid
    times: list | None  # None for a single raster
    time_name: str = "time"
    dask = None  # a dask array (time, y, x) when dask-backed
    name: str = "raster"
    block_rows: int = 1  # rows of a storage block / dask chunk: windows align to them

    def read(self, r0: int, r1: int):  # raw (T, rows, width), [(nodata, scale, offset)], masks
        raise NotImplementedError

    def close(self) -> None:
        pass

    def env(self):
        return contextlib.nullcontext()


def _apply(arr: np.ndarray, nodata, scale, offset, mask=None) -> np.ndarray:
    """To float64 with NaN for nodata/masked cells, then scale and offset."""
    out = arr.astype(np.float64)
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        out[arr == nodata] = np.nan
    if mask is not None:
        out[~mask] = np.nan
    if scale not in (None, 1.0):
        out *= scale
    if offset not in (None, 0.0):
        out += offset
    return out


class _RasterioSource(_Source):
    def __init__(self, paths: Sequence, band: int, nodata=None, times=None, stack=False):
        import rasterio

        self._rasterio = rasterio
        self.paths = []
        self._given = []
        self.band = band
        grid = None
        self.meta = []
        for p in paths:
            if hasattr(p, "read") and hasattr(p, "transform"):  # open dataset
                ds, own = p, False
            else:
                try:
                    ds, own = rasterio.open(p), True
                except rasterio.errors.RasterioIOError as exc:
                    raise DataFileError(f"{p}: cannot open the raster ({exc})") from exc
            try:
                if not 1 <= band <= ds.count:
                    raise InputError(f"{ds.name}: band {band} does not exist; the raster "
                                     f"has {ds.count} band(s)")
                g = Grid.of(ds).check(str(ds.name))
                if grid is None:
                    grid = g
                elif not grid.same_as(g):
                    raise GridError(f"{ds.name}: its grid ({g.describe()}) differs from "
                                    f"the first raster's ({grid.describe()}); all dates of "
                                    "a stack must share one grid")
                if grid is g:  # the first file: its storage blocks and cell size
                    self.block_rows = int(ds.block_shapes[band - 1][0])
                self.dtype = np.result_type(getattr(self, "dtype", ds.dtypes[band - 1]),
                                            ds.dtypes[band - 1])
                self.itemsize = self.dtype.itemsize
                nd = ds.nodata if nodata is None else nodata
                flags = ds.mask_flag_enums[band - 1]
                use_mask = any(f.name in ("per_dataset", "alpha") for f in flags)
                self.meta.append((nd, ds.scales[band - 1], ds.offsets[band - 1], use_mask))
                self.paths.append(ds.name)
                self._given.append(None if own else ds)
            finally:
                if own:
                    ds.close()
        self.grid = grid
        self.name = str(self.paths[0])
        self.times = (list(times) if times is not None else
                      [Path(str(p)).stem for p in self.paths]) if stack else None
        self._local = threading.local()
        self._opened = []
        self._lock = threading.Lock()

    def _ds(self, i):
        if self._given[i] is not None:
            return self._given[i]
        cache = getattr(self._local, "ds", None)
        if cache is None:
            cache = self._local.ds = {}
        if i not in cache:
            cache[i] = self._rasterio.open(self.paths[i])
            with self._lock:
                self._opened.append(cache[i])
        return cache[i]

    def read(self, r0, r1):
        """Raw cells (T, rows, width) in the files' dtype, their (nodata, scale, offset)
        per date and the validity masks (or None)."""
        from rasterio.windows import Window

        return self._read(Window(0, r0, self.grid.width, r1 - r0))

    def env(self):
        """GDAL settings for one whole run: a block cache of two rows of blocks of every
        date (windows overlap a little), instead of GDAL's default of 5 % of RAM, which
        would keep most of a large raster. Entered once: re-entering it per window
        empties the cache."""
        cache = 2 * len(self.paths) * self.grid.width * self.block_rows * self.itemsize
        return self._rasterio.Env(GDAL_CACHEMAX=int(np.clip(cache, _GDAL_CACHE,
                                                             8 * _GDAL_CACHE)))

    def read_gathered(self, r0, r1, idx):
        """Like :meth:`read`, but keep only the cells ``idx`` of the window, date by
        date: one window-sized buffer instead of one per date (cache-friendly, less
        memory). Returns ``(T, len(idx))`` raw values, meta and masks (or None)."""
        from rasterio.windows import Window

        win = Window(0, r0, self.grid.width, r1 - r0)
        T = len(self.paths)
        buf = np.empty((r1 - r0, self.grid.width), dtype=self.dtype)
        flat = buf.reshape(-1)
        graw = np.empty((T, len(idx)), dtype=self.dtype)
        gmask, meta = None, []
        for i in range(T):
            nd, scale, offset, use_mask = self.meta[i]
            ds = self._ds(i)
            lock = self._lock if self._given[i] is not None else contextlib.nullcontext()
            with lock:  # a dataset the caller opened is not thread safe
                ds.read(self.band, window=win, out=buf)
                mask = ds.read_masks(self.band, window=win) if use_mask else None
            np.take(flat, idx, out=graw[i])
            if mask is not None:
                if gmask is None:
                    gmask = np.ones((T, len(idx)), bool)
                gmask[i] = mask.reshape(-1)[idx] > 0
            meta.append((nd, scale, offset))
        return graw, meta, gmask

    def _read(self, win):
        T = len(self.paths)
        raw = np.empty((T, int(win.height), int(win.width)), dtype=self.dtype)
        masks, meta = [], []
        for i in range(T):
            nd, scale, offset, use_mask = self.meta[i]
            ds = self._ds(i)
            lock = self._lock if self._given[i] is not None else contextlib.nullcontext()
            with lock:  # a dataset the caller opened is not thread safe
                ds.read(self.band, window=win, out=raw[i])  # no copy: straight into place
                mask = ds.read_masks(self.band, window=win) > 0 if use_mask else None
            masks.append(mask)
            meta.append((nd, scale, offset))
        if all(m is None for m in masks):
            return raw, meta, None
        full = np.stack([np.ones(raw.shape[1:], bool) if m is None else m for m in masks])
        return raw, meta, full

    def close(self):
        for ds in self._opened:
            ds.close()
        self._opened.clear()


class _XarraySource(_Source):
    def __init__(self, da, nodata=None, name="raster"):
        import xarray as xr  # noqa: F401

        self.name = name
        ydim, xdim = da.rio.y_dim, da.rio.x_dim
        if ydim in da.coords and da.sizes[ydim] > 1 and da[ydim][1] > da[ydim][0]:
            da = da.isel({ydim: slice(None, None, -1)})  # south-up (NetCDF): flip, lazily
        grid = Grid.of(da).check(name)
        others = [d for d in da.dims if d not in (ydim, xdim)]
        if len(others) > 1:
            raise InputError(f"{name}: the DataArray has dims {da.dims}; zonal statistics "
                             "take (y, x) or one extra dim such as (time, y, x); select "
                             "the others first, e.g. da.sel(band=1)")
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
        self.da = da
        nd = da.rio.nodata if nodata is None else nodata
        self.nodata = None if nd is None else (None if np.isnan(nd) else nd)
        attrs = da.attrs
        self.scale = attrs.get("scale_factor", None)
        self.offset = attrs.get("add_offset", None)
        self.dask = da.data if _is_dask(da.data) else None
        if self.dask is not None:
            self.block_rows = int(self.dask.chunks[1][0])
        self.meta = [(self.nodata, self.scale, self.offset)] * da.shape[0]

    def read(self, r0, r1):
        return np.asarray(self.da.data[:, r0:r1, :]), self.meta, None


def _is_dask(x) -> bool:
    return type(x).__module__.startswith("dask")


def _open(raster, band: int, nodata, times, variable: str | None) -> _Source:
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
            da = _pick_variable(raster, variable, "the Dataset")
        return _XarraySource(da, nodata)
    if hasattr(raster, "read") and hasattr(raster, "transform"):
        return _RasterioSource([raster], band, nodata)
    if isinstance(raster, (str, os.PathLike)):
        p = Path(raster)
        if p.suffix.lower() in (".nc", ".nc4", ".cdf", ".zarr") or p.is_dir():
            return _XarraySource(_open_xarray(p, variable), nodata, str(p))
        if not p.exists():
            raise DataFileError(f"{p}: raster file not found")
        return _RasterioSource([p], band, nodata)
    raise InputError(f"cannot read a raster from {type(raster).__name__}; pass a path, an "
                     "open rasterio dataset, an xarray DataArray/Dataset with a CRS or a "
                     "list of rasters on one grid")


def _pick_variable(ds, variable, where):
    names = [v for v in ds.data_vars if ds[v].ndim >= 2]
    if variable is not None:
        if variable not in ds.data_vars:
            raise InputError(f"{where}: no variable {variable!r}; it has {names}")
        return ds[variable]
    if len(names) != 1:
        raise InputError(f"{where} has the variables {names}; choose one with variable=...")
    return ds[names[0]]


def _open_xarray(path: Path, variable):
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    if not path.exists():
        raise DataFileError(f"{path}: file not found")
    try:
        if path.suffix.lower() == ".zarr" or path.is_dir():
            ds = xr.open_zarr(path, decode_coords="all")
        else:
            ds = xr.open_dataset(path, chunks={}, decode_coords="all")
    except Exception as exc:  # noqa: BLE001 - any reader failure is a data file problem
        raise DataFileError(f"{path}: cannot open it with xarray ({exc})") from exc
    return _pick_variable(ds, variable, str(path))


def raster_grid(raster, band: int = 1, variable: str | None = None) -> Grid:
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
def _parse_stats(stats) -> list[str]:
    if isinstance(stats, str):
        stats = [s.strip() for s in stats.split(",") if s.strip()]
    out = []
    for s in stats:
        s = str(s).strip().lower()
        m = _QUANT.match(s)
        if s not in STATS and not (m and 0 <= float(m.group(1)) <= 100):
            raise InputError(f"statistic {s!r} is unknown; use {', '.join(STATS)} or "
                             "pNN for a percentile (p10, p90 …)")
        if s not in out:
            out.append(s)
    return out


def _weighted_quantiles(z, v, w, n_zones, qs):
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
    before = cw - w - (cw[starts] - w[starts])[z]  # cumulative weight before this value
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


def _band_compute(weights: sp.csr_array, raw: np.ndarray, row0: int, grid: Grid,
                  stats: list[str], categorical: bool, meta: list, masks=None,
                  gathered: bool = False):
    """All statistics for the zones of one band.

    ``raw`` is (T, rows, width) as stored (or, with ``gathered``, already (T, nnz) in
    the order of ``weights.indices``), ``meta`` the (nodata, scale, offset) of each
    date and ``masks`` the validity of the same shape, or None. Returns
    ``(dict stat -> (nz, T), dict class -> (area_m2 (nz, T)), valid_area (nz, T))``.
    """
    T = raw.shape[0]
    nz = weights.shape[0]
    idx = weights.indices
    w = weights.data
    counts = np.diff(weights.indptr)
    z = np.repeat(np.arange(nz), counts)
    # gather only the cells the zones touch, then mask and scale them
    if gathered:
        graw, gmask = raw, masks
    else:
        graw = np.asarray(raw).reshape(T, -1)[:, idx]
        gmask = None if masks is None else np.asarray(masks).reshape(T, -1)[:, idx]
    if gmask is None and all(m == meta[0] for m in meta):  # one conversion for all dates
        vals = _apply(graw, *meta[0])
    else:
        vals = np.empty(graw.shape)
        for t in range(T):
            vals[t] = _apply(graw[t], *meta[t], None if gmask is None else gmask[t])
    del graw, gmask
    valid = ~np.isnan(vals)
    seg_starts = weights.indptr[:-1][counts > 0]
    nonempty = counts > 0

    def seg(x):  # per-zone sums: (T, nnz) -> (nz, T), zones are contiguous runs
        out = np.zeros((nz, x.shape[0]))
        if len(seg_starts):
            out[nonempty] = np.add.reduceat(x, seg_starts, axis=1).T
        return out

    res = {}
    if set(stats) <= {"count", "sum", "mean"} and not categorical:
        # linear statistics only (the common time-series case): work in place
        wv = valid * w
        cnt = seg(wv)
        np.nan_to_num(vals, copy=False, nan=0.0)
        vals *= w
        sm = seg(vals)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(cnt > 0, sm / cnt, np.nan)
        res.update(count=cnt, sum=sm, mean=mean)
        return ({k: res[k] for k in stats}, {}, None)
    wv = np.where(valid, w, 0.0)
    cnt = seg(wv)
    res["count"] = cnt
    need_sum = {"sum", "mean", "std"} & set(stats)
    if need_sum:
        sm = seg(np.where(valid, vals, 0.0) * w)
        res["sum"] = sm
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(cnt > 0, sm / cnt, np.nan)
        res["mean"] = mean
        if "std" in stats:
            d = np.where(valid, vals - mean[z].T, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                res["std"] = np.sqrt(np.where(cnt > 0, seg(wv * d * d) / cnt, np.nan))
    starts = weights.indptr[:-1]
    has = counts > 0
    if "min" in stats or "max" in stats:
        s = starts[has]
        for name, fill, ufunc in (("min", np.inf, np.minimum), ("max", -np.inf, np.maximum)):
            if name in stats:
                r = np.full((nz, T), np.nan)
                if len(s):
                    r[has] = ufunc.reduceat(np.where(valid, vals, fill), s, axis=1).T
                r[~np.isfinite(r)] = np.nan
                res[name] = r
    qnames = [s for s in stats if s == "median" or _QUANT.match(s)]
    cat_needed = categorical or {"majority", "minority", "variety"} & set(stats)
    classes = {}
    if qnames or cat_needed:
        qs = [0.5 if s == "median" else float(_QUANT.match(s).group(1)) / 100 for s in qnames]
        qres = np.full((len(qs), nz, T), np.nan)
        maj = np.full((nz, T), np.nan)
        mino = np.full((nz, T), np.nan)
        var = np.zeros((nz, T))
        if categorical:
            rows = row0 + idx // grid.width
            cols = idx % grid.width
            cell_area = grid.cell_area_m2(rows, cols)
        for t in range(T):
            ok = valid[t]
            zt, vt, wt = z[ok], vals[t][ok], w[ok]
            if not len(vt):
                continue
            # distinct (zone, value) runs with their summed weights, sorted by zone, value
            order = np.lexsort((vt, zt))
            zo, vo, wo = zt[order], vt[order], wt[order]
            new = np.ones(len(zo), bool)
            new[1:] = (zo[1:] != zo[:-1]) | (vo[1:] != vo[:-1])
            rs = np.flatnonzero(new)
            rz, rv = zo[rs], vo[rs]
            rw = np.add.reduceat(wo, rs)
            if qs:
                qres[:, :, t] = _weighted_quantiles(rz, rv, rw, nz, qs)
            if cat_needed:
                var[:, t] = np.bincount(rz, minlength=nz)
                # majority: largest weight, ties -> smallest value (runs sorted by value)
                o = np.lexsort((rv, -rw, rz))
                first = np.ones(len(o), bool)
                first[1:] = rz[o][1:] != rz[o][:-1]
                maj[rz[o][first], t] = rv[o][first]
                o = np.lexsort((rv, rw, rz))
                mino[rz[o][first], t] = rv[o][first]
                if categorical:
                    ra = np.add.reduceat((wt * cell_area[ok])[order], rs)
                    for c in np.unique(rv):
                        sel = rv == c
                        a = classes.setdefault(_class_key(c), np.zeros((nz, T)))
                        a[rz[sel], t] += ra[sel]
        for k, name in enumerate(qnames):
            res[name] = qres[k]
        res["majority"], res["minority"] = maj, mino
        res["variety"] = var
    valid_area = None
    if categorical:
        valid_area = sum(classes.values()) if classes else np.zeros((nz, T))
    return ({k: res[k] for k in stats}, classes, valid_area)


def _run_local(job, total, workers, results, progress):
    if workers > 1 and total > 1:
        with ThreadPoolExecutor(workers) as ex:
            for k, r in enumerate(ex.map(job, range(total))):
                results[k] = r
                if progress:
                    progress(k + 1, total)
    else:
        for k in range(total):
            results[k] = job(k)
            if progress:
                progress(k + 1, total)


def _class_key(c):
    c = float(c)
    return int(c) if c.is_integer() else c


# ----------------------------------------------------------------------------------------
# the public function
# ----------------------------------------------------------------------------------------
def zonal_stats(
    zones,
    raster,
    stats: Iterable[str] | str = DEFAULT_STATS,
    method: str = "exact",
    categorical: bool = False,
    *,
    coverage: Coverage | str | os.PathLike | None = None,
    geometry: bool = False,
    band: int = 1,
    nodata: float | None = None,
    times: Sequence | None = None,
    variable: str | None = None,
    workers: int | None = None,
    rows_per_band: int | None = None,
    progress: Callable[[int, int], None] | None = None,
):
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
    stats : list of str or comma-separated str
        See the module docstring: count, sum, mean, min, max, std, median, pNN,
        majority, minority, variety.
    method : {"exact", "center", "all_touched"}
        How cells count: by the fraction inside the zone, by centre-in-zone, or any touch.
    categorical : bool
        Add ``area_mu_<class>`` (ellipsoidal 亩) and ``frac_<class>`` for each value.
    coverage : Coverage or path, optional
        Weights from :class:`gis.coverage.Coverage` (or a saved ``.npz``); checked
        against the zones and the grid. Without it, weights are built (and the last two
        are cached in memory for repeat calls).
    geometry : bool
        Return a GeoDataFrame with the zones' geometry (single rasters only).
    band : int
        Band of a multi-band file.
    nodata : float, optional
        Override the raster's nodata value.
    times : sequence, optional
        Labels of the dates of a list of files (default: the file names).
    variable : str, optional
        Variable of a Dataset / NetCDF / Zarr with several.
    workers : int, optional
        Threads reading and computing windows (default: all cores).
    rows_per_band : int, optional
        Rows per window (default: about 4 million cells per window and date).
    progress : callable(done, total), optional
        Called after each window.

    Returns
    -------
    pandas.DataFrame, geopandas.GeoDataFrame or xarray.DataArray

    Examples
    --------
    >>> import numpy as np, xarray as xr, geopandas as gpd, rioxarray  # noqa: F401
    >>> from shapely import box
    >>> da = xr.DataArray(np.array([[1.0, 2.0], [np.nan, 4.0]]), dims=("y", "x"),
    ...                   coords={"y": [15.0, 5.0], "x": [5.0, 15.0]}).rio.write_crs("EPSG:4550")
    >>> zonal_stats(gpd.GeoSeries([box(0, 0, 20, 20)], crs="EPSG:4550"), da,
    ...             stats="count,sum,median,majority")
       count  sum  median  majority  coverage_fraction  partly_outside
    0    3.0  7.0     2.0       1.0                1.0           False
    """
    stats = _parse_stats(stats)
    if method not in METHODS:
        raise InputError(f"method {method!r} is unknown; use one of {', '.join(METHODS)}")
    if hasattr(zones, "geometry") and not hasattr(zones, "columns"):  # GeoSeries
        zones = zones.to_frame("geometry") if zones.name != "geometry" else zones.to_frame()
    src = _open(raster, band, nodata, times, variable)
    try:
        cov = _coverage(zones, src, method, coverage)
        return _run(zones, src, cov, stats, categorical, geometry, workers, rows_per_band,
                    progress)
    finally:
        src.close()


def _coverage(zones, src: _Source, method: str, coverage) -> Coverage:
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
    key = (zones_fingerprint(zones), tuple(g.transform)[:6], g.width, g.height,
           g.crs.to_wkt(), method)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    cov = Coverage.build(zones, g, method, name=src.name)
    _CACHE[key] = cov
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return cov


def _run(zones, src: _Source, cov: Coverage, stats, categorical, geometry, workers,
         rows_per_band, progress):
    T = 1 if src.times is None else len(src.times)
    width = src.grid.width
    if rows_per_band is None:
        # about 4 million cells per date, in whole blocks (each block is decoded once)
        block = max(int(src.block_rows), 1)
        rows_per_band = max(4_000_000 // max(width * T, 1) // block, 1) * block
    bands = cov.bands(rows_per_band, weights=src.dask is not None)
    n = cov.matrix.shape[0]
    total = len(bands)
    results = [None] * total
    grid = src.grid

    if src.dask is not None:
        import dask

        tasks = [dask.delayed(_band_compute)(b.weights, src.dask[:, b.row0:b.row1, :],
                                             b.row0, grid, stats, categorical, src.meta)
                 for b in bands]
        results = list(dask.compute(*tasks))
        if progress:
            progress(total, total)
    else:
        workers = workers or os.cpu_count() or 1

        def job(k):
            b = bands[k]
            wb = cov.band_weights(b)
            if hasattr(src, "read_gathered"):
                raw, meta, masks = src.read_gathered(b.row0, b.row1, wb.indices)
                return _band_compute(wb, raw, b.row0, grid, stats, categorical, meta, masks,
                                     gathered=True)
            raw, meta, masks = src.read(b.row0, b.row1)
            return _band_compute(wb, raw, b.row0, grid, stats, categorical, meta, masks)

        with src.env():
            _run_local(job, total, workers, results, progress)

    # assemble (zone, T) arrays
    out = {s: np.full((n, T), np.nan) for s in stats}
    for s in ("count", "sum", "variety"):  # empty zones: nothing counted, nothing summed
        if s in out:
            out[s][:] = 0.0
    class_area: dict = {}
    valid_area = np.zeros((n, T))
    for b, (res, classes, va) in zip(bands, results):
        for s in stats:
            out[s][b.ids] = res[s]
        for c, a in classes.items():
            class_area.setdefault(c, np.zeros((n, T)))[b.ids] = a
        if va is not None:
            valid_area[b.ids] = va
    names = list(stats)
    arrays = [out[s] for s in stats]
    if categorical:
        for c in sorted(class_area):
            names.append(f"area_mu_{c}")
            arrays.append(m2_to_mu(class_area[c]))
        for c in sorted(class_area):
            names.append(f"frac_{c}")
            with np.errstate(invalid="ignore", divide="ignore"):
                arrays.append(np.where(valid_area > 0, class_area[c] / valid_area, np.nan))
    inside = cov.inside
    partly = (inside < 1 - 1e-9)
    index = zones.index
    if src.times is None:
        df = pd.DataFrame({k: a[:, 0] for k, a in zip(names, arrays)}, index=index)
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
