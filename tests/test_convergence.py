"""Measured orders of convergence, in space and in time, against exact solutions.

Space. The Ornstein--Uhlenbeck process ``dx = -theta x dt + sqrt(D) dW`` started from a Gaussian
stays Gaussian, so the exact cell masses at time ``T`` are differences of the normal CDF
(tests/references.py). Propagating with ``scheme="exponential"`` is exact in time for the
semi-discrete system, leaving only the spatial error, whose L1 norm must fall like ``h^2`` with
the Scharfetter--Gummel flux and like ``h`` with upwind (numerical diffusion ``|f| h / 2``).

Time. On a fixed grid the semi-discrete solution ``expm(T A) p0`` is computed here with SciPy's
dense ``expm`` (or, for a time-dependent drift, a tight-tolerance Runge--Kutta solve of
``dp/dt = A(t) p``). Each scheme's error against it must fall like ``dt^q`` with ``q = 1``
(explicit and backward Euler) or ``q = 2`` (Crank--Nicolson, and the midpoint-frozen exponential
for a time-dependent drift).

Each order is the least-squares slope of ``log(error)`` against ``log(step)`` over a halving
sequence in the asymptotic range; the bands ``[p - 0.3, p + 0.3]`` leave room for the
next-order term, which at the coarsest step is below a fifth of the leading one here.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from references import loglog_slope, normal_cell_masses, ou_moments
from scipy.integrate import solve_ivp

import pfda

THETA, D = 1.0, 0.5
M0, V0, T = 1.0, 0.1, 0.5
BOX = (-4.0, 4.0)

FIRST_ORDER = (0.7, 1.3)
SECOND_ORDER = (1.7, 2.3)


def ou_sde() -> pfda.SDE:
    return pfda.SDE(drift=lambda x: -THETA * x, diffusion=D)


def ou_grid(cells: int) -> pfda.Grid:
    return pfda.Grid(lower=[BOX[0]], upper=[BOX[1]], cells=[cells])


def assert_order(steps, errors, band, what=""):
    slope = loglog_slope(steps, errors)
    assert band[0] < slope < band[1], f"{what}: measured order {slope:.3f}, errors {errors}"
    # and monotone: every refinement helps
    assert np.all(np.diff(errors) < 0), f"{what}: errors not decreasing {errors}"


# ============================================================================================
# space
# ============================================================================================
def ou_transition_l1_error(cells: int, flux: str) -> tuple[float, float]:
    grid = ou_grid(cells)
    p0 = pfda.gaussian(grid, mean=[M0], cov=[[V0]])
    p = pfda.propagate(grid, ou_sde(), p0, t0=0.0, t1=T, scheme="exponential", flux=flux)
    mean, var = ou_moments(THETA, D, M0, V0, T)
    exact = normal_cell_masses(grid.edges[0], mean, var)
    return grid.widths[0], float(np.abs(p - exact).sum())


@pytest.mark.parametrize(
    ("flux", "cells", "band"),
    [
        ("sg", (50, 100, 200, 400), SECOND_ORDER),
        # upwind reaches its asymptotic range later: its O(h^2) term is large relative to O(h)
        ("upwind", (100, 200, 400, 800), (0.8, 1.2)),
    ],
)
def test_ou_transition_spatial_order(flux, cells, band):
    h, err = zip(*(ou_transition_l1_error(n, flux) for n in cells), strict=True)
    assert_order(h, err, band, flux)


def test_sg_is_far_more_accurate_than_upwind():
    """At 400 cells (h = 0.02) upwind's ``O(|f| h)`` numerical diffusion dominates: the SG error
    is ``O(h^2)`` with a comparable constant, i.e. tens of times smaller."""
    _, sg = ou_transition_l1_error(400, "sg")
    _, upwind = ou_transition_l1_error(400, "upwind")
    assert sg < upwind / 20


def test_sg_stationary_density_is_exact_for_linear_drift():
    """For ``f = -U'`` with quadratic ``U`` the SG flux balance gives
    ``pi_R / pi_L = exp(2 f(x_face) h / D) = exp(-2 (U(x_R) - U(x_L)) / D)`` exactly (the
    midpoint rule is exact for linear ``f``), so the discrete stationary vector equals
    ``exp(-2 U(x_i) / D)`` at the centres, normalised, up to rounding in the solve."""
    grid = ou_grid(120)
    pi = pfda.stationary(grid, ou_sde())
    x = grid.axes[0]
    exact = np.exp(-THETA * x**2 / D)
    exact /= exact.sum()
    assert np.abs(pi - exact).sum() < 1e-11


def test_sg_stationary_density_double_well_second_order():
    """Double well ``f = x - x^3``: the midpoint rule for ``U(x_R) - U(x_L)`` errs by
    ``h^3 |f''| / 24`` per face, summing to ``O(h^2)`` in ``log pi``."""
    sde = pfda.SDE(drift=lambda x: x - x**3, diffusion=0.6)
    steps, errors = [], []
    for n in (40, 80, 160, 320):
        grid = pfda.Grid(lower=[-2.5], upper=[2.5], cells=[n])
        x = grid.axes[0]
        exact = np.exp(-2.0 * (x**4 / 4 - x**2 / 2) / 0.6)
        exact /= exact.sum()
        steps.append(grid.widths[0])
        errors.append(np.abs(pfda.stationary(grid, sde) - exact).sum())
    assert_order(steps, errors, SECOND_ORDER, "double well")


# ============================================================================================
# time, time-independent generator
# ============================================================================================
def semidiscrete_reference(grid: pfda.Grid, sde: pfda.SDE, p0: np.ndarray) -> np.ndarray:
    A = pfda.generator(grid, sde).toarray()
    return scipy.linalg.expm(T * A) @ p0


@pytest.fixture(scope="module")
def time_problem():
    grid = ou_grid(80)
    sde = ou_sde()
    p0 = normal_cell_masses(grid.edges[0], M0, V0)
    p0 /= p0.sum()
    return grid, sde, p0, semidiscrete_reference(grid, sde, p0)


def assert_time_order(problem, scheme, steps, band):
    """L1 error at ``t = T`` against the problem's reference for ``T / steps`` steps, and its
    fitted order in ``dt``."""
    grid, sde, p0, reference = problem
    dts = [T / n for n in steps]
    errors = [
        np.abs(pfda.propagate(grid, sde, p0, 0.0, T, scheme=scheme, dt=dt) - reference).sum()
        for dt in dts
    ]
    assert_order(dts, errors, band, scheme)


@pytest.mark.parametrize(
    ("scheme", "steps", "band"),
    [
        # CFL limit on this grid ~0.017: explicit steps stay below it
        ("explicit", (64, 128, 256, 512), FIRST_ORDER),
        ("implicit", (8, 16, 32, 64), FIRST_ORDER),
        # positivity bound of Crank-Nicolson is 2 * CFL ~ 0.034: T/16 = 0.031 is inside it
        ("crank-nicolson", (16, 32, 64, 128), SECOND_ORDER),
    ],
)
def test_time_order(time_problem, scheme, steps, band):
    assert_time_order(time_problem, scheme, steps, band)


def test_exponential_scheme_is_exact_in_time(time_problem):
    """expm_multiply works to double precision: the result must not depend on the step."""
    grid, sde, p0, reference = time_problem
    for dt in (None, T / 7):
        p = pfda.propagate(grid, sde, p0, 0.0, T, scheme="exponential", dt=dt)
        assert np.abs(p - reference).sum() < 1e-10


def test_explicit_default_substeps_at_the_cfl_limit(time_problem):
    """``dt=None`` must take the fewest equal steps that respect the CFL limit."""
    grid, sde, p0, reference = time_problem
    cfl = pfda.cfl_dt(grid, sde)
    n = int(np.ceil(T / cfl))
    default = pfda.propagate(grid, sde, p0, 0.0, T, scheme="explicit")
    explicit_n = pfda.propagate(grid, sde, p0, 0.0, T, scheme="explicit", dt=T / n)
    np.testing.assert_allclose(default, explicit_n, rtol=1e-12, atol=1e-15)
    assert default.min() >= 0.0
    assert abs(default.sum() - 1.0) < 1e-13
    # first order: the error at the CFL step matches the 64-step error scaled by dt
    err = np.abs(default - reference).sum()
    err64 = np.abs(
        pfda.propagate(grid, sde, p0, 0.0, T, scheme="explicit", dt=T / 64) - reference
    ).sum()
    assert err == pytest.approx(err64 * (T / n) / (T / 64), rel=0.15)


# ============================================================================================
# time, time-dependent drift: an OU process pulled towards a moving centre
# ============================================================================================
def forced_drift(x, t):
    return -THETA * (x - 1.5 * np.sin(3.0 * t))


@pytest.fixture(scope="module")
def forced_problem():
    grid = ou_grid(80)
    sde = pfda.SDE(drift=forced_drift, diffusion=D, time_dependent=True)
    p0 = normal_cell_masses(grid.edges[0], 0.5, V0)
    p0 /= p0.sum()
    # an 8th-order Runge-Kutta solve of dp/dt = A(t) p: its error (rtol 1e-12) is far below the
    # smallest scheme error measured (~1e-6)
    sol = solve_ivp(
        lambda t, p: pfda.generator(grid, sde, t) @ p,
        (0.0, T),
        p0,
        method="DOP853",
        rtol=1e-12,
        atol=1e-15,
    )
    assert sol.success
    return grid, sde, p0, sol.y[:, -1]


@pytest.mark.parametrize(
    ("scheme", "steps", "band"),
    [
        # the drift reaches 5.5 at the box edge: the CFL limit (~0.01) is smaller than for the
        # plain OU
        ("explicit", (64, 128, 256), FIRST_ORDER),
        ("implicit", (8, 16, 32), FIRST_ORDER),
        ("crank-nicolson", (32, 64, 128), SECOND_ORDER),
        # A frozen at each step's midpoint: the exponential midpoint rule, second order
        ("exponential", (4, 8, 16), SECOND_ORDER),
    ],
)
def test_time_order_time_dependent_drift(forced_problem, scheme, steps, band):
    assert_time_order(forced_problem, scheme, steps, band)
