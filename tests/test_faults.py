"""Faults: SIGKILL during a 50,000-parcel import, and two imports at once.

After every kill the registry must open, pass SQLite's integrity check, and hold exactly
the state before the import or the complete batch. The child processes are real
``python`` processes writing the real GeoPackage; the only instrumentation is a line
printed when the registry transaction begins, so kills can be aimed at the write.
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyogrio
import pytest

from layers.registry import Registry
from workflows.importing import import_files, prepare_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_parcels import many_parcels  # noqa: E402

N = 50_000
KILLS = 10

CHILD = r"""
import pickle, sys, time
from contextlib import contextmanager
from layers.registry import Registry
rows = pickle.load(open(sys.argv[1], "rb"))
reg = Registry(sys.argv[2])
with reg.transaction() as tx:
    print("BEGIN", time.time(), flush=True)
    reg.write(rows, source="big.gpkg", sha256="f" * 64, tx=tx)
print("DONE", time.time(), flush=True)
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import layers

    d = tmp_path_factory.mktemp("faults")
    counties = layers.load("counties", workspace=False)
    big = many_parcels(N, counties, seed=1, prefix="B")
    small = many_parcels(N + 100, counties, seed=1, prefix="B").iloc[N:].copy()  # 100 others, disjoint codes
    small["project_code"] = [f"PRE{i}" for i in range(len(small))]
    small.to_file(d / "small.gpkg")
    base = d / "base.gpkg"
    import_files(d / "small.gpkg", base, counties=counties)
    big.to_file(d / "big.gpkg")
    prep = prepare_file(d / "big.gpkg", counties=counties, mapping=None)
    assert prep.report.n_accepted == N
    with open(d / "rows.pkl", "wb") as f:
        pickle.dump(prep.rows, f)
    # one uninterrupted run: how long the write takes, and what "complete" looks like
    full = d / "full.gpkg"
    shutil.copy(base, full)
    out = subprocess.run([sys.executable, "-c", CHILD, d / "rows.pkl", full], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    t = dict(line.split() for line in out.stdout.splitlines())
    return {"dir": d, "base": base, "full": full, "write_s": float(t["DONE"]) - float(t["BEGIN"])}


def state(path: Path) -> tuple:
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        n = con.execute("SELECT count(*) FROM projects").fetchone()[0]
        n_rtree = con.execute("SELECT count(*) FROM rtree_projects_geom").fetchone()[0]
        batches = con.execute("SELECT count(*) FROM batches").fetchone()[0]
        triggers = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0]
        dump = con.execute("SELECT project_code, batch_id, valid_to FROM projects ORDER BY fid").fetchall()
    finally:
        con.close()
    assert n == n_rtree and triggers == 6
    return n, batches, dump


def test_sigkill_leaves_before_or_complete(setup):
    base_n, base_b, base_dump = state(setup["base"])
    full_n, full_b, _ = state(setup["full"])
    assert (full_n, full_b) == (base_n + N, base_b + 1)
    rng = random.Random(20241125)
    outcomes = []
    for k in range(KILLS):
        path = setup["dir"] / f"kill{k}.gpkg"
        shutil.copy(setup["base"], path)
        p = subprocess.Popen([sys.executable, "-c", CHILD, setup["dir"] / "rows.pkl", path], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        assert line.startswith("BEGIN"), p.stderr.read()
        time.sleep(rng.uniform(0, setup["write_s"] * 1.15))
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        n, b, dump = state(path)
        reg = Registry(path)
        if (n, b) == (base_n, base_b):
            assert dump == base_dump
            outcomes.append("before")
        else:
            assert (n, b) == (full_n, full_b), (k, n, b)
            assert dump[: len(base_dump)] == base_dump
            assert reg.batches()["n_new"].iloc[-1] == N
            outcomes.append("complete")
        info = pyogrio.read_info(path, layer="projects")
        assert info["features"] == n and info["crs"] == "EPSG:4490"
        path.unlink()
    assert "before" in outcomes, outcomes  # at least one kill landed inside the write


def test_killing_the_cli_import(setup):
    """The whole command (read, check, write), killed at random moments."""
    base_n, base_b, base_dump = state(setup["base"])
    rng = random.Random(7)
    for k in range(2):
        path = setup["dir"] / f"cli{k}.gpkg"
        shutil.copy(setup["base"], path)
        p = subprocess.Popen([sys.executable, "-m", "workflows.cli", "import", str(setup["dir"] / "big.gpkg"),
                              "--registry", str(path)], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 5.0))
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        n, b, dump = state(path)
        assert (n, b) in ((base_n, base_b), (base_n + N, base_b + 1))
        if n == base_n:
            assert dump == base_dump


def test_two_imports_at_once(tmp_path):
    """Both land, or one fails cleanly with "registry busy" (in Chinese, the default); the file is never corrupt."""
    import layers

    counties = layers.load("counties", workspace=False)
    files = []
    for k, prefix in enumerate("XY"):
        g = many_parcels(5000, counties, seed=10 + k, prefix=prefix)
        files.append(tmp_path / f"{prefix}.gpkg")
        g.to_file(files[-1])
    reg = tmp_path / "r.gpkg"
    procs = [subprocess.Popen([sys.executable, "-m", "workflows.cli", "import", str(f), "--registry", str(reg)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    landed = 0
    for code, err in results:
        assert "Traceback" not in err
        if code == 0:
            landed += 1
        else:
            assert code == 1 and err.startswith("错误:项目库忙:"), err
    n, b, _ = state(reg)
    assert landed >= 1 and (n, b) == (5000 * landed, landed)
    assert sorted({c[0] for c in Registry(reg).projects()["project_code"]}) == sorted(
        "XY"[i] for i, (code, _) in enumerate(results) if code == 0)
