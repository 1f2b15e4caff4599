"""Light layer data for phones: rounded coordinates, no bbox, only the properties shown.

Two encodings:

* :func:`compact_layer` (what the maps embed): coordinates rounded to 1e-6° (≤ 0.11 m
  here) stored as integers, each ring's first vertex absolute and the rest as deltas,
  closing vertex dropped; properties stored column-wise, repeated codes (category, status,
  county) as indices into a small table. About a third of plain GeoJSON's size, and it is
  decoded by ``agrigis.js`` straight into Leaflet layers.
* :func:`feature_collection`: plain GeoJSON with the same rounding and trimming.

Optional simplification keeps a tolerance below 1 m.
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
        raise MissingCRSError.of("error.map_no_crs")
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
    for g, i in zip(gstr, idx, strict=True):
        p = json.dumps({k: v[i] for k, v in cols.items()}, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        parts.append('{"type":"Feature","geometry":' + g + ',"properties":' + p + "}")
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"


def _delta_groups(coords: np.ndarray, group: np.ndarray, scale: float, drop_last: bool) -> list[list[int]]:
    """Integer-encode coordinates per group: first vertex absolute, then deltas, flattened."""
    if not len(coords):
        return []
    ints = np.round(coords[:, :2] * scale).astype(np.int64)
    if drop_last:  # rings are closed; Leaflet closes them itself
        ends = np.r_[group[1:] != group[:-1], True]
        ints, group = ints[~ends], group[~ends]
    starts = np.r_[True, group[1:] != group[:-1]]
    d = ints.copy()
    d[1:] -= ints[:-1]
    d[starts] = ints[starts]
    return [a.ravel().tolist() for a in np.split(d, np.flatnonzero(starts)[1:])]


def encode_geometries(geoms, precision: int = PRECISION) -> tuple[list, list[int]]:
    """Per geometry a list of parts, and a kind per geometry (0 polygon, 1 line, 2 point).

    A polygon part is a list of rings; a line part or a point is one flat integer list
    (see :func:`compact_layer`).
    """
    geoms = np.asarray(geoms, dtype=object)
    scale = 10.0 ** precision
    out: list[list] = [[] for _ in range(len(geoms))]
    kinds = [0] * len(geoms)
    parts, pidx = shapely.get_parts(geoms, return_index=True)
    tid = shapely.get_type_id(parts)
    pm = tid == 3
    if pm.any():
        polys, fidx = parts[pm], pidx[pm]
        rings, ridx = shapely.get_rings(polys, return_index=True)
        coords, cidx = shapely.get_coordinates(rings, return_index=True)
        encoded = _delta_groups(coords, cidx, scale, drop_last=True)
        per_poly: list[list] = [[] for _ in range(len(polys))]
        for ring, pi in zip(encoded, ridx[np.unique(cidx)], strict=True):
            per_poly[pi].append(ring)
        for rings_of, fi in zip(per_poly, fidx, strict=True):
            out[fi].append(rings_of)
            kinds[fi] = 0
    for ids, kind in (((1, 2), 1), ((0,), 2)):
        m = np.isin(tid, ids)
        if m.any():
            coords, cidx = shapely.get_coordinates(parts[m], return_index=True)
            for flat, fi in zip(_delta_groups(coords, cidx, scale, drop_last=False), pidx[m][np.unique(cidx)], strict=True):
                out[fi].append(flat)
                kinds[fi] = kind
    return out, kinds


def compact_layer(gdf, props: dict[str, object] | None = None, precision: int = PRECISION,
                  simplify_m: float | None = None, geometry_of: str | None = None) -> str:
    """The compact JSON text of a layer (see the module docstring); decoded by agrigis.js.

    ``{"n": count, "s": scale, "g": [...], "t": kinds or 0/1/2, "p": {key: values}, "e": {key: table}}``

    ``geometry_of``: the id of a layer of the same map with the very same geometries;
    they are not written again (``"g": {"ref": id}``) and agrigis.js takes them, and
    their kinds, from that layer.
    """
    if gdf.crs is not None and not gdf.crs.is_geographic:
        raise CRSError(f"compact_layer needs lon/lat data, got {gdf.crs.name}")
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = geoms[keep]
    if simplify_m:
        geoms = simplify_lonlat(geoms, simplify_m)
    if geometry_of is not None:
        g, kinds = {"ref": geometry_of}, [0]
    else:
        g, kinds = encode_geometries(geoms, precision)
    cols: dict[str, list] = {}
    enums: dict[str, list] = {}
    idx = np.flatnonzero(keep)
    for short, src in (props or {}).items():
        ser = gdf[src] if isinstance(src, str) else pd.Series(list(src), index=gdf.index, dtype=object)
        ser = ser.iloc[idx]
        if pd.api.types.is_bool_dtype(ser) or not pd.api.types.is_numeric_dtype(ser):
            vals = pd.Series(ser.to_numpy(dtype=object))
            nonnull = vals.dropna()
            if (len(vals) > 8 and len(nonnull) and nonnull.map(type).eq(str).all()
                    and nonnull.nunique() <= max(16, len(vals) // 4)):
                codes, uniques = pd.factorize(vals)  # repeated codes stored once
                cols[short] = codes.tolist()
                enums[short] = [str(u) for u in uniques]
            else:
                cols[short] = [_jsonable(v) for v in vals]
        elif pd.api.types.is_integer_dtype(ser) and not ser.isna().any():
            cols[short] = ser.to_numpy(dtype=np.int64).tolist()
        else:  # floats: 4 decimals, NaN → null (fast path, no per-value Python checks)
            arr = np.round(ser.to_numpy(dtype="float64", na_value=np.nan), 4)
            out = arr.astype(object)
            out[~np.isfinite(arr)] = None
            cols[short] = out.tolist()
    data = {"n": int(keep.sum()), "s": 10 ** precision, "g": g,
            "t": kinds[0] if len(set(kinds)) == 1 and kinds else kinds, "p": cols, "e": enums}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
