"""A file imported chunk by chunk gives exactly what the whole-file import gives.

``$AGRIGIS_IMPORT_CHUNK_ROWS=7`` forces chunks of 7 rows onto a 46-row GeoPackage (and a
Shapefile) whose read-stage rejects, repairs, merged parts, duplicate and near-duplicate
codes, county rejects and registry refusals fall into different chunks. All data synthetic.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.outputs import STALE_AFTER
from layers.io import open_stream
from layers.registry import Registry
from workflows.importing import format_report, import_files

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_parcels import many_parcels  # noqa: E402

N = 46


@pytest.fixture(scope="module")
def counties():
    import layers

    return layers.load("counties", workspace=False)


def _table(counties, kind: str = "gpkg") -> gpd.GeoDataFrame:
    """46 synthetic parcels with problems in chunks 1 … 7 (rows are 1-based)."""
    df = many_parcels(N, counties, seed=5, prefix="C")
    df["project_name"] = df["project_name"].astype(object)
    g = df.geometry.values.copy()
    x0, y0 = shapely.get_coordinates(g[2])[0]
    g[2] = shapely.Polygon([(x0, y0), (x0 + 0.002, y0 + 0.002), (x0 + 0.002, y0), (x0, y0 + 0.002)])  # row 3 bowtie
    g[4] = shapely.Polygon()  # row 5: empty geometry
    g[19] = shapely.Point(x0, y0)  # row 20: not a polygon (a Shapefile holds one type: a flat ring there)
    if kind == "shp":
        g[19] = shapely.Polygon([(x0, y0), (x0 + 0.001, y0), (x0 + 0.002, y0), (x0, y0)])
    g[14] = shapely.box(110.0, 30.0, 110.003, 30.003)  # row 15: outside Baicheng
    df = df.set_geometry(list(g), crs="EPSG:4490")
    df.loc[8, "category"] = "不存在的类型"  # row 9: unknown category
    df.loc[11, "project_code"] = "Ｃ００００１１"  # row 12: full-width code, normalised
    df.loc[16, "project_code"] = None  # row 17: no code
    # rows 2 and 30: one parcel in two parts (same code and attributes): merged
    df.loc[29, ["project_code", "project_name", "category", "year", "status"]] = df.loc[
        1, ["project_code", "project_name", "category", "year", "status"]].to_numpy()
    # rows 4 and 25: one code, other attributes: both refused
    df.loc[24, "project_code"] = df.loc[3, "project_code"]
    # rows 6 and 41: codes that differ only in case and a hyphen: both refused
    df.loc[40, "project_code"] = "c-" + df.loc[5, "project_code"][1:]
    df.loc[43, "project_code"] = "NEAR-1"  # row 44: near the registry's "near1"
    return df


def _base_registry(path: Path, counties, table: gpd.GeoDataFrame, folder: Path) -> None:
    """A registry holding ``near1`` and row 36's code with another status (refused again)."""
    base = table.iloc[[35, 0]].copy()
    base.loc[base.index[0], "status"] = "planned" if base["status"].iloc[0] != "planned" else "completed"
    base.loc[base.index[1], "project_code"] = "near1"
    base.to_file(folder / "base.gpkg", driver="GPKG")
    import_files(folder / "base.gpkg", path, counties=counties, lang="en")


def _run(src: Path, reg: Path, counties, monkeypatch, chunk: int | None):
    if chunk:
        monkeypatch.setenv("AGRIGIS_IMPORT_CHUNK_ROWS", str(chunk))
    else:
        monkeypatch.delenv("AGRIGIS_IMPORT_CHUNK_ROWS", raising=False)
    rep = import_files(src, reg, counties=counties, lang="en")
    csv = pd.read_csv(src.with_name(src.name + ".rejects.csv")) if rep.files[0].rejects_csv else None
    gpkg = (gpd.read_file(src.with_name(src.name + ".rejects.gpkg")) if rep.files[0].rejects_gpkg else None)
    r = Registry(reg)
    rows = r.projects(include_history=True).drop(columns=["fid", "batch_id", "valid_from", "valid_to", "closed_by"],
                                                  errors="ignore")
    rows = rows.sort_values("project_code").reset_index(drop=True)
    batches = r.batches().drop(columns=["batch_id", "imported_at", "host", "user"], errors="ignore")
    text = format_report(rep, "en")
    if rep.batch_id:
        text = text.replace(rep.batch_id, "<batch>")
    return rep, csv, gpkg, rows, batches.reset_index(drop=True), text


def _same_geoms(a, b) -> bool:
    return bool(((a.isna() & b.isna()) | a.geom_equals_exact(b, 1e-12)).all())


@pytest.mark.parametrize("kind", ["gpkg", "shp"])
def test_chunks_give_the_whole_file_result(tmp_path, counties, monkeypatch, kind):
    table = _table(counties, kind)
    src = tmp_path / f"parcels.{kind}"
    if kind == "gpkg":
        table.to_file(src, driver="GPKG")
    else:
        table.to_crs("EPSG:4550").to_file(src, encoding="GBK")
    monkeypatch.setenv("AGRIGIS_IMPORT_CHUNK_ROWS", "7")
    stream = open_stream(src)
    assert stream is not None and stream.n_read == N and stream.chunk == 7
    assert [len(c.frame) + len(c.rejects) for c in stream.chunks()] == [7] * 6 + [4]
    out = {}
    _base_registry(tmp_path / "base_reg.gpkg", counties, table, tmp_path)
    for chunk in (None, 7):
        reg = tmp_path / f"reg_{chunk}.gpkg"
        shutil.copy(tmp_path / "base_reg.gpkg", reg)  # one registry's batch ids, named in the reasons
        out[chunk] = _run(src, reg, counties, monkeypatch, chunk)
    whole, chunked = out[None], out[7]
    rep_w, rep_c = whole[0].files[0], chunked[0].files[0]
    for k in ("n_read", "n_accepted", "n_repaired", "n_rejected", "n_new", "n_updated", "n_unchanged"):
        assert getattr(rep_c, k) == getattr(rep_w, k), k
    assert rep_w.n_read == N and rep_w.n_rejected == 11 and rep_w.n_accepted == N - 11
    assert rep_c.notes == rep_w.notes
    pd.testing.assert_frame_equal(rep_c.repairs, rep_w.repairs)
    pd.testing.assert_frame_equal(chunked[0].rejects(), whole[0].rejects())
    pd.testing.assert_frame_equal(chunked[1], whole[1])  # rejects CSV
    pd.testing.assert_frame_equal(chunked[2].drop(columns="geometry"), whole[2].drop(columns="geometry"))
    assert _same_geoms(chunked[2].geometry, whole[2].geometry)
    pd.testing.assert_frame_equal(chunked[3].drop(columns="geometry"), whole[3].drop(columns="geometry"))
    assert _same_geoms(chunked[3].geometry, whole[3].geometry)
    pd.testing.assert_frame_equal(chunked[4], whole[4])  # the batch records, counts included
    assert chunked[5] == whole[5]  # the printed summary
    reasons = " ".join(whole[1]["reason"])
    for what in ("self-intersecting", "empty geometry", "not a polygon" if kind == "gpkg" else "collapses", "outside Baicheng", "category",
                 "no project code", "more than once", "only in case", "already in the registry", "near1",
                 "merged", "full-width"):
        assert what in reasons or what in " ".join(rep_w.repairs["repair"]), what
    merged = whole[3].loc[whole[3]["project_code"] == table.loc[1, "project_code"]]
    assert len(merged) == 1 and merged.geometry.iloc[0].geom_type == "MultiPolygon"
    assert np.isclose(merged["area_mu"].iloc[0], whole[3]["area_mu"].median() * 2, rtol=0.05)


def test_interrupted_chunked_import_leaves_the_registry_as_it_was(tmp_path, counties, monkeypatch):
    table = _table(counties)
    src = tmp_path / "parcels.gpkg"
    table.to_file(src, driver="GPKG")
    reg = tmp_path / "reg.gpkg"
    _base_registry(reg, counties, table, tmp_path)
    before = Registry(reg).projects(include_history=True)
    n_batches = len(Registry(reg).batches())
    calls = []
    original = Registry.write_rows

    def third_chunk_fails(self, rows, **kw):
        calls.append(len(rows))
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third chunk is being written
        return original(self, rows, **kw)

    monkeypatch.setenv("AGRIGIS_IMPORT_CHUNK_ROWS", "7")
    monkeypatch.setattr(Registry, "write_rows", third_chunk_fails)
    with pytest.raises(KeyboardInterrupt):
        import_files(src, reg, counties=counties, lang="en")
    assert len(calls) == 3 and sum(calls[:2]) > 0
    after = Registry(reg).projects(include_history=True)
    pd.testing.assert_frame_equal(after, before)
    assert len(Registry(reg).batches()) == n_batches
    # a registry the failed import created is not left behind
    new = tmp_path / "new.gpkg"
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        import_files(src, new, counties=counties, lang="en")
    assert not new.exists() and not list(tmp_path.glob(".new.gpkg*"))


def test_which_files_stream(tmp_path, counties, monkeypatch):
    from layers.fields import load_mapping
    from layers.io import CHUNK_ROWS, chunk_rows
    from workflows.importing import open_file_stream

    table = _table(counties)
    monkeypatch.setenv("AGRIGIS_IMPORT_CHUNK_ROWS", "seven")
    assert chunk_rows() == CHUNK_ROWS  # not a number: the default, with a warning in the log
    monkeypatch.setenv("AGRIGIS_IMPORT_CHUNK_ROWS", "7")
    table.to_file(tmp_path / "p.geojson", driver="GeoJSON")
    table.to_file(tmp_path / "p.gpkg", driver="GPKG")
    assert open_stream(tmp_path / "p.geojson") is None  # GDAL parses GeoJSON whole
    assert open_stream(tmp_path / "p.gpkg", chunk=N) is None  # one chunk: read whole
    read = {"layer": None, "crs": None, "source_datum": None, "encoding": None, "lang": "en",
            "mapping": load_mapping()}
    assert open_file_stream(tmp_path / "p.gpkg", read) is not None
    # a declared area without a unit in its name: the unit is inferred from every row, read whole
    table.rename(columns={"declared_area_mu": "area"}).to_file(tmp_path / "a.gpkg", driver="GPKG")
    assert open_stream(tmp_path / "a.gpkg") is not None and open_file_stream(tmp_path / "a.gpkg", read) is None


KILLED_IMPORT = """
import sys
import layers
from workflows.importing import import_files
import_files(sys.argv[1], sys.argv[2], counties=layers.load("counties", workspace=False), lang="en")
"""


def test_a_first_import_killed_midway_leaves_no_registry(tmp_path, counties):
    """SIGKILL (no cleanup runs) while a streamed first import writes its chunks: the new
    registry was being built in a hidden file beside its path, so nothing at the path
    looks like a registry afterwards, and the next import creates it as usual."""
    import os
    import signal
    import subprocess
    import time

    src = tmp_path / "parcels.gpkg"
    many_parcels(3000, counties, seed=6, prefix="K").to_file(src, driver="GPKG")
    reg = tmp_path / "reg.gpkg"
    env = {**os.environ, "AGRIGIS_IMPORT_CHUNK_ROWS": "50"}  # 60 chunks: seconds of writing
    proc = subprocess.Popen([sys.executable, "-c", KILLED_IMPORT, str(src), str(reg)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".reg.gpkg.importing-*.gpkg-journal")):  # inside the transaction
            assert proc.poll() is None and time.monotonic() < deadline, "the import ended before it was killed"
            time.sleep(0.005)
        time.sleep(0.3)  # some chunks written
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert not reg.exists() and not list(tmp_path.glob("reg.gpkg*"))
    left = set(tmp_path.glob(".reg*"))  # the hidden file of the killed import (and its hot journal)
    assert left and all(p.name.startswith(".reg.gpkg.importing-") for p in left)
    rep = import_files(src, reg, counties=counties, lang="en")
    assert rep.n_accepted == 3000 and rep.registry == reg and len(Registry(reg).projects()) == 3000
    assert set(tmp_path.glob(".reg*")) == left  # the second import's own hidden file is gone
    # the killed import's files are kept while young (it might still be running) and removed
    # by the next first import into the folder once they are an hour old
    for p in left:
        os.utime(p, (time.time() - STALE_AFTER - 60,) * 2)
    import_files(src, tmp_path / "other.gpkg", counties=counties, lang="en")
    assert not list(tmp_path.glob(".reg*")) and (tmp_path / "other.gpkg").exists()
