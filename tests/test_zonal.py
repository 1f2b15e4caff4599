"""zonal_stats (gis.zonal): against exactextract and rasterstats, stacks, categories, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers .rio)
import shapely
import geopandas as gpd
import xarray as xr
from rasterio.transform import from_origin
from shapely import box

from gis import zonal_stats
from gis.coverage import Coverage
from gis.errors import DataFileError, GridError, InputError, MissingCRSError

X0, Y1, RES, W, H = 500_000.0, 5_001_000.0, 10.0, 120, 90
TRANSFORM = from_origin(X0, Y1, RES, RES)
NODATA = -9999.0


def _parcels(n=60, seed=7) -> gpd.GeoDataFrame:
    """Rotated rectangles of 0.05–2 ha, a few over the raster edge, one with a hole."""
    rng = np.random.default_rng(seed)
    area = np.exp(rng.uniform(np.log(500), np.log(20_000), n))
    aspect = rng.uniform(1, 3, n)
    w = np.sqrt(area * aspect)
    h = area / w
    cx = rng.uniform(X0 - 20, X0 + W * RES + 20, n)
    cy = rng.uniform(Y1 - H * RES - 20, Y1 + 20, n)
    geoms = [shapely.affinity.rotate(box(x - a / 2, y - b / 2, x + a / 2, y + b / 2), r)
             for x, y, a, b, r in zip(cx, cy, w, h, rng.uniform(0, 180, n), strict=True)]
    geoms[0] = box(X0 + 100, Y1 - 400, X0 + 400, Y1 - 100).difference(
        box(X0 + 180, Y1 - 300, X0 + 290, Y1 - 190))
    return gpd.GeoDataFrame({"code": [f"P{i:03d}" for i in range(n)]}, geometry=geoms,
                            crs="EPSG:4550").set_index("code")


def _values(seed=3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    v = (8.5 + 0.01 * xx - 0.005 * yy + rng.normal(0, 0.3, (H, W))).astype("float32")
    v[rng.random((H, W)) < 0.04] = NODATA
    return v


def _write(path, arr, nodata=NODATA, crs="EPSG:4550", transform=TRANSFORM, **tags):
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0],
                       count=1, dtype=arr.dtype, crs=crs, transform=transform,
                       nodata=nodata, tiled=True, blockxsize=32, blockysize=32) as ds:
        ds.write(arr, 1)
        if "scale" in tags:
            ds.scales = (tags["scale"],)
            ds.offsets = (tags["offset"],)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("zonal")
    v = _values()
    classes = np.random.default_rng(5).integers(1, 5, (H, W)).astype("uint8")
    return {
        "dir": d,
        "values": v,
        "tif": _write(d / "ph.tif", v),
        "classes": _write(d / "classes.tif", classes, nodata=0),
        "zones": _parcels(),
    }


def test_matches_exactextract_to_1e6(data):
    from exactextract import exact_extract

    zones = data["zones"]
    ours = zonal_stats(zones, data["tif"],
                       stats="count,sum,mean,min,max,std,median,p10,p90")
    ops = ["count", "sum", "mean", "min", "max", "stdev", "median", "quantile(q=0.1)",
           "quantile(q=0.9)"]
    ee = exact_extract(str(data["tif"]), zones.reset_index(), ops, output="pandas",
                       include_cols=["code"]).set_index("code")
    ee.columns = ["count", "sum", "mean", "min", "max", "std", "median", "p10", "p90"]
    inside = ours["coverage_fraction"] > 0
    assert inside.sum() > 50
    for col in ee.columns:
        np.testing.assert_allclose(ours.loc[inside, col], ee.loc[inside, col], rtol=1e-6,
                                   err_msg=col)
    # exactextract keeps coverage fractions in single precision; we keep doubles
    assert (ours.loc[~inside, "count"] == 0).all() and ours.loc[~inside, "mean"].isna().all()


def test_categorical_stats_match_exactextract(data):
    from exactextract import exact_extract

    zones = data["zones"]
    ours = zonal_stats(zones, data["classes"], stats="majority,minority,variety")
    ee = exact_extract(str(data["classes"]), zones.reset_index(),
                       ["majority", "minority", "variety"], output="pandas",
                       include_cols=["code"]).set_index("code")
    inside = ours["coverage_fraction"] > 0
    for col in ("majority", "minority", "variety"):
        np.testing.assert_array_equal(ours.loc[inside, col], ee.loc[inside, col])


@pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")  # rasterstats on affine 3
def test_center_method_matches_rasterstats_default(data):
    from rasterstats import zonal_stats as rs_zonal_stats

    zones = data["zones"]
    ours = zonal_stats(zones, data["tif"], stats="count,sum,mean,min,max,median",
                       method="center")
    rs = pd.DataFrame(rs_zonal_stats(zones, str(data["tif"]),
                                     stats="count sum mean min max median"),
                      index=zones.index)
    has = rs["count"] > 0
    assert has.sum() > 40
    np.testing.assert_array_equal(ours.loc[has, "count"], rs.loc[has, "count"])
    for col in ("sum", "mean", "min", "max", "median"):
        np.testing.assert_allclose(ours.loc[has, col], rs.loc[has, col], rtol=1e-5,
                                   err_msg=col)


def test_known_means_on_a_hand_made_raster():
    """A 4 × 4 raster 0…15; a zone covering 1½ cells gives the weighted mean by hand."""
    da = xr.DataArray(np.arange(16.0).reshape(4, 4), dims=("y", "x"),
                      coords={"y": [35.0, 25.0, 15.0, 5.0], "x": [5.0, 15.0, 25.0, 35.0]})
    da = da.rio.write_crs("EPSG:4550")
    zones = gpd.GeoDataFrame(geometry=[box(0, 15, 10, 30)], crs="EPSG:4550")
    r = zonal_stats(zones, da, stats="count,sum,mean,min,max,std,median")
    # cell 4 (value 4) fully, cell 8 (value 8) half
    assert r["count"][0] == pytest.approx(1.5)
    assert r["sum"][0] == pytest.approx(8.0)
    assert r["mean"][0] == pytest.approx(16 / 3)
    assert r["std"][0] == pytest.approx(np.sqrt((1 * (4 - 16 / 3) ** 2 + 0.5 * (8 - 16 / 3) ** 2) / 1.5))
    assert (r["min"][0], r["max"][0]) == (4.0, 8.0)
    # exactextract's weighted median of {4: 1, 8: 0.5}: s = [0, 1.5], sn = 1.5 -> 4 + 0.5·4
    assert r["median"][0] == pytest.approx(6.0)


def test_quantiles_when_the_last_zones_have_no_valid_cell():
    """Zones whose cells are all NaN get NaN quantiles, also when they come last."""
    v = np.arange(16.0).reshape(4, 4)
    v[2:, 2:] = np.nan
    da = xr.DataArray(v, dims=("y", "x"), coords={"y": [35.0, 25.0, 15.0, 5.0],
                                                  "x": [5.0, 15.0, 25.0, 35.0]})
    zones = gpd.GeoDataFrame(geometry=[box(0, 20, 20, 40), box(20, 0, 40, 20),
                                       box(25, 5, 35, 15)], crs="EPSG:4550")
    r = zonal_stats(zones, da.rio.write_crs("EPSG:4550"), stats="count,median,p25")
    assert r["count"].tolist() == [4.0, 0.0, 0.0]
    assert r["median"][0] == pytest.approx(2.5)  # of 0, 1, 4, 5
    assert r["p25"][0] == pytest.approx(0.75)
    assert r["median"][1:].isna().all() and r["p25"][1:].isna().all()


def test_nodata_scale_offset_and_inputs_agree(data, tmp_path):
    zones = data["zones"]
    base = zonal_stats(zones, data["tif"], stats="mean,count")
    # the same raster stored as scaled integers with scale/offset tags
    v = data["values"]
    dn = np.where(v == NODATA, 0, np.round((v - 5.0) / 0.001)).astype("uint16")
    scaled = _write(tmp_path / "scaled.tif", dn, nodata=0, scale=0.001, offset=5.0)
    r = zonal_stats(zones, scaled, stats="mean,count")
    np.testing.assert_allclose(r["mean"], base["mean"], rtol=1e-4)  # 0.001 quantisation
    plain = np.where(dn == 0, NODATA, dn * 0.001 + 5.0)
    expected = zonal_stats(zones, _write(tmp_path / "plain.tif", plain), stats="mean")
    np.testing.assert_allclose(r["mean"], expected["mean"], rtol=1e-12)
    np.testing.assert_allclose(r["count"], base["count"], rtol=1e-12)
    with rasterio.open(data["tif"]) as ds:  # an open dataset
        np.testing.assert_allclose(zonal_stats(zones, ds, stats="mean")["mean"], base["mean"])
    da = rioxarray.open_rasterio(data["tif"], masked=True).squeeze("band", drop=True)
    np.testing.assert_allclose(zonal_stats(zones, da, stats="mean")["mean"], base["mean"],
                               rtol=1e-12)
    ds = da.to_dataset(name="ph")
    np.testing.assert_allclose(zonal_stats(zones, ds, stats="mean")["mean"], base["mean"],
                               rtol=1e-12)


def test_zones_in_lonlat_are_reprojected_and_geometry_kept(data):
    zones = data["zones"]
    a = zonal_stats(zones, data["tif"], stats="mean")
    ll = zones.to_crs("EPSG:4490")
    b = zonal_stats(ll, data["tif"], stats="mean", geometry=True)
    assert isinstance(b, gpd.GeoDataFrame) and b.crs == ll.crs
    assert list(b.index) == list(zones.index)
    np.testing.assert_allclose(b["mean"], a["mean"], rtol=1e-5)


def test_partly_outside_zones_are_flagged(data):
    r = zonal_stats(data["zones"], data["tif"], stats="count")
    part = r[r["partly_outside"]]
    assert len(part) >= 3
    assert ((part["coverage_fraction"] < 1) & (part["coverage_fraction"] >= 0)).all()
    assert not r.loc[~r["partly_outside"], "coverage_fraction"].lt(1).any()


def test_categorical_areas_in_mu():
    """Two classes split a 200 m × 100 m field in halves: 15 亩 each (ellipsoidal)."""
    from gis.area import area_mu

    arr = np.ones((10, 40), dtype="uint8")
    arr[:, 20:] = 2
    da = xr.DataArray(arr, dims=("y", "x"),
                      coords={"y": Y1 - 5 - 10 * np.arange(10), "x": X0 + 5 + 10 * np.arange(40)})
    da = da.rio.write_crs("EPSG:4550")
    field = box(X0 + 100, Y1 - 100, X0 + 300, Y1)
    zones = gpd.GeoDataFrame({"name": ["field"]}, geometry=[field], crs="EPSG:4550")
    r = zonal_stats(zones, da, stats="count", categorical=True)
    half1 = float(area_mu(box(X0 + 100, Y1 - 100, X0 + 200, Y1), crs="EPSG:4550"))
    half2 = float(area_mu(box(X0 + 200, Y1 - 100, X0 + 300, Y1), crs="EPSG:4550"))
    assert r["area_mu_1"][0] == pytest.approx(half1, rel=1e-6)
    assert r["area_mu_2"][0] == pytest.approx(half2, rel=1e-6)
    assert half1 == pytest.approx(15.0, rel=1e-4)
    assert r["frac_1"][0] == pytest.approx(0.5, rel=1e-6)


def test_coverage_is_reused_and_checked(data, tmp_path):
    zones = data["zones"]
    cov = Coverage.build(zones, rasterio.open(data["tif"]))
    path = cov.save(tmp_path / "weights.npz")
    a = zonal_stats(zones, data["tif"], stats="mean", coverage=path)
    b = zonal_stats(zones, data["tif"], stats="mean")
    np.testing.assert_allclose(a["mean"], b["mean"], rtol=1e-12)
    small = _write(tmp_path / "small.tif", data["values"][:50, :60])
    with pytest.raises(GridError, match=r"weights for .*small\.tif: the weights were built "
                       r"for the grid 120×90 cells .* but the raster's grid is 60×50 cells"):
        zonal_stats(zones, small, coverage=cov)


def test_errors_name_the_problem(data, tmp_path):
    zones = data["zones"]
    nocrs = _write(tmp_path / "nocrs.tif", data["values"], crs=None)
    with pytest.raises(MissingCRSError, match=r"nocrs\.tif: the raster has no CRS, so the "
                       r"zones cannot be placed on it; set one, e\.g\. `gdal_edit\.py"):
        zonal_stats(zones, nocrs)
    rot = _write(tmp_path / "rot.tif", data["values"],
                 transform=TRANSFORM @ rasterio.Affine.rotation(5))
    with pytest.raises(GridError, match=r"rot\.tif: the raster grid is rotated"):
        zonal_stats(zones, rot)
    far = zones.translate(100_000, 0)
    with pytest.raises(GridError, match=r"ph\.tif: none of the 60 zones overlaps the raster"):
        zonal_stats(gpd.GeoDataFrame(geometry=far, crs=zones.crs), data["tif"])
    with pytest.raises(DataFileError, match=r"missing\.tif: raster file not found"):
        zonal_stats(zones, tmp_path / "missing.tif")
    with pytest.raises(InputError, match=r"statistic 'average' is unknown; use count, sum"):
        zonal_stats(zones, data["tif"], stats="mean,average")


# --- time stacks --------------------------------------------------------------------
def _stack(data, n=4):
    """n dates of the raster, each with its own cloud (NaN) patch and offset."""
    v = np.where(data["values"] == NODATA, np.nan, data["values"]).astype("float64")
    out = np.repeat(v[None], n, axis=0) + np.arange(n)[:, None, None]
    for t in range(n):
        out[t, 10 * t: 10 * t + 30, 20 * t: 20 * t + 50] = np.nan
    times = pd.date_range("2024-05-01", periods=n, freq="MS")
    da = xr.DataArray(out, dims=("time", "y", "x"),
                      coords={"time": times, "y": Y1 - RES / 2 - RES * np.arange(H),
                              "x": X0 + RES / 2 + RES * np.arange(W)}, name="ndvi")
    return da.rio.write_crs("EPSG:4550")


def test_time_stack_equals_per_date_and_builds_coverage_once(data, monkeypatch):
    import gis.zonal as gz

    zones = data["zones"]
    da = _stack(data)
    gz._CACHE.clear()
    calls = []
    real = Coverage.build.__func__
    monkeypatch.setattr(Coverage, "build",
                        classmethod(lambda cls, *a, **k: calls.append(1) or real(cls, *a, **k)))
    r = zonal_stats(zones, da, stats="mean,count,max,median")
    assert len(calls) == 1
    assert r.dims == ("code", "time", "stat") and r.sizes["time"] == 4
    for t in range(4):
        single = zonal_stats(zones, da.isel(time=t), stats="mean,count,max,median")
        for s in ("mean", "count", "max", "median"):
            np.testing.assert_allclose(r.isel(time=t).sel(stat=s).values, single[s].values,
                                       rtol=1e-12, err_msg=f"{t} {s}")
    # the clouds differ by date, so the counts do too
    assert not np.allclose(r.sel(stat="count").isel(time=0), r.sel(stat="count").isel(time=1))
    assert bool(r["partly_outside"].any())


def test_only_the_tiles_under_the_zones_are_decoded(data, tmp_path, monkeypatch):
    """Two zones, in two corners of a stack tiled 32 × 32 (4 × 3 tiles): only the two
    tiles their boxes reach are decoded, on every date, locally and on one thread, and
    the numbers are those of the whole stack in memory."""
    import gis.zonal_read as zr
    from shapely import box

    da = _stack(data, 3).astype("float32")
    files = [_write(tmp_path / f"t{t}.tif", da.isel(time=t).fillna(NODATA).values) for t in range(3)]
    zones = gpd.GeoDataFrame({"name": ["nw", "se"]}, crs="EPSG:4550", geometry=[
        box(X0 + 15, Y1 - 290, X0 + 280, Y1 - 20),  # rows 2–28, columns 1–27: tile (0, 0)
        box(X0 + 1003, Y1 - 880, X0 + 1150, Y1 - 701)]).set_index("name")  # rows 70–87, columns 100–114: tile (2, 3)
    decoded = []
    real = zr._Strips.close

    def spy(self):
        decoded.append(sum(self.cells_decoded))
        real(self)

    monkeypatch.setattr(zr._Strips, "close", spy)
    ref = zonal_stats(zones, da, stats="mean,count,min,max,median")
    for workers in (1, 2):
        decoded.clear()
        r = zonal_stats(zones, files, stats="mean,count,min,max,median", times=da.time.values,
                        workers=workers)
        np.testing.assert_allclose(r.values, ref.values, rtol=1e-12)
        assert decoded == [3 * (32 * 32 + (H - 64) * (W - 96))], workers  # of 3 × 90 × 120
    strips = []  # files in strips of whole rows: whole rows are decoded, same numbers
    for t in range(3):
        with rasterio.open(files[t]) as src:
            profile = {**src.profile, "tiled": False}
            profile.pop("blockxsize"), profile.pop("blockysize")
            with rasterio.open(tmp_path / f"s{t}.tif", "w", **profile) as out:
                out.write(src.read())
        strips.append(tmp_path / f"s{t}.tif")
    decoded.clear()
    r = zonal_stats(zones, strips, stats="mean,count,min,max,median", times=da.time.values)
    np.testing.assert_allclose(r.values, ref.values, rtol=1e-12)
    assert decoded[0] > 3 * (32 * 32 + (H - 64) * (W - 96)) and decoded[0] % W == 0


def test_files_are_decoded_once_in_windows_that_share_rows(data, tmp_path, monkeypatch):
    """Windows of one block row overlap (zones run past it); the rows they share are
    kept, so every row of every date is read from the files exactly once, also when the
    dates are read in groups; caller-opened datasets and internal masks work the same."""
    import gis.zonal_engine as ze
    import gis.zonal_read as zr

    zones = data["zones"]
    da = _stack(data, 3).astype("float32")  # as stored in the files
    masked = da.copy()
    masked[2, 50:70, :40] = np.nan  # date 2 also has a masked rectangle
    files = []
    for t in range(3):
        arr = da.isel(time=t).fillna(NODATA).values.astype("float32")
        path = _write(tmp_path / f"m{t}.tif", arr)
        if t == 2:
            with rasterio.open(path, "r+") as ds:
                valid = np.full((H, W), 255, "uint8")
                valid[50:70, :40] = 0
                ds.write_mask(valid)
        files.append(path)
    decoded = []
    real = zr._Strips.gather

    def spy(self, *a):
        out = real(self, *a)
        decoded.append((self, self.rows_decoded))  # keeps each reader alive: ids unique
        return out

    monkeypatch.setattr(zr._Strips, "gather", spy)
    for stats in ("mean,count", "mean,count,max,median"):
        ref = zonal_stats(zones, masked, stats=stats)
        for budget in (ze._READ_BUFFER, 1):  # all dates together / one date at a time
            monkeypatch.setattr(ze, "_READ_BUFFER", budget)
            decoded.clear()
            r = zonal_stats(zones, files, stats=stats, times=da.time.values,
                            rows_per_band=32, workers=2)
            np.testing.assert_allclose(r.values, ref.values, rtol=1e-12, err_msg=stats)
            last = {}
            for reader, rows in decoded:
                last[id(reader)] = rows
            assert len(last) == (1 if budget > 1 else 3)
            assert len(decoded) == 3 * len(last)  # 90 rows: 3 windows per group of dates
            assert decoded[0][1] < last[id(decoded[0][0])]  # windows read as they go
            assert sum(last.values()) == 3 * H  # each row of each date read once
    with rasterio.open(files[0]) as a, rasterio.open(files[1]) as b:
        r = zonal_stats(zones, [a, b, files[2]], stats="mean,count", rows_per_band=32)
        np.testing.assert_allclose(r.values, ref.sel(stat=["mean", "count"]).values,
                                   rtol=1e-12)


def test_a_damaged_file_is_named(data, tmp_path):
    """A GeoTIFF cut short (an interrupted copy) opens, then fails while its tiles are
    read: the error names the file and the rows, not just "Read failed"."""
    good = data["tif"]
    cut = tmp_path / "ndvi_2024-06-01.tif"
    raw = good.read_bytes()
    cut.write_bytes(raw[: len(raw) * 2 // 3])
    with pytest.raises(DataFileError, match=r"ndvi_2024-06-01.tif: cannot read rows \d+–\d+ of band 1 "
                                            r"\(.+\); the file is damaged or incomplete"):
        zonal_stats(data["zones"], [good, cut], stats="mean")


def test_dates_of_a_file_stack_come_from_the_names(data, tmp_path):
    zones = data["zones"].iloc[:5]
    arr = data["values"]
    files = [_write(tmp_path / name, arr) for name in
             ("ndvi_2024-06-01.tif", "LC08_118028_20240517_T1.tif", "s2_2024_07.tif")]
    r = zonal_stats(zones, files, stats="mean")
    assert [str(t)[:10] for t in r.time.values] == ["2024-06-01", "2024-05-17", "2024-07-01"]
    assert r.time.dtype.kind == "M"  # datetime64: ready for .resample / .sel("2024-06")
    other = _write(tmp_path / "tile_8000_d01.tif", arr)
    r = zonal_stats(zones, [files[0], other], stats="mean")  # not every name has a date
    assert list(r.time.values) == ["ndvi_2024-06-01", "tile_8000_d01"]
    from gis.zonal import dates_in_names

    with pytest.raises(InputError, match=r"'bad_2023-02-30.tif' holds '2023-02-30', which is not a date"):
        dates_in_names(["bad_2023-02-30.tif"])
    with pytest.raises(InputError, match=r"cannot tell the date of 'tile_8000_d01'"):
        dates_in_names(["tile_8000_d01"])


def test_stack_from_files_netcdf_and_dask(data, tmp_path):
    zones = data["zones"]
    da = _stack(data, 3)
    ref = zonal_stats(zones, da, stats="mean,count")
    files = []
    for t in range(3):
        arr = da.isel(time=t).fillna(NODATA).values.astype("float32")
        files.append(_write(tmp_path / f"d{t}.tif", arr))
    r = zonal_stats(zones, files, stats="mean,count", times=da.time.values)
    np.testing.assert_allclose(r.values, ref.values, rtol=1e-6)
    nc = tmp_path / "stack.nc"
    da.to_dataset().to_netcdf(nc, engine="scipy")  # h5py is not installed here
    r = zonal_stats(zones, nc, stats="mean,count")
    np.testing.assert_allclose(r.values, ref.values, rtol=1e-12)
    r = zonal_stats(zones, da.chunk({"time": 1, "y": 32, "x": 64}), stats="mean,count")
    np.testing.assert_allclose(r.values, ref.values, rtol=1e-12)
    # south-up (ascending y, common in NetCDF) is read the right way round
    r = zonal_stats(zones, da.sortby("y"), stats="mean,count")
    np.testing.assert_allclose(r.values, ref.values, rtol=1e-12)
