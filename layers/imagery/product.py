"""One satellite product, whatever its packaging: the common :class:`Product` record,
:func:`open_product` (Sentinel-2 L2A or Landsat C2 L2, folder or archive) and the batch
:func:`scan` that skips unusable products with their reason.

Archives are never extracted: members are listed with :mod:`zipfile` / :mod:`tarfile`
(which also finds a truncated download) and rasters are read through GDAL's
``/vsizip/`` and ``/vsitar/`` paths. Metadata XML is parsed with :mod:`defusedxml`
(no DTDs, no entities), so a crafted file cannot read local files or blow up memory.

Examples
--------
>>> from layers.imagery import open_product      # doctest: +SKIP
>>> p = open_product("S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454.SAFE")  # doctest: +SKIP
>>> p.sensor, p.tile, p.baseline, p.bands["R"].boa_add_offset  # doctest: +SKIP
('Sentinel-2A', '29UNU', '04.00', -1000.0)
"""

from __future__ import annotations

import logging
import os
import tarfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Iterable

from gis.errors import AgrigisError, DataFileError

from .stack import BandSource, MaskSource, Scene

log = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class Band:
    """One reflectance band of a product: reflectance = DN × ``scale`` + ``offset``.

    ``paths`` maps a pixel size (m) to the GDAL path of the file at that size
    (Sentinel-2 has 10/20/60 m versions). For Sentinel-2, ``boa_add_offset`` and
    ``quantification`` are the metadata values (reflectance = (DN + offset) / Q);
    for Landsat they are None and ``scale``/``offset`` are REFLECTANCE_MULT/ADD.
    """

    name: str
    paths: dict[int, str]
    scale: float
    offset: float
    nodata: float | None
    boa_add_offset: float | None = None
    quantification: float | None = None

    def path_for(self, res: float | None = None) -> str:
        """The file to read for an output of ``res`` metres: the coarsest one not
        coarser than ``res`` (least decoding), else the finest."""
        sizes = sorted(self.paths)
        if res is not None:
            fit = [s for s in sizes if s <= res + 1e-9]
            if fit:
                return self.paths[fit[-1]]
        return self.paths[sizes[0]]


@dataclass(frozen=True)
class Product:
    """A Level-2 surface-reflectance product, described from its metadata.

    Attributes
    ----------
    id : str
        Product id (``PRODUCT_URI`` without ``.SAFE``, ``LANDSAT_PRODUCT_ID``).
    source : Path
        The folder or archive it was read from.
    kind : str
        ``"sentinel2"`` or ``"landsat"``.
    sensor : str
        Spacecraft (``Sentinel-2A``, ``LANDSAT_8`` …).
    time : datetime
        Acquisition time, UTC (timezone-aware).
    tile : str
        MGRS tile (``29UNU``) or WRS-2 path/row (``005009``).
    baseline : str
        Processing baseline (S2, ``04.00``) or collection and processing software (Landsat).
    crs : str
        ``EPSG:…`` of the rasters.
    cloud_percent : float or None
        Cloud cover of the whole product from its metadata.
    bands : dict
        Band symbol of :mod:`gis.indices` (``B G R NIR SWIR1 SWIR2``) → :class:`Band`.
    mask : MaskSource
        SCL (Sentinel-2) or QA_PIXEL (Landsat) layer.
    """

    id: str
    source: Path
    kind: str
    sensor: str
    time: datetime
    tile: str
    baseline: str
    crs: str
    cloud_percent: float | None
    bands: dict[str, Band]
    mask: MaskSource
    extra_masks: dict[str, MaskSource] = field(default_factory=dict)

    def scene(self, res: float | None = None) -> Scene:
        """The :class:`layers.imagery.stack.Scene` to put this product on a grid of ``res`` m."""
        bands = {sym: BandSource(b.path_for(res), b.scale, b.offset, b.nodata) for sym, b in self.bands.items()}
        return Scene(id=self.id, sensor=self.sensor, time=self.time, bands=bands,
                     mask=self.mask, extra_masks=dict(self.extra_masks))


# ------------------------------------------------------------------------------ containers


class Container:
    """The files of a product folder or archive, by path relative to its root.

    ``names`` are POSIX paths; :meth:`read` returns a member's bytes and
    :meth:`gdal_path` the path GDAL opens (``/vsizip/…`` inside a zip).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.names: set[str] = set()

    def read(self, name: str) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    def gdal_path(self, name: str) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def find(self, pattern: str) -> list[str]:
        """Member names whose last part matches the glob ``pattern``, shortest first."""
        hits = [n for n in self.names if PurePosixPath(n).match(pattern)]
        return sorted(hits, key=lambda n: (n.count("/"), n))


class FolderContainer(Container):
    def __init__(self, path: Path):
        super().__init__(path)
        self.names = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def gdal_path(self, name: str) -> str:
        return str(self.path / name)


class ZipContainer(Container):
    def __init__(self, path: Path):
        super().__init__(path)
        try:
            with zipfile.ZipFile(path) as zf:
                self.names = {i.filename for i in zf.infolist() if not i.is_dir()}
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise DataFileError.of("error.imagery_truncated", path=path, detail=_detail(exc)) from None

    def read(self, name: str) -> bytes:
        try:
            with zipfile.ZipFile(self.path) as zf:
                return zf.read(name)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:  # a damaged member (CRC …)
            raise DataFileError.of("error.imagery_truncated", path=self.path, detail=_detail(exc)) from None

    def gdal_path(self, name: str) -> str:
        return f"/vsizip/{self.path.resolve()}/{name}"


class TarContainer(Container):
    def __init__(self, path: Path):
        super().__init__(path)
        try:
            with tarfile.open(path) as tf:
                members = tf.getmembers()  # reads every header: a truncated file fails here
            self.names = {m.name.removeprefix("./") for m in members if m.isfile()}
            if members:
                last = members[-1]
                if last.offset_data + last.size > path.stat().st_size:
                    raise EOFError("unexpected end of data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataFileError.of("error.imagery_truncated", path=path, detail=_detail(exc)) from None

    def read(self, name: str) -> bytes:
        with tarfile.open(self.path) as tf:
            member = next(m for m in tf.getmembers() if m.name.removeprefix("./") == name)
            return tf.extractfile(member).read()

    def gdal_path(self, name: str) -> str:
        return f"/vsitar/{self.path.resolve()}/{name}"  # GDAL's /vsitar/ reads .tar.gz too


def _detail(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def parse_xml(box: Container, name: str):
    """The root element of metadata file ``name`` of ``box``, parsed without DTDs or
    entities (:mod:`defusedxml`).

    Raises
    ------
    DataFileError
        ``error.imagery_xml_unsafe`` for a DTD or entity, ``error.imagery_xml`` for a
        file that is not well-formed XML.
    """
    from xml.etree.ElementTree import ParseError

    import defusedxml
    import defusedxml.ElementTree as DET

    data = box.read(name)
    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise DataFileError.of("error.imagery_xml_unsafe", path=box.path, file=name,
                               detail=type(exc).__name__) from None
    except ParseError as exc:
        raise DataFileError.of("error.imagery_xml", path=box.path, file=name, detail=_detail(exc)) from None


def child_text(root, tag: str) -> str | None:
    """Text of the first element named ``tag`` anywhere under ``root`` (namespaces ignored)."""
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == tag:
            return (el.text or "").strip()
    return None


def metadata_number(text: str, path, file: str, name: str, *, integer: bool = False) -> float:
    """``text`` of metadata field ``name`` as a finite number; anything else (``abc``,
    ``1e400``, ``nan``) is an ``error.imagery_metadata_value`` naming the product and field.

    >>> metadata_number("2.75e-05", "P", "MTL.xml", "MULT")
    2.75e-05
    >>> metadata_number("1e400", "P", "MTL.xml", "CLOUD_COVER")
    Traceback (most recent call last):
    gis.errors.DataFileError: P: the metadata MTL.xml has CLOUD_COVER = '1e400', which is not a valid value; download the product again
    """
    import math

    try:
        value = int(text) if integer else float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise DataFileError.of("error.imagery_metadata_value", path=path, file=file, field=name, value=text)
    return value


def metadata_time(text: str, path, file: str, name: str) -> datetime:
    """``text`` of metadata field ``name`` as a UTC time (microseconds); a date that does not
    exist (``2015-99-10``) is an ``error.imagery_metadata_value`` naming the product and field."""
    import pandas as pd

    try:
        ts = pd.Timestamp(text)
        if ts is pd.NaT:
            raise ValueError(text)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    except (TypeError, ValueError, OverflowError) as exc:  # DateParseError, OutOfBoundsDatetime are ValueErrors
        raise DataFileError.of("error.imagery_metadata_value", path=path, file=file, field=name,
                               value=text) from exc
    return ts.floor("us").to_pydatetime()


def open_container(path: str | os.PathLike) -> Container:
    """The :class:`Container` for a product folder, ``.zip`` or ``.tar`` (``.tar.gz``).

    Raises
    ------
    DataFileError
        If the path does not exist or the archive is damaged or incomplete.
    """
    path = Path(path)
    if not path.exists():
        raise DataFileError.of("error.file_not_found", path=path)
    if path.is_dir():
        return FolderContainer(path)
    name = path.name.lower()
    if name.endswith(".zip"):
        return ZipContainer(path)
    if name.endswith((".tar", ".tar.gz", ".tgz")):
        return TarContainer(path)
    raise DataFileError.of("error.imagery_not_product", path=path)


# ------------------------------------------------------------------------------ opening


def open_product(path: str | os.PathLike) -> Product:
    """Open a Sentinel-2 L2A or Landsat Collection 2 Level-2 product.

    Parameters
    ----------
    path : str or Path
        A ``.SAFE`` folder or its ``.zip``; a Landsat scene folder or its ``.tar``.

    Raises
    ------
    DataFileError
        Not a product, a Level-1 product, a missing band or metadata field, a damaged
        archive, metadata XML with a DTD/entity; the message names the product.
    """
    from . import landsat, sentinel2

    box = open_container(path)
    if box.find("MTD_MSIL*.xml") or box.find("MTD_SAFL*.xml"):
        return sentinel2.read(box)
    if box.find("*_MTL.xml") or box.find("*_MTL.txt"):
        return landsat.read(box)
    raise DataFileError.of("error.imagery_not_product", path=box.path)


def looks_like_product(path: Path) -> bool:
    """True for a ``.SAFE`` folder, an archive, or a folder holding product metadata."""
    name = path.name.lower()
    if path.is_file():
        return name.endswith(ARCHIVE_SUFFIXES)
    if name.endswith(".safe"):
        return True
    return any(path.glob("MTD_MSIL*.xml")) or any(path.glob("*_MTL.xml")) or any(path.glob("*_MTL.txt"))


@dataclass
class ScanResult:
    """Products found by :func:`scan` (sorted by time) and the skipped ones with why."""

    products: list[Product]
    skipped: list[tuple[Path, AgrigisError]]


def _candidates(folder: Path) -> list[tuple[Path, dict | None]]:
    """The products and STAC files of ``folder`` (or ``folder`` itself), each STAC file
    with its JSON, read once here (:func:`.stac.read_stac_file`)."""
    from .stac import read_stac_file

    if looks_like_product(folder) or not folder.is_dir():
        return [(folder, None)]  # not a folder of products: open_product says what is wrong with it
    found: list[tuple[Path, dict | None]] = []
    for path in sorted(folder.iterdir()):
        if looks_like_product(path):
            found.append((path, None))
        elif (doc := read_stac_file(path)) is not None:
            found.append((path, doc))
    return found


def scan(folders: Iterable[str | os.PathLike]) -> ScanResult:
    """Open every product in ``folders`` (each a product itself or a folder of them).

    A product that cannot be used is skipped with its error (which names it); the
    others go on. Files that are not products at all (a README …) are ignored. STAC
    item files (``.json``: an Item or an ItemCollection with local asset hrefs, see
    :mod:`layers.imagery.stac`) count as products, each item on its own.
    """
    from .stac import scan_items

    products: list[Product] = []
    skipped: list[tuple[Path, AgrigisError]] = []
    for folder in folders:
        for cand, doc in _candidates(Path(folder)):
            if cand.suffix.lower() == ".json" and cand.is_file():
                found, bad = scan_items(cand, doc)
                products += found
                skipped += bad
                continue
            try:
                products.append(open_product(cand))
            except AgrigisError as exc:
                log.info("skipped: %s", exc)
                skipped.append((cand, exc))
    products.sort(key=lambda p: (p.time, p.id))
    return ScanResult(products, skipped)
