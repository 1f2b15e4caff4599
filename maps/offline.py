"""Offline bundling: every script, stylesheet and icon of a map inlined into one HTML file.

Leaflet comes from the pinned pip package ``xstatic-leaflet`` (1.9.3.0, BSD-2-Clause);
the field tools, popups and legend are our own small script ``maps/assets/agrigis.js``,
the field inspections ``maps/assets/inspect.js``; the PMTiles reader for imagery opened
from the phone is the npm ``pmtiles`` build (BSD-3-Clause, ``maps/assets/pmtiles.js``).
Nothing is downloaded when a map is built. Folium's default CDN references (jQuery,
Bootstrap, Font Awesome, awesome-markers) are dropped: our maps do not use them.
With ``online=True`` Leaflet is linked from a CDN instead (smaller file); our own
script is always inlined.
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from pathlib import Path

ASSETS = Path(__file__).with_name("assets")
LEAFLET_VERSION = "1.9.3"
LEAFLET_CDN_JS = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.js"
LEAFLET_CDN_CSS = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.css"


def _leaflet_dir() -> Path:
    import xstatic.pkg.leaflet as xl

    return Path(xl.BASE_DIR)


@lru_cache(maxsize=None)
def leaflet_js() -> str:
    """Leaflet's minified script from xstatic-leaflet (source map comment removed)."""
    js = (_leaflet_dir() / "leaflet.js").read_text(encoding="utf-8")
    return re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)


@lru_cache(maxsize=None)
def leaflet_css() -> str:
    """Leaflet's stylesheet with its images turned into data: URIs."""
    d = _leaflet_dir()
    css = (d / "leaflet.css").read_text(encoding="utf-8")

    def repl(m: re.Match) -> str:
        name = m.group(1)
        data = base64.b64encode((d / "images" / name).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\(images/([\w.-]+\.png)\)", repl, css)


@lru_cache(maxsize=None)
def own_js() -> str:
    """Our scripts: the map (``agrigis.js``) and the field inspections (``inspect.js``)."""
    return "\n".join((ASSETS / n).read_text(encoding="utf-8") for n in ("agrigis.js", "inspect.js"))


@lru_cache(maxsize=None)
def pmtiles_js() -> str:
    """The PMTiles reader for imagery a field team opens from the phone (npm ``pmtiles``
    4.5.0, BSD-3-Clause, see ``assets/pmtiles-LICENSE.md``)."""
    return (ASSETS / "pmtiles.js").read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def own_css() -> str:
    return (ASSETS / "agrigis.css").read_text(encoding="utf-8")


def _inline_script(code: str) -> str:
    # "</script" inside a script would end it early; Leaflet and ours contain none.
    assert "</script" not in code.lower()
    return f"<script>{code}</script>"


def head_html(online: bool = False) -> str:
    """The <head> part: Leaflet and our assets, inlined (or Leaflet linked when online)."""
    if online:
        leaflet = (
            f'<link rel="stylesheet" href="{LEAFLET_CDN_CSS}"/>\n'
            f'<script src="{LEAFLET_CDN_JS}"></script>'
        )
    else:
        leaflet = f"<style>{leaflet_css()}</style>\n{_inline_script(leaflet_js())}"
    return (f"{leaflet}\n<style>{own_css()}</style>\n{_inline_script(pmtiles_js())}\n"
            f"{_inline_script(own_js())}")


def safe_json(obj) -> str:
    """JSON that is safe inside an inline <script> (no '<', '>', '&', U+2028/9 raw).

    >>> safe_json({"name": "</script><b>"})
    '{"name":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"}'
    """
    return escape_json_text(json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False))


def escape_json_text(text: str) -> str:
    """Escape an already serialised JSON text for an inline <script>."""
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


_EXTERNAL = re.compile(
    r"""<script[^>]*\bsrc\s*=\s*["']?(?!data:)[^"'\s>]+"""
    r"""|<link[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^"'\s>]+"""
    r"""|@import\s+(?:url\()?\s*["']?(?:https?:)?//[^"'\s>)]+"""
    r"""|url\(\s*["']?(?:https?:)?//[^"'\s>)]+""",
    re.IGNORECASE,
)


def external_references(html: str) -> list[str]:
    """Every external script, stylesheet, @import or CSS url() left in ``html``.

    Tile URL templates inside our JSON config are not references of the page and are
    not matched (they are only fetched as map tiles).

    >>> external_references('<script src="https://x/y.js"></script><p>ok</p>')
    ['<script src="https://x/y.js']
    >>> external_references('<style>a{}</style><script>var u="https://t/{z}";</script>')
    []
    """
    return [m.group(0) for m in _EXTERNAL.finditer(html)]
