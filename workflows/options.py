"""Options shared by several ``agrigis`` commands, defined once."""

from __future__ import annotations

import os
from pathlib import Path

import click

DEFAULT_REGISTRY = "registry.gpkg"
"""Registry file used when neither ``--registry`` nor ``AGRIGIS_REGISTRY`` is given."""


def registry_path(value: str | os.PathLike | None = None) -> Path:
    """The registry path: the given value, else ``$AGRIGIS_REGISTRY``, else ``./registry.gpkg``."""
    return Path(value or os.environ.get("AGRIGIS_REGISTRY") or DEFAULT_REGISTRY)


LANG_META = "agrigis.lang"
"""Key of ``click.Context.meta`` (shared by all contexts of one run) holding the
command's ``--lang``; the CLI prints errors in it (Chinese when no command set it)."""


def _remember_lang(ctx: click.Context, param: click.Parameter, value: str) -> str:
    ctx.meta[LANG_META] = value
    return value


lang_option = click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default="zh",
    show_default=True,
    callback=_remember_lang,
    help="Language of tables, legends, messages and errors (中文 zh / English en).",
)

registry_option = click.option(
    "--registry",
    "registry",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Registry GeoPackage. Default: $AGRIGIS_REGISTRY, else ./registry.gpkg.",
)


def open_registry(registry: str | os.PathLike | None = None, *, must_exist: bool = True):
    """The :class:`layers.registry.Registry` at ``registry`` (path rules of :func:`registry_path`).

    Raises
    ------
    DataFileError
        If the file does not exist and ``must_exist`` — with how to create it.
    """
    from gis.errors import DataFileError
    from layers.registry import Registry

    path = registry_path(registry)
    if must_exist and not path.exists():
        raise DataFileError.of("error.registry_missing", path=path)
    return Registry(path)


def registry_parcels(registry: str | os.PathLike | None = None):
    """Current project parcels of the registry; ``attrs["synthetic"]`` says if any is demo data."""
    return open_registry(registry).projects()
