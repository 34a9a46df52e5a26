"""The Bayes update's grid path against the plain point-set path.

``GaussianObservation`` evaluates ``h`` once on all cell centres of a grid and factorises ``R``
once; ``update`` then indexes those values by the cells with mass. Its slow, obvious twin is the
same log-likelihood wrapped in a generic :class:`pfda.Observation`, which evaluates ``h`` on the
selected centres at every step. For one observation component the two paths do the same
arithmetic and agree exactly; for several, the grid path whitens ``y`` and ``h`` separately,
``L^{-1} y - L^{-1} h``, so they agree to round-off: ``|z| <= 40`` whitened residuals computed
from terms of size ``<= 40`` carry errors of a few ``40 eps``, so ``z^T z`` is good to about
``1e-12``.
"""

import numpy as np
import pytest

import pfda

ROUND_OFF = 1e-12  # absolute, on log-likelihoods of whitened residuals |z| <= 40 (see above)

R_FULL = np.array([[0.5, 0.1, 0.05], [0.1, 0.3, -0.02], [0.05, -0.02, 0.2]])


def twin(obs: pfda.GaussianObservation) -> pfda.Observation:
    """The same log-likelihood as a generic observation: h on the selected centres each step."""
    return pfda.Observation(obs.log_likelihood, dim=obs.dim)


def gaussian_log_likelihood(h, R):
    """An independent generic model: the Gaussian log-density written out with ``R^{-1}``."""
    R = np.asarray(R, dtype=float)
    R = np.diag(R) if R.ndim == 1 else np.atleast_2d(R)
    R_inv = np.linalg.inv(R)
    log_det = np.linalg.slogdet(2 * np.pi * R)[1]

    def log_lik(y, x):
        r = y[:, None] - h(x)
        return -0.5 * np.einsum("im,ij,jm->m", r, R_inv, r) - 0.5 * log_det

    return pfda.Observation(log_lik, dim=R.shape[0])


CASES = {
    "1d-scalar": (
        pfda.Grid([-3.0], [3.0], [60]),
        lambda x: np.sin(x),
        0.2,
        [0.4],
    ),
    "2d-one-component": (
        pfda.Grid([-np.pi, -3.0], [np.pi, 3.0], [16, 12], ["periodic", "reflecting"]),
        lambda x: np.sin(x[:1]),
        0.1,
        [0.7],
    ),
    "2d-full-R": (
        pfda.Grid([-2.0, -2.0], [2.0, 2.0], [14, 10]),
        lambda x: np.stack([x[0] ** 2, x[0] + x[1], np.cos(x[1])]),
        R_FULL,
        [1.0, 0.3, 0.6],
    ),
    "1d-diagonal-R": (
        pfda.Grid([-3.0], [3.0], [40]),
        lambda x: np.concatenate([x, x**3]),
        [0.3, 2.0],
        [0.5, 0.2],
    ),
}


def masks(grid: pfda.Grid, rng: np.random.Generator):
    yield None
    yield rng.random(grid.size) < 0.4
    one = np.zeros(grid.size, dtype=bool)
    one[grid.size // 3] = True
    yield one


@pytest.mark.parametrize("case", CASES)
def test_grid_log_likelihood_matches_point_set(case, rng):
    grid, h, R, y = CASES[case]
    obs = pfda.GaussianObservation(h, R)
    exact = np.ndim(y) == 1 and len(y) == 1
    for mask in masks(grid, rng):
        x = grid.centers if mask is None else grid.centers[:, mask]
        fast = obs.log_likelihood_on_grid(y, grid, mask)
        for ref in (obs.log_likelihood(y, x), twin(obs).log_likelihood_on_grid(y, grid, mask)):
            if exact:
                np.testing.assert_array_equal(fast, ref)
            else:
                assert np.max(np.abs(fast - ref)) <= ROUND_OFF


@pytest.mark.parametrize("case", CASES)
def test_filter_matches_generic_observation(case):
    grid, h, R, y0 = CASES[case]
    obs = pfda.GaussianObservation(h, R)
    d = grid.ndim
    sde = pfda.SDE(lambda x: -0.5 * x, diffusion=0.3)
    rng = np.random.default_rng(7)
    times = 0.1 * np.arange(1, 6)
    ys = np.asarray(y0) + 0.2 * rng.standard_normal((times.size, len(y0)))
    prior = pfda.gaussian(grid, np.zeros(d), 0.5 * np.eye(d))
    fast = pfda.Filter(grid, sde, obs).run(prior, times, ys)
    exact = len(y0) == 1
    for other in (twin(obs), gaussian_log_likelihood(h, R)):
        slow = pfda.Filter(grid, sde, other).run(prior, times, ys)
        # log-likelihood errors of ~1e-12 per step move each posterior and increment by as much
        assert np.max(np.abs(fast.probabilities - slow.probabilities)) <= 1e-11
        assert np.max(np.abs(fast.log_evidence_increments - slow.log_evidence_increments)) <= 1e-11
    if exact:
        slow = pfda.Filter(grid, sde, twin(obs)).run(prior, times, ys)
        np.testing.assert_array_equal(fast.probabilities, slow.probabilities)
        np.testing.assert_array_equal(fast.log_evidence_increments, slow.log_evidence_increments)


@pytest.mark.parametrize("case", CASES)
def test_update_with_empty_cells_matches_generic(case, rng):
    grid, h, R, y = CASES[case]
    obs = pfda.GaussianObservation(h, R)
    p = rng.random(grid.size) * (rng.random(grid.size) < 0.5)
    p /= p.sum()
    post, incr = pfda.update(p, y, obs, grid)
    post_ref, incr_ref = pfda.update(p, y, twin(obs), grid)
    assert np.all(post[p == 0] == 0)
    assert np.max(np.abs(post - post_ref)) <= 1e-11
    assert abs(incr - incr_ref) <= 1e-11


def test_one_observation_on_several_grids():
    obs = pfda.GaussianObservation(lambda x: np.stack([x[0], x[0] * x[-1]]), R_FULL[:2, :2])
    y = [0.3, -0.1]
    a = pfda.Grid([-2.0, -1.0], [2.0, 1.0], [10, 8])
    b = pfda.Grid([-1.0, 0.0], [3.0, 2.0], [10, 8])  # same size, other centres
    c = pfda.Grid([-2.0, -1.0], [2.0, 1.0], [10, 8])  # equal to a, another object
    d = pfda.Grid([-2.0, -1.0], [2.0, 1.0], [5, 4])
    for grid in (a, b, a, c, d, b):
        p = pfda.gaussian(grid, (grid.lower + grid.upper) / 2, 0.05 * np.eye(2))
        post, incr = pfda.update(p, y, obs, grid)
        post_ref, incr_ref = pfda.update(p, y, twin(obs), grid)
        assert np.max(np.abs(post - post_ref)) <= 1e-11
        assert abs(incr - incr_ref) <= 1e-11


def test_h_is_evaluated_once_per_grid_and_r_factorised_once(monkeypatch):
    calls = []

    def h(x):
        calls.append(x.shape[1])
        return np.stack([x[0], x[1] ** 2])

    cholesky = np.linalg.cholesky
    factorisations = []

    def counting_cholesky(a):
        factorisations.append(a.shape)
        return cholesky(a)

    monkeypatch.setattr(np.linalg, "cholesky", counting_cholesky)
    obs = pfda.GaussianObservation(h, R_FULL[:2, :2])
    grid = pfda.Grid([-1.0, -1.0], [1.0, 1.0], [6, 5])
    p = np.full(grid.size, 1.0 / grid.size)
    p[:4] = 0.0
    for y in ([0.1, 0.2], [0.0, 0.3], [-0.2, 0.1]):
        pfda.update(p, y, obs, grid)
        pfda.update(np.full(grid.size, 1.0), y, obs, grid)
    assert calls == [grid.size]
    assert factorisations == [(2, 2)]


def test_replacing_h_or_noise_cov_takes_effect():
    grid = pfda.Grid([-2.0], [2.0], [20])
    p = np.full(grid.size, 1.0 / grid.size)
    obs = pfda.GaussianObservation(lambda x: x, 0.1)
    pfda.update(p, [0.2], obs, grid)
    obs.h = lambda x: 2 * x
    obs.noise_cov = np.array(0.4)
    post, incr = pfda.update(p, [0.2], obs, grid)
    post_ref, incr_ref = pfda.update(
        p, [0.2], twin(pfda.GaussianObservation(lambda x: 2 * x, 0.4)), grid
    )
    np.testing.assert_array_equal(post, post_ref)
    assert incr == incr_ref


def test_noise_cov_is_read_only():
    R = R_FULL.copy()
    obs = pfda.GaussianObservation(lambda x: x, R)
    R[0, 0] = 10.0  # the observation holds its own copy
    assert obs.noise_cov[0, 0] == 0.5
    with pytest.raises(ValueError, match="read-only"):
        obs.noise_cov[0, 0] = 10.0


def test_bad_h_is_still_reported():
    grid = pfda.Grid([-2.0], [2.0], [20])
    p = np.full(grid.size, 1.0 / grid.size)
    nan_h = pfda.GaussianObservation(lambda x: np.full(x.shape, np.nan), 0.1)
    with pytest.raises(ValueError, match="h returned NaN or inf on the grid"):
        pfda.update(p, [0.0], nan_h, grid)
    wrong_shape = pfda.GaussianObservation(lambda x: np.zeros(3), 0.1)
    with pytest.raises(ValueError, match=r"h returned shape \(3,\) for 20 points"):
        pfda.update(p, [0.0], wrong_shape, grid)
    two_rows = pfda.GaussianObservation(lambda x: np.concatenate([x, x]), 0.1)
    with pytest.raises(ValueError, match="y has 1 entries but h"):
        pfda.update(p, [0.0], two_rows, grid)
    raising = pfda.GaussianObservation(lambda x: 1 / 0, 0.1)
    with pytest.raises(ZeroDivisionError):
        pfda.update(p, [0.0], raising, grid)
    with pytest.raises(ValueError, match="length 2, the model expects 1"):
        pfda.update(p, [0.0, 1.0], pfda.GaussianObservation(lambda x: x, [0.1]), grid)
    with pytest.raises(ValueError, match="not finite"):
        pfda.update(p, [np.nan], pfda.GaussianObservation(lambda x: x, 0.1), grid)


def test_h_outside_its_domain_only_where_there_is_no_mass():
    """Cells without mass may lie where h fails; the update judges the cells with mass only."""
    grid = pfda.Grid([-1.0], [3.0], [16])
    p = np.where(grid.centers[0] > 0, 1.0, 0.0)
    p /= p.sum()
    for h in (lambda x: np.log(x), lambda x: np.where(x > 0, x, np.nan)):
        obs = pfda.GaussianObservation(h, 0.2)
        post, incr = pfda.update(p, [0.5], obs, grid)
        post_ref, incr_ref = pfda.update(p, [0.5], twin(obs), grid)
        np.testing.assert_array_equal(post, post_ref)
        assert incr == incr_ref
        with pytest.raises((ValueError, FloatingPointError)):  # as the point-set path does
            pfda.update(np.full(grid.size, 1.0 / grid.size), [0.5], obs, grid)


def test_subclass_predict_is_respected():
    class Shifted(pfda.GaussianObservation):
        def predict(self, x):
            return super().predict(x) + 1.0

    grid = pfda.Grid([-2.0], [2.0], [20])
    p = np.full(grid.size, 1.0 / grid.size)
    post, _ = pfda.update(p, [0.5], Shifted(lambda x: x, 0.1), grid)
    post_ref, _ = pfda.update(p, [0.5], pfda.GaussianObservation(lambda x: x + 1.0, 0.1), grid)
    np.testing.assert_allclose(post, post_ref, rtol=1e-13)


def test_far_observation_warning_unchanged():
    grid = pfda.Grid([-2.0, -2.0], [2.0, 2.0], [8, 8])
    obs = pfda.GaussianObservation(lambda x: x, R_FULL[:2, :2])
    p = pfda.gaussian(grid, [0.0, 0.0], 0.2 * np.eye(2))
    with pytest.warns(pfda.PfdaWarning, match="grid may be too small") as fast:
        pfda.update(p, [40.0, 0.0], obs, grid)
    loglik = obs.log_likelihood([40.0, 0.0], grid.centers)
    assert str(fast[0].message) == obs.support_warning([40.0, 0.0], float(loglik.max()))
    with pytest.warns(pfda.PfdaWarning, match="grid may be too small") as slow:
        pfda.update(p, [40.0, 0.0], GaussianTwin(lambda x: x, R_FULL[:2, :2]), grid)
    assert str(fast[0].message) == str(slow[0].message)


class GaussianTwin(pfda.GaussianObservation):
    """The plain path of a Gaussian observation, support warning included."""

    def log_likelihood_on_grid(self, y, grid, mask=None):
        return self.log_likelihood(y, grid.centers if mask is None else grid.centers[:, mask])
