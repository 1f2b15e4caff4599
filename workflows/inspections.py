"""``agrigis inspections import FILE``: field inspections exported from a map, into the registry.

Recipe: read the export (``layers.inspections.read_export`` checks it completely), then
store every inspection whose project the registry knows, with its photos, in one
transaction. Re-importing the same file stores nothing new. Inspections of unknown
project codes are listed with the reason and not stored.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from gis.labels import message

from .options import lang_option, open_registry, registry_option

log = logging.getLogger(__name__)


def import_file(path: str | os.PathLike, registry=None, lang: str = "zh"):
    """Import one inspection export into the registry; returns :class:`layers.inspections.ImportResult`."""
    from layers.inspections import import_inspections

    return import_inspections(open_registry(registry), path, lang=lang)


@click.group("inspections")
def inspections_group() -> None:
    """现场核查 / field inspections exported from the field maps.

    \b
      agrigis inspections import agrigis-inspections-2024-07-01.geojson
    """


@inspections_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@registry_option
@lang_option
def import_command(file, registry, lang):
    """导入核查记录 / import inspections (with photos) into the registry."""
    res = import_file(file, registry, lang)
    click.echo(message("note.inspections_imported", lang, new=res.n_new, photos=res.n_photos,
                       unchanged=res.n_unchanged, rejected=len(res.rejected)))
    for r in res.rejected.itertuples(index=False):
        click.echo(message("note.inspection_rejected", lang, feature=r.feature, reason=r.reason))
    if len(res.rejected) and not res.n_new and not res.n_unchanged:
        raise SystemExit(1)
