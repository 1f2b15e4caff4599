"""``agrigis remediation``: is the saline-alkali land of the projects getting better?

Recipe: load the remediation / new-paddy parcels (registry or a GeoDataFrame), load an
index time stack (the workspace catalogue's ``ndvi`` layer, or files), compute per-parcel
zonal means per date with one set of coverage weights (:func:`gis.zonal_stats`), then
baseline vs after, seasonal peak, trend and verdict (:mod:`gis.trend`), and write:

- ``remediation.csv`` and ``remediation.xlsx`` — one row per parcel, headers in the
  chosen language; the XLSX has an "about" sheet with the verdict rule and data notes;
- ``remediation.gpkg`` (layer ``remediation``) — the same with geometry (EPSG:4490),
  English column names and a ``series_json`` column;
- ``remediation_series.json`` — ``{project_code: chart data}`` from
  :func:`gis.trend.chart_data` (dates, values, seasonal peaks, fitted line, verdict):
  the numbers for a popup chart; drawing is left to the map (``maps``).

Everything is written to a temporary folder first and moved into place at the end, so a
failed run leaves earlier outputs untouched.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import click
import numpy as np
import pandas as pd

from gis.coverage import _where
from gis.errors import DataFileError, InputError, Message
from gis.labels import headers, label
from gis.stackfile import stack_kind
from gis.trend import DEFAULT_SEASON, assess, charts, verdict_rule
from gis.zonal import dates_in_names
from workflows.options import lang_option, registry_option, registry_parcels
from gis.outputs import Sheet, staged_outputs, write_csv, write_excel

log = logging.getLogger(__name__)

DEFAULT_CATEGORIES = ("paddy_new", "paddy_improved", "saline_demo_area")
"""Project categories monitored by default: new and improved paddy, saline demo areas."""
PARCEL_COLUMNS = ["project_code", "project_name", "category", "county_code", "year", "status", "area_mu"]
TREND_COLUMNS = ["index", "n_obs", "baseline_mean", "after_mean", "change", "peak_baseline", "peak_after",
                 "peak_max", "trend_basis", "n_trend", "method", "slope_per_year", "slope_low", "slope_high",
                 "tau", "p_value", "verdict", "verdict_rule"]


@dataclass
class RemediationResult:
    """What :func:`run_remediation` returns."""

    table: pd.DataFrame  # one row per parcel, English column names
    parcels: Any  # GeoDataFrame with the table's columns and geometry
    series: pd.DataFrame  # parcel × date zonal means
    paths: dict[str, Path] = field(default_factory=dict)
    synthetic: bool = False


# ------------------------------------------------------------------------------ inputs


def as_time_stack(da, where: str = "stack"):
    """A DataArray ``(time, y, x)`` of index values from a multi-band raster.

    Bands become dates from their descriptions (``long_name``) or a ``dates`` tag.
    ``scale_factor`` / ``add_offset`` stay in the attributes: the zonal engine applies
    them while it reads windows, so the stack is not copied into memory here.
    """
    if "time" in da.dims:
        out = da
    elif "band" in da.dims:
        names = da.attrs.get("long_name")
        if isinstance(names, str):
            names = [names]
        if not names or len(names) != da.sizes["band"]:
            tag = da.attrs.get("dates")
            names = str(tag).split(",") if tag else None
        if not names or len(names) != da.sizes["band"]:
            raise InputError.of("error.stack_band_dates", where=_where(where, "stack", "error.where_stack"))
        out = da.rename(band="time").assign_coords(time=dates_in_names(names, where))
    else:
        raise InputError.of("error.stack_dims", where=_where(where, "stack", "error.where_stack"), dims=da.dims)
    return out.sortby("time")


def open_netcdf_stack(path: Path, index: str | None = None):
    """The index variable of a stack file (NetCDF or Zarr, as ``agrigis imagery stack``
    writes it), opened lazily with its CRS by :func:`gis.stackfile.open_stack_dataset`:
    the variable named ``index`` (any case), else the only one that is not a
    ``valid_count``.

    Raises
    ------
    DataFileError
        If the file is missing or cannot be read, or holds no such variable (the message
        lists them).
    """
    from gis.stackfile import index_variables, open_stack_dataset

    ds = open_stack_dataset(path)
    names = list(index_variables(ds))
    pick = [n for n in names if index is not None and n.lower() == str(index).lower()]
    if not pick and len(names) == 1:
        pick = names
    if not pick:
        raise DataFileError.of("error.stack_nc_variable", path=path, index=index or "-", have=", ".join(names) or "-")
    da = ds[pick[0]]
    da.attrs.setdefault("synthetic", ds.attrs.get("synthetic", ""))
    return da.drop_vars([c for c in ("product_id", "sensor", "valid_fraction") if c in da.coords])


def load_stack(stack=None, workspace=None, index: str | None = None):
    """The index stack: a DataArray, one multi-band file, a NetCDF stack of ``agrigis
    imagery stack``, several files, or the catalogue.

    Returns ``(raster, times, where, synthetic)`` for :func:`gis.zonal_stats`:
    ``raster`` is a DataArray ``(time, y, x)`` or a list of file paths with ``times``.
    """
    if stack is None:
        import layers

        cat = layers.get_catalog(workspace)
        entry = cat.by_role("ndvi")
        if entry is None:
            raise InputError.of("error.stack_no_ndvi")
        if stack_kind(entry.path) is not None:  # a NetCDF/Zarr stack of `agrigis imagery stack`
            path = cat.path(entry.name)
            return as_time_stack(open_netcdf_stack(path, index), str(path)), None, str(path), bool(entry.synthetic)
        da = cat.load(entry.name)
        where = Message("error.where_layer", name=entry.name)
        return as_time_stack(da, where), None, str(where), bool(entry.synthetic)
    if hasattr(stack, "dims"):
        return as_time_stack(stack), None, "stack", bool(stack.attrs.get("synthetic", False))
    paths = [Path(p) for p in ([stack] if isinstance(stack, (str, os.PathLike)) else stack)]
    for p in paths:
        if not p.exists():
            raise DataFileError.of("error.stack_file_missing", path=p)
    if len(paths) == 1 and stack_kind(paths[0]) is not None:
        da = open_netcdf_stack(paths[0], index)
        return as_time_stack(da, str(paths[0])), None, str(paths[0]), str(da.attrs.get("synthetic", "")).lower() == "true"
    if len(paths) == 1:
        import rioxarray

        try:
            da = rioxarray.open_rasterio(paths[0], masked=True)
        except Exception as exc:  # rasterio raises RasterioIOError
            raise DataFileError.of("error.raster_unreadable", path=paths[0], detail=exc) from exc
        if "band" in da.dims and da.sizes["band"] > 1:
            synth = str(da.attrs.get("synthetic", "")).lower() in ("true", "1")
            return as_time_stack(da, str(paths[0])), None, str(paths[0]), synth
    times = dates_in_names([p.name for p in paths], Message("error.where_index_stack"))
    order = np.argsort(times.values)
    return [paths[i] for i in order], list(times[order]), ", ".join(p.name for p in paths), False


def load_parcels(parcels=None, registry=None, categories: Sequence[str] = DEFAULT_CATEGORIES):
    """Remediation parcels from a GeoDataFrame or the registry, filtered by category."""
    if parcels is None:
        parcels = registry_parcels(registry)
    missing = [c for c in ("project_code", "category", "year") if c not in parcels.columns]
    if missing:
        raise InputError.of("error.parcels_columns", missing=", ".join(missing),
                            columns=", ".join(map(str, parcels.columns)))
    sel = parcels[parcels["category"].isin(list(categories))].copy()
    sel.attrs["synthetic"] = bool(parcels.attrs.get("synthetic", False))
    if sel.empty:
        have = ", ".join(sorted(map(str, parcels["category"].dropna().unique()))) or Message("error.none")
        raise InputError.of("error.no_parcels_of_category", categories=", ".join(categories), have=have)
    if sel["project_code"].duplicated().any():
        dup = sel.loc[sel["project_code"].duplicated(), "project_code"].iloc[0]
        raise InputError.of("error.duplicate_project", code=dup)
    return sel.set_index("project_code", drop=False)


# ------------------------------------------------------------------------------ the job


def run_remediation(
    out_dir: str | os.PathLike | None = None,
    *,
    parcels=None,
    registry: str | os.PathLike | None = None,
    stack=None,
    workspace=None,
    index: str = "ndvi",
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    season: tuple[int, int] = DEFAULT_SEASON,
    method: str = "theil_sen",
    alpha: float = 0.05,
    min_change: float | None = None,
    zonal_method: str = "exact",
    lang: str = "zh",
    progress=None,
) -> RemediationResult:
    """Monitor remediation parcels; write the outputs to ``out_dir`` if given.

    Parameters
    ----------
    out_dir : path, optional
        Folder for the CSV, XLSX, GeoPackage and JSON; nothing is written without it.
    parcels : GeoDataFrame, optional
        Parcels with ``project_code, category, year`` (default: the registry's projects).
    registry : path, optional
        Registry GeoPackage (default: ``$AGRIGIS_REGISTRY`` or ``./registry.gpkg``).
    stack : DataArray, path or list of paths, optional
        Index time stack (default: the catalogue layer with role ``ndvi``).
    index : str
        Which registered index the stack holds (gives the good direction).
    categories, season, method, alpha, min_change
        See :func:`gis.trend.parcel_trend`.
    zonal_method : {"exact", "center", "all_touched"}
    lang : {"zh", "en"}
    progress : callable(done, total), optional
        Passed to the zonal engine.
    """
    from gis import zonal_stats
    from gis.indices import get_index

    ix = get_index(index)  # a bad index fails before any work
    sel = load_parcels(parcels, registry, categories)
    raster, times, where, synthetic = load_stack(stack, workspace, ix.id)
    synthetic = synthetic or bool(getattr(sel, "attrs", {}).get("synthetic", False))
    zones = sel[["geometry"]].copy()
    log.info("zonal means of %d parcels over %s", len(zones), where)
    zs = zonal_stats(zones, raster, stats=["mean"], method=zonal_method, times=times, progress=progress)
    series = zs.sel(stat="mean").to_pandas()  # scale_factor/add_offset applied by the zonal engine
    series.index = sel.index
    series.columns = pd.DatetimeIndex(series.columns)
    trend = assess(series, sel["year"], index=ix.id, season=season, method=method, alpha=alpha,
                   min_change=min_change)
    base = pd.DataFrame({c: sel[c] for c in PARCEL_COLUMNS if c in sel.columns})
    if "area_mu" not in base.columns:
        from gis.area import area_mu

        base["area_mu"] = area_mu(sel.geometry)
    table = pd.concat([base, trend[TREND_COLUMNS]], axis=1).reset_index(drop=True)
    chart = charts(series, trend, season=season)
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(table.copy(), geometry=sel.geometry.to_numpy(), crs=sel.crs).to_crs("EPSG:4490")
    gdf["series_json"] = [json.dumps(chart[c], ensure_ascii=False) for c in table["project_code"]]
    gdf["synthetic"] = synthetic
    result = RemediationResult(table=table, parcels=gdf, series=series, synthetic=synthetic)
    if out_dir is not None:
        rule = verdict_rule(ix.id, alpha, min_change, method, lang=lang)  # the table's, in words
        result.paths = _write(Path(out_dir), result, charts=chart, ix=ix, where=where, lang=lang, rule=rule)
    return result


def _headers(columns, lang: str) -> dict[str, str]:
    return headers(columns, lang, ("column", "remediation"))


def _display(table: pd.DataFrame, lang: str, rule: str | None = None) -> pd.DataFrame:
    """The table for people: codes as labels in ``lang``, the verdict ``rule`` in words."""
    from gis.labels import CATEGORIES, COUNTIES, STATUSES

    t = table.copy()
    i = 0 if lang == "zh" else 1
    t["verdict"] = [label(f"verdict.{v}", lang) for v in t["verdict"]]
    t["category"] = [CATEGORIES.get(c, (c, c))[i] for c in t["category"]]
    if "status" in t.columns:
        t["status"] = [STATUSES.get(s, (s, s))[i] for s in t["status"]]
    for col, key in (("trend_basis", "remediation.basis"), ("method", "remediation.method")):
        if col in t.columns:
            t[col] = [label(f"{key}.{v}", lang) if isinstance(v, str) else v for v in t[col]]
    if rule is not None and len(t):
        t["verdict_rule"] = rule
    if "county_code" in t.columns:
        t.insert(t.columns.get_loc("county_code") + 1, "county",
                 [COUNTIES.get(str(c), (c, c))[i] for c in t["county_code"]])
    return t.rename(columns=_headers(t.columns, lang))


def _write(out: Path, res: RemediationResult, *, charts, ix, where: str, lang: str, rule: str) -> dict[str, Path]:
    names = {"csv": "remediation.csv", "xlsx": "remediation.xlsx", "gpkg": "remediation.gpkg",
             "json": "remediation_series.json"}
    with staged_outputs(out, names.values()) as tmp:
        disp = _display(res.table, lang, rule)
        notice = label("synthetic.notice", lang) if res.synthetic else ""
        write_csv(tmp / names["csv"], disp, note=notice)
        about = pd.DataFrame({
            label("remediation.item", lang): [label("remediation.title", lang), label("remediation.index", lang),
                                              label("remediation.stack", lang), label("remediation.verdict_rule", lang),
                                              label("synthetic.label", lang)],
            label("remediation.value", lang): [notice or "-", f"{ix.alias} = {ix.formula} ({ix.reference})",
                                               where, rule, label(f"tracking.bool.{str(res.synthetic).lower()}", lang)],
        })
        notes = [notice] if notice else []
        write_excel(tmp / names["xlsx"], [Sheet(label("remediation.sheet_table", lang), disp, notes=notes),
                                          Sheet(label("remediation.sheet_about", lang), about)],
                    footer=notice)
        res.parcels.to_file(tmp / names["gpkg"], layer="remediation", driver="GPKG")
        (tmp / names["json"]).write_text(
            json.dumps({"index": ix.id, "formula": ix.formula, "synthetic": res.synthetic, "parcels": charts},
                       ensure_ascii=False), encoding="utf-8")
        return {k: out / n for k, n in names.items()}


# ------------------------------------------------------------------------------ CLI


@click.command("remediation")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("remediation"),
              show_default=True, help="Output folder.")
@registry_option
@click.option("--stack", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Index time stack: a NetCDF or Zarr from 'agrigis imagery stack', one multi-band GeoTIFF (band "
                   "descriptions = dates) or one file per date (date in the name). Repeatable. Default: the catalogue layer with role 'ndvi'.")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Workspace folder with catalog.yml (default: the current directory).")
@click.option("--index", default="ndvi", show_default=True,
              help="Index the stack holds (NDVI, SAVI, NDSI, SI, SI1 …); sets which direction is better.")
@click.option("--category", "categories", multiple=True, default=DEFAULT_CATEGORIES, show_default=True,
              help="Project categories to monitor (repeatable).")
@click.option("--season", default="5-9", show_default=True, help="Growing season months, e.g. 5-9.")
@click.option("--method", type=click.Choice(["theil_sen", "ols"]), default="theil_sen", show_default=True,
              help="Trend: Theil-Sen with Mann-Kendall test, or least squares with t-test.")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Significance level of the trend test.")
@click.option("--min-change", type=float, default=None,
              help="Minimum after - baseline change for a verdict (default 0.05 for NDVI/SAVI, 0 otherwise).")
@lang_option
def remediation_command(*, out_dir, registry, stack, workspace, index, categories, season, method, alpha,
                        min_change, lang):
    """治理成效监测 / Remediation monitoring of saline-alkali and new-paddy parcels.

    Per parcel: growing-season mean before vs after the project year, seasonal peak,
    trend with its significance, and a verdict (improving / no clear change / worsening)
    with the rule stated in the output. Writes remediation.csv, .xlsx, .gpkg and
    remediation_series.json (chart data for map popups).
    """
    from rich.console import Console
    from rich.progress import Progress

    m = re.fullmatch(r"\s*(\d{1,2})\s*-\s*(\d{1,2})\s*", season)
    if not m:
        raise InputError.of("error.season", value=season)
    con = Console(stderr=True)
    with Progress(console=con, disable=not con.is_terminal, transient=True) as bar:
        task = bar.add_task(label("zonal.progress", lang), total=None)
        res = run_remediation(out_dir, registry=registry, stack=list(stack) or None, workspace=workspace,
                              index=index, categories=categories, season=(int(m.group(1)), int(m.group(2))),
                              method=method, alpha=alpha, min_change=min_change, lang=lang,
                              progress=lambda done, total: bar.update(task, completed=done, total=total))
    counts = res.table["verdict"].value_counts()
    if res.synthetic:
        click.echo(label("synthetic.notice", lang))
    click.echo(", ".join(f"{label(f'verdict.{v}', lang)}: {int(counts.get(v, 0))}"
                         for v in ("improving", "no_clear_change", "worsening", "insufficient_data")))
    click.echo(verdict_rule(index, alpha, min_change, method, lang=lang))
    for p in res.paths.values():
        click.echo(str(p))
