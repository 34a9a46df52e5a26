"""Models as mathematics: the SDE and the observation models.

The state follows the Itô SDE

.. math:: dx = f(x, t)\\,dt + \\sigma(x)\\,dW, \\qquad D = \\sigma\\sigma^T \\text{ (diagonal)},

whose density obeys the Fokker--Planck equation

.. math:: \\partial_t \\rho = -\\nabla\\cdot(f\\rho)
          + \\tfrac12 \\sum_k \\partial^2_{x_k}(D_{kk}\\,\\rho).

``SDE.diffusion`` is the diagonal of ``D`` (a variance per unit time), so ``dx = -x dt + 0.5 dW``
is ``SDE(drift=lambda x: -x, diffusion=0.25)`` or equivalently ``SDE(drift=..., sigma=0.5)``.

Observations ``y_k`` enter through a log-likelihood ``log g(y | x)`` evaluated on point sets
``x`` of shape ``(d, m)``; :class:`GaussianObservation` is ``y = h(x) + v``, ``v ~ N(0, R)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba.core.dispatcher import Dispatcher

from .compiled import apply_points, check_point_function, point_function

__all__ = ["SDE", "GaussianObservation", "Observation", "is_jitted"]


def is_jitted(func) -> bool:
    """True for a Numba ``@njit`` function (a dispatcher)."""
    return isinstance(func, Dispatcher)


def _positional_arity(func) -> int | None:
    target = func.py_func if is_jitted(func) else func
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    n = 0
    for prm in sig.parameters.values():
        if (
            prm.kind in (prm.POSITIONAL_ONLY, prm.POSITIONAL_OR_KEYWORD)
            and prm.default is prm.empty
        ):
            n += 1
        elif prm.kind == prm.VAR_POSITIONAL:
            return None
    return n


@dataclass(frozen=True, eq=False)
class SDE:
    """A diffusion ``dx = f(x, t) dt + sigma dW`` with diagonal ``D = sigma sigma^T``.

    Parameters
    ----------
    drift : callable
        Either a vectorised function ``f(x) -> (d, m)`` of a point set ``x`` of shape ``(d, m)``,
        or a Numba ``@njit`` point function ``f(x) -> (d,)`` of one point ``x`` of shape ``(d,)``
        (then it is fused into the generator assembly kernel; returning a tuple of ``d`` floats
        instead of an array spares a heap allocation per face and is the fastest form). With
        ``time_dependent=True`` (or when the function takes two required arguments) it is
        called as ``f(x, t)``.
    diffusion : float, sequence of float, or callable, optional
        Diagonal of ``D = sigma sigma^T``: one value for all axes, one per axis, or a vectorised
        function ``D(x) -> (d, m)`` of the state. ``0`` gives the Liouville equation.
    sigma : float or sequence of float, optional
        Noise amplitude instead of ``diffusion`` (``D = sigma**2``). Give one of the two.
    time_dependent : bool, optional
        Whether the drift takes time as a second argument; detected from the signature if omitted.
    """

    drift: Callable
    diffusion: float | np.ndarray | Callable
    time_dependent: bool

    def __init__(
        self,
        drift: Callable,
        diffusion: float | np.ndarray | Callable | None = None,
        *,
        sigma: float | np.ndarray | None = None,
        time_dependent: bool | None = None,
    ) -> None:
        if not callable(drift):
            raise TypeError(f"drift must be callable, got {type(drift).__name__}")
        if (diffusion is None) == (sigma is None):
            raise ValueError(
                "give exactly one of diffusion (D = sigma sigma^T) or sigma (noise amplitude)"
            )
        if sigma is not None:
            s = np.asarray(sigma, dtype=float)
            if s.ndim > 1 or not np.all(np.isfinite(s)):
                raise ValueError(f"sigma must be finite, scalar or per axis, got {sigma!r}")
            diffusion = s**2
        if not callable(diffusion):
            dif = np.asarray(diffusion, dtype=float)
            if dif.ndim > 1:
                raise ValueError(
                    "diffusion must be a scalar, one value per axis, or a callable D(x) -> (d, m); "
                    f"got an array of shape {dif.shape} (only diagonal D is supported)"
                )
            if not np.all(np.isfinite(dif)):
                raise ValueError(f"diffusion must be finite, got {diffusion!r}")
            if np.any(dif < 0):
                raise ValueError(
                    f"diffusion must be non-negative (it is the variance rate sigma**2), "
                    f"got {diffusion!r}"
                )
            dif = np.atleast_1d(dif).copy()
            dif.setflags(write=False)
            diffusion = dif
        if time_dependent is None:
            time_dependent = _positional_arity(drift) == 2
        object.__setattr__(self, "drift", drift)
        object.__setattr__(self, "diffusion", diffusion)
        object.__setattr__(self, "time_dependent", bool(time_dependent))

    @property
    def jitted(self) -> bool:
        """Whether the drift is a Numba point function (fused into the assembly kernel)."""
        return is_jitted(self.drift)

    @property
    def state_dependent_diffusion(self) -> bool:
        return callable(self.diffusion)

    def constant_diffusion(self, ndim: int) -> np.ndarray:
        """The per-axis diffusion ``D_kk`` as an array of shape ``(ndim,)`` (constant case)."""
        if callable(self.diffusion):
            raise ValueError("this SDE has a state-dependent diffusion")
        dif = self.diffusion
        if dif.shape[0] == 1:
            return np.full(ndim, dif[0])
        if dif.shape[0] != ndim:
            raise ValueError(
                f"diffusion has {dif.shape[0]} entries but the grid has {ndim} axes: "
                "give one value or one per axis"
            )
        return np.asarray(dif, dtype=float)

    def check(self, point) -> None:
        """Check a Numba point drift at one ``point`` of the box: ``d`` finite values."""
        if self.jitted:
            point = np.asarray(point, dtype=float)
            check_point_function(self.drift, point, point.size, self.time_dependent, "drift")

    def point_drift(self, ndim: int):
        """The Numba point drift as a first-class function (:mod:`pfda.compiled`)."""
        return point_function(self.drift, ndim, ndim, self.time_dependent)

    def drift_at(self, x: np.ndarray, t: float = 0.0) -> np.ndarray:
        """Evaluate the drift on a point set ``x`` of shape ``(d, m)``; validated ``(d, m)`` out."""
        x = np.ascontiguousarray(x, dtype=float)
        if self.jitted:
            out = np.empty(x.shape)
            if x.shape[1]:
                self.check(x[:, 0])
                apply_points(self.point_drift(x.shape[0]), x, float(t), out)
        else:
            out = self.drift(x, t) if self.time_dependent else self.drift(x)
        return _check_field(out, x.shape, "drift")

    def diffusion_at(self, x: np.ndarray) -> np.ndarray:
        """Diagonal of ``D`` at each point of ``x`` (shape ``(d, m)``), validated."""
        x = np.asarray(x, dtype=float)
        d, m = x.shape
        if callable(self.diffusion):
            out = _check_field(self.diffusion(x), x.shape, "diffusion", broadcast=True)
            if np.any(out < 0):
                raise ValueError(
                    f"state-dependent diffusion returned negative values (min {out.min():.3g}); "
                    "D(x) is a variance rate and must be >= 0"
                )
            return out
        return np.broadcast_to(self.constant_diffusion(d)[:, None], (d, m))


def _check_field(out, shape: tuple[int, int], name: str, broadcast: bool = False) -> np.ndarray:
    out = np.asarray(out, dtype=float)
    if broadcast and out.shape != shape:
        try:
            out = np.broadcast_to(out if out.ndim == 2 else out.reshape(-1, *out.shape[-1:]), shape)
        except ValueError:
            pass
    if out.shape != shape:
        raise ValueError(
            f"{name} returned shape {out.shape} for points of shape {shape}: a vectorised {name} "
            f"must map (d, m) -> (d, m) (a Numba @njit point function maps (d,) -> (d,))"
        )
    if not np.all(np.isfinite(out)):
        bad = np.flatnonzero(~np.all(np.isfinite(out), axis=0))
        raise ValueError(
            f"{name} returned NaN or inf at {bad.size} of {shape[1]} points (first at column "
            f"{bad[0]}): check the model on the whole grid box"
        )
    return out


class Observation:
    """An observation model given by its log-likelihood.

    Parameters
    ----------
    log_likelihood : callable
        ``log_likelihood(y, x) -> (m,)``: ``log g(y | x)`` for one observation ``y`` of shape
        ``(p,)`` at each point of ``x`` of shape ``(d, m)``. ``-inf`` is allowed, NaN is not.
    dim : int, optional
        Length ``p`` of one observation, checked on each call when given.
    """

    def __init__(self, log_likelihood: Callable, dim: int | None = None) -> None:
        if not callable(log_likelihood):
            raise TypeError("log_likelihood must be callable: (y (p,), x (d, m)) -> (m,)")
        self._log_likelihood = log_likelihood
        self.dim = dim

    def check_y(self, y) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if y.ndim == 0:
            y = y.reshape(1)
        if y.ndim != 1:
            raise ValueError(f"one observation must be a vector of shape (p,), got {y.shape}")
        if self.dim is not None and y.shape[0] != self.dim:
            raise ValueError(f"observation has length {y.shape[0]}, the model expects {self.dim}")
        if not np.isfinite(y).all():
            raise ValueError(
                f"observation {y} is not finite: remove missing observations from times/ys"
            )
        return y

    def log_likelihood(self, y, x: np.ndarray) -> np.ndarray:
        """``log g(y | x)`` at each point of ``x`` (shape ``(d, m)``) -> ``(m,)``."""
        y = self.check_y(y)
        out = np.asarray(self._log_likelihood(y, x), dtype=float)
        m = x.shape[1]
        if out.shape != (m,):
            out = out.reshape(-1) if out.size == m else out
            if out.shape != (m,):
                raise ValueError(
                    f"log_likelihood returned shape {np.shape(out)}, expected ({m},) "
                    "(one value per point)"
                )
        if np.any(np.isnan(out)) or np.any(out == np.inf):
            raise ValueError("log_likelihood returned NaN or +inf: check the observation model")
        return out

    def support_warning(self, y, max_log_likelihood: float) -> str | None:
        """A message when ``y`` is implausible at every point with mass, judged from the
        largest log-likelihood over those points; ``None`` otherwise."""
        return None


class GaussianObservation(Observation):
    """``y = h(x) + v`` with ``v ~ N(0, R)``.

    .. math:: \\log g(y\\mid x) = -\\tfrac12 (y-h(x))^T R^{-1} (y-h(x))
              - \\tfrac12 \\log\\det(2\\pi R)

    The Cholesky factor ``R = L L^T`` and ``log det(2 pi R)`` are computed once per observation
    length ``p``, and ``h`` on the cell centres once per grid, so a filter step only whitens the
    residuals ``L^{-1}(y - h(x_i))``.

    Parameters
    ----------
    h : callable
        Vectorised observation function ``h(x) -> (p, m)`` of a point set ``x`` (``(d, m)``),
        or a Numba ``@njit`` point function ``h(x) -> (p,)`` of one point (a tuple of ``p``
        floats or an array), as for :class:`SDE` drifts, which the compiled kernels call. It
        must depend on ``x`` alone: its values at a grid's cell centres are reused for every
        observation filtered on that grid (:mod:`pfda.likelihood`).
    noise_cov : float, sequence, or array
        ``R``: a variance for every component, one variance per component, or a ``(p, p)``
        symmetric positive-definite matrix.
    """

    def __init__(self, h: Callable, noise_cov) -> None:
        if not callable(h):
            raise TypeError("h must be callable: x (d, m) -> (p, m)")
        cov = np.array(noise_cov, dtype=float)
        if cov.ndim > 2 or not np.all(np.isfinite(cov)):
            raise ValueError(f"noise_cov must be finite, scalar, (p,) or (p, p); got {noise_cov!r}")
        if cov.ndim == 2:
            if cov.shape[0] != cov.shape[1]:
                raise ValueError(f"noise_cov must be square, got shape {cov.shape}")
            if not np.allclose(cov, cov.T, rtol=1e-10, atol=0):
                raise ValueError("noise_cov must be symmetric")
            evals = np.linalg.eigvalsh(cov)
            if evals.min() <= 0:
                raise ValueError(
                    f"noise_cov is not positive definite (smallest eigenvalue {evals.min():.3g}): "
                    "an observation noise covariance needs every eigenvalue > 0"
                )
        elif np.any(cov <= 0):
            raise ValueError(f"noise variances must be > 0, got {noise_cov!r}")
        cov.setflags(write=False)
        super().__init__(self._gaussian_log_likelihood, dim=cov.shape[0] if cov.ndim else None)
        self.h = h
        self.noise_cov = cov
        # p -> _NoiseFactor, for the noise_cov they were computed from
        self._factors: dict[int, _NoiseFactor] = {}
        self._factors_cov = cov

    def covariance(self, p: int) -> np.ndarray:
        """``R`` as a ``(p, p)`` matrix."""
        cov = self.noise_cov
        if cov.ndim == 0:
            return np.eye(p) * float(cov)
        if cov.ndim == 1:
            if cov.shape[0] not in (1, p):
                raise ValueError(f"noise_cov has {cov.shape[0]} variances but y has {p} entries")
            return np.diag(np.broadcast_to(cov, (p,)))
        if cov.shape[0] != p:
            raise ValueError(f"noise_cov is {cov.shape} but y has {p} entries")
        return cov

    def noise_factor(self, p: int) -> _NoiseFactor:
        """The constants of ``R`` for observations of length ``p``, computed on first use."""
        if self._factors_cov is not self.noise_cov:  # noise_cov was replaced
            self._factors = {}
            self._factors_cov = self.noise_cov
        factor = self._factors.get(p)
        if factor is None:
            cov = self.covariance(p)
            chol = np.linalg.cholesky(cov)
            chol_inv = np.linalg.inv(chol) if p > 1 else 1.0 / chol
            log_norm = p * np.log(2 * np.pi) + 2.0 * np.sum(np.log(np.diag(chol)))
            for a in (chol, chol_inv):
                a.setflags(write=False)
            factor = _NoiseFactor(chol, chol_inv, float(log_norm))
            self._factors[p] = factor
        return factor

    @property
    def jitted(self) -> bool:
        """Whether ``h`` is a Numba point function."""
        return is_jitted(self.h)

    def outputs(self, point) -> int:
        """``p``, the number of values ``h`` returns, from one call at ``point`` (checked:
        finite values, for a Numba point ``h``)."""
        point = np.ascontiguousarray(point, dtype=float)
        if not self.jitted:
            return int(np.asarray(self.h(point[:, None])).reshape(-1).size)
        value = np.asarray(self.h(point), dtype=float).reshape(-1)
        check_point_function(self.h, point, value.size, False, "h")
        return int(value.size)

    def point_h(self, ndim: int, p: int):
        """The Numba point ``h`` as a first-class function (:mod:`pfda.compiled`)."""
        return point_function(self.h, ndim, p)

    def _h_points(self, x: np.ndarray):
        """``h`` on a point set ``(d, m)``, a point function applied point by point."""
        if not self.jitted:
            return self.h(x)
        x = np.ascontiguousarray(x, dtype=float)
        p = self.outputs(x[:, 0]) if x.shape[1] else 0
        out = np.empty((p, x.shape[1]))
        if x.shape[1]:
            apply_points(self.point_h(x.shape[0], p), x, 0.0, out)
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``h(x)`` validated to shape ``(p, m)``."""
        hx = np.asarray(self._h_points(x), dtype=float)
        m = x.shape[1]
        if hx.ndim == 1 and hx.shape[0] == m:
            hx = hx[None, :]
        if hx.ndim != 2 or hx.shape[1] != m:
            raise ValueError(f"h returned shape {hx.shape} for {m} points: expected (p, {m})")
        if not np.all(np.isfinite(hx)):
            raise ValueError("h returned NaN or inf on the grid")
        return hx

    def _whitened(self, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hx = self.predict(x)
        if hx.shape[0] != y.shape[0]:
            raise ValueError(f"y has {y.shape[0]} entries but h(x) has {hx.shape[0]} rows")
        chol = self.noise_factor(y.shape[0]).chol
        z = (
            np.linalg.solve(chol, y[:, None] - hx)
            if y.shape[0] > 1
            else ((y[:, None] - hx) / chol[0, 0])
        )
        return z, chol

    def _gaussian_log_likelihood(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        z, _ = self._whitened(y, x)
        log_norm = self.noise_factor(y.shape[0]).log_norm
        return -0.5 * np.sum(z * z, axis=0) - 0.5 * log_norm

    def support_warning(self, y, max_log_likelihood: float) -> str | None:
        # log g = -d2/2 - log det(2 pi R)/2, so the smallest Mahalanobis distance d2 over the
        # cells follows from the largest log-likelihood without evaluating h again
        p = np.size(y)
        d2 = -2.0 * max_log_likelihood - self.noise_factor(p).log_norm
        if d2 > 64.0:
            y = self.check_y(y)
            return (
                f"observation {y.tolist()} lies {np.sqrt(d2):.1f} noise standard "
                "deviations from h(x) at every cell with predicted mass: the grid may be too "
                "small or the model wrong"
            )
        return None


@dataclass(frozen=True, eq=False)
class _NoiseFactor:
    """Constants of ``R`` for one observation length: ``R = L L^T``, ``L^{-1}``, and
    ``log det(2 pi R) = p log 2pi + 2 sum log diag L``."""

    chol: np.ndarray
    chol_inv: np.ndarray
    log_norm: float
