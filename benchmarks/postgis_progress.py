"""``agrigis progress`` over a large registry on PostGIS vs on a GeoPackage (goal: PostGIS ≤ 1.5×).

Run: nice python benchmarks/postgis_progress.py [N] [ROUNDS]   (default 1,000,000 parcels,
best of 2 alternating rounds; prints a markdown table, writes
benchmarks/results/postgis_progress.md)

The same N synthetic parcels (tests/data/make_parcels.py; past ~600,000 its grid, the
parcels and their declared areas shrink together, as in benchmarks/progress.py) are written once into a
GeoPackage registry (one batch) and copied into PostGIS with ``agrigis registry copy``
(:func:`layers.registry.copy_registry`, timed too). Then, each in its own child process
(its peak memory its own), best of ROUNDS alternating runs: reading the current parcels
(``Registry.projects``) and the whole ``agrigis progress`` command (read, compute, write
progress.xlsx/csv/html). The server as in benchmarks/postgis_import.py.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
kind, reg, out = sys.argv[1], sys.argv[2], sys.argv[3]
from layers.registry import Registry
t0 = time.perf_counter()
if kind == "read":
    n = len(Registry(reg).projects())
else:
    from click.testing import CliRunner
    from workflows.cli import main
    res = CliRunner().invoke(main, ["progress", "--registry", reg, "-o", out, "--as-of", "2024-09-30"])
    assert res.exit_code == 0, (res.output, res.exception)
    n = 0
print(json.dumps({"seconds": time.perf_counter() - t0, "n": n,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(kind: str, reg: str, out: str) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, kind, reg, out, str(ROOT)], capture_output=True, text=True,
                         cwd=ROOT)
    if res.returncode:
        raise SystemExit(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def synthetic_parcels(n: int, counties):
    """``n`` non-overlapping parcels; 0.002° grid / 0.0015° squares up to ~600k, finer past that.

    make_parcels' grid at 0.002° holds ~734k parcels wholly inside one county; above 600k the
    step, the square and the declared area (∝ size²) shrink by a whole factor k, so 1M parcels
    sit on a 0.001° grid as 0.00075° squares (~¼ the area each).
    """
    from make_parcels import many_parcels

    k = max(1, math.ceil(math.sqrt(n / 600_000)))
    parcels = many_parcels(n, counties, seed=5, step=0.002 / k, size=0.0015 / k)
    return parcels.assign(declared_area_mu=(parcels["declared_area_mu"] / k**2).round(2))


def build(n: int, tmp: Path, url: str) -> dict:
    """The GeoPackage registry with ``n`` parcels, and its copy in PostGIS; seconds taken."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    import layers
    from layers.registry import Registry, copy_registry

    counties = layers.load("counties", workspace=False)
    t = time.perf_counter()
    parcels = synthetic_parcels(n, counties)
    log(f"generated {len(parcels):,} parcels in {time.perf_counter() - t:.1f} s")
    import numpy as np
    import shapely

    zone, cell = shapely.STRtree(np.asarray(counties.geometry.values)).query(
        shapely.centroid(parcels.geometry.values), predicate="within")
    code = np.empty(len(parcels), dtype=object)
    code[zone] = counties["county_code"].astype(str).to_numpy()[cell]
    parcels = parcels.assign(county_code=code, area_mu=np.nan, investment_wan_yuan=np.nan)
    t0 = time.perf_counter()
    Registry(tmp / "registry.gpkg").write(parcels, source="bench.gpkg", sha256="0" * 64)
    t1 = time.perf_counter()
    log(f"GeoPackage registry written in {t1 - t0:.1f} s")
    copy_registry(Registry(tmp / "registry.gpkg"), Registry(url))
    log(f"copied to PostGIS in {time.perf_counter() - t1:.1f} s")
    return {"gpkg_write": t1 - t0, "copy": time.perf_counter() - t1, "n": len(parcels)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main(n: int = 1_000_000, rounds: int = 2) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from postgis_import import server

    load = os.getloadavg()[0]
    pg, stop = server()
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            url = pg.new_database("bench")
            built = build(n, tmp, url)
            gp = str(tmp / "registry.gpkg")
            best: dict[str, dict] = {}
            for _ in range(rounds):  # alternating, best of each
                for key, kind, reg in (("gpkg_progress", "progress", gp), ("pg_progress", "progress", url),
                                       ("gpkg_read", "read", gp), ("pg_read", "read", url)):
                    r = run(kind, reg, str(tmp / key))
                    log(f"{key}: {r['seconds']:.1f} s, peak {r['max_rss_mb']:,.0f} MB")
                    if key not in best or r["seconds"] < best[key]["seconds"]:
                        best[key] = r
    finally:
        stop()
    return report(built, best, load, rounds)


def report(built: dict, r: dict, load: float, rounds: int) -> str:
    n = built["n"]
    lines = [f"# `agrigis progress` over {n:,} parcels: GeoPackage vs PostGIS registry", "",
             "| step | GeoPackage s | PostGIS s | PostGIS / GeoPackage | GeoPackage peak MB | PostGIS peak MB |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, g, p in (("read the current parcels (`Registry.projects`)", "gpkg_read", "pg_read"),
                       ("`agrigis progress` (read, compute, write xlsx/csv/html)", "gpkg_progress", "pg_progress")):
        lines.append(f"| {name} | {r[g]['seconds']:.2f} | {r[p]['seconds']:.2f} | "
                     f"{r[p]['seconds'] / r[g]['seconds']:.2f}× | {r[g]['max_rss_mb']:,.0f} | "
                     f"{r[p]['max_rss_mb']:,.0f} |")
    lines += ["", f"Setup: `Registry.write` of {n:,} parcels into the GeoPackage {built['gpkg_write']:.1f} s; "
              f"`agrigis registry copy` GeoPackage → PostGIS {built['copy']:.1f} s.",
              f"machine: {os.cpu_count()} cores, load average at start {load:.1f} (shared with other jobs); "
              "PostgreSQL on loopback, fsync off (a throwaway cluster); "
              + (f"best of {rounds} alternating runs." if rounds > 1 else "one run each (no best-of)."),
              "goal (issue 18): progress on PostGIS within 1.5× of progress on GeoPackage", ""]
    text = "\n".join(lines)
    out = ROOT / "benchmarks" / "results" / "postgis_progress.md"
    out.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, int(sys.argv[2]) if len(sys.argv) > 2 else 2))
