"""agrigis progress with the land-use rules, field inspections and imagery evidence
(issue 16 part 3, issue 22 item 3, issue 20 item 4): the report files re-read, and the CLI.

The hand-built registry of test_tracking (answers worked out by hand there) plus one
wetland-restoration parcel W1 inside the reserve, stored in a real GeoPackage registry;
inspections imported through the CLI; the evidence table written as ``agrigis verify``
writes it (layer ``evidence`` of a GeoPackage).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from shapely import box

from gis.area import area_mu
from layers.registry import Registry
from test_tracking import DA, PARCELS, TB, ZL, gdf, rect
from workflows.cli import main
from workflows.progress import run_progress
from workflows.progress_hooks import ProgressExtras

W1 = ("W1", "wetland_restoration", 2024, "completed", None, rect(600, 4600, 1400, 5400))  # 960 亩 in the reserve


def _inspection(iid, code, finding, created, note=""):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [123.0, 45.6]},
            "properties": {"id": iid, "project_code": code, "version": None, "finding": finding, "note": note,
                           "area_mu": None, "accuracy_m": 8.0, "position_time": created, "created_at": created,
                           "photos": []}}


def _registry(path, rows) -> Registry:
    cols = ["project_code", "category", "year", "status", "declared_area_mu"]
    data = {c: [p[i] for p in rows] for i, c in enumerate(cols)}
    g = gdf(data, [p[-1] for p in rows])
    g["project_name"] = None
    g["county_code"] = DA  # the registry needs one; progress splits by geometry
    g["declared_area_mu"] = pd.to_numeric(g["declared_area_mu"]).astype("float64")
    g["area_mu"] = area_mu(g)
    g["investment_wan_yuan"] = np.nan
    reg = Registry(path)
    reg.write(g, source="test.gpkg", sha256="0" * 64, synthetic=True)
    return reg


def _import_inspections(tmp_path, reg, features):
    f = tmp_path / "agrigis-inspections.geojson"
    f.write_text(json.dumps({"type": "FeatureCollection", "agrigis": "inspections", "features": features},
                            ensure_ascii=False), encoding="utf-8")
    r = CliRunner().invoke(main, ["inspections", "import", str(f), "--registry", str(reg.path), "--lang", "en"])
    assert r.exit_code == 0, r.output


def _evidence(path, rows):
    """An evidence.gpkg as ``agrigis verify`` writes it: code, category, county, year, status, area, support."""
    t = pd.DataFrame(rows, columns=["project_code", "category", "county_code", "year", "status", "area_mu",
                                    "support"])
    t["rule"] = np.where(t["category"].str.startswith("paddy"), "paddy", "cultivation")
    t["series_json"] = None
    g = gpd.GeoDataFrame(t, geometry=[box(123, 45.6, 123.001, 45.601)] * len(t), crs="EPSG:4490")
    g.to_file(path, layer="evidence", driver="GPKG")
    return path


EVIDENCE_ROWS = [
    ("P1", "paddy_new", DA, 2024, "accepted", 1500.0, "supported"),
    ("P2", "paddy_new", DA, 2024, "completed", 1500.0, "not_supported"),
    ("P3", "paddy_new", DA, 2024, "completed", 1200.0, "unobserved"),
    ("P4", "paddy_new", DA, 2024, "under_construction", 1500.0, "not_supported"),  # not claimed complete
    ("P7", "paddy_new", TB, 2024, "completed", 375.0, "not_supported"),  # outside the pilot counties
    ("P10", "paddy_new", DA, 2023, "completed", 120.0, "not_supported"),  # another year
    ("H1", "high_standard_farmland", DA, 2024, "completed", 1500.0, "supported"),
]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("hooks")
    reg = _registry(d / "registry.gpkg", PARCELS + [W1])
    _import_inspections(d, reg, [
        _inspection("insp-0001-a", "P3", "built", "2024-06-01T09:00:00Z"),
        _inspection("insp-0002-b", "P3", "not_started", "2024-08-15T10:30:00Z", note="未见水田"),
        _inspection("insp-0003-c", "P1", "built", "2024-08-15T10:30:00Z"),  # agrees: no flag
    ])
    counties = gdf({"county_code": [DA, ZL, TB], "name_zh": ["大安市", "镇赉县", "洮北区"]},
                   [rect(0, 0, 3000, 3000), rect(0, 3000, 3000, 6000), rect(3000, 0, 6000, 6000)])
    reserve = gdf({"name_zh": ["莫莫格(测试)"]}, [rect(500, 4500, 1500, 5500)])
    ev = _evidence(d / "evidence.gpkg", EVIDENCE_ROWS)
    out = run_progress(d / "out", registry=reg.path, parcels=reg.projects(), counties=counties,
                       protected_areas=reserve, as_of="2024-06-30", extras=ProgressExtras(evidence=ev))
    return out, d


def test_flags_have_a_severity_from_the_land_use_rules(made):
    out, _ = made
    f = out.result.flags.set_index(["flag", "project_code"])
    assert f.loc[("in_protected_area", "P8"), "severity"] == "problem"  # a new paddy in a reserve
    assert f.loc[("in_protected_area", "W1"), "severity"] == "information"  # wetland restoration there
    assert f.loc[("in_protected_area", "W1"), "rule"].startswith("修复湿地、造林、治理草原位于自然保护区内属正常")
    assert f.loc[("in_protected_area", "W1"), "area_mu"] == pytest.approx(960.0, abs=0.01)
    for kind in ("double_declared", "outside_city", "area_gap", "inspection_contradicts"):
        assert set(out.result.flags.loc[out.result.flags.flag == kind, "severity"]) == {"problem"}, kind
    assert out.result.flags["severity"].tolist() == sorted(out.result.flags["severity"], key=["problem",
                                                                                            "information"].index)


def test_a_contradicting_inspection_is_a_flag(made):
    out, _ = made
    hit = out.result.flags[out.result.flags.flag == "inspection_contradicts"]
    assert hit["project_code"].tolist() == ["P3"]  # P1's latest inspection agrees
    assert hit["detail"].iloc[0] == "状态为完工,但 2024-08-15 的现场核查结果为“未开工”(备注:未见水田)"
    assert hit["area_mu"].iloc[0] == pytest.approx(1200.0, abs=0.01) and hit["category"].iloc[0] == "paddy_new"


def test_excel_and_html_count_problems_and_information_apart(made):
    out, _ = made
    n_info = int((out.result.flags.severity == "information").sum())
    n_prob = int((out.result.flags.severity == "problem").sum())
    # declared twice: P1×P2, P1×P4, P2×P4, P5×P6; P8 in the reserve; P9 outside; P3 area gap and inspection
    assert n_info == 1 and n_prob == 8
    wb = load_workbook(out.paths["xlsx"])
    ws = wb["问题图斑"]
    assert [c.value for c in ws[1]][:3] == ["问题", "性质", "项目编号"]
    assert [c.value for c in ws[1]][-1] == "依据"
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    kinds = [(r[0], r[1]) for r in rows if r[2]]
    assert ("已完工/验收但最近一次现场核查不符", "问题") in kinds and ("位于自然保护区", "信息") in kinds
    assert [r[1] for r in rows if r[2]][-1] == "信息"  # problems first
    counts = f"问题 {n_prob} 处(需改正) · 信息 {n_info} 处(正常用地,供核对)"
    assert any(r[0] == counts for r in rows)
    page = out.paths["html"].read_text(encoding="utf-8")
    assert f"<b>{counts}</b>" in page


def test_evidence_per_target_in_summary_and_csv(made):
    out, _ = made
    s = out.result.summary.set_index("key")
    # paddy_new counts P1 (accepted), P2 and P3 (completed) of 2024 in 大安/镇赉: not P4, P7, P10
    assert s.loc["paddy_new", ["evidence_claimed_mu", "evidence_supported_mu", "evidence_not_supported_mu",
                               "evidence_unobserved_mu"]].tolist() == [4200.0, 1500.0, 1500.0, 1200.0]
    assert s.loc["high_standard_farmland", "evidence_claimed_mu"] == 1500.0
    assert s.loc["high_standard_farmland", "evidence_not_supported_mu"] == 0.0
    assert np.isnan(s.loc["afforestation", "evidence_claimed_mu"])  # no evidence rule: blank, not 0
    csv = pd.read_csv(out.paths["csv"], encoding="utf-8-sig", comment="#").set_index("目标代码")
    assert csv.loc["paddy_new", "影像不符(亩)"] == 1500.0 and csv.loc["paddy_new", "影像未观测(亩)"] == 1200.0
    assert csv.loc["paddy_new", "影像核验:报完成(亩)"] == 4200.0
    assert pd.isna(csv.loc["afforestation", "影像不符(亩)"])
    ws = load_workbook(out.paths["xlsx"])["目标总表"]
    header = [c.value for c in ws[2]]
    row = next(r for r in ws.iter_rows(min_row=3) if r[0].value == "新建水田")
    i = header.index("影像不符(亩)")
    assert row[i].value == 1500.0 and row[i].number_format == "#,##0.00"
    method = "\n".join(str(c.value) for r in load_workbook(out.paths["xlsx"])["方法与数据"].iter_rows() for c in r
                       if c.value)
    assert "evidence.gpkg" in method and "重叠图斑不做并集" in method


def _real_registry(tmp_path):
    """Three parcels inside the real 大安市 outline, as in test_progress."""
    import layers

    counties = layers.load("counties", workspace=False).to_crs(4550)
    x, y = counties[counties.county_code == DA].geometry.iloc[0].representative_point().coords[0]
    rows = [("R1", "paddy_new", 2024, "completed", None, box(x, y, x + 1000, y + 1000)),
            ("R2", "paddy_new", 2024, "accepted", None, box(x + 2000, y, x + 3000, y + 1000)),
            ("R3", "high_standard_farmland", 2024, "accepted", None, box(x, y - 2000, x + 1000, y - 1000))]
    rows = [r[:-1] + (gpd.GeoSeries([r[-1]], crs=4550).to_crs(4550).iloc[0],) for r in rows]
    g = gpd.GeoDataFrame({"project_code": [r[0] for r in rows], "category": [r[1] for r in rows],
                          "year": [r[2] for r in rows], "status": [r[3] for r in rows],
                          "declared_area_mu": np.nan}, geometry=[r[-1] for r in rows], crs=4550).to_crs(4490)
    g["project_name"], g["county_code"], g["investment_wan_yuan"] = None, DA, np.nan
    g["area_mu"] = area_mu(g)
    reg = Registry(tmp_path / "registry.gpkg")
    reg.write(g, source="t.gpkg", sha256="1" * 64, synthetic=True)
    _import_inspections(tmp_path, reg, [_inspection("insp-0009-z", "R2", "mismatch", "2024-09-01T08:00:00Z",
                                                    note="offset")])
    ev = _evidence(tmp_path / "evidence.gpkg", [("R1", "paddy_new", DA, 2024, "completed", 1500.0, "not_supported"),
                                                ("R2", "paddy_new", DA, 2024, "accepted", 1500.0, "unobserved")])
    return reg, ev


def test_cli_rules_evidence_and_inspections(tmp_path, monkeypatch):
    reg, ev = _real_registry(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = ["progress", "--registry", str(reg.path), "-o", "out", "--as-of", "2024-06-30", "--lang", "en"]
    r = CliRunner().invoke(main, args + ["--evidence", str(ev)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    i = lines.index("  problems 1 (to correct):")
    assert lines[i + 1] == "    completed/accepted but the latest field inspection disagrees: 1"
    assert ("New paddy fields: Imagery check: claimed complete (mu) 3,000.00 · Imagery disagrees (mu) 1,500.00 · "
            "Imagery unobserved (mu) 1,500.00") in lines
    csv = pd.read_csv(tmp_path / "out" / "progress.csv", encoding="utf-8-sig", comment="#").set_index("Target key")
    assert csv.loc["paddy_new", "Imagery disagrees (mu)"] == 1500.0

    # a user's rules: every inspection-free flag kind keeps "problem"; the rules file is checked
    bad = tmp_path / "rules.yml"
    bad.write_text("reserves:\n  other_severity: urgent\n", encoding="utf-8")
    r = CliRunner().invoke(main, args + ["--rules", str(bad)])
    assert r.exit_code == 1 and "rules.yml: reserves.other_severity is 'urgent'; use one of problem, information" \
        in r.output
    r = CliRunner().invoke(main, args + ["--evidence", "nowhere/evidence.gpkg"])
    assert r.exit_code == 1
    assert ("evidence file nowhere/evidence.gpkg does not exist; run agrigis verify --stack STACK.nc -o DIR first, "
            "then pass --evidence DIR/evidence.gpkg") in r.output
    other = tmp_path / "other.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[box(0, 0, 1, 1)], crs=4490).to_file(other, layer="parcels")
    r = CliRunner().invoke(main, args + ["--evidence", str(other)])
    assert r.exit_code == 1 and f"{other} has no layer 'evidence' (has: parcels)" in r.output


# ------------------------------------------------------------------ the inspection sheet (issue 22, item 3)
from conftest_postgis import pg_server  # noqa: E402,F401 - fixture

HSF = {"HSF-1": box(123.40, 45.94, 123.41, 45.95), "HSF-2": box(123.50, 45.94, 123.51, 45.95),
       "HSF-3": box(123.60, 45.94, 123.61, 45.95)}


def _jpeg() -> bytes:
    """Bytes the import takes for a JPEG (it checks the magic number, stores the bytes as given)."""
    return b"\xff\xd8\xff\xe0" + b"agrigis progress test photo" + b"\xff\xd9"


@pytest.fixture(params=["gpkg", "postgis"])
def hsf_registry(request, tmp_path):
    """Three completed/accepted projects; HSF-1's latest inspection (with a photo) says partly built."""
    import base64

    where = str(tmp_path / "r.gpkg") if request.param == "gpkg" else request.getfixturevalue("pg_server").new_database()
    rows = gpd.GeoDataFrame({"project_code": list(HSF), "project_name": ["一号田", "二号田", "三号田"],
                             "category": "high_standard_farmland", "county_code": "220821", "year": 2024,
                             "status": ["completed", "accepted", "completed"], "declared_area_mu": np.nan,
                             "area_mu": area_mu(list(HSF.values()), crs="EPSG:4490"), "investment_wan_yuan": np.nan},
                            geometry=list(HSF.values()), crs="EPSG:4490")
    Registry(where).write(rows, source="test", sha256="0" * 64)
    photo = {"name": "east.jpg", "data": "data:image/jpeg;base64," + base64.b64encode(_jpeg()).decode()}
    feats = [_inspection("insp-0001-a", "HSF-1", "built", "2024-06-01T09:00:00Z"),
             _inspection("insp-0002-b", "HSF-1", "partly_built", "2024-08-15T10:30:00Z",
                         note="<script>alert(1)</script>东侧未平整"),
             _inspection("insp-0003-c", "HSF-2", "built", "2024-09-01T08:00:00Z")]
    feats[1]["properties"]["photos"] = [photo, photo]
    feats[1]["properties"]["accuracy_m"] = 4.5
    f = tmp_path / "agrigis-inspections.geojson"
    f.write_text(json.dumps({"type": "FeatureCollection", "agrigis": "inspections", "features": feats},
                            ensure_ascii=False), encoding="utf-8")
    r = CliRunner().invoke(main, ["inspections", "import", str(f), "--registry", where, "--lang", "en"])
    assert r.exit_code == 0 and "3 new" in r.output, r.output
    return where


def _progress(tmp_path, registry, lang="zh"):
    out = tmp_path / f"out-{lang}"
    r = CliRunner().invoke(main, ["progress", "--registry", registry, "-o", str(out), "--as-of", "2024-09-30",
                                  "--lang", lang])
    assert r.exit_code == 0, f"{r.output}\n{r.exception!r}"
    return out


def test_the_workbook_lists_the_registrys_inspections(hsf_registry, tmp_path):
    out = _progress(tmp_path, hsf_registry)
    wb = load_workbook(out / "progress.xlsx")
    names = wb.sheetnames
    assert names[names.index("问题图斑") + 1] == "现场核查"
    ws = wb["现场核查"]
    assert [c.value for c in ws[1]] == ["项目编号", "项目名称", "县(市、区)", "项目库状态", "核查结论", "备注", "核查时间",
                                        "定位精度(米)", "照片数", "最近一次核查与已完工/验收不符", "核查编号"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2) if r[0].value and r[10].value]
    assert rows == [
        ["HSF-1", "一号田", "镇赉县", "完工", "已建成", None, "2024-06-01 09:00", 8.0, 0, "否", "insp-0001-a"],
        ["HSF-1", "一号田", "镇赉县", "完工", "部分建成", "<script>alert(1)</script>东侧未平整", "2024-08-15 10:30", 4.5, 2,
         "是", "insp-0002-b"],
        ["HSF-2", "二号田", "镇赉县", "验收", "已建成", None, "2024-09-01 08:00", 8.0, 0, "否", "insp-0003-c"],
    ]
    assert ws["H2"].number_format == "0.0" and isinstance(ws["I3"].value, int)
    flags = wb["问题图斑"]
    assert [r[2].value for r in flags.iter_rows(min_row=2) if r[0].value == "已完工/验收但最近一次现场核查不符"] == ["HSF-1"]
    page = (out / "progress.html").read_text(encoding="utf-8")
    assert "<h2>现场核查 (3)</h2>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;东侧未平整" in page and "<script" not in page


def test_the_inspection_sheet_in_english_and_only_with_inspections(tmp_path):
    reg = tmp_path / "plain.gpkg"
    rows = gpd.GeoDataFrame({"project_code": ["HSF-1"], "project_name": [None], "category": "high_standard_farmland",
                             "county_code": "220821", "year": 2024, "status": ["completed"],
                             "declared_area_mu": np.nan, "area_mu": area_mu([HSF["HSF-1"]], crs="EPSG:4490"),
                             "investment_wan_yuan": np.nan}, geometry=[HSF["HSF-1"]], crs="EPSG:4490")
    Registry(reg).write(rows, source="test", sha256="0" * 64)
    out = _progress(tmp_path, str(reg), "en")
    assert "Field inspections" not in load_workbook(out / "progress.xlsx").sheetnames
    assert "Field inspections" not in (out / "progress.html").read_text(encoding="utf-8")
    _import_inspections(tmp_path, Registry(reg), [_inspection("insp-0009-z", "HSF-1", "not_started",
                                                              "2024-07-01T08:00:00Z")])
    out = _progress(tmp_path, str(reg), "en")
    ws = load_workbook(out / "progress.xlsx")["Field inspections"]
    assert [c.value for c in ws[1]][3:6] == ["Status in the registry", "Finding", "Note"]
    assert [c.value for c in ws[2]][:5] == ["HSF-1", None, "Zhenlai County", "completed", "not started"]
    assert ws["J2"].value == "yes"
