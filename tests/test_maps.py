"""maps: offline bundling, escaping, light GeoJSON, basemaps, raster placement (no browser).

The small builders here are reused by tests/test_maps_browser.py.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from shapely.geometry import LineString, box

from gis.errors import InputError, MissingCRSError
from maps.base import FieldMap
from maps.basemaps import basemap_specs
from maps.encode import feature_collection
from maps.layer_map import class_map, raster_map, vector_map
from maps.offline import external_references, safe_json
from maps.progress_map import progress_map
from maps.raster_overlay import RasterClass, classes_from_bins, classes_from_scheme, classify, overlay_image, role_schemes

XSS = '<img src=x onerror="window.__xss=1">'
XSS2 = '</script><script>window.__xss=2</script>'
XSS3 = '"><svg onload=window.__xss=3>'

COUNTY_CODES = ["220802", "220821", "220822", "220881", "220882"]
CATS = ["high_standard_farmland", "paddy_new", "saline_demo_area", "fertigation"]
STATS = ["planned", "under_construction", "completed", "accepted"]


def make_counties() -> gpd.GeoDataFrame:
    """Five 0.4° boxes in a row near Baicheng, stand-ins for the real counties."""
    geoms = [box(122.2 + 0.4 * i, 45.2, 122.6 + 0.4 * i, 45.6) for i in range(5)]
    names = ["洮北区", "镇赉县", "通榆县", "洮南市", "大安市"]
    return gpd.GeoDataFrame({"county_code": COUNTY_CODES, "name_zh": names,
                             "name_pinyin": ["Taobei", "Zhenlai", "Tongyu", "Taonan", "Da'an"]},
                            geometry=geoms, crs="EPSG:4490")


def make_parcels(n: int = 12, payload: str | None = None) -> gpd.GeoDataFrame:
    """``n`` square parcels of 0.01° inside the boxes; ``payload`` goes into every text field."""
    rows, geoms = [], []
    for i in range(n):
        cx = 122.25 + (i % 20) * 0.09
        cy = 45.25 + (i // 20) * 0.02
        geoms.append(box(cx, cy, cx + 0.01, cy + 0.01))
        rows.append({
            "project_code": payload + f"-{i}" if payload else f"BC2024-{i:03d}",
            "project_name": payload if payload else f"示范项目{i}",
            "category": CATS[i % len(CATS)],
            "status": STATS[i % len(STATS)],
            "county_code": COUNTY_CODES[min(int((cx - 122.2) / 0.4), 4)],
            "year": 2024,
            "declared_area_mu": 1300.0,
        })
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4490")


def make_progress() -> pd.DataFrame:
    rows = []
    for t in ["high_standard_farmland", "paddy_new"]:
        for j, c in enumerate(COUNTY_CODES):
            rows.append({"county_code": c, "target": t, "completion_pct": [10, 30, 60, 90, 120][j],
                         "done_wan_mu": 1.0 + j, "target_wan_mu": 5.0})
    return pd.DataFrame(rows)


def make_reserves(name: str = "向海国家级自然保护区") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [name]}, geometry=[box(122.3, 45.45, 122.5, 45.55)], crs="EPSG:4490")


def make_canals(name: str = "引嫩入白干渠") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [name]}, geometry=[LineString([(122.2, 45.4), (124.2, 45.42)])], crs="EPSG:4490")


def make_class_raster(crs: str = "EPSG:4490") -> xr.DataArray:
    """A 3-class salinity raster (1, 2, 3; 0 = no data) over 0.4° × 0.2°."""
    ny, nx = 40, 80
    data = np.ones((ny, nx), dtype="uint8")
    data[:, 30:60] = 2
    data[:, 60:] = 3
    data[:5, :5] = 0
    da = xr.DataArray(data, dims=("y", "x"),
                      coords={"y": 45.6 - 0.005 * (np.arange(ny) + 0.5), "x": 122.6 + 0.005 * (np.arange(nx) + 0.5)})
    return da.rio.write_crs(crs).rio.write_nodata(0)


def make_index_raster() -> xr.DataArray:
    ny, nx = 30, 60
    data = np.tile(np.linspace(-0.1, 0.9, nx), (ny, 1)).astype("float32")
    da = xr.DataArray(data, dims=("y", "x"),
                      coords={"y": 45.5 - 0.005 * (np.arange(ny) + 0.5), "x": 123.0 + 0.005 * (np.arange(nx) + 0.5)})
    return da.rio.write_crs("EPSG:4490")


SALINITY = [RasterClass("非盐化", "#1a9641", value=1), RasterClass("轻度盐化", "#fdae61", value=2),
            RasterClass("重度盐化", "#d7191c", value=3)]


def build_progress(payload: str | None = None, basemap: str = "osm", lang: str = "zh", n: int = 12, **kw) -> FieldMap:
    parcels = make_parcels(n, payload)
    series = {parcels["project_code"].iloc[0]: (["2024-05-01", "2024-06-01", "2024-07-01"], [0.2, 0.5, 0.7])}
    counties = make_counties()
    prog = make_progress()
    reserves = make_reserves(payload or "向海国家级自然保护区")
    canals = make_canals(payload or "引嫩入白干渠")
    if payload:
        counties["name_zh"] = payload
        prog["target"] = payload
    return progress_map(parcels, counties, prog, reserves=reserves, canals=canals, basemap=basemap, lang=lang,
                        series=series, series_label=payload or "NDVI",
                        title=payload, attribution=payload, **kw)


def test_shared_geometries_are_written_once(tmp_path):
    """A choropleth per target and the county outlines share one copy of the counties."""
    from maps.encode import compact_layer

    html = build_progress().save(tmp_path / "m.html").read_text(encoding="utf-8")
    g = json.dumps(json.loads(compact_layer(make_counties(), {}))["g"], separators=(",", ":"))
    assert html.count(g) == 1
    assert html.count('"g":{"ref":"choropleth0"}') == 2  # choropleth1 and the outlines


def decode_layer(text: str) -> list[tuple[list, dict]]:
    """Python twin of agrigis.js' decoder: [(parts as lon/lat lists, properties)]."""
    d = json.loads(text)
    out = []
    for i in range(d["n"]):
        kind = d["t"] if isinstance(d["t"], int) else d["t"][i]

        def flat(a):
            xy = np.cumsum(np.asarray(a, dtype=np.int64).reshape(-1, 2), axis=0) / d["s"]
            return xy.tolist()

        g = d["g"][i]
        parts = [[flat(r) for r in poly] for poly in g] if kind == 0 else [flat(a) for a in g]
        props = {}
        for k, vals in d["p"].items():
            v = vals[i]
            props[k] = (None if v < 0 else d["e"][k][v]) if k in d["e"] else v
        out.append((parts, props))
    return out


# --------------------------------------------------------------------------- tests
def test_offline_html_has_no_external_script_or_stylesheet():
    html = build_progress(synthetic=True).to_html()
    assert external_references(html) == []
    assert "jquery" not in html.lower() and "bootstrap" not in html.lower() and "font-awesome" not in html.lower()
    assert 'L.version="1.9.3"' in html.replace(" ", "") or "1.9.3" in html
    assert html.count("<script src") == 0 and "<link" not in html


def test_online_links_leaflet_only():
    html = build_progress(online=True).to_html()
    refs = external_references(html)
    assert len(refs) == 2 and all("leaflet@1.9.3" in r for r in refs)


def test_external_reference_detector():
    assert external_references('<link rel="stylesheet" href="//cdn.x/a.css">')
    assert external_references("<style>@import url('https://f/x.css');</style>")
    assert external_references('<script src="leaflet.js"></script>')  # a sibling file is not self-contained
    assert not external_references('<script>L.tileLayer("https://{s}.tile/{z}/{x}/{y}.png")</script>')


def test_payload_cannot_break_out_of_the_script():
    html = build_progress(payload=XSS2).to_html()
    assert XSS2 not in html
    # the only script end tags are ours: leaflet, agrigis, L_NO_TOUCH and the map script
    assert html.lower().count("</script>") == html.lower().count("<script")
    assert "window.__xss=2" in html  # the text is there, JSON-escaped
    assert safe_json({"a": "</script>"}) == '{"a":"\\u003c/script\\u003e"}'


def test_title_and_legend_are_escaped():
    html = build_progress(payload=XSS).to_html()
    assert XSS not in html
    assert "<title>&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;</title>" in html


def test_light_geojson_rounds_and_trims():
    g = make_parcels(3)
    g["secret"] = "not shown"
    g.geometry = g.geometry.translate(1.23456789e-7, 0)
    fc = json.loads(feature_collection(g, {"k": "project_code"}))
    f = fc["features"][0]
    assert set(f) == {"type", "geometry", "properties"} and "bbox" not in fc
    assert f["properties"] == {"k": "BC2024-000"}
    xs = [c[0] for c in f["geometry"]["coordinates"][0]]
    assert all(abs(x * 1e6 - round(x * 1e6)) < 1e-6 for x in xs)


def test_compact_layer_round_trips_and_is_small():
    from shapely.geometry import MultiPolygon, Point

    from maps.encode import compact_layer

    g = make_parcels(30)
    g.loc[0, "geometry"] = MultiPolygon([box(122.0, 45.0, 122.01, 45.01), box(122.02, 45.0, 122.03, 45.01)])
    text = compact_layer(g, {"k": "project_code", "c": "category", "y": "year"})
    dec = decode_layer(text)
    assert len(dec) == 30
    assert dec[0][0][1][0][0] == pytest.approx([122.03, 45.0]) and len(dec[0][0]) == 2  # two polygons
    ring = np.asarray(dec[3][0][0][0])
    want = np.round(np.asarray(g.geometry.iloc[3].exterior.coords)[:-1], 6)
    assert np.abs(ring - want).max() < 1e-9  # exactly the rounded vertices, closing vertex dropped
    assert dec[5][1] == {"k": "BC2024-005", "c": CATS[5 % 4], "y": 2024}
    assert json.loads(text)["e"]["c"] == CATS  # codes stored once
    plain = feature_collection(g, {"k": "project_code", "c": "category", "y": "year"})
    assert len(text) < 0.6 * len(plain)
    pts = gpd.GeoDataFrame(geometry=[Point(122.5, 45.5), LineString([(122, 45), (122.1, 45.1)])], crs="EPSG:4490")
    assert [k for k in json.loads(compact_layer(pts))["t"]] == [2, 1]


def test_simplification_stays_below_one_metre():
    from shapely.geometry import Polygon

    ring = [(123.0 + i * 1e-4, 45.0 + (1e-6 if i % 2 else 0)) for i in range(50)] + [(123.005, 45.01), (123.0, 45.01)]
    g = gpd.GeoDataFrame(geometry=[Polygon(ring)], crs="EPSG:4490")
    fc = json.loads(feature_collection(g, simplify_m=0.5))
    assert len(fc["features"][0]["geometry"]["coordinates"][0]) < 10  # 0.11 m zigzag removed
    with pytest.raises(InputError, match="must be above 0 and below 1 m"):
        feature_collection(g, simplify_m=2)


def test_parcel_popup_fields_and_area_in_mu():
    fm = FieldMap(basemap="none")
    g = make_parcels(2)
    fm.add_parcels(g)
    spec = fm.layers[0]
    p = decode_layer(fm._data[spec["data"]])[0][1]
    assert set(p) == {"k", "n", "c", "s", "a", "co", "y", "d"}
    from gis.area import area_mu

    assert p["a"] == pytest.approx(float(area_mu(g.iloc[:1])[0]), abs=1e-3)
    assert p["a"] == pytest.approx(1308.6, abs=0.5)  # 0.01° × 0.01° at 45.25° N: 784.4 m × 1111.4 m
    assert [r[0] for r in spec["popup"]["rows"]][:4] == ["项目编号", "项目类型", "状态", "面积"]


def test_missing_column_and_crs_errors():
    fm = FieldMap(basemap="none")
    with pytest.raises(InputError, match="parcel layer has no column 'status'"):
        fm.add_parcels(make_parcels(2).drop(columns="status"))
    with pytest.raises(MissingCRSError, match="has no CRS"):
        fm.add_parcels(make_parcels(2).set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="unknown basemap 'google'"):
        FieldMap(basemap="google")


def test_basemaps_tianditu_key_from_env_never_in_code(monkeypatch):
    monkeypatch.delenv("AGRIGIS_TIANDITU_KEY", raising=False)
    specs, notes = basemap_specs("tianditu-vec", "zh")
    assert [s["name"] for s in specs] == ["OpenStreetMap", "无底图"] and "AGRIGIS_TIANDITU_KEY" in notes[0]
    monkeypatch.setenv("AGRIGIS_TIANDITU_KEY", "abc123")
    specs, notes = basemap_specs("tianditu-img", "en")
    assert [s["name"] for s in specs] == ["OpenStreetMap", "Tianditu vector", "Tianditu imagery", "No basemap"]
    assert [s["show"] for s in specs] == [False, False, True, False]
    assert all("tk=abc123" in t["url"] for t in specs[2]["tiles"]) and "cia_w" in specs[2]["tiles"][1]["url"]
    specs, notes = basemap_specs("gaode-vec", "zh")
    assert [s["name"] for s in specs] == ["高德 地图", "高德 卫星", "无底图"] and "GCJ-02" in notes[0]


def test_gaode_shifts_geometry_to_gcj02():
    from gis.gcj02 import wgs84_to_gcj02

    g = make_parcels(1)
    fm = FieldMap(basemap="gaode-vec")
    fm.add_parcels(g)
    x, y = decode_layer(fm._data[fm.layers[0]["data"]])[0][0][0][0][0]
    x0, y0 = g.geometry.iloc[0].exterior.coords[0]
    gx, gy = wgs84_to_gcj02(np.array([x0]), np.array([y0]))
    assert (x, y) == pytest.approx((gx[0], gy[0]), abs=1e-6)
    assert fm.config()["gcj"] is True


def _png(url):
    import base64

    from rasterio.io import MemoryFile

    with MemoryFile(base64.b64decode(url.split(",", 1)[1])) as mem, mem.open() as src:
        return src.read()


def _lonlat_of_pixel(bounds, shape, row, col):
    """Lon/lat of a pixel edge of an image stretched linearly in Web Mercator, as Leaflet does."""
    from pyproj import Transformer

    w, s, e, n = bounds
    to = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    back = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    x0, y0 = to.transform(w, s)
    x1, y1 = to.transform(e, n)
    h, wd = shape
    return back.transform(x0 + (x1 - x0) * col / wd, y1 - (y1 - y0) * row / h)


@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:4550"])
def test_raster_overlay_is_placed_in_web_mercator(crs):
    da = make_class_raster()
    if crs != "EPSG:4490":
        da = da.rio.reproject(crs, nodata=0)
    url, bounds = overlay_image(da, SALINITY)
    img = _png(url)
    h, w = img.shape[1:]
    # the class 1 → 2 edge is at 122.75° E, the no-data corner ends at 45.575° N
    mid = h // 2
    col = int(np.argmax(img[0, mid, :] == 0xFD))  # first orange (class 2) pixel
    lon, _ = _lonlat_of_pixel(bounds, (h, w), mid, col)
    px_deg = (bounds[2] - bounds[0]) / w
    assert lon == pytest.approx(122.75, abs=1.5 * px_deg)
    row = int(np.argmax(img[3, :, 2] == 255))  # first opaque row in the 3rd column
    _, lat = _lonlat_of_pixel(bounds, (h, w), row, 2)
    assert lat == pytest.approx(45.575, abs=1.5 * (bounds[3] - bounds[1]) / h)
    assert bounds == pytest.approx((122.6, 45.4, 123.0, 45.6), abs=0.01)


def test_raster_overlay_classes_in_png():
    url, _ = overlay_image(make_class_raster(), SALINITY)
    img = _png(url)
    assert img.shape[0] == 4
    assert tuple(img[:, 0, 0]) == (0, 0, 0, 0)  # no data → transparent
    assert tuple(img[:3, -1, -1]) == (0xD7, 0x19, 0x1C)  # class 3, east edge
    assert tuple(img[:3, -1, 0]) == (0x1A, 0x96, 0x41)  # class 1, west edge


def test_index_bins_legend_has_class_names():
    assert [c.label for c in classes_from_bins([0.2, 0.4, 0.6])] == ["< 0.2", "0.2 – 0.4", "0.4 – 0.6", "≥ 0.6"]
    fm = raster_map(make_index_raster(), bins=[0.2, 0.4, 0.6], name="NDVI")
    assert [i["label"] for i in fm.legend[0]["items"]] == ["< 0.2", "0.2 – 0.4", "0.4 – 0.6", "≥ 0.6"]


def test_synthetic_is_labelled():
    cfg = build_progress(synthetic=True).config()
    assert cfg["attribution"].startswith("合成演示数据")
    assert "合成演示数据" in cfg["legend"][-1]["note"]
    cfg = build_progress(synthetic=True, lang="en").config()
    assert "synthetic demo data" in cfg["attribution"]


def test_class_and_vector_maps_build():
    g = make_parcels(6)
    g["suitability"] = ["S1", "S2", "S3", "N", "S1", "S2"]
    fm = class_map(g, "suitability", classes={"S1": "高度适宜", "S2": "适宜", "S3": "勉强适宜", "N": "不适宜"},
                   counties=make_counties(), name="适宜性")
    assert [i["label"] for i in fm.legend[0]["items"]] == ["高度适宜", "适宜", "勉强适宜", "不适宜"]
    assert external_references(fm.to_html()) == []
    fm = vector_map(make_reserves(), name="保护区")
    assert fm.layers[0]["popup"]["rows"] == [["name", "name", "text"]]
    with pytest.raises(InputError, match="has no column 'nope'"):
        class_map(g, "nope")


def test_english_labels():
    fm = build_progress(lang="en")
    cfg = fm.config()
    assert cfg["lookups"]["status"]["under_construction"] == "under construction"
    assert cfg["labels"]["mu"] == "mu"
    assert re.search(r'"name":"Completion: High-standard farmland"', safe_json(cfg))


def test_raster_overlay_is_warped_once_at_the_size_it_is_shown():
    from rasterio.enums import Resampling

    from maps.raster_overlay import to_web_mercator

    da = make_index_raster()
    full = to_web_mercator(da, categorical=False)
    ref = da.astype("float64").rio.write_nodata(np.nan).rio.reproject("EPSG:3857", resampling=Resampling.bilinear)
    assert full.shape == ref.shape  # GDAL's own choice of size
    np.testing.assert_allclose(full.values, ref.values, equal_nan=True)
    small = to_web_mercator(da, categorical=False, max_pixels=20)
    assert max(small.shape) == 20 and small.rio.crs.to_epsg() == 3857
    assert float(small.mean()) == pytest.approx(float(da.mean()), abs=0.02)  # averaged, not sampled
    assert small.rio.bounds() == pytest.approx(full.rio.bounds(), rel=1e-3)


def test_scheme_classes_are_the_schemes_own():
    """ec_aafc drawn in its own classes: names, bounds, green → red, a bound goes down."""
    from gis import salinity

    cls = classes_from_scheme("ec_aafc")
    assert [c.label for c in cls] == ["非盐化 ≤ 2", "轻度 (2, 4]", "中度 (4, 8]", "重度 (8, 16]", "极重度 > 16"]
    assert [(c.lo, c.hi) for c in cls] == [(None, 2), (2, 4), (4, 8), (8, 16), (16, None)]
    assert cls[0].color == "#1a9641" and cls[-1].color == "#d7191c"  # non-saline green, very strong red
    assert [c.label for c in classes_from_scheme("ec_aafc", "en")][1] == "weak (2, 4]"
    v = np.array([0.5, 2.0, 2.0001, 4.0, 8.0, 16.0, 16.0001, np.nan])
    assert classify(v, cls).tolist() == [0, 0, 1, 1, 2, 3, 4, -1]  # EC 4 is 'weak' (saline is > 4)
    esp = classify(np.array([4.99, 5.0, 15.0, 30.0]), classes_from_scheme("esp_cn"))
    assert esp.tolist() == [0, 1, 3, 4]  # closed left: ESP 5 'weak', 15 'strong', 30 'alkali soil'
    # the map classes every value as gis.salinity does, for every bundled scheme
    rng = np.random.default_rng(0)
    for sid in ("ec_aafc", "ph_songnen", "esp_cn", "salt_cn", "salt_soda_wang1993"):
        s = salinity.load_scheme(sid)
        vals = np.concatenate([rng.uniform(0, s.bounds[-1] * 1.5, 500), np.array(s.bounds, dtype=float)])
        np.testing.assert_array_equal(classify(vals, classes_from_scheme(s)), salinity.classify(vals, s))
    assert role_schemes() == {"soil_ec": "ec_aafc", "soil_ph": "ph_songnen", "soil_esp": "esp_cn",
                              "soil_salt": "salt_cn"}


def test_raster_map_scheme_legend_has_unit_and_note():
    ec = make_index_raster() * 20  # -2 … 18 dS/m
    fm = raster_map(ec, scheme="ec_aafc", name="土壤EC")
    sec = fm.legend[0]
    assert sec["title"] == "土壤EC(单位:dS/m)"
    assert sec["note"] == "分级:土壤盐分等级(饱和浸提液电导率 ECe)"
    assert [i["swatch"]["fillColor"] for i in sec["items"]] == ["#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c"]
    fm = raster_map(make_index_raster() + 8.4, scheme="ph_songnen", name="pH", lang="en")
    assert fm.legend[0]["title"] == "pH"  # pH has no unit
    assert [i["label"] for i in fm.legend[0]["items"]] == ["none ≤ 8.5", "light (8.5, 9]", "moderate (9, 9.5]",
                                                           "heavy > 9.5"]


def test_std_layers_get_a_sequential_ramp_and_index_keeps_quintiles():
    from maps.style import SEQUENTIAL_RAMP

    idx = make_index_raster()  # -0.1 … 0.9, evenly spread: quintile edges 0.1, 0.3, 0.5, 0.7
    fm = raster_map(idx, name="NDVI", unit="-")
    sec = fm.legend[0]
    assert sec["title"] == "NDVI" and [i["label"] for i in sec["items"]] == [
        "< 0.1", "0.1 – 0.3", "0.3 – 0.5", "0.5 – 0.7", "≥ 0.7"]
    assert [i["swatch"]["fillColor"] for i in sec["items"]] == ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"]
    fm = raster_map(idx, name="EC std", unit="dS/m", sequential=True, lang="en")
    sec = fm.legend[0]
    assert sec["title"] == "EC std (unit: dS/m)"
    colors = [i["swatch"]["fillColor"] for i in sec["items"]]
    assert len(colors) == 5 and set(colors) <= set(SEQUENTIAL_RAMP)
    rank = [SEQUENTIAL_RAMP.index(c) for c in colors]
    assert rank == sorted(rank) and len(set(rank)) == 5  # light → dark, one hue
