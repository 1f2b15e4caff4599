"""Bilinear sampling of a raster at fractional pixel positions, pure numpy/scipy.

The fast path of :mod:`layers.imagery.stack`: the source pixel position of every output
cell is computed once per scene and source CRS (:func:`pixel_positions`, exact at a
lattice of cells and interpolated between them), and every band and the mask of the
scene are then sampled from their decoded windows at those positions — no warper set-up
per band, one decode per band.

When the mapping is *separable* — the source row depends only on the output row and the
source column only on the output column, as between UTM zone 51N and EPSG:4550 (both
transverse Mercator on 123°E), which is every Sentinel-2 tile over Baicheng — positions
are two vectors and bilinear interpolation is two cheap 1-D passes. Otherwise
:func:`scipy.ndimage.map_coordinates` (order 1) interpolates at every position.

Positions are in pixel-*edge* coordinates (``col = 0.5`` is the centre of the first
column), as :class:`affine.Affine` gives them. Bilinear weights follow GDAL's: the four
source cells around the position, clamped at the image edge (where that equals GDAL's
renormalisation over the cells that exist); a position outside the image is *outside*
(value ``fill``, masked).

Examples
--------
>>> import numpy as np
>>> data = np.array([[0., 10.], [20., 30.]])
>>> pos = Positions(np.array([1.0, 0.5, 3.0]), np.array([1.0, 0.5]))     # separable: 3 rows × 2 columns
>>> sample(pos, data).tolist()
[[15.0, 10.0], [5.0, 0.0], [0.0, 0.0]]
>>> masked_weight(pos, data > 25).tolist()
[[True, False], [False, False], [True, True]]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from affine import Affine

ToSource = Callable[[np.ndarray, np.ndarray], tuple[Any, Any]]
"""Maps output x, y arrays to the source CRS (e.g. a pyproj ``Transformer.transform``)."""

SNAP = 1e-6
"""A position within this (pixels) of a cell centre is taken as the centre itself, so
aligned grids sample exactly one cell despite floating-point rounding."""

MASK_THRESHOLD = 1e-3
"""Any-cloud rule: a masked source cell masks an output cell when its bilinear weight
exceeds this (along each axis for separable positions, summed otherwise; the small
margin keeps aligned grids exact)."""


@dataclass(frozen=True)
class Positions:
    """Source pixel positions of an output grid's cell centres (pixel-edge coordinates).

    Separable: ``rows`` has one value per output row and ``cols`` one per output column.
    Otherwise both are 2-D (output rows × columns).
    """

    rows: np.ndarray
    cols: np.ndarray

    @property
    def separable(self) -> bool:
        return self.rows.ndim == 1

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.rows), len(self.cols)) if self.separable else self.rows.shape

    def mapped(self, m: Affine) -> Positions:
        """The positions in another file of the same CRS; ``m`` (an :class:`affine.Affine`)
        maps this file's pixel coordinates to the other's."""
        if self.separable and m.b == 0 and m.d == 0:
            return Positions(m.e * self.rows + m.f, m.a * self.cols + m.c)
        rows, cols = self.full()
        return Positions(m.d * cols + m.e * rows + m.f, m.a * cols + m.b * rows + m.c)

    def full(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns as 2-D arrays."""
        if not self.separable:
            return self.rows, self.cols
        return np.broadcast_to(self.rows[:, None], self.shape), np.broadcast_to(self.cols[None, :], self.shape)

    def inside(self, height: int, width: int) -> np.ndarray:
        """``True`` where the position lies in an image of ``height × width`` pixels."""
        r_in = (self.rows >= 0) & (self.rows < height)
        c_in = (self.cols >= 0) & (self.cols < width)
        return r_in[:, None] & c_in[None, :] if self.separable else r_in & c_in

    def window(self, height: int, width: int) -> tuple[int, int, int, int] | None:
        """Rows ``r0:r1`` and columns ``c0:c1`` of an image of ``height × width`` that the
        bilinear taps of the inside positions touch, or None if none is inside."""
        if self.separable:
            r_in = self.rows[(self.rows >= 0) & (self.rows < height)]
            c_in = self.cols[(self.cols >= 0) & (self.cols < width)]
            if not (r_in.size and c_in.size):
                return None
        else:
            inside = self.inside(height, width)
            if not inside.any():
                return None
            r_in, c_in = self.rows[inside], self.cols[inside]
        r0, c0 = max(0, int(np.floor(r_in.min())) - 1), max(0, int(np.floor(c_in.min())) - 1)
        r1, c1 = min(height, int(np.ceil(r_in.max())) + 1), min(width, int(np.ceil(c_in.max())) + 1)
        return r0, r1, c0, c1


def _axis(pos: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower index, upper index and weight of the upper one along one axis of ``n`` cells."""
    u = np.asarray(pos, dtype="float64") - 0.5
    near = np.rint(u)
    u = np.where(np.abs(u - near) < SNAP, near, u)
    lo = np.floor(u)
    f = (u - lo).astype("float32")
    lo = lo.astype("int64")
    return np.clip(lo, 0, n - 1), np.clip(lo + 1, 0, n - 1), f


def sample(pos: Positions, data: np.ndarray, origin: tuple[int, int] = (0, 0),
           image: tuple[int, int] | None = None, fill: float = 0.0) -> np.ndarray:
    """``data`` bilinearly at ``pos``, float32, ``fill`` outside the image.

    ``data`` is the window of an image of ``image`` (height, width; default: ``data``
    is the whole image) whose first cell is the image's cell ``origin`` (row, column).

    Examples
    --------
    >>> sample(Positions(np.array([0.5]), np.array([1.25, 2.5])), np.array([[0, 4, 8]])).tolist()
    [[3.0, 8.0]]
    """
    data = np.asarray(data)
    image = data.shape if image is None else image
    shifted = Positions(pos.rows - origin[0], pos.cols - origin[1])
    if shifted.separable:
        r0, r1, fr = _axis(shifted.rows, data.shape[0])
        c0, c1, fc = _axis(shifted.cols, data.shape[1])
        out = _separable(data, (r0, r1, fr), (c0, c1, fc))
        _fill_outside(out, pos, image, fill)
        return out
    from scipy.ndimage import map_coordinates

    rows, cols = shifted.full()
    coords = np.stack([_snap(rows - 0.5), _snap(cols - 0.5)])
    warped: np.ndarray = map_coordinates(data.astype("float32", copy=False), coords, order=1, mode="nearest",
                                         output=np.float32, prefilter=False)
    warped[~pos.inside(*image)] = fill
    return warped


def _blend(lo: np.ndarray, hi: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``lo + f × (hi − lo)`` in place in float32 (``lo``, ``hi`` are fresh arrays)."""
    lo, hi = lo.astype("float32", copy=False), hi.astype("float32", copy=False)
    hi -= lo
    hi *= f
    lo += hi
    return lo


def _separable(data: np.ndarray, rows: tuple[np.ndarray, np.ndarray, np.ndarray],
               cols: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Two 1-D bilinear passes (``np.take`` along one axis, then the other), the pass that
    shrinks the array first."""
    (r0, r1, fr), (c0, c1, fc) = rows, cols
    if len(r0) * data.shape[1] <= data.shape[0] * len(c0):
        v = _blend(np.take(data, r0, axis=0), np.take(data, r1, axis=0), fr[:, None])
        return _blend(np.take(v, c0, axis=1), np.take(v, c1, axis=1), fc[None, :])
    v = _blend(np.take(data, c0, axis=1), np.take(data, c1, axis=1), fc[None, :])
    return _blend(np.take(v, r0, axis=0), np.take(v, r1, axis=0), fr[:, None])


def _fill_outside(out: np.ndarray, pos: Positions, image: tuple[int, int], fill: float) -> None:
    """``fill`` in the rows and columns of separable ``pos`` outside the image."""
    height, width = image
    out[~((pos.rows >= 0) & (pos.rows < height)), :] = fill
    out[:, ~((pos.cols >= 0) & (pos.cols < width))] = fill


def _snap(u: np.ndarray) -> np.ndarray:
    near = np.rint(u)
    snapped: np.ndarray = np.where(np.abs(u - near) < SNAP, near, u)
    return snapped


def masked_weight(pos: Positions, bad: np.ndarray, origin: tuple[int, int] = (0, 0),
                  image: tuple[int, int] | None = None, threshold: float = MASK_THRESHOLD) -> np.ndarray:
    """``True`` where a ``bad`` source cell (a window as in :func:`sample`) contributes to
    the bilinear value at ``pos`` (the any-cloud rule), or the position lies outside the
    image.

    Separable positions: a source cell contributes when its bilinear weight along the
    rows *and* along the columns exceeds ``threshold`` — computed on booleans, two
    ``take`` and an ``or`` per axis. Otherwise: when the summed bilinear weight of the
    ``bad`` cells exceeds ``threshold``.

    Examples
    --------
    >>> masked_weight(Positions(np.array([0.5]), np.array([0.5, 0.5005, 1.0])), np.array([[False, True]])).tolist()
    [[False, False, True]]
    """
    bad = np.asarray(bad, dtype=bool)
    image = bad.shape if image is None else image
    if not pos.separable:
        masked: np.ndarray = sample(pos, bad.astype("float32"), origin, image, fill=1.0) > threshold
        return masked
    r0, r1 = _taps(pos.rows - origin[0], bad.shape[0], threshold)
    c0, c1 = _taps(pos.cols - origin[1], bad.shape[1], threshold)
    out: np.ndarray
    if len(r0) * bad.shape[1] <= bad.shape[0] * len(c0):
        v = np.take(bad, r0, axis=0) | np.take(bad, r1, axis=0)
        out = np.take(v, c0, axis=1) | np.take(v, c1, axis=1)
    else:
        v = np.take(bad, c0, axis=1) | np.take(bad, c1, axis=1)
        out = np.take(v, r0, axis=0) | np.take(v, r1, axis=0)
    _fill_outside(out, pos, image, True)
    return out


def _taps(pos: np.ndarray, n: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The two source indices along one axis whose weight exceeds ``threshold`` (a tap
    at or below it is replaced by the other one, so an ``or`` of both ignores it)."""
    lo, hi, f = _axis(pos, n)
    return np.where(1 - f > threshold, lo, hi), np.where(f > threshold, hi, lo)


def tiles_tapped(pos: Positions, inside: np.ndarray | None, extent: tuple[int, int],
                 tile: tuple[int, int]) -> np.ndarray | None:
    """Which tiles of a tiled source the bilinear taps of the ``inside`` output cells
    reach: ``True`` for each tile (rows × columns of tiles) of the source's first
    ``extent`` rows and columns, in tiles of ``tile`` pixels; a tap whose weight is
    within 1e-3 of nothing still counts. None: every tile (no AOI, or positions that are
    not separable and monotonic). A reader then decodes only these tiles.

    Examples
    --------
    >>> pos = Positions(np.array([0.5, 1.5]), np.array([0.5, 300.5]))   # 2 rows × 2 columns
    >>> tiles_tapped(pos, np.array([[True, False], [False, False]]), (512, 512), (256, 256)).tolist()
    [[True, False], [False, False]]
    >>> tiles_tapped(pos, np.ones((2, 2), bool), (512, 512), (256, 256)).tolist()
    [[True, True], [False, False]]
    """
    if inside is None or not pos.separable:
        return None
    (bh, bw), (r1, c1) = tile, extent
    n_r, n_c = -(-r1 // bh), -(-c1 // bw)
    lo, hi = (_group_or(inside, t, 1, n_c) for t in _tiles_of_taps(pos.cols, c1, bw))
    if lo is None or hi is None:
        return None
    by_col = lo | hi
    lo, hi = (_group_or(by_col, t, 0, n_r) for t in _tiles_of_taps(pos.rows, r1, bh))
    if lo is None or hi is None:
        return None
    need: np.ndarray = lo | hi
    return need


def _tiles_of_taps(values: np.ndarray, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Tile index (along one axis of ``n`` pixels in tiles of ``size``) of the lower and
    the upper bilinear tap of each position (pixel-edge coordinates)."""
    u = values - 0.5
    lo = np.clip(np.floor(u - 1e-3), 0, n - 1).astype("int64")
    hi = np.clip(np.floor(u + 1e-3) + 1, 0, n - 1).astype("int64")
    return lo // size, hi // size


def _group_or(values: np.ndarray, tiles: np.ndarray, axis: int, n: int) -> np.ndarray | None:
    """``values`` OR-ed along ``axis`` by tile index ``tiles`` (non-decreasing) into
    ``n`` slots; None when ``tiles`` is not monotonic."""
    if tiles.size == 0 or np.any(np.diff(tiles) < 0):
        return None
    starts = np.flatnonzero(np.r_[True, tiles[1:] != tiles[:-1]])
    shape = list(values.shape)
    shape[axis] = n
    out = np.zeros(shape, dtype=bool)
    index: list[Any] = [slice(None)] * values.ndim
    index[axis] = tiles[starts]
    out[tuple(index)] = np.logical_or.reduceat(values, starts, axis=axis)
    return out


LATTICE = 16
"""Output cells between exactly transformed positions (:func:`pixel_positions`)."""
LATTICE_TOLERANCE = 0.01
"""Largest interpolation error (source pixels) accepted; beyond it every cell is transformed."""


def _lattice(n: int, step: int) -> np.ndarray:
    idx = np.arange(0, n, step)
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)


def _interp2(values: np.ndarray, ii: np.ndarray, jj: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``values`` given at lattice rows ``ii`` × columns ``jj``
    to the cells ``rows`` × ``cols``."""
    def weights(idx: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = np.clip(np.searchsorted(idx, at, side="right") - 1, 0, max(len(idx) - 2, 0))
        k1 = np.minimum(k + 1, len(idx) - 1)
        span = np.where(idx[k1] > idx[k], idx[k1] - idx[k], 1)
        return k, k1, (at - idx[k]) / span

    k, k1, f = weights(jj, cols)
    along = values[:, k] * (1 - f) + values[:, k1] * f
    k, k1, f = weights(ii, rows)
    result: np.ndarray = along[k] * (1 - f)[:, None] + along[k1] * f[:, None]
    return result


def pixel_positions(transform: Affine, height: int, width: int, to_source: ToSource | None,
                    src_transform: Affine) -> Positions:
    """Source pixel :class:`Positions` of the cell centres of an output grid (separable
    when the exact positions on the lattice are, to :data:`LATTICE_TOLERANCE`).

    ``to_source(x, y)`` maps output coordinates to the source CRS (None: same CRS). It is
    evaluated exactly on a lattice of every :data:`LATTICE`-th cell and interpolated
    between; if the interpolation misses the exact position of the lattice's midpoints by
    more than :data:`LATTICE_TOLERANCE` source pixels, every cell is transformed.

    Examples
    --------
    >>> from affine import Affine
    >>> p = pixel_positions(Affine(10, 0, 100, 0, -10, 200), 2, 3, None, Affine(5, 0, 100, 0, -5, 200))
    >>> p.rows.tolist(), p.cols.tolist()
    ([1.0, 3.0], [1.0, 3.0, 5.0])
    """
    inv = ~src_transform

    def to_pixels(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if to_source is not None:
            x, y = to_source(x, y)
        x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
        return inv.d * x + inv.e * y + inv.f, inv.a * x + inv.b * y + inv.c

    def centres(ii: np.ndarray, jj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        jj2, ii2 = np.meshgrid(jj + 0.5, ii + 0.5)
        t = transform
        return t.a * jj2 + t.b * ii2 + t.c, t.d * jj2 + t.e * ii2 + t.f

    rows, cols = np.arange(height), np.arange(width)
    north_up = transform.b == transform.d == 0 and inv.b == inv.d == 0
    if to_source is None and north_up:  # same CRS: exactly separable
        return Positions(inv.e * (transform.e * (rows + 0.5) + transform.f) + inv.f,
                         inv.a * (transform.a * (cols + 0.5) + transform.c) + inv.c)
    if to_source is None or height * width <= 4 * LATTICE * LATTICE:
        return Positions(*to_pixels(*centres(rows, cols)))
    ii, jj = _lattice(height, LATTICE), _lattice(width, LATTICE)
    lat_r, lat_c = to_pixels(*centres(ii, jj))
    mid_i, mid_j = (ii[:-1] + ii[1:]) // 2, (jj[:-1] + jj[1:]) // 2
    exact_r, exact_c = to_pixels(*centres(mid_i, mid_j))
    sep_r, sep_c = lat_r.mean(axis=1), lat_c.mean(axis=0)
    sep_err = max(np.abs(lat_r - sep_r[:, None]).max(), np.abs(lat_c - sep_c[None, :]).max(),
                  np.abs(np.interp(mid_i, ii, sep_r)[:, None] - exact_r).max(initial=0),
                  np.abs(np.interp(mid_j, jj, sep_c)[None, :] - exact_c).max(initial=0))
    if sep_err <= LATTICE_TOLERANCE:
        return Positions(np.interp(rows, ii, sep_r), np.interp(cols, jj, sep_c))
    err = max(np.abs(_interp2(lat_r, ii, jj, mid_i, mid_j) - exact_r).max(initial=0),
              np.abs(_interp2(lat_c, ii, jj, mid_i, mid_j) - exact_c).max(initial=0))
    if err > LATTICE_TOLERANCE:
        return Positions(*to_pixels(*centres(rows, cols)))
    return Positions(_interp2(lat_r, ii, jj, rows, cols), _interp2(lat_c, ii, jj, rows, cols))
