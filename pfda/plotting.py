"""Pictures of grid densities and filter results (needs the ``plot`` extra: matplotlib).

The density drawn is the piecewise-constant ``rho = p_i / V`` of the cell probabilities; a
marginal on one axis is ``sum`` of ``p`` over the other axes divided by the cell width on that
axis. Matplotlib is imported inside the functions, so ``import pfda`` never loads it; without a
display the non-interactive Agg backend is chosen.

Every function returns the matplotlib object it drew on (an ``Axes`` or a ``Figure``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import diagnostics

__all__ = [
    "plot_density_1d",
    "plot_marginals",
    "plot_density_2d",
    "plot_mean_band",
    "save_summary_figures",
]


def _pyplot():
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError("pfda's plots need matplotlib: pip install 'pfda[plot]'") from err
    no_display = (
        os.name != "nt" and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
    )
    if no_display and "matplotlib.pyplot" not in __import__("sys").modules:
        backend = matplotlib.get_backend().lower()
        if "inline" not in backend and backend != "agg":
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize=(7, 4)):
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _marginal_density(grid, p, axis: int) -> np.ndarray:
    return diagnostics.marginal(grid, p, axis) / grid.widths[axis]


def plot_density_1d(result, truth=None, ax=None, axis: int = 0, cmap: str = "magma"):
    """Heat-map of the posterior (marginal) density on ``axis`` against time.

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
    grid, times = result.grid, np.asarray(result.times)
    dens = np.stack([_marginal_density(grid, p, axis) for p in result.probabilities])
    if times.size > 1:
        mid = 0.5 * (times[1:] + times[:-1])
        t_edges = np.concatenate([[2 * times[0] - mid[0]], mid, [2 * times[-1] - mid[-1]]])
    else:
        t_edges = np.array([times[0] - 0.5, times[0] + 0.5])
    mesh = ax.pcolormesh(t_edges, grid.edges[axis], dens.T, shading="flat", cmap=cmap)
    ax.figure.colorbar(mesh, ax=ax, label="posterior density")
    if truth is not None:
        tr = np.asarray(truth, dtype=float).reshape(times.size, -1)[:, axis]
        ax.plot(times, tr, color="cyan", lw=1.2, label="truth")
        ax.legend(loc="upper right")
    ax.set_xlabel("t")
    ax.set_ylabel(f"x{axis + 1}" if grid.ndim > 1 else "x")
    ax.set_title("posterior density over time")
    return ax


def plot_marginals(result, k, axis: int = 0, ax=None, truth=None, label_times: bool = True):
    """The marginal density on ``axis`` at the step(s) ``k`` (an int or a sequence of ints)."""
    ax = _axes(ax)
    grid = result.grid
    steps = [k] if np.isscalar(k) else list(k)
    x = grid.axes[axis]
    for j in steps:
        label = f"t = {result.times[j]:.3g}" if label_times else None
        line = ax.step(
            x, _marginal_density(grid, result.probabilities[j], axis), where="mid", label=label
        )[0]
        if truth is not None:
            tr = np.asarray(truth, dtype=float).reshape(len(result.times), -1)
            ax.axvline(tr[j, axis], color=line.get_color(), ls=":", lw=1)
    ax.set_xlabel(f"x{axis + 1}" if grid.ndim > 1 else "x")
    ax.set_ylabel("density")
    if label_times:
        ax.legend()
    return ax


def plot_density_2d(grid, p, ax=None, axes=(0, 1), cmap: str = "viridis", colorbar: bool = True):
    """The (marginal) density of ``p`` on two grid axes as an image."""
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
    if truth is not None:
        tr = np.asarray(truth, dtype=float).reshape(t.size, -1)[:, axis]
        ax.plot(t, tr, "k--", lw=1, label="truth")
    ax.set_xlabel("t")
    ax.set_ylabel(f"x{axis + 1}" if result.grid.ndim > 1 else "x")
    ax.legend(loc="best")
    return ax


def save_summary_figures(result, truth, out_dir, prefix: str = "") -> list[Path]:
    """Write the standard pictures of a run to ``out_dir``; returns the PNG paths.

    1-D: the density heat-map over time with the truth, the mean ± 2 sd band, and the density at
    four times. 2-D and 3-D: the band per axis, and the density on the first two axes (and on
    the first and last for 3-D) at four times.
    """
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    grid = result.grid
    K = len(result.times)
    picks = sorted(set(np.linspace(0, K - 1, min(4, K)).round().astype(int).tolist()))
    paths = []

    def save(fig, name):
        path = out / f"{prefix}{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    if grid.ndim == 1:
        ax = plot_density_1d(result, truth)
        save(ax.figure, "density")
        ax = plot_mean_band(result, truth)
        save(ax.figure, "mean_band")
        ax = plot_marginals(result, picks, truth=truth)
        ax.set_title("posterior density at a few times (dotted: truth)")
        save(ax.figure, "snapshots")
        return paths

    fig, axs = plt.subplots(
        grid.ndim, 1, figsize=(7, 2.4 * grid.ndim), sharex=True, layout="constrained"
    )
    for a in range(grid.ndim):
        plot_mean_band(result, truth, axis=a, ax=axs[a])
        if a < grid.ndim - 1:
            axs[a].set_xlabel("")
    save(fig, "mean_band")
    planes = [(0, 1)] if grid.ndim == 2 else [(0, 1), (0, grid.ndim - 1)]
    for a, b in planes:
        fig, axs = plt.subplots(
            1, len(picks), figsize=(3.2 * len(picks), 3.0), layout="constrained", squeeze=False
        )
        for ax, j in zip(axs[0], picks, strict=True):
            plot_density_2d(grid, result.probabilities[j], ax=ax, axes=(a, b), colorbar=False)
            if truth is not None:
                tr = np.asarray(truth, dtype=float).reshape(K, -1)
                ax.plot(tr[j, a], tr[j, b], "r+", ms=10, mew=2)
            ax.set_title(f"t = {result.times[j]:.3g}")
        save(fig, f"density_x{a + 1}x{b + 1}")
    return paths
