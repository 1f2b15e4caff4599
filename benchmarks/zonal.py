"""Benchmark: zonal statistics, agrigis vs exactextract vs rasterstats (issue 5).

Workload (generated deterministically, cached in ``$AGRIGIS_BENCH_DIR`` or
``/tmp/agrigis-bench-zonal``):

* an 8000 × 8000 float32 GeoTIFF at 10 m in EPSG:4550 over Baicheng (DEFLATE, 256² tiles,
  NaN nodata in a few patches), a smooth synthetic "NDVI" field plus noise;
* 20,000 synthetic parcels: rotated rectangles of 0.1–50 ha (log-uniform area, aspect
  1–4), scattered over the raster, overlapping freely, a few over the edge (GeoPackage);
* a 12-date stack on the same grid: 12 such GeoTIFFs with date offsets and
  date-specific cloud patches (NaN).

Every job runs in its own Python process; time is wall-clock of the zonal call (the
parcels are read before the clock starts) and peak memory is the largest resident set of
the job's whole process tree, sampled every 20 ms. rasterstats runs on a 500-parcel
subset and is extrapolated linearly to 20,000.

Usage::

    python benchmarks/zonal.py            # generate (once) and run everything
    python benchmarks/zonal.py --quick    # a 2000² raster and 2000 parcels
    python benchmarks/zonal.py --only agrigis_stack,ee_stack_raster_sequential
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "zonal.md"
X0, Y1, RES = 390_000.0, 5_110_000.0, 10.0  # west of Baicheng city, CM 123°E
STATS5 = ["count", "mean", "min", "max", "std"]
EE5 = ["count", "mean", "min", "max", "stdev"]


# --------------------------------------------------------------------------------------
# workload
# --------------------------------------------------------------------------------------
def _field(rows: np.ndarray, cols: np.ndarray, date: int, rng) -> np.ndarray:
    y = rows[:, None] / 800.0
    x = cols[None, :] / 800.0
    v = (0.45 + 0.2 * np.sin(x * 1.3 + date * 0.4) * np.cos(y * 0.9)
         + 0.1 * np.sin(3.1 * x + 2.3 * y) + 0.02 * date)
    v = v + rng.normal(0, 0.03, v.shape)
    return v.astype("float32")


def write_raster(path: Path, size: int, date: int) -> None:
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    profile = dict(driver="GTiff", width=size, height=size, count=1, dtype="float32",
                   crs="EPSG:4550", transform=from_origin(X0, Y1, RES, RES), nodata=np.nan,
                   tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    rng = np.random.default_rng(1000 + date)
    clouds = rng.uniform(0, size, (6, 2)).astype(int)
    tmp = path.with_suffix(".part.tif")
    with rasterio.open(tmp, "w", **profile) as ds:
        for r0 in range(0, size, 256):
            r1 = min(r0 + 256, size)
            rows = np.arange(r0, r1)
            v = _field(rows, np.arange(size), date, rng)
            for cy, cx in clouds:  # cloud / nodata patches of 300 × 500 cells
                a, b = max(cy - r0, 0), min(cy + 300 - r0, r1 - r0)
                if a < b:
                    v[a:b, cx:cx + 500] = np.nan
            ds.write(v, 1, window=Window(0, r0, size, r1 - r0))
    tmp.rename(path)


def make_parcels(n: int, size: int, seed: int = 5):
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    ext = size * RES
    area = np.exp(rng.uniform(np.log(1e3), np.log(5e5), n))  # 0.1–50 ha
    aspect = rng.uniform(1, 4, n)
    w = np.sqrt(area * aspect)
    h = area / w
    ang = rng.uniform(0, np.pi, n)
    cx = rng.uniform(X0 - 100, X0 + ext + 100, n)
    cy = rng.uniform(Y1 - ext - 100, Y1 + 100, n)
    dx = np.array([-1, 1, 1, -1])[None, :] * w[:, None] / 2
    dy = np.array([-1, -1, 1, 1])[None, :] * h[:, None] / 2
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    xy = np.stack([cx[:, None] + c * dx - s * dy, cy[:, None] + s * dx + c * dy], -1)
    xy = np.concatenate([xy, xy[:, :1]], 1)
    return gpd.GeoDataFrame({"parcel": [f"P{i:05d}" for i in range(n)]},
                            geometry=shapely.polygons(xy), crs="EPSG:4550")


def generate(d: Path, size: int, n: int, dates: int) -> dict:
    d.mkdir(parents=True, exist_ok=True)
    paths = {"single": d / f"ndvi_{size}.tif",
             "stack": [d / f"ndvi_{size}_d{t:02d}.tif" for t in range(1, dates + 1)],
             "parcels": d / f"parcels_{n}_{size}.gpkg"}
    if not paths["parcels"].exists():
        make_parcels(n, size).to_file(paths["parcels"], driver="GPKG")
    for t, p in [(0, paths["single"])] + list(enumerate(paths["stack"], 1)):
        if not p.exists():
            print(f"writing {p} …", file=sys.stderr, flush=True)
            write_raster(p, size, t)
    return paths


# --------------------------------------------------------------------------------------
# jobs (each runs in a fresh process: python benchmarks/zonal.py --job NAME --paths JSON)
# --------------------------------------------------------------------------------------
def job(name: str, paths: dict) -> dict:
    import geopandas as gpd

    sys.path.insert(0, str(ROOT))
    zones = gpd.read_file(paths["parcels"]).set_index("parcel")
    # import every contender before the clock starts (imports are not what we measure)
    import exactextract  # noqa: F401
    import rasterstats  # noqa: F401
    import xarray  # noqa: F401
    import gis.zonal  # noqa: F401
    t0 = time.perf_counter()
    extra = {}
    if name == "agrigis_single":
        from gis import zonal_stats

        r = zonal_stats(zones, paths["single"], stats=STATS5)
        extra["mean_of_means"] = float(r["mean"].mean())
    elif name.startswith("ee_single_"):
        from exactextract import exact_extract

        strategy = name[len("ee_single_"):].replace("_", "-")
        r = exact_extract(paths["single"], zones.reset_index(), EE5, output="pandas",
                          strategy=strategy)
        extra["mean_of_means"] = float(r["mean"].mean())
    elif name == "rasterstats_subset":
        from rasterstats import zonal_stats as rs

        sub = zones.iloc[:: len(zones) // 500][:500]
        r = rs(sub, paths["single"], stats="count mean min max std", nodata=np.nan)
        extra["parcels"] = len(sub)
    elif name == "agrigis_stack":
        from gis import zonal_stats

        r = zonal_stats(zones, paths["stack"], stats=["mean"])
        extra["mean_of_means"] = float(np.nanmean(r.values))
    elif name.startswith("ee_stack_"):
        from exactextract import exact_extract

        strategy = name[len("ee_stack_"):].replace("_", "-")
        r = exact_extract(paths["stack"], zones.reset_index(), ["mean"], output="pandas",
                          strategy=strategy)
        extra["mean_of_means"] = float(np.nanmean(r.filter(like="mean").values))
    else:
        raise SystemExit(f"unknown job {name}")
    return {"seconds": time.perf_counter() - t0, **extra}


def measure(name: str, paths: dict) -> dict:
    """Run one job in a child process; wall time from the child, peak RSS of its tree."""
    import psutil

    enc = {k: (str(v) if not isinstance(v, list) else [str(p) for p in v])
           for k, v in paths.items()}
    proc = subprocess.Popen([sys.executable, __file__, "--job", name, "--paths",
                             json.dumps(enc)], stdout=subprocess.PIPE, text=True)
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss
                                             for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    out = proc.stdout.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode:
        raise SystemExit(f"job {name} failed ({proc.returncode})")
    res = json.loads(out.strip().splitlines()[-1])
    res["peak_gb"] = peak / 1e9
    res["cpu"] = cpu  # user + system seconds of the whole job (imports and reading too)
    print(f"{name}: {res}", file=sys.stderr, flush=True)
    return res


def median_run(runs: list[dict]) -> dict:
    """The run with the median time (the upper one of an even count), with the range of
    times and the largest peak memory of all runs."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    out = dict(ordered[len(ordered) // 2])
    out["n"] = len(runs)
    out["range"] = (ordered[0]["seconds"], ordered[-1]["seconds"])
    out["peak_gb"] = max(r["peak_gb"] for r in runs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--job")
    ap.add_argument("--paths")
    ap.add_argument("--only", help="comma-separated job names")
    ap.add_argument("--skip", default="", help="comma-separated job names not to run")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each job, interleaved; the table gives the median "
                         "(jobs slower than 60 s run once)")
    args = ap.parse_args()
    if args.job:
        print(json.dumps(job(args.job, json.loads(args.paths))))
        return
    size, n, dates = (2000, 2000, 12) if args.quick else (8000, 20_000, 12)
    d = Path(os.environ.get("AGRIGIS_BENCH_DIR", "/tmp/agrigis-bench-zonal"))
    paths = generate(d, size, n, dates)
    names = ["agrigis_single", "ee_single_feature_sequential", "ee_single_raster_sequential",
             "rasterstats_subset", "agrigis_stack", "ee_stack_feature_sequential",
             "ee_stack_raster_sequential"]
    if args.only:
        names = args.only.split(",")
    names = [k for k in names if k not in args.skip.split(",")]
    runs: dict = {k: [] for k in names}
    for r in range(max(args.repeat, 1)):
        for k in names:
            if r == 0 or runs[k][0]["seconds"] < 60:
                runs[k].append(measure(k, paths))
    res = {k: median_run(v) for k, v in runs.items()}
    load = os.getloadavg()
    table = render(res, size, n, dates, load)
    print(table)
    if not args.quick and not args.only:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(table)


def render(res: dict, size: int, n: int, dates: int, load) -> str:
    def row(job, label, key, note=""):
        if key not in res:
            return ""
        r = res[key]
        runs = (f"median of {r['n']} runs ({r['range'][0]:.1f}–{r['range'][1]:.1f} s)"
                if r["n"] > 1 else "one run")
        note = f"{note}; {runs}" if note else runs
        return (f"| {job} | {label} | {r['seconds']:.1f} | {r['cpu']:.1f} | "
                f"{r['peak_gb']:.2f} | {note} |\n")

    out = [f"# Zonal statistics benchmark\n\n{size} × {size} float32 GeoTIFF (10 m, "
           f"DEFLATE, 256² tiles, EPSG:4550), {n:,} parcels of 0.1–50 ha (log-uniform), "
           f"a {dates}-date stack on the same grid; all synthetic, generated by "
           "`benchmarks/zonal.py`. Time: wall clock of the zonal call; memory: peak RSS "
           "of the job's process tree (the largest of the runs). Runs are interleaved "
           "(every job once, then again), so all tools meet the same load.\n\n"
           f"Machine: {os.cpu_count()} cores, shared with other agents' processes "
           f"(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end), so "
           "absolute times are noisy; compare ratios within this run.\n\n"
           "CPU: user + system seconds of the whole job process tree, including "
           "interpreter start, imports and reading the parcels.\n\n"
           "| job | tool | time (s) | CPU (s) | peak memory (GB) | note |\n"
           "|---|---|---|---|---|---|\n"]
    out.append(row("one raster, 5 stats", "agrigis (exact)", "agrigis_single",
                   "count, mean, min, max, std"))
    out.append(row("one raster, 5 stats", "exactextract feature-sequential",
                   "ee_single_feature_sequential"))
    out.append(row("one raster, 5 stats", "exactextract raster-sequential",
                   "ee_single_raster_sequential"))
    if "rasterstats_subset" in res:
        r = res["rasterstats_subset"]
        k = n / r["parcels"]
        out.append(f"| one raster, 5 stats | rasterstats (extrapolated) | "
                   f"{r['seconds'] * k:.0f} | – | ≥ {r['peak_gb']:.2f} | measured "
                   f"{r['seconds']:.1f} s on {r['parcels']} parcels × {k:.0f} |\n")
    out.append(row(f"{dates}-date stack, mean", "agrigis (exact)", "agrigis_stack",
                   "coverage built once"))
    out.append(row(f"{dates}-date stack, mean", "exactextract feature-sequential (one call)",
                   "ee_stack_feature_sequential"))
    out.append(row(f"{dates}-date stack, mean", "exactextract raster-sequential (one call)",
                   "ee_stack_raster_sequential"))
    ratios = []
    ee1 = [res[k]["seconds"] for k in res if k.startswith("ee_single")]
    ees = [res[k]["seconds"] for k in res if k.startswith("ee_stack")]
    if "agrigis_single" in res and ee1:
        ratios.append(f"- one raster: agrigis / exactextract's best = "
                      f"{res['agrigis_single']['seconds'] / min(ee1):.2f}")
    if "agrigis_stack" in res and ees:
        ratios.append(f"- {dates}-date stack: agrigis / exactextract's best = "
                      f"{res['agrigis_stack']['seconds'] / min(ees):.2f}")
    return "".join(out) + "\n" + "\n".join(ratios) + "\n"


if __name__ == "__main__":
    main()
