"""Landsat 4–9 Collection 2 Level-2 products (scene folder or ``.tar``) from their MTL.

``*_MTL.xml`` (or the ODL ``*_MTL.txt``) gives the product id, processing level,
spacecraft, WRS path/row, acquisition date and time, cloud cover, UTM zone, the band
files and ``REFLECTANCE_MULT_BAND_n`` / ``REFLECTANCE_ADD_BAND_n`` (reflectance =
DN × mult + add, 2.75e-5 and −0.2 in Collection 2). The fill value of the SR bands is
0 (USGS, *Landsat 8-9 Collection 2 Level 2 Science Product Guide*, table 6-1).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from gis.errors import DataFileError

from .product import Band, Container, Product, metadata_number, metadata_time, parse_xml
from .stack import MaskSource

SR_FILL = 0.0
"""Fill DN of the Collection 2 surface-reflectance bands."""

BAND_NUMBERS: dict[str, dict[str, int]] = {
    "OLI": {"B": 2, "G": 3, "R": 4, "NIR": 5, "SWIR1": 6, "SWIR2": 7},  # Landsat 8, 9
    "TM": {"B": 1, "G": 2, "R": 3, "NIR": 4, "SWIR1": 5, "SWIR2": 7},  # Landsat 4, 5 TM and 7 ETM+
}
"""Band symbol of :mod:`gis.indices` → Landsat band number, by instrument family."""

_ODL = re.compile(r'^\s*(GROUP|END_GROUP|[A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$')


def _from_xml(box: Container, name: str) -> dict[str, dict[str, str]]:
    root = parse_xml(box, name)
    return {group.tag: {el.tag: (el.text or "").strip() for el in group} for group in root}


def _from_odl(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    group = ""
    for line in text.splitlines():
        m = _ODL.match(line)
        if not m:
            continue
        key, value = m.groups()
        if key == "GROUP":
            group = value
            out.setdefault(group, {})
        elif key != "END_GROUP":
            out.setdefault(group, {})[key] = value
    return out


def read_mtl(box: Container) -> tuple[str, dict[str, dict[str, str]]]:
    """(member name, {group: {key: value}}) of the product's MTL (XML preferred)."""
    xml = box.find("*_MTL.xml")
    if xml:
        return xml[0], _from_xml(box, xml[0])
    txt = box.find("*_MTL.txt")[0]
    return txt, _from_odl(box.read(txt).decode("utf-8", errors="replace"))


def _get(mtl: dict, group: str, key: str, box: Container, file: str) -> str:
    value = mtl.get(group, {}).get(key)
    if value in (None, ""):
        raise DataFileError.of("error.imagery_metadata_field", path=box.path, file=file, field=f"{group}/{key}")
    return value


def _member(box: Container, root: str, file_name: str, band: str) -> str:
    name = f"{root}{file_name}"
    if name not in box.names:
        raise DataFileError.of("error.imagery_missing_band", path=box.path, band=band, file=file_name)
    return box.gdal_path(name)


def _time(mtl: dict, box: Container, file: str):
    date = _get(mtl, "IMAGE_ATTRIBUTES", "DATE_ACQUIRED", box, file)
    clock = _get(mtl, "IMAGE_ATTRIBUTES", "SCENE_CENTER_TIME", box, file).rstrip("Z")
    return metadata_time(f"{date}T{clock}", box.path, file, "IMAGE_ATTRIBUTES/DATE_ACQUIRED, SCENE_CENTER_TIME")


def _num(mtl: dict, group: str, key: str, box: Container, file: str, integer: bool = False) -> float:
    """A required numeric field, finite (``error.imagery_metadata_value`` otherwise)."""
    return metadata_number(_get(mtl, group, key, box, file), box.path, file, f"{group}/{key}", integer=integer)


def _crs(mtl: dict, box: Container, file: str) -> str:
    proj = mtl.get("PROJECTION_ATTRIBUTES", {})
    if proj.get("MAP_PROJECTION") != "UTM" or proj.get("DATUM") != "WGS84":
        raise DataFileError.of("error.imagery_metadata_field", path=box.path, file=file,
                               field="PROJECTION_ATTRIBUTES/MAP_PROJECTION = UTM, DATUM = WGS84")
    zone = _num(mtl, "PROJECTION_ATTRIBUTES", "UTM_ZONE", box, file, integer=True)
    if not 1 <= zone <= 60:
        raise DataFileError.of("error.imagery_metadata_value", path=box.path, file=file,
                               field="PROJECTION_ATTRIBUTES/UTM_ZONE", value=zone)
    return f"EPSG:{32600 + zone}"  # Collection 2 uses northern UTM zones everywhere but Antarctica


def read(box: Container) -> Product:
    """The :class:`Product` of the Landsat Collection 2 Level-2 product in ``box``."""
    file, mtl = read_mtl(box)
    root = file[: -len(PurePosixPath(file).name)]
    contents = mtl.get("PRODUCT_CONTENTS", {})
    level = _get(mtl, "PRODUCT_CONTENTS", "PROCESSING_LEVEL", box, file)
    if not level.startswith("L2"):
        raise DataFileError.of("error.imagery_level", path=box.path, found=level,
                               need="Landsat Collection 2 Level-2 (L2SP, L2SR)")
    sensor_id = _get(mtl, "IMAGE_ATTRIBUTES", "SENSOR_ID", box, file)
    numbers = BAND_NUMBERS["OLI" if "OLI" in sensor_id else "TM"]
    bands: dict[str, Band] = {}
    for sym, n in numbers.items():
        fname = _get(mtl, "PRODUCT_CONTENTS", f"FILE_NAME_BAND_{n}", box, file)
        mult = _num(mtl, "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS", f"REFLECTANCE_MULT_BAND_{n}", box, file)
        add = _num(mtl, "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS", f"REFLECTANCE_ADD_BAND_{n}", box, file)
        path = _member(box, root, fname, f"SR_B{n}")
        bands[sym] = Band(name=f"SR_B{n}", paths={30: path}, scale=mult, offset=add, nodata=SR_FILL)
    qa = _get(mtl, "PRODUCT_CONTENTS", "FILE_NAME_QUALITY_L1_PIXEL", box, file)
    mask = MaskSource("qa_pixel", {30: _member(box, root, qa, "QA_PIXEL")}, nodata=1)
    extra = {}
    radsat = contents.get("FILE_NAME_QUALITY_L1_RADIOMETRIC_SATURATION")
    if radsat and f"{root}{radsat}" in box.names:
        extra["qa_radsat"] = MaskSource("qa_radsat", {30: box.gdal_path(f"{root}{radsat}")}, nodata=None,
                                        bands=tuple(numbers.values()))
    path_row = (f"{_num(mtl, 'IMAGE_ATTRIBUTES', 'WRS_PATH', box, file, integer=True):03d}"
                f"{_num(mtl, 'IMAGE_ATTRIBUTES', 'WRS_ROW', box, file, integer=True):03d}")
    cloud = mtl.get("IMAGE_ATTRIBUTES", {}).get("CLOUD_COVER")
    cloud = None if cloud in (None, "") else metadata_number(cloud, box.path, file, "IMAGE_ATTRIBUTES/CLOUD_COVER")
    software = mtl.get("LEVEL2_PROCESSING_RECORD", {}).get("PROCESSING_SOFTWARE_VERSION", "")
    baseline = f"C{contents.get('COLLECTION_NUMBER', '?')} {contents.get('COLLECTION_CATEGORY', '')} {software}".strip()
    return Product(id=_get(mtl, "PRODUCT_CONTENTS", "LANDSAT_PRODUCT_ID", box, file), source=box.path,
                   kind="landsat", sensor=_get(mtl, "IMAGE_ATTRIBUTES", "SPACECRAFT_ID", box, file),
                   time=_time(mtl, box, file), tile=path_row, baseline=baseline, crs=_crs(mtl, box, file),
                   cloud_percent=cloud, bands=bands, mask=mask,
                   extra_masks=extra)
