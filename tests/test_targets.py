"""The targets file: faithful to the report, and validated on load with clear messages."""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from gis.errors import ConfigError, DataFileError
from gis.labels import CATEGORIES
from gis.targets import parse_targets, schedule_fraction
from workflows.targets import DEFAULT_TARGETS, TARGETS_DIR, load_targets

from conftest import SHARED  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REPORT = TARGETS_DIR / "baicheng-2024-work-report.txt"
SHARED_REPORT = (SHARED or ROOT.parent / "shared") / "baicheng-2024-work-report.txt"


def _report_text() -> str:
    return REPORT.read_text(encoding="utf-8")


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_TARGETS.read_text(encoding="utf-8"))


def _parse(mutate) -> None:
    data = _raw()
    mutate(data)
    parse_targets(data, origin="t.yml")


def test_bundled_report_copy_is_the_shared_report():
    if not SHARED_REPORT.exists():
        pytest.skip("shared/ is not beside the checkout")
    assert _report_text() == SHARED_REPORT.read_text(encoding="utf-8")


def test_bundled_file_has_every_target_of_the_report():
    ts = load_targets()
    assert ts.city_code == "220800" and ts.year == 2024
    values = {t.key: (t.category, t.value, t.unit, t.comparator, t.scope) for t in ts.area_targets}
    pilot = ("220882", "220821")
    assert values == {
        "paddy_new": ("paddy_new", 23.89, "wan_mu", "exactly", pilot),
        "paddy_improved": ("paddy_improved", 15.75, "wan_mu", "exactly", pilot),
        "saline_demo_area": ("saline_demo_area", 10, "wan_mu", "exactly", pilot),
        "new_cultivated_land": ("new_cultivated_land", 7, "wan_mu", "at_least", None),
        "high_standard_farmland": ("high_standard_farmland", 60, "wan_mu", "at_least", None),
        "seed_production": ("seed_production", 1.5, "wan_mu", "exactly", None),
        "fertigation": ("fertigation", 450, "wan_mu", "exactly", None),
        "conservation_tillage": ("conservation_tillage", 690, "wan_mu", "exactly", None),
        "deep_loosening": ("deep_loosening", 130, "wan_mu", "exactly", None),
        "greenhouse": ("greenhouse", 2000, "mu", "exactly", None),
        "courtyard_economy": ("courtyard_economy", 23, "wan_mu", "keep_stable", None),
        "afforestation": ("afforestation", 11, "wan_mu", "exactly", None),
        "grassland_restoration": ("grassland_restoration", 14, "wan_mu", "exactly", None),
        "wetland_restoration": ("wetland_restoration", 2, "wan_mu", "exactly", None),
    }
    # every category except the (counted) demonstration bases has an area target
    assert {t.category for t in ts.area_targets} == set(CATEGORIES) - {"demo_base"}
    counts = {t.key: (t.value, t.min_site_mu, t.max_site_mu) for t in ts.count_targets}
    assert counts == {"demo_base_10k": (1, 10000, None), "demo_base_1k": (5, 1000, 10000)}
    assert {b.key: (b.year, b.value) for b in ts.baselines} == {
        "high_standard_farmland_2023": (2023, 160),
        "afforestation_2023": (2023, 22),
        "grassland_restoration_2023": (2023, 26.7),
        "wetland_restoration_2023": (2023, 3),
    }
    assert {n.key for n in ts.not_tracked} == {"grain_output", "mechanisation_rate", "beef_cattle"}
    assert all(t.achieved_statuses == ("completed", "accepted") for t in ts.area_targets)
    assert ts.area_targets[0].value_mu == pytest.approx(238_900)


def _all_entries():
    ts = load_targets()
    return [*ts.area_targets, *ts.count_targets, *ts.baselines, *ts.not_tracked]


def test_every_sentence_is_verbatim_in_the_report_and_states_the_value():
    text = _report_text()
    unit_of = {"万亩": "wan_mu", "亩": "mu"}
    for t in _all_entries():
        assert t.sentence and t.sentence in text, f"{t.key}: sentence not found verbatim"
        assert t.quote and t.quote in t.sentence, f"{t.key}: quote not in its sentence"
        if hasattr(t, "min_site_mu"):  # count target: "1个万亩级…", "5个千亩级…"
            m = re.search(r"(\d+)个(万亩|千亩)级", t.quote)
            assert int(m.group(1)) == t.value, t.key
            assert {"万亩": 10000, "千亩": 1000}[m.group(2)] == t.min_site_mu, t.key
        elif hasattr(t, "unit_zh"):  # not tracked spatially
            m = re.search(r"(\d+(?:\.\d+)?)" + re.escape(t.unit_zh), t.quote)
            assert float(m.group(1)) == t.value, t.key
        else:
            m = re.search(r"(\d+(?:\.\d+)?)(万亩|亩)", t.quote)
            assert m, t.key
            assert float(m.group(1)) == t.value and unit_of[m.group(2)] == t.unit, t.key


def test_sentences_come_from_the_right_sections():
    text = _report_text()
    sec_22 = text[text.index("(二)统筹推进“两手抓、两重点”"):text.index("(三)统筹新型城镇化")]
    sec_24 = text[text.index("(四)统筹人口高质量发展"):]
    review = text[:text.index("二、2024年重点工作")]
    ts = load_targets()
    for t in ts.area_targets:
        where = sec_24 if t.category in {"afforestation", "grassland_restoration", "wetland_restoration"} else sec_22
        assert t.sentence in where, t.key
    for b in ts.baselines:
        assert b.sentence in review, b.key


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["targets"][0].update(category="rice"),
         r"t.yml: target 'paddy_new': unknown category 'rice'; use one of: high_standard_farmland, "),
        (lambda d: d["targets"][1].pop("unit"), r"t.yml: target 'paddy_improved': missing field 'unit'"),
        (lambda d: d["targets"][1].update(unit="万亩"),
         r"target 'paddy_improved': unit '万亩' is not an area unit; use one of: m2, mu, ha, wan_mu, km2"),
        (lambda d: d["targets"][2].update(comparator="more_than"),
         r"target 'saline_demo_area': comparator 'more_than' is not one of: at_least, exactly, keep_stable"),
        (lambda d: d["targets"][0].update(scope=["220882", "220899"]),
         r"target 'paddy_new': scope county code 220899 is unknown in Baicheng; use one of: 220802 洮北区"),
        (lambda d: d["targets"][0].update(scope=["Da'an"]),
         r"scope county code \"Da'an\" is not a 6-digit GB/T 2260 code"),
        (lambda d: d["targets"][0].update(value="23.89万亩"),
         r"target 'paddy_new': field 'value' must be a number, got '23.89万亩'"),
        (lambda d: d["targets"][0].update(value=-1), r"field 'value' must be greater than 0, got -1"),
        (lambda d: d["targets"][3].update(achieved_statuses=["done"]),
         r"target 'new_cultivated_land': unknown status 'done' in achieved_statuses; use some of: planned, "),
        (lambda d: d["targets"][4].update(key="paddy_new"), r"target 'paddy_new': duplicate key"),
        (lambda d: d["targets"][4].update(schedule=[0.5] * 12),
         r"schedule must be 'linear' or 12 cumulative month-end fractions"),
        (lambda d: d["targets"][4].update(quote="新建61万亩"), r"quote '新建61万亩' is not part of its sentence"),
        (lambda d: d["targets"][4].update(valu=3), r"unknown field\(s\) 'valu'; allowed: "),
        (lambda d: d["count_targets"][1].update(max_site_mu=500),
         r"count target 'demo_base_1k': max_site_mu \(500\) must be larger than min_site_mu \(1000\)"),
        (lambda d: d["count_targets"][0].update(value=1.5), r"value must be a whole number of sites"),
        (lambda d: d.update(targets=[], count_targets=[]), r"t.yml: top level: no targets"),
        (lambda d: d.pop("city"), r"t.yml: top level: missing field 'city'"),
        (lambda d: d["targets"][0].update(year="2024年"), r"field 'year' must be a year such as 2024"),
    ],
)
def test_invalid_targets_are_refused_with_a_clear_message(mutate, message):
    with pytest.raises(ConfigError, match=message):
        _parse(mutate)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(DataFileError, match=r"targets file .*nope.yml does not exist"):
        load_targets(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("targets: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yml: not valid YAML"):
        load_targets(bad)
    empty = tmp_path / "empty.yml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"empty.yml: the file is empty"):
        load_targets(empty)


def test_a_user_can_write_a_file_for_another_year_and_city(tmp_path):
    data = {
        "city": {"code": "220700", "name_zh": "松原市", "name_en": "Songyuan"},
        "year": 2025,
        "categories": {"rice_fish": {"name_zh": "稻渔综合种养", "name_en": "Rice-fish farming"}},
        "targets": [
            {"key": "rice_fish", "category": "rice_fish", "name_zh": "稻渔综合种养",
             "name_en": "Rice-fish", "value": 5000, "unit": "ha", "scope": ["220721"],
             "schedule": [0, 0, 0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 1, 1, 1]},
        ],
    }
    p = tmp_path / "songyuan-2025.yml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    ts = load_targets(p)
    t = ts.area_targets[0]
    assert (t.year, t.scope, t.value_mu) == (2025, ("220721",), 75_000)
    assert ts.category_name("rice_fish", "en") == "Rice-fish farming"
    assert t.expected_fraction(dt.date(2025, 6, 30)) == pytest.approx(0.5)
    assert ts.for_year(2025) is not None
    with pytest.raises(ConfigError, match=r"songyuan-2025.yml: no targets for 2024 \(it has targets for 2025\)"):
        ts.for_year(2024)
    bad = copy.deepcopy(data)
    bad["targets"][0]["scope"] = ["220882"]
    with pytest.raises(ConfigError, match=r"scope county code 220882 is not in the city 220700"):
        parse_targets(bad)


def test_schedules():
    assert schedule_fraction("linear", 2024, dt.date(2024, 1, 1)) == pytest.approx(1 / 366)
    assert schedule_fraction("linear", 2024, dt.date(2024, 12, 31)) == 1.0
    monthly = (0, 0, 0, 0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1)
    assert schedule_fraction(monthly, 2024, dt.date(2024, 3, 31)) == 0
    assert schedule_fraction(monthly, 2024, dt.date(2024, 4, 30)) == pytest.approx(0.1)
    assert schedule_fraction(monthly, 2024, dt.date(2024, 12, 15)) == 1
    ts = load_targets()
    stock = next(t for t in ts.area_targets if t.comparator == "keep_stable")
    assert stock.expected_fraction(dt.date(2024, 2, 1)) == 1.0
