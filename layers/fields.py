"""Map the columns and values of a user's parcel table onto the registry's fields.

One table, :file:`layers/fields.yml`, says which source column names mean which
registry field (项目编号 → ``project_code`` …) and which values mean which category or
status code (高标准农田 → ``high_standard_farmland``, 完工 → ``completed``). Users
extend it with a small YAML of the same layout (``agrigis import --mapping my.yml``).

:func:`map_fields` turns a read table into registry rows and a list of rejected rows,
one reason per row; it never drops a row silently.

Examples
--------
>>> import pandas as pd
>>> m = load_mapping()
>>> m.value("category", "高标准农田"), m.value("status", "已完工"), m.county("镇赉")
('high_standard_farmland', 'completed', '220821')
>>> df = pd.DataFrame({"项目编号": ["P1"], "建设年度": ["2024年"], "状态": ["在建"],
...                    "项目类型": ["新建水田"], "面积(亩)": ["1,200.5"]})
>>> rows, rejects = map_fields(df, m, source="a.shp")
>>> print(*rows.loc[0, ["project_code", "category", "year", "status", "declared_area_mu"]])
P1 paddy_new 2024 under_construction 1200.5
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from gis.config import expect, key_path, load_yaml
from gis.errors import ConfigError, InputError, Message
from gis.labels import CATEGORIES, COUNTIES, DEFAULT_LANG, STATUSES, label, message
from gis.units import UNITS, convert

log = logging.getLogger(__name__)

FIELDS_YML = Path(__file__).with_name("fields.yml")

REGISTRY_FIELDS = (
    "project_code",
    "project_name",
    "category",
    "year",
    "status",
    "declared_area_mu",
    "county",
    "investment_wan_yuan",
)
"""Attribute fields a source table can provide (``county`` becomes ``county_code``)."""

MIN_YEAR, MAX_YEAR = 1990, 2100

SHAPEFILE_NAMES = {
    "project_code": "proj_code",
    "project_name": "proj_name",
    "county_code": "county",
    "declared_area_mu": "decl_mu",
    "investment_wan_yuan": "invest_wy",
}
"""The one list of DBF field names (at most 10 bytes) agrigis writes for its registry
columns whose names are longer (``category``, ``area_mu``, ``batch_id`` … fit as they
are). :func:`shapefile_columns` applies it on export; the importer knows these names as
aliases, so a Shapefile export is imported back field by field."""

DBF_NAME_BYTES = 10
"""Longest field name a DBF (Shapefile attribute table) holds."""

_COUNTY_ALIASES = {
    "220802": ["洮北", "洮北区", "taobei", "taobeiqu", "taobei district"],
    "220821": ["镇赉", "镇赉县", "zhenlai", "zhenlaixian", "zhenlai county"],
    "220822": ["通榆", "通榆县", "tongyu", "tongyuxian", "tongyu county"],
    "220881": ["洮南", "洮南市", "taonan", "taonanshi", "taonan city"],
    "220882": ["大安", "大安市", "daan", "da'an", "da’an", "daanshi", "da'an city"],
}


def norm(text) -> str:
    """Normalise a column name or value for matching.

    NFKC (full-width → half-width), lower case, no spaces, Chinese brackets → ASCII.

    Examples
    --------
    >>> norm(" 面积（亩） ")
    '面积(亩)'
    """
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    s = s.replace("【", "(").replace("】", ")").replace("〔", "(").replace("〕", ")")
    return re.sub(r"\s+", "", s)


@dataclass
class FieldMapping:
    """Column aliases, value aliases and area units, from one or more YAML files."""

    columns: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    area_units: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    # -- building -----------------------------------------------------------------
    def extend(self, data: dict, source: str) -> None:
        """Add the aliases of one parsed YAML document (validated)."""
        if not isinstance(data, dict):
            raise ConfigError.of("error.mapping_not_a_mapping", source=source)
        unknown = set(data) - {"columns", "values", "area_units"}
        if unknown:
            raise ConfigError.of("error.mapping_unknown_keys", source=source, keys=", ".join(sorted(unknown)))
        for fld, names in (data.get("columns") or {}).items():
            if fld not in REGISTRY_FIELDS:
                raise ConfigError.of("error.mapping_not_a_field", source=source, field=fld,
                                     choices=", ".join(REGISTRY_FIELDS))
            self.columns.setdefault(fld, [])
            # user aliases first: they win over the bundled ones
            self.columns[fld][:0] = [norm(n) for n in _as_list(names, source)]
        for kind, table in (data.get("values") or {}).items():
            codes = {"category": CATEGORIES, "status": STATUSES}.get(kind)
            if codes is None:
                raise ConfigError.of("error.mapping_unknown_kind", source=source, kind=kind)
            for code, names in (table or {}).items():
                if code not in codes:
                    raise ConfigError.of("error.mapping_not_a_code", source=source, kind=kind, code=code,
                                         choices=", ".join(codes))
                self.values.setdefault(kind, {})
                for n in _as_list(names, source):
                    self.values[kind][norm(n)] = code
        for col, unit in (data.get("area_units") or {}).items():
            if unit not in UNITS:
                raise ConfigError.of("error.mapping_unit", source=source, unit=unit, column=col, choices=", ".join(UNITS))
            self.area_units[norm(col)] = unit
        self.sources.append(source)

    # -- lookups ------------------------------------------------------------------
    def value(self, kind: str, raw) -> str | None:
        """The category/status code for a raw value, or ``None`` if unknown."""
        if _missing(raw):
            return None
        return self.values.get(kind, {}).get(norm(raw))

    def county(self, raw) -> str | None:
        """The county code for a code, Chinese or pinyin name, or ``None``."""
        if _missing(raw):
            return None
        s = norm(raw)
        if re.fullmatch(r"\d+(\.0)?", s):
            s = s.split(".")[0]
            for code in COUNTIES:  # township/village codes extend the county code
                if s.startswith(code):
                    return code
            return None
        for code, names in _COUNTY_ALIASES.items():
            if s in (norm(n) for n in names) or s in (norm(COUNTIES[code][0]), norm(COUNTIES[code][1])):
                return code
        return None

    def match_columns(self, columns) -> dict[str, str]:
        """Registry field → source column, for the columns this mapping recognises.

        Earlier aliases win when several columns match one field; each source column
        is used once.
        """
        normed = {norm(c): c for c in columns if not str(c).startswith("_")}
        out: dict[str, str] = {}
        used: set[str] = set()
        for fld in REGISTRY_FIELDS:
            for alias in self.columns.get(fld, []):
                if alias in normed and normed[alias] not in used:
                    out[fld] = normed[alias]
                    used.add(normed[alias])
                    break
        # Shapefile column names cut at the DBF limit of 10 bytes ("面积(亩)" → "面积(亩"):
        # a long-enough name that starts an alias still means that alias
        for fld in REGISTRY_FIELDS:
            if fld in out:
                continue
            for src_norm, src in normed.items():
                if src in used or len(src_norm.encode("utf-8")) < 8:
                    continue
                if any(a.startswith(src_norm) and a != src_norm for a in self.columns.get(fld, [])):
                    out[fld] = src
                    used.add(src)
                    break
        if "declared_area_mu" not in out:
            for alias, unit in self.area_units.items():
                if alias in normed and normed[alias] not in used:
                    out["declared_area_mu"] = normed[alias]
                    out["_area_unit"] = unit
                    break
        return out


_UNIT_WORDS = ("亩", "公顷", "平方米", "平米", "㎡", "m2", "m²", "mu", "ha", "hectare", "sqm", "km2")


def shapefile_columns(columns) -> dict[str, str]:
    """Column → DBF field name for a table written as a Shapefile: the names of
    :data:`SHAPEFILE_NAMES`, other names of at most 10 bytes as they are, longer ones cut
    (and numbered when two cuts meet), so GDAL never launders a name with a warning.

    Examples
    --------
    >>> shapefile_columns(["project_code", "area_mu", "declared_area_mu", "geometry"])
    {'project_code': 'proj_code', 'declared_area_mu': 'decl_mu'}
    >>> shapefile_columns(["a_very_long_name_1", "a_very_long_name_2"])
    {'a_very_long_name_1': 'a_very_lon', 'a_very_long_name_2': 'a_very_l_1'}
    """
    out: dict[str, str] = {}
    taken = {str(c).lower() for c in columns if len(str(c).encode("utf-8")) <= DBF_NAME_BYTES}
    for c in columns:
        name = str(c)
        if name in SHAPEFILE_NAMES:
            new = SHAPEFILE_NAMES[name]
        elif len(name.encode("utf-8")) <= DBF_NAME_BYTES:
            continue
        else:
            new = _cut(name, DBF_NAME_BYTES)
            n = 0
            while new.lower() in taken:
                n += 1
                new = _cut(name, DBF_NAME_BYTES - len(f"_{n}")) + f"_{n}"
        out[c] = new
        taken.add(new.lower())
    return out


def _cut(name: str, limit: int) -> str:
    """``name`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    return name.encode("utf-8")[:limit].decode("utf-8", "ignore")


def declared_area_column(mapping: FieldMapping, columns) -> tuple[str | None, bool]:
    """The source column of the declared area and whether its unit is known (from its
    name, e.g. ``面积(亩)``, ``area_ha``, or from the mapping's ``area_units``).

    A column without a unit in its name (``面积``, ``area``, ``mj``) holds 亩 only by
    assumption: :func:`gis.units.infer_area_unit` checks it on import.

    Examples
    --------
    >>> m = load_mapping()
    >>> declared_area_column(m, ["项目编号", "area"]), declared_area_column(m, ["面积(亩)"])
    (('area', False), ('面积(亩)', True))
    """
    cols = mapping.match_columns(columns)
    col = cols.get("declared_area_mu")
    if col is None:
        return None, False
    return col, "_area_unit" in cols or any(w in norm(col) for w in _UNIT_WORDS)


def _as_list(names, source) -> list[str]:
    if isinstance(names, str):
        return [names]
    if not isinstance(names, list):
        raise ConfigError.of("error.mapping_not_a_list", source=source, names=names)
    return [str(n) for n in names]


def _missing(v) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    try:
        if v is pd.NA or v is pd.NaT:
            return True
    except TypeError:  # pragma: no cover
        pass
    return isinstance(v, str) and v.strip() == ""


def load_mapping(extra: str | Path | None = None) -> FieldMapping:
    """The bundled mapping, extended by the YAML file ``extra`` if given.

    The file is read with :func:`gis.config.load_yaml` (size, encoding, safe YAML) and
    its layout checked before use: ``columns``, ``values``, ``values.<kind>`` and
    ``area_units`` are mappings, each area unit a text.
    """
    import copy

    m = copy.deepcopy(_bundled())
    if extra is not None:
        p = Path(extra)
        if not p.exists():
            raise ConfigError.of("error.mapping_missing", path=p)
        data = load_yaml(p, what="mapping")
        _check_layout(data, p)
        # user column aliases go first so they win over the bundled ones
        m.extend(data or {}, str(p))
    return m


def _check_layout(data, origin: Path | str) -> None:
    """Container types of a mapping document, named by key path (values come later)."""
    if not isinstance(data, dict):
        return  # FieldMapping.extend says what a mapping file must be
    for key in ("columns", "values", "area_units"):
        expect(data.get(key), "mapping", origin=origin, at=key, optional=True)
    for kind, table in (data.get("values") or {}).items():
        expect(table, "mapping", origin=origin, at=key_path("values", str(kind)), optional=True)
    for col, unit in (data.get("area_units") or {}).items():
        expect(unit, "text", origin=origin, at=key_path("area_units", str(col)))


@lru_cache(maxsize=1)
def _bundled() -> FieldMapping:
    m = FieldMapping()
    # codes and their labels are always aliases of themselves
    for kind, codes in (("category", CATEGORIES), ("status", STATUSES)):
        m.values[kind] = {}
        for code, (zh, en) in codes.items():
            for n in (code, zh, en):
                m.values[kind][norm(n)] = code
    data = load_yaml(FIELDS_YML, what="fields")
    _check_layout(data, FIELDS_YML)
    m.extend(data, str(FIELDS_YML))
    _add_export_headers(m)
    return m


def _add_export_headers(m: FieldMapping) -> None:
    """The headers of agrigis' own exports (``申报面积(亩)``, ``Declared area (mu)`` …,
    the ``column.*`` labels, and the Shapefile names of :data:`SHAPEFILE_NAMES`) as the
    first aliases of their fields, so an export
    is imported back as it was. ``column.area_mu`` (面积(亩) / Area (mu), the area agrigis
    computed) is never a declared-area alias taken before ``column.declared_area_mu``."""
    from gis.labels import LABELS

    for fld in REGISTRY_FIELDS:
        key = f"column.{'county_code' if fld == 'county' else fld}"
        if key not in LABELS:
            continue
        names = [norm(label(key, lang)) for lang in ("zh", "en")]
        names += [SHAPEFILE_NAMES[c] for c in (fld, key.split(".")[1]) if c in SHAPEFILE_NAMES]
        m.columns[fld] = [*dict.fromkeys(names), *(a for a in m.columns.get(fld, []) if a not in names)]


# -- value parsing -------------------------------------------------------------------


class ValueProblem(ValueError):
    """A value that cannot be used. ``str(exc)`` is the English text; :meth:`text`
    gives it in any language from the message ``key`` and its ``params``.

    Examples
    --------
    >>> exc = ValueProblem("reject.not_a_number", what="area", value="约1340亩")
    >>> str(exc)
    "area '约1340亩' is not a number; write digits only, e.g. 1200.5"
    >>> exc.text("zh", what="面积")
    "面积 '约1340亩' 不是数字;请只填写数字,例如 1200.5"
    """

    def __init__(self, key: str, **params):
        self.key, self.params = key, params
        super().__init__(message(key, "en", **params))

    def text(self, lang: str = DEFAULT_LANG, **override) -> str:
        """The message in ``lang``; ``override`` replaces params (e.g. a translated name)."""
        return message(self.key, lang, **{**self.params, **override})



def parse_year(raw) -> int | None:
    """Year from ``2024``, ``"2024年"``, ``2024.0``; ``None`` if missing.

    Raises :class:`ValueProblem` (a :class:`ValueError`) with the reason if present but
    not a plausible year.

    Examples
    --------
    >>> parse_year("2024年"), parse_year(2023.0), parse_year("")
    (2024, 2023, None)
    """
    if _missing(raw):
        return None
    s = norm(raw).removesuffix("年").removesuffix("年度")
    if re.fullmatch(r"\d+(\.0+)?", s):
        y = int(float(s))
        if MIN_YEAR <= y <= MAX_YEAR:
            return y
    raise ValueProblem("reject.year_invalid", value=raw, min_year=MIN_YEAR, max_year=MAX_YEAR)


_THOUSANDS = re.compile(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")
FLOAT_EXACT_LIMIT = 2 ** 53
"""Whole numbers from this size on are not all exact as floating-point numbers."""


def parse_number(raw, what: str) -> float | None:
    """Non-negative number from ``1200.5``, ``"1,200.5"``, ``"1200亩"``; ``None`` if missing.

    ``what`` names the value in the message of the :class:`ValueProblem` (a
    :class:`ValueError`) raised when it is not a non-negative number. A comma that is
    not a thousands group (groups of exactly three digits) is a decimal comma
    (``"12,5"`` → 12.5, see :func:`read_number`); other commas are refused.

    Examples
    --------
    >>> parse_number("1,234.5", "area"), parse_number("1,234", "area"), parse_number("12,5", "area")
    (1234.5, 1234.0, 12.5)
    """
    return read_number(raw, what)[0]


def read_number(raw, what: str) -> tuple[float | None, bool]:
    """:func:`parse_number` and whether a decimal comma was read (worth a repair note)."""
    if _missing(raw):
        return None, False
    comma = False
    if isinstance(raw, (int, float, np.integer, np.floating)) and not isinstance(raw, bool):
        v = float(raw)
    else:
        s = norm(raw).replace("亩", "").replace("万元", "")
        if "," in s:
            if _THOUSANDS.fullmatch(s):
                s = s.replace(",", "")
            elif _DECIMAL_COMMA.fullmatch(s):
                s, comma = s.replace(",", "."), True
            else:
                raise ValueProblem("reject.number_comma", what=what, value=raw)
        try:
            v = float(s)
        except ValueError:
            raise ValueProblem("reject.not_a_number", what=what, value=raw) from None
    if not math.isfinite(v):
        raise ValueProblem("reject.number_not_finite", what=what, value=raw)
    if v < 0:
        raise ValueProblem("reject.negative_number", what=what, value=raw)
    return v, comma


MAX_AREA_MU = 1e9
"""A declared area above this (亩, ~6.7 million km², more than China) is refused as absurd."""
MAX_INVESTMENT_WAN_YUAN = 1e9
"""An investment above this (万元, 10 trillion 元) is refused as absurd."""
_LIMITS = {"declared_area_mu": MAX_AREA_MU, "investment_wan_yuan": MAX_INVESTMENT_WAN_YUAN}


def project_code(raw, column: str = "project_code") -> str | None:
    """A project code as text: NFKC (``"Ｐ１"`` → ``"P1"``), without format characters
    (zero-width space, BOM, bidi marks: Unicode category Cf), stripped, whole numbers
    without ``.0``; ``None`` if missing.

    A code stored as a floating-point number of 2**53 or more may have lost digits
    already: it is refused (:class:`ValueProblem`) rather than stored wrong.

    Examples
    --------
    >>> project_code(" Ｐ１ "), project_code(220821.0), project_code("2024001.0"), project_code("P1\u200b")
    ('P1', '220821', '2024001', 'P1')
    """
    if _missing(raw):
        return None
    if isinstance(raw, (float, np.floating)):
        v = float(raw)
        if math.isfinite(v) and v.is_integer():
            if abs(v) >= FLOAT_EXACT_LIMIT:
                raise ValueProblem("reject.code_float_digits", value=int(v), limit=FLOAT_EXACT_LIMIT, column=column)
            return str(int(v))
        return str(v)
    if isinstance(raw, (int, np.integer)) and not isinstance(raw, bool):
        return str(int(raw))
    if type(raw) is str and raw.isascii() and raw.isprintable():
        return _plain_code(raw)
    s = unicodedata.normalize("NFKC", str(raw))
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Cf").strip()  # zero-width, BOM, bidi marks
    s = re.sub(r"^(\d+)\.0$", r"\1", s)
    return s or None


def code_key(code: str) -> str:
    """What two codes that are "nearly" the same share (no case, spaces, hyphens,
    underscores): ``P1``, ``p-1`` and ``P 1`` are one key.

    Examples
    --------
    >>> code_key("HSF-2024 01") == code_key("hsf_202401")
    True
    """
    return _code_key(code)


def _code_key(code: str) -> str:
    """What two codes that are "nearly" the same share: no case, spaces, hyphens, underscores."""
    if code.isascii() and code.isprintable():  # the usual code: no regular expression needed
        return code.lower().replace(" ", "").replace("-", "").replace("_", "")
    return _KEY_GAPS.sub("", code.casefold())


_KEY_GAPS = re.compile(r"[\s\-_]+")


def _plain_code(text: str) -> str | None:
    """:func:`project_code` of printable ASCII text (NFKC and format characters change
    nothing there): stripped, a whole number without its ``.0``; None if blank."""
    s = text.strip()
    if s.endswith(".0") and s[:-2].isdigit():
        s = s[:-2]
    return s or None


def _plain_codes(values: list) -> list[str | None]:
    """:func:`project_code` of each value that is printable ASCII text or a whole number
    (``int``), in one pass; None for every other value (and for blank text)."""
    return [_plain_code(v) if type(v) is str and v.isascii() and v.isprintable()
            else (str(v) if type(v) is int else None) for v in values]


def code_keys(values: list) -> list[str | None]:
    """:func:`code_key` of each value read as :func:`project_code` reads it (text without
    control characters first), None for a missing or unusable code: printable ASCII text
    and whole numbers in one pass, anything else value by value.

    Examples
    --------
    >>> code_keys(["HSF-2024 01", 220821, "2024001.0", "  ", None, "Ｐ１"])
    ['hsf202401', '220821', '2024001', None, None, 'p1']
    """
    from gis.outputs import safe_text

    def one(v) -> str | None:
        try:
            code = project_code(safe_text(v) if isinstance(v, str) else v)
        except ValueProblem:
            return None
        return None if code is None else _code_key(code)

    return [(_code_key(c) or None) if c is not None else one(v) for v, c in zip(values, _plain_codes(values), strict=True)]


# -- the mapping of a whole table ------------------------------------------------------


def map_fields(
    df: pd.DataFrame,
    mapping: FieldMapping | None = None,
    *,
    source: str = "input",
    category: str | None = None,
    year: int | None = None,
    status: str | None = None,
    lang: str = DEFAULT_LANG,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn a source table into registry attribute rows.

    Parameters
    ----------
    df : DataFrame
        Source rows; a ``_row`` column (1-based row in the source) is kept if present.
    mapping : FieldMapping, optional
        Default: :func:`load_mapping`.
    source : str
        File name used in messages.
    category, year, status : optional
        Values for every row (command-line options); they take precedence over the
        file's columns, and make those columns optional.
    lang : {"zh", "en"}
        Language of the reject reasons (default Chinese).

    Returns
    -------
    rows : DataFrame
        Index as ``df``; columns ``_row, project_code, project_name, category, year,
        status, declared_area_mu, county_declared, investment_wan_yuan``, and
        ``_repair``: what was repaired in the row's values (a decimal comma read, a
        full-width code normalised), in ``lang``, or None. Codes that differ only in
        case, spaces, hyphens or underscores are rejected.
    rejects : DataFrame
        ``_row, reason`` for rows that cannot be used (one reason per row, the first
        problem found); their index is that of ``df``.
    """
    m = mapping or load_mapping()
    category, status, year = _options(m, category, status, year)
    cols = _matched_columns(m, df, source, category=category, year=year, status=status)
    t = _Table(df, cols, lang)
    rows = pd.DataFrame(index=df.index)
    rows["_row"] = df["_row"].to_numpy() if "_row" in df else np.arange(1, len(df) + 1)
    rows["project_code"] = _codes(t)
    rows["project_name"] = _text(t.col("project_name"))
    for kind, opt in (("category", category), ("status", status)):
        rows[kind] = opt if opt is not None else _choices(t, m, kind)
    rows["year"] = year if year is not None else _years(t)
    for fld, what in (("declared_area_mu", "area"), ("investment_wan_yuan", "investment")):
        rows[fld] = _numbers(t, fld, what, unit=cols.get("_area_unit", "mu"))
    rows["county_declared"] = _counties(t, m)
    reject_near_duplicates(rows["project_code"].where(t.reasons.isna()), rows["_row"], t.reject, lang)
    rows["_part_of"] = _parts(t, rows)
    rows["_repair"] = t.notes
    bad = t.reasons.notna()
    rejects = pd.DataFrame({"_row": rows.loc[bad, "_row"], "reason": t.reasons[bad]})
    return rows.loc[~bad].copy(), rejects


def _options(m: FieldMapping, category, status, year) -> tuple[str | None, str | None, int | None]:
    """The command-line values for every row, as codes: unknown ones are refused."""
    if category is not None:
        code = m.value("category", category)
        if code is None:
            raise InputError.of("error.unknown_category", value=category, choices=", ".join(CATEGORIES))
        category = code
    if status is not None:
        code = m.value("status", status)
        if code is None:
            raise InputError.of("error.unknown_status", value=status, choices=", ".join(STATUSES))
        status = code
    if year is not None:
        try:
            year = parse_year(year)
        except ValueError as exc:
            raise InputError.of("error.year_option", problem=exc) from None
    return category, status, year


def _matched_columns(m: FieldMapping, df: pd.DataFrame, source: str, *, category, year, status) -> dict[str, str]:
    """Source column of each field; a code column is needed, and category, year and status
    unless given for every row."""
    cols = m.match_columns(df.columns)
    if "project_code" not in cols:
        shown = [str(c) for c in df.columns if not str(c).startswith("_")]  # never agrigis's own _row, _repair
        raise InputError.of("error.no_code_column", source=source, columns=", ".join(shown))
    for fld, opt, optname, what in (("category", category, "--category", "error.field_category"),
                                    ("year", year, "--year", "error.field_year"),
                                    ("status", status, "--status", "error.field_status")):
        if fld not in cols and opt is None:
            raise InputError.of("error.no_field_column", source=source, option=optname, field=Message(what))
    return cols


class _Table:
    """The source table being mapped: its columns, the first reject reason and the repair
    notes of each row."""

    def __init__(self, df: pd.DataFrame, cols: dict[str, str], lang: str) -> None:
        self.df, self.cols, self.lang = df, cols, lang
        self.reasons = pd.Series([None] * len(df), index=df.index, dtype=object)
        self.notes = pd.Series([None] * len(df), index=df.index, dtype=object)

    def col(self, fld: str) -> pd.Series:
        """The source column of ``fld`` as objects (all None if the table has none)."""
        if fld in self.cols:
            return self.df[self.cols[fld]].astype(object)
        return pd.Series([None] * len(self.df), index=self.df.index, dtype=object)

    def reject(self, mask, why) -> None:
        """Give rows in ``mask`` the reason ``why`` (str or Series) unless they have one."""
        mask = pd.Series(np.asarray(mask, dtype=bool), index=self.df.index) & self.reasons.isna()
        if mask.any():
            self.reasons[mask] = why[mask] if isinstance(why, pd.Series) else why

    def note(self, texts: pd.Series) -> None:
        """Add repair notes (text or None per row) to the rows' ``_repair``."""
        sep = label("registry.separator", self.lang)
        for i in texts.index[texts.notna()]:
            self.notes[i] = texts[i] if self.notes[i] is None else f"{self.notes[i]}{sep}{texts[i]}"

    def per_value(self, series: pd.Series, fn) -> pd.Series:
        """Apply ``fn(value) -> (result, error or None)`` once per distinct value; rows with an
        error are rejected with it. Returns the results."""
        codes, uniq = pd.factorize(series.astype(object), use_na_sentinel=True)
        res = np.empty(len(uniq) + 1, dtype=object)
        err = np.empty(len(uniq) + 1, dtype=object)
        for k, u in enumerate(uniq):
            res[k], err[k] = fn(None if _missing(u) else u)
        res[-1], err[-1] = fn(None)  # code -1: missing
        errs = pd.Series(err[codes], index=series.index, dtype=object)
        if len(series) != len(self.df):  # some of the rows (``series`` has their index)
            errs = errs.reindex(self.df.index)
        self.reject(errs.notna(), errs)
        return pd.Series(res[codes], index=series.index, dtype=object)


def _text(series: pd.Series) -> pd.Series:
    t = series.astype("string").str.strip()
    return t.astype(object).where(t.notna() & (t != ""), None)


def _codes(t: _Table) -> pd.Series:
    """Project codes: NFKC, stripped, numeric codes read as floats without their ".0"; a
    changed code is noted."""
    lang, column = t.lang, t.cols["project_code"]

    def code_of(v):
        if v is None:
            return None, message("reject.no_code", lang, column=column)
        try:
            return project_code(v, column), None
        except ValueProblem as exc:
            return None, exc.text(lang)

    raw = t.col("project_code")
    values = raw.tolist()
    code = pd.Series(_plain_codes(values), index=raw.index, dtype=object)  # the usual codes, in one pass
    rest = code.isna().to_numpy()
    if rest.any():  # other text (full-width, format characters, blank), floats, missing: value by value
        code[rest] = t.per_value(raw[rest], code_of)
    changed = [c is not None and isinstance(r, str) and c != r.strip()
               for r, c in zip(values, code.tolist(), strict=True)]
    notes = pd.Series(None, index=raw.index, dtype=object)
    for i in np.flatnonzero(changed):
        notes.iloc[i] = message("repair.code_normalised", lang, raw=values[i], code=code.iloc[i])
    t.note(notes)
    return code.astype(object)


def _choices(t: _Table, m: FieldMapping, kind: str) -> pd.Series:
    """Category or status codes from the file's column; the reason of an unknown value lists
    the choices (codes in English, the Chinese names in Chinese)."""
    lang = t.lang
    codes = CATEGORIES if kind == "category" else STATUSES
    sep = label("registry.list_separator", lang)
    choices = sep.join(codes) if lang == "en" else sep.join(zh for zh, _ in codes.values())
    params = {"field": kind if lang == "en" else label(f"column.{kind}", lang), "column": t.cols[kind],
              "choices": choices, "option": kind}

    def lookup(v):
        c = m.value(kind, v)
        if c is not None:
            return c, None
        if v is None:
            return None, message("reject.empty_value", lang, **params)
        return None, message("reject.unknown_value", lang, value=v, **params)

    return t.per_value(t.col(kind), lookup).astype(object)


def _years(t: _Table) -> pd.arrays.IntegerArray:
    """Years from the file's column."""
    lang, column = t.lang, t.cols["year"]

    def yr(v):
        if v is None:
            return None, message("reject.year_empty", lang, column=column)
        try:
            return parse_year(v), None
        except ValueProblem as exc:
            return None, message("reject.in_column", lang, problem=exc.text(lang), column=column)

    return pd.array(t.per_value(t.col("year"), yr).tolist(), dtype="Int64")


def _numbers(t: _Table, fld: str, what: str, *, unit: str) -> np.ndarray:
    """Declared area (亩, converted from ``unit``) or investment: plain non-negative numbers
    in one pass, otherwise value by value (decimal commas noted, absurd values rejected)."""
    c = t.col(fld)
    fast = pd.to_numeric(c, errors="coerce")
    if fld in t.cols and fast.notna().sum() == c.map(lambda v: not _missing(v)).sum() and (fast.dropna() >= 0).all():
        x = fast.to_numpy(dtype="float64")  # all plain non-negative numbers
        x = x if unit == "mu" or fld != "declared_area_mu" else np.asarray(convert(x, unit, "mu"))
        if not (x[~np.isnan(x)] > _LIMITS[fld]).any():  # inf and absurd values get their reason per row
            return x
    lang, column, name = t.lang, t.cols.get(fld), label(f"field.{what}", t.lang)
    comma_notes: dict = {}

    def num(v):
        if v is None:
            return np.nan, None
        try:
            x, comma = read_number(v, what)
        except ValueProblem as exc:
            return np.nan, message("reject.in_column", lang, problem=exc.text(lang, what=name), column=column)
        if comma:
            repair = message("repair.decimal_comma", lang, what=name, raw=v, value=format(x, ".15g"))
            comma_notes[v] = message("reject.in_column", lang, problem=repair, column=column)
        x = float(convert(x, unit, "mu")) if fld == "declared_area_mu" and unit != "mu" else x
        if x > _LIMITS[fld]:
            problem = message("reject.number_too_large", lang, what=name, value=v, limit=format(_LIMITS[fld], "g"))
            return np.nan, message("reject.in_column", lang, problem=problem, column=column)
        return x, None

    vals = t.per_value(c, num)
    t.note(c.map(lambda v: comma_notes.get(v) if isinstance(v, str) else None).astype(object))
    return vals.to_numpy(dtype="float64")


def _counties(t: _Table, m: FieldMapping) -> pd.Series:
    """The county each row declares (code), if the file has a county column."""
    lang = t.lang
    county_choices = label("registry.list_separator", lang).join(f"{k} {z}" for k, (z, _) in COUNTIES.items())

    def cty(v):
        if v is None:
            return None, None
        code = m.county(v)
        if code is None:
            return None, message("reject.unknown_county", lang, value=v, column=t.cols["county"],
                                 choices=county_choices)
        return code, None

    return t.per_value(t.col("county"), cty).astype(object)


def _parts(t: _Table, rows: pd.DataFrame) -> pd.Series:
    """Several rows with one code are parts of one parcel when every attribute agrees (a
    multi-part parcel saved as single parts, or several field-map sketches of one project):
    each gets the first row of its group, and the caller merges them. Otherwise none of them
    can be trusted and all are rejected. Returns ``_part_of``."""
    part_of = rows["_row"].copy()
    ok_codes = rows["project_code"].where(t.reasons.isna())
    dup = ok_codes.duplicated(keep=False) & ok_codes.notna()
    if not dup.any():
        return part_of
    same = ["project_name", "category", "year", "status", "county_declared", "investment_wan_yuan"]
    d = rows.loc[dup, ["project_code", "_row", *same]].astype(object)
    d = d.where(d.notna(), "<NA>")
    n_variants = d.groupby("project_code")[same].nunique().max(axis=1)
    first = d.groupby("project_code")["_row"].transform("min")
    agree = d["project_code"].map(n_variants) == 1
    part_of.loc[agree[agree].index] = first[agree].to_numpy(dtype="int64")
    conflict = agree[~agree].index
    if len(conflict):
        sep = label("registry.list_separator", t.lang)
        groups = rows.loc[conflict].groupby("project_code")["_row"].apply(lambda s: sep.join(map(str, s)))
        msg = rows.loc[conflict, "project_code"].map(
            lambda c: message("reject.duplicate_code", t.lang, code=c, rows=groups[c]))
        t.reject(rows.index.isin(conflict), msg.reindex(t.df.index))
    return part_of


def reject_near_duplicates(codes: pd.Series, src_rows: pd.Series, reject, lang: str = DEFAULT_LANG) -> None:
    """Reject rows whose codes differ only in case, spaces, hyphens or underscores
    (``HSF-2024-01`` and ``hsf 2024 01``): one project or two cannot be told.

    ``reject(mask, reasons)`` records the reasons (see :func:`map_fields`)."""
    ok = codes.dropna()
    if ok.empty:
        return
    keys = pd.Series([_code_key(c) for c in ok.tolist()], index=ok.index, dtype=object)
    shared = keys.duplicated(keep=False).to_numpy()  # only a shared key can have variants
    if not shared.any():
        return
    ok, keys = ok[shared], keys[shared]
    variants = ok.groupby(keys).transform("nunique")
    near = variants[variants > 1].index
    if not len(near):
        return
    sep = label("registry.list_separator", lang)
    why = pd.Series(None, index=codes.index, dtype=object)
    for _, idx in keys[near].groupby(keys[near]).groups.items():
        group = ok[idx]
        rows_text = sep.join(str(r) for r in sorted(src_rows[idx]))
        for i in idx:
            others = sep.join(c for c in dict.fromkeys(group) if c != group[i])
            why[i] = message("reject.near_duplicate_code", lang, code=group[i], other=others, rows=rows_text)
    reject(why.notna(), why)
