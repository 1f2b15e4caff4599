"""gis.labels: the message templates of import (reject reasons, repairs, notes, CRS-guess
reasons) and of errors in both languages."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from gis.labels import CATEGORIES, LABELS, label, message

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PREFIXES = ("reject.", "repair.", "note.", "crs.", "error.")
TEMPLATES = sorted(k for k in LABELS if k.startswith(TEMPLATE_PREFIXES) or k == "registry.more")


def fields(template: str) -> set[tuple[str, str, str]]:
    """``(name, conversion, format spec)`` of every placeholder of a ``str.format`` template."""
    return {(name, conv or "", spec or "") for _, name, spec, conv in string.Formatter().parse(template)
            if name is not None}


def sample(name: str, spec: str):
    """A value for a placeholder: a number when the format spec needs one."""
    return 12.5 if spec else f"<{name}>"


def test_there_are_templates():
    assert len(TEMPLATES) >= 45
    assert {"reject.no_code", "reject.unknown_value", "reject.outside_city", "reject.year_invalid",
            "repair.self_intersection", "reject.registry_conflict", "note.encoding", "note.no_crs",
            "note.crs_guessed", "note.gcj02", "crs.lonlat_china", "crs.gk_cm123", "crs.swapped"} <= set(TEMPLATES)


@pytest.mark.parametrize("key", TEMPLATES)
def test_both_languages_have_the_same_placeholders_and_format(key):
    zh, en = LABELS[key]
    assert fields(zh) == fields(en), key
    assert zh != en and re.search(r"[\u4e00-\u9fff]", zh), f"{key}: the Chinese text is not Chinese"
    params = {name: sample(name, spec) for name, _, spec in fields(en)}
    for lang in ("zh", "en"):
        text = message(key, lang, **params)
        assert "{" not in text and "}" not in text, (key, lang, text)
        for name, _, spec in fields(en):
            if not spec:  # values are inserted unchanged, whatever the language
                assert f"<{name}>" in text, (key, lang, name)


def test_message_is_label_and_format():
    assert message("repair.area_change", "en", pct=-1.26) == "area -1.3 %"
    assert message("repair.area_change", pct=-1.26) == "面积变化 -1.3%"
    assert message("reject.empty_geometry") == label("reject.empty_geometry")
    with pytest.raises(KeyError):
        message("reject.no_code", "en")  # a placeholder without a value is a programming error


MESSAGE_CALL = re.compile(r"""(?:message|_Unreadable|ValueProblem|label)\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")
# note/CRS-reason/error keys are also passed around before they are rendered: any string literal counts
KEY_LITERAL = re.compile(r"""["']((?:note|crs|error)\.[a-z0-9_]+)["']""")
# every module of the package: a key used anywhere must be in the table, and every
# error/note/crs key in the table must be used somewhere
PACKAGE_FILES = tuple(sorted(str(p.relative_to(ROOT)) for room in ("gis", "layers", "maps", "workflows")
                             for p in (ROOT / room).rglob("*.py") if p.name != "labels.py"))
PENDING: set[str] = set()  # keys in the table that no code raises yet
ERROR_CALL = re.compile(r"""(?:Error\.of|Error\(key=|Message)\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")


def test_every_key_the_import_path_uses_is_in_the_table():
    used = set()
    for f in PACKAGE_FILES:
        text = (ROOT / f).read_text(encoding="utf-8")
        used |= set(MESSAGE_CALL.findall(text)) | set(KEY_LITERAL.findall(text)) | set(ERROR_CALL.findall(text))
    assert {"reject.csv_point", "reject.not_polygon", "reject.registry_conflict", "repair.merged",
            "crs.lonlat_china", "crs.swapped", "note.encoding", "note.crs", "note.gcj02",
            "error.file_not_found", "error.unknown_file_type", "error.crs_mismatch", "error.crs_ambiguous",
            "error.no_code_column", "error.registry_busy", "error.registry_locked", "error.prefix"} <= used
    missing = {k for k in used
               if k.startswith(("reject.", "repair.", "field.", "geometry.", "note.", "crs.", "error.")) and k not in LABELS}
    assert not missing
    unused = {k for k in LABELS if k.startswith(("note.", "crs.", "error.")) and k not in used | PENDING}
    assert not unused, "templates nobody renders"
    assert not PENDING & used, "raised now: take it out of PENDING"


def test_error_english_texts_are_word_for_word_what_the_code_raised_before():
    # str(exc) is the English template: spot-check a few against the texts tests and notebooks match on
    assert message("error.file_not_found", "en", path="a.shp") == "a.shp: file not found; check the path"
    assert message("error.no_code_column", "en", source="a.shp", columns="名称, 面积") == (
        "a.shp: no project code column; found columns 名称, 面积. Rename one to 项目编号 or project_code, "
        "or map it with --mapping (columns: project_code: [NAME])")
    assert message("error.registry_locked", "en", path="r.gpkg") == (
        "registry busy: r.gpkg is locked by another process; try again")
    assert message("error.prefix") == "错误" and message("error.prefix", "en") == "error"


def test_labels_are_data_files_and_a_key_lives_in_one_file(tmp_path, monkeypatch):
    from gis import label_table

    files = sorted(p.name for p in label_table.LABEL_DIR.glob("*.yml"))
    assert "codes.yml" in files and "errors.yml" in files
    assert len(label_table.table()) == len(LABELS) + len(CATEGORIES) + 5 + 5  # statuses, counties
    (tmp_path / "a.yml").write_text('x.one:\n  zh: "一"\n  en: "one"\n', encoding="utf-8")
    (tmp_path / "b.yml").write_text('x.one:\n  zh: "壹"\n  en: "one"\n', encoding="utf-8")
    monkeypatch.setattr(label_table, "LABEL_DIR", tmp_path)
    label_table.free_labels.cache_clear()
    try:
        with pytest.raises(ValueError, match="b.yml: label 'x.one' is defined in another file too"):
            label_table.free_labels()
        (tmp_path / "b.yml").write_text('x.two:\n  zh: "二"\n', encoding="utf-8")
        with pytest.raises(ValueError, match="b.yml: x.two: a label needs zh and en texts"):
            label_table.free_labels()
    finally:
        label_table.free_labels.cache_clear()


def test_imports_run_one_way_errors_do_not_import_labels():
    import subprocess
    import sys

    code = "import sys, gis.errors; print('gis.labels' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
