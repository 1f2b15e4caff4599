"""Light GeoJSON for phones: rounded coordinates, no bbox, only the properties shown.

Coordinates are rounded to 6 decimals of a degree (≤ 0.11 m here). Optional
simplification keeps a tolerance below 1 m (applied in degrees with the metre → degree
factor of the latitude, so never more than asked).
"""

from __future__ import annotations

import datetime as dt
import json
import numpy as np
import pandas as pd
import shapely

from gis.errors import CRSError, InputError, MissingCRSError

PRECISION = 6
"""Decimals of a degree kept: 1e-6° ≈ 0.11 m north–south, 0.08 m east–west here."""


def to_lonlat(gdf):
    """The GeoDataFrame in lon/lat (EPSG:4490 is kept; other CRSs are transformed to it)."""
    if gdf.crs is None:
        raise MissingCRSError("the layer has no CRS; set it (e.g. gdf.set_crs('EPSG:4490')) before mapping")
    if gdf.crs.is_geographic:
        return gdf
    return gdf.to_crs("EPSG:4490")


def simplify_lonlat(geoms: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Simplify lon/lat geometries with a tolerance below 1 m (topology preserved per geometry)."""
    if not 0 < tolerance_m < 1:
        raise InputError(f"simplification tolerance {tolerance_m} m must be above 0 and below 1 m")
    # one degree is at most 111.32 km in any direction, so this never moves a vertex more
    # than tolerance_m (east–west it is even less at 45° N)
    deg = tolerance_m / 111_320.0
    return shapely.simplify(geoms, deg, preserve_topology=True)


def _jsonable(v):
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not np.isfinite(v) else round(float(v), 4)
    if isinstance(v, (pd.Timestamp, dt.date, dt.datetime)):
        return v.isoformat()[:10] if not pd.isna(v) else None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v if isinstance(v, (str, int)) else str(v)


def geometry_strings(geoms, precision: int = PRECISION, simplify_m: float | None = None) -> list[str]:
    """GeoJSON geometry strings (rounded, no bbox) for an array of lon/lat geometries."""
    geoms = np.asarray(geoms, dtype=object)
    if simplify_m:
        geoms = simplify_lonlat(geoms, simplify_m)
    geoms = shapely.transform(geoms, lambda c: np.round(c, precision))
    return list(shapely.to_geojson(geoms))


def feature_collection(gdf, props: dict[str, object] | None = None, precision: int = PRECISION,
                       simplify_m: float | None = None) -> str:
    """A compact GeoJSON FeatureCollection text.

    Parameters
    ----------
    gdf : GeoDataFrame
        In lon/lat (EPSG:4490 / 4326). Empty and missing geometries are skipped.
    props : dict
        Short property name → column name in ``gdf`` or a sequence of values (one per
        row). Only these properties are written.
    """
    if gdf.crs is not None and not gdf.crs.is_geographic:
        raise CRSError(f"feature_collection needs lon/lat data, got {gdf.crs.name}")
    props = props or {}
    cols = {}
    for short, src in props.items():
        vals = gdf[src] if isinstance(src, str) else src
        cols[short] = [_jsonable(v) for v in list(vals)]
    geoms = gdf.geometry.values
    keep = ~(shapely.is_missing(np.asarray(geoms)) | shapely.is_empty(np.asarray(geoms)))
    gstr = geometry_strings(np.asarray(geoms)[keep], precision, simplify_m)
    idx = np.flatnonzero(keep)
    parts = []
    for g, i in zip(gstr, idx):
        p = json.dumps({k: v[i] for k, v in cols.items()}, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        parts.append('{"type":"Feature","geometry":' + g + ',"properties":' + p + "}")
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"
