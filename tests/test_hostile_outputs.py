"""Issue 14, outputs and maps: what a full disk, a hostile name or a control character
does to the files agrigis writes (progress, check, zonal, maps).

Everything runs for real: a registry GeoPackage written by ``layers.registry``, the CLI
through ``click.testing``, a real tmpfs that is filled up, openpyxl and the raw bytes of
each output, and one headless Chromium for the map.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from shapely.geometry import box

from gis.area import area_mu
from gis.errors import DataFileError
from layers.registry import Registry
from maps.base import FieldMap
from maps.offline import escape_json_text
from workflows.cli import main

from test_maps import decode_layer, make_counties, make_parcels
from test_zonal import _parcels, _values, _write

EVIL_NAME = '=HYPERLINK("http://evil","x")'
EVIL_CODE = "@SUM(1)"
DA = "220882"


# --------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def da_xy() -> tuple[float, float]:
    """A point well inside Da'an, in EPSG:4550 metres (the real bundled county layer)."""
    import layers

    counties = layers.load("counties", workspace=False).to_crs(4550)
    da = counties[counties.county_code == DA].geometry.iloc[0]
    return da.representative_point().coords[0]


def make_registry(path: Path, xy, codes: list[str], names: list[str]) -> Path:
    """Completed new-paddy parcels in Da'an; the first two overlap by half, so both codes
    are in check's overlaps and in progress' problem sheet."""
    x, y = xy
    geoms = [box(x, y, x + 1000, y + 1000), box(x + 500, y, x + 1500, y + 1000),
             box(x, y - 2000, x + 1000, y - 1000)][: len(codes)]
    n = len(codes)
    rows = gpd.GeoDataFrame({"project_code": codes, "project_name": names, "category": ["paddy_new"] * n,
                             "county_code": [DA] * n, "year": [2024] * n, "status": ["completed"] * n,
                             "declared_area_mu": [1500.0] + [None] * (n - 1), "area_mu": [None] * n,
                             "investment_wan_yuan": [None] * n}, geometry=geoms, crs="EPSG:4550").to_crs("EPSG:4490")
    rows["area_mu"] = area_mu(rows)
    Registry(path).write(rows, source="test.gpkg", sha256=hashlib.sha256(b"t").hexdigest())
    return path


def cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def error_lines(res) -> list[str]:
    return [ln for ln in res.output.splitlines() if ln.startswith(("错误", "error"))]


def xlsx_cells(path: Path) -> list:
    wb = load_workbook(path)
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


def assert_no_formula(path: Path) -> set:
    """No cell of ``path`` is a formula (openpyxl's view and the raw sheet XML); its texts."""
    cells = xlsx_cells(path)
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode("utf-8") and "<f " not in z.read(name).decode("utf-8")
    return {c.value for c in cells}


# ------------------------------------------------------------ item 5: formula injection
def test_hostile_codes_never_become_formulas_in_check_and_progress(tmp_path, monkeypatch, da_xy):
    reg = make_registry(tmp_path / "r.gpkg", da_xy, [EVIL_CODE, "-2+3", "+A1"], [EVIL_NAME, "\tname", "普通"])
    monkeypatch.chdir(tmp_path)
    for args in (["check", "--registry", reg, "-o", "c"],
                 ["check", "--registry", reg, "-o", "c", "--format", "csv"],
                 ["progress", "--registry", reg, "-o", "p", "--as-of", "2024-06-30"]):
        res = cli(*args)
        assert res.exit_code == 0, res.output
    check_texts = assert_no_formula(tmp_path / "c" / "check.xlsx")
    assert {EVIL_CODE, "-2+3"} <= check_texts  # shown as typed, not as a formula
    progress_texts = assert_no_formula(tmp_path / "p" / "progress.xlsx")
    assert {EVIL_CODE, "-2+3"} <= progress_texts  # the problem-parcel sheet lists the codes
    raw = (tmp_path / "c" / "check.csv").read_text(encoding="utf-8-sig")
    assert "'@SUM(1)" in raw and "'-2+3" in raw
    assert not re.search(r'(^|,)"?[=+\-@]', raw, re.M), raw
    got = pd.read_csv(tmp_path / "c" / "check.csv", encoding="utf-8-sig", comment="#", dtype=str)
    assert {"'@SUM(1)", "'-2+3"} <= set(got.to_numpy().ravel())


@pytest.fixture(scope="module")
def zonal_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("zonal_hostile")
    zones = _parcels(5, seed=11).reset_index()
    zones["name"] = [EVIL_NAME, "a\x0bb", "-1", "@x", "普通"]
    zones.to_file(d / "parcels.gpkg", driver="GPKG")
    return d / "parcels.gpkg", _write(d / "a.tif", _values())


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_zonal_tables_are_safe_to_open(tmp_path, zonal_files, suffix):
    gpkg, raster = zonal_files
    out = tmp_path / f"zonal{suffix}"
    res = cli("zonal", gpkg, raster, "--stats", "mean", "--id-column", "code", "-o", out)
    assert res.exit_code == 0, res.output
    if suffix == ".xlsx":
        texts = assert_no_formula(out)
        assert {EVIL_NAME, "ab", "-1", "@x", "P000"} <= texts
        return
    raw = out.read_text(encoding="utf-8-sig")
    assert "\x0b" not in raw and not re.search(r'(^|,)"?[=+\-@]', raw, re.M), raw
    t = pd.read_csv(out, encoding="utf-8-sig", index_col=0, dtype={"name": str})
    assert t.index.name == "code" and list(t.index) == ["P000", "P001", "P002", "P003", "P004"]
    assert list(t["name"]) == ["'" + EVIL_NAME, "ab", "'-1", "'@x", "普通"]
    assert list(t.columns) == ["name", "均值", "图斑在栅格内比例", "部分超出栅格"]


def test_zonal_geopackage_and_parquet_replace_the_previous_file(tmp_path, zonal_files):
    gpkg, raster = zonal_files
    for suffix in (".gpkg", ".parquet"):
        out = tmp_path / f"zonal{suffix}"
        for stats in ("mean", "mean,max"):  # the second run replaces the first file
            res = cli("zonal", gpkg, raster, "--stats", stats, "--id-column", "code", "-o", out)
            assert res.exit_code == 0, res.output
        t = gpd.read_file(out) if suffix == ".gpkg" else gpd.read_parquet(out)
        assert len(t) == 5 and {"均值", "最大值"} <= set(t.columns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zonal.gpkg", "zonal.parquet"]


def test_zonal_weights_are_written_atomically(tmp_path, zonal_files, small_disk):
    gpkg, raster = zonal_files
    disk = small_disk("4m")
    weights = disk.path / "w.npz"
    disk.fill()
    res = cli("zonal", gpkg, raster, "--stats", "mean", "--weights", weights, "-o", tmp_path / "z.csv", "--lang", "en")
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert error_lines(res) == [f"error: {weights}: the disk is full; nothing was written and the previous file "
                                "is unchanged. Free some space or choose another disk and run again"]
    assert not weights.exists() and sorted(p.name for p in disk.path.iterdir()) == [".filler"]


# --------------------------------------------------------- item 6: control characters
def test_a_control_character_never_blocks_progress_or_check(tmp_path, monkeypatch, da_xy):
    reg = make_registry(tmp_path / "r.gpkg", da_xy, ["P\x0b1", "P2"], ["名\x0b称", "二\x0c"])
    monkeypatch.chdir(tmp_path)
    for args in (["check", "--registry", reg, "-o", "c"],
                 ["progress", "--registry", reg, "-o", "p", "--as-of", "2024-06-30"]):
        res = cli(*args)
        assert res.exit_code == 0, res.output
        assert "IllegalCharacter" not in res.output
    for xlsx in (tmp_path / "c" / "check.xlsx", tmp_path / "p" / "progress.xlsx"):
        texts = {str(v) for v in assert_no_formula(xlsx)}
        assert "P1" in texts and not any("\x0b" in t or "\x0c" in t for t in texts)


# --------------------------------------------------- item 2: atomic and staged outputs
def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != ".filler"}


def test_progress_on_a_full_disk_keeps_the_previous_reports(tmp_path, small_disk, da_xy):
    reg = make_registry(tmp_path / "r.gpkg", da_xy, ["A", "B"], ["一", "二"])
    disk = small_disk("8m")
    out = disk.path / "out"
    assert cli("progress", "--registry", reg, "-o", out, "--as-of", "2024-06-30").exit_code == 0
    before = snapshot(out)
    assert sorted(before) == ["progress.csv", "progress.html", "progress.xlsx"]
    disk.fill()
    for lang, words in (("zh", "磁盘已满"), ("en", "the disk is full")):
        res = cli("progress", "--registry", reg, "-o", out, "--as-of", "2024-09-30", "--lang", lang)
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        err = error_lines(res)
        assert len(err) == 1 and words in err[0], res.output
        assert re.search(re.escape(str(out)) + r"/progress\.(xlsx|csv|html)\b", err[0]), err[0]
        assert ".agrigis-" not in err[0] and "/.progress" not in err[0]  # never a temporary name
        assert snapshot(out) == before
        assert sorted(p.name for p in out.iterdir()) == sorted(before)  # no temporary files left
    disk.free()
    assert cli("progress", "--registry", reg, "-o", out, "--as-of", "2024-09-30").exit_code == 0
    assert snapshot(out)["progress.xlsx"] != before["progress.xlsx"]


def test_progress_with_one_output_failing_leaves_no_mixed_set(tmp_path, da_xy):
    reg = make_registry(tmp_path / "r.gpkg", da_xy, ["A", "B"], ["一", "二"])
    out = tmp_path / "out"
    assert cli("progress", "--registry", reg, "-o", out, "--as-of", "2024-06-30").exit_code == 0
    before = snapshot(out)
    (out / "progress.html").unlink()
    (out / "progress.html").mkdir()  # the last of the three cannot be replaced
    (out / "progress.html" / "keep.txt").write_text("x")
    res = cli("progress", "--registry", reg, "-o", out, "--as-of", "2024-09-30", "--lang", "en")
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    err = error_lines(res)
    assert len(err) == 1 and f"{out / 'progress.html'}" in err[0], res.output
    assert snapshot(out) == {k: v for k, v in before.items() if k != "progress.html"}
    assert sorted(p.name for p in out.iterdir()) == ["progress.csv", "progress.html", "progress.xlsx"]


def test_a_geopackage_and_a_geotiff_on_a_full_disk_are_said_plainly(small_disk):
    """GDAL reports a full disk only in its message text: still the one plain error."""
    import rioxarray  # noqa: F401
    import xarray as xr

    from gis.outputs import staged_outputs

    disk = small_disk("4m")
    out = disk.path / "out"
    out.mkdir()
    (out / "x.gpkg").write_bytes(b"old")
    disk.fill()
    with pytest.raises(DataFileError, match=rf"^{re.escape(str(out / 'x.gpkg'))}: the disk is full"):
        with staged_outputs(out, ["x.gpkg"]) as tmp:
            make_parcels(50).to_file(tmp / "x.gpkg", driver="GPKG")
    da = xr.DataArray(np.random.default_rng(1).random((200, 200), dtype="float32"), dims=("y", "x"),
                      coords={"y": np.arange(200.0), "x": np.arange(200.0)}).rio.write_crs(4550)
    with pytest.raises(DataFileError, match=rf"^{re.escape(str(out / 's.tif'))}: the disk is full"):
        with staged_outputs(out, ["s.tif"]) as tmp:
            da.rio.to_raster(tmp / "s.tif")
    assert sorted(p.name for p in out.iterdir()) == ["x.gpkg"] and (out / "x.gpkg").read_bytes() == b"old"


def small_map(n: int, title: str = "示例") -> FieldMap:
    fm = FieldMap(title=title, basemap="none")
    fm.add_parcels(make_parcels(n))
    return fm


def test_map_save_on_a_full_disk_keeps_the_previous_map(small_disk):
    disk = small_disk("8m")
    path = disk.path / "map.html"
    small_map(3).save(path)
    before = path.read_bytes()
    disk.fill()
    with pytest.raises(DataFileError, match=rf"^{re.escape(str(path))}: the disk is full; nothing was written"):
        small_map(6, "另一张").save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in disk.path.iterdir()) == [".filler", "map.html"]


def test_map_cli_on_a_full_disk_says_so_in_one_line(tmp_path, monkeypatch, small_disk):
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "my_parcels.gpkg"
    make_parcels(4).to_file(src, driver="GPKG")
    disk = small_disk("16m")
    out = disk.path / "parcels_map.html"
    res = cli("map", "layer", src, "-o", out, "--basemap", "none")
    assert res.exit_code == 0, res.output
    before = out.read_bytes()
    disk.fill()
    for lang, words in (("zh", "磁盘已满"), ("en", "the disk is full")):
        res = cli("map", "layer", src, "-o", out, "--basemap", "none", "--lang", lang)
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        err = error_lines(res)
        assert len(err) == 1 and words in err[0] and str(out) in err[0], res.output
        assert out.read_bytes() == before


# -------------------------------------------------------- item 7: map placeholders
TOKENS = ["@@DATA0@@", "@@DATA1@@"]


def hostile_map() -> tuple[FieldMap, gpd.GeoDataFrame]:
    g = make_parcels(4)
    g["project_name"] = [TOKENS[0], TOKENS[1], f'"{TOKENS[0]}"', "普通"]
    g["project_code"] = [TOKENS[1], "B", TOKENS[0], "D"]
    cty = make_counties()
    cty["name_zh"] = [TOKENS[0], TOKENS[1], "通榆县", "洮南市", "大安市"]
    fm = FieldMap(title=TOKENS[0], basemap="none", attribution=TOKENS[1])
    fm.add_parcels(g, name=TOKENS[0])
    fm.add_polygons(cty, name=TOKENS[1], style={"color": "#333", "weight": 2, "fillOpacity": 0.1},
                    tooltip_col="name_zh", popup=[("县", "name_zh", "text")], layer_id="counties")
    return fm, g


def map_config(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_data_tokens_in_values_and_names_cannot_steer_the_map():
    fm, g = hostile_map()
    html = fm.to_html()
    cfg = map_config(html)
    assert [s["name"] for s in cfg["layers"]] == TOKENS
    assert cfg["title"] == TOKENS[0] and TOKENS[1] in cfg["attribution"]
    assert all(isinstance(s["data"], dict) for s in cfg["layers"])
    parcels = decode_layer(json.dumps(cfg["layers"][0]["data"]))
    assert [p["n"] for _, p in parcels] == list(g["project_name"])
    assert [p["k"] for _, p in parcels] == list(g["project_code"])
    counties = decode_layer(json.dumps(cfg["layers"][1]["data"]))
    assert [p["name_zh"] for _, p in counties][:2] == TOKENS
    for spec in fm.layers:  # each layer's data is in the page exactly once
        assert html.count(escape_json_text(fm._data[spec["data"]])) == 1


def test_a_file_named_like_a_data_token_maps_whole(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    g = make_parcels(3)
    g["project_name"] = ["@@DATA1@@", "@@DATA0@@", "x"]
    g.to_file(tmp_path / "@@DATA0@@.geojson", driver="GeoJSON")
    res = cli("map", "layer", tmp_path / "@@DATA0@@.geojson", "-o", "m.html", "--basemap", "none")
    assert res.exit_code == 0, res.output
    cfg = map_config((tmp_path / "m.html").read_text(encoding="utf-8"))
    assert "@@DATA0@@" in [s["name"] for s in cfg["layers"]]
    assert all(isinstance(s["data"], dict) for s in cfg["layers"] if "data" in s)
    mine = next(s for s in cfg["layers"] if s["name"] == "@@DATA0@@")
    names = [v for _, p in decode_layer(json.dumps(mine["data"])) for v in p.values() if v in ("@@DATA0@@", "@@DATA1@@", "x")]
    assert sorted(names) == ["@@DATA0@@", "@@DATA1@@", "x"]


@pytest.mark.browser
def test_a_map_with_data_tokens_draws_every_parcel(page, tmp_path):
    fm, _ = hostile_map()
    path = fm.save(tmp_path / "tokens.html")
    page.goto(path.as_uri())
    page.wait_for_function("window.agrigis && window.agrigis.ready === true", timeout=15000)
    assert page.js_errors == []
    assert page.evaluate("agrigis.count('parcels')") == 4
    assert page.evaluate("agrigis.count('counties')") == 5
    assert TOKENS[1] in page.locator(".leaflet-control-layers").inner_text()
    # the map draws on a canvas (no SVG paths): with the counties hidden, the painted
    # pixels are the parcels, and they go when the parcels are hidden too
    page.evaluate("(() => { const m = agrigis.maps[0]; m.map.removeLayer(m.layers.counties); })()")
    page.wait_for_timeout(200)
    assert page.evaluate(PAINTED) > 50
    page.evaluate("(() => { const m = agrigis.maps[0]; m.map.removeLayer(m.layers.parcels); })()")
    page.wait_for_timeout(200)
    assert page.evaluate(PAINTED) == 0


PAINTED = """() => { let n = 0; document.querySelectorAll('.leaflet-pane canvas').forEach(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < d.length; i += 4) if (d[i]) n++; }); return n; }"""
