"""The registry GeoPackage: schema GDAL sees, QGIS style, history, undo, busy writers."""

from __future__ import annotations

import sqlite3
import threading

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely import box

from gis.errors import DataFileError, RegistryBusyError, RegistryError
from layers.registry import COLUMNS, Registry, from_gpkg_blobs, to_gpkg_blobs


def rows(codes=("A", "B"), status="planned", shift=0.0):
    n = len(codes)
    geoms = [box(123.4 + i * 0.02 + shift, 45.94, 123.41 + i * 0.02 + shift, 45.95) for i in range(n)]
    return gpd.GeoDataFrame({
        "project_code": list(codes), "project_name": [f"项目{c}" for c in codes], "category": "paddy_new",
        "county_code": "220821", "year": 2024, "status": status, "declared_area_mu": np.nan,
        "area_mu": 1300.0, "investment_wan_yuan": [12.5] * n, "_row": np.arange(1, n + 1),
    }, geometry=geoms, crs="EPSG:4490")


def snapshot(path):
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT * FROM projects ORDER BY fid").fetchall()
    finally:
        con.close()


def test_gdal_sees_the_expected_schema_and_styles(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(rows(), source="a.shp", sha256="a" * 64, synthetic=True)
    layers = dict((str(n), g) for n, g in pyogrio.list_layers(tmp_path / "r.gpkg"))
    assert layers == {"projects": "MultiPolygon", "projects_current": "MultiPolygon", "batches": None,
                      "layer_styles": None}
    info = pyogrio.read_info(tmp_path / "r.gpkg", layer="projects")
    assert info["crs"] == "EPSG:4490" and info["geometry_type"] == "MultiPolygon" and info["features"] == 2
    assert set(COLUMNS) <= set(info["fields"])
    assert info["capabilities"]["fast_spatial_filter"]  # R-tree is there and valid
    gdf = pyogrio.read_dataframe(tmp_path / "r.gpkg", layer="projects", bbox=(123.395, 45.93, 123.412, 45.96))
    assert gdf["project_code"].tolist() == ["A"]
    b = pyogrio.read_dataframe(tmp_path / "r.gpkg", layer="batches")
    assert b["synthetic"].tolist() == [True] and b["source_sha256"].tolist() == ["a" * 64]
    st = pyogrio.read_dataframe(tmp_path / "r.gpkg", layer="layer_styles")
    assert st["f_table_name"].tolist() == ["projects", "projects_current"] and st["useAsDefault"].all()
    qml = st["styleQML"].iloc[0]
    assert 'type="categorizedSymbol" attr="category"' in qml and 'value="high_standard_farmland" label="高标准农田"' in qml
    con = sqlite3.connect(tmp_path / "r.gpkg")
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM rtree_projects_geom").fetchone()[0] == 2


def test_blobs_round_trip():
    g = np.array([box(1, 2, 3, 4), shapely.MultiPolygon([box(0, 0, 1, 1)])], dtype=object)
    back = from_gpkg_blobs(to_gpkg_blobs(g))
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(g, back, strict=True))


def test_projects_frame(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(rows(), source="a.shp", sha256="a" * 64)
    p = reg.projects()
    assert list(p.columns) == [*COLUMNS, "geometry"] and p.crs.to_epsg() == 4490
    assert p["year"].tolist() == [2024, 2024] and p["investment_wan_yuan"].tolist() == [12.5, 12.5]
    assert p["valid_to"].isna().all() and p.attrs["synthetic"] is False
    assert set(p.geometry.geom_type) == {"MultiPolygon"}


def test_unchanged_update_history_and_exact_undo(tmp_path):
    path = tmp_path / "r.gpkg"
    reg = Registry(path)
    first = reg.write(rows(), source="a.shp", sha256="a" * 64)
    assert (first.n_new, first.n_updated, first.n_unchanged) == (2, 0, 0)
    same = reg.write(rows(), source="a.shp", sha256="a" * 64)
    assert (same.n_new, same.n_unchanged) == (0, 2)
    before = snapshot(path)

    # changed status + geometry of B, new C: without --update B is refused
    changed = rows(("A", "B", "C"))
    changed.loc[1, "status"] = "completed"
    changed.loc[1, "geometry"] = box(123.42, 45.94, 123.435, 45.95)
    res = reg.write(changed, source="b.shp", sha256="b" * 64, lang="en")
    assert (res.n_new, res.n_updated, res.n_unchanged) == (1, 0, 1)
    assert res.rejected["_row"].tolist() == [2]
    assert "project code 'B' is already in the registry" in res.rejected["reason"].iloc[0]
    assert "different status, geometry" in res.rejected["reason"].iloc[0]
    reg.undo(res.batch_id)
    assert snapshot(path) == before
    # the same refusal in Chinese (the default): the changed fields by their Chinese names
    res = reg.write(changed, source="b.shp", sha256="b" * 64)
    assert res.rejected["reason"].tolist() == [
        f"项目编号 'B' 已在项目库中(批次 {first.batch_id}),但状态、地块图形不同;如需登记为新版本,"
        "请加 --update 重新导入(旧版本作为历史记录保留)"]
    reg.undo(res.batch_id)
    assert snapshot(path) == before

    upd = reg.write(changed, source="b.shp", sha256="b" * 64, update=True)
    assert (upd.n_new, upd.n_updated, upd.n_unchanged) == (1, 1, 1)
    cur = reg.projects().set_index("project_code")
    assert cur.loc["B", "status"] == "completed" and len(cur) == 3
    h = reg.history("B")
    assert h["status"].tolist() == ["planned", "completed"]
    assert h["valid_to"].iloc[0] == h["valid_from"].iloc[1] and pd.isna(h["valid_to"].iloc[1])
    assert len(reg.projects(include_history=True)) == 4
    view = pyogrio.read_dataframe(path, layer="projects_current")  # what QGIS users open
    assert sorted(view["project_code"]) == ["A", "B", "C"] and "completed" in set(view["status"])
    as_of = reg.projects(as_of=h["valid_from"].iloc[0])
    assert sorted(as_of["project_code"]) == ["A", "B"] and set(as_of["status"]) == {"planned"}

    deleted, restored = reg.undo(upd.batch_id)
    assert (deleted, restored) == (2, 1)
    assert snapshot(path) == before
    b = reg.batches().set_index("batch_id")
    assert b.loc[upd.batch_id, "status"] == "undone" and b.loc[first.batch_id, "status"] == "active"
    with pytest.raises(RegistryError, match="was already undone"):
        reg.undo(upd.batch_id)
    with pytest.raises(RegistryError, match="no batch 'nope'"):
        reg.undo("nope")


def test_undo_refuses_when_a_later_batch_replaced_rows(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    first = reg.write(rows(), source="a", sha256="a" * 64)
    second = reg.write(rows(status="completed"), source="b", sha256="b" * 64, update=True)
    with pytest.raises(RegistryError, match=f"later batch\\(es\\) {second.batch_id} replaced .* undo {second.batch_id} first"):
        reg.undo(first.batch_id)


def test_failed_write_changes_nothing(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(rows(), source="a", sha256="a" * 64)
    before = snapshot(tmp_path / "r.gpkg")
    with pytest.raises(RuntimeError, match="boom"):
        with reg.transaction() as tx:
            reg.write(rows(("X", "Y")), source="b", sha256="b" * 64, tx=tx)
            raise RuntimeError("boom")
    assert snapshot(tmp_path / "r.gpkg") == before and len(reg.batches()) == 1


def test_busy_writer_fails_cleanly(tmp_path):
    Registry(tmp_path / "r.gpkg")
    slow = Registry(tmp_path / "r.gpkg", timeout=0.2)
    holder = sqlite3.connect(tmp_path / "r.gpkg", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(RegistryBusyError, match="registry busy: another process has been writing") as info:
            slow.write(rows(), source="a", sha256="a" * 64)
        assert info.value.text("zh") == (f"项目库忙:另一个进程写入 {tmp_path / 'r.gpkg'} 已超过 0.2 秒;"
                                         "未做任何修改,请等其完成后再试")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(slow.projects()) == 0


def test_waiting_writer_lands_after_the_first(tmp_path):
    Registry(tmp_path / "r.gpkg")
    results, errors = [], []

    def go(codes):
        try:
            results.append(Registry(tmp_path / "r.gpkg", timeout=30).write(rows(codes), source="x", sha256="0" * 64))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    ts = [threading.Thread(target=go, args=(c,)) for c in (("A", "B"), ("C", "D"))]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors
    assert sorted(Registry(tmp_path / "r.gpkg").projects()["project_code"]) == ["A", "B", "C", "D"]


def test_not_a_registry(tmp_path):
    (tmp_path / "x.gpkg").write_text("hello")
    with pytest.raises(DataFileError, match="not a registry GeoPackage"):
        Registry(tmp_path / "x.gpkg")
    rows().to_file(tmp_path / "plain.gpkg")
    with pytest.raises(DataFileError, match="a GeoPackage but not an agrigis registry"):
        Registry(tmp_path / "plain.gpkg")


def test_export_formats(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(rows(), source="a", sha256="a" * 64)
    g = gpd.read_file(reg.export(tmp_path / "out.gpkg"))
    assert g["project_code"].tolist() == ["A", "B"] and g.crs.to_epsg() == 4490
    x = pd.read_excel(reg.export(tmp_path / "out.xlsx", lang="en"))
    assert {"Project code", "Area (mu)", "geometry_wkt"} <= set(x.columns)
    with pytest.raises(DataFileError, match="unknown export format '.dwg'"):
        reg.export(tmp_path / "out.dwg")


def test_qgis_style_uses_the_field_map_colours():
    """One colour per category, the same in QGIS and on the field maps."""
    from gis.labels import CATEGORY_COLORS
    from layers.qgis_style import _rgba, projects_qml
    from maps.style import category_color

    qml = projects_qml()
    for code, colour in CATEGORY_COLORS.items():
        assert category_color(code) == colour
        assert f'value="{_rgba(colour)}"' in qml, code


def test_a_batch_written_in_chunks_equals_one_written_at_once(tmp_path, monkeypatch):
    """Chunked inserts (as for a million rows) store the same rows, R-tree and fingerprints."""
    import layers.registry.geopackage as gp

    codes = [f"C{i:02d}" for i in range(10)]
    whole = Registry(tmp_path / "whole.gpkg")
    whole.write(rows(codes), source="a.shp", sha256="a" * 64, batch_id="b1")
    monkeypatch.setattr(gp, "WRITE_CHUNK", 3)  # 4 chunks, the last one short
    chunked = Registry(tmp_path / "chunked.gpkg")
    chunked.write(rows(codes), source="a.shp", sha256="a" * 64, batch_id="b1")
    a, b = snapshot(tmp_path / "whole.gpkg"), snapshot(tmp_path / "chunked.gpkg")
    assert len(b) == 10 and [r[0] for r in b] == list(range(1, 11))
    # every column but valid_from (the clock) and the fingerprint that includes it is the same,
    # geometry blobs included; verify() below checks each fingerprint against its row
    assert [r[:12] + r[13:16] for r in a] == [r[:12] + r[13:16] for r in b]
    assert chunked.verify().empty
    con = sqlite3.connect(tmp_path / "chunked.gpkg")
    assert con.execute("SELECT count(*) FROM rtree_projects_geom").fetchone()[0] == 10
    con.close()
    got = chunked.projects()
    assert got["project_code"].tolist() == codes and got["area_mu"].round(3).nunique() == 1


def test_an_old_registry_without_a_code_index_gets_one_when_opened(tmp_path):
    """A registry without any index on projects(project_code) is indexed on open (an
    import then searches its codes instead of scanning every version per chunk)."""
    path = tmp_path / "old.gpkg"
    Registry(path).write(rows(), source="a.shp", sha256="a" * 64)
    con = sqlite3.connect(path)
    con.execute("DROP INDEX projects_current_code")
    con.commit()
    con.close()
    reg = Registry(path)
    con = sqlite3.connect(path)
    indexes = {r[1] for r in con.execute("PRAGMA index_list(projects)")}
    con.execute("CREATE TEMP TABLE _codes (code TEXT PRIMARY KEY)")
    plan = " ".join(r[3] for r in con.execute(
        "EXPLAIN QUERY PLAN SELECT fid FROM _codes CROSS JOIN projects ON project_code = code WHERE valid_to IS NULL"))
    con.close()
    assert indexes == {"projects_code", "projects_batch", "projects_closed_by"}
    assert "SEARCH projects USING INDEX projects_code" in plan
    with reg.transaction() as tx:  # the lookup an import makes, through the index
        old, _ = reg.backend.current_versions(tx, ["B", "Z"])
    assert old["project_code"].tolist() == ["B"] and reg.current_codes() == {"A", "B"}
    assert len(Registry(path).projects()) == 2  # opened again: nothing more to do
    fresh = Registry(tmp_path / "new.gpkg")  # a new registry's unique index of the current codes serves
    con = sqlite3.connect(fresh.path)
    assert {r[1] for r in con.execute("PRAGMA index_list(projects)")} == {
        "projects_current_code", "projects_batch", "projects_closed_by"}
    con.close()


def test_an_empty_rtree_is_bulk_loaded_as_sqlite_would_store_it(tmp_path, monkeypatch):
    """2,700 boxes (three levels of 51-cell nodes) packed into the empty R-tree: the same
    float32 entries as SQLite's own inserts, rtreecheck and integrity_check pass, window
    queries agree, and SQLite's later inserts and deletes keep the tree valid."""
    import layers.registry.rtree as rt
    from layers.registry.rtree import RTREE

    monkeypatch.setattr(rt, "_STEP", 120)  # rows and nodes written two nodes' worth at a time

    n = 2700
    rng = np.random.default_rng(4)
    x, y = rng.uniform(121.5, 124.5, n), rng.uniform(44.3, 46.3, n)
    x[:3] = [122.123456789, 123.000000001, 121.99999999]
    data = rows([f"R{i:04d}" for i in range(n)])
    data = data.set_geometry(list(shapely.box(x, y, x + rng.uniform(1e-7, 0.01, n), y + 0.001)), crs="EPSG:4490")
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(data, source="a.shp", sha256="a" * 64)
    con = sqlite3.connect(tmp_path / "r.gpkg")
    ref = sqlite3.connect(":memory:")  # SQLite's own R-tree, one insert at a time
    ref.execute("CREATE VIRTUAL TABLE t USING rtree(id, minx, maxx, miny, maxy)")
    b = shapely.bounds(from_gpkg_blobs([r[0] for r in con.execute("SELECT geom FROM projects ORDER BY fid")]))
    ref.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                    zip(range(1, n + 1), b[:, 0].tolist(), b[:, 2].tolist(), b[:, 1].tolist(), b[:, 3].tolist(), strict=True))
    assert con.execute(f"SELECT * FROM {RTREE} ORDER BY id").fetchall() == ref.execute(
        "SELECT * FROM t ORDER BY id").fetchall()
    depth = int.from_bytes(con.execute(f"SELECT data FROM {RTREE}_node WHERE nodeno = 1").fetchone()[0][:2], "big")
    assert depth == 2 and con.execute(f"SELECT rtreecheck('{RTREE}')").fetchone()[0] == "ok"
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    window = (122.5, 123.0, 45.0, 45.5)
    q = "SELECT id FROM {} WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ? ORDER BY id"
    hits = con.execute(q.format(RTREE), window).fetchall()
    assert len(hits) > 50 and hits == ref.execute(q.format("t"), window).fetchall()
    con.close()
    reg.write(rows(["NEW1", "NEW2"], shift=0.5), source="b.shp", sha256="b" * 64)  # SQLite inserts into it
    reg.undo(reg.batches()["batch_id"].iloc[0])  # and deletes 2,700 entries
    con = sqlite3.connect(tmp_path / "r.gpkg")
    assert con.execute(f"SELECT rtreecheck('{RTREE}')").fetchone()[0] == "ok"
    assert con.execute(f"SELECT id FROM {RTREE} ORDER BY id").fetchall() == [(n + 1,), (n + 2,)]
    con.close()
    assert reg.verify().empty


def test_canonical_values_in_one_pass_equal_value_by_value():
    """Fingerprints see the values as before: the one-pass canonical texts of the usual
    columns equal the value-by-value ones (a float's repr, -0.0 kept, NaN and None missing)."""
    from layers.registry.model import _canon, _canon_each

    cols = {
        "year": [2024, None, 2023.0, float("nan"), 2**70, -0.0, 0.0, float("inf"), 2024, 2024],
        "area_mu": [1.1, None, 3, 1.1],
        "declared_area_mu": ["12", "x", None, True, 1.5],
        "project_name": ["a", None, "b"],
        "category": ["x", 1.5, None, float("nan"), pd.NA],
        "investment_wan_yuan": [None] * 4,
    }
    for col, values in cols.items():
        assert _canon(col, values) == _canon_each(col, list(values)), col
    assert _canon("year", [2024, -0.0, 0.0, None, 2024]) == ["2024.0", "-0.0", "0.0", "\x00", "2024.0"]
