"""Compiled kernels that every mesh shares: the Bayes update, the moments, whole-cell shifts.

Bayes' rule on the cell probabilities ``p`` with the log-likelihoods ``l_i = log g(y | x_i)``
(``-inf`` where a cell holds no mass) is, with ``b = max_i l_i``,

.. math:: w_i = p_i\\, e^{l_i - b}, \\qquad p_i' = w_i / \\textstyle\\sum_j w_j, \\qquad
          \\log p(y_k \\mid y_{1:k-1}) = b + \\log \\textstyle\\sum_j w_j - \\log m ,

``m`` the predicted mass (``1`` but for what left the grid). One exponential per cell; where
the weights sum below ``TINY_WEIGHT`` (the prior's mass sits where the likelihood is below
``e^-575`` of its best, so terms may have underflowed) they are formed in logs instead,
``exp(log p_i + l_i - top)``. :func:`update_numpy` is the plain twin, in logs throughout.

The moments are those of :mod:`pfda.diagnostics` (masses at the cell centres), computed in two
passes line by line along the last axis. A whole-cell shift relabels cells (it moves a window
by whole cells, exactly).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "DONE",
    "NO_SUPPORT",
    "bayes",
    "moments",
    "next_line",
    "shift_cells",
    "shift_values",
    "total_mass",
    "update_numpy",
    "weigh",
]

DONE, NO_SUPPORT = 0, 4
# Bayes weights summing below this may have lost terms to underflow (each below 2.2e-308):
# they are formed in logs instead
TINY_WEIGHT = 1e-250


@numba.njit(inline="always")
def total_mass(p):
    """``p.sum()`` with four running sums: their additions overlap, where one sum waits on
    each addition's latency (4 cycles a cell)."""
    s0 = s1 = s2 = s3 = 0.0
    n = p.shape[0]
    m = n - n % 4
    for i in range(0, m, 4):
        s0 += p[i]
        s1 += p[i + 1]
        s2 += p[i + 2]
        s3 += p[i + 3]
    for i in range(m, n):
        s0 += p[i]
    return (s0 + s1) + (s2 + s3)


@numba.njit(inline="always")
def next_line(cells, ix):
    """Step ``ix[:-1]``, the multi-index of a line along the last axis, to the next line."""
    k = len(cells) - 2
    if k < 0:
        return
    ix[k] += 1
    while k > 0 and ix[k] == cells[k]:
        ix[k] = 0
        k -= 1
        ix[k] += 1


@numba.njit(cache=True)
def shift_values(x, out, cells, strides, steps, fill):
    """``out[i] = x[i + steps]`` over the multi-index, ``fill`` where that leaves the array.
    Line by line along the last (contiguous) axis: a line whose source line is inside is one
    offset copy."""
    d = len(cells)
    n = cells[d - 1]
    s = steps[d - 1]
    lo = min(max(0, -s), n)  # cells lo..hi-1 of a line have their source inside it
    hi = max(min(n, n - s), lo)
    ix = np.zeros(d, dtype=np.int64)
    for line in range(x.shape[0] // n):
        base = line * n
        src = 0
        inside = True
        for k in range(d - 1):
            j = ix[k] + steps[k]
            inside = inside and 0 <= j < cells[k]
            src += j * strides[k]
        if inside:
            for j in range(lo):
                out[base + j] = fill
            for j in range(lo, hi):
                out[base + j] = x[src + j + s]
            for j in range(hi, n):
                out[base + j] = fill
        else:
            for j in range(n):
                out[base + j] = fill
        next_line(cells, ix)


@numba.njit(cache=True)
def shift_cells(p, tmp, cells, strides, steps):
    """``p[i] <- p[i + steps]`` over the multi-index, zero where that leaves the array;
    returns the mass that left."""
    before = total_mass(p)
    shift_values(p, tmp, cells, strides, steps, 0.0)
    p[:] = tmp
    return max(before - total_mass(p), 0.0)


@numba.njit(cache=True)
def weigh(p, ll, best, w):
    """``w = p g`` up to the factor ``exp(top)``; returns ``top`` (``-inf`` if no cell has
    mass). One exponential per cell, ``w = p exp(log g - best)`` with ``best`` the largest
    ``log g`` on the cells with mass; only where those weights sum below ``TINY_WEIGHT``
    (the prior's mass sits where the likelihood is below ``e^-575`` of its best, so terms
    may have underflowed) are they formed in logs, ``exp(log p + log g - top)``."""
    if not best > -math.inf:
        return -math.inf
    total = 0.0
    for i in range(p.shape[0]):
        w[i] = p[i] * math.exp(ll[i] - best) if p[i] > 0.0 else 0.0
        total += w[i]
    if total >= TINY_WEIGHT:
        return best
    top = -math.inf
    for i in range(p.shape[0]):
        w[i] = math.log(p[i]) + ll[i] if p[i] > 0.0 else -math.inf
        top = max(top, w[i])
    for i in range(p.shape[0]):
        w[i] = math.exp(w[i] - top) if p[i] > 0.0 else 0.0
    return top


@numba.njit(cache=True)
def bayes(p, ll, best, w, prior_total, top):
    """:func:`pfda.update` in place from the log-likelihoods ``ll``, the evidence relative
    to the prior mass ``prior_total``; ``w`` and ``top`` from :func:`weigh` if ``top`` is
    not ``nan`` (else weighed here); returns ``(log evidence increment, status)``."""
    if math.isnan(top):
        top = weigh(p, ll, best, w)
    if not top > -math.inf:
        return math.nan, NO_SUPPORT
    total = total_mass(w)
    for i in range(p.shape[0]):
        p[i] = w[i] / total
    return top + math.log(total) - math.log(prior_total), DONE


@numba.njit(cache=True)
def moments(p, cells, lower, widths, mean, cov):
    """Mean and covariance of ``p`` on a grid (twins: :func:`pfda.diagnostics.mean` and
    :func:`~pfda.diagnostics.covariance`), in two passes (the covariance about the mean), line
    by line along the last axis: per line only the sums of ``p``, ``p y`` and ``p y^2`` in its
    own coordinate ``y``."""
    d = len(cells)
    n = cells[d - 1]
    last = d - 1
    x0 = lower[last] + 0.5 * widths[last]
    h = widths[last]
    ix = np.zeros(d, dtype=np.int64)
    total = 0.0
    mean[:] = 0.0
    for line in range(p.shape[0] // n):
        base = line * n
        s0 = 0.0
        s1 = 0.0
        for j in range(n):
            s0 += p[base + j]
            s1 += p[base + j] * (x0 + j * h)
        for k in range(last):
            mean[k] += s0 * (lower[k] + (ix[k] + 0.5) * widths[k])
        mean[last] += s1
        total += s0
        next_line(cells, ix)
    for k in range(d):
        mean[k] /= total
    cov[:, :] = 0.0
    c = np.empty(d)
    ix[:] = 0
    y0 = x0 - mean[last]
    for line in range(p.shape[0] // n):
        base = line * n
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        for j in range(n):
            y = y0 + j * h
            w = p[base + j]
            s0 += w
            s1 += w * y
            s2 += w * y * y
        for k in range(last):
            c[k] = lower[k] + (ix[k] + 0.5) * widths[k] - mean[k]
        for j in range(last):
            for k in range(j, last):
                cov[j, k] += s0 * c[j] * c[k]
            cov[j, last] += s1 * c[j]
        cov[last, last] += s2
        next_line(cells, ix)
    for j in range(d):
        for k in range(j, d):
            cov[j, k] /= total
    for j in range(d):
        for k in range(j):
            cov[j, k] = cov[k, j]


def update_numpy(p: np.ndarray, loglik: np.ndarray, prior_total: float | None = None):
    """The plain twin of :func:`weigh` and :func:`bayes`: ``(posterior, log evidence
    increment)`` in log space with a log-sum-exp (``None`` increment: no cell has mass)."""
    p = np.asarray(p, dtype=float)
    mask = p > 0
    log_w = np.full(p.shape, -np.inf)
    log_w[mask] = np.log(p[mask]) + loglik[mask]
    top = log_w.max(initial=-np.inf)
    if not np.isfinite(top):
        return None, None
    w = np.exp(log_w - top)
    total = w.sum()
    mass = p.sum() if prior_total is None else prior_total
    return w / total, float(top + math.log(total) - math.log(mass))
