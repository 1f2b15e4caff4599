"""``agrigis map …``: real registry (imported GeoPackage), bundled catalogue, files on disk."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from maps.offline import external_references
from test_maps import decode_layer, make_class_raster, make_parcels
from workflows.cli import main


def _config(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def _layer(html: str, layer_id: str):
    cfg = _config(html)
    spec = next(s for s in cfg["layers"] if s["id"] == layer_id)
    return spec, decode_layer(json.dumps(spec["data"]))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from workflows.importing import import_files

    d = tmp_path_factory.mktemp("reg")
    g = make_parcels(12).drop(columns=["county_code"])
    g.to_file(d / "parcels.gpkg", driver="GPKG")
    import_files([d / "parcels.gpkg"], registry=d / "registry.gpkg", synthetic=True)
    return d / "registry.gpkg"


def test_map_progress_from_registry(registry, tmp_path):
    out = tmp_path / "progress.html"
    res = CliRunner().invoke(main, ["map", "progress", "-o", str(out), "--registry", str(registry), "--as-of", "2024-10-01"])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert external_references(html) == []
    spec, feats = _layer(html, "parcels")
    assert len(feats) == 12
    assert {f[1]["k"] for f in feats} == {f"BC2024-{i:03d}" for i in range(12)}
    cfg = _config(html)
    assert cfg["attribution"].startswith("合成演示数据")  # the batch was imported as synthetic
    ids = [s["id"] for s in cfg["layers"]]
    assert "counties" in ids and any(i.startswith("choropleth") for i in ids)
    from workflows.targets import load_targets

    n_targets = len(load_targets().area_targets)
    assert sum(i.startswith("choropleth") for i in ids) == n_targets  # every target, none dropped
    # the choropleth values are the share of the city target achieved in each county
    chor, cfeats = _layer(html, "choropleth0")
    assert len(cfeats) == 5
    pcts = [f[1]["completion_pct"] for f in cfeats if f[1]["completion_pct"] is not None]
    assert all(0 <= p <= 100 for p in pcts)


def test_map_layer_catalogue_and_files(tmp_path):
    out = tmp_path / "counties.html"
    res = CliRunner().invoke(main, ["map", "layer", "counties", "-o", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    cfg = _config(html)
    assert "synthetic" not in (cfg["attribution"] or "")  # the bundled counties are real
    spec, feats = _layer(html, "layer")
    assert len(feats) == 5

    tif = tmp_path / "salinity.tif"
    make_class_raster().rio.to_raster(tif)
    out = tmp_path / "salinity.html"
    res = CliRunner().invoke(main, ["map", "layer", str(tif), "-o", str(out)])
    assert res.exit_code == 0, res.output
    cfg = _config(out.read_text(encoding="utf-8"))
    img = next(s for s in cfg["layers"] if s["kind"] == "image")
    assert img["url"].startswith("data:image/png;base64,")
    assert np.allclose(img["bounds"], [[45.4, 122.6], [45.6, 123.0]], atol=0.01)


def test_map_errors_are_plain(tmp_path):
    res = CliRunner().invoke(main, ["map", "progress", "--registry", str(tmp_path / "none.gpkg"), "--lang", "en"])
    assert res.exit_code == 1
    assert "none.gpkg does not exist; import parcels first" in res.output
    res = CliRunner().invoke(main, ["map", "layer", "no_such_layer", "--lang", "en"])
    assert res.exit_code == 1 and "is neither a catalogue layer" in res.output
    res = CliRunner().invoke(main, ["map", "layer", "no_such_layer"])
    assert res.exit_code == 1 and "错误:'no_such_layer' 既不是图层目录中的图层(" in res.output
    assert res.output.strip().endswith("),也不是现有的文件")


def test_map_remediation_and_suitability_outputs(tmp_path):
    """Folders shaped like the outputs of agrigis remediation / suitability (same columns)."""
    rem = tmp_path / "remediation"
    rem.mkdir()
    g = make_parcels(6)[["project_code", "project_name", "category", "county_code", "year", "geometry"]]
    g["area_mu"] = 1308.6
    g["verdict"] = ["improving", "no_clear_change", "insufficient_data"] * 2
    g["change"] = 0.05
    g["slope_per_year"] = 0.012
    g["synthetic"] = True
    g.to_file(rem / "remediation.gpkg", layer="remediation", driver="GPKG")
    dates = ["2023-06-15", "2023-07-15", "2024-06-15", "2024-07-15"]
    series = {"index": "ndvi", "synthetic": True,
              "parcels": {c: {"dates": dates, "values": [0.2, 0.3, 0.35, 0.5]} for c in g["project_code"][:3]}}
    (rem / "remediation_series.json").write_text(json.dumps(series), encoding="utf-8")
    res = CliRunner().invoke(main, ["map", "remediation", str(rem)])
    assert res.exit_code == 0, res.output
    html = (rem / "remediation_map.html").read_text(encoding="utf-8")
    spec, feats = _layer(html, "classes")
    assert [f[1]["_class"] for f in feats[:3]] == ["改善", "无明显变化", "数据不足"]
    assert spec["popup"]["series"] == {"field": "ts", "label": "NDVI", "dates": dates}
    assert feats[0][1]["ts"] == [0.2, 0.3, 0.35, 0.5] and feats[4][1]["ts"] is None
    assert _config(html)["attribution"].startswith("合成演示数据")

    sui = tmp_path / "suitability"
    sui.mkdir()
    c = make_parcels(4)[["county_code", "geometry"]]
    c["candidate_id"] = ["C0001", "C0002", "C0003", "C0004"]
    c["area_mu"] = 800.0
    c["score"] = [0.95, 0.8, 0.6, 0.3]
    c["limiting_factor"] = ["relief", "esp", "water", "slope"]
    c["synthetic"] = True
    c.to_file(sui / "suitability.gpkg", layer="candidates", driver="GPKG")
    res = CliRunner().invoke(main, ["map", "suitability", str(sui), "--lang", "en"])
    assert res.exit_code == 0, res.output
    html = (sui / "suitability_map.html").read_text(encoding="utf-8")
    spec, feats = _layer(html, "candidates")
    assert len(feats) == 4 and feats[1][1]["limiting_factor"] == "Soil ESP"
    assert spec["style"]["breaks"]["edges"] == [0.5, 0.7, 0.9]
    assert "Suitability score" in [s["title"] for s in _config(html)["legend"]]


EC_BLOCKS = [1.0, 2.0, 3.0, 4.0, 6.0, 16.0, 20.0]
"""dS/m, one 20-pixel column block each; 2, 4 and 16 lie exactly on ec_aafc bounds (go down)."""


@pytest.fixture(scope="module")
def soil_ws(tmp_path_factory):
    """A workspace catalogue with a soil EC GeoTIFF of known values (role soil_ec) and its std."""
    import xarray as xr

    from layers.catalog import register_layers

    ws = tmp_path_factory.mktemp("soil_ws")
    data = np.repeat(np.array(EC_BLOCKS), 20)[None, :].repeat(30, axis=0)
    da = xr.DataArray(data, dims=("y", "x"), coords={"y": 5_050_000 - 100 * (np.arange(30) + 0.5),
                                                       "x": 480_000 + 100 * (np.arange(140) + 0.5)})
    da = da.rio.write_crs("EPSG:4550").rio.write_nodata(np.nan)
    da.rio.to_raster(ws / "ec.tif")
    (da / 10).rio.to_raster(ws / "ec_std.tif")
    common = {"kind": "raster", "synthetic": True, "crs": "EPSG:4550", "source": "test"}
    register_layers(ws, [dict(common, name="soil_ec", path=str(ws / "ec.tif"), role="soil_ec", title_zh="土壤EC",
                              unit="dS/m", description="kriging"),
                         dict(common, name="soil_ec_std", path=str(ws / "ec_std.tif"), role="soil_ec_std",
                              # a catalogue written before the unit field: the unit in the description
                              title_zh="土壤EC标准差", description="unit: dS/m")])
    return ws


def _raster_map(ws, tmp_path, layer, *extra):
    out = tmp_path / f"{layer}.html"
    res = CliRunner().invoke(main, ["map", "layer", layer, "--workspace", str(ws), "-o", str(out), *extra])
    assert res.exit_code == 0, res.output
    cfg = _config(out.read_text(encoding="utf-8"))
    from test_maps import _png

    img = _png(next(s for s in cfg["layers"] if s["kind"] == "image")["url"])
    return cfg["legend"][0], img


def _shares(img, colors):
    """Share of the opaque pixels drawn in each colour."""
    rgb = img[:3].reshape(3, -1).T[img[3].ravel() > 0]
    hexes = np.array([f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb])
    return [float(np.mean(hexes == c)) for c in colors]


def test_soil_ec_is_drawn_in_its_scheme(soil_ws, tmp_path):
    legend, img = _raster_map(soil_ws, tmp_path, "soil_ec")
    assert legend["title"] == "土壤EC(单位:dS/m)"
    assert [i["label"] for i in legend["items"]] == ["非盐化 ≤ 2", "轻度 (2, 4]", "中度 (4, 8]", "重度 (8, 16]",
                                                     "极重度 > 16"]
    colors = [i["swatch"]["fillColor"] for i in legend["items"]]
    assert colors[0] == "#1a9641" and colors[-1] == "#d7191c"  # low green, high red
    # blocks 1, 2 | 3, 4 | 6 | 16 | 20: a value on a bound is in the lower class (EC 4 is weak)
    expected = [2 / 7, 2 / 7, 1 / 7, 1 / 7, 1 / 7]
    assert _shares(img, colors) == pytest.approx(expected, abs=0.03)
    assert sum(_shares(img, colors)) == pytest.approx(1.0)


def test_scheme_none_gives_quantile_bins(soil_ws, tmp_path):
    legend, img = _raster_map(soil_ws, tmp_path, "soil_ec", "--scheme", "none")
    # quintiles of 1, 2, 3, 4, 6, 16, 20 (20 pixels each) at 0.2 … 0.8: 2, 3, 6, 16
    assert [i["label"] for i in legend["items"]] == ["< 2", "2 – 3", "3 – 6", "6 – 16", "≥ 16"]
    assert legend["title"] == "土壤EC(单位:dS/m)"
    # a file has no role: plain bins unless a scheme is asked for
    legend, _ = _raster_map(soil_ws, tmp_path, str(soil_ws / "ec.tif"))
    assert legend["items"][0]["label"] == "< 2" and legend["title"] == "ec"
    legend, img = _raster_map(soil_ws, tmp_path, str(soil_ws / "ec.tif"), "--scheme", "ec_aafc")
    assert legend["items"][1]["label"] == "轻度 (2, 4]" and legend["title"] == "ec(单位:dS/m)"


def test_std_role_gets_a_sequential_ramp(soil_ws, tmp_path):
    from maps.style import SEQUENTIAL_RAMP

    legend, _ = _raster_map(soil_ws, tmp_path, "soil_ec_std", "--lang", "en")
    colors = [i["swatch"]["fillColor"] for i in legend["items"]]
    rank = [SEQUENTIAL_RAMP.index(c) for c in colors]  # every colour from the one-hue ramp
    assert len(rank) >= 3 and rank == sorted(rank) and len(set(rank)) == len(rank)
    assert legend["title"] == "土壤EC标准差 (unit: dS/m)" and legend["note"] is None


def test_unknown_scheme_is_one_clear_line(soil_ws, tmp_path):
    res = CliRunner().invoke(main, ["map", "layer", "soil_ec", "--workspace", str(soil_ws), "-o",
                                    str(tmp_path / "x.html"), "--scheme", "ec_fao", "--lang", "en"])
    assert res.exit_code == 1
    assert res.output.strip() == ("error: unknown class scheme 'ec_fao'; use one of: ec_aafc, esp_cn, ph_songnen, "
                                  "salt_cn, salt_soda_wang1993, none (or the path of a scheme YAML file; none for "
                                  "quantile bins)")
    res = CliRunner().invoke(main, ["map", "layer", "soil_ec", "--workspace", str(soil_ws), "-o",
                                    str(tmp_path / "x.html"), "--scheme", "salt_cn", "--lang", "en"])
    assert res.exit_code == 1 and "is in dS/m but class scheme salt_cn is in g/kg" in res.output
    assert not (tmp_path / "x.html").exists()
