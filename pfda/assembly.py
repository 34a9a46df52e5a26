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

* ``method="numba"`` (default): the drift is evaluated at the face centres (inside a kernel from
  :func:`face_velocity_kernel` when it is a Numba point function, vectorised otherwise);
  one kernel computes the rates of every face once; a count pass and a fill pass then write the
  CSR arrays row by row. A row's columns come out sorted without sorting (lower neighbours from
  axis 0, the diagonal, upper neighbours from the last axis); only rows that wrap around a
  periodic axis are sorted, merging the neighbour an axis of two cells meets twice. Grids of at
  least ``_PARALLEL_MIN_CELLS`` cells use the threaded kernels. The grid's shape, strides and
  boundary flags reach the kernels as tuples, so each is compiled per dimension with its axis
  loops unrolled (about twice as fast as looping over arrays of runtime length). Every kernel
  is cached on disk: a Numba point drift reaches them as a first-class function
  (:mod:`pfda.compiled`).
* ``method="numpy"``: vectorised NumPy rates and a SciPy COO assembly, the plain reference.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
import scipy.sparse as sp
from numba import prange

from .compiled import call_point
from .fluxes import face_rates_numpy, face_rates_scaled
from .grid import Grid
from .models import SDE

__all__ = [
    "FLUXES",
    "cfl_dt",
    "cfl_limit",
    "face_velocities",
    "generator",
    "face_velocity_kernel",
    "face_velocity_serial",
]

FLUXES = ("auto", "upwind", "sg")
_CHUNKS = 256  # parallel loops run over this many blocks of cells, each with its own scratch
# below this many cells the serial kernels win: a parallel region on a busy machine can wait a
# whole scheduler slice for its second thread
_PARALLEL_MIN_CELLS = 32768


@numba.njit(inline="always")
def _unravel(i, cells, strides, ix):
    """The multi-index of flat cell ``i`` into ``ix`` (``cells``, ``strides``: tuples)."""
    for k in range(len(cells)):
        ix[k] = (i // strides[k]) % cells[k]


@numba.njit(inline="always")
def advance_index(cells, ix):
    """Step the multi-index ``ix`` to the next cell in C order (no division)."""
    k = len(cells) - 1
    ix[k] += 1
    while k > 0 and ix[k] == cells[k]:
        ix[k] = 0
        k -= 1
        ix[k] += 1


# ---------------------------------------------------------------------------------------------
# drift at the faces
# ---------------------------------------------------------------------------------------------
@numba.njit(inline="always")
def _velocity_chunk(f, t, lower, widths, cells, strides, absorbing, vel_up, vel_lo, lo, hi):
    """Faces of cells ``lo .. hi-1``; returns whether every value was finite."""
    d = len(cells)
    x = np.empty(d)  # one face centre, reused by the whole chunk
    v = np.empty(d)
    ix = np.empty(d, dtype=np.int64)
    finite = True
    _unravel(lo, cells, strides, ix)
    for i in range(lo, hi):
        for k in range(d):
            x[k] = lower[k] + (ix[k] + 0.5) * widths[k]
        for k in range(d):
            xk = x[k]
            x[k] = xk + 0.5 * widths[k]
            call_point(f, x, t, v)
            vel_up[k, i] = v[k]
            finite = finite and np.isfinite(v[k])
            if absorbing[k] and ix[k] == 0:
                x[k] = xk - 0.5 * widths[k]
                call_point(f, x, t, v)
                vel_lo[k, i] = v[k]
                finite = finite and np.isfinite(v[k])
            x[k] = xk
        advance_index(cells, ix)
    return finite


@numba.njit(parallel=True, cache=True)
def face_velocity_kernel(f, t, lower, widths, cells, strides, absorbing, vel_up, vel_lo):
    """A point drift at every face centre (``f``: its address from
    :func:`pfda.compiled.point_function`).

    Fills ``vel_up[k, i]`` with ``f_k`` at the centre of the upper face of cell ``i`` along axis
    ``k`` and ``vel_lo[k, i]`` with ``f_k`` at the lower face of the first cell of an absorbing
    axis (``lower``, ``widths``: arrays; ``cells``, ``strides``, ``absorbing``: tuples of ``d``
    ints or bools). Returns ``False`` if a value was not finite.
    """
    n_total = vel_up.shape[1]
    n_chunks = min(n_total, _CHUNKS)
    finite = np.ones(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        finite[c] = _velocity_chunk(f, t, lower, widths, cells, strides, absorbing, vel_up,
                                    vel_lo, c * n_total // n_chunks,
                                    (c + 1) * n_total // n_chunks)  # fmt: skip
    return np.all(finite)


@numba.njit(cache=True)
def face_velocity_serial(f, t, lower, widths, cells, strides, absorbing, vel_up, vel_lo):
    """:func:`face_velocity_kernel` on one thread (small grids, and inside other kernels)."""
    return _velocity_chunk(f, t, lower, widths, cells, strides, absorbing, vel_up, vel_lo, 0,
                           vel_up.shape[1])  # fmt: skip


def _face_velocities_fused(
    grid: Grid, sde: SDE, t: float, parallel: bool, vel_up: np.ndarray | None = None
):
    kernel = face_velocity_kernel if parallel else face_velocity_serial
    d, n = grid.ndim, grid.size
    if vel_up is None:
        vel_up = np.empty((d, n))
    vel_lo = np.zeros((d, n if any(grid.absorbing) else 1))
    finite = kernel(
        sde.point_drift(d),
        float(t),
        grid.lower,
        grid.widths,
        tuple(int(c) for c in grid.cells),
        tuple(int(s) for s in grid.strides),
        tuple(bool(a) for a in grid.absorbing),
        vel_up,
        vel_lo,
    )
    if not finite:
        raise ValueError(
            "drift returned NaN or inf at a face centre: check the model on the whole box"
        )
    return vel_up, vel_lo


def _face_velocities_vectorised(grid: Grid, sde: SDE, t: float) -> tuple[np.ndarray, np.ndarray]:
    """A vectorised drift at the face centres, shifting one coordinate of one copy at a time.

    Used by both assembly methods (a Numba point drift goes through ``SDE.drift_at`` here);
    ``vel_lo`` holds only the first cells of absorbing axes (``(d, 1)`` when there are none).
    """
    d, n = grid.ndim, grid.size
    centers = grid.centers
    face = np.array(centers)
    vel_up = np.empty((d, n))
    for k in range(d):
        np.add(centers[k], 0.5 * grid.widths[k], out=face[k])
        vel_up[k] = sde.drift_at(face, t)[k]
        face[k] = centers[k]
    if not any(grid.absorbing):
        return vel_up, np.zeros((d, 1))
    vel_lo = np.zeros((d, n))
    for k in range(d):
        if grid.absorbing[k]:
            first = _first_cells(grid, k)
            pts = np.array(centers[:, first])
            pts[k] -= 0.5 * grid.widths[k]
            vel_lo[k, first] = sde.drift_at(pts, t)[k]
    return vel_up, vel_lo


def face_velocities(grid: Grid, sde: SDE, t: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The drift's normal component at every face centre, as the generator uses it.

    Returns ``(vel_up, vel_lo)``: ``vel_up[k, i]`` is ``f_k`` at the centre of the upper face of
    cell ``i`` along axis ``k`` (also where that face is a boundary); ``vel_lo[k, i]`` is ``f_k``
    at the lower face of the first cells of absorbing axes (shape ``(d, 1)`` when no axis
    absorbs). A Numba point drift is evaluated inside a compiled kernel, any other vectorised.
    Raises ``ValueError`` where the drift is not finite.
    """
    if sde.jitted:
        return _face_velocities_fused(grid, sde, t, grid.size >= _PARALLEL_MIN_CELLS)
    return _face_velocities_vectorised(grid, sde, t)  # SDE.drift_at checks every value


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
# Numba CSR assembly: face rates once, then the rows in column order
# ---------------------------------------------------------------------------------------------
@numba.njit(inline="always")
def _rates_chunk(
    lo, hi, vel_up, vel_lo, widths, cells, strides, periodic, absorbing, sg, dcoef, fwd, bwd,
    lo_out,
):  # fmt: skip
    """Rates of the upper faces of cells ``lo <= i < hi``.

    ``fwd[k, i]`` (L -> R) and ``bwd[k, i]`` (R -> L) across the face between cell ``i`` and its
    upper neighbour along axis ``k`` (``0`` where there is no such face; at an absorbing upper
    boundary ``fwd`` is the outflow), and ``lo_out[k, i]``, the outflow through the lower face
    of the first cell of an absorbing axis.

    Axis by axis, the chunk splits into runs of consecutive cells that share their index along
    that axis (``strides[k]`` cells each); every run takes one branch for its whole length, so
    the inner loops are straight and vectorise.
    """
    d = len(cells)
    per_cell = dcoef.shape[1] > 1  # state-dependent diffusion: one value per cell
    for k in range(d):
        nk = cells[k]
        s = strides[k]
        h = widths[k]
        inv_h = 1.0 / h  # multiplications, not divisions, in the loops
        c2 = 0.5 * inv_h * inv_h
        sgk = sg[k]
        dk = dcoef[k, 0]
        ik = (lo // s) % nk
        i = lo
        end = min(hi, lo - lo % s + s)
        while i < hi:
            if ik < nk - 1 or (periodic[k] and nk > 1):
                shift = s if ik < nk - 1 else -(nk - 1) * s  # the upper neighbour
                if per_cell:
                    for j in range(i, end):
                        fwd[k, j], bwd[k, j] = face_rates_scaled(
                            vel_up[k, j], h, inv_h, c2, dcoef[k, j], dcoef[k, j + shift], sgk
                        )
                else:
                    for j in range(i, end):
                        fwd[k, j], bwd[k, j] = face_rates_scaled(
                            vel_up[k, j], h, inv_h, c2, dk, dk, sgk
                        )
            elif absorbing[k]:  # absorbing upper boundary: outflow only
                for j in range(i, end):
                    dj = dcoef[k, j] if per_cell else dk
                    out, _ = face_rates_scaled(vel_up[k, j], h, inv_h, c2, dj, dj, sgk)
                    fwd[k, j] = out
                    bwd[k, j] = 0.0
            else:
                for j in range(i, end):
                    fwd[k, j] = 0.0
                    bwd[k, j] = 0.0
            if ik == 0 and absorbing[k]:
                for j in range(i, end):
                    dj = dcoef[k, j] if per_cell else dk
                    _, out = face_rates_scaled(vel_lo[k, j], h, inv_h, c2, dj, dj, sgk)
                    lo_out[k, j] = out
            i = end
            end = min(hi, end + s)
            ik = ik + 1 if ik < nk - 1 else 0


@numba.njit(parallel=True, cache=True)
def _face_rates(
    vel_up, vel_lo, widths, cells, strides, periodic, absorbing, sg, dcoef, fwd, bwd, lo_out
):
    n_total = fwd.shape[1]
    n_chunks = min(n_total, _CHUNKS)
    for c in prange(n_chunks):
        lo, hi = c * n_total // n_chunks, (c + 1) * n_total // n_chunks
        _rates_chunk(
            lo, hi, vel_up, vel_lo, widths, cells, strides, periodic, absorbing, sg, dcoef,
            fwd, bwd, lo_out,
        )  # fmt: skip


@numba.njit(cache=True)
def _face_rates_serial(
    vel_up, vel_lo, widths, cells, strides, periodic, absorbing, sg, dcoef, fwd, bwd, lo_out
):
    _rates_chunk(
        0, fwd.shape[1], vel_up, vel_lo, widths, cells, strides, periodic, absorbing, sg, dcoef,
        fwd, bwd, lo_out,
    )  # fmt: skip


@numba.njit(inline="always")
def _row(i, ix, fwd, bwd, lo_out, cells, strides, periodic, absorbing, cols, vals):
    """Row ``i`` (multi-index ``ix``) of ``A``, the inflow rates and the diagonal, into
    ``cols``/``vals`` sorted by column with duplicates merged; returns the number of entries
    (zero inflows are left out)."""
    d = len(cells)
    diag = 0.0
    wraps = False
    for k in range(d):
        nk = cells[k]
        ik = ix[k]
        diag -= fwd[k, i]
        if ik > 0:
            diag -= bwd[k, i - strides[k]]
        elif periodic[k] and nk > 1:
            diag -= bwd[k, i + (nk - 1) * strides[k]]
            wraps = True
        elif absorbing[k]:
            diag -= lo_out[k, i]
        if ik == nk - 1 and periodic[k] and nk > 1:
            wraps = True
    # lower neighbours (axis 0 has the largest stride), the diagonal, upper neighbours: without
    # a periodic wrap these columns are already increasing
    m = 0
    for k in range(d):
        nk = cells[k]
        ik = ix[k]
        if ik > 0:
            j = i - strides[k]
        elif periodic[k] and nk > 1:
            j = i + (nk - 1) * strides[k]
        else:
            continue
        val = fwd[k, j]
        if val != 0.0:
            cols[m] = j
            vals[m] = val
            m += 1
    cols[m] = i
    vals[m] = diag
    m += 1
    for k in range(d - 1, -1, -1):
        nk = cells[k]
        ik = ix[k]
        if ik < nk - 1:
            j = i + strides[k]
        elif periodic[k] and nk > 1:
            j = i - (nk - 1) * strides[k]
        else:
            continue
        val = bwd[k, i]
        if val != 0.0:
            cols[m] = j
            vals[m] = val
            m += 1
    if not wraps:
        return m
    # a periodic wrap: insertion sort, merging a neighbour met twice (an axis of two cells)
    out = 0
    for a in range(m):
        c = cols[a]
        v = vals[a]
        pos = out
        while pos > 0 and cols[pos - 1] > c:
            pos -= 1
        if pos > 0 and cols[pos - 1] == c:
            vals[pos - 1] += v
            continue
        for b in range(out, pos, -1):
            cols[b] = cols[b - 1]
            vals[b] = vals[b - 1]
        cols[pos] = c
        vals[pos] = v
        out += 1
    return out


@numba.njit(inline="always")
def _count_chunk(lo, hi, fwd, bwd, lo_out, cells, strides, periodic, absorbing, counts):
    """``counts[i]`` for rows ``lo <= i < hi``: the entries :func:`_row` writes."""
    d = len(cells)
    cols = np.empty(2 * d + 1, dtype=np.int64)
    vals = np.empty(2 * d + 1)
    ix = np.empty(d, dtype=np.int64)
    _unravel(lo, cells, strides, ix)
    for i in range(lo, hi):
        m = 1
        wraps = False
        for k in range(d):
            nk = cells[k]
            if ix[k] > 0:
                m += fwd[k, i - strides[k]] != 0.0
            elif periodic[k] and nk > 1:
                wraps = True
            if ix[k] < nk - 1:
                m += bwd[k, i] != 0.0
            elif periodic[k] and nk > 1:
                wraps = True
        if wraps:
            m = _row(i, ix, fwd, bwd, lo_out, cells, strides, periodic, absorbing, cols, vals)
        counts[i] = m
        advance_index(cells, ix)


@numba.njit(cache=True)
def _fill_sorted_row(
    i, ix, fwd, bwd, lo_out, cells, strides, periodic, absorbing, indices, data, first, cols, vals
):
    """A row that wraps around a periodic axis, through :func:`_row`'s sort."""
    m = _row(i, ix, fwd, bwd, lo_out, cells, strides, periodic, absorbing, cols, vals)
    for a in range(m):
        indices[first + a] = cols[a]
        data[first + a] = vals[a]


@numba.njit(inline="always")
def _fill_chunk(
    lo, hi, fwd, bwd, lo_out, cells, strides, periodic, absorbing, indptr, indices, data
):
    """Rows ``lo <= i < hi`` into the CSR arrays: the diagonal, and whether the row wraps
    around a periodic axis, first; then the row in column order straight into place.

    This repeats :func:`_row` without its periodic cases on purpose: calling ``_row`` here,
    writing at an offset into the CSR arrays, measured four times slower (15 ms against
    3.7 ms for a 64^3 grid, serial)."""
    d = len(cells)
    cols = np.empty(2 * d + 1, dtype=np.int64)
    vals = np.empty(2 * d + 1)
    ix = np.empty(d, dtype=np.int64)
    _unravel(lo, cells, strides, ix)
    for i in range(lo, hi):
        first = indptr[i]
        wraps = False
        diag = 0.0
        for k in range(d):
            nk = cells[k]
            ik = ix[k]
            diag -= fwd[k, i]
            if ik > 0:
                diag -= bwd[k, i - strides[k]]
            elif periodic[k] and nk > 1:
                wraps = True
            elif absorbing[k]:
                diag -= lo_out[k, i]
            if ik == nk - 1 and periodic[k] and nk > 1:
                wraps = True
        if wraps:
            _fill_sorted_row(
                i, ix, fwd, bwd, lo_out, cells, strides, periodic, absorbing, indices, data,
                first, cols, vals,
            )  # fmt: skip
        else:
            a = first
            for k in range(d):  # lower neighbours: axis 0 has the largest stride
                if ix[k] > 0:
                    j = i - strides[k]
                    val = fwd[k, j]
                    if val != 0.0:
                        indices[a] = j
                        data[a] = val
                        a += 1
            indices[a] = i
            data[a] = diag
            a += 1
            for k in range(d - 1, -1, -1):  # upper neighbours
                if ix[k] < cells[k] - 1:
                    val = bwd[k, i]
                    if val != 0.0:
                        indices[a] = i + strides[k]
                        data[a] = val
                        a += 1
        advance_index(cells, ix)


@numba.njit(parallel=True, cache=True)
def _count_rows(fwd, bwd, lo_out, cells, strides, periodic, absorbing, counts):
    n_total = fwd.shape[1]
    n_chunks = min(n_total, _CHUNKS)
    for c in prange(n_chunks):
        lo, hi = c * n_total // n_chunks, (c + 1) * n_total // n_chunks
        _count_chunk(lo, hi, fwd, bwd, lo_out, cells, strides, periodic, absorbing, counts)


@numba.njit(cache=True)
def _count_rows_serial(fwd, bwd, lo_out, cells, strides, periodic, absorbing, counts):
    _count_chunk(0, fwd.shape[1], fwd, bwd, lo_out, cells, strides, periodic, absorbing, counts)


@numba.njit(parallel=True, cache=True)
def _fill_rows(fwd, bwd, lo_out, cells, strides, periodic, absorbing, indptr, indices, data):
    n_total = fwd.shape[1]
    n_chunks = min(n_total, _CHUNKS)
    for c in prange(n_chunks):
        lo, hi = c * n_total // n_chunks, (c + 1) * n_total // n_chunks
        _fill_chunk(
            lo, hi, fwd, bwd, lo_out, cells, strides, periodic, absorbing, indptr, indices, data
        )


@numba.njit(cache=True)
def _fill_rows_serial(fwd, bwd, lo_out, cells, strides, periodic, absorbing, indptr, indices, data):
    _fill_chunk(
        0, fwd.shape[1], fwd, bwd, lo_out, cells, strides, periodic, absorbing, indptr, indices,
        data,
    )  # fmt: skip


@numba.njit(cache=True)
def _prefix_sum(counts, indptr):
    """``indptr = [0, cumsum(counts)]`` in ``indptr``'s own integer type (NumPy's ``cumsum``
    into a narrower type takes a slow casting path)."""
    total = 0
    indptr[0] = 0
    for i in range(counts.shape[0]):
        total += counts[i]
        indptr[i + 1] = total


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
        The Numba CSR kernels, or the plain NumPy/SciPy COO reference.

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
        dcoef = sde.constant_diffusion(grid.ndim)[:, None].copy()  # (d, 1): one value per axis
    if method == "numpy":
        vel_up, vel_lo = _face_velocities_vectorised(grid, sde, t)
        dcoef = np.broadcast_to(dcoef, (grid.ndim, grid.size))
        return _assemble_coo(grid, vel_up, vel_lo, dcoef, sg)
    return _assemble_numba(grid, sde, t, dcoef, sg)


_SCRATCH = threading.local()


def _scratch(d: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Face-velocity, face-rate and row-count work arrays, kept per thread so repeated
    assembly of one grid size does not pay for fresh pages every call (they never leave
    :func:`_assemble_numba`)."""
    work = getattr(_SCRATCH, "work", None)
    if work is None or work[0].shape != (d, n):
        work = tuple(np.empty((d, n)) for _ in range(3)) + (np.empty(n, dtype=np.int64),)
        _SCRATCH.work = work
    return work


def _assemble_numba(grid: Grid, sde: SDE, t: float, dcoef: np.ndarray, sg: np.ndarray):
    d, n = grid.ndim, grid.size
    # tuples: the kernels are compiled per dimension with their axis loops unrolled
    cells = tuple(int(c) for c in grid.cells)
    strides = tuple(int(s) for s in grid.strides)
    periodic = tuple(bool(p) for p in grid.periodic)
    absorbing = tuple(bool(a) for a in grid.absorbing)
    sg = tuple(bool(f) for f in sg)
    parallel = n >= _PARALLEL_MIN_CELLS
    vel_up, fwd, bwd, counts = _scratch(d, n)
    if sde.jitted:
        vel_up, vel_lo = _face_velocities_fused(grid, sde, t, parallel, vel_up)
    else:
        vel_up, vel_lo = _face_velocities_vectorised(grid, sde, t)
    lo_out = np.empty((d, n if any(absorbing) else 1))
    face_rates_kernel = _face_rates if parallel else _face_rates_serial
    face_rates_kernel(
        vel_up, vel_lo, grid.widths, cells, strides, periodic, absorbing, sg, dcoef, fwd, bwd,
        lo_out,
    )  # fmt: skip
    count_rows = _count_rows if parallel else _count_rows_serial
    count_rows(fwd, bwd, lo_out, cells, strides, periodic, absorbing, counts)
    nnz = int(counts.sum())
    index_dtype = np.int32 if max(nnz, n) < np.iinfo(np.int32).max else np.int64
    indptr = np.empty(n + 1, dtype=index_dtype)
    _prefix_sum(counts, indptr)
    indices = np.empty(nnz, dtype=index_dtype)
    data = np.empty(nnz)
    fill_rows = _fill_rows if parallel else _fill_rows_serial
    fill_rows(fwd, bwd, lo_out, cells, strides, periodic, absorbing, indptr, indices, data)
    A = sp.csr_matrix((data, indices, indptr), shape=(n, n), copy=False)
    A.has_canonical_format = True  # rows sorted by column, no duplicates
    return A


def cfl_limit(A: sp.spmatrix) -> float:
    """Largest ``dt`` with ``I + dt A`` entry-wise non-negative (``inf`` without a diagonal)."""
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
