"""The label table: every text a person reads, in Chinese and English, loaded once from
the YAML files in ``gis/labels/``.

This module imports nothing of agrigis, so both :mod:`gis.errors` (which renders keyed
error messages) and :mod:`gis.labels` (the public API) build on it and imports run one
way: ``labels → errors → label_table``. Each file of ``gis/labels/`` is one section
(``errors.yml``, ``maps.yml``, …) of ``key: {zh: …, en: …}`` entries; ``codes.yml``
holds the data model's codes (categories, statuses, counties). A key may be defined in
one file only.

Examples
--------
>>> template("status.completed", "en")
'completed'
>>> message("reject.too_few_vertices", "en", n=2)
'only 2 vertices; a polygon needs at least 3'
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LABEL_DIR = Path(__file__).with_name("labels")
"""Where the label files are."""
CODES_FILE = "codes.yml"


def _load(path: Path) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - our own files, safe loader


def _pair(where: str, value: Any) -> tuple[str, str]:
    if not (isinstance(value, dict) and isinstance(value.get("zh"), str) and isinstance(value.get("en"), str)):
        raise ValueError(f"{where}: a label needs zh and en texts, got {value!r}")
    return value["zh"], value["en"]


@lru_cache(maxsize=1)
def codes() -> dict[str, Any]:
    """``codes.yml``: ``categories`` (zh, en, color), ``statuses``, ``counties``, ``other_color``."""
    data = _load(LABEL_DIR / CODES_FILE)
    for group in ("categories", "statuses", "counties"):
        bad = [k for k in data[group] if not isinstance(k, str)]
        if bad:  # a county code written without quotes is read as a number
            raise ValueError(f"{CODES_FILE}: {group} codes must be quoted text, got {bad!r}")
    return dict(data)


@lru_cache(maxsize=1)
def free_labels() -> dict[str, tuple[str, str]]:
    """Every label of the section files, by dotted key (not the codes)."""
    out: dict[str, tuple[str, str]] = {}
    for path in sorted(LABEL_DIR.glob("*.yml")):
        if path.name == CODES_FILE:
            continue
        for key, value in (_load(path) or {}).items():
            if key in out:
                raise ValueError(f"{path.name}: label {key!r} is defined in another file too")
            out[key] = _pair(f"{path.name}: {key}", value)
    return out


@lru_cache(maxsize=1)
def table() -> dict[str, tuple[str, str]]:
    """All labels: the section files plus ``category.<code>``, ``status.<code>``, ``county.<code>``."""
    out = dict(free_labels())
    for group, prefix in (("categories", "category"), ("statuses", "status"), ("counties", "county")):
        for code, value in codes()[group].items():
            out[f"{prefix}.{code}"] = _pair(f"{CODES_FILE}: {group}.{code}", value)
    return out


def template(key: str, lang: str = DEFAULT_LANG) -> str:
    """The text of ``key`` in ``lang``; a :class:`KeyError` for an unknown key (a
    programming error) and a :class:`ValueError` for an unknown language."""
    zh, en = table()[key]
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of: {', '.join(LANGS)}")
    return zh if lang == "zh" else en


def message(key: str, lang: str = DEFAULT_LANG, /, **params: Any) -> str:
    """The template of ``key`` in ``lang`` filled with ``params`` (``str.format``)."""
    return template(key, lang).format(**params)
