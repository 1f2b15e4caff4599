"""Satellite Level-2 products in: Sentinel-2 L2A (``.SAFE`` / ``.zip``) and Landsat
Collection 2 Level-2 (folder / ``.tar``), read from their metadata.

:func:`open_product` opens one product, :func:`scan` a batch (skipping unusable products
with their reason), :func:`from_stac` the products of STAC items with local assets;
:meth:`Product.scene` hands a product to :mod:`layers.imagery.stack`, which puts the scenes
on one grid over an area of interest (:mod:`layers.imagery.aoi`) as an index stack.

Imports ``gis`` (indices, masks, sampling, composites, errors, labels) and the rest of
``layers`` (the catalogue's counties for an area of interest); never ``maps`` or ``workflows``.
"""

from .product import Band, Product, ScanResult, open_product, scan
from .stac import from_stac

__all__ = ["Band", "Product", "ScanResult", "from_stac", "open_product", "scan"]
