"""Inspections back in the registry's reports (issue 22, item 3): ``registry show CODE``
lists a project's inspections; ``check`` reports completed projects whose latest
inspection says otherwise. Everything through the CLI, with an export file written here
in the field map's format (``layers/inspections.py``)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely import box

from gis.area import area_mu
from layers.registry import Registry
from workflows.cli import main

GEOMS = {"HSF-1": box(123.40, 45.94, 123.41, 45.95), "HSF-2": box(123.50, 45.94, 123.51, 45.95),
         "HSF-3": box(123.60, 45.94, 123.61, 45.95)}


def _feature(iid, code, finding, created, note="", version=None):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [123.405, 45.945]},
            "properties": {"id": iid, "project_code": code, "version": version, "finding": finding, "note": note,
                           "area_mu": None, "accuracy_m": 8.0, "position_time": created, "created_at": created,
                           "photos": []}}


@pytest.fixture()
def registry(tmp_path):
    rows = gpd.GeoDataFrame({"project_code": list(GEOMS), "project_name": None,
                             "category": "high_standard_farmland", "county_code": "220821", "year": 2024,
                             "status": ["completed", "accepted", "completed"], "declared_area_mu": np.nan,
                             "area_mu": area_mu(list(GEOMS.values()), crs="EPSG:4490"), "investment_wan_yuan": np.nan},
                            geometry=list(GEOMS.values()), crs="EPSG:4490")
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(rows, source="test", sha256="0" * 64)
    export = {"type": "FeatureCollection", "agrigis": "inspections", "features": [
        # HSF-1: built in June, then found only partly built in August -> the latest disagrees
        _feature("insp-0001-a", "HSF-1", "built", "2024-06-01T09:00:00Z"),
        _feature("insp-0002-b", "HSF-1", "partly_built", "2024-08-15T10:30:00Z", note="东侧未平整"),
        # HSF-2: not started in May, built in September -> the latest agrees
        _feature("insp-0003-c", "HSF-2", "not_started", "2024-05-01T08:00:00Z"),
        _feature("insp-0004-d", "HSF-2", "built", "2024-09-01T08:00:00Z"),
    ]}
    path = tmp_path / "agrigis-inspections.geojson"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    r = CliRunner().invoke(main, ["inspections", "import", str(path), "--registry", str(reg.path), "--lang", "en"])
    assert r.exit_code == 0 and "4 new" in r.output, r.output
    return reg


def test_registry_show_lists_the_projects_inspections(registry):
    r = CliRunner().invoke(main, ["registry", "show", "HSF-1", "--registry", str(registry.path), "--lang", "en"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    i = lines.index("field inspections: 2")
    assert lines[i + 1].split()[:4] == ["Inspected", "at", "Finding", "Note"]
    assert lines[i + 2].split()[:2] == ["2024-06-01T09:00:00", "built"] and "insp-0001-a" in lines[i + 2]
    assert "partly built" in lines[i + 3] and "东侧未平整" in lines[i + 3] and "insp-0002-b" in lines[i + 3]
    zh = CliRunner().invoke(main, ["registry", "show", "HSF-3", "--registry", str(registry.path)])
    assert zh.exit_code == 0 and zh.output.splitlines()[-1] == "现场核查记录 0 条"


def test_check_reports_completed_projects_the_latest_inspection_contradicts(registry, tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["check", "--registry", str(registry.path), "-o", str(out), "--format", "csv",
                                  "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "  problems 1 (to correct):" in r.output
    assert "    completed/accepted but the latest inspection disagrees: 1" in r.output
    t = pd.read_csv(out / "check.csv", encoding="utf-8-sig", comment="#")
    hit = t[t["problem"] == "completed/accepted but the latest inspection disagrees"]
    assert hit["project code A"].tolist() == ["HSF-1"] and hit["severity"].tolist() == ["problem"]
    assert hit["detail"].iloc[0] == ("status completed, but the field inspection of 2024-08-15 found "
                                     "'partly built' (note: 东侧未平整)")
