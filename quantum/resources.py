r"""Resource estimates and gate counts for HHL.

:func:`estimate_resources` gives closed-form counts for sizes far beyond simulation.  With
:math:`n_s = \lceil\log_2 n\rceil` (+1 for the dilation of a non-symmetric matrix),
:math:`N = 2^{n_s}`, eigenvalues scaled to :math:`\max|\lambda| = 1`, and the clock size
:math:`m` from :func:`quantum.inversion.required_clock_qubits`
(:math:`m \approx \log_2(\kappa/\varepsilon)`; a prepared matrix may need a few more,
which :func:`quantum.inversion.design_clock` certifies on its actual spectrum),
:math:`K = 2^m`:

* qubits: :math:`n_s + m + 1`;
* evolution time: :math:`t = 2\pi/(K\Delta)` per :math:`U`; QPE and its inverse together
  evolve for :math:`T = 2(K-1)t = O(\kappa/\varepsilon)`;
* two-qubit gates (CX), summed over

  - state preparation: :math:`2N` (uniformly controlled rotations);
  - two QFTs: :math:`2[m(m-1) + 3\lfloor m/2\rfloor]` (two CX per controlled phase, three per
    swap);
  - inversion ``UCRYGate``: :math:`K`;
  - controlled evolutions, ``hamiltonian="exact"``: :math:`2m` controlled dense unitaries
    on :math:`q = n_s+1` qubits, each
    :math:`\tfrac{23}{48}4^q - \tfrac32 2^q + \tfrac43` CX (quantum Shannon decomposition);
  - ``hamiltonian="trotter"``: :math:`L` Pauli terms (default
    :math:`L = N(1 + (s-1)n_s/4)`, exact for a generic tridiagonal matrix, :math:`s = 3`)
    of mean weight :math:`\bar w \approx 0.72\,n_s` (measured on tridiagonal matrices); a
    controlled Pauli rotation costs :math:`2(\bar w + 1)` CX; the number of product-formula
    steps over the whole evolution is :math:`r = \lceil T^2/\varepsilon\rceil` (order 1) or
    :math:`\lceil T^{3/2}/\varepsilon^{1/2}\rceil` (order 2, two sweeps per step), the
    standard commutator scaling with unit prefactors (:math:`\|H\| = 1`);

* success probability of one run :math:`\ge 1/\kappa^2` (:math:`C = \lambda_{\min}`), so
  :math:`\approx\kappa^2` repetitions per post-selected sample; a probability vector to
  total-variation error :math:`\delta` needs :math:`O(N/\delta^2)` post-selected samples.

The totals scale as :math:`O(N\kappa/\varepsilon)` (exact) or
:math:`O(N\log N\,(\kappa/\varepsilon)^{3/2} \varepsilon^{-1/2})` (order-2 Trotter)
before the :math:`\kappa^2` repetitions — far from HHL's asymptotic promise, because
loading :math:`b` and simulating :math:`e^{iHt}` from classical data are charged explicitly
instead of being assumed as oracles.

:func:`transpiled_counts` transpiles a concrete circuit to a basis (default
``['rz', 'sx', 'x', 'cx']``) and reports depth and two-qubit gate count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inversion import design_clock

__all__ = ["DEFAULT_BASIS", "ResourceEstimate", "estimate_resources", "qsd_cx", "transpiled_counts"]

DEFAULT_BASIS: tuple[str, ...] = ("rz", "sx", "x", "cx")


@dataclass(frozen=True)
class ResourceEstimate:
    """Closed-form HHL resource estimate (see the module docstring for the formulas).

    Attributes
    ----------
    size, kappa, epsilon : as passed.
    num_system_qubits, num_clock_qubits, num_qubits : int
    dilated : bool
    hamiltonian : str
    evolution_time : float
        ``t`` of one ``U`` (eigenvalues scaled to ``max|lambda| = 1``).
    total_evolution_time : float
        ``T = 2 (2**m - 1) t``.
    num_pauli_terms : int or None
        ``L`` (Trotter only).
    trotter_steps : int or None
        Total product-formula steps over QPE and inverse (Trotter only).
    two_qubit_gates : int
        CX count, broken down in ``breakdown``.
    success_probability_bound : float
        ``1 / kappa**2``.
    breakdown : dict
        CX per component.
    """

    size: int
    kappa: float
    epsilon: float
    num_system_qubits: int
    num_clock_qubits: int
    num_qubits: int
    dilated: bool
    hamiltonian: str
    evolution_time: float
    total_evolution_time: float
    num_pauli_terms: int | None
    trotter_steps: int | None
    two_qubit_gates: int
    success_probability_bound: float
    breakdown: dict

    def shots_for_total_variation(self, delta: float) -> int:
        """Total shots for a probability vector to total-variation error ``~delta``.

        ``N / delta**2`` post-selected samples, divided by the success-probability bound.
        """
        N = 1 << self.num_system_qubits
        return int(np.ceil(N / delta**2 / self.success_probability_bound))


def qsd_cx(q: int) -> int:
    """CX count of a general ``q``-qubit unitary by the quantum Shannon decomposition
    (Shende, Bullock and Markov 2006): ``(23/48) 4^q - (3/2) 2^q + 4/3``."""
    return int(round(23 / 48 * 4**q - 1.5 * 2**q + 4 / 3))


def estimate_resources(
    n: int,
    kappa: float,
    epsilon: float = 0.01,
    *,
    symmetric: bool = True,
    hamiltonian: str = "trotter",
    sparsity: int = 3,
    num_pauli_terms: int | None = None,
    trotter_order: int = 2,
) -> ResourceEstimate:
    """Estimate qubits and gates of HHL for an ``n x n`` system without building it.

    Parameters
    ----------
    n : int
        System size.
    kappa : float
        Condition number (``>= 1``).
    epsilon : float
        Target relative error of the solution.
    symmetric : bool
        ``False`` adds the dilation qubit and a signed clock.  Reversible matrices count as
        symmetric (diagonal similarity).
    hamiltonian : {"trotter", "exact"}
        Synthesis of the controlled evolutions.
    sparsity : int
        Non-zeros per row ``s`` (for the default ``num_pauli_terms``).
    num_pauli_terms : int, optional
        Override ``L``.
    trotter_order : {1, 2}
        Product-formula order.

    Returns
    -------
    ResourceEstimate
    """
    if n < 1 or kappa < 1 or not 0 < epsilon < 1:
        raise ValueError("need n >= 1, kappa >= 1 and 0 < epsilon < 1.")
    if hamiltonian not in ("trotter", "exact"):
        raise ValueError(f"hamiltonian must be 'trotter' or 'exact'; got {hamiltonian!r}.")
    if trotter_order not in (1, 2):
        raise ValueError(f"trotter_order must be 1 or 2; got {trotter_order}.")
    ns = max(1, int(np.ceil(np.log2(n)))) + (0 if symmetric else 1)
    N = 1 << ns
    lam = np.array([1.0 / kappa, 1.0]) if symmetric else np.array([-1.0, 1.0 / kappa, 1.0])
    design = design_clock(lam, epsilon=epsilon, max_clock_qubits=64, certify=False)
    m = design.num_clock_qubits
    K = 1 << m
    t = design.evolution_time
    T = 2 * (K - 1) * t
    br = {
        "state_preparation": 2 * N,
        "qft": 2 * (m * (m - 1) + 3 * (m // 2)),
        "inversion": K,
    }
    L = steps = None
    if hamiltonian == "exact":
        br["controlled_evolution"] = 2 * m * qsd_cx(ns + 1)
    else:
        L = num_pauli_terms or int(N * (1 + (sparsity - 1) * ns / 4))
        wbar = 0.72 * ns
        if trotter_order == 1:
            steps = int(np.ceil(T**2 / epsilon))
            sweeps = 1
        else:
            steps = int(np.ceil(T**1.5 / np.sqrt(epsilon)))
            sweeps = 2
        br["controlled_evolution"] = int(round(steps * sweeps * L * 2 * (wbar + 1)))
    return ResourceEstimate(
        size=n,
        kappa=float(kappa),
        epsilon=float(epsilon),
        num_system_qubits=ns,
        num_clock_qubits=m,
        num_qubits=ns + m + 1,
        dilated=not symmetric,
        hamiltonian=hamiltonian,
        evolution_time=float(t),
        total_evolution_time=float(T),
        num_pauli_terms=L,
        trotter_steps=steps,
        two_qubit_gates=int(sum(br.values())),
        success_probability_bound=1.0 / kappa**2,
        breakdown=br,
    )


def transpiled_counts(circuit, basis=DEFAULT_BASIS, optimization_level: int = 1) -> dict:
    """Depth and two-qubit gate count of ``circuit`` transpiled to ``basis``.

    Returns
    -------
    dict
        ``{"depth": int, "two_qubit_gates": int, "ops": dict}``.
    """
    from qiskit import transpile

    tq = transpile(circuit, basis_gates=list(basis), optimization_level=optimization_level)
    ops = dict(tq.count_ops())
    two = sum(1 for inst in tq.data if inst.operation.num_qubits == 2)
    return {"depth": int(tq.depth()), "two_qubit_gates": int(two), "ops": ops}
