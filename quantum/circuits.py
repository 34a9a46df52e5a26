r"""HHL circuits from Qiskit >= 2 building blocks.

Registers (little-endian qubit indices): system ``b`` (:math:`n`, qubits :math:`0..n-1`),
clock (:math:`m`, qubits :math:`n..n+m-1`), flag (qubit :math:`n+m`).  The core is

.. math::

    \mathrm{QPE}(U)^\dagger \;\cdot\; \mathrm{UCRY}(\theta)_{\text{clock}\to\text{flag}}
    \;\cdot\; \mathrm{QPE}(U), \qquad U = e^{i(H-\lambda_0)t},

with ``QPE = qiskit.circuit.library.phase_estimation`` (controlled :math:`U^{2^j}` on clock
qubit :math:`j`, inverse ``QFTGate``, bit reversal).  After it, clock qubit :math:`i` holds
bit :math:`m-1-i` of the estimate :math:`k` (most significant bit on clock qubit 0), so the
``UCRYGate`` — whose angle index is little-endian in its control list — receives the clock
qubits in reverse order; no swap gates are spent on the reversal.  For a signed spectrum the
same integer is read as two's complement by the angle table (see :mod:`quantum.inversion`).

Three realisations of :math:`U` are provided, all with ``power``/``control`` overridden so
``phase_estimation`` neither raises a dense matrix to a power nor synthesises a controlled
unitary eagerly:

``SpectralEvolutionGate`` (``hamiltonian="exact"``)
    :math:`U^p = V e^{ip\Phi} V^\top` from the eigen-decomposition :math:`H = V\Lambda V^\top`
    (:math:`\Phi = (\Lambda - \lambda_0)t`); controlled powers are dense ``UnitaryGate``\ s,
    which Aer applies natively and the transpiler synthesises (QSD) only for gate counts.
``EigenPhaseGate`` (exact, ``simulation="eigenbasis"``)
    :math:`e^{ip\Phi}` itself, diagonal; controlled powers are ``DiagonalGate``\ s.  Since
    every :math:`U^p = V e^{ip\Phi}V^\top`, :math:`\mathrm{QPE}(U) = V\,\mathrm{QPE}(e^{i\Phi})
    V^\top` on the system register, and the inversion acts on clock and flag only, so the
    whole core equals :math:`V\,[\text{core with } e^{i\Phi}]\,V^\top` — the same unitary
    with one basis change on each side instead of :math:`2m` dense controlled gates.
``TrotterEvolutionGate`` (``hamiltonian="trotter"``)
    ``PauliEvolutionGate`` of the Pauli decomposition of :math:`-(H-\lambda_0)` with a
    Lie-Trotter (order 1) or Suzuki (order 2) product formula; :math:`U^{2^j}` gets
    :math:`2^j r_0` steps, so it is exactly the :math:`2^j`-th power of the :math:`r_0`-step
    approximation of :math:`U`.
"""

from __future__ import annotations

import numpy as np
from qiskit.circuit import ClassicalRegister, Gate, QuantumCircuit, QuantumRegister
from qiskit.circuit.library import (
    DiagonalGate,
    PauliEvolutionGate,
    StatePreparation,
    UCRYGate,
    UnitaryGate,
    phase_estimation,
)
from qiskit.quantum_info import SparsePauliOp

from .inversion import ClockDesign

__all__ = [
    "EigenPhaseGate",
    "SpectralEvolutionGate",
    "TrotterEvolutionGate",
    "core_circuit",
    "measured_circuit",
    "pauli_decomposition",
    "product_formula",
]


def _controlled_matrix(U: np.ndarray) -> np.ndarray:
    """``|0><0| (x) I + |1><1| (x) U`` with the control as the lowest (first) qubit."""
    N = U.shape[0]
    C = np.zeros((2 * N, 2 * N), dtype=complex)
    C[0::2, 0::2] = np.eye(N)
    C[1::2, 1::2] = U
    return C


class SpectralEvolutionGate(Gate):
    r"""Exact :math:`V \mathrm{diag}(e^{i\phi}) V^\top` on :math:`\log_2 N` qubits."""

    def __init__(self, eigenvectors: np.ndarray, phases: np.ndarray, label: str | None = None):
        n = int(eigenvectors.shape[0]).bit_length() - 1
        super().__init__("exp_iHt", n, [], label=label or "exp(iHt)")
        self._V = eigenvectors
        self._phases = np.asarray(phases, dtype=float)

    def __array__(self, dtype=None, copy=None):
        U = (self._V * np.exp(1j * self._phases)) @ self._V.T
        return U if dtype is None else U.astype(dtype)

    def _define(self):
        qc = QuantumCircuit(self.num_qubits)
        qc.append(UnitaryGate(self.__array__(), check_input=False), qc.qubits)
        self.definition = qc

    def power(self, exponent: float, annotated: bool = False) -> SpectralEvolutionGate:
        return SpectralEvolutionGate(self._V, self._phases * exponent, f"exp(iHt)^{exponent:g}")

    def inverse(self, annotated: bool = False) -> SpectralEvolutionGate:
        return SpectralEvolutionGate(self._V, -self._phases, "exp(-iHt)")

    def control(self, num_ctrl_qubits=1, label=None, ctrl_state=None, annotated=None):
        if num_ctrl_qubits != 1 or ctrl_state not in (None, 1, "1"):
            return super().control(num_ctrl_qubits, label, ctrl_state, annotated=False)
        return UnitaryGate(
            _controlled_matrix(self.__array__()), label=f"c-{self.label}", check_input=False
        )


class EigenPhaseGate(Gate):
    r"""Diagonal :math:`\mathrm{diag}(e^{i\phi})`: :math:`e^{i(H-\lambda_0)t}` in its eigenbasis."""

    def __init__(self, phases: np.ndarray, label: str | None = None):
        n = int(len(phases)).bit_length() - 1
        super().__init__("exp_iLt", n, [], label=label or "exp(iΛt)")
        self._phases = np.asarray(phases, dtype=float)

    def __array__(self, dtype=None, copy=None):
        U = np.diag(np.exp(1j * self._phases))
        return U if dtype is None else U.astype(dtype)

    def _define(self):
        qc = QuantumCircuit(self.num_qubits)
        qc.append(DiagonalGate(np.exp(1j * self._phases).tolist()), qc.qubits)
        self.definition = qc

    def power(self, exponent: float, annotated: bool = False) -> EigenPhaseGate:
        return EigenPhaseGate(self._phases * exponent, f"exp(iΛt)^{exponent:g}")

    def inverse(self, annotated: bool = False) -> EigenPhaseGate:
        return EigenPhaseGate(-self._phases)

    def control(self, num_ctrl_qubits=1, label=None, ctrl_state=None, annotated=None):
        if num_ctrl_qubits != 1 or ctrl_state not in (None, 1, "1"):
            return super().control(num_ctrl_qubits, label, ctrl_state, annotated=False)
        d = np.ones(2 * len(self._phases), dtype=complex)
        d[1::2] = np.exp(1j * self._phases)
        return DiagonalGate(d.tolist())


def pauli_decomposition(H: np.ndarray, shift: float = 0.0, atol: float = 1e-12) -> SparsePauliOp:
    """Pauli decomposition of ``-(H - shift I)`` (so ``exp(-i t op) = exp(i (H - shift) t)``)."""
    N = H.shape[0]
    op = SparsePauliOp.from_operator(-(H - shift * np.eye(N)))
    return op.simplify(atol=atol)


def product_formula(order: int, reps: int):
    """Lie-Trotter (``order=1``) or Suzuki (even ``order``) formula with ``reps`` steps."""
    from qiskit.synthesis import LieTrotter, SuzukiTrotter

    if order == 1:
        return LieTrotter(reps=reps)
    if order >= 2 and order % 2 == 0:
        return SuzukiTrotter(order=order, reps=reps)
    raise ValueError(f"trotter_order must be 1 or an even number; got {order}.")


class TrotterEvolutionGate(Gate):
    r"""Product-formula :math:`e^{i(H-\lambda_0)t}` whose powers scale the number of steps."""

    def __init__(self, operator: SparsePauliOp, time: float, order: int, reps: int):
        super().__init__("trotter_exp_iHt", operator.num_qubits, [], label="exp(iHt)")
        self._op, self._time, self._order, self._reps = operator, float(time), order, int(reps)

    @property
    def operator(self) -> SparsePauliOp:
        """The Pauli operator ``H - lambda_0`` the gate evolves."""
        return self._op

    def evolution(self, exponent: int = 1) -> PauliEvolutionGate:
        """``PauliEvolutionGate`` for ``U**exponent`` with ``exponent * reps`` steps."""
        reps = max(1, int(round(self._reps * exponent)))
        return PauliEvolutionGate(
            self._op, self._time * exponent, synthesis=product_formula(self._order, reps)
        )

    def _define(self):
        qc = QuantumCircuit(self.num_qubits)
        qc.append(self.evolution(1), qc.qubits)
        self.definition = qc

    def power(self, exponent: float, annotated: bool = False) -> PauliEvolutionGate:
        return self.evolution(exponent)

    def control(self, num_ctrl_qubits=1, label=None, ctrl_state=None, annotated=None):
        return self.evolution(1).control(num_ctrl_qubits, label, ctrl_state)


def core_circuit(
    num_system_qubits: int, design: ClockDesign, unitary: Gate, multiplexer: bool = False
) -> QuantumCircuit:
    """QPE(U), uniformly controlled RY inversion onto the flag, inverse QPE.

    Parameters
    ----------
    num_system_qubits : int
        ``n``.
    design : ClockDesign
        Clock size and inversion angles.
    unitary : Gate
        ``U`` on ``n`` qubits (one of the gates of this module).
    multiplexer : bool
        Write the inversion as a ``UCGate`` of the ``RY`` matrices instead of a
        ``UCRYGate``: the same unitary, which Aer applies as one multiplexer in a single
        pass over the state instead of :math:`2^m` RY and CX gates.
    """
    n, m = num_system_qubits, design.num_clock_qubits
    sysr = QuantumRegister(n, "b")
    clock = QuantumRegister(m, "clock")
    flag = QuantumRegister(1, "flag")
    qc = QuantumCircuit(sysr, clock, flag, name="hhl_core")
    qpe = phase_estimation(m, unitary)
    targets = list(clock) + list(sysr)
    qc.compose(qpe, qubits=targets, inplace=True)
    # clock qubit 0 holds the most significant bit: feed the controls LSB first.
    angles = design.angles()
    if multiplexer:
        from qiskit.circuit.library import RYGate, UCGate

        inversion = UCGate([RYGate(a).to_matrix() for a in angles], up_to_diagonal=False)
    else:
        inversion = UCRYGate(angles.tolist())
    qc.append(inversion, [flag[0]] + list(clock)[::-1])
    qc.compose(qpe.inverse(), qubits=targets, inplace=True)
    return qc


def measured_circuit(
    core: QuantumCircuit,
    rhs: np.ndarray | None,
    basis_change: np.ndarray | None = None,
) -> QuantumCircuit:
    """``StatePreparation(rhs)``, optional eigenbasis change, ``core``, measure everything.

    All qubits are measured into one register ``meas``: the integer outcome is
    ``s + N*k + N*K*f`` (system ``s``, clock ``k``, flag ``f``).  With ``rhs=None`` the
    state preparation is left out (a simulator initialises the state instead).
    """
    n = core.qregs[0].size
    qc = QuantumCircuit(*core.qregs, ClassicalRegister(core.num_qubits, "meas"))
    sysq = qc.qubits[:n]
    if rhs is not None:
        qc.append(StatePreparation(np.asarray(rhs, dtype=complex).tolist()), sysq)
    if basis_change is not None:
        qc.append(UnitaryGate(basis_change.T, check_input=False, label="V^T"), sysq)
    qc.compose(core, inplace=True)
    if basis_change is not None:
        qc.append(UnitaryGate(basis_change, check_input=False, label="V"), sysq)
    qc.measure(qc.qubits, qc.clbits)
    return qc
