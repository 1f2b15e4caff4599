"""Coverage weights (gis.coverage): exact fractions on tricky shapes, methods, save/load, errors."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely
import geopandas as gpd
import scipy.sparse as sp
from rasterio.features import geometry_mask
from rasterio.transform import from_origin
from shapely import box

from gis.coverage import Coverage, Grid
from gis.errors import DataFileError, GridError, InputError, MissingCRSError

# a 30 × 20 grid of 10 m cells in Gauss-Krüger CM 123°E (EPSG:4550)
X0, Y1, RES, W, H = 500_000.0, 5_000_200.0, 10.0, 30, 20
GRID = Grid(from_origin(X0, Y1, RES, RES), W, H, "EPSG:4550")


def _tricky() -> gpd.GeoDataFrame:
    """Holes, a multipolygon, a sliver thinner than a cell, parcels on and over the edge."""
    square_with_hole = box(X0 + 13, Y1 - 97, X0 + 88, Y1 - 12).difference(
        box(X0 + 31.5, Y1 - 70.2, X0 + 55.5, Y1 - 40.7))
    multi = shapely.MultiPolygon([box(X0 + 103, Y1 - 37, X0 + 131, Y1 - 9),
                                  shapely.Polygon([(X0 + 140, Y1 - 5), (X0 + 197, Y1 - 61),
                                                   (X0 + 151, Y1 - 88)])])
    sliver = shapely.Polygon([(X0 + 20, Y1 - 120), (X0 + 240, Y1 - 150),
                              (X0 + 240, Y1 - 152.5), (X0 + 20, Y1 - 121)])
    on_edge = box(X0, Y1 - 200, X0 + 37.3, Y1 - 163.1)  # touches the SW corner from inside
    over_edge = box(X0 + 271, Y1 - 60, X0 + 333, Y1 - 20)  # half of it east of the grid
    circle = shapely.Point(X0 + 150, Y1 - 150).buffer(33.3, quad_segs=32)
    return gpd.GeoDataFrame(
        {"name": ["hole", "multi", "sliver", "on_edge", "over_edge", "circle"]},
        geometry=[square_with_hole, multi, sliver, on_edge, over_edge, circle],
        crs="EPSG:4550",
    ).set_index("name")


def _cell_boxes():
    rows, cols = np.divmod(np.arange(W * H), W)
    x = X0 + cols * RES
    y = Y1 - rows * RES
    return shapely.box(x, y - RES, x + RES, y)


def test_exact_weights_equal_cell_by_cell_intersection_areas():
    zones = _tricky()
    cov = Coverage.build(zones, GRID)
    cells = _cell_boxes()
    dense = cov.matrix.toarray()
    for i, g in enumerate(zones.geometry):
        ref = shapely.area(shapely.intersection(cells, g)) / RES**2
        np.testing.assert_allclose(dense[i], ref, atol=1e-9)
    # the sliver is 1–2.5 m thin but still counts by its area
    sliver = zones.geometry["sliver"].area
    assert dense[2].sum() * RES**2 == pytest.approx(sliver, rel=1e-6)


def test_exact_weights_match_supersampled_rasterisation():
    zones = _tricky()
    cov = Coverage.build(zones, GRID).matrix.toarray()
    k = 40  # each cell split into 40 × 40 sub-cells
    fine = from_origin(X0, Y1, RES / k, RES / k)
    for i, g in enumerate(zones.geometry):
        inside = ~geometry_mask([g], out_shape=(H * k, W * k), transform=fine)
        ref = inside.reshape(H, k, W, k).mean(axis=(1, 3)).ravel()
        # each sub-cell decides by its centre: error ≤ about one sub-cell row per edge
        np.testing.assert_allclose(cov[i], ref, atol=2.6 / k)
        assert cov[i].sum() == pytest.approx(ref.sum(), rel=0.02)


def test_partly_outside_zone_keeps_its_inside_cells_and_is_flagged():
    zones = _tricky()
    cov = Coverage.build(zones, GRID)
    inside = dict(zip(zones.index, cov.inside, strict=True))
    assert inside["over_edge"] == pytest.approx((300 - 271) / (333 - 271))
    assert inside["hole"] == 1.0 and inside["on_edge"] == 1.0
    assert cov.matrix[[4]].sum() == pytest.approx(29 * 40 / 100)


def test_center_and_all_touched_follow_gdal_rasterisation():
    zones = _tricky()
    for method, touched in (("center", False), ("all_touched", True)):
        dense = Coverage.build(zones, GRID, method=method).matrix.toarray()
        for i, g in enumerate(zones.geometry):
            ref = ~geometry_mask([g], out_shape=(H, W), transform=GRID.transform,
                                 all_touched=touched)
            np.testing.assert_array_equal(dense[i].reshape(H, W), ref.astype(float))


def test_zones_are_reprojected_to_the_raster_crs():
    zones = _tricky()
    a = Coverage.build(zones, GRID).matrix
    b = Coverage.build(zones.to_crs("EPSG:4490"), GRID).matrix
    assert abs(a - b).max() < 1e-4  # only the reprojection round trip differs


def test_save_and_load_round_trip_and_checks(tmp_path):
    zones = _tricky()
    cov = Coverage.build(zones, GRID)
    path = cov.save(tmp_path / "w.npz")
    back = Coverage.load(path, zones=zones, grid=GRID)
    assert (back.matrix != cov.matrix).nnz == 0
    assert list(back.index) == list(zones.index)
    np.testing.assert_array_equal(back.inside, cov.inside)
    other_grid = Grid(from_origin(X0, Y1, 20, 20), W, H, "EPSG:4550")
    with pytest.raises(GridError, match=r"w\.npz: the weights were built for the grid "
                       r"30×20 cells of 10×10 .* but the raster's grid is 30×20 cells of "
                       r"20×20 .*; build new weights for this grid"):
        Coverage.load(path, grid=other_grid)
    moved = zones.copy()
    moved.geometry = moved.geometry.translate(1, 0)
    with pytest.raises(GridError, match=r"w\.npz: the weights were built for other zones "
                       r"\(fingerprint [0-9a-f]{32}, these zones have [0-9a-f]{32}\)"):
        Coverage.load(path, zones=moved)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match=r"bad\.npz: not a coverage-weights file"):
        Coverage.load(tmp_path / "bad.npz")


def test_grid_errors(tmp_path):
    zones = _tricky()
    with pytest.raises(MissingCRSError, match=r"raster: the raster has no CRS, so the zones "
                       r"cannot be placed on it; set one"):
        Coverage.build(zones, Grid(GRID.transform, W, H, None))
    rotated = GRID.transform @ rasterio.Affine.rotation(10)
    with pytest.raises(GridError, match=r"the raster grid is rotated \(transform .*\); "
                       r"zonal statistics need a north-up grid"):
        Coverage.build(zones, Grid(rotated, W, H, "EPSG:4550"))
    far = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10)], crs="EPSG:4550")
    with pytest.raises(GridError, match=r"none of the 1 zones overlaps the raster \(30×20 "
                       r"cells of 10×10 at \(500000, 5\.0002e\+06\), EPSG:4550"):
        Coverage.build(far, GRID)
    with pytest.raises(MissingCRSError, match="the zones have no CRS"):
        Coverage.build(gpd.GeoDataFrame(geometry=[box(X0, Y1 - 10, X0 + 10, Y1)]), GRID)
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 5, Y1 - 5)], crs="EPSG:4550")
    with pytest.raises(InputError, match=r"zone 0 is a Point, not a \(Multi\)Polygon"):
        Coverage.build(pts, GRID)
    with pytest.raises(InputError, match="method 'nearest' is unknown"):
        Coverage.build(zones, GRID, method="nearest")


def test_cell_areas_are_ellipsoidal():
    from gis.area import area_m2

    geo = Grid(from_origin(122.0, 46.0, 0.001, 0.001), 50, 40, "EPSG:4490")
    a = geo.cell_area_m2(np.array([0, 39]), np.array([7, 7]))
    ref = area_m2(np.array([box(122.007, 45.999, 122.008, 46.0),
                            box(122.007, 45.960, 122.008, 45.961)]), crs="EPSG:4490")
    np.testing.assert_allclose(a, ref, rtol=1e-9)
    # Gauss-Krüger: 100 m² planar cells are a little smaller on the ellipsoid off the CM
    east = Grid(from_origin(650_000, 5_000_000, 10, 10), 10, 10, "EPSG:4550")
    cell = east.cell_area_m2(np.array([5]), np.array([5]))[0]
    ref = area_m2(box(650_050, 4_999_940, 650_060, 4_999_950), crs="EPSG:4550")
    assert cell == pytest.approx(float(ref), rel=1e-6)
    assert cell == pytest.approx(100 / 1.000554, rel=2e-5)  # 150 km east of the CM


def test_cell_areas_interpolated_between_exact_cells():
    """Big projected grids interpolate between exact cells: within 5e-8 anywhere; the
    per-cell and whole-grid forms agree; one-row/one-column grids work."""
    from gis.area import area_m2

    big = Grid(from_origin(380_000, 5_100_000, 10, 10), 6000, 5000, "EPSG:4550")
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, 5000, 25), rng.integers(0, 6000, 25)
    x0, y1 = 380_000 + 10 * cols, 5_100_000 - 10 * rows
    exact = area_m2(shapely.box(x0, y1 - 10, x0 + 10, y1), crs="EPSG:4550")
    np.testing.assert_allclose(big.cell_area_m2(rows, cols), exact, rtol=5e-8)
    small = Grid(from_origin(380_000, 5_100_000, 100, 100), 400, 300, "EPSG:4550")
    full = small.cell_area_m2()
    assert full.shape == (300, 400)
    np.testing.assert_allclose(small.cell_area_m2(rows % 300, cols % 400),
                               full[rows % 300, cols % 400], rtol=1e-12)
    for g in (Grid(from_origin(122.0, 46.0, 0.01, 0.01), 1, 30, "EPSG:4490"),
              Grid(from_origin(500_000, 5_000_000, 10, 10), 30, 1, "EPSG:4550")):
        full = g.cell_area_m2()
        np.testing.assert_allclose(g.cell_area_m2(np.arange(g.height), np.zeros(g.height, int)),
                                   full[:, 0], rtol=1e-12)


def test_kernels_and_parallel_builds_agree():
    zones = _tricky()
    a = Coverage.build(zones, GRID, workers=1).matrix
    b = Coverage.build(zones, GRID, workers=2).matrix
    assert abs(a - b).max() == 0
    # exactextract's C++ kernel (single-precision fractions), in two processes
    c = Coverage.build(zones, GRID, workers=2, kernel="exactextract").matrix
    assert abs(a - c).max() < 1e-7
    # many small chunks of zones on two threads give the same weights
    from gis.coverage import _exact_numpy

    geoms = np.asarray(zones.geometry.values, dtype=object)
    counts, cols, vals = _exact_numpy(geoms, np.arange(6), GRID, workers=2, chunk_cells=50)
    d = sp.csr_array((vals, cols, np.concatenate([[0], np.cumsum(counts)])), shape=a.shape)
    assert abs(a - d).max() < 1e-12


def test_zone_boxes_hold_every_weighted_cell():
    """The boxes a cluster cuts its runs by (no weights yet) hold every cell a zone's
    weights touch, for every method; zones outside the grid and empty ones get none."""
    from gis.coverage import row_bands, zone_boxes, zone_geometries, zone_rows

    zones = _tricky()
    zones.loc["outside"] = [box(X0 - 90, Y1 - 50, X0 - 10, Y1 - 5)]
    zones.loc["empty"] = [shapely.Polygon()]
    geoms = zone_geometries(zones, GRID, "zones")
    first, last, cells = zone_boxes(geoms, GRID)
    assert first[-2:].tolist() == last[-2:].tolist() == [-1, -1] and cells[-2:].tolist() == [0, 0]
    assert first[zones.index.get_loc("over_edge")] >= 0  # half inside: a box cut to the grid
    for method in ("exact", "center", "all_touched"):
        m = Coverage.build(zones, GRID, method).matrix
        f, la = zone_rows(m, W)
        has = f >= 0
        assert has.sum() == 6
        assert (first[has] <= f[has]).all() and (la[has] <= last[has]).all(), method
        assert (np.diff(m.indptr) <= cells).all(), method
        cols = m.indices % W
        for z in np.flatnonzero(has):  # columns too: inside the box's cells
            c = cols[m.indptr[z]:m.indptr[z + 1]]
            assert (c.max() - c.min() + 1) * (la[z] - f[z] + 1) <= cells[z], (method, z)
    bands = row_bands(first, last, rows_per_band=8)
    assert sorted(np.concatenate([b.ids for b in bands]).tolist()) == list(range(6))


def test_weights_of_zones_all_outside_are_empty_for_every_method():
    """weights_matrix (what a cluster worker calls) gives zones with nothing inside no
    cell, whatever the method."""
    from gis.coverage import weights_matrix

    geoms = np.array([box(X0 - 90, Y1 - 50, X0 - 10, Y1 - 5), shapely.Polygon()], dtype=object)
    for method in ("exact", "center", "all_touched"):
        m = weights_matrix(geoms, GRID, method)
        assert m.shape == (2, W * H) and m.nnz == 0, method
