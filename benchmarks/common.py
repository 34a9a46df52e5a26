"""Shared helpers for the benchmark scripts: models, timing and Markdown tables.

Timings are the minimum over repeats, and each comparison interleaves its contenders in one
process, so that the reported ratios are measured under the same machine load.
"""

from __future__ import annotations

import time

import numba
import numpy as np

SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0
LORENZ_LOWER = (-25.0, -30.0, 0.0)
LORENZ_UPPER = (25.0, 30.0, 55.0)


@numba.njit
def lorenz_point(x):
    """Lorenz-63 drift at one point (a Numba point function)."""
    return np.array([SIGMA * (x[1] - x[0]), x[0] * (RHO - x[2]) - x[1], x[0] * x[1] - BETA * x[2]])


@numba.njit
def lorenz_point_tuple(x):
    """Lorenz-63 drift at one point, returned as a tuple (no heap allocation per call)."""
    return (SIGMA * (x[1] - x[0]), x[0] * (RHO - x[2]) - x[1], x[0] * x[1] - BETA * x[2])


def lorenz_vectorised(x):
    """Lorenz-63 drift on a point set ``(3, m)`` (plain NumPy)."""
    return np.stack([SIGMA * (x[1] - x[0]), x[0] * (RHO - x[2]) - x[1], x[0] * x[1] - BETA * x[2]])


def best_of(func, repeats: int) -> float:
    """Minimum wall time of ``func()`` over ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def interleaved(funcs: dict, repeats: int) -> dict:
    """Minimum time of each function, calling them in turn ``repeats`` times (same load)."""
    times = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            t0 = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - t0)
    return {name: min(ts) for name, ts in times.items()}


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x``."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table."""

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
