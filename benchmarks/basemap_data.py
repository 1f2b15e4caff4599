"""County-sized inputs for the offline-imagery map benchmark (issue 22, Performance).

* :func:`county_imagery_tif`: a synthetic true-colour composite over a county's extent at
  10 m, in UTM 51N like a Sentinel-2 composite (so the map has to warp it to Web
  Mercator), 8-bit RGB, tiled, JPEG-compressed inside the GeoTIFF, with overviews (what
  QGIS / GDAL write for an orthophoto). Content is built to compress like real imagery,
  not like flat colour: a mosaic of fields 150–600 m wide with crop / bare-soil / saline /
  water colours, a 1-px lighter field edge (roads, ditches), slow regional gradients,
  sowing-row stripes and per-pixel noise.
* :func:`county_registry`: the demo workspace's parcels of one county imported into their
  own registry with the real importer, so ``agrigis map progress`` draws one county.

Usage: ``python benchmarks/basemap_data.py OUT_DIR`` writes ``daan_10m.tif`` there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AGRIGIS = str(Path(sys.executable).with_name("agrigis"))

# field colours (R, G, B) and how often they occur: maize/rice green, stubble, bare soil,
# saline white crust, pasture, water
PALETTE = np.array([[72, 110, 52], [96, 132, 60], [150, 140, 100], [128, 104, 78],
                    [205, 200, 188], [118, 128, 84], [38, 56, 70]], dtype="float32")
WEIGHTS = np.array([0.25, 0.2, 0.15, 0.15, 0.1, 0.1, 0.05])


def _edges(length_m: float, res: float, rng: np.random.Generator) -> np.ndarray:
    """Pixel positions of field boundaries along one axis (fields 150–600 m)."""
    w = rng.uniform(150, 600, int(length_m / 150) + 2) / res
    return np.cumsum(w).astype("int64")


def _window(rows: np.ndarray, width: int, fields: dict, rng: np.random.Generator) -> np.ndarray:
    """RGB (3, len(rows), width) uint8 of one strip of the image."""
    cols = np.arange(width)
    fi = np.searchsorted(fields["rows"], rows, side="right")
    fj = np.searchsorted(fields["cols"], cols, side="right")
    rgb = fields["colour"][fi[:, None] % fields["colour"].shape[0], fj[None, :] % fields["colour"].shape[1]]
    h, w = len(rows), width
    gy, gx = rows[:, None] / 3000.0, cols[None, :] / 3000.0
    grad = 14 * np.sin(gx * 2.1 + 0.7) * np.cos(gy * 1.7) + 8 * np.sin((gx + gy) * 5.3)
    stripes = 5 * np.sin(cols[None, :] * (2 * np.pi / 3) + fi[:, None])
    edge = (np.isin(rows, fields["rows"])[:, None] | np.isin(cols, fields["cols"])[None, :]) * 45.0
    noise = rng.normal(0, 7, (h, w, 3)).astype("float32")
    out = rgb + (grad + stripes + edge)[..., None].astype("float32") + noise
    return np.clip(out, 0, 255).astype("uint8").transpose(2, 0, 1)


def county_imagery_tif(path, county: str = "220882", res: float = 10.0, seed: int = 22,
                       margin: float = 0.15) -> Path:
    """Write a synthetic 8-bit RGB composite over ``county`` (bounds + ``margin``) at ``res`` m.

    Returns the path. ~9,600 × 9,000 px for 大安市 at 10 m; ~20 s on this machine.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.transform import from_origin

    import layers

    c = layers.load("counties", workspace=False)
    w, s, e, n = c[c.county_code == county].to_crs("EPSG:32651").total_bounds
    dx, dy = (e - w) * margin, (n - s) * margin
    w, s, e, n = w - dx, s - dy, e + dx, n + dy
    width, height = int((e - w) / res), int((n - s) / res)
    rng = np.random.default_rng(seed)
    fr, fc = _edges(n - s, res, rng), _edges(e - w, res, rng)
    colour = PALETTE[rng.choice(len(PALETTE), size=(len(fr) + 1, len(fc) + 1), p=WEIGHTS)]
    colour = colour + rng.normal(0, 10, colour.shape).astype("float32")
    fields = {"rows": fr, "cols": fc, "colour": colour}
    path = Path(path)
    profile = dict(driver="GTiff", width=width, height=height, count=3, dtype="uint8", crs="EPSG:32651",
                   transform=from_origin(w, n, res, res), tiled=True, blockxsize=512, blockysize=512,
                   compress="JPEG", jpeg_quality=90, photometric="YCBCR", BIGTIFF="IF_SAFER")
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, height, 512):
            rows = np.arange(r0, min(r0 + 512, height))
            dst.write(_window(rows, width, fields, rng),
                      window=rasterio.windows.Window(0, r0, width, len(rows)))
    with rasterio.open(path, "r+") as dst:
        dst.build_overviews([2, 4, 8, 16, 32, 64], Resampling.average)
    return path


def county_registry(workspace, out_dir, county: str = "220882") -> Path:
    """Import the ``county`` parcels of a demo workspace into ``out_dir/<county>.gpkg``
    (the real ``agrigis import``); returns the registry path."""
    import geopandas as gpd

    from layers.demo import PARCELS_FILE

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    p = gpd.read_file(Path(workspace) / PARCELS_FILE)
    src = out_dir / f"parcels_{county}.gpkg"
    p[p.county_code == county].to_file(src, layer="parcels", driver="GPKG")
    reg = out_dir / f"registry_{county}.gpkg"
    subprocess.run([AGRIGIS, "import", str(src), "--synthetic", "--registry", str(reg), "--lang", "en"],
                   check=True, capture_output=True, cwd=out_dir)
    return reg


if __name__ == "__main__":
    import time

    t = time.perf_counter()
    p = county_imagery_tif(Path(sys.argv[1]) / "daan_10m.tif")
    print(p, f"{p.stat().st_size / 1e6:.0f} MB", f"{time.perf_counter() - t:.0f} s")
