"""Benchmark: zonal statistics on every input path vs exactextract, same files, same run
(issue 19).

Workload: the stack of ``benchmarks/zonal.py`` (smooth synthetic NDVI, NaN clouds,
DEFLATE GeoTIFFs with 256² tiles, EPSG:4550) at ``--size`` cells square and ``--dates``
dates, ``--n`` parcels of 0.1–50 ha; plus the same stack as one NetCDF (h5netcdf,
chunks of 1 date × 256 rows), plain and deflated, and as a Zarr store. Statistic: the mean of every parcel on every date.

Paths (each job is a fresh Python process; every library is imported and the parcels
read before the clock starts, so *cold* is the first call's own one-time costs):

* ``files``          a list of GeoTIFF paths (windows decoded once, the dates on every
  core, one file per thread);
* ``numpy``          an in-memory DataArray (the stack loaded before the clock);
* ``dask_aligned``   ``rioxarray.open_rasterio(chunks={"y": 256})``, the files' tiles
  (a stack of files opened by rioxarray is read as its files, see gis/zonal.py);
* ``dask_misaligned`` chunks of 300 rows × 700 columns (cut across parcels and tiles);
* ``netcdf``         the NetCDF path (opened lazily by xarray, read in windows of the
  file's chunks, no dask);
* ``netcdf_zlib``    the same NetCDF compressed as NetCDF-4 writers usually do (deflate
  level 4 after the shuffle filter): its chunks inflated on every core
  (gis/hdf5_chunks.py), where HDF5 inflates on one;
* ``zarr``           the same stack as a Zarr store (format 2, zarr's default
  compressor, chunks of 1 date × 256 rows), opened lazily;
* ``netcdf_dask``    the plain NetCDF as a notebook hands it over:
  ``xr.open_dataset(path, chunks={})["ndvi"]`` (a dask DataArray; read as the file's
  stored variable, see gis/zonal_read.py ``_as_stored``);
* ``distributed``    the dask stack with a ``distributed.Client`` on a LocalCluster of
  2 workers × 1 thread (started before the clock, as a user's cluster would be): one
  task per worker, each opening the files by path and reading its own rows;
* ``exactextract``   ``exact_extract(files, parcels, ["mean"])``, raster-sequential (its
  fastest strategy on a stack, see results/zonal.md);
* ``decode_only``    a floor, not a path: every file decoded whole by rasterio as the
  ``files`` path reads it (one file per thread on every core, 32 MB block cache),
  nothing else. Any path that reads these files pays at least this.

Each job times a cold call and then a warm one (coverage cache cleared, so both build
the weights as exactextract does), wall clock and CPU seconds (the process and its
children: the cluster's workers too). Medians of ``--repeat`` runs, interleaved; the
load average at the start and at the end is recorded.

Usage::

    python benchmarks/zonal_paths.py                 # 3000² × 12 dates, 4000 parcels
    python benchmarks/zonal_paths.py --size 2000 --n 2000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"
PATHS = ("decode_only", "files", "numpy", "dask_aligned", "dask_misaligned", "netcdf",
         "netcdf_zlib", "zarr", "netcdf_dask", "distributed")
NOTES = [
    "What a cold call pays that a warm one does not (see gis/zonal.py): the first touch "
    "of the working memory (the row buffer and the weights; the work arrays of each window "
    "are reused), the first rasterio.open (GDAL driver registration, < 0.1 s), the first "
    "xarray.open_dataset and h5py open (for a Zarr path, importing zarr: ≈ 0.15 s; for a "
    "deflated NetCDF, zlib-ng: < 0.01 s); on the cluster each worker's first task imports "
    "agrigis, scipy.sparse and rasterio (≈ 0.5 s per worker). No JIT. The dask stacks "
    "opened by rioxarray are read as their files (the same windows as the file list, "
    "without dask's per-chunk work or rioxarray's lock, which lets one thread decode at a "
    "time); a NetCDF-4 or Zarr path is read straight from its stored array into the row "
    "buffer (a deflated NetCDF's chunks inflated by agrigis on every core: HDF5 would "
    "inflate them on one); on the "
    "cluster each task builds its own parcels' weights, opens the files by path and reads "
    "its own rows, and only the statistics come back.",
    "exactextract runs on one thread; agrigis on all cores (2 here). Under load the wall "
    "clock of a multi-threaded job depends on the share of the cores it gets, and the "
    "peer's own wall clock swings with it: the CPU columns (and CPU / exactextract's "
    "best CPU) show the work itself. With 2 cores a path's wall clock is at least half "
    "its CPU seconds, so a CPU ratio of r allows a wall ratio of r / 2 on an idle "
    "machine. This machine's kernel schedules by session (Linux autogroup, "
    "/proc/sys/kernel/sched_autogroup_enabled = 1): under load a job gets its session's "
    "share of the cores however many threads it runs, so there the wall ratio follows the "
    "CPU ratio and a second core buys nothing.",
]


def _stack_da(stack: list[Path]):
    import rioxarray
    import xarray as xr

    return xr.concat([rioxarray.open_rasterio(p, chunks={"y": 256}).squeeze("band", drop=True)
                      for p in stack], dim="time").rename("ndvi")


def make_netcdf(stack: list[Path], out: Path, compressed: bool = False) -> Path:
    """The stack as one NetCDF (chunks of one date × 256 rows; deflate level 4 after
    the shuffle filter when ``compressed``), written once."""
    if out.exists():
        return out
    da = _stack_da(stack)
    da.encoding = {"chunksizes": (1, 256, da.sizes["x"]), "grid_mapping": "spatial_ref"}
    if compressed:
        da.encoding.update(zlib=True, complevel=4, shuffle=True)
    tmp = out.with_suffix(".part.nc")
    da.to_dataset().to_netcdf(tmp, engine="h5netcdf")
    tmp.rename(out)
    return out


def make_zarr(stack: list[Path], out: Path) -> Path:
    """The stack as a Zarr store (format 2, zarr's default compressor, chunks of one
    date × 256 rows), written once."""
    if out.exists():
        return out
    tmp = out.with_name(out.name + ".part")
    _stack_da(stack).chunk({"time": 1, "y": 256, "x": -1}).to_dataset().to_zarr(tmp, zarr_format=2, mode="w")
    tmp.rename(out)
    return out


def _raster(name: str, paths: dict):
    """What the user would hand zonal_stats on this path (opened before the clock)."""
    import rioxarray
    import xarray as xr

    if name == "files":
        return paths["stack"]
    if name in ("netcdf", "netcdf_zlib", "zarr"):
        return paths[name]
    if name == "netcdf_dask":
        return xr.open_dataset(paths["netcdf"], chunks={}, decode_coords="all")["ndvi"]
    chunks = {"numpy": None, "dask_aligned": {"y": 256, "x": -1},
              "dask_misaligned": {"y": 300, "x": 700}, "distributed": {"y": 256, "x": -1}}[name]
    das = [rioxarray.open_rasterio(p, chunks=chunks, masked=True).squeeze("band", drop=True)
           for p in paths["stack"]]
    da = xr.concat(das, dim="time")
    return da.load() if chunks is None else da


def _decode_only(stack: list) -> float:
    """Decode every file whole, as the files path does (the floor of any path); no
    statistic, so its mean of means is NaN."""
    from concurrent.futures import ThreadPoolExecutor

    import rasterio

    def decode(p: str) -> None:
        with rasterio.open(p) as ds:
            ds.read(1)

    with rasterio.Env(GDAL_CACHEMAX=32 * 2**20), ThreadPoolExecutor(os.cpu_count() or 1) as ex:
        list(ex.map(decode, stack))
    return float("nan")


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its children so far (the
    distributed workers included)."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for p in (me, *me.children(recursive=True)):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:  # a child that has just ended
            pass
    return total


def _idle_cluster_cpu(seconds: float = 3.0) -> float:
    """CPU seconds per second the cluster (scheduler, nannies, workers) spends idle:
    heartbeats and the workers' profiler. A call that takes t seconds of wall clock on
    the cluster is charged about t × this on top of its work."""
    time.sleep(1.0)  # let the workers settle after start-up
    c0, t0 = _cpu(), time.perf_counter()
    time.sleep(seconds)
    return (_cpu() - c0) / (time.perf_counter() - t0)


def job(name: str, paths: dict) -> dict:
    """Cold and warm seconds of one path (or of exactextract) in this fresh process."""
    import geopandas as gpd
    import numpy as np

    sys.path.insert(0, str(ROOT))
    zones = gpd.read_file(paths["parcels"]).set_index("parcel")
    import dask.array  # noqa: F401  (imports are not what we measure)
    import exactextract
    import rioxarray  # noqa: F401
    import gis.zonal as gz

    cluster = client = None
    if name == "distributed":
        import distributed

        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
        out_idle = _idle_cluster_cpu()
    raster = None if name in ("exactextract", "decode_only") else _raster(name, paths)
    out = {} if cluster is None else {"idle_cpu_per_s": out_idle}
    for when in ("cold", "warm"):
        gz._CACHE.clear()
        c0 = _cpu()
        t0 = time.perf_counter()
        if name == "decode_only":
            check = _decode_only(paths["stack"])
        elif name == "exactextract":
            r = exactextract.exact_extract(paths["stack"], zones.reset_index(), ["mean"],
                                           output="pandas", strategy="raster-sequential")
            check = float(np.nanmean(r.filter(like="mean").to_numpy(dtype=float)))
        else:
            r = gz.zonal_stats(zones, raster, stats=["mean"])
            check = float(np.nanmean(r.values))
        out[when] = time.perf_counter() - t0
        out[f"{when}_cpu"] = _cpu() - c0
        out["mean_of_means"] = check
    if client is not None:
        client.close()
        cluster.close()
    return out


def measure(name: str, paths: dict) -> dict:
    enc = {k: (str(v) if not isinstance(v, list) else [str(p) for p in v]) for k, v in paths.items()}
    res = subprocess.run([sys.executable, __file__, "--job", name, "--paths", json.dumps(enc)],
                         capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"job {name} failed:\n{res.stderr[-3000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"{name}: {out}", file=sys.stderr, flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=3000)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--dates", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", help="comma-separated paths")
    ap.add_argument("--job")
    ap.add_argument("--paths")
    args = ap.parse_args()
    if args.job:
        print(json.dumps(job(args.job, json.loads(args.paths))))
        return
    import zonal as zb

    d = Path(os.environ.get("AGRIGIS_BENCH_DIR", "/tmp/agrigis-bench-zonal"))
    paths = zb.generate(d, args.size, args.n, args.dates)
    paths["netcdf"] = make_netcdf(paths["stack"], d / f"ndvi_{args.size}_stack.nc")
    paths["netcdf_zlib"] = make_netcdf(paths["stack"], d / f"ndvi_{args.size}_stack_zlib4.nc", compressed=True)
    paths["zarr"] = make_zarr(paths["stack"], d / f"ndvi_{args.size}_stack.zarr")
    names = ["exactextract", *(args.only.split(",") if args.only else PATHS)]
    load0 = os.getloadavg()
    runs: dict = {k: [] for k in names}
    for _ in range(max(args.repeat, 1)):
        for k in names:
            runs[k].append(measure(k, paths))
    load = os.getloadavg()
    text = render(runs, args, (load0, load))
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "zonal_paths.md").write_text(text, encoding="utf-8")
    (RESULTS / "zonal_paths.json").write_text(json.dumps(
        {"size": args.size, "parcels": args.n, "dates": args.dates,
         "load_average_start": load0, "load_average_end": load,
         "cores": os.cpu_count(), "runs": runs}, indent=1), encoding="utf-8")


def _load(avg) -> str:
    return " / ".join(f"{v:.1f}" for v in avg)


def render(runs: dict, args, load) -> str:
    med = {k: {w: statistics.median(r[w] for r in v) for w in ("cold", "warm")}
           for k, v in runs.items()}
    ee = med["exactextract"]
    best = min(ee.values())
    best_cpu = min(statistics.median(r[f"{w}_cpu"] for r in runs["exactextract"])
                   for w in ("cold", "warm"))
    lines = [
        f"# Zonal statistics on every input path ({args.size}² × {args.dates} dates, "
        f"{args.n:,} parcels, mean)\n",
        "Same files, same run: every job in a fresh process (libraries imported and parcels "
        "read before the clock); *cold* = the first call, *warm* = a second call in the same "
        "process with the coverage cache cleared (it builds the weights again, as exactextract "
        f"does). Medians of {args.repeat} interleaved runs. Machine: {os.cpu_count()} cores "
        f"shared with other jobs, load average (1 / 5 / 15 min) {_load(load[0])} at the start, "
        f"{_load(load[1])} at the end: compare ratios, not seconds.\n",
        f"exactextract's fastest strategy here: raster-sequential, best of cold/warm "
        f"{best:.2f} s, best CPU {best_cpu:.2f} s.\n",
        "| path | cold (s) | warm (s) | cold / exactextract | warm / exactextract | "
        "cold CPU (s) | warm CPU (s) | cold CPU / exactextract CPU | "
        "warm CPU / exactextract CPU | mean of means |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, m in med.items():
        mm = statistics.median(r["mean_of_means"] for r in runs[k])
        cpu = {w: statistics.median(r.get(f"{w}_cpu", float("nan")) for r in runs[k])
               for w in ("cold", "warm")}
        lines.append(f"| {k} | {m['cold']:.2f} | {m['warm']:.2f} | {m['cold'] / best:.2f} | "
                     f"{m['warm'] / best:.2f} | {cpu['cold']:.2f} | {cpu['warm']:.2f} | "
                     f"{cpu['cold'] / best_cpu:.2f} | {cpu['warm'] / best_cpu:.2f} | {mm:.6f} |")
    idle = [r["idle_cpu_per_s"] for r in runs.get("distributed", []) if "idle_cpu_per_s" in r]
    if idle:
        m = med["distributed"]
        lines += ["", f"The idle cluster (scheduler, 2 nannies, 2 workers) spends "
                      f"{statistics.median(idle):.3f} CPU s per second of wall clock (heartbeats, "
                      f"the workers' profiler), so about {statistics.median(idle) * m['cold']:.2f} / "
                      f"{statistics.median(idle) * m['warm']:.2f} s of the distributed CPU column "
                      "(cold / warm) is the cluster idling through the call's wall clock."]
    for note in NOTES:
        lines += ["", note]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
