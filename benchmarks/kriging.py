"""Benchmark: ordinary kriging of soil samples onto a grid, agrigis vs PyKrige's direct call (issue 17).

Workload (deterministic): ``--samples`` points with a smooth synthetic EC field plus noise,
scattered over a square in EPSG:4550 (CM 123°E, Baicheng) that holds ``--cells`` cells at
``--res`` metres. The default is small (2,000 samples, 1 million cells at 30 m); ``--full``
is the DESIGN goal: 10,000 samples onto the city's ≈ 29 million cells at 30 m
(≤ 10 min, ≤ 4 GB).

Jobs, each in its own Python process (peak memory = the process's max resident set):

* ``agrigis``: :func:`gis.geostat.krige` (spatial blocks; each block's samples are the
  union of its points' neighbours), the variogram fitted by :func:`gis.geostat.fit_variogram`;
* ``pykrige``: ``OrdinaryKriging(all samples).execute("points", …, n_closest_points=k,
  backend="C")`` in chunks of 1 million points (one call for the whole grid would need
  ``cells × k`` distances in memory: 7 GB at full size).

Both use the same variogram and neighbours, so they give the same answer (checked on a
sample of cells). Prints a table.

Usage::

    python benchmarks/kriging.py                  # small
    python benchmarks/kriging.py --full           # 10k samples, the city at 30 m
    python benchmarks/kriging.py --samples 2000 --cells 5500000   # one county at 30 m
    python benchmarks/kriging.py --scaling 500,2000,5000 --scaling-cells 1000000,5500000
                                                  # how time grows with samples and cells (agrigis)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
X0, Y0 = 450_000.0, 4_950_000.0


def workload(n_samples: int, n_cells: int, res: float, seed: int = 0):
    side = int(math.ceil(math.sqrt(n_cells)))
    extent = side * res
    rng = np.random.default_rng(seed)
    xy = np.column_stack([X0 + rng.uniform(0, extent, n_samples), Y0 + rng.uniform(0, extent, n_samples)])
    u, v = (xy[:, 0] - X0) / extent, (xy[:, 1] - Y0) / extent
    z = 2 + np.sin(6 * u) + np.cos(5 * v) + 0.3 * rng.standard_normal(n_samples)
    return xy, z, side, extent


def _cells(side: int, res: float, rows: slice) -> np.ndarray:
    cx = X0 + (np.arange(side) + 0.5) * res
    cy = Y0 + (np.arange(side)[rows] + 0.5) * res
    gx, gy = np.meshgrid(cx, cy)
    return np.column_stack([gx.ravel(), gy.ravel()])


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished workers."""
    own, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + ch.ru_utime + ch.ru_stime


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own + children  # worker processes run beside the parent: their peaks add up (upper bound)


def run_job(job: str, n_samples: int, n_cells: int, *, res: float, k: int, fraction: float, workers: int | None,
            log_: bool = False) -> dict:
    from gis.geostat import KrigingOptions, fit_variogram, krige

    xy, z, side, _ = workload(n_samples, n_cells, res)
    if log_:
        z = np.exp(z / 2)
    v = fit_variogram(xy, np.log(z) if log_ else z)
    n_rows = max(1, round(side * fraction))
    rows_per = max(1, 1_000_000 // side)
    t0, c0 = time.perf_counter(), _cpu_seconds()
    if job == "agrigis":  # one call, as `agrigis soil` makes it
        est = krige(xy, z, _cells(side, res, slice(0, n_rows)), v,
                    KrigingOptions(neighbours=k, workers=workers, log=log_)).estimate
    else:
        import pykrige

        ok = pykrige.OrdinaryKriging(xy[:, 0], xy[:, 1], z, variogram_model=v.model,
                                     variogram_parameters=v.pykrige_parameters_dict(), nlags=1)
        parts = []
        for r0 in range(0, n_rows, rows_per):
            pts = _cells(side, res, slice(r0, min(n_rows, r0 + rows_per)))
            e, _ = ok.execute("points", pts[:, 0], pts[:, 1], n_closest_points=k, backend="C")
            parts.append(np.asarray(e))
        est = np.concatenate(parts)
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    probe = est[:: max(1, len(est) // 200)][:200].tolist()
    return {"job": job, "seconds": seconds, "cpu": cpu, "peak_mb": _peak_mb(), "cells": int(len(est)), "probe": probe,
            "model": v.model}


def run_cv(n_samples: int, n_cells: int, res: float, ks: list[int]) -> list[tuple[int, dict, float]]:
    """10-fold cross-validation of the workload with each neighbourhood size."""
    from gis.geostat import KrigingOptions, cross_validate, fit_variogram, krige

    xy, z, _, _ = workload(n_samples, n_cells, res)
    v = fit_variogram(xy, z)
    out = []
    for k in ks:
        t0 = time.perf_counter()
        cv = cross_validate(xy, z, lambda a, b, t: krige(a, b, t, v, KrigingOptions(neighbours=k, workers=1)),
                            folds=10)
        out.append((k, cv.stats, time.perf_counter() - t0))
    return out


def _job(job: str, a, samples: int, cells: int) -> dict:
    """Run one job in its own Python process (its own peak memory) and return its figures."""
    cmd = [sys.executable, __file__, "--job", job, "--samples", str(samples), "--cells", str(cells),
           "--res", str(a.res), "--neighbours", str(a.neighbours), "--fraction", str(a.fraction)]
    cmd += (["--workers", str(a.workers)] if a.workers else []) + (["--log"] if a.log else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def scaling(a) -> None:
    """A Markdown table of agrigis's time for each number of samples × number of cells."""
    samples = [int(s) for s in a.scaling.split(",")]
    cells = [int(c) for c in a.scaling_cells.split(",")]
    print(f"agrigis ordinary kriging, {a.neighbours} neighbours, {a.fraction:.0%} of the rows kriged "
          f"(times extrapolated to the whole grid)\n")
    print("| samples | cells | cells kriged | wall (s) | CPU (s) | whole grid wall (s) | µs CPU per cell | peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    for n in samples:
        for c in cells:
            r = _job("agrigis", a, n, c)
            print(f"| {n:,} | {c:,} | {r['cells']:,} | {r['seconds']:.1f} | {r['cpu']:.1f} | "
                  f"{r['seconds'] * c / r['cells']:.0f} | {r['cpu'] / r['cells'] * 1e6:.2f} | {r['peak_mb']:.0f} |",
                  flush=True)
    print(f"\n(load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--cells", type=int, default=1_000_000)
    ap.add_argument("--res", type=float, default=30.0)
    ap.add_argument("--neighbours", type=int, default=16)
    ap.add_argument("--fraction", type=float, default=1.0,
                    help="share of the grid's rows kriged; times are extrapolated to the whole grid")
    ap.add_argument("--workers", type=int, default=None, help="agrigis worker processes (default: all cores)")
    ap.add_argument("--log", action="store_true", help="lognormal kriging (agrigis only)")
    ap.add_argument("--cv", default=None, help="compare 10-fold CV for these neighbour counts, e.g. 8,16,32")
    ap.add_argument("--full", action="store_true", help="10,000 samples onto ≈ 29 million cells (the city at 30 m)")
    ap.add_argument("--only", default="agrigis,pykrige")
    ap.add_argument("--scaling", default=None, help="time agrigis for these sample counts, e.g. 500,2000,5000")
    ap.add_argument("--scaling-cells", default="1000000,5500000", help="… and these grid sizes (with --scaling)")
    ap.add_argument("--job", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.full:
        a.samples, a.cells = 10_000, 29_000_000
    if a.cv:
        print(f"10-fold CV, {a.samples} samples: k, RMSE, ME, R², MSSE, coverage90, seconds")
        for k, s, sec in run_cv(a.samples, a.cells, a.res, [int(k) for k in a.cv.split(",")]):
            print(f"{k:>3} {s['rmse']:.4f} {s['me']:+.4f} {s['r2']:.4f} {s['msse']:.3f} {s['coverage90']:.3f} {sec:.1f}")
        return
    if a.job:
        print(json.dumps(run_job(a.job, a.samples, a.cells, res=a.res, k=a.neighbours, fraction=a.fraction,
                                 workers=a.workers, log_=a.log)))
        return
    if a.scaling:
        scaling(a)
        return
    results = [_job(job, a, a.samples, a.cells) for job in a.only.split(",")]
    print(f"ordinary kriging{' (log)' if a.log else ''}, {a.samples} samples, {a.cells:,} cells at {a.res:g} m, "
          f"{a.neighbours} neighbours, variogram {results[0]['model']}; kriged {results[0]['cells']:,} cells "
          f"({a.fraction:.0%} of the rows), times extrapolated to the whole grid")
    print(f"{'job':<10} {'seconds':>9} {'CPU s':>9} {'whole s':>9} {'whole CPU':>10} {'peak MB':>9} {'cells/s':>11}")
    for r in results:
        scale = a.cells / r["cells"]
        print(f"{r['job']:<10} {r['seconds']:>9.1f} {r['cpu']:>9.1f} {r['seconds'] * scale:>9.0f} "
              f"{r['cpu'] * scale:>10.0f} {r['peak_mb']:>9.0f} {r['cells'] / r['seconds']:>11,.0f}")
    print(f"(load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if len(results) == 2:
        diff = np.max(np.abs(np.array(results[0]["probe"]) - np.array(results[1]["probe"])))
        print(f"largest difference on {len(results[0]['probe'])} probed cells: {diff:.2e}")


if __name__ == "__main__":
    main()
