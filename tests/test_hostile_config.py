"""Issue 14, items 12 (targets) and 13 (YAML): configuration files a hostile or careless
hand wrote -- alias bombs, GBK, huge files, unsafe tags, wrong container types,
absurd grid resolutions, infinite targets -- give one clear line, never a traceback."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import xarray as xr
import rioxarray  # noqa: F401
from click.testing import CliRunner

from gis.config import MAX_CONFIG_BYTES, expect, key_path, load_yaml, parse_yaml
from gis.errors import ConfigError, DataFileError
from workflows.cli import main

CITY = "city: {code: '220800', name_zh: 白城市, name_en: Baicheng}\nyear: 2024\n"
TARGET = "{key: x, category: paddy_new, name_zh: x, name_en: x, value: 1, unit: mu}"


def bomb(levels: int = 9, width: int = 10) -> str:
    """A "billion laughs" catalogue: ``width ** levels`` values once the aliases expand."""
    names = "abcdefghijklmnop"
    lines = ["layers:", "  - l0: &a [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"    l{i}: &{names[i]} [" + ", ".join([f"*{names[i - 1]}"] * width) + "]")
    lines.append(f"    name: *{names[levels - 1]}")
    return "\n".join(lines) + "\n"


def cli(*args):
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.output.strip()


# --------------------------------------------------------------------------- the loader


def test_anchor_bomb_in_the_workspace_catalogue_is_refused_quickly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cat = tmp_path / "catalog.yml"
    cat.write_text(bomb(), encoding="utf-8")
    t0 = time.perf_counter()
    out = cli("map", "layer", "counties", "-o", "m.html")
    assert time.perf_counter() - t0 < 10
    assert out == (f"错误:{cat}(第 7 行):YAML 别名(*名称)展开后超过 1000000 个值;"
                   "请直接写出这些值,不要层层引用锚点")
    assert out.count("错误") == 1
    assert cli("map", "layer", "counties", "--lang", "en").startswith(f"error: {cat} at line ")
    assert not (tmp_path / "m.html").exists()
    from layers.catalog import Catalog

    with pytest.raises(ConfigError, match=r"catalog.yml at line \d+: the YAML aliases \(\*name\) expand to more "
                                          r"than 1000000 values; write the values out"):
        Catalog()


def test_a_few_aliases_and_merge_keys_are_fine():
    text = "base: &b {weight: 1, layer: dem}\nx: {<<: *b, weight: 2}\ny: [*b, *b]\n"
    assert parse_yaml(text) == {"base": {"weight": 1, "layer": "dem"}, "x": {"weight": 2, "layer": "dem"},
                                "y": [{"weight": 1, "layer": "dem"}] * 2}


def test_recursive_alias_and_deep_nesting_are_refused():
    with pytest.raises(ConfigError, match=r"t.yml at line 1: the YAML alias \*a refers to the value it is part of"):
        parse_yaml("a: &a [1, *a]\n", origin="t.yml")
    with pytest.raises(ConfigError, match=r"t.yml at line 1: the YAML is nested more than 64 levels deep"):
        parse_yaml("[" * 100 + "]" * 100, origin="t.yml")
    with pytest.raises(ConfigError, match=r"t.yml(: not valid YAML)? at line 1: .*(depth|deep)"):
        parse_yaml("[" * 50000 + "]" * 50000, origin="t.yml")  # libyaml stops it first, or we do


def test_unsafe_tags_are_refused_naming_the_tag(tmp_path):
    p = tmp_path / "t.yml"
    p.write_text(CITY + f"targets:\n  - !!python/object/apply:os.system ['touch {tmp_path}/pwned']\n",
                 encoding="utf-8")
    from workflows.targets import load_targets

    with pytest.raises(ConfigError, match=r"t.yml at line 4: the YAML tag 'tag:yaml.org,2002:python/object/apply:"
                                          r"os.system' is not allowed") as info:
        load_targets(p)
    assert "不允许使用 YAML 标签" in info.value.text("zh")
    assert not (tmp_path / "pwned").exists()


def test_syntax_errors_keep_their_line(tmp_path):
    p = tmp_path / "m.yml"
    p.write_text("columns:\n  project_code: [a\nvalues: {}\n", encoding="utf-8")
    from layers.fields import load_mapping

    with pytest.raises(ConfigError, match=r"m.yml: not valid YAML at line 3: "):
        load_mapping(p)
    p.write_text("columns:\x00\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"m.yml: not valid YAML at line 1: (control|special) characters are not allowed"):
        load_mapping(p)


GBK = "layers:\n  - {name: 县界, kind: vector, path: 县界.gpkg, synthetic: true}\n"


def test_gbk_config_says_save_it_as_utf8(tmp_path, monkeypatch):
    from layers.catalog import Catalog

    (tmp_path / "catalog.yml").write_bytes(GBK.encode("gbk"))
    with pytest.raises(ConfigError, match=r"catalog.yml: the layer catalogue is not UTF-8 text \(line 2\) and looks "
                                          r"GBK-encoded; save it as UTF-8") as info:
        Catalog(tmp_path)
    assert "不是 UTF-8 文本(第 2 行),看起来是 GBK 编码;请将其另存为 UTF-8 编码" in info.value.text("zh")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yml").write_bytes((CITY + "targets:\n  - {key: x, category: paddy_new, name_zh: 新建, "
                                      "name_en: x, value: 1, unit: mu}\n").encode("gbk"))
    assert cli("progress", "--targets", "s.yml") == (
        "错误:s.yml:目标文件不是 UTF-8 文本(第 1 行),看起来是 GBK 编码;"
        "请将其另存为 UTF-8 编码(如记事本:另存为 → 编码选 UTF-8)")
    (tmp_path / "suit.yml").write_bytes("title_zh: 水田\ncriteria: {}\n".encode("gbk"))
    assert cli("suitability", "--config", "suit.yml", "--lang", "en") == (
        "error: suit.yml: the suitability configuration is not UTF-8 text (line 1) and looks GBK-encoded; "
        "save it as UTF-8 (e.g. Notepad: Save As → Encoding: UTF-8)")
    (tmp_path / "m.yml").write_bytes("columns:\n  project_code: [图斑号]\n".encode("gbk"))
    from layers.fields import load_mapping

    with pytest.raises(ConfigError, match=r"m.yml: the mapping file is not UTF-8 text \(line 2\)"):
        load_mapping(tmp_path / "m.yml")


def test_utf8_bom_and_utf16_are_read(tmp_path):
    p = tmp_path / "m.yml"
    p.write_bytes("\ufeffcolumns:\n  project_code: [图斑号]\n".encode("utf-8"))
    from layers.fields import load_mapping

    assert load_mapping(p).match_columns(["图斑号"])["project_code"] == "图斑号"
    p.write_text("\ufeffcolumns:\n  project_code: [图斑号]\n", encoding="utf-16")  # Notepad's "Unicode"
    assert load_mapping(p).match_columns(["图斑号"])["project_code"] == "图斑号"


def test_a_huge_or_endless_file_is_refused_before_reading(tmp_path):
    p = tmp_path / "t.yml"
    p.write_bytes(b"# " + b"x" * MAX_CONFIG_BYTES + b"\n")
    with pytest.raises(ConfigError, match=rf"t.yml: the targets file has {MAX_CONFIG_BYTES + 3} bytes, more than "
                                          rf"the {MAX_CONFIG_BYTES} a configuration file may have"):
        load_yaml(p, what="targets")
    from layers.fields import load_mapping

    with pytest.raises(ConfigError, match=r"/dev/zero: the mapping file has > 1048576 bytes"):
        load_mapping("/dev/zero")
    with pytest.raises(DataFileError, match=r"cannot read the targets file .*: Is a directory"):
        load_yaml(tmp_path, what="targets")


def test_expect_and_key_path():
    assert key_path("layers", 2, "path") == "layers[2].path"
    assert expect({"a": 1}, "mapping", origin="x", at="g") == {"a": 1}
    assert expect(None, "list", origin="x", at="g", optional=True) is None
    with pytest.raises(ConfigError, match=r"^c.yml: grid must be a mapping \(key: value\), not 'abc'$") as info:
        expect("abc", "mapping", origin="c.yml", at="grid")
    assert info.value.text("zh") == "c.yml:grid 应为映射(键: 值),而不是 'abc'"
    with pytest.raises(ConfigError, match=r"a must be a finite number, not True"):
        expect(True, "number", origin="c.yml", at="a")
    with pytest.raises(ConfigError, match=r"a must be a mapping \(key: value\), not \[\[\[\[...\], \[...\], ") as info:
        expect([[[list(range(10))] * 10] * 10] * 10, "mapping", origin="c.yml", at="a")
    assert len(str(info.value)) < 150


# --------------------------------------------------------------------------- wrong container types


@pytest.mark.parametrize("text, match", [
    ("layers:\n  - {name: {a: 1}, kind: vector, path: a.gpkg, synthetic: true}\n",
     r"catalog.yml: layers\[1\].name must be text, not \{'a': 1\}"),
    ("layers:\n  - {name: a, kind: vector, path: [a.gpkg], synthetic: true}\n",
     r"catalog.yml: layers\[1\].path must be text, not \['a.gpkg'\]"),
    ("layers:\n  - {name: a, kind: [vector], path: a.gpkg, synthetic: true}\n",
     r"catalog.yml: layers\[1\].kind must be text, not \['vector'\]"),
    ("layers: []\n1: x\nb: y\n", r"unknown top-level key\(s\) \['1', 'b'\]"),
    ("layers: 5\n", r"'layers' must be a list"),
])
def test_catalogue_wrong_types(tmp_path, text, match):
    from layers.catalog import Catalog

    (tmp_path / "catalog.yml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        Catalog(tmp_path)


@pytest.mark.parametrize("text, match", [
    ("columns: [project_code]\n", r"m.yml: columns must be a mapping \(key: value\), not \['project_code'\]"),
    ("values: 5\n", r"m.yml: values must be a mapping \(key: value\), not 5"),
    ("values:\n  status: [done]\n", r"m.yml: values.status must be a mapping \(key: value\), not \['done'\]"),
    ("values:\n  status: done\n", r"m.yml: values.status must be a mapping \(key: value\), not 'done'"),
    ("area_units:\n  面积: [mu]\n", r"m.yml: area_units.面积 must be text, not \['mu'\]"),
    ("area_units: mu\n", r"m.yml: area_units must be a mapping \(key: value\), not 'mu'"),
])
def test_mapping_wrong_types(tmp_path, text, match):
    from layers.fields import load_mapping

    p = tmp_path / "m.yml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_mapping(p)


@pytest.mark.parametrize("text, match", [
    ("targets: 5\n", r"t.yml: targets must be a list, not 5"),
    ("targets: {a: 1}\n", r"t.yml: targets must be a list, not \{'a': 1\}"),
    ("count_targets: x\ntargets:\n  - " + TARGET + "\n", r"t.yml: count_targets must be a list, not 'x'"),
    ("targets:\n  - {key: x, category: [paddy_new], name_zh: x, name_en: x, value: 1, unit: mu}\n",
     r"t.yml: target 'x': unknown category \['paddy_new'\]"),
    ("targets:\n  - {key: x, category: paddy_new, name_zh: x, name_en: x, value: 1, unit: {a: 1}}\n",
     r"t.yml: target 'x': unit \{'a': 1\} is not an area unit"),
    ("targets:\n  - {key: x, category: paddy_new, name_zh: x, name_en: x, value: 1, unit: mu, comparator: [a]}\n",
     r"t.yml: target 'x': comparator \['a'\] is not one of"),
    ("targets:\n  - {key: x, category: paddy_new, name_zh: x, name_en: x, value: 1, unit: mu, achieved_statuses: 5}\n",
     r"t.yml: targets\[1\].achieved_statuses must be a name or a list of names, not 5"),
    ("defaults: {achieved_statuses: [[completed]]}\ntargets:\n  - " + TARGET + "\n",
     r"t.yml: defaults.achieved_statuses must be a name or a list of names, not \[\['completed'\]\]"),
])
def test_targets_wrong_types(tmp_path, text, match):
    from workflows.targets import load_targets

    p = tmp_path / "t.yml"
    p.write_text(CITY + text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_targets(p)


CRIT = "criteria:\n  slope: {layer: dem, derive: slope_deg, scores: [[0, 1], [3, 0]]}\n"


@pytest.mark.parametrize("text, match", [
    (CRIT + "grid: [1, 2]\n", r"s.yml: grid must be a mapping \(key: value\), not \[1, 2\]"),
    (CRIT + "exclusions: 5\n", r"s.yml: exclusions must be a list, not 5"),
    (CRIT + "exclusions: {layer: x}\n", r"s.yml: exclusions must be a list, not \{'layer': 'x'\}"),
    ("criteria:\n  ph: {layers: 5, scores: [[0, 1], [3, 0]]}\n",
     r"s.yml: criteria.ph.layers must be a name or a list of names, not 5"),
    ("criteria:\n  ph: {layer: soil_ph, scheme: [a], class_scores: {}}\n",
     r"s.yml: criteria.ph.scheme must be text, not \['a'\]"),
    (CRIT + "grid: {crs: [EPSG:4550]}\n", r"s.yml: grid.crs must be text, not \['EPSG:4550'\]"),
    (CRIT + "grid: {crs: 'EPSG:99999'}\n", r"s.yml: grid.crs EPSG:99999 must be a projected CRS in metres"),
    (CRIT + "grid: {resolution_m: .inf}\n", r"s.yml: grid.resolution_m: inf is not a finite number"),
])
def test_suitability_wrong_types(tmp_path, text, match):
    from workflows.suitability import load_config

    p = tmp_path / "s.yml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_config(p)


# --------------------------------------------------------------------------- bounds


def dem_1km(res: float = 100.0):
    """A flat 1 km × 1 km DEM in EPSG:4550 (10 × 10 cells of 100 m)."""
    n = int(1000 / res)
    a = xr.DataArray(np.full((n, n), 130.0), dims=("y", "x"),
                     coords={"y": 5040000 - res * (np.arange(n) + 0.5), "x": 500000 + res * (np.arange(n) + 0.5)})
    return a.rio.write_crs("EPSG:4550")


def test_a_grid_resolution_that_is_too_fine_is_refused_before_allocating(tmp_path, monkeypatch):
    from gis.suitability import screen

    cfg = {"grid": {"layer": "dem", "crs": "EPSG:4550", "resolution_m": 0.01},
           "criteria": {"slope": {"layer": "dem", "derive": "slope_deg", "scores": [[0, 1], [3, 0]]}}}
    with pytest.raises(ConfigError, match=r"^<dict>: grid.resolution_m 0.01 m is too fine: the extent of dem "
                                          r"\(1 km²\) would need 1e\+10 cells, more than 1e\+09; use a resolution "
                                          r"of at least 0.032 m$") as info:
        screen({"dem": dem_1km()}, {}, cfg)
    assert "grid.resolution_m 0.01 米太细" in info.value.text("zh")
    dem = dem_1km().rio.reproject("EPSG:4490")
    with pytest.raises(ConfigError, match=r"grid.resolution_m 0.01 m is too fine"):
        screen({"dem": dem}, {}, cfg)  # reprojected: the extent is measured in grid.crs


def test_a_distance_score_that_pads_the_grid_beyond_memory_is_refused():
    import geopandas as gpd
    from shapely import LineString

    from gis.suitability import screen

    canal = gpd.GeoDataFrame(geometry=[LineString([(500050, 5040500), (500050, 5039000)])], crs="EPSG:4550")
    cfg = {"grid": {"layer": "dem", "crs": "EPSG:4550"},
           "criteria": {"water": {"layers": ["canals"], "derive": "distance_m", "scores": [[0, 1], [1.0e7, 0]]}}}
    with pytest.raises(ConfigError, match=r"<dict>: criteria.water: distances up to 1e\+07 m on a 100 m grid need "
                                          r"4e\+10 cells, more than 1e\+09; lower the largest distance"):
        screen({"dem": dem_1km()}, {"canals": canal.to_crs("EPSG:4490")}, cfg)


def test_suitability_cli_resolution_too_fine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dem_1km().astype("float32").rio.to_raster(tmp_path / "dem.tif")
    (tmp_path / "catalog.yml").write_text(
        "layers:\n  - {name: dem, kind: raster, path: dem.tif, role: dem, synthetic: true}\n", encoding="utf-8")
    (tmp_path / "s.yml").write_text(CRIT + "grid: {layer: dem, crs: 'EPSG:4550', resolution_m: 0.01}\n",
                                    encoding="utf-8")
    out = cli("suitability", "--config", "s.yml", "--remaining-wan-mu", "1")
    assert out.startswith("错误:s.yml:grid.resolution_m 0.01 米太细:dem 的范围(1 平方公里)需要 1e+10 个格子")
    assert not (tmp_path / "suitability").exists()


# --------------------------------------------------------------------------- targets (item 12)


@pytest.mark.parametrize("value, shown", [("1.0e+400", "inf"), ("-1.0e+400", "-inf"), (".nan", "nan"),
                                          (".inf", "inf")])
def test_targets_refuse_non_finite_values(tmp_path, value, shown):
    from workflows.targets import load_targets

    p = tmp_path / "t.yml"
    p.write_text(CITY + f"targets:\n  - {{key: x, category: paddy_new, name_zh: x, name_en: x, value: {value}, "
                        "unit: mu}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{p}: target 'x': field 'value' must be a finite number, got {shown} "
                                          r"\(too large, or not a number\)$") as info:
        load_targets(p)
    assert info.value.text("zh").endswith(f"字段 'value' 必须是有限的数字,实际为 {shown}(数值过大或不是数字)")


def test_targets_refuse_negative_and_infinite_site_sizes(tmp_path, monkeypatch):
    from workflows.targets import load_targets

    p = tmp_path / "t.yml"
    p.write_text(CITY + "targets:\n  - {key: x, category: paddy_new, name_zh: x, name_en: x, value: -5, unit: mu}\n",
                 encoding="utf-8")
    with pytest.raises(ConfigError, match=r"target 'x': field 'value' must be greater than 0, got -5"):
        load_targets(p)
    p.write_text(CITY + "targets:\n  - " + TARGET + "\ncount_targets:\n  - {key: s, category: saline_demo_area, "
                 "name_zh: s, name_en: s, value: 3, min_site_mu: 1.0e+999}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"count target 's': field 'min_site_mu' must be a finite number, got inf"):
        load_targets(p)
    monkeypatch.chdir(tmp_path)
    p.write_text(CITY + "targets:\n  - {key: x, category: paddy_new, name_zh: x, name_en: x, value: 1.0e+400, "
                        "unit: mu}\n", encoding="utf-8")
    out = cli("progress", "--targets", "t.yml")
    assert out == "错误:目标文件 t.yml:目标条目 'x':字段 'value' 必须是有限的数字,实际为 inf(数值过大或不是数字)"


@pytest.mark.parametrize("res", [1.0e-300, 5e-324])
def test_a_resolution_whose_square_underflows_is_too_fine_not_a_crash(res):
    from gis.suitability import screen

    cfg = {"grid": {"layer": "dem", "crs": "EPSG:4550", "resolution_m": res},
           "criteria": {"slope": {"layer": "dem", "derive": "slope_deg", "scores": [[0, 1], [3, 0]]}}}
    with pytest.raises(ConfigError, match=r"is too fine: .* use a resolution of at least 0.032 m$"):
        screen({"dem": dem_1km()}, {}, cfg)


def test_exponents_without_a_dot_or_sign_are_numbers():
    from gis.config import parse_yaml

    # YAML 1.1 (PyYAML) reads these as text; a person writing a target means a number
    assert parse_yaml("a: 2.389e1\nb: 1e3\nc: '1e3'\nd: 1.0e+400\ne: -2E-2\n") == {
        "a": 23.89, "b": 1000.0, "c": "1e3", "d": math.inf, "e": -0.02}
