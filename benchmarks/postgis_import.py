"""Import 100,000 parcels into PostGIS vs into a GeoPackage registry (goal: PostGIS ≤ 2×).

Run: python benchmarks/postgis_import.py [N]   (prints a markdown table, writes
benchmarks/results/postgis_import.md)

The server: ``AGRIGIS_TEST_POSTGRES`` (a superuser URL), else a throwaway cluster started
from Debian's binaries as the tests do (tests/conftest_postgis.py). Each measurement runs
in its own child process (its peak memory is its own); the PostGIS import writes as the
database owner (one COPY) and, separately, as a county-office login (row-level security:
COPY into a temporary table, then one INSERT the policies check).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
kind, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
import layers
from workflows.importing import import_files, prepare_file
from layers.registry import Registry
counties = layers.load("counties", workspace=False)
if kind == "import":
    t0 = time.perf_counter()
    rep = import_files(src, out, counties=counties)
    assert rep.n_accepted == rep.n_read, (rep.n_read, rep.n_accepted)
else:
    prep = prepare_file(src, counties=counties, mapping=None)
    rows = prep.rows if kind == "write" else prep.rows[prep.rows["county_code"] == kind]
    reg = Registry(out)
    t0 = time.perf_counter()                      # the registry transaction alone
    reg.write(rows, source=src, sha256="0" * 64)
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "n": len(Registry(out).projects())}))
"""


def run(kind: str, src: Path, out: str) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, kind, str(src), out, str(ROOT)], capture_output=True,
                         text=True, cwd=ROOT)
    if res.returncode:
        raise SystemExit(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


def server():
    """(PgServer, stop) from the tests' fixture code."""
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest_postgis as cp

    given = os.environ.get("AGRIGIS_TEST_POSTGRES")
    if given:
        return cp.PgServer(given), lambda: None
    bindir = cp._binaries()
    if bindir is None:
        raise SystemExit("no PostgreSQL binaries: apt-get install postgresql postgis, or set AGRIGIS_TEST_POSTGRES")
    base, folder = cp._start_cluster(bindir)
    return cp.PgServer(base), lambda: cp._stop(bindir, folder)


def main(n: int = 100_000) -> str:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    import layers
    from layers.registry.postgis import PostGISBackend
    from make_parcels import many_parcels

    load = os.getloadavg()[0]
    pg, stop = server()
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            src = tmp / "parcels.gpkg"
            parcels = many_parcels(n, layers.load("counties", workspace=False), seed=3)
            parcels.to_file(src, driver="GPKG")
            from workflows.importing import prepare_file

            prep = prepare_file(src, counties=layers.load("counties", workspace=False), mapping=None)
            county = str(prep.rows["county_code"].astype(str).value_counts().index[0])
            del prep
            results = {
                "gpkg_import": run("import", src, str(tmp / "registry.gpkg")),
                "pg_import": run("import", src, pg.new_database("bench")),
                "gpkg_write": run("write", src, str(tmp / "registry2.gpkg")),
                "pg_write": run("write", src, pg.new_database("bench")),
            }
            url = pg.new_database("bench")
            PostGISBackend(url).grant("bench_county", "county", county=county, password="bench")
            db = url.rsplit("/", 1)[-1]
            results["gpkg_county"] = run(county, src, str(tmp / "registry3.gpkg"))
            results["pg_county"] = run(county, src, pg.url(db, user="bench_county", password="bench"))
    finally:
        stop()
    return report(n, results, county, load)


def report(n: int, r: dict, county: str, load: float) -> str:
    rows = [
        ("`agrigis import` (read, checks, one batch)", "gpkg_import", "pg_import"),
        ("registry transaction alone (`Registry.write`)", "gpkg_write", "pg_write"),
        (f"`Registry.write` of one county ({county}), as a county-office login on PostGIS (RLS)",
         "gpkg_county", "pg_county"),
    ]
    lines = [f"# Import of {n:,} parcels: GeoPackage vs PostGIS registry", "",
             "| step | parcels | GeoPackage s | PostGIS s | PostGIS / GeoPackage | PostGIS peak MB |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, g, p in rows:
        lines.append(f"| {name} | {r[p]['n']:,} | {r[g]['seconds']:.2f} | {r[p]['seconds']:.2f} | "
                     f"{r[p]['seconds'] / r[g]['seconds']:.2f}× | {r[p]['max_rss_mb']:,.0f} |")
    lines += ["", f"machine: {os.cpu_count()} cores, load average at start {load:.1f} (shared with other jobs); "
              "PostgreSQL on loopback, fsync off (a throwaway cluster)", "goal (DESIGN.md): PostGIS import ≤ 2× "
              "the GeoPackage import", ""]
    text = "\n".join(lines)
    out = ROOT / "benchmarks" / "results" / "postgis_import.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
