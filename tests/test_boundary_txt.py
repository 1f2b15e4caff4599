"""The 自然资源部 boundary-point TXT: read through ``agrigis import``, written by
``agrigis registry export``. Files are made here, with the variations public tools write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
from click.testing import CliRunner

from gis.errors import CRSError, InputError
from layers.boundary_txt import parse
from layers.io import read_parcels
from layers.registry import Registry
from workflows.cli import main

# a corner in 洮北区 (122.80°E, 45.60°N) in CGCS2000 3° GK zone 41 with the prefix
_T = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4529", always_xy=True)
E0, N0 = (round(v, 3) for v in _T.transform(122.80, 45.60))

HEADER = {"格式版本号": "1.01版本", "数据产生单位": "洮北区自然资源局", "数据产生日期": "2024-05-01",
          "坐标系": "2000国家大地坐标系", "几度分带": "3", "投影类型": "高斯克吕格", "计量单位": "米",
          "带号": "41", "精度": "0.001", "转换参数": ",,,,,,"}


def rect(e, n, w, h):
    """Corner points (easting, northing) of a w × h rectangle, clockwise."""
    return [(e, n), (e, n + h), (e + w, n + h), (e + w, n)]


# A: 300 × 200 m with a 50 × 50 m hole → 5.75 ha; B: two 100 × 100 m squares → 2 ha
PARCEL_A = ("TB-001", 5.75, "东风地块", [rect(E0, N0, 300, 200), rect(E0 + 100, N0 + 50, 50, 50)])
PARCEL_B = ("TB-002", 2.0, "双片地块", [rect(E0 + 1000, N0, 100, 100), rect(E0 + 1500, N0, 100, 100)])


def make_txt(path: Path, parcels=(PARCEL_A, PARCEL_B), *, header=None, encoding="gbk", newline="\r\n",
             names="J{}", close=True, at=True, blank=False, offset_e=0.0) -> Path:
    """Write a boundary-point file by hand (no agrigis code), with the given variations."""
    head = dict(HEADER, **(header or {}))
    lines = ["[属性描述]", *(f"{k}={v}" for k, v in head.items()), "[地块坐标]"]
    for code, ha, name, rings in parcels:
        pts = []
        k = 0
        for ring_no, ring in enumerate(rings, start=1):
            first = k + 1
            for e, n in ring:
                k += 1
                pts.append(f"{names.format(k)},{ring_no},{n:.3f},{e + offset_e:.3f}")
            if close:
                e, n = ring[0]
                pts.append(f"{names.format(first)},{ring_no},{n:.3f},{e + offset_e:.3f}")
        lines.append(f"{len(pts)},{ha:.4f},{code},{name},面,,,," + ("@" if at else ""))
        lines.extend(pts)
        if blank:
            lines.append("")
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def to_plane(geom):
    """``geom`` (EPSG:4490) in the file's plane (EPSG:4529)."""
    return shapely.transform(geom, lambda c: np.c_[_T.transform(c[:, 0], c[:, 1])])


def gk_area(geom) -> float:
    """Planar area (m²) in the file's plane."""
    return to_plane(geom).area


def test_reads_parcels_with_hole_and_two_parts_gbk_crlf(tmp_path):
    res = read_parcels(make_txt(tmp_path / "地块.txt"), lang="en")
    f = res.frame
    assert f["地块编号"].tolist() == ["TB-001", "TB-002"]
    assert f["地块面积(公顷)"].tolist() == ["5.7500", "2.0000"]
    a, b = f.geometry
    assert (a.geom_type, len(a.interiors), b.geom_type, len(b.geoms)) == ("Polygon", 1, "MultiPolygon", 2)
    assert gk_area(a) == pytest.approx(57_500, abs=0.01) and gk_area(b) == pytest.approx(20_000, abs=0.01)
    assert "EPSG:4529 (declared in the file" in res.crs_note
    assert "text encoding: GB18030 (detected)" in res.notes
    assert len(res.rejects) == 0


def test_variations_are_read_with_notes(tmp_path):
    p = make_txt(tmp_path / "v.txt", encoding="utf-8", newline="\n", names="{}", close=False, at=False, blank=True,
                 header={"精度": ""})
    res = read_parcels(p, lang="en")
    assert len(res.frame) == 2 and gk_area(res.frame.geometry[0]) == pytest.approx(57_500, abs=0.01)
    text = "\n".join(res.notes)
    for part in ("blank lines in [地块坐标] skipped", "parcel header lines without the closing @",
                 "point names are bare numbers (1 rather than J1)", "精度 is empty; taken as 0.0001 m",
                 "ring 2 starting at line 18 was not closed (last point ≠ first); closed with its first point"):
        assert part in text
    assert "text encoding: UTF-8 (detected)" in res.notes


def test_ambiguous_line_refuses_the_file_with_its_line(tmp_path):
    p = make_txt(tmp_path / "bad.txt")
    lines = p.read_bytes().decode("gbk").split("\r\n")
    lines.insert(14, "J3,1,5051646.419")  # three fields: neither a header nor a point
    p.write_bytes("\r\n".join(lines).encode("gbk"))
    with pytest.raises(InputError, match=r"bad.txt line 15: 'J3,1,5051646.419' is neither a parcel header"):
        read_parcels(p, lang="en")


def test_bad_coordinate_rejects_only_its_parcel(tmp_path):
    p = make_txt(tmp_path / "x.txt")
    text = p.read_bytes().decode("gbk").replace(f"J2,1,{N0 + 200:.3f}", "J2,1,5O51846.4", 1)
    p.write_bytes(text.encode("gbk"))
    res = read_parcels(p, lang="en")
    assert res.frame["地块编号"].tolist() == ["TB-002"]
    assert res.rejects["reason"].tolist() == ["line 15: coordinates X='5O51846.4', Y='41484396.083' are not numbers"]


@pytest.mark.parametrize(("header", "offset", "epsg"), [
    ({"带号": "41"}, -41_000_000, 4550),  # zone from 带号, eastings without the prefix
    ({"带号": ""}, 0, 4529),  # zone from the eastings' prefix
])
def test_zone_decides_the_crs(tmp_path, header, offset, epsg):
    f = parse(make_txt(tmp_path / "z.txt", header=header, offset_e=offset).read_text(encoding="gbk"), "z.txt")
    assert f.crs == f"EPSG:{epsg}"


def test_six_degree_zone(tmp_path):
    t6 = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4499", always_xy=True)
    e, n = t6.transform(122.80, 45.60)
    parcel = ("SIX", 1.0, "六度带", [rect(e, n, 100, 100)])
    p = make_txt(tmp_path / "six.txt", [parcel], header={"几度分带": "6", "带号": "21"})
    res = read_parcels(p, lang="en")
    assert "EPSG:4499" in res.crs_note
    lon, lat = res.frame.geometry[0].exterior.coords[0]
    assert (lon, lat) == pytest.approx((122.80, 45.60), abs=1e-8)


def test_zone_conflict_is_refused(tmp_path):
    with pytest.raises(CRSError, match=r"zone 40 disagrees with the zone prefix \[41\]"):
        read_parcels(make_txt(tmp_path / "c.txt", header={"带号": "40"}), lang="en")


def test_xian80_refused_without_parameters_and_read_with_them(tmp_path):
    p = make_txt(tmp_path / "x80.txt", header={"坐标系": "80西安坐标系"})
    with pytest.raises(CRSError, match=r"x80.txt: the coordinates are in 80西安坐标系, which cannot be converted "
                                       r"exactly to CGCS2000 without transformation parameters"):
        read_parcels(p, lang="en")
    with pytest.raises(CRSError, match="put the seven parameters in 转换参数"):  # --crs alone is not enough
        read_parcels(p, crs="EPSG:2382", lang="en")
    p2 = make_txt(tmp_path / "x80p.txt", header={"坐标系": "80西安坐标系", "转换参数": "10,-20,5,0,0,0,0"})
    res = read_parcels(p2, lang="en")
    assert len(res.frame) == 2
    assert any("80西安坐标系 converted to CGCS2000 with the file's transformation parameters 10,-20,5,0,0,0,0" in n
               for n in res.notes)
    given = ("+proj=tmerc +lat_0=0 +lon_0=123 +k=1 +x_0=41500000 +y_0=0 +a=6378140 +rf=298.257 "
             "+towgs84=10,-20,5,0,0,0,0 +units=m +no_defs +type=crs")
    res2 = read_parcels(p, crs=given, lang="en")
    assert res2.frame.geometry[0].equals_exact(res.frame.geometry[0], 1e-9)


def test_csv_named_txt_is_still_csv(tmp_path):
    p = tmp_path / "points.txt"
    p.write_text("项目编号,经度,纬度\nA,122.8,45.6\nA,122.81,45.6\nA,122.81,45.61\n", encoding="utf-8")
    assert len(read_parcels(p).frame) == 1


def cli(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in res.output
    return res


def test_import_via_cli_declared_area_in_mu(tmp_path):
    reg = tmp_path / "reg.gpkg"
    src = make_txt(tmp_path / "地块.txt")
    res = cli("import", src, "--registry", reg, "--category", "高标准农田", "--year", 2024, "--status", "在建",
              "--lang", "en")
    assert res.exit_code == 0, res.output
    assert "read 2 · accepted 2 (new 2, updated 0, unchanged 0)" in res.output
    p = Registry(reg).projects().set_index("project_code")
    assert p.loc["TB-001", "declared_area_mu"] == pytest.approx(86.25)  # 5.75 公顷
    assert p.loc["TB-002", "declared_area_mu"] == pytest.approx(30.0)
    assert p.loc["TB-001", "area_mu"] == pytest.approx(86.25, abs=0.01)  # ellipsoidal ≈ plane here
    assert p.loc["TB-001", "project_name"] == "东风地块" and set(p["county_code"]) == {"220802"}


def _coordinate_block(path: Path) -> list[str]:
    lines = path.read_bytes().decode("gb18030").split("\r\n")
    return lines[lines.index("[地块坐标]"):]


def test_export_round_trip_is_stable_to_the_precision(tmp_path):
    reg, reg2 = tmp_path / "reg.gpkg", tmp_path / "reg2.gpkg"
    cli("import", make_txt(tmp_path / "in.txt"), "--registry", reg, "--category", "高标准农田", "--year", 2024,
        "--status", "在建")
    out = tmp_path / "out.txt"
    res = cli("registry", "export", out, "--registry", reg, "--lang", "en")
    assert res.exit_code == 0, res.output
    lines = out.read_bytes().decode("gb18030").split("\r\n")
    assert lines[:2] == ["[属性描述]", "格式版本号=1.01版本"]
    assert {"坐标系=2000国家大地坐标系", "几度分带=3", "带号=41", "精度=0.0001", "投影类型=高斯克吕格"} <= set(lines)
    block = _coordinate_block(out)
    head = block[1].split(",")
    assert head[0] == "10" and head[2:5] == ["TB-001", "东风地块", "面"] and head[6] == "高标准农田"
    assert head[-1] == "@" and abs(float(head[1]) - 5.75) < 2e-4 and len(head[1].split(".")[1]) == 4
    a_points = block[2:12]
    assert a_points[0].split(",")[0] == "J1" and a_points[4].split(",")[0] == "J1"  # ring 1 closed by J1
    assert a_points[5].split(",")[:2] == ["J5", "2"] and a_points[9].split(",")[0] == "J5"  # the hole
    assert a_points[0].split(",")[3].startswith("414")  # eastings carry the zone prefix

    cli("import", out, "--registry", reg2, "--category", "高标准农田", "--year", 2024, "--status", "在建")
    before = Registry(reg).projects().set_index("project_code").sort_index()
    after = Registry(reg2).projects().set_index("project_code").sort_index()
    for g1, g2 in zip(before.geometry, after.geometry, strict=True):
        xy1, xy2 = shapely.get_coordinates(to_plane(g1)), shapely.get_coordinates(to_plane(g2))
        assert xy1.shape == xy2.shape and abs(xy1 - xy2).max() <= 0.0001  # the file's 精度
    again = tmp_path / "again.txt"
    cli("registry", "export", again, "--registry", reg2)
    assert _coordinate_block(again) == block  # byte-stable: the same file again


def test_export_per_project_and_filters(tmp_path):
    reg = tmp_path / "reg.gpkg"
    cli("import", make_txt(tmp_path / "in.txt"), "--registry", reg, "--category", "高标准农田", "--year", 2024,
        "--status", "在建")
    res = cli("registry", "export", tmp_path / "报备", "--per-project", "--county", "洮北区", "--registry", reg)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "报备").iterdir()) == ["TB-001.txt", "TB-002.txt"]
    assert len(parse((tmp_path / "报备" / "TB-002.txt").read_bytes().decode("gb18030"), "x").parcels) == 1
    res = cli("registry", "export", tmp_path / "none.txt", "--category", "paddy_new", "--registry", reg, "--lang", "en")
    assert res.exit_code != 0 and "none.txt: no project matches; check --category / --county" in res.output
    res = cli("registry", "export", tmp_path / "x.txt", "--category", "稻田", "--registry", reg, "--lang", "en")
    assert res.exit_code != 0 and "no category '稻田'; choose one of: high_standard_farmland" in res.output
