"""Benchmark: NDVI stack from Sentinel-2 L2A products, agrigis vs the plain rioxarray recipe (issue 15).

Two workloads, both SYNTHETIC products (:mod:`layers.imagery.synthetic`) in the real SAFE
layout and XML, JPEG 2000 lossless with 1024² tiles like ESA's:

* ``--size 10980`` (the issue's workload): ``--n`` full-size L2A products (B04/B08 at
  10 m = 10980², SCL and MSK_CLDPRB at 20 m = 5490²) on the two real MGRS tiles that
  cover Da'an (大安市): 51TWL (UTM 51N, upper-left 499980 E, 5100000 N) and 51TWK
  (499980 E, 5000000 N) — one tile covers the county's width but not its 90 km height:
  51TWL holds it down to 4990200 N, 51TWK the southern 13 km. The products come in
  pairs, one per tile, from one acquisition a month (April–September 2024, 02:50 UTC),
  so 12 products are 6 dates × 2 tiles; the AOI is the county boundary (bundled real
  layer) at 10 m in EPSG:4550. Each product has its own B04, B08, SCL and MSK_CLDPRB
  (fields of 500 m with their own NDVI, sensor-like noise of ±40 DN so the files are
  ≈ 120 MB like real bands, cloud patches of 3–10 km). B02, B03, B8A, B11 and B12 —
  which the reader needs present but an NDVI never decodes — are constant rasters made
  once per tile and hard-linked into its products. The upper-left northings are the
  MGRS 100 km lines; the real tiling grid may put a tile up to 40 m off them.
  Products are cached in ``--cache`` (default ``/work/bench-cache/imagery-10980``),
  each written under a temporary name and renamed when complete; a cached product is
  reused after checking that every file its XML lists is there.
* ``--size`` below 10980 (quick): ``--n`` products of ``--size``² cells on one tile, one a
  month, AOI an octagon over 90 % of the tile (cached in ``$AGRIGIS_BENCH_DIR`` or
  ``/tmp/agrigis-bench-imagery``).

Jobs, NDVI with the default SCL mask, monthly max composite, written to NetCDF:

* ``agrigis``: ``scan`` → ``index_stack(lazy=True)`` → ``composite(month, max)`` → ``to_netcdf``.
* ``plain_rioxarray`` (the peer, same run): the recipe an analyst writes today —
  ``rioxarray.open_rasterio`` per band (dask chunks of 2048), reflectance (float32:
  xarray promotes uint16 to float32), mask with SCL (``isin``), NDVI,
  ``reproject_match`` onto the AOI grid, ``xr.concat``, ``resample(time="MS").max()``,
  ``to_netcdf``. At full size it holds every product's reprojected NDVI: ≈ 1.3 GB per
  product (more than 14 GB for 12, where ``--max-rss-gb`` stops it).
* ``decode_aoi``: decode the JPEG 2000 tiles of B04, B08 and SCL that the AOI polygon
  touches, once each, two files at a time — what agrigis decodes, the decoding share
  of its work.
* ``decode_full``: decode every tile of B04, B08 and SCL — what the plain recipe decodes.

Each job runs in its own process; time is wall-clock, CPU is user + system time of
the job (all threads; the fairer figure when other work shares the machine), peak
memory is the process's maximum resident set (``ru_maxrss``); the parent stops a job
whose resident memory passes ``--max-rss-gb`` (the machine is shared).

Usage::

    python benchmarks/imagery.py --size 10980 --n 12 --repeat 1         # the issue's workload
    python benchmarks/imagery.py --size 10980 --n 4 --repeat 1          # growth: 4, 8, 12 products
    python benchmarks/imagery.py --size 10980 --generate-only           # just fill the cache
    python benchmarks/imagery.py                    # 12 products of 2048², each job twice (about 3 min)
    python benchmarks/imagery.py --n 4 --size 1024 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS_JSON = ROOT / "benchmarks" / "results" / "imagery.json"
FULL = 10980
ULX, ULY, CRS = 560000.0, 5040000.0, "EPSG:32651"
DAAN_TILES = {"51TWL": (499980.0, 5100000.0), "51TWK": (499980.0, 5000000.0)}
"""MGRS tile → upper-left corner (UTM 51N) of the Sentinel-2 tiles over Da'an."""
DAAN_DATES = ((4, 18), (5, 13), (6, 17), (7, 12), (8, 16), (9, 15))
DAAN_AOI = "大安市"
FILLERS = {"B02": 1400, "B03": 1700, "B8A": 3500, "B11": 3200, "B12": 2600}
"""Digital numbers of the constant layers an NDVI does not read (hard-linked per tile)."""


# ------------------------------------------------------------------------------ quick workload (one tile)


def data_dir(n: int, size: int) -> Path:
    base = Path(os.environ.get("AGRIGIS_BENCH_DIR", "/tmp/agrigis-bench-imagery"))
    return base / f"n{n}_s{size}"


def generate_small(n: int, size: int) -> Path:
    """``n`` products of ``size``² cells (cached: a finished folder has ``done.txt``)."""
    from layers.imagery.synthetic import ProductSpec, write_s2_product

    out = data_dir(n, size)
    if (out / "done.txt").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(15)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        ndvi = 0.2 + 0.5 * np.sin(np.pi * (i + 1) / (n + 1)) * (0.6 + 0.4 * np.sin(6 * xx) * np.cos(5 * yy))
        scl = np.full((size, size), 4, dtype="uint8")
        for _ in range(6):  # cloud patches of 5–15 % of the side
            r, c, h = rng.integers(0, size), rng.integers(0, size), int(size * rng.uniform(0.05, 0.15))
            scl[r:r + h, c:c + h] = rng.choice([3, 8, 9, 10])
        t = datetime(2024, 1 + i % 12, 5 + i // 12, 2, 50, tzinfo=timezone.utc)
        write_s2_product(out, ProductSpec(time=t, crs=CRS, ulx=ULX, uly=ULY, res=10), ndvi, scl)
    (out / "done.txt").write_text("ok\n")
    return out


def aoi_file(folder: Path, size: int) -> Path:
    """An octagon over 90 % of the tiles' width, as GeoJSON (EPSG:4490)."""
    import geopandas as gpd
    from shapely import Point

    path = folder / "aoi.geojson"
    if not path.exists():
        c = Point(ULX + size * 5, ULY - size * 5).buffer(size * 10 * 0.45, quad_segs=2)
        gpd.GeoDataFrame({"name": ["aoi"]}, geometry=[c], crs=CRS).to_crs("EPSG:4490").to_file(path)
    return path


# ------------------------------------------------------------------------------ full-size Da'an workload


def daan_specs(n: int) -> list:
    """The first ``n`` of the 12 product specs (6 dates × tiles 51TWL, 51TWK)."""
    from layers.imagery.synthetic import ProductSpec

    specs = [ProductSpec(time=datetime(2024, month, day, 2, 50, tzinfo=timezone.utc), crs=CRS, ulx=ulx, uly=uly,
                         res=10, tile=tile, spacecraft="Sentinel-2A" if k % 2 else "Sentinel-2B")
             for k, (month, day) in enumerate(DAAN_DATES) for tile, (ulx, uly) in DAAN_TILES.items()]
    if not 0 < n <= len(specs):
        raise SystemExit(f"--n {n}: the full-size workload has 1 to {len(specs)} products")
    return specs[:n]


def is_complete(safe: Path, spec) -> bool:
    """``safe`` has its XML and a non-empty file for every layer (written under a
    temporary name and renamed when done, so this guards against hand-made damage)."""
    from layers.imagery.synthetic import s2_file_names

    if not (safe / "MTD_MSIL2A.xml").is_file():
        return False
    return all((safe / rel).is_file() and (safe / rel).stat().st_size > 0 for rel in s2_file_names(spec).values())


def filler(cache: Path, spec, layer: str) -> Path:
    """The constant ``layer`` raster of ``spec``'s tile (made once, hard-linked into products)."""
    from affine import Affine

    from layers.imagery.synthetic import FINE_BANDS, _write_jp2

    path = cache / "fillers" / spec.tile / f"{layer}.jp2"
    if not path.exists():
        res, cells = (10, FULL) if layer in FINE_BANDS else (20, FULL // 2)
        tmp = path.with_suffix(".partial.jp2")
        _write_jp2(tmp, np.full((cells, cells), FILLERS[layer], dtype="uint16"), spec.crs,
                   Affine(res, 0, spec.ulx, 0, -res, spec.uly))
        tmp.rename(path)
    return path


SEASON = {4: 0.1, 5: 0.2, 6: 0.45, 7: 0.7, 8: 0.75, 9: 0.5}
"""Share of its full vigour a field shows in each month (NDVI ≈ 0.1 + 0.7 × vigour × season)."""
FIELD = 50
"""Field size in 10 m cells (500 m)."""


def daan_scl(spec, seed: int) -> np.ndarray:
    """SCL at 20 m: vegetation (4), bare soil (5) on weak fields in spring, six cloud
    patches of 3–10 km (cloud 8/9, cirrus 10, shadow 3)."""
    rng = np.random.default_rng(seed)
    cells = FULL // 2
    scl = np.full((cells, cells), 4, dtype="uint8")
    if spec.time.month <= 5:
        vigour = _vigour(spec.tile)
        weak = np.repeat(np.repeat(vigour < 0.45, FIELD // 2, axis=0), FIELD // 2, axis=1)[:cells, :cells]
        scl[weak] = 5
    for _ in range(6):
        r, c, h = rng.integers(0, cells, 2).tolist() + [int(rng.integers(150, 500))]
        scl[r:r + h, c:c + h] = rng.choice([3, 8, 9, 10])
    return scl


def _vigour(tile: str) -> np.ndarray:
    """Vigour (0.3–1) of each 500 m field of ``tile``: the same fields on every date."""
    fields = -(-FULL // FIELD)
    return np.random.default_rng(sum(map(ord, tile))).uniform(0.3, 1.0, (fields, fields)).astype("float32")


def daan_bands(spec, scl: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """B04 and B08 digital numbers (uint16, 10980², baseline 04.00) of fields with the
    season's NDVI, ±70 DN uniform noise (≈ 40 DN standard deviation; the files then
    weigh ≈ 120 MB like real ones) and bright flat cloud (SCL 8/9/10), row strip by strip."""
    rng = np.random.default_rng(seed)
    vigour = np.repeat(_vigour(spec.tile), FIELD, axis=1)[:, :FULL]
    season = SEASON[spec.time.month]
    red, nir = np.empty((FULL, FULL), dtype="uint16"), np.empty((FULL, FULL), dtype="uint16")
    step = 1098
    for a in range(0, FULL, step):
        b = min(FULL, a + step)
        ndvi = 0.1 + 0.7 * season * np.repeat(vigour[a // FIELD:-(-b // FIELD)], FIELD, axis=0)
        ndvi = ndvi[a % FIELD:a % FIELD + b - a]
        r = 0.08 - 0.05 * ndvi
        n = r * (1 + ndvi) / (1 - ndvi)
        cloud = np.repeat(np.repeat(np.isin(scl[a // 2:b // 2], (8, 9, 10)), 2, axis=0), 2, axis=1)
        r, n = np.where(cloud, 0.42, r), np.where(cloud, 0.44, n)
        for out, refl in ((red, r), (nir, n)):
            noise = rng.integers(-70, 71, size=refl.shape, dtype="int16")
            out[a:b] = np.clip(1000 + 10000 * refl + noise, 1, 65535).astype("uint16")
    return red, nir


def make_daan_product(cache: Path, spec, seed: int) -> Path:
    """Write one full-size product into ``cache`` (under a temporary folder, renamed
    when complete); return its ``.SAFE`` path."""
    from layers.imagery.synthetic import cloud_probability, write_s2_files

    safe = cache / f"{spec.product_id}.SAFE"
    if is_complete(safe, spec):
        return safe
    if safe.exists():
        shutil.rmtree(safe)
    tmp = cache / ".partial" / spec.product_id
    shutil.rmtree(tmp, ignore_errors=True)
    scl = daan_scl(spec, seed)
    red, nir = daan_bands(spec, scl, seed)
    layers: dict = {"B04": red, "B08": nir, "SCL": scl, "CLDPRB": cloud_probability(scl)}
    layers.update({b: filler(cache, spec, b) for b in FILLERS})
    pct = float(np.isin(scl, (8, 9, 10)).mean() * 100)
    made = write_s2_files(tmp, spec, layers, shape=(FULL, FULL), cloud_percent=pct)
    made.rename(safe)
    shutil.rmtree(tmp, ignore_errors=True)
    return safe


def generate_daan(cache: Path, n: int, workers: int = 2) -> list[Path]:
    """The first ``n`` full-size products, made (``workers`` processes) where the cache lacks them."""
    specs = daan_specs(n)
    cache.mkdir(parents=True, exist_ok=True)
    for spec in specs[:len(DAAN_TILES)]:  # fillers first, so that workers never race on them
        for band in FILLERS:
            filler(cache, spec, band)
    todo = [(k, s) for k, s in enumerate(specs) if not is_complete(cache / f"{s.product_id}.SAFE", s)]
    if todo:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(make_daan_product, [cache] * len(todo), [s for _, s in todo], [1500 + k for k, _ in todo]))
    return [cache / f"{s.product_id}.SAFE" for s in specs]


# ------------------------------------------------------------------------------ jobs


def workload(args, make: bool = True) -> tuple[list[Path], str, Path]:
    """(products, AOI as ``resolve_aoi`` takes it, folder for outputs) of the arguments;
    ``make=False`` (a job's process) only checks that the cached products are complete."""
    if args.size >= FULL:
        cache = Path(args.cache)
        if make:
            return generate_daan(cache, args.n), DAAN_AOI, cache / "out"
        specs = daan_specs(args.n)
        products = [cache / f"{s.product_id}.SAFE" for s in specs]
        if not all(is_complete(p, s) for p, s in zip(products, specs, strict=True)):
            raise SystemExit(f"products missing in {cache}: run with --generate-only first")
        return products, DAAN_AOI, cache / "out"
    folder = generate_small(args.n, args.size)
    return sorted(folder.glob("*.SAFE")), str(aoi_file(folder, args.size)), folder


def job_agrigis(products: list[Path], aoi_name: str, out: Path, write: bool) -> dict:
    from gis.composite import composite
    from layers.imagery import scan
    from layers.imagery.aoi import resolve_aoi
    from layers.imagery.stack import StackOptions, index_stack

    aoi = resolve_aoi(aoi_name, res=10)
    scenes = [p.scene(10) for p in scan(products).products]
    da = index_stack(scenes, "NDVI", aoi.grid, StackOptions(aoi=aoi, lazy=True))
    ds = composite(da, "month", "max")
    if write:
        ds.to_netcdf(out, engine="h5netcdf")
    else:
        ds.compute()
    return {"cells": aoi.grid.width * aoi.grid.height, "scenes": len(scenes)}


def job_plain(products: list[Path], aoi_name: str, out: Path, write: bool) -> dict:
    import pandas as pd
    import rioxarray
    import xarray as xr

    from gis.masks import SCL_DEFAULT
    from layers.imagery import scan
    from layers.imagery.aoi import resolve_aoi

    aoi = resolve_aoi(aoi_name, res=10)
    x, y = aoi.grid.coords()
    target = xr.DataArray(np.zeros((len(y), len(x)), dtype="float32"), dims=("y", "x"), coords={"y": y, "x": x})
    target = target.rio.write_crs("EPSG:4550").rio.write_transform(aoi.grid.transform)
    layers = []
    for p in scan(products).products:
        def band(sym):
            b = p.bands[sym]
            da = rioxarray.open_rasterio(b.path_for(10), chunks={"x": 2048, "y": 2048}).squeeze("band", drop=True)
            return (da.where(da != 0) * b.scale + b.offset)  # float32: xarray promotes uint16 to float32
        red, nir = band("R"), band("NIR")
        scl = rioxarray.open_rasterio(p.mask.path_for(10), chunks={"x": 2048, "y": 2048}).squeeze("band", drop=True)
        scl = scl.rio.reproject_match(red)  # 20 m → 10 m (nearest)
        ndvi = ((nir - red) / (nir + red)).where(~scl.isin(list(SCL_DEFAULT)))
        ndvi = ndvi.rio.write_crs(red.rio.crs).rio.reproject_match(target, resampling=1)  # bilinear
        layers.append(ndvi.expand_dims(time=[pd.Timestamp(p.time).tz_localize(None)]))
    stack = xr.concat(layers, dim="time")
    comp = stack.resample(time="MS").max()
    if write:
        comp.to_dataset(name="ndvi").to_netcdf(out, engine="h5netcdf")
    else:
        comp.compute()
    return {"cells": target.size, "scenes": len(layers), "dtype": str(comp.dtype)}


def _decode_files(products: list[Path]) -> list[str]:
    from layers.imagery import scan

    return [path for p in scan(products).products
            for path in (p.bands["R"].path_for(10), p.bands["NIR"].path_for(10), p.mask.path_for(10))]


def _tile_windows(path: str, aoi) -> list:
    """The tiles (windows) of ``path`` that the AOI polygon touches, or every tile (None)."""
    import geopandas as gpd
    import rasterio
    from rasterio.windows import Window
    from shapely import box

    with rasterio.open(path) as ds:
        bh, bw = ds.block_shapes[0]
        shape = gpd.GeoSeries([aoi.geometry], crs=aoi.grid.crs).to_crs(ds.crs).iloc[0] if aoi else None
        out = []
        for y0 in range(0, ds.height, bh):
            for x0 in range(0, ds.width, bw):
                win = Window(x0, y0, min(bw, ds.width - x0), min(bh, ds.height - y0))
                if shape is None or shape.intersects(box(*ds.window_bounds(win))):
                    out.append(win)
        return out


def _decode(path: str, windows: list) -> int:
    import rasterio

    with rasterio.open(path) as ds:
        return sum(ds.read(1, window=w).size for w in windows)


def job_decode(products: list[Path], aoi, threads: int = 2) -> dict:
    """Decode B04, B08 and SCL of every product, tile by tile (the tiles the AOI touches,
    or all), ``threads`` files at a time."""
    from concurrent.futures import ThreadPoolExecutor

    files = _decode_files(products)
    windows = [_tile_windows(f, aoi) for f in files]
    t0, c0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        n = sum(pool.map(_decode, files, windows))
    return {"cells": n, "tiles": sum(map(len, windows)), "decode_seconds": time.perf_counter() - t0,
            "decode_cpu": time.process_time() - c0}


def job_decode_aoi(products: list[Path], aoi_name: str, out: Path, write: bool) -> dict:
    from layers.imagery.aoi import resolve_aoi

    return job_decode(products, resolve_aoi(aoi_name, res=10))


def job_decode_full(products: list[Path], aoi_name: str, out: Path, write: bool) -> dict:
    return job_decode(products, None)


JOBS = {"agrigis": job_agrigis, "plain_rioxarray": job_plain, "decode_aoi": job_decode_aoi,
        "decode_full": job_decode_full}


def run_child(name: str, args) -> dict:
    sys.path.insert(0, str(ROOT))
    products, aoi_name, folder = workload(args, make=False)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"out_{name}_n{args.n}.nc"
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    info = JOBS[name](products, aoi_name, out, not args.no_write)
    info["seconds"] = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    info["cpu"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    info["user"], info["sys"] = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    info["peak_mb"] = r1.ru_maxrss / 1024
    return info


def agreement(folder: Path, n: int) -> float:
    """Largest |difference| of the two composites where both have a value (one month at a time)."""
    import xarray as xr

    a = xr.open_dataset(folder / f"out_agrigis_n{n}.nc", engine="h5netcdf")["ndvi"]
    b = xr.open_dataset(folder / f"out_plain_rioxarray_n{n}.nc", engine="h5netcdf")["ndvi"]
    worst = float("nan")
    for t in range(a.sizes["time"]):
        va, vb = a.isel(time=t).values, b.isel(time=t).values
        both = np.isfinite(va) & np.isfinite(vb)
        if both.any():
            worst = np.nanmax([worst, float(np.abs(va[both] - vb[both]).max())])
    return worst


# ------------------------------------------------------------------------------ runner


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            return next(float(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0.0


def run_one(name: str, args, n: int) -> dict:
    """Job ``name`` on the first ``n`` products in a child process, stopped if its
    resident memory passes ``args.max_rss_gb``."""
    cmd = [sys.executable, __file__, "--n", str(n), "--size", str(args.size), "--cache", args.cache, "--child", name]
    if args.no_write:
        cmd.append("--no-write")
    load0 = os.getloadavg()[0]
    # the child's output goes to files: a pipe nobody reads while it runs can fill and stall it
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, text=True)
        seen = 0.0
        while proc.poll() is None:
            seen = max(seen, _rss_mb(proc.pid))
            if seen > args.max_rss_gb * 1024:
                proc.kill()
                proc.wait()
                return {"killed": True, "peak_mb": seen, "load": (load0, os.getloadavg()[0])}
            time.sleep(0.5)
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if proc.returncode:
        raise SystemExit(f"job {name} failed:\n{err[-3000:]}")
    info = json.loads(out.strip().splitlines()[-1])
    info["load"] = (load0, os.getloadavg()[0])
    return info


def run_jobs(args, n: int, names: list[str], repeat: int) -> dict[str, dict]:
    """Each job of ``names`` on ``n`` products, the jobs alternating ``repeat`` times;
    per job the run with the least CPU is kept, with every run's figures in ``runs``."""
    rows: dict[str, dict] = {}
    for _ in range(repeat):
        for name in names:
            info = run_one(name, args, n)
            print(f"  {n} products, {name}: {json.dumps(info)}", flush=True)
            best = rows.get(name)
            runs = (best or {}).get("runs", []) + [{k: info.get(k) for k in ("seconds", "cpu", "peak_mb", "load")}]
            if best is None or info.get("cpu", 1e9) < best.get("cpu", 1e9):
                rows[name] = info
            rows[name]["runs"] = runs
    return rows


def _fmt(r: dict, key: str, spec: str) -> str:
    return "killed" if r.get("killed") else format(r[key], spec)


def job_table(rows: dict[str, dict]) -> list[str]:
    lines = ["| job | time (s) | CPU (s) | of which system (s) | peak memory (MB) | 1-min load (start → end) "
             "| × plain recipe time | × plain recipe CPU |", "|---|---:|---:|---:|---:|---|---:|---:|"]
    plain = rows.get("plain_rioxarray")
    ok = plain is not None and not plain.get("killed")
    for name, r in rows.items():
        wall = f"{r['seconds'] / plain['seconds']:.2f}" if ok and not r.get("killed") else "-"
        cpu = f"{r['cpu'] / plain['cpu']:.2f}" if ok and not r.get("killed") else "-"
        lines.append(f"| {name} | {_fmt(r, 'seconds', '.1f')} | {_fmt(r, 'cpu', '.1f')} | {_fmt(r, 'sys', '.1f')} "
                     f"| {r['peak_mb']:.0f} | {r['load'][0]:.1f} → {r['load'][1]:.1f} | {wall} | {cpu} |")
    return lines


def scaling_table(by_n: dict[int, dict[str, dict]]) -> list[str]:
    """Time, CPU and memory of each job by number of products: how it grows."""
    lines = ["| products | agrigis time (s) | agrigis CPU (s) | AOI-tile decode CPU (s) | agrigis CPU − decode (s) "
             "| agrigis peak (MB) | plain time (s) | plain CPU (s) | plain peak (MB) | × plain time | × plain CPU |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, r in sorted(by_n.items()):
        a, p, d = r["agrigis"], r["plain_rioxarray"], r.get("decode_aoi")
        dec, rest = (f"{d['cpu']:.1f}", f"{a['cpu'] - d['cpu']:.1f}") if d else ("-", "-")
        ratio = "- | -" if p.get("killed") else f"{a['seconds'] / p['seconds']:.2f} | {a['cpu'] / p['cpu']:.2f}"
        lines.append(f"| {n} | {a['seconds']:.1f} | {a['cpu']:.1f} | {dec} | {rest} | {a['peak_mb']:.0f} "
                     f"| {_fmt(p, 'seconds', '.1f')} | {_fmt(p, 'cpu', '.1f')} | {p['peak_mb']:.0f} "
                     f"| {ratio} |")
    return lines


def save_json(key: str, value: dict) -> None:
    data = json.loads(RESULTS_JSON.read_text(encoding="utf-8")) if RESULTS_JSON.exists() else {}
    data[key] = value
    RESULTS_JSON.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=12, help="number of products")
    ap.add_argument("--size", type=int, default=2048, help=f"cells per side at 10 m ({FULL}: the issue's workload)")
    ap.add_argument("--cache", default="/work/bench-cache/imagery-10980", help="where full-size products are kept")
    ap.add_argument("--only", default="agrigis,plain_rioxarray,decode_aoi", help="comma-separated jobs")
    ap.add_argument("--no-write", action="store_true", help="compute without writing NetCDF")
    ap.add_argument("--scaling", default="", help="also run agrigis, plain and decode_aoi for these counts (4,8)")
    ap.add_argument("--repeat", type=int, default=2, help="alternating runs of the jobs; the least CPU is kept")
    ap.add_argument("--max-rss-gb", type=float, default=14.0, help="stop a job whose resident memory passes this")
    ap.add_argument("--generate-only", action="store_true", help="make (or check) the products and stop")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return ap.parse_args()


def main() -> None:
    args = _args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        print(json.dumps(run_child(args.child, args)))
        return
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    products, _, folder = workload(args)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    gen = {"seconds": time.perf_counter() - t0, "cpu": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime}
    print(f"{len(products)} products ready in {gen['seconds']:.0f} s ({gen['cpu']:.0f} CPU s in workers)", flush=True)
    if args.generate_only:
        return
    rows = run_jobs(args, args.n, args.only.split(","), args.repeat)
    lines = [f"NDVI stack, {args.n} SYNTHETIC L2A products of {args.size}² cells; "
             f"jobs alternating, best (least CPU) of {args.repeat} runs each.", "", *job_table(rows)]
    result = {"n": args.n, "size": args.size, "repeat": args.repeat, "generation": gen, "jobs": rows,
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if not args.no_write and {"agrigis", "plain_rioxarray"} <= rows.keys() and not rows["plain_rioxarray"].get("killed"):
        result["agreement"] = agreement(folder, args.n)
        lines += ["", f"Largest |agrigis − plain| where both have a value: {result['agreement']:.4f} NDVI."]
    if args.scaling:
        by_n = {args.n: rows}
        for n in (int(v) for v in args.scaling.split(",")):
            by_n[n] = run_jobs(args, n, ["agrigis", "plain_rioxarray", "decode_aoi"], 1)
        result["scaling"] = by_n
        lines += ["", "How it grows with the number of products:", "", *scaling_table(by_n)]
    save_json(f"n{args.n}_s{args.size}", result)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
