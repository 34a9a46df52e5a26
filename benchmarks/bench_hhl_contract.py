"""HHL epsilon-contract: worst relative error of the default solver on Fokker-Planck steps.

Systems are the library's own implicit (backward-Euler) steps ``M = I - dt A`` with
``dt = 0.05`` and ``A = pfda.generator(grid, sde, flux="sg")``, the Scharfetter-Gummel
finite-volume generator of the Ornstein-Uhlenbeck process ``dx = -k x dt + sqrt(D) dW``
(``D = 0.5``) on ``[-3, 3]`` with reflecting boundaries.  ``M`` is reversible: the diagonal
similarity ``S = diag(sqrt(pi))`` (``pi`` the stationary vector) makes ``S^-1 M S``
symmetric, but ``cond(S) = max(s) / min(s)`` is ``3e3`` to ``5e5`` here, and ``x = S y``
amplifies the relative error of ``y`` by up to that factor.

Table 1: for each grid and drift, the default ``HHLSolver(epsilon=0.01)`` (exact state
vector) solves ten Dirichlet(1) right-hand sides ``b = default_rng(seed).dirichlet(1)``,
``seed = 0..9``; the table gives the embedding it chose, its qubits, ``cond(S)``, the
certified bound ``matrix_info.error_bound`` on ``||x - x*|| / ||x*||`` (every ``b``) and the
largest measured relative error against ``numpy.linalg.solve``.

Table 2: shots.  A tail-heavy right-hand side on 16 cells (mass near both ends of the grid,
``b_i ~ exp(-(|c_i| - 2.6)^2 / 0.1)`` at the cell centres ``c_i``) is solved with
``shots=100_000, nonnegative=True, mass=1.0`` for several simulator seeds; the table gives
the total variation ``0.5 * sum |x - x*|`` of the probability vector, mean and largest over
the seeds, and that of the exact state vector of the same circuit.

Run ``python benchmarks/bench_hhl_contract.py`` (``--quick``: 16 and 32 cells, fewer seeds;
``--no-shots``: table 1 only).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

LOWER, UPPER, DIFFUSION, DT = -3.0, 3.0, 0.5, 0.05


def ou_step(cells: int, k: float, dt: float = DT) -> sp.csr_matrix:
    """``I - dt A`` for ``dx = -k x dt + sqrt(D) dW`` (Scharfetter-Gummel, reflecting)."""
    import pfda

    grid = pfda.Grid([LOWER], [UPPER], [cells])
    sde = pfda.SDE(drift=lambda x: -k * x, diffusion=DIFFUSION)
    A = pfda.generator(grid, sde, flux="sg")
    return (sp.identity(cells) - dt * A).tocsr()


def tail_heavy_rhs(cells: int) -> np.ndarray:
    """A probability vector with its mass near both ends of ``[LOWER, UPPER]``."""
    edges = np.linspace(LOWER, UPPER, cells + 1)
    c = 0.5 * (edges[1:] + edges[:-1])
    b = np.exp(-((np.abs(c) - 2.6) ** 2) / 0.1)
    return b / b.sum()


def _qubits(info) -> str:
    return f"{info.num_system_qubits}+{info.num_clock_qubits}+1"


def contract_case(cells: int, k: float, rhs: int, epsilon: float) -> dict:
    import pfda_quantum as quantum
    from pfda_quantum.matrix import reversible_scaling

    M = ou_step(cells, k)
    Md = M.toarray()
    s = reversible_scaling(M)
    t0 = time.perf_counter()
    prepared = quantum.HHLSolver(epsilon=epsilon, resource_counts=False).prepare(M)
    errs = []
    for seed in range(rhs):
        b = np.random.default_rng(seed).dirichlet(np.ones(cells))
        x_ref = np.linalg.solve(Md, b)
        x = prepared.solve(b)
        errs.append(np.linalg.norm(x - x_ref) / np.linalg.norm(x_ref))
    info = prepared.matrix_info
    return {
        "cells": cells,
        "drift": f"-{k:g}x",
        "method": info.method,
        "qubits": _qubits(info),
        "cond_s": float(s.max() / s.min()),
        "bound": getattr(info, "error_bound", None),
        "max_err": float(np.max(errs)),
        "seconds": time.perf_counter() - t0,
    }


def shots_case(cells: int, shots: int, seeds: int) -> dict:
    import pfda_quantum as quantum

    M = ou_step(cells, 1.0)
    b = tail_heavy_rhs(cells)
    x_ref = np.linalg.solve(M.toarray(), b)
    x_ref /= x_ref.sum()
    t0 = time.perf_counter()
    prepared = quantum.HHLSolver(
        shots=shots, nonnegative=True, mass=1.0, resource_counts=False
    ).prepare(M)
    tv, kept = [], []
    for seed in range(seeds):
        r = prepared.solve_result(b, seed=seed, reference=False)
        tv.append(0.5 * np.abs(r.x - x_ref).sum())
        kept.append(r.success_probability)
    x_sv = prepared.solve(b, shots=None)
    return {
        "cells": cells,
        "method": prepared.matrix_info.method,
        "qubits": _qubits(prepared.matrix_info),
        "shots": shots,
        "kept": float(np.mean(kept)),
        "tv_mean": float(np.mean(tv)),
        "tv_max": float(np.max(tv)),
        "tv_sv": float(0.5 * np.abs(x_sv - x_ref).sum()),
        "seconds": time.perf_counter() - t0,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 and 32 cells, fewer seeds")
    parser.add_argument("--rhs", type=int, default=10, help="Dirichlet right-hand sides")
    parser.add_argument("--epsilon", type=float, default=0.01, help="target relative error")
    parser.add_argument("--shots", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=5, help="simulator seeds for shots")
    parser.add_argument("--no-shots", action="store_true", help="skip table 2")
    args = parser.parse_args(argv)
    cells = (16, 32) if args.quick else (16, 32, 64)
    rhs = min(args.rhs, 3) if args.quick else args.rhs
    rows = [contract_case(n, k, rhs, args.epsilon) for k in (1.0, 1.5) for n in cells]
    print(
        f"HHLSolver(epsilon={args.epsilon:g}) defaults, exact state vector, OU "
        f"Scharfetter-Gummel step (dt = {DT:g}, [-3, 3]); {rhs} Dirichlet(1) right-hand sides "
        "per case; error = ||x - x*|| / ||x*|| against numpy.linalg.solve\n"
    )
    print(
        "| cells | drift | embedding | qubits (sys+clock+flag) | cond(S) | certified bound "
        "| max rel. error | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        bound = "-" if r["bound"] is None else f"{r['bound']:.2e}"
        print(
            f"| {r['cells']} | {r['drift']} | {r['method']} | {r['qubits']} "
            f"| {r['cond_s']:.3g} | {bound} | {r['max_err']:.2e} | {r['seconds']:.1f} |"
        )
    if args.no_shots:
        return
    seeds = min(args.seeds, 2) if args.quick else args.seeds
    s = shots_case(16, args.shots, seeds)
    print(
        f"\nTail-heavy right-hand side, 16 cells, drift -x, shots = {s['shots']}, "
        f"nonnegative=True, mass=1.0, {seeds} simulator seeds; TV = total variation of the "
        "probability vector against numpy.linalg.solve\n"
    )
    print(
        "| cells | embedding | qubits (sys+clock+flag) | shots | kept fraction | TV mean "
        "| TV max | TV state vector | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {s['cells']} | {s['method']} | {s['qubits']} | {s['shots']} | {s['kept']:.3f} "
        f"| {s['tv_mean']:.2e} | {s['tv_max']:.2e} | {s['tv_sv']:.2e} | {s['seconds']:.1f} |"
    )


if __name__ == "__main__":
    main()
