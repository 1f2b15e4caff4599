"""``agrigis registry list|show|history|undo|export|verify``: look into the registry, undo
batches, export it, and find hand edits."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from gis.errors import RegistryError
from gis.labels import label, message
from gis.outputs import terminal_text
from workflows.options import lang_option, open_registry, registry_option


def batch_table(registry=None, lang: str = "zh") -> pd.DataFrame:
    """Batches with readable headers (for ``registry list``)."""
    b = open_registry(registry).batches()
    cols = {"batch_id": label("registry.batch", lang), "imported_at": label("registry.imported_at", lang),
            "user": label("registry.user", lang), "source_path": label("registry.source", lang),
            "n_read": label("registry.read", lang), "n_accepted": label("registry.accepted", lang),
            "n_rejected": label("registry.rejected", lang), "n_new": label("registry.new", lang),
            "n_updated": label("registry.updated", lang), "status": label("registry.status", lang),
            "synthetic": "synthetic"}
    return b[list(cols)].rename(columns=cols)


def echo(text) -> None:
    """Print one line or table of registry content: every text a hand edit may have put
    in the registry passes :func:`gis.outputs.terminal_text` (no ESC sequences)."""
    click.echo(terminal_text(text))


def _echo_table(df: pd.DataFrame) -> None:
    df = df.rename(columns=terminal_text).map(lambda v: terminal_text(v) if isinstance(v, str) else v)
    with pd.option_context("display.max_rows", 200, "display.max_columns", 30, "display.width", 200,
                           "display.unicode.east_asian_width", True):
        echo(df.to_string(index=False))


@click.group("registry")
def registry_group():
    """Look into the project registry, undo a batch, export (登记库)."""


@registry_group.command("list")
@registry_option
@lang_option
def list_command(registry, lang):
    """List import batches."""
    df = batch_table(registry, lang)
    if df.empty:
        echo(label("registry.empty", lang))
        return
    _echo_table(df)


@registry_group.command("show")
@click.argument("key")
@registry_option
@lang_option
def show_command(key, registry, lang):
    """Show one batch (by batch id) or the current version of one project (by code)."""
    reg = open_registry(registry)
    b = reg.batches()
    hit = b[b["batch_id"] == key]
    if len(hit):
        row = hit.iloc[0]
        for k, v in row.items():
            echo(f"{k}: {v}")
        if row["synthetic"]:
            echo(label("registry.synthetic", lang))
        return
    p = reg.projects()
    p = p[p["project_code"] == key]
    if p.empty:
        raise RegistryError.of("error.no_key", name=key, path=reg.path)
    row = p.iloc[0]
    for k in p.columns:
        name = label(f"column.{k}", lang) if k != "geometry" else "geometry"
        v = row[k] if k != "geometry" else f"{row[k].geom_type}, bounds {tuple(round(x, 5) for x in row[k].bounds)}"
        echo(f"{name}: {v}")
    _echo_inspections(reg, key, lang)


def inspections_table(reg, code: str, lang: str = "zh") -> pd.DataFrame:
    """The field inspections of one project, oldest first, with readable headers and
    findings (:func:`layers.inspections.inspections`)."""
    from layers.inspections import inspections

    ins = inspections(reg, code)
    cols = ("created_at", "finding", "note", "area_mu", "photo_count", "version", "inspection_id")
    df = ins[list(cols)].astype(object)
    df["finding"] = [label(f"inspection.finding.{f}", lang) for f in df["finding"]]
    df["created_at"] = [str(v)[:19] if v else "" for v in df["created_at"]]
    return df.rename(columns={c: label(f"inspection.col.{c}", lang) for c in cols})


def _echo_inspections(reg, code: str, lang: str) -> None:
    table = inspections_table(reg, code, lang)
    echo(message("registry.inspections_of", lang, n=len(table)))
    if len(table):
        _echo_table(table)


@registry_group.command("history")
@click.argument("project_code")
@registry_option
@lang_option
def history_command(project_code, registry, lang):
    """All versions of one project, oldest first."""
    h = open_registry(registry).history(project_code)
    cols = ["status", "category", "year", "area_mu", "declared_area_mu", "batch_id", "valid_from", "valid_to"]
    _echo_table(pd.DataFrame(h[cols]).rename(columns={c: label(f"column.{c}", lang) for c in cols}))


@registry_group.command("undo")
@click.argument("batch_id")
@registry_option
@lang_option
def undo_command(batch_id, registry, lang):
    """Undo an import batch: the registry returns to the state before it."""
    deleted, restored = open_registry(registry).undo(batch_id)
    echo(f"{label('registry.undone', lang)} {batch_id}: {label('registry.deleted', lang)} {deleted}, "
               f"{label('registry.restored', lang)} {restored}")


@registry_group.command("export")
@click.argument("output", type=click.Path(path_type=Path))
@click.option("--history", "include_history", is_flag=True, help="Also the replaced versions.")
@click.option("--force", is_flag=True,
              help="Replace an existing file that is not an earlier export (never the registry itself).")
@click.option("--category", help="Only this category (code or Chinese name, e.g. 高标准农田).")
@click.option("--county", help="Only this county (GB/T 2260 code or name, e.g. 220882 or 大安市).")
@click.option("--per-project", is_flag=True,
              help="TXT: OUTPUT is a folder that receives one <project_code>.txt per project.")
@registry_option
@lang_option
def export_command(*, output, include_history, force, category, county, per_project, registry, lang):
    """Export the projects to .gpkg, .shp, .geojson, .csv, .xlsx or .txt.

    \b
    .txt is the 自然资源部 boundary-point coordinate file (界址点坐标文件, 上图入库):
    CGCS2000 3° Gauss-Krüger with the zone prefix, points J1…, area in 公顷.
      agrigis registry export 2024_高标准农田.txt --category 高标准农田 --county 大安市
      agrigis registry export 报备/ --per-project --category 高标准农田
    An existing output is replaced only when an earlier export wrote it (or with
    --force); the registry itself is always refused.
    """
    out = open_registry(registry).export(output, include_history=include_history, lang=lang, force=force,
                                         category=category, county=county, per_project=per_project)
    echo(f"{label('registry.exported', lang)}: {out}")


def verify_table(problems: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The problems of :meth:`layers.registry.Registry.verify` with readable headers
    (``fid`` finds the row in QGIS)."""
    cols = {"fid": "fid", "project_code": label("column.project_code", lang),
            "batch_id": label("registry.batch", lang), "valid_to": label("column.valid_to", lang),
            "detail": label("registry.problem", lang)}
    df = problems[list(cols)].astype(object)
    df["fid"] = df["fid"].map(lambda f: "" if f is None or pd.isna(f) else int(f))
    return df.fillna("").rename(columns=cols)


@registry_group.command("verify")
@registry_option
@lang_option
def verify_command(registry, lang):
    """Find versions edited by hand since they were written (exit code 1 if any)."""
    reg = open_registry(registry)
    problems = reg.verify(lang)
    if problems.empty:
        n = len(reg.projects(include_history=True))
        echo(message("registry.verify_ok", lang, n=n))
        return
    _echo_table(verify_table(problems, lang))
    echo(message("registry.verify_found", lang, n=len(problems)))
    click.get_current_context().exit(1)


from workflows.registry_grant import grant_command  # noqa: E402 - registered here, defined on its own

registry_group.add_command(grant_command)

from workflows.registry_copy import copy_command  # noqa: E402 - registered here, defined on its own

registry_group.add_command(copy_command)
