"""The state a filter run carries over each mesh, and how it moves between updates.

A walker holds the cell probabilities ``p`` and the box they live on (``(3, d)``: lower
corner, cell widths, boundary codes; :mod:`pfda.meshes`). The filter's one loop asks it to

- ``advance(t, t_end, adapt_first)``: propagate ``p`` over an observation interval, returning
  the mass lost and the number of remaps;
- ``zoom(ll, best)``: before the update, fit the box to the posterior (a window only);
- ``save()`` and ``restore(state)``: the state before an interval, to take it twice (the
  time-error check of :mod:`pfda.stepcontrol` takes it again with ``fraction`` halved);

and reads ``p``, ``box`` and ``grid`` for the update and the records. :class:`FixedWalk` is
the plain propagator on the filter's grid; :class:`WindowWalk` moves a window, with the NumPy
decisions of :class:`pfda.meshes.Domain` or their compiled twins in :mod:`pfda.windowkernels`.
"""

from __future__ import annotations

import math

import numpy as np

from .grid import Grid
from .highres import equal_steps
from .kernels import update_numpy
from .meshes import Domain, Window
from .propagation import Propagator, check_fraction
from .splitfaces import work_arrays
from .windowkernels import BAD_DRIFT, BAD_H, DONE, REMAP, interval, observe, zoom

__all__ = ["FixedWalk", "WindowWalk", "predict"]

BAD_DRIFT_MESSAGE = "drift returned NaN or inf at a face centre: check the model on the window"


def _prior_on(grid: Grid, prior) -> np.ndarray:
    p = grid.check_probabilities(prior(grid) if callable(prior) else prior, "prior")
    if not p.sum() > 0:
        raise ValueError("the prior has no mass on the grid")
    return p / p.sum()


def predict(
    p: np.ndarray, propagator: Propagator, t0: float, t1: float
) -> tuple[np.ndarray, float]:
    """Prior at ``t1`` from the posterior at ``t0``; returns ``(q, mass_lost)``."""
    q = propagator(p, t0, t1)
    if propagator.conservative:  # reflecting/periodic: the step restores the exact mass
        return q, 0.0
    return q, float(max(p.sum() - q.sum(), 0.0))


class FixedWalk:
    """The filter's grid at every step."""

    def __init__(self, flt, prior) -> None:
        self.grid = flt.grid
        self.domain = Domain(flt.grid)
        self.box = self.domain.full()
        self.propagator = flt.propagator
        self.p = _prior_on(self.grid, prior)

    @property
    def fraction(self) -> float:
        """The fraction of every step bound taken (:attr:`pfda.Propagator.fraction`)."""
        return self.propagator.fraction

    @fraction.setter
    def fraction(self, value: float) -> None:
        self.propagator.fraction = value

    def save(self):
        return self.p.copy()

    def restore(self, state) -> None:
        self.p = state.copy()

    def density_of(self, state) -> np.ndarray:
        """The cell probabilities of a saved state on the current cells."""
        return state

    def advance(self, t: float, t_end: float, adapt_first: bool) -> tuple[float, int]:
        self.p, lost = predict(self.p, self.propagator, t, t_end)
        return lost, 0

    def zoom(self, ll: np.ndarray, best: float) -> bool:
        return False


class WindowWalk:
    """A window over the filter's grid (the domain), moved by ``window``'s policy."""

    def __init__(self, flt, window: Window, prior) -> None:
        self.flt = flt
        self.domain = dom = Domain(flt.grid)
        self.policy = window.record(dom)
        self.compiled = window.method != "numpy"
        sde = flt.sde
        self.fused = (
            self.compiled and flt.scheme.startswith("split-") and sde.jitted
            and not sde.time_dependent
        )  # fmt: skip
        d = dom.lower.size
        self.diffusion = np.zeros(d) if sde.state_dependent_diffusion else sde.constant_diffusion(d)
        self._grid: Grid | None = None
        self._grid_box: bytes | None = None
        self._prop: Propagator | None = None
        self._fraction = 1.0
        self.box, self.p = self._initial(prior)
        self.info = np.zeros(6)
        self._zoom_buffers = (np.empty(flt.grid.size), np.empty(flt.grid.size))
        self._zoom_info = np.zeros(6)
        if self.fused:
            self.work = work_arrays(d, flt.grid.size)
            ppm = float(flt.scheme == "split-ppm")
            self.scheme = np.concatenate([[ppm, flt.dt or 0.0, 1.0], self.diffusion])
            self.drift = sde.point_drift(d)

    # -- the grid of the current box ----------------------------------------------------------
    @property
    def grid(self) -> Grid:
        key = self.box.tobytes()
        if self._grid is None or self._grid_box != key:
            self._grid_box = key
            self._grid = self.domain.grid_of(self.box)
        return self._grid

    def _propagator(self) -> Propagator:
        grid = self.grid
        if self._prop is None or self._prop.grid is not grid:
            f = self.flt
            self._prop = Propagator(grid, f.sde, f.scheme, f.solver, f.dt, flux=f.flux,
                                    solver_options=f.solver_options)  # fmt: skip
        self._prop.fraction = self._fraction
        return self._prop

    # -- taking an interval twice ---------------------------------------------------------------
    @property
    def fraction(self) -> float:
        """The fraction of every step bound taken (as :attr:`pfda.Propagator.fraction`)."""
        return self._fraction

    @fraction.setter
    def fraction(self, value: float) -> None:
        self._fraction = value = check_fraction(value)
        if self.fused:
            self.scheme[2] = value

    def save(self):
        return self.p.copy(), self.box.copy(), self.info.copy()

    def restore(self, state) -> None:
        p, box, info = state
        self.p, self.box = p.copy(), box.copy()
        self.info[:] = info
        self.info[1] = 0.0  # the compiled faces belong to the other pass

    def density_of(self, state) -> np.ndarray:
        """The cell probabilities of a saved state on the current box (remapped if its box
        differs)."""
        p, box, _ = state
        if np.array_equal(box, self.box):
            return p
        dom, box = self.domain, box.copy()
        for k in np.flatnonzero(dom.periodic):  # the same period as the current box
            if not (dom.is_full(box, k) or dom.is_full(self.box, k)):
                box[0, k] += round((self.box[0, k] - box[0, k]) / dom.length[k]) * dom.length[k]
        q, _ = dom.move(p, box, self.box, True)
        return q

    # -- the initial window ---------------------------------------------------------------------
    def _initial(self, prior):
        """The first window and the prior on it: a callable prior is evaluated on the window
        fitted to it (at most three refinements, each on the last window); cell probabilities
        on the domain's grid are carried onto their window by a remap."""
        dom = self.domain
        box = dom.full()
        p = _prior_on(dom.grid, prior)
        if callable(prior):
            for _ in range(3):  # refine: the prior evaluated on its own window
                new, remapped = dom.target(box, dom.stats(box, p, self.policy), self.policy)
                if not remapped:
                    break
                dom.wrap(new)
                box = new
                p = _prior_on(dom.grid_of(box), prior)
            return box, p
        box, p, _, _ = self._adapt(box, p)
        return box, p / p.sum()

    # -- moves --------------------------------------------------------------------------------
    def _adapt(self, box: np.ndarray, p: np.ndarray):
        """Fit the window to ``p``; returns ``(box, p, lost, remapped)``."""
        dom = self.domain
        new, remapped = dom.target(box, dom.stats(box, p, self.policy), self.policy)
        if not remapped and np.array_equal(new[0], box[0]):
            return new, p, 0.0, False
        q, lost = dom.move(p, box, new, remapped)
        dom.wrap(new)
        if not q.sum() > 0:
            raise ValueError("the window lost all mass: increase half_width or min_width")
        return new, q, lost, remapped

    def advance(self, t: float, t_end: float, adapt_first: bool) -> tuple[float, int]:
        """Steps from ``t`` to ``t_end``, fitting the window before each step after the first
        (and before the first if ``adapt_first``); returns ``(mass lost, remaps)``."""
        if self.fused:
            return self._advance_fused(t, t_end, adapt_first)
        lost, remaps, first = 0.0, 0, True
        interval = t_end - t  # the step where nothing bounds it, whatever piece is left
        while True:
            if adapt_first or not first:
                if t >= t_end and not first:
                    break
                self.box, self.p, dropped, re = self._adapt(self.box, self.p)
                lost += dropped
                remaps += re
            first = False
            if t >= t_end:
                break
            prop = self._propagator()
            prop.interval = interval
            n, tau = prop.steps(t, t_end)
            cap = self.domain.diffusion_step(self.box, self.diffusion) * self._fraction
            if tau > cap:  # as the compiled path, which takes the cap into its limit
                n, tau = equal_steps(t_end - t, cap, 0.0)
            t_next = t_end if n <= 1 else t + tau
            q = prop(self.p, t, t_next)
            lost += max(self.p.sum() - q.sum(), 0.0)
            self.p, t = q, t_next
        return lost, remaps

    def _remap_across_seam(self, p: np.ndarray) -> np.ndarray:
        """The remap the compiled interval leaves to the twin (a periodic axis between the
        whole circle and part of it): the new box in place, the faces stale, the loss and the
        remap counted in ``info``; returns the new ``p``."""
        box, p, dropped, remapped = self._adapt(self.box.copy(), p)
        self.box[:] = box
        self.info[0] += dropped
        self.info[1] = 0.0
        self.info[5] += remapped
        return np.ascontiguousarray(p)

    def _advance_fused(self, t: float, t_end: float, adapt_first: bool) -> tuple[float, int]:
        """:meth:`advance` in compiled calls of :func:`pfda.windowkernels.interval`; a remap
        across a periodic seam returns to the twin here."""
        info = self.info
        info[0] = info[5] = 0.0
        p = np.ascontiguousarray(self.p)
        cells = self.domain.cells
        while True:
            t, status = interval(self.drift, p, t, t_end, adapt_first, cells, self.domain.strides,
                                 self.box, self.domain.record, self.policy, self.scheme,
                                 self.work, info)  # fmt: skip
            if status == DONE:
                break
            if status == BAD_DRIFT:
                raise ValueError(BAD_DRIFT_MESSAGE)
            p = self._remap_across_seam(p)
            adapt_first = False
        self.p = p
        return float(info[0]), int(info[5])

    def observer(self, likelihood, q: int):
        """Whether :meth:`observe` serves this run: a compiled interval and a Gaussian
        observation of a Numba point ``h`` with ``q`` outputs."""
        state = likelihood.point_state(q, self.flt.grid.size) if self.fused else None
        if state is None:
            return False
        h, hx, seen, chol_inv, log_norm = state
        N = self.flt.grid.size
        self._observe = (h, (hx, seen, chol_inv, log_norm, np.empty(N), np.empty(N),
                             np.empty(N)), np.zeros(3))  # fmt: skip
        return True

    def observe(self, y, t: float, t_end: float, adapt_first: bool, mean, cov):
        """An interval and the update in one compiled call (:func:`pfda.windowkernels.observe`);
        returns ``(mass lost, remaps, log evidence increment, largest log-likelihood)``."""
        h, lik, result = self._observe
        info = self.info
        info[0] = info[5] = 0.0
        p = self.p
        dom = self.domain
        window = (self.box, dom.record, self.policy, self.scheme, self.work, info)
        while True:
            t, status = observe(self.drift, h, y, t, t_end, adapt_first, p, dom.cells,
                                dom.strides, window, lik, (result, mean, cov))  # fmt: skip
            if status != REMAP:
                break
            p = self._remap_across_seam(p)
            adapt_first = False
        self.p = p
        if status == BAD_DRIFT:
            raise ValueError(BAD_DRIFT_MESSAGE)
        if status == BAD_H:
            raise ValueError("h returned NaN or inf at a cell with predicted mass")
        if status != DONE:  # no support: the same message as the plain loop
            return float(info[0]), int(info[5]), math.nan, float(result[1])
        return float(info[0]), int(info[5]), float(result[0]), float(result[1])

    def zoom(self, ll: np.ndarray, best: float) -> bool:
        """Before the update: fit the window to the posterior ``p g`` where that only narrows
        it; returns whether it moved (the prior is then on the new window)."""
        dom = self.domain
        if self.compiled:
            w, tmp = self._zoom_buffers
            top = zoom(self.p, ll, best, w, dom.cells, self.box, dom.record, self.policy, tmp,
                       self._zoom_info)  # fmt: skip
            if math.isnan(top):
                self.info[1] = 0.0  # the faces are stale
                return True
            return False
        w, _ = update_numpy(self.p, ll)
        if w is None:
            return False
        new, remapped = dom.target(self.box, dom.stats(self.box, w, self.policy), self.policy)
        if not remapped or np.any(new[1] > self.box[1]):
            return False
        for k in range(len(dom.cells)):
            if dom.periodic[k] and dom.is_full(self.box, k) != dom.is_full(new, k):
                return False  # the compiled path leaves these to the next interval
        self.p, _ = dom.move(self.p, self.box, new, True)
        dom.wrap(new)
        self.box = new
        return True
