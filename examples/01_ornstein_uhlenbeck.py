"""Ornstein-Uhlenbeck: pfda against the exact Kalman filter, and grid convergence.

The linear SDE ``dx = -theta x dt + sigma dW`` observed as ``y_k = x(t_k) + v_k``,
``v_k ~ N(0, R)``, has a Gaussian posterior that the Kalman filter computes exactly: over an
interval ``Delta`` the state moves as ``x' = a x + w`` with ``a = exp(-theta Delta)`` and
``Var w = sigma^2 (1 - a^2) / (2 theta)``.

pfda approximates the same posterior on a grid of cells of width ``h``. With the exponential
time scheme (``p' = expm(Delta A) p``) there is no time-stepping error, so the difference from
the Kalman mean is the spatial error alone: first order, O(h), for the upwind flux, and second
order, O(h^2), for the Scharfetter-Gummel (exponentially fitted) flux.

What to look at: ``convergence.png`` is a log-log plot of the RMS difference between the
posterior means and the Kalman mean against the number of cells; the printed slopes should be
near -1 (upwind) and -2 (Scharfetter-Gummel). ``kalman.png`` shows both filters' means and
2-sd bands on top of each other.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pfda.cases import get_case

THETA, D, R = 1.0, 0.5, 0.1


def kalman(times, ys, m0, P0):
    """Exact Kalman filter of the OU model; returns means and variances ``(K,)``."""
    m, P, t_prev = m0, P0, 0.0
    means, variances = [], []
    for t, y in zip(times, ys, strict=True):
        a = np.exp(-THETA * (t - t_prev))
        m, P = a * m, a * a * P + D * (1 - a * a) / (2 * THETA)
        gain = P / (P + R)
        m, P = m + gain * (y - m), (1 - gain) * P
        means.append(m)
        variances.append(P)
        t_prev = t
    return np.array(means), np.array(variances)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer grids and observations")
    parser.add_argument("--out", default=str(Path(__file__).parent / "output" / "01_ou"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    setup = get_case("ou").build()
    sim = setup.simulate(seed=1, steps=20 if args.quick else 60)
    km, kv = kalman(sim.times, sim.ys[:, 0], setup.prior_mean[0], setup.prior_cov[0, 0])

    cells_list = [20, 40, 80, 160] if args.quick else [25, 50, 100, 200, 400, 800]
    errors = {"upwind": [], "sg": []}
    for flux in errors:
        for n in cells_list:
            s = setup.with_cells(n)
            res = s.filter(scheme="exponential", dt=None, flux=flux).run(s.prior, sim.times, sim.ys)
            errors[flux].append(np.sqrt(np.mean((res.mean[:, 0] - km) ** 2)))
    print(f"{'cells':>6} {'upwind':>10} {'SG':>10}")
    for n, eu, es in zip(cells_list, errors["upwind"], errors["sg"], strict=True):
        print(f"{n:>6} {eu:10.2e} {es:10.2e}")
    slopes = {f: np.polyfit(np.log(cells_list), np.log(e), 1)[0] for f, e in errors.items()}
    print(f"slope upwind {slopes['upwind']:.2f}")
    print(f"slope sg {slopes['sg']:.2f}")

    s = setup.with_cells(cells_list[-1])
    res = s.filter(scheme="exponential", dt=None).run(s.prior, sim.times, sim.ys)
    print(f"RMSE pfda {res.rmse(sim.truth):.4f}")
    print(f"RMSE kalman {np.sqrt(np.mean((km - sim.truth[:, 0]) ** 2)):.4f}")

    from pfda.plotting import plot_mean_band, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for flux, label in (("upwind", "upwind"), ("sg", "Scharfetter-Gummel")):
        ax.loglog(cells_list, errors[flux], "o-", label=f"{label} (slope {slopes[flux]:.2f})")
    ax.set_xlabel("cells")
    ax.set_ylabel("RMS |pfda mean - Kalman mean|")
    ax.legend()
    fig.savefig(out / "convergence.png", dpi=110)
    plt.close(fig)

    ax = plot_mean_band(res, truth=sim.truth)
    ax.plot(sim.times, km, "r:", label="Kalman mean")
    ax.plot(sim.times, km + 2 * np.sqrt(kv), "r:", lw=0.8)
    ax.plot(sim.times, km - 2 * np.sqrt(kv), "r:", lw=0.8)
    ax.legend()
    ax.figure.savefig(out / "kalman.png", dpi=110)
    plt.close(ax.figure)
    print(f"figures in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
