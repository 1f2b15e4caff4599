"""``agrigis import`` / ``agrigis registry …`` end to end, through the CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from layers.registry import Registry
from workflows.cli import main
from workflows.importing import import_files

sys.path.insert(0, str(Path(__file__).parent / "data"))
import make_bad_inputs as mb  # noqa: E402


@pytest.fixture(scope="module")
def counties():
    import layers

    return layers.load("counties", workspace=False)


def cli(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in res.output
    return res


def test_import_update_history_undo_export_via_cli(tmp_path):
    reg = tmp_path / "reg.gpkg"
    src = mb.build("gbk_no_cpg", tmp_path)
    res = cli("import", src, "--registry", reg, "--lang", "en")
    assert res.exit_code == 0, res.output
    assert "read 3 · accepted 3 (new 3, updated 0, unchanged 0) · repaired 0 · rejected 0" in res.output
    assert "text encoding: GB18030 (detected, no .cpg)" in res.output
    first = Registry(reg).batches()["batch_id"].iloc[0]

    # the county office changes the status of D1 and sends the file again
    df = mb.parcels()
    df.loc[1, "状态"] = "验收"
    src2 = tmp_path / "v2" / "parcels.shp"
    src2.parent.mkdir()
    df.to_file(src2, encoding="GBK")
    res = cli("import", src2, "--registry", reg, "--lang", "en")
    assert "accepted 2 (new 0, updated 0, unchanged 2) · repaired 0 · rejected 1" in res.output
    assert "with a different status; to record this as a new version run the import again with --update" in res.output
    rej = pd.read_csv(src2.with_name("parcels.shp.rejects.csv"))
    assert rej["row"].tolist() == [2] and rej["项目编号"].tolist() == ["D1"]

    res = cli("import", src2, "--registry", reg, "--update", "--lang", "en")
    assert "accepted 3 (new 0, updated 1, unchanged 2) · repaired 0 · rejected 0" in res.output
    assert not src2.with_name("parcels.shp.rejects.csv").exists()  # stale rejects removed
    res = cli("registry", "history", "D1", "--registry", reg, "--lang", "en")
    assert res.exit_code == 0 and "completed" in res.output and "accepted" in res.output
    batches = Registry(reg).batches()
    assert batches["n_updated"].tolist() == [0, 0, 1]
    last = batches["batch_id"].iloc[-1]

    res = cli("registry", "list", "--registry", reg)
    assert res.exit_code == 0 and first in res.output and "来源文件" in res.output
    res = cli("registry", "show", last, "--registry", reg)
    assert f"batch_id: {last}" in res.output and "n_updated: 1" in res.output
    res = cli("registry", "show", "D1", "--registry", reg, "--lang", "en")
    assert "Status: accepted" in res.output and "County code: 220882" in res.output
    res = cli("registry", "undo", last, "--registry", reg, "--lang", "en")
    assert res.exit_code == 0 and "versions deleted 1, versions restored 1" in res.output
    assert Registry(reg).projects().set_index("project_code").loc["D1", "status"] == "completed"
    res = cli("registry", "export", tmp_path / "all.gpkg", "--history", "--registry", reg)
    assert res.exit_code == 0
    assert len(pyogrio.read_dataframe(tmp_path / "all.gpkg")) == 3
    res = cli("registry", "undo", "20990101-000000-abcd", "--registry", reg, "--lang", "en")
    assert res.exit_code == 1 and res.output == (f"error: no batch '20990101-000000-abcd' in {reg}; "
                                                 "list them with: agrigis registry list\n")
    res = cli("registry", "undo", "20990101-000000-abcd", "--registry", reg)  # Chinese by default
    assert res.exit_code == 1 and res.output == (f"错误:{reg} 中没有批次 '20990101-000000-abcd';"
                                                 "可用 agrigis registry list 列出所有批次\n")
    res = cli("registry", "list", "--registry", tmp_path / "missing.gpkg")
    assert res.exit_code == 1 and f"错误:项目库 {tmp_path / 'missing.gpkg'} 不存在;请先导入地块" in res.output


def test_options_and_mapping_yaml(tmp_path, counties):
    df = mb.parcels().rename(columns={"项目编号": "XMID", "项目类型": "LX"}).drop(columns=["建设年度", "状态"])
    df["LX"] = ["高标农田X", "新建水田", "造林"]
    src = tmp_path / "p.gpkg"
    df.to_file(src)
    m = tmp_path / "m.yml"
    m.write_text("columns:\n  project_code: [XMID]\n  category: [LX]\nvalues:\n  category:\n"
                 "    high_standard_farmland: [高标农田X]\n", encoding="utf-8")
    rep = import_files(src, tmp_path / "r.gpkg", mapping=m, year=2024, status="在建", counties=counties)
    assert (rep.n_read, rep.n_accepted, rep.n_rejected) == (3, 3, 0)
    p = Registry(tmp_path / "r.gpkg").projects().set_index("project_code")
    assert p["category"].to_dict() == {"Z1": "high_standard_farmland", "D1": "paddy_new", "T1": "afforestation"}
    assert set(p["status"]) == {"under_construction"} and set(p["year"]) == {2024}
    # --category overrides the file's column for every row
    rep = import_files(src, tmp_path / "r2.gpkg", mapping=m, year=2024, status="planned", category="造林",
                       counties=counties)
    assert set(Registry(tmp_path / "r2.gpkg").projects()["category"]) == {"afforestation"}


def test_areas_and_counties_are_computed(tmp_path, counties):
    rep = import_files(mb.build("zipped_shapefile", tmp_path), tmp_path / "r.gpkg", counties=counties)
    p = Registry(tmp_path / "r.gpkg").projects().set_index("project_code")
    assert p["county_code"].to_dict() == mb.COUNTY
    from gis.area import area_mu

    assert p["area_mu"].round(6).tolist() == pytest.approx(area_mu(mb.parcels().geometry).round(6).tolist())
    # 0.01° × 0.01° at 45.94°N: pyproj Geod(ellps="GRS80") gives 861859.16 m² = 1292.789 亩
    assert p.loc["Z1", "area_mu"] == pytest.approx(1292.789, abs=0.001)
    assert p.loc["Z1", "declared_area_mu"] == 1300.0
    b = Registry(tmp_path / "r.gpkg").batches().iloc[0]
    assert b["source_path"].endswith("zipped_shapefile.zip") and len(b["source_sha256"]) == 64
    assert rep.batch_id == b["batch_id"]


def test_several_files_one_transaction(tmp_path, counties):
    good = mb.build("gbk_no_cpg", tmp_path)
    broken = mb.build("truncated_shp", tmp_path)
    from gis.errors import DataFileError

    with pytest.raises(DataFileError, match="truncated"):
        import_files([good, broken], tmp_path / "r.gpkg", counties=counties)
    assert len(Registry(tmp_path / "r.gpkg").batches()) == 0
    rep = import_files([good, mb.build("kmz_good", tmp_path)], tmp_path / "r.gpkg", counties=counties)
    # the KMZ's rows are all refused by the registry: no empty batch is recorded for it
    assert len(rep.batch_ids) == 1 and rep.n_accepted == 3 and rep.n_unchanged == 0
    # the KMZ's Z1/D1 differ from the shapefile's (category): refused, one reason each
    assert rep.files[1].n_rejected == 2


def test_synthetic_flag(tmp_path, counties):
    import_files(mb.build("gbk_no_cpg", tmp_path), tmp_path / "r.gpkg", synthetic=True, counties=counties)
    reg = Registry(tmp_path / "r.gpkg")
    assert reg.batches()["synthetic"].tolist() == [True]
    assert reg.projects().attrs["synthetic"] is True
    res = cli("registry", "show", reg.batches()["batch_id"].iloc[0], "--registry", reg.path)
    assert "合成数据批次" in res.output


def test_rejects_that_cannot_be_written_roll_back(tmp_path, counties):
    from gis.errors import DataFileError

    src = mb.build("unknown_status", tmp_path)  # has one reject to write
    (src.parent / (src.name + ".rejects.csv")).mkdir()  # something in the way that cannot be replaced
    with pytest.raises(DataFileError, match="cannot replace the old rejects file .*nothing was imported"):
        import_files(src, tmp_path / "r.gpkg", counties=counties)
    assert len(Registry(tmp_path / "r.gpkg").batches()) == 0


def test_unknown_encoding_option(tmp_path, counties):
    from gis.errors import InputError

    with pytest.raises(InputError, match="--encoding 'klingon' is not an encoding"):
        import_files(mb.build("csv_points", tmp_path), tmp_path / "r.gpkg", encoding="klingon", counties=counties)


def test_mapping_names_the_code_column_of_a_vertex_csv(tmp_path, counties):
    """One row per corner, code column known only through --mapping: one parcel, not 4 points."""
    x0, y0, d = 123.50, 45.30, 0.01  # in Da'an (大安市)
    rows = [(x0, y0), (x0 + d, y0), (x0 + d, y0 + d), (x0, y0 + d)]
    src = tmp_path / "corners.csv"
    src.write_text("XMID,项目名称,项目类型,lon,lat\n"
                   + "".join(f"V1,测试,新建水田,{x},{y}\n" for x, y in rows), encoding="utf-8")
    m = tmp_path / "m.yml"
    m.write_text("columns:\n  project_code: [XMID]\n", encoding="utf-8")
    rep = import_files(src, tmp_path / "r.gpkg", mapping=m, year=2024, status="完工", counties=counties)
    assert (rep.n_read, rep.n_accepted, rep.n_rejected) == (1, 1, 0)  # 4 corners → 1 parcel
    p = Registry(tmp_path / "r.gpkg").projects()
    assert p["project_code"].tolist() == ["V1"] and p["county_code"].tolist() == ["220882"]
    from gis.area import area_mu
    from shapely import box

    assert p["area_mu"].iloc[0] == pytest.approx(float(area_mu(box(x0, y0, x0 + d, y0 + d), crs="EPSG:4490")), rel=1e-9)


def test_workspace_counties_layer_is_found_by_role(tmp_path, monkeypatch, counties):
    """A workspace that brings its own county layer (any name, ``role: counties``) is used
    by import as by progress and maps: here it holds Da'an only, so the two parcels in
    other counties lie "outside"."""
    import yaml

    counties[counties["county_code"] == "220882"].to_file(tmp_path / "daan.gpkg")
    (tmp_path / "catalog.yml").write_text(yaml.safe_dump({"layers": [
        {"name": "daan_only", "kind": "vector", "path": "daan.gpkg", "role": "counties",
         "synthetic": False}]}), encoding="utf-8")
    src = tmp_path / "p.gpkg"
    mb.parcels().to_file(src)
    monkeypatch.chdir(tmp_path)
    rep = import_files(src, tmp_path / "r.gpkg")
    assert (rep.n_read, rep.n_accepted, rep.n_rejected) == (3, 1, 2)
    assert Registry(tmp_path / "r.gpkg").projects()["project_code"].tolist() == ["D1"]


def test_registry_show_of_an_unknown_key_is_a_plain_error_in_both_languages(tmp_path):
    reg = tmp_path / "reg.gpkg"
    Registry(reg)
    res = cli("registry", "show", "XX", "--registry", reg)
    assert res.exit_code == 1 and res.output == (f"错误:'XX' 既不是批次号,也不是 {reg} 中现有项目的编号;"
                                                 "可用 agrigis registry list 列出批次\n")
    res = cli("registry", "show", "XX", "--registry", reg, "--lang", "en")
    assert res.exit_code == 1 and res.output == (f"error: 'XX' is neither a batch id nor a current project code "
                                                 f"in {reg}; list batches with: agrigis registry list\n")


def test_a_failed_first_import_creates_no_registry(tmp_path):
    reg = tmp_path / "new" / "registry.gpkg"
    res = cli("import", tmp_path / "nothing.shp", "--registry", reg)
    assert res.exit_code == 1 and "nothing.shp" in res.output
    assert not reg.exists() and not reg.parent.exists()
    bad = tmp_path / "bad.shp"
    bad.write_bytes(b"not a shapefile")
    res = cli("import", bad, "--registry", reg)
    assert res.exit_code == 1 and not reg.exists()
