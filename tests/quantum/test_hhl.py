"""HHL against numpy.linalg.solve: accuracy, clock convergence, two-phase use, Trotter."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")

import pfda_quantum as quantum  # noqa: E402
from pfda_quantum.matrix import reversible_scaling  # noqa: E402

pytestmark = pytest.mark.quantum


# -- manufactured systems ----------------------------------------------------------------
def _spread(rng, n, kappa):
    """1, kappa and n - 2 random values in between (off the phase-estimation grid)."""
    return np.concatenate([[1.0, kappa], rng.uniform(1.0, kappa, n - 2)])


def spd(rng, n, kappa):
    """Symmetric positive definite with eigenvalues in [1, kappa] (both attained)."""
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (Q * _spread(rng, n, kappa)) @ Q.T


def nonsymmetric(rng, n, kappa):
    """Non-symmetric with singular values in [1, kappa] (both attained)."""
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (U * _spread(rng, n, kappa)) @ V.T


def birth_death_generator(rng, n):
    """Tridiagonal generator: A[i, j] >= 0 off the diagonal, column sums 0."""
    up = rng.uniform(0.5, 2.0, n - 1)  # rate i -> i + 1, stored at A[i + 1, i]
    down = rng.uniform(0.5, 2.0, n - 1)  # rate i + 1 -> i, stored at A[i, i + 1]
    A = np.diag(up, -1) + np.diag(down, 1)
    A -= np.diag(A.sum(axis=0))
    return A


def implicit_step(rng, n, dt):
    """Backward-Euler matrix I - dt A of a 1-D Fokker-Planck-type chain."""
    return np.eye(n) - dt * birth_death_generator(rng, n)


def _system(kind, n, rng):
    if kind == "spd":
        return spd(rng, n, 8.0)
    if kind == "nonsym":
        return nonsymmetric(rng, n, 4.0)
    return implicit_step(rng, n, 0.4)


# -- accuracy -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "n", "method"),
    [
        ("spd", 4, "direct"),
        ("spd", 5, "direct"),
        ("spd", 16, "direct"),
        ("nonsym", 4, "dilate"),
        ("nonsym", 6, "dilate"),
        ("fp", 5, "symmetrise"),
        ("fp", 12, "symmetrise"),
        ("fp", 16, "symmetrise"),
    ],
)
def test_matches_numpy_solve(kind, n, method, rng):
    M = _system(kind, n, rng)
    b = rng.uniform(0.0, 1.0, n)
    b[n // 2] = 0.0  # exact zeros in b are fine
    r = quantum.hhl_solve(M, b, resource_counts=False)
    x_ref = np.linalg.solve(M, b)
    assert r.kappa <= 10
    assert r.method == method
    assert r.padded == (n & (n - 1) != 0)
    assert r.fidelity >= 0.999
    assert np.linalg.norm(r.x - x_ref) / np.linalg.norm(x_ref) <= 0.01  # the default epsilon
    assert r.relative_error <= r.info.error_bound <= 0.01
    assert r.relative_error == pytest.approx(np.linalg.norm(r.x - x_ref) / np.linalg.norm(x_ref))
    assert 0 < r.success_probability <= 1
    assert r.shots is None and r.hamiltonian == "exact"


def test_fidelity_rises_with_clock_qubits(rng):
    M = spd(rng, 4, 8.0)
    b = rng.standard_normal(4)
    infid, err = [], []
    for m in (3, 5, 7):
        r = quantum.hhl_solve(M, b, num_clock_qubits=m, resource_counts=False)
        assert r.num_clock_qubits == m
        infid.append(1 - r.fidelity)
        err.append(r.relative_error)
    assert infid[0] > infid[1] > infid[2]
    assert err[0] > err[1] > err[2]
    assert infid[2] < 1e-4


def test_epsilon_sets_the_clock(rng):
    M = spd(rng, 4, 5.0)
    b = rng.standard_normal(4)
    coarse = quantum.HHLSolver(epsilon=0.1).prepare(M).matrix_info
    fine = quantum.HHLSolver(epsilon=0.003).prepare(M).matrix_info
    assert fine.num_clock_qubits > coarse.num_clock_qubits
    assert fine.num_clock_qubits == quantum.required_clock_qubits(1.0, 5.0, 0.003, False)
    r = quantum.hhl_solve(M, b, epsilon=0.05, resource_counts=False)
    assert r.relative_error <= 0.05


# -- two-phase protocol ---------------------------------------------------------------------
def test_prepare_once_solve_many(rng):
    M = implicit_step(rng, 6, 0.4)
    solver = quantum.HHLSolver(resource_counts=False)
    assert solver.name == "hhl"
    prepared = solver.prepare(M)
    info = prepared.matrix_info
    assert info.symmetrised and info.padded and not info.dilated
    assert info.num_qubits == info.num_system_qubits + info.num_clock_qubits + 1
    assert info.eigenvalue_bounds[0] <= info.eigenvalue_bounds[1]
    assert info.kappa == pytest.approx(info.eigenvalue_bounds[1] / info.eigenvalue_bounds[0])
    for _ in range(3):
        b = rng.dirichlet(np.ones(6))
        b[rng.integers(6)] = 0.0
        x = prepared.solve(b)
        assert x.shape == (6,) and x.dtype == float
        np.testing.assert_allclose(
            x, quantum.hhl_solve(M, b, resource_counts=False).x, rtol=1e-9, atol=1e-12
        )
        np.testing.assert_allclose(x, np.linalg.solve(M, b), rtol=0.03, atol=1e-3)
        assert x.sum() == pytest.approx(b.sum(), rel=0.01)  # 1^T M = 1^T conserves mass
    res = prepared.solve_result(b)
    assert set(res.timings) >= {"build", "transpile", "run"}
    assert res.info is info


def test_mass_and_nonnegative_options(rng):
    M = implicit_step(rng, 8, 0.4)
    b = rng.dirichlet(np.ones(8))
    x = quantum.HHLSolver(nonnegative=True, mass=1.0).prepare(M).solve(b)
    assert x.sum() == pytest.approx(1.0) and np.all(x >= 0)


def test_sparse_matrix_input(rng):
    M = implicit_step(rng, 8, 0.4)
    b = rng.uniform(size=8)
    dense = quantum.HHLSolver().prepare(M).solve(b)
    sparse = quantum.HHLSolver().prepare(sp.csr_matrix(M)).solve(b)
    np.testing.assert_allclose(dense, sparse, rtol=1e-9)


def test_eigenbasis_simulation_equals_circuit(rng):
    M = spd(rng, 8, 6.0)
    b = rng.standard_normal(8)
    a = quantum.hhl_solve(M, b, simulation="circuit", num_clock_qubits=6, resource_counts=False)
    e = quantum.hhl_solve(M, b, simulation="eigenbasis", num_clock_qubits=6, resource_counts=False)
    assert a.info.simulation == "circuit" and e.info.simulation == "eigenbasis"
    np.testing.assert_allclose(a.state, e.state, atol=1e-9)
    assert a.success_probability == pytest.approx(e.success_probability, rel=1e-9)


@pytest.mark.parametrize("sign", [-1.0, 1.0])
def test_definite_and_indefinite_symmetric(sign, rng):
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    lam = np.array([1.0, 2.0, 3.0, 4.0]) * sign if sign < 0 else np.array([-3.0, -1.0, 2.0, 4.0])
    M = (Q * lam) @ Q.T
    b = rng.standard_normal(4)
    r = quantum.hhl_solve(M, b, resource_counts=False)
    assert r.method == "direct"
    assert r.info.signed == (sign > 0)
    assert r.fidelity >= 0.999 and r.relative_error <= 0.01


# -- report and Hamiltonian simulation --------------------------------------------------------
def test_result_reports_transpiled_resources(rng):
    M = implicit_step(rng, 4, 0.3)
    r = quantum.hhl_solve(M, rng.uniform(size=4), num_clock_qubits=4)
    assert r.counts == "transpiled"
    assert r.basis == ("rz", "sx", "x", "cx")
    assert r.depth > 0 and r.two_qubit_gates > 0
    assert r.num_qubits == 2 + 4 + 1
    assert r.evolution_time > 0
    assert {"build", "transpile", "run", "resources"} <= set(r.timings)


def test_trotter_agrees_with_exact_within_stated_bound():
    M = np.array([[2.0, -0.5, 0, 0], [-0.5, 2.0, -0.5, 0], [0, -0.5, 2.0, -0.5], [0, 0, -0.5, 2.0]])
    b = np.array([1.0, 0.5, 0.2, 0.0])
    exact = quantum.hhl_solve(M, b, num_clock_qubits=4, resource_counts=False)
    trot = quantum.hhl_solve(
        M,
        b,
        num_clock_qubits=4,
        hamiltonian="trotter",
        trotter_order=2,
        epsilon=0.05,
        resource_counts=False,
    )
    info = trot.info
    assert trot.hamiltonian == "trotter" and info.trotter_reps >= 1
    # The circuits differ by at most trotter_bound in operator norm, so the normalised
    # post-selected states differ by at most 2 * bound / sqrt(P_exact).
    tol = 2 * info.trotter_bound / np.sqrt(exact.success_probability)
    assert tol < 0.05
    assert np.linalg.norm(trot.state - exact.state) <= tol
    assert abs(trot.success_probability - exact.success_probability) <= 2 * info.trotter_bound


# -- matrix analysis --------------------------------------------------------------------------
def test_reversible_scaling_of_birth_death_chain(rng):
    M = implicit_step(rng, 10, 0.5)
    s = reversible_scaling(M)
    assert s is not None and np.all(s > 0)
    H = M * s[None, :] / s[:, None]
    np.testing.assert_allclose(H, H.T, atol=1e-13)


def test_reversible_scaling_detects_cycles():
    # 2x2 grid (a 4-cycle): rates from a potential are reversible, a circulation is not.
    V = np.array([0.0, 0.7, 0.3, 1.1])
    edges = [(0, 1), (1, 3), (3, 2), (2, 0)]
    A = np.zeros((4, 4))
    for i, j in edges:
        A[j, i] = np.exp(-(V[j] - V[i]) / 2)
        A[i, j] = np.exp(-(V[i] - V[j]) / 2)
    M = np.eye(4) - 0.2 * (A - np.diag(A.sum(axis=0)))
    assert reversible_scaling(M) is not None
    A[1, 0] *= 3.0  # break detailed balance around the cycle
    M = np.eye(4) - 0.2 * (A - np.diag(A.sum(axis=0)))
    assert reversible_scaling(M) is None
    assert quantum.HHLSolver().prepare(M).matrix_info.dilated


def test_estimate_resources_scaling():
    base = quantum.estimate_resources(1024, 10.0, 0.01)
    assert base.num_system_qubits == 10
    assert base.num_qubits == base.num_system_qubits + base.num_clock_qubits + 1
    harder = quantum.estimate_resources(1024, 100.0, 0.01)
    finer = quantum.estimate_resources(1024, 10.0, 0.001)
    assert harder.num_clock_qubits > base.num_clock_qubits
    assert finer.num_clock_qubits > base.num_clock_qubits
    assert harder.two_qubit_gates > base.two_qubit_gates
    assert finer.two_qubit_gates > base.two_qubit_gates
    dil = quantum.estimate_resources(1024, 10.0, 0.01, symmetric=False)
    assert dil.num_system_qubits == 11 and dil.dilated
    ex = quantum.estimate_resources(16, 10.0, 0.01, hamiltonian="exact")
    # quantum Shannon decomposition of a controlled 4-qubit unitary (5 qubits): 444 CX
    assert ex.breakdown["controlled_evolution"] == 2 * ex.num_clock_qubits * 444
    assert base.shots_for_total_variation(0.01) > 1024 / 0.01**2


def test_import_does_not_load_qiskit():
    code = "import sys, quantum; assert 'qiskit' not in sys.modules; print('ok')"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=str(__import__("pathlib").Path(quantum.__file__).parents[1]),
    )
    assert out.returncode == 0, out.stderr


def _grid_step_2d(rng, n, dt):
    """I - dt A on an n x n grid: separable birth-death rates, so detailed balance holds."""
    Ax, Ay = birth_death_generator(rng, n), birth_death_generator(rng, n)
    A = np.kron(Ax, np.eye(n)) + np.kron(np.eye(n), Ay)
    return sp.csr_matrix(np.eye(n * n) - dt * A)


def test_two_dimensional_reversible_step_uses_the_eigenbasis_simulation(rng):
    M = _grid_step_2d(rng, 8, 0.3)
    b = rng.dirichlet(np.ones(64))
    r = quantum.hhl_solve(M, b, resource_counts=False)
    assert r.method == "symmetrise" and r.info.simulation == "eigenbasis"
    assert r.num_system_qubits == 6
    assert r.fidelity >= 0.999 and r.relative_error <= r.info.error_bound <= 0.01


@pytest.mark.slow
def test_1024_unknowns(rng):
    M = _grid_step_2d(rng, 32, 0.2)
    prepared = quantum.HHLSolver(epsilon=0.02, resource_counts=False).prepare(M)
    info = prepared.matrix_info
    # symmetrising (cond(S) ~ 35) would need 10 + 12 qubits, dilating 11 + 9
    assert info.dilated and info.num_system_qubits == 11
    for _ in range(2):
        b = rng.dirichlet(np.ones(1024))
        r = prepared.solve_result(b)
        assert r.fidelity >= 0.999 and r.relative_error <= info.error_bound <= 0.02


def test_aer_gpu_statevector_agrees_with_the_cpu():
    """Aer's GPU statevector stays reachable through ``aer_options``; skipped without a GPU."""
    from qiskit_aer import AerSimulator

    if "GPU" not in AerSimulator().available_devices():
        pytest.skip("no GPU device for Aer on this machine")
    M = np.diag([1.0, 2.0, 3.0, 4.0]) + 0.1
    b = np.array([0.4, 0.3, 0.2, 0.1])
    cpu = quantum.hhl_solve(M, b, resource_counts=False)
    gpu = quantum.hhl_solve(M, b, resource_counts=False, aer_options={"device": "GPU"})
    np.testing.assert_allclose(gpu.x, cpu.x, rtol=1e-10, atol=1e-12)
