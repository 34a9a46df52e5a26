"""Tensor-product grids of finite volumes.

A grid covers the box ``[lower_0, upper_0] x ... x [lower_{d-1}, upper_{d-1}]`` with
``cells[k]`` equal cells of width ``h_k = (upper_k - lower_k) / cells[k]`` along axis ``k``.
Cells are flattened in C order (the last axis varies fastest), so cell ``(i_0, ..., i_{d-1})``
has flat index ``sum_k i_k * stride_k`` with ``stride_k = prod(cells[k+1:])``.

Each axis carries a boundary condition for the Fokker--Planck flux:

``reflecting``
    no flux through the boundary faces; probability mass is conserved.
``absorbing``
    mass that flows out of the box is lost (a homogeneous Dirichlet condition on the density);
    the filter reports how much.
``periodic``
    the last cell's upper face is the first cell's lower face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

BOUNDARIES = ("reflecting", "absorbing", "periodic")

__all__ = ["BOUNDARIES", "Grid"]


def _as_axis_vector(value, name: str, ndim: int | None = None) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a scalar or a 1-D sequence, got shape {arr.shape}")
    if ndim is not None and arr.shape[0] != ndim:
        if arr.shape[0] == 1:
            return np.full(ndim, arr[0])
        raise ValueError(f"{name} has {arr.shape[0]} entries but the grid has {ndim} axes")
    return arr


@dataclass(frozen=True, eq=False)
class Grid:
    """A box divided into ``prod(cells)`` equal finite volumes.

    Parameters
    ----------
    lower, upper : float or sequence of float
        Bounds of the box along each axis; ``upper[k] > lower[k]``.
    cells : int or sequence of int
        Number of cells along each axis (at least 1).
    boundary : str or sequence of str
        ``"reflecting"`` (default), ``"absorbing"`` or ``"periodic"``, for all axes or per axis.

    Examples
    --------
    >>> grid = Grid(lower=[-3.0], upper=[3.0], cells=[300])
    >>> grid.size, grid.ndim, grid.centers.shape
    (300, 1, (1, 300))
    """

    lower: np.ndarray
    upper: np.ndarray
    cells: tuple[int, ...]
    boundary: tuple[str, ...] = field(default=("reflecting",))

    def __init__(
        self,
        lower: float | Sequence[float],
        upper: float | Sequence[float],
        cells: int | Sequence[int],
        boundary: str | Sequence[str] = "reflecting",
    ) -> None:
        lo = _as_axis_vector(lower, "lower")
        up = _as_axis_vector(upper, "upper")
        cells_arr = np.atleast_1d(np.asarray(cells))
        ndim = max(lo.shape[0], up.shape[0], cells_arr.shape[0])
        lo = _as_axis_vector(lo, "lower", ndim)
        up = _as_axis_vector(up, "upper", ndim)
        if cells_arr.ndim != 1 or cells_arr.shape[0] not in (1, ndim):
            raise ValueError(f"cells must have one entry per axis ({ndim}), got {cells!r}")
        if not np.issubdtype(cells_arr.dtype, np.integer):
            if not np.all(np.equal(np.mod(cells_arr.astype(float), 1), 0)):
                raise ValueError(f"cells must be whole numbers, got {cells!r}")
            cells_arr = cells_arr.astype(np.int64)
        cells_arr = np.broadcast_to(cells_arr, (ndim,)).astype(np.int64)
        if ndim < 1:
            raise ValueError("a grid needs at least one axis")
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(up))):
            raise ValueError(f"grid bounds must be finite, got lower={lo}, upper={up}")
        bad = np.flatnonzero(up <= lo)
        if bad.size:
            k = int(bad[0])
            raise ValueError(
                f"upper must exceed lower on every axis, but on axis {k} "
                f"lower={lo[k]:g} >= upper={up[k]:g}: swap or widen the bounds"
            )
        if np.any(cells_arr < 1):
            raise ValueError(f"every axis needs at least one cell, got cells={cells_arr.tolist()}")
        if isinstance(boundary, str):
            bnd = (boundary,) * ndim
        else:
            bnd = tuple(boundary)
            if len(bnd) == 1:
                bnd = bnd * ndim
            if len(bnd) != ndim:
                raise ValueError(f"boundary needs one entry per axis ({ndim}), got {boundary!r}")
        for b in bnd:
            if b not in BOUNDARIES:
                raise ValueError(f"unknown boundary {b!r}: choose one of {', '.join(BOUNDARIES)}")
        lo.setflags(write=False)
        up.setflags(write=False)
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", up)
        object.__setattr__(self, "cells", tuple(int(c) for c in cells_arr))
        object.__setattr__(self, "boundary", bnd)

    @classmethod
    def trusted(cls, lower: np.ndarray, upper: np.ndarray, cells: tuple, boundary: tuple) -> Grid:
        """A grid from values already checked (float arrays, int tuple, boundary names): the
        constructor without its validation, for code that builds many grids (a moving window)."""
        grid = object.__new__(cls)
        lo = np.array(lower, dtype=float)
        up = np.array(upper, dtype=float)
        lo.setflags(write=False)
        up.setflags(write=False)
        object.__setattr__(grid, "lower", lo)
        object.__setattr__(grid, "upper", up)
        object.__setattr__(grid, "cells", cells)
        object.__setattr__(grid, "boundary", boundary)
        return grid

    # -- geometry ---------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        """Number of axes ``d``."""
        return len(self.cells)

    @property
    def shape(self) -> tuple[int, ...]:
        """Cells per axis, the shape of ``p.reshape(grid.shape)``."""
        return self.cells

    @property
    def size(self) -> int:
        """Total number of cells ``N``."""
        return int(np.prod(self.cells))

    @cached_property
    def widths(self) -> np.ndarray:
        """Cell widths ``h_k``, shape ``(d,)``."""
        h = (self.upper - self.lower) / np.asarray(self.cells, dtype=float)
        h.setflags(write=False)
        return h

    @property
    def cell_volume(self) -> float:
        """Volume of one cell, ``prod_k h_k``."""
        return float(np.prod(self.widths))

    @cached_property
    def strides(self) -> tuple[int, ...]:
        """Flat-index stride of each axis (C order)."""
        return tuple(int(np.prod(self.cells[k + 1 :])) for k in range(self.ndim))

    @cached_property
    def axes(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinates along each axis."""
        out = []
        for k in range(self.ndim):
            a = self.lower[k] + (np.arange(self.cells[k]) + 0.5) * self.widths[k]
            a.setflags(write=False)
            out.append(a)
        return tuple(out)

    @cached_property
    def edges(self) -> tuple[np.ndarray, ...]:
        """Cell-edge coordinates along each axis (``cells[k] + 1`` each)."""
        out = []
        for k in range(self.ndim):
            e = np.linspace(self.lower[k], self.upper[k], self.cells[k] + 1)
            e.setflags(write=False)
            out.append(e)
        return tuple(out)

    @cached_property
    def centers(self) -> np.ndarray:
        """Cell centres as a point set of shape ``(d, N)``, C-order flattened."""
        c = np.empty((self.ndim, self.size))
        for k, axis in enumerate(self.axes):
            view = [1] * self.ndim
            view[k] = self.cells[k]
            c[k].reshape(self.cells)[...] = axis.reshape(view)
        c.setflags(write=False)
        return c

    @property
    def periodic(self) -> tuple[bool, ...]:
        return tuple(b == "periodic" for b in self.boundary)

    @property
    def absorbing(self) -> tuple[bool, ...]:
        return tuple(b == "absorbing" for b in self.boundary)

    # -- helpers -----------------------------------------------------------------------------
    def reshape(self, p: np.ndarray) -> np.ndarray:
        """View a flat cell vector (or a ``(K, N)`` stack) on the grid's shape."""
        p = np.asarray(p)
        return p.reshape(p.shape[:-1] + self.shape)

    def density(self, p: np.ndarray) -> np.ndarray:
        """Cell probabilities -> density values (``p / cell_volume``)."""
        return np.asarray(p) / self.cell_volume

    def locate(self, x: Sequence[float] | np.ndarray) -> np.ndarray:
        """Flat indices of the cells containing the points ``x`` of shape ``(d, m)`` or ``(d,)``.

        Points outside the box are clipped to the nearest boundary cell.
        """
        x = np.asarray(x, dtype=float)
        single = x.ndim == 1
        x = x.reshape(self.ndim, -1)
        idx = np.zeros(x.shape[1], dtype=np.int64)
        for k in range(self.ndim):
            ik = np.floor((x[k] - self.lower[k]) / self.widths[k]).astype(np.int64)
            ik = np.clip(ik, 0, self.cells[k] - 1)
            idx += ik * self.strides[k]
        return idx[0] if single else idx

    def check_probabilities(self, p, name: str = "p") -> np.ndarray:
        """Validate a cell-probability vector and return it as a float array (no copy if possible).

        Raises
        ------
        ValueError
            If ``p`` has the wrong length, holds NaN/inf or negative entries, or has no mass.
        """
        arr = np.asarray(p, dtype=float)
        if arr.shape != (self.size,):
            raise ValueError(
                f"{name} must hold one probability per cell, shape ({self.size},), "
                f"got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or inf entries")
        if np.any(arr < 0):
            raise ValueError(
                f"{name} has negative entries (min {arr.min():.3g}): "
                "cell probabilities must be >= 0"
            )
        if arr.sum() <= 0:
            raise ValueError(f"{name} has zero total mass: nothing to propagate")
        return arr

    def __repr__(self) -> str:
        return (
            f"Grid(lower={self.lower.tolist()}, upper={self.upper.tolist()}, "
            f"cells={list(self.cells)}, boundary={list(self.boundary)})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return (
            np.array_equal(self.lower, other.lower)
            and np.array_equal(self.upper, other.upper)
            and self.cells == other.cells
            and self.boundary == other.boundary
        )

    def __hash__(self) -> int:
        return hash((tuple(self.lower), tuple(self.upper), self.cells, self.boundary))
