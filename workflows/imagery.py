"""``agrigis imagery``: list Level-2 satellite products and stack an index over an area.

Recipe: :func:`layers.imagery.scan` opens every product in the folders (skipping, with
its reason, any that cannot be used; STAC item ``.json`` files count as products, see
:mod:`layers.imagery.stac`), :meth:`Product.scene` hands each to
:func:`layers.imagery.stack.index_stack`, and the result is written atomically to NetCDF
(:mod:`gis.outputs`) or to a Zarr store (:func:`write_zarr`, staged folder renamed into
place). :func:`product_table` and :func:`build_stack` are the plain functions behind the
commands.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import click
import numpy as np

from workflows.options import lang_option

log = logging.getLogger(__name__)

TABLE_COLUMNS = ("sensor", "date", "tile", "baseline", "cloud_percent", "product_id")
LIST_SUFFIXES = (".csv", ".xlsx")


AOI_COLUMNS = ("aoi_cloud_percent", "aoi_coverage_percent")


def product_table(products, lang: str = "zh", covers=None):
    """One row per product: sensor, acquisition time (UTC), tile / path-row, baseline,
    cloud % from the metadata and product id; headers in ``lang``. With ``covers`` (one
    :class:`layers.imagery.stack.Cover` per product) also the cloud % and the coverage %
    over the AOI."""
    import pandas as pd

    from gis.labels import label

    rows = [{"sensor": p.sensor, "date": p.time.strftime("%Y-%m-%d %H:%M"), "tile": p.tile,
             "baseline": p.baseline, "cloud_percent": None if p.cloud_percent is None else round(p.cloud_percent, 2), "product_id": p.id} for p in products]
    columns = list(TABLE_COLUMNS)
    if covers is not None:
        for row, cover in zip(rows, covers, strict=True):
            row.update(aoi_cloud_percent=cover.cloud_percent, aoi_coverage_percent=cover.coverage_percent)
        columns[5:5] = AOI_COLUMNS
    df = pd.DataFrame(rows, columns=columns)
    return df.rename(columns={c: label(f"imagery.col.{c}", lang) for c in columns})


def aoi_covers(products, aoi_value: str, *, crs: str = "EPSG:4550", workspace=None):
    """:class:`layers.imagery.stack.Cover` of each product over the AOI, counted on a
    coarse grid (:data:`layers.imagery.stack.COVER_RES`) from its SCL / QA_PIXEL."""
    from layers.imagery.aoi import resolve_aoi
    from layers.imagery.stack import COVER_RES, aoi_cover

    aoi = resolve_aoi(aoi_value, crs=crs, res=COVER_RES, workspace=workspace)
    inside = aoi.inside()
    return [aoi_cover(p.mask, inside, aoi.grid) for p in products]


def _scan(folders: Sequence[str | os.PathLike], lang: str):
    """Products of ``folders``; skipped ones are printed with their reason."""
    from gis.errors import DataFileError
    from gis.labels import message
    from layers.imagery import scan

    found = scan(folders)
    for _path, exc in found.skipped:
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
        table.add_row(*("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in rec))
    Console(width=200).print(table)


def _check_suffix(output: Path | None, suffixes: tuple[str, ...], key: str) -> None:
    from gis.errors import InputError

    if output is not None and output.suffix.lower() not in suffixes:
        if key == "error.output_type":
            raise InputError.of("error.output_type", path=output, choices=", ".join(suffixes))
        raise InputError.of("error.imagery_stack_output", path=output)


@click.group("imagery")
def imagery_group() -> None:
    """Sentinel-2 L2A and Landsat C2 L2 products: list them, stack an index; MBTiles → PMTiles.

    \b
      agrigis imagery list downloads/ -o products.xlsx
      agrigis imagery stack downloads/ --index NDVI --bounds 499980,5790240,609780,5900040 \\
          --crs EPSG:32629 --res 60 -o ndvi.nc
      agrigis imagery stack items.json --index NDVI --aoi 大安市 -o ndvi.zarr
      agrigis imagery pmtiles county.mbtiles -o county.pmtiles

    FOLDERS may also be STAC item / ItemCollection .json files with local asset hrefs.
    """


@imagery_group.command("list")
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the table to this .csv or .xlsx file.")
@click.option("--aoi", default=None,
              help="Also give each product's cloud % and coverage % over this area (county, city, parcel file, bounds).")
@click.option("--crs", default="EPSG:4550", show_default=True, help="CRS of --aoi bounds.")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Workspace whose catalogue gives the counties (default: the current directory).")
@lang_option
def list_command(folders: tuple[Path, ...], output: Path | None, aoi: str | None, crs: str, workspace,
                 lang: str) -> None:
    """List the products in FOLDERS (each a product or a folder of products)."""
    from gis.labels import label, message
    from gis.outputs import Sheet, write_csv, write_excel

    _check_suffix(output, LIST_SUFFIXES, "error.output_type")
    found = _scan(folders, lang)
    covers = aoi_covers(found.products, aoi, crs=crs, workspace=workspace) if aoi else None
    df = product_table(found.products, lang, covers)
    _print_table(df)
    click.echo(message("imagery.found", lang, n=len(found.products), skipped=len(found.skipped)))
    if output is not None:
        if output.suffix.lower() == ".xlsx":
            formats = {label(f"imagery.col.{c}", lang): "0.0" for c in AOI_COLUMNS if covers is not None}
            write_excel(output, [Sheet(label("imagery.sheet", lang), df,
                                       formats={label("imagery.col.cloud_percent", lang): "0.00", **formats})])
        else:
            write_csv(output, df)
        click.echo(message("imagery.written", lang, path=output))


@dataclass(frozen=True)
class StackRequest:
    """What ``agrigis imagery stack`` builds: indices, area, grid, masks and composite.

    ``aoi`` is anything :func:`layers.imagery.aoi.resolve_aoi` takes (county name or
    code, the city, a parcel file, bounds ``xmin,ymin,xmax,ymax`` in ``crs``).
    ``composite`` is None (every scene) or ``month`` / ``season`` / ``year`` with
    ``how`` (``median`` / ``max`` / ``mean``) over ``season`` months (default May–September).
    ``cloud_prob`` also masks Sentinel-2 cells whose ``MSK_CLDPRB`` exceeds it (%).
    """

    aoi: str
    indices: tuple[str, ...] = ("NDVI",)
    crs: str = "EPSG:4550"
    res: float = 10.0
    water: bool = False
    cloud_prob: float | None = None
    composite: str | None = None
    how: str = "median"
    season: tuple[int, int] = (5, 9)
    lazy: bool = True


def parse_indices(value: str) -> tuple[str, ...]:
    """``"NDVI,SI1"`` → ``("NDVI", "SI1")``, each checked against :mod:`gis.indices`."""
    from gis.indices import get_index

    names = tuple(v.strip() for v in str(value).split(",") if v.strip()) or ("NDVI",)
    return tuple(get_index(n).id for n in names)


def build_stack(folders: Sequence[str | os.PathLike], request: StackRequest, *, lang: str = "zh",
                progress=None, workspace=None):
    """The index stack(s) of the products in ``folders`` over ``request.aoi``, as a
    Dataset with one ``time × y × x`` variable per index (composited if asked, with
    ``valid_count``). Lazy (dask) when ``request.lazy``: written block by block."""
    import xarray as xr

    from gis.composite import check_composite, composite
    from gis.masks import MaskOptions
    from layers.imagery.aoi import resolve_aoi
    from layers.imagery.stack import StackOptions, index_stack

    indices = parse_indices(",".join(request.indices))  # an unknown index fails before any product is read
    if request.composite is not None:  # a bad composite option fails before reading too
        check_composite(request.composite, request.how, request.season)
    mask = MaskOptions(water=request.water, cloud_prob=request.cloud_prob)
    aoi = resolve_aoi(request.aoi, crs=request.crs, res=request.res, workspace=workspace)
    found = _scan(folders, lang)
    scenes = [p.scene(aoi.grid.transform.a) for p in found.products]
    opts = StackOptions(mask=mask, aoi=aoi, lazy=request.lazy)
    out = {}
    for name in indices:
        da = index_stack(scenes, name, aoi.grid, opts, progress=progress)
        if request.composite is None:
            out[da.name] = da
            continue
        ds = composite(da, request.composite, request.how, request.season)
        out[da.name] = ds[da.name]
        out["valid_count" if len(indices) == 1 else f"{da.name}_valid_count"] = ds["valid_count"]
    ds = xr.Dataset(out)
    ds.attrs.update({"title": "agrigis imagery stack", "aoi": aoi.name, "aoi_kind": aoi.kind,
                     "source_products": ", ".join(p.id for p in found.products)})
    if any("SYNTHETIC" in p.id for p in found.products):
        ds.attrs["synthetic"] = "true"
    return ds


STACK_SUFFIXES = (".nc", ".zarr")
"""Output types of ``agrigis imagery stack``: NetCDF (one file) or Zarr (a folder)."""


def write_stack(ds, output: Path) -> Path:
    """Write the stack (DataArray or Dataset) atomically to NetCDF (``.nc``) or Zarr
    (``.zarr``, format 2 with consolidated metadata: read by zarr-python 2 and 3, xarray
    and GDAL); a dask-backed stack is computed block by block while it is written. A
    failure leaves any previous file or store as it was."""
    from gis.outputs import atomic_write

    if not hasattr(ds, "data_vars"):
        ds = ds.to_dataset(name=ds.name)
    if Path(output).suffix.lower() == ".zarr":
        return write_zarr(ds, Path(output))
    return atomic_write(output, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))


def write_zarr(ds, output: Path) -> Path:
    """Write ``ds`` as a Zarr store at ``output``: into a staged folder beside it, then
    renamed into place (an existing store is moved aside first and removed only after
    the new one is in place, or put back). A path that exists but is no Zarr store is
    refused, never deleted.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray as xr
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "s.zarr"
    >>> ds = xr.Dataset({"ndvi": (("y", "x"), np.ones((2, 2), "float32"))})
    >>> write_zarr(ds, out).name, write_zarr(ds * 2, out).name
    ('s.zarr', 's.zarr')
    >>> float(xr.open_dataset(out, engine="zarr")["ndvi"].max())
    2.0
    """
    import shutil
    import tempfile

    from gis.errors import AgrigisError, DataFileError
    from gis.outputs import output_error

    if output.exists() and not (output.is_dir() and _is_store(output)):
        raise DataFileError.of("error.zarr_target_not_store", path=output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    except OSError as exc:
        raise output_error(output, exc) from None
    old = tmp.with_name(tmp.name + "-old")
    try:
        _store_zarr(ds, tmp)
        if output.exists():
            os.replace(output, old)
        try:
            os.replace(tmp, output)
        except OSError:
            if old.exists():
                os.replace(old, output)
            raise
    except AgrigisError:  # already names the file (DataFileError is an OSError too)
        raise
    except OSError as exc:
        raise output_error(output, exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return output


def _store_zarr(ds, tmp: Path) -> None:
    """Compute and write ``ds`` into the new store ``tmp`` on a pool of our own, so that a
    failed chunk returns only after every chunk write in flight has finished (the staged
    folder is then removed whole, not recreated by a late write)."""
    from concurrent.futures import ThreadPoolExecutor

    import dask

    job = _zarr_chunks(ds).to_zarr(tmp, mode="w", zarr_format=2, consolidated=True, compute=False)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        dask.compute(job, pool=pool)


def _zarr_chunks(ds):
    """``ds`` with dask chunks Zarr can store (equal along each dim but the last one):
    a composite can leave uneven ones."""
    out = ds.copy()
    for name, var in ds.variables.items():
        if var.chunks is None:
            continue
        fix = {dim: max(sizes) for dim, sizes in zip(var.dims, var.chunks, strict=True)
               if len(set(sizes[:-1])) > 1 or (len(sizes) > 1 and sizes[-1] > sizes[0])}
        if fix:
            out[name] = ds[name].chunk(fix)
    return out


def _is_store(path: Path) -> bool:
    from gis.stackfile import ZARR_MARKERS

    return any((path / m).exists() for m in ZARR_MARKERS)


def _season(value: str) -> tuple[int, int]:
    from gis.errors import InputError

    m = re.fullmatch(r"\s*(\d{1,2})\s*-\s*(\d{1,2})\s*", value)
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2)) <= 12):
        raise InputError.of("error.imagery_season", value=value)
    return int(m.group(1)), int(m.group(2))


@imagery_group.command("stack")
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--index", "index", default="NDVI", show_default=True,
              help="Index/indices of gis.indices, comma-separated (NDVI,SI1 …): one variable each.")
@click.option("--aoi", default=None,
              help="Area: a county (大安市 / 220882), the city (白城市), a parcel file, or xmin,ymin,xmax,ymax in --crs.")
@click.option("--bounds", default=None, help="Same as --aoi xmin,ymin,xmax,ymax (kept for old scripts).")
@click.option("--crs", default="EPSG:4550", show_default=True, help="CRS of the output grid.")
@click.option("--res", type=float, default=10.0, show_default=True, help="Cell size in metres.")
@click.option("--mask-water", is_flag=True, help="Also mask Sentinel-2 water (SCL class 6).")
@click.option("--cloud-prob", "cloud_prob", type=float, default=None,
              help="Also mask Sentinel-2 cells whose cloud probability (MSK_CLDPRB) exceeds this %, e.g. 40.")
@click.option("--composite", "period", type=click.Choice(["month", "season", "year"]), default=None,
              help="Composite per month, growing season (see --season) or year, with valid_count.")
@click.option("--how", type=click.Choice(["median", "max", "mean"]), default="median", show_default=True,
              help="Composite statistic of the valid observations of each cell.")
@click.option("--season", "season", default="5-9", show_default=True, help="Growing-season months for --composite season.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="NetCDF file (.nc) or Zarr store (.zarr folder) to write.")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Workspace whose catalogue gives the counties (default: the current directory).")
@lang_option
def stack_command(*, folders: tuple[Path, ...], index: str, aoi: str | None, bounds: str | None, crs: str,
                  res: float, mask_water: bool, cloud_prob: float | None, period: str | None, how: str,
                  season: str, output: Path, workspace, lang: str) -> None:
    """Cloud-masked INDEX of every product in FOLDERS on one grid over an area, as a time stack."""
    from rich.console import Console
    from rich.progress import Progress

    from gis.errors import InputError
    from gis.labels import label, message

    _check_suffix(output, STACK_SUFFIXES, "error.imagery_stack_output")
    if bounds is not None:
        _bounds(bounds)
    if (aoi is None) == (bounds is None):
        raise InputError.of("error.imagery_aoi_missing")
    request = StackRequest(aoi=aoi or bounds, indices=tuple(index.split(",")), crs=crs, res=res, water=mask_water,
                           cloud_prob=cloud_prob, composite=period, how=how, season=_season(season))
    con = Console(stderr=True)
    with Progress(console=con, disable=not con.is_terminal, transient=True) as bar:
        task = bar.add_task(label("imagery.progress", lang), total=None)
        ds = build_stack(folders, request, lang=lang, workspace=workspace,
                         progress=lambda done, total: bar.update(task, completed=done, total=total))
        write_stack(ds, output)
    click.echo(message("imagery.written", lang, path=output))


def _bounds(value: str) -> tuple[float, ...]:
    from layers.imagery.aoi import parse_bounds

    return parse_bounds(value)


@imagery_group.command("pmtiles")
@click.argument("mbtiles", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PMTiles file to write (default: MBTILES with the .pmtiles suffix).")
@lang_option
def pmtiles_command(*, mbtiles: Path, output: Path | None, lang: str) -> None:
    """Convert a raster MBTiles (whole-county imagery) to a .pmtiles file for the phone.

    \b
      agrigis imagery pmtiles 洮南市影像.mbtiles
      agrigis imagery pmtiles county.mbtiles -o /media/phone/county.pmtiles

    The map opens the .pmtiles from the phone through its "open an imagery file" button,
    read in the browser, never uploaded; a browser cannot read an MBTiles file.
    """
    from gis.labels import message
    from maps.imagery_pmtiles import mbtiles_to_pmtiles

    done = mbtiles_to_pmtiles(mbtiles, output)
    click.echo(message("note.pmtiles_written", lang, path=done.path, zmin=done.zoom_min, zmax=done.zoom_max,
                       n=done.n_tiles, mb=done.n_bytes / 1e6))
