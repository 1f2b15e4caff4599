"""Five county offices importing at once, and ``kill -9`` in the middle of an import, on a
real PostgreSQL/PostGIS server with real processes (tests/conftest_postgis.py)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time


from conftest_postgis import office_command, pg_server  # noqa: F401 - fixture
from layers.registry import Registry
from layers.registry.postgis import PostGISBackend

COUNTIES = ("220802", "220821", "220822", "220881", "220882")  # 洮北 镇赉 通榆 洮南 大安


def counts(url: str) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(url) as con:
        return (con.execute("SELECT count(*) FROM projects").fetchone()[0],
                con.execute("SELECT count(*) FROM batches").fetchone()[0])


def test_five_county_offices_import_at_once(pg_server):  # noqa: F811
    import psycopg

    admin = pg_server.new_database()
    db = admin.rsplit("/", 1)[-1]
    be = PostGISBackend(admin)
    urls = []
    for c in COUNTIES:
        be.grant(f"o{c}_{db}", "county", county=c, password="pw")
        urls.append(pg_server.url(db, user=f"o{c}_{db}", password="pw"))
    n_imports, n = 4, 300
    start = time.time() + 6.0  # every office starts its first import at the same moment
    procs = [subprocess.Popen(office_command("imports", u, c, str(n_imports), str(n), str(start)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for u, c in zip(urls, COUNTIES, strict=True)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, [e[-2000:] for _, e in outs]
    runs = [json.loads(line) for out, _ in outs for line in out.splitlines()]
    assert len(runs) == 5 * n_imports and all(r["batch"] for r in runs)
    assert sorted((r["new"], r["updated"]) for r in runs) == [(0, n)] * 10 + [(n, 0)] * 10
    overlap = sum(1 for a in runs for b in runs if a is not b and a["t0"] < b["t1"] and b["t0"] < a["t1"])
    assert overlap > 0  # the imports really ran at the same time
    reg = Registry(admin)
    b = reg.batches()
    assert sorted(b["batch_id"]) == sorted(r["batch"] for r in runs) and set(b["status"]) == {"active"}
    p = reg.projects(include_history=True)
    per_batch = p.groupby("batch_id").size()
    assert all(per_batch[r["batch"]] == n for r in runs)  # every batch complete, no lost write
    cur = reg.projects()
    assert len(cur) == 5 * n_imports * n // 2 and set(cur["status"]) == {"approved"}
    assert cur.groupby("county_code").size().to_dict() == {c: n_imports * n // 2 for c in COUNTIES}
    assert reg.verify().empty
    with psycopg.connect(admin) as con:
        assert con.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (db,)).fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                           "AND state <> 'idle'", (db,)).fetchone()[0] == 0  # nothing left open or waiting
    wall = max(r["t1"] for r in runs) - min(r["t0"] for r in runs)
    slowest = max(r["seconds"] for r in runs)
    assert 5 * n_imports * n / wall > 100 and slowest < 30  # parcels/s; figures: benchmarks/postgis_concurrency.py


def _gone(admin: str, pid: int, timeout: float = 15.0) -> bool:
    import psycopg

    end = time.time() + timeout
    with psycopg.connect(admin, autocommit=True) as con:
        while time.time() < end:
            if not con.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                return True
            time.sleep(0.05)
    return False


KILLS = 10


def _import_child(url: str, prefix: str, n: int, pipe) -> None:
    """A forked import process (the test's modules already loaded: no start-up time)."""
    from conftest_postgis import office_rows

    try:
        reg = Registry(url)  # its own connections
        rows = office_rows("220821", prefix, n)
        with reg.transaction() as tx:
            pipe.send(("pid", tx.info.backend_pid, time.time()))
            reg.write(rows, source=f"{prefix}.shp", sha256="k" * 64, batch_id=f"kill-{prefix}", tx=tx)
        pipe.send(("committed", time.time()))
    except BaseException:  # noqa: BLE001 - reported to the test, which fails with it
        import traceback

        pipe.send(("error", traceback.format_exc(), 0))
    finally:
        os._exit(0)


def _start(url: str, prefix: str, n: int):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=_import_child, args=(url, prefix, n, there))
    proc.start()
    assert here.poll(60), "the import process did not start"
    kind, pid, t0 = here.recv()
    assert kind == "pid", pid
    return proc, here, pid, t0


def _said(pipe) -> str | None:
    """What a killed import process last said (``committed``), or None."""
    try:
        return pipe.recv()[0] if pipe.poll(0.1) else None
    except EOFError:  # killed before it said anything more
        return None


def test_kill_9_during_an_import_leaves_before_or_the_whole_batch(pg_server):  # noqa: F811
    admin = pg_server.new_database()
    reg = Registry(admin)
    n = 3000
    rng = random.Random(18)
    durations = []
    for warm in ("K0", "K00"):  # imports run to their end: how long a write takes here (the first
        proc, pipe, _, t0 = _start(admin, warm, n)  # write into a new database is the slowest)
        assert pipe.poll(60)
        durations.append(pipe.recv()[1] - t0)
        proc.join(30)
    duration = min(durations)
    outcomes = []
    for i in range(1, KILLS + 1):
        before = counts(admin)
        proc, pipe, pid, _ = _start(admin, f"K{i}", n)  # the transaction is open: the write is under way
        time.sleep(rng.uniform(0.0, 1.2 * duration))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        committed = _said(pipe) == "committed"
        assert _gone(admin, pid), "the server kept the killed import's session"
        after = counts(admin)
        if after == before:
            assert not committed
            outcomes.append("before")
        else:
            assert after == (before[0] + n, before[1] + 1)
            assert (reg.projects()["batch_id"] == f"kill-K{i}").sum() == n
            outcomes.append("after")
    assert outcomes.count("before") >= KILLS // 2, outcomes  # most kills hit the write
    assert reg.verify().empty
