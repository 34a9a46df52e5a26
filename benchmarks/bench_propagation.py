"""One explicit step ``p' = P p`` (CSR, ``P = I + dt A``) against the memory-bandwidth bound.

The bound is the time to stream the bytes the product must touch (the CSR's data, indices and
indptr, the input and the output vector) at the bandwidth NumPy reaches in the same run (the
better of a large-array sum and a large-array copy).

    python benchmarks/bench_propagation.py [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse as sp
from common import LORENZ_LOWER, LORENZ_UPPER, best_of, lorenz_point, table

import pfda


def stream_bandwidth(nbytes: int, repeats: int) -> float:
    """Bytes per second NumPy streams over an array of about ``nbytes`` (read-only sum, copy)."""
    a = np.ones(max(nbytes // 8, 1))
    b = np.empty_like(a)
    t_sum = best_of(lambda: a.sum(), repeats)
    t_copy = best_of(lambda: np.copyto(b, a), repeats)
    return max(a.nbytes / t_sum, 2 * a.nbytes / t_copy)


def run(quick: bool = False) -> dict:
    n = 24 if quick else 64
    repeats = 5 if quick else 20
    grid = pfda.Grid(lower=LORENZ_LOWER, upper=LORENZ_UPPER, cells=n)
    sde = pfda.SDE(drift=lorenz_point, diffusion=1.0)
    A = pfda.generator(grid, sde)
    dt = pfda.cfl_limit(A)
    P = sp.csr_matrix(sp.identity(grid.size, format="csr") + dt * A)
    P.sort_indices()
    p = pfda.gaussian(grid, mean=[0.0, 0.0, 25.0], cov=np.diag([40.0, 40.0, 40.0]))
    nbytes = P.data.nbytes + P.indices.nbytes + P.indptr.nbytes + 2 * p.nbytes
    bandwidth = stream_bandwidth(max(nbytes, 1 << 24), repeats)
    t_step = best_of(lambda: P @ p, repeats)
    bound = nbytes / bandwidth
    rows = [
        [
            f"{n}^3",
            P.nnz,
            nbytes / 1e6,
            bandwidth / 1e9,
            1e3 * t_step,
            1e3 * bound,
            t_step / bound,
            1e9 * t_step / grid.size,
        ]
    ]
    header = [
        "grid",
        "nnz",
        "bytes (MB)",
        "NumPy stream (GB/s)",
        "P @ p (ms)",
        "bound (ms)",
        "step / bound",
        "ns per cell",
    ]
    return {
        "title": "Propagation: one explicit CSR step vs the memory-bandwidth bound "
        "(Lorenz-63, D=1)",
        "command": "python benchmarks/bench_propagation.py" + (" --quick" if quick else ""),
        "note": f"dt = CFL limit = {dt:.3g}; minimum of {repeats} repeats.",
        "table": table(header, rows),
        "rows": rows,
        "ratio": t_step / bound,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(run(parser.parse_args().quick)["table"])
