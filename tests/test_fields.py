"""layers.fields: the column/value mapping table and its user extension."""

from __future__ import annotations

import pandas as pd
import pytest

from gis.errors import ConfigError, InputError
from gis.labels import CATEGORIES
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


def test_bundled_file_lists_only_extra_spellings():
    """fields.yml adds spellings; codes and their labels are aliases already (from
    gis.labels), so repeating them there would be a second place to keep in step."""
    from pathlib import Path

    import yaml

    from gis.labels import STATUSES

    path = Path(__file__).resolve().parents[1] / "layers" / "fields.yml"
    values = yaml.safe_load(path.read_text(encoding="utf-8"))["values"]
    for kind, codes in (("category", CATEGORIES), ("status", STATUSES)):
        for code, spellings in values[kind].items():
            own = {norm(code), norm(codes[code][0]), norm(codes[code][1])}
            assert not own & {norm(v) for v in spellings}, (kind, code)
    m = load_mapping()
    for code, (zh, en) in CATEGORIES.items():  # …and they still map
        assert m.value("category", zh) == m.value("category", en) == m.value("category", code) == code
    for code, (zh, en) in STATUSES.items():
        assert m.value("status", zh) == m.value("status", en) == code


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
    for text, msg, zh in [("columns:\n  colour: [x]\n", "'colour' is not a registry field", "'colour' 不是项目库的字段"),
                          ("values:\n  status:\n    done: [x]\n", "'done' is not a status code", "'done' 不是 status 代码"),
                          ("mapping: {}\n", "unknown key\\(s\\) mapping", "未知的键 mapping"),
                          ("area_units:\n  面积(顷): acre\n", "unit 'acre'", "的单位 'acre' 无法识别"),
                          ("- a\n", "must be a YAML mapping", "必须是含 columns / values 键的 YAML 映射"),
                          ("columns:\n  project_code: {a: 1}\n", "expected a list of names", "此处应为名称列表"),
                          ("values:\n  colour: {}\n", "values: 'colour' is unknown", "'colour' 无法识别")]:
        p.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=msg) as info:
            load_mapping(p)
        assert zh in info.value.text("zh") and info.value.text("zh").startswith(f"{p}:"), info.value.text("zh")
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_mapping(tmp_path / "nope.yml")
    assert info.value.text("zh") == f"字段对照文件 {tmp_path / 'nope.yml'} 不存在;请给出 YAML 文件的路径"


def test_table_level_errors():
    df = pd.DataFrame({"项目编号": ["A"], "状态": ["规划"]})
    with pytest.raises(InputError, match="a.shp: no category column and no --category option"):
        map_fields(df, source="a.shp", year=2024)
    with pytest.raises(InputError, match="--category '鱼塘' is unknown"):
        map_fields(df, source="a.shp", category="鱼塘", year=2024)
    with pytest.raises(InputError, match="--year: year 20240 is not a year"):
        map_fields(df, source="a.shp", category="造林", year=20240)


def test_table_level_errors_in_chinese():
    df = pd.DataFrame({"项目编号": ["A"], "状态": ["规划"]})
    with pytest.raises(InputError) as info:
        map_fields(df, source="a.shp", year=2024)
    assert info.value.text("zh") == ("a.shp:没有项目类别列,也没有 --category 选项;请用 --category 为整个文件指定,"
                                     "或按 layers/fields.yml 为列命名")
    with pytest.raises(InputError) as info:
        map_fields(df, source="a.shp", category="鱼塘", year=2024)
    assert info.value.text("zh").startswith("--category '鱼塘' 不是已知的项目类别;请使用以下之一:high_standard_farmland, ")
    with pytest.raises(InputError) as info:
        map_fields(df, source="a.shp", category="造林", year=20240)
    assert info.value.text("zh").startswith("--year 选项有误:建设年度 20240 不是 1990 至 2100 之间的年份")
    with pytest.raises(InputError) as info:
        map_fields(pd.DataFrame({"名称": ["x"], "面积": [1]}), source="b.shp", category="造林", year=2024, status="规划")
    assert info.value.text("zh").startswith("b.shp:没有项目编号列;现有的列为 名称, 面积。请将其中一列改名为 项目编号")
    rows, rej = map_fields(pd.DataFrame({"项目编号": ["A", ""], "年度": ["", 2024]}), source="a",
                           category="造林", status="规划", lang="en")
    assert rej["reason"].tolist() == ["year is empty (column '年度'); fill it in or give --year",
                                      "no project code in column '项目编号'; every parcel needs a 项目编号"]
    rows, rej = map_fields(pd.DataFrame({"项目编号": ["A", ""], "年度": ["", 2024]}), source="a",
                           category="造林", status="规划")
    assert rej["reason"].tolist() == ["建设年度为空(列 '年度');请补填,或用 --year 为整个文件统一指定",
                                      "列 '项目编号' 中没有项目编号;每个地块都必须填写项目编号"]


def test_value_reasons_in_both_languages():
    df = pd.DataFrame({"项目编号": ["A", "B", "C", "D", "E", "E"], "年度": [2024, "24年", 2024, 2024, 2024, 2024],
                       "类型": ["造林", "造林", "", "造林", "造林", "造林"],
                       "面积(亩)": ["100", "100", "100", "-5", "1", "2"],
                       "投资(万元)": ["1", "1", "1", "1", "约3万", "1"],
                       "状态": ["规划"] * 6, "县": ["镇赉", "镇赉", "镇赉", "镇赉", "镇赉", "长春"]})
    en = map_fields(df, source="a", lang="en")[1].set_index("_row")["reason"]
    zh = map_fields(df, source="a")[1].set_index("_row")["reason"]
    assert en.to_dict() == {
        2: "year '24年' is not a year between 1990 and 2100; write it like 2024 (column '年度')",
        3: "category empty (column '类型'); use one of " + ", ".join(CATEGORIES)
           + ", its Chinese name, --category, or add the value to a --mapping file",
        4: "area '-5' is negative or not finite; give the area as a positive number (column '面积(亩)')",
        5: "investment '约3万' is not a number; write digits only, e.g. 1200.5 (column '投资(万元)')",
        6: "county '长春' (column '县') is not a county of Baicheng; use a code or name of 220802 洮北区, "
           "220821 镇赉县, 220822 通榆县, 220881 洮南市, 220882 大安市"}
    assert zh.to_dict() == {
        2: "建设年度 '24年' 不是 1990 至 2100 之间的年份;请写成 2024 这样的四位年份(列 '年度')",
        3: "项目类型为空(列 '类型');请填写以下名称之一:" + "、".join(zh for zh, _ in CATEGORIES.values())
           + "(或其英文代码),或用 --category 为整个文件统一指定,或将该值添加到 --mapping 映射文件中",
        4: "申报面积 '-5' 为负数或不是有效数值;请填写正数(列 '面积(亩)')",
        5: "投资 '约3万' 不是数字;请只填写数字,例如 1200.5(列 '投资(万元)')",
        6: "县(市、区) '长春'(列 '县')不属于白城市;请填写以下代码或名称之一:220802 洮北区、"
           "220821 镇赉县、220822 通榆县、220881 洮南市、220882 大安市"}


def test_codes_of_every_kind_read_in_one_pass_equal_value_by_value():
    """The one-pass codes (printable ASCII text, whole numbers) are those of project_code
    value by value, with the same notes and rejects; the rest goes value by value."""
    from layers.fields import _code_key, code_key, project_code

    raw = [" P1 ", "2024001.0", "A-1", "Ｐ２", "P3\u200b", "", "   ", None, 7, 2024002.0, "x.0", "12.00", "b\t1",
           "C 4"]
    df = pd.DataFrame({"项目编号": pd.Series(raw, dtype=object), "年度": 2024, "类型": "造林", "状态": "规划"})
    rows, rej = map_fields(df, source="a", lang="en")
    codes = dict(zip(rows["_row"], rows["project_code"], strict=True))
    assert codes == {1: "P1", 2: "2024001", 3: "A-1", 4: "P2", 5: "P3", 9: "7", 10: "2024002", 11: "x.0",
                     12: "12.00", 13: "b\t1", 14: "C 4"}
    assert all(project_code(raw[r - 1]) == c for r, c in codes.items())
    assert rej["_row"].tolist() == [6, 7, 8] and rej["reason"].str.startswith("no project code in column").all()
    notes = dict(zip(rows["_row"], rows["_repair"], strict=True))
    assert [r for r, n in notes.items() if n] == [2, 4, 5]  # text codes that changed (not a stripped space)
    assert notes[2] == ("project code '2024001.0' written as '2024001' (full-width characters and spaces "
                        "normalised)")
    for c in ["HSF-2024 01", "hsf_202401", "Ab_C", "a\tb", "Ｐ-１", "ß-x", "x\u3000y"]:
        assert _code_key(c) == code_key(c)
    assert code_key("HSF-2024 01") == code_key("hsf_202401") == "hsf202401"
    assert code_key("a\tb") == "ab" and code_key("x\u3000y") == "xy"
