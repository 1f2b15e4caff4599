"""The registry on PostgreSQL/PostGIS: the same rules as the GeoPackage (both backends run
the same cases), schema versions, QGIS styles, county-office roles enforced by row-level
security, and errors in plain words. A real server (tests/conftest_postgis.py), no mocks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from shapely import box

from conftest_postgis import pg_server, pg_url  # noqa: F401 - fixtures
from gis.errors import DataFileError, RegistryError
from layers.registry import COLUMNS, Registry
from layers.registry.postgis import SCHEMA_VERSION, PostGISBackend

OWN, OTHER = "220821", "220882"  # 镇赉县, 大安市


def rows(codes=("A", "B"), status="planned", county=OWN, shift=0.0):
    n = len(codes)
    geoms = [box(123.4 + i * 0.02 + shift, 45.94, 123.41 + i * 0.02 + shift, 45.95) for i in range(n)]
    return gpd.GeoDataFrame({
        "project_code": list(codes), "project_name": [f"项目{c}" for c in codes], "category": "paddy_new",
        "county_code": county, "year": 2024, "status": status, "declared_area_mu": np.nan,
        "area_mu": 1300.0, "investment_wan_yuan": [12.5] * n, "_row": np.arange(1, n + 1),
    }, geometry=geoms, crs="EPSG:4490")


@pytest.fixture(params=["gpkg", "postgis"])
def location(request, tmp_path):
    """A new, empty registry location of each backend."""
    if request.param == "gpkg":
        return tmp_path / "r.gpkg"
    return request.getfixturevalue("pg_server").new_database()


def raw(reg: Registry) -> list[tuple]:
    """Every stored version as written: fields, fingerprint and geometry WKB."""
    df, geoms = reg.backend.read_projects(True)
    wkb = shapely.to_wkb(np.asarray(geoms, dtype=object), byte_order=1, flavor="iso")
    cols = ["fid", *COLUMNS, "closed_by", "source_row", "fingerprint"]
    return [(*r, w) for r, w in zip(df[cols].astype(object).itertuples(index=False, name=None), wkb, strict=True)]


# -- the same cases on both backends ----------------------------------------------------


def test_write_unchanged_update_history_as_of_and_byte_exact_undo(location):
    reg = Registry(location)
    first = reg.write(rows(), source="a.shp", sha256="a" * 64)
    assert (first.n_new, first.n_updated, first.n_unchanged) == (2, 0, 0)
    p = reg.projects()
    assert list(p.columns) == [*COLUMNS, "geometry"] and p.crs.to_epsg() == 4490
    assert p["area_mu"].round(1).tolist() == [1292.8, 1292.8]  # computed from the geometry, not the 1300 given
    same = reg.write(rows(), source="a.shp", sha256="a" * 64)
    assert (same.n_new, same.n_unchanged) == (0, 2)
    before = raw(reg)
    t_between = reg.batches()["imported_at"].iloc[-1]
    upd = reg.write(rows(("A",), status="approved"), source="b.shp", sha256="b" * 64, update=True)
    assert (upd.n_new, upd.n_updated) == (0, 1)
    h = reg.history("A")
    assert h["status"].tolist() == ["planned", "approved"] and h["valid_to"].notna().tolist() == [True, False]
    assert reg.projects(as_of=t_between).set_index("project_code")["status"].to_dict() == {"A": "planned",
                                                                                           "B": "planned"}
    assert reg.projects().set_index("project_code")["status"].to_dict() == {"A": "approved", "B": "planned"}
    assert reg.current_codes() == {"A", "B"}  # read without geometries, one current version each
    with reg.transaction() as tx:
        assert reg.current_codes(tx) == {"A", "B"}
    assert reg.undo(upd.batch_id) == (1, 1)
    assert raw(reg) == before  # every field, fingerprint and geometry byte as before the batch
    assert reg.batches()["status"].tolist() == ["active", "active", "undone"]
    assert reg.verify().empty


def test_changed_row_without_update_is_rejected_with_reason(location):
    reg = Registry(location)
    reg.write(rows(), source="a.shp", sha256="a" * 64)
    res = reg.write(rows(("A",), status="approved"), source="b.shp", sha256="b" * 64, lang="en")
    assert res.batch_id is None and res.rejected["_row"].tolist() == [1]
    assert "project code 'A' is already in the registry" in res.rejected["reason"].iloc[0]
    assert len(reg.projects(include_history=True)) == 2


def test_undo_refusals(location):
    reg = Registry(location)
    a = reg.write(rows(), source="a.shp", sha256="a" * 64)
    reg.write(rows(("A",), status="approved"), source="b.shp", sha256="b" * 64, update=True)
    with pytest.raises(RegistryError, match=f"batch {a.batch_id}"):
        reg.undo(a.batch_id)
    with pytest.raises(RegistryError, match="no batch 'nope'"):
        reg.undo("nope")


def test_both_backends_store_the_same_versions(tmp_path, pg_server):  # noqa: F811
    gp, pg = Registry(tmp_path / "r.gpkg"), Registry(pg_server.new_database())
    for reg in (gp, pg):
        reg.write(rows(("A", "B", "C")), source="a.shp", sha256="a" * 64, batch_id="b1")
    a, b = gp.projects(), pg.projects()
    keep = [c for c in COLUMNS if c != "valid_from"]
    pd.testing.assert_frame_equal(pd.DataFrame(a[keep]), pd.DataFrame(b[keep]))
    assert shapely.to_wkb(a.geometry.values).tolist() == shapely.to_wkb(b.geometry.values).tolist()


def test_verify_finds_a_hand_edit(pg_url):  # noqa: F811
    import psycopg

    reg = Registry(pg_url)
    reg.write(rows(("E1", "E2")), source="a.shp", sha256="a" * 64)
    with psycopg.connect(pg_url, autocommit=True) as con:  # as QGIS would: edit a vertex and a name
        con.execute("UPDATE projects SET geom = ST_Multi(ST_Buffer(geom, 0.001, 'join=mitre')) "
                    "WHERE project_code = 'E1'")
        con.execute("UPDATE projects SET project_name = 'hand' WHERE project_code = 'E2'")
    v = reg.verify(lang="en")
    assert sorted(zip(v["project_code"], v["problem"], strict=True)) == [
        ("E1", "area_stale"), ("E1", "geometry_edited"), ("E2", "attributes_edited")]
    assert reg.projects().set_index("project_code").loc["E1", "area_mu"] > 1292.8  # recomputed on reading


# -- PostGIS only -----------------------------------------------------------------------------


def test_schema_version_row_migration_and_newer_schema_refused(pg_server):  # noqa: F811
    import psycopg

    url = pg_server.new_database()
    Registry(url)
    with psycopg.connect(url, autocommit=True) as con:
        assert con.execute("SELECT version FROM agrigis_schema").fetchall() == [(SCHEMA_VERSION,)]
        # back to the first schema version, as an earlier agrigis left it
        con.execute("DROP FUNCTION agrigis_role_county() CASCADE")
        con.execute("DROP TABLE agrigis_roles; DROP INDEX projects_batch; DROP INDEX projects_closed_by")
        con.execute("DROP POLICY read_all ON projects; DROP POLICY city_all ON projects")
        con.execute("DROP POLICY read_all ON batches; DROP POLICY city_all ON batches; "
                    "DROP POLICY own_insert ON batches; DROP POLICY own_update ON batches")
        con.execute("ALTER TABLE projects DISABLE ROW LEVEL SECURITY; ALTER TABLE batches DISABLE ROW LEVEL SECURITY")
        con.execute("UPDATE agrigis_schema SET version = 1")
    reg = Registry(url)  # migrates
    reg.write(rows(), source="a.shp", sha256="a" * 64)
    with psycopg.connect(url, autocommit=True) as con:
        assert con.execute("SELECT version FROM agrigis_schema").fetchone()[0] == SCHEMA_VERSION
        assert con.execute("SELECT count(*) FROM pg_policies WHERE tablename = 'projects'").fetchone()[0] == 5
        con.execute("UPDATE agrigis_schema SET version = 99")
    with pytest.raises(RegistryError, match=f"schema version 99, written by a newer agrigis; this one knows up to "
                                            f"{SCHEMA_VERSION}: upgrade agrigis"):
        Registry(url)


def test_qgis_layer_styles_table(pg_url):  # noqa: F811
    import psycopg

    Registry(pg_url)
    with psycopg.connect(pg_url) as con:
        got = con.execute("SELECT f_table_catalog, f_table_schema, f_table_name, f_geometry_column, useasdefault, "
                          "styleqml::text FROM layer_styles ORDER BY id").fetchall()
        db = con.execute("SELECT current_database()").fetchone()[0]
    assert [g[:5] for g in got] == [(db, "public", "projects", "geom", True),
                                    (db, "public", "projects_current", "geom", True)]
    assert 'type="categorizedSymbol" attr="category"' in got[0][5]
    assert 'value="high_standard_farmland" label="高标准农田"' in got[0][5]


@pytest.fixture(scope="module")
def offices(pg_server):  # noqa: F811
    """One database with a city, a county-office (镇赉) and a viewer login."""
    admin = pg_server.new_database()
    be = PostGISBackend(admin)
    tag = admin.rsplit("_", 1)[-1]
    names = {k: f"{k}_{tag}" for k in ("city", "county", "viewer")}
    be.grant(names["city"], "city", password="c1")
    be.grant(names["county"], "county", county=OWN, password="c2")
    be.grant(names["viewer"], "viewer", password="c3")
    db = admin.rsplit("/", 1)[-1].split("?")[0]
    urls = {k: pg_server.url(db, user=names[k], password=pw) for k, pw in zip(names, ("c1", "c2", "c3"), strict=True)}
    return admin, urls


def test_database_refuses_a_county_office_writing_another_county(offices):
    import psycopg

    _, urls = offices
    with psycopg.connect(urls["county"]) as con:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security policy"):
            con.execute("INSERT INTO projects (project_code, category, county_code, status, area_mu, batch_id, "
                        "valid_from) VALUES ('X1', 'paddy_new', %s, 'planned', 1, 'raw', 'now')", (OTHER,))
    # through the backend, past the rules in Python: still refused, by the database
    be = Registry(urls["county"]).backend
    g = rows(("X2",), county=OTHER)
    ins = pd.DataFrame(g.drop(columns="geometry")).assign(batch_id="raw", valid_from="t", source_row=1)
    with pytest.raises(RegistryError, match="may only write parcels of its own county"):
        with be.transaction() as tx:
            be.insert_versions(tx, ins, np.asarray(shapely.multipolygons([g.geometry.iloc[0]]), dtype=object)
                               .reshape(1))


def test_county_import_rejects_other_county_rows_and_undoes_only_its_own(offices):
    admin, urls = offices
    city = Registry(urls["city"])
    c = city.write(rows(("C1",), county=OTHER, shift=1), source="city.shp", sha256="c" * 64)
    county = Registry(urls["county"])
    assert county.backend.own_county == OWN
    mixed = pd.concat([rows(("K1", "K2"), shift=2), rows(("K3",), county=OTHER, shift=3).assign(_row=3)])
    res = county.write(gpd.GeoDataFrame(mixed, crs="EPSG:4490"), source="k.shp", sha256="k" * 64, lang="en")
    assert res.n_new == 2 and res.rejected["_row"].tolist() == [3]
    assert res.rejected["reason"].iloc[0] == (f"county code {OTHER} is not this login's county ({OWN}); a county "
                                              "office may only register its own parcels, row not written")
    cur = Registry(admin).projects().set_index("project_code")
    assert sorted(cur.index) == ["C1", "K1", "K2"] and cur.loc["C1", "batch_id"] == c.batch_id
    before = raw(Registry(admin))
    with pytest.raises(RegistryError, match=f"batch {c.batch_id} was imported by the login city_"):
        county.undo(c.batch_id)
    assert raw(Registry(admin)) == before
    assert county.undo(res.batch_id) == (2, 0)
    with pytest.raises(RegistryError, match="lacks the right to do that"):
        Registry(urls["viewer"]).write(rows(("V1",), shift=4), source="v.shp", sha256="v" * 64)
    assert sorted(Registry(urls["viewer"]).projects()["project_code"]) == ["C1"]


def test_concurrent_update_of_one_project_one_wins_one_conflicts(pg_server):  # noqa: F811
    import threading
    import time

    pg_url = pg_server.new_database()
    reg = Registry(pg_url)
    reg.write(rows(("Q",)), source="a.shp", sha256="a" * 64)
    second, errors = Registry(pg_url), []

    def other_office():
        try:
            second.write(rows(("Q",), status="completed"), source="c.shp", sha256="c" * 64, update=True)
        except RegistryError as exc:
            errors.append(exc)

    with reg.transaction() as tx:
        reg.write(rows(("Q",), status="approved"), source="b.shp", sha256="b" * 64, update=True, tx=tx)
        t = threading.Thread(target=other_office)
        t.start()  # reads the same current version, then waits for this transaction's row lock
        time.sleep(1.0)
    t.join(30)
    assert len(errors) == 1 and errors[0].key == "error.pg_conflict"
    assert "another import changed the same projects at the same time, this batch changed nothing" in str(errors[0])
    assert reg.history("Q")["status"].tolist() == ["planned", "approved"]
    assert reg.batches()["source_path"].tolist() == ["a.shp", "b.shp"]  # the loser recorded no batch


@pytest.mark.parametrize("make, match", [
    (lambda s: s.url("postgres").rsplit(":", 1)[0] + ":1/postgres", "cannot reach the database"),
    (lambda s: s.url("postgres", user="postgres", password="S3cret-x"), 'refused the login of "postgres"'),
    (lambda s: s.url("no_such_db"), "has no such database"),
    (lambda s: "postgresql://u@127.0.0.1:notaport/db", "is not a valid PostgreSQL URL"),
])
def test_connection_errors_are_one_clear_line(pg_server, make, match):  # noqa: F811
    with pytest.raises(DataFileError, match=match) as e:
        Registry(make(pg_server))
    assert "\n" not in str(e.value) and "S3cret" not in str(e.value)  # the password is never shown


def test_database_without_postgis_and_no_right_to_add_it(pg_server):  # noqa: F811
    url = pg_server.new_database(postgis=False)
    db = url.rsplit("/", 1)[-1]
    pg_server.execute(f"DROP ROLE IF EXISTS plain_{db}; CREATE ROLE plain_{db} LOGIN PASSWORD 'p'; "
                      f"GRANT ALL ON DATABASE {db} TO plain_{db}; ALTER DATABASE {db} OWNER TO plain_{db}")
    with pytest.raises(DataFileError, match="has no PostGIS extension and it could not be created"):
        Registry(pg_server.url(db, user=f"plain_{db}", password="p"))


def test_cli_takes_a_postgresql_url_from_option_and_environment(pg_url):  # noqa: F811
    from workflows.cli import main

    reg = Registry(pg_url)
    b = reg.write(rows(("L1",)), source="a.shp", sha256="a" * 64)
    out = CliRunner().invoke(main, ["registry", "list", "--registry", pg_url, "--lang", "en"])
    assert out.exit_code == 0, out.output
    assert b.batch_id in out.output
    out = CliRunner().invoke(main, ["registry", "history", "L1", "--lang", "en"], env={"AGRIGIS_REGISTRY": pg_url})
    assert out.exit_code == 0, out.output
    assert b.batch_id in out.output and "planned" in out.output


def test_grant_command_creates_a_county_login_the_database_restricts(pg_server):  # noqa: F811
    import psycopg

    from workflows.registry_grant import grant_command

    url = pg_server.new_database()
    db = url.rsplit("/", 1)[-1]
    out = CliRunner().invoke(grant_command, ["daan_" + db, "--kind", "county", "--county", OTHER,
                                             "--password", "pw", "--registry", url, "--lang", "en"])
    assert out.exit_code == 0, out.output
    assert out.output == f"login daan_{db} is now county (county {OTHER}); the database enforces its row-level security\n"
    daan = Registry(pg_server.url(db, user="daan_" + db, password="pw"))
    assert daan.backend.own_county == OTHER
    res = daan.write(rows(("D1", "D2")), source="d.shp", sha256="d" * 64)  # 镇赉 parcels: not 大安's
    assert res.batch_id is None and len(res.rejected) == 2
    with psycopg.connect(url) as con:
        assert con.execute("SELECT count(*) FROM projects").fetchone()[0] == 0
    out = CliRunner().invoke(grant_command, ["x", "--kind", "viewer", "--registry", "r.gpkg", "--lang", "en"])
    assert out.exit_code != 0 and "is a GeoPackage file, which has no logins or rights" in str(out.exception)


def test_a_dropped_connection_mid_import_is_reported_and_rolled_back(pg_server):  # noqa: F811
    url = pg_server.new_database()
    reg = Registry(url)
    reg.write(rows(("S1",)), source="a.shp", sha256="a" * 64)
    before = raw(reg)
    with pytest.raises(DataFileError, match="the connection to the database was lost .*this batch was rolled back"):
        with reg.transaction() as tx:
            reg.write(rows(("S2", "S3"), shift=1), source="b.shp", sha256="b" * 64, tx=tx)
            pg_server.execute(f"SELECT pg_terminate_backend({tx.info.backend_pid})")  # the server drops it
            reg.write(rows(("S4",), shift=2), source="c.shp", sha256="c" * 64, tx=tx)
    assert raw(reg) == before and reg.batches()["source_path"].tolist() == ["a.shp"]
