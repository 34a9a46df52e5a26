"""Van der Pol: a density drawn onto the limit cycle, then sharpened by a few observations.

``dx1 = x2 dt``, ``dx2 = (mu (1 - x1^2) x2 - x1) dt`` plus small noise (``D = 0.05`` per axis)
has one attracting periodic orbit. Propagating a broad Gaussian with no observations, the
Fokker-Planck flow carries the mass onto a ring around the limit cycle; observing ``x1`` a few
times then picks out where on the ring the state is.

What to look at: ``limit_cycle.png`` — the density at a few times with the limit cycle (traced
by an ODE solve, white) on top: first spread over the plane, then a ring on the cycle, then,
after the observations, a crescent on the part of the cycle that fits them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scipy.integrate import solve_ivp

import pfda
from pfda.cases import get_case


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="coarser grid")
    parser.add_argument("--out", default=str(Path(__file__).parent / "output" / "04_van_der_pol"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    setup = get_case("van-der-pol").build(cells=48 if args.quick else 128)
    grid = setup.grid
    prop = pfda.Propagator(grid, setup.sde, "implicit", dt=0.02)
    p_ring = prop(setup.prior, 0.0, 8.0)
    sim = setup.simulate(seed=4, steps=8)
    times = sim.times + 8.0
    # the truth is simulated from t = 0; shift its data to start after the spin-up
    res = setup.filter().run(p_ring, times, sim.ys, t0=8.0)

    cycle = solve_ivp(
        lambda t, x: setup.drift(x[:, None])[:, 0], (0, 30), [2.0, 0.0], max_step=0.01, rtol=1e-8
    )
    lc = cycle.y[:, cycle.t > 20]
    r_ring = pfda.mean(grid, p_ring)
    print(f"mean of the ring density {r_ring.round(3).tolist()} (near 0)")
    print(f"posterior sd after updates {res.std[-1].round(3).tolist()}")

    from pfda.plotting import plot_density_2d, pyplot

    plt = pyplot()
    fig, axs = plt.subplots(1, 3, figsize=(11, 3.6), layout="constrained")
    for ax, p, title in zip(
        axs,
        (setup.prior, p_ring, res.probabilities[-1]),
        ("prior, t = 0", "no data, t = 8", f"after {len(times)} updates"),
        strict=True,
    ):
        plot_density_2d(grid, p, ax=ax, colorbar=False)
        ax.plot(lc[0], lc[1], "w-", lw=0.8)
        ax.set_title(title)
    axs[2].plot(sim.truth[-1, 0], sim.truth[-1, 1], "r+", ms=10, mew=2)
    fig.savefig(out / "limit_cycle.png", dpi=110)
    plt.close(fig)
    print(f"figures in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
