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
