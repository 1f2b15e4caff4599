"""Paddy suitability screening on saline-alkali land: a multi-criteria raster overlay.

The "Da'an model" (DOMAIN.md §5.1) turns soda saline-alkali land into paddy where
there is canal water, the land is flat enough to level to ±3 cm, the alkalinity can
be amended, and no nature reserve or ecological red line is touched. This module does
the screening on a planar grid (CGCS2000 3° Gauss-Krüger, EPSG:4550, by default):

1. every **criterion** turns a layer into a score in [0, 1] per cell:

   - ``derive: value`` — raster values (soil pH, EC, ESP …), scored either by
     piecewise-linear ``scores: [[value, score], …]`` (values strictly increasing;
     clamped at the ends) or by a salinity ``scheme`` (:mod:`gis.salinity`) with a
     score per class (``class_scores``);
   - ``derive: slope_deg`` — slope in degrees from the DEM on the planar grid;
   - ``derive: relief_m`` — local relief (max − min elevation) in a square window of
     ``window_m`` metres;
   - ``derive: distance_m`` — Euclidean distance to the features of one or more vector
     layers (canals, rivers), computed with ``scipy.ndimage.distance_transform_edt``
     on a grid padded by the largest scored distance, so features just outside the
     area still count;

   a score of 0 rules the cell out;
2. **exclusions** rule cells out: vector layers (nature reserves, optionally buffered)
   and raster values (water and built-up land-cover classes);
3. the **score** of a cell is the weighted mean of its criterion scores; cells scoring
   at least ``min_score`` with no zero score and no exclusion are candidates; the
   **limiting factor** is the criterion with the lowest score;
4. candidate cells are grouped into **contiguous blocks** (``scipy.ndimage.label``,
   8- or 4-connectivity); blocks smaller than ``min_block_mu`` 亩 are dropped, with cell
   areas ellipsoidal on GRS80 (:mod:`gis.area`);
5. blocks are **polygonised** (``rasterio.features.shapes``), returned in EPSG:4490
   with their ellipsoidal area in 亩, mean score, per-criterion mean scores and limiting
   factor (the criterion with the lowest mean score), and split by county when
   counties are given.

Examples
--------
>>> cfg = parse_config({"criteria": {"slope": {"layer": "dem", "derive": "slope_deg",
...                     "scores": [[0.5, 1], [2, 0]]}}, "min_block_mu": 10})
>>> cfg.criteria[0].derive, cfg.min_block_mu, cfg.crs
('slope_deg', 10.0, 'EPSG:4550')
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from itertools import pairwise
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .config import expect
from .crs import CGCS2000
from .units import mu_to_wan_mu
from .errors import ConfigError, InputError, Message, MissingCRSError
from .salinity import NODATA_CLASS, Scheme, classify, load_scheme

if TYPE_CHECKING:
    import geopandas as gpd
    import pyproj
    import xarray as xr
    from affine import Affine

log = logging.getLogger(__name__)

DERIVES = ("value", "slope_deg", "relief_m", "distance_m")
MAX_GRID_CELLS = 1_000_000_000
"""Largest analysis grid (rows × columns) a configuration may ask for: a float64 layer of
it is 8 GB. ``grid.resolution_m`` and distance scores are checked against it before
anything is allocated."""
WGS_CRS = CGCS2000  # stored geometry: CGCS2000 lon/lat


# ---------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One scored criterion."""

    name: str
    layers: tuple[str, ...]
    derive: str = "value"
    weight: float = 1.0
    breaks: tuple[tuple[float, float], ...] | None = None
    scheme: Scheme | None = None
    class_scores: tuple[float, ...] | None = None
    window_m: float = 300.0

    @property
    def layer(self) -> str:
        return self.layers[0]

    def max_distance(self) -> float:
        return max(x for x, _ in self.breaks) if self.breaks else 0.0


@dataclass(frozen=True)
class Exclusion:
    """A vector layer (optionally buffered) or raster values that rule cells out."""

    name: str
    layer: str
    buffer_m: float = 0.0
    values: tuple[float, ...] | None = None


@dataclass(frozen=True)
class SuitabilityConfig:
    """A parsed, checked suitability configuration (see :func:`parse_config`)."""

    criteria: tuple[Criterion, ...]
    exclusions: tuple[Exclusion, ...] = ()
    crs: str = "EPSG:4550"
    resolution_m: float | None = None
    grid_layer: str = "dem"
    min_score: float = 0.5
    min_block_mu: float = 0.0
    connectivity: int = 8
    origin: str = "<dict>"
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def layer_names(self) -> tuple[str, ...]:
        names = [self.grid_layer]
        for c in self.criteria:
            names += list(c.layers)
        names += [e.layer for e in self.exclusions]
        return tuple(dict.fromkeys(names))


def _at(origin: str, path: str) -> Message:
    """Where in a configuration a value is: ``origin: criteria.ph.weight`` (English)."""
    return Message("error.suit_where", origin=origin, path=path)


def _num(v: Any, where: Message) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ConfigError.of("error.suit_not_number", where=where, value=v) from None
    if not math.isfinite(x):
        raise ConfigError.of("error.suit_not_finite", where=where, value=v)
    return x


def _breaks(raw: Any, where: Message) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, (list, tuple)) or len(raw) < 2:
        raise ConfigError.of("error.suit_scores_list", where=where)
    out: list[tuple[float, float]] = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ConfigError.of("error.suit_scores_pair", where=where, i=i + 1, pair=pair)
        x, s = _num(pair[0], where), _num(pair[1], where)
        if not 0 <= s <= 1:
            raise ConfigError.of("error.suit_score_range", where=where, s=s, x=x)
        out.append((x, s))
    xs = [x for x, _ in out]
    for a, b in pairwise(xs):
        if not b > a:
            raise ConfigError.of("error.suit_thresholds", where=where, a=a, b=b, xs=xs)
    return tuple(out)


def parse_config(raw: Mapping[str, Any], origin: str = "<dict>") -> SuitabilityConfig:
    """Check a suitability configuration and return it parsed.

    Keys: ``criteria`` (name → {layer | layers, derive, weight, scores | scheme +
    class_scores, window_m}), ``exclusions`` (list of {layer, buffer_m | values}),
    ``grid`` ({layer, crs, resolution_m}), ``min_score``, ``min_block_mu``,
    ``connectivity`` (4 or 8).

    Raises
    ------
    ConfigError
        With the file (``origin``), the key and what to fix.

    Examples
    --------
    >>> parse_config({"criteria": {"ph": {"layer": "soil_ph", "scores": [[9.5, 1], [9.0, 0]]}}})
    Traceback (most recent call last):
    ...
    gis.errors.ConfigError: <dict>: criteria.ph: thresholds must be strictly increasing, but 9 follows 9.5 in [9.5, 9.0]
    """
    if not isinstance(raw, Mapping):
        raise ConfigError.of("error.suit_not_mapping", origin=origin)
    known = {"criteria", "exclusions", "grid", "min_score", "min_block_mu", "connectivity", "title_zh", "title_en", "note"}
    extra = sorted(map(str, set(raw) - known))
    if extra:
        raise ConfigError.of("error.suit_unknown_keys", origin=origin, keys=", ".join(extra), allowed=", ".join(sorted(known)))
    crit_raw = raw.get("criteria")
    if not isinstance(crit_raw, Mapping) or not crit_raw:
        raise ConfigError.of("error.suit_criteria", origin=origin)
    criteria = [_criterion(name, c, origin) for name, c in crit_raw.items()]
    exclusions = _exclusions(raw.get("exclusions"), origin)
    crs, res, grid_layer = _grid_settings(raw.get("grid"), origin)
    conn = int(_num(raw.get("connectivity", 8), _at(origin, "connectivity")))
    if conn not in (4, 8):
        raise ConfigError.of("error.suit_connectivity", origin=origin, value=conn)
    min_score = _num(raw.get("min_score", 0.5), _at(origin, "min_score"))
    if not 0 < min_score <= 1:
        raise ConfigError.of("error.suit_min_score", origin=origin, value=min_score)
    min_block = _num(raw.get("min_block_mu", 0.0), _at(origin, "min_block_mu"))
    if min_block < 0:
        raise ConfigError.of("error.suit_min_block", origin=origin)
    return SuitabilityConfig(
        criteria=tuple(criteria), exclusions=tuple(exclusions), crs=crs,
        resolution_m=res, grid_layer=grid_layer, min_score=min_score,
        min_block_mu=min_block, connectivity=conn, origin=origin, raw=dict(raw),
    )


def _criterion(name: Any, c: Any, origin: str) -> Criterion:
    """One entry of ``criteria``, checked."""
    key = f"criteria.{name}"
    where = _at(origin, key)
    if not isinstance(c, Mapping):
        raise ConfigError.of("error.suit_settings", where=where)
    layers = c.get("layers", c.get("layer"))
    if not layers:
        raise ConfigError.of("error.suit_layer", where=where)
    layers = expect(layers, "names", origin=origin, at=f"{key}.{'layers' if 'layers' in c else 'layer'}")
    derive = str(c.get("derive", "value"))
    if derive not in DERIVES:
        raise ConfigError.of("error.suit_derive", where=where, derive=derive, choices=", ".join(DERIVES))
    weight = _num(c.get("weight", 1.0), _at(origin, f"{key}.weight"))
    if weight <= 0:
        raise ConfigError.of("error.suit_weight", where=where, weight=weight)
    breaks: tuple[tuple[float, float], ...] | None = None
    scheme: Scheme | None = None
    class_scores: tuple[float, ...] | None = None
    if "scheme" in c:
        scheme, class_scores = _scheme_scores(c, derive, key, origin)
    elif "scores" in c:
        breaks = _breaks(c["scores"], where)
    else:
        raise ConfigError.of("error.suit_no_scores", where=where)
    window = _num(c.get("window_m", 300.0), _at(origin, f"{key}.window_m"))
    if derive == "distance_m" and breaks and breaks[0][0] < 0:
        raise ConfigError.of("error.suit_negative_distance", where=where)
    return Criterion(name=str(name), layers=tuple(layers), derive=derive, weight=weight,
                     breaks=breaks, scheme=scheme, class_scores=class_scores, window_m=window)


def _scheme_scores(c: Mapping[str, Any], derive: str, key: str, origin: str) -> tuple[Scheme, tuple[float, ...]]:
    """The salinity scheme of a criterion and its class scores, checked."""
    where = _at(origin, key)
    if derive != "value":
        raise ConfigError.of("error.suit_scheme_derive", where=where)
    if not isinstance(c["scheme"], Mapping):
        expect(c["scheme"], "text", origin=origin, at=f"{key}.scheme")
    try:
        scheme = load_scheme(c["scheme"])
    except ConfigError as exc:
        raise ConfigError.of("error.suit_scheme", where=where, problem=exc) from None
    cs = c.get("class_scores")
    if not isinstance(cs, Mapping):
        raise ConfigError.of("error.suit_class_scores", where=where, codes=", ".join(scheme.codes))
    unknown = sorted(set(map(str, cs)) - set(scheme.codes))
    missing = [k for k in scheme.codes if k not in cs]
    if unknown or missing:
        raise ConfigError.of("error.suit_class_scores_match", where=where, scheme=scheme.id,
                             codes=", ".join(scheme.codes), unknown=", ".join(unknown) or "-",
                             missing=", ".join(missing) or "-")
    class_scores = tuple(_num(cs[k], _at(origin, f"{key}.class_scores.{k}")) for k in scheme.codes)
    if not all(0 <= s <= 1 for s in class_scores):
        raise ConfigError.of("error.suit_class_scores_range", where=where)
    return scheme, class_scores


def _exclusions(raw: Any, origin: str) -> list[Exclusion]:
    """The ``exclusions`` list, checked."""
    out: list[Exclusion] = []
    for i, e in enumerate(expect(raw, "list", origin=origin, at="exclusions", optional=True) or []):
        key = f"exclusions[{i + 1}]"
        where = _at(origin, key)
        if not isinstance(e, Mapping) or not isinstance(e.get("layer"), str):
            raise ConfigError.of("error.suit_exclusion_layer", where=where)
        vals = e.get("values")
        if vals is not None:
            if not isinstance(vals, (list, tuple)) or not vals:
                raise ConfigError.of("error.suit_exclusion_values", where=where)
            vals = tuple(_num(v, _at(origin, f"{key}.values")) for v in vals)
        buf = _num(e.get("buffer_m", 0.0), _at(origin, f"{key}.buffer_m"))
        out.append(Exclusion(name=str(e.get("name", e["layer"])), layer=e["layer"], buffer_m=buf, values=vals))
    return out


def _grid_settings(grid: Any, origin: str) -> tuple[str, float | None, str]:
    """``(crs, resolution_m, layer)`` of the ``grid`` mapping, checked (a projected CRS)."""
    import pyproj

    grid = expect(grid, "mapping", origin=origin, at="grid", optional=True) or {}
    res = grid.get("resolution_m")
    res = None if res is None else _num(res, _at(origin, "grid.resolution_m"))
    if res is not None and res <= 0:
        raise ConfigError.of("error.suit_resolution", origin=origin)
    crs = expect(grid.get("crs", "EPSG:4550"), "text", origin=origin, at="grid.crs")
    try:
        projected = pyproj.CRS.from_user_input(crs).is_projected
    except pyproj.exceptions.CRSError:
        projected = False
    if not projected:
        raise ConfigError.of("error.suit_grid_crs", origin=origin, crs=crs)
    layer = expect(grid.get("layer", "dem"), "text", origin=origin, at="grid.layer")
    return crs, res, layer


# ---------------------------------------------------------------------------------
# raster building blocks (pure numpy)
# ---------------------------------------------------------------------------------


def slope_degrees(dem: np.ndarray, res_x: float, res_y: float | None = None) -> np.ndarray:
    """Slope in degrees of a DEM on a planar grid (metres), central differences.

    Examples
    --------
    >>> dem = np.tile(np.arange(4.0) * 10 * np.tan(np.radians(2)), (3, 1))  # 2° ramp, 10 m cells
    >>> np.round(slope_degrees(dem, 10.0), 6)[1]
    array([2., 2., 2., 2.])
    """
    res_y = res_x if res_y is None else res_y
    z = np.asarray(dem, dtype="float64")
    dzdy, dzdx = np.gradient(z, abs(res_y), abs(res_x))
    slope: np.ndarray = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    return slope


def local_relief(dem: np.ndarray, window_cells: int) -> np.ndarray:
    """Max − min elevation within a square window of ``window_cells`` (odd) cells.

    NaN cells stay NaN; NaNs around a cell are ignored.

    Examples
    --------
    >>> local_relief(np.array([[0.0, 1.0, 5.0]]), 3)
    array([[1., 5., 4.]])
    """
    from scipy import ndimage

    z = np.asarray(dem, dtype="float64")
    size = min(max(1, int(window_cells) | 1), 2 * max(z.shape) + 1)  # wider windows see the same cells
    nan = np.isnan(z)
    hi = ndimage.maximum_filter(np.where(nan, -np.inf, z), size=size, mode="nearest")
    lo = ndimage.minimum_filter(np.where(nan, np.inf, z), size=size, mode="nearest")
    return np.where(nan, np.nan, hi - lo)


def distance_to(mask: np.ndarray, res_x: float, res_y: float | None = None) -> np.ndarray:
    """Distance in metres from each cell centre to the nearest ``True`` cell centre.

    Infinity everywhere if the mask has no ``True`` cell.

    Examples
    --------
    >>> distance_to(np.array([[True, False, False]]), 30.0)
    array([[ 0., 30., 60.]])
    """
    from scipy import ndimage

    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return np.full(m.shape, np.inf)
    res_y = res_x if res_y is None else res_y
    dist: np.ndarray = ndimage.distance_transform_edt(~m, sampling=(abs(res_y), abs(res_x)))
    return dist


def score_breaks(values: np.ndarray, breaks: Sequence[Sequence[float]]) -> np.ndarray:
    """Piecewise-linear score of values; clamped outside the breakpoints; NaN stays NaN.

    Examples
    --------
    >>> score_breaks(np.array([0.0, 1.0, 1.5, 5.0, np.nan]), [[1, 1.0], [2, 0.0]])
    array([1. , 1. , 0.5, 0. , nan])
    """
    xs = np.array([b[0] for b in breaks], dtype="float64")
    ss = np.array([b[1] for b in breaks], dtype="float64")
    v = np.asarray(values, dtype="float64")
    out = np.interp(np.where(np.isnan(v), xs[0], v), xs, ss)
    return np.where(np.isnan(v), np.nan, out)


def cell_area_mu(transform: Affine, shape: tuple[int, ...], crs: Any) -> np.ndarray:
    """Ellipsoidal (GRS80) area in 亩 of every cell of a grid
    (:meth:`gis.coverage.Grid.cell_area_m2`).

    Examples
    --------
    >>> from rasterio.transform import from_origin
    >>> a = cell_area_mu(from_origin(500000, 5040000, 100, 100), (2, 2), "EPSG:4550")
    >>> bool(np.allclose(a, 15.0, rtol=1e-3))  # 1 ha = 15 亩, on the central meridian
    True
    """
    from .coverage import Grid
    from .units import m2_to_mu

    return m2_to_mu(Grid(transform, shape[1], shape[0], crs).cell_area_m2())


def contiguous_blocks(mask: np.ndarray, cell_mu: np.ndarray, min_mu: float,
                      connectivity: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Label contiguous ``True`` cells and drop blocks smaller than ``min_mu`` 亩.

    Returns ``(labels, areas)``: labels 1..n (0 = not a block), renumbered after
    dropping; ``areas[i]`` is the area in 亩 of block ``i + 1``.

    Examples
    --------
    >>> m = np.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool)
    >>> lab, area = contiguous_blocks(m, np.full(m.shape, 2.0), min_mu=4)
    >>> lab.tolist(), area.tolist()
    ([[1, 1, 0, 0], [1, 0, 0, 0]], [6.0])
    """
    from scipy import ndimage

    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    lab, n = ndimage.label(np.asarray(mask, bool), structure=structure)
    if n == 0:
        return lab.astype("int32"), np.zeros(0)
    areas = np.bincount(lab.ravel(), weights=np.asarray(cell_mu, "float64").ravel(), minlength=n + 1)[1:]
    keep = areas >= min_mu
    new = np.zeros(n + 1, dtype="int32")
    new[1:][keep] = np.arange(1, keep.sum() + 1, dtype="int32")
    return new[lab], areas[keep]


# ---------------------------------------------------------------------------------
# layers onto the grid
# ---------------------------------------------------------------------------------


def _raster_crs(da: xr.DataArray, name: str) -> Any:
    crs = da.rio.crs if hasattr(da, "rio") else None
    if crs is None:
        raise MissingCRSError.of("error.suit_raster_no_crs", name=name)
    return crs


def _vector_in(gdf: gpd.GeoDataFrame, name: str, crs: Any) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise MissingCRSError.of("error.suit_vector_no_crs", name=name)
    return gdf.to_crs(crs)


def _rasterize(geoms: Iterable[Any], transform: Affine, shape: tuple[int, ...], all_touched: bool = True) -> np.ndarray:
    from rasterio.features import rasterize

    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros(shape, dtype=bool)
    burnt: np.ndarray = rasterize(((g, 1) for g in geoms), out_shape=shape, transform=transform, fill=0,
                                  all_touched=all_touched, dtype="uint8").astype(bool)
    return burnt


def _grid_of(dem: xr.DataArray, cfg: SuitabilityConfig) -> xr.DataArray:
    """The planar analysis grid: the DEM, reprojected when its CRS or size differs."""
    import pyproj
    from rasterio.enums import Resampling

    src_crs = _raster_crs(dem, cfg.grid_layer)
    dem = dem.squeeze(drop=True) if dem.ndim > 2 else dem
    target = pyproj.CRS.from_user_input(cfg.crs)
    if not target.is_projected:
        raise ConfigError.of("error.suit_grid_crs", origin=cfg.origin, crs=cfg.crs)
    res = cfg.resolution_m
    same_crs = pyproj.CRS.from_user_input(src_crs) == target
    cur = abs(float(dem.rio.resolution()[0]))
    if same_crs and (res is None or math.isclose(cur, res, rel_tol=1e-6)):
        planar: xr.DataArray = dem.astype("float64")
        return planar
    if res is None:
        raise ConfigError.of("error.suit_grid_resolution", origin=cfg.origin, layer=cfg.grid_layer, src=src_crs,
                             crs=cfg.crs)
    _check_grid_size(dem, target, res, cfg)
    grid: xr.DataArray = dem.astype("float64").rio.reproject(target, resolution=res, resampling=Resampling.bilinear,
                                                             nodata=np.nan)
    return grid


def _round_up(x: float) -> float:
    """``x`` rounded up to two significant digits: 0.03162 → 0.032."""
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return round(math.ceil(x / step) * step, 12)


def _check_grid_size(dem: xr.DataArray, target: pyproj.CRS, res: float, cfg: SuitabilityConfig) -> None:
    """Refuse a ``grid.resolution_m`` whose grid over the DEM's extent exceeds :data:`MAX_GRID_CELLS`."""
    left, bottom, right, top = dem.rio.transform_bounds(target, densify_pts=21)
    area = abs(right - left) * abs(top - bottom)
    cells = area / res**2 if res**2 > 0 else math.inf  # 1e-300² is 0.0 in floating point
    if cells > MAX_GRID_CELLS:
        raise ConfigError.of("error.suit_grid_too_fine", origin=cfg.origin, res=res, layer=cfg.grid_layer,
                             area_km2=area / 1e6, cells=cells, limit=MAX_GRID_CELLS,
                             min_res=_round_up(math.sqrt(area / MAX_GRID_CELLS)))


def _check_distance_padding(cfg: SuitabilityConfig, shape: tuple[int, ...], res: float) -> None:
    """Refuse distance scores whose padded grid (features up to the largest distance
    outside the grid count) would exceed :data:`MAX_GRID_CELLS`."""
    for c in cfg.criteria:
        if c.derive != "distance_m":
            continue
        pad = int(math.ceil(c.max_distance() / res)) + 1
        cells = (shape[0] + 2 * pad) * (shape[1] + 2 * pad)
        if cells > MAX_GRID_CELLS:
            raise ConfigError.of("error.suit_distance_too_far", where=_at(cfg.origin, f"criteria.{c.name}"),
                                 dist=c.max_distance(), res=res, cells=cells, limit=MAX_GRID_CELLS)


def _onto(da: xr.DataArray, grid_da: xr.DataArray, name: str, nearest: bool) -> np.ndarray:
    from rasterio.enums import Resampling

    _raster_crs(da, name)
    da = da.squeeze(drop=True) if da.ndim > 2 else da
    if da.rio.crs == grid_da.rio.crs and da.shape == grid_da.shape and \
            tuple(da.rio.transform()) == tuple(grid_da.rio.transform()):
        return np.asarray(da.values, dtype="float64")
    nod = da.rio.nodata
    res = Resampling.nearest if nearest else Resampling.bilinear
    src = da.astype("float64")
    if nod is not None and not np.isnan(nod):
        src = src.where(src != nod)
    src = src.rio.write_nodata(np.nan, encoded=False)
    return np.asarray(src.rio.reproject_match(grid_da, resampling=res, nodata=np.nan).values, dtype="float64")


# ---------------------------------------------------------------------------------
# the screening
# ---------------------------------------------------------------------------------


@dataclass
class SuitabilityResult:
    """What :func:`screen` returns."""

    candidates: Any  # GeoDataFrame, EPSG:4490, one row per candidate (piece per county)
    by_county: pd.DataFrame
    score: Any  # DataArray on the grid: overall score, NaN where ruled out or no data
    limiting: Any  # DataArray of criterion index (0..n-1), -1 where no data
    criteria: tuple[str, ...]
    config: SuitabilityConfig

    @property
    def total_mu(self) -> float:
        return float(self.candidates["area_mu"].sum()) if len(self.candidates) else 0.0


def _criterion_values(c: Criterion, grid_da: xr.DataArray, rasters: Mapping[str, Any],
                      vectors: Mapping[str, Any]) -> np.ndarray:
    t = grid_da.rio.transform()
    res_x, res_y = abs(t.a), abs(t.e)
    if c.derive in ("slope_deg", "relief_m"):
        dem = grid_da.values if c.layer == "__grid__" else _onto(_need(rasters, c.layer, "raster", c), grid_da, c.layer, False)
        if c.derive == "slope_deg":
            return slope_degrees(dem, res_x, res_y)
        return local_relief(dem, int(round(c.window_m / res_x)))
    if c.derive == "distance_m":
        pad = int(math.ceil(c.max_distance() / min(res_x, res_y))) + 1
        h, w = grid_da.shape
        from affine import Affine

        pt = Affine(t.a, t.b, t.c - pad * t.a, t.d, t.e, t.f - pad * t.e)
        mask = np.zeros((h + 2 * pad, w + 2 * pad), bool)
        for name in c.layers:
            gdf = _vector_in(_need(vectors, name, "vector", c), name, grid_da.rio.crs)
            mask |= _rasterize(gdf.geometry.values, pt, mask.shape, all_touched=True)
        d = distance_to(mask, res_x, res_y)
        window: np.ndarray = d[pad:pad + h, pad:pad + w]
        return window
    return _onto(_need(rasters, c.layer, "raster", c), grid_da, c.layer, nearest=False)


def _need(store: Mapping[str, Any], name: str, kind: str, what: Criterion | Exclusion) -> Any:
    if name not in store or store[name] is None:
        who = f"criterion {what.name!r}" if isinstance(what, Criterion) else f"exclusion {what.name!r}"
        raise InputError(
            f"{who} needs the {kind} layer {name!r}, which was not given; add it to the workspace "
            f"catalogue (name or role {name!r}) or change the layer in the configuration"
        )
    return store[name]


def _score(c: Criterion, values: np.ndarray) -> np.ndarray:
    if c.scheme is not None:
        assert c.class_scores is not None  # parse_config sets the scheme and its class scores together
        cls = classify(values, c.scheme)
        table = np.array([*c.class_scores, np.nan])
        scored: np.ndarray = table[np.where(cls == NODATA_CLASS, len(c.class_scores), cls)]
        return scored
    assert c.breaks is not None  # parse_config gives every criterion a scheme or breaks
    return score_breaks(values, c.breaks)


def screen(rasters: Mapping[str, Any], vectors: Mapping[str, Any], config: SuitabilityConfig | Mapping[str, Any],
           counties: gpd.GeoDataFrame | None = None) -> SuitabilityResult:
    """Screen land for paddy: criterion scores, exclusions, blocks, polygons, areas.

    Parameters
    ----------
    rasters : mapping
        Layer name → xarray DataArray with a CRS (rioxarray); must hold the grid layer
        (``grid.layer``, default ``"dem"``).
    vectors : mapping
        Layer name → GeoDataFrame with a CRS.
    config : SuitabilityConfig or mapping
        See :func:`parse_config`.
    counties : GeoDataFrame, optional
        With ``county_code``; candidates are split by county.

    Returns
    -------
    SuitabilityResult
    """
    cfg = config if isinstance(config, SuitabilityConfig) else parse_config(config)
    if cfg.grid_layer not in rasters:
        raise InputError.of("error.suit_grid_layer", layer=cfg.grid_layer)
    grid_da = _grid_of(rasters[cfg.grid_layer], cfg)
    t = grid_da.rio.transform()
    _check_distance_padding(cfg, grid_da.shape, min(abs(t.a), abs(t.e)))
    names = tuple(c.name for c in cfg.criteria)
    scores = _criterion_scores(cfg, grid_da, rasters, vectors)
    excluded = _excluded(cfg, grid_da, rasters, vectors)
    total, limiting, nodata, ok = _overall(cfg, scores, excluded)
    cell_mu = cell_area_mu(t, grid_da.shape, grid_da.rio.crs)
    labels, block_mu = contiguous_blocks(ok, cell_mu, cfg.min_block_mu, cfg.connectivity)
    score_da = grid_da.copy(data=np.where(nodata | excluded, np.nan, total)).rename("score")
    limit_da = grid_da.copy(data=limiting).rename("limiting")
    limit_da.attrs = {"criteria": ",".join(names), "nodata": -1}
    cand = _block_polygons(labels, len(block_mu), cell_mu, (total, scores), names=names, grid_da=grid_da,
                           connectivity=cfg.connectivity)
    cand, by = _candidate_tables(_split_by_counties(cand, counties, grid_da.rio.crs))
    return SuitabilityResult(candidates=cand, by_county=by, score=score_da, limiting=limit_da,
                             criteria=names, config=cfg)


def _criterion_scores(cfg: SuitabilityConfig, grid_da: xr.DataArray, rasters: Mapping[str, Any],
                      vectors: Mapping[str, Any]) -> np.ndarray:
    """Score of every criterion on the grid: (criteria, rows, cols), NaN where no data."""
    scores = np.empty((len(cfg.criteria),) + grid_da.shape, dtype="float32")  # bounded memory on big grids
    for i, crit in enumerate(cfg.criteria):
        c = crit
        if c.layer == cfg.grid_layer and c.derive in ("slope_deg", "relief_m"):
            c = Criterion(**{**c.__dict__, "layers": ("__grid__",)})
        scores[i] = _score(c, _criterion_values(c, grid_da, rasters, vectors))
    return scores


def _excluded(cfg: SuitabilityConfig, grid_da: xr.DataArray, rasters: Mapping[str, Any],
              vectors: Mapping[str, Any]) -> np.ndarray:
    """Cells ruled out: raster classes listed, or vector features (with their buffer)."""
    import shapely

    t = grid_da.rio.transform()
    excluded = np.zeros(grid_da.shape, bool)
    for e in cfg.exclusions:
        if e.values is not None:
            vals = _onto(_need(rasters, e.layer, "raster", e), grid_da, e.layer, nearest=True)
            excluded |= np.isin(vals, e.values)
        else:
            gdf = _vector_in(_need(vectors, e.layer, "vector", e), e.layer, grid_da.rio.crs)
            geoms = gdf.geometry.values
            if e.buffer_m:
                geoms = shapely.buffer(geoms, e.buffer_m)
            excluded |= _rasterize(geoms, t, grid_da.shape, all_touched=False)
    return excluded


def _overall(cfg: SuitabilityConfig, scores: np.ndarray,
             excluded: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted overall score, limiting criterion, no-data cells and the candidate cells."""
    weights = np.array([c.weight for c in cfg.criteria])
    nodata = np.isnan(scores).any(axis=0)
    filled = np.nan_to_num(scores, nan=0.0)
    total = (np.tensordot(weights, filled, axes=1) / weights.sum()).astype("float32")
    limiting = np.where(nodata, -1, np.argmin(filled, axis=0)).astype("int16")
    ok = ~nodata & ~excluded & (filled > 0).all(axis=0) & (total >= cfg.min_score - 1e-6)
    return total, limiting, nodata, ok


def _block_polygons(labels: np.ndarray, n: int, cell_mu: np.ndarray, total_scores: tuple[np.ndarray, np.ndarray], *,
                    names: tuple[str, ...], grid_da: xr.DataArray, connectivity: int) -> gpd.GeoDataFrame:
    """One polygon per block with its area-weighted scores and limiting factor (grid CRS)."""
    import geopandas as gpd
    import shapely
    from rasterio.features import shapes

    if not n:
        cols = ["candidate_id", "score", "limiting_factor"] + [f"score_{nm}" for nm in names]
        return gpd.GeoDataFrame({k: [] for k in cols}, geometry=[], crs=grid_da.rio.crs)
    total, scores = total_scores
    w = cell_mu.ravel()
    lab = labels.ravel()
    den = np.bincount(lab, weights=w, minlength=n + 1)[1:]
    mean_total = np.bincount(lab, weights=w * total.ravel(), minlength=n + 1)[1:] / den
    mean_crit = np.stack([np.bincount(lab, weights=w * scores[i].ravel(), minlength=n + 1)[1:] / den
                          for i in range(len(names))], axis=1)
    parts: dict[int, list[Any]] = {}
    for geom, val in shapes(labels, mask=labels > 0, transform=grid_da.rio.transform(), connectivity=connectivity):
        parts.setdefault(int(val), []).append(shapely.geometry.shape(geom))
    geoms = [shapely.union_all(parts[k]) for k in range(1, n + 1)]
    data = {"candidate_id": [f"C{k:04d}" for k in range(1, n + 1)],
            "score": np.round(mean_total, 4),
            "limiting_factor": [names[j] for j in np.argmin(mean_crit, axis=1)]}
    for i, nm in enumerate(names):
        data[f"score_{nm}"] = np.round(mean_crit[:, i], 4)
    return gpd.GeoDataFrame(data, geometry=geoms, crs=grid_da.rio.crs)


def _split_by_counties(cand: gpd.GeoDataFrame, counties: gpd.GeoDataFrame | None, crs: Any) -> gpd.GeoDataFrame:
    """Candidates cut by the county polygons (``county_code`` None without counties)."""
    from .overlay import split_frame

    if counties is not None and len(cand):
        cty = _vector_in(counties, "counties", crs)
        if "county_code" not in cty.columns:
            raise InputError.of("error.counties_no_code", columns=", ".join(cty.columns))
        # tracking's tiled split (gis.overlay), not geopandas.overlay: same pieces, ~8× less CPU
        cand = split_frame(cand, cty[["county_code", "geometry"]], "county_code", tile=10_000.0)
        cand = cand[~cand.geometry.is_empty]
    elif "county_code" not in cand.columns:
        cand["county_code"] = None
    return cand


def _candidate_tables(cand: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Candidates in EPSG:4490 with ellipsoidal 亩, columns in order; the per-county totals."""
    from .area import area_mu

    cand = cand.to_crs(WGS_CRS)
    cand["area_mu"] = area_mu(cand.geometry.values, crs=WGS_CRS) if len(cand) else []
    cand = cand[cand["area_mu"] > 1e-6] if len(cand) else cand
    front = ["candidate_id", "county_code", "area_mu", "score", "limiting_factor"]
    cand = cand[front + [c for c in cand.columns if c not in front and c != "geometry"] + ["geometry"]]
    cand = cand.sort_values(["candidate_id", "county_code"], na_position="last").reset_index(drop=True)
    by = cand.groupby("county_code", dropna=False).agg(n_candidates=("candidate_id", "nunique"),
                                                       area_mu=("area_mu", "sum")).reset_index()
    by["area_wan_mu"] = mu_to_wan_mu(by["area_mu"])
    return cand, by
