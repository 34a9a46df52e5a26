r"""Exact filters used as references by the paper's accuracy study (no pfda imports).

Ornstein--Uhlenbeck, ``dx = -theta x dt + sigma dW`` (``D = sigma^2``), observed as
``y = x + v``, ``v ~ N(0, R)``: over ``Delta`` the state moves as ``x' = a x + w`` with
``a = exp(-theta Delta)`` and ``Var w = D (1 - a^2) / (2 theta)``; the Kalman filter is exact.

Benes, ``dx = tanh(x) dt + dW``: the family ``p(x) ∝ cosh(x) N(x; m, P)`` is closed under
prediction (``m`` unchanged, ``P += Delta``) and under a Gaussian update ``N(y; x, R)`` (a Kalman
update of ``(m, P)``).  Normalised, ``cosh(x) N(x; m, P) / Z`` is the mixture
``w+ N(m + P, P) + w- N(m - P, P)`` with ``w± = exp(±m) / (2 cosh m)``, so its cell masses are
exact differences of normal CDFs.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def kalman_ou(times, ys, m0: float, P0: float, theta: float, D: float, R: float):
    """Posterior means and variances ``(K,)`` of the OU model, from ``N(m0, P0)`` at t = 0."""
    m, P, t_prev = float(m0), float(P0), 0.0
    means, variances = np.empty(len(times)), np.empty(len(times))
    for k, (t, y) in enumerate(zip(times, ys, strict=True)):
        a = np.exp(-theta * (t - t_prev))
        m, P = a * m, a * a * P + D * (1 - a * a) / (2 * theta)
        gain = P / (P + R)
        m, P = m + gain * (y - m), (1 - gain) * P
        means[k], variances[k] = m, P
        t_prev = t
    return means, variances


def benes_cell_masses(edges: np.ndarray, m: float, P: float) -> np.ndarray:
    """Cell masses of the normalised ``cosh(x) N(x; m, P)`` on cells with ``edges``."""
    w_plus = 0.5 * (1.0 + np.tanh(m))
    out = np.zeros(len(edges) - 1)
    for w, mu in ((w_plus, m + P), (1.0 - w_plus, m - P)):
        cdf = stats.norm.cdf(edges, loc=mu, scale=np.sqrt(P))
        out += w * np.diff(cdf)
    return out / out.sum()


def benes_filter(times, ys, m0: float, P0: float, R: float):
    """Parameters ``(m_k, P_k)`` of the exact Benes posteriors ``∝ cosh(x) N(x; m_k, P_k)``."""
    m, P, t_prev = float(m0), float(P0), 0.0
    out = []
    for t, y in zip(times, ys, strict=True):
        P = P + (t - t_prev)
        gain = P / (P + R)
        m, P = m + gain * (y - m), (1 - gain) * P
        out.append((m, P))
        t_prev = t
    return out
