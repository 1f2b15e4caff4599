"""zonal_stats on dask-backed rasters, locally and on a distributed LocalCluster."""

from __future__ import annotations

import numpy as np
import pytest
import rioxarray
import xarray as xr

from gis import zonal_stats

from test_zonal import NODATA, _parcels, _values, _write

distributed = pytest.importorskip("distributed")


def test_local_cluster_gives_the_same_numbers(tmp_path):
    zones = _parcels()
    files = []
    for t in range(3):
        v = _values(seed=t)
        files.append(_write(tmp_path / f"ndvi_{t}.tif", v))
    stats = "count,sum,mean,min,max,std,median,p90,majority"
    local = zonal_stats(zones, files, stats=stats)  # windows read by threads, no dask
    lazy = xr.concat([rioxarray.open_rasterio(f, chunks={"y": 32, "x": 64}, masked=True)
                      .squeeze("band", drop=True) for f in files], dim="time")
    assert lazy.chunks is not None
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        on_cluster = zonal_stats(zones, lazy, stats=stats)
        assert client.run(lambda: 1)  # the workers were up
    np.testing.assert_allclose(on_cluster.values, local.values, rtol=1e-12, equal_nan=True)
    # and the plain dask scheduler (no cluster) agrees too
    np.testing.assert_allclose(zonal_stats(zones, lazy, stats=stats).values, local.values,
                               rtol=1e-12, equal_nan=True)
    assert bool(local["partly_outside"].any())  # zones over the raster edge
    assert NODATA not in local.sel(stat="min").values
