"""gis.quality: county shares, overlaps, slivers, area mismatches, straddles (known numbers)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely import box

from gis.area import area_mu
from gis.errors import MissingCRSError
from gis.quality import find_area_mismatches, find_overlaps, find_slivers, find_straddles, largest_share


@pytest.fixture(scope="module")
def zones():
    return gpd.GeoDataFrame({"county_code": ["W", "E"]},
                            geometry=[box(122.0, 45.0, 122.1, 45.1), box(122.1, 45.0, 122.2, 45.1)], crs="EPSG:4490")


def gdf(geoms, **cols):
    return gpd.GeoDataFrame({"project_code": [f"P{i}" for i in range(len(geoms))], **cols}, geometry=geoms,
                            crs="EPSG:4490")


def test_largest_share(zones):
    p = gdf([box(122.01, 45.01, 122.02, 45.02),     # inside W
             box(122.09, 45.01, 122.13, 45.02),     # 1/4 W, 3/4 E
             box(122.19, 45.01, 122.21, 45.02),     # half E, half outside
             box(123.0, 46.0, 123.01, 46.01),       # outside
             box(122.1, 45.05, 122.11, 45.06)])     # touches W along an edge only, inside E
    s = largest_share(p, zones)
    assert s["zone"].tolist() == ["W", "E", "E", None, "E"]
    assert s["share"].round(6).tolist() == [1.0, 0.75, 0.5, 0.0, 1.0]
    assert s["inside"].round(6).tolist() == [1.0, 1.0, 0.5, 0.0, 1.0]
    assert s["n_zones"].tolist() == [1, 2, 1, 0, 1]


def test_overlaps_within_and_across_categories():
    a = box(122.0, 45.0, 122.01, 45.01)
    p = gdf([a, box(122.005, 45.0, 122.015, 45.01), box(122.0, 45.0, 122.0025, 45.01), box(122.01, 45.0, 122.02, 45.01)],
            category=["paddy_new", "paddy_new", "high_standard_farmland", "paddy_new"])
    ov = find_overlaps(p).sort_values(["code_a", "code_b"])
    assert ov[["code_a", "code_b", "same_category"]].values.tolist() == [
        ["P0", "P1", True], ["P0", "P2", False], ["P1", "P3", True]]
    half = float(area_mu(box(122.005, 45.0, 122.01, 45.01), crs="EPSG:4490"))
    quarter = float(area_mu(box(122.0, 45.0, 122.0025, 45.01), crs="EPSG:4490"))
    assert ov["overlap_mu"].tolist() == pytest.approx([half, quarter, half], rel=1e-9)
    assert ov["share_a"].round(4).tolist() == [0.5, 0.25, 0.5] and ov["share_b"].round(4).tolist() == [0.5, 1.0, 0.5]
    # edge-touching P0/P3 are not an overlap (P0 ends where P3 starts)
    assert ["P0", "P3"] not in ov[["code_a", "code_b"]].values.tolist()


def test_slivers_and_mismatches():
    tiny = box(122.0, 45.0, 122.00025, 45.00025)  # ≈ 0.82 亩
    big = box(122.1, 45.0, 122.11, 45.01)
    big_mu = float(area_mu(big, crs="EPSG:4490"))
    p = gdf([tiny, big, big], declared_area_mu=[np.nan, big_mu * 1.06, big_mu * 0.96])
    sl = find_slivers(p)
    assert sl["project_code"].tolist() == ["P0"] and sl["area_mu"].iloc[0] == pytest.approx(0.8215, abs=1e-4)
    mm = find_area_mismatches(p)
    assert mm["project_code"].tolist() == ["P1"] and mm["difference_pct"].iloc[0] == pytest.approx(6.0)


def test_straddles(zones):
    p = gdf([box(122.01, 45.01, 122.02, 45.02), box(122.095, 45.01, 122.105, 45.02), box(122.199, 45.01, 122.201, 45.02)])
    st = find_straddles(p, zones)
    assert st["project_code"].tolist() == ["P1", "P2"]
    assert st["share"].round(3).tolist() == [0.5, 0.5]
    assert st["outside_share"].round(3).tolist() == [0.0, 0.5]


def test_vectorised_on_many_parcels(zones):
    """5,000 parcels, every other one overlapping its neighbour: found without a pairwise loop."""
    x = 122.0 + np.arange(5000) % 100 * 0.001
    y = 45.0 + np.arange(5000) // 100 * 0.001
    w = np.where(np.arange(5000) % 2 == 0, 0.0015, 0.0009)
    p = gdf(list(box(x, y, x + w, y + 0.0009)))
    ov = find_overlaps(p)
    assert len(ov) == 2500


def test_missing_crs():
    with pytest.raises(MissingCRSError, match="parcels have no CRS"):
        find_slivers(gpd.GeoDataFrame({"project_code": ["a"]}, geometry=[box(0, 0, 1, 1)]))
