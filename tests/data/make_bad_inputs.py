"""Make the broken parcel files of the import test suite (never hand-edited binaries).

Every case is a small builder writing one input (a file, or a Shapefile set) into a
folder and returning the path to import. ``tests/test_bad_inputs.py`` builds them into a
temporary folder and asserts the exact outcome of each; run this script to look at them:

    python tests/data/make_bad_inputs.py tests/data/bad

Coordinates are real places in Baicheng (county of each parcel in ``COUNTY``), so the
county check is exercised too. All data here is synthetic.
"""

from __future__ import annotations

import json
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import shapely
from shapely import box

D = 0.01  # parcel size in degrees (≈ 780 m × 1110 m, ≈ 1300 亩)

# lower-left corners inside three counties
SITES = {
    "220821": (123.40, 45.94),  # 镇赉县
    "220882": (123.70, 45.34),  # 大安市
    "220822": (122.80, 44.74),  # 通榆县
}
COUNTY = {"Z1": "220821", "D1": "220882", "T1": "220822"}


def parcels(n: int = 3) -> gpd.GeoDataFrame:
    """The good base table: Chinese column names, as a county office sends it."""
    codes = ["Z1", "D1", "T1"][:n]
    geoms = [box(*SITES[COUNTY[c]], SITES[COUNTY[c]][0] + D, SITES[COUNTY[c]][1] + D) for c in codes]
    df = gpd.GeoDataFrame({
        "项目编号": codes,
        "项目名称": ["镇赉县高标准农田一期", "大安市新建水田", "通榆县盐碱地示范区"][:n],
        "项目类型": ["高标准农田", "新建水田", "盐碱地综合利用示范片区"][:n],
        "建设年度": [2024, 2024, 2023][:n],
        "状态": ["在建", "完工", "立项"][:n],
        "面积(亩)": [1300.0, 1340.0, 1360.0][:n],
        "县/区": ["镇赉县", "大安", "220822"][:n],
    }, geometry=geoms, crs="EPSG:4490")
    return df


def _shp(df: gpd.GeoDataFrame, folder: Path, name: str, encoding: str = "GBK", cpg: bool = True,
         prj: bool = True) -> Path:
    path = folder / f"{name}.shp"
    df.to_file(path, driver="ESRI Shapefile", encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    if not prj:
        path.with_suffix(".prj").unlink(missing_ok=True)
    return path


def _to(df, crs) -> gpd.GeoDataFrame:
    return df.to_crs(crs)


def _geojson(features: list, folder: Path, name: str) -> Path:
    path = folder / f"{name}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def _props(i: int = 0, **extra) -> dict:
    base = parcels().drop(columns="geometry").iloc[i].to_dict()
    base = {k: (v.item() if hasattr(v, "item") else v) for k, v in base.items()}
    base.update(extra)
    return base


def _ring(i: int = 0) -> list:
    x0, y0 = SITES[COUNTY[["Z1", "D1", "T1"][i]]]
    return [[x0, y0], [x0 + D, y0], [x0 + D, y0 + D], [x0, y0 + D], [x0, y0]]


# -- the cases ------------------------------------------------------------------------


def gbk_no_cpg(f):
    return _shp(parcels(), f, "gbk_no_cpg", encoding="GBK", cpg=False)


def utf8_cut_names(f):
    # UTF-8 DBF: 项目编号 is 12 bytes, cut to the 10-byte DBF limit inside a character
    return _shp(parcels(), f, "utf8_cut_names", encoding="UTF-8")


def gb18030_names(f):
    df = parcels()
    df.loc[0, "项目名称"] = "镇赉县𠀀䶮项目"  # characters outside GBK, in GB18030
    return _shp(df, f, "gb18030_names", encoding="GB18030", cpg=False)


def wrong_prj(f):
    # GK zone-41 metres (with the 41 prefix) but a .prj that says WGS 84
    path = _shp(_to(parcels(), "EPSG:4529"), f, "wrong_prj")
    path.with_suffix(".prj").write_text(pyproj.CRS("EPSG:4326").to_wkt("WKT1_ESRI"))
    return path


def noprj_lonlat(f):
    return _shp(parcels(), f, "noprj_lonlat", prj=False)


def noprj_gk_prefix(f):
    return _shp(_to(parcels(), "EPSG:4529"), f, "noprj_gk_prefix", prj=False)


def noprj_gk_noprefix(f):
    return _shp(_to(parcels(), "EPSG:4550"), f, "noprj_gk_noprefix", prj=False)


def noprj_swapped(f):
    df = parcels()
    df.geometry = shapely.transform(df.geometry.values, lambda c: c[:, ::-1])
    return _shp(df.set_crs(None, allow_override=True), f, "noprj_swapped", prj=False)


def shanghai(f):
    df = parcels()
    df.geometry = df.geometry.translate(121.47 - 123.4, 31.23 - 45.94)
    return _shp(df, f, "shanghai")


def gcj02(f):
    from gis.gcj02 import to_gcj02

    return _geojson([{"type": "Feature", "properties": _props(0),
                      "geometry": shapely.geometry.mapping(to_gcj02(parcels().geometry.iloc[0]))}], f, "gcj02")


def bowtie(f):
    x0, y0 = SITES["220821"]
    ring = [[x0, y0], [x0 + D, y0 + D], [x0 + D, y0], [x0, y0 + D], [x0, y0]]
    return _geojson([{"type": "Feature", "properties": _props(0), "geometry": {"type": "Polygon", "coordinates": [ring]}},
                     {"type": "Feature", "properties": _props(1), "geometry": {"type": "Polygon", "coordinates": [_ring(1)]}}],
                    f, "bowtie")


def ring_2pts(f):
    r = _ring(0)[:2]
    return _geojson([{"type": "Feature", "properties": _props(0), "geometry": {"type": "Polygon", "coordinates": [r]}},
                     {"type": "Feature", "properties": _props(1), "geometry": {"type": "Polygon", "coordinates": [_ring(1)]}}],
                    f, "ring_2pts")


def empty_geometry(f):
    return _geojson([{"type": "Feature", "properties": _props(0), "geometry": None},
                     {"type": "Feature", "properties": _props(1), "geometry": {"type": "Polygon", "coordinates": []}},
                     {"type": "Feature", "properties": _props(2), "geometry": {"type": "Polygon", "coordinates": [_ring(2)]}}],
                    f, "empty_geometry")


def points_lines(f):
    x0, y0 = SITES["220821"]
    return _geojson([{"type": "Feature", "properties": _props(0), "geometry": {"type": "Point", "coordinates": [x0, y0]}},
                     {"type": "Feature", "properties": _props(1),
                      "geometry": {"type": "LineString", "coordinates": _ring(1)[:3]}},
                     {"type": "Feature", "properties": _props(2), "geometry": {"type": "Polygon", "coordinates": [_ring(2)]}}],
                    f, "points_lines")


def z_coordinates(f):
    df = parcels()
    df.geometry = shapely.force_3d(df.geometry.values, 150.0)
    return _shp(df, f, "z_coordinates")


def duplicate_codes(f):
    df = parcels()
    df.loc[2, "项目编号"] = "Z1"
    return _shp(df, f, "duplicate_codes")


def unknown_category(f):
    df = parcels()
    df.loc[1, "项目类型"] = "鱼塘"
    return _shp(df, f, "unknown_category")


def year_20240(f):
    df = parcels()
    df["建设年度"] = df["建设年度"].astype(object)
    df.loc[0, "建设年度"] = 20240
    return _shp(df, f, "year_20240")


def negative_area(f):
    df = parcels()
    df.loc[2, "面积(亩)"] = -1360.0
    return _shp(df, f, "negative_area")


def text_area(f):
    df = parcels()
    df["面积(亩)"] = ["1300", "约1340亩", "1360"]
    return _shp(df, f, "text_area")


def truncated_shp(f):
    path = _shp(parcels(), f, "truncated_shp")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def zero_byte(f):
    path = f / "zero_byte.shp"
    path.write_bytes(b"")
    return path


def missing_dbf(f):
    path = _shp(parcels(), f, "missing_dbf")
    path.with_suffix(".dbf").unlink()
    return path


def missing_shx(f):
    path = _shp(parcels(), f, "missing_shx")
    path.with_suffix(".shx").unlink()
    return path


def shx_more_records(f):
    path = _shp(parcels(), f, "shx_more_records")
    shx = path.with_suffix(".shx")
    data = bytearray(shx.read_bytes())
    last_off, last_len = struct.unpack(">ii", data[-8:])
    for k in range(1, 3):  # two extra index entries pointing past the end of the .shp
        data += struct.pack(">ii", last_off + k * (last_len + 4), last_len)
    data[24:28] = struct.pack(">i", len(data) // 2)
    shx.write_bytes(bytes(data))
    return path


def kmz_empty_zip(f):
    path = f / "kmz_empty_zip.kmz"
    with zipfile.ZipFile(path, "w"):
        pass
    return path


def not_a_zip(f):
    path = f / "not_a_zip.zip"
    path.write_text("this is not a zip archive", encoding="utf-8")
    return path


def csv_broken_wkt(f):
    df = parcels().to_wkt()
    df.loc[1, "geometry"] = "POLYGON((123.7 45.34, 123.71 45.34, 123.71"
    path = f / "csv_broken_wkt.csv"
    df.rename(columns={"geometry": "wkt"}).to_csv(path, index=False, encoding="utf-8")
    return path


def csv_gbk_vertices(f):
    rows = []
    for i, code in enumerate(["Z1", "D1"]):
        for k, (x, y) in enumerate(_ring(i)[:-1]):
            rows.append({"项目编号": code, "项目名称": parcels().iloc[i]["项目名称"], "项目类型": "新建水田",
                         "建设年度": 2024, "状态": "规划", "序号": k + 1, "经度": x, "纬度": y})
    path = f / "csv_gbk_vertices.csv"
    pd.DataFrame(rows).to_csv(path, index=False, encoding="gbk")
    return path


def csv_points(f):
    path = f / "csv_points.csv"
    pd.DataFrame({"项目编号": ["Z1", "D1"], "项目类型": ["造林", "造林"], "建设年度": [2024, 2024], "状态": ["规划", "规划"],
                  "经度": [123.4, 123.7], "纬度": [45.94, 45.34]}).to_csv(path, index=False)
    return path


def gpkg_two_layers(f):
    path = f / "gpkg_two_layers.gpkg"
    parcels().to_file(path, layer="paddy", driver="GPKG")
    parcels().to_file(path, layer="farmland", driver="GPKG")
    return path


def no_code_column(f):
    return _shp(parcels().drop(columns=["项目编号"]), f, "no_code_column")


def county_mismatch(f):
    df = parcels()
    df.loc[1, "县/区"] = "镇赉县"  # but D1 lies in 大安市
    return _shp(df, f, "county_mismatch")


def unknown_county(f):
    df = parcels()
    df.loc[0, "县/区"] = "长春市"
    return _shp(df, f, "unknown_county")


def unknown_status(f):
    df = parcels()
    df.loc[2, "状态"] = "搁置"
    return _shp(df, f, "unknown_status")


def missing_code_value(f):
    df = parcels()
    df.loc[0, "项目编号"] = None
    return _shp(df, f, "missing_code_value")


def ambiguous_coordinates(f):
    df = parcels()
    df.geometry = df.geometry.translate(-123.0, -45.0)  # small numbers: no CRS fits
    return _shp(df.set_crs(None, allow_override=True), f, "ambiguous_coordinates", prj=False)


def bad_cpg(f):
    path = _shp(parcels(), f, "bad_cpg")
    path.with_suffix(".cpg").write_text("KLINGON-8")
    return path


def unknown_suffix(f):
    path = f / "parcels.dwg"
    path.write_bytes(b"AC1032" + bytes(100))
    return path


def zip_two_shapefiles(f):
    sub = f / "_zip2"
    sub.mkdir()
    _shp(parcels(), sub, "a")
    _shp(parcels(), sub, "b")
    path = f / "zip_two_shapefiles.zip"
    with zipfile.ZipFile(path, "w") as z:
        for p in sorted(sub.iterdir()):
            z.write(p, p.name)
    shutil.rmtree(sub)
    return path


def collection_polygon_line(f):
    coll = {"type": "GeometryCollection", "geometries": [
        {"type": "Polygon", "coordinates": [_ring(0)]},
        {"type": "LineString", "coordinates": _ring(1)[:2]}]}
    return _geojson([{"type": "Feature", "properties": _props(0), "geometry": coll}], f, "collection_polygon_line")


# good-but-unusual inputs, in the same suite
def zipped_shapefile(f):
    sub = f / "_zip1"
    sub.mkdir()
    _shp(parcels(), sub, "parcels")
    path = f / "zipped_shapefile.zip"
    with zipfile.ZipFile(path, "w") as z:
        for p in sorted(sub.iterdir()):
            z.write(p, f"parcels/{p.name}")
    shutil.rmtree(sub)
    return path


def kmz_good(f):
    kml = ['<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>']
    for i, code in enumerate(["Z1", "D1"]):
        coords = " ".join(f"{x},{y},0" for x, y in _ring(i))
        data = "".join(f"<Data name='{k}'><value>{v}</value></Data>" for k, v in
                       (("project_code", code), ("category", "afforestation"), ("year", 2024), ("status", "planned")))
        kml.append(f"<Placemark><name>{code}</name><ExtendedData>{data}"
                   f"</ExtendedData><Polygon><outerBoundaryIs><LinearRing><coordinates>{coords}</coordinates>"
                   "</LinearRing></outerBoundaryIs></Polygon></Placemark>")
    kml.append("</Document></kml>")
    path = f / "kmz_good.kmz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("doc.kml", "".join(kml))
    return path


def fieldmap_export(f):
    """What our field maps export: FeatureCollection, EPSG:4326 lon/lat, English properties."""
    props = {"project_code": "Z1", "project_name": "field sketch", "category": "paddy_new", "year": 2024,
             "status": "planned"}
    return _geojson([{"type": "Feature", "properties": props,
                      "geometry": {"type": "Polygon", "coordinates": [_ring(0)]}}], f, "fieldmap_export")


def fieldmap_two_sketches(f):
    """Two sketches of one project drawn on the field map: parts of one parcel."""
    feats = []
    for i in range(2):
        x0, y0 = SITES["220821"]
        ring = [[x0 + i * 0.02, y0], [x0 + i * 0.02 + D, y0], [x0 + i * 0.02 + D, y0 + D], [x0 + i * 0.02, y0 + D],
                [x0 + i * 0.02, y0]]
        feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                      "properties": {"project_code": "Z9", "project_name": "现场勾绘", "area_mu": [1292.79, 1300.0][i],
                                     "note": "sketch", "sketch": i + 1}})
    return _geojson(feats, f, "fieldmap_two_sketches")


CASES = {fn.__name__: fn for fn in [
    gbk_no_cpg, utf8_cut_names, gb18030_names, wrong_prj, noprj_lonlat, noprj_gk_prefix, noprj_gk_noprefix, noprj_swapped,
    shanghai, gcj02, bowtie, ring_2pts, empty_geometry, points_lines, z_coordinates, duplicate_codes,
    unknown_category, year_20240, negative_area, text_area, truncated_shp, zero_byte, missing_dbf, missing_shx,
    shx_more_records, kmz_empty_zip, not_a_zip, csv_broken_wkt, csv_gbk_vertices, csv_points, gpkg_two_layers,
    no_code_column, county_mismatch, unknown_county, unknown_status, missing_code_value, ambiguous_coordinates,
    bad_cpg, unknown_suffix, zip_two_shapefiles, collection_polygon_line, zipped_shapefile, kmz_good,
    fieldmap_export, fieldmap_two_sketches,
]}
"""Case name → builder(folder) → path to import."""


def build(name: str, folder: Path) -> Path:
    """Build one case into its own sub-folder of ``folder``."""
    sub = Path(folder) / name
    sub.mkdir(parents=True, exist_ok=True)
    return CASES[name](sub)


def build_all(folder: Path) -> dict[str, Path]:
    return {name: build(name, folder) for name in CASES}


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/bad")
    for name, path in build_all(out).items():
        print(f"{name:28s} {path}")
