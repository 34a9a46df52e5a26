"""Pendulum observed through sin(angle): a 2-D posterior with a reflection ambiguity.

``dx1 = x2 dt``, ``dx2 = -9.81 sin(x1) dt + 0.1 dW`` (so ``D = diag(0, 0.01)``), observed every
0.01 s as ``y = sin(x1) + v``, ``R = 0.1``, from the prior ``N(0, I)``. The angle axis is
periodic. ``sin`` cannot tell ``x1`` from ``pi - x1``, and with ``D_11 = 0`` the angle moves by
pure advection, so the density shears along the pendulum's energy levels.

Pure advection is where the scheme matters: the linear schemes' first-order upwind flux adds a
numerical diffusion ``|v| h / 2`` that smears the crescents, while ``split-ppm`` (the case's
default: Strang-split sweeps with a limited parabolic reconstruction) keeps them sharp. Both run
on the same grid, and pfda is compared with an unscented Kalman filter (one Gaussian, sigma
points through the dynamics and ``sin``) and a bootstrap particle filter.

What to look at: ``density_x1x2.png``, the posterior in the phase plane at four times (red +:
the truth) — it starts as a wide blob and wraps into crescents along the orbits before it
contracts; ``mean_band.png``, mean +- 2 sd per axis. The printed RMSEs compare the filters.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pfda.cases import get_case

G = 9.81


def f(x):
    return np.stack([x[1], -G * np.sin(x[0])])


def rk_move(x, h, n):
    for _ in range(n):
        x = x + h * f(x)
    return x


def ukf(setup, sim, n_sub=5):
    m, P = setup.prior_mean.copy(), setup.prior_cov.copy()
    Q = np.diag(setup.noise) * setup.obs_interval
    R = float(setup.observation.noise_cov)
    h = setup.obs_interval / n_sub
    d, kappa = 2, 1.0
    w = np.full(2 * d + 1, 1 / (2 * (d + kappa)))
    w[0] = kappa / (d + kappa)
    means = []
    for y in sim.ys[:, 0]:
        L = np.linalg.cholesky((d + kappa) * P + 1e-12 * np.eye(d))
        X = np.column_stack([m, m[:, None] + L, m[:, None] - L])
        X = rk_move(X, h, n_sub)
        m = X @ w
        P = (X - m[:, None]) * w @ (X - m[:, None]).T + Q
        L = np.linalg.cholesky((d + kappa) * P + 1e-12 * np.eye(d))
        X = np.column_stack([m, m[:, None] + L, m[:, None] - L])
        Y = np.sin(X[0])
        yhat = w @ Y
        S = w @ (Y - yhat) ** 2 + R
        C = (X - m[:, None]) * w @ (Y - yhat)
        K = C / S
        m = m + K * (y - yhat)
        P = P - np.outer(K, K) * S
        means.append(m.copy())
    return np.array(means)


def bootstrap_pf(setup, sim, n, seed=0, n_sub=5):
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(setup.prior_mean, setup.prior_cov, n).T
    R = float(setup.observation.noise_cov)
    h = setup.obs_interval / n_sub
    sd = np.sqrt(setup.noise[1] * h)
    means = []
    for y in sim.ys[:, 0]:
        for _ in range(n_sub):
            x = x + h * f(x)
            x[1] += sd * rng.standard_normal(n)
        x[0] = (x[0] + np.pi) % (2 * np.pi) - np.pi
        logw = -0.5 * (y - np.sin(x[0])) ** 2 / R
        w = np.exp(logw - logw.max())
        w /= w.sum()
        means.append(x @ w)
        x = x[:, rng.choice(n, n, p=w)]
    return np.array(means)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="coarser grid, fewer particles")
    parser.add_argument("--out", default=str(Path(__file__).parent / "output" / "03_pendulum"))
    args = parser.parse_args(argv)
    out = Path(args.out)

    setup = get_case("pendulum").build(cells=48 if args.quick else 128)
    sim = setup.simulate(seed=2, steps=150 if args.quick else 300)
    res = setup.filter().run(setup.prior, sim.times, sim.ys)  # split-ppm
    upwind = setup.filter(scheme="implicit").run(setup.prior, sim.times, sim.ys)
    m_ukf = ukf(setup, sim)
    m_pf = bootstrap_pf(setup, sim, 2000 if args.quick else 20000)

    def rmse(m):
        return float(np.sqrt(np.mean(np.sum((m - sim.truth) ** 2, axis=1))))

    print(f"RMSE pfda split-ppm {res.rmse(sim.truth):.4f}")
    print(f"RMSE pfda implicit (upwind) {upwind.rmse(sim.truth):.4f}")
    print(f"RMSE pf {rmse(m_pf):.4f}")
    print(f"RMSE ukf {rmse(m_ukf):.4f}")

    from pfda.plotting import save_summary_figures

    paths = save_summary_figures(res, sim.truth, out)
    print(f"figures in {out}: {', '.join(p.name for p in paths)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
