"""Many synthetic, non-overlapping parcels inside Baicheng, for load tests and benchmarks.

    python tests/data/make_parcels.py 100000 parcels.gpkg
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

CATEGORIES = ["high_standard_farmland", "paddy_new", "paddy_improved", "saline_demo_area", "afforestation"]
STATUSES = ["planned", "approved", "under_construction", "completed", "accepted"]


def many_parcels(n: int, counties: gpd.GeoDataFrame, *, seed: int = 0, prefix: str = "S",
                 step: float = 0.004, size: float = 0.003) -> gpd.GeoDataFrame:
    """``n`` square parcels on a grid (``step`` degrees apart), each wholly inside one county.

    Columns use English registry names; EPSG:4490. All synthetic.
    """
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = counties.total_bounds
    xs = np.arange(x0, x1, step)
    ys = np.arange(y0, y1, step)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    cells = shapely.box(gx, gy, gx + size, gy + size)
    zones = np.asarray(counties.geometry.values, dtype=object)
    shapely.prepare(zones)
    inside = np.unique(shapely.STRtree(cells).query(zones, predicate="contains")[1])  # wholly in one county
    if len(inside) < n:
        raise ValueError(f"only {len(inside)} grid cells inside the counties; use a smaller step")
    pick = np.sort(rng.choice(inside, size=n, replace=False))
    geoms = shapely.box(gx[pick], gy[pick], gx[pick] + size, gy[pick] + size)
    return gpd.GeoDataFrame({
        "project_code": [f"{prefix}{i:06d}" for i in range(n)],
        "project_name": [f"合成项目{i}" for i in range(n)],
        "category": rng.choice(CATEGORIES, n),
        "year": rng.choice([2023, 2024], n),
        "status": rng.choice(STATUSES, n),
        "declared_area_mu": np.round(rng.uniform(100, 140, n), 1),
    }, geometry=geoms, crs="EPSG:4490")


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import layers

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(f"parcels_{n}.gpkg")
    many_parcels(n, layers.load("counties", workspace=False)).to_file(out, driver="GPKG")
    print(out)
