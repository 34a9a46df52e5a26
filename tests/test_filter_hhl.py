"""A whole filter on the HHL backend agrees with the sparse LU backend."""

import numpy as np
import pytest

import pfda

pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")
pytestmark = pytest.mark.quantum

# the solver's epsilon certified in the norm of its embedded (symmetrised) solution: an error
# weighted by 1/sqrt(pi), which keeps each cell's error relative to its stationary mass, so
# that a tail cell a later observation up-weighs keeps its few digits (the default certifies
# the Euclidean error of x, spread evenly over the cells, tails included)
HHL_OPTIONS = {"error_norm": "embedded"}


def ou_problem(cells=16, steps=8):
    grid = pfda.Grid([-3.0], [3.0], [cells])
    sde = pfda.SDE(drift=lambda x: -x, diffusion=0.5)
    obs = pfda.GaussianObservation(lambda x: x, 0.3)
    rng = np.random.default_rng(7)
    times = 0.05 * np.arange(1, steps + 1)
    ys = rng.normal(0.3, 0.5, size=(steps, 1))
    return grid, sde, obs, pfda.gaussian(grid, [0.0], [1.0]), times, ys


def test_hhl_filter_matches_splu():
    grid, sde, obs, prior, times, ys = ou_problem()
    runs = {
        name: pfda.Filter(grid, sde, obs, scheme="implicit", solver=name, tol=None, **options).run(
            prior, times, ys
        )
        for name, options in (("splu", {}), ("hhl", {"solver_options": HHL_OPTIONS}))
    }
    dist = pfda.hellinger(runs["hhl"].probabilities, runs["splu"].probabilities)
    # epsilon = 1e-2 relative error per solve (the solver's default accuracy target) gives a
    # Hellinger distance of order epsilon / 2 per step; the bound 1e-2 leaves room for 8 steps
    assert np.all(dist < 1e-2), dist
    assert abs(runs["hhl"].log_evidence - runs["splu"].log_evidence) < 0.05 * len(times)


def test_hhl_solver_options_reach_the_solver():
    grid, sde, obs, prior, times, ys = ou_problem(steps=2)

    def run(solver, **options):
        flt = pfda.Filter(grid, sde, obs, "implicit", solver, tol=None, **options)
        return flt.run(prior, times, ys)

    coarse = run("hhl", solver_options={"num_clock_qubits": 3})
    fine = run("hhl", solver_options={"num_clock_qubits": 9})
    ref = run("splu")
    err_coarse = pfda.hellinger(coarse.probabilities, ref.probabilities).max()
    err_fine = pfda.hellinger(fine.probabilities, ref.probabilities).max()
    assert err_fine < err_coarse


def test_stationary_density_by_hhl():
    grid = pfda.Grid([-2.0], [2.0], [8])
    sde = pfda.SDE(drift=lambda x: -2 * x, diffusion=1.0)
    ref = pfda.stationary(grid, sde)
    pi = pfda.stationary(grid, sde, solver="hhl")
    assert pfda.total_variation(pi, ref) < 2e-2


@pytest.mark.filterwarnings("ignore:the window lost:pfda.PfdaWarning")
def test_hhl_solves_the_steps_of_a_window():
    # a 16-cell window on a wide domain: every implicit step of every window is an HHL solve.
    # Its relative error epsilon = 1e-2 per solve moves about that share of the mass, some of it
    # out of the window's open edges (the loss warned about), so the two runs' moments differ by
    # O(epsilon) of the posterior's scale (sd about 0.5) and their evidence by O(epsilon) a step
    grid = pfda.Grid([-20.0], [20.0], [16])
    sde = pfda.SDE(drift=lambda x: -x, diffusion=0.5)
    obs = pfda.GaussianObservation(lambda x: x, 0.3)
    rng = np.random.default_rng(7)
    times = 0.05 * np.arange(1, 7)
    ys = rng.normal(0.3, 0.5, size=(6, 1))
    prior = lambda g: pfda.gaussian(g, [0.0], [1.0])  # noqa: E731
    runs = {
        name: pfda.Filter(
            grid,
            sde,
            obs,
            scheme="implicit",
            solver=name,
            dt=0.025,
            mesh=pfda.Window(6.0),
            tol=None,
            **options,
        ).run(prior, times, ys)
        for name, options in (("splu", {}), ("hhl", {"solver_options": HHL_OPTIONS}))
    }
    hhl, ref = runs["hhl"], runs["splu"]
    assert hhl.mesh == "window"
    assert np.all(hhl.widths[:, 0] * 16 < 10.0)  # a window, not the 40-wide domain
    np.testing.assert_allclose(hhl.widths, ref.widths, rtol=1e-2)
    np.testing.assert_allclose(hhl.mean, ref.mean, atol=1e-2 * 0.5)
    np.testing.assert_allclose(hhl.std, ref.std, rtol=1e-2)
    assert abs(hhl.log_evidence - ref.log_evidence) < 1e-2 * len(times)
