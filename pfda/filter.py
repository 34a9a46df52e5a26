"""The grid-based Bayesian filter: alternate Perron--Frobenius prediction and Bayes update.

One filter for every mesh (:mod:`pfda.meshes`): a fixed grid, or a window that follows the
posterior. One loop drives both through the walkers of :mod:`pfda.walkers`, the likelihood on
the grid (:mod:`pfda.likelihood`) and the compiled update and moments (:mod:`pfda.kernels`).

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

import numpy as np

from ._warnings import PfdaWarning
from .compiled import CompileClock
from .grid import Grid
from .kernels import bayes, moments
from .likelihood import GridLikelihood
from .meshes import Domain, Fixed, Window, as_mesh
from .models import SDE, GaussianObservation, Observation
from .propagation import Propagator
from .results import FilterResult
from .solvers import LinearSolver
from .stepcontrol import ORDERS, SMALLEST_FRACTION, StepControl
from .walkers import FixedWalk, WindowWalk, predict

__all__ = ["Filter", "FilterResult", "choose_mesh", "choose_scheme", "predict", "update"]

#: The default tolerance on each interval's estimated relative L1 time error.
TOL = 1e-3
#: Default check intervals: of the schemes that refine on the estimate, of those that only
#: estimate (the split schemes).
CHECK_EVERY, ESTIMATE_EVERY = 10, 100

LOSS_WARNING = 1e-3
NO_SUPPORT_MESSAGE = (
    "the observation has zero likelihood at every cell with predicted mass: the grid is too "
    "small or the model is wrong"
)


def _centre(grid: Grid) -> np.ndarray:
    """The centre of the grid's box, where point functions are checked."""
    return 0.5 * (np.asarray(grid.lower) + np.asarray(grid.upper))


def bayes_update(p: np.ndarray, ll: np.ndarray, best: float, prior_total: float | None = None):
    """Bayes' rule on ``p`` with the log-likelihoods ``ll`` (``-inf`` where ``p`` is 0) whose
    largest value is ``best``; returns ``(posterior, log evidence increment)`` relative to the
    mass ``prior_total`` (default ``p.sum()``). The compiled :func:`pfda.kernels.bayes`."""
    post = np.array(p, dtype=float)
    incr = _bayes_in_place(post, np.ascontiguousarray(ll, dtype=float), float(best),
                           np.empty(post.size), prior_total)  # fmt: skip
    return post, incr


def _bayes_in_place(p, ll, best: float, w, prior_total: float | None) -> float:
    total = float(p.sum()) if prior_total is None else float(prior_total)
    if not total > 0:
        raise ValueError("the predicted density has no mass left on the grid: widen the grid")
    incr, status = bayes(p, ll, best, w, total, math.nan)
    if status != 0:
        raise ValueError(NO_SUPPORT_MESSAGE)
    return float(incr)


def update(p: np.ndarray, y, observation: Observation, grid: Grid) -> tuple[np.ndarray, float]:
    """Bayes update of ``p`` on ``grid`` by the observation ``y``; returns ``(posterior, log
    evidence increment)``. Only the cells with predicted mass are weighed.

    Raises
    ------
    ValueError
        If ``y`` has zero likelihood at every cell that holds predicted mass.
    """
    p = np.ascontiguousarray(p, dtype=float)
    if not (p > 0).any():
        raise ValueError("the predicted density has no mass left on the grid: widen the grid")
    ll = np.empty(p.size)
    best = GridLikelihood(observation, grid.ndim, _centre(grid))(y, grid, p, ll)
    _warn_support(observation, y, best)
    return bayes_update(p, ll, best)


def choose_scheme(sde: SDE, solver=None) -> str:
    """The scheme of ``scheme="auto"``.

    - a linear solver given: ``"implicit"`` (the scheme that solves linear systems);
    - a constant diffusion: ``"split-ppm"``, second order in space and time and positive, with
      no numerical diffusion to speak of where the drift dominates (cell Peclet numbers above
      one), where the Scharfetter--Gummel flux of the linear schemes falls back to upwind;
    - a state-dependent diffusion (which the split schemes do not take): ``"exponential"``,
      exact in time for a time-independent generator.
    """
    if solver is not None:
        return "implicit"
    return "exponential" if sde.state_dependent_diffusion else "split-ppm"


def choose_mesh(ndim: int) -> str:
    """The mesh of ``mesh="auto"``: in two or more dimensions the window, which puts the cells
    where the posterior is (at equal cells, its mean errs 10-100x less than a fixed grid's on
    a concentrated posterior); in one dimension the fixed grid, whose few hundred cells
    resolve most posteriors at less cost than the window's moves."""
    return "window" if ndim >= 2 else "fixed"


def no_observation(y, grid, p, ll) -> float:
    """The log-likelihood of a time without an observation (``y`` all NaN): ``0`` wherever
    ``p`` has mass, so that the update leaves the forecast as it is, with an evidence
    increment of ``0``."""
    ll[:] = np.where(p > 0, 0.0, -np.inf)
    return 0.0


def _warn_support(observation: Observation, y, best: float) -> None:
    if not math.isfinite(best):
        raise ValueError(
            f"observation y={np.asarray(y).tolist()} has zero likelihood at every cell with "
            "predicted mass: the grid is too small or the model is wrong"
        )
    message = observation.support_warning(y, best)
    if message:
        warnings.warn(message, PfdaWarning, stacklevel=4)


class Filter:
    """Full-density Bayesian filter on a grid, fixed or moving with the posterior.

    Parameters
    ----------
    grid : Grid
        The grid (``mesh="fixed"``), or the domain a window moves in: its box bounds the window
        on non-periodic axes, its boundaries hold where the window reaches them, and
        ``grid.cells`` is the window's shape.
    sde : SDE
    observation : Observation
    scheme : {"auto", "implicit", "explicit", "crank-nicolson", "exponential", "split-ppm", \
"split-mc"}
        The split schemes are high-resolution (second-order, positive) advection for
        advection-dominated models with a constant diffusion (:mod:`pfda.highres`).
        ``"auto"`` (default): :func:`choose_scheme`.
    solver : str or solver object, optional
        Linear solver of the implicit schemes: ``"splu"`` (default), ``"dense"``, ``"gmres"``,
        ``"bicgstab"``, ``"hhl"`` (needs the ``quantum`` extra) or an object with ``prepare``
        (unused by the explicit and split schemes).
    dt : float, optional
        Largest time step; by default the CFL limit (explicit), the positivity limit (split)
        or the observation interval. The time-error control may take smaller ones.
    mesh : {"auto", "fixed", "window"}, Fixed or Window
        Where the grid lies: fixed, or a window that follows the posterior
        (:class:`pfda.Window`, whose parameters set how); ``"auto"`` (default):
        :func:`choose_mesh`.
    tol : float or None
        Tolerance on the estimated relative L1 time error of each interval's propagated
        density (:mod:`pfda.stepcontrol`): where a check finds it exceeded, the steps halve.
        ``None``: no control; the steps are ``dt`` (or the scheme's bound) throughout, and the
        time errors are not estimated (reported as NaN).
    check_every : int, optional
        Check the time error on every ``check_every``-th interval (and the first), by taking it
        a second time with halved steps; results report the estimates (``time_error``,
        ``evidence_time_error``, ``log_evidence_error``). Default: every 10th for the linear
        schemes, which refine on it; every 100th for the split schemes, which only estimate
        (a checked interval costs them about four unchecked ones, the compiled update
        included: every 10th would add 30 % to a pendulum window run).
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
    >>> win = pfda.Filter(grid, sde, obs, scheme="split-ppm", mesh=pfda.Window())
    >>> res = win.run(lambda g: pfda.gaussian(g, [0.0], [[1.0]]), [0.5, 1.0], [[0.3], [0.1]])
    >>> bool(res.widths[-1, 0] * 200 < 8.0)  # the window hugs the posterior
    True
    """

    def __init__(
        self,
        grid: Grid,
        sde: SDE,
        observation: Observation,
        scheme: str = "auto",
        solver: str | LinearSolver | None = None,
        dt: float | None = None,
        *,
        mesh: str | Fixed | Window = "auto",
        tol: float | None = TOL,
        check_every: int | None = None,
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
        if tol is not None:
            tol = float(tol)
            if not (math.isfinite(tol) and tol > 0):
                raise ValueError(f"tol must be a positive finite tolerance or None, got {tol!r}")
        if check_every is not None and (
            isinstance(check_every, bool)
            or not isinstance(check_every, int | np.integer)
            or (check_every < 1)
        ):
            raise ValueError(f"check_every must be a positive integer, got {check_every!r}")
        if scheme == "auto":
            scheme = choose_scheme(sde, solver)
        if check_every is None:
            check_every = ESTIMATE_EVERY if str(scheme).startswith("split-") else CHECK_EVERY
        self.tol, self.check_every = tol, int(check_every)
        if solver is None:
            solver = "splu"
        if isinstance(mesh, str) and mesh == "auto":
            mesh = choose_mesh(grid.ndim)
        self.grid = grid
        self.sde = sde
        self.observation = observation
        self.mesh = as_mesh(mesh)
        if isinstance(self.mesh, Window):
            self.mesh.record(Domain(grid))  # checks min_width against the domain
        sde.check(_centre(grid))  # a Numba point drift: d finite values at a point of the box
        if isinstance(observation, GaussianObservation) and observation.jitted:
            observation.outputs(_centre(grid))
        self.solver, self.dt, self.flux = solver, dt, flux
        self.solver_options = solver_options
        # one validation of the scheme, the step and the solver, on the filter's grid
        self.propagator = Propagator(
            grid, sde, scheme, solver, dt, flux=flux, solver_options=solver_options
        )
        self.progress = progress

    @property
    def scheme(self) -> str:
        return self.propagator.scheme

    def _step_control(self) -> StepControl:
        return StepControl(ORDERS[self.scheme], self.tol, self.check_every, self.exact_in_time,
                           refine=not self.scheme.startswith("split-"))  # fmt: skip

    @property
    def exact_in_time(self) -> bool:
        """Whether the scheme has no time error (``exponential``, time-independent drift)."""
        return self.scheme == "exponential" and not self.sde.time_dependent

    def check_series(self, times, ys, t0: float) -> tuple[np.ndarray, np.ndarray]:
        """``times`` and ``ys`` validated as :meth:`run` takes them: ``(K,)`` and ``(K, p)``."""
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
        missing = np.all(np.isnan(ys), axis=1)  # no observation at that time: predict only
        bad = ~missing & ~np.all(np.isfinite(ys), axis=1)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"observation ys[{k}] = {ys[k]} is not finite (a time without an observation "
                "has NaN in every component)"
            )
        return times, ys

    def run(self, prior, times, ys, t0: float = 0.0, *, forecasts: bool = False) -> FilterResult:
        """Filter the observations ``ys[k]`` taken at ``times[k]``, from ``prior`` at ``t0``.

        Parameters
        ----------
        prior : callable or array (N,)
            A function ``grid -> cell probabilities`` (e.g. ``lambda g: pfda.gaussian(g, m,
            C)``), which the mesh evaluates on its own cells; on either mesh also the cell
            probabilities on ``grid``.
        times : array (K,)
            Strictly increasing observation times, ``times[0] >= t0``.
        ys : array (K, p) or (K,)
            A row of NaN is a time without an observation: the filter predicts through it
            (the posterior is the forecast, the evidence increment 0).
        t0 : float
        forecasts : bool
            Also keep each update's forecast (predictive) density ``p(x_k | y_{1:k-1})``, its
            probabilities normalised on its own cells (a window's box before the zoom):
            ``result.forecast`` and ``result.forecast_grid(k)``; ``K N`` more floats.
        """
        times, ys = self.check_series(times, ys, float(t0))
        K, N, d = times.size, self.grid.size, self.grid.ndim
        store = None
        if forecasts:
            store = {"q": np.empty((K, N)), "fraction": np.ones(K), "box": np.empty((K, 3, d))}
        with CompileClock("the filter's kernels") as clock:
            start = _time.perf_counter()
            try:
                result = self.run_records(prior, times, ys, float(t0), forecasts=store)
                if store is not None:
                    q = store["q"]
                    result["forecast"] = q / q.sum(axis=1, keepdims=True)
                    result["forecast_box"] = store["box"]
            finally:
                self.propagator.fraction = 1.0  # the time-error control's steps end with the run
            elapsed = _time.perf_counter() - start
        return FilterResult(**result, wall_time=max(elapsed - clock.seconds, 0.0),
                            compile_time=clock.seconds)  # fmt: skip

    def smooth(self, prior, times, ys, t0: float = 0.0) -> FilterResult:
        """The smoothed densities ``p(x_k | y_{1:K})`` (:func:`pfda.smoother.smooth`): a fixed
        mesh and a linear scheme; the arguments are those of :meth:`run`."""
        from .smoother import smooth

        return smooth(self, prior, times, ys, t0)

    def run_records(
        self, prior, times: np.ndarray, ys: np.ndarray, t0: float, forecasts=None
    ) -> dict:
        """The one loop: propagate, zoom (a window), update, record. Returns the arrays of a
        :class:`FilterResult` (validated ``times``, ``ys`` assumed); ``forecasts``, a dict of
        ``"q"`` ``(K, N)`` and ``"fraction"`` ``(K,)``, is filled with each update's predicted
        masses and the step fraction of its interval (the smoother's backward pass)."""
        window = isinstance(self.mesh, Window)
        walk = WindowWalk(self, self.mesh, prior) if window else FixedWalk(self, prior)
        likelihood = GridLikelihood(self.observation, self.grid.ndim, _centre(self.grid))
        K, d, N = times.size, self.grid.ndim, self.grid.size
        cells = walk.domain.cells
        out = {
            "probabilities": np.empty((K, N)),
            "mean": np.empty((K, d)),
            "cov": np.empty((K, d, d)),
            "log_evidence_increments": np.empty(K),
            "mass_lost": np.zeros(K),
            "remaps": np.zeros(K, dtype=np.int64),
            "lower": np.empty((K, d)),
            "widths": np.empty((K, d)),
            "codes": np.empty((K, d)),
            "time_error": np.zeros(K),
            "evidence_time_error": np.zeros(K),
        }
        control = self._step_control()
        t = t0
        bar = self._bar(K)
        ll, w = np.empty(N), np.empty(N)  # the log-likelihoods and Bayes weights of a step
        fused = window and forecasts is None and walk.observer(likelihood, ys.shape[1])
        for k in range(K):
            mean, cov = out["mean"][k], out["cov"][k]
            check = control.due(k)
            missing = bool(np.isnan(ys[k, 0]))
            lik = no_observation if missing else likelihood
            if fused and not check and not missing:  # the same steps as below, in one compiled call
                lost, remaps, incr, best = walk.observe(ys[k], t, float(times[k]), k > 0, mean,
                                                        cov)  # fmt: skip
                _warn_support(self.observation, ys[k], best)
                if math.isnan(incr):
                    raise ValueError(NO_SUPPORT_MESSAGE)
                out["log_evidence_increments"][k] = incr
                out["time_error"][k], out["evidence_time_error"][k] = control.carried()
                p, box = walk.p, walk.box
            else:
                if check:  # the interval twice, halving the steps until the error is met
                    lost, remaps, err, delta, kept = self._checked_advance(
                        walk, control, lik, ys[k], t, float(times[k]), k > 0, ll
                    )
                    out["time_error"][k], out["evidence_time_error"][k] = err, delta
                else:
                    kept = walk.fraction
                    lost, remaps = walk.advance(t, float(times[k]), k > 0)
                    out["time_error"][k], out["evidence_time_error"][k] = control.carried()
                p = walk.p  # the walker's own array: updated in place
                prior_total = float(p.sum())
                if forecasts is not None:  # predicted masses, their box and their steps
                    forecasts["q"][k], forecasts["fraction"][k] = p, kept
                    if "box" in forecasts:
                        forecasts["box"][k] = walk.box
                best = lik(ys[k], walk.grid, p, ll)
                if walk.zoom(ll, best):
                    remaps += 1
                    p = walk.p
                    best = lik(ys[k], walk.grid, p, ll)
                if not missing:
                    _warn_support(self.observation, ys[k], best)
                out["log_evidence_increments"][k] = _bayes_in_place(p, ll, best, w, prior_total)
                box = walk.box
                moments(p, cells, box[0], box[1], mean, cov)
            t = float(times[k])
            out["probabilities"][k] = p
            out["lower"][k], out["widths"][k], out["codes"][k] = box
            out["mass_lost"][k], out["remaps"][k] = lost, remaps
            if window and lost > LOSS_WARNING:
                warnings.warn(
                    f"the window lost {lost:.2g} of the mass before update {k}: increase "
                    "half_width",
                    PfdaWarning,
                    stacklevel=3,
                )
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        if control.stalled:
            warnings.warn(
                f"the time-error estimate of the {self.scheme} steps did not fall as they "
                "halved: another error (the linear solver's, the window's remaps) dominates, and "
                "the reported time_error bounds it",
                PfdaWarning,
                stacklevel=3,
            )
        if control.floored:
            warnings.warn(
                f"the {self.scheme} steps reached {SMALLEST_FRACTION:.3g} of their bound with "
                f"the time-error estimate still above tol={self.tol:g} (time_error reports it): "
                "give a smaller dt, or a scheme of higher order",
                PfdaWarning,
                stacklevel=3,
            )
        dom = walk.domain
        wrap = dom.periodic
        mean = out["mean"]
        mean[:, wrap] = dom.lower[wrap] + np.mod(mean[:, wrap] - dom.lower[wrap], dom.length[wrap])
        return dict(out, grid=self.grid, mesh=self.mesh.name, times=times)

    @staticmethod
    def _checked_advance(walk, control, likelihood, y, t, t_end, adapt_first, ll):
        """An interval taken with the control's step fraction and with half of it, from the
        same state, until their difference meets the tolerance (:mod:`pfda.stepcontrol`); the
        walker ends on the finer pass (on the unhalved one where the control only estimates).
        Returns ``(mass lost, remaps, err, delta, the step fraction of the pass kept)``."""
        start = walk.save()
        control.begin()
        walk.fraction = coarse_fraction = control.fraction
        coarse_lost, coarse_remaps = walk.advance(t, t_end, adapt_first)
        coarse = walk.save()
        while True:
            walk.restore(start)
            walk.fraction = kept = 0.5 * control.fraction
            lost, remaps = walk.advance(t, t_end, adapt_first)
            fine = walk.save()
            q = walk.density_of(coarse)
            likelihood(y, walk.grid, walk.p + q, ll)
            done, err, delta = control.judge(q, walk.p, ll)
            if done:
                if not control.refine:  # estimated only: back to the unhalved pass
                    walk.restore(coarse)
                    lost, remaps, kept = coarse_lost, coarse_remaps, coarse_fraction
                walk.fraction = control.fraction
                return lost, remaps, err, delta, kept
            coarse, coarse_lost, coarse_remaps, coarse_fraction = fine, lost, remaps, kept

    def _bar(self, K: int):
        show = self.progress
        if show is None:
            show = K >= 50 and sys.stderr.isatty()
        if not show:
            return None
        from tqdm.auto import tqdm

        where = "" if isinstance(self.mesh, Fixed) else f"{self.mesh.name} "
        return tqdm(total=K, desc=f"pfda {where}{self.scheme}", unit="obs", leave=False)
