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


def test_geotiff_levels_read_by_threads_and_judged_before_reading(tmp_path, monkeypatch):
    import maps.imagery_tiles as it

    monkeypatch.setattr(it, "SAMPLE", 2)  # a level over 4 tiles is judged from 2 of them first
    src = open_tiles(make_geotiff(tmp_path / "img.tif"))
    assert src.threadsafe
    budgets = [TileBudget(), TileBudget(max_bytes=5_896), TileBudget(max_bytes=1_896 + 6_522 - 1)]
    threaded = [embed_tiles(src, AREA, b) for b in budgets]
    monkeypatch.setattr(type(src), "threadsafe", False)
    alone = [embed_tiles(src, AREA, b) for b in budgets]
    # the same tiles, in the same order, byte for byte, as read one by one in one thread
    assert [list(e.tiles.items()) for e in threaded] == [list(e.tiles.items()) for e in alone]
    # zoom 13 takes 1,896 bytes, zoom 14 6,522; the two budgets below stop at 13
    assert [(e.zoom_max, e.n_bytes) for e in threaded] == [(14, 1_896 + 6_522), (13, 1_896), (13, 1_896)]
    # with 4,000 bytes left, zoom 14 (6 tiles) is judged from 2 tiles and not read further
    # (read tile by tile it would take 4 reads to find out)
    reads: list[int] = []
    get = src.get
    monkeypatch.setattr(src, "get", lambda z, x, y: reads.append(z) or get(z, x, y))
    embed_tiles(src, AREA, budgets[1])
    assert reads.count(14) == 2
    src.close()


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
    assert out.stat().st_size < 1_000_000
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
    from rasterio.io import MemoryFile

    x, y = page.evaluate("([lat, lon]) => { const p = agrigis.maps[0].map.latLngToContainerPoint([lat, lon]);"
                         " return [Math.round(p.x), Math.round(p.y)]; }", [lat, lon])
    with MemoryFile(png) as mem, mem.open() as ds:
        a = ds.read()
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
    assert "pmtiles convert" in page.locator(".ag-panel").inner_text()
