"""A filter on a grid window that follows the posterior.

A posterior that is narrow compared with the region the state may visit occupies few cells of
a grid fixed over that region: on Lorenz-63 a few tenths of a percent. :class:`WindowFilter`
keeps the grid's *shape* (``grid.cells``) but moves its box and resizes its cells with the
density, so every cell does work.

Target
    Along axis ``k`` the box ``[a_k, a_k + n_k h_k)`` should cover the hull of
    ``mu_k +- c s_k`` (mean and standard deviation of the marginal, ``c = half_width``,
    default 5; ``s_k`` includes ``h_k^2 / 12``, the variance of a cell, so a density inside
    one cell does not collapse the window) and of the marginal's support above the ``tail``
    mass (default ``1e-7``) on either side, which keeps minor modes and heavy tails. Its
    width ``W_k`` is clamped to ``[w_k, L_k]`` (``min_width``, the domain's length).
    Where an open edge's outer cells hold more than ``EDGE = 1e-4`` of the mass, the density
    has reached it: that side moves out by a quarter of the window (``GROW``) and the window
    is remapped.

Moves (after every propagation step, and before and after every Bayes update)
    *shift*: while every cell width is within a factor ``rho`` (``remap_ratio``, default 1.25)
    of its target ``W_k / n_k``, the box moves by whole cells once its centre is off the
    target's by more than a twentieth of the window (a shift re-derives the face velocities
    and their Courant numbers, so it waits). A shift relabels cells: it is exact; the mass of
    the cells that leave the box is dropped and counted.
    *remap*: when some width is off by more than ``rho``, the box takes its target widths on
    those axes (whole-cell moves on the others) and the cell masses are carried over by the
    conservative, positive, second-order remap of :mod:`pfda.remap`. Each remap smooths the
    density by about a cell's width, which is why shifts do not remap.
    *zoom*: before an update the window is fitted to the posterior ``p g`` (prior times
    likelihood) where that only narrows it: the likelihood is then resolved on the posterior's
    scale, and the prior, smooth on its own wider scale, is remapped. The prior mass dropped
    lies where the posterior holds less than the tail mass; the evidence increment is taken
    relative to the prior mass before the zoom.
    The box stays inside the domain on non-periodic axes. On a periodic axis it moves freely
    in an unwrapped coordinate and may straddle the seam (its centre is kept inside the domain
    by relabelling whole periods); the drift and the observation function are evaluated at the
    unwrapped coordinates, so they must be periodic in that coordinate, as they are for an
    angle. A box as wide as the period is the whole circle, with periodic faces.

Edges
    An edge of the box inside the domain is *absorbing*: mass that the propagation carries
    out of the box leaves it and is counted. Where the box spans the whole domain on an axis it
    takes the domain's boundary. Where it touches a reflecting wall of the domain on one side
    only, the axis is reflecting (one boundary condition per axis), so the open side holds its
    mass back instead of losing it. The mass that leaves the window in each observation
    interval is ``WindowResult.mass_lost``; a warning says when it exceeds ``1e-3``.

Propagation and update
    Inside each interval the step count comes from the current box (the scheme's positive or
    CFL step, and no step over which diffusion spreads the density by more than a twentieth of
    the window, ``sqrt(2 D_k tau) <= n_k h_k / 20``) and is re-planned whenever the box
    moves. The update is :func:`pfda.update` on the window's grid, so evidence increments are
    those of the window's predictive density.

Compiled path
    With a split scheme and a time-independent Numba point drift, :mod:`pfda._windowcore` runs
    each interval (steps, shifts, remaps) in one compiled call; if the observation is a
    :class:`~pfda.GaussianObservation` of a Numba point ``h``, the zoom, the update and the
    moments run there too, and the whole filter is one loop. The Python loop here is its plain
    twin: every decision is the same, and the tests compare the two. The compiled path skips
    work the twin repeats: after a shift by whole cells it moves the face velocities and the
    values of ``h`` with the cells and evaluates the drift and ``h`` only on the cells new to
    the window (the faces at centres counted from the box of their last whole evaluation, so
    a line of one velocity stays one to the bit), and it weighs the update with one
    exponential per cell, ``p exp(log g - max log g)`` (in logs only where that underflows).
    The two agree to round-off until a decision at a threshold goes one way in one and the
    other way in the other.
"""

from __future__ import annotations

import math
import sys
import time as _time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import _windowcore as core
from . import diagnostics
from ._warnings import PfdaWarning
from ._windowcore import CODES, EDGE, GROW, SPREAD
from .filter import Filter, _Series, update
from .grid import Grid
from .highres import equal_steps
from .models import SDE, GaussianObservation, Observation
from .propagation import Propagator
from .remap import remap

__all__ = ["WindowFilter", "WindowResult"]

LOSS_WARNING = 1e-3
BAD_DRIFT_MESSAGE = "drift returned NaN or inf at a face centre: check the model on the window"


@dataclass
class _Box:
    """A window: lower corner, cell widths and the boundary per axis."""

    lower: np.ndarray
    widths: np.ndarray
    boundary: tuple[str, ...]


class _Domain:
    """The region the window moves in: ``grid``'s box and boundaries, ``grid.cells`` cells."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.lower = np.asarray(grid.lower, dtype=float)
        self.upper = np.asarray(grid.upper, dtype=float)
        self.length = self.upper - self.lower
        self.cells = np.asarray(grid.cells)
        self.periodic = np.asarray(grid.periodic)
        self.boundary = tuple(grid.boundary)
        self.shape = tuple(int(c) for c in grid.cells)

    def full(self) -> _Box:
        return _Box(self.lower.copy(), self.length / self.cells, self.boundary)

    def is_full(self, box: _Box, k: int) -> bool:
        return abs(box.widths[k] * self.cells[k] - self.length[k]) <= 1e-12 * self.length[k]

    def boundaries(self, box: _Box) -> tuple[str, ...]:
        """Per axis: the domain's where the box spans it, else absorbing unless the box touches
        a reflecting wall."""
        out = []
        for k in range(len(self.cells)):
            lo = box.lower[k]
            hi = lo + box.widths[k] * self.cells[k]
            tol = 1e-9 * box.widths[k]
            if self.is_full(box, k) and (self.periodic[k] or abs(lo - self.lower[k]) <= tol):
                out.append(self.boundary[k])
            elif (
                not self.periodic[k]
                and self.boundary[k] == "reflecting"
                and (lo <= self.lower[k] + tol or hi >= self.upper[k] - tol)
            ):
                out.append("reflecting")
            else:
                out.append("absorbing")
        return tuple(out)

    def grid_of(self, box: _Box) -> Grid:
        upper = box.lower + box.widths * self.cells
        if any(b == "periodic" for b in box.boundary):  # the box is the domain on that axis
            upper = np.where(np.asarray(box.boundary) == "periodic", self.upper, upper)
        return Grid._trusted(box.lower, upper, self.shape, box.boundary)


@dataclass
class _State:
    """What a run carries between intervals."""

    p: np.ndarray
    box: _Box
    grid: Grid | None
    prop: Propagator | None = None
    work: tuple | None = None
    info: np.ndarray | None = None
    lower: np.ndarray | None = None
    widths: np.ndarray | None = None
    codes: np.ndarray | None = None
    consts: tuple | None = None

    def moments(self, p: np.ndarray, box: _Box, mean: np.ndarray, cov: np.ndarray) -> None:
        core.moments(p, self.consts[0], box.lower, box.widths, mean, cov)


def _names(codes) -> tuple[str, ...]:
    return tuple(("reflecting", "absorbing", "periodic")[int(c)] for c in codes)


@dataclass(frozen=True)
class WindowResult(_Series):
    """Output of :meth:`WindowFilter.run`; time series have a leading axis of length ``K``.

    Attributes
    ----------
    domain : Grid
        The region the window moves in (its shape is the window's).
    times : ndarray (K,)
    lower, widths : ndarray (K, d)
        The window's lower corner and cell widths at each update (unwrapped coordinates on a
        periodic axis); :meth:`grid_at` builds the grid.
    boundaries : list of tuple of str
        The window's boundary per axis at each update.
    probabilities : ndarray (K, N)
        Posterior cell probabilities on the window of each update.
    mean : ndarray (K, d)
        Posterior means (wrapped into the domain on periodic axes).
    cov : ndarray (K, d, d)
    log_evidence_increments : ndarray (K,)
    mass_lost : ndarray (K,)
        Mass that left the window (through its edges or in its moves) in each interval.
    remaps : ndarray (K,)
        Number of remaps in each interval (including the one after the update).
    wall_time : float
    """

    domain: Grid
    times: np.ndarray
    lower: np.ndarray
    widths: np.ndarray
    boundaries: list
    probabilities: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    log_evidence_increments: np.ndarray
    mass_lost: np.ndarray
    remaps: np.ndarray
    wall_time: float = field(default=0.0)

    def grid_at(self, k: int) -> Grid:
        """The window's grid at update ``k``."""
        dom = _Domain(self.domain)
        return dom.grid_of(_Box(self.lower[k], self.widths[k], self.boundaries[k]))

    def marginal(self, k: int, axes) -> np.ndarray:
        """Marginal cell probabilities of update ``k`` on ``axes`` (cells of :meth:`grid_at`)."""
        return diagnostics.marginal(self.grid_at(k), self.probabilities[k], axes)


class WindowFilter:
    """Full-density Bayesian filter on a grid window that follows the posterior.

    Parameters
    ----------
    grid : Grid
        The domain: its box bounds the window (on non-periodic axes), its boundaries apply where
        the window reaches them, and ``grid.cells`` is the window's shape.
    sde : SDE
    observation : Observation
    scheme : str
        Any scheme of :class:`pfda.Propagator`; the split high-resolution schemes
        (``"split-ppm"``, the default, and ``"split-mc"``) suit the small cells of a window best.
    solver, dt, flux, solver_options
        As for :class:`pfda.Filter`.
    half_width : float
        Window half-width in posterior standard deviations (``c`` in the module notes).
    remap_ratio : float
        ``rho > 1``: the window is remapped when a cell width is off its target by more than
        this factor.
    tail : float
        The window keeps the marginal's support above this mass on each side, even beyond
        ``half_width`` deviations (a minor mode, a heavy tail).
    min_width : float or sequence, optional
        Narrowest window per axis; by default ``1e-6`` of the domain's length.
    method : {"auto", "numba", "python"}
        ``"numba"``: each observation interval in one compiled call
        (:mod:`pfda._windowcore`); it needs a split scheme, a Numba point drift
        (``@numba.njit``, ``f(x) -> tuple``) that does not depend on time, and a constant
        diffusion. ``"python"``: the plain loop, for every scheme and model, and the twin the
        compiled path is tested against. ``"auto"``: ``"numba"`` where it applies.
    progress : bool, optional
        Progress bar; by default only on an interactive terminal for runs of 50+ steps.

    Examples
    --------
    >>> import numpy as np, pfda
    >>> grid = pfda.Grid(lower=[-10.0], upper=[10.0], cells=[64])
    >>> sde = pfda.SDE(drift=lambda x: -x, diffusion=0.1)
    >>> obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=0.01)
    >>> res = pfda.WindowFilter(grid, sde, obs).run(
    ...     lambda g: pfda.gaussian(g, [1.0], [[0.5]]), times=[0.1, 0.2], ys=[[0.9], [0.8]])
    >>> bool(res.widths[-1, 0] * 64 < 2.0)  # the window hugs the posterior (sd about 0.1)
    True
    """

    def __init__(
        self,
        grid: Grid,
        sde: SDE,
        observation: Observation,
        scheme: str = "split-ppm",
        solver="splu",
        dt: float | None = None,
        *,
        flux: str = "auto",
        solver_options: dict | None = None,
        half_width: float = 5.0,
        remap_ratio: float = 1.25,
        tail: float = 1e-7,
        min_width=None,
        method: str = "auto",
        progress: bool | None = None,
    ) -> None:
        # one validation of the model, the scheme and the solver, on the domain's grid
        self._checker = Filter(
            grid, sde, observation, scheme, solver, dt, flux=flux, solver_options=solver_options
        )
        half_width = float(half_width)
        if not math.isfinite(half_width) or half_width <= 0:
            raise ValueError(f"half_width must be positive and finite, got {half_width!r}")
        remap_ratio = float(remap_ratio)
        if not math.isfinite(remap_ratio) or remap_ratio <= 1.0:
            raise ValueError(f"remap_ratio must be a finite number > 1, got {remap_ratio!r}")
        tail = float(tail)
        if not 0.0 <= tail < 0.5:
            raise ValueError(f"tail must be in [0, 0.5), got {tail!r}")
        self.grid = grid
        self.sde = sde
        self.observation = observation
        self.scheme = self._checker.scheme
        self.tail = tail
        compiled = self.scheme.startswith("split-") and sde.jitted and not sde.time_dependent
        if method not in ("auto", "numba", "python"):
            raise ValueError(f"unknown method {method!r}: choose 'auto', 'numba' or 'python'")
        if method == "numba" and not compiled:
            raise ValueError(
                "method='numba' needs a split scheme and a time-independent Numba point drift "
                "(a function decorated with @numba.njit); use method='python'"
            )
        self.method = "numba" if method == "auto" and compiled else method
        if self.method == "auto":
            self.method = "python"
        self._options = dict(solver=solver, dt=dt, flux=flux, solver_options=solver_options)
        self.half_width = half_width
        self.remap_ratio = remap_ratio
        self._domain = _Domain(grid)
        # a shift rebuilds the window's operator: wait until the centre is a twentieth of the
        # window (at least half a cell) off the mean, which leaves 0.9 c deviations on that side
        self._slack = np.maximum(0.5, np.asarray(grid.cells) / 20.0)
        length = self._domain.length
        if min_width is None:
            self.min_width = 1e-6 * length
        else:
            mw = np.atleast_1d(np.asarray(min_width, dtype=float))
            if mw.ndim != 1 or mw.size not in (1, length.size):
                raise ValueError(
                    f"min_width must be one value or one per axis ({length.size}), got "
                    f"{min_width!r}"
                )
            mw = np.broadcast_to(mw, length.shape).copy()
            if not np.all(np.isfinite(mw)) or np.any(mw <= 0) or np.any(mw > length):
                raise ValueError(
                    "min_width must be positive and at most the domain's length on every axis, "
                    f"got {min_width!r}"
                )
            self.min_width = mw
        self.progress = progress

    # -- the window ---------------------------------------------------------------------------
    def _moments(self, grid: Grid, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of ``p`` on ``grid`` (in the window's coordinates)."""
        w = p / p.sum()
        x = grid.centers
        m = x @ w
        xc = x - m[:, None]
        cov = (xc * w) @ xc.T
        return m, 0.5 * (cov + cov.T)

    def _stats(self, box: _Box, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Target centre and width per axis (before the domain's limits): the hull of
        ``mean +- c sd`` and of the marginal's support above the tail mass on each side (on a
        window that is the whole circle, in the coordinate that starts at its emptiest cell, so
        that a density on the seam is seen whole); a side
        whose outer cells hold more than ``EDGE`` (1e-4) of the mass and is not a wall of the
        domain moves out by ``GROW`` (a quarter) of the window and the window is remapped (the
        density has reached an open edge)."""
        dom = self._domain
        n = tuple(int(c) for c in dom.cells)
        arr = p.reshape(n)
        centre, width, grow = np.empty(len(n)), np.empty(len(n)), np.zeros(len(n), dtype=bool)
        for k, nk in enumerate(n):
            marg = arr.sum(axis=tuple(j for j in range(len(n)) if j != k))
            h, lo_k = box.widths[k], box.lower[k]
            if box.boundary[k] == "periodic":  # the whole circle: cut it at its emptiest cell
                j0 = int(np.argmin(marg))
                marg, lo_k = np.roll(marg, -j0), lo_k + j0 * h
            x = lo_k + (np.arange(nk) + 0.5) * h
            total = marg.sum()
            mean = (marg * x).sum() / total
            sd = math.sqrt((marg * (x - mean) ** 2).sum() / total + h * h / 12.0)
            cut = self.tail * total
            above = np.flatnonzero(np.cumsum(marg) > cut)
            below = np.flatnonzero(np.cumsum(marg[::-1]) > cut)
            lo_j = int(above[0]) if above.size else nk - 1
            hi_j = nk - 1 - int(below[0]) if below.size else 0
            lo = min(mean - self.half_width * sd, lo_k + lo_j * h)
            hi = max(mean + self.half_width * sd, lo_k + (hi_j + 1) * h)
            if box.boundary[k] != "periodic":  # open edges but at a wall of the domain
                tol, edge, circle = 1e-9 * h, EDGE * total, bool(dom.periodic[k])
                if marg[0] > edge and (circle or lo_k > dom.lower[k] + tol):
                    lo = min(lo, lo_k - GROW * nk * h)
                    grow[k] = True
                if marg[-1] > edge and (circle or lo_k + nk * h < dom.upper[k] - tol):
                    hi = max(hi, lo_k + (1.0 + GROW) * nk * h)
                    grow[k] = True
            centre[k], width[k] = 0.5 * (lo + hi), hi - lo
        return centre, width, grow

    def _target(self, box: _Box, centre, width, grow) -> tuple[_Box, bool]:
        """The next box for a density with target ``centre`` and ``width``, and whether it is a
        remap: some cell width off its target by more than ``remap_ratio``, a side that must
        grow (``grow``), or a periodic axis that becomes the whole circle."""
        dom = self._domain
        n = dom.cells
        width = np.minimum(dom.length, np.maximum(self.min_width, width))
        target_h = width / n
        rho = self.remap_ratio
        off = (box.widths > rho * target_h) | (box.widths < target_h / rho) | grow
        for k in range(len(n)):
            if dom.periodic[k] and width[k] >= dom.length[k] and not dom.is_full(box, k):
                off[k] = True
        remap = bool(off.any())
        h = np.where(off, target_h, box.widths)
        lower = np.empty(len(n))
        for k in range(len(n)):
            span = n[k] * h[k]
            if off[k]:  # centred on the target
                lower[k] = centre[k] - 0.5 * span
            else:  # whole cells: once the centre is off by more than the slack, or in a remap
                off_centre = (centre[k] - (box.lower[k] + 0.5 * span)) / h[k]
                s = float(np.rint(off_centre)) if remap or abs(off_centre) > self._slack[k] else 0.0
                if not dom.periodic[k]:  # inside the domain
                    lo_cells = math.ceil((dom.lower[k] - box.lower[k]) / h[k] - 1e-9)
                    hi_cells = math.floor((dom.upper[k] - span - box.lower[k]) / h[k] + 1e-9)
                    if lo_cells <= hi_cells:
                        s = min(max(s, lo_cells), hi_cells)
                lower[k] = box.lower[k] + s * h[k]
            if dom.periodic[k]:
                if span >= dom.length[k] * (1 - 1e-12):
                    lower[k], h[k] = dom.lower[k], dom.length[k] / n[k]
            elif off[k]:
                lower[k] = min(max(lower[k], dom.lower[k]), dom.upper[k] - span)
        new = _Box(lower, h, ())
        new.boundary = dom.boundaries(new)
        return new, remap

    def _move(
        self, p: np.ndarray, box: _Box, new: _Box, remapped: bool
    ) -> tuple[np.ndarray, float]:
        """Cell masses of ``p`` carried from ``box`` to ``new``; returns ``(q, mass dropped)``."""
        dom = self._domain
        n = tuple(int(c) for c in dom.cells)
        if not remapped:
            steps = np.rint((new.lower - box.lower) / box.widths).astype(int)
            if not steps.any():
                return p, 0.0
            q = _shift(p.reshape(n), steps).ravel()
            return q, float(max(p.sum() - q.sum(), 0.0))
        # periodic axes: unroll the whole-period side twice so that one remap covers the seam
        # (a partial box is in the coordinates of the box it came from: no relabelling here)
        src, src_lower, src_cells = p.reshape(n), box.lower.copy(), list(n)
        dst_lower, dst_cells, fold = new.lower.copy(), list(n), []
        for k in range(len(n)):
            if not dom.periodic[k]:
                continue
            old_full, new_full = dom.is_full(box, k), dom.is_full(new, k)
            if old_full and not new_full:
                periods = math.floor((new.lower[k] - dom.lower[k]) / dom.length[k])
                src_lower[k] = dom.lower[k] + periods * dom.length[k]
                src = np.concatenate([src, src], axis=k)
                src_cells[k] = 2 * n[k]
            elif new_full and not old_full:
                periods = math.floor((box.lower[k] - dom.lower[k]) / dom.length[k])
                dst_lower[k] = dom.lower[k] + periods * dom.length[k]
                dst_cells[k] = 2 * n[k]
                fold.append(k)
        q, _ = remap(
            src.ravel(), tuple(src_cells), src_lower, box.widths, dst_lower, new.widths,
            tuple(dst_cells),
        )  # fmt: skip
        q = q.reshape(dst_cells)
        for k in fold:
            q = np.take(q, np.arange(n[k]), axis=k) + np.take(q, np.arange(n[k], 2 * n[k]), axis=k)
        q = np.ascontiguousarray(q).ravel()
        return q, float(max(p.sum() - q.sum(), 0.0))

    def _wrap_box(self, box: _Box) -> None:
        """Relabel a partial box on a periodic axis by whole periods so its centre lies in the
        domain."""
        dom = self._domain
        for k in range(len(dom.cells)):
            if dom.periodic[k] and not dom.is_full(box, k):
                centre = box.lower[k] + 0.5 * dom.cells[k] * box.widths[k]
                box.lower[k] -= math.floor((centre - dom.lower[k]) / dom.length[k]) * dom.length[k]

    def _adapt(self, p: np.ndarray, box: _Box, grid: Grid):
        """Fit the window to ``p``; returns ``(p, box, grid, lost, remapped)``."""
        new, remapped = self._target(box, *self._stats(box, p))
        if not remapped and np.array_equal(new.lower, box.lower):
            if new.boundary == box.boundary:
                return p, box, grid, 0.0, False
            return p, new, self._domain.grid_of(new), 0.0, False
        q, lost = self._move(p, box, new, remapped)
        self._wrap_box(new)
        if not q.sum() > 0:
            raise ValueError("the window lost all mass: increase half_width or min_width")
        return q, new, self._domain.grid_of(new), lost, remapped

    def _propagator(self, grid: Grid) -> Propagator:
        o = self._options
        return Propagator(
            grid, self.sde, self.scheme, o["solver"], o["dt"], flux=o["flux"],
            solver_options=o["solver_options"],
        )  # fmt: skip

    def _initial(self, prior):
        """The first window and the prior on it: a callable prior is evaluated on the window
        fitted to it (at most three refinements, each on the last window); cell probabilities
        on the domain's grid are carried onto their window by a remap."""
        dom = self._domain
        box = dom.full()
        grid = self.grid
        if callable(prior):
            p = grid.check_probabilities(prior(grid), "prior")
            p = p / p.sum()
            for _ in range(3):  # refine: the prior evaluated on its own window
                new, remapped = self._target(box, *self._stats(box, p))
                if not remapped:
                    break
                self._wrap_box(new)
                box, grid = new, dom.grid_of(new)
                p = grid.check_probabilities(prior(grid), "prior")
                if not p.sum() > 0:
                    raise ValueError("the prior has no mass on its window")
                p = p / p.sum()
            return p, box, grid
        p = grid.check_probabilities(prior, "prior")
        p = p / p.sum()
        p, box, grid, _, _ = self._adapt(p, box, grid)
        return p / p.sum(), box, grid

    # -- the filter ---------------------------------------------------------------------------
    def run(self, prior, times, ys, t0: float = 0.0) -> WindowResult:
        """Filter ``ys[k]`` observed at ``times[k]`` from ``prior`` at ``t0``.

        Parameters
        ----------
        prior : array (N,) or callable
            Cell probabilities on ``grid`` (the whole domain), or a function ``grid -> cell
            probabilities`` (e.g. ``lambda g: pfda.gaussian(g, m, C)``), which is evaluated
            on the window fitted to it, so the prior is not first coarsened by the domain grid.
        times : array (K,)
        ys : array (K, p) or (K,)
        t0 : float
        """
        start = _time.perf_counter()
        times, ys = self._checker._check_series(times, ys, float(t0))
        p, box, grid = self._initial(prior)
        state = _State(p, box, grid)
        K, d, N = times.size, self.grid.ndim, self.grid.size
        probs = np.empty((K, N))
        lowers = np.empty((K, d))
        widths = np.empty((K, d))
        bounds = []
        means = np.empty((K, d))
        covs = np.empty((K, d, d))
        incr = np.empty(K)
        lost = np.zeros(K)
        remaps = np.zeros(K, dtype=int)
        if self._compiled_observation():
            codes = np.zeros((K, d), dtype=np.int64)
            out = (probs, lowers, widths, codes, means, covs, incr, lost, remaps)
            self._run_compiled(state, times, ys, float(t0), out)
            bounds = [_names(c) for c in codes]
            return self._result(times, lowers, widths, bounds, probs, means, covs, incr, lost,
                                remaps, start)  # fmt: skip
        advance = self._advance_numba if self.method == "numba" else self._advance_python
        t = float(t0)
        bar = self._bar(K)
        for k in range(K):
            t_end = float(times[k])
            lost[k], remaps[k] = advance(state, t, t_end, k > 0)
            t = t_end
            prior_total = state.p.sum()
            remaps[k] += self._zoom(state, ys[k])
            grid = state.grid
            p, incr[k] = update(state.p, ys[k], self.observation, grid)
            incr[k] += math.log(state.p.sum()) - math.log(prior_total)  # the zoom's drop
            state.p = p
            probs[k], lowers[k], widths[k] = p, state.box.lower, state.box.widths
            bounds.append(state.box.boundary)
            if self.method == "numba":
                state.moments(p, state.box, means[k], covs[k])
            else:
                means[k], covs[k] = self._moments(grid, p)
            if lost[k] > LOSS_WARNING:
                self._warn_loss(k, lost[k])
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return self._result(times, lowers, widths, bounds, probs, means, covs, incr, lost,
                            remaps, start)  # fmt: skip

    def _result(self, times, lowers, widths, bounds, probs, means, covs, incr, lost, remaps,
                start) -> WindowResult:  # fmt: skip
        dom = self._domain
        wrap = dom.periodic
        means[:, wrap] = dom.lower[wrap] + np.mod(
            means[:, wrap] - dom.lower[wrap], dom.length[wrap]
        )
        return WindowResult(
            domain=self.grid,
            times=times,
            lower=lowers,
            widths=widths,
            boundaries=bounds,
            probabilities=probs,
            mean=means,
            cov=covs,
            log_evidence_increments=incr,
            mass_lost=lost,
            remaps=remaps,
            wall_time=_time.perf_counter() - start,
        )

    def _zoom(self, state: _State, y) -> int:
        """Before the update: fit the window to the posterior ``p g`` where that only narrows
        it, so that the likelihood is resolved on the posterior's scale (the prior is smooth on
        its own, wider scale and is remapped); returns the number of remaps (0 or 1). The prior
        mass it drops lies where the posterior has less than the tail mass; the update's
        evidence is taken relative to the prior mass before the zoom."""
        p, box, grid, dom = state.p, state.box, state.grid, self._domain
        mask = p > 0
        if not mask.any():
            return 0
        ll = np.full(p.size, -np.inf)
        ll[mask] = self.observation.log_likelihood_on_grid(y, grid, None if mask.all() else mask)
        log_w = np.full(p.size, -np.inf)
        log_w[mask] = np.log(p[mask]) + ll[mask]
        top = log_w.max()
        if not np.isfinite(top):
            return 0
        new, remapped = self._target(box, *self._stats(box, np.exp(log_w - top)))
        if not remapped or np.any(new.widths > box.widths):
            return 0
        for k in range(len(dom.cells)):
            if dom.periodic[k] and dom.is_full(box, k) != dom.is_full(new, k):
                return 0  # the compiled path leaves these to the next interval
        q, _ = self._move(p, box, new, True)
        self._wrap_box(new)
        state.p, state.box, state.grid = q, new, dom.grid_of(new)
        if state.work is not None:  # the compiled intervals' copy of the window
            state.lower[:], state.widths[:] = new.lower, new.widths
            state.codes[:] = [CODES[b] for b in new.boundary]
            state.info[1] = 0.0
        return 1

    def _diffusion_step(self, box: _Box) -> float:
        """The longest step over which diffusion spreads the density by ``SPREAD`` (a
        twentieth) of the window, ``sqrt(2 D_k tau) <= SPREAD n_k h_k``: the window is refitted
        between steps, so it keeps up with a spreading density (a state-dependent diffusion
        sets no cap)."""
        if self.sde.state_dependent_diffusion:
            return math.inf
        D = self.sde.constant_diffusion(self.grid.ndim)
        tau = math.inf
        for k in range(self.grid.ndim):
            if D[k] > 0:
                reach = SPREAD * self._domain.cells[k] * box.widths[k]
                tau = min(tau, reach * reach / (2.0 * D[k]))
        return tau

    def _advance_python(self, state: _State, t: float, t_end: float, adapt_first: bool):
        """Steps from ``t`` to ``t_end``, fitting the window before each step after the first
        (and before the first if ``adapt_first``); returns ``(mass lost, remaps)``."""
        lost, remaps, first = 0.0, 0, True
        if state.prop is None or state.prop.grid is not state.grid:
            state.prop = self._propagator(state.grid)
        while True:
            if adapt_first or not first:
                if t >= t_end and not first:
                    break
                state.p, state.box, state.grid, dropped, re = self._adapt(
                    state.p, state.box, state.grid
                )
                lost += dropped
                remaps += re
                if state.prop.grid is not state.grid:
                    state.prop = self._propagator(state.grid)
            first = False
            if t >= t_end:
                break
            n, tau = state.prop.steps(t, t_end)
            cap = self._diffusion_step(state.box)
            if tau > cap:  # as the compiled path, which takes the cap into its limit
                n, tau = equal_steps(t_end - t, cap, 0.0)
            t_next = t_end if n <= 1 else t + tau
            q = state.prop(state.p, t, t_next)
            lost += max(state.p.sum() - q.sum(), 0.0)
            state.p, t = q, t_next
        return lost, remaps

    def _numba_setup(self, state: _State) -> None:
        """The compiled path's arrays: the window in place, the constants, the scratch."""
        if state.work is not None:
            return
        dom = self._domain
        d = len(dom.cells)
        state.work = core.work_arrays(d, self.grid.size)
        state.info = np.zeros(6)
        state.lower = state.box.lower.copy()
        state.widths = state.box.widths.copy()
        state.codes = np.array([CODES[b] for b in state.box.boundary], dtype=np.int64)
        state.consts = (
            dom.shape,
            tuple(int(s) for s in self.grid.strides),
            self.scheme == "split-ppm",
            np.asarray(self.sde.constant_diffusion(d), dtype=float),
            float(self._options["dt"] or 0.0),
            dom.lower,
            dom.upper,
            np.array([CODES[b] for b in dom.boundary], dtype=np.int64),
        )

    def _remap_arrays(self, state: _State, p: np.ndarray) -> np.ndarray:
        """After the compiled path stopped for a remap: remap ``p`` in Python and write the new
        window into the kernel's arrays; returns the new ``p``."""
        box = _Box(state.lower.copy(), state.widths.copy(), _names(state.codes))
        p, box, _, dropped, remapped = self._adapt(p, box, None)
        state.info[0] += dropped
        state.info[5] += remapped
        state.lower[:], state.widths[:] = box.lower, box.widths
        state.codes[:] = [CODES[b] for b in box.boundary]
        state.info[1] = 0.0  # the faces are stale
        return np.ascontiguousarray(p)

    def _compiled_observation(self) -> bool:
        """Whether the update can run inside the compiled path too: a Gaussian observation of
        a Numba point ``h`` whose likelihood is not redefined by a subclass."""
        obs = self.observation
        return (
            self.method == "numba"
            and isinstance(obs, GaussianObservation)
            and obs.jitted
            and obs._reuses_h_on_grid
        )

    def _run_compiled(self, state: _State, times: np.ndarray, ys: np.ndarray, t0: float, out):
        """Every interval and update in the compiled kernel; Python only remaps (rarely)."""
        self._numba_setup(state)
        obs = self.observation
        q = ys.shape[1]
        factor = obs._factor(q)
        chol = np.ascontiguousarray(factor.chol, dtype=float)
        chol_inv = np.ascontiguousarray(np.atleast_2d(factor.chol_inv), dtype=float)
        probs, lowers, widths, codes, means, covs, incr, lost, remaps = out
        best = np.full(times.size, -np.inf)
        kernel = core.run_kernel()
        K = times.size
        hx = np.full((q, self.grid.size), np.nan)  # h on the window's cells
        seen = np.zeros((2, self.grid.ndim))  # and the box it was evaluated on
        chunk = K if not self._show_progress(K) else max(1, K // 100)
        bar = self._bar(K)
        k, t, adapt_first = 0, float(t0), False
        p = np.ascontiguousarray(state.p, dtype=float)
        while k < K:
            stop = min(K, k + chunk)
            k_new, t, status = kernel(
                self.sde.drift, obs.h, times, ys, k, t, adapt_first, stop, p, *state.consts[:2],
                state.lower, state.widths, state.codes, *state.consts[2:], self.half_width,
                self.tail, self.remap_ratio, self._slack, self.min_width, chol, chol_inv,
                factor.log_norm, state.work, state.info, hx, seen, probs, lowers, widths, codes,
                means, covs, incr, lost, best, remaps,
            )  # fmt: skip
            if bar is not None:
                bar.update(k_new - k)
            self._warn_steps(k, k_new, ys, lost, best)
            k = k_new
            if status == core.DONE:
                adapt_first = True
                continue
            adapt_first = False
            if status == core.REMAP:
                p = self._remap_arrays(state, p)
            elif status == core.BAD_DRIFT:
                raise ValueError(BAD_DRIFT_MESSAGE)
            elif status == core.BAD_H:
                raise ValueError("h returned NaN or inf at a cell with predicted mass")
            else:
                update(
                    p,
                    ys[k],
                    obs,
                    self._domain.grid_of(_Box(state.lower, state.widths, _names(state.codes))),
                )  # raises
                raise AssertionError("unreachable")  # pragma: no cover
        if bar is not None:
            bar.close()

    def _warn_steps(self, k0: int, k1: int, ys, lost, best) -> None:
        for k in range(k0, k1):
            message = self.observation.support_warning(ys[k], float(best[k]))
            if message:
                warnings.warn(message, PfdaWarning, stacklevel=4)
            if lost[k] > LOSS_WARNING:
                self._warn_loss(k, lost[k])

    def _warn_loss(self, k: int, lost: float) -> None:
        warnings.warn(
            f"the window lost {lost:.2g} of the mass before update {k}: increase half_width",
            PfdaWarning,
            stacklevel=4,
        )

    def _advance_numba(self, state: _State, t: float, t_end: float, adapt_first: bool):
        """The compiled twin of :meth:`_advance_python` (split schemes, Numba point drifts)."""
        self._numba_setup(state)
        dom = self._domain
        cells, strides, ppm, diffusion, dt_max, dom_lower, dom_upper, dom_codes = state.consts
        kernel = core.interval_kernel()
        info = state.info
        info[0] = info[5] = 0.0
        p = np.ascontiguousarray(state.p)
        lower, widths, codes = state.lower, state.widths, state.codes
        shifts = info[4]
        while True:
            t, status = kernel(
                self.sde.drift, p, t, t_end, adapt_first, cells, strides, lower, widths, codes,
                ppm, diffusion, dt_max, dom_lower, dom_upper, dom_codes, self.half_width,
                self.tail, self.remap_ratio, self._slack, self.min_width, state.work, info,
            )  # fmt: skip
            if status == core.DONE:
                break
            if status == core.BAD_DRIFT:
                raise ValueError(BAD_DRIFT_MESSAGE)
            p = self._remap_arrays(state, p)
            adapt_first = False
        if info[4] != shifts or info[5]:
            state.box = _Box(lower.copy(), widths.copy(), _names(codes))
            state.grid = dom.grid_of(state.box)
        state.p = p
        return float(info[0]), int(info[5])

    def _show_progress(self, K: int) -> bool:
        show = self.progress
        if show is None:
            show = K >= 50 and sys.stderr.isatty()
        return bool(show)

    def _bar(self, K: int):
        if not self._show_progress(K):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=K, desc=f"pfda window {self.scheme}", unit="obs", leave=False)


def _shift(a: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``out[i] = a[i + steps]`` (zero where ``i + steps`` is outside the array)."""
    out = np.zeros_like(a)
    src, dst = [], []
    for s, n in zip(steps, a.shape, strict=True):
        s = int(s)
        if abs(s) >= n:
            return out
        src.append(slice(max(s, 0), n + min(s, 0)))
        dst.append(slice(max(-s, 0), n - max(s, 0)))
    out[tuple(dst)] = a[tuple(src)]
    return out
