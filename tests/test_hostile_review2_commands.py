"""Second hostile review of issue 14, the newer commands: inspections import, soil,
imagery list/stack and ``map --basemap-file``. Every input is built here, for real
(GeoPackage registries, MBTiles/PMTiles files, Landsat products, the real CLI)."""

from __future__ import annotations

import gzip
import json
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gis.errors import DataFileError, InputError
from workflows.cli import main

from conftest import SHARED, SHARED_MISSING  # noqa: E402
from test_field_imagery import make_mbtiles, parcels
from test_inspections import export_doc, feature, make_registry

LS = SHARED / "real-samples" / "landsat" / "LC08_L2SP_005009_20150710_20200908_02_T2" if SHARED else None
needs_samples = pytest.mark.skipif(LS is None, reason=SHARED_MISSING)


def cli(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit), \
        (res.output, res.exception)
    return res


# ------------------------------------------------------------------ inspections
def _import(tmp_path, text: str):
    from layers import inspections as ins

    reg = make_registry(tmp_path / "r.gpkg")
    f = tmp_path / "bad.geojson"
    f.write_text(text, encoding="utf-8")
    return reg, f, ins


def test_deep_nesting_and_huge_integers_are_clear_errors_naming_the_file(tmp_path):
    reg, f, ins = _import(tmp_path, '{"type": "FeatureCollection", "x": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(DataFileError, match=r"bad.geojson is not valid JSON \(nested deeper than 64 levels\)"):
        ins.import_inspections(reg, f, lang="en")
    doc = export_doc([feature()])
    doc["features"][0]["properties"]["accuracy_m"] = 7
    f.write_text(json.dumps(doc).replace('"accuracy_m": 7', '"area_mu": ' + "9" * 5000), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"bad.geojson is not valid JSON \(an integer of 5000 digits\)"):
        ins.import_inspections(reg, f, lang="en")
    res = cli("inspections", "import", f, "--registry", reg.path, "--lang", "en")
    assert res.exit_code == 1 and "bad.geojson is not valid JSON" in res.output
    # brackets inside text do not count as nesting
    deep_note = export_doc([feature()])
    deep_note["features"][0]["properties"]["note"] = "[" * 500
    f.write_text(json.dumps(deep_note), encoding="utf-8")
    assert ins.import_inspections(reg, f, lang="en").n_new == 1


def test_a_repeated_id_with_other_content_refuses_the_file(tmp_path):
    a, b = feature(), feature(finding="built")
    reg, f, ins = _import(tmp_path, json.dumps(export_doc([a, b])))
    with pytest.raises(DataFileError, match="inspections 1 and 2 both have id 0123456789abcdef but differ"):
        ins.import_inspections(reg, f, lang="en")
    assert ins.inspections(reg).empty
    f.write_text(json.dumps(export_doc([a, a])), encoding="utf-8")  # an identical repeat is one inspection
    res = ins.import_inspections(reg, f, lang="en")
    assert (res.n_new, res.n_unchanged) == (1, 0)


@pytest.mark.parametrize("where, key, value, match", [
    ("properties", "note", ["x"], "inspection 1: note is a list, not text"),
    ("properties", "photos", "abc", "inspection 1: photos is text, not a list"),
    ("properties", "area_mu", "12", "inspection 1: area_mu is text, not a number"),
    ("properties", "version", {"a": 1}, "inspection 1: version is an object, not text"),
    ("properties", "position_time", [1, 1], "inspection 1: position_time is a list, not text"),
    ("geometry", "coordinates", "12", "inspection 1: geometry is not a lon/lat Point"),
    ("geometry", "coordinates", [True, 45.0], "inspection 1: geometry is not a lon/lat Point"),
])
def test_wrong_types_get_the_right_message(tmp_path, where, key, value, match):
    doc = export_doc([feature()])
    doc["features"][0][where][key] = value
    reg, f, ins = _import(tmp_path, json.dumps(doc))
    with pytest.raises(DataFileError, match=match):
        ins.import_inspections(reg, f, lang="en")
    assert ins.inspections(reg).empty


# ------------------------------------------------------------------ soil
SOIL = "sample_id,lon,lat,pH,EC(dS/m)\n" + "".join(
    f"S{i},{123.1 + (i % 5) * 0.01},{45.5 + (i // 5) * 0.01},{8.0 + (i % 3) * 0.1},{1.0 + (i % 7) * 0.2}\n"
    for i in range(25))


@pytest.mark.parametrize("value, reason", [
    ("1e308", "EC 1e308 is above 200 dS/m, which no soil reaches"),
    ("1e400", "EC 1e400 is above 200 dS/m, which no soil reaches"),
    ("-1", "EC -1 is negative, which is impossible"),
])
def test_absurd_soil_values_are_rejects_with_the_row(value, reason):
    from layers.samples import samples_from_frame

    df = pd.read_csv(__import__("io").StringIO(SOIL), dtype=str)
    df.loc[3, "EC(dS/m)"] = value
    read = samples_from_frame(df, source="s.csv", lang="en")
    rej = read.rejects
    assert rej["_row"].tolist() == [4] and rej["reason"].str.contains(reason, regex=False).all()
    assert np.isfinite(read.frame["ec"].dropna()).all() and read.frame["ec"].notna().sum() == 24


def test_a_fit_that_is_not_finite_is_refused():
    from workflows.soil import SoilOptions, _fit

    rng = np.random.default_rng(1)
    s = pd.DataFrame({"x": rng.uniform(0, 5000, 30), "y": rng.uniform(0, 5000, 30), "ec": rng.uniform(1, 2, 30)})
    s.loc[0, "ec"] = 1e300
    with pytest.raises(InputError, match="the variogram of ec cannot be fitted"):
        _fit(s, SoilOptions(prop="ec", method="kriging"))


def test_soil_cli_refuses_1e308_and_leaves_no_stale_rejects(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text(SOIL.replace("S3,123.13999999999999,", "S3,123.14,"), encoding="utf-8")
    lines = src.read_text().splitlines()
    bad = lines[:]
    bad[4] = ",".join(bad[4].split(",")[:4] + ["1e308"])
    src.write_text("\n".join(bad) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["soil", "interpolate", src, "--vars", "ec", "--ec-method", "1:5", "--method", "idw", "--res", "200", "-o", out, "--lang", "en"]
    res = cli(*args)
    assert res.exit_code == 0, res.output
    rej = pd.read_csv(out / "soil_rejects.csv")
    assert rej["_row"].tolist() == [4] and "above 200 dS/m" in rej["reason"][0]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = cli(*args)
    assert res.exit_code == 0, res.output
    rej = pd.read_csv(out / "soil_rejects.csv")  # written again, empty: no stale rejects of the run before
    assert len(rej) == 0 and list(rej.columns) == ["_row", "column", "value", "reason"]


# ------------------------------------------------------------------ imagery
def _landsat_copy(tmp_path: Path, edit=None, truncate: str | None = None) -> Path:
    dst = tmp_path / "p" / LS.name
    dst.mkdir(parents=True)
    for f in LS.iterdir():
        if f.name.endswith("_MTL.xml") and edit:
            (dst / f.name).write_text(edit(f.read_text()))
        elif truncate and f.name.endswith(truncate):
            (dst / f.name).write_bytes(f.read_bytes()[:20000])
        elif not f.name.endswith("_MTL.txt"):
            (dst / f.name).symlink_to(f)
    return dst


@needs_samples
@pytest.mark.parametrize("old, new, match", [
    (r"<DATE_ACQUIRED>2015-07-10<", "<DATE_ACQUIRED>2015-99-10<",
     r"IMAGE_ATTRIBUTES/DATE_ACQUIRED, SCENE_CENTER_TIME = '2015-99-10T.*', which is not a valid value"),
    (r"<CLOUD_COVER>[^<]*<", "<CLOUD_COVER>1e400<",
     r"IMAGE_ATTRIBUTES/CLOUD_COVER = '1e400', which is not a valid value"),
])
def test_bad_product_metadata_is_skipped_naming_product_and_field(tmp_path, old, new, match):
    import re

    from layers.imagery import open_product, scan

    folder = _landsat_copy(tmp_path, edit=lambda t: re.sub(old, new, t, count=1))
    with pytest.raises(DataFileError, match=f"{LS.name}: the metadata .*_MTL.xml has {match}"):
        open_product(folder)
    found = scan([folder.parent])
    assert found.products == [] and len(found.skipped) == 1
    res = cli("imagery", "list", folder.parent, "--lang", "en")
    assert re.search(match, res.output) and res.exit_code != 0


@needs_samples
def test_stack_of_a_truncated_band_names_product_and_band(tmp_path):
    import rasterio

    folder = _landsat_copy(tmp_path, truncate="_SR_B4.TIF")
    with rasterio.open(LS / f"{LS.name}_SR_B2.TIF") as ds:
        b = ds.bounds
    out = tmp_path / "out.nc"
    out.write_bytes(b"previous")
    box = (b.left, b.bottom, b.left + 3000, b.bottom + 3000)
    res = cli("imagery", "stack", folder, "--index", "NDVI", "--bounds", ",".join(map(str, box)), "--crs",
              f"EPSG:{ds.crs.to_epsg()}", "--res", "30", "-o", out, "--lang", "en")
    assert res.exit_code != 0
    assert f"product {LS.name}: band R ({LS.name}_SR_B4.TIF) cannot be read" in res.output, res.output
    assert "cannot write" not in res.output and out.read_bytes() == b"previous"


# ------------------------------------------------------------------ map --basemap-file
def _mb_edit(path: Path, sql: str) -> Path:
    con = sqlite3.connect(path)
    con.executescript(sql)
    con.commit()
    con.close()
    return path


def _pmtiles(path: Path, bad: str | None = None) -> Path:
    """A one-tile PMTiles v3 archive (gzip JPEG, zoom 14); ``bad``: ``tiles`` (the tile not
    gzip although the header says so), ``dir`` (the root directory zeroed), ``trunc``."""
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    from maps.imagery_tiles import lonlat_to_tile
    from test_field_imagery import BLUE, solid

    x, y = lonlat_to_tile(123.807, 45.606, 14)
    with open(path, "wb") as f:
        w = Writer(f)
        w.write_tile(zxy_to_tileid(14, x, y), solid(BLUE) if bad == "tiles" else gzip.compress(solid(BLUE)))
        w.finalize({"tile_type": TileType.JPEG, "tile_compression": Compression.GZIP, "min_zoom": 14,
                    "max_zoom": 14, "min_lon_e7": 1237000000, "min_lat_e7": 455000000, "max_lon_e7": 1239000000,
                    "max_lat_e7": 457000000, "center_zoom": 14, "center_lon_e7": 1238000000,
                    "center_lat_e7": 456000000}, {})
    data = bytearray(path.read_bytes())
    if bad == "dir":
        off, length = struct.unpack_from("<QQ", data, 8)
        data[off:off + length] = b"\x00" * length
    elif bad == "trunc":
        data = data[:60]
    path.write_bytes(bytes(data))
    return path


def _mbtiles_variants(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, sql in [("textzoom", "UPDATE tiles SET zoom_level = 'abc' WHERE rowid = 1;"),
                      ("textdata", "UPDATE tiles SET tile_data = CAST(tile_data AS TEXT);")]:
        out[name] = _mb_edit(make_mbtiles(tmp_path / f"{name}.mbtiles")[0], sql)
    garbled = make_mbtiles(tmp_path / "garbled.mbtiles")[0]
    _mb_edit(garbled, "CREATE INDEX t_idx ON tiles (zoom_level, tile_column, tile_row);")
    data = bytearray(garbled.read_bytes())
    page = 4096
    con = sqlite3.connect(garbled)
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'tiles'").fetchone()[0]
    con.close()
    data[(root - 1) * page:(root - 1) * page + 100] = b"\xff" * 100  # the table's pages, the index intact
    garbled.write_bytes(bytes(data))
    out["garbled"] = garbled
    for bad in ("tiles", "dir", "trunc"):
        out[f"pm_{bad}"] = _pmtiles(tmp_path / f"{bad}.pmtiles", bad=bad)
    return out


def test_every_fault_of_the_imagery_file_is_one_line_naming_it(tmp_path):
    parcels().to_file(tmp_path / "p.gpkg")
    out = tmp_path / "m.html"
    good = _pmtiles(tmp_path / "ok.pmtiles")
    res = cli("map", "layer", tmp_path / "p.gpkg", "-o", out, "--basemap", "none", "--basemap-file", good,
              "--lang", "en")
    assert res.exit_code == 0 and "offline imagery: ok.pmtiles, zoom 14–14, 1 tiles" in res.output, res.output
    before = out.read_bytes()
    for name, path in _mbtiles_variants(tmp_path).items():
        res = cli("map", "layer", tmp_path / "p.gpkg", "-o", out, "--basemap", "none", "--basemap-file", path,
                  "--lang", "en")
        assert res.exit_code == 1, (name, res.output)
        assert f"imagery file {path} cannot be read (" in res.output, (name, res.output)
        assert "Aborted" not in res.output and len(res.output.strip().splitlines()) == 1, (name, res.output)
        assert out.read_bytes() == before, name
