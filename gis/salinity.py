"""Saline-alkali land: sensor band presets, reflectance scaling and severity classes.

Three parts:

1. **Band presets** map the index band symbols (``B, G, R, NIR, SWIR1, SWIR2``, see
   :mod:`gis.indices`) to the band names of Sentinel-2 L2A, Landsat 8/9 and Landsat
   5/7 Collection 2 Level-2 (DOMAIN.md §3).
2. **Scaling** turns stored digital numbers into surface reflectance:

   - Sentinel-2 L2A: ``(DN + BOA_ADD_OFFSET) / 10000``; the offset is −1000 from
     processing baseline 04.00 (products from 2022-01-25 on) and 0 before. The
     *baseline* decides; the acquisition date is only a fallback, because archives
     reprocessed with baseline ≥ 04.00 carry the offset for older dates too.
   - Landsat C2 L2 SR: ``DN × 2.75e-5 − 0.2``.

   DN 0 is the nodata value of both products and becomes NaN.
3. **Severity classes** from EC (dS/m), pH, ESP (%) and total salt (g/kg), with the
   thresholds in YAML *schemes* (``gis/schemes/*.yml``) tagged with their source.
   Each scheme says whether a value equal to a bound falls in the lower class
   (``closed: right``, classes are ``(lo, hi]``) or the upper one (``closed: left``,
   ``[lo, hi)``). Bundled defaults:

   ==================  ========  ==================  ===========================
   scheme              variable  bounds              a value on a bound goes …
   ==================  ========  ==================  ===========================
   ec_aafc             ec dS/m   2, 4, 8, 16         down (EC 4 is 'weak')
   ph_songnen          ph        8.5, 9.0, 9.5       down (pH 9.5 is 'moderate')
   esp_cn              esp %     5, 10, 15, 30       up (ESP 15 is 'strong')
   salt_cn             salt g/kg 1, 3, 6             up (3 g/kg is 'moderate')
   salt_soda_wang1993  salt g/kg 1, 3, 5, 7          up
   ==================  ========  ==================  ===========================

   Users pass their own scheme as a path or a dict with the same keys.

Examples
--------
>>> import numpy as np
>>> scale_sentinel2(np.array([1000, 2500]), baseline="04.00")
array([0.  , 0.15])
>>> classify(np.array([1.0, 4.0, 4.1, np.nan]), "ec_aafc")
array([ 0,  1,  2, -1], dtype=int16)
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from .errors import ConfigError, InputError
from .indices import compute_index, get_index
from .labels import label

log = logging.getLogger(__name__)

SCHEME_DIR = Path(__file__).with_name("schemes")
NODATA_CLASS = -1
"""Class index given to NaN / missing values by :func:`classify` on arrays."""
NODATA_CODE = "nodata"
"""Class code given to missing values in tables."""

# ---------------------------------------------------------------------------------
# band presets
# ---------------------------------------------------------------------------------

SENSORS: dict[str, dict[str, str]] = {
    "sentinel2": {"B": "B2", "G": "B3", "R": "B4", "NIR": "B8", "SWIR1": "B11", "SWIR2": "B12"},
    "landsat89": {"B": "B2", "G": "B3", "R": "B4", "NIR": "B5", "SWIR1": "B6", "SWIR2": "B7"},
    "landsat57": {"B": "B1", "G": "B2", "R": "B3", "NIR": "B4", "SWIR1": "B5", "SWIR2": "B7"},
}
"""Band symbol → band name per sensor (Landsat names without the ``SR_`` prefix)."""

_SENSOR_ALIASES = {
    "s2": "sentinel2", "sentinel-2": "sentinel2", "sentinel2": "sentinel2", "s2_l2a": "sentinel2",
    "landsat8": "landsat89", "landsat9": "landsat89", "l8": "landsat89", "l9": "landsat89",
    "landsat89": "landsat89", "landsat5": "landsat57", "landsat7": "landsat57", "l5": "landsat57",
    "l7": "landsat57", "landsat57": "landsat57",
}

S2_OFFSET_DATE = dt.date(2022, 1, 25)
"""First acquisitions processed with baseline 04.00 (BOA_ADD_OFFSET = −1000)."""
S2_OFFSET = -1000.0
LANDSAT_SCALE = 2.75e-5
LANDSAT_OFFSET = -0.2


def sensor_name(sensor: str) -> str:
    """Canonical sensor key (``sentinel2``, ``landsat89``, ``landsat57``).

    Examples
    --------
    >>> sensor_name("Landsat-9".replace("-", ""))
    'landsat89'
    """
    key = str(sensor).strip().lower().replace(" ", "")
    if key not in _SENSOR_ALIASES:
        raise ConfigError(
            f"unknown sensor {sensor!r}; use one of: sentinel2 (Sentinel-2 L2A), "
            "landsat89 (Landsat 8/9 C2 L2), landsat57 (Landsat 5/7 C2 L2)"
        )
    return _SENSOR_ALIASES[key]


def _band_key(name: str) -> str:
    """'B02', 'b2', 'SR_B2' → 'B2'; 'B8A' stays 'B8A'; others upper-cased."""
    m = re.fullmatch(r"(?:SR_)?B0*(\d+A?)", str(name).strip().upper())
    return f"B{m.group(1)}" if m else str(name).strip().upper()


def sensor_bands(bands: Mapping[str, Any], sensor: str, symbols: Iterable[str] | None = None,
                 nir: str | None = None) -> dict[str, Any]:
    """Pick the bands of a sensor by symbol.

    Parameters
    ----------
    bands : mapping
        Band name as the product calls it (``"B04"``, ``"B4"``, ``"SR_B4"`` …) → array.
    sensor : str
        ``sentinel2``, ``landsat89`` or ``landsat57`` (aliases such as ``s2``, ``l8``).
    symbols : iterable of str, optional
        Symbols wanted; each must be present. Default: those of the sensor's bands
        that are given (at least one).
    nir : str, optional
        Sentinel-2 only: ``"B8"`` (10 m, default) or ``"B8A"`` (narrow NIR, 20 m).

    Raises
    ------
    InputError
        If a wanted band is missing, naming the band and the sensor.

    Examples
    --------
    >>> sorted(sensor_bands({"B04": 1, "B08": 2}, "s2", symbols=["R", "NIR"]).items())
    [('NIR', 2), ('R', 1)]
    """
    s = sensor_name(sensor)
    preset = dict(SENSORS[s])
    if nir is not None:
        if s != "sentinel2" or _band_key(nir) not in ("B8", "B8A"):
            raise ConfigError(f"nir={nir!r} is only for Sentinel-2 and must be 'B8' or 'B8A'")
        preset["NIR"] = _band_key(nir)
    have = {_band_key(k): k for k in bands}
    if symbols is None:
        symbols = [sym for sym, b in preset.items() if b in have]
        if not symbols:
            raise InputError(
                f"{s}: none of the bands {', '.join(preset.values())} is given; given bands: "
                f"{', '.join(sorted(map(str, bands.keys()))) or 'none'}"
            )
    out = {}
    for sym in symbols:
        if sym not in preset:
            raise InputError(f"band symbol {sym!r} is not one of {', '.join(preset)}")
        want = preset[sym]
        if want not in have:
            raise InputError(
                f"{s}: band {want} ({sym}) is missing; given bands: "
                f"{', '.join(sorted(map(str, bands.keys()))) or 'none'}"
            )
        out[sym] = bands[have[want]]
    return out


def s2_boa_offset(baseline: str | float | None = None, date: Any = None) -> float:
    """BOA_ADD_OFFSET of a Sentinel-2 L2A product: −1000 from baseline 04.00, else 0.

    Parameters
    ----------
    baseline : str or float, optional
        Processing baseline, e.g. ``"04.00"``, ``"N0400"``, ``4.0`` or a product
        name that contains ``_N0400_``. Takes precedence over ``date``.
    date : date-like, optional
        Acquisition date; used only when the baseline is not known (on/after
        2022-01-25 → −1000).

    Raises
    ------
    ConfigError
        If neither is given, or the baseline cannot be read.

    Examples
    --------
    >>> s2_boa_offset("N0400"), s2_boa_offset("03.01"), s2_boa_offset(date="2022-01-25")
    (-1000.0, 0.0, -1000.0)
    >>> s2_boa_offset("S2B_MSIL2A_20210710T024549_N0301_R132_T51TWM_20210710T064501")
    0.0
    """
    if baseline is not None:
        if isinstance(baseline, (int, float)):
            value = float(baseline)
        else:
            text = str(baseline).strip()
            m = re.search(r"(?:^|_)N(\d{2})(\d{2})(?:_|$)", text) or re.fullmatch(r"N?(\d{1,2})\.?(\d{2})", text)
            if not m:
                raise ConfigError(
                    f"cannot read the Sentinel-2 processing baseline {baseline!r}; "
                    "give it like '04.00' or 'N0400' (from the product name or MTD_MSIL2A.xml)"
                )
            value = int(m.group(1)) + int(m.group(2)) / 100
        return S2_OFFSET if value >= 4.0 else 0.0
    if date is not None:
        try:
            d = np.datetime64(str(date)[:10], "D").astype(dt.date)
        except ValueError as exc:
            raise ConfigError(f"cannot read the acquisition date {date!r}; write it as YYYY-MM-DD") from exc
        return S2_OFFSET if d >= S2_OFFSET_DATE else 0.0
    raise ConfigError(
        "Sentinel-2 L2A scaling needs the processing baseline (e.g. '04.00', in the product "
        "name as N0400) or the acquisition date: from baseline 04.00 (2022-01-25) reflectance "
        "is (DN - 1000)/10000, before it DN/10000"
    )


def _nodata_to_nan(dn: Any, nodata: float | None) -> Any:
    if hasattr(dn, "dims"):
        f = dn.astype("float64")
        return f.where(dn != nodata) if nodata is not None else f
    f = np.asarray(dn, dtype="float64")
    return np.where(f == nodata, np.nan, f) if nodata is not None else f


def scale_sentinel2(dn: Any, *, baseline: str | float | None = None, date: Any = None, offset: float | None = None,
                    nodata: float | None = 0) -> Any:
    """Sentinel-2 L2A DN → surface reflectance, ``(DN + offset)/10000``.

    ``offset`` (BOA_ADD_OFFSET from the product metadata) wins over ``baseline``,
    which wins over ``date``; see :func:`s2_boa_offset`. DN equal to ``nodata``
    becomes NaN.

    Examples
    --------
    >>> import numpy as np
    >>> scale_sentinel2(np.array([0, 1500]), date="2021-06-01")
    array([ nan, 0.15])
    """
    off = float(offset) if offset is not None else s2_boa_offset(baseline, date)
    return (_nodata_to_nan(dn, nodata) + off) / 10000.0


def scale_landsat(dn: Any, *, nodata: float | None = 0) -> Any:
    """Landsat Collection 2 Level-2 SR DN → reflectance, ``DN × 2.75e-5 − 0.2``.

    Examples
    --------
    >>> import numpy as np
    >>> scale_landsat(np.array([7273, 10000, 0])).round(4)
    array([0.   , 0.075,   nan])
    """
    return _nodata_to_nan(dn, nodata) * LANDSAT_SCALE + LANDSAT_OFFSET


def reflectance(bands: Mapping[str, Any], sensor: str, symbols: Iterable[str] | None = None, *,
                baseline: str | float | None = None, date: Any = None,
                offset: float | None = None, nir: str | None = None, nodata: float | None = 0) -> dict[str, Any]:
    """Sensor DN bands → reflectance by symbol (``{"R": …, "NIR": …}``).

    Examples
    --------
    >>> import numpy as np
    >>> r = reflectance({"B4": np.array([2000]), "B8": np.array([4000])}, "sentinel2", baseline="04.00")
    >>> r["R"], r["NIR"]
    (array([0.1]), array([0.3]))
    """
    s = sensor_name(sensor)
    raw = sensor_bands(bands, s, symbols, nir=nir)
    if s == "sentinel2":
        off = float(offset) if offset is not None else s2_boa_offset(baseline, date)
        return {k: scale_sentinel2(v, offset=off, nodata=nodata) for k, v in raw.items()}
    return {k: scale_landsat(v, nodata=nodata) for k, v in raw.items()}


def sensor_index(index: str, bands: Mapping[str, Any], sensor: str, **scaling: Any) -> Any:
    """Compute a registered index straight from a sensor's DN bands.

    ``scaling`` goes to :func:`reflectance` (``baseline``, ``date``, ``offset``,
    ``nir``, ``nodata``). Only the bands the index needs are read.

    Examples
    --------
    >>> import numpy as np
    >>> b = {"B04": np.array([2000]), "B08": np.array([4000])}
    >>> sensor_index("NDVI", b, "s2", baseline="04.00")  # (0.3-0.1)/(0.3+0.1)
    array([0.5])
    >>> sensor_index("NDVI", b, "s2", baseline="03.01")  # offset ignored: biased
    array([0.33333333])
    """
    ix = get_index(index)
    return compute_index(ix, reflectance(bands, sensor, ix.bands, **scaling))


# ---------------------------------------------------------------------------------
# severity schemes
# ---------------------------------------------------------------------------------

VARIABLES = {"ec": "dS/m", "ph": "pH", "esp": "%", "salt": "g/kg"}


@dataclass(frozen=True)
class Scheme:
    """A class scheme: ``len(bounds) + 1`` classes over one variable."""

    id: str
    variable: str
    unit: str
    source: str
    bounds: tuple[float, ...]
    codes: tuple[str, ...]
    labels_zh: tuple[str, ...]
    labels_en: tuple[str, ...]
    closed: str = "right"
    title_zh: str = ""
    title_en: str = ""

    def labels(self, lang: str = "zh") -> tuple[str, ...]:
        return self.labels_zh if lang == "zh" else self.labels_en

    def describe(self, unit: bool = True) -> list[str]:
        """Human-readable interval of each class, e.g. ``'(2, 4] dS/m'`` (``unit=False``: ``'(2, 4]'``).

        Examples
        --------
        >>> load_scheme("ec_aafc").describe()[:2]
        ['≤ 2 dS/m', '(2, 4] dS/m']
        >>> load_scheme("esp_cn").describe(unit=False)[-1]
        '≥ 30'
        """
        b = [f"{x:g}" for x in self.bounds]
        u = f" {self.unit}" if unit else ""
        if self.closed == "right":
            out = [f"≤ {b[0]}{u}"] + [f"({b[i]}, {b[i + 1]}]{u}" for i in range(len(b) - 1)] + [f"> {b[-1]}{u}"]
        else:
            out = [f"< {b[0]}{u}"] + [f"[{b[i]}, {b[i + 1]}){u}" for i in range(len(b) - 1)] + [f"≥ {b[-1]}{u}"]
        return out


def list_schemes() -> list[str]:
    """Ids of the bundled schemes.

    Examples
    --------
    >>> "ec_aafc" in list_schemes()
    True
    """
    return sorted(p.stem for p in SCHEME_DIR.glob("*.yml"))


def load_scheme(scheme: str | Path | Mapping[str, Any] | Scheme) -> Scheme:
    """Load a scheme: a bundled id, a path to a YAML file, or a dict with its keys.

    Required keys: ``id, variable (ec|ph|esp|salt), bounds (strictly increasing),
    classes (list of {code, zh, en}, one more than bounds), source``; optional
    ``unit, closed (right|left, default right), title_zh, title_en``.

    Raises
    ------
    ConfigError
        Unknown scheme, missing keys, bounds not strictly increasing, wrong number
        of classes; the message names the file and what to fix.

    Examples
    --------
    >>> load_scheme("ph_songnen").bounds
    (8.5, 9.0, 9.5)
    """
    if isinstance(scheme, Scheme):
        return scheme
    raw, where = _scheme_mapping(scheme)
    missing = [k for k in ("id", "variable", "bounds", "classes", "source") if k not in raw]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
    var = str(raw["variable"]).lower()
    if var not in VARIABLES:
        raise ConfigError(f"{where}: variable {raw['variable']!r} is not one of {', '.join(VARIABLES)}")
    bounds = _scheme_bounds(raw["bounds"], where)
    codes, zh, en = _scheme_classes(raw["classes"], bounds, where)
    closed = str(raw.get("closed", "right")).lower()
    if closed not in ("right", "left"):
        raise ConfigError(f"{where}: closed must be 'right' ((lo, hi]) or 'left' ([lo, hi)), got {closed!r}")
    return Scheme(
        id=str(raw["id"]), variable=var, unit=str(raw.get("unit", VARIABLES[var])), source=str(raw["source"]),
        bounds=bounds, codes=tuple(codes), labels_zh=tuple(zh), labels_en=tuple(en), closed=closed,
        title_zh=str(raw.get("title_zh", "")), title_en=str(raw.get("title_en", "")),
    )


def _scheme_mapping(scheme: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The scheme's keys and how to name it in messages: a dict as given, a bundled id or a YAML path."""
    if isinstance(scheme, Mapping):
        raw = dict(scheme)
        return raw, f"scheme {raw.get('id', '(no id)')!r}"
    path = Path(scheme)
    if not path.suffix and (SCHEME_DIR / f"{scheme}.yml").exists():
        path = SCHEME_DIR / f"{scheme}.yml"
    if not path.exists():
        raise ConfigError(
            f"unknown salinity scheme {str(scheme)!r}: not a bundled scheme "
            f"({', '.join(list_schemes())}) nor an existing YAML file"
        )
    from .config import load_yaml

    raw = load_yaml(path, what="scheme") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a scheme must be a mapping with id, variable, bounds, classes, source")
    return raw, str(path)


def _scheme_bounds(given: Any, where: str) -> tuple[float, ...]:
    """The thresholds, checked to be numbers, at least one, strictly increasing."""
    try:
        bounds = tuple(float(x) for x in given)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: bounds must be a list of numbers, got {given!r}") from exc
    if not bounds:
        raise ConfigError(f"{where}: bounds is empty; give at least one threshold")
    for a, b in pairwise(bounds):
        if not b > a:
            raise ConfigError(
                f"{where}: thresholds must be strictly increasing, but {b:g} follows {a:g} "
                f"in bounds {list(bounds)}"
            )
    return bounds


def _scheme_classes(classes: Any, bounds: tuple[float, ...], where: str) -> tuple[list[str], list[str], list[str]]:
    """Codes, Chinese and English labels of the classes: one more than the bounds, codes unique."""
    if not isinstance(classes, list) or len(classes) != len(bounds) + 1:
        raise ConfigError(
            f"{where}: {len(bounds)} bounds need {len(bounds) + 1} classes, got "
            f"{len(classes) if isinstance(classes, list) else classes!r}"
        )
    codes, zh, en = [], [], []
    for i, c in enumerate(classes):
        if not isinstance(c, Mapping) or "code" not in c:
            raise ConfigError(f"{where}: class {i + 1} needs at least a 'code' (and 'zh', 'en' labels)")
        codes.append(str(c["code"]))
        zh.append(str(c.get("zh", c["code"])))
        en.append(str(c.get("en", c["code"])))
    if len(set(codes)) != len(codes) or NODATA_CODE in codes:
        raise ConfigError(f"{where}: class codes must be unique and not {NODATA_CODE!r}: {codes}")
    return codes, zh, en


def _classify_array(values: np.ndarray, s: Scheme) -> np.ndarray:
    v = np.asarray(values, dtype="float64")
    # right-closed (lo, hi]: searchsorted side='left' puts v == bound in the lower class
    idx = np.searchsorted(np.asarray(s.bounds), v, side="left" if s.closed == "right" else "right")
    return np.where(np.isfinite(v), idx, NODATA_CLASS).astype("int16")


def classify(values: Any, scheme: str | Path | Mapping[str, Any] | Scheme) -> Any:
    """Severity class of each value.

    Parameters
    ----------
    values : ndarray, xarray.DataArray or pandas.Series
        Values in the scheme's unit.
    scheme : str, path, dict or Scheme
        See :func:`load_scheme`.

    Returns
    -------
    ndarray / DataArray of int16 class indices (0 = lowest class, ``-1`` = nodata
    for NaN), or for a Series a Series of class codes (``"nodata"`` for missing).

    Examples
    --------
    >>> import pandas as pd
    >>> classify(pd.Series([8.2, 9.0, 9.51, None]), "ph_songnen").tolist()
    ['none', 'light', 'heavy', 'nodata']
    >>> classify(np.array([4.9, 5.0, 15.0]), "esp_cn")
    array([0, 1, 3], dtype=int16)
    """
    s = load_scheme(scheme)
    if hasattr(values, "dims"):  # DataArray
        out = values.copy(data=_classify_array(values.values, s))
        # the classes are small integers: the source's fill value/scaling encoding (a
        # raster opened with masked=True) no longer applies to them
        out.encoding = {k: v for k, v in values.encoding.items() if k not in (
            "_FillValue", "missing_value", "dtype", "rasterio_dtype", "scale_factor", "add_offset")}
        out.attrs = {"scheme": s.id, "source": s.source, "classes": ",".join(s.codes),
                     "nodata_class": NODATA_CLASS, "long_name": s.title_en or s.id}
        return out.rename(f"{s.variable}_class")
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(values, pd.Series):
        num = pd.to_numeric(values, errors="coerce")
        bad = values.notna() & num.isna()
        if bad.any():
            first = values.index[bad.to_numpy()][0]
            raise InputError(
                f"{values.name or 'column'}: value {values[first]!r} at row {first} is not a number; "
                f"{s.variable} must be numeric in {s.unit}"
            )
        idx = _classify_array(num.to_numpy(), s)
        codes = np.array(list(s.codes) + [NODATA_CODE], dtype=object)
        return pd.Series(codes[idx], index=values.index, name=f"{values.name or s.variable}_class")
    return _classify_array(values, s)


def classify_table(df: pd.DataFrame, column: str, scheme: str | Path | Mapping[str, Any] | Scheme,
                   lang: str = "zh") -> pd.DataFrame:
    """Add ``<column>_class`` (code) and ``<column>_class_label`` columns to a copy of ``df``.

    Examples
    --------
    >>> import pandas as pd
    >>> classify_table(pd.DataFrame({"ec": [1, 5]}), "ec", "ec_aafc", "en")["ec_class_label"].tolist()
    ['non-saline', 'moderate']
    """
    if column not in df.columns:
        raise InputError(f"column {column!r} not found; columns are: {', '.join(map(str, df.columns))}")
    s = load_scheme(scheme)
    out = df.copy()
    codes = classify(out[column], s)
    out[f"{column}_class"] = codes.to_numpy()
    names = dict(zip(s.codes, s.labels(lang), strict=True))
    names[NODATA_CODE] = label("salinity.nodata", lang)
    out[f"{column}_class_label"] = codes.map(names).to_numpy()
    return out


def class_area_mu(parcels: Any, raster: Any, scheme: str | Path | Mapping[str, Any] | Scheme,
                  method: str = "exact") -> pd.DataFrame:
    """Per-parcel area in 亩 of each severity class, through the zonal engine.

    Parameters
    ----------
    parcels : GeoDataFrame
        Zones with a CRS; the result keeps their index.
    raster : xarray.DataArray
        Values in the scheme's unit (EC, pH, ESP, salt) with a CRS (rioxarray), or the
        output of :func:`classify` for the same scheme.
    scheme : str, path, dict or Scheme
    method : {"exact", "center", "all_touched"}
        How cells count, see :func:`gis.zonal.zonal_stats`.

    Returns
    -------
    DataFrame with ``area_mu_<code>`` for every class of the scheme (ellipsoidal 亩,
    cells weighted by the fraction inside the parcel) and ``area_mu_classified``;
    cells without data are left out.

    Examples
    --------
    >>> import numpy as np, xarray as xr, geopandas as gpd, rioxarray  # noqa: F401
    >>> from shapely import box
    >>> ec = xr.DataArray([[1.0, 5.0], [20.0, np.nan]], dims=("y", "x"),
    ...                   coords={"y": [5050.0, 4950.0], "x": [500050.0, 500150.0]}).rio.write_crs("EPSG:4550")
    >>> p = gpd.GeoDataFrame({"code": ["P1"]}, geometry=[box(500000, 4900, 500200, 5100)],
    ...                      crs="EPSG:4550").set_index("code")
    >>> class_area_mu(p, ec, "ec_aafc").round(2).loc["P1"].tolist()
    [15.0, 0.0, 15.0, 0.0, 15.0, 45.0]
    """
    import pandas as pd

    from .zonal import zonal_stats

    s = load_scheme(scheme)
    if getattr(raster, "attrs", {}).get("scheme") == s.id and raster.dtype.kind == "i":
        classes = raster
    else:
        classes = classify(raster, s)
    classes = classes.rio.write_nodata(NODATA_CLASS)
    res = zonal_stats(parcels, classes, stats=["count"], method=method, categorical=True)
    out = pd.DataFrame(index=res.index)
    for i, code in enumerate(s.codes):
        col = f"area_mu_{i}"
        out[f"area_mu_{code}"] = res[col].fillna(0.0).to_numpy() if col in res.columns else 0.0
    out["area_mu_classified"] = out.sum(axis=1)
    return out
