"""GCJ-02 forward/inverse against the public reference implementation prcoords."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import prcoords
import pyproj
import pytest
from shapely import LineString, MultiPolygon, Point, Polygon, box, get_coordinates

from gis.errors import CRSError
from gis.gcj02 import from_gcj02, gcj02_to_wgs84, in_china, to_gcj02, wgs84_to_gcj02

GEOD = pyproj.Geod(ellps="GRS80")
N = 3000


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(20241)
    return rng.uniform(121.5, 124.5, N), rng.uniform(44.0, 46.5, N)


def test_forward_equals_prcoords(points):
    lon, lat = points
    glon, glat = wgs84_to_gcj02(lon, lat)
    ref = np.array([prcoords.wgs_gcj((b, a)) for a, b in zip(lon, lat, strict=True)])  # (lat, lon)
    np.testing.assert_allclose(glat, ref[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(glon, ref[:, 1], rtol=0, atol=1e-9)
    # the offset is 500-570 m in Baicheng (DOMAIN.md §7); this box is a bit larger
    _, _, dist = GEOD.inv(lon, lat, glon, glat)
    assert dist.min() > 450 and dist.max() < 600


def test_inverse_round_trip_within_1cm_and_agrees_with_prcoords_exact(points):
    lon, lat = points
    glon, glat = wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    _, _, err = GEOD.inv(lon, lat, wlon, wlat)
    assert err.max() < 0.001  # far under the required 1 cm
    ref = np.array([prcoords.gcj_wgs_bored((b, a)) for a, b in zip(glon, glat, strict=True)])
    _, _, diff = GEOD.inv(wlon, wlat, ref[:, 1], ref[:, 0])
    assert diff.max() < 0.01
    # the 1-step inverse is much worse (≈ 1 m): make sure we are not doing that
    rough = np.array([prcoords.gcj_wgs((b, a)) for a, b in zip(glon[:200], glat[:200], strict=True)])
    _, _, rough_err = GEOD.inv(lon[:200], lat[:200], rough[:, 1], rough[:, 0])
    assert rough_err.max() > 0.3


def test_outside_china_unchanged():
    lon = np.array([2.35, -74.0, 139.7, 100.0])
    lat = np.array([48.85, 40.7, 35.7, 60.0])
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84):
        out = fn(lon, lat)
        np.testing.assert_array_equal(out[0], lon)
        np.testing.assert_array_equal(out[1], lat)
    assert in_china(lon, lat).tolist() == [False] * 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert prcoords.wgs_gcj((48.85, 2.35)) == (48.85, 2.35)


def test_scalars_and_shapes():
    lon, lat = wgs84_to_gcj02(122.84, 45.62)
    assert lon.shape == () and lat.shape == ()
    lon, lat = wgs84_to_gcj02(np.full((2, 3), 122.0), 45.0)
    assert lon.shape == (2, 3)


def test_geometry_helpers_round_trip_polygon_with_hole_and_z():
    poly = Polygon(box(122.0, 45.0, 122.2, 45.2).exterior.coords,
                   [box(122.05, 45.05, 122.1, 45.1).exterior.coords])
    g = to_gcj02(poly)
    assert g.geom_type == "Polygon" and len(g.interiors) == 1
    shift = get_coordinates(g) - get_coordinates(poly)
    assert np.all(shift[:, 0] > 0.005) and np.all(shift[:, 1] > 0.0015)
    back = from_gcj02(g)
    np.testing.assert_allclose(get_coordinates(back), get_coordinates(poly), atol=1e-9)
    p3 = from_gcj02(Point(122.5, 45.5, 150.0))
    assert p3.has_z and p3.z == 150.0
    mp = to_gcj02(MultiPolygon([box(122, 45, 122.1, 45.1), box(123, 45, 123.1, 45.1)]))
    assert mp.geom_type == "MultiPolygon" and len(mp.geoms) == 2


def test_geodataframe_and_series_keep_crs_index_and_columns():
    gdf = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[Point(122.84, 45.62), LineString([(122, 45), (123, 46)])],
        crs="EPSG:4490", index=[10, 20],
    )
    out = to_gcj02(gdf)
    assert out is not gdf and list(out.index) == [10, 20] and out.crs == gdf.crs
    assert list(out["name"]) == ["a", "b"]
    assert out.geometry.iloc[0].x == pytest.approx(122.8458695328115, abs=1e-12)
    assert gdf.geometry.iloc[0].x == 122.84  # input untouched
    s = from_gcj02(out.geometry)
    assert isinstance(s, gpd.GeoSeries) and s.crs == gdf.crs
    np.testing.assert_allclose(get_coordinates(s.values), get_coordinates(gdf.geometry.values), atol=1e-9)
    arr = to_gcj02(np.array([Point(122.84, 45.62)], dtype=object))
    assert arr[0].equals_exact(out.geometry.iloc[0], 1e-12)


def test_projected_crs_is_refused():
    gdf = gpd.GeoDataFrame(geometry=[Point(500_000, 5_000_000)], crs="EPSG:4550")
    with pytest.raises(CRSError, match=r"needs lon/lat coordinates .* reproject it first"):
        to_gcj02(gdf)
