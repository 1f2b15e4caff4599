"""Five county offices importing at once into one PostGIS registry (issue 18: five
processes × twenty imports), each as its own county-office login (row-level security).

Run: python benchmarks/postgis_concurrency.py [IMPORTS] [PARCELS]   (default 20 imports of
1,000 parcels per office; every second import updates the parcels of the one before).
Prints a markdown table and writes benchmarks/results/postgis_concurrency.md: total
throughput (parcels written per second of wall time, all offices together), the slowest
import, and the checks (every batch complete, no deadlock, nothing left open).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNTIES = ("220802", "220821", "220822", "220881", "220882")


def main(n_imports: int = 20, n: int = 1000) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest_postgis import office_command
    from postgis_import import server

    from layers.registry import Registry
    from layers.registry.postgis import PostGISBackend

    load = os.getloadavg()[0]
    pg, stop = server()
    try:
        admin = pg.new_database("bench")
        db = admin.rsplit("/", 1)[-1]
        be = PostGISBackend(admin)
        urls = []
        for c in COUNTIES:
            be.grant(f"office_{c}", "county", county=c, password="pw")
            urls.append(pg.url(db, user=f"office_{c}", password="pw"))
        start = time.time() + 10.0
        procs = [subprocess.Popen(office_command("imports", u, c, str(n_imports), str(n), str(start)),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
                 for u, c in zip(urls, COUNTIES, strict=True)]
        outs = [p.communicate() for p in procs]
        if any(p.returncode for p in procs):
            raise SystemExit("\n".join(e[-2000:] for _, e in outs))
        runs = [json.loads(line) for out, _ in outs for line in out.splitlines()]
        checks = verify(Registry(admin), admin, db, runs, n)
    finally:
        stop()
    return report(runs, checks, n_imports, n, load)


def verify(reg, admin: str, db: str, runs: list[dict], n: int) -> dict:
    import psycopg

    per_batch = reg.projects(include_history=True).groupby("batch_id").size()
    with psycopg.connect(admin) as con:
        deadlocks = con.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (db,)).fetchone()[0]
        open_ = con.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                            "AND state <> 'idle'", (db,)).fetchone()[0]
    return {"complete": all(per_batch.get(r["batch"], 0) == n for r in runs) and len(reg.batches()) == len(runs),
            "deadlocks": deadlocks, "open": open_, "verify": len(reg.verify())}


def report(runs: list[dict], c: dict, n_imports: int, n: int, load: float) -> str:
    wall = max(r["t1"] for r in runs) - min(r["t0"] for r in runs)
    secs = sorted(r["seconds"] for r in runs)
    total = len(runs) * n
    lines = [f"# Five county offices importing at once: {len(COUNTIES)} processes × {n_imports} imports × "
             f"{n:,} parcels (PostGIS, county-office logins under row-level security)", "",
             "| imports | parcels written | wall s | throughput parcels/s | median import s | slowest import s |",
             "|---:|---:|---:|---:|---:|---:|",
             f"| {len(runs)} | {total:,} | {wall:.1f} | {total / wall:,.0f} | {secs[len(secs) // 2]:.2f} | "
             f"{secs[-1]:.2f} |", "",
             f"Checks: every batch complete {c['complete']}; deadlocks {c['deadlocks']}; sessions left open "
             f"{c['open']}; `registry verify` problems {c['verify']}.",
             f"machine: {os.cpu_count()} cores, load average at start {load:.1f} (shared with other jobs); "
             "PostgreSQL on loopback, fsync off (a throwaway cluster).", ""]
    text = "\n".join(lines)
    (ROOT / "benchmarks" / "results" / "postgis_concurrency.md").write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(main(*args))
