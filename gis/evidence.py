"""Evidence from imagery for what the registry claims, per parcel.

Three rules, each a pure function of parcel × date tables from one set of coverage
weights (:class:`gis.coverage.Coverage`): one :func:`gis.zonal_stats` call over the NDVI
dates, the paddy window's flood rule per cell bit-packed into two integer layers
(:func:`flood_flags`) and summed with the same weights (:func:`flood_tables`), and each
parcel's area straight from the weights:

**Paddy** (``paddy_new``, ``paddy_improved``): in the transplanting window of the year
(default 10 May – 20 June in Jilin) an observation with ``LSWI + 0.05 ≥ EVI`` (NDVI
when the stack has no EVI) marks open water under young rice (Xiao et al. 2005; Dong et
al. 2016); then NDVI rises to a summer peak. A cell is *flooded* when any of its clear
window observations is; the parcel's **flooded share** is the coverage-weighted share of
its area on flooded cells. A window date counts as an **observation** of the parcel when
at least ``min_valid_share`` of its area is clear that day. Verdict: ``signal`` when
the flooded share reaches ``min_flooded_share`` and the summer peak NDVI reaches
``min_peak_ndvi``; ``insufficient`` (too few clear observations — never a guess) when
fewer than ``min_observations`` window dates were observed, or flooding was seen but no
summer observation exists; ``no_signal`` otherwise.

**Cultivation** (``new_cultivated_land``, ``high_standard_farmland``): a crop season in
the NDVI series of the growing season — a peak of at least ``min_peak_ndvi`` reached by
a green-up of at least ``min_amplitude`` from the lowest observation before it — against
bare or unchanged land. Same verdict shape.

**Remediation** (``saline_demo_area``): the trend and verdict of :func:`gis.trend.assess`
(remediation monitoring) on the parcels' index series.

Every verdict also says whether the imagery **supports** the claim: ``supported``,
``not_supported`` or ``unobserved`` (what progress reports count).

The thresholds, windows and their sources are one table, ``workflows/evidence_rules.yml``
(:func:`parse_rules`); the dataclass defaults here equal that file.

Examples
--------
>>> import numpy as np
>>> flood_signal(np.array([0.30, 0.10, np.nan]), np.array([0.08, 0.60, 0.20]))
array([ 1.,  0., nan])
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .config import expect, key_path, load_yaml
from .errors import ConfigError, InputError

if TYPE_CHECKING:
    import geopandas as gpd
    import xarray as xr

    from .coverage import Coverage

log = logging.getLogger(__name__)

__all__ = ["PaddyRule", "CultivationRule", "RemediationRule", "EvidenceRules", "flood_signal", "window_mask",
           "flood_flags", "flood_tables", "paddy_evidence", "cultivation_evidence", "remediation_evidence", "verify",
           "parse_rules", "load_rules", "support_summary", "VERDICTS", "SUPPORT"]

VERDICTS = ("signal", "no_signal", "insufficient")
"""Verdicts of the paddy and cultivation rules."""
SUPPORT = ("supported", "not_supported", "unobserved")
"""Does the imagery support the claim?"""
_SUPPORT_OF = {"signal": "supported", "no_signal": "not_supported", "insufficient": "unobserved",
               "improving": "supported", "no_clear_change": "not_supported", "worsening": "not_supported",
               "insufficient_data": "unobserved"}


# ------------------------------------------------------------------------------ the rules table


@dataclass(frozen=True)
class PaddyRule:
    """Flooding/transplanting signal. Dates are ``MM-DD`` of the verified year."""

    categories: tuple[str, ...] = ("paddy_new", "paddy_improved")
    window: tuple[str, str] = ("05-10", "06-20")
    lswi_margin: float = 0.05
    min_valid_share: float = 0.5
    min_observations: int = 2
    min_flooded_share: float = 0.5
    first_flood_share: float = 0.1
    peak_window: tuple[str, str] = ("07-01", "09-15")
    min_peak_ndvi: float = 0.6


@dataclass(frozen=True)
class CultivationRule:
    """A crop season in the NDVI series of the growing season."""

    categories: tuple[str, ...] = ("new_cultivated_land", "high_standard_farmland")
    season: tuple[str, str] = ("04-15", "10-15")
    min_valid_share: float = 0.5
    min_observations: int = 3
    min_peak_ndvi: float = 0.5
    min_amplitude: float = 0.25


@dataclass(frozen=True)
class RemediationRule:
    """The remediation-monitoring trend (:func:`gis.trend.assess`) on ``index``."""

    categories: tuple[str, ...] = ("saline_demo_area",)
    index: str = "ndvi"
    season: tuple[int, int] = (5, 9)
    method: str = "theil_sen"
    alpha: float = 0.05
    min_change: float | None = None
    min_years: int = 4


_Rule = PaddyRule | CultivationRule | RemediationRule


@dataclass(frozen=True)
class EvidenceRules:
    """The three rules and their sources (text per rule)."""

    paddy: PaddyRule = PaddyRule()
    cultivation: CultivationRule = CultivationRule()
    remediation: RemediationRule = RemediationRule()
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def rule_of(self, category: str) -> str | None:
        """``"paddy"``, ``"cultivation"``, ``"remediation"`` or None for ``category``.

        Examples
        --------
        >>> EvidenceRules().rule_of("paddy_new"), EvidenceRules().rule_of("greenhouse")
        ('paddy', None)
        """
        for name in ("paddy", "cultivation", "remediation"):
            if category in getattr(self, name).categories:
                return name
        return None


def _mmdd(value: Any, origin: str | os.PathLike[str], at: str) -> str:
    text = str(value).strip()
    try:
        pd.Timestamp(f"2024-{text}")
        ok = len(text) == 5 and text[2] == "-"
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError.of("error.evidence_rule_date", path=origin, at=at, value=value)
    return text


def _section(cls: type[_Rule], data: Mapping[str, Any], origin: str | os.PathLike[str],
             name: str) -> tuple[_Rule, str]:
    """One rule from its mapping: every key checked (type, dates), unknown keys refused."""
    sec = expect(data.get(name), "mapping", origin=origin, at=name, optional=True) or {}
    known = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for key, value in sec.items():
        at = key_path(name, str(key))
        if key == "source":
            continue
        if key not in known:
            raise ConfigError.of("error.evidence_rule_key", path=origin, at=at, known=", ".join(known))
        default = known[key].default
        if key == "categories":
            out[key] = tuple(expect(value, "names", origin=origin, at=at))
        elif isinstance(default, tuple) and isinstance(default[0], str):
            pair = expect(value, "list", origin=origin, at=at)
            if len(pair) != 2:
                raise ConfigError.of("error.evidence_rule_pair", path=origin, at=at, value=pair)
            out[key] = (_mmdd(pair[0], origin, at), _mmdd(pair[1], origin, at))
        elif isinstance(default, tuple):
            out[key] = tuple(int(v) for v in expect(value, "list", origin=origin, at=at))
        elif isinstance(default, str):
            out[key] = expect(value, "text", origin=origin, at=at)
        else:
            v = expect(value, "number", origin=origin, at=at, optional=key == "min_change")
            out[key] = v if v is None or not isinstance(default, int) else int(v)
    return replace(cls(), **out), str(sec.get("source") or "")


def parse_rules(data: Mapping[str, Any] | None, origin: str | os.PathLike[str] = "<rules>") -> EvidenceRules:
    """The rules from a parsed YAML mapping with sections ``paddy``, ``cultivation`` and
    ``remediation`` (missing keys keep their defaults; unknown keys are refused).

    Examples
    --------
    >>> r = parse_rules({"paddy": {"window": ["05-01", "06-30"], "source": "Dong et al. 2016"}})
    >>> r.paddy.window, r.paddy.lswi_margin, r.sources["paddy"]
    (('05-01', '06-30'), 0.05, 'Dong et al. 2016')
    """
    data = expect(data, "mapping", origin=origin, at="rules", optional=True) or {}
    parts: dict[str, Any] = {}
    sources: dict[str, str] = {}
    rule_classes: tuple[tuple[str, type[_Rule]], ...] = (
        ("paddy", PaddyRule), ("cultivation", CultivationRule), ("remediation", RemediationRule))
    for name, cls in rule_classes:
        parts[name], sources[name] = _section(cls, data, origin, name)
    return EvidenceRules(**parts, sources=sources)


def load_rules(path: str | os.PathLike[str]) -> EvidenceRules:
    """Read a rules table through :func:`gis.config.load_yaml` (bounded, safe YAML).

    An empty file (or one holding only comments) is refused: whoever wrote it meant
    their own thresholds, and the defaults would silently stand in for them.
    """
    data = load_yaml(path, what="evidence_rules")
    if data is None or data == {}:
        raise ConfigError.of("error.rules_empty", path=path, default="evidence_rules.yml")
    return parse_rules(data, path)


# ------------------------------------------------------------------------------ per cell


def flood_signal(lswi: Any, vi: Any, margin: float = 0.05) -> Any:
    """1 where ``LSWI + margin ≥ VI`` (open water under young rice), 0 where not, NaN
    where either value is missing (cloud). numpy, xarray or dask arrays.

    Examples
    --------
    >>> float(flood_signal(0.0, 0.06)), float(flood_signal(0.0, 0.04))
    (0.0, 1.0)
    """
    if hasattr(lswi, "dims"):
        ok = np.isfinite(lswi) & np.isfinite(vi)
        return (lswi + margin >= vi).astype("float32").where(ok)
    lswi, vi = np.asarray(lswi, dtype="float64"), np.asarray(vi, dtype="float64")
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(lswi) & np.isfinite(vi), (lswi + margin >= vi).astype("float64"), np.nan)


def window_mask(times: Any, year: int, window: tuple[str, str]) -> np.ndarray:
    """``True`` for the ``times`` whose date lies in ``window`` (``MM-DD`` to ``MM-DD``,
    both days included) of ``year``.

    Examples
    --------
    >>> times = pd.to_datetime(["2024-05-09 23:00", "2024-05-10 02:50", "2024-06-20 23:00", "2023-05-20 02:50"])
    >>> window_mask(times, 2024, ("05-10", "06-20")).tolist()
    [False, True, True, False]
    """
    t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times))).normalize()
    lo, hi = pd.Timestamp(f"{year}-{window[0]}"), pd.Timestamp(f"{year}-{window[1]}")
    return np.asarray((t >= lo) & (t <= hi))


def _north_up(da: xr.DataArray) -> xr.DataArray:
    """``da`` with its rows north first (a NetCDF's south-up rows flipped, lazily), the
    orientation :func:`gis.zonal_stats` reads and the coverage weights count cells in."""
    ydim = da.rio.y_dim
    if ydim in da.coords and da.sizes[ydim] > 1 and da[ydim][1] > da[ydim][0]:
        flipped: xr.DataArray = da.isel({ydim: slice(None, None, -1)})
        return flipped
    return da


def flood_flags(lswi: xr.DataArray, vi: xr.DataArray, margin: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """The window's flood rule per cell as two bit-packed integer layers (``y × x``):
    bit *k* of ``observed`` is set where window date *k* is clear (both values present),
    bit *k* of ``flooded`` where it is flooded (:func:`flood_signal`). ``lswi`` and ``vi``
    are ``time × y × x`` DataArrays of the window dates (≤ 64), lazy or not; one
    unsigned integer of ⌈K/8⌉ bytes per cell and layer is all that is materialised.

    Examples
    --------
    >>> import xarray as xr
    >>> lswi = xr.DataArray([[[0.3, 0.1, np.nan]], [[0.0, 0.5, 0.2]]], dims=("time", "y", "x"))
    >>> vi = xr.DataArray([[[0.08, 0.6, 0.2]], [[0.5, 0.2, np.nan]]], dims=("time", "y", "x"))
    >>> obs, wet = flood_flags(lswi, vi)
    >>> obs.tolist(), wet.tolist()
    ([[3, 3, 0]], [[1, 2, 0]])
    """
    import xarray as xr

    n = lswi.sizes["time"]
    if n > 64:
        raise InputError.of("error.evidence_window_dates", n=n, limit=64)
    dtype = np.dtype(f"uint{max(8, 1 << int(np.ceil(np.log2(max(n, 1)))))}")
    bit = xr.DataArray((np.uint64(1) << np.arange(n, dtype="uint64")).astype(dtype), dims="time")
    vi = vi.transpose(*lswi.dims)
    # numpy's stubs type a ufunc of a DataArray as ndarray; xarray's __array_ufunc__ returns a DataArray
    ok: xr.DataArray = np.isfinite(lswi) & np.isfinite(vi)  # type: ignore[assignment]
    wet = ok & (lswi + margin >= vi)  # the comparison flood_signal makes, in the stack's dtype
    packed = xr.Dataset({"observed": (ok.astype(dtype) * bit).sum("time", dtype=dtype),
                         "flooded": (wet.astype(dtype) * bit).sum("time", dtype=dtype)}).compute()
    return packed["observed"].values, packed["flooded"].values


def _zone_sums(cov: Coverage) -> Callable[[np.ndarray], np.ndarray]:
    """Per-zone Σ of a value per weighted cell (in the coverage matrix's order, as the
    zonal engine sums: one run of cells per zone)."""
    m = cov.matrix
    nonempty = np.diff(m.indptr) > 0
    starts = m.indptr[:-1][nonempty]

    def seg(x: np.ndarray) -> np.ndarray:
        out = np.zeros(m.shape[0])
        if len(starts):
            out[nonempty] = np.add.reduceat(x[None, :], starts, axis=1)[0]
        return out

    return seg


def flood_tables(cov: Coverage, observed: np.ndarray, flooded: np.ndarray, n_dates: int) -> dict[str, np.ndarray]:
    """Coverage-weighted areas (cells) per zone from :func:`flood_flags`: ``clear`` and
    ``wet`` (zone × window date), ``observed`` and ``flooded`` (area on cells observed /
    flooded at least once), and ``area`` (Σw inside the grid)."""
    seg, w, idx = _zone_sums(cov), cov.matrix.data, cov.matrix.indices
    obs, wet = observed.ravel()[idx], flooded.ravel()[idx]
    zero = np.zeros_like(w)
    out = {"area": seg(w), "observed": seg(np.where(obs != 0, w, zero)),
           "flooded": seg(np.where(wet != 0, w, zero))}
    one = obs.dtype.type(1)
    for name, bits in (("clear", obs), ("wet", wet)):
        cols = [seg(np.where((bits >> obs.dtype.type(k)) & one, w, zero)) for k in range(n_dates)]
        out[name] = np.stack(cols, axis=1) if cols else np.zeros((len(out["area"]), 0))
    return out


def _need(stack: Mapping[str, Any], name: str) -> Any:
    if name not in stack:
        raise InputError.of("error.evidence_stack_index", index=name.upper(), have=", ".join(stack) or "-")
    return stack[name]


# ------------------------------------------------------------------------------ per parcel


@dataclass(frozen=True)
class ParcelTables:
    """What the NDVI zonal pass and the flood flags say per parcel (rows = parcels).

    ``area`` is Σw (cells) of each parcel inside the grid; ``ndvi`` the coverage-weighted
    mean per date, ``ndvi_clear`` the share of the area with a value that day; ``flood``
    the share of the area flooded per window date and ``flood_clear`` the share clear;
    ``flooded_share``/``observed_share`` the share of the area on cells flooded at least
    once / observed at least once in the window; ``series`` any other index's means.
    """

    area: np.ndarray
    ndvi: pd.DataFrame
    ndvi_clear: pd.DataFrame
    flood: pd.DataFrame | None = None
    flood_clear: pd.DataFrame | None = None
    flooded_share: np.ndarray | None = None
    observed_share: np.ndarray | None = None
    series: dict[str, pd.DataFrame] = field(default_factory=dict)


def _dates(values: Any) -> pd.DatetimeIndex:
    """Column labels of the per-date tables: the stack's times through ISO text, as they
    have always been labelled (the unit pandas gives parsed text, microseconds in 3.x)."""
    return pd.DatetimeIndex([pd.Timestamp(t).isoformat() for t in values])


def _means(zs: xr.DataArray, index: pd.Index) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-date means and Σw of clear cells from a ``zone × time × stat`` result of
    :func:`gis.zonal_stats` with stats ``count`` and ``sum``."""
    count = zs.sel(stat="count").values.astype("float64")
    total = zs.sel(stat="sum").values.astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)
    dates = _dates(zs["time"].values)
    return pd.DataFrame(mean, index=index, columns=dates), count


def parcel_tables(ndvi: xr.DataArray, index: pd.Index, flood: Mapping[str, np.ndarray],
                  flood_dates: np.ndarray | None = None,
                  series: Mapping[str, Any] | None = None) -> ParcelTables:
    """:class:`ParcelTables` from the ``zone × time × stat`` result of
    :func:`gis.zonal_stats` (stats ``count`` and ``sum``) over the NDVI dates, the
    :func:`flood_tables` of the same coverage weights (``area`` alone when no paddy is
    checked) and such results for other indices (``series``)."""
    area = flood["area"]
    mean, count = _means(ndvi, index)

    def share(v: np.ndarray) -> np.ndarray:
        return np.where(area[:, None] > 0, v / area[:, None], np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        out: dict[str, Any] = {"area": area, "ndvi": mean, "ndvi_clear": pd.DataFrame(share(count), index=index, columns=mean.columns)}
        if "wet" in flood:
            dates = _dates(flood_dates)
            ratio = share(np.column_stack([flood["flooded"], flood["observed"]]))
            out.update(flood=pd.DataFrame(share(flood["wet"]), index=index, columns=dates),
                       flood_clear=pd.DataFrame(share(flood["clear"]), index=index, columns=dates),
                       flooded_share=ratio[:, 0], observed_share=ratio[:, 1])
    return ParcelTables(**out, series={k: _means(v, index)[0] for k, v in (series or {}).items()})


def _first_date(mask: pd.DataFrame) -> pd.Series:
    """Per row, the first column (date) where ``mask`` holds, else NaT."""
    m = mask.to_numpy()
    first = np.argmax(m, axis=1)
    dates = pd.DatetimeIndex(mask.columns).normalize()
    vals = [dates[i] if m.shape[1] and m[r, i] else pd.NaT for r, i in enumerate(first)]
    return pd.Series(pd.DatetimeIndex(vals), index=mask.index)


def _peak(values: pd.DataFrame, usable: np.ndarray) -> tuple[np.ndarray, pd.Series]:
    """Per row, the largest value among ``usable`` cells and its date (NaN/NaT if none)."""
    v = np.where(usable, values.to_numpy(), np.nan)
    has = np.asarray(np.isfinite(v).any(axis=1))
    arg = np.argmax(np.where(np.isfinite(v), v, -np.inf), axis=1)
    peak = np.where(has, v[np.arange(len(v)), arg] if len(v) else np.nan, np.nan)
    dates = pd.DatetimeIndex(values.columns).normalize()
    when = [dates[a] if h else pd.NaT for a, h in zip(arg, has, strict=True)]
    return peak, pd.Series(pd.DatetimeIndex(when), index=values.index)


def paddy_evidence(t: ParcelTables, year: int, rule: PaddyRule = PaddyRule()) -> pd.DataFrame:
    """The paddy rule (see the module docstring) for every parcel of ``t``.

    Returns a DataFrame indexed like the tables: ``n_obs`` (clear window dates),
    ``observed_share``, ``flooded_share``, ``first_flood``, ``peak_ndvi``, ``peak_date``,
    ``verdict`` (:data:`VERDICTS`).
    """
    if t.flood is None:
        raise InputError.of("error.evidence_stack_index", index="LSWI", have="-")
    # parcel_tables sets the flood tables together
    assert t.flood_clear is not None and t.flooded_share is not None
    n_obs = (t.flood_clear >= rule.min_valid_share).sum(axis=1).to_numpy()
    first = _first_date(t.flood >= rule.first_flood_share)
    dates = pd.DatetimeIndex(t.ndvi.columns)
    in_peak = window_mask(dates, year, rule.peak_window)
    peak, when = _peak(t.ndvi, (t.ndvi_clear.to_numpy() >= rule.min_valid_share) & in_peak[None, :])
    flooded = t.flooded_share >= rule.min_flooded_share
    green = peak >= rule.min_peak_ndvi
    verdict = np.where(flooded & green, "signal",
                       np.where((n_obs < rule.min_observations) | (flooded & ~np.isfinite(peak)),
                                "insufficient", "no_signal"))
    return pd.DataFrame({"n_obs": n_obs, "observed_share": t.observed_share, "flooded_share": t.flooded_share,
                         "first_flood": first.to_numpy(), "peak_ndvi": peak, "peak_date": when.to_numpy(),
                         "verdict": verdict}, index=t.ndvi.index)


def cultivation_evidence(t: ParcelTables, year: int, rule: CultivationRule = CultivationRule()) -> pd.DataFrame:
    """The cultivation rule for every parcel: ``n_obs`` (clear season dates),
    ``peak_ndvi``, ``peak_date``, ``greenup`` (peak − lowest clear value before it),
    ``verdict``."""
    dates = pd.DatetimeIndex(t.ndvi.columns)
    usable = (t.ndvi_clear.to_numpy() >= rule.min_valid_share) & window_mask(dates, year, rule.season)[None, :]
    n_obs = usable.sum(axis=1)
    peak, when = _peak(t.ndvi, usable)
    v = np.where(usable, t.ndvi.to_numpy(), np.nan)
    before = dates.normalize().to_numpy()[None, :] <= when.to_numpy()[:, None]
    low = np.where(usable & before, v, np.inf).min(axis=1) if v.size else np.full(len(v), np.inf)
    greenup = np.where(np.isfinite(low) & np.isfinite(peak), peak - low, np.nan)
    crop = (peak >= rule.min_peak_ndvi) & (greenup >= rule.min_amplitude)
    verdict = np.where(crop, "signal", np.where(n_obs < rule.min_observations, "insufficient", "no_signal"))
    return pd.DataFrame({"n_obs": n_obs, "peak_ndvi": peak, "peak_date": when.to_numpy(), "greenup": greenup,
                         "verdict": verdict}, index=t.ndvi.index)


def remediation_evidence(series: pd.DataFrame, project_year: int | pd.Series | None, rule: RemediationRule = RemediationRule()) -> pd.DataFrame:
    """:func:`gis.trend.assess` (the remediation monitoring's trend) for every row of
    ``series`` (parcel × date means of ``rule.index``): ``n_obs``, ``change``,
    ``slope_per_year``, ``p_value``, ``verdict`` (:data:`gis.trend.VERDICTS`)."""
    from .trend import assess

    r = assess(series, project_year, index=rule.index, season=rule.season, method=rule.method, alpha=rule.alpha,
               min_change=rule.min_change, min_years=rule.min_years)
    return r[["n_obs", "change", "slope_per_year", "p_value", "verdict"]]


# ------------------------------------------------------------------------------ all of it


def verify(zones: gpd.GeoDataFrame, stack: Mapping[str, Any], year: int, rules: EvidenceRules = EvidenceRules(), *,
           coverage: Coverage | None = None, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Evidence for every parcel of ``zones`` whose ``category`` has a rule.

    Parameters
    ----------
    zones : GeoDataFrame
        Parcels with ``category`` (and ``year``, the project year, for remediation);
        its index is kept.
    stack : mapping
        Index id → ``time × y × x`` DataArray on one grid (``ndvi``; ``lswi`` and
        optionally ``evi`` for paddy; the remediation index if not NDVI).
    year : int
        The year whose paddy window and growing season are checked.
    rules : EvidenceRules
    coverage : gis.coverage.Coverage, optional
        Weights of ``zones`` on the stack's grid (else built, or reused from the zonal
        engine's cache).

    Returns
    -------
    DataFrame indexed like ``zones``: ``rule``, ``verdict``, ``support``, ``n_obs``,
    ``observed_share``, ``flooded_share``, ``first_flood``, ``peak_ndvi``, ``peak_date``,
    ``greenup``, ``change``, ``slope_per_year``, ``p_value``, ``flood_rule``; plus the
    per-date NDVI table in ``attrs["ndvi"]``.
    """
    kind = zones["category"].map(lambda c: rules.rule_of(str(c)))
    if kind.isna().all():
        raise InputError.of("error.evidence_no_parcels", categories=", ".join(
            rules.paddy.categories + rules.cultivation.categories + rules.remediation.categories))
    sel = zones.loc[kind.notna()]
    rem_ix = rules.remediation.index.lower() if (kind == "remediation").any() else None
    t = _parcel_pass(sel, stack, year, rules, (bool((kind == "paddy").any()), rem_ix), (coverage, progress))
    out = _combine(sel, kind.loc[sel.index], t, year, rules)
    out["flood_rule"] = np.where(out["rule"] == "paddy", f"LSWI + {rules.paddy.lswi_margin:g} ≥ "
                                 + ("EVI" if "evi" in stack else "NDVI"), "")
    out.attrs["ndvi"] = t.ndvi
    return out


def _parcel_pass(sel: gpd.GeoDataFrame, stack: Mapping[str, Any], year: int, rules: EvidenceRules,
                 need: tuple[bool, str | None],
                 run: tuple[Coverage | None, Callable[[int, int], None] | None]) -> ParcelTables:
    """One set of coverage weights for everything: the NDVI dates through
    :func:`gis.zonal_stats` (count and sum, the peer's cost), the paddy window's flood
    flags bit-packed (:func:`flood_flags`) and summed with the same weights, each
    parcel's area straight from the weights (no layer of ones)."""
    from .coverage import Coverage, Grid
    from .zonal import zonal_stats

    paddy, rem_ix = need
    coverage, progress = run
    ndvi = _north_up(_need(stack, "ndvi"))
    zones = sel[["geometry"]]
    if coverage is None:
        coverage = Coverage.build(zones, Grid.of(ndvi), name="ndvi")
    dates = None
    if paddy:
        win = window_mask(ndvi.time.values, year, rules.paddy.window)
        lswi = _north_up(_need(stack, "lswi")).isel(time=win)
        vi = _north_up(stack.get("evi", ndvi)).isel(time=win)
        observed, flooded = flood_flags(lswi, vi, rules.paddy.lswi_margin)
        flood = flood_tables(coverage, observed, flooded, int(win.sum()))
        dates = ndvi.time.values[win]
    else:
        flood = {"area": _zone_sums(coverage)(coverage.matrix.data)}
    ask: dict[str, Any] = {"stats": ["count", "sum"], "coverage": coverage}
    zs = zonal_stats(zones, ndvi, **ask, progress=progress)
    series = {rem_ix: zonal_stats(zones, _need(stack, rem_ix), **ask)} if rem_ix and rem_ix != "ndvi" else {}
    return parcel_tables(zs, sel.index, flood, dates, series)


_COLUMNS = ("rule", "verdict", "support", "n_obs", "observed_share", "flooded_share", "first_flood", "peak_ndvi",
            "peak_date", "greenup", "change", "slope_per_year", "p_value")


def _combine(sel: gpd.GeoDataFrame, kind: pd.Series, t: ParcelTables, year: int, rules: EvidenceRules) -> pd.DataFrame:
    """One table of the three rules' results, rows in the order of ``sel``."""
    out = pd.DataFrame(index=sel.index, columns=list(_COLUMNS), dtype=object)
    out["rule"] = kind
    rows = {k: (kind == k).to_numpy() for k in ("paddy", "cultivation", "remediation")}
    parts: list[pd.DataFrame] = []
    if rows["paddy"].any():
        parts.append(paddy_evidence(_rows(t, rows["paddy"]), year, rules.paddy))
    if rows["cultivation"].any():
        parts.append(cultivation_evidence(_rows(t, rows["cultivation"]), year, rules.cultivation))
    if rows["remediation"].any():
        ix = rules.remediation.index.lower()
        series = (t.ndvi if ix == "ndvi" else t.series[ix]).loc[rows["remediation"]]
        py = sel.loc[rows["remediation"], "year"] if "year" in sel.columns else None
        parts.append(remediation_evidence(series, py, rules.remediation))
    for part in parts:
        for c in part.columns:
            out.loc[part.index, c] = part[c].to_numpy()
    out["support"] = out["verdict"].map(_SUPPORT_OF)
    for c in ("n_obs",):
        out[c] = pd.to_numeric(out[c]).astype("Int64")
    for c in ("observed_share", "flooded_share", "peak_ndvi", "greenup", "change", "slope_per_year", "p_value"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    for c in ("first_flood", "peak_date"):
        out[c] = pd.to_datetime(out[c])
    return out


def _rows(t: ParcelTables, rows: np.ndarray) -> ParcelTables:
    """``t`` restricted to ``rows`` (a boolean mask)."""
    def pick(x: Any) -> Any:
        return None if x is None else (x.loc[rows] if hasattr(x, "loc") else x[rows])

    return ParcelTables(area=t.area[rows], ndvi=pick(t.ndvi), ndvi_clear=pick(t.ndvi_clear), flood=pick(t.flood),
                        flood_clear=pick(t.flood_clear), flooded_share=pick(t.flooded_share),
                        observed_share=pick(t.observed_share),
                        series={k: v.loc[rows] for k, v in t.series.items()})


def support_summary(table: pd.DataFrame, statuses: tuple[str, ...] = ("completed", "accepted")) -> pd.DataFrame:
    """Per category, the area (亩) claimed complete and how much of it the imagery
    supports, does not support, or did not observe. ``table`` needs ``category``,
    ``status``, ``area_mu`` and ``support``.

    Examples
    --------
    >>> t = pd.DataFrame({"category": ["paddy_new"] * 3, "status": ["completed"] * 3,
    ...                   "area_mu": [10.0, 20.0, 5.0], "support": ["supported", "not_supported", "unobserved"]})
    >>> support_summary(t).loc["paddy_new"].tolist()
    [35.0, 10.0, 20.0, 5.0]
    """
    done = table[table["status"].isin(statuses)]
    piv = done.pivot_table(index="category", columns="support", values="area_mu", aggfunc="sum", fill_value=0.0)
    out = pd.DataFrame(index=piv.index)
    out["claimed_mu"] = piv.sum(axis=1)
    for s in SUPPORT:
        out[f"{s}_mu"] = piv[s] if s in piv.columns else 0.0
    return out.astype("float64")
