"""Compiled decisions of the window mesh, and its compiled observation interval.

The mathematics of every decision is in :mod:`pfda.meshes` (:class:`~pfda.meshes.Window`),
whose NumPy methods are the plain twins of these kernels: the window's target from the
marginals of the density (:func:`window_stats`), the next box (:func:`plan_move`), its
boundaries (:func:`boundary_codes`), the conservative remap (:func:`remap_window`, with the
kernels of :mod:`pfda.remap`), and the zoom before an update (:func:`zoom`).

:func:`observe` is one observation on a window in one call: the interval, the likelihood, the
zoom and the update, composed of the same kernels the filter's loop calls one by one (for a
time-independent Numba point drift and a Gaussian observation of a Numba point ``h``, where the
loop's own overhead would be a fair part of an observation's cost).

:func:`interval` advances the cell masses of a window through the Strang steps of the split
schemes of an observation interval (the sweeps of :mod:`pfda.highres`, the faces of
:mod:`pfda.splitfaces`) and moves the window by whole cells between them, in one call. It
returns to Python when the interval ends or when the window must be remapped across a periodic
seam (rare; the twin does it).

Records (float arrays, so that a kernel takes a few of them):

- ``box`` ``(3, d)``: the window's lower corner, cell widths and boundary codes
  (:data:`pfda.splitfaces.CODES`), updated in place;
- ``domain`` ``(3, d)``: the domain's lower and upper corners and boundary codes;
- ``policy`` ``(5, d)``: half-width, tail mass, remap ratio (each repeated per axis), the slack
  of a shift in cells and the narrowest width;
- ``scheme`` ``(3 + d,)``: ``1`` for PPM (``0`` for MC), the largest step (``0``: none), the
  fraction of every step bound taken (``1``, or ``1/2`` for the finer pass of a time-error
  check) and the diffusion per axis;
- ``info`` ``(6,)``: mass lost, faces valid, step limit, steps, shifts, remaps.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .highres import equal_steps, sweep_kernel
from .kernels import NO_SUPPORT, bayes, moments, next_line, shift_cells, total_mass, weigh
from .likelihood import point_log_likelihood
from .remap import cell_edges, remap_lines
from .splitfaces import (
    ABSORBING,
    PERIODIC,
    REFLECTING,
    axis_courant,
    diffusion_steps,
    faces,
    shifted_faces,
)

__all__ = [
    "BAD_DRIFT",
    "BAD_H",
    "DONE",
    "EDGE",
    "GROW",
    "REMAP",
    "SPREAD",
    "adopt",
    "boundary_codes",
    "diffusion_step",
    "interval",
    "observe",
    "plan_move",
    "remap_window",
    "window_stats",
    "wrap_lower",
    "zoom",
]

DONE, REMAP, BAD_DRIFT, BAD_H = 0, 1, 2, 3
# an outer cell with more than this share of the mass widens the window on its side
EDGE = 1e-4
# ... and that side moves out by this share of the window (a remap)
GROW = 0.25
# within a step diffusion may spread the density by at most this share of the window
SPREAD = 0.05


@numba.njit(cache=True)
def diffusion_step(widths, cells, diffusion):
    """The longest step over which diffusion spreads by ``SPREAD`` of the window,
    ``sqrt(2 D_k tau) <= SPREAD n_k h_k`` on every axis."""
    tau = math.inf
    for k in range(len(cells)):
        if diffusion[k] > 0:
            reach = SPREAD * cells[k] * widths[k]
            tau = min(tau, reach * reach / (2.0 * diffusion[k]))
    return tau


@numba.njit(cache=True)
def window_stats(p, cells, box, domain, policy, marg, out):
    """Per axis the window's target centre ``out[0]`` and width ``out[1]`` for ``p`` (before
    the domain's limits), and ``out[2] = 1`` where it must grow (twin:
    :meth:`pfda.meshes.Domain.stats`): the hull of ``mean +- c sd`` and of the marginal's
    support above the ``tail`` mass on each side (on the whole circle from its emptiest
    cell); a side whose outer cells hold more than
    ``EDGE`` of the mass and is not a wall of the domain moves out by ``GROW`` windows (the
    density has reached an open edge)."""
    lower, widths, codes = box[0], box[1], box[2]
    dom_lower, dom_upper, dom_codes = domain[0], domain[1], domain[2]
    half_width, tail = policy[0, 0], policy[1, 0]
    d = len(cells)
    marg[:, :] = 0.0
    ix = np.zeros(d, dtype=np.int64)
    n = cells[d - 1]
    for line in range(p.shape[0] // n):  # along the last axis: one sum per line
        base = line * n
        total = 0.0
        for j in range(n):
            total += p[base + j]
            marg[d - 1, j] += p[base + j]
        for k in range(d - 1):
            marg[k, ix[k]] += total
        next_line(cells, ix)
    for k in range(d):
        n = cells[k]
        h = widths[k]
        j0 = 0  # the whole circle: cut it at its emptiest cell
        if codes[k] == PERIODIC:
            for j in range(1, n):
                if marg[k, j] < marg[k, j0]:
                    j0 = j
        base = lower[k] + j0 * h
        total = 0.0
        first = 0.0
        for j in range(n):
            m = marg[k, (j0 + j) % n]
            total += m
            first += m * (base + (j + 0.5) * h)
        mean = first / total
        var = 0.0
        for j in range(n):
            x = base + (j + 0.5) * h - mean
            var += marg[k, (j0 + j) % n] * x * x
        sd = math.sqrt(var / total + h * h / 12.0)
        cut = tail * total
        lo_j = 0
        acc = marg[k, j0]
        while lo_j < n - 1 and acc <= cut:
            lo_j += 1
            acc += marg[k, (j0 + lo_j) % n]
        hi_j = n - 1
        acc = marg[k, (j0 + n - 1) % n]
        while hi_j > 0 and acc <= cut:
            hi_j -= 1
            acc += marg[k, (j0 + hi_j) % n]
        lo = min(mean - half_width * sd, base + lo_j * h)
        hi = max(mean + half_width * sd, base + (hi_j + 1) * h)
        if codes[k] != PERIODIC:  # the window's edges are open but at a wall of the domain
            tol = 1e-9 * h
            edge = EDGE * total
            circle = dom_codes[k] == PERIODIC
            grow = False
            if marg[k, 0] > edge and (circle or lower[k] > dom_lower[k] + tol):
                lo = min(lo, lower[k] - GROW * n * h)
                grow = True
            if marg[k, n - 1] > edge and (circle or lower[k] + n * h < dom_upper[k] - tol):
                hi = max(hi, lower[k] + (1.0 + GROW) * n * h)
                grow = True
            out[2, k] = 1.0 if grow else 0.0
        else:
            out[2, k] = 0.0
        out[0, k] = 0.5 * (lo + hi)
        out[1, k] = hi - lo


@numba.njit(cache=True)
def boundary_codes(box, cells, domain):
    """The box's boundary per axis into ``box[2]`` (:meth:`pfda.meshes.Domain.boundaries`)."""
    lower, widths, codes = box[0], box[1], box[2]
    dom_lower, dom_upper, dom_codes = domain[0], domain[1], domain[2]
    for k in range(len(cells)):
        lo = lower[k]
        hi = lo + widths[k] * cells[k]
        length = dom_upper[k] - dom_lower[k]
        tol = 1e-9 * widths[k]
        full = abs(widths[k] * cells[k] - length) <= 1e-12 * length
        periodic = dom_codes[k] == PERIODIC
        if full and (periodic or abs(lo - dom_lower[k]) <= tol):
            codes[k] = dom_codes[k]
        elif (
            not periodic
            and dom_codes[k] == REFLECTING
            and (lo <= dom_lower[k] + tol or hi >= dom_upper[k] - tol)
        ):
            codes[k] = REFLECTING
        else:
            codes[k] = ABSORBING


@numba.njit(cache=True)
def plan_move(box, cells, stats, domain, policy, new):
    """The window's next box into ``new`` (lower corner, widths); returns whether it is a
    remap (twin: :meth:`pfda.meshes.Domain.target`)."""
    lower, widths = box[0], box[1]
    dom_lower, dom_upper, dom_codes = domain[0], domain[1], domain[2]
    ratio, slack, min_width = policy[2, 0], policy[3], policy[4]
    new_lower, new_widths = new[0], new[1]
    d = len(cells)
    remap = False
    for k in range(d):
        length = dom_upper[k] - dom_lower[k]
        width = min(length, max(min_width[k], stats[1, k]))
        target_h = width / cells[k]
        # the band [target / sqrt(ratio), ratio * target] (pfda.meshes): narrower below it
        narrow = widths[k] < target_h / math.sqrt(ratio)
        off = widths[k] > ratio * target_h or narrow or stats[2, k] > 0
        if dom_codes[k] == PERIODIC and width >= length:  # the whole circle
            off = off or abs(widths[k] * cells[k] - length) > 1e-12 * length
        new_widths[k] = target_h if off else widths[k]
        remap = remap or off
    for k in range(d):
        h = new_widths[k]
        n = cells[k]
        span = n * h
        length = dom_upper[k] - dom_lower[k]
        resized = h != widths[k]
        if resized:  # centred on the target
            new_lower[k] = stats[0, k] - 0.5 * span
        else:  # whole cells: once the centre is off by more than the slack, or in a remap
            off_centre = (stats[0, k] - (lower[k] + 0.5 * span)) / h
            s = np.rint(off_centre) if remap or abs(off_centre) > slack[k] else 0.0
            if dom_codes[k] != PERIODIC:  # inside the domain
                lo_cells = math.ceil((dom_lower[k] - lower[k]) / h - 1e-9)
                hi_cells = math.floor((dom_upper[k] - span - lower[k]) / h + 1e-9)
                if lo_cells <= hi_cells:
                    s = min(max(s, lo_cells), hi_cells)
            new_lower[k] = lower[k] + s * h
        if dom_codes[k] == PERIODIC:
            if span >= length * (1 - 1e-12):
                new_lower[k] = dom_lower[k]
                new_widths[k] = length / n
        elif resized:
            new_lower[k] = min(max(new_lower[k], dom_lower[k]), dom_upper[k] - span)
    return remap


@numba.njit(cache=True)
def remap_window(p, tmp, cells, box, new, domain):
    """:meth:`pfda.meshes.Domain.move` for a remap without periodic unrolling (``p`` in place);
    returns ``(done, mass dropped)``, ``done = False`` when a periodic axis changes between
    the whole period and part of it (Python unrolls those)."""
    lower, widths = box[0], box[1]
    new_lower, new_widths = new[0], new[1]
    dom_lower, dom_upper, dom_codes = domain[0], domain[1], domain[2]
    d = len(cells)
    src_lower = np.empty(d)
    for k in range(d):
        src_lower[k] = lower[k]
        if dom_codes[k] != PERIODIC:
            continue
        length = dom_upper[k] - dom_lower[k]
        old_full = abs(widths[k] * cells[k] - length) <= 1e-12 * length
        new_full = abs(new_widths[k] * cells[k] - length) <= 1e-12 * length
        if old_full != new_full:
            return False, 0.0
    before = 0.0
    for i in range(p.shape[0]):
        before += p[i]
    edges = np.empty(max(cells) + 1)
    src, dst = p, tmp
    for k in range(d):
        n = cells[k]
        e = edges[: n + 1]
        if cell_edges(src_lower[k], widths[k], n, new_lower[k], new_widths[k], n, e):
            continue
        outer = 1
        for j in range(k):
            outer *= cells[j]
        inner = 1
        for j in range(k + 1, d):
            inner *= cells[j]
        remap_lines(src, dst, outer, n, inner, e)
        src, dst = dst, src
    after = 0.0
    for i in range(p.shape[0]):
        after += src[i]
    if src is not p:
        p[:] = src
    return True, max(before - after, 0.0)


@numba.njit(cache=True)
def wrap_lower(box, cells, domain):
    """Relabel a partial box on a periodic axis by whole periods (twin:
    :meth:`pfda.meshes.Domain.wrap`)."""
    lower, widths = box[0], box[1]
    dom_lower, dom_upper, dom_codes = domain[0], domain[1], domain[2]
    for k in range(len(cells)):
        length = dom_upper[k] - dom_lower[k]
        full = abs(widths[k] * cells[k] - length) <= 1e-12 * length
        if dom_codes[k] == PERIODIC and not full:
            centre = lower[k] + 0.5 * cells[k] * widths[k]
            lower[k] -= math.floor((centre - dom_lower[k]) / length) * length


@numba.njit(cache=True)
def adopt(new, cells, domain, box, info):
    """After a remap: the new box in place, relabelled by whole periods, its boundaries, the
    faces stale, one more remap counted."""
    for k in range(len(cells)):
        box[0, k] = new[0, k]
        box[1, k] = new[1, k]
    wrap_lower(box, cells, domain)
    boundary_codes(box, cells, domain)
    info[1] = 0.0
    info[5] += 1


@numba.njit(cache=True)
def zoom(p, ll, best, w, cells, box, domain, policy, tmp, info):
    """Before an update: fit the window to the posterior ``p g`` where that only narrows it
    (twin: :meth:`pfda.walkers.WindowWalk.zoom`), remapping the prior in place; returns
    ``nan`` if it moved, else the ``top`` of :func:`pfda.kernels.weigh`."""
    d = len(cells)
    top = weigh(p, ll, best, w)
    if not top > -math.inf:
        return top
    marg = np.empty((d, max(cells)))
    stats = np.empty((3, d))
    new = np.empty((2, d))
    window_stats(w, cells, box, domain, policy, marg, stats)
    if not plan_move(box, cells, stats, domain, policy, new):
        return top
    for k in range(d):
        if new[1, k] > box[1, k]:
            return top
    done, _ = remap_window(p, tmp, cells, box, new, domain)
    if not done:
        return top
    # the prior mass dropped is where the posterior has less than the tail
    adopt(new, cells, domain, box, info)
    return math.nan


@numba.njit(cache=True)
def interval(f, p, t, t_end, adapt_first, cells, strides, box, domain, policy, scheme, work,
             info):  # fmt: skip
    """Advance ``p`` from ``t`` towards ``t_end`` with a point drift ``f``, moving the window
    before each step after the first (and before the first if ``adapt_first``); returns
    ``(t, status)``."""
    faces_, tmp = work[0], work[2]
    a, g, a_lo, g_lo = faces_[2], faces_[3], faces_[4], faces_[5]
    cu_half, cu_full, cl_half, cl_full = faces_[6], faces_[7], faces_[8], faces_[9]
    lower, widths, codes = box[0], box[1], box[2]
    ppm, dt_max, frac = scheme[0] != 0.0, scheme[1], scheme[2]
    diffusion = scheme[3:]
    d = len(cells)
    old_codes = np.empty(d)  # the boundary codes before a shift
    marg = np.empty((d, max(cells)))
    stats = np.empty((3, d))
    new = np.empty((2, d))
    steps = np.zeros(d, dtype=np.int64)
    planned_tau = -1.0
    first = True
    while True:
        if adapt_first or not first:
            if t >= t_end and not first:
                return t, DONE
            window_stats(p, cells, box, domain, policy, marg, stats)
            if plan_move(box, cells, stats, domain, policy, new):
                done, dropped = remap_window(p, tmp, cells, box, new, domain)
                if not done:
                    return t, REMAP
                info[0] += dropped
                adopt(new, cells, domain, box, info)
                new[0, :] = lower  # no shift below
            moved = False
            for k in range(d):
                steps[k] = np.int64(np.rint((new[0, k] - lower[k]) / widths[k]))
                moved = moved or steps[k] != 0
            if moved:
                info[0] += shift_cells(p, tmp, cells, strides, steps)
                for k in range(d):
                    lower[k] = new[0, k]
                    old_codes[k] = codes[k]
                wrap_lower(box, cells, domain)
                boundary_codes(box, cells, domain)
                same = True
                for k in range(d):
                    same = same and codes[k] == old_codes[k]
                if info[1] == 1.0 and same:  # the faces move with the window
                    ok, limit = shifted_faces(f, steps, box, cells, strides, work)
                    if not ok:
                        return t, BAD_DRIFT
                    info[2] = min(limit, diffusion_step(widths, cells, diffusion))
                    planned_tau = -1.0
                else:
                    info[1] = 0.0
                info[4] += 1
        first = False
        if t >= t_end:
            return t, DONE
        if info[1] == 0.0:
            ok, limit = faces(f, box, cells, strides, work)
            if not ok:
                return t, BAD_DRIFT
            info[1] = 1.0
            info[2] = min(limit, diffusion_step(widths, cells, diffusion))
            planned_tau = -1.0
        n, tau = equal_steps(t_end - t, info[2] * frac, dt_max * frac)
        t_next = t_end if n <= 1 else t + tau
        if tau != planned_tau:
            for k in range(d):
                absorbing = codes[k] == ABSORBING
                axis_courant(a[k], g[k], a_lo[k], g_lo[k], 0.5 * tau, cells[k], strides[k],
                             absorbing, cu_half[k], cl_half[k])  # fmt: skip
                axis_courant(a[k], g[k], a_lo[k], g_lo[k], 1.0 * tau, cells[k], strides[k],
                             absorbing, cu_full[k], cl_full[k])  # fmt: skip
            planned_tau = tau
        before = total_mass(p)
        for s in range(2 * d - 1):  # Strang: 0 .. d-2 halves, d-1 whole, d-2 .. 0 halves
            k = s if s < d else 2 * d - 2 - s
            whole = k == d - 1
            pre = 0.5 if s <= d - 1 else 0.0
            post = 0.5 if s >= d - 1 else 0.0
            alpha_pre, m_pre = diffusion_steps(diffusion[k], widths[k], pre * tau)
            alpha_post, m_post = diffusion_steps(diffusion[k], widths[k], post * tau)
            sweep_kernel(
                p, cu_full[k] if whole else cu_half[k], cl_full[k] if whole else cl_half[k],
                cells[k], strides[k], codes[k] == PERIODIC, codes[k] == ABSORBING, ppm,
                alpha_pre, m_pre, alpha_post, m_post,
            )  # fmt: skip
        info[0] += max(before - total_mass(p), 0.0)
        info[3] += 1
        t = t_next


@numba.njit(cache=True)
def observe(f, h, y, t, t_end, adapt_first, p, cells, strides, window, lik, out):
    """One observation on a window: :func:`interval` to ``t_end``, the likelihood
    (:func:`pfda.likelihood.point_log_likelihood`), :func:`zoom` (and the likelihood again on
    the zoomed window), the Bayes update (:func:`pfda.kernels.bayes`) and the moments, in place;
    returns ``(t, status)``. ``window``: ``(box, domain, policy, scheme, work, info)``;
    ``lik``: ``(hx, seen, chol_inv, log_norm, ll, w, tmp)`` (the likelihood's kept values and
    buffers); ``out``: ``(result, mean, cov)`` with ``result`` ``[increment, largest
    log-likelihood, predicted mass]``. ``REMAP`` (from the interval) leaves ``p`` mid-interval
    at ``t``."""
    box, domain, policy, scheme, work, info = window
    hx, seen, chol_inv, log_norm, ll, w, tmp = lik
    result, mean, cov = out
    t, status = interval(f, p, t, t_end, adapt_first, cells, strides, box, domain, policy,
                         scheme, work, info)  # fmt: skip
    if status != DONE:
        return t, status
    prior_total = total_mass(p)
    best, bad = point_log_likelihood(h, y, chol_inv, log_norm, cells, strides, box, p, hx, seen,
                                     ll)  # fmt: skip
    if bad >= 0:
        return t, BAD_H
    top = zoom(p, ll, best, w, cells, box, domain, policy, tmp, info)
    if math.isnan(top):  # the window moved: the likelihood on its cells
        best, bad = point_log_likelihood(h, y, chol_inv, log_norm, cells, strides, box, p, hx,
                                         seen, ll)  # fmt: skip
        if bad >= 0:
            return t, BAD_H
    result[1] = best
    result[2] = prior_total
    incr, status = bayes(p, ll, best, w, prior_total, top)
    if status != DONE:
        return t, NO_SUPPORT
    result[0] = incr
    moments(p, cells, box[0], box[1], mean, cov)
    return t, DONE
