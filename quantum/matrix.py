r"""Hermitian embeddings of a real linear system for HHL.

HHL inverts a Hermitian matrix on a register of :math:`n_s` qubits, so a real system
:math:`Mx = b` of size :math:`n` is first rewritten as :math:`Hy = b'` with :math:`H`
real symmetric of size :math:`N = 2^{n_s}`.

Three embeddings are used:

``direct``
    :math:`M = M^\top`: :math:`H = M`, :math:`b' = b`, :math:`x = y`.

``symmetrise``
    :math:`M` is *reversible*: a positive diagonal :math:`S = \mathrm{diag}(s)` makes
    :math:`H = S^{-1} M S` symmetric.  Entrywise :math:`H_{ij} = M_{ij}\, s_j / s_i`, so
    symmetry requires :math:`M_{ij}/M_{ji} = d_i / d_j` with :math:`d = s^2` for every
    off-diagonal pair — a symmetric sparsity pattern, :math:`M_{ij} M_{ji} > 0`, and
    consistency of the ratios around every cycle (Kolmogorov's criterion).  :math:`d` is
    built along a breadth-first spanning tree of the pattern and then checked on every
    edge.  For a tridiagonal matrix (a birth-death chain, e.g. a 1-D Fokker-Planck step
    :math:`I - \Delta t A`) the tree is the path itself and :math:`d` is the stationary
    vector up to a constant.  Off-diagonals are formed as
    :math:`H_{ij} = \operatorname{sign}(M_{ij})\sqrt{M_{ij}M_{ji}}`, exactly symmetric.
    Then :math:`Hy = S^{-1}b` and :math:`x = Sy`; no extra qubit is needed.  The price is
    error amplification: an approximate :math:`\hat y = (I + E)\,y` gives
    :math:`\hat x - x = S E S^{-1} x`, so a relative error :math:`\|E\|` in :math:`y`
    becomes up to :math:`\operatorname{cond}(S)\,\|E\|` in :math:`x`, with
    :math:`\operatorname{cond}(S) = \max_i s_i / \min_i s_i = \sqrt{\max d / \min d}`.
    For a Fokker-Planck step :math:`d` is the stationary density, whose ratio over a domain
    of a few standard deviations is huge: :math:`10^7` to :math:`10^{11}`
    (:math:`\operatorname{cond}(S) \approx 3\cdot 10^3` to :math:`5\cdot 10^5`) for an
    Ornstein-Uhlenbeck step on :math:`[-3, 3]` with 16 to 64 cells.

``dilate``
    Any non-singular :math:`M`:
    :math:`H = \begin{pmatrix} 0 & M \\ M^\top & 0 \end{pmatrix}` has eigenvalues
    :math:`\pm\sigma_i(M)`, so :math:`\kappa(H) = \kappa_2(M)`.  With
    :math:`b' = (b, 0)`, :math:`Hy = b'` gives :math:`M y_2 = b` and
    :math:`M^\top y_1 = 0`, i.e. :math:`x = y_2` (second block).  One extra qubit.

If the embedded size is not a power of two, :math:`H` is padded to
:math:`H \oplus c I` with :math:`c` the largest eigenvalue magnitude, which lies inside the
spectrum's range so :math:`\kappa` is unchanged; :math:`b'` is padded with zeros, so the
padding block never enters the solution.  A matrix with only negative eigenvalues is
negated (with :math:`b'`) so that the phase-estimation grid sees a positive spectrum.

The spectrum is computed with a dense ``numpy.linalg.eigh`` of :math:`H` — cheap at the
sizes a state-vector simulation can reach (:math:`N \le 2^{12}`); the eigenvectors also
give the exact evolution :math:`e^{iHt} = V e^{i\Lambda t} V^\top`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

__all__ = [
    "HermitianEmbedding",
    "as_real_matrix",
    "check_rhs",
    "embed",
    "reversible_scaling",
]

_SYMMETRY_RTOL = 1e-12
_REVERSIBLE_RTOL = 1e-9
_SINGULAR_KAPPA = 1e12
MAX_DENSE_SIZE = 2**13


def as_real_matrix(M) -> np.ndarray | sp.csr_matrix:
    """Validate a square, real, finite matrix; return it as ndarray or CSR.

    Raises
    ------
    ValueError
        If ``M`` is not two-dimensional and square, is empty, has a non-zero imaginary
        part, or contains NaN/inf.
    """
    if sp.issparse(M):
        A = sp.csr_matrix(M)
        data = A.data
    else:
        A = np.asarray(M)
        data = A
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(
            f"M must be a square 2-D matrix; got shape {A.shape}. HHL solves square systems "
            "M x = b (use a least-squares method for rectangular ones)."
        )
    if A.shape[0] == 0:
        raise ValueError("M is empty (shape (0, 0)).")
    if np.iscomplexobj(data):
        if np.any(np.imag(data) != 0):
            raise ValueError("M must be real; complex matrices are not supported.")
        A = A.real if not sp.issparse(A) else sp.csr_matrix(A.real)
        data = A.data if sp.issparse(A) else A
    if not np.all(np.isfinite(data)):
        raise ValueError("M contains NaN or inf entries; clean the matrix before solving.")
    return A.astype(float) if not sp.issparse(A) else A.astype(float)


def check_rhs(b, n: int) -> np.ndarray:
    """Validate a right-hand side of length ``n``: real, finite, not identically zero."""
    v = np.asarray(b)
    if v.ndim != 1 or v.shape[0] != n:
        raise ValueError(
            f"b must be a 1-D vector of length {n} (the size of M); got shape {v.shape}."
        )
    if np.iscomplexobj(v):
        if np.any(v.imag != 0):
            raise ValueError("b must be real; complex right-hand sides are not supported.")
        v = v.real
    v = v.astype(float)
    if not np.all(np.isfinite(v)):
        raise ValueError("b contains NaN or inf entries.")
    if not np.any(v):
        raise ValueError("b is the zero vector; the solution is x = 0 and needs no solver.")
    return v


def _is_symmetric(A) -> bool:
    D = A - A.T
    if sp.issparse(D):
        dmax = abs(D).max() if D.nnz else 0.0
        amax = abs(A).max()
    else:
        dmax = np.abs(D).max()
        amax = np.abs(A).max()
    return bool(dmax <= _SYMMETRY_RTOL * amax)


def reversible_scaling(M, rtol: float = _REVERSIBLE_RTOL) -> np.ndarray | None:
    r"""Positive ``s`` with :math:`\mathrm{diag}(s)^{-1} M\, \mathrm{diag}(s)` symmetric.

    Parameters
    ----------
    M : array_like or sparse matrix, shape (n, n)
        Real square matrix.
    rtol : float
        Relative tolerance of the cycle (detailed-balance) check on every edge.

    Returns
    -------
    numpy.ndarray or None
        ``s`` (largest entry 1 in each connected component), or ``None`` if no such
        scaling exists: non-symmetric sparsity pattern, an off-diagonal pair of
        opposite signs, or ratios inconsistent around a cycle.
    """
    A = sp.csr_matrix(M, dtype=float)
    n = A.shape[0]
    off = (A - sp.diags(A.diagonal())).tocsr()
    off.eliminate_zeros()
    if off.nnz == 0:
        return np.ones(n)
    coo = off.tocoo()
    rows, cols, vals = coo.row, coo.col, coo.data
    vals_t = np.asarray(off.T.tocsr()[rows, cols]).ravel()  # M_ji aligned with M_ij
    if np.any(vals_t == 0) or np.any(vals * vals_t <= 0):
        return None
    log_ratio = np.log(np.abs(vals)) - np.log(np.abs(vals_t))  # log(M_ij / M_ji)
    ratio = sp.csr_matrix((log_ratio, (rows, cols)), shape=(n, n))
    pattern = sp.csr_matrix((np.ones_like(vals), (rows, cols)), shape=(n, n))
    ncomp, labels = csgraph.connected_components(pattern, directed=False)
    ell = np.zeros(n)  # ell = log d = 2 log s
    for c in range(ncomp):
        root = int(np.flatnonzero(labels == c)[0])
        order, pred = csgraph.breadth_first_order(
            pattern, root, directed=False, return_predecessors=True
        )
        for node in order[1:]:
            parent = pred[node]
            ell[node] = ell[parent] + ratio[node, parent]  # d_i / d_j = M_ij / M_ji
        ell[order] -= ell[order].max()
    mismatch = np.abs(ell[rows] - ell[cols] - log_ratio)
    if np.any(mismatch > rtol * np.maximum(1.0, np.abs(log_ratio))):
        return None
    return np.exp(0.5 * ell)


def _symmetrised(A, s: np.ndarray) -> np.ndarray:
    """Dense :math:`S^{-1} M S` with off-diagonals ``sign(M_ij) sqrt(M_ij M_ji)``."""
    D = A.toarray() if sp.issparse(A) else np.array(A, dtype=float)
    H = np.sign(D) * np.sqrt(np.abs(D * D.T))
    np.fill_diagonal(H, np.diag(D))
    return H


def _check_size(dim: int) -> int:
    """Padded size ``2**ceil(log2 dim)`` (at least 2); error beyond ``MAX_DENSE_SIZE``."""
    N = max(2, 1 << (dim - 1).bit_length())
    if N > MAX_DENSE_SIZE:
        raise ValueError(
            f"the embedded matrix has size {N} > {MAX_DENSE_SIZE}; too large to simulate. "
            "Use quantum.estimate_resources for a resource estimate at this size."
        )
    return N


@dataclass(frozen=True)
class HermitianEmbedding:
    """A real system ``M x = b`` rewritten as ``H y = b'`` with ``H`` symmetric, size ``2**k``.

    Attributes
    ----------
    matrix : numpy.ndarray
        Padded symmetric ``H``, shape ``(N, N)`` with ``N = 2**num_system_qubits``.
    eigenvalues, eigenvectors : numpy.ndarray
        ``H = V diag(eigenvalues) V^T`` (ascending eigenvalues).
    size : int
        ``n``, the size of ``M``.
    method : str
        ``"direct"``, ``"symmetrise"`` or ``"dilate"``.
    scaling : numpy.ndarray or None
        ``s`` for ``"symmetrise"`` (``x = s * y``), else ``None``.
    padded : bool
        Whether an identity block was appended.
    negated : bool
        Whether ``H`` is ``-M`` (all eigenvalues of ``M`` negative).
    """

    matrix: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    size: int
    method: str
    scaling: np.ndarray | None
    padded: bool
    negated: bool

    @property
    def dim(self) -> int:
        """Size ``N`` of the padded Hermitian matrix."""
        return self.matrix.shape[0]

    @property
    def num_system_qubits(self) -> int:
        """``log2 N``."""
        return int(self.dim).bit_length() - 1

    @property
    def kappa(self) -> float:
        """Condition number ``max|lambda| / min|lambda|`` of ``H``."""
        a = np.abs(self.eigenvalues)
        return float(a.max() / a.min())

    @property
    def signed(self) -> bool:
        """Whether ``H`` has eigenvalues of both signs."""
        return bool(self.eigenvalues[0] < 0 < self.eigenvalues[-1])

    @property
    def scaling_condition(self) -> float:
        """``max(s) / min(s)`` (1 when no scaling is used)."""
        return 1.0 if self.scaling is None else float(self.scaling.max() / self.scaling.min())

    def encode(self, b: np.ndarray) -> np.ndarray:
        """Right-hand side ``b'`` of the embedded system (length ``N``)."""
        out = np.zeros(self.dim)
        if self.method == "dilate":
            out[: self.size] = b
        elif self.method == "symmetrise":
            out[: self.size] = b / self.scaling
        else:
            out[: self.size] = b
        return -out if self.negated else out

    def decode(self, y: np.ndarray) -> np.ndarray:
        """Solution ``x`` of ``M x = b`` from a solution ``y`` of ``H y = b'``."""
        n = self.size
        if self.method == "dilate":
            return y[n : 2 * n]
        if self.method == "symmetrise":
            return self.scaling * y[:n]
        return y[:n]

    def solution_slice(self) -> slice:
        """Indices of ``y`` that carry ``x`` (before any scaling)."""
        n = self.size
        return slice(n, 2 * n) if self.method == "dilate" else slice(0, n)


def embed(M, method: str = "auto", max_scaling_condition: float = 1e6) -> HermitianEmbedding:
    r"""Build the Hermitian embedding of a validated real square matrix.

    Parameters
    ----------
    M : numpy.ndarray or scipy.sparse matrix
        Output of :func:`as_real_matrix`.
    method : {"auto", "direct", "symmetrise", "dilate"}
        ``"auto"``: symmetric -> direct; reversible with ``max(s)/min(s) <=
        max_scaling_condition`` -> symmetrise; otherwise dilate.
    max_scaling_condition : float
        Largest ``cond(S) = max(s)/min(s)`` accepted by ``"auto"``.

    Notes
    -----
    Error amplification.  ``"direct"`` and ``"dilate"`` return ``x`` as (a block of) ``y``
    with :math:`\|x\| = \|y\|`, so a relative error of ``y`` is at most the same in
    ``x``.  ``"symmetrise"`` returns :math:`x = Sy`: if :math:`\hat y - y = E y` for an
    error operator :math:`E` (for HHL, :math:`E = \rho(H)`, a function of :math:`H`), then
    :math:`\hat x - x = S E S^{-1} x` and

    .. math::

        \frac{\|\hat x - x\|}{\|x\|} \le \|S\|\,\|E\|\,\|S^{-1}\|
        = \operatorname{cond}(S)\,\|E\|,

    the factor :math:`\Gamma` = :attr:`HermitianEmbedding.scaling_condition`.  This
    function only decides whether a symmetrisation exists (and ``max_scaling_condition``);
    :class:`quantum.HHLSolver` sizes the clock for :math:`\|E\| \le \varepsilon/\Gamma`
    and, in ``"auto"``, dilates where no clock up to ``max_clock_qubits`` achieves that.

    Raises
    ------
    ValueError
        Unknown method, a method that does not apply to ``M``, a matrix too large for a
        dense eigen-decomposition, or a singular / numerically singular ``M``.
    """
    if method not in ("auto", "direct", "symmetrise", "dilate"):
        raise ValueError(
            f"method must be 'auto', 'direct', 'symmetrise' or 'dilate'; got {method!r}."
        )
    n = M.shape[0]
    _check_size(n)
    symmetric = _is_symmetric(M)
    scaling = None
    if method == "direct" and not symmetric:
        raise ValueError("method='direct' needs a symmetric M; use 'symmetrise' or 'dilate'.")
    if method in ("auto", "symmetrise") and not symmetric:
        scaling = reversible_scaling(M)
        if scaling is None and method == "symmetrise":
            raise ValueError(
                "method='symmetrise' needs a reversible M (a positive diagonal S with "
                "S^-1 M S symmetric: symmetric sparsity, M_ij M_ji > 0 and detailed balance); "
                "use method='dilate'."
            )
        if (
            method == "auto"
            and scaling is not None
            and scaling.max() / scaling.min() > max_scaling_condition
        ):
            scaling = None
    if symmetric and method != "dilate":
        kind = "direct"
    elif scaling is not None:
        kind = "symmetrise"
    else:
        kind = "dilate"
    dim = 2 * n if kind == "dilate" else n
    N = _check_size(dim)
    if kind == "direct":
        Md = M.toarray() if sp.issparse(M) else np.array(M, dtype=float)
        H = 0.5 * (Md + Md.T)
    elif kind == "symmetrise":
        H = _symmetrised(M, scaling)
    else:
        Md = M.toarray() if sp.issparse(M) else np.asarray(M, dtype=float)
        H = np.zeros((2 * n, 2 * n))
        H[:n, n:] = Md
        H[n:, :n] = Md.T
    lam, V = np.linalg.eigh(H)
    amax = np.abs(lam).max()
    amin = np.abs(lam).min()
    if amin <= amax / _SINGULAR_KAPPA:
        cond = np.inf if amin == 0 else amax / amin
        raise ValueError(
            f"M is singular or numerically singular (condition number of the embedded "
            f"matrix ~ {cond:.3g}); HHL needs a non-singular, reasonably conditioned M."
        )
    negated = bool(lam[-1] < 0)
    if negated:
        H, lam, V = -H, -lam[::-1], V[:, ::-1]
    if N > dim:
        c = float(np.abs(lam).max())
        Hp = np.zeros((N, N))
        Hp[:dim, :dim] = H
        Hp[dim:, dim:] = c * np.eye(N - dim)
        Vp = np.zeros((N, N))
        Vp[:dim, :dim] = V
        Vp[dim:, dim:] = np.eye(N - dim)
        lam = np.concatenate([lam, np.full(N - dim, c)])
        order = np.argsort(lam, kind="stable")
        H, lam, V = Hp, lam[order], Vp[:, order]
    return HermitianEmbedding(
        matrix=H,
        eigenvalues=lam,
        eigenvectors=V,
        size=n,
        method=kind,
        scaling=scaling,
        padded=N > dim,
        negated=negated,
    )
