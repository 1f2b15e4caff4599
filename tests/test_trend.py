"""Remediation trend and verdict on synthetic series with a known trend and known noise."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gis.errors import ConfigError, InputError
from gis.trend import assess, chart_data, parcel_trend, seasonal_peaks

YEARS = range(2016, 2026)  # 10 growing seasons
MONTHS = range(4, 11)  # April..October, one composite per month


def monthly(peak_of_year, noise_sd=0.0, seed=0, floor=0.12) -> pd.Series:
    """Monthly NDVI-like series: floor in April/October, the year's peak in July, plus N(0, sd) noise."""
    rng = np.random.default_rng(seed)
    idx, vals = [], []
    for y in YEARS:
        for m in MONTHS:
            bump = np.sin(np.pi * (m - 4) / 6)
            idx.append(pd.Timestamp(y, m, 1))
            vals.append(floor + (peak_of_year(y) - floor) * bump + rng.normal(0, noise_sd))
    return pd.Series(vals, index=pd.DatetimeIndex(idx))


def test_noise_free_numbers_are_exact():
    s = monthly(lambda y: 0.40 if y < 2021 else 0.70)
    r = parcel_trend(s, 2020, index="NDVI")
    assert r["n_obs"] == 70 and r["trend_basis"] == "seasonal_peak" and r["n_trend"] == 10
    # season May..Sep: bumps sin(pi/6), sin(pi/3), 1, sin(2pi/3), sin(5pi/6) -> mean (1+2*0.866)/5
    mean_bump = (0.5 + np.sqrt(3) / 2 + 1 + np.sqrt(3) / 2 + 0.5) / 5
    assert r["baseline_mean"] == pytest.approx(0.12 + 0.28 * mean_bump)  # 2016..2019
    assert r["after_mean"] == pytest.approx(0.12 + 0.58 * mean_bump)  # 2021..2025, 2020 left out
    assert r["peak_baseline"] == pytest.approx(0.40) and r["peak_after"] == pytest.approx(0.70)
    assert r["peak_max"] == pytest.approx(0.70)
    assert r["verdict"] == "improving"


def test_known_trend_recovered_with_noise():
    s = monthly(lambda y: 0.45 + 0.04 * (y - 2016), noise_sd=0.02, seed=1)
    r = parcel_trend(s, 2019, index="NDVI")
    assert r["slope_per_year"] == pytest.approx(0.04, abs=0.01)
    assert r["slope_low"] < 0.04 < r["slope_high"]
    assert r["p_value"] < 0.001 and r["tau"] > 0.8
    assert r["verdict"] == "improving"
    assert "p < 0.05" in r["verdict_rule"] and ">= +0.05" in r["verdict_rule"]


def test_ols_method_gives_the_same_slope():
    s = monthly(lambda y: 0.45 + 0.04 * (y - 2016), noise_sd=0.02, seed=1)
    r = parcel_trend(s, 2019, index="NDVI", method="ols")
    assert r["slope_per_year"] == pytest.approx(0.04, abs=0.01) and r["p_value"] < 0.001
    assert "OLS t-test p < 0.05" in r["verdict_rule"]


def test_power_and_false_alarm_rate_over_seeds():
    up = pd.DataFrame({seed: monthly(lambda y: 0.45 + 0.03 * (y - 2016), 0.03, seed) for seed in range(20)}).T
    level = pd.DataFrame({seed: monthly(lambda y: 0.60, 0.03, seed) for seed in range(40)}).T
    trend = assess(up, 2020)["verdict"].tolist()
    flat = assess(level, 2020)["verdict"].tolist()
    assert trend.count("improving") >= 19
    assert flat.count("no_clear_change") >= 36  # alpha 0.05: expect ~2 false alarms in 40
    assert "worsening" not in trend


def test_worsening_ndvi():
    s = monthly(lambda y: 0.75 - 0.04 * (y - 2016), noise_sd=0.02, seed=3)
    assert parcel_trend(s, 2020, index="ndvi")["verdict"] == "worsening"


def test_salinity_index_improves_downwards():
    falling = monthly(lambda y: 0.40 - 0.02 * (y - 2016), noise_sd=0.01, seed=4)
    rising = monthly(lambda y: 0.20 + 0.02 * (y - 2016), noise_sd=0.01, seed=4)
    r = parcel_trend(falling, 2020, index="SI1")
    assert r["verdict"] == "improving" and r["slope_per_year"] < 0
    assert r["verdict_rule"].startswith("SI1 (si1_douaoui2006, lower is better)")
    assert parcel_trend(rising, 2020, index="SI1")["verdict"] == "worsening"
    # the registry direction can be overridden explicitly
    assert parcel_trend(rising, 2020, index="SI1", direction="up")["verdict"] == "improving"


def test_significant_but_too_small_change_is_no_clear_change():
    s = monthly(lambda y: 0.50 + 0.004 * (y - 2016))  # noise-free, tiny trend: after - baseline ≈ 0.017
    r = parcel_trend(s, 2020, index="NDVI")
    assert r["p_value"] < 0.05 and r["verdict"] == "no_clear_change"
    assert parcel_trend(s, 2020, index="NDVI", min_change=0.01)["verdict"] == "improving"


def test_annual_composites_use_observations_and_few_points_are_insufficient():
    s = pd.Series([0.3, 0.35, 0.42, 0.5, 0.55], index=pd.to_datetime([f"{y}-07-15" for y in range(2019, 2024)]))
    r = parcel_trend(s, 2020)
    assert r["trend_basis"] == "observations" and r["verdict"] == "improving"
    assert r["slope_per_year"] == pytest.approx(0.0625, abs=0.01)
    short = parcel_trend(s.iloc[:3], 2020)
    assert short["verdict"] == "insufficient_data" and np.isnan(short["p_value"])


def test_cloudy_dates_nan_are_skipped_and_no_project_year():
    s = monthly(lambda y: 0.45 + 0.04 * (y - 2016), noise_sd=0.02, seed=1)
    s.iloc[::5] = np.nan
    r = parcel_trend(s, None)
    assert r["n_obs"] == 56 and np.isnan(r["baseline_mean"]) and r["verdict"] == "improving"


def test_assess_table_with_per_parcel_years():
    a = monthly(lambda y: 0.45 + 0.04 * (y - 2016), 0.02, 1)
    b = monthly(lambda y: 0.60, 0.02, 2)
    table = pd.DataFrame({"P1": a, "P2": b}).T
    table.columns = [d.strftime("%Y-%m-%d") for d in table.columns]  # dates as strings work too
    out = assess(table, {"P1": 2019, "P2": 2021}, index="NDVI")
    assert list(out.index) == ["P1", "P2"]
    assert out["verdict"].tolist() == ["improving", "no_clear_change"]
    assert out.loc["P2", "baseline_mean"] == pytest.approx(b[(b.index.year < 2021) & b.index.month.isin(range(5, 10))].mean())


def test_seasonal_peak_is_max_of_monthly_means():
    s = pd.Series([0.5, 0.7, 0.3, 0.9], index=pd.to_datetime(["2021-07-01", "2021-07-16", "2021-08-01", "2021-10-02"]))
    assert seasonal_peaks(s).to_dict() == {2021: pytest.approx(0.6)}


def test_chart_data_is_json_ready():
    s = monthly(lambda y: 0.45 + 0.04 * (y - 2016), 0.02, 1)
    r = parcel_trend(s, 2019)
    c = chart_data(s, r)
    json.dumps(c)
    assert len(c["dates"]) == 70 and c["dates"][0] == "2016-04-01"
    assert c["verdict"] == "improving" and c["fit"][0][0] == 2016.0 and c["fit"][1][0] == 2025.0
    assert c["fit"][1][1] - c["fit"][0][1] == pytest.approx(9 * r["slope_per_year"], abs=1e-3)


def test_bad_settings():
    s = monthly(lambda y: 0.5)
    with pytest.raises(ConfigError, match=r"unknown spectral index 'NDWI'; known indices:"):
        parcel_trend(s, 2020, index="NDWI")
    with pytest.raises(ConfigError, match=r"trend method must be 'theil_sen' or 'ols', got 'mk'"):
        parcel_trend(s, 2020, method="mk")
    with pytest.raises(ConfigError, match=r"season must be \(first month, last month\) within 1\.\.12, got \(9, 5\)"):
        parcel_trend(s, 2020, season=(9, 5))
    with pytest.raises(InputError, match=r"the columns of the index table must be dates"):
        assess(pd.DataFrame({"a": [1.0], "b": [2.0]}), 2020)


def test_no_observation_after_the_project_year_is_insufficient():
    s = monthly(lambda y: 0.45 + 0.04 * (y - 2016), noise_sd=0.02, seed=1)
    r = parcel_trend(s, 2025, index="NDVI")  # built in the last year of the series
    assert np.isnan(r["after_mean"]) and r["p_value"] < 0.05
    assert r["verdict"] == "insufficient_data"


def test_vectorised_trend_equals_scipy_row_by_row():
    from scipy import stats

    from gis.trend import _kendall, _ols, _theil_sen

    rng = np.random.default_rng(5)
    x = np.arange(2015, 2025, dtype=float)
    y = rng.normal(0, 1, (30, 10)) + rng.normal(0, 0.3, (30, 1)) * x[None, :]
    y[rng.random(y.shape) < 0.15] = np.nan
    y[3, :] = np.round(y[3, :], 0)  # ties
    slope, icpt, lo, hi = _theil_sen(x, y)
    tau, p = _kendall(x, y)
    o_slope, o_icpt, o_lo, o_hi, o_p = _ols(x, y)
    for r in range(len(y)):
        ok = ~np.isnan(y[r])
        ts = stats.theilslopes(y[r, ok], x[ok])
        assert (slope[r], icpt[r], lo[r], hi[r]) == pytest.approx((ts.slope, ts.intercept, ts.low_slope, ts.high_slope))
        kt = stats.kendalltau(x[ok], y[r, ok])
        assert (tau[r], p[r]) == pytest.approx((kt.statistic, kt.pvalue))
        lr = stats.linregress(x[ok], y[r, ok])
        assert (o_slope[r], o_icpt[r], o_p[r]) == pytest.approx((lr.slope, lr.intercept, lr.pvalue))
