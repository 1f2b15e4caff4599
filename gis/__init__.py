"""gis — agrigis' computation room: pure functions on GeoDataFrames, arrays and DataArrays.

Everything a notebook computes lives here: units and CRSs (``units``, ``crs``,
``gcj02``, ``area``), overlays and quality checks (``overlay``, ``quality``,
``land_rules``), target tracking (``targets``, ``tracking``), zonal statistics
(``coverage``, ``zonal``, ``zonal_read``, ``zonal_engine``, ``hdf5_chunks``,
``sampling``), imagery arithmetic (``indices``, ``masks``, ``composite``, ``evidence``,
``trend``, ``salinity``), soil interpolation (``geostat``), suitability, and the shared
plumbing: errors, labels (``labels/*.yml`` read by ``label_table``), safe YAML
(``config``) and the one atomic writer (``outputs``; the only module that writes files,
always to a path the caller names). It may import numpy, pandas, shapely, pyproj,
geopandas, rasterio, xarray and the readers behind it (h5py, zlib-ng, zarr, dask), and scipy,
and nothing else of agrigis: no ``layers``, ``maps`` or ``workflows``, no click, no
folium. Heavy entry points are loaded lazily, so
``import gis`` is cheap::

    from gis import zonal_stats
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "zonal_stats": "gis.zonal",
    "ZonalRequest": "gis.zonal",
    "area_m2": "gis.area",
    "area_mu": "gis.area",
    "guess_crs": "gis.crs",
    "to_gcj02": "gis.gcj02",
    "from_gcj02": "gis.gcj02",
    "compute_index": "gis.indices",
    "classify": "gis.salinity",
    "class_area_mu": "gis.salinity",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
