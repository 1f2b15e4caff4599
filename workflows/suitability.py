"""``agrigis suitability``: where could new paddy go, and is it enough for the target?

Recipe: read the criteria (``workflows/suitability.yml`` or the user's YAML), load the
layers they name from the catalogue (by name or role: dem, soil_ph, soil_esp, soil_ec,
canals, rivers, protected_areas, landcover), screen with
:func:`gis.suitability.screen`, compare the candidate 万亩 with the remaining new-paddy
target (targets file + registry, via :func:`gis.tracking.progress`), and write:

- ``suitability.gpkg`` (layer ``candidates``, EPSG:4490, English columns);
- ``suitability.csv`` (candidates, headers in the chosen language) and
  ``suitability.xlsx`` (sheets: candidates, by county, summary);
- ``suitability_score.tif`` — the overall score per cell (float32, NaN = ruled out).

Outputs are written to a temporary folder and moved into place at the end.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import click
import pandas as pd

from gis.config import load_yaml
from gis.errors import ConfigError, DataFileError, InputError
from gis.labels import COUNTIES, label
from gis.suitability import SuitabilityResult, parse_config, screen
from workflows.options import lang_option, registry_option, registry_path
from gis.outputs import Sheet, staged_outputs, write_csv, write_excel

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).with_name("suitability.yml")
TARGET_KEY = "paddy_new"
PROJECT_CATEGORIES = ("paddy_new", "paddy_improved", "saline_demo_area")
"""Registry projects whose land is already taken: excluded from the candidates."""
_PROJECTS_LAYER = "registry_projects"


@dataclass
class SuitabilityRun:
    """What :func:`run_suitability` returns."""

    result: SuitabilityResult
    summary: pd.DataFrame  # item / value rows (English keys in column "key")
    remaining_wan_mu: float | None
    in_scope_wan_mu: float
    synthetic: bool
    paths: dict[str, Path] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """Catalogue layers used: name in the configuration → the file read."""


def load_config(path: str | os.PathLike | None = None):
    """Read and check a suitability YAML (default: the bundled ``suitability.yml``)."""
    p = Path(path) if path is not None else DEFAULT_CONFIG
    if not p.exists():
        raise DataFileError.of("error.suit_config_missing", path=p, default=DEFAULT_CONFIG)
    return parse_config(load_yaml(p, what="suitability"), str(p))


def load_layers(cfg, workspace=None) -> tuple[dict, dict, bool, dict[str, str]]:
    """Load every layer the configuration names, by catalogue name or role:
    ``(rasters, vectors, synthetic, {name in the configuration: file it was read from})``."""
    import layers

    cat = layers.get_catalog(workspace)
    rasters, vectors, used = {}, {}, {}
    synthetic = False
    missing = []
    for name in cfg.layer_names():
        entry = cat[name] if name in cat else cat.by_role(name)
        if entry is None:
            missing.append(name)
            continue
        data = cat.load(entry.name)
        (rasters if entry.kind == "raster" else vectors)[name] = data
        synthetic |= bool(entry.synthetic)
        used[name] = str(entry.path)
    if missing:
        raise InputError.of("error.suit_layers_missing", origin=cfg.origin, names=", ".join(missing))
    return rasters, vectors, synthetic, used


@dataclass(frozen=True)
class Known:
    """What the caller has already read or computed, so :func:`run_suitability` does not
    do it again (``agrigis demo`` hands on its import's and progress step's results).

    projects : GeoDataFrame, optional
        The registry's current projects (:func:`workflows.options.registry_parcels`).
    progress : gis.tracking.Progress, optional
        Progress of those projects against the same targets file (used only when its
        targets come from the file the run reads).
    """

    projects: object = None
    progress: object = None


def remaining_target(targets_path=None, registry=None, counties=None, key: str = TARGET_KEY, *,
                     known: Known = Known()):
    """Remaining new-paddy target in 万亩, its counties and a note on where it came from.

    ``known.progress`` (against the same targets file) or ``known.projects`` are
    used instead of reading the registry and computing progress again."""
    from workflows.targets import load_targets

    ts = load_targets(targets_path)
    target = next((t for t in ts.area_targets if key in (t.key, t.category)), None)
    if target is None:
        raise ConfigError.of("error.suit_no_target", origin=ts.origin, key=key)
    total = target.value_mu / 10_000
    reg = registry_path(registry)
    if not reg.exists():  # a GeoPackage path or a PostGIS URL
        return total, total, target.scope, f"{ts.origin}: {target.key} {total:g} 万亩 (registry {reg} not found: nothing counted as built)"
    prog = known.progress
    if prog is None or str(prog.targets.origin) != str(ts.origin):
        from gis.tracking import progress

        prog = progress(_projects(reg, known), ts, counties, year=target.year)
    row = prog.summary[prog.summary["key"] == target.key].iloc[0]
    rem = float(row["remaining_mu"]) / 10_000
    return total, rem, target.scope, f"{ts.origin}: {target.key} {total:g} 万亩 − built in {reg}"


def _projects(reg, known: Known):
    """The registry's current projects: ``known.projects`` if given, else read."""
    if known.projects is not None:
        return known.projects
    from layers.registry import Registry

    return Registry(reg).projects()


def run_suitability(out_dir=None, *, config=None, workspace=None, rasters=None, vectors=None, counties=None,
                    targets=None, registry=None, remaining_wan_mu: float | None = None,
                    exclude_projects: bool = True, known: Known = Known(), lang: str = "zh") -> SuitabilityRun:
    """Screen for paddy, compare with the remaining target, write outputs if ``out_dir``.

    Parameters
    ----------
    config : path, mapping or SuitabilityConfig, optional
        Default: ``workflows/suitability.yml``.
    workspace : path, optional
        Catalogue workspace the layers come from (when ``rasters``/``vectors`` are not given).
    rasters, vectors : mapping, optional
        Layers by the names the configuration uses, instead of the catalogue.
    counties : GeoDataFrame, optional
        Default: the catalogue's ``counties``.
    targets : path, optional
        Targets file (default: the bundled Baicheng 2024 file).
    registry : path, optional
        Registry for what is already built (default: ``$AGRIGIS_REGISTRY`` / ``./registry.gpkg``).
    remaining_wan_mu : float, optional
        Use this remaining target instead of targets file + registry.
    exclude_projects : bool
        Rule out the land of the registry's paddy and saline-demo projects (any status),
        which is already taken; skipped when there is no registry.
    known : Known, optional
        The registry's projects and their progress when the caller has them already.

    Examples
    --------
    >>> Known().projects is None
    True
    """
    cfg = _config(config)
    synthetic, sources = False, {}
    if rasters is None or vectors is None:
        r, v, synthetic, sources = load_layers(cfg, workspace)
        sources = {k: p for k, p in sources.items() if k not in (rasters or {}) and k not in (vectors or {})}
        rasters = {**r, **(rasters or {})}
        vectors = {**v, **(vectors or {})}
    if counties is None:
        import layers

        counties = layers.load_role("counties", workspace)
    n_projects = 0
    if exclude_projects:
        cfg, vectors, n_projects = _exclude_projects(cfg, vectors, registry_path(registry), known)
    res = screen(rasters, vectors, cfg, counties=counties)
    if remaining_wan_mu is not None:
        target_wan, rem, scope, source = None, float(remaining_wan_mu), None, "given (--remaining-wan-mu)"
    else:
        target_wan, rem, scope, source = remaining_target(targets, registry, counties, known=known)
    run = _summarise(res, (target_wan, rem, scope, source), n_projects, synthetic)
    run.sources = sources
    if out_dir is not None:
        run.paths = _write(Path(out_dir), run, lang)
    return run


def _config(config):
    """The configuration: a file (default ``workflows/suitability.yml``), a mapping or parsed."""
    if config is None or isinstance(config, (str, os.PathLike)):
        return load_config(config)
    return config if hasattr(config, "criteria") and hasattr(config, "origin") else parse_config(config)


def _exclude_projects(cfg, vectors, reg, known: Known = Known()):
    """Rule out the land of the registry's paddy and saline-demo projects (if a registry exists).

    Returns ``(config, vectors, number of projects excluded)``.
    """
    if not reg.exists():  # a GeoPackage path or a PostGIS URL
        return cfg, vectors, 0
    import dataclasses

    from gis.suitability import Exclusion

    projects = _projects(reg, known)
    projects = projects[projects["category"].isin(PROJECT_CATEGORIES)]
    if len(projects):
        vectors = {**vectors, _PROJECTS_LAYER: projects[["geometry"]]}
        cfg = dataclasses.replace(cfg, exclusions=cfg.exclusions + (
            Exclusion(name="registry projects", layer=_PROJECTS_LAYER),))
    return cfg, vectors, len(projects)


def _summarise(res, remaining, n_projects: int, synthetic: bool) -> SuitabilityRun:
    """Candidates in the target's scope against the remaining target: the summary table."""
    target_wan, rem, scope, source = remaining
    total_wan = res.total_mu / 10_000
    cand = res.candidates
    in_scope = cand if scope is None else cand[cand["county_code"].isin(list(scope))]
    in_scope_wan = float(in_scope["area_mu"].sum()) / 10_000 if len(in_scope) else 0.0
    ratio = in_scope_wan / rem if rem else float("nan")
    summary = pd.DataFrame([
        ("n_candidates", int(cand["candidate_id"].nunique()) if len(cand) else 0),
        ("total_wan_mu", round(total_wan, 4)),
        ("in_scope_wan_mu", round(in_scope_wan, 4)),
        ("target_wan_mu", target_wan),
        ("remaining_wan_mu", round(rem, 4)),
        ("ratio", round(ratio, 3)),
        ("remaining_source", source),
        ("excluded_projects", n_projects),
        ("config", res.config.origin),
    ], columns=["key", "value"])
    return SuitabilityRun(result=res, summary=summary, remaining_wan_mu=rem, in_scope_wan_mu=in_scope_wan,
                          synthetic=synthetic)


def _candidates_display(cand, lang: str) -> pd.DataFrame:
    t = pd.DataFrame(cand.drop(columns="geometry"))
    i = 0 if lang == "zh" else 1
    t.insert(t.columns.get_loc("county_code") + 1, "county",
             [COUNTIES.get(str(c), ("-", "-"))[i] if c is not None else "-" for c in t["county_code"]])

    def crit(name):
        try:
            return label(f"criterion.{name}", lang)
        except KeyError:
            return name

    t["limiting_factor"] = [crit(c) for c in t["limiting_factor"]]
    t["area_mu"] = t["area_mu"].round(2)
    names = {}
    for c in t.columns:
        if c.startswith("score_"):
            names[c] = f"{label('suitability.score', lang)}: {crit(c[6:])}"
        else:
            for key in (f"column.{c}", f"suitability.{c}"):
                try:
                    names[c] = label(key, lang)
                    break
                except KeyError:
                    names[c] = c
    return t.rename(columns=names)


def _write(out: Path, run: SuitabilityRun, lang: str) -> dict[str, Path]:
    names = {"gpkg": "suitability.gpkg", "csv": "suitability.csv", "xlsx": "suitability.xlsx",
             "score": "suitability_score.tif"}
    with staged_outputs(out, names.values()) as tmp:
        res = run.result
        cand = res.candidates.copy()
        cand["synthetic"] = run.synthetic
        cand.to_file(tmp / names["gpkg"], layer="candidates", driver="GPKG")
        disp = _candidates_display(res.candidates, lang)
        notice = label("synthetic.notice", lang) if run.synthetic else ""
        notes = [notice] if notice else []
        write_csv(tmp / names["csv"], disp, note=notice)
        i = 0 if lang == "zh" else 1
        by = res.by_county.copy()
        by["area_mu"] = by["area_mu"].round(2)
        by["area_wan_mu"] = by["area_wan_mu"].round(4)
        by.insert(1, "county", [COUNTIES.get(str(c), ("-", "-"))[i] for c in by["county_code"]])
        by = by.rename(columns={"county_code": label("column.county_code", lang), "county": label("column.county", lang),
                                "n_candidates": label("suitability.n_candidates", lang),
                                "area_mu": label("column.area_mu", lang), "area_wan_mu": label("column.area_wan_mu", lang)})
        summ = run.summary.copy()
        summ["key"] = [label(f"suitability.{k}", lang) for k in summ["key"]]
        if run.synthetic:
            summ.loc[len(summ)] = [label("synthetic.label", lang), label("synthetic.notice", lang)]
        summ.columns = [label("remediation.item", lang), label("remediation.value", lang)]
        write_excel(tmp / names["xlsx"], [Sheet(label("suitability.sheet_candidates", lang), disp, notes=notes),
                                          Sheet(label("suitability.sheet_by_county", lang), by, notes=notes),
                                          Sheet(label("suitability.sheet_summary", lang), summ)], footer=notice)
        res.score.astype("float32").rio.to_raster(tmp / names["score"], compress="deflate")
        return {k: out / n for k, n in names.items()}


@click.command("suitability")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("suitability"),
              show_default=True, help="Output folder.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Criteria YAML (default: {DEFAULT_CONFIG.name} bundled with agrigis).")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Workspace folder with catalog.yml (default: the current directory).")
@click.option("--targets", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Targets file (default: the bundled Baicheng 2024 targets).")
@registry_option
@click.option("--remaining-wan-mu", type=float, default=None,
              help="Remaining new-paddy target in 万亩 (instead of targets file + registry).")
@click.option("--exclude-projects/--keep-projects", default=True, show_default=True,
              help="Rule out land of the registry's paddy and saline-demo projects.")
@lang_option
def suitability_command(*, out_dir, config, workspace, targets, registry, remaining_wan_mu, exclude_projects, lang):
    """水田适宜性筛选 / Paddy suitability screening on saline-alkali land.

    Scores soil pH/ESP classes, slope, local relief and distance to canals and rivers,
    excludes nature reserves, water, built-up land and existing paddy, keeps contiguous
    blocks above the minimum size, and compares the candidate 万亩 with the remaining
    new-paddy target. Writes suitability.gpkg, .csv, .xlsx and suitability_score.tif.
    """
    run = run_suitability(out_dir, config=config, workspace=workspace, targets=targets, registry=registry,
                          remaining_wan_mu=remaining_wan_mu, exclude_projects=exclude_projects, lang=lang)
    if run.synthetic:
        click.echo(label("synthetic.notice", lang))
    for k, v in zip(run.summary["key"], run.summary["value"], strict=True):
        click.echo(f"{label(f'suitability.{k}', lang)}: {v}")
    for p in run.paths.values():
        click.echo(str(p))
