"""Sensor presets, reflectance scaling (Sentinel-2 offset!) and severity classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gis.errors import ConfigError, InputError
from gis.salinity import (
    class_area_mu,
    classify,
    classify_table,
    list_schemes,
    load_scheme,
    reflectance,
    s2_boa_offset,
    scale_landsat,
    scale_sentinel2,
    sensor_bands,
    sensor_index,
)

# --- Sentinel-2 offset ---------------------------------------------------------------


@pytest.mark.parametrize(
    "baseline, expected",
    [("04.00", -1000.0), ("N0400", -1000.0), ("05.10", -1000.0), (4.0, -1000.0), ("03.01", 0.0),
     ("N0213", 0.0), ("S2A_MSIL2A_20220301T024651_N0400_R132_T51TWM_20220301T063411", -1000.0)],
)
def test_s2_offset_from_baseline(baseline, expected):
    assert s2_boa_offset(baseline) == expected


def test_s2_offset_from_date_switches_on_2022_01_25():
    assert s2_boa_offset(date="2022-01-24") == 0.0
    assert s2_boa_offset(date="2022-01-25") == -1000.0
    assert s2_boa_offset(date=np.datetime64("2023-07-01")) == -1000.0


def test_s2_baseline_wins_over_date_for_reprocessed_archives():
    # a 2019 scene reprocessed with baseline 05.00 carries the offset
    assert s2_boa_offset("05.00", date="2019-07-01") == -1000.0


def test_s2_scaling_without_baseline_or_date_is_an_error():
    with pytest.raises(ConfigError, match=r"Sentinel-2 L2A scaling needs the processing baseline \(e\.g\. '04\.00'"):
        scale_sentinel2(np.array([1000]))
    with pytest.raises(ConfigError, match=r"cannot read the Sentinel-2 processing baseline 'v4'"):
        s2_boa_offset("v4")


def test_s2_scaling_values_and_nodata():
    dn = np.array([0, 1000, 3000], dtype="uint16")
    np.testing.assert_allclose(scale_sentinel2(dn, baseline="04.00"), [np.nan, 0.0, 0.2])
    np.testing.assert_allclose(scale_sentinel2(dn, date="2021-08-01"), [np.nan, 0.1, 0.3])
    np.testing.assert_allclose(scale_sentinel2(dn, offset=-1000, date="2021-08-01"), [np.nan, 0.0, 0.2])
    da = xr.DataArray(dn, dims="x")
    out = scale_sentinel2(da, baseline="04.00")
    assert isinstance(out, xr.DataArray) and np.isnan(out.values[0]) and out.values[2] == pytest.approx(0.2)


def test_ignoring_the_offset_biases_ndvi():
    # true reflectance R = 0.05, NIR = 0.25 -> NDVI 0.6667; stored DN with the +1000 offset
    bands = {"B04": np.array([1500]), "B08": np.array([3500])}
    assert sensor_index("NDVI", bands, "sentinel2", baseline="04.00")[0] == pytest.approx(0.2 / 0.3)
    assert sensor_index("NDVI", bands, "sentinel2", baseline="03.01")[0] == pytest.approx(2000 / 5000)


def test_s2_narrow_nir_band():
    bands = {"B4": np.array([2000]), "B8": np.array([4000]), "B8A": np.array([5000])}
    assert sensor_index("NDVI", bands, "s2", baseline="04.00", nir="B8A")[0] == pytest.approx(0.3 / 0.5)
    with pytest.raises(ConfigError, match=r"nir='B5' is only for Sentinel-2 and must be 'B8' or 'B8A'"):
        sensor_bands(bands, "s2", nir="B5")


# --- Landsat -------------------------------------------------------------------------


def test_landsat_scaling():
    np.testing.assert_allclose(scale_landsat(np.array([0, 7273, 10909.0909])), [np.nan, 0.0000075, 0.1], atol=1e-6)


def test_landsat_band_mapping_l89_vs_l57():
    # reflectance R = 0.1 (DN 10909.09), NIR = 0.3 (DN 18181.82)
    r_dn, nir_dn = (0.1 + 0.2) / 2.75e-5, (0.3 + 0.2) / 2.75e-5
    l9 = {"SR_B4": np.array([r_dn]), "SR_B5": np.array([nir_dn])}
    l5 = {"SR_B3": np.array([r_dn]), "SR_B4": np.array([nir_dn])}
    assert sensor_index("NDVI", l9, "landsat9")[0] == pytest.approx(0.5)
    assert sensor_index("NDVI", l5, "landsat5")[0] == pytest.approx(0.5)
    # the L8/9 mapping on L5 bands reads the wrong band and says so
    with pytest.raises(InputError, match=r"landsat89: band B5 \(NIR\) is missing; given bands: SR_B3, SR_B4"):
        sensor_index("NDVI", l5, "landsat8")


def test_reflectance_returns_only_given_bands_by_default():
    r = reflectance({"B2": np.array([8000]), "B3": np.array([9000])}, "landsat89")
    assert sorted(r) == ["B", "G"]


def test_unknown_sensor():
    with pytest.raises(ConfigError, match=r"unknown sensor 'modis'; use one of: sentinel2"):
        sensor_bands({}, "modis")


def test_missing_band_for_index():
    with pytest.raises(InputError, match=r"sentinel2: band B2 \(B\) is missing; given bands: B04, B08"):
        sensor_index("SI", {"B04": np.array([1]), "B08": np.array([2])}, "s2", baseline="04.00")


# --- schemes and classes ---------------------------------------------------------------


def test_bundled_schemes_load_with_sources():
    assert set(list_schemes()) >= {"ec_aafc", "ph_songnen", "esp_cn", "salt_cn", "salt_soda_wang1993"}
    for sid in list_schemes():
        s = load_scheme(sid)
        assert s.source and len(s.codes) == len(s.bounds) + 1


@pytest.mark.parametrize(
    "scheme, values, expected",
    [
        # right-closed (lo, hi]: the bound belongs to the lower class
        ("ec_aafc", [0, 2.0, 2.0001, 4.0, 4.01, 8, 16, 16.5], [0, 0, 1, 1, 2, 2, 3, 4]),
        ("ph_songnen", [8.5, 8.51, 9.0, 9.5, 9.51], [0, 1, 1, 2, 3]),
        # left-closed [lo, hi): the bound belongs to the upper class
        ("esp_cn", [4.99, 5, 10, 14.9, 15, 30], [0, 1, 2, 2, 3, 4]),
        ("salt_cn", [0.5, 1, 2.9, 3, 6, 7], [0, 1, 1, 2, 3, 3]),
        ("salt_soda_wang1993", [0.9, 1, 3, 5, 7], [0, 1, 2, 3, 4]),
    ],
)
def test_class_bounds_inclusive_as_documented(scheme, values, expected):
    assert classify(np.array(values), scheme).tolist() == expected


def test_describe_states_the_inclusive_bound():
    assert load_scheme("ec_aafc").describe() == ["≤ 2 dS/m", "(2, 4] dS/m", "(4, 8] dS/m", "(8, 16] dS/m", "> 16 dS/m"]
    assert load_scheme("esp_cn").describe()[0] == "< 5 %"
    assert load_scheme("esp_cn").describe()[-1] == "≥ 30 %"


def test_classify_raster_nan_is_nodata_class():
    da = xr.DataArray(np.array([[1.0, np.nan], [9.0, 20.0]]), dims=("y", "x"), coords={"y": [1, 0], "x": [0, 1]})
    out = classify(da, "ec_aafc")
    assert out.values.tolist() == [[0, -1], [3, 4]]
    assert out.dtype == np.int16 and out.attrs["scheme"] == "ec_aafc"
    assert out.attrs["classes"] == "non_saline,weak,moderate,strong,very_strong"


def test_classify_table_column():
    df = pd.DataFrame({"ph": [8.0, 9.2, None, 9.9]})
    out = classify_table(df, "ph", "ph_songnen")
    assert out["ph_class"].tolist() == ["none", "moderate", "nodata", "heavy"]
    assert out["ph_class_label"].tolist() == ["非碱化", "中度", "无数据", "重度"]
    with pytest.raises(InputError, match=r"column 'pH' not found; columns are: ph"):
        classify_table(df, "pH", "ph_songnen")
    with pytest.raises(InputError, match=r"ph: value 'x' at row 1 is not a number; ph must be numeric in pH"):
        classify(pd.Series([8.0, "x"], name="ph"), "ph_songnen")


def test_user_scheme_from_yaml(tmp_path):
    p = tmp_path / "my_ec.yml"
    p.write_text(
        "id: my_ec\nvariable: ec\nsource: county soil survey 2023 (EC1:5)\nclosed: left\n"
        "bounds: [0.4, 0.8]\nclasses:\n  - {code: ok, zh: 正常, en: ok}\n"
        "  - {code: mid, zh: 中, en: mid}\n  - {code: bad, zh: 重, en: bad}\n",
        encoding="utf-8",
    )
    assert classify(np.array([0.39, 0.4, 0.8]), p).tolist() == [0, 1, 2]


def test_thresholds_not_increasing_is_a_config_error(tmp_path):
    p = tmp_path / "bad.yml"
    p.write_text(
        "id: bad\nvariable: ph\nsource: test\nbounds: [8.5, 9.5, 9.0]\n"
        "classes: [{code: a}, {code: b}, {code: c}, {code: d}]\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=rf"{p}: thresholds must be strictly increasing, but 9 follows 9.5 in bounds \[8.5, 9.5, 9.0\]"):
        load_scheme(p)


def test_other_bad_schemes():
    base = {"id": "x", "variable": "ec", "source": "s", "bounds": [1, 2], "classes": [{"code": "a"}, {"code": "b"}]}
    with pytest.raises(ConfigError, match=r"scheme 'x': 2 bounds need 3 classes, got 2"):
        load_scheme(base)
    with pytest.raises(ConfigError, match=r"scheme 'x': variable 'sar' is not one of ec, ph, esp, salt"):
        load_scheme({**base, "variable": "sar"})
    with pytest.raises(ConfigError, match=r"scheme 'x': missing key\(s\) source"):
        load_scheme({k: v for k, v in base.items() if k != "source"})
    with pytest.raises(ConfigError, match=r"unknown salinity scheme 'ec_usda': not a bundled scheme \(ec_aafc, "):
        load_scheme("ec_usda")


def test_class_area_per_parcel_through_the_zonal_engine():
    import geopandas as gpd
    import rioxarray  # noqa: F401
    from shapely import box

    # 2 x 3 cells of 100 m on the central meridian (1 cell = 15 亩)
    ec = xr.DataArray([[1.0, 3.0, 9.0], [20.0, np.nan, 5.0]], dims=("y", "x"),
                      coords={"y": [5040050.0, 5039950.0], "x": [500050.0, 500150.0, 500250.0]}).rio.write_crs("EPSG:4550")
    parcels = gpd.GeoDataFrame(
        {"project_code": ["A", "B"]},
        geometry=[box(500000, 5039900, 500150, 5040100),  # col 0 full + half of col 1
                  box(500200, 5039900, 500300, 5040100)],  # col 2
        crs="EPSG:4550",
    ).to_crs("EPSG:4490").set_index("project_code")
    out = class_area_mu(parcels, ec, "ec_aafc")
    assert list(out.columns) == ["area_mu_non_saline", "area_mu_weak", "area_mu_moderate", "area_mu_strong",
                                 "area_mu_very_strong", "area_mu_classified"]
    a, b = out.loc["A"], out.loc["B"]
    assert a["area_mu_non_saline"] == pytest.approx(15.0, rel=1e-3)
    assert a["area_mu_weak"] == pytest.approx(7.5, rel=1e-3)  # half of the EC 3 cell
    assert a["area_mu_very_strong"] == pytest.approx(15.0, rel=1e-3)
    assert a["area_mu_classified"] == pytest.approx(37.5, rel=1e-3)  # the NaN half-cell is left out
    assert b["area_mu_strong"] == pytest.approx(15.0, rel=1e-3) and b["area_mu_moderate"] == pytest.approx(15.0, rel=1e-3)
    # a classified raster gives the same answer
    pd.testing.assert_frame_equal(class_area_mu(parcels, classify(ec, "ec_aafc"), "ec_aafc"), out)
