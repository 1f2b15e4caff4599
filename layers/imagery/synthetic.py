"""SYNTHETIC Sentinel-2 L2A products in the real file layout, with an NDVI you choose.

For tests, the demo and benchmarks: :func:`write_s2_product` writes a ``.SAFE`` folder
exactly as ESA lays it out — ``MTD_MSIL2A.xml`` and ``GRANULE/<id>/MTD_TL.xml`` copied
from a real product (``templates/``, see its README) with the time, tile, spacecraft,
file names, cloud percentage, footprint and georeferencing rewritten; JPEG 2000 bands
(GDAL's JP2OpenJPEG driver, lossless) B02 B03 B04 B08 at the product resolution and B8A
B11 B12 SCL at twice it (10 m / 20 m as in real products), and ``QI_DATA/MSK_CLDPRB``
at the coarse size (:func:`cloud_probability`). Digital numbers follow the
template's baseline 04.00: ``DN = reflectance × 10000 + 1000``.

The scene is set by two arrays on the product's fine grid: ``ndvi`` (red reflectance is
0.05, NIR is chosen so that (NIR − R)/(NIR + R) equals it; NaN = no data) and ``scl``
(Scene Classification, sampled at the coarse resolution from its top-left fine cell).
Cells classed cloud (8, 9) or thin cirrus (10) get bright, flat cloud reflectances
(NDVI ≈ 0.02), so an unmasked cloud would look like a crash of the vegetation.

Everything made here is synthetic: the product id ends in ``_SYNTHETIC`` instead of a
generation time, and :data:`SYNTHETIC_NOTE` says so.

Examples
--------
>>> import numpy as np, tempfile
>>> from datetime import datetime, timezone
>>> spec = ProductSpec(time=datetime(2024, 7, 1, 2, 50, tzinfo=timezone.utc), crs="EPSG:32651",
...                    ulx=600000, uly=5020000, res=10)
>>> safe = write_s2_product(tempfile.mkdtemp(), spec, np.full((4, 4), 0.6))
>>> from layers.imagery import open_product
>>> p = open_product(safe)
>>> p.id, p.tile, p.crs
('S2B_MSIL2A_20240701T025000_N0400_R032_T51TWL_SYNTHETIC', '51TWL', 'EPSG:32651')
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
SYNTHETIC_NOTE = "SYNTHETIC Sentinel-2 L2A product made by agrigis (layers.imagery.synthetic); not an observation"

RED = 0.05
"""Red reflectance of every clear synthetic cell."""
CLOUD = {"B02": 0.45, "B03": 0.44, "B04": 0.42, "B08": 0.44, "B8A": 0.44, "B11": 0.35, "B12": 0.3}
"""Reflectance of cloudy cells (SCL 8, 9, 10): bright and flat."""
CLEAR = {"B02": 0.04, "B03": 0.07, "B11": 0.22, "B12": 0.16}
"""Reflectance of the bands the NDVI does not set, for clear cells."""
FINE_BANDS = ("B02", "B03", "B04", "B08")
COARSE_BANDS = ("B8A", "B11", "B12", "SCL")
OFFSET, QUANTIFICATION = 1000, 10000  # baseline 04.00 of the template

_OLD = {"uri": "S2A_MSIL2A_20221005T115411_N0400_R023_T29UNU_20221005T164454",
        "granule": "L2A_T29UNU_A038058_20221005T115407", "tile": "29UNU", "stamp": "20221005T115411",
        "stamp_ds": "20221005T115407", "gen": "20221005T164454", "gen_l1": "20221005T153022"}


@dataclass(frozen=True)
class ProductSpec:
    """Where and when a synthetic product is.

    ``ulx``/``uly`` is the upper-left corner in ``crs`` (a UTM zone, as real tiles),
    ``res`` the fine cell size (10 m → coarse bands at 20 m).
    """

    time: datetime
    crs: str = "EPSG:32651"
    ulx: float = 600000.0
    uly: float = 5020000.0
    res: int = 10
    tile: str = "51TWL"
    spacecraft: str = "Sentinel-2B"
    orbit: int = 32

    @property
    def stamp(self) -> str:
        t = self.time.astimezone(timezone.utc) if self.time.tzinfo else self.time
        return t.strftime("%Y%m%dT%H%M%S")

    @property
    def product_id(self) -> str:
        sat = "S2A" if self.spacecraft.endswith("A") else ("S2C" if self.spacecraft.endswith("C") else "S2B")
        return f"{sat}_MSIL2A_{self.stamp}_N0400_R{self.orbit:03d}_T{self.tile}_SYNTHETIC"


# ------------------------------------------------------------------------------ pixels


def band_dns(ndvi: np.ndarray, scl: np.ndarray) -> dict[str, np.ndarray]:
    """Digital numbers (uint16, baseline 04.00) of every band for ``ndvi`` and ``scl``
    on one grid; NaN NDVI or SCL 0 → DN 0 (no data).

    Examples
    --------
    >>> dn = band_dns(np.array([[0.6, np.nan]]), np.array([[4, 0]], dtype="uint8"))
    >>> dn["B04"].tolist(), dn["B08"].tolist()
    ([[1500, 0]], [[3000, 0]])
    """
    ndvi = np.asarray(ndvi, dtype="float64")
    nodata = ~np.isfinite(ndvi) | (scl == 0)
    cloud = np.isin(scl, (8, 9, 10))
    n = np.clip(np.nan_to_num(ndvi), -0.9, 0.95)
    refl = {"B04": np.full(ndvi.shape, RED), "B08": RED * (1 + n) / (1 - n)}
    refl["B8A"] = refl["B08"]
    refl.update({b: np.full(ndvi.shape, v) for b, v in CLEAR.items()})
    out = {}
    for band, clear in refl.items():
        r = np.where(cloud, CLOUD[band], clear)
        dn = np.rint(r * QUANTIFICATION + OFFSET)
        out[band] = np.where(nodata, 0, np.clip(dn, 1, 65535)).astype("uint16")
    return out


CLOUD_PROBABILITY = {8: 60, 9: 90, 10: 30, 3: 20}
"""``MSK_CLDPRB`` (%) written for SCL classes (cloud medium/high, cirrus, shadow); 5 elsewhere."""


def cloud_probability(scl: np.ndarray) -> np.ndarray:
    """The synthetic ``MSK_CLDPRB`` (uint8 %) of an SCL layer (:data:`CLOUD_PROBABILITY`).

    Examples
    --------
    >>> cloud_probability(np.array([[4, 9, 10]], dtype="uint8")).tolist()
    [[5, 90, 30]]
    """
    out = np.full(scl.shape, 5, dtype="uint8")
    for cls, p in CLOUD_PROBABILITY.items():
        out[scl == cls] = p
    return out


def _write_jp2(path: Path, data: np.ndarray, crs: str, transform) -> None:
    import rasterio

    path.parent.mkdir(parents=True, exist_ok=True)
    profile = dict(driver="JP2OpenJPEG", width=data.shape[1], height=data.shape[0], count=1, dtype=data.dtype,
                   crs=crs, transform=transform, QUALITY=100, REVERSIBLE="YES")
    if max(data.shape) > 1024:  # tiles of 1024 as ESA's products; small images are one tile
        profile.update(BLOCKXSIZE=1024, BLOCKYSIZE=1024)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


# ------------------------------------------------------------------------------ XML


def _footprint(spec: ProductSpec, shape: tuple[int, int]) -> str:
    """``EXT_POS_LIST`` (lat lon pairs, closed ring) of the product's corners."""
    import pyproj

    h, w = shape
    xs = [spec.ulx, spec.ulx + w * spec.res, spec.ulx + w * spec.res, spec.ulx, spec.ulx]
    ys = [spec.uly, spec.uly, spec.uly - h * spec.res, spec.uly - h * spec.res, spec.uly]
    lon, lat = pyproj.Transformer.from_crs(spec.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    return " ".join(f"{a:.6f} {o:.6f}" for a, o in zip(lat, lon, strict=True)) + " "


def _renamed(text: str, spec: ProductSpec, granule: str) -> str:
    t = spec.time.astimezone(timezone.utc)
    iso = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    text = text.replace(_OLD["uri"], spec.product_id).replace(_OLD["granule"], granule)
    text = text.replace(_OLD["stamp"], spec.stamp).replace(_OLD["stamp_ds"], spec.stamp)
    text = text.replace(_OLD["gen"], spec.stamp).replace(_OLD["gen_l1"], spec.stamp)
    text = text.replace(f"T{_OLD['tile']}", f"T{spec.tile}").replace("Sentinel-2A", spec.spacecraft)
    text = re.sub(r"2022-10-05T\d\d:\d\d:\d\d(\.\d+)?Z", iso, text)
    return text.replace("S2A_OPER", f"{spec.product_id[:3]}_OPER")


def _product_xml(spec: ProductSpec, granule: str, files: list[str], cloud: float, shape) -> str:
    text = _renamed((TEMPLATES / "MTD_MSIL2A.xml").read_text(encoding="utf-8"), spec, granule)
    lines = "".join(f"\n                        <IMAGE_FILE>{f}</IMAGE_FILE>" for f in files)
    text = re.sub(r"(\n\s*<IMAGE_FILE>[^<]+</IMAGE_FILE>)+", lambda m: lines, text, count=1)
    text = re.sub(r"<Cloud_Coverage_Assessment>[^<]*<", f"<Cloud_Coverage_Assessment>{cloud:.6f}<", text)
    text = re.sub(r"<EXT_POS_LIST>[^<]*<", f"<EXT_POS_LIST>{_footprint(spec, shape)}<", text)
    return text


def _tile_xml(spec: ProductSpec, granule: str, cloud: float, shape) -> str:
    import pyproj

    text = _renamed((TEMPLATES / "MTD_TL.xml").read_text(encoding="utf-8"), spec, granule)
    name = pyproj.CRS.from_user_input(spec.crs).name
    text = re.sub(r"<HORIZONTAL_CS_NAME>[^<]*<", f"<HORIZONTAL_CS_NAME>{name}<", text)
    text = re.sub(r"<HORIZONTAL_CS_CODE>[^<]*<", f"<HORIZONTAL_CS_CODE>{spec.crs}<", text)
    h, w = shape

    def size(m: re.Match) -> str:
        f = int(m.group(1)) / spec.res  # sizes at 10/20/60 m scaled to this product's cells
        return (f'<Size resolution="{m.group(1)}">\n        <NROWS>{int(np.ceil(h / f))}</NROWS>\n'
                f'        <NCOLS>{int(np.ceil(w / f))}</NCOLS>\n      </Size>')

    def geopos(m: re.Match) -> str:
        r = int(m.group(1)) * spec.res // 10
        return (f'<Geoposition resolution="{m.group(1)}">\n        <ULX>{spec.ulx:g}</ULX>\n        <ULY>{spec.uly:g}</ULY>\n'
                f'        <XDIM>{r}</XDIM>\n        <YDIM>-{r}</YDIM>\n      </Geoposition>')

    text = re.sub(r'<Size resolution="(\d+)">.*?</Size>', size, text, flags=re.S)
    text = re.sub(r'<Geoposition resolution="(\d+)">.*?</Geoposition>', geopos, text, flags=re.S)
    return re.sub(r"<CLOUDY_PIXEL_PERCENTAGE>[^<]*<", f"<CLOUDY_PIXEL_PERCENTAGE>{cloud:.6f}<", text)


# ------------------------------------------------------------------------------ product


def write_s2_product(folder: str | os.PathLike, spec: ProductSpec, ndvi: np.ndarray,
                     scl: np.ndarray | None = None) -> Path:
    """Write a SYNTHETIC Sentinel-2 L2A ``.SAFE`` folder into ``folder``; return its path.

    Parameters
    ----------
    folder : path
        Where the ``.SAFE`` folder goes (created if needed).
    spec : ProductSpec
        Time, CRS, upper-left corner, cell size, tile and spacecraft.
    ndvi : 2-D array
        NDVI of each fine cell (rows × columns of ``spec.res`` m); NaN = no data.
    scl : 2-D uint8 array, optional
        Scene Classification of each fine cell (default 4, vegetation); sampled at the
        coarse resolution (every other cell) for ``SCL_20m``.
    """
    from affine import Affine

    ndvi = np.asarray(ndvi, dtype="float64")
    scl = np.full(ndvi.shape, 4, dtype="uint8") if scl is None else np.asarray(scl, dtype="uint8")
    safe = Path(folder) / f"{spec.product_id}.SAFE"
    names = s2_file_names(spec)
    fine, coarse = spec.res, spec.res * 2
    dns = band_dns(ndvi, scl)
    dns_coarse = band_dns(ndvi[::2, ::2], scl[::2, ::2])
    dns_coarse["SCL"] = np.where(np.isfinite(ndvi[::2, ::2]), scl[::2, ::2], 0).astype("uint8")
    files = []
    for bands, res, data in ((FINE_BANDS, fine, dns), (COARSE_BANDS, coarse, dns_coarse)):
        for band in bands:
            rel = names[band].removesuffix(".jp2")
            _write_jp2(safe / f"{rel}.jp2", data[band], spec.crs, Affine(res, 0, spec.ulx, 0, -res, spec.uly))
            files.append(rel)
    prob = cloud_probability(dns_coarse["SCL"])
    _write_jp2(safe / names["CLDPRB"], prob, spec.crs, Affine(coarse, 0, spec.ulx, 0, -coarse, spec.uly))
    valid = np.isfinite(ndvi) & (scl != 0)
    cloud = float(np.isin(scl, (8, 9, 10))[valid].mean() * 100) if valid.any() else 0.0
    _write_metadata(safe, spec, files, cloud, ndvi.shape)
    log.debug("synthetic product %s", safe)
    return safe


def _granule(spec: ProductSpec) -> str:
    return f"L2A_T{spec.tile}_A{spec.orbit * 1000 + 58:06d}_{spec.stamp}"


def _write_metadata(safe: Path, spec: ProductSpec, files: list[str], cloud: float, shape: tuple[int, int]) -> None:
    """``MTD_MSIL2A.xml``, the granule's ``MTD_TL.xml`` and ``SYNTHETIC.txt`` of ``safe``."""
    granule = _granule(spec)
    (safe / "MTD_MSIL2A.xml").write_text(_product_xml(spec, granule, files, cloud, shape), encoding="utf-8")
    (safe / "GRANULE" / granule / "MTD_TL.xml").write_text(_tile_xml(spec, granule, cloud, shape), encoding="utf-8")
    (safe / "SYNTHETIC.txt").write_text(SYNTHETIC_NOTE + "\n", encoding="utf-8")


def s2_file_names(spec: ProductSpec) -> dict[str, str]:
    """Layer (``B04``, ``SCL``, ``CLDPRB`` …) → path inside the ``.SAFE`` folder of a
    product of ``spec``, as ESA names them (``CLDPRB`` is ``QI_DATA/MSK_CLDPRB_20m.jp2``).

    Examples
    --------
    >>> spec = ProductSpec(time=datetime(2024, 7, 1, 2, 50, tzinfo=timezone.utc))
    >>> s2_file_names(spec)["SCL"]
    'GRANULE/L2A_T51TWL_A032058_20240701T025000/IMG_DATA/R20m/T51TWL_20240701T025000_SCL_20m.jp2'
    """
    granule, out = _granule(spec), {}
    for bands, res in ((FINE_BANDS, spec.res), (COARSE_BANDS, spec.res * 2)):
        for band in bands:
            out[band] = f"GRANULE/{granule}/IMG_DATA/R{res}m/T{spec.tile}_{spec.stamp}_{band}_{res}m.jp2"
    out["CLDPRB"] = f"GRANULE/{granule}/QI_DATA/MSK_CLDPRB_{spec.res * 2}m.jp2"
    return out


def write_s2_files(folder: str | os.PathLike, spec: ProductSpec, layers: dict[str, np.ndarray | Path], *,
                   shape: tuple[int, int], cloud_percent: float) -> Path:
    """Write a SYNTHETIC L2A ``.SAFE`` folder from ready layers; return its path.

    ``layers`` gives every layer of :func:`s2_file_names` (``B02 B03 B04 B08`` on the
    fine grid of ``shape`` cells, ``B8A B11 B12 SCL CLDPRB`` on the coarse grid): a
    digital-number array is encoded (JPEG 2000, lossless, 1024² tiles), a path to a
    JPEG 2000 file of the right grid is hard-linked (no copy, no decoding: for large
    benchmark products whose layers are not all read). The metadata is that of
    :func:`write_s2_product`, with ``cloud_percent`` as the cloud cover.
    """
    from affine import Affine

    safe = Path(folder) / f"{spec.product_id}.SAFE"
    names = s2_file_names(spec)
    for layer, rel in names.items():
        value, target = layers[layer], safe / rel
        if isinstance(value, np.ndarray):
            res = spec.res if layer in FINE_BANDS else spec.res * 2
            _write_jp2(target, value, spec.crs, Affine(res, 0, spec.ulx, 0, -res, spec.uly))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(value, target)
    files = [rel.removesuffix(".jp2") for layer, rel in names.items() if layer != "CLDPRB"]
    _write_metadata(safe, spec, files, cloud_percent, shape)
    return safe


# ------------------------------------------------------------------------------ Da'an scenario

DAAN_ORIGIN = ("EPSG:32651", 578000.0, 5018000.0)
"""Upper-left corner of the scenario's products: farmland south-west of Da'an (大安市)."""

SCENARIO_YEARS = tuple(range(2019, 2025))
SCENARIO_DATES = ((6, 20), (8, 10))
"""Acquisitions per year (month, day), 02:50 UTC (Sentinel-2's overpass time at Da'an)."""

PLANTED = {
    "SYN-RISE": ("paddy_new", "improving"),
    "SYN-FLAT": ("saline_demo_area", "no_clear_change"),
    "SYN-CLOUD": ("saline_demo_area", "no_clear_change"),
    "SYN-FALL": ("paddy_improved", "worsening"),
}
"""Scenario parcels: project code → (category, the verdict their planted NDVI implies)."""

CLOUD_ROWS = {2019: 0, 2020: 6, 2021: 12, 2022: 18, 2023: 24, 2024: 28}
"""Rows (of 30) of parcel ``SYN-CLOUD`` under cloud on every date of a year, from the
north edge: more cloud each year, so that unmasked it would read as a significant decline."""
CLOUDS = {("SYN-RISE", 2020, 6): 10, ("SYN-FLAT", 2022, 8): 8}
"""Whole-parcel clouds: (parcel, year, month) → SCL class over the parcel that day
(``SYN-CLOUD``'s clouds are :data:`CLOUD_ROWS`, class 9)."""


def cloud_cells(code: str, year: int, month: int, box: tuple[int, int, int, int]) -> tuple[slice, slice, int] | None:
    """Rows, columns and SCL class of the cloud planted on a scenario parcel that day (with
    a 2-cell margin around whole-parcel clouds), or None."""
    r0, r1, c0, c1 = box
    if (code, year, month) in CLOUDS:
        return slice(r0 - 2, r1 + 2), slice(c0 - 2, c1 + 2), CLOUDS[(code, year, month)]
    if code == "SYN-CLOUD" and CLOUD_ROWS.get(year, 0):
        return slice(r0 - 2, r0 + CLOUD_ROWS[year]), slice(c0 - 2, c1 + 2), 9
    return None


def planted_peak(code: str, year: int) -> float:
    """Seasonal-peak (August) NDVI planted on a scenario parcel in ``year``; June is 85 %
    of it. Examples: ``planted_peak("SYN-RISE", 2019) == 0.3``."""
    k = year - SCENARIO_YEARS[0]
    return {"SYN-RISE": 0.30 + 0.08 * k, "SYN-FLAT": 0.55, "SYN-CLOUD": 0.55, "SYN-FALL": 0.75 - 0.06 * k}[code]


@dataclass(frozen=True)
class Scenario:
    """Products and parcels of :func:`daan_scenario` (everything synthetic)."""

    products: list[Path]
    parcels: object  # GeoDataFrame, EPSG:4490
    boxes: dict[str, tuple[int, int, int, int]]  # code → row0, row1, col0, col1 on the product grid
    spec: ProductSpec


def _scenario_boxes(cells: int) -> dict[str, tuple[int, int, int, int]]:
    """Four 30 × 30-cell parcels in a 2 × 2 layout with 20-cell gaps (even cells, so
    20 m SCL cells never straddle a parcel edge)."""
    a, b = cells // 2 - 40, cells // 2 + 10
    return {"SYN-RISE": (a, a + 30, a, a + 30), "SYN-FLAT": (a, a + 30, b, b + 30),
            "SYN-CLOUD": (b, b + 30, a, a + 30), "SYN-FALL": (b, b + 30, b, b + 30)}


def _scenario_parcels(boxes, spec: ProductSpec, years, planted: dict):
    """The planted parcels (EPSG:4490) of a scenario's boxes: ``years`` one year for all,
    or one per box; ``planted`` maps a code to (category, planted outcome)."""
    import geopandas as gpd
    from shapely import box

    geoms = [box(spec.ulx + c0 * spec.res, spec.uly - r1 * spec.res, spec.ulx + c1 * spec.res, spec.uly - r0 * spec.res)
             for r0, r1, c0, c1 in boxes.values()]
    gdf = gpd.GeoDataFrame(
        {"project_code": list(boxes), "project_name": [f"合成地块 {c}" for c in boxes],
         "category": [planted[c][0] for c in boxes], "county_code": "220882", "year": years,
         "status": "completed", "planted": [planted[c][1] for c in boxes]},
        geometry=geoms, crs=spec.crs).to_crs("EPSG:4490")
    gdf.attrs["synthetic"] = True
    return gdf


def daan_scenario(folder: str | os.PathLike, *, cells: int = 120, project_year: int = 2021,
                  years: tuple[int, ...] = SCENARIO_YEARS) -> Scenario:
    """SYNTHETIC products over Da'an with four parcels whose NDVI is planted.

    ``cells`` × ``cells`` products at 10 m (default 1.2 km square), two per year
    (:data:`SCENARIO_DATES`); background NDVI 0.25. Parcel ``SYN-RISE`` rises by 0.08 a
    year, ``SYN-FALL`` falls by 0.06, ``SYN-FLAT`` and ``SYN-CLOUD`` stay at 0.55, and
    clouds (:data:`CLOUDS`) cover ``SYN-CLOUD`` on three late dates — unmasked, they
    would read as a crash to NDVI ≈ 0.02, a false "worsening". ``SYN-RISE`` and
    ``SYN-FLAT`` have one whole-parcel cloud each (:data:`CLOUDS`).
    """
    crs, ulx, uly = DAAN_ORIGIN
    boxes = _scenario_boxes(cells)
    products = []
    for year in years:
        for month, day in SCENARIO_DATES:
            spec = ProductSpec(time=datetime(year, month, day, 2, 50, tzinfo=timezone.utc), crs=crs, ulx=ulx, uly=uly)
            ndvi = np.full((cells, cells), 0.25)
            scl = np.full((cells, cells), 4, dtype="uint8")
            for code, (r0, r1, c0, c1) in boxes.items():
                ndvi[r0:r1, c0:c1] = planted_peak(code, year) * (1.0 if month == 8 else 0.85)
                cloud = cloud_cells(code, year, month, (r0, r1, c0, c1))
                if cloud is not None:
                    scl[cloud[0], cloud[1]] = cloud[2]
            products.append(write_s2_product(folder, spec, ndvi, scl))
    return Scenario(products=products, parcels=_scenario_parcels(boxes, spec, project_year, PLANTED), boxes=boxes, spec=spec)


# ------------------------------------------------------------------------------ paddy scenario (issue 20)

SURFACES = {
    "bare": {"B02": 0.08, "B03": 0.10, "B04": 0.12, "B08": 0.18, "B11": 0.25, "B12": 0.22},
    "flooded": {"B02": 0.06, "B03": 0.07, "B04": 0.05, "B08": 0.10, "B11": 0.02, "B12": 0.015},
}
"""Reflectance of bare soil (NDVI 0.2, EVI ≈ 0.12, LSWI ≈ −0.16) and of a flooded field
with young rice (NDVI ≈ 0.33, EVI ≈ 0.13, LSWI ≈ 0.67: LSWI + 0.05 ≥ EVI). The contrast
is strong enough that a 10 m cell on the field's edge, whose 20 m SWIR is a quarter
bare soil after bilinear resampling, still reads as flooded, and a bare cell beside it
does not."""
GREEN = {"B02": 0.03, "B03": 0.06, "B04": 0.04, "B11": 0.20, "B12": 0.10}
"""Reflectance of green vegetation except NIR, which is set from the planted NDVI."""


def surface(state: str | float) -> dict[str, float]:
    """Reflectance per band of a surface: ``"bare"``, ``"flooded"`` or a number, the NDVI
    of green vegetation (NIR chosen so that (NIR − R)/(NIR + R) equals it).

    Examples
    --------
    >>> round(surface(0.6)["B08"], 4)
    0.16
    """
    if isinstance(state, str):
        return dict(SURFACES[state])
    out = dict(GREEN)
    out["B08"] = GREEN["B04"] * (1 + state) / (1 - state)
    return out


def write_s2_reflectance(folder: str | os.PathLike, spec: ProductSpec, reflectance: dict[str, np.ndarray],
                         scl: np.ndarray | None = None) -> Path:
    """Like :func:`write_s2_product`, with the reflectance of each band given (fine grid
    arrays for ``B02 B03 B04 B08 B11 B12``; ``B8A`` = ``B08``; NaN = no data). Cloud
    cells (SCL 8, 9, 10) get :data:`CLOUD` reflectances; 20 m bands are sampled from the
    top-left fine cell of each coarse cell, as in :func:`write_s2_product`."""
    from affine import Affine

    shape = reflectance["B04"].shape
    scl = np.full(shape, 4, dtype="uint8") if scl is None else np.asarray(scl, dtype="uint8")
    refl = {b: np.asarray(v, dtype="float64") for b, v in reflectance.items()}
    refl["B8A"] = refl["B08"]
    nodata = ~np.isfinite(refl["B04"]) | (scl == 0)
    cloud = np.isin(scl, (8, 9, 10))
    safe = Path(folder) / f"{spec.product_id}.SAFE"
    names = s2_file_names(spec)
    files = []
    for bands, res, step in ((FINE_BANDS, spec.res, 1), (COARSE_BANDS, spec.res * 2, 2)):
        for band in bands:
            if band == "SCL":
                data = np.where(nodata, 0, scl).astype("uint8")
            else:
                dn = np.rint(np.where(cloud, CLOUD[band], np.nan_to_num(refl[band])) * QUANTIFICATION + OFFSET)
                data = np.where(nodata, 0, np.clip(dn, 1, 65535)).astype("uint16")
            rel = names[band].removesuffix(".jp2")
            _write_jp2(safe / f"{rel}.jp2", data[::step, ::step], spec.crs, Affine(res, 0, spec.ulx, 0, -res, spec.uly))
            files.append(rel)
    pct = float(cloud[~nodata].mean() * 100) if (~nodata).any() else 0.0
    _write_metadata(safe, spec, files, pct, shape)
    return safe


PADDY_DATES = ((4, 20), (5, 15), (5, 28), (6, 12), (7, 10), (8, 8), (9, 10))
"""Acquisitions of the paddy scenario's year (month, day), 02:50 UTC; 15 May, 28 May and
12 June fall in the default transplanting window (10 May – 20 June)."""
_DRY = ("bare", "bare", "bare", "bare", 0.55, 0.80, 0.60)
_RICE = ("bare", "bare", "flooded", "flooded", 0.70, 0.85, 0.60)
PADDY_SERIES = {
    "PADDY-OK": _RICE,  # flooded in late May, then green
    "PADDY-DRY": _DRY,  # never flooded (a dry crop)
    "PADDY-LATE": ("flooded", "bare", "bare", "bare", "flooded", 0.30, 0.30),  # flooded only outside the window
    "PADDY-CLOUD": _RICE,  # clouded over on every window date
    "PADDY-HALF": _RICE,  # western half; its eastern half is _DRY
    "CULT-OK": _DRY,  # new farmland under a crop
    "CULT-BARE": ("bare",) * 7,  # claimed farmland that stays bare
    "SALINE": (0.25, 0.25, 0.30, 0.35, 0.45, 0.50, 0.40),  # one year only: too short for a trend
}
"""Planted surface per date of :data:`PADDY_DATES` for each parcel of :func:`paddy_scenario`."""
PADDY_PLANTED = {
    "PADDY-OK": ("paddy_new", "signal"), "PADDY-DRY": ("paddy_new", "no_signal"),
    "PADDY-LATE": ("paddy_improved", "no_signal"), "PADDY-CLOUD": ("paddy_new", "insufficient"),
    "PADDY-HALF": ("paddy_new", "depends"), "CULT-OK": ("new_cultivated_land", "signal"),
    "CULT-BARE": ("high_standard_farmland", "no_signal"), "SALINE": ("saline_demo_area", "insufficient_data"),
}
"""Parcel → (category, the verdict its planted surfaces imply under the default rules);
``PADDY-HALF`` is flooded on half its area, so its verdict ``depends`` on the rule's
``min_flooded_share``."""


def _paddy_boxes(cells: int) -> dict[str, tuple[int, int, int, int]]:
    """30 × 30-cell parcels on a 3 × 3 layout (even offsets: 20 m cells never straddle an
    edge); ``PADDY-HALF`` is 30 × 32 so that its halves are 16 columns each."""
    step = cells // 3
    starts = [step // 2 - 14 + k * step for k in range(3)]
    starts = [s - s % 2 for s in starts]
    out = {}
    for k, code in enumerate(PADDY_SERIES):
        r, c = starts[k // 3], starts[k % 3]
        out[code] = (r, r + 30, c, c + (32 if code == "PADDY-HALF" else 30))
    return out


def paddy_scenario(folder: str | os.PathLike, *, cells: int = 200, year: int = 2024) -> Scenario:
    """SYNTHETIC products of one season over Da'an with planted paddy, farmland and
    saline parcels (:data:`PADDY_SERIES`, :data:`PADDY_PLANTED`).

    ``cells`` × ``cells`` products at 10 m on :data:`PADDY_DATES`; the background is bare
    soil. ``PADDY-CLOUD`` lies under cloud (SCL 9, with a 2-cell margin) on every window
    date — unmasked, cloud reads as flooding (LSWI + 0.05 ≥ EVI), so only the mask keeps
    it from a false signal. ``PADDY-HALF``'s eastern 16 columns follow the dry crop.
    """
    crs, ulx, uly = DAAN_ORIGIN
    boxes = _paddy_boxes(cells)
    products = []
    for k, (month, day) in enumerate(PADDY_DATES):
        spec = ProductSpec(time=datetime(year, month, day, 2, 50, tzinfo=timezone.utc), crs=crs, ulx=ulx, uly=uly)
        refl = {b: np.full((cells, cells), v) for b, v in surface("bare").items()}
        scl = np.full((cells, cells), 4, dtype="uint8")
        for code, (r0, r1, c0, c1) in boxes.items():
            for band, v in surface(PADDY_SERIES[code][k]).items():
                refl[band][r0:r1, c0:c1] = v
            if code == "PADDY-HALF":
                for band, v in surface(_DRY[k]).items():
                    refl[band][r0:r1, c0 + 16:c1] = v
            if code == "PADDY-CLOUD" and (month, day) in ((5, 15), (5, 28), (6, 12)):
                scl[r0 - 2:r1 + 2, c0 - 2:c1 + 2] = 9
        products.append(write_s2_reflectance(folder, spec, refl, scl))
    years = [year - 3 if c == "SALINE" else year for c in boxes]  # remediation needs earlier years
    parcels = _scenario_parcels(boxes, spec, years, PADDY_PLANTED)
    return Scenario(products=products, parcels=parcels, boxes=boxes, spec=spec)
