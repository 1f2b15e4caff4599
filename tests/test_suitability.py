"""Paddy suitability on a tiny hand-made scene whose candidate polygon and area are known.

Grid: EPSG:4550, 100 m cells, 12 rows × 20 columns, top-left (500000, 5040000) — on
the central meridian 123°E at ~45.5°N, where 1 cell = 1 ha = 15 亩 (to 1e-4).

- pH 10 (heavy → score 0) in rows 0–1, except row 0 cols 0–2 (pH 9.2, an island);
  pH 9.2 (moderate → 0.7) everywhere else;
- DEM flat at 130 m up to col 15, then a 10 m/cell ramp (slope 2.9° at col 15 and beyond);
- a canal along col 0; distance score 1 up to 800 m, 0 at 1500 m (col 15);
- a nature reserve over rows 6–11, cols 10–14; built-up land (class 6) rows 10–11, cols 0–1.

Expected candidate: rows 2–11 × cols 0–14 minus the reserve (30 cells) and the built-up
block (4 cells) = 116 cells = 1740 亩; the row-0 island (3 cells, 45 亩) is dropped by
min_block_mu = 100.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import geopandas as gpd
import rioxarray  # noqa: F401
from shapely import box, LineString

from gis.area import area_mu
from gis.errors import ConfigError, InputError, MissingCRSError
from gis.suitability import (
    cell_area_mu,
    contiguous_blocks,
    distance_to,
    local_relief,
    parse_config,
    screen,
    slope_degrees,
)

X0, Y0, RES, H, W = 500000.0, 5040000.0, 100.0, 12, 20


def da(values, crs="EPSG:4550"):
    a = xr.DataArray(np.asarray(values, dtype="float64"), dims=("y", "x"),
                     coords={"y": Y0 - RES * (np.arange(H) + 0.5), "x": X0 + RES * (np.arange(W) + 0.5)})
    return a.rio.write_crs(crs) if crs else a


def cells(r0, r1, c0, c1):
    """Planar box of rows r0..r1, cols c0..c1 (inclusive)."""
    return box(X0 + RES * c0, Y0 - RES * (r1 + 1), X0 + RES * (c1 + 1), Y0 - RES * r0)


CONFIG = {
    "grid": {"layer": "dem", "crs": "EPSG:4550"},
    "criteria": {
        "ph": {"layer": "soil_ph", "scheme": "ph_songnen",
               "class_scores": {"none": 1.0, "light": 0.9, "moderate": 0.7, "heavy": 0.0}},
        "slope": {"layer": "dem", "derive": "slope_deg", "scores": [[0.5, 1.0], [2.0, 0.0]]},
        "relief": {"layer": "dem", "derive": "relief_m", "window_m": 300, "scores": [[1, 1.0], [5, 0.0]]},
        "water": {"layers": ["canals"], "derive": "distance_m", "scores": [[0, 1], [800, 1], [1500, 0]]},
    },
    "exclusions": [{"layer": "protected_areas"}, {"layer": "landcover", "values": [5, 6]}],
    "min_score": 0.5,
    "min_block_mu": 100,
}


@pytest.fixture()
def scene():
    ph = np.full((H, W), 9.2)
    ph[0:2, :] = 10.0
    ph[0, 0:3] = 9.2
    c = np.arange(W)
    dem = np.tile(np.where(c >= 16, 130.0 + 10.0 * (c - 15), 130.0), (H, 1))
    lc = np.ones((H, W))
    lc[10:12, 0:2] = 6
    canal = gpd.GeoDataFrame(geometry=[LineString([(X0 + 50, Y0 + 500), (X0 + 50, Y0 - 2000)])], crs="EPSG:4550")
    reserve = gpd.GeoDataFrame(geometry=[cells(6, 11, 10, 14)], crs="EPSG:4550").to_crs("EPSG:4490")
    rasters = {"dem": da(dem), "soil_ph": da(ph), "landcover": da(lc)}
    vectors = {"canals": canal.to_crs("EPSG:4490"), "protected_areas": reserve}
    return rasters, vectors


def expected_polygon():
    return cells(2, 11, 0, 14).difference(cells(6, 11, 10, 14)).difference(cells(10, 11, 0, 1))


def test_candidate_polygon_and_area_are_known(scene):
    res = screen(*scene, CONFIG)
    cand = res.candidates
    assert len(cand) == 1 and cand.crs.to_epsg() == 4490
    row = cand.iloc[0]
    assert row["candidate_id"] == "C0001"
    geom = gpd.GeoSeries([row.geometry], crs="EPSG:4490").to_crs("EPSG:4550").iloc[0]
    assert geom.symmetric_difference(expected_polygon()).area < 1.0  # m², reprojection round trip
    assert row["area_mu"] == pytest.approx(1740.0, rel=2e-4)
    assert row["area_mu"] == pytest.approx(float(area_mu([expected_polygon()], crs="EPSG:4550")[0]), rel=1e-6)
    # pH moderate (0.7) is the lowest mean criterion score in the block
    assert row["limiting_factor"] == "ph"
    assert row["score_ph"] == pytest.approx(0.7) and row["score_slope"] == pytest.approx(1.0)
    water = (86 + 10 * (1 - 100 / 700) + 4 * sum(1 - d / 700 for d in (200, 300, 400, 500, 600))) / 116
    assert row["score_water"] == pytest.approx(water, rel=1e-3)
    assert row["score"] == pytest.approx((0.7 + 1 + 1 + water) / 4, rel=1e-3)
    assert res.total_mu == pytest.approx(1740.0, rel=2e-4)


def test_min_block_keeps_the_island_when_small_blocks_allowed(scene):
    res = screen(*scene, {**CONFIG, "min_block_mu": 0})
    assert sorted(res.candidates["area_mu"].round(0)) == [45.0, 1740.0]


def test_cell_level_outputs(scene):
    res = screen(*scene, CONFIG)
    assert np.isnan(res.score.values[7, 12])  # inside the reserve
    assert np.isnan(res.score.values[11, 0])  # built-up
    assert res.score.values[5, 3] == pytest.approx((0.7 + 3) / 4)
    assert res.limiting.values[5, 3] == 0  # ph
    assert res.limiting.values[5, 14] == 3  # water at 1400 m
    assert res.limiting.values[5, 17] in (1, 3)  # slope 0 and water 0 tie → first


def test_split_by_county(scene):
    west = gpd.GeoDataFrame({"county_code": ["220882"]}, geometry=[box(X0 - 1000, Y0 - 3000, X0 + 700, Y0 + 1000)], crs="EPSG:4550")
    east = gpd.GeoDataFrame({"county_code": ["220821"]}, geometry=[box(X0 + 700, Y0 - 3000, X0 + 5000, Y0 + 1000)], crs="EPSG:4550")
    counties = gpd.GeoDataFrame(pd_concat([west, east]), crs="EPSG:4550").to_crs("EPSG:4490")
    res = screen(*scene, CONFIG, counties=counties)
    by = res.by_county.set_index("county_code")["area_mu"]
    assert by["220882"] == pytest.approx(66 * 15, rel=2e-4)
    assert by["220821"] == pytest.approx(50 * 15, rel=2e-4)
    assert set(res.candidates["candidate_id"]) == {"C0001"}


def pd_concat(frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def test_soil_raster_on_another_grid_is_resampled(scene):
    rasters, vectors = scene
    ph50 = xr.DataArray(np.full((2 * H, 2 * W), 9.2), dims=("y", "x"),
                        coords={"y": Y0 - 50 * (np.arange(2 * H) + 0.5), "x": X0 + 50 * (np.arange(2 * W) + 0.5)})
    ph50.values[0:4, :] = 10.0
    ph50.values[0:2, 0:6] = 9.2
    res = screen({**rasters, "soil_ph": ph50.rio.write_crs("EPSG:4550")}, vectors, CONFIG)
    assert res.total_mu == pytest.approx(1740.0, rel=2e-4)


# --- building blocks -------------------------------------------------------------------


def test_slope_relief_distance():
    dem = np.tile(np.arange(5.0) * 100 * np.tan(np.radians(3)), (4, 1))
    np.testing.assert_allclose(slope_degrees(dem, 100.0), 3.0, atol=1e-9)
    np.testing.assert_allclose(local_relief(np.array([[0.0, 2.0, 0.0, 7.0]]), 3), [[2.0, 2.0, 7.0, 7.0]])
    m = np.zeros((3, 3), bool)
    m[0, 0] = True
    assert distance_to(m, 30.0)[2, 2] == pytest.approx(np.hypot(60, 60))


def test_cell_area_matches_gis_area_off_the_meridian():
    from rasterio.transform import from_origin

    t = from_origin(600000, 5040000, 1000, 1000)  # 100 km east of the CM: areal scale > 1
    a = cell_area_mu(t, (3, 200), "EPSG:4550")
    exact = area_mu([box(600000 + 1000 * 150, 5040000 - 2000, 600000 + 1000 * 151, 5040000 - 1000)], crs="EPSG:4550")[0]
    assert a[1, 150] == pytest.approx(exact, rel=1e-7)
    assert a[1, 199] < a[1, 0]  # farther from the meridian → smaller true area


def test_contiguous_blocks_4_vs_8_connectivity():
    m = np.array([[1, 0], [0, 1]], bool)
    assert contiguous_blocks(m, np.ones((2, 2)), 0, 8)[1].tolist() == [2.0]
    assert contiguous_blocks(m, np.ones((2, 2)), 0, 4)[1].tolist() == [1.0, 1.0]


# --- bad configurations and layers ---------------------------------------------------------


def test_thresholds_not_increasing():
    bad = {"criteria": {"slope": {"layer": "dem", "derive": "slope_deg", "scores": [[2, 0], [0.5, 1]]}}}
    with pytest.raises(ConfigError, match=r"suit\.yml: criteria\.slope: thresholds must be strictly increasing, but 0\.5 follows 2 in \[2\.0, 0\.5\]"):
        parse_config(bad, "suit.yml")


def test_unknown_scheme_and_class_scores():
    c = {"criteria": {"ph": {"layer": "soil_ph", "scheme": "ph_usda", "class_scores": {}}}}
    with pytest.raises(ConfigError, match=r"<dict>: criteria\.ph: unknown salinity scheme 'ph_usda'"):
        parse_config(c)
    c = {"criteria": {"ph": {"layer": "soil_ph", "scheme": "ph_songnen", "class_scores": {"none": 1, "light": 1, "severe": 0}}}}
    with pytest.raises(ConfigError, match=r"class_scores must score exactly the classes of scheme ph_songnen \(none, light, moderate, heavy\); unknown: severe; missing: moderate, heavy"):
        parse_config(c)


def test_other_bad_configs():
    with pytest.raises(ConfigError, match=r"<dict>: criteria\.x: derive 'aspect' is unknown; use one of value, slope_deg, relief_m, distance_m"):
        parse_config({"criteria": {"x": {"layer": "dem", "derive": "aspect", "scores": [[0, 1], [1, 0]]}}})
    with pytest.raises(ConfigError, match=r"<dict>: unknown key\(s\) min_area"):
        parse_config({"criteria": {"x": {"layer": "a", "scores": [[0, 1], [1, 0]]}}, "min_area": 3})
    with pytest.raises(ConfigError, match=r"criteria\.x: score 2 at value 1 is outside 0\.\.1"):
        parse_config({"criteria": {"x": {"layer": "a", "scores": [[0, 1], [1, 2]]}}})
    with pytest.raises(ConfigError, match=r"connectivity must be 4 or 8, got 6"):
        parse_config({"criteria": {"x": {"layer": "a", "scores": [[0, 1], [1, 0]]}}, "connectivity": 6})


def test_layer_crs_missing(scene):
    rasters, vectors = scene
    with pytest.raises(MissingCRSError, match=r"layer 'soil_ph': the raster has no CRS; set it in the catalogue entry"):
        screen({**rasters, "soil_ph": da(np.full((H, W), 9.2), crs=None)}, vectors, CONFIG)
    with pytest.raises(MissingCRSError, match=r"layer 'canals': the vector layer has no CRS"):
        screen(rasters, {**vectors, "canals": vectors["canals"].set_crs(None, allow_override=True)}, CONFIG)


def test_missing_layer(scene):
    rasters, vectors = scene
    with pytest.raises(InputError, match=r"exclusion 'protected_areas' needs the vector layer 'protected_areas', which was not given"):
        screen(rasters, {"canals": vectors["canals"]}, CONFIG)


def test_geographic_dem_needs_a_resolution(scene):
    rasters, vectors = scene
    dem = rasters["dem"].rio.reproject("EPSG:4490")
    with pytest.raises(ConfigError, match=r"the dem raster is in EPSG:4490, not EPSG:4550; set grid.resolution_m"):
        screen({**rasters, "dem": dem}, vectors, CONFIG)


# --- the workflow: a workspace on disk -----------------------------------------------------


@pytest.fixture()
def workspace(scene, tmp_path):
    import yaml

    rasters, vectors = scene
    ws = tmp_path / "ws"
    ws.mkdir()
    entries = []
    for name, a in rasters.items():
        a.astype("float32").rio.to_raster(ws / f"{name}.tif")
        entries.append({"name": name, "kind": "raster", "path": f"{name}.tif", "role": name, "synthetic": True,
                        "crs": "EPSG:4550"})
    west = box(X0 - 1000, Y0 - 3000, X0 + 700, Y0 + 1000)
    east = box(X0 + 700, Y0 - 3000, X0 + 5000, Y0 + 1000)
    counties = gpd.GeoDataFrame({"county_code": ["220882", "220821"], "name_zh": ["大安市", "镇赉县"]},
                                geometry=[west, east], crs="EPSG:4550").to_crs("EPSG:4490")
    for name, g in {**vectors, "counties": counties}.items():
        g.to_file(ws / "ref.gpkg", layer=name, driver="GPKG")
        entries.append({"name": f"my_{name}", "kind": "vector", "path": "ref.gpkg", "layer": name, "role": name,
                        "synthetic": True, "crs": "EPSG:4490"})
    entries.append({"name": "counties", "kind": "vector", "path": "ref.gpkg", "layer": "counties", "role": "counties",
                    "synthetic": True, "crs": "EPSG:4490"})
    (ws / "catalog.yml").write_text(yaml.safe_dump({"layers": entries}, allow_unicode=True), encoding="utf-8")
    cfg = tmp_path / "suit.yml"
    cfg.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    return ws, cfg


def test_workflow_writes_candidates_and_compares_with_target(workspace, tmp_path):
    import pandas as pd

    from workflows.suitability import run_suitability

    ws, cfg = workspace
    run = run_suitability(tmp_path / "out", config=cfg, workspace=ws, remaining_wan_mu=0.1, lang="en")
    assert run.synthetic
    assert run.in_scope_wan_mu == pytest.approx(0.174, rel=2e-4)
    summ = dict(zip(run.summary["key"], run.summary["value"], strict=True))
    assert summ["ratio"] == pytest.approx(1.74, abs=1e-3) and summ["n_candidates"] == 1
    g = gpd.read_file(run.paths["gpkg"], layer="candidates")
    assert sorted(g["county_code"]) == ["220821", "220882"] and g["synthetic"].all()
    assert g["area_mu"].sum() == pytest.approx(1740.0, rel=2e-4)
    csv = pd.read_csv(run.paths["csv"], comment="#")
    assert {"Candidate", "County", "Suitability score", "Limiting factor"} <= set(csv.columns)
    assert set(csv["Limiting factor"]) == {"Soil pH"}
    by = pd.read_excel(run.paths["xlsx"], sheet_name="By county")
    assert by["Area (mu)"].sum() == pytest.approx(1740.0, rel=2e-4)
    import rasterio

    with rasterio.open(run.paths["score"]) as src:
        assert src.crs.to_epsg() == 4550 and src.shape == (H, W)


def test_workflow_remaining_from_targets_without_registry(workspace, tmp_path):
    from workflows.suitability import run_suitability

    ws, cfg = workspace
    run = run_suitability(None, config=cfg, workspace=ws, registry=tmp_path / "no-registry.gpkg")
    assert run.remaining_wan_mu == pytest.approx(23.89)
    src = run.summary.set_index("key").loc["remaining_source", "value"]
    assert "paddy_new 23.89 万亩 (registry" in src and "not found" in src


def test_cli_suitability(workspace, tmp_path):
    from click.testing import CliRunner

    from workflows.cli import main

    ws, cfg = workspace
    res = CliRunner().invoke(main, ["suitability", "--config", str(cfg), "--workspace", str(ws),
                                    "--remaining-wan-mu", "0.2", "-o", str(tmp_path / "o"), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "Candidate area within the target's counties (10k mu): 0.174" in res.output
    assert "demo data (synthetic, not real)" in res.output
    bad = tmp_path / "bad.yml"
    bad.write_text("criteria:\n  slope: {layer: dem, derive: slope_deg, scores: [[2, 0], [1, 1]]}\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["suitability", "--config", str(bad), "--workspace", str(ws), "-o", str(tmp_path / "o2"),
                                    "--lang", "en"])
    assert res.exit_code == 1
    assert f"{bad}: criteria.slope: thresholds must be strictly increasing, but 1 follows 2 in [2.0, 1.0]" in res.output
    res = CliRunner().invoke(main, ["suitability", "--config", str(bad), "--workspace", str(ws), "-o", str(tmp_path / "o2")])
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1] == (
        f"错误:{bad} 中的 criteria.slope:阈值必须严格递增,但在 [2.0, 1.0] 中 1 排在 2 之后")
    assert not (tmp_path / "o2").exists()


def test_workflow_missing_layer_in_catalogue(workspace, tmp_path):

    from workflows.suitability import run_suitability

    ws, _ = workspace
    cfg = {**CONFIG, "criteria": {**CONFIG["criteria"], "esp": {"layer": "soil_esp", "scheme": "esp_cn",
           "class_scores": {"none": 1, "weak": 1, "moderate": 1, "strong": 1, "alkali_soil": 0}}}}
    with pytest.raises(InputError, match=r"<dict>: layer\(s\) soil_esp not found in the catalogue \(by name or role\)"):
        run_suitability(None, config=cfg, workspace=ws, remaining_wan_mu=1)


def test_bundled_default_config_is_valid():
    from workflows.suitability import load_config

    cfg = load_config()
    assert [c.name for c in cfg.criteria] == ["ph", "esp", "slope", "relief", "water"]
    assert cfg.min_block_mu == 500 and cfg.crs == "EPSG:4550"


def test_registry_projects_are_excluded_and_remaining_comes_from_progress(workspace, tmp_path):
    from workflows.importing import import_files
    from workflows.suitability import run_suitability

    ws, cfg = workspace
    taken = gpd.GeoDataFrame(
        {"project_code": ["TB-2024-001"], "project_name": ["试验新建水田"], "category": ["paddy_new"],
         "county_code": ["220802"], "year": [2024], "status": ["completed"]},
        geometry=[cells(2, 5, 0, 4)], crs="EPSG:4550").to_crs("EPSG:4490")  # 20 cells = 300 亩
    src = tmp_path / "taken.gpkg"
    taken.to_file(src, layer="parcels", driver="GPKG")
    reg = tmp_path / "registry.gpkg"
    import_files([src], registry=reg, synthetic=True)
    run = run_suitability(None, config=cfg, workspace=ws, registry=reg)
    summ = dict(zip(run.summary["key"], run.summary["value"], strict=True))
    assert summ["excluded_projects"] == 1
    assert run.result.total_mu == pytest.approx(1740.0 - 300.0, rel=2e-4)
    assert "built in" in summ["remaining_source"]
    assert run.remaining_wan_mu == pytest.approx(23.89 - 0.03)  # the 300 亩 completed parcel counts as built
    kept = run_suitability(None, config=cfg, workspace=ws, registry=reg, exclude_projects=False)
    assert kept.result.total_mu == pytest.approx(1740.0, rel=2e-4)

    # what the caller has already read and computed (the demo's import and progress steps)
    # gives the same run without reading the registry again
    from gis.tracking import progress
    from workflows.options import registry_parcels
    from workflows.suitability import Known
    from workflows.targets import load_targets

    import pandas as pd

    import layers

    projects = registry_parcels(reg)
    prog = progress(projects, load_targets(None), layers.load_role("counties", ws), as_of="2024-09-30")
    again = run_suitability(None, config=cfg, workspace=ws, registry=reg, known=Known(projects=projects, progress=prog))
    pd.testing.assert_frame_equal(again.summary, run.summary)
    assert again.result.total_mu == run.result.total_mu
    assert again.sources == run.sources and run.sources["soil_ph"].endswith(".tif")


def test_cell_area_interpolated_on_a_big_grid_matches_exact_cells():
    from rasterio.transform import from_origin

    t = from_origin(380000, 5100000, 100, 100)  # 1.2° west of the CM, 300 x 400 cells
    a = cell_area_mu(t, (300, 400), "EPSG:4550")
    for r, c in [(0, 0), (137, 251), (299, 399), (150, 3)]:
        x0, y0 = 380000 + 100 * c, 5100000 - 100 * r
        exact = area_mu([box(x0, y0 - 100, x0 + 100, y0)], crs="EPSG:4550")[0]
        assert a[r, c] == pytest.approx(exact, rel=1e-8)
