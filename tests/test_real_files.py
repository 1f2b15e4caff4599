"""Real county files that failed (issue 16, section 2): the real files of
``shared/real-files`` as they are, and made DBFs with the same traits."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from conftest import SHARED, SHARED_MISSING
from gis.errors import CRSError, DataFileError
from layers.io import _check_shp_sizes, read_parcels

REAL = SHARED / "real-files" if SHARED is not None else None
needs_real = pytest.mark.skipif(REAL is None, reason=SHARED_MISSING)


def _shp(folder: Path, name: str, values: dict) -> Path:
    """A one-parcel Shapefile in 洮北区, written GBK, without its .cpg (as ArcGIS leaves it)."""
    g = gpd.GeoDataFrame({"项目编号": ["A1"], **values}, geometry=[shapely.box(122.8, 45.6, 122.81, 45.61)],
                         crs="EPSG:4490")
    path = folder / f"{name}.shp"
    g.to_file(path, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    return path


def test_wide_text_field_does_not_break_encoding_detection(tmp_path):
    p = _shp(tmp_path, "wide", {"备注": ["x" * 200]})  # a field 200 wide: 0xC8 in the DBF header
    assert p.with_suffix(".dbf").read_bytes()[32 + 32 + 16] == 200
    res = read_parcels(p, lang="en")
    assert res.notes[0] == "text encoding: GB18030 (detected, no .cpg)"
    assert res.frame["项目编号"].tolist() == ["A1"] and res.frame["备注"][0] == "x" * 200


def test_gbk_value_cut_at_the_field_width_is_read_with_a_note(tmp_path):
    p = _shp(tmp_path, "cut", {"备注": ["y" * 254]})
    dbf = p.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    i = data.index(b"y" * 254)
    data[i:i + 254] = b"a" + "镇".encode("gbk") * 126 + "镇".encode("gbk")[:1]  # cut inside the last 镇
    dbf.write_bytes(bytes(data))
    res = read_parcels(p, lang="en")
    assert res.notes[0] == ("text encoding: GB18030 (detected, no .cpg; 1 values were cut inside a character at "
                            "the field width, the broken byte dropped)")
    assert res.frame["备注"][0] == "a" + "镇" * 126


def test_undecodable_text_names_file_offset_and_encoding_option(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("项目编号,wkt\n".encode("utf-8") + b"Caf\xe9\xff,POINT (1 2)\n")
    with pytest.raises(DataFileError, match=r"latin.csv: text is neither UTF-8 nor GBK/GB18030 \(undecodable bytes "
                                            r"at byte 20 of the file\); give the encoding with --encoding"):
        read_parcels(p, lang="en")
    assert p.read_bytes()[20:21] == b"\xe9"  # the é of "Café" in Latin-1


@needs_real
def test_stale_shapefile_header_is_read(tmp_path):
    shp = REAL / "pyshp" / "MyPolyZ.shp"
    notes = _check_shp_sizes(shp, shp.with_suffix(".shx"))
    assert [str(n) for n in notes] == [f"{shp}: the header says 268 bytes, the file has 316, but the records and "
                                       "the .shx agree; read as usual"]
    # read on to the coordinates, which lie outside China (a pyshp test file)
    with pytest.raises(CRSError, match="are longitude/latitude in degrees \\(outside China\\)"):
        read_parcels(shp, crs="EPSG:4490", lang="en")


@needs_real
def test_real_gbk_shapefile_without_cpg():
    res = read_parcels(REAL / "gxttsmn" / "面_水系.shp", lang="en")
    assert res.notes[0] == "text encoding: GB18030 (detected, no .cpg)" and len(res.frame) == 56
