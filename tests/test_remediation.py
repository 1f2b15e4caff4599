"""`agrigis remediation` on a tiny NDVI stack with parcels whose verdicts are known."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import rioxarray  # noqa: F401
import xarray as xr
from click.testing import CliRunner
from rasterio.transform import from_origin
from shapely import box

from gis.errors import ConfigError, InputError
from workflows.cli import main
from workflows.remediation import run_remediation

X0, Y0, RES = 500000.0, 5040000.0, 100.0
DATES = pd.DatetimeIndex([pd.Timestamp(y, m, 1) for y in range(2016, 2026) for m in range(4, 11)])


def peak_curve(kind: str, year: int) -> float:
    return {"up": 0.35 + (0.06 * (year - 2020) if year > 2020 else 0.0),
            "flat": 0.55,
            "down": 0.70 - 0.04 * (year - 2016)}[kind]


def value(kind, t, rng):
    bump = np.sin(np.pi * (t.month - 4) / 6)
    return 0.12 + (peak_curve(kind, t.year) - 0.12) * bump + rng.normal(0, 0.01)


@pytest.fixture()
def scene():
    """6 x 6 cells; parcels over columns 0-1 (up), 2-3 (flat), 4-5 (down)."""
    rng = np.random.default_rng(7)
    arr = np.zeros((len(DATES), 6, 6))
    for i, t in enumerate(DATES):
        for k, kind in enumerate(("up", "flat", "down")):
            arr[i, :, 2 * k:2 * k + 2] = value(kind, t, rng)
    arr[5, 0, 0] = np.nan  # a cloudy cell
    da = xr.DataArray(arr, dims=("time", "y", "x"),
                      coords={"time": DATES, "y": Y0 - RES * (np.arange(6) + 0.5), "x": X0 + RES * (np.arange(6) + 0.5)})
    da = da.rio.write_crs("EPSG:4550")
    geoms = [box(X0 + 200 * k, Y0 - 600, X0 + 200 * (k + 1), Y0) for k in range(3)]
    parcels = gpd.GeoDataFrame(
        {"project_code": ["P-UP", "P-FLAT", "P-DOWN"], "project_name": ["新田", "示范", "改善"],
         "category": ["paddy_new", "saline_demo_area", "paddy_improved"], "county_code": ["220882"] * 3,
         "year": [2020, 2020, 2020], "status": ["completed"] * 3},
        geometry=geoms, crs="EPSG:4550",
    ).to_crs("EPSG:4490")
    other = parcels.iloc[[0]].assign(project_code="HSF-1", category="high_standard_farmland")
    return da, pd.concat([parcels, other], ignore_index=True)


def test_verdicts_table_and_outputs(scene, tmp_path):
    da, parcels = scene
    res = run_remediation(tmp_path / "out", parcels=parcels, stack=da, index="NDVI", lang="en")
    t = res.table.set_index("project_code")
    assert list(t.index) == ["P-UP", "P-FLAT", "P-DOWN"]  # high-standard farmland is not monitored
    assert t["verdict"].tolist() == ["improving", "no_clear_change", "worsening"]
    assert t.loc["P-UP", "area_mu"] == pytest.approx(180.0, rel=1e-3)  # 200 m x 600 m = 12 ha
    # baseline: growing season 2016-2019 of the 'up' parcel: peak 0.35 everywhere
    mean_bump = (0.5 + np.sqrt(3) / 2 + 1 + np.sqrt(3) / 2 + 0.5) / 5
    assert t.loc["P-UP", "baseline_mean"] == pytest.approx(0.12 + 0.23 * mean_bump, abs=0.005)
    assert t.loc["P-UP", "peak_after"] == pytest.approx(0.35 + 0.06 * 3, abs=0.01)  # mean of 2021..2025 peaks
    assert t.loc["P-DOWN", "slope_per_year"] == pytest.approx(-0.04, abs=0.005)
    assert t["verdict_rule"].iloc[0].startswith("NDVI (ndvi, higher is better): improving if Mann-Kendall p < 0.05")
    # series: one column per date, the cloudy cell left out on its date
    assert res.series.shape == (3, 70)
    assert res.paths["csv"].exists() and res.paths["xlsx"].exists()
    csv = pd.read_csv(res.paths["csv"], comment="#")
    assert "Verdict" in csv.columns and csv["Verdict"].tolist() == ["improving", "no clear change", "worsening"]
    g = gpd.read_file(res.paths["gpkg"], layer="remediation")
    assert g.crs.to_epsg() == 4490 and len(g) == 3
    chart = json.loads(g.loc[g.project_code == "P-UP", "series_json"].iloc[0])
    assert len(chart["dates"]) == 70 and chart["verdict"] == "improving"
    side = json.loads(res.paths["json"].read_text(encoding="utf-8"))
    assert side["index"] == "ndvi" and set(side["parcels"]) == {"P-UP", "P-FLAT", "P-DOWN"}
    about = pd.read_excel(res.paths["xlsx"], sheet_name="About").set_index("Item")["Value"]
    assert about.str.contains("Rouse").any() and about["synthetic data"] in ("yes", "no")


def test_chinese_headers_by_default(scene, tmp_path):
    da, parcels = scene
    res = run_remediation(tmp_path, parcels=parcels, stack=da)
    csv = pd.read_csv(res.paths["csv"], encoding="utf-8-sig", comment="#")
    assert {"项目编号", "结论", "判定规则", "治理前均值(生长季)"} <= set(csv.columns)
    assert csv["结论"].tolist() == ["改善", "无明显变化", "变差"]
    assert csv["项目类型"].tolist() == ["新建水田", "盐碱地综合利用示范片区", "改善水田"]
    # no codes or English left in a Chinese table: status, trend basis and method, the rule
    from gis.labels import STATUSES

    assert set(csv["状态"]) <= {zh for zh, _ in STATUSES.values()}
    assert set(csv["趋势依据"]) == {"逐年季节峰值"}
    assert set(csv["趋势方法"]) == {"Theil-Sen 斜率 + Mann-Kendall 检验"}
    assert csv["判定规则"].iloc[0].startswith("NDVI(ndvi,越高越好):Mann-Kendall 检验 p < 0.05 且 Theil-Sen 斜率 > 0")
    assert res.table["verdict_rule"].iloc[0].startswith("NDVI (ndvi, higher is better)")  # the data stay codes


def test_multiband_geotiff_with_dated_bands_and_scale(scene, tmp_path):
    da, parcels = scene
    path = tmp_path / "ndvi.tif"
    n = len(DATES)
    with rasterio.open(path, "w", driver="GTiff", width=6, height=6, count=n, dtype="int16", nodata=-32768,
                       crs="EPSG:4550", transform=from_origin(X0, Y0, RES, RES)) as dst:
        for i in range(n):
            dst.write(np.where(np.isnan(da.values[i]), -32768, np.round(da.values[i] * 1e4)).astype("int16"), i + 1)
            dst.set_band_description(i + 1, DATES[i].strftime("%Y-%m-%d"))
        dst.scales = [1e-4] * n
    res = run_remediation(None, parcels=parcels, stack=path)
    assert res.table["verdict"].tolist() == ["improving", "no_clear_change", "worsening"]
    assert res.series.loc["P-FLAT"].max() == pytest.approx(0.55, abs=0.03)  # scaled, not DN
    assert res.paths == {}


def test_one_file_per_date(scene, tmp_path):
    da, parcels = scene
    files = []
    for t in DATES[::-1]:  # order of the files does not matter
        p = tmp_path / f"ndvi_{t:%Y%m%d}.tif"
        da.sel(time=t).rio.to_raster(p)
        files.append(p)
    res = run_remediation(None, parcels=parcels, stack=files)
    assert list(res.series.columns) == list(DATES)
    assert res.table["verdict"].tolist() == ["improving", "no_clear_change", "worsening"]


def test_salinity_index_direction(scene):
    da, parcels = scene
    res = run_remediation(None, parcels=parcels, stack=da, index="SI1")  # same numbers, lower is better
    assert res.table["verdict"].tolist() == ["worsening", "no_clear_change", "improving"]


def test_bad_inputs(scene, tmp_path):
    da, parcels = scene
    with pytest.raises(ConfigError, match=r"unknown spectral index 'NDXI'; known indices: NDVI \(ndvi\)"):
        run_remediation(None, parcels=parcels, stack=da, index="NDXI")
    with pytest.raises(InputError, match=r"no parcels of category wetland_restoration to monitor; categories present: high_standard_farmland, paddy_improved, paddy_new, saline_demo_area"):
        run_remediation(None, parcels=parcels, stack=da, categories=["wetland_restoration"])
    with pytest.raises(InputError, match=r"stack: cannot tell the date of each band"):
        run_remediation(None, parcels=parcels, stack=da.rename(time="band").drop_vars("band"))
    bad = tmp_path / "ndvi_latest.tif"
    da.isel(time=0).rio.to_raster(bad)
    with pytest.raises(InputError, match=r"index stack: cannot tell the date of 'ndvi_latest.tif'") as e:
        run_remediation(None, parcels=parcels, stack=[bad, bad])
    assert e.value.text("zh").startswith("指数时间序列:无法判断 'ndvi_latest.tif' 的日期;")
    with pytest.raises(InputError) as e:
        run_remediation(None, parcels=parcels, stack=da.rename(time="band").drop_vars("band"))
    assert e.value.text("zh").startswith("时间序列:无法判断每个波段的日期;请把波段描述设为 YYYY-MM-DD")


def test_cli_errors_are_plain(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["remediation", "--registry", str(tmp_path / "none.gpkg"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert res.output.startswith("错误:项目库 ")  # nothing before it: no empty progress-bar line
    assert "不存在;请先导入地块" in res.output
    res = runner.invoke(main, ["remediation", "--index", "foo", "-o", str(tmp_path / "o"), "--lang", "en"])
    assert res.exit_code == 1 and "error: unknown spectral index 'foo'; known indices: NDVI (ndvi), " in res.output
    res = runner.invoke(main, ["remediation", "--index", "foo", "-o", str(tmp_path / "o")])
    assert res.exit_code == 1 and "错误:无法识别的光谱指数 'foo';已知的指数:NDVI (ndvi), " in res.output
    res = runner.invoke(main, ["remediation", "--season", "5to9", "-o", str(tmp_path / "o")])
    assert res.exit_code == 1 and res.output.strip().splitlines()[-1] == "错误:--season '5to9':请把起止月份写成 M-M,如 5-9"
    res = runner.invoke(main, ["remediation", "--help"])
    assert res.exit_code == 0 and "--stack" in res.output


def test_cli_end_to_end_with_registry_and_stack_file(scene, tmp_path):
    from workflows.importing import import_files

    da, parcels = scene
    src = tmp_path / "parcels.gpkg"
    parcels.assign(county_code="220802").to_file(src, layer="parcels", driver="GPKG")
    reg = tmp_path / "registry.gpkg"
    import_files([src], registry=reg, synthetic=True)
    stack = tmp_path / "ndvi.tif"
    da.rename(time="band").assign_coords(band=np.arange(1, len(DATES) + 1)).rio.to_raster(stack)
    with rasterio.open(stack, "r+") as dst:
        for i, t in enumerate(DATES, start=1):
            dst.set_band_description(i, t.strftime("%Y-%m-%d"))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["remediation", "--registry", str(reg), "--stack", str(stack), "-o", str(out),
                                    "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "improving: 1, no clear change: 1, worsening: 1, insufficient data: 0" in res.output
    assert "demo data (synthetic, not real)" in res.output  # the parcels came from a synthetic batch
    t = pd.read_csv(out / "remediation.csv", comment="#")
    assert sorted(t["Project code"]) == ["P-DOWN", "P-FLAT", "P-UP"]
