"""Field inspections on both backends, and ``agrigis registry copy`` GeoPackage → PostGIS →
GeoPackage keeping every table byte for byte. A real server (tests/conftest_postgis.py)."""

from __future__ import annotations

import json
import sqlite3

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from shapely import box

from conftest_postgis import pg_server, pg_url  # noqa: F401 - fixtures
from gis.errors import RegistryError
from layers import inspections as ins
from layers.registry import Registry, copy_registry
from workflows.cli import main
from workflows.registry_copy import copy_command

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 3 + b"\x00\xffEND"  # every byte value, NULs included
JPEG2 = JPEG[:3] + JPEG[:2:-1]


def parcels(codes=("BC-1", "BC-2"), status=("completed", "under_construction"), shift=0.0):
    n = len(codes)
    return gpd.GeoDataFrame({
        "project_code": list(codes), "project_name": [f"项目{c}" for c in codes], "category": "paddy_new",
        "county_code": "220821", "year": 2024, "status": list(status), "declared_area_mu": [1234.5] + [None] * (n - 1),
        "area_mu": None, "investment_wan_yuan": [None] * (n - 1) + [88.25],
    }, geometry=[box(123.805 + i * 0.02 + shift, 45.605, 123.81 + i * 0.02 + shift, 45.608) for i in range(n)],
        crs="EPSG:4490")


def feature(iid, code="BC-1", finding="not_started", photos=(), version=None, point=(123.8075, 45.6065)):
    import base64

    return {"type": "Feature", "geometry": None if point is None else {"type": "Point", "coordinates": list(point)},
            "properties": {"id": iid, "project_code": code, "version": version, "finding": finding, "note": "注 n",
                           "area_mu": 10.5, "accuracy_m": 5, "position_time": "2024-07-01T08:00:00Z",
                           "created_at": f"2024-07-01T08:00:0{len(iid) % 10}Z",
                           "photos": [{"name": f"p{k}.jpg", "data": "data:image/jpeg;base64," +
                                       base64.b64encode(p).decode()} for k, p in enumerate(photos)]}}


def export_file(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "agrigis": "inspections", "version": 1,
                                "features": features}), encoding="utf-8")
    return path


@pytest.fixture(params=["gpkg", "postgis"])
def location(request, tmp_path):
    if request.param == "gpkg":
        return str(tmp_path / "r.gpkg")
    return request.getfixturevalue("pg_server").new_database()


def test_inspections_on_both_backends(location, tmp_path):
    reg = Registry(location)
    reg.write(parcels(), source="t.shp", sha256="0" * 64)
    f = export_file(tmp_path / "e.geojson", [feature("aaaaaaaa-1", photos=[JPEG, JPEG2]),
                                             feature("bbbbbbbb-2", code="NOPE-9"),
                                             feature("cccccccc-3", code="BC-2", finding="built", point=None)])
    res = ins.import_inspections(reg, f, lang="en")
    assert (res.n_new, res.n_unchanged, res.n_photos) == (2, 0, 2)
    assert res.rejected.values.tolist() == [
        [2, "NOPE-9", "project code NOPE-9 is not in the registry; import the project first or check the code"]]
    got = ins.inspections(reg)
    assert got[["inspection_id", "project_code", "finding", "note", "area_mu", "photo_count"]].values.tolist() == [
        ["aaaaaaaa-1", "BC-1", "not_started", "注 n", 10.5, 2], ["cccccccc-3", "BC-2", "built", "注 n", 10.5, 0]]
    assert got["version_current"].tolist() == reg.projects()["batch_id"].tolist()
    assert ins.photos(reg, "aaaaaaaa-1") == [JPEG, JPEG2]  # the bytes, intact
    assert ins.inspections(reg, "BC-2")["inspection_id"].tolist() == ["cccccccc-3"]
    assert ins.latest_contradicting(reg)["project_code"].tolist() == ["BC-1"]  # completed, not started
    again = CliRunner().invoke(main, ["inspections", "import", str(f), "--registry", location, "--lang", "en"])
    assert "0 new (0 photos), 2 already stored, 1 rejected" in again.output  # idempotent
    cols, rows = reg.backend.dump("inspections")
    pts = {r[cols.index("inspection_id")]: r[cols.index("geom")] for r in rows}
    assert pts["cccccccc-3"] is None
    assert pts["aaaaaaaa-1"] == shapely.to_wkb(shapely.Point(123.8075, 45.6065))


def test_inspections_point_layer_in_postgis(pg_url, tmp_path):  # noqa: F811
    import psycopg

    reg = Registry(pg_url)
    reg.write(parcels(), source="t.shp", sha256="0" * 64)
    ins.import_inspections(reg, export_file(tmp_path / "e.geojson", [feature("dddddddd-4")]))
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT ST_AsText(geom), ST_SRID(geom) FROM inspections").fetchall() == [
            ("POINT(123.8075 45.6065)", 4490)]


def quoted(path) -> dict[str, list[tuple]]:
    """Every row of the four registry tables as SQL literals (type and bytes exact)."""
    con = sqlite3.connect(path)
    try:
        out = {}
        for t in ("projects", "batches", "inspections", "inspection_photos", "sqlite_sequence"):
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({t})")]
            out[t] = con.execute(f"SELECT {', '.join(f'quote({c})' for c in cols)} FROM {t} ORDER BY 1").fetchall()
        return out
    finally:
        con.close()


def full_registry(path, tmp_path) -> Registry:
    reg = Registry(path)
    a = reg.write(parcels(), source="a.shp", sha256="a" * 64, note="首批")
    reg.write(parcels(("BC-1",), status=("accepted",)), source="b.shp", sha256="b" * 64, update=True)
    c = reg.write(parcels(("BC-3",), status=("planned",), shift=0.1), source="c.shp", sha256="c" * 64)
    reg.undo(c.batch_id)
    reg.write(parcels(("BC-4",), status=("planned",), shift=0.2), source="d.shp", sha256="d" * 64, synthetic=True)
    ins.import_inspections(reg, export_file(tmp_path / "e.geojson", [
        feature("aaaaaaaa-1", photos=[JPEG], version=a.batch_id), feature("cccccccc-3", code="BC-2", point=None)]))
    return reg


def test_copy_gpkg_to_postgis_and_back_byte_for_byte(pg_server, tmp_path):  # noqa: F811
    src = full_registry(tmp_path / "src.gpkg", tmp_path)
    url = pg_server.new_database()
    out = CliRunner().invoke(copy_command, [str(src.path), url, "--lang", "en"])
    assert out.exit_code == 0, out.output
    assert out.output.endswith("4 parcel versions, 4 batches, 2 inspections, 1 photos\n")
    pg = Registry(url)
    assert pg.verify().empty
    assert pg.history("BC-1")["status"].tolist() == ["completed", "accepted"]
    assert pg.batches()["status"].tolist() == ["active", "active", "undone", "active"]
    assert pg.projects().attrs["synthetic"] is True
    assert ins.photos(pg, "aaaaaaaa-1") == [JPEG]
    later = pg.write(parcels(("BC-9",), status=("planned",), shift=0.3), source="e.shp", sha256="e" * 64)
    assert later.n_new == 1  # the id sequences moved past the copied rows
    pg.undo(later.batch_id)
    pg_server.execute(f"DELETE FROM batches WHERE batch_id = '{later.batch_id}'", database=url.rsplit("/", 1)[-1])
    back = tmp_path / "back.gpkg"
    out = CliRunner().invoke(copy_command, [url, str(back), "--lang", "en"])
    assert out.exit_code == 0, out.output
    a, b = quoted(src.path), quoted(back)
    seq_a = dict((t, n) for t, n in a.pop("sqlite_sequence"))
    seq_b = dict((t, n) for t, n in b.pop("sqlite_sequence"))
    assert a == b  # projects, batches, inspections, photos: every value, type and geometry byte
    assert seq_a["'projects'"] == seq_b["'projects'"] and len(a["projects"]) == 4
    assert Registry(back).verify().empty


def test_copy_into_a_registry_that_is_not_empty_changes_nothing(pg_server, tmp_path):  # noqa: F811
    src = full_registry(tmp_path / "src.gpkg", tmp_path)
    url = pg_server.new_database()
    dst = Registry(url)
    dst.write(parcels(("X-1",), status=("planned",)), source="x.shp", sha256="x" * 64)
    before = dst.backend.dump("projects")
    with pytest.raises(RegistryError, match="already holds projects, batches or inspections; agrigis registry copy "
                                            "only copies into an empty registry"):
        copy_registry(src, dst)
    assert dst.backend.dump("projects") == before
    out = CliRunner().invoke(copy_command, [str(tmp_path / "none.gpkg"), str(tmp_path / "new.gpkg"), "--lang", "en"])
    assert out.exit_code != 0 and not (tmp_path / "new.gpkg").exists()
