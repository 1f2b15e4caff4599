"""MBTiles → PMTiles for the phone: ``agrigis imagery pmtiles COUNTY.mbtiles``.

A browser reads a ``.pmtiles`` file the field team keeps on the phone by range reads
(``openLocalImagery`` in ``agrigis.js``); an MBTiles file would need an SQLite engine
holding the whole 0.3–1.5 GB county file in the phone's memory. This module converts
one into the other on the bureau's computer, with the writer of the ``pmtiles``
package (the format authors' Python library).

Not ``pmtiles.convert.mbtiles_to_pmtiles`` itself, because for the files the bureau
gets it (measured, pmtiles 3.8.1): writes tile type UNKNOWN for ``format=jpg`` (what
QGIS and many Chinese tools write; only ``jpeg`` is mapped), fails with a bare
``KeyError`` when ``minzoom``/``maxzoom``/``format`` are missing from ``metadata``,
and looks each tile up by one query, a full scan per tile on a file without an index.
Here the MBTiles is treated as hostile input: every fault is one error naming the file
(keys in ``gis/labels/imagery_pmtiles.yml``), the tile type is taken from ``format``
(or the first tile's bytes when it is missing), the zoom range from the tiles
themselves, and the file is written atomically (:func:`gis.outputs.atomic_write`).

Examples
--------
>>> _kind(b"\\xff\\xd8\\xff\\xe0", "jpg"), _kind(b"\\x89PNG\\r\\n\\x1a\\n", None)
('jpeg', 'png')
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from gis.errors import DataFileError, InputError

from .imagery_tiles import MAX_LAT, MAX_TILE_BYTES, tile_lonlat

MAGIC = {"jpeg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",), "webp": (b"RIFF",)}
FORMATS = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "webp": "webp"}
MAX_ZOOM = 24


@dataclass(frozen=True)
class Converted:
    """What :func:`mbtiles_to_pmtiles` wrote: zoom range, tiles, bytes, tile type, bounds."""

    path: Path
    zoom_min: int
    zoom_max: int
    n_tiles: int
    n_bytes: int
    fmt: str
    bounds: tuple[float, float, float, float]


def _kind(data: bytes, declared: str | None) -> str | None:
    """``jpeg``/``png``/``webp`` from ``metadata.format``, else from the tile's first bytes."""
    if declared:
        return FORMATS.get(declared.strip().lower())
    for kind, heads in MAGIC.items():
        if data.startswith(heads) and (kind != "webp" or data[8:12] == b"WEBP"):
            return kind
    return None


def _open(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise DataFileError.of("error.pmtiles_input_missing", path=path)
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\0":
            raise DataFileError.of("error.pmtiles_not_sqlite", path=path)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    except sqlite3.Error as exc:  # an SQLite header but damaged or cut short
        con.close()
        raise DataFileError.of("error.pmtiles_corrupt", path=path, detail=" ".join(str(exc).split())[:200]) from exc
    if "tiles" not in names or "metadata" not in names:
        con.close()
        if "tiles" not in names:
            raise DataFileError.of("error.pmtiles_no_tiles", path=path)
        raise DataFileError.of("error.pmtiles_no_metadata", path=path)
    return con


def _metadata(con: sqlite3.Connection) -> dict[str, str]:
    return {str(k): str(v) for k, v in con.execute("SELECT name, value FROM metadata") if k is not None}


def _tile_ids(con: sqlite3.Connection, path: Path) -> list[tuple[int, int, int, int]]:
    """``(tile id, z, x, tms row)`` of every tile, in tile-id (Hilbert) order; bad rows refused."""
    from pmtiles.tile import zxy_to_tileid

    out = []
    for z, x, row in con.execute("SELECT zoom_level, tile_column, tile_row FROM tiles"):
        ok = all(isinstance(v, int) for v in (z, x, row)) and 0 <= z <= MAX_ZOOM
        if not ok or not (0 <= x < 2 ** z and 0 <= row < 2 ** z):
            raise InputError.of("error.pmtiles_bad_tile", path=path, z=z, x=x, row=row)
        out.append((zxy_to_tileid(z, x, 2 ** z - 1 - row), z, x, row))
    out.sort()
    for a, b in zip(out, out[1:], strict=False):
        if a[0] == b[0]:
            raise InputError.of("error.pmtiles_duplicate", path=path, z=a[1], x=a[2], row=a[3])
    return out


def _indexed(con: sqlite3.Connection) -> bool:
    """Whether one tile is found through an index (else every lookup scans the file)."""
    plan = con.execute("EXPLAIN QUERY PLAN SELECT tile_data FROM tiles WHERE zoom_level = 1 AND "
                       "tile_column = 1 AND tile_row = 1").fetchall()
    return any("INDEX" in str(r[-1]).upper() or "PRIMARY KEY" in str(r[-1]).upper() for r in plan)


def _tiles(con: sqlite3.Connection, ids: list, path: Path) -> Iterator[tuple[int, bytes]]:
    """``(tile id, bytes)`` in tile-id order: looked up one by one through the index, or,
    without one, read in one pass into a temporary file and handed out in order."""
    q = "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?"
    if _indexed(con):
        for tid, z, x, row in ids:
            got = con.execute(q, (z, x, row)).fetchone()
            yield tid, _check_data(got[0] if got else None, path, (z, x, row))
        return
    order = {(z, x, row): tid for tid, z, x, row in ids}
    with tempfile.TemporaryFile() as tmp:
        refs = []
        for z, x, row, raw in con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
            data = _check_data(raw, path, (z, x, row))
            refs.append((order[(z, x, row)], tmp.tell(), len(data)))
            tmp.write(data)
        for tid, offset, n in sorted(refs):
            tmp.seek(offset)
            yield tid, tmp.read(n)


def _check_data(data, path: Path, zxr: tuple) -> bytes:
    if not isinstance(data, bytes | memoryview) or not 0 < len(data) <= MAX_TILE_BYTES:
        size = len(data) if isinstance(data, bytes | str) else 0
        raise InputError.of("error.pmtiles_bad_data", path=path, z=zxr[0], x=zxr[1], row=zxr[2], size=size)
    return bytes(data)


def _bounds(meta: dict[str, str], ids: list) -> tuple[float, float, float, float]:
    """``metadata.bounds`` when it is four sane numbers, else the extent of the tiles."""
    with contextlib.suppress(ValueError):
        w, s, e, n = (float(v) for v in meta.get("bounds", "").split(","))
        if -180 <= w < e <= 180 and -MAX_LAT <= s < n <= MAX_LAT:
            return w, s, e, n
    z = max(i[1] for i in ids)
    xy = [(x, 2 ** z - 1 - row) for _, zz, x, row in ids if zz == z]
    w, n = tile_lonlat(min(p[0] for p in xy), min(p[1] for p in xy), z)
    e, s = tile_lonlat(max(p[0] for p in xy) + 1, max(p[1] for p in xy) + 1, z)
    return w, s, e, n


def _header(kind: str, zooms: tuple[int, int], bounds: tuple, meta: dict[str, str]) -> tuple[dict, dict]:
    from pmtiles.convert import mbtiles_to_header_json
    from pmtiles.tile import Compression

    w, s, e, n = bounds
    clean = {"format": kind, "minzoom": str(zooms[0]), "maxzoom": str(zooms[1]), "bounds": f"{w},{s},{e},{n}",
             "center": f"{(w + e) / 2},{(s + n) / 2},{zooms[0]}"}
    header, _ = mbtiles_to_header_json(clean)
    header["tile_compression"] = Compression.NONE  # raster tiles are stored as they are
    kept = {k: meta[k][:2000] for k in ("name", "description", "attribution", "version") if k in meta}
    return header, {**kept, **{k: clean[k] for k in ("format", "minzoom", "maxzoom", "bounds")}}


def mbtiles_to_pmtiles(source, output=None) -> Converted:
    """Write the raster MBTiles ``source`` as a PMTiles v3 archive (default: beside it).

    Every tile is copied byte for byte, the TMS row flipped to the XYZ row of PMTiles;
    the header carries the tile type (JPEG/PNG/WebP), zoom range and bounds.

    Examples
    --------
    >>> mbtiles_to_pmtiles("county.mbtiles")  # doctest: +SKIP
    Converted(path=PosixPath('county.pmtiles'), zoom_min=12, zoom_max=16, n_tiles=91234, ...)

    Raises
    ------
    DataFileError
        Missing file, not SQLite, no ``tiles`` or ``metadata`` table, no tiles.
    InputError
        Not raster tiles (a vector ``pbf`` file), a tile with a bad position or data.
    """
    from gis.outputs import atomic_write

    source = Path(source)
    output = Path(output) if output is not None else source.with_suffix(".pmtiles")
    if output.suffix.lower() != ".pmtiles" or output.resolve() == source.resolve():
        raise InputError.of("error.pmtiles_output", path=output)
    con = _open(source)
    try:
        with _sqlite_faults(source):
            return _convert(con, source, output, atomic_write)
    finally:
        con.close()


@contextlib.contextmanager
def _sqlite_faults(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise DataFileError.of("error.pmtiles_corrupt", path=path, detail=" ".join(str(exc).split())[:200]) from exc


def _convert(con: sqlite3.Connection, source: Path, output: Path, atomic_write) -> Converted:
    from pmtiles.writer import write

    meta, ids = _metadata(con), _tile_ids(con, source)
    if not ids:
        raise DataFileError.of("error.pmtiles_empty", path=source)
    z, x, row, raw = con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles LIMIT 1").fetchone()
    first = _check_data(raw, source, (z, x, row))
    declared = meta.get("format")
    kind = _kind(first, declared)
    if kind is None:
        raise InputError.of("error.pmtiles_not_raster", path=source, format=declared or first[:4].hex())
    zooms = (min(i[1] for i in ids), max(i[1] for i in ids))
    bounds = _bounds(meta, ids)
    header, metadata = _header(kind, zooms, bounds, meta)
    n_bytes = 0

    def _write(tmp: Path) -> None:
        nonlocal n_bytes
        with write(str(tmp)) as writer:
            for tid, data in _tiles(con, ids, source):
                writer.write_tile(tid, data)
            writer.finalize(header, metadata)
        n_bytes = tmp.stat().st_size

    atomic_write(output, _write)
    return Converted(output, zooms[0], zooms[1], len(ids), n_bytes, kind, bounds)
