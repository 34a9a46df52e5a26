"""Mesh policies: where the filter's grid lies, and how it follows the posterior.

A mesh is a small policy given to :class:`pfda.Filter`. :class:`Fixed` keeps the grid where it
is. :class:`Window` keeps the grid's *shape* (``grid.cells``) but moves its box and resizes its
cells with the density, so that every cell does work: a posterior much narrower than the
region the state may visit occupies few cells of a grid fixed over that region (on Lorenz-63 a
few tenths of a percent). The filter asks the mesh for the initial grid, and after every
propagation step and before every update whether to shift, zoom or remap.

Target (the window)
    Along axis ``k`` the box ``[a_k, a_k + n_k h_k)`` should cover the hull of
    ``mu_k +- c s_k`` (mean and standard deviation of the marginal, ``c = half_width``; ``s_k``
    includes ``h_k^2 / 12``, the variance of a cell, so a density inside one cell does not
    collapse the window) and of the marginal's support above the ``tail`` mass on either side,
    which keeps minor modes and heavy tails. Its width ``W_k`` is clamped to ``[w_k, L_k]``
    (``min_width``, the domain's length). Where an open edge's outer cells hold more than
    ``EDGE = 1e-4`` of the mass, the density has reached it: that side moves out by a quarter of
    the window (``GROW``) and the window is remapped.

Moves (after every propagation step, and before and after every Bayes update)
    *shift*: while every window width lies in the band ``[W_k / sqrt(rho), rho W_k]`` (``rho``
    is ``remap_ratio``), the box moves by whole cells once its centre is off the target's by
    more than a twentieth of the window. A shift relabels cells: it is exact; the mass of the
    cells that leave the box is dropped and counted.
    *remap*: when some width leaves its band, the box takes its target widths on those axes
    (whole-cell moves on the others) and the cell masses are carried over by the conservative,
    positive, second-order remap of :mod:`pfda.remap`. Each remap smooths the density by about
    a cell's width, which is why shifts do not remap. The band is narrower below the target
    than above it: a window too wide only spends cells, one too narrow brings its open edges
    to ``c / sqrt(rho)`` (4.5) deviations, where they lose mass. Measured on the pendulum of
    ``BENCHMARKS.md`` (56x56) and an OU filter (64 cells, against a fixed grid of the window's
    cell width), the band ``[W / rho, rho W]`` gave 46 remaps, a deviation from the reference
    of 0.0025, and up to 2.6e-4 of the mass lost an interval with errors 9.3 times the fixed
    grid's; this band gives 58 remaps, 0.0024, and 4.6e-5 lost with errors within 1.5 times.
    *zoom*: before an update the window is fitted to the posterior ``p g`` where that only
    narrows it: the likelihood is then resolved on the posterior's scale, and the prior, smooth
    on its own wider scale, is remapped. The prior mass dropped lies where the posterior holds
    less than the tail mass; the evidence increment is taken relative to the prior mass before
    the zoom.
    The box stays inside the domain on non-periodic axes. On a periodic axis it moves freely in
    an unwrapped coordinate and may straddle the seam (its centre is kept inside the domain by
    relabelling whole periods); the drift and the observation function are evaluated at the
    unwrapped coordinates, so they must be periodic in that coordinate, as they are for an
    angle. A box as wide as the period is the whole circle, with periodic faces.

Edges
    An edge of the box inside the domain is *absorbing*: mass that the propagation carries out
    of the box leaves it and is counted in ``FilterResult.mass_lost``. Where the box spans the
    whole domain on an axis it takes the domain's boundary; where it touches a reflecting wall
    of the domain on one side only, the axis is reflecting (one boundary condition per axis).

Steps
    Inside each interval the step count comes from the current box (the scheme's positive or
    CFL step, and no step over which diffusion spreads the density by more than a twentieth of
    the window, ``sqrt(2 D_k tau) <= n_k h_k / 20``) and is re-planned whenever the box moves.

Every decision here is NumPy, the plain twin of a kernel of :mod:`pfda.windowkernels`; with a
split scheme and a time-independent Numba point drift the whole interval is one compiled call.
A box is a ``(3, d)`` array: lower corner, cell widths, boundary codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .grid import Grid
from .remap import remap
from .splitfaces import CODES, PERIODIC
from .windowkernels import EDGE, GROW, SPREAD

__all__ = ["Domain", "Fixed", "Window", "as_mesh"]

NAMES = ("reflecting", "absorbing", "periodic")


@dataclass(frozen=True)
class Fixed:
    """The grid stays where it is: the filter's grid is the mesh at every step."""

    name = "fixed"


@dataclass(frozen=True)
class Window:
    """A grid window that follows the posterior (see the module notes).

    Parameters
    ----------
    half_width : float
        Window half-width in posterior standard deviations (``c``).
    remap_ratio : float
        ``rho > 1``: the window is remapped when it is narrower than its target or wider by more
        than this factor.
    tail : float
        The window keeps the marginal's support above this mass on each side, even beyond
        ``half_width`` deviations (a minor mode, a heavy tail).
    min_width : float or sequence, optional
        Narrowest window per axis; by default ``1e-6`` of the domain's length.
    method : {"auto", "numba", "numpy"}
        ``"numba"``: the compiled decisions, and with a split scheme and a time-independent
        Numba point drift each observation interval in one compiled call; ``"numpy"``: the plain
        twins for every decision (the reference the compiled path is tested against).
    """

    half_width: float = 5.0
    remap_ratio: float = 1.25
    tail: float = 1e-7
    min_width: float | tuple | None = None
    method: str = "auto"
    name: str = field(default="window", init=False)

    def __post_init__(self) -> None:
        hw = float(self.half_width)
        if not math.isfinite(hw) or hw <= 0:
            raise ValueError(f"half_width must be positive and finite, got {self.half_width!r}")
        rho = float(self.remap_ratio)
        if not math.isfinite(rho) or rho <= 1.0:
            raise ValueError(f"remap_ratio must be a finite number > 1, got {self.remap_ratio!r}")
        if not 0.0 <= float(self.tail) < 0.5:
            raise ValueError(f"tail must be in [0, 0.5), got {self.tail!r}")
        if self.method not in ("auto", "numba", "numpy"):
            raise ValueError(f"unknown method {self.method!r}: choose 'auto', 'numba' or 'numpy'")
        if self.min_width is not None and not np.isscalar(self.min_width):
            object.__setattr__(self, "min_width", tuple(float(w) for w in self.min_width))

    def record(self, domain: Domain) -> np.ndarray:
        """The ``(5, d)`` policy record of :mod:`pfda.windowkernels` on ``domain``."""
        d = domain.lower.size
        length = domain.length
        if self.min_width is None:
            mw = 1e-6 * length
        else:
            mw = np.atleast_1d(np.asarray(self.min_width, dtype=float))
            if mw.ndim != 1 or mw.size not in (1, d):
                raise ValueError(
                    f"min_width must be one value or one per axis ({d}), got {self.min_width!r}"
                )
            mw = np.broadcast_to(mw, (d,)).copy()
            if not np.all(np.isfinite(mw)) or np.any(mw <= 0) or np.any(mw > length):
                raise ValueError(
                    "min_width must be positive and at most the domain's length on every axis, "
                    f"got {self.min_width!r}"
                )
        # a shift rebuilds the window's faces: wait until the centre is a twentieth of the
        # window (at least half a cell) off the mean, which leaves 0.9 c deviations on that side
        slack = np.maximum(0.5, domain.cells / 20.0)
        rows = [np.full(d, float(self.half_width)), np.full(d, float(self.tail))]
        rows += [np.full(d, float(self.remap_ratio)), slack, mw]
        return np.array(rows)


def as_mesh(mesh) -> Fixed | Window:
    """A mesh policy from ``"fixed"``, ``"window"`` or a policy object."""
    if mesh is None or mesh == "fixed":
        return Fixed()
    if mesh == "window":
        return Window()
    if isinstance(mesh, Fixed | Window):
        return mesh
    raise ValueError(
        f"unknown mesh {mesh!r}: give 'fixed', 'window', pfda.Fixed() or pfda.Window()"
    )


class Domain:
    """The region a window moves in: the filter grid's box and boundaries, its cell counts."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.lower = np.asarray(grid.lower, dtype=float)
        self.upper = np.asarray(grid.upper, dtype=float)
        self.length = self.upper - self.lower
        # int64 arrays, not tuples: the kernels then compile once for every dimension
        self.cells = np.asarray(grid.cells, dtype=np.int64)
        self.strides = np.asarray(grid.strides, dtype=np.int64)
        self.shape = tuple(int(c) for c in grid.cells)
        self.periodic = np.asarray(grid.periodic)
        codes = [CODES[b] for b in grid.boundary]
        self.record = np.array([self.lower, self.upper, np.asarray(codes, dtype=float)])

    def full(self) -> np.ndarray:
        """The box of the whole domain."""
        return np.array([self.lower, self.length / self.cells, self.record[2]])

    def is_full(self, box: np.ndarray, k: int) -> bool:
        return abs(box[1, k] * self.cells[k] - self.length[k]) <= 1e-12 * self.length[k]

    def boundaries(self, box: np.ndarray) -> None:
        """Set the codes of ``box`` (twin of :func:`~pfda.windowkernels.boundary_codes`): the
        domain's where the box spans it, else absorbing unless the box touches a reflecting
        wall."""
        for k in range(len(self.cells)):
            lo, h = box[0, k], box[1, k]
            hi = lo + h * self.cells[k]
            tol = 1e-9 * h
            own = self.record[2, k]
            if self.is_full(box, k) and (self.periodic[k] or abs(lo - self.lower[k]) <= tol):
                box[2, k] = own
            elif (
                not self.periodic[k]
                and NAMES[int(own)] == "reflecting"
                and (lo <= self.lower[k] + tol or hi >= self.upper[k] - tol)
            ):
                box[2, k] = CODES["reflecting"]
            else:
                box[2, k] = CODES["absorbing"]

    def wrap(self, box: np.ndarray) -> None:
        """Relabel a partial box on a periodic axis by whole periods so its centre lies in the
        domain (twin of :func:`~pfda.windowkernels.wrap_lower`)."""
        for k in range(len(self.cells)):
            if self.periodic[k] and not self.is_full(box, k):
                centre = box[0, k] + 0.5 * self.cells[k] * box[1, k]
                box[0, k] -= math.floor((centre - self.lower[k]) / self.length[k]) * self.length[k]

    def grid_of(self, box: np.ndarray) -> Grid:
        """The grid of ``box`` (on an axis that is the whole circle, the domain's bounds)."""
        names = tuple(NAMES[int(c)] for c in box[2])
        upper = box[0] + box[1] * self.cells
        upper = np.where(box[2] == PERIODIC, self.upper, upper)
        return Grid.trusted(box[0], upper, self.shape, names)

    # -- the window's decisions (NumPy twins of pfda.windowkernels) ----------------------------
    def stats(self, box: np.ndarray, p: np.ndarray, policy: np.ndarray):
        """Target centre, width and whether to grow, per axis (twin of
        :func:`~pfda.windowkernels.window_stats`)."""
        half_width, tail = policy[0, 0], policy[1, 0]
        n = self.shape
        arr = p.reshape(n)
        centre, width, grow = np.empty(len(n)), np.empty(len(n)), np.zeros(len(n), dtype=bool)
        for k, nk in enumerate(n):
            marg = arr.sum(axis=tuple(j for j in range(len(n)) if j != k))
            h, lo_k = box[1, k], box[0, k]
            if box[2, k] == PERIODIC:  # the whole circle: cut it at its emptiest cell
                j0 = int(np.argmin(marg))
                marg, lo_k = np.roll(marg, -j0), lo_k + j0 * h
            x = lo_k + (np.arange(nk) + 0.5) * h
            total = marg.sum()
            mean = (marg * x).sum() / total
            sd = math.sqrt((marg * (x - mean) ** 2).sum() / total + h * h / 12.0)
            cut = tail * total
            above = np.flatnonzero(np.cumsum(marg) > cut)
            below = np.flatnonzero(np.cumsum(marg[::-1]) > cut)
            lo_j = int(above[0]) if above.size else nk - 1
            hi_j = nk - 1 - int(below[0]) if below.size else 0
            lo = min(mean - half_width * sd, lo_k + lo_j * h)
            hi = max(mean + half_width * sd, lo_k + (hi_j + 1) * h)
            if box[2, k] != PERIODIC:  # open edges but at a wall of the domain
                tol, edge, circle = 1e-9 * h, EDGE * total, bool(self.periodic[k])
                if marg[0] > edge and (circle or lo_k > self.lower[k] + tol):
                    lo = min(lo, lo_k - GROW * nk * h)
                    grow[k] = True
                if marg[-1] > edge and (circle or lo_k + nk * h < self.upper[k] - tol):
                    hi = max(hi, lo_k + (1.0 + GROW) * nk * h)
                    grow[k] = True
            centre[k], width[k] = 0.5 * (lo + hi), hi - lo
        return centre, width, grow

    def target(self, box: np.ndarray, stats, policy: np.ndarray) -> tuple[np.ndarray, bool]:
        """The next box and whether it is a remap (twin of
        :func:`~pfda.windowkernels.plan_move`): some width out of its band ``[W, rho W]``, a
        side that must grow, or a periodic axis that becomes the circle."""
        centre, width, grow = stats
        n = self.cells
        rho, slack, min_width = policy[2, 0], policy[3], policy[4]
        width = np.minimum(self.length, np.maximum(min_width, width))
        target_h = width / n
        off = (box[1] > rho * target_h) | (box[1] < target_h / math.sqrt(rho)) | grow
        for k in range(len(n)):
            if self.periodic[k] and width[k] >= self.length[k] and not self.is_full(box, k):
                off[k] = True
        remapped = bool(off.any())
        middle = target_h
        new = np.array([np.empty(len(n)), np.where(off, middle, box[1]), np.zeros(len(n))])
        for k in range(len(n)):
            h = new[1, k]
            span = n[k] * h
            if off[k]:  # centred on the target
                new[0, k] = centre[k] - 0.5 * span
            else:  # whole cells: once the centre is off by more than the slack, or in a remap
                off_centre = (centre[k] - (box[0, k] + 0.5 * span)) / h
                s = float(np.rint(off_centre)) if remapped or abs(off_centre) > slack[k] else 0.0
                if not self.periodic[k]:  # inside the domain
                    lo_cells = math.ceil((self.lower[k] - box[0, k]) / h - 1e-9)
                    hi_cells = math.floor((self.upper[k] - span - box[0, k]) / h + 1e-9)
                    if lo_cells <= hi_cells:
                        s = min(max(s, lo_cells), hi_cells)
                new[0, k] = box[0, k] + s * h
            if self.periodic[k]:
                if span >= self.length[k] * (1 - 1e-12):
                    new[0, k], new[1, k] = self.lower[k], self.length[k] / n[k]
            elif off[k]:
                new[0, k] = min(max(new[0, k], self.lower[k]), self.upper[k] - span)
        self.boundaries(new)
        return new, remapped

    def move(self, p: np.ndarray, box: np.ndarray, new: np.ndarray, remapped: bool):
        """Cell masses of ``p`` carried from ``box`` to ``new``; returns ``(q, mass dropped)``
        (twin of :func:`~pfda.kernels.shift_cells` and :func:`~pfda.windowkernels.remap_window`,
        which also unrolls a periodic axis twice so that one remap covers the seam)."""
        n = self.shape
        if not remapped:
            steps = np.rint((new[0] - box[0]) / box[1]).astype(int)
            if not steps.any():
                return p, 0.0
            q = _shift(p.reshape(n), steps).ravel()
            return q, float(max(p.sum() - q.sum(), 0.0))
        src, src_lower, src_cells = p.reshape(n), box[0].copy(), list(n)
        dst_lower, dst_cells, fold = new[0].copy(), list(n), []
        for k in range(len(n)):
            if not self.periodic[k]:
                continue
            old_full, new_full = self.is_full(box, k), self.is_full(new, k)
            if old_full and not new_full:
                periods = math.floor((new[0, k] - self.lower[k]) / self.length[k])
                src_lower[k] = self.lower[k] + periods * self.length[k]
                src = np.concatenate([src, src], axis=k)
                src_cells[k] = 2 * n[k]
            elif new_full and not old_full:
                periods = math.floor((box[0, k] - self.lower[k]) / self.length[k])
                dst_lower[k] = self.lower[k] + periods * self.length[k]
                dst_cells[k] = 2 * n[k]
                fold.append(k)
        q, _ = remap(src.ravel(), tuple(src_cells), src_lower, box[1], dst_lower, new[1],
                     tuple(dst_cells))  # fmt: skip
        q = q.reshape(dst_cells)
        for k in fold:
            q = np.take(q, np.arange(n[k]), axis=k) + np.take(q, np.arange(n[k], 2 * n[k]), axis=k)
        q = np.ascontiguousarray(q).ravel()
        return q, float(max(p.sum() - q.sum(), 0.0))

    def diffusion_step(self, box: np.ndarray, diffusion: np.ndarray) -> float:
        """Twin of :func:`~pfda.windowkernels.diffusion_step`."""
        tau = math.inf
        for k, D in enumerate(diffusion):
            if D > 0:
                reach = SPREAD * self.cells[k] * box[1, k]
                tau = min(tau, reach * reach / (2.0 * D))
        return tau


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
