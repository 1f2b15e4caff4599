"""Open an index stack file — NetCDF or Zarr, as ``agrigis imagery stack`` writes it —
as one lazy :class:`xarray.Dataset` with its CRS.

The one opener of stack files: :mod:`workflows.remediation`, :mod:`workflows.imagery`,
:func:`gis.zonal_stats` and ``agrigis verify`` all read a stack through
:func:`open_stack_dataset`, so a Zarr store works wherever a NetCDF does.

Examples
--------
>>> import tempfile, pathlib, numpy as np, xarray as xr
>>> p = pathlib.Path(tempfile.mkdtemp()) / "s.nc"
>>> xr.Dataset({"ndvi": (("y", "x"), np.ones((2, 2), "float32"))}).to_netcdf(p, engine="h5netcdf")
>>> open_stack_dataset(p)["ndvi"].shape
(2, 2)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from .errors import DataFileError

if TYPE_CHECKING:
    import xarray as xr

#: Open with dask chunks equal to the file's own chunks.
FILE_CHUNKS: Mapping[str, int] = MappingProxyType({})

NETCDF_SUFFIXES = (".nc", ".nc4", ".cdf")
ZARR_SUFFIX = ".zarr"
ZARR_MARKERS = (".zgroup", ".zmetadata", "zarr.json")
"""Files at the root of a Zarr store (format 2: ``.zgroup`` / ``.zmetadata``; 3: ``zarr.json``)."""


def stack_kind(path: str | os.PathLike[str]) -> str | None:
    """``"zarr"``, ``"netcdf"`` or None (not a stack file by its name / layout).

    A folder is Zarr when it ends in ``.zarr`` or holds Zarr metadata; a file is NetCDF
    by its suffix.

    Examples
    --------
    >>> stack_kind("ndvi.nc"), stack_kind("ndvi.zarr"), stack_kind("ndvi.tif")
    ('netcdf', 'zarr', None)
    """
    p = Path(path)
    if p.suffix.lower() == ZARR_SUFFIX or (p.is_dir() and any((p / m).exists() for m in ZARR_MARKERS)):
        return "zarr"
    if p.suffix.lower() in NETCDF_SUFFIXES and not p.is_dir():
        return "netcdf"
    return None


def open_stack_dataset(path: str | os.PathLike[str], *,
                       chunks: Mapping[str, int] | None = FILE_CHUNKS) -> xr.Dataset:
    """The Dataset of the stack file ``path`` (NetCDF by suffix, Zarr by suffix or
    folder), opened lazily with coordinates and the grid mapping decoded, so
    ``.rio.crs`` is the stack's CRS.

    ``chunks`` are dask chunks per dimension: the file's own chunks by default
    (``{}``), or ``None`` for no dask (lazy numpy-backed variables, read in windows).

    Raises
    ------
    DataFileError
        ``error.stack_file_missing`` when ``path`` does not exist,
        ``error.stackfile_type`` when it is neither NetCDF nor Zarr,
        ``error.stackfile_unreadable`` when the reader fails (damaged, truncated).

    Examples
    --------
    >>> open_stack_dataset("no-such.nc")
    Traceback (most recent call last):
    ...
    gis.errors.DataFileError: index stack file no-such.nc does not exist
    """
    import rioxarray  # noqa: F401 - the .rio accessor reads the grid mapping
    import xarray as xr

    p = Path(path)
    if not p.exists():
        raise DataFileError.of("error.stack_file_missing", path=p)
    kind = stack_kind(p)
    dask_chunks = None if chunks is None else dict(chunks)
    if kind is None:
        raise DataFileError.of("error.stackfile_type", path=p)
    try:
        if kind == "zarr":
            return xr.open_dataset(p, engine="zarr", chunks=dask_chunks, decode_coords="all",
                                   consolidated=_consolidated(p))
        # no engine named: xarray picks h5netcdf for NetCDF-4 and scipy for classic NetCDF-3
        return xr.open_dataset(p, chunks=dask_chunks, decode_coords="all")
    except Exception as exc:  # noqa: BLE001 - h5py/zarr/netCDF errors vary: a data file problem
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise DataFileError.of("error.stackfile_unreadable", path=p, detail=detail) from exc


def _consolidated(store: Path) -> bool:
    """Whether the Zarr store keeps consolidated metadata (format 2: ``.zmetadata``;
    format 3: ``consolidated_metadata`` in its ``zarr.json``). Told to xarray, so that a
    store without it is opened at once, without a failed try and a RuntimeWarning."""
    import json

    if (store / ".zmetadata").exists():
        return True
    try:
        meta = json.loads((store / "zarr.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("consolidated_metadata") is not None


COUNT_SUFFIX = "valid_count"
"""Name (or name suffix) of the per-cell observation counts a composite writes beside each
index (:func:`gis.composite.composite`, ``agrigis imagery stack --composite``)."""


def index_variables(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """The index variables of a stack dataset by name, without the ``valid_count``
    companions of a composite: what a reader of a stack means by "the index".

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"ndvi": (("y", "x"), np.ones((1, 1))), "valid_count": (("y", "x"), np.ones((1, 1)))})
    >>> list(index_variables(ds))
    ['ndvi']
    """
    return {str(v): ds[v] for v in ds.data_vars if not str(v).endswith(COUNT_SUFFIX)}
