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

import numba
import numpy as np
from numba.core.dispatcher import Dispatcher

from .grid import Grid

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


@numba.njit(cache=False)
def _apply_point(f, x):
    d, m = x.shape
    out = np.empty((d, m))
    for j in range(m):
        v = f(x[:, j].copy())  # an array or a tuple of d values
        for k in range(d):
            out[k, j] = v[k]
    return out


@numba.njit(cache=False)
def _apply_point_t(f, x, t):
    d, m = x.shape
    out = np.empty((d, m))
    for j in range(m):
        v = f(x[:, j].copy(), t)
        for k in range(d):
            out[k, j] = v[k]
    return out


@numba.njit(cache=False)
def _apply_point_rows(f, x, p):
    """A point function with ``p`` outputs on every point of ``x`` (``(d, m)``): ``(p, m)``."""
    m = x.shape[1]
    out = np.empty((p, m))
    for j in range(m):
        v = f(x[:, j].copy())
        for k in range(p):
            out[k, j] = v[k]
    return out


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

    def drift_at(self, x: np.ndarray, t: float = 0.0) -> np.ndarray:
        """Evaluate the drift on a point set ``x`` of shape ``(d, m)``; validated ``(d, m)`` out."""
        x = np.ascontiguousarray(x, dtype=float)
        if self.jitted:
            out = (
                _apply_point_t(self.drift, x, float(t))
                if self.time_dependent
                else (_apply_point(self.drift, x))
            )
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

    def log_likelihood_on_grid(self, y, grid: Grid, mask: np.ndarray | None = None) -> np.ndarray:
        """``log g(y | x_i)`` at the centres ``x_i`` of the cells of ``grid`` selected by ``mask``.

        This is what :func:`pfda.update` calls. It equals
        ``log_likelihood(y, grid.centers[:, mask])``; a subclass may override it to reuse work
        that depends on the grid alone.

        Parameters
        ----------
        y : array (p,)
            One observation.
        grid : Grid
        mask : bool array (N,), optional
            The cells to evaluate; ``None`` means every cell.

        Returns
        -------
        ndarray (m,)
            One value per selected cell, in flat cell order.
        """
        return self.log_likelihood(y, grid.centers if mask is None else grid.centers[:, mask])

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
        floats or an array), as for :class:`SDE` drifts; the compiled window filter
        (:class:`pfda.WindowFilter`) then evaluates it inside its kernel. It must depend on
        ``x`` alone: its values on a grid's cell centres are reused for every observation
        filtered on that grid.
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
        self._point_outputs: int | None = None  # p of a Numba point h, found on first use
        # h is reused on a whole grid only if no subclass redefines how h(x) or g(y | x) is computed
        self._reuses_h_on_grid = all(
            getattr(type(self), name) is getattr(GaussianObservation, name)
            for name in ("predict", "log_likelihood", "_whitened", "_gaussian_log_likelihood")
        )
        # p -> _NoiseFactor, for the noise_cov they were computed from
        self._factors: dict[int, _NoiseFactor] = {}
        self._factors_cov = cov
        # h on the centres of the last grid seen: (grid, h, _GridValues or None)
        self._grid_values: tuple[Grid, Callable, _GridValues | None] | None = None

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

    def _factor(self, p: int) -> _NoiseFactor:
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

    def _h_points(self, x: np.ndarray):
        """``h`` on a point set ``(d, m)``, a point function applied point by point."""
        if not self.jitted:
            return self.h(x)
        x = np.ascontiguousarray(x, dtype=float)
        if x.shape[1] == 0:
            return np.empty((self._point_outputs or 0, 0))
        if self._point_outputs is None:
            self._point_outputs = len(self.h(x[:, 0].copy()))
        return _apply_point_rows(self.h, x, self._point_outputs)

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
        chol = self._factor(y.shape[0]).chol
        z = (
            np.linalg.solve(chol, y[:, None] - hx)
            if y.shape[0] > 1
            else ((y[:, None] - hx) / chol[0, 0])
        )
        return z, chol

    def _gaussian_log_likelihood(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        z, _ = self._whitened(y, x)
        log_norm = self._factor(y.shape[0]).log_norm
        return -0.5 * np.sum(z * z, axis=0) - 0.5 * log_norm

    def _values_on(self, grid: Grid) -> _GridValues | None:
        """``h`` at every cell centre of ``grid``, evaluated once per grid.

        ``None`` when ``h`` fails or returns the wrong shape there: every step then takes the
        point-set path, which reports the problem if it concerns cells with mass.
        """
        cached = self._grid_values
        if cached is not None and cached[0] is grid and cached[1] is self.h:
            return cached[2]
        values = None
        centers = grid.centers
        try:
            # h may fail outside its domain at cells that never hold mass; then the point-set
            # path judges each step by the cells with mass, as it always has
            with np.errstate(divide="raise", over="raise", invalid="raise"):
                hx = np.array(self._h_points(centers), dtype=float)  # a copy, made read-only
        except Exception:
            hx = None
        if hx is not None and hx.ndim == 1 and hx.shape[0] == grid.size:
            hx = hx[None, :]
        if hx is not None and hx.ndim == 2 and hx.shape[1] == grid.size:
            finite = np.all(np.isfinite(hx), axis=0)
            values = _GridValues(hx, None if finite.all() else ~finite)
        self._grid_values = (grid, self.h, values)
        return values

    def log_likelihood_on_grid(self, y, grid: Grid, mask: np.ndarray | None = None) -> np.ndarray:
        y = self.check_y(y)
        values = self._values_on(grid) if self._reuses_h_on_grid else None
        if values is None or (
            values.nonfinite is not None and (mask is None or values.nonfinite[mask].any())
        ):
            return super().log_likelihood_on_grid(y, grid, mask)
        p = y.shape[0]
        if values.hx.shape[0] != p:
            raise ValueError(f"y has {p} entries but h(x) has {values.hx.shape[0]} rows")
        factor = self._factor(p)
        if p == 1:
            hx = values.hx[0] if mask is None else values.hx[0, mask]
            z = (y[0] - hx) / factor.chol[0, 0]
            d2 = z * z
        else:
            whx = values.whitened(factor)
            z = (factor.chol_inv @ y)[:, None] - (whx if mask is None else whx[:, mask])
            d2 = np.sum(z * z, axis=0)
        return -0.5 * d2 - 0.5 * factor.log_norm

    def support_warning(self, y, max_log_likelihood: float) -> str | None:
        # log g = -d2/2 - log det(2 pi R)/2, so the smallest Mahalanobis distance d2 over the
        # cells follows from the largest log-likelihood without evaluating h again
        p = np.size(y)
        d2 = -2.0 * max_log_likelihood - self._factor(p).log_norm
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


class _GridValues:
    """``h`` at all cell centres of one grid (``(p, N)``), the cells where it is not finite
    (``None`` if none), and ``L^{-1} h`` per noise factor."""

    def __init__(self, hx: np.ndarray, nonfinite: np.ndarray | None) -> None:
        hx.setflags(write=False)
        self.hx = hx
        self.nonfinite = nonfinite
        self._whitened: tuple[_NoiseFactor, np.ndarray] | None = None

    def whitened(self, factor: _NoiseFactor) -> np.ndarray:
        cached = self._whitened
        if cached is None or cached[0] is not factor:
            whx = factor.chol_inv @ self.hx
            whx.setflags(write=False)
            cached = self._whitened = (factor, whx)
        return cached[1]
