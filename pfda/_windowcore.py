"""Compiled core of :class:`pfda.WindowFilter` for the split schemes and Numba point drifts.

One call advances the window's cell masses through the Strang steps of an observation interval
and moves the window by whole cells between them, all inside one compiled function: the faces'
Courant numbers and the positive step (:class:`pfda.highres._Faces`), the sweeps
(:func:`pfda.highres._sweep_kernel`), the window's statistics and its shifts
(:meth:`pfda.window.WindowFilter._stats`, ``_target``). It returns to Python when the interval
ends or when the window must be remapped (rare: :func:`pfda.remap.remap` runs there). Every
decision and every floating-point expression follows the Python path of
:class:`~pfda.WindowFilter` (``method="python"``), its plain twin, so that the two agree to
round-off.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .assembly import _advance, make_face_velocity_kernel
from .highres import UNIFORM_COURANT, _sweep_kernel, equal_steps
from .remap import _EPS, _remap_kernel

REFLECTING, ABSORBING, PERIODIC = 0, 1, 2
CODES = {"reflecting": REFLECTING, "absorbing": ABSORBING, "periodic": PERIODIC}
DONE, REMAP, BAD_DRIFT, BAD_H, NO_SUPPORT = 0, 1, 2, 3, 4
# an outer cell with more than this share of the mass widens the window on its side
EDGE = 1e-4
# ... and that side moves out by this share of the window (a remap)
GROW = 0.25
# within a step diffusion may spread the density by at most this share of the window
SPREAD = 0.05
# Bayes weights summing below this may have lost terms to underflow (each below 2.2e-308):
# they are formed in logs instead
TINY_WEIGHT = 1e-250


@numba.njit(cache=True)
def _axis_faces(vel_up, vel_lo, k, n, stride, h, periodic, absorbing, a, g, a_lo, g_lo):
    """``a = v/h`` and ``g = d_k v_k`` of the upper faces along axis ``k`` and of the lower
    outer face (``a_lo``, ``g_lo`` at the first cell of each line), as ``_Faces`` builds them.
    The cells are visited in memory order (the innermost loop runs over the ``stride``
    neighbouring lines), so a strided axis reads whole cache lines."""
    total = a.shape[0]
    block = stride * n
    v = vel_up[k]
    two_h = 2 * h
    for ob in range(0, total, block):
        for j in range(n):
            row = ob + j * stride
            # one case per row of cells, a plain loop over the stride's lines in it
            if periodic:
                up = ob + ((j + 1) % n) * stride
                down = ob + ((j - 1) % n) * stride
                for r in range(stride):
                    g[row + r] = (v[up + r] - v[down + r]) / two_h
            elif absorbing and j == 0:  # the gradient of [lo, v_0, ..., v_{n-1}] at v_j
                if n == 1:
                    for r in range(stride):
                        g[row + r] = (v[row + r] - vel_lo[k, ob + r]) / h
                else:
                    for r in range(stride):
                        g[row + r] = (v[row + r + stride] - vel_lo[k, ob + r]) / two_h
            elif not absorbing and n == 1:
                for r in range(stride):
                    g[row + r] = 0.0
            elif j == 0:
                for r in range(stride):
                    g[row + r] = (v[row + r + stride] - v[row + r]) / h
            elif j == n - 1:
                for r in range(stride):
                    g[row + r] = (v[row + r] - v[row + r - stride]) / h
            else:
                for r in range(stride):
                    g[row + r] = (v[row + r + stride] - v[row + r - stride]) / two_h
    for i in range(total):
        a[i] = v[i] / h
    for ob in range(0, total, block):  # the ends of each line
        for r in range(stride):
            base = ob + r
            last = base + (n - 1) * stride
            lo = vel_lo[k, base] if absorbing else 0.0
            glo = (v[base] - lo) / h if absorbing else 0.0
            alo = lo / h
            if periodic and n == 1:
                a[base] = 0.0
            elif absorbing:
                a[last] = max(a[last], 0.0)
                alo = min(alo, 0.0)
            elif not periodic:
                a[last] = 0.0
                alo = 0.0
            if periodic:
                alo = a[last]
                glo = g[last]
            a_lo[base] = alo
            g_lo[base] = glo if alo != 0.0 else 0.0
    for i in range(total):
        if a[i] == 0.0:
            g[i] = 0.0


@numba.njit(cache=True)
def _axis_positive_step(a, g, a_lo, g_lo, n, stride, periodic, absorbing, uniform_courant):
    """The largest positive step of the sweeps along one axis (``_Faces.positive_step``);
    ``uniform_courant`` is ``highres.UNIFORM_COURANT``, an argument so that this cached kernel
    cannot keep a stale copy of it."""
    tau = math.inf
    gmax = 0.0
    speed = 0.0  # of the lines of one velocity
    total = a.shape[0]
    block = stride * n
    for b in range(total // n):
        base = (b // stride) * block + b % stride
        if _uniform_line(a, a_lo, base, n, stride, periodic, absorbing):
            speed = max(speed, abs(a[base]))
            continue
        gmax = max(gmax, abs(g_lo[base]))
        for j in range(n):
            i = base + j * stride
            below = a_lo[base] if j == 0 else a[i - stride]
            g_below = g_lo[base] if j == 0 else g[i - stride]
            alpha = (a[i] if a[i] > 0 else 0.0) - (below if below < 0 else 0.0)
            beta = 0.5 * (
                (a[i] * g[i] if a[i] > 0 else 0.0) - (below * g_below if below < 0 else 0.0)
            )
            disc = alpha * alpha - 4.0 * beta
            if alpha > 0 and disc >= 0:
                tau = min(tau, 2.0 / (alpha + math.sqrt(disc)))
            gmax = max(gmax, abs(g[i]))
    if gmax > 0:
        tau = min(tau, 1.0 / gmax)
    if speed > 0:
        tau = min(tau, uniform_courant / speed)
    return tau


@numba.njit(cache=True)
def _uniform_line(a, a_lo, base, n, stride, periodic, absorbing):
    """``highres._uniform_lines`` for one line."""
    if n < 2 or not (periodic or absorbing):
        return False
    v = a[base]
    last = base + (n - 1) * stride
    for j in range(n - 1 if not periodic else n):
        if a[base + j * stride] != v:
            return False
    if a[last] != 0.0 and a[last] != v:
        return False
    return a_lo[base] == 0.0 or a_lo[base] == v


@numba.njit(cache=True)
def _axis_courant(a, g, a_lo, g_lo, tau, n, stride, absorbing, cu, cl):
    total = a.shape[0]
    for i in range(total):
        cu[i] = tau * a[i] * (1.0 - 0.5 * tau * g[i])
        cl[i] = 0.0
    if absorbing:
        block = stride * n
        for b in range(total // n):
            base = (b // stride) * block + b % stride
            cl[base] = tau * a_lo[base] * (1.0 - 0.5 * tau * g_lo[base])


@numba.njit(cache=True)
def _diffusion(D, h, time):
    """``(alpha, steps)`` of explicit diffusion for ``time`` (``SplitPropagator._diffusion``)."""
    if D == 0.0 or time == 0.0:
        return 0.0, 0
    steps = max(1, math.ceil(2.0 * D * time / (h * h)))
    return D * (time / steps) / (2.0 * h * h), steps


@numba.njit(cache=True)
def diffusion_step(widths, cells, diffusion):
    """The longest step over which diffusion spreads by ``SPREAD`` of the window,
    ``sqrt(2 D_k tau) <= SPREAD n_k h_k`` on every axis (``WindowFilter._diffusion_step``)."""
    tau = math.inf
    for k in range(len(cells)):
        if diffusion[k] > 0:
            reach = SPREAD * cells[k] * widths[k]
            tau = min(tau, reach * reach / (2.0 * diffusion[k]))
    return tau


@numba.njit(cache=True)
def window_stats(p, cells, lower, widths, half_width, tail, ratio, codes, dom_lower,
                 dom_upper, dom_codes, marg, out):  # fmt: skip
    """Per axis the window's target centre ``out[0]`` and width ``out[1]`` for ``p`` (before
    the domain's limits), and ``out[2] = 1`` where it must grow (``WindowFilter._stats``): the
    hull of ``mean +- c sd`` and of the marginal's support above the ``tail`` mass on each side
    (on the whole circle from its emptiest cell); a side whose outer cells hold more than
    ``EDGE`` of the mass and is not a wall of the domain moves out by ``GROW`` windows (the
    density has reached an open edge)."""
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
        _next_line(cells, ix)
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
def moments(p, cells, lower, widths, mean, cov):
    """Mean and covariance of ``p`` on the window (``WindowFilter._moments``), in two passes
    (the covariance about the mean), line by line along the last axis: per line only the sums
    of ``p``, ``p y`` and ``p y^2`` in its own coordinate ``y``."""
    d = len(cells)
    n = cells[d - 1]
    last = d - 1
    x0 = lower[last] + 0.5 * widths[last]
    h = widths[last]
    ix = np.zeros(d, dtype=np.int64)
    total = 0.0
    mean[:] = 0.0
    for line in range(p.shape[0] // n):
        base = line * n
        s0 = 0.0
        s1 = 0.0
        for j in range(n):
            s0 += p[base + j]
            s1 += p[base + j] * (x0 + j * h)
        for k in range(last):
            mean[k] += s0 * (lower[k] + (ix[k] + 0.5) * widths[k])
        mean[last] += s1
        total += s0
        _next_line(cells, ix)
    for k in range(d):
        mean[k] /= total
    cov[:, :] = 0.0
    c = np.empty(d)
    ix[:] = 0
    y0 = x0 - mean[last]
    for line in range(p.shape[0] // n):
        base = line * n
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        for j in range(n):
            y = y0 + j * h
            w = p[base + j]
            s0 += w
            s1 += w * y
            s2 += w * y * y
        for k in range(last):
            c[k] = lower[k] + (ix[k] + 0.5) * widths[k] - mean[k]
        for j in range(last):
            for k in range(j, last):
                cov[j, k] += s0 * c[j] * c[k]
            cov[j, last] += s1 * c[j]
        cov[last, last] += s2
        _next_line(cells, ix)
    for j in range(d):
        for k in range(j, d):
            cov[j, k] /= total
    for j in range(d):
        for k in range(j):
            cov[j, k] = cov[k, j]


@numba.njit(cache=True)
def boundary_codes(lower, widths, cells, dom_lower, dom_upper, dom_codes, codes):
    """The window's boundary per axis (``_Domain.boundaries``)."""
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
def plan_move(lower, widths, cells, stats, dom_lower, dom_upper, dom_codes, min_width, ratio,
              slack, new_lower, new_widths):  # fmt: skip
    """The window's next box (``WindowFilter._target``); returns whether it is a remap."""
    d = len(cells)
    remap = False
    for k in range(d):
        length = dom_upper[k] - dom_lower[k]
        width = min(length, max(min_width[k], stats[1, k]))
        target_h = width / cells[k]
        off = widths[k] > ratio * target_h or widths[k] < target_h / ratio or stats[2, k] > 0
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


@numba.njit(inline="always")
def _total(p):
    """``p.sum()`` with four running sums: their additions overlap, where one sum waits on
    each addition's latency (4 cycles a cell)."""
    s0 = s1 = s2 = s3 = 0.0
    n = p.shape[0]
    m = n - n % 4
    for i in range(0, m, 4):
        s0 += p[i]
        s1 += p[i + 1]
        s2 += p[i + 2]
        s3 += p[i + 3]
    for i in range(m, n):
        s0 += p[i]
    return (s0 + s1) + (s2 + s3)


@numba.njit(inline="always")
def _next_line(cells, ix):
    """Step ``ix[:-1]``, the multi-index of a line along the last axis, to the next line."""
    k = len(cells) - 2
    if k < 0:
        return
    ix[k] += 1
    while k > 0 and ix[k] == cells[k]:
        ix[k] = 0
        k -= 1
        ix[k] += 1


@numba.njit(cache=True)
def shift_values(x, out, cells, strides, steps, fill):
    """``out[i] = x[i + steps]`` over the multi-index, ``fill`` where that leaves the array.
    Line by line along the last (contiguous) axis: a line whose source line is inside is one
    offset copy."""
    d = len(cells)
    n = cells[d - 1]
    s = steps[d - 1]
    lo = min(max(0, -s), n)  # cells lo..hi-1 of a line have their source inside it
    hi = max(min(n, n - s), lo)
    ix = np.zeros(d, dtype=np.int64)
    for line in range(x.shape[0] // n):
        base = line * n
        src = 0
        inside = True
        for k in range(d - 1):
            j = ix[k] + steps[k]
            inside = inside and 0 <= j < cells[k]
            src += j * strides[k]
        if inside:
            for j in range(lo):
                out[base + j] = fill
            for j in range(lo, hi):
                out[base + j] = x[src + j + s]
            for j in range(hi, n):
                out[base + j] = fill
        else:
            for j in range(n):
                out[base + j] = fill
        _next_line(cells, ix)


@numba.njit(cache=True)
def shift_cells(p, tmp, cells, strides, steps):
    """``p[i] <- p[i + steps]`` over the multi-index, zero where that leaves the array;
    returns the mass that left."""
    before = _total(p)
    shift_values(p, tmp, cells, strides, steps, 0.0)
    p[:] = tmp
    return max(before - _total(p), 0.0)


@numba.njit(cache=True)
def _edges(x0, h, n, y0, H, N, out):
    """``pfda.remap._edges`` into ``out``; returns whether they are the old faces."""
    scale = max(abs(x0), abs(x0 + n * h), abs(y0), abs(y0 + N * H)) / h
    same = N == n
    for k in range(N + 1):
        e = (y0 - x0) / h + k * (H / h)
        r = np.rint(e)
        if abs(e - r) <= 16.0 * _EPS * (scale + abs(e) + 1.0):
            e = r
        out[k] = e
        same = same and e == k
    return same


@numba.njit(cache=True)
def remap_window(p, tmp, cells, lower, widths, new_lower, new_widths, dom_lower, dom_upper,
                 dom_codes):  # fmt: skip
    """``WindowFilter._move`` for a remap that needs no periodic unrolling (``p`` in place);
    returns ``(done, mass dropped)``, ``done = False`` when a periodic axis changes between
    the whole period and part of it (Python unrolls those)."""
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
        if _edges(src_lower[k], widths[k], n, new_lower[k], new_widths[k], n, e):
            continue
        outer = 1
        for j in range(k):
            outer *= cells[j]
        inner = 1
        for j in range(k + 1, d):
            inner *= cells[j]
        _remap_kernel(src, dst, outer, n, inner, e)
        src, dst = dst, src
    after = 0.0
    for i in range(p.shape[0]):
        after += src[i]
    if src is not p:
        p[:] = src
    return True, max(before - after, 0.0)


@numba.njit(cache=True)
def wrap_lower(lower, widths, cells, dom_lower, dom_upper, dom_codes):
    """Relabel a partial box on a periodic axis by whole periods (``WindowFilter._wrap_box``)."""
    for k in range(len(cells)):
        length = dom_upper[k] - dom_lower[k]
        full = abs(widths[k] * cells[k] - length) <= 1e-12 * length
        if dom_codes[k] == PERIODIC and not full:
            centre = lower[k] + 0.5 * cells[k] * widths[k]
            lower[k] -= math.floor((centre - dom_lower[k]) / length) * length


@numba.njit(cache=True)
def adopt(new_lower, new_widths, cells, dom_lower, dom_upper, dom_codes, lower, widths, codes,
          info):  # fmt: skip
    """After a remap: the new box in place, relabelled by whole periods, its boundaries, the
    faces stale, one more remap counted."""
    for k in range(len(cells)):
        lower[k] = new_lower[k]
        widths[k] = new_widths[k]
    wrap_lower(lower, widths, cells, dom_lower, dom_upper, dom_codes)
    boundary_codes(lower, widths, cells, dom_lower, dom_upper, dom_codes, codes)
    info[1] = 0.0
    info[5] += 1


@numba.njit(cache=True)
def weigh(p, ll, best, w):
    """``w = p g`` up to the factor ``exp(top)``; returns ``top`` (``-inf`` if no cell has
    mass). One exponential per cell, ``w = p exp(log g - best)`` with ``best`` the largest
    ``log g`` on the cells with mass; only where those weights sum below ``TINY_WEIGHT``
    (the prior's mass sits where the likelihood is below ``e^-575`` of its best, so terms
    may have underflowed) are they formed in logs, ``exp(log p + log g - top)``."""
    if not best > -math.inf:
        return -math.inf
    total = 0.0
    for i in range(p.shape[0]):
        w[i] = p[i] * math.exp(ll[i] - best) if p[i] > 0.0 else 0.0
        total += w[i]
    if total >= TINY_WEIGHT:
        return best
    top = -math.inf
    for i in range(p.shape[0]):
        w[i] = math.log(p[i]) + ll[i] if p[i] > 0.0 else -math.inf
        top = max(top, w[i])
    for i in range(p.shape[0]):
        w[i] = math.exp(w[i] - top) if p[i] > 0.0 else 0.0
    return top


@numba.njit(cache=True)
def bayes(p, ll, best, w, prior_total, top):
    """:func:`pfda.update` in place from the log-likelihoods ``ll``, the evidence relative
    to the prior mass ``prior_total``; ``w`` and ``top`` from :func:`weigh` if ``top`` is
    not ``nan`` (else weighed here); returns ``(log evidence increment, status)``."""
    if math.isnan(top):
        top = weigh(p, ll, best, w)
    if not top > -math.inf:
        return math.nan, NO_SUPPORT
    total = _total(w)
    for i in range(p.shape[0]):
        p[i] = w[i] / total
    return top + math.log(total) - math.log(prior_total), DONE


def make_interval_kernel():
    """The compiled interval of a time-independent Numba point drift (one per process)."""
    velocity = make_face_velocity_kernel(False, parallel=False)

    @numba.njit
    def derive(widths, cells, strides, codes, vel_up, vel_lo, a, g, a_lo, g_lo):
        """``a``, ``g`` of every axis from the face velocities; returns the positive step."""
        tau = math.inf
        for k in range(len(cells)):
            _axis_faces(vel_up, vel_lo, k, cells[k], strides[k], widths[k], codes[k] == PERIODIC,
                        codes[k] == ABSORBING, a[k], g[k], a_lo[k], g_lo[k])  # fmt: skip
            tau = min(
                tau,
                _axis_positive_step(
                    a[k],
                    g[k],
                    a_lo[k],
                    g_lo[k],
                    cells[k],
                    strides[k],
                    codes[k] == PERIODIC,
                    codes[k] == ABSORBING,
                    UNIFORM_COURANT,
                ),
            )
        return tau

    @numba.njit
    def faces(f, lower, widths, cells, strides, codes, vel_up, vel_lo, a, g, a_lo, g_lo, frame):
        """The drift at every face, ``a``, ``g``; returns ``(all finite, positive step)``. The
        window's box becomes the frame of later shifts (:func:`shifted_faces`)."""
        ok = velocity(f, 0.0, lower, widths, cells, strides, codes == ABSORBING, vel_up, vel_lo)
        for k in range(len(cells)):
            frame[0, k] = lower[k]
            frame[1, k] = 0.0
        return ok, derive(widths, cells, strides, codes, vel_up, vel_lo, a, g, a_lo, g_lo)

    @numba.njit
    def shifted_faces(f, steps, widths, cells, strides, codes, vel_up, vel_lo, a, g, a_lo, g_lo,
                      frame, tmp):  # fmt: skip
        """:func:`faces` after the window moved by ``steps`` whole cells: the velocities move
        with the cells, and the drift is evaluated only on the faces new to the window and on
        the outer faces of absorbing axes. Their centres are counted in cells from the
        ``frame`` where every face was last evaluated (``frame[0]`` its lower corner,
        ``frame[1]`` the cells moved since), so they are the numbers a whole evaluation of
        that box would give, and a line of one velocity stays one to the last bit."""
        d = len(cells)
        for k in range(d):  # nan marks the faces new to the window
            shift_values(vel_up[k], tmp, cells, strides, steps, np.nan)
            vel_up[k, :] = tmp
            frame[1, k] += steps[k]
        last = d - 1
        n = cells[last]
        ix = np.zeros(d, dtype=np.int64)
        x = np.empty(d)
        ok = True
        for line in range(vel_up.shape[1] // n):  # along the last axis
            outer_line = False
            for k in range(last):
                outer_line = outer_line or (codes[k] == ABSORBING and ix[k] == 0)
            for j in range(n):
                i = line * n + j
                new = math.isnan(vel_up[0, i])
                if not (new or outer_line or (j == 0 and codes[last] == ABSORBING)):
                    continue
                ix[last] = j
                for k in range(d):
                    x[k] = frame[0, k] + (ix[k] + frame[1, k] + 0.5) * widths[k]
                for k in range(d):
                    xk = x[k]
                    if new:
                        x[k] = xk + 0.5 * widths[k]
                        v = f(x)[k]
                        vel_up[k, i] = v
                        ok = ok and math.isfinite(v)
                    if codes[k] == ABSORBING and ix[k] == 0:
                        x[k] = xk - 0.5 * widths[k]
                        v = f(x)[k]
                        vel_lo[k, i] = v
                        ok = ok and math.isfinite(v)
                    x[k] = xk
            _next_line(cells, ix)
        return ok, derive(widths, cells, strides, codes, vel_up, vel_lo, a, g, a_lo, g_lo)

    @numba.njit
    def interval(f, p, t, t_end, adapt_first, cells, strides, lower, widths, codes, ppm,
                 diffusion, dt_max, dom_lower, dom_upper, dom_codes, half_width, tail, ratio,
                 slack, min_width, work, info):  # fmt: skip
        """Advance ``p`` from ``t`` towards ``t_end``; returns ``(t, status)``. ``info``:
        ``[mass lost, faces valid, limit, steps, shifts, remaps]`` (updated in place)."""
        vel_up, vel_lo, a, g, a_lo, g_lo, cu_half, cu_full, cl_half, cl_full, frame, tmp = work
        d = len(cells)
        old_codes = np.empty(d, dtype=np.int64)  # the boundary codes before a shift
        marg = np.empty((d, max(cells)))
        stats = np.empty((3, d))
        new_lower = np.empty(d)
        new_widths = np.empty(d)
        steps = np.zeros(d, dtype=np.int64)
        planned_tau = -1.0
        first = True
        while True:
            if adapt_first or not first:
                if t >= t_end and not first:
                    return t, DONE
                window_stats(p, cells, lower, widths, half_width, tail, ratio, codes,
                             dom_lower, dom_upper, dom_codes, marg, stats)  # fmt: skip
                if plan_move(lower, widths, cells, stats, dom_lower, dom_upper, dom_codes,
                             min_width, ratio, slack, new_lower, new_widths):  # fmt: skip
                    done, dropped = remap_window(p, tmp, cells, lower, widths, new_lower,
                                                 new_widths, dom_lower, dom_upper,
                                                 dom_codes)  # fmt: skip
                    if not done:
                        return t, REMAP
                    info[0] += dropped
                    adopt(new_lower, new_widths, cells, dom_lower, dom_upper, dom_codes, lower,
                          widths, codes, info)  # fmt: skip
                    new_lower[:] = lower  # no shift below
                moved = False
                for k in range(d):
                    steps[k] = np.int64(np.rint((new_lower[k] - lower[k]) / widths[k]))
                    moved = moved or steps[k] != 0
                if moved:
                    info[0] += shift_cells(p, tmp, cells, strides, steps)
                    for k in range(d):
                        lower[k] = new_lower[k]
                        old_codes[k] = codes[k]
                    wrap_lower(lower, widths, cells, dom_lower, dom_upper, dom_codes)
                    boundary_codes(lower, widths, cells, dom_lower, dom_upper, dom_codes, codes)
                    same = True
                    for k in range(d):
                        same = same and codes[k] == old_codes[k]
                    if info[1] == 1.0 and same:  # the faces move with the window
                        ok, limit = shifted_faces(f, steps, widths, cells, strides, codes, vel_up,
                                                  vel_lo, a, g, a_lo, g_lo, frame, tmp)  # fmt: skip
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
                ok, limit = faces(f, lower, widths, cells, strides, codes, vel_up, vel_lo, a, g,
                                  a_lo, g_lo, frame)  # fmt: skip
                if not ok:
                    return t, BAD_DRIFT
                info[1] = 1.0
                info[2] = min(limit, diffusion_step(widths, cells, diffusion))
                planned_tau = -1.0
            n, tau = equal_steps(t_end - t, info[2], dt_max)
            t_next = t_end if n <= 1 else t + tau
            if tau != planned_tau:
                for k in range(d):
                    _axis_courant(a[k], g[k], a_lo[k], g_lo[k], 0.5 * tau, cells[k], strides[k],
                                  codes[k] == ABSORBING, cu_half[k], cl_half[k])  # fmt: skip
                    _axis_courant(a[k], g[k], a_lo[k], g_lo[k], 1.0 * tau, cells[k], strides[k],
                                  codes[k] == ABSORBING, cu_full[k], cl_full[k])  # fmt: skip
                planned_tau = tau
            before = _total(p)
            for s in range(2 * d - 1):  # Strang: 0 .. d-2 halves, d-1 whole, d-2 .. 0 halves
                k = s if s < d else 2 * d - 2 - s
                whole = k == d - 1
                pre = 0.5 if s <= d - 1 else 0.0
                post = 0.5 if s >= d - 1 else 0.0
                alpha_pre, m_pre = _diffusion(diffusion[k], widths[k], pre * tau)
                alpha_post, m_post = _diffusion(diffusion[k], widths[k], post * tau)
                _sweep_kernel(
                    p, cu_full[k] if whole else cu_half[k], cl_full[k] if whole else cl_half[k],
                    cells[k], strides[k], codes[k] == PERIODIC, codes[k] == ABSORBING, ppm,
                    alpha_pre, m_pre, alpha_post, m_post,
                )  # fmt: skip
            info[0] += max(before - _total(p), 0.0)
            info[3] += 1
            t = t_next

    @numba.njit
    def loglik(h, p, y, chol, chol_inv, log_norm, cells, strides, lower, widths, ll, hx, seen):
        """``log g(y | x_i)`` of a Gaussian observation of a Numba point ``h`` at the centres of
        the cells with mass (``-inf`` elsewhere); returns ``(largest value, status)``.

        ``hx[:, i]`` keeps ``h`` at the centre of cell ``i`` of the box ``seen`` (``seen[0]``
        its lower corner, ``seen[1]`` its widths; ``nan`` where not evaluated). Where the
        window has only moved by whole cells since, the values move with the cells and ``h``
        is evaluated only on the cells new to it (the pendulum's window moves in most
        intervals, and its ``h`` costs a sine)."""
        d = len(cells)
        q = y.shape[0]
        steps = np.zeros(d, dtype=np.int64)
        same = True
        for k in range(d):
            moved = (lower[k] - seen[0, k]) / widths[k]
            same = same and widths[k] == seen[1, k] and abs(moved) < 1e9
            if same:
                steps[k] = np.int64(np.rint(moved))
                same = abs(moved - steps[k]) <= 1e-6
        if not same:
            hx[:, :] = np.nan
        elif np.any(steps != 0):
            for a in range(q):
                shift_values(hx[a], ll, cells, strides, steps, np.nan)
                hx[a, :] = ll
        for k in range(d):
            seen[0, k] = lower[k]
            seen[1, k] = widths[k]
        ix = np.zeros(d, dtype=np.int64)
        x = np.empty(d)
        r = np.empty(q)
        best = -math.inf
        for i in range(p.shape[0]):
            ll[i] = -math.inf
            if p[i] > 0.0:
                if math.isnan(hx[0, i]):
                    for k in range(d):
                        x[k] = lower[k] + (ix[k] + 0.5) * widths[k]
                    value = h(x)
                    for a in range(q):
                        hx[a, i] = value[a]
                for a in range(q):
                    r[a] = y[a] - hx[a, i]
                if q == 1:
                    z = r[0] / chol[0, 0]
                    d2 = z * z
                else:
                    d2 = 0.0
                    for a in range(q):
                        z = 0.0
                        for b in range(a + 1):
                            z += chol_inv[a, b] * r[b]
                        d2 += z * z
                value = -0.5 * d2 - 0.5 * log_norm
                if not math.isfinite(value):
                    return math.nan, BAD_H
                ll[i] = value
                best = max(best, value)
            _advance(cells, ix)
        return best, DONE

    @numba.njit
    def zoom(p, ll, best, w, cells, lower, widths, codes, dom_lower, dom_upper, dom_codes,
             half_width, tail, ratio, slack, min_width, tmp, info):  # fmt: skip
        """Before an update: fit the window to the posterior ``p g`` where that only narrows
        it (``WindowFilter._zoom``), remapping the prior in place; returns ``nan`` if it moved,
        else the ``top`` of :func:`weigh`, whose weights ``w`` the update then reuses."""
        d = len(cells)
        top = weigh(p, ll, best, w)
        if not top > -math.inf:
            return top
        marg = np.empty((d, max(cells)))
        stats = np.empty((3, d))
        new_lower = np.empty(d)
        new_widths = np.empty(d)
        window_stats(w, cells, lower, widths, half_width, tail, ratio, codes, dom_lower,
                     dom_upper, dom_codes, marg, stats)  # fmt: skip
        if not plan_move(lower, widths, cells, stats, dom_lower, dom_upper, dom_codes,
                         min_width, ratio, slack, new_lower, new_widths):  # fmt: skip
            return top
        for k in range(d):
            if new_widths[k] > widths[k]:
                return top
        done, _ = remap_window(p, tmp, cells, lower, widths, new_lower, new_widths, dom_lower,
                               dom_upper, dom_codes)  # fmt: skip
        if not done:
            return top
        # the prior mass dropped is where the posterior has less than the tail
        adopt(new_lower, new_widths, cells, dom_lower, dom_upper, dom_codes, lower, widths, codes,
              info)  # fmt: skip
        return math.nan

    @numba.njit
    def run(f, h, times, ys, k, t, adapt_first, k_stop, p, cells, strides, lower, widths, codes,
            ppm, diffusion, dt_max, dom_lower, dom_upper, dom_codes, half_width, tail, ratio,
            slack, min_width, chol, chol_inv, log_norm, work, info, hx, seen, out_p, out_lower,
            out_widths, out_codes, out_mean, out_cov, out_incr, out_lost, out_best,
            out_remaps):  # fmt: skip
        """Filter ``ys[k:k_stop]``: each interval, then the update, moments and records;
        returns ``(k, t, status)`` where it stopped (``DONE`` at ``k_stop``)."""
        ll = np.empty(p.shape[0])
        w = np.empty(p.shape[0])
        tmp = work[-1]
        while k < k_stop:
            t_end = times[k]
            t, status = interval(f, p, t, t_end, adapt_first, cells, strides, lower, widths, codes,
                                 ppm, diffusion, dt_max, dom_lower, dom_upper, dom_codes,
                                 half_width, tail, ratio, slack, min_width, work,
                                 info)  # fmt: skip
            if status != DONE:
                return k, t, status
            best, status = loglik(h, p, ys[k], chol, chol_inv, log_norm, cells, strides, lower,
                                  widths, ll, hx, seen)  # fmt: skip
            if status != DONE:
                return k, t, status
            prior_total = _total(p)
            top = zoom(p, ll, best, w, cells, lower, widths, codes, dom_lower, dom_upper, dom_codes,
                       half_width, tail, ratio, slack, min_width, tmp, info)  # fmt: skip
            if math.isnan(top):  # the window moved: the likelihood on its cells
                best, status = loglik(h, p, ys[k], chol, chol_inv, log_norm, cells, strides,
                                      lower, widths, ll, hx, seen)  # fmt: skip
                if status != DONE:
                    return k, t, status
            out_lost[k] = info[0]
            info[0] = 0.0
            out_remaps[k] = int(info[5])
            info[5] = 0.0
            out_best[k] = best
            incr, status = bayes(p, ll, best, w, prior_total, top)
            if status != DONE:
                return k, t, status
            out_incr[k] = incr
            out_p[k, :] = p
            out_lower[k, :] = lower
            out_widths[k, :] = widths
            out_codes[k, :] = codes
            moments(p, cells, lower, widths, out_mean[k], out_cov[k])
            k += 1
            adapt_first = True
        return k, t, DONE

    return interval, run


_KERNEL = None


def interval_kernel():
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = make_interval_kernel()
    return _KERNEL[0]


def run_kernel():
    interval_kernel()
    return _KERNEL[1]


def work_arrays(d: int, size: int) -> tuple:
    """Scratch of the interval kernel for ``d`` axes and ``size`` cells."""
    z = lambda: np.zeros((d, size))  # noqa: E731
    frame = np.zeros((2, d))  # the box of the last evaluation of every face, cells moved since
    return (z(), z(), z(), z(), z(), z(), z(), z(), z(), z(), frame, np.zeros(size))
