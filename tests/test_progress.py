"""agrigis progress: the report files, re-read as a person's software would read them."""

from __future__ import annotations

import hashlib
import re

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from shapely import box

from test_tracking import DA, PARCELS, TB, ZL, gdf, rect  # the hand-built fixture
from workflows.cli import main
from workflows.progress import run_progress


@pytest.fixture(scope="module")
def fixture_layers():
    cols = ["project_code", "category", "year", "status", "declared_area_mu"]
    rows = {c: [p[i] for p in PARCELS] for i, c in enumerate(cols)}
    rows["batch_id"] = ["demo-1"] * len(PARCELS)
    parcels = gdf(rows, [p[-1] for p in PARCELS])
    counties = gdf({"county_code": [DA, ZL, TB], "name_zh": ["大安市", "镇赉县", "洮北区"]},
                   [rect(0, 0, 3000, 3000), rect(0, 3000, 3000, 6000), rect(3000, 0, 6000, 6000)])
    reserve = gdf({"name_zh": ["莫莫格(测试)"]}, [rect(500, 4500, 1500, 5500)])
    return parcels, counties, reserve


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, fixture_layers):
    parcels, counties, reserve = fixture_layers
    parcels = parcels.copy()
    parcels.attrs["synthetic_batches"] = ["demo-1"]
    out = tmp_path_factory.mktemp("progress")
    return run_progress(out, parcels=parcels, counties=counties, protected_areas=reserve, as_of="2024-06-30")


def test_excel_headers_numbers_and_method(outputs):
    wb = load_workbook(outputs.paths["xlsx"])
    assert wb.sheetnames == ["目标总表", "分县", "示范基地", "连片地块", "问题图斑", "2023基数", "非空间指标", "方法与数据"]
    ws = wb["目标总表"]
    assert ws["A1"].value.startswith("2024年目标任务进展")
    header = [c.value for c in ws[2]]
    assert header[:6] == ["目标任务", "范围", "要求", "全市目标(万亩)", "已完成(万亩)", "完成率(%)"]
    assert ws.freeze_panes == "A3"
    rows = {r[0].value: r for r in ws.iter_rows(min_row=3) if r[0].value}
    paddy = rows["新建水田"]
    assert paddy[1].value == "大安市、镇赉县" and paddy[2].value == "完成"
    # the hand-worked 3825 亩 of test_tracking, as a number, not text
    assert isinstance(paddy[4].value, float) and paddy[4].value == pytest.approx(0.3825, abs=1e-6)
    assert paddy[3].value == pytest.approx(23.89) and paddy[4].number_format == "#,##0.00##"
    assert paddy[5].value == round(100 * 3825 / 238_900, 1)  # % to one decimal (tidy numbers)
    assert paddy[11].value == "滞后"
    hsf = rows["新建高标准农田"]
    assert hsf[4].value == pytest.approx(0.3, abs=1e-6) and hsf[14].value == 2
    assert any("合成演示数据" in str(c.value) for c in ws["A"])  # note under the table
    assert "合成演示数据" in ws.oddFooter.center.text

    bc = wb["分县"]
    assert [c.value for c in bc[1]][:4] == ["目标任务", "县(市、区)", "计入目标", "本县完成(万亩)"]
    assert bc.freeze_panes == "A2"
    got = {(r[0].value, r[1].value): (r[2].value, r[3].value) for r in bc.iter_rows(min_row=2) if r[0].value}
    assert got[("新建水田", "大安市")] == ("是", pytest.approx(0.2850, abs=1e-6))
    # 洮北区 is outside the paddy pilot area (大安、镇赉): it says so, and keeps its real land
    assert got[("新建水田", "洮北区")] == ("不在试点范围", pytest.approx(0.0525, abs=1e-6))
    assert got[("新建水田", "市界外")] == ("否", pytest.approx(0.0150, abs=1e-6))
    assert got[("新建水田", "大安市")][0] == "是"
    assert bc["D2"].number_format == "#,##0.00##"
    empty = {k: v for k, v in got.items() if v[0] == "不在试点范围" and not isinstance(v[1], float)}
    assert empty and set(v[1] for v in empty.values()) == {"不在试点范围"}  # never 0 of the city figure

    fl = wb["问题图斑"]
    flags = [r[0].value for r in fl.iter_rows(min_row=2) if r[1].value]
    assert sorted(set(flags)) == sorted({"同类重复申报", "位于自然保护区", "超出市界", "申报面积与计算面积不符"})
    method = wb["方法与数据"]
    text = "\n".join(str(c.value) for row in method.iter_rows() for c in row if c.value)
    assert "合成演示数据" in text and "并集" in text and "2024-06-30" in text and "baicheng-2024.yml" in text

    sites = wb["连片地块"]
    got = [(r[3].value, r[4].value) for r in sites.iter_rows(min_row=2) if r[1].value]
    assert got == [(pytest.approx(1440, abs=0.01), "千亩级辐射示范基地"), (pytest.approx(240, abs=0.01), None)]


def test_csv_and_html(outputs):
    csv = pd.read_csv(outputs.paths["csv"], encoding="utf-8-sig", comment="#")
    assert list(csv.columns[:3]) == ["目标代码", "目标任务", "范围"]
    assert len(csv) == 14
    assert csv.set_index("目标代码").loc["paddy_new", "已完成(万亩)"] == pytest.approx(0.3825, abs=1e-6)
    page = outputs.paths["html"].read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and page.count("stroke-dasharray") == 14  # a pace marker per target
    assert "合成演示数据" in page and "<script" not in page
    assert not re.search(r"(src|href)=\"https?:", page), "the page must work offline"
    assert "新建水田" in page and "0.3825" in page and "2,024" not in page
    assert "全市目标(万亩)" in page and "分县 — 本县完成(万亩)" in page and "不在试点范围" in page
    assert "现场核查" not in page  # no registry, no inspection section


def test_english(tmp_path, fixture_layers):
    parcels, counties, reserve = fixture_layers
    out = run_progress(tmp_path, parcels=parcels, counties=counties, as_of="2024-06-30", lang="en")
    wb = load_workbook(out.paths["xlsx"])
    assert wb.sheetnames[0] == "Summary" and wb.sheetnames[-1] == "Method and data"
    header = [c.value for c in wb["Summary"][2]]
    assert header[:5] == ["Target", "Scope", "Requirement", "City target (10k mu)", "Achieved (10k mu)"]
    assert [c.value for c in wb["By county"][1]][2:4] == ["Counts", "Completed in the county (10k mu)"]
    assert wb["Summary"]["B3"].value == "Da'an City, Zhenlai County"
    assert out.synthetic_batches == [] and "synthetic" not in out.paths["html"].read_text(encoding="utf-8")


def test_cli_on_a_real_registry_geopackage(tmp_path, monkeypatch):
    """A small GeoPackage registry written by layers.registry, real county layer, the CLI."""
    registry = pytest.importorskip("layers.registry")
    import layers
    from gis.area import area_mu

    counties = layers.load("counties", workspace=False).to_crs(4550)
    da = counties[counties.county_code == DA].geometry.iloc[0]
    x, y = da.representative_point().coords[0]
    a, b = box(x, y, x + 1000, y + 1000), box(x + 500, y, x + 1500, y + 1000)
    hsf = box(x, y - 2000, x + 1000, y - 1000)
    rows = gdf({"project_code": ["R1", "R2", "R3"], "project_name": ["水田一", "水田二", "高标一"],
                "category": ["paddy_new", "paddy_new", "high_standard_farmland"],
                "county_code": [DA] * 3, "year": [2024] * 3, "status": ["completed", "accepted", "accepted"],
                "declared_area_mu": [1500.0, None, None], "area_mu": [None] * 3,
                "investment_wan_yuan": [None] * 3}, [a, b, hsf])
    rows["area_mu"] = area_mu(rows)
    path = tmp_path / "registry.gpkg"
    reg = registry.Registry(path)
    reg.write(rows, source="test.gpkg", sha256=hashlib.sha256(b"t").hexdigest(), synthetic=True)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["progress", "--registry", str(path), "-o", "out", "--as-of", "2024-06-30",
                                    "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "New paddy fields" in res.output and "synthetic" in res.output
    assert (tmp_path / "out" / "progress.csv").read_text(encoding="utf-8-sig").splitlines()[-1].startswith(
        "# ") and "synthetic" in (tmp_path / "out" / "progress.csv").read_text(encoding="utf-8-sig").splitlines()[-1]
    csv = pd.read_csv(tmp_path / "out" / "progress.csv", encoding="utf-8-sig", comment="#").set_index("Target key")
    union = gdf({"x": [1]}, [a.union(b)])
    # 万亩 to 4 decimals in the CSV (tidy numbers): 1 亩
    assert csv.loc["paddy_new", "Achieved (10k mu)"] == round(float(area_mu(union)[0]) / 1e4, 4)
    assert csv.loc["high_standard_farmland", "Achieved (10k mu)"] == round(float(area_mu(rows.iloc[[2]])[0]) / 1e4, 4)
    wb = load_workbook(tmp_path / "out" / "progress.xlsx")
    assert "synthetic" in wb["Method and data"]["B2"].value


def test_cli_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["progress", "--registry", "missing.gpkg"])
    assert res.exit_code == 1
    assert "错误:项目库 missing.gpkg 不存在;请先导入地块" in res.output
    res = CliRunner().invoke(main, ["progress", "--registry", "missing.gpkg", "--lang", "en"])
    assert "error: registry missing.gpkg does not exist; import parcels first" in res.output
    bad = tmp_path / "t.yml"
    bad.write_text("city: {code: '220800', name_zh: 白城市, name_en: Baicheng}\nyear: 2024\n"
                   "targets:\n  - {key: x, category: rice, name_zh: x, name_en: x, value: 1, unit: mu}\n",
                   encoding="utf-8")
    res = CliRunner().invoke(main, ["progress", "--targets", str(bad), "--registry", "missing.gpkg", "--lang", "en"])
    assert res.exit_code == 1 and "t.yml: target 'x': unknown category 'rice'" in res.output
