"""One zonal engine for every input (issue 19): a list of files, an in-memory DataArray,
a dask DataArray chunked across the parcels' windows and a lazily opened NetCDF give the
same numbers (to 1e-9), through the same windowed reads, and never load the whole stack."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

import gis.zonal as gz
from gis import zonal_stats

from test_zonal import H, NODATA, RES, W, X0, Y1, _parcels, _values, _write

STATS = "count,sum,mean,min,max,std,median,p90,majority"
T = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Three float32 dates as GeoTIFFs (nodata −9999) and the same as a DataArray (NaN)."""
    d = tmp_path_factory.mktemp("paths")
    arrs, files = [], []
    for t in range(T):
        v = _values(seed=10 + t)
        v[5 * t:5 * t + 20, 10 * t:10 * t + 40] = NODATA  # a cloud per date
        arrs.append(v)
        files.append(_write(d / f"ndvi_2024-0{5 + t}-01.tif", v))
    data = np.where(np.stack(arrs) == NODATA, np.nan, np.stack(arrs)).astype("float32")
    da = xr.DataArray(data, dims=("time", "y", "x"), name="ndvi",
                      coords={"time": pd.date_range("2024-05-01", periods=T, freq="MS"),
                              "y": Y1 - RES / 2 - RES * np.arange(H),
                              "x": X0 + RES / 2 + RES * np.arange(W)}).rio.write_crs("EPSG:4550")
    nc = d / "stack.nc"
    stored = da.copy()
    stored.encoding["chunksizes"] = (1, 20, W)  # beside rioxarray's grid_mapping
    stored.to_dataset().to_netcdf(nc, engine="h5netcdf")
    zarr = d / "stack.zarr"
    da.chunk({"time": 1, "y": 20, "x": -1}).to_dataset().to_zarr(zarr, zarr_format=2)
    return {"files": files, "da": da, "nc": nc, "zarr": zarr, "zones": _parcels(80, seed=11)}


def _decoded(monkeypatch):
    """Record every decode of the lazy row buffer: (rows, first row, last row + 1)."""
    calls = []
    real = gz._LazyRows._decode

    def spy(self, a, b, rows):
        calls.append((self.buf.shape[0], a, b))
        return real(self, a, b, rows)

    monkeypatch.setattr(gz._LazyRows, "_decode", spy)
    return calls


def test_every_input_path_gives_the_same_numbers(stack, monkeypatch):
    zones, da = stack["zones"], stack["da"]
    ref = zonal_stats(zones, stack["files"], stats=STATS, rows_per_band=24)
    assert ref.sizes["time"] == T and bool(ref["partly_outside"].any())
    assert NODATA not in ref.sel(stat="min").values
    calls = _decoded(monkeypatch)
    paths = {
        "in-memory DataArray": da,
        # chunks of 37 rows and 50 columns straddle the 24-row windows of the parcels
        "dask, misaligned chunks": da.chunk({"time": 2, "y": 37, "x": 50}),
        "dask, one chunk per date": da.chunk({"time": 1, "y": -1, "x": -1}),
        "NetCDF path (opened lazily, read by the file's chunks)": stack["nc"],
        "Zarr path (opened lazily, read by the store's chunks)": stack["zarr"],
        "NetCDF opened lazily, no dask": xr.open_dataset(stack["nc"], engine="h5netcdf",
                                                         decode_coords="all")["ndvi"],
    }
    for name, raster in paths.items():
        calls.clear()
        r = zonal_stats(zones, raster, stats=STATS, rows_per_band=24)
        np.testing.assert_allclose(r.values, ref.values, rtol=1e-9, atol=1e-12,
                                   equal_nan=True, err_msg=name)
        assert list(r["time"].values) == list(ref["time"].values), name
        if name != "in-memory DataArray":  # read in windows, each row decoded once
            assert sum((b - a) * n for n, a, b in calls) == T * H, name
            if "one chunk" in name:  # a chunk is the least dask can compute
                assert [(a, b) for _, a, b in calls] == [(0, H)]
            else:
                assert len(calls) > 1 and max(b - a for _, a, b in calls) < H, name
        else:
            assert calls == []


def test_misaligned_chunks_are_computed_once_each(stack, monkeypatch):
    """A chunk that two windows share is computed once and kept, not recomputed."""
    calls = _decoded(monkeypatch)
    lazy = stack["da"].chunk({"time": 3, "y": 37, "x": 50})
    zonal_stats(stack["zones"], lazy, stats="mean", rows_per_band=24)
    edges = [0, 37, 74, 90]
    assert all(a in edges and b in edges for _, a, b in calls)  # whole chunks only
    assert sorted((a, b) for _, a, b in calls) == sorted(set((a, b) for _, a, b in calls))


def test_categorical_and_single_raster_agree_across_paths(stack):
    zones = stack["zones"]
    classes = (stack["da"].isel(time=0).fillna(0) > 8.6).astype("uint8") + 1
    ref = zonal_stats(zones, classes, stats="majority,variety", categorical=True)
    lazy = zonal_stats(zones, classes.chunk({"y": 29, "x": 40}),
                       stats="majority,variety", categorical=True, rows_per_band=16)
    pd.testing.assert_frame_equal(lazy, ref, rtol=1e-9)
    assert {"area_mu_1", "area_mu_2", "frac_1", "frac_2"} <= set(ref.columns)
