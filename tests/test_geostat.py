"""gis.geostat: variogram fit, ordinary kriging (PyKrige), IDW, cross-validation, lognormal back-transform."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from gis.errors import InputError
from gis.geostat import (KrigingOptions, Variogram, cross_validate, experimental_variogram, fit_variogram, idw,
                         krige, lognormal_back_transform)

pytest.importorskip("pykrige")


def simulate(points: np.ndarray, v: Variogram, seed: int) -> np.ndarray:
    """A Gaussian random field with variogram ``v`` at ``points`` (exact, by Cholesky)."""
    d = cdist(points, points)
    cov = v.sill - v(d)
    cov[d == 0] = v.sill
    chol = np.linalg.cholesky(cov + 1e-9 * np.eye(len(points)))
    return chol @ np.random.default_rng(seed).standard_normal(len(points))


@pytest.fixture(scope="module")
def field():
    truth = Variogram("exponential", 0.0, 1.0, 3000.0)
    xy = np.random.default_rng(0).uniform(0, 10000, (500, 2))
    g = np.stack(np.meshgrid(np.linspace(200, 9800, 25), np.linspace(200, 9800, 25)), -1).reshape(-1, 2)
    f = simulate(np.vstack([xy, g]), truth, 1)
    return xy, f[:500], g, f[500:]


def test_kriging_is_exact_at_samples_without_nugget(field):
    xy, z, _, _ = field
    v = Variogram("exponential", 0.0, 1.0, 3000.0)
    p = krige(xy, z, xy[:50], v)
    np.testing.assert_allclose(p.estimate, z[:50], atol=1e-9)
    np.testing.assert_allclose(p.std, 0.0, atol=1e-6)


def test_kriging_with_one_sample_far_away_gives_the_mean_and_the_sill():
    # two samples 100 km apart, range 1 km: midway the estimate is their mean, the
    # variance the sill plus the Lagrange term of ordinary kriging (sill/2 for n=2)
    xy = np.array([[0.0, 0.0], [100_000.0, 0.0]])
    p = krige(xy, np.array([2.0, 4.0]), np.array([[50_000.0, 0.0]]), Variogram("spherical", 0.0, 1.0, 1000.0))
    assert p.estimate[0] == pytest.approx(3.0)
    assert p.std[0] ** 2 == pytest.approx(1.5)


def test_fit_and_cross_validation_are_sane(field):
    xy, z, g, zg = field
    v = fit_variogram(xy, z)
    assert v.model in ("spherical", "exponential", "gaussian")
    assert 0 <= v.nugget < 0.1 and 0.5 < v.sill < 1.5 and 1000 < v.range < 6000
    cv = cross_validate(xy, z, lambda a, b, t: krige(a, b, t, v))
    s = cv.stats
    assert cv.folds == 500 and s["n"] == 500
    assert abs(s["me"]) < 0.05
    assert 0.8 < s["msse"] < 1.25  # the kriging variance is honest
    assert 0.85 <= s["coverage90"] <= 0.95
    truth_r2 = 1 - np.sum((krige(xy, z, g, v).estimate - zg) ** 2) / np.sum((zg - zg.mean()) ** 2)
    assert abs(s["r2"] - truth_r2) < 0.1
    assert s["rmse"] == pytest.approx(np.sqrt(np.mean((cv.predicted - z) ** 2)))


def test_idw_matches_hand_computation():
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 200.0]])
    z = np.array([1.0, 3.0, 8.0])
    t = np.array([[50.0, 50.0]])
    d = np.sqrt([50**2 + 50**2, 50**2 + 50**2, 50**2 + 150**2])
    w = 1 / d**2
    assert idw(xy, z, t)[0] == pytest.approx(np.sum(w * z) / np.sum(w), rel=1e-12)
    assert idw(xy, z, t)[0] == pytest.approx(28 / 11)  # (1/5000 + 3/5000 + 8/25000) / (2/5000 + 1/25000)
    assert idw(xy, z, xy).tolist() == [1.0, 3.0, 8.0]


def test_lognormal_back_transform_is_unbiased():
    v = Variogram("exponential", 0.0, 0.5, 1500.0)
    xy = np.random.default_rng(5).uniform(0, 10000, (500, 2))
    g = np.stack(np.meshgrid(np.linspace(200, 9800, 25), np.linspace(200, 9800, 25)), -1).reshape(-1, 2)
    errs, naive = [], []
    for seed in (11, 12, 13):
        f = np.exp(simulate(np.vstack([xy, g]), v, seed) + 1.0)
        p = krige(xy, f[:500], g, fit_variogram(xy, np.log(f[:500])), KrigingOptions(log=True))
        errs.append(p.estimate.mean() / f[500:].mean() - 1)
        naive.append(np.exp(p.log_estimate).mean() / f[500:].mean() - 1)
    assert abs(np.mean(errs)) < 0.02
    assert np.mean(naive) < -0.04  # exp of the kriged log alone is the median: biased low


def test_lognormal_moments():
    m, s = lognormal_back_transform(np.array([1.0]), np.array([0.25]))
    assert m[0] == pytest.approx(np.exp(1.125))
    assert s[0] == pytest.approx(np.exp(1.125) * np.sqrt(np.exp(0.25) - 1))


def test_experimental_variogram_by_hand():
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    lags, g, n = experimental_variogram(xy, np.array([0.0, 2.0, 6.0]), n_lags=2, max_dist=20.0)
    assert lags.tolist() == [10.0, 20.0] and n.tolist() == [2, 1]
    assert g.tolist() == [(4 + 16) / 4, 36 / 2]


def test_log_kriging_refuses_zero():
    with pytest.raises(InputError, match=r"the log transform needs positive values, but 1 samples are ≤ 0"):
        krige(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0.0, 1.0]), np.array([[0.5, 0.5]]),
              Variogram("spherical", 0, 1, 10), KrigingOptions(log=True))


def test_too_few_samples():
    with pytest.raises(InputError, match="only 2 usable samples; at least 3 are needed"):
        fit_variogram(np.zeros((2, 2)), np.array([1.0, 2.0]))
