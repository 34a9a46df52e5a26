"""One filter, both meshes: pfda.Filter on a fixed grid and on a moving window, through the same
code, against exact filters and a particle filter.

* 1-D Ornstein--Uhlenbeck and the 2-D damped oscillator observed linearly: the exact filter is
  the Kalman filter (tests/references.py), so posterior means, deviations and the log-evidence
  are known exactly.
* The Benes SDE ``dx = tanh(x) dt + dW``: the exact posterior ``cosh(x) N(x; m, P)``, whose cell
  masses are exact in terms of the normal CDF.
* The pendulum (nonlinear, periodic angle, no diffusion on the angle): a seeded 10^5-particle
  bootstrap particle filter.

Error budget: discretisation. Both schemes used here are second order in the cell width ``h``:
``exponential`` (Scharfetter--Gummel flux, exact in time for the semi-discrete system) and
``split-ppm`` (Strang splitting, second order in the step, of limited PPM advection and the
diffusion; its default step is the positivity limit, proportional to ``h``, so its time error
is ``O(h^2)`` too).
Moments of cell masses placed at the centres cost Sheppard's ``h^2/12`` in the variance and the
midpoint rule for the likelihood integral ``h^2/24 E[g'']`` in the evidence. As in
test_reference_filters.py, the constant of ``C h^2`` is of order one in the units of the state
for the order-one-wide densities here, so each absolute tolerance is ``h^2`` (``h``: the
coarsest cell of any update: the grid's on a fixed mesh, the widest window cell on a window),
``h^2 / (2 s)`` for a deviation ``s`` (``d sd = d var / (2 sd)``), ``sum_k h^2 / (8 S_k)`` for
the log-evidence (``S_k`` the innovation variances) and, for a density, a Hellinger distance
``(h / s)^2 / (2 sqrt 2)`` (a relative density error ``(h/s)^2`` gives
``H ~ rms(error) / (2 sqrt 2)``). Where possible the ORDER is checked: the least-squares slope of
``log error`` against ``log h`` over three resolutions (``n``, ``2n``, ``4n`` cells) must be at
least ``2 - 0.3``, over a range where ``h^2`` dominates the error: fine enough to be past the
coarse-grid transient (``error / h^2`` at the coarsest resolution within about 15% of its value at
finer ones, which moves the slope by at most 0.1), coarse enough to stay above the window's edge
floor (below), and, for ``split-ppm``, where its time error has settled (the maximum errors over
the updates are not a clean power of ``h`` below 200 cells on OU, on either mesh).

Error budget: the window's edges. A window's edges inside the domain are absorbing: the mass
``eps_k`` that leaves before update ``k`` is recorded in ``FilterResult.mass_lost`` (0 on the
reflecting fixed grids here), and the filter renormalises what is left. Removing mass ``eps``
from at most ``r`` away from the mean moves the mean by at most ``eps r / (1 - eps)`` and the
variance by at most ``eps (r^2 + var) / (1 - eps)``, the Hellinger distance by at most
``sqrt(eps / 2)`` (``1 - sqrt(1 - eps) <= eps / 2``; with ``eps`` the total lost, as the
propagation, a Markov operator, cannot increase a Hellinger distance and the updates are taken
not to amplify it), and an evidence increment by at most
``eps (1 + g_max / p(y_k | y_{1:k-1}))`` (the removed mass saw a likelihood of at most its peak
``g_max``). The window's centre is within a twentieth of its width ``W`` of the mean (the shift
slack), so ``r <= 0.55 W``. These terms are added to the window's tolerances; they vanish on
the fixed mesh.

Where the edges lie. The widths that need no remap form the band ``[W / sqrt(rho), rho W]`` about
the target ``W`` (the hull of ``mu +- c s``, ``c = half_width``; ``rho = remap_ratio = 1.25``), and
a remap takes ``W``. So a window may be as narrow as ``W / sqrt(rho)``, and with the shift slack
(``W / 20``, ``c / 10`` deviations) its open edges stay at least ``c / sqrt(rho) - c / 10``
deviations from the mean: ``4.47 - 0.5 = 3.97`` at the default ``c = 5``. An absorbing edge there
takes at most twice the Gaussian tail beyond it (reflection principle), on each of two sides: at
most ``4 Q(3.97) = 1.4e-4`` of the mass an interval. Measured on OU (12 to 400 cells, both
schemes): at most 7.3e-5 an interval at ``c = 5`` (5.4e-5 at 200 cells; 8e-4 to 1e-3 over the 20
updates at 200 to 400 cells), 1.2e-6 at ``c = 6``, 5.9e-9 at ``c = 7`` and 1e-10 at ``c = 8``; on
Benes at most 1.1e-4, on the oscillator 6.9e-5, on the pendulum 1.7e-5.

The edge floor. What the edges take does not shrink with ``h``, so the default window's errors
level off at a floor ``F``, measured at 400 cells, where the ``h^2`` part is a few percent of it
(on OU a ``c = 8`` window, which loses nothing measurable, has errors of 3e-5 with wider cells,
0.016): on OU, mean, deviation and log-evidence errors 8.4e-4, 9.4e-4 and 1.2e-4 (exponential;
split-ppm 8.3e-4, 1.0e-3, 1.4e-4), flat from about 100 cells (``h = 0.048``; at 200 cells the mean
and deviation errors are above their ``h^2`` tolerances and within the edge terms); on Benes a
Hellinger distance of 1.5e-3 (200 cells: 1.25e-3; mean, variance and increments 6.4e-5, 3.9e-4,
5.1e-5). A floor moves a slope over a factor 4 in ``h`` by at most
``(log(1 + F / e_f) - log(1 - F / e_c)) / log 4`` (``e_f``, ``e_c``: the errors at the finest and
the coarsest resolution), 0.22 for ``F <= e_f / 3``; so an order is checked on a window only over
resolutions where ``F <= e_f / 3`` and the coarsest is past the transient:

* Benes, the default window: 16, 32 and 64 cells (``F / e_f = 0.30`` on the Hellinger distance,
  5.1e-3 at 64 cells, and at most 0.07 on the rest; ``error / h^2`` at 16 cells within 12% of its
  value at 64 cells, 17% of that at 160). At 100 cells ``F / e_f = 0.7``; over 50 to 200 cells the
  Hellinger slope is 1.38.
* OU, the default window: no such range (strict xfail). ``F <= e_f / 3`` needs ``e_f >= 2.8e-3``
  on the deviation and ``2.5e-3`` on the mean, that is at most 25 cells (3.1e-3 and 4.1e-3; at 32
  cells 9.7e-4 and 2.4e-3), and 6 cells are far from asymptotic (at 12 cells ``error / h^2`` is 0.7
  of its 25-to-50-cell value on the mean, 4 times it on the evidence). The window's OU order is
  checked at ``c = 6`` instead, 50 to 200 cells (its errors still fall as ``h^2`` to 400 cells,
  where they are 1.9e-5, 6.9e-6, 4.7e-6: ``F / e_f <= 0.26``), and at ``c = 8``, 100 to 400 cells
  (slow).
* the oscillator, the default window: 20, 40 and 80 cells a side (its errors still fall as
  ``h^2`` to 160 cells, 1.4e-4, 5.6e-5 and 4.3e-5, at most 0.24 of the 80-cell errors).
"""

from __future__ import annotations

import functools
import math
import warnings

import numba
import numpy as np
import pytest
from references import (
    benes_cell_masses,
    benes_filter,
    benes_moments,
    hellinger,
    kalman_filter,
    linear_sde_transition,
    loglog_slope,
    normal_cell_masses,
    pendulum_heun,
    pendulum_particle_filter,
    simulate_linear_observations,
)

import pfda

ORDER = 2.0
MARGIN = 0.3  # a fitted slope >= ORDER - MARGIN
EDGE_REACH = 0.55  # lost mass lies within half the window plus the shift slack (W / 20)

MESHES = [pytest.param("fixed", id="fixed"), pytest.param(pfda.Window(), id="window")]
WIDE = pfda.Window(half_width=8.0)  # edges 6.4 deviations out: nothing measurable lost
MID = pfda.Window(half_width=6.0)  # edges 4.8 deviations out: ~1e-6 lost an interval on OU


def run(grid, sde, obs, scheme, mesh, prior, times, ys):
    """One run of the filter; any pfda warning (mass lost, implausible y) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", pfda.PfdaWarning)
        flt = pfda.Filter(grid, sde, obs, scheme=scheme, mesh=mesh, progress=False)
        return flt.run(prior, times, ys)


def coarsest(res) -> float:
    """The widest cell of any update (the grid's on a fixed mesh)."""
    return float(res.widths.max())


def edge_terms(res, var_max: float, g_max: float = 0.0, evidence=None) -> dict:
    """The window's edge-loss budget (module notes); zeros on a fixed, reflecting grid."""
    eps = np.asarray(res.mass_lost, dtype=float)
    r = EDGE_REACH * float((res.widths * np.asarray(res.grid.cells)).max())
    keep = 1.0 - eps
    out = {
        "mean": float(np.sum(eps * r / keep)),
        "var": float(np.sum(eps * (r * r + var_max) / keep)),
        "hellinger": math.sqrt(float(np.sum(eps)) / 2.0),
    }
    if evidence is not None:
        out["evidence"] = float(np.sum(eps * (1.0 + g_max / np.exp(evidence))))
    return out


def slope(errs, key):
    return loglog_slope([e["h"] for e in errs], [e[key] for e in errs])


# ============================================================================================
# 1-D Ornstein--Uhlenbeck: dx = -x dt + dW, y_k = x_k + v_k, R = 0.25, every 0.25
# ============================================================================================
OU = dict(theta=1.0, D=1.0, R=0.25, m0=0.5, P0=0.5, L=6.0)
OU_TIMES = 0.25 * np.arange(1, 21)
OU_SCHEME = "split-ppm"


@functools.cache
def ou_data():
    rng = np.random.default_rng(3)
    F, D, R, m0, P0 = -OU["theta"], OU["D"], OU["R"], OU["m0"], OU["P0"]
    ys = simulate_linear_observations(rng, F, D, 1.0, R, m0, P0, OU_TIMES)
    km, kP, kinc = kalman_filter(F, D, 1.0, R, m0, P0, OU_TIMES, ys)
    # innovation variances S_k = P_pred + R for the evidence budget
    a = math.exp(-OU["theta"] * 0.25)
    P_pred = np.concatenate([[P0], kP[:-1, 0, 0]]) * a * a + D / 2 * (1 - a * a)
    return ys, km[:, 0], np.sqrt(kP[:, 0, 0]), kinc, P_pred + R


def ou_sde_obs():
    theta = OU["theta"]
    sde = pfda.SDE(drift=lambda x: -theta * x, diffusion=OU["D"])
    return sde, pfda.GaussianObservation(h=lambda x: x, noise_cov=OU["R"])


@functools.cache
def ou_run(cells: int, mesh, scheme: str = OU_SCHEME):
    ys, km, ksd, kinc, S = ou_data()
    L = OU["L"]
    grid = pfda.Grid(lower=[-L], upper=[L], cells=[cells])
    sde, obs = ou_sde_obs()
    res = run(grid, sde, obs, scheme, mesh, lambda g: pfda.gaussian(g, [OU["m0"]], [[OU["P0"]]]),
              OU_TIMES, ys)  # fmt: skip
    return {
        "res": res,
        "h": coarsest(res),
        "mean": float(np.max(np.abs(res.mean[:, 0] - km))),
        "sd": float(np.max(np.abs(res.std[:, 0] - ksd))),
        "evidence": abs(res.log_evidence - kinc.sum()),
    }


@pytest.mark.parametrize("mesh", MESHES)
def test_ou_matches_kalman(mesh):
    """200 cells (fixed: ``h = 0.06``, 6 cells per posterior deviation ``s >= 0.36``; the
    window: ``h <= 0.024``, 15.4). Tolerances ``h^2`` (mean), ``h^2 / (2 s_min)`` (deviation),
    ``sum_k h^2 / (8 S_k)`` (log-evidence), plus the edge terms on the window. Measured: fixed
    2.4e-4, 3.2e-4, 1.0e-3 against 3.6e-3, 5.0e-3, 1.7e-2; window 6.5e-4, 9.8e-4, 2.2e-4 against
    5.6e-4, 7.7e-4, 2.6e-3 before the edge terms (2.1e-3, 8.3e-3, 3.5e-3): its mean and
    deviation errors are the edge floor (module notes), above the ``h^2`` tolerances and within
    the edge terms. The window's edges lose at most 5.4e-5 an interval against the bound
    1.4e-4 below."""
    ys, km, ksd, kinc, S = ou_data()
    err = ou_run(200, mesh)
    res, h2 = err["res"], err["h"] ** 2
    s_min = ksd.min()
    var_max = float(np.max(S))  # every predicted variance is below P_pred + R
    g_max = 1.0 / math.sqrt(2 * math.pi * OU["R"])
    edge = edge_terms(res, var_max, g_max, kinc)
    assert err["mean"] < h2 + edge["mean"], (err["mean"], h2, edge)
    assert err["sd"] < (h2 + edge["var"]) / (2 * s_min), (err["sd"], h2, edge)
    assert err["evidence"] < np.sum(h2 / (8 * S)) + edge["evidence"], (err["evidence"], edge)
    assert np.abs(res.probabilities.sum(axis=1) - 1.0).max() < 1e-12
    if mesh == "fixed":
        assert res.mass_lost.max() == 0.0  # reflecting box: nothing leaves
    else:
        # the window does its job: its cells are at least twice as fine as the fixed grid's
        assert err["h"] < 0.5 * 2 * OU["L"] / 200
        # it is never narrower than W / sqrt(rho) (the band [W / sqrt(rho), rho W] about its
        # target W), so its edges stay >= c / sqrt(rho) - c / 10 = 4.47 - 0.5 = 3.97 predicted
        # deviations from the mean (c / 10: the shift slack W / 20): an absorbing edge there
        # takes at most twice the tail beyond it (reflection principle), on each of two sides
        c, rho = mesh.half_width, mesh.remap_ratio
        assert res.mass_lost.max() < 4 * _norm_sf(c / math.sqrt(rho) - c / 10)


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


EDGE_FLOOR = pytest.mark.xfail(
    strict=True,
    reason="the default window on OU: no range where h^2 dominates (module notes). Its errors "
    "level off at the edge floor from about 100 cells (400 cells: 8.4e-4, 9.4e-4, 1.2e-4), and a "
    "floor under a third of the finest error needs <= 25 cells, so 6 at the coarse end. Slopes "
    "at 25-100 cells: 1.28, 1.05, 1.45; 50-200: 0.08, -0.60, 1.28 (16-64 and 20-80 cells pass, "
    "1.74, 2.05, 2.84 and 1.87, 1.93, 2.53, but their finest errors lie below the floor)",
)
SPLIT_TIME = pytest.mark.xfail(
    strict=True,
    reason="split-ppm on the default window: no range where h^2 dominates. Its time error "
    "settles from about 200 cells (the fixed grid's slopes at 50-200 cells: 2.21, 1.44, 0.92; "
    "the window's at 25-100 cells with a step of 0.25/64: 1.78, 1.30, 1.37), where the window's "
    "errors are at the edge floor (400 cells: 8.3e-4, 1.0e-3, 1.4e-4; 100-400 cells: -0.07, "
    "0.02, 1.15). Slopes at 25-100 cells: 0.35, -0.22, 1.44",
)


@pytest.mark.parametrize(
    ("mesh", "scheme", "cells"),
    [
        pytest.param("fixed", "exponential", (50, 100, 200), id="fixed"),
        pytest.param("fixed", "split-ppm", (200, 400, 800), id="fixed-split-ppm"),
        pytest.param(pfda.Window(), "exponential", (25, 50, 100), id="window", marks=EDGE_FLOOR),
        pytest.param(pfda.Window(), "split-ppm", (25, 50, 100), id="window-split-ppm",
                     marks=SPLIT_TIME),
        pytest.param(MID, "exponential", (50, 100, 200), id="window-c6"),
        pytest.param(WIDE, "exponential", (100, 200, 400), id="window-c8", marks=pytest.mark.slow),
    ],
)  # fmt: skip
def test_ou_error_is_second_order(mesh, scheme, cells):
    """Mean, deviation and log-evidence errors fall as ``h^2`` (least-squares slopes over the
    three resolutions). ``exponential``: exact in time, the error is all spatial; the fixed grid
    at 50 to 200 cells; the default window has no range where ``h^2`` dominates (its edge floor:
    module notes; strict xfail at 25 to 100 cells), so the window is checked at ``half_width =
    6`` (edges 4.8 deviations out, 1.2e-6 lost an interval) at 50 to 200 cells (``h`` 0.099 to
    0.025; the floor at most 0.26 of the 200-cell errors) and ``half_width = 8`` at 100 to 400
    (slow; it is not yet asymptotic at 40 to 160 cells: 1.91, 1.49, 2.66). ``split-ppm`` on the
    fixed grid at 200 to 800 cells, where its time error has settled. Measured slopes: fixed
    2.00, 1.96, 1.98; fixed-split-ppm 1.99, 2.00, 1.96; window-c6 1.95, 2.12, 2.31; window-c8
    1.98, 1.94, 2.20; the strict xfails window 1.28, 1.05, 1.45 and window-split-ppm 0.35,
    -0.22, 1.44."""
    errs = [ou_run(n, mesh, scheme) for n in cells]
    for key in ("mean", "sd", "evidence"):
        assert slope(errs, key) > ORDER - MARGIN, (key, [e[key] for e in errs])


@pytest.mark.parametrize(
    "window", [pytest.param(pfda.Window(), id="window"), pytest.param(WIDE, id="c8")]
)
def test_window_within_fixed_error_at_equal_cells_per_sd(window):
    """A window of 64 cells against a fixed grid of the same cell width as the window's at the
    last update (so both have the same cells per posterior deviation): the fixed grid may be
    more accurate by at most a factor ``rho^3 + 1/2 ~ 2.5``: the window's widths drift in their
    band ``[W / sqrt(rho), rho W]`` about the target ``W`` (``rho = remap_ratio``), so its cells
    may be up to ``rho^(3/2)`` wider at other updates than at the last (one at the foot of the
    band, the other at its top: ``rho^3`` on an ``h^2`` error), and its remaps interpolate,
    second order. Exponential scheme: the error is all spatial. The default window's errors
    also hold its edge part (its edges lose up to 4.6e-5 of the mass an interval), which this
    factor does not budget: its floor in the module notes, 8e-4 to 9e-4 on the moments from 100
    cells on, exceeds these 64-cell errors (5.2e-4, 3.1e-4, 3.5e-4), so at 64 cells the edges
    happen to cost less, and the measured ratios leave room for them. Measured ratios (mean, sd,
    evidence; the fixed grid of 204 and 132 cells; the widths at other updates at most 1.15 and
    1.13 times the last): the default window 1.45, 0.78, 1.13; window-c8 (1e-10 lost an
    interval) 1.36, 1.08, 1.68."""
    scheme = "exponential"
    win = ou_run(64, window, scheme)
    h = float(win["res"].widths[-1, 0])
    fixed = ou_run(int(round(2 * OU["L"] / h)), "fixed", scheme)
    factor = window.remap_ratio**3 + 0.5
    for key in ("mean", "sd", "evidence"):
        assert win[key] <= factor * fixed[key], (key, win[key], fixed[key])


# ============================================================================================
# Benes: dx = tanh(x) dt + dW, y_k = x_k + v_k; a simulated path, the posterior drifts to -5.5
# ============================================================================================
@functools.cache
def benes_case():
    """The simulated case of test_reference_filters.py: Euler--Maruyama path (the exact filter
    is exact for any data), 12 observations every 0.25 with R = 1, prior ``cosh(x) N(x; 0.5,
    1)``; the posterior deviation falls from 0.93 to 0.625, the mean to -5.5, 7 sd inside the
    box [-10, 10]."""
    rng = np.random.default_rng(7)
    m0, P0, R, dt_obs, fine = 0.5, 1.0, 1.0, 0.25, 250
    x = rng.choice([m0 + P0, m0 - P0]) + np.sqrt(P0) * rng.standard_normal()
    ys = []
    for _ in range(12):
        for _ in range(fine):
            x += np.tanh(x) * dt_obs / fine + np.sqrt(dt_obs / fine) * rng.standard_normal()
        ys.append(x + np.sqrt(R) * rng.standard_normal())
    times, ys = dt_obs * np.arange(1, 13), np.array(ys)
    ms, Ps, incs = benes_filter(m0, P0, R, times, ys)
    moments = np.array([benes_moments(m, P) for m, P in zip(ms, Ps, strict=True)])
    return dict(m0=m0, P0=P0, R=R, times=times, ys=ys, L=10.0, ms=ms, Ps=Ps, incs=incs,
                moments=moments)  # fmt: skip


@functools.cache
def benes_run(cells: int, mesh):
    c = benes_case()
    grid = pfda.Grid(lower=[-c["L"]], upper=[c["L"]], cells=[cells])
    sde = pfda.SDE(drift=np.tanh, diffusion=1.0)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=c["R"])
    prior = lambda g: benes_cell_masses(g.edges[0], c["m0"], c["P0"])  # noqa: E731
    res = run(grid, sde, obs, "exponential", mesh, prior, c["times"], c["ys"])
    # Hellinger distance to the exact posterior on the cells of each update; on a window, to the
    # exact posterior conditioned on the window (the mass outside is the edge term's business)
    H = []
    for k in range(len(c["times"])):
        exact = benes_cell_masses(res.grid_at(k).edges[0], c["ms"][k], c["Ps"][k])
        H.append(hellinger(res.probabilities[k], exact / exact.sum()))
    return {
        "res": res,
        "h": coarsest(res),
        "hellinger": max(H),
        "mean": float(np.max(np.abs(res.mean[:, 0] - c["moments"][:, 0]))),
        "var": float(np.max(np.abs(res.cov[:, 0, 0] - c["moments"][:, 1]))),
        "increments": float(np.max(np.abs(res.log_evidence_increments - c["incs"]))),
    }


@pytest.mark.parametrize("mesh", MESHES)
def test_benes_matches_exact_filter(mesh):
    """200 cells (fixed ``h = 0.1``, 6 cells per deviation; window ``h <= 0.047``). Hellinger
    distance ``(h/s)^2 / (2 sqrt 2)`` with ``s = 0.625`` the narrowest posterior; mean and
    variance ``h^2``; each evidence increment ``3 x`` the Hellinger tolerance (``|E_p g - E_q
    g| <= 2 H sqrt(E_p g^2 + E_q g^2)``, and the likelihood is flat over the predicted density
    to a factor ~1); plus the window's edge terms. Measured: fixed 3.3e-3, 4.5e-3, 3.8e-3,
    3.1e-3 against 9.1e-3, 1e-2, 1e-2, 2.7e-2; window 1.25e-3, 5.4e-4, 4.1e-4, 4.4e-4 against
    2.0e-3, 2.2e-3, 2.2e-3, 5.9e-3 before the edge terms (8.4e-3, 7.2e-4, 3.9e-3, 6.2e-4); its
    Hellinger distance is mostly the edge floor (module notes), its edges lose at most 9.1e-5
    an interval."""
    c = benes_case()
    err = benes_run(200, mesh)
    res, h = err["res"], err["h"]
    s = float(np.sqrt(c["moments"][:, 1]).min())
    var_max = float(c["moments"][:, 1].max() + 0.25)  # the largest predicted variance
    g_max = 1.0 / math.sqrt(2 * math.pi * c["R"])
    edge = edge_terms(res, var_max, g_max, c["incs"])
    tol_h = (h / s) ** 2 / (2 * math.sqrt(2))
    assert err["hellinger"] < tol_h + edge["hellinger"], (err["hellinger"], tol_h, edge)
    assert err["mean"] < h**2 + edge["mean"], (err["mean"], h**2, edge)
    assert err["var"] < h**2 + edge["var"], (err["var"], h**2, edge)
    assert err["increments"] < 3 * tol_h + edge["evidence"], (err["increments"], tol_h, edge)


@pytest.mark.parametrize(
    ("mesh", "cells"),
    [
        pytest.param("fixed", (50, 100, 200), id="fixed"),
        pytest.param(WIDE, (50, 100, 200), id="window-c8"),
        pytest.param(pfda.Window(), (16, 32, 64), id="window"),
    ],
)
def test_benes_error_is_second_order(mesh, cells):
    """The Hellinger distance, the moments and the evidence increments fall as ``h^2``
    (least-squares slopes): the fixed grid and ``half_width = 8`` at 50, 100 and 200 cells, the
    default window at 16, 32 and 64 (``h`` 0.60 to 0.15), above its edge floor (module notes:
    the floor at most 0.30 of the 64-cell errors; at 50 to 200 cells the Hellinger slope is
    1.38, at 100 to 400 0.25). Measured slopes: fixed 1.87, 1.95, 1.93, 1.96; window-c8 1.96,
    1.99, 1.98, 2.00; the default window 1.91, 2.04, 2.05, 2.07."""
    errs = [benes_run(n, mesh) for n in cells]
    for key in ("hellinger", "mean", "var", "increments"):
        assert slope(errs, key) > ORDER - MARGIN, (key, [e[key] for e in errs])


# ============================================================================================
# 2-D linear-Gaussian: a damped rotation, only the first coordinate observed
# (merged from test_reference_filters.py, where it ran on the fixed grid only)
# ============================================================================================
LG2 = dict(
    F=np.array([[-1.0, 0.8], [-0.8, -1.0]]),
    D=np.array([0.4, 0.4]),
    H=np.array([[1.0, 0.0]]),
    R=np.array([[0.1]]),
    m0=np.array([0.5, -0.5]),
    P0=np.diag([0.3, 0.2]),
)
LG2_TIMES = 0.2 * np.arange(1, 11)


@functools.cache
def lg2_data():
    F, D, H, R, m0, P0 = (LG2[k] for k in ("F", "D", "H", "R", "m0", "P0"))
    rng = np.random.default_rng(1)
    ys = simulate_linear_observations(rng, F, np.diag(D), H, R, m0, P0, LG2_TIMES)
    km, kP, kinc = kalman_filter(F, np.diag(D), H, R, m0, P0, LG2_TIMES, ys)
    # innovation variances S_k = H P_pred H^T + R, and the largest predicted variance
    S = np.empty(len(LG2_TIMES))
    P, t, var_max = P0, 0.0, 0.0
    for k, tk in enumerate(LG2_TIMES):
        Phi, Q = linear_sde_transition(F, np.diag(D), tk - t)
        P_pred = Phi @ P @ Phi.T + Q
        S[k] = (H @ P_pred @ H.T + R)[0, 0]
        var_max = max(var_max, float(np.linalg.eigvalsh(P_pred).max()))
        P, t = kP[k], tk
    return ys, km, kP, kinc, S, var_max


@functools.cache
def lg2_run(cells: int, mesh):
    F, D, H, R, m0, P0 = (LG2[k] for k in ("F", "D", "H", "R", "m0", "P0"))
    ys, km, kP, kinc, S, _ = lg2_data()
    grid = pfda.Grid(lower=[-4.0, -4.0], upper=[4.0, 4.0], cells=[cells, cells])
    sde = pfda.SDE(drift=lambda x: F @ x, diffusion=D)
    obs = pfda.GaussianObservation(h=lambda x: H @ x, noise_cov=R)
    res = run(grid, sde, obs, "exponential", mesh, lambda g: pfda.gaussian(g, m0, P0),
              LG2_TIMES, ys)  # fmt: skip
    return {
        "res": res,
        "h": coarsest(res),
        "mean": float(np.max(np.linalg.norm(res.mean - km, axis=1))),
        "cov": float(np.max(np.linalg.norm(res.cov - kP, ord=2, axis=(1, 2)))),
        "evidence": abs(res.log_evidence - kinc.sum()),
    }


@pytest.mark.parametrize("mesh", MESHES)
def test_oscillator_matches_kalman(mesh):
    """80 x 80 cells (fixed ``h = 0.1``; the window's cells at most 0.060). Tolerance ``h^2`` on
    the means (Euclidean norm), ``h^2/12 + h^2/12`` on the covariances (spectral norm;
    Sheppard plus finite volumes), ``sum_k h^2 / (8 S_k)`` on the log-evidence, plus the edge
    terms. Measured: fixed 2.3e-3, 6.6e-4, 6.1e-3 against 1.0e-2, 1.7e-3, 5.8e-2; window 5.9e-4,
    2.5e-4, 9.5e-4 against 3.6e-3, 6.0e-4, 2.1e-2 before the edge terms (1.0e-3, 2.9e-3,
    1.3e-3; its edges lose at most 6.9e-5 an interval)."""
    ys, km, kP, kinc, S, var_max = lg2_data()
    err = lg2_run(80, mesh)
    res, h2 = err["res"], err["h"] ** 2
    g_max = 1.0 / math.sqrt(2 * math.pi * LG2["R"][0, 0])
    edge = edge_terms(res, var_max, g_max, kinc)
    assert err["mean"] < h2 + edge["mean"], (err["mean"], h2, edge)
    assert err["cov"] < h2 / 6 + edge["var"], (err["cov"], h2, edge)
    assert err["evidence"] < np.sum(h2 / (8 * S)) + edge["evidence"], (err["evidence"], edge)


@pytest.mark.parametrize("mesh", MESHES)
def test_oscillator_error_is_second_order(mesh):
    """20, 40 and 80 cells per axis (least-squares slopes). The window's edges lose up to 6.9e-5
    an interval, but its errors still fall as ``h^2`` to 160 cells (1.4e-4, 5.6e-5, 4.3e-5), so
    its edge floor is at most 0.24 of the 80-cell errors (module notes). Measured: fixed 2.11,
    2.00, 2.00; window 1.94, 1.96, 2.28."""
    errs = [lg2_run(n, mesh) for n in (20, 40, 80)]
    for key in ("mean", "cov", "evidence"):
        assert slope(errs, key) > ORDER - MARGIN, (key, [e[key] for e in errs])


# ============================================================================================
# The pendulum against a bootstrap particle filter
# ============================================================================================
G, PEND_Q, PEND_R, PEND_DT, PEND_K = 9.81, 0.01, 0.1, 0.01, 60
PEND_CELLS = 128
PARTICLES = 50_000  # per half: two independent halves of 10^5 particles


@numba.njit
def pendulum_drift(x):
    return (x[1], -G * np.sin(x[0]))


@numba.njit
def pendulum_h(x):
    return (np.sin(x[0]),)


def pendulum_prior(grid):
    """``N(0, I)``: a wrapped normal on the angle (any window of the circle, whose coordinates
    may run past the seam), a normal on the velocity."""
    e1, e2 = grid.edges
    angle = sum(normal_cell_masses(e1 + s, 0.0, 1.0) for s in (-2 * np.pi, 0.0, 2 * np.pi))
    return np.multiply.outer(angle, normal_cell_masses(e2, 0.0, 1.0)).ravel()


def pendulum_expectations(res) -> np.ndarray:
    """``E[sin x1], E[cos x1], E[x2], E[x2^2]`` at every update, on the cells of the update:
    smooth periodic functions of the angle, so the seam and the window's unwrapped
    coordinates do not matter."""
    out = []
    for k in range(res.times.size):
        grid = res.grid_at(k)
        a, v = np.meshgrid(*grid.axes, indexing="ij")
        p = res.probabilities[k].reshape(grid.cells)
        out.append([np.sum(p * np.sin(a)), np.sum(p * np.cos(a)), np.sum(p * v),
                    np.sum(p * v * v)])  # fmt: skip
    return np.array(out)


@functools.cache
def pendulum_data():
    """A path from ``N(0, I)`` (Heun, 100 steps per interval) observed every 0.01 s, and two
    independent halves of the particle filter (seeded; Heun, two steps per interval)."""
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal(2)
    fine = 100
    delta = PEND_DT / fine
    ys = []
    for _ in range(PEND_K):
        for _ in range(fine):
            x1, x2 = pendulum_heun(x1, x2, G, delta, math.sqrt(PEND_Q * delta) * rng.normal())
        ys.append(math.sin(x1) + math.sqrt(PEND_R) * rng.normal())
    times, ys = PEND_DT * np.arange(1, PEND_K + 1), np.array(ys)[:, None]
    halves = [
        pendulum_particle_filter(PARTICLES, seed, times, ys, g=G, q=PEND_Q, r=PEND_R,
                                 mean0=[0.0, 0.0], cov0=np.eye(2), substeps=2)[0]
        for seed in (1, 2)
    ]  # fmt: skip
    return times, ys, halves


@pytest.mark.parametrize("mesh", MESHES)
def test_pendulum_matches_particle_filter(mesh):
    """dx1 = x2 dt, dx2 = -9.81 sin x1 dt + 0.1 dW, y = sin x1 + v (R = 0.1) every 0.01 s, 60
    observations, prior N(0, I); grid [-pi, pi) periodic x [-6, 6] reflecting, 128 x 128,
    split-ppm (the angle moves by pure advection).

    The particle filter's own error is measured: its two halves (5e4 particles each, seeds 1
    and 2) differ by ``d = PF1 - PF2`` of variance ``2 v`` (``v``: one half's), and their mean,
    the 10^5-particle estimate, has variance ``v / 2``. With pfda's own error ``b``, the RMS
    over the updates of ``pfda - mean`` is ``sqrt(b^2 + v / 2)``; requiring it to be at most
    ``1.5 rms(d) = 1.5 sqrt(2 v)`` allows ``b <= 2 sqrt(v)``, about three standard errors of
    the 10^5-particle filter. Measured ratios ``rms(pfda - mean) / rms(d)``: fixed 0.16, 0.96,
    0.65, 0.25 (sin, cos, x2, x2^2), window 0.16, 0.96, 0.61, 0.22; the cosine's is mostly the
    particle filter's noise: it is 0.95 to 1.0 on both meshes at 128 and 64 cells, and against
    1.6e6 particles (two halves of 8e5, seeds 3 and 4) pfda differs on the cosine by an rms of
    2.9 of their standard error on both meshes (2.6 to 3.3 at 64 cells), about half the
    standard error ``sqrt(v)`` of one 5e4-particle half. Discretisation: the velocity's
    posterior deviation falls to 0.25, 2.7 cells of the fixed grid (the window's velocity cells
    shrink to 0.035; its edges lose at most 1.7e-5 an interval); on 64 x 64 cells the ratios
    reach 1.48 (fixed, on the sine) and 1.55 (window, on x2^2)."""
    times, ys, (pf1, pf2) = pendulum_data()
    grid = pfda.Grid([-np.pi, -6.0], [np.pi, 6.0], [PEND_CELLS, PEND_CELLS],
                     ["periodic", "reflecting"])  # fmt: skip
    sde = pfda.SDE(drift=pendulum_drift, diffusion=[0.0, PEND_Q])
    obs = pfda.GaussianObservation(h=pendulum_h, noise_cov=PEND_R)
    res = run(grid, sde, obs, "split-ppm", mesh, pendulum_prior, times, ys)
    E = pendulum_expectations(res)
    noise = np.sqrt(np.mean((pf1 - pf2) ** 2, axis=0))
    dev = np.sqrt(np.mean((E - 0.5 * (pf1 + pf2)) ** 2, axis=0))
    assert np.all(dev <= 1.5 * noise), (dev, noise)
    # means on the periodic axis are wrapped into the domain on both meshes
    assert np.all((res.mean[:, 0] >= -np.pi) & (res.mean[:, 0] < np.pi))
