"""Propagation: step control, factorisation reuse, mass bookkeeping, stationary densities."""

import numpy as np
import pytest

import pfda


@pytest.fixture
def setup():
    grid = pfda.Grid([-4.0], [4.0], [80])
    sde = pfda.SDE(drift=lambda x: -x, diffusion=0.5)
    return grid, sde, pfda.gaussian(grid, [1.0], [[0.3]])


class CountingSolver:
    """splu that counts factorisations."""

    name = "counting"

    def __init__(self):
        self.prepared = 0

    def prepare(self, M):
        self.prepared += 1
        return pfda.get_solver("splu").prepare(M)


def test_factorise_once_per_step_length(setup):
    grid, sde, p0 = setup
    solver = CountingSolver()
    obs = pfda.GaussianObservation(lambda x: x, 0.5)
    times = 0.1 * np.arange(1, 31)
    flt = pfda.Filter(grid, sde, obs, scheme="implicit", solver=solver, dt=0.02, tol=None)
    flt.run(p0, times, np.zeros((30, 1)))
    assert solver.prepared == 1  # 30 intervals x 5 steps, one step length
    flt.run(p0, [0.1, 0.2, 0.35], np.zeros((3, 1)))
    assert solver.prepared == 2  # 0.15 is cut into steps of 0.0187..., a second length


def test_explicit_substeps_stay_under_cfl(setup):
    grid, sde, p0 = setup
    prop = pfda.Propagator(grid, sde, scheme="explicit")
    limit = pfda.cfl_dt(grid, sde)
    n, h = prop.steps(0.0, 0.37)
    assert h <= limit and (n - 1) * limit < 0.37
    p1 = prop(p0, 0.0, 0.37)
    assert np.all(p1 >= 0) and abs(p1.sum() - 1) < 1e-13


def test_schemes_agree_on_a_fine_step(setup):
    grid, sde, p0 = setup
    ref = pfda.propagate(grid, sde, p0, 0.0, 0.5, scheme="exponential")
    limit = pfda.cfl_dt(grid, sde)
    # first-order schemes: error ~ dt * |A^2 p| T / 2 ~ 1e-3 at dt = 1e-3
    for scheme, dt, tol in [
        ("explicit", limit / 4, 2e-3),
        ("implicit", 1e-3, 2e-3),
        ("crank-nicolson", 1e-3, 1e-5),
    ]:
        p1 = pfda.propagate(grid, sde, p0, 0.0, 0.5, scheme=scheme, dt=dt)
        assert pfda.total_variation(p1, ref) < tol, scheme


@pytest.mark.filterwarnings("ignore:dt=.*positivity bound")
def test_input_is_not_modified(setup):
    grid, sde, p0 = setup
    copy = p0.copy()
    for scheme in pfda.SCHEMES:
        pfda.propagate(grid, sde, p0, 0.0, 0.1, scheme=scheme)
    np.testing.assert_array_equal(p0, copy)


def test_absorbing_mass_loss_matches_exit_probability():
    # pure diffusion dx = dW on [-L, L] absorbing: survival probability from the eigen-expansion
    L, T = 2.0, 0.5
    grid = pfda.Grid([-L], [L], [400], boundary="absorbing")
    sde = pfda.SDE(drift=lambda x: np.zeros_like(x), diffusion=1.0)
    p0 = np.zeros(grid.size)
    p0[[199, 200]] = 0.5  # start at 0
    p1 = pfda.propagate(grid, sde, p0, 0.0, T, scheme="exponential")
    n = np.arange(200)
    k = (2 * n + 1) * np.pi / (2 * L)
    survival = np.sum(4 / np.pi * (-1) ** n / (2 * n + 1) * np.exp(-0.5 * k**2 * T))
    # second-order scheme, h = 0.01: error O(h^2) ~ 1e-4
    assert abs(p1.sum() - survival) < 5e-4

    obs = pfda.GaussianObservation(lambda x: x, 1.0)
    res = pfda.Filter(grid, sde, obs, scheme="exponential").run(p0, [T], [[0.0]])
    assert abs(res.mass_lost[0] - (1 - survival)) < 5e-4


def test_time_dependent_drift_matches_exact_mean():
    # dx = cos(t) dt + 0.1 dW: the mean moves by sin(t) exactly
    grid = pfda.Grid([-2.0], [3.0], [500])
    sde = pfda.SDE(drift=lambda x, t: np.full_like(x, np.cos(t)), diffusion=0.01)
    assert sde.time_dependent
    p0 = pfda.gaussian(grid, [0.0], [[0.05]])
    T = 1.2
    errs = []
    for dt in (0.1, 0.05):
        p1 = pfda.propagate(grid, sde, p0, 0.0, T, scheme="exponential", dt=dt)
        errs.append(abs(pfda.mean(grid, p1)[0] - np.sin(T)))
    assert errs[1] < 2e-3
    assert errs[0] / errs[1] > 3.0  # second order in time: ratio ~ 4


def test_stationary_matches_boltzmann():
    # gradient drift f = -U'(x), U = x^4/4 - x^2/2: pi ~ exp(-2U/D); second order in h
    D = 0.6
    sde = pfda.SDE(drift=lambda x: x - x**3, diffusion=D)
    errors = []
    for n in (100, 200, 400):
        grid = pfda.Grid([-2.5], [2.5], [n])
        pi = pfda.stationary(grid, sde)
        assert np.abs(pfda.generator(grid, sde) @ pi).max() < 1e-12
        exact = pfda.discretize(grid, lambda x: np.exp(-2 * (x[0] ** 4 / 4 - x[0] ** 2 / 2) / D), 6)
        errors.append(pfda.total_variation(pi, exact))
    slopes = -np.diff(np.log(errors)) / np.log(2)
    assert np.all((slopes > 1.8) & (slopes < 2.2)), slopes
    assert errors[-1] < 5e-5


def test_explicit_steps_of_a_time_dependent_drift_follow_each_cfl_limit():
    """A forcing that speeds the drift up within the interval: equal steps at the CFL limit of
    the first instant would exceed a later one (and be refused). Steps at each instant's limit
    are Markov, and first order: halving them halves the distance to a converged exponential
    (midpoint) reference."""
    grid = pfda.Grid([-4.0], [4.0], [200], boundary="absorbing")
    sde = pfda.SDE(drift=lambda x, t: -x + 2 * np.sin(3 * t), diffusion=0.3)
    p0 = pfda.gaussian(grid, [-1.0], [[0.1]])
    ref = pfda.Propagator(grid, sde, "exponential", dt=1e-3)(p0, 0.0, 0.5)
    explicit = pfda.Propagator(grid, sde, "explicit")
    err = []
    for fraction in (1.0, 0.5, 0.25):
        explicit.fraction = fraction
        p = explicit(p0, 0.0, 0.5)
        assert p.min() >= 0.0 and p.sum() <= 1.0 + 1e-12
        err.append(np.abs(p - ref).sum())
    assert 1.7 < err[0] / err[1] < 2.3 and 1.7 < err[1] / err[2] < 2.3, err
