r"""Running the HHL circuit: exact state vector on Aer, or shots through a sampler/backend.

State vector (``shots=None``)
    The circuit after the state preparation is transpiled for ``AerSimulator`` once; each
    solve initialises the system register to :math:`b'/\|b'\|` with Aer's
    ``set_statevector`` (clock and flag in :math:`|0\rangle`) and saves only the
    :math:`N` post-selected amplitudes (flag 1, clock 0), i.e. the unnormalised vector
    :math:`\phi = (\langle 1|_f \langle 0|_c \otimes I)\, W\, |\hat b\rangle|0\rangle|0\rangle`;
    :math:`P_{\text{success}} = \|\phi\|^2`.  In the eigenbasis realisation
    (:mod:`quantum.circuits`) the basis changes :math:`V^\top` and :math:`V` act on the system
    register alone: :math:`V^\top` is applied while clock and flag are still
    :math:`|0\rangle`, and :math:`V` commutes with the projection onto flag/clock, so both
    are simulated by Aer on the :math:`n`-qubit register only (:math:`\langle
    1,0|(I\otimes V)|\Psi\rangle = V\langle 1,0|\Psi\rangle`) — exact, and it spares Aer two
    dense :math:`n`-qubit gates on the full :math:`(n+m+1)`-qubit state.  The simulated
    core writes the inversion as a ``UCGate`` multiplexer, the same unitary as the
    ``UCRYGate`` of the reference circuit, which Aer applies in one pass.

Shots
    All qubits are measured into one register; outcomes with flag 1 and clock 0 are kept.
    With :math:`s` post-selected counts :math:`c_i` out of ``shots``,
    :math:`\hat P = s/\text{shots}` and :math:`\hat p_i = c_i/s \approx |y_i|^2/\|y\|^2`.
    Aer (default) gets ``set_statevector`` plus the transpiled body; with a noise model the
    whole circuit, state preparation included, is transpiled to the stated basis so that
    gate errors apply.  Any other ``SamplerV2`` or backend gets ``StatePreparation``.
"""

from __future__ import annotations

import time

import numpy as np
from qiskit import QuantumCircuit, transpile

__all__ = ["AerStatevectorRunner", "ShotRunner", "postselect_counts"]


_TARGETS: dict = {}
#: Aer option defaults: below 2**18 amplitudes one thread beats OpenMP start-up and
#: synchronisation (and is far faster when the cores are shared with other work).
AER_DEFAULTS = {"statevector_parallel_threshold": 18}


def _aer_simulator(**options):
    from qiskit_aer import AerSimulator

    return AerSimulator(**{**AER_DEFAULTS, **options})


def _aer_transpile(circuit: QuantumCircuit, simulator) -> QuantumCircuit:
    """Transpile for an Aer simulator at level 0, reusing its ``Target`` (built once)."""
    key = (simulator.options.method, simulator.name)
    if key not in _TARGETS:
        _TARGETS[key] = simulator.target
    return transpile(circuit, target=_TARGETS[key], optimization_level=0)


def _with_initial_state(template: QuantumCircuit, vector: np.ndarray) -> QuantumCircuit:
    """``template`` preceded by Aer's ``set_statevector(vector)`` on all its qubits."""
    import qiskit_aer.library  # noqa: F401  (registers QuantumCircuit.set_statevector)

    qc = template.copy_empty_like()
    qc.set_statevector(vector)
    qc.compose(template, inplace=True, copy=False)
    return qc


def _full_state(system_state: np.ndarray, num_qubits: int) -> np.ndarray:
    vec = np.zeros(1 << num_qubits, dtype=complex)
    vec[: len(system_state)] = system_state
    return vec


class AerStatevectorRunner:
    """Exact post-selected amplitudes of the HHL core on Aer's state-vector method.

    Parameters
    ----------
    core : QuantumCircuit
        Output of :func:`quantum.circuits.core_circuit`.
    basis_change : numpy.ndarray, optional
        ``V`` when ``core`` is the eigenbasis realisation; ``None`` otherwise.
    aer_options : dict, optional
        Options for ``AerSimulator(method="statevector", ...)`` (over ``AER_DEFAULTS``).
    """

    def __init__(self, core: QuantumCircuit, basis_change=None, aer_options=None):
        from qiskit.circuit.library import UnitaryGate

        self.simulator = _aer_simulator(method="statevector", **(aer_options or {}))
        n = core.qregs[0].size
        N = 1 << n
        m = core.qregs[1].size
        self.num_qubits = core.num_qubits
        t0 = time.perf_counter()
        body = core.copy()
        # flag = 1, clock = 0: index s + N*2**m
        body.save_amplitudes((N * (1 << m) + np.arange(N)).tolist(), label="post")
        self._body = _aer_transpile(body, self.simulator)
        self._pre = self._post = None
        if basis_change is not None:
            for attr, mat in (("_pre", basis_change.T), ("_post", basis_change)):
                qc = QuantumCircuit(n)
                qc.append(UnitaryGate(mat, check_input=False), qc.qubits)
                qc.save_statevector(label="psi")
                setattr(self, attr, _aer_transpile(qc, self.simulator))
        self.transpile_time = time.perf_counter() - t0

    def _system_only(self, template: QuantumCircuit, vector: np.ndarray) -> np.ndarray:
        res = self.simulator.run(_with_initial_state(template, vector)).result()
        return np.asarray(res.data(0)["psi"])

    def run(self, rhs_unit: np.ndarray) -> tuple[np.ndarray, float]:
        """Post-selected unnormalised system vector ``phi`` and ``P_success = |phi|^2``.

        Parameters
        ----------
        rhs_unit : numpy.ndarray
            Normalised ``b'`` (length ``N``).
        """
        psi = np.asarray(rhs_unit, dtype=complex)
        if self._pre is not None:
            psi = self._system_only(self._pre, psi)
        circ = _with_initial_state(self._body, _full_state(psi, self.num_qubits))
        res = self.simulator.run(circ).result()
        phi = np.asarray(res.data(0)["post"], dtype=complex)
        prob = float(np.vdot(phi, phi).real)
        if self._post is not None and prob > 0:
            phi = np.sqrt(prob) * self._system_only(self._post, phi / np.sqrt(prob))
        return phi, prob


def postselect_counts(counts: dict[int, int], N: int, K: int) -> tuple[np.ndarray, int]:
    """System-register histogram of outcomes with flag 1 and clock 0.

    Returns
    -------
    hist : numpy.ndarray
        Counts per system basis state (length ``N``).
    kept : int
        Number of post-selected shots.
    """
    hist = np.zeros(N)
    base = N * K
    for outcome, c in counts.items():
        if base <= outcome < base + N:
            hist[outcome - base] += c
    return hist, int(hist.sum())


class ShotRunner:
    """Sample the measured HHL circuit.

    Parameters
    ----------
    core : QuantumCircuit
        HHL core (see :func:`quantum.circuits.core_circuit`).
    basis_change : numpy.ndarray, optional
        ``V`` for the eigenbasis realisation.
    sampler : BaseSamplerV2, optional
        Any Qiskit ``SamplerV2``; receives high-level circuits (transpiled for ``backend``
        if that is given too).
    backend : BackendV2, optional
        Target backend; an ``AerSimulator`` is used directly, others through
        ``BackendSamplerV2``.  Default: ``AerSimulator``.
    noise_model : qiskit_aer.noise.NoiseModel, optional
        Noise for the default Aer simulator (the circuit is then transpiled to ``basis``).
    basis : sequence of str
        Basis for noisy simulation.
    aer_options : dict, optional
        Options for the default ``AerSimulator``.
    """

    def __init__(
        self,
        core: QuantumCircuit,
        basis_change=None,
        sampler=None,
        backend=None,
        noise_model=None,
        basis=("rz", "sx", "x", "cx"),
        aer_options=None,
    ):
        from .circuits import measured_circuit

        self.core, self.basis_change = core, basis_change
        self.sampler, self.noise_model, self.basis = sampler, noise_model, list(basis)
        self.N = 1 << core.qregs[0].size
        self.K = 1 << core.qregs[1].size
        self._is_aer = False
        if sampler is None:
            if backend is None:
                backend = _aer_simulator(noise_model=noise_model, **(aer_options or {}))
            self._is_aer = type(backend).__name__ == "AerSimulator"
        self.backend = backend
        t0 = time.perf_counter()
        self._template = None
        if self._is_aer and noise_model is None:
            self._template = _aer_transpile(measured_circuit(core, None, basis_change), backend)
        elif self._is_aer:
            self._template = transpile(
                measured_circuit(core, None, basis_change), basis_gates=self.basis
            )
        self.transpile_time = time.perf_counter() - t0

    def counts(self, rhs_unit: np.ndarray, shots: int, seed: int | None) -> dict[int, int]:
        """Integer-keyed counts (``s + N*k + N*K*f``) for the normalised ``b'``."""
        from .circuits import measured_circuit

        if self._is_aer and self.noise_model is None:
            full = _full_state(np.asarray(rhs_unit, dtype=complex), self._template.num_qubits)
            circ = _with_initial_state(self._template, full)
        elif self._is_aer:
            from qiskit.circuit.library import StatePreparation

            prep = self._template.copy_empty_like()
            n = self.core.qregs[0].size
            prep.append(StatePreparation(np.asarray(rhs_unit, complex).tolist()), prep.qubits[:n])
            circ = transpile(prep, basis_gates=self.basis).compose(self._template)
        else:
            circ = measured_circuit(self.core, rhs_unit, self.basis_change)
            if self.backend is not None:
                circ = transpile(circ, self.backend)
        if self._is_aer:
            run_opts = {"shots": shots}
            if seed is not None:
                run_opts["seed_simulator"] = seed
            raw = self.backend.run(circ, **run_opts).result().get_counts()
            return {int(k.replace(" ", ""), 2): v for k, v in raw.items()}
        sampler = self.sampler
        if sampler is None:
            from qiskit.primitives import BackendSamplerV2

            opts = {} if seed is None else {"seed_simulator": seed}
            sampler = BackendSamplerV2(backend=self.backend, options=opts)
        result = sampler.run([circ], shots=shots).result()
        return dict(result[0].data.meas.get_int_counts())
