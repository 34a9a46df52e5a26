"""The split high-resolution schemes (``split-ppm``, ``split-mc``): positivity, mass, the
Numba/NumPy twins, measured orders of convergence, and the filter against the Kalman filter.

Orders are fitted over refinement sequences against exact solutions (cell masses of Gaussians,
:mod:`references`): smooth advection with a constant velocity, the Ornstein--Uhlenbeck
transition density (a drift that varies along the line, with diffusion), and solid-body rotation
in 2-D (dimension splitting). The upwind flux of the linear schemes is about first order on the
same problems.
"""

from __future__ import annotations

import numpy as np
import pytest
from references import (
    kalman_filter,
    loglog_slope,
    normal_cell_masses,
    product_normal_cell_masses,
    simulate_linear_observations,
)

import pfda
from pfda.highres import SplitPropagator, _advect_numpy, _Faces, positive_step

KINDS = ("ppm", "mc")
BOUNDARIES = ("reflecting", "periodic", "absorbing")


def random_case(rng, d: int, boundary: str, diffusion: bool = True):
    """A random smooth drift (varying along every axis), a grid and a rough density."""
    cells = rng.integers(2, 9 if d == 3 else 17, size=d)
    if boundary == "mixed":  # one boundary type per axis
        boundary = [str(b) for b in rng.choice(BOUNDARIES, d)]
    grid = pfda.Grid([-1.0] * d, [1.0] * d, cells, boundary=boundary)
    A = rng.normal(size=(d, d)) * 3.0
    b = rng.normal(size=d)
    dif = rng.uniform(0.0, 0.05, d) * (rng.random(d) < 0.5) if diffusion else 0.0
    sde = pfda.SDE(drift=lambda x: np.sin(A @ x) + b[:, None], diffusion=dif)
    p = rng.random(grid.size) ** 4 * (rng.random(grid.size) < 0.7)
    return grid, sde, p / p.sum()


# ---------------------------------------------------------------------------------------------
# positivity, mass, twins
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("boundary", [*BOUNDARIES, "mixed"])
def test_mass_and_non_negativity_on_random_drifts(rng, boundary):
    for trial in range(6):
        d = 1 + trial % 3
        grid, sde, p0 = random_case(rng, d, boundary)
        absorbing = any(grid.absorbing)
        for kind in KINDS:
            prop = SplitPropagator(grid, sde, kind)
            p, mass = p0, 1.0
            for t in (0.0, 0.3, 0.7):  # a few intervals of several positive steps each
                p = prop(p, t, t + 0.3)
                assert p.min() >= 0.0
                if absorbing:
                    assert p.sum() <= mass * (1 + 1e-14)
                else:
                    assert abs(p.sum() - 1.0) < 1e-14
                mass = p.sum()
            if absorbing:
                assert mass < 1.0  # something does leave


def test_courant_bound_is_exact_and_keeps_the_sweep_positive(rng):
    """At the positive step every cell's outflow Courant sum is <= 1 (equal for one cell),
    and the unclipped advection of a rough line stays >= 0 up to round-off."""
    for trial in range(12):
        boundary = BOUNDARIES[trial % 3]
        grid, sde, p0 = random_case(rng, 1 + trial % 2, boundary, diffusion=False)
        faces = _Faces(grid, *pfda.assembly.face_velocities(grid, sde))
        tau = faces.positive_step()
        assert tau == pytest.approx(positive_step(grid, sde))
        worst = 0.0
        for k, (a, g, a_lo, g_lo) in enumerate(faces.axes):
            up = tau * a * (1 - 0.5 * tau * g)
            lo = np.column_stack([tau * a_lo * (1 - 0.5 * tau * g_lo), up[:, :-1]])
            out = np.maximum(up, 0.0) + np.maximum(-lo, 0.0)
            worst = max(worst, out.max())
            lines = np.moveaxis(p0.reshape(grid.shape), k, -1).reshape(-1, grid.cells[k])
            c = np.column_stack([up[:, -1] if grid.periodic[k] else lo[:, 0], up])
            for ppm in (True, False):
                new = _advect_numpy(lines, c, grid.periodic[k], ppm)
                assert new.min() >= -1e-15 * lines.max()
        g_max = max(np.abs(ax[1]).max() for ax in faces.axes)
        assert worst <= 1 + 1e-12
        assert worst > 1 - 1e-9 or tau * g_max == pytest.approx(1.0)


def test_bound_is_sharp():
    # all mass in one cell (a local maximum: flat reconstruction) and Courant 1.2 > 1
    line = np.array([[0.0, 0.0, 1.0, 0.0, 0.0]])
    c = np.array([[0.0, 0.0, 0.0, 1.2, 0.0, 0.0]])
    for ppm in (True, False):
        assert _advect_numpy(line, c, False, ppm).min() == pytest.approx(-0.2)


@pytest.mark.parametrize("boundary", [*BOUNDARIES, "mixed"])
def test_numba_kernel_matches_numpy_twin(rng, boundary):
    for trial in range(3):
        grid, sde, p0 = random_case(rng, 1 + trial, boundary)
        for kind in KINDS:
            fast = SplitPropagator(grid, sde, kind, method="numba")(p0, 0.0, 0.4)
            slow = SplitPropagator(grid, sde, kind, method="numpy")(p0, 0.0, 0.4)
            assert np.abs(fast - slow).max() < 1e-13


# ---------------------------------------------------------------------------------------------
# measured orders of convergence
# ---------------------------------------------------------------------------------------------
def test_smooth_periodic_advection_is_second_order():
    """A Gaussian bump (sd 0.08, periodic images) once around [0, 1) at Courant 0.4."""
    for kind in KINDS:
        errs, hs = [], []
        for n in (32, 64, 128, 256):
            grid = pfda.Grid([0.0], [1.0], [n], boundary="periodic")
            sde = pfda.SDE(drift=lambda x: np.ones_like(x), diffusion=0.0)
            e = grid.edges[0]
            p0 = sum(normal_cell_masses(e + s, 0.5, 0.08**2) for s in (-1, 0, 1))
            p1 = pfda.propagate(grid, sde, p0, 0.0, 1.0, scheme=f"split-{kind}", dt=0.4 / n)
            assert abs(p1.sum() - p0.sum()) < 1e-14
            errs.append(np.abs(p1 - p0).sum())
            hs.append(1.0 / n)
        # measured: ppm 2.2-2.4, mc 2.2-2.3
        assert loglog_slope(hs, errs) > 1.8, kind


def test_ou_transition_density_order_beats_upwind():
    """``dx = -x dt + sqrt(0.05) dW`` from N(1, 0.1) over t = 1 on [-4, 4], against the exact
    Gaussian: the drift varies along the line, so this also checks the departure-point
    correction of the Courant numbers (without it the step is first order in time)."""
    theta, D, T = 1.0, 0.05, 1.0
    mean, var = np.exp(-theta * T), 0.1 * np.exp(-2 * T) + D / (2 * theta) * -np.expm1(-2 * T)
    sde = pfda.SDE(drift=lambda x: -theta * x, diffusion=D)
    slopes = {}
    for scheme, flux in (("split-ppm", "auto"), ("split-mc", "auto"), ("explicit", "upwind")):
        errs, hs = [], []
        for n in (80, 160, 320, 640):
            grid = pfda.Grid([-4.0], [4.0], [n])
            p0 = normal_cell_masses(grid.edges[0], 1.0, 0.1)
            p1 = pfda.propagate(grid, sde, p0, 0.0, T, scheme=scheme, flux=flux)
            errs.append(np.abs(p1 - normal_cell_masses(grid.edges[0], mean, var)).sum())
            hs.append(8.0 / n)
        slopes[scheme] = loglog_slope(hs, errs)
    # measured: split-ppm 2.4, split-mc 1.9, upwind 0.83
    assert slopes["explicit"] < 1.1
    assert slopes["split-ppm"] > 1.8
    assert slopes["split-mc"] > 1.6


def test_solid_body_rotation_is_second_order():
    """One turn of a Gaussian bump (sd 0.12) about the origin, drift (-2 pi y, 2 pi x):
    Strang splitting of the two sweeps, each along lines of constant velocity."""
    sde = pfda.SDE(drift=lambda x: 2 * np.pi * np.stack([-x[1], x[0]]), diffusion=0.0)
    for kind in KINDS:
        errs, hs = [], []
        for n in (32, 64, 128):
            grid = pfda.Grid([-1.0, -1.0], [1.0, 1.0], [n, n])
            p0 = product_normal_cell_masses(list(grid.edges), [0.4, 0.0], [0.12**2] * 2)
            p1 = pfda.propagate(grid, sde, p0, 0.0, 1.0, scheme=f"split-{kind}")
            errs.append(np.abs(p1 - p0).sum())
            hs.append(2.0 / n)
        # measured: ppm 2.8 and 2.7 per halving, mc 1.9 and 2.5
        assert loglog_slope(hs, errs) > 1.9, kind


def test_time_dependent_drift_is_second_order_in_time():
    """``dx = 0.1 cos(5t) dt + 0.1 dW``: the mean moves by ``0.02 sin(5t)``. The velocity is
    constant along the line, so the error in the mean is that of the drift's time argument:
    the step's midpoint gives ``O(dt^2)``, an error ratio of 4 per halving."""
    grid = pfda.Grid([-2.0], [3.0], [250])  # positive step 0.2 at speed 0.1
    sde = pfda.SDE(drift=lambda x, t: np.full_like(x, 0.1 * np.cos(5 * t)), diffusion=0.01)
    p0 = pfda.gaussian(grid, [0.0], [[0.05]])
    T = 1.2
    errs = []
    for dt in (0.2, 0.1, 0.05):
        p1 = pfda.propagate(grid, sde, p0, 0.0, T, scheme="split-ppm", dt=dt)
        shift = pfda.mean(grid, p1)[0] - pfda.mean(grid, p0)[0]
        errs.append(abs(shift - 0.02 * np.sin(5 * T)))
    assert errs[2] < 2e-5  # measured 1.5e-5
    assert errs[0] / errs[1] > 3.5 and errs[1] / errs[2] > 3.5  # measured 4.09, 4.02


# ---------------------------------------------------------------------------------------------
# the filter and the propagator's interface
# ---------------------------------------------------------------------------------------------
def test_filter_matches_kalman_on_a_damped_rotation():
    """``dx = F x dt + sigma dW``, F = [[-0.3, 2], [-2, -0.3]], D = 0.02 I, x_0 observed every
    0.1 (R = 0.1). On 128^2 cells (h = 6/128) the second-order error budget is ``h^2 ~ 2.2e-3``
    for the mean and covariance; the first-order upwind flux of the explicit scheme misses it
    twentyfold (measured 4.7e-2 on the mean)."""
    F = np.array([[-0.3, 2.0], [-2.0, -0.3]])
    D = np.array([0.02, 0.02])
    R, m0, P0 = 0.1, np.array([1.0, 0.0]), 0.1 * np.eye(2)
    times = 0.1 * np.arange(1, 31)
    H = np.array([[1.0, 0.0]])
    ys = simulate_linear_observations(np.random.default_rng(5), F, np.diag(D), H, R, m0, P0, times)
    km, kP, kinc = kalman_filter(F, np.diag(D), H, R, m0, P0, times, ys)
    grid = pfda.Grid([-3.0, -3.0], [3.0, 3.0], [128, 128])
    sde = pfda.SDE(drift=lambda x: F @ x, diffusion=D)
    obs = pfda.GaussianObservation(h=lambda x: x[:1], noise_cov=R)
    res = pfda.Filter(grid, sde, obs, scheme="split-ppm").run(
        pfda.gaussian(grid, m0, P0), times, ys
    )
    h2 = (6.0 / 128) ** 2
    assert np.abs(res.mean - km).max() < h2  # measured 1.1e-3
    assert np.abs(res.cov - kP).max() < h2  # measured 3.2e-4
    # per step the evidence integral errs by ~h^2/(8 S) (see test_reference_filters), S >= 0.1
    assert abs(res.log_evidence - kinc.sum()) < len(times) * h2 / 0.8
    assert np.abs(res.probabilities.sum(axis=1) - 1).max() < 1e-12


def test_steps_stay_under_the_positive_step():
    grid = pfda.Grid([-2.0], [2.0], [64])
    sde = pfda.SDE(drift=lambda x: -3 * x, diffusion=0.1)
    limit = positive_step(grid, sde)
    prop = pfda.Propagator(grid, sde, "split-ppm")
    n, h = prop.steps(0.0, 1.0)
    assert h <= limit and (n - 1) * limit < 1.0
    n, h = pfda.Propagator(grid, sde, "split-ppm", dt=10 * limit).steps(0.0, 1.0)
    assert h <= limit
    n, h = pfda.Propagator(grid, sde, "split-ppm", dt=limit / 3).steps(0.0, 1.0)
    assert h <= limit / 3


def test_bad_input():
    grid = pfda.Grid([-1.0], [1.0], [10])
    state_dependent = pfda.SDE(drift=lambda x: -x, diffusion=lambda x: 0.1 + x**2)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=0.1)
    with pytest.raises(ValueError, match="state-dependent diffusion use a linear scheme"):
        pfda.Filter(grid, state_dependent, obs, scheme="split-ppm")
    sde = pfda.SDE(drift=lambda x: -x, diffusion=0.1)
    p = pfda.gaussian(grid, [0.0], [[0.1]])
    for dt in (-0.1, 0.0, np.inf):
        with pytest.raises(ValueError, match="dt must be a positive finite step"):
            pfda.propagate(grid, sde, p, scheme="split-mc", dt=dt)
    with pytest.raises(ValueError, match="backwards"):
        pfda.propagate(grid, sde, p, 1.0, 0.0, scheme="split-ppm")
    with pytest.raises(ValueError, match="unknown reconstruction"):
        SplitPropagator(grid, sde, "weno")
