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
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .errors import ConfigError, InputError
from .indices import direction as index_direction
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
        raise InputError(
            f"the columns of the index table must be dates (zone × time); got {list(table.columns)[:3]} …"
        ) from exc
    out = table.copy()
    out.columns = cols
    out = out.sort_index(axis=1)
    return out.apply(pd.to_numeric, errors="coerce")


def _decimal_year(t: pd.DatetimeIndex) -> np.ndarray:
    start = pd.to_datetime(t.year.astype(str) + "-01-01")
    days = np.where(t.is_leap_year, 366.0, 365.0)
    return t.year.to_numpy() + ((t - start).days.to_numpy() / days)


def seasonal_peaks(series: pd.Series, season: tuple[int, int] = DEFAULT_SEASON) -> pd.Series:
    """Per year: the maximum of the monthly means within the growing season.

    Examples
    --------
    >>> s = pd.Series([0.2, 0.6, 0.4, 0.9], index=pd.to_datetime(
    ...     ["2020-06-01", "2020-07-01", "2020-07-20", "2020-11-01"]))
    >>> seasonal_peaks(s).to_dict()  # max(June 0.2, July mean 0.5); November is outside
    {2020: 0.5}
    """
    s = series.dropna()
    s = s[(s.index.month >= season[0]) & (s.index.month <= season[1])]
    if s.empty:
        return pd.Series(dtype="float64", name="peak")
    monthly = s.groupby([s.index.year, s.index.month]).mean()
    return monthly.groupby(level=0).max().rename("peak")


def _trend(x: np.ndarray, y: np.ndarray, method: str) -> dict[str, float]:
    from scipy import stats

    if method == "theil_sen":
        res = stats.theilslopes(y, x, alpha=0.95)
        tau = stats.kendalltau(x, y)
        return {"slope_per_year": float(res.slope), "intercept": float(res.intercept),
                "slope_low": float(res.low_slope), "slope_high": float(res.high_slope),
                "tau": float(tau.statistic), "p_value": float(tau.pvalue)}
    res = stats.linregress(x, y)
    t = stats.t.ppf(0.975, len(x) - 2) if len(x) > 2 else np.nan
    return {"slope_per_year": float(res.slope), "intercept": float(res.intercept),
            "slope_low": float(res.slope - t * res.stderr), "slope_high": float(res.slope + t * res.stderr),
            "tau": np.nan, "p_value": float(res.pvalue)}


def verdict_rule(index: str, alpha: float, min_change: float, method: str = "theil_sen",
                 direction: str | None = None, min_years: int = 4) -> str:
    """The verdict rule in words, with its numbers (goes into every result row).

    Examples
    --------
    >>> verdict_rule("NDVI", 0.05, 0.05)
    'NDVI (ndvi, higher is better): improving if Mann-Kendall p < 0.05 and Theil-Sen slope > 0 per year and after - baseline >= +0.05; worsening if p < 0.05 and slope < 0 and after - baseline <= -0.05; otherwise no clear change; insufficient data if fewer than 4 trend points or no observation after the project year'
    """
    ix = get_index(index)
    d = direction or ix.direction
    good, bad = (">", "<") if d == "up" else ("<", ">")
    sign = 1 if d == "up" else -1
    test = "Mann-Kendall p" if method == "theil_sen" else "OLS t-test p"
    fit = "Theil-Sen slope" if method == "theil_sen" else "OLS slope"
    return (
        f"{ix.alias} ({ix.id}, {'higher' if d == 'up' else 'lower'} is better): improving if {test} < {alpha:g} "
        f"and {fit} {good} 0 per year and after - baseline {'>=' if sign > 0 else '<='} {sign * min_change:+g}; "
        f"worsening if p < {alpha:g} and slope {bad} 0 and after - baseline "
        f"{'<=' if sign > 0 else '>='} {-sign * min_change:+g}; otherwise no clear change; insufficient data "
        f"if fewer than {max(min_years, 3)} trend points or no observation after the project year"
    )


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
    ix = get_index(index)
    d = direction or ix.direction
    if d not in ("up", "down"):
        raise ConfigError(f"direction must be 'up' or 'down', got {direction!r}")
    if method not in ("theil_sen", "ols"):
        raise ConfigError(f"trend method must be 'theil_sen' or 'ols', got {method!r}")
    if not (1 <= season[0] <= 12 and 1 <= season[1] <= 12 and season[0] <= season[1]):
        raise ConfigError(f"season must be (first month, last month) within 1..12, got {season!r}")
    mc = DEFAULT_MIN_CHANGE[d] if min_change is None else float(min_change)
    s = series.dropna().sort_index()
    in_season = s[(s.index.month >= season[0]) & (s.index.month <= season[1])]
    out: dict[str, Any] = {"index": ix.id, "n_obs": int(s.size)}
    if project_year is not None and not pd.isna(project_year):
        py = int(project_year)
        before = in_season[in_season.index.year < py]
        after = in_season[in_season.index.year > py]
        out["baseline_mean"] = float(before.mean()) if before.size else np.nan
        out["after_mean"] = float(after.mean()) if after.size else np.nan
    else:
        py = None
        out["baseline_mean"] = out["after_mean"] = np.nan
    out["change"] = out["after_mean"] - out["baseline_mean"]
    peaks = seasonal_peaks(s, season)
    if py is not None:
        out["peak_baseline"] = float(peaks[peaks.index < py].mean()) if (peaks.index < py).any() else np.nan
        out["peak_after"] = float(peaks[peaks.index > py].mean()) if (peaks.index > py).any() else np.nan
    else:
        out["peak_baseline"] = out["peak_after"] = np.nan
    out["peak_max"] = float(peaks.max()) if peaks.size else np.nan
    several_per_year = s.size > 0 and s.groupby(s.index.year).size().max() > 1
    if several_per_year:
        x, y, basis = peaks.index.to_numpy(dtype="float64"), peaks.to_numpy(), "seasonal_peak"
    else:
        x, y, basis = _decimal_year(s.index), s.to_numpy(), "observations"
    out["trend_basis"] = basis
    out["n_trend"] = int(len(y))
    out["method"] = method
    if len(y) >= max(min_years, 3) and np.ptp(x) > 0:
        out.update(_trend(x, y, method))
    else:
        out.update({"slope_per_year": np.nan, "intercept": np.nan, "slope_low": np.nan,
                    "slope_high": np.nan, "tau": np.nan, "p_value": np.nan})
    sign = 1.0 if d == "up" else -1.0
    no_after = py is not None and np.isnan(out["after_mean"])
    if np.isnan(out["slope_per_year"]) or no_after:
        verdict = "insufficient_data"
    else:
        sig = out["p_value"] < alpha
        good_slope = sign * out["slope_per_year"] > 0
        bad_slope = sign * out["slope_per_year"] < 0
        ch = out["change"]
        good_change = np.isnan(ch) or sign * ch >= mc
        bad_change = np.isnan(ch) or sign * ch <= -mc
        if sig and good_slope and good_change:
            verdict = "improving"
        elif sig and bad_slope and bad_change:
            verdict = "worsening"
        else:
            verdict = "no_clear_change"
    out["verdict"] = verdict
    out["verdict_rule"] = verdict_rule(ix.id, alpha, mc, method, d, min_years)
    return out


def assess(table: pd.DataFrame | pd.Series, project_year: int | Mapping | pd.Series | None, *,
           index: str = "ndvi", **kwargs) -> pd.DataFrame:
    """:func:`parcel_trend` for every row of a zone × time table.

    Parameters
    ----------
    table : DataFrame
        Rows = parcels (the index is kept), columns = dates.
    project_year : int, mapping or Series
        One year for all parcels, or per parcel (aligned on the table's index).
    **kwargs
        Passed to :func:`parcel_trend`.

    Returns
    -------
    DataFrame indexed like ``table`` with the columns of :func:`parcel_trend`.
    """
    t = _as_time_table(table)
    if isinstance(project_year, (Mapping, pd.Series)):
        years = pd.Series(project_year).reindex(t.index)
    else:
        years = pd.Series(project_year, index=t.index, dtype="object")
    rows = [parcel_trend(t.loc[k], years.loc[k], index=index, **kwargs) for k in t.index]
    return pd.DataFrame(rows, index=t.index)


def chart_data(series: pd.Series, result: Mapping[str, Any] | None = None, digits: int = 4) -> dict[str, Any]:
    """JSON-ready numbers for a small per-parcel chart (map popup).

    Returns ``{"dates": ["YYYY-MM-DD", …], "values": […], "peaks": {year: value},
    "fit": [[year, value], [year, value]] | None, "verdict": str | None}``; NaN
    becomes ``None``.

    Examples
    --------
    >>> s = pd.Series([0.1, np.nan], index=pd.to_datetime(["2020-06-01", "2020-07-01"]))
    >>> chart_data(s)["values"]
    [0.1, None]
    """
    s = series.sort_index()
    vals = [None if pd.isna(v) else round(float(v), digits) for v in s.to_numpy()]
    peaks = seasonal_peaks(s)
    out: dict[str, Any] = {
        "dates": [d.strftime("%Y-%m-%d") for d in pd.DatetimeIndex(s.index)],
        "values": vals,
        "peaks": {int(k): round(float(v), digits) for k, v in peaks.items()},
        "fit": None,
        "verdict": None,
    }
    if result is not None:
        out["verdict"] = result.get("verdict")
        slope, icpt = result.get("slope_per_year"), result.get("intercept")
        if slope is not None and not pd.isna(slope) and len(s):
            t = pd.DatetimeIndex(s.index)
            if result.get("trend_basis") == "seasonal_peak":
                x0, x1 = float(t.year.min()), float(t.year.max())
            else:
                xs = _decimal_year(t)
                x0, x1 = float(xs.min()), float(xs.max())
            out["fit"] = [[round(x0, 3), round(icpt + slope * x0, digits)], [round(x1, 3), round(icpt + slope * x1, digits)]]
    return out
