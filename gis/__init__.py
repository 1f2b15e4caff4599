"""gis — agrigis' computation room: pure functions on GeoDataFrames, arrays and DataArrays.

No files written, no CLI, no folium; imports nothing else of agrigis. Heavy entry points
are loaded lazily, so ``import gis`` is cheap::

    from gis import zonal_stats
"""

from __future__ import annotations

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


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gis' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
