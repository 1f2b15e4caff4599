"""``agrigis soil``: a soil sample table → a soil property raster, its uncertainty and a report.

Recipe: read the samples (:func:`layers.samples.read_samples`: columns, units, depth
classes, EC method, rejects), keep one property of one depth class (and one EC method),
lay the grid (EPSG:4550, ``--res``) over the AOI (a county, the city or bounds), mask what
is outside the AOI and — if the workspace catalogue has a land-cover layer — water and
built-up land, interpolate (:mod:`gis.geostat`: ordinary kriging with a fitted variogram,
or IDW), cross-validate, and write the estimate and kriging standard-deviation GeoTIFFs,
``soil_report.xlsx`` and the rejects, all together (:func:`gis.outputs.staged_outputs`).

The GeoTIFFs are ordinary EPSG:4550 float32 rasters (nodata −9999, as the demo's), so
:func:`gis.zonal_stats`, :func:`gis.salinity.classify` and :func:`gis.salinity.class_area_mu`
take them unchanged.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
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
REPORT_HTML = "soil_report.html"
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
    neighbours: int = 16
    folds: int | None = None
    crs: str | None = None
    workspace: object = None
    lang: str = "zh"
    props: tuple[str, ...] = ()
    """Several properties in one run (``--vars ph,ec,esp``); empty: ``prop`` alone."""
    register: bool = True
    """Register the rasters in the workspace's ``catalog.yml`` (see :func:`catalog_file`)."""
    synthetic: bool = False
    """Mark the registered layers ``synthetic: true`` (the demo's samples)."""


@dataclass
class PropertyResult:
    """The figures of one property of a run."""

    prop: str
    n_samples: int
    variogram: object | None
    cv: object
    masked_cells: int
    cells: int
    layers: list[str] = field(default_factory=list)


@dataclass
class SoilResult:
    """What :func:`soil_maps` did: the files written, the figures of each property and
    the catalogue the rasters were registered in."""

    files: list[Path]
    n_rejects: int
    properties: list[PropertyResult]
    notes: list[str] = field(default_factory=list)
    catalog: Path | None = None
    replaced: list[str] = field(default_factory=list)
    html: Path | None = None
    """The HTML report (``soil_report.html``)."""


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


def _fit(samples: pd.DataFrame, options: SoilOptions):
    """``(xy, z, variogram or None)`` of the selected samples."""
    from gis.errors import InputError
    from gis.geostat import fit_variogram

    if options.method not in ("kriging", "idw"):
        raise InputError.of("error.soil_method", value=options.method)
    xy = samples[["x", "y"]].to_numpy(dtype="float64")
    z = samples[options.prop].to_numpy(dtype="float64")
    if options.method == "idw":
        return xy, z, None
    if options.log and np.any(z <= 0):
        raise InputError.of("error.soil_log_nonpositive", n=int(np.sum(z <= 0)), min=float(z.min()))
    variogram = fit_variogram(xy, np.log(z) if options.log else z)
    if not all(np.isfinite([variogram.nugget, variogram.sill, variogram.range])):
        raise InputError.of("error.soil_fit_not_finite", property=options.prop, nugget=variogram.nugget,
                            sill=variogram.sill, range=variogram.range)
    return xy, z, variogram


def interpolate(samples: pd.DataFrame, grid, mask: np.ndarray, options: SoilOptions, progress=None):
    """``(estimate, std or None, variogram or None, CVResult)`` on ``grid`` (NaN where masked).

    ``progress(stage, done, total)`` is called as the cells are kriged (``stage``
    ``"interpolate"``) and when cross-validation starts (``"cv"``)."""
    from gis.geostat import cross_validate, idw, krige, KrigingOptions

    xy, z, variogram = _fit(samples, options)
    predict = _predictor(options.method, variogram, options)
    cx, cy = grid.coords()
    rows, cols = np.nonzero(~mask)
    est = np.full(mask.shape, np.nan, dtype="float32")
    std = np.full(mask.shape, np.nan, dtype="float32") if options.method == "kriging" else None
    step = (lambda d, n: progress("interpolate", d, n)) if progress else None
    if len(rows):
        targets = np.column_stack([cx[cols], cy[rows]])
        if variogram is None:
            est[rows, cols] = idw(xy, z, targets)
        else:
            p = krige(xy, z, targets, variogram, KrigingOptions(neighbours=options.neighbours, log=options.log),
                      progress=step)
            est[rows, cols], std[rows, cols] = p.estimate, p.std
        del targets
    if progress:
        progress("cv", 0, None)
    cv = cross_validate(xy, z, predict, folds=options.folds)
    return est, std, variogram, cv


NODATA = -9999.0
"""Nodata of the GeoTIFFs (NaN cells of the estimate), as the demo's soil rasters have."""


def write_geotiff(path: Path, array: np.ndarray, grid, *, tags: dict[str, str] | None = None) -> Path:
    """A float32 GeoTIFF (NaN written as nodata :data:`NODATA`, deflate) of ``array`` on
    ``grid`` with the dataset ``tags`` (``synthetic="true"`` for the demo's), written atomically."""
    import rasterio

    from gis.outputs import atomic_write

    def write(tmp: Path) -> None:
        with rasterio.open(tmp, "w", driver="GTiff", width=grid.width, height=grid.height, count=1,
                           dtype="float32", crs=grid.crs, transform=grid.transform, nodata=NODATA,
                           compress="deflate", tiled=True) as dst:
            dst.write(np.where(np.isnan(array), NODATA, array).astype("float32"), 1)
            if tags:
                dst.update_tags(**tags)

    return atomic_write(path, write)


# --------------------------------------------------------------------------- charts


def _prop_name(prop: str) -> str:
    return "pH" if prop == "ph" else prop.upper()


def _chart_title(options: SoilOptions, text: str) -> str:
    """A chart's title, marked synthetic when the samples are."""
    from gis.labels import message

    return message("soil.synthetic_title", options.lang, title=text) if options.synthetic else text


def variogram_chart(variogram, options: SoilOptions) -> str:
    """SVG of the experimental semivariogram (dots) and the fitted model (line)."""
    from gis.labels import label, message
    from gis.svgplot import Chart, scatter_svg

    L = options.lang
    d = np.linspace(0.0, max(variogram.lags) * 1.05, 120)
    chart = Chart(_chart_title(options, message("soil.plot.variogram_title", L, property=_prop_name(options.prop) +
                                                (" (ln)" if options.log else ""), model=variogram.model)),
                  label("soil.plot.lag", L), label("soil.plot.semivariance", L))
    return scatter_svg(chart, [(variogram.lags, variogram.semivariance, "#1f77b4", label("soil.plot.experimental", L))],
                       lines=[(d, variogram(d), "#d62728", label("soil.plot.fitted", L))], from_zero=True)


def cv_chart(cv, options: SoilOptions, unit: str) -> str:
    """SVG of cross-validation: observed vs predicted with the 1:1 line."""
    from gis.labels import label, message
    from gis.svgplot import Chart, scatter_svg

    L = options.lang
    u = f"({unit})" if unit else ""
    chart = Chart(_chart_title(options, message("soil.plot.cv_title", L, property=_prop_name(options.prop),
                                                r2=cv.stats["r2"])),
                  message("soil.plot.observed", L, unit=u), message("soil.plot.predicted", L, unit=u))
    return scatter_svg(chart, [(cv.observed, cv.predicted, "#2ca02c", label("soil.plot.samples", L))], diagonal=True)


# --------------------------------------------------------------------------- report


@dataclass
class _Run:
    """One property's results, kept until the report is written (the rasters are not)."""

    options: SoilOptions
    samples: pd.DataFrame
    variogram: object | None
    cv: object
    charts: dict[str, str]
    stem: str
    svg: dict[str, str] = field(default_factory=dict)
    """The SVG text of each chart (key as in ``charts``), for the HTML report."""


def _ec_method_of(run: _Run) -> str:
    from layers.samples import sample_fields

    known = run.samples["ec_method"].dropna()
    if len(known):
        return str(known.iloc[0])
    return (sample_fields().ec_method(run.options.ec_method) or "") if run.options.ec_method else ""


def _summary_items(run: _Run, read) -> list[tuple[str, object]]:
    """``(item, value)`` of the summary column of one property."""
    from layers.samples import UNITS

    o = run.options
    rows = [("property", _prop_name(o.prop)), ("unit", UNITS[o.prop]), ("depth", o.depth), ("method", o.method),
            ("log", "yes" if o.log else "no"), ("n_samples", len(run.samples)), ("n_read", read.n_read),
            ("n_rejects", len(read.rejects))]
    if o.prop == "ec":
        rows.append(("ec_method", _ec_method_of(run)))
    v = run.variogram
    if v is not None:
        rows += [("variogram_model", v.model), ("nugget", v.nugget), ("sill", v.sill), ("range_m", v.range)]
    rows += [("cv_folds", run.cv.folds)] + [(f"cv_{k}", x) for k, x in run.cv.stats.items() if k != "n"]
    return rows + list(run.charts.items()) + [("layer", layer_name(o, _ec_method_of(run)))]


def _summary(runs: list[_Run], read, lang: str) -> pd.DataFrame:
    """Items down, one column per property (a row is empty where it does not apply)."""
    from gis.labels import label

    cols = [dict(_summary_items(r, read)) for r in runs]
    items: list[str] = []
    for c in cols:
        items += [k for k in c if k not in items]
    table = {label("soil.col.item", lang): [label(f"soil.item.{k}", lang) for k in items]}
    for r, c in zip(runs, cols, strict=True):
        table[_prop_name(r.options.prop)] = [c.get(k, "") for k in items]
    return pd.DataFrame(table)


def _cv_points(run: _Run, lang: str) -> pd.DataFrame:
    """Per sample of one property: row, id, observed, predicted without it, kriging std."""
    from gis.labels import label

    cv, L = run.cv, lang
    return pd.DataFrame({
        label("soil.col.row", L): run.samples["_row"].to_numpy(), label("soil.col.sample_id", L): run.samples["sample_id"],
        label("soil.col.observed", L): cv.observed, label("soil.col.predicted", L): cv.predicted,
        label("soil.col.std", L): cv.std})


def _rejects_table(read, lang: str) -> pd.DataFrame:
    """The rejected rows with the report's column names."""
    from gis.labels import label

    L = lang
    return read.rejects.rename(columns={"_row": label("soil.col.row", L), "column": label("soil.col.column", L),
                                        "value": label("soil.col.raw", L), "reason": label("soil.col.reason", L)})


def report_sheets(runs: list[_Run], read, notes: list[str], lang: str):
    """The sheets of ``soil_report.xlsx``: summary (a column per property, with the chart
    files beside it), then per property its variogram and cross-validation, and the rejects."""
    from gis.labels import label
    from gis.outputs import Sheet

    L = lang
    sheets = [Sheet(label("soil.sheet.summary", L), _summary(runs, read, L), notes=notes)]
    for r in runs:
        name, v = _prop_name(r.options.prop), r.variogram
        if v is not None:
            sheets.append(Sheet(f"{label('soil.sheet.variogram', L)} {name}", pd.DataFrame({
                label("soil.col.lag_m", L): v.lags, label("soil.col.semivariance", L): v.semivariance,
                label("soil.col.pairs", L): v.pairs, label("soil.col.model", L): v(np.asarray(v.lags)).tolist()})))
        sheets.append(Sheet(f"{label('soil.sheet.cv', L)} {name}", _cv_points(r, L)))
    sheets.append(Sheet(label("soil.sheet.rejects", L), _rejects_table(read, L)))
    return sheets


VARIOGRAM_ITEMS = ("variogram_model", "nugget", "sill", "range_m")
CV_ITEMS = ("cv_folds", "cv_rmse", "cv_me", "cv_mae", "cv_r2", "cv_msse", "cv_coverage90")
CHART_ITEMS = ("variogram_plot", "cv_plot")
"""Summary items (:func:`_summary_items`) by the table of the HTML report they go in; the
chart file names are not shown there (the charts themselves are)."""


def html_figure(value: object, digits: int = 4) -> str | None:
    """A figure as the HTML report shows it: floats to ``digits`` significant digits (4, as
    the command prints them; whole metres and no exponent from 10 000 on), NaN (IDW has no
    kriging variance) as empty, the rest as text.

    Examples
    --------
    >>> html_figure(0.123456), html_figure(23456.7), html_figure(60), html_figure(float("nan")), html_figure("ece")
    ('0.1235', '23457', '60', None, 'ece')
    """
    from gis.outputs import cell_value

    v = cell_value(value)
    if v is None or isinstance(v, str) or not isinstance(v, float):
        return v if v is None or isinstance(v, str) else str(v)
    text = f"{v:.{digits}g}"
    return f"{v:.0f}" if "e+" in text else text


def _items_table(items: list[tuple[str, object]], keys: tuple[str, ...] | None, lang: str) -> str:
    """An item/value HTML table of the summary items named in ``keys`` (None: all others)."""
    from gis.labels import label
    from workflows.report import html_table

    known = VARIOGRAM_ITEMS + CV_ITEMS + CHART_ITEMS
    rows = [(label(f"soil.item.{k}", lang), html_figure(v)) for k, v in items
            if (k in keys if keys is not None else k not in known)]
    return html_table(pd.DataFrame(rows, columns=[label("soil.col.item", lang), label("soil.html.value", lang)]),
                      classes="items")


def _html_property(run: _Run, read, lang: str) -> str:
    """The section of one property: its summary, variogram and CV tables, the two charts
    inline and the per-sample cross-validation (folded)."""
    from html import escape

    from gis.labels import label, message
    from layers.samples import UNITS
    from workflows.report import html_table

    o, L = run.options, lang
    items = _summary_items(run, read)
    unit = f" ({UNITS[o.prop]})" if UNITS[o.prop] else ""
    parts = [f"<section><h2>{escape(_prop_name(o.prop) + unit)}</h2>", _items_table(items, None, L)]
    if run.variogram is not None:
        parts += [f"<h3>{escape(label('soil.sheet.variogram', L))}</h3>", _items_table(items, VARIOGRAM_ITEMS, L)]
    parts += [f"<h3>{escape(label('soil.sheet.cv', L))}</h3>", _items_table(items, CV_ITEMS, L),
              '<div class="charts" style="display:flex;flex-wrap:wrap;gap:12px">']
    parts += [f'<figure style="margin:0">{run.svg[k]}</figure>' for k in CHART_ITEMS if k in run.svg]
    points = _cv_points(run, L)
    parts += ["</div>", f"<details><summary>{escape(message('soil.html.points', L, n=len(points)))}</summary>",
              html_table(points.map(lambda v: html_figure(v, 6)) if len(points) else points),
              "</details></section>"]
    return "".join(parts)


def report_html(runs: list[_Run], read, notes: list[str], options: SoilOptions) -> str:
    """``soil_report.html``: title (marked synthetic when the samples are), the notes, per
    property :func:`_html_property`, and the rejects. Self-contained; every text escaped."""
    from html import escape

    from gis.labels import label, message
    from workflows.report import html_page, html_table

    L = options.lang
    title = _chart_title(options, label("soil.html.title", L))
    warning = label("synthetic.notice", L) if options.synthetic else ""
    others = [n for n in notes if n != warning]
    body = [f"<ul class=\"notes\">{''.join(f'<li>{escape(n)}</li>' for n in others)}</ul>" if others else ""]
    body += [_html_property(r, read, L) for r in runs]
    rejects = _rejects_table(read, L)
    body.append(f"<h2>{escape(label('soil.sheet.rejects', L))}</h2>")
    body.append(html_table(rejects, plain=rejects.columns[:1]) if len(rejects) else
                f"<p>{escape(label('soil.html.no_rejects', L))}</p>")
    subtitle = message("soil.html.subtitle", L, source=Path(str(read.source)).name, n_read=read.n_read,
                       rejects=len(rejects))
    return html_page(title, "".join(body), subtitle=subtitle, warning=warning,
                     footer=label("soil.html.footer", L), lang=L)


# --------------------------------------------------------------------------- catalogue


def layer_name(options: SoilOptions, ec_method: str = "") -> str:
    """The catalogue name and role of a property's raster: ``soil_ph``, ``soil_esp``,
    ``soil_ec`` (ECe, the unit of the ``ec_aafc`` classes) or ``soil_ec_1_5`` (EC of a
    1:5 extract, a different quantity), with ``_<depth>`` below the 0–20 cm layer.

    Examples
    --------
    >>> layer_name(SoilOptions(prop="ec"), "ece"), layer_name(SoilOptions(prop="ec"), "ec_1_5")
    ('soil_ec', 'soil_ec_1_5')
    >>> layer_name(SoilOptions(prop="ph", depth="20-40"))
    'soil_ph_20-40'
    """
    base = "soil_ec_1_5" if options.prop == "ec" and ec_method == "ec_1_5" else f"soil_{options.prop}"
    return base if options.depth == "0-20" else f"{base}_{options.depth}"


def catalog_file(options: SoilOptions, output: Path) -> Path:
    """Where the rasters are registered: the ``--workspace``'s ``catalog.yml``, else the
    current folder's if it has one, else a new ``catalog.yml`` in the output folder."""
    from layers.catalog import CATALOG_FILE

    if options.workspace is not None:
        ws = Path(os.fspath(options.workspace))
        return ws / CATALOG_FILE if ws.is_dir() else ws
    here = Path.cwd() / CATALOG_FILE
    return here if here.is_file() else output / CATALOG_FILE


def _catalog_entries(run: _Run, output: Path, source: str) -> list[dict]:
    """The catalogue entries of one property's estimate (and kriging std) raster."""
    from gis.labels import message
    from layers.samples import UNITS

    o = run.options
    name = layer_name(o, _ec_method_of(run))
    s = run.cv.stats
    desc = f"{o.method}{', log' if o.log else ''}; CV R² {s['r2']:.3f}, RMSE {s['rmse']:.4g}"
    args = {"property": _prop_name(o.prop), "depth": o.depth, "method": o.method}

    def title(key: str, lang: str) -> str:
        text = message(key, lang, **args)
        return message("soil.synthetic_title", lang, title=text) if o.synthetic else text

    entry = {"name": name, "kind": "raster", "path": str((output / f"{run.stem}.tif").resolve()),
             "synthetic": o.synthetic, "crs": "EPSG:4550", "role": name, "unit": UNITS[o.prop] or "-", "source": source,
             "title_zh": title("soil.layer_title", "zh"), "title_en": title("soil.layer_title", "en"),
             "description": desc}
    if run.variogram is None:
        return [entry]
    std = {**entry, "name": f"{name}_std", "role": f"{name}_std", "path": str((output / f"{run.stem}_std.tif").resolve()),
           "title_zh": title("soil.layer_title_std", "zh"), "title_en": title("soil.layer_title_std", "en"),
           "description": "kriging standard deviation"}
    return [entry, std]


# --------------------------------------------------------------------------- the job


def _outputs(options: SoilOptions, kriged: bool) -> tuple[str, dict[str, str], list[str]]:
    """``(stem, charts {summary item: file name}, raster and chart file names)`` of one property."""
    stem = f"{options.prop}_{options.depth}_{options.method}"
    charts = {"cv_plot": f"{stem}_cv.svg"}
    if kriged:
        charts = {"variogram_plot": f"{stem}_variogram.svg", **charts}
    return stem, charts, [f"{stem}.tif"] + ([f"{stem}_std.tif"] if kriged else []) + list(charts.values())


def _property(read, options: SoilOptions, tmp: Path, notes: list[str], progress) -> tuple[_Run, PropertyResult]:
    """Interpolate one property and write its rasters and charts into ``tmp``."""
    from gis.outputs import write_text
    from layers.samples import UNITS

    samples = select_samples(read, options, notes)
    grid, mask = build_grid(options, samples, notes)
    est, std, variogram, cv = interpolate(samples, grid, mask, options, progress)
    stem, charts, _ = _outputs(options, options.method == "kriging")
    tags = {"synthetic": "true"} if options.synthetic else None
    write_geotiff(tmp / f"{stem}.tif", est, grid, tags=tags)
    del est
    svg = {"cv_plot": cv_chart(cv, options, UNITS[options.prop])}
    if std is not None:
        write_geotiff(tmp / f"{stem}_std.tif", std, grid, tags=tags)
        svg = {"variogram_plot": variogram_chart(variogram, options), **svg}
    for key, text in svg.items():
        write_text(tmp / charts[key], text)
    run = _Run(options, samples, variogram, cv, charts, stem, svg=svg)
    return run, PropertyResult(options.prop, len(samples), variogram, cv, int(mask.sum()), mask.size)


def _register(runs: list[_Run], results: list[PropertyResult], out: Path, samples_path, res: SoilResult) -> None:
    from layers.catalog import register_layers

    o = runs[0].options
    res.catalog = catalog_file(o, out)
    entries = []
    for run, pr in zip(runs, results, strict=True):
        e = _catalog_entries(run, out, Path(samples_path).name)
        pr.layers = [x["name"] for x in e]
        entries += e
    res.replaced = register_layers(res.catalog, entries)


def soil_maps(samples_path: str | os.PathLike, output: str | os.PathLike, options: SoilOptions = SoilOptions(),
              progress=None) -> SoilResult:
    """Read ``samples_path`` once, interpolate each property of ``options.props`` (or
    ``options.prop``) and write everything into ``output``: per property the estimate (and
    kriging std) GeoTIFF and the variogram and observed-vs-predicted charts (SVG); one
    ``soil_report.xlsx``, one ``soil_report.html`` (:func:`report_html`: the same figures
    with the charts inline) and the rejects. All files appear together or none
    (:func:`gis.outputs.staged_outputs`); then the rasters are registered in the workspace
    catalogue (:func:`catalog_file`, unless ``options.register`` is False) as
    :func:`layer_name` says. ``progress`` as in :func:`interpolate`."""
    from gis.outputs import staged_outputs, write_csv, write_excel, write_text

    from gis.labels import label

    read = read_samples_once(samples_path, options)
    notes = ([label("synthetic.notice", options.lang)] if options.synthetic else []) + list(read.notes)
    props = list(dict.fromkeys(options.props or (options.prop,)))
    opts = [replace(options, prop=p, props=()) for p in props]
    # the rejects file is always written (empty with its header when nothing was
    # rejected), so a stale one of an earlier run never stays beside new outputs
    names = [n for o in opts for n in _outputs(o, o.method == "kriging")[2]] + [REPORT, REPORT_HTML, REJECTS]
    out = Path(output)
    runs, results = [], []
    with staged_outputs(out, names) as tmp:
        for o in opts:
            run, pr = _property(read, o, tmp, notes, progress)
            runs.append(run)
            results.append(pr)
        notes = list(dict.fromkeys(notes))
        write_excel(tmp / REPORT, report_sheets(runs, read, notes, options.lang))
        write_text(tmp / REPORT_HTML, report_html(runs, read, notes, options))
        write_csv(tmp / REJECTS, read.rejects)
    res = SoilResult([out / n for n in names], len(read.rejects), results, notes, html=out / REPORT_HTML)
    if options.register:
        _register(runs, results, out, samples_path, res)
    return res


def read_samples_once(samples_path, options: SoilOptions):
    """:func:`layers.samples.read_samples` with the run's CRS and language."""
    from layers.samples import read_samples

    return read_samples(samples_path, crs=options.crs, lang=options.lang)


class _Bar:
    """A rich progress bar on stderr (only on a terminal; stdout stays the result)."""

    def __init__(self, lang: str):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        con = Console(stderr=True)
        self.lang = lang
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=con, disable=not con.is_terminal,
                            transient=True)
        self.task = None

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        from gis.labels import label

        text = label(f"soil.progress.{stage}", self.lang)
        if self.task is None:
            self.task = self.bar.add_task(text, total=total)
        self.bar.update(self.task, description=text, completed=done, total=total)


def _echo_result(res_: SoilResult, lang: str) -> None:
    from gis.labels import message

    for note in res_.notes:
        click.echo(note)
    for p in res_.properties:
        name = _prop_name(p.prop)
        click.echo(message("soil.done", lang, property=name, n=p.n_samples, rejects=res_.n_rejects,
                           cells=p.cells - p.masked_cells))
        if p.variogram is not None:
            v = p.variogram
            click.echo(message("soil.variogram", lang, model=v.model, nugget=v.nugget, sill=v.sill, range=v.range))
        s = p.cv.stats
        click.echo(message("soil.cv", lang, folds=p.cv.folds, rmse=s["rmse"], me=s["me"], r2=s["r2"],
                           msse=s["msse"], coverage=s["coverage90"]))
    for f in res_.files:
        click.echo(message("soil.written", lang, path=f))
    if res_.html is not None:
        click.echo(message("soil.html_report", lang, path=res_.html))
    if res_.catalog is not None:
        layers_ = ", ".join(n for p in res_.properties for n in p.layers)
        click.echo(message("soil.registered", lang, layers=layers_, path=res_.catalog))
        if res_.replaced:
            click.echo(message("soil.replaced", lang, layers=", ".join(res_.replaced)))


class _SoilGroup(click.Group):
    """``agrigis soil interpolate SAMPLES …``; the older ``agrigis soil SAMPLES …`` still works."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["interpolate", *args]
        return super().parse_args(ctx, args)


@click.group("soil", cls=_SoilGroup)
def soil_command() -> None:
    """土壤采样点插值 / Soil sample tables → soil property rasters, their uncertainty and a report.

    \b
    Examples:
      agrigis soil interpolate samples.xlsx --vars ph,ec,esp --aoi 大安市 --res 30 -o soil/
      agrigis soil samples.xlsx --property EC -o soil/     (the same as "interpolate")
    """


@soil_command.command("interpolate")
@click.argument("samples", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--vars", "--property", "props", default="EC", show_default=True,
              help="Properties to map, comma-separated: pH, EC, salt, ESP (e.g. --vars ph,ec,esp).")
@click.option("--method", type=click.Choice(["kriging", "idw"]), default="kriging", show_default=True)
@click.option("--res", type=float, default=100.0, show_default=True, help="Cell size in metres (EPSG:4550).")
@click.option("--aoi", default=None, help="County (大安市 …), 'city', or xmin,ymin,xmax,ymax in EPSG:4550. "
                                         "Default: the samples' extent.")
@click.option("--depth", default="0-20", show_default=True, help="Depth class in cm.")
@click.option("--ec-method", default=None, help="1:5 or ECe: which EC to map when the table has both or none.")
@click.option("--log", "log_", is_flag=True, help="Krige the logarithm (skewed EC/salt), lognormal back-transform.")
@click.option("--neighbours", type=int, default=16, show_default=True, help="Samples per kriging neighbourhood.")
@click.option("--folds", type=int, default=None, help="Cross-validation folds (default leave-one-out ≤ 500 samples, else 10).")
@click.option("--crs", default=None, help="CRS of the coordinates if the file has none and they cannot be told.")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Workspace with catalog.yml (counties, city, landcover); the rasters are registered in it. "
                   "Default: the current folder if it has catalog.yml, else a catalog.yml in the output folder.")
@click.option("--register/--no-register", default=True, show_default=True,
              help="Register the rasters in the workspace catalogue (soil_ph, soil_ec, soil_esp …).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True)
@lang_option
def interpolate_command(*, samples: Path, props: str, method: str, res: float, aoi: str | None, depth: str,
                        ec_method: str | None, log_: bool, neighbours: int, folds: int | None, crs: str | None,
                        workspace: Path | None, register: bool, output: Path, lang: str) -> None:
    """Interpolate soil properties of the sample table SAMPLES onto a grid (estimate, kriging std, report).

    \b
    Examples:
      agrigis soil interpolate samples.xlsx --vars ph,ec,esp --ec-method ECe --aoi 大安市 --res 30 -o soil/
      agrigis soil interpolate samples.xlsx --vars EC --ec-method 1:5 --log --aoi 大安市 -o soil/
      agrigis soil interpolate samples.csv --vars pH --method idw --aoi city -o soil/
    """
    codes = tuple(property_code(p) for p in props.split(",") if p.strip())
    opts = SoilOptions(prop=codes[0] if codes else property_code(props), method=method, res=res, aoi=aoi, depth=depth,
                       ec_method=ec_method, log=log_, neighbours=neighbours, folds=folds, crs=crs, workspace=workspace,
                       lang=lang, props=codes, register=register)
    with _Bar(lang) as bar:
        res_ = soil_maps(samples, output, opts, progress=bar)
    _echo_result(res_, lang)
