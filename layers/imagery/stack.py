"""Scenes onto one grid, read from their files: an index per scene, masked, as a stack.

A :class:`Scene` is what :meth:`layers.imagery.Product.scene` hands over: band files with
their scale/offset/nodata and a mask layer. :func:`index_stack` reads, for each scene,
only the part of each file the :class:`gis.coverage.Grid` covers through
:class:`rasterio.vrt.WarpedVRT` (reflectance bilinear, masks nearest), computes a
registered index of :mod:`gis.indices` and returns a ``time × y × x`` DataArray with a CF
time coordinate, the CRS (rioxarray) and per-scene ``product_id``, ``sensor`` and
``valid_fraction``. The arithmetic is pure and lives in :mod:`gis`
(:func:`gis.composite.reflectance`, :func:`gis.masks.layer_mask`,
:func:`gis.composite.composite`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

import numpy as np

from gis import masks
from gis.composite import reflectance
from gis.coverage import Grid
from gis.masks import MaskOptions

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class BandSource:
    """One band file: reflectance = DN × ``scale`` + ``offset``; DN ``nodata`` → NaN."""

    path: str
    scale: float
    offset: float
    nodata: float | None


@dataclass(frozen=True)
class MaskSource:
    """A mask layer: ``kind`` is ``scl``, ``qa_pixel`` or ``qa_radsat``; ``paths`` maps a
    pixel size (m) to a file; ``bands`` are the Landsat band numbers QA_RADSAT checks."""

    kind: str
    paths: dict[int, str]
    nodata: int | None
    bands: tuple[int, ...] = ()

    def path_for(self, res: float | None = None) -> str:
        """The coarsest file not coarser than ``res``, else the finest."""
        sizes = sorted(self.paths)
        fit = [s for s in sizes if res is not None and s <= res + 1e-9]
        return self.paths[fit[-1] if fit else sizes[0]]


@dataclass(frozen=True)
class Scene:
    """One acquisition ready to be put on a grid (see :meth:`layers.imagery.Product.scene`)."""

    id: str
    sensor: str
    time: datetime
    bands: dict[str, BandSource]
    mask: MaskSource
    extra_masks: dict[str, MaskSource] = field(default_factory=dict)



# ------------------------------------------------------------------------------ per scene


def _rasterio_crs(grid: Grid):
    from rasterio.crs import CRS

    return CRS.from_user_input(grid.crs.to_wkt())


def read_on_grid(path: str, grid: Grid, *, resampling: str = "bilinear", src_nodata: float | None = None,
                 fill: float = 0, dtype: str = "float32") -> np.ndarray:
    """Band 1 of ``path`` warped onto ``grid``; cells outside the source get ``fill``.

    GDAL's warper reads only the source blocks the grid needs (JPEG 2000 and GeoTIFF alike).
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    with rasterio.open(path) as src:
        nodata = src_nodata if src_nodata is not None else src.nodata
        with WarpedVRT(src, crs=_rasterio_crs(grid), transform=grid.transform, width=grid.width,
                       height=grid.height, resampling=Resampling[resampling], src_nodata=nodata,
                       nodata=fill, dtype=dtype) as vrt:
            return vrt.read(1)


def scene_mask(scene: Scene, grid: Grid, options: MaskOptions = MaskOptions()) -> np.ndarray:
    """``True`` where the scene's mask layer(s) exclude a grid cell (nearest resampling)."""
    m, res = scene.mask, grid.transform.a
    raw = read_on_grid(m.path_for(res), grid, resampling="nearest", src_nodata=m.nodata,
                       fill=m.nodata if m.nodata is not None else 0, dtype="uint16")
    out = masks.layer_mask(raw, m.kind, options)
    rs = scene.extra_masks.get("qa_radsat")
    if rs is not None and options.radsat:
        sat = read_on_grid(rs.path_for(res), grid, resampling="nearest", fill=0, dtype="uint16")
        out |= masks.radsat_mask(sat, rs.bands)
    return out


def scene_index(scene: Scene, index, grid: Grid, options: MaskOptions = MaskOptions()) -> np.ndarray:
    """``index`` (name or :class:`gis.indices.Index`) of one scene on ``grid``, NaN where masked."""
    from gis.indices import compute_index, get_index

    ix = get_index(index)
    bands = {}
    for sym in ix.bands:
        src = scene.bands[sym]
        nodata = src.nodata if src.nodata is not None else 0
        dn = read_on_grid(src.path, grid, resampling="bilinear", src_nodata=src.nodata, fill=nodata)
        bands[sym] = reflectance(dn, src.scale, src.offset, nodata)
    values = np.asarray(compute_index(ix, bands), dtype="float32")
    values[scene_mask(scene, grid, options)] = np.nan
    return values


# ------------------------------------------------------------------------------ stack


def _utc_naive(t: datetime) -> np.datetime64:
    import pandas as pd

    ts = pd.Timestamp(t)
    ts = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts
    return ts.to_datetime64().astype("datetime64[ns]")


def index_stack(scenes: Sequence[Scene], index, grid: Grid, options: MaskOptions = MaskOptions(),
                progress: Callable[[Scene], None] | None = None):
    """The ``time × y × x`` DataArray of ``index`` over ``scenes`` on ``grid``.

    Coordinates: ``time`` (UTC, CF-encoded when written to NetCDF), ``y``/``x`` cell
    centres, per time ``product_id``, ``sensor`` and ``valid_fraction`` (share of grid
    cells with a value). CRS via rioxarray; the mask options and the index formula are
    in ``attrs``. ``progress`` is called after each scene.
    """
    import rioxarray  # noqa: F401 - registers the .rio accessor
    import xarray as xr

    from gis.indices import get_index

    ix = get_index(index)
    scenes = sorted(scenes, key=lambda s: (_utc_naive(s.time), s.id))
    layers, valid = [], []
    for scene in scenes:
        arr = scene_index(scene, ix, grid, options)
        layers.append(arr)
        valid.append(float(np.isfinite(arr).mean()) if arr.size else 0.0)
        if progress is not None:
            progress(scene)
    x, y = grid.coords()
    data = np.stack(layers) if layers else np.empty((0, grid.height, grid.width), dtype="float32")
    da = xr.DataArray(
        data, dims=("time", "y", "x"), name=ix.id,
        coords={"time": np.array([_utc_naive(s.time) for s in scenes], dtype="datetime64[ns]"), "y": y, "x": x,
                "product_id": ("time", [s.id for s in scenes]), "sensor": ("time", [s.sensor for s in scenes]),
                "valid_fraction": ("time", np.array(valid, dtype="float64"))},
        attrs={"index": ix.id, "formula": ix.formula, "reference": ix.reference, "resolution": grid.transform.a,
               **options.attrs()},
    )
    da["time"].attrs.update({"standard_name": "time", "long_name": "acquisition time (UTC)"})
    da["x"].attrs.update({"standard_name": "projection_x_coordinate", "units": "m"})
    da["y"].attrs.update({"standard_name": "projection_y_coordinate", "units": "m"})
    return da.rio.write_crs(_rasterio_crs(grid)).rio.write_transform(grid.transform)


