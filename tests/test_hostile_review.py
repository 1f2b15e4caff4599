"""Review of issue 14 on main: what a second hostile tester still found.

Round trips of agrigis' own exports, writers failing on a full disk, a publish killed
between its renames, stale temporary files, near-duplicate codes across batches,
control characters on the terminal, a folder as ``--registry``, Shapefile field names,
long DBF codes and cut-off GDAL messages. Everything runs for real: registry
GeoPackages, a real tmpfs, the real CLI, child processes killed with SIGKILL.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely import box

from gis.area import area_mu
from gis.outputs import atomic_write, staged_outputs
from layers.registry import Registry
from workflows.cli import main

from conftest import cli, one_error_line  # noqa: E402 - the shared CLI runner of the hostile suites

ROOT = Path(__file__).resolve().parents[1]


def rows(codes=("A", "B", "C"), declared=(1500.0, None, 80.5)) -> gpd.GeoDataFrame:
    n = len(codes)
    # coordinates with all 15 digits, as every parcel reprojected from a plane CRS has
    geoms = [box(123.4 + i * 0.02 + 1 / 3e5, 45.94 + 1 / 7e5, 123.41 + i * 0.02, 45.95) for i in range(n)]
    return gpd.GeoDataFrame({
        "project_code": list(codes), "project_name": [f"项目{c}" for c in codes],
        "category": "paddy_new", "county_code": "220821", "year": 2024, "status": "planned",
        "declared_area_mu": np.array(list(declared)[:n], dtype="float64"),
        "area_mu": area_mu(geoms, crs="EPSG:4490"), "investment_wan_yuan": [12.5] * n,
        "_row": np.arange(1, n + 1),
    }, geometry=geoms, crs="EPSG:4490")


def make_registry(path: Path, **kw) -> Registry:
    reg = Registry(path)
    reg.write(rows(**kw), source="a.shp", sha256="a" * 64)
    return reg


# -- 1: an export imported back with --update changes nothing ---------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("suffix", [".gpkg", ".csv", ".xlsx"])
def test_an_export_imported_back_keeps_every_declared_area(tmp_path, suffix, lang):
    reg = make_registry(tmp_path / "r.gpkg")
    before = reg.projects().set_index("project_code")
    out = tmp_path / f"rt{suffix}"
    assert cli("registry", "export", out, "--registry", reg.path, "--lang", lang).exit_code == 0
    res = cli("import", out, "--update", "--registry", reg.path, "--lang", "en")
    assert res.exit_code == 0, res.output
    after = Registry(reg.path).projects().set_index("project_code")
    # the computed area (面积(亩) / Area (mu) / area_mu) is never read as the declared one
    pd.testing.assert_series_equal(after["declared_area_mu"], before["declared_area_mu"])
    assert after.loc["A", "declared_area_mu"] == 1500.0 and np.isnan(after.loc["B", "declared_area_mu"])
    assert "rejected 0" in res.output, res.output
    assert "(new 0, updated 0, unchanged 3)" in res.output, res.output


def test_a_declared_area_column_wins_over_a_computed_one():
    from layers.fields import load_mapping

    m = load_mapping()
    for cols, want in ((["面积(亩)", "申报面积(亩)"], "申报面积(亩)"), (["area_mu", "declared_area_mu"], "declared_area_mu"),
                       (["Area (mu)", "Declared area (mu)"], "Declared area (mu)"), (["面积", "申报面积"], "申报面积"),
                       (["面积(亩)"], "面积(亩)")):
        assert m.match_columns(cols)["declared_area_mu"] == want, cols


def test_geometry_wkt_and_the_note_under_an_export_are_read(tmp_path):
    from layers.io import read_parcels

    p = tmp_path / "t.csv"
    p.write_text("project_code,geometry_wkt\nP1,\"POLYGON ((123.4 45.9, 123.41 45.9, 123.41 45.91, 123.4 45.9))\"\n"
                 "# agrigis registry export: r.gpkg, 2024-01-01\n", encoding="utf-8")
    got = read_parcels(p)
    assert list(got.frame["project_code"]) == ["P1"] and got.rejects.empty


# -- 2: a writer failing on a full disk is "disk full", for every export format ----------

@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp", ".csv", ".xlsx", ".txt"])
def test_every_export_on_a_full_disk_says_so_in_one_line(tmp_path, small_disk, suffix):
    reg = make_registry(tmp_path / "r.gpkg", codes=tuple(f"P{i}" for i in range(60)), declared=[1.0] * 60)
    d = small_disk("1m")
    d.fill()
    res = cli("registry", "export", d.path / f"new{suffix}", "--registry", reg.path, "--lang", "en")
    line = one_error_line(res)
    assert "the disk is full" in line and "new." in line, line
    assert sorted(p.name for p in d.path.iterdir()) == [".filler"]


# -- 5: a code that differs only slightly from a registered one --------------------------

def _csv(path: Path, codes: list[str]) -> Path:
    lines = ["project_code,category,year,status,wkt"] + [
        f'"{c}",paddy_new,2024,planned,"POLYGON ((123.4 45.94, 123.41 45.94, 123.41 45.95, 123.4 45.94))"'
        for c in codes]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_format_characters_are_removed_from_codes():
    from layers.fields import project_code

    assert project_code("P1\u200b") == "P1" and project_code("\ufeffP1\u200d") == "P1"
    assert project_code("P\xa01") == "P 1"


@pytest.mark.parametrize("code", ["p-1", "P1\u200b", "P\xa01", "p_1"])
def test_a_near_duplicate_of_a_registered_code_is_refused_naming_it(tmp_path, code):
    reg = tmp_path / "r.gpkg"
    assert cli("import", _csv(tmp_path / "a.csv", ["P1"]), "--registry", reg).exit_code == 0
    res = cli("import", _csv(tmp_path / "b.csv", [code, "Q9"]), "--registry", reg, "--update", "--lang", "en")
    codes = sorted(Registry(reg).projects()["project_code"])
    if code == "P1\u200b":  # the zero-width space goes: it is P1 itself, unchanged
        assert codes == ["P1", "Q9"] and "unchanged 1" in res.output, res.output
        return
    assert codes == ["P1", "Q9"], res.output
    shown = code.replace("\xa0", " ")
    assert f"project code '{shown}' differs from 'P1', already in the registry" in res.output, res.output
    rejects = pd.read_csv(tmp_path / "b.csv.rejects.csv", dtype=str)
    assert rejects["reason"].str.contains("already in the registry").sum() == 1


# -- 6: nothing a hand edit puts in the registry steers the terminal ---------------------

def test_control_characters_never_reach_the_terminal(tmp_path):
    reg = make_registry(tmp_path / "r.gpkg")
    evil = '=HYPERLINK("x")\x1b[2J\x9b31m'
    con = sqlite3.connect(reg.path)  # a hand edit, as QGIS would make it
    con.create_function("ST_IsEmpty", 1, lambda b: 0)
    for name in ("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
        con.create_function(name, 1, lambda b: 0.0)
    with con:
        con.execute("UPDATE projects SET project_code = ?, project_name = ? WHERE project_code = 'A'",
                    (evil, "名\x1b]0;pwned\x07"))
    con.close()
    outputs = [CliRunner().invoke(main, ["registry", *args, "--registry", str(reg.path)]).output
               for args in (["verify"], ["history", evil], ["show", evil], ["list"])]
    assert '=HYPERLINK("x")[2J31m' in outputs[0] and "1500.0" in outputs[1] and "名]0;pwned" in outputs[2], outputs
    for out in outputs:
        assert not any(ch in out for ch in "\x1b\x9b\x07"), repr(out)


# -- 7: a folder as --registry -----------------------------------------------------------

@pytest.mark.parametrize("args", [["registry", "list"], ["import", "a.csv"]])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_folder_as_registry_is_one_keyed_line(tmp_path, args, lang):
    _csv(tmp_path / "a.csv", ["P1"])
    args = [str(tmp_path / a) if a.endswith(".csv") else a for a in args]
    line = one_error_line(cli(*args, "--registry", tmp_path, "--lang", lang))
    from gis.labels import message

    assert line.endswith(message("error.registry_is_folder", lang, path=tmp_path)), line
    assert ("is a folder, not a registry" in line) == (lang == "en"), line


# -- 3: a publish killed between its renames is rolled back by the next write -------------

OLD = {"flags.xlsx": b"old xlsx", "progress.csv": b"old csv", "map.html": b"old html"}

CHILD = """
import os, signal, sys
import gis.outputs as o
o._after_replace = lambda path: os.kill(os.getpid(), signal.SIGKILL)
with o.staged_outputs(sys.argv[1], ["flags.xlsx", "progress.csv", "map.html"]) as tmp:
    for n in ("flags.xlsx", "progress.csv", "map.html"):
        (tmp / n).write_bytes(b"new " + n.encode())
"""


def _old_set(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for n, data in OLD.items():
        (folder / n).write_bytes(data)


def _dead_pid() -> int:
    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(p.stdout)


def test_a_publish_killed_after_its_first_rename_is_rolled_back(tmp_path):
    _old_set(tmp_path)
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], cwd=ROOT, capture_output=True)
    assert child.returncode == -9, child.stderr
    # the kill state: one new file among old ones, the staging folder with its manifest
    got = {n: (tmp_path / n).read_bytes() for n in OLD}
    assert sum(v.startswith(b"new") for v in got.values()) == 1, got
    staging = [p for p in tmp_path.iterdir() if p.name.startswith(".agrigis-")]
    assert len(staging) == 1 and (staging[0] / ".publish.json").is_file() and (staging[0] / ".previous").is_dir()
    # any agrigis output call into the folder restores the consistent old set
    atomic_write(tmp_path / "other.txt", lambda tmp: tmp.write_text("x"))
    assert {n: (tmp_path / n).read_bytes() for n in OLD} == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*OLD, "other.txt"])


def test_a_simulated_kill_state_is_rolled_back_file_by_file(tmp_path):
    import json

    _old_set(tmp_path)
    tmp = tmp_path / ".agrigis-k1ll3d00"
    (tmp / ".previous").mkdir(parents=True)
    (tmp / "progress.csv").write_bytes(b"new csv")  # not moved yet
    (tmp / "map.html").write_bytes(b"new html")
    os.link(tmp_path / "flags.xlsx", tmp / ".previous" / "flags.xlsx")
    os.link(tmp_path / "progress.csv", tmp / ".previous" / "progress.csv")
    moved = tmp / "flags.xlsx"
    moved.write_bytes(b"new xlsx")
    ino = [moved.stat().st_dev, moved.stat().st_ino]
    os.replace(moved, tmp_path / "flags.xlsx")  # the one rename that happened
    files = [{"name": "flags.xlsx", "existed": True, "kept": True, "ino": ino},
             {"name": "progress.csv", "existed": True, "kept": True, "ino": [0, 0]},
             {"name": "map.html", "existed": False, "kept": False, "ino": [0, 0]}]
    (tmp_path / "map.html").unlink()
    (tmp / ".publish.json").write_text(json.dumps({"pid": _dead_pid(), "files": files}))
    with staged_outputs(tmp_path, ["flags.xlsx"]) as new:
        assert (tmp_path / "flags.xlsx").read_bytes() == b"old xlsx" and not tmp.exists()
        (new / "flags.xlsx").write_bytes(b"newest")
    assert (tmp_path / "progress.csv").read_bytes() == b"old csv" and not (tmp_path / "map.html").exists()
    assert (tmp_path / "flags.xlsx").read_bytes() == b"newest"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flags.xlsx", "progress.csv"]


def test_a_live_publish_of_another_process_is_left_alone(tmp_path):
    import json

    tmp = tmp_path / ".agrigis-l1ve0000"
    tmp.mkdir()
    (tmp / "a.csv").write_bytes(b"new")
    (tmp / ".publish.json").write_text(json.dumps({"pid": os.getppid(), "files": [
        {"name": "a.csv", "existed": False, "kept": False, "ino": [0, 0]}]}))
    atomic_write(tmp_path / "b.txt", lambda t: t.write_text("x"))
    assert (tmp / "a.csv").exists() and not (tmp_path / "a.csv").exists()


# -- 4: temporary files of killed runs are removed by the next write ---------------------

def test_stale_temporary_files_are_removed_and_nothing_else(tmp_path):
    old = time.time() - 2 * 3600
    stale = [".e-ab12cd_9.gpkg", ".e-ab12cd_9.gpkg-journal", ".e-zz99yy88.csv", ".agrigis-q1w2e3r4"]
    keep = [".e-new12345.gpkg", ".hidden", "e-ab12cd34.gpkg", ".e-ab12cd34.gpkg.bak", "data.gpkg",
            ".agrigis-notours", ".agrigis-fresh000"]
    for n in stale + keep:
        p = tmp_path / n
        if n.startswith(".agrigis-"):
            p.mkdir()
            (p / "half.xlsx").write_bytes(b"x")
            if n != ".agrigis-fresh000":
                os.utime(p / "half.xlsx", (old, old))
        else:
            p.write_bytes(b"x")
        if n not in {".e-new12345.gpkg", ".agrigis-fresh000"}:
            os.utime(p, (old, old))
    atomic_write(tmp_path / "report.csv", lambda t: t.write_text("ok"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, "report.csv"])


# -- 8: Shapefile field names are ours, not GDAL's laundering ----------------------------

def test_shapefile_names_fit_a_dbf_and_import_back(tmp_path):
    import pyogrio

    from layers.fields import SHAPEFILE_NAMES, load_mapping, shapefile_columns

    gdf = Registry(make_registry(tmp_path / "r.gpkg").path).projects()
    names = shapefile_columns(gdf.columns)
    data = gdf.rename(columns=names)
    dbf = [c for c in data.columns if c != "geometry"]
    assert all(len(c.encode()) <= 10 for c in dbf) and len({c.lower() for c in dbf}) == len(dbf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Normalized/laundered field name"
        pyogrio.write_dataframe(data, tmp_path / "x.shp", encoding="UTF-8")
    assert list(pyogrio.read_info(tmp_path / "x.shp")["fields"]) == dbf
    matched = load_mapping().match_columns(dbf)
    assert matched["project_code"] == "proj_code" and matched["declared_area_mu"] == "decl_mu"
    assert matched["investment_wan_yuan"] == "invest_wy" and set(SHAPEFILE_NAMES.values()) <= set(dbf)


def test_a_shapefile_export_prints_no_warning_and_keeps_our_names(tmp_path):
    import pyogrio

    reg = make_registry(tmp_path / "r.gpkg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = cli("registry", "export", tmp_path / "x.shp", "--registry", reg.path)
    assert res.exit_code == 0 and "laundered" not in res.output, res.output
    assert "decl_mu" in list(pyogrio.read_info(tmp_path / "x.shp")["fields"])


# -- 9: a long code in a DBF column with decimals ---------------------------------------

def test_an_18_digit_code_in_a_dbf_column_with_decimals_keeps_every_digit(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent / "data"))
    import make_bad_inputs as mb
    from test_hostile_import import _write_dbf

    from layers.io import read_parcels

    shp = mb._shp(mb.parcels(2)[["geometry"]].assign(a=[1, 2]), tmp_path, "codes")
    fields = [("XMBH", "N", 25, 6), ("MJ", "N", 12, 2)]
    _write_dbf(shp.with_suffix(".dbf"), fields, [("220821202400100001.000000", "1300.50"),
                                                 ("220821202400100003.500000", "12.00")])
    got = read_parcels(shp).frame
    assert got["XMBH"].tolist() == [220821202400100001, "220821202400100003.500000"]
    assert got["MJ"].tolist() == [1300.5, 12.0]


# -- 10: a reader's message is shown whole ----------------------------------------------

def test_gdals_message_is_never_cut_mid_word(tmp_path):
    deep = tmp_path / "tnnevol" / ("区" * 60) / ("a" * 120)
    deep.mkdir(parents=True)
    (deep / "220800.json").write_text('{"adcode": 220800, "name": "白城市", "children": []}', encoding="utf-8")
    line = one_error_line(cli("import", deep / "220800.json", "--registry", tmp_path / "r.gpkg", "--lang", "en"))
    assert line.endswith("(Failed to read GeoJSON data; '220800.json' not recognized as being in a supported "
                         "file format.; It might help to specify the correct driver explicitly by prefixing the "
                         "file path with '<DRIVER>:', e.g. 'CSV:path'.); open it in QGIS to check it, "
                         "or export it again") or "e.g. 'CSV:path'.); open it in QGIS" in line, line
    assert line.count(str(deep)) == 1, line  # the path once, GDAL's copy of it shortened to the name
