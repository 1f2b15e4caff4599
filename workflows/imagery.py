"""``agrigis imagery``: list Level-2 satellite products and stack an index over an area.

Recipe: :func:`layers.imagery.scan` opens every product in the folders (skipping, with
its reason, any that cannot be used), :meth:`Product.scene` hands each to
:func:`layers.imagery.stack.index_stack`, and the result is written atomically
(:mod:`gis.outputs`). :func:`product_table` and :func:`build_stack` are the plain
functions behind the commands.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import click

from workflows.options import lang_option

log = logging.getLogger(__name__)

TABLE_COLUMNS = ("sensor", "date", "tile", "baseline", "cloud_percent", "product_id")
LIST_SUFFIXES = (".csv", ".xlsx")


def product_table(products, lang: str = "zh"):
    """One row per product: sensor, acquisition time (UTC), tile / path-row, baseline,
    cloud % from the metadata and product id; headers in ``lang``."""
    import pandas as pd

    from gis.labels import label

    rows = [{"sensor": p.sensor, "date": p.time.strftime("%Y-%m-%d %H:%M"), "tile": p.tile,
             "baseline": p.baseline, "cloud_percent": None if p.cloud_percent is None else round(p.cloud_percent, 2), "product_id": p.id} for p in products]
    df = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    return df.rename(columns={c: label(f"imagery.col.{c}", lang) for c in TABLE_COLUMNS})


def _scan(folders: Sequence[str | os.PathLike], lang: str):
    """Products of ``folders``; skipped ones are printed with their reason."""
    from gis.errors import DataFileError
    from gis.labels import message
    from layers.imagery import scan

    found = scan(folders)
    for path, exc in found.skipped:
        click.secho(message("imagery.skipped", lang, reason=exc.text(lang)), err=True, fg="yellow")
    if not found.products:
        raise DataFileError.of("error.imagery_no_products", folders=", ".join(map(str, folders)))
    return found


def _print_table(df) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for c in df.columns:
        table.add_column(str(c))
    for rec in df.itertuples(index=False):
        table.add_row(*("" if v is None or v != v else str(v) for v in rec))
    Console(width=200).print(table)


def _check_suffix(output: Path | None, suffixes: tuple[str, ...], key: str) -> None:
    from gis.errors import InputError

    if output is not None and output.suffix.lower() not in suffixes:
        if key == "error.output_type":
            raise InputError.of("error.output_type", path=output, choices=", ".join(suffixes))
        raise InputError.of("error.imagery_stack_output", path=output)


@click.group("imagery")
def imagery_group() -> None:
    """Sentinel-2 L2A and Landsat C2 L2 products: list them, stack an index.

    \b
      agrigis imagery list downloads/ -o products.xlsx
      agrigis imagery stack downloads/ --index NDVI --bounds 499980,5790240,609780,5900040 \\
          --crs EPSG:32629 --res 60 -o ndvi.nc
    """


@imagery_group.command("list")
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the table to this .csv or .xlsx file.")
@lang_option
def list_command(folders: tuple[Path, ...], output: Path | None, lang: str) -> None:
    """List the products in FOLDERS (each a product or a folder of products)."""
    from gis.labels import label, message
    from gis.outputs import Sheet, write_csv, write_excel

    _check_suffix(output, LIST_SUFFIXES, "error.output_type")
    found = _scan(folders, lang)
    df = product_table(found.products, lang)
    _print_table(df)
    click.echo(message("imagery.found", lang, n=len(found.products), skipped=len(found.skipped)))
    if output is not None:
        if output.suffix.lower() == ".xlsx":
            write_excel(output, [Sheet(label("imagery.sheet", lang), df,
                                       formats={label("imagery.col.cloud_percent", lang): "0.00"})])
        else:
            write_csv(output, df)
        click.echo(message("imagery.written", lang, path=output))


def _bounds(value: str) -> tuple[float, ...]:
    from gis.errors import InputError

    try:
        vals = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise InputError.of("error.imagery_bounds", value=value) from None
    if len(vals) != 4:
        raise InputError.of("error.imagery_bounds", value=value)
    return vals


def build_stack(folders: Sequence[str | os.PathLike], *, index: str, bounds: Sequence[float],
                crs: str = "EPSG:4550", res: float = 10.0, water: bool = False, lang: str = "zh",
                progress=None):
    """The index stack (:func:`layers.imagery.stack.index_stack`) of the products in ``folders``."""
    from gis.coverage import Grid
    from gis.indices import get_index
    from gis.masks import MaskOptions
    from layers.imagery.stack import index_stack

    ix = get_index(index)  # an unknown index fails before any product is read
    grid = Grid.from_bounds(bounds, crs=crs, res=res)
    found = _scan(folders, lang)
    scenes = [p.scene(grid.transform.a) for p in found.products]
    return index_stack(scenes, ix, grid, MaskOptions(water=water), progress=progress)


def write_stack(da, output: Path) -> Path:
    """Write the stack to NetCDF atomically (a failure leaves any previous file as it was)."""
    from gis.outputs import atomic_write

    ds = da.to_dataset(name=da.name)
    return atomic_write(output, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))


@imagery_group.command("stack")
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--index", "index", default="NDVI", show_default=True, help="Index of gis.indices (NDVI, SI1 …).")
@click.option("--bounds", required=True, help="xmin,ymin,xmax,ymax in the coordinates of --crs.")
@click.option("--crs", default="EPSG:4550", show_default=True, help="CRS of the output grid.")
@click.option("--res", type=float, default=10.0, show_default=True, help="Cell size in metres.")
@click.option("--mask-water", is_flag=True, help="Also mask Sentinel-2 water (SCL class 6).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="NetCDF file (.nc) to write.")
@lang_option
def stack_command(folders: tuple[Path, ...], index: str, bounds: str, crs: str, res: float, mask_water: bool,
                  output: Path, lang: str) -> None:
    """Cloud-masked INDEX of every product in FOLDERS on one grid, as a time stack."""
    from gis.labels import message

    _check_suffix(output, (".nc",), "error.imagery_stack_output")
    da = build_stack(folders, index=index, bounds=_bounds(bounds), crs=crs, res=res, water=mask_water,
                     lang=lang)
    write_stack(da, output)
    click.echo(message("imagery.written", lang, path=output))
