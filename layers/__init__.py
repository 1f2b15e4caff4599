"""layers — agrigis' data room: the layer catalogue, bundled real layers, readers, registry.

What comes in and what is kept: readers of any vector or raster a user brings (``io``,
``fields``, ``sheets``, ``samples``, the national TXT ``boundary_txt``), the catalogue
(``catalog`` + ``catalog.yml``; counties and other roles are found only through
:meth:`~layers.catalog.Catalog.load_role`), the bundled real layers (``data/``), the
project registry (``registry/``: rules, GeoPackage and PostGIS back-ends, exports),
satellite products (``imagery/``), inspections, QGIS styles and the synthetic demo data
(``demo*``). It may import ``gis`` (to compute: areas, CRSs, checks) and third-party
readers; never ``maps`` or ``workflows``.

>>> import layers
>>> counties = layers.load("counties", workspace=False)   # real, EPSG:4490
>>> sorted(counties["county_code"])
['220802', '220821', '220822', '220881', '220882']
"""

from __future__ import annotations

from pathlib import Path


def get_catalog(workspace=None):
    """The :class:`layers.catalog.Catalog` for ``workspace`` (see there)."""
    from .catalog import Catalog

    return Catalog(workspace)


def load(name: str, workspace=None):
    """Load a catalogue layer by name.

    Vector layers come back as a GeoDataFrame in EPSG:4490, rasters as a lazily opened,
    masked xarray DataArray (rioxarray). ``workspace``: a folder with ``catalog.yml``
    (default: the current directory if it has one; False for bundled layers only).
    """
    return get_catalog(workspace).load(name)


def load_role(role: str, workspace=None):
    """Load the catalogue layer playing ``role`` (e.g. ``"counties"``); see
    :meth:`layers.catalog.Catalog.load_role`. Returns the data only."""
    return get_catalog(workspace).load_role(role)[0]


def layer_path(name: str, workspace=None) -> Path:
    """Absolute path of a catalogue layer's file (DataFileError if it does not exist)."""
    return get_catalog(workspace).path(name)


__all__ = ["load", "load_role", "layer_path", "get_catalog"]
