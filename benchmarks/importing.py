"""Import 100,000 parcels into a fresh registry, vs a plain pyogrio GeoPackage write.

Run: python benchmarks/importing.py [N]   (prints a markdown table, writes benchmarks/results/importing.md)

Every measurement runs in its own child process, so its peak memory (max RSS) is its own.
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
t0 = time.perf_counter()
if kind == "pyogrio":
    import pyogrio
    gdf = pyogrio.read_dataframe(src)
    t0 = time.perf_counter()                      # the write alone
    pyogrio.write_dataframe(gdf, out, layer="projects", driver="GPKG")
    extra = {}
elif kind == "import":
    from workflows.importing import import_files
    counties = layers.load("counties", workspace=False)
    t0 = time.perf_counter()
    rep = import_files(src, out, counties=counties)
    assert rep.n_accepted == rep.n_read, (rep.n_read, rep.n_accepted)
    extra = {"n": rep.n_accepted}
elif kind == "write":
    import pickle
    from workflows.importing import prepare_file
    from layers.registry import Registry
    prep = prepare_file(src, counties=layers.load("counties", workspace=False), mapping=None)
    reg = Registry(out)
    t0 = time.perf_counter()                      # the registry transaction alone
    reg.write(prep.rows, source=src, sha256="0" * 64)
    extra = {}
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}))
"""


def run(kind: str, src: Path, out: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, kind, str(src), str(out), str(ROOT)], capture_output=True,
                         text=True, cwd=ROOT)
    if res.returncode:
        raise SystemExit(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(n: int = 100_000) -> str:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    import layers
    from make_parcels import many_parcels

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "parcels.gpkg"
        many_parcels(n, layers.load("counties", workspace=False), seed=3).to_file(src, driver="GPKG")
        plain = run("pyogrio", src, tmp / "plain.gpkg")
        full = run("import", src, tmp / "registry.gpkg")
        write = run("write", src, tmp / "registry2.gpkg")
        size = (tmp / "registry.gpkg").stat().st_size / 2**20
    rows = [
        ("plain `pyogrio.write_dataframe` to GeoPackage (write only)", plain),
        ("`agrigis import` (`import_files`: read, encodings/CRS check, repair, field mapping, "
         "county by largest share, ellipsoidal area, one batch transaction, R-tree)", full),
        ("registry transaction alone (`Registry.write` of the validated rows)", write),
    ]
    lines = [f"# Import of {n:,} parcels into a new registry", "",
             "| step | seconds | parcels/s | peak memory (MB, max RSS of its process) |", "|---|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['seconds']:.2f} | {n / r['seconds']:,.0f} | {r['max_rss_mb']:,.0f} |")
    lines += ["", f"ratio import / plain write: {full['seconds'] / plain['seconds']:.1f}×; registry file "
              f"{size:.1f} MB", f"machine: {os.cpu_count()} cores, load average at start {load:.1f} "
              "(shared with other jobs)", "goal (DESIGN.md): ≤ 10 s; issue floor: ≤ 60 s", ""]
    text = "\n".join(lines)
    out = ROOT / "benchmarks" / "results" / "importing.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
