"""STAC items in: local Sentinel-2 L2A and Landsat C2 L2 items → the same :class:`Product`
records as the ``.SAFE`` / Landsat readers, so they go through the same stack.

Scope
-----
- **Input**: STAC Item JSON files, ItemCollection (GeoJSON FeatureCollection) JSON files,
  item dicts, or pystac ``Item`` / ``ItemCollection`` objects (anything with
  ``to_dict()``); pystac itself is not needed. Catalogue and collection links are not
  followed: give the items.
- **Assets are local files**: absolute paths, ``file://`` URLs or paths relative to the
  item file. A remote href (``https://``, ``s3://`` …) of an asset that is needed is
  refused with the remedy (download it first): agrigis works offline.
- **Products**: Sentinel-2 L2A and Landsat Collection 2 Level-2 items (by ``platform`` /
  ``constellation``); Level-1 items are refused like Level-1 products.
- **Metadata, the product's own first**: when the product's metadata file is an asset
  that exists locally (``MTD_MSIL2A.xml`` with ``MTD_TL.xml``; Landsat ``*_MTL.xml`` or
  ``*_MTL.txt``), the product is read by exactly the reader of a ``.SAFE`` folder /
  scene folder — the same offsets, quantification, times and checks — with the band
  files taken from the assets, matched by file name. Otherwise the item's own fields
  are used: ``datetime``, ``platform``, tile (``s2:mgrs_tile``, ``mgrs:*``,
  ``landsat:wrs_path``/``row``), ``s2:processing_baseline``, ``eo:cloud_cover``,
  ``proj:code``/``proj:epsg``, and per asset the raster extension's
  ``raster:bands`` ``scale`` / ``offset`` / ``nodata``. An item with neither the
  metadata file nor ``scale``/``offset`` is refused: reflectance is never guessed.

Examples
--------
>>> from layers.imagery import from_stac                     # doctest: +SKIP
>>> [p.id for p in from_stac("S2A_T29UNU_item.json")]         # doctest: +SKIP
['S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454']
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any, Iterable
from urllib.parse import unquote, urlparse

from gis.errors import AgrigisError, DataFileError

from .product import Band, Container, Product, metadata_number, metadata_time, parse_xml
from .sentinel2 import CLDPRB as S2_CLDPRB
from .stack import MaskSource

S2_BAND = re.compile(r"_(B\d[\dA]|SCL)_(\d+)m\.(jp2|tif)$", re.IGNORECASE)
LANDSAT_FILE = re.compile(r"_(SR_B\d|QA_PIXEL|QA_RADSAT)\.TIF$", re.IGNORECASE)
COMMON = {"blue": "B", "green": "G", "red": "R", "nir": "NIR", "nir08": "NIR", "swir16": "SWIR1", "swir22": "SWIR2"}
"""STAC common band names (``eo:bands`` ``common_name`` and the usual asset keys) → the band symbols of
:mod:`gis.indices`."""
S2_KEYS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "nir08": "B8A", "swir16": "B11",
           "swir22": "B12", "scl": "SCL"}
"""Sentinel-2 asset keys of the common STAC collections (``red``, ``scl`` …) → band names."""
REMOTE = ("http://", "https://", "s3://", "gs://", "az://", "ftp://", "/vsicurl/", "/vsis3/")


# ------------------------------------------------------------------------------ items


def load_items(source: Any) -> list[tuple[Path | None, dict]]:
    """``(item file or None, item dict)`` of every STAC item in ``source``: a path to an
    Item or ItemCollection JSON file, a dict, a pystac object, or an iterable of these.

    Examples
    --------
    >>> [d["id"] for _, d in load_items({"type": "FeatureCollection", "features": [
    ...     {"type": "Feature", "id": "a"}, {"type": "Feature", "id": "b"}]})]
    ['a', 'b']
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return [(path, d) for d in _features(_read_json(path), path)]
    if isinstance(source, dict):
        return [(None, d) for d in _features(source, "STAC")]
    if hasattr(source, "to_dict"):
        base = getattr(source, "get_self_href", lambda: None)()
        where = Path(base) if base and not str(base).startswith(REMOTE) else None
        return [(where, d) for d in _features(source.to_dict(), where or "STAC")]
    out: list[tuple[Path | None, dict]] = []
    for one in source:
        out += load_items(one)
    return out


def _read_json(path: Path) -> Any:
    if not path.exists():
        raise DataFileError.of("error.file_not_found", path=path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError.of("error.stac_unreadable", path=path, detail=" ".join(str(exc).split())[:200]) from None


def _features(doc: Any, where) -> list[dict]:
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "Feature":
        return [doc]
    if kind == "FeatureCollection" and isinstance(doc.get("features"), list):
        return [f for f in doc["features"] if isinstance(f, dict)]
    raise DataFileError.of("error.stac_unreadable", path=where,
                           detail=f"type {kind!r}, expected 'Feature' or 'FeatureCollection'")


def read_stac_file(path: Path) -> dict | None:
    """The JSON of a ``.json`` file holding a STAC Item or ItemCollection (``stac_version``
    in every feature), None for any other file (not JSON, unreadable, no STAC): a folder
    scan reads each file once and hands this to :func:`scan_items`."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    feats = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
    stac = isinstance(feats, list) and bool(feats) and all(isinstance(f, dict) and "stac_version" in f for f in feats)
    return doc if stac else None


def from_stac(items: Any) -> list[Product]:
    """The :class:`Product` of every STAC item in ``items`` (see :func:`load_items`), in
    order. Raises the first item's error (naming the item file and id); use
    :func:`layers.imagery.scan` on ``.json`` files to skip unusable items instead.

    Examples
    --------
    >>> from_stac({"type": "Feature", "id": "x", "properties": {"platform": "sentinel-1a"}, "assets": {}})
    Traceback (most recent call last):
    ...
    gis.errors.DataFileError: STAC: STAC item x is not a product agrigis can read (platform 'sentinel-1a'); Sentinel-2 L2A and Landsat Collection 2 Level-2 items are supported
    """
    return [product_from_item(d, where) for where, d in load_items(items)]


def scan_items(path: Path, doc: dict | None = None) -> tuple[list[Product], list[tuple[Path, AgrigisError]]]:
    """Products of the STAC file ``path`` and the items skipped with their error; ``doc``:
    its JSON when already read (:func:`read_stac_file`), else the file is read here."""
    products, skipped = [], []
    try:
        items = load_items(path) if doc is None else [(path, d) for d in _features(doc, path)]
    except AgrigisError as exc:
        return [], [(path, exc)]
    for where, d in items:
        try:
            products.append(product_from_item(d, where))
        except AgrigisError as exc:
            skipped.append((path, exc))
    return products, skipped


# ------------------------------------------------------------------------------ assets


@dataclasses.dataclass(frozen=True)
class _Item:
    """One item: where it came from (for messages), its id, properties and assets."""

    where: Path | None
    id: str
    props: dict
    assets: dict[str, dict]

    @property
    def label(self) -> str:
        return str(self.where) if self.where is not None else "STAC"

    def href(self, key: str) -> str:
        """The local path of asset ``key`` (relative hrefs against the item file)."""
        raw = str(self.assets[key].get("href", ""))
        if raw.startswith("file://"):
            raw = unquote(urlparse(raw).path)
        if raw.startswith(REMOTE) or re.match(r"^[a-z][a-z0-9+.-]+://", raw):
            raise DataFileError.of("error.stac_remote_href", path=self.label, item=self.id, asset=key, href=raw)
        p = Path(raw)
        if not p.is_absolute() and self.where is not None:
            p = self.where.parent / p
        return str(p)

    def file_name(self, key: str) -> str:
        """The file name of asset ``key``'s href (``/`` or ``\\`` separated)."""
        return PurePosixPath(str(self.assets[key].get("href", "")).replace("\\", "/")).name

    def local(self, key: str) -> str:
        """:meth:`href`, checked to exist."""
        path = self.href(key)
        if not Path(path).is_file():
            raise DataFileError.of("error.stac_asset_missing", path=self.label, item=self.id, asset=key, href=path)
        return path

    def find(self, pattern: re.Pattern, keys: Iterable[str] = ()) -> str | None:
        """The key of the first asset whose href's file name matches ``pattern`` or whose key is in ``keys``."""
        keys = set(keys)
        for key in self.assets:
            if pattern.search(self.file_name(key)) or key in keys:
                return key
        return None

    def present(self, key: str | None) -> str | None:
        """The local path of asset ``key`` if it is a local file that exists, else None."""
        if key is None:
            return None
        try:
            path = self.href(key)
        except AgrigisError:
            return None
        return path if Path(path).is_file() else None


def _item(d: dict, where: Path | None) -> _Item:
    assets = d.get("assets") if isinstance(d.get("assets"), dict) else {}
    props = d.get("properties") if isinstance(d.get("properties"), dict) else {}
    return _Item(where, str(d.get("id", "?")), props, {k: v for k, v in assets.items() if isinstance(v, dict)})


class AssetContainer(Container):
    """A product laid out virtually from an item's assets: member name → local file, so
    the ``.SAFE`` / Landsat readers read an item as they read a folder."""

    def __init__(self, path: Path | str, files: dict[str, str]):
        super().__init__(Path(path))
        self.files = dict(files)
        self.names = set(self.files)

    def read(self, name: str) -> bytes:
        return Path(self.files[name]).read_bytes()

    def gdal_path(self, name: str) -> str:
        return self.files[name]


def product_from_item(d: dict, where: Path | None = None) -> Product:
    """The :class:`Product` of one STAC item dict (``where``: its file, for relative
    hrefs and messages). See the module docstring for what is read from where."""
    item = _item(d, where)
    platform = str(item.props.get("platform") or item.props.get("constellation") or "").lower()
    if platform.startswith("sentinel-2"):
        product = _sentinel2(item)
    elif platform.startswith("landsat"):
        product = _landsat(item)
    else:
        raise DataFileError.of("error.stac_unsupported", path=item.label, item=item.id,
                               detail=f"platform {platform or '-'!r}")
    return dataclasses.replace(product, source=Path(item.label))


# ------------------------------------------------------------------------------ Sentinel-2


def _sentinel2(item: _Item) -> Product:
    from . import sentinel2

    mtd = item.present(item.find(re.compile(r"^MTD_MSIL\w+\.xml$"), ("product_metadata", "product-metadata")))
    tl = item.present(item.find(re.compile(r"^MTD_TL\.xml$"), ("granule_metadata", "granule-metadata")))
    if mtd is not None and tl is not None:
        return sentinel2.read(_safe_layout(item, mtd, tl))
    return _sentinel2_from_properties(item)


def _by_name(item: _Item) -> dict[str, str]:
    """File name → local path of every asset that exists locally; a band or mask file
    (by its name) behind a remote href is refused (a remote thumbnail is not)."""
    out = {}
    for key in item.assets:
        name = item.file_name(key)
        if any(p.search(name) for p in (S2_BAND, S2_CLDPRB, LANDSAT_FILE)):
            item.href(key)  # raises for a remote href
        path = item.present(key)
        if path is not None:
            out[Path(path).name] = path
    return out


def _safe_layout(item: _Item, mtd: str, tl: str) -> AssetContainer:
    """The ``.SAFE`` layout of the item's assets: ``MTD_MSIL2A.xml`` at the root, each
    ``IMAGE_FILE`` it lists mapped to the asset of the same file name, ``MTD_TL.xml`` and
    the ``QI_DATA`` masks in the granule."""
    box = AssetContainer(item.label, {"MTD_MSIL2A.xml": mtd})
    root = parse_xml(box, "MTD_MSIL2A.xml")
    names = _by_name(item)
    files = {"MTD_MSIL2A.xml": mtd}
    granule = ""
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] != "IMAGE_FILE":
            continue
        rel = (el.text or "").strip()
        granule = granule or "/".join(rel.split("/")[:2])
        for suffix in (".jp2", ".tif"):
            if PurePosixPath(rel).name + suffix in names:
                files[rel + suffix] = names[PurePosixPath(rel).name + suffix]
    files[f"{granule}/MTD_TL.xml"] = tl
    for name, path in names.items():
        if S2_CLDPRB.search(name):
            files[f"{granule}/QI_DATA/{name}"] = path
    return AssetContainer(item.label, files)


def _s2_band(item: _Item, key: str) -> tuple[str, int] | None:
    """(band name such as ``B04`` / ``SCL``, pixel size m) of an asset, from its file
    name, its ``eo:bands`` name or its key, and its ``gsd`` / file."""
    asset = item.assets[key]
    name = item.file_name(key)
    m = S2_BAND.search(name)
    if m:
        return m.group(1).upper(), int(m.group(2))
    eo = asset.get("eo:bands") or asset.get("bands") or [{}]
    band = str(eo[0].get("name", "")) if isinstance(eo, list) and eo and isinstance(eo[0], dict) else ""
    stem = re.split(r"[_-]", key, maxsplit=1)[0].lower()  # "red_60m", "red-jp2" → "red"
    band = re.sub(r"^B(\d)$", r"B0\1", band.upper()) if band else S2_KEYS.get(stem, "")
    if not re.fullmatch(r"B\d[\dA]|SCL", band):
        return None
    return band, _pixel_size(item, key)


def _pixel_size(item: _Item, key: str) -> int:
    gsd = item.assets[key].get("gsd")
    if isinstance(gsd, (int, float)) and gsd > 0:
        return int(round(gsd))
    import rasterio

    with rasterio.open(item.local(key)) as ds:
        return int(round(abs(ds.transform.a)))


def _raster_band(item: _Item, key: str) -> tuple[float, float, float | None]:
    """``scale``, ``offset`` and ``nodata`` of asset ``key`` from ``raster:bands``."""
    rb = item.assets[key].get("raster:bands") or [{}]
    first = rb[0] if isinstance(rb, list) and rb and isinstance(rb[0], dict) else {}
    if "scale" not in first or "offset" not in first:
        raise DataFileError.of("error.stac_unsupported", path=item.label, item=item.id,
                               detail=f"asset {key} has no raster:bands scale/offset and the item has no "
                                      "product metadata asset (MTD_MSIL2A.xml + MTD_TL.xml / *_MTL.xml)")
    where = f"{item.id}/{key}/raster:bands"
    nodata = first.get("nodata")
    return (metadata_number(str(first["scale"]), item.label, where, "scale"),
            metadata_number(str(first["offset"]), item.label, where, "offset"),
            None if nodata is None else metadata_number(str(nodata), item.label, where, "nodata"))


def _check_s2_level(item: _Item) -> None:
    kind = str(item.props.get("s2:product_type") or item.props.get("processing:level") or "")
    if kind and not (kind.upper().startswith("S2MSI2A") or kind.upper() in ("L2A", "LEVEL-2A")):
        raise DataFileError.of("error.imagery_level", path=item.label, found=kind,
                               need="Sentinel-2 Level-2A (S2MSI2A)")


def _sentinel2_from_properties(item: _Item) -> Product:
    from .sentinel2 import SYMBOLS

    _check_s2_level(item)
    files: dict[str, dict[int, str]] = {}
    for key in item.assets:
        found = _s2_band(item, key)
        if found is not None:
            files.setdefault(found[0], {})[found[1]] = key
    bands: dict[str, Band] = {}
    for sym, choices in SYMBOLS.items():
        have = next((b for b in choices if b in files), None)
        if have is None:
            raise DataFileError.of("error.stac_asset_missing", path=item.label, item=item.id, asset=choices[0],
                                   href="-")
        keys = files[have]
        scale, offset, nodata = _raster_band(item, keys[min(keys)])
        bands[sym] = Band(name=have, paths={r: item.local(k) for r, k in keys.items()}, scale=scale, offset=offset,
                          nodata=nodata, boa_add_offset=round(offset / scale, 6), quantification=round(1 / scale, 6))
    if "SCL" not in files:
        raise DataFileError.of("error.stac_asset_missing", path=item.label, item=item.id, asset="scl", href="-")
    mask = MaskSource("scl", {r: item.local(k) for r, k in files["SCL"].items()}, nodata=0)
    props = item.props
    return Product(id=str(props.get("s2:product_uri") or item.id).removesuffix(".SAFE"), source=Path(item.label),
                   kind="sentinel2", sensor=_platform_name(props["platform"]), time=_time(item),
                   tile=_s2_tile(props), baseline=str(props.get("s2:processing_baseline") or ""),
                   crs=_crs(item, bands["R"].path_for()), cloud_percent=_cloud(item), bands=bands, mask=mask)


def _s2_tile(props: dict) -> str:
    if props.get("s2:mgrs_tile"):
        return str(props["s2:mgrs_tile"])
    if props.get("mgrs:utm_zone"):
        return f"{int(props['mgrs:utm_zone']):02d}{props.get('mgrs:latitude_band', '')}{props.get('mgrs:grid_square', '')}"
    return str(props.get("grid:code", "")).removeprefix("MGRS-")


def _platform_name(platform: str) -> str:
    """``sentinel-2a`` → ``Sentinel-2A``, ``landsat-8`` → ``LANDSAT_8`` (as the product metadata names them)."""
    p = str(platform).lower()
    if p.startswith("sentinel-2"):
        return "Sentinel-2" + p.removeprefix("sentinel-2").upper()
    return p.upper().replace("-", "_")


def _time(item: _Item):
    text = item.props.get("datetime") or item.props.get("start_datetime")
    if not text:
        raise DataFileError.of("error.imagery_metadata_field", path=item.label, file=item.id, field="datetime")
    return metadata_time(str(text), item.label, item.id, "datetime")


def _cloud(item: _Item) -> float | None:
    value = item.props.get("eo:cloud_cover")
    return None if value is None else metadata_number(str(value), item.label, item.id, "eo:cloud_cover")


def _crs(item: _Item, path: str) -> str:
    """``proj:code`` / ``proj:epsg`` of the item, else the CRS of the raster ``path`` itself."""
    code = item.props.get("proj:code") or (f"EPSG:{item.props['proj:epsg']}" if item.props.get("proj:epsg") else None)
    if code:
        return str(code)
    import rasterio

    with rasterio.open(path) as ds:
        return ds.crs.to_string() if ds.crs else ""


# ------------------------------------------------------------------------------ Landsat


def _landsat(item: _Item) -> Product:
    from . import landsat

    mtl = item.present(item.find(re.compile(r"_MTL\.(xml|txt)$", re.IGNORECASE), ("MTL.xml", "mtl.xml", "MTL.txt")))
    if mtl is not None:
        files = _by_name(item)
        files[Path(mtl).name] = mtl
        return landsat.read(AssetContainer(item.label, files))
    return _landsat_from_properties(item)


def _landsat_symbol(item: _Item, key: str) -> str | None:
    """Band symbol (``R``, ``NIR`` …) or ``QA_PIXEL`` / ``QA_RADSAT`` of an asset."""
    asset = item.assets[key]
    if key.lower() in ("qa_pixel", "qa_radsat"):
        return key.upper()
    eo = asset.get("eo:bands") or asset.get("bands") or [{}]
    common = str(eo[0].get("common_name", "")) if isinstance(eo, list) and eo and isinstance(eo[0], dict) else ""
    name = item.file_name(key)
    m = LANDSAT_FILE.search(name)
    if m and m.group(1).upper().startswith("QA_"):
        return m.group(1).upper()
    return COMMON.get(common.lower()) or COMMON.get(key.lower())


def _landsat_from_properties(item: _Item) -> Product:
    from .landsat import BAND_NUMBERS, SR_FILL

    level = str(item.props.get("landsat:correction") or item.props.get("processing:level") or "")
    if level and not level.upper().startswith("L2"):
        raise DataFileError.of("error.imagery_level", path=item.label, found=level,
                               need="Landsat Collection 2 Level-2 (L2SP, L2SR)")
    keys = {}
    for key in item.assets:
        sym = _landsat_symbol(item, key)
        if sym is not None:
            keys.setdefault(sym, key)
    platform = str(item.props["platform"])
    numbers = BAND_NUMBERS["OLI" if platform.lower() in ("landsat-8", "landsat-9") else "TM"]
    bands: dict[str, Band] = {}
    for sym, n in numbers.items():
        if sym not in keys:
            raise DataFileError.of("error.stac_asset_missing", path=item.label, item=item.id, asset=f"SR_B{n}", href="-")
        scale, offset, nodata = _raster_band(item, keys[sym])
        bands[sym] = Band(name=f"SR_B{n}", paths={30: item.local(keys[sym])}, scale=scale, offset=offset,
                          nodata=SR_FILL if nodata is None else nodata)
    if "QA_PIXEL" not in keys:
        raise DataFileError.of("error.stac_asset_missing", path=item.label, item=item.id, asset="qa_pixel", href="-")
    mask = MaskSource("qa_pixel", {30: item.local(keys["QA_PIXEL"])}, nodata=1)
    extra = {}
    if "QA_RADSAT" in keys and item.present(keys["QA_RADSAT"]):
        extra["qa_radsat"] = MaskSource("qa_radsat", {30: item.local(keys["QA_RADSAT"])}, nodata=None,
                                        bands=tuple(numbers.values()))
    props = item.props
    path_row = f"{int(props.get('landsat:wrs_path', 0)):03d}{int(props.get('landsat:wrs_row', 0)):03d}"
    baseline = f"C{props.get('landsat:collection_number', '?')} {props.get('landsat:collection_category', '')}".strip()
    return Product(id=str(props.get("landsat:product_id") or item.id), source=Path(item.label), kind="landsat",
                   sensor=_platform_name(platform), time=_time(item), tile=path_row, baseline=baseline,
                   crs=_crs(item, bands["R"].path_for()), cloud_percent=_cloud(item), bands=bands, mask=mask,
                   extra_masks=extra)
