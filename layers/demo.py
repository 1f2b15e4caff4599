"""The demo workspace: a deterministic, plausible, SYNTHETIC Baicheng in one folder.

:func:`build_workspace` writes, for a given seed and size:

* ``catalog.yml`` — every layer below, ``synthetic: true``, titles saying 合成/synthetic,
  source ``agrigis demo generator, seed N``; the real county and city boundaries come
  from the bundled catalogue (``synthetic: false``) and are not copied;
* ``reference.gpkg`` — rivers, canals, lakes and the 莫莫格/向海 reserves
  (:mod:`layers.demo_vectors`);
* ``rasters/`` — DEM, soil EC/pH/ESP and land cover (+ ``landcover_classes.csv``) on an
  EPSG:4550 grid (:mod:`layers.demo_rasters`);
* ``imagery/products/`` — SYNTHETIC Sentinel-2 L2A products in the real ``.SAFE`` layout
  over Da'an, one per month May–September 2020–2024, whose NDVI is the demo's model
  (:mod:`layers.demo_imagery`). ``workflows.demo`` builds the NDVI stack from them with
  the real imagery path and registers it (:func:`register_ndvi`);
* ``samples/soil_samples.xlsx`` — a SYNTHETIC soil census table (pH, EC as ECe, ESP at
  0–20 cm) drawn from the soil rasters (:mod:`layers.demo_samples`); ``workflows.demo``
  maps it back by kriging and runs suitability on those maps;
* ``parcels/demo_parcels.gpkg`` — project parcels of every category with the columns
  of a user's own file (:mod:`layers.demo_parcels`). The registry is *not* written here:
  ``workflows.demo`` imports this file with the real importer, like a user's file.

The same seed and size give identical files (no clock, no randomness outside the
seeded generators).

Examples
--------
>>> SIZES["small"].res_m, SIZES["default"].res_m
(1000.0, 100.0)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from gis.errors import InputError

log = logging.getLogger(__name__)

SOURCE = "agrigis demo generator, seed {seed}"
LICENCE = "CC0-1.0 (synthetic)"


@dataclass(frozen=True)
class Size:
    """Scale of a demo workspace."""

    res_m: float          # soil / DEM / land-cover cell size
    analysis_m: float     # grid of the smooth driver fields (and parcel placement)
    ndvi_m: float         # NDVI cell size (of the products and the stack)
    area_scale: float     # share of the 2024 targets the parcels cover
    field_scale: float    # field size multiplier (smaller → more parcels)
    note: str = ""


SIZES: dict[str, Size] = {
    "small": Size(1000.0, 1000.0, 500.0, 0.03, 1.0, "tests: ~400 parcels, 1 km soil, 500 m NDVI"),
    "default": Size(100.0, 250.0, 250.0, 1.0, 1.0,
                    "sized to the 2024 targets: ~10,000 parcels, 100 m soil, 250 m NDVI"),
    "large": Size(30.0, 250.0, 100.0, 1.0, 0.12,
                  "benchmarks: ~100,000 parcels, 30 m soil (~7,300 × 7,800 cells), 100 m NDVI"),
}
"""Workspace sizes for ``agrigis demo --size``."""

NDVI_YEARS = (2020, 2024)
"""First and last year of the monthly NDVI stack. Remediation trends need several
seasonal peaks (a Mann–Kendall test on 2 years can never be significant), so the stack
starts in 2020 and the registry holds paddy/saline projects from 2021 on."""

AS_OF = "2024-09-30"
"""The date the demo's statuses describe (autumn 2024): a linear schedule expects 75 %."""

REFERENCE_FILE = "reference.gpkg"
"""Where the rivers, canals, lakes and reserves are written inside the workspace (one layer each)."""
PARCELS_FILE = "parcels/demo_parcels.gpkg"
"""Where the parcel file (layer ``parcels``) is written inside the workspace."""
REGISTRY_FILE = "registry.gpkg"
"""Where ``workflows.demo`` imports the parcels; its presence marks a folder the demo will not write into."""


@dataclass
class DemoWorkspace:
    """Paths of a generated demo workspace. :meth:`at` gives them for a folder: the one
    place the workspace's file layout is spelled (with :data:`REFERENCE_FILE`,
    :data:`PARCELS_FILE`, ``layers.catalog.CATALOG_FILE`` and ``layers.demo_samples.SAMPLES_FILE``)."""

    folder: Path
    seed: int
    size: str
    catalog: Path
    reference: Path
    parcels: Path
    rasters: dict[str, Path] = field(default_factory=dict)
    n_parcels: int = 0
    products: "object" = None  # layers.demo_imagery.Products
    samples: Path | None = None
    """The SYNTHETIC soil sample table drawn from the soil rasters (:mod:`layers.demo_samples`)."""

    @classmethod
    def at(cls, folder, *, seed: int, size: str) -> DemoWorkspace:
        """The workspace's files in ``folder`` as :func:`build_workspace` writes them, before
        or while it does (no rasters, parcel count or products yet).

        Examples
        --------
        >>> DemoWorkspace.at("ws", seed=0, size="small").parcels.as_posix()
        'ws/parcels/demo_parcels.gpkg'
        """
        from .catalog import CATALOG_FILE
        from .demo_samples import SAMPLES_FILE

        f = Path(folder)
        return cls(folder=f, seed=seed, size=size, catalog=f / CATALOG_FILE, reference=f / REFERENCE_FILE,
                   parcels=f / PARCELS_FILE, samples=f / SAMPLES_FILE)

    @property
    def registry(self) -> Path:
        return self.folder / REGISTRY_FILE


NDVI_STACK = "rasters/ndvi_stack.nc"
"""Where ``workflows.demo`` writes the NDVI stack built from the products."""


@dataclass(frozen=True)
class _Entry:
    """One layer of the generated ``catalog.yml``."""

    name: str
    kind: str
    path: str
    zh: str
    en: str
    layer: str | None = None
    crs: str | None = None
    description: str | None = None
    unit: str | None = None

    def as_dict(self, source: str) -> dict:
        e = {"name": self.name, "kind": self.kind, "path": self.path, "synthetic": True}
        if self.layer:
            e["layer"] = self.layer
        e.update({"crs": self.crs or ("EPSG:4490" if self.kind == "vector" else "EPSG:4550"), "role": self.name,
                  "source": source, "licence": LICENCE, "title_zh": self.zh, "title_en": self.en})
        if self.unit:
            e["unit"] = self.unit
        if self.description:
            e["description"] = self.description
        return e


_VECTORS = [
    ("rivers", "河流(合成)", "Rivers (synthetic)"),
    ("canals", "灌渠(合成)", "Irrigation canals (synthetic)"),
    ("lakes", "湖泊泡沼(合成)", "Lakes (synthetic)"),
    ("protected_areas", "自然保护区(合成边界)", "Nature reserves (synthetic boundaries)"),
]
_RESERVES_NOTE = ("Momoge 144,000 ha and Xianghai 105,467 ha (published areas); synthetic shapes "
                  "centred on published coordinates, clipped to their county. Xianghai's "
                  "published box is too small for its area, so the shape spills over it.")


def _raster_entries(rasters: dict[str, Path], folder: Path) -> list[_Entry]:
    from .demo_rasters import LANDCOVER_CLASSES, RASTERS

    out = []
    for name, (_dt, _nd, unit, zh, en) in RASTERS.items():
        desc = None
        if name == "landcover":
            desc = "classes (value=code): " + ", ".join(
                f"{v}={c}" for v, c in zip(LANDCOVER_CLASSES.value, LANDCOVER_CLASSES.code, strict=True)
            ) + "; table: rasters/landcover_classes.csv"
        out.append(_Entry(name, "raster", rasters[name].relative_to(folder).as_posix(), zh, en, description=desc,
                          unit=None if name == "landcover" else unit))
    return out


def _ndvi_entry(ndvi: Path, folder: Path) -> _Entry:
    from .demo_imagery import PRODUCT_CRS

    return _Entry("ndvi", "raster", ndvi.relative_to(folder).as_posix(), "大安市月度NDVI 2020–2024 生长季(合成影像)",
                  "Monthly NDVI of Da'an, May-Sep 2020-2024 (synthetic imagery)", crs=PRODUCT_CRS,
                  description=("NetCDF stack of `agrigis imagery stack --composite month --how max` over the "
                               "synthetic Sentinel-2 L2A products in imagery/products; covers the bounding box "
                               "of Da'an (220882) only; variables NDVI and valid_count"))


def _catalog_yaml(seed: int, size: str, rasters: dict[str, Path], folder: Path) -> str:
    import yaml

    entries = [_Entry(name, "vector", REFERENCE_FILE, zh, en, layer=name,
                      description=_RESERVES_NOTE if name == "protected_areas" else None)
               for name, zh, en in _VECTORS]
    entries += _raster_entries(rasters, folder)
    src = SOURCE.format(seed=seed)
    head = (f"# agrigis demo workspace (SYNTHETIC data), seed {seed}, size {size}.\n"
            "# Made by `agrigis demo`; every layer here is generated and marked synthetic.\n"
            "# The real county and city boundaries come from the bundled catalogue\n"
            "# (layers/catalog.yml, synthetic: false) and are not copied.\n")
    return head + yaml.safe_dump({"layers": [e.as_dict(src) for e in entries]}, allow_unicode=True,
                                 sort_keys=False)


def _size(size: str, res_m: float | None) -> Size:
    """The :class:`Size` of ``size``, with ``res_m`` (checked) instead of its cell size."""
    if size not in SIZES:
        raise InputError(f"unknown demo size {size!r}; use one of {', '.join(SIZES)}")
    if res_m is None:
        return SIZES[size]
    if not res_m >= 5:
        raise InputError(f"raster cell size {res_m!r} m is too small; use 5 m or more")
    return replace(SIZES[size], res_m=float(res_m))


def _new_folder(folder) -> Path:
    folder = Path(folder)
    if (folder / REGISTRY_FILE).exists():
        raise InputError(f"{folder} already holds a {REGISTRY_FILE}; the demo only writes into a new "
                         "or empty folder — choose another folder or delete that one")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _fresh(path: Path) -> Path:
    """``path`` with any earlier file removed (GeoPackage layers are appended otherwise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    return path


@dataclass
class _Vectors:
    counties: object
    rivers: object
    lakes: object
    reserves: object


def _write_vectors(ref: Path, counties, rng: np.random.Generator) -> _Vectors:
    """Rivers, canals, lakes and reserves into ``ref`` (:data:`REFERENCE_FILE`)."""
    from . import demo_vectors

    v = _Vectors(counties, demo_vectors.rivers_and_canals(counties, rng), demo_vectors.lakes(counties, rng),
                 demo_vectors.reserves(counties, rng))
    _fresh(ref)
    v.rivers[v.rivers.kind == "river"].to_file(ref, layer="rivers", driver="GPKG")
    v.rivers[v.rivers.kind == "canal"].to_file(ref, layer="canals", driver="GPKG")
    v.lakes.to_file(ref, layer="lakes", driver="GPKG")
    v.reserves.to_file(ref, layer="protected_areas", driver="GPKG")
    return v


def _write_parcels(path: Path, drivers, v: _Vectors, seed: int, sz: Size):
    """The parcel file ``path`` (:data:`PARCELS_FILE`): the parcels written."""
    from .demo_parcels import ParcelScale, generate_parcels

    parcels = generate_parcels(drivers, v.counties, v.reserves, v.lakes, seed=seed,
                               scale=ParcelScale(area=sz.area_scale, field=sz.field_scale))
    parcels.to_file(_fresh(path), layer="parcels", driver="GPKG")
    return parcels


def _write_samples(folder: Path, rasters: dict[str, Path], drivers, counties, seed: int) -> Path:
    from .demo_samples import SoilRasters, write_samples

    truth = SoilRasters(ec=rasters["soil_ec"], ph=rasters["soil_ph"], esp=rasters["soil_esp"],
                        landcover=rasters["landcover"])
    return write_samples(folder, truth, drivers.city, counties, seed)


def build_workspace(folder, seed: int = 0, size: str = "default",
                    on_step: Callable[[str, float], None] | None = None,
                    res_m: float | None = None) -> DemoWorkspace:
    """Generate the synthetic layers, soil sample table and parcel file of a demo workspace.

    Parameters
    ----------
    folder : path-like
        Created if missing; must not already hold a registry (``registry.gpkg``), so a
        user's real workspace is never overwritten.
    seed : int
        Random seed; the same seed and size give identical files.
    size : {"small", "default", "large"}
    on_step : callable(step_name, fraction_done), optional
        Progress callback: ``vectors``, ``rasters``, ``parcels`` and ``ndvi`` from 0 to 1,
        and ``("samples", 1.0)`` once the sample table and ``catalog.yml`` are written
        (what ``agrigis soil interpolate`` needs: the demo starts it there).
    res_m : float, optional
        Override the size's soil/DEM/land-cover cell size (e.g. 10 for a 10 m benchmark
        grid: ~22,000 × 23,500 cells per raster, written in row windows).

    Examples
    --------
    >>> import tempfile
    >>> ws = build_workspace(tempfile.mkdtemp(), size="small")  # doctest: +SKIP
    >>> ws.samples.name  # doctest: +SKIP
    'soil_samples.xlsx'
    """
    import layers

    from gis.outputs import write_text

    from . import demo_imagery, demo_rasters

    sz = _size(size, res_m)
    folder = _new_folder(folder)
    ws = DemoWorkspace.at(folder, seed=seed, size=size)
    step = on_step or (lambda name, frac: None)
    step("vectors", 0.0)
    v = _write_vectors(ws.reference, layers.load("counties", workspace=False), np.random.default_rng([seed, 1]))
    step("vectors", 1.0)
    drivers = demo_rasters.Drivers(v.counties, v.rivers, v.lakes, np.random.default_rng([seed, 2]),
                                   res=sz.analysis_m)
    rdir = folder / "rasters"
    paths = demo_rasters.write_static_rasters(drivers, rdir, sz.res_m, seed, on_step=lambda f: step("rasters", f))
    demo_rasters.LANDCOVER_CLASSES.to_csv(rdir / "landcover_classes.csv", index=False)
    # the catalogue before the parcels: the soil step may register its maps meanwhile
    write_text(ws.catalog, _catalog_yaml(seed, size, paths, folder))
    write_text(folder / "README.txt", _readme(seed, size))
    samples = _write_samples(folder, paths, drivers, v.counties, seed)
    step("samples", 1.0)
    step("parcels", 0.0)
    parcels = _write_parcels(ws.parcels, drivers, v, seed, sz)
    step("parcels", 1.0)
    step("ndvi", 0.0)
    years = tuple(range(NDVI_YEARS[0], NDVI_YEARS[1] + 1))
    products = demo_imagery.write_products(folder / "imagery" / "products", drivers, paths["landcover"],
                                           parcels, v.counties, sz.ndvi_m, years=years, seed=seed,
                                           on_step=lambda f: step("ndvi", f))
    return replace(ws, rasters=paths, n_parcels=len(parcels), products=products, samples=samples)


def register_ndvi(ws: DemoWorkspace, stack: Path) -> None:
    """Add the NDVI stack built from the products (``stack``, inside the workspace) to
    the workspace's ``catalog.yml`` as the layer with role ``ndvi`` (synthetic), beside
    what is registered there already (the soil maps may be)."""
    from layers.catalog import register_layers

    register_layers(ws.catalog, [_ndvi_entry(Path(stack), ws.folder).as_dict(SOURCE.format(seed=ws.seed))])
    ws.rasters["ndvi"] = Path(stack)


def _readme(seed: int, size: str) -> str:
    from .demo_imagery import PRODUCT_CRS
    from .demo_parcels import PLANTED
    from .demo_samples import SAMPLES_FILE

    lines = [
        "agrigis demo workspace — SYNTHETIC data (合成演示数据,非真实)",
        f"seed {seed}, size {size}, statuses as of {AS_OF}",
        "",
        "Everything here except the county boundaries (bundled, real) is generated by",
        "`agrigis demo` and is not a survey of anything. Planted data problems for `agrigis check`:",
    ]
    lines += [f"  - {k}: {v}" for k, v in PLANTED.items()]
    lines += [
        "",
        "Imagery: imagery/products/ holds SYNTHETIC Sentinel-2 L2A products in the real .SAFE layout",
        "(ids end in _SYNTHETIC, each folder has a SYNTHETIC.txt), one per month May-September",
        f"{NDVI_YEARS[0]}-{NDVI_YEARS[1]}, over the bounding box of Da'an (大安市, the pilot county) only, in",
        f"{PRODUCT_CRS} (UTM 51N). Their NDVI follows the demo's model. The NDVI layer of catalog.yml,",
        f"{NDVI_STACK}, is their monthly maximum composite, built with the same code as",
        "`agrigis imagery stack imagery/products --composite month --how max`: it covers Da'an only,",
        "so remediation parcels elsewhere have no NDVI (verdict: insufficient data).",
        "",
        f"Soil samples: {SAMPLES_FILE} is a SYNTHETIC soil census table (0-20 cm, pH, EC as ECe of",
        "the saturated paste, ESP; every row's 备注 says 合成) drawn from rasters/soil_*.tif with a small",
        "laboratory error. `agrigis demo` maps it back with `agrigis soil interpolate --vars ph,ec,esp`",
        "(ordinary kriging) into outputs/soil/, registers those maps as soil_ph, soil_ec and soil_esp in",
        "catalog.yml (replacing the generator's rasters there; the files in rasters/ stay as the truth)",
        "and runs suitability on them.",
    ]
    return "\n".join(lines) + "\n"
