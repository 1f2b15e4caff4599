"""gis.stackfile: one opener for NetCDF and Zarr index stacks; workflows.imagery.write_zarr:
a Zarr store written atomically (issue 15). The end-to-end path (CLI → Zarr → remediation
and zonal_stats) is in tests/test_imagery_baicheng.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr

from gis.errors import DataFileError
from gis.stackfile import open_stack_dataset, stack_kind
from workflows.imagery import write_stack, write_zarr
from workflows.remediation import open_netcdf_stack


def _stack(value: float = 0.5, n: int = 3) -> xr.Dataset:
    t = pd.date_range("2024-05-01", periods=n, freq="MS")
    data = np.full((n, 4, 5), value, dtype="float32")
    data[1, 0, 0] = np.nan
    da = xr.DataArray(data, dims=("time", "y", "x"), name="ndvi",
                      coords={"time": t, "y": 5040000.0 - 10 * np.arange(4) - 5, "x": 480000.0 + 10 * np.arange(5) + 5,
                              "sensor": ("time", ["Sentinel-2A"] * n)})
    da = da.rio.write_crs("EPSG:4550").chunk({"time": 1})
    ds = da.to_dataset()
    ds["valid_count"] = da.notnull().sum("time").astype("int16")
    ds.attrs["synthetic"] = "true"
    return ds


def test_netcdf_and_zarr_open_alike(tmp_path):
    ds = _stack()
    nc, zarr = write_stack(ds, tmp_path / "s.nc"), write_stack(ds, tmp_path / "s.zarr")
    assert (stack_kind(nc), stack_kind(zarr), stack_kind(tmp_path / "s.tif")) == ("netcdf", "zarr", None)
    a, b = open_stack_dataset(nc), open_stack_dataset(zarr)
    assert b["ndvi"].chunks is not None  # lazy
    np.testing.assert_array_equal(a["ndvi"].values, b["ndvi"].values)
    assert int(np.isnan(b["ndvi"].values).sum()) == 1 and b["ndvi"].rio.crs.to_epsg() == 4550
    assert (a.time.values == b.time.values).all() and b.attrs["synthetic"] == "true"
    assert b["valid_count"].values.tolist() == a["valid_count"].values.tolist()
    da = open_netcdf_stack(zarr, "NDVI")
    assert da.name == "ndvi" and da.attrs["synthetic"] == "true" and "sensor" not in da.coords


def test_missing_wrong_and_damaged_stack_files(tmp_path):
    with pytest.raises(DataFileError, match=r"index stack file .*none.zarr does not exist"):
        open_stack_dataset(tmp_path / "none.zarr")
    tif = tmp_path / "ndvi.tif"
    tif.write_bytes(b"II*\x00")
    with pytest.raises(DataFileError, match=r"ndvi.tif: not a NetCDF \(.nc, .nc4\) or Zarr \(.zarr folder\) index "
                                            r"stack"):
        open_stack_dataset(tif)
    good = write_stack(_stack(), tmp_path / "s.nc")
    cut = tmp_path / "cut.nc"
    cut.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(DataFileError, match=r"cut.nc: cannot open the index stack \(.+\); the file is damaged"):
        open_stack_dataset(cut)
    broken = write_stack(_stack(), tmp_path / "b.zarr")
    for meta in (".zmetadata", ".zgroup"):
        (broken / meta).write_text("{not json", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"b.zarr: cannot open the index stack"):
        open_stack_dataset(broken)


def test_write_zarr_replaces_a_store_and_refuses_anything_else(tmp_path):
    out = write_zarr(_stack(0.5), tmp_path / "s.zarr")
    write_zarr(_stack(0.7, n=2), out)
    ds = open_stack_dataset(out)
    assert ds.sizes["time"] == 2 and float(ds["ndvi"].max()) == pytest.approx(0.7)
    folder = tmp_path / "photos.zarr"
    folder.mkdir()
    (folder / "keep.jpg").write_bytes(b"x")
    with pytest.raises(DataFileError, match=r"photos.zarr: exists and is not a Zarr store, so it is not overwritten"):
        write_zarr(_stack(), folder)
    assert (folder / "keep.jpg").read_bytes() == b"x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos.zarr", "s.zarr"]  # no staging left


def test_a_failed_zarr_write_leaves_the_old_store(tmp_path):
    import dask.array as dsa

    out = write_zarr(_stack(0.5), tmp_path / "s.zarr")

    def boom(block):
        raise RuntimeError("decoder failed")

    bad = _stack(0.9)
    bad["ndvi"] = bad["ndvi"].copy(data=dsa.map_blocks(boom, bad["ndvi"].data, dtype="float32"))
    with pytest.raises(RuntimeError, match="decoder failed"):
        write_zarr(bad, out)
    assert float(open_stack_dataset(out)["ndvi"].max()) == pytest.approx(0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def test_every_reader_takes_the_index_of_a_composite_stack_not_its_valid_count(tmp_path):
    """A composite stack holds ``ndvi`` and ``valid_count``: zonal_stats, remediation and
    verify all take the index (gis.stackfile.index_variables), without being told."""
    import geopandas as gpd
    import shapely

    from gis import zonal_stats
    from workflows.verify import open_evidence_stack

    ds = _stack(0.25)
    corner = (ds.y == ds.y[0]) & (ds.x == ds.x[0])
    ds["ndvi"] = ds["ndvi"].where(~corner, 0.75)  # the top-left cell differs: the mean says which cells were used
    for path in (write_stack(ds, tmp_path / "c.nc"), write_stack(ds, tmp_path / "c.zarr")):
        zones = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.box(480000, 5040000 - 20, 480020, 5040000)],
                                 crs="EPSG:4550")  # cells (0,0), (0,1), (1,0), (1,1)
        r = zonal_stats(zones, path, stats="mean")
        means = r.sel(stat="mean").values.ravel()
        np.testing.assert_allclose(means, [0.375] * 3, rtol=1e-6)  # (0.75 + 3 × 0.25) / 4, not a count
        assert open_netcdf_stack(path).name == "ndvi"
        assert list(open_evidence_stack(path)[0]) == ["ndvi"]


@pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part")  # writing format 3
@pytest.mark.filterwarnings("ignore:The data type .* does not have a Zarr V3 specification")  # its 'sensor' texts
def test_zarr_stores_with_and_without_consolidated_metadata_open_without_a_warning(tmp_path):
    """A store without consolidated metadata (format 3's default elsewhere, any writer's
    choice) opens at once: xarray would first fail to find it and warn."""
    import warnings

    ds = _stack()
    for fmt in (2, 3):
        for consolidated in (True, False):
            store = tmp_path / f"v{fmt}_{consolidated}.zarr"
            ds.to_zarr(store, zarr_format=fmt, consolidated=consolidated)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # xarray's RuntimeWarning would fail here
                got = open_stack_dataset(store)
            np.testing.assert_array_equal(got["ndvi"].values, ds["ndvi"].values)
