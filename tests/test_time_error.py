"""The time-error estimates and the step control of :class:`pfda.Filter` (``tol``), and the
defaults they make accurate.

References are independent of the estimates: the exponential scheme (``expm`` of the same
generator, exact in time) for the time error of the linear schemes on the same cells, and
converged runs of another scheme for the evidence.

- The estimate of an interval's time error follows the scheme's order (``dt^1`` backward Euler,
  ``dt^2`` Crank--Nicolson and Strang splitting), and lies within a factor two of the error
  measured against ``expm`` (Richardson's estimate is asymptotically exact).
- Where it exceeds ``tol`` the steps halve until it does not, so that a step of one observation
  interval ends within the tolerance of ``expm`` and its evidence within the reported bound.
"""

import math
import warnings

import numpy as np
import pytest
from numba import njit

import pfda
from pfda.stepcontrol import StepControl, increment, relative_l1

OU_GRID = pfda.Grid([-4.0], [4.0], [120])
OU_SDE = pfda.SDE(drift=lambda x: -x, diffusion=0.5)


def flat_observation():
    """A likelihood nearly flat over the grid: the posterior is the propagated density to
    ~1e-8, so that the posterior shows each interval's time error."""
    return pfda.GaussianObservation(h=lambda x: x, noise_cov=1e8)


def one_interval(scheme, dt, **options):
    """One observation interval of length 0.4 from N(1.5, 0.1), with steps of ``dt``."""
    prior = pfda.gaussian(OU_GRID, [1.5], [[0.1]])
    flt = pfda.Filter(OU_GRID, OU_SDE, flat_observation(), scheme, dt=dt, mesh="fixed", **options)
    return flt.run(prior, [0.4], [[0.0]])


@pytest.fixture(scope="module")
def exact_interval():
    return one_interval("exponential", None).probabilities[0]


@pytest.mark.parametrize(("scheme", "order"), [("implicit", 1), ("crank-nicolson", 2)])
def test_estimate_follows_the_order_and_the_error_against_expm(exact_interval, scheme, order):
    steps = [0.1, 0.05, 0.025]
    est, err = [], []
    for dt in steps:  # tol = 1: estimated, never refined; the finer pass (dt / 2) is kept
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pfda.PfdaWarning)  # Crank-Nicolson's positivity
            res = one_interval(scheme, dt, tol=1.0, check_every=1)
        est.append(res.time_error[0])
        err.append(relative_l1(res.probabilities[0], exact_interval))
    slope = np.polyfit(np.log(steps), np.log(est), 1)[0]
    assert slope == pytest.approx(order, abs=0.15)
    ratio = np.array(est) / np.array(err)
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio
    assert ratio[-1] == pytest.approx(1.0, abs=0.25)  # exact as dt -> 0


def test_control_halves_a_coarse_step_until_the_tolerance_holds(exact_interval):
    res = one_interval("implicit", None, tol=1e-3)  # one step of the whole interval: 0.4
    err = relative_l1(res.probabilities[0], exact_interval)
    assert err <= 1e-3 and res.time_error[0] <= 1e-3
    assert err == pytest.approx(res.time_error[0], rel=0.5)
    fixed = one_interval("implicit", None, tol=None)
    assert relative_l1(fixed.probabilities[0], exact_interval) > 30 * err
    assert np.isnan(fixed.time_error[0]) and np.isnan(fixed.log_evidence_error)


def test_exponential_steps_report_no_time_error():
    res = one_interval("exponential", None)
    assert res.time_error[0] == 0.0 and res.log_evidence_error == 0.0


def double_well_data(K=100, T=0.1, seed=1):
    rng = np.random.default_rng(seed)
    x, xs = 1.0, []
    for _ in range(K):
        for _ in range(100):
            x += 4 * x * (1 - x * x) * T / 100 + math.sqrt(0.5 * T / 100) * rng.standard_normal()
        xs.append(x)
    ys = np.array(xs) ** 2 + math.sqrt(0.2) * rng.standard_normal(K)
    return T * np.arange(1, K + 1), ys[:, None]


def double_well(cells, **options):
    """The README's quick start: a double well observed through x^2."""
    grid = pfda.Grid(lower=[-3.0], upper=[3.0], cells=[cells], boundary="reflecting")
    sde = pfda.SDE(drift=lambda x: 4 * x * (1 - x**2), diffusion=0.5)
    obs = pfda.GaussianObservation(h=lambda x: x**2, noise_cov=0.2)
    return pfda.Filter(grid, sde, obs, **options), pfda.gaussian(grid, [0.0], [[1.0]])


@pytest.fixture(scope="module")
def double_well_reference():
    """Exact in time, and Scharfetter-Gummel's second order in space: 600 and 1200 cells
    differ by 1.3e-4 nats, so Richardson's extrapolation errs by well under 1e-4."""
    times, ys = double_well_data()
    z = []
    for cells in (600, 1200):
        flt, prior = double_well(cells, scheme="exponential", mesh="fixed")
        z.append(flt.run(prior, times, ys).log_evidence)
    return times, ys, z[1] + (z[1] - z[0]) / 3


def test_default_filter_meets_the_converged_evidence(double_well_reference):
    """Only a grid, an SDE and an observation: the log-evidence of 100 observations on 300
    cells within 0.02 nats of the converged one (backward Euler with a step of the interval,
    the earlier default, was 0.23 off), and within the time-error bound it reports plus the
    spatial error (the 300-cell exponential run's)."""
    times, ys, ref = double_well_reference
    flt, prior = double_well(300)
    res = flt.run(prior, times, ys)
    assert abs(res.log_evidence - ref) < 0.02
    space_flt, _ = double_well(300, scheme="exponential", mesh="fixed")
    space = abs(space_flt.run(prior, times, ys).log_evidence - ref)
    assert abs(res.log_evidence - ref) <= res.log_evidence_error + space
    old, _ = double_well(300, scheme="implicit", mesh="fixed", tol=None)
    assert abs(old.run(prior, times, ys).log_evidence - ref) > 0.1


@njit(cache=True)
def oscillator(x):
    return (x[1], -x[0] - 0.2 * x[1])


@njit(cache=True)
def range_from_sensor(x):
    return (math.sqrt((x[0] - 4.0) ** 2 + x[1] ** 2),)


def range_case(cells, **options):
    """A damped oscillator tracked by the range from a sensor at (4, 0), D = 0.02."""
    rng = np.random.default_rng(3)
    K, T, D = 12, 0.5, 0.01
    x, xs = np.array([1.0, 0.0]), []
    for _ in range(K):
        for _ in range(200):
            f = np.array(oscillator(x))
            x = x + f * T / 200 + math.sqrt(2 * D * T / 200) * rng.standard_normal(2)
        xs.append(x.copy())
    ys = np.array([range_from_sensor(x) for x in xs]) + 0.1 * rng.standard_normal((K, 1))
    grid = pfda.Grid([-3.0, -3.0], [3.0, 3.0], [cells, cells])
    sde = pfda.SDE(drift=oscillator, diffusion=2 * D)
    obs = pfda.GaussianObservation(h=range_from_sensor, noise_cov=0.01)
    flt = pfda.Filter(grid, sde, obs, **options)
    prior = lambda g: pfda.gaussian(g, [1.0, 0.0], 0.05 * np.eye(2))  # noqa: E731
    return flt.run(prior, T * np.arange(1, K + 1), ys)


def test_default_filter_tracks_the_range_case_as_the_window_does():
    """At 32^2 cells the default's mean lies within twice the window's error of a converged
    run (the window at 96^2); the fixed grid with backward Euler steps of the interval, the
    earlier default, errs 50x more."""
    ref = range_case(96, scheme="split-ppm", mesh="window")
    default = range_case(32)
    window = range_case(32, scheme="split-ppm", mesh=pfda.Window())
    err = np.abs(default.mean - ref.mean).max()
    assert err <= 2 * np.abs(window.mean - ref.mean).max() + 1e-12
    old = range_case(32, scheme="implicit", mesh="fixed", tol=None)
    assert np.abs(old.mean - ref.mean).max() > 50 * err
    assert default.mesh == "window" and np.all(np.isfinite(default.time_error))


def test_split_schemes_are_estimated_but_not_refined():
    """On the split schemes the halved-step difference holds the limiter's dependence on the
    Courant number, which does not vanish with the step (the estimate falls more slowly than
    tau^2, or not at all): the control reports it and keeps the unhalved steps, so that the
    densities are those of a run without control."""
    est = []
    for dt in (0.02, 0.01, 0.005):
        res = range_case(24, scheme="split-ppm", mesh="window", dt=dt, tol=1e-9, check_every=1)
        plain = range_case(24, scheme="split-ppm", mesh="window", dt=dt, tol=None)
        np.testing.assert_allclose(res.probabilities, plain.probabilities, rtol=0, atol=1e-12)
        assert np.all(res.time_error > 0) and np.all(np.isnan(plain.time_error))
        est.append(res.time_error[0])
    assert est[0] / est[-1] < 16 / 2  # not tau^2


def test_a_solver_error_above_the_tolerance_stops_the_halving_with_a_warning():
    """A loose iterative solve (GMRES to 1e-2 with a coarse ILU) errs by its own tolerance
    whatever the step: halving cannot meet a tolerance below it, so the control stops and says
    so."""
    prior = pfda.gaussian(OU_GRID, [1.5], [[0.1]])
    loose = {"rtol": 1e-2, "drop_tol": 0.1}
    flt = pfda.Filter(OU_GRID, OU_SDE, flat_observation(), "implicit", "gmres", dt=0.05,
                      mesh="fixed", tol=1e-6, solver_options=loose)  # fmt: skip
    with pytest.warns(pfda.PfdaWarning, match="did not fall as they halved"):
        res = flt.run(prior, [0.4, 0.8], [[0.0], [0.0]])
    assert np.all(np.isfinite(res.time_error))


def test_step_control_rejects_bad_settings():
    grid, sde, obs = OU_GRID, OU_SDE, flat_observation()
    for tol in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="tol must be"):
            pfda.Filter(grid, sde, obs, tol=tol)
    for every in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="check_every must be"):
            pfda.Filter(grid, sde, obs, check_every=every)


def test_auto_choices():
    grid, obs = OU_GRID, flat_observation()
    assert pfda.Filter(grid, OU_SDE, obs).scheme == "split-ppm"
    assert pfda.Filter(grid, OU_SDE, obs, solver="splu").scheme == "implicit"
    varying = pfda.SDE(drift=lambda x: -x, diffusion=lambda x: 0.5 + 0.1 * x**2)
    assert pfda.Filter(grid, varying, obs).scheme == "exponential"
    assert pfda.Filter(grid, OU_SDE, obs).mesh == pfda.Fixed()
    grid2 = pfda.Grid([-4.0, -4.0], [4.0, 4.0], [16, 16])
    obs2 = pfda.GaussianObservation(h=lambda x: x, noise_cov=np.eye(2))
    assert pfda.Filter(grid2, pfda.SDE(lambda x: -x, 0.5), obs2).mesh == pfda.Window()


def test_increment_and_relative_l1_by_hand():
    q = np.array([0.2, 0.3, 0.0, 0.5])
    ll = np.array([-1.0, -2.0, 5.0, -0.5])
    expect = math.log(0.2 * math.exp(-1) + 0.3 * math.exp(-2) + 0.5 * math.exp(-0.5))
    assert increment(q, ll) == pytest.approx(expect, abs=1e-14)
    assert relative_l1(q, q[::-1]) == pytest.approx(1.2 / 1.0)
    control = StepControl(2, 1e-3, 10)
    done, err, delta = control.judge(q, q, ll)
    assert done and err == 0.0 and delta == 0.0 and control.fraction == 1.0


@pytest.mark.filterwarnings("ignore:the Gaussian prior has only:pfda.PfdaWarning")  # not wrapped
@pytest.mark.parametrize("method", ["numba", "numpy"])
def test_estimate_holds_where_a_periodic_window_crosses_the_seam(method):
    """A density moving across the seam of a circle: the two passes of a checked interval may
    label their windows a period apart; the estimate compares them on one period (a false
    estimate of 1/(1 - 2^-q) = 4/3 otherwise)."""
    grid = pfda.Grid([-np.pi], [np.pi], [64], boundary="periodic")
    sde = pfda.SDE(drift=lambda x: 1.0 + 0 * x, diffusion=0.02)
    obs = pfda.GaussianObservation(lambda x: np.concatenate([np.sin(x), np.cos(x)]), 0.05)
    times = 0.1 * np.arange(1, 13)
    for m0 in (2.3, 2.5, 2.7):
        truth = m0 + times
        ys = np.stack([np.sin(truth), np.cos(truth)], 1)
        flt = pfda.Filter(grid, sde, obs, "split-ppm", mesh=pfda.Window(method=method),
                          check_every=1)  # fmt: skip
        res = flt.run(lambda g, m0=m0: pfda.gaussian(g, [m0], [[0.05]]), times, ys)
        assert res.lower[:, 0].min() < -np.pi + 1.5 and res.lower[:, 0].max() > 1.5  # crossed
        assert res.time_error.max() < 1e-2


def test_the_smallest_step_warns_when_the_estimate_still_exceeds_tol():
    control = StepControl(1, 1e-3, 10)
    control.fraction = pfda.stepcontrol.SMALLEST_FRACTION
    q = np.array([0.5, 0.5])
    done, err, _ = control.judge(q, np.array([0.4, 0.6]), np.zeros(2))
    assert done and control.floored and err > 1e-3


def test_a_run_leaves_the_filter_steps_as_they_were(tmp_path):
    flt = pfda.Filter(OU_GRID, OU_SDE, flat_observation(), "implicit", mesh="fixed")
    res = flt.run(pfda.gaussian(OU_GRID, [1.5], [[0.1]]), [0.4, 0.8], [[0.0], [0.0]])
    assert res.time_error.max() <= 1e-3 and flt.propagator.fraction == 1.0
    # a result file without the estimates (written before they existed) loads as not estimated
    res.save(tmp_path / "r.npz")
    with np.load(tmp_path / "r.npz") as f:
        old = {k: f[k] for k in f.files if k not in ("time_error", "evidence_time_error")}
    np.savez(tmp_path / "old.npz", **old)
    back = pfda.load(tmp_path / "old.npz")
    assert np.all(np.isnan(back.time_error)) and np.all(np.isnan(back.evidence_time_error))
