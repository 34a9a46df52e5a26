r"""A grid filter whose implicit time steps are solved by the HHL quantum algorithm.

The implicit (backward Euler) step of the Fokker--Planck equation ``dp/dt = A p`` is the
linear system

.. math:: (I - \Delta t\,A)\,p_{k+1} = p_k,

and ``M = I - dt A`` is an M-matrix: its inverse is non-negative and preserves total mass, so
the step is a Markov transition for every ``dt``.  HHL (Harrow, Hassidim, Lloyd 2009) solves
``M x = b`` on a quantum computer: it loads ``b / |b|`` as the amplitudes of
``log2 N`` qubits, estimates the eigenvalues of ``M`` into a *clock* register by phase
estimation, rotates an ancilla by an angle ``~ C / lambda`` and keeps the runs in which the
ancilla reads 1.  The kept state is proportional to ``M^{-1} b``.

Here the Ornstein--Uhlenbeck filter ``dx = -x dt + 0.71 dW``, ``y = x + v``, runs on 16 cells
(4 system qubits) twice: once with sparse LU (``solver="splu"``), once with HHL simulated
exactly on Qiskit Aer (``solver="hhl"``).  Between the two the only difference is the linear
solver, so the Hellinger distance between the posteriors measures HHL's error alone: it is
set by the clock size (``epsilon`` = 1e-2 relative error per solve by default).

HHL's error is relative in the 2-norm, so it is smallest where the density is large.  An
observation that lands in the tail of the predicted density (here the jump from y = 1.4 to
y = -0.6 at the second step) reweights exactly the cells that the solve got least accurately,
and the Hellinger distance of that step is an order of magnitude above the others; the
following steps forget the error again, because the implicit step contracts.

What to look at: ``posteriors.png`` shows both posteriors over time (they lie on top of each
other), ``hellinger.png`` the distance per step, and ``circuit.png`` / ``circuit.txt`` the
HHL circuit of one step: state preparation, phase estimation, the controlled rotation, the
inverse phase estimation and the measurements.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import pfda


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer observations")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "output" / "06_quantum_filter")
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    cells, dt = 16, 0.05
    grid = pfda.Grid(lower=[-3.0], upper=[3.0], cells=[cells])
    sde = pfda.SDE(drift=lambda x: -x, diffusion=0.5)
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=0.2)
    prior = pfda.gaussian(grid, mean=[0.5], cov=[[0.5]])
    steps = 6 if args.quick else 20
    rng = np.random.default_rng(3)
    times = dt * np.arange(1, steps + 1)
    truth = 0.5 * np.exp(-times) + 0.3 * np.sin(3 * times)
    ys = truth[:, None] + rng.normal(0.0, np.sqrt(0.2), size=(steps, 1))

    runs = {}
    for solver in ("splu", "hhl"):
        flt = pfda.Filter(grid, sde, obs, scheme="implicit", solver=solver, dt=dt, tol=None)
        runs[solver] = flt.run(prior, times, ys)
        print(f"{solver:5s} wall time {runs[solver].wall_time:.3f} s")
    dist = pfda.hellinger(runs["hhl"].probabilities, runs["splu"].probabilities)
    dmean = np.abs(runs["hhl"].mean[:, 0] - runs["splu"].mean[:, 0])
    print(f"max Hellinger(hhl, splu) over {steps} steps: {dist.max():.2e}")
    print("Hellinger per step: " + " ".join(f"{d:.1e}" for d in dist))
    print(f"max |mean difference|: {dmean.max():.2e}")
    print(
        "log-evidence splu {:.4f}, hhl {:.4f}".format(
            runs["splu"].log_evidence, runs["hhl"].log_evidence
        )
    )

    # the circuit of one step, and what HHL reports about it
    import pfda_quantum as quantum

    M = (pfda.generator(grid, sde) * -dt).tocsc()
    M.setdiag(M.diagonal() + 1.0)
    prepared = quantum.HHLSolver(epsilon=1e-2).prepare(M)
    result = prepared.solve_result(prior)
    info = prepared.matrix_info
    print(
        f"one step: {info.num_qubits} qubits ({info.num_system_qubits} system, "
        f"{info.num_clock_qubits} clock, 1 flag), kappa {info.kappa:.2f}, "
        f"fidelity {result.fidelity:.6f}, success probability {result.success_probability:.3f}"
    )
    if result.two_qubit_gates is not None:
        print(f"transpiled to {result.basis}: depth {result.depth}, CX {result.two_qubit_gates}")
    circuit = prepared.circuit(prior)
    drawing = str(circuit.draw("text", fold=-1))
    (out / "circuit.txt").write_text(drawing)

    from pfda.plotting import pyplot

    plt = pyplot()
    try:  # qiskit's matplotlib drawer needs the optional pylatexenc package
        fig = circuit.draw("mpl", fold=-1)
    except ImportError:  # MissingOptionalLibraryError is an ImportError: draw the text instead
        lines = drawing.splitlines()
        width = max(len(line) for line in lines)
        fig = plt.figure(figsize=(max(4.0, 0.075 * width), 0.2 * len(lines) + 0.5))
        fig.text(0.01, 0.99, drawing, family="monospace", fontsize=8, va="top")
    fig.savefig(out / "circuit.png", dpi=80)
    plt.close(fig)

    x = grid.centers[0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained", sharey=True)
    for ax, solver in zip(axes, ("splu", "hhl"), strict=True):
        dens = runs[solver].probabilities / grid.cell_volume
        mesh = ax.pcolormesh(times, x, dens.T, shading="nearest", cmap="viridis")
        ax.plot(times, truth, "w.", label="truth")
        ax.plot(times, runs[solver].mean[:, 0], "r-", label="posterior mean")
        ax.set_title(f"solver={solver!r}")
        ax.set_xlabel("t")
    axes[0].set_ylabel("x")
    axes[0].legend(loc="upper right", fontsize=8)
    fig.colorbar(mesh, ax=axes, label="posterior density")
    fig.savefig(out / "posteriors.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    ax.semilogy(times, dist, "o-")
    ax.set_xlabel("t")
    ax.set_ylabel("Hellinger(HHL posterior, splu posterior)")
    fig.savefig(out / "hellinger.png", dpi=110)
    plt.close(fig)
    print(f"figures in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
