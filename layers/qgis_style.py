"""QGIS layer style of the registry's ``projects`` layer: categorised by ``category``.

QGIS reads default styles of GeoPackage layers from the ``layer_styles`` table (the
same table QGIS writes with "Save as default → Datasource database"). The registry
writes one row there, so ``registry.gpkg`` opens categorised and labelled in Chinese.

Colours come from :data:`gis.labels.CATEGORY_COLORS`, the same table the field maps use.

Examples
--------
>>> qml = projects_qml()
>>> 'type="categorizedSymbol"' in qml and 'value="paddy_new"' in qml
True
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from gis.labels import CATEGORIES, CATEGORY_COLORS, OTHER_COLOR


STYLE_NAME = "agrigis_categories"


def _rgba(hex_colour: str, alpha: int = 150) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def _symbol(name: str, colour: str) -> str:
    return (
        f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        '<layer class="SimpleFill" enabled="1" locked="0" pass="0">'
        '<Option type="Map">'
        f'<Option type="QString" name="color" value="{_rgba(colour)}"/>'
        f'<Option type="QString" name="outline_color" value="{_rgba(colour, 255)}"/>'
        '<Option type="QString" name="outline_style" value="solid"/>'
        '<Option type="QString" name="outline_width" value="0.4"/>'
        '<Option type="QString" name="outline_width_unit" value="MM"/>'
        '<Option type="QString" name="style" value="solid"/>'
        "</Option></layer></symbol>"
    )


def projects_qml(lang: str = "zh") -> str:
    """QML of a categorised renderer on ``category`` with labels in ``lang``."""
    i = 0 if lang == "zh" else 1
    cats, syms = [], []
    for n, (code, names) in enumerate(CATEGORIES.items()):
        colour = CATEGORY_COLORS.get(code, OTHER_COLOR)
        cats.append(f'<category render="true" symbol="{n}" value="{code}" label={quoteattr(names[i])}/>')
        syms.append(_symbol(str(n), colour))
    label_field = "project_name"
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0" styleCategories="Symbology|Labeling">\n'
        '<renderer-v2 type="categorizedSymbol" attr="category" symbollevels="0" enableorderby="0" forceraster="0">\n'
        f"<categories>{''.join(cats)}</categories>\n"
        f"<symbols>{''.join(syms)}</symbols>\n"
        "</renderer-v2>\n"
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName="{label_field}" fontSize="9" textColor="0,0,0,255" '
        'fontFamily="Noto Sans CJK SC" isExpression="0"/>'
        '<placement placement="1"/>'
        '<rendering scaleVisibility="1" scaleMax="1" scaleMin="50000"/>'
        "</settings></labeling>\n"
        "</qgis>\n"
    )


def projects_sld(lang: str = "zh") -> str:
    """A minimal SLD with the same categories (for tools that read SLD, e.g. GeoServer)."""
    i = 0 if lang == "zh" else 1
    rules = []
    for code, names in CATEGORIES.items():
        colour = CATEGORY_COLORS.get(code, OTHER_COLOR)
        rules.append(
            f"<se:Rule><se:Name>{code}</se:Name><se:Description><se:Title>{names[i]}</se:Title></se:Description>"
            f'<ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>category</ogc:PropertyName>'
            f"<ogc:Literal>{code}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>"
            f'<se:PolygonSymbolizer><se:Fill><se:SvgParameter name="fill">{colour}</se:SvgParameter>'
            '<se:SvgParameter name="fill-opacity">0.6</se:SvgParameter></se:Fill>'
            f'<se:Stroke><se:SvgParameter name="stroke">{colour}</se:SvgParameter></se:Stroke>'
            "</se:PolygonSymbolizer></se:Rule>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" '
        'xmlns:se="http://www.opengis.net/se" version="1.1.0">'
        "<NamedLayer><se:Name>projects</se:Name><UserStyle><se:Name>agrigis</se:Name>"
        f"<se:FeatureTypeStyle>{''.join(rules)}</se:FeatureTypeStyle></UserStyle></NamedLayer>"
        "</StyledLayerDescriptor>"
    )


LAYER_STYLES_DDL = """
CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  f_table_catalog TEXT(256),
  f_table_schema TEXT(256),
  f_table_name TEXT(256),
  f_geometry_column TEXT(256),
  styleName TEXT(30),
  styleQML TEXT,
  styleSLD TEXT,
  useAsDefault BOOLEAN,
  description TEXT,
  owner TEXT(30),
  ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)
"""
"""The table QGIS reads default layer styles from (its own schema)."""


def style_rows(table: str = "projects", geom_column: str = "geom") -> list[tuple]:
    """Rows for ``layer_styles``: (f_table_catalog … description)."""
    return [
        ("", "", table, geom_column, STYLE_NAME, projects_qml("zh"), projects_sld("zh"), 1,
         "agrigis: categorised by project category (项目类型)", "agrigis", None)
    ]
