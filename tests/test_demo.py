"""The demo: a synthetic Baicheng workspace, generated and run end to end (small size)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

import layers
from gis.area import area_m2
from gis.labels import CATEGORIES, label
from layers import demo as gen
from layers.catalog import Catalog


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One full small demo run (generator + every available workflow)."""
    from workflows.demo import run_demo

    # parallel=True: check and zonal in the second process whatever the machine's load
    return run_demo(tmp_path_factory.mktemp("demo") / "ws", seed=0, size="small", lang="zh", parallel=True)


@pytest.fixture(scope="module")
def ws(run):
    return run.workspace


@pytest.fixture(scope="module")
def parcels(ws):
    return gpd.read_file(ws.parcels)


def _hash(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _tables(ws: gen.DemoWorkspace) -> dict[str, pd.DataFrame]:
    out = {}
    for layer in ("rivers", "canals", "lakes", "protected_areas"):
        g = gpd.read_file(ws.reference, layer=layer)
        out[layer] = g.assign(geometry=g.geometry.to_wkb())
    p = gpd.read_file(ws.parcels)
    out["parcels"] = p.assign(geometry=p.geometry.to_wkb())
    return out


# --- the workspace ------------------------------------------------------------------------


SOIL_MAPS = {"soil_ph", "soil_ec", "soil_esp", "soil_ph_std", "soil_ec_std", "soil_esp_std"}


def test_catalog_flags_every_generated_layer_synthetic(ws):
    cat = Catalog(ws.folder)
    own = [e for e in cat if e.catalog == ws.catalog.resolve()]
    assert {e.name for e in own} == {"rivers", "canals", "lakes", "protected_areas", "dem", "soil_ec",
                                     "soil_ph", "soil_esp", "landcover", "ndvi"} | SOIL_MAPS
    for e in own:
        assert e.synthetic is True
        assert "合成" in e.title_zh and "synthetic" in e.title_en.lower()
        # the soil maps come from the synthetic sample table (the soil step), the rest from the generator
        assert e.source == ("soil_samples.xlsx" if e.name in SOIL_MAPS else "agrigis demo generator, seed 0")
        assert e.path.exists()
    assert cat["counties"].synthetic is False  # real, from the bundled catalogue
    assert cat.by_role("soil_ec").name == "soil_ec"
    assert {n: cat[n].unit for n in ("dem", "soil_ec", "soil_esp", "landcover")} == {
        "dem": "m", "soil_ec": "dS/m", "soil_esp": "%", "landcover": None}


def test_reserves_have_published_areas_inside_their_county(ws):
    res = layers.load("protected_areas", workspace=ws.folder).set_index("reserve_code")
    ha = area_m2(res) / 1e4
    assert ha[list(res.index).index("momoge")] == pytest.approx(144_000, rel=1e-3)
    assert ha[list(res.index).index("xianghai")] == pytest.approx(105_467, rel=1e-3)
    counties = layers.load("counties", workspace=False).set_index("county_code")
    assert counties.geometry["220821"].buffer(1e-6).contains(res.geometry["momoge"])
    assert counties.geometry["220822"].buffer(1e-6).contains(res.geometry["xianghai"])
    lon, lat = np.asarray(res.geometry["momoge"].centroid.coords[0])
    assert 123.45 < lon < 124.08 and 45.70 < lat < 46.30  # published 123°27′–124°04′E, 45°42′–46°18′N


def test_nen_river_runs_along_the_eastern_edge(ws):
    rivers = layers.load("rivers", workspace=ws.folder)
    nen = rivers.loc[rivers.name_zh == "嫩江"].geometry.iloc[0]
    counties = layers.load("counties", workspace=False).set_index("county_code")
    east = shapely.union_all(counties.geometry[["220821", "220882"]].values)
    # within 4 km of the eastern boundary all along: compare with the boundary in GK metres
    gk = gpd.GeoSeries([nen, east.boundary], crs=4490).to_crs(4550)
    assert gk.iloc[0].hausdorff_distance(gk.iloc[1]) > 0  # not the boundary itself
    pts = shapely.line_interpolate_point(gk.iloc[0], np.linspace(0, gk.iloc[0].length, 50))
    assert shapely.distance(pts, gk.iloc[1]).max() < 4000
    assert set(rivers.name_zh) >= {"嫩江", "洮儿河", "霍林河"}


def test_the_layout_the_run_hands_on_early_is_the_one_the_generator_wrote(ws):
    # workflows.demo hands the soil step DemoWorkspace.at(...) (its _early) before
    # build_workspace returns: both must name the files the generator wrote
    early = gen.DemoWorkspace.at(ws.folder, seed=ws.seed, size=ws.size)
    for name in ("folder", "catalog", "reference", "parcels", "samples", "registry"):
        assert getattr(early, name) == getattr(ws, name), name
        assert getattr(ws, name).exists(), name
    assert (early.seed, early.size) == (0, "small")
    # the names README.md lists for the user (a rename must update it)
    assert [getattr(ws, n).relative_to(ws.folder).as_posix() for n in ("catalog", "reference", "parcels")] == [
        "catalog.yml", "reference.gpkg", "parcels/demo_parcels.gpkg"]
    cat = Catalog(ws.folder)
    assert {cat[n].path for n in ("rivers", "canals", "lakes", "protected_areas")} == {ws.reference.resolve()}


def test_rasters_on_cgcs2000_gk_grid_deflate_tiled(ws):
    for name in ("dem", "soil_ec", "soil_ph", "soil_esp", "landcover"):
        with rasterio.open(ws.rasters[name]) as src:
            assert src.crs.to_epsg() == 4550
            assert src.compression.name == "deflate"
            assert src.profile["tiled"]
            assert src.tags()["synthetic"] == "true"
            assert src.res == (1000.0, 1000.0)


def _ndvi(ws):
    """The NDVI stack of the catalogue (a NetCDF of the imagery workflow), in memory."""
    from workflows.remediation import open_netcdf_stack

    path = Catalog(ws.folder).by_role("ndvi").path
    return open_netcdf_stack(path).load(), path


def test_ndvi_stack_is_the_monthly_composite_of_the_products(run, ws):
    import xarray as xr

    from layers.demo_imagery import PRODUCT_CRS
    from layers.imagery import open_product

    safes = sorted((ws.folder / "imagery" / "products").glob("*.SAFE"))
    assert len(safes) == 25  # May–September 2020–2024
    for safe in safes:
        assert safe.name.endswith("_SYNTHETIC.SAFE")
        assert "SYNTHETIC" in (safe / "SYNTHETIC.txt").read_text()
        assert (safe / "MTD_MSIL2A.xml").exists()
    assert open_product(safes[0]).crs == PRODUCT_CRS
    entry = Catalog(ws.folder).by_role("ndvi")
    assert entry.name == "ndvi" and entry.synthetic is True
    assert entry.path == (ws.folder / gen.NDVI_STACK).resolve()
    ds = xr.open_dataset(entry.path, engine="h5netcdf")
    assert ds.attrs["synthetic"] == "true"
    assert sorted(ds.product_id.values.tolist()) == [p.name[:-5] for p in safes]
    assert set(pd.DatetimeIndex(ds.time.values).month) == {5, 6, 7, 8, 9}
    assert int(ds.valid_count.max()) == 1  # one product per month
    assert run.outputs["imagery"]["ndvi"] == entry.path or run.outputs["imagery"]["ndvi"].resolve() == entry.path
    assert "Da'an" in (ws.folder / "README.txt").read_text()


def _model(ws, year: int, month: int) -> np.ndarray:
    """The demo's NDVI model on the products' grid (drivers rebuilt from the workspace)."""
    from layers import demo_rasters
    from layers.demo_imagery import PRODUCT_CRS

    counties = layers.load("counties", workspace=False)
    ref = ws.reference
    rivers = pd.concat([gpd.read_file(ref, layer="rivers"), gpd.read_file(ref, layer="canals")])
    drivers = demo_rasters.Drivers(counties, rivers, gpd.read_file(ref, layer="lakes"),
                                   np.random.default_rng([ws.seed, 2]), res=gen.SIZES[ws.size].analysis_m)
    g = ws.products.grid
    _grid, bands = demo_rasters.ndvi_stack(drivers, ws.rasters["landcover"], gpd.read_file(ws.parcels), g.res,
                                           years=(year,), seed=ws.seed, grid=g, crs=PRODUCT_CRS, months=(month,))
    return next(bands)[1]


def test_ndvi_stack_values_are_the_model_within_quantisation(ws):
    ndvi, _path = _ndvi(ws)
    model = _model(ws, 2023, 7)
    got = ndvi.sel(time=ndvi.time.dt.strftime("%Y-%m") == "2023-07").squeeze("time").values
    assert got.shape == model.shape == ws.products.grid.shape
    both = np.isfinite(got) & np.isfinite(model)
    assert both.sum() > 0.97 * np.isfinite(model).sum()  # only 20 m-SCL edge cells lost
    assert np.abs(got[both] - model[both]).max() < 1e-3  # DN quantisation of NIR
    assert np.abs(got[both] - model[both]).max() > 0  # it went through the products


def _truth(ws, name):
    """A generator's soil raster (the truth the samples were drawn from) as a DataArray."""
    import rioxarray

    da = rioxarray.open_rasterio(ws.rasters[name], masked=True).squeeze("band", drop=True)
    return da


def test_soil_is_saltier_in_the_eastern_lowlands(ws):
    ec = _truth(ws, "soil_ec")
    dem = layers.load("dem", workspace=ws.folder)
    counties = layers.load("counties", workspace=False).to_crs(4550).set_index("county_code")

    def mean_in(da, code):
        return float(da.rio.clip([counties.geometry[code]], all_touched=False).mean())

    assert mean_in(ec, "220882") > 2 * mean_in(ec, "220881")  # Da'an ≫ Taonan
    assert mean_in(dem, "220881") > mean_in(dem, "220882") + 40  # Taonan higher than Da'an
    ph = _truth(ws, "soil_ph").values
    esp = _truth(ws, "soil_esp").values
    ok = np.isfinite(ph) & np.isfinite(ec.values)
    assert np.corrcoef(np.log(ec.values[ok]), ph[ok])[0, 1] > 0.8  # soda soils: pH rises with EC
    assert float(np.nanmin(dem.values)) > 100 and float(np.nanmax(dem.values)) < 320
    assert np.nanmax(esp) > 15  # sodic somewhere


def test_parcels_cover_every_category_with_registry_columns(parcels):
    assert set(parcels.category) == set(CATEGORIES)
    for col in ("project_code", "project_name", "category", "county_code", "year", "status",
                "declared_area_mu", "investment_wan_yuan"):
        assert col in parcels.columns
    assert parcels.project_code.is_unique
    assert parcels.crs.to_epsg() == 4490
    assert parcels.project_name.str.contains("合成").all()
    paddy = parcels[parcels.category.isin(["paddy_new", "paddy_improved", "saline_demo_area"])]
    assert set(paddy.county_code) == {"220882", "220821"}
    # field-like sizes: 0.5–300 ha (demo bases are contiguous blocks of such fields)
    ha = area_m2(parcels) / 1e4
    normal = ~parcels.project_code.str.endswith(("-P1", "-P2"))
    assert ha[normal].min() >= 0.45 and ha[normal].max() <= 310


def test_planted_problems_are_there(ws, parcels):
    p1 = parcels[parcels.project_code.str.endswith("-P1")]
    assert len(p1) == 1 and p1.category.iloc[0] == "high_standard_farmland"
    same = parcels[(parcels.category == "high_standard_farmland") & ~parcels.index.isin(p1.index)]
    hits = same[same.intersects(p1.geometry.iloc[0])]
    assert len(hits) >= 1 and hits.intersection(p1.geometry.iloc[0]).area.max() > 0
    p2 = parcels[parcels.project_code.str.endswith("-P2")]
    momoge = layers.load("protected_areas", workspace=ws.folder).query("reserve_code == 'momoge'")
    assert momoge.geometry.iloc[0].contains(p2.geometry.iloc[0])
    p3 = parcels[parcels.project_code.str.endswith("-P3")]
    assert p3.declared_area_mu.iloc[0] == pytest.approx(1.3 * area_m2(p3)[0] * 0.0015, rel=1e-3)


def test_demo_bases_one_10k_and_five_1k_sites(parcels):
    base = parcels[parcels.category == "demo_base"]
    sites = shapely.get_parts(shapely.union_all(base.geometry.values))
    mu = area_m2(gpd.GeoSeries(sites, crs=4490)) * 0.0015
    assert (mu >= 10_000).sum() == 1
    assert ((mu >= 1_000) & (mu < 10_000)).sum() == 5


def test_ndvi_rises_after_the_project_year(ws, parcels):
    from layers.demo_imagery import PRODUCT_CRS

    ndvi, _path = _ndvi(ws)  # Da'an only
    sel = parcels[(parcels.category == "paddy_new") & (parcels.year == 2023) & parcels.county_code.eq("220882")
                  & parcels.status.isin(["completed", "accepted"])].to_crs(PRODUCT_CRS)
    assert len(sel)
    month = ndvi.time.dt.strftime("%Y-%m")
    july23, july24 = ndvi.sel(time=month == "2023-07").squeeze("time"), ndvi.sel(time=month == "2024-07").squeeze("time")
    xs = sel.geometry.centroid.x.to_numpy()
    ys = sel.geometry.centroid.y.to_numpy()
    import xarray as xr

    pts = dict(x=xr.DataArray(xs, dims="p"), y=xr.DataArray(ys, dims="p"))
    a = july23.sel(**pts, method="nearest").values
    b = july24.sel(**pts, method="nearest").values
    assert np.nanmean(b - a) > 0.2
    may = ndvi.sel(time=month == "2023-05").squeeze("time").sel(**pts, method="nearest").values
    assert np.nanmean(july23.sel(**pts, method="nearest").values - may) > 0  # season


# --- soil samples → soil maps → suitability ----------------------------------------------


def _at(path, pts: np.ndarray) -> np.ndarray:
    """Raster values at planar points (NaN at nodata)."""
    with rasterio.open(path) as src:
        v = np.array([x[0] for x in src.sample(pts)], dtype="float64")
        v[v == src.nodata] = np.nan
    return v


def _city_gk():
    return shapely.union_all(layers.load("counties", workspace=False).to_crs(4550).geometry.values)


def test_sample_table_is_a_synthetic_census_table_drawn_from_the_soil_rasters(ws):
    from openpyxl import load_workbook

    from layers.demo_samples import COLUMNS
    from layers.samples import read_samples

    assert ws.samples == ws.folder / "samples" / "soil_samples.xlsx"
    assert "合成" in load_workbook(ws.samples, read_only=True).sheetnames[0]
    t = pd.read_excel(ws.samples, dtype=str)
    assert list(t.columns) == list(COLUMNS)
    assert 380 <= len(t) <= 500  # one point per 7.5 km square of the city, none on water or built-up land
    assert t["备注"].str.contains("合成").all() and set(t["采样深度(cm)"]) == {"0-20"}
    assert set(t["电导率测定方法"]) == {"饱和泥浆浸提液(ECe)"}  # the demo's EC raster is ECe
    read = read_samples(ws.samples, lang="en")
    assert read.rejects.empty and len(read.frame) == len(t)
    assert set(read.frame["ec_method"]) == {"ece"} and read.units == {"ph": "", "ec": "ds/m", "esp": "%"}
    pts = read.frame[["x", "y"]].to_numpy()
    lc = _at(ws.rasters["landcover"], pts)
    assert not np.isin(lc, [5, 6]).any()  # water, built-up
    # the values are the rasters' plus the stated laboratory error (pH ± 0.05, EC ± 5 %, ESP ± 0.5)
    d_ph = read.frame["ph"].to_numpy() - _at(ws.rasters["soil_ph"], pts)
    d_ec = np.log(read.frame["ec"].to_numpy() / _at(ws.rasters["soil_ec"], pts))
    d_esp = read.frame["esp"].to_numpy() - _at(ws.rasters["soil_esp"], pts)
    assert 0.035 < d_ph.std() < 0.07 and abs(d_ph.mean()) < 0.01
    assert 0.035 < d_ec.std() < 0.08 and abs(d_ec.mean()) < 0.015
    assert 0.35 < d_esp.std() < 0.7 and abs(d_esp.mean()) < 0.1


HELD_OUT = {"ph": (0.70, 0.05), "ec": (0.60, 0.25), "esp": (0.60, 0.6)}
"""Least R² and largest |bias| of each map against the truth at held-out points (measured
on the small workspace, seed 0: pH 0.80 / −0.01, ECe 0.70 / −0.04 dS/m, ESP 0.69 / −0.13 %)."""


def test_soil_maps_match_the_truth_at_held_out_points(run, ws):
    _need(run, "soil")
    from layers.demo_samples import sample_points

    res = run.results["soil"]
    assert res.n_rejects == 0 and sorted(res.replaced) == ["soil_ec", "soil_esp", "soil_ph"]
    pts = sample_points(_city_gk(), np.random.default_rng(99), 3000.0)  # ≈ 2,900 points, none a sample
    cat = Catalog(ws.folder)
    for p in res.properties:
        name = f"soil_{p.prop}"
        est, sd = _at(cat[name].path, pts), _at(cat[f"{name}_std"].path, pts)
        truth = _at(ws.rasters[name], pts)
        ok = np.isfinite(est) & np.isfinite(truth)
        assert ok.sum() > 2000, name
        err = est[ok] - truth[ok]
        r2 = 1 - np.sum(err ** 2) / np.sum((truth[ok] - truth[ok].mean()) ** 2)
        least_r2, max_bias = HELD_OUT[p.prop]
        assert r2 > least_r2 and abs(err.mean()) < max_bias, (name, r2, err.mean())
        assert abs(p.cv.stats["r2"] - r2) < 0.1, name  # cross-validation tells the truth about the map
        inside = np.mean(np.abs(err) <= 1.6449 * sd[ok])
        assert 0.85 < inside < 0.98, (name, inside)  # an honest 90 % interval
        with rasterio.open(cat[name].path) as src:
            assert src.tags()["synthetic"] == "true" and src.crs.to_epsg() == 4550


def test_suitability_ran_on_the_interpolated_soil_maps(run, ws):
    _need(run, "soil")
    _need(run, "suitability")
    from workflows.suitability import remaining_target, run_suitability

    soil = (ws.folder / "outputs" / "soil").resolve()
    used = run.results["suitability"].sources
    assert Path(used["soil_ph"]).resolve() == soil / "ph_0-20_kriging.tif"
    assert Path(used["soil_esp"]).resolve() == soil / "esp_0-20_kriging.tif"
    assert Path(used["dem"]).resolve() == ws.rasters["dem"].resolve()
    # it matters: the truth rasters give another score, and a candidate area close to it
    truth = run_suitability(workspace=ws.folder, registry=ws.registry,
                            rasters={"soil_ph": _truth(ws, "soil_ph"), "soil_esp": _truth(ws, "soil_esp")})
    got = run.results["suitability"]
    a, b = got.result.score.values, truth.result.score.values
    assert not np.allclose(a, b, equal_nan=True)
    assert got.result.total_mu == pytest.approx(truth.result.total_mu, rel=0.25)
    # the remaining target handed on from the progress step is the one computed afresh
    _, rem, _, _ = remaining_target(None, ws.registry, layers.load("counties", workspace=False))
    assert got.remaining_wan_mu == pytest.approx(rem, abs=1e-9)


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_same_workspace_other_seed_differs(ws, tmp_path):
    again = gen.build_workspace(tmp_path / "again", seed=0, size="small")
    other = gen.build_workspace(tmp_path / "other", seed=1, size="small")
    for name, p in again.rasters.items():
        assert _hash(p) == _hash(ws.rasters[name]), name
    for p, q in zip(ws.products.paths, again.products.paths, strict=True):
        assert _hash(next(p.rglob("*_B08_*.jp2"))) == _hash(next(q.rglob("*_B08_*.jp2")))
    import yaml

    # the demo run added the NDVI stack and replaced the soil rasters by the maps of the samples
    generated = [e for e in yaml.safe_load(again.catalog.read_text())["layers"] if e["name"] not in SOIL_MAPS]
    assert [e for e in yaml.safe_load(ws.catalog.read_text())["layers"]
            if e["name"] != "ndvi" and e["name"] not in SOIL_MAPS] == generated
    samples = [pd.read_excel(w.samples) for w in (ws, again, other)]
    pd.testing.assert_frame_equal(samples[0], samples[1])
    assert not samples[0].equals(samples[2])
    t0, t1, t2 = _tables(ws), _tables(again), _tables(other)
    for k in t0:
        pd.testing.assert_frame_equal(t0[k], t1[k])
    assert _hash(ws.rasters["soil_ec"]) != _hash(other.rasters["soil_ec"])
    assert not t0["parcels"].equals(t2["parcels"])


def test_refuses_a_folder_with_a_registry(tmp_path):
    from click.testing import CliRunner

    from workflows.cli import main

    (tmp_path / "registry.gpkg").write_bytes(b"")
    r = CliRunner().invoke(main, ["demo", str(tmp_path), "--size", "small"], obj={})
    assert r.exit_code == 1
    assert "already holds a registry.gpkg" in r.output


# --- the workflows on it -------------------------------------------------------------------


def _need(run, step):
    if step in run.skipped:
        pytest.skip(f"{step}: {run.skipped[step]}")


def test_registry_areas_equal_progress_table(run):
    _need(run, "import")
    _need(run, "progress")
    from layers.registry import Registry

    reg = Registry(run.workspace.registry)
    proj = reg.projects()
    assert len(proj) == run.workspace.n_parcels
    assert reg.batches()["synthetic"].all()
    summary = run.results["progress"].result.summary.set_index("category")
    done = proj[(proj.year == 2024) & proj.status.isin(["completed", "accepted"])]
    for cat, row in summary.iterrows():
        scope = row["scope"]
        sel = done[done.category == cat]
        if scope != "city":
            sel = sel[sel.county_code.isin(scope.split(","))]
        want = sel.area_mu.sum() if cat != "courtyard_economy" else proj[
            (proj.category == cat) & (proj.year <= 2024)
            & proj.status.isin(["completed", "accepted"])].area_mu.sum()
        assert row["achieved_mu"] == pytest.approx(want, rel=1e-6), cat


def test_progress_outputs_written(run):
    _need(run, "progress")
    for k in ("xlsx", "csv", "html"):
        assert run.outputs["progress"][k].exists()


def test_check_and_flags_find_the_planted_problems(run):
    _need(run, "check")
    _need(run, "progress")
    probs = run.results["check"].problems
    same = probs[probs.kind == "overlap_same"]
    assert same[["code_a", "code_b"]].astype(str).apply(lambda c: c.str.endswith("-P1")).any(axis=None)
    mism = probs[probs.kind == "area_mismatch"]
    assert mism.code_a.astype(str).str.endswith("-P3").tolist() == [True]
    flags = run.results["progress"].result.flags
    inres = flags[flags.flag == "in_protected_area"]
    assert inres.project_code.str.endswith("-P2").any()
    assert run.outputs["check"]["table"].exists()


def test_zonal_salinity_per_parcel(run):
    _need(run, "zonal")
    ec = pd.read_csv(run.outputs["zonal"]["soil_ec"], encoding="utf-8-sig")
    assert len(ec) == run.workspace.n_parcels
    from workflows.zonal import header

    mean = ec[header("mean", "zh")]
    code = ec.iloc[:, 0].astype(str)
    daan = mean[code.str.startswith("220882")].mean()
    taonan = mean[code.str.startswith("220881")].mean()
    assert daan > 1.5 * taonan  # saltier parcels in the eastern lowlands


def test_remediation_and_suitability_ran_on_the_demo(run):
    _need(run, "remediation")
    _need(run, "suitability")
    t = run.results["remediation"].table
    assert set(t.category) <= {"paddy_new", "paddy_improved", "saline_demo_area"}
    assert len(t) == (pd.Series([c for c in gpd.read_file(run.workspace.parcels).category])
                      .isin(["paddy_new", "paddy_improved", "saline_demo_area"]).sum())
    assert run.results["suitability"].in_scope_wan_mu > 0


@pytest.mark.browser
def test_progress_map_holds_every_registry_parcel(run, page):
    _need(run, "maps")
    m = run.outputs["maps"]["progress_map"]
    page.goto(m.resolve().as_uri())
    page.wait_for_function("window.agrigis && agrigis.maps.length > 0")
    n = page.evaluate("agrigis.count('parcels')")
    assert n == run.workspace.n_parcels
    assert "合成" in page.locator(".leaflet-control-attribution").inner_text()
    assert page.js_errors == []


def test_every_step_ran_and_the_summary_names_the_outputs(run):
    from rich.console import Console

    from workflows.demo import STEPS, main_map, summary_table

    assert run.skipped == {}  # every workflow exists and ran
    con = Console(record=True, width=200)
    con.print(summary_table(run))
    text = con.export_text()
    for name, _ in STEPS:
        assert gis_label(f"demo.step.{name}") in text
    assert "outputs/progress/progress.xlsx" in text
    assert main_map(run).name == "progress_map.html"


def gis_label(key):
    from gis.labels import label

    return label(key, "zh")


def test_bad_size_and_cell_size_are_refused(tmp_path):
    from gis.errors import InputError

    with pytest.raises(InputError, match=r"unknown demo size 'huge'; use one of small, default, large"):
        gen.build_workspace(tmp_path / "a", size="huge")
    with pytest.raises(InputError, match=r"raster cell size 1.0 m is too small; use 5 m or more"):
        gen.build_workspace(tmp_path / "b", size="small", res_m=1.0)


def test_remediation_in_the_workspace_finds_the_netcdf_stack_by_itself(run, tmp_path, monkeypatch):
    # what a user types inside the workspace: no --stack, the catalogue's NDVI stack is used
    from click.testing import CliRunner

    from workflows.cli import main

    monkeypatch.chdir(run.folder)
    res = CliRunner().invoke(main, ["remediation", "-o", str(tmp_path / "rem"), "--lang", run.lang])
    assert res.exit_code == 0, res.output
    demo = pd.read_csv(run.outputs["remediation"]["csv"], comment="#")
    again = pd.read_csv(tmp_path / "rem" / "remediation.csv", comment="#")
    verdict = label("remediation.verdict", run.lang)
    assert len(again) == len(demo) and again[verdict].tolist() == demo[verdict].tolist()


def test_the_second_process_gives_what_the_steps_give_in_process(run):
    # soil, imagery, progress, check and zonal ran in a second Python process (the fixture's
    # parallel=True); check and zonal run again in this one write the same
    from workflows.demo import SIDE_LANE, DemoRun, _side_steps

    import os

    assert set(SIDE_LANE) <= set(run.seconds) and set(SIDE_LANE) <= set(run.cpu) and not run.skipped
    assert run.side_process not in (None, os.getpid())
    assert run.workspace.rasters["ndvi"] == run.outputs["imagery"]["ndvi"]  # merged from the second process
    before = {n: p.read_bytes() for n, p in run.outputs["zonal"].items()}
    again = ("check", "zonal")
    here = _side_steps(DemoRun(workspace=run.workspace, lang=run.lang, as_of=run.as_of), strict=True, names=again)
    assert {n: p.read_bytes() for n, p in here.outputs["zonal"].items()} == before
    pd.testing.assert_frame_equal(pd.DataFrame(here.results["check"].problems),
                                  pd.DataFrame(run.results["check"].problems))
    assert here.notes == {k: run.notes[k] for k in again}
