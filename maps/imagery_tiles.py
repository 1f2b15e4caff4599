"""Offline imagery for field maps: raster tiles around the parcels, embedded in the HTML.

A field map opened without network shows nothing under the parcels, because basemap
tiles are the only thing it still fetches. This module takes imagery the bureau already
has and puts the tiles *around the parcels shown* into the map itself:

* **MBTiles** (SQLite, raster tiles, TMS rows), as QGIS's "Generate XYZ tiles
  (MBTiles)" and many Chinese tools export;
* **PMTiles** v3 archives (read with the ``pmtiles`` package of the format's authors);
* **GeoTIFF** or any raster GDAL reads (a true-colour composite, an orthophoto): tiled
  here into Web Mercator XYZ tiles (JPEG where the tile is fully covered, PNG with
  transparency at the edges of the image).

:func:`embed_tiles` walks the zoom levels upward and keeps every level whose tiles still
fit the byte budget, so a 1万亩 project gets zoom 17 and a county stops earlier; the zoom
reached and the size are in the returned :class:`EmbeddedTiles`. Tiles are in Web
Mercator over WGS84/CGCS2000 (the two agree to centimetres): no GCJ-02 shift.

Examples
--------
>>> tile_range((123.80, 45.60, 123.82, 45.61), 15)
(27652, 11708, 27654, 11709)
"""

from __future__ import annotations

import base64
import contextlib
import logging
import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

from gis.errors import AgrigisError, DataFileError, InputError

log = logging.getLogger(__name__)

MAX_LAT = 85.0511287798
TILE = 256
MAX_TILE_BYTES = 4_000_000
"""A single tile larger than this is refused (a raster tile is 5–100 KB)."""

_MIME = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@dataclass(frozen=True)
class TileBudget:
    """How much imagery a map may carry.

    Parameters
    ----------
    max_bytes : int
        Bytes the embedded tiles may take in the HTML (base64 text, as written).
    max_zoom : int
        Never go deeper than this zoom (18 ≈ 0.4 m per pixel here).
    margin : float
        Share of the parcels' extent added on every side (context around the parcels).
    """

    max_bytes: int = 40_000_000
    max_zoom: int = 18
    margin: float = 0.1


@dataclass
class EmbeddedTiles:
    """Tiles chosen for a map: ``tiles`` maps ``"z/x/y"`` to base64 image data."""

    fmt: str
    tiles: dict[str, str] = field(default_factory=dict)
    zoom_min: int | None = None
    zoom_max: int | None = None
    n_bytes: int = 0
    source: str = ""
    cut: bool = False
    """True when a zoom level of the file was left out to stay within the budget."""

    def spec(self, name: str, attribution: str | None = None) -> dict:
        """The basemap entry of the map configuration (see ``agrigis.js``)."""
        # the image type of each tile is told in the browser by its first bytes (JPEG, PNG, WebP)
        w, s, e, n = self.bounds()
        return {"name": name, "tiles": [], "show": True, "embedded": {
            "tiles": self.tiles, "minNativeZoom": self.zoom_min, "maxNativeZoom": self.zoom_max,
            "bounds": [[s, w], [n, e]], "attribution": attribution or ""}}

    def bounds(self) -> tuple[float, float, float, float]:
        """Lon/lat ``(west, south, east, north)`` of the tiles of the first zoom level."""
        xy = [tuple(map(int, k.split("/")[1:])) for k in self.tiles if k.startswith(f"{self.zoom_min}/")]
        if not xy:
            return (0.0, 0.0, 0.0, 0.0)
        xs, ys = [p[0] for p in xy], [p[1] for p in xy]
        w, n = tile_lonlat(min(xs), min(ys), self.zoom_min)
        e, s = tile_lonlat(max(xs) + 1, max(ys) + 1, self.zoom_min)
        return w, s, e, n


class TileSource(Protocol):
    """Anything that hands out ``z/x/y`` raster tiles (XYZ rows, y down)."""

    fmt: str
    minzoom: int
    maxzoom: int
    name: str

    def get(self, z: int, x: int, y: int) -> bytes | None: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------- tile arithmetic
def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a lon/lat point at zoom ``z``.

    >>> lonlat_to_tile(0.0, 0.0, 1)
    (1, 1)
    """
    lat = max(min(lat, MAX_LAT), -MAX_LAT)
    n = 2 ** z
    x = (lon + 180.0) / 360.0 * n
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n
    return min(max(int(x), 0), n - 1), min(max(int(y), 0), n - 1)


def tile_lonlat(x: float, y: float, z: int) -> tuple[float, float]:
    """Lon/lat of the north-west corner of tile ``x, y`` at zoom ``z``.

    >>> tile_lonlat(1, 1, 1)
    (0.0, 0.0)
    """
    n = 2 ** z
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    return x / n * 360.0 - 180.0, lat


def tile_range(bounds, z: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` inclusive tile range covering lon/lat ``bounds`` at zoom ``z``."""
    w, s, e, n = map(float, bounds)
    x0, y0 = lonlat_to_tile(w, n, z)
    x1, y1 = lonlat_to_tile(e, s, z)
    return x0, y0, x1, y1


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web Mercator bounds ``(left, bottom, right, top)`` of a tile."""
    half = 20037508.342789244
    size = 2 * half / 2 ** z
    return -half + x * size, half - (y + 1) * size, -half + (x + 1) * size, half - y * size


def _with_margin(bounds, margin: float) -> tuple[float, float, float, float]:
    w, s, e, n = map(float, bounds)
    dx, dy = max((e - w) * margin, 1e-3), max((n - s) * margin, 1e-3)
    return w - dx, s - dy, e + dx, n + dy


def _b64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)


# ----------------------------------------------------------------------- sources
class MBTilesSource:
    """Raster tiles from an MBTiles file (read-only; rows are TMS, flipped here)."""

    def __init__(self, path: Path):
        self.name = path.name
        try:
            self._con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            meta = dict(self._con.execute("SELECT name, value FROM metadata").fetchall())
            zooms = self._con.execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
        except sqlite3.Error as exc:
            raise DataFileError.of("error.basemap_file_corrupt", path=path, detail=exc) from exc
        self.fmt = _check_format(path, str(meta.get("format", "png")).lower())
        if zooms[0] is None:
            raise DataFileError.of("error.basemap_file_empty", path=path)
        self.minzoom, self.maxzoom = int(zooms[0]), int(zooms[1])

    def get(self, z: int, x: int, y: int) -> bytes | None:
        row = self._con.execute("SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                                (z, x, 2 ** z - 1 - y)).fetchone()
        return bytes(row[0]) if row and row[0] else None

    def level(self, z: int, x0: int, y0: int, x1: int, y1: int) -> Iterator[tuple[int, int, bytes]]:
        """Every tile of zoom ``z`` in the XYZ range (one query; works without an index too)."""
        n = 2 ** z
        cur = self._con.execute("SELECT tile_column, tile_row, tile_data FROM tiles WHERE zoom_level = ? AND "
                                "tile_column BETWEEN ? AND ? AND tile_row BETWEEN ? AND ?",
                                (z, x0, x1, n - 1 - y1, n - 1 - y0))
        for x, row, data in cur:
            yield int(x), n - 1 - int(row), bytes(data) if data else b""

    def close(self) -> None:
        self._con.close()


class PMTilesSource:
    """Raster tiles from a PMTiles v3 archive (directories cached while reading)."""

    def __init__(self, path: Path):
        from pmtiles.tile import Compression, TileType, deserialize_directory, deserialize_header

        self.name = path.name
        self._f = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._dirs: dict[tuple[int, int], list] = {}
        self._deser = deserialize_directory
        try:
            h = deserialize_header(self._read(0, 127))
        except Exception as exc:  # noqa: BLE001 - the library raises several kinds for a bad header
            self._f.close()
            raise DataFileError.of("error.basemap_file_corrupt", path=path, detail=exc) from exc
        self._h = h
        # UNKNOWN is what pmtiles' own Python converter (3.8) writes for an MBTiles saying
        # "jpg" (only "jpeg" is mapped); `agrigis imagery pmtiles` writes JPEG. The browser
        # tells the image type by the bytes, so UNKNOWN tiles are taken as images too.
        kinds = {TileType.JPEG: "jpg", TileType.PNG: "png", TileType.WEBP: "webp", TileType.UNKNOWN: "jpg"}
        if h["tile_type"] not in kinds:
            self._f.close()
            raise InputError.of("error.basemap_not_raster", path=path, format=str(h["tile_type"]))
        self.fmt = kinds[h["tile_type"]]
        self._gzip = h["tile_compression"] == Compression.GZIP
        self.minzoom, self.maxzoom = int(h["min_zoom"]), int(h["max_zoom"])

    def _read(self, offset: int, length: int) -> bytes:
        self._f.seek(offset)
        return self._f.read(length)

    def _dir(self, offset: int, length: int) -> list:
        key = (offset, length)
        if key not in self._dirs:
            self._dirs[key] = self._deser(self._read(offset, length))
        return self._dirs[key]

    def get(self, z: int, x: int, y: int) -> bytes | None:
        from pmtiles.tile import find_tile, zxy_to_tileid

        tid, h = zxy_to_tileid(z, x, y), self._h
        off, length = h["root_offset"], h["root_length"]
        for _ in range(4):
            entry = find_tile(self._dir(off, length), tid)
            if entry is None:
                return None
            if entry.run_length == 0:
                off, length = h["leaf_directory_offset"] + entry.offset, entry.length
                continue
            if entry.length > MAX_TILE_BYTES:
                return None
            data = self._read(h["tile_data_offset"] + entry.offset, entry.length)
            if self._gzip:
                import gzip

                data = gzip.decompress(data)
            return data
        return None

    def close(self) -> None:
        self._f.close()


def _check_format(path: Path, fmt: str) -> str:
    if fmt not in _MIME:
        raise InputError.of("error.basemap_not_raster", path=path, format=fmt)
    return "jpg" if fmt == "jpeg" else fmt


def open_tiles(path) -> TileSource:
    """A tile source for ``path``: ``.mbtiles``, ``.pmtiles`` or a raster (GeoTIFF …).

    Raises
    ------
    DataFileError
        Missing, unreadable or corrupt file (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError.of("error.basemap_file_missing", path=path)
    suffix = path.suffix.lower()
    if suffix == ".mbtiles":
        return MBTilesSource(path)
    if suffix == ".pmtiles":
        return PMTilesSource(path)
    from .imagery_raster import RasterTileSource

    return RasterTileSource(path)


# ---------------------------------------------------------------------- faults
def _reader_faults() -> tuple[type[BaseException], ...]:
    """Every kind of exception a reader of a damaged imagery file raises: SQLite (corrupt
    pages, ``zoom_level`` text), gzip/zlib (tiles that are not gzip), EOFError/struct
    (a truncated PMTiles), TypeError/ValueError (a TEXT ``tile_data``), OSError/rasterio
    (a GeoTIFF that cannot be decoded)."""
    import struct
    import zlib

    faults: tuple = (sqlite3.Error, OSError, EOFError, ValueError, TypeError, KeyError, IndexError,
                     OverflowError, struct.error, zlib.error)
    try:
        from rasterio._err import CPLE_BaseError
        from rasterio.errors import RasterioError
    except ImportError:  # pragma: no cover - rasterio is only needed for GeoTIFF imagery
        return faults
    return faults + (RasterioError, CPLE_BaseError)


@contextlib.contextmanager
def imagery_faults(path) -> Iterator[None]:
    """The one mapping of imagery reader faults: any of :func:`_reader_faults` while
    reading ``path`` becomes ``error.basemap_file_corrupt`` naming the file (our own
    errors pass unchanged). The previous map is never touched: nothing is written yet."""
    try:
        yield
    except AgrigisError:
        raise
    except _reader_faults() as exc:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DataFileError.of("error.basemap_file_corrupt", path=Path(path), detail=detail) from exc


def embed_file(path, bounds, budget: TileBudget = TileBudget()) -> EmbeddedTiles | None:
    """:func:`embed_tiles` of the imagery file ``path`` around ``bounds`` (None without
    bounds), every reader fault of the file one :class:`DataFileError` naming it.

    Raises
    ------
    DataFileError
        Missing, damaged or cut-short file.
    """
    with imagery_faults(path):
        source = open_tiles(path)
        try:
            return embed_tiles(source, bounds, budget) if bounds else None
        finally:
            source.close()


def phone_file_hint(path, tiles: EmbeddedTiles | None, lang: str = "zh") -> str | None:
    """How to make the phone file when an MBTiles ``path`` did not fit the map whole.

    None unless ``path`` is an ``.mbtiles`` whose tiles around the parcels were cut by
    the budget (or none fit): then the ``agrigis imagery pmtiles`` line to run.

    Examples
    --------
    >>> phone_file_hint("county.mbtiles", None, "en").split(";")[1].strip()[:40]
    'for the whole county on the phone, run a'
    >>> phone_file_hint("county.pmtiles", None) is None
    True
    """
    from gis.labels import message

    path = Path(path)
    if path.suffix.lower() != ".mbtiles" or (tiles is not None and tiles.tiles and not tiles.cut):
        return None
    shown = f'"{path}"' if " " in str(path) else str(path)
    return message("note.basemap_phone_file", lang, source=shown)


# ---------------------------------------------------------------------- choosing
SAMPLE = 32
"""Tiles read first, spread over a level of a source that cuts its tiles on demand (a
GeoTIFF) or has no whole-level read (PMTiles), to judge whether the level can fit at all."""
SKIP_FACTOR = 1.5
"""A level is left unread when its estimate is over this many times the room left (a
sample of 32 tiles judges a level to about 10 %)."""


def _usable(data: bytes | None) -> bool:
    return bool(data) and len(data) <= MAX_TILE_BYTES


def _entry_size(key: str, data: bytes) -> int:
    """Bytes a tile takes in the map (its key, base64 data and JSON punctuation)."""
    return len(key) + _b64_len(len(data)) + 6


def _fetch(source: TileSource, z: int, coords: list, room: int) -> list[bytes | None] | None:
    """``source.get`` of every ``(x, y)``, in order; None as soon as the tiles read take
    more than ``room`` bytes."""
    got, taken = [], 0
    for x, y in coords:
        got.append(data := source.get(z, x, y))
        if _usable(data):
            taken += _entry_size(f"{z}/{x}/{y}", data)
            if taken > room:
                return None
    return got


def _estimate(source: TileSource, z: int, coords: list) -> tuple[float, dict]:
    """Bytes a level would take, judged from :data:`SAMPLE` of its tiles (empty ones
    counted as empty), and the tiles read for it."""
    step = max(1, len(coords) // SAMPLE)
    sample = coords[step // 2::step]
    got = dict(zip(sample, _fetch(source, z, sample, 2 ** 62), strict=True))
    size = sum(_entry_size(f"{z}/{x}/{y}", d) for (x, y), d in got.items() if _usable(d))
    return size / len(sample) * len(coords), got


def _level_tiles(source: TileSource, area, z: int, room: int, per_tile: float | None = None
                 ) -> Iterator[tuple[str, bytes | None]] | None:
    """The tiles of a level: by the source's whole-level read when it has one (MBTiles
    query, GeoTIFF strips), else one by one. A source that cuts tiles on demand or reads
    them one by one is first judged from a sample (unless ``per_tile``, the bytes a tile
    of the level above took, already says the level fits with room to spare): None when
    the level cannot fit in ``room`` bytes (or, read one by one, once the tiles read do
    not)."""
    x0, y0, x1, y1 = tile_range(area, z)
    coords = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    got: dict = {}
    judge = getattr(source, "cut_on_demand", False) or not hasattr(source, "level")
    if per_tile is not None and per_tile * len(coords) * SKIP_FACTOR <= room:
        judge = False
    if judge and len(coords) > 2 * SAMPLE:
        estimate, got = _estimate(source, z, coords)
        if estimate > SKIP_FACTOR * room:
            log.info("imagery: zoom %d would take about %.1f MB, %.1f MB left: not read", z, estimate / 1e6,
                     room / 1e6)
            return None
    if hasattr(source, "level"):  # the sample is cut again with its neighbours
        return ((f"{z}/{x}/{y}", d) for x, y, d in source.level(z, x0, y0, x1, y1))
    todo = [c for c in coords if c not in got]
    taken = sum(_entry_size(f"{z}/{x}/{y}", d) for (x, y), d in got.items() if _usable(d))
    rest = _fetch(source, z, todo, room - taken)
    if rest is None:
        return None
    got.update(zip(todo, rest, strict=True))
    return ((f"{z}/{x}/{y}", got[(x, y)]) for x, y in coords)


def _read_level(source: TileSource, area, z: int, room: int, per_tile: float | None = None
                ) -> tuple[dict[str, str], int] | None:
    """The usable tiles of zoom ``z`` as base64 and the bytes they take; None as soon as
    they go over ``room`` (reading stops there). ``per_tile``: see :func:`_level_tiles`."""
    tiles = _level_tiles(source, area, z, room, per_tile)
    if tiles is None:
        return None
    level, size = {}, 0
    try:
        for key, data in tiles:
            if _usable(data):
                level[key] = base64.b64encode(data).decode("ascii")
                size += len(key) + len(level[key]) + 6
                if size > room:
                    return None
    finally:
        if hasattr(tiles, "close"):
            tiles.close()
    return level, size


def _start_zoom(source: TileSource, bounds) -> int:
    """The deepest zoom at which the area still fits in 2 × 2 tiles (not below the source's)."""
    z = source.minzoom
    while z < source.maxzoom:
        x0, y0, x1, y1 = tile_range(bounds, z + 1)
        if (x1 - x0 + 1) * (y1 - y0 + 1) > 4:
            break
        z += 1
    return z


def embed_tiles(source: TileSource, bounds, budget: TileBudget = TileBudget()) -> EmbeddedTiles:
    """The tiles of ``source`` around lon/lat ``bounds``, whole zoom levels within the budget.

    Levels are added from the zoom where the area fits in 2 × 2 tiles upward; the first
    level that would go over ``budget.max_bytes`` is left out, and so are all deeper ones.
    A level cut on demand (a GeoTIFF) is first judged from :data:`SAMPLE` of its tiles and
    left unread when it is clearly too big (no sample when the level above, at its bytes
    per tile, says it clearly fits), then warped strip by strip
    (:meth:`maps.imagery_raster.RasterTileSource.level`). Returns an
    :class:`EmbeddedTiles` (empty when not even the first level fits, or the source has
    no tiles there).
    """
    area = _with_margin(bounds, budget.margin)
    out = EmbeddedTiles(fmt=source.fmt, source=source.name)
    per_tile = None  # bytes per tile of the level above, over its whole range
    for z in range(_start_zoom(source, area), min(source.maxzoom, budget.max_zoom) + 1):
        got = _read_level(source, area, z, budget.max_bytes - out.n_bytes, per_tile)
        if got is None:
            log.info("imagery: zoom %d does not fit the budget; stopping at zoom %s", z, out.zoom_max)
            out.cut = True
            break
        level, size = got
        x0, y0, x1, y1 = tile_range(area, z)
        per_tile = size / ((x1 - x0 + 1) * (y1 - y0 + 1))
        if level:
            out.tiles.update(level)
            out.n_bytes += size
            out.zoom_min = z if out.zoom_min is None else out.zoom_min
            out.zoom_max = z
    return out
