"""The likelihood on a grid: ``log g(y | x_i)`` at the centres of the cells that hold mass.

An observation model (:mod:`pfda.models`) gives ``log g(y | x)`` on point sets. A filter needs
it at the cell centres ``x_i`` of its grid, at every update, and only where the predicted
density has mass. :class:`GridLikelihood` evaluates it there and keeps what depends on the
grid alone.

For a :class:`~pfda.GaussianObservation` ``y = h(x) + v``, ``v ~ N(0, R)``,

.. math:: \\log g(y \\mid x_i) = -\\tfrac12 \\lVert L^{-1}(y - h(x_i)) \\rVert^2
          - \\tfrac12 \\log\\det(2\\pi R), \\qquad R = L L^T,

and ``h(x_i)`` depends on the cell alone: it is kept for every cell where it was evaluated,
and evaluated only at cells that hold mass for the first time. When the grid moves by whole
cells (a window following the posterior) the kept values move with the cells, so ``h`` is
evaluated only on the cells new to the grid; any other change of the grid starts afresh. A
Numba point ``h`` is evaluated in a compiled kernel (through :mod:`pfda.compiled`), any other
``h`` vectorised on the cells that need it.

Any other :class:`~pfda.Observation` is evaluated by its ``log_likelihood`` on the centres of
the cells with mass. Either way the result is ``-inf`` at cells without mass, and
:meth:`GridLikelihood.__call__` also returns the largest value (``-inf``: the observation is
impossible wherever the predicted density has mass).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .compiled import call_point
from .grid import Grid
from .kernels import shift_values
from .models import GaussianObservation, Observation

__all__ = [
    "GridLikelihood",
    "fill_points",
    "gaussian_log_likelihood",
    "keep_values",
    "point_log_likelihood",
]


@numba.njit(cache=True)
def fill_points(f, lower, widths, cells, p, hx):
    """``hx[:, i] = f(x_i)`` at the centres of the cells with ``p[i] > 0`` whose values are
    missing (``nan``), for the point function at address ``f``
    (:func:`pfda.compiled.point_function`)."""
    d = len(cells)
    x = np.empty(d)
    value = np.empty(hx.shape[0])
    for i in range(p.shape[0]):
        if p[i] > 0.0 and math.isnan(hx[0, i]):
            rest = i  # the multi-index of cell i, last axis fastest
            for k in range(d - 1, -1, -1):
                x[k] = lower[k] + (rest % cells[k] + 0.5) * widths[k]
                rest //= cells[k]
            call_point(f, x, 0.0, value)
            for a in range(hx.shape[0]):
                hx[a, i] = value[a]


@numba.njit(cache=True)
def keep_values(hx, seen, lower, widths, cells, strides, tmp):
    """Carry the values ``hx`` (``(q, N)``) kept on the box ``seen`` (``(2, d)``: lower corner,
    widths) over to the box ``lower``, ``widths``: moved with the cells after a whole-cell shift,
    ``nan`` where new, all ``nan`` after any other change; ``seen`` becomes the new box."""
    d = len(cells)
    steps = np.zeros(d, dtype=np.int64)
    same = True
    moved = False
    for k in range(d):
        shift = (lower[k] - seen[0, k]) / widths[k]
        # a window's grid recomputes its widths from its corners: equal to round-off
        same = same and abs(widths[k] - seen[1, k]) <= 1e-12 * widths[k] and abs(shift) < 1e9
        if same:
            steps[k] = np.int64(np.rint(shift))
            same = abs(shift - steps[k]) <= 1e-6
            moved = moved or steps[k] != 0
    if not same:
        hx[:, :] = np.nan
    elif moved:
        for a in range(hx.shape[0]):
            shift_values(hx[a], tmp, cells, strides, steps, np.nan)
            hx[a, :] = tmp
    for k in range(d):
        seen[0, k] = lower[k]
        seen[1, k] = widths[k]


@numba.njit(cache=True)
def point_log_likelihood(h, y, chol_inv, log_norm, cells, strides, box, p, hx, seen, ll):
    """:class:`GridLikelihood` of a Gaussian observation of a wrapped point ``h`` in one call:
    the kept values moved to ``box`` (:func:`keep_values`), ``h`` where missing at cells with
    mass (:func:`fill_points`), and :func:`gaussian_log_likelihood`; returns its result."""
    keep_values(hx, seen, box[0], box[1], cells, strides, ll)
    fill_points(h, box[0], box[1], cells, p, hx)
    return gaussian_log_likelihood(hx, y, chol_inv, log_norm, p, ll)


@numba.njit(cache=True)
def gaussian_log_likelihood(hx, y, chol_inv, log_norm, p, ll):
    """``ll[i] = -|L^{-1}(y - hx[:, i])|^2 / 2 - log_norm / 2`` where ``p[i] > 0``, ``-inf``
    elsewhere (``chol_inv`` lower triangular); returns ``(largest value, first cell with mass
    whose value is not finite, or -1)``."""
    q = y.shape[0]
    if q == 1:  # a scalar observation: one whitened residual per cell
        return _scalar_log_likelihood(hx[0], y[0], chol_inv[0, 0], log_norm, p, ll)
    r = np.empty(q)
    best = -math.inf
    for i in range(p.shape[0]):
        ll[i] = -math.inf
        if p[i] > 0.0:
            for a in range(q):
                r[a] = y[a] - hx[a, i]
            d2 = 0.0
            for a in range(q):
                z = 0.0
                for b in range(a + 1):
                    z += chol_inv[a, b] * r[b]
                d2 += z * z
            value = -0.5 * d2 - 0.5 * log_norm
            if not math.isfinite(value):
                return best, i
            ll[i] = value
            best = max(best, value)
    return best, -1


def _geometry(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Cells and strides as int64 arrays (the kernels compile once for every dimension)."""
    return np.asarray(grid.cells, dtype=np.int64), np.asarray(grid.strides, dtype=np.int64)


@numba.njit(cache=True)
def _scalar_log_likelihood(hx, y, c, log_norm, p, ll):
    """:func:`gaussian_log_likelihood` for ``q = 1`` (``c = 1 / sqrt(R)``)."""
    best = -math.inf
    half = 0.5 * log_norm
    for i in range(p.shape[0]):
        z = (y - hx[i]) * c
        value = -0.5 * (z * z) - half
        ll[i] = value if p[i] > 0.0 else -math.inf
    for i in range(p.shape[0]):
        if p[i] > 0.0:
            if not math.isfinite(ll[i]):
                return best, i
            best = max(best, ll[i])
    return best, -1


def _check_rows(rows: int, q: int) -> None:
    if rows != q:
        raise ValueError(f"y has {q} entries but h(x) has {rows} rows")


def _reuses_h(observation: Observation) -> bool:
    """Whether the likelihood is the Gaussian of ``h``: no subclass redefines how ``h(x)`` or
    ``g(y | x)`` is computed."""
    return isinstance(observation, GaussianObservation) and all(
        getattr(type(observation), name) is getattr(GaussianObservation, name)
        for name in ("predict", "log_likelihood")
    )


class GridLikelihood:
    """``log g(y | x_i)`` of ``observation`` on a grid, for the cells that hold mass.

    Parameters
    ----------
    observation : Observation
    ndim : int
        The state's dimension.
    """

    def __init__(self, observation: Observation, ndim: int, point=None) -> None:
        self.observation = observation
        self.ndim = int(ndim)
        # where a Numba point h is checked for its number of values (default: the origin)
        self.point = np.zeros(self.ndim) if point is None else np.asarray(point, dtype=float)
        self._gaussian = _reuses_h(observation)
        self._hx: np.ndarray | None = None  # (p, N): h at the cells of the box seen, nan: unknown
        self._seen = np.empty((2, 0))  # the box hx belongs to: lower corner, widths
        self._constants: dict[int, tuple] = {}  # q -> (L^-1 as a C array, log det 2 pi R, h)

    def _constants_for(self, q: int) -> tuple:
        found = self._constants.get(q)
        if found is None:
            obs = self.observation
            factor = obs.noise_factor(q)
            chol_inv = np.ascontiguousarray(np.atleast_2d(factor.chol_inv), dtype=float)
            h = None
            if obs.jitted:
                _check_rows(obs.outputs(self.point), q)  # the kernels read q values of h
                h = obs.point_h(self.ndim, q)
            found = self._constants[q] = (chol_inv, float(factor.log_norm), h)
        return found

    def point_state(self, q: int, size: int):
        """For a Gaussian observation of a Numba point ``h`` with ``q`` outputs on grids of
        ``size`` cells: ``(h, hx, seen, L^-1, log det 2 pi R)``, the state
        :func:`point_log_likelihood` works on (shared with :meth:`__call__`); else ``None``."""
        if not (self._gaussian and self.observation.jitted):
            return None
        chol_inv, log_norm, h = self._constants_for(q)
        if self._hx is None or self._hx.shape != (q, size):
            self._hx = np.full((q, size), np.nan)
            self._seen = np.full((2, self.ndim), np.nan)
        return h, self._hx, self._seen, chol_inv, log_norm

    def _values(self, grid: Grid, p: np.ndarray, hx: np.ndarray) -> None:
        """``h`` (vectorised) into ``hx`` at the centres of the cells with mass of ``grid``
        where missing: the plain twin of :func:`point_log_likelihood`'s first steps."""
        cells, strides = _geometry(grid)
        keep_values(hx, self._seen, grid.lower, grid.widths, cells, strides, np.empty(grid.size))
        need = np.flatnonzero((p > 0) & np.isnan(hx[0]))
        if need.size:
            values = self.observation.predict(grid.centers[:, need])
            _check_rows(values.shape[0], hx.shape[0])
            hx[:, need] = values

    def __call__(self, y, grid: Grid, p: np.ndarray, ll: np.ndarray) -> float:
        """Write ``ll[i] = log g(y | x_i)`` where ``p[i] > 0`` and ``-inf`` elsewhere; returns
        the largest value (``-inf`` if no cell with mass can have produced ``y``)."""
        obs = self.observation
        y = obs.check_y(y)
        if not self._gaussian:
            mask = p > 0
            ll[:] = -np.inf
            if mask.any():
                ll[mask] = obs.log_likelihood(y, grid.centers[:, mask])
            return float(ll.max(initial=-np.inf))
        q = y.shape[0]
        chol_inv, log_norm, h = self._constants_for(q)
        if self._hx is None or self._hx.shape != (q, grid.size):
            self._hx = np.full((q, grid.size), np.nan)
            self._seen = np.full((2, grid.ndim), np.nan)
        hx = self._hx
        if h is None:
            self._values(grid, p, hx)
            best, bad = gaussian_log_likelihood(hx, y, chol_inv, log_norm, p, ll)
        else:
            box = np.array([grid.lower, grid.widths])
            cells, strides = _geometry(grid)
            best, bad = point_log_likelihood(h, y, chol_inv, log_norm, cells, strides, box, p, hx,
                                             self._seen, ll)  # fmt: skip
        if bad >= 0:
            raise ValueError(
                f"h returned {hx[:, bad].tolist()} at {grid.centers[:, bad].tolist()}, a cell "
                "with predicted mass: NaN or inf"
            )
        return float(best)
