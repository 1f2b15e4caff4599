"""Arithmetic of imagery stacks, pure numpy/xarray: reflectance scaling and per-period
composites with their valid counts.

The stack itself is read by :func:`layers.imagery.stack.index_stack`; masks are in
:mod:`gis.masks`.

Examples
--------
>>> import numpy as np
>>> reflectance(np.array([0, 1000, 3500], dtype="uint16"), scale=1e-4, offset=-0.1, nodata=0).tolist()
[nan, 0.0, 0.25]
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

COMPOSITE_PERIODS = {"month": "MS", "year": "YS"}
COMPOSITE_HOWS = ("median", "max", "mean")


def reflectance(dn: np.ndarray, scale: float, offset: float, nodata: float | None) -> np.ndarray:
    """Surface reflectance ``dn × scale + offset`` (float64), NaN where ``dn == nodata``."""
    dn = np.asarray(dn)
    out = dn.astype("float64") * scale + offset
    if nodata is not None:
        out[dn == nodata] = np.nan
    out[~np.isfinite(dn.astype("float64"))] = np.nan
    return out


def composite(da, period: str = "month", how: str = "median"):
    """Per-period composite of a ``time × y × x`` stack (e.g. from
    :func:`layers.imagery.stack.index_stack`), and its valid counts.

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
