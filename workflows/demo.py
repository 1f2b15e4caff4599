"""``agrigis demo``: build a synthetic Baicheng workspace, then run every workflow on it.

The recipe: generate the synthetic layers, Sentinel-2 products over Da'an and a parcel
file (:mod:`layers.demo`), build the NDVI stack from the products with the imagery
workflow (:func:`workflows.imagery.build_stack`, monthly maximum composite), import
the parcel file into ``<workspace>/registry.gpkg`` with the real importer (marked
synthetic), then run check, progress, zonal salinity per parcel, remediation monitoring,
the soil maps from the synthetic sample table (``agrigis soil interpolate --vars
ph,ec,esp``, registered in the workspace catalogue), paddy suitability on those maps and
the maps — each through its workflow's own Python function, the same code path a user's
data takes. Outputs go to ``<workspace>/outputs/<step>/``.

What one step has read or computed is handed to the next instead of being read again:
the registry's projects (read once after the import) go to check, remediation,
suitability and the progress map, the progress result to suitability's remaining target
and the progress map, and zonal reads its parcels once for its three tables. When a
second core is spare, the soil maps, the NDVI stack, progress, check and zonal
(:data:`SIDE_LANE`) run in a second Python process beside the other steps, each once what
it needs (:data:`NEEDS`) is there.

Examples
--------
>>> from workflows.demo import STEPS
>>> [s for s, _ in STEPS][:4]
['generate', 'soil', 'imagery', 'import']
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
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds of each step (of the process it ran in)."""
    results: dict[str, object] = field(default_factory=dict)
    side_process: int | None = None
    """Process id of the second process that ran :data:`SIDE_LANE`, if one did."""

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
    run.results["projects"] = _module("workflows.options").registry_parcels(ws.registry)
    run.outputs["import"] = {"registry": ws.registry}
    run.notes["import"] = (f"{report.n_read} → {report.n_accepted} "
                           f"({label('demo.rejected', run.lang)} {report.n_rejected})")


def _need_registry(run: DemoRun) -> None:
    if not run.workspace.registry.exists():
        raise StepUnavailable("no registry: the import step did not run")


def step_check(run: DemoRun) -> None:
    check = _module("workflows.check")
    _need_registry(run)
    res = check.run_check(run.workspace.registry, run.out("check"), lang=run.lang,
                          parcels=run.results.get("projects"))
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
    from layers.registry import Registry

    out = run.out("zonal")
    # what a user does: export the current parcels, then `agrigis zonal parcels.gpkg ec.tif`
    exported = Registry(run.workspace.registry).export(out / "parcels_current.gpkg", force=True)  # the demo owns it
    zones = zonal.read_zones(exported, id_column="project_code", lang=run.lang)  # read once for the three tables
    weights = out / "coverage_weights.npz"
    if weights.exists():
        weights.unlink()
    run.outputs["zonal"] = {}
    for name, stats in SOIL_STATS.items():
        # the generator's rasters (the catalogue's layers until the soil step, which may run
        # beside this one, registers the maps of the samples under the same names);
        # CSV (opens in Excel): writing 10,000+ rows with openpyxl would dominate the run
        path = zonal.zonal_table(zones, [run.workspace.rasters[name]], stats=stats, output=out / f"{name}.csv",
                                 weights=weights, lang=run.lang)
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
    res = rem.run_remediation(run.out("remediation"), parcels=run.results.get("projects"),
                              registry=run.workspace.registry, stack=entry.path, workspace=run.folder, lang=run.lang)
    run.results["remediation"] = res
    run.outputs["remediation"] = dict(res.paths)
    v = res.table["verdict"].value_counts()
    run.notes["remediation"] = ", ".join(f"{label(f'verdict.{k}', run.lang)} {n}" for k, n in v.items())


SOIL_VARS = ("ph", "ec", "esp")
"""Properties mapped from the demo's sample table (``--vars ph,ec,esp``)."""
SOIL_RES_M = 500.0
"""Cell size of the soil maps (at least the workspace's raster cell): the samples lie
≈ 7.5 km apart, so finer cells would only repeat the kriged surface."""


SOIL_FOLDS = 10
"""Cross-validation folds of the soil maps (leave-one-out on ≈ 430 samples × 3 properties
would solve 1,300 kriging set-ups for the same figures within sampling noise)."""


def step_soil(run: DemoRun) -> None:
    """``agrigis soil interpolate samples/soil_samples.xlsx --vars ph,ec,esp --aoi city
    --res 500 --workspace . -o outputs/soil``: ordinary kriging of the synthetic sample
    table, the maps registered (synthetic) as ``soil_ph``, ``soil_ec`` and ``soil_esp`` in
    the workspace catalogue, where suitability and the maps take them."""
    soil = _module("workflows.soil")
    from layers import demo as gen

    ws = run.workspace
    if ws.samples is None or not Path(ws.samples).exists():
        raise StepUnavailable("no soil sample table: the generator wrote none")
    opts = soil.SoilOptions(prop=SOIL_VARS[0], props=SOIL_VARS, res=max(SOIL_RES_M, gen.SIZES[ws.size].res_m),
                            aoi="city", folds=SOIL_FOLDS, synthetic=True, workspace=run.folder, lang=run.lang)
    res = soil.soil_maps(ws.samples, run.out("soil"), opts)
    run.results["soil"] = res
    run.outputs["soil"] = {f.name: f for f in res.files if f.suffix in (".xlsx", ".tif")}
    names = {"ph": "pH", "ec": "ECe", "esp": "ESP"}
    run.notes["soil"] = f"{res.properties[0].n_samples} → " + ", ".join(
        f"{names[p.prop]} R² {p.cv.stats['r2']:.2f}" for p in res.properties)


def step_suitability(run: DemoRun) -> None:
    suit = _module("workflows.suitability")
    _need_registry(run)
    prog = run.results.get("progress")
    res = suit.run_suitability(run.out("suitability"), workspace=run.folder, registry=run.workspace.registry,
                               known=suit.Known(projects=run.results.get("projects"),
                                                progress=prog.result if prog is not None else None),
                               lang=run.lang)
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
    prog = run.results.get("progress")  # what progress computed and import read: not again
    paths = {"progress_map": mapping.progress_map_file(out / "progress_map.html", registry=run.workspace.registry,
                                                       as_of=run.as_of, workspace=ws, lang=lang,
                                                       parcels=run.results.get("projects"),
                                                       result=prog.result if prog is not None else None)}
    if "remediation" in run.outputs:
        paths["remediation_map"] = mapping.remediation_map_file(run.out("remediation"), out / "remediation_map.html",
                                                                workspace=ws, lang=lang)
    if "suitability" in run.outputs:
        paths["suitability_map"] = mapping.suitability_map_file(run.out("suitability"), out / "suitability_map.html",
                                                                workspace=ws, lang=lang)
    paths["soil_ec_map"] = mapping.layer_map_file("soil_ec", out / "soil_ec_map.html", workspace=ws, lang=lang)
    run.outputs["maps"] = {k: Path(v) for k, v in paths.items()}


SIDE_LANE = ("soil", "imagery", "progress", "check", "zonal")
"""Steps run in a second Python process beside the others when a second core is spare,
each as soon as what it needs (:data:`NEEDS`) is there: the soil maps once the generator
has written the sample table (while it makes the parcels and products), the NDVI stack
after the generation, progress, check and zonal after the import (while remediation and
suitability run in the first). None of them reads what a step
of the first process writes after it started, and each writes its own outputs folder
(soil and imagery register their layers in ``catalog.yml`` one after the other, as in
one process). The second process starts with the demo, so its imports overlap the
generation."""

NEEDS = {"soil": ("samples",), "imagery": ("generate",), "import": ("generate",), "check": ("import",),
         "progress": ("import",), "zonal": ("import",), "remediation": ("import", "imagery"),
         "suitability": ("import", "progress", "soil"),
         "maps": ("import", "progress", "remediation", "soil", "suitability")}
"""What each step needs to have run before it: steps, or ``samples`` (the generator has
written the sample table and the catalogue; ``generate`` includes it)."""

STEPS = [
    ("generate", None),
    ("soil", step_soil),
    ("imagery", step_imagery),
    ("import", step_import),
    ("check", step_check),
    ("progress", step_progress),
    ("zonal", step_zonal),
    ("remediation", step_remediation),
    ("suitability", step_suitability),
    ("maps", step_maps),
]
"""Demo steps in order: (name, function(run)); each comes after the steps it needs."""


@dataclass(frozen=True)
class DemoOptions:
    """Options of :func:`run_demo` (the ``agrigis demo`` options).

    seed, size : see :func:`layers.demo.build_workspace`.
    lang : ``"zh"`` or ``"en"``.
    as_of : ``YYYY-MM-DD`` the progress is measured at; default :data:`layers.demo.AS_OF`.
    strict : raise when a step's workflow is unavailable instead of skipping it.
    res_m : soil/DEM/land-cover cell size instead of the size's (benchmarks: 10).
    parallel : run :data:`SIDE_LANE` in a second process: None (default) when a second core
        is spare, True always, False never.
    """

    seed: int = 0
    size: str = "default"
    lang: str = "zh"
    as_of: str | None = None
    strict: bool = False
    res_m: float | None = None
    parallel: bool | None = None


class _Bar:
    """The demo's progress bar (a rich Progress, or nothing): generation in four parts
    (vectors, rasters, parcels, NDVI products), then one tick per step."""

    PARTS = ("vectors", "rasters", "parcels", "ndvi")

    def __init__(self, progress, lang: str):
        self.progress, self.lang = progress, lang
        self.done = {k: 0.0 for k in self.PARTS}
        self.task = None if progress is None else progress.add_task(label("demo.step.generate", lang),
                                                                     total=len(STEPS) + 3)

    def generating(self, name: str, frac: float) -> None:
        if self.progress is not None and name in self.done:
            self.done[name] = frac
            self.progress.update(self.task, completed=sum(self.done.values()),
                                 description=f"{label('demo.step.generate', self.lang)}: {name}")

    def step(self, i: int, name: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=3 + i, description=label(f"demo.step.{name}", self.lang))


def run_demo(folder, *, options: DemoOptions | None = None, progress=None, **kw) -> DemoRun:
    """Build the demo workspace in ``folder`` and run every workflow on it.

    Parameters
    ----------
    folder : path-like
        New or empty folder (an existing registry there is never touched).
    options : DemoOptions, optional
        Seed, size, language, date, strictness and cell size; or give them as keywords
        (``run_demo(folder, size="small")``).
    progress : rich.progress.Progress, optional
        Shows a bar when given.

    Returns
    -------
    DemoRun
        Output paths per step, skipped steps with the reason, timings.

    Examples
    --------
    >>> DemoOptions(size="small").res_m is None
    True
    """
    from dataclasses import replace

    from layers import demo as gen

    o = replace(options or DemoOptions(), **kw)
    bar = _Bar(progress, o.lang)
    side = _SideLane(o)  # started now: its imports overlap the generation
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        early = _early(folder, o, side, bar)
        ws = gen.build_workspace(folder, seed=o.seed, size=o.size, on_step=early, res_m=o.res_m)
        run = DemoRun(workspace=ws, lang=o.lang, as_of=o.as_of or gen.AS_OF)
        run.seconds["generate"], run.cpu["generate"] = time.perf_counter() - t0, time.process_time() - c0
        run.outputs["generate"] = {"catalog": ws.catalog, "parcels": ws.parcels, "samples": ws.samples}
        done = {"samples", "generate"}
        for i, (name, fn) in enumerate(STEPS[1:], start=1):
            bar.step(i, name)
            side.submit(run, done)
            if side.runs(name):
                continue
            for need in NEEDS.get(name, ()):
                side.wait(need, run)
            _run_step(run, name, fn, o.strict)
            done.add(name)
        side.join(run)
    finally:
        side.close()
    if progress is not None:
        progress.update(bar.task, completed=len(STEPS) + 3, description=label("demo.done", o.lang))
    return run


def _early(folder, o: DemoOptions, side: "_SideLane", bar: _Bar):
    """The generator's progress callback: the bar, and once the sample table is written,
    the lane steps that need only it (the soil maps) handed to the second process."""
    from layers import demo as gen

    def on_step(name: str, frac: float) -> None:
        bar.generating(name, frac)
        if name == "samples":
            ws = gen.DemoWorkspace.at(folder, seed=o.seed, size=o.size)  # the layout the generator writes
            side.submit(DemoRun(workspace=ws, lang=o.lang, as_of=o.as_of or gen.AS_OF), {"samples"})

    return on_step


def _run_step(run: DemoRun, name: str, fn, strict: bool) -> None:
    """Run one step, timed (wall and this process's CPU); a step whose workflow is
    unavailable is skipped (or raises)."""
    t, c = time.perf_counter(), time.process_time()
    try:
        fn(run)
    except StepUnavailable as exc:
        if strict:
            raise
        run.skipped[name] = str(exc)
        log.warning("demo step %s skipped: %s", name, exc)
    run.seconds[name], run.cpu[name] = time.perf_counter() - t, time.process_time() - c


def _side_steps(run: DemoRun, strict: bool, names=SIDE_LANE) -> DemoRun:
    """The steps ``names`` (of :data:`SIDE_LANE`) on ``run``, in this process: what they produced."""
    fns = dict(STEPS)
    for name in names:
        _run_step(run, name, fns[name], strict)
    return run


def _handed(run: DemoRun, name: str) -> dict:
    """What a step of the second process takes from the first's results."""
    return {"projects": run.results["projects"]} if name == "check" and "projects" in run.results else {}


class _SideLane:
    """:data:`SIDE_LANE` in a second Python process (``python -m workflows.demo <folder>``:
    a fresh interpreter, so neither the caller's script nor its threads are copied).
    Each step is handed over (:meth:`submit`, a ``job-NN.pkl`` in the lane's folder) once
    the steps it needs have run; what it made (``done-<step>.pkl``) is merged into the run
    when a step of this process needs it (:meth:`wait`) or at the end (:meth:`join`).
    Without a spare second core (:func:`gis.geostat.spare_cores`; or as
    ``DemoOptions.parallel`` says) the steps run in turn in this process."""

    POLL = 0.02
    """Seconds between looks for a file of the other process."""

    def __init__(self, options: DemoOptions):
        from gis.geostat import spare_cores

        # on a machine whose other processes fill the cores, a second interpreter only adds
        # its imports (default size at load 12–18: 118 s and 36 CPU s against 89 s and 31 CPU s)
        on = spare_cores() > 1 if options.parallel is None else options.parallel
        self.strict = options.strict
        self.proc = self.tmp = None
        self.sent: list[str] = []
        self.merged: set[str] = set()
        if on:
            import subprocess
            import sys
            import tempfile

            self.tmp = Path(tempfile.mkdtemp(prefix="agrigis-demo-"))
            self.proc = subprocess.Popen([sys.executable, "-m", "workflows.demo", str(self.tmp)])

    def runs(self, name: str) -> bool:
        """True if ``name`` runs in the second process."""
        return self.proc is not None and name in SIDE_LANE

    def submit(self, run: DemoRun, done: set[str]) -> None:
        """Hand over each lane step not yet handed over whose needs are ``done``."""
        if self.proc is None:
            return
        for name in SIDE_LANE:
            if name in self.sent or not all(n in done for n in NEEDS.get(name, ())):
                continue
            part = DemoRun(workspace=run.workspace, lang=run.lang, as_of=run.as_of, results=_handed(run, name))
            _put_pickle(self.tmp / f"job-{len(self.sent):02d}.pkl", (name, part, self.strict))
            self.sent.append(name)

    def wait(self, name: str, run: DemoRun) -> None:
        """Wait for lane step ``name`` (if handed over and not yet merged) and merge what it
        made into ``run``; re-raise what stopped it."""
        if self.proc is None or name not in self.sent or name in self.merged:
            return
        import pickle

        path = self.tmp / f"done-{name}.pkl"
        while not path.exists():
            if self.proc.poll() is not None and not path.exists():
                raise RuntimeError(f"the demo's second process stopped without a result (step {name})")
            time.sleep(self.POLL)
        part = pickle.loads(path.read_bytes())
        self.merged.add(name)
        if isinstance(part, BaseException):
            raise part
        run.side_process = part.side_process
        for mine, theirs in ((run.outputs, part.outputs), (run.notes, part.notes), (run.skipped, part.skipped),
                             (run.seconds, part.seconds), (run.cpu, part.cpu), (run.results, part.results)):
            if name in theirs:
                mine[name] = theirs[name]
        if name == "imagery" and "ndvi" in part.workspace.rasters:
            run.workspace.rasters["ndvi"] = part.workspace.rasters["ndvi"]

    def join(self, run: DemoRun) -> None:
        """Wait for every lane step handed over, merge, and let the process end."""
        if self.proc is None:
            return
        for name in list(self.sent):
            self.wait(name, run)
        _put_pickle(self.tmp / f"job-{len(self.sent):02d}.pkl", None)
        self.proc.wait()
        self.proc = None

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.tmp is not None:
            import shutil

            shutil.rmtree(self.tmp, ignore_errors=True)


def _put_pickle(path: Path, obj) -> None:
    """``obj`` pickled into ``path``, whole or not at all (the other process polls for it)."""
    import pickle

    try:
        data = pickle.dumps(obj)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
        data = pickle.dumps(RuntimeError(f"{type(obj).__name__}: {obj}"))
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def _side_main(folder: str) -> None:
    """The second process: import the lane's workflows, then run each job (``job-NN.pkl``:
    a step and its part of the run) in turn, writing ``done-<step>.pkl`` (the part, or the
    exception that stopped it); ends at an empty job or when the first process is gone."""
    import contextlib
    import importlib
    import os
    import pickle

    folder_ = Path(folder)
    parent = os.getppid()
    for name in ("workflows.soil", "workflows.imagery", "workflows.progress", "workflows.check", "workflows.zonal",
                 "layers.registry"):
        with contextlib.suppress(Exception):  # unavailable: the step says so when it runs
            importlib.import_module(name)  # while the first process generates the workspace
    fns = dict(STEPS)
    for k in range(len(SIDE_LANE) + 1):
        job = folder_ / f"job-{k:02d}.pkl"
        while not job.exists():
            if os.getppid() != parent:
                return
            time.sleep(_SideLane.POLL)
        msg = pickle.loads(job.read_bytes())
        if msg is None:
            return
        name, part, strict = msg
        try:
            _run_step(part, name, fns[name], strict)
            part.side_process = os.getpid()
            result = part
        except Exception as exc:  # noqa: BLE001 - handed to the first process, which raises it
            result = exc
        _put_pickle(folder_ / f"done-{name}.pkl", result)


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
def demo_command(*, folder: Path, seed: int, size: str, open_: bool, as_of: str | None, res_m: float | None,
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
    opts = DemoOptions(seed=seed, size=size, lang=lang, as_of=as_of, res_m=res_m)
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        run = run_demo(folder, options=opts, progress=bar)
    _print_result(console, run, open_)


def _print_result(console, run: DemoRun, open_: bool) -> None:
    """The summary table, skipped steps and the main map (opened with ``--open``)."""
    lang = run.lang
    console.print(summary_table(run))
    for name in run.skipped:
        console.print(f"[yellow]{label(f'demo.step.{name}', lang)}: {label('demo.not_available', lang)}[/]")
    m = main_map(run)
    if m is not None:
        console.print(f"{label('demo.main_map', lang)}: {m}")
        if open_:
            import webbrowser

            webbrowser.open(m.resolve().as_uri())


if __name__ == "__main__":  # the second process of run_demo (see _SideLane)
    import sys

    from workflows.demo import _side_main as _main

    _main(sys.argv[1])
