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
agree to the last bit across inputs and the stack is never loaded whole. Of files tiled
in several blocks across, only the tiles some zone's bounding box reaches are decoded
(parcels on a corner of a county raster decode that corner). A NetCDF-4 path is read
straight from its HDF5 dataset, as stored. The dates of a
window are decoded and gathered on ``workers`` threads, one date per thread, each file
through its own handle (GDAL and numpy release the GIL). A dask stack that is nothing
but files opened by ``rioxarray.open_rasterio`` (cut into chunks, squeezed, joined,
rechunked — not computed on; see :func:`gis.zonal_read._as_files`) is read as that list
of files: the same cells, without dask's per-chunk work or rioxarray's lock (which lets
one thread decode at a time). Reading is :mod:`gis.zonal_read`, the statistics and the
window pipeline :mod:`gis.zonal_engine`. Memory: one buffer of the widest window × the
dates read together (at most ``_READ_BUFFER`` bytes) plus ``workers + 1`` gathered windows.

With a ``distributed.Client`` active, a dask stack (and a NetCDF/Zarr path, then opened
with its chunks) runs on the client's cluster with the same engine: the zones are cut
by their first row into runs — one per worker thread at least, cut between storage
blocks — one task each. A task gets its zones' polygons and builds their weights on the
worker (weights the caller passes are shipped instead); a stack of files is read by the
worker from the files, by path, any other dask stack by the dask graph of the task's own
rows; it returns only its zones' statistics, so neither raster data nor weights pass
through the client, and the client's memory does not grow with the zones' cells. A
worker thread holds its run's weights (bounded by ``_RUN_CELLS``) and what the local
engine holds — its widest window widened to whole storage blocks or chunks (≤ window
rows + 2 × block rows) × width × dates × itemsize, and two windows' gathered cells in
float64 — so memory per worker follows from the window and block/chunk sizes, never
from the stack (see :func:`_on_cluster`). Weights built on the workers are not cached
(the local path keeps the last two).

One-time costs of the first call in a process (measured in
``benchmarks/results/zonal_paths.md``): the first touch of the working memory (page
faults: the per-window work arrays are reused, by thread, and the weights are built in
chunks of 128 KiB arrays, so this is mostly the row buffer and the weights); the first
``rasterio.open`` (GDAL driver registration, < 0.1 s) and the first
``xarray.open_dataset`` (backend discovery and the h5netcdf import, ≈ 0.3 s); on a
cluster, each worker's first task imports agrigis and rasterio. No JIT, no cache to
warm: a second call builds the weights again unless they are cached (the last two are,
see ``coverage=``).

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

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, TypeAlias

import numpy as np
import pandas as pd

import shapely

from .coverage import METHODS, Coverage, IntArray, checked_zones, zone_boxes
from .errors import InputError
from .units import FloatArray, m2_to_mu
from .zonal_engine import (_QUANT, STATS, _assemble, _Classes, _Job, _Part, _run_matrix, _run_zones,
                           _ZonePart)
from .zonal_read import (RasterInput, _Client, _client, _open, _Source, dates_in_names,
                         raster_grid)

if TYPE_CHECKING:
    from collections.abc import Iterator

    import geopandas as gpd
    import xarray as xr

Zones: TypeAlias = "gpd.GeoDataFrame | gpd.GeoSeries"
"""Zones as :func:`zonal_stats` takes them (polygons with a CRS)."""
_CacheKey: TypeAlias = tuple[str, tuple[float, ...], int, int, str, str]

log = logging.getLogger(__name__)

__all__ = ["zonal_stats", "ZonalRequest", "raster_grid", "dates_in_names", "STATS", "DEFAULT_STATS",
           "RasterInput", "Zones"]

DEFAULT_STATS = ("count", "mean", "min", "max", "std")
_CACHE: OrderedDict[_CacheKey, Coverage] = OrderedDict()
_CACHE_SIZE = 2


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
        Called after each window (on a ``distributed`` cluster: after each run of zones,
        one task each).
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
        return _run(zones, src, stats, req, coverage=coverage, progress=progress)
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
    fingerprint = zones_fingerprint(zones)
    key: _CacheKey = (fingerprint, tuple(g.transform)[:6], g.width, g.height,
           g.crs.to_wkt(), method)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    cov = Coverage.build(zones, g, method, name=src.name, fingerprint=fingerprint)
    _CACHE[key] = cov
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return cov


def _run(zones: pd.DataFrame, src: _Source, stats: list[str], req: ZonalRequest, *,
         coverage: Coverage | str | os.PathLike[str] | None,
         progress: Callable[[int, int], None] | None) -> pd.DataFrame | xr.DataArray:
    """Compute every band of zones, here or on the active cluster, then assemble a table
    (or a zone × time × stat array)."""
    T = 1 if src.times is None else len(src.times)
    job = _Job(tuple(stats), req.categorical, src.grid)
    rows_per_band = req.rows_per_band or _rows_per_band(src, T)
    client = _client() if src.cluster else None
    if client is not None:
        given = None if coverage is None else _coverage(zones, src, req.method, coverage)
        inside, parts = _on_cluster(client, zones, src, job, given=given, method=req.method,
                                    rows_per_band=rows_per_band, progress=progress)
        out, class_area, valid_area = _assemble(parts, stats, len(inside), T)
    else:  # every local input — files, arrays, dask, lazy files — through one engine
        cov = _coverage(zones, src, req.method, coverage)
        inside = cov.inside
        out, class_area, valid_area = _run_matrix(src, cov.matrix, job, T, rows_per_band,
                                                  rows=cov.zone_rows(), progress=progress,
                                                  workers=req.workers or os.cpu_count() or 1)
    names, arrays = list(stats), [out[s] for s in stats]
    if req.categorical:
        _add_class_columns(names, arrays, class_area, valid_area)
    return _result(zones, src, inside, names, arrays, req.geometry)


def _rows_per_band(src: _Source, T: int) -> int:
    """About 4 million cells per window over all dates, in whole blocks (each block is
    decoded once)."""
    block = max(int(src.block_rows), 1)
    return max(4_000_000 // max(src.grid.width * T, 1) // block, 1) * block


_RUN_CELLS = 32_000_000
"""Most cells of the zones' bounding boxes in one cluster task (bounds its weights)."""


def _on_cluster(client: _Client, zones: pd.DataFrame, src: _Source, job: _Job, *,
                given: Coverage | None, method: str, rows_per_band: int,
                progress: Callable[[int, int], None] | None) -> tuple[FloatArray, list[_Part]]:
    """The zones' statistics computed on the cluster of ``client``, in runs of zones, one
    task each: the same engine as the local path, run by a worker on the rows of its
    zones. Returns each zone's share inside the grid and ``(zone ids, statistics)`` per run.

    The zones are sorted by their first row and cut into runs — at least one per worker
    thread, and at most :data:`_RUN_CELLS` cells of their bounding boxes each. A task
    gets its zones' polygons (WKB, in the grid's CRS) and builds their weights itself
    (the ``given`` coverage's rows instead, when the caller passed weights), and what it
    needs to read its rows (:meth:`_Source.shipped`: a stack of files as its paths, any
    other dask stack as the graph of its rows only). It decodes each block of its rows
    once (the blocks two runs share are read by both) and returns only its zones'
    statistics, ``zones × dates`` floats per statistic: neither raster data nor weights
    pass through the client. Memory per worker thread, for ``c``-row storage blocks or
    chunks, windows of ``r`` rows (≈ 4 million cells over all dates by default, see
    :func:`_rows_per_band`; plus the tallest zone), width ``W``, ``T`` dates of ``b``
    bytes: the run's weights (≤ 12 bytes × :data:`_RUN_CELLS`), one buffer of
    ``(r + 2c) × W × T × b`` (dates are read in groups beyond ``_READ_BUFFER``), for a
    dask graph the chunks dask computes at once (``c × W × b`` each) and two windows'
    gathered cells (``nnz × T × 8``). E.g. 3000² × 12 float32 in 256-row chunks,
    4,000 parcels: ≈ 0.15 GB.
    """
    from distributed import as_completed as distributed_as_completed

    as_completed: Callable[[list[Any]], Iterator[Any]] = distributed_as_completed  # unannotated

    g, T = src.grid, 1 if src.times is None else len(src.times)
    if given is None:
        geoms, inside = checked_zones(zones, g, src.name)
        first, last, cells = zone_boxes(geoms, g)
        first[inside <= 0] = -1
    else:
        inside, (first, last) = given.inside, given.zone_rows()
        cells = np.diff(given.matrix.indptr)
    runs = _runs(first, cells, max(sum(client.nthreads().values()), 1), src.block_rows)
    futures: dict[Any, int] = {}  # distributed.Future -> run
    for k, ids in enumerate(runs):
        part = _ZonePart(method, None if given is not None else shapely.to_wkb(geoms[ids]),
                         None if given is None else given.matrix[ids])
        # sent to the cluster as data, not inside the task (dask warns of large tasks)
        sent = client.scatter([part], hash=False)[0]
        lo, hi = src.widen(int(first[ids].min()), int(last[ids].max()) + 1)
        fut = client.submit(_run_zones, src.shipped(lo, hi), sent, job, T, rows_per_band, pure=False)
        futures[fut] = k
    parts: list[_Part] = []
    for fut in as_completed(list(futures)):
        parts.append((runs[futures[fut]], fut.result()))
        fut.release()
        if progress:
            progress(len(parts), len(runs))
    return inside, parts


def _runs(first: IntArray, cells: IntArray, nthreads: int, block: int) -> list[IntArray]:
    """Zones with cells (``first`` ≥ 0), by first row, cut into at least ``nthreads`` runs
    of about equal zones and about :data:`_RUN_CELLS` ``cells`` at most each, cut only
    between storage blocks (``block`` rows): two runs then share at most the block rows
    their last zones reach into, never the block where the cut falls."""
    order = np.flatnonzero(first >= 0)
    order = order[np.argsort(first[order], kind="stable")]
    n = max(nthreads, int(-(-int(cells[order].sum()) // _RUN_CELLS)))
    blocks = first[order] // max(block, 1)
    starts = np.flatnonzero(np.diff(blocks)) + 1  # where a new block of first rows begins
    if not len(starts):
        return [order] if len(order) else []
    wanted = np.linspace(0, len(order), n + 1)[1:-1]  # equal shares
    near = np.clip(np.searchsorted(starts, wanted), 1, len(starts)) - 1
    pick = np.where(np.abs(starts[np.minimum(near + 1, len(starts) - 1)] - wanted)
                    < np.abs(starts[near] - wanted), np.minimum(near + 1, len(starts) - 1), near)
    return [r for r in np.split(order, np.unique(starts[pick])) if len(r)]


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


def _result(zones: pd.DataFrame, src: _Source, inside: FloatArray, names: list[str],
            arrays: list[FloatArray], geometry: bool) -> pd.DataFrame | xr.DataArray:
    """A DataFrame (GeoDataFrame with ``geometry``) for one raster, a DataArray for a stack."""
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
