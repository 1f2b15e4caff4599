"""Remediation monitoring: baseline vs after, seasonal peak, trend and a verdict.

Input is a *zone × time* table of an index (rows = parcels, columns = acquisition
dates, values = zonal means), as :func:`gis.zonal_stats` gives it for a stack. Per
parcel:

- **baseline mean**: mean of the growing-season observations of the years *before*
  the project year; **after mean**: those of the years *after* it (the construction
  year itself is left out: fields are levelled, flooded or bare then).
- **seasonal peak** per year: the maximum of the monthly means within the growing
  season (default May–September).
- **trend**: Theil–Sen slope per year with the Mann–Kendall test (Kendall's τ
  against time, ``scipy.stats.kendalltau``) — robust to outliers such as a cloudy
  month — or ordinary least squares with its t-test p-value (``method="ols"``). With
  several observations per year the trend is fitted to the **seasonal peaks** (one
  value per year, so the season cycle does not drown the trend); with one observation
  per year it is fitted to the observations.
- **verdict** (``improving``, ``no_clear_change``, ``worsening``,
  ``insufficient_data``): *improving* needs a significant trend (p < ``alpha``) in the
  good direction **and**, when both periods have data, ``after − baseline`` at least
  ``min_change`` in the good direction; *worsening* the same the other way; anything
  else is *no clear change*; fewer than ``min_years`` trend points, or no
  growing-season observation after the project year, is *insufficient data*. The
  good direction comes from the index registry (:func:`gis.indices.direction`): up
  for NDVI/SAVI, down for salinity indices. The rule, with its numbers, is returned
  in the ``verdict_rule`` column.

Charts are presentation: :func:`chart_data` returns the numeric series (dates,
values, peaks, fitted line) as plain JSON-ready data for a map popup to draw.

Examples
--------
>>> import numpy as np, pandas as pd
>>> dates = pd.date_range("2018-07-01", periods=7, freq="12MS")
>>> table = pd.DataFrame([0.20, 0.22, 0.21, 0.35, 0.45, 0.50, 0.55]).T.set_axis(dates, axis=1)
>>> r = assess(table, project_year=2021, index="NDVI")
>>> r.loc[0, "verdict"], round(float(r.loc[0, "baseline_mean"]), 2), round(float(r.loc[0, "after_mean"]), 2)
('improving', 0.21, 0.5)
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .errors import ConfigError, InputError
from .indices import get_index

log = logging.getLogger(__name__)

VERDICTS = ("improving", "no_clear_change", "worsening", "insufficient_data")
DEFAULT_SEASON = (5, 9)
"""Growing season months (inclusive) in Baicheng: May–September."""
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_CHANGE = {"up": 0.05, "down": 0.0}
"""Default minimum ``after − baseline`` change (index units) by direction."""


def _as_time_table(table: pd.DataFrame | pd.Series) -> pd.DataFrame:
    if isinstance(table, pd.Series):
        table = table.to_frame().T
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            cols = pd.DatetimeIndex(pd.to_datetime(table.columns))
    except (ValueError, TypeError) as exc:
        raise InputError.of("error.trend_table_dates", columns=list(table.columns)[:3]) from exc
    out = table.copy()
    out.columns = cols
    out = out.sort_index(axis=1)
    return out.apply(pd.to_numeric, errors="coerce")


def _decimal_year(t: pd.DatetimeIndex) -> np.ndarray:
    start = pd.to_datetime(t.year.astype(str) + "-01-01")
    days = np.where(t.is_leap_year, 366.0, 365.0)
    dec: np.ndarray = t.year.to_numpy() + ((t - start).days.to_numpy() / days)
    return dec


def seasonal_peaks(series: pd.Series, season: tuple[int, int] = DEFAULT_SEASON) -> pd.Series:
    """Per year: the maximum of the monthly means within the growing season.

    Examples
    --------
    >>> s = pd.Series([0.2, 0.6, 0.4, 0.9], index=pd.to_datetime(
    ...     ["2020-06-01", "2020-07-01", "2020-07-20", "2020-11-01"]))
    >>> seasonal_peaks(s).to_dict()  # max(June 0.2, July mean 0.5); November is outside
    {2020: 0.5}
    """
    s = series.sort_index()
    years, p = _peaks(s.to_numpy(dtype="float64")[None, :], pd.DatetimeIndex(s.index), season)
    return pd.Series(p[0], index=years.astype(int), name="peak").dropna()


def _nanmean_cols(v: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Row means over the selected columns, ignoring NaN; NaN where nothing is valid."""
    if not cols.any():
        return np.full(v.shape[0], np.nan)
    sub = v[:, cols]
    n = np.sum(~np.isnan(sub), axis=1)
    tot = np.nansum(sub, axis=1)
    return np.where(n > 0, tot / np.maximum(n, 1), np.nan)


def _nanmax_cols(v: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(v).all(axis=1)
    out = np.full(v.shape[0], np.nan)
    if ok.any():
        out[ok] = np.nanmax(v[ok], axis=1)
    return out


def _peaks(v: np.ndarray, dates: pd.DatetimeIndex, season: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal peaks of every row: ``(years, peaks n × years)``, max of monthly means."""
    yr, mo = dates.year.to_numpy(), dates.month.to_numpy()
    ins = (mo >= season[0]) & (mo <= season[1])
    keys = sorted({(a, b) for a, b, s_ in zip(yr, mo, ins, strict=True) if s_})
    years = np.array(sorted({a for a, _ in keys}), dtype="float64")
    if not keys:
        return years, np.empty((v.shape[0], 0))
    monthly = np.column_stack([_nanmean_cols(v, (yr == a) & (mo == b)) for a, b in keys])
    key_year = np.array([a for a, _ in keys])
    return years, np.column_stack([_nanmax_cols(monthly[:, key_year == a]) for a in years])


def _per_year(v: np.ndarray, years: np.ndarray, project_year: np.ndarray, before: bool) -> np.ndarray:
    """Row means of ``v`` (n × T) over columns whose year is before/after each row's year."""
    out = np.full(v.shape[0], np.nan)
    for py in np.unique(project_year[~np.isnan(project_year)]):
        rows = project_year == py
        cols = years < py if before else years > py
        out[rows] = _nanmean_cols(v[rows], cols)
    return out


def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    j, k = np.triu_indices(n, 1)
    return j, k


def _theil_sen(x: np.ndarray, y: np.ndarray, alpha_ci: float = 0.95) -> tuple[np.ndarray, ...]:
    """Row-wise Theil–Sen slope, intercept and CI (as scipy.stats.theilslopes), NaN-aware."""
    from scipy import stats

    n_rows, T = y.shape
    j, k = _pairs(T)
    dx = x[k] - x[j]
    sl = (y[:, k] - y[:, j]) / np.where(dx == 0, np.nan, dx)
    sl = np.where(dx > 0, sl, np.nan)
    slope = np.full(n_rows, np.nan)
    low = np.full(n_rows, np.nan)
    high = np.full(n_rows, np.nan)
    icpt = np.full(n_rows, np.nan)
    nt = np.sum(~np.isnan(sl), axis=1)
    ok = nt > 0
    if not ok.any():
        return slope, icpt, low, high
    slope[ok] = np.nanmedian(sl[ok], axis=1)
    valid = ~np.isnan(y)
    nv = valid.sum(axis=1)
    xm = np.where(valid, x[None, :], np.nan)
    with np.errstate(invalid="ignore"):
        icpt[ok] = np.nanmedian(y[ok], axis=1) - slope[ok] * np.nanmedian(xm[ok], axis=1)
    # confidence interval of Sen (1968), as scipy computes it (no tie correction in x)
    z = stats.norm.ppf((1 - alpha_ci) / 2)
    ss = np.sort(np.where(np.isnan(sl), np.inf, sl), axis=1)
    sigsq = nv * (nv - 1) * (2 * nv + 5) / 18.0
    sigma = np.sqrt(sigsq)
    ru = np.minimum(np.round((nt - z * sigma) / 2.0).astype(int), nt - 1)
    rl = np.maximum(np.round((nt + z * sigma) / 2.0).astype(int) - 1, 0)
    rows = np.nonzero(ok)[0]
    low[rows] = ss[rows, rl[rows]]
    high[rows] = ss[rows, ru[rows]]
    return slope, icpt, low, high


def _kendall(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise Kendall tau-b and p-value of y against x, as scipy.stats.kendalltau.

    Rows with the same (n, S, tie pattern) share a p-value, computed once by scipy, so
    the result equals scipy's (exact for small n without ties) at a fraction of the cost.
    """
    from scipy import stats

    n_rows, T = y.shape
    tau = np.full(n_rows, np.nan)
    p = np.full(n_rows, np.nan)
    cache: dict[tuple[Any, ...], tuple[float, float]] = {}
    valid = ~np.isnan(y)
    j, k = _pairs(T)
    both = valid[:, j] & valid[:, k]
    sgn = np.sign(x[k] - x[j])[None, :] * np.sign(y[:, k] - y[:, j])
    S = np.where(both, sgn, 0).sum(axis=1)
    for r in range(n_rows):
        yr = y[r, valid[r]]
        if yr.size < 3:
            continue
        _, counts = np.unique(yr, return_counts=True)
        key = (yr.size, int(S[r]), tuple(sorted(counts[counts > 1])))
        if key not in cache:
            res = stats.kendalltau(x[valid[r]], yr)
            cache[key] = (float(res.statistic), float(res.pvalue))
        tau[r], p[r] = cache[key]
    return tau, p


def _ols(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Row-wise least-squares slope, intercept, 95 % CI and t-test p-value, NaN-aware."""
    from scipy import stats

    valid = ~np.isnan(y)
    n = valid.sum(axis=1).astype(float)
    X = np.where(valid, x[None, :], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = np.nanmean(X, axis=1)
        ym = np.nanmean(y, axis=1)
        dx = X - xm[:, None]
        dy = y - ym[:, None]
        sxx = np.nansum(dx * dx, axis=1)
        sxy = np.nansum(dx * dy, axis=1)
        slope = sxy / sxx
        icpt = ym - slope * xm
        resid = y - (icpt[:, None] + slope[:, None] * X)
        dof = n - 2
        se = np.sqrt(np.nansum(resid * resid, axis=1) / dof / sxx)
        t = slope / se
        p = np.where(se == 0, 0.0, 2 * stats.t.sf(np.abs(t), dof))
        q = stats.t.ppf(0.975, dof)
    bad = (n < 3) | ~(sxx > 0)
    out = [np.where(bad, np.nan, a) for a in (slope, icpt, slope - q * se, slope + q * se, p)]
    return out


def verdict_rule(index: str, alpha: float, min_change: float | None = None, method: str = "theil_sen", *,
                 direction: str | None = None, min_years: int = 4, lang: str = "en") -> str:
    """The verdict rule in words, with its numbers (goes into every result row; reports
    show it in their language). ``min_change`` None: the default of the direction.

    Examples
    --------
    >>> verdict_rule("NDVI", 0.05, 0.05)
    'NDVI (ndvi, higher is better): improving if Mann-Kendall p < 0.05 and Theil-Sen slope > 0 per year and after - baseline >= +0.05; worsening if p < 0.05 and slope < 0 and after - baseline <= -0.05; otherwise no clear change; insufficient data if fewer than 4 trend points or no observation after the project year'
    >>> verdict_rule("NDVI", 0.05, lang="zh").split(";")[0]
    'NDVI(ndvi,越高越好):Mann-Kendall 检验 p < 0.05 且 Theil-Sen 斜率 > 0(每年)且 治理后−治理前 >= +0.05 时判为改善'
    """
    from .labels import label, message

    ix = get_index(index)
    d = direction or ix.direction
    mc = DEFAULT_MIN_CHANGE[d] if min_change is None else float(min_change)
    good, bad = (">", "<") if d == "up" else ("<", ">")
    sign = 1 if d == "up" else -1
    return message("trend.rule", lang, alias=ix.alias, id=ix.id, better=label(f"trend.better.{d}", lang),
                   test=label(f"trend.test.{method}", lang), fit=label(f"trend.fit.{method}", lang),
                   alpha=f"{alpha:g}", good=good, bad=bad, ge=">=" if sign > 0 else "<=",
                   le="<=" if sign > 0 else ">=", mc_good=f"{sign * mc:+g}", mc_bad=f"{-sign * mc:+g}",
                   min_points=max(min_years, 3))


def parcel_trend(series: pd.Series, project_year: int | None, *, index: str = "ndvi",
                 direction: str | None = None, season: tuple[int, int] = DEFAULT_SEASON,
                 method: str = "theil_sen", alpha: float = DEFAULT_ALPHA,
                 min_change: float | None = None, min_years: int = 4) -> dict[str, Any]:
    """Baseline/after means, seasonal peaks, trend and verdict for one parcel.

    Parameters
    ----------
    series : pandas.Series
        Index values with a DatetimeIndex (NaN allowed: cloudy dates).
    project_year : int or None
        Year the works were built; ``None`` skips the baseline/after comparison.
    index : str
        Registered index id or alias; gives the good direction.
    direction : {"up", "down"}, optional
        Override the registry's direction.
    season : (int, int)
        First and last month of the growing season.
    method : {"theil_sen", "ols"}
    alpha : float
        Significance level of the trend test.
    min_change : float, optional
        Minimum ``after − baseline`` in the good direction; default 0.05 for
        indices where up is better, 0 otherwise.
    min_years : int
        Fewest trend points (years, or observations) for a verdict.

    Examples
    --------
    >>> s = pd.Series([0.5, 0.45, 0.40, 0.36, 0.30], index=pd.date_range("2019-05-01", periods=5, freq="12MS"))
    >>> parcel_trend(s, 2020, index="SI1")["verdict"]
    'improving'
    """
    row = assess(series.rename(None).to_frame("parcel").T, project_year, index=index, direction=direction,
                 season=season, method=method, alpha=alpha, min_change=min_change,
                 min_years=min_years).iloc[0]
    out = row.to_dict()
    for k in ("n_obs", "n_trend"):
        out[k] = int(out[k])
    for k, v in out.items():
        if isinstance(v, np.floating):
            out[k] = float(v)
    return dict(out)


def assess(table: pd.DataFrame | pd.Series, project_year: int | Mapping[Any, Any] | pd.Series | None, *,
           index: str = "ndvi", direction: str | None = None, season: tuple[int, int] = DEFAULT_SEASON,
           method: str = "theil_sen", alpha: float = DEFAULT_ALPHA, min_change: float | None = None,
           min_years: int = 4) -> pd.DataFrame:
    """:func:`parcel_trend` for every row of a zone × time table, vectorised.

    Parameters
    ----------
    table : DataFrame
        Rows = parcels (the index is kept), columns = dates.
    project_year : int, mapping or Series
        One year for all parcels, or per parcel (aligned on the table's index).
    index, direction, season, method, alpha, min_change, min_years
        See :func:`parcel_trend`.

    Returns
    -------
    DataFrame indexed like ``table``: ``index, n_obs, baseline_mean, after_mean,
    change, peak_baseline, peak_after, peak_max, trend_basis, n_trend, method,
    slope_per_year, intercept, slope_low, slope_high, tau, p_value, verdict,
    verdict_rule``.

    Examples
    --------
    >>> t = pd.DataFrame([[0.30, 0.32, 0.45, 0.50, 0.55, 0.60]],
    ...                  columns=pd.to_datetime([f"{y}-07-01" for y in range(2019, 2025)]))
    >>> r = assess(t, 2021, index="ndvi", min_change=0.05).iloc[0]
    >>> print(r.verdict, f"{r.change:.2f}", r.trend_basis)
    improving 0.24 observations
    """
    ix = get_index(index)
    d = direction or ix.direction
    _check_trend_options(d, direction, method, season)
    mc = DEFAULT_MIN_CHANGE[d] if min_change is None else float(min_change)
    t = _as_time_table(table)
    py = _project_years(project_year, t.index)
    v = t.to_numpy(dtype="float64")
    dates = pd.DatetimeIndex(t.columns)
    out = pd.DataFrame(index=t.index)
    out["index"] = ix.id
    out["n_obs"] = np.sum(~np.isnan(v), axis=1)
    x, y, basis = _before_after(out, v, dates, py, season)
    out["trend_basis"] = basis
    n_trend = np.sum(~np.isnan(y), axis=1)
    out["n_trend"] = n_trend
    out["method"] = method
    for k, col in _fit_trend(x, y, n_trend >= max(min_years, 3), method).items():
        out[k] = col
    out["verdict"] = _verdicts(out, py, 1.0 if d == "up" else -1.0, alpha, mc)
    out["verdict_rule"] = verdict_rule(ix.id, alpha, mc, method, direction=d, min_years=min_years)
    return out


def _check_trend_options(d: str, direction: str | None, method: str, season: tuple[int, int]) -> None:
    """Refuse an unknown direction or method and a season that is not months a ≤ b."""
    if d not in ("up", "down"):
        raise ConfigError.of("error.trend_direction", value=direction)
    if method not in ("theil_sen", "ols"):
        raise ConfigError.of("error.trend_method", value=method)
    if not (1 <= season[0] <= 12 and 1 <= season[1] <= 12 and season[0] <= season[1]):
        raise ConfigError.of("error.trend_season", value=season)


def _project_years(project_year: Any, index: pd.Index) -> np.ndarray:
    """The project year of each row (float, NaN where unknown)."""
    if isinstance(project_year, (Mapping, pd.Series)):
        years: np.ndarray = pd.to_numeric(pd.Series(project_year).reindex(index), errors="coerce").to_numpy(
            dtype="float64")
        return years
    return np.full(len(index), np.nan if project_year is None or pd.isna(project_year) else float(project_year))


def _before_after(out: pd.DataFrame, v: np.ndarray, dates: pd.DatetimeIndex, py: np.ndarray,
                  season: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, str]:
    """Add the baseline / after means and peaks to ``out``; return the trend's points.

    The trend is fitted to the seasonal peaks when some year has several observations,
    else to the observations. Returns ``(x, y, basis)``.
    """
    yr = dates.year.to_numpy()
    mo = dates.month.to_numpy()
    ins = (mo >= season[0]) & (mo <= season[1])
    vs = np.where(ins[None, :], v, np.nan)
    out["baseline_mean"] = _per_year(vs, yr, py, before=True)
    out["after_mean"] = _per_year(vs, yr, py, before=False)
    out["change"] = out["after_mean"] - out["baseline_mean"]
    peak_years, peaks = _peaks(v, dates, season)
    out["peak_baseline"] = _per_year(peaks, peak_years, py, before=True)
    out["peak_after"] = _per_year(peaks, peak_years, py, before=False)
    out["peak_max"] = _nanmax_cols(peaks) if peaks.shape[1] else np.nan
    several = len(yr) > 0 and np.bincount(yr - yr.min()).max() > 1
    if several:
        return peak_years, peaks, "seasonal_peak"
    return _decimal_year(dates), v, "observations"


def _fit_trend(x: np.ndarray, y: np.ndarray, enough: np.ndarray, method: str) -> dict[str, np.ndarray]:
    """Slope, intercept, its interval, τ and p per row; NaN where too few points or years."""
    n = len(y)
    if y.shape[1]:
        xs = np.where(~np.isnan(y), x[None, :], np.nan)
        with np.errstate(invalid="ignore"):
            spread = np.nanmax(xs, axis=1) - np.nanmin(xs, axis=1) if xs.size else np.zeros(n)
        enough = enough & (np.nan_to_num(spread) > 0)
    yy = np.where(enough[:, None], y, np.nan) if y.shape[1] else y
    if method == "theil_sen" and y.shape[1]:
        slope, icpt, lo, hi = _theil_sen(x, yy)
        tau, p = _kendall(x, yy)
    elif y.shape[1]:
        slope, icpt, lo, hi, p = _ols(x, yy)
        tau = np.full(n, np.nan)
    else:
        slope = icpt = lo = hi = tau = p = np.full(n, np.nan)
    cols = {"slope_per_year": slope, "intercept": icpt, "slope_low": lo, "slope_high": hi,
            "tau": tau, "p_value": p}
    return {k: np.where(enough, c, np.nan) for k, c in cols.items()}


def _verdicts(out: pd.DataFrame, py: np.ndarray, sign: float, alpha: float, mc: float) -> np.ndarray:
    """improving / worsening / no_clear_change / insufficient_data per row (see the module)."""
    slope = out["slope_per_year"].to_numpy()
    ch = out["change"].to_numpy()
    sig = out["p_value"].to_numpy() < alpha
    good_change = np.isnan(ch) | (sign * ch >= mc)
    bad_change = np.isnan(ch) | (sign * ch <= -mc)
    verdict = np.where(sig & (sign * slope > 0) & good_change, "improving",
                       np.where(sig & (sign * slope < 0) & bad_change, "worsening", "no_clear_change"))
    no_after = ~np.isnan(py) & np.isnan(out["after_mean"].to_numpy())
    return np.where(np.isnan(slope) | no_after, "insufficient_data", verdict)


def _r(v: float | None, digits: int) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), digits)


def charts(table: pd.DataFrame, results: pd.DataFrame | None = None, *, season: tuple[int, int] = DEFAULT_SEASON,
           digits: int = 4) -> dict[Any, dict[str, Any]]:
    """:func:`chart_data` for every row of a zone × time table (keyed by the row index).

    Examples
    --------
    >>> t = pd.DataFrame([[0.2, 0.5], [0.3, np.nan]], index=["a", "b"],
    ...                  columns=pd.to_datetime(["2021-06-01", "2021-07-01"]))
    >>> charts(t)["b"]["values"], charts(t)["a"]["peaks"]
    ([0.3, None], {2021: 0.5})
    """
    t = _as_time_table(table)
    dates = pd.DatetimeIndex(t.columns)
    v = t.to_numpy(dtype="float64")
    years, peaks = _peaks(v, dates, season)
    labels = [d.strftime("%Y-%m-%d") for d in dates]
    y0, y1 = (float(dates.year.min()), float(dates.year.max())) if len(dates) else (np.nan, np.nan)
    dec = _decimal_year(dates) if len(dates) else np.array([np.nan])
    d0, d1 = float(dec.min()), float(dec.max())
    vr = np.round(v, digits)
    values = vr.astype(object)
    values[np.isnan(vr)] = None
    values = values.tolist()
    pr = np.round(peaks, digits).tolist()
    iyears = [int(yy) for yy in years]
    res: dict[Any, tuple[Any, ...]] = {}
    if results is not None:
        cols = [results[c].tolist() if c in results.columns else [None] * len(results)
                for c in ("verdict", "slope_per_year", "intercept", "trend_basis")]
        res = dict(zip(results.index, zip(*cols, strict=True), strict=True))
    out = {}
    for i, key in enumerate(t.index):
        c: dict[str, Any] = {
            "dates": labels,
            "values": values[i],
            "peaks": {yy: pp for yy, pp in zip(iyears, pr[i], strict=True) if not math.isnan(pp)},
            "fit": None,
            "verdict": None,
        }
        if key in res:
            verdict, slope, icpt, basis = res[key]
            c["verdict"] = verdict
            if slope is not None and not pd.isna(slope) and len(dates):
                x0, x1 = (y0, y1) if basis == "seasonal_peak" else (d0, d1)
                c["fit"] = [[round(x0, 3), _r(icpt + slope * x0, digits)], [round(x1, 3), _r(icpt + slope * x1, digits)]]
        out[key] = c
    return out


def chart_data(series: pd.Series, result: Mapping[str, Any] | None = None, digits: int = 4) -> dict[str, Any]:
    """JSON-ready numbers for a small per-parcel chart (map popup).

    Returns ``{"dates": ["YYYY-MM-DD", …], "values": […], "peaks": {year: value},
    "fit": [[year, value], [year, value]] | None, "verdict": str | None}``; NaN
    becomes ``None``. For many parcels use :func:`charts`.

    Examples
    --------
    >>> s = pd.Series([0.1, np.nan], index=pd.to_datetime(["2020-06-01", "2020-07-01"]))
    >>> chart_data(s)["values"]
    [0.1, None]
    """
    res = None if result is None else pd.DataFrame([dict(result)], index=["_"])
    return charts(series.sort_index().rename(None).to_frame("_").T, res, digits=digits)["_"]
