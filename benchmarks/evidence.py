"""Benchmark: ``gis.evidence.verify`` vs one ``gis.zonal_stats`` call over the same stack (issue 20).

Workload (generated deterministically, cached in ``$AGRIGIS_BENCH_DIR`` or
``/tmp/agrigis-bench-evidence``): a NetCDF stack as ``agrigis imagery stack --index
NDVI,LSWI,EVI`` writes it — one season (``--dates`` acquisitions, April–October), three
variables ``ndvi``, ``lswi``, ``evi`` of ``--size`` × ``--size`` cells at 10 m (EPSG:32651),
with cloud patches (NaN) — and ``--parcels`` rectangular parcels of 1–6 ha on a jittered
lattice: 40 % paddy_new, 40 % new_cultivated_land, 20 % saline_demo_area.

Jobs, each cold (the zonal engine's weight cache cleared), stack opened lazily from the
NetCDF as ``agrigis verify`` opens it, best of ``--repeat``:

- ``zonal``: ``zonal_stats(parcels, stack["ndvi"], stats="mean")`` — the peer;
- ``verify``: ``verify(parcels, stack, 2024)`` — every rule on one set of coverage
  weights: one zonal pass over the NDVI dates (count and sum), the window's flood rule
  bit-packed per cell and summed with the same weights, the areas from the weights
  (goal ≤ 2 × ``zonal``).

Wall time and CPU seconds (all threads of the process) are both reported: on a loaded
machine the CPU ratio is the steadier one. The table is written to
``benchmarks/results/evidence.md``.

Result (5,000 parcels, 2000² cells, 12 dates; 2 shared cores, loaded): see
``benchmarks/results/evidence.md``. Before the flood flags were packed (17 layers — area,
12 NDVI, 3 window flood dates, "ever flooded" — through the engine against the peer's 12)
the ratio was 2.56× wall.

Usage::

    python benchmarks/evidence.py                 # 5,000 parcels over 2000² cells, 12 dates
    python benchmarks/evidence.py --full          # 50,000 parcels over 7000² cells (a county at 10 m)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "evidence.md"

DATES = ["04-20", "05-05", "05-15", "05-28", "06-12", "06-25", "07-10", "07-25", "08-08", "08-25", "09-10", "10-05"]


def make_stack(path: Path, size: int, n_dates: int) -> None:
    """The season's NDVI/LSWI/EVI stack (float32, chunks of 1024 rows), written once."""
    import pandas as pd
    import rioxarray  # noqa: F401
    import xarray as xr

    rng = np.random.default_rng(20)
    times = pd.to_datetime([f"2024-{d} 02:50" for d in (DATES * 2)[:n_dates]])
    x = 578000 + 10 * (np.arange(size) + 0.5)
    y = 5018000 - 10 * (np.arange(size) + 0.5)
    data = {k: np.empty((n_dates, size, size), dtype="float32") for k in ("ndvi", "lswi", "evi")}
    field = rng.random((size // 50 + 1, size // 50 + 1)).repeat(50, 0).repeat(50, 1)[:size, :size]
    for k in range(n_dates):
        season = np.sin(np.pi * (k + 0.5) / n_dates)
        ndvi = (0.2 + 0.6 * season * field + 0.02 * rng.standard_normal((size, size))).astype("float32")
        cloud = np.zeros((size, size), dtype=bool)
        for _ in range(4):
            r, c = rng.integers(0, size, 2)
            cloud[r:r + size // 8, c:c + size // 8] = True
        data["ndvi"][k] = np.where(cloud, np.nan, ndvi)
        data["evi"][k] = np.where(cloud, np.nan, 0.8 * ndvi - 0.05)
        data["lswi"][k] = np.where(cloud, np.nan, 0.3 * (field - 0.5) + 0.1 * (k in (2, 3, 4)))
    ds = xr.Dataset({k: (("time", "y", "x"), v) for k, v in data.items()}, coords={"time": times, "y": y, "x": x})
    ds = ds.rio.write_crs("EPSG:32651")
    enc = {k: {**ds[k].encoding, "chunksizes": (1, min(1024, size), size)} for k in data}
    ds.to_netcdf(path, engine="h5netcdf", encoding=enc)


def make_parcels(n: int, size: int):
    """``n`` rectangles of 1–6 ha on a jittered lattice inside the grid."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(21)
    side = int(np.ceil(np.sqrt(n)))
    step = size * 10 / side
    i = np.arange(n)
    cx = 578000 + (i % side + 0.5) * step + rng.uniform(-0.1, 0.1, n) * step
    cy = 5018000 - (i // side + 0.5) * step + rng.uniform(-0.1, 0.1, n) * step
    w = np.minimum(rng.uniform(100, 250, n), 0.8 * step)
    h = np.minimum(rng.uniform(100, 250, n), 0.8 * step)
    geoms = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    cats = rng.choice(["paddy_new", "new_cultivated_land", "saline_demo_area"], n, p=[0.4, 0.4, 0.2])
    return gpd.GeoDataFrame({"category": cats, "year": np.where(cats == "saline_demo_area", 2021, 2024)},
                            geometry=geoms, crs="EPSG:32651")


def _cold():
    from gis import zonal

    zonal._CACHE.clear()


def run(path: Path, parcels, repeat: int) -> dict[str, tuple[float, float]]:
    """Best (wall s, CPU s) of each job over ``repeat`` cold runs."""
    from gis.evidence import verify
    from gis.zonal import zonal_stats
    from workflows.verify import open_evidence_stack

    jobs = {"zonal": lambda s: zonal_stats(parcels[["geometry"]], s["ndvi"], stats="mean"),
            "verify": lambda s: verify(parcels, s, 2024)}
    best = {k: (np.inf, np.inf) for k in jobs}
    for _ in range(repeat):
        for name, job in jobs.items():
            stack, _ = open_evidence_stack(path)
            _cold()
            t0, c0 = time.perf_counter(), time.process_time()
            job(stack)
            took = (time.perf_counter() - t0, time.process_time() - c0)
            best[name] = tuple(min(a, b) for a, b in zip(best[name], took, strict=True))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="50,000 parcels over 7000² cells")
    ap.add_argument("--parcels", type=int, default=None)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--dates", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    n = a.parcels or (50_000 if a.full else 5_000)
    size = a.size or (7000 if a.full else 2000)
    folder = Path(os.environ.get("AGRIGIS_BENCH_DIR", "/tmp/agrigis-bench-evidence"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"stack_{size}_{a.dates}.nc"
    if not path.exists():
        t0 = time.perf_counter()
        make_stack(path, size, a.dates)
        print(f"made {path} in {time.perf_counter() - t0:.1f} s")
    parcels = make_parcels(n, size)
    best = run(path, parcels, a.repeat)
    (zw, zc), (vw, vc) = best["zonal"], best["verify"]
    lines = [(f"{n:,} parcels, {size}² cells at 10 m, {a.dates} dates × ndvi/lswi/evi (best of {a.repeat}, cold; "
              f"{os.cpu_count()} cores)"), "", "| job | wall (s) | × zonal | CPU (s) | × zonal |", "|---|---:|---:|---:|---:|"]
    for k, (w, c) in best.items():
        lines.append(f"| {k} | {w:.2f} | {w / zw:.2f} | {c:.2f} | {c / zc:.2f} |")
    lines += ["", (f"goal: verify ≤ 2 × zonal → wall {'met' if vw <= 2 * zw else 'NOT met'}, "
                   f"CPU {'met' if vc <= 2 * zc else 'NOT met'}")]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if not (a.parcels or a.size):  # the standard workloads only
        from gis.outputs import write_text

        name = RESULTS.with_name("evidence_full.md") if a.full else RESULTS
        write_text(name, f"# Benchmark: evidence (issue 20)\n\n`python benchmarks/evidence.py{' --full' if a.full else ''}`\n\n"
                   + text)


if __name__ == "__main__":
    main()
