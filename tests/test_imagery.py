"""Real Sentinel-2 L2A and Landsat C2 L2 products in (issue 15): reader, reflectance,
masks, index stack on one grid, and the ``agrigis imagery`` commands.

Every number is checked against the raw files read here with rasterio and numpy, or
against the metadata values the issue names. The real products live outside the repo:
``$AGRIGIS_SHARED/real-samples`` or ``<repo>/../shared/real-samples``; without them the
tests that need them are skipped with the reason.
"""

from __future__ import annotations

import re
import tarfile
import warnings
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from gis.errors import DataFileError, InputError
from gis.composite import reflectance
from gis.coverage import Grid
from gis.masks import qa_pixel_flags, qa_pixel_mask, radsat_mask, scl_mask
from layers.imagery import open_product, scan
from layers.imagery.sentinel2 import band_offset, read_metadata
from layers.imagery.stack import index_stack, read_on_grid
from workflows.cli import main

from conftest import SHARED, SHARED_MISSING  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
S2_NAME = "S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454"
LS_NAMES = ("LC08_L2SP_005009_20150710_20200908_02_T2", "LC08_L2SP_008059_20191201_20200825_02_T1")
S2_BOUNDS = (499980.0, 5790240.0, 609780.0, 5900040.0)  # the tile's own footprint (read from the JP2 below)
SCL_DEFAULT = [0, 1, 3, 8, 9, 10, 11]


SAMPLES = SHARED / "real-samples" if SHARED else None
needs_samples = pytest.mark.skipif(
    SAMPLES is None,
    reason=SHARED_MISSING)


@pytest.fixture(scope="module")
def s2_dir() -> Path:
    return SAMPLES / "sentinel2" / f"{S2_NAME}.SAFE"


@pytest.fixture(scope="module")
def s2(s2_dir):
    return open_product(s2_dir)


def _ls_dir(i: int = 0) -> Path:
    return SAMPLES / "landsat" / LS_NAMES[i]


def _raw(path: str) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def _link_copy(src: Path, dst: Path, skip: str | None = None) -> Path:
    """``src`` rebuilt under ``dst`` with symlinks to its files (fast), without ``skip``."""
    for f in src.rglob("*"):
        if f.is_file() and not (skip and f.name.endswith(skip)):
            target = dst / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(f)
    return dst


def _s2_zip(s2_dir: Path, out: Path) -> Path:
    """The SAFE as ESA delivers it: one zip holding the ``.SAFE`` folder (20 m SCL left out)."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in sorted(s2_dir.rglob("*")):
            if f.is_file() and "R20m" not in f.parts:
                zf.write(f, f"{s2_dir.name}/{f.relative_to(s2_dir).as_posix()}")
    return out


# ------------------------------------------------------------------------------ 1. reader


@needs_samples
@pytest.mark.parametrize("folder, baseline, offset", [
    ("metadata/S2B_MSIL2A_20191228T210519_N0212_R071_T01CCV_20201003T104658.SAFE", "02.12", 0.0),
    ("metadata/esa_S2B_MSIL2A_20210122T133229_N0214_R081_T22HBD_20210122T155500.SAFE", "02.14", 0.0),
    (f"{S2_NAME}.SAFE", "04.00", -1000.0),
    ("metadata/S2A_MSIL2A_20230625T234621_N0509_R073_T01WCS_20230626T022157.SAFE", "05.09", -1000.0),
])
def test_s2_offset_and_quantification_of_each_real_baseline(folder, baseline, offset):
    meta = read_metadata(SAMPLES / "sentinel2" / folder / "MTD_MSIL2A.xml")
    assert meta.baseline == baseline
    assert meta.quantification == 10000.0
    for band in ("B02", "B03", "B04", "B8A", "B11", "B12", "B8"):
        assert band_offset(meta, band) == offset
    assert meta.product_type == "S2MSI2A" and meta.nodata == 0.0


@needs_samples
def test_s2_product_metadata_comes_from_the_xml(s2, s2_dir):
    assert s2.kind == "sentinel2" and s2.sensor == "Sentinel-2A" and s2.tile == "29UNU"
    assert s2.time == datetime(2022, 10, 5, 11, 54, 11, 24000, tzinfo=timezone.utc)
    assert s2.baseline == "04.00" and s2.cloud_percent == pytest.approx(59.769726)
    with rasterio.open(s2.bands["R"].paths[60]) as ds:  # CRS from MTD_TL.xml agrees with the raster
        assert s2.crs == f"EPSG:{ds.crs.to_epsg()}" == "EPSG:32629"
    r = s2.bands["R"]
    assert (r.name, r.boa_add_offset, r.quantification, r.nodata) == ("B04", -1000.0, 10000.0, 0.0)
    assert s2.bands["NIR"].name == "B8A"  # no B08 in this excerpt: the NIR of the 20/60 m sets
    assert sorted(s2.mask.paths) == [20, 60] and s2.mask.kind == "scl"


@needs_samples
@pytest.mark.parametrize("i, path_row, epsg, when", [
    (0, "005009", 32624, datetime(2015, 7, 10, 14, 34, 35, 978399, tzinfo=timezone.utc)),
    (1, "008059", 32618, datetime(2019, 12, 1, 15, 13, 51, 861099, tzinfo=timezone.utc)),
])
def test_landsat_product_metadata_comes_from_the_mtl(i, path_row, epsg, when):
    p = open_product(_ls_dir(i))
    assert (p.kind, p.sensor, p.tile, p.time) == ("landsat", "LANDSAT_8", path_row, when)
    with rasterio.open(p.bands["R"].paths[30]) as ds:
        assert p.crs == f"EPSG:{ds.crs.to_epsg()}" == f"EPSG:{epsg}"
    assert {s: b.name for s, b in p.bands.items()} == {"B": "SR_B2", "G": "SR_B3", "R": "SR_B4", "NIR": "SR_B5",
                                                      "SWIR1": "SR_B6", "SWIR2": "SR_B7"}
    assert all((b.scale, b.offset, b.nodata) == (2.75e-5, -0.2, 0.0) for b in p.bands.values())
    assert p.mask.kind == "qa_pixel"


def _mtl_txt(xml_path: Path) -> str:
    """The ODL text (``MTL.txt``) of an ``MTL.xml``, written by the standard library here."""
    import xml.etree.ElementTree as ET

    root = ET.parse(xml_path).getroot()
    lines = [f"GROUP = {root.tag}"]
    for group in root:
        lines.append(f"  GROUP = {group.tag}")
        lines += [f'    {el.tag} = "{el.text}"' for el in group]
        lines.append(f"  END_GROUP = {group.tag}")
    return "\n".join([*lines, f"END_GROUP = {root.tag}", "END", ""])


@needs_samples
def test_landsat_mtl_txt_and_tar_give_the_same_product(tmp_path):
    src = _ls_dir(0)
    folder = _link_copy(src, tmp_path / src.name, skip="_MTL.xml")
    (folder / f"{src.name}_MTL.txt").write_text(_mtl_txt(src / f"{src.name}_MTL.xml"))
    from_txt = open_product(folder)
    tar = tmp_path / f"{src.name}.tar"
    with tarfile.open(tar, "w") as tf:
        for f in sorted(src.iterdir()):
            tf.add(f, f"{src.name}/{f.name}")
    from_tar = open_product(tar)
    ref = open_product(src)
    for p in (from_txt, from_tar):
        assert (p.id, p.time, p.tile, p.crs, p.cloud_percent) == (ref.id, ref.time, ref.tile, ref.crs, ref.cloud_percent)
        assert {s: (b.scale, b.offset) for s, b in p.bands.items()} == {s: (b.scale, b.offset) for s, b in ref.bands.items()}
    assert from_tar.bands["R"].paths[30].startswith("/vsitar/")
    np.testing.assert_array_equal(_raw(from_tar.bands["R"].paths[30]), _raw(ref.bands["R"].paths[30]))


@needs_samples
def test_s2_zip_is_read_in_place_without_extracting(tmp_path, s2_dir, s2):
    z = _s2_zip(s2_dir, tmp_path / f"{S2_NAME}.zip")
    p = open_product(z)
    assert (p.id, p.time, p.crs, p.tile) == (s2.id, s2.time, s2.crs, s2.tile)
    assert p.bands["R"].path_for(60).startswith("/vsizip/") and sorted(p.mask.paths) == [60]
    np.testing.assert_array_equal(_raw(p.bands["R"].path_for(60))[::97, ::89], _raw(s2.bands["R"].paths[60])[::97, ::89])
    assert [f.name for f in tmp_path.iterdir()] == [z.name]  # nothing extracted


@needs_samples
def test_truncated_zip_is_refused_by_name_and_skipped_in_a_batch(tmp_path, s2_dir):
    (tmp_path / "bad").mkdir()
    z = _s2_zip(s2_dir, tmp_path / "bad" / f"{S2_NAME}.zip")
    z.write_bytes(z.read_bytes()[: z.stat().st_size // 2])
    with pytest.raises(DataFileError, match=rf"{re.escape(str(z))}: the archive is damaged or incomplete"):
        open_product(z)
    found = scan([tmp_path / "bad", _ls_dir(0)])
    assert [p.id for p in found.products] == [LS_NAMES[0]]
    assert [(s.name, e.key) for s, e in found.skipped] == [(z.name, "error.imagery_truncated")]


@needs_samples
def test_truncated_tar_is_refused(tmp_path):
    src = _ls_dir(1)
    tar = tmp_path / f"{src.name}.tar"
    with tarfile.open(tar, "w") as tf:
        for f in sorted(src.iterdir()):
            tf.add(f, f"{src.name}/{f.name}")
    tar.write_bytes(tar.read_bytes()[: tar.stat().st_size * 2 // 3])
    with pytest.raises(DataFileError, match=rf"{src.name}\.tar: the archive is damaged or incomplete"):
        open_product(tar)


@needs_samples
def test_level_1_products_are_refused(tmp_path, s2_dir):
    safe = _link_copy(s2_dir, tmp_path / "S2A_MSIL1C_x.SAFE", skip="MTD_MSIL2A.xml")
    xml = (s2_dir / "MTD_MSIL2A.xml").read_text()
    (safe / "MTD_MSIL2A.xml").write_text(xml.replace("<PRODUCT_TYPE>S2MSI2A<", "<PRODUCT_TYPE>S2MSI1C<")
                                         .replace(">Level-2A<", ">Level-1C<"))
    with pytest.raises(DataFileError, match=r"S2A_MSIL1C_x\.SAFE: this is a S2MSI1C product; agrigis reads only "
                                            r"surface-reflectance products"):
        open_product(safe)
    src = _ls_dir(0)
    ls = _link_copy(src, tmp_path / "LC08_L1TP_x", skip="_MTL.xml")
    mtl = (src / f"{src.name}_MTL.xml").read_text().replace("<PROCESSING_LEVEL>L2SP<", "<PROCESSING_LEVEL>L1TP<")
    (ls / f"{src.name}_MTL.xml").write_text(mtl)
    with pytest.raises(DataFileError, match=r"LC08_L1TP_x: this is a L1TP product"):
        open_product(ls)


@needs_samples
def test_missing_band_is_named(tmp_path, s2_dir):
    safe = _link_copy(s2_dir, tmp_path / f"{S2_NAME}.SAFE", skip="_B04_60m.jp2")
    with pytest.raises(DataFileError, match=rf"{S2_NAME}\.SAFE: band B04 \(T29UNU_20221005T115411_B04_10m\) is "
                                            "missing from the product"):
        open_product(safe)
    src = _ls_dir(0)
    ls = _link_copy(src, tmp_path / src.name, skip="_QA_PIXEL.TIF")
    with pytest.raises(DataFileError, match=rf"{src.name}: band QA_PIXEL \({src.name}_QA_PIXEL\.TIF\) is missing"):
        open_product(ls)


@needs_samples
def test_xml_with_an_external_entity_is_refused(tmp_path, s2_dir):
    safe = _link_copy(s2_dir, tmp_path / f"{S2_NAME}.SAFE", skip="MTD_MSIL2A.xml")
    xml = (s2_dir / "MTD_MSIL2A.xml").read_text()
    head, body = xml.split("\n", 1)
    evil = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>\n'
    (safe / "MTD_MSIL2A.xml").write_text(head + "\n" + evil + body.replace("<PRODUCT_TYPE>S2MSI2A<", "<PRODUCT_TYPE>&xxe;<"))
    with pytest.raises(DataFileError, match=r"MTD_MSIL2A\.xml declares a DTD or entities") as info:
        open_product(safe)
    assert Path("/etc/hostname").read_text().strip() not in str(info.value).replace(str(tmp_path), "")


def test_not_a_product(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(DataFileError, match=r"notes: not a Sentinel-2 L2A or Landsat Collection 2 Level-2 product"):
        open_product(tmp_path / "notes")


# ------------------------------------------------------------------------------ 2. reflectance


@needs_samples
def test_s2_reflectance_on_its_own_grid_equals_dn_plus_offset_over_quantification(s2):
    grid = Grid.from_bounds(S2_BOUNDS, crs="EPSG:32629", res=60)
    for sym in ("R", "NIR", "SWIR1"):
        b = s2.bands[sym]
        got = reflectance(read_on_grid(b.path_for(60), grid, src_nodata=b.nodata, fill=0), b.scale, b.offset, b.nodata)
        raw = _raw(b.paths[60]).astype("float64")
        want = np.where(raw == 0, np.nan, (raw + (-1000)) / 10000)
        rows, cols = np.arange(3, 1830, 131), np.arange(5, 1830, 127)
        np.testing.assert_allclose(got[np.ix_(rows, cols)], want[np.ix_(rows, cols)], rtol=0, atol=1e-6)
        assert np.array_equal(np.isnan(got), np.isnan(want))


@needs_samples
@pytest.mark.parametrize("i", [0, 1])
def test_landsat_reflectance_is_dn_times_mult_plus_add(i):
    p = open_product(_ls_dir(i))
    b = p.bands["NIR"]
    raw = _raw(b.paths[30])
    got = reflectance(raw, b.scale, b.offset, b.nodata)
    want = np.where(raw == 0, np.nan, raw.astype("float64") * 2.75e-5 - 0.2)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert np.isnan(got).sum() == (raw == 0).sum() > 0


# ------------------------------------------------------------------------------ 3. masks


@needs_samples
def test_scl_mask_count_equals_the_class_counts_of_the_real_tile(s2):
    scl = _raw(s2.mask.paths[60])
    values, counts = np.unique(scl, return_counts=True)
    count = dict(zip(values.tolist(), counts.tolist(), strict=True))
    assert {0, 3, 4, 6, 8, 9, 10} <= set(count)  # masked, kept and optional classes are all on the tile
    masked = sum(count.get(c, 0) for c in SCL_DEFAULT)
    assert int(scl_mask(scl).sum()) == masked
    assert int(scl_mask(scl, water=True).sum()) == masked + count[6]


def _bit(v: int, b: int) -> bool:
    return format(int(v), "016b")[::-1][b] == "1"


@needs_samples
@pytest.mark.parametrize("i", [0, 1])
def test_qa_pixel_bits_equal_a_hand_decode(i):
    p = open_product(_ls_dir(i))
    qa = _raw(p.mask.paths[30])
    values = np.unique(qa)
    names = ["fill", "dilated_cloud", "cirrus", "cloud", "cloud_shadow", "snow"]
    flags = qa_pixel_flags(values, names)
    for j, v in enumerate(values.tolist()):
        for b, name in enumerate(names):
            assert flags[name][j] == _bit(v, b), (v, name)
        assert qa_pixel_mask(values)[j] == any(_bit(v, b) for b in range(6))
    assert values[0] == 1  # the scene has fill cells, and they are masked
    assert qa_pixel_mask(np.array([1, 21824, 22280, 55052])).tolist() == [True, False, True, True]


def test_radsat_and_bad_mask_options():
    assert radsat_mask(np.array([0, 1 << 3, 1 << 6, 1 << 11]), bands=[2, 3, 4, 5, 6, 7]).tolist() == [
        False, True, True, False]
    with pytest.raises(InputError, match=r"SCL class\(es\) 12 do not exist"):
        scl_mask(np.zeros(3), classes=[3, 12])
    with pytest.raises(InputError, match=r"unknown QA_PIXEL flag haze"):
        qa_pixel_mask(np.zeros(3), ["cloud", "haze"])


# ------------------------------------------------------------------------------ 4. grid + stack


def _ndvi_raw(s2) -> np.ndarray:
    """NDVI of the raw 60 m JP2 with the default SCL mask, computed here."""
    r = _raw(s2.bands["R"].paths[60]).astype("float64")
    n = _raw(s2.bands["NIR"].paths[60]).astype("float64")
    scl = _raw(s2.mask.paths[60])
    R, N = (r - 1000) / 10000, (n - 1000) / 10000
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (N - R) / (N + R)
    ndvi[np.isin(scl, SCL_DEFAULT) | (r == 0) | (n == 0)] = np.nan
    return ndvi


@pytest.fixture(scope="module")
def s2_stack(s2):
    if SAMPLES is None:
        pytest.skip("real products not found")
    grid = Grid.from_bounds(S2_BOUNDS, crs="EPSG:32629", res=60)
    return index_stack([s2.scene(60)], "NDVI", grid)


@needs_samples
def test_stack_over_the_tile_footprint_equals_the_independent_ndvi(s2, s2_stack):
    da = s2_stack
    with rasterio.open(s2.bands["R"].paths[60]) as ds:
        assert tuple(ds.bounds) == S2_BOUNDS
    assert da.dims == ("time", "y", "x") and da.shape == (1, 1830, 1830)
    assert tuple(da.rio.bounds()) == S2_BOUNDS and da.rio.crs.to_epsg() == 32629
    want = _ndvi_raw(s2)
    got = da.values[0]
    assert np.array_equal(np.isnan(got), np.isnan(want))  # masked cells (clouds, shadow, no data …) are NaN
    for row, col in [(0, 0), (1800, 10), (1500, 300), (900, 900), (1200, 1700)]:
        if np.isnan(want[row, col]):
            assert np.isnan(got[row, col])
        else:
            assert got[row, col] == pytest.approx(want[row, col], abs=1e-6)
    assert np.isfinite(got).sum() > 100_000
    assert da["valid_fraction"].item() == pytest.approx(np.isfinite(want).mean())
    assert da["product_id"].item() == S2_NAME and da["sensor"].item() == "Sentinel-2A"
    assert da["time"].values[0] == np.datetime64("2022-10-05T11:54:11.024")
    assert da.attrs["mask_scl_classes"] == "0,1,3,8,9,10,11"


@needs_samples
def test_landsat_and_sentinel2_in_one_stack_keep_sensor_and_qa_mask(s2):
    ls = open_product(_ls_dir(1))  # the first scene (Greenland) is all cloud, snow or fill
    with rasterio.open(ls.mask.paths[30]) as ds:
        qa, qa_ds_index, b = ds.read(1), ds.index, ds.bounds
    bounds = (b.left // 1000 * 1000 + 1000, b.bottom // 1000 * 1000 + 1000, b.right // 1000 * 1000, b.top // 1000 * 1000)
    grid = Grid.from_bounds(bounds, crs="EPSG:32618", res=1000)
    da = index_stack([s2.scene(1000), ls.scene(1000)], "NDVI", grid)
    assert da["sensor"].values.tolist() == ["LANDSAT_8", "Sentinel-2A"]  # sorted by time: 2019, 2022
    assert np.isnan(da.values[1]).all() and da["valid_fraction"].values[1] == 0  # S2 tile is far away
    x, y = grid.coords()
    layer = da.values[0]
    for i in range(0, grid.height, 7):
        for j in range(0, grid.width, 7):
            r, c = qa_ds_index(x[j], y[i])
            if qa_pixel_mask(qa[r, c]):  # nearest QA_PIXEL cell masked → no value
                assert np.isnan(layer[i, j]), (i, j, qa[r, c])
    assert np.isfinite(layer).sum() > 500 and np.nanmax(np.abs(layer)) <= 1
    assert da["valid_fraction"].values[0] == pytest.approx(np.isfinite(layer).mean())


def test_bad_bounds_are_refused():
    with pytest.raises(InputError, match=r"--bounds 5,0,1,1: give four numbers xmin,ymin,xmax,ymax"):
        Grid.from_bounds((5, 0, 1, 1), crs="EPSG:4550", res=10)
    g = Grid.from_bounds((7, 3, 95, 58), crs="EPSG:32650", res=20)  # widened outwards to whole cells
    assert g.bounds == (0.0, 0.0, 100.0, 60.0) and (g.width, g.height) == (5, 3)


# ------------------------------------------------------------------------------ 5. CLI


@needs_samples
def test_cli_list_prints_writes_xlsx_and_csv_and_skips_bad_products(tmp_path, s2_dir):
    import openpyxl
    import pandas as pd

    bad = tmp_path / "downloads"
    bad.mkdir()
    z = _s2_zip(s2_dir, bad / "S2B_MSIL2A_broken.zip")
    z.write_bytes(z.read_bytes()[:1000])
    out = tmp_path / "products.xlsx"
    res = CliRunner().invoke(main, ["imagery", "list", str(s2_dir), str(SAMPLES / "landsat"), str(bad),
                                    "-o", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "29UNU" in res.output and "005009" in res.output and "008059" in res.output
    assert re.search(r"skipped: .*S2B_MSIL2A_broken\.zip: the archive is damaged", res.output)
    ws = openpyxl.load_workbook(out).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Sensor", "Acquired (UTC)", "Tile / path-row", "Baseline", "Cloud (%)", "Product id")
    assert [r[2] for r in rows[1:4]] == ["005009", "008059", "29UNU"]
    assert rows[3][4] == 59.8 and rows[3][3] == "04.00" and rows[3][1] == "2022-10-05 11:54"
    csv = tmp_path / "products.csv"
    res = CliRunner().invoke(main, ["imagery", "list", str(SAMPLES / "landsat"), "-o", str(csv), "--lang", "en"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(csv, comment="#", dtype=str)
    assert df["Tile / path-row"].tolist() == ["005009", "008059"] and df["Cloud (%)"].tolist() == ["54.6", "81.0"]  # % to one decimal


@needs_samples
def test_cli_stack_writes_netcdf_with_the_ndvi_values(tmp_path, s2_dir, s2):
    import xarray as xr

    bad = tmp_path / "more"
    bad.mkdir()
    (bad / f"{S2_NAME}.zip").write_bytes(b"PK\x03\x04 not really a zip")
    bounds = (499980, 5790240, 499980 + 60 * 200, 5790240 + 60 * 400)  # the tile's south-west corner
    out = tmp_path / "ndvi.nc"
    args = ["imagery", "stack", str(s2_dir), str(bad), "--index", "NDVI", "--bounds", ",".join(map(str, bounds)),
            "--crs", "EPSG:32629", "--res", "60", "-o", str(out), "--lang", "en"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert re.search(r"skipped: .*more/S2A_MSIL2A.*\.zip: the archive is damaged", res.output)
    want = _ndvi_raw(s2)[1830 - 400:, :200]
    with xr.open_dataset(out, engine="h5netcdf", decode_coords="all") as ds:
        got = ds["ndvi"].values[0]
        assert ds["ndvi"].dims == ("time", "y", "x") and got.shape == (400, 200)
        assert str(ds["time"].values[0]).startswith("2022-10-05T11:54:11.024")
        assert ds["product_id"].values.tolist() == [S2_NAME]
        assert ds["ndvi"].rio.crs.to_epsg() == 32629 and tuple(ds["ndvi"].rio.bounds()) == bounds
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isfinite(got).sum() > 1000
    np.testing.assert_allclose(got[np.isfinite(got)], want[np.isfinite(want)], atol=1e-6)


@needs_samples
def test_cli_stack_failure_leaves_the_previous_file_and_says_why(tmp_path):
    out = tmp_path / "ndvi.nc"
    out.write_bytes(b"previous stack")
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(main, ["imagery", "stack", str(empty), "--bounds", "0,0,600,600", "--crs", "EPSG:32629",
                                    "--res", "60", "-o", str(out), "--lang", "en"])
    assert res.exit_code == 1 and "no usable Level-2 product found in" in res.output
    res = CliRunner().invoke(main, ["imagery", "stack", str(empty), "--bounds", "0,0,600", "-o", str(out)])
    assert res.exit_code == 1 and "--bounds 0,0,600:请给出四个数" in res.output
    res = CliRunner().invoke(main, ["imagery", "stack", str(empty), "--bounds", "0,0,600,600", "--crs", "EPSG:99999",
                                    "--res", "60", "-o", str(out), "--lang", "en"])
    assert res.exit_code == 1 and "EPSG:99999" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert out.read_bytes() == b"previous stack"


# ------------------------------------------------------------------------------ composites (first step)


@pytest.mark.parametrize("how, func", [("median", np.nanmedian), ("max", np.nanmax), ("mean", np.nanmean)])
def test_monthly_composite_and_valid_counts_equal_numpy(how, func):
    import pandas as pd
    import xarray as xr

    from gis.composite import composite

    rng = np.random.default_rng(7)
    values = rng.uniform(-0.2, 0.9, size=(5, 4, 3))
    values[rng.uniform(size=values.shape) < 0.3] = np.nan  # clouds
    values[:3, 0, 0] = np.nan  # no valid observation in May at this cell
    times = pd.to_datetime(["2024-05-02", "2024-05-12", "2024-05-29", "2024-06-03", "2024-06-20"])
    da = xr.DataArray(values, dims=("time", "y", "x"), name="ndvi",
                      coords={"time": times, "product_id": ("time", list("abcde"))})
    ds = composite(da, "month", how)
    assert ds["time"].values.tolist() == pd.to_datetime(["2024-05-01", "2024-06-01"]).values.tolist()
    for k, sl in enumerate([slice(0, 3), slice(3, 5)]):
        block = values[sl]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells
            want = func(block, axis=0)
        np.testing.assert_allclose(ds["ndvi"].values[k], want, equal_nan=True)
        assert ds["valid_count"].values[k].tolist() == np.isfinite(block).sum(axis=0).tolist()
    assert np.isnan(ds["ndvi"].values[0, 0, 0]) and ds["valid_count"].values[0, 0, 0] == 0
    with pytest.raises(InputError, match=r"composite option how = mode is not valid; use one of median, max, mean"):
        composite(da, "month", "mode")
