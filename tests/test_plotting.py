"""Pictures: each function draws and saves a non-empty PNG; ``import pfda`` stays light."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

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
    return out


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


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'pfda\[plot\]'"):
        plotting._pyplot()


def test_import_pfda_loads_neither_matplotlib_nor_qiskit():
    code = (
        "import sys, pfda, pfda.cli, pfda.cases, pfda.plotting; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib'; "
        "assert 'qiskit' not in sys.modules, 'qiskit'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
