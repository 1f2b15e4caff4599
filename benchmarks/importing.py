"""Import 100,000 parcels into a fresh registry, vs a plain pyogrio GeoPackage write.

The import streams (chunks of ``layers.io.CHUNK_ROWS`` rows); the same import with the
whole file read at once (``$AGRIGIS_IMPORT_CHUNK_ROWS`` above the file's rows) runs in
the same run, so the peak memory of both can be compared.

Run: python benchmarks/importing.py [N] [--root DIR]   (prints a markdown table, writes
benchmarks/results/importing.md; ``--root`` imports with another checkout of agrigis, e.g.
``git archive HEAD | tar -x -C /tmp/head``, as the peer of the same run)

Every measurement runs in its own child process, so its peak memory (max RSS) is its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[4])
kind, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
import layers
t0, c0 = time.perf_counter(), time.process_time()
if kind == "pyogrio":
    import pyogrio
    gdf = pyogrio.read_dataframe(src)
    t0, c0 = time.perf_counter(), time.process_time()  # the write alone
    pyogrio.write_dataframe(gdf, out, layer="projects", driver="GPKG")
    extra = {}
elif kind == "import":
    from workflows.importing import import_files
    counties = layers.load("counties", workspace=False)
    t0, c0 = time.perf_counter(), time.process_time()
    rep = import_files(src, out, counties=counties)
    assert rep.n_accepted == rep.n_read, (rep.n_read, rep.n_accepted)
    extra = {"n": rep.n_accepted}
elif kind == "write":
    import pickle
    from workflows.importing import prepare_file
    from layers.registry import Registry
    prep = prepare_file(src, counties=layers.load("counties", workspace=False), mapping=None)
    reg = Registry(out)
    t0, c0 = time.perf_counter(), time.process_time()  # the registry transaction alone
    reg.write(prep.rows, source=src, sha256="0" * 64)
    extra = {}
dt = time.perf_counter() - t0
# VmHWM, not ru_maxrss: on Linux ru_maxrss carries the parent's RSS at fork across exec
hwm = next(ln for ln in open("/proc/self/status") if ln.startswith("VmHWM"))
print(json.dumps({"seconds": dt, "cpu_seconds": time.process_time() - c0, "max_rss_mb": int(hwm.split()[1]) / 1024,
                  **extra}))
"""


def run(kind: str, src: Path, out: Path, root: Path = ROOT, chunk: int | None = None) -> dict:
    env = dict(os.environ)
    if chunk:
        env["AGRIGIS_IMPORT_CHUNK_ROWS"] = str(chunk)
    res = subprocess.run([sys.executable, "-c", CHILD, kind, str(src), str(out), str(root)], capture_output=True,
                         text=True, cwd=root, env=env)
    if res.returncode:
        raise SystemExit(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


def grid_step(n: int) -> float:
    """Grid step (degrees) of the synthetic parcels: 0.004° holds ~180,000; finer past that."""
    return 0.004 / max(1.0, np.ceil(np.sqrt(n / 150_000)))


def main(n: int = 100_000, peer: Path | None = None) -> str:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    import layers
    from make_parcels import many_parcels

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "parcels.gpkg"
        step = grid_step(n)
        frame = many_parcels(n, layers.load("counties", workspace=False), seed=3, step=step, size=0.75 * step)
        frame.to_file(src, driver="GPKG")
        del frame  # the children measure their own memory; this process need not hold the parcels
        plain = run("pyogrio", src, tmp / "plain.gpkg")
        old = run("import", src, tmp / "registry_peer.gpkg", peer) if peer else None
        full = run("import", src, tmp / "registry.gpkg")
        whole = run("import", src, tmp / "registry_whole.gpkg", chunk=n + 1)
        write = run("write", src, tmp / "registry2.gpkg")
        size = (tmp / "registry.gpkg").stat().st_size / 2**20
    rows = [
        ("plain `pyogrio.write_dataframe` to GeoPackage (write only)", plain),
        ("`agrigis import` (`import_files`: read in chunks of 50,000 rows, encodings/CRS check, repair, field "
         "mapping, county by largest share, ellipsoidal area, one batch transaction, R-tree)", full),
        ("the same `agrigis import`, whole file at once (`AGRIGIS_IMPORT_CHUNK_ROWS` above the file's rows)", whole),
        ("registry transaction alone (`Registry.write` of the validated rows)", write),
    ]
    if old:
        rows.insert(3, (f"the same `agrigis import` from `{peer}` (peer checkout, same run)", old))
    lines = [f"# Import of {n:,} parcels into a new registry", "",
             "| step | seconds | CPU seconds | parcels/s | peak memory (MB, VmHWM of its process) |",
             "|---|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['seconds']:.2f} | {r.get('cpu_seconds', float('nan')):.2f} | "
                     f"{n / r['seconds']:,.0f} | {r['max_rss_mb']:,.0f} |")
    lines += ["", f"ratio import / plain write: {full['seconds'] / plain['seconds']:.1f}×; registry file "
              f"{size:.1f} MB", f"machine: {os.cpu_count()} cores, load average at start {load:.1f}, "
              f"at the end {os.getloadavg()[0]:.1f} "
              "(shared with other jobs)", "goal (DESIGN.md): ≤ 10 s; issue floor: ≤ 60 s", ""]
    text = "\n".join(lines)
    out = ROOT / "benchmarks" / "results" / "importing.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=100_000)
    ap.add_argument("--root", type=Path, help="another checkout to import with, as a peer")
    args = ap.parse_args()
    print(main(args.n, args.root))
