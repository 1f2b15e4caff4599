"""Polygons split by zones (counties): the one overlay of the package.

Each zone is cut into square tiles (:func:`tile_zones`) so that cutting a parcel by a tile
stays small, then one STRtree query finds every (parcel, tile) pair; a parcel properly
inside its tile is kept whole and only the others are intersected (:func:`split_by_zones`).
What lies outside every zone is one more piece per parcel, marked :data:`OUTSIDE`.

It works in the coordinates it is given: :mod:`gis.tracking` splits in EPSG:4550 metres
with ellipsoidal areas (the progress of a target per county), :func:`gis.quality.largest_share`
in EPSG:4490 degrees with planar areas, whose ratios within one parcel are all it needs.

Examples
--------
>>> import shapely
>>> zones, codes = tile_zones(np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)]),
...                           np.array(["a", "b"], dtype=object), tile=5.0)
>>> len(zones), sorted(set(codes))
(8, ['a', 'b'])
>>> parcels = np.array([shapely.box(1, 1, 2, 2), shapely.box(9, 1, 11, 2), shapely.box(19, 1, 22, 2)])
>>> p = split_by_zones(parcels, shapely.area(parcels), zones, codes)
>>> sorted(zip(p.parcel.tolist(), p.region.tolist(), p.area.round(3).tolist()))
[(0, 'a', 1.0), (1, 'a', 1.0), (1, 'b', 1.0), (2, 'b', 1.0), (2, 'outside', 2.0)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

if TYPE_CHECKING:
    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry

__all__ = ["OUTSIDE", "Pieces", "tile_zones", "split_by_zones", "split_frame", "polygonal", "overlap_pairs",
           "union_by_group"]

OUTSIDE = "outside"
"""Default region of the part of a parcel that lies in no zone."""

Geoms = npt.NDArray[np.object_]
Areas = Callable[[Geoms], npt.NDArray[np.float64]]


def _planar_area(geoms: Geoms) -> npt.NDArray[np.float64]:
    return np.asarray(shapely.area(geoms), dtype="float64")


@dataclass
class Pieces:
    """The parts of the parcels, one per (parcel, zone) and one for the rest outside."""

    geom: Geoms
    parcel: npt.NDArray[np.intp]  # index into the parcel arrays
    region: Geoms  # zone code, or the ``outside`` marker
    area: npt.NDArray[np.float64]  # in the unit of the area function given
    regions: list[str] = field(default_factory=list)  # all region codes, in order
    region_idx: npt.NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    """Index of each piece's region in ``regions`` (set by :meth:`index_regions`)."""

    def index_regions(self, regions: list[str]) -> Pieces:
        """Number the regions in the order of ``regions`` (:attr:`region_idx`)."""
        self.regions = list(regions)
        self.region_idx = pd.Index(self.regions, dtype=object).get_indexer(
            pd.Index(self.region, dtype=object)).astype(int) if len(self.region) else np.zeros(0, int)
        return self


def tile_zones(zone_geoms: Geoms, codes: npt.NDArray[Any], tile: float) -> tuple[Geoms, Geoms]:
    """Cut each zone into square tiles of side ``tile`` (in the geometries' units); returns
    the tiles and the code of the zone of each. Empty zones are left out."""
    out_g, out_c = [], []
    for g, code in zip(zone_geoms, codes, strict=True):
        if g is None or shapely.is_empty(g):
            continue
        x0, y0, x1, y1 = shapely.bounds(g)
        nx = max(1, int(np.ceil((x1 - x0) / tile)))
        ny = max(1, int(np.ceil((y1 - y0) / tile)))
        if nx * ny == 1:
            out_g.append(np.array([g], dtype=object))
            out_c.append(np.array([code], dtype=object))
            continue
        gx, gy = np.meshgrid(x0 + np.arange(nx) * tile, y0 + np.arange(ny) * tile)
        gx, gy = gx.ravel(), gy.ravel()
        boxes = shapely.box(gx, gy, np.minimum(gx + tile, x1), np.minimum(gy + tile, y1))
        clipped = shapely.intersection(g, boxes)
        ok = ~shapely.is_empty(clipped) & (shapely.area(clipped) > 0)
        out_g.append(clipped[ok])
        out_c.append(np.full(int(ok.sum()), code, dtype=object))
    if not out_g:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=object)
    return np.concatenate(out_g), np.concatenate(out_c)


def split_by_zones(P: Geoms, parcel_area: npt.NDArray[np.float64], tiles: Geoms, tile_code: Geoms, *,
                   area: Areas = _planar_area, outside: str | None = OUTSIDE, rounding: float = 0.01,
                   zones: tuple[Geoms, Geoms] | None = None) -> Pieces:
    """The parcels ``P`` cut by the ``tiles`` of :func:`tile_zones`.

    ``parcel_area``: the area of each parcel as ``area`` measures it (a parcel kept whole
    keeps it); ``area``: measures the cut pieces (default planar, in the units of the
    geometries). A parcel properly inside one tile is kept whole; with ``zones`` (the zone
    geometries and codes the tiles were cut from), so is a parcel that crosses tile edges
    but lies properly inside one zone. The rest of a parcel outside every tile, when more
    than ``rounding`` (in that unit) and 1e-7 of the parcel, is one more piece in region
    ``outside``; with ``outside=None`` it is not computed. Pieces come by parcel.
    """
    n = len(P)
    if len(tiles) == 0 or n == 0:
        if outside is None:
            return Pieces(np.zeros(0, dtype=object), np.zeros(0, dtype=np.intp), np.zeros(0, dtype=object),
                          np.zeros(0, dtype="float64"))
        return Pieces(P.copy(), np.arange(n), np.full(n, outside, dtype=object), parcel_area.copy())
    shapely.prepare(tiles)
    pi, ti = shapely.STRtree(tiles).query(P)  # boxes first: most parcels lie inside one tile
    whole = _properly_inside(tiles, ti, P, pi)
    region = tile_code[ti]
    if zones is not None:
        pi, ti, region, whole = _whole_in_zone(P, (pi, ti, region, whole), zones)
    meets = whole.copy()
    meets[~whole] = shapely.intersects(tiles[ti[~whole]], P[pi[~whole]])
    pi, ti, whole, region = pi[meets], ti[meets], whole[meets], region[meets]
    geom = np.empty(len(pi), dtype=object)
    cut_area = np.empty(len(pi), dtype="float64")
    geom[whole] = P[pi[whole]]
    cut_area[whole] = parcel_area[pi[whole]]
    cut = ~whole
    if cut.any():
        geom[cut] = shapely.intersection(P[pi[cut]], tiles[ti[cut]])
        cut_area[cut] = area(geom[cut])
    keep = cut_area > 0
    pi, region, geom, cut_area = pi[keep], region[keep], geom[keep], cut_area[keep]
    if outside is None:
        return Pieces(geom=geom, parcel=pi, region=region, area=cut_area)
    extra_i, extra_g, extra_a = _outside(P, parcel_area, pi, geom, cut_area, area=area, rounding=rounding)
    return Pieces(
        geom=np.concatenate([geom, extra_g]) if len(extra_i) else geom,
        parcel=np.concatenate([pi, extra_i]),
        region=np.concatenate([region, np.full(len(extra_i), outside, dtype=object)]),
        area=np.concatenate([cut_area, extra_a]),
    )


def _properly_inside(tiles: Geoms, ti: npt.NDArray[np.intp], P: Geoms,
                     pi: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """``contains_properly(tiles[ti], P[pi])``; for a tile that is an axis-aligned
    rectangle (most are) from the bounds alone: strictly inside its box."""
    tb = shapely.bounds(tiles)
    box_area = (tb[:, 2] - tb[:, 0]) * (tb[:, 3] - tb[:, 1])
    rect = (shapely.get_num_coordinates(tiles) == 5) & (shapely.area(tiles) == box_area)
    by_box = rect[ti]
    inside = np.zeros(len(pi), dtype=bool)
    if by_box.any():
        b, pb = tb[ti[by_box]], shapely.bounds(P[pi[by_box]])
        inside[by_box] = (pb[:, 0] > b[:, 0]) & (pb[:, 1] > b[:, 1]) & (pb[:, 2] < b[:, 2]) & (pb[:, 3] < b[:, 3])
    other = ~by_box
    if other.any():
        inside[other] = shapely.contains_properly(tiles[ti[other]], P[pi[other]])
    return inside


_Pairs = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Geoms, npt.NDArray[np.bool_]]
"""(parcel, tile) pairs: parcel, tile, region code, parcel kept whole."""


def _whole_in_zone(P: Geoms, pairs: _Pairs, zones: tuple[Geoms, Geoms]) -> _Pairs:
    """The pairs, with each parcel that crosses tile edges but lies properly inside one
    zone (tested against the whole zone, prepared) made one whole pair; by parcel."""
    pi, ti, region, whole = pairs
    is_whole = np.zeros(len(P), dtype=bool)
    is_whole[pi[whole]] = True
    rest = np.unique(pi[~is_whole[pi]])
    if not len(rest):
        return pairs
    zone_geoms, zone_codes = zones
    shapely.prepare(zone_geoms)
    ri, zi = shapely.STRtree(zone_geoms).query(P[rest])
    ok = shapely.contains_properly(zone_geoms[zi], P[rest[ri]])
    found, zone = rest[ri[ok]], zi[ok]
    if not len(found):
        return pairs
    drop = np.isin(pi, found)
    pi = np.concatenate([pi[~drop], found])
    ti = np.concatenate([ti[~drop], np.full(len(found), -1, dtype=ti.dtype)])  # no tile: kept whole
    region = np.concatenate([region[~drop], zone_codes[zone]])
    whole = np.concatenate([whole[~drop], np.ones(len(found), dtype=bool)])
    order = np.argsort(pi, kind="stable")
    return pi[order], ti[order], region[order], whole[order]


def _outside(P: Geoms, parcel_area: npt.NDArray[np.float64], pi: npt.NDArray[np.intp], geom: Geoms,
             cut_area: npt.NDArray[np.float64], *, area: Areas,
             rounding: float) -> tuple[npt.NDArray[np.intp], Geoms, npt.NDArray[np.float64]]:
    """What is left of each parcel outside every tile (e.g. a parcel over the city boundary)."""
    inside = np.bincount(pi, weights=cut_area, minlength=len(P))
    tol = np.maximum(1e-7 * parcel_area, rounding)  # rounding of the intersections
    out_idx = np.flatnonzero(parcel_area - inside > tol)
    if not len(out_idx):
        return out_idx, np.zeros(0, dtype=object), np.zeros(0, dtype="float64")
    order = np.argsort(pi, kind="stable")
    starts = np.searchsorted(pi[order], out_idx, side="left")
    ends = np.searchsorted(pi[order], out_idx, side="right")
    rest = np.empty(len(out_idx), dtype=object)
    for n, (k, s, e) in enumerate(zip(out_idx, starts, ends, strict=True)):
        rest[n] = P[k] if e == s else shapely.difference(P[k], shapely.union_all(geom[order[s:e]]))
    return out_idx, rest, np.asarray(area(rest), dtype="float64")


def overlap_pairs(geoms: npt.ArrayLike, *,
                  candidates: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None = None,
                  ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Index pairs ``(a, b)``, ``a < b``, of geometries whose interiors intersect
    (touching edges or corners do not count).

    One STRtree query of the bounding boxes; the predicates then run only on the pairs
    ``a < b`` (not on each geometry with itself, nor on each pair twice). The pairs come
    in the order of the query: by ``a``. ``candidates``: pairs ``a < b`` to test instead
    of the query's (a superset of the overlapping ones, e.g. the pairs within a distance).

    Examples
    --------
    >>> g = np.array([shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3), shapely.box(2, 0, 3, 1)])
    >>> [x.tolist() for x in overlap_pairs(g)]  # the third only touches the other two
    [[0], [1]]
    """
    g = np.asarray(geoms, dtype=object)
    if len(g) < 2:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    if candidates is None:
        a, b = shapely.STRtree(g).query(g)
        keep = a < b
        a, b = a[keep], b[keep]
    else:
        a, b = candidates
    hit = shapely.intersects(g[a], g[b])
    a, b = a[hit], b[hit]
    inner = ~shapely.touches(g[a], g[b])
    return a[inner], b[inner]


def union_by_group(geoms: Geoms, group: npt.NDArray[np.intp]) -> tuple[npt.NDArray[np.intp], Geoms]:
    """The union of the geometries of each group: ``(groups, unions)``, groups ascending.

    Vectorised: each round unites neighbours within a group pairwise (one
    ``shapely.union`` call for all groups), so a group of ``k`` needs ``log2(k)`` rounds.

    >>> g = np.array([shapely.box(0, 0, 2, 2), shapely.box(5, 5, 6, 6), shapely.box(1, 0, 3, 2)])
    >>> keys, u = union_by_group(g, np.array([7, 3, 7]))
    >>> keys.tolist(), shapely.area(u).tolist()
    ([3, 7], [1.0, 6.0])
    """
    order = np.argsort(group, kind="stable")
    g, k = np.asarray(geoms, dtype=object)[order], np.asarray(group)[order]
    while len(k) > 1:
        same_next = np.zeros(len(k), dtype=bool)
        same_next[:-1] = k[:-1] == k[1:]
        if not same_next.any():
            break
        run_start = np.flatnonzero(np.r_[True, ~same_next[:-1]])
        rank = np.arange(len(k)) - np.repeat(run_start, np.diff(np.r_[run_start, len(k)]))
        lead = (rank % 2 == 0) & same_next
        g[lead] = shapely.union(g[lead], g[np.flatnonzero(lead) + 1])
        keep = rank % 2 == 0
        g, k = g[keep], k[keep]
    return k, g


def polygonal(g: BaseGeometry | None) -> BaseGeometry | None:
    """The polygonal part of ``g`` (the lines and points an intersection may add are
    dropped), or None when nothing of it is a polygon.

    >>> polygonal(shapely.box(0, 0, 1, 1).intersection(shapely.box(1, 0, 2, 1))) is None
    True
    """
    if g is None or g.is_empty:
        return None
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else None


def split_frame(gdf: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, code_column: str, *,
                tile: float) -> gpd.GeoDataFrame:
    """``gdf`` cut by ``zones`` as ``geopandas.overlay(how="intersection", keep_geom_type=True)``
    would cut it: one row per (row, zone) with the row's columns and the zone's
    ``code_column``; polygonal parts only. Both in one CRS; ``tile`` in its units.

    Examples
    --------
    >>> import geopandas as gpd
    >>> z = gpd.GeoDataFrame({"county_code": ["a", "b"]}, geometry=[shapely.box(0, 0, 10, 10),
    ...                      shapely.box(10, 0, 20, 10)], crs=4550)
    >>> g = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.box(8, 1, 12, 2)], crs=4550)
    >>> out = split_frame(g, z, "county_code", tile=5.0)
    >>> out["county_code"].tolist(), out.area.tolist()
    (['a', 'b'], [2.0, 2.0])
    """
    import geopandas as gpd

    z = np.asarray(zones.geometry.values, dtype=object)
    tiles, codes = tile_zones(z, zones[code_column].astype(str).to_numpy(dtype=object), tile)
    P = np.asarray(gdf.geometry.values, dtype=object)
    pieces = split_by_zones(P, np.asarray(shapely.area(P), dtype="float64"), tiles, codes, outside=None)
    part = pd.DataFrame({"p": pieces.parcel, "code": pieces.region, "g": pieces.geom})
    part = part.groupby(["p", "code"], sort=False)["g"].agg(lambda s: shapely.union_all(s.to_numpy()))
    part = part.reset_index()
    geoms = np.array([polygonal(g) for g in part["g"]], dtype=object)
    keep = np.array([g is not None for g in geoms], dtype=bool)
    out = gdf.drop(columns=gdf.geometry.name).iloc[part["p"].to_numpy()[keep]].reset_index(drop=True)
    out[code_column] = part["code"].to_numpy()[keep]
    return gpd.GeoDataFrame(out, geometry=geoms[keep], crs=gdf.crs)
