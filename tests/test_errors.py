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
