"""``agrigis registry copy SRC DST``: a whole registry from a GeoPackage into a PostGIS
database or back (:func:`layers.registry.copy_registry`)."""

from __future__ import annotations

from pathlib import Path

import click

from gis.errors import DataFileError
from gis.labels import message
from workflows.options import lang_option, open_registry, registry_path


@click.command("copy")
@click.argument("source")
@click.argument("target")
@lang_option
def copy_command(source, target, lang):
    """复制项目库 / copy a registry between a GeoPackage and PostGIS (every version, batch,
    fingerprint, inspection and photo, byte for byte) into an empty one.

    \b
    Example:
      agrigis registry copy registry.gpkg postgresql://city@db.example/registry
      agrigis registry copy postgresql://city@db.example/registry backup.gpkg
    """
    from layers.registry import Registry, copy_registry

    src = open_registry(source)
    where = registry_path(target)
    new_file = isinstance(where, Path) and not where.exists()
    if isinstance(where, Path) and where.is_dir():
        raise DataFileError.of("error.registry_is_folder", path=where)
    try:
        dst = Registry(where)
        counts = copy_registry(src, dst)
    except BaseException:
        if new_file and where.exists():  # a file this command created: leave nothing behind
            where.unlink()
        raise
    click.echo(message("note.registry_copied", lang, source=src.path, target=dst.path, versions=counts["projects"],
                       batches=counts["batches"], inspections=counts["inspections"],
                       photos=counts["inspection_photos"]))
