"""Shot-based HHL: 1/sqrt(shots) convergence, samplers, noise."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")

import pfda_quantum as quantum  # noqa: E402

pytestmark = pytest.mark.quantum


def fokker_planck_step(n=4, dt=0.3):
    """I - dt A for a fixed birth-death generator A (column sums 0, reversible)."""
    up = np.linspace(1.0, 1.4, n - 1)
    down = np.linspace(0.6, 1.0, n - 1)
    A = np.diag(up, -1) + np.diag(down, 1)
    A -= np.diag(A.sum(axis=0))
    return np.eye(n) - dt * A


M = fokker_planck_step()
B = np.array([0.4, 0.3, 0.2, 0.1])
CLOCK = 6


@pytest.fixture(scope="module")
def exact():
    """State-vector HHL at the same clock size: the limit the shot estimates converge to."""
    return quantum.hhl_solve(M, B, num_clock_qubits=CLOCK, mass=1.0, resource_counts=False)


def test_probability_vector_error_falls_like_inverse_sqrt_shots(exact):
    shots_grid = np.array([1_000, 10_000, 100_000])
    seeds = range(6)
    mean_err = []
    for shots in shots_grid:
        p = quantum.HHLSolver(
            num_clock_qubits=CLOCK, shots=int(shots), nonnegative=True, mass=1.0
        ).prepare(M)
        errs = [np.abs(p.solve(B, seed=s) - exact.x).sum() for s in seeds]
        mean_err.append(np.mean(errs))
    slope = np.polyfit(np.log10(shots_grid), np.log10(mean_err), 1)[0]
    # The L1 error of the sqrt-of-frequency estimate is a smooth function of multinomial
    # frequencies, so its mean is c / sqrt(shots) (delta method).  Averaged over 6 seeds,
    # each mean's log10 scatters by ~0.06 (the L1 norm of 4 Gaussian components has a
    # coefficient of variation ~0.35, / sqrt(6), / ln 10), which gives the slope over two
    # decades a standard error of ~0.04; +-0.15 is about 3.5 standard errors.
    assert slope == pytest.approx(-0.5, abs=0.15)
    assert mean_err[-1] < 0.01


def test_shot_result_reports_success_probability(exact):
    r = quantum.hhl_solve(
        M,
        B,
        num_clock_qubits=CLOCK,
        shots=20_000,
        seed=3,
        nonnegative=True,
        mass=1.0,
        resource_counts=False,
    )
    assert r.shots == 20_000
    assert r.success_probability == pytest.approx(exact.success_probability, abs=0.02)
    assert r.x.sum() == pytest.approx(1.0)
    assert np.abs(r.x - exact.x).sum() < 0.05
    assert r.state.shape == (4,) and np.linalg.norm(r.state) == pytest.approx(1.0)


def test_scale_from_success_probability_without_mass(exact):
    x = (
        quantum.HHLSolver(num_clock_qubits=CLOCK, shots=50_000, seed=1, nonnegative=True)
        .prepare(M)
        .solve(B)
    )
    x_ref = np.linalg.solve(M, B)
    assert np.linalg.norm(x - x_ref) / np.linalg.norm(x_ref) < 0.05


def test_any_sampler_v2():
    from qiskit.primitives import StatevectorSampler

    sampler = StatevectorSampler(seed=7)
    x = (
        quantum.HHLSolver(
            num_clock_qubits=4, shots=20_000, sampler=sampler, nonnegative=True, mass=1.0
        )
        .prepare(M)
        .solve(B)
    )
    x_ref = np.linalg.solve(M, B)
    assert np.abs(x - x_ref / x_ref.sum()).sum() < 0.06


def test_noise_model_runs_and_degrades(exact):
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(2e-2, 2), ["cx"])
    kw = dict(
        num_clock_qubits=4, shots=20_000, seed=5, nonnegative=True, mass=1.0, resource_counts=False
    )
    clean = quantum.hhl_solve(M, B, **kw)
    noisy = quantum.hhl_solve(M, B, noise_model=noise, **kw)
    assert np.all(np.isfinite(noisy.x)) and noisy.x.sum() == pytest.approx(1.0)
    assert noisy.success_probability < clean.success_probability


def test_shots_without_sign_information_warn():
    with pytest.warns(UserWarning, match="signs"):
        x = quantum.HHLSolver(num_clock_qubits=4, shots=2_000, seed=0).prepare(M).solve(B)
    assert np.all(x >= 0)


def test_generic_backend_through_backend_sampler():
    from qiskit.providers.fake_provider import GenericBackendV2

    M2 = np.array([[2.0, -0.5], [-0.5, 1.5]])
    b2 = np.array([0.7, 0.3])
    backend = GenericBackendV2(num_qubits=6, seed=1)
    solver = quantum.HHLSolver(
        num_clock_qubits=3, shots=20_000, seed=2, backend=backend, nonnegative=True, mass=1.0
    )
    x = solver.prepare(M2).solve(b2)
    x_ref = np.linalg.solve(M2, b2)
    np.testing.assert_allclose(x, x_ref / x_ref.sum(), atol=0.03)
