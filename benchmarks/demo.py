"""Benchmark: ``agrigis demo`` at its default size, step by step, CPU and wall.

Each run is its own process (``run_demo`` into a new temporary folder, seed 0). Two modes:

* ``sequential`` (``parallel=False``): every step in one process, so the CPU seconds of
  each step (``time.process_time`` around it, generation included) are its own;
* ``parallel`` (``parallel=True``): the second process runs ``SIDE_LANE``; wall, the CPU of
  both processes (``RUSAGE_CHILDREN`` for the second) and the machine's load.

The machine is shared, so wall seconds say little; the figure that stands for "an idle
2-core machine" is the **critical path**: the steps laid out on two lanes by their
dependencies with each step taking its measured CPU seconds (the second lane starts with
its imports, measured as its CPU less its steps'). ``--peer-root DIR`` runs the same
benchmark on another checkout (e.g. ``git archive HEAD | tar -x -C /tmp/head``),
alternating with this one, as the before/after peer; its lanes are read from its own
``workflows.demo`` (before this change: check and zonal, started when check comes up).

Run:  python benchmarks/demo.py [--rounds 1] [--peer-root DIR]
Writes benchmarks/results/demo.md and demo.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, resource, sys, tempfile, time
sys.path.insert(0, os.getcwd())
import workflows.demo as demo
from layers import demo as gen

cpu = {}
def timed(name, fn):
    def run(*a, **k):
        c = time.process_time()
        try:
            return fn(*a, **k)
        finally:
            cpu[name] = time.process_time() - c
    return run

def build(*a, _build=gen.build_workspace, **k):
    c, told = time.process_time(), k.get("on_step")
    def on_step(name, frac):
        if name == "samples":  # the sample table is written: the soil step may start
            cpu["samples"] = time.process_time() - c
        if told:
            told(name, frac)
    try:
        return _build(*a, **{**k, "on_step": on_step})
    finally:
        cpu["generate"] = time.process_time() - c

parallel = sys.argv[1] == "parallel"
if not parallel:  # per-step CPU of every step, in this process
    gen.build_workspace = build
    demo.STEPS[1:] = [(n, timed(n, f)) for n, f in demo.STEPS[1:]]
load0 = os.getloadavg()[0]
t, c = time.perf_counter(), time.process_time()
run = demo.run_demo(tempfile.mkdtemp(prefix="bench-demo-") + "/ws", options=demo.DemoOptions(parallel=parallel))
wall, own = time.perf_counter() - t, time.process_time() - c
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
side = list(getattr(demo, "SIDE_LANE", ()))
print(json.dumps({"wall": wall, "cpu": own, "children_cpu": ch.ru_utime + ch.ru_stime, "seconds": run.seconds,
                  "step_cpu": cpu or getattr(run, "cpu", {}), "side_cpu": {k: v for k, v in getattr(run, "cpu", {}).items() if k in side},
                  "side_lane": side, "needs": getattr(demo, "NEEDS", None), "steps": [n for n, _ in demo.STEPS],
                  "load": [load0, os.getloadavg()[0]], "skipped": run.skipped}))
"""


def one(root: Path, mode: str) -> dict:
    """One demo run of the checkout ``root`` in a fresh process."""
    out = subprocess.run([sys.executable, "-c", CHILD, mode], cwd=root, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(root)}, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def critical_path(step_cpu: dict, side: list, needs: dict | None, steps: list, warmup: float) -> float:
    """Seconds the demo takes on two idle cores, each step taking its CPU seconds: the
    first lane runs the steps not in ``side`` in order, after the ``needs`` of each; the
    second runs its steps in the order they are handed over, after its ``warmup`` (its
    imports: from the start when the demo has ``needs``, else from when its first step
    comes up, as before this benchmark's change)."""
    old = needs is None
    deps = needs or {}
    end = {"samples": step_cpu.get("samples", step_cpu["generate"])}
    t_main, t_side, sent = step_cpu["generate"], (None if old else warmup), []

    def hand(name: str, at: float) -> None:
        nonlocal t_side
        t_side = at + warmup if t_side is None else t_side
        t_side = end[name] = max(t_side, at) + step_cpu.get(name, 0.0)
        sent.append(name)

    for s in side if not old else ():  # handed over during the generation (needs only the samples)
        if set(deps.get(s, ())) <= {"samples"}:
            hand(s, end["samples"])
    end["generate"] = t_main

    for name in steps[1:]:
        for s in side if not old else ():
            if s not in sent and all(d in end for d in deps.get(s, ())):
                hand(s, t_main)
        if name in side:
            if old:
                hand(name, t_main)
            continue
        start = max([t_main] + [end[d] for d in deps.get(name, ()) if d in end])
        t_main = end[name] = start + step_cpu.get(name, 0.0)
    return max(t_main, t_side or 0.0)


def _round(results: dict, name: str, root: Path) -> None:
    seq, par = one(root, "sequential"), one(root, "parallel")
    lane_cpu = sum(seq["step_cpu"].get(s, 0.0) for s in par["side_lane"])
    warmup = max(par["children_cpu"] - lane_cpu, 0.0)
    path = critical_path(seq["step_cpu"], par["side_lane"], par["needs"], par["steps"], warmup)
    results.setdefault(name, []).append({"sequential": seq, "parallel": par, "warmup": warmup, "critical_path": path})
    _in_parallel(results[name][-1])
    print(f"{name}: sequential {seq['wall']:.1f} s wall {seq['cpu']:.1f} CPU s; parallel {par['wall']:.1f} s wall, "
          f"{par['cpu']:.1f} + {par['children_cpu']:.1f} CPU s; critical path {path:.1f} s; "
          f"load {seq['load'][0]:.1f}–{par['load'][1]:.1f}", flush=True)


def _in_parallel(r: dict) -> None:
    """The critical path again from the parallel run's own CPU seconds per step (each step
    in the process it ran in, so with the imports it pays there): ``critical_path_parallel``."""
    par = r["parallel"]
    if not par["step_cpu"]:  # a demo that does not time its steps (before this change)
        r["critical_path_parallel"] = None
        return
    cpu = {**par["step_cpu"], "samples": r["sequential"]["step_cpu"].get("samples", par["step_cpu"]["generate"])}
    warm = max(par["children_cpu"] - sum(par["step_cpu"].get(s, 0.0) for s in par["side_lane"]), 0.0)
    r["critical_path_parallel"] = critical_path(cpu, par["side_lane"], par["needs"], par["steps"], warm)


def _markdown(results: dict, order: list[str]) -> str:
    steps = results[order[0]][0]["sequential"]["steps"]
    lines = ["# `agrigis demo` at its default size (seed 0)", "",
             f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
             "shared machine (load average at the runs below). CPU seconds per step from the sequential run "
             "(one process); the critical path lays the steps on two lanes by their dependencies at their CPU "
             "seconds: what an idle 2-core machine takes (``samples``: CPU seconds into the generation when the "
             "sample table is written and the soil step may start). The second estimate takes each step's CPU "
             "seconds in the process it ran in during the parallel run, so with the imports it pays there and "
             "the contention of the loaded machine: the conservative figure. Both count the generation's CPU "
             "seconds as its duration, though its filters and raster windows run on two threads.", "",
             "| step | " + " | ".join(f"{n} CPU s" for n in order) + " |", "|---|" + "---:|" * len(order)]
    best = {n: min(results[n], key=lambda r: r["critical_path"]) for n in order}
    for s in ["samples"] + steps:
        lines.append(f"| {s} | " + " | ".join(f"{best[n]['sequential']['step_cpu'].get(s, float('nan')):.2f}"
                                            for n in order) + " |")
    rows = [("sequential: CPU s (wall s)", lambda r: f"{r['sequential']['cpu']:.1f} ({r['sequential']['wall']:.1f})"),
            ("parallel: CPU s first + second process", lambda r: f"{r['parallel']['cpu']:.1f} + "
                                                              f"{r['parallel']['children_cpu']:.1f}"),
            ("parallel: wall s at load", lambda r: f"{r['parallel']['wall']:.1f} at "
                                                  f"{r['parallel']['load'][0]:.1f}–{r['parallel']['load'][1]:.1f}"),
            ("second process: imports (CPU s)", lambda r: f"{r['warmup']:.1f}"),
            ("second process runs", lambda r: ", ".join(r["parallel"]["side_lane"])),
            ("**critical path on 2 idle cores (s)**", lambda r: f"**{r['critical_path']:.1f}**"),
            ("critical path from the parallel run's step CPU (s)",
             lambda r: "—" if r.get("critical_path_parallel") is None else f"{r['critical_path_parallel']:.1f}")]
    for title, fmt in rows:
        lines.append(f"| {title} | " + " | ".join(fmt(best[n]) for n in order) + " |")
    if len(order) == 2:
        a, b = (best[n]["critical_path"] for n in order)
        lines += ["", f"Critical path ratio {order[0]} / {order[1]}: {a / b:.2f}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--peer-root", type=Path, default=None, help="another checkout, run alternating as the peer")
    ap.add_argument("--render", action="store_true", help="only write demo.md again from demo.json")
    a = ap.parse_args()
    out = ROOT / "benchmarks" / "results"
    if a.render:
        results = json.loads((out / "demo.json").read_text(encoding="utf-8"))
        for runs in results.values():
            for r in runs:
                _in_parallel(r)
        (out / "demo.md").write_text(_markdown(results, list(results)), encoding="utf-8")
        print((out / "demo.md").read_text(encoding="utf-8"))
        return
    roots = {"this": ROOT} | ({"peer": a.peer_root.resolve()} if a.peer_root else {})
    results: dict = {}
    for _ in range(a.rounds):
        for name, root in roots.items():
            _round(results, name, root)
    order = list(roots)
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    (out / "demo.md").write_text(_markdown(results, order), encoding="utf-8")
    print((out / "demo.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
