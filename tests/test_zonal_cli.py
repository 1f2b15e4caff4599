"""``agrigis zonal`` (workflows.zonal): tables from files, stacks, classes, weights, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gis import zonal_stats
from workflows.cli import main
from workflows.zonal import zonal_table

from test_zonal import NODATA, _parcels, _values, _write


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("zonal_cli")
    zones = _parcels(20, seed=11).reset_index()
    zones.to_file(d / "parcels.gpkg", driver="GPKG")
    v = _values()
    v2 = np.where(v == NODATA, NODATA, v + 1).astype("float32")
    cls = np.where(v == NODATA, 0, np.digitize(v, [8.5, 9.0, 9.5])).astype("uint8")
    return {"dir": d, "zones": zones.set_index("code"), "gpkg": d / "parcels.gpkg",
            "a": _write(d / "2024-05-01.tif", v), "b": _write(d / "2024-06-01.tif", v2),
            "cls": _write(d / "classes.tif", cls, nodata=255)}


def test_cli_writes_a_chinese_csv_equal_to_zonal_stats(files):
    out = files["dir"] / "out.csv"
    res = CliRunner().invoke(main, ["zonal", str(files["gpkg"]), str(files["a"]),
                                    "--stats", "mean,max,p90", "--id-column", "code",
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert f"已写出 {out}" in res.output
    table = pd.read_csv(out, encoding="utf-8-sig", index_col=0)
    assert list(table.columns) == ["均值", "最大值", "90%分位数", "图斑在栅格内比例",
                                   "部分超出栅格"]
    ref = zonal_stats(files["zones"], files["a"], stats="mean,max,p90")
    np.testing.assert_allclose(table["均值"], ref.loc[table.index, "mean"], rtol=1e-6)
    np.testing.assert_allclose(table["最大值"], ref.loc[table.index, "max"], rtol=1e-6)


def test_stack_of_dates_by_class_and_weights(files, tmp_path):
    weights = tmp_path / "w.npz"
    t = zonal_table(files["gpkg"], [files["a"], files["b"]], stats="mean",
                    id_column="code", weights=weights)
    assert weights.exists()
    assert {"mean_2024-05-01", "mean_2024-06-01"} <= set(t.columns)
    diff = (t["mean_2024-06-01"] - t["mean_2024-05-01"]).dropna()
    np.testing.assert_allclose(diff, 1.0, rtol=1e-5)
    again = zonal_table(files["gpkg"], [files["a"], files["b"]], stats="mean",
                        id_column="code", weights=weights)  # reuses the saved weights
    np.testing.assert_allclose(again["mean_2024-05-01"], t["mean_2024-05-01"])
    out = tmp_path / "classes.xlsx"
    res = CliRunner().invoke(main, ["zonal", str(files["gpkg"]), str(files["cls"]),
                                    "--by-class", "--stats", "majority", "--lang", "en",
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    x = pd.read_excel(out, index_col=0)
    areas = x.filter(like="area (mu)")
    assert list(areas.columns) == [f"Class {c} area (mu)" for c in range(4)]
    shares = x.filter(like="Share of class").sum(axis=1)
    np.testing.assert_allclose(shares[x["Share of parcel inside raster"] > 0], 1.0)


def test_cli_errors_are_plain(files, tmp_path):
    res = CliRunner().invoke(main, ["zonal", str(files["gpkg"]), str(files["a"]),
                                    "-o", str(tmp_path / "out.shp"), "--lang", "en"])
    assert res.exit_code == 1
    assert res.output.startswith("error: ")  # nothing before it: no empty progress-bar line
    assert "out.shp: unknown output type; use one of .csv, .xlsx, .gpkg, .parquet" in res.output
    res = CliRunner().invoke(main, ["zonal", str(files["gpkg"]), str(files["a"]),
                                    "--stats", "mode", "-o", str(tmp_path / "o.csv"), "--lang", "en"])
    assert res.exit_code == 1 and "statistic 'mode' is unknown" in res.output
    res = CliRunner().invoke(main, ["zonal", str(files["gpkg"]), str(files["a"]),
                                    "--stats", "mode", "-o", str(tmp_path / "o.csv")])
    assert res.exit_code == 1 and res.output.strip().splitlines()[-1] == (
        "错误:统计量 'mode' 无法识别;请使用 count, sum, mean, min, max, std, median, majority, minority, "
        "variety,或用 pNN 表示百分位数(p10、p90 …)")
    assert not (tmp_path / "o.csv").exists()


def test_parcel_columns_keep_their_names_and_the_file_is_readable(files, tmp_path):
    """A registry export carries area_mu/mean-like columns: they are the parcel's, not stats."""
    import os
    import stat

    zones = files["zones"].reset_index()
    zones["area_mu"] = 12.5
    zones["mean"] = "user text"
    src = tmp_path / "registry_export.gpkg"
    zones.to_file(src, driver="GPKG")
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(main, ["zonal", str(src), str(files["a"]), "--stats", "mean",
                                    "--id-column", "code", "-o", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, encoding="utf-8-sig", index_col=0)
    assert list(table.columns[:2]) == ["area_mu", "mean"]  # the parcel's own columns
    assert (table["area_mu"] == 12.5).all() and (table["mean"] == "user text").all()
    assert "均值" in table.columns and not any("{c}" in c for c in table.columns)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask  # not 0600: others may read it


def test_a_stack_without_dates_or_with_two_on_one_day_keeps_one_column_per_date(files, tmp_path):
    """A NetCDF stack whose time axis has no dates is labelled by position (a number is
    no date: it was read as nanoseconds after 1970, every column '1970-01-01'); two
    acquisitions on one day are numbered, not written as twin columns."""
    import rioxarray
    import xarray as xr

    das = [rioxarray.open_rasterio(files[k], masked=True).squeeze("band", drop=True) for k in ("a", "b")]
    plain = xr.concat(das, dim="time").rename("ndvi")  # no time coordinate
    nc = tmp_path / "no_dates.nc"
    plain.to_dataset().to_netcdf(nc, engine="h5netcdf")
    t = zonal_table(files["gpkg"], [nc], stats="mean", id_column="code")
    assert [c for c in t.columns if c.startswith("mean")] == ["mean_0", "mean_1"]
    diff = (t["mean_1"] - t["mean_0"]).dropna()
    np.testing.assert_allclose(diff, 1.0, rtol=1e-5)
    same_day = plain.assign_coords(time=pd.to_datetime(["2024-05-01 02:30", "2024-05-01 03:10"]))
    nc2 = tmp_path / "same_day.nc"
    same_day.to_dataset().to_netcdf(nc2, engine="h5netcdf")
    out = tmp_path / "same_day.csv"
    res = CliRunner().invoke(main, ["zonal", str(files["gpkg"]), str(nc2), "--stats", "mean",
                                    "--lang", "en", "-o", str(out)])
    assert res.exit_code == 0, res.output
    header = out.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    means = [h for h in header if h.startswith("Mean")]
    assert len(means) == 2 and len(set(means)) == 2 and means[0].endswith("2024-05-01"), header
