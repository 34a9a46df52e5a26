"""Linear solvers behind one two-phase protocol, looked up by name.

Implicit time steps and stationary densities need ``x`` with ``M x = b``. Every solver splits
the work as in direct methods:

``prepared = solver.prepare(M)``
    once per matrix: factorise, build a preconditioner, or build a quantum circuit;
``x = prepared.solve(b)``
    once per right-hand side.

Solvers are registered by name: ``"splu"`` (sparse LU, SuperLU; the default), ``"dense"``
(``numpy.linalg.solve``; the plain reference), ``"gmres"`` and ``"bicgstab"`` (Krylov methods
with an incomplete-LU preconditioner, for grids too large to factorise) and ``"hhl"`` (the HHL
quantum algorithm on a Qiskit Aer simulator; imported from the ``pfda_quantum`` package on first
use).
:func:`register_solver` adds more.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = [
    "LinearSolver",
    "PreparedSolver",
    "Splu",
    "Dense",
    "Krylov",
    "get_solver",
    "register_solver",
    "available_solvers",
]


class PreparedSolver(Protocol):
    """A solver bound to one matrix."""

    def solve(self, b: np.ndarray) -> np.ndarray: ...


class LinearSolver(Protocol):
    """The two-phase protocol: ``prepare(M)`` once, then ``solve(b)`` per right-hand side."""

    name: str

    def prepare(self, M) -> PreparedSolver: ...


def _check_matrix(M) -> sp.csc_matrix | np.ndarray:
    shape = M.shape
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"M must be square, got shape {shape}")
    data = M.data if sp.issparse(M) else np.asarray(M)
    if not np.all(np.isfinite(data)):
        raise ValueError("M contains NaN or inf entries")
    return M


def _check_rhs(b, n: int) -> np.ndarray:
    b = np.asarray(b, dtype=float)
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},), got {b.shape}")
    if not np.all(np.isfinite(b)):
        raise ValueError("b contains NaN or inf entries")
    return b


# ---------------------------------------------------------------------------------------------
@dataclass
class _PreparedSplu:
    lu: Any
    n: int

    def solve(self, b):
        return self.lu.solve(_check_rhs(b, self.n))


@dataclass(frozen=True)
class Splu:
    """Sparse LU factorisation (SuperLU, ``scipy.sparse.linalg.splu``).

    Parameters
    ----------
    permc_spec : str
        Column ordering for sparsity (``"COLAMD"`` by default).
    """

    permc_spec: str = "COLAMD"
    name: str = field(default="splu", init=False)

    def prepare(self, M) -> _PreparedSplu:
        M = _check_matrix(M)
        try:
            lu = spla.splu(sp.csc_matrix(M), permc_spec=self.permc_spec)
        except RuntimeError as err:  # "Factor is exactly singular"
            raise ValueError(f"M is singular, cannot factorise: {err}") from err
        return _PreparedSplu(lu, M.shape[0])


@dataclass
class _PreparedDense:
    lu_piv: Any
    n: int

    def solve(self, b):
        return scipy.linalg.lu_solve(self.lu_piv, _check_rhs(b, self.n))


@dataclass(frozen=True)
class Dense:
    """Dense LU (LAPACK getrf/getrs): ``numpy.linalg.solve`` in two phases; the reference."""

    name: str = field(default="dense", init=False)

    def prepare(self, M) -> _PreparedDense:
        M = _check_matrix(M)
        dense = M.toarray() if sp.issparse(M) else np.array(M, dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            lu_piv = scipy.linalg.lu_factor(dense, check_finite=False)
        if np.any(np.diag(lu_piv[0]) == 0):
            raise ValueError("M is singular (a zero pivot in its LU factorisation)")
        return _PreparedDense(lu_piv, dense.shape[0])


@dataclass
class _PreparedKrylov:
    M: Any
    precond: Any
    method: Callable
    rtol: float
    maxiter: int | None
    name: str
    last_info: int = 0
    x0: np.ndarray | None = None

    def solve(self, b):
        b = _check_rhs(b, self.M.shape[0])
        x, info = self.method(
            self.M, b, x0=self.x0, rtol=self.rtol, atol=0.0, M=self.precond, maxiter=self.maxiter
        )
        self.last_info = info
        if info != 0:
            res = np.linalg.norm(self.M @ x - b) / max(np.linalg.norm(b), 1e-300)
            raise RuntimeError(
                f"{self.name} did not converge (info={info}, relative residual {res:.2e}): "
                "raise maxiter, loosen rtol, or use solver='splu'"
            )
        return x


@dataclass(frozen=True)
class Krylov:
    """Preconditioned Krylov solver: GMRES or BiCGSTAB with an incomplete-LU preconditioner.

    Parameters
    ----------
    method : {"gmres", "bicgstab"}
    rtol : float
        Relative residual tolerance ``||M x - b|| <= rtol ||b||``.
    drop_tol, fill_factor : float
        Incomplete-LU parameters (``scipy.sparse.linalg.spilu``).
    maxiter : int, optional
    """

    method: str = "gmres"
    rtol: float = 1e-12
    drop_tol: float = 1e-5
    fill_factor: float = 10.0
    maxiter: int | None = None

    @property
    def name(self) -> str:
        return self.method

    def prepare(self, M) -> _PreparedKrylov:
        M = sp.csc_matrix(_check_matrix(M))
        try:
            ilu = spla.spilu(M, drop_tol=self.drop_tol, fill_factor=self.fill_factor)
            precond = spla.LinearOperator(M.shape, ilu.solve)
        except RuntimeError:
            precond = None
        method = {"gmres": spla.gmres, "bicgstab": spla.bicgstab}[self.method]
        return _PreparedKrylov(M.tocsr(), precond, method, self.rtol, self.maxiter, self.method)


# ---------------------------------------------------------------------------------------------
_REGISTRY: dict[str, Callable[..., LinearSolver]] = {
    "splu": Splu,
    "dense": Dense,
    "gmres": lambda **kw: Krylov(method="gmres", **kw),
    "bicgstab": lambda **kw: Krylov(method="bicgstab", **kw),
}
_LAZY: dict[str, tuple[str, str, str]] = {
    # name: (module, attribute, extra that installs it)
    "hhl": ("pfda_quantum", "HHLSolver", "quantum"),
}


def register_solver(name: str, factory: Callable[..., LinearSolver]) -> None:
    """Make ``get_solver(name, **options)`` return ``factory(**options)``."""
    _REGISTRY[name] = factory


def available_solvers() -> tuple[str, ...]:
    """Names accepted by :func:`get_solver`."""
    return tuple(sorted(set(_REGISTRY) | set(_LAZY)))


def get_solver(name: str | LinearSolver = "splu", **options) -> LinearSolver:
    """A linear solver by name (or pass a solver object through).

    Examples
    --------
    >>> import numpy as np
    >>> get_solver("dense").prepare(np.eye(2) * 2).solve(np.ones(2))
    array([0.5, 0.5])
    """
    if not isinstance(name, str):
        if hasattr(name, "prepare"):
            if options:
                raise ValueError("solver options go with a solver name, not a solver object")
            return name
        raise TypeError(f"solver must be a name or an object with prepare(M), got {name!r}")
    if name in _REGISTRY:
        return _REGISTRY[name](**options)
    if name in _LAZY:
        module, attr, extra = _LAZY[name]
        missing = [m for m in ("qiskit", "qiskit_aer") if importlib.util.find_spec(m) is None]
        if missing:
            raise ImportError(
                f"solver {name!r} needs the optional '{extra}' dependencies (qiskit >= 2, "
                f"qiskit-aer; missing: {', '.join(missing)}): pip install 'pfda[{extra}]'"
            )
        try:
            mod = importlib.import_module(module)
            factory = getattr(mod, attr)
        except ImportError as err:
            raise ImportError(
                f"solver {name!r} needs the optional '{extra}' dependencies (qiskit >= 2, "
                f"qiskit-aer): pip install 'pfda[{extra}]' ({err})"
            ) from err
        return factory(**options)
    raise ValueError(f"unknown solver {name!r}: choose one of {', '.join(available_solvers())}")
