"""zonal_stats on a dask.distributed cluster (issue 19): with a client active, a dask
stack runs on the cluster's workers — one task per worker thread, each the local engine
over a run of zones, building their weights and reading their rows itself — and gives
the numbers of the local path."""

from __future__ import annotations

import time

import numpy as np
import pytest

import gis.zonal as gz
from gis import zonal_stats
from gis.zonal import raster_grid
from gis.coverage import Coverage

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
    gz._CACHE.clear()
    seen = []
    with distributed.get_task_stream(client) as ts:
        remote = zonal_stats(zones, lazy, stats=STATS, rows_per_band=24,
                             progress=lambda done, total: seen.append((done, total)))
    np.testing.assert_allclose(remote.values, local.values, rtol=1e-9, atol=1e-12,
                               equal_nan=True)
    assert remote.sizes["time"] == T
    runs = [t for t in ts.data if "_run_zones" in str(t["key"])]
    workers = set(client.scheduler_info()["workers"])
    # one task per worker thread, each a run of zones, run by the workers
    assert len(runs) == len(seen) == len(workers) == 2
    assert {t["worker"] for t in runs} <= workers
    assert seen == [(1, 2), (2, 2)]
    assert not gz._CACHE  # the weights were built on the workers, not here
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
    runs = [t for t in ts.data if "_run_zones" in str(t["key"])]
    assert len(runs) == 2  # one task per worker thread, no dask chunk tasks
    assert not [t for t in ts.data if "open_rasterio" in str(t["key"])]


def test_given_weights_and_many_runs_on_the_cluster(stack, client, monkeypatch):  # noqa: F811
    """Weights the caller passes are used on the cluster (their rows shipped with each
    run), and zones cut into more runs than threads (a run's weights are bounded) give
    the same numbers; so do "center" weights built on the workers."""
    zones = stack["zones"]
    lazy = stack["da"].chunk({"time": 1, "y": 10})  # 9 blocks of rows: runs cut between them
    local = zonal_stats(zones, stack["files"], stats=STATS, rows_per_band=24)
    center = Coverage.build(zones, raster_grid(stack["files"][0]), "center")
    monkeypatch.setattr(gz, "_RUN_CELLS", 2_000)  # about 1,000 cells a zone: ~7 runs
    with distributed.get_task_stream(client) as ts:
        remote = zonal_stats(zones, lazy, stats=STATS, rows_per_band=24)
    assert len([t for t in ts.data if "_run_zones" in str(t["key"])]) > 4
    np.testing.assert_allclose(remote.values, local.values, rtol=1e-9, atol=1e-12,
                               equal_nan=True)
    want = zonal_stats(zones, stack["files"], stats="mean,count", coverage=center)
    for how in ({"coverage": center}, {"method": "center"}):
        got = zonal_stats(zones, lazy, stats="mean,count", **how)
        np.testing.assert_allclose(got.values, want.values, rtol=1e-9, equal_nan=True,
                                   err_msg=str(list(how)))


def test_runs_are_cut_between_blocks_and_hold_every_zone_once():
    """Cluster runs: every zone with cells in exactly one run, at least one run per thread
    when the blocks allow it, cuts only where a new block of first rows begins."""
    rng = np.random.default_rng(5)
    first = np.sort(rng.integers(0, 3000, 4000))
    first[::97] = -1  # zones without cells
    cells = rng.integers(10, 5000, 4000)
    for nthreads, block in ((2, 256), (3, 256), (16, 256), (2, 1), (4, 3000)):
        runs = gz._runs(first, cells, nthreads, block)
        ids = np.concatenate(runs)
        assert sorted(ids.tolist()) == np.flatnonzero(first >= 0).tolist()
        assert len(runs) == min(nthreads, -(-3000 // block)), (nthreads, block)
        for a, b in zip(runs, runs[1:], strict=False):
            assert first[a].max() // block < first[b].min() // block  # no block cut in two
    big = np.full(4000, gz._RUN_CELLS)  # a run's weights are bounded: more runs than threads
    assert len(gz._runs(first, big, 2, 1)) > 2


def test_zones_outside_the_raster_are_told_as_on_the_local_path(stack, client, caplog):  # noqa: F811
    """On the cluster as here: no zone on the raster is an error naming the extents; some
    zones outside are logged and get NaN."""
    import logging

    from shapely import affinity

    from gis.errors import GridError

    zones = stack["zones"]
    lazy = stack["da"].chunk({"time": 1, "y": 30})
    away = zones.copy()
    away["geometry"] = away.geometry.apply(lambda g: affinity.translate(g, 50_000, 0))
    with pytest.raises(GridError, match="none of the 80 zones overlaps the raster"):
        zonal_stats(away, lazy, stats="mean")
    mixed = zones.copy()
    mixed.loc[mixed.index[0], "geometry"] = away.geometry.iloc[0]
    with caplog.at_level(logging.WARNING, logger="gis.coverage"):
        r = zonal_stats(mixed, lazy, stats="mean")
    assert "1 of 80 zones lie entirely outside the raster" in caplog.text
    assert np.isnan(r.values[0]).all() and not np.isnan(r.values[1:]).all()
