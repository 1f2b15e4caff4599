"""zonal_stats on a dask.distributed cluster (issue 19): with a client active, a dask
stack runs on the cluster's workers — one task per worker thread, each the local engine
over a contiguous run of windows, reading its own rows, its weights scattered once — and
gives the numbers of the local path."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gis import zonal_stats

from test_zonal_paths import STATS, T, stack  # noqa: F401  (the fixture)

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 worker processes × 1 thread, as a user's cluster would be."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, memory_limit="1GB") as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_a_dask_stack_runs_on_the_cluster_with_the_local_numbers(stack, client):  # noqa: F811
    zones = stack["zones"]
    local = zonal_stats(zones, stack["files"], stats=STATS, rows_per_band=24)
    lazy = stack["da"].chunk({"time": 2, "y": 37, "x": 50})
    seen = []
    with distributed.get_task_stream(client) as ts:
        remote = zonal_stats(zones, lazy, stats=STATS, rows_per_band=24,
                             progress=lambda done, total: seen.append((done, total)))
    np.testing.assert_allclose(remote.values, local.values, rtol=1e-9, atol=1e-12,
                               equal_nan=True)
    assert remote.sizes["time"] == T
    runs = [t for t in ts.data if "_run_group" in str(t["key"])]
    workers = set(client.scheduler_info()["workers"])
    # one task per worker thread, each a contiguous run of windows, run by the workers
    assert len(runs) == len(seen) == len(workers) == 2
    assert {t["worker"] for t in runs} <= workers
    n_windows = seen[-1][1]
    assert n_windows > 2 and seen[-1] == (n_windows, n_windows)
    assert all(0 < d <= n for d, n in seen)
    # nothing is left behind on the cluster: results and weights are released (the client
    # tells the scheduler asynchronously, so give the release message a moment to arrive)
    deadline = time.monotonic() + 10
    while any(client.who_has().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(client.who_has().values())


def test_a_lazily_opened_netcdf_and_a_single_raster_on_the_cluster(stack, client):  # noqa: F811
    zones = stack["zones"]
    local = zonal_stats(zones, stack["files"], stats="mean,count", rows_per_band=24)
    r = zonal_stats(zones, stack["nc"], stats="mean,count", rows_per_band=24)
    np.testing.assert_allclose(r.values, local.values, rtol=1e-9, atol=1e-12, equal_nan=True)
    one = zonal_stats(zones, stack["da"].isel(time=1).chunk({"y": 50}), stats="mean,max")
    ref = zonal_stats(zones, stack["files"][1], stats="mean,max")
    np.testing.assert_allclose(one[["mean", "max"]].to_numpy(), ref[["mean", "max"]].to_numpy(),
                               rtol=1e-9, equal_nan=True)


def test_a_stack_opened_with_rioxarray_is_read_by_the_workers_from_the_files(stack, client):  # noqa: F811
    """Each task opens the files by path and reads its own rows: same numbers."""
    import rioxarray
    import xarray as xr

    zones, files = stack["zones"], stack["files"]
    local = zonal_stats(zones, files, stats=STATS, rows_per_band=24)
    das = [rioxarray.open_rasterio(f, chunks={"y": 32}, masked=True).squeeze("band", drop=True)
           for f in files]
    lazy = xr.concat(das, dim="time").assign_coords(time=local["time"].values)
    with distributed.get_task_stream(client) as ts:
        remote = zonal_stats(zones, lazy, stats=STATS, rows_per_band=24)
    np.testing.assert_allclose(remote.values, local.values, rtol=1e-9, atol=1e-12,
                               equal_nan=True)
    runs = [t for t in ts.data if "_run_group" in str(t["key"])]
    assert len(runs) == 2  # one task per worker thread, no dask chunk tasks
    assert not [t for t in ts.data if "open_rasterio" in str(t["key"])]
