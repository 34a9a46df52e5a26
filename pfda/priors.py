"""Initial densities as cell probabilities.

A prior density ``rho_0`` enters the filter as the masses of the cells,
``p_i = int_{cell i} rho_0(x) dx``, renormalised to the box. Cell integrals (not centre values)
keep the mass of priors narrower than a cell. For a Gaussian with diagonal covariance they are
exact products of normal CDF differences; otherwise they use tensor Gauss--Legendre quadrature
with enough nodes per cell to resolve the density.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy.special import ndtr

from ._warnings import PfdaWarning
from .grid import Grid

__all__ = ["gaussian", "discretize"]

_MAX_QUADRATURE_POINTS = 40_000_000


def _normalise(grid: Grid, mass: np.ndarray, what: str) -> np.ndarray:
    total = float(mass.sum())
    if not np.isfinite(total) or total <= 0:
        raise ValueError(
            f"{what} has no mass on the grid {grid}: move or widen the grid to cover it"
        )
    if total < 0.99:
        warnings.warn(
            f"{what} has only {total:.4f} of its mass inside the grid box; it is renormalised "
            "to the box, but a wider grid would be more faithful",
            PfdaWarning,
            stacklevel=3,
        )
    return mass / total


def gaussian(grid: Grid, mean, cov) -> np.ndarray:
    """Cell probabilities of ``N(mean, cov)`` restricted to the grid box.

    Parameters
    ----------
    grid : Grid
    mean : sequence of float, shape ``(d,)``
    cov : float, sequence ``(d,)`` (variances) or array ``(d, d)``
        Symmetric positive definite.

    Returns
    -------
    numpy.ndarray
        Shape ``(N,)``, non-negative, summing to 1.
    """
    d = grid.ndim
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    if mean.shape != (d,):
        raise ValueError(f"mean must have shape ({d},) for a {d}-D grid, got {mean.shape}")
    cov = np.asarray(cov, dtype=float)
    if cov.ndim == 0:
        cov = np.eye(d) * cov
    elif cov.ndim == 1:
        cov = np.diag(cov)
    if cov.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}), got {cov.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise ValueError("mean and cov must be finite")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-14):
        raise ValueError("cov must be symmetric")
    evals = np.linalg.eigvalsh(cov)
    if evals.min() <= 0:
        raise ValueError(
            f"cov is not positive definite (smallest eigenvalue {evals.min():.3g}): every "
            "eigenvalue of a covariance must be > 0"
        )
    if np.count_nonzero(cov - np.diag(np.diag(cov))) == 0:
        sd = np.sqrt(np.diag(cov))
        factors = [np.diff(ndtr((grid.edges[k] - mean[k]) / sd[k])) for k in range(d)]
        mass = factors[0]
        for f in factors[1:]:
            mass = np.multiply.outer(mass, f)
        return _normalise(grid, np.ravel(mass), "the Gaussian prior")
    prec = np.linalg.inv(cov)
    log_norm = -0.5 * (d * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1])

    def pdf(x):
        z = x - mean[:, None]
        return np.exp(log_norm - 0.5 * np.einsum("im,ij,jm->m", z, prec, z))

    sd = np.sqrt(np.diag(cov))
    order = int(np.clip(np.ceil(np.max(4 * grid.widths / sd)), 4, 24))
    return _normalise(grid, _cell_integrals(grid, pdf, order), "the Gaussian prior")


def _cell_integrals(grid: Grid, pdf: Callable, order: int) -> np.ndarray:
    """``int_cell pdf`` for every cell by tensor Gauss--Legendre quadrature of ``order`` nodes."""
    d = grid.ndim
    while order > 1 and grid.size * order**d > _MAX_QUADRATURE_POINTS:
        order -= 1
    nodes, weights = np.polynomial.legendre.leggauss(order)
    mass = np.zeros(grid.size)
    centers = grid.centers
    half = 0.5 * grid.widths
    # loop over the order**d node combinations, each a vectorised pass over all cells
    for combo in np.ndindex(*(order,) * d):
        x = centers + (nodes[list(combo)] * half)[:, None]
        w = np.prod(weights[list(combo)])
        mass += w * pdf(x)
    return mass * np.prod(half)


def discretize(grid: Grid, pdf: Callable, order: int = 4) -> np.ndarray:
    """Cell probabilities of a density given as a vectorised function ``pdf(x (d, m)) -> (m,)``.

    Each cell is integrated with an ``order``-point Gauss--Legendre rule per axis; the result is
    normalised to 1 on the box (the density need not be normalised).
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    mass = _cell_integrals(grid, lambda x: np.asarray(pdf(x), dtype=float), order)
    if not np.all(np.isfinite(mass)) or np.any(mass < 0):
        raise ValueError("pdf returned negative, NaN or inf values on the grid")
    total = mass.sum()
    if total <= 0:
        raise ValueError("pdf has no mass on the grid: move or widen the grid")
    return mass / total
