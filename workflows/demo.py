"""``agrigis demo``: build a synthetic Baicheng workspace, then run every workflow on it.

The recipe: generate the synthetic layers, Sentinel-2 products over Da'an and a parcel
file (:mod:`layers.demo`), build the NDVI stack from the products with the imagery
workflow (:func:`workflows.imagery.build_stack`, monthly maximum composite), import
the parcel file into ``<workspace>/registry.gpkg`` with the real importer (marked
synthetic), then run check, progress, zonal salinity per parcel, remediation monitoring,
paddy suitability and the maps — each through its workflow's own Python function, the
same code path a user's data takes. Outputs go to ``<workspace>/outputs/<step>/``.

Examples
--------
>>> from workflows.demo import STEPS
>>> [s for s, _ in STEPS][:3]
['generate', 'imagery', 'import']
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from gis.labels import label
from workflows.options import lang_option

log = logging.getLogger(__name__)


class StepUnavailable(Exception):
    """A workflow module the demo wants to run is not installed/available."""


@dataclass
class DemoRun:
    """What one demo run produced."""

    workspace: "object"  # layers.demo.DemoWorkspace
    lang: str = "zh"
    as_of: str = ""
    outputs: dict[str, dict[str, Path]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    results: dict[str, object] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.workspace.folder

    def out(self, step: str) -> Path:
        p = self.folder / "outputs" / step
        p.mkdir(parents=True, exist_ok=True)
        return p


def _module(name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            raise StepUnavailable(f"{name} is not available yet") from None
        raise


# --- steps -----------------------------------------------------------------------------


def step_imagery(run: DemoRun) -> None:
    """The NDVI stack from the workspace's synthetic products, as ``agrigis imagery stack
    imagery/products --aoi <their bounds> --crs EPSG:32651 --res <their cell> --composite
    month --how max`` builds it; registered in ``catalog.yml`` as the ``ndvi`` layer."""
    imagery = _module("workflows.imagery")
    from layers import demo as gen

    ws = run.workspace
    prods = ws.products
    if prods is None or not prods.paths:
        raise StepUnavailable("no products: the generator wrote none")
    request = imagery.StackRequest(aoi=",".join(f"{v:.0f}" for v in prods.bounds), crs=prods.crs,
                                   res=prods.grid.res, composite="month", how="max", lazy=False)
    ds = with_product_ids(imagery.build_stack([prods.folder], request, lang=run.lang, workspace=run.folder))
    out = imagery.write_stack(ds, run.folder / gen.NDVI_STACK)
    gen.register_ndvi(ws, out)
    run.outputs["imagery"] = {"products": prods.folder, "ndvi": out}
    run.notes["imagery"] = f"{len(prods.paths)} → {ds.sizes['time']} × {ds.sizes['y']} × {ds.sizes['x']}"


def with_product_ids(ds):
    """The months of the composite ``ds`` that have products, with a ``product_id``
    coordinate along ``time``: the ids (of ``ds.attrs["source_products"]``) acquired in
    that month, ``;``-separated. (A monthly composite has every month from the first to
    the last; the demo's products cover May–September only.)

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset(coords={"time": np.array(["2020-05-01"], dtype="datetime64[ns]")},
    ...                 attrs={"source_products": "S2B_MSIL2A_20200515T025000_N0400_R032_T51TWL_SYNTHETIC"})
    >>> with_product_ids(ds).product_id.values.tolist()
    ['S2B_MSIL2A_20200515T025000_N0400_R032_T51TWL_SYNTHETIC']
    """
    import numpy as np

    ids = [i for i in str(ds.attrs.get("source_products", "")).split(", ") if i]
    months = [np.datetime_as_string(t, unit="M").replace("-", "") for t in ds.time.values]
    per = [";".join(sorted(i for i in ids if i.split("_")[2][:6] == m)) for m in months]
    keep = [i for i, p in enumerate(per) if p]
    return ds.assign_coords(product_id=("time", per)).isel(time=keep)


def step_import(run: DemoRun) -> None:
    importing = _module("workflows.importing")
    ws = run.workspace
    report = importing.import_files([ws.parcels], registry=ws.registry, synthetic=True, lang=run.lang)
    run.results["import"] = report
    run.outputs["import"] = {"registry": ws.registry}
    run.notes["import"] = (f"{report.n_read} → {report.n_accepted} "
                           f"({label('demo.rejected', run.lang)} {report.n_rejected})")


def _need_registry(run: DemoRun) -> None:
    if not run.workspace.registry.exists():
        raise StepUnavailable("no registry: the import step did not run")


def step_check(run: DemoRun) -> None:
    check = _module("workflows.check")
    _need_registry(run)
    res = check.run_check(run.workspace.registry, run.out("check"), lang=run.lang)
    run.results["check"] = res
    run.outputs["check"] = {k: p for k, p in (("table", res.table), ("gpkg", res.gpkg)) if p}
    kinds = res.problems["kind"].value_counts()
    run.notes["check"] = ", ".join(f"{label(f'check.{k}', run.lang)} {n}" for k, n in kinds.items())


def step_progress(run: DemoRun) -> None:
    progress = _module("workflows.progress")
    _need_registry(run)
    res = progress.run_progress(outdir=run.out("progress"), registry=run.workspace.registry,
                                as_of=run.as_of, lang=run.lang, workspace=run.folder)
    run.results["progress"] = res
    run.outputs["progress"] = dict(res.paths)
    pace = res.result.summary["pace"].value_counts()
    run.notes["progress"] = ", ".join(f"{label(f'tracking.pace.{k}', run.lang)} {n}"
                                      for k, n in pace.items())


SOIL_STATS = {"soil_ec": "mean,max,p90", "soil_ph": "mean,max", "soil_esp": "mean,max"}
"""Zonal statistics of the soil rasters per parcel (all on one grid: coverage built once)."""


def step_zonal(run: DemoRun) -> None:
    zonal = _module("workflows.zonal")
    _need_registry(run)
    import layers
    from layers.registry import Registry

    out = run.out("zonal")
    # what a user does: export the current parcels, then `agrigis zonal parcels.gpkg ec.tif`
    zones = Registry(run.workspace.registry).export(out / "parcels_current.gpkg", force=True)  # the demo owns it
    weights = out / "coverage_weights.npz"
    if weights.exists():
        weights.unlink()
    cat = layers.get_catalog(run.folder)
    run.outputs["zonal"] = {}
    for name, stats in SOIL_STATS.items():
        # CSV (opens in Excel): writing 10,000+ rows with openpyxl would dominate the run
        path = zonal.zonal_table(zones, [cat.path(name)], stats=stats, output=out / f"{name}.csv",
                                 id_column="project_code", weights=weights, lang=run.lang)
        run.outputs["zonal"][name] = Path(path)
    run.notes["zonal"] = f"{len(SOIL_STATS)} × {run.workspace.n_parcels}"


def step_remediation(run: DemoRun) -> None:
    rem = _module("workflows.remediation")
    _need_registry(run)
    import layers

    # the catalogue's NDVI layer, passed as a file: a NetCDF stack is read with
    # open_netcdf_stack (the catalogue opens a raster with rioxarray, one variable only)
    entry = layers.get_catalog(run.folder).by_role("ndvi")
    if entry is None:
        raise StepUnavailable("no NDVI layer: the imagery step did not run")
    res = rem.run_remediation(run.out("remediation"), registry=run.workspace.registry, stack=entry.path,
                              workspace=run.folder, lang=run.lang)
    run.results["remediation"] = res
    run.outputs["remediation"] = dict(res.paths)
    v = res.table["verdict"].value_counts()
    run.notes["remediation"] = ", ".join(f"{label(f'verdict.{k}', run.lang)} {n}" for k, n in v.items())


def step_suitability(run: DemoRun) -> None:
    suit = _module("workflows.suitability")
    _need_registry(run)
    res = suit.run_suitability(run.out("suitability"), workspace=run.folder,
                               registry=run.workspace.registry, lang=run.lang)
    run.results["suitability"] = res
    run.outputs["suitability"] = dict(res.paths)
    run.notes["suitability"] = (f"{label('suitability.in_scope_wan_mu', run.lang)} {res.in_scope_wan_mu:.2f}; "
                                f"{label('suitability.remaining_wan_mu', run.lang)} "
                                f"{(res.remaining_wan_mu or 0):.2f}")


def step_maps(run: DemoRun) -> None:
    mapping = _module("workflows.mapping")
    _need_registry(run)
    out = run.out("maps")
    ws, lang = run.folder, run.lang
    paths = {"progress_map": mapping.progress_map_file(out / "progress_map.html", registry=run.workspace.registry,
                                                       as_of=run.as_of, workspace=ws, lang=lang)}
    if "remediation" in run.outputs:
        paths["remediation_map"] = mapping.remediation_map_file(run.out("remediation"), out / "remediation_map.html",
                                                                workspace=ws, lang=lang)
    if "suitability" in run.outputs:
        paths["suitability_map"] = mapping.suitability_map_file(run.out("suitability"), out / "suitability_map.html",
                                                                workspace=ws, lang=lang)
    paths["soil_ec_map"] = mapping.layer_map_file("soil_ec", out / "soil_ec_map.html", workspace=ws, lang=lang)
    run.outputs["maps"] = {k: Path(v) for k, v in paths.items()}


STEPS = [
    ("generate", None),
    ("imagery", step_imagery),
    ("import", step_import),
    ("check", step_check),
    ("progress", step_progress),
    ("zonal", step_zonal),
    ("remediation", step_remediation),
    ("suitability", step_suitability),
    ("maps", step_maps),
]
"""Demo steps in order: (name, function(run))."""


def run_demo(folder, seed: int = 0, size: str = "default", lang: str = "zh",
             as_of: str | None = None, progress=None, strict: bool = False,
             res_m: float | None = None) -> DemoRun:
    """Build the demo workspace in ``folder`` and run every workflow on it.

    Parameters
    ----------
    folder : path-like
        New or empty folder (an existing registry there is never touched).
    seed, size
        See :func:`layers.demo.build_workspace`.
    lang : {"zh", "en"}
    as_of : str, optional
        ``YYYY-MM-DD`` the progress is measured at; default :data:`layers.demo.AS_OF`.
    progress : rich.progress.Progress, optional
        Shows a bar when given.
    strict : bool
        Raise when a step's workflow is unavailable instead of skipping it.
    res_m : float, optional
        Soil/DEM/land-cover cell size instead of the size's (benchmarks: 10).

    Returns
    -------
    DemoRun
        Output paths per step, skipped steps with the reason, timings.
    """
    from layers import demo as gen

    task = None
    if progress is not None:
        task = progress.add_task(label("demo.step.generate", lang), total=len(STEPS) + 3)
    weights = {"vectors": 1, "rasters": 1, "parcels": 1, "ndvi": 1}
    done = {k: 0.0 for k in weights}

    def on_step(name, frac):
        if progress is not None and name in done:
            done[name] = frac
            progress.update(task, completed=sum(done.values()),
                            description=f"{label('demo.step.generate', lang)}: {name}")

    t0 = time.perf_counter()
    ws = gen.build_workspace(folder, seed=seed, size=size, on_step=on_step, res_m=res_m)
    run = DemoRun(workspace=ws, lang=lang, as_of=as_of or gen.AS_OF)
    run.seconds["generate"] = time.perf_counter() - t0
    run.outputs["generate"] = {"catalog": ws.catalog, "parcels": ws.parcels}
    for i, (name, fn) in enumerate(STEPS[1:], start=1):
        if progress is not None:
            progress.update(task, completed=3 + i, description=label(f"demo.step.{name}", lang))
        t = time.perf_counter()
        try:
            fn(run)
        except StepUnavailable as exc:
            if strict:
                raise
            run.skipped[name] = str(exc)
            log.warning("demo step %s skipped: %s", name, exc)
        run.seconds[name] = time.perf_counter() - t
    if progress is not None:
        progress.update(task, completed=len(STEPS) + 3, description=label("demo.done", lang))
    return run


def summary_table(run: DemoRun):
    """A rich Table: step, time, outputs (or why it was skipped)."""
    from rich.table import Table

    lang = run.lang
    t = Table(title=f"{label('demo.title', lang)} — {run.folder}", show_lines=False)
    t.add_column(label("demo.col.step", lang))
    t.add_column(label("demo.col.seconds", lang), justify="right")
    t.add_column(label("demo.col.outputs", lang), overflow="fold")
    for name, _ in STEPS:
        secs = f"{run.seconds.get(name, 0):.1f}"
        if name in run.skipped:
            t.add_row(label(f"demo.step.{name}", lang), secs,
                      f"[yellow]{label('demo.not_available', lang)}[/] ({run.skipped[name]})")
            continue
        outs = run.outputs.get(name, {})
        shown = "\n".join(_rel(p, run.folder) for p in list(outs.values())[:4])
        note = run.notes.get(name)
        t.add_row(label(f"demo.step.{name}", lang), secs, (note + "\n" if note else "") + shown)
    return t


def _rel(p: Path, folder: Path) -> str:
    try:
        return Path(p).resolve().relative_to(Path(folder).resolve()).as_posix()
    except ValueError:
        return str(p)


def main_map(run: DemoRun) -> Path | None:
    """The field map HTML of the run (for ``--open``), if it was made."""
    for p in run.outputs.get("maps", {}).values():
        if str(p).endswith(".html"):
            return p
    return None


@click.command("demo")
@click.argument("folder", required=False, default="agrigis-demo",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed → same workspace).")
@click.option("--size", type=click.Choice(["small", "default", "large"]), default="default",
              show_default=True, help="small: for tests; large: ~100,000 parcels for benchmarks.")
@click.option("--open", "open_", is_flag=True, help="Open the progress map in a browser afterwards.")
@click.option("--as-of", default=None, help="Date the progress is measured at (default 2024-09-30).")
@click.option("--res", "res_m", type=float, default=None,
              help="Soil/DEM/land-cover cell size in metres (default: 1000 small, 100 default, 30 large).")
@lang_option
def demo_command(folder: Path, seed: int, size: str, open_: bool, as_of: str | None, res_m: float | None,
                 lang: str) -> None:
    """Build a SYNTHETIC Baicheng workspace in FOLDER and run every workflow on it.

    \b
    合成演示数据:县界为真实数据,其余全部为生成的演示数据。
    Everything except the real county boundaries is synthetic and marked so.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console()
    console.print(f"[bold]{label('demo.title', lang)}[/] — {label('synthetic.notice', lang)}")
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        run = run_demo(folder, seed=seed, size=size, lang=lang, as_of=as_of, progress=bar, res_m=res_m)
    console.print(summary_table(run))
    for name, why in run.skipped.items():
        console.print(f"[yellow]{label(f'demo.step.{name}', lang)}: {label('demo.not_available', lang)}[/]")
    m = main_map(run)
    if m is not None:
        console.print(f"{label('demo.main_map', lang)}: {m}")
        if open_:
            import webbrowser

            webbrowser.open(m.resolve().as_uri())
