"""Maximum likelihood from the filter's deterministic evidence against the exact Kalman
likelihood of the same data (Ornstein-Uhlenbeck with unknown rate and diffusion)."""

import numpy as np
import pytest
from references import kalman_filter
from scipy import optimize

import pfda

TIMES = 0.2 * np.arange(1, 201)
R = 0.1


def ou_build(theta):
    """Module level, so that a process pool could pickle it."""
    rate, D = theta
    grid = pfda.Grid([-4.0], [4.0], [200])
    sde = pfda.SDE(drift=lambda x: -rate * x, diffusion=D)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=R)
    flt = pfda.Filter(grid, sde, obs, "exponential", mesh="fixed", tol=None)
    return flt, pfda.gaussian(grid, [0.0], [[0.5]])


def kalman_loglik(theta, ys):
    rate, D = theta
    _, _, inc = kalman_filter([[-rate]], [[D]], [[1.0]], [[R]], [0.0], [[0.5]], TIMES, ys)
    return inc.sum()


@pytest.fixture(scope="module")
def data():
    sde = pfda.SDE(drift=lambda x: -1.0 * x, diffusion=0.5)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=R)
    _, ys = pfda.simulate(sde, obs, [0.0], TIMES, seed=11, substeps=40)
    return ys


def test_mle_and_standard_errors_match_the_kalman_likelihood(data):
    est = pfda.estimate(ou_build, [0.7, 0.3], TIMES, data, bounds=[(0.1, 5.0), (0.05, 3.0)])
    res = optimize.minimize(lambda th: -kalman_loglik(th, data), [0.7, 0.3],
                            bounds=[(0.1, 5.0), (0.05, 3.0)], method="L-BFGS-B")  # fmt: skip
    np.testing.assert_allclose(est.theta, res.x, rtol=1e-2)
    h = 1e-3 * np.maximum(np.abs(res.x), 1.0)
    info = -pfda.estimation.hessian(lambda th: kalman_loglik(th, data), res.x, h)
    exact_se = np.sqrt(np.diag(np.linalg.inv(info)))
    np.testing.assert_allclose(est.stderr, exact_se, rtol=0.1)
    assert est.log_likelihood == pytest.approx(-res.fun, abs=0.05)


def test_the_log_likelihood_is_smooth_in_theta(data):
    """Central differences of l along the rate converge at second order: the error of the
    h-difference against the h/4-difference falls 16-fold when h does fourfold."""
    theta = np.array([1.0, 0.5])

    def slope(h):
        up = pfda.log_likelihood(ou_build, theta + [h, 0.0], TIMES[:60], data[:60])
        down = pfda.log_likelihood(ou_build, theta - [h, 0.0], TIMES[:60], data[:60])
        return (up - down) / (2 * h)

    s1, s2, s3 = slope(0.04), slope(0.01), slope(0.0025)
    ratio = abs(s1 - s2) / abs(s2 - s3)
    assert 12 < ratio < 20, (s1, s2, s3)


def test_profile_peaks_at_the_estimate(data):
    est = pfda.estimate(ou_build, [0.7, 0.3], TIMES[:80], data[:80],
                        bounds=[(0.1, 5.0), (0.05, 3.0)])  # fmt: skip
    values = est.theta[0] + np.array([-0.3, 0.0, 0.3])
    prof = est.profile(0, values)
    assert prof[1] == pytest.approx(est.log_likelihood, abs=1e-3)
    assert prof[0] < prof[1] and prof[2] < prof[1]


def test_posterior_over_a_grid_and_a_bayes_factor(data):
    """The posterior over the OU rate on a grid, and the log Bayes factor of OU against a
    random walk (rate 0), against the same quantities from the exact Kalman evidence."""
    rates = np.linspace(0.5, 1.5, 11)
    times, ys = TIMES[:80], data[:80]
    ll, post, logz = pfda.posterior_grid(lambda th: ou_build([th[0], 0.5]), rates, times, ys)
    exact = np.array([kalman_loglik_at([r, 0.5], times, ys) for r in rates])
    np.testing.assert_allclose(ll, exact, atol=0.05)
    exact_post = np.exp(exact - np.logaddexp.reduce(exact))
    assert np.abs(post - exact_post).max() < 0.01 and post.sum() == pytest.approx(1.0)
    walk = pfda.log_likelihood(lambda th: ou_build([0.0, 0.5]), [0.0], times, ys)
    exact_walk = kalman_loglik_at([0.0, 0.5], times, ys)
    exact_logz = np.logaddexp.reduce(exact) - np.log(rates.size)
    assert (logz - walk) == pytest.approx(exact_logz - exact_walk, abs=0.05)
    assert logz - walk > 3  # the data favour the mean-reverting model


def kalman_loglik_at(theta, times, ys):
    rate, D = theta
    _, _, inc = kalman_filter([[-rate]], [[D]], [[1.0]], [[R]], [0.0], [[0.5]], times, ys)
    return inc.sum()
