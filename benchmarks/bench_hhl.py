"""HHL state-vector timings: build / transpile once, then run per right-hand side.

Systems are implicit (backward-Euler) Fokker-Planck steps ``M = I - dt A`` with an upwind
finite-volume generator ``A`` (reflecting boundaries, column sums 0) for an
Ornstein-Uhlenbeck process ``dx = -k x dt + sqrt(2 D) dW``:

* N = 4 ... 256: 1-D grid on [-2, 2] (tridiagonal, a birth-death chain);
* N = 1024: 2-D 32 x 32 grid on [-2, 2]^2 (5-point stencil).  The drift is not zero, so
  ``M`` is not symmetric; but it is separable (``f_x`` depends on ``x`` only), so detailed
  balance holds around every cell and ``M`` is symmetrised by a positive diagonal
  similarity — no dilation qubit.  ``quantum`` detects this by itself.

``dt`` is chosen per size so that ``kappa(M)`` is about 3.  For each size the table gives
the one-off ``prepare`` cost (``build``: matrix analysis, eigen-decomposition, circuit;
``transpile``: for Aer), the mean ``run`` time of a solve over several probability vectors
``b`` (state preparation + simulation + read-out), the fidelity and relative error
against ``numpy.linalg.solve``, and the CX count after transpiling to
``['rz', 'sx', 'x', 'cx']`` (with its transpile time; ``~`` marks the closed-form count used
where transpiling dense controlled unitaries would take too long).

Run ``python benchmarks/bench_hhl.py`` (``--quick``: N <= 16 only).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp


def upwind_generator_1d(n: int, lower: float, upper: float, k: float, D: float) -> sp.csr_matrix:
    """Upwind FV generator of ``dx = -k x dt + sqrt(2D) dW`` on ``n`` cells, reflecting."""
    h = (upper - lower) / n
    faces = lower + h * np.arange(1, n)  # interior faces between cell i and i + 1
    v = -k * faces
    right = np.maximum(v, 0) / h + D / h**2  # rate i -> i + 1
    left = np.maximum(-v, 0) / h + D / h**2  # rate i + 1 -> i
    A = sp.diags([right, left], [-1, 1], shape=(n, n)).tolil()
    A.setdiag(-np.asarray(A.sum(axis=0)).ravel())
    return A.tocsr()


def fokker_planck_step(shape: tuple[int, ...], target_kappa: float = 3.0) -> sp.csr_matrix:
    """``I - dt A`` for the OU process on ``[-2, 2]^d`` with ``kappa`` close to the target."""
    k, D = 1.0, 0.5
    gens = [upwind_generator_1d(n, -2.0, 2.0, k, D) for n in shape]
    if len(gens) == 1:
        A = gens[0]
    else:  # C order: last axis fastest
        A = sp.kron(gens[0], sp.identity(shape[1])) + sp.kron(sp.identity(shape[0]), gens[1])
    rate = float(np.max(-A.diagonal()))
    dt = (target_kappa - 1.0) / (2.0 * rate)  # kappa ~ 1 + dt * |lambda_max(A)| <= 1 + 2 dt rate
    return (sp.identity(A.shape[0]) - dt * A).tocsr()


def bench_case(shape, solves: int, epsilon: float, rng: np.random.Generator) -> dict:
    import pfda_quantum as quantum

    M = fokker_planck_step(shape)
    N = M.shape[0]
    t0 = time.perf_counter()
    prepared = quantum.HHLSolver(epsilon=epsilon, resource_counts=False).prepare(M)
    prep_wall = time.perf_counter() - t0
    runs, fids, errs, probs = [], [], [], []
    for _ in range(solves):
        b = rng.dirichlet(np.ones(N))
        r = prepared.solve_result(b)
        runs.append(r.timings["run"])
        fids.append(r.fidelity)
        errs.append(r.relative_error)
        probs.append(r.success_probability)
    counts = prepared.resource_counts(force=N <= 16)  # transpiled to the basis for N <= 16
    info = prepared.matrix_info
    return {
        "N": N,
        "grid": "x".join(map(str, shape)),
        "method": info.method,
        "qubits": f"{info.num_system_qubits}+{info.num_clock_qubits}+1",
        "kappa": info.kappa,
        "simulation": info.simulation,
        "build": prepared.timings["build"],
        "transpile": prepared.timings["transpile"],
        "prepare_wall": prep_wall,
        "run": float(np.mean(runs)),
        "fidelity": float(np.min(fids)),
        "rel_error": float(np.max(errs)),
        "success": float(np.mean(probs)),
        "cx": counts["two_qubit_gates"],
        "cx_source": counts["counts"],
        "resources": counts["seconds"],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only N <= 16")
    parser.add_argument("--solves", type=int, default=3, help="right-hand sides per size")
    parser.add_argument("--epsilon", type=float, default=0.01, help="target relative error")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    shapes = [(4,), (8,), (16,)]
    if not args.quick:
        shapes += [(64,), (256,), (32, 32)]
    rng = np.random.default_rng(args.seed)
    rows = [bench_case(s, args.solves, args.epsilon, rng) for s in shapes]
    print(
        f"HHL, exact state vector on Aer, epsilon = {args.epsilon:g}, "
        f"{args.solves} right-hand sides per size (run = mean per solve; worst fidelity "
        "and relative error)\n"
    )
    print(
        "| N | grid | embedding | qubits (sys+clock+flag) | kappa | simulation | build [s] "
        "| transpile [s] | run [s/solve] | fidelity | rel. error | P(success) | CX "
        "| counts [s] |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['N']} | {r['grid']} | {r['method']} | {r['qubits']} | {r['kappa']:.2f} "
            f"| {r['simulation']} | {r['build']:.3f} | {r['transpile']:.3f} | {r['run']:.3f} "
            f"| {r['fidelity']:.6f} | {r['rel_error']:.2e} | {r['success']:.3f} "
            f"| {'~' if r['cx_source'] == 'estimated' else ''}{r['cx']} "
            f"| {r['resources']:.2f} |"
        )


if __name__ == "__main__":
    main()
