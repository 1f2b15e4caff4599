"""The errors of the commands other than import speak the command's language: Chinese by
default, English with ``--lang en`` (``str(exc)`` stays English, word for word)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gis.errors import ConfigError, DataFileError
from workflows.cli import main


def run(*args):
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 1, res.output
    return res.output.strip()


# --------------------------------------------------------------------------- catalogue

def test_catalogue_unknown_key_in_both_languages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "catalog.yml").write_text(
        "layers:\n  - {name: a, kind: vector, path: a.gpkg, synthetic: false, titel_zh: x}\n", encoding="utf-8")
    cat = tmp_path / "catalog.yml"
    allowed = "crs, description, kind, layer, licence, name, path, role, source, synthetic, title_en, title_zh, unit"
    assert run("map", "layer", "counties") == f"错误:{cat},第 1 项('a'):未知的键 titel_zh;允许的键为 {allowed}"
    assert run("map", "layer", "counties", "--lang", "en") == (
        f"error: {cat}, entry 1 ('a'): unknown key(s) titel_zh; allowed keys are {allowed}")


def test_catalogue_errors_text_zh(tmp_path):
    from layers.catalog import Catalog

    (tmp_path / "catalog.yml").write_text("layers:\n  - {name: a, kind: shape, path: a.gpkg, synthetic: false}\n"
                                          "  - name: b\n    kind: raster\n    path: b.tif\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        Catalog(tmp_path, bundled=False)
    assert str(e.value) == f"{tmp_path / 'catalog.yml'}, entry 1 ('a'): unknown kind 'shape'; use 'vector' or 'raster'"
    assert e.value.text("zh") == f"{tmp_path / 'catalog.yml'},第 1 项('a'):未知的类型 'shape';请使用 vector 或 raster"

    (tmp_path / "catalog.yml").write_text("layers: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        Catalog(tmp_path, bundled=False)
    assert " not valid YAML at line 2: " in str(e.value)
    assert e.value.text("zh").startswith(f"{tmp_path / 'catalog.yml'}:不是有效的 YAML(第 2 行):")

    (tmp_path / "catalog.yml").write_text("layers:\n  - {name: a, kind: vector, path: a.gpkg, synthetic: false}\n",
                                          encoding="utf-8")
    cat = Catalog(tmp_path, bundled=False)
    with pytest.raises(ConfigError) as e:
        cat["rivers"]
    assert str(e.value) == f"no layer named 'rivers' in the catalogue ({tmp_path / 'catalog.yml'}); known layers: a"
    assert e.value.text("zh") == f"图层目录({tmp_path / 'catalog.yml'})中没有名为 'rivers' 的图层;已有的图层:a"
    with pytest.raises(DataFileError) as e:
        cat.load("a")
    assert e.value.text("zh") == (f"图层 'a':文件 {tmp_path / 'a.gpkg'}(来自 {tmp_path / 'catalog.yml'})不存在;"
                                  "请修改图层目录中的 path,或创建该文件")
    empty = Catalog(False, bundled=False)
    with pytest.raises(ConfigError) as e:
        empty["a"]
    assert str(e.value).endswith("known layers: none") and e.value.text("zh").endswith("已有的图层:无")


# --------------------------------------------------------------------------- targets

CITY = "city: {code: '220800', name_zh: 白城市, name_en: Baicheng}\nyear: 2024\n"


def test_progress_targets_errors_in_both_languages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yml").write_text(
        CITY + "targets:\n  - {key: x, category: paddy_new, name_zh: x, name_en: x, value: 1, unit: mu, "
        "scope: [220899]}\n", encoding="utf-8")
    known = "220802 洮北区, 220821 镇赉县, 220822 通榆县, 220881 洮南市, 220882 大安市"
    assert run("progress", "--targets", "s.yml") == (
        f"错误:目标文件 s.yml:目标条目 'x':scope 中的县级代码 220899 不属于白城市;请使用以下之一:{known}")
    assert run("progress", "--targets", "s.yml", "--lang", "en") == (
        f"error: s.yml: target 'x': scope county code 220899 is unknown in Baicheng; use one of: {known}")
    assert run("progress", "--targets", "nosuch.yml").startswith(
        "错误:目标文件 nosuch.yml 不存在;请指定一个现有的 YAML 文件(自带的目标文件为 ")
    assert run("progress", "--targets", "nosuch.yml", "--lang", "en").startswith(
        "error: targets file nosuch.yml does not exist; pass an existing YAML file (the bundled one is ")
    assert run("progress", "--as-of", "2024-13-01") == "错误:--as-of '2024-13-01' 不是日期;请写成 YYYY-MM-DD,如 2024-06-30"
    assert run("progress", "--as-of", "2024-13-01", "--lang", "en") == (
        "error: as_of '2024-13-01' is not a date; write it as YYYY-MM-DD, e.g. 2024-06-30")


def test_targets_errors_text_zh():
    from gis.targets import parse_targets
    from workflows.targets import load_targets

    with pytest.raises(ConfigError) as e:
        parse_targets({"city": {"code": "220800", "name_zh": "白城市", "name_en": "Baicheng"}, "year": 2024},
                      origin="t.yml")
    assert str(e.value) == "t.yml: top level: no targets: add at least one entry under 'targets:' or 'count_targets:'"
    assert e.value.text("zh") == "目标文件 t.yml:顶层:没有目标:请在 targets: 或 count_targets: 下至少添加一项"
    data = {"city": {"code": "220800", "name_zh": "白城市", "name_en": "Baicheng"}, "year": 2024,
            "count_targets": [{"key": "s", "category": "demo_base", "name_zh": "s", "name_en": "s", "value": 2,
                               "min_site_mu": 100, "max_site_mu": 50}]}
    with pytest.raises(ConfigError) as e:
        parse_targets(data, origin="t.yml")
    assert str(e.value) == "t.yml: count target 's': max_site_mu (50) must be larger than min_site_mu (100)"
    assert e.value.text("zh") == "目标文件 t.yml:数量目标条目 's':max_site_mu(50)必须大于 min_site_mu(100)"
    data["count_targets"][0]["max_site_mu"] = 500
    with pytest.raises(ConfigError) as e:
        parse_targets(data, origin="t.yml").for_year(2031)
    assert str(e.value).startswith("t.yml: no targets for 2031 (it has targets for 2024); write a targets file")
    assert e.value.text("zh").startswith("t.yml:没有 2031 年的目标(其中有目标的年份:2024);请为 2031 年编写目标文件")
    with pytest.raises(ConfigError) as e:
        parse_targets([], origin="t.yml")
    assert e.value.text("zh") == "目标文件 t.yml:顶层:此处应为字段映射,实际为 list []"
    with pytest.raises(DataFileError) as e:
        load_targets("nosuch.yml")
    assert str(e.value).startswith("targets file nosuch.yml does not exist; pass an existing YAML file")
    assert e.value.text("zh").startswith("目标文件 nosuch.yml 不存在;请指定一个现有的 YAML 文件")


# --------------------------------------------------------------------------- zonal statistics

@pytest.fixture()
def zonal_files(tmp_path):
    import geopandas as gpd
    import numpy as np
    import rasterio
    from rasterio.transform import Affine, from_origin
    from shapely.geometry import box

    for name, crs, tr in [("no_crs.tif", None, from_origin(600000, 5000000, 10, 10)),
                          ("rot.tif", "EPSG:4550", Affine(10, 1, 600000, 1, -10, 5000000))]:
        with rasterio.open(tmp_path / name, "w", driver="GTiff", width=20, height=20, count=1,
                           dtype="float32", crs=crs, transform=tr) as ds:
            ds.write(np.ones((1, 20, 20), "float32"))
    gpd.GeoDataFrame({"code": ["a"]}, geometry=[box(600020, 4999880, 600100, 4999960)],
                     crs="EPSG:4550").to_file(tmp_path / "parcels.gpkg")
    return tmp_path


def test_zonal_raster_without_crs_in_both_languages(zonal_files, monkeypatch):
    monkeypatch.chdir(zonal_files)
    assert run("zonal", "parcels.gpkg", "no_crs.tif").splitlines()[-1] == (
        "错误:no_crs.tif:栅格没有坐标系,无法把分区放到栅格上;请为其设置坐标系,"
        "如 `gdal_edit.py -a_srs EPSG:4550 文件` 或 `da.rio.write_crs('EPSG:4550')`")
    assert run("zonal", "parcels.gpkg", "no_crs.tif", "--lang", "en").splitlines()[-1] == (
        "error: no_crs.tif: the raster has no CRS, so the zones cannot be placed on it; set one, "
        "e.g. `gdal_edit.py -a_srs EPSG:4550 FILE` or `da.rio.write_crs('EPSG:4550')`")
    assert run("zonal", "parcels.gpkg", "rot.tif").splitlines()[-1] == (
        "错误:rot.tif:栅格网格是旋转的(变换参数 (10.0, 1.0, 600000.0, 1.0, -10.0, 5000000.0));"
        "分区统计需要正北向上的网格,请先重投影,如 `gdalwarp 输入 输出`")
    assert run("zonal", "parcels.gpkg", "no_crs.tif", "--id-column", "XMBH").splitlines()[-1] == (
        "错误:parcels.gpkg:没有列 'XMBH';现有的列为 ['code', 'geometry']")
    assert run("zonal", "parcels.gpkg", "no_crs.tif", "--id-column", "XMBH", "--lang", "en").splitlines()[-1] == (
        "error: parcels.gpkg: no column 'XMBH'; it has ['code', 'geometry']")


def test_zonal_errors_text_zh(zonal_files):
    import geopandas as gpd
    import numpy as np
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    from gis.coverage import Coverage, Grid
    from gis.errors import GridError, InputError, MissingCRSError
    from gis.zonal import dates_in_names, zonal_stats

    zones = gpd.read_file(zonal_files / "parcels.gpkg")
    with pytest.raises(MissingCRSError) as e:
        zonal_stats(zones, zonal_files / "no_crs.tif")
    assert str(e.value).startswith(f"{zonal_files / 'no_crs.tif'}: the raster has no CRS")
    da = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"), coords={"y": [15.0, 5.0], "x": [5.0, 15.0, 25.0]})
    with pytest.raises(MissingCRSError) as e:
        Grid.of(da).check()
    assert str(e.value).startswith("raster: the raster has no CRS") and e.value.text("zh").startswith("栅格:栅格没有坐标系")
    with pytest.raises(InputError) as e:
        zonal_stats(zones, zonal_files / "rot.tif", stats="mode")
    assert e.value.text("zh").startswith("统计量 'mode' 无法识别;")
    with pytest.raises(InputError) as e:
        dates_in_names(["ndvi_july.tif"])
    assert str(e.value).startswith("stack: cannot tell the date of 'ndvi_july.tif'; name files")
    assert e.value.text("zh").startswith("时间序列:无法判断 'ndvi_july.tif' 的日期;")
    ras = da.rio.write_crs("EPSG:4550")
    cov = Coverage.build(gpd.GeoDataFrame(geometry=gpd.GeoSeries.from_xy([10], [10]).buffer(4), crs="EPSG:4550"), ras)
    (zonal_files / "w.npz").write_bytes(b"not weights")
    with pytest.raises(DataFileError) as e:
        Coverage.load(zonal_files / "w.npz")
    assert e.value.text("zh").startswith(f"{zonal_files / 'w.npz'}:不是 agrigis 写出的覆盖权重文件(")
    with pytest.raises(GridError) as e:
        cov.check_zones(zones)
    assert str(e.value).startswith("coverage weights: the weights were built for other zones (fingerprint ")
    assert e.value.text("zh").startswith("覆盖权重:权重是为其他分区生成的(指纹 ")


# --------------------------------------------------------------------------- suitability

def test_suitability_config_errors_in_both_languages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.yml").write_text("criteria:\n  ph:\n    layer: soil_ph\n    weight: 0\n"
                                    "    scores: [[9.0, 1], [9.5, 0]]\n", encoding="utf-8")
    assert run("suitability", "--config", "w.yml") == "错误:w.yml 中的 criteria.ph:weight 必须大于 0,实际为 0"
    assert run("suitability", "--config", "w.yml", "--lang", "en") == "error: w.yml: criteria.ph: weight must be > 0, got 0"
    assert run("suitability", "--config", "nosuch.yml").startswith("错误:适宜性配置 nosuch.yml 不存在(默认配置为 ")


def test_suitability_errors_text_zh():
    from gis.suitability import parse_config

    with pytest.raises(ConfigError) as e:
        parse_config({"criteria": {"ph": {"layer": "soil_ph", "scores": [[9.5, 1], [9.0, 0]]}}, "connectivty": 4})
    assert str(e.value).startswith("<dict>: unknown key(s) connectivty; allowed: connectivity, criteria,")
    assert e.value.text("zh").startswith("<dict>:未知的键 connectivty;允许的键:connectivity, criteria,")
    with pytest.raises(ConfigError) as e:
        parse_config({"criteria": {"ph": {"layer": "soil_ph", "scores": [[9.0, 1], [9.5, 2]]}}})
    assert str(e.value) == "<dict>: criteria.ph: score 2 at value 9.5 is outside 0..1"
    assert e.value.text("zh") == "<dict> 中的 criteria.ph:值 9.5 处的得分 2 不在 0..1 之内"
    with pytest.raises(ConfigError) as e:
        parse_config({"criteria": {"ph": {"layer": "soil_ph", "scores": [[9.0, 1], [9.5, 0]], "weight": "heavy"}}})
    assert str(e.value) == "<dict>: criteria.ph.weight: 'heavy' is not a number"
    assert e.value.text("zh") == "<dict> 中的 criteria.ph.weight:'heavy' 不是数字"


# --------------------------------------------------------------------------- maps and indices

def test_map_layer_errors_in_both_languages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "catalog.yml").write_text(
        "layers:\n  - {name: fields, kind: vector, path: fields.geojson, synthetic: true}\n", encoding="utf-8")
    (tmp_path / "fields.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "a"}, '
        '"geometry": {"type": "Point", "coordinates": [122.8, 45.6]}}]}', encoding="utf-8")
    assert run("map", "layer", "rivers") == (
        "错误:'rivers' 既不是图层目录中的图层(counties, city, fields),也不是现有的文件")
    assert run("map", "layer", "rivers", "--lang", "en") == (
        "error: 'rivers' is neither a catalogue layer (counties, city, fields) nor an existing file")
    assert run("map", "layer", "fields", "--column", "kind") == (
        "错误:图层 'fields' 没有列 'kind';现有的列:name, geometry")
    assert run("map", "layer", "fields", "--column", "kind", "--lang", "en") == (
        "error: layer 'fields' has no column 'kind'; columns are: name, geometry")


def test_indices_and_maps_errors_text_zh():
    from gis.errors import InputError
    from gis.indices import compute_index, get_index
    from maps.basemaps import check_basemap

    with pytest.raises(ConfigError) as e:
        get_index("NDXI")
    assert str(e.value).startswith("unknown spectral index 'NDXI'; known indices: NDVI (ndvi), ")
    assert e.value.text("zh").startswith("无法识别的光谱指数 'NDXI';已知的指数:NDVI (ndvi), ")
    with pytest.raises(InputError) as e:
        compute_index("NDVI", {})
    assert str(e.value).endswith("needs band(s) R, NIR, which are missing; given: none")
    assert e.value.text("zh").endswith("需要波段 R, NIR,但缺少这些波段;已给出:无")
    with pytest.raises(InputError) as e:
        check_basemap("google")
    assert e.value.text("zh").startswith("无法识别的底图 'google';请使用以下之一:none, osm, tianditu-vec, ")


def test_grid_description_and_trend_errors_text_zh():
    import numpy as np
    import pandas as pd
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    from gis.coverage import Grid
    from gis.trend import assess

    da = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"), coords={"y": [15.0, 5.0], "x": [5.0, 15.0, 25.0]})
    g = Grid.of(da.rio.write_crs("EPSG:4550"))
    assert g.describe() == "3×2 cells of 10×10 at (0, 20), EPSG:4550"  # unchanged, English
    assert g.describe_message().text("zh") == "3×2 个像元,像元大小 10×10,左上角 (0, 20),EPSG:4550"
    table = pd.DataFrame([[0.2, 0.3]], columns=["2023-07-01", "2024-07-01"])
    with pytest.raises(ConfigError) as e:
        assess(table, 2023, season=(9, 5))
    assert str(e.value) == "season must be (first month, last month) within 1..12, got (9, 5)"
    assert e.value.text("zh") == "生长季必须是 1..12 之内的(起始月, 结束月),实际为 (9, 5)"
