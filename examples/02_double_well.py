"""Double well seen through x^2: a bimodal posterior that a Kalman filter cannot represent.

``dx = 4 x (1 - x^2) dt + sigma dW`` has stable states at ``x = +-1``; the observation
``y = x^2 + v`` cannot tell ``x`` from ``-x``. Starting from a prior symmetric about 0, the
posterior stays exactly symmetric, so it has two modes at ``+-|x|``; its mean sits near 0, far
from the truth, while the density knows precisely where the state may be.

Three filters see the same data: pfda (the density on a grid), an extended Kalman filter
(linearises ``h`` at the mean: with ``h'(0) = 0`` it learns almost nothing, or it locks onto one
mode) and a bootstrap particle filter (the same posterior as pfda, up to Monte Carlo error).

What to look at: ``density.png``, the posterior heat-map with its two bands and the truth in one
of them; ``snapshots.png``, the two-humped density at a few times. The printed RMSEs of pfda and
the particle filter agree; both are large because the posterior mean of a symmetric bimodal
posterior is near 0.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pfda.cases import get_case


def ekf(setup, sim):
    """Extended Kalman filter: Euler-linearised prediction, linearised update."""
    m, P = float(setup.prior_mean[0]), float(setup.prior_cov[0, 0])
    q, R = float(setup.noise[0]), float(setup.observation.noise_cov)
    n_sub = 20
    h = setup.obs_interval / n_sub
    means = []
    for y in sim.ys[:, 0]:
        for _ in range(n_sub):
            F = 4.0 * (1.0 - 3.0 * m * m)
            m = m + h * 4.0 * m * (1.0 - m * m)
            P = P + h * (2 * F * P + q)
        H = 2 * m
        S = H * P * H + R
        K = P * H / S
        m, P = m + K * (y - m * m), (1 - K * H) * P
        means.append(m)
    return np.array(means)


def bootstrap_pf(setup, sim, n, seed=0):
    """Bootstrap particle filter with Euler-Maruyama moves and multinomial resampling."""
    rng = np.random.default_rng(seed)
    x = rng.normal(setup.prior_mean[0], np.sqrt(setup.prior_cov[0, 0]), n)
    R, q = float(setup.observation.noise_cov), float(setup.noise[0])
    n_sub = 20
    h = setup.obs_interval / n_sub
    means = []
    for y in sim.ys[:, 0]:
        for _ in range(n_sub):
            x = x + h * 4 * x * (1 - x * x) + np.sqrt(q * h) * rng.standard_normal(n)
        logw = -0.5 * (y - x * x) ** 2 / R
        w = np.exp(logw - logw.max())
        w /= w.sum()
        means.append(np.dot(w, x))
        x = x[rng.choice(n, n, p=w)]
    return np.array(means)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer observations and particles")
    parser.add_argument("--out", default=str(Path(__file__).parent / "output" / "02_double_well"))
    args = parser.parse_args(argv)
    out = Path(args.out)

    setup = get_case("double-well").build()
    sim = setup.simulate(seed=0, steps=60 if args.quick else 200)
    res = setup.filter().run(setup.prior, sim.times, sim.ys)
    m_ekf = ekf(setup, sim)
    m_pf = bootstrap_pf(setup, sim, 2000 if args.quick else 20000)
    truth = sim.truth[:, 0]

    def rmse(m):
        return float(np.sqrt(np.mean((m - truth) ** 2)))

    print(f"RMSE pfda {res.rmse(sim.truth):.4f}")
    print(f"RMSE pf {rmse(m_pf):.4f}")
    print(f"RMSE ekf {rmse(m_ekf):.4f}")

    from pfda.plotting import pyplot, save_summary_figures

    plt = pyplot()
    paths = save_summary_figures(res, sim.truth, out)
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.plot(sim.times, truth, "k-", lw=1, label="truth")
    ax.plot(sim.times, res.mean[:, 0], label="pfda mean")
    ax.plot(sim.times, m_pf, "--", label="particle filter mean")
    ax.plot(sim.times, m_ekf, ":", label="EKF mean")
    ax.set_xlabel("t")
    ax.legend()
    fig.savefig(out / "filters.png", dpi=110)
    plt.close(fig)
    print(f"figures in {out}: {', '.join(p.name for p in paths)}, filters.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
