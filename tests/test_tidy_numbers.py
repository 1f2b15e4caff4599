"""Tidy numbers (issue 16 part 4): user-facing figures rounded to their unit's precision
(万亩 4 decimals, 亩 2, % 1) in CSV and Excel, in one place (gis.outputs); GeoPackages
keep full precision."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook

from gis.outputs import Sheet, tidy_numbers, unit_decimals, write_csv, write_excel
from test_tracking import DA, PARCELS, TB, ZL, gdf, rect  # the hand-built progress fixture
from workflows.progress import run_progress

NOISE = re.compile(r"\d+\.\d{5,}")


@pytest.fixture(scope="module")
def progress(tmp_path_factory):
    cols = ["project_code", "category", "year", "status", "declared_area_mu"]
    rows = {c: [p[i] for p in PARCELS] for i, c in enumerate(cols)}
    parcels = gdf(rows, [p[-1] for p in PARCELS])
    counties = gdf({"county_code": [DA, ZL, TB], "name_zh": ["大安市", "镇赉县", "洮北区"]},
                   [rect(0, 0, 3000, 3000), rect(0, 3000, 3000, 6000), rect(3000, 0, 6000, 6000)])
    return run_progress(tmp_path_factory.mktemp("p"), parcels=parcels, counties=counties, as_of="2024-06-30")


def test_progress_csv_has_no_float_noise(progress):
    raw = progress.result.summary.set_index("key")
    assert raw.loc["paddy_new", "achieved_wan_mu"] == pytest.approx(0.38249996883005344)  # what is computed
    text = progress.paths["csv"].read_text(encoding="utf-8-sig")
    assert NOISE.findall(text) == []
    csv = pd.read_csv(progress.paths["csv"], encoding="utf-8-sig", comment="#").set_index("目标代码")
    assert csv.loc["paddy_new", ["已完成(万亩)", "完成率(%)", "尚差(万亩)", "全市目标(万亩)"]].tolist() == [
        0.3825, 1.6, 23.5075, 23.89]
    assert csv.loc["saline_demo_area", "全市目标(万亩)"] == 10.0


def test_progress_excel_cells_are_rounded(progress):
    ws = load_workbook(progress.paths["xlsx"]).worksheets[0]
    values = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, float)]
    assert values and all(round(v, 4) == v for v in values)
    assert 0.3825 in values and 0.38249996883005344 not in values


def test_units_by_header():
    assert [unit_decimals(h) for h in ("目标(万亩)", "Target (10k mu)", "面积(亩)", "Area (mu)", "area (mu)",
                                       "完成率(%)", "Achieved (%)", "年度", "n_parcels")] == [4, 4, 2, 2, 2, 1, 1,
                                                                                               None, None]


def test_only_unit_columns_are_rounded_and_text_is_kept(tmp_path):
    df = pd.DataFrame({"目标(万亩)": [9.999999999999998, np.nan], "面积(亩)": [22.999999999999996, 1.005001],
                       "完成率(%)": [99.94999, 12.25], "说明(亩)": ["约 1.23456 亩", None], "x": [0.1234567, 2.0],
                       "计入图斑数": [3, 4]})
    t = tidy_numbers(df)
    assert t["目标(万亩)"].iloc[0] == 10.0 and np.isnan(t["目标(万亩)"].iloc[1])
    assert t["面积(亩)"].tolist() == [23.0, 1.01] and t["完成率(%)"].tolist() == [99.9, 12.2]
    assert t["说明(亩)"].iloc[0] == "约 1.23456 亩" and t["x"].iloc[0] == 0.1234567 and t["计入图斑数"].tolist() == [3, 4]
    assert df["目标(万亩)"].iloc[0] == 9.999999999999998  # the caller's frame is untouched
    write_csv(tmp_path / "t.csv", df)
    assert tmp_path.joinpath("t.csv").read_text(encoding="utf-8-sig").splitlines()[1] == \
        "10.0,23.0,99.9,约 1.23456 亩,0.1234567,3"
    write_excel(tmp_path / "t.xlsx", [Sheet("t", df)])
    ws = load_workbook(tmp_path / "t.xlsx")["t"]
    assert [c.value for c in ws[2]] == [10, 23, 99.9, "约 1.23456 亩", 0.1234567, 3]


def test_geopackage_keeps_full_precision(tmp_path):
    import geopandas as gpd
    from shapely import box

    from gis.area import area_mu
    from layers.registry import Registry
    from workflows.check import CheckOptions, run_check

    g = [box(123.40, 45.94, 123.41, 45.95), box(123.405, 45.94, 123.415, 45.95)]
    rows = gpd.GeoDataFrame({"project_code": ["A", "B"], "project_name": None, "category": "paddy_new",
                             "county_code": "220821", "year": 2024, "status": "planned", "declared_area_mu": np.nan,
                             "area_mu": area_mu(g, crs="EPSG:4490"), "investment_wan_yuan": np.nan},
                            geometry=g, crs="EPSG:4490")
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(rows, source="test", sha256="0" * 64)
    import layers

    res = run_check(reg.path, tmp_path / "o", fmt="csv", lang="en", counties=layers.load("counties", workspace=False),
                    options=CheckOptions(protected_areas=rows.iloc[:0]))
    full = float(area_mu(box(123.405, 45.94, 123.41, 45.95), crs="EPSG:4490"))
    assert round(full, 2) != full
    assert pyogrio.read_dataframe(res.gpkg, layer="overlap_same")["overlap_mu"].iloc[0] == pytest.approx(full, abs=1e-9)
    assert pd.read_csv(res.table, comment="#")["area (mu)"].iloc[0] == round(full, 2)
