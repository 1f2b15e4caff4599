"""Targets of a work report as data: dataclasses and validation of a parsed targets file.

A targets file (YAML, see ``workflows/targets/baicheng-2024.yml``) lists the area targets
of one city's government work report, the count targets (demonstration bases), the
previous year's results as a baseline, and the targets that cannot be tracked on a map.
This module is pure: :func:`parse_targets` takes the already-parsed mapping and returns a
:class:`TargetSet`, or raises :class:`~gis.errors.ConfigError` naming the file, the target
and the field that is wrong. Reading the YAML file is ``workflows.targets.load_targets``.

Examples
--------
>>> ts = parse_targets({
...     "city": {"code": "220800", "name_zh": "白城市", "name_en": "Baicheng"},
...     "year": 2024,
...     "targets": [{"key": "hsf", "category": "high_standard_farmland",
...                  "name_zh": "新建高标准农田", "name_en": "New high-standard farmland",
...                  "value": 60, "unit": "wan_mu", "comparator": "at_least"}],
... })
>>> t = ts.area_targets[0]
>>> t.value_mu, t.scope, t.achieved_statuses
(600000.0, None, ('completed', 'accepted'))
>>> round(t.expected_fraction(__import__("datetime").date(2024, 7, 1)), 3)  # 183 of 366 days
0.5
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field
from itertools import pairwise
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from .config import expect, key_path, shown
from .errors import ConfigError, Message
from .labels import CATEGORIES, COUNTIES, STATUSES
from .units import UNITS, convert

__all__ = [
    "COMPARATORS",
    "AREA_UNITS",
    "AreaTarget",
    "CountTarget",
    "Baseline",
    "NonSpatialTarget",
    "TargetSet",
    "parse_targets",
    "schedule_fraction",
]

COMPARATORS = ("at_least", "exactly", "keep_stable")
"""``at_least``: met when achieved ≥ value; ``exactly``: a quantity to deliver, met within
``tolerance`` of it (more is shown as exceeded); ``keep_stable``: a stock to hold, met when
achieved ≥ value × (1 − tolerance), counting parcels of the target year and earlier."""

AREA_UNITS = UNITS
"""Area units a target value may use (``gis.units.UNITS``: m2, mu, ha, wan_mu, km2)."""

DEFAULT_ACHIEVED = ("completed", "accepted")
_COUNTY_RE = re.compile(r"^\d{6}$")


def schedule_fraction(schedule: str | tuple[float, ...], year: int, as_of: _dt.date) -> float:
    """Share of a year's target that should be done by ``as_of`` (0 … 1).

    ``schedule`` is ``"linear"`` (by day of the year) or 12 cumulative fractions, one per
    month end; within a month the share grows linearly by day.

    Examples
    --------
    >>> schedule_fraction("linear", 2024, _dt.date(2024, 12, 31))
    1.0
    >>> s = (0, 0, 0, 0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1)
    >>> schedule_fraction(s, 2024, _dt.date(2024, 5, 16))  # half of May: 0.1 + 0.2 × 16/31
    0.2032258064516129
    >>> schedule_fraction(s, 2023, _dt.date(2024, 1, 1)), schedule_fraction(s, 2025, _dt.date(2024, 1, 1))
    (1.0, 0.0)
    """
    if as_of.year > year:
        return 1.0
    if as_of.year < year:
        return 0.0
    if schedule == "linear":
        start = _dt.date(year, 1, 1)
        days = (_dt.date(year + 1, 1, 1) - start).days
        return ((as_of - start).days + 1) / days
    m = as_of.month
    prev = float(schedule[m - 2]) if m > 1 else 0.0
    month_days = ((_dt.date(year + (m == 12), m % 12 + 1, 1)) - _dt.date(year, m, 1)).days
    return prev + (float(schedule[m - 1]) - prev) * as_of.day / month_days


@dataclass(frozen=True)
class _Common:
    key: str
    category: str
    name_zh: str
    name_en: str
    year: int
    scope: tuple[str, ...] | None = None
    """County codes the target belongs to; ``None`` means the whole city."""
    achieved_statuses: tuple[str, ...] = DEFAULT_ACHIEVED
    sentence: str = ""
    """The report sentence the target comes from, verbatim."""
    quote: str = ""
    """The phrase of ``sentence`` that states the number, e.g. ``新建水田23.89万亩``."""

    def name(self, lang: str = "zh") -> str:
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class AreaTarget(_Common):
    """An area to build (or to keep) in a year, in any area unit."""

    value: float = 0.0
    unit: str = "wan_mu"
    comparator: str = "at_least"
    tolerance: float = 0.0
    schedule: str | tuple[float, ...] = "linear"

    @property
    def value_mu(self) -> float:
        """The target value in 亩."""
        return float(convert(self.value, self.unit, "mu"))

    def expected_fraction(self, as_of: _dt.date) -> float:
        """Share of the target that the schedule expects by ``as_of`` (1 for a stock)."""
        if self.comparator == "keep_stable":
            return 1.0
        return schedule_fraction(self.schedule, self.year, as_of)


@dataclass(frozen=True)
class CountTarget(_Common):
    """A number of sites whose contiguous area reaches ``min_site_mu`` (below ``max_site_mu``)."""

    value: int = 0
    unit: str = "site"
    min_site_mu: float = 0.0
    max_site_mu: float | None = None


@dataclass(frozen=True)
class Baseline:
    """A result of the previous year that the report states (for comparison only)."""

    key: str
    category: str
    name_zh: str
    name_en: str
    year: int
    value: float
    unit: str
    sentence: str = ""
    quote: str = ""

    def name(self, lang: str = "zh") -> str:
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class NonSpatialTarget:
    """A target that parcels cannot measure (grain output, cattle …): listed, not tracked."""

    key: str
    name_zh: str
    name_en: str
    value: float
    unit_zh: str
    unit_en: str
    comparator: str = "at_least"
    sentence: str = ""
    quote: str = ""

    def name(self, lang: str = "zh") -> str:
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class TargetSet:
    """Everything one targets file says."""

    city_code: str
    city_name_zh: str
    city_name_en: str
    year: int
    area_targets: tuple[AreaTarget, ...] = ()
    count_targets: tuple[CountTarget, ...] = ()
    baselines: tuple[Baseline, ...] = ()
    not_tracked: tuple[NonSpatialTarget, ...] = ()
    source: Mapping[str, Any] = field(default_factory=dict)
    categories: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Category code → (中文, English): the built-in ones plus any the file adds."""
    origin: str = "<dict>"

    def city_name(self, lang: str = "zh") -> str:
        return self.city_name_zh if lang == "zh" else self.city_name_en

    def category_name(self, code: str, lang: str = "zh") -> str:
        zh, en = self.categories.get(code, (code, code))
        return zh if lang == "zh" else en

    def for_year(self, year: int) -> "TargetSet":
        """Only the targets of ``year``; :class:`ConfigError` if there are none."""
        import dataclasses

        years = sorted({t.year for t in (*self.area_targets, *self.count_targets)})
        if year not in years:
            raise ConfigError.of(
                "error.targets_no_year", origin=self.origin, year=year,
                years=", ".join(map(str, years)) or Message("error.targets_no_year_any"),
            )
        return dataclasses.replace(
            self,
            year=year,
            area_targets=tuple(t for t in self.area_targets if t.year == year),
            count_targets=tuple(t for t in self.count_targets if t.year == year),
        )


# --------------------------------------------------------------------------- validation


_KIND_KEYS = {"target": "error.targets_kind_target", "count target": "error.targets_kind_count_target",
              "baseline": "error.targets_kind_baseline", "not_tracked": "error.targets_kind_not_tracked"}
"""The entry kinds named in error messages → their message keys."""


class _Checker:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.keys: set[str] = set()  # entry keys seen so far (they must be unique)

    def fail(self, where: Message | str, key: str, /, **params: Any) -> NoReturn:
        """Raise the :class:`ConfigError` ``origin: where: <message key filled with params>``."""
        if where == "top level":
            where = Message("error.targets_where_top")
        raise ConfigError.of("error.targets", origin=self.origin, where=where, problem=Message(key, **params))

    def mapping(self, obj: Any, where: Message | str) -> Mapping[str, Any]:
        if not isinstance(obj, Mapping):
            self.fail(where, "error.targets_not_a_mapping", type=type(obj).__name__, value=shown(obj))
        return obj

    def req(self, d: Mapping[str, Any], name: str, where: Message | str) -> Any:
        if name not in d or d[name] is None or d[name] == "":
            self.fail(where, "error.targets_missing_field", name=name)
        return d[name]

    def text(self, d: Mapping[str, Any], name: str, where: Message | str, required: bool = True) -> str:
        v = self.req(d, name, where) if required else d.get(name, "")
        if v is None:
            v = ""
        if not isinstance(v, str):
            self.fail(where, "error.targets_not_text", name=name, value=shown(v))
        return v.strip() if name not in ("sentence", "quote") else v

    def number(self, d: Mapping[str, Any], name: str, where: Message | str, positive: bool = True) -> float:
        v = self.req(d, name, where)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(where, "error.targets_not_number", name=name, value=shown(v))
        if not math.isfinite(v):  # 1.0e+400 is read as inf
            self.fail(where, "error.targets_not_finite", name=name, value=v)
        if positive and not v > 0:
            self.fail(where, "error.targets_not_positive", name=name, value=v)
        return float(v)

    def entries(self, data: Mapping[str, Any], name: str) -> list[Any]:
        """The list under top-level key ``name`` (empty if missing)."""
        return list(expect(data.get(name), "list", origin=self.origin, at=name, optional=True) or [])

    def year(self, d: Mapping[str, Any], where: Message | str, default: int | None) -> int:
        v = d.get("year", default)
        if isinstance(v, bool) or not isinstance(v, int) or not 1949 <= v <= 2100:
            self.fail(where, "error.targets_year", value=shown(v))
        return v


def _parse_schedule(c: _Checker, v: Any, where: Message | str) -> str | tuple[float, ...]:
    if v is None or v == "linear":
        return "linear"
    if (
        isinstance(v, (list, tuple))
        and len(v) == 12
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
    ):
        vals = tuple(float(x) for x in v)
        if all(0 <= x <= 1 for x in vals) and all(b >= a for a, b in pairwise(vals)) and vals[-1] == 1:
            return vals
    c.fail(where, "error.targets_schedule", value=shown(v))


def _parse_scope(c: _Checker, v: Any, where: Message | str, city_code: str) -> tuple[str, ...] | None:
    if v is None or v == "city":
        return None
    if isinstance(v, (str, int)):
        v = [v]
    if not isinstance(v, (list, tuple)) or not v:
        c.fail(where, "error.targets_scope", value=shown(v))
    codes = []
    for raw in v:
        code = str(raw).strip()
        if not _COUNTY_RE.match(code):
            c.fail(where, "error.targets_scope_code", code=code)
        if city_code == "220800" and code not in COUNTIES:
            known = ", ".join(f"{k} {n[0]}" for k, n in COUNTIES.items())
            c.fail(where, "error.targets_scope_unknown", code=code, known=known)
        if code[:4] != city_code[:4]:
            c.fail(where, "error.targets_scope_city", code=code, city=city_code)
        codes.append(code)
    return tuple(codes)


def _parse_statuses(c: _Checker, v: Any, where: Message | str, default: Iterable[str], at: str) -> tuple[str, ...]:
    if v is None:
        return tuple(default)
    v = expect(v, "names", origin=c.origin, at=at)
    out = []
    for s in v:
        if s not in STATUSES:
            c.fail(where, "error.targets_status", status=s, choices=", ".join(STATUSES))
        out.append(s)
    if not out:
        c.fail(where, "error.targets_statuses_empty")
    return tuple(out)


_AREA_FIELDS = {"key", "category", "name_zh", "name_en", "value", "unit", "comparator", "year",
                "scope", "achieved_statuses", "sentence", "quote", "tolerance", "schedule"}
_COUNT_FIELDS = {"key", "category", "name_zh", "name_en", "value", "unit", "year", "scope",
                 "achieved_statuses", "sentence", "quote", "min_site_mu", "max_site_mu"}
_BASE_FIELDS = {"key", "category", "name_zh", "name_en", "value", "unit", "year", "sentence", "quote"}
_NS_FIELDS = {"key", "name_zh", "name_en", "value", "unit_zh", "unit_en", "comparator", "sentence", "quote"}


def _unknown_fields(c: _Checker, d: Mapping[str, Any], allowed: set[str], where: Message | str) -> None:
    extra = sorted(set(d) - allowed, key=str)
    if extra:
        c.fail(where, "error.targets_unknown_fields", fields=", ".join(map(repr, extra)), allowed=", ".join(sorted(allowed)))


_TOP_FIELDS = {"schema", "city", "year", "source", "defaults", "categories", "targets",
               "count_targets", "baselines", "not_tracked"}
_DEFAULT_FIELDS = {"achieved_statuses", "comparator", "schedule", "tolerance"}


def parse_targets(data: Mapping[str, Any], origin: str = "<dict>") -> TargetSet:
    """Validate a parsed targets file and return a :class:`TargetSet`.

    Parameters
    ----------
    data : mapping
        The parsed YAML: ``city``, ``year``, optional ``source``, ``defaults``,
        ``categories``, and lists ``targets``, ``count_targets``, ``baselines``,
        ``not_tracked``.
    origin : str
        File name used in error messages.

    Raises
    ------
    ConfigError
        Naming the file, the target key and the field that is wrong, e.g. an unknown
        category, a missing unit, a bad comparator or an unknown county code.

    Examples
    --------
    >>> parse_targets({"city": {"code": "220800", "name_zh": "白城市", "name_en": "Baicheng"},
    ...                "year": 2024, "targets": [{"key": "x", "category": "rice",
    ...                "name_zh": "x", "name_en": "x", "value": 1, "unit": "mu"}]}, "t.yml")
    Traceback (most recent call last):
    ...
    gis.errors.ConfigError: t.yml: target 'x': unknown category 'rice'; use one of: ...
    """
    c = _Checker(origin)
    h = _parse_header(c, data)
    area = [_area_target(c, h, d, i) for i, d in enumerate(c.entries(data, "targets"), start=1)]
    counts = [_count_target(c, h, d, i) for i, d in enumerate(c.entries(data, "count_targets"), start=1)]
    bases = [_baseline(c, h, d) for d in c.entries(data, "baselines")]
    nots = [_non_spatial(c, h, d) for d in c.entries(data, "not_tracked")]
    if not area and not counts:
        c.fail("top level", "error.targets_none")
    return TargetSet(
        city_code=h.city_code,
        city_name_zh=c.text(h.city, "name_zh", "city"),
        city_name_en=c.text(h.city, "name_en", "city"),
        year=h.year,
        area_targets=tuple(area),
        count_targets=tuple(counts),
        baselines=tuple(bases),
        not_tracked=tuple(nots),
        source=dict(c.mapping(data.get("source") or {}, "source")),
        categories=h.categories,
        origin=origin,
    )


@dataclass(frozen=True)
class _Header:
    """What every entry of a targets file inherits: city, year, defaults and categories."""

    city: Mapping[str, Any]
    city_code: str
    year: int  # required at the top level
    defaults: Mapping[str, Any]
    statuses: tuple[str, ...]  # default achieved statuses
    schedule: Any  # default schedule
    categories: dict[str, tuple[str, str]]


def _parse_header(c: _Checker, data: Mapping[str, Any]) -> _Header:
    """The top level: known keys, the city, the year, the defaults and extra categories."""
    c.mapping(data, "top level")
    _unknown_fields(c, data, _TOP_FIELDS, "top level")
    city = c.mapping(c.req(data, "city", "top level"), "city")
    city_code = str(c.req(city, "code", "city")).strip()
    if not _COUNTY_RE.match(city_code):
        c.fail("city", "error.targets_city_code", code=city_code)
    year = c.year(data, "top level", None)
    defaults = c.mapping(data.get("defaults") or {}, "defaults")
    _unknown_fields(c, defaults, _DEFAULT_FIELDS, "defaults")
    statuses = _parse_statuses(c, defaults.get("achieved_statuses"), "defaults", DEFAULT_ACHIEVED,
                               "defaults.achieved_statuses")
    schedule = _parse_schedule(c, defaults.get("schedule"), "defaults")
    return _Header(city, city_code, year, defaults, statuses, schedule, _parse_categories(c, data))


def _parse_categories(c: _Checker, data: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """The built-in categories plus the file's own (code → zh, en names)."""
    categories = dict(CATEGORIES)
    for code, given in (c.mapping(data.get("categories") or {}, "categories")).items():
        names = c.mapping(given, f"categories: {code}")
        categories[str(code)] = (c.text(names, "name_zh", f"categories: {code}"),
                                 c.text(names, "name_en", f"categories: {code}"))
    return categories


def _entry(c: _Checker, h: _Header, d: Mapping[str, Any], kind: str, fields: set[str]) -> tuple[Message, dict[str, Any]]:
    """The fields every entry has (key, names, sentence, quote, category); where it is."""
    d = c.mapping(d, kind)
    key = str(c.req(d, "key", kind))
    where = Message("error.targets_where_entry", kind=Message(_KIND_KEYS[kind]), key=key)
    if not re.match(r"^[a-z][a-z0-9_]*$", key):
        c.fail(where, "error.targets_key")
    if key in c.keys:
        c.fail(where, "error.targets_duplicate_key")
    c.keys.add(key)
    _unknown_fields(c, d, fields, where)
    out = {"key": key, "name_zh": c.text(d, "name_zh", where), "name_en": c.text(d, "name_en", where),
           "sentence": c.text(d, "sentence", where, required=False),
           "quote": c.text(d, "quote", where, required=False)}
    if out["quote"] and out["sentence"] and out["quote"] not in out["sentence"]:
        c.fail(where, "error.targets_quote", quote=out["quote"])
    if "category" in fields:
        cat = c.req(d, "category", where)
        if not isinstance(cat, str) or cat not in h.categories:
            c.fail(where, "error.targets_category", category=shown(cat), choices=", ".join(h.categories))
        out["category"] = cat
    return where, out


def _unit(c: _Checker, d: Mapping[str, Any], where: Message | str) -> str:
    """An area unit of :data:`AREA_UNITS`."""
    unit = c.req(d, "unit", where)
    if not isinstance(unit, str) or unit not in AREA_UNITS:
        c.fail(where, "error.targets_unit", unit=shown(unit), choices=", ".join(AREA_UNITS))
    return unit


def _comparator(c: _Checker, h: _Header, d: Mapping[str, Any], where: Message | str) -> str:
    """A comparator of :data:`COMPARATORS` (default: the file's, else ``at_least``)."""
    comp = d.get("comparator", h.defaults.get("comparator", "at_least"))
    if not isinstance(comp, str) or comp not in COMPARATORS:
        c.fail(where, "error.targets_comparator", comparator=shown(comp), choices=", ".join(COMPARATORS))
    return comp


def _area_target(c: _Checker, h: _Header, d: Mapping[str, Any], i: int) -> AreaTarget:
    """Entry ``i`` (from 1) of ``targets``."""
    where, kw = _entry(c, h, d, "target", _AREA_FIELDS)
    tol = d.get("tolerance", h.defaults.get("tolerance", None))
    comp = _comparator(c, h, d, where)
    if tol is None:
        tol = {"at_least": 0.0, "exactly": 0.005, "keep_stable": 0.02}[comp]
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < 1:
        c.fail(where, "error.targets_tolerance", value=shown(tol))
    return AreaTarget(
        **kw, value=c.number(d, "value", where), unit=_unit(c, d, where), comparator=comp,
        tolerance=float(tol), year=c.year(d, where, h.year),
        scope=_parse_scope(c, d.get("scope"), where, h.city_code),
        achieved_statuses=_parse_statuses(c, d.get("achieved_statuses"), where, h.statuses,
                                          key_path("targets", i, "achieved_statuses")),
        schedule=_parse_schedule(c, d.get("schedule", h.schedule), where),
    )


def _count_target(c: _Checker, h: _Header, d: Mapping[str, Any], i: int) -> CountTarget:
    """Entry ``i`` (from 1) of ``count_targets``: whole sites, a size range in 亩."""
    where, kw = _entry(c, h, d, "count target", _COUNT_FIELDS)
    value = c.number(d, "value", where)
    if value != int(value):
        c.fail(where, "error.targets_whole_sites", value=value)
    if d.get("unit", "site") != "site":
        c.fail(where, "error.targets_site_unit", value=d.get("unit"))
    mn = c.number(d, "min_site_mu", where)
    mx = d.get("max_site_mu")
    if mx is not None:
        mx = c.number(d, "max_site_mu", where)
        if mx <= mn:
            c.fail(where, "error.targets_max_site", mx=mx, mn=mn)
    return CountTarget(
        **kw, value=int(value), min_site_mu=mn, max_site_mu=mx, year=c.year(d, where, h.year),
        scope=_parse_scope(c, d.get("scope"), where, h.city_code),
        achieved_statuses=_parse_statuses(c, d.get("achieved_statuses"), where, h.statuses,
                                          key_path("count_targets", i, "achieved_statuses")),
    )


def _baseline(c: _Checker, h: _Header, d: Mapping[str, Any]) -> Baseline:
    """An entry of ``baselines`` (default year: the year before the file's)."""
    where, kw = _entry(c, h, d, "baseline", _BASE_FIELDS)
    return Baseline(**kw, value=c.number(d, "value", where), unit=_unit(c, d, where),
                    year=c.year(d, where, h.year - 1 if h.year else None))


def _non_spatial(c: _Checker, h: _Header, d: Mapping[str, Any]) -> NonSpatialTarget:
    """An entry of ``not_tracked``: a target parcels cannot measure."""
    where, kw = _entry(c, h, d, "not_tracked", _NS_FIELDS)
    return NonSpatialTarget(
        **kw, value=c.number(d, "value", where), unit_zh=c.text(d, "unit_zh", where),
        unit_en=c.text(d, "unit_en", where), comparator=_comparator(c, h, d, where))
