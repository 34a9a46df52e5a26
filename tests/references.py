"""Independent reference solutions for the numerical tests.

Nothing here imports :mod:`pfda`: every function is written from the mathematics alone, so a
test that compares pfda with these references compares two independent computations.

Linear-Gaussian filtering (the Kalman filter)
    For ``dx = F x dt + sigma dW`` with ``D = sigma sigma^T``, the transition over ``Delta`` is
    exactly Gaussian, ``x_{t+Delta} | x_t ~ N(Phi x_t, Q)`` with ``Phi = expm(F Delta)`` and
    ``Q = int_0^Delta expm(F s) D expm(F s)^T ds``. Van Loan's method reads both off one matrix
    exponential: ``expm([[-F, D], [0, F^T]] Delta) = [[., M12], [0, M22]]`` gives
    ``Phi = M22^T`` and ``Q = Phi M12``. With ``y_k = H x_k + v_k``, ``v_k ~ N(0, R)``, the
    evidence increments are ``log N(y_k; H m_pred, H P_pred H^T + R)``.

The Benes filter
    ``dx = tanh(x) dt + dW`` has a closed-form filter. With ``phi = log cosh`` the drift is
    ``phi'`` and ``phi'' + phi'^2 = sech^2 + tanh^2 = 1``, so Girsanov's theorem and Ito's formula
    for ``phi`` give the transition density

        p(x_t | x_s) = cosh(x_t) / cosh(x_s) * exp(-Delta/2) * N(x_t; x_s, Delta).

    Integrating it against ``cosh(x_s) N(x_s; m, P)`` cancels ``cosh(x_s)``, leaving
    ``cosh(x_t) exp(-Delta/2) N(x_t; m, P + Delta)``: the family ``cosh(x) N(x; m, P)`` is closed
    under prediction (``m`` unchanged, ``P += Delta``), and multiplying by a Gaussian likelihood
    ``N(y; x, R)`` is a Kalman update of ``(m, P)``. Because
    ``cosh(x) N(x; m, P) = exp(P/2) cosh(m) [w+ N(x; m+P, P) + w- N(x; m-P, P)]`` with
    ``w+- = exp(+-m) / (2 cosh m)``, the normalised density is a two-component Gaussian mixture:
    its cell masses, moments and evidence are all exact in terms of the normal CDF.

The bootstrap particle filter
    :func:`bootstrap_particle_filter` (vectorised NumPy, systematic resampling after every
    observation, seeded) and :func:`pendulum_particle_filter`, the noisy pendulum with stochastic
    Heun steps (weak order 2 for additive noise): Monte Carlo references for nonlinear models
    without an exact filter. A test measures their noise by running two seeds.

Finite-volume generator
    :func:`fv_generator_dense` assembles the generator of DESIGN.md's monotone scheme with
    explicit loops over faces (dense matrix, small grids only).
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import linalg, special, stats

# --------------------------------------------------------------------------------------------
# Gaussians on cells
# --------------------------------------------------------------------------------------------


def normal_cell_masses(edges: np.ndarray, mean: float, var: float) -> np.ndarray:
    """Exact masses ``P(edges[i] < X < edges[i+1])`` of ``X ~ N(mean, var)``."""
    cdf = stats.norm.cdf(np.asarray(edges, dtype=float), loc=mean, scale=np.sqrt(var))
    sf = stats.norm.sf(np.asarray(edges, dtype=float), loc=mean, scale=np.sqrt(var))
    # difference of CDFs on the left half, of survival functions on the right (no cancellation)
    left = cdf[1:] - cdf[:-1]
    right = sf[:-1] - sf[1:]
    return np.where(edges[1:] <= mean, left, right)


def product_normal_cell_masses(edges: list[np.ndarray], mean, var) -> np.ndarray:
    """Cell masses of ``N(mean, diag(var))`` on a tensor grid, flattened in C order."""
    out = np.ones(())
    for e, mu, v in zip(edges, mean, var, strict=True):
        out = np.multiply.outer(out, normal_cell_masses(e, mu, v))
    return out.ravel()


def log_normal_pdf(y: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    """``log N(y; mean, cov)`` for a vector ``y``."""
    y = np.atleast_1d(y)
    mean = np.atleast_1d(mean)
    cov = np.atleast_2d(cov)
    chol = linalg.cholesky(cov, lower=True)
    z = linalg.solve_triangular(chol, y - mean, lower=True)
    return float(-0.5 * z @ z - np.sum(np.log(np.diag(chol))) - 0.5 * y.size * np.log(2 * np.pi))


# --------------------------------------------------------------------------------------------
# Linear SDEs and the Kalman filter
# --------------------------------------------------------------------------------------------


def linear_sde_transition(F: np.ndarray, D: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``(Phi, Q)`` of ``dx = F x dt + sigma dW`` over ``dt`` by Van Loan's method."""
    F = np.atleast_2d(np.asarray(F, dtype=float))
    D = np.atleast_2d(np.asarray(D, dtype=float))
    d = F.shape[0]
    C = np.zeros((2 * d, 2 * d))
    C[:d, :d] = -F
    C[:d, d:] = D
    C[d:, d:] = F.T
    M = linalg.expm(C * dt)
    Phi = M[d:, d:].T
    Q = Phi @ M[:d, d:]
    return Phi, 0.5 * (Q + Q.T)


def linear_sde_transition_lyapunov(F, D, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """The same transition for a stable ``F``, via the stationary covariance.

    ``F S + S F^T + D = 0`` and ``Q = S - Phi S Phi^T`` (a second, independent route).
    """
    F = np.atleast_2d(np.asarray(F, dtype=float))
    D = np.atleast_2d(np.asarray(D, dtype=float))
    S = linalg.solve_continuous_lyapunov(F, -D)
    Phi = linalg.expm(F * dt)
    return Phi, S - Phi @ S @ Phi.T


def kalman_filter(F, D, H, R, m0, P0, times, ys, t0: float = 0.0):
    """Exact filter for ``dx = F x dt + sigma dW``, ``y_k = H x_k + v_k``, ``v_k ~ N(0, R)``.

    Returns ``(means (K, d), covs (K, d, d), log_evidence_increments (K,))``; the prior
    ``N(m0, P0)`` is at ``t0`` and observation ``k`` is at ``times[k]``.
    """
    F = np.atleast_2d(np.asarray(F, dtype=float))
    H = np.atleast_2d(np.asarray(H, dtype=float))
    R = np.atleast_2d(np.asarray(R, dtype=float))
    m = np.atleast_1d(np.asarray(m0, dtype=float)).copy()
    P = np.atleast_2d(np.asarray(P0, dtype=float)).copy()
    ys = np.asarray(ys, dtype=float).reshape(len(times), -1)
    means, covs, incs = [], [], []
    t = t0
    for tk, y in zip(times, ys, strict=True):
        if tk > t:
            Phi, Q = linear_sde_transition(F, D, tk - t)
            m = Phi @ m
            P = Phi @ P @ Phi.T + Q
        t = tk
        S = H @ P @ H.T + R
        incs.append(log_normal_pdf(y, H @ m, S))
        K = linalg.solve(S, H @ P, assume_a="pos").T
        m = m + K @ (y - H @ m)
        IKH = np.eye(len(m)) - K @ H
        P = IKH @ P @ IKH.T + K @ R @ K.T  # Joseph form
        means.append(m.copy())
        covs.append(P.copy())
    return np.array(means), np.array(covs), np.array(incs)


def rts_smoother(F, D, H, R, m0, P0, times, ys, t0: float = 0.0):
    """Exact (Rauch--Tung--Striebel) smoother of the model of :func:`kalman_filter`; returns the
    smoothed ``(means (K, d), covs (K, d, d))``."""
    F = np.atleast_2d(np.asarray(F, dtype=float))
    m, P, _ = kalman_filter(F, D, H, R, m0, P0, times, ys, t0)
    ms, Ps = m.copy(), P.copy()
    for k in range(len(times) - 2, -1, -1):
        Phi, Q = linear_sde_transition(F, D, times[k + 1] - times[k])
        m_pred, P_pred = Phi @ m[k], Phi @ P[k] @ Phi.T + Q
        G = linalg.solve(P_pred, Phi @ P[k], assume_a="pos").T
        ms[k] = m[k] + G @ (ms[k + 1] - m_pred)
        Ps[k] = P[k] + G @ (Ps[k + 1] - P_pred) @ G.T
    return ms, Ps


def ou_moments(theta: float, D: float, mean0: float, var0: float, t: float):
    """Mean and variance at ``t`` of ``dx = -theta x dt + sqrt(D) dW`` from ``N(mean0, var0)``."""
    decay = np.exp(-theta * t)
    return mean0 * decay, var0 * decay**2 + D / (2 * theta) * (-np.expm1(-2 * theta * t))


def simulate_linear_observations(rng, F, D, H, R, m0, P0, times, t0: float = 0.0):
    """A state path sampled exactly at ``times`` and noisy observations ``(K, p)`` of it."""
    F = np.atleast_2d(np.asarray(F, dtype=float))
    H = np.atleast_2d(np.asarray(H, dtype=float))
    R = np.atleast_2d(np.asarray(R, dtype=float))
    x = rng.multivariate_normal(np.atleast_1d(m0), np.atleast_2d(P0))
    t = t0
    ys = []
    for tk in times:
        Phi, Q = linear_sde_transition(F, D, tk - t)
        x = rng.multivariate_normal(Phi @ x, Q)
        t = tk
        ys.append(rng.multivariate_normal(H @ x, R))
    return np.array(ys)


# --------------------------------------------------------------------------------------------
# The Benes filter
# --------------------------------------------------------------------------------------------


def benes_weights(m: float) -> tuple[float, float]:
    """Mixture weights ``w+- = exp(+-m) / (2 cosh m)`` (computed without overflow)."""
    w_plus = float(special.expit(2.0 * m))
    return w_plus, 1.0 - w_plus


def benes_cell_masses(edges: np.ndarray, m: float, P: float) -> np.ndarray:
    """Exact cell masses of the normalised density ``cosh(x) N(x; m, P) / (exp(P/2) cosh m)``."""
    w_plus, w_minus = benes_weights(m)
    return w_plus * normal_cell_masses(edges, m + P, P) + w_minus * normal_cell_masses(
        edges, m - P, P
    )


def benes_density(x: np.ndarray, m: float, P: float) -> np.ndarray:
    """The normalised Benes density at points ``x``."""
    w_plus, w_minus = benes_weights(m)
    s = np.sqrt(P)
    return w_plus * stats.norm.pdf(x, m + P, s) + w_minus * stats.norm.pdf(x, m - P, s)


def benes_moments(m: float, P: float) -> tuple[float, float]:
    """Mean ``m + P tanh m`` and variance ``P + P^2 sech^2 m`` of the Benes density."""
    t = np.tanh(m)
    return m + P * t, P + P**2 * (1.0 - t**2)


def log_benes_normaliser(m: float, P: float) -> float:
    """``log int cosh(x) N(x; m, P) dx = P/2 + log cosh m``."""
    return 0.5 * P + np.logaddexp(m, -m) - np.log(2.0)


def benes_filter(m0: float, P0: float, R: float, times, ys, t0: float = 0.0):
    """Exact filter for ``dx = tanh(x) dt + dW``, ``y_k = x_k + v_k``, ``v_k ~ N(0, R)``.

    The prior at ``t0`` is ``cosh(x) N(x; m0, P0)`` (normalised). Returns the parameters
    ``(m (K,), P (K,))`` of each posterior ``cosh(x) N(x; m_k, P_k)`` and the exact evidence
    increments ``log p(y_k | y_{1:k-1})`` (K,).
    """
    m, P, t = float(m0), float(P0), float(t0)
    ms, Ps, incs = [], [], []
    for tk, y in zip(times, np.ravel(ys), strict=True):
        P += tk - t  # prediction: mean unchanged, variance + Delta
        t = tk
        S = P + R
        gain = P / S
        m_new, P_new = m + gain * (y - m), P - gain * P
        # evidence: N(y; m, P + R) * Z(m', P') / Z(m, P)
        incs.append(
            log_normal_pdf(np.array([y]), np.array([m]), np.array([[S]]))
            + log_benes_normaliser(m_new, P_new)
            - log_benes_normaliser(m, P)
        )
        m, P = m_new, P_new
        ms.append(m)
        Ps.append(P)
    return np.array(ms), np.array(Ps), np.array(incs)


def benes_evidence_mixture(m: float, P_pred: float, R: float, y: float) -> float:
    """``log p(y)`` for the predicted Benes density ``(m, P_pred)``, via its mixture form."""
    w_plus, w_minus = benes_weights(m)
    s = np.sqrt(P_pred + R)
    return float(
        np.logaddexp(
            np.log(w_plus) + stats.norm.logpdf(y, m + P_pred, s),
            np.log(w_minus) + stats.norm.logpdf(y, m - P_pred, s),
        )
    )


# --------------------------------------------------------------------------------------------
# Distances
# --------------------------------------------------------------------------------------------


def hellinger(p: np.ndarray, q: np.ndarray) -> float:
    """``sqrt(1/2 sum (sqrt p - sqrt q)^2)`` for probability vectors (in [0, 1])."""
    return float(np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """``1/2 sum |p - q|``."""
    return float(0.5 * np.sum(np.abs(p - q)))


def loglog_slope(h, err) -> float:
    """Least-squares slope of ``log err`` against ``log h``."""
    return float(np.polyfit(np.log(np.asarray(h, float)), np.log(np.asarray(err, float)), 1)[0])


# --------------------------------------------------------------------------------------------
# A plain finite-volume generator (dense, explicit loops over faces)
# --------------------------------------------------------------------------------------------


def _bernoulli(z: float) -> float:
    """``B(z) = z / (e^z - 1)`` in plain Python, stable for every ``z``."""
    if z == 0.0:
        return 1.0
    if abs(z) < 1e-6:
        return 1.0 - z / 2.0 + z * z / 12.0
    if z > 0:
        return z * np.exp(-z) / (-np.expm1(-z))
    return z / np.expm1(z)


def fv_generator_dense(
    lower, upper, cells, boundary, drift, diffusion, flux: str = "auto"
) -> np.ndarray:
    """Dense generator ``A`` (``dp/dt = A p``) of DESIGN.md's monotone finite-volume scheme.

    ``drift(x)`` maps one point ``(d,)`` to ``(d,)``; ``diffusion`` is the constant diagonal of
    ``D`` (length ``d``). ``boundary`` is a per-axis list of ``"reflecting"`` or ``"periodic"``
    (the periodic wrap face is placed at the upper end of the box). ``flux`` is ``"upwind"``,
    ``"sg"`` or ``"auto"`` (SG where ``D_kk > 0``, upwind otherwise).
    """
    lower = np.asarray(lower, float)
    upper = np.asarray(upper, float)
    cells = tuple(int(c) for c in cells)
    diffusion = np.broadcast_to(np.asarray(diffusion, float), (len(cells),))
    d = len(cells)
    h = (upper - lower) / np.asarray(cells)
    N = int(np.prod(cells))
    A = np.zeros((N, N))
    strides = [int(np.prod(cells[k + 1 :])) for k in range(d)]
    for idx in itertools.product(*(range(c) for c in cells)):
        left = sum(i * s for i, s in zip(idx, strides, strict=True))
        centre = lower + (np.asarray(idx) + 0.5) * h
        for k in range(d):
            if idx[k] == cells[k] - 1 and boundary[k] != "periodic":
                continue  # reflecting: no flux through the boundary face
            if cells[k] == 1:
                continue
            right_idx = list(idx)
            right_idx[k] = (idx[k] + 1) % cells[k]
            right = sum(i * s for i, s in zip(right_idx, strides, strict=True))
            face = centre.copy()
            face[k] = centre[k] + 0.5 * h[k]
            v = float(drift(face)[k])
            Dk = float(diffusion[k])
            use_sg = flux == "sg" or (flux == "auto" and Dk > 0)
            if use_sg and Dk > 0:
                dd = Dk / (2 * h[k] ** 2)
                z = v * h[k] / (Dk / 2)
                fwd, bwd = dd * _bernoulli(-z), dd * _bernoulli(z)
            else:
                fwd = max(v, 0.0) / h[k] + Dk / (2 * h[k] ** 2)
                bwd = max(-v, 0.0) / h[k] + Dk / (2 * h[k] ** 2)
            A[right, left] += fwd
            A[left, left] -= fwd
            A[left, right] += bwd
            A[right, right] -= bwd
    return A


# --------------------------------------------------------------------------------------------
# A bootstrap particle filter (vectorised NumPy) and the noisy pendulum
# --------------------------------------------------------------------------------------------


def bootstrap_particle_filter(rng, particles, advance, log_lik, ys, functions):
    """Bootstrap particle filter with systematic resampling after every observation.

    ``particles`` ``(d, n)`` are draws of the prior; ``advance(x, k, rng)`` moves them from
    observation ``k - 1`` (the prior's time for ``k = 0``) to observation ``k``;
    ``log_lik(y, x)`` is ``log g(y | x)`` up to a constant, per particle; ``functions(x)``
    ``(m, n)`` are the test functions whose posterior expectations are returned.

    Returns ``(expectations (K, m), ess (K,))``: the weighted means of ``functions`` before
    resampling (the estimator of least variance) and the effective sample size
    ``1 / sum w_i^2`` of each update.
    """
    x = np.array(particles, dtype=float)
    n = x.shape[1]
    ys = np.asarray(ys, dtype=float).reshape(len(ys), -1)
    out, ess = [], np.empty(len(ys))
    base = np.arange(n) / n
    for k, y in enumerate(ys):
        x = advance(x, k, rng)
        lw = log_lik(y, x)
        w = np.exp(lw - lw.max())
        w /= w.sum()
        out.append(functions(x) @ w)
        ess[k] = 1.0 / np.sum(w * w)
        cdf = np.cumsum(w)
        cdf[-1] = 1.0
        x = x[:, np.searchsorted(cdf, base + rng.random() / n)]
    return np.array(out), ess


def pendulum_heun(x1, x2, g: float, delta: float, dw):
    """One stochastic Heun step of ``dx1 = x2 dt``, ``dx2 = -g sin(x1) dt + dW`` (additive
    noise increments ``dw``: weak order 2)."""
    a1, a2 = x2, -g * np.sin(x1)
    p1, p2 = x1 + a1 * delta, x2 + a2 * delta + dw
    return x1 + 0.5 * (a1 + p2) * delta, x2 + 0.5 * (a2 - g * np.sin(p1)) * delta + dw


def pendulum_particle_filter(n: int, seed: int, times, ys, *, g: float, q: float, r: float,
                             mean0, cov0, substeps: int, t0: float = 0.0):  # fmt: skip
    """Bootstrap particle filter of the pendulum ``dx1 = x2 dt``, ``dx2 = -g sin(x1) dt +
    sqrt(q) dW``, ``y_k = sin(x1(t_k)) + v_k``, ``v_k ~ N(0, r)``, from ``N(mean0, cov0)`` at
    ``t0``; ``substeps`` Heun steps per observation interval.

    Returns ``(E[sin x1], E[cos x1], E[x2], E[x2^2])`` per update ``(K, 4)`` and the effective
    sample sizes ``(K,)``.
    """
    rng = np.random.default_rng(seed)
    times = np.asarray(times, dtype=float)
    x = rng.multivariate_normal(np.asarray(mean0, float), np.asarray(cov0, float), size=n).T
    starts = np.concatenate([[t0], times[:-1]])

    def advance(x, k, rng):
        delta = (times[k] - starts[k]) / substeps
        x1, x2 = x[0], x[1]
        for _ in range(substeps):
            x1, x2 = pendulum_heun(x1, x2, g, delta, np.sqrt(q * delta) * rng.standard_normal(n))
        return np.stack([x1, x2])

    def log_lik(y, x):
        return -0.5 * (y[0] - np.sin(x[0])) ** 2 / r

    def functions(x):
        return np.stack([np.sin(x[0]), np.cos(x[0]), x[1], x[1] ** 2])

    return bootstrap_particle_filter(rng, x, advance, log_lik, ys, functions)
