"""Issue 14, registry side: what a file, a hand edit or a storage fault can do to the registry.

Export onto the registry or a foreign file, hand edits in QGIS (fingerprints, ``registry
verify``, areas computed from the geometry), full / read-only disks, damaged pages, foreign
schemas, and imports whose every row is rejected. Everything runs for real: real
GeoPackages edited with plain ``sqlite3`` as QGIS would, a real tmpfs, the real CLI.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely import box

from gis.area import area_mu
from gis.errors import DataFileError
from layers.registry import Registry, from_gpkg_blobs, to_gpkg_blobs

sys.path.insert(0, str(Path(__file__).parent / "data"))
import make_bad_inputs as mb  # noqa: E402

from conftest import cli, one_error_line  # noqa: E402 - the shared CLI runner of the hostile suites


def rows(codes=("A", "B", "C"), names=None, shift=0.0) -> gpd.GeoDataFrame:
    n = len(codes)
    geoms = [box(123.4 + i * 0.02 + shift, 45.94, 123.41 + i * 0.02 + shift, 45.95) for i in range(n)]
    return gpd.GeoDataFrame({
        "project_code": list(codes), "project_name": list(names or [f"项目{c}" for c in codes]),
        "category": "paddy_new", "county_code": "220821", "year": 2024, "status": "planned",
        "declared_area_mu": np.nan, "area_mu": area_mu(geoms, crs="EPSG:4490"), "investment_wan_yuan": [12.5] * n,
        "_row": np.arange(1, n + 1),
    }, geometry=geoms, crs="EPSG:4490")


def make_registry(path: Path, **kw) -> Registry:
    reg = Registry(path)
    reg.write(rows(**kw), source="a.shp", sha256="a" * 64)
    return reg


# -- item 1: export never destroys the registry or a foreign file -----------------------


def test_export_onto_the_registry_is_refused_also_through_links(tmp_path):
    reg = make_registry(tmp_path / "registry.gpkg")
    before = reg.path.read_bytes()
    (tmp_path / "link.gpkg").symlink_to(reg.path)
    os.link(reg.path, tmp_path / "hard.gpkg")
    for target in ("registry.gpkg", "link.gpkg", "hard.gpkg"):
        with pytest.raises(DataFileError, match=f"{target} is the registry itself .*choose another output"):
            reg.export(tmp_path / target, force=True)
    # the reported case: inside a workspace, `agrigis registry export registry.gpkg`
    line = one_error_line(cli("registry", "export", "registry.gpkg", "--lang", "en", cwd=tmp_path))
    assert line.startswith("error: registry.gpkg is the registry itself")
    assert reg.path.read_bytes() == before
    assert len(Registry(reg.path).projects()) == 3


def test_export_refuses_a_foreign_file_and_replaces_its_own(tmp_path):
    reg = make_registry(tmp_path / "r.gpkg")
    user = tmp_path / "parcels.gpkg"  # the user's own input GeoPackage
    rows(("X",)).drop(columns="_row").to_file(user, layer="parcels")
    before = user.read_bytes()
    with pytest.raises(DataFileError, match="parcels.gpkg already exists and was not written by agrigis "
                                            "registry export.*add --force"):
        reg.export(user)
    res = cli("registry", "export", user, "--registry", reg.path)
    assert "已存在,且不是 agrigis registry export 导出的文件" in one_error_line(res)
    assert user.read_bytes() == before
    # an earlier export is replaced (atomically) without --force, in every format
    for name in ("out.gpkg", "out.geojson", "out.csv", "out.xlsx"):
        reg.export(tmp_path / name)
        reg.write(rows(("D",), shift=0.1), source="b", sha256="b" * 64)
        reg.export(tmp_path / name)
    assert sorted(gpd.read_file(tmp_path / "out.gpkg")["project_code"]) == ["A", "B", "C", "D"]
    assert len(gpd.read_file(tmp_path / "out.geojson")) == 4
    # --force replaces the user's file; a Shapefile's parts land together
    assert cli("registry", "export", user, "--force", "--registry", reg.path).exit_code == 0
    assert pyogrio.list_layers(user)[:, 0].tolist() == ["projects"]
    out = reg.export(tmp_path / "shp" / "p.shp")
    assert sorted(p.name for p in out.parent.iterdir()) == ["p.cpg", "p.dbf", "p.prj", "p.shp", "p.shx"]
    assert len(gpd.read_file(out)) == 4
    with pytest.raises(DataFileError, match="p.shp already exists"):
        reg.export(out)  # a Shapefile carries no mark: replacing it needs --force


def test_export_tables_never_hold_formulas_or_fail_on_control_characters(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(rows(("=1+1", "B\x0b"), names=["=HYPERLINK(\"http://x\",\"y\")", "名\x0b称"]),
              source="a", sha256="a" * 64)
    from openpyxl import load_workbook

    ws = load_workbook(reg.export(tmp_path / "out.xlsx", lang="en"))["projects"]
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = [c.value for c in cells]
    assert "=1+1" in values and "B" in values and "名称" in values
    assert any(str(v).startswith("agrigis registry export: r.gpkg") for v in values)
    csv = pd.read_csv(reg.export(tmp_path / "out.csv", lang="en"), comment="#")
    assert csv["Project code"].tolist() == ["'=1+1", "B"]


# -- item 3: hand edits are found; the area always comes from the geometry ---------------


def qgis_edit(path: Path, sql: str, params=()) -> None:
    """Edit the registry as QGIS does: plain SQL on the GeoPackage, no agrigis."""
    con = sqlite3.connect(path)
    con.create_function("ST_IsEmpty", 1, lambda b: 0)
    for name in ("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
        con.create_function(name, 1, lambda b: 0.0)
    with con:
        con.execute(sql, params)
    con.close()


def test_verify_finds_edited_geometry_and_attributes(tmp_path):
    reg = make_registry(tmp_path / "r.gpkg")
    assert reg.verify().empty
    big = box(123.4, 45.94, 123.46, 45.95)  # about 7,760 亩 instead of about 1,290
    blob = to_gpkg_blobs(np.array([from_gpkg_blobs(to_gpkg_blobs(np.array([big])))[0]], dtype=object))[0]
    qgis_edit(reg.path, "UPDATE projects SET geom = ? WHERE project_code = 'A'", (blob,))
    qgis_edit(reg.path, "UPDATE projects SET project_name = '改过的名字' WHERE project_code = 'B'")
    v = Registry(reg.path).verify(lang="en")
    assert sorted(zip(v["project_code"], v["problem"], strict=True)) == [
        ("A", "area_stale"), ("A", "geometry_edited"), ("B", "attributes_edited")]
    real = float(area_mu(big, crs="EPSG:4490"))
    stale = v.set_index("problem").loc["area_stale", "detail"]
    assert stale == f"area_mu does not match the geometry: stored 1,292.79 mu, computed {real:,.2f} mu"
    p = reg.projects().set_index("project_code")
    assert p.loc["A", "area_mu"] == pytest.approx(real, rel=1e-9) and real > 7000
    assert p.loc["C", "area_mu"] == pytest.approx(float(area_mu(box(123.44, 45.94, 123.45, 45.95),
                                                                 crs="EPSG:4490")), rel=1e-9)
    # through the CLI: verify exits 1 and lists them; check reports them too
    res = cli("registry", "verify", "--registry", reg.path)
    assert res.exit_code == 1 and "图形被改动" in res.output and "属性被改动" in res.output
    assert "发现 3 处问题" in res.output
    from workflows.check import run_check

    chk = run_check(reg.path, tmp_path / "chk", lang="en")
    assert chk.count("registry_edit") == 3
    assert "registry edited by hand" in pd.read_excel(tmp_path / "chk" / "check.xlsx")["problem"].tolist()


def test_verify_finds_rows_added_or_deleted_by_hand(tmp_path):
    reg = make_registry(tmp_path / "r.gpkg")
    blob = to_gpkg_blobs(np.array([box(123.6, 45.94, 123.61, 45.95)]))[0]
    qgis_edit(reg.path, "INSERT INTO projects (geom, project_code, category, county_code, status, area_mu, "
                        "batch_id, valid_from) VALUES (?, 'H', 'paddy_new', '220821', 'planned', 5, 'x', 'y')",
              (blob,))
    qgis_edit(reg.path, "DELETE FROM projects WHERE project_code = 'C'")
    v = reg.verify(lang="en")
    assert sorted(v["problem"]) == ["area_stale", "no_fingerprint", "rows_missing"]
    assert v.set_index("problem").loc["rows_missing", "detail"].endswith("wrote 3 versions, 2 remain (rows were deleted)")


def test_updates_undo_and_clean_registries_verify_clean(tmp_path):
    reg = make_registry(tmp_path / "r.gpkg")
    changed = rows(("A", "B", "D"))
    changed.loc[0, "status"] = "completed"
    upd = reg.write(changed, source="b", sha256="b" * 64, update=True)
    assert reg.verify().empty
    reg.undo(upd.batch_id)
    assert reg.verify().empty
    res = cli("registry", "verify", "--registry", reg.path, "--lang", "en")
    assert res.exit_code == 0 and "all 3 versions match their fingerprints" in res.output


def test_an_older_registry_is_migrated_on_open(tmp_path):
    reg = make_registry(tmp_path / "r.gpkg")
    qgis_edit(reg.path, "ALTER TABLE projects DROP COLUMN fingerprint")  # as an earlier agrigis wrote it
    qgis_edit(reg.path, "UPDATE projects SET area_mu = 99 WHERE project_code = 'C'")  # stale before the upgrade
    reg = Registry(reg.path)
    v = reg.verify(lang="en")
    assert sorted(zip(v["project_code"], v["problem"], strict=True)) == [("C", "area_stale"), ("C", "no_fingerprint")]
    assert reg.projects().set_index("project_code").loc["C", "area_mu"] > 1000


# -- item 4: storage errors are said in plain words ------------------------------------


def test_full_disk_is_reported_and_the_registry_survives(small_disk):
    d = small_disk("3m")
    reg = make_registry(d.path / "r.gpkg")
    before = reg.projects()
    many = rows(tuple(f"N{i}" for i in range(3000)), names=["很长的项目名称" * 20] * 3000)
    d.fill()
    with pytest.raises(DataFileError, match=r"r\.gpkg: the disk is full; the registry was not changed"):
        reg.write(many, source="b", sha256="b" * 64)
    d.free()
    again = Registry(reg.path)
    pd.testing.assert_frame_equal(again.projects(), before)
    assert len(again.batches()) == 1 and again.verify().empty


def test_read_only_registry_is_reported_and_still_readable(small_disk, tmp_path, counties):
    d = small_disk("4m")
    reg = make_registry(d.path / "r.gpkg")
    old = make_registry(d.path / "old.gpkg")
    qgis_edit(old.path, "ALTER TABLE projects DROP COLUMN fingerprint")  # an earlier agrigis wrote it
    d.read_only(True)
    try:
        # an older registry on a read-only disk is read as it is (it cannot be migrated)
        legacy = Registry(old.path)
        assert len(legacy.projects()) == 3 and set(legacy.verify()["problem"]) == {"no_fingerprint"}
        with pytest.raises(DataFileError, match=r"r\.gpkg: the registry is read-only .*copy it to a folder"):
            reg.write(rows(("Z",), shift=0.3), source="b", sha256="b" * 64)
        assert len(Registry(reg.path).projects()) == 3
        src = mb.build("gbk_no_cpg", tmp_path)
        line = one_error_line(cli("import", src, "--registry", reg.path, "--lang", "en"))
        assert line.startswith(f"error: {reg.path}: the registry is read-only")
    finally:
        d.read_only(False)


@pytest.fixture(scope="module")
def counties():
    import layers

    return layers.load("counties", workspace=False)


def test_damaged_pages_are_reported(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(rows(tuple(f"P{i}" for i in range(400))), source="a", sha256="a" * 64)
    data = bytearray(reg.path.read_bytes())
    page = 4096
    n = len(data) // page
    for k in range(n // 3, n - 1):  # the middle pages: tables and indexes, not the header
        data[k * page + 8:k * page + 200] = os.urandom(192)
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match=r"bad\.gpkg: the registry file is damaged .*restore it from a backup"):
        Registry(bad).projects(include_history=True)
    line = one_error_line(cli("registry", "history", "P1", "--registry", bad, "--lang", "en"))
    assert "the registry file is damaged" in line


def test_a_foreign_schema_is_refused_on_open(tmp_path):
    path = tmp_path / "foreign.gpkg"
    g = rows().drop(columns=["_row", "valid_from"], errors="ignore")
    pyogrio.write_dataframe(g, path, layer="projects")
    pyogrio.write_dataframe(pd.DataFrame({"batch_id": ["x"]}), path, layer="batches")
    with pytest.raises(DataFileError, match=r"table projects of the registry lacks the columns batch_id, "
                                            r"valid_from, valid_to, closed_by, source_row"):
        Registry(path)
    line = one_error_line(cli("registry", "list", "--registry", path))
    assert "项目库的 projects 表缺少列 batch_id" in line


# -- an import whose every row is rejected records no batch ---------------------------


def test_all_rows_rejected_records_no_batch(tmp_path):
    reg = make_registry(tmp_path / "r.gpkg")
    res = cli("import", mb.build("shanghai", tmp_path), "--registry", reg.path, "--lang", "en")
    assert "accepted 0" in res.output and "batch " not in res.output
    assert len(Registry(reg.path).batches()) == 1
    # the same when the registry refuses every row (codes known with other data)
    same = rows(("A", "B"))
    same["status"] = "completed"
    out = reg.write(same, source="c", sha256="c" * 64)
    assert out.batch_id is None and len(out.rejected) == 2 and len(reg.batches()) == 1


@pytest.mark.parametrize("sql", ["UPDATE projects SET year='xx' WHERE fid=2",
                                 "UPDATE projects SET year=2024.5 WHERE fid=2",
                                 "UPDATE projects SET geom=X'00' WHERE fid=2",
                                 "UPDATE projects SET geom=X'4750000100000000' WHERE fid=2"])
def test_values_no_agrigis_could_write_do_not_crash_the_reports(tmp_path, sql):
    # a registry edited outside agrigis (sqlite3, a script): the reports still run, verify names the row
    path = tmp_path / "r.gpkg"
    make_registry(path)
    qgis_edit(path, sql)
    for args in (["check", "--registry", path, "-o", tmp_path / "c", "--lang", "en"],
                 ["progress", "--registry", path, "-o", tmp_path / "p", "--lang", "en"],
                 ["registry", "export", tmp_path / "x.csv", "--registry", path, "--lang", "en"]):
        res = cli(*args)
        assert "Traceback" not in res.output and not isinstance(res.exception, (ValueError, TypeError, IndexError)), (
            args, res.output, res.exception)
        assert res.exit_code == 0, (args, res.output)
    res = cli("registry", "verify", "--registry", path, "--lang", "en")
    assert res.exit_code == 1 and "Traceback" not in res.output
