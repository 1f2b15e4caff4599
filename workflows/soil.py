"""``agrigis soil``: a soil sample table → a soil property raster, its uncertainty and a report.

Recipe: read the samples (:func:`layers.samples.read_samples`: columns, units, depth
classes, EC method, rejects), keep one property of one depth class (and one EC method),
lay the grid (EPSG:4550, ``--res``) over the AOI (a county, the city or bounds), mask what
is outside the AOI and — if the workspace catalogue has a land-cover layer — water and
built-up land, interpolate (:mod:`gis.geostat`: ordinary kriging with a fitted variogram,
or IDW), cross-validate, and write the estimate and kriging standard-deviation GeoTIFFs,
``soil_report.xlsx`` and the rejects, all together (:func:`gis.outputs.staged_outputs`).

The GeoTIFFs are ordinary EPSG:4550 float32 rasters (nodata NaN), so
:func:`gis.zonal_stats`, :func:`gis.salinity.classify` and :func:`gis.salinity.class_area_mu`
take them unchanged.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
import pandas as pd

from workflows.options import lang_option

log = logging.getLogger(__name__)

PROPERTY_NAMES = {"ph": "ph", "ec": "ec", "salt": "salt", "全盐量": "salt", "esp": "esp", "电导率": "ec",
                  "碱化度": "esp"}
CITY_NAMES = ("city", "baicheng", "白城", "白城市")
LANDCOVER_MASKED = ("water", "built_up")
"""Land-cover class codes (``landcover_classes.csv``) where no soil value is mapped."""
REPORT = "soil_report.xlsx"
REJECTS = "soil_rejects.csv"


@dataclass(frozen=True)
class SoilOptions:
    """Options of :func:`soil_maps` (the ``agrigis soil`` options)."""

    prop: str = "ec"
    method: str = "kriging"
    res: float = 100.0
    aoi: str | None = None
    depth: str = "0-20"
    ec_method: str | None = None
    log: bool = False
    neighbours: int = 32
    folds: int | None = None
    crs: str | None = None
    workspace: object = None
    lang: str = "zh"


@dataclass
class SoilResult:
    """What :func:`soil_maps` did: the files written and the figures of the report."""

    files: list[Path]
    n_samples: int
    n_rejects: int
    variogram: object | None
    cv: object
    masked_cells: int
    cells: int
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- samples


def property_code(name: str) -> str:
    """``EC`` → ``ec``, ``全盐量`` → ``salt`` …

    Examples
    --------
    >>> property_code("EC"), property_code("pH"), property_code("碱化度")
    ('ec', 'ph', 'esp')
    """
    from gis.errors import InputError

    code = PROPERTY_NAMES.get(str(name).strip().lower())
    if code is None:
        raise InputError.of("error.soil_property", value=name, choices="pH, EC, salt, ESP")
    return code


def _ec_rows(frame: pd.DataFrame, wanted: str | None, notes: list[str], lang: str) -> pd.Series:
    """Rows of one EC method; several methods or an unknown one without ``wanted`` stop."""
    from gis.errors import InputError
    from gis.labels import message
    from layers.samples import sample_fields

    methods = frame["ec_method"]
    if wanted is not None:
        code = sample_fields().ec_method(wanted)
        if code is None:
            raise InputError.of("error.soil_ec_method_option", value=wanted)
        unknown = int(methods.isna().sum())
        if unknown:
            notes.append(message("note.soil_ec_method_assumed", lang, n=unknown, method=code))
        return methods.isna() | (methods == code)
    known = sorted(set(methods.dropna()))
    if methods.isna().any() or len(known) > 1:
        counts = ", ".join(f"{m}: {int((methods == m).sum())}" for m in known)
        raise InputError.of("error.soil_ec_methods_mixed", counts=counts or "-", unknown=int(methods.isna().sum()))
    return methods.notna()


def select_samples(read, options: SoilOptions, notes: list[str]) -> pd.DataFrame:
    """The samples of one property, depth class (and EC method) with a value."""
    from gis.errors import InputError

    frame = read.frame
    if options.prop not in frame.columns:
        raise InputError.of("error.soil_property_missing", path=read.source, property=options.prop)
    use = (frame["depth"] == options.depth) & frame[options.prop].notna()
    if options.prop == "ec":
        use &= _ec_rows(frame, options.ec_method, notes, options.lang)
    picked = frame.loc[use]
    if len(picked) < 3:
        raise InputError.of("error.soil_too_few_samples", n=len(picked), need=3)
    return picked


# --------------------------------------------------------------------------- grid and masks


def _county_rows(counties, aoi: str) -> np.ndarray:
    """Rows of the county layer named by ``aoi`` (code, Chinese name with or without 县/市/区,
    pinyin or English name)."""
    from layers.fields import norm

    want = norm(aoi)
    hit = np.zeros(len(counties), dtype=bool)
    for col in ("county_code", "name_zh", "name_pinyin", "name_en"):
        if col not in counties.columns:
            continue
        names = counties[col].astype(str).map(norm)
        short = names.str.replace(r"(县|市|区|xian|shi|qu|county|city|district)$", "", regex=True)
        hit |= ((names == want) | (short == want)).to_numpy()
    return hit


def _aoi_shape(aoi: str | None, workspace, samples: pd.DataFrame):
    """``(bounds in EPSG:4550, polygon in EPSG:4550 or None)`` of the AOI."""
    import geopandas as gpd

    import layers
    from gis.errors import InputError

    if aoi is None:
        x, y = samples["x"].to_numpy(), samples["y"].to_numpy()
        return (x.min(), y.min(), x.max(), y.max()), None
    parts = aoi.split(",")
    if len(parts) == 4:
        try:
            return tuple(float(p) for p in parts), None
        except ValueError:
            raise InputError.of("error.soil_aoi", value=aoi) from None
    if aoi.strip().lower() in CITY_NAMES:
        shape = layers.load_role("city", workspace)
    else:
        counties = layers.load_role("counties", workspace)
        shape = counties.loc[_county_rows(counties, aoi)]
        if shape.empty:
            raise InputError.of("error.soil_aoi", value=aoi)
    geom = gpd.GeoSeries(shape.geometry, crs=shape.crs).to_crs("EPSG:4550").union_all()
    return geom.bounds, geom


def _landcover_mask(grid, workspace, notes: list[str], lang: str) -> np.ndarray | None:
    """True on water and built-up cells of the catalogue's land cover, or None."""
    import rasterio
    from rasterio.warp import Resampling, reproject

    import layers
    from gis.errors import AgrigisError
    from gis.labels import message

    try:
        cat = layers.get_catalog(workspace)
        entry = cat.by_role("landcover")
        path = cat.path(entry.name) if entry is not None else None
    except AgrigisError:
        path = None
    if path is None:
        notes.append(message("note.soil_no_landcover", lang))
        return None
    classes = path.with_name(f"{path.stem}_classes.csv")
    if not classes.exists():
        notes.append(message("note.soil_no_landcover", lang))
        return None
    table = pd.read_csv(classes)
    values = table.loc[table["code"].isin(LANDCOVER_MASKED), "value"].to_numpy()
    out = np.zeros((grid.height, grid.width), dtype="int32")
    with rasterio.open(path) as src:
        reproject(rasterio.band(src, 1), out, dst_transform=grid.transform, dst_crs=grid.crs,
                  resampling=Resampling.nearest)
    notes.append(message("note.soil_landcover_masked", lang, layer=entry.name))
    return np.isin(out, values)


def build_grid(options: SoilOptions, samples: pd.DataFrame, notes: list[str]):
    """``(Grid, mask)``: the EPSG:4550 grid over the AOI and True where nothing is mapped."""
    from rasterio.features import geometry_mask

    from gis.coverage import Grid

    bounds, shape = _aoi_shape(options.aoi, options.workspace, samples)
    grid = Grid.from_bounds(bounds, crs="EPSG:4550", res=options.res)
    mask = np.zeros((grid.height, grid.width), dtype=bool)
    if shape is not None:
        mask |= geometry_mask([shape], out_shape=mask.shape, transform=grid.transform)
    lc = _landcover_mask(grid, options.workspace, notes, options.lang)
    if lc is not None:
        mask |= lc
    return grid, mask


# --------------------------------------------------------------------------- interpolation


def _predictor(method: str, variogram, options: SoilOptions):
    from gis.geostat import KrigingOptions, Prediction, idw, krige

    if method == "idw":
        return lambda xy, z, t: Prediction(idw(xy, z, t), np.full(len(t), np.nan))
    kopt = KrigingOptions(neighbours=options.neighbours, log=options.log)
    return lambda xy, z, t: krige(xy, z, t, variogram, kopt)


def interpolate(samples: pd.DataFrame, grid, mask: np.ndarray, options: SoilOptions):
    """``(estimate, std or None, variogram or None, CVResult)`` on ``grid`` (NaN where masked)."""
    from gis.errors import InputError
    from gis.geostat import cross_validate, fit_variogram

    if options.method not in ("kriging", "idw"):
        raise InputError.of("error.soil_method", value=options.method)
    xy = samples[["x", "y"]].to_numpy(dtype="float64")
    z = samples[options.prop].to_numpy(dtype="float64")
    variogram = None
    if options.method == "kriging":
        if options.log and np.any(z <= 0):
            raise InputError.of("error.soil_log_nonpositive", n=int(np.sum(z <= 0)), min=float(z.min()))
        variogram = fit_variogram(xy, np.log(z) if options.log else z)
    predict = _predictor(options.method, variogram, options)
    cx, cy = grid.coords()
    rows, cols = np.nonzero(~mask)
    est = np.full(mask.shape, np.nan, dtype="float32")
    std = np.full(mask.shape, np.nan, dtype="float32") if options.method == "kriging" else None
    if len(rows):
        p = predict(xy, z, np.column_stack([cx[cols], cy[rows]]))
        est[rows, cols] = p.estimate
        if std is not None:
            std[rows, cols] = p.std
    cv = cross_validate(xy, z, predict, folds=options.folds)
    return est, std, variogram, cv


def write_geotiff(path: Path, array: np.ndarray, grid) -> Path:
    """A float32 GeoTIFF (nodata NaN, deflate) of ``array`` on ``grid``, written atomically."""
    import rasterio

    from gis.outputs import atomic_write

    def write(tmp: Path) -> None:
        with rasterio.open(tmp, "w", driver="GTiff", width=grid.width, height=grid.height, count=1,
                           dtype="float32", crs=grid.crs, transform=grid.transform, nodata=float("nan"),
                           compress="deflate", tiled=True) as dst:
            dst.write(array.astype("float32"), 1)

    return atomic_write(path, write)


# --------------------------------------------------------------------------- report


def _summary(options: SoilOptions, samples, read, variogram, cv, unit: str) -> pd.DataFrame:
    from gis.labels import label

    L = options.lang
    rows = [("property", options.prop.upper() if options.prop != "ph" else "pH"), ("unit", unit),
            ("depth", options.depth), ("method", options.method), ("log", "yes" if options.log else "no"),
            ("n_samples", len(samples)), ("n_read", read.n_read), ("n_rejects", len(read.rejects))]
    if options.prop == "ec":
        rows.append(("ec_method", str(samples["ec_method"].dropna().iloc[0]) if samples["ec_method"].notna().any()
                     else options.ec_method or ""))
    if variogram is not None:
        rows += [("variogram_model", variogram.model), ("nugget", variogram.nugget), ("sill", variogram.sill),
                 ("range_m", variogram.range)]
    rows += [("cv_folds", cv.folds)] + [(f"cv_{k}", v) for k, v in cv.stats.items() if k != "n"]
    return pd.DataFrame({label("soil.col.item", L): [label(f"soil.item.{k}", L) for k, _ in rows],
                         label("soil.col.value", L): [v for _, v in rows]})


def report_sheets(options: SoilOptions, samples, read, variogram, cv, notes: list[str]):
    """The sheets of ``soil_report.xlsx``: summary, variogram, cross-validation, rejects."""
    from gis.labels import label
    from gis.outputs import Sheet
    from layers.samples import UNITS

    L = options.lang
    sheets = [Sheet(label("soil.sheet.summary", L), _summary(options, samples, read, variogram, cv,
                                                              UNITS[options.prop]), notes=notes)]
    if variogram is not None:
        sheets.append(Sheet(label("soil.sheet.variogram", L), pd.DataFrame({
            label("soil.col.lag_m", L): variogram.lags, label("soil.col.semivariance", L): variogram.semivariance,
            label("soil.col.pairs", L): variogram.pairs,
            label("soil.col.model", L): variogram(np.asarray(variogram.lags)).tolist()})))
    sheets.append(Sheet(label("soil.sheet.cv", L), pd.DataFrame({
        label("soil.col.row", L): samples["_row"].to_numpy(), label("soil.col.sample_id", L): samples["sample_id"],
        label("soil.col.observed", L): cv.observed, label("soil.col.predicted", L): cv.predicted,
        label("soil.col.std", L): cv.std})))
    rej = read.rejects.rename(columns={"_row": label("soil.col.row", L), "column": label("soil.col.column", L),
                                       "value": label("soil.col.raw", L), "reason": label("soil.col.reason", L)})
    sheets.append(Sheet(label("soil.sheet.rejects", L), rej))
    return sheets


# --------------------------------------------------------------------------- the job


def soil_maps(samples_path: str | os.PathLike, output: str | os.PathLike, options: SoilOptions = SoilOptions()
              ) -> SoilResult:
    """Read ``samples_path``, interpolate ``options.prop`` and write everything into ``output``."""
    from gis.outputs import staged_outputs, write_csv, write_excel
    from layers.samples import read_samples

    read = read_samples(samples_path, crs=options.crs, lang=options.lang)
    notes = list(read.notes)
    samples = select_samples(read, options, notes)
    grid, mask = build_grid(options, samples, notes)
    est, std, variogram, cv = interpolate(samples, grid, mask, options)
    stem = f"{options.prop}_{options.depth}_{options.method}"
    names = [f"{stem}.tif", REPORT] + ([f"{stem}_std.tif"] if std is not None else []) + \
        ([REJECTS] if len(read.rejects) else [])
    out = Path(output)
    with staged_outputs(out, names) as tmp:
        write_geotiff(tmp / f"{stem}.tif", est, grid)
        if std is not None:
            write_geotiff(tmp / f"{stem}_std.tif", std, grid)
        write_excel(tmp / REPORT, report_sheets(options, samples, read, variogram, cv, notes))
        if len(read.rejects):
            write_csv(tmp / REJECTS, read.rejects)
    return SoilResult([out / n for n in names], len(samples), len(read.rejects), variogram, cv,
                      int(mask.sum()), mask.size, notes)


@click.command("soil")
@click.argument("samples", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--property", "prop", default="EC", show_default=True, help="pH, EC, salt or ESP.")
@click.option("--method", type=click.Choice(["kriging", "idw"]), default="kriging", show_default=True)
@click.option("--res", type=float, default=100.0, show_default=True, help="Cell size in metres (EPSG:4550).")
@click.option("--aoi", default=None, help="County (大安市 …), 'city', or xmin,ymin,xmax,ymax in EPSG:4550. "
                                         "Default: the samples' extent.")
@click.option("--depth", default="0-20", show_default=True, help="Depth class in cm.")
@click.option("--ec-method", default=None, help="1:5 or ECe: which EC to map when the table has both or none.")
@click.option("--log", "log_", is_flag=True, help="Krige the logarithm (skewed EC/salt), lognormal back-transform.")
@click.option("--neighbours", type=int, default=32, show_default=True, help="Samples per kriging neighbourhood.")
@click.option("--folds", type=int, default=None, help="Cross-validation folds (default leave-one-out ≤ 500 samples, else 10).")
@click.option("--crs", default=None, help="CRS of the coordinates if the file has none and they cannot be told.")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Workspace with catalog.yml (counties, city, landcover). Default: the current folder.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True)
@lang_option
def soil_command(samples: Path, prop: str, method: str, res: float, aoi: str | None, depth: str,
                 ec_method: str | None, log_: bool, neighbours: int, folds: int | None, crs: str | None,
                 workspace: Path | None, output: Path, lang: str) -> None:
    """Interpolate a soil property of the sample table SAMPLES onto a grid (estimate, kriging std, report)."""
    from gis.labels import message

    opts = SoilOptions(property_code(prop), method, res, aoi, depth, ec_method, log_, neighbours, folds, crs,
                       workspace, lang)
    res_ = soil_maps(samples, output, opts)
    for note in res_.notes:
        click.echo(note)
    click.echo(message("soil.done", lang, n=res_.n_samples, rejects=res_.n_rejects, cells=res_.cells - res_.masked_cells))
    if res_.variogram is not None:
        v = res_.variogram
        click.echo(message("soil.variogram", lang, model=v.model, nugget=v.nugget, sill=v.sill, range=v.range))
    s = res_.cv.stats
    click.echo(message("soil.cv", lang, folds=res_.cv.folds, rmse=s["rmse"], me=s["me"], r2=s["r2"],
                       msse=s["msse"], coverage=s["coverage90"]))
    for f in res_.files:
        click.echo(message("soil.written", lang, path=f))
