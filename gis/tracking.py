"""Progress against area targets, counted honestly: unions, county split, pace and flags.

For each area target of a :class:`~gis.targets.TargetSet` the achieved area is the
ellipsoidal (CGCS2000) area of the **union** of the counted parcels of that category and
year, so overlapping parcels never count twice. Parcels are split by county by
intersecting them with the county layer (a parcel across a border is split by area); land
outside the target's counties is shown as out of scope and land outside the city is never
counted. Under-construction and planned land is shown as *pipeline*: each figure is the
land it adds beyond the stages before it, so achieved + under construction + planned is
the union of all three.

How it is computed (vectorised shapely 2, no loop of parcels over parcels):

1. parcels and counties go to EPSG:4550 (Gauss-Krüger CM 123°E) for topology;
2. each county is cut into square tiles (``tile_m``) so that intersecting a parcel with
   its county touches a few hundred vertices, not the whole boundary; an STRtree of the
   tiles finds, for every parcel, the tiles it meets; parcels lying properly inside one
   tile are kept whole, only the others are intersected;
3. per target, an STRtree of its pieces finds the pairs whose interiors overlap; pieces
   in no such pair add their own area, the others are merged with ``union_all`` per
   county and stage;
4. every area is ellipsoidal, from :func:`gis.area.area_m2` (GRS80 = CGCS2000).

Examples
--------
>>> import geopandas as gpd, datetime as dt
>>> from shapely import box
>>> from gis.targets import parse_targets
>>> x0, y0 = 499_000, 5_050_000
>>> counties = gpd.GeoDataFrame({"county_code": ["220882"]},
...     geometry=[box(x0, y0, x0 + 4000, y0 + 4000)], crs="EPSG:4550").to_crs(4490)
>>> parcels = gpd.GeoDataFrame({
...     "project_code": ["A", "B"], "category": ["afforestation"] * 2, "year": [2024] * 2,
...     "status": ["completed", "accepted"]},
...     geometry=[box(x0, y0, x0 + 1000, y0 + 1000), box(x0 + 500, y0, x0 + 1500, y0 + 1000)],
...     crs="EPSG:4550").to_crs(4490)
>>> ts = parse_targets({"city": {"code": "220800", "name_zh": "白城市", "name_en": "Baicheng"},
...     "year": 2024, "targets": [{"key": "forest", "category": "afforestation",
...     "name_zh": "造林", "name_en": "Afforestation", "value": 3000, "unit": "mu"}]})
>>> res = progress(parcels, ts, counties, as_of=dt.date(2024, 12, 31))
>>> row = res.summary.iloc[0]
>>> print(f"{row.achieved_mu:.1f} 亩, {row.percent:.1f} %")  # 1.5 km² union, not 2 km²
2250.0 亩, 75.0 %
>>> res.flags.flag.tolist()
['double_declared']
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Callable

import numpy as np
import pandas as pd

from .area import area_m2
from .crs import GK_CM123
from .errors import ConfigError, InputError, MissingCRSError
from .quality import area_gap, overlap_pairs
from .targets import AreaTarget, TargetSet
from .units import convert, m2_to_mu, mu_to_wan_mu

log = logging.getLogger(__name__)

__all__ = ["progress", "Progress", "ProgressOptions", "OUTSIDE_CITY", "STAGES", "PIPELINE_STATUSES"]

GK = GK_CM123
OUTSIDE_CITY = "outside_city"
"""Region code of land that lies outside every county of the county layer."""
STAGES = ("achieved", "under_construction", "planned")
PIPELINE_STATUSES = {"under_construction": ("under_construction",), "planned": ("approved", "planned")}
"""Statuses of the two pipeline stages (minus any a target already counts as achieved)."""

REQUIRED = ("category", "year", "status")


@dataclass
class Progress:
    """The result of :func:`progress`: pandas DataFrames plus what they were computed from.

    Attributes
    ----------
    summary : one row per area target (目标、完成、在建、规划、完成率、剩余、进度).
    by_county : one row per area target and county (plus ``outside_city``), with ``in_scope``.
    counts : one row per count target (demonstration bases).
    sites : one row per contiguous site of a count target's category and year, largest
        first; ``counts_for`` lists the keys of the count targets it satisfies.
    flags : one row per problem found (double declared, in a reserve, outside the city,
        declared area far from the computed one, no geometry).
    baselines : results of the previous year stated in the report, with the registry's
        achieved area for the same category and year.
    not_tracked : targets that parcels cannot measure.
    """

    summary: pd.DataFrame
    by_county: pd.DataFrame
    counts: pd.DataFrame
    sites: pd.DataFrame
    flags: pd.DataFrame
    baselines: pd.DataFrame
    not_tracked: pd.DataFrame
    as_of: _dt.date
    targets: TargetSet
    info: dict[str, Any] = field(default_factory=dict)

    def _repr_html_(self) -> str:  # a notebook shows the summary table
        cols = ["name", "target_wan_mu", "achieved_wan_mu", "percent", "under_construction_wan_mu",
                "planned_wan_mu", "remaining_wan_mu", "pace", "status"]
        head = f"<p><b>{self.targets.city_name_en} {self.targets.year}</b>, as of {self.as_of.isoformat()}</p>"
        return head + self.summary[cols].to_html(index=False, float_format=lambda v: f"{v:,.2f}")

    def tables(self) -> dict[str, pd.DataFrame]:
        """The DataFrames by name, in reading order."""
        return {
            "summary": self.summary,
            "by_county": self.by_county,
            "counts": self.counts,
            "sites": self.sites,
            "flags": self.flags,
            "baselines": self.baselines,
            "not_tracked": self.not_tracked,
        }

    def county_shares(self) -> pd.DataFrame:
        """Per county and area target: achieved area as a share of the city-wide target (%).

        One row per (county, target): ``county_code, target, target_name,
        completion_pct, done_wan_mu, target_wan_mu``. A county outside a target's scope
        gets no percentage. This is what the progress map colours counties by.
        """
        bc = self.by_county[self.by_county["region"].astype(str) != OUTSIDE_CITY]
        b = bc.merge(self.summary[["key", "target_mu"]], on="key", how="left")
        in_scope = b["in_scope"].astype(bool) & (b["target_mu"] > 0)
        pct = (100.0 * b["achieved_mu"] / b["target_mu"]).where(in_scope)
        return pd.DataFrame({
            "county_code": b["region"].astype(str), "target": b["key"], "target_name": b["name"].astype(str),
            "completion_pct": pct.astype(object).where(pct.notna(), None),
            "done_wan_mu": mu_to_wan_mu(b["achieved_mu"]), "target_wan_mu": mu_to_wan_mu(b["target_mu"]),
        })


# ----------------------------------------------------------------------------- helpers


def _geoms(gs) -> np.ndarray:
    return np.asarray(gs.array if hasattr(gs, "array") else gs, dtype=object)


def _to_gk(gdf, what: str) -> np.ndarray:
    if gdf.crs is None:
        raise MissingCRSError(
            f"{what} has no CRS; set it first, e.g. gdf.set_crs('EPSG:4490') for lon/lat"
        )
    return _geoms(gdf.geometry.to_crs(GK))


def _area_gk(geoms) -> np.ndarray:
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return np.zeros(0)
    return np.asarray(area_m2(geoms, crs=GK), dtype="float64")


def _tiles(county_geoms: np.ndarray, codes: np.ndarray, tile_m: float):
    """Cut each county into square tiles so later intersections stay small."""
    import shapely

    out_g, out_c = [], []
    for g, code in zip(county_geoms, codes, strict=True):
        if g is None or shapely.is_empty(g):
            continue
        x0, y0, x1, y1 = shapely.bounds(g)
        nx = max(1, int(np.ceil((x1 - x0) / tile_m)))
        ny = max(1, int(np.ceil((y1 - y0) / tile_m)))
        if nx * ny == 1:
            out_g.append(np.array([g], dtype=object))
            out_c.append(np.array([code], dtype=object))
            continue
        xs = x0 + np.arange(nx) * tile_m
        ys = y0 + np.arange(ny) * tile_m
        gx, gy = np.meshgrid(xs, ys)
        gx, gy = gx.ravel(), gy.ravel()
        boxes = shapely.box(gx, gy, np.minimum(gx + tile_m, x1), np.minimum(gy + tile_m, y1))
        clipped = shapely.intersection(g, boxes)
        ok = ~shapely.is_empty(clipped) & (shapely.area(clipped) > 0)
        out_g.append(clipped[ok])
        out_c.append(np.full(int(ok.sum()), code, dtype=object))
    if not out_g:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=object)
    return np.concatenate(out_g), np.concatenate(out_c)


@dataclass
class _Pieces:
    geom: np.ndarray  # EPSG:4550
    parcel: np.ndarray  # index into the parcel arrays
    region: np.ndarray  # county code or OUTSIDE_CITY
    area: np.ndarray  # ellipsoidal m²
    regions: list = field(default_factory=list)  # all region codes, in order
    region_idx: np.ndarray = None  # index of each piece's region in ``regions``

    def index_regions(self, regions: list[str]) -> "_Pieces":
        self.regions = list(regions)
        self.region_idx = pd.Index(self.regions, dtype=object).get_indexer(
            pd.Index(self.region, dtype=object)).astype(int) if len(self.region) else np.zeros(0, int)
        return self


def _split_by_county(P: np.ndarray, parcel_area: np.ndarray, tiles: np.ndarray, tile_code: np.ndarray) -> _Pieces:
    import shapely

    n = len(P)
    if len(tiles) == 0 or n == 0:
        return _Pieces(P.copy(), np.arange(n), np.full(n, OUTSIDE_CITY, dtype=object), parcel_area.copy())
    shapely.prepare(tiles)
    tree = shapely.STRtree(tiles)
    pi, ti = tree.query(P, predicate="intersects")
    whole = shapely.contains_properly(tiles[ti], P[pi])
    geom = np.empty(len(pi), dtype=object)
    area = np.empty(len(pi), dtype="float64")
    geom[whole] = P[pi[whole]]
    area[whole] = parcel_area[pi[whole]]
    cut = ~whole
    if cut.any():
        geom[cut] = shapely.intersection(P[pi[cut]], tiles[ti[cut]])
        area[cut] = _area_gk(geom[cut])
    keep = area > 0
    pi, ti, geom, area = pi[keep], ti[keep], geom[keep], area[keep]
    inside = np.bincount(pi, weights=area, minlength=n)
    outside = parcel_area - inside
    # what is left outside every county (e.g. a parcel over the city boundary)
    tol = np.maximum(1e-7 * parcel_area, 0.01)  # m²: rounding of the intersections
    out_idx = np.flatnonzero(outside > tol)
    extra_g, extra_a = [], []
    if len(out_idx):
        order = np.argsort(pi, kind="stable")
        starts = np.searchsorted(pi[order], out_idx, side="left")
        ends = np.searchsorted(pi[order], out_idx, side="right")
        for k, s, e in zip(out_idx, starts, ends, strict=True):
            inner = geom[order[s:e]]
            g = P[k] if e == s else shapely.difference(P[k], shapely.union_all(inner))
            extra_g.append(g)
        extra_a = _area_gk(extra_g)
    geoms = np.concatenate([geom, np.array(extra_g, dtype=object)]) if len(out_idx) else geom
    return _Pieces(
        geom=geoms,
        parcel=np.concatenate([pi, out_idx]),
        region=np.concatenate([tile_code[ti], np.full(len(out_idx), OUTSIDE_CITY, dtype=object)]),
        area=np.concatenate([area, np.asarray(extra_a, dtype="float64")]),
    )


def _status(achieved: float, target: float, comparator: str, tol: float) -> str:
    if comparator == "exactly" and achieved > target * (1 + tol):
        return "exceeded"
    return "met" if achieved >= target * (1 - tol) else "not_met"


class _Coded:
    """A string column as integer codes, for fast repeated selections."""

    def __init__(self, values: np.ndarray):
        self.codes, self.uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        self.pos = {v: i for i, v in enumerate(self.uniques)}

    def take(self, rows: np.ndarray) -> "_Coded":
        out = object.__new__(_Coded)
        out.codes, out.uniques, out.pos = self.codes[rows], self.uniques, self.pos
        return out

    def isin(self, values) -> np.ndarray:
        lut = np.zeros(len(self.uniques) + 1, dtype=bool)  # last slot: missing (-1)
        for v in values:
            if v in self.pos:
                lut[self.pos[v]] = True
        return lut[self.codes]

    def eq(self, value) -> np.ndarray:
        return self.codes == self.pos.get(value, -2)


def _stage_of(statuses: "_Coded", achieved: tuple[str, ...]) -> np.ndarray:
    """0 achieved, 1 under construction, 2 planned, -1 not counted at all."""
    lut = np.full(len(statuses.uniques) + 1, -1, dtype=int)
    for lv, names in ((2, PIPELINE_STATUSES["planned"]), (1, PIPELINE_STATUSES["under_construction"]), (0, achieved)):
        for v in names:
            if v in statuses.pos:
                lut[statuses.pos[v]] = lv
    return lut[statuses.codes]


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` items linked by the pairs (a, b)."""
    if not len(a):
        return np.arange(n)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _cum_union(g, ar, st, grp, n_grp, a, b, touching_same_group: bool = False) -> np.ndarray:
    """Union area (m²) per group and cumulative stage (≤ 0, ≤ 1, ≤ 2): array (n_grp, 3).

    ``a, b`` are the pairs of pieces whose interiors overlap (always within one group).
    Pieces that overlap nothing add their own area; overlapping pairs that form a
    component of two add ``a + b − a∩b`` (one vectorised intersection); only larger
    components are merged with ``union_all``. With ``touching_same_group`` (sites: pieces
    that touch are in one group by construction) one union serves all groups, otherwise
    one per group and stage.
    """
    import shapely

    out = np.zeros((n_grp, 3))
    n = len(g)
    if n == 0:
        return out
    comp = _components(n, a, b)
    csize = np.bincount(comp)[comp]
    lone = csize == 1
    for lv in range(3):
        m = lone & (st <= lv)
        out[:, lv] += np.bincount(grp[m], weights=ar[m], minlength=n_grp)
    pair = csize[a] == 2
    if pair.any():
        pa, pb = a[pair], b[pair]
        ov = _area_gk(shapely.intersection(g[pa], g[pb]))
        for lv in range(3):
            ia, ib = st[pa] <= lv, st[pb] <= lv
            val = np.where(ia, ar[pa], 0.0) + np.where(ib, ar[pb], 0.0) - np.where(ia & ib, ov, 0.0)
            out[:, lv] += np.bincount(grp[pa], weights=val, minlength=n_grp)
    big = csize >= 3
    if big.any():
        if touching_same_group:
            big_idx = np.flatnonzero(big)
            tree = shapely.STRtree(g[big_idx])
            for lv in range(3):
                m = big & (st <= lv)
                if not m.any():
                    continue
                parts = shapely.get_parts(shapely.union_all(g[m]))
                hit, piece = tree.query(shapely.point_on_surface(parts), predicate="intersects")
                first = np.unique(hit, return_index=True)[1]
                hit, piece = hit[first], big_idx[piece[first]]
                out[:, lv] += np.bincount(grp[piece], weights=_area_gk(parts[hit]), minlength=n_grp)
        else:
            merged, where = [], []
            for gi in np.unique(grp[big]):
                for lv in range(3):
                    m = big & (grp == gi) & (st <= lv)
                    if m.any():
                        merged.append(shapely.union_all(g[m]))
                        where.append((gi, lv))
            for (gi, lv), v in zip(where, _area_gk(merged), strict=True):
                out[gi, lv] += v
    return out


def _stage_areas(pieces: _Pieces, sel: np.ndarray, stage: np.ndarray, regions: list[str]):
    """Per region: union area (m²) of stage ≤ 0, ≤ 1, ≤ 2, from the selected pieces."""
    g, st = pieces.geom[sel], stage[sel]
    a, b = overlap_pairs(g)
    grp = pieces.region_idx[sel]
    same = grp[a] == grp[b]  # pieces of two counties can only meet in rounding slivers
    a, b = a[same], b[same]
    out = _cum_union(g, pieces.area[sel], st, grp, len(pieces.regions), a, b)
    pos = {r: i for i, r in enumerate(pieces.regions)}
    return {r: out[pos[r]].tolist() for r in regions}, len(a)


def _sites(geoms: np.ndarray, areas: np.ndarray, gap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Group pieces into sites (pieces closer than ``gap_m`` belong together).

    Returns the site number of each piece and the area of each site in 亩 (the union of
    its pieces: the gaps between them are not counted).
    """
    import shapely

    n = len(geoms)
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros(0)
    tree = shapely.STRtree(geoms)
    na, nb = tree.query(geoms, predicate="dwithin", distance=max(gap_m, 1e-6))
    keep = na < nb
    member = _components(n, na[keep], nb[keep])
    member = np.unique(member, return_inverse=True)[1]
    a, b = overlap_pairs(geoms)
    out = _cum_union(geoms, areas, np.zeros(n, dtype=int), member, int(member.max()) + 1, a, b,
                     touching_same_group=True)
    return member, m2_to_mu(out[:, 0])


def _site_rows(cached, t, pieces: _Pieces, codes, idx) -> list[dict]:
    """One row per site, largest first: area, main county, member projects."""
    member, s_area, m, _ = cached
    if not len(s_area):
        return []
    sel_idx = np.flatnonzero(m)
    pdf = pd.DataFrame({"site": member, "region": pieces.region[sel_idx], "a": pieces.area[sel_idx],
                        "code": codes[idx[pieces.parcel[sel_idx]]]})
    main_region = pdf.groupby(["site", "region"]).a.sum().reset_index().sort_values("a").groupby("site").region.last()
    main_region = main_region.to_dict()
    members = _site_members(member, pdf["code"].to_numpy(dtype=object))
    rows = []
    for n_, k in enumerate(np.argsort(-s_area, kind="stable"), start=1):
        rows.append({"category": t.category, "year": t.year, "site": n_, "area_mu": float(s_area[k]),
                     "counts_for": "", "region": main_region.get(k, OUTSIDE_CITY),
                     "project_codes": members.get(k, ""), "_site": int(k)})
    return rows


def _site_members(site: np.ndarray, code: np.ndarray) -> dict:
    """Each site's distinct project codes, sorted and comma-joined (one sort, no per-site set)."""
    if not len(site):
        return {}
    pairs = pd.DataFrame({"s": site, "c": code}).drop_duplicates()
    order = np.lexsort((pairs["c"].to_numpy(dtype=str), pairs["s"].to_numpy()))
    s, c = pairs["s"].to_numpy()[order], pairs["c"].to_numpy(dtype=object)[order].tolist()
    cuts = np.flatnonzero(np.diff(s)) + 1
    starts, ends = np.concatenate([[0], cuts]).tolist(), np.concatenate([cuts, [len(s)]]).tolist()
    return {int(s[a]): ",".join(c[a:b]) for a, b in zip(starts, ends, strict=True)}


# ------------------------------------------------------------------------------ engine


def as_date(as_of: _dt.date | str | None) -> _dt.date:
    """The reporting date: today for None, a date from ``YYYY-MM-DD``.

    >>> as_date("2024-06-30"), as_date(_dt.datetime(2024, 6, 30, 12))
    (datetime.date(2024, 6, 30), datetime.date(2024, 6, 30))
    """
    if as_of is None:
        return _dt.date.today()
    if isinstance(as_of, _dt.datetime):
        return as_of.date()
    if isinstance(as_of, str):
        try:
            return _dt.date.fromisoformat(as_of)
        except ValueError as exc:
            raise InputError.of("error.as_of", value=as_of) from exc
    return as_of


@dataclass(frozen=True)
class ProgressOptions:
    """The settings of :func:`progress` by name: which targets, which language, flags, engine.

    Build one in a notebook and pass it as ``options=``; any field can also be passed to
    :func:`progress` as a keyword, which overrides the same field of ``options``.

    Attributes
    ----------
    year : int, optional
        Only the targets of this year (default: all targets of the file).
    lang : ``"zh"`` or ``"en"``
        Language of the ``name`` columns.
    gap_tolerance : float
        Declared vs computed area: flag when they differ by more than this fraction.
    min_flag_mu : float
        Overlaps, reserve and outside-city areas below this many 亩 are not flagged
        (digitising slivers). Areas are always counted exactly.
    site_gap_m : float
        Count targets: parcels less than this far apart (field roads, ditches) form one
        site; a site's area is the union of its parcels, gaps excluded.
    tile_m : float
        Tile size (m) used to cut counties for fast intersections.
    workers : int
        Threads for the independent targets and the flags (shapely releases the GIL).

    Examples
    --------
    >>> opts = ProgressOptions(year=2024, lang="en", min_flag_mu=5.0)
    >>> opts.min_flag_mu, opts.site_gap_m, opts.workers
    (5.0, 10.0, 2)
    """

    year: int | None = None
    lang: str = "zh"
    gap_tolerance: float = 0.05
    min_flag_mu: float = 1.0
    site_gap_m: float = 10.0
    tile_m: float = 10_000.0
    workers: int = 2


def progress(
    parcels,
    targets: TargetSet,
    counties,
    as_of: _dt.date | str | None = None,
    protected_areas=None,
    options: ProgressOptions | None = None,
    **settings: Any,
) -> Progress:
    """Progress of the registry's parcels against every target of ``targets``.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Project parcels with at least ``category``, ``year``, ``status`` and a geometry
        with a CRS (the registry's ``projects()``); ``project_code``,
        ``declared_area_mu`` and ``batch_id`` are used when present.
    targets : gis.targets.TargetSet
        From ``workflows.targets.load_targets()`` or :func:`gis.targets.parse_targets`.
    counties : geopandas.GeoDataFrame
        County polygons with ``county_code`` (``layers.load("counties")``).
    as_of : date or ISO string, optional
        Date for the pace (default: today). The registry's current state is counted.
    protected_areas : geopandas.GeoDataFrame, optional
        Nature reserves; parcels overlapping them by ``min_flag_mu`` or more are flagged.
    options : ProgressOptions, optional
        ``year``, ``lang``, ``gap_tolerance``, ``min_flag_mu``, ``site_gap_m``,
        ``tile_m``, ``workers`` (see :class:`ProgressOptions`).
    **settings
        Any field of :class:`ProgressOptions` (``year=2024, lang="en"``), over ``options``.

    Returns
    -------
    Progress
        DataFrames ``summary``, ``by_county``, ``counts``, ``sites``, ``flags``, ``baselines``,
        ``not_tracked``. Areas are in 亩 (``*_mu``) and 万亩 (``*_wan_mu``).

    Raises
    ------
    InputError
        A required column is missing.
    MissingCRSError
        Parcels, counties or protected areas have no CRS.
    ConfigError
        A target's scope names a county that the county layer lacks.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from gis.targets import parse_targets
    >>> counties = gpd.GeoDataFrame({"county_code": ["220882"]},
    ...     geometry=[shapely.box(499_000, 5_050_000, 503_000, 5_054_000)], crs="EPSG:4550")
    >>> parcels = gpd.GeoDataFrame({"category": ["afforestation"], "year": [2024],
    ...     "status": ["completed"]}, geometry=[shapely.box(499_000, 5_050_000, 500_000, 5_051_000)],
    ...     crs="EPSG:4550")
    >>> ts = parse_targets({"city": {"code": "220800", "name_zh": "白城市", "name_en": "Baicheng"},
    ...     "year": 2024, "targets": [{"key": "forest", "category": "afforestation",
    ...     "name_zh": "造林", "name_en": "Afforestation", "value": 3000, "unit": "mu"}]})
    >>> a = progress(parcels, ts, counties, as_of="2024-12-31", options=ProgressOptions(lang="en"))
    >>> b = progress(parcels, ts, counties, as_of="2024-12-31", lang="en")
    >>> print(a.summary.loc[0, "name"], f"{a.summary.loc[0, 'achieved_mu']:.1f}", a.summary.equals(b.summary))
    Afforestation 1500.0 True
    """
    opts = replace(options or ProgressOptions(), **settings)
    if opts.year is not None:
        targets = targets.for_year(opts.year)
    as_of = as_date(as_of)
    county_codes = _check_inputs(parcels, targets, counties)
    parcels = parcels.reset_index(drop=True)
    reg = _Registry.of(parcels)
    used = _used_parcels(parcels, reg, targets)
    pieces = _county_pieces(used, counties, county_codes, opts.tile_m)
    view = _PieceView.of(pieces, used.idx, reg, county_codes)
    flags = partial(_flags, parcels, reg, used, pieces, protected_areas, opts)
    (summary, by_county), n_pairs, flags_df = _run_area_targets(targets.area_targets, view, as_of, opts, flags)
    counts, sites = _count_targets(targets.count_targets, view, reg.codes, used.idx, opts.lang, opts.site_gap_m)
    baselines = _baselines(targets.baselines, view, opts.lang)
    not_tracked = _not_tracked(targets, opts.lang)
    info = _info(parcels, used, pieces, n_pairs, opts.lang)
    return Progress(summary, by_county, counts, sites, flags_df, baselines, not_tracked, as_of, targets, info)


# ------------------------------------------------------------------- the steps of progress


def _check_inputs(parcels, targets: TargetSet, counties) -> list[str]:
    """Required columns and target scopes; returns the county codes of the county layer."""
    missing = [c for c in REQUIRED if c not in parcels.columns]
    if missing:
        raise InputError(
            f"parcels lack the column(s) {', '.join(missing)}; progress needs "
            f"{', '.join(REQUIRED)} (the registry's projects() has them)"
        )
    if "county_code" not in counties.columns:
        raise InputError("the county layer lacks the column county_code (GB/T 2260 codes)")
    county_codes = [str(c) for c in counties["county_code"]]
    for t in (*targets.area_targets, *targets.count_targets):
        for code in t.scope or ():
            if code not in county_codes:
                raise ConfigError(
                    f"{targets.origin}: target {t.key!r}: scope county {code} is not in the county "
                    f"layer (it has {', '.join(county_codes)}); fix the scope or the county layer"
                )
    return county_codes


@dataclass(frozen=True)
class _Registry:
    """The parcel columns progress reads, as arrays (one row per parcel of the table)."""

    codes: np.ndarray
    category: np.ndarray
    status: np.ndarray
    year: np.ndarray  # float64, NaN where missing
    no_geom: np.ndarray

    @classmethod
    def of(cls, parcels) -> "_Registry":
        """The arrays of a parcel table with a fresh 0..n-1 index."""
        geo = parcels.geometry
        codes = (
            parcels["project_code"].astype(str).to_numpy()
            if "project_code" in parcels.columns
            else np.array([f"#{i}" for i in range(len(parcels))], dtype=object)
        )
        return cls(
            codes=codes,
            category=parcels["category"].astype(str).to_numpy(),
            status=parcels["status"].astype(str).to_numpy(),
            year=pd.to_numeric(parcels["year"], errors="coerce").astype("float64").to_numpy(),
            no_geom=(geo.isna() | geo.is_empty).to_numpy(),
        )


@dataclass(frozen=True)
class _Used:
    """The parcels of a category some target counts: EPSG:4550, valid, ellipsoidal m²."""

    idx: np.ndarray  # rows of the parcel table
    geom: np.ndarray
    area: np.ndarray


def _used_parcels(parcels, reg: _Registry, targets: TargetSet) -> _Used:
    """Select the parcels with a geometry and a wanted category; reproject them once."""
    import shapely

    wanted = {t.category for t in (*targets.area_targets, *targets.count_targets, *targets.baselines)}
    idx = np.flatnonzero(_Coded(reg.category).isin(wanted) & ~reg.no_geom)
    if not len(idx):
        return _Used(idx, np.zeros(0, dtype=object), _area_gk(np.zeros(0, dtype=object)))
    P = _to_gk(parcels.geometry.iloc[idx], "the parcels")  # the geometry only: no copy of the table
    P = shapely.make_valid(P) if not shapely.is_valid(P).all() else P
    return _Used(idx, P, _area_gk(P))


def _county_pieces(used: _Used, counties, county_codes: list[str], tile_m: float) -> _Pieces:
    """Split the used parcels by county (tiled counties in EPSG:4550)."""
    C = _to_gk(counties, "the county layer")
    tiles, tile_code = _tiles(C, np.array(county_codes, dtype=object), tile_m)
    pieces = _split_by_county(used.geom, used.area, tiles, tile_code)
    return pieces.index_regions(county_codes + [OUTSIDE_CITY])


@dataclass(frozen=True)
class _PieceView:
    """The pieces with their parcel's category, year and status, for selecting per target."""

    pieces: _Pieces
    cat: _Coded
    year: np.ndarray
    status: _Coded
    county_codes: list[str]
    region_pos: dict[str, int]

    @classmethod
    def of(cls, pieces: _Pieces, idx: np.ndarray, reg: _Registry, county_codes: list[str]) -> "_PieceView":
        """Look up each piece's parcel attributes once."""
        glob = idx[pieces.parcel] if len(idx) else pieces.parcel
        return cls(
            pieces=pieces,
            cat=_Coded(reg.category).take(glob),
            year=reg.year[glob] if len(pieces.parcel) else np.zeros(0),
            status=_Coded(reg.status).take(glob),
            county_codes=county_codes,
            region_pos={r: i for i, r in enumerate(pieces.regions)},
        )

    @property
    def regions_all(self) -> list[str]:
        """The county codes and, last, :data:`OUTSIDE_CITY`."""
        return self.county_codes + [OUTSIDE_CITY]

    def in_regions(self, codes: list[str]) -> np.ndarray:
        """Pieces in one of the regions ``codes``."""
        return np.isin(self.pieces.region_idx, [self.region_pos[c] for c in codes])

    def select(self, t, stock: bool) -> np.ndarray:
        """Pieces of the target's category and year (with ``stock``: that year or before)."""
        yr_ok = self.year <= t.year if stock else self.year == t.year
        return self.cat.eq(t.category) & yr_ok


def _run_area_targets(area_targets, view: _PieceView, as_of: _dt.date, opts: ProgressOptions,
                      flags: Callable[[], pd.DataFrame]):
    """The area targets and the flags on ``opts.workers`` threads (shapely releases the GIL).

    Returns ``((summary, by_county), number of overlap pairs, flags)``.
    """
    from concurrent.futures import ThreadPoolExecutor

    summary_rows, county_rows, n_pairs_total = [], [], 0
    with ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:
        flags_job = pool.submit(flags)
        for srow, crows, n_pairs in pool.map(lambda t: _area_target(t, view, as_of, opts.lang), area_targets):
            summary_rows.append(srow)
            county_rows.extend(crows)
            n_pairs_total += n_pairs
        flags_df = flags_job.result()
    return _area_tables(summary_rows, county_rows), n_pairs_total, flags_df


def _area_target(t: AreaTarget, view: _PieceView, as_of: _dt.date, lang: str):
    """One area target: union per county and stage, the county rows and the summary row."""
    stage = _stage_of(view.status, t.achieved_statuses)
    sel = view.select(t, t.comparator == "keep_stable") & (stage >= 0)
    scope = list(t.scope) if t.scope else view.county_codes
    areas, n_pairs = _stage_areas(view.pieces, sel, stage, view.regions_all)
    crows, tot, out_scope = _county_rows(t, view, areas, (sel, stage), scope, lang)
    in_scope_sel = sel & view.in_regions(scope) & (stage == 0)
    n_parcels = int(len(np.unique(view.pieces.parcel[in_scope_sel])))
    return _summary_row(t, tot, out_scope, n_parcels, as_of, lang), crows, n_pairs


def _county_rows(t: AreaTarget, view: _PieceView, areas: dict, sel_stage, scope: list[str], lang: str):
    """Rows per region (each stage beyond the ones before it); in-scope totals, out-of-scope area."""
    sel, stage = sel_stage
    pieces = view.pieces
    crows: list[dict] = []
    tot = np.zeros(3)
    out_scope = 0.0
    for r in view.regions_all:
        cum = areas[r]
        ach, uc, pl = cum[0], cum[1] - cum[0], cum[2] - cum[1]
        in_scope = r in scope
        if in_scope:
            tot += (ach, uc, pl)
        else:
            out_scope += ach
        in_r = sel & (pieces.region_idx == view.region_pos[r])
        crows.append({
            "key": t.key, "name": t.name(lang), "category": t.category, "region": r,
            "in_scope": in_scope, "achieved_mu": m2_to_mu(ach),
            "under_construction_mu": m2_to_mu(uc), "planned_mu": m2_to_mu(pl),
            "n_parcels": int(len(np.unique(pieces.parcel[in_r & (stage == 0)]))),
        })
    return crows, tot, out_scope


def _summary_row(t: AreaTarget, tot: np.ndarray, out_scope: float, n_parcels: int,
                 as_of: _dt.date, lang: str) -> dict:
    """Target, achieved, pipeline, completion, remaining, expected by ``as_of`` and pace."""
    target_mu = t.value_mu
    ach, uc, pl = (float(m2_to_mu(v)) for v in tot)
    expected = target_mu * t.expected_fraction(as_of)
    st = _status(ach, target_mu, t.comparator, t.tolerance)
    pace = "met" if st in ("met", "exceeded") else ("ahead" if ach >= expected else "behind")
    return {
        "key": t.key, "name": t.name(lang), "category": t.category, "year": t.year,
        "comparator": t.comparator, "scope": "city" if not t.scope else ",".join(t.scope),
        "target_mu": target_mu, "achieved_mu": ach, "under_construction_mu": uc,
        "planned_mu": pl, "outside_scope_mu": float(m2_to_mu(out_scope)),
        "percent": 100.0 * ach / target_mu,
        "with_pipeline_percent": 100.0 * (ach + uc + pl) / target_mu,
        "remaining_mu": max(target_mu - ach, 0.0),
        "expected_mu": expected, "pace_gap_mu": ach - expected,
        "status": st, "pace": pace,
        "n_parcels": n_parcels,
    }


def _area_tables(summary_rows: list[dict], county_rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary and by-county tables, with a 万亩 column beside each 亩 column."""
    summary = pd.DataFrame(summary_rows, columns=_SUMMARY_COLS)
    by_county = pd.DataFrame(county_rows, columns=_COUNTY_COLS)
    for df, cols in ((summary, ("target", "achieved", "under_construction", "planned", "outside_scope",
                                 "remaining", "expected")),
                     (by_county, ("achieved", "under_construction", "planned"))):
        for c in cols:
            df[f"{c}_wan_mu"] = mu_to_wan_mu(df[f"{c}_mu"])
    return summary, by_county


def _count_targets(count_targets, view: _PieceView, codes: np.ndarray, idx: np.ndarray, lang: str,
                   site_gap_m: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Count targets: contiguous sites achieved and with the pipeline; the sites table."""
    pieces = view.pieces
    count_rows: list[dict] = []
    site_rows: list[dict] = []
    site_cache: dict = {}  # (category, year, scope, statuses, stage) -> sites, shared by targets
    for t in count_targets:
        stage = _stage_of(view.status, t.achieved_statuses)
        scope = list(t.scope) if t.scope else view.county_codes
        base = view.select(t, False) & view.in_regions(scope)
        res = {}
        for label_, lvl in (("achieved", 0), ("pipeline", 2)):
            ck = (t.category, t.year, tuple(scope), t.achieved_statuses, lvl)
            m = base & (stage >= 0) & (stage <= lvl)
            if ck not in site_cache:
                site_cache[ck] = (*_sites(pieces.geom[m], pieces.area[m], site_gap_m), m, len(site_rows))
                if lvl == 0:
                    site_rows.extend(_site_rows(site_cache[ck], t, pieces, codes, idx))
            _, s_area, _, first = site_cache[ck]
            ok = s_area >= t.min_site_mu
            if t.max_site_mu is not None:
                ok &= s_area < t.max_site_mu
            res[label_] = (s_area, ok)
            if lvl == 0:
                _mark_counts_for(site_rows[first:first + len(s_area)], ok, t.key)
        count_rows.append(_count_row(t, res, lang))
    for row in site_rows:
        row.pop("_site", None)
    return pd.DataFrame(count_rows, columns=_COUNT_COLS), pd.DataFrame(site_rows, columns=_SITE_COLS)


def _mark_counts_for(rows: list[dict], ok: np.ndarray, key: str) -> None:
    """Add ``key`` to ``counts_for`` of the site rows whose site satisfies the target."""
    for row in rows:
        if ok[row["_site"]]:
            row["counts_for"] = ",".join(filter(None, [row["counts_for"], key]))


def _count_row(t, res: dict, lang: str) -> dict:
    """One row of the counts table from the achieved and pipeline (site areas, ok) pairs."""
    s_area, ok = res["achieved"]
    n_ach = int(ok.sum())
    return {
        "key": t.key, "name": t.name(lang), "category": t.category, "year": t.year,
        "scope": "city" if not t.scope else ",".join(t.scope),
        "min_site_mu": t.min_site_mu, "max_site_mu": t.max_site_mu, "target_sites": t.value,
        "achieved_sites": n_ach, "with_pipeline_sites": int(res["pipeline"][1].sum()),
        "largest_site_mu": float(s_area.max()) if len(s_area) else 0.0,
        "status": "met" if n_ach >= t.value else "not_met",
    }


def _baselines(baselines, view: _PieceView, lang: str) -> pd.DataFrame:
    """The previous year's stated results beside the registry's achieved area (inside the city)."""
    pieces = view.pieces
    rows = []
    for b in baselines:
        stage = _stage_of(view.status, ("completed", "accepted"))
        sel = (view.cat.eq(b.category) & (view.year == b.year) & (stage == 0)
               & (pieces.region_idx != view.region_pos[OUTSIDE_CITY]))
        areas, _ = _stage_areas(pieces, sel, stage, view.county_codes)
        reg_mu = float(m2_to_mu(sum(v[0] for v in areas.values())))
        rows.append({
            "key": b.key, "name": b.name(lang), "category": b.category, "year": b.year,
            "value": b.value, "unit": b.unit, "value_wan_mu": float(convert(b.value, b.unit, "wan_mu")),
            "registry_achieved_wan_mu": float(mu_to_wan_mu(reg_mu)),
        })
    return pd.DataFrame(rows, columns=_BASE_COLS)


def _not_tracked(targets: TargetSet, lang: str) -> pd.DataFrame:
    """The targets that parcels cannot measure, as stated."""
    return pd.DataFrame(
        [{"key": n.key, "name": n.name(lang), "value": n.value,
          "unit": n.unit_zh if lang == "zh" else n.unit_en, "comparator": n.comparator,
          "sentence": n.sentence} for n in targets.not_tracked],
        columns=["key", "name", "value", "unit", "comparator", "sentence"],
    )


def _info(parcels, used: _Used, pieces: _Pieces, n_pairs: int, lang: str) -> dict[str, Any]:
    """What the result was computed from: counts of parcels, pieces, overlap pairs, batches."""
    return {
        "n_parcels": int(len(parcels)),
        "n_used": int(len(used.idx)),
        "n_pieces": int(len(pieces.geom)),
        "n_overlap_pairs": int(n_pairs),
        "batch_ids": sorted({str(v) for v in pd.unique(parcels["batch_id"].iloc[used.idx].dropna())})
        if "batch_id" in parcels.columns else [],
        "lang": lang,
    }


_SUMMARY_COLS = ["key", "name", "category", "year", "comparator", "scope", "target_mu", "achieved_mu",
                 "under_construction_mu", "planned_mu", "outside_scope_mu", "percent",
                 "with_pipeline_percent", "remaining_mu", "expected_mu", "pace_gap_mu", "status", "pace",
                 "n_parcels"]
_COUNTY_COLS = ["key", "name", "category", "region", "in_scope", "achieved_mu", "under_construction_mu",
                "planned_mu", "n_parcels"]
_COUNT_COLS = ["key", "name", "category", "year", "scope", "min_site_mu", "max_site_mu", "target_sites",
               "achieved_sites", "with_pipeline_sites", "largest_site_mu", "status"]
_SITE_COLS = ["category", "year", "site", "area_mu", "counts_for", "region", "project_codes"]
_BASE_COLS = ["key", "name", "category", "year", "value", "unit", "value_wan_mu", "registry_achieved_wan_mu"]
FLAG_COLS = ["flag", "project_code", "other_project_code", "category", "year", "status", "region",
             "area_mu", "declared_area_mu", "detail"]
"""Columns of :attr:`Progress.flags`. ``flag`` is one of ``double_declared``,
``in_protected_area``, ``outside_city``, ``area_gap``, ``no_geometry``."""


# ------------------------------------------------------------------------------- flags


def _flags(parcels, reg: _Registry, used: _Used, pieces: _Pieces, protected_areas,
           opts: ProgressOptions) -> pd.DataFrame:
    """All flags as one DataFrame (built column-wise, no loop over parcels)."""
    out = _FlagFrames(reg, _main_region(pieces, len(used.geom)))
    out.add(np.flatnonzero(reg.no_geom), "no_geometry", detail="no geometry: not counted")
    if len(used.geom):
        _flag_double_declared(out, reg, used, opts.min_flag_mu)
    _flag_outside_city(out, used, pieces, opts.min_flag_mu)
    if protected_areas is not None and len(protected_areas) and len(used.geom):
        _flag_in_reserves(out, used, protected_areas, opts.min_flag_mu)
    if "declared_area_mu" in parcels.columns and len(used.geom):
        _flag_area_gap(out, parcels, used, opts.gap_tolerance)
    return out.table()


def _main_region(pieces: _Pieces, n: int) -> np.ndarray:
    """Region of each used parcel (position in ``used``) where most of its area lies."""
    main_region = np.full(n, None, dtype=object)
    if len(pieces.geom):
        s = pd.DataFrame({"p": pieces.parcel, "a": pieces.area})
        best = s.groupby("p").a.idxmax()
        main_region[best.index.to_numpy()] = pieces.region[best.to_numpy()]
    return main_region


class _FlagFrames:
    """The flags table in parts: one DataFrame per kind of problem, built column-wise."""

    def __init__(self, reg: _Registry, main_region: np.ndarray):
        self.reg, self.main_region = reg, main_region
        self.frames: list[pd.DataFrame] = []

    def add(self, k, flag: str, pos=None, **cols) -> None:
        """Flag the parcel-table rows ``k`` (``pos``: their positions in ``used``, for the region)."""
        k = np.asarray(k, dtype=int)
        if not len(k):
            return
        reg = self.reg
        yr = pd.array(np.where(np.isfinite(reg.year[k]), reg.year[k], np.nan), dtype="Float64").astype("Int64")
        df = pd.DataFrame({"flag": flag, "project_code": reg.codes[k], "category": reg.category[k], "year": yr,
                           "status": reg.status[k],
                           "region": self.main_region[np.asarray(pos, dtype=int)] if pos is not None else None})
        for c, v in cols.items():
            df[c] = v
        self.frames.append(df)

    def table(self) -> pd.DataFrame:
        """All parts as one DataFrame with :data:`FLAG_COLS`."""
        frames = [f for f in self.frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=FLAG_COLS)
        return pd.concat(frames, ignore_index=True).reindex(columns=FLAG_COLS)


def _flag_double_declared(out: _FlagFrames, reg: _Registry, used: _Used, min_flag_mu: float) -> None:
    """The same land declared twice within one category (any year and status)."""
    import shapely

    idx, P = used.idx, used.geom
    cats = reg.category[idx]
    for cat in pd.unique(cats):
        loc = np.flatnonzero(cats == cat)
        a, b = overlap_pairs(P[loc])
        if not len(a):
            continue
        ov = m2_to_mu(_area_gk(shapely.intersection(P[loc[a]], P[loc[b]])))
        keep = ov >= min_flag_mu
        i, j, ov = loc[a[keep]], loc[b[keep]], ov[keep]
        oy = reg.year[idx[j]]
        detail = [f"{int(y) if np.isfinite(y) else '?'}, {st}"
                  for y, st in zip(oy, reg.status[idx[j]], strict=True)]
        out.add(idx[i], "double_declared", i, other_project_code=reg.codes[idx[j]], area_mu=ov, detail=detail)


def _flag_outside_city(out: _FlagFrames, used: _Used, pieces: _Pieces, min_flag_mu: float) -> None:
    """Parcels with land outside every county of the county layer."""
    sel = pieces.region_idx == len(pieces.regions) - 1  # OUTSIDE_CITY is last
    if not sel.any():
        return
    mu = pd.Series(m2_to_mu(pieces.area[sel])).groupby(pieces.parcel[sel]).sum()
    mu = mu[mu >= min_flag_mu]
    pos = mu.index.to_numpy()
    share = 100.0 * mu.to_numpy() / m2_to_mu(used.area[pos])
    out.add(used.idx[pos], "outside_city", None, region=OUTSIDE_CITY, area_mu=mu.to_numpy(),
            detail=[f"{v:.1f} %" for v in share])


def _flag_in_reserves(out: _FlagFrames, used: _Used, protected_areas, min_flag_mu: float) -> None:
    """Parcels overlapping a nature reserve (the reserve's name and the share in the detail)."""
    import shapely

    P, parea = used.geom, used.area
    R = _to_gk(protected_areas, "the protected-areas layer")
    name_col = next((c for c in ("name_zh", "name", "NAME") if c in protected_areas.columns), None)
    names = protected_areas[name_col].astype(str).to_numpy() if name_col else np.array(
        [f"#{i}" for i in range(len(R))], dtype=object)
    shapely.prepare(R)
    pi, ri = shapely.STRtree(R).query(P, predicate="intersects")
    if not len(pi):
        return
    inside = shapely.contains_properly(R[ri], P[pi])
    ov = np.where(inside, parea[pi], 0.0)
    if (~inside).any():
        ov[~inside] = _area_gk(shapely.intersection(P[pi[~inside]], R[ri[~inside]]))
    mu = m2_to_mu(ov)
    keep = mu >= min_flag_mu
    pi, ri, mu, ov = pi[keep], ri[keep], mu[keep], ov[keep]
    out.add(used.idx[pi], "in_protected_area", pi, area_mu=mu,
            detail=[f"{names[r]}: {100.0 * m / parea[p]:.1f} %" for p, r, m in zip(pi, ri, ov, strict=True)])


def _flag_area_gap(out: _FlagFrames, parcels, used: _Used, gap_tolerance: float) -> None:
    """Declared area far from the computed ellipsoidal one."""
    idx = used.idx
    dec = pd.to_numeric(parcels["declared_area_mu"], errors="coerce").astype("float64").to_numpy()[idx]
    comp = m2_to_mu(used.area)
    gap = area_gap(dec, comp)
    pos = np.flatnonzero(np.isfinite(gap) & (np.abs(gap) > gap_tolerance))
    out.add(idx[pos], "area_gap", pos, area_mu=comp[pos], declared_area_mu=dec[pos],
            detail=[f"{100 * g:+.1f} %" for g in gap[pos]])
