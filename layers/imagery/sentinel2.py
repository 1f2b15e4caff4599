"""Sentinel-2 Level-2A products (``.SAFE`` folder or its ``.zip``) from their metadata.

Everything comes from ``MTD_MSIL2A.xml`` (time, spacecraft, baseline, quantification,
``BOA_ADD_OFFSET`` per band, nodata, cloud %, band files) and the granule's
``MTD_TL.xml`` (CRS), never from the file name. Baselines before 04.00 have no
``BOA_ADD_OFFSET``: the offset is 0 (ESA, "Sentinel-2 L2A processing baseline 04.00").

Examples
--------
>>> meta = read_metadata(SAMPLE_XML)  # doctest: +SKIP
>>> meta.baseline, meta.offsets["B4"], meta.quantification  # doctest: +SKIP
('04.00', -1000.0, 10000.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from gis.errors import DataFileError

from .product import Band, Container, FolderContainer, Product, child_text, metadata_number, metadata_time, parse_xml
from .stack import MaskSource

SYMBOLS: dict[str, tuple[str, ...]] = {
    "B": ("B02",), "G": ("B03",), "R": ("B04",), "NIR": ("B08", "B8A"), "SWIR1": ("B11",), "SWIR2": ("B12",),
}
"""Band symbol of :mod:`gis.indices` → Sentinel-2 bands that can serve it, preferred first
(NIR: B08 where the product has it, else the narrow B8A of the 20/60 m sets)."""

_IMAGE = re.compile(r"_(B\d[\dA]|SCL|TCI|AOT|WVP)_(\d+)m$")
_TILE = re.compile(r"_T(\d{2}[A-Z]{3})_")


@dataclass(frozen=True)
class S2Metadata:
    """What ``MTD_MSIL2A.xml`` says (see :func:`read_metadata`)."""

    product_id: str
    product_type: str
    level: str
    baseline: str
    spacecraft: str
    time: datetime
    tile: str
    quantification: float | None
    offsets: dict[str, float]
    nodata: float | None
    cloud_percent: float | None
    image_files: tuple[str, ...]
    image_format: str


def _offsets(root) -> dict[str, float]:
    """``BOA_ADD_OFFSET`` per physical band (``B4`` …); {} where the XML has none."""
    names = {el.get("bandId"): el.get("physicalBand") for el in root.iter()
             if el.tag.rsplit("}", 1)[-1] == "Spectral_Information"}
    return {names.get(el.get("band_id"), f"band_id {el.get('band_id')}"): float(el.text)
            for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "BOA_ADD_OFFSET"}


def _nodata(root) -> float | None:
    specials = [el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Special_Values"]
    for sv in specials:
        if child_text(sv, "SPECIAL_VALUE_TEXT") == "NODATA":
            return float(child_text(sv, "SPECIAL_VALUE_INDEX"))
    return None


def _need(value, path, file: str, name: str):
    if value in (None, ""):
        raise DataFileError.of("error.imagery_metadata_field", path=path, file=file, field=name)
    return value


def _float(text: str | None, path, file: str, name: str) -> float | None:
    """An optional number: None when absent; a value that is not a finite number
    (``abc``, ``1e400``) is refused naming the product and field."""
    return None if text in (None, "") else metadata_number(text, path, file, name)


def metadata_from_root(root, path, file: str = "MTD_MSIL2A.xml") -> S2Metadata:
    """:class:`S2Metadata` of a parsed ``MTD_MSIL2A.xml`` (or an L1C one, to refuse it)."""
    product_uri = _need(child_text(root, "PRODUCT_URI"), path, file, "PRODUCT_URI")
    granule = next((el.get("granuleIdentifier") for el in root.iter()
                    if el.tag.rsplit("}", 1)[-1] == "Granule"), None) or product_uri
    tile = _TILE.search(granule) or _TILE.search(product_uri)
    granule_el = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Granule"), None)
    offsets = _offsets(root)
    return S2Metadata(
        product_id=product_uri.removesuffix(".SAFE"),
        product_type=child_text(root, "PRODUCT_TYPE") or "",
        level=child_text(root, "PROCESSING_LEVEL") or "",
        baseline=_need(child_text(root, "PROCESSING_BASELINE"), path, file, "PROCESSING_BASELINE"),
        spacecraft=_need(child_text(root, "SPACECRAFT_NAME"), path, file, "SPACECRAFT_NAME"),
        time=metadata_time(_need(child_text(root, "PRODUCT_START_TIME"), path, file, "PRODUCT_START_TIME"), path, file,
                           "PRODUCT_START_TIME"),
        tile=tile.group(1) if tile else "",
        quantification=_float(child_text(root, "BOA_QUANTIFICATION_VALUE"), path, file, "BOA_QUANTIFICATION_VALUE"),
        offsets=offsets,
        nodata=_nodata(root),
        cloud_percent=_float(child_text(root, "Cloud_Coverage_Assessment"), path, file, "Cloud_Coverage_Assessment"),
        image_files=tuple((el.text or "").strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "IMAGE_FILE"),
        image_format=(granule_el.get("imageFormat") if granule_el is not None else None) or "JPEG2000",
    )


def read_metadata(path: str | Path) -> S2Metadata:
    """:class:`S2Metadata` of one ``MTD_MSIL2A.xml`` file (defused XML parser).

    The offset of a band is ``offsets[physical band]`` (``"B4"``, ``"B8A"``), 0 when the
    XML lists none (baselines before 04.00): use :func:`band_offset`.
    """
    path = Path(path)
    box = FolderContainer.__new__(FolderContainer)
    box.path, box.names = path.parent, {path.name}
    return metadata_from_root(parse_xml(box, path.name), path.parent, path.name)


def band_offset(meta: S2Metadata, band: str) -> float:
    """``BOA_ADD_OFFSET`` of ``band`` (``B04`` or ``B4``); 0 when the metadata has none."""
    physical = re.sub(r"^B0(\d)$", r"B\1", band)
    return meta.offsets.get(physical, 0.0)


def _check_level(meta: S2Metadata, path) -> None:
    if not (meta.product_type.startswith("S2MSI2A") or meta.level == "Level-2A"):
        raise DataFileError.of("error.imagery_level", path=path,
                               found=meta.product_type or meta.level or "?",
                               need="Sentinel-2 Level-2A (S2MSI2A)")


def _files(box: Container, root: str, meta: S2Metadata) -> dict[str, dict[int, str]]:
    """Band name (``B04``, ``SCL`` …) → {pixel size: member name} of the files that exist."""
    ext = ".tif" if meta.image_format.lower().startswith("geotiff") else ".jp2"
    out: dict[str, dict[int, str]] = {}
    for rel in meta.image_files:
        m = _IMAGE.search(rel)
        if not m:
            continue
        for suffix in (ext, ".jp2", ".tif"):
            name = f"{root}{rel}{suffix}"
            if name in box.names:
                out.setdefault(m.group(1), {})[int(m.group(2))] = name
                break
    return out


def _missing(box: Container, meta: S2Metadata, band: str) -> DataFileError:
    listed = [f for f in meta.image_files if f"_{band}_" in f]
    return DataFileError.of("error.imagery_missing_band", path=box.path, band=band,
                            file=PurePosixPath(listed[0]).name if listed else band)


CLDPRB = re.compile(r"MSK_CLDPRB_(\d+)m\.(jp2|tif)$", re.IGNORECASE)
"""File names of the cloud-probability layer, ``MSK_CLDPRB_<n>m`` (any case)."""


def _tile(box: Container, root: str):
    """Member name and parsed root of the granule's ``MTD_TL.xml``."""
    tl = [n for n in box.find("MTD_TL.xml") if n.startswith(f"{root}GRANULE/")]
    if not tl:
        raise DataFileError.of("error.imagery_missing_file", path=box.path, file="GRANULE/*/MTD_TL.xml")
    return tl[0], parse_xml(box, tl[0])


def _crs(box: Container, name: str, tile_root) -> str:
    return _need(child_text(tile_root, "HORIZONTAL_CS_CODE"), box.path, name, "HORIZONTAL_CS_CODE")


def _cloud_probability(box: Container, root: str, tile_root) -> MaskSource | None:
    """The ``MSK_CLDPRB`` layer (cloud probability, %) at each size the product has: the
    files ``MTD_TL.xml`` lists (``MASK_FILENAME type="MSK_CLDPRB"``) that are present,
    else any ``QI_DATA/MSK_CLDPRB_<n>m`` file (older baselines); None if there is none."""
    listed = [f"{root}{(el.text or '').strip()}" for el in tile_root.iter()
              if el.tag.rsplit("}", 1)[-1] == "MASK_FILENAME" and el.get("type") == "MSK_CLDPRB"]
    names = [n for n in listed if n in box.names] or box.find("MSK_CLDPRB_*m.jp2") or box.find("MSK_CLDPRB_*m.tif")
    paths = {int(m.group(1)): box.gdal_path(n) for n in names if (m := CLDPRB.search(n))}
    return MaskSource("cldprb", paths, nodata=None) if paths else None


def read(box: Container) -> Product:
    """The :class:`Product` of the Sentinel-2 L2A product in ``box``."""
    mtd = box.find("MTD_MSIL*.xml")
    if not mtd:
        l1 = box.find("MTD_SAFL*.xml")
        raise DataFileError.of("error.imagery_level", path=box.path, found=PurePosixPath(l1[0]).name,
                               need="Sentinel-2 Level-2A (S2MSI2A)")
    name = mtd[0]
    root = name[: -len(PurePosixPath(name).name)]
    meta = metadata_from_root(parse_xml(box, name), box.path, name)
    _check_level(meta, box.path)
    if not meta.quantification:
        raise DataFileError.of("error.imagery_metadata_field", path=box.path, file=name,
                               field="BOA_QUANTIFICATION_VALUE")
    files = _files(box, root, meta)
    bands: dict[str, Band] = {}
    for sym, choices in SYMBOLS.items():
        have = next((b for b in choices if b in files), None)
        if have is None:
            raise _missing(box, meta, choices[-1])
        off = band_offset(meta, have)
        bands[sym] = Band(name=have, paths={r: box.gdal_path(n) for r, n in files[have].items()},
                          scale=1.0 / meta.quantification, offset=off / meta.quantification,
                          nodata=meta.nodata, boa_add_offset=off, quantification=meta.quantification)
    if "SCL" not in files:
        raise _missing(box, meta, "SCL")
    mask = MaskSource("scl", {r: box.gdal_path(n) for r, n in files["SCL"].items()}, nodata=0)
    tl_name, tile_root = _tile(box, root)
    cldprb = _cloud_probability(box, root, tile_root)
    return Product(id=meta.product_id, source=box.path, kind="sentinel2", sensor=meta.spacecraft,
                   time=meta.time, tile=meta.tile, baseline=meta.baseline, crs=_crs(box, tl_name, tile_root),
                   cloud_percent=meta.cloud_percent, bands=bands, mask=mask,
                   extra_masks={"cldprb": cldprb} if cldprb is not None else {})
