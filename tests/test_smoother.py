"""The forward-backward smoother (``Filter.smooth``) against the exact Rauch--Tung--Striebel
smoother, and the adjoint it runs on (``<T^T v, p> = <v, T p>`` for every linear scheme)."""

import numpy as np
import pytest
from references import kalman_filter, rts_smoother

import pfda

THETA, D = 1.0, 0.5  # dx = -x dt + sqrt(0.5) dW, y = x + v, R = 0.1


def ou_data(K=30, T=0.2, seed=5):
    rng = np.random.default_rng(seed)
    x, xs = 0.5, []
    for _ in range(K):
        for _ in range(50):
            x += -THETA * x * T / 50 + np.sqrt(D * T / 50) * rng.standard_normal()
        xs.append(x)
    return T * np.arange(1, K + 1), np.array(xs)[:, None] + np.sqrt(0.1) * rng.standard_normal(
        (K, 1)
    )


def ou_filter(cells, **options):
    grid = pfda.Grid([-5.0], [5.0], [cells])
    sde = pfda.SDE(drift=lambda x: -THETA * x, diffusion=D)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=0.1)
    return pfda.Filter(grid, sde, obs, mesh="fixed", **options), pfda.gaussian(grid, [0.0], [[1.0]])


@pytest.mark.parametrize("scheme", ["exponential", "implicit"])
def test_smoother_matches_rts_on_ou(scheme):
    """400 cells, Scharfetter-Gummel (second order): the grid's moments err by O(h^2) = 6e-4
    of the variance; exponential steps are exact in time, implicit ones are held to tol."""
    times, ys = ou_data()
    flt, prior = ou_filter(400, scheme=scheme, tol=3e-4)
    res = flt.smooth(prior, times, ys)
    ms, Ps = rts_smoother([[-THETA]], [[D]], [[1.0]], [[0.1]], [0.0], [[1.0]], times, ys)
    assert np.abs(res.mean[:, 0] - ms[:, 0]).max() <= 1e-3
    assert np.abs(res.std[:, 0] - np.sqrt(Ps[:, 0, 0])).max() <= 1e-3
    # the last smoothed density is the filter's; the others differ from it by far more than
    # the tolerance above (so that the filter alone would not pass)
    filt = flt.run(prior, times, ys)
    np.testing.assert_allclose(res.probabilities[-1], filt.probabilities[-1], atol=1e-15)
    assert np.abs(res.mean - filt.mean).max() > 30e-3
    assert np.abs(res.std - filt.std).max() > 30e-3


def test_smoother_error_is_second_order_in_the_cells():
    times, ys = ou_data(K=15)
    ms, Ps = rts_smoother([[-THETA]], [[D]], [[1.0]], [[0.1]], [0.0], [[1.0]], times, ys)
    err = []
    for cells in (50, 100, 200):
        flt, prior = ou_filter(cells, scheme="exponential")
        res = flt.smooth(prior, times, ys)
        err.append(np.abs(res.std[:, 0] - np.sqrt(Ps[:, 0, 0])).max())
    slope = np.log(err[0] / err[2]) / np.log(4.0)
    assert 1.7 < slope < 2.3, err


@pytest.mark.parametrize("scheme", ["explicit", "implicit", "crank-nicolson", "exponential"])
def test_adjoint_is_the_transpose_of_the_steps(scheme):
    grid = pfda.Grid([-3.0, -3.0], [3.0, 3.0], [14, 12])
    sde = pfda.SDE(drift=lambda x, t: np.stack([x[1], -x[0] + np.sin(t) + 0 * x[1]]),
                   diffusion=0.2)  # fmt: skip
    prop = pfda.Propagator(grid, sde, scheme, dt=0.05)
    rng = np.random.default_rng(0)
    p = pfda.gaussian(grid, [0.0, 0.0], np.eye(2))
    v = rng.normal(size=grid.size)  # signed: the adjoint is linear, not just on densities
    lhs = prop.adjoint(v, 0.1, 0.4) @ p
    rhs = v @ prop(p, 0.1, 0.4)
    assert lhs == pytest.approx(rhs, rel=1e-11)


def test_smoother_refuses_what_it_cannot_transpose():
    flt, prior = ou_filter(40, scheme="split-ppm")
    with pytest.raises(ValueError, match="needs a linear scheme"):
        flt.smooth(prior, [0.1], [[0.0]])
    flt, prior = ou_filter(40, scheme="exponential")
    flt.mesh = pfda.Window()
    with pytest.raises(ValueError, match="fixed mesh"):
        flt.smooth(prior, [0.1], [[0.0]])


@pytest.mark.parametrize("mesh", ["fixed", "window"])
def test_a_time_without_an_observation_is_predicted_through(mesh):
    """A NaN row: the filter predicts through it, as the Kalman filter with that observation
    left out (its time kept); the evidence is that of the other observations."""
    times, ys = ou_data(K=10)
    gaps = ys.copy()
    gaps[[3, 4, 7]] = np.nan
    grid = pfda.Grid([-5.0], [5.0], [400])
    sde = pfda.SDE(drift=lambda x: -THETA * x, diffusion=D)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=0.1)
    flt = pfda.Filter(grid, sde, obs, "exponential", mesh=mesh)
    res = flt.run(lambda g: pfda.gaussian(g, [0.0], [[1.0]]), times, gaps)
    kept = np.flatnonzero(~np.isnan(gaps[:, 0]))
    m, P, inc = kalman_filter([[-THETA]], [[D]], [[1.0]], [[0.1]], [0.0], [[1.0]], times[kept],
                              ys[kept])  # fmt: skip
    assert np.abs(res.mean[kept, 0] - m[:, 0]).max() < 2e-3
    assert np.abs(res.std[kept, 0] - np.sqrt(P[:, 0, 0])).max() < 2e-3
    assert np.abs(res.log_evidence_increments[[3, 4, 7]]).max() < 1e-14
    assert res.log_evidence == pytest.approx(inc.sum(), abs=1e-2)
    # the forecast at the gap: the prediction of the last posterior, wider than it
    assert res.std[4, 0] > res.std[3, 0] > res.std[2, 0]
    with pytest.raises(ValueError, match="NaN in every component"):
        flt.run(lambda g: pfda.gaussian(g, [0.0], [[1.0]]), [0.1], [[np.inf]])


def test_simulated_ou_paths_have_the_exact_moments():
    """20,000 Euler-Maruyama paths of OU over one unit of time against the exact Gaussian
    transition: the means and variances agree within five standard errors plus the scheme's
    weak error O(delta) (delta = 0.01: a relative 1e-2 of the decay)."""
    sde = pfda.SDE(drift=lambda x: -THETA * x, diffusion=D)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=0.1)
    x, y = pfda.simulate(sde, obs, [1.0], [0.5, 1.0], substeps=50, seed=3, paths=20_000)
    assert x.shape == (2, 20_000, 1) and y.shape == (2, 20_000, 1)
    for k, t in enumerate((0.5, 1.0)):
        mean, var = np.exp(-THETA * t), D / (2 * THETA) * (1 - np.exp(-2 * THETA * t))
        se = np.sqrt(var / 20_000)
        assert abs(x[k, :, 0].mean() - mean) < 5 * se + 1e-2 * mean
        assert abs(x[k, :, 0].var() - var) < 5 * var * np.sqrt(2 / 20_000) + 1e-2 * var
        assert abs((y[k] - x[k]).var() - 0.1) < 5 * 0.1 * np.sqrt(2 / 20_000)
    one, ys = pfda.simulate(sde, obs, [1.0], [0.5, 1.0], seed=3)
    assert one.shape == (2, 1) and ys.shape == (2, 1)
    with pytest.raises(TypeError, match="GaussianObservation"):
        pfda.simulate(sde, pfda.Observation(lambda y, x: 0 * x[0]), [1.0], [0.5])
    with pytest.raises(ValueError, match="strictly increasing"):
        pfda.simulate(sde, obs, [1.0], [0.5, 0.5])


def test_smoother_on_the_2d_oscillator_converges_to_rts():
    """A damped oscillator observed in its position; at 40^2, 80^2 and 160^2 cells the smoothed
    means approach the RTS smoother's (measured: 8.1e-2, 3.3e-2, 9.9e-3, orders 1.3 and 1.7 as
    Scharfetter-Gummel leaves its upwind regime: cell Peclet numbers |v| h / (D/2) of 3-30 on
    the coarse grids)."""
    F = np.array([[0.0, 1.0], [-1.0, -0.5]])
    R = 0.05
    times = 0.25 * np.arange(1, 21)
    sde = pfda.SDE(drift=lambda x: F @ x, diffusion=[0.05, 0.2])
    obs = pfda.GaussianObservation(h=lambda x: x[:1], noise_cov=R)
    _, ys = pfda.simulate(sde, obs, [1.0, 0.0], times, seed=2, substeps=50)
    ms, Ps = rts_smoother(F, np.diag([0.05, 0.2]), [[1.0, 0.0]], [[R]], [1.0, 0.0],
                          0.1 * np.eye(2), times, ys)  # fmt: skip
    err = []
    for c in (40, 80, 160):
        grid = pfda.Grid([-3.0, -3.0], [3.0, 3.0], [c, c])
        flt = pfda.Filter(grid, sde, obs, "exponential", mesh="fixed")
        res = flt.smooth(pfda.gaussian(grid, [1.0, 0.0], 0.1 * np.eye(2)), times, ys)
        sd = np.sqrt(np.diagonal(Ps, axis1=1, axis2=2))
        err.append(max(np.abs(res.mean - ms).max(), np.abs(res.std - sd).max()))
    orders = np.log2(np.array(err[:-1]) / np.array(err[1:]))
    assert np.all(orders > 1.1) and orders[-1] > 1.5, (err, orders)
    assert err[-1] < 1.5e-2


@pytest.mark.parametrize("mesh", ["fixed", "window"])
def test_forecasts_are_the_kalman_predictions(mesh, tmp_path):
    """``forecasts=True`` keeps p(x_k | y_1:k-1) on its own cells (a window's box before the
    zoom): its moments are the Kalman filter's predicted ones, to the grid's O(h^2)."""
    times, ys = ou_data(K=12)
    grid = pfda.Grid([-5.0], [5.0], [400])
    sde = pfda.SDE(drift=lambda x: -THETA * x, diffusion=D)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=0.1)
    flt = pfda.Filter(grid, sde, obs, "exponential", mesh=mesh)
    res = flt.run(lambda g: pfda.gaussian(g, [0.0], [[1.0]]), times, ys, forecasts=True)
    m, P, _ = kalman_filter([[-THETA]], [[D]], [[1.0]], [[0.1]], [0.0], [[1.0]], times, ys)
    m_prev = np.concatenate([[0.0], m[:-1, 0]])
    P_prev = np.concatenate([[1.0], P[:-1, 0, 0]])
    gaps = np.diff(np.concatenate([[0.0], times]))
    a = np.exp(-THETA * gaps)
    m_pred, P_pred = a * m_prev, a * a * P_prev + D / (2 * THETA) * (1 - a * a)
    for k in range(times.size):
        g = res.forecast_grid(k)
        mean = pfda.mean(g, res.forecast[k])[0]
        var = pfda.covariance(g, res.forecast[k])[0, 0]
        assert abs(mean - m_pred[k]) < 2e-3 and abs(np.sqrt(var) - np.sqrt(P_pred[k])) < 2e-3
    res.save(tmp_path / "r.npz")
    back = pfda.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.forecast, res.forecast)
    plain = flt.run(lambda g: pfda.gaussian(g, [0.0], [[1.0]]), times, ys)
    assert plain.forecast is None
    with pytest.raises(ValueError, match="forecasts=True"):
        plain.forecast_grid(0)
