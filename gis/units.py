"""Area units used by the bureau: m², 亩 (mu), 公顷 (ha), 万亩 and km².

1 亩 = 2000/3 m² exactly (60 square zhang), so 15 亩 = 1 ha and 1 km² = 1500 亩.

Examples
--------
>>> m2_to_mu(1_000_000)
1500.0
>>> mu_to_wan_mu(600_000)
60.0
>>> round(wan_mu_to_ha(60), 6)
40000.0
"""

from __future__ import annotations

from fractions import Fraction
from typing import overload

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
"""What an array of areas is (scalars in give floats out; anything array-like gives this)."""

M2_PER_MU_EXACT = Fraction(2000, 3)
"""Square metres in one 亩, as an exact fraction."""
M2_PER_MU: float = 2000 / 3
"""Square metres in one 亩 (≈ 666.667)."""
MU_PER_HA: float = 15.0
MU_PER_KM2: float = 1500.0
MU_PER_WAN_MU: float = 10_000.0
M2_PER_HA: float = 10_000.0
M2_PER_KM2: float = 1_000_000.0


@overload
def _num(x: float) -> float: ...
@overload
def _num(x: npt.ArrayLike) -> FloatArray: ...
def _num(x: npt.ArrayLike) -> float | FloatArray:
    return np.asarray(x, dtype="float64") if not np.isscalar(x) else float(x)  # type: ignore[arg-type]


@overload
def m2_to_mu(m2: float) -> float: ...
@overload
def m2_to_mu(m2: npt.ArrayLike) -> FloatArray: ...
def m2_to_mu(m2: npt.ArrayLike) -> float | FloatArray:
    """Square metres → 亩 (multiply by 0.0015). Scalars or arrays."""
    return _num(m2) * 3 / 2000


@overload
def mu_to_m2(mu: float) -> float: ...
@overload
def mu_to_m2(mu: npt.ArrayLike) -> FloatArray: ...
def mu_to_m2(mu: npt.ArrayLike) -> float | FloatArray:
    """亩 → square metres (× 2000/3)."""
    return _num(mu) * 2000 / 3


@overload
def mu_to_ha(mu: float) -> float: ...
@overload
def mu_to_ha(mu: npt.ArrayLike) -> FloatArray: ...
def mu_to_ha(mu: npt.ArrayLike) -> float | FloatArray:
    """亩 → hectares (÷ 15)."""
    return _num(mu) / MU_PER_HA


@overload
def ha_to_mu(ha: float) -> float: ...
@overload
def ha_to_mu(ha: npt.ArrayLike) -> FloatArray: ...
def ha_to_mu(ha: npt.ArrayLike) -> float | FloatArray:
    """Hectares → 亩 (× 15)."""
    return _num(ha) * MU_PER_HA


@overload
def mu_to_wan_mu(mu: float) -> float: ...
@overload
def mu_to_wan_mu(mu: npt.ArrayLike) -> FloatArray: ...
def mu_to_wan_mu(mu: npt.ArrayLike) -> float | FloatArray:
    """亩 → 万亩 (÷ 10,000)."""
    return _num(mu) / MU_PER_WAN_MU


@overload
def wan_mu_to_mu(wan_mu: float) -> float: ...
@overload
def wan_mu_to_mu(wan_mu: npt.ArrayLike) -> FloatArray: ...
def wan_mu_to_mu(wan_mu: npt.ArrayLike) -> float | FloatArray:
    """万亩 → 亩 (× 10,000)."""
    return _num(wan_mu) * MU_PER_WAN_MU


@overload
def wan_mu_to_ha(wan_mu: float) -> float: ...
@overload
def wan_mu_to_ha(wan_mu: npt.ArrayLike) -> FloatArray: ...
def wan_mu_to_ha(wan_mu: npt.ArrayLike) -> float | FloatArray:
    """万亩 → hectares."""
    return mu_to_ha(wan_mu_to_mu(wan_mu))


@overload
def m2_to_ha(m2: float) -> float: ...
@overload
def m2_to_ha(m2: npt.ArrayLike) -> FloatArray: ...
def m2_to_ha(m2: npt.ArrayLike) -> float | FloatArray:
    """Square metres → hectares."""
    return _num(m2) / M2_PER_HA


@overload
def m2_to_km2(m2: float) -> float: ...
@overload
def m2_to_km2(m2: npt.ArrayLike) -> FloatArray: ...
def m2_to_km2(m2: npt.ArrayLike) -> float | FloatArray:
    """Square metres → km²."""
    return _num(m2) / M2_PER_KM2


@overload
def km2_to_mu(km2: float) -> float: ...
@overload
def km2_to_mu(km2: npt.ArrayLike) -> FloatArray: ...
def km2_to_mu(km2: npt.ArrayLike) -> float | FloatArray:
    """km² → 亩 (× 1500)."""
    return _num(km2) * MU_PER_KM2


@overload
def mu_to_km2(mu: float) -> float: ...
@overload
def mu_to_km2(mu: npt.ArrayLike) -> FloatArray: ...
def mu_to_km2(mu: npt.ArrayLike) -> float | FloatArray:
    """亩 → km² (÷ 1500)."""
    return _num(mu) / MU_PER_KM2


_TO_M2 = {"m2": 1.0, "mu": M2_PER_MU, "ha": M2_PER_HA, "wan_mu": M2_PER_MU * MU_PER_WAN_MU, "km2": M2_PER_KM2}
UNITS = tuple(_TO_M2)
"""Unit codes understood by :func:`convert`."""


@overload
def convert(value: float, from_unit: str, to_unit: str) -> float: ...
@overload
def convert(value: npt.ArrayLike, from_unit: str, to_unit: str) -> FloatArray: ...
def convert(value: npt.ArrayLike, from_unit: str, to_unit: str) -> float | FloatArray:
    """Convert an area between any two of ``m2, mu, ha, wan_mu, km2``.

    Examples
    --------
    >>> convert(1, "km2", "mu")
    1500.0
    >>> convert(23.89, "wan_mu", "ha")  # doctest: +ELLIPSIS
    15926.66...
    """
    from .errors import InputError

    for u in (from_unit, to_unit):
        if u not in _TO_M2:
            raise InputError(f"unknown area unit {u!r}; use one of {', '.join(UNITS)}")
    if from_unit == to_unit:
        return _num(value)
    if (from_unit, to_unit) == ("m2", "mu"):
        return m2_to_mu(value)
    if (from_unit, to_unit) == ("mu", "m2"):
        return mu_to_m2(value)
    return _num(value) * _TO_M2[from_unit] / _TO_M2[to_unit]


INFER_UNITS = ("m2", "mu", "ha", "wan_mu")
"""Units a declared-area column without a unit in its name may be in (km² is not seen)."""
INFER_FACTOR = 2.0
"""A unit fits when the typical declared/computed ratio is within this factor of the unit's
ratio (≈ 666.7 for m², 1 for 亩, 0.0667 for 公顷, 0.0001 for 万亩: 15× apart or more)."""
INFER_MIN_SHARE = 0.5
"""…and at least this share of the rows fits it on its own."""


def infer_area_unit(declared: npt.ArrayLike, computed_mu: npt.ArrayLike) -> tuple[str | None, float, float]:
    """The unit of declared areas, judged from their ratio to the computed area in 亩.

    Returns ``(unit, median ratio, share of rows that fit the unit)``; ``unit`` is None
    when no unit fits (ambiguous, or no row with both areas; then the ratio is NaN when
    there was nothing to compare).

    Examples
    --------
    >>> unit, ratio, share = infer_area_unit([6300.0, 1340.0], [9.45, 2.0])
    >>> unit, round(ratio, 1), share
    ('m2', 668.3, 1.0)
    >>> infer_area_unit([0.63, 10.0], [9.45, 150.0])[0], infer_area_unit([3.0, 2.0], [9.45, 8.0])[0]
    ('ha', None)
    """
    dec = np.asarray(declared, dtype="float64")
    comp = np.asarray(computed_mu, dtype="float64")
    ok = np.isfinite(dec) & np.isfinite(comp) & (dec > 0) & (comp > 0)
    if not ok.any():
        return None, float("nan"), 0.0
    ratio = dec[ok] / comp[ok]
    median = float(np.median(ratio))
    for unit in INFER_UNITS:
        expected = _TO_M2["mu"] / _TO_M2[unit]
        if abs(np.log(median / expected)) < np.log(INFER_FACTOR):
            share = float(np.mean(np.abs(np.log(ratio / expected)) < np.log(INFER_FACTOR)))
            return (unit if share >= INFER_MIN_SHARE else None), median, share
    return None, median, 0.0
