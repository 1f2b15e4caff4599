"""layers.io: formats, encodings, CRS handling and geometry repair."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import Polygon, box

from gis.errors import CRSError, InputError
from layers.io import clean_geometries, detect_encoding, list_layers, read_parcels


@pytest.fixture()
def gdf():
    return gpd.GeoDataFrame({"项目编号": ["A", "B"], "项目名称": ["甲", "乙"]},
                            geometry=[box(123.40, 45.94, 123.41, 45.95), box(123.70, 45.34, 123.71, 45.35)],
                            crs="EPSG:4490")


def test_geopackage_layers_and_geojson(tmp_path, gdf):
    gdf.to_file(tmp_path / "a.gpkg", layer="one")
    gdf.iloc[:1].to_file(tmp_path / "a.gpkg", layer="two")
    assert list_layers(tmp_path / "a.gpkg") == ["one", "two"]
    r = read_parcels(tmp_path / "a.gpkg", layer="two")
    assert r.source.endswith("a.gpkg:two") and r.n_read == 1 and r.frame["项目名称"].tolist() == ["甲"]
    assert r.notes == ["文本编码:UTF-8(GeoPackage 规定)"]
    assert read_parcels(tmp_path / "a.gpkg", layer="two", lang="en").notes == ["text encoding: UTF-8 (GeoPackage)"]
    with pytest.raises(InputError, match="no layer 'three'; its layers are one, two"):
        read_parcels(tmp_path / "a.gpkg", layer="three")
    gdf.to_crs(4326).to_file(tmp_path / "a.geojson")
    r = read_parcels(tmp_path / "a.geojson")
    assert r.frame.crs.to_epsg() == 4490 and r.frame["_row"].tolist() == [1, 2]
    assert shapely.equals_exact(r.frame.geometry.iloc[0], gdf.geometry.iloc[0], 1e-9)


def test_declared_gk_is_transformed(tmp_path, gdf):
    gdf.to_crs("EPSG:4529").to_file(tmp_path / "gk.shp", encoding="GBK")
    r = read_parcels(tmp_path / "gk.shp")
    assert r.crs_note == "EPSG:4529(文件中声明,已与坐标核对)"  # Chinese by default
    assert read_parcels(tmp_path / "gk.shp", lang="en").crs_note == (
        "EPSG:4529 (declared in the file, checked against the coordinates)")
    assert shapely.hausdorff_distance(r.frame.geometry.iloc[0], gdf.geometry.iloc[0]) < 1e-8


def test_crs_override_and_bad_override(tmp_path, gdf):
    gdf.to_crs("EPSG:4550").to_file(tmp_path / "p.geojson", driver="GeoJSON")  # GeoJSON keeps the CRS
    r = read_parcels(tmp_path / "p.geojson", crs="EPSG:4550", lang="en")
    assert r.crs_note == "EPSG:4550 (given with --crs)"
    assert read_parcels(tmp_path / "p.geojson", crs="EPSG:4550").crs_note == "EPSG:4550(由 --crs 指定)"
    with pytest.raises(CRSError, match="--crs EPSG:4490 does not fit the coordinates"):
        read_parcels(tmp_path / "p.geojson", crs="EPSG:4490")
    with pytest.raises(CRSError, match="--crs 'EPSG:999999' is not a CRS pyproj knows"):
        read_parcels(tmp_path / "p.geojson", crs="EPSG:999999")


def test_encoding_detection_and_override(tmp_path):
    assert detect_encoding("镇赉".encode("gb18030")) == "GB18030"
    assert detect_encoding(b"plain") == "UTF-8"
    p = tmp_path / "p.csv"
    p.write_bytes("项目编号,wkt\nA,\"POLYGON((123.4 45.94,123.41 45.94,123.41 45.95,123.4 45.94))\"\n".encode("gbk"))
    r = read_parcels(p, lang="en")
    assert r.encoding == "GB18030 (detected)" and r.frame["项目编号"].tolist() == ["A"]
    assert r.notes == ["text encoding: GB18030 (detected)",
                       "no CRS in the file; EPSG:4490 guessed: values x 123.4…123.41, y 45.94…45.95 are "
                       "longitude/latitude in degrees in China; assumed China Geodetic Coordinate System 2000 "
                       "(EPSG:4490)"]
    assert read_parcels(p, encoding="gbk", lang="en").encoding == "GBK (given)"
    r = read_parcels(p)  # Chinese by default
    assert r.encoding == "GB18030(自动识别)"
    assert r.notes == ["文本编码:GB18030(自动识别)",
                       "文件中未声明坐标系;推测为 EPSG:4490,依据:坐标值 x 123.4…123.41、y 45.94…45.95 为中国境内的"
                       "经纬度(度),按 China Geodetic Coordinate System 2000 (EPSG:4490) 处理"]
    assert read_parcels(p, encoding="gbk").notes[0] == "文本编码:GBK(由 --encoding 指定)"


def test_shapefile_without_cpg_notes(tmp_path, gdf):
    ascii_only = gdf.assign(项目名称=["a", "b"]).rename(columns={"项目编号": "XMBH", "项目名称": "XMMC"})
    ascii_only.to_file(tmp_path / "a.shp")
    (tmp_path / "a.cpg").unlink()
    assert read_parcels(tmp_path / "a.shp").notes[0] == "文本编码:UTF-8(无 .cpg 文件,属性均为 ASCII 字符)"
    assert read_parcels(tmp_path / "a.shp", lang="en").notes[0] == "text encoding: UTF-8 (plain ASCII, no .cpg)"
    assert read_parcels(tmp_path / "a.shp", encoding="gbk").notes[0] == "文本编码:GBK(由 --encoding 指定)"


def test_clean_geometries_cases():
    geoms = np.array([
        box(0, 0, 1, 1),
        Polygon([(0, 0), (2, 0), (2, 2), (1, 2), (1, -1), (0, -1)]),   # self-touching/overlapping ring
        shapely.GeometryCollection([shapely.Point(0, 0)]),
        shapely.LineString([(0, 0), (1, 1)]),
        shapely.Polygon(),
        None,
    ], dtype=object)
    out, rej, rep = clean_geometries(geoms, lang="en")
    assert out[0].equals(box(0, 0, 1, 1)) and rej[0] is None and rep[0] is None
    assert out[1].is_valid and rep[1].startswith("Self-intersection") or "repaired (make_valid" in rep[1]
    assert rej[2] == "geometry collection without any polygon; parcels must be polygons"
    assert rej[3].startswith("geometry is a 线 line (LineString)")
    assert rej[4] == rej[5] == "empty geometry (no coordinates); draw the parcel"
    out, rej, rep = clean_geometries(geoms)  # Chinese by default
    assert rej[2] == "几何集合中没有多边形;地块必须是多边形(面)"
    assert rej[3] == "图形是线(LineString),不是多边形;地块必须是多边形(面)"
    assert rej[4] == rej[5] == "图形为空(没有坐标);请绘制该地块"
