"""STAC items in (issue 15): items built here for the REAL sample products in
``real-samples/`` (hrefs pointing at the real files) give the same products, the same
reflectance and the same stack as the ``.SAFE`` / Landsat folders; items without the
product's metadata file use the item's ``raster:bands``; bad items are refused or, in a
batch, skipped with their reason. Numbers are checked against the raw files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from conftest import SHARED, SHARED_MISSING

from gis.coverage import Grid
from gis.errors import DataFileError
from layers.imagery import from_stac, open_product, scan
from layers.imagery.stack import index_stack
from workflows.cli import main

pytestmark = pytest.mark.skipif(SHARED is None, reason=SHARED_MISSING)
S2_NAME = "S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454"
S2_BOUNDS = (499980.0, 5790240.0, 609780.0, 5900040.0)
LS_NAME = "LC08_L2SP_008059_20191201_20200825_02_T1"
S2_KEYS = {"blue": "B02", "green": "B03", "red": "B04", "nir08": "B8A", "swir16": "B11", "swir22": "B12"}
LS_KEYS = {"blue": 2, "green": 3, "red": 4, "nir08": 5, "swir16": 6, "swir22": 7}


def _safe() -> Path:
    return SHARED / "real-samples" / "sentinel2" / f"{S2_NAME}.SAFE"


def _granule() -> Path:
    return next((_safe() / "GRANULE").iterdir())


def _asset(path: Path, item_dir: Path | None, **extra) -> dict:
    """An asset dict; a relative href (against the item's folder) when ``item_dir`` is given."""
    href = os.path.relpath(path, item_dir) if item_dir is not None else str(path)
    return {"href": href, "roles": ["data"], **extra}


def s2_item(item_dir: Path | None = None, *, metadata: bool = True, raster_bands: bool = False) -> dict:
    """A STAC item of the real Sentinel-2 sample (stactools-sentinel2 style keys)."""
    img = _granule() / "IMG_DATA"
    rb = {"raster:bands": [{"scale": 0.0001, "offset": -0.1, "nodata": 0}]} if raster_bands else {}
    assets = {f"{k}_60m": _asset(img / "R60m" / f"T29UNU_20221005T115411_{b}_60m.jp2", item_dir, gsd=60, **rb)
              for k, b in S2_KEYS.items()}
    assets["scl_60m"] = _asset(img / "R60m" / "T29UNU_20221005T115411_SCL_60m.jp2", item_dir, gsd=60)
    assets["scl"] = _asset(img / "R20m" / "T29UNU_20221005T115411_SCL_20m.jp2", item_dir, gsd=20)
    assets["cloud_60m"] = _asset(_granule() / "QI_DATA" / "MSK_CLDPRB_60m.jp2", item_dir)
    if metadata:
        assets["product_metadata"] = _asset(_safe() / "MTD_MSIL2A.xml", item_dir, roles=["metadata"])
        assets["granule_metadata"] = _asset(_granule() / "MTD_TL.xml", item_dir, roles=["metadata"])
    props = {"datetime": "2022-10-05T11:54:11.024000Z", "platform": "sentinel-2a", "constellation": "sentinel-2",
             "s2:product_uri": f"{S2_NAME}.SAFE", "s2:mgrs_tile": "29UNU", "s2:processing_baseline": "04.00",
             "s2:product_type": "S2MSI2A", "eo:cloud_cover": 59.769726, "proj:epsg": 32629}
    return {"type": "Feature", "stac_version": "1.0.0", "id": S2_NAME, "properties": props,
            "geometry": None, "links": [], "assets": assets}


def ls_item(item_dir: Path | None = None, *, metadata: bool = True, raster_bands: bool = False) -> dict:
    """A STAC item of a real Landsat 8 sample (USGS collection 2 style keys)."""
    folder = SHARED / "real-samples" / "landsat" / LS_NAME
    rb = {"raster:bands": [{"scale": 2.75e-05, "offset": -0.2, "nodata": 0}]} if raster_bands else {}
    assets = {k: _asset(folder / f"{LS_NAME}_SR_B{n}.TIF", item_dir, **rb) for k, n in LS_KEYS.items()}
    assets["qa_pixel"] = _asset(folder / f"{LS_NAME}_QA_PIXEL.TIF", item_dir)
    if metadata:
        assets["MTL.xml"] = _asset(folder / f"{LS_NAME}_MTL.xml", item_dir, roles=["metadata"])
    props = {"datetime": "2019-12-01T15:13:51.861099Z", "platform": "landsat-8", "landsat:wrs_path": "008",
             "landsat:wrs_row": "059", "landsat:correction": "L2SP", "landsat:collection_category": "T1",
             "landsat:collection_number": "02", "eo:cloud_cover": 81.0, "proj:epsg": 32618}
    return {"type": "Feature", "stac_version": "1.0.0", "id": LS_NAME, "properties": props, "geometry": None,
            "links": [], "assets": assets}


def _write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _same_product(a, b) -> None:
    """Every field of two products equal; file paths compared after resolving."""
    assert (a.id, a.kind, a.sensor, a.time, a.tile, a.baseline, a.crs, a.cloud_percent) == \
           (b.id, b.kind, b.sensor, b.time, b.tile, b.baseline, b.crs, b.cloud_percent)
    assert a.bands.keys() == b.bands.keys()
    for sym in a.bands:
        x, y = a.bands[sym], b.bands[sym]
        assert (x.name, x.scale, x.offset, x.nodata, x.boa_add_offset, x.quantification) == \
               (y.name, y.scale, y.offset, y.nodata, y.boa_add_offset, y.quantification), sym
        assert {r: Path(p).resolve() for r, p in x.paths.items()} == {r: Path(p).resolve() for r, p in y.paths.items()}
    assert {r: Path(p).resolve() for r, p in a.mask.paths.items()} == \
           {r: Path(p).resolve() for r, p in b.mask.paths.items()}
    assert a.extra_masks.keys() == b.extra_masks.keys()


def test_s2_item_with_its_xml_is_the_safe_product(tmp_path):
    item = _write(tmp_path / "s2.json", s2_item(tmp_path))  # relative hrefs, resolved against the item file
    [p] = from_stac(item)
    safe = open_product(_safe())
    _same_product(p, safe)
    assert p.source == item and p.bands["R"].boa_add_offset == -1000.0 and p.bands["R"].quantification == 10000.0
    assert sorted(p.mask.paths) == [20, 60] and sorted(p.extra_masks["cldprb"].paths) == [60]
    # reflectance: (DN + BOA_ADD_OFFSET) / QUANTIFICATION of the raw JP2, computed here
    with rasterio.open(p.bands["R"].paths[60]) as ds:
        raw = ds.read(1).astype("float64")
    b = p.bands["R"]
    want = (raw[::211, ::197] - 1000) / 10000
    assert np.allclose(raw[::211, ::197] * b.scale + b.offset, want, rtol=0, atol=1e-12)


def test_s2_item_stack_equals_the_safe_stack(tmp_path):
    grid = Grid.from_bounds(S2_BOUNDS, crs="EPSG:32629", res=600)
    [p] = from_stac(s2_item())
    a = index_stack([p.scene(600)], "NDVI", grid).values
    b = index_stack([open_product(_safe()).scene(600)], "NDVI", grid).values
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).sum() > 1000


def test_s2_item_without_xml_uses_raster_bands(tmp_path):
    [p] = from_stac(s2_item(metadata=False, raster_bands=True))
    safe = open_product(_safe())
    assert (p.id, p.sensor, p.time, p.tile, p.baseline, p.crs, p.cloud_percent) == \
           (safe.id, safe.sensor, safe.time, safe.tile, safe.baseline, safe.crs, safe.cloud_percent)
    for sym in ("R", "NIR", "SWIR1"):
        assert p.bands[sym].scale == pytest.approx(safe.bands[sym].scale, rel=1e-12)
        assert p.bands[sym].offset == pytest.approx(safe.bands[sym].offset, rel=1e-12)
        assert p.bands[sym].boa_add_offset == -1000.0 and p.bands[sym].nodata == 0
    assert "cldprb" not in p.extra_masks  # the cloud probability comes with the XML layout only
    grid = Grid.from_bounds(S2_BOUNDS, crs="EPSG:32629", res=600)
    got = index_stack([p.scene(600)], "NDVI", grid).values
    want = index_stack([safe.scene(600)], "NDVI", grid).values
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    with pytest.raises(DataFileError, match=r"asset blue_60m has no raster:bands scale/offset and the item has no "
                                            r"product metadata asset"):
        from_stac(s2_item(metadata=False))


def test_landsat_items_with_mtl_and_with_raster_bands(tmp_path):
    folder = open_product(SHARED / "real-samples" / "landsat" / LS_NAME)
    [p] = from_stac(_write(tmp_path / "ls.json", ls_item(tmp_path)))
    _same_product(p, folder)
    [q] = from_stac(ls_item(metadata=False, raster_bands=True))
    assert (q.sensor, q.tile, q.crs, q.cloud_percent, q.time) == ("LANDSAT_8", "008059", "EPSG:32618", 81.0,
                                                                  folder.time)
    with rasterio.open(q.bands["NIR"].paths[30]) as ds:
        raw = ds.read(1)
    b = q.bands["NIR"]
    from gis.composite import reflectance

    want = np.where(raw == 0, np.nan, raw.astype("float64") * 2.75e-5 - 0.2)
    np.testing.assert_allclose(reflectance(raw, b.scale, b.offset, b.nodata), want, rtol=0, atol=1e-12)
    assert q.bands["NIR"].name == "SR_B5" and q.mask.kind == "qa_pixel"


def test_item_collection_in_a_folder_scan_and_cli(tmp_path):
    coll = {"type": "FeatureCollection", "features": [s2_item(tmp_path), ls_item(tmp_path)]}
    _write(tmp_path / "items.json", coll)
    (tmp_path / "notes.json").write_text('{"not": "stac"}', encoding="utf-8")  # ignored in a folder
    found = scan([tmp_path])
    assert [p.tile for p in found.products] == ["008059", "29UNU"] and not found.skipped
    res = CliRunner().invoke(main, ["imagery", "list", str(tmp_path / "items.json"), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "29UNU" in res.output and "008059" in res.output and "04.00" in res.output
    out = tmp_path / "ndvi.nc"
    res = CliRunner().invoke(main, ["imagery", "stack", str(tmp_path / "items.json"), "--bounds",
                                    ",".join(map(str, S2_BOUNDS)), "--crs", "EPSG:32629", "--res", "600",
                                    "-o", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    import xarray as xr

    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert list(ds["sensor"].values) == ["LANDSAT_8", "Sentinel-2A"]
        grid = Grid.from_bounds(S2_BOUNDS, crs="EPSG:32629", res=600)
        want = index_stack([open_product(_safe()).scene(600)], "NDVI", grid).values[0]
        np.testing.assert_array_equal(ds["ndvi"].values[1], want)


def test_bad_items_are_refused_with_the_reason_and_skipped_in_a_batch(tmp_path):
    for remote in (s2_item(), s2_item(metadata=False, raster_bands=True)):
        remote["assets"]["red_60m"]["href"] = "https://example.invalid/T29UNU_20221005T115411_B04_60m.jp2"
        remote["assets"]["thumbnail"] = {"href": "https://example.invalid/preview.jpg"}  # not needed: no error
        with pytest.raises(DataFileError, match=r"asset red_60m of STAC item S2A_MSIL2A_.* points at the remote "
                                                r"address https://example.invalid/\S+; agrigis reads local files only"):
            from_stac(remote)
    gone = s2_item(metadata=False, raster_bands=True)
    gone["assets"]["red_60m"]["href"] = str(tmp_path / "missing_B04_60m.jp2")
    with pytest.raises(DataFileError, match=r"lacks the asset red_60m \(.*missing_B04_60m.jp2\); check that the "
                                            r"asset hrefs point at downloaded local files"):
        from_stac(gone)
    l1c = s2_item(metadata=False, raster_bands=True)
    l1c["properties"]["s2:product_type"] = "S2MSI1C"
    with pytest.raises(DataFileError, match=r"this is a S2MSI1C product; agrigis reads only surface-reflectance"):
        from_stac(l1c)
    bad_json = tmp_path / "broken.json"
    bad_json.write_text('{"type": "Feature", ', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"broken.json: not a valid STAC item JSON"):
        from_stac(bad_json)
    items = _write(tmp_path / "mixed.json", {"type": "FeatureCollection", "features": [l1c, ls_item()]})
    found = scan([items])
    assert [p.tile for p in found.products] == ["008059"]
    assert len(found.skipped) == 1 and "S2MSI1C" in str(found.skipped[0][1])
