"""High-resolution split advection: positive, mass-conserving and second order.

The linear schemes of :mod:`pfda.propagation` use a first-order upwind flux on every axis
without diffusion, whose numerical diffusion ``|v| h / 2`` smears advection-dominated densities.
The schemes here (``"split-ppm"``, ``"split-mc"``) are nonlinear in ``p`` (limited
reconstructions), so they have no matrix and need no linear solver.

Dimension splitting (Strang)
    One step of length ``tau`` composes one-dimensional sweeps ``S_k`` along the axes,

    .. math:: S_0(\\tau/2) \\cdots S_{d-2}(\\tau/2)\\, S_{d-1}(\\tau)\\,
              S_{d-2}(\\tau/2) \\cdots S_0(\\tau/2),

    which is second order in ``tau`` (symmetric). Within a step interval the trailing and the
    leading half sweep of axis 0 merge into one full sweep when that axis has no diffusion. Each
    ``S_k`` solves ``rho_t + d_k(f_k rho) = d_k^2(D_kk rho) / 2`` on every grid line along axis
    ``k`` (the other coordinates are fixed on a line): diffusion for ``tau/2``, advection for
    ``tau``, diffusion for ``tau/2`` in the middle sweep, diffusion before advection in the
    forward half sweeps and after it in the backward ones, so that the whole composition is
    Strang's of the ``2d`` operators ``[D_0, A_0, ..., D_{d-1}, A_{d-1}]``.

Flux-form advection (one line, cell masses ``p_i``, width ``h``)
    ``p_i' = p_i + F_{i-1/2} - F_{i+1/2}``: mass leaves one cell exactly as it enters the next,
    so the sweep conserves mass to round-off. ``F`` is the mass of the upwind cell's
    reconstruction on the part of the cell that crosses the face in ``tau``: with the Courant
    number ``c`` of the face, the last ``c`` of cell ``i`` if ``c > 0``, the first ``|c|`` of cell
    ``i + 1`` (counted negative) if ``c < 0``. With the cell's reconstruction ``a(xi)``,
    ``xi in [0, 1]``, edge values ``a_L = p + d_L``, ``a_R = p + d_R`` and curvature
    ``a_6 = -3 (d_L + d_R)``, the two integrals are

    .. math:: F^+(c) = c\\,[a_R - \\tfrac{c}{2}(\\Delta a - (1 - \\tfrac{2c}{3}) a_6)], \\qquad
              F^-(c) = c\\,[a_L + \\tfrac{c}{2}(\\Delta a + (1 - \\tfrac{2c}{3}) a_6)],

    ``Delta a = a_R - a_L``.

Reconstructions
    ``"mc"``: linear, with the monotonized-central slope
    ``s_i = minmod(2 (p_i - p_{i-1}), (p_{i+1} - p_{i-1}) / 2, 2 (p_{i+1} - p_i))``
    (``0`` at an extremum) and ``d_L = -s/2``, ``d_R = s/2``, ``a_6 = 0``.
    ``"ppm"`` (Colella and Woodward, J. Comput. Phys. 54, 1984): face values
    ``a_{i+1/2} = (p_i + p_{i+1})/2 - (s_{i+1} - s_i)/6`` from the MC slopes (they lie between
    ``p_i`` and ``p_{i+1}``), then the monotonicity limiter: at a local extremum,
    ``d_L d_R >= 0``, the parabola is flat (``d_L = d_R = 0``); if ``|d_L| > 2|d_R|`` then
    ``d_L = -2 d_R`` (``a_L = 3p - 2a_R``), if ``|d_R| > 2|d_L|`` then ``d_R = -2 d_L``. Both
    reconstructions are monotone in the cell and take values between neighbouring cell values,
    so they are non-negative where ``p`` is.

Courant numbers
    From the drift's normal component at the face centres (:func:`pfda.assembly.face_velocities`,
    the faces the generator uses; a time-dependent drift at the step's midpoint). With a drift
    that varies along the line, the mass crossing a face in ``tau`` lies between the face and
    its departure point, ``tau v (1 - tau d_k v_k / 2) + O(tau^3)`` upstream; so

    .. math:: c = \\frac{\\tau v}{h} \\Big(1 - \\frac{\\tau}{2} \\partial_k v_k\\Big),

    ``d_k v_k`` by central differences of the face velocities along the line (one-sided at a
    wall). Without this correction the sweep is first order in time wherever ``v`` varies.

Boundaries
    reflecting: zero flux through the outer faces; periodic: the face between the last and the
    first cell is shared; absorbing: outflow through the outer faces leaves the grid and inflow
    is zero (the mass is gone; the caller measures the loss), with zero density outside for the
    diffusion, as in the generator. On non-periodic axes the reconstruction of the two outer
    cells on each side uses mirror-image ghost cells.

Positivity (the Courant bound)
    A cell's outflow is the integral of its non-negative reconstruction over the parts of the
    cell that cross its faces; these parts are disjoint and within the cell when

    .. math:: \\max(c_{i+1/2}, 0) + \\max(-c_{i-1/2}, 0) \\le 1 ,

    and then ``p_i' >= 0``. On every line and axis (each sweep separately, not summed over the
    axes) this is ``alpha_i tau - beta_i tau^2 <= 1`` with ``alpha_i`` the sum of ``|v|/h`` over
    the cell's outflow faces and ``beta_i`` the sum of ``|v| d_k v_k / (2h)``; its smallest root
    ``2 / (alpha + sqrt(alpha^2 - 4 beta))``, together with ``tau |d_k v_k| <= 1`` (which keeps
    the correction factor in ``[1/2, 3/2]`` and the bound increasing in ``tau``, so the half
    sweeps are positive too), is the largest positive step. Steps are cut to stay under it.
    Values below zero by round-off are set to zero at the end of a sweep.

Large steps on lines of one velocity
    Where the drift's component along a line does not vary along it (every face that carries
    flux has the same ``v``: the position axes of a mechanical system, ``dq = p dt``), the
    exact solution of the sweep is a translation by ``c = tau v / h`` cells for any ``c``. Such
    a line on a periodic or absorbing axis is advanced by the whole cells of ``c`` (a rotation,
    or a shift out of the line) and a flux sweep with the fraction ``c - trunc(c)``, which is
    positive; so it may take up to ``UNIFORM_COURANT = 4`` cells per step instead of the
    positive bound. Larger steps let the splitting error grow beyond the space error: a
    Gaussian bump (sd 0.08) turned a quarter round by solid-body rotation on 256² cells errs
    by 1.1e-3, 7.0e-4, 9.1e-4, 2.7e-3 and 1.0e-2 in L1 at 1, 2, 4, 8 and 16 cells per step.
    Against a reflecting wall the mass crossing it would pile into the wall cell, a first-order
    error, so reflecting lines keep the ordinary bound.

Diffusion (constant ``D_kk``)
    Explicit central flux ``-(D_kk/2) (rho_{i+1} - rho_i) / h`` (zero at reflecting walls,
    zero density outside an absorbing one), sub-cycled on the line in
    ``m = ceil(2 D_kk t / h^2)`` equal steps of the sweep's diffusion time ``t``: each
    sub-step ``p_i' = (1 - 2a) p_i + a (p_{i-1} + p_{i+1})`` with
    ``a = D_kk dt / (2 h^2) <= 1/4`` is a non-negative combination that conserves mass (but
    for the outflow through an absorbing wall), and
    damps every Fourier mode without sign changes (factor ``1 - 4a sin^2 >= 0``; at ``a = 1/2``
    the checkerboard mode would survive undamped). Sub-cycling decouples the parabolic limit
    from the advective step, and the sub-steps' first-order time error, ``O(D^2 dt)`` with
    ``dt <= h^2 / (2D)``, is ``O(D h^2)``, the order of the space error; a backward-Euler line
    solve would be positive for any step but first order in the advective step, hence in
    ``h``. A state-dependent diffusion is not supported: use the linear schemes.

The sweeps run in a Numba kernel over the grid lines of one axis (serial, compiled once for
every dimension: a sweep only sees its axis's length and stride) with a plain NumPy twin,
vectorised over the lines, beside it.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .assembly import face_velocities
from .grid import Grid
from .models import SDE

__all__ = ["KINDS", "SplitPropagator", "courant_numbers", "positive_step"]

KINDS = ("ppm", "mc")
# cells per step on a line of one velocity (module notes: large steps on uniform lines)
UNIFORM_COURANT = 4.0
# neighbouring lines the sweep kernel gathers together along a strided axis (a cache line)
_GROUP = 8


# ---------------------------------------------------------------------------------------------
# faces: velocities, their derivative along the line, Courant numbers, the positive step
# ---------------------------------------------------------------------------------------------
def _lines(a: np.ndarray, grid: Grid, k: int) -> np.ndarray:
    """A flat C-order field as grid lines along axis ``k``: shape ``(N / n_k, n_k)``."""
    return np.moveaxis(a.reshape(grid.shape), k, -1).reshape(-1, grid.cells[k])


def _unlines(a: np.ndarray, grid: Grid, k: int) -> np.ndarray:
    """Inverse of :func:`_lines`: a flat C-order field."""
    shape = list(grid.shape)
    n = shape.pop(k)
    return np.ascontiguousarray(np.moveaxis(a.reshape(*shape, n), -1, k)).ravel()


class _Faces:
    """Per axis, in line layout: ``a = v/h`` and ``g = d_k v_k`` on the upper faces of the cells
    (``a_up``, ``g_up``, shape ``(M, n)``) and on the lower outer face (``a_lo``, ``g_lo``,
    shape ``(M,)``), with the velocities of faces that carry no flux set to zero (reflecting
    outer faces, inflow through absorbing ones, a periodic axis of one cell)."""

    def __init__(self, grid: Grid, vel_up: np.ndarray, vel_lo: np.ndarray) -> None:
        self.grid = grid
        self.axes = []
        self.uniform = []  # per axis (M,): lines of one velocity (see the module notes)
        for k in range(grid.ndim):
            h, n = float(grid.widths[k]), grid.cells[k]
            v = _lines(vel_up[k], grid, k)
            lo = _lines(vel_lo[k], grid, k)[:, 0] if grid.absorbing[k] else np.zeros(len(v))
            if grid.periodic[k]:  # faces 1..n, face n = face 0 (a_lo, g_lo: set below)
                g = (np.roll(v, -1, axis=1) - np.roll(v, 1, axis=1)) / (2 * h)
            elif grid.absorbing[k]:  # faces 0..n all known
                full = np.gradient(np.column_stack([lo, v]), h, axis=1)
                g, g_lo = full[:, 1:], full[:, 0]
            else:  # faces 1..n (face 0 is a wall without flux)
                g = np.gradient(v, h, axis=1) if n > 1 else np.zeros_like(v)
                g_lo = np.zeros(len(v))
            a = v / h
            a_lo = lo / h
            if grid.periodic[k] and n == 1:
                a = np.zeros_like(a)
            elif grid.absorbing[k]:
                a[:, -1] = np.maximum(a[:, -1], 0.0)
                a_lo = np.minimum(a_lo, 0.0)
            elif not grid.periodic[k]:
                a[:, -1] = 0.0
                a_lo = np.zeros_like(a_lo)
            if grid.periodic[k]:
                a_lo, g_lo = a[:, -1], g[:, -1]
            g = np.where(a != 0.0, g, 0.0)
            g_lo = np.where(a_lo != 0.0, g_lo, 0.0)
            self.axes.append((a, g, a_lo, g_lo))
            self.uniform.append(_uniform_lines(a, a_lo, grid.periodic[k], grid.absorbing[k]))

    def courant(self, tau: float) -> tuple[np.ndarray, np.ndarray]:
        """Flat ``(cu, cl)``, each ``(d, N)``: Courant numbers of the upper faces of the cells
        and of the lower outer face of the first cells (``0`` elsewhere)."""
        grid = self.grid
        cu = np.empty((grid.ndim, grid.size))
        cl = np.zeros((grid.ndim, grid.size))
        for k, (a, g, a_lo, g_lo) in enumerate(self.axes):
            cu[k] = _unlines(tau * a * (1.0 - 0.5 * tau * g), grid, k)
            if grid.absorbing[k]:
                first = np.zeros_like(a)
                first[:, 0] = tau * a_lo * (1.0 - 0.5 * tau * g_lo)
                cl[k] = _unlines(first, grid, k)
        return cu, cl

    def positive_step(self) -> float:
        """The largest ``tau`` for which every sweep is non-negative (see the module notes);
        lines of one velocity take up to ``UNIFORM_COURANT`` cells per step."""
        tau = math.inf
        for (a, g, a_lo, g_lo), uniform in zip(self.axes, self.uniform, strict=True):
            if uniform.any():
                speed = float(np.abs(a[uniform]).max(initial=0.0))
                if speed > 0:
                    tau = min(tau, UNIFORM_COURANT / speed)
                keep = ~uniform
                a, g, a_lo, g_lo = a[keep], g[keep], a_lo[keep], g_lo[keep]
                if a.shape[0] == 0:
                    continue
            below = np.column_stack([a_lo, a[:, :-1]])  # velocity of each cell's lower face
            g_below = np.column_stack([g_lo, g[:, :-1]])
            out_up, out_lo = a > 0, below < 0
            alpha = np.where(out_up, a, 0.0) - np.where(out_lo, below, 0.0)
            beta = 0.5 * (np.where(out_up, a * g, 0.0) - np.where(out_lo, below * g_below, 0.0))
            disc = alpha * alpha - 4.0 * beta
            ok = (alpha > 0) & (disc >= 0)
            if ok.any():
                roots = 2.0 / (alpha[ok] + np.sqrt(disc[ok]))
                tau = min(tau, float(roots.min()))
            gmax = max(
                float(np.max(np.abs(g), initial=0.0)), float(np.max(np.abs(g_lo), initial=0.0))
            )
            if gmax > 0:
                tau = min(tau, 1.0 / gmax)
        return tau


def _uniform_lines(a: np.ndarray, a_lo: np.ndarray, periodic: bool, absorbing: bool):
    """Lines ``(M, n)`` whose faces that carry flux all have one velocity (``n >= 2``), on a
    periodic or absorbing axis (against a reflecting wall a large step would pile the mass
    that crosses it into the wall cell: first order there)."""
    n = a.shape[1]
    if n < 2 or not (periodic or absorbing):
        return np.zeros(a.shape[0], dtype=bool)
    v = a[:, :1]
    inner = a if periodic else a[:, :-1]
    same = np.all(inner == v, axis=1)
    same &= (a[:, -1] == 0.0) | (a[:, -1] == v[:, 0])
    same &= (a_lo == 0.0) | (a_lo == v[:, 0])
    return same


@numba.njit(cache=True)
def equal_steps(span, limit, dt_max):
    """``(n, span / n)``: the fewest equal steps of ``span`` none longer than ``limit`` nor
    ``dt_max`` (ignored when ``<= 0``); one step when neither bounds it."""
    dt = limit if dt_max <= 0 else min(limit, dt_max)
    if not math.isfinite(dt):
        return 1, span
    n = max(1, math.ceil(span / dt * (1 - 1e-12)))  # 0.1 / 0.01 is one hair above 10
    while span / n > dt:
        n += 1
    return n, span / n


def courant_numbers(grid: Grid, sde: SDE, tau: float, t: float = 0.0):
    """Courant numbers ``(cu, cl)`` of a step ``tau`` with the drift at time ``t``.

    ``cu[k, i]``: the upper face of cell ``i`` along axis ``k``; ``cl[k, i]``: the lower outer
    face of a first cell of an absorbing axis (``0`` elsewhere). Faces without flux are ``0``.
    """
    return _Faces(grid, *face_velocities(grid, sde, t)).courant(tau)


def positive_step(grid: Grid, sde: SDE, t: float = 0.0) -> float:
    """The largest step whose split sweeps keep every cell non-negative (drift at ``t``)."""
    return _Faces(grid, *face_velocities(grid, sde, t)).positive_step()


# ---------------------------------------------------------------------------------------------
# Numba sweep kernel
# ---------------------------------------------------------------------------------------------
@numba.njit(inline="always")
def mc_slope(a, b):
    """MC-limited slope from the backward difference ``a`` and the forward difference ``b``."""
    s = min(2.0 * abs(a), 0.5 * abs(a + b), 2.0 * abs(b))
    return math.copysign(s, a) if a * b > 0.0 else 0.0


@numba.njit(inline="always")
def _out_right(c, p, dl, dr):
    """Mass of the reconstruction on the last fraction ``c`` of the cell."""
    a6 = -3.0 * (dl + dr)
    return c * (p + dr - 0.5 * c * ((dr - dl) - (1.0 - 2.0 * c / 3.0) * a6))


@numba.njit(inline="always")
def _out_left(c, p, dl, dr):
    """Mass of the reconstruction on the first fraction ``c`` of the cell."""
    a6 = -3.0 * (dl + dr)
    return c * (p + dl + 0.5 * c * ((dr - dl) + (1.0 - 2.0 * c / 3.0) * a6))


@numba.njit(inline="always")
def _diffuse(row, n, periodic, absorbing, alpha, steps, flux):
    """``steps`` explicit diffusion steps (``alpha = D dt / (2 h^2) <= 1/2``) of ``row[2:n+2]``."""
    for _ in range(steps):
        for f in range(1, n):
            flux[f] = alpha * (row[f + 1] - row[f + 2])
        if periodic:
            flux[0] = alpha * (row[n + 1] - row[2])
            flux[n] = flux[0]
        elif absorbing:
            flux[0] = -alpha * row[2]
            flux[n] = alpha * row[n + 1]
        else:
            flux[0] = 0.0
            flux[n] = 0.0
        for j in range(n):
            row[j + 2] += flux[j] - flux[j + 1]


@numba.njit(inline="always")
def _advect(row, c, n, periodic, ppm, slope, edge, dl, dr, flux):
    """One flux-form advection step of ``row[2:n+2]`` with face Courant numbers ``c[0..n]``."""
    if periodic:
        row[1] = row[2 + (n - 1) % n]
        row[0] = row[2 + (n - 2) % n]
        row[n + 2] = row[2]
        row[n + 3] = row[2 + 1 % n]
    else:  # mirror ghosts
        m1 = min(1, n - 1)
        row[1] = row[2]
        row[0] = row[2 + m1]
        row[n + 2] = row[n + 1]
        row[n + 3] = row[n + 1 - m1]
    if ppm:
        for j in range(n + 2):  # MC slopes of cells -1..n
            slope[j] = mc_slope(row[j + 1] - row[j], row[j + 2] - row[j + 1])
        for f in range(n + 1):  # face values, face f between cells f - 1 and f
            edge[f] = 0.5 * (row[f + 1] + row[f + 2]) - (slope[f + 1] - slope[f]) / 6.0
        for j in range(n):
            p0 = row[j + 2]
            a = edge[j] - p0
            b = edge[j + 1] - p0
            # the two corrections exclude each other (both would need |a| > 4 |a|)
            extremum = a * b >= 0.0
            a_lim = -2.0 * b if abs(a) > 2.0 * abs(b) else a
            b_lim = -2.0 * a if abs(b) > 2.0 * abs(a) else b
            dl[j] = 0.0 if extremum else a_lim
            dr[j] = 0.0 if extremum else b_lim
    else:
        for j in range(n):
            s = mc_slope(row[j + 2] - row[j + 1], row[j + 3] - row[j + 2])
            dl[j] = -0.5 * s
            dr[j] = 0.5 * s
    for f in (0, n):  # the outer faces: their cells wrap round a periodic line
        v = c[f]
        if v > 0.0:
            j = f - 1 if f > 0 else n - 1
            flux[f] = _out_right(v, row[j + 2], dl[j], dr[j])
        elif v < 0.0:
            j = f if f < n else 0
            flux[f] = -_out_left(-v, row[j + 2], dl[j], dr[j])
        else:
            flux[f] = 0.0
    for f in range(1, n):  # both upwind fluxes, one of them zero: no branch, vectorised
        v = c[f]
        up = max(v, 0.0)
        down = max(-v, 0.0)
        flux[f] = _out_right(up, row[f + 1], dl[f - 1], dr[f - 1]) - _out_left(
            down, row[f + 2], dl[f], dr[f]
        )
    for j in range(n):
        row[j + 2] += flux[j] - flux[j + 1]


@numba.njit(inline="always")
def _whole_cells(c, n):
    """On a line of one Courant number ``|c| > 1`` (faces without flux aside), take its whole
    cells out of ``c`` and return them (``0`` on any other line)."""
    v = c[1]
    if n < 2 or abs(v) <= 1.0:
        return 0
    for f in range(n + 1):
        if c[f] != v and (c[f] != 0.0 or 0 < f < n):
            return 0
    s = int(v)  # towards zero: the rest has the sign of v and |rest| < 1
    rest = v - s
    for f in range(n + 1):
        if c[f] != 0.0:
            c[f] = rest
    return s


@numba.njit(inline="always")
def _shift_row(row, n, s, periodic, absorbing, tmp):
    """Translate ``row[2:n+2]`` by ``s`` cells: round the circle (periodic), out of the line
    (absorbing) or onto the wall cell (reflecting; the sweeps do not call it there)."""
    for j in range(n):
        tmp[j] = row[j + 2]
    for j in range(n):
        row[j + 2] = 0.0
    for j in range(n):
        to = j + s
        if periodic:
            to %= n
        elif to < 0 or to >= n:
            if absorbing:
                continue
            to = 0 if to < 0 else n - 1
        row[to + 2] += tmp[j]


@numba.njit(inline="always")
def _sweep_line(row, c, n, periodic, absorbing, ppm, alpha_pre, m_pre, alpha_post, m_post,
                slope, edge, dl, dr, flux):  # fmt: skip
    """One line ``row[2:n+2]`` with face Courant numbers ``c[0..n]``: ``m_pre`` diffusion
    steps, one advection step, ``m_post`` diffusion steps (no clipping)."""
    if m_pre > 0:
        _diffuse(row, n, periodic, absorbing, alpha_pre, m_pre, flux)
    cells = _whole_cells(c, n) if periodic or absorbing else 0
    _advect(row, c, n, periodic, ppm, slope, edge, dl, dr, flux)
    if cells != 0:
        _shift_row(row, n, cells, periodic, absorbing, slope)
    if m_post > 0:
        _diffuse(row, n, periodic, absorbing, alpha_post, m_post, flux)


@numba.njit(cache=True)
def sweep_kernel(
    p, cu, cl, n, stride, periodic, absorbing, ppm, alpha_pre, m_pre, alpha_post, m_post
):
    """Sweep every line along one axis (length ``n``, stride ``stride``) of ``p`` in place
    (:func:`_sweep_line`), clipping round-off below zero."""
    if stride == 1:
        _sweep_contiguous(p, cu, cl, n, periodic, absorbing, ppm, alpha_pre, m_pre, alpha_post,
                          m_post)  # fmt: skip
    else:
        _sweep_strided(p, cu, cl, n, stride, periodic, absorbing, ppm, alpha_pre, m_pre,
                       alpha_post, m_post)  # fmt: skip


@numba.njit(cache=True)
def _sweep_contiguous(p, cu, cl, n, periodic, absorbing, ppm, alpha_pre, m_pre, alpha_post,
                      m_post):  # fmt: skip
    """:func:`sweep_kernel` along the last axis (its buffers are its own: no aliasing)."""
    row = np.empty(n + 4)
    c = np.empty(n + 1)
    slope = np.empty(n + 2)
    edge = np.empty(n + 1)
    dl = np.empty(n)
    dr = np.empty(n)
    flux = np.empty(n + 1)
    for base in range(0, p.shape[0], n):
        for j in range(n):
            row[j + 2] = p[base + j]
            c[j + 1] = cu[base + j]
        c[0] = c[n] if periodic else cl[base]
        _sweep_line(row, c, n, periodic, absorbing, ppm, alpha_pre, m_pre, alpha_post, m_post,
                    slope, edge, dl, dr, flux)  # fmt: skip
        for j in range(n):
            x = row[j + 2]
            p[base + j] = x if x > 0.0 else 0.0


@numba.njit(cache=True)
def _sweep_strided(p, cu, cl, n, stride, periodic, absorbing, ppm, alpha_pre, m_pre,
                   alpha_post, m_post):  # fmt: skip
    """:func:`sweep_kernel` along a strided axis: ``_GROUP`` neighbouring lines are gathered
    and scattered together, so each cache line of ``p`` and ``cu`` is read once for all of
    them (with a power-of-two stride the cells of one line share a few cache sets, and a line
    at a time thrashes them)."""
    rows = np.empty((_GROUP, n))
    cs = np.empty((_GROUP, n))
    row = np.empty(n + 4)
    c = np.empty(n + 1)
    slope = np.empty(n + 2)
    edge = np.empty(n + 1)
    dl = np.empty(n)
    dr = np.empty(n)
    flux = np.empty(n + 1)
    block = stride * n
    lines = p.shape[0] // n
    b = 0
    while b < lines:
        m = min(_GROUP, stride - b % stride)  # neighbours: one block, consecutive addresses
        base = (b // stride) * block + b % stride
        for j in range(n):
            for line in range(m):
                rows[line, j] = p[base + line + j * stride]
                cs[line, j] = cu[base + line + j * stride]
        for line in range(m):
            for j in range(n):
                row[j + 2] = rows[line, j]
                c[j + 1] = cs[line, j]
            c[0] = c[n] if periodic else cl[base + line]
            _sweep_line(row, c, n, periodic, absorbing, ppm, alpha_pre, m_pre, alpha_post,
                        m_post, slope, edge, dl, dr, flux)  # fmt: skip
            for j in range(n):
                rows[line, j] = row[j + 2]
        for j in range(n):
            for line in range(m):
                x = rows[line, j]
                p[base + line + j * stride] = x if x > 0.0 else 0.0
        b += m


# ---------------------------------------------------------------------------------------------
# NumPy twin (vectorised over the lines)
# ---------------------------------------------------------------------------------------------
def _mc_numpy(a, b):
    s = np.minimum(np.minimum(2.0 * np.abs(a), 0.5 * np.abs(a + b)), 2.0 * np.abs(b))
    return np.where(a * b <= 0.0, 0.0, np.where(a > 0.0, s, -s))


def _diffuse_numpy(x, periodic, absorbing, alpha, steps):
    for _ in range(steps):
        flux = np.empty((x.shape[0], x.shape[1] + 1))
        flux[:, 1:-1] = alpha * (x[:, :-1] - x[:, 1:])
        if periodic:
            flux[:, 0] = alpha * (x[:, -1] - x[:, 0])
            flux[:, -1] = flux[:, 0]
        elif absorbing:
            flux[:, 0] = -alpha * x[:, 0]
            flux[:, -1] = alpha * x[:, -1]
        else:
            flux[:, 0] = 0.0
            flux[:, -1] = 0.0
        x = x + (flux[:, :-1] - flux[:, 1:])
    return x


def _advect_numpy(x, c, periodic, ppm):
    m, n = x.shape
    if periodic:
        ghost = [x[:, [(n - 2) % n]], x[:, [(n - 1) % n]], x, x[:, [0]], x[:, [1 % n]]]
    else:
        m1 = min(1, n - 1)
        ghost = [x[:, [m1]], x[:, [0]], x, x[:, [n - 1]], x[:, [n - 1 - m1]]]
    row = np.concatenate(ghost, axis=1)  # cells -2..n+1
    if ppm:
        slope = _mc_numpy(row[:, 1:-1] - row[:, :-2], row[:, 2:] - row[:, 1:-1])  # cells -1..n
        edge = 0.5 * (row[:, 1:-2] + row[:, 2:-1]) - (slope[:, 1:] - slope[:, :-1]) / 6.0
        a = edge[:, :-1] - x
        b = edge[:, 1:] - x
        ext = a * b >= 0.0
        a_fix = np.where(np.abs(a) > 2.0 * np.abs(b), -2.0 * b, a)
        b_fix = np.where(
            ~(np.abs(a) > 2.0 * np.abs(b)) & (np.abs(b) > 2.0 * np.abs(a)), -2.0 * a, b
        )
        dl = np.where(ext, 0.0, a_fix)
        dr = np.where(ext, 0.0, b_fix)
    else:
        s = _mc_numpy(row[:, 2:-2] - row[:, 1:-3], row[:, 3:-1] - row[:, 2:-2])
        dl, dr = -0.5 * s, 0.5 * s
    left = np.r_[n - 1, np.arange(n)]  # the cell below each face 0..n (face 0 wraps)
    right = np.r_[np.arange(n), 0]  # the cell above (face n wraps)
    cp = np.maximum(c, 0.0)
    cm = np.maximum(-c, 0.0)
    a6 = -3.0 * (dl + dr)
    da = dr - dl
    f_up = cp * (
        x[:, left] + dr[:, left] - 0.5 * cp * (da[:, left] - (1.0 - 2.0 * cp / 3.0) * a6[:, left])
    )
    f_dn = cm * (
        x[:, right]
        + dl[:, right]
        + 0.5 * cm * (da[:, right] + (1.0 - 2.0 * cm / 3.0) * a6[:, right])
    )
    flux = np.where(c > 0.0, f_up, np.where(c < 0.0, -f_dn, 0.0))
    return x + (flux[:, :-1] - flux[:, 1:])


def _whole_cells_numpy(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Twin of :func:`_whole_cells` for lines ``(M, n + 1)``: the Courant numbers with whole
    cells taken out, and the whole cells per line."""
    n = c.shape[1] - 1
    v = c[:, 1:2]
    inner = np.zeros(n + 1, dtype=bool)
    inner[1:n] = True
    same = np.all((c == v) | ((c == 0.0) & ~inner), axis=1)
    big = same & (np.abs(v[:, 0]) > 1.0) & (n >= 2)
    whole = np.where(big, np.trunc(v[:, 0]), 0.0).astype(np.int64)
    c = np.where(big[:, None] & (c != 0.0), c - whole[:, None], c)
    return c, whole


def _shift_numpy(x: np.ndarray, s: int, periodic: bool, absorbing: bool) -> np.ndarray:
    n = x.size
    if periodic:
        return np.roll(x, s)
    out = np.zeros(n)
    to = np.arange(n) + s
    keep = (to >= 0) & (to < n)
    out[to[keep]] = x[keep]
    if not absorbing:  # reflecting: onto the wall cell
        out[0] += x[to < 0].sum()
        out[-1] += x[to >= n].sum()
    return out


def _sweep_numpy(p, grid, k, cu, cl, ppm, alpha_pre, m_pre, alpha_post, m_post):
    """The twin of :func:`sweep_kernel` for axis ``k``; returns the new flat ``p``."""
    x = _lines(p, grid, k)
    up = _lines(cu, grid, k)
    lo = up[:, -1] if grid.periodic[k] else _lines(cl, grid, k)[:, 0]
    c = np.column_stack([lo, up])
    periodic, absorbing = grid.periodic[k], grid.absorbing[k]
    x = _diffuse_numpy(x, periodic, absorbing, alpha_pre, m_pre)
    if periodic or absorbing:
        c, whole = _whole_cells_numpy(c)
    else:
        whole = np.zeros(len(c), dtype=np.int64)
    x = _advect_numpy(x, c, periodic, ppm)
    for line in np.flatnonzero(whole):
        x[line] = _shift_numpy(x[line], int(whole[line]), periodic, absorbing)
    x = _diffuse_numpy(x, periodic, absorbing, alpha_post, m_post)
    return _unlines(np.maximum(x, 0.0), grid, k)


# ---------------------------------------------------------------------------------------------
# the propagator
# ---------------------------------------------------------------------------------------------
class SplitPropagator:
    """Advances cell probabilities by Strang-split high-resolution sweeps.

    Parameters
    ----------
    grid, sde : Grid, SDE
        The diffusion must be constant (one value, or one per axis).
    kind : {"ppm", "mc"}
        Reconstruction: piecewise parabolic (Colella--Woodward) or MC-limited linear.
    dt : float, optional
        Largest step; ``None``: the largest positive step. A larger ``dt`` is cut into steps
        under the positive step, so every step keeps ``p >= 0``.
    method : {"numba", "numpy"}
        The compiled sweep kernel or its vectorised NumPy twin.
    """

    def __init__(
        self,
        grid: Grid,
        sde: SDE,
        kind: str = "ppm",
        dt: float | None = None,
        *,
        method: str = "numba",
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown reconstruction {kind!r}: choose one of {', '.join(KINDS)}")
        if method not in ("numba", "numpy"):
            raise ValueError(f"unknown method {method!r}: choose 'numba' or 'numpy'")
        if sde.state_dependent_diffusion:
            raise ValueError(
                "the split high-resolution schemes need a constant diffusion; with a "
                "state-dependent diffusion use a linear scheme (e.g. scheme='implicit' or "
                "'explicit')"
            )
        if dt is not None:
            dt = float(dt)
            if not math.isfinite(dt) or dt <= 0:
                raise ValueError(f"dt must be a positive finite step, got {dt!r}")
        self.grid = grid
        self.sde = sde
        self.kind = kind
        self.dt = dt
        self.method = method
        self.diffusion = sde.constant_diffusion(grid.ndim)
        self._faces = None if sde.time_dependent else self._faces_at(0.0)
        self._limit = None if self._faces is None else self._faces.positive_step()
        self._courant: dict[float, tuple] = {}
        self.fraction = 1.0  # every step bound times this (the error check's finer pass)
        self.interval: float | None = None  # the step where nothing bounds it (None: the span)

    def _faces_at(self, t: float) -> _Faces:
        return _Faces(self.grid, *face_velocities(self.grid, self.sde, t))

    def positive_step(self, t: float = 0.0) -> float:
        """The largest positive step with the drift at ``t``."""
        return self._limit if self._faces is not None else self._faces_at(t).positive_step()

    def steps(self, t0: float, t1: float) -> tuple[int, float]:
        """Number of equal steps and their length for the interval ``[t0, t1]``."""
        span = t1 - t0
        if span < 0:
            raise ValueError(f"cannot propagate backwards in time (t0={t0}, t1={t1})")
        if span == 0:
            return 0, 0.0
        phi = self.fraction
        limit = self.positive_step(t0)
        dt = (self.dt or 0.0) * phi
        if not math.isfinite(limit) and dt <= 0.0 and phi < 1.0:
            dt = (self.interval or span) * phi  # no bound at all: the interval's fraction
        n, tau = equal_steps(span, limit * phi, dt)
        return int(n), float(tau)

    # -- sweeps -------------------------------------------------------------------------------
    def _diffusion(self, k: int, time: float) -> tuple[float, int]:
        """``(alpha, steps)`` of explicit diffusion for ``time`` along axis ``k``."""
        D, h = self.diffusion[k], float(self.grid.widths[k])
        if D == 0.0 or time == 0.0:
            return 0.0, 0
        steps = max(1, math.ceil(2.0 * D * time / (h * h)))
        return D * (time / steps) / (2.0 * h * h), steps

    def _sweep(self, p: np.ndarray, k: int, courant, pre: float, post: float) -> np.ndarray:
        cu, cl = courant
        alpha_pre, m_pre = self._diffusion(k, pre)
        alpha_post, m_post = self._diffusion(k, post)
        ppm = self.kind == "ppm"
        if self.method == "numpy":
            return _sweep_numpy(
                p, self.grid, k, cu[k], cl[k], ppm, alpha_pre, m_pre, alpha_post, m_post
            )
        grid = self.grid
        sweep_kernel(
            p, cu[k], cl[k], int(grid.cells[k]), int(grid.strides[k]), bool(grid.periodic[k]),
            bool(grid.absorbing[k]), ppm, float(alpha_pre), int(m_pre), float(alpha_post),
            int(m_post),
        )  # fmt: skip
        return p

    def _plan(self, n: int) -> list[tuple[int, float, float, float]]:
        """Sweeps ``(axis, advection fraction, diffusion before, after)`` of ``n`` Strang
        steps (fractions of the step), with adjacent sweeps of one axis merged where no
        diffusion separates them."""
        d = self.grid.ndim
        one = [(k, 0.5, 0.5, 0.0) for k in range(d - 1)]
        one += [(d - 1, 1.0, 0.5, 0.5)]
        one += [(k, 0.5, 0.0, 0.5) for k in range(d - 2, -1, -1)]
        plan: list[tuple[int, float, float, float]] = []
        for k, a, pre, post in one * n:
            if self.diffusion[k] == 0.0:
                pre = post = 0.0
            if plan and plan[-1][0] == k and plan[-1][3] == 0.0 and pre == 0.0:
                if plan[-1][1] + a <= 1.0:
                    last = plan.pop()
                    plan.append((k, last[1] + a, last[2], post))
                    continue
            plan.append((k, a, pre, post))
        return plan

    def _courant_for(self, faces: _Faces, tau: float, cache: bool) -> dict[float, tuple]:
        key = float(f"{tau:.12g}")
        if cache and key in self._courant:
            return self._courant[key]
        out = {frac: faces.courant(frac * tau) for frac in (0.5, 1.0)}
        if cache:
            self._courant = {key: out}  # the last step length only
        return out

    def __call__(self, p: np.ndarray, t0: float, t1: float) -> np.ndarray:
        """Propagate ``p`` from ``t0`` to ``t1``; returns a new array."""
        p = np.array(p, dtype=float)
        n, tau = self.steps(t0, t1)
        if n == 0:
            return p
        if self._faces is not None:
            courant = self._courant_for(self._faces, tau, cache=True)
            for k, a, pre, post in self._plan(n):
                p = self._sweep(p, k, courant[a], pre * tau, post * tau)
            return p
        for s in range(n):
            p = self._step_at(p, t0 + s * tau, tau)
        return p

    def _step_at(self, p: np.ndarray, t: float, tau: float, depth: int = 0) -> np.ndarray:
        """One step of a time-dependent drift (at the step's midpoint), halved while it
        exceeds the positive step there."""
        faces = self._faces_at(t + 0.5 * tau)
        if tau > faces.positive_step() and depth < 30:
            p = self._step_at(p, t, 0.5 * tau, depth + 1)
            return self._step_at(p, t + 0.5 * tau, 0.5 * tau, depth + 1)
        courant = self._courant_for(faces, tau, cache=False)
        for k, a, pre, post in self._plan(1):
            p = self._sweep(p, k, courant[a], pre * tau, post * tau)
        return p
