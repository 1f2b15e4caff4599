"""``check``, ``progress``, ``map progress`` and ``registry export`` end to end on a
``postgresql://`` registry through the CLI (a real server, tests/conftest_postgis.py)."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely import box

from conftest_postgis import pg_server  # noqa: F401 - fixture
from layers import inspections as ins
from layers.registry import Registry
from workflows.cli import main


@pytest.fixture(scope="module")
def pg_registry(pg_server, tmp_path_factory):  # noqa: F811
    """A PostGIS registry: three parcels (two overlapping), a completed one an inspection contradicts."""
    url = pg_server.new_database()
    reg = Registry(url)
    rows = gpd.GeoDataFrame({
        "project_code": ["P-1", "P-2", "P-3"], "project_name": ["一号", "二号", "三号"],
        "category": ["high_standard_farmland", "high_standard_farmland", "saline_remediation"],
        "county_code": ["220821", "220821", "220882"], "year": [2024, 2024, 2024],
        "status": ["completed", "under_construction", "planned"], "declared_area_mu": [None, None, None],
        "area_mu": [None, None, None], "investment_wan_yuan": [100.0, 50.0, None],
    }, geometry=[box(123.40, 45.90, 123.42, 45.92), box(123.41, 45.91, 123.43, 45.93),
                 box(123.80, 45.50, 123.81, 45.51)], crs="EPSG:4490")
    reg.write(rows, source="t.shp", sha256="0" * 64)
    f = tmp_path_factory.mktemp("ins") / "e.geojson"
    f.write_text(json.dumps({"type": "FeatureCollection", "agrigis": "inspections", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [123.41, 45.91]},
         "properties": {"id": "abcdef0123", "project_code": "P-1", "finding": "not_started",
                        "created_at": "2024-07-01T08:00:00Z"}}]}), encoding="utf-8")
    assert ins.import_inspections(reg, f).n_new == 1
    return url


def run(*args):
    res = CliRunner().invoke(main, [*args, "--lang", "en"])
    assert res.exit_code == 0, f"{res.output}\n{res.exception!r}"
    return res


def test_check_on_postgis(pg_registry, tmp_path):
    run("check", "--registry", pg_registry, "-o", str(tmp_path), "--format", "csv")
    found = pd.read_csv(next(tmp_path.glob("check*.csv")), dtype=str)
    text = found.to_csv()
    assert "P-1" in text and "P-2" in text  # the overlap, and the contradicted completed project


def test_progress_on_postgis(pg_registry, tmp_path):
    run("progress", "--registry", pg_registry, "-o", str(tmp_path), "--as-of", "2024-09-30")
    assert (tmp_path / "progress.xlsx").exists() and (tmp_path / "progress.html").exists()
    html = (tmp_path / "progress.html").read_text(encoding="utf-8")
    assert "agrigis-test" not in html  # the password never lands in a report


def test_map_progress_on_postgis(pg_registry, tmp_path):
    out = tmp_path / "m.html"
    run("map", "progress", "--registry", pg_registry, "-o", str(out), "--basemap", "none")
    html = out.read_text(encoding="utf-8")
    assert "P-1" in html and "agrigis-test" not in html


def test_registry_export_on_postgis(pg_registry, tmp_path):
    out = tmp_path / "p.gpkg"
    run("registry", "export", str(out), "--registry", pg_registry)
    got = gpd.read_file(out)
    assert sorted(got["project_code"]) == ["P-1", "P-2", "P-3"] and got.crs.to_epsg() == 4490
    assert got.set_index("project_code").loc["P-3", "area_mu"] == pytest.approx(
        Registry(pg_registry).projects().set_index("project_code").loc["P-3", "area_mu"])
