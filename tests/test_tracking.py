"""gis.tracking on a hand-built registry whose answers are worked out by hand.

Geometry is built as exact rectangles in EPSG:4550 (Gauss-Krüger, CM 123°E, scale factor
1 on the meridian) and stored as EPSG:4490 like the registry. Every vertex lies within
3.2 km of the central meridian, where the point scale factor is 1 + d²/2R² ≤ 1 + 1.3e-7,
so the ellipsoidal area differs from the planar rectangle arithmetic below by < 3e-7
relatively (< 0.002 亩 on the largest total, 3825 亩); geodesic versus straight edges add
< 0.05 ppm. Hand numbers are therefore good to well under the 0.01 亩 asserted.

Map of the fixture (offsets in metres from x0 = 497 000, y0 = 5 050 000)::

      y 6000 +-----------------+-----------------+
             |  镇赉 220821      |  洮北 220802     |  demo bases D1–D4 at y 4200–5600
             |  reserve R       |                 |
      y 3000 +---- P3 ----------+                 |
             |  大安 220882      |   P7   H2       | P9 crosses x = 6000 (city edge)
      y    0 +-----------------+-----------------+
           x 0               3000              6000
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
import pytest
from shapely import box

from gis.errors import ConfigError, InputError, MissingCRSError
from gis.targets import parse_targets
from gis.tracking import OUTSIDE_CITY, progress

X0, Y0 = 497_000, 5_050_000
DA, ZL, TB = "220882", "220821", "220802"
MU = 0.0015  # 亩 per m²


def rect(x1, y1, x2, y2):
    return box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)


def gdf(rows, geoms):
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4550").to_crs("EPSG:4490")


@pytest.fixture(scope="module")
def counties():
    return gdf(
        {"county_code": [DA, ZL, TB], "name_zh": ["大安市", "镇赉县", "洮北区"]},
        [rect(0, 0, 3000, 3000), rect(0, 3000, 3000, 6000), rect(3000, 0, 6000, 6000)],
    )


@pytest.fixture(scope="module")
def reserve():
    return gdf({"name_zh": ["莫莫格(测试)"]}, [rect(500, 4500, 1500, 5500)])


PARCELS = [
    # code, category, year, status, declared, geometry
    ("P1", "paddy_new", 2024, "accepted", 1500, rect(100, 100, 1100, 1100)),  # 1500 亩
    ("P2", "paddy_new", 2024, "completed", None, rect(600, 100, 1600, 1100)),  # overlaps P1 by 750
    ("P3", "paddy_new", 2024, "completed", 1300, rect(2000, 2500, 2800, 3500)),  # 600 大安 + 600 镇赉
    ("P4", "paddy_new", 2024, "under_construction", None, rect(1000, 100, 2000, 1100)),  # adds 600
    ("P5", "paddy_new", 2024, "planned", None, rect(100, 1500, 600, 2000)),  # 375
    ("P6", "paddy_new", 2024, "approved", None, rect(100, 1500, 600, 2000)),  # = P5
    ("P7", "paddy_new", 2024, "completed", None, rect(3500, 500, 4000, 1000)),  # 375 洮北, out of scope
    ("P8", "paddy_new", 2024, "completed", None, rect(700, 4700, 1200, 5200)),  # 375 镇赉, in reserve
    ("P9", "paddy_new", 2024, "completed", None, rect(5800, 1000, 6200, 1500)),  # 150 洮北 + 150 outside
    ("P10", "paddy_new", 2023, "completed", None, rect(100, 2200, 500, 2400)),  # 120, other year
    ("H1", "high_standard_farmland", 2024, "completed", None, rect(100, 100, 1100, 1100)),  # 1500
    ("H2", "high_standard_farmland", 2024, "accepted", None, rect(4000, 3000, 5000, 4000)),  # 1500
    ("D1", "demo_base", 2024, "completed", None, rect(3200, 4200, 4200, 5000)),  # 1200
    ("D2", "demo_base", 2024, "accepted", None, rect(4200, 4200, 4600, 4600)),  # 240, touches D1
    ("D3", "demo_base", 2024, "completed", None, rect(5000, 4200, 5400, 4600)),  # 240
    ("D4", "demo_base", 2024, "planned", None, rect(5000, 4600, 5600, 5600)),  # 900, touches D3
]


@pytest.fixture(scope="module")
def parcels():
    cols = ["project_code", "category", "year", "status", "declared_area_mu"]
    rows = {c: [p[i] for p in PARCELS] for i, c in enumerate(cols)}
    rows["batch_id"] = ["b1"] * len(PARCELS)
    return gdf(rows, [p[-1] for p in PARCELS])


def _targets(**over):
    data = {
        "city": {"code": "220800", "name_zh": "白城市", "name_en": "Baicheng"},
        "year": 2024,
        "targets": [
            {"key": "paddy", "category": "paddy_new", "name_zh": "新建水田", "name_en": "New paddy",
             "value": 0.5, "unit": "wan_mu", "comparator": "exactly", "scope": [DA, ZL]},
            {"key": "hsf", "category": "high_standard_farmland", "name_zh": "高标准农田",
             "name_en": "HSF", "value": 0.2, "unit": "wan_mu", "comparator": "at_least"},
        ],
        "count_targets": [
            {"key": "bases", "category": "demo_base", "name_zh": "千亩级示范基地", "name_en": "Bases",
             "value": 2, "min_site_mu": 1000, "max_site_mu": 10000},
        ],
    }
    data.update(over)
    return parse_targets(data, "test.yml")


@pytest.fixture(scope="module")
def result(parcels, counties, reserve):
    return progress(parcels, _targets(), counties, as_of=dt.date(2024, 6, 30), protected_areas=reserve)


def test_paddy_summary_by_hand(result):
    s = result.summary.set_index("key").loc["paddy"]
    # achieved in 大安: P1 ∪ P2 = 1500 m × 1000 m = 2250 亩, plus P3's southern half 600 亩
    # achieved in 镇赉: P3's northern half 600 亩 + P8 375 亩; P10 is 2023, P7/P9 out of scope
    assert s.achieved_mu == pytest.approx(2250 + 600 + 600 + 375, abs=0.01)  # 3825
    assert s.under_construction_mu == pytest.approx(400 * 1000 * MU, abs=0.01)  # P4 beyond P2: 600
    assert s.planned_mu == pytest.approx(375, abs=0.01)  # P5 = P6 counted once
    assert s.outside_scope_mu == pytest.approx(375 + 150 + 150, abs=0.01)  # P7, P9 洮北 + outside
    assert s.target_mu == 5000
    assert s.percent == pytest.approx(76.5, abs=1e-3)
    assert s.with_pipeline_percent == pytest.approx(100 * 4800 / 5000, abs=1e-3)
    assert s.remaining_mu == pytest.approx(1175, abs=0.01)
    assert s.remaining_wan_mu == pytest.approx(0.1175, abs=1e-6)
    # linear pace: 30 June is day 182 of 366
    assert s.expected_mu == pytest.approx(5000 * 182 / 366, abs=0.01)
    assert (s.status, s.pace, s.n_parcels) == ("not_met", "ahead", 4)


def test_paddy_by_county_by_hand(result):
    bc = result.by_county[result.by_county.key == "paddy"].set_index("region")
    assert list(bc.index) == [DA, ZL, TB, OUTSIDE_CITY]
    assert bc.in_scope.tolist() == [True, True, False, False]
    assert bc.achieved_mu.tolist() == pytest.approx([2850, 975, 525, 150], abs=0.01)
    assert bc.under_construction_mu.tolist() == pytest.approx([600, 0, 0, 0], abs=0.01)
    assert bc.planned_mu.tolist() == pytest.approx([375, 0, 0, 0], abs=0.01)
    assert bc.loc[DA, "n_parcels"] == 3 and bc.loc[ZL, "n_parcels"] == 2  # P3 is in both


def test_county_shares_of_the_city_target(result):
    """What the progress map colours counties by: achieved in the county / city target."""
    cs = result.county_shares()
    paddy = cs[cs.target == "paddy"].set_index("county_code")
    assert list(paddy.index) == [DA, ZL, TB]  # outside_city is not a county
    assert paddy.loc[DA, "completion_pct"] == pytest.approx(100 * 2850 / 5000, abs=2e-4)  # 0.01 亩
    assert paddy.loc[ZL, "completion_pct"] == pytest.approx(100 * 975 / 5000, abs=2e-4)
    assert paddy.loc[TB, "completion_pct"] is None  # 洮北 is outside the paddy target's scope
    assert paddy.loc[DA, "done_wan_mu"] == pytest.approx(0.285, abs=1e-6)
    assert set(paddy["target_wan_mu"]) == {0.5}


def test_notebook_display(result):
    page = result._repr_html_()
    assert "<table" in page and "新建水田" in page and "as of 2024-06-30" in page
    assert list(result.tables()) == ["summary", "by_county", "counts", "sites", "flags", "baselines", "not_tracked"]


def test_city_scope_and_at_least(result):
    s = result.summary.set_index("key").loc["hsf"]
    assert s.achieved_mu == pytest.approx(3000, abs=0.01)  # H1 overlaps P1, but another category
    assert (s.percent, s.status, s.pace, s.remaining_mu) == (pytest.approx(150, abs=1e-3), "met", "met", 0)
    bc = result.by_county[result.by_county.key == "hsf"].set_index("region")
    assert bc.achieved_mu.tolist() == pytest.approx([1500, 0, 1500, 0], abs=0.01)
    assert bc.in_scope.tolist() == [True, True, True, False]


def test_pace_behind_later_in_the_year(parcels, counties):
    res = progress(parcels, _targets(), counties, as_of="2024-11-30")
    s = res.summary.set_index("key").loc["paddy"]
    assert s.expected_mu == pytest.approx(5000 * 335 / 366, abs=0.01)
    assert s.pace == "behind" and s.pace_gap_mu == pytest.approx(3825 - 5000 * 335 / 366, abs=0.01)


def test_count_targets_are_contiguous_sites(result):
    c = result.counts.set_index("key").loc["bases"]
    # D1 and D2 touch: one site of 1440 亩; D3 alone 240 亩; with planned D4: 240 + 900 = 1140
    assert (c.achieved_sites, c.with_pipeline_sites, c.status) == (1, 2, "not_met")
    assert c.largest_site_mu == pytest.approx(1440, abs=0.01)
    sites = result.sites
    assert sites.area_mu.tolist() == pytest.approx([1440, 240], abs=0.01)
    assert sites.counts_for.tolist() == ["bases", ""]
    assert sites.project_codes.tolist() == ["D1,D2", "D3"]
    assert sites.region.tolist() == [TB, TB]


def test_flags(result):
    f = result.flags
    dd = f[f.flag == "double_declared"].sort_values("area_mu")
    pairs = [tuple(sorted(p)) for p in zip(dd.project_code, dd.other_project_code, strict=True)]
    assert pairs == [("P1", "P4"), ("P5", "P6"), ("P1", "P2"), ("P2", "P4")]
    assert dd.area_mu.tolist() == pytest.approx([150, 375, 750, 900], abs=0.01)
    res = f[f.flag == "in_protected_area"]
    assert res.project_code.tolist() == ["P8"] and res.area_mu.iloc[0] == pytest.approx(375, abs=0.01)
    assert res.detail.iloc[0] == "莫莫格(测试): 100.0 %" and res.region.iloc[0] == ZL
    out = f[f.flag == "outside_city"]
    assert out.project_code.tolist() == ["P9"] and out.area_mu.iloc[0] == pytest.approx(150, abs=0.01)
    assert out.detail.iloc[0] == "50.0 %"
    gap = f[f.flag == "area_gap"]
    assert gap.project_code.tolist() == ["P3"]
    assert gap.area_mu.iloc[0] == pytest.approx(1200, abs=0.01) and gap.detail.iloc[0] == "+8.3 %"
    assert set(f.flag) == {"double_declared", "in_protected_area", "outside_city", "area_gap"}


def test_small_tiles_give_the_same_numbers(parcels, counties, result):
    """Cutting counties into 700 m tiles splits parcels into many pieces; unions heal them."""
    res = progress(parcels, _targets(), counties, as_of=dt.date(2024, 6, 30), tile_m=700)
    assert res.info["n_pieces"] > result.info["n_pieces"]
    pd.testing.assert_frame_equal(res.summary, result.summary, atol=0.01, check_exact=False)
    pd.testing.assert_frame_equal(res.by_county.drop(columns="n_parcels"),
                                  result.by_county.drop(columns="n_parcels"), atol=0.01, check_exact=False)
    assert res.counts.achieved_sites.tolist() == result.counts.achieved_sites.tolist()


def test_agrees_with_plain_geopandas_overlay_and_dissolve(parcels, counties, result):
    """The slow, obvious way: dissolve counted parcels, overlay with counties, measure."""
    from gis.area import area_mu

    counted = parcels[(parcels.category == "paddy_new") & (parcels.year == 2024)
                      & parcels.status.isin(["completed", "accepted"])]
    dissolved = counted[["geometry"]].to_crs(4550).dissolve()
    pieces = gpd.overlay(dissolved, counties.to_crs(4550), how="intersection")
    pieces["mu"] = area_mu(pieces)
    by = pieces.groupby("county_code").mu.sum()
    bc = result.by_county[result.by_county.key == "paddy"].set_index("region")
    for code in (DA, ZL, TB):
        assert by[code] == pytest.approx(bc.loc[code, "achieved_mu"], abs=0.01)


def test_keep_stable_counts_earlier_years(parcels, counties):
    ts = _targets(targets=[{"key": "stock", "category": "paddy_new", "name_zh": "存量", "name_en": "Stock",
                            "value": 4000, "unit": "mu", "comparator": "keep_stable", "scope": [DA, ZL]}],
                  count_targets=[])
    s = progress(parcels, ts, counties, as_of=dt.date(2024, 3, 1)).summary.iloc[0]
    assert s.achieved_mu == pytest.approx(3825 + 120, abs=0.01)  # P10 (2023) counts for a stock
    assert s.expected_mu == 4000 and s.status == "met"  # within 2 %: 3945 ≥ 3920


def test_english_names_and_year_filter(parcels, counties):
    res = progress(parcels, _targets(), counties, as_of=dt.date(2024, 6, 30), lang="en", year=2024)
    assert res.summary.name.tolist() == ["New paddy", "HSF"]
    with pytest.raises(ConfigError, match=r"test.yml: no targets for 2025 \(it has targets for 2024\)"):
        progress(parcels, _targets(), counties, year=2025)


def test_errors(parcels, counties):
    with pytest.raises(InputError, match=r"parcels lack the column\(s\) status; progress needs category, year, status"):
        progress(parcels.drop(columns="status"), _targets(), counties)
    with pytest.raises(MissingCRSError, match=r"the parcels has no CRS"):
        progress(parcels.set_crs(None, allow_override=True), _targets(), counties)
    with pytest.raises(ConfigError, match=r"target 'paddy': scope county 220821 is not in the county layer"):
        progress(parcels, _targets(), counties[counties.county_code != ZL])
    with pytest.raises(InputError, match=r"as_of '30/6/2024' is not a date; write it as YYYY-MM-DD"):
        progress(parcels, _targets(), counties, as_of="30/6/2024")


def test_empty_registry_gives_zero_rows_not_errors(parcels, counties):
    res = progress(parcels.iloc[:0], _targets(), counties, as_of=dt.date(2024, 6, 30))
    assert res.summary.achieved_mu.tolist() == [0, 0]
    assert res.summary.pace.tolist() == ["behind", "behind"]
    assert res.counts.achieved_sites.tolist() == [0] and res.flags.empty


def test_missing_geometry_is_flagged_not_dropped_silently(parcels, counties):
    p = parcels.copy()
    p.loc[p.project_code == "P7", "geometry"] = None
    res = progress(p, _targets(), counties, as_of=dt.date(2024, 6, 30))
    f = res.flags[res.flags.flag == "no_geometry"]
    assert f.project_code.tolist() == ["P7"]


def test_overlapping_parcels_that_both_cross_a_county_border(counties):
    p = gdf({"project_code": ["Q1", "Q2"], "category": ["paddy_new"] * 2, "year": [2024] * 2,
             "status": ["completed"] * 2}, [rect(100, 2800, 600, 3300), rect(300, 2800, 800, 3300)])
    res = progress(p, _targets(), counties, as_of=dt.date(2024, 6, 30), tile_m=400)
    bc = res.by_county[res.by_county.key == "paddy"].set_index("region")
    # union 700 m × 500 m; 200 m of it south of the border (大安), 300 m north (镇赉)
    assert bc.loc[DA, "achieved_mu"] == pytest.approx(700 * 200 * MU, abs=0.01)
    assert bc.loc[ZL, "achieved_mu"] == pytest.approx(700 * 300 * MU, abs=0.01)
    assert res.summary.iloc[0].achieved_mu == pytest.approx(525, abs=0.01)


def test_parts_of_one_category_give_the_same_tables(parcels, counties, reserve, result, monkeypatch):
    """Computed one category at a time (as for a million parcels), every table is the same."""
    from gis import tracking

    monkeypatch.setattr(tracking, "_PART_PARCELS", 1)
    assert len(tracking._category_parts(tracking._Registry.of(parcels.reset_index(drop=True)), _targets())) > 2
    res = progress(parcels, _targets(), counties, as_of=dt.date(2024, 6, 30), protected_areas=reserve)
    for name, df in result.tables().items():
        pd.testing.assert_frame_equal(res.tables()[name], df, check_exact=False, rtol=1e-12, obj=name)
    assert res.info == result.info
    assert len(result.flags) >= 4 and len(result.sites) == 2


# ------------------------------------------- many parcels: the fast paths against plain ones


@pytest.fixture(scope="module")
def many_parcels():
    """3,000 parcels on the fixture's counties: 90 % boxes of 30–100 m on a 110 m grid
    (some across the county borders at 3 km and the city edge at 6 km), 10 % copies
    shifted by 30–90 m so they overlap their original; three categories, mixed statuses."""
    import numpy as np

    rng = np.random.default_rng(19)
    n_base, n_dup = 2700, 300
    cells = rng.choice(57 * 57, size=n_base, replace=False)
    x, y = 110.0 * (cells % 57) + 5, 110.0 * (cells // 57) + 5
    w, h = rng.uniform(30, 100, n_base), rng.uniform(30, 100, n_base)
    dup = rng.integers(0, n_base, n_dup)
    dx, dy = rng.uniform(30, 90, n_dup), rng.uniform(-30, 30, n_dup)
    x0, y0 = np.r_[x, x[dup] + dx], np.r_[y, y[dup] + dy]
    x1, y1 = x0 + np.r_[w, w[dup]], y0 + np.r_[h, h[dup]]
    cats = np.array(["paddy_new", "high_standard_farmland", "demo_base"])[rng.integers(0, 3, n_base)]
    statuses = np.array(["planned", "approved", "under_construction", "completed", "accepted"])
    rows = {"project_code": [f"M{i:05d}" for i in range(n_base + n_dup)], "category": np.r_[cats, cats[dup]],
            "year": rng.choice([2023, 2024], n_base + n_dup, p=[0.1, 0.9]),
            "status": statuses[rng.integers(0, 5, n_base + n_dup)],
            "declared_area_mu": np.round((x1 - x0) * (y1 - y0) * MU * rng.normal(1, 0.05, n_base + n_dup), 2)}
    return gdf(rows, [rect(*b) for b in zip(x0, y0, x1, y1, strict=True)])


def test_parts_on_two_threads_equal_one_pass(many_parcels, counties, reserve, monkeypatch):
    """Parts computed two at a time on threads give the tables of one part on one thread."""
    from gis import tracking

    kw = {"as_of": dt.date(2024, 6, 30), "protected_areas": reserve, "tile_m": 700}
    monkeypatch.setattr(tracking, "_PART_PARCELS", 10**9)
    one = progress(many_parcels, _targets(), counties, workers=1, **kw)
    monkeypatch.setattr(tracking, "_PART_PARCELS", 1)
    assert len(tracking._category_parts(tracking._Registry.of(many_parcels), _targets())) == 3
    two = progress(many_parcels, _targets(), counties, workers=2, **kw)
    for name, df in one.tables().items():
        pd.testing.assert_frame_equal(two.tables()[name], df, check_exact=False, rtol=1e-9, obj=name)
    assert two.info == one.info and one.info["n_overlap_pairs"] > 100
    assert len(one.flags[one.flags.flag == "double_declared"]) > 100


def test_many_parcels_agree_with_overlay_and_dissolve(many_parcels, counties):
    """Achieved area per category and county: 0.01 亩 from the plain geopandas way, with
    parcels across tile edges, county borders and the city edge, and overlaps of 2 and more."""
    from gis.area import area_mu

    res = progress(many_parcels, _targets(), counties, as_of=dt.date(2024, 6, 30), tile_m=700)
    counted = many_parcels[(many_parcels.year == 2024) & many_parcels.status.isin(["completed", "accepted"])]
    pieces = gpd.overlay(counted[["category", "geometry"]].to_crs(4550), counties[["county_code", "geometry"]]
                         .to_crs(4550), how="intersection")
    plain = pieces.dissolve(by=["category", "county_code"]).reset_index()
    plain = pd.Series(area_mu(plain), index=pd.MultiIndex.from_frame(plain[["category", "county_code"]]))
    bc = res.by_county[res.by_county.region != OUTSIDE_CITY].set_index(["category", "region"]).achieved_mu
    assert len(bc) == 6 and (bc > 300).all()
    for key, mu in bc.items():
        assert mu == pytest.approx(plain[key], abs=0.01), key
    edge = res.summary.set_index("key").loc["hsf"]
    assert edge.achieved_mu == pytest.approx(bc.loc["high_standard_farmland"].sum(), abs=0.01)


def test_reprojection_with_areas_in_one_pass_is_the_plain_one(many_parcels):
    """Lon/lat Polygons: the one-pass EPSG:4550 geometry and areas are to_gk's and area_m2's
    bit for bit; other input (holes, MultiPolygons) takes the plain way."""
    import numpy as np
    import shapely

    from gis.area import GEOD, area_m2
    from gis.gauss_kruger import gk_with_area, to_gk

    src = many_parcels.geometry
    mixed = src.copy()
    mixed.iloc[0] = shapely.MultiPolygon([src.iloc[0], src.iloc[1]])
    mixed.iloc[2] = src.iloc[2].difference(src.iloc[2].centroid.buffer(1e-5))  # a hole
    empty_last = gpd.GeoSeries([*src.iloc[:3], shapely.Polygon()], crs=src.crs)
    for s in (src, mixed, empty_last):
        geoms, area = gk_with_area(s, "the parcels")
        assert np.array_equal(area, area_m2(s))
        assert (shapely.to_wkb(geoms) == shapely.to_wkb(to_gk(s, "the parcels"))).all()
    assert area_m2(mixed)[2] < area_m2(src)[2]
    plain = [GEOD.geometry_area_perimeter(shapely.orient_polygons(g))[0] for g in src.iloc[:3]]
    assert gk_with_area(empty_last, "p")[1] == pytest.approx([*plain, 0.0], rel=1e-9)


def test_split_overlap_pairs_unions_and_components_against_plain_ones(many_parcels, counties):
    """The helpers of the fast paths against the obvious computations."""
    import numpy as np
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from gis.gauss_kruger import to_gk
    from gis.overlay import overlap_pairs, split_by_zones, tile_zones, union_by_group
    from gis.tracking import _components

    P = to_gk(many_parcels, "p")
    a, b = overlap_pairs(P)
    ia, ib = np.triu_indices(len(P), 1)
    hit = shapely.intersects(P[ia], P[ib]) & ~shapely.touches(P[ia], P[ib])
    plain_pairs = zip(ia[hit].tolist(), ib[hit].tolist(), strict=True)
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == sorted(plain_pairs)
    comp = _components(len(P), a, b)
    plain = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(len(P), len(P))), directed=False)[1]
    assert np.array_equal(comp, plain) and np.bincount(comp).max() >= 3
    keys, unions = union_by_group(P, comp)
    assert np.allclose(shapely.area(unions), [shapely.area(shapely.union_all(P[comp == k])) for k in keys])
    Z = to_gk(counties, "c")
    codes = counties.county_code.to_numpy(dtype=object)
    tiles, tile_codes = tile_zones(Z, codes, 700.0)
    area = shapely.area(P)
    cut = split_by_zones(P, area, tiles, tile_codes, outside="out")
    whole = split_by_zones(P, area, tiles, tile_codes, outside="out", zones=(Z, codes))
    assert len(whole.geom) < len(cut.geom) - 200
    for p in (cut, whole):
        assert np.all(np.diff(p.parcel[p.region != "out"]) >= 0)
    by = [pd.Series(p.area).groupby([p.parcel, p.region]).sum() for p in (cut, whole)]
    pd.testing.assert_series_equal(by[0], by[1], rtol=1e-9)
    assert np.allclose(np.bincount(whole.parcel, weights=whole.area, minlength=len(P)), area)
