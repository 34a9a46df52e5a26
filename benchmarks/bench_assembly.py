"""Generator assembly: the Numba CSR kernel against the vectorised NumPy/SciPy COO reference.

Lorenz-63 on the box [-25, 25] x [-30, 30] x [0, 55], with a Numba point drift returning an
array or a tuple (evaluated inside a kernel; the reference evaluates it by a jitted loop over the
face centres) and with a plain vectorised NumPy drift, for D = 0 (upwind) and D = 1 on every axis
(Scharfetter-Gummel). The "drift calls" column times the face-centre drift evaluations alone
(3 N calls of the point drift): no assembly that calls this drift can be faster.

    python benchmarks/bench_assembly.py [--quick]
"""

from __future__ import annotations

import argparse

import numba
import numpy as np
from common import (
    LORENZ_LOWER,
    LORENZ_UPPER,
    interleaved,
    lorenz_point,
    lorenz_point_tuple,
    lorenz_vectorised,
    table,
)
from numba import prange

import pfda

FULL_SIZES = (32, 64, 96)
QUICK_SIZES = (12, 20)


@numba.njit(parallel=True)
def _drift_calls(f, lower, widths, cells, out):
    """``f`` at the upper face centre of every cell on every axis (the fused kernel's calls)."""
    n0, n1, n2 = cells[0], cells[1], cells[2]
    for a in prange(n0):
        x = np.empty(3)
        for b in range(n1):
            for c in range(n2):
                i = (a * n1 + b) * n2 + c
                for k in range(3):
                    x[0] = lower[0] + (a + 0.5) * widths[0]
                    x[1] = lower[1] + (b + 0.5) * widths[1]
                    x[2] = lower[2] + (c + 0.5) * widths[2]
                    x[k] += 0.5 * widths[k]
                    out[k, i] = f(x)[k]


def run(quick: bool = False) -> dict:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    repeats = 3 if quick else 15
    rows = []
    for n in sizes:
        grid = pfda.Grid(lower=LORENZ_LOWER, upper=LORENZ_UPPER, cells=n)
        cells = np.asarray(grid.cells)
        out = np.empty((3, grid.size))
        for diffusion in (0.0, 1.0):
            for label, drift in (
                ("jitted", lorenz_point),
                ("jitted, tuple", lorenz_point_tuple),
                ("numpy", lorenz_vectorised),
            ):
                sde = pfda.SDE(drift=drift, diffusion=diffusion)
                funcs = {
                    "numba": lambda g=grid, s=sde: pfda.generator(g, s, method="numba"),
                    "numpy": lambda g=grid, s=sde: pfda.generator(g, s, method="numpy"),
                }
                if label.startswith("jitted"):
                    funcs["calls"] = lambda g=grid, c=cells, o=out, f=drift: _drift_calls(
                        f, g.lower, g.widths, c, o
                    )
                for func in funcs.values():  # compile and warm the caches
                    func()
                t = interleaved(funcs, repeats)
                rows.append(
                    [
                        f"{n}^3",
                        label,
                        diffusion,
                        1e3 * t["numba"],
                        1e3 * t["numpy"],
                        t["numpy"] / t["numba"],
                        1e3 * t["calls"] if "calls" in t else "",
                    ]
                )
    header = [
        "grid",
        "drift",
        "D",
        "numba (ms)",
        "numpy ref (ms)",
        "speed-up",
        "drift calls (ms)",
    ]
    return {
        "title": "Assembly: Numba CSR kernel vs NumPy/SciPy COO reference (Lorenz-63)",
        "command": "python benchmarks/bench_assembly.py" + (" --quick" if quick else ""),
        "note": f"Numba threads: {numba.get_num_threads()}; minimum of {repeats} interleaved "
        "repeats.",
        "table": table(header, rows),
        "rows": rows,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    res = run(parser.parse_args().quick)
    print(res["table"])
