"""Benchmark: progress against all 2024 targets, 100,000 parcels with 10 % overlaps.

Compares, in the same run and on the same data, ``gis.tracking.progress`` (everything:
unions per target, county split, pipeline stages, pace, count targets and all flags)
with the plain geopandas way of getting only the achieved area per category and county:
``geopandas.overlay(parcels, counties)`` followed by ``dissolve`` and an ellipsoidal area.

Synthetic parcels: 90 % are 350 m × 350 m squares (≈ 184 亩) on distinct cells of a
400 m grid inside Baicheng's real county boundaries; 10 % are copies of random ones
shifted by 100–250 m, so they overlap their original. Categories, years and statuses are
mixed. Each approach runs in its own process, so peak memory (ru_maxrss) is its own.

Run:  python benchmarks/progress.py [--n 100000]
Writes benchmarks/results/progress.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_parcels(n: int, seed: int = 4):
    import geopandas as gpd
    import shapely

    import layers
    from gis.labels import CATEGORIES

    counties = layers.load("counties", workspace=False)
    city = shapely.union_all(counties.to_crs(4550).geometry.values)
    shapely.prepare(city)
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = city.bounds
    n_base = int(n * 0.9)
    # 400 m cells hold ~160k parcels; past that the grid (and the parcels) shrink
    cell = 400.0 / max(1.0, np.ceil(np.sqrt(n_base / 150_000)))
    gx, gy = np.meshgrid(np.arange(x0, x1, cell), np.arange(y0, y1, cell))
    cx, cy = gx.ravel() + cell / 2, gy.ravel() + cell / 2
    inside = shapely.contains_xy(city, cx, cy)
    cx, cy = cx[inside], cy[inside]
    pick = rng.choice(len(cx), size=n_base, replace=False)
    bx, by = cx[pick], cy[pick]
    dup = rng.integers(0, n_base, size=n - n_base)
    shift = rng.uniform(100, 250, size=len(dup)) * rng.choice([-1, 1], size=len(dup)) * cell / 400.0
    ax = np.concatenate([bx, bx[dup] + shift])
    ay = np.concatenate([by, by[dup]])
    half = 175.0 * cell / 400.0
    geoms = shapely.box(ax - half, ay - half, ax + half, ay + half)
    cats = np.array(list(CATEGORIES))
    cat = cats[rng.integers(0, len(cats), size=n_base)]
    cat = np.concatenate([cat, cat[dup]])
    statuses = np.array(["planned", "approved", "under_construction", "completed", "accepted"])
    status = statuses[rng.choice(5, size=n, p=[0.1, 0.1, 0.2, 0.3, 0.3])]
    year = rng.choice([2023, 2024], size=n, p=[0.1, 0.9])
    gdf = gpd.GeoDataFrame(
        {"project_code": [f"BM{i:06d}" for i in range(n)], "category": cat, "year": year,
         "status": status,
         "declared_area_mu": np.round(183.75 * (cell / 400.0) ** 2 * rng.normal(1, 0.03, size=n), 2),
         "batch_id": "bench"},
        geometry=geoms, crs="EPSG:4550",
    ).to_crs(4490)
    return gdf, counties


def run_engine(parcels, counties):
    from gis.tracking import progress
    from workflows.targets import load_targets

    res = progress(parcels, load_targets(), counties, as_of=dt.date(2024, 6, 30))
    s = res.summary.set_index("key")
    bc = res.by_county[(res.by_county.region != "outside_city") & (res.by_county.category != "courtyard_economy")]
    cells = {f"{r.category}|{r.region}": float(r.achieved_mu) for r in bc.itertuples()}
    return {"achieved_mu_total": float(s.achieved_mu.sum()), "cells": cells,
            "high_standard_farmland_mu": float(s.loc["high_standard_farmland", "achieved_mu"]),
            "flags": int(len(res.flags)), "overlap_pairs": res.info["n_overlap_pairs"]}


def run_overlay(parcels, counties):
    import geopandas as gpd

    from gis.area import area_mu

    counted = parcels[(parcels.year == 2024) & parcels.status.isin(["completed", "accepted"])]
    pieces = gpd.overlay(counted[["category", "geometry"]].to_crs(4550),
                         counties[["county_code", "geometry"]].to_crs(4550), how="intersection")
    dissolved = pieces.dissolve(by=["category", "county_code"]).reset_index()
    dissolved["mu"] = area_mu(dissolved)
    hsf = dissolved[dissolved.category == "high_standard_farmland"].mu.sum()
    cells = {f"{r.category}|{r.county_code}": float(r.mu) for r in dissolved.itertuples()}
    return {"achieved_mu_total": float(dissolved.mu.sum()), "high_standard_farmland_mu": float(hsf), "cells": cells}


def child(kind: str, data: str) -> None:
    with open(data, "rb") as f:
        parcels, counties = pickle.load(f)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0 = time.process_time()
    t = time.perf_counter()
    out = (run_engine if kind == "engine" else run_overlay)(parcels, counties)
    out["seconds"] = time.perf_counter() - t
    out["cpu_seconds"] = time.process_time() - cpu0
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["loaded_mb"] = rss0 / 1024
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=2, help="alternating runs of each; the best counts")
    ap.add_argument("--child", choices=["engine", "overlay"])
    ap.add_argument("--data")
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.data)
    t = time.perf_counter()
    parcels, counties = make_parcels(args.n)
    gen = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.pkl"
        with open(data, "wb") as f:
            pickle.dump((parcels, counties), f)
        res: dict = {}
        loads = []
        for _ in range(args.rounds):  # alternate, keep each one's best: the machine is shared
            for kind in ("engine", "overlay"):
                out = subprocess.run([sys.executable, __file__, "--child", kind, "--data", str(data)],
                                     capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                loads.append(os.getloadavg()[0])
                if kind not in res or r["seconds"] < res[kind]["seconds"]:
                    res[kind] = r
    e, o = res["engine"], res["overlay"]
    diffs = [abs(v - o["cells"].get(k, 0.0)) for k, v in e["cells"].items()]
    n_cells = len(diffs)
    lines = [
        f"# progress benchmark ({args.n:,} parcels, 10 % overlapping; {dt.date.today()})",
        "",
        f"Machine: {platform.machine()}, {platform.python_version()}, 2 cores shared; data generation {gen:.1f} s.",
        "Each approach runs in its own process; memory is that process's peak RSS (incl. the loaded data).",
        "",
        "| approach | what it computes | wall time (s) | CPU time (s) | peak RSS (MB) | achieved total (万亩) |",
        "|---|---|---:|---:|---:|---:|",
        f"| `gis.tracking.progress` | all 14 area targets × county × 3 stages, 2 count targets, "
        f"pace, all flags ({e['flags']:,} flags, {e['overlap_pairs']:,} overlap pairs) | "
        f"{e['seconds']:.1f} | {e['cpu_seconds']:.1f} | {e['peak_mb']:.0f} | {e['achieved_mu_total'] / 1e4:.2f} |",
        f"| `geopandas.overlay(counties)` + `dissolve` | achieved area per category × county only | "
        f"{o['seconds']:.1f} | {o['cpu_seconds']:.1f} | {o['peak_mb']:.0f} | {o['achieved_mu_total'] / 1e4:.2f} |",
        "",
        f"Ratio engine / overlay: {e['seconds'] / o['seconds']:.2f}. Goal (DESIGN.md): ≤ ⅓ of the overlay "
        "approach (≈ 8 s) and ≤ 1 GB; issue floor ≤ 30 s, ≤ 2 GB.",
        f"Cross-check: achieved area per (category, county) for the {n_cells} cells of the area targets "
        f"(courtyard economy excluded: a stock counting earlier years) differs from overlay+dissolve by at "
        f"most {max(diffs):.4f} 亩; high-standard farmland {e['high_standard_farmland_mu']:,.1f} vs "
        f"{o['high_standard_farmland_mu']:,.1f} 亩. The totals differ by design: the overlay "
        "total also sums demo-base land and paddy land outside the Da'an/Zhenlai scope.",
        f"Best of {args.rounds} alternating runs each. Load average (1 min) after the runs: "
        f"{', '.join(f'{x:.1f}' for x in loads)} on 2 cores (other jobs share the machine), so absolute "
        "times on an idle machine are lower; the ratio and the CPU time (which load inflates less; "
        "the engine uses two threads, so its CPU time can exceed its wall time) are fairer.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "benchmarks" / "results" / "progress.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
