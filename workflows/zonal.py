"""``agrigis zonal``: statistics of a raster (or a stack of dates) inside each parcel.

Recipe: read the parcels (``layers.io.read_parcels``: any format, CRS checked, repairs and
rejects reported), compute :func:`gis.zonal_stats`, write CSV / Excel / GeoPackage /
Parquet. :func:`zonal_table` is the plain function behind the command.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Sequence

import click

from workflows.options import lang_option

log = logging.getLogger(__name__)

OUTPUT_SUFFIXES = (".csv", ".xlsx", ".gpkg", ".parquet")
_QUANT = re.compile(r"^p(\d+(?:\.\d+)?)$")


def header(column: str, lang: str = "zh") -> str:
    """The table header of a result column (``mean`` → ``均值``, ``area_mu_3`` → …).

    Examples
    --------
    >>> header("p90"), header("area_mu_3"), header("frac_3", "en")
    ('90%分位数', '类别3面积(亩)', 'Share of class 3')
    """
    from gis.labels import label

    m = _QUANT.match(column)
    if m:
        return label("zonal.stat.quantile", lang).format(q=m.group(1))
    for prefix in ("area_mu_", "frac_"):
        if column.startswith(prefix) and len(column) > len(prefix):
            return label(f"zonal.stat.{prefix[:-1]}", lang).format(c=column[len(prefix):])
    try:
        return label(f"zonal.stat.{column}", lang)
    except Exception:  # noqa: BLE001 - an id column or another user column: keep it
        return column


def zonal_table(
    zones_path,
    rasters: Sequence[str | os.PathLike],
    *,
    stats: str | Sequence[str] = "count,mean,min,max,std",
    method: str = "exact",
    by_class: bool = False,
    output: str | os.PathLike | None = None,
    layer: str | None = None,
    id_column: str | None = None,
    weights: str | os.PathLike | None = None,
    lang: str = "zh",
    progress=None,
):
    """Zonal statistics of ``rasters`` inside the parcels of ``zones_path``.

    ``zones_path``: a parcel file (any format :func:`layers.io.read_parcels` reads), or the
    parcels already read by :func:`read_zones` (a GeoDataFrame indexed by the parcel id:
    several tables from one parcel file read it once; ``layer`` and ``id_column`` then
    do not apply). One raster gives one row per parcel; several rasters (dates on one grid) or a
    NetCDF/Zarr stack give one column per statistic and date (``mean_2024-05``).
    ``weights``: a ``.npz`` of coverage weights to reuse, or to create if missing.
    With ``output`` the table is written (atomically) and its path returned; otherwise
    the table (a GeoDataFrame) is returned.
    """
    import geopandas as gpd
    import pandas as pd

    from gis import zonal_stats
    from gis.errors import InputError

    if output is not None and Path(output).suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError.of("error.output_type", path=output, choices=", ".join(OUTPUT_SUFFIXES))
    zones = zones_path if hasattr(zones_path, "geometry") else read_zones(zones_path, layer=layer,
                                                                          id_column=id_column, lang=lang)
    keep = [c for c in zones.columns if not c.startswith("_") and c != "geometry"]
    raster = [str(r) for r in rasters] if len(rasters) > 1 else str(rasters[0])
    cov = None if weights is None else _weights(weights, zones, raster, method)
    result = zonal_stats(zones, raster, stats=stats, method=method, categorical=by_class,
                         coverage=cov, progress=progress)
    table, labels = _stack_columns(result) if hasattr(result, "dims") else (result, [])
    table = pd.concat([zones[keep], table], axis=1)
    table = gpd.GeoDataFrame(table, geometry=zones.geometry.values, crs=zones.crs)
    table.attrs["time_labels"] = labels
    table.attrs["zone_columns"] = keep  # the parcels' own columns, first: never relabelled
    if output is None:
        return table
    return _write(table, Path(output), lang)


def read_zones(zones_path: str | os.PathLike, *, layer: str | None = None, id_column: str | None = None,
               lang: str = "zh"):
    """The parcels of ``zones_path`` as :func:`zonal_table` reads them (any format, CRS
    checked, rejects logged), indexed by ``id_column`` or by row.

    Examples
    --------
    >>> zones = read_zones("parcels.gpkg", id_column="project_code")  # doctest: +SKIP
    >>> zonal_table(zones, ["ec.tif"], stats="mean")  # doctest: +SKIP
    """
    from gis.errors import InputError
    from layers.io import read_parcels

    res = read_parcels(zones_path, layer=layer, lang=lang)
    for note in res.notes:
        log.info("%s", note)
    if len(res.rejects):
        log.warning("%s: %d rows could not be used (%s); they are not in the table",
                    res.source, len(res.rejects),
                    "; ".join(f"row {r}: {why}" for r, why in
                              zip(res.rejects["_row"][:3], res.rejects["reason"][:3], strict=True)))
    zones = res.frame
    if id_column:
        if id_column not in zones.columns:
            raise InputError.of("error.no_column", path=zones_path, column=id_column,
                                columns=[c for c in zones.columns if not c.startswith("_")])
        return zones.set_index(id_column)
    zones = zones.set_index("_row")
    zones.index.name = "row"
    return zones


def _weights(weights, zones, raster, method: str):
    """Coverage weights from the ``.npz`` file, or built and saved there (atomically)."""
    from gis.coverage import Coverage
    from gis.zonal import raster_grid

    if Path(weights).exists():
        return Coverage.load(weights, zones=zones)
    cov = Coverage.build(zones, raster_grid(raster), method=method)
    cov.save(weights)
    return cov


def _stack_columns(result):
    """A zone × time × stat result as one column per statistic and date; the date labels."""
    table = result.to_dataframe().drop(columns=["coverage_fraction", "partly_outside"])
    table = table["zonal_stats"].unstack(["stat", result.dims[1]])
    times = list(result[result.dims[1]].values)
    labels = _time_labels(times)
    label_of = dict(zip(times, labels, strict=True))
    table.columns = [f"{s}_{label_of[t]}" for s, t in table.columns]
    table["coverage_fraction"] = result["coverage_fraction"].values
    table["partly_outside"] = result["partly_outside"].values
    return table, labels


def _time_labels(times: list) -> list[str]:
    """Column labels of a stack's dates: ``YYYY-MM-DD``, numbered ``_2``, ``_3`` … where
    dates share a day; labels that are not dates (positions, names) as they are.

    >>> import numpy as np
    >>> _time_labels([np.datetime64("2024-05-01T02:00"), np.datetime64("2024-05-01T03:00"), 7])
    ['2024-05-01', '2024-05-01_2', '7']
    """
    from collections import Counter

    seen: Counter[str] = Counter()
    out = []
    for lab in (_date(t) for t in times):
        seen[lab] += 1
        out.append(lab if seen[lab] == 1 else f"{lab}_{seen[lab]}")
    return out


def _date(t) -> str:
    """``YYYY-MM-DD`` of a date (numpy, pandas, datetime or cftime); anything else — a
    date's position in a stack without dates, a name — as it is (a number is no date)."""
    import numpy as np
    import pandas as pd

    if isinstance(t, np.datetime64):
        t = pd.Timestamp(t)
    if hasattr(t, "strftime") and not pd.isna(t):
        return str(t.strftime("%Y-%m-%d"))
    return str(t)


def _write(table, path: Path, lang: str) -> Path:
    """Write atomically: a failed write leaves an existing file as it was."""
    import pandas as pd

    from gis.outputs import Sheet, atomic_write, write_csv, write_excel

    times = table.attrs.get("time_labels", [])
    n_own = len(table.attrs.get("zone_columns", []))  # the parcels' columns come first

    def rename(c):
        if c == "geometry":
            return c
        for tl in times:
            if c.endswith("_" + tl):
                return f"{header(c[: -len(tl) - 1], lang)}_{tl}"
        return header(c, lang)

    out = table.copy()
    out.columns = [c if i < n_own else rename(c) for i, c in enumerate(table.columns)]
    suffix = path.suffix.lower()
    table_only = pd.DataFrame(out.drop(columns="geometry"))
    if suffix == ".xlsx":
        return write_excel(path, [Sheet("zonal_stats", table_only.reset_index())])
    if suffix == ".csv":  # the parcel id first, as the index column
        return write_csv(path, table_only, index=True)

    def write(tmp: Path) -> None:  # tmp does not exist yet: GDAL creates the GeoPackage itself
        if suffix == ".gpkg":
            out.to_file(tmp, driver="GPKG", layer="zonal_stats")
        else:
            out.to_parquet(tmp)

    return atomic_write(path, write)


@click.command("zonal")
@click.argument("zones", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("rasters", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--stats", default="count,mean,min,max,std", show_default=True,
              help="Comma-separated: count,sum,mean,min,max,std,median,p10,p90 (any pNN),"
                   "majority,minority,variety.")
@click.option("--by-class", is_flag=True,
              help="Categorical raster: area in 亩 and share of each class per parcel.")
@click.option("--method", type=click.Choice(["exact", "center", "all_touched"]),
              default="exact", show_default=True,
              help="exact: cells count by the fraction inside the parcel; center: cell "
                   "centre inside (rasterstats' default); all_touched: any touch.")
@click.option("--id-column", help="Column that identifies parcels (default: row number).")
@click.option("--layer", help="Layer of a GeoPackage with several.")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path),
              help="Coverage weights .npz to reuse (created when missing).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("zonal.csv"), show_default=True,
              help="Output table: .csv, .xlsx, .gpkg or .parquet.")
@lang_option
def zonal_command(*, zones, rasters, stats, by_class, method, id_column, layer, weights,
                  output, lang):
    """Statistics of RASTERS inside each parcel of ZONES (各图斑分区统计).

    \b
    One raster: one row per parcel. Several rasters on one grid (dates), or a
    NetCDF/Zarr stack: one column per statistic and date; the coverage of the parcels
    is computed once. Parcels are reprojected to the raster's CRS.

    \b
    Examples:
      agrigis zonal parcels.gpkg ec.tif --stats mean,max,p90 -o ec.xlsx
      agrigis zonal parcels.shp landcover.tif --by-class --stats majority -o lc.csv
      agrigis zonal parcels.gpkg ndvi_2024-*.tif --stats mean -o ndvi.parquet
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gis.labels import label

    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=(con := Console(stderr=True)), disable=not con.is_terminal,
                  transient=True) as bar:  # stdout stays the result; no bar when not a terminal
        task = bar.add_task(label("zonal.progress", lang), total=None)

        def progress(done, total):
            bar.update(task, completed=done, total=total)

        path = zonal_table(zones, rasters, stats=stats, method=method, by_class=by_class,
                           output=output, layer=layer, id_column=id_column,
                           weights=weights, lang=lang, progress=progress)
    click.echo(label("zonal.written", lang).format(path=path))
