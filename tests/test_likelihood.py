"""The likelihood on a grid (:class:`pfda.likelihood.GridLikelihood`) and the Bayes update.

``GridLikelihood`` gives ``log g(y | x_i)`` at the centres of the cells that hold mass and
``-inf`` elsewhere. For a :class:`pfda.GaussianObservation` it keeps ``h`` at the cells where it
was evaluated (moving the values with the cells when a window moves by whole cells) and whitens
the residuals with ``L^{-1}`` (``R = L L^T``) in a compiled kernel; a Numba point ``h`` is
evaluated in compiled code. Its twin is the observation's own ``log_likelihood`` on the point
set of those centres (NumPy: ``solve(L, y - h)``), and ``scipy.stats.multivariate_normal``.

For one observation component the two paths do the same arithmetic up to the order of a few
operations; for several, the grid path multiplies by ``L^{-1}`` where the point-set path solves
with ``L``, so they agree to round-off: ``|z| <= 40`` whitened residuals computed from terms of
size ``<= 40`` carry errors of a few ``40 eps``, so ``z^T z`` is good to about ``1e-12``
(``ROUND_OFF``).

The update (:func:`pfda.update`, :func:`pfda.filter.bayes_update`) runs the compiled kernels
:func:`pfda.kernels.weigh` and :func:`~pfda.kernels.bayes` (one exponential per cell, logs where
the weights underflow); their plain twin is :func:`pfda.kernels.update_numpy`, in logs
throughout.
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np
import pytest
from scipy.stats import multivariate_normal

import pfda
from pfda import kernels
from pfda.filter import bayes_update
from pfda.likelihood import GridLikelihood
from pfda.meshes import Domain

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


# Numba point twins of the vectorised h of the cases (a tuple, or an array)
@numba.njit
def sin_first(x):
    return (np.sin(x[0]),)


@numba.njit
def three_outputs(x):  # an array, not a tuple
    return np.array([x[0] ** 2, x[0] + x[1], np.cos(x[1])])


@numba.njit
def cube_pair(x):
    return (x[0], x[0] ** 3)


CASES = {
    "1d-scalar": (
        pfda.Grid([-3.0], [3.0], [60]),
        lambda x: np.sin(x),
        sin_first,
        0.2,
        [0.4],
    ),
    "2d-one-component": (
        pfda.Grid([-np.pi, -3.0], [np.pi, 3.0], [16, 12], ["periodic", "reflecting"]),
        lambda x: np.sin(x[:1]),
        sin_first,
        0.1,
        [0.7],
    ),
    "2d-full-R": (
        pfda.Grid([-2.0, -2.0], [2.0, 2.0], [14, 10]),
        lambda x: np.stack([x[0] ** 2, x[0] + x[1], np.cos(x[1])]),
        three_outputs,
        R_FULL,
        [1.0, 0.3, 0.6],
    ),
    "1d-diagonal-R": (
        pfda.Grid([-3.0], [3.0], [40]),
        lambda x: np.concatenate([x, x**3]),
        cube_pair,
        [0.3, 2.0],
        [0.5, 0.2],
    ),
}


def masks(grid: pfda.Grid, rng: np.random.Generator):
    """Cells with mass: all, a random 40%, one."""
    yield np.ones(grid.size, dtype=bool)
    yield rng.random(grid.size) < 0.4
    one = np.zeros(grid.size, dtype=bool)
    one[grid.size // 3] = True
    yield one


def scipy_log_likelihood(h, R, y, x: np.ndarray) -> np.ndarray:
    hx = h(x)
    R = np.asarray(R, dtype=float)
    cov = np.diag(np.broadcast_to(R, (len(y),))) if R.ndim < 2 else R
    return np.array([multivariate_normal.logpdf(y, hx[:, j], cov) for j in range(x.shape[1])])


def evaluate(likelihood: GridLikelihood, y, grid: pfda.Grid, p: np.ndarray):
    """``(ll, best)``: the likelihood writes ``ll`` (every entry) and returns ``best``."""
    ll = np.full(grid.size, np.nan)
    best = likelihood(y, grid, np.ascontiguousarray(p, dtype=float), ll)
    return ll, best


# ---------------------------------------------------------------------------------------------
# the likelihood on a grid
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["vectorised", "numba"])
@pytest.mark.parametrize("case", CASES)
def test_grid_likelihood_is_the_point_set_likelihood(case, kind, rng):
    """``ll[i] = log g(y | x_i)`` on the cells with mass and ``-inf`` elsewhere, its largest
    value ``best``; for a vectorised ``h`` and for a Numba point ``h``, a scalar, diagonal or
    full ``R``; against the point-set path and scipy. A second call on the same grid (the
    values of ``h`` kept) gives the same."""
    grid, vectorised, point, R, y = CASES[case]
    plain = pfda.GaussianObservation(vectorised, R)
    obs = plain if kind == "vectorised" else pfda.GaussianObservation(point, R)
    assert obs.jitted == (kind == "numba")
    # the point h is the vectorised one, point by point
    np.testing.assert_allclose(obs.predict(grid.centers), vectorised(grid.centers), rtol=1e-14,
                               atol=1e-14)  # fmt: skip
    likelihood = GridLikelihood(obs, grid.ndim)
    for mask in masks(grid, rng):
        p = np.where(mask, rng.random(grid.size) + 0.1, 0.0)
        x = grid.centers[:, mask]
        want = plain.log_likelihood(y, x)
        np.testing.assert_allclose(want, scipy_log_likelihood(vectorised, R, y, x), rtol=1e-12,
                                   atol=ROUND_OFF)  # fmt: skip
        for _ in range(2):
            ll, best = evaluate(likelihood, y, grid, p)
            assert ll.shape == (grid.size,)
            assert np.all(ll[~mask] == -np.inf)
            np.testing.assert_allclose(ll[mask], want, rtol=0, atol=ROUND_OFF)
            assert best == ll[mask].max()
    if obs.dim is not None:  # R per component: an observation of another length is refused
        with pytest.raises(ValueError, match=f"length {len(y) + 1}, the model expects {len(y)}"):
            evaluate(likelihood, np.zeros(len(y) + 1), grid, p)


def test_generic_observation_on_a_grid(rng):
    """Any other :class:`pfda.Observation` (and a Gaussian subclass that redefines its
    log-likelihood) is evaluated by its own ``log_likelihood`` on the cells with mass."""
    grid = pfda.Grid([-2.0, -1.0], [2.0, 1.0], [9, 7])
    seen = []

    def log_lik(y, x):
        seen.append(x.shape[1])
        return -np.abs(y[0] - x[0] * x[1])

    mask = rng.random(grid.size) < 0.5
    p = np.where(mask, 1.0, 0.0)
    ll, best = evaluate(GridLikelihood(pfda.Observation(log_lik), 2), [0.3], grid, p)
    assert seen == [mask.sum()]
    np.testing.assert_array_equal(ll[mask], -np.abs(0.3 - grid.centers[0] * grid.centers[1])[mask])
    assert np.all(ll[~mask] == -np.inf) and best == ll[mask].max()

    class Laplace(pfda.GaussianObservation):
        def log_likelihood(self, y, x):
            return -np.abs(np.asarray(y)[0] - self.h(x)[0])

    ll, best = evaluate(GridLikelihood(Laplace(lambda x: x[:1], 0.1), 2), [0.3], grid, p)
    np.testing.assert_array_equal(ll[mask], -np.abs(0.3 - grid.centers[0])[mask])
    # no cell with mass: nothing to weigh
    ll, best = evaluate(GridLikelihood(pfda.Observation(log_lik), 2), [0.3], grid,
                        np.zeros(grid.size))  # fmt: skip
    assert best == -np.inf and np.all(ll == -np.inf)


@numba.njit
def pair_point(x):
    return (np.sin(x[0]) + 0.5 * x[-1], x[0] * x[-1])


def pair(x):
    return np.vstack([np.sin(x[0]) + 0.5 * x[-1], x[0] * x[-1]])


R_PAIR = np.array([[0.5, 0.2], [0.2, 0.3]])


def shift_known(known: np.ndarray, steps) -> np.ndarray:
    """``out[i] = known[i + steps]``, ``False`` where that leaves the array."""
    out = np.zeros_like(known)
    src, dst = [], []
    for s, n in zip(steps, known.shape, strict=True):
        if abs(s) >= n:
            return out
        src.append(slice(max(s, 0), n + min(s, 0)))
        dst.append(slice(max(-s, 0), n - max(s, 0)))
    out[tuple(dst)] = known[tuple(src)]
    return out


@pytest.mark.parametrize("kind", ["vectorised", "numba"])
@pytest.mark.parametrize("d", [1, 2])
def test_values_move_with_the_cells_of_a_window(rng, kind, d):
    """On the grids of a window (:meth:`pfda.meshes.Domain.grid_of`) that moves by whole cells
    (every sign, and past the whole grid), by a fraction of a cell and is resized: the values
    of ``h`` move with the cells, so the likelihood is the point-set one on every grid, and a
    vectorised ``h`` is evaluated exactly on the cells with mass whose value is not known yet
    (new to the grid, or holding mass for the first time); any move but a whole-cell shift
    starts afresh. (The box's numbers are binary fractions, so that every grid of a shift has
    the very same cell widths; the next test takes others.)"""
    calls = []

    def counting(x):
        calls.append(x.shape[1])
        return pair(x)

    obs = pfda.GaussianObservation(counting if kind == "vectorised" else pair_point, R_PAIR)
    plain = pfda.GaussianObservation(pair, R_PAIR)
    domain = Domain(pfda.Grid([-8.0] * d, [8.0] * d, [9, 6][:d], "absorbing"))
    cells = domain.shape
    box = np.array([[-1.25] * d, [0.125] * d, [1.0] * d])
    likelihood = GridLikelihood(obs, d)
    known = np.zeros(cells, dtype=bool)
    moves = ["stay"] + ["shift"] * 8 + ["fraction", "shift", "resize", "shift", "shift"]
    for move in moves:
        if move == "shift":
            steps = rng.integers(-max(cells) - 1, max(cells) + 2, size=d)
            box[0] += steps * box[1]
            known = shift_known(known, steps)
        elif move == "fraction":
            box[0] += 0.375 * box[1]
            known[:] = False
        elif move == "resize":
            box[1] *= 2.0
            known[:] = False
        grid = domain.grid_of(box)
        mask = rng.random(grid.size) < 0.6
        p = np.where(mask, rng.random(grid.size), 0.0)
        y = rng.normal(size=2)
        calls.clear()
        ll, best = evaluate(likelihood, y, grid, p)
        want = plain.log_likelihood(y, grid.centers[:, mask])
        np.testing.assert_allclose(ll[mask], want, rtol=0, atol=ROUND_OFF)
        assert np.all(ll[~mask] == -np.inf) and best == ll[mask].max()
        need = mask.reshape(cells) & ~known
        known |= mask.reshape(cells)
        if kind == "vectorised":
            assert sum(calls) == need.sum(), move


def test_values_move_with_the_cells_whatever_the_bits_of_the_widths():
    """Box ``[0.7, 0.7 + 16 * 0.1)`` of a 16-cell window moved up by one cell: its grid's widths
    (``(upper - lower) / cells``) are the first grid's to two ulps only, and ``h`` is
    evaluated on the one new cell. (Until 6c92168 the kept values were keyed on the widths bit
    for bit, and all 16 cells were evaluated again after such a shift.)"""
    calls = []

    def counting(x):
        calls.append(x.shape[1])
        return x[:1].copy()

    obs = pfda.GaussianObservation(counting, 0.5)
    domain = Domain(pfda.Grid([-10.0], [10.0], [16]))
    box = np.array([[0.7], [0.1], [1.0]])
    likelihood = GridLikelihood(obs, 1)
    p = np.full(16, 1 / 16)
    first = domain.grid_of(box)
    evaluate(likelihood, [0.1], first, p)
    box[0] += box[1]  # the window moves by one cell
    calls.clear()
    grid = domain.grid_of(box)
    assert grid.widths[0] != first.widths[0]  # in the last bits
    ll, _ = evaluate(likelihood, [0.1], grid, p)
    assert calls == [1]
    np.testing.assert_allclose(ll, obs.log_likelihood([0.1], grid.centers), rtol=0,
                               atol=ROUND_OFF)  # fmt: skip


def test_h_is_evaluated_once_per_cell_and_r_factorised_once(monkeypatch):
    """One likelihood (a filter run) evaluates ``h`` on a cell once, the first time it holds
    mass; ``R`` is factorised once per observation object, whatever the number of grids,
    updates and runs."""
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
    likelihood = GridLikelihood(obs, 2)
    p = np.full(grid.size, 1.0 / grid.size)
    p[:4] = 0.0
    for y in ([0.1, 0.2], [0.0, 0.3], [-0.2, 0.1]):
        evaluate(likelihood, y, grid, p)
        evaluate(likelihood, y, grid, np.full(grid.size, 1.0))
    assert calls == [grid.size - 4, 4]
    calls.clear()
    sde = pfda.SDE(drift=lambda x: -x, diffusion=0.1)
    times = [0.1, 0.2, 0.3]
    for _ in range(2):
        pfda.Filter(grid, sde, obs).run(pfda.gaussian(grid, [0.0, 0.0], 0.1 * np.eye(2)), times,
                                        [[0.1, 0.2]] * 3)  # fmt: skip
    assert sum(calls) == 2 * grid.size  # each run: every cell once (all hold mass)
    assert factorisations == [(2, 2)]


# ---------------------------------------------------------------------------------------------
# the Bayes update against its plain twin
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("far", [False, True], ids=["ordinary", "underflow"])
def test_bayes_update_equals_the_plain_twin(rng, far):
    """The compiled update weighs with one exponential per cell, ``p exp(log g - best)``; where
    those weights sum below ``TINY_WEIGHT = 1e-250`` (``far``: the prior's mass sits where the
    likelihood is e^-800 of its best) it falls back to logs. Both against
    :func:`pfda.kernels.update_numpy`, to round-off; the one-exponential weights alone would
    give the far cells 0 instead of ~1e-48 of the mass."""
    p = rng.random(50) ** 2
    p[7] = 0.0  # a cell without mass: no weight, whatever its likelihood
    ll = -rng.random(50) * 30
    ll[7] = -np.inf
    if far:
        p[3], ll[3] = 1e-300, 0.0  # the best likelihood, on a cell with almost no mass
        ll[np.arange(50) != 3] -= 800.0
        ll[7] = -np.inf
    best = ll[p > 0].max()
    want, evidence = kernels.update_numpy(p, ll)
    if far:  # the best cell takes almost all; the bulk keeps its ~1e-48 share
        bulk = (p > 0) & (np.arange(50) != 3)
        assert want[3] == pytest.approx(1.0) and 1e-60 < want[bulk].max() < 1e-40
    w = np.empty(50)
    top = kernels.weigh(p, ll, best, w)
    assert (top == best) != far  # the fallback ran exactly when the weights underflowed
    assert (w.sum() < kernels.TINY_WEIGHT) == far or top != best
    q = p.copy()
    incr, status = kernels.bayes(q, ll, best, w, p.sum(), top)
    assert status == kernels.DONE
    np.testing.assert_allclose(q, want, rtol=1e-12, atol=0)
    assert q[7] == 0.0
    assert incr == pytest.approx(evidence, rel=1e-13)
    q2 = p.copy()  # bayes weighs by itself when top is nan
    assert kernels.bayes(q2, ll, best, np.empty(50), p.sum(), math.nan)[1] == kernels.DONE
    np.testing.assert_array_equal(q2, q)
    # the update of pfda.filter: the same, relative to the prior mass given or p's own
    post, incr = bayes_update(p, ll, best)
    np.testing.assert_allclose(post, want, rtol=1e-12, atol=0)
    assert incr == pytest.approx(evidence, rel=1e-13)
    post, incr = bayes_update(p, ll, best, prior_total=2 * p.sum())
    assert incr == pytest.approx(evidence - math.log(2.0), rel=1e-13)
    # no cell with mass: no support
    assert kernels.bayes(np.zeros(3), np.zeros(3), -math.inf, np.empty(3), 1.0, math.nan)[1] == (
        kernels.NO_SUPPORT
    )
    assert kernels.update_numpy(np.zeros(3), np.zeros(3)) == (None, None)
    with pytest.raises(ValueError, match="zero likelihood at every cell"):
        bayes_update(p, np.full(50, -np.inf), -np.inf)
    with pytest.raises(ValueError, match="no mass left on the grid"):
        bayes_update(np.zeros(50), ll, best)


@pytest.mark.parametrize("far", [False, True], ids=["ordinary", "underflow"])
@pytest.mark.parametrize("case", CASES)
def test_update_equals_the_plain_twin(case, far, rng):
    """:func:`pfda.update` (the likelihood on the grid, the compiled update) against
    :func:`pfda.kernels.update_numpy` of the point-set log-likelihoods; ``far``: the bulk of
    the prior sits where the likelihood is below e^-800 of its best, which a cell of mass
    1e-300 attains (the weights underflow: the update is formed in logs)."""
    grid, vectorised, point, R, y = CASES[case]
    obs = pfda.GaussianObservation(vectorised, R)
    p = rng.random(grid.size) * (rng.random(grid.size) < 0.7)
    if far:  # the noise shrunk until half the cells are e^-800 below the best
        ll = obs.log_likelihood(y, grid.centers)
        i = int(np.argmax(ll))
        half = 0.5 * (ll[i] - ll.min())
        obs = pfda.GaussianObservation(vectorised, np.asarray(R) * half / 800.0)
        p = np.where(ll <= ll[i] - half, p, 0.0)
        p[i] = 1e-300
    ll = np.full(grid.size, -np.inf)
    ll[p > 0] = obs.log_likelihood(y, grid.centers[:, p > 0])
    p /= p.sum()
    want, evidence = kernels.update_numpy(p, ll)
    w = np.empty(grid.size)
    top = kernels.weigh(p, ll, ll[p > 0].max(), w)
    assert (top != ll[p > 0].max()) == far  # the logs exactly where the weights underflow
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pfda.PfdaWarning)  # y is far from h at the bulk
        post, incr = pfda.update(p, y, obs, grid)
    np.testing.assert_allclose(post, want, rtol=1e-9, atol=1e-300)
    assert np.all(post[p == 0] == 0)
    assert incr == pytest.approx(evidence, rel=1e-12, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# filters and updates with the Gaussian grid path against generic observations
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_filter_matches_generic_observation(case):
    grid, h, _, R, y0 = CASES[case]
    obs = pfda.GaussianObservation(h, R)
    d = grid.ndim
    sde = pfda.SDE(lambda x: -0.5 * x, diffusion=0.3)
    rng = np.random.default_rng(7)
    times = 0.1 * np.arange(1, 6)
    ys = np.asarray(y0) + 0.2 * rng.standard_normal((times.size, len(y0)))
    prior = pfda.gaussian(grid, np.zeros(d), 0.5 * np.eye(d))
    fast = pfda.Filter(grid, sde, obs).run(prior, times, ys)
    for other in (twin(obs), gaussian_log_likelihood(h, R)):
        slow = pfda.Filter(grid, sde, other).run(prior, times, ys)
        # log-likelihood errors of ~1e-12 per step move each posterior and increment by as much
        assert np.max(np.abs(fast.probabilities - slow.probabilities)) <= 1e-11
        assert np.max(np.abs(fast.log_evidence_increments - slow.log_evidence_increments)) <= 1e-11


@pytest.mark.parametrize("case", CASES)
def test_update_with_empty_cells_matches_generic(case, rng):
    grid, h, _, R, y = CASES[case]
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
    likelihood = GridLikelihood(obs, 2)  # one likelihood across the grids, as a window's
    for grid in (a, b, a, c, d, b):
        p = pfda.gaussian(grid, (grid.lower + grid.upper) / 2, 0.05 * np.eye(2))
        post, incr = pfda.update(p, y, obs, grid)
        post_ref, incr_ref = pfda.update(p, y, twin(obs), grid)
        assert np.max(np.abs(post - post_ref)) <= 1e-11
        assert abs(incr - incr_ref) <= 1e-11
        ll, _ = evaluate(likelihood, y, grid, p)
        np.testing.assert_allclose(ll, obs.log_likelihood(y, grid.centers), rtol=0,
                                   atol=ROUND_OFF)  # fmt: skip


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
    np.testing.assert_allclose(post, post_ref, rtol=1e-13, atol=0)
    assert incr == pytest.approx(incr_ref, rel=1e-13)


def test_noise_cov_is_read_only():
    R = R_FULL.copy()
    obs = pfda.GaussianObservation(lambda x: x, R)
    R[0, 0] = 10.0  # the observation holds its own copy
    assert obs.noise_cov[0, 0] == 0.5
    with pytest.raises(ValueError, match="read-only"):
        obs.noise_cov[0, 0] = 10.0


@numba.njit
def nan_point(x):
    return (np.nan,)


def test_bad_h_is_still_reported():
    grid = pfda.Grid([-2.0], [2.0], [20])
    p = np.full(grid.size, 1.0 / grid.size)
    nan_h = pfda.GaussianObservation(lambda x: np.full(x.shape, np.nan), 0.1)
    with pytest.raises(ValueError, match="h returned NaN or inf on the grid"):
        pfda.update(p, [0.0], nan_h, grid)
    # a Numba point h is checked once, at the box's centre, before any kernel reads it
    with pytest.raises(ValueError, match=r"h returned \[nan\] at \[0.0\]: NaN or inf"):
        pfda.update(p, [0.0], pfda.GaussianObservation(nan_point, 0.1), grid)
    wrong_shape = pfda.GaussianObservation(lambda x: np.zeros(3), 0.1)
    with pytest.raises(ValueError, match=r"h returned shape \(3,\) for 20 points"):
        pfda.update(p, [0.0], wrong_shape, grid)
    raising = pfda.GaussianObservation(lambda x: 1 / 0, 0.1)
    with pytest.raises(ZeroDivisionError):
        pfda.update(p, [0.0], raising, grid)
    with pytest.raises(ValueError, match="length 2, the model expects 1"):
        pfda.update(p, [0.0, 1.0], pfda.GaussianObservation(lambda x: x, [0.1]), grid)
    with pytest.raises(ValueError, match="not finite"):
        pfda.update(p, [np.nan], pfda.GaussianObservation(lambda x: x, 0.1), grid)
    with pytest.raises(ValueError, match="no mass left on the grid"):
        pfda.update(np.zeros(grid.size), [0.0], nan_h, grid)


@numba.njit
def two_values(x):
    return (np.sin(x[0]), x[0])


@numba.njit
def one_value(x):
    return (np.sin(x[0]),)


@pytest.mark.parametrize(
    ("h", "y"),
    [
        (lambda x: np.concatenate([x, x]), [0.0]),
        (two_values, [0.0]),
        (one_value, [0.0, 0.5]),
    ],
    ids=["vectorised-2-for-1", "numba-2-for-1", "numba-1-for-2"],
)
def test_h_of_the_wrong_length_is_named(h, y):
    """``h`` with more or fewer values than ``y`` has entries: refused with the message of the
    point-set path (scalar R, so the model does not fix the length)."""
    grid = pfda.Grid([-2.0], [2.0], [20])
    p = np.full(grid.size, 1.0 / grid.size)
    obs = pfda.GaussianObservation(h, 0.1)
    with pytest.raises(ValueError, match=r"y has \d entries but h\(x\) has \d rows"):
        obs.log_likelihood(y, grid.centers)  # the point-set path says so
    with pytest.raises(ValueError, match=r"y has \d entries but h\(x\) has \d rows"):
        pfda.update(p, y, obs, grid)


def test_h_outside_its_domain_only_where_there_is_no_mass():
    """Cells without mass may lie where h fails; the update judges the cells with mass only."""
    grid = pfda.Grid([-1.0], [3.0], [16])
    p = np.where(grid.centers[0] > 0, 1.0, 0.0)
    p /= p.sum()
    for h in (lambda x: np.log(x), lambda x: np.where(x > 0, x, np.nan)):
        obs = pfda.GaussianObservation(h, 0.2)
        post, incr = pfda.update(p, [0.5], obs, grid)
        post_ref, incr_ref = pfda.update(p, [0.5], twin(obs), grid)
        np.testing.assert_allclose(post, post_ref, rtol=1e-13, atol=0)
        assert incr == pytest.approx(incr_ref, rel=1e-13)
        assert np.all(post[p == 0] == 0)
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


class GaussianTwin(pfda.GaussianObservation):
    """The plain path of a Gaussian observation (a redefined log-likelihood: no kept h),
    support warning included."""

    def log_likelihood(self, y, x):
        return super().log_likelihood(y, x)


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
