"""``agrigis registry grant``: create the logins of a bureau's PostGIS registry (city,
county office, viewer), enforced by PostgreSQL row-level security (:mod:`layers.registry.postgis`)."""

from __future__ import annotations

import click

from gis.errors import InputError
from gis.labels import message
from workflows.options import lang_option, registry_option, registry_path


@click.command("grant")
@click.argument("role")
@click.option("--kind", type=click.Choice(["city", "county", "viewer"]), required=True,
              help="city: reads and writes all; county: reads all, writes its own county; viewer: reads.")
@click.option("--county", default=None, help="County code (GB/T 2260) of a county-office login, e.g. 220882.")
@click.option("--password", default=None, help="Password of the login (else set it later with ALTER ROLE).")
@registry_option
@lang_option
def grant_command(role, kind, county, password, registry, lang):
    """Create or change a login of a PostGIS registry (run as the database owner)."""
    from layers.registry import Registry, is_url

    where = registry_path(registry)
    if not is_url(where):
        raise InputError.of("error.pg_grant_needs_url", path=where)
    Registry(where).backend.grant(role, kind, county=county, password=password)
    click.echo(message("note.pg_granted", lang, role=role, kind=kind, county=county or "-"))
