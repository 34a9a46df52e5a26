"""``expm(tau A) p`` for a generator ``A`` by uniformisation (Jensen's method).

``A`` has non-negative off-diagonal entries and column sums ``<= 0`` (zero where no mass
leaves). With ``Lambda >= max_i (-A_ii)``, ``P = I + A / Lambda`` is (sub)stochastic, and

    expm(tau A) = exp(-mu) sum_k mu^k / k! P^k,        mu = Lambda tau,

a Poisson mixture of powers of ``P``. Every term is non-negative, so the truncated sum is a
positive, mass-preserving-up-to-the-tail (Markov) operator for any ``tau``: cutting the sum where
the Poisson tail falls below ``tol`` errs by at most ``tol`` in L1 (``||P||_1 <= 1``), and takes
about ``mu + 6 sqrt(mu)`` products with ``P``, about as many as explicit steps at the CFL
limit ``1 / Lambda``. To keep ``exp(-mu)`` far from underflow, ``tau`` is cut into equal pieces
with ``mu <= MU_MAX``.

:func:`expm_apply` runs the compiled CSR kernel :func:`uniformised` or its NumPy/SciPy twin.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import scipy.sparse as sp

__all__ = ["MU_MAX", "TAIL", "expm_apply", "poisson_weights", "uniformised"]

#: The largest ``Lambda tau`` of one piece.
MU_MAX = 400.0
#: The Poisson tail left out of each piece (relative L1 error of the piece).
TAIL = 1e-14


def poisson_weights(mu: float, tail: float = TAIL) -> np.ndarray:
    """``exp(-mu) mu^k / k!`` for ``k = 0 .. K``, ``K`` the first index whose cumulative sum
    reaches ``1 - tail`` (``mu <= MU_MAX``, so that ``exp(-mu)`` is a normal number)."""
    if not 0.0 <= mu <= MU_MAX:
        raise ValueError(f"mu = {mu!r} must lie in [0, {MU_MAX}]")
    weights = [math.exp(-mu)]
    total = weights[0]
    k = 0
    while total < 1.0 - tail and k < 10 * int(mu + 10):
        k += 1
        weights.append(weights[-1] * mu / k)
        total += weights[-1]
    return np.array(weights)


@numba.njit(cache=True)
def uniformised(indptr, indices, data, lam, p, weights, out, work):
    """``out = sum_k weights[k] P^k p`` with ``P = I + A / lam``, ``A`` in CSR form
    (``indptr``, ``indices``, ``data``); ``work`` is ``(2, N)`` scratch."""
    n = p.size
    v, w = work[0], work[1]
    for i in range(n):
        v[i] = p[i]
        out[i] = weights[0] * p[i]
    for k in range(1, weights.size):
        for i in range(n):  # w = P v
            acc = v[i]
            for j in range(indptr[i], indptr[i + 1]):
                acc += data[j] * v[indices[j]] / lam
            w[i] = acc  # P >= 0: a non-negative v stays so, without cancellation
        c = weights[k]
        for i in range(n):
            v[i] = w[i]
            out[i] += c * w[i]


def expm_apply(A, p: np.ndarray, tau: float, *, tail: float = TAIL, method: str = "numba"):
    """``expm(tau A) p`` by uniformisation, for a generator ``A`` (sparse, ``(N, N)``).

    Parameters
    ----------
    A : sparse matrix
        Non-negative off-diagonal entries, column sums ``<= 0``.
    p : array (N,)
    tau : float
        Time, ``>= 0``.
    tail : float
        Poisson tail left out of each piece of at most :data:`MU_MAX`.
    method : {"numba", "numpy"}
        The compiled kernel or the SciPy twin.
    """
    if method not in ("numba", "numpy"):
        raise ValueError(f"unknown method {method!r}: choose 'numba' or 'numpy'")
    A = sp.csr_matrix(A)
    x = np.array(p, dtype=float)
    lam = float(max(-A.diagonal().min(), 0.0))
    if tau == 0.0 or lam == 0.0:
        return x
    mu = lam * tau
    pieces = max(1, math.ceil(mu / MU_MAX))
    weights = poisson_weights(mu / pieces, tail)
    if method == "numpy":
        P = sp.identity(A.shape[0], format="csr") + A / lam
        for _ in range(pieces):
            v, out = x, weights[0] * x
            for c in weights[1:]:
                v = P @ v
                out = out + c * v
            x = out
        return x
    indptr, indices = A.indptr.astype(np.int64), A.indices.astype(np.int64)
    out, work = np.empty_like(x), np.empty((2, x.size))
    for _ in range(pieces):
        uniformised(indptr, indices, A.data, lam, x, weights, out, work)
        x, out = out, x
    return x
