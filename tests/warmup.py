"""Compile the kernels most tests share, once, before the test workers start.

``python tests/warmup.py fixed`` or ``window``: each runs small filters that touch one group of
kernels, so that two processes compile the two groups side by side and write them to Numba's
disk cache; the xdist workers then load them instead of each compiling them again. It only
fills the cache: a failure here is reported by the tests themselves.
"""

from __future__ import annotations

import sys

import numba
import numpy as np

import pfda


@numba.njit
def _drift1(x):
    return (-x[0],)


@numba.njit
def _h1(x):
    return (x[0],)


@numba.njit
def _drift2(x):
    return (x[1], -np.sin(x[0]))


@numba.njit
def _drift_any(x):
    return x * -1.0


def fixed() -> None:
    # the assembly kernels are compiled per dimension (their shapes are tuples)
    for d in (1, 2, 3, 4):
        grid = pfda.Grid([-1.0] * d, [1.0] * d, [3] * d)
        for drift in (_drift_any, lambda x: -x):
            pfda.generator(grid, pfda.SDE(drift, 0.3))
            pfda.generator(grid, pfda.SDE(drift, 0.0))
    times, ys = [0.1, 0.2], [[0.1], [0.2]]
    grid = pfda.Grid([-3.0], [3.0], [40])
    for drift in (lambda x: -x, _drift1):
        sde = pfda.SDE(drift, 0.5)
        for scheme in ("implicit", "explicit", "split-ppm"):
            obs = pfda.GaussianObservation(lambda x: x, 0.1)
            pfda.Filter(grid, sde, obs, scheme=scheme).run(lambda g: pfda.gaussian(g, [0.0], [1.0]),
                                                           times, ys)  # fmt: skip


def window() -> None:
    times, ys = [0.1, 0.2], [[0.1], [0.2]]
    grid = pfda.Grid([-np.pi, -3.0], [np.pi, 3.0], [12, 12], boundary=["periodic", "reflecting"])
    sde = pfda.SDE(_drift2, [0.0, 0.1])
    for obs in (pfda.GaussianObservation(_h1, 0.1),
                pfda.GaussianObservation(lambda x: x[:1], 0.1)):  # fmt: skip
        pfda.Filter(grid, sde, obs, scheme="split-ppm", mesh=pfda.Window()).run(
            lambda g: pfda.gaussian(g, [0.0, 0.0], np.eye(2)), times, ys
        )
    for scheme in ("explicit", "split-ppm"):  # the same model on the fixed mesh
        pfda.Filter(grid, sde, pfda.GaussianObservation(_h1, 0.1), scheme=scheme).run(
            lambda g: pfda.gaussian(g, [0.0, 0.0], np.eye(2)), times, ys
        )


if __name__ == "__main__":
    {"fixed": fixed, "window": window}[sys.argv[1]]()
