"""Evidence from imagery (issue 20): SYNTHETIC Sentinel-2 L2A products in the real layout
over Da'an (:func:`layers.imagery.synthetic.paddy_scenario`) → ``agrigis imagery stack
--index NDVI,LSWI,EVI`` → :func:`gis.evidence.verify` / ``agrigis verify``.

The stack grid is the products' own 10 m grid (EPSG:32651), so a stack cell is a product
cell and index values can be checked against the raw JPEG 2000 digital numbers.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from click.testing import CliRunner

from gis.coverage import Coverage, Grid
from gis.errors import ConfigError, InputError
from gis.evidence import EvidenceRules, flood_signal, load_rules, parse_rules, support_summary, verify
from gis.masks import MaskOptions
from layers.imagery import open_product
from layers.imagery.stack import StackOptions, index_stack
from layers.imagery.synthetic import PADDY_DATES, PADDY_PLANTED, paddy_scenario
from workflows.cli import main
from workflows.verify import RULES_FILE, open_evidence_stack, run_verify

BOUNDS = "578000,5016000,580000,5018000"  # the products' extent (200 × 200 cells of 10 m)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    folder = tmp_path_factory.mktemp("paddy")
    sc = paddy_scenario(folder / "products")
    nc = folder / "stack.nc"
    res = CliRunner().invoke(main, ["imagery", "stack", str(folder / "products"), "--index", "NDVI,LSWI,EVI",
                                    "--aoi", BOUNDS, "--crs", "EPSG:32651", "--res", "10", "-o", str(nc)])
    assert res.exit_code == 0, res.output
    return sc, folder, nc


@pytest.fixture(scope="module")
def result(scenario):
    sc, _, nc = scenario
    return run_verify(None, stack=nc, parcels=sc.parcels, year=2024)


def _row(res, code):
    return res.table.set_index("project_code").loc[code]


def _dn(product, band: str) -> np.ndarray:
    """Reflectance of a band from its JPEG 2000 file (baseline 04.00: (DN − 1000) / 10000)."""
    res = 20 if band == "B11" else 10
    path = next(product.glob(f"GRANULE/*/IMG_DATA/R{res}m/*_{band}_{res}m.jp2"))
    with rasterio.open(path) as src:
        raw = src.read(1).astype("float64")
    refl = (raw - 1000) / 10000
    return np.repeat(np.repeat(refl, 2, axis=0), 2, axis=1) if res == 20 else refl


# ------------------------------------------------------------------------------ the stack


def test_the_stack_command_writes_one_variable_per_index(scenario):
    _, _, nc = scenario
    stack, synthetic = open_evidence_stack(nc)
    assert sorted(stack) == ["evi", "lswi", "ndvi"] and synthetic
    assert [pd.Timestamp(t).strftime("%m-%d") for t in stack["ndvi"].time.values] == [
        f"{m:02d}-{d:02d}" for m, d in PADDY_DATES]


def test_index_values_used_by_the_rule_equal_those_from_the_raw_bands(scenario):
    sc, _, nc = scenario
    stack, _ = open_evidence_stack(nc)
    interior = np.zeros((200, 200), dtype=bool)
    for r0, r1, c0, c1 in sc.boxes.values():
        interior[r0 + 2:r1 - 2, c0 + 2:c1 - 2] = True
    c0 = sc.boxes["PADDY-HALF"][2]
    interior[:, c0 + 14:c0 + 18] = False  # 20 m SWIR is mixed on the line between the halves
    for k, product in enumerate(sc.products):
        b, r, nir, swir = (_dn(product, x) for x in ("B02", "B04", "B08", "B11"))
        want = {"ndvi": (nir - r) / (nir + r), "lswi": (nir - swir) / (nir + swir),
                "evi": 2.5 * (nir - r) / (nir + 6 * r - 7.5 * b + 1)}
        clear = np.isfinite(stack["ndvi"].values[k])
        use = interior & clear
        assert use.sum() > 6 * 26 * 25  # every parcel's interior but a clouded one
        for name, v in want.items():
            np.testing.assert_allclose(stack[name].values[k][use], v[use], atol=2e-6, err_msg=f"{name} {k}")
        flood = flood_signal(stack["lswi"].values[k], stack["evi"].values[k])
        assert (flood[use] == (want["lswi"] + 0.05 >= want["evi"])[use]).all()


# ------------------------------------------------------------------------------ verdicts


def test_verdicts_come_out_as_planted(result):
    got = dict(zip(result.table.project_code, result.table.verdict, strict=True))
    want = {c: v for c, (_, v) in PADDY_PLANTED.items() if v != "depends"}
    assert {c: got[c] for c in want} == want
    ok = _row(result, "PADDY-OK")
    assert ok.n_obs == 3 and ok.first_flood == pd.Timestamp("2024-05-28") and ok.support == "supported"
    assert ok.peak_ndvi == pytest.approx(0.85, abs=1e-3) and ok.peak_date == pd.Timestamp("2024-08-08")
    assert ok.flooded_share == pytest.approx(896 / 900, abs=1e-9)  # the 4 corner cells mix bare SWIR
    assert ok.flood_rule == "LSWI + 0.05 ≥ EVI"
    dry, late = _row(result, "PADDY-DRY"), _row(result, "PADDY-LATE")
    assert dry.flooded_share == 0 and late.flooded_share == 0 and pd.isna(late.first_flood)
    assert dry.peak_ndvi == pytest.approx(0.80, abs=1e-3) and late.n_obs == 3
    cult = _row(result, "CULT-OK")
    assert cult.n_obs == 7 and cult.greenup == pytest.approx(0.6, abs=1e-3)
    assert _row(result, "CULT-BARE").peak_ndvi == pytest.approx(0.2, abs=1e-3)


def test_the_all_cloud_parcel_is_unobserved_not_a_no(result, scenario):
    cloud = _row(result, "PADDY-CLOUD")
    assert cloud.verdict == "insufficient" and cloud.support == "unobserved"
    assert cloud.n_obs == 0 and cloud.observed_share == 0
    # without the cloud mask the clouds read as flooding (LSWI + 0.05 ≥ EVI): a false "signal"
    sc, _, _ = scenario
    scenes = [open_product(p).scene(10) for p in sc.products]
    grid = Grid.from_bounds((578000, 5016000, 580000, 5018000), crs="EPSG:32651", res=10)
    opts = StackOptions(mask=MaskOptions(scl_classes=(0,)))
    raw = {ix: index_stack(scenes, ix, grid, opts) for ix in ("NDVI", "LSWI", "EVI")}
    raw = {da.name: da for da in raw.values()}
    parcels = sc.parcels.set_index("project_code")
    out = verify(parcels.loc[["PADDY-CLOUD"]], raw, 2024)
    assert out.loc["PADDY-CLOUD", "verdict"] == "signal"


def test_a_half_flooded_parcel_reports_half_its_area(result, scenario):
    sc, _, nc = scenario
    half = _row(result, "PADDY-HALF")
    assert half.flooded_share == pytest.approx(0.5, abs=0.01)
    assert half.flooded_area_mu == pytest.approx(half.flooded_share * half.area_mu, rel=1e-12)
    # the same share from the coverage weights and the flood rule applied here by hand
    stack, _ = open_evidence_stack(nc)
    t = pd.DatetimeIndex(stack["ndvi"].time.values)
    win = (t >= "2024-05-10") & (t <= "2024-06-21")
    lswi, evi = stack["lswi"].values[win], stack["evi"].values[win]
    flooded = ((lswi + 0.05 >= evi) & np.isfinite(lswi) & np.isfinite(evi)).any(axis=0).ravel()
    zones = sc.parcels.set_index("project_code").loc[["PADDY-HALF"]]
    w = Coverage.build(zones, Grid.of(stack["ndvi"])).matrix
    assert half.flooded_share == pytest.approx(float((w @ flooded)[0] / w.sum()), abs=1e-9)
    # its verdict follows the rule's minimum share
    for share, verdict in ((0.4, "signal"), (0.6, "no_signal")):
        rules = parse_rules({"paddy": {"min_flooded_share": share}})
        data, _ = open_evidence_stack(nc)
        assert verify(zones, data, 2024, rules).loc["PADDY-HALF", "verdict"] == verdict


def test_ndvi_stands_in_for_evi_when_the_stack_has_none(scenario):
    sc, _, nc = scenario
    data, _ = open_evidence_stack(nc)
    del data["evi"]
    out = verify(sc.parcels.set_index("project_code"), data, 2024)
    assert out.loc["PADDY-OK", "verdict"] == "signal" and out.loc["PADDY-DRY", "verdict"] == "no_signal"
    assert out.loc["PADDY-OK", "flood_rule"] == "LSWI + 0.05 ≥ NDVI"
    del data["lswi"]
    with pytest.raises(InputError, match=r"the stack holds no LSWI \(it has: ndvi\); make it with agrigis imagery "
                                         r"stack --index NDVI,LSWI,EVI"):
        verify(sc.parcels.set_index("project_code"), data, 2024)


# ------------------------------------------------------------------------------ rules table


def test_the_rules_file_is_the_defaults_and_a_bad_rule_names_its_key(tmp_path):
    rules = load_rules(RULES_FILE)
    assert rules == EvidenceRules() and "Xiao" in rules.sources["paddy"] and "Dong" in rules.sources["paddy"]
    bad = tmp_path / "r.yml"
    bad.write_text('paddy:\n  window: ["05-10", "6/20"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"r.yml: paddy.window must be a date as MM-DD such as 05-10, not 6/20"):
        load_rules(bad)
    bad.write_text("cultivation:\n  peak: 0.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"r.yml: unknown rule key cultivation.peak; the keys are: categories, "):
        load_rules(bad)


def test_support_summary_counts_claimed_complete_area_only():
    t = pd.DataFrame({"category": ["paddy_new"] * 3 + ["new_cultivated_land"],
                      "status": ["completed", "accepted", "planned", "completed"], "area_mu": [10.0, 20.0, 5.0, 7.0],
                      "support": ["supported", "unobserved", "not_supported", "not_supported"]})
    s = support_summary(t)
    assert s.loc["paddy_new"].to_dict() == {"claimed_mu": 30.0, "supported_mu": 10.0, "not_supported_mu": 0.0,
                                            "unobserved_mu": 20.0}
    assert s.loc["new_cultivated_land", "not_supported_mu"] == 7.0


# ------------------------------------------------------------------------------ the command


def test_cli_verify_writes_tables_and_a_layer(scenario, tmp_path):
    sc, _, nc = scenario
    sc.parcels.to_file(tmp_path / "parcels.gpkg", driver="GPKG")
    reg = tmp_path / "reg.gpkg"
    res = CliRunner().invoke(main, ["import", str(tmp_path / "parcels.gpkg"), "--registry", str(reg)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["verify", "--stack", str(nc), "--registry", str(reg), "--year", "2024",
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "水田(淹水移栽信号):" in res.output and "观测不足 1" in res.output
    csv = pd.read_csv(out / "evidence.csv", comment="#")
    rows = csv.set_index("项目编号")
    assert rows.loc["PADDY-OK", "核验结论"] == "有水田信号" and rows.loc["PADDY-DRY", "核验结论"] == "无水田信号"
    assert rows.loc["PADDY-CLOUD", "核验结论"] == "观测不足" and rows.loc["PADDY-OK", "首次淹水日期"] == "2024-05-28"
    assert rows.loc["SALINE", "核验结论"] == "数据不足"
    layer = gpd.read_file(out / "evidence.gpkg", layer="evidence").set_index("project_code")
    assert layer.crs.to_epsg() == 4490 and layer.loc["PADDY-OK", "verdict"] == "signal"
    curve = json.loads(layer.loc["PADDY-OK", "series_json"])
    assert curve["window"] == ["2024-05-10", "2024-06-20"] and curve["first_flood"] == "2024-05-28"
    assert len(curve["dates"]) == 7 and curve["values"][5] == pytest.approx(0.85, abs=1e-3)
    xlsx = pd.read_excel(out / "evidence.xlsx", sheet_name=None)
    assert list(xlsx) == ["地块核验", "按类别汇总", "说明"]
    res = CliRunner().invoke(main, ["verify", "--stack", str(nc), "--registry", str(reg), "--year", "2023",
                                    "-o", str(tmp_path / "x"), "--lang", "en"])
    assert res.exit_code == 1 and "the stack has no observation in 2023 (it has: 2024)" in res.output
    assert not (tmp_path / "x" / "evidence.csv").exists()


def test_more_window_dates_than_can_be_packed_is_a_clear_error():
    import pandas as pd

    from gis.errors import InputError
    from gis.evidence import flood_flags

    t = pd.date_range("2024-05-10", periods=65, freq="12h")
    da = xr.DataArray(np.zeros((65, 2, 2)), dims=("time", "y", "x"), coords={"time": t})
    with pytest.raises(InputError, match=r"^65 image dates fall in the observation window, more than 64; shorten"):
        flood_flags(da, da)
