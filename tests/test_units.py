"""Area units: 1 亩 = 2000/3 m² exactly."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from gis import units
from gis.errors import InputError


def test_exact_definitions():
    assert Fraction(2000, 3) == units.M2_PER_MU_EXACT
    assert units.M2_PER_MU == 2000 / 3
    assert units.MU_PER_HA == 15 and units.MU_PER_KM2 == 1500 and units.MU_PER_WAN_MU == 10_000


@pytest.mark.parametrize("fn, value, expected", [
    (units.m2_to_mu, 1_000_000, 1500.0),
    (units.m2_to_mu, 2000, 3.0),
    (units.mu_to_m2, 3, 2000.0),
    (units.mu_to_ha, 15, 1.0),
    (units.ha_to_mu, 1, 15.0),
    (units.mu_to_wan_mu, 600_000, 60.0),
    (units.wan_mu_to_mu, 23.89, 238_900.0),
    (units.wan_mu_to_ha, 60, 40_000.0),
    (units.m2_to_ha, 10_000, 1.0),
    (units.m2_to_km2, 2_500_000, 2.5),
    (units.km2_to_mu, 2, 3000.0),
    (units.mu_to_km2, 1500, 1.0),
])
def test_conversions(fn, value, expected):
    assert fn(value) == pytest.approx(expected, rel=1e-15)
    assert isinstance(fn(value), float)


def test_domain_table_2024_targets():
    # DOMAIN.md §1.1: 万亩 → ha and km²
    assert units.convert(23.89, "wan_mu", "ha") == pytest.approx(15_926.6667, abs=1e-4)
    assert units.convert(15.75, "wan_mu", "ha") == pytest.approx(10_500, rel=1e-15)
    assert units.convert(450, "wan_mu", "km2") == pytest.approx(3000, rel=1e-15)
    assert units.convert(690, "wan_mu", "ha") == pytest.approx(460_000, rel=1e-15)
    assert units.convert(1, "km2", "mu") == 1500.0


def test_arrays_and_round_trips():
    a = np.array([0.0, 1.0, 666.6666666666666, 1e6])
    np.testing.assert_allclose(units.mu_to_m2(units.m2_to_mu(a)), a, rtol=1e-15)
    out = units.m2_to_mu([2000, 4000])
    assert isinstance(out, np.ndarray) and out.tolist() == [3.0, 6.0]
    for u in units.UNITS:
        for v in units.UNITS:
            assert units.convert(units.convert(7.5, u, v), v, u) == pytest.approx(7.5, rel=1e-14)
    assert units.convert(5, "mu", "mu") == 5.0


def test_unknown_unit():
    with pytest.raises(InputError, match=r"unknown area unit 'acre'; use one of m2, mu, ha, wan_mu, km2"):
        units.convert(1, "acre", "mu")
