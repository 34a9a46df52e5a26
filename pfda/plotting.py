"""Pictures of grid densities and filter results (needs the ``plot`` extra: matplotlib).

The density drawn is the piecewise-constant ``rho = p_i / V`` of the cell probabilities; a
marginal on one axis is ``sum`` of ``p`` over the other axes divided by the cell width on that
axis. Matplotlib is imported inside the functions, so ``import pfda`` never loads it; without a
display the non-interactive Agg backend is chosen (:func:`pyplot`).

Every function takes a result of either mesh (:class:`pfda.FilterResult`): the density of step
``k`` is drawn on that step's grid, ``result.grid_at(k)`` — the filter's grid on a fixed mesh,
the window's own cells on a window mesh. On a periodic axis a window may straddle the seam (its
cells are in an unwrapped coordinate); the time-vs-space picture then also draws the part
beyond the seam one period over, inside the domain.

Every function returns the matplotlib object it drew on (an ``Axes`` or a ``Figure``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from . import diagnostics

__all__ = [
    "pyplot",
    "plot_density_1d",
    "plot_marginals",
    "plot_density_2d",
    "plot_mean_band",
    "plot_window",
    "save_summary_figures",
]


def pyplot():
    """``matplotlib.pyplot``, with the Agg backend where there is no display.

    Raises
    ------
    ImportError
        Naming the ``plot`` extra, if matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError("pfda's plots need matplotlib: pip install 'pfda[plot]'") from err
    no_display = (
        os.name != "nt" and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
    )
    if no_display and "matplotlib.pyplot" not in sys.modules:
        backend = matplotlib.get_backend().lower()
        if "inline" not in backend and backend != "agg":
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize=(7, 4)):
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _marginal_density(grid, p, axis: int) -> np.ndarray:
    return diagnostics.marginal(grid, p, axis) / grid.widths[axis]


def _truth(truth, K: int) -> np.ndarray | None:
    return None if truth is None else np.asarray(truth, dtype=float).reshape(K, -1)


def _beside(value: float, grid, domain, axis: int) -> float:
    """``value`` moved by whole periods next to ``grid`` on a periodic axis of ``domain`` (a
    window's cells are in an unwrapped coordinate; a wrapped truth may lie one period off)."""
    if not domain.periodic[axis]:
        return value
    length = domain.upper[axis] - domain.lower[axis]
    centre = 0.5 * (grid.lower[axis] + grid.upper[axis])
    return value - np.round((value - centre) / length) * length


def _time_edges(times: np.ndarray) -> np.ndarray:
    if times.size > 1:
        mid = 0.5 * (times[1:] + times[:-1])
        return np.concatenate([[2 * times[0] - mid[0]], mid, [2 * times[-1] - mid[-1]]])
    return np.array([times[0] - 0.5, times[0] + 0.5])


def _masked(shape) -> np.ma.MaskedArray:
    """All masked, over zeros: ``np.ma.masked_all`` leaves uninitialised values under the
    mask, which the colour map still multiplies (and may overflow on)."""
    return np.ma.array(np.zeros(shape), mask=True)


def _window_columns(ax, result, t_edges, dens, axis: int, cmap: str):
    """One column of quads per step on that step's own faces; returns the meshes drawn.

    A column ``k`` spans ``t_edges[k:k+2]`` and the faces of ``grid_at(k)`` on ``axis``; the
    quads between columns have no width and are masked. On a periodic axis the columns are
    drawn again one period up or down where they cross the domain's bounds.
    """
    from matplotlib.colors import Normalize

    K, n = dens.shape
    faces = np.stack([result.grid_at(k).edges[axis] for k in range(K)])  # (K, n + 1)
    X = np.repeat(np.stack([t_edges[:-1], t_edges[1:]], axis=1).ravel()[None, :], n + 1, axis=0)
    Y = np.repeat(faces.T, 2, axis=1)  # (n + 1, 2K)
    C = _masked((n, 2 * K - 1))
    C[:, ::2] = dens.T
    norm = Normalize(vmin=0.0, vmax=float(dens.max()) or 1.0)
    meshes = [ax.pcolormesh(X, Y, C, shading="flat", cmap=cmap, norm=norm)]
    dom = result.grid
    if dom.periodic[axis]:
        lo, hi = float(dom.lower[axis]), float(dom.upper[axis])
        length = hi - lo
        for shift in (-length, length):
            inside = (faces[:, -1] + shift > lo) & (faces[:, 0] + shift < hi)
            if not inside.any():
                continue
            Cs = _masked(C.shape)
            Cs[:, 2 * np.flatnonzero(inside)] = dens[inside].T
            meshes.append(ax.pcolormesh(X, Y + shift, Cs, shading="flat", cmap=cmap, norm=norm))
        ax.set_ylim(lo, hi)
    return meshes


def plot_density_1d(result, truth=None, ax=None, axis: int = 0, cmap: str = "magma"):
    """Heat-map of the posterior (marginal) density on ``axis`` against time.

    On a fixed mesh one image; on a window each time column is drawn on that step's cells.

    Parameters
    ----------
    result : FilterResult
    truth : array (K, d) or (K,), optional
        Overlaid as a line.
    ax : matplotlib Axes, optional
    axis : int
        Which state axis to show (the others are summed out).
    """
    ax = _axes(ax)
    times = np.asarray(result.times)
    dens = np.stack(
        [_marginal_density(result.grid_at(k), p, axis) for k, p in enumerate(result.probabilities)]
    )
    t_edges = _time_edges(times)
    if result.mesh == "fixed":
        grid = result.grid
        mesh = ax.pcolormesh(t_edges, grid.edges[axis], dens.T, shading="flat", cmap=cmap)
    else:
        mesh = _window_columns(ax, result, t_edges, dens, axis, cmap)[0]
    ax.figure.colorbar(mesh, ax=ax, label="posterior density")
    tr = _truth(truth, times.size)
    if tr is not None:
        ax.plot(times, tr[:, axis], color="cyan", lw=1.2, label="truth")
        ax.legend(loc="upper right")
    ax.set_xlabel("t")
    ax.set_ylabel(f"x{axis + 1}" if result.grid.ndim > 1 else "x")
    ax.set_title("posterior density over time" + (" (window)" if result.mesh != "fixed" else ""))
    return ax


def plot_marginals(result, k, axis: int = 0, ax=None, truth=None, label_times: bool = True):
    """The marginal density on ``axis`` at the step(s) ``k`` (an int or a sequence of ints),
    each on the grid of its step."""
    ax = _axes(ax)
    steps = [k] if np.isscalar(k) else list(k)
    tr = _truth(truth, len(result.times))
    for j in steps:
        grid = result.grid_at(j)
        label = f"t = {result.times[j]:.3g}" if label_times else None
        line = ax.step(
            grid.axes[axis],
            _marginal_density(grid, result.probabilities[j], axis),
            where="mid",
            label=label,
        )[0]
        if tr is not None:
            x = _beside(tr[j, axis], grid, result.grid, axis)
            ax.axvline(x, color=line.get_color(), ls=":", lw=1)
    ax.set_xlabel(f"x{axis + 1}" if result.grid.ndim > 1 else "x")
    ax.set_ylabel("density")
    if label_times:
        ax.legend()
    return ax


def plot_density_2d(grid, p, ax=None, axes=(0, 1), cmap: str = "viridis", colorbar: bool = True):
    """The (marginal) density of ``p`` on two grid axes as an image.

    ``grid`` is the grid ``p`` lives on: for step ``k`` of a result, ``result.grid_at(k)``.
    """
    ax = _axes(ax, figsize=(5, 4))
    a, b = axes
    pm = diagnostics.marginal(grid, p, (a, b)) / (grid.widths[a] * grid.widths[b])
    mesh = ax.pcolormesh(grid.edges[a], grid.edges[b], pm.T, shading="flat", cmap=cmap)
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label="density")
    ax.set_xlabel(f"x{a + 1}")
    ax.set_ylabel(f"x{b + 1}")
    return ax


def plot_mean_band(result, truth=None, axis: int = 0, ax=None):
    """Posterior mean +- 2 standard deviations on ``axis`` against time, with the truth."""
    ax = _axes(ax)
    t = np.asarray(result.times)
    m, s = result.mean[:, axis], result.std[:, axis]
    ax.fill_between(t, m - 2 * s, m + 2 * s, alpha=0.3, label="mean ± 2 sd")
    ax.plot(t, m, lw=1.5, label="posterior mean")
    tr = _truth(truth, t.size)
    if tr is not None:
        ax.plot(t, tr[:, axis], "k--", lw=1, label="truth")
    ax.set_xlabel("t")
    ax.set_ylabel(f"x{axis + 1}" if result.grid.ndim > 1 else "x")
    ax.legend(loc="best")
    return ax


def plot_window(result, ax=None):
    """The grid's width on each axis (``cells * cell width``) against time, next to ten
    posterior standard deviations: how a window follows the posterior (constant on a fixed
    mesh)."""
    ax = _axes(ax)
    t = np.asarray(result.times)
    cells = np.asarray(result.grid.cells)
    for a in range(result.grid.ndim):
        colour = f"C{a % 10}"
        name = f"x{a + 1}" if result.grid.ndim > 1 else "x"
        ax.semilogy(t, result.widths[:, a] * cells[a], colour, label=f"grid width {name}")
        ax.semilogy(t, 10 * result.std[:, a], colour + "--", label=f"10 sd {name}")
    ax.set_xlabel("t")
    ax.legend(fontsize=7, loc="best")
    ax.set_title(f"the {result.mesh} grid and the posterior")
    return ax


def save_summary_figures(result, truth, out_dir, prefix: str = "") -> list[Path]:
    """Write the standard pictures of a run to ``out_dir``; returns the PNG paths.

    1-D: the density heat-map over time with the truth, the mean ± 2 sd band, and the density at
    four times. 2-D and 3-D: the band per axis, and the density on the first two axes (and on
    the first and last for 3-D) at four times, each on its step's grid. A window mesh adds
    ``window.png``, the window's widths against the posterior standard deviations.
    """
    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ndim = result.grid.ndim
    K = len(result.times)
    picks = sorted(set(np.linspace(0, K - 1, min(4, K)).round().astype(int).tolist()))
    paths = []

    def save(fig, name):
        path = out / f"{prefix}{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    if result.mesh != "fixed":
        save(plot_window(result).figure, "window")
    if ndim == 1:
        ax = plot_density_1d(result, truth)
        save(ax.figure, "density")
        ax = plot_mean_band(result, truth)
        save(ax.figure, "mean_band")
        ax = plot_marginals(result, picks, truth=truth)
        ax.set_title("posterior density at a few times (dotted: truth)")
        save(ax.figure, "snapshots")
        return paths

    fig, axs = plt.subplots(ndim, 1, figsize=(7, 2.4 * ndim), sharex=True, layout="constrained")
    for a in range(ndim):
        plot_mean_band(result, truth, axis=a, ax=axs[a])
        if a < ndim - 1:
            axs[a].set_xlabel("")
    save(fig, "mean_band")
    tr = _truth(truth, K)
    planes = [(0, 1)] if ndim == 2 else [(0, 1), (0, ndim - 1)]
    for a, b in planes:
        fig, axs = plt.subplots(
            1, len(picks), figsize=(3.2 * len(picks), 3.0), layout="constrained", squeeze=False
        )
        for ax, j in zip(axs[0], picks, strict=True):
            grid = result.grid_at(j)
            plot_density_2d(grid, result.probabilities[j], ax=ax, axes=(a, b), colorbar=False)
            if tr is not None:
                x = _beside(tr[j, a], grid, result.grid, a)
                y = _beside(tr[j, b], grid, result.grid, b)
                ax.plot(x, y, "r+", ms=10, mew=2)
            ax.set_title(f"t = {result.times[j]:.3g}")
        save(fig, f"density_x{a + 1}x{b + 1}")
    return paths
