"""Issue 15, second part: the fast sampling path, MSK_CLDPRB masks and the AOI columns of
``agrigis imagery list``. Everything here is SYNTHETIC except the real Sentinel-2 tile."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
import rasterio
import xarray as xr
from click.testing import CliRunner
from conftest import SHARED, SHARED_MISSING

from gis.coverage import Grid
from gis.errors import InputError
from gis.masks import MaskOptions, scl_mask
from gis.sampling import pixel_positions
from layers.imagery import open_product
from layers.imagery.stack import index_stack, read_bands_on_grid, read_on_grid, scene_mask
from layers.imagery.synthetic import ProductSpec, write_s2_product
from workflows.cli import main

S2_NAME = "S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454"
S2_BOUNDS = (499980.0, 5790240.0, 609780.0, 5900040.0)
needs_samples = pytest.mark.skipif(SHARED is None, reason=SHARED_MISSING)
UL = (578000.0, 5018000.0)  # EPSG:32651, south-west of Da'an


def _product(folder, cells=80, scl=None, ndvi=None):
    yy, xx = np.mgrid[0:cells, 0:cells] / cells
    ndvi = 0.3 + 0.4 * np.sin(3 * xx) * np.cos(2 * yy) if ndvi is None else ndvi
    spec = ProductSpec(time=datetime(2024, 7, 1, 2, 50, tzinfo=timezone.utc), crs="EPSG:32651", ulx=UL[0], uly=UL[1])
    return write_s2_product(folder, spec, ndvi, scl)


def _grid_4550(margin=60.0, res=10.0, cells=80):
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:32651", "EPSG:4550", always_xy=True)
    x0, y0 = tr.transform(UL[0] + margin, UL[1] - cells * 10 + margin)
    x1, y1 = tr.transform(UL[0] + cells * 10 - margin, UL[1] - margin)
    return Grid.from_bounds((x0, y0, x1, y1), crs="EPSG:4550", res=res)


def test_positions_are_separable_from_utm51_to_4550_but_not_from_utm50():
    grid = Grid.from_bounds((480000, 5000000, 482000, 5001000), crs="EPSG:4550", res=10)
    from rasterio.crs import CRS

    from layers.imagery.stack import _to_source

    t51 = rasterio.transform.from_origin(470000, 5010000, 10, 10)
    p51 = pixel_positions(grid.transform, grid.height, grid.width, _to_source(grid, CRS.from_epsg(32651)), t51)
    assert p51.separable and p51.shape == (100, 200)
    p50 = pixel_positions(grid.transform, grid.height, grid.width, _to_source(grid, CRS.from_epsg(32650)),
                          rasterio.transform.from_origin(950000, 5040000, 10, 10))
    assert not p50.separable and p50.shape == (100, 200)
    # the separable positions equal an exact per-cell transformation to 0.01 pixel
    from pyproj import Transformer

    x, y = grid.coords()
    xs, ys = Transformer.from_crs("EPSG:4550", "EPSG:32651", always_xy=True).transform(*np.meshgrid(x, y))
    inv = ~t51
    cols, rows = inv.a * xs + inv.b * ys + inv.c, inv.d * xs + inv.e * ys + inv.f
    assert np.abs(rows - p51.rows[:, None]).max() < 0.01 and np.abs(cols - p51.cols[None, :]).max() < 0.01


def test_fast_sampling_agrees_with_gdal_bilinear_warper(tmp_path):
    p = open_product(_product(tmp_path))
    grid = _grid_4550()
    paths = [p.bands["R"].path_for(10), p.bands["NIR"].path_for(10)]
    fast = read_bands_on_grid(paths, grid)
    for path, got in zip(paths, fast, strict=True):
        want = read_on_grid(path, grid)
        assert got.shape == want.shape == (grid.height, grid.width)
        assert np.abs(got - want)[1:-1, 1:-1].max() <= 1.0  # DN (≈ 1e-4 reflectance)


def test_mask_on_an_aligned_grid_is_the_raw_scl_mask(tmp_path):
    scl = np.full((80, 80), 4, dtype="uint8")
    scl[10:30, 20:50], scl[50:70, 4:16] = 9, 3
    p = open_product(_product(tmp_path, scl=scl))
    grid = Grid.from_bounds((UL[0], UL[1] - 800, UL[0] + 800, UL[1]), crs="EPSG:32651", res=20)
    got = scene_mask(p.scene(20), grid)
    with rasterio.open(p.mask.paths[20]) as ds:
        raw = ds.read(1)
    np.testing.assert_array_equal(got, scl_mask(raw))
    assert got.sum() == (10 * 15 + 10 * 6)


@needs_samples
def test_cloud_probability_above_40_on_the_real_tile_adds_exactly_the_raw_cells():
    s2 = open_product(SHARED / "real-samples" / "sentinel2" / f"{S2_NAME}.SAFE")
    assert sorted(s2.extra_masks["cldprb"].paths) == [60]
    grid = Grid.from_bounds(S2_BOUNDS, crs="EPSG:32629", res=60)
    with rasterio.open(s2.mask.paths[60]) as ds:
        scl = ds.read(1)
    with rasterio.open(s2.extra_masks["cldprb"].paths[60]) as ds:
        prob = ds.read(1)
    want = scl_mask(scl) | (prob > 40)
    got = scene_mask(s2.scene(60), grid, MaskOptions(cloud_prob=40))
    assert int(got.sum()) == int(want.sum()) > int(scl_mask(scl).sum())
    np.testing.assert_array_equal(got, want)
    assert int(scene_mask(s2.scene(60), grid).sum()) == int(scl_mask(scl).sum())


def test_cloud_prob_masks_synthetic_clouds_above_the_threshold_only(tmp_path):
    scl = np.full((80, 80), 4, dtype="uint8")
    scl[0:20, 0:20], scl[40:60, 40:60] = 9, 10  # written MSK_CLDPRB: 90 % and 30 %
    p = open_product(_product(tmp_path, scl=scl))
    grid = Grid.from_bounds((UL[0], UL[1] - 800, UL[0] + 800, UL[1]), crs="EPSG:32651", res=20)
    only_prob = MaskOptions(scl_classes=(0,), cloud_prob=40)
    da = index_stack([p.scene(20)], "NDVI", grid, only_prob)
    assert int(np.isnan(da.values).sum()) == 10 * 10
    assert da.attrs["mask_cloud_probability_above"] == "40"
    assert int(np.isnan(index_stack([p.scene(20)], "NDVI", grid, MaskOptions(scl_classes=(0,))).values).sum()) == 0


def test_cli_cloud_prob_is_written_and_a_bad_value_refused(tmp_path):
    _product(tmp_path / "in")
    bounds = f"{UL[0]},{UL[1] - 800},{UL[0] + 800},{UL[1]}"
    out = tmp_path / "ndvi.nc"
    res = CliRunner().invoke(main, ["imagery", "stack", str(tmp_path / "in"), "--aoi", bounds, "--crs", "EPSG:32651",
                                    "--res", "20", "--cloud-prob", "40", "-o", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds["ndvi"].attrs["mask_cloud_probability_above"] == "40"
    res = CliRunner().invoke(main, ["imagery", "stack", str(tmp_path / "in"), "--aoi", bounds, "--crs", "EPSG:32651",
                                    "--cloud-prob", "120", "-o", str(out), "--lang", "en"])
    assert res.exit_code != 0
    assert "--cloud-prob 120: give a cloud probability in per cent, from 0 to 100" in res.output
    with pytest.raises(InputError, match="--cloud-prob -1: give a cloud probability"):
        MaskOptions(cloud_prob=-1)


def test_cli_list_aoi_gives_cloud_and_coverage_over_the_area(tmp_path):
    scl = np.full((100, 100), 4, dtype="uint8")
    scl[:, :40] = 9  # cloud over the west 400 m of the 1 km product
    _product(tmp_path / "in", cells=100, scl=scl, ndvi=np.full((100, 100), 0.5))
    # AOI 2 km × 1 km, the product covers its west half; 200 m cells: 2 of 5 covered columns cloudy
    bounds = f"{UL[0]},{UL[1] - 1000},{UL[0] + 2000},{UL[1]}"
    out = tmp_path / "list.csv"
    res = CliRunner().invoke(main, ["imagery", "list", str(tmp_path / "in"), "--aoi", bounds, "--crs", "EPSG:32651",
                                    "-o", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    import pandas as pd

    df = pd.read_csv(out)
    assert df["Cloud over AOI (%)"].tolist() == [40.0]
    assert df["AOI coverage (%)"].tolist() == [50.0]
    res = CliRunner().invoke(main, ["imagery", "list", str(tmp_path / "in"), "-o", str(out), "--lang", "en"])
    assert "AOI coverage (%)" not in pd.read_csv(out).columns


def test_tile_reads_decode_each_aoi_tile_once_and_give_the_window_values(tmp_path):
    """Full-size products are read tile by tile: blocks of the grid that cut through a
    JPEG 2000 tile share its decoding, tiles no AOI cell taps are never decoded, and the
    values inside the AOI are those of the plain window read."""
    from shapely import Point

    from layers.imagery.aoi import Aoi
    from layers.imagery.stack import Reading, TileCache, row_blocks, scene_index

    cells = 2600  # 3 × 3 tiles of 1024 (the last ones partial)
    rng = np.random.default_rng(3)
    ndvi = np.clip(0.4 + 0.1 * rng.standard_normal((cells, cells)), -0.5, 0.9)
    scl = np.full((cells, cells), 4, dtype="uint8")
    scl[1000:1100, 300:2400] = 9  # a cloud band across a tile boundary
    safe = _product(tmp_path, cells=cells, scl=scl, ndvi=ndvi)
    scene = open_product(safe).scene(10)
    with rasterio.open(scene.bands["R"].path) as src:
        assert src.block_shapes[0] == (1024, 1024)
    grid = _grid_4550(margin=100, cells=cells)
    # a disc in the grid's north-west: the south-east tiles are not tapped by any AOI cell
    x0, y0, x1, y1 = grid.bounds
    aoi = Aoi("disc", "parcels", grid, Point(x0 + 0.3 * (x1 - x0), y1 - 0.3 * (y1 - y0)).buffer(0.28 * (x1 - x0)))
    tiles, masked, valid = TileCache(), 0, 0
    for block in row_blocks(grid, 700):  # block edges cut through the tiles
        inside = aoi.inside(block)
        if not inside.any():
            continue
        fast = scene_index(scene, "NDVI", block, reading=Reading(inside, tiles))
        plain = scene_index(scene, "NDVI", block)
        np.testing.assert_array_equal(fast[inside], plain[inside])
        masked, valid = masked + int(np.isnan(plain[inside]).sum()), valid + int(np.isfinite(plain[inside]).sum())
    assert masked > 10_000 and valid > 10 * masked  # the cloud is masked, the rest has values
    per_file = {}
    for key in tiles.items:
        per_file.setdefault(key[0][0], set()).add(key[1:])
    assert tiles.decoded == sum(len(v) for v in per_file.values())  # each tile decoded once
    band_tiles = per_file[scene.bands["R"].path]
    assert (2, 2) not in band_tiles and (0, 0) in band_tiles and 4 <= len(band_tiles) < 9
    assert len(per_file[scene.mask.path_for(10)]) == 1  # SCL at 20 m: 1300² cells, its first tile only


def test_a_lazy_stack_lets_go_of_its_decoded_tiles_once_computed(tmp_path):
    """A lazy stack's dask graph keeps the stack's tile cache for as long as the DataArray
    lives: once every block has been read the cache is emptied, and computing again
    gives the same values."""
    import gc

    from layers.imagery import stack as st

    cells = 2100  # 3 × 3 tiles of 1024: read tile by tile
    safe = _product(tmp_path, cells=cells)
    scene = open_product(safe).scene(10)
    grid = _grid_4550(margin=100, cells=cells)
    gc.collect()
    before = {id(o) for o in gc.get_objects() if isinstance(o, st._Counter)}  # other tests' stacks
    da = st.index_stack([scene], "NDVI", grid, st.StackOptions(lazy=True, block_rows=700))
    first = da.values.copy()
    counters = [o for o in gc.get_objects() if isinstance(o, st._Counter) and id(o) not in before]
    assert len(counters) == 1 and counters[0].tiles.decoded > 0
    assert counters[0].tiles.bytes == 0 and not counters[0].tiles.items
    np.testing.assert_array_equal(da.values, first)
    assert np.isfinite(first).mean() > 0.9


def test_write_s2_files_encodes_arrays_and_hard_links_shared_layers(tmp_path):
    """The benchmark's writer: every layer given as digital numbers or as a file to link;
    the product reads back as any other, its shared layers are the same file on disk."""
    from layers.imagery.synthetic import FINE_BANDS, s2_file_names, write_s2_files

    spec = ProductSpec(time=datetime(2024, 6, 17, 2, 50, tzinfo=timezone.utc), crs="EPSG:32651", ulx=UL[0], uly=UL[1],
                       tile="51TWL")
    rng = np.random.default_rng(5)
    red = rng.integers(1400, 1600, (40, 40), dtype="uint16")
    scl = np.full((20, 20), 4, dtype="uint8")
    scl[:5] = 9
    first = write_s2_files(tmp_path / "a", spec, {
        **{b: np.full((40, 40) if b in FINE_BANDS else (20, 20), 1500, dtype="uint16")
           for b in ("B02", "B03", "B08", "B8A", "B11", "B12")},
        "B04": red, "SCL": scl, "CLDPRB": np.full((20, 20), 5, dtype="uint8")}, shape=(40, 40), cloud_percent=25.0)
    names = s2_file_names(spec)
    shared = {b: first / names[b] for b in ("B02", "B03", "B08", "B8A", "B11", "B12")}
    second = write_s2_files(tmp_path / "b", spec, {**shared, "B04": red + 10, "SCL": scl,
                                                    "CLDPRB": np.full((20, 20), 5, dtype="uint8")},
                            shape=(40, 40), cloud_percent=25.0)
    p = open_product(second)
    assert (p.tile, p.cloud_percent, p.crs) == ("51TWL", 25.0, "EPSG:32651")
    assert (second / names["B08"]).stat().st_ino == shared["B08"].stat().st_ino
    with rasterio.open(p.bands["R"].path_for(10)) as src:
        np.testing.assert_array_equal(src.read(1), red + 10)
        assert src.bounds.left == UL[0] and src.bounds.top == UL[1]
    with rasterio.open(p.mask.path_for(20)) as src:
        assert src.res == (20.0, 20.0) and (src.read(1) == 9).sum() == 100
