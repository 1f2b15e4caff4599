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


# -- section 2 leftovers: units, Excel, Amap, KML names, codes, empty imports, Z, columns --------------------


def _mapping(**columns):
    from layers.fields import load_mapping

    m = load_mapping()
    m.extend({"columns": columns}, "test")
    return m


@needs_real
def test_area_column_in_m2_is_inferred_from_its_ratio():
    from layers.fields import map_fields
    from workflows.importing import _declared_area_unit

    res = read_parcels(REAL / "huyingchu" / "polygon_51RUM_confirm.shp", lang="en")
    m = _mapping(project_code=["polygon_id"])
    rows, _ = map_fields(res.frame.drop(columns="geometry"), m, category="paddy_new", year=2024, status="planned")
    rows = gpd.GeoDataFrame(rows, geometry=res.frame.geometry.loc[rows.index], crs="EPSG:4490")
    raw = rows["declared_area_mu"].copy()
    notes = _declared_area_unit(rows, res.frame.columns, m, res.source, "en")
    assert len(notes) == 1 and notes[0].startswith("declared-area column 'area' names no unit; its values are about 666")
    assert "(100 % of the parcels), so they were read as m² and converted to mu" in notes[0]
    assert rows["declared_area_mu"].to_numpy() == pytest.approx(raw.to_numpy() * 3 / 2000)


def _area_rows(declared):
    from gis.area import area_mu

    geoms = [shapely.box(122.8, 45.6, 122.8 + 0.001 * (k + 1), 45.601) for k in range(len(declared))]
    mu = area_mu(geoms, crs="EPSG:4490")
    return gpd.GeoDataFrame({"declared_area_mu": [d * m for d, m in zip(declared, mu, strict=True)]}, geometry=geoms,
                            crs="EPSG:4490"), mu


@pytest.mark.parametrize(("factor", "unit"), [(1 / 15, "ha"), (1e-4, "10k mu"), (1.02, None)])
def test_area_units_ha_wan_mu_and_mu(factor, unit):
    from layers.fields import load_mapping
    from workflows.importing import _declared_area_unit

    rows, mu = _area_rows([factor] * 4)
    notes = _declared_area_unit(rows, ["项目编号", "面积"], load_mapping(), "a.csv", "en")
    if unit is None:  # 亩 as assumed: nothing to say
        assert notes == [] and rows["declared_area_mu"].to_numpy() == pytest.approx(mu * 1.02)
    else:
        assert f"so they were read as {unit} and converted to mu" in notes[0]
        assert rows["declared_area_mu"].to_numpy() == pytest.approx(mu)


def test_ambiguous_area_unit_is_refused():
    from gis.errors import InputError
    from layers.fields import load_mapping
    from workflows.importing import _declared_area_unit

    rows, _ = _area_rows([0.25, 0.3, 0.2])  # between 亩 (1) and 公顷 (0.0667)
    with pytest.raises(InputError, match=r"a.csv: declared-area column '面积' names no unit, and its ratio to the "
                                         r"computed area \(median 0.25, only 0 % of the parcels agreeing\) fits none"):
        _declared_area_unit(rows, ["项目编号", "面积"], load_mapping(), "a.csv", "en")
    named, _ = _area_rows([0.25, 0.3, 0.2])  # a unit in the name is taken as it is
    assert _declared_area_unit(named, ["项目编号", "面积(亩)"], load_mapping(), "a.csv", "en") == []


@needs_real
def test_one_parcel_boundary_point_table_is_one_parcel():
    res = read_parcels(REAL / "liuxspro" / "坐标_投影.csv", lang="en")
    assert res.frame["项目编号"].tolist() == ["坐标_投影"] and len(res.rejects) == 0
    assert ("坐标_投影.csv: a boundary-point table without a project-code column: its 6 points read as one parcel, "
            "coded '坐标_投影' after the file name") in res.notes[1]
    assert "EPSG:4527 guessed: axes are swapped" in res.notes[2]
    from gis.area import area_mu

    assert float(area_mu(res.frame.geometry.values, crs="EPSG:4490")[0]) == pytest.approx(
        float(area_mu([res.frame.geometry.iloc[0]], crs="EPSG:4490")[0]))
    assert len(shapely.get_coordinates(res.frame.geometry.iloc[0])) == 7  # 6 points, closed


def test_points_with_real_codes_stay_points(tmp_path):
    p = tmp_path / "sites.csv"
    p.write_text("项目编号,经度,纬度\nHSF-A,122.80,45.60\nHSF-B,122.81,45.61\nPN-C,122.82,45.62\n", encoding="utf-8")
    res = read_parcels(p, lang="en")
    assert len(res.frame) == 0 and res.rejects["reason"].str.startswith("a point").all()


def _xlsx(path: Path, rows, merge=(), sheets=("坐标",)) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name in sheets:
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        for m in merge:
            ws.merge_cells(m)
    wb.save(path)
    return path


def test_xlsx_boundary_table_with_title_merged_header_and_text_numbers(tmp_path):
    rows = [["洮北区 XX 地块界址点坐标表", None, None], ["点号", "坐标", None], [None, "经度", "纬度"],
            ["J1", "122.80", 45.60], ["J2", "１２２.８１", 45.60], ["J3", 122.81, "45.61"], ["J4", 122.80, 45.61]]
    p = _xlsx(tmp_path / "地块A.xlsx", rows, merge=["A1:C1", "B2:C2", "A2:A3"])
    res = read_parcels(p, lang="en")
    assert res.source == f"{p}:坐标"
    assert res.notes[0] == f"{p} sheet '坐标': the 2 rows above the header (titles) skipped"
    assert res.frame["项目编号"].tolist() == ["地块A"]
    assert res.frame.geometry.iloc[0].equals(shapely.box(122.80, 45.60, 122.81, 45.61).exterior.convex_hull) or \
        shapely.equals(res.frame.geometry.iloc[0], shapely.box(122.80, 45.60, 122.81, 45.61))


def test_xlsx_parcel_list_and_sheet_choice(tmp_path):
    rows = [["项目编号", "wkt", "面积(亩)"], ["P1", "POLYGON ((122.8 45.6, 122.81 45.6, 122.81 45.61, 122.8 45.6))", 1]]
    p = _xlsx(tmp_path / "list.xlsx", rows, sheets=("2023", "2024"))
    with pytest.raises(Exception, match=r"list.xlsx: 2 sheets hold data \(2023, 2024\); choose one with --layer SHEET"):
        read_parcels(p, lang="en")
    with pytest.raises(Exception, match=r"list.xlsx: no sheet '2025'; its sheets are 2023, 2024"):
        read_parcels(p, layer="2025", lang="en")
    res = read_parcels(p, layer="2024", lang="en")
    assert res.frame["项目编号"].tolist() == ["P1"] and res.frame["面积(亩)"].tolist() == ["1"]


def test_xls_read_with_xlrd(tmp_path):
    """A real .xls (BIFF8) made here: xlrd reads it like the .xlsx."""
    import xlwt  # test-only: writes the frozen BIFF8 format the county offices' old Excel saves
    wb = xlwt.Workbook()
    ws = wb.add_sheet("Sheet1")
    for i, r in enumerate([["编号", "经度", "纬度"], [1, 122.80, 45.60], [2, 122.81, 45.60], [3, 122.81, 45.61]]):
        for j, v in enumerate(r):
            ws.write(i, j, v)
    wb.save(str(tmp_path / "t.xls"))
    res = read_parcels(tmp_path / "t.xls", lang="en")
    assert res.frame["项目编号"].tolist() == ["t"]


@needs_real
def test_amap_bare_json_array_is_read_and_flagged():
    res = read_parcels(REAL / "tnnevol" / "220800.json", lang="en")
    assert len(res.frame) == 5 and res.frame["name"].tolist()[0] == "洮北区"
    assert res.notes[0].endswith("220800.json: a bare JSON array of 5 features (no FeatureCollection) read as a "
                                 "feature collection")
    assert "the features carry Amap/DataV attributes (adcode, centroid, childrenNum, subFeatureIndex, acroutes)" \
           in res.notes[1] and res.notes[1].endswith("import it again with --source-datum gcj02")
    quiet = read_parcels(REAL / "tnnevol" / "220800.json", source_datum="gcj02", lang="en")
    assert not any("Amap/DataV attributes" in n for n in quiet.notes)


def test_json_array_of_other_things_is_refused(tmp_path):
    p = tmp_path / "a.json"
    p.write_text('[{"type": "Feature", "properties": {}, "geometry": null}, {"lon": 1}]', encoding="utf-8")
    with pytest.raises(DataFileError, match=r'a.json: the file is a JSON array, but item 2 is not a GeoJSON Feature: '
                                            r'\{"lon": 1\}; export it as a GeoJSON FeatureCollection'):
        read_parcels(p, lang="en")


@needs_real
def test_amap_outlines_without_signature_match_counties_only_after_shift(tmp_path):
    import json

    import layers
    from workflows.importing import prepare_file

    items = json.loads((REAL / "tnnevol" / "220821.json").read_text(encoding="utf-8"))
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"项目编号": f"Z{i}"}, "geometry": f["geometry"]} for i, f in enumerate(items)]}
    p = tmp_path / "zhenlai.geojson"
    p.write_text(json.dumps(fc), encoding="utf-8")
    counties = layers.load("counties", workspace=False)
    prep = prepare_file(p, counties=counties, mapping=_mapping(), category="afforestation", year=2024,
                        status="planned", lang="en")
    warn = [n for n in prep.report.notes if "shifted back from GCJ-02" in n]
    assert len(warn) == 1 and warn[0].endswith("import again with --source-datum gcj02")
    ok = prepare_file(p, counties=counties, mapping=_mapping(), category="afforestation", year=2024,
                      status="planned", source_datum="gcj02", lang="en")
    assert not any("GCJ-02" in n and "import again" in n for n in ok.report.notes)


@needs_real
def test_kml_default_names_are_not_one_parcel():
    from layers.fields import map_fields

    res = read_parcels(REAL / "liuxspro" / "测试.kml", lang="en")
    assert res.notes == [f"{REAL / 'liuxspro' / '测试.kml'}: 3 placemarks carry a default name (未命名多边形, 未命名路径), "
                         "which is no name or code and was cleared; they stay separate parcels, never merged"]
    rows, rejects = map_fields(res.frame.drop(columns="geometry"), _mapping(project_code=["Name"]),
                               category="paddy_new", year=2024, status="planned", lang="en")
    assert len(rows) == 0 and len(rejects) == 2  # each placemark on its own, none merged


def test_generic_code_column_is_not_the_project_code():
    import pandas as pd

    from gis.errors import InputError
    from layers.fields import map_fields

    df = pd.DataFrame({"code": ["a", "b"], "_row": [1, 2], "_repair": [None, None]})
    with pytest.raises(InputError, match=r"x.shp: no project code column; found columns code\. Rename"):
        map_fields(df, source="x.shp", category="paddy_new", year=2024, status="planned", lang="en")


@needs_real
def test_import_accepting_no_row_exits_1_and_writes_nothing(tmp_path):
    import shutil

    from click.testing import CliRunner

    from workflows.cli import main

    src = tmp_path / "坐标-经纬度.csv"
    shutil.copy(REAL / "liuxspro" / "坐标-经纬度.csv", src)
    r = CliRunner().invoke(main, ["import", str(src), "--lang", "en", "--category", "paddy_new", "--year", "2024",
                                  "--status", "planned", "--registry", str(tmp_path / "r.gpkg")])
    assert r.exit_code == 1, r.output
    assert f"{src}: none of the 1 rows can be imported (e.g. row 1: parcel lies outside Baicheng" in r.output
    assert "nothing was written to the registry" in r.output
    assert not (tmp_path / "r.gpkg").exists()


def test_z_dropped_note_survives_a_crs_transform(tmp_path):
    g = shapely.Polygon([(500000, 5050000, 140), (500500, 5050000, 141), (500500, 5050500, 142), (500000, 5050000, 140)])
    p = tmp_path / "z.gpkg"
    gpd.GeoDataFrame({"项目编号": ["Z1"]}, geometry=[g], crs="EPSG:4550").to_file(p)
    res = read_parcels(p, lang="en")
    assert res.frame["_repair"].tolist() == ["Z coordinates dropped"]
    assert not res.frame.geometry.iloc[0].has_z
