"""``agrigis check`` on a registry with known problems."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from openpyxl import load_workbook
import pyogrio
import pytest
from click.testing import CliRunner
from shapely import box

from gis.area import area_mu
from layers.registry import Registry
from workflows.check import run_check
from workflows.cli import main


@pytest.fixture()
def registry(tmp_path):
    a = box(123.40, 45.94, 123.41, 45.95)              # Zhenlai
    geoms = [
        a,
        box(123.405, 45.94, 123.415, 45.95),            # same category, overlaps a by half
        box(123.40, 45.94, 123.4025, 45.95),            # other category inside a
        box(123.50, 45.94, 123.50025, 45.94025),         # sliver ≈ 0.82 亩
        box(123.60, 45.94, 123.61, 45.95),              # declared 10 % too large
    ]
    mu = area_mu(geoms, crs="EPSG:4490")
    rows = gpd.GeoDataFrame({
        "project_code": ["A", "B", "C", "S", "M"], "project_name": None,
        "category": ["paddy_new", "paddy_new", "high_standard_farmland", "paddy_new", "afforestation"],
        "county_code": "220821", "year": 2024, "status": "planned",
        "declared_area_mu": [np.nan, np.nan, np.nan, np.nan, mu[4] * 1.10], "area_mu": mu,
        "investment_wan_yuan": np.nan,
    }, geometry=geoms, crs="EPSG:4490")
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(rows, source="test", sha256="0" * 64, synthetic=True)
    return reg


@pytest.fixture(scope="module")
def counties():
    import layers

    return layers.load("counties", workspace=False)


def test_run_check_finds_each_problem(registry, tmp_path, counties):
    res = run_check(registry.path, tmp_path / "out", lang="en", counties=counties)
    assert {k: res.count(k) for k in ("overlap_same", "overlap_cross", "area_mismatch", "sliver", "straddle")} == {
        "overlap_same": 1, "overlap_cross": 1, "area_mismatch": 1, "sliver": 1, "straddle": 0}
    p = res.problems.set_index("kind")
    assert p.loc["overlap_same", ["code_a", "code_b"]].tolist() == ["A", "B"]
    assert p.loc["overlap_cross", ["code_a", "code_b", "category_b"]].tolist() == ["A", "C", "high_standard_farmland"]
    assert p.loc["area_mismatch", "detail"].endswith("(+10.0 %)")
    assert res.synthetic
    x = pd.read_excel(res.table, sheet_name="check", nrows=4)
    assert "problem" in x.columns and x["problem"].notna().all()
    ws = load_workbook(res.table)["check"]  # the formatted report: note under the table, in the footer
    assert ws.freeze_panes == "A2" and ws.cell(row=7, column=1).value == "demo data (synthetic, not real)"
    assert ws.cell(row=6, column=1).value is None and ws.max_row == 7
    assert ws.oddFooter.center.text == "demo data (synthetic, not real)"
    layers = {str(n) for n, _ in pyogrio.list_layers(res.gpkg)}
    assert layers == {"overlap_same", "overlap_cross", "area_mismatch", "sliver"}
    ov = pyogrio.read_dataframe(res.gpkg, layer="overlap_same")
    half = float(area_mu(box(123.405, 45.94, 123.41, 45.95), crs="EPSG:4490"))
    assert ov["overlap_mu"].iloc[0] == pytest.approx(half)
    assert ov.geometry.iloc[0].equals(box(123.405, 45.94, 123.41, 45.95))


def test_check_cli_and_straddle(tmp_path, counties):
    # a parcel across the 洮北区 / 镇赉县 border
    c = counties.set_index("county_code")
    border = c.loc["220802", "geometry"].boundary.intersection(c.loc["220821", "geometry"].boundary)
    pt = border.representative_point() if not border.is_empty else None
    assert pt is not None
    g = box(pt.x - 0.01, pt.y - 0.01, pt.x + 0.01, pt.y + 0.01)
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(gpd.GeoDataFrame({"project_code": ["X"], "project_name": None, "category": "paddy_new",
                                "county_code": "220821", "year": 2024, "status": "planned",
                                "declared_area_mu": np.nan, "area_mu": float(area_mu(g, crs="EPSG:4490")),
                                "investment_wan_yuan": np.nan}, geometry=[g], crs="EPSG:4490"),
              source="t", sha256="0" * 64)
    res = CliRunner().invoke(main, ["check", "--registry", str(reg.path), "-o", str(tmp_path / "o"), "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert "跨县图斑: 1" in res.output
    t = pd.read_csv(tmp_path / "o" / "check.csv")
    assert t["问题类型"].tolist() == ["跨县图斑"] and t["项目编号A"].tolist() == ["X"]
