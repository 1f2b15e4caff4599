"""layers.fields: the column/value mapping table and its user extension."""

from __future__ import annotations

import pandas as pd
import pytest

from gis.errors import ConfigError, InputError
from layers.fields import load_mapping, map_fields, norm, parse_number, parse_year


def test_bundled_aliases():
    m = load_mapping()
    cols = m.match_columns(["XMBH", "项目名称", "建设类型", "年度", "项目状态", "面积（亩）", "县（市、区）", "总投资(万元)"])
    assert cols == {"project_code": "XMBH", "project_name": "项目名称", "category": "建设类型", "year": "年度",
                    "status": "项目状态", "declared_area_mu": "面积（亩）", "county": "县（市、区）",
                    "investment_wan_yuan": "总投资(万元)"}
    assert m.match_columns(["project_code", "面积(亩"])["declared_area_mu"] == "面积(亩"  # cut DBF name
    assert m.value("category", "高标准农田") == "high_standard_farmland"
    assert m.value("category", "Improved paddy") == "paddy_improved"
    assert m.value("status", "已完工") == "completed" and m.value("status", "Under Construction") == "under_construction"
    assert [m.county(v) for v in ("镇赉", "Da'an", "220881", 220802, "220822103", "长春")] == [
        "220821", "220882", "220881", "220802", "220822", None]


def test_values_and_units():
    assert norm(" 面积（亩） ") == "面积(亩)"
    assert parse_year("2024年度") == 2024 and parse_year(2023.0) == 2023
    with pytest.raises(ValueError, match="year '24' is not a year between 1990 and 2100"):
        parse_year("24")
    assert parse_number("1,200.5亩", "area") == 1200.5
    df = pd.DataFrame({"项目编号": [101.0, 102.0], "面积(公顷)": [10, 2], "类型": ["造林", "afforestation"],
                       "年度": [2024, 2024], "状态": ["规划", "规划"]})
    rows, rej = map_fields(df, source="x")
    assert rows["project_code"].tolist() == ["101", "102"] and rows["declared_area_mu"].tolist() == [150.0, 30.0]
    assert rej.empty


def test_user_mapping(tmp_path):
    p = tmp_path / "m.yml"
    p.write_text("columns:\n  project_code: [图斑号]\nvalues:\n  status:\n    completed: [交工]\n", encoding="utf-8")
    m = load_mapping(p)
    assert m.match_columns(["图斑号", "项目编号"])["project_code"] == "图斑号"  # user aliases win
    assert m.value("status", "交工") == "completed"
    assert load_mapping().value("status", "交工") is None  # the bundled table is untouched
    for text, msg in [("columns:\n  colour: [x]\n", "'colour' is not a registry field"),
                      ("values:\n  status:\n    done: [x]\n", "'done' is not a status code"),
                      ("mapping: {}\n", "unknown key\\(s\\) mapping"),
                      ("area_units:\n  面积(顷): acre\n", "unit 'acre'")]:
        p.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=msg):
            load_mapping(p)
    with pytest.raises(ConfigError, match="does not exist"):
        load_mapping(tmp_path / "nope.yml")


def test_table_level_errors():
    df = pd.DataFrame({"项目编号": ["A"], "状态": ["规划"]})
    with pytest.raises(InputError, match="a.shp: no category column and no --category option"):
        map_fields(df, source="a.shp", year=2024)
    with pytest.raises(InputError, match="--category '鱼塘' is unknown"):
        map_fields(df, source="a.shp", category="鱼塘", year=2024)
    with pytest.raises(InputError, match="--year: year 20240 is not a year"):
        map_fields(df, source="a.shp", category="造林", year=20240)
    rows, rej = map_fields(pd.DataFrame({"项目编号": ["A", ""], "年度": ["", 2024]}), source="a",
                           category="造林", status="规划")
    assert rej["reason"].tolist() == ["year is empty (column '年度'); fill it in or give --year",
                                      "no project code in column '项目编号'; every parcel needs a 项目编号"]
