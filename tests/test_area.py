"""Ellipsoidal area on CGCS2000 / GRS80: known areas, pyproj equality, holes, errors."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from shapely import MultiPolygon, Point, Polygon, box

from gis.area import area_m2, area_mu
from gis.errors import CRSError, MissingCRSError

GEOD = pyproj.Geod(ellps="GRS80")
NORTHING = 5_050_000.0  # ≈ 45.6°N, Baicheng


def _square(easting: float, size: float = 1000.0) -> Polygon:
    return box(easting - size / 2, NORTHING, easting + size / 2, NORTHING + size)


def test_1km_square_near_cm_is_1500_mu():
    mu = area_mu(_square(500_000.0), crs="EPSG:4550")
    assert mu == pytest.approx(1500.0, rel=1e-4)
    assert area_m2(_square(500_000.0), crs="EPSG:4550") == pytest.approx(1e6, rel=1e-7)


def test_square_150km_from_cm_shows_gk_scale_factor():
    planar = 1e6
    ell = float(area_m2(_square(650_000.0), crs="EPSG:4550"))
    ratio = planar / ell  # = mean areal scale k² over the square
    # expected from the Gauss-Krüger scale factor k = 1 + y²/(2R²) + y⁴/(24R⁴), R = √(MN)
    lon, lat = pyproj.Transformer.from_crs("EPSG:4550", "EPSG:4490", always_xy=True).transform(
        650_000.0, NORTHING + 500)
    a, f = 6378137.0, 1 / 298.257222101
    e2 = f * (2 - f)
    s2 = math.sin(math.radians(lat)) ** 2
    R = math.sqrt(a * (1 - e2) / (1 - e2 * s2) ** 1.5 * a / math.sqrt(1 - e2 * s2))
    y = 150_000.0
    k = 1 + y**2 / (2 * R**2) + y**4 / (24 * R**4)
    assert (ratio - 1) * 1e6 == pytest.approx((k**2 - 1) * 1e6, abs=0.5)  # ppm
    # linear scale k - 1 ≈ +277 ppm at 150 km, so the planar area is ≈ +553 ppm too large
    assert 276 < (k - 1) * 1e6 < 278
    assert 550 < (ratio - 1) * 1e6 < 556
    # and PROJ's own areal scale at the centre agrees to 0.01 ppm
    factors = pyproj.Proj("EPSG:4550").get_factors(lon, lat)
    assert ratio == pytest.approx(factors.areal_scale, rel=1e-8)


def _random_rings(rng, n: int, vertices: tuple[int, int], radius) -> list:
    """``n`` star-shaped lon/lat rings around Baicheng, counter-clockwise; ``radius(rng, k)``
    gives the k vertices' distances from the centre (degrees)."""
    geoms = []
    for _ in range(n):
        cx, cy = rng.uniform(121.7, 124.2), rng.uniform(44.3, 46.2)
        ang = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(*vertices)))
        r = radius(rng, ang.size)
        geoms.append(shapely.orient_polygons(Polygon(np.c_[cx + r * np.cos(ang), cy + r * np.sin(ang)])))
    return geoms


def test_equals_pyproj_geod_to_1e9():
    rng = np.random.default_rng(7)
    geoms = _random_rings(rng, 200, (3, 30), lambda rng, k: rng.uniform(0.001, 0.05, k))
    s = gpd.GeoSeries(geoms, crs="EPSG:4490")
    ours = area_m2(s)
    ref = np.array([GEOD.geometry_area_perimeter(g)[0] for g in geoms])
    np.testing.assert_allclose(ours, ref, rtol=1e-9)
    # a GeoDataFrame in another CRS gives the same (to transform round-off)
    gdf = gpd.GeoDataFrame({"v": range(len(s))}, geometry=s.to_crs("EPSG:4529"))
    np.testing.assert_allclose(area_m2(gdf), ref, rtol=1e-7)


def test_orientation_does_not_matter_and_holes_subtract():
    outer = box(122.0, 45.0, 122.1, 45.1)
    hole = box(122.02, 45.02, 122.05, 45.05)
    a_outer = GEOD.geometry_area_perimeter(shapely.orient_polygons(outer))[0]
    a_hole = GEOD.geometry_area_perimeter(shapely.orient_polygons(hole))[0]
    cw = Polygon(list(outer.exterior.coords)[::-1], [hole.exterior.coords])  # clockwise shell
    for p in (Polygon(outer.exterior.coords, [hole.exterior.coords]), cw):
        assert area_m2(p, crs="EPSG:4490") == pytest.approx(a_outer - a_hole, rel=1e-12)


def test_multipolygon_collection_and_odd_geometries():
    a = box(122.0, 45.0, 122.1, 45.1)
    b = box(123.0, 46.0, 123.05, 46.05)
    ref = GEOD.geometry_area_perimeter(shapely.orient_polygons(a))[0] + \
        GEOD.geometry_area_perimeter(shapely.orient_polygons(b))[0]
    gc = shapely.GeometryCollection([MultiPolygon([a]), b, Point(122, 45)])
    out = area_m2([MultiPolygon([a, b]), gc, Point(1, 1), None, Polygon()], crs="EPSG:4490")
    assert out[0] == pytest.approx(ref, rel=1e-12) and out[1] == pytest.approx(ref, rel=1e-12)
    assert out[2] == 0 and np.isnan(out[3]) and out[4] == 0


def test_mu_is_m2_times_0_0015():
    s = gpd.GeoSeries([_square(500_000.0, 100.0), _square(510_000.0, 30.0)], crs="EPSG:4550")
    np.testing.assert_allclose(area_mu(s), area_m2(s) * 0.0015, rtol=1e-15)


def test_no_crs_raises():
    with pytest.raises(MissingCRSError, match=r"has no CRS.*set_crs\('EPSG:4490'\)"):
        area_m2(gpd.GeoSeries([box(0, 0, 1, 1)]))
    with pytest.raises(MissingCRSError, match="has no CRS"):
        area_mu(box(0, 0, 1, 1))


def test_conflicting_crs_raises():
    s = gpd.GeoSeries([box(122, 45, 122.1, 45.1)], crs="EPSG:4490")
    with pytest.raises(CRSError, match=r"the data is in EPSG:4490 but crs=EPSG:4550"):
        area_m2(s, crs="EPSG:4550")


def test_degrees_claimed_for_metres_raise():
    with pytest.raises(CRSError, match="not degrees"):
        area_m2(_square(500_000.0), crs="EPSG:4490")


def test_real_counties_equal_pyproj_in_any_crs():
    import layers

    counties = layers.load("counties", workspace=False)
    ref = np.array([GEOD.geometry_area_perimeter(shapely.orient_polygons(g))[0] for g in counties.geometry])
    np.testing.assert_allclose(area_m2(counties), ref, rtol=1e-9)
    # the same polygons in GK zone 41 with prefix give the same area (to reprojection round-off)
    np.testing.assert_allclose(area_m2(counties.to_crs("EPSG:4529")), ref, rtol=1e-8)


# A 0.6 ha parcel (counter-clockwise, lon/lat on CGCS2000). Its area, 5944.449602510156 m², was
# evaluated with 40 significant digits (mpmath) on the authalic sphere plus the geodesic term;
# pyproj's double-precision Karney sum is 5.5e-9 away from it.
PARCEL_06HA = [(121.849744888738, 44.38135035087692), (121.8495008999578, 44.38122940413092),
               (121.84924859064583, 44.3809731229552), (121.84932402306492, 44.380929254536746),
               (121.84942716294219, 44.38081544795141), (121.84950094222101, 44.38080419586265),
               (121.8497513953996, 44.38030865863539), (121.85023686025409, 44.37996516411749),
               (121.85049671899182, 44.379975046327864)]
PARCEL_06HA_M2 = 5944.449602510156


def test_small_parcel_against_a_40_digit_reference():
    p = Polygon(PARCEL_06HA)
    ours = float(area_m2(p, crs="EPSG:4490"))
    assert ours == pytest.approx(PARCEL_06HA_M2, rel=1e-10)
    assert abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(p))[0]) == pytest.approx(ours, rel=1e-8)


def test_parcel_sized_rings_equal_pyproj():
    """Parcels of 0.5–50 ha (the vectorised path): pyproj's own rounding is ~1e-9 at this size."""
    rng = np.random.default_rng(11)
    geoms = _random_rings(rng, 300, (4, 40), lambda rng, k: rng.uniform(0.0005, 0.004) * rng.uniform(0.7, 1.0, k))
    ok = shapely.is_valid(geoms)  # random rings can cross themselves; pyproj's sign is then arbitrary
    geoms = np.array(geoms, dtype=object)[ok]
    ref = np.array([GEOD.geometry_area_perimeter(g)[0] for g in geoms])
    ours = area_m2(gpd.GeoSeries(geoms, crs="EPSG:4490"))
    big, small = ref > 1e5, (ref > 5e3) & (ref <= 1e5)  # ≥ 10 ha; 0.5–10 ha
    assert big.sum() > 50 and small.sum() > 50
    np.testing.assert_allclose(ours[big], ref[big], rtol=1e-9)
    np.testing.assert_allclose(ours[small], ref[small], rtol=2e-8)


def test_steps_of_polygons_do_not_change_the_result(monkeypatch):
    import gis.area

    s = gpd.GeoSeries([_square(500_000.0 + 2000 * i, 300.0 + i) for i in range(20)], crs="EPSG:4550")
    whole = area_m2(s)
    monkeypatch.setattr(gis.area, "_CHUNK_POLYS", 7)  # 3 steps, the last one short
    np.testing.assert_array_equal(area_m2(s), whole)
