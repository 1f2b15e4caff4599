"""``agrigis imagery pmtiles``: a raster MBTiles converted to the .pmtiles file the field
team keeps on the phone — every tile byte for byte (TMS rows flipped), the header's zoom
range, bounds and tile type right, a bad file refused with one line naming it, and the
converted file opened in Chromium through the file chooser with the network cut."""

from __future__ import annotations

import re
import sqlite3

import pytest
from click.testing import CliRunner
from test_field_imagery import (AREA, BLUE, GREEN, ORANGE, _close, _offline, _pixel, make_mbtiles, parcels,
                                solid)

from maps.base import FieldMap
from maps.imagery_pmtiles import mbtiles_to_pmtiles
from maps.imagery_tiles import TileBudget, embed_tiles, open_tiles, phone_file_hint, tile_range
from workflows.cli import main

BOUNDS = (123.75, 45.55, 123.9, 45.67)
SPLIT_LAT = 45.61


def unique_mbtiles(path, *, fmt: str | None = "jpg", zooms=range(12, 16), bounds: str | None = "123.75,45.55,123.9,45.67",
                   index: bool = False):
    """An MBTiles whose every tile has its own bytes (a JPEG with ``z/x/row`` after its end),
    so a tile put at the wrong place (an unflipped TMS row) is caught. Returns the path and
    ``{(z, x, tms_row): bytes}``."""
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE metadata (name TEXT, value TEXT);"
                      "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);")
    meta = [("name", "县级影像"), ("minzoom", str(min(zooms))), ("maxzoom", str(max(zooms)))]
    meta += [("format", fmt)] if fmt else []
    meta += [("bounds", bounds)] if bounds else []
    con.executemany("INSERT INTO metadata VALUES (?, ?)", meta)
    base, tiles = solid(BLUE), {}
    for z in zooms:
        x0, y0, x1, y1 = tile_range(BOUNDS, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                tiles[(z, x, 2 ** z - 1 - y)] = base + f"{z}/{x}/{2 ** z - 1 - y}".encode()
    con.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)", [(*k, v) for k, v in tiles.items()])
    if index:
        con.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
    con.commit()
    con.close()
    return path, tiles


def read_pmtiles(path):
    """Header and ``{(z, x, y): bytes}`` of a PMTiles file, with the format authors' reader."""
    from pmtiles.reader import MmapSource, Reader, all_tiles

    with open(path, "rb") as f:
        src = MmapSource(f)
        return Reader(src).header(), Reader(src).metadata(), dict(all_tiles(src))


def convert(args, lang="en"):
    return CliRunner().invoke(main, ["imagery", "pmtiles", *map(str, args), "--lang", lang])


# ---------------------------------------------------------------------- conversion
@pytest.mark.parametrize("index", [False, True], ids=["no-index", "index"])
def test_every_tile_byte_for_byte_with_the_row_flipped(tmp_path, index):
    from pmtiles.tile import Compression, TileType

    mb, tiles = unique_mbtiles(tmp_path / "洮南 county.mbtiles", index=index)
    res = convert([mb])
    out = tmp_path / "洮南 county.pmtiles"
    assert res.exit_code == 0, res.output
    header, meta, got = read_pmtiles(out)
    assert len(got) == len(tiles) == 327
    assert got == {(z, x, 2 ** z - 1 - row): data for (z, x, row), data in tiles.items()}
    assert (header["min_zoom"], header["max_zoom"]) == (12, 15)
    assert header["tile_type"] == TileType.JPEG and header["tile_compression"] == Compression.NONE
    assert (header["min_lon_e7"], header["min_lat_e7"], header["max_lon_e7"], header["max_lat_e7"]) == \
        (1237500000, 455500000, 1239000000, 456700000)
    assert header["clustered"] and header["addressed_tiles_count"] == 327
    assert meta["name"] == "县级影像" and meta["format"] == "jpeg"
    size = out.stat().st_size
    assert f"{out}: zoom 12–15, 327 tiles, {size / 1e6:.2f} MB" in res.output
    # our own reader gives the same tiles as the MBTiles, XYZ rows
    a, b = open_tiles(mb), open_tiles(out)
    x0, y0, x1, y1 = tile_range(BOUNDS, 15)
    assert all(a.get(15, x, y) == b.get(15, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1))
    assert b.fmt == "jpg" and b.get(15, x0, 0) is None
    a.close(), b.close()


def test_the_library_converter_leaves_jpg_unknown_ours_says_jpeg(tmp_path):
    """Why agrigis has its own loop: pmtiles' converter writes UNKNOWN for "jpg"."""
    from pmtiles.convert import mbtiles_to_pmtiles as library
    from pmtiles.tile import TileType

    mb, _ = unique_mbtiles(tmp_path / "a.mbtiles")
    library(str(mb), str(tmp_path / "lib.pmtiles"), maxzoom=None)
    assert read_pmtiles(tmp_path / "lib.pmtiles")[0]["tile_type"] == TileType.UNKNOWN
    assert read_pmtiles(mbtiles_to_pmtiles(mb).path)[0]["tile_type"] == TileType.JPEG


@pytest.mark.parametrize(("fmt", "data", "kind"), [("png", None, "PNG"), ("webp", None, "WEBP"), ("JPEG", None, "JPEG"),
                                                   (None, "png", "PNG"), (None, "jpeg", "JPEG")])
def test_tile_type_from_format_or_from_the_tiles(tmp_path, fmt, data, kind):
    from pmtiles.tile import TileType

    mb, _ = unique_mbtiles(tmp_path / "a.mbtiles", fmt=fmt, zooms=range(12, 13))
    if data == "png":  # no format in metadata: told from the first tile's bytes
        con = sqlite3.connect(mb)
        con.execute("UPDATE tiles SET tile_data = ?", (solid(GREEN, "PNG"),))
        con.commit(), con.close()
    done = mbtiles_to_pmtiles(mb, tmp_path / "b.pmtiles")
    assert read_pmtiles(done.path)[0]["tile_type"] == TileType[kind]
    assert (done.zoom_min, done.zoom_max, done.n_tiles) == (12, 12, 6)


def test_bounds_from_the_tiles_when_metadata_has_none_or_nonsense(tmp_path):
    from maps.imagery_tiles import tile_lonlat

    for bounds in (None, "a,b,c,d", "200,45,100,46"):
        mb, _ = unique_mbtiles(tmp_path / "a.mbtiles", bounds=bounds, zooms=range(13, 15))
        done = mbtiles_to_pmtiles(mb)
        x0, y0, x1, y1 = tile_range(BOUNDS, 14)
        (w, n), (e, s) = tile_lonlat(x0, y0, 14), tile_lonlat(x1 + 1, y1 + 1, 14)
        assert done.bounds == pytest.approx((w, s, e, n))
        h = read_pmtiles(done.path)[0]
        assert (h["min_lon_e7"], h["max_lat_e7"]) == (int(w * 1e7), int(n * 1e7))
        mb.unlink()


def test_an_mbutil_view_over_map_and_images(tmp_path):
    """MBTiles of mbutil / many tools: ``tiles`` is a view joining ``map`` and ``images``."""
    _, tiles = unique_mbtiles(tmp_path / "plain.mbtiles", zooms=range(14, 15))
    path = tmp_path / "view.mbtiles"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE metadata (name TEXT, value TEXT);"
                      "CREATE TABLE map (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_id TEXT);"
                      "CREATE UNIQUE INDEX map_index ON map (zoom_level, tile_column, tile_row);"
                      "CREATE TABLE images (tile_data BLOB, tile_id TEXT);"
                      "CREATE VIEW tiles AS SELECT map.zoom_level, map.tile_column, map.tile_row, images.tile_data "
                      "FROM map JOIN images ON images.tile_id = map.tile_id;"
                      "INSERT INTO metadata VALUES ('format', 'jpg');")
    for i, (k, v) in enumerate(tiles.items()):
        con.execute("INSERT INTO map VALUES (?, ?, ?, ?)", (*k, str(i)))
        con.execute("INSERT INTO images VALUES (?, ?)", (v, str(i)))
    con.commit(), con.close()
    done = mbtiles_to_pmtiles(path)
    assert read_pmtiles(done.path)[2] == {(z, x, 2 ** z - 1 - r): d for (z, x, r), d in tiles.items()}


# ---------------------------------------------------------------------- bad input
def _sqlite(path, script):
    con = sqlite3.connect(path)
    con.executescript(script)
    con.commit(), con.close()
    return path


TILES = "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);"
META = "CREATE TABLE metadata (name TEXT, value TEXT); INSERT INTO metadata VALUES ('format', 'jpg');"


def _bad_files(tmp_path):
    t = tmp_path
    (t / "text.mbtiles").write_text("not a database at all\n" * 50)
    (t / "short.mbtiles").write_bytes(b"SQLite format 3\0" + b"\x07" * 80)
    return [
        ("nothing.mbtiles", "MBTiles file .*nothing.mbtiles not found"),
        ("text.mbtiles", "text.mbtiles is not an MBTiles file \\(not an SQLite database\\)"),
        ("short.mbtiles", "short.mbtiles is damaged and cannot be read \\(file is not a database\\)"),
        (_sqlite(t / "notiles.mbtiles", META).name, "notiles.mbtiles has no tiles table or view"),
        (_sqlite(t / "nometa.mbtiles", TILES).name, "nometa.mbtiles has no metadata table"),
        (_sqlite(t / "empty.mbtiles", TILES + META).name, "empty.mbtiles holds no tiles"),
        (_sqlite(t / "vector.mbtiles", TILES + "CREATE TABLE metadata (name TEXT, value TEXT);"
                 "INSERT INTO metadata VALUES ('format', 'pbf'); INSERT INTO tiles VALUES (1, 0, 0, x'1a02');").name,
         "vector.mbtiles does not hold raster imagery tiles \\(format pbf\\)"),
        (_sqlite(t / "where.mbtiles", TILES + META + "INSERT INTO tiles VALUES (3, 9, 0, x'ffd8ff');").name,
         "where.mbtiles has a tile with an invalid position \\(zoom_level 3, tile_column 9, tile_row 0\\)"),
        (_sqlite(t / "textz.mbtiles", TILES + META + "INSERT INTO tiles VALUES ('z', 0, 0, x'ffd8ff');").name,
         "textz.mbtiles has a tile with an invalid position \\(zoom_level z"),
        (_sqlite(t / "null.mbtiles", TILES + META + "INSERT INTO tiles VALUES (1, 0, 0, NULL);").name,
         "null.mbtiles: the tile at zoom_level 1, tile_column 0, tile_row 0 has unusable data \\(0 bytes"),
        (_sqlite(t / "twice.mbtiles", TILES + META + "INSERT INTO tiles VALUES (1, 0, 0, x'ffd8ff');"
                 "INSERT INTO tiles VALUES (1, 0, 0, x'ffd8fe');").name,
         "twice.mbtiles holds more than one tile at the same place \\(zoom_level 1, tile_column 0, tile_row 0\\)"),
    ]


def test_bad_mbtiles_are_one_line_naming_the_file(tmp_path):
    for name, pattern in _bad_files(tmp_path):
        res = convert([tmp_path / name])
        assert res.exit_code == 1, (name, res.output)
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in res.output, res.output
        assert re.search(pattern, lines[0]), (name, lines[0])
        assert not (tmp_path / name).with_suffix(".pmtiles").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_bad_output_and_chinese_messages(tmp_path):
    mb, _ = unique_mbtiles(tmp_path / "a.mbtiles", zooms=range(12, 13))
    res = convert([mb, "-o", tmp_path / "a.mbtiles"])
    assert res.exit_code == 1 and "must end in .pmtiles and must not be the input" in res.output
    assert convert([mb, "-o", tmp_path / "x.zip"]).exit_code == 1
    res = convert([tmp_path / "nothing.mbtiles"], lang="zh")
    assert "找不到 MBTiles 文件" in res.output and "nothing.mbtiles" in res.output
    res = convert([mb, "-o", tmp_path / "sub" / "手机.pmtiles"], lang="zh")
    assert res.exit_code == 0 and "缩放级别 12–12,6 张瓦片" in res.output
    assert (tmp_path / "sub" / "手机.pmtiles").stat().st_size > 0


def test_a_file_that_did_not_fit_says_how_to_make_the_phone_file(tmp_path):
    path, _, _ = make_mbtiles(tmp_path / "县 影像.mbtiles")
    src = open_tiles(path)
    small, full = embed_tiles(src, AREA, TileBudget(max_bytes=50_000)), embed_tiles(src, AREA)
    src.close()
    assert small.cut and not full.cut
    hint = phone_file_hint(path, small, "en")
    assert f'run agrigis imagery pmtiles "{path}", copy the .pmtiles file to the phone' in hint
    assert "agrigis imagery pmtiles" in phone_file_hint(path, None, "zh")  # nothing fitted
    assert phone_file_hint(path, full) is None
    assert phone_file_hint(tmp_path / "a.pmtiles", small) is None


# ------------------------------------------------------------------------- browser
def two_colour_mbtiles(path):
    """JPEG tiles, zoom 12–16: GREEN north of SPLIT_LAT, ORANGE south of it."""
    from maps.imagery_tiles import tile_lonlat

    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE metadata (name TEXT, value TEXT);" + TILES +
                      "INSERT INTO metadata VALUES ('format', 'jpg');")
    north, south = solid(GREEN), solid(ORANGE)
    for z in range(12, 17):
        x0, y0, x1, y1 = tile_range(BOUNDS, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                mid = (tile_lonlat(x, y, z)[1] + tile_lonlat(x, y + 1, z)[1]) / 2
                con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                            (z, x, 2 ** z - 1 - y, north if mid > SPLIT_LAT else south))
    con.commit(), con.close()
    return path


@pytest.mark.browser
def test_converted_file_opens_from_the_phone_offline(browser, tmp_path, artifacts_dir):
    mb = two_colour_mbtiles(tmp_path / "county.mbtiles")
    assert convert([mb, "-o", tmp_path / "phone" / "county.pmtiles"]).exit_code == 0
    fm = FieldMap(title="本机影像", basemap="none")
    fm.add_parcels(parcels())
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _offline(page)
    page.goto(fm.save(tmp_path / "m.html").as_uri())
    page.wait_for_function("window.agrigis && window.agrigis.ready === true")
    with page.expect_file_chooser() as fc:
        page.locator(".ag-btn-imagery").click()
    fc.value.set_files(str(tmp_path / "phone" / "county.pmtiles"))
    page.wait_for_function("agrigis.maps[0].localImagery")
    page.evaluate("agrigis.maps[0].map.setView([45.61, 123.815], 15, {animate: false})")
    page.wait_for_function("document.querySelectorAll('.ag-imagery img.leaflet-tile-loaded, .ag-imagery canvas')"
                           ".length > 0")
    page.wait_for_timeout(800)
    png = page.screenshot(path=str(artifacts_dir / "imagery_pmtiles_converted_phone.png"))
    assert errors == [] and page.external == []
    assert "county.pmtiles" in page.locator(".ag-panel").inner_text()
    assert _close(_pixel(page, png, 45.6155, 123.815), GREEN)  # north of the split: rows not flipped wrong
    assert _close(_pixel(page, png, 45.6045, 123.815), ORANGE)
    ctx.close()
