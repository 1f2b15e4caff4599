"""Land-use rules (issue 16 part 3): ``check`` tells problems from normal overlaps."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely import box

from gis.area import area_mu
from gis.errors import ConfigError
from gis.land_rules import parse_land_rules
from layers.registry import Registry
from workflows.check import CheckOptions, load_rules, run_check
from workflows.cli import main

RESERVE = gpd.GeoDataFrame({"name_zh": ["莫莫格(测试)"]}, geometry=[box(123.80, 45.90, 123.90, 46.00)], crs="EPSG:4490")

PARCELS = [  # code, category, year, status, geometry (all in 镇赉县)
    ("HSF-1", "high_standard_farmland", 2024, "completed", box(123.40, 45.94, 123.41, 45.95)),
    ("FER-1", "fertigation", 2024, "completed", box(123.40, 45.94, 123.41, 45.95)),        # practice: normal
    ("HSF-2", "high_standard_farmland", 2024, "approved", box(123.405, 45.94, 123.415, 45.95)),  # declared twice
    ("NCL-1", "new_cultivated_land", 2023, "completed", box(123.50, 45.94, 123.51, 45.95)),
    ("PN-1", "paddy_new", 2024, "under_construction", box(123.50, 45.94, 123.51, 45.95)),  # may be normal
    ("PI-1", "paddy_improved", 2024, "planned", box(123.60, 45.94, 123.61, 45.95)),
    ("PN-2", "paddy_new", 2024, "planned", box(123.605, 45.94, 123.615, 45.95)),          # 2 builds, 1 year
    ("PI-2", "paddy_improved", 2022, "completed", box(123.70, 45.94, 123.71, 45.95)),
    ("HSF-3", "high_standard_farmland", 2024, "planned", box(123.70, 45.94, 123.71, 45.95)),  # later upgrade
    ("WR-1", "wetland_restoration", 2024, "planned", box(123.82, 45.92, 123.83, 45.93)),  # expected in reserve
    ("PN-3", "paddy_new", 2024, "planned", box(123.85, 45.95, 123.86, 45.96)),            # not in a reserve
]


@pytest.fixture()
def registry(tmp_path):
    codes, cats, years, status, geoms = zip(*PARCELS, strict=True)
    rows = gpd.GeoDataFrame({"project_code": codes, "project_name": None, "category": cats, "county_code": "220821",
                             "year": years, "status": status, "declared_area_mu": np.nan,
                             "area_mu": area_mu(list(geoms), crs="EPSG:4490"), "investment_wan_yuan": np.nan},
                            geometry=list(geoms), crs="EPSG:4490")
    reg = Registry(tmp_path / "r.gpkg")
    reg.write(rows, source="test", sha256="0" * 64)
    return reg


@pytest.fixture(scope="module")
def counties():
    import layers

    return layers.load("counties", workspace=False)


def _pairs(res, severity):
    p = res.problems[res.problems["severity"] == severity]
    return sorted(tuple(sorted(x for x in (a, b) if isinstance(x, str))) + (k,)
                  for k, a, b in zip(p["kind"], p["code_a"], p["code_b"], strict=True))


def test_problems_and_information_apart(registry, tmp_path, counties):
    res = run_check(registry.path, tmp_path / "out", fmt="csv", lang="en", counties=counties,
                    options=CheckOptions(protected_areas=RESERVE))
    assert _pairs(res, "problem") == [("HSF-1", "HSF-2", "overlap_same"), ("PI-1", "PN-2", "overlap_cross"),
                                      ("PN-3", "in_reserve")]
    assert _pairs(res, "information") == [("FER-1", "HSF-1", "overlap_cross"), ("FER-1", "HSF-2", "overlap_cross"),
                                          ("HSF-3", "PI-2", "overlap_cross"), ("NCL-1", "PN-1", "overlap_cross"),
                                          ("WR-1", "in_reserve")]
    rule = res.problems.set_index("code_a")["rule"]
    assert rule["PN-3"].startswith("land reclamation is forbidden inside nature reserves")
    assert "中华人民共和国自然保护区条例" in rule["PN-3"]
    reserve = res.problems[res.problems["kind"] == "in_reserve"].set_index("code_a")
    assert reserve.loc["WR-1", "value_mu"] == pytest.approx(float(area_mu(box(123.82, 45.92, 123.83, 45.93),
                                                                          crs="EPSG:4490")))
    csv = pd.read_csv(res.table, encoding="utf-8-sig", comment="#")
    assert list(csv.columns[:3]) == ["problem", "severity", "project code A"] and "rule" in csv.columns
    assert csv["severity"].tolist() == ["problem"] * 3 + ["information"] * 5  # problems first


def test_cli_counts_problems_and_information_separately(registry, tmp_path):
    r = CliRunner().invoke(main, ["check", "--registry", str(registry.path), "-o", str(tmp_path / "o"),
                                  "--format", "csv", "--lang", "en"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    i, j = lines.index("  problems 2 (to correct):"), lines.index("  information 4 (normal land use, for review):")
    assert lines[i + 1:i + 3] == ["    overlap within a category (declared twice): 1",
                                  "    overlap across categories: 1"]
    assert lines[j + 1] == "    overlap across categories: 4" and i < j


def test_user_rules_change_the_verdict(registry, tmp_path, counties):
    mine = tmp_path / "rules.yml"
    mine.write_text("default: information\noverlaps:\n  - a: [fertigation]\n    b: [high_standard_farmland]\n"
                    "    severity: problem\n    why: {zh: 本地规定, en: local rule}\n", encoding="utf-8")
    res = run_check(registry.path, tmp_path / "o", fmt="csv", lang="en", counties=counties,
                    options=CheckOptions(rules=mine, protected_areas=RESERVE.iloc[:0]))
    assert _pairs(res, "problem") == [("FER-1", "HSF-1", "overlap_cross"), ("FER-1", "HSF-2", "overlap_cross"),
                                      ("HSF-1", "HSF-2", "overlap_same")]
    assert set(res.problems.loc[res.problems["code_b"] == "FER-1", "rule"]) | set(
        res.problems.loc[res.problems["code_a"] == "FER-1", "rule"]) == {"local rule"}


def test_bundled_rules_name_every_pair_the_issue_names():
    rules = load_rules()
    info = [("fertigation", "high_standard_farmland"), ("conservation_tillage", "paddy_new"),
            ("deep_loosening", "paddy_improved"), ("paddy_new", "new_cultivated_land")]
    assert all(rules.overlap(a, b, 2024, 2024).severity == "information" for a, b in info)
    assert rules.overlap("paddy_new", "high_standard_farmland", 2024, 2024).severity == "problem"
    assert rules.overlap("paddy_new", "high_standard_farmland", 2022, 2024).severity == "information"
    assert [rules.reserve(c).severity for c in ("wetland_restoration", "afforestation", "paddy_new")] == [
        "information", "information", "problem"]


@pytest.mark.parametrize(("doc", "match"), [
    ({"default": "bad"}, r"r.yml: default is 'bad'; use one of problem, information"),
    ({"overlaps": [{"a": ["paddy"], "b": ["paddy_new"], "severity": "problem"}]},
     r"r.yml: 'paddy' in overlaps\[0\].a is not a category code; choose from afforestation"),
    ({"overlaps": [{"a": ["paddy_new"], "b": ["paddy_new"], "severity": "problem", "years": "odd"}]},
     r"r.yml: overlaps\[0\].years is 'odd'; use one of any, same, different"),
])
def test_bad_rules_are_refused_with_the_key(doc, match):
    from gis.labels import CATEGORIES

    with pytest.raises(ConfigError, match=match):
        parse_land_rules(doc, "r.yml", CATEGORIES)
