"""Pictures: each function draws and saves a non-empty PNG, on a fixed grid and on a window
(each step on its own cells); ``import pfda`` stays light."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import pfda
from pfda import cases

pytest.importorskip("matplotlib")

from pfda import plotting  # noqa: E402


@pytest.fixture(scope="module")
def results():
    out = {}
    for name, cells in (("double-well", 80), ("van-der-pol", 24)):
        setup = cases.get_case(name).build(cells=cells)
        sim = setup.simulate(seed=1, steps=12)
        out[name] = (setup.filter().run(setup.prior, sim.times, sim.ys), sim)
    for name, cells in (("double-well", 60), ("pendulum", 16)):
        setup = cases.get_case(name).build(cells=cells, mesh="window")
        sim = setup.simulate(seed=1, steps=12)
        out[name, "window"] = (setup.run(sim), sim)
    return out


def _seam_result() -> pfda.FilterResult:
    """A hand-made window result on the circle [-pi, pi): 10 cells of 0.1, at step 0 inside
    the domain, at step 1 straddling the seam (from 2.9 to 3.9, i.e. past pi)."""
    domain = pfda.Grid([-np.pi], [np.pi], [10], boundary="periodic")
    p = np.array([np.arange(1.0, 11.0), np.ones(10)])
    p /= p.sum(axis=1, keepdims=True)
    K = 2
    return pfda.FilterResult(
        grid=domain, mesh="window", times=np.array([0.1, 0.2]), probabilities=p,
        mean=np.zeros((K, 1)), cov=np.full((K, 1, 1), 0.01),
        log_evidence_increments=np.zeros(K), mass_lost=np.zeros(K),
        remaps=np.zeros(K, dtype=np.int64), lower=np.array([[0.0], [2.9]]),
        widths=np.full((K, 1), 0.1), codes=np.ones((K, 1)), time_error=np.zeros(K),
        evidence_time_error=np.zeros(K),
    )  # fmt: skip


def _save(ax_or_fig, path):
    import matplotlib.pyplot as plt

    fig = getattr(ax_or_fig, "figure", ax_or_fig)
    fig.savefig(path)
    plt.close(fig)
    assert path.stat().st_size > 1000
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_each_plot_writes_a_png(results, tmp_path):
    res, sim = results["double-well"]
    _save(plotting.plot_density_1d(res, truth=sim.truth), tmp_path / "d1.png")
    _save(plotting.plot_marginals(res, [0, 5, 11], truth=sim.truth), tmp_path / "m.png")
    _save(plotting.plot_mean_band(res, truth=sim.truth), tmp_path / "band.png")
    res2, _ = results["van-der-pol"]
    _save(plotting.plot_density_2d(res2.grid, res2.probabilities[-1]), tmp_path / "d2.png")


def test_density_heatmap_holds_the_marginal_density(results):
    res, _ = results["double-well"]
    ax = plotting.plot_density_1d(res)
    values = np.asarray(ax.collections[0].get_array()).reshape(-1, len(res.times)).T
    # each time column integrates to one over x
    np.testing.assert_allclose(values.sum(axis=1) * res.grid.widths[0], 1.0, rtol=1e-12)


@pytest.mark.parametrize("name", ["double-well", "van-der-pol"])
def test_save_summary_figures(results, tmp_path, name):
    res, sim = results[name]
    paths = plotting.save_summary_figures(res, sim.truth, tmp_path / name)
    assert len(paths) >= 2
    assert all(p.suffix == ".png" and p.stat().st_size > 1000 for p in paths)


@pytest.mark.parametrize("name", ["double-well", "pendulum"])
def test_window_density_columns_are_each_steps_marginal(results, tmp_path, name):
    """On a window each time column is drawn on that step's faces and holds its marginal
    density: the column integrates to one over the step's cells."""
    res, sim = results[name, "window"]
    assert res.mesh == "window"
    ax = plotting.plot_density_1d(res, truth=sim.truth)
    mesh = ax.collections[0]
    values = np.ma.asarray(mesh.get_array())
    K, n = len(res.times), res.grid.cells[0]
    assert values.shape == (n, 2 * K - 1)
    assert values[:, 1::2].mask.all()  # no quads between the columns
    np.testing.assert_allclose(values[:, ::2].sum(axis=0) * res.widths[:, 0], 1.0, rtol=1e-12)
    faces = mesh.get_coordinates()[:, ::2, 1]  # (n + 1, K): the y faces of each column
    for k in range(K):
        np.testing.assert_allclose(faces[:, k], res.grid_at(k).edges[0], rtol=1e-12)
    _save(ax, tmp_path / "d1.png")


def test_window_straddling_the_seam_is_drawn_inside_the_domain(tmp_path):
    res = _seam_result()
    ax = plotting.plot_density_1d(res, truth=[[0.5], [-3.0]])
    assert len(ax.collections) >= 2  # the window, and its part past pi one period down
    copy = ax.collections[1]
    shifted = copy.get_coordinates()[:, 2, 1]  # step 1's faces, one period down
    np.testing.assert_allclose(shifted, res.grid_at(1).edges[0] - 2 * np.pi, atol=1e-12)
    assert np.ma.asarray(copy.get_array())[:, 0].mask.all()  # step 0 needs no copy
    np.testing.assert_allclose(ax.get_ylim(), (-np.pi, np.pi))
    _save(ax, tmp_path / "seam.png")
    # a snapshot draws the truth next to the window: -3.0 is 3.28 on step 1's unwrapped axis
    ax = plotting.plot_marginals(res, [0, 1], truth=[[0.5], [-3.0]])
    lines = [ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == ":"]
    np.testing.assert_allclose(lines, [0.5, -3.0 + 2 * np.pi])
    _save(ax, tmp_path / "seam_marginals.png")


@pytest.mark.parametrize("name", ["double-well", "pendulum"])
def test_window_marginals_and_snapshots_use_each_steps_grid(results, tmp_path, name):
    res, sim = results[name, "window"]
    ax = plotting.plot_marginals(res, [0, 5, 11], truth=sim.truth)
    for line, k in zip(ax.lines[::2], [0, 5, 11], strict=True):
        np.testing.assert_allclose(line.get_xdata(), res.grid_at(k).axes[0])
    _save(ax, tmp_path / "m.png")
    _save(plotting.plot_window(res), tmp_path / "w.png")
    k = len(res.times) - 1
    if res.grid.ndim == 2:
        ax = plotting.plot_density_2d(res.grid_at(k), res.probabilities[k])
        np.testing.assert_allclose(ax.collections[0].get_coordinates()[0, :, 0],
                                   res.grid_at(k).edges[0])  # fmt: skip
        _save(ax, tmp_path / "d2.png")
    paths = plotting.save_summary_figures(res, sim.truth, tmp_path / name)
    assert {p.name for p in paths} >= {"window.png", "mean_band.png"}
    assert all(p.stat().st_size > 1000 for p in paths)


def test_pyplot_is_public():
    plt = plotting.pyplot()
    assert plt.__name__ == "matplotlib.pyplot"
    assert "pyplot" in plotting.__all__


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'pfda\[plot\]'"):
        plotting.pyplot()


def test_import_pfda_loads_neither_matplotlib_nor_qiskit():
    code = (
        "import sys, pfda, pfda.cli, pfda.cases, pfda.plotting; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib'; "
        "assert 'qiskit' not in sys.modules, 'qiskit'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
