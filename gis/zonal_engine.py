"""Statistics of the cells zones gather, and the pipeline that runs them window by window.

:func:`_run_windows` reads the windows of a :class:`gis.zonal_read._Source` in order on
one thread while ``workers`` threads compute each window's statistics
(:func:`_band_compute`); :func:`_run_zones` is the same engine as one ``distributed``
task. The definitions of the statistics are in :mod:`gis.zonal`'s docstring. This
module imports no pandas (a ``distributed`` worker imports only what it runs).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, SupportsFloat, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import shapely

from .coverage import (Band, Grid, IndexArray, IntArray, band_weights, row_bands, weights_matrix, zone_cols,
                       zone_rows)
from .units import FloatArray
from .zonal_read import _Meta, _Raw, _Source, _apply, _invalid

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

STATS = ("count", "sum", "mean", "min", "max", "std", "median", "majority", "minority",
         "variety")
"""Names of the statistics (plus ``pNN`` quantiles such as ``p10``)."""
_RANKED = ("median", "majority", "minority", "variety")  # need the cells' values sorted
_QUANT = re.compile(r"^p(\d+(?:\.\d+)?)$")
_READ_BUFFER = 512 * 2**20  # bytes of decoded rows kept for the dates read together


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

    Date by date, w·v in float64 in a work array of this thread; cells that are NaN,
    nodata or masked are zeroed only on the dates that have any, and the count Σw is
    summed once for all clear dates. Scale and offset are applied to the sums:
    Σw(s·v + o) = s·Σw·v + o·Σw.
    """
    T = graw.shape[0]
    wv, bad = _scratch(len(w), np.float64), _scratch(len(w), np.bool_)
    full = seg.sum(w)
    cnt, sm = np.empty((seg.n, T)), np.empty((seg.n, T))
    for t in range(T):
        np.multiply(graw[t], w, out=wv)
        if _invalid(graw[t], meta[t][0], None if gmask is None else gmask[t], bad,
                    _scratch(len(w), np.bool_, "tmp")):
            wv[bad] = 0.0
            sm[:, t] = seg.sum(wv)
            np.logical_not(bad, out=bad)
            cnt[:, t] = seg.sum(np.multiply(w, bad, out=wv))
        else:
            sm[:, t], cnt[:, t] = seg.sum(wv), full
    for t, (_, scale, offset) in enumerate(meta):
        if scale not in (None, 1.0):
            sm[:, t] *= scale
        if offset not in (None, 0.0):
            sm[:, t] += offset * cnt[:, t]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, sm / cnt, np.nan)
    res = {"count": cnt, "sum": sm, "mean": mean}
    return {k: res[k] for k in stats}


_THREAD = threading.local()


def _scratch(n: int, dtype: type[np.generic], name: str = "") -> npt.NDArray[Any]:
    """A work array of ``n`` items of ``dtype`` belonging to this thread, reused window
    after window: a fresh one costs page faults every time where the allocator hands
    freed memory back at once (a ``dask`` worker sets MALLOC_TRIM_THRESHOLD_=65536)."""
    key = name + np.dtype(dtype).str
    buf: npt.NDArray[Any] | None = getattr(_THREAD, key, None)
    if buf is None or len(buf) < n:
        buf = np.empty(max(n, 1), dtype)
        setattr(_THREAD, key, buf)
    return buf[:n]


@dataclass(frozen=True)
class _Job:
    """What every window computes: the statistics, whether class areas too, on which grid."""

    stats: tuple[str, ...]
    categorical: bool
    grid: Grid


def _band_compute(weights: sp.csr_array, graw: _Raw, meta: Sequence[_Meta], job: _Job, *,
                  row0: int = 0, gmask: _Raw | None = None) -> _BandResult:
    """All statistics for the zones of one band (window of rows from ``row0``).

    ``graw`` is the (T, nnz) cells the zones touch, as stored, in the order of
    ``weights.indices``; ``meta`` the (nodata, scale, offset) of each date and ``gmask``
    the validity of the same shape, or None. Returns
    ``(dict stat -> (nz, T), dict class -> (area_m2 (nz, T)), valid_area (nz, T))``.
    """
    stats, categorical, grid = list(job.stats), job.categorical, job.grid
    seg = _ZoneSums(weights)
    if set(stats) <= {"count", "sum", "mean"} and not categorical:
        return _linear(graw, gmask, weights.data, meta, seg, stats), {}, None
    vals = _masked_values(graw, gmask, meta)
    del graw, gmask
    valid = ~np.isnan(vals)
    res = _moments(vals, valid, weights.data, seg, stats)
    res.update(_extremes(vals, valid, seg, stats))
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

    def sum(self, x: FloatArray) -> FloatArray:
        """Per-zone sums of one date's gathered cells, (nnz,) -> (nz,)."""
        out = np.zeros(self.n)
        if len(self.starts):
            out[self.nonempty] = np.add.reduceat(x, self.starts)
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


def _extremes(vals: FloatArray, valid: npt.NDArray[np.bool_], seg: _ZoneSums,
              stats: Sequence[str]) -> _Stats:
    """min and max of the valid cells of each zone (NaN for a zone without any)."""
    nz, T = seg.n, vals.shape[0]
    has, s = seg.nonempty, seg.starts
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
                 weights_of: Callable[[Band], sp.csr_array],
                 progress: Callable[[int, int], None] | None = None) -> list[_BandResult]:
    """Statistics of every band of zones, dates in groups that fit the read buffers;
    ``weights_of(band)`` gives a band's weights."""
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
                   weights_of=weights_of, done=record)
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
        return _band_compute(wb, raw, meta, job, row0=bands[k].row0, gmask=masks)

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


_Part: TypeAlias = tuple["IntArray", _BandResult]
"""Zones (positions among all zones) and their (statistics, class areas, valid area)."""


@dataclass(frozen=True)
class _ZonePart:
    """What one cluster task gets of its zones: their polygons in the grid's CRS as WKB
    (the worker builds their weights), or their rows of given weights."""

    method: str
    wkb: npt.NDArray[Any] | None = None
    weights: sp.csr_array | None = None


def _run_zones(src: _Source, part: _ZonePart, job: _Job, T: int, rows_per_band: int) -> _BandResult:
    """One ``distributed`` task: its zones' weights (built here unless given; every zone
    sent reaches into the grid), then the local engine over their rows on one thread."""
    if part.weights is not None:
        m = part.weights
    else:
        assert part.wkb is not None  # one of the two is given
        geoms = shapely.from_wkb(part.wkb)
        m = weights_matrix(geoms, job.grid, part.method, inside=np.ones(len(geoms)), workers=1)
    return _run_matrix(src, m, job, T, rows_per_band)


def _run_matrix(src: _Source, m: sp.csr_array, job: _Job, T: int, rows_per_band: int, *,
                rows: tuple[IntArray, IntArray] | None = None, workers: int = 1,
                progress: Callable[[int, int], None] | None = None) -> tuple[_Stats, _Classes, FloatArray]:
    """The statistics of the zones of the weights ``m`` (zones × grid cells) as ``(zones, T)``
    arrays: the zones in bands of rows, read window by window (only the storage blocks
    their boxes reach, see :meth:`gis.zonal_read._Source.limit_to`) while ``workers``
    threads compute. ``rows``: the zones' first and last rows, when known already."""
    W = job.grid.width
    rows = zone_rows(m, W) if rows is None else rows
    src.limit_to(rows, lambda: zone_cols(m, W))
    bands = row_bands(*rows, rows_per_band)
    results = _run_windows(src, bands, job, T=T, workers=workers, progress=progress,
                           weights_of=lambda b: band_weights(m, W, b))
    return _assemble([(b.ids, r) for b, r in zip(bands, results, strict=True)], job.stats, m.shape[0], T)


def _assemble(parts: Sequence[_Part], stats: Sequence[str], n: int, T: int) -> tuple[_Stats, _Classes, FloatArray]:
    """The results of groups of zones as ``(n, T)`` arrays: per statistic, per class
    area, and the valid area; zones in no group have nothing counted or summed."""
    out = {s: np.full((n, T), np.nan) for s in stats}
    for s in ("count", "sum", "variety"):
        if s in out:
            out[s][:] = 0.0
    class_area: _Classes = {}
    valid_area = np.zeros((n, T))
    for ids, (res, classes, va) in parts:
        for s in stats:
            out[s][ids] = res[s]
        for c, a in classes.items():
            class_area.setdefault(c, np.zeros((n, T)))[ids] = a
        if va is not None:
            valid_area[ids] = va
    return out, class_area, valid_area
