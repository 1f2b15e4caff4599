"""Hostile inputs to ``agrigis import`` (issue 14, items 6, 8–12 and the smaller ones):
control characters, source columns named like ours, formula-looking rejects, archive
bombs, long numeric codes in a DBF, huge WKT in a CSV, decimal commas, full-width codes
and absurd coordinates. Every input is made here, small, as a real file."""

from __future__ import annotations

import json
import os
import re
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from gis.errors import CRSError, DataFileError
from layers.fields import map_fields, parse_number
from layers.registry import Registry
from workflows.cli import main
from workflows.importing import import_files

sys.path.insert(0, str(Path(__file__).parent / "data"))
import make_bad_inputs as mb  # noqa: E402


@pytest.fixture(scope="module")
def counties():
    import layers

    return layers.load("counties", workspace=False)


def _feature(i: int = 0, shape_=None, **props) -> dict:
    g = mb.parcels().geometry.iloc[i] if shape_ is None else shape_
    return {"type": "Feature", "properties": mb._props(i, **props), "geometry": json.loads(shapely.to_geojson(g))}


def _geojson(folder: Path, name: str, features: list) -> Path:
    return mb._geojson(features, folder, name)


def _cli(*args) -> object:
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in res.output, res.output
    assert isinstance(res.exception, (SystemExit, type(None))), repr(res.exception)
    return res


# -- item 6: control characters --------------------------------------------------------


def test_control_characters_are_removed_on_import_with_a_repair_note(tmp_path):
    feats = [_feature(0, 项目编号="P\x0b1", 项目名称="镇赉\x0c项目"), _feature(1)]
    feats[1]["properties"]["备\x07注"] = "x"
    src = _geojson(tmp_path, "ctrl", feats)
    reg = tmp_path / "r.gpkg"
    res = _cli("import", src, "--registry", reg, "--lang", "en")
    assert res.exit_code == 0, res.output
    p = Registry(reg).projects().set_index("project_code")
    assert sorted(p.index) == ["D1", "P1"]
    assert p.loc["P1", "project_name"] == "镇赉项目"
    assert re.search(r"repaired row 1: control characters removed from '项目编号', '项目名称'", res.output)
    assert "column name '备\\x07注' cleaned to '备注'" in res.output
    out = tmp_path / "check"
    res = _cli("check", "--registry", reg, "-o", out)
    assert res.exit_code == 0, res.output
    assert (out / "check.xlsx").stat().st_size > 0


# -- item 8: source columns named like ours --------------------------------------------

COLLIDING = ["fid", "FID", "reason", "row", "Row", "wkt", "geom", "geometry", "_row", "_repair"]


@pytest.mark.parametrize("name", COLLIDING)
def test_source_columns_never_collide_with_ours(name, tmp_path, counties):
    feats = [_feature(0, **{name: "a"}), _feature(1, 项目类型="鱼塘", **{name: "b"})]
    src = _geojson(tmp_path, "cols", feats)
    f = import_files(src, tmp_path / "r.gpkg", counties=counties, lang="en").files[0]
    assert (f.n_accepted, f.n_rejected) == (1, 1)
    csv = pd.read_csv(f.rejects_csv, dtype=str)
    gpkg = pyogrio.read_dataframe(f.rejects_gpkg)
    for table in (csv, gpkg):
        assert table["row"].astype(int).tolist() == [2]
        assert table["reason"].iloc[0].startswith("category '鱼塘' is unknown")
        kept = [c for c in table.columns if c.lower() == f"src_{name}".lower()]
        assert kept and table[kept[0]].tolist() == ["b"], table.columns.tolist()
    assert shapely.from_wkt(csv["wkt"].iloc[0]).equals(mb.parcels().geometry.iloc[1])


def test_a_column_named_fid_via_cli_has_no_false_advice(tmp_path):
    feats = [_feature(0, fid="1"), _feature(1, 项目类型="鱼塘", fid="x")]
    res = _cli("import", _geojson(tmp_path, "qgis", feats), "--registry", tmp_path / "r.gpkg")
    assert res.exit_code == 0, res.output
    assert "拒绝" in res.output and "有写入权限" not in res.output


# -- rejects files: through gis.outputs ------------------------------------------------


def test_rejects_csv_neutralises_formulas(tmp_path, counties):
    feats = [_feature(0), _feature(1, 项目名称='=HYPERLINK("http://x")', 项目类型="鱼塘")]
    f = import_files(_geojson(tmp_path, "f", feats), tmp_path / "r.gpkg", counties=counties).files[0]
    text = f.rejects_csv.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK(\"\"http://x\"\")" in text
    assert pd.read_csv(f.rejects_csv)["项目名称"].tolist() == ["'=HYPERLINK(\"http://x\")"]


def test_rejects_on_a_full_disk_leave_the_old_ones_and_the_registry(tmp_path, counties, small_disk):
    d = small_disk("1m")
    feats = [_feature(0), _feature(1, 项目类型="鱼塘")]
    src = _geojson(d.path, "f", feats)
    import_files(src, tmp_path / "r.gpkg", counties=counties, lang="en")
    old_csv = (d.path / "f.geojson.rejects.csv").read_bytes()
    old_gpkg = (d.path / "f.geojson.rejects.gpkg").read_bytes()
    feats[0]["properties"]["状态"] = "搁置"  # now two rejects
    src.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), "utf-8")
    d.fill()
    with pytest.raises(DataFileError, match=r"the disk is full"):
        import_files(src, tmp_path / "r.gpkg", counties=counties, lang="en", update=True)
    d.free()
    assert (d.path / "f.geojson.rejects.csv").read_bytes() == old_csv
    assert (d.path / "f.geojson.rejects.gpkg").read_bytes() == old_gpkg
    assert len(Registry(tmp_path / "r.gpkg").batches()) == 1
    assert [p.name for p in d.path.iterdir() if p.name.startswith(".")] == []


def test_rejects_beside_a_read_only_input_say_copy_the_file(tmp_path, counties, small_disk):
    d = small_disk("1m")
    src = _geojson(d.path, "f", [_feature(0), _feature(1, 项目类型="鱼塘")])
    d.read_only(True)
    with pytest.raises(DataFileError, match=r"cannot write the rejected rows beside the input .*nothing was "
                                            r"imported. Copy the file to a folder you can write to"):
        import_files(src, tmp_path / "r.gpkg", counties=counties, lang="en")
    d.read_only(False)
    assert sorted(p.name for p in d.path.iterdir()) == ["f.geojson"]
    assert len(Registry(tmp_path / "r.gpkg").batches()) == 0


# -- item 9: archives ------------------------------------------------------------------


def _zipped_layer(path: Path, extra: dict[str, bytes] | None = None, n_tiny: int = 0) -> Path:
    tmp = Path(tempfile.mkdtemp(dir=path.parent))
    mb._shp(mb.parcels(), tmp, "parcels")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(tmp.iterdir()):
            z.write(p, f"layer/{p.name}")
            p.unlink()
        for name, data in (extra or {}).items():
            z.writestr(name, data)
        for i in range(n_tiny):
            z.writestr(f"t/{i}.txt", b"")
    tmp.rmdir()
    return path


def test_a_bomb_member_outside_the_layer_is_never_unpacked(tmp_path, counties, monkeypatch):
    import layers.io as lio

    zeros = b"\0" * (20 << 20)  # 20 MiB of zeros: ~20 KB packed, ratio ~1000:1
    src = _zipped_layer(tmp_path / "big.zip", {"ortho/huge.tif": zeros})
    monkeypatch.setattr(lio, "MAX_UNPACKED_BYTES", 1 << 20)  # the layer is < 1 MiB, the extra member not
    f = import_files(src, tmp_path / "r.gpkg", counties=counties, lang="en").files[0]
    assert f.n_accepted == 3 and f.source == f"{src}!layer/parcels.shp"


def test_a_kmz_bomb_is_refused_before_unpacking(tmp_path):
    src = tmp_path / "bomb.kmz"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("doc.kml", b"<kml>" + b" " * (20 << 20) + b"</kml>")
    res = _cli("import", src, "--registry", tmp_path / "r.gpkg", "--lang", "en")
    assert res.exit_code == 1
    assert re.search(rf"{re.escape(str(src))}!doc\.kml: expands to 21\.0 MB from \d+ KB \(ratio \d+:1", res.output)
    assert "agrigis-read-" not in res.output and not (tmp_path / "r.gpkg").exists()


def test_total_unpacked_size_is_bounded(tmp_path, monkeypatch):
    import layers.io as lio

    monkeypatch.setattr(lio, "MAX_UNPACKED_BYTES", 1000)
    src = _zipped_layer(tmp_path / "layer.zip")
    with pytest.raises(DataFileError, match=r"layer\.zip!layer/parcels\.\w+: .* more than the 1000 bytes"):
        lio.read_parcels(src)


def test_an_archive_with_too_many_entries_is_refused(tmp_path):
    src = _zipped_layer(tmp_path / "many.zip", n_tiny=20_000)
    with pytest.raises(DataFileError, match=r"many\.zip: the archive holds 20005 entries; more than 10000"):
        import_files(src, tmp_path / "r.gpkg")


def test_a_central_directory_that_lies_about_sizes(tmp_path):
    """The bytes really written are counted: an entry that says 100 bytes gives no more."""
    src = tmp_path / "liar.kmz"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("doc.kml", b"<kml>" + b" " * 300_000 + b"</kml>")
    data = bytearray(src.read_bytes())
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 100)  # uncompressed size in the central directory
    lh = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, lh + 22, 100)  # and in the local header
    src.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match=r"liar\.kmz!doc\.kml: .*corrupt"):
        import_files(src, tmp_path / "r.gpkg")


def test_archive_member_errors_name_archive_and_member(tmp_path):
    src = _zipped_layer(tmp_path / "noshx.zip")
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist() if not n.endswith(".shx")}
    with zipfile.ZipFile(src, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    with pytest.raises(DataFileError) as ei:
        import_files(src, tmp_path / "r.gpkg")
    assert f"{src}!layer/parcels.shp" in str(ei.value) and "agrigis-read-" not in str(ei.value)
    assert "agrigis-read-" not in ei.value.text("zh")


def test_unpacking_onto_a_full_temporary_disk_is_a_clear_error(tmp_path, small_disk, monkeypatch):
    d = small_disk("1m")
    monkeypatch.setattr(tempfile, "tempdir", str(d.path))
    src = tmp_path / "big.kmz"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("doc.kml", b"<kml><!-- " + os.urandom(1_500_000).hex().encode() + b" --></kml>")
    res = _cli("import", src, "--registry", tmp_path / "r.gpkg", "--lang", "en")
    assert res.exit_code == 1
    assert re.search(rf"cannot unpack {re.escape(str(src))}!doc\.kml: the temporary folder .* is full", res.output)
    assert list(d.path.iterdir()) == []


# -- item 10: long numeric codes in a DBF ----------------------------------------------


def _write_dbf(path: Path, fields: list[tuple[str, str, int, int]], records: list[tuple]) -> None:
    """A dBASE III file written byte by byte: (name, type, width, decimals) fields."""
    rec_len = 1 + sum(w for _, _, w, _ in fields)
    head_len = 32 + 32 * len(fields) + 1
    out = bytearray(struct.pack("<BBBBIHH20x", 3, 124, 1, 1, len(records), head_len, rec_len))
    for name, typ, width, dec in fields:
        out += struct.pack("<11sc4xBB14x", name.encode("ascii"), typ.encode("ascii"), width, dec)
    out += b"\r"
    for rec in records:
        out += b" "
        for (_, typ, width, _), v in zip(fields, rec, strict=True):
            s = str(v).encode("utf-8")
            out += s.rjust(width) if typ in "NF" else s.ljust(width)
    out += b"\x1a"
    path.write_bytes(bytes(out))


def test_an_18_digit_code_in_a_dbf_numeric_column_keeps_every_digit(tmp_path, counties):
    shp = mb._shp(mb.parcels(2)[["geometry"]].assign(a=[1, 2]), tmp_path, "codes")
    fields = [("XMBH", "N", 20, 0), ("XMLX", "C", 30, 0), ("JSND", "N", 4, 0), ("ZT", "C", 20, 0),
              ("MJ", "N", 12, 2)]
    records = [("220821202400000123", "afforestation", 2024, "planned", "1300.50"),
               ("220882202400000457", "afforestation", 2024, "planned", "12.00")]
    _write_dbf(shp.with_suffix(".dbf"), fields, records)
    shp.with_suffix(".cpg").write_text("UTF-8")
    f = import_files(shp, tmp_path / "r.gpkg", counties=counties, lang="en").files[0]
    assert f.n_accepted == 2, f.rejects
    p = Registry(tmp_path / "r.gpkg").projects().set_index("project_code")
    assert sorted(p.index) == ["220821202400000123", "220882202400000457"]
    assert p.loc["220821202400000123", "declared_area_mu"] == 1300.5


def test_a_float_code_beyond_2_53_is_refused_with_the_reason():
    df = pd.DataFrame({"xmbh": [2.2082120240000013e17, 12345.0], "xmlx": ["afforestation"] * 2,
                       "jsnd": [2024, 2024], "zt": ["planned"] * 2})
    rows, rej = map_fields(df, source="a.geojson", lang="en")
    assert rows["project_code"].tolist() == ["12345"]
    assert rej["reason"].iloc[0] == (
        "project code 220821202400000128 is stored as a floating-point number above 2^53 "
        "(9007199254740992), so its last digits may be wrong (column 'xmbh'); store project codes as text "
        "and export the file again")
    assert rej["_row"].tolist() == [1]


# -- item 11: WKT with many vertices in a CSV ------------------------------------------


def test_a_10000_vertex_wkt_in_a_csv_is_read(tmp_path, counties):
    import numpy as np

    t = np.linspace(0, 2 * np.pi, 10_000, endpoint=False)
    ring = np.c_[123.45 + 0.01 * np.cos(t), 45.97 + 0.01 * np.sin(t)]
    poly = shapely.Polygon(ring)
    assert len(poly.wkt) > 131_072
    src = tmp_path / "big.csv"
    pd.DataFrame({"项目编号": ["Z1"], "项目类型": ["造林"], "建设年度": [2024], "状态": ["规划"],
                  "wkt": [poly.wkt]}).to_csv(src, index=False)
    f = import_files(src, tmp_path / "r.gpkg", counties=counties, lang="en").files[0]
    assert (f.n_accepted, f.n_rejected) == (1, 0)
    got = Registry(tmp_path / "r.gpkg").projects().geometry.iloc[0]
    assert shapely.get_num_coordinates(got) == 10_001


# -- item 12: numbers with commas, full-width and near-duplicate codes -----------------


@pytest.mark.parametrize("raw, value", [("12,5", 12.5), ("1,234.5", 1234.5), ("1,234", 1234.0),
                                        ("12,345,678", 12345678.0), ("1234,5", 1234.5), ("1200亩", 1200.0)])
def test_commas_in_numbers(raw, value):
    assert parse_number(raw, "area") == value


@pytest.mark.parametrize("raw", ["1,2,3", "1.234,5", "12,34.5", ",5"])
def test_ambiguous_commas_are_refused(raw):
    with pytest.raises(ValueError, match=r"neither thousands groups .* nor one decimal comma"):
        parse_number(raw, "area")


def test_decimal_comma_is_read_with_a_repair_note(tmp_path, counties):
    feats = [_feature(0, **{"面积(亩)": "12,5"}), _feature(1, **{"面积(亩)": "1,234"}),
             _feature(2, **{"面积(亩)": "1,234.5"})]
    f = import_files(_geojson(tmp_path, "comma", feats), tmp_path / "r.gpkg", counties=counties,
                     lang="en").files[0]
    p = Registry(tmp_path / "r.gpkg").projects().set_index("project_code")
    assert p["declared_area_mu"].to_dict() == {"Z1": 12.5, "D1": 1234.0, "T1": 1234.5}
    assert f.repairs.values.tolist() == [
        [1, "area '12,5' read as 12.5: the comma is taken as a decimal point (thousands are grouped in threes, "
            "like 1,234) (column '面积(亩)')"]]


def test_full_width_codes_are_normalised_and_near_duplicates_refused(tmp_path, counties):
    feats = [_feature(0, 项目编号="Ｐ１ "), _feature(1, 项目编号="HSF-2024-01"), _feature(2, 项目编号="hsf 2024 01")]
    f = import_files(_geojson(tmp_path, "codes", feats), tmp_path / "r.gpkg", counties=counties,
                     lang="en").files[0]
    assert Registry(tmp_path / "r.gpkg").projects()["project_code"].tolist() == ["P1"]
    assert f.repairs.values.tolist() == [[1, "project code 'Ｐ１' written as 'P1' (full-width characters and "
                                             "spaces normalised)"]]
    assert dict(zip(f.rejects["row"], f.rejects["reason"], strict=True)) == {
        2: "project code 'HSF-2024-01' differs from 'hsf 2024 01' (rows 2, 3) only in case, spaces, hyphens or "
           "underscores; write one project's code the same way everywhere, or give the projects clearly "
           "different codes",
        3: "project code 'hsf 2024 01' differs from 'HSF-2024-01' (rows 2, 3) only in case, spaces, hyphens or "
           "underscores; write one project's code the same way everywhere, or give the projects clearly "
           "different codes"}


# -- smaller: huge coordinates ----------------------------------------------------------


def test_huge_coordinates_print_short_numbers(tmp_path):
    geom = shapely.Polygon([(1e300, 1e300), (2e300, 1e300), (2e300, 2e300)])
    src = _geojson(tmp_path, "huge", [_feature(0, shape_=geom)])
    with pytest.raises(CRSError) as ei:
        import_files(src, tmp_path / "r.gpkg")
    assert "x 1e+300…2e+300, y 1e+300…2e+300" in str(ei.value)
    assert max(len(w) for w in re.findall(r"\d+", str(ei.value))) < 20
