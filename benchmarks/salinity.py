"""Benchmark: remediation trend/verdict and paddy suitability screening (issue 6).

Workloads (synthetic, generated in memory, deterministic):

* **trend**: 20,000 parcels × 72 monthly NDVI means (2019–2024) with noise and 10 % NaN
  (clouds); :func:`gis.trend.assess` (Theil–Sen + Kendall) and :func:`gis.trend.charts`,
  compared with the straightforward per-parcel loop over ``scipy.stats.theilslopes`` +
  ``kendalltau`` (run on 1,000 parcels and extrapolated);
* **suitability**: :func:`gis.suitability.screen` on a 2000 × 2000 grid of 100 m (about
  the size of a county at 100 m) with a DEM, pH and ESP rasters, 10 canal lines and a
  reserve polygon, 5 criteria, 2 exclusions.

Times are wall-clock on this machine (shared, 2 cores); compare ratios within one run.

Usage::

    python benchmarks/salinity.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "salinity.md"


def trend_workload(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2019-01-15", periods=72, freq="MS") + pd.Timedelta(days=14)
    season = np.array([0, 0, .02, .08, .25, .6, .95, 1, .7, .25, .05, 0])[dates.month - 1]
    peak = 0.3 + rng.random((n, 1)) * 0.4 + rng.normal(0, 0.02, (n, 1)) * (dates.year.to_numpy() - 2019)
    v = 0.05 + (peak - 0.05) * season + rng.normal(0, 0.02, (n, 72))
    v[rng.random(v.shape) < 0.1] = np.nan
    years = pd.Series(rng.integers(2020, 2025, n), index=[f"P{i}" for i in range(n)])
    return pd.DataFrame(v, index=years.index, columns=dates), years


def bench_trend():
    from scipy import stats

    from gis.trend import _peaks, assess, charts

    table, years = trend_workload()
    t = time.perf_counter()
    res = assess(table, years)
    t_assess = time.perf_counter() - t
    t = time.perf_counter()
    charts(table, res)
    t_charts = time.perf_counter() - t
    # the loop a notebook would write, on 1,000 parcels
    sub = table.iloc[:1000]
    t = time.perf_counter()
    yrs, peaks = _peaks(sub.to_numpy(), pd.DatetimeIndex(sub.columns), (5, 9))
    for row in peaks:
        ok = ~np.isnan(row)
        stats.theilslopes(row[ok], yrs[ok])
        stats.kendalltau(yrs[ok], row[ok])
    t_loop = (time.perf_counter() - t) * len(table) / len(sub)
    return [("trend: assess, 20k parcels × 72 months", t_assess),
            ("trend: chart data, 20k parcels", t_charts),
            ("trend: per-parcel scipy loop (peaks given), extrapolated to 20k", t_loop)]


def bench_suitability():
    import geopandas as gpd
    import rioxarray  # noqa: F401
    import xarray as xr
    from shapely import LineString, box

    from gis.suitability import screen
    from workflows.suitability import load_config

    n, res, x0, y0 = 2000, 100.0, 400_000.0, 5_100_000.0
    rng = np.random.default_rng(1)
    from scipy.ndimage import gaussian_filter

    def field(scale, mean, sd):
        f = gaussian_filter(rng.standard_normal((n, n)), scale)
        return mean + sd * f / f.std()

    coords = {"y": y0 - res * (np.arange(n) + 0.5), "x": x0 + res * (np.arange(n) + 0.5)}

    def da(a):
        return xr.DataArray(a.astype("float32"), dims=("y", "x"), coords=coords).rio.write_crs("EPSG:4550")

    rasters = {"dem": da(field(20, 140, 3)), "soil_ph": da(field(15, 8.9, 0.4)), "soil_esp": da(field(15, 12, 6)),
               "landcover": da(np.where(rng.random((n, n)) < 0.02, 6, 1))}
    lines = [LineString([(x0 + rng.random() * n * res, y0), (x0 + rng.random() * n * res, y0 - n * res)]) for _ in range(10)]
    vectors = {"canals": gpd.GeoDataFrame(geometry=lines, crs="EPSG:4550"),
               "rivers": gpd.GeoDataFrame(geometry=lines[:1], crs="EPSG:4550"),
               "protected_areas": gpd.GeoDataFrame(geometry=[box(x0, y0 - 50_000, x0 + 40_000, y0 - 10_000)], crs="EPSG:4550")}
    cfg = load_config()
    t = time.perf_counter()
    out = screen(rasters, vectors, cfg)
    dt = time.perf_counter() - t
    return [(f"suitability: screen 2000² cells (100 m), {len(out.candidates)} candidates", dt)]


def main():
    rows = bench_trend() + bench_suitability()
    md = ["| job | seconds |", "|---|---:|"] + [f"| {name} | {t:.2f} |" for name, t in rows]
    text = "# gis.trend and gis.suitability\n\n" + "\n".join(md) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
