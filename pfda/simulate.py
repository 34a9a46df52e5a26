"""Data from a model: a path of the SDE and the observations of it.

Euler--Maruyama with ``substeps`` equal steps ``delta`` per observation interval,

    x_{n+1} = x_n + f(x_n, t_n) delta + sqrt(D(x_n) delta) * xi_n,    xi_n ~ N(0, I),

(``D`` the diagonal of ``sigma sigma^T``, :class:`pfda.SDE`), and at each observation time
``y_k = h(x(t_k)) + v_k``, ``v_k ~ N(0, R)`` (:class:`pfda.GaussianObservation`). The scheme is
weakly first order: moments err by ``O(delta)``.
"""

from __future__ import annotations

import numpy as np

from .models import SDE, GaussianObservation

__all__ = ["simulate"]


def simulate(
    sde: SDE,
    observation: GaussianObservation,
    x0,
    times,
    *,
    t0: float = 0.0,
    substeps: int = 100,
    seed=None,
    paths: int | None = None,
    wrap=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the state at ``times`` from ``x0`` at ``t0``, and its observations.

    Parameters
    ----------
    sde : SDE
    observation : GaussianObservation
        Its ``h`` and ``R`` generate the observations.
    x0 : array (d,)
        The initial state (every path starts there).
    times : array (K,)
        Increasing observation times, ``times[0] > t0``.
    substeps : int
        Euler--Maruyama steps per interval.
    seed : int or numpy.random.Generator, optional
    paths : int, optional
        Simulate this many independent paths at once.
    wrap : callable, optional
        Maps states ``(d, m)`` back into the domain after each step (an angle into
        ``[-pi, pi)``).

    Returns
    -------
    states, ys : arrays (K, d) and (K, p), or (K, paths, d) and (K, paths, p)
    """
    if not isinstance(observation, GaussianObservation):
        raise TypeError(
            "simulate draws observations from a GaussianObservation (y = h(x) + v); got "
            f"{type(observation).__name__}"
        )
    times = np.atleast_1d(np.asarray(times, dtype=float))
    if times.ndim != 1 or times.size == 0 or np.any(np.diff(times) <= 0) or times[0] <= t0:
        raise ValueError("times must be a non-empty, strictly increasing array after t0")
    if isinstance(substeps, bool) or int(substeps) != substeps or substeps < 1:
        raise ValueError(f"substeps must be a positive integer, got {substeps!r}")
    rng = np.random.default_rng(seed)
    x0 = np.atleast_1d(np.asarray(x0, dtype=float))
    if x0.ndim != 1 or not np.all(np.isfinite(x0)):
        raise ValueError(f"x0 must be a finite state of shape (d,), got {x0}")
    m = 1 if paths is None else int(paths)
    d = x0.size
    x = np.repeat(x0[:, None], m, axis=1)  # (d, m)
    states = np.empty((times.size, d, m))
    t = float(t0)
    for k, t_end in enumerate(times):
        delta = (t_end - t) / substeps
        for s in range(substeps):
            noise = rng.standard_normal(d) if paths is None else rng.standard_normal((d, m))
            scale = np.sqrt(sde.diffusion_at(x) * delta)
            x = x + sde.drift_at(x, t + s * delta) * delta + scale * noise.reshape(d, -1)
            if wrap is not None:
                x = np.asarray(wrap(x), dtype=float).reshape(d, m)
            if not np.all(np.isfinite(x)):
                raise FloatingPointError(
                    f"the simulated state left the finite numbers before t = {t_end:g}: "
                    "lower the step (more substeps)"
                )
        states[k] = x
        t = float(t_end)
    flat = states.transpose(1, 0, 2).reshape(d, -1)  # (d, K m): time-major
    hx = observation.predict(flat)
    p = hx.shape[0]
    chol = np.linalg.cholesky(observation.covariance(p))
    noise = rng.standard_normal((times.size * m, p)) @ chol.T
    ys = (hx.T + noise).reshape(times.size, m, p)
    states = states.transpose(0, 2, 1)  # (K, m, d)
    if paths is None:
        return states[:, 0], ys[:, 0]
    return states, ys
