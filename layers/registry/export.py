"""Exports of the registry (GeoPackage, Shapefile, GeoJSON, CSV, XLSX, boundary-point TXT)
and the rules for which existing files an export may replace."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gis.labels import label

from .model import TABLE, now_iso

EXPORT_MARK = "agrigis registry export"
"""Text every export carries (layer description, CSV/Excel note): an existing file with it
may be replaced by the next export; any other existing file is refused."""

_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_EXPORT_DRIVERS = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON",
                   ".csv": None, ".xlsx": None, ".txt": None}


def _same_file(a: Path, b: Path) -> bool:
    """``a`` and ``b`` are one file: the same path, a symbolic link to it, or a hard link."""
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        pass
    try:
        return a.resolve() == b.resolve()
    except OSError:  # pragma: no cover - a link loop
        return False


def _is_own_export(path: Path) -> bool:
    """``path`` was written by :meth:`Registry.export` (it carries :data:`EXPORT_MARK`)."""
    import zipfile

    suffix = path.suffix.lower()
    mark = EXPORT_MARK.encode()
    try:
        if suffix == ".gpkg":
            con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                desc = con.execute("SELECT description FROM gpkg_contents WHERE table_name = ?", (TABLE,)).fetchone()
            finally:
                con.close()
            return "batches" not in names and bool(desc) and EXPORT_MARK in (desc[0] or "")
        if suffix in (".geojson", ".json"):
            with open(path, "rb") as f:
                return mark in f.read(65536)
        if suffix == ".csv":
            with open(path, "rb") as f:
                f.seek(max(0, path.stat().st_size - 4096))
                return mark in f.read()
        if suffix == ".xlsx":
            return _xlsx_has(path, mark)
        if suffix == ".txt":
            with open(path, "rb") as f:
                return f"数据产生单位={EXPORT_MARK}".encode("gb18030") in f.read(4096)
    except (OSError, sqlite3.Error, ValueError, zipfile.BadZipFile):
        return False
    return False  # a Shapefile carries no mark: replacing one needs --force


def _xlsx_has(path: Path, mark: bytes, limit: int = 256 << 20) -> bool:
    """A sheet or the shared strings of an .xlsx contain ``mark`` (read in chunks, at most
    ``limit`` bytes in all: a hostile file cannot make this slow)."""
    import zipfile

    seen = 0
    with zipfile.ZipFile(path) as z:
        members = [n for n in z.namelist() if n.startswith("xl/worksheets/") or n == "xl/sharedStrings.xml"]
        for name in members:
            with z.open(name) as f:
                tail = b""
                while seen < limit:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    if mark in tail + chunk:
                        return True
                    tail, seen = chunk[-len(mark):], seen + len(chunk)
    return False


def _export_table(gdf, out: Path, notes: list[str], lang: str) -> Path:
    """CSV or XLSX through :mod:`gis.outputs` (formula-looking text stays text)."""
    from gis.outputs import Sheet, write_csv, write_excel

    df = pd.DataFrame(gdf.drop(columns="geometry"))
    df["geometry_wkt"] = gdf.geometry.to_wkt(rounding_precision=-1)  # full precision: a re-import changes nothing
    df = df.rename(columns={c: label(f"column.{c}", lang) for c in df.columns if _has_label(c)})
    if out.suffix.lower() == ".csv":
        return write_csv(out, df, note=" · ".join(notes))
    return write_excel(out, [Sheet(TABLE, df, notes=notes)], footer=notes[-1] if len(notes) > 1 else "")


def _export_filter(gdf, category: str | None, county: str | None):
    """The projects of one category and/or county (a code, or its Chinese or English name)."""
    from gis.errors import InputError
    from gis.labels import CATEGORIES, COUNTIES

    for col, value, codes in (("category", category, CATEGORIES), ("county_code", county, COUNTIES)):
        if value is None:
            continue
        code = next((str(c) for c, names in codes.items() if value in (str(c), *names)), None)
        if code is None:
            raise InputError.of("error.export_filter", what=col, value=value, choices=", ".join(map(str, codes)))
        gdf = gdf[gdf[col] == code]
    return gdf


def _export_txt(gdf, out: Path, per_project: bool, check) -> Path:
    """The boundary-point TXT: one file for all projects, or one per project in the folder
    ``out``; CGCS2000 3° Gauss-Krüger with the zone prefix of the projects' middle
    longitude; written GB18030 (GBK for every GBK character) through :mod:`gis.outputs`.
    ``check(path)`` refuses a target that may not be replaced."""
    from gis.crs import gk_zone_crs
    from gis.outputs import atomic_write, staged_outputs
    from gis.errors import InputError
    from gis.units import mu_to_ha
    from layers.boundary_txt import TxtParcelOut, format_boundary_txt

    if gdf.empty:
        raise InputError.of("error.export_nothing", path=out)
    gdf = gdf.sort_values("project_code", kind="stable")
    lon = shapely.get_x(shapely.centroid(np.asarray(gdf.geometry.values, dtype=object)))
    zone = int(np.floor(float(np.median(lon)) / 3 + 0.5))
    plane = gdf.geometry.to_crs(gk_zone_crs(zone, 3, prefix=True))
    parcels = [TxtParcelOut(str(r.project_code), str(r.project_name or ""), label(f"category.{r.category}"),
                            float(mu_to_ha(_txt_area_mu(r))), g)
               for r, g in zip(gdf.itertuples(), plane, strict=True)]
    text = lambda ps: format_boundary_txt(ps, zone=zone, producer=EXPORT_MARK,  # noqa: E731
                                          date=now_iso()[:10]).encode("gb18030")
    if not per_project:
        check(out)
        return atomic_write(out, lambda tmp: tmp.write_bytes(text(parcels)))
    names = [f"{_file_name(p.code)}.txt" for p in parcels]
    for n in names:
        check(out / n)
    with staged_outputs(out, names) as tmp:
        for n, p in zip(names, parcels, strict=True):
            (tmp / n).write_bytes(text([p]))
    return out


def _txt_area_mu(r) -> float:
    """The TXT's 地块面积 is the area the county declares: the version's declared area, or
    the computed one when it has none (an import reads it back as the declared area, so a
    round trip export → ``import --update`` changes nothing for a version that has one)."""
    declared = getattr(r, "declared_area_mu", None)
    return float(declared) if declared is not None and not pd.isna(declared) else float(r.area_mu)


def _file_name(code: str) -> str:
    """A project code as a file name (characters no file system takes become ``_``)."""
    import re

    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", code).strip(". ") or "_"


def _export_layer(gdf, out: Path, driver: str, mark: str) -> Path:
    """GeoPackage, GeoJSON or Shapefile through :mod:`gis.outputs` (temp file, then rename)."""
    import pyogrio

    from gis.outputs import atomic_write, staged_outputs

    data = gdf.reset_index(drop=True)
    if driver == "ESRI Shapefile":
        from layers.fields import shapefile_columns

        data = data.rename(columns=shapefile_columns(data.columns))  # our ≤ 10-character DBF names
        names = [out.with_suffix(s).name for s in _SHP_PARTS]
        with staged_outputs(out.parent, names) as tmp:
            pyogrio.write_dataframe(data, tmp / out.name, driver=driver, encoding="UTF-8")
        return out
    layer = TABLE if driver == "GPKG" else None
    return atomic_write(out, lambda tmp: pyogrio.write_dataframe(
        data, tmp, layer=layer, driver=driver, layer_options={"DESCRIPTION": mark}))


def _has_label(col: str) -> bool:
    from gis.labels import LABELS

    return f"column.{col}" in LABELS
