"""Scenes onto one grid: reflectance scaling, masks and an index per scene, as a stack.

A :class:`Scene` is what a product reader (:mod:`layers.imagery`) hands over: band files
with their scale/offset/nodata and a mask layer. :func:`index_stack` reads, for each
scene, only the part of each file the :class:`Grid` covers through
:class:`rasterio.vrt.WarpedVRT` (reflectance bilinear, masks nearest), computes a
registered index of :mod:`gis.indices` and returns a ``time × y × x`` DataArray with a CF
time coordinate, the CRS (rioxarray) and per-scene ``product_id``, ``sensor`` and
``valid_fraction``.

Examples
--------
>>> import numpy as np
>>> reflectance(np.array([0, 1000, 3500], dtype="uint16"), scale=1e-4, offset=-0.1, nodata=0).tolist()
[nan, 0.0, 0.25]
>>> g = grid_from_bounds((0, 0, 100, 60), crs="EPSG:32650", res=20)
>>> g.width, g.height, g.bounds
(5, 3, (0.0, 0.0, 100.0, 60.0))
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

import numpy as np

from . import masks
from .errors import InputError

log = logging.getLogger(__name__)

DEFAULT_CRS = "EPSG:4550"


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


@dataclass(frozen=True)
class MaskOptions:
    """Which classes and bits mask a cell; written into the output's attributes."""

    scl_classes: tuple[int, ...] = masks.SCL_DEFAULT
    water: bool = False
    qa_flags: tuple[str, ...] = masks.QA_DEFAULT
    radsat: bool = True

    def attrs(self) -> dict[str, str]:
        classes = sorted(set(self.scl_classes) | ({masks.SCL_WATER} if self.water else set()))
        return {"mask_scl_classes": ",".join(map(str, classes)),
                "mask_qa_pixel_bits": ",".join(f"{f}({masks.QA_BITS[f]})" for f in self.qa_flags),
                "mask_qa_radsat": "yes" if self.radsat else "no"}


@dataclass(frozen=True)
class Grid:
    """An output grid: north-up, square cells of ``res`` in ``crs``, over ``bounds``."""

    crs: str
    bounds: tuple[float, float, float, float]
    res: float

    @property
    def width(self) -> int:
        return int(round((self.bounds[2] - self.bounds[0]) / self.res))

    @property
    def height(self) -> int:
        return int(round((self.bounds[3] - self.bounds[1]) / self.res))

    @property
    def transform(self):
        from affine import Affine

        return Affine(self.res, 0.0, self.bounds[0], 0.0, -self.res, self.bounds[3])

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre ``x`` (west → east) and ``y`` (north → south)."""
        x = self.bounds[0] + (np.arange(self.width) + 0.5) * self.res
        y = self.bounds[3] - (np.arange(self.height) + 0.5) * self.res
        return x, y


def grid_from_bounds(bounds: Sequence[float], crs: str = DEFAULT_CRS, res: float = 10.0) -> Grid:
    """The grid of ``res`` cells covering ``bounds`` (xmin, ymin, xmax, ymax) in ``crs``.

    Bounds are widened outwards to multiples of ``res``, so grids of the same resolution
    line up across runs; bounds that are already multiples are kept exactly.

    Raises
    ------
    InputError
        For bounds that are not four increasing numbers or a resolution ≤ 0.
    """
    vals = [float(v) for v in bounds]
    if len(vals) != 4 or not all(map(math.isfinite, vals)) or vals[0] >= vals[2] or vals[1] >= vals[3]:
        raise InputError.of("error.imagery_bounds", value=",".join(map(str, bounds)))
    if not (res > 0 and math.isfinite(res)):
        raise InputError.of("error.imagery_res", value=res)

    def snap(v: float, up: bool) -> float:
        q = v / res
        q = math.ceil(q - 1e-9) if up else math.floor(q + 1e-9)
        return float(q) * float(res)

    snapped = (snap(vals[0], False), snap(vals[1], False), snap(vals[2], True), snap(vals[3], True))
    return Grid(crs=str(crs), bounds=snapped, res=float(res))


# ------------------------------------------------------------------------------ per scene


def reflectance(dn: np.ndarray, scale: float, offset: float, nodata: float | None) -> np.ndarray:
    """Surface reflectance ``dn × scale + offset`` (float64), NaN where ``dn == nodata``."""
    dn = np.asarray(dn)
    out = dn.astype("float64") * scale + offset
    if nodata is not None:
        out[dn == nodata] = np.nan
    out[~np.isfinite(dn.astype("float64"))] = np.nan
    return out


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
        with WarpedVRT(src, crs=grid.crs, transform=grid.transform, width=grid.width, height=grid.height,
                       resampling=Resampling[resampling], src_nodata=nodata,
                       nodata=fill, dtype=dtype) as vrt:
            return vrt.read(1)


def scene_mask(scene: Scene, grid: Grid, options: MaskOptions = MaskOptions()) -> np.ndarray:
    """``True`` where the scene's mask layer(s) exclude a grid cell (nearest resampling)."""
    m = scene.mask
    raw = read_on_grid(m.path_for(grid.res), grid, resampling="nearest", src_nodata=m.nodata,
                       fill=m.nodata if m.nodata is not None else 0, dtype="uint16")
    if m.kind == "scl":
        out = masks.scl_mask(raw, options.scl_classes, water=options.water)
    elif m.kind == "qa_pixel":
        out = masks.qa_pixel_mask(raw, options.qa_flags)
    else:  # pragma: no cover - readers only make the two kinds above
        raise ValueError(f"unknown mask kind {m.kind!r}")
    rs = scene.extra_masks.get("qa_radsat")
    if rs is not None and options.radsat:
        sat = read_on_grid(rs.path_for(grid.res), grid, resampling="nearest", fill=0, dtype="uint16")
        out |= masks.radsat_mask(sat, rs.bands)
    return out


def scene_index(scene: Scene, index, grid: Grid, options: MaskOptions = MaskOptions()) -> np.ndarray:
    """``index`` (name or :class:`gis.indices.Index`) of one scene on ``grid``, NaN where masked."""
    from .indices import compute_index, get_index

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

    from .indices import get_index

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
        attrs={"index": ix.id, "formula": ix.formula, "reference": ix.reference, "resolution": grid.res,
               **options.attrs()},
    )
    da["time"].attrs.update({"standard_name": "time", "long_name": "acquisition time (UTC)"})
    da["x"].attrs.update({"standard_name": "projection_x_coordinate", "units": "m"})
    da["y"].attrs.update({"standard_name": "projection_y_coordinate", "units": "m"})
    return da.rio.write_crs(grid.crs).rio.write_transform(grid.transform)


# ------------------------------------------------------------------------------ composites

COMPOSITE_PERIODS = {"month": "MS", "year": "YS"}
COMPOSITE_HOWS = ("median", "max", "mean")


def composite(da, period: str = "month", how: str = "median"):
    """Per-period composite of a stack from :func:`index_stack`, and its valid counts.

    Returns a Dataset with the composite (``how`` of the valid values of each cell in
    each period; NaN where none) and ``valid_count`` (int16, observations used per cell).

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.to_datetime(["2024-05-03", "2024-05-20", "2024-06-02"])
    >>> da = xr.DataArray(np.array([[[0.2]], [[np.nan]], [[0.6]]]), dims=("time", "y", "x"),
    ...                   coords={"time": t}, name="ndvi")
    >>> ds = composite(da, "month", "max")
    >>> ds["ndvi"].values.ravel().tolist(), ds["valid_count"].values.ravel().tolist()
    ([0.2, 0.6], [1, 1])
    """
    if period not in COMPOSITE_PERIODS:
        raise InputError.of("error.imagery_composite", option="period", value=period,
                            choices=", ".join(COMPOSITE_PERIODS))
    if how not in COMPOSITE_HOWS:
        raise InputError.of("error.imagery_composite", option="how", value=how, choices=", ".join(COMPOSITE_HOWS))
    values = da.drop_vars([c for c in ("product_id", "sensor", "valid_fraction") if c in da.coords])
    groups = values.resample(time=COMPOSITE_PERIODS[period])
    comp = getattr(groups, how)(skipna=True)
    count = values.notnull().resample(time=COMPOSITE_PERIODS[period]).sum().astype("int16")
    name = da.name or "index"
    out = comp.to_dataset(name=name)
    out["valid_count"] = count
    out[name].attrs.update({**da.attrs, "composite": f"{period} {how}"})
    return out
