"""Which land uses may share land: tell problems from normal overlaps.

A practice such as 水肥一体化 or 保护性耕作 is applied on farmland that is also 高标准农田
or 水田: that overlap is normal. Two construction projects on the same land in one year
are not; a new paddy inside a nature reserve is not, wetland restoration there is. The
rules are data (``workflows/land_rules.yml``, editable by the user, each rule with its
reason and, where it comes from a regulation, the source); this module parses them and
gives each overlap a severity, ``problem`` or ``information``.

Layout of the rules document::

    same_category: problem             # the same land declared twice in one category
    default: problem                   # pairs no rule names
    overlaps:
      - name: practice_on_farmland     # for the report
        a: [fertigation, conservation_tillage, deep_loosening]
        b: [high_standard_farmland, paddy_new, ...]
        years: any                     # any | same | different
        severity: information
        why: {zh: "…", en: "…"}
        source: "…"                    # optional: regulation or reference
    reserves:
      allowed: [wetland_restoration, afforestation, grassland_restoration]
      allowed_severity: information
      other_severity: problem
      why_allowed: {zh: "…", en: "…"}
      why_other: {zh: "…", en: "…"}
      source: "…"

The first rule that matches a pair decides (``a``/``b`` in either order).

Examples
--------
>>> rules = parse_land_rules({"default": "problem", "overlaps": [{"name": "p", "a": ["fertigation"],
...     "b": ["paddy_new"], "severity": "information", "why": {"zh": "正常", "en": "normal"}}],
...     "reserves": {"allowed": ["wetland_restoration"]}}, "r.yml")
>>> rules.overlap("paddy_new", "fertigation", 2024, 2024).severity
'information'
>>> rules.overlap("paddy_new", "afforestation", 2024, 2024).severity
'problem'
>>> rules.reserve("paddy_new").severity, rules.reserve("wetland_restoration").severity
('problem', 'information')
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import numpy as np
import pandas as pd

from .config import expect, key_path, load_yaml
from .errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["SEVERITIES", "LandRule", "LandRules", "parse_land_rules", "load_land_rules", "classify_overlaps"]

SEVERITIES = ("problem", "information")
"""What a finding is: ``problem`` (to fix) or ``information`` (normal, listed for review)."""
YEARS = ("any", "same", "different")


@dataclass(frozen=True)
class LandRule:
    """One rule: its name, severity, reason in both languages and source (may be empty)."""

    name: str
    severity: str
    why_zh: str = ""
    why_en: str = ""
    source: str = ""

    def why(self, lang: str = "zh") -> str:
        """The reason in ``lang`` (the source appended in brackets when there is one)."""
        text = self.why_en if lang == "en" else self.why_zh
        return f"{text} [{self.source}]" if self.source else text


@dataclass(frozen=True)
class _PairRule:
    rule: LandRule
    a: frozenset[str]
    b: frozenset[str]
    years: str = "any"

    def matches(self, cat_a: str, cat_b: str, year_a: Any, year_b: Any) -> bool:
        pair = (cat_a in self.a and cat_b in self.b) or (cat_b in self.a and cat_a in self.b)
        if not pair or self.years == "any":
            return pair
        if _missing(year_a) or _missing(year_b):
            return self.years == "same"  # unknown years: the stricter reading
        return (int(year_a) == int(year_b)) == (self.years == "same")


@dataclass(frozen=True)
class LandRules:
    """The parsed rules (see the module docstring); :meth:`overlap` and :meth:`reserve`
    answer one question each."""

    pairs: tuple[_PairRule, ...] = ()
    same_category: LandRule = LandRule("same_category", "problem")
    default: LandRule = LandRule("default", "problem")
    reserve_allowed: frozenset[str] = frozenset()
    reserve_yes: LandRule = LandRule("reserve_allowed", "information")
    reserve_no: LandRule = LandRule("reserve_other", "problem")
    origin: str = ""
    categories: frozenset[str] = field(default_factory=frozenset)

    def overlap(self, cat_a: str, cat_b: str, year_a: Any = None, year_b: Any = None) -> LandRule:
        """The rule for land shared by a project of ``cat_a`` and one of ``cat_b``."""
        if cat_a == cat_b:
            return self.same_category
        for p in self.pairs:
            if p.matches(cat_a, cat_b, year_a, year_b):
                return p.rule
        return self.default

    def reserve(self, category: str) -> LandRule:
        """The rule for a project of ``category`` inside a nature reserve."""
        return self.reserve_yes if category in self.reserve_allowed else self.reserve_no


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _severity(value: Any, origin: str, at: str) -> str:
    text: str = expect(value, "text", origin=origin, at=at)
    if text not in SEVERITIES:
        raise ConfigError.of("error.land_rules_severity", origin=origin, at=at, value=text,
                             choices=", ".join(SEVERITIES))
    return text


def _why(value: Any, origin: str, at: str) -> tuple[str, str]:
    if value is None:
        return "", ""
    value = expect(value, "mapping", origin=origin, at=at)
    zh: str = expect(value.get("zh"), "text", origin=origin, at=key_path(at, "zh"))
    en: str = expect(value.get("en"), "text", origin=origin, at=key_path(at, "en"))
    return zh, en


def _categories(value: Any, origin: str, at: str, known: frozenset[str]) -> frozenset[str]:
    names = expect(value, "names", origin=origin, at=at)
    bad = [n for n in names if known and n not in known]
    if bad:
        raise ConfigError.of("error.land_rules_category", origin=origin, at=at, value=bad[0],
                             choices=", ".join(sorted(known)))
    return frozenset(names)


def parse_land_rules(data: Any, origin: str | Path = "<rules>", categories: Iterable[str] = ()) -> LandRules:
    """Check and parse a rules document (see the module docstring).

    ``categories``: the known category codes (a rule naming another is refused with the
    key path); empty to accept any.
    """
    where = str(origin)
    known = frozenset(categories)
    data = expect(data, "mapping", origin=where, at="(document)")
    same = LandRule("same_category", _severity(data.get("same_category", "problem"), where, "same_category"))
    default = LandRule("default", _severity(data.get("default", "problem"), where, "default"))
    pairs = []
    for i, r in enumerate(expect(data.get("overlaps"), "list", origin=where, at="overlaps", optional=True) or []):
        at = key_path("overlaps", i)
        entry = expect(r, "mapping", origin=where, at=at)
        years = expect(entry.get("years", "any"), "text", origin=where, at=key_path(at, "years"))
        if years not in YEARS:
            raise ConfigError.of("error.land_rules_years", origin=where, at=key_path(at, "years"), value=years,
                                 choices=", ".join(YEARS))
        zh, en = _why(entry.get("why"), where, key_path(at, "why"))
        rule = LandRule(str(entry.get("name", f"rule {i + 1}")), _severity(entry.get("severity"), where,
                        key_path(at, "severity")), zh, en, str(entry.get("source") or ""))
        pairs.append(_PairRule(rule, _categories(entry.get("a"), where, key_path(at, "a"), known),
                               _categories(entry.get("b"), where, key_path(at, "b"), known), years))
    res = expect(data.get("reserves"), "mapping", origin=where, at="reserves", optional=True) or {}
    source = str(res.get("source") or "")
    allowed = _categories(res.get("allowed") or [], where, key_path("reserves", "allowed"), known)
    yes = LandRule("reserve_allowed", _severity(res.get("allowed_severity", "information"), where,
                   key_path("reserves", "allowed_severity")), *_why(res.get("why_allowed"), where,
                   key_path("reserves", "why_allowed")), source)
    no = LandRule("reserve_other", _severity(res.get("other_severity", "problem"), where,
                  key_path("reserves", "other_severity")), *_why(res.get("why_other"), where,
                  key_path("reserves", "why_other")), source)
    return LandRules(tuple(pairs), same, default, allowed, yes, no, where, known)


def load_land_rules(path: str | Path, categories: Iterable[str] = ()) -> LandRules:
    """Read and parse a rules file through :func:`gis.config.load_yaml` (bounded, safe YAML)."""
    return parse_land_rules(load_yaml(path, what="land_rules"), path, categories)


def classify_overlaps(overlaps: pd.DataFrame, rules: LandRules, lang: str = "zh") -> pd.DataFrame:
    """``overlaps`` (:func:`gis.quality.find_overlaps` with ``year_a``/``year_b`` when
    known) with ``severity``, ``rule`` (its name) and ``why`` (its reason in ``lang``).

    Examples
    --------
    >>> ov = pd.DataFrame({"category_a": ["paddy_new", "paddy_new"], "category_b": ["fertigation", "paddy_new"]})
    >>> rules = parse_land_rules({"overlaps": [{"a": ["fertigation"], "b": ["paddy_new"],
    ...                                          "severity": "information"}]})
    >>> classify_overlaps(ov, rules)["severity"].tolist()
    ['information', 'problem']
    """
    n = len(overlaps)
    ya = overlaps["year_a"].to_numpy(dtype=object) if "year_a" in overlaps else np.full(n, None, dtype=object)
    yb = overlaps["year_b"].to_numpy(dtype=object) if "year_b" in overlaps else np.full(n, None, dtype=object)
    found = [rules.overlap(str(a), str(b), y1, y2) for a, b, y1, y2 in
             zip(overlaps["category_a"], overlaps["category_b"], ya, yb, strict=True)]
    return overlaps.assign(severity=[r.severity for r in found], rule=[r.name for r in found],
                           why=[r.why(lang) for r in found])
