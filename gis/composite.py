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

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .errors import InputError

if TYPE_CHECKING:
    import xarray as xr

COMPOSITE_PERIODS = {"month": "MS", "season": "YS", "year": "YS"}
"""Composite period → pandas resampling rule (``season``: the growing-season months of
each year only, labelled with the season's first day)."""
COMPOSITE_HOWS = ("median", "max", "mean")
GROWING_SEASON = (5, 9)
"""Growing season of Baicheng, May–September (months, inclusive)."""


def reflectance(dn: np.ndarray, scale: float, offset: float, nodata: float | None, *,
                dtype: str = "float64", copy: bool = True) -> np.ndarray:
    """Surface reflectance ``dn × scale + offset`` (``dtype``, float64 unless told), NaN
    where ``dn == nodata`` or ``dn`` is not finite. ``copy=False`` scales ``dn`` in place
    when it already has ``dtype`` (a caller's own scratch array).

    Examples
    --------
    >>> reflectance(np.array([1000.0, np.nan], dtype="float32"), 1e-4, -0.1, None, dtype="float32").dtype
    dtype('float32')
    """
    dn = np.asarray(dn)
    bad = None if nodata is None else dn == nodata
    out = dn.astype(dtype, copy=copy)
    out *= np.asarray(scale, dtype=dtype)
    out += np.asarray(offset, dtype=dtype)
    if bad is not None:
        out[bad] = np.nan
    if dn.dtype.kind == "f" and not np.isfinite(out.sum()):  # one reduction; NaN DN stay NaN
        out[np.isinf(out)] = np.nan
    return out


def composite(da: xr.DataArray, period: str = "month", how: str = "median",
              season: tuple[int, int] = GROWING_SEASON) -> xr.Dataset:
    """Per-period composite of a ``time × y × x`` stack (e.g. from
    :func:`layers.imagery.stack.index_stack`), and its valid counts.

    Returns a Dataset with the composite (``how`` of the valid values of each cell in
    each period; NaN where none) and ``valid_count`` (int16, observations used per cell).
    ``period="season"`` keeps only the months ``season`` (first, last; default May–
    September) and makes one composite per year, dated the season's first day. A dask
    stack stays lazy.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.to_datetime(["2024-05-03", "2024-05-20", "2024-06-02", "2024-10-10"])
    >>> da = xr.DataArray(np.array([[[0.2]], [[np.nan]], [[0.6]], [[0.9]]]), dims=("time", "y", "x"),
    ...                   coords={"time": t}, name="ndvi")
    >>> ds = composite(da, "month", "max")
    >>> ds["ndvi"].values.ravel().tolist()[:2], ds["valid_count"].values.ravel().tolist()[:2]
    ([0.2, 0.6], [1, 1])
    >>> ds = composite(da, "season", "mean")
    >>> str(ds.time.values[0])[:10], ds["ndvi"].values.ravel().tolist(), ds["valid_count"].values.ravel().tolist()
    ('2024-05-01', [0.4], [2])
    """
    check_composite(period, how, season)
    values = da.drop_vars([c for c in ("product_id", "sensor", "valid_fraction") if c in da.coords])
    if period == "season":
        values = _in_season(values, season)
    rule = COMPOSITE_PERIODS[period]
    comp = getattr(values.resample(time=rule), how)(skipna=True)
    count = values.notnull().resample(time=rule).sum().astype("int16")
    name = da.name or "index"
    out: xr.Dataset = comp.to_dataset(name=name)
    out["valid_count"] = count
    if period == "season":
        out = out.assign_coords(time=out.time + _month_shift(out.time, season[0]))
    label = f"{period} {how}" + (f" (months {season[0]}-{season[1]})" if period == "season" else "")
    out[name].attrs.update({**da.attrs, "composite": label})
    out["valid_count"].attrs["long_name"] = "number of valid observations in the composite"
    return out


def check_composite(period: str, how: str, season: tuple[int, int] = GROWING_SEASON) -> None:
    """Raise :class:`InputError` for an unknown period or statistic, or a season that is
    not two months first ≤ last (a season across New Year is not supported).

    Examples
    --------
    >>> check_composite("season", "max", (5, 9))
    """
    if period not in COMPOSITE_PERIODS:
        raise InputError.of("error.imagery_composite", option="period", value=period,
                            choices=", ".join(COMPOSITE_PERIODS))
    if how not in COMPOSITE_HOWS:
        raise InputError.of("error.imagery_composite", option="how", value=how, choices=", ".join(COMPOSITE_HOWS))
    if not (len(season) == 2 and 1 <= int(season[0]) <= int(season[1]) <= 12):
        raise InputError.of("error.imagery_season", value="-".join(map(str, season)))


def _in_season(values: xr.DataArray, season: tuple[int, int]) -> xr.DataArray:
    first, last = (int(m) for m in season)
    month = values["time"].dt.month
    selected: xr.DataArray = values.isel(time=((month >= first) & (month <= last)).values)
    return selected


def _month_shift(times: xr.DataArray, first: int) -> npt.NDArray[Any]:
    """Offsets that move January 1 of each year to day 1 of month ``first``."""
    import pandas as pd

    t = pd.DatetimeIndex(times.values)
    shift: npt.NDArray[Any] = (t + pd.DateOffset(months=first - 1)).values - t.values
    return shift
