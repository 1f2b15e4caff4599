"""Basemaps: none, OpenStreetMap, Tianditu (天地图) and Gaode/Amap (高德).

The chosen basemap fixes the coordinate frame of the whole map:

* ``none``, ``osm``, ``tianditu-vec``, ``tianditu-img``: WGS84/CGCS2000 frame; the layer
  switcher offers these four (Tianditu only with a key).
* ``gaode-vec``, ``gaode-img``: Gaode tiles are GCJ-02, so every layer is shifted to GCJ-02
  for display; the switcher offers only Gaode layers (and none), because a WGS84 basemap
  under shifted data would be ~550 m off. GPS positions are shifted the same way, and
  sketches are shifted back before export.

Tianditu needs a key (``tk``): from the ``tianditu_key`` argument or the environment
variable ``AGRIGIS_TIANDITU_KEY``; it is never stored in code. Without one the Tianditu
layers are left out and the map says so. Note that the key ends up in the HTML file
(the browser must send it with each tile request).
"""

from __future__ import annotations

import logging
import os

from gis.errors import InputError
from gis.labels import label

log = logging.getLogger(__name__)

BASEMAPS = ("none", "osm", "tianditu-vec", "tianditu-img", "gaode-vec", "gaode-img")
GCJ_BASEMAPS = ("gaode-vec", "gaode-img")
TIANDITU_ENV = "AGRIGIS_TIANDITU_KEY"

_OSM = {
    "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "subdomains": "abc",
    "attribution": '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>',
    "maxNativeZoom": 19,
}


def _tianditu(layer: str, key: str) -> dict:
    url = (
        f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
        f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
    )
    return {"url": url, "subdomains": "01234567", "attribution": "&copy; 天地图 Tianditu", "maxNativeZoom": 18}


def _gaode(host: str, style: int) -> dict:
    return {
        "url": f"https://{host}0{{s}}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style={style}&x={{x}}&y={{y}}&z={{z}}",
        "subdomains": "1234",
        "attribution": "&copy; 高德地图 AutoNavi (GCJ-02)",
        "maxNativeZoom": 18,
    }


def tianditu_key(key: str | None = None) -> str | None:
    """The Tianditu key: the argument, else ``$AGRIGIS_TIANDITU_KEY``, else None."""
    key = key or os.environ.get(TIANDITU_ENV) or None
    if key is not None and not key.replace("-", "").isalnum():
        raise InputError.of("error.tianditu_key", key=key)
    return key


def is_gcj(basemap: str) -> bool:
    return check_basemap(basemap) in GCJ_BASEMAPS


def check_basemap(basemap: str) -> str:
    if basemap not in BASEMAPS:
        raise InputError.of("error.unknown_basemap", basemap=basemap, choices=", ".join(BASEMAPS))
    return basemap


def basemap_specs(basemap: str = "osm", lang: str = "zh", key: str | None = None) -> tuple[list[dict], list[str]]:
    """Basemap entries for the map's layer switcher, and notes for the legend.

    Returns ``(specs, notes)``; each spec is ``{"name", "tiles": [...], "show"}``.

    Examples
    --------
    >>> specs, notes = basemap_specs("osm", "en", key=None)
    >>> [s["name"] for s in specs]
    ['OpenStreetMap', 'No basemap']
    """
    check_basemap(basemap)
    key = tianditu_key(key)
    notes: list[str] = []
    specs: list[dict] = []

    def add(code: str, tiles: list[dict]) -> None:
        specs.append({"name": label(f"maps.basemap.{code.replace('-', '_')}", lang), "tiles": tiles, "show": code == basemap})

    if basemap in GCJ_BASEMAPS:
        add("gaode-vec", [_gaode("webrd", 8)])
        add("gaode-img", [_gaode("webst", 6), _gaode("webst", 8)])  # imagery + road/label overlay
        notes.append(label("maps.gcj_note", lang))
    else:
        add("osm", [_OSM])
        if key:
            add("tianditu-vec", [_tianditu("vec", key), _tianditu("cva", key)])
            add("tianditu-img", [_tianditu("img", key), _tianditu("cia", key)])
        elif basemap.startswith("tianditu"):
            log.warning("no Tianditu key (set %s); using OpenStreetMap instead", TIANDITU_ENV)
            specs[0]["show"] = True
            notes.append(label("maps.tianditu_no_key", lang))
    add("none", [])
    return specs, notes
