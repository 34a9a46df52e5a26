r"""Assembling the HHL core for a prepared matrix, Trotter step selection, gate counts.

Trotter steps.  A product formula with :math:`r` steps for one :math:`U = e^{iH't}` is
:math:`U_r = S(t/r)^r`, and the circuit uses :math:`U_r^{2^j}` for :math:`U^{2^j}`
(:mod:`quantum.circuits`).  With :math:`\delta = \|U_r - U\|_2`, the phase estimation and
its inverse together deviate from the exact circuit by at most
:math:`\delta_{\text{tot}} = 2(2^m-1)\delta` in operator norm, so the post-selected
(unnormalised) state moves by at most :math:`\delta_{\text{tot}}` and the normalised
solution by at most :math:`2\delta_{\text{tot}}/\sqrt{P}`.  Since :math:`\sqrt{P}
\gtrsim 1/\kappa`, the default :math:`r` is the smallest power of two with
:math:`\delta_{\text{tot}} \le \varepsilon/(2\kappa\Gamma)`, where :math:`\Gamma`
(``design.amplification``, :math:`\operatorname{cond}(S)` for a symmetrised matrix, else 1)
bounds how much :math:`x = Sy` amplifies the relative error of :math:`y`.
:math:`\delta` is computed exactly from one synthesised step (``Operator``) raised to the
:math:`r`-th power for up to 8 system qubits; above that
:math:`r = \lceil (t\Lambda)^{3/2}\sqrt{2^m/\varepsilon}\rceil` (order 2) or
:math:`\lceil (t\Lambda)^2 2^m/\varepsilon\rceil` (order 1) with
:math:`\Lambda = \sum_a |c_a|`, a crude commutator-free bound.  (The inverse phase
estimation uses the same formula at :math:`-t`; for the symmetric order-2 formula that is
exactly :math:`U_r^{-1}`, for order 1 its error is of the same size.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .inversion import ClockDesign
from .matrix import HermitianEmbedding
from .resources import qsd_cx

__all__ = ["Built", "build", "count_resources", "reference_core", "trotter_reps"]

_EIGENBASIS_ABOVE = 5
_COUNT_EXACT_UP_TO = 4
_COUNT_MAX_ROTATIONS = 100_000
_TROTTER_EXACT_UP_TO = 8
_TROTTER_MAX_REPS = 1 << 14


@dataclass(frozen=True)
class Built:
    """Core circuit, optional eigenbasis change ``V`` and the matrix report."""

    core: object
    basis_change: np.ndarray | None
    info: object
    trotter_gate: object = None


def _exact_unitary(emb: HermitianEmbedding, design: ClockDesign) -> np.ndarray:
    V = emb.eigenvectors
    return (V * np.exp(1j * design.phases(emb.eigenvalues))) @ V.T


def trotter_error(op, time_: float, order: int, reps: int, exact: np.ndarray) -> float:
    """``||S(t/r)^r - U||_2`` with ``S`` one synthesised product-formula step."""
    from qiskit.circuit.library import PauliEvolutionGate
    from qiskit.quantum_info import Operator

    from .circuits import product_formula

    step = PauliEvolutionGate(op, time_ / reps, synthesis=product_formula(order, 1))
    S = Operator(step.definition).data
    return float(np.linalg.norm(np.linalg.matrix_power(S, reps) - exact, 2))


def trotter_reps(
    op, emb: HermitianEmbedding, design: ClockDesign, order: int, epsilon: float
) -> tuple[int, float | None]:
    """Default steps per ``U`` and the resulting ``||U_r - U||`` (``None`` if not computed)."""
    K = 1 << design.num_clock_qubits
    t = design.evolution_time
    if emb.num_system_qubits > _TROTTER_EXACT_UP_TO:
        lam = float(np.sum(np.abs(op.coeffs)))
        if order == 1:
            r = (t * lam) ** 2 * K / epsilon
        else:
            r = (t * lam) ** 1.5 * np.sqrt(K / epsilon)
        return int(min(_TROTTER_MAX_REPS, max(1, np.ceil(r)))), None
    target = epsilon / (2 * emb.kappa) / (2 * (K - 1))
    exact = _exact_unitary(emb, design)
    r = 1
    while True:
        err = trotter_error(op, t, order, r, exact)
        if err <= target or r >= _TROTTER_MAX_REPS:
            return r, err
        r *= 2


def build(emb: HermitianEmbedding, design: ClockDesign, options: dict) -> Built:
    """Choose the realisation of ``U`` and build the HHL core (see :mod:`quantum.circuits`)."""
    from .circuits import (
        EigenPhaseGate,
        SpectralEvolutionGate,
        TrotterEvolutionGate,
        core_circuit,
        pauli_decomposition,
    )
    from .results import MatrixInfo

    n = emb.num_system_qubits
    phases = design.phases(emb.eigenvalues)
    simulation = options["simulation"]
    change = None
    trot = {}
    gate = None
    if options["hamiltonian"] == "trotter":
        simulation = "circuit"
        op = pauli_decomposition(emb.matrix, design.shift)
        order = options["trotter_order"]
        if options["trotter_reps"] is None:
            eps_y = options["epsilon"] / design.amplification
            reps, err = trotter_reps(op, emb, design, order, eps_y)
        else:
            reps = options["trotter_reps"]
            err = None
            if n <= _TROTTER_EXACT_UP_TO:
                err = trotter_error(
                    op, design.evolution_time, order, reps, _exact_unitary(emb, design)
                )
        K = 1 << design.num_clock_qubits
        bound = None if err is None else 2 * (K - 1) * err
        trot = dict(trotter_order=order, trotter_reps=reps, trotter_error=err, trotter_bound=bound)
        gate = TrotterEvolutionGate(op, design.evolution_time, order, reps)
        unitary = gate
    else:
        if simulation == "auto":
            simulation = "eigenbasis" if n > _EIGENBASIS_ABOVE else "circuit"
        if simulation == "eigenbasis":
            unitary = EigenPhaseGate(phases)
            change = emb.eigenvectors
        else:
            unitary = SpectralEvolutionGate(emb.eigenvectors, phases)
    core = core_circuit(n, design, unitary, multiplexer=True)
    a = np.abs(emb.eigenvalues)
    info = MatrixInfo(
        size=emb.size,
        method=emb.method,
        symmetrised=emb.method == "symmetrise",
        dilated=emb.method == "dilate",
        padded=emb.padded,
        negated=emb.negated,
        num_system_qubits=n,
        num_clock_qubits=design.num_clock_qubits,
        num_qubits=core.num_qubits,
        kappa=emb.kappa,
        eigenvalue_bounds=(float(a.min()), float(a.max())),
        signed=design.signed,
        evolution_time=design.evolution_time,
        shift=design.shift,
        inversion_constant=design.constant,
        scaling_condition=emb.scaling_condition,
        hamiltonian=options["hamiltonian"],
        simulation=simulation,
        error_amplification=design.amplification,
        error_bound=design.error_bound,
        **trot,
    )
    return Built(core=core, basis_change=change, info=info, trotter_gate=gate)


def reference_core(emb: HermitianEmbedding, design: ClockDesign, trotter_gate=None):
    """The literal circuit: controlled powers of ``U`` (dense or Trotter) and ``UCRYGate``.

    Used for gate counts, noisy simulation and samplers other than Aer.
    """
    from .circuits import SpectralEvolutionGate, core_circuit

    U = trotter_gate
    if U is None:
        U = SpectralEvolutionGate(emb.eigenvectors, design.phases(emb.eigenvalues))
    return core_circuit(emb.num_system_qubits, design, U)


def _estimated_cx(prepared) -> int:
    info = prepared.matrix_info
    n, m = info.num_system_qubits, info.num_clock_qubits
    K, N = 1 << m, 1 << n
    fixed = 2 * N + 2 * (m * (m - 1) + 3 * (m // 2)) + K
    if info.hamiltonian == "exact":
        return fixed + 2 * m * qsd_cx(n + 1)
    op = prepared.core_op()
    per_sweep = sum(
        2 * int(np.count_nonzero(z | x)) for z, x in zip(op.paulis.z, op.paulis.x, strict=True)
    )
    sweeps = 1 if info.trotter_order == 1 else 2
    return fixed + 2 * (K - 1) * info.trotter_reps * sweeps * per_sweep


def count_resources(prepared, force: bool = False) -> dict:
    """Transpiled (when cheap, or forced) or estimated depth / two-qubit count."""
    from .resources import transpiled_counts

    info = prepared.matrix_info
    mode = prepared.options["resource_counts"]
    n = info.num_system_qubits
    K = 1 << info.num_clock_qubits
    if info.hamiltonian == "exact":
        cheap = n <= _COUNT_EXACT_UP_TO
    else:
        L = len(prepared.core_op())
        sweeps = 1 if info.trotter_order == 1 else 2
        cheap = 2 * (K - 1) * info.trotter_reps * sweeps * L <= _COUNT_MAX_ROTATIONS
    t0 = time.perf_counter()
    if force or mode is True or (mode == "auto" and cheap):
        circ = prepared.circuit()
        circ.remove_final_measurements()
        c = transpiled_counts(circ, prepared.options["basis"])
        return {
            "depth": c["depth"],
            "two_qubit_gates": c["two_qubit_gates"],
            "counts": "transpiled",
            "basis": tuple(prepared.options["basis"]),
            "seconds": time.perf_counter() - t0,
        }
    return {
        "depth": None,
        "two_qubit_gates": _estimated_cx(prepared),
        "counts": "estimated",
        "basis": tuple(prepared.options["basis"]),
        "seconds": time.perf_counter() - t0,
    }
