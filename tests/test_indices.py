"""Spectral indices against hand-computed values (B=0.04, G=0.09, R=0.16, NIR=0.36)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from gis.errors import ConfigError, InputError
from gis.indices import INDICES, compute_index, direction, get_index

BANDS = {"B": 0.04, "G": 0.09, "R": 0.16, "NIR": 0.36, "SWIR1": 0.24}

# worked by hand, see the module docstring for formulas
EXPECTED = {
    "NDVI": 0.20 / 0.52,  # (0.36-0.16)/(0.36+0.16)
    "EVI": 0.5 / 2.02,  # 2.5(0.20)/(0.36+0.96-0.30+1)
    "LSWI": 0.2,  # (0.36-0.24)/(0.36+0.24)
    "SAVI": 1.5 * 0.20 / 1.02,  # (1.5)(0.2)/(0.52+0.5)
    "NDSI": -0.20 / 0.52,
    "SI": 0.08,  # sqrt(0.0064)
    "BI": math.sqrt(0.0256 + 0.1296),
    "SI1": 0.12,  # sqrt(0.0144)
    "SI2": math.sqrt(0.0081 + 0.0256 + 0.1296),
    "SI3": math.sqrt(0.0081 + 0.0256),
    "S1": 0.25,
    "S2": -0.6,  # (0.04-0.16)/(0.20)
    "S3": 0.36,  # 0.0144/0.04
    "S5": 0.0064 / 0.09,
    "S6": 0.64,  # 0.0576/0.09
}


@pytest.mark.parametrize("alias", sorted(EXPECTED))
def test_index_on_numpy_matches_hand_value(alias):
    arrays = {k: np.full((2, 3), v) for k, v in BANDS.items()}
    out = compute_index(alias, arrays)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out, EXPECTED[alias], rtol=1e-12)


@pytest.mark.parametrize("alias", sorted(EXPECTED))
def test_index_on_dataarray_keeps_coords(alias):
    coords = {"y": [1.0, 2.0], "x": [10.0, 20.0, 30.0]}
    arrays = {k: xr.DataArray(np.full((2, 3), v), coords=coords, dims=("y", "x")) for k, v in BANDS.items()}
    out = compute_index(alias, arrays)
    assert isinstance(out, xr.DataArray)
    assert list(out.x.values) == [10.0, 20.0, 30.0]
    assert out.attrs["formula"] == get_index(alias).formula
    np.testing.assert_allclose(out.values, EXPECTED[alias], rtol=1e-12)


def test_every_registered_index_has_a_hand_test_and_a_reference():
    assert {ix.alias for ix in INDICES.values()} == set(EXPECTED)
    for ix in INDICES.values():
        assert ix.reference and "(" in ix.reference and ix.formula
        assert ix.direction in ("up", "down")


def test_si_names_resolve_to_douaoui_explicitly():
    assert get_index("SI1").id == "si1_douaoui2006" and get_index("SI1").formula == "√(G·R)"
    assert get_index("si2").formula == "√(G² + R² + NIR²)"
    assert get_index("SI3").formula == "√(G² + R²)"
    assert get_index("SI").formula == "√(B·R)"
    assert get_index("ndsi").id == "ndsi_salinity"


def test_zero_denominator_gives_nan_not_inf():
    out = compute_index("NDVI", {"R": np.array([0.0, 0.1]), "NIR": np.array([0.0, 0.3])})
    assert np.isnan(out[0]) and out[1] == pytest.approx(0.5)
    da = xr.DataArray(np.array([0.0, 0.2]), dims="x")
    out = compute_index("S1", {"B": da, "R": da})
    assert np.isnan(out.values[0]) and out.values[1] == 1.0


def test_integer_dn_are_not_truncated():
    out = compute_index("NDVI", {"R": np.array([1], dtype="uint16"), "NIR": np.array([3], dtype="uint16")})
    assert out[0] == pytest.approx(0.5)


def test_unknown_index_lists_known_ones():
    with pytest.raises(ConfigError, match=r"unknown spectral index 'NDWI'; known indices: NDVI \(ndvi\), SAVI \(savi\),"):
        get_index("NDWI")


def test_missing_band_is_named():
    with pytest.raises(InputError, match=r"index SI2 \(si2_douaoui2006 = √\(G² \+ R² \+ NIR²\)\) needs band\(s\) NIR, which are missing; given: G, R"):
        compute_index("SI2", {"G": 0.1, "R": 0.2})


def test_direction_from_registry():
    assert direction("ndvi") == "up"
    assert direction("SAVI") == "up"
    assert direction("NDSI") == "down"
