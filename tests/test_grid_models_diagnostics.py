"""Grid geometry, model evaluation, priors and diagnostics against closed forms."""

import numba
import numpy as np
import pytest
from scipy.special import ndtr
from scipy.stats import multivariate_normal

import pfda


def test_grid_geometry_c_order():
    grid = pfda.Grid(lower=[0.0, -1.0], upper=[2.0, 1.0], cells=[2, 4], boundary="periodic")
    assert grid.ndim == 2 and grid.size == 8 and grid.shape == (2, 4)
    np.testing.assert_allclose(grid.widths, [1.0, 0.5])
    assert grid.cell_volume == 0.5
    assert grid.strides == (4, 1)
    # last axis fastest
    np.testing.assert_allclose(grid.centers[0], [0.5] * 4 + [1.5] * 4)
    np.testing.assert_allclose(grid.centers[1], [-0.75, -0.25, 0.25, 0.75] * 2)
    assert grid.locate([1.2, 0.3]) == 6
    np.testing.assert_array_equal(grid.locate(grid.centers), np.arange(8))
    assert grid.boundary == ("periodic", "periodic")
    assert grid == pfda.Grid([0, -1], [2, 1], [2, 4], "periodic")
    with pytest.raises(AttributeError):
        grid.cells = (3, 3)


def test_sde_forms_agree():
    @numba.njit
    def f(x):
        return np.array([-x[0] + x[1], np.sin(x[0])])

    def g(x):
        return np.stack([-x[0] + x[1], np.sin(x[0])])

    x = np.random.default_rng(1).normal(size=(2, 7))
    np.testing.assert_allclose(pfda.SDE(f, 0.1).drift_at(x), pfda.SDE(g, 0.1).drift_at(x))
    assert pfda.SDE(f, 0.1).jitted and not pfda.SDE(g, 0.1).jitted
    np.testing.assert_allclose(pfda.SDE(g, sigma=[0.3, 0.5]).diffusion_at(x)[:, 0], [0.09, 0.25])
    assert pfda.SDE(lambda x, t: x * t, 0.1).time_dependent
    assert not pfda.SDE(g, 0.1).time_dependent


def test_gaussian_observation_log_likelihood():
    R = np.array([[0.5, 0.1], [0.1, 0.3]])
    obs = pfda.GaussianObservation(h=lambda x: np.stack([x[0] ** 2, x[0] + x[1]]), noise_cov=R)
    x = np.random.default_rng(2).normal(size=(2, 5))
    y = np.array([0.3, -0.2])
    ref = [multivariate_normal(mean=[a**2, a + b], cov=R).logpdf(y) for a, b in x.T]
    np.testing.assert_allclose(obs.log_likelihood(y, x), ref, rtol=1e-12)


def test_gaussian_prior_is_exact_cell_integral():
    grid = pfda.Grid([-1.0, -2.0], [3.0, 2.0], [8, 5])
    with pytest.warns(pfda.PfdaWarning, match="0.8427 of its mass"):  # 1.4 sd box on axis 1
        p = pfda.gaussian(grid, mean=[1.0, 0.0], cov=[0.04, 2.0])  # axis 0 narrower than a cell
    e0, e1 = grid.edges
    m0 = np.diff(ndtr((e0 - 1.0) / 0.2))
    m1 = np.diff(ndtr(e1 / np.sqrt(2.0)))
    ref = np.outer(m0, m1).ravel()
    np.testing.assert_allclose(p, ref / ref.sum(), rtol=1e-12, atol=1e-15)


def test_correlated_gaussian_prior_moments():
    grid = pfda.Grid([-7.0, -7.0], [7.0, 7.0], [140, 140])
    cov = np.array([[1.0, 0.6], [0.6, 0.8]])
    p = pfda.gaussian(grid, mean=[0.5, -0.2], cov=cov)
    np.testing.assert_allclose(pfda.mean(grid, p), [0.5, -0.2], atol=1e-10)
    # cell masses at centres: covariance = cov + h^2/12 I up to O(h^4) (Sheppard)
    np.testing.assert_allclose(pfda.covariance(grid, p), cov + np.eye(2) * 0.01 / 12, atol=1e-6)


def test_distances():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.0, 0.5, 0.5])
    assert pfda.total_variation(p, q) == pytest.approx(0.5)
    assert pfda.hellinger(p, q) == pytest.approx(np.sqrt(0.5))
    assert pfda.hellinger(p, p) == 0.0
    assert pfda.total_variation(p, 2 * p) == 0.0  # normalised first


def test_marginal_map_entropy_and_intervals():
    grid = pfda.Grid([-6.0, 0.0], [6.0, 1.0], [600, 3])
    with pytest.warns(pfda.PfdaWarning):  # axis 1 is deliberately nearly flat on [0, 1]
        p = pfda.gaussian(grid, mean=[0.5, 0.5], cov=[1.0, 100.0])
    m = pfda.marginal(grid, p, 0)
    assert m.shape == (600,) and m.sum() == pytest.approx(1.0)
    assert pfda.marginal(grid, p, [1, 0]).shape == (3, 600)
    lo, hi = pfda.credible_interval(grid, p, axis=0, level=0.95)
    # piecewise-linear CDF vs exact normal quantiles: error O(h^2)
    assert lo == pytest.approx(0.5 - 1.959964, abs=2e-4)
    assert hi == pytest.approx(0.5 + 1.959964, abs=2e-4)
    assert pfda.map_estimate(grid, p)[0] == pytest.approx(0.5, abs=0.02)
    # entropy of N(0.5, 1) x U(0, 1) (the wide Gaussian is nearly flat on [0, 1])
    ent = 0.5 * np.log(2 * np.pi * np.e)
    assert pfda.entropy(grid, p) == pytest.approx(ent, abs=1e-4)
    mask = pfda.hpd_mask(m, 0.6827)
    idx = np.flatnonzero(mask)
    assert grid.axes[0][idx].min() == pytest.approx(-0.5, abs=0.03)
    assert grid.axes[0][idx].max() == pytest.approx(1.5, abs=0.03)


def test_filter_result_summaries_and_progress(capsys):
    grid = pfda.Grid([-4.0], [4.0], [100])
    sde = pfda.SDE(lambda x: -x, 0.5)
    obs = pfda.GaussianObservation(lambda x: x, 0.2)
    times = 0.05 * np.arange(1, 61)
    ys = np.sin(times)[:, None]
    flt = pfda.Filter(grid, sde, obs, progress=True)
    res = flt.run(pfda.gaussian(grid, [0], [1]), times, ys)
    assert f"pfda {flt.scheme}" in capsys.readouterr().err
    assert res.probabilities.shape == (60, 100) and res.mean.shape == (60, 1)
    assert res.log_evidence == pytest.approx(res.log_evidence_increments.sum())
    np.testing.assert_allclose(res.probabilities.sum(axis=1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(res.std[:, 0] ** 2, res.cov[:, 0, 0])
    assert res.rmse(ys) >= 0 and res.entropy().shape == (60,)
    assert np.all(res.mass_lost == 0)


def test_update_is_pure_and_gives_the_evidence():
    grid = pfda.Grid([-4.0], [4.0], [400])
    p = pfda.gaussian(grid, [0.0], [1.0])
    copy = p.copy()
    obs = pfda.GaussianObservation(lambda x: x, 0.5)
    post, log_z = pfda.update(p, [0.7], obs, grid)
    np.testing.assert_array_equal(p, copy)
    # y ~ N(0, 1 + 0.5) exactly; midpoint rule in the cell sum: O(h^2)
    assert log_z == pytest.approx(-0.5 * np.log(2 * np.pi * 1.5) - 0.7**2 / 3.0, abs=1e-4)
    assert pfda.mean(grid, post)[0] == pytest.approx(0.7 / 1.5, abs=1e-4)
