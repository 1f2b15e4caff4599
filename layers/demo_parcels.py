"""Synthetic project parcels of the demo workspace (every category of the targets file).

Everything here is SYNTHETIC. Projects are blocks of field-like rectangles on a local,
slightly rotated grid, placed by plausible rules (see :data:`RULES`): new and improved
paddy and the saline demonstration area on low saline land near rivers and canals in
大安/镇赉; high-standard farmland on cropland of all five counties; afforestation as
shelterbelt strips in the west; grassland restoration on saline grassland of 通榆/洮南/大安;
wetland restoration near lakes and rivers (these two may lie inside the reserves).
Statuses are spread so that some targets are ahead of schedule and some behind, and a
few deliberate data problems are planted for ``agrigis check`` (:data:`PLANTED`).

Planar work in EPSG:4550; the result is a GeoDataFrame in EPSG:4490 with the columns a
user's own parcel file would have.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
import shapely.affinity
from rasterio.features import rasterize

from gis.crs import CGCS2000, GK_CM123
from gis.labels import CATEGORIES, COUNTIES

from .demo_rasters import LC, Drivers, Grid

log = logging.getLogger(__name__)

ZL, TY, DA, TN, TB = "220821", "220822", "220882", "220881", "220802"
ALL = (TB, ZL, TY, TN, DA)
M2_PER_MU = 2000 / 3


@dataclass(frozen=True)
class Rule:
    """How projects of one category are placed and sized."""

    counties: tuple[str, ...]
    land: tuple[str, ...]          # land-cover classes a field may sit on
    field_ha: tuple[float, float]  # field size range (ha)
    project_mu: tuple[float, float]  # project size range (亩)
    aspect: tuple[float, float] = (1.5, 4.0)
    in_reserve: bool = False       # may lie inside a nature reserve
    investment_yuan_per_mu: float = 1500.0
    abbr: str = "XX"


_CROP = ("cropland",)
RULES: dict[str, Rule] = {
    "high_standard_farmland": Rule(ALL, ("cropland", "paddy"), (15, 100), (3000, 30000), abbr="GB",
                                   investment_yuan_per_mu=1500),
    "paddy_new": Rule((DA, ZL), ("cropland", "grassland", "saline_barren"), (8, 50), (2000, 20000),
                      abbr="XS", investment_yuan_per_mu=3000),
    "paddy_improved": Rule((DA, ZL), ("paddy", "cropland"), (8, 50), (2000, 15000), abbr="GS",
                           investment_yuan_per_mu=1200),
    "saline_demo_area": Rule((DA, ZL), ("saline_barren", "grassland", "cropland", "paddy"), (20, 150),
                             (8000, 30000), abbr="SF", investment_yuan_per_mu=2500),
    "new_cultivated_land": Rule(ALL, ("grassland", "saline_barren", "cropland"), (5, 40), (500, 5000),
                                abbr="XZ", investment_yuan_per_mu=2000),
    "fertigation": Rule(ALL, _CROP, (150, 300), (20000, 60000), abbr="SF1", investment_yuan_per_mu=300),
    "conservation_tillage": Rule(ALL, _CROP, (200, 300), (30000, 80000), abbr="BH",
                                 investment_yuan_per_mu=40),
    "deep_loosening": Rule(ALL, _CROP, (100, 300), (10000, 50000), abbr="SS", investment_yuan_per_mu=30),
    "seed_production": Rule((DA, TN), ("cropland", "paddy"), (5, 30), (1000, 5000), abbr="ZZ",
                            investment_yuan_per_mu=800),
    "afforestation": Rule((TN, TB, TY, ZL), ("cropland", "grassland"), (5, 30), (500, 5000),
                          aspect=(8, 20), abbr="ZL", investment_yuan_per_mu=600),
    "grassland_restoration": Rule((TY, TN, DA), ("grassland", "saline_barren"), (20, 300),
                                  (3000, 20000), in_reserve=True, abbr="CY", investment_yuan_per_mu=200),
    "wetland_restoration": Rule((ZL, DA, TY), ("grassland", "saline_barren", "paddy", "cropland"),
                                (10, 200), (1000, 8000), in_reserve=True, abbr="SD",
                                investment_yuan_per_mu=1000),
    "greenhouse": Rule(ALL, _CROP, (0.5, 3), (100, 600), aspect=(3, 6), abbr="PS",
                       investment_yuan_per_mu=30000),
    "courtyard_economy": Rule(ALL, ("cropland", "built_up"), (15, 60), (1000, 6000), abbr="TY",
                              investment_yuan_per_mu=500),
    "demo_base": Rule((DA, ZL, TN, TB, TY), ("cropland", "paddy", "saline_barren", "grassland"),
                      (20, 120), (1200, 3000), abbr="SJ", investment_yuan_per_mu=2000),
}

# share of the target that is completed/accepted (as of autumn 2024) and planned total;
# jittered by the seed. > 0.75 is ahead of a linear schedule at 2024-09-30, < 0.75 behind.
PLAN: dict[str, tuple[float, float]] = {
    "high_standard_farmland": (0.88, 1.08), "paddy_new": (0.52, 1.00),
    "paddy_improved": (0.82, 1.00), "saline_demo_area": (0.60, 1.00),
    "new_cultivated_land": (0.92, 1.10), "fertigation": (0.70, 1.00),
    "conservation_tillage": (0.95, 1.00), "deep_loosening": (0.58, 1.00),
    "seed_production": (1.00, 1.00), "afforestation": (0.86, 1.00),
    "grassland_restoration": (0.50, 1.00), "wetland_restoration": (0.80, 1.00),
    "greenhouse": (0.40, 1.00), "courtyard_economy": (1.01, 1.01),
}
TARGET_MU = {
    "high_standard_farmland": 600_000, "paddy_new": 238_900, "paddy_improved": 157_500,
    "saline_demo_area": 100_000, "new_cultivated_land": 70_000, "fertigation": 4_500_000,
    "conservation_tillage": 6_900_000, "deep_loosening": 1_300_000, "seed_production": 15_000,
    "afforestation": 110_000, "grassland_restoration": 140_000, "wetland_restoration": 20_000,
    "greenhouse": 2_000, "courtyard_economy": 230_000,
}
"""2024 targets in 亩 (workflows/targets/baicheng-2024.yml), used only to size the demo."""

HISTORY = {
    1: {"high_standard_farmland": 0.2, "paddy_new": 0.2, "paddy_improved": 0.2,
        "saline_demo_area": 0.25, "new_cultivated_land": 0.2, "afforestation": 0.2,
        "grassland_restoration": 0.2, "wetland_restoration": 0.3},
    2: {"paddy_new": 0.15, "paddy_improved": 0.1, "saline_demo_area": 0.2},
    3: {"paddy_new": 0.12, "saline_demo_area": 0.15},
}
"""Earlier projects (years before the target year → share of the target), all completed or
accepted: the history that remediation monitoring follows in the NDVI stack."""

PLANTED = {
    "overlap": "a high-standard farmland parcel duplicated with a 30 % shift (same category overlap)",
    "in_reserve": "a new-paddy project of three fields inside the 莫莫格 reserve",
    "declared_area": "one parcel declares 30 % more area than its geometry has",
}
"""Deliberate data problems for ``agrigis check`` (their project codes end in ``-P1..P3``)."""


class _Land:
    """Land cover, salinity, county and reserve rasters on the analysis grid for placement."""

    def __init__(self, drivers: Drivers, counties: gpd.GeoDataFrame, reserves: gpd.GeoDataFrame,
                 lakes: gpd.GeoDataFrame, rng: np.random.Generator):
        self.d = drivers
        g: Grid = drivers.grid
        x, y = g.centres()
        f = drivers.fields(x, y, np.random.default_rng([0, 3]), g.res)
        self.lc = f["landcover"]
        self.ec = f["soil_ec"]
        gk = counties.to_crs(GK_CM123)
        self.codes = list(gk.county_code)
        self.county = rasterize(zip(gk.geometry, range(1, len(gk) + 1), strict=True), out_shape=g.shape,
                                transform=g.transform, fill=0, dtype="uint8")
        self.county_geom = dict(zip(gk.county_code, gk.geometry, strict=True))
        for geom in self.county_geom.values():
            shapely.prepare(geom)
        rs = reserves.to_crs(GK_CM123)
        self.reserve_geom = shapely.union_all(rs.geometry.values)
        self.reserves = rs
        shapely.prepare(self.reserve_geom)
        self.lake_geom = shapely.union_all(lakes.to_crs(GK_CM123).geometry.values)
        shapely.prepare(self.lake_geom)
        self.x, self.y = x, y
        self.near_water = np.minimum(drivers.d_river, drivers.d_canal)

    def lc_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        g = self.d.grid
        col = np.clip(((x - g.x0) / g.res).astype(int), 0, g.width - 1)
        row = np.clip(((g.y0 - y) / g.res).astype(int), 0, g.height - 1)
        return self.lc[row, col]

    def score(self, cat: str, rule: Rule) -> np.ndarray:
        lcv = np.isin(self.lc, [LC[c] for c in rule.land])
        cty = np.isin(self.county, [self.codes.index(c) + 1 for c in rule.counties])
        s = (lcv & cty).astype(float)
        d, ec, east = self.d, self.ec, self.d.east
        if cat in ("paddy_new", "paddy_improved"):
            s *= np.exp(-self.near_water / 5000.0) * (d.low > 0.35) * (ec < 16)
        elif cat == "saline_demo_area":
            s *= (ec > 3.0) * np.exp(-self.near_water / 8000.0)
        elif cat in ("high_standard_farmland", "fertigation", "deep_loosening",
                     "conservation_tillage", "seed_production", "greenhouse"):
            s *= (ec < 6.0)
            if cat == "fertigation":
                s *= 0.3 + (1 - east)
        elif cat == "afforestation":
            s *= (ec < 6.0) * (0.2 + (1 - east))
        elif cat == "wetland_restoration":
            s *= np.exp(-np.minimum(d.d_lake, d.d_river) / 4000.0)
        elif cat == "new_cultivated_land":
            s *= (ec < 12.0)
        return s


@dataclass(frozen=True)
class ParcelScale:
    """Scale of the generated parcels.

    ``area`` multiplies every category's total (1 = sized to the 2024 targets; the small
    test workspace uses a few percent; demonstration bases are never scaled); ``field``
    multiplies field sizes (smaller fields → more parcels; ``--size large``)."""

    area: float = 1.0
    field: float = 1.0


@dataclass(frozen=True)
class _Layout:
    """How the fields of one project lie: field size multiplier, gap between fields (m)
    and the share of fields dropped at random."""

    field_scale: float
    gap: float = 6.0
    drop: float = 0.08


def _block(rng, rule: Rule, total_mu: float, field_scale: float, gap: float):
    """Field rectangles of one project around (0, 0), unrotated. Returns (n, 4, 2) corners."""
    lo, hi = rule.field_ha
    f_m2 = np.exp(rng.uniform(np.log(lo), np.log(hi))) * 1e4 * field_scale
    f_m2 = max(f_m2, 0.5e4)
    a = rng.uniform(*rule.aspect)
    w, L = np.sqrt(f_m2 / a), np.sqrt(f_m2 * a)
    n = max(1, int(round(total_mu * M2_PER_MU / f_m2)))
    ny = max(1, int(round(np.sqrt(n / a))))
    nx = max(1, int(np.ceil(n / ny)))
    xs = np.arange(nx) * (w + gap)
    ys = np.arange(ny) * (L + gap)
    X, Y = np.meshgrid(xs, ys)
    X, Y = X.ravel()[:n], Y.ravel()[:n]
    # uneven field ends (shortened, never overlapping) when the fields have gaps
    Lk = L * rng.uniform(0.8, 1.0, n) if gap > 0 else np.full(n, L)
    X = X - (nx * (w + gap)) / 2
    Y = Y - (ny * (L + gap)) / 2
    corners = np.stack([np.column_stack([X, Y]), np.column_stack([X + w, Y]),
                        np.column_stack([X + w, Y + Lk]), np.column_stack([X, Y + Lk])], axis=1)
    return corners


def _place(rng, land: _Land, rule: Rule, centre, total_mu: float, layout: _Layout):
    """One project's fields as planar polygons, filtered: ``(county, polygons)``, or None
    if it fits badly (off its land, in a lake or — unless its rule allows — a reserve,
    or across a county boundary)."""
    corners = _block(rng, rule, total_mu, layout.field_scale, layout.gap)
    theta = np.deg2rad(rng.normal(0, 6))
    c, s = np.cos(theta), np.sin(theta)
    rot = corners @ np.array([[c, s], [-s, c]])
    rot += np.asarray(centre)
    polys = shapely.polygons(rot)
    keep = np.ones(len(polys), bool)
    if layout.drop and len(polys) > 3:
        keep &= rng.random(len(polys)) > layout.drop
    cx, cy = rot.mean(axis=1).T
    keep &= np.isin(land.lc_at(cx, cy), [LC[k] for k in rule.land])
    if not rule.in_reserve:
        keep &= ~shapely.intersects(land.reserve_geom, polys)
    keep &= ~shapely.intersects(land.lake_geom, polys)
    county = None
    for code in rule.counties:
        inside = shapely.contains(land.county_geom[code], polys)
        if inside.sum() > 0.5 * len(polys):
            county = code
            keep &= inside
            break
    if county is None:
        return None
    if keep.sum() == 0 or keep.sum() < 0.5 * len(polys):
        return None
    return county, polys[keep]


class _Projects:
    """The placed projects: one row and geometry per field, project codes counted per
    county, year and category."""

    def __init__(self):
        self.rows: list[dict] = []
        self.geoms: list = []
        self._counters: dict[tuple, int] = {}

    def _code(self, county: str, yr: int, rule: Rule) -> str:
        k = (county, yr, rule.abbr)
        self._counters[k] = self._counters.get(k, 0) + 1
        return f"{county}-{yr}-{rule.abbr}-{self._counters[k]:03d}"

    def add(self, cat: str, county: str, yr: int, status: str, polys, *, name_suffix: str = "",
            planted: str | None = None) -> str:
        """Add one project of fields ``polys``; returns its project code."""
        rule = RULES[cat]
        pcode = self._code(county, yr, rule)
        pname = f"{COUNTIES[county][0]}{yr}年{CATEGORIES[cat][0]}项目{pcode[-3:]}{name_suffix}(合成)"
        for k, p in enumerate(polys, 1):
            self.rows.append({"project_code": f"{pcode}-{k:03d}" if planted is None else f"{pcode}-{planted}",
                              "project_name": pname, "category": cat, "county_code": county,
                              "year": yr, "status": status, "_rate": rule.investment_yuan_per_mu})
            self.geoms.append(p)
        return pcode


@dataclass
class _Placer:
    """Places projects on the land: the generator's random stream, the placed projects
    and the bounding boxes taken per category (projects of one category never touch)."""

    rng: np.random.Generator
    land: _Land
    scale: ParcelScale
    projects: _Projects = field(default_factory=_Projects)
    boxes: dict[str, list] = field(default_factory=dict)
    cdfs: dict = field(default_factory=dict)
    """(category, rule) → cumulative placement score (a category fills several years)."""

    def centre(self, cdf: np.ndarray) -> tuple[float, float]:
        """A random point of the analysis grid, cells drawn by the cumulative score ``cdf``."""
        g, rng = self.land.d.grid, self.rng
        i = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
        return g.x0 + (i % g.width + rng.random()) * g.res, g.y0 - (i // g.width + rng.random()) * g.res

    def fill(self, cat: str, yr: int, total_mu: float, statuses_for) -> None:
        """Place projects of ``cat`` until ``total_mu`` is reached."""
        rule, rng = RULES[cat], self.rng
        if (cat, rule) not in self.cdfs:
            self.cdfs[cat, rule] = np.cumsum(self.land.score(cat, rule).ravel())
        cdf = self.cdfs[cat, rule]
        if cdf[-1] == 0:
            log.warning("no land for %s", cat)
            return
        placed_mu, tries = 0.0, 0
        boxes: list = self.boxes.setdefault(cat, [])
        while placed_mu < total_mu and tries < 400:
            tries += 1
            want = np.exp(rng.uniform(*np.log(rule.project_mu))) * max(self.scale.area, 0.02) ** 0.5
            want = min(want, total_mu - placed_mu + rule.field_ha[0] * 15)
            got = _place(rng, self.land, rule, self.centre(cdf), want, _Layout(self.scale.field))
            if got is None:
                continue
            county, polys = got
            b = shapely.total_bounds(polys)
            hull = shapely.box(b[0] - 30, b[1] - 30, b[2] + 30, b[3] + 30)
            if boxes and shapely.intersects(hull, np.asarray(boxes)).any():
                continue
            boxes.append(hull)
            mu = float(shapely.area(polys).sum()) / M2_PER_MU
            self.projects.add(cat, county, yr, statuses_for(mu), polys)
            placed_mu += mu
            tries = 0


def _fill_category(placer: _Placer, cat: str, year: int) -> None:
    """Projects of ``cat``: the target year's (statuses by :data:`PLAN`) and the earlier
    years' of :data:`HISTORY` (courtyard economy: a stock built over three years)."""
    rng = placer.rng
    done, total = PLAN[cat]
    jit = rng.uniform(-0.04, 0.04)
    tgt = TARGET_MU[cat] * placer.scale.area
    done_mu, state = (done + jit) * tgt, {"done": 0.0}

    def statuses_2024(mu):
        if state["done"] + mu / 2 <= done_mu:
            state["done"] += mu
            return "accepted" if rng.random() < 0.45 else "completed"
        return str(rng.choice(["under_construction", "under_construction", "approved", "planned"]))

    if cat == "courtyard_economy":  # a stock: older years too, all in use
        for yr, share in ((2022, 0.45), (2023, 0.3), (year, total + jit - 0.75)):
            placer.fill(cat, yr, share * tgt, lambda mu: "accepted" if rng.random() < 0.7 else "completed")
        return
    placer.fill(cat, year, max(total, done + jit) * tgt, statuses_2024)
    for back, shares in HISTORY.items():
        if cat in shares:
            placer.fill(cat, year - back, shares[cat] * tgt, lambda mu: "accepted" if rng.random() < 0.6 else "completed")


def _frame(projects: _Projects, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """The parcels in EPSG:4490 with declared areas (P3 30 % too large) and investment."""
    gdf = gpd.GeoDataFrame(projects.rows, geometry=projects.geoms, crs=GK_CM123)
    area_mu = gdf.geometry.area.to_numpy() / M2_PER_MU
    noise = rng.normal(0, 0.004, len(gdf))
    gdf["declared_area_mu"] = np.round(area_mu * (1 + noise), 2)
    bad = gdf.project_code.str.endswith("-P3")
    gdf.loc[bad, "declared_area_mu"] = np.round(area_mu[bad.to_numpy()] * 1.3, 2)
    gdf["investment_wan_yuan"] = np.round(area_mu * gdf["_rate"] / 1e4 * rng.uniform(0.85, 1.15, len(gdf)), 2)
    cols = ["project_code", "project_name", "category", "county_code", "year", "status",
            "declared_area_mu", "investment_wan_yuan", "geometry"]
    gdf = gdf.drop(columns="_rate")[cols].to_crs(CGCS2000)
    gdf["geometry"] = shapely.set_precision(gdf.geometry.values, 1e-8)
    return gdf.reset_index(drop=True)


def generate_parcels(drivers: Drivers, counties: gpd.GeoDataFrame, reserves: gpd.GeoDataFrame,
                     lakes: gpd.GeoDataFrame, *, seed: int, scale: ParcelScale = ParcelScale(),
                     year: int = 2024) -> gpd.GeoDataFrame:
    """Synthetic parcels for every category, in EPSG:4490, with registry columns.

    Examples
    --------
    >>> ParcelScale(area=0.03)
    ParcelScale(area=0.03, field=1.0)
    """
    rng = np.random.default_rng([seed, 101])
    placer = _Placer(rng, _Land(drivers, counties, reserves, lakes, rng), scale)
    for cat in TARGET_MU:
        _fill_category(placer, cat, year)
    _demo_bases(placer, year)
    _plant_problems(placer, year)
    return _frame(placer.projects, rng)


def _demo_bases(placer: _Placer, year: int) -> None:
    """1 万亩-class core base (大安) and 5 千亩-class bases: contiguous touching fields."""
    rng, land = placer.rng, placer.land
    rule = RULES["demo_base"]
    plan = [(DA, 12_000.0)] + [(c, float(rng.uniform(1300, 3000))) for c in (ZL, TN, TB, TY, DA)]
    boxes = placer.boxes.setdefault("demo_base", [])
    layout = _Layout(placer.scale.field, gap=0.0, drop=0.0)
    for county, mu in plan:
        r1 = Rule((county,), rule.land, rule.field_ha, rule.project_mu, rule.aspect, abbr=rule.abbr)
        cdf = np.cumsum(land.score("demo_base", r1).ravel())
        for _ in range(500):
            got = _place(rng, land, r1, placer.centre(cdf), mu, layout)
            if got is None:
                continue
            _, polys = got
            whole = shapely.union_all(polys)
            if whole.geom_type != "Polygon" or whole.area / M2_PER_MU < mu * 0.95:
                continue
            b = whole.bounds
            hull = shapely.box(b[0] - 200, b[1] - 200, b[2] + 200, b[3] + 200)
            if boxes and shapely.intersects(hull, np.asarray(boxes)).any():
                continue
            boxes.append(hull)
            placer.projects.add("demo_base", county, year, "completed", polys)
            break
        else:
            log.warning("could not place a demonstration base in %s", county)


def _plant_problems(placer: _Placer, year: int) -> None:
    """The deliberate data problems of :data:`PLANTED`."""
    land, projects = placer.land, placer.projects
    rows, geoms = projects.rows, projects.geoms
    # P1: duplicate of a high-standard farmland field, shifted by 30 % of its width
    idx = next(i for i, r in enumerate(rows) if r["category"] == "high_standard_farmland"
               and r["year"] == year)
    src = geoms[idx]
    minx, miny, maxx, maxy = src.bounds
    dup = shapely.affinity.translate(src, 0.3 * (maxx - minx), 0.0)
    projects.add("high_standard_farmland", rows[idx]["county_code"], year, "approved", [dup],
                 name_suffix="(重复录入)", planted="P1")
    # P2: a new-paddy project inside the 莫莫格 reserve
    mo = land.reserves.geometry[land.reserves.reserve_code == "momoge"].iloc[0]
    c = shapely.get_coordinates(mo.representative_point())[0]
    polys = [shapely.box(c[0] + k * 260, c[1], c[0] + k * 260 + 250, c[1] + 800) for k in range(3)]
    projects.add("paddy_new", ZL, year, "under_construction", [shapely.union_all(polys)],
                 name_suffix="(保护区内)", planted="P2")
    # P3: a declared area 30 % too large (set in _frame)
    j = next(i for i, r in enumerate(rows) if r["category"] == "paddy_improved" and r["year"] == year)
    rows[j]["project_code"] = rows[j]["project_code"][:-4] + "-P3"
