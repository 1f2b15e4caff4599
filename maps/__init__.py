"""maps — agrigis' drawing room: self-contained, safe, Chinese-first offline field maps.

It may import ``gis`` (labels, units, GCJ-02, errors, the atomic writer) and its own
assets; never ``layers`` or ``workflows``: a map is handed its data.

Functions take GeoDataFrames / DataArrays (never import ``layers``) and return a
:class:`~maps.base.FieldMap`; ``.save(path)`` writes one HTML file with every script and
stylesheet inlined (Leaflet from the pinned ``xstatic-leaflet``, our own small script for
popups, legend and field tools).

    from maps import progress_map
    progress_map(parcels, counties, county_progress).save("progress.html")
"""

from __future__ import annotations

_LAZY = {
    "FieldMap": "maps.base",
    "progress_map": "maps.progress_map",
    "vector_map": "maps.layer_map",
    "class_map": "maps.layer_map",
    "raster_map": "maps.layer_map",
    "RasterClass": "maps.raster_overlay",
    "classes_from_bins": "maps.raster_overlay",
    "external_references": "maps.offline",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'maps' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
