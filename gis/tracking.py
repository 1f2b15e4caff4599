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

1. parcels and counties go to EPSG:4550 (Gauss-Krüger CM 123°E) for topology; lon/lat
   parcels give their ellipsoidal areas from the same pass over their coordinates
   (:func:`gis.gauss_kruger.gk_with_area`);
2. each county is cut into square tiles (``tile_m``) so that intersecting a parcel with
   its county touches a few hundred vertices, not the whole boundary; an STRtree of the
   tiles finds, for every parcel, the tiles it meets; parcels lying properly inside one
   tile (or across tile edges but properly inside one county) are kept whole, only the
   others are intersected;
3. the overlapping pairs of each category are found once (one STRtree query of the
   boxes, the predicates on the candidate pairs only) with their overlap areas, and
   shared by its targets, baselines and the double-declared flag;
4. per target, pieces in no overlapping pair add their own area, two overlapping pieces
   add ``a + b − a∩b``, and larger groups of overlapping pieces are merged group by group
   (vectorised pairwise unions), per county and stage;
5. every area is ellipsoidal, from :mod:`gis.area` (GRS80 = CGCS2000);
6. steps 1–4 run on whole categories at a time, parts of about ``_PART_PARCELS``
   parcels, ``workers`` parts at once on threads (shapely and pyproj release the GIL):
   every selection lies within one category, so only those parts' EPSG:4550 geometry,
   pieces and pairs are in memory at once (1,000,000 parcels need ~0.4 GB beyond the
   parcels themselves, and memory does not grow with the registry beyond the largest
   parts).

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
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from .errors import ConfigError, InputError
from .gauss_kruger import area_gk as _area_gk
from .gauss_kruger import gk_with_area
from .gauss_kruger import to_gk as _to_gk
from .overlay import Pieces as _Pieces
from .overlay import overlap_pairs, split_by_zones, tile_zones, union_by_group
from .quality import AREA_TOLERANCE, area_gap
from .targets import AreaTarget, Baseline, CountTarget, TargetSet
from .units import FloatArray, convert, m2_to_mu, mu_to_wan_mu

if TYPE_CHECKING:
    from .coverage import GeomArray

log = logging.getLogger(__name__)

_Index: TypeAlias = npt.NDArray[np.intp]
"""Positions: of parcels, pieces, regions, sites; also stage numbers."""
_Mask: TypeAlias = npt.NDArray[np.bool_]
_Row: TypeAlias = dict[str, Any]
"""One row of a result table, column name to value."""

__all__ = ["progress", "Progress", "ProgressOptions", "OUTSIDE_CITY", "STAGES", "PIPELINE_STATUSES"]

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
        table: str = self.summary[cols].to_html(index=False, float_format=lambda v: f"{v:,.2f}")
        return head + table

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


def _status(achieved: float, target: float, comparator: str, tol: float) -> str:
    if comparator == "exactly" and achieved > target * (1 + tol):
        return "exceeded"
    return "met" if achieved >= target * (1 - tol) else "not_met"


class _Coded:
    """A string column as integer codes, for fast repeated selections."""

    codes: _Index
    uniques: Any  # pandas.Index
    pos: dict[Any, int]

    def __init__(self, values: GeomArray) -> None:
        self.codes, self.uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        self.pos = {v: i for i, v in enumerate(self.uniques)}

    def take(self, rows: _Index) -> "_Coded":
        out = object.__new__(_Coded)
        out.codes, out.uniques, out.pos = self.codes[rows], self.uniques, self.pos
        return out

    def isin(self, values: Iterable[Any]) -> _Mask:
        lut: _Mask = np.zeros(len(self.uniques) + 1, dtype=bool)  # last slot: missing (-1)
        for v in values:
            if v in self.pos:
                lut[self.pos[v]] = True
        return lut[self.codes]

    def eq(self, value: Any) -> _Mask:
        hit: _Mask = self.codes == self.pos.get(value, -2)
        return hit


def _stage_of(statuses: "_Coded", achieved: tuple[str, ...]) -> _Index:
    """0 achieved, 1 under construction, 2 planned, -1 not counted at all."""
    lut = np.full(len(statuses.uniques) + 1, -1, dtype=int)
    for lv, names in ((2, PIPELINE_STATUSES["planned"]), (1, PIPELINE_STATUSES["under_construction"]), (0, achieved)):
        for v in names:
            if v in statuses.pos:
                lut[statuses.pos[v]] = lv
    return lut[statuses.codes]


def _components(n: int, a: _Index, b: _Index) -> _Index:
    """Connected-component label of each of ``n`` items linked by the pairs (a, b),
    numbered in the order of each component's first item (as scipy numbers them)."""
    if not len(a):
        return np.arange(n)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    labels: _Index = connected_components(graph, directed=False)[1]
    return labels


@dataclass(frozen=True)
class _Overlaps:
    """Pairs ``(a, b)``, ``a < b``, of pieces whose interiors overlap, and each overlap's m²
    (``None``: not computed yet)."""

    a: _Index
    b: _Index
    area: FloatArray | None = None

    def take(self, keep: _Mask, renumber: _Index | None = None) -> "_Overlaps":
        """The pairs where ``keep``, their piece numbers mapped through ``renumber``."""
        a, b = self.a[keep], self.b[keep]
        if renumber is not None:
            a, b = renumber[a], renumber[b]
        return _Overlaps(a, b, None if self.area is None else self.area[keep])

    @staticmethod
    def concat(parts: list[_Overlaps]) -> _Overlaps:
        """The pairs of all ``parts``, which carry their areas, as one."""
        if not parts:
            return _Overlaps(np.zeros(0, int), np.zeros(0, int), np.zeros(0))
        areas = [p.area for p in parts if p.area is not None]
        assert len(areas) == len(parts), "a category's pairs carry their overlap areas"
        return _Overlaps(np.concatenate([p.a for p in parts]), np.concatenate([p.b for p in parts]),
                         np.concatenate(areas))


@dataclass(frozen=True)
class _Selection:
    """Pieces to merge: EPSG:4550 geometry, m², stage (0, 1, 2) and group (county or site)."""

    geom: GeomArray
    area: FloatArray
    stage: _Index
    group: _Index
    n_group: int


def _cum_union(sel: _Selection, pairs: _Overlaps) -> FloatArray:
    """Union area (m²) per group and cumulative stage (≤ 0, ≤ 1, ≤ 2): array (n_group, 3).

    ``pairs`` are the pieces whose interiors overlap (always within one group). Pieces
    that overlap nothing add their own area; overlapping pairs that form a component of
    two add ``a + b − a∩b``; only larger components are merged, each on its own
    (:func:`_add_big_components`).
    """
    out = np.zeros((sel.n_group, 3))
    if len(sel.geom) == 0:
        return out
    comp = _components(len(sel.geom), pairs.a, pairs.b)
    csize = np.bincount(comp)[comp]
    lone = csize == 1
    for lv in range(3):
        m = lone & (sel.stage <= lv)
        out[:, lv] += np.bincount(sel.group[m], weights=sel.area[m], minlength=sel.n_group)
    _add_twins(out, sel, pairs.take(csize[pairs.a] == 2))
    big = csize >= 3
    if big.any():
        _add_big_components(out, sel, comp, big)
    return out


def _add_twins(out: FloatArray, sel: _Selection, twins: _Overlaps) -> None:
    """Components of two pieces: ``a + b − a∩b`` per stage (one vectorised intersection)."""
    import shapely

    if not len(twins.a):
        return
    pa, pb, ar, st = twins.a, twins.b, sel.area, sel.stage
    ov = twins.area if twins.area is not None else _area_gk(shapely.intersection(sel.geom[pa], sel.geom[pb]))
    for lv in range(3):
        ia, ib = st[pa] <= lv, st[pb] <= lv
        val = np.where(ia, ar[pa], 0.0) + np.where(ib, ar[pb], 0.0) - np.where(ia & ib, ov, 0.0)
        out[:, lv] += np.bincount(sel.group[pa], weights=val, minlength=sel.n_group)


def _add_big_components(out: FloatArray, sel: _Selection, comp: _Index, big: _Mask) -> None:
    """Components of three or more pieces: per stage, the union of each component's pieces.

    Components never overlap one another, so the union of a group is the sum of its
    components' unions; all pieces of a component lie in one group (one county, one
    site). A component without pieces of a stage keeps the area of the stage before.
    """
    idx = np.flatnonzero(big)
    uniq, comp_of = np.unique(comp[idx], return_inverse=True)
    stage = sel.stage[idx]
    comp_group = np.zeros(len(uniq), dtype=np.intp)
    comp_group[comp_of] = sel.group[idx]
    area = np.zeros(len(uniq))
    for lv in range(3):
        grows: _Mask = np.zeros(len(uniq), dtype=bool)
        grows[comp_of[stage == lv]] = True
        if grows.any():
            m = grows[comp_of] & (stage <= lv)
            keys, unions = union_by_group(sel.geom[idx[m]], comp_of[m])
            area[keys] = _area_gk(unions)
        out[:, lv] += np.bincount(comp_group, weights=area, minlength=sel.n_group)


def _stage_areas(view: "_PieceView", sel: _Mask, stage: _Index,
                 regions: list[str]) -> tuple[dict[str, list[float]], int]:
    """Per region: union area (m²) of stage ≤ 0, ≤ 1, ≤ 2, from the selected pieces.

    The overlapping pairs come from the category's pairs (:meth:`_PieceView.pairs`): the
    pairs of a selection are the category's pairs with both pieces selected.
    """
    pieces = view.pieces
    grp = pieces.region_idx[sel]
    local = np.cumsum(sel) - 1
    pairs = _Overlaps.concat([ov.take(sel[ov.a] & sel[ov.b], local) for ov in view.pairs_of(sel)])
    pairs = pairs.take(grp[pairs.a] == grp[pairs.b])  # two counties meet only in rounding slivers
    out = _cum_union(_Selection(pieces.geom[sel], pieces.area[sel], stage[sel], grp, len(pieces.regions)), pairs)
    pos = {r: i for i, r in enumerate(pieces.regions)}
    return {r: out[pos[r]].tolist() for r in regions}, len(pairs.a)


def _sites(geoms: GeomArray, areas: FloatArray, gap_m: float) -> tuple[_Index, FloatArray]:
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
    na, nb = na[keep], nb[keep]
    member = _components(n, na, nb)
    sel = _Selection(geoms, areas, np.zeros(n, dtype=int), member, int(member.max()) + 1)
    # overlapping pieces are near ones: the near pairs are the candidates
    out = _cum_union(sel, _Overlaps(*overlap_pairs(geoms, candidates=(na, nb))))
    return member, m2_to_mu(out[:, 0])


_SiteCache: TypeAlias = tuple[_Index, FloatArray, _Mask, int]
"""Sites of one selection: site of each piece, site areas (亩), the selection, first row."""


def _site_rows(cached: _SiteCache, t: CountTarget, pieces: _Pieces, reg: "_Registry",
               idx: _Index) -> list[_Row]:
    """One row per site, largest first: area, main county, member projects."""
    member, s_area, m, _ = cached
    if not len(s_area):
        return []
    sel_idx = np.flatnonzero(m)
    pdf = pd.DataFrame({"site": member, "region": pieces.region[sel_idx], "a": pieces.area[sel_idx],
                        "code": reg.code_of(idx[pieces.parcel[sel_idx]])})
    main_region = pdf.groupby(["site", "region"]).a.sum().reset_index().sort_values("a").groupby("site").region.last()
    main_region = main_region.to_dict()
    members = _site_members(member, pdf["code"].to_numpy(dtype=object))
    rows = []
    for n_, k in enumerate(np.argsort(-s_area, kind="stable"), start=1):
        rows.append({"category": t.category, "year": t.year, "site": n_, "area_mu": float(s_area[k]),
                     "counts_for": "", "region": main_region.get(k, OUTSIDE_CITY),
                     "project_codes": members.get(k, ""), "_site": int(k)})
    return rows


def _site_members(site: _Index, code: GeomArray) -> dict[int, str]:
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
        Threads: parts of the registry computed at once, and within a part its
        independent targets and flags (shapely and pyproj release the GIL).

    Examples
    --------
    >>> opts = ProgressOptions(year=2024, lang="en", min_flag_mu=5.0)
    >>> opts.min_flag_mu, opts.site_gap_m, opts.workers
    (5.0, 10.0, 2)
    """

    year: int | None = None
    lang: str = "zh"
    gap_tolerance: float = AREA_TOLERANCE
    min_flag_mu: float = 1.0
    site_gap_m: float = 10.0
    tile_m: float = 10_000.0
    workers: int = 2


def progress(
    parcels: Any,
    targets: TargetSet,
    counties: Any,
    as_of: _dt.date | str | None = None,
    protected_areas: Any = None,
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
    run = _Run(parcels, reg, targets, county_codes, _Counties.of(counties, county_codes, opts.tile_m),
               protected_areas, opts, as_of)
    parts = _run_parts(run, _category_parts(reg, targets))
    summary, by_county = _area_tables(*_in_target_order(parts, targets.area_targets))
    counts, sites = _counts_in_order(parts, targets.count_targets)
    baselines = _in_order([p.baselines for p in parts], [b.key for b in targets.baselines], _BASE_COLS)
    flags_df = _flags_in_order(reg, parts)
    info = _info(parcels, parts, opts.lang)
    return Progress(summary, by_county, counts, sites, flags_df, baselines, _not_tracked(targets, opts.lang),
                    as_of, targets, info)


# ------------------------------------------------------- parts: whole categories at a time

_PART_PARCELS = 100_000
"""Parcels are computed in parts of whole categories, about this many parcels each. Every
selection of a target, a baseline or a flag lies within one category, so the parts are
independent, and only one part's EPSG:4550 geometry, pieces and overlap pairs are in
memory at a time: peak memory grows with the largest part, not with the registry."""


@dataclass(frozen=True)
class _Run:
    """What every part of one :func:`progress` call shares."""

    parcels: Any
    reg: "_Registry"
    targets: TargetSet
    county_codes: list[str]
    counties: "_Counties"
    protected_areas: Any
    opts: ProgressOptions
    as_of: _dt.date


@dataclass
class _Part:
    """The results of one part: rows of the area targets, counts, sites, baselines, flags."""

    summary_rows: list[_Row]
    county_rows: list[_Row]
    counts: pd.DataFrame
    sites: pd.DataFrame
    baselines: pd.DataFrame
    flags: pd.DataFrame  # with ``_row``, the parcel-table row of each flag
    used_idx: _Index
    n_pieces: int
    n_pairs: int


def _run_parts(run: _Run, cat_parts: list[list[str]]) -> list[_Part]:
    """Every part, ``opts.workers`` at a time (the parts are independent; shapely and
    pyproj release the GIL), in the order of ``cat_parts``. A part run beside others
    works on one thread itself (its overlaps, targets and flags): threads of threads
    would only contend for the GIL and hold more parts' work in memory at once."""
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    _ = (run.reg.coded_category, run.reg.coded_status)  # factorised once, before the threads
    if run.opts.workers <= 1 or len(cat_parts) == 1:
        return [_progress_part(run, cats) for cats in cat_parts]
    alone = replace(run, opts=replace(run.opts, workers=1))
    with ThreadPoolExecutor(max_workers=run.opts.workers) as pool:
        return list(pool.map(partial(_progress_part, alone), cat_parts))


def _category_parts(reg: "_Registry", targets: TargetSet) -> list[list[str]]:
    """The wanted categories in parts of about :data:`_PART_PARCELS` parcels, in order of
    first appearance (categories without parcels go with the last part)."""
    every: tuple[AreaTarget | CountTarget | Baseline, ...] = (*targets.area_targets, *targets.count_targets,
                                                              *targets.baselines)
    wanted = {t.category for t in every}
    coded = reg.coded_category
    codes = coded.codes[coded.isin(wanted) & ~reg.no_geom]
    uniq, first, counts = np.unique(codes, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    sizes = dict(zip(coded.uniques[uniq[order]].tolist(), counts[order].tolist(), strict=True))
    parts: list[list[str]] = [[]]
    n = 0
    for cat, k in sizes.items():
        if parts[-1] and n + k > _PART_PARCELS:
            parts.append([])
            n = 0
        parts[-1].append(cat)
        n += int(k)
    parts[-1].extend(sorted(wanted - set(sizes)))
    return parts


def _progress_part(run: _Run, cats: list[str]) -> _Part:
    """Select, reproject, split by county, find overlaps, then every target, baseline and
    flag of the categories ``cats``."""
    t = run.targets
    mine = set(cats)
    used = _used_parcels(run.parcels, run.reg, mine)
    c = run.counties.own_copy()
    pieces = split_by_zones(used.geom, used.area, c.tiles, c.tile_code, area=_area_gk, outside=OUTSIDE_CITY,
                            zones=(c.geom, c.code)).index_regions(run.county_codes + [OUTSIDE_CITY])
    view = _PieceView.of(pieces, used.idx, run.reg, run.county_codes).find_pairs(run.opts.workers)
    flags = partial(_flags, run.parcels, run.reg, used, view, run.protected_areas, run.opts)
    (srows, crows), n_pairs, flags_df = _run_area_targets([a for a in t.area_targets if a.category in mine], view,
                                                          run.as_of, run.opts, flags)
    counts, sites = _count_targets([c for c in t.count_targets if c.category in mine], view, run.reg,
                                   used.idx, run.opts.lang, run.opts.site_gap_m)
    baselines = _baselines([b for b in t.baselines if b.category in mine], view, run.opts.lang)
    return _Part(srows, crows, counts, sites, baselines, flags_df, used.idx, len(pieces.geom), n_pairs)


def _in_target_order(parts: list[_Part], area_targets: tuple[AreaTarget, ...]) -> tuple[list[_Row], list[_Row]]:
    """Summary and county rows of all parts, in the order of the targets file."""
    order = {t.key: i for i, t in enumerate(area_targets)}
    summary = sorted((r for p in parts for r in p.summary_rows), key=lambda r: order[r["key"]])
    county = sorted((r for p in parts for r in p.county_rows), key=lambda r: order[r["key"]])  # stable
    return summary, county


def _in_order(frames: list[pd.DataFrame], keys: list[str], columns: list[str]) -> pd.DataFrame:
    """The rows of all parts (one per key) in the order of ``keys``."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    df = pd.concat(frames, ignore_index=True)
    pos = {k: i for i, k in enumerate(keys)}
    return df.iloc[np.argsort(df["key"].map(pos).to_numpy(), kind="stable")].reset_index(drop=True)


def _counts_in_order(parts: list[_Part], count_targets: tuple[CountTarget, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts in the order of the targets; sites in the order their first target found them."""
    counts = _in_order([p.counts for p in parts], [t.key for t in count_targets], _COUNT_COLS)
    frames = [p.sites for p in parts if len(p.sites)]
    if not frames:
        return counts, pd.DataFrame(columns=_SITE_COLS)
    sites = pd.concat(frames, ignore_index=True)
    first: dict[tuple[str, int], int] = {}
    for i, t in enumerate(count_targets):
        first.setdefault((t.category, t.year), i)
    key = [first.get((c, y), len(first)) for c, y in zip(sites["category"], sites["year"], strict=True)]
    return counts, sites.iloc[np.argsort(np.asarray(key), kind="stable")].reset_index(drop=True)


_FLAG_ORDER = ("no_geometry", "double_declared", "outside_city", "in_protected_area", "area_gap")


def _flags_in_order(reg: "_Registry", parts: list[_Part]) -> pd.DataFrame:
    """All flags: by kind; double declarations by category, the others by parcel row."""
    nogeo = _FlagFrames(reg, np.zeros(0, dtype=object))
    nogeo.add(np.flatnonzero(reg.no_geom), "no_geometry", detail="no geometry: not counted")
    frames = [f for f in (nogeo.table(keep_row=True), *(p.flags for p in parts)) if len(f)]
    if not frames:
        return pd.DataFrame(columns=FLAG_COLS)
    df = pd.concat(frames, ignore_index=True)
    kind = df["flag"].map({k: i for i, k in enumerate(_FLAG_ORDER)}).to_numpy()
    within = np.where(df["flag"].to_numpy() == "double_declared", np.arange(len(df)), df["_row"].to_numpy())
    return df.iloc[np.lexsort((within, kind))].reset_index(drop=True).reindex(columns=FLAG_COLS)


# ------------------------------------------------------------------- the steps of progress


def _check_inputs(parcels: Any, targets: TargetSet, counties: Any) -> list[str]:
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

    codes: Any  # project codes: a pandas string array (or an object array); see :meth:`code_of`
    category: GeomArray
    status: GeomArray
    year: FloatArray  # NaN where missing
    no_geom: _Mask

    def code_of(self, rows: _Index) -> GeomArray:
        """The project codes of the parcel-table ``rows`` as an object array."""
        picked: GeomArray = np.asarray(self.codes[np.asarray(rows, dtype=np.intp)], dtype=object)
        return picked

    @cached_property
    def coded_category(self) -> "_Coded":
        """``category`` as integer codes (factorised once)."""
        return _Coded(self.category)

    @cached_property
    def coded_status(self) -> "_Coded":
        """``status`` as integer codes (factorised once)."""
        return _Coded(self.status)

    @classmethod
    def of(cls, parcels: Any) -> "_Registry":
        """The arrays of a parcel table with a fresh 0..n-1 index."""
        geo = parcels.geometry
        codes = (
            parcels["project_code"].astype(str).array  # taken row by row when needed: no Python str per row
            if "project_code" in parcels.columns
            else np.array([f"#{i}" for i in range(len(parcels))], dtype=object)
        )
        return cls(
            codes=codes,
            category=_few_strings(parcels["category"]),
            status=_few_strings(parcels["status"]),
            year=pd.to_numeric(parcels["year"], errors="coerce").astype("float64").to_numpy(),
            no_geom=(geo.isna() | geo.is_empty).to_numpy(),
        )


def _few_strings(column: pd.Series) -> GeomArray:
    """A text column with few distinct values as an object array that shares one Python
    string per value (8 bytes a row, not a new string per row)."""
    codes, uniques = pd.factorize(column.astype(str), use_na_sentinel=False)
    shared: GeomArray = np.asarray(uniques, dtype=object)[codes]
    return shared


@dataclass(frozen=True)
class _Used:
    """The parcels of a category some target counts: EPSG:4550, valid, ellipsoidal m²."""

    idx: _Index  # rows of the parcel table
    geom: GeomArray
    area: FloatArray


def _used_parcels(parcels: Any, reg: _Registry, categories: set[str]) -> _Used:
    """Select the parcels with a geometry and one of ``categories``; reproject them once."""
    import shapely

    idx = np.flatnonzero(reg.coded_category.isin(categories) & ~reg.no_geom)
    if not len(idx):
        return _Used(idx, np.zeros(0, dtype=object), _area_gk(np.zeros(0, dtype=object)))
    src = parcels.geometry.iloc[idx]  # the geometry only: no copy of the table
    P, area = gk_with_area(src, "the parcels")  # the area from the source CRS: no second transform
    bad = ~shapely.is_valid(P)
    if bad.any():
        P[bad] = shapely.make_valid(P[bad])
        area[bad] = _area_gk(P[bad])
    return _Used(idx, P, area)


@dataclass(frozen=True)
class _Counties:
    """The counties in EPSG:4550 and the tiles they are cut into, with the county codes."""

    geom: GeomArray
    code: GeomArray
    tiles: GeomArray
    tile_code: GeomArray

    @classmethod
    def of(cls, counties: Any, county_codes: list[str], tile_m: float) -> "_Counties":
        """The county layer in EPSG:4550, cut into tiles of ``tile_m``."""
        geom = _to_gk(counties, "the county layer")
        code = np.array(county_codes, dtype=object)
        return cls(geom, code, *tile_zones(geom, code, tile_m))

    def own_copy(self) -> "_Counties":
        """The same with geometries of its own: a part's thread prepares them, and a
        prepared geometry is not for sharing between threads."""
        import shapely

        def fresh(g: GeomArray) -> GeomArray:
            copied: GeomArray = shapely.from_wkb(shapely.to_wkb(g))
            return copied

        return _Counties(fresh(self.geom), self.code, fresh(self.tiles), self.tile_code)


@dataclass(frozen=True)
class _PieceView:
    """The pieces with their parcel's category, year and status, for selecting per target."""

    pieces: _Pieces
    cat: _Coded
    year: FloatArray
    status: _Coded
    county_codes: list[str]
    region_pos: dict[str, int]
    pairs: dict[int, _Overlaps] = field(default_factory=dict)  # category code -> its pairs

    @classmethod
    def of(cls, pieces: _Pieces, idx: _Index, reg: _Registry, county_codes: list[str]) -> "_PieceView":
        """Look up each piece's parcel attributes once."""
        glob = idx[pieces.parcel] if len(idx) else pieces.parcel
        return cls(
            pieces=pieces,
            cat=reg.coded_category.take(glob),
            year=reg.year[glob] if len(pieces.parcel) else np.zeros(0),
            status=reg.coded_status.take(glob),
            county_codes=county_codes,
            region_pos={r: i for i, r in enumerate(pieces.regions)},
        )

    def find_pairs(self, workers: int) -> "_PieceView":
        """The overlapping pairs of each category's pieces and their overlap areas, once.

        Every target, baseline and the double-declared flag select within one category,
        so their pairs are these pairs with both pieces selected.
        """
        from concurrent.futures import ThreadPoolExecutor

        codes = [int(c) for c in np.unique(self.cat.codes) if c >= 0]
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            self.pairs.update(zip(codes, pool.map(self._category_pairs, codes), strict=True))
        return self

    def _category_pairs(self, code: int) -> _Overlaps:
        import shapely

        idx = np.flatnonzero(self.cat.codes == code)
        g = self.pieces.geom
        a, b = overlap_pairs(g[idx])
        a, b = idx[a], idx[b]
        return _Overlaps(a, b, _area_gk(shapely.intersection(g[a], g[b])))

    def pairs_of(self, sel: _Mask) -> list[_Overlaps]:
        """The pairs of the categories that ``sel`` selects pieces of."""
        return [self.pairs[int(c)] for c in np.unique(self.cat.codes[sel]) if c >= 0]

    @property
    def regions_all(self) -> list[str]:
        """The county codes and, last, :data:`OUTSIDE_CITY`."""
        return self.county_codes + [OUTSIDE_CITY]

    def in_regions(self, codes: list[str]) -> _Mask:
        """Pieces in one of the regions ``codes``."""
        return np.isin(self.pieces.region_idx, [self.region_pos[c] for c in codes])

    def select(self, t: AreaTarget | CountTarget, stock: bool) -> _Mask:
        """Pieces of the target's category and year (with ``stock``: that year or before)."""
        yr_ok = self.year <= t.year if stock else self.year == t.year
        return self.cat.eq(t.category) & yr_ok


def _run_area_targets(area_targets: list[AreaTarget], view: _PieceView, as_of: _dt.date, opts: ProgressOptions,
                      flags: Callable[[], pd.DataFrame]) -> tuple[tuple[list[_Row], list[_Row]], int, pd.DataFrame]:
    """The area targets and the flags on ``opts.workers`` threads (shapely releases the GIL).

    Returns ``((summary rows, county rows), number of overlap pairs, flags)``.
    """
    from concurrent.futures import ThreadPoolExecutor

    summary_rows: list[_Row] = []
    county_rows: list[_Row] = []
    n_pairs_total = 0
    with ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:
        flags_job = pool.submit(flags)
        for srow, crows, n_pairs in pool.map(lambda t: _area_target(t, view, as_of, opts.lang), area_targets):
            summary_rows.append(srow)
            county_rows.extend(crows)
            n_pairs_total += n_pairs
        flags_df = flags_job.result()
    return (summary_rows, county_rows), n_pairs_total, flags_df


def _area_target(t: AreaTarget, view: _PieceView, as_of: _dt.date, lang: str) -> tuple[_Row, list[_Row], int]:
    """One area target: union per county and stage, the county rows and the summary row."""
    stage = _stage_of(view.status, t.achieved_statuses)
    sel = view.select(t, t.comparator == "keep_stable") & (stage >= 0)
    scope = list(t.scope) if t.scope else view.county_codes
    areas, n_pairs = _stage_areas(view, sel, stage, view.regions_all)
    crows, tot, out_scope = _county_rows(t, view, areas, (sel, stage), scope, lang)
    in_scope_sel = sel & view.in_regions(scope) & (stage == 0)
    n_parcels = int(len(np.unique(view.pieces.parcel[in_scope_sel])))
    return _summary_row(t, tot, out_scope, n_parcels, as_of, lang), crows, n_pairs


def _county_rows(t: AreaTarget, view: _PieceView, areas: dict[str, list[float]], sel_stage: tuple[_Mask, _Index],
                 scope: list[str], lang: str) -> tuple[list[_Row], FloatArray, float]:
    """Rows per region (each stage beyond the ones before it); in-scope totals, out-of-scope area."""
    sel, stage = sel_stage
    pieces = view.pieces
    crows: list[_Row] = []
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


def _summary_row(t: AreaTarget, tot: FloatArray, out_scope: float, n_parcels: int,
                 as_of: _dt.date, lang: str) -> _Row:
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


def _area_tables(summary_rows: list[_Row], county_rows: list[_Row]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary and by-county tables, with a 万亩 column beside each 亩 column."""
    summary = pd.DataFrame(summary_rows, columns=_SUMMARY_COLS)
    by_county = pd.DataFrame(county_rows, columns=_COUNTY_COLS)
    for df, cols in ((summary, ("target", "achieved", "under_construction", "planned", "outside_scope",
                                 "remaining", "expected")),
                     (by_county, ("achieved", "under_construction", "planned"))):
        for c in cols:
            df[f"{c}_wan_mu"] = mu_to_wan_mu(df[f"{c}_mu"])
    return summary, by_county


def _count_targets(count_targets: list[CountTarget], view: _PieceView, reg: _Registry, idx: _Index, lang: str,
                   site_gap_m: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Count targets: contiguous sites achieved and with the pipeline; the sites table."""
    pieces = view.pieces
    count_rows: list[_Row] = []
    site_rows: list[_Row] = []
    site_cache: dict[tuple[Any, ...], _SiteCache] = {}  # (category, year, scope, statuses, stage) -> sites, shared by targets
    for t in count_targets:
        stage = _stage_of(view.status, t.achieved_statuses)
        scope = list(t.scope) if t.scope else view.county_codes
        base = view.select(t, False) & view.in_regions(scope)
        res: dict[str, tuple[FloatArray, _Mask]] = {}
        for label_, lvl in (("achieved", 0), ("pipeline", 2)):
            ck = (t.category, t.year, tuple(scope), t.achieved_statuses, lvl)
            m = base & (stage >= 0) & (stage <= lvl)
            if ck not in site_cache:
                site_cache[ck] = (*_sites(pieces.geom[m], pieces.area[m], site_gap_m), m, len(site_rows))
                if lvl == 0:
                    site_rows.extend(_site_rows(site_cache[ck], t, pieces, reg, idx))
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


def _mark_counts_for(rows: list[_Row], ok: _Mask, key: str) -> None:
    """Add ``key`` to ``counts_for`` of the site rows whose site satisfies the target."""
    for row in rows:
        if ok[row["_site"]]:
            row["counts_for"] = ",".join(filter(None, [row["counts_for"], key]))


def _count_row(t: CountTarget, res: dict[str, tuple[FloatArray, _Mask]], lang: str) -> _Row:
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


def _baselines(baselines: list[Baseline], view: _PieceView, lang: str) -> pd.DataFrame:
    """The previous year's stated results beside the registry's achieved area (inside the city)."""
    pieces = view.pieces
    rows: list[_Row] = []
    for b in baselines:
        stage = _stage_of(view.status, ("completed", "accepted"))
        sel = (view.cat.eq(b.category) & (view.year == b.year) & (stage == 0)
               & (pieces.region_idx != view.region_pos[OUTSIDE_CITY]))
        areas, _ = _stage_areas(view, sel, stage, view.county_codes)
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


def _info(parcels: Any, parts: list[_Part], lang: str) -> dict[str, Any]:
    """What the result was computed from: counts of parcels, pieces, overlap pairs, batches."""
    used = np.concatenate([p.used_idx for p in parts]) if parts else np.zeros(0, dtype=int)
    return {
        "n_parcels": int(len(parcels)),
        "n_used": int(len(used)),
        "n_pieces": int(sum(p.n_pieces for p in parts)),
        "n_overlap_pairs": int(sum(p.n_pairs for p in parts)),
        "batch_ids": sorted({str(v) for v in pd.unique(parcels["batch_id"].iloc[np.sort(used)].dropna())})
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


def _flags(parcels: Any, reg: _Registry, used: _Used, view: "_PieceView", protected_areas: Any,
           opts: ProgressOptions) -> pd.DataFrame:
    """All flags as one DataFrame (built column-wise, no loop over parcels)."""
    pieces = view.pieces
    out = _FlagFrames(reg, _main_region(pieces, len(used.geom)))
    if len(used.geom):
        _flag_double_declared(out, reg, used, view, opts.min_flag_mu)
    _flag_outside_city(out, used, pieces, opts.min_flag_mu)
    if protected_areas is not None and len(protected_areas) and len(used.geom):
        _flag_in_reserves(out, used, protected_areas, opts.min_flag_mu)
    if "declared_area_mu" in parcels.columns and len(used.geom):
        _flag_area_gap(out, parcels, used, opts.gap_tolerance)
    return out.table(keep_row=True)


def _main_region(pieces: _Pieces, n: int) -> GeomArray:
    """Region of each used parcel (position in ``used``) where most of its area lies."""
    main_region = np.full(n, None, dtype=object)
    if len(pieces.geom):
        order = np.lexsort((-pieces.area, pieces.parcel))  # by parcel, largest first, then first found
        parcel = pieces.parcel[order]
        best = order[np.r_[True, parcel[1:] != parcel[:-1]]]
        main_region[pieces.parcel[best]] = pieces.region[best]
    return main_region


class _FlagFrames:
    """The flags table in parts: one DataFrame per kind of problem, built column-wise."""

    def __init__(self, reg: _Registry, main_region: GeomArray) -> None:
        self.reg, self.main_region = reg, main_region
        self.frames: list[pd.DataFrame] = []

    def add(self, k: npt.ArrayLike, flag: str, pos: npt.ArrayLike | None = None, **cols: Any) -> None:
        """Flag the parcel-table rows ``k`` (``pos``: their positions in ``used``, for the region)."""
        k = np.asarray(k, dtype=int)
        if not len(k):
            return
        reg = self.reg
        yr = pd.array(np.where(np.isfinite(reg.year[k]), reg.year[k], np.nan), dtype="Float64").astype("Int64")
        df = pd.DataFrame({"flag": flag, "project_code": reg.code_of(k), "category": reg.category[k], "year": yr,
                           "status": reg.status[k],
                           "region": self.main_region[np.asarray(pos, dtype=int)] if pos is not None else None,
                           "_row": k})
        for c, v in cols.items():
            df[c] = v
        self.frames.append(df)

    def table(self, keep_row: bool = False) -> pd.DataFrame:
        """All parts as one DataFrame with :data:`FLAG_COLS` (and ``_row`` with ``keep_row``)."""
        cols = [*FLAG_COLS, "_row"] if keep_row else FLAG_COLS
        frames = [f for f in self.frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=cols)
        return pd.concat(frames, ignore_index=True).reindex(columns=cols)


def _flag_double_declared(out: _FlagFrames, reg: _Registry, used: _Used, view: "_PieceView",
                          min_flag_mu: float) -> None:
    """The same land declared twice within one category (any year and status).

    Two parcels overlap where some of their pieces do; the overlap is the sum of those
    pieces' overlaps (the category's pairs, :meth:`_PieceView.find_pairs`).
    """
    idx, parcel = used.idx, view.pieces.parcel
    cats = reg.category[idx]
    for cat in pd.unique(cats):
        code = view.cat.pos.get(cat)
        ovl = view.pairs.get(code) if code is not None else None
        if ovl is None or not len(ovl.a):
            continue
        pa, pb = parcel[ovl.a], parcel[ovl.b]
        two = pa != pb
        lo, hi = np.minimum(pa, pb)[two], np.maximum(pa, pb)[two]
        assert ovl.area is not None, "a category's pairs carry their overlap areas"
        s = pd.Series(ovl.area[two]).groupby([lo, hi], sort=True).sum()
        ov = m2_to_mu(s.to_numpy())
        keep = ov >= min_flag_mu
        i = s.index.get_level_values(0).to_numpy()[keep]
        j = s.index.get_level_values(1).to_numpy()[keep]
        ov = ov[keep]
        oy = reg.year[idx[j]]
        detail = [f"{int(y) if np.isfinite(y) else '?'}, {st}"
                  for y, st in zip(oy, reg.status[idx[j]], strict=True)]
        out.add(idx[i], "double_declared", i, other_project_code=reg.code_of(idx[j]), area_mu=ov, detail=detail)


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


def _flag_in_reserves(out: _FlagFrames, used: _Used, protected_areas: Any, min_flag_mu: float) -> None:
    """Parcels overlapping a nature reserve (the reserve's name and the share in the detail)."""
    import shapely

    P, parea = used.geom, used.area
    # its own objects: each part's thread prepares them (to_gk may hand back the layer's own)
    R = shapely.from_wkb(shapely.to_wkb(_to_gk(protected_areas, "the protected-areas layer")))
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


def _flag_area_gap(out: _FlagFrames, parcels: Any, used: _Used, gap_tolerance: float) -> None:
    """Declared area far from the computed ellipsoidal one."""
    idx = used.idx
    dec = pd.to_numeric(parcels["declared_area_mu"], errors="coerce").astype("float64").to_numpy()[idx]
    comp = m2_to_mu(used.area)
    gap = area_gap(dec, comp)
    pos = np.flatnonzero(np.isfinite(gap) & (np.abs(gap) > gap_tolerance))
    out.add(idx[pos], "area_gap", pos, area_mu=comp[pos], declared_area_mu=dec[pos],
            detail=[f"{100 * g:+.1f} %" for g in gap[pos]])
