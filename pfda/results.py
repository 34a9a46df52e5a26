"""The result of a filter run, on either mesh, and its file format.

:class:`FilterResult` holds the posterior after every update: the cell probabilities on the
grid of that update (``grid_at(k)``: the filter's grid on a fixed mesh, the window's on a
window), their moments, the evidence increments, the mass that left the grid and the remaps.
Summaries that need the grid (marginals, credible intervals, quantiles, entropy) are computed on
the grid of each step. :meth:`FilterResult.save` writes an ``.npz`` file with the grids, the
arrays and the pfda version; :func:`load` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import diagnostics
from .grid import Grid
from .version import __version__

__all__ = ["FilterResult", "load"]

_NAMES = ("reflecting", "absorbing", "periodic")


@dataclass(frozen=True)
class FilterResult:
    """Output of :meth:`pfda.Filter.run`; time series have a leading axis of length ``K``.

    Attributes
    ----------
    grid : Grid
        The filter's grid (on a window mesh: the domain the window moves in).
    mesh : str
        ``"fixed"`` or ``"window"``.
    times : ndarray (K,)
    probabilities : ndarray (K, N)
        Posterior cell probabilities after each update, on :meth:`grid_at` ``(k)``.
    mean : ndarray (K, d)
        Posterior means (wrapped into the domain on periodic axes).
    cov : ndarray (K, d, d)
    log_evidence_increments : ndarray (K,)
        ``log p(y_k | y_{1:k-1})``.
    mass_lost : ndarray (K,)
        Predicted mass that left the grid (absorbing boundaries, a window's edges and moves)
        before each update.
    remaps : ndarray (K,)
        Remaps of the window in each interval, the zoom before the update included.
    lower, widths : ndarray (K, d)
        The grid's lower corner and cell widths at each update.
    codes : ndarray (K, d)
        Its boundary per axis (0 reflecting, 1 absorbing, 2 periodic).
    time_error : ndarray (K,)
        Estimated relative L1 error that the time steps left in each interval's propagated
        density (:mod:`pfda.stepcontrol`; ``0`` for a scheme exact in time).
    evidence_time_error : ndarray (K,)
        Estimated time error of each log-evidence increment (signed: computed minus exact).
    forecast : ndarray (K, N), optional
        The forecast (predictive) probabilities ``p(x_k | y_{1:k-1})`` before each update, on
        :meth:`forecast_grid` ``(k)`` (``Filter.run(..., forecasts=True)``; else ``None``).
    forecast_box : ndarray (K, 3, d), optional
        Their boxes: lower corner, cell widths, boundary codes.
    wall_time : float
        Seconds spent in :meth:`pfda.Filter.run`, compilation excluded.
    compile_time : float
        Seconds Numba spent compiling during the run (``0`` once the kernels are cached).
    """

    grid: Grid
    mesh: str
    times: np.ndarray
    probabilities: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    log_evidence_increments: np.ndarray
    mass_lost: np.ndarray
    remaps: np.ndarray
    lower: np.ndarray
    widths: np.ndarray
    codes: np.ndarray
    time_error: np.ndarray
    evidence_time_error: np.ndarray
    wall_time: float = field(default=0.0)
    compile_time: float = field(default=0.0)
    forecast: np.ndarray | None = field(default=None)
    forecast_box: np.ndarray | None = field(default=None)

    # -- series -------------------------------------------------------------------------------
    @property
    def log_evidence(self) -> float:
        """``log p(y_{1:K})``, the sum of the increments."""
        return float(np.sum(self.log_evidence_increments))

    @property
    def log_evidence_error(self) -> float:
        """Estimated bound on the time error of :attr:`log_evidence`: the sum of the
        increments' estimated errors in absolute value."""
        return float(np.sum(np.abs(self.evidence_time_error)))

    @property
    def std(self) -> np.ndarray:
        """Marginal posterior standard deviations ``(K, d)``."""
        return np.sqrt(np.diagonal(self.cov, axis1=1, axis2=2))

    def rmse(self, truth) -> float:
        """Root-mean-square error of the posterior mean against a true path ``(K, d)``."""
        truth = np.asarray(truth, dtype=float).reshape(self.mean.shape)
        return float(np.sqrt(np.mean(np.sum((self.mean - truth) ** 2, axis=1))))

    # -- grids --------------------------------------------------------------------------------
    def grid_at(self, k: int) -> Grid:
        """The grid of update ``k``."""
        if self.mesh == "fixed":
            return self.grid
        return self._grid_of(self.lower[k], self.widths[k], self.codes[k])

    def forecast_grid(self, k: int) -> Grid:
        """The grid of :attr:`forecast` ``[k]`` (a window's box before its zoom)."""
        if self.forecast_box is None:
            raise ValueError("no forecasts were kept: run the filter with forecasts=True")
        if self.mesh == "fixed":
            return self.grid
        return self._grid_of(*self.forecast_box[k])

    def _grid_of(self, lower, widths, codes) -> Grid:
        names = tuple(_NAMES[int(c)] for c in codes)
        upper = lower + widths * np.asarray(self.grid.cells)
        upper = np.where(codes == 2, self.grid.upper, upper)
        return Grid.trusted(lower, upper, self.grid.cells, names)

    def marginal(self, k: int, axes) -> np.ndarray:
        """Marginal cell probabilities of update ``k`` on ``axes`` (cells of :meth:`grid_at`)."""
        return diagnostics.marginal(self.grid_at(k), self.probabilities[k], axes)

    def credible_interval(self, k: int, axis: int = 0, level: float = 0.95):
        """Equal-tailed ``level`` interval of update ``k`` along ``axis``."""
        return diagnostics.credible_interval(self.grid_at(k), self.probabilities[k], axis, level)

    def quantiles(self, levels, axis: int = 0) -> np.ndarray:
        """Quantiles of the marginal along ``axis`` at every update, ``(K, len(levels))``.

        The marginal density is constant on each cell, so its distribution function is linear
        between the cell faces; the quantile is where it crosses the level.
        """
        levels = np.atleast_1d(np.asarray(levels, dtype=float))
        if np.any((levels < 0) | (levels > 1)):
            raise ValueError(f"levels must lie in [0, 1], got {levels.tolist()}")
        K = self.times.size
        n = self.grid.cells[axis]
        marg = np.stack([self.marginal(k, axis) for k in range(K)])  # (K, n)
        cdf = np.concatenate([np.zeros((K, 1)), np.cumsum(marg, axis=1)], axis=1)
        cdf /= cdf[:, -1:]
        faces = self.lower[:, axis, None] + self.widths[:, axis, None] * np.arange(n + 1)
        out = np.empty((K, levels.size))
        for k in range(K):
            out[k] = np.interp(levels, cdf[k], faces[k])
        return out

    def map_estimate(self) -> np.ndarray:
        """Centre of the most probable cell at every step, ``(K, d)``."""
        if self.mesh == "fixed":
            return diagnostics.map_estimate(self.grid, self.probabilities)
        return np.stack(
            [diagnostics.map_estimate(self.grid_at(k), p) for k, p in enumerate(self.probabilities)]
        )

    def entropy(self) -> np.ndarray:
        """Differential entropy of the posterior at every step, ``(K,)``."""
        if self.mesh == "fixed":
            return diagnostics.entropy(self.grid, self.probabilities)
        return np.array(
            [diagnostics.entropy(self.grid_at(k), p) for k, p in enumerate(self.probabilities)]
        )

    # -- files --------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the result to ``path`` (``.npz``): grids, arrays and the pfda version."""
        arrays = {
            name: getattr(self, name)
            for name in ("times", "probabilities", "mean", "cov", "log_evidence_increments",
                         "mass_lost", "remaps", "lower", "widths", "codes", "time_error",
                         "evidence_time_error")
        }  # fmt: skip
        np.savez_compressed(
            path,
            **arrays,
            grid_lower=self.grid.lower,
            grid_upper=self.grid.upper,
            grid_cells=np.asarray(self.grid.cells),
            grid_boundary=np.asarray(self.grid.boundary),
            mesh=np.asarray(self.mesh),
            times_s=np.asarray([self.wall_time, self.compile_time]),
            **{
                name: getattr(self, name)
                for name in ("forecast", "forecast_box")
                if getattr(self, name) is not None
            },  # fmt: skip
            version=np.asarray(__version__),
        )


def load(path) -> FilterResult:
    """Read a :class:`FilterResult` written by :meth:`FilterResult.save` (a file without the
    time-error estimates gives NaN, not estimated)."""
    with np.load(path, allow_pickle=False) as f:
        grid = Grid(f["grid_lower"], f["grid_upper"], f["grid_cells"],
                    tuple(str(b) for b in f["grid_boundary"]))  # fmt: skip
        names = ("times", "probabilities", "mean", "cov", "log_evidence_increments", "mass_lost",
                 "remaps", "lower", "widths", "codes", "time_error",
                 "evidence_time_error")  # fmt: skip
        wall, comp = (float(v) for v in f["times_s"])
        missing = np.full(len(f["times"]), np.nan)  # estimates of a file that predates them
        arrays = {n: f[n] if n in f.files or not n.endswith("time_error") else missing.copy()
                  for n in names}  # fmt: skip
        for name in ("forecast", "forecast_box"):
            if name in f.files:
                arrays[name] = f[name]
        return FilterResult(grid=grid, mesh=str(f["mesh"]), wall_time=wall, compile_time=comp,
                            **arrays)  # fmt: skip
