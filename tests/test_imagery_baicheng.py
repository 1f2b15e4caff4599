"""Imagery over Baicheng (issue 15, second part): the area of interest, products from two
UTM zones on one grid, SYNTHETIC Sentinel-2 L2A products in the real layout over Da'an
(:mod:`layers.imagery.synthetic`) through the stack, zonal statistics and the remediation
verdicts, composites on the CLI, and block-by-block (lazy) reading.

Numbers are checked against what was planted (the NDVI and SCL arrays written into the
JPEG 2000 files), computed here independently with numpy/shapely/pyproj.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
import xarray as xr
from click.testing import CliRunner

import layers
from gis import zonal_read, zonal_stats
from gis.coverage import Grid
from gis.errors import InputError
from gis.masks import MaskOptions
from layers.imagery import open_product
from layers.imagery.aoi import resolve_aoi
from layers.imagery.stack import StackOptions, index_stack
from layers.imagery.synthetic import (
    PLANTED, SCENARIO_DATES, SCENARIO_YEARS, ProductSpec, cloud_cells, daan_scenario, planted_peak,
    write_s2_product,
)
from workflows.cli import main
from workflows.remediation import run_remediation

CODES = list(PLANTED)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    folder = tmp_path_factory.mktemp("daan")
    sc = daan_scenario(folder / "products")
    parcels_file = folder / "parcels.geojson"
    sc.parcels.to_file(parcels_file, driver="GeoJSON")
    return sc, folder / "products", parcels_file


@pytest.fixture(scope="module")
def stack(scenario):
    sc, _, parcels_file = scenario
    aoi = resolve_aoi(str(parcels_file), res=10)
    scenes = [open_product(p).scene(10) for p in sc.products]
    return index_stack(scenes, "NDVI", aoi.grid, StackOptions(aoi=aoi)), aoi


def _centres(grid: Grid):
    x, y = grid.coords()
    return np.meshgrid(x, y)


def _on_product(grid: Grid, spec: ProductSpec):
    """Row/column of the scenario product's 10 m cell under each output cell centre."""
    xx, yy = _centres(grid)
    px, py = pyproj.Transformer.from_crs(grid.crs, spec.crs, always_xy=True).transform(xx, yy)
    return ((spec.uly - py) // spec.res).astype(int), ((px - spec.ulx) // spec.res).astype(int)


def _planted_cloud(sc, grid: Grid, year: int, month: int) -> np.ndarray:
    """Output cells the any-cloud rule must mask that day: a cloudy 20 m SCL cell among
    the four around the cell centre whose bilinear weight along x and along y is above
    1e-3 (computed here by hand)."""
    spec = sc.spec
    xx, yy = _centres(grid)
    px, py = pyproj.Transformer.from_crs(grid.crs, spec.crs, always_xy=True).transform(xx, yy)
    fx, fy = (px - spec.ulx) / 20 - 0.5, (spec.uly - py) / 20 - 0.5
    fine = np.zeros((120, 120), dtype=bool)
    for code, box in sc.boxes.items():
        hit = cloud_cells(code, year, month, box)
        if hit is not None:
            fine[hit[0], hit[1]] = True
    coarse = fine[::2, ::2]
    x0, y0 = np.floor(fx).astype(int), np.floor(fy).astype(int)
    wx, wy = fx - x0, fy - y0
    hit = np.zeros(fx.shape, dtype=bool)
    for dy, wy_ in ((0, 1 - wy), (1, wy)):
        for dx, wx_ in ((0, 1 - wx), (1, wx)):
            hit |= (wy_ > 1e-3) & (wx_ > 1e-3) & coarse[np.clip(y0 + dy, 0, 59), np.clip(x0 + dx, 0, 59)]
    return hit


# ------------------------------------------------------------------------------ AOI


def test_aoi_by_county_name_code_pinyin_and_the_city():
    counties = layers.load_role("counties").to_crs("EPSG:4550")
    daan = counties.loc[counties.county_code == "220882"].geometry.iloc[0]
    grids = [resolve_aoi(v, res=1000) for v in ("大安市", "220882", "大安", "Da'an")]
    assert {(a.kind, a.grid) for a in grids} == {("county", grids[0].grid)}
    aoi = grids[0]
    assert aoi.grid.crs.to_epsg() == 4550 and aoi.geometry.area == pytest.approx(daan.area, rel=1e-9)
    x0, y0, x1, y1 = daan.bounds
    gx0, gy0, gx1, gy1 = aoi.grid.bounds
    assert gx0 <= x0 < gx0 + 1000 and gy0 <= y0 < gy0 + 1000 and gx1 - 1000 < x1 <= gx1 and gy1 - 1000 < y1 <= gy1
    # cells whose centre is in the county: their count × 1 km² is the county's area to 1 %
    assert aoi.inside().sum() * 1e6 == pytest.approx(daan.area, rel=0.01)
    city = resolve_aoi("白城市", res=2000)
    assert city.kind == "city" and city.geometry.area == pytest.approx(counties.geometry.area.sum(), rel=1e-6)
    with pytest.raises(InputError, match=r"--aoi 长春市: not a county of Baicheng, .*counties: 220802 洮北区, "
                                         r"220821 镇赉县, 220822 通榆县, 220881 洮南市, 220882 大安市"):
        resolve_aoi("长春市")


def test_aoi_from_a_parcel_file_and_from_bounds(scenario):
    sc, _, parcels_file = scenario
    aoi = resolve_aoi(str(parcels_file), res=10)
    parcels = sc.parcels.to_crs("EPSG:4550")
    assert aoi.kind == "parcels" and aoi.geometry.area == pytest.approx(parcels.area.sum(), rel=1e-9)
    xx, yy = _centres(aoi.grid)
    expect = shapely.contains_xy(aoi.geometry, xx, yy)
    assert (aoi.inside() == expect).all() and expect.sum() == pytest.approx(4 * 900, rel=0.01)
    b = resolve_aoi("578000,5016000,579000,5017500", crs="EPSG:32651", res=20)
    assert b.kind == "bounds" and b.grid.bounds == (578000.0, 5016000.0, 579000.0, 5017500.0)
    assert b.inside().all() and b.inside().shape == (75, 50)


# ------------------------------------------------------------------------------ stack over the AOI


def test_stack_is_nan_outside_the_aoi_and_valid_fraction_counts_only_the_aoi(scenario, stack):
    sc, _, _ = scenario
    da, aoi = stack
    inside = aoi.inside()
    times = pd.DatetimeIndex(da.time.values)
    assert len(times) == 12 and (times == pd.DatetimeIndex(
        [datetime(y, m, d, 2, 50) for y in SCENARIO_YEARS for m, d in SCENARIO_DATES])).all()
    assert da.attrs["aoi_kind"] == "parcels" and list(da.sensor.values) == ["Sentinel-2B"] * 12
    values = da.values
    assert np.isnan(values[:, ~inside]).all()  # outside the parcels: NaN on every date
    for i, t in enumerate(times):
        cloud = _planted_cloud(sc, aoi.grid, t.year, t.month) & inside
        assert (np.isnan(values[i]) & inside).sum() == cloud.sum(), t  # exactly the planted clouds are masked
        assert float(da.valid_fraction[i]) == pytest.approx(1 - cloud.sum() / inside.sum(), abs=1e-12)
    assert float(da.valid_fraction[0]) == 1.0 and float(da.valid_fraction[-1]) < 0.9


def test_interior_values_equal_the_planted_ndvi(scenario, stack):
    sc, _, _ = scenario
    da, aoi = stack
    xx, yy = _centres(aoi.grid)
    parcels = sc.parcels.to_crs("EPSG:4550").set_index("project_code")
    for code in CODES:
        core = shapely.contains_xy(parcels.geometry[code].buffer(-15), xx, yy)  # away from bilinear edges
        for i, t in enumerate(pd.DatetimeIndex(da.time.values)):
            v = da.values[i][core]
            v = v[np.isfinite(v)]
            want = planted_peak(code, t.year) * (1.0 if t.month == 8 else 0.85)
            assert v.size == 0 or np.abs(v - want).max() < 1e-3, (code, t)


# ------------------------------------------------------------------------------ end to end


def test_zonal_means_and_remediation_verdicts_come_out_as_planted(scenario, stack, tmp_path):
    sc, products, parcels_file = scenario
    da, _ = stack
    inner = sc.parcels.copy()
    inner["geometry"] = inner.to_crs("EPSG:4550").buffer(-20).to_crs("EPSG:4490").values
    zs = zonal_stats(inner[["geometry"]], da, stats=["mean", "count"])
    means = zs.sel(stat="mean").values
    for k, code in enumerate(sc.parcels.project_code):
        for i, t in enumerate(pd.DatetimeIndex(da.time.values)):
            if np.isfinite(means[k, i]):
                assert means[k, i] == pytest.approx(planted_peak(code, t.year) * (1 if t.month == 8 else 0.85),
                                                    abs=1e-3)
    i_cirrus = list(pd.DatetimeIndex(da.time.values)).index(pd.Timestamp(2020, 6, 20, 2, 50))
    assert np.isnan(means[0, i_cirrus])  # SYN-RISE under thin cirrus that day: no value, not a low one
    # the stack written by the CLI, read by remediation unchanged
    nc = tmp_path / "ndvi.nc"
    res = CliRunner().invoke(main, ["imagery", "stack", str(products), "--aoi", str(parcels_file), "--res", "10",
                                    "-o", str(nc), "--lang", "en"])
    assert res.exit_code == 0, res.output
    out = run_remediation(tmp_path / "rem", parcels=sc.parcels, stack=nc, index="NDVI", lang="en")
    verdicts = dict(zip(out.table.project_code, out.table.verdict, strict=True))
    assert verdicts == {c: PLANTED[c][1] for c in CODES}
    assert out.synthetic and out.paths["csv"].exists()
    # the same stack as Zarr: same values, and remediation (function and CLI) and zonal_stats take it unchanged
    zarr = tmp_path / "ndvi.zarr"
    res = CliRunner().invoke(main, ["imagery", "stack", str(products), "--aoi", str(parcels_file), "--res", "10",
                                    "-o", str(zarr), "--lang", "en"])
    assert res.exit_code == 0, res.output
    with xr.open_dataset(nc, engine="h5netcdf", decode_coords="all") as a, \
            xr.open_dataset(zarr, engine="zarr", decode_coords="all") as b:
        np.testing.assert_array_equal(a["ndvi"].values, b["ndvi"].values)
        assert (a.time.values == b.time.values).all() and b["ndvi"].rio.crs.to_epsg() == 4550
        assert list(b["product_id"].values) == list(a["product_id"].values)
    zarr_out = run_remediation(tmp_path / "rem_zarr", parcels=sc.parcels, stack=zarr, index="NDVI", lang="en")
    pd.testing.assert_frame_equal(zarr_out.table, out.table)
    zs_nc, zs_zarr = zonal_stats(inner[["geometry"]], str(nc)), zonal_stats(inner[["geometry"]], str(zarr))
    np.testing.assert_array_equal(zs_nc.values, zs_zarr.values)
    src = zonal_read._open(str(nc), 1, None, None, None)  # our own NetCDF: read as stored
    assert isinstance(src, zonal_read._Hdf5Source)
    src.close()
    np.testing.assert_allclose(zs_zarr.sel(stat="mean").values, means, rtol=1e-6)
    from workflows.importing import import_files

    gpkg, reg = tmp_path / "parcels.gpkg", tmp_path / "registry.gpkg"
    sc.parcels.to_file(gpkg, layer="parcels", driver="GPKG")
    import_files([gpkg], registry=reg, synthetic=True)
    res = CliRunner().invoke(main, ["remediation", "--registry", str(reg), "--stack", str(zarr), "-o",
                                    str(tmp_path / "rem_cli"), "--lang", "en"])
    assert res.exit_code == 0, res.output
    cli = pd.read_csv(tmp_path / "rem_cli" / "remediation.csv", comment="#")
    from gis.labels import label

    assert dict(zip(cli["Project code"], cli["Verdict"], strict=True)) == {
        c: label(f"verdict.{PLANTED[c][1]}", "en") for c in CODES}
    # the same products without the cloud mask: SYN-CLOUD's clouds read as a significant decline
    scenes = [open_product(p).scene(10) for p in sc.products]
    unmasked = index_stack(scenes, "NDVI", stack[1].grid, StackOptions(mask=MaskOptions(scl_classes=(0,)),
                                                                       aoi=stack[1]))
    bad = run_remediation(None, parcels=sc.parcels, stack=unmasked, index="NDVI")
    assert dict(zip(bad.table.project_code, bad.table.verdict, strict=True))["SYN-CLOUD"] == "worsening"


# ------------------------------------------------------------------------------ two UTM zones


def _ramp(crs: str, ulx: float, uly: float, n: int, res: float) -> np.ndarray:
    """NDVI that rises linearly eastwards in EPSG:4550 (the same ground in any CRS)."""
    x = ulx + res * (np.arange(n) + 0.5)
    y = uly - res * (np.arange(n) + 0.5)
    xx, yy = np.meshgrid(x, y)
    ex, _ = pyproj.Transformer.from_crs(crs, "EPSG:4550", always_xy=True).transform(xx, yy)
    return 0.2 + (ex - 578000.0) / 4000.0


def test_products_from_two_utm_zones_agree_on_one_grid(tmp_path):
    t = datetime(2024, 7, 1, 2, 50, tzinfo=timezone.utc)
    corners = {}
    for crs in ("EPSG:32651", "EPSG:32652"):  # the grid's upper-left corner, 100 m further out, in each zone
        tr = pyproj.Transformer.from_crs("EPSG:4550", crs, always_xy=True)
        corners[crs] = [round(v / 20) * 20 for v in tr.transform(577900, 5018100)]
    specs = [ProductSpec(time=t, crs="EPSG:32651", ulx=corners["EPSG:32651"][0], uly=corners["EPSG:32651"][1]),
             ProductSpec(time=t.replace(day=2), crs="EPSG:32652", ulx=corners["EPSG:32652"][0] - 400,
                         uly=corners["EPSG:32652"][1] + 400, tile="52TBR")]
    paths = [write_s2_product(tmp_path, s, _ramp(s.crs, s.ulx, s.uly, 160, 10)) for s in specs]
    products = [open_product(p) for p in paths]
    assert [p.crs for p in products] == ["EPSG:32651", "EPSG:32652"]
    grid = Grid.from_bounds((578000, 5016600, 579400, 5018000), crs="EPSG:4550", res=10)
    da = index_stack([p.scene(10) for p in products], "NDVI", grid)
    a, b = da.values
    both = np.isfinite(a) & np.isfinite(b)
    assert both.sum() > 0.5 * a.size  # they overlap on most of the grid
    assert np.abs(a[both] - b[both]).max() < 2e-3
    x, _ = grid.coords()
    want = np.broadcast_to(0.2 + (x - 578000.0) / 4000.0, a.shape)
    assert np.nanmax(np.abs(a - want)) < 2e-3 and np.nanmax(np.abs(b - want)) < 2e-3


# ------------------------------------------------------------------------------ composites


def test_cli_season_and_month_composites_with_valid_counts(scenario, stack, tmp_path):
    sc, products, parcels_file = scenario
    da, aoi = stack
    out = tmp_path / "season.nc"
    res = CliRunner().invoke(main, ["imagery", "stack", str(products), "--aoi", str(parcels_file),
                                    "--composite", "season", "--how", "max", "-o", str(out)])
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(out, engine="h5netcdf")
    assert [str(t)[:10] for t in ds.time.values] == [f"{y}-05-01" for y in SCENARIO_YEARS]
    years = pd.DatetimeIndex(da.time.values).year
    want = np.stack([np.nanmax(da.values[years == y], axis=0) if np.isfinite(da.values[years == y]).any(axis=0).any()
                     else np.nan for y in SCENARIO_YEARS])
    count = np.stack([np.isfinite(da.values[years == y]).sum(axis=0) for y in SCENARIO_YEARS])
    np.testing.assert_allclose(ds["ndvi"].values, want, atol=1e-7)
    assert (ds["valid_count"].values == count).all()
    assert ds["ndvi"].attrs["composite"] == "season max (months 5-9)"
    rise = shapely.contains_xy(sc.parcels.to_crs("EPSG:4550").geometry[0].buffer(-15), *_centres(aoi.grid))
    assert set(np.unique(ds["valid_count"].values[1][rise])) == {1}  # 2020: June under cirrus
    np.testing.assert_allclose(ds["ndvi"].values[:, rise].mean(axis=1),
                               [planted_peak("SYN-RISE", y) for y in SCENARIO_YEARS], atol=1e-3)
    res = CliRunner().invoke(main, ["imagery", "stack", str(products), "--aoi", str(parcels_file), "--composite",
                                    "month", "--how", "median", "--season", "6-8", "-o", str(tmp_path / "m.nc")])
    assert res.exit_code == 0, res.output
    m = xr.open_dataset(tmp_path / "m.nc", engine="h5netcdf")
    assert m.sizes["time"] == 63 and int(m["valid_count"].sum()) == int(np.isfinite(da.values).sum())
    res = CliRunner().invoke(main, ["imagery", "stack", str(products), "--aoi", str(parcels_file), "--composite",
                                    "season", "--season", "9-5", "-o", str(tmp_path / "x.nc"), "--lang", "en"])
    assert res.exit_code == 1 and "growing season 9-5 is not valid: write first-last month such as 5-9" in res.output
    assert not (tmp_path / "x.nc").exists()


# ------------------------------------------------------------------------------ laziness


def test_lazy_stack_reads_nothing_until_computed_and_equals_the_eager_one(scenario, stack):
    sc, _, _ = scenario
    da, aoi = stack
    calls = []
    scenes = [open_product(p).scene(10) for p in sc.products]
    lazy = index_stack(scenes, "NDVI", aoi.grid, StackOptions(aoi=aoi, lazy=True, block_rows=16),
                       progress=lambda done, total: calls.append((done, total)))
    assert calls == [] and lazy.chunks is not None
    assert lazy.data.chunks[1] == tuple([16] * (aoi.grid.height // 16) + ([aoi.grid.height % 16] if aoi.grid.height % 16 else []))
    values = lazy.compute()
    n_blocks = -(-aoi.grid.height // 16)
    assert len(calls) == 12 * n_blocks and calls[-1] == (12 * n_blocks, 12 * n_blocks)
    # the same cells are masked; values agree exactly away from parcel edges, and within
    # 0.02 on them (GDAL's bilinear warper gives slightly different sub-pixel weights at a
    # sharp step depending on the block it warps)
    assert (np.isnan(values.values) == np.isnan(da.values)).all()
    np.testing.assert_allclose(values.values, da.values, atol=0.02)
    xx, yy = _centres(aoi.grid)
    core = shapely.contains_xy(aoi.geometry.buffer(-15), xx, yy)
    np.testing.assert_array_equal(values.values[:, core], da.values[:, core])
    np.testing.assert_array_equal(values.valid_fraction.values, da.valid_fraction.values)


def test_cli_aoi_errors(tmp_path):
    res = CliRunner().invoke(main, ["imagery", "stack", str(tmp_path), "-o", str(tmp_path / "a.nc"), "--lang", "en"])
    assert res.exit_code == 1 and "give the area with --aoi" in res.output
    res = CliRunner().invoke(main, ["imagery", "stack", str(tmp_path), "--aoi", "长春市", "-o", str(tmp_path / "a.nc")])
    assert res.exit_code == 1 and "--aoi 长春市:不是白城市的县(市、区)" in res.output
