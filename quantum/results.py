"""Frozen result records: what ``prepare`` decided (``MatrixInfo``) and what a solve
returned (``HHLResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["HHLResult", "MatrixInfo"]


@dataclass(frozen=True)
class MatrixInfo:
    """What ``prepare`` decided for a matrix.

    Attributes
    ----------
    size : int
        ``n`` of ``M``.
    method : str
        ``"direct"``, ``"symmetrise"`` or ``"dilate"``.
    symmetrised, dilated, padded, negated : bool
    num_system_qubits, num_clock_qubits, num_qubits : int
        ``num_qubits = system + clock + 1`` (flag).
    kappa : float
        Condition number of the embedded ``H``.
    eigenvalue_bounds : (float, float)
        ``(min|lambda|, max|lambda|)`` of ``H``.
    signed : bool
        Two's-complement clock.
    evolution_time, shift, inversion_constant : float
        ``t``, ``lambda_0`` and ``C``.
    scaling_condition : float
        ``max(s)/min(s)`` of the symmetrising similarity (1 otherwise).
    hamiltonian : str
        ``"exact"`` or ``"trotter"``.
    simulation : str
        ``"circuit"`` (controlled powers of ``U``) or ``"eigenbasis"``.
    trotter_order, trotter_reps : int or None
        Product formula and steps per ``U``.
    trotter_error : float or None
        ``||U_trotter - U||_2`` for one ``U`` (computed for small systems).
    trotter_bound : float or None
        ``2 (2**m - 1) trotter_error``: bound on the circuit's operator-norm error.
    error_amplification : float
        ``Gamma``: how much the embedding can amplify the relative error of ``y`` in ``x``
        (``scaling_condition`` for ``"symmetrise"``, 1 otherwise).
    error_bound : float or None
        ``Gamma * max_j |rho_j|``: bound on ``||x - x*|| / ||x*||`` (``error_norm=
        "solution"``; on ``||y - y*|| / ||y*||`` of the embedded system with ``"embedded"``,
        where ``Gamma = 1``) of an exact state-vector solve with ``hamiltonian="exact"``,
        for every right-hand side (:mod:`quantum.inversion`); at most ``epsilon`` unless
        ``num_clock_qubits`` was given.
    """

    size: int
    method: str
    symmetrised: bool
    dilated: bool
    padded: bool
    negated: bool
    num_system_qubits: int
    num_clock_qubits: int
    num_qubits: int
    kappa: float
    eigenvalue_bounds: tuple[float, float]
    signed: bool
    evolution_time: float
    shift: float
    inversion_constant: float
    scaling_condition: float
    hamiltonian: str
    simulation: str
    trotter_order: int | None = None
    trotter_reps: int | None = None
    trotter_error: float | None = None
    trotter_bound: float | None = None
    error_amplification: float = 1.0
    error_bound: float | None = None


@dataclass(frozen=True)
class HHLResult:
    """Report of one HHL solve.

    Attributes
    ----------
    x : numpy.ndarray
        Solution of ``M x = b`` at its true scale.
    state : numpy.ndarray or None
        Normalised post-selected system-register amplitudes (embedded basis, length
        ``2**num_system_qubits``); ``sqrt`` of the kept histogram for shots.
    success_probability : float
        Probability (or kept fraction) of flag 1 and clock 0.
    fidelity, relative_error : float or None
        ``(x . x_ref)^2 / (|x|^2 |x_ref|^2)`` and ``|x - x_ref| / |x_ref|`` against a
        classical solve (``reference=True``).
    num_qubits, num_system_qubits, num_clock_qubits : int
    depth, two_qubit_gates : int or None
        After transpiling to ``basis`` (``counts == "transpiled"``); ``two_qubit_gates`` is
        a formula count when ``counts == "estimated"``.
    basis : tuple of str
    counts : str or None
        ``"transpiled"``, ``"estimated"`` or ``None`` (not requested).
    timings : dict
        Seconds: ``build`` and ``transpile`` (once per ``prepare``), ``run`` (this solve),
        ``resources`` (basis transpile, once per ``prepare``).
    hamiltonian : str
        ``"exact"`` (dense unitary) or ``"trotter"`` (``PauliEvolutionGate``).
    kappa, evolution_time : float
    shots : int or None
        ``None`` for the exact state vector.
    method : str
    symmetrised, dilated, padded : bool
    info : MatrixInfo
    """

    x: np.ndarray
    state: np.ndarray | None
    success_probability: float
    fidelity: float | None
    relative_error: float | None
    num_qubits: int
    num_system_qubits: int
    num_clock_qubits: int
    depth: int | None
    two_qubit_gates: int | None
    basis: tuple[str, ...]
    counts: str | None
    timings: dict = field(default_factory=dict)
    hamiltonian: str = "exact"
    kappa: float = float("nan")
    evolution_time: float = float("nan")
    shots: int | None = None
    method: str = "direct"
    symmetrised: bool = False
    dilated: bool = False
    padded: bool = False
    info: MatrixInfo | None = None
