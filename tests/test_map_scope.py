"""The progress field map with imagery evidence, and figures that name their scope
(issue 20 item 4, issue 22 item 5), in a real headless Chromium on a phone-sized screen
(390 × 844) with the network cut.

A registry of three new-paddy parcels in 大安市 (the pilot area of the 新建水田 target
is 大安市/镇赉县), the evidence GeoPackage as ``agrigis verify`` writes it, the map made
by the CLI.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from shapely import box

from gis.area import area_mu
from layers.registry import Registry
from workflows.cli import main

DA = "220882"
CODES = ["E1", "E2", "E3"]
SUPPORT = ["not_supported", "supported", "unobserved"]
DATES = ["2024-04-20", "2024-05-15", "2024-05-28", "2024-06-10", "2024-07-05", "2024-08-01", "2024-09-01"]


def _made(tmp_path):
    import layers

    counties = layers.load("counties", workspace=False)
    gk = counties.to_crs(4550)
    x, y = gk[gk.county_code == DA].geometry.iloc[0].representative_point().coords[0]
    geoms = gpd.GeoSeries([box(x + i * 2500, y, x + i * 2500 + 1500, y + 1500) for i in range(3)], crs=4550)
    g = gpd.GeoDataFrame({"project_code": CODES, "project_name": ["一号", "二号", "三号"], "category": "paddy_new",
                          "county_code": DA, "year": 2024, "status": ["completed", "accepted", "completed"],
                          "declared_area_mu": np.nan, "investment_wan_yuan": np.nan},
                         geometry=geoms.to_crs(4490).values, crs=4490)
    g["area_mu"] = area_mu(g)
    reg = Registry(tmp_path / "registry.gpkg")
    reg.write(g, source="t.gpkg", sha256="2" * 64, synthetic=True)
    ev = g[["project_code", "category", "county_code", "year", "status", "area_mu", "geometry"]].copy()
    ev["rule"], ev["support"] = "paddy", SUPPORT
    ev["verdict"] = ["no_signal", "signal", "insufficient"]
    ev["n_obs"] = [4, 4, 0]
    ev["first_flood"] = [None, "2024-05-28", None]
    ev["peak_date"] = [None, "2024-08-01", None]
    ev["peak_ndvi"] = [0.31, 0.82, np.nan]
    ev["series_json"] = [json.dumps({"index": "ndvi", "dates": DATES, "values": v, "window": ["2024-05-10", "2024-06-20"],
                                     "first_flood": f, "peak_date": p})
                         for v, f, p in zip([[0.2, 0.22, 0.25, 0.27, 0.3, 0.31, 0.3], [0.2, 0.1, 0.12, 0.3, 0.6, 0.82, 0.7],
                                             [None] * 7], ev["first_flood"], ev["peak_date"], strict=True)]
    ev.to_file(tmp_path / "evidence.gpkg", layer="evidence", driver="GPKG")
    out = tmp_path / "map.html"
    res = CliRunner().invoke(main, ["map", "progress", "--registry", str(reg.path), "--evidence",
                                    str(tmp_path / "evidence.gpkg"), "-o", str(out), "--as-of", "2024-06-30"])
    assert res.exit_code == 0, res.output
    return out, counties


@pytest.fixture()
def phone(browser):
    """A phone-sized page (390 × 844) with every network request refused."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True,
                              has_touch=True)
    ctx.set_offline(True)
    pg = ctx.new_page()
    pg.js_errors, pg.requests = [], []
    pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))

    def refuse(route):
        pg.requests.append(route.request.url)
        route.abort()

    pg.route("http://**/*", refuse)
    pg.route("https://**/*", refuse)
    try:
        yield pg
    finally:
        ctx.close()


def _popup_text(page, layer, i):
    page.evaluate(f"agrigis.maps[0].map.closePopup(); agrigis.openPopup({json.dumps(layer)}, {i})")
    page.wait_for_timeout(300)
    return page.locator(".ag-popup").inner_text()


def _pixel(png: bytes, x: int, y: int) -> tuple[int, int, int]:
    """RGB of a screenshot at a page position (decoded by GDAL's PNG driver)."""
    from rasterio.io import MemoryFile

    with MemoryFile(png) as mem, mem.open() as ds:
        return tuple(int(v) for v in ds.read()[:3, y, x])


@pytest.mark.browser
def test_progress_map_evidence_and_scope_on_a_phone_offline(phone, tmp_path, artifacts_dir):
    out, counties = _made(tmp_path)
    page = phone
    page.goto(out.as_uri())
    page.wait_for_function("window.agrigis && window.agrigis.ready === true", timeout=15000)
    assert page.js_errors == []
    assert page.evaluate("agrigis.count('evidence')") == 3

    # the basemap is not drawn (no network): no OpenStreetMap credit; the data credit is the counties'
    page.wait_for_timeout(500)
    credit = page.locator(".leaflet-control-attribution").inner_text()
    assert "OpenStreetMap" not in credit and "合成演示数据" in credit and "自然保护区" not in credit

    # county popups of the 新建水田 target (pilot: 大安市, 镇赉县): every figure names its scope
    order = counties["county_code"].astype(str).tolist()
    da = _popup_text(page, "choropleth0", order.index(DA))
    assert "全市目标(万亩)" in da and "本县完成(万亩)" in da and "占全市目标(%)" in da and "不在试点范围" not in da
    tn = _popup_text(page, "choropleth0", order.index("220881"))  # 洮南市
    assert tn.startswith("洮南市") and "不在试点范围" in tn
    assert "本县完成" not in tn and "占全市目标" not in tn  # no "0 of the city figure"
    assert "全市目标(万亩)\t23.89" in tn  # the city's figure, said to be the city's

    # an evidence popup: the index curve, the window shaded, first flood and peak marked
    text = _popup_text(page, "evidence", 1)
    assert "影像支持" in text and "首次淹水日期 2024-05-28" in text and "峰值日期 2024-08-01" in text
    assert "2024-05-10 – 2024-06-20" in text
    pop = page.locator(".ag-popup")
    assert pop.locator("svg polyline").count() == 1 and pop.locator("rect.ag-trend-window").count() == 1
    assert pop.locator("line.ag-trend-mark").count() == 2
    wbox = page.locator(".leaflet-popup").bounding_box()
    assert wbox["x"] >= 0 and wbox["x"] + wbox["width"] <= 390  # fits the phone screen
    page.screenshot(path=str(artifacts_dir / "map_scope_popup_phone.png"))

    # the legend says what the colours mean (collapsed on a phone until tapped)
    page.evaluate("agrigis.maps[0].map.closePopup()")
    page.locator(".ag-legend-head").click()
    legend = page.locator(".ag-legend").inner_text()
    for t in ("影像核验", "影像支持", "影像不支持", "未观测到", "占全市目标(%)", "不在试点范围"):
        assert t in legend, t
    page.locator(".ag-legend-head").click()

    # red where the imagery disagrees (E1), green where it agrees (E2): pixels of a screenshot
    pts = page.evaluate("""(() => { const s = agrigis.maps[0], m = s.map, L_ = s.layers.evidence;
        m.fitBounds(L.latLngBounds(agrigis.latlngs('evidence', 0)[0].concat(agrigis.latlngs('evidence', 1)[0])),
                    {animate: false, padding: [40, 40]});
        return [0, 1, 2].map(i => { const b = L.latLngBounds(agrigis.latlngs('evidence', i)[0]);
                                    const p = m.latLngToContainerPoint(b.getCenter()); return [p.x, p.y]; }); })()""")
    page.wait_for_timeout(400)
    png = page.screenshot(path=str(artifacts_dir / "map_scope_evidence_phone.png"))
    box_ = page.locator(".leaflet-container").bounding_box()
    px = [_pixel(png, int(box_["x"] + x), int(box_["y"] + y)) for x, y in pts[:2]]
    r, g, b = px[0]
    assert r > 150 and g < 110 and b < 110, px  # red: not supported
    r, g, b = px[1]
    assert g > r + 30 and g > b + 30, px  # green: supported
    assert page.js_errors == []
