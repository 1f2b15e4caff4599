"""The layer catalogue: named vector and raster layers, bundled and per workspace.

The bundled catalogue (``layers/catalog.yml``) lists the real county and city
boundaries. A *workspace* is a folder with its own ``catalog.yml`` (same schema; see
the comments at the top of the bundled file); its entries add to the bundled ones and
override them by name. Without an explicit workspace, the current directory is used if
it has a ``catalog.yml``.

Examples
--------
>>> cat = Catalog(workspace=False)
>>> cat["counties"].synthetic, cat.by_role("city").name
(False, 'city')
>>> gdf = cat.load("counties")
>>> len(gdf), gdf.crs.to_epsg()
(5, 4490)
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gis.config import expect, key_path, load_yaml, shown
from gis.errors import ConfigError, DataFileError, Message, MissingCRSError

log = logging.getLogger(__name__)

__all__ = ["Catalog", "LayerEntry", "BUNDLED_CATALOG", "CATALOG_FILE", "KINDS", "register_layers"]

CATALOG_FILE = "catalog.yml"
BUNDLED_CATALOG = Path(__file__).resolve().parent / CATALOG_FILE
KINDS = ("vector", "raster")
_REQUIRED = ("name", "kind", "path", "synthetic")
_TEXT = ("layer", "crs", "role", "unit", "source", "licence", "title_zh", "title_en", "description")
_ALLOWED = set(_REQUIRED) | set(_TEXT)


@dataclass(frozen=True)
class LayerEntry:
    """One catalogue entry; ``path`` is absolute (resolved against its catalogue)."""

    name: str
    kind: str
    path: Path
    synthetic: bool
    layer: str | None = None
    crs: str | None = None
    role: str | None = None
    unit: str | None = None  # of a raster's values, e.g. "dS/m"; "-" or empty: none
    source: str | None = None
    licence: str | None = None
    title_zh: str | None = None
    title_en: str | None = None
    description: str | None = None
    catalog: Path | None = field(default=None, compare=False)

    def title(self, lang: str = "zh") -> str:
        """The title in ``lang`` (falls back to the other language, then the name)."""
        first, second = (self.title_zh, self.title_en) if lang == "zh" else (self.title_en, self.title_zh)
        return first or second or self.name

    @property
    def value_unit(self) -> str | None:
        """The unit of the raster's values: the ``unit`` field (``-`` or empty: none).
        Older catalogues, written before the field existed, said ``unit: …`` in the
        description, which is still read when the field is absent."""
        unit = self.unit
        if unit is None and self.description:
            m = re.search(r"(?:^|;)\s*unit:\s*([^;]+)", self.description)
            unit = m.group(1).strip() if m else None
        return None if unit in (None, "", "-") else unit

    @property
    def metadata(self) -> dict[str, Any]:
        """Provenance to attach to loaded data (``.attrs``) and show in maps/reports."""
        return {"name": self.name, "kind": self.kind, "role": self.role, "unit": self.value_unit,
                "synthetic": self.synthetic, "source": self.source, "licence": self.licence,
                "title_zh": self.title_zh, "title_en": self.title_en}


def _parse(path: Path) -> list[LayerEntry]:
    """Read and validate one catalogue file."""
    doc = load_yaml(path, what="catalog")
    if doc is None:
        return []
    items = doc.get("layers") if isinstance(doc, dict) else doc
    if isinstance(doc, dict) and set(doc) - {"layers"}:
        raise ConfigError.of("error.catalog_top_keys", path=path, keys=sorted(map(str, set(doc) - {"layers"})))
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigError.of("error.catalog_not_a_list", path=path, type=type(items).__name__)
    seen: set[str] = set()
    return [_entry(item, i, path, seen) for i, item in enumerate(items, start=1)]


def _entry(item: Any, i: int, path: Path, seen: set[str]) -> LayerEntry:
    """Validate entry ``i`` (from 1) of catalogue ``path``; ``seen`` collects the names."""
    where = Message("error.catalog_entry", path=path, i=i)
    if not isinstance(item, dict):
        raise ConfigError.of("error.catalog_not_a_mapping", where=where, item=shown(item))
    if "name" in item:
        where = Message("error.catalog_entry_named", path=path, i=i, name=shown(item["name"]))
    missing = [k for k in _REQUIRED if k not in item or item[k] is None or item[k] == ""]
    if missing:
        raise ConfigError.of("error.catalog_missing_keys", where=where, keys=", ".join(missing),
                             required=", ".join(_REQUIRED))
    unknown = sorted(map(str, set(item) - _ALLOWED))
    if unknown:
        raise ConfigError.of("error.catalog_unknown_keys", where=where, keys=", ".join(unknown),
                             allowed=", ".join(sorted(_ALLOWED)))
    name = _checked_name(item, i, path, where, seen)
    kind = item["kind"]
    _check_values(item, where)
    fields = {k: item.get(k) for k in _TEXT}
    return LayerEntry(name=name, kind=kind, path=(path.parent / item["path"]).resolve(),
                      synthetic=item["synthetic"], catalog=path, **fields)


def _checked_name(item: dict, i: int, path: Path, where: Message, seen: set[str]) -> str:
    """The entry's name, once in the catalogue; name, kind and path are texts (a name may be 2024)."""
    for k in ("name", "kind", "path"):
        if not (k == "name" and isinstance(item[k], int) and not isinstance(item[k], bool)):
            expect(item[k], "text", origin=path, at=key_path("layers", i, k))
    name = str(item["name"])
    if name in seen:
        raise ConfigError.of("error.catalog_duplicate_name", where=where, name=name)
    seen.add(name)
    return name


def _check_values(item: dict, where: Message) -> None:
    """Kind, the synthetic flag, the text fields, the CRS and ``layer`` (vectors only) are valid."""
    import pyproj

    kind = item["kind"]
    if kind not in KINDS:
        raise ConfigError.of("error.catalog_unknown_kind", where=where, kind=kind)
    if not isinstance(item["synthetic"], bool):
        raise ConfigError.of("error.catalog_synthetic", where=where, value=shown(item["synthetic"]))
    for k in _TEXT:
        if k in item and item[k] is not None and not isinstance(item[k], str):
            raise ConfigError.of("error.catalog_not_text", where=where, field=k, value=shown(item[k]))
    crs = item.get("crs")
    if crs:
        try:
            pyproj.CRS.from_user_input(crs)
        except pyproj.exceptions.CRSError as exc:
            raise ConfigError.of("error.catalog_crs", where=where, crs=crs, detail=exc) from exc
    if item.get("layer") and kind != "vector":
        raise ConfigError.of("error.catalog_layer_vector_only", where=where)


def _workspace_catalog(workspace) -> Path | None:
    """The catalogue file of ``workspace`` (None/False/folder/file), or None."""
    if workspace is False:
        return None
    if workspace is None:
        here = Path.cwd() / CATALOG_FILE
        return here if here.is_file() else None
    p = Path(os.fspath(workspace))
    if p.is_dir():
        p = p / CATALOG_FILE
    if not p.is_file():
        raise DataFileError.of("error.workspace_catalog_missing", path=p, file=CATALOG_FILE)
    return p


class Catalog:
    """Named layers from the bundled catalogue plus an optional workspace catalogue.

    Parameters
    ----------
    workspace : path-like, None or False
        A folder holding ``catalog.yml`` or the file itself. None (default): the
        current directory if it has ``catalog.yml``. False: bundled layers only.
    bundled : bool
        Include the bundled catalogue (default True).
    """

    def __init__(self, workspace=None, bundled: bool = True):
        self.files: list[Path] = []
        self._entries: dict[str, LayerEntry] = {}
        sources = [BUNDLED_CATALOG] if bundled else []
        ws = _workspace_catalog(workspace)
        if ws is not None and (not bundled or ws.resolve() != BUNDLED_CATALOG):
            sources.append(ws.resolve())
        for src in sources:
            for entry in _parse(src):
                if entry.name in self._entries:
                    log.debug("%s overrides layer %r from %s", src, entry.name,
                              self._entries[entry.name].catalog)
                self._entries[entry.name] = entry
            self.files.append(src)

    # --- lookup --------------------------------------------------------------------
    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[LayerEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Catalog({', '.join(self._entries)}; from {', '.join(map(str, self.files))})"

    def names(self) -> list[str]:
        """Layer names, bundled first, then the workspace's."""
        return list(self._entries)

    def __getitem__(self, name: str) -> LayerEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError.of(
                "error.unknown_layer", name=name, files=", ".join(map(str, self.files)),
                known=", ".join(self._entries) or Message("error.none"),
            ) from None

    get = __getitem__

    def by_role(self, role: str) -> LayerEntry | None:
        """The entry playing ``role`` (the workspace's wins over the bundled), or None."""
        found = self.entries_by_role(role)
        return found[-1] if found else None

    def load_role(self, role: str, required: bool = True):
        """``(data, entry)`` of the layer playing ``role`` (see :meth:`by_role`), loaded
        as :meth:`load` does; ``(None, None)`` if no layer has the role and it is not
        ``required``. Commands find their county boundaries this way, so a workspace
        that brings its own layer with ``role: counties`` is used by all of them."""
        entry = self.by_role(role)
        if entry is None:
            if not required:
                return None, None
            raise ConfigError.of("error.no_layer_role", role=role, files=", ".join(map(str, self.files)))
        return self.load(entry.name), entry

    def entries_by_role(self, role: str) -> list[LayerEntry]:
        """All entries with ``role``, in catalogue order."""
        return [e for e in self._entries.values() if e.role == role]

    # --- files and data ----------------------------------------------------------------
    def path(self, name: str, must_exist: bool = True) -> Path:
        """Absolute path of layer ``name``'s file; DataFileError if it is missing."""
        entry = self[name]
        if must_exist and not entry.path.exists():
            raise DataFileError.of("error.layer_file_missing", name=name, path=entry.path, catalog=entry.catalog)
        return entry.path

    def load(self, name: str):
        """Load layer ``name``: a GeoDataFrame in EPSG:4490, or a lazy masked DataArray.

        Vector layers are reprojected to EPSG:4490 (a file without CRS gets the
        entry's ``crs``). Rasters are opened lazily with rioxarray (``masked=True``,
        nodata → NaN); a single band is squeezed to 2-D (y, x). Both carry the entry's
        provenance in ``.attrs`` (``synthetic``, ``source``, ``licence``, titles).
        """
        entry = self[name]
        path = self.path(name)
        if entry.kind == "vector":
            return _load_vector(entry, path)
        return _load_raster(entry, path)


def _load_vector(entry: LayerEntry, path: Path):
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path, layer=entry.layer) if entry.layer else gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError/DataLayerError
        sub = Message("error.layer_sublayer", layer=entry.layer) if entry.layer else ""
        raise DataFileError.of("error.layer_unreadable", name=entry.name, path=path, sublayer=sub,
                               detail=exc) from exc
    if gdf.crs is None:
        if not entry.crs:
            raise MissingCRSError.of("error.layer_no_crs", name=entry.name, path=path, catalog=entry.catalog)
        gdf = gdf.set_crs(entry.crs)
    if gdf.crs.to_epsg() != 4490:
        gdf = gdf.to_crs("EPSG:4490")
    gdf.attrs.update(entry.metadata)
    return gdf


def _load_raster(entry: LayerEntry, path: Path):
    from gis.errors import require

    rioxarray = require("rioxarray", "reading raster layers")
    try:
        da = rioxarray.open_rasterio(path, masked=True)
    except Exception as exc:  # rasterio raises RasterioIOError
        raise DataFileError.of("error.raster_layer_unreadable", name=entry.name, path=path, detail=exc) from exc
    if isinstance(da, list):  # pragma: no cover - multi-subdataset files
        raise DataFileError.of("error.layer_subdatasets", name=entry.name, path=path)
    if "band" in da.dims and da.sizes["band"] == 1:
        da = da.squeeze("band", drop=True)
    if da.rio.crs is None:
        if not entry.crs:
            raise MissingCRSError.of("error.raster_layer_no_crs", name=entry.name, path=path,
                                     catalog=entry.catalog)
        da = da.rio.write_crs(entry.crs)
    da.name = entry.name
    da.attrs.update({k: v for k, v in entry.metadata.items() if v is not None})
    da.attrs["synthetic"] = int(entry.synthetic)  # netCDF-safe
    return da


# --------------------------------------------------------------------------- writing


def _catalog_file(where) -> Path:
    p = Path(os.fspath(where))
    return p / CATALOG_FILE if p.is_dir() or not p.suffix else p


def _relative(item: dict, folder: Path) -> dict:
    """``item`` with its ``path`` relative to ``folder`` where it can be (POSIX slashes)."""
    out = dict(item)
    p = Path(os.fspath(item["path"]))
    if p.is_absolute():
        try:
            out["path"] = Path(os.path.relpath(p, folder.resolve())).as_posix()
        except ValueError:  # another drive (Windows)
            out["path"] = p.as_posix()
    else:
        out["path"] = p.as_posix()
    return out


def _appended(text: str, items: list[dict]) -> str | None:
    """``text`` with ``items`` added at the end of its ``layers:`` list, comments kept;
    None if the file's layout does not allow it (checked by reading the result back)."""
    import re

    import yaml

    old = yaml.safe_load(text) if text.strip() else None
    old_items = old.get("layers") if isinstance(old, dict) else old
    if not isinstance(old_items, list) or not old_items:
        return None
    m = re.search(r"^( *)- ", text, flags=re.M)
    pad = m.group(1) if m else ""
    block = yaml.safe_dump(items, allow_unicode=True, sort_keys=False)
    new = text.rstrip("\n") + "\n" + "".join(pad + line for line in block.splitlines(keepends=True))
    back = yaml.safe_load(new)
    back_items = back.get("layers") if isinstance(back, dict) else back
    return new if back_items == old_items + items and isinstance(back, type(old)) else None


def register_layers(where, entries: list[dict]) -> list[str]:
    """Add ``entries`` to the workspace catalogue ``where`` (a folder or its ``catalog.yml``,
    made if missing), replacing entries of the same names; returns the names replaced.

    Each entry is a mapping with the keys of a catalogue entry (see the bundled
    ``catalog.yml``); an absolute ``path`` is written relative to the catalogue. The
    entries are checked as the catalogue reads them. New names are appended below the
    existing entries and the file's comments are kept; when a name is replaced, the
    file is rewritten with its leading comment lines, the other entries in their order
    and the replaced ones at the end (so :meth:`Catalog.by_role` finds them). The file
    is written atomically (:func:`gis.outputs.write_text`).

    Examples
    --------
    >>> import tempfile
    >>> ws = Path(tempfile.mkdtemp())
    >>> e = {"name": "soil_ec", "kind": "raster", "path": str(ws / "soil" / "ec.tif"),
    ...      "synthetic": False, "role": "soil_ec"}
    >>> register_layers(ws, [e]), register_layers(ws, [e])
    ([], ['soil_ec'])
    >>> entry = Catalog(ws)["soil_ec"]
    >>> entry.role, entry.path == (ws / "soil" / "ec.tif").resolve()
    ('soil_ec', True)
    """
    from itertools import takewhile

    import yaml

    from gis.outputs import write_text

    path = _catalog_file(where)
    items = [_relative(e, path.parent) for e in entries]
    seen: set[str] = set()
    for i, item in enumerate(items, start=1):
        _entry(item, i, path, seen)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    _parse(path) if text else None  # a broken catalogue stops here, with its own message
    old = (yaml.safe_load(text) if text.strip() else None) or {}
    old_items = (old.get("layers") if isinstance(old, dict) else old) or []
    replaced = [str(o["name"]) for o in old_items if str(o.get("name")) in seen]
    new = None if replaced else _appended(text, items)
    if new is None:
        head = "".join(takewhile(lambda line: line.startswith("#"), text.splitlines(keepends=True))) if text \
            else "# agrigis workspace catalogue (the keys of an entry: see layers/catalog.yml of agrigis)\n"
        kept = [o for o in old_items if str(o.get("name")) not in seen]
        new = head + yaml.safe_dump({"layers": kept + items}, allow_unicode=True, sort_keys=False)
    write_text(path, new)
    log.info("%s: registered %s (replaced: %s)", path, ", ".join(seen), ", ".join(replaced) or "-")
    return replaced
