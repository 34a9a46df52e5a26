"""Quantum linear solvers on Qiskit >= 2 and Qiskit Aer.

The HHL algorithm (Harrow, Hassidim, Lloyd 2009) for real square non-singular systems
``M x = b``: symmetric matrices directly, reversible ones after a diagonal similarity,
all others through the dilation ``[[0, M], [M^T, 0]]``.  Runs as an exact state-vector
simulation on Aer or with shots through any Qiskit sampler or backend.

>>> import pfda_quantum as quantum
>>> r = quantum.hhl_solve(M, b)                       # doctest: +SKIP
>>> x = quantum.HHLSolver(epsilon=1e-2).prepare(M).solve(b)   # doctest: +SKIP

Importing this package does not import Qiskit; Qiskit is loaded when a circuit is built.
"""

from .hhl import HHLSolver, PreparedHHL, hhl_solve
from .inversion import required_clock_qubits
from .matrix import reversible_scaling
from .resources import ResourceEstimate, estimate_resources
from .results import HHLResult, MatrixInfo

__all__ = [
    "HHLResult",
    "HHLSolver",
    "MatrixInfo",
    "PreparedHHL",
    "ResourceEstimate",
    "estimate_resources",
    "hhl_solve",
    "required_clock_qubits",
    "reversible_scaling",
]
