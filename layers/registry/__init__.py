"""The project registry: one GeoPackage with every project parcel, its history and batches.

A sub-room of ``layers``: it may import ``gis`` and the rest of ``layers`` (fields,
QGIS styles, the TXT writer), never ``maps`` or ``workflows``.

Layout of ``registry.gpkg`` (a standard GeoPackage 1.4 that GDAL, pyogrio and QGIS open):

``projects`` (features, MultiPolygon, EPSG:4490, R-tree index)
    one row per *version* of a project parcel: the fields of DESIGN.md's data model
    (``project_code … investment_wan_yuan, batch_id, valid_from, valid_to``) plus
    ``closed_by`` (the batch that ended this version), ``source_row`` and ``fingerprint``
    (SHA-256 of the version's fields and geometry when it was written, see
    :func:`fingerprints`). The current version of a project has ``valid_to`` NULL (a
    partial unique index guarantees one).
``batches`` (attributes)
    one row per import: who, when, source path and sha256, counts, ``synthetic``,
    ``status`` (``active`` / ``undone``).
``projects_current`` (features, a view)
    only the current versions (``valid_to`` NULL): the layer to open in QGIS.
``layer_styles``
    the QGIS default styles of both layers (categorised by ``category``), see
    :mod:`layers.qgis_style`.

Modules: :mod:`.core` holds the rules (:class:`Registry`: history, updates, undo,
verify) and the small :class:`Backend` interface; :mod:`.geopackage` the embedded
default store (:class:`GeoPackageBackend`, the SQL); :mod:`.postgis` the bureau's shared
store (``Registry("postgresql://user@host/db")``, PostgreSQL + PostGIS with county-office
roles); :mod:`.model` the fields and fingerprints both share; :mod:`.export` the exports;
:mod:`.copy` moves a whole registry from one backend to the other. Every import is
one SQLite transaction (``BEGIN IMMEDIATE`` … ``COMMIT``, rollback journal): a process
killed at any moment leaves either the state before the import or the whole batch, and
a second writer waits up to ``timeout`` seconds, then fails with
:class:`~gis.errors.RegistryBusyError`. Every other SQLite error (full disk, read-only
file, damaged pages) becomes one clear error naming the file and the remedy
(:func:`storage_error`); the schema is checked on open, and a registry of an earlier
agrigis gets its ``fingerprint`` column then.

Integrity: ``area_mu`` is computed here from the geometry when a version is written,
and again on reading wherever a version no longer matches its fingerprint (edited by
hand in QGIS); :meth:`Registry.verify` lists such versions (``agrigis registry verify``).

Examples
--------
>>> import tempfile, geopandas as gpd
>>> from shapely import box
>>> reg = Registry(tempfile.mkdtemp() + "/r.gpkg")
>>> rows = gpd.GeoDataFrame({"project_code": ["P1"], "project_name": ["示例"],
...     "category": ["paddy_new"], "county_code": ["220821"], "year": [2024],
...     "status": ["planned"], "declared_area_mu": [None], "area_mu": [1500.0],
...     "investment_wan_yuan": [None]}, geometry=[box(123.0, 45.6, 123.01, 45.61)], crs="EPSG:4490")
>>> out = reg.write(rows, source="a.shp", sha256="0" * 64)
>>> out.n_new, len(reg.projects()), reg.batches()["n_new"].tolist()
(1, 1, [1])
"""

from .copy import copy_registry
from .core import URL_SCHEMES, Backend, Registry, is_url
from .export import EXPORT_MARK
from .geopackage import (
    GeoPackageBackend, blob_wkb, canonical_wkb, from_gpkg_blobs, storage_error, to_gpkg_blobs,
)
from .model import (
    ATTRIBUTES, BATCH_COLUMNS, COLUMNS, COMPARED, FINGERPRINTED, GEOM, REQUIRED_COLUMNS, SRS_ID, TABLE,
    WriteResult, fingerprints, geometry_area_mu, new_batch_id, now_iso,
)

__all__ = [
    "ATTRIBUTES", "BATCH_COLUMNS", "COLUMNS", "COMPARED", "EXPORT_MARK", "FINGERPRINTED", "GEOM",
    "REQUIRED_COLUMNS", "SRS_ID", "TABLE", "URL_SCHEMES", "Backend", "GeoPackageBackend", "Registry",
    "WriteResult", "blob_wkb", "copy_registry", "canonical_wkb", "fingerprints", "from_gpkg_blobs", "geometry_area_mu",
    "is_url", "new_batch_id", "now_iso", "storage_error", "to_gpkg_blobs",
]
