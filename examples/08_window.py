"""A grid that follows the posterior: a window mesh on the pendulum.

The pendulum ``dx1 = x2 dt``, ``dx2 = -9.81 sin(x1) dt + 0.1 dW`` is observed through
``y = sin(x1) + v`` (``R = 0.1``) every 0.01 s. After a few observations the posterior is a
small ellipse in the box ``[-pi, pi) x [-6, 6]``: a fixed grid spends almost all its cells
where there is no probability. ``pfda.Filter(..., mesh=pfda.Window())`` keeps the grid's shape
(here 40 x 40) but moves and resizes its box with the density (mean +- 5 standard deviations):
whole-cell shifts while the cell widths fit, a conservative remap when they drift by more than
25 %. The result is the same :class:`pfda.FilterResult` as on a fixed grid; ``res.grid_at(k)``
is the window of update ``k``.

The drift and ``h`` are Numba point functions returning tuples, so every interval, update and
shift runs in one compiled call.

The script runs the window and a fixed grid with the same number of cells, and measures
both against a fixed grid four times finer on each axis (the reference posterior means).

What to look at: ``window.png`` — the posterior density on the moving window at four times,
drawn inside the whole box with the window's outline, and the window's widths over time next
to the posterior standard deviations.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numba
import numpy as np

import pfda
from pfda.cases import get_case


@numba.njit
def pendulum(x):
    return (x[1], -9.81 * np.sin(x[0]))


@numba.njit
def sine(x):
    return (np.sin(x[0]),)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="24^2 cells, 60 observations")
    parser.add_argument("--out", default=str(Path(__file__).parent / "output" / "08_window"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    cells, steps = (24, 60) if args.quick else (40, 300)
    setup = get_case("pendulum").build(cells=cells)
    sim = setup.simulate(seed=6, steps=steps)  # a swing of +-1.3 rad
    sde = pfda.SDE(pendulum, diffusion=setup.noise)
    obs = pfda.GaussianObservation(sine, noise_cov=setup.observation.noise_cov)

    def prior(g):
        return pfda.gaussian(g, setup.prior_mean, setup.prior_cov)

    def fixed(c):
        grid = pfda.Grid(setup.grid.lower, setup.grid.upper, [c, c], boundary=setup.grid.boundary)
        return pfda.Filter(grid, sde, obs, scheme="split-ppm", mesh="fixed").run(
            prior(grid), sim.times, sim.ys
        )

    # setup.grid is the domain the window moves in; its cells are the window's shape
    window = pfda.Filter(setup.grid, sde, obs, scheme="split-ppm", mesh=pfda.Window())
    window.run(prior, sim.times[:2], sim.ys[:2])  # compile both
    pfda.Filter(setup.grid, sde, obs, scheme="split-ppm", mesh="fixed").run(
        prior(setup.grid), sim.times[:2], sim.ys[:2]
    )
    start = time.perf_counter()
    res = window.run(prior, sim.times, sim.ys)  # the prior is evaluated on its first window
    t_window = time.perf_counter() - start
    start = time.perf_counter()
    full = fixed(cells)
    t_full = time.perf_counter() - start
    ref = fixed(4 * cells)

    def deviation(r):
        diff = r.mean - ref.mean
        diff[:, 0] = np.angle(np.exp(1j * diff[:, 0]))  # an angle: the short way round
        return float(np.sqrt(np.mean(np.sum(diff**2, axis=1))))

    print(
        f"window {cells}x{cells}: deviation from the {4 * cells}^2 grid {deviation(res):.4f}, "
        f"{t_window:.3f} s, {res.remaps.sum()} remaps, mass lost {res.mass_lost.sum():.1e}"
    )
    print(f"fixed  {cells}x{cells}: deviation {deviation(full):.4f}, {t_full:.3f} s")
    print(f"RMSE pfda {res.rmse(sim.truth):.4f}")
    print(f"RMSE fixed {full.rmse(sim.truth):.4f}")
    res.save(out / "window.npz")  # every window and density; pfda.load reads it back
    again = pfda.load(out / "window.npz")
    print(f"the last window (saved, loaded): {again.grid_at(steps - 1)}")

    from pfda.plotting import plot_window, pyplot

    plt = pyplot()
    fig, axs = plt.subplots(1, 5, figsize=(17, 3.6), layout="constrained")
    lo, hi = res.grid.lower, res.grid.upper  # the domain
    for ax, k in zip(axs[:4], np.linspace(0, steps - 1, 4).astype(int), strict=True):
        g = res.grid_at(k)
        dens = res.probabilities[k].reshape(g.shape) / g.cell_volume
        ax.pcolormesh(g.edges[0], g.edges[1], dens.T, shading="flat", cmap="viridis")
        w = g.upper - g.lower
        ax.add_patch(plt.Rectangle(g.lower, w[0], w[1], fill=False, ec="w", lw=1.2))
        ax.plot(*sim.truth[k], "r+", ms=10, mew=2)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_facecolor("#2b0b3f")
        ax.set_title(f"t = {sim.times[k]:.2f}: window {w[0]:.2f} x {w[1]:.2f}")
        ax.set_xlabel("x1 (angle)")
    axs[0].set_ylabel("x2 (angular velocity)")
    plot_window(res, ax=axs[4])  # window widths against 10 posterior sds
    axs[4].set_title("the window follows the posterior")
    fig.savefig(out / "window.png", dpi=110)
    plt.close(fig)
    print(f"figures in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
