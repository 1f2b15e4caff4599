"""Options shared by several ``agrigis`` commands, defined once."""

from __future__ import annotations

import os
from pathlib import Path

import click

DEFAULT_REGISTRY = "registry.gpkg"
"""Registry file used when neither ``--registry`` nor ``AGRIGIS_REGISTRY`` is given."""


class RegistryURL(str):
    """A registry in a PostgreSQL/PostGIS database (``postgresql://user@host:port/db``).

    A ``str`` that answers the few questions callers ask of a registry path:
    ``exists()`` is True (the server says otherwise when it is opened, with a clear
    error) and ``name`` is the URL without its password.

    Examples
    --------
    >>> u = RegistryURL("postgresql://city:pw@localhost/registry")
    >>> u.exists(), u.name
    (True, 'postgresql://city:***@localhost/registry')
    """

    def exists(self) -> bool:
        return True

    @property
    def name(self) -> str:
        from layers.registry.postgis import hide_password

        return hide_password(str(self))


def registry_path(value: str | os.PathLike | None = None) -> Path | RegistryURL:
    """The registry: the given value, else ``$AGRIGIS_REGISTRY``, else ``./registry.gpkg``.

    A GeoPackage is a :class:`~pathlib.Path`; a ``postgresql://`` URL a :class:`RegistryURL`.

    Examples
    --------
    >>> registry_path("r.gpkg"), type(registry_path("postgresql://u@h/db")).__name__
    (PosixPath('r.gpkg'), 'RegistryURL')
    """
    from layers.registry import is_url

    value = value or os.environ.get("AGRIGIS_REGISTRY") or DEFAULT_REGISTRY
    if isinstance(value, str) and is_url(value):
        return RegistryURL(value)
    return Path(value)


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
    type=str,
    default=None,
    callback=lambda ctx, param, value: None if value is None else registry_path(value),
    help="Registry: a GeoPackage file, or a PostGIS database as postgresql://user@host:port/db. "
         "Default: $AGRIGIS_REGISTRY, else ./registry.gpkg.",
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
    if isinstance(path, Path) and path.is_dir():
        raise DataFileError.of("error.registry_is_folder", path=path)
    return Registry(path)


def registry_parcels(registry: str | os.PathLike | None = None):
    """Current project parcels of the registry; ``attrs["synthetic"]`` says if any is demo data."""
    return open_registry(registry).projects()
