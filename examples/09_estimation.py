"""Learning a noise level from data: pfda's deterministic likelihood against a particle filter's.

The double well ``dx = 4 x (1 - x^2) dt + sigma dW`` observed through ``y = x^2 + v`` has one
unknown, the diffusion ``D = sigma^2``. The filter's evidence ``log p(y_{1:K} | D)`` is the
likelihood of ``D``. A grid filter computes it without Monte Carlo noise, so the curve over ``D``
is smooth and its maximum and curvature (the standard error) come from plain calculus
(:func:`pfda.estimate`); a bootstrap particle filter's estimate of the same curve scatters by
about ``1/sqrt(N)`` relative per observation, which makes its maximum wander from run to run.

The second half smooths: ``Filter.smooth`` gives ``p(x_k | y_{1:K})``, every observation used
for every time, whose band is narrower than the filter's.

What to look at: ``likelihood.png`` (pfda's curve through the particle filter's scattered
points, the estimate and its +-2 standard errors) and ``smoothing.png`` (filter against
smoother: means and 2-sd bands around the truth, with the two modes folded by ``|x|``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import pfda


def double_well(D: float):
    return pfda.SDE(drift=lambda x: 4 * x * (1 - x**2), diffusion=D)


OBS = pfda.GaussianObservation(h=lambda x: x**2, noise_cov=0.2)


def build(theta):
    """The model with ``D = theta[0]``: a fixed grid and exact-in-time steps, so that the
    likelihood is smooth in ``D``."""
    grid = pfda.Grid([-3.0], [3.0], [200], boundary="reflecting")
    flt = pfda.Filter(grid, double_well(float(theta[0])), OBS, "exponential", mesh="fixed")
    return flt, pfda.gaussian(grid, [0.0], [[1.0]])


def pf_log_likelihood(D: float, times, ys, n: int, seed: int) -> float:
    """A bootstrap particle filter's estimate of ``log p(y | D)`` (Euler-Maruyama, 20 steps
    per interval, multinomial resampling every step)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, n)
    t, total = 0.0, 0.0
    for tk, y in zip(times, ys[:, 0], strict=True):
        h = (tk - t) / 20
        for _ in range(20):
            x = x + 4 * x * (1 - x**2) * h + np.sqrt(D * h) * rng.standard_normal(n)
        t = tk
        logw = -0.5 * (y - x**2) ** 2 / 0.2 - 0.5 * np.log(2 * np.pi * 0.2)
        top = logw.max()
        w = np.exp(logw - top)
        total += top + np.log(w.mean())
        x = x[rng.choice(n, n, p=w / w.sum())]
    return float(total)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer observations and values")
    parser.add_argument("--out", default="example-output", help="folder for the pictures")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    K = 60 if args.quick else 150
    true_D = 0.5
    times = 0.1 * np.arange(1, K + 1)
    truth, ys = pfda.simulate(double_well(true_D), OBS, [1.0], times, seed=4, substeps=50)

    est = pfda.estimate(build, [0.3], times, ys, bounds=[(0.05, 2.0)])
    print(f"D true {true_D}  estimate {est.theta[0]:.3f} +- {est.stderr[0]:.3f}")
    values = np.linspace(0.2, 1.2, 6 if args.quick else 15)
    curve, _, _ = pfda.posterior_grid(build, values, times, ys)
    n = 200
    pf = np.array([[pf_log_likelihood(D, times, ys, n, seed) for D in values]
                   for seed in range(2 if args.quick else 4)])  # fmt: skip
    spread = pf.std(axis=0).mean()
    print(f"particle filter (N={n}) log-likelihood spread over seeds {spread:.2f} nats")

    flt, prior = build(est.theta)
    filt = flt.run(prior, times, ys)
    smooth = flt.smooth(prior, times, ys)
    # the posterior is symmetric in x: compare |x| through the marginal of |x| (mean of |x|)
    grid = flt.grid
    centres = np.abs(grid.centers[0])
    m_f = filt.probabilities @ centres
    m_s = smooth.probabilities @ centres
    err_f = np.sqrt(np.mean((m_f - np.abs(truth[:, 0])) ** 2))
    err_s = np.sqrt(np.mean((m_s - np.abs(truth[:, 0])) ** 2))
    print(f"RMSE of E|x| filter {err_f:.4f}")
    print(f"RMSE pfda {err_s:.4f}")  # the smoother's, the accuracy line of this example

    from pfda.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for row in pf:
        ax.plot(values, row, "o", color="tab:orange", alpha=0.6, ms=4)
    ax.plot([], [], "o", color="tab:orange", label=f"particle filter, N={n}, seeds")
    ax.plot(values, curve, "-", color="tab:blue", lw=2, label="pfda (deterministic)")
    lo, hi = max(est.theta[0] - 2 * est.stderr[0], 0.0), est.theta[0] + 2 * est.stderr[0]
    ax.axvspan(lo, hi, color="tab:blue", alpha=0.15, label="estimate +- 2 s.e.")
    ax.axvline(true_D, color="k", ls="--", label="true D")
    ax.set_xlabel("diffusion D")
    ax.set_ylabel("log-likelihood [nats]")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "likelihood.png", dpi=110)

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    sd_f = np.sqrt(np.maximum(filt.probabilities @ centres**2 - m_f**2, 0))
    sd_s = np.sqrt(np.maximum(smooth.probabilities @ centres**2 - m_s**2, 0))
    for m, sd, name, color in ((m_f, sd_f, "filter", "tab:orange"),
                               (m_s, sd_s, "smoother", "tab:blue")):  # fmt: skip
        ax.plot(times, m, color=color, label=f"{name}: E|x|")
        ax.fill_between(times, m - 2 * sd, m + 2 * sd, color=color, alpha=0.2)
    ax.plot(times, np.abs(truth[:, 0]), "k.", ms=3, label="|truth|")
    ax.set_xlabel("t")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "smoothing.png", dpi=110)
    print(f"wrote {out / 'likelihood.png'} and {out / 'smoothing.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
