"""Soil samples → rasters: layers.samples (reading, units, rejects) and `agrigis soil`."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner

from gis.errors import InputError
from layers.samples import read_samples, samples_from_frame
from workflows.cli import main

pytest.importorskip("pykrige")

X0, Y0 = 560_000.0, 5_050_000.0  # EPSG:4550, inside Da'an


def _table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = X0 + rng.uniform(0, 5000, n)
    y = Y0 + rng.uniform(0, 5000, n)
    ec = 0.5 + (x - X0) / 5000 + 0.2 * np.sin(y / 700)
    return pd.DataFrame({"采样点编号": [f"S{i}" for i in range(n)], "X": x.round(2), "Y": y.round(2),
                         "采样深度": "0-20cm", "pH": (8.5 + (y - Y0) / 10000).round(3), "电导率(dS/m)": ec.round(4),
                         "浸提方法": "1:5"})


def test_units_are_converted_exactly():
    df = pd.DataFrame({"编号": ["a", "b", "c"], "经度": ["123.5", "123.6", "123.7"], "纬度": ["45.5", "45.6", "45.7"],
                       "EC (µS/cm)": ["850", "1200", "35"], "全盐量(%)": ["0.25", "0.6", "0.05"],
                       "ESP": ["12", "30", "4"], "ECe": ["", "", ""]})
    res = samples_from_frame(df, source="t.csv", lang="en")
    assert res.frame["ec"].tolist() == [0.85, 1.2, 0.035]
    assert res.frame["salt"].tolist() == [2.5, 6.0, 0.5]  # % → g/kg
    assert res.units == {"ec": "μs/cm", "salt": "%", "esp": ""}
    df2 = df.rename(columns={"EC (µS/cm)": "电导率(mS/cm)"}).assign(**{"电导率(mS/cm)": ["0.85", "1.2", "0.035"]})
    assert samples_from_frame(df2, source="t.csv").frame["ec"].tolist() == [0.85, 1.2, 0.035]  # mS/cm = dS/m
    # µS/cm values under a mS/cm header are 1000× too high: above the 200 dS/m limit, rejected by row
    wrong = samples_from_frame(df.rename(columns={"EC (µS/cm)": "电导率(mS/cm)"}), source="t.csv", lang="en")
    assert wrong.frame["ec"].isna().sum() == 2 and len(wrong.rejects) == 2


def test_unknown_unit_is_refused():
    df = pd.DataFrame({"经度": ["123.5"], "纬度": ["45.5"], "电导率(S/km)": ["1"]})
    with pytest.raises(InputError, match=r"t.csv: column '电导率\(S/km\)' names the unit 's/km', which is not known"):
        samples_from_frame(df, source="t.csv")


def test_rejects_name_row_and_reason():
    df = pd.DataFrame({"采样点编号": ["S1", "S2", "S3", "S1", "S5", "S6", "S7"],
                       "经度": ["123.5", "123.6", "", "123.7", "123.6", "123.55", "123.52"],
                       "纬度": ["45.5", "45.6", "45.7", "45.8", "45.6", "45.51", "45.52"],
                       "采样深度": ["0-20", "0-20", "0-20", "0-20", "0-20", "深层", "20-40"],
                       "pH": ["9.1", "15", "8", "8", "8.2", "8.3", "abc"],
                       "电导率": ["0.8", "-1.2", "1", "1", "1.1", "1", "2"]})
    res = samples_from_frame(df, source="t.csv", lang="en")
    assert res.rejects[["_row", "column", "reason"]].values.tolist() == [
        [2, "pH", "pH 15 is impossible (pH lies between 0 and 14)"],
        [2, "电导率", "EC -1.2 is negative, which is impossible"],
        [3, "x/y", "no usable coordinates"],
        [4, "sample_id", "sample S1 at 0-20 cm appears twice (as in row 1)"],
        [5, "x/y", "same place and 0-20 cm layer as row 2"],
        [6, "采样深度", "sampling depth '深层' cannot be read; write a layer such as 0-20 (cm)"],
        [7, "pH", "column 'pH': 'abc' is not a number"],
    ]
    assert res.frame["sample_id"].tolist() == ["S1", "S2", "S7"]
    assert res.frame["depth"].tolist() == ["0-20", "0-20", "20-40"]
    assert np.isnan(res.frame.loc[1, "ph"]) and res.frame.loc[1, "ec"] != res.frame.loc[1, "ec"]
    zh = samples_from_frame(df, source="t.csv").rejects.loc[0, "reason"]
    assert zh == "pH 15 不可能(pH 在 0 到 14 之间)"


def test_gauss_krueger_and_file_formats(tmp_path):
    df = _table(5)
    csv = tmp_path / "s.csv"
    df.to_csv(csv, index=False, encoding="gbk")
    res = read_samples(csv, lang="en")
    assert "EPSG:4550" in res.notes[-1]
    np.testing.assert_allclose(res.frame["x"], df["X"], atol=1e-6)
    assert res.frame.crs.to_epsg() == 4490 and res.frame["ec_method"].unique().tolist() == ["ec_1_5"]
    xlsx = tmp_path / "s.xlsx"
    df.to_excel(xlsx, index=False)
    np.testing.assert_allclose(read_samples(xlsx).frame["ec"], df["电导率(dS/m)"])
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(df.drop(columns=["X", "Y"]), geometry=gpd.points_from_xy(df["X"], df["Y"]), crs=4550)
    gdf.to_file(tmp_path / "s.gpkg")
    gdf.rename(columns={"采样点编号": "sample_id", "采样深度": "depth", "电导率(dS/m)": "EC", "浸提方法": "method"}
               ).to_file(tmp_path / "s.shp", encoding="utf-8")  # DBF names are cut at 10 bytes
    for name in ("s.gpkg", "s.shp"):
        r = read_samples(tmp_path / name)
        np.testing.assert_allclose(r.frame["y"], df["Y"], atol=1e-6)
        np.testing.assert_allclose(r.frame["ph"], df["pH"])


def test_ec_methods_are_never_mixed(tmp_path):
    df = _table(10)
    df.loc[:4, "浸提方法"] = "ECe"
    df.to_csv(tmp_path / "s.csv", index=False)
    out = CliRunner().invoke(main, ["soil", str(tmp_path / "s.csv"), "--aoi", f"{X0},{Y0},{X0 + 5000},{Y0 + 5000}",
                                    "-o", str(tmp_path / "out"), "--lang", "en"])
    assert out.exit_code == 1
    assert "EC of a 1:5 extract and ECe are different quantities" in out.output
    assert "ec_1_5: 5, ece: 5" in out.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _workspace(tmp_path):
    """A workspace whose land cover marks the north-east 1 km square as water."""
    from rasterio.transform import from_origin

    ws = tmp_path / "ws"
    ws.mkdir()
    lc = np.ones((50, 50), dtype="uint8")
    lc[:10, 40:] = 5
    with rasterio.open(ws / "landcover.tif", "w", driver="GTiff", width=50, height=50, count=1, dtype="uint8",
                       crs="EPSG:4550", transform=from_origin(X0, Y0 + 5000, 100, 100)) as dst:
        dst.write(lc, 1)
    (ws / "landcover_classes.csv").write_text("value,code\n1,cropland\n5,water\n6,built_up\n")
    (ws / "catalog.yml").write_text("layers:\n  - name: landcover\n    kind: raster\n    path: landcover.tif\n"
                                    "    crs: EPSG:4550\n    role: landcover\n    synthetic: true\n")
    return ws


@pytest.mark.parametrize("method", ["kriging", "idw"])
def test_cli_writes_rasters_and_report(tmp_path, method):
    import gis
    import geopandas as gpd
    from shapely.geometry import box

    df = _table(60)
    df.to_csv(tmp_path / "s.csv", index=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["soil", str(tmp_path / "s.csv"), "--property", "EC", "--method", method,
                                  "--res", "100", "--aoi", f"{X0},{Y0},{X0 + 5000},{Y0 + 5000}",
                                  "--workspace", str(_workspace(tmp_path)), "-o", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "60 samples interpolated onto 2400 cells; 0 rejected" in r.output
    tif = out / f"ec_0-20_{method}.tif"
    with rasterio.open(tif) as src:
        est = src.read(1, masked=True).filled(np.nan)
        assert src.nodata == -9999 and src.crs.to_epsg() == 4550 and src.res == (100.0, 100.0) and est.shape == (50, 50)
        assert np.isnan(est[:10, 40:]).all() and np.isfinite(est[10:, :]).all()  # water masked
    assert (out / f"ec_0-20_{method}_std.tif").exists() == (method == "kriging")
    report = pd.read_excel(out / "soil_report.xlsx", sheet_name=None)
    summary = dict(report["Summary"].values.tolist())
    assert summary["Samples used"] == 60 and summary["EC method"] == "ec_1_5"
    assert "RMSE" in summary and summary["CV folds"] == 60
    charts = [f"ec_0-20_{method}_cv.svg"] + ([f"ec_0-20_{method}_variogram.svg"] if method == "kriging" else [])
    for name in charts:  # beside the rasters, named in the summary, one dot per sample
        assert name in summary.values()
        svg = (out / name).read_text(encoding="utf-8")
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert (out / charts[0]).read_text(encoding="utf-8").count("<circle") == 60
    assert "observed vs predicted" in (out / charts[0]).read_text(encoding="utf-8")
    if method == "kriging":
        assert summary["Variogram model"] in ("spherical", "exponential", "gaussian")
        assert summary["Mean standardized squared error (≈1 honest)"] > 0  # honesty: tests/test_geostat.py
    # the raster feeds zonal statistics: a parcel of 4 × 3 whole cells has their mean
    parcel = gpd.GeoDataFrame({"id": [1]}, geometry=[box(X0 + 1000, Y0 + 1000, X0 + 1400, Y0 + 1300)], crs=4550)
    z = gis.zonal_stats(parcel, str(tif), stats="mean")
    cells = est[50 - 13:50 - 10, 10:14]
    assert z["mean"].iloc[0] == pytest.approx(float(cells.mean()), rel=1e-6)


def test_cli_rejects_file_and_county_aoi(tmp_path):
    df = _table(30)
    df.loc[3, "pH"] = 14.5
    df.to_csv(tmp_path / "s.csv", index=False)
    r = CliRunner().invoke(main, ["soil", str(tmp_path / "s.csv"), "--property", "pH", "--method", "idw",
                                  "--res", "500", "--aoi", "大安", "--workspace", str(_workspace(tmp_path)),
                                  "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    rej = pd.read_csv(tmp_path / "out" / "soil_rejects.csv")
    assert rej[["_row", "column"]].values.tolist() == [[4, "pH"]]
    assert rej.loc[0, "reason"] == "pH 14.5 不可能(pH 在 0 到 14 之间)"
    with rasterio.open(tmp_path / "out" / "ph_0-20_idw.tif") as src:
        a = src.read(1, masked=True).filled(np.nan)
        assert src.width * 500 > 50_000 and np.isnan(a).any() and np.isfinite(a).any()  # county outline masks


def _three_vars(n: int = 60) -> pd.DataFrame:
    """pH, ECe (1 → 11 dS/m west → east: every ec_aafc class but the last) and ESP."""
    df = _table(n).drop(columns=["电导率(dS/m)", "浸提方法"])
    df["ECe(dS/m)"] = (1 + 10 * (df["X"] - X0) / 5000).round(4)
    df["碱化度(%)"] = (5 + 20 * (df["Y"] - Y0) / 5000).round(3)
    return df


def test_interpolate_several_vars_one_report_registered_layers(tmp_path):
    import layers
    from gis.salinity import classify

    _three_vars().to_csv(tmp_path / "s.csv", index=False)
    ws = _workspace(tmp_path)
    (ws / "catalog.yml").write_text("# my workspace\n" + (ws / "catalog.yml").read_text())
    args = ["soil", "interpolate", str(tmp_path / "s.csv"), "--vars", "ph,ec,esp", "--res", "100",
            "--aoi", f"{X0},{Y0},{X0 + 5000},{Y0 + 5000}", "--workspace", str(ws), "-o", str(tmp_path / "soil"),
            "--lang", "en"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    for p in ("pH", "EC", "ESP"):  # what it did and the CV figures, per property
        assert f"{p}: 60 samples interpolated onto 2400 cells; 0 rejected" in r.output
    assert r.output.count("cross-validation (60 folds): RMSE") == 3
    names = ["soil_ph", "soil_ph_std", "soil_ec", "soil_ec_std", "soil_esp", "soil_esp_std"]
    assert f"layers {', '.join(names)} registered in {ws / 'catalog.yml'}" in r.output
    summary = pd.read_excel(tmp_path / "soil" / "soil_report.xlsx", sheet_name=None)
    assert list(summary) == ["Summary", "Variogram pH", "Cross-validation pH", "Variogram EC", "Cross-validation EC",
                             "Variogram ESP", "Cross-validation ESP", "Rejects"]
    s = summary["Summary"].set_index("Item")
    assert list(s.columns) == ["pH", "EC", "ESP"] and s.loc["Samples used"].tolist() == [60, 60, 60]
    assert s.loc["Catalogue layer"].tolist() == ["soil_ph", "soil_ec", "soil_esp"] and s.loc["EC method", "EC"] == "ece"
    text = (ws / "catalog.yml").read_text(encoding="utf-8")
    assert text.startswith("# my workspace\n") and "name: landcover" in text  # kept
    cat = layers.get_catalog(ws)
    assert [cat.by_role(n).name for n in names] == names
    assert cat["soil_ec"].path == (tmp_path / "soil" / "ec_0-20_kriging.tif").resolve()
    assert (cat["soil_ec"].unit, cat["soil_ec_std"].unit, cat["soil_ph"].unit) == ("dS/m", "dS/m", "-")
    # the registered raster feeds classify and class_area_mu unchanged
    with rasterio.open(tmp_path / "soil" / "ec_0-20_kriging.tif") as src:
        ec = src.read(1, masked=True).filled(np.nan)
    da = cat.load("soil_ec")
    np.testing.assert_array_equal(classify(da, "ec_aafc").values, classify(ec, "ec_aafc"))
    # … and `agrigis map layer` by the registered name
    m = CliRunner().invoke(main, ["map", "layer", "soil_ec", "--workspace", str(ws), "--basemap", "none",
                                  "-o", str(tmp_path / "ec.html"), "--lang", "en"])
    assert m.exit_code == 0, m.output
    assert "Soil EC 0-20 cm (interpolated from samples, kriging)" in (tmp_path / "ec.html").read_text(encoding="utf-8")
    # a second run replaces the entries instead of adding more
    r2 = CliRunner().invoke(main, args[:4] + ["EC", *args[5:]])
    assert r2.exit_code == 0, r2.output
    assert "replaced the catalogue's earlier layers of the same names: soil_ec, soil_ec_std" in r2.output
    assert layers.get_catalog(ws).names().count("soil_ec") == 1
    assert (ws / "catalog.yml").read_text(encoding="utf-8").startswith("# my workspace\n")


def test_ec_of_a_1_5_extract_is_registered_apart_and_old_form_works(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no catalog.yml in the current folder
    _table(30).to_csv(tmp_path / "s.csv", index=False)
    r = CliRunner().invoke(main, ["soil", str(tmp_path / "s.csv"), "--property", "EC", "--method", "idw",
                                  "--res", "500", "--aoi", f"{X0},{Y0},{X0 + 5000},{Y0 + 5000}",
                                  "-o", str(tmp_path / "out"), "--lang", "en"])
    assert r.exit_code == 0, r.output
    import layers

    cat = layers.get_catalog(tmp_path / "out")  # no workspace: a catalogue beside the rasters
    assert cat.by_role("soil_ec") is None and cat.by_role("soil_ec_1_5").path.name == "ec_0-20_idw.tif"
    r = CliRunner().invoke(main, ["soil", str(tmp_path / "s.csv"), "--vars", "pH", "--no-register", "--res", "500",
                                  "-o", str(tmp_path / "out2")])
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "out2" / "catalog.yml").exists()


def test_class_area_mu_takes_the_registered_raster(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import geopandas as gpd
    from shapely.geometry import box

    import layers
    from gis.salinity import class_area_mu, classify

    _three_vars().to_csv(tmp_path / "s.csv", index=False)
    r = CliRunner().invoke(main, ["soil", "interpolate", str(tmp_path / "s.csv"), "--vars", "ec", "--method", "idw",
                                  "--res", "100", "--aoi", f"{X0},{Y0},{X0 + 5000},{Y0 + 5000}",
                                  "-o", str(tmp_path / "soil")])
    assert r.exit_code == 0, r.output
    with rasterio.open(tmp_path / "soil" / "ec_0-20_idw.tif") as src:
        ec = src.read(1, masked=True).filled(np.nan)
    parcel = gpd.GeoDataFrame({"code": ["P"]}, geometry=[box(X0 + 1000, Y0 + 1000, X0 + 4000, Y0 + 3000)], crs=4550)
    mu = class_area_mu(parcel.set_index("code"), layers.load("soil_ec", tmp_path / "soil"), "ec_aafc").loc["P"]
    cells = classify(ec[50 - 30:50 - 10, 10:40], "ec_aafc")
    assert mu["area_mu_classified"] == pytest.approx(600 * 15, rel=2e-3)  # 600 cells of 1 ha = 15 亩
    for i, code in enumerate(("non_saline", "weak", "moderate", "strong")):
        assert mu[f"area_mu_{code}"] == pytest.approx(np.sum(cells == i) * 15, rel=2e-3)
    assert np.sum(cells == 1) > 50 and np.sum(cells == 3) > 50


# --------------------------------------------------------------------------- the HTML report


class _Page(HTMLParser):
    """Headings, and per ``<section>`` (one per property) its h2, tables (rows of cell
    texts, unescaped) and number of ``<svg>``; tables outside sections in ``loose``."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: list[dict] = []
        self.loose: list[list[list[str]]] = []
        self.heads: list[tuple[str, str]] = []
        self.cur: dict | None = None
        self.buf: list[str] | None = None
        self.row: list[str] = []
        self.feed(text)

    def _tables(self) -> list:
        return self.cur["tables"] if self.cur is not None else self.loose

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.cur = {"h2": "", "tables": [], "svg": 0}
            self.sections.append(self.cur)
        elif tag == "svg" and self.cur is not None:
            self.cur["svg"] += 1
        elif tag == "table":
            self._tables().append([])
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th", "h1", "h2", "h3", "summary"):
            self.buf = []

    def handle_endtag(self, tag):
        if tag == "section":
            self.cur = None
        elif tag in ("td", "th"):
            self.row.append("".join(self.buf))
            self.buf = None
        elif tag == "tr":
            self._tables()[-1].append(self.row)
        elif tag in ("h1", "h2", "h3", "summary"):
            self.heads.append((tag, "".join(self.buf)))
            if tag == "h2" and self.cur is not None:
                self.cur["h2"] = self.heads[-1][1]
            self.buf = None

    def handle_data(self, data):
        if self.buf is not None:
            self.buf.append(data)


def _same_figure(shown: str, xlsx) -> None:
    """A figure of the HTML report is the workbook's (4 significant digits shown)."""
    if isinstance(xlsx, str):
        assert shown == xlsx
    elif pd.isna(xlsx):
        assert shown == ""
    elif float(xlsx).is_integer() and "." not in shown and abs(xlsx) < 1e4:
        assert int(shown) == xlsx
    else:
        assert float(shown) == pytest.approx(float(xlsx), rel=6e-4, abs=0), (shown, xlsx)


def _check_items(section: dict, summary: pd.DataFrame, prop: str) -> dict[str, str]:
    """Every item/value row of a property's tables equals the workbook's summary column."""
    shown = {}
    for table in section["tables"]:
        if table[0] == ["项目", "数值"] or table[0] == ["Item", "Value"]:
            for item, value in table[1:]:
                _same_figure(value, summary.loc[item, prop])
                shown[item] = value
    return shown


def test_html_report_has_the_xlsx_figures_and_the_charts_inline(tmp_path):
    from maps.offline import external_references

    df = _three_vars()
    df.loc[5, "采样点编号"] = "<script>alert(1)</script>"
    df.loc[7, "pH"] = 15  # rejected
    df.to_csv(tmp_path / "s.csv", index=False)
    out = tmp_path / "soil"
    r = CliRunner().invoke(main, ["soil", "interpolate", str(tmp_path / "s.csv"), "--vars", "ph,ec", "--res", "250",
                                  "--aoi", f"{X0},{Y0},{X0 + 5000},{Y0 + 5000}", "--no-register", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert f"报告(网页,含变异函数图和观测值-预测值图,可用浏览器打开或打印):{out / 'soil_report.html'}" in r.output
    text = (out / "soil_report.html").read_text(encoding="utf-8")
    assert "<script" not in text.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert external_references(text) == [] and 'lang="zh-CN"' in text and "合成" not in text
    page = _Page(text)
    assert page.heads[0] == ("h1", "土壤属性插值报告")
    assert [s["h2"] for s in page.sections] == ["pH", "EC (dS/m)"] and all(s["svg"] == 2 for s in page.sections)
    xlsx = pd.read_excel(out / "soil_report.xlsx", sheet_name=None)
    summary = xlsx["概要"].set_index("项目")
    for sec, prop, stem in zip(page.sections, ["pH", "EC"], ["ph", "ec"], strict=True):
        for chart in ("variogram", "cv"):  # the chart files' SVG, embedded as it is
            assert (out / f"{stem}_0-20_kriging_{chart}.svg").read_text(encoding="utf-8") in text
        shown = _check_items(sec, summary, prop)
        for item in ("变异函数模型", "块金值", "基台值", "变程(米)", "交叉验证折数", "均方根误差 RMSE", "平均误差 ME",
                     "平均绝对误差 MAE", "R²", "标准化均方误差(≈1 为可信)", "90% 区间覆盖率"):
            assert shown[item] != "", item
        assert float(shown["均方根误差 RMSE"]) > 0 and 0.9 < float(shown["R²"]) <= 1
        points = sec["tables"][-1]  # per sample, predicted without it: the workbook's CV sheet
        sheet = xlsx[f"交叉验证 {prop}"]
        assert points[0] == list(sheet.columns) and len(points) - 1 == len(sheet) == (59 if prop == "pH" else 60)
        for row, (_, want) in zip(points[1:], sheet.iterrows(), strict=True):
            assert int(row[0]) == want["行号"] and row[1] == want["采样点编号"]
            assert float(row[3]) == pytest.approx(want["交叉验证预测值"], rel=1e-5)
    assert ["6", "<script>alert(1)</script>"] in [row[:2] for row in page.sections[0]["tables"][-1]]
    assert ("h3", "变异函数") in page.heads and ("h3", "交叉验证") in page.heads and ("h2", "剔除记录") in page.heads
    assert page.loose[-1][1][:2] == ["8", "pH"]  # the rejected row, as in soil_rejects.csv


def test_html_report_in_english_marks_synthetic_samples(tmp_path, monkeypatch):
    from workflows.soil import SoilOptions, soil_maps

    monkeypatch.chdir(tmp_path)
    _table(40).to_csv(tmp_path / "s.csv", index=False)
    opts = SoilOptions(prop="ec", method="idw", res=500, aoi=f"{X0},{Y0},{X0 + 5000},{Y0 + 5000}", lang="en",
                       synthetic=True, register=False)
    res = soil_maps(tmp_path / "s.csv", tmp_path / "out", opts)
    assert res.html == tmp_path / "out" / "soil_report.html" and res.html in res.files
    assert (tmp_path / "out" / "soil_report.xlsx").exists()
    text = res.html.read_text(encoding="utf-8")
    page = _Page(text)
    assert page.heads[0] == ("h1", "Soil property interpolation report (synthetic samples)")
    assert text.count("demo data (synthetic, not real)") == 2 and 'lang="en"' in text  # top and footer
    assert "(synthetic samples)</text>" in text  # the chart titles too
    sec, = page.sections
    assert sec["h2"] == "EC (dS/m)" and sec["svg"] == 1  # IDW: no variogram
    assert ("h3", "Variogram") not in page.heads and ("h3", "Cross-validation") in page.heads
    summary = pd.read_excel(tmp_path / "out" / "soil_report.xlsx", sheet_name="Summary").set_index("Item")
    shown = _check_items(sec, summary, "EC")
    assert shown["Mean standardized squared error (≈1 honest)"] == "" and float(shown["RMSE"]) > 0
    assert page.loose == [] and "No rows rejected" in text


def test_html_report_is_written_with_the_others_or_none(tmp_path, monkeypatch):
    from workflows import soil

    monkeypatch.chdir(tmp_path)
    _table(30).to_csv(tmp_path / "s.csv", index=False)

    def broken(*args):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(soil, "report_html", broken)
    opts = soil.SoilOptions(prop="ph", method="idw", res=500, register=False)
    with pytest.raises(RuntimeError, match="disk gone"):
        soil.soil_maps(tmp_path / "s.csv", tmp_path / "out", opts)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
