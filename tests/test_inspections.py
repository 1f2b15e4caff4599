"""Field inspections (issue 22, parts 2–3): the 现场核查 form in real Chromium (GPS
emulated, a photo through the file chooser, saved, reloaded, exported) and the export
imported by the CLI into the registry with the photo bytes intact."""

from __future__ import annotations

import base64
import json

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from layers import inspections as ins
from layers.registry import Registry
from maps.base import FieldMap
from maps.imagery_raster import _encode
from workflows.cli import main

XSS = '<img src=x onerror="window.__xss=1">'
GPS = {"latitude": 45.6065, "longitude": 123.8075, "accuracy": 8}


def make_registry(path) -> Registry:
    reg = Registry(path)
    rows = gpd.GeoDataFrame({"project_code": ["BC-1", "BC-2"], "project_name": ["一号", "二号"],
                             "category": ["paddy_new", "paddy_new"], "county_code": ["220821", "220821"],
                             "year": [2024, 2024], "status": ["completed", "under_construction"],
                             "declared_area_mu": [None, None], "area_mu": [None, None],
                             "investment_wan_yuan": [None, None]},
                            geometry=[box(123.805, 45.605, 123.81, 45.608), box(123.82, 45.612, 123.825, 45.615)],
                            crs="EPSG:4490")
    reg.write(rows, source="t.shp", sha256="0" * 64)
    return reg


def photo(path, w=2400, h=1800):
    """A JPEG larger than the 1600 px the map keeps."""
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.stack([(xx * 255 // w), (yy * 255 // h), np.full((h, w), 90)]).astype("uint8")
    path.write_bytes(_encode(a, "JPEG"))
    return path


def export_doc(features):
    return {"type": "FeatureCollection", "agrigis": "inspections", "version": 1, "features": features}


def feature(iid="0123456789abcdef", code="BC-1", version=None, finding="not_started", photos=()):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [123.8075, 45.6065]},
            "properties": {"id": iid, "project_code": code, "version": version, "finding": finding, "note": "n",
                           "area_mu": None, "accuracy_m": 5, "position_time": "2024-07-01T08:00:00Z",
                           "created_at": "2024-07-01T08:00:01Z", "photos": list(photos)}}


@pytest.mark.browser
def test_inspection_in_the_browser_back_into_the_registry(browser, tmp_path, artifacts_dir):
    reg = make_registry(tmp_path / "registry.gpkg")
    parcels = reg.projects()
    fm = FieldMap(title="核查", basemap="none")
    fm.add_parcels(parcels)
    url = fm.save(tmp_path / "map.html").as_uri()
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, geolocation=GPS, permissions=["geolocation"],
                              accept_downloads=True)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("http://**/*", lambda r: r.abort())
    page.route("https://**/*", lambda r: r.abort())
    page.goto(url)
    page.wait_for_function("window.agrigis && agrigis.ready === true")
    page.evaluate("agrigis.inspect.loaded")
    page.evaluate("agrigis.openPopup('parcels', 0)")
    page.locator(".ag-i-open").click()
    form = page.locator(".ag-insp")
    assert "BC-1" in form.inner_text()
    form.locator(".ag-i-finding").select_option("partly_built")
    form.locator(".ag-i-note").fill(XSS)
    form.locator(".ag-i-area").fill("12.5")
    with page.expect_file_chooser() as fc:
        form.locator(".ag-i-photo").click()
    fc.value.set_files(str(photo(tmp_path / "p.jpg")))
    page.wait_for_selector(".ag-insp[data-photos='1']")
    page.wait_for_function("document.querySelector('.ag-i-pos').textContent.indexOf('±') >= 0")
    assert "45.6065" in form.locator(".ag-i-pos").inner_text()
    page.screenshot(path=str(artifacts_dir / "inspection_form_phone.png"))
    form.locator(".ag-i-save").click()
    page.wait_for_function("agrigis.inspect.records.length === 1")
    # a reload (or a dead battery) loses nothing
    page.reload()
    page.wait_for_function("window.agrigis && agrigis.ready === true")
    assert page.evaluate("agrigis.inspect.loaded.then(r => r.length)") == 1
    page.locator(".ag-btn-inspections").click()
    listing = page.locator(".ag-panel").inner_text()
    assert "BC-1 · 部分建成 · 1 张照片" in listing
    page.screenshot(path=str(artifacts_dir / "inspection_list_phone.png"))
    with page.expect_download() as dl:
        page.locator(".ag-i-export").click()
    export = tmp_path / dl.value.suggested_filename
    dl.value.save_as(export)
    assert page.evaluate("window.__xss") is None and errors == []
    ctx.close()

    doc = json.loads(export.read_text(encoding="utf-8"))
    (f,) = doc["features"]
    p = f["properties"]
    assert f["geometry"]["coordinates"] == [123.8075, 45.6065] and p["accuracy_m"] == 8
    assert (p["project_code"], p["version"], p["finding"], p["note"], p["area_mu"]) == \
        ("BC-1", parcels["batch_id"].iloc[0], "partly_built", XSS, 12.5)
    assert (p["photos"][0]["width"], p["photos"][0]["height"]) == (1600, 1200)  # downscaled in the browser
    jpeg = base64.b64decode(p["photos"][0]["data"].split(",", 1)[1])

    res = CliRunner().invoke(main, ["inspections", "import", str(export), "--registry", str(reg.path), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "inspections: 1 new (1 photos), 0 already stored, 0 rejected" in res.output
    stored = ins.inspections(reg, "BC-1")
    assert stored[["finding", "note", "version", "version_current", "photo_count"]].values.tolist() == \
        [["partly_built", XSS, p["version"], p["version"], 1]]
    assert ins.photos(reg, p["id"]) == [jpeg]  # the bytes, intact
    res = CliRunner().invoke(main, ["inspections", "import", str(export), "--registry", str(reg.path), "--lang", "en"])
    assert "0 new (0 photos), 1 already stored, 0 rejected" in res.output
    # QGIS sees a point layer at the GPS position; the contradiction is found (completed, partly built)
    import pyogrio

    pts = pyogrio.read_dataframe(reg.path, layer="inspections")
    assert pts.crs.to_epsg() == 4490 and (pts.geometry.x[0], pts.geometry.y[0]) == (123.8075, 45.6065)
    assert ins.latest_contradicting(reg)["project_code"].tolist() == ["BC-1"]
    assert len(reg.projects()) == 2  # the projects are untouched


def test_unknown_code_is_rejected_with_the_reason(tmp_path):
    reg = make_registry(tmp_path / "r.gpkg")
    f = tmp_path / "e.geojson"
    f.write_text(json.dumps(export_doc([feature(), feature(iid="fedcba9876543210", code="NOPE-9")])), encoding="utf-8")
    res = ins.import_inspections(reg, f, lang="en")
    assert (res.n_new, res.n_unchanged) == (1, 0)
    assert res.rejected.values.tolist() == [
        [2, "NOPE-9", "project code NOPE-9 is not in the registry; import the project first or check the code"]]
    f.write_text(json.dumps(export_doc([feature(iid="aaaaaaaa11", version="b-other")])), encoding="utf-8")
    res = ins.import_inspections(reg, f, lang="en")
    assert "project BC-1 has no version written by batch b-other" in res.rejected["reason"][0]
    runner = CliRunner().invoke(main, ["inspections", "import", str(f), "--registry", str(reg.path), "--lang", "en"])
    assert runner.exit_code == 1 and "0 new (0 photos), 0 already stored, 1 rejected" in runner.output


@pytest.mark.parametrize("text, match", [
    ('{"type": "FeatureCollection", "features": [', "is not valid JSON .*nothing was imported"),
    ('{"type": "FeatureCollection", "features": []}', "is not an inspection export of an agrigis map"),
    (json.dumps(export_doc([feature(finding="bogus")])), "inspection 1: finding 'bogus'"),
    (json.dumps(export_doc([feature(photos=[{"data": "data:text/html;base64,PHNjcmlwdD4="}])])),
     "photo 1 is not a JPEG/PNG data: URL"),
    (json.dumps(export_doc([feature(photos=[{"data": "data:image/jpeg;base64,PHNjcmlwdD4="}])])),
     "photo 1 is not a JPEG image"),
    (json.dumps(export_doc([feature(), feature(iid="x")])), "inspection 2: id 'x'"),
])
def test_a_bad_file_imports_nothing(tmp_path, text, match):
    from gis.errors import DataFileError

    reg = make_registry(tmp_path / "r.gpkg")
    f = tmp_path / "bad.geojson"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match=match):
        ins.import_inspections(reg, f, lang="en")
    assert ins.inspections(reg).empty


def test_sizes_are_bounded(tmp_path):
    from gis.errors import DataFileError

    reg = make_registry(tmp_path / "r.gpkg")
    f = tmp_path / "e.geojson"
    f.write_text(json.dumps(export_doc([feature(), feature(iid="fedcba9876543210")])), encoding="utf-8")
    with pytest.raises(DataFileError, match="holds 2 inspections, over the limit of 1"):
        ins.import_inspections(reg, f, limits=ins.Limits(features=1))
    with pytest.raises(DataFileError, match="over the 0 MB limit"):
        ins.import_inspections(reg, f, limits=ins.Limits(file_bytes=10))
    cli = CliRunner().invoke(main, ["inspections", "import", str(tmp_path / "none.geojson"), "--registry",
                                    str(reg.path), "--lang", "en"])
    assert cli.exit_code != 0 and "none.geojson not found" in cli.output
