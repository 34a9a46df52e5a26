"""Bad input gives a ValueError that says what is wrong and what to do."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("qiskit")
pytest.importorskip("qiskit_aer")

import pfda_quantum as quantum  # noqa: E402

pytestmark = pytest.mark.quantum

GOOD = np.array([[2.0, -1.0], [-1.0, 2.0]])


@pytest.mark.parametrize(
    ("M", "match"),
    [
        (np.ones((2, 3)), "square"),
        (np.ones(4), "square"),
        (np.zeros((0, 0)), "empty"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN or inf"),
        (np.array([[1.0, 0.0], [np.inf, 1.0]]), "NaN or inf"),
        (sp.csr_matrix(np.array([[1.0, np.nan], [0.0, 1.0]])), "NaN or inf"),
        (np.array([[1.0, 1j], [-1j, 1.0]]), "real"),
        (np.array([[1.0, 2.0], [2.0, 4.0]]), "singular"),
        (np.diag([1.0, 1e-14]), r"condition number .*1e\+14"),
        (np.zeros((3, 3)), "singular"),
    ],
)
def test_bad_matrix(M, match):
    with pytest.raises(ValueError, match=match):
        quantum.HHLSolver().prepare(M)


@pytest.mark.parametrize(
    ("b", "match"),
    [
        (np.zeros(2), "zero vector"),
        (np.ones(3), "length 2"),
        (np.ones((2, 1)), "1-D"),
        (np.array([1.0, np.nan]), "NaN or inf"),
        (np.array([1.0, 1j]), "real"),
    ],
)
def test_bad_rhs(b, match):
    prepared = quantum.HHLSolver(num_clock_qubits=3).prepare(GOOD)
    with pytest.raises(ValueError, match=match):
        prepared.solve(b)
    with pytest.raises(ValueError, match=match):
        quantum.hhl_solve(GOOD, b, num_clock_qubits=3)


def test_kappa_needing_too_many_clock_qubits():
    M = np.diag([1.0, 300.0])
    with pytest.raises(ValueError, match=r"needs 16 clock qubits.*raise max_clock_qubits"):
        quantum.HHLSolver(epsilon=0.01).prepare(M)
    with pytest.raises(ValueError, match="exceeds max_clock_qubits = 4"):
        quantum.HHLSolver(num_clock_qubits=6, max_clock_qubits=4).prepare(M)
    # raising the limit (or loosening epsilon) is the documented way out
    info = quantum.HHLSolver(epsilon=0.3, max_clock_qubits=12).prepare(M).matrix_info
    assert info.num_clock_qubits <= 12


@pytest.mark.parametrize("shots", [0, -5, 1.5, True, "100"])
def test_bad_shots(shots):
    with pytest.raises(ValueError, match="shots must be a positive integer"):
        quantum.HHLSolver(shots=shots)
    prepared = quantum.HHLSolver(num_clock_qubits=3).prepare(GOOD)
    with pytest.raises(ValueError, match="shots must be a positive integer"):
        prepared.solve(np.ones(2), shots=shots)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"epsilon": 0.0}, "epsilon"),
        ({"epsilon": 1.5}, "epsilon"),
        ({"hamiltonian": "magic"}, "hamiltonian"),
        ({"simulation": "gpu"}, "simulation"),
        ({"simulation": "eigenbasis", "hamiltonian": "trotter"}, "'exact' only"),
        ({"trotter_order": 3}, "trotter_order"),
        ({"noise_model": object()}, "noise_model needs shots"),
        ({"mass": -1.0}, "mass"),
        ({"max_clock_qubits": 1}, "max_clock_qubits"),
        ({"resource_counts": "sometimes"}, "resource_counts"),
        ({"error_norm": "l1"}, "error_norm"),
    ],
)
def test_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        quantum.HHLSolver(**options)


def test_method_that_does_not_apply():
    nonsym = np.array([[2.0, 1.0], [0.0, 2.0]])  # zero below the diagonal: not reversible
    with pytest.raises(ValueError, match="symmetric M"):
        quantum.HHLSolver(method="direct").prepare(nonsym)
    with pytest.raises(ValueError, match="reversible"):
        quantum.HHLSolver(method="symmetrise").prepare(nonsym)
    with pytest.raises(ValueError, match="method must be"):
        quantum.HHLSolver(method="qr").prepare(GOOD)
    assert quantum.HHLSolver(method="dilate").prepare(GOOD).matrix_info.dilated


def test_unknown_embedding_method_is_rejected_at_construction():
    with pytest.raises(ValueError, match="method must be one of"):
        quantum.HHLSolver(method="symmetrize")
