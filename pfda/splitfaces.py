"""The faces of the split schemes, compiled: velocities, Courant numbers, the positive step.

This is the compiled twin of :class:`pfda.highres._Faces` (see the notes of
:mod:`pfda.highres` for the mathematics): per axis, ``a = v / h`` and ``g = d_k v_k`` on the
upper faces of the cells and on the lower outer face of the first cell of each line, the Courant
numbers ``c = tau a (1 - tau g / 2)`` and the largest step for which every sweep is positive.
The face velocities come from a point drift (its address from
:func:`pfda.compiled.point_function`); after the grid moved by whole cells they move with the
cells and only the faces new to the grid are evaluated.

``work`` is the scratch of one grid, from :func:`work_arrays`: ``(faces, frame, tmp)`` with
``faces`` ``(10, d, N)``: ``vel_up, vel_lo, a, g, a_lo, g_lo, cu_half, cu_full, cl_half,
cl_full``; ``frame`` ``(2, d)``: the lower corner of the last whole evaluation and the cells
moved since; ``tmp`` ``(N,)``. A box is ``(3, d)``: lower corner, cell widths, boundary codes.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .assembly import face_velocity_serial
from .compiled import call_point
from .highres import UNIFORM_COURANT
from .kernels import next_line, shift_values

__all__ = [
    "ABSORBING",
    "PERIODIC",
    "REFLECTING",
    "CODES",
    "axis_courant",
    "derive",
    "diffusion_steps",
    "faces",
    "shifted_faces",
    "work_arrays",
]

REFLECTING, ABSORBING, PERIODIC = 0, 1, 2
CODES = {"reflecting": REFLECTING, "absorbing": ABSORBING, "periodic": PERIODIC}


@numba.njit(cache=True)
def axis_faces(vel_up, vel_lo, k, n, stride, h, periodic, absorbing, a, g, a_lo, g_lo):
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
def axis_positive_step(a, g, a_lo, g_lo, n, stride, periodic, absorbing, uniform_courant):
    """The largest positive step of the sweeps along one axis (``highres._Faces.positive_step``);
    ``uniform_courant`` is ``highres.UNIFORM_COURANT``, an argument so that this cached kernel
    cannot keep a stale copy of it."""
    tau = math.inf
    gmax = 0.0
    speed = 0.0  # of the lines of one velocity
    total = a.shape[0]
    block = stride * n
    for b in range(total // n):
        base = (b // stride) * block + b % stride
        if uniform_line(a, a_lo, base, n, stride, periodic, absorbing):
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
def uniform_line(a, a_lo, base, n, stride, periodic, absorbing):
    """``highres._uniform_lines`` for one line (a line of one velocity)."""
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
def axis_courant(a, g, a_lo, g_lo, tau, n, stride, absorbing, cu, cl):
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
def diffusion_steps(D, h, time):
    """``(alpha, steps)`` of explicit diffusion for ``time`` (``SplitPropagator._diffusion``)."""
    if D == 0.0 or time == 0.0:
        return 0.0, 0
    steps = max(1, math.ceil(2.0 * D * time / (h * h)))
    return D * (time / steps) / (2.0 * h * h), steps


@numba.njit(cache=True)
def derive(box, cells, strides, work):
    """``a``, ``g`` of every axis from the face velocities; returns the positive step."""
    fc = work[0]
    vel_up, vel_lo, a, g, a_lo, g_lo = fc[0], fc[1], fc[2], fc[3], fc[4], fc[5]
    widths, codes = box[1], box[2]
    tau = math.inf
    for k in range(len(cells)):
        periodic = codes[k] == PERIODIC
        absorbing = codes[k] == ABSORBING
        axis_faces(vel_up, vel_lo, k, cells[k], strides[k], widths[k], periodic, absorbing, a[k],
                   g[k], a_lo[k], g_lo[k])  # fmt: skip
        step = axis_positive_step(a[k], g[k], a_lo[k], g_lo[k], cells[k], strides[k], periodic,
                                  absorbing, UNIFORM_COURANT)  # fmt: skip
        tau = min(tau, step)
    return tau


@numba.njit(cache=True)
def faces(f, box, cells, strides, work):
    """The drift ``f`` at every face, ``a``, ``g``; returns ``(all finite, positive step)``.
    The box becomes the frame of later shifts (:func:`shifted_faces`)."""
    vel_up, vel_lo, frame = work[0][0], work[0][1], work[1]
    absorbing = np.empty(len(cells), dtype=np.bool_)
    for k in range(len(cells)):
        absorbing[k] = box[2, k] == ABSORBING
        frame[0, k] = box[0, k]
        frame[1, k] = 0.0
    ok = face_velocity_serial(f, 0.0, box[0], box[1], cells, strides, absorbing, vel_up, vel_lo)
    return ok, derive(box, cells, strides, work)


@numba.njit(cache=True)
def shifted_faces(f, steps, box, cells, strides, work):
    """:func:`faces` after the box moved by ``steps`` whole cells: the velocities move with the
    cells, and the drift is evaluated only on the faces new to the box and on the outer faces
    of absorbing axes. Their centres are counted in cells from the ``frame`` where every face
    was last evaluated, so they are the numbers a whole evaluation of that box would give, and
    a line of one velocity stays one to the last bit."""
    vel_up, vel_lo, frame, tmp = work[0][0], work[0][1], work[1], work[2]
    widths, codes = box[1], box[2]
    d = len(cells)
    for k in range(d):  # nan marks the faces new to the box
        shift_values(vel_up[k], tmp, cells, strides, steps, np.nan)
        vel_up[k, :] = tmp
        frame[1, k] += steps[k]
    last = d - 1
    n = cells[last]
    ix = np.zeros(d, dtype=np.int64)
    x = np.empty(d)
    v = np.empty(d)
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
                    call_point(f, x, 0.0, v)
                    vel_up[k, i] = v[k]
                    ok = ok and math.isfinite(v[k])
                if codes[k] == ABSORBING and ix[k] == 0:
                    x[k] = xk - 0.5 * widths[k]
                    call_point(f, x, 0.0, v)
                    vel_lo[k, i] = v[k]
                    ok = ok and math.isfinite(v[k])
                x[k] = xk
        next_line(cells, ix)
    return ok, derive(box, cells, strides, work)


def work_arrays(d: int, size: int) -> tuple:
    """Scratch of the compiled faces and sweeps for ``d`` axes and ``size`` cells."""
    return np.zeros((10, d, size)), np.zeros((2, d)), np.zeros(size)
