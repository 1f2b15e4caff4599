"""Offline imagery in field maps (issue 22, part 1): MBTiles, PMTiles and GeoTIFF tiles
embedded around the parcels within a byte budget, and a .pmtiles file opened in the
browser through the file chooser. Browser checks look at screenshot pixels, with every
non-file request aborted (a field laptop without signal)."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from maps.base import FieldMap
from maps.imagery_raster import _encode
from maps.imagery_tiles import TileBudget, embed_tiles, open_tiles, tile_range

GREEN = (40, 150, 60)
ORANGE = (230, 120, 30)
BLUE = (40, 90, 200)
AREA = (123.80, 45.60, 123.83, 45.62)


def parcels() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"project_code": ["BC-1", "BC-2"], "project_name": ["一号", "二号"],
                             "category": ["paddy_new", "paddy_new"], "status": ["completed", "planned"],
                             "batch_id": ["b1", "b1"]},
                            geometry=[box(123.805, 45.605, 123.81, 45.608), box(123.82, 45.612, 123.825, 45.615)],
                            crs="EPSG:4490")


def solid(color, driver="JPEG") -> bytes:
    return _encode(np.broadcast_to(np.array(color, dtype="uint8")[:, None, None], (3, 256, 256)).copy(), driver)


def make_geotiff(path):
    """A 3-band 8-bit image in EPSG:4490: west half green, east half orange."""
    import rasterio
    from rasterio.transform import from_bounds

    w, h = 600, 400
    a = np.zeros((3, h, w), dtype="uint8")
    for b in range(3):
        a[b, :, : w // 2] = GREEN[b]
        a[b, :, w // 2:] = ORANGE[b]
    t = from_bounds(123.78, 45.59, 123.85, 45.63, w, h)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8", crs="EPSG:4490",
                       transform=t) as dst:
        dst.write(a)
    return path


def make_mbtiles(path, zooms=range(12, 17), color=BLUE):
    """An MBTiles file of solid JPEG tiles over AREA (TMS rows, as the format says)."""
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE metadata (name TEXT, value TEXT);"
                      "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);")
    con.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "test"), ("format", "jpg"),
                                                            ("minzoom", str(min(zooms))), ("maxzoom", str(max(zooms))),
                                                            ("bounds", "123.75,45.55,123.9,45.67")])
    data = solid(color)
    n = 0
    for z in zooms:
        x0, y0, x1, y1 = tile_range((123.75, 45.55, 123.9, 45.67), z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2 ** z - 1 - y, data))
                n += 1
    con.commit()
    con.close()
    return path, n, len(data)


def make_pmtiles(path, mbtiles):
    from pmtiles.convert import mbtiles_to_pmtiles

    mbtiles_to_pmtiles(str(mbtiles), str(path), maxzoom=16)
    return path


# ---------------------------------------------------------------------- no browser
def test_mbtiles_budget_stops_at_the_zoom_that_fits(tmp_path):
    path, _, _ = make_mbtiles(tmp_path / "a.mbtiles")
    src = open_tiles(path)
    full = embed_tiles(src, AREA)
    # from the zoom where the area (plus 10 % around) fits in 2 × 2 tiles down to the deepest
    per_zoom = {z: sum(1 for k in full.tiles if k.startswith(f"{z}/")) for z in range(12, 17)}
    assert (full.zoom_min, full.zoom_max) == (13, 16) and per_zoom == {12: 0, 13: 2, 14: 6, 15: 20, 16: 64}
    assert full.n_bytes == sum(len(k) + len(v) + 6 for k, v in full.tiles.items())
    # zooms 13–15 (28 tiles, ~26 kB as base64) fit 50 kB, zoom 16 (64 more) does not
    small = embed_tiles(src, AREA, TileBudget(max_bytes=50_000))
    assert (small.zoom_min, small.zoom_max, len(small.tiles)) == (13, 15, 28) and small.n_bytes <= 50_000
    assert embed_tiles(src, AREA, TileBudget(max_bytes=10)).tiles == {}
    # the TMS row of the file is flipped to XYZ: the tile over the parcels is found
    x, y = tile_range(AREA, 16)[:2]
    assert src.get(16, x, y) is not None and src.get(16, x, 0) is None
    src.close()


def test_pmtiles_gives_the_same_tiles_as_the_mbtiles(tmp_path):
    mb, _, _ = make_mbtiles(tmp_path / "a.mbtiles")
    pm = make_pmtiles(tmp_path / "a.pmtiles", mb)
    a, b = open_tiles(mb), open_tiles(pm)
    ea, eb = embed_tiles(a, AREA), embed_tiles(b, AREA)
    assert ea.tiles == eb.tiles and eb.zoom_max == 16
    a.close(), b.close()


def test_geotiff_is_tiled_into_web_mercator(tmp_path):
    src = open_tiles(make_geotiff(tmp_path / "img.tif"))
    e = embed_tiles(src, AREA)
    assert e.zoom_max == src.maxzoom == 14  # about 9 m pixels here
    kinds = {v[:4] for v in e.tiles.values()}
    assert kinds <= {"/9j/", "iVBO"}  # JPEG inside the image, PNG with transparency at its edge
    src.close()


def make_utm_geotiff(path):
    """A 10 m 8-bit RGB image in UTM 51N (warped to Web Mercator for tiles) around AREA,
    with overviews ×2 and ×4: red and green ramps, blue a wave of 20 px (a one-pixel
    shift shows), so tiles can be compared with a direct warp number by number."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.transform import from_origin
    from rasterio.warp import transform_bounds

    w, s, e, n = transform_bounds("EPSG:4326", "EPSG:32651", 123.79, 45.595, 123.84, 45.625)
    cols, rows = int((e - w) / 10), int((n - s) / 10)
    yy, xx = np.mgrid[0:rows, 0:cols].astype("float64")
    a = np.stack([40 + 180 * xx / cols, 40 + 180 * yy / rows,
                  128 + 100 * np.sin(2 * np.pi * xx / 20) * np.cos(2 * np.pi * yy / 25)]).round().astype("uint8")
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=3, dtype="uint8", crs="EPSG:32651",
                       transform=from_origin(w, n, 10, 10), tiled=True, blockxsize=128, blockysize=128) as dst:
        dst.write(a)
        dst.build_overviews([2, 4], Resampling.average)
    return path


def direct_warp(path, z: int, x: int, y: int, shift: float = 0.0) -> np.ndarray:
    """Tile ``z/x/y`` by one plain rasterio warp of the whole file to the tile's bounds
    (bilinear, alpha band added), ``shift`` tile pixels to the east."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.transform import from_bounds
    from rasterio.warp import reproject

    from maps.imagery_tiles import tile_bounds_3857

    left, bottom, right, top = tile_bounds_3857(z, x, y)
    dx = (right - left) / 256 * shift
    out = np.zeros((4, 256, 256), dtype="uint8")
    with rasterio.open(path) as src:
        reproject(rasterio.band(src, [1, 2, 3]), out, dst_transform=from_bounds(left + dx, bottom, right + dx, top, 256, 256),
                  dst_crs="EPSG:3857", resampling=Resampling.bilinear, dst_alpha=4)
    return out


def decode(data: bytes) -> np.ndarray:
    import warnings

    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile(data) as mem, mem.open() as ds:
            return ds.read()


def test_geotiff_tiles_equal_a_direct_warp_of_their_bounds(tmp_path):
    path = make_utm_geotiff(tmp_path / "utm.tif")
    src = open_tiles(path)
    assert (src.minzoom, src.maxzoom) == (6, 14)
    # a level is warped from the coarsest overview not coarser than its pixels (14.3 m per file pixel here)
    assert [src.overview_for(z) for z in (11, 12, 13, 14)] == [1, 0, -1, -1]
    seen = {"jpeg": 0, "png": 0}
    for z in (11, 12, 13, 14):
        x0, y0, x1, y1 = tile_range(AREA, z)
        strip = src.warp(z, x0, y0, x1 - x0 + 1, y1 - y0 + 1)  # what level() cuts its tiles from
        for x, y, data in src.level(z, x0, y0, x1, y1):
            ref = direct_warp(path, z, x, y).astype(int)
            raw = strip[:, (y - y0) * 256:(y - y0 + 1) * 256, (x - x0) * 256:(x - x0 + 1) * 256].astype(int)
            inside = ref[3] > 0
            assert data is not None and np.array_equal(raw[3] > 0, inside)  # the same footprint
            diff = np.abs(raw[:3] - ref[:3])[:, inside]
            # full resolution: within a grey level or so (rasterio widens the bilinear kernel
            # when a pixel covers more than one of the file's, we take the overview instead);
            # from an overview: its average (the 200 m wave is 4 px at zoom 11)
            ok = diff.mean() <= 0.5 and diff.max() <= 4 if z >= 13 else diff.mean() <= 2.0
            assert ok, (z, x, y, diff.mean(), diff.max())
            jpeg = data[:3] == b"\xff\xd8\xff"
            seen["jpeg" if jpeg else "png"] += 1
            got = decode(data).astype(int)
            assert np.array_equal(got[3] > 0, inside) if not jpeg else inside.all()
            assert np.abs(got[:3] - ref[:3])[:, inside].mean() <= (2.5 if jpeg else diff.mean() + 0.01)  # JPEG q80
            # the comparison can tell: the same tile one pixel to the east is far off (blue wave)
            east = direct_warp(path, z, x, y, shift=1.0).astype(int)
            both = inside & (east[3] > 0)
            assert np.abs(raw[2] - east[2])[both].mean() > 5 * max(np.abs(raw[2] - ref[2])[both].mean(), 0.3)
            # one tile alone: the same warp over its bounds
            alone = decode(src.get(z, x, y)).astype(int)
            assert np.abs(alone[:3] - got[:3])[:, inside].mean() <= 1.0
    assert seen["jpeg"] >= 2 and seen["png"] >= 4  # inside the image and at its edge
    src.close()


def test_geotiff_levels_read_in_strips_by_threads_and_judged_before_reading(tmp_path, monkeypatch):
    import maps.imagery_raster as ir
    import maps.imagery_tiles as it

    monkeypatch.setattr(it, "SAMPLE", 2)  # a level over 4 tiles is judged from 2 of them first
    src = open_tiles(make_geotiff(tmp_path / "img.tif"))
    assert src.threadsafe and src.cut_on_demand
    budgets = [TileBudget(), TileBudget(max_bytes=5_896), TileBudget(max_bytes=1_896 + 6_354 - 1)]
    threaded = [embed_tiles(src, AREA, b) for b in budgets]
    # strips one tile high, read by one thread: the same tiles byte for byte
    monkeypatch.setattr(ir, "WORKERS", 1)
    monkeypatch.setattr(ir, "STRIP_PIXELS", 1)
    src2 = open_tiles(tmp_path / "img.tif")
    alone = [embed_tiles(src2, AREA, b) for b in budgets]
    assert [sorted(e.tiles.items()) for e in threaded] == [sorted(e.tiles.items()) for e in alone]
    # zoom 13 takes 1,896 bytes, zoom 14 6,354; the two budgets below stop at 13
    assert [(e.zoom_max, e.n_bytes) for e in threaded] == [(14, 1_896 + 6_354), (13, 1_896), (13, 1_896)]
    # with 4,000 bytes left, zoom 14 (6 tiles) is judged from 2 tiles and never warped whole;
    # with all the room it needs it is warped whole without a sample
    reads: list[int] = []
    get, level = src.get, src.level
    monkeypatch.setattr(src, "get", lambda z, x, y: reads.append(z) or get(z, x, y))
    monkeypatch.setattr(src, "level", lambda z, *r: reads.append(-z) or level(z, *r))
    embed_tiles(src, AREA, budgets[1])
    assert reads == [-13, 14, 14]
    reads.clear()
    embed_tiles(src, AREA, TileBudget())
    assert reads == [-13, -14]
    src.close(), src2.close()


def test_bad_imagery_files_say_what_is_wrong(tmp_path):
    from gis.errors import DataFileError, InputError

    with pytest.raises(DataFileError, match="imagery file .*nothing.mbtiles not found"):
        open_tiles(tmp_path / "nothing.mbtiles")
    (tmp_path / "junk.mbtiles").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataFileError, match="junk.mbtiles cannot be read"):
        open_tiles(tmp_path / "junk.mbtiles")
    (tmp_path / "junk.pmtiles").write_bytes(b"\0" * 200)
    with pytest.raises(DataFileError, match="junk.pmtiles cannot be read"):
        open_tiles(tmp_path / "junk.pmtiles")
    fm = FieldMap(basemap="gaode-img")
    with pytest.raises(InputError, match="cannot go under a Gaode map"):
        fm.add_embedded_imagery(embed_tiles(open_tiles(make_mbtiles(tmp_path / "b.mbtiles")[0]), AREA))


def test_cli_prints_zoom_and_size(tmp_path):
    from workflows.cli import main

    parcels().to_file(tmp_path / "p.gpkg")
    mb, _, _ = make_mbtiles(tmp_path / "a.mbtiles")
    out = tmp_path / "m.html"
    res = CliRunner().invoke(main, ["map", "layer", str(tmp_path / "p.gpkg"), "-o", str(out), "--basemap", "none",
                                    "--basemap-file", str(mb), "--basemap-budget", "1MB", "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "offline imagery: a.mbtiles, zoom 14–16, 40 tiles, 0.04 MB" in res.output
    assert "agrigis imagery pmtiles" not in res.output  # the whole file fitted: no phone-file tip
    assert out.stat().st_size < 1_000_000
    cut = CliRunner().invoke(main, ["map", "layer", str(tmp_path / "p.gpkg"), "-o", str(tmp_path / "cut.html"),
                                    "--basemap", "none", "--basemap-file", str(mb), "--basemap-budget", "0.1MB",
                                    "--lang", "en"])
    assert cut.exit_code == 0, cut.output
    assert "run agrigis imagery pmtiles" in cut.output and str(mb) in cut.output
    html = out.read_text(encoding="utf-8")
    assert solid(BLUE)[:30] and "embedded" in html
    res = CliRunner().invoke(main, ["map", "layer", str(tmp_path / "p.gpkg"), "-o", str(out), "--basemap-file",
                                    str(mb), "--basemap-budget", "40 parsecs", "--lang", "en"])
    assert res.exit_code != 0 and "--basemap-budget 40 parsecs is not understood" in res.output


# ------------------------------------------------------------------------- browser
def _offline(page):
    page.external = []

    def route(r):
        page.external.append(r.request.url)
        r.abort()

    page.route("http://**/*", route)
    page.route("https://**/*", route)


def _pixel(page, png: bytes, lat: float, lon: float) -> tuple[int, int, int]:
    """Colour of the screenshot at a map position."""
    x, y = page.evaluate("([lat, lon]) => { const p = agrigis.maps[0].map.latLngToContainerPoint([lat, lon]);"
                         " return [Math.round(p.x), Math.round(p.y)]; }", [lat, lon])
    a = decode(png)
    return tuple(int(v) for v in a[:3, y, x])


def _close(c, ref, tol=30):
    return all(abs(a - b) <= tol for a, b in zip(c, ref, strict=True))


def _imagery_map(tmp_path, source) -> str:
    fm = FieldMap(title="影像", basemap="osm")
    fm.add_parcels(parcels())
    src = open_tiles(source)
    fm.add_embedded_imagery(embed_tiles(src, fm.area_bounds()))
    src.close()
    return fm.save(tmp_path / "imagery.html").as_uri()


@pytest.mark.browser
def test_embedded_geotiff_shows_offline(page, tmp_path, artifacts_dir):
    _offline(page)
    page.goto(_imagery_map(tmp_path, make_geotiff(tmp_path / "img.tif")))
    page.wait_for_function("window.agrigis && window.agrigis.ready === true")
    page.wait_for_function("document.querySelectorAll('.ag-imagery img.leaflet-tile-loaded').length > 0")
    page.wait_for_timeout(300)
    png = page.screenshot(path=str(artifacts_dir / "imagery_geotiff.png"))
    assert page.js_errors == [] and page.external == []  # the OSM layer is not shown: nothing fetched
    assert _close(_pixel(page, png, 45.613, 123.807), GREEN)  # west half, away from the parcels
    assert _close(_pixel(page, png, 45.607, 123.822), ORANGE)  # east half
    # the switcher offers the online maps too, the imagery is the one shown
    assert "离线影像" in page.locator(".leaflet-control-layers-base").inner_text()


@pytest.mark.browser
def test_embedded_mbtiles_on_a_phone(browser, tmp_path, artifacts_dir):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _offline(page)
    page.goto(_imagery_map(tmp_path, make_mbtiles(tmp_path / "a.mbtiles")[0]))
    page.wait_for_function("window.agrigis && window.agrigis.ready === true")
    page.wait_for_function("document.querySelectorAll('.ag-imagery img.leaflet-tile-loaded').length > 0")
    page.evaluate("agrigis.maps[0].map.setZoom(18, {animate: false})")  # beyond the tiles: scaled up, not blank
    page.wait_for_timeout(400)
    png = page.screenshot(path=str(artifacts_dir / "imagery_mbtiles_phone.png"))
    c = page.evaluate("agrigis.maps[0].map.getCenter()")
    assert errors == [] and page.external == []
    assert _close(_pixel(page, png, c["lat"] + 0.0004, c["lng"] + 0.0004), BLUE)
    ctx.close()


@pytest.mark.browser
def test_pmtiles_opened_from_the_phone(page, tmp_path, artifacts_dir):
    mb, _, _ = make_mbtiles(tmp_path / "a.mbtiles", color=ORANGE)
    pm = make_pmtiles(tmp_path / "county.pmtiles", mb)
    fm = FieldMap(title="本机影像", basemap="none")
    fm.add_parcels(parcels())
    _offline(page)
    page.goto(fm.save(tmp_path / "m.html").as_uri())
    page.wait_for_function("window.agrigis && window.agrigis.ready === true")
    with page.expect_file_chooser() as fc:
        page.locator(".ag-btn-imagery").click()
    fc.value.set_files(str(pm))
    page.wait_for_function("document.querySelectorAll('.ag-imagery img.leaflet-tile-loaded, .ag-imagery canvas').length > 0"
                           " && agrigis.maps[0].localImagery")
    page.wait_for_timeout(800)
    png = page.screenshot(path=str(artifacts_dir / "imagery_pmtiles_local.png"))
    assert page.js_errors == [] and page.external == []
    assert "county.pmtiles" in page.locator(".ag-panel").inner_text()
    assert _close(_pixel(page, png, 45.613, 123.807), ORANGE)
    # an MBTiles cannot be read in the page: the map says how to convert it
    with page.expect_file_chooser() as fc:
        page.locator(".ag-btn-imagery").click()
    fc.value.set_files(str(mb))
    assert "agrigis imagery pmtiles 影像.mbtiles" in page.locator(".ag-panel").inner_text()
