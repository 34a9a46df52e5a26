"""The window filter (pfda.WindowFilter): its compiled twin, its accuracy, how the window moves.

References are independent of pfda's window: the exact Kalman filter (:mod:`references`), the
plain full-grid :class:`pfda.Filter` on a much finer grid, exact stationary densities, and the
window's own plain Python path (``method="python"``) for the compiled one.

Tolerances come from the discretisation. The split schemes are second order, so means and
covariances err by ``O(h^2)`` with ``h`` the window's cell width; the window's geometry bounds
the mass it loses: ``half_width = c = 5`` deviations either side, a centre that may lag the
mean by a twentieth of the window (``0.5`` deviations, so an edge may come as close as
``0.9 c = 4.5`` deviations) before the window shifts, and widths that may be off their target by
``remap_ratio = 1.25`` before it is remapped (an edge as close as ``c / 1.25 = 4`` deviations).

Numba compiles one kernel per drift and ``h`` pair (about 20 s each on two cores), so the
compiled runs share two models: a 2-D pendulum and a 1-D rotation on the circle.
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np
import pytest
from references import (
    kalman_filter,
    loglog_slope,
    normal_cell_masses,
    simulate_linear_observations,
)
from scipy.stats import multivariate_normal, norm

import pfda
from pfda import PfdaWarning

C, RHO, TAIL = 5.0, 1.25, 1e-7  # the defaults of half_width, remap_ratio, tail
EDGE = 1e-4  # an outer cell with more mass than this widens the window (pfda.window.EDGE)


# ---------------------------------------------------------------------------------------------
# models: Numba point functions shared by the compiled runs
# ---------------------------------------------------------------------------------------------
G = 9.81
OMEGA = 2.0  # rotation on the circle
CUT = 10.1  # the rotation's drift is NaN from here on (not periodic: test_nan_drift_on_the_window)


@numba.njit
def pendulum_drift(x):
    return (x[1], -G * np.sin(x[0]))


@numba.njit
def pendulum_h(x):
    return (np.sin(x[0]),)


@numba.njit
def circle_drift(x):
    return (OMEGA if x[0] < CUT else np.nan,)


@numba.njit
def circle_h(x):
    return (np.sin(x[0]), np.cos(x[0]))


def wrap(d, period):
    """``d`` into ``[-period/2, period/2)``."""
    return (np.asarray(d) + 0.5 * period) % period - 0.5 * period


def wrapped_normal(mean: float, var: float):
    """A prior callable: cell masses of the wrapped normal on any window of the circle (the
    window's coordinates may run past the seam)."""

    def prior(grid):
        e = grid.edges[0]
        return sum(normal_cell_masses(e + s, mean, var) for s in (-2 * np.pi, 0.0, 2 * np.pi))

    return prior


def circular_mean(centers: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``atan2(E sin x, E cos x)`` for rows of probabilities ``p`` on cells at ``centers``."""
    return np.arctan2(p @ np.sin(centers), p @ np.cos(centers))


def assert_twins(a, b, periodic, min_agree: int, tol: float = 1e-9) -> int:
    """``a`` and ``b`` are the same filter run up to round-off.

    The two paths sum in different orders, so a decision at a threshold (is the window's centre
    more than the slack off the mean?) may go one way in one path and the other way in the
    other: the boxes then differ by whole cells. Until the first such update both agree to
    ``tol``; after it the shifted edge has absorbed a different outer cell, which holds less
    than ``EDGE`` of the mass (else the window grows), so means differ by less than ``EDGE``
    windows, covariances by less than ``EDGE`` windows squared and evidence increments by less
    than ``EDGE``; a later remap then sizes the windows from densities that differ by that
    much, so their widths may differ too (by far less than the remap ratio). Returns the first
    update whose boxes differ (``K`` if none)."""
    K = a.mean.shape[0]
    same_widths = np.all(np.abs(a.widths - b.widths) <= 1e-12 * np.abs(b.widths), axis=1)
    cells = (a.lower - b.lower) / a.widths
    moved = np.any(np.abs(cells) > 1e-6, axis=1) | ~same_widths
    first = int(np.argmax(moved)) if moved.any() else K
    # until the boxes part they are the same; then whole cells apart, widths within round-off
    # of a density that differs by less than EDGE
    np.testing.assert_allclose(cells[: first + 1], np.rint(cells[: first + 1]), rtol=0, atol=1e-6)
    np.testing.assert_allclose(a.widths, b.widths, rtol=1e-6, atol=0)
    assert first >= min_agree, f"the boxes part at update {first}"
    periodic = np.asarray(periodic)
    dmean = a.mean - b.mean
    period = (a.domain.upper - a.domain.lower)[periodic]
    dmean[:, periodic] = wrap(dmean[:, periodic], period)
    dcov = a.cov - b.cov
    dinc = a.log_evidence_increments - b.log_evidence_increments
    s = slice(0, first)
    assert np.abs(a.probabilities[s] - b.probabilities[s]).max() < tol
    assert np.abs(dmean[s]).max() < tol
    assert np.abs(dcov[s]).max() < tol
    assert np.abs(dinc[s]).max() < tol
    np.testing.assert_allclose(a.mass_lost[s], b.mass_lost[s], rtol=0, atol=tol)
    np.testing.assert_array_equal(a.remaps[s], b.remaps[s])
    assert a.boundaries[:first] == b.boundaries[:first]
    if first < K:
        W = a.widths[first:] * np.asarray(a.domain.cells)
        assert np.all(np.abs(dmean[first:]) <= EDGE * W)
        assert np.all(np.abs(dcov[first:]) <= EDGE * W[:, :, None] * W[:, None, :])
        assert np.abs(dinc[first:]).max() <= EDGE
    return first


# ---------------------------------------------------------------------------------------------
# 1. the compiled path against the plain Python path
# ---------------------------------------------------------------------------------------------
PENDULUM_GRID = pfda.Grid([-np.pi, -8.0], [np.pi, 8.0], [24, 24], ["periodic", "reflecting"])


@pytest.fixture(scope="module")
def pendulum():
    """A noisy pendulum observed through ``sin(x_0)`` (R = 0.1) every 0.01 for 60 steps, run
    compiled and plain with a Numba point ``h`` and with the same ``h`` vectorised."""
    rng = np.random.default_rng(11)
    times = 0.01 * np.arange(1, 61)
    x, dt, ys = np.array([1.0, 0.0]), 1e-3, []
    for _ in times:  # Euler--Maruyama, ten steps per observation
        for _ in range(10):
            x = x + dt * np.array([x[1], -G * np.sin(x[0])])
            x[1] += 0.1 * math.sqrt(dt) * rng.normal()
        ys.append([math.sin(x[0]) + math.sqrt(0.1) * rng.normal()])
    ys = np.array(ys)
    sde = pfda.SDE(drift=pendulum_drift, diffusion=[0.0, 0.01])
    prior = lambda g: pfda.gaussian(g, [1.0, 0.0], [0.05, 0.1])  # noqa: E731
    out = {}
    for name, h in (("numba-h", pendulum_h), ("numpy-h", lambda x: np.sin(x[:1]))):
        obs = pfda.GaussianObservation(h=h, noise_cov=0.1)
        for method in ("numba", "python"):
            wf = pfda.WindowFilter(PENDULUM_GRID, sde, obs, method=method)
            assert wf.method == method
            out[name, method] = wf.run(prior, times, ys)
    return out


@pytest.mark.parametrize("h", ["numba-h", "numpy-h"])
def test_compiled_twin_pendulum(pendulum, h):
    """With a Numba point ``h`` the whole run is compiled (intervals and updates); with a
    vectorised ``h`` the compiled path runs the intervals and :func:`pfda.update` the updates.
    Measured: identical to 6e-15 up to update 35, where the boxes part by one cell for one
    update; after it means differ by 2.2e-9, covariances by 9.3e-10, the log evidence by
    6.9e-10 (with an earlier version of the window: parted at update 25, 4.5e-7)."""
    fast, plain = pendulum[h, "numba"], pendulum[h, "python"]
    assert_twins(fast, plain, PENDULUM_GRID.periodic, min_agree=10)
    assert abs(fast.log_evidence - plain.log_evidence) < 1e-4  # measured 6.9e-10
    assert fast.remaps.sum() > 0  # the window was remapped (measured 7 remaps)
    # the two compiled paths (compiled update or pfda.update) agree as well
    assert_twins(fast, pendulum["numpy-h" if h == "numba-h" else "numba-h", "numba"],
                 PENDULUM_GRID.periodic, min_agree=10)  # fmt: skip


def test_window_result_accessors_2d(pendulum):
    """``grid_at`` and ``marginal`` describe the probabilities of each update."""
    res = pendulum["numba-h", "python"]
    n = PENDULUM_GRID.cells
    assert np.abs(res.probabilities.sum(axis=1) - 1.0).max() < 1e-12
    assert res.probabilities.min() >= 0.0
    for k in (0, 17, 59):
        g = res.grid_at(k)
        np.testing.assert_array_equal(g.lower, res.lower[k])
        np.testing.assert_allclose(g.widths, res.widths[k], rtol=1e-12)
        assert g.cells == tuple(n) and g.boundary == res.boundaries[k]
        p = res.probabilities[k].reshape(n)
        np.testing.assert_allclose(res.marginal(k, 0), p.sum(axis=1), rtol=0, atol=1e-15)
        np.testing.assert_allclose(res.marginal(k, 1), p.sum(axis=0), rtol=0, atol=1e-15)
        np.testing.assert_allclose(res.marginal(k, (1, 0)), p.T, rtol=0, atol=0)
        m = g.centers @ res.probabilities[k]
        m[0] = wrap(m[0], 2 * np.pi)  # reported wrapped into the domain on the periodic axis
        np.testing.assert_allclose(res.mean[k], m, rtol=0, atol=1e-12)
        xc = g.centers - (g.centers @ res.probabilities[k])[:, None]
        np.testing.assert_allclose(res.cov[k], (xc * res.probabilities[k]) @ xc.T, atol=1e-12)
    np.testing.assert_allclose(res.std, np.sqrt(np.diagonal(res.cov, axis1=1, axis2=2)))
    assert res.log_evidence == pytest.approx(res.log_evidence_increments.sum(), abs=1e-12)


CIRCLE_GRID = pfda.Grid([-np.pi], [np.pi], [48], boundary="periodic")
CIRCLE_R = np.array([[0.1, 0.03], [0.03, 0.1]])  # correlated: the full-R path of the update
CIRCLE_DT, CIRCLE_SIGMA, CIRCLE_P0 = 0.005, 0.1, 0.05**2


def circle_data(m0: float, seed: int = 2, K: int = 60):
    """``dx = OMEGA dt + 0.1 dW`` on the circle observed through ``(sin x, cos x)`` with
    ``R = [[0.1, 0.03], [0.03, 0.1]]`` every 0.005, from ``x_0 ~ N(m0, 0.05^2)``."""
    rng = np.random.default_rng(seed)
    times = CIRCLE_DT * np.arange(1, K + 1)
    x, ys = m0 + math.sqrt(CIRCLE_P0) * rng.normal(), []
    for _ in times:
        x += OMEGA * CIRCLE_DT + CIRCLE_SIGMA * math.sqrt(CIRCLE_DT) * rng.normal()
        ys.append(rng.multivariate_normal([math.sin(x), math.cos(x)], CIRCLE_R))
    return times, np.array(ys)


def circle_reference(prior, times, ys, cells: int = 2048):
    """The plain split-ppm Filter on a fine grid of the whole circle (vectorised model)."""
    fine = pfda.Grid([-np.pi], [np.pi], [cells], boundary="periodic")
    sde = pfda.SDE(drift=lambda x: np.full_like(x, OMEGA), diffusion=CIRCLE_SIGMA**2)
    obs = pfda.GaussianObservation(
        h=lambda x: np.vstack([np.sin(x[0]), np.cos(x[0])]), noise_cov=CIRCLE_R
    )
    return fine, pfda.Filter(fine, sde, obs, scheme="split-ppm").run(prior(fine), times, ys)


@pytest.fixture(scope="module")
def circle():
    """The rotation from ``x_0 ~ N(2.8, 0.05^2)``: the posterior crosses the seam at +-pi
    after about 25 updates (the mean moves 0.01 per update). Runs compiled and plain."""
    times, ys = circle_data(2.8)
    sde = pfda.SDE(drift=circle_drift, diffusion=CIRCLE_SIGMA**2)
    prior = wrapped_normal(2.8, CIRCLE_P0)
    out = {"times": times, "ys": ys, "prior": prior}
    vectorised_h = lambda x: np.vstack([np.sin(x[0]), np.cos(x[0])])  # noqa: E731
    for name, h in (("numba-h", circle_h), ("numpy-h", vectorised_h)):
        obs = pfda.GaussianObservation(h=h, noise_cov=CIRCLE_R)
        for method in ("numba", "python"):
            out[name, method] = pfda.WindowFilter(CIRCLE_GRID, sde, obs, method=method).run(
                prior, times, ys
            )
    return out


@pytest.mark.parametrize("h", ["numba-h", "numpy-h"])
def test_compiled_twin_on_the_circle(circle, h):
    """1-D, a two-component observation (the compiled update's full-R path) and a window that
    crosses the seam; measured: the boxes never part, everything agrees to 2e-15."""
    fast, plain = circle[h, "numba"], circle[h, "python"]
    assert_twins(fast, plain, CIRCLE_GRID.periodic, min_agree=30)
    assert_twins(fast, circle["numpy-h" if h == "numba-h" else "numba-h", "numba"],
                 CIRCLE_GRID.periodic, min_agree=30)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# 2, 3. accuracy against the Kalman filter; the window follows the posterior
# ---------------------------------------------------------------------------------------------
OU_D, OU_R, OU_DT, OU_K = 0.25, 0.25, 0.002, 100
OU_M0, OU_P0 = np.array([2.0]), np.array([[0.01]])
OU_SDE = pfda.SDE(drift=lambda x: -x, diffusion=OU_D)
OU_OBS = pfda.GaussianObservation(h=lambda x: x, noise_cov=OU_R)
DOMAIN = pfda.Grid([-20.0], [20.0], [48])


def ou_prior(grid):
    return pfda.gaussian(grid, OU_M0, OU_P0)


@pytest.fixture(scope="module")
def ou():
    """``dx = -x dt + 0.5 dW`` observed directly (R = 0.25) every 0.002, 100 times, from
    ``N(2, 0.01)``: the posterior sd stays at 0.100--0.102, 1/400 of the domain [-20, 20];
    the mean drifts from 2.03 to 1.80 (2.3 sd)."""
    times = OU_DT * np.arange(1, OU_K + 1)
    ys = simulate_linear_observations(
        np.random.default_rng(3), [[-1.0]], [[OU_D]], [[1.0]], [[OU_R]], OU_M0, OU_P0, times
    )
    km, kP, kinc = kalman_filter([[-1.0]], [[OU_D]], [[1.0]], [[OU_R]], OU_M0, OU_P0, times, ys)
    return times, ys, km, kP, kinc


def run_window(grid, times, ys, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", PfdaWarning)  # no loss warning, no implausible y
        return pfda.WindowFilter(grid, OU_SDE, OU_OBS, **kwargs).run(ou_prior, times, ys)


def test_window_matches_kalman_where_the_domain_grid_cannot(ou):
    """On 48 cells the window's cells are 0.023 wide (about 11 posterior deviations over 48),
    the domain's 0.83 (eight deviations). Second order: mean and variance within
    ``h^2 = 5.2e-4`` (measured 1.3e-4 and 4.0e-5); the evidence integral errs by
    ``~h^2 / (8 S)`` per update, ``S = P_pred + R ~ 0.26`` (measured 9.7e-4 in all). The plain
    Filter on the domain's 48 cells misses the mean by 0.25 (2.5 deviations)."""
    times, ys, km, kP, kinc = ou
    res = run_window(DOMAIN, times, ys)
    h = res.widths[:, 0].max()
    assert 0.02 < h < 0.025  # measured 0.0228: the window, not the domain
    sd = np.sqrt(kP[:, 0, 0])
    err_mean = np.abs(res.mean[:, 0] - km[:, 0]).max()
    err_var = np.abs(res.cov[:, 0, 0] - kP[:, 0, 0]).max()
    assert err_mean < h**2
    assert err_var < h**2
    S = kP[:, 0, 0].max() + OU_D * OU_DT + OU_R
    assert abs(res.log_evidence - kinc.sum()) < OU_K * h**2 / (8 * S)
    full = pfda.Filter(DOMAIN, OU_SDE, OU_OBS, scheme="split-ppm").run(
        pfda.gaussian(DOMAIN, OU_M0, OU_P0), times, ys
    )
    err_full = np.abs(full.mean[:, 0] - km[:, 0]).max()
    assert err_full > sd.max()  # measured 0.25
    assert err_full > 100 * err_mean  # measured 1900 times


def test_window_converges_second_order(ou):
    """Refining the window's cells (16, 32, 64) at a fixed domain: the larger of the mean and
    variance errors falls as ``h^2`` (measured order 2.09; 1.7e-3, 2.9e-4, 6.7e-5)."""
    times, ys, km, kP, _ = ou
    hs, errs = [], []
    for n in (16, 32, 64):
        res = run_window(pfda.Grid([-20.0], [20.0], [n]), times, ys)
        hs.append(res.widths[:, 0].max())
        errs.append(
            max(
                np.abs(res.mean[:, 0] - km[:, 0]).max(),
                np.abs(res.cov[:, 0, 0] - kP[:, 0, 0]).max(),
            )
        )
    assert errs[0] > errs[1] > errs[2]
    assert loglog_slope(hs, errs) > 1.5


def test_window_follows_the_posterior(ou):
    times, ys, km, kP, _ = ou
    n = DOMAIN.cells[0]
    res = run_window(DOMAIN, times, ys)
    sd = np.sqrt(kP[:, 0, 0])
    W = res.widths[:, 0] * n
    # the update's window was fitted to the density before the interval's last step: its sd is
    # at most sqrt(P + D dt) (the prediction's); the target is 2 c sd, or the support above
    # the tail mass, 2 z sd with z = isf(1e-7) = 5.2; remapped when off by more than RHO
    sd_pred = np.sqrt(kP[:, 0, 0] + OU_D * OU_DT)
    assert np.all(W >= 2 * C * sd / RHO)
    assert np.all(W <= RHO * 2 * norm.isf(TAIL) * sd_pred)  # measured W / sd = 10.7--10.9
    # the window moved with the mean, by whole cells (no remap after the first update)
    assert res.remaps[1:].sum() == 0
    np.testing.assert_allclose(res.widths[1:], res.widths[:-1], rtol=0, atol=0)
    steps = np.diff(res.lower[:, 0]) / res.widths[1:, 0]
    np.testing.assert_allclose(steps, np.rint(steps), rtol=0, atol=1e-9)
    assert np.count_nonzero(np.rint(steps)) >= 3  # measured 4 shifts of 3 cells
    assert res.lower[-1, 0] < res.lower[0, 0]  # net 6 cells down, after the mean's fall
    # the centre lags the mean by at most the slack, a twentieth of the window, then shifts by
    # whole cells (half a cell of rounding); the last step and the update move the mean on
    centre = res.lower[:, 0] + 0.5 * W
    lag = W / 20 + 0.5 * res.widths[:, 0] + np.abs(np.diff(km[:, 0])).max()
    assert np.all(np.abs(centre - km[:, 0]) <= lag)  # measured 0.081 (0.8 sd) at most
    # so an edge is at least 0.9 c = 4.5 sd from the mean at the last fit, and the update moves
    # the mean by its gain (0.04) times the innovation: edges at >= 3.5 sd (measured 4.55)
    lo, hi = res.lower[:, 0], res.lower[:, 0] + W
    assert np.all(lo <= km[:, 0] - 3.5 * sd) and np.all(hi >= km[:, 0] + 3.5 * sd)
    # an edge at 0.9 c deviations holds a tail of Phi(-4.5) = 3.4e-6 on each side
    assert res.mass_lost.max() < 2 * norm.sf(0.9 * C)  # measured 1.35e-6
    assert np.abs(res.probabilities.sum(axis=1) - 1.0).max() < 1e-12
    for k in (0, 50, 99):
        g = res.grid_at(k)
        assert g.lower[0] == res.lower[k, 0]
        assert g.upper[0] == pytest.approx(res.lower[k, 0] + W[k], rel=1e-14)
        assert g.boundary == res.boundaries[k] == ("absorbing",)
        np.testing.assert_array_equal(res.marginal(k, 0), res.probabilities[k])
        assert g.centers[0] @ res.probabilities[k] == pytest.approx(res.mean[k, 0], abs=1e-13)


# ---------------------------------------------------------------------------------------------
# 4. the periodic seam
# ---------------------------------------------------------------------------------------------
def test_window_crosses_the_seam(circle):
    """The posterior (sd 0.046--0.050) rotates across +-pi. The window (48 cells of 0.011)
    against the plain Filter on 2048 cells of the whole circle: circular means within
    ``h^2 + h_ref^2 = 1.3e-4`` (measured 4.5e-5), deviations too (measured 8.9e-5)."""
    res = circle["numba-h", "numba"]
    times, ys, prior = circle["times"], circle["ys"], circle["prior"]
    fine, ref = circle_reference(prior, times, ys)
    n = CIRCLE_GRID.cells[0]
    W = res.widths[:, 0] * n
    h = res.widths[:, 0].max()
    tol = h**2 + fine.widths[0] ** 2
    assert h < 0.012  # measured 0.0112
    ref_mean = circular_mean(fine.centers[0], ref.probabilities)
    win_mean = np.array(
        [circular_mean(res.grid_at(k).centers[0], res.probabilities[k]) for k in range(len(times))]
    )
    assert np.abs(wrap(win_mean - ref_mean, 2 * np.pi)).max() < tol
    # the reported means are wrapped into [-pi, pi)
    assert np.all((res.mean[:, 0] >= -np.pi) & (res.mean[:, 0] < np.pi))
    assert np.abs(wrap(res.mean[:, 0] - ref_mean, 2 * np.pi)).max() < tol
    ref_sd = np.sqrt(
        [
            ref.probabilities[k] @ wrap(fine.centers[0] - ref_mean[k], 2 * np.pi) ** 2
            for k in range(len(times))
        ]
    )
    assert np.abs(res.std[:, 0] - ref_sd).max() < tol
    # the window straddles the seam (measured: 25 updates past +pi, 25 past -pi)
    straddles = (res.lower[:, 0] < np.pi) & (res.lower[:, 0] + W > np.pi)
    straddles |= (res.lower[:, 0] < -np.pi) & (res.lower[:, 0] + W > -np.pi)
    assert straddles.sum() >= 10
    assert all(b == ("absorbing",) for b in res.boundaries)  # a part of the circle
    assert np.all(W < 0.6)  # measured 0.54 at most (whole circle: 6.28)
    assert res.mass_lost.max() < 2 * norm.sf(0.9 * C)  # measured 1.6e-6
    assert np.abs(res.probabilities.sum(axis=1) - 1.0).max() < 1e-12
    # the mean went once across the seam: from 2.80 to -2.85 (wrapped)
    assert res.mean[0, 0] > 2.7 and res.mean[-1, 0] < -2.7


def test_window_zooms_in_on_a_density_that_starts_on_the_seam():
    """The same rotation from ``N(3.12, 0.05^2)``, 0.4 deviations from +pi. On the whole circle
    the window's statistics start at its emptiest cell, so the density on the seam is seen
    whole and the window zooms in at once. (With statistics linear in [lower, upper) it stayed
    the whole circle, 48 cells of 0.13 against the posterior's sd 0.05, for 36 updates, and the
    circular means missed the fine reference by up to 0.067.)"""
    times, ys = circle_data(3.12)
    prior = wrapped_normal(3.12, CIRCLE_P0)
    sde = pfda.SDE(drift=circle_drift, diffusion=CIRCLE_SIGMA**2)
    obs = pfda.GaussianObservation(h=circle_h, noise_cov=CIRCLE_R)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PfdaWarning)
        res = pfda.WindowFilter(CIRCLE_GRID, sde, obs).run(prior, times, ys)
    fine, ref = circle_reference(prior, times, ys)
    ref_mean = circular_mean(fine.centers[0], ref.probabilities)
    win_mean = np.array(
        [circular_mean(res.grid_at(k).centers[0], res.probabilities[k]) for k in range(len(times))]
    )
    # as in test_window_crosses_the_seam: a window of about 10 posterior deviations, and its
    # tolerance h^2 + h_ref^2 for h = 0.0112
    assert np.all(res.widths[:, 0] * CIRCLE_GRID.cells[0] < 0.6)
    assert np.abs(wrap(win_mean - ref_mean, 2 * np.pi)).max() < 1.3e-4
    assert np.abs(wrap(res.mean[:, 0] - ref_mean, 2 * np.pi)).max() < 1.3e-4


# ---------------------------------------------------------------------------------------------
# 5. the window grows
# ---------------------------------------------------------------------------------------------
def variable_noise_observation():
    """``y = (x + v, R)`` with ``v ~ N(0, R)``: each observation carries its own variance."""

    def log_likelihood(y, x):
        return -0.5 * (y[0] - x[0]) ** 2 / y[1] - 0.5 * np.log(2 * np.pi * y[1])

    return pfda.Observation(log_likelihood, dim=2)


def test_window_grows_when_observations_stop_informing():
    """OU ``dx = -x dt + 0.5 dW`` from a prior ``N(0, 4)`` (a window of 20): 40 observations
    (R = 0.25, every 0.002) narrow it to sd 0.105, then 100 with R = 100 (every 0.005) let it
    spread to 0.28. Measured: the window narrows to 1.27 and grows back in three remaps to 2.54
    (within RHO of 2c sd); the mass lost per interval stays under ``2 Phi(-c / RHO) = 6.3e-5``,
    the tail beyond an edge that may come as close as c / RHO deviations before the remap
    (measured 3.6e-5); the variance within 1% of the Kalman filter's (measured 0.26%)."""
    K1, K2 = 40, 100
    times = np.r_[0.002 * np.arange(1, K1 + 1), 0.08 + 0.005 * np.arange(1, K2 + 1)]
    R = np.r_[np.full(K1, 0.25), np.full(K2, 100.0)]
    rng = np.random.default_rng(0)
    x, t, ys = 0.5, 0.0, []
    for tk, r in zip(times, R, strict=True):
        x = (
            x * math.exp(-(tk - t))
            + math.sqrt(OU_D / 2 * -math.expm1(-2 * (tk - t))) * rng.normal()
        )
        t = tk
        ys.append([x + math.sqrt(r) * rng.normal(), r])
    ys = np.array(ys)
    m1, P1, _ = kalman_filter([[-1.0]], [[OU_D]], [[1.0]], [[0.25]], [0.0], [[4.0]], times[:K1],
                              ys[:K1, 0])  # fmt: skip
    m2, P2, _ = kalman_filter([[-1.0]], [[OU_D]], [[1.0]], [[100.0]], m1[-1], P1[-1], times[K1:],
                              ys[K1:, 0], t0=times[K1 - 1])  # fmt: skip
    var = np.r_[P1[:, 0, 0], P2[:, 0, 0]]
    mean = np.r_[m1[:, 0], m2[:, 0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PfdaWarning)
        res = pfda.WindowFilter(DOMAIN, OU_SDE, variable_noise_observation()).run(
            lambda g: pfda.gaussian(g, [0.0], [[4.0]]), times, ys
        )
    W = res.widths[:, 0] * DOMAIN.cells[0]
    assert W[K1 - 1] < 2 * C * 2.0 / 10  # a tenth of the prior's 10 deviations (measured 1.27)
    assert W[-1] > 1.5 * W[K1 - 1]  # grew: measured 2.54
    assert np.all(np.diff(W[K1:]) >= 0)  # only grew while the density spread
    assert res.remaps[K1:].sum() >= 2  # measured 3
    sd_end = math.sqrt(var[-1])
    assert 2 * C * sd_end / RHO <= W[-1] <= RHO * 2 * norm.isf(TAIL) * sd_end
    assert res.mass_lost[K1:].max() < 2 * norm.sf(C / RHO)
    np.testing.assert_allclose(res.cov[K1:, 0, 0], var[K1:], rtol=0.01)
    # measured 1.9e-4 (1e-3 when the first update ran on the prior's cells of 0.45)
    assert np.abs(res.mean[K1:, 0] - mean[K1:]).max() < 0.1 * math.sqrt(var[K1:].min())


def test_window_keeps_up_with_diffusion_in_an_interval():
    """``dx = 0.5 dW`` observed with R = 0.01 every 0.1 (posterior sd 0.088, the prediction's
    0.18): without drift an interval is one step, the window of +-5 posterior deviations is
    +-2.5 predicted ones at its end. Measured: 1.45e-2 of the mass lost per interval (27% in
    20), far above the library's own warning level 1e-3 (with OU drift -x, 5e-4 per interval;
    with a constant drift 1 taking 4 cells per step, 6e-3)."""
    sde = pfda.SDE(drift=lambda x: 0.0 * x, diffusion=0.25)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=0.01)
    times = 0.1 * np.arange(1, 21)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PfdaWarning)
        res = pfda.WindowFilter(DOMAIN, sde, obs).run(
            lambda g: pfda.gaussian(g, [0.0], [[0.01]]), times, np.zeros((20, 1))
        )
    assert res.mass_lost.max() < 1e-3


# ---------------------------------------------------------------------------------------------
# 6. a reflecting wall
# ---------------------------------------------------------------------------------------------
WALL_SDE = pfda.SDE(drift=lambda x: np.full_like(x, -2.0), diffusion=0.09)
WALL_LAMBDA = 0.09 / (2 * 2.0)  # stationary density exp(-x / lambda) / lambda, mean lambda


@pytest.fixture(scope="module")
def wall():
    """``dx = -2 dt + 0.3 dW`` on [0, 10] (reflecting) from ``N(3, 0.01)``, observed with
    R = 1e6 (no information) every 0.1 for 3 time units: the density reaches the wall at about
    t = 1.5 and settles into the exponential of scale ``lambda = 0.0225``."""
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=1e6)
    times = 0.1 * np.arange(1, 31)
    ys = np.zeros((30, 1))
    prior = lambda g: pfda.gaussian(g, [3.0], [[0.01]])  # noqa: E731
    return obs, times, ys, prior


def test_window_against_a_reflecting_wall(wall):
    """Steps limited to ``dt = 0.002`` (Courant 0.36 on the final window): the window (48 cells
    of 0.011) touches the wall, takes its reflecting boundary and loses no mass there (only
    what a remap to a narrower window drops, under the tail 1e-7 per side: measured 2.4e-8).
    Means: the window's 0.02357, the plain Filter's on 4000 cells 0.02262, exact 0.0225:
    within ``h^2 / lambda = 5.5e-3``, a second-order budget on the scale of the boundary layer
    (measured 1.1e-3 from the exact; on full grids the error falls as h^1.6)."""
    obs, times, ys, prior = wall
    domain = pfda.Grid([0.0], [10.0], [48])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PfdaWarning)  # the approach loses 2e-4 per interval
        res = pfda.WindowFilter(domain, WALL_SDE, obs, dt=0.002).run(prior, times, ys)
    at_wall = res.lower[:, 0] == 0.0
    assert at_wall[-10:].all() and not at_wall[0]
    assert all(res.boundaries[k] == ("reflecting",) for k in np.flatnonzero(at_wall))
    first = int(np.argmax(at_wall))
    # from the first interval that starts at the wall (the one that reaches it still had an
    # absorbing edge on that side for a while: measured 1.1e-4)
    assert res.mass_lost[first + 1 :].max() < TAIL
    assert np.abs(res.probabilities.sum(axis=1) - 1.0).max() < 1e-12
    h = res.widths[-1, 0]
    assert h < 0.012  # measured 0.011 (the domain's cells: 0.21)
    fine = pfda.Grid([0.0], [10.0], [4000])
    ref = pfda.Filter(fine, WALL_SDE, obs, scheme="split-ppm", dt=10.0 / 4000 / 4).run(
        prior(fine), times, ys
    )
    tol = h**2 / WALL_LAMBDA
    assert abs(res.mean[-1, 0] - ref.mean[-1, 0]) < tol
    assert abs(res.mean[-1, 0] - WALL_LAMBDA) < tol
    assert abs(res.std[-1, 0] - WALL_LAMBDA) < tol  # the exponential's sd is lambda too
    assert abs(ref.mean[-1, 0] - WALL_LAMBDA) < (10.0 / 4000) ** 2 / WALL_LAMBDA


def test_window_against_a_reflecting_wall_with_default_steps(wall):
    """The same run with the default steps (4 cells per step on the lines of the constant
    drift): measured mean 0.0297 against 0.0225 (32%; 0.0236 with dt = 0.002)."""
    obs, times, ys, prior = wall
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PfdaWarning)
        wf = pfda.WindowFilter(pfda.Grid([0.0], [10.0], [48]), WALL_SDE, obs)
        res = wf.run(prior, times, ys)
    h = res.widths[-1, 0]
    assert abs(res.mean[-1, 0] - WALL_LAMBDA) < h**2 / WALL_LAMBDA


# ---------------------------------------------------------------------------------------------
# 7. bad input
# ---------------------------------------------------------------------------------------------
def test_bad_input():
    grid = pfda.Grid([0.0], [1.0], [8])
    sde = pfda.SDE(drift=lambda x: -x, diffusion=0.1)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=0.1)
    for hw in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="half_width must be positive and finite"):
            pfda.WindowFilter(grid, sde, obs, half_width=hw)
    for rho in (1.0, 0.5, np.nan, np.inf):
        with pytest.raises(ValueError, match="remap_ratio must be a finite number > 1"):
            pfda.WindowFilter(grid, sde, obs, remap_ratio=rho)
    for tail in (-1e-9, 0.5, 1.0, np.nan):
        with pytest.raises(ValueError, match=r"tail must be in \[0, 0.5\)"):
            pfda.WindowFilter(grid, sde, obs, tail=tail)
    for mw in (0.0, -0.1, 1.5, np.nan, np.inf, [0.0]):
        with pytest.raises(ValueError, match="min_width must be positive and at most"):
            pfda.WindowFilter(grid, sde, obs, min_width=mw)
    with pytest.raises(ValueError, match="unknown method 'jit'"):
        pfda.WindowFilter(grid, sde, obs, method="jit")
    with pytest.raises(ValueError, match="method='numba' needs a split scheme"):
        pfda.WindowFilter(grid, sde, obs, method="numba")  # a vectorised drift
    jitted = pfda.SDE(drift=circle_drift, diffusion=0.1)
    for scheme in ("implicit", "explicit"):
        with pytest.raises(ValueError, match="method='numba' needs a split scheme"):
            pfda.WindowFilter(grid, jitted, obs, scheme=scheme, method="numba")

    @numba.njit
    def in_time(x, t):  # never compiled: refused before
        return (-x[0] * t,)

    with pytest.raises(ValueError, match="method='numba' needs a split scheme"):
        pfda.WindowFilter(grid, pfda.SDE(drift=in_time, diffusion=0.1), obs, method="numba")
    # what "auto" picks
    assert pfda.WindowFilter(grid, jitted, obs).method == "numba"
    assert pfda.WindowFilter(grid, jitted, obs, scheme="implicit").method == "python"
    assert pfda.WindowFilter(grid, sde, obs).method == "python"
    # the scheme and the model are checked as by pfda.Filter
    with pytest.raises(ValueError, match="unknown scheme 'rk4'"):
        pfda.WindowFilter(grid, sde, obs, scheme="rk4")
    nan_drift = pfda.SDE(drift=lambda x: np.where(x > 0.5, np.nan, -x), diffusion=0.1)
    with pytest.raises(ValueError, match="NaN or inf"):
        pfda.WindowFilter(grid, nan_drift, obs)


def test_min_width_of_the_wrong_length_is_named():
    grid = pfda.Grid([0.0], [1.0], [8])
    sde = pfda.SDE(drift=lambda x: -x, diffusion=0.1)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=0.1)
    with pytest.raises(ValueError, match="min_width"):
        pfda.WindowFilter(grid, sde, obs, min_width=[0.1, 0.2])


@pytest.mark.parametrize("method", ["numba", "python"])
def test_nan_drift_on_the_window(method):
    """A drift that is finite on the domain [10 - 2 pi, 10) but NaN from 10.1 on, where the
    window's unwrapped coordinates go when it straddles the seam (the drift must be periodic
    there, and this one is not): caught on the window, not only on the domain."""
    lo, hi = 10.0 - 2 * np.pi, 10.0
    grid = pfda.Grid([lo], [hi], [48], boundary="periodic")
    sde = pfda.SDE(drift=circle_drift, diffusion=CIRCLE_SIGMA**2)
    obs = pfda.GaussianObservation(h=circle_h, noise_cov=CIRCLE_R)
    wf = pfda.WindowFilter(grid, sde, obs, method=method)  # the domain is fine
    m0 = hi - 0.35
    times = CIRCLE_DT * np.arange(1, 61)
    ys = np.array([[math.sin(m0 + OMEGA * t), math.cos(m0 + OMEGA * t)] for t in times])
    with pytest.raises(ValueError, match="drift returned NaN or inf at a face centre"):
        wf.run(wrapped_normal(m0, CIRCLE_P0), times, ys)


# ---------------------------------------------------------------------------------------------
# 8. a linear (non-split) scheme runs through the Python path
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["implicit", "explicit"])
def test_linear_schemes_on_the_window(ou, scheme):
    """The linear schemes' fluxes (Scharfetter--Gummel here: cell Peclet numbers ~0.4) and
    their time steps (backward Euler over each 0.002 interval; explicit Euler at the CFL step)
    are first order somewhere, so the tolerance is a first-order budget, a quarter of the
    window's cell (0.0057), against the split-ppm window and the Kalman filter alike.
    Measured: implicit misses the Kalman mean by 1.7e-3 and the sd by 2.7e-3, explicit by
    8.3e-4 and 1.3e-3 (split-ppm: 1.3e-4, 2e-4)."""
    times, ys, km, kP, _ = ou
    res = run_window(DOMAIN, times, ys, scheme=scheme)
    ppm = run_window(DOMAIN, times, ys)
    assert pfda.WindowFilter(DOMAIN, OU_SDE, OU_OBS, scheme=scheme).method == "python"
    tol = ppm.widths[:, 0].max() / 4
    assert np.abs(res.mean - ppm.mean).max() < tol
    assert np.abs(res.std - ppm.std).max() < tol
    assert np.abs(res.mean[:, 0] - km[:, 0]).max() < tol
    assert np.abs(res.std[:, 0] - np.sqrt(kP[:, 0, 0])).max() < tol
    assert np.abs(res.mean - ppm.mean).max() > 1e-5  # another scheme indeed
    # the window moved with the density under this scheme too
    assert np.count_nonzero(np.diff(res.lower[:, 0])) >= 3
    assert res.mass_lost.max() < 2 * norm.sf(0.9 * C)


# ---------------------------------------------------------------------------------------------
# 10. a Gaussian observation of a Numba point h
# ---------------------------------------------------------------------------------------------
@numba.njit
def h_one(x):
    return (np.sin(x[0]) + 0.5 * x[1],)


@numba.njit
def h_two(x):  # an array, not a tuple
    return np.array([x[0] * x[1], np.cos(x[1])])


@pytest.mark.parametrize("p", [1, 2])
def test_gaussian_observation_of_a_numba_point_h(rng, p):
    """The point ``h`` and the same ``h`` vectorised give the log-likelihoods of
    ``scipy.stats.multivariate_normal`` (a full R for p = 2), on point sets and on a grid's
    cells (all, or a mask)."""
    if p == 1:
        point, R = h_one, 0.3
        vectorised = lambda x: (np.sin(x[0]) + 0.5 * x[1])[None, :]  # noqa: E731
    else:
        point, R = h_two, np.array([[0.5, 0.2], [0.2, 0.3]])
        vectorised = lambda x: np.vstack([x[0] * x[1], np.cos(x[1])])  # noqa: E731
    by_point = pfda.GaussianObservation(h=point, noise_cov=R)
    by_array = pfda.GaussianObservation(h=vectorised, noise_cov=R)
    assert by_point.jitted and not by_array.jitted
    y = rng.normal(size=p)

    def reference(x):
        hx = vectorised(x)
        return np.array(
            [multivariate_normal.logpdf(y, hx[:, j], np.atleast_2d(R)) for j in range(x.shape[1])]
        )

    x = rng.normal(size=(2, 40))
    np.testing.assert_allclose(by_point.predict(x), vectorised(x), rtol=1e-15, atol=1e-15)
    for obs in (by_point, by_array):
        np.testing.assert_allclose(obs.log_likelihood(y, x), reference(x), rtol=1e-12)
    grid = pfda.Grid([-1.0, -2.0], [1.0, 2.0], [6, 7])
    mask = rng.random(grid.size) < 0.6
    for m in (None, mask):
        centres = grid.centers if m is None else grid.centers[:, m]
        for obs in (by_point, by_array):
            for _ in range(2):  # the second call reuses h on the grid's centres
                got = obs.log_likelihood_on_grid(y, grid, m)
                np.testing.assert_allclose(got, reference(centres), rtol=1e-12)
    with pytest.raises(ValueError, match=f"(y|observation) has (length )?{p + 1}"):
        by_point.log_likelihood_on_grid(np.zeros(p + 1), grid)


def bayes_reference(p, ll):
    """Posterior and log evidence of prior masses ``p`` and log-likelihoods ``ll``, in logs."""
    with np.errstate(divide="ignore"):
        a = np.log(p) + ll
    top = a.max()
    w = np.exp(a - top)
    return w / w.sum(), top + math.log(w.sum()) - math.log(p.sum())


@pytest.mark.parametrize("far", [False, True], ids=["ordinary", "underflow"])
def test_compiled_bayes_update_against_logs(rng, far):
    """The compiled update weighs with one exponential per cell, ``p exp(log g - best)``; where
    those weights underflow (``far``: the prior's mass sits where the likelihood is e^-800 of its
    best) it falls back to logs. Both against the log-space reference, to round-off; the
    one-exponential weights alone would give the far cells 0 instead of ~1e-48 of the mass."""
    from pfda import _windowcore as core

    p = rng.random(50) ** 2
    p[7] = 0.0  # a cell without mass: no weight, whatever its likelihood
    ll = -rng.random(50) * 30
    ll[7] = -np.inf
    if far:
        p[3], ll[3] = 1e-300, 0.0  # the best likelihood, on a cell with almost no mass
        ll[np.arange(50) != 3] -= 800.0
        ll[7] = -np.inf
    best = ll[p > 0].max()
    want, evidence = bayes_reference(p, ll)
    q, w = p.copy(), np.empty(50)
    top = core.weigh(q, ll, best, w)
    assert (top == best) != far  # the fallback ran exactly when the weights underflowed
    incr, status = core.bayes(q, ll, best, w, p.sum(), top)
    assert status == core.DONE
    np.testing.assert_allclose(q, want, rtol=1e-12, atol=0)
    assert q[7] == 0.0
    assert incr == pytest.approx(evidence, rel=1e-13)
    q2 = p.copy()  # bayes weighs by itself when top is nan
    assert core.bayes(q2, ll, best, w, p.sum(), math.nan)[1] == core.DONE
    np.testing.assert_array_equal(q2, q)
    # no cell with mass: no support
    assert core.bayes(np.zeros(3), np.zeros(3), -math.inf, np.empty(3), 1.0, math.nan)[1] == (
        core.NO_SUPPORT
    )


def test_shifted_faces_are_the_frame_evaluation():
    """When the compiled window moves by whole cells, the face velocities move with it and the
    drift is evaluated only on the new faces, at centres counted from the box where every face
    was last evaluated. So each line of the pendulum keeps one velocity to the last bit (the
    large steps on lines of one velocity stay on), and the velocities are those of a whole
    evaluation on the current box to round-off."""
    from pfda.window import _State

    sde = pfda.SDE(drift=pendulum_drift, diffusion=[0.0, 0.01])
    obs = pfda.GaussianObservation(h=pendulum_h, noise_cov=0.1)
    wf = pfda.WindowFilter(PENDULUM_GRID, sde, obs, method="numba")
    state = _State(*wf._initial(lambda g: pfda.gaussian(g, [1.0, 2.0], [0.01, 0.01])))
    n0, n1 = PENDULUM_GRID.cells
    reused = 0
    for k in range(40):
        wf._advance_numba(state, 0.01 * k, 0.01 * (k + 1), k > 0)
        frame = state.work[-2]
        if state.info[1] != 1.0 or not frame[1].any():
            continue  # the faces were evaluated whole on this box
        reused += 1
        vel_up = state.work[0]
        along0 = vel_up[0].reshape(n0, n1)  # x1' = x2: one value down each column
        along1 = vel_up[1].reshape(n0, n1)  # x2' = -g sin(x1): one value along each row
        assert np.all(along0 == along0[:1, :]) and np.all(along1 == along1[:, :1])
        whole, _ = pfda.assembly.face_velocities(state.grid, sde)
        np.testing.assert_allclose(vel_up, whole, rtol=1e-13, atol=1e-13)
    assert reused > 10  # the window moved without a remap (measured: 33 of 40 intervals)


@pytest.mark.parametrize("cells", [(7,), (5, 6), (3, 4, 5)])
def test_compiled_shift_moments_and_marginals(rng, cells):
    """The line-by-line kernels against NumPy: the shift by whole cells (every sign, and past
    the whole array), the mean and covariance, the marginals of the window statistics."""
    from pfda import _windowcore as core

    d = len(cells)
    grid = pfda.Grid(-rng.random(d), 1 + rng.random(d), list(cells))
    strides = tuple(int(s) for s in grid.strides)
    p = rng.random(grid.size)
    p[rng.random(grid.size) < 0.2] = 0.0
    for _ in range(12):
        steps = rng.integers(-max(cells) - 1, max(cells) + 2, size=d)
        want = np.zeros(cells)
        src = p.reshape(cells)
        dst = tuple(slice(max(0, -s), min(n, n - s)) for s, n in zip(steps, cells, strict=True))
        srcs = tuple(slice(max(0, s), min(n, n + s)) for s, n in zip(steps, cells, strict=True))
        if all(a.start < a.stop for a in dst):
            want[dst] = src[srcs]
        q, tmp = p.copy(), np.empty(grid.size)
        lost = core.shift_cells(q, tmp, cells, strides, steps)
        np.testing.assert_array_equal(q, want.ravel())
        assert lost == pytest.approx(p.sum() - want.sum(), abs=1e-12)
    x = grid.centers
    w = p / p.sum()
    mean, cov = np.empty(d), np.empty((d, d))
    core.moments(p, cells, grid.lower, grid.widths, mean, cov)
    np.testing.assert_allclose(mean, x @ w, rtol=1e-13)
    np.testing.assert_allclose(cov, (x - (x @ w)[:, None]) * w @ (x - (x @ w)[:, None]).T,
                               rtol=1e-12, atol=1e-15)  # fmt: skip
    marg, out = np.empty((d, max(cells))), np.empty((3, d))
    codes = np.full(d, core.ABSORBING)
    core.window_stats(p, cells, grid.lower, grid.widths, C, TAIL, RHO, codes, grid.lower - 1,
                      grid.upper + 1, np.zeros(d, dtype=np.int64), marg, out)  # fmt: skip
    for k in range(d):
        others = tuple(j for j in range(d) if j != k)
        np.testing.assert_allclose(marg[k, : cells[k]], p.reshape(cells).sum(axis=others),
                                   rtol=1e-13)  # fmt: skip


@pytest.mark.parametrize("cells", [(9,), (6, 5), (1, 4), (3, 4, 5)])
@pytest.mark.parametrize("boundary", ["periodic", "absorbing", "reflecting"])
def test_compiled_faces_against_the_split_faces(rng, cells, boundary):
    """The window kernel's ``a``, ``g`` (upper faces) and ``a_lo``, ``g_lo`` (lower outer
    faces, at the first cell of each line) and positive step, from random face velocities,
    against :class:`pfda.highres._Faces` (NumPy, line layout), every axis and boundary."""
    from pfda import _windowcore as core
    from pfda.highres import UNIFORM_COURANT, _Faces, _lines

    d = len(cells)
    grid = pfda.Grid(np.zeros(d), 1 + rng.random(d), list(cells), boundary=boundary)
    vel_up = rng.normal(size=(d, grid.size))
    vel_lo = rng.normal(size=(d, grid.size))
    faces = _Faces(grid, vel_up, vel_lo)
    taus = []
    for k in range(d):
        a, g, a_lo, g_lo = (np.full(grid.size, np.nan) for _ in range(4))
        core._axis_faces(vel_up, vel_lo, k, cells[k], int(grid.strides[k]), grid.widths[k],
                         grid.periodic[k], grid.absorbing[k], a, g, a_lo, g_lo)  # fmt: skip
        want_a, want_g, want_alo, want_glo = faces.axes[k]
        np.testing.assert_allclose(_lines(a, grid, k), want_a, rtol=1e-14, atol=0)
        np.testing.assert_allclose(_lines(g, grid, k), want_g, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(_lines(a_lo, grid, k)[:, 0], want_alo, rtol=1e-14, atol=0)
        np.testing.assert_allclose(_lines(g_lo, grid, k)[:, 0], want_glo, rtol=1e-12, atol=1e-13)
        taus.append(core._axis_positive_step(a, g, a_lo, g_lo, cells[k], int(grid.strides[k]),
                                             grid.periodic[k], grid.absorbing[k],
                                             UNIFORM_COURANT))  # fmt: skip
    assert min(taus) == pytest.approx(faces.positive_step(), rel=1e-13)
