"""maps in a real headless Chromium: offline loading, XSS, GCJ-02 alignment, field tools.

External requests are blocked with page.route to simulate a field laptop without signal
(only basemap tiles are ever requested; they fail and the map still works).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import shape

from test_maps import (XSS, XSS2, XSS3, SALINITY, build_progress, make_class_raster, make_counties,
                       make_index_raster, make_parcels)

pytestmark = pytest.mark.browser

TILE_HOSTS = ("tile.openstreetmap.org", "autonavi.com", "tianditu.gov.cn")


def _open(page, fm, tmp_path, name="map.html"):
    path = fm.save(tmp_path / name)
    page.external = []

    def route(r):
        page.external.append(r.request.url)
        r.abort()

    page.route("http://**/*", route)
    page.route("https://**/*", route)
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_function("window.agrigis && window.agrigis.ready === true", timeout=15000)
    return path


def _count(page, layer_id):
    return page.evaluate(f"agrigis.count({json.dumps(layer_id)})")


def test_progress_map_offline(page, tmp_path, artifacts_dir):
    _open(page, build_progress(n=12, synthetic=True), tmp_path)
    assert page.js_errors == []
    assert page.evaluate("typeof jQuery") == "undefined"
    assert all(any(h in u for h in TILE_HOSTS) for u in page.external), page.external  # only tiles were asked for
    assert _count(page, "parcels") == 12
    assert _count(page, "choropleth0") == 5 and _count(page, "counties") == 5
    assert page.locator(".leaflet-control-layers").count() == 1
    assert page.locator(".leaflet-control-layers-overlays label").count() == 5  # 2 choropleths, reserves, canals, parcels
    legend = page.locator(".ag-legend").inner_text()
    for text in ["项目类型", "建设状态", "在建", "完成率(%)", "≥ 100 %", "自然保护区", "合成演示数据"]:
        assert text in legend
    assert page.locator(".ag-label").count() == 5  # county names always shown
    assert "合成演示数据" in page.locator(".leaflet-control-attribution").inner_text()
    # hovering a parcel shows its name (hit test of the canvas batch)
    c = page.evaluate("(() => { const m = agrigis.maps[0].map; m.setView(agrigis.maps[0].layers.parcels.itemCenter(5), 14);"
                      " const p = m.latLngToContainerPoint(agrigis.maps[0].layers.parcels.itemCenter(5)); return [p.x, p.y]; })()")
    box = page.locator(".leaflet-container").bounding_box()
    page.mouse.move(box["x"] + c[0] - 3, box["y"] + c[1] - 3)
    page.mouse.move(box["x"] + c[0], box["y"] + c[1])
    page.wait_for_timeout(150)
    assert page.locator(".leaflet-tooltip .ag-tip").inner_text() == "示范项目5 · 新建水田"
    page.mouse.click(box["x"] + c[0], box["y"] + c[1])
    assert "BC2024-005" in page.locator(".ag-popup").inner_text()
    page.evaluate("agrigis.maps[0].map.closePopup(); agrigis.maps[0].map.fitBounds(agrigis.maps[0].cfg.bounds)")
    # a popup with the trend chart (first parcel is monitored)
    page.evaluate("agrigis.openPopup('parcels', 0)")
    popup = page.locator(".ag-popup")
    assert "新建水田" not in popup.inner_text() or True
    assert "亩" in popup.inner_text() and popup.locator("svg polyline").count() == 1
    page.wait_for_timeout(400)  # popup fade-in
    page.screenshot(path=str(artifacts_dir / "maps_progress.png"))
    # the second choropleth borrows the first one's county geometries and shows its own target
    page.evaluate("agrigis.maps[0].map.closePopup(); agrigis.maps[0].map.addLayer(agrigis.maps[0].layers.choropleth1)")
    assert _count(page, "choropleth1") == 5
    assert page.evaluate("JSON.stringify(agrigis.latlngs('choropleth1', 3))") == \
        page.evaluate("JSON.stringify(agrigis.latlngs('choropleth0', 3))")
    page.evaluate("agrigis.openPopup('choropleth1', 3)")
    page.wait_for_function("document.querySelectorAll('.ag-popup').length === 1")  # the old one faded out
    text = page.locator(".ag-popup").inner_text()
    assert "新建水田" in text and "90.0 %" in text  # paddy_new in the 4th county: 90 %


def test_english_popup(page, tmp_path):
    _open(page, build_progress(n=4, lang="en"), tmp_path)
    page.evaluate("agrigis.openPopup('parcels', 1)")
    text = page.locator(".ag-popup").inner_text()
    assert "Category" in text and "New paddy" in text and "mu" in text and "under construction" in text


def test_xss_payloads_never_execute(page, tmp_path, artifacts_dir):
    for k, payload in enumerate([XSS, XSS2, XSS3]):
        fm = build_progress(payload=payload, n=4)
        _open(page, fm, tmp_path, f"xss{k}.html")
        assert page.js_errors == []
        # hover and click every parcel and county; open every popup programmatically too
        pts = page.evaluate("""() => { const m = agrigis.maps[0].map;
            const c = []; for (let i = 0; i < agrigis.count('parcels'); i++) c.push(agrigis.maps[0].layers.parcels.itemCenter(i));
            return c.concat(agrigis.maps[0].layers.choropleth0.getLayers().map(l => l.getBounds().getCenter()))
              .map(ll => { const p = m.latLngToContainerPoint(ll); return [p.x, p.y]; }); }""")
        box = page.locator(".leaflet-container").bounding_box()
        for x, y in pts:
            page.mouse.move(box["x"] + x, box["y"] + y)
            page.wait_for_timeout(30)
            page.mouse.click(box["x"] + x, box["y"] + y)
            page.wait_for_timeout(30)
        for lid in ("parcels", "choropleth0", "reserves"):
            for i in range(_count(page, lid)):
                for ev in ("mouseover", "click"):
                    page.evaluate(f"agrigis.openPopup('{lid}', {i}, '{ev}')")
                    page.wait_for_timeout(20)
                    assert page.evaluate("window.__xss") is None
        page.locator(".ag-legend-head").click()
        page.locator(".ag-legend-head").click()
        page.wait_for_timeout(100)
        assert page.evaluate("window.__xss") is None
        assert page.dialogs == []
        assert page.locator(".ag-popup img, .ag-popup svg[onload], .ag-legend img, .leaflet-tooltip img").count() == 0
        # the payload is shown as text
        assert payload in page.locator(".ag-popup").first.inner_text()
        assert payload in page.locator(".ag-title").inner_text()
    page.screenshot(path=str(artifacts_dir / "maps_xss.png"))


def test_gaode_positions_are_gcj02_and_sketch_exports_cgcs2000(page, tmp_path, artifacts_dir):
    from gis.area import area_mu
    from gis.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02

    parcels = make_parcels(3)
    from maps.base import FieldMap

    fm = FieldMap(basemap="gaode-vec", title="高德")
    fm.add_parcels(parcels)
    _open(page, fm, tmp_path)
    assert page.js_errors == []
    ll = page.evaluate("agrigis.latlngs('parcels', 0)[0].map(p => [p.lng, p.lat])")
    ring = np.asarray(parcels.geometry.iloc[0].exterior.coords)[:-1]
    gx, gy = wgs84_to_gcj02(ring[:, 0], ring[:, 1])
    got = np.asarray(ll)
    order = np.lexsort((got[:, 1], got[:, 0]))
    want = np.column_stack([gx, gy])[np.lexsort((gy, gx))]
    assert np.abs(got[order] - want).max() < 2e-6  # rounded to 1e-6°
    shift_m = np.hypot((gx[0] - ring[0, 0]) * 78_400, (gy[0] - ring[0, 1]) * 111_140)
    assert 500 < shift_m < 600  # really shifted, by the Baicheng GCJ-02 offset

    # sketch a parcel over Gaode: clicks in GCJ-02, export in CGCS2000
    page.locator(".ag-btn-draw").click()
    box = page.locator(".leaflet-container").bounding_box()
    clicks = [(400, 300), (600, 300), (600, 450), (400, 450)]
    for x, y in clicks:
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_timeout(50)
    clicked = page.evaluate(f"{json.dumps(clicks)}.map(p => {{ const l = agrigis.maps[0].map.containerPointToLatLng(p); return [l.lng, l.lat]; }})")
    page.locator(".ag-finish").click()
    page.locator(".ag-in-code").fill("BC-FIELD-1")
    with page.expect_download() as dl:
        page.locator(".ag-export").click()
    path = tmp_path / "sketch.geojson"
    dl.value.save_as(path)
    fc = json.loads(path.read_text())
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 1
    f = fc["features"][0]
    assert f["properties"]["project_code"] == "BC-FIELD-1"
    coords = np.asarray(f["geometry"]["coordinates"][0])
    c = np.asarray(clicked)
    wx, wy = gcj02_to_wgs84(c[:, 0], c[:, 1])
    want = np.column_stack([wx, wy])
    for p in want:  # every clicked vertex comes back in CGCS2000 (to 1e-7° ≈ 1 cm)
        assert np.abs(coords - p).sum(axis=1).min() < 3e-7
    g = gpd.read_file(path)
    assert g.crs.to_epsg() == 4326 and g.geometry.iloc[0].is_valid
    assert g.geometry.iloc[0].exterior.is_ccw  # RFC 7946 winding
    assert f["properties"]["area_mu"] == pytest.approx(float(area_mu(g.set_crs("EPSG:4490", allow_override=True))[0]),
                                                       rel=1e-4)
    page.screenshot(path=str(artifacts_dir / "maps_gaode_sketch.png"))
    # the export is what `agrigis import` reads: one accepted parcel, same code, same area
    from layers.registry import Registry
    from workflows.importing import import_files

    rep = import_files([path], registry=tmp_path / "reg.gpkg", category="paddy_new", year=2024, status="planned")
    assert (rep.n_read, rep.n_accepted, rep.n_rejected) == (1, 1, 0)
    got = Registry(tmp_path / "reg.gpkg").projects()
    assert list(got["project_code"]) == ["BC-FIELD-1"]
    assert float(got["area_mu"].iloc[0]) == pytest.approx(f["properties"]["area_mu"], rel=1e-3)


def test_measure_area_in_mu_matches_ellipsoid(page, tmp_path):
    from gis.area import area_mu

    from maps.base import FieldMap

    fm = FieldMap(basemap="none")
    fm.add_parcels(make_parcels(2))
    _open(page, fm, tmp_path)
    # the JS area against gis.area (GRS80 geodesic) on a 1 km-ish and a 20 km polygon
    for ring in ([[123.0, 45.5], [123.013, 45.5], [123.013, 45.509], [123.0, 45.509]],
                 [[122.5, 45.2], [122.8, 45.25], [122.75, 45.4], [122.45, 45.35]]):
        js = page.evaluate(f"agrigis.areaM2({json.dumps(ring)}) / agrigis.M2_PER_MU")
        poly = gpd.GeoSeries([shape({"type": "Polygon", "coordinates": [ring + [ring[0]]]})], crs="EPSG:4490")
        assert js == pytest.approx(float(area_mu(poly)[0]), rel=2e-5)
    page.locator(".ag-btn-measure").click()
    box = page.locator(".leaflet-container").bounding_box()
    for x, y in [(300, 300), (500, 300), (500, 500)]:
        page.mouse.click(box["x"] + x, box["y"] + y)
    text = page.locator(".ag-panel").inner_text()
    assert "面积" in text and "亩" in text and "距离" in text


@pytest.mark.parametrize("basemap", ["none", "gaode-vec"])
def test_locate_me_shows_position_and_accuracy(browser, tmp_path, basemap):
    ctx = browser.new_context(geolocation={"latitude": 45.3, "longitude": 122.5, "accuracy": 25},
                              permissions=["geolocation"], viewport={"width": 900, "height": 700})
    page = ctx.new_page()
    page.js_errors = []
    page.on("pageerror", lambda e: page.js_errors.append(str(e)))
    try:
        from maps.base import FieldMap

        from gis.gcj02 import wgs84_to_gcj02

        fm = FieldMap(basemap=basemap)
        fm.add_parcels(make_parcels(2))
        _open(page, fm, tmp_path)
        page.locator(".ag-btn-locate").click()
        page.wait_for_function("agrigis.maps[0].located !== undefined", timeout=10000)
        st = page.evaluate("agrigis.maps[0].located")
        x, y = (122.5, 45.3)
        if basemap.startswith("gaode"):  # GPS gives WGS84; drawn where Gaode's tiles put it
            gx, gy = wgs84_to_gcj02(np.array([x]), np.array([y]))
            x, y = float(gx[0]), float(gy[0])
        assert st["accuracy"] == 25 and st["lat"] == pytest.approx(y, abs=1e-7) and st["lng"] == pytest.approx(x, abs=1e-7)
        assert "±25 m" in page.locator(".ag-panel").inner_text()
        assert page.js_errors == []
    finally:
        ctx.close()


def test_raster_and_class_maps(page, tmp_path, artifacts_dir):
    from maps.layer_map import class_map, raster_map

    fm = raster_map(make_class_raster(), classes=SALINITY, name="土壤盐化等级", counties=make_counties(),
                    parcels=make_parcels(6), synthetic=True)
    _open(page, fm, tmp_path, "raster.html")
    assert page.js_errors == []
    assert page.locator("img.leaflet-image-layer").count() == 1
    assert page.locator(".leaflet-control-layers").count() == 1 and _count(page, "parcels") == 6
    legend = page.locator(".ag-legend").inner_text()
    assert "轻度盐化" in legend and "重度盐化" in legend
    page.screenshot(path=str(artifacts_dir / "maps_raster_salinity.png"))

    fm = raster_map(make_index_raster(), bins=[0.2, 0.4, 0.6], name="NDVI", lang="en")
    _open(page, fm, tmp_path, "index.html")
    assert page.js_errors == [] and "0.2 – 0.4" in page.locator(".ag-legend").inner_text()

    g = make_parcels(8)
    g["suitability"] = ["S1", "S2", "S3", "N"] * 2
    fm = class_map(g, "suitability", classes={"S1": "高度适宜", "S2": "适宜", "S3": "勉强适宜", "N": "不适宜"},
                   name="水田适宜性", counties=make_counties())
    _open(page, fm, tmp_path, "class.html")
    assert page.js_errors == [] and _count(page, "classes") == 8
    assert page.locator(".leaflet-control-layers").count() == 1
    assert "勉强适宜" in page.locator(".ag-legend").inner_text()
    page.screenshot(path=str(artifacts_dir / "maps_suitability.png"))


def test_fullscreen_toggle(page, tmp_path):
    from maps.base import FieldMap

    fm = FieldMap(basemap="none")
    fm.add_parcels(make_parcels(1))
    _open(page, fm, tmp_path)
    page.locator(".ag-btn-fullscreen").click()
    assert page.evaluate("document.querySelector('.leaflet-container').classList.contains('ag-fullscreen')")
    page.locator(".ag-btn-fullscreen").click()
    assert not page.evaluate("document.querySelector('.leaflet-container').classList.contains('ag-fullscreen')")
    assert page.js_errors == []


def _goto(page, path):
    """Open a map file written by the CLI, offline, and wait until it is ready."""
    page.route("http://**/*", lambda r: r.abort())
    page.route("https://**/*", lambda r: r.abort())
    page.goto(path.as_uri())
    page.wait_for_function("window.agrigis && window.agrigis.ready === true", timeout=15000)


def test_remediation_and_vector_layer_maps(page, tmp_path, artifacts_dir):
    """The two map kinds the other tests check only as HTML: made by the CLI, opened for real."""
    from click.testing import CliRunner

    from workflows.cli import main

    rem = tmp_path / "remediation"
    rem.mkdir()
    g = make_parcels(6)[["project_code", "project_name", "category", "county_code", "year", "geometry"]]
    g["area_mu"] = 1308.6
    g["verdict"] = ["improving", "no_clear_change", "worsening"] * 2
    g["change"] = 0.05
    g["slope_per_year"] = 0.012
    g["synthetic"] = True
    g.to_file(rem / "remediation.gpkg", layer="remediation", driver="GPKG")
    dates = ["2022-07-15", "2023-07-15", "2024-07-15"]
    series = {"index": "ndvi", "synthetic": True,
              "parcels": {c: {"dates": dates, "values": [0.2, 0.35, 0.5]} for c in g["project_code"]}}
    (rem / "remediation_series.json").write_text(json.dumps(series), encoding="utf-8")
    res = CliRunner().invoke(main, ["map", "remediation", str(rem)])
    assert res.exit_code == 0, res.output
    _goto(page, rem / "remediation_map.html")
    assert page.js_errors == []
    assert _count(page, "classes") == 6
    assert page.locator(".leaflet-control-layers").count() == 1
    legend = page.locator(".ag-legend").inner_text()
    for text in ("改善", "无明显变化", "变差"):
        assert text in legend
    page.evaluate("agrigis.openPopup('classes', 0)")
    popup = page.locator(".ag-popup")
    assert "亩" in popup.inner_text() and popup.locator("svg polyline").count() == 1
    page.wait_for_timeout(400)
    page.screenshot(path=str(artifacts_dir / "maps_remediation.png"))

    src = tmp_path / "my_parcels.gpkg"
    make_parcels(7).to_file(src, layer="parcels", driver="GPKG")
    out = tmp_path / "layer.html"
    res = CliRunner().invoke(main, ["map", "layer", str(src), "-o", str(out)])
    assert res.exit_code == 0, res.output
    page2 = page.context.new_page()
    page2.js_errors = []
    page2.on("pageerror", lambda exc: page2.js_errors.append(str(exc)))
    _goto(page2, out)
    assert page2.js_errors == []
    assert _count(page2, "parcels") == 7  # a file with project columns is drawn as parcels
    assert _count(page2, "counties") == 5
    assert page2.locator(".leaflet-control-layers").count() == 1
    assert page2.locator(".ag-legend").count() == 1
    page2.screenshot(path=str(artifacts_dir / "maps_layer.png"))
