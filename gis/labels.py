"""Every label a person reads, in Chinese and English.

Code, identifiers and file names are English; what a person reads (legends, popups,
table headers, CLI messages) is Chinese by default and English with ``lang="en"``.
The texts are data: one YAML file per section in ``gis/labels/`` (see
:mod:`gis.label_table`); add a new label to the file of your section (or a new file),
with a dotted key ``"<section>.<name>"`` and both languages.

Examples
--------
>>> label("status.completed")
'完工'
>>> label("status.completed", "en")
'completed'
>>> label("column.area_mu", "en")
'Area (mu)'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import InputError
from .label_table import DEFAULT_LANG, LANGS, codes, free_labels, table
from .label_table import message as _message

__all__ = ["LANGS", "DEFAULT_LANG", "CATEGORIES", "CATEGORY_COLORS", "OTHER_COLOR", "STATUSES", "COUNTIES",
           "LABELS", "check_lang", "label", "message", "labels", "headers"]


def _names(group: str) -> dict[str, tuple[str, str]]:
    return {code: (v["zh"], v["en"]) for code, v in codes()[group].items()}


CATEGORIES: dict[str, tuple[str, str]] = _names("categories")
"""Project category codes (see DESIGN.md) → (中文, English), in report order."""

CATEGORY_COLORS: dict[str, str] = {code: v["color"] for code, v in codes()["categories"].items()}
"""Category colours, the same on the field maps and in the registry's QGIS style."""
OTHER_COLOR: str = codes()["other_color"]

STATUSES: dict[str, tuple[str, str]] = _names("statuses")
"""Project status codes in lifecycle order → (中文, English)."""

COUNTIES: dict[str, tuple[str, str]] = _names("counties")
"""GB/T 2260 county codes of Baicheng (220800) → (中文, English)."""

LABELS: dict[str, tuple[str, str]] = free_labels()
"""Free labels: dotted key → (中文, English) (read only)."""


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise a clear :class:`InputError`."""
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}; use one of: {', '.join(LANGS)}")
    return lang


def label(key: str, lang: str = DEFAULT_LANG) -> str:
    """The label for ``key`` in ``lang`` (``"zh"`` or ``"en"``).

    Raises
    ------
    KeyError
        If the key is not in the table (a programming error, not user input).
    """
    zh, en = table()[key]
    return zh if check_lang(lang) == "zh" else en


def headers(columns: Iterable[str], lang: str = DEFAULT_LANG, sections: tuple[str, ...] = ("column",)) -> dict[str, str]:
    """The header a person reads for each column: its label in the first of ``sections``
    that has one (``"column.<name>"``, then ``"<section>.<name>"`` …), else the name itself.

    Examples
    --------
    >>> headers(["area_mu", "verdict", "x"], "en", ("column", "remediation"))
    {'area_mu': 'Area (mu)', 'verdict': 'Verdict', 'x': 'x'}
    """
    out = {}
    for c in columns:
        out[c] = next((label(f"{sec}.{c}", lang) for sec in sections if f"{sec}.{c}" in table()), c)
    return out


def message(key: str, lang: str = DEFAULT_LANG, /, **params: Any) -> str:
    """The label for ``key`` in ``lang``, a ``str.format`` template, filled with ``params``.

    Used for the sentences a person reads about their data (reject reasons, repairs);
    the values in ``params`` (column names, codes, numbers) are inserted unchanged.

    Raises
    ------
    KeyError
        If the key is not in the table or a placeholder has no value (programming errors).

    Examples
    --------
    >>> message("reject.too_few_vertices", n=2)
    '只有 2 个拐点;多边形至少需要 3 个拐点'
    >>> message("reject.too_few_vertices", "en", n=2)
    'only 2 vertices; a polygon needs at least 3'
    >>> message("reject.no_code", "en", column="XMBH")
    "no project code in column 'XMBH'; every parcel needs a 项目编号"
    """
    check_lang(lang)
    return _message(key, lang, **params)


def labels(prefix: str, lang: str = DEFAULT_LANG) -> dict[str, str]:
    """All labels under ``prefix`` as ``{name: text}``, e.g. ``labels("status")``.

    Examples
    --------
    >>> labels("status", "en")["under_construction"]
    'under construction'
    """
    check_lang(lang)
    i = 0 if lang == "zh" else 1
    p = prefix.rstrip(".") + "."
    return {k[len(p):]: v[i] for k, v in table().items() if k.startswith(p)}
