"""Spectral indices registered by formula, with a reference.

The literature reuses the same short names for different formulas (``SI1`` is
√(G·R) in Douaoui et al. 2006 and in the R package *soilassessment*, but √(B·R) in
other papers; ``NDSI`` is a salinity, a snow and a soil index). So every index here
has a **unique id** that carries its source, a **formula string**, the **bands** it
uses and a **citation**. Short names are aliases that resolve to one id explicitly:

==========  ======================  ==============================  =========
alias       id                      formula                         direction
==========  ======================  ==============================  =========
NDVI        ndvi                    (NIR − R)/(NIR + R)             up
SAVI        savi                    (1 + L)(NIR − R)/(NIR + R + L)  up
NDSI        ndsi_salinity           (R − NIR)/(R + NIR)             down
SI          si_khan2005             √(B·R)                          down
BI          bi                      √(R² + NIR²)                    down
SI1         si1_douaoui2006         √(G·R)                          down
SI2         si2_douaoui2006         √(G² + R² + NIR²)               down
SI3         si3_douaoui2006         √(G² + R²)                      down
S1          s1_abbas2007            B/R                             down
S2          s2_abbas2007            (B − R)/(B + R)                 down
S3          s3_abbas2007            G·R/B                           down
S5          s5_abbas2007            B·R/G                           down
S6          s6_abbas2007            R·NIR/G                         down
EVI         evi                     2.5(NIR − R)/(NIR + 6R − 7.5B + 1)  up
LSWI        lswi                    (NIR − SWIR1)/(NIR + SWIR1)     up
==========  ======================  ==============================  =========

*direction* says which way is better for remediation monitoring: ``up`` (vegetation:
a rising NDVI is an improvement) or ``down`` (salinity/brightness: a falling value is
an improvement). For S1/S2 the sign of the correlation with soil EC is site-specific
in Abbas & Khan (2007); ``down`` is a default that a caller can override.

Bands are symbols ``B, G, R, NIR, SWIR1, SWIR2`` holding **surface reflectance**
(0–1); see :mod:`gis.salinity` for sensor presets and DN scaling. A zero denominator
gives NaN, never ``inf``.

Examples
--------
>>> import numpy as np
>>> compute_index("NDVI", {"R": np.array([0.1]), "NIR": np.array([0.5])})
array([0.66666667])
>>> get_index("SI1").id, get_index("SI1").formula
('si1_douaoui2006', '√(G·R)')
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .errors import ConfigError, InputError, Message

log = logging.getLogger(__name__)

BANDS = ("B", "G", "R", "NIR", "SWIR1", "SWIR2")
"""Band symbols used by the index formulas."""

SAVI_L = 0.5


def _float(x: Any) -> np.ndarray:
    """``x`` as a float array: float32 stays float32 (no float64 copy), other input float64."""
    arr = np.asarray(x)
    return arr if arr.dtype.kind == "f" else arr.astype("float64")


def _div(num: Any, den: Any) -> Any:
    """num/den with NaN where den == 0 (numpy arrays, scalars or DataArrays); float32
    input gives float32."""
    if hasattr(den, "where") and hasattr(den, "dims"):  # xarray
        return num / den.where(den != 0)
    num, den = _float(num), _float(den)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(np.divide(num, den))
    zero = den == 0
    if np.any(zero):
        out = out.copy() if out.ndim == 0 else out
        out[np.broadcast_to(zero, out.shape)] = np.nan
    return out[()] if out.ndim == 0 else out


def _sqrt(x: Any) -> Any:
    """Square root that gives NaN for negative input without a warning."""
    if hasattr(x, "where") and hasattr(x, "dims"):
        return np.sqrt(x.where(x >= 0))
    x = _float(x)
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.where(x >= 0, x, np.nan))


@dataclass(frozen=True)
class Index:
    """One registered spectral index."""

    id: str
    alias: str
    formula: str
    bands: tuple[str, ...]
    reference: str
    direction: str  # "up" (higher is better) or "down" (lower is better)
    func: Callable[..., Any] = field(repr=False, compare=False)
    note: str = ""

    def __call__(self, **bands: Any) -> Any:
        return self.func(**{b: bands[b] for b in self.bands})


HUETE_1988 = "Huete, A.R. (1988). A soil-adjusted vegetation index (SAVI). Remote Sensing of Environment 25(3), 295–309."
ROUSE_1974 = "Rouse, J.W. et al. (1974). Monitoring vegetation systems in the Great Plains with ERTS. NASA SP-351, 309–317."
KHAN_2005 = "Khan, N.M., Rastoskuev, V.V., Sato, Y., Shiozawa, S. (2005). Assessment of hydrosaline land degradation by using a simple approach of remote sensing indicators. Agricultural Water Management 77, 96–109."
DOUAOUI_2006 = "Douaoui, A.E.K., Nicolas, H., Walter, C. (2006). Detecting salinity hazards within a semiarid context by means of combining soil and remote-sensing data. Geoderma 134, 217–230."
HUETE_2002 = "Huete, A., Didan, K., Miura, T., Rodriguez, E.P., Gao, X., Ferreira, L.G. (2002). Overview of the radiometric and biophysical performance of the MODIS vegetation indices. Remote Sensing of Environment 83(1–2), 195–213."
XIAO_2002 = "Xiao, X., Boles, S., Frolking, S., Salas, W., Moore, B., Li, C. et al. (2002). Observation of flooding and rice transplanting of paddy rice fields at the site to landscape scales in China using VEGETATION sensor data. International Journal of Remote Sensing 23(15), 3009–3022."
ABBAS_KHAN_2007 = "Abbas, A., Khan, S. (2007). Using remote sensing techniques for appraisal of irrigated soil salinity. MODSIM 2007, 2632–2638."

_SPECS: list[tuple[Any, ...]] = [
    # id, alias, formula, bands, reference, direction, func, note
    ("ndvi", "NDVI", "(NIR − R)/(NIR + R)", ("R", "NIR"), ROUSE_1974, "up",
     lambda R, NIR: _div(NIR - R, NIR + R), ""),
    ("savi", "SAVI", "(1 + L)(NIR − R)/(NIR + R + L), L = 0.5", ("R", "NIR"), HUETE_1988, "up",
     lambda R, NIR: _div((1 + SAVI_L) * (NIR - R), NIR + R + SAVI_L), ""),
    ("ndsi_salinity", "NDSI", "(R − NIR)/(R + NIR)", ("R", "NIR"), KHAN_2005, "down",
     lambda R, NIR: _div(R - NIR, R + NIR),
     "salinity NDSI; not the snow index (G − SWIR1)/(G + SWIR1) nor the soil index (SWIR − NIR)/(SWIR + NIR)"),
    ("si_khan2005", "SI", "√(B·R)", ("B", "R"), KHAN_2005, "down",
     lambda B, R: _sqrt(B * R), "some papers call this SI1 or SI2"),
    ("bi", "BI", "√(R² + NIR²)", ("R", "NIR"), KHAN_2005, "down",
     lambda R, NIR: _sqrt(R**2 + NIR**2), "brightness index"),
    ("si1_douaoui2006", "SI1", "√(G·R)", ("G", "R"), DOUAOUI_2006, "down",
     lambda G, R: _sqrt(G * R), "scirp tables call √(B·R) 'SI1'; soilassessment agrees with Douaoui"),
    ("si2_douaoui2006", "SI2", "√(G² + R² + NIR²)", ("G", "R", "NIR"), DOUAOUI_2006, "down",
     lambda G, R, NIR: _sqrt(G**2 + R**2 + NIR**2), "soilassessment's SI2 is √(B·R); scirp's SI3 is this formula"),
    ("si3_douaoui2006", "SI3", "√(G² + R²)", ("G", "R"), DOUAOUI_2006, "down",
     lambda G, R: _sqrt(G**2 + R**2), "scirp's SI3 is √(G² + R² + NIR²)"),
    ("s1_abbas2007", "S1", "B/R", ("B", "R"), ABBAS_KHAN_2007, "down",
     lambda B, R: _div(B, R), "sign of the EC correlation is site-specific"),  # noqa: PLW0108 - called by keyword
    ("s2_abbas2007", "S2", "(B − R)/(B + R)", ("B", "R"), ABBAS_KHAN_2007, "down",
     lambda B, R: _div(B - R, B + R), "sign of the EC correlation is site-specific"),
    ("s3_abbas2007", "S3", "G·R/B", ("B", "G", "R"), ABBAS_KHAN_2007, "down",
     lambda B, G, R: _div(G * R, B), ""),
    ("s5_abbas2007", "S5", "B·R/G", ("B", "G", "R"), ABBAS_KHAN_2007, "down",
     lambda B, G, R: _div(B * R, G), ""),
    ("s6_abbas2007", "S6", "R·NIR/G", ("G", "R", "NIR"), ABBAS_KHAN_2007, "down",
     lambda G, R, NIR: _div(R * NIR, G), ""),
    ("evi", "EVI", "2.5(NIR − R)/(NIR + 6R − 7.5B + 1)", ("B", "R", "NIR"), HUETE_2002, "up",
     lambda B, R, NIR: _div(2.5 * (NIR - R), NIR + 6 * R - 7.5 * B + 1), "MODIS EVI coefficients G=2.5, C1=6, C2=7.5, L=1"),
    ("lswi", "LSWI", "(NIR − SWIR1)/(NIR + SWIR1)", ("NIR", "SWIR1"), XIAO_2002, "up",
     lambda NIR, SWIR1: _div(NIR - SWIR1, NIR + SWIR1),
     "land surface water index; SWIR1 ≈ 1.6 µm (Sentinel-2 B11, Landsat 8/9 B6)"),
]

INDICES: dict[str, Index] = {
    s[0]: Index(id=s[0], alias=s[1], formula=s[2], bands=s[3], reference=s[4],
                direction=s[5], func=s[6], note=s[7])
    for s in _SPECS
}
"""Registered indices by unique id."""

_ALIASES: dict[str, str] = {ix.alias.lower(): ix.id for ix in INDICES.values()}


def known_indices() -> list[str]:
    """Ids and aliases that :func:`get_index` accepts, as ``"ALIAS (id)"`` strings."""
    return [f"{ix.alias} ({ix.id})" for ix in INDICES.values()]


def get_index(name: str | Index) -> Index:
    """Resolve an index id or alias (case-insensitive) to its :class:`Index`.

    Raises
    ------
    ConfigError
        For an unknown name; the message lists the known indices.

    Examples
    --------
    >>> get_index("ndsi").formula
    '(R − NIR)/(R + NIR)'
    >>> get_index("si_khan2005").alias
    'SI'
    """
    if isinstance(name, Index):
        return name
    key = str(name).strip().lower()
    if key in INDICES:
        return INDICES[key]
    if key in _ALIASES:
        return INDICES[_ALIASES[key]]
    raise ConfigError.of("error.unknown_index", name=name, known=", ".join(known_indices()))


def compute_index(name: str | Index, bands: Mapping[str, Any]) -> Any:
    """Compute an index from surface-reflectance bands given by symbol.

    Parameters
    ----------
    name : str or Index
        Id or alias, e.g. ``"NDVI"``, ``"SI1"``, ``"si_khan2005"``.
    bands : mapping
        Band symbol (``B, G, R, NIR, SWIR1, SWIR2``) → numpy array, scalar or
        xarray DataArray of reflectance. An ``xarray.Dataset`` works too.

    Returns
    -------
    Same type as the inputs (ndarray or DataArray), float, NaN where undefined; float32
    bands give float32 (half the memory traffic of float64, ≈ 1e-7 rounding), anything
    else float64.

    Raises
    ------
    InputError
        If a band the formula needs is missing.

    Examples
    --------
    >>> import numpy as np
    >>> float(compute_index("SI", {"B": 0.04, "R": 0.09}))
    0.06
    """
    ix = get_index(name)
    have = set(bands.keys()) if hasattr(bands, "keys") else set()
    missing = [b for b in ix.bands if b not in have]
    if missing:
        raise InputError.of("error.index_bands", alias=ix.alias, id=ix.id, formula=ix.formula,
                            missing=", ".join(missing), given=", ".join(sorted(map(str, have))) or Message("error.none"))
    args = {}
    for b in ix.bands:
        v = bands[b]
        if not (hasattr(v, "dims") or isinstance(v, np.ndarray)):
            v = np.asarray(v, dtype="float64")
        elif v.dtype.kind != "f":  # an ndarray or a DataArray of integers (DN)
            v = v.astype("float64")
        args[b] = v
    out = ix.func(**args)
    if hasattr(out, "dims"):
        out = out.rename(ix.id)
        out.attrs.update({"index": ix.id, "formula": ix.formula, "reference": ix.reference})
    return out


def direction(name: str | Index) -> str:
    """``"up"`` if higher values are better (vegetation), ``"down"`` if lower are.

    Examples
    --------
    >>> direction("NDVI"), direction("SI1")
    ('up', 'down')
    """
    return get_index(name).direction
