"""Benchmark: zonal statistics when the parcels cover a corner of the raster, agrigis vs
exactextract, same files, same run.

Workload: the 12-date stack of ``benchmarks/zonal.py`` (DEFLATE GeoTIFFs in 256² tiles,
``--size`` cells square) and every ``--every``-th of its parcels whose centroid lies in the
north-west quarter — a project's parcels on a county-sized raster. Statistic: the mean of
every parcel on every date.

Jobs (each in its own fresh process, libraries imported and parcels read before the
clock; best of ``--repeat`` calls, the coverage cache cleared before each):

* ``agrigis``              the file list; only the tiles some parcel's box reaches are
  decoded (``gis.zonal_read._RasterioSource.limit_to``);
* ``agrigis_whole_rows``   the same with whole rows of tiles decoded, as before the tile
  table (what the tiles under the parcels save);
* ``exactextract_raster``  ``exact_extract(files, parcels, ["mean"])`` raster-sequential;
* ``exactextract_feature`` the same, feature-sequential (its fastest strategy here: it
  reads each parcel's box).

Usage::

    python benchmarks/zonal_sparse.py                # 3000² × 12 dates
    python benchmarks/zonal_sparse.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"
JOBS = ("agrigis", "agrigis_whole_rows", "exactextract_raster", "exactextract_feature")


def corner(parcels_path: str, every: int):
    """Every ``every``-th parcel whose centroid lies in the north-west quarter."""
    import geopandas as gpd

    zones = gpd.read_file(parcels_path).set_index("parcel")
    x0, y0, x1, y1 = zones.total_bounds
    c = zones.geometry.centroid
    return zones[(c.x < (x0 + x1) / 2) & (c.y > (y0 + y1) / 2)].iloc[::every]


def job(name: str, stack: list[str], parcels: str, every: int, repeat: int) -> dict:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    zones = corner(parcels, every)
    import exactextract

    import gis.zonal as gz
    import gis.zonal_read as zr

    if name == "agrigis_whole_rows":
        zr._RasterioSource.limit_to = lambda self, rows, cols: None  # type: ignore[method-assign]
    best: tuple[float, float] | None = None
    check = float("nan")
    for _ in range(repeat):
        gz._CACHE.clear()
        c0, t0 = time.process_time(), time.perf_counter()
        if name.startswith("exactextract"):
            strategy = "raster-sequential" if name.endswith("raster") else "feature-sequential"
            r = exactextract.exact_extract(stack, zones.reset_index(), ["mean"], output="pandas",
                                           strategy=strategy)
            check = float(np.nanmean(r.filter(like="mean").to_numpy(dtype=float)))
        else:
            check = float(np.nanmean(gz.zonal_stats(zones, stack, stats=["mean"]).values))
        took = (time.perf_counter() - t0, time.process_time() - c0)
        best = took if best is None or took < best else best
    assert best is not None
    return {"wall": best[0], "cpu": best[1], "parcels": len(zones), "mean_of_means": check}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=3000)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--dates", type=int, default=12)
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--job")
    ap.add_argument("--args")
    args = ap.parse_args()
    if args.job:
        a = json.loads(args.args)
        print(json.dumps(job(args.job, a["stack"], a["parcels"], args.every, args.repeat)))
        return
    import zonal as zb

    d = Path(os.environ.get("AGRIGIS_BENCH_DIR", "/tmp/agrigis-bench-zonal"))
    paths = zb.generate(d, args.size, args.n, args.dates)
    enc = json.dumps({"stack": [str(p) for p in paths["stack"]], "parcels": str(paths["parcels"])})
    load0 = os.getloadavg()
    out = {}
    for name in JOBS:
        res = subprocess.run([sys.executable, __file__, "--job", name, "--args", enc,
                              "--every", str(args.every), "--repeat", str(args.repeat)],
                             capture_output=True, text=True)
        if res.returncode:
            raise SystemExit(f"job {name} failed:\n{res.stderr[-3000:]}")
        out[name] = json.loads(res.stdout.strip().splitlines()[-1])
        print(name, out[name], file=sys.stderr, flush=True)
    text = render(out, args, (load0, os.getloadavg()))
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "zonal_sparse.md").write_text(text, encoding="utf-8")
    (RESULTS / "zonal_sparse.json").write_text(json.dumps(
        {"size": args.size, "dates": args.dates, "every": args.every, "repeat": args.repeat,
         "load_average_start": load0, "load_average_end": os.getloadavg(),
         "cores": os.cpu_count(), "jobs": out}, indent=1), encoding="utf-8")


def render(out: dict, args, load) -> str:
    best = min(out["exactextract_raster"]["wall"], out["exactextract_feature"]["wall"])
    n = out["agrigis"]["parcels"]
    lines = [
        f"# Zonal statistics, parcels in one corner ({n} parcels in the north-west quarter of "
        f"{args.size}² × {args.dates} dates, mean)\n",
        f"Every job in a fresh process, best of {args.repeat} calls (coverage cache cleared). "
        f"Machine: {os.cpu_count()} cores, load average {load[0][0]:.1f} at the start, "
        f"{load[1][0]:.1f} at the end. exactextract's best here: {best:.2f} s.\n",
        "| job | wall (s) | CPU (s) | wall ÷ exactextract's best | mean of means |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in out.items():
        lines.append(f"| {name} | {r['wall']:.3f} | {r['cpu']:.3f} | {r['wall'] / best:.2f} | "
                     f"{r['mean_of_means']:.9f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
