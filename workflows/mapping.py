"""``agrigis map``: offline field maps (one self-contained HTML file each).

Recipes (load with ``layers``, compute with ``gis``, draw with ``maps``):

- ``agrigis map progress``: registry parcels by category and status, county choropleth of
  each area target (share of the city target achieved in each county, from
  :func:`gis.tracking.progress`), county boundaries, nature reserves, canals;
- ``agrigis map layer NAME|FILE``: any catalogue layer or file (vector or raster);
- ``agrigis map suitability [DIR]``: the candidate polygons of ``agrigis suitability``;
- ``agrigis map remediation [DIR]``: parcels by remediation verdict with trend charts.

Each has a plain function (``progress_map_file`` …) returning the written path.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click

from gis.errors import ConfigError, DataFileError, InputError
from gis.labels import label, message
from maps.basemaps import BASEMAPS

from .options import lang_option, registry_option, registry_parcels

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------- helpers
def _attribution(entries, lang: str = "zh") -> str | None:
    """Short data credits: each layer's title and licence (the catalogue has the full source)."""
    parts = []
    for e in entries:
        if e is None:
            continue
        title = (getattr(e, "title_zh", None) if lang == "zh" else getattr(e, "title_en", None)) or e.name
        lic = getattr(e, "licence", None) or ""
        parts.append(f"{title}{' (' + lic + ')' if lic else ''}")
    return " · ".join(dict.fromkeys(parts)) or None


def _registry_parcels(registry):
    parcels = registry_parcels(registry)
    return parcels, bool(parcels.attrs.get("synthetic"))


@dataclass(frozen=True)
class ImageryOptions:
    """Offline imagery a map carries (``--basemap-file`` / ``--basemap-budget``).

    ``budget`` is in bytes for the whole HTML file; ``report`` receives the line that says
    which zoom was reached and how large the imagery is (the CLI prints it).
    """

    file: Path
    budget: int = 40_000_000
    report: Callable[[str], None] | None = None


def parse_size(text: str | int) -> int:
    """``"40MB"`` → 40000000 bytes (also KB, GB, MiB; a plain number is bytes).

    >>> parse_size("40MB"), parse_size("512KiB"), parse_size("1000")
    (40000000, 524288, 1000)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise InputError.of("error.basemap_budget", value=text)
    unit = (m.group(2) or "b").lower().rstrip("b") or "b"
    scale = {"b": 1, "k": 1e3, "m": 1e6, "g": 1e9, "ki": 1024, "mi": 1024 ** 2, "gi": 1024 ** 3}[unit]
    return int(float(m.group(1)) * scale)


def _save(fm, out, imagery: ImageryOptions | None, lang: str) -> Path:
    """Write the map; with ``imagery``, first embed the tiles around its parcels that fit
    the budget left after the map's own content."""
    if imagery is not None:
        from maps.imagery_tiles import TileBudget, embed_file, phone_file_hint

        left = max(imagery.budget - len(fm.to_html().encode("utf-8")), 0)
        tiles = embed_file(imagery.file, fm.area_bounds(), TileBudget(max_bytes=left))
        if tiles is not None and tiles.tiles:
            fm.add_embedded_imagery(tiles)
            text = message("note.basemap_embedded", lang, source=tiles.source, zmin=tiles.zoom_min,
                           zmax=tiles.zoom_max, n=len(tiles.tiles), mb=tiles.n_bytes / 1e6)
        else:
            text = message("note.basemap_none_fit", lang, source=imagery.file.name, mb=left / 1e6)
        hint = phone_file_hint(imagery.file, tiles, lang)
        if hint:
            text = f"{text}\n{hint}"
        log.info(text)
        if imagery.report:
            imagery.report(text)
    return fm.save(out)


def _imagery(basemap_file, basemap_budget) -> ImageryOptions | None:
    if basemap_file is None:
        return None
    return ImageryOptions(Path(basemap_file), parse_size(basemap_budget), report=click.echo)


def _common(f):
    f = click.option("--basemap", type=click.Choice(BASEMAPS), default="osm", show_default=True,
                     help="Basemap; gaode-* shifts the data to GCJ-02 to match Gaode tiles.")(f)
    f = click.option("--tianditu-key", default=None, envvar="AGRIGIS_TIANDITU_KEY", show_envvar=True,
                     help="Tianditu key (tk); without it Tianditu basemaps are left out.")(f)
    f = click.option("--online", is_flag=True, help="Link Leaflet from a CDN instead of inlining it (smaller file).")(f)
    f = click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Workspace folder with catalog.yml (default: current folder if it has one).")(f)
    f = click.option("--basemap-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Imagery carried inside the map: .mbtiles, .pmtiles or a GeoTIFF (tiles around the parcels).")(f)
    f = click.option("--basemap-budget", default="40MB", show_default=True,
                     help="Largest size of the HTML with its imagery; deeper zoom levels are left out to stay under it.")(f)
    f = lang_option(f)
    return f


def _opts(basemap, tianditu_key, online, lang):
    return {"basemap": basemap, "tianditu_key": tianditu_key, "online": online, "lang": lang}


# ----------------------------------------------------------------------- functions
def progress_map_file(out: str | os.PathLike = "progress_map.html", *, registry=None, targets=None, as_of=None,
                      year: int | None = None, workspace=None, lang: str = "zh", basemap: str = "osm",
                      tianditu_key: str | None = None, online: bool = False, simplify_m: float | None = None,
                      series: str | os.PathLike | None = None, imagery: ImageryOptions | None = None,
                      evidence: str | os.PathLike | None = None, parcels=None, result=None) -> Path:
    """Write the progress map of the registry; returns the HTML path.

    ``evidence``: ``evidence.gpkg`` of ``agrigis verify``: the parcels the imagery checked,
    coloured by support, with their index curve in the popup. ``parcels``: the registry's
    current projects when the caller has read them (:func:`workflows.options.registry_parcels`);
    ``result``: the :class:`gis.tracking.Progress` of ``agrigis progress`` on them, when
    already computed (then ``targets``, ``as_of`` and ``year`` are its own).
    """
    import layers
    from maps.progress_map import progress_map

    from .progress import run_progress

    if parcels is None:
        parcels, synthetic = _registry_parcels(registry)
    else:
        synthetic = bool(parcels.attrs.get("synthetic"))
    cat = layers.get_catalog(workspace)
    counties, e_cty = cat.load_role("counties")
    reserves, e_res = cat.load_role("protected_areas", required=False)
    canals, e_can = cat.load_role("canals", required=False)
    ev = _read_evidence(evidence) if evidence else None
    res = result if result is not None else run_progress(
        registry=registry, targets=targets, as_of=as_of, year=year, lang=lang, workspace=workspace,
        parcels=parcels, counties=counties, protected_areas=reserves, write=False).result
    shares = county_scope(res)
    drawn = [(e, d) for e, d in ((e_cty, counties), (e_res, reserves), (e_can, canals)) if d is not None and len(d)]
    synthetic = synthetic or any(getattr(e, "synthetic", False) for e, _ in drawn if e is not None)
    synthetic = synthetic or bool(ev is not None and "synthetic" in ev.columns and ev["synthetic"].astype(bool).any())
    fm = progress_map(parcels, counties, shares, reserves=reserves, canals=canals, synthetic=synthetic,
                      attribution=_attribution([e for e, _ in drawn], lang), simplify_m=simplify_m,
                      series=_load_series(series) if series else None,
                      value_label=label("maps.share_of_city_pct", lang), evidence=ev,
                      **_opts(basemap, tianditu_key, online, lang))
    return _save(fm, out, imagery, lang)


def county_scope(res):
    """:meth:`gis.tracking.Progress.county_shares` with ``in_scope``: false where the
    county lies outside the target's pilot area (the map then shows 不在试点范围)."""
    shares = res.county_shares()
    scope = res.by_county[["key", "region", "in_scope"]].rename(columns={"key": "target", "region": "county_code"})
    scope = scope.assign(county_code=scope["county_code"].astype(str), in_scope=scope["in_scope"].astype(bool))
    return shares.merge(scope, on=["target", "county_code"], how="left")


def _read_evidence(path):
    """Layer ``evidence`` of an ``agrigis verify`` GeoPackage (checked as progress checks it)."""
    import geopandas as gpd

    from .progress_hooks import read_evidence

    read_evidence(path)  # a clear error for a missing file, layer or column
    return gpd.read_file(path, layer="evidence")


def _load_series(path) -> dict:
    """``remediation_series.json`` → {code: (dates, values)}.

    Accepts ``{"index": …, "parcels": {code: {"dates": [...], "values": [...]}}}`` (what
    ``agrigis remediation`` writes) or the bare ``{code: {...}}`` mapping.
    """
    path = Path(path)
    if not path.exists():
        raise DataFileError.of("error.series_missing", path=path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFileError.of("error.series_not_json", path=path, detail=exc) from exc
    if isinstance(data, dict) and isinstance(data.get("parcels"), dict):  # agrigis remediation's layout
        data = data["parcels"]
    out = {}
    for code, d in data.items():
        if isinstance(d, dict) and "dates" in d and "values" in d:
            out[str(code)] = (d["dates"], d["values"])
    return out


def layer_map_file(layer: str, out: str | os.PathLike | None = None, *, workspace=None, column: str | None = None,
                   lang: str = "zh", basemap: str = "osm", tianditu_key: str | None = None, online: bool = False,
                   imagery: ImageryOptions | None = None, scheme: str | None = None) -> Path:
    """Write a map of one catalogue layer or file (vector or raster); returns the HTML path.

    A raster whose catalogue role has a severity scheme (``maps/raster_schemes.yml``, e.g.
    soil_ec → ec_aafc) is drawn in the scheme's classes; ``scheme`` picks one (an id or a
    scheme YAML) or ``"none"`` for quantile bins. Roles ending in ``_std`` get a light → dark
    ramp. The unit comes from the entry's ``unit`` field."""
    import layers
    from maps.layer_map import class_map, raster_map, vector_map

    cat = layers.get_catalog(workspace)
    entry = None
    path = Path(layer)
    if layer in cat.names():
        entry = cat[layer]
        data = cat.load(layer)
        name = entry.title(lang)
    elif path.exists():
        data = _read_file(path)
        name = path.stem
    else:
        raise InputError.of("error.not_layer_or_file", layer=layer, names=", ".join(cat.names()))
    synthetic = bool(getattr(entry, "synthetic", False))
    attribution = _attribution([entry], lang) if entry else None
    counties = None
    try:
        counties, _ = cat.load_role("counties", required=False)
    except Exception:  # noqa: BLE001 - county outlines are a nicety here
        counties = None
    opts = _opts(basemap, tianditu_key, online, lang)
    if hasattr(data, "rio"):
        style = _raster_style(entry, path, name, scheme)
        fm = raster_map(data, name=name, counties=counties, synthetic=synthetic, attribution=attribution, **style,
                        **opts)
    elif scheme:
        raise InputError.of("error.map_scheme_vector", name=name)
    elif column:
        fm = class_map(data, column, name=name, counties=counties, synthetic=synthetic, attribution=attribution, **opts)
    else:
        fm = vector_map(data, name=name, counties=counties, synthetic=synthetic, attribution=attribution, **opts)
    return _save(fm, out or f"{path.stem if path.exists() else layer}_map.html", imagery, lang)


def _raster_style(entry, path: Path, name: str, scheme: str | None) -> dict:
    """``scheme``/``unit``/``sequential`` of :func:`maps.layer_map.raster_map` for a layer."""
    from gis.salinity import list_schemes, load_scheme
    from maps.raster_overlay import role_schemes

    role = (entry.role if entry is not None else None) or ""
    unit = entry.value_unit if entry is not None else None
    sequential = (role or path.stem).endswith("_std")
    if scheme is not None and scheme.lower() == "none":
        return {"unit": unit, "sequential": sequential}
    if scheme is not None and scheme not in list_schemes() and not Path(scheme).is_file():
        raise ConfigError.of("error.map_scheme_unknown", scheme=scheme, schemes=", ".join([*list_schemes(), "none"]))
    chosen = scheme or role_schemes().get(role)
    if chosen is None:
        return {"unit": unit, "sequential": sequential}
    s = load_scheme(chosen)
    if unit and s.variable != "ph" and _norm_unit(unit) != _norm_unit(s.unit):
        raise ConfigError.of("error.map_scheme_unit", name=name, unit=unit, scheme=s.id, scheme_unit=s.unit)
    return {"scheme": s}


def _norm_unit(unit: str) -> str:
    return re.sub(r"\s+", "", unit).lower().replace("‰", "g/kg")


def _read_file(path: Path):
    if path.suffix.lower() in (".tif", ".tiff", ".nc", ".vrt"):
        import rioxarray

        da = rioxarray.open_rasterio(path, masked=True)
        return da.squeeze("band", drop=True) if "band" in da.dims and da.sizes["band"] == 1 else da
    import geopandas as gpd

    return gpd.read_file(path)


def _find(dirpath: Path, names: tuple[str, ...]) -> Path:
    for n in names:
        if (dirpath / n).exists():
            return dirpath / n
    raise DataFileError.of("error.results_missing", path=dirpath, names=", ".join(names))


def remediation_map_file(directory: str | os.PathLike = "remediation", out=None, *, workspace=None, lang: str = "zh",
                         basemap: str = "osm", tianditu_key: str | None = None, online: bool = False,
                         imagery: ImageryOptions | None = None) -> Path:
    """Map of ``agrigis remediation`` results: parcels by verdict, popups with the index trend."""
    import geopandas as gpd

    import layers
    from maps import style as S
    from maps.layer_map import class_map

    d = Path(directory)
    g = gpd.read_file(_find(d, ("remediation.gpkg",)))
    series = _load_series(d / "remediation_series.json") if (d / "remediation_series.json").exists() else None
    col = next((c for c in ("verdict", "status_verdict", "result") if c in g.columns), None)
    if col is None:
        raise DataFileError.of("error.no_verdict_column", path=d / "remediation.gpkg", columns=", ".join(g.columns))
    cat = layers.get_catalog(workspace)
    counties, _ = cat.load_role("counties", required=False)
    index = None
    if series:
        with contextlib.suppress(ValueError, AttributeError):  # an unreadable note: no index in the legend
            index = str(json.loads((d / "remediation_series.json").read_text(encoding="utf-8")).get("index", "")).upper()
    vals = [v for v in dict.fromkeys(g[col].astype(str))]
    classes = {v: _verdict_label(v, lang) for v in vals}
    synthetic = bool(g["synthetic"].any()) if "synthetic" in g.columns else False  # remediation writes it
    fm = class_map(g, col, classes=classes, colors={v: S.VERDICT_COLORS.get(v, "#999999") for v in vals},
                   name=_lab("remediation.title", lang, label("maps.remediation_title", lang)), counties=counties,
                   synthetic=synthetic, class_label=_lab("remediation.verdict", lang, label("maps.class", lang)),
                   fields=[(label("column.project_code", lang), "project_code", "text"),
                           (label("column.category", lang), "category", "lookup:category"),
                           (label("column.year", lang), "year", "int"), (label("maps.area", lang), "area_mu", "mu"),
                           (_lab("remediation.change", lang, "change"), "change", "num"),
                           (_lab("remediation.slope_per_year", lang, "slope"), "slope_per_year", "num")],
                   series=series, series_label=index or None, **_opts(basemap, tianditu_key, online, lang))
    return _save(fm, out or d / "remediation_map.html", imagery, lang)


def _verdict_label(v: str, lang: str) -> str:
    try:
        return label(f"verdict.{v}", lang)
    except KeyError:  # a verdict from another tool: shown as it is
        return v


def _lab(key: str, lang: str, default: str) -> str:
    try:
        return label(key, lang)
    except KeyError:
        return default


def suitability_map_file(directory: str | os.PathLike = "suitability", out=None, *, workspace=None, lang: str = "zh",
                         basemap: str = "osm", tianditu_key: str | None = None, online: bool = False,
                         imagery: ImageryOptions | None = None) -> Path:
    """Map of ``agrigis suitability`` results: candidate polygons coloured by score class."""
    import geopandas as gpd
    import pyogrio

    import layers
    from maps.layer_map import score_map

    d = Path(directory)
    gpkg = _find(d, ("suitability.gpkg", "candidates.gpkg"))
    lyrs = [str(n) for n, _ in pyogrio.list_layers(gpkg)]
    g = gpd.read_file(gpkg, layer="candidates" if "candidates" in lyrs else lyrs[0])
    counties, _ = layers.get_catalog(workspace).load_role("counties", required=False)
    synthetic = bool(g["synthetic"].any()) if "synthetic" in g.columns else False
    name = _lab("suitability.title", lang, label("maps.suitability_title", lang))
    if "score" not in g.columns:
        raise DataFileError.of("error.no_score_column", path=gpkg, columns=", ".join(map(str, g.columns)))
    g = g.copy()
    if "limiting_factor" in g.columns:
        g["limiting_factor"] = g["limiting_factor"].map(lambda v: _lab(f"criterion.{v}", lang, str(v)) if v else None)
    rows = [(label(k, lang) if k.startswith(("column.", "maps.")) else _lab(k, lang, c), c, kind)
            for k, c, kind in [("suitability.candidate_id", "candidate_id", "text"),
                               ("column.county", "county_code", "lookup:county"),
                               ("maps.area", "area_mu", "mu"), ("suitability.score", "score", "num"),
                               ("suitability.limiting_factor", "limiting_factor", "text")]]
    fm = score_map(g, "score", name=name, title=name, fields=rows, synthetic=synthetic, counties=counties,
                   score_label=_lab("suitability.score", lang, "score"), **_opts(basemap, tianditu_key, online, lang))
    return _save(fm, out or d / "suitability_map.html", imagery, lang)


# ------------------------------------------------------------------------ commands
@click.group("map")
def map_group() -> None:
    """离线野外地图 / offline field maps (one HTML file, works without network).

    \b
      agrigis map progress -o progress_map.html
      agrigis map layer counties
      agrigis map layer soil_ec.tif
      agrigis map remediation remediation/
      agrigis map suitability suitability/
    """


@map_group.command("progress")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("progress_map.html"),
              show_default=True, help="HTML file to write.")
@registry_option
@click.option("--targets", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Targets YAML (default: the bundled Baicheng 2024 targets).")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="Date for the pace (default: today).")
@click.option("--year", type=int, default=None, help="Only the targets of this year.")
@click.option("--simplify", "simplify_m", type=float, default=None, help="Simplify parcels (tolerance in m, below 1).")
@click.option("--series", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="remediation_series.json for trend charts in popups.")
@click.option("--evidence", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="evidence.gpkg from 'agrigis verify': parcels coloured by whether the imagery supports the claim.")
@_common
def progress_command(*, out, registry, targets, as_of, year, simplify_m, series, evidence, basemap, tianditu_key, online,
                     workspace, basemap_file, basemap_budget, lang):
    """项目进度地图 / progress map: parcels by category and status, county completion."""
    p = progress_map_file(out, registry=registry, targets=targets, as_of=as_of, year=year, workspace=workspace,
                          lang=lang, basemap=basemap, tianditu_key=tianditu_key, online=online,
                          simplify_m=simplify_m, series=series, imagery=_imagery(basemap_file, basemap_budget),
                          evidence=evidence)
    click.echo(f"{p} ({p.stat().st_size / 1e6:.1f} MB)")


@map_group.command("layer")
@click.argument("layer")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write (default: LAYER_map.html).")
@click.option("--column", default=None, help="Colour polygons by the classes of this column.")
@click.option("--scheme", default=None, metavar="NAME",
              help="Draw a raster in a severity scheme (ec_aafc, ph_songnen, esp_cn, salt_cn, … or a scheme YAML); "
                   "'none' for quantile bins. Default: the scheme of the layer's role (soil_ec → ec_aafc, …).")
@_common
def layer_command(*, layer, out, column, scheme, basemap, tianditu_key, online, workspace, basemap_file,
                  basemap_budget, lang):
    """图层地图 / map of one catalogue layer or file (vector or raster)."""
    p = layer_map_file(layer, out, workspace=workspace, column=column, lang=lang, basemap=basemap,
                       tianditu_key=tianditu_key, online=online, imagery=_imagery(basemap_file, basemap_budget),
                       scheme=scheme)
    click.echo(f"{p} ({p.stat().st_size / 1e6:.1f} MB)")


@map_group.command("remediation")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("remediation"))
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write (default: DIRECTORY/remediation_map.html).")
@_common
def remediation_command(*, directory, out, basemap, tianditu_key, online, workspace, basemap_file, basemap_budget, lang):
    """盐碱地改良地图 / remediation map: parcels by verdict with index trend charts."""
    p = remediation_map_file(directory, out, workspace=workspace, lang=lang, basemap=basemap,
                             tianditu_key=tianditu_key, online=online,
                             imagery=_imagery(basemap_file, basemap_budget))
    click.echo(f"{p} ({p.stat().st_size / 1e6:.1f} MB)")


@map_group.command("suitability")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("suitability"))
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write (default: DIRECTORY/suitability_map.html).")
@_common
def suitability_command(*, directory, out, basemap, tianditu_key, online, workspace, basemap_file, basemap_budget, lang):
    """适宜性地图 / suitability map: candidate polygons by class."""
    p = suitability_map_file(directory, out, workspace=workspace, lang=lang, basemap=basemap,
                             tianditu_key=tianditu_key, online=online,
                             imagery=_imagery(basemap_file, basemap_budget))
    click.echo(f"{p} ({p.stat().st_size / 1e6:.1f} MB)")
