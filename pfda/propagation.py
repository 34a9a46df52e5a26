"""Propagating cell probabilities: ``dp/dt = A p`` over a time interval.

One step of length ``dt`` from ``p`` to ``p'`` by one of four schemes:

=================  =======================================  ===========================
scheme             step                                      Markov (``p' >= 0``, mass)
=================  =======================================  ===========================
explicit           ``p' = (I + dt A) p``                     iff ``dt <= 1/max(-A_ii)``
implicit           ``(I - dt A) p' = p`` (backward Euler)    for every ``dt``
crank-nicolson     ``(I - dt A/2) p' = (I + dt A/2) p``      iff ``dt <= 2/max(-A_ii)``
exponential        ``p' = expm(dt A) p`` (uniformisation)    for every ``dt``
split-ppm          Strang-split flux-form sweeps, limited    iff ``dt`` is under the
split-mc           PPM or MC reconstruction                  Courant bound; sub-stepped
=================  =======================================  ===========================

The explicit scheme sub-steps at (or under) the CFL limit; the implicit ones factorise
``I - dt A`` once per distinct step length and reuse the factorisation (each interval between two
times is cut into equal steps of at most ``dt``, so regular observation times need one). With a
time-dependent drift ``A(t)`` is re-assembled per step: at the start (explicit), the end
(implicit) or the midpoint (Crank--Nicolson, exponential) of the step, which keeps each scheme's
order.

The two split schemes (:mod:`pfda.highres`) are second-order, positive and mass-conserving
high-resolution advection for advection-dominated problems (constant diffusion only); they are
nonlinear in ``p``, so they have no generator matrix and use no linear solver (``solver`` and
``flux`` do not apply), and they sub-step under their own positivity bound.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ._warnings import PfdaWarning
from .assembly import cfl_limit, generator
from .grid import Grid
from .models import SDE
from .solvers import LinearSolver, get_solver
from .uniformisation import expm_apply

__all__ = ["SCHEMES", "Propagator", "propagate", "stationary"]

SCHEMES = ("explicit", "implicit", "crank-nicolson", "exponential", "split-ppm", "split-mc")
_ALIASES = {"cn": "crank-nicolson", "backward-euler": "implicit", "expm": "exponential"}


def check_fraction(value) -> float:
    """A step fraction in ``(0, 1]`` (:attr:`Propagator.fraction`)."""
    value = float(value)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"the step fraction must lie in (0, 1], got {value!r}")
    return value


def _check_scheme(scheme: str) -> str:
    scheme = _ALIASES.get(scheme, scheme)
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}: choose one of {', '.join(SCHEMES)}")
    return scheme


class Propagator:
    """Advances cell probabilities of one SDE on one grid with one scheme.

    Parameters
    ----------
    grid, sde : Grid, SDE
    scheme : {"explicit", "implicit", "crank-nicolson", "exponential", "split-ppm", "split-mc"}
    solver : str or solver object
        Linear solver for the implicit schemes (see :func:`pfda.get_solver`); the split
        schemes solve no linear system.
    dt : float, optional
        Largest step. ``None``: the CFL limit for ``explicit``, the positivity limit for the
        split schemes, one step per interval otherwise.
    flux : {"auto", "upwind", "sg"}
        Face flux of the generator (:func:`pfda.generator`).
    solver_options : dict, optional
        Passed to :func:`pfda.get_solver` with ``solver``.
    cache_size : int
        How many prepared (factorised) step matrices to keep.
    """

    def __init__(
        self,
        grid: Grid,
        sde: SDE,
        scheme: str = "implicit",
        solver: str | LinearSolver = "splu",
        dt: float | None = None,
        *,
        flux: str = "auto",
        solver_options: dict | None = None,
        cache_size: int = 8,
    ) -> None:
        self.grid = grid
        self.sde = sde
        self.scheme = _check_scheme(scheme)
        self.flux = flux
        if dt is not None:
            dt = float(dt)
            if not math.isfinite(dt) or dt <= 0:
                raise ValueError(f"dt must be a positive finite step, got {dt!r}")
        self.dt = dt
        self.solver = get_solver(solver, **(solver_options or {}))
        self.conservative = not any(grid.absorbing)
        self._cache: OrderedDict[float, object] = OrderedDict()
        self._cache_size = cache_size
        self._split = None
        self._fraction = 1.0
        self._interval: float | None = None
        if self.scheme.startswith("split-"):  # nonlinear in p: no generator, no solve
            from .highres import SplitPropagator

            self._split = SplitPropagator(grid, sde, self.scheme.removeprefix("split-"), dt)
            self.A = self._limit = None
            return
        self.A = None if sde.time_dependent else generator(grid, sde, flux=flux)
        self._limit = None if self.A is None else cfl_limit(self.A)
        if self.A is not None:
            self._check_step(self.A, dt)

    # -- step control ---------------------------------------------------------------------
    def _check_step(self, A, dt: float | None) -> None:
        if dt is None:
            return
        limit = self._limit if A is self.A else cfl_limit(A)
        if self.scheme == "explicit" and dt > limit:
            raise ValueError(
                f"dt={dt:.3g} exceeds the CFL limit {limit:.3g} of the explicit scheme, so a step "
                "would not be Markov: lower dt, leave dt=None to sub-step at the limit, or use "
                "scheme='implicit'"
            )
        if self.scheme == "crank-nicolson" and dt > 2 * limit:
            warnings.warn(
                f"dt={dt:.3g} exceeds the positivity bound {2 * limit:.3g} of Crank-Nicolson: "
                "probabilities may go negative (they are clipped at 0); lower dt or use "
                "scheme='implicit'",
                PfdaWarning,
                stacklevel=3,
            )

    @property
    def fraction(self) -> float:
        """Every step bound (``dt``, the CFL or positivity limit, or the interval itself when
        nothing else bounds the step) is multiplied by this factor in ``(0, 1]``: ``1/2``
        halves the steps, as the time-error check of :class:`pfda.Filter` does."""
        return self._fraction

    @fraction.setter
    def fraction(self, value: float) -> None:
        self._fraction = check_fraction(value)
        if self._split is not None:
            self._split.fraction = value

    @property
    def interval(self) -> float | None:
        """The step bound where nothing else bounds the step (``None``: the span asked for);
        a caller that takes an interval in pieces sets the whole interval."""
        return self._interval

    @interval.setter
    def interval(self, value: float | None) -> None:
        self._interval = value
        if self._split is not None:
            self._split.interval = value

    def steps(self, t0: float, t1: float) -> tuple[int, float]:
        """Number of equal steps and their length for the interval ``[t0, t1]``."""
        if self._split is not None:
            return self._split.steps(t0, t1)
        span = t1 - t0
        if span < 0:
            raise ValueError(f"cannot propagate backwards in time (t0={t0}, t1={t1})")
        if span == 0:
            return 0, 0.0
        dt = self.dt
        if self.scheme == "explicit":
            if dt is None:
                dt = self._limit
                if dt is None:  # time-dependent: limit of the generator at t0
                    dt = cfl_limit(generator(self.grid, self.sde, t0, flux=self.flux))
        if dt is None or not math.isfinite(dt):
            dt = self._interval or span
        dt *= self._fraction
        n = max(1, math.ceil(span / dt * (1 - 1e-12)))  # 0.1 / 0.01 is one hair above 10
        if self.scheme == "explicit":
            while span / n > dt:  # never above the CFL limit, not even by round-off
                n += 1
        return n, span / n

    # -- one interval -----------------------------------------------------------------------
    def __call__(self, p: np.ndarray, t0: float, t1: float) -> np.ndarray:
        """Propagate ``p`` from ``t0`` to ``t1``; returns a new array."""
        if self._split is not None:
            return self._split(p, t0, t1)
        p = np.array(p, dtype=float)
        if self.scheme == "explicit" and self.A is None and self.dt is None:
            return self._explicit_at_each_limit(p, t0, t1)
        n, h = self.steps(t0, t1)
        for s in range(n):
            p = self._step(p, t0 + s * h, h)
        return p

    # -- the adjoint: T^T of an interval, for the smoother ------------------------------------
    def step_times(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """The ``(start, length)`` of each step that :meth:`__call__` takes over ``[t0, t1]``."""
        if self._split is None and self.scheme == "explicit" and self.A is None and self.dt is None:
            return [(t, h) for t, h, _ in self._explicit_steps(t0, t1)]
        n, h = self.steps(t0, t1)
        return [(t0 + s * h, h) for s in range(n)]

    def adjoint(self, v: np.ndarray, t0: float, t1: float) -> np.ndarray:
        """``T^T v`` with ``T`` the linear map of :meth:`__call__` over ``[t0, t1]`` (its steps
        transposed, in reverse order; the clipping of round-off negatives and the restoring of
        the mass, corrections at round-off, are left out). The backward pass of the smoother:
        ``<T^T v, p> = <v, T p>``.

        Raises
        ------
        ValueError
            For the split schemes, which are nonlinear in ``p`` (their limiters).
        """
        if self._split is not None:
            raise ValueError(
                f"the {self.scheme} scheme is nonlinear in p (its limiters) and has no adjoint: "
                "use a linear scheme (exponential, implicit, crank-nicolson, explicit)"
            )
        v = np.array(v, dtype=float)
        for t, h in reversed(self.step_times(t0, t1)):
            v = self._adjoint_step(v, t, h)
        return v

    def _adjoint_step(self, v: np.ndarray, t: float, h: float) -> np.ndarray:
        scheme, eye = self.scheme, self._identity
        if scheme == "explicit":
            return v + h * (self._generator_at(t).T @ v)
        if scheme == "exponential":
            return expm_apply(self._generator_at(t + 0.5 * h).T, v, h)
        if scheme == "implicit":
            A = self._generator_at(t + h)
            lu = self._prepared(("implicit-adjoint", h),
                                lambda: spla.splu((eye() - h * A).T.tocsc()))  # fmt: skip
            return lu.solve(v)
        A = self._generator_at(t + 0.5 * h)
        lu, right = self._prepared(
            ("crank-nicolson-adjoint", h),
            lambda: (spla.splu((eye() - 0.5 * h * A).T.tocsc()), (eye() + 0.5 * h * A).T.tocsr()),
        )
        return right @ lu.solve(v)

    def _identity(self):
        return sp.identity(self.grid.size, format="csr")

    def _explicit_steps(self, t0: float, t1: float):
        """``(start, length, generator)`` of explicit steps of a time-dependent generator, each
        at (the fraction of) the CFL limit of the generator at its start, where the step is
        assembled: equal steps at the limit at ``t0`` could exceed a later, smaller limit."""
        if t1 < t0:
            raise ValueError(f"cannot propagate backwards in time (t0={t0}, t1={t1})")
        t = t0
        while t < t1:
            A = generator(self.grid, self.sde, t, flux=self.flux)
            h = cfl_limit(A) * self._fraction
            if not math.isfinite(h) or t + h >= t1 - 1e-15 * max(1.0, abs(t1)):
                h = t1 - t
            yield t, h, A
            t = t1 if h == t1 - t else t + h

    def _explicit_at_each_limit(self, p: np.ndarray, t0: float, t1: float) -> np.ndarray:
        for _, h, A in self._explicit_steps(t0, t1):
            p = (A @ p) * h + p
        return p

    def _generator_at(self, t: float):
        if self.A is not None:
            return self.A
        return generator(self.grid, self.sde, t, flux=self.flux)

    def _prepared(self, key: tuple, build):
        """The cached result of ``build()`` for ``key = (scheme, step)``.

        Steps equal to 12 significant digits share an entry, so intervals that differ only by
        round-off (``0.3 - 0.2`` and ``0.2 - 0.1``) reuse one factorisation.
        """
        if self.A is None:
            return build()
        key = (key[0], float(f"{key[1]:.12g}"))
        hit = self._cache.get(key)
        if hit is None:
            hit = build()
            self._cache[key] = hit
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return hit

    def _step(self, p: np.ndarray, t: float, h: float) -> np.ndarray:
        scheme, eye = self.scheme, self._identity

        if scheme == "explicit":
            A = self._generator_at(t)

            def build():
                self._check_step(A, h)
                return (eye() + h * A).tocsr()

            P = self._prepared(("explicit", h), build)
            return P @ p
        if scheme == "exponential":
            A = self._generator_at(t + 0.5 * h)
            return self._clean(expm_apply(A, p, h), p)
        if scheme == "implicit":
            A = self._generator_at(t + h)
            prep = self._prepared(
                ("implicit", h), lambda: self.solver.prepare((eye() - h * A).tocsc())
            )
            return self._clean(prep.solve(p), p)
        A = self._generator_at(t + 0.5 * h)

        def build():
            self._check_step(A, h)
            return self.solver.prepare((eye() - 0.5 * h * A).tocsc()), (eye() + 0.5 * h * A).tocsr()

        prep = self._prepared(("crank-nicolson", h), build)
        return self._clean(prep[0].solve(prep[1] @ p), p)

    def _clean(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Clip round-off negatives; with no absorbing boundary, restore the exact mass."""
        x = np.asarray(x, dtype=float)
        if not np.all(np.isfinite(x)):
            raise FloatingPointError(
                f"the {self.scheme} step produced NaN or inf (solver {self.solver.name!r})"
            )
        x = np.maximum(x, 0.0)
        if self.conservative:
            mass = x.sum()
            if mass > 0:
                x *= p.sum() / mass
        return x


def propagate(
    grid: Grid,
    sde: SDE,
    p: np.ndarray,
    t0: float = 0.0,
    t1: float = 1.0,
    *,
    scheme: str = "implicit",
    dt: float | None = None,
    solver: str | LinearSolver = "splu",
    flux: str = "auto",
) -> np.ndarray:
    """Cell probabilities at ``t1`` from ``p`` at ``t0`` (a one-off :class:`Propagator` call)."""
    p = grid.check_probabilities(p)
    return Propagator(grid, sde, scheme, solver, dt, flux=flux)(p, float(t0), float(t1))


def stationary(
    grid: Grid,
    sde: SDE,
    *,
    solver: str | LinearSolver = "splu",
    flux: str = "auto",
    t: float = 0.0,
) -> np.ndarray:
    """The stationary cell probabilities ``pi``: ``A pi = 0``, ``sum(pi) = 1``.

    One equation of ``A pi = 0`` is redundant (the column sums of ``A`` vanish), so it is
    replaced by the normalisation, which gives a non-singular system when the chain is
    irreducible (every cell reaches every other).
    """
    if any(grid.absorbing):
        raise ValueError(
            "a grid with absorbing boundaries loses mass and has no stationary density: use "
            "reflecting or periodic boundaries"
        )
    A = generator(grid, sde, t, flux=flux).tolil()
    n = grid.size
    A[n - 1, :] = np.ones(n)
    b = np.zeros(n)
    b[n - 1] = 1.0
    try:
        pi = get_solver(solver).prepare(A.tocsc()).solve(b)
    except ValueError as err:
        raise ValueError(
            "the generator is reducible (some cells never reach others), so the stationary "
            "density is not unique: add diffusion or enlarge the grid"
        ) from err
    if not np.all(np.isfinite(pi)):
        raise ValueError("stationary solve returned NaN: the generator is (numerically) reducible")
    pi = np.maximum(pi, 0.0)
    return pi / pi.sum()
