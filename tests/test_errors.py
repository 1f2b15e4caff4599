"""Every agrigis error is also the builtin that fits, and require() gives an install hint."""

from __future__ import annotations

import pytest

from gis import errors as E

EXPECTED = {
    E.InputError: ValueError,
    E.ConfigError: ValueError,
    E.CRSError: ValueError,
    E.MissingCRSError: E.CRSError,
    E.AmbiguousCRSError: E.CRSError,
    E.GridError: ValueError,
    E.DataFileError: OSError,
    E.RegistryError: RuntimeError,
    E.RegistryBusyError: E.RegistryError,
    E.MissingDependencyError: ImportError,
}


@pytest.mark.parametrize("cls, builtin", EXPECTED.items(), ids=lambda c: getattr(c, "__name__", str(c)))
def test_each_error_is_agrigis_and_builtin(cls, builtin):
    assert issubclass(cls, E.AgrigisError) and issubclass(cls, builtin)
    with pytest.raises(builtin, match="row 3: bad value"):
        raise cls("row 3: bad value")
    with pytest.raises(E.AgrigisError):
        raise cls("x")


def test_all_public_errors_covered():
    public = {v for v in vars(E).values()
              if isinstance(v, type) and issubclass(v, E.AgrigisError) and v is not E.AgrigisError}
    assert public == set(EXPECTED)


def test_missing_crs_is_a_value_error():
    assert issubclass(E.MissingCRSError, ValueError) and issubclass(E.AmbiguousCRSError, ValueError)


def test_require():
    assert E.require("math", "maths").sqrt(4) == 2
    with pytest.raises(E.MissingDependencyError,
                       match=r"drawing needs the package 'no_such_pkg_xyz'.*pip install \"baicheng-agrigis\[scale\]\""):
        E.require("no_such_pkg_xyz.sub", "drawing", extra="scale")
    with pytest.raises(ImportError, match=r"pip install no_such_pkg_xyz \(conda: conda install -c conda-forge"):
        E.require("no_such_pkg_xyz", "drawing")


# -- errors with a message key: English str(), any language from text(lang) ----------------


@pytest.mark.parametrize("cls", sorted(EXPECTED, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_keyed_error_is_english_for_str_and_chinese_for_text(cls):
    exc = cls.of("error.file_not_found", path="甲/parcels.shp")
    assert str(exc) == "甲/parcels.shp: file not found; check the path"
    assert exc.text("zh") == "甲/parcels.shp:找不到文件,请检查路径"
    assert exc.text() == exc.text("zh") and exc.text("en") == str(exc)
    assert exc.key == "error.file_not_found" and exc.params == {"path": "甲/parcels.shp"}
    assert str(cls(key="error.file_not_found", path="a")) == "a: file not found; check the path"
    with pytest.raises(cls, match=r"^a: file not found; check the path$"):
        raise cls.of("error.file_not_found", path="a")


def test_plain_error_is_unchanged_and_the_same_in_every_language():
    exc = E.InputError("row 3: year 20240 is not a year; write it as 2024")
    assert str(exc) == exc.text("zh") == exc.text("en") == "row 3: year 20240 is not a year; write it as 2024"
    assert exc.key is None and exc.params == {} and exc.args == ("row 3: year 20240 is not a year; write it as 2024",)


def test_values_are_inserted_unchanged_and_conversions_kept():
    exc = E.InputError.of("error.unknown_category", value="鱼塘", choices="paddy_new, greenhouse")
    assert str(exc) == "--category '鱼塘' is unknown; use one of paddy_new, greenhouse"
    assert exc.text("zh") == "--category '鱼塘' 不是已知的项目类别;请使用以下之一:paddy_new, greenhouse"
    busy = E.RegistryBusyError.of("error.registry_busy", path="r.gpkg", timeout=30.0)
    assert "for more than 30 s;" in str(busy) and "已超过 30 秒" in busy.text("zh")


def test_nested_messages_and_errors_follow_the_language():
    inner = E.AmbiguousCRSError.of("error.crs_no_coordinates")
    outer = E.AmbiguousCRSError.of("error.no_crs_declared", source="a.shp", problem=inner)
    assert str(outer) == ("a.shp: no CRS declared and cannot tell the coordinate system: there are no finite "
                          "coordinates; check that the file has geometry")
    assert outer.text("zh") == "a.shp:文件未声明坐标系,且无法判断坐标系:没有有效的坐标;请检查文件是否含有几何图形"
    m = E.Message("error.crs_fix", code=4529, swap=E.Message("error.crs_fix_swapped"))
    assert str(m) == "; if that is right, import with --crs EPSG:4529 (axes swapped too: fix the file) or fix the .prj"
    assert m.text("zh") == ";如果推测正确,请用 --crs EPSG:4529 导入(坐标轴顺序也颠倒了:请修正文件),或修正 .prj 文件"


def test_keyed_error_survives_pickling():
    import pickle

    exc = pickle.loads(pickle.dumps(E.DataFileError.of("error.file_empty", path="a.shp")))
    assert isinstance(exc, E.DataFileError) and str(exc) == "a.shp: the file is empty (0 bytes); copy or export it again"
    assert exc.text("zh") == "a.shp:文件为空(0 字节);请重新复制或导出"


def test_a_value_may_be_called_key(monkeypatch):
    from gis import label_table

    monkeypatch.setitem(label_table.table(), "error.test_key_value", ("键 {key}", "key {key}"))
    exc = E.RegistryError.of("error.test_key_value", key="A1")
    assert str(exc) == "key A1" and exc.text("zh") == "键 A1"
    assert exc.key == "error.test_key_value" and exc.params == {"key": "A1"}


def test_misuse_is_a_programming_error():
    with pytest.raises(TypeError, match="either a text or a message key"):
        E.InputError("text", key="error.file_not_found", path="a")
    with pytest.raises(TypeError, match="need a message key"):
        E.InputError(path="a")
    with pytest.raises(KeyError):
        E.InputError.of("error.no_such_key")
    with pytest.raises(KeyError):
        E.InputError.of("error.file_not_found")  # a placeholder without a value
