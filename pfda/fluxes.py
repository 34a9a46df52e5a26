"""Monotone numerical fluxes across one cell face, in NumPy and in Numba.

For a face between cells L and R = L + e_k (width ``h``) with normal velocity ``v`` at the face
centre, a flux is a pair of non-negative transfer rates (L->R, R->L) per unit of mass in the
source cell, so that ``dp_R/dt`` gains ``rate(L->R) p_L - rate(R->L) p_R``.

upwind (first order)
    ``L->R = max(v, 0)/h + D_L/(2h^2)``, ``R->L = max(-v, 0)/h + D_R/(2h^2)``, where ``D_L`` and
    ``D_R`` are the diffusion at the cell centres (this is the flux of ``d^2(D rho)/dx^2``).

Scharfetter--Gummel (exponential fitting, second order for constant ``D > 0``)
    with the cell Peclet number ``z = v h / (D/2)``, ``d = D/(2h^2)`` and the Bernoulli function
    ``B(z) = z / (e^z - 1)``: ``L->R = d B(-z)``, ``R->L = d B(z)``. Both are positive for every
    ``h``, the flux is exact for a constant drift between the two centres, and it tends to the
    upwind flux as ``D -> 0``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "bernoulli",
    "bernoulli_numpy",
    "face_rates_numpy",
    "face_rates_scaled",
]


@numba.njit(cache=True, inline="always")
def _bernoulli_nonneg(x: float) -> float:
    """``B(x)`` for ``x >= 0`` with one transcendental call and no cancellation."""
    if x == 0.0:
        return 1.0
    if x < 0.5:
        em = math.expm1(-x)  # e^{-x} - 1 to full relative accuracy
        return x * (1.0 + em) / -em
    e = math.exp(-x)  # 1 - e^{-x} >= 0.39 here, and nothing overflows
    return x * e / (1.0 - e)


@numba.njit(cache=True, inline="always")
def bernoulli(z: float) -> float:
    """``B(z) = z / (e^z - 1)``, evaluated without overflow or cancellation (``B(0) = 1``).

    For ``z < 0`` the identity ``B(z) = B(-z) - z`` adds two positive numbers.
    """
    if z < 0.0:
        return _bernoulli_nonneg(-z) - z
    return _bernoulli_nonneg(z)


def bernoulli_numpy(z: np.ndarray) -> np.ndarray:
    """Vectorised :func:`bernoulli` (the plain reference)."""
    z = np.asarray(z, dtype=float)
    out = np.ones_like(z)
    pos = z > 0
    neg = z < 0
    zp = z[pos]
    out[pos] = zp * np.exp(-zp) / -np.expm1(-zp)
    out[neg] = z[neg] / np.expm1(z[neg])
    return out


@numba.njit(cache=True, inline="always")
def face_rates_scaled(
    v: float, h: float, inv_h: float, c2: float, d_left: float, d_right: float, sg: bool
):
    """Rates (L->R, R->L) across one face, with ``inv_h = 1/h`` and ``c2 = 1/(2h^2)``
    computed once per axis by the caller; ``sg`` selects Scharfetter--Gummel (needs ``D > 0``).

    Scharfetter--Gummel needs one transcendental per face: with ``b = B(|z|)`` the identity
    ``B(-z) = B(z) + z`` gives the other rate as ``b + |z|``, a sum of positive numbers. The
    Peclet number is formed as ``2 v h / D`` exactly as in :func:`face_rates_numpy`: ``B`` has
    condition number ``~|z|``, so a last-bit difference in ``z`` would grow ``|z|``-fold.
    """
    if sg and d_left > 0.0:
        d = d_left * c2
        z = 2.0 * v * h / d_left  # the cell Peclet number
        if z >= 0.0:
            b = _bernoulli_nonneg(z)
            return d * (b + z), d * b
        b = _bernoulli_nonneg(-z)
        return d * b, d * (b - z)
    return max(v, 0.0) * inv_h + d_left * c2, max(-v, 0.0) * inv_h + d_right * c2


def face_rates_numpy(v, h: float, d_left, d_right, sg: bool):
    """Vectorised :func:`face_rates_scaled` from ``h`` (the plain reference)."""
    v = np.asarray(v, dtype=float)
    d_left = np.broadcast_to(np.asarray(d_left, dtype=float), v.shape)
    d_right = np.broadcast_to(np.asarray(d_right, dtype=float), v.shape)
    fwd = np.maximum(v, 0.0) / h + d_left / (2 * h * h)
    bwd = np.maximum(-v, 0.0) / h + d_right / (2 * h * h)
    if sg:
        use = d_left > 0
        d = d_left[use] / (2 * h * h)
        z = 2.0 * v[use] * h / d_left[use]
        fwd[use] = d * bernoulli_numpy(-z)
        bwd[use] = d * bernoulli_numpy(z)
    return fwd, bwd
