"""Geostatistics for soil samples: variogram fit, ordinary kriging, IDW, cross-validation.

Pure functions on coordinate arrays (metres, a planar CRS such as EPSG:4550) and values.
The kriging itself is PyKrige's ``OrdinaryKriging`` (a well-kept library of the
GeoStat-Framework, with a compiled moving-neighbourhood solver that returns the kriging
variance); what this module adds is what a soil survey needs around it:

- :func:`experimental_variogram` and :func:`fit_variogram`: the semivariogram up to half
  the largest distance, each of :data:`VARIOGRAM_MODELS` fitted by pair-weighted least
  squares with PyKrige's own model functions (so the parameters mean the same thing to
  the kriging), the best fit chosen and its nugget, sill and range reported;
- :func:`krige`: ordinary kriging in a moving neighbourhood of the ``neighbours`` nearest
  samples, in spatial blocks so memory stays bounded on any grid; optionally on the
  logarithm of a skewed property with the lognormal back-transform;
- :func:`idw`: inverse-distance weighting, the simple alternative;
- :func:`cross_validate`: leave-one-out or k-fold statistics per property (RMSE, ME, MAE,
  R², mean standardized squared error ≈ 1 when the variance is honest, and the share of
  true values inside the 90 % interval).

Examples
--------
>>> import numpy as np
>>> xy = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])
>>> z = np.array([1.0, 2.0, 3.0, 4.0])
>>> est = idw(xy, z, np.array([[50.0, 50.0], [100.0, 0.0]]))
>>> est.tolist()
[2.5, 2.0]
>>> v = Variogram("spherical", nugget=0.0, sill=1.0, range=100.0)
>>> res = krige(xy, z, xy, v)
>>> np.allclose(res.estimate, z), np.allclose(res.std, 0.0)
(True, True)
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .errors import InputError, require

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future
    from types import ModuleType

log = logging.getLogger(__name__)

__all__ = ["VARIOGRAM_MODELS", "Variogram", "KrigingOptions", "Prediction", "CVResult",
           "experimental_variogram", "fit_variogram", "krige", "idw", "cross_validate",
           "lognormal_back_transform"]

VARIOGRAM_MODELS = ("spherical", "exponential", "gaussian")
"""Models tried by :func:`fit_variogram` (PyKrige's definitions: the ``range`` of the
exponential and Gaussian models is the practical range, where 95 % of the sill is reached)."""

Z90 = 1.6448536269514722
"""Half-width of the central 90 % interval of a standard normal variable."""


def _pykrige(feature: str = "ordinary kriging") -> ModuleType:
    return require("pykrige", feature)


# --------------------------------------------------------------------------- variogram


@dataclass(frozen=True)
class Variogram:
    """A fitted (or given) variogram model.

    Attributes
    ----------
    model : {"spherical", "exponential", "gaussian"}
    nugget, sill : float
        Nugget and total sill (nugget + partial sill), in squared units of the property
        (of its logarithm when kriging in log space).
    range : float
        Range in metres (practical range for exponential and Gaussian).
    sse : float
        Pair-weighted squared misfit to the experimental semivariogram (NaN if given).
    lags, semivariance, pairs : tuple of float
        The experimental semivariogram the model was fitted to (empty if given).
    """

    model: str
    nugget: float
    sill: float
    range: float
    sse: float = math.nan
    lags: tuple[float, ...] = field(default=(), repr=False)
    semivariance: tuple[float, ...] = field(default=(), repr=False)
    pairs: tuple[int, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for name in ("nugget", "sill", "range"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @property
    def psill(self) -> float:
        """Partial sill (sill − nugget)."""
        return self.sill - self.nugget

    def pykrige_parameters(self) -> list[float]:
        """``[psill, range, nugget]``, PyKrige's internal order."""
        return [self.psill, self.range, self.nugget]

    def pykrige_parameters_dict(self) -> dict[str, float]:
        """The parameters as PyKrige's ``variogram_parameters`` mapping."""
        return {"psill": self.psill, "range": self.range, "nugget": self.nugget}

    def __call__(self, d: npt.ArrayLike) -> np.ndarray:
        """Semivariance at distances ``d``.

        Examples
        --------
        >>> Variogram("spherical", 0.1, 1.1, 100.0)([0.0, 50.0, 200.0]).round(4).tolist()
        [0.1, 0.7875, 1.1]
        """
        vm = _pykrige().variogram_models
        fn = getattr(vm, f"{self.model}_variogram_model")
        d = np.asarray(d, dtype="float64")
        return np.where(d > 0, fn(self.pykrige_parameters(), d), 0.0) + np.where(d > 0, 0.0, self.nugget)


def experimental_variogram(xy: np.ndarray, z: np.ndarray, n_lags: int = 15, max_dist: float | None = None,
                           max_points: int = 4000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The isotropic experimental semivariogram (Matheron's estimator).

    Parameters
    ----------
    xy : (n, 2) array
        Planar coordinates in metres.
    z : (n,) array
        Values.
    n_lags : int
        Number of equal-width distance classes.
    max_dist : float, optional
        Largest distance used (default: half the largest distance between samples).
    max_points : int
        Above this many samples, a fixed random subset (seed 0) is used, so the pair count
        stays near ``max_points² / 2``.

    Returns
    -------
    lags, gamma, pairs : arrays
        Mean distance, semivariance and number of pairs of each non-empty class.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    >>> lags, g, n = experimental_variogram(xy, np.array([0.0, 1.0, 0.0, 1.0]), n_lags=3, max_dist=3.0)
    >>> lags.tolist(), g.tolist(), n.tolist()
    ([1.0, 2.0, 3.0], [0.5, 0.0, 0.5], [3, 2, 1])
    """
    from scipy.spatial.distance import pdist

    xy, z = np.asarray(xy, dtype="float64"), np.asarray(z, dtype="float64")
    if len(z) > max_points:
        pick = np.random.default_rng(0).choice(len(z), max_points, replace=False)
        xy, z = xy[pick], z[pick]
    d = pdist(xy)
    sq = 0.5 * pdist(z[:, None], "sqeuclidean")
    if max_dist is None:
        max_dist = d.max() / 2.0
    edges = np.linspace(0.0, max_dist, n_lags + 1)
    cls = np.digitize(d, edges[1:-1], right=True)
    use = d <= max_dist
    counts = np.bincount(cls[use], minlength=n_lags)
    sum_d = np.bincount(cls[use], weights=d[use], minlength=n_lags)
    sum_g = np.bincount(cls[use], weights=sq[use], minlength=n_lags)
    ok = counts > 0
    return sum_d[ok] / counts[ok], sum_g[ok] / counts[ok], counts[ok]


def _fit_one(model: str, lags: np.ndarray, gamma: np.ndarray, pairs: np.ndarray) -> tuple[list[float], float]:
    """``([psill, range, nugget], weighted SSE)`` of one model."""
    from scipy.optimize import curve_fit

    fn = getattr(_pykrige().variogram_models, f"{model}_variogram_model")
    gmax, dmax = float(gamma.max()), float(lags.max())
    p0 = [max(gmax - gamma[0], 1e-12), dmax / 2.0, max(float(gamma[0]) / 2.0, 0.0)]
    lo, hi = [0.0, dmax / 100.0, 0.0], [2.0 * gmax + 1e-12, 4.0 * dmax, gmax + 1e-12]
    sigma = np.maximum(gamma, 1e-12 * gmax + 1e-300) / np.sqrt(pairs)  # Cressie (1985): N(h) / γ(h)²
    try:
        p, _ = curve_fit(lambda d, ps, r, nu: fn([ps, r, nu], d), lags, gamma, p0=p0, bounds=(lo, hi),
                         sigma=sigma, maxfev=20000)
    except (RuntimeError, ValueError):
        return p0, math.inf
    resid = fn(list(p), lags) - gamma
    return [float(v) for v in p], float(np.sum(resid**2 / sigma**2) / np.sum(1.0 / sigma**2))


def fit_variogram(xy: np.ndarray, z: np.ndarray, models: tuple[str, ...] = VARIOGRAM_MODELS,
                  n_lags: int = 15, max_dist: float | None = None) -> Variogram:
    """Fit each of ``models`` to the experimental semivariogram and keep the best.

    The fit is least squares weighted by the number of pairs per class (classes of many
    pairs are the reliable ones), with PyKrige's model functions. Needs at least 3 samples
    and 3 distinct values.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> xy = rng.uniform(0, 1000, (60, 2))
    >>> v = fit_variogram(xy, xy[:, 0] / 100 + rng.normal(0, 0.1, 60))
    >>> v.model in VARIOGRAM_MODELS and v.sill > v.nugget >= 0 and v.range > 0
    True
    """
    z = np.asarray(z, dtype="float64")
    if len(z) < 3 or np.unique(z).size < 3:
        raise InputError.of("error.soil_too_few_samples", n=len(z), need=3)
    lags, gamma, pairs = experimental_variogram(xy, z, n_lags, max_dist)
    best: tuple[str, list[float], float] | None = None
    for model in models:
        params, sse = _fit_one(model, lags, gamma, pairs)
        log.debug("variogram %s: psill %.4g range %.4g nugget %.4g sse %.4g", model, *params, sse)
        if best is None or sse < best[2]:
            best = (model, params, sse)
    assert best is not None, "no variogram model given"
    model, (psill, rng_, nugget), sse = best
    return Variogram(model, nugget=nugget, sill=nugget + psill, range=rng_, sse=sse, lags=tuple(lags.tolist()),
                     semivariance=tuple(gamma.tolist()), pairs=tuple(int(n) for n in pairs))


# --------------------------------------------------------------------------- kriging


@dataclass(frozen=True)
class KrigingOptions:
    """How :func:`krige` works.

    Attributes
    ----------
    neighbours : int
        Samples in the moving neighbourhood of each prediction point. 16 is the default:
        cross-validated RMSE with 16 instead of 32 is 0.1 % lower on the test field of
        ``tests/test_geostat.py`` (500 samples, LOO) and 1.4 % higher on the benchmark's
        10,000 samples (10-fold), MSSE and 90 % coverage unchanged, at a quarter of the
        time (``benchmarks/results/kriging.md``).
    block_points : int
        Prediction points solved together (bounds memory: a block's samples are the union
        of its points' neighbours).
    log : bool
        Krige ``ln(z)`` and back-transform (lognormal ordinary kriging) — for skewed EC or salt.
    workers : int or None
        Processes solving chunks at once; None: the cores other processes leave free
        (:func:`spare_cores`, at most 2, this machine's size) when there are more than
        :data:`PARALLEL_MIN_POINTS` points, else 1. The answer is the same with any number.
    chunk_points : int
        Prediction points per task of the process pool (one progress step).
    """

    neighbours: int = 16
    block_points: int = 4096
    log: bool = False
    workers: int | None = None
    chunk_points: int = 262_144


BLOCK_SAMPLES = 256
"""About this many samples lie inside one block of :func:`krige` (their neighbours add a rim)."""
PARALLEL_MIN_POINTS = 400_000
"""Below this many prediction points, starting worker processes costs more than it saves."""


@dataclass(frozen=True)
class Prediction:
    """Estimates and their standard deviation (original units) at prediction points.

    ``log_estimate`` and ``log_std`` are the kriged logarithm and its kriging standard
    deviation when kriging in log space (else None): the Gaussian scale on which the 90 %
    interval and the standardized errors of :func:`cross_validate` are computed.
    """

    estimate: np.ndarray
    std: np.ndarray
    log_estimate: np.ndarray | None = None
    log_std: np.ndarray | None = None


def _blocks(pts: np.ndarray, per_block: int, min_blocks: int = 1) -> list[np.ndarray]:
    """Indices of ``pts`` grouped into spatially compact blocks of about ``per_block``
    (a grid of near-square cells over the points' extent, whatever its shape), at least
    ``min_blocks`` cells."""
    n = len(pts)
    n_blocks = max(math.ceil(n / per_block), min_blocks)
    if n_blocks <= 1:
        return [np.arange(n)]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    nx = max(1, min(n_blocks, round(math.sqrt(n_blocks * span[0] / span[1]))))
    ny = max(1, math.ceil(n_blocks / nx))
    kx = np.minimum((pts[:, 0] - lo[0]) / span[0] * nx, nx - 1).astype(np.int64)
    ky = np.minimum((pts[:, 1] - lo[1]) / span[1] * ny, ny - 1).astype(np.int64)
    cell = ky * nx + kx
    order = np.argsort(cell, kind="stable")
    bounds = np.flatnonzero(np.diff(cell[order])) + 1
    return [b for b in np.split(order, bounds) if len(b)]


def _ok_weights(xy: np.ndarray, z: np.ndarray, idx: np.ndarray, bd: np.ndarray,
                variogram: Variogram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(estimate, variance, Lagrange multiplier)`` of ordinary kriging with each point's
    neighbours ``idx`` at distances ``bd``, the systems solved together (NumPy, batched).

    The system is PyKrige's: ``[[-Γ, 1], [1ᵀ, 0]] [λ, μ] = [-γ₀, 1]`` with γ(0) = 0 on
    the diagonal and at a sample (exact interpolation), so the estimate and variance equal
    PyKrige's; ``μ`` is what PyKrige does not return.
    """
    fn = getattr(_pykrige().variogram_models, f"{variogram.model}_variogram_model")
    params = variogram.pykrige_parameters()
    m, k = idx.shape
    nb = xy[idx]
    d = np.sqrt(((nb[:, :, None, :] - nb[:, None, :, :]) ** 2).sum(-1))
    a = np.ones((m, k + 1, k + 1))
    a[:, :k, :k] = -fn(params, d.reshape(-1)).reshape(m, k, k)
    a[:, np.arange(k), np.arange(k)] = 0.0
    a[:, k, k] = 0.0
    b = np.ones((m, k + 1))
    b[:, :k] = np.where(bd <= 1e-10, 0.0, -fn(params, bd.reshape(-1)).reshape(m, k))
    try:
        x = np.linalg.solve(a, b[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        x = (np.linalg.pinv(a) @ b[:, :, None])[:, :, 0]
    est = np.einsum("ij,ij->i", x[:, :k], z[idx])
    var = -np.einsum("ij,ij->i", x, b)
    return est, var, x[:, k]


class _Solver:
    """Ordinary kriging of one sample set at any points: the k-d tree is built once."""

    def __init__(self, xy: np.ndarray, z: np.ndarray, variogram: Variogram, options: KrigingOptions):
        from scipy.spatial import cKDTree

        self.xy, self.z, self.variogram, self.options = xy, z, variogram, options
        self.tree = cKDTree(xy)
        self.k = max(2, min(options.neighbours, len(z)))

    def __call__(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(estimate, variance, Lagrange multiplier or NaN)`` at ``pts``."""
        est, var, mu = np.empty(len(pts)), np.empty(len(pts)), np.full(len(pts), np.nan)
        if not len(pts):
            return est, var, mu
        for b in _blocks(pts, self.options.block_points, self._min_blocks(pts)):
            bd, idx = self.tree.query(pts[b], k=self.k)
            bd, idx = bd.reshape(len(b), -1), idx.reshape(len(b), -1)
            if self.options.log:
                est[b], var[b], mu[b] = _ok_weights(self.xy, self.z, idx, bd, self.variogram)
            else:
                est[b], var[b] = self._pykrige_block(pts[b], idx)
        return est, np.clip(var, 0.0, None), mu

    def _min_blocks(self, pts: np.ndarray) -> int:
        """Blocks enough that each holds about :data:`BLOCK_SAMPLES` samples: scattered
        points (cross-validation folds) would otherwise make one block whose samples are
        nearly all, and PyKrige's matrix of them huge."""
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        inside = np.all((self.xy >= lo) & (self.xy <= hi), axis=1).sum()
        return int(math.ceil(inside / BLOCK_SAMPLES))

    def _pykrige_block(self, pts: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """PyKrige's C moving window on the block's samples — the union of each point's
        ``k`` nearest, so each point sees exactly its ``k`` nearest of the whole set."""
        sub = np.unique(idx)
        v = self.variogram
        ok = _pykrige().OrdinaryKriging(self.xy[sub, 0], self.xy[sub, 1], self.z[sub], variogram_model=v.model,
                                        variogram_parameters=v.pykrige_parameters_dict(), nlags=1,
                                        exact_values=True)
        est, var = ok.execute("points", pts[:, 0], pts[:, 1], n_closest_points=min(self.k, len(sub)), backend="C")
        return np.asarray(est, dtype="float64"), np.asarray(var, dtype="float64")


_WORKER: dict[str, _Solver] = {}
"""The solver of a worker process (built once by :func:`_worker_init`)."""


def _worker_init(xy: np.ndarray, z: np.ndarray, variogram: Variogram, options: KrigingOptions) -> None:
    _WORKER["solver"] = _Solver(xy, z, variogram, options)


def _worker_solve(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _WORKER["solver"](pts)


def spare_cores(most: int = 2) -> int:
    """Cores this process may use without fighting others for them: the cores (at most
    ``most``) less the load average of the last minute beyond this process's own 1,
    rounded, at least 1. On a busy machine a second worker process only adds its start-up
    and contention (2,000 samples onto 5.5 M cells at load 14: 2 workers 113 s and 28 CPU s,
    one process 71 s and 21 CPU s, ``benchmarks/results/kriging.md``).

    Examples
    --------
    >>> 1 <= spare_cores() <= 2
    True
    """
    cores = max(1, min(most, os.cpu_count() or 1))
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows): use the cores
        return cores
    return int(min(cores, max(1, math.floor(cores - max(load - 1.0, 0.0) + 0.5))))


def _n_workers(options: KrigingOptions, n_points: int) -> int:
    if options.workers is not None:
        return max(1, int(options.workers))
    if n_points <= PARALLEL_MIN_POINTS:
        return 1
    return spare_cores()


def _bounded_map(pool: Executor, args: Iterable[np.ndarray], in_flight: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``pool.map(_worker_solve, args)`` in order, with at most ``in_flight`` chunks
    submitted at once (``Executor.map`` copies every chunk up front: +0.5 GB on the city)."""
    from collections import deque

    pending: deque[Future[tuple[np.ndarray, np.ndarray, np.ndarray]]] = deque()
    for a in args:
        pending.append(pool.submit(_worker_solve, a))
        if len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _ordinary(xy: np.ndarray, z: np.ndarray, pts: np.ndarray, variogram: Variogram, options: KrigingOptions,
              progress: Callable[[int, int], None] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate, variance and Lagrange multiplier at ``pts``, in chunks of compact blocks,
    on ``options.workers`` processes (spawned: safe beside threads such as a progress bar)."""
    if len(z) < 2:
        raise InputError.of("error.soil_too_few_samples", n=len(z), need=2)
    step = max(1, options.chunk_points)
    order = np.concatenate(_blocks(pts, step)) if len(pts) else np.arange(0)
    chunks = [order[i:i + step] for i in range(0, len(order), step)]
    out = np.empty((3, len(pts)))
    workers = _n_workers(options, len(pts))
    pool = None
    results: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]
    if workers > 1 and len(chunks) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init, initargs=(xy, z, variogram, options))
        results = _bounded_map(pool, (pts[c] for c in chunks), 2 * workers)
    else:
        results = map(_Solver(xy, z, variogram, options), (pts[c] for c in chunks))
    try:
        done = 0
        for c, res in zip(chunks, results, strict=True):
            out[:, c] = res
            done += len(c)
            if progress is not None:
                progress(done, len(pts))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return out[0], out[1], out[2]


def lognormal_back_transform(y: np.ndarray, var: np.ndarray, lagrange: np.ndarray | float = 0.0
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``Z = exp(Y)`` from the kriged ``Y``.

    ``exp(y + var/2 + lagrange)``: with ``lagrange = 0`` the simple-kriging (known mean)
    back-transform, the mean of ``exp(Y)`` for ``Y ~ N(y, var)``; for ordinary kriging
    ``lagrange`` is the Lagrange multiplier ``μ`` of the system
    ``[[-Γ, 1], [1ᵀ, 0]] [λ, μ] = [-γ₀, 1]`` (PyKrige's sign; ``-m`` in Cressie 1993,
    §3.2.2, eq. 3.2.40: ``exp(ŷ + σ²/2 − m)``), which takes away the part of the
    variance that comes from not knowing the mean. ``exp(y)`` alone is the median and
    underestimates the mean. The standard deviation is ``mean · sqrt(exp(var) − 1)``, the
    lognormal spread of the kriging error.

    Examples
    --------
    >>> m, s = lognormal_back_transform(np.array([0.0]), np.array([0.5]))
    >>> round(float(m[0]), 4), round(float(s[0]), 4)
    (1.284, 1.0342)
    >>> round(float(lognormal_back_transform(np.array([0.0]), np.array([1.5]), -0.5)[0][0]), 4)  # = exp(0.25)
    1.284
    """
    mean = np.exp(y + var / 2.0 + lagrange)
    return mean, mean * np.sqrt(np.expm1(var))


def krige(xy: np.ndarray, z: np.ndarray, targets: np.ndarray, variogram: Variogram,
          options: KrigingOptions = KrigingOptions(),
          progress: Callable[[int, int], None] | None = None) -> Prediction:
    """Ordinary kriging of ``z`` at ``targets`` with ``variogram``.

    Plain kriging is PyKrige's C moving-window solver on spatial blocks. Lognormal
    kriging (``options.log``) solves the same ordinary-kriging systems on ``ln z`` with
    NumPy (the estimate and variance equal PyKrige's, tested) because the back-transform
    needs each point's Lagrange multiplier, which PyKrige does not return; the mean is
    ``exp(ŷ + σ²/2 + μ)`` (:func:`lognormal_back_transform`), unbiased on lognormal fields.

    Parameters
    ----------
    xy : (n, 2) array
        Sample coordinates (metres).
    z : (n,) array
        Sample values (strictly positive when ``options.log``).
    targets : (m, 2) array
        Prediction points.
    variogram : Variogram
        Of ``z`` (of ``ln z`` when ``options.log``), e.g. from :func:`fit_variogram`.
    options : KrigingOptions
    progress : callable, optional
        ``progress(done, total)`` after each chunk of points.

    Returns
    -------
    Prediction
        Estimate and kriging standard deviation. Kriging is exact: at a sample point it
        returns the sample value with standard deviation 0.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    >>> p = krige(xy, np.array([1.0, 2.0, 4.0]), np.array([[0.0, 0.0]]), Variogram("exponential", 0, 1, 300))
    >>> p.estimate.tolist(), p.std.tolist()
    ([1.0], [0.0])
    """
    xy = np.asarray(xy, dtype="float64")
    z = np.asarray(z, dtype="float64")
    pts = np.asarray(targets, dtype="float64").reshape(-1, 2)
    if not options.log:
        est, var, _ = _ordinary(xy, z, pts, variogram, options, progress)
        return Prediction(est, np.sqrt(var))
    if np.any(z <= 0):
        raise InputError.of("error.soil_log_nonpositive", n=int(np.sum(z <= 0)), min=float(z.min()))
    y, var, mu = _ordinary(xy, np.log(z), pts, variogram, options, progress)
    mean, std = lognormal_back_transform(y, var, mu)
    return Prediction(mean, std, y, np.sqrt(var))


def idw(xy: np.ndarray, z: np.ndarray, targets: np.ndarray, power: float = 2.0, neighbours: int = 12) -> np.ndarray:
    """Inverse-distance weighting with the ``neighbours`` nearest samples.

    Exact at the samples (a target on a sample takes its value).

    Examples
    --------
    >>> idw(np.array([[0.0, 0.0], [3.0, 0.0]]), np.array([1.0, 4.0]), np.array([[1.0, 0.0]])).round(6).tolist()
    [1.6]
    """
    from scipy.spatial import cKDTree

    xy = np.asarray(xy, dtype="float64")
    z = np.asarray(z, dtype="float64")
    pts = np.asarray(targets, dtype="float64").reshape(-1, 2)
    k = max(1, min(neighbours, len(z)))
    d, idx = cKDTree(xy).query(pts, k=k)
    d, idx = d.reshape(len(pts), k), idx.reshape(len(pts), k)
    with np.errstate(divide="ignore"):
        w = 1.0 / d**power
    hit = d[:, 0] == 0
    w[hit] = 0.0
    w[hit, 0] = 1.0
    out: np.ndarray = np.sum(w * z[idx], axis=1) / np.sum(w, axis=1)
    return out


# --------------------------------------------------------------------------- cross-validation


@dataclass(frozen=True)
class CVResult:
    """Cross-validation of one property.

    Attributes
    ----------
    folds : int
        Number of folds (= number of samples for leave-one-out).
    observed, predicted, std : arrays
        Per sample, predicted without it (``std`` NaN for IDW).
    stats : dict
        ``n, rmse, me, mae, r2`` on the original scale; ``msse`` (mean standardized
        squared error, ≈ 1 when the kriging variance is honest) and ``coverage90`` (share
        of observed values inside the 90 % interval) on the kriged (Gaussian, log if
        log-kriged) scale; NaN for IDW.
    """

    folds: int
    observed: np.ndarray
    predicted: np.ndarray
    std: np.ndarray
    stats: dict[str, float]


Predictor = Callable[[np.ndarray, np.ndarray, np.ndarray], Prediction]


def _fold_ids(n: int, folds: int | None, seed: int) -> tuple[np.ndarray, int]:
    if folds is None:
        folds = n if n <= 500 else 10
    folds = max(2, min(int(folds), n))
    if folds == n:
        return np.arange(n), n
    return np.random.default_rng(seed).permutation(np.arange(n) % folds), folds


def _cv_stats(obs: np.ndarray, pred: np.ndarray, gauss_obs: np.ndarray, gauss_pred: np.ndarray,
              gauss_std: np.ndarray | None) -> dict[str, float]:
    err = pred - obs
    sst = float(np.sum((obs - obs.mean()) ** 2))
    stats = {"n": int(len(obs)), "rmse": float(np.sqrt(np.mean(err**2))), "me": float(np.mean(err)),
             "mae": float(np.mean(np.abs(err))),
             "r2": float(1.0 - np.sum(err**2) / sst) if sst > 0 else math.nan,
             "msse": math.nan, "coverage90": math.nan}
    if gauss_std is not None:
        ok = gauss_std > 0
        ge = gauss_pred - gauss_obs
        stats["msse"] = float(np.mean(ge[ok] ** 2 / gauss_std[ok] ** 2)) if ok.any() else math.nan
        stats["coverage90"] = float(np.mean(np.abs(ge) <= Z90 * gauss_std))
    return stats


def cross_validate(xy: np.ndarray, z: np.ndarray, predict: Predictor, folds: int | None = None,
                   seed: int = 0) -> CVResult:
    """Leave-one-out (``folds=None`` and ≤ 500 samples, or ``folds=n``) or k-fold
    cross-validation of ``predict(xy_train, z_train, xy_test) -> Prediction``.

    The variogram is kept as given (fitted once on all samples), as is usual practice.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    >>> cv = cross_validate(xy, np.array([1.0, 2.0, 3.0]), lambda a, b, t: Prediction(idw(a, b, t), np.full(len(t), np.nan)))
    >>> cv.predicted.round(6).tolist(), round(cv.stats["me"], 6)
    ([2.2, 2.0, 1.8], 0.0)
    """
    xy = np.asarray(xy, dtype="float64")
    z = np.asarray(z, dtype="float64")
    ids, k = _fold_ids(len(z), folds, seed)
    pred, std = np.empty(len(z)), np.full(len(z), np.nan)
    gpred, gstd = np.empty(len(z)), np.full(len(z), np.nan)
    logged = False
    for f in range(k):
        test = ids == f
        p = predict(xy[~test], z[~test], xy[test])
        pred[test], std[test] = p.estimate, p.std
        logged = p.log_estimate is not None
        gpred[test] = p.log_estimate if logged else p.estimate
        gstd[test] = p.log_std if logged else p.std
    gobs = np.log(z) if logged else z
    has_std = bool(np.isfinite(gstd).all())
    stats = _cv_stats(z, pred, gobs, gpred, gstd if has_std else None)
    return CVResult(k, z, pred, std, stats)
