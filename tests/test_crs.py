"""CRS constants, Gauss-Krüger zones, guessing and checking the CRS of bare coordinates."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from gis.crs import (CGCS2000, GK_CM123, GK_ZONE41, CRSGuess, check_crs, gk_crs, guess_crs)
from gis.errors import AmbiguousCRSError, CRSError

pytestmark = pytest.mark.filterwarnings("ignore:You will likely lose important projection")

# a few vertices spread over Baicheng (lon, lat)
LON = np.array([121.7, 122.84, 123.5, 124.3, 122.3])
LAT = np.array([45.0, 45.62, 46.2, 44.9, 44.3])


def _proj(crs):
    return pyproj.Transformer.from_crs(CGCS2000, crs, always_xy=True).transform(LON, LAT)


def test_constants():
    assert (CGCS2000, GK_CM123, GK_ZONE41) == ("EPSG:4490", "EPSG:4550", "EPSG:4529")
    gk = pyproj.CRS(GK_CM123).to_dict()
    assert gk["lon_0"] == 123 and gk["x_0"] == 500000 and gk["k"] == 1
    assert pyproj.CRS(GK_ZONE41).to_dict()["x_0"] == 41_500_000


@pytest.mark.parametrize("lon, width, prefix, epsg", [
    (122.84, 3, False, 4550), (122.84, 3, True, 4529), (121.49, 3, True, 4528), (121.51, 3, False, 4550),
    (124.6, 3, True, 4530), (75.0, 3, True, 4513), (135.0, 3, True, 4533), (135.0, 3, False, 4554),
    (122.84, 6, False, 4510), (122.84, 6, True, 4499), (117.0, 6, True, 4498), (73.6, 6, False, 4502),
])
def test_gk_crs(lon, width, prefix, epsg):
    crs = gk_crs(lon, width=width, prefix=prefix)
    assert crs.to_epsg() == epsg
    d = crs.to_dict()
    cm = 3 * round(lon / 3) if width == 3 else 6 * (int(lon // 6) + 1) - 3
    assert d["lon_0"] == cm and abs(lon - cm) <= width / 2 + 1e-9
    zone = cm // 3 if width == 3 else (cm + 3) // 6
    assert d["x_0"] == (zone * 1_000_000 + 500_000 if prefix else 500_000)


def test_gk_crs_errors():
    with pytest.raises(CRSError, match=r"longitude 10° is outside the CGCS2000 3° Gauss-Krüger zones"):
        gk_crs(10)
    with pytest.raises(CRSError, match="must be 3 or 6 degrees, not 4"):
        gk_crs(122, width=4)


def _check(g: CRSGuess, epsg: int, swapped: bool, reason: str):
    assert isinstance(g, CRSGuess)
    assert (g.crs.to_epsg(), g.swapped) == (epsg, swapped), g.reason
    assert reason in g.reason and "\n" not in g.reason


def test_guess_lonlat_and_swapped():
    _check(guess_crs(LON, LAT), 4490, False, "longitude/latitude in degrees in China")
    _check(guess_crs(LAT, LON), 4490, True, "axes are swapped")
    # NaN (e.g. empty geometries) is ignored
    _check(guess_crs(np.r_[LON, np.nan], np.r_[LAT, np.nan]), 4490, False, "EPSG:4490")


def test_guess_gk_with_zone_prefix():
    x, y = _proj(GK_ZONE41)
    assert np.all((x > 41e6) & (x < 42e6))
    _check(guess_crs(x, y), 4529, False, "start with the Gauss-Krüger zone number 41")
    _check(guess_crs(y, x), 4529, True, "axes are swapped")
    # western neighbour zone 40 (CM 120°E) read from its prefix
    x40, y40 = pyproj.Transformer.from_crs(CGCS2000, "EPSG:4528", always_xy=True).transform(LON[:2], LAT[:2])
    _check(guess_crs(x40, y40), 4528, False, "zone number 40")
    # a 6° zone prefix (zone 21, CM 123°E) → EPSG:4499
    x21, y21 = pyproj.Transformer.from_crs(CGCS2000, "EPSG:4499", always_xy=True).transform(LON, LAT)
    _check(guess_crs(x21, y21), 4499, False, "zone number 21")


def test_guess_gk_without_prefix_on_baicheng():
    x, y = _proj(GK_CM123)
    _check(guess_crs(x, y), 4550, False, "fall on Baicheng as Gauss-Krüger CM 123°E")
    _check(guess_crs(y, x), 4550, True, "axes are swapped")
    # UTM 51N shares the central meridian: it cannot be told apart, and the reason says so
    xu, yu = _proj("EPSG:32651")
    _check(guess_crs(xu, yu), 4550, False, "UTM zone 51N data looks the same but lies ≈2 km off")
    assert 2000 < np.max(np.abs(np.asarray(y) - yu)) < 2100


def test_guess_web_mercator_on_baicheng():
    x, y = _proj("EPSG:3857")
    _check(guess_crs(x, y), 3857, False, "Web Mercator")


# the reason is English in ``reason`` (notebooks, check_crs) and in either language via
# reason_text(lang), from the same label templates
REASONS = {
    "lonlat": (([122.5, 123.1], [45.2, 45.9]),
               "values x 122.5…123.1, y 45.2…45.9 are longitude/latitude in degrees in China; assumed China "
               "Geodetic Coordinate System 2000 (EPSG:4490)",
               "坐标值 x 122.5…123.1、y 45.2…45.9 为中国境内的经纬度(度),按 China Geodetic Coordinate System 2000 "
               "(EPSG:4490) 处理"),
    "swapped": (([45.2, 45.9], [122.5, 123.1]),
                "axes are swapped (first value is latitude/northing): values x 122.5…123.1, y 45.2…45.9 are "
                "longitude/latitude in degrees in China; assumed China Geodetic Coordinate System 2000 (EPSG:4490)",
                "坐标轴顺序颠倒(第一个值是纬度/北坐标):坐标值 x 122.5…123.1、y 45.2…45.9 为中国境内的经纬度(度),"
                "按 China Geodetic Coordinate System 2000 (EPSG:4490) 处理"),
    "gk_prefix": (([41_560_000.0, 41_600_000.0], [5_050_000.0, 5_060_000.0]),
                  "8-digit eastings 41560000…41600000 start with the Gauss-Krüger zone number 41; assumed "
                  "CGCS2000 / 3-degree Gauss-Kruger zone 41 (EPSG:4529)",
                  "8 位东坐标 41560000…41600000 以高斯-克吕格投影带号 41 开头,按 CGCS2000 / 3-degree "
                  "Gauss-Kruger zone 41 (EPSG:4529) 处理"),
    "gk_cm123": (([562_000.0], [5_050_000.0]),
                 "6-digit eastings 562000…562000 with northings 5050000…5050000 fall on Baicheng as Gauss-Krüger "
                 "CM 123°E; assumed CGCS2000 / 3-degree Gauss-Kruger CM 123E (EPSG:4550) (UTM zone 51N data looks "
                 "the same but lies ≈2 km off: then declare --crs EPSG:32651)",
                 "6 位东坐标 562000…562000、北坐标 5050000…5050000 按中央经线 123°E 的高斯-克吕格投影落在白城市范围内,"
                 "按 CGCS2000 / 3-degree Gauss-Kruger CM 123E (EPSG:4550) 处理(UTM 51N 带的数据数值相近,但位置相差"
                 "约 2 公里:如为 UTM 坐标,请用 --crs EPSG:32651 指定)"),
    "abroad": (([-100.0, 150.0], [10.0, 20.0]),
               "values x -100…150, y 10…20 are longitude/latitude in degrees (outside China); assumed China "
               "Geodetic Coordinate System 2000 (EPSG:4490)",
               "坐标值 x -100…150、y 10…20 为经纬度(度),但不在中国境内,按 China Geodetic Coordinate System 2000 "
               "(EPSG:4490) 处理"),
}


@pytest.mark.parametrize("case", sorted(REASONS))
def test_guess_reason_in_both_languages(case):
    (x, y), en, zh = REASONS[case]
    g = guess_crs(x, y)
    assert g.reason == en  # unchanged English, what notebooks and check_crs show
    assert g.reason_text("en") == en
    assert g.reason_text() == g.reason_text("zh") == zh  # Chinese by default


def test_guess_web_mercator_reason_in_chinese():
    x, y = _proj("EPSG:3857")
    text = guess_crs(x, y).reason_text()
    assert text.startswith("坐标值 x ") and text.endswith(
        "为 Web 墨卡托坐标(米),落在白城市范围内,按 WGS 84 / Pseudo-Mercator (EPSG:3857) 处理(网络地图导出的数据)")


def test_hand_made_guess_keeps_its_reason():
    g = CRSGuess(pyproj.CRS("EPSG:4490"), False, "said so in the field book")
    assert g.reason_text() == g.reason_text("en") == "said so in the field book"


@pytest.mark.parametrize("x, y", [
    ([3.0, 4.0], [5.0, 6.0]),                     # tiny numbers: local grid? degrees of what?
    ([450_000.0], [4_420_000.0]),                 # 6-digit GK near Beijing: CM cannot be told
    ([41_560_000.0, 42_100_000.0], [5e6, 5e6]),   # two different zone prefixes
    ([1e9], [1e9]),
])
def test_guess_ambiguous(x, y):
    with pytest.raises(AmbiguousCRSError, match=r"cannot tell the coordinate system of x .*, y .*: .*"
                                                r"declare it, e\.g\. --crs EPSG:4529 .* or put a \.prj file"):
        guess_crs(x, y)


def test_guess_ambiguous_message_lists_range():
    with pytest.raises(AmbiguousCRSError, match=r"of x 3…7, y 4…8:"):
        guess_crs([3, 7], [4, 8])
    with pytest.raises(AmbiguousCRSError, match="no finite coordinates"):
        guess_crs([np.nan], [np.nan])


def test_check_crs():
    x, y = _proj(GK_ZONE41)
    ok = check_crs("EPSG:4529", x, y)
    assert ok.ok and ok.suggestion is None and "fall in China" in ok.reason
    bad = check_crs("EPSG:4326", x, y)  # a .prj saying WGS84 on Gauss-Krüger metres
    assert not bad.ok and bad.suggestion.crs.to_epsg() == 4529 and not bad.suggestion.swapped
    assert bad.reason.startswith("declared WGS 84 (EPSG:4326) but x 41397")
    assert "zone number 41" in bad.reason
    swapped = check_crs(pyproj.CRS("EPSG:4490"), LAT, LON)
    assert not swapped.ok and swapped.suggestion.swapped
    lonlat_as_gk = check_crs("EPSG:4550", LON, LAT)
    assert not lonlat_as_gk.ok and "outside China" in lonlat_as_gk.reason
    assert lonlat_as_gk.suggestion.crs.to_epsg() == 4490
    # prefix confusions: 8-digit eastings declared without prefix and the reverse
    pre = check_crs("EPSG:4550", x, y)
    assert not pre.ok and pre.suggestion.crs.to_epsg() == 4529
    x6, y6 = _proj(GK_CM123)
    nopre = check_crs("EPSG:4529", x6, y6)
    assert not nopre.ok and nopre.suggestion.crs.to_epsg() == 4550
    assert check_crs(GK_CM123, x6, y6).ok
    hopeless = check_crs("EPSG:4490", [3.0], [4.0])
    assert not hopeless.ok and hopeless.suggestion is None and "declare the right CRS" in hopeless.reason
    assert check_crs("EPSG:4490", LON, LAT).ok
    with pytest.raises(CRSError, match="cannot understand the declared CRS 'nonsense'"):
        check_crs("nonsense", LON, LAT)


def test_check_crs_reason_in_both_languages():
    x, y = _proj(GK_ZONE41)
    bad = check_crs("EPSG:4326", x, y)
    assert bad.reason_text("en") == bad.reason and bad.reason_text() == bad.reason_text("zh")
    assert bad.reason_text().startswith("声明的坐标系为 WGS 84 (EPSG:4326),但 x 41397")
    assert "根据坐标推测:8 位东坐标" in bad.reason_text() and "(EPSG:4529) 处理" in bad.reason_text()
    swapped = check_crs(pyproj.CRS("EPSG:4490"), LAT, LON)
    assert "坐标轴顺序颠倒" in swapped.reason_text() and "axes are swapped" in swapped.reason
    assert "在中国境外" in check_crs("EPSG:4550", LON, LAT).reason_text()
    hopeless = check_crs("EPSG:4490", [3.0], [4.0])
    assert hopeless.reason_text().endswith(";请指定正确的坐标系(--crs EPSG:…)或修正 .prj 文件")
    assert check_crs("EPSG:4529", x, y).reason_text().startswith("按 CGCS2000 / 3-degree Gauss-Kruger zone 41")
    assert check_crs("EPSG:4490", [], []).reason_text() == "没有可与 China Geodetic Coordinate System 2000 " \
                                                          "(EPSG:4490) 核对的有效坐标"


def test_crs_errors_have_chinese_texts():
    with pytest.raises(AmbiguousCRSError) as info:
        guess_crs([3, 7], [4, 8])
    assert info.value.text("zh").startswith("无法判断 x 3…7、y 4…8 的坐标系:既不是中国境内的经纬度")
    with pytest.raises(AmbiguousCRSError) as info:
        guess_crs([np.nan], [np.nan])
    assert info.value.text("zh") == "无法判断坐标系:没有有效的坐标;请检查文件是否含有几何图形"
    with pytest.raises(CRSError) as info:
        check_crs("nonsense", LON, LAT)
    assert info.value.text("zh").startswith("无法识别文件中声明的坐标系 'nonsense':")
    assert CRSGuess(pyproj.CRS("EPSG:4490"), False, "by hand").reason_message() == "by hand"
