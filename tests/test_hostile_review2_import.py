"""Issue 14, second hostile review: import side.

TXT export → import round trip keeps declared areas; bounded .xlsx reading; strict digits
in boundary TXT; non-finite / absurd numbers; duplicate YAML keys; empty rules files;
``check`` details in both languages; formula cells without a cached value; .xlsx rows
numbered past Excel's last row.
Everything runs for real: real registries, real workbooks written with openpyxl or by
hand as zip files, the real CLI.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely import box

from gis.area import area_mu
from gis.errors import ConfigError, DataFileError, InputError
from layers.registry import Registry

from conftest import cli  # noqa: E402 - the shared CLI runner of the hostile suites


def registry(path: Path, declared) -> Registry:
    geoms = [box(123.4 + i * 0.02, 45.94, 123.41 + i * 0.02, 45.95) for i in range(len(declared))]
    gdf = gpd.GeoDataFrame({
        "project_code": [f"P{i}" for i in range(len(declared))], "project_name": "项目",
        "category": "paddy_new", "county_code": "220821", "year": 2024, "status": "planned",
        "declared_area_mu": declared, "area_mu": area_mu(geoms, crs="EPSG:4490"),
        "investment_wan_yuan": np.nan, "_row": np.arange(1, len(declared) + 1),
    }, geometry=geoms, crs="EPSG:4490")
    reg = Registry(path)
    reg.write(gdf, source="a.shp", sha256="a" * 64)
    return reg


# -- 1. TXT export → import --update changes nothing ---------------------------------------


def test_txt_round_trip_keeps_declared_areas(tmp_path):
    declared = [245.5833, 100.0]
    reg = registry(tmp_path / "r.gpkg", declared)
    computed = reg.projects().sort_values("project_code")["area_mu"].to_numpy()
    assert np.abs(computed - declared).min() > 1  # the computed area differs from the declared one
    out = tmp_path / "rt.txt"
    assert cli("registry", "export", out, "--registry", reg.path).exit_code == 0
    res = cli("import", out, "--update", "--year", 2024, "--status", "planned", "--registry", reg.path, "--lang", "en")
    assert res.exit_code == 0, res.output
    assert "updated 0" in res.output and "unchanged 2" in res.output, res.output
    got = reg.projects().sort_values("project_code")["declared_area_mu"].to_numpy()
    np.testing.assert_allclose(got, declared, rtol=0, atol=1e-9)


# -- 2, 8. .xlsx bounded before loading; formula cells without a value -------------------


def _xlsx(path: Path, sheet_xml: str) -> Path:
    """A minimal workbook written by hand (as a hostile tool would)."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<?xml version="1.0"?><workbook {ns} {rel}><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", f'<?xml version="1.0"?><worksheet {ns}><sheetData>{sheet_xml}</sheetData></worksheet>')
    return path


def test_xlsx_sheet_xml_bounded_before_loading(tmp_path):
    from layers import sheets

    cell = '<c r="A{i}"><v>1</v></c>'
    rows = "".join(f'<row r="{i}">{cell.format(i=i)}</row>' for i in range(1, 2001))
    path = _xlsx(tmp_path / "bomb.xlsx", rows)
    old = sheets.MAX_XML_BYTES
    sheets.MAX_XML_BYTES = 10_000
    try:
        with pytest.raises(DataFileError, match=r"sheet1.xml inflates to \d+ bytes, more than the limit of 10000"):
            sheets.read_sheet(path)
    finally:
        sheets.MAX_XML_BYTES = old


def test_xlsx_formula_without_value_is_noted(tmp_path):
    from layers.sheets import read_sheet

    xml = ('<row r="1"><c r="A1" t="inlineStr"><is><t>project_code</t></is></c>'
           '<c r="B1" t="inlineStr"><is><t>area</t></is></c></row>'
           '<row r="2"><c r="A2" t="inlineStr"><is><t>P1</t></is></c><c r="B2"><f>1+1</f></c></row>')
    df, _, notes = read_sheet(_xlsx(tmp_path / "f.xlsx", xml))
    assert df["area"].tolist() == [""]
    assert [str(n) for n in notes] == [f"{tmp_path / 'f.xlsx'} sheet 'S': 1 formula cells have no saved result and "
                                       "are read as empty (B2); open and save the file in Excel once so the results "
                                       "are stored"]


# -- 3. boundary TXT: ASCII digits only, no parcels --------------------------------------

HEAD = "[属性描述]\n坐标系=2000国家大地坐标系\n几度分带=3\n带号=41\n[地块坐标]\n"


def test_txt_superscript_digit_is_a_clear_error():
    from layers.boundary_txt import parse

    text = HEAD + "5,1.0,P1,x,面,,,,@\nJ1,²,5000000,41500000\n"
    with pytest.raises(InputError, match=r"t.txt line 7"):
        parse(text, "t.txt")
    with pytest.raises(InputError, match=r"t.txt line 6"):
        parse(HEAD + "²,1.0,P1,x,面,,,,@\n", "t.txt")


def test_txt_without_parcels_is_a_clear_error():
    from layers.boundary_txt import parse

    with pytest.raises(InputError, match=r"t.txt: the \[地块坐标\] block holds no parcels"):
        parse("[地块坐标]\n", "t.txt")


# -- 4. non-finite and absurd numbers ----------------------------------------------------


@pytest.mark.parametrize(("value", "reason"), [("1e400", "is not a finite number"),
                                               ("2e9", "is implausibly large")])
def test_non_finite_declared_area_rejected(tmp_path, value, reason):
    csv = tmp_path / "a.csv"
    csv.write_text("project_code,project_name,category,county_code,year,status,declared_area_mu,WKT\n"
                   f'P1,x,paddy_new,220821,2024,planned,{value},"POLYGON((123.4 45.9,123.41 45.9,123.41 45.91,123.4 45.9))"\n'
                   'P2,x,paddy_new,220821,2024,planned,12,"POLYGON((123.5 45.9,123.51 45.9,123.51 45.91,123.5 45.9))"\n',
                   encoding="utf-8")
    res = cli("import", csv, "--crs", "EPSG:4490", "--registry", tmp_path / "r.gpkg", "--lang", "en")
    assert "accepted 1" in res.output and f"rejected row 1: area '{value}' {reason}" in res.output, res.output
    assert Registry(tmp_path / "r.gpkg").projects()["declared_area_mu"].tolist() == [12.0]


# -- 5. duplicate YAML keys --------------------------------------------------------------


def test_yaml_duplicate_key_refused():
    from gis.config import parse_yaml

    with pytest.raises(ConfigError, match=r"t.yml at line 4: the key 'x' appears twice in one mapping \(first at line 3\)"):
        parse_yaml("a: 1\nb:\n  x: 1\n  x: 2\n", origin="t.yml")
    assert parse_yaml("c: &m {p: 1}\nd:\n  <<: *m\n  q: 2\n", origin="t.yml")["d"] == {"p": 1, "q": 2}


# -- 6. empty --rules --------------------------------------------------------------------


def test_empty_rules_refused(tmp_path):
    from workflows.verify import _rules

    empty = tmp_path / "r.yml"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"the rules file .*r.yml is empty"):
        _rules(empty)


# -- 7. `check` details in the command's language ----------------------------------------


@pytest.fixture(scope="module")
def check_registry(tmp_path_factory):
    """An overlap (A/B), an area mismatch (M, declared 10 % too large), a sliver (S) and a
    straddle (X, across the 洮北区 / 镇赉县 border)."""
    import layers

    c = layers.load("counties", workspace=False).set_index("county_code")
    border = c.loc["220802", "geometry"].boundary.intersection(c.loc["220821", "geometry"].boundary)
    pt = border.representative_point()
    geoms = [box(123.40, 45.94, 123.41, 45.95), box(123.405, 45.94, 123.415, 45.95),
             box(123.50, 45.94, 123.50025, 45.94025), box(123.60, 45.94, 123.61, 45.95),
             box(pt.x - 0.01, pt.y - 0.01, pt.x + 0.01, pt.y + 0.01)]
    mu = area_mu(geoms, crs="EPSG:4490")
    reg = Registry(tmp_path_factory.mktemp("check") / "r.gpkg")
    reg.write(gpd.GeoDataFrame({
        "project_code": ["A", "B", "S", "M", "X"], "project_name": "项目", "category": "paddy_new",
        "county_code": "220821", "year": 2024, "status": "planned",
        "declared_area_mu": [np.nan, np.nan, np.nan, mu[3] * 1.10, np.nan], "area_mu": mu,
        "investment_wan_yuan": np.nan}, geometry=geoms, crs="EPSG:4490"), source="t", sha256="0" * 64)
    return reg


def test_check_details_are_chinese_in_chinese(check_registry, tmp_path):
    import pandas as pd

    res = cli("check", "--registry", check_registry.path, "-o", tmp_path, "--format", "csv")
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "check.csv", dtype=str).dropna(subset=["问题类型"])
    kinds = dict(zip(t["项目编号A"], t["说明"], strict=True))
    assert set(kinds) == {"A", "S", "M", "X"}, kinds
    words = {k: re.findall(r"[A-Za-z]{2,}", v) for k, v in kinds.items()}
    assert words == {"A": [], "S": [], "M": [], "X": []}, kinds  # no "declared", "of", "counties", "outside"
    assert kinds["M"] == f"申报 {float(t.set_index('项目编号A').loc['M', '面积(亩)']) * 1.10:.2f} 亩," \
        f"计算 {float(t.set_index('项目编号A').loc['M', '面积(亩)']):.2f} 亩(相差 +10.0 %)"
    assert re.fullmatch(r"0\.\d{3} 亩,小于 1 亩", kinds["S"]), kinds["S"]
    assert re.fullmatch(r"\d+\.\d\d 亩,占 A 的 50\.0 %,占 B 的 50\.0 %", kinds["A"]), kinds["A"]
    assert re.fullmatch(r"\d+\.\d % 位于 2208\d\d,共涉及 2 个县,0\.0 % 位于白城市以外", kinds["X"]), kinds["X"]


def test_check_details_stay_english_in_english(check_registry, tmp_path):
    import pandas as pd

    res = cli("check", "--registry", check_registry.path, "-o", tmp_path, "--lang", "en")
    assert res.exit_code == 0, res.output
    t = pd.read_excel(tmp_path / "check.xlsx", sheet_name="check", dtype=str).dropna(subset=["project code A"])
    kinds = dict(zip(t["project code A"], t["detail"], strict=True))
    assert re.fullmatch(r"declared \d+\.\d\d 亩, computed \d+\.\d\d 亩 \(\+10\.0 %\)", kinds["M"]), kinds["M"]
    assert re.fullmatch(r"0\.\d{3} 亩 < 1 亩", kinds["S"]), kinds["S"]
    assert re.fullmatch(r"\d+\.\d\d 亩 = 50\.0 % of A, 50\.0 % of B", kinds["A"]), kinds["A"]
    assert re.fullmatch(r"\d+\.\d % in 2208\d\d, 2 counties, 0\.0 % outside Baicheng", kinds["X"]), kinds["X"]


# -- 8. .xlsx rows numbered past Excel's last row ----------------------------------------

_HEAD_ROW = ('<row r="1"><c r="A1" t="inlineStr"><is><t>project_code</t></is></c></row>'
             '<row r="2"><c r="A2" t="inlineStr"><is><t>P1</t></is></c></row>')


def test_xlsx_row_past_excel_last_row_refused(tmp_path):
    from layers.sheets import read_sheet

    path = _xlsx(tmp_path / "far.xlsx", _HEAD_ROW + '<row r="1048577"><c r="A1048577" t="inlineStr">'
                                                    '<is><t>P2</t></is></c></row>')
    with pytest.raises(DataFileError, match=re.escape(f"{path} sheet 'S': row 1048577 is past Excel's last row "
                                                      "(1048576), so the file was not saved by Excel")):
        read_sheet(path)
    res = cli("import", path, "--crs", "EPSG:4490", "--registry", tmp_path / "r.gpkg")
    assert res.exit_code != 0 and "工作表 'S':第 1048577 行超出 Excel 的最后一行" in res.output, res.output


def test_xlsx_long_run_of_empty_rows_stops_streaming(tmp_path):
    import time

    from layers.sheets import read_sheet

    path = _xlsx(tmp_path / "gap.xlsx", _HEAD_ROW + '<row r="900000"><c r="A900000" t="inlineStr">'
                                                    '<is><t>P2</t></is></c></row>')
    t0 = time.perf_counter()
    with pytest.raises(DataFileError, match=re.escape(f"{path} sheet 'S': more than 100000 empty rows in a row "
                                                      "from row 3 on")):
        read_sheet(path)
    assert time.perf_counter() - t0 < 10  # stopped after ~100,000 rows, not 900,000
