"""The ``agrigis`` command line.

One command per bureau job. Each command lives in its own workflow module and is
loaded only when used, so ``agrigis --help`` stays fast. Errors that agrigis raises on
purpose are printed in plain words without a traceback and the exit code is 1;
``agrigis --debug …`` shows the traceback.

To add a command: write a ``click`` command in ``workflows/<module>.py`` and add one
line to :data:`COMMANDS`.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from workflows.options import LANG_META

# command name -> "module:attribute" (a click.Command or click.Group)
COMMANDS: dict[str, str] = {
    "import": "workflows.importing:import_command",
    "registry": "workflows.registry_cmd:registry_group",
    "check": "workflows.check:check_command",
    "remediation": "workflows.remediation:remediation_command",
    "suitability": "workflows.suitability:suitability_command",
    "progress": "workflows.progress:progress_command",
    "demo": "workflows.demo:demo_command",
    "map": "workflows.mapping:map_group",
    "zonal": "workflows.zonal:zonal_command",
    "imagery": "workflows.imagery:imagery_group",
    "inspections": "workflows.inspections:inspections_group",
    "soil": "workflows.soil:soil_command",
    "verify": "workflows.verify:verify_command",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("baicheng-agrigis")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def error_text(exc, lang: str) -> str:
    """The line the CLI prints for an agrigis error, in the command's ``--lang``.

    Examples
    --------
    >>> from gis.errors import DataFileError
    >>> exc = DataFileError.of("error.file_not_found", path="a.shp")
    >>> error_text(exc, "zh")
    '错误:a.shp:找不到文件,请检查路径'
    >>> error_text(exc, "en")
    'error: a.shp: file not found; check the path'
    """
    from gis.labels import label

    sep = ":" if lang == "zh" else ": "
    return f"{label('error.prefix', lang)}{sep}{exc.text(lang)}"


class AgrigisGroup(click.Group):
    """A group that loads its subcommands lazily and turns our errors into messages."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str):
        if cmd_name in COMMANDS:
            module, attr = COMMANDS[cmd_name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context):
        from gis.errors import AgrigisError
        from gis.labels import DEFAULT_LANG

        try:
            return super().invoke(ctx)
        except AgrigisError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.secho(error_text(exc, ctx.meta.get(LANG_META, DEFAULT_LANG)), err=True, fg="red")
            ctx.exit(1)
        except KeyboardInterrupt:  # pragma: no cover - interactive
            click.secho("interrupted; nothing was changed by the unfinished step", err=True)
            ctx.exit(130)


@click.group(cls=AgrigisGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="agrigis")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-v", "--verbose", is_flag=True, help="Show informational logs.")
@click.pass_context
def main(ctx: click.Context, debug: bool, verbose: bool) -> None:
    """agrigis — 白城市农业项目地图与目标跟踪 / Baicheng farmland projects, maps and targets.

    \b
    Typical session:
      agrigis demo demo-workspace     build a synthetic Baicheng workspace and run everything
      agrigis import parcels.shp      add project parcels to the registry
      agrigis check                   find overlaps and area problems
      agrigis progress -o out/        progress against the 2024 targets (Excel, CSV, HTML)

    Run "agrigis COMMAND --help" for the options of one command.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)


def run() -> None:  # pragma: no cover - thin wrapper used by the console script
    main(obj={}, prog_name="agrigis")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
