"""Broken real-world parcel files (made by tests/data/make_bad_inputs.py): exact outcomes."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from gis.errors import AmbiguousCRSError, CRSError, DataFileError, InputError
from layers.registry import Registry
from workflows.cli import main
from workflows.importing import import_files

sys.path.insert(0, str(Path(__file__).parent / "data"))
import make_bad_inputs as mb  # noqa: E402


@pytest.fixture(scope="module")
def counties():
    import layers

    return layers.load("counties", workspace=False)


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return mb.build_all(tmp_path_factory.mktemp("bad"))


# case → (read, accepted, repaired, rejected, {row: reason regex}, note regex or None)
ROWS = {
    "gbk_no_cpg": (3, 3, 0, 0, {}, r"text encoding: GB18030 \(detected, no \.cpg\)"),
    "gb18030_names": (3, 3, 0, 0, {}, r"GB18030 \(detected, no \.cpg\)"),
    "noprj_lonlat": (3, 3, 0, 0, {}, r"no CRS in the file; EPSG:4490 guessed: values x 122\.8…123\.71"),
    "noprj_gk_prefix": (3, 3, 0, 0, {}, r"EPSG:4529 guessed: 8-digit eastings .* zone number 41"),
    "noprj_gk_noprefix": (3, 3, 0, 0, {}, r"EPSG:4550 guessed: 6-digit eastings"),
    "noprj_swapped": (3, 3, 0, 0, {}, r"EPSG:4490 guessed: axes are swapped"),
    "shanghai": (3, 0, 0, 3, {1: r"outside Baicheng \(only 0 % inside; centre at lon 121\.4750, lat 31\.2350\)",
                              2: "outside Baicheng", 3: "outside Baicheng"}, None),
    "bowtie": (2, 2, 1, 0, {}, None),
    "ring_2pts": (2, 1, 0, 1, {1: r"a ring with fewer than 4 points"}, None),
    "empty_geometry": (3, 1, 0, 2, {1: r"^empty geometry", 2: r"^empty geometry"}, None),
    "points_lines": (3, 1, 0, 2, {1: r"geometry is a 点 point \(Point\), not a polygon",
                                  2: r"geometry is a 线 line \(LineString\), not a polygon"}, None),
    "z_coordinates": (3, 3, 3, 0, {}, None),
    "duplicate_codes": (3, 1, 0, 2, {1: r"project code 'Z1' appears more than once in this file \(rows 1, 3\) "
                                        r"with different attributes",
                                     3: r"appears more than once"}, None),
    "unknown_category": (3, 2, 0, 1, {2: r"category '鱼塘' is unknown \(column '项目类型'\)"}, None),
    "year_20240": (3, 2, 0, 1, {1: r"year '20240' is not a year between 1990 and 2100; write it like 2024"}, None),
    "negative_area": (3, 2, 0, 1, {3: r"area -1360\.0 is negative"}, None),
    "text_area": (3, 2, 0, 1, {2: r"area '约1340亩' is not a number"}, None),
    "csv_broken_wkt": (3, 2, 0, 1, {2: r"WKT in column 'wkt' cannot be parsed"}, r"UTF-8 \(detected\)"),
    "csv_gbk_vertices": (2, 2, 0, 0, {}, r"GB18030 \(detected\)"),
    "csv_points": (2, 0, 0, 2, {1: r"a point \(lon/lat columns with one row per parcel\), not a polygon",
                                2: "a point"}, None),
    "county_mismatch": (3, 2, 0, 1, {2: r"declared county 镇赉县 220821 but the parcel lies mostly \(100 %\) in "
                                        r"大安市 220882"}, None),
    "unknown_county": (3, 2, 0, 1, {1: r"county '长春市' \(column '县/区'\) is not a county of Baicheng"}, None),
    "unknown_status": (3, 2, 0, 1, {3: r"status '搁置' is unknown"}, None),
    "missing_code_value": (3, 2, 0, 1, {1: r"no project code in column '项目编号'"}, None),
    "collection_polygon_line": (1, 1, 1, 0, {}, None),
    "zipped_shapefile": (3, 3, 0, 0, {}, r"GBK \(from parcels\.cpg\)"),
    "kmz_good": (2, 2, 0, 0, {}, None),
    "fieldmap_export": (1, 1, 0, 0, {}, r"EPSG:4326 \(declared"),
    "gcj02": (1, 1, 0, 0, {}, None),
}

ERRORS = {
    "utf8_cut_names": (DataFileError, r"column names longer than 10 bytes are cut inside a Chinese character"),
    "wrong_prj": (CRSError, r"declared CRS does not fit the coordinates: declared WGS 84 \(EPSG:4326\) .* "
                            r"import with --crs EPSG:4529"),
    "truncated_shp": (DataFileError, r"the \.shp is truncated or padded: its header says 508 bytes, the file has 254"),
    "zero_byte": (DataFileError, r"zero_byte\.shp: the file is empty \(0 bytes\)"),
    "missing_dbf": (DataFileError, r"the attribute file missing_dbf\.dbf is missing"),
    "missing_shx": (DataFileError, r"the index file missing_shx\.shx is missing"),
    "shx_more_records": (DataFileError, r"the index lists 5 records but record 4 lies beyond the end"),
    "kmz_empty_zip": (DataFileError, r"the archive holds no \.kml document"),
    "not_a_zip": (DataFileError, r"not a valid ZIP \(zip\) archive"),
    "gpkg_two_layers": (InputError, r"the GeoPackage has 2 layers \(paddy, farmland\); choose one with --layer"),
    "no_code_column": (InputError, r"no project code column; found columns 项目名称"),
    "ambiguous_coordinates": (AmbiguousCRSError, r"no CRS declared and cannot tell the coordinate system"),
    "bad_cpg": (DataFileError, r"unknown encoding 'KLINGON-8'"),
    "unknown_suffix": (DataFileError, r"unknown file type '\.dwg'"),
    "zip_two_shapefiles": (InputError, r"the archive holds several layers \(a\.shp, b\.shp\)"),
    # what the field map exports has no category/year/status: give them as options
    "fieldmap_two_sketches": (InputError, r"no category column and no --category option; give --category"),
}


def test_suite_has_at_least_30_distinct_cases():
    assert set(ROWS) | set(ERRORS) == set(mb.CASES)
    assert len(mb.CASES) >= 30


@pytest.mark.parametrize("case", sorted(ROWS))
def test_row_outcomes(case, bad, counties, tmp_path):
    n_read, n_acc, n_rep, n_rej, reasons, note = ROWS[case]
    rep = import_files(bad[case], tmp_path / "r.gpkg", counties=counties, lang="en")
    f = rep.files[0]
    assert (f.n_read, f.n_accepted, f.n_repaired, f.n_rejected) == (n_read, n_acc, n_rep, n_rej)
    got = dict(zip(f.rejects["row"], f.rejects["reason"], strict=True)) if f.rejects is not None else {}
    assert sorted(got) == sorted(reasons)
    for row, pattern in reasons.items():
        assert re.search(pattern, got[row]), (row, got[row])
    if note:
        assert any(re.search(note, n) for n in f.notes), f.notes
    if n_rej:
        gpkg, csv = f.rejects_gpkg, f.rejects_csv
        assert gpkg.name == f"{bad[case].name}.rejects.gpkg" and gpkg.parent == bad[case].parent
        assert len(pd.read_csv(csv)) == n_rej
        assert len(pyogrio.read_dataframe(gpkg)) == n_rej
    assert len(Registry(tmp_path / "r.gpkg").projects()) == n_acc


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_file_errors_leave_registry_untouched(case, bad, counties, tmp_path):
    from layers.registry import Registry

    exc, pattern = ERRORS[case]
    reg = Registry(tmp_path / "r.gpkg")
    with pytest.raises(exc, match=pattern):
        import_files(bad[case], reg, counties=counties)
    assert len(reg.batches()) == 0 and len(reg.projects()) == 0


def test_repairs_are_described(bad, counties, tmp_path):
    f = import_files(bad["bowtie"], tmp_path / "r.gpkg", counties=counties, lang="en").files[0]
    assert f.repairs["row"].tolist() == [1]
    assert f.repairs["repair"].iloc[0].startswith("self-intersecting ring repaired (make_valid")
    f = import_files(bad["z_coordinates"], tmp_path / "r2.gpkg", counties=counties, lang="en").files[0]
    assert set(f.repairs["repair"]) == {"Z coordinates dropped"}
    f = import_files(bad["collection_polygon_line"], tmp_path / "r3.gpkg", counties=counties, lang="en").files[0]
    assert f.repairs["repair"].iloc[0] == "geometry collection: kept 1 polygon(s), dropped 1 other part(s)"


def test_parts_with_one_code_are_merged(bad, counties, tmp_path):
    from layers.registry import Registry

    f = import_files(bad["fieldmap_two_sketches"], tmp_path / "r.gpkg", counties=counties, category="paddy_new",
                     year=2024, status="planned", lang="en").files[0]
    assert f.repairs.values.tolist() == [[1, "2 rows (rows 1, 2) with project code 'Z9' and the same attributes "
                                             "merged into one multipolygon"]]
    p = Registry(tmp_path / "r.gpkg").projects()
    assert len(p) == 1 and len(p.geometry.iloc[0].geoms) == 2
    assert p["declared_area_mu"].iloc[0] == pytest.approx(1292.79 + 1300.0)  # per-part figures are summed
    assert p["area_mu"].iloc[0] == pytest.approx(2 * 1292.79, abs=0.1)


def test_gb18030_names_survive(bad, counties, tmp_path):
    import_files(bad["gb18030_names"], tmp_path / "r.gpkg", counties=counties)
    from layers.registry import Registry

    p = Registry(tmp_path / "r.gpkg").projects().set_index("project_code")
    assert p.loc["Z1", "project_name"] == "镇赉县𠀀䶮项目"
    assert p.loc["D1", "county_code"] == "220882" and p.loc["D1", "category"] == "paddy_new"


def test_gcj02_is_converted_back_exactly(bad, counties, tmp_path):
    import shapely

    from layers.registry import Registry

    truth = mb.parcels().geometry.iloc[0]
    import_files(bad["gcj02"], tmp_path / "a.gpkg", counties=counties, source_datum="gcj02")
    got = Registry(tmp_path / "a.gpkg").projects().geometry.iloc[0]
    assert shapely.hausdorff_distance(got, truth) < 1e-7  # ≈ 1 cm
    import_files(bad["gcj02"], tmp_path / "b.gpkg", counties=counties)  # without the flag: ~500 m off
    off = Registry(tmp_path / "b.gpkg").projects().geometry.iloc[0]
    assert 0.004 < shapely.hausdorff_distance(off, truth) < 0.008


def test_gk_inputs_land_where_lonlat_does(bad, counties, tmp_path):
    from layers.registry import Registry

    areas = {}
    for case in ("noprj_lonlat", "noprj_gk_prefix", "noprj_gk_noprefix", "noprj_swapped"):
        import_files(bad[case], tmp_path / f"{case}.gpkg", counties=counties)
        p = Registry(tmp_path / f"{case}.gpkg").projects().set_index("project_code")
        areas[case] = p["area_mu"].round(3).to_dict()
        assert p["county_code"].to_dict() == mb.COUNTY
    assert len({tuple(sorted(a.items())) for a in areas.values()}) == 1


def test_cli_never_shows_a_traceback(bad, tmp_path):
    runner = CliRunner()
    cases = sorted(ERRORS) + ["shanghai", "bowtie", "csv_points", "gbk_no_cpg", "duplicate_codes"]
    for case, path in ((c, bad[c]) for c in cases):
        res = runner.invoke(main, ["import", str(path), "--registry", str(tmp_path / f"{case}.gpkg")])
        assert "Traceback" not in res.output, (case, res.output)
        assert isinstance(res.exception, (SystemExit, type(None))), (case, repr(res.exception))
        if case in ERRORS:
            # Chinese by default, from the error's message key: no English fallback
            assert res.exit_code == 1 and res.output.startswith("错误:"), (case, res.output)
            assert not re.search(r"\b(the|not|file|no|and)\b", res.output), (case, res.output)
            en = runner.invoke(main, ["import", str(path), "--registry", str(tmp_path / f"{case}.gpkg"),
                                      "--lang", "en"])
            assert en.exit_code == 1 and "Traceback" not in en.output, (case, en.output)
            assert en.output.startswith("error: ") and re.search(ERRORS[case][1], en.output), (case, en.output)
        else:  # rows rejected: the report is printed; a file with no row accepted also exits 1 (nothing written)
            assert res.exit_code == (1 if case in ALL_REJECTED else 0), (case, res.output)
            assert "读取" in res.output and "拒绝" in res.output


ALL_REJECTED = {"shanghai", "csv_points"}
"""Cases whose every row is rejected."""


# The people who fix the files read Chinese: by default every reason and repair is Chinese.
ZH_REASONS = {
    "missing_code_value": {1: "列 '项目编号' 中没有项目编号;每个地块都必须填写项目编号"},
    "unknown_category": {2: "项目类型 '鱼塘' 无法识别(列 '项目类型');请填写以下名称之一:高标准农田、新建水田、"
                            "改善水田、盐碱地综合利用示范片区、新增耕地、水肥一体化、保护性耕作、机械深松整地、制种、"
                            "造林、治理草原、修复湿地、新建棚室、庭院经济、示范基地(或其英文代码),或用 --category "
                            "为整个文件统一指定,或将该值添加到 --mapping 映射文件中"},
    "shanghai": {1: "地块不在白城市范围内(仅 0% 位于市界内;中心点经度 121.4750、纬度 31.2350);请检查坐标系"
                    "(--crs)、是否为高德 GCJ-02 坐标(--source-datum gcj02),或核实是否为白城市的项目"},
    "year_20240": {1: "建设年度 '20240' 不是 1990 至 2100 之间的年份;请写成 2024 这样的四位年份(列 '建设年度')"},
    "points_lines": {1: "图形是点(Point),不是多边形;地块必须是多边形(面)",
                     2: "图形是线(LineString),不是多边形;地块必须是多边形(面)"},
    "ring_2pts": {1: "多边形的边界环少于 4 个点(不构成闭合多边形);请重新绘制该地块"},
    "duplicate_codes": {1: "项目编号 'Z1' 在本文件中出现多次(第 1、3 行)且属性不一致;请为每个地块分配独立的"
                           "项目编号,或使同一项目各部分的属性保持一致"},
    "county_mismatch": {2: "填报的县(市、区)为 镇赉县 220821,但地块大部分(100%)位于 大安市 220882;"
                           "请修改县(市、区)列或地块图形"},
    "csv_points": {1: "仅为一个点(每个地块只有一行经纬度),不是多边形;请逐行给出地块的各个拐点坐标(每个拐点一行,"
                      "项目编号相同),或提供 WKT 多边形列"},
}


@pytest.mark.parametrize("case", sorted(ZH_REASONS))
def test_reasons_are_chinese_by_default(case, bad, counties, tmp_path):
    f = import_files(bad[case], tmp_path / "r.gpkg", counties=counties).files[0]
    csv = pd.read_csv(f.rejects_csv)  # what the county office opens (UTF-8 with BOM, for Excel)
    assert {"row", "reason"} <= set(csv.columns)  # column names stay machine-readable
    got = dict(zip(csv["row"], csv["reason"], strict=True))
    for row, text in ZH_REASONS[case].items():
        assert got[row] == text
    gpkg = pyogrio.read_dataframe(f.rejects_gpkg)
    assert dict(zip(gpkg["row"], gpkg["reason"], strict=True)) == got


def test_repairs_are_chinese_by_default(bad, counties, tmp_path):
    f = import_files(bad["bowtie"], tmp_path / "r.gpkg", counties=counties).files[0]
    assert f.repairs["repair"].tolist() == [
        "多边形自相交,已修复(make_valid,Self-intersection[123.405 45.945]),按原绘制计算的面积为 0,"
        "修复后覆盖其围成的各个多边形"]
    f = import_files(bad["z_coordinates"], tmp_path / "r2.gpkg", counties=counties).files[0]
    assert set(f.repairs["repair"]) == {"已去除 Z 坐标(高程)"}
    f = import_files(bad["collection_polygon_line"], tmp_path / "r3.gpkg", counties=counties).files[0]
    assert f.repairs["repair"].tolist() == ["几何集合:保留 1 个多边形,删除 1 个其他部分"]
    f = import_files(bad["fieldmap_two_sketches"], tmp_path / "r4.gpkg", counties=counties, category="paddy_new",
                     year=2024, status="planned").files[0]
    assert f.repairs["repair"].tolist() == [
        "项目编号 'Z9' 的 2 行(第 1、2 行)属性相同,已合并为一个多部件多边形(MultiPolygon)"]


def test_cli_reasons_follow_lang(bad, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["import", str(bad["missing_code_value"]), "--registry", str(tmp_path / "a.gpkg")])
    assert res.exit_code == 0, res.output
    assert "  拒绝 行 1: 列 '项目编号' 中没有项目编号;每个地块都必须填写项目编号\n" in res.output
    res = runner.invoke(main, ["import", str(bad["missing_code_value"]), "--registry", str(tmp_path / "b.gpkg"),
                               "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "  rejected row 1: no project code in column '项目编号'; every parcel needs a 项目编号\n" in res.output
    assert pd.read_csv(bad["missing_code_value"].with_name(bad["missing_code_value"].name + ".rejects.csv"))[
        "reason"].tolist() == ["no project code in column '项目编号'; every parcel needs a 项目编号"]
    res = runner.invoke(main, ["import", str(bad["bowtie"]), "--registry", str(tmp_path / "c.gpkg")])
    assert "  修复 行 1: 多边形自相交,已修复(make_valid," in res.output


def test_report_more_line_follows_lang():
    from workflows.importing import FileReport, ImportReport, format_report

    f = FileReport(source="a.shp", sha256="0" * 64, n_read=12, n_rejected=12,
                   rejects=pd.DataFrame({"row": range(1, 13), "reason": ["x"] * 12}),
                   repairs=pd.DataFrame({"row": range(1, 9), "repair": ["y"] * 8}))
    rep = ImportReport(files=[f], registry=Path("r.gpkg"))
    zh, en = format_report(rep).splitlines(), format_report(rep, "en").splitlines()
    assert "  … 另有 3 条" in zh and "  … 另有 2 条" in zh and not any("more" in line for line in zh)
    assert "  … 3 more" in en and "  … 2 more" in en


# The notes (encoding, CRS, datum) follow --lang too: Chinese by default, values unchanged inside.
ZH_NOTES = {
    "gbk_no_cpg": ["文本编码:GB18030(无 .cpg 文件,自动识别)", "坐标系:EPSG:4490(文件中声明,已与坐标核对)"],
    "noprj_lonlat": ["文本编码:GBK(读自 noprj_lonlat.cpg)",
                     "文件中未声明坐标系;推测为 EPSG:4490,依据:坐标值 x 122.8…123.71、y 44.74…45.95 为中国境内的"
                     "经纬度(度),按 China Geodetic Coordinate System 2000 (EPSG:4490) 处理"],
    "noprj_gk_prefix": ["文本编码:GBK(读自 noprj_gk_prefix.cpg)",
                        "文件中未声明坐标系;推测为 EPSG:4529,依据:8 位东坐标 41484159…41555649 以高斯-克吕格投影带号 "
                        "41 开头,按 CGCS2000 / 3-degree Gauss-Kruger zone 41 (EPSG:4529) 处理"],
    "noprj_swapped": ["文本编码:GBK(读自 noprj_swapped.cpg)",
                      "文件中未声明坐标系;推测为 EPSG:4490,依据:坐标轴顺序颠倒(第一个值是纬度/北坐标):坐标值 "
                      "x 122.8…123.71、y 44.74…45.95 为中国境内的经纬度(度),按 China Geodetic Coordinate System "
                      "2000 (EPSG:4490) 处理"],
    "zipped_shapefile": ["文本编码:GBK(读自 parcels.cpg)", "坐标系:EPSG:4490(文件中声明,已与坐标核对)"],
    "fieldmap_export": ["坐标系:EPSG:4326(文件中声明,已与坐标核对)"],
    "csv_broken_wkt": ["文本编码:UTF-8(自动识别)",
                       "文件中未声明坐标系;推测为 EPSG:4490,依据:坐标值 x 122.8…123.41、y 44.74…45.95 为中国境内的"
                       "经纬度(度),按 China Geodetic Coordinate System 2000 (EPSG:4490) 处理"],
}


@pytest.mark.parametrize("case", sorted(ZH_NOTES))
def test_notes_are_chinese_by_default(case, bad, counties, tmp_path):
    f = import_files(bad[case], tmp_path / "r.gpkg", counties=counties).files[0]
    assert f.notes == ZH_NOTES[case]


# English words of the note templates that must not show up in a Chinese report
EN_NOTE_WORDS = re.compile(r"text encoding|detected|given|from |CRS|declared|checked|guessed|assumed|values x|"
                           r"eastings|axes|converted|Amap")


@pytest.mark.parametrize("case", sorted(c for c, row in ROWS.items() if row[-1]))
def test_no_english_left_in_chinese_notes(case, bad, counties, tmp_path):
    zh = import_files(bad[case], tmp_path / "zh.gpkg", counties=counties).files[0].notes
    en = import_files(bad[case], tmp_path / "en.gpkg", counties=counties, lang="en").files[0].notes
    assert len(zh) == len(en) >= 1
    for z, e in zip(zh, en, strict=True):
        assert re.search(r"[\u4e00-\u9fff]", z) and not EN_NOTE_WORDS.search(z), z
        assert EN_NOTE_WORDS.search(e) and not re.search(r"[\u4e00-\u9fff]", e.replace("项目", "")), e


def test_gcj02_note_follows_lang(bad, counties, tmp_path):
    f = import_files(bad["gcj02"], tmp_path / "a.gpkg", counties=counties, source_datum="gcj02").files[0]
    assert f.notes == ["高德 GCJ-02 坐标已转换为 CGCS2000", "坐标系:EPSG:4326(文件中声明,已与坐标核对)"]
    f = import_files(bad["gcj02"], tmp_path / "b.gpkg", counties=counties, source_datum="gcj02", crs="EPSG:4326",
                     lang="en").files[0]
    assert f.notes == ["coordinates converted from GCJ-02 (Amap/Gaode) to CGCS2000",
                       "CRS: EPSG:4326 (given with --crs)"]


def test_cli_notes_follow_lang(bad, tmp_path):
    """What a person reads in the printed report of ``agrigis import``: each note once, in their language."""
    runner = CliRunner()
    res = runner.invoke(main, ["import", str(bad["gbk_no_cpg"]), "--registry", str(tmp_path / "a.gpkg")])
    assert res.exit_code == 0, res.output
    assert ("  提示: 文本编码:GB18030(无 .cpg 文件,自动识别)\n"
            "  提示: 坐标系:EPSG:4490(文件中声明,已与坐标核对)\n") in res.output
    res = runner.invoke(main, ["import", str(bad["gbk_no_cpg"]), "--registry", str(tmp_path / "b.gpkg"),
                               "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert ("  note: text encoding: GB18030 (detected, no .cpg)\n"
            "  note: CRS: EPSG:4490 (declared in the file, checked against the coordinates)\n") in res.output

    res = runner.invoke(main, ["import", str(bad["noprj_gk_noprefix"]), "--registry", str(tmp_path / "c.gpkg")])
    assert res.exit_code == 0, res.output
    notes = [line for line in res.output.splitlines() if line.startswith("  提示: ")]
    assert notes == [
        "  提示: 文本编码:GBK(读自 noprj_gk_noprefix.cpg)",
        "  提示: 文件中未声明坐标系;推测为 EPSG:4550,依据:6 位东坐标 484159…555649、北坐标 4956068…5090610 按中央"
        "经线 123°E 的高斯-克吕格投影落在白城市范围内,按 CGCS2000 / 3-degree Gauss-Kruger CM 123E (EPSG:4550) 处理"
        "(UTM 51N 带的数据数值相近,但位置相差约 2 公里:如为 UTM 坐标,请用 --crs EPSG:32651 指定)"]
    res = runner.invoke(main, ["import", str(bad["noprj_gk_noprefix"]), "--registry", str(tmp_path / "d.gpkg"),
                               "--lang", "en"])
    assert res.exit_code == 0, res.output
    notes = [line for line in res.output.splitlines() if line.startswith("  note: ")]
    assert notes == [
        "  note: text encoding: GBK (from noprj_gk_noprefix.cpg)",
        "  note: no CRS in the file; EPSG:4550 guessed: 6-digit eastings 484159…555649 with northings "
        "4956068…5090610 fall on Baicheng as Gauss-Krüger CM 123°E; assumed CGCS2000 / 3-degree Gauss-Kruger "
        "CM 123E (EPSG:4550) (UTM zone 51N data looks the same but lies ≈2 km off: then declare --crs EPSG:32651)"]


# The CLI prints errors in the command's language: the exact lines a newcomer sees.
WRONG_PRJ_ZH = (
    "错误:{path}:文件中声明的坐标系与坐标不符:声明的坐标系为 WGS 84 (EPSG:4326),但 x 41484159…41555649、"
    "y 4956068…5090610 不是中国境内的经纬度(度);根据坐标推测:8 位东坐标 41484159…41555649 以高斯-克吕格投影带号 41 "
    "开头,按 CGCS2000 / 3-degree Gauss-Kruger zone 41 (EPSG:4529) 处理;如果推测正确,请用 --crs EPSG:4529 导入,"
    "或修正 .prj 文件\n"
)
WRONG_PRJ_EN = (
    "error: {path}: the file's declared CRS does not fit the coordinates: declared WGS 84 (EPSG:4326) but "
    "x 41484159…41555649, y 4956068…5090610 are not degrees in China; 8-digit eastings 41484159…41555649 start "
    "with the Gauss-Krüger zone number 41; assumed CGCS2000 / 3-degree Gauss-Kruger zone 41 (EPSG:4529); "
    "if that is right, import with --crs EPSG:4529 or fix the .prj\n"
)


def _import(*args):
    res = CliRunner().invoke(main, ["import", *map(str, args)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), (res.output, repr(res.exception))
    assert "Traceback" not in res.output
    return res.output


def test_cli_missing_file_error_is_chinese_by_default_english_with_lang_en(tmp_path):
    f, reg = tmp_path / "nothing.shp", tmp_path / "r.gpkg"
    assert _import(f, "--registry", reg) == f"错误:{f}:找不到文件,请检查路径\n"
    assert _import(f, "--registry", reg, "--lang", "zh") == f"错误:{f}:找不到文件,请检查路径\n"
    assert _import(f, "--registry", reg, "--lang", "en") == f"error: {f}: file not found; check the path\n"
    assert _import("--lang", "en", f, "--registry", reg) == f"error: {f}: file not found; check the path\n"


def test_cli_wrong_prj_error_is_chinese_by_default_english_with_lang_en(tmp_path):
    path = mb.build("wrong_prj", tmp_path)
    reg = tmp_path / "r.gpkg"
    assert _import(path, "--registry", reg) == WRONG_PRJ_ZH.format(path=path)
    assert _import(path, "--registry", reg, "--lang", "en") == WRONG_PRJ_EN.format(path=path)


def test_cli_debug_still_raises(tmp_path):
    res = CliRunner().invoke(main, ["--debug", "import", str(tmp_path / "nothing.shp"),
                                    "--registry", str(tmp_path / "r.gpkg")])
    assert isinstance(res.exception, DataFileError) and res.exception.key == "error.file_not_found"


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_import_errors_have_a_chinese_text(case, bad, counties, tmp_path):
    cls, pattern = ERRORS[case]
    with pytest.raises(cls, match=pattern) as info:
        import_files(bad[case], tmp_path / "r.gpkg", counties=counties)
    exc = info.value
    assert exc.key and exc.key.startswith("error."), case
    zh = exc.text("zh")
    assert zh != str(exc) and re.search(r"[\u4e00-\u9fff]", zh) and exc.text("en") == str(exc)
