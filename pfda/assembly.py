"""The finite-volume generator ``A`` of the Fokker--Planck equation.

Integrating the Fokker--Planck equation over cell ``i`` turns it into the linear ODE
``dp/dt = A p`` for the cell probabilities ``p``. Every face between neighbours L and R
contributes, with the monotone rates of :mod:`pfda.fluxes`,

.. math::  A_{RL} \\mathrel{+}= r_{L\\to R},\\quad A_{LL} \\mathrel{-}= r_{L\\to R},
           \\qquad A_{LR} \\mathrel{+}= r_{R\\to L},\\quad A_{RR} \\mathrel{-}= r_{R\\to L}.

So ``A`` has non-negative off-diagonal entries and zero column sums (reflecting and periodic
boundaries) or non-positive ones (absorbing: an outflow face adds only to the diagonal): it
generates a Markov semigroup, the discrete Perron--Frobenius operator. The explicit Euler step
``I + dt A`` is Markov exactly when ``dt <= 1 / max_i(-A_ii)`` (:func:`cfl_dt`).

Two implementations build the same matrix:

* ``method="numba"`` (default): :func:`make_face_velocity_kernel` evaluates the drift at the
  face centres (fused into the kernel when the drift is a Numba point function), then
  :func:`_assemble_csr` computes every face's rates once and writes the CSR arrays directly,
  row by row, in parallel.
* ``method="numpy"``: vectorised NumPy rates and a SciPy COO assembly, the plain reference.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
from numba import prange

from .fluxes import face_rates, face_rates_numpy
from .grid import Grid
from .models import SDE

__all__ = ["FLUXES", "generator", "cfl_dt", "cfl_limit", "make_face_velocity_kernel"]

FLUXES = ("auto", "upwind", "sg")


# ---------------------------------------------------------------------------------------------
# drift at the faces
# ---------------------------------------------------------------------------------------------
def make_face_velocity_kernel(time_dependent: bool):
    """Build a Numba kernel evaluating a point drift ``f`` at every face centre.

    The kernel returns ``(vel_up, vel_lo)``, each ``(d, N)``: ``vel_up[k, i]`` is ``f_k`` at the
    centre of the upper face of cell ``i`` along axis ``k``; ``vel_lo[k, i]`` is ``f_k`` at the
    lower face, filled only for the first cell of an axis with ``need_lo[k]`` (absorbing).
    """
    if time_dependent:

        @numba.njit(inline="always")
        def call(f, x, t):
            return f(x, t)
    else:

        @numba.njit(inline="always")
        def call(f, x, t):
            return f(x)

    @numba.njit(parallel=True)
    def kernel(f, t, lower, widths, cells, strides, need_lo):
        d = cells.shape[0]
        n_total = 1
        for k in range(d):
            n_total *= cells[k]
        vel_up = np.empty((d, n_total))
        vel_lo = np.zeros((d, n_total))
        for i in prange(n_total):
            x = np.empty(d)
            for k in range(d):
                x[k] = lower[k] + ((i // strides[k]) % cells[k] + 0.5) * widths[k]
            for k in range(d):
                xk = x[k]
                x[k] = xk + 0.5 * widths[k]
                vel_up[k, i] = call(f, x, t)[k]
                if need_lo[k] and (i // strides[k]) % cells[k] == 0:
                    x[k] = xk - 0.5 * widths[k]
                    vel_lo[k, i] = call(f, x, t)[k]
                x[k] = xk
        return vel_up, vel_lo

    return kernel


_VELOCITY_KERNELS: dict[bool, object] = {}


def _face_velocities(grid: Grid, sde: SDE, t: float) -> tuple[np.ndarray, np.ndarray]:
    cells = np.asarray(grid.cells, dtype=np.int64)
    strides = np.asarray(grid.strides, dtype=np.int64)
    need_lo = np.asarray(grid.absorbing, dtype=np.bool_)
    if sde.jitted:
        kernel = _VELOCITY_KERNELS.get(sde.time_dependent)
        if kernel is None:
            kernel = _VELOCITY_KERNELS[sde.time_dependent] = make_face_velocity_kernel(
                sde.time_dependent
            )
        vel_up, vel_lo = kernel(
            sde.drift, float(t), grid.lower, grid.widths, cells, strides, need_lo
        )
        if not (np.all(np.isfinite(vel_up)) and np.all(np.isfinite(vel_lo))):
            raise ValueError(
                "drift returned NaN or inf at a face centre: check the model on the whole box"
            )
        return vel_up, vel_lo
    return _face_velocities_numpy(grid, sde, t)


def _first_cells(grid: Grid, k: int) -> np.ndarray:
    idx = np.arange(grid.size)
    return idx[(idx // grid.strides[k]) % grid.cells[k] == 0]


def _flux_flags(grid: Grid, sde: SDE, flux: str) -> np.ndarray:
    if flux not in FLUXES:
        raise ValueError(f"unknown flux {flux!r}: choose one of {', '.join(FLUXES)}")
    if sde.state_dependent_diffusion:
        if flux == "sg":
            raise ValueError(
                "the Scharfetter-Gummel flux needs a constant diffusion; with a state-dependent "
                "diffusion use flux='upwind' (or 'auto')"
            )
        return np.zeros(grid.ndim, dtype=np.bool_)
    dif = sde.constant_diffusion(grid.ndim)
    if flux == "upwind":
        return np.zeros(grid.ndim, dtype=np.bool_)
    return dif > 0


# ---------------------------------------------------------------------------------------------
# Numba CSR assembly
# ---------------------------------------------------------------------------------------------
@numba.njit(parallel=True, cache=True)
def _assemble_csr(vel_up, vel_lo, dcoef, widths, cells, strides, periodic, absorbing, sg):
    d, n_total = vel_up.shape
    # pass 1: the rates of every face, computed once
    up_fwd = np.zeros((d, n_total))  # L -> R across the upper face of cell L
    up_bwd = np.zeros((d, n_total))  # R -> L across the same face
    lo_out = np.zeros((d, n_total))  # outflow through an absorbing lower boundary
    for i in prange(n_total):
        for k in range(d):
            h = widths[k]
            ik = (i // strides[k]) % cells[k]
            if ik < cells[k] - 1:
                r = i + strides[k]
                fwd, bwd = face_rates(vel_up[k, i], h, dcoef[k, i], dcoef[k, r], sg[k])
                up_fwd[k, i] = fwd
                up_bwd[k, i] = bwd
            elif periodic[k] and cells[k] > 1:
                r = i - (cells[k] - 1) * strides[k]
                fwd, bwd = face_rates(vel_up[k, i], h, dcoef[k, i], dcoef[k, r], sg[k])
                up_fwd[k, i] = fwd
                up_bwd[k, i] = bwd
            elif absorbing[k]:
                fwd, bwd = face_rates(vel_up[k, i], h, dcoef[k, i], dcoef[k, i], sg[k])
                up_fwd[k, i] = fwd
            if ik == 0 and absorbing[k]:
                fwd, bwd = face_rates(vel_lo[k, i], h, dcoef[k, i], dcoef[k, i], sg[k])
                lo_out[k, i] = bwd
    # pass 2: every row's entries (at most 2d + 1), sorted by column, into a padded buffer
    width = 2 * d + 1
    buf_cols = np.empty((n_total, width), dtype=np.int32)
    buf_vals = np.empty((n_total, width))
    counts = np.zeros(n_total + 1, dtype=np.int64)
    for i in prange(n_total):
        cnt = 0
        diag = 0.0
        for k in range(d):
            ik = (i // strides[k]) % cells[k]
            diag -= up_fwd[k, i]
            # lower neighbour j: inflow j -> i across j's upper face
            j = -1
            if ik > 0:
                j = i - strides[k]
            elif periodic[k] and cells[k] > 1:
                j = i + (cells[k] - 1) * strides[k]
            if j >= 0:
                diag -= up_bwd[k, j]
                val = up_fwd[k, j]
                if val != 0.0:
                    buf_cols[i, cnt] = j
                    buf_vals[i, cnt] = val
                    cnt += 1
            else:
                diag -= lo_out[k, i]
            # upper neighbour j: inflow j -> i across i's upper face
            j = -1
            if ik < cells[k] - 1:
                j = i + strides[k]
            elif periodic[k] and cells[k] > 1:
                j = i - (cells[k] - 1) * strides[k]
            if j >= 0:
                val = up_bwd[k, i]
                if val != 0.0:
                    buf_cols[i, cnt] = j
                    buf_vals[i, cnt] = val
                    cnt += 1
        buf_cols[i, cnt] = i
        buf_vals[i, cnt] = diag
        cnt += 1
        # insertion sort by column, merging duplicates (two faces to one cell: periodic, n = 2)
        m = 0
        for a in range(cnt):
            c = buf_cols[i, a]
            v = buf_vals[i, a]
            pos = m
            while pos > 0 and buf_cols[i, pos - 1] > c:
                pos -= 1
            if pos > 0 and buf_cols[i, pos - 1] == c:
                buf_vals[i, pos - 1] += v
                continue
            for b in range(m, pos, -1):
                buf_cols[i, b] = buf_cols[i, b - 1]
                buf_vals[i, b] = buf_vals[i, b - 1]
            buf_cols[i, pos] = c
            buf_vals[i, pos] = v
            m += 1
        counts[i + 1] = m
    indptr = np.cumsum(counts)
    nnz = indptr[n_total]
    indices = np.empty(nnz, dtype=np.int32)
    data = np.empty(nnz)
    for i in prange(n_total):
        start = indptr[i]
        for a in range(indptr[i + 1] - start):
            indices[start + a] = buf_cols[i, a]
            data[start + a] = buf_vals[i, a]
    return indptr, indices, data


# ---------------------------------------------------------------------------------------------
# NumPy / SciPy COO reference
# ---------------------------------------------------------------------------------------------
def _assemble_coo(grid, vel_up, vel_lo, dcoef, sg) -> sp.csr_matrix:
    n = grid.size
    idx = np.arange(n)
    rows, cols, vals = [idx], [idx], []
    diag = np.zeros(n)
    for k in range(grid.ndim):
        h, s, nk = grid.widths[k], grid.strides[k], grid.cells[k]
        ik = (idx // s) % nk
        left = idx[ik < nk - 1]
        right = left + s
        if grid.periodic[k] and nk > 1:
            wrap = idx[ik == nk - 1]
            left = np.concatenate([left, wrap])
            right = np.concatenate([right, wrap - (nk - 1) * s])
        fwd, bwd = face_rates_numpy(vel_up[k, left], h, dcoef[k, left], dcoef[k, right], sg[k])
        rows += [right, left]
        cols += [left, right]
        vals += [fwd, bwd]
        np.subtract.at(diag, left, fwd)
        np.subtract.at(diag, right, bwd)
        if grid.absorbing[k]:
            last = idx[ik == nk - 1]
            out, _ = face_rates_numpy(vel_up[k, last], h, dcoef[k, last], dcoef[k, last], sg[k])
            np.subtract.at(diag, last, out)
            first = idx[ik == 0]
            _, out = face_rates_numpy(vel_lo[k, first], h, dcoef[k, first], dcoef[k, first], sg[k])
            np.subtract.at(diag, first, out)
    vals = [diag] + vals
    coo = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    return coo.tocsr()


# ---------------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------------
def generator(
    grid: Grid, sde: SDE, t: float = 0.0, *, flux: str = "auto", method: str = "numba"
) -> sp.csr_matrix:
    """Finite-volume generator ``A`` (``dp/dt = A p``) of the SDE's Fokker--Planck equation.

    Parameters
    ----------
    grid : Grid
    sde : SDE
    t : float
        Time at which a time-dependent drift is evaluated.
    flux : {"auto", "upwind", "sg"}
        ``"auto"`` uses Scharfetter--Gummel on every axis with a constant ``D_kk > 0`` and upwind
        elsewhere; ``"sg"`` insists on Scharfetter--Gummel (upwind is its limit on axes with
        ``D_kk = 0``); ``"upwind"`` is first order everywhere.
    method : {"numba", "numpy"}
        The Numba CSR kernel, or the plain NumPy/SciPy COO reference.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(N, N)`` with ``A[i, j] >= 0`` for ``i != j`` and column sums ``0`` (reflecting,
        periodic) or ``<= 0`` (absorbing).
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a pfda.Grid, got {type(grid).__name__}")
    if not isinstance(sde, SDE):
        raise TypeError(f"sde must be a pfda.SDE, got {type(sde).__name__}")
    if method not in ("numba", "numpy"):
        raise ValueError(f"unknown method {method!r}: choose 'numba' or 'numpy'")
    sg = _flux_flags(grid, sde, flux)
    if sde.state_dependent_diffusion:
        dcoef = np.ascontiguousarray(sde.diffusion_at(grid.centers))
    else:
        dcoef = np.ascontiguousarray(
            np.broadcast_to(sde.constant_diffusion(grid.ndim)[:, None], (grid.ndim, grid.size))
        )
    if method == "numpy":
        vel_up, vel_lo = _face_velocities_numpy(grid, sde, t)
        return _assemble_coo(grid, vel_up, vel_lo, dcoef, sg)
    vel_up, vel_lo = _face_velocities(grid, sde, t)
    indptr, indices, data = _assemble_csr(
        vel_up,
        vel_lo,
        dcoef,
        grid.widths,
        np.asarray(grid.cells, dtype=np.int64),
        np.asarray(grid.strides, dtype=np.int64),
        np.asarray(grid.periodic, dtype=np.bool_),
        np.asarray(grid.absorbing, dtype=np.bool_),
        sg,
    )
    n = grid.size
    return sp.csr_matrix((data, indices, indptr), shape=(n, n))


def _face_velocities_numpy(grid: Grid, sde: SDE, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Drift at the faces by vectorised evaluation only (no fused kernel)."""
    d, n = grid.ndim, grid.size
    vel_up = np.empty((d, n))
    vel_lo = np.zeros((d, n))
    for k in range(d):
        face = np.array(grid.centers)
        face[k] += 0.5 * grid.widths[k]
        vel_up[k] = sde.drift_at(face, t)[k]
        if grid.absorbing[k]:
            first = _first_cells(grid, k)
            face = np.array(grid.centers[:, first])
            face[k] -= 0.5 * grid.widths[k]
            vel_lo[k, first] = sde.drift_at(face, t)[k]
    return vel_up, vel_lo


def cfl_limit(A: sp.spmatrix) -> float:
    """Largest ``dt`` with ``I + dt A`` entry-wise non-negative (``inf`` if ``A`` has no diagonal)."""
    rate = float(np.max(-A.diagonal(), initial=0.0))
    if rate <= 0:
        return np.inf
    dt = 1.0 / rate
    while 1.0 - dt * rate < 0.0:  # round down to the exact floating-point limit
        dt = np.nextafter(dt, 0.0)
    return dt


def cfl_dt(grid: Grid, sde: SDE, t: float = 0.0, *, flux: str = "auto") -> float:
    """The largest explicit Euler step for which ``I + dt A`` is a Markov (stochastic) matrix.

    ``dt = 1 / max_i(-A_ii)``, rounded down to the last floating-point number for which every
    diagonal entry of ``I + dt A`` is still ``>= 0`` (off-diagonal entries are always ``>= 0``).
    """
    return cfl_limit(generator(grid, sde, t, flux=flux))
