"""One zonal engine for every input (issue 19): a list of files, an in-memory DataArray,
a dask DataArray chunked across the parcels' windows and a lazily opened NetCDF give the
same numbers (to 1e-9), through the same windowed reads, and never load the whole stack."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

import gis.zonal_read as zr
from gis import zonal_stats
from gis.errors import DataFileError
from gis.hdf5_chunks import StoredChunks

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
    for cls in (zr._LazyRows, zr._StoredRows):  # NetCDF-4 and Zarr are read their own way
        def spy(self, a, b, rows, dates, real=cls._decode):
            calls.append((len(dates), a, b))
            return real(self, a, b, rows, dates)

        monkeypatch.setattr(cls, "_decode", spy)
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
        if name.startswith(("NetCDF path", "Zarr path")):  # read as stored, not through xarray
            src = zr._open(raster, 1, None, None, None)
            assert isinstance(src, zr._Hdf5Source if "NetCDF" in name else zr._ZarrSource), name
            src.close()
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


def _opened(files, times, chunks, masked=True):
    """The files as a user opens them with rioxarray: one dask DataArray (time, y, x)."""
    das = [rioxarray.open_rasterio(f, chunks=chunks, masked=masked).squeeze("band", drop=True)
           for f in files]
    return xr.concat(das, dim="time").assign_coords(time=list(times))


def test_a_dask_stack_of_files_is_read_from_the_files(stack):
    """A stack opened with rioxarray (any chunks, masked or not) is read as its list of
    files — the same windows, no dask, no rioxarray lock — with the same numbers; a stack
    that dask computes on, or cut from the files, is read through dask as it is."""
    zones, files = stack["zones"], stack["files"]
    ref = zonal_stats(zones, files, stats=STATS, rows_per_band=24)
    times = ref["time"].values
    as_files = {
        "tiles' rows": _opened(files, times, {"y": 32, "x": -1}),
        "misaligned, not masked": _opened(files, times, {"y": 37, "x": 50}, masked=False),
        "rechunked": _opened(files, times, {"y": 32}).chunk({"y": 45}),
    }
    through_dask = {
        "computed on": _opened(files, times, {"y": 32}) * 1.0,
        "nodata changed": _opened(files, times, {"y": 32}, masked=False).rio.write_nodata(8.6),
        "rows cut": _opened(files, times, {"y": 32}).isel(y=slice(10, None)),
    }
    for name, da in {**as_files, **through_dask}.items():
        src = zr._open(da, 1, None, None, None)
        assert isinstance(src, zr._RasterioSource) == (name in as_files), name
        assert src.cluster, name  # either way, a client would run it
        if isinstance(src, zr._RasterioSource):
            assert [str(p) for p in src.paths] == [str(f) for f in files], name
    for name, da in {**as_files, "computed on": through_dask["computed on"]}.items():
        r = zonal_stats(zones, da, stats=STATS, rows_per_band=24)
        np.testing.assert_allclose(r.values, ref.values, rtol=1e-9, atol=1e-12,
                                   equal_nan=True, err_msg=name)
        assert list(r["time"].values) == list(times), name
    # rows cut away from the files: those cells are not there
    cut = zonal_stats(zones, through_dask["rows cut"], stats="count", rows_per_band=24)
    assert (cut.values <= ref.sel(stat=["count"]).values + 1e-9).all()
    assert (cut.values < ref.sel(stat=["count"]).values - 1e-9).any()


def test_one_thread_and_two_threads_per_date_give_the_same_bits(stack):
    """The dates of a window are decoded and gathered on several threads: the numbers
    are those of one thread, bit for bit."""
    zones, files = stack["zones"], stack["files"]
    one = zonal_stats(zones, files, stats=STATS, rows_per_band=24, workers=1)
    two = zonal_stats(zones, files, stats=STATS, rows_per_band=24, workers=2)
    np.testing.assert_array_equal(one.values, two.values)


def test_one_band_of_several_is_read_through_dask_as_the_band(stack, tmp_path):
    """A band picked from a multi-band file (``.sel(band=2)`` or ``band_as_variable``) is
    not taken for the file's first band: it is read through dask, with that band's numbers."""
    import rasterio

    files = stack["files"]
    with rasterio.open(files[0]) as a, rasterio.open(files[1]) as b:
        profile = {**a.profile, "count": 2}
        two = tmp_path / "two_bands.tif"
        with rasterio.open(two, "w", **profile) as out:
            out.write(a.read(1), 1)
            out.write(b.read(1), 2)
    ref = zonal_stats(stack["zones"], files[1], stats="mean,count,max")
    picked = {
        "sel(band=2)": rioxarray.open_rasterio(two, chunks={"y": 32}, masked=True).sel(band=2),
        "band_as_variable": rioxarray.open_rasterio(two, chunks={"y": 32}, masked=True,
                                                    band_as_variable=True)["band_2"],
    }
    for name, da in picked.items():
        assert not isinstance(zr._open(da, 1, None, None, None), zr._RasterioSource), name
        r = zonal_stats(stack["zones"], da, stats="mean,count,max")
        np.testing.assert_allclose(r[["mean", "count", "max"]].to_numpy(),
                                   ref[["mean", "count", "max"]].to_numpy(), rtol=1e-9,
                                   equal_nan=True, err_msg=name)


def _netcdf(da, path, **encoding):
    stored = da.copy()
    stored.encoding.update(encoding)
    stored.to_dataset().to_netcdf(path, engine="h5netcdf")
    return path


@pytest.mark.filterwarnings("ignore:variable 'ndvi' has multiple fill values")
def test_a_netcdf_path_is_read_as_stored_with_its_fill_and_scale(stack, tmp_path):
    """A NetCDF-4 path is read straight from its HDF5 dataset, as stored (int16 here),
    and masked and scaled by the engine: the numbers xarray's decoding gives. A file
    xarray must decode itself (south-up, one nodata given, two fill values, classic
    NetCDF-3) is read through xarray, with the same numbers."""
    zones, da = stack["zones"], stack["da"]
    scaled = _netcdf(da, tmp_path / "int16.nc", dtype="int16", scale_factor=0.001,
                     add_offset=2.0, _FillValue=np.int16(-32768), chunksizes=(1, 16, W))
    decoded = xr.open_dataset(scaled, engine="h5netcdf", decode_coords="all")["ndvi"].load()
    assert decoded.isnull().sum() == da.isnull().sum() > 0  # the clouds are fill values
    ref = zonal_stats(zones, decoded, stats=STATS, rows_per_band=24)
    src = zr._open(scaled, 1, None, None, None)
    assert isinstance(src, zr._Hdf5Source) and src.dtype == np.int16
    assert src.meta[0] == (-32768, 0.001, 2.0)
    src.close()
    r = zonal_stats(zones, scaled, stats=STATS, rows_per_band=24)
    np.testing.assert_allclose(r.values, ref.values, rtol=1e-12, equal_nan=True)
    assert float(r.sel(stat="max").max()) > 2.0  # offset applied

    two = _netcdf(da, tmp_path / "two.nc", dtype="int16", scale_factor=0.001, add_offset=2.0,
                  _FillValue=np.int16(-32768))
    with h5py.File(two, "r+") as f:  # xarray writes one fill value; a county file may have two
        f["ndvi"].attrs["missing_value"] = np.int16(-1)
        f["ndvi"][0, 40:50, 60:80] = -1
    through_xarray = {
        "south-up": _netcdf(da.isel(y=slice(None, None, -1)), tmp_path / "south_up.nc"),
        "two fill values": two,
        "NetCDF-3": _classic(da, tmp_path / "classic.nc"),
    }
    for name, path in through_xarray.items():
        src = zr._open(path, 1, None, None, None)
        assert type(src) is zr._XarraySource, name
        src.close()
        loaded = xr.open_dataset(path, decode_coords="all")["ndvi"].load()
        want = zonal_stats(zones, loaded.assign_coords(time=da["time"].values), stats=STATS,
                           rows_per_band=24)
        got = zonal_stats(zones, path, stats=STATS, rows_per_band=24)
        np.testing.assert_allclose(got.values, want.values, rtol=1e-12, equal_nan=True,
                                   err_msg=name)
    one_date = _netcdf(da.isel(time=0, drop=True), tmp_path / "one.nc", dtype="int16",
                       scale_factor=0.001, add_offset=2.0, _FillValue=np.int16(-32768))
    loaded = xr.open_dataset(one_date, decode_coords="all")["ndvi"].load()  # no date: loaded, decoded
    cols = STATS.split(",")
    np.testing.assert_allclose(zonal_stats(zones, one_date, stats=STATS)[cols].to_numpy(float),
                               zonal_stats(zones, loaded, stats=STATS)[cols].to_numpy(float),
                               rtol=1e-12, equal_nan=True)
    assert zonal_stats(zones, two, stats="count").sel(stat="count").sum() < \
        r.sel(stat="count").sum() - 10  # the missing_value cells are left out
    assert type(zr._open(stack["nc"], 1, 8.6, None, None)) is zr._XarraySource  # nodata given
    with_nodata = zonal_stats(zones, stack["nc"], stats="count", nodata=8.6, rows_per_band=24)
    assert (with_nodata.values <= r.sel(stat=["count"]).values + 1e-9).all()


def test_a_compressed_netcdf_gives_the_same_numbers_and_names_a_damaged_chunk(stack, tmp_path, monkeypatch):
    """A NetCDF compressed as NetCDF-4 writers do (deflate, maybe shuffle) is read as
    stored, its chunks decoded on the reader's threads (gis.hdf5_chunks): the numbers of
    the files and of xarray's own decoding. A damaged chunk names the file."""
    zones, da = stack["zones"], stack["da"]
    ref = zonal_stats(zones, stack["files"], stats=STATS, rows_per_band=24)
    kinds = {
        "float32, deflate + shuffle, chunks across dates and columns":
            {"zlib": True, "shuffle": True, "complevel": 4, "chunksizes": (2, 16, 48)},
        "int16 scaled, deflate": {"dtype": "int16", "scale_factor": 0.001, "add_offset": 2.0,
                                  "_FillValue": np.int16(-32768), "zlib": True, "shuffle": False,
                                  "chunksizes": (1, 20, W)},
    }
    pools = []
    real = StoredChunks.read_into

    def spy(self, out, sel, pool=None):
        pools.append(pool)
        return real(self, out, sel, pool)

    monkeypatch.setattr(StoredChunks, "read_into", spy)
    for i, (name, encoding) in enumerate(kinds.items()):
        path = _netcdf(da, tmp_path / f"z{i}.nc", **encoding)
        src = zr._open(path, 1, None, None, None)
        assert isinstance(src, zr._Hdf5Source) and src.chunks is not None, name
        src.close()
        loaded = xr.open_dataset(path, engine="h5netcdf", decode_coords="all")["ndvi"].load()
        want = zonal_stats(zones, loaded, stats=STATS, rows_per_band=24)
        pools.clear()
        got = zonal_stats(zones, path, stats=STATS, rows_per_band=24, workers=2)
        assert pools and all(p is not None and p._max_workers == 2 for p in pools), name  # both cores
        np.testing.assert_allclose(got.values, want.values, rtol=1e-12, equal_nan=True, err_msg=name)
        if i == 0:
            np.testing.assert_allclose(got.values, ref.values, rtol=1e-9, equal_nan=True)
    with h5py.File(tmp_path / "z0.nc", "r") as f:
        info = f["ndvi"].id.get_chunk_info_by_coord((0, 16, 48))
    with open(tmp_path / "z0.nc", "r+b") as fh:
        fh.seek(info.byte_offset + 8)
        fh.write(b"\x00\xff" * 32)
    with pytest.raises(DataFileError, match=r"z0\.nc.*ndvi.*\[0, 16, 48\]"):
        zonal_stats(zones, tmp_path / "z0.nc", stats="mean", rows_per_band=24)


@pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part")  # format 3, as xarray writes it
def test_a_zarr_path_is_read_as_stored_with_its_fill_and_scale(stack, tmp_path):
    """A Zarr store (format 2 and 3) is read as stored, zarr decoding its chunks straight
    into the row buffer, and masked and scaled by the engine: the numbers of xarray's
    decoding. A south-up store is read through xarray, with the same numbers."""
    zones, da = stack["zones"], stack["da"]
    scaled = da.copy()
    scaled.encoding.update(dtype="int16", scale_factor=0.001, add_offset=2.0, _FillValue=np.int16(-32768))
    stores = {}
    for fmt in (2, 3):  # chunks across dates, rows and columns
        stores[f"int16, format {fmt}"] = tmp_path / f"int16_v{fmt}.zarr"
        scaled.chunk({"time": 2, "y": 16, "x": 48}).to_dataset().to_zarr(
            stores[f"int16, format {fmt}"], zarr_format=fmt)
    stores["south-up"] = tmp_path / "south_up.zarr"
    da.isel(y=slice(None, None, -1)).chunk({"time": 1}).to_dataset().to_zarr(stores["south-up"], zarr_format=2)
    for name, store in stores.items():
        src = zr._open(store, 1, None, None, None)
        assert (type(src) is zr._XarraySource) if name == "south-up" else \
            (isinstance(src, zr._ZarrSource) and src.dtype == np.int16), name
        src.close()
        loaded = xr.open_dataset(store, engine="zarr", decode_coords="all")["ndvi"].load()
        want = zonal_stats(zones, loaded, stats=STATS, rows_per_band=24)
        got = zonal_stats(zones, store, stats=STATS, rows_per_band=24)
        np.testing.assert_allclose(got.values, want.values, rtol=1e-12, equal_nan=True, err_msg=name)
        assert float(got.sel(stat="count").sum()) > 0 and not np.isnan(got.sel(stat="max")).all(), name
    chunk = stores["int16, format 2"] / "ndvi" / "0.1.1"  # time 0–1, rows 16–31, columns 48–95
    chunk.write_bytes(chunk.read_bytes()[:40] + b"\x00" * 40)
    with pytest.raises(DataFileError, match=r"int16_v2\.zarr: cannot read rows 0–\d+ of variable ndvi \(.*\); "
                                            r"the file is damaged"):
        zonal_stats(zones, stores["int16, format 2"], stats="mean", rows_per_band=24)


@pytest.mark.filterwarnings("ignore:variable 'ndvi' has multiple fill values")
def test_a_dataarray_opened_from_netcdf_or_zarr_is_read_as_the_file_unless_changed(stack, tmp_path):
    """``xr.open_dataset(path)["ndvi"]`` — lazily or with dask chunks, rechunked, its
    encoding dropped, a CRS written on it — is read as stored, like the path; cut,
    reordered, recomputed, re-dated or decoded otherwise it is read as the DataArray it
    is. Either way the numbers are the DataArray's own (those of its loaded copy)."""
    zones, da = stack["zones"], stack["da"]
    nc = _netcdf(da, tmp_path / "int16.nc", dtype="int16", scale_factor=0.001, add_offset=2.0,
                 _FillValue=np.int16(-32768), zlib=True, chunksizes=(1, 16, W))
    store = tmp_path / "int16.zarr"
    scaled = da.copy()
    scaled.encoding.update(dtype="int16", scale_factor=0.001, add_offset=2.0, _FillValue=np.int16(-32768))
    scaled.chunk({"time": 1, "y": 16}).to_dataset().to_zarr(store, zarr_format=2)
    for path, kind in ((nc, zr._Hdf5Source), (store, zr._ZarrSource)):
        lazy = xr.open_dataset(path, decode_coords="all")["ndvi"]
        chunked = xr.open_dataset(path, decode_coords="all", chunks={})["ndvi"]
        no_encoding = lazy.copy()
        no_encoding.encoding = {}
        as_file = {"lazy": lazy, "dask": chunked, "rechunked": chunked.chunk({"y": 30, "x": 25}),
                   "encoding dropped": no_encoding, "Dataset": xr.open_dataset(path, decode_coords="all"),
                   "CRS written": lazy.rio.write_crs("EPSG:4550")}
        as_dataarray = {
            "rows reversed": lazy.isel(y=slice(None, None, -1)), "dates reordered": lazy.isel(time=[2, 0, 1]),
            "dates reordered (dask)": chunked.isel(time=[2, 0, 1]), "computed on": chunked * 2.0,
            "re-dated": lazy.assign_coords(time=lazy["time"].values[::-1]), "loaded": lazy.compute(),
            "not masked or scaled": xr.open_dataset(path, decode_coords="all", mask_and_scale=False)["ndvi"],
        }
        for name, raster in {**as_file, **as_dataarray}.items():
            src = zr._open(raster, 1, None, None, None)
            assert (type(src) is kind) == (name in as_file), (path.name, name, type(src))
            src.close()
            arr = raster["ndvi"] if name == "Dataset" else raster
            got = zonal_stats(zones, raster, stats=STATS, rows_per_band=24)
            want = zonal_stats(zones, arr.compute(), stats=STATS, rows_per_band=24)  # .load() would load `raster`
            np.testing.assert_allclose(got.values, want.values, rtol=1e-9, equal_nan=True,
                                       err_msg=f"{path.name}: {name}")


def test_a_dataarray_that_is_not_its_files_variable_as_stored_is_read_as_a_dataarray(stack, tmp_path):
    """The shortcut never reads another variable, group or file than the DataArray's,
    nor ignores a nodata or scale of its own: named as another variable, holding another
    variable's data, from a group, with its own scale or nodata, or opened from a file
    replaced since — each is read as the DataArray it is, with its own numbers."""
    import os

    zones, da = stack["zones"], stack["da"]
    two = tmp_path / "two.nc"
    ds = da.to_dataset()
    ds["evi"] = (da * 0.5 + 1).astype("float32")
    ds.to_netcdf(two, engine="h5netcdf")
    (da * 2).astype("float32").to_dataset().to_netcdf(two, engine="h5netcdf", mode="a", group="g")
    opened = xr.open_dataset(two, decode_coords="all")
    chunked = xr.open_dataset(two, decode_coords="all", chunks={})
    value = float(opened["ndvi"].isel(time=0, y=50, x=100))
    replaced = tmp_path / "replaced.nc"
    _netcdf(da, replaced)
    before = xr.open_dataset(replaced, decode_coords="all")["ndvi"]
    _netcdf((da * 3).astype("float32"), tmp_path / "new.nc")
    os.replace(tmp_path / "new.nc", replaced)  # xarray still reads the file it opened
    cases = {
        "named as another variable": opened["ndvi"].rename("evi"),
        "another variable's data": chunked["ndvi"].copy(data=chunked["evi"].data),
        "from a group": xr.open_dataset(two, group="g", decode_coords="all")["ndvi"],
        "its own scale": opened["ndvi"].assign_attrs(scale_factor=1e-4),
        "its own nodata": opened["ndvi"].drop_encoding().rio.write_nodata(value),
        "file replaced since": before,
    }
    assert isinstance(zr._open(opened["evi"], 1, None, None, None), zr._Hdf5Source)  # as it is: the file
    for name, raster in cases.items():
        src = zr._open(raster, 1, None, None, None)
        assert not isinstance(src, zr._StoredSource), name
        src.close()
        got = zonal_stats(zones, raster, stats=STATS, rows_per_band=24)
        want = zonal_stats(zones, raster.compute(), stats=STATS, rows_per_band=24)
        np.testing.assert_allclose(got.values, want.values, rtol=1e-9, equal_nan=True, err_msg=name)


def test_a_list_of_lazily_opened_files_is_read_as_the_files_not_loaded(stack):
    """A list of dates opened by rioxarray without dask: read as the list of files
    (xr.concat would load every file whole first), dated as xr.concat would date them,
    or by ``times``. A list with a date computed in memory is joined by xarray."""
    zones, files = stack["zones"], stack["files"]
    ref = zonal_stats(zones, files, stats=STATS, rows_per_band=24)
    opened = [rioxarray.open_rasterio(f, masked=True).squeeze("band", drop=True) for f in files]
    src = zr._open(opened, 1, None, None, None)
    assert isinstance(src, zr._RasterioSource) and src.times == [0, 1, 2]
    assert [p.split("/")[-1] for p in src.paths] == [f.name for f in files]
    src.close()
    dates = list(ref["time"].values)
    dated = [da.assign_coords(time=t) for da, t in zip(opened, dates, strict=True)]
    for name, kwargs, raster in (("times given", {"times": dates}, opened), ("own dates", {}, dated)):
        r = zonal_stats(zones, raster, stats=STATS, rows_per_band=24, **kwargs)
        np.testing.assert_allclose(r.values, ref.values, rtol=1e-9, equal_nan=True, err_msg=name)
        assert list(r["time"].values) == dates, name
    chunked = [rioxarray.open_rasterio(f, masked=True, chunks={"y": 30}).squeeze("band", drop=True)
               for f in files]  # dask: joined by xarray, lazily, and read as the files (on a cluster too)
    assert zr._lazy_files(chunked, None, None) is None and zr._open(chunked, 1, None, None, None).cluster
    import rasterio

    shifted = files[0].with_name("shifted.tif")  # three columns east: xr.concat joins by coordinates
    with rasterio.open(files[0]) as a:
        with rasterio.open(shifted, "w", **{**a.profile, "transform": a.transform @ a.transform.translation(3, 0)}) as b:
            b.write(a.read())
    assert zr._lazy_files([opened[1], rioxarray.open_rasterio(shifted, masked=True).squeeze("band", drop=True)],
                          None, None) is None
    mixed = [opened[0], opened[1] + 0, opened[2]]  # one date computed (loaded)
    assert not isinstance(zr._open(mixed, 1, None, None, None), zr._RasterioSource)
    r = zonal_stats(zones, mixed, stats=STATS, rows_per_band=24, times=dates)
    np.testing.assert_allclose(r.values, ref.values, rtol=1e-9, equal_nan=True)


def _classic(da, path):
    """The stack as a classic NetCDF-3 file (scipy's writer), which is not HDF5."""
    ds = da.to_dataset()
    ds["time"] = np.arange(da.sizes["time"])  # NetCDF-3 dates as plain numbers
    ds.to_netcdf(path, engine="scipy")
    return path


def test_a_lazily_opened_single_date_is_read_in_windows_not_loaded(stack, tmp_path, monkeypatch):
    """One date opened lazily (rioxarray without chunks, a NetCDF without a date
    dimension) is read window by window like a stack: xarray would load it whole to add
    the date dimension. Same numbers as the file."""
    zones, f = stack["zones"], stack["files"][1]
    ref = zonal_stats(zones, f, stats=STATS, rows_per_band=24)
    cols = STATS.split(",")
    one = _netcdf(stack["da"].isel(time=1, drop=True), tmp_path / "one.nc", chunksizes=(16, W))
    lazy = {"rioxarray, no chunks": rioxarray.open_rasterio(f, masked=True).squeeze("band", drop=True),
            "NetCDF of one date": one}
    kinds = {"rioxarray, no chunks": zr._RasterioSource, "NetCDF of one date": zr._Hdf5Source}
    for name, raster in lazy.items():
        src = zr._open(raster, 1, None, None, None)
        assert type(src) is kinds[name] and not src.cluster, name  # read as the file, in windows
        src.close()
        calls = _decoded(monkeypatch)
        r = zonal_stats(zones, raster, stats=STATS, rows_per_band=24)
        np.testing.assert_allclose(r[cols].to_numpy(float), ref[cols].to_numpy(float), rtol=1e-9,
                                   equal_nan=True, err_msg=name)
        if name == "NetCDF of one date":
            assert len(calls) > 1 and sum(b - a for _, a, b in calls) == H, (name, calls)
    # a date picked out of a lazily opened file of several bands is not its first band
    two = tmp_path / "two_bands.tif"
    import rasterio

    with rasterio.open(f) as a:
        with rasterio.open(two, "w", **{**a.profile, "count": 2}) as out:
            v = a.read(1)
            out.write(v, 1)
            out.write(np.where(v == a.nodata, v, v + 1), 2)
    second = rioxarray.open_rasterio(two, masked=True).isel(band=1)
    assert type(zr._open(second, 1, None, None, None)) is zr._XarraySource
    got = zonal_stats(zones, second, stats="mean")["mean"].to_numpy()
    np.testing.assert_allclose(got, ref["mean"].to_numpy() + 1, rtol=1e-6, equal_nan=True)


def test_a_nodata_override_on_a_masked_file_keeps_the_file_s_nodata_out(stack):
    """rioxarray's masked=True has already hidden the file's nodata cells: with a nodata
    override as well, those cells stay out (the DataArray is not read as the file, whose
    nodata the override would replace), lazily or chunked, as when loaded."""
    zones, f = stack["zones"], stack["files"][0]
    def opened(**chunks):
        return rioxarray.open_rasterio(f, masked=True, **chunks).squeeze("band", drop=True)

    want = zonal_stats(zones, opened().load(), stats="count,min", nodata=0.0)
    assert float(want["min"].min()) > NODATA
    for raster in (opened(), opened(chunks={"y": 32})):
        got = zonal_stats(zones, raster, stats="count,min", nodata=0.0)
        pd.testing.assert_frame_equal(got, want, rtol=1e-9)
