"""The grid-based Bayesian filter: alternate Perron--Frobenius prediction and Bayes update.

With ``p_{k-1}`` the posterior cell probabilities after observation ``k-1``:

predict
    ``q_k = T(t_{k-1}, t_k) p_{k-1}``, the finite-volume transfer operator over the interval
    (:class:`pfda.Propagator`); with absorbing boundaries ``1 - sum(q_k)`` is the mass lost;
update
    ``log w_i = log q_i + log g(y_k | x_i)`` at the cell centres ``x_i``, and with the log-sum-exp
    ``L_k = log sum_i exp(log w_i)``, the posterior is ``p_k = exp(log w - L_k)``.

The evidence increment is ``log p(y_k | y_{1:k-1}) = L_k - log sum_i q_i`` (the predictive
density of ``y_k`` given that the state is still on the grid), and
``log p(y_{1:K}) = sum_k`` of the increments.
"""

from __future__ import annotations

import math
import sys
import time as _time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import diagnostics
from ._warnings import PfdaWarning
from .grid import Grid
from .models import SDE, Observation
from .propagation import Propagator
from .solvers import LinearSolver

__all__ = ["Filter", "FilterResult", "predict", "update"]


def predict(
    p: np.ndarray, propagator: Propagator, t0: float, t1: float
) -> tuple[np.ndarray, float]:
    """Prior at ``t1`` from the posterior at ``t0``; returns ``(q, mass_lost)``."""
    q = propagator(p, t0, t1)
    if propagator.conservative:  # reflecting/periodic: the step restores the exact mass
        return q, 0.0
    return q, float(max(p.sum() - q.sum(), 0.0))


def update(p: np.ndarray, y, observation: Observation, grid: Grid) -> tuple[np.ndarray, float]:
    """Bayes update in log space; returns ``(posterior, log evidence increment)``.

    Only the cells with predicted mass are weighed, by
    :meth:`Observation.log_likelihood_on_grid <pfda.Observation.log_likelihood_on_grid>`.

    Raises
    ------
    ValueError
        If ``y`` has zero likelihood at every cell that holds predicted mass.
    """
    p = np.asarray(p, dtype=float)
    mask = p > 0
    if mask.all():
        mask = None  # every cell holds mass: no selection needed
        p_masked = p
    elif not mask.any():
        raise ValueError("the predicted density has no mass left on the grid: widen the grid")
    else:
        p_masked = p[mask]
    loglik = observation.log_likelihood_on_grid(y, grid, mask)
    log_w = np.log(p_masked)
    log_w += loglik
    top = float(log_w.max())
    if not math.isfinite(top):
        raise ValueError(
            f"observation y={np.asarray(y).tolist()} has zero likelihood at every cell with "
            "predicted mass: the grid is too small or the model is wrong"
        )
    message = observation.support_warning(y, float(loglik.max()))
    if message:
        warnings.warn(message, PfdaWarning, stacklevel=3)
    w = log_w
    w -= top
    np.exp(w, out=w)
    total = float(w.sum())
    w /= total
    if mask is None:
        post = w
    else:
        post = np.zeros_like(p)
        post[mask] = w
    log_increment = top + math.log(total) - math.log(p.sum())
    return post, float(log_increment)


class _Series:
    """What every filter result derives from its ``mean``, ``cov`` and evidence increments."""

    @property
    def log_evidence(self) -> float:
        """``log p(y_{1:K})``, the sum of the increments."""
        return float(np.sum(self.log_evidence_increments))

    @property
    def std(self) -> np.ndarray:
        """Marginal posterior standard deviations ``(K, d)``."""
        return np.sqrt(np.diagonal(self.cov, axis1=1, axis2=2))

    def rmse(self, truth) -> float:
        """Root-mean-square error of the posterior mean against a true path ``(K, d)``."""
        truth = np.asarray(truth, dtype=float).reshape(self.mean.shape)
        return float(np.sqrt(np.mean(np.sum((self.mean - truth) ** 2, axis=1))))


@dataclass(frozen=True)
class FilterResult(_Series):
    """Output of :meth:`Filter.run`; every time series has a leading time axis of length ``K``.

    Attributes
    ----------
    grid : Grid
    times : ndarray (K,)
    probabilities : ndarray (K, N)
        Posterior cell probabilities after each update.
    mean : ndarray (K, d)
    cov : ndarray (K, d, d)
    log_evidence_increments : ndarray (K,)
        ``log p(y_k | y_{1:k-1})``.
    mass_lost : ndarray (K,)
        Predicted mass that left the grid through absorbing boundaries before each update.
    wall_time : float
        Seconds spent in :meth:`Filter.run`.
    """

    grid: Grid
    times: np.ndarray
    probabilities: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    log_evidence_increments: np.ndarray
    mass_lost: np.ndarray
    wall_time: float = field(default=0.0)

    def marginal(self, k: int, axes) -> np.ndarray:
        """Marginal cell probabilities of step ``k`` on ``axes``."""
        return diagnostics.marginal(self.grid, self.probabilities[k], axes)

    def map_estimate(self) -> np.ndarray:
        """Centre of the most probable cell at every step, ``(K, d)``."""
        return diagnostics.map_estimate(self.grid, self.probabilities)

    def credible_interval(self, k: int, axis: int = 0, level: float = 0.95):
        return diagnostics.credible_interval(self.grid, self.probabilities[k], axis, level)

    def entropy(self) -> np.ndarray:
        """Differential entropy of the posterior at every step, ``(K,)``."""
        return diagnostics.entropy(self.grid, self.probabilities)


class Filter:
    """Full-density Bayesian filter on a grid.

    Parameters
    ----------
    grid : Grid
    sde : SDE
    observation : Observation
    scheme : {"implicit", "explicit", "crank-nicolson", "exponential", "split-ppm", "split-mc"}
        The split schemes are high-resolution (second-order, positive) advection for
        advection-dominated models with a constant diffusion (:mod:`pfda.highres`).
    solver : str or solver object
        Linear solver of the implicit schemes: ``"splu"``, ``"dense"``, ``"gmres"``,
        ``"bicgstab"``, ``"hhl"`` (needs the ``quantum`` extra) or an object with ``prepare``
        (unused by the explicit and split schemes).
    dt : float, optional
        Largest time step; by default the CFL limit (explicit), the positivity limit (split)
        or the observation interval.
    flux : {"auto", "upwind", "sg"}
    solver_options : dict, optional
        Keyword options of the solver.
    progress : bool, optional
        Show a progress bar; by default only on an interactive terminal for runs of 50+ steps.

    Examples
    --------
    >>> import numpy as np, pfda
    >>> grid = pfda.Grid(lower=[-4.0], upper=[4.0], cells=[200])
    >>> sde = pfda.SDE(drift=lambda x: -x, diffusion=0.5)
    >>> obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=0.1)
    >>> res = pfda.Filter(grid, sde, obs).run(pfda.gaussian(grid, [0.0], [[1.0]]),
    ...                                       times=[0.5, 1.0], ys=[[0.3], [0.1]])
    >>> res.mean.shape, res.cov.shape
    ((2, 1), (2, 1, 1))
    """

    def __init__(
        self,
        grid: Grid,
        sde: SDE,
        observation: Observation,
        scheme: str = "implicit",
        solver: str | LinearSolver = "splu",
        dt: float | None = None,
        *,
        flux: str = "auto",
        solver_options: dict | None = None,
        progress: bool | None = None,
    ) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a pfda.Grid, got {type(grid).__name__}")
        if not isinstance(sde, SDE):
            raise TypeError(f"sde must be a pfda.SDE, got {type(sde).__name__}")
        if not isinstance(observation, Observation):
            raise TypeError(
                "observation must be a pfda.Observation (e.g. GaussianObservation), "
                f"got {type(observation).__name__}"
            )
        self.grid = grid
        self.sde = sde
        self.observation = observation
        self.propagator = Propagator(
            grid, sde, scheme, solver, dt, flux=flux, solver_options=solver_options
        )
        self.progress = progress

    @property
    def scheme(self) -> str:
        return self.propagator.scheme

    def _check_series(self, times, ys, t0: float) -> tuple[np.ndarray, np.ndarray]:
        times = np.atleast_1d(np.asarray(times, dtype=float))
        if times.ndim != 1 or times.size == 0:
            raise ValueError(f"times must be a non-empty 1-D array, got shape {times.shape}")
        if not np.all(np.isfinite(times)):
            raise ValueError("times must be finite")
        if np.any(np.diff(times) <= 0):
            k = int(np.flatnonzero(np.diff(times) <= 0)[0])
            raise ValueError(
                f"times must increase strictly, but times[{k}]={times[k]} >= "
                f"times[{k + 1}]={times[k + 1]}"
            )
        if times[0] < t0:
            raise ValueError(f"the first time {times[0]} precedes the prior's time t0={t0}")
        ys = np.asarray(ys, dtype=float)
        if ys.ndim == 1:
            ys = ys[:, None]
        if ys.ndim != 2 or ys.shape[0] != times.size:
            raise ValueError(
                f"ys must have shape (K, p) with K = len(times) = {times.size}, got {ys.shape}"
            )
        if not np.all(np.isfinite(ys)):
            k = int(np.flatnonzero(~np.all(np.isfinite(ys), axis=1))[0])
            raise ValueError(f"observation ys[{k}] = {ys[k]} is not finite")
        return times, ys

    def run(self, prior, times, ys, t0: float = 0.0) -> FilterResult:
        """Filter the observations ``ys[k]`` taken at ``times[k]``, from ``prior`` at ``t0``.

        Parameters
        ----------
        prior : array (N,)
            Cell probabilities at ``t0`` (e.g. :func:`pfda.gaussian`).
        times : array (K,)
            Strictly increasing observation times, ``times[0] >= t0``.
        ys : array (K, p) or (K,)
        t0 : float
        """
        start = _time.perf_counter()
        p = self.grid.check_probabilities(prior, "prior")
        p = p / p.sum()
        times, ys = self._check_series(times, ys, float(t0))
        K = times.size
        probs = np.empty((K, self.grid.size))
        incr = np.empty(K)
        lost = np.empty(K)
        t_prev = float(t0)
        for k in self._progress_range(K):
            q, lost[k] = predict(p, self.propagator, t_prev, float(times[k]))
            p, incr[k] = update(q, ys[k], self.observation, self.grid)
            probs[k] = p
            t_prev = float(times[k])
        return FilterResult(
            grid=self.grid,
            times=times,
            probabilities=probs,
            mean=diagnostics.mean(self.grid, probs),
            cov=diagnostics.covariance(self.grid, probs),
            log_evidence_increments=incr,
            mass_lost=lost,
            wall_time=_time.perf_counter() - start,
        )

    def _progress_range(self, K: int):
        show = self.progress
        if show is None:
            show = K >= 50 and sys.stderr.isatty()
        if not show:
            return range(K)
        from tqdm.auto import tqdm

        return tqdm(range(K), desc=f"pfda {self.scheme}", unit="obs", leave=False)
