"""Summaries of a density on a grid, and distances between densities.

The state is the vector ``p`` of cell probabilities; the density it represents is piecewise
constant, ``rho = p_i / V`` on cell ``i``. Moments are those of the cell masses placed at the
cell centres ``x_i``:

.. math:: m = \\sum_i p_i x_i, \\qquad C = \\sum_i p_i (x_i - m)(x_i - m)^T .

Distances between two probability vectors on the same grid:

.. math:: \\mathrm{TV}(p, q) = \\tfrac12 \\sum_i |p_i - q_i|, \\qquad
          H(p, q) = \\Big(1 - \\sum_i \\sqrt{p_i q_i}\\Big)^{1/2}
          = \\Big(\\tfrac12 \\sum_i (\\sqrt{p_i} - \\sqrt{q_i})^2\\Big)^{1/2}.

The differential entropy of the piecewise-constant density is
``-sum_i p_i log(p_i / V)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .grid import Grid

__all__ = [
    "mean",
    "covariance",
    "marginal",
    "map_estimate",
    "credible_interval",
    "hpd_mask",
    "entropy",
    "hellinger",
    "total_variation",
]


def _stack(p) -> np.ndarray:
    return np.asarray(p, dtype=float)


def mean(grid: Grid, p) -> np.ndarray:
    """Mean ``sum_i p_i x_i`` of ``p`` (``(N,)`` -> ``(d,)``, or ``(K, N)`` -> ``(K, d)``)."""
    p = _stack(p)
    return p @ grid.centers.T / p.sum(axis=-1, keepdims=True)


def covariance(grid: Grid, p) -> np.ndarray:
    """Covariance of ``p`` (``(N,)`` -> ``(d, d)``, or ``(K, N)`` -> ``(K, d, d)``)."""
    p = _stack(p)
    single = p.ndim == 1
    p2 = np.atleast_2d(p)
    w = p2 / p2.sum(axis=1, keepdims=True)
    m = w @ grid.centers.T
    second = np.einsum("kn,in,jn->kij", w, grid.centers, grid.centers)
    cov = second - m[:, :, None] * m[:, None, :]
    cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
    return cov[0] if single else cov


def marginal(grid: Grid, p, axes: int | Sequence[int]) -> np.ndarray:
    """Cell probabilities of the marginal on ``axes`` (summing the others out).

    Returns an array of shape ``tuple(grid.cells[a] for a in axes)`` (leading ``K`` kept for a
    stack of vectors).
    """
    axes = (axes,) if np.isscalar(axes) else tuple(axes)
    for a in axes:
        if not 0 <= a < grid.ndim:
            raise ValueError(f"axis {a} out of range for a {grid.ndim}-D grid")
    p = grid.reshape(_stack(p))
    lead = p.ndim - grid.ndim
    drop = tuple(lead + k for k in range(grid.ndim) if k not in axes)
    out = p.sum(axis=drop)
    order = sorted(axes)
    perm = [order.index(a) for a in axes]
    return np.transpose(out, tuple(range(lead)) + tuple(lead + q for q in perm))


def map_estimate(grid: Grid, p) -> np.ndarray:
    """Centre of the most probable cell (``(d,)``, or ``(K, d)`` for a stack)."""
    p = _stack(p)
    return grid.centers[:, np.argmax(p, axis=-1)].T


def credible_interval(grid: Grid, p, axis: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Equal-tailed credible interval of the marginal on ``axis``.

    The marginal density is piecewise constant, so its CDF is piecewise linear and the
    quantiles are read off exactly.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    pm = marginal(grid, p, axis)
    cdf = np.concatenate([[0.0], np.cumsum(pm) / pm.sum()])
    edges = grid.edges[axis]
    lo = np.interp((1 - level) / 2, cdf, edges)
    hi = np.interp((1 + level) / 2, cdf, edges)
    return float(lo), float(hi)


def hpd_mask(p, level: float = 0.95) -> np.ndarray:
    """Boolean mask of the highest-density region: the fewest cells holding ``level`` of the mass.

    On an equal-volume grid the highest-density cells are the most probable ones.
    """
    if not 0 < level <= 1:
        raise ValueError(f"level must lie in (0, 1], got {level}")
    p = _stack(p)
    order = np.argsort(p)[::-1]
    csum = np.cumsum(p[order]) / p.sum()
    count = int(np.searchsorted(csum, level * (1 - 1e-12)) + 1)
    mask = np.zeros(p.shape, dtype=bool)
    mask[order[:count]] = True
    return mask


def entropy(grid: Grid, p) -> float | np.ndarray:
    """Differential entropy ``-sum_i p_i log(p_i / V)`` of the piecewise-constant density."""
    p = _stack(p)
    p = p / p.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / grid.cell_volume), 0.0)
    return -terms.sum(axis=-1)


def _pair(p, q) -> tuple[np.ndarray, np.ndarray]:
    p, q = _stack(p), _stack(q)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    if np.any(p < 0) or np.any(q < 0):
        raise ValueError("distances are between probability vectors: entries must be >= 0")
    return p / p.sum(axis=-1, keepdims=True), q / q.sum(axis=-1, keepdims=True)


def hellinger(p, q) -> float | np.ndarray:
    """Hellinger distance ``sqrt(1 - sum sqrt(p q))`` (in ``[0, 1]``), after normalising both."""
    p, q = _pair(p, q)
    h2 = 0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2, axis=-1)
    return np.sqrt(np.clip(h2, 0.0, 1.0))


def total_variation(p, q) -> float | np.ndarray:
    """Total-variation distance ``sum |p - q| / 2`` (in ``[0, 1]``), after normalising both."""
    p, q = _pair(p, q)
    return 0.5 * np.sum(np.abs(p - q), axis=-1)
