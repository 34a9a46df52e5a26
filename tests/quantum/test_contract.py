"""The epsilon-contract: ``||x - x*|| / ||x*|| <= epsilon`` in ``x``, whatever the embedding.

The hard case is a reversible matrix whose symmetrising similarity ``S = diag(sqrt(pi))`` is
badly conditioned: the library's own implicit Ornstein-Uhlenbeck step ``I - dt A`` with the
Scharfetter-Gummel generator on ``[-3, 3]`` has ``cond(S)`` of ``3e3`` to ``5e5``, and
``x = S y`` amplifies the error of ``y`` by up to that factor.  References are
``numpy.linalg.solve``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")

import pfda  # noqa: E402
import pfda_quantum as quantum  # noqa: E402
from pfda_quantum.inversion import inversion_errors  # noqa: E402
from pfda_quantum.matrix import reversible_scaling  # noqa: E402

pytestmark = pytest.mark.quantum

EPSILON = 0.01  # the solver's default


def ou_step(cells: int, k: float, dt: float = 0.05) -> sp.csr_matrix:
    """``I - dt A`` for ``dx = -k x dt + sqrt(0.5) dW``: pfda's SG generator on [-3, 3]."""
    grid = pfda.Grid([-3.0], [3.0], [cells])
    sde = pfda.SDE(drift=lambda x: -k * x, diffusion=0.5)
    A = pfda.generator(grid, sde, flux="sg", method="numpy")
    return (sp.identity(cells) - dt * A).tocsr()


def tail_heavy(cells: int) -> np.ndarray:
    """A probability vector with its mass near both ends of the grid."""
    edges = np.linspace(-3.0, 3.0, cells + 1)
    c = 0.5 * (edges[1:] + edges[:-1])
    b = np.exp(-((np.abs(c) - 2.6) ** 2) / 0.1)
    return b / b.sum()


def relative_error(x, M, b) -> float:
    x_ref = np.linalg.solve(M.toarray() if sp.issparse(M) else M, b)
    return float(np.linalg.norm(x - x_ref) / np.linalg.norm(x_ref))


def scaling_condition(M) -> float:
    s = reversible_scaling(M)
    return float(s.max() / s.min())


@pytest.mark.parametrize(("cells", "k"), [(16, 1.0), (16, 1.5), (32, 1.0), (32, 1.5)])
def test_default_solver_meets_epsilon_on_ou_steps(cells, k):
    M = ou_step(cells, k)
    assert scaling_condition(M) > 1e3  # x = S y could amplify the error of y a thousandfold
    prepared = quantum.HHLSolver().prepare(M)
    rhs = [np.random.default_rng(seed).dirichlet(np.ones(cells)) for seed in (0, 1)]
    errors = [relative_error(prepared.solve(b), M, b) for b in [*rhs, tail_heavy(cells)]]
    assert max(errors) <= EPSILON
    assert max(errors) <= prepared.matrix_info.error_bound <= EPSILON


def test_symmetrise_that_cannot_meet_epsilon_raises():
    M = ou_step(16, 1.0)
    with pytest.raises(ValueError, match=r"cond\(S\) = 2\.6.e\+03.*method='dilate'"):
        quantum.HHLSolver(method="symmetrise").prepare(M)
    # eigenvalue bounds describe one embedding, so "auto" does not switch under them
    with pytest.raises(ValueError, match=r"cannot meet epsilon"):
        quantum.HHLSolver(eigenvalue_bounds=(0.9, 1.5)).prepare(M)
    # a looser target within the clock limit is met by the symmetrisation itself
    info = quantum.HHLSolver(method="symmetrise", epsilon=0.5).prepare(M).matrix_info
    assert info.symmetrised and info.error_bound <= 0.5


def test_symmetrisation_pays_for_cond_s_with_clock_qubits(rng):
    # a random reversible birth-death step with cond(S) ~ 5: symmetrising stays affordable
    up, down = rng.uniform(0.5, 2.0, 15), rng.uniform(0.5, 2.0, 15)
    A = np.diag(up, -1) + np.diag(down, 1)
    M = np.eye(16) - 0.4 * (A - np.diag(A.sum(axis=0)))
    gamma = scaling_condition(M)
    assert 2 < gamma < 50
    prepared = quantum.HHLSolver().prepare(M)
    errors = []
    for seed in range(3):
        b = np.random.default_rng(seed).dirichlet(np.ones(16))
        errors.append(relative_error(prepared.solve(b), M, b))
    assert max(errors) <= EPSILON
    info = prepared.matrix_info
    assert info.symmetrised and info.error_amplification == pytest.approx(gamma)
    lam = np.abs(prepared.embedding.eigenvalues)
    assert info.num_clock_qubits >= quantum.required_clock_qubits(
        lam.min(), lam.max(), EPSILON, False
    )
    assert max(errors) <= info.error_bound <= EPSILON


def test_symmetrise_with_its_budget_meets_epsilon_and_auto_takes_fewer_qubits():
    # cond(S) ~ 850 on 8 cells: the budget is met, at the price of a 12-qubit clock
    M = ou_step(8, 1.0)
    assert 100 < scaling_condition(M) < 1e4
    sym = quantum.HHLSolver(method="symmetrise").prepare(M)
    auto = quantum.HHLSolver().prepare(M)
    rhs = [np.random.default_rng(seed).dirichlet(np.ones(8)) for seed in (0, 1)]
    for prepared in (sym, auto):
        errors = [relative_error(prepared.solve(b), M, b) for b in [*rhs, tail_heavy(8)]]
        assert max(errors) <= prepared.matrix_info.error_bound <= EPSILON
    s, a = sym.matrix_info, auto.matrix_info
    assert s.symmetrised and a.dilated
    assert a.num_system_qubits + a.num_clock_qubits < s.num_system_qubits + s.num_clock_qubits


def test_embedded_norm_certifies_the_weighted_error_of_the_symmetrisation():
    # error_norm="embedded": ||S^-1 (x - x*)|| <= epsilon ||S^-1 x*||, with S = diag(s) and
    # s^2 the stationary vector, computed here by reversible_scaling
    M = ou_step(16, 1.0)
    s = reversible_scaling(M)
    prepared = quantum.HHLSolver(error_norm="embedded").prepare(M)
    info = prepared.matrix_info
    assert info.symmetrised and info.error_amplification == 1.0
    assert info.error_bound <= EPSILON
    rhs = [np.random.default_rng(seed).dirichlet(np.ones(16)) for seed in (0, 1)]
    for b in [*rhs, tail_heavy(16)]:
        x, x_ref = prepared.solve(b), np.linalg.solve(M.toarray(), b)
        weighted = np.linalg.norm((x - x_ref) / s) / np.linalg.norm(x_ref / s)
        assert weighted <= info.error_bound
        assert relative_error(x, M, b) <= scaling_condition(M) * info.error_bound


def test_reported_bound_holds_for_an_explicit_clock():
    # an explicit clock opts out of the contract; the reported bound must still hold
    M = ou_step(16, 1.0)
    prepared = quantum.HHLSolver(method="symmetrise", num_clock_qubits=8).prepare(M)
    info = prepared.matrix_info
    assert info.error_bound > EPSILON and info.error_amplification > 1e3
    errors = []
    for seed in range(4):
        b = np.random.default_rng(seed).dirichlet(np.ones(16))
        errors.append(relative_error(prepared.solve(b), M, b))
    assert max(errors) <= info.error_bound
    # ... and the amplification is real: the errors exceed the unamplified max|rho|
    assert max(errors) > info.error_bound / info.error_amplification


def test_inversion_errors_are_the_solution_errors(rng):
    # Direct embedding: b = u_j gives x = u_j / lambda_j, returned as (1 + rho_j) x.
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    lam = np.array([1.0, 1.7, 2.9, 4.0])
    M = (Q * lam) @ Q.T
    prepared = quantum.HHLSolver(num_clock_qubits=5).prepare(M)
    rho = inversion_errors(prepared.design, lam)
    for j in range(4):
        assert relative_error(prepared.solve(Q[:, j]), M, Q[:, j]) == pytest.approx(
            abs(rho[j]), rel=1e-6, abs=1e-12
        )
    # Dilation: b = u_i (left singular vector) loads (u, v)/2 + (u, -v)/2 on the +-sigma_i
    # eigenvectors, so x = v_i / sigma_i comes back times 1 + (rho(+s) + rho(-s)) / 2.
    U, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    V, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    sig = np.array([1.0, 1.6, 2.3, 3.1])
    M = (U * sig) @ V.T
    prepared = quantum.HHLSolver(method="dilate", num_clock_qubits=6).prepare(M)
    assert prepared.design.signed
    rho_plus = inversion_errors(prepared.design, sig)
    rho_minus = inversion_errors(prepared.design, -sig)
    for i in range(4):
        expected = abs(0.5 * (rho_plus[i] + rho_minus[i]))
        assert relative_error(prepared.solve(U[:, i]), M, U[:, i]) == pytest.approx(
            expected, rel=1e-6, abs=1e-12
        )


@pytest.mark.slow
@pytest.mark.parametrize("cells", [16, 32, 64])
@pytest.mark.parametrize("k", [1.0, 1.5])
def test_default_solver_meets_epsilon_on_ten_right_hand_sides(cells, k):
    M = ou_step(cells, k)
    prepared = quantum.HHLSolver().prepare(M)
    errors = []
    for seed in range(10):
        b = np.random.default_rng(seed).dirichlet(np.ones(cells))
        errors.append(relative_error(prepared.solve(b), M, b))
    assert max(errors) <= EPSILON
    assert max(errors) <= prepared.matrix_info.error_bound <= EPSILON
