"""Quality checks of project parcels: counties, overlaps, slivers, area mismatches.

Pure, vectorised geoprocessing (shapely 2 STRtree; no Python loop of a parcel over all
others). Inputs are GeoDataFrames in EPSG:4490; areas are ellipsoidal (:mod:`gis.area`).
Used by ``agrigis import`` (county of each parcel) and ``agrigis check``, and by
notebooks directly.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> p = gpd.GeoDataFrame({"project_code": ["A", "B", "C"], "category": ["paddy_new"] * 3},
...     geometry=[box(122.0, 45.0, 122.01, 45.01), box(122.005, 45.0, 122.015, 45.01),
...               box(123.0, 45.0, 123.0001, 45.0001)], crs="EPSG:4490")
>>> ov = find_overlaps(p)
>>> ov[["code_a", "code_b", "same_category"]].values.tolist(), round(float(ov["overlap_mu"].iloc[0]), 1)
([['A', 'B', True]], 657.1)
>>> find_slivers(p)["project_code"].tolist()
['C']
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

if TYPE_CHECKING:
    import geopandas as gpd

from .area import area_mu
from .crs import CGCS2000
from .errors import MissingCRSError
from .overlay import overlap_pairs, polygonal, split_by_zones, tile_zones

log = logging.getLogger(__name__)

__all__ = ["largest_share", "overlap_pairs", "area_gap", "find_overlaps", "find_slivers",
           "find_area_mismatches", "find_straddles"]

SLIVER_MU = 1.0
"""Parcels smaller than this (亩) are slivers."""
AREA_TOLERANCE = 0.05
"""Declared vs computed area: relative difference above this is reported (5 %)."""
STRADDLE_SHARE = 0.01
"""A parcel straddles counties when more than this share of it lies outside its county."""
ZONE_TILE_DEG = 0.1
"""Side of the tiles zones are cut into for :func:`largest_share` (degrees, about 10 km)."""


def _geoms(gdf: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    if gdf.crs is None:
        raise MissingCRSError("parcels have no CRS; set it, e.g. gdf.set_crs('EPSG:4490')")
    if not gdf.crs.equals(CGCS2000):
        gdf = gdf.to_crs(CGCS2000)
    return np.asarray(gdf.geometry.values, dtype=object)


def largest_share(parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, id_column: str = "county_code") -> pd.DataFrame:
    """For each parcel, the zone holding the largest share of its area.

    The parcels are split by the zones with :func:`gis.overlay.split_by_zones`, the split
    progress tracking uses (here in EPSG:4490, zones cut into tiles of
    :data:`ZONE_TILE_DEG`).

    Parameters
    ----------
    parcels, zones : GeoDataFrame
        Polygons (any CRS; compared in EPSG:4490, shares are ratios of areas, so the
        small distortion of degrees cancels within a parcel).
    id_column : str
        Column of ``zones`` naming each zone.

    Returns
    -------
    DataFrame
        Index of ``parcels``; ``zone`` (None when the parcel touches no zone),
        ``share`` (of the parcel in that zone, 0–1), ``inside`` (share in all zones
        together), ``n_zones`` (zones it overlaps).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> z = gpd.GeoDataFrame({"county_code": ["a", "b"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4490)
    >>> p = gpd.GeoDataFrame(geometry=[box(0.2, 0.2, 0.4, 0.4), box(0.9, 0.5, 1.3, 0.6), box(5, 5, 6, 6)], crs=4490)
    >>> s = largest_share(p, z)
    >>> s["zone"].tolist(), s["share"].round(2).tolist(), s["n_zones"].tolist()
    (['a', 'b', None], [1.0, 0.75, 0.0], [1, 2, 0])
    """
    g = _geoms(parcels)
    z = _geoms(zones)
    ids = np.asarray(zones[id_column].astype(str).to_numpy(), dtype=object)
    n = len(g)
    zone = np.full(n, None, dtype=object)
    share = np.zeros(n)
    inside = np.zeros(n)
    n_zones = np.zeros(n, dtype=int)
    ok = np.flatnonzero(pd.notna(g))
    ok = ok[~shapely.is_empty(g[ok])]
    if len(ok) and len(z):
        tiles, codes = tile_zones(z, ids, ZONE_TILE_DEG)
        pa = np.asarray(shapely.area(g[ok]), dtype="float64")
        pieces = split_by_zones(g[ok], pa, tiles, codes, outside=None)
        df = pd.DataFrame({"p": pieces.parcel, "z": pieces.region, "a": pieces.area})
        df = df.groupby(["p", "z"], sort=False)["a"].sum().reset_index()
        whole = pa[df["p"].to_numpy()]
        df["f"] = np.divide(df["a"].to_numpy(), whole, out=np.zeros(len(df)), where=whole > 0)
        df = df[df["f"] > 1e-9]
        best = df.sort_values(["p", "f"], ascending=[True, False], kind="stable").drop_duplicates("p")
        at = ok[best["p"].to_numpy()]
        zone[at] = best["z"].to_numpy()
        share[at] = np.minimum(best["f"].to_numpy(), 1.0)
        sums = df.groupby("p")["f"].agg(["sum", "size"])
        inside[ok[sums.index.to_numpy()]] = np.minimum(sums["sum"].to_numpy(), 1.0)
        n_zones[ok[sums.index.to_numpy()]] = sums["size"].to_numpy()
    return pd.DataFrame({"zone": pd.Series(zone, dtype=object, index=parcels.index), "share": share,
                         "inside": inside, "n_zones": n_zones}, index=parcels.index)


def area_gap(declared: Any, computed: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(declared − computed) / computed, NaN where either is missing or computed is 0.

    >>> area_gap([110.0, None, 5.0], [100.0, 50.0, 0.0]).round(3).tolist()
    [0.1, nan, nan]
    """
    dec = pd.to_numeric(pd.Series(declared, dtype=object), errors="coerce").to_numpy(dtype="float64")
    comp = np.asarray(computed, dtype="float64")
    gap: npt.NDArray[np.float64] = np.divide(dec - comp, comp, out=np.full(len(comp), np.nan),
                                             where=np.isfinite(dec) & (comp > 0))
    return gap


def find_overlaps(parcels: gpd.GeoDataFrame, *, code_column: str = "project_code", category_column: str = "category",
                  min_mu: float = 0.01) -> pd.DataFrame:
    """Pairs of parcels whose interiors overlap by more than ``min_mu`` 亩.

    Returns
    -------
    DataFrame
        ``code_a, code_b, category_a, category_b, same_category, overlap_mu,
        share_a, share_b`` (overlap as a share of each parcel's area) and
        ``geometry`` (the overlap), one row per pair (a before b in input order).
    """
    g = _geoms(parcels)
    cols = ["code_a", "code_b", "category_a", "category_b", "same_category", "overlap_mu", "share_a", "share_b",
            "geometry"]
    if len(g) < 2:
        return pd.DataFrame(columns=cols)
    a, b = overlap_pairs(g)
    inter = shapely.intersection(g[a], g[b])
    inter = np.array([polygonal(x) for x in inter], dtype=object)
    ok = np.array([x is not None for x in inter], dtype=bool)
    a, b, inter = a[ok], b[ok], inter[ok]
    mu = area_mu(inter, crs=CGCS2000) if len(inter) else np.zeros(0)
    big = mu > min_mu
    a, b, inter, mu = a[big], b[big], inter[big], mu[big]
    area_all = area_mu(g[np.unique(np.r_[a, b])], crs=CGCS2000) if len(a) else np.zeros(0)
    lookup = dict(zip(np.unique(np.r_[a, b]).tolist(), area_all.tolist(), strict=True))
    aa = np.array([lookup[i] for i in a]) if len(a) else np.zeros(0)
    ab = np.array([lookup[i] for i in b]) if len(b) else np.zeros(0)
    codes = parcels[code_column].astype(str).to_numpy() if code_column in parcels else np.arange(len(g)).astype(str)
    cats = parcels[category_column].astype(str).to_numpy() if category_column in parcels else np.full(len(g), "")
    return pd.DataFrame({
        "code_a": codes[a], "code_b": codes[b], "category_a": cats[a], "category_b": cats[b],
        "same_category": cats[a] == cats[b], "overlap_mu": mu,
        "share_a": np.divide(mu, aa, out=np.zeros_like(mu), where=aa > 0),
        "share_b": np.divide(mu, ab, out=np.zeros_like(mu), where=ab > 0),
        "geometry": inter,
    }, columns=cols)


def find_slivers(parcels: gpd.GeoDataFrame, *, max_mu: float = SLIVER_MU, code_column: str = "project_code") -> pd.DataFrame:
    """Parcels smaller than ``max_mu`` 亩: ``project_code, area_mu, geometry``."""
    g = _geoms(parcels)
    mu = area_mu(g, crs=CGCS2000) if len(g) else np.zeros(0)
    small = mu < max_mu
    return pd.DataFrame({"project_code": parcels[code_column].astype(str).to_numpy()[small],
                         "area_mu": mu[small], "geometry": g[small]}, index=parcels.index[small])


def find_area_mismatches(parcels: gpd.GeoDataFrame, *, tolerance: float = AREA_TOLERANCE, declared_column: str = "declared_area_mu",
                         code_column: str = "project_code") -> pd.DataFrame:
    """Parcels whose declared area differs from the computed one by more than ``tolerance``.

    Returns ``project_code, declared_area_mu, area_mu, difference_pct, geometry``;
    the difference is relative to the computed area.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> p = gpd.GeoDataFrame({"project_code": ["A", "B"], "declared_area_mu": [1400.0, 1300.0]},
    ...     geometry=[box(122.0, 45.0, 122.01, 45.01)] * 2, crs="EPSG:4490")
    >>> find_area_mismatches(p)[["project_code", "difference_pct"]].round(1).values.tolist()
    [['A', 6.5]]
    """
    g = _geoms(parcels)
    mu = area_mu(g, crs=CGCS2000) if len(g) else np.zeros(0)
    declared = pd.to_numeric(parcels[declared_column], errors="coerce").to_numpy(dtype="float64") \
        if declared_column in parcels else np.full(len(g), np.nan)
    rel = area_gap(declared, mu)
    bad = np.isfinite(rel) & (np.abs(rel) > tolerance)
    return pd.DataFrame({"project_code": parcels[code_column].astype(str).to_numpy()[bad],
                         "declared_area_mu": declared[bad], "area_mu": mu[bad], "difference_pct": rel[bad] * 100,
                         "geometry": g[bad]}, index=parcels.index[bad])


def find_straddles(parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, *, id_column: str = "county_code", code_column: str = "project_code",
                   min_share: float = STRADDLE_SHARE) -> pd.DataFrame:
    """Parcels with more than ``min_share`` of their area outside their main zone.

    Returns ``project_code, county_code`` (the main zone), ``share`` (in it),
    ``outside_share`` (outside every zone), ``n_zones``, ``geometry``.
    """
    s = largest_share(parcels, zones, id_column)
    bad = (1 - s["share"]) > min_share
    g = _geoms(parcels)
    return pd.DataFrame({
        "project_code": parcels[code_column].astype(str).to_numpy()[bad.to_numpy()],
        "county_code": s.loc[bad, "zone"].to_numpy(), "share": s.loc[bad, "share"].to_numpy(),
        "outside_share": 1 - s.loc[bad, "inside"].to_numpy(), "n_zones": s.loc[bad, "n_zones"].to_numpy(),
        "geometry": g[bad.to_numpy()],
    }, index=parcels.index[bad.to_numpy()])
