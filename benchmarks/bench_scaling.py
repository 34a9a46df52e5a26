"""Time and memory against the number of cells N: assembly, one explicit step, one splu.

Grids of increasing size in 1, 2 and 3 dimensions (an Ornstein-Uhlenbeck drift, D = 0.5);
memory is the bytes of the CSR generator and of the sparse LU factors of ``I - dt A``. The
log-log slopes are least-squares fits over the sizes of each dimension.

    python benchmarks/bench_scaling.py [--quick]
"""

from __future__ import annotations

import argparse

import numba
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from common import best_of, loglog_slope, table

import pfda

FULL = {1: (1000, 4000, 16000, 64000), 2: (32, 64, 128, 256), 3: (10, 16, 24, 32)}
QUICK = {1: (200, 800), 2: (16, 32), 3: (6, 10)}


@numba.njit
def ou_point(x):
    return -x


def run(quick: bool = False) -> dict:
    sizes = QUICK if quick else FULL
    repeats = 2 if quick else 3
    rows, slopes = [], []
    sde = pfda.SDE(drift=ou_point, diffusion=0.5)
    for d, cells_list in sizes.items():
        ns, t_asm, t_step, t_lu, m_a, m_lu = [], [], [], [], [], []
        for c in cells_list:
            grid = pfda.Grid(lower=[-4.0] * d, upper=[4.0] * d, cells=[c] * d)
            pfda.generator(grid, sde)
            ta = best_of(lambda g=grid: pfda.generator(g, sde), repeats)
            A = pfda.generator(grid, sde)
            p = np.full(grid.size, 1.0 / grid.size)
            ts = best_of(lambda a=A, q=p: a @ q, repeats + 3)
            M = sp.csc_matrix(sp.identity(grid.size) - 0.01 * A)
            tl = best_of(lambda m=M: spla.splu(m), repeats)
            lu = spla.splu(M)
            mem_lu = lu.L.data.nbytes + lu.U.data.nbytes + lu.L.indices.nbytes + lu.U.indices.nbytes
            mem_a = A.data.nbytes + A.indices.nbytes + A.indptr.nbytes
            ns.append(grid.size)
            t_asm.append(ta), t_step.append(ts), t_lu.append(tl), m_a.append(mem_a)
            m_lu.append(mem_lu)
            rows.append(
                [
                    f"{d}-D",
                    "x".join([str(c)] * d),
                    grid.size,
                    1e3 * ta,
                    1e3 * ts,
                    1e3 * tl,
                    mem_a / 1e6,
                    mem_lu / 1e6,
                ]
            )
        slopes.append(
            [
                f"{d}-D",
                loglog_slope(ns, t_asm),
                loglog_slope(ns, t_step),
                loglog_slope(ns, t_lu),
                loglog_slope(ns, m_a),
                loglog_slope(ns, m_lu),
            ]
        )
    header = ["dim", "cells", "N", "assembly (ms)", "A @ p (ms)", "splu (ms)", "A (MB)", "LU (MB)"]
    slope_header = ["dim", "assembly", "A @ p", "splu", "A memory", "LU memory"]
    return {
        "title": "Scaling with the number of cells N (OU drift, D = 0.5, splu of I - 0.01 A)",
        "command": "python benchmarks/bench_scaling.py" + (" --quick" if quick else ""),
        "note": "Fitted log-log slopes (time or memory ~ N^slope):\n\n"
        + table(slope_header, slopes),
        "table": table(header, rows),
        "rows": rows,
        "slopes": slopes,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    res = run(parser.parse_args().quick)
    print(res["table"])
    print(res["note"])
