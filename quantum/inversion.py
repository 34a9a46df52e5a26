r"""Clock register design and eigenvalue inversion for HHL.

Phase estimation of :math:`U = e^{i(H - \lambda_0)t}` with :math:`m` clock qubits
(:math:`K = 2^m`) writes an eigenvalue :math:`\lambda` of :math:`H` into the clock as the
integer :math:`k \approx K(\lambda - \lambda_0)t/2\pi \bmod K`.  A clock value therefore
stands for one point of an eigenvalue grid with spacing :math:`\Delta = 2\pi/(Kt)`:

* **unsigned** (all :math:`\lambda > 0`): :math:`\lambda_k = \lambda_0 + k\Delta`.  The
  spectrum :math:`[\lambda_{\min}, \lambda_{\max}]` is mapped onto the bins
  :math:`[\mu K, (1-\mu)K]` with a margin :math:`\mu = 1/8` at both ends, so phase
  estimation's leakage rarely wraps around:
  :math:`\Delta = W / ((1-2\mu)K)`, :math:`\lambda_0 = \lambda_{\min} - \mu K \Delta`,
  :math:`W = \max(\lambda_{\max} - \lambda_{\min}, \lambda_{\max}/10)`.  The shift
  :math:`\lambda_0` costs only a phase gate per clock qubit and spends the whole register
  on the occupied part of the spectrum.
* **signed** (dilations, indefinite :math:`H`): two's complement,
  :math:`\lambda_k = \Delta\,(k - K[k \ge K/2])`, no shift, and
  :math:`\max|\lambda| \mapsto qK/2` with :math:`q = \min(1-\mu, \kappa/(\kappa+1))`:
  for small :math:`\kappa` the band :math:`[\lambda_{\min}, \lambda_{\max}]` then sits
  as far from the sign change at :math:`k = 0` as from the wrap-around at :math:`k = K/2`.

The inversion rotates a flag qubit by :math:`R_Y(\theta_k)` with
:math:`\sin(\theta_k/2) = f_k = \mathrm{clip}(C/\lambda_k, -1, 1)`
(:math:`f = 1` on unsigned bins below :math:`C`, :math:`f = 0` on the signed bin
:math:`k = 0`), where :math:`C = \min|\lambda|` — the largest constant that never clips a
true eigenvalue, hence the largest success probability.  After uncomputing the phase
estimation and post-selecting flag :math:`= 1`, clock :math:`= 0`, the system holds
:math:`\sum_j \beta_j g(\lambda_j) |u_j\rangle` with
:math:`g(\lambda) = \sum_k p(k|\lambda) f_k \approx C/\lambda` (:math:`p` the phase
estimation distribution), i.e. :math:`\approx C H^{-1}|b\rangle`.

Clock size.  The error of :math:`g` is set by the relative bin width at the smallest
eigenvalue, :math:`r = \Delta / \min|\lambda|`.  Averaging the exact phase-estimation
distribution over random spectra (:math:`1.01 \le \kappa \le 50`, :math:`3 \le m \le 10`,
random :math:`b`), the relative error of the rescaled solution :math:`\|\hat y - y\| /
\|y\|` stayed below :math:`0.8\,r` (median :math:`0.3\,r`) for both grids, and the error
of the normalised direction below :math:`0.5\,r`.  The starting clock therefore asks for
:math:`r \le \varepsilon`:

.. math::

    m_0 = \left\lceil \log_2 \frac{W}{(1-2\mu)\,\varepsilon\,\lambda_{\min}}
    \right\rceil \ \text{(unsigned)},\qquad
    m_0 = \left\lceil \log_2 \frac{2\kappa}{q\,\varepsilon} \right\rceil
    \ \text{(signed)},

at least 3.

Certified inversion error.  The phase-estimation distribution is known in closed form: an
eigenphase :math:`\varphi = (\lambda-\lambda_0)t` lands on clock value :math:`k` with the
Fejér-kernel probability

.. math::

    p(k\,|\,\lambda) = \left(\frac{\sin \pi d}{K \sin(\pi d / K)}\right)^2, \qquad
    d = \frac{K\varphi}{2\pi} - k,

so :math:`g(\lambda_j)` and the relative inversion error of every eigenvalue,

.. math::

    \rho_j = \frac{\lambda_j\, g(\lambda_j)}{C} - 1,

are computed exactly (:func:`inversion_errors`).  Rescaled by :math:`\|b'\|/C`, the kept
state is :math:`\hat y = \sum_j \beta_j \|b'\| (g(\lambda_j)/C)\, u_j = (I + \rho(H))\,y`,
i.e. :math:`\hat y - y = \rho(H)\,y` and :math:`\|\hat y - y\| \le \max_j|\rho_j|\,\|y\|`
for every right-hand side.  An embedding that recovers :math:`x = S y` with a diagonal
:math:`S` (the symmetrising similarity) turns this into
:math:`\hat x - x = S\rho(H)S^{-1}x`, so

.. math::

    \frac{\|\hat x - x\|}{\|x\|} \le \|S\rho(H)S^{-1}\|_2 \le
    \operatorname{cond}(S)\,\max_j|\rho_j|, \qquad
    \operatorname{cond}(S) = \frac{\max_i s_i}{\min_i s_i},

and :math:`\operatorname{cond}(S) = 1` for the direct embedding and the dilation (whose
:math:`x` is a block of :math:`y` with :math:`\|x\| = \|y\|`).  :func:`design_clock` with
an ``amplification`` :math:`\Gamma` (``cond(S)``) takes the smallest :math:`m \ge m_0` with

.. math::

    \Gamma \max_j |\rho_j(m)| \le \varepsilon

and records :math:`\Gamma\max_j|\rho_j(m)|` as ``error_bound``: the relative error of
:math:`x` in an exact state-vector run with the exact evolution is at most that, for
every :math:`b`.  If no :math:`m \le` ``max_clock_qubits`` qualifies it raises
``ValueError``.  A clock given explicitly (``num_clock_qubits``) is used as it is, with its
bound reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["ClockDesign", "design_clock", "inversion_errors", "required_clock_qubits"]

MARGIN = 0.125
WIDTH_FLOOR = 0.1
MIN_CLOCK_QUBITS = 3
_KERNEL_CHUNK = 1 << 22


def _signed_fill(kappa: float) -> float:
    """Fraction ``q`` of the half register up to which ``max|lambda|`` is mapped."""
    return min(1 - MARGIN, kappa / (kappa + 1))


def required_clock_qubits(lam_min: float, lam_max: float, epsilon: float, signed: bool) -> int:
    """Clock qubits for a target solution error ``epsilon`` (module docstring formula).

    Parameters
    ----------
    lam_min, lam_max : float
        Smallest and largest eigenvalue magnitude.
    epsilon : float
        Target relative error of the solution, ``0 < epsilon < 1``.
    signed : bool
        Two's-complement (signed) clock.
    """
    if not 0 < epsilon < 1:
        raise ValueError(f"epsilon must lie in (0, 1); got {epsilon}.")
    if signed:
        ratio = 2 * lam_max / (_signed_fill(lam_max / lam_min) * epsilon * lam_min)
    else:
        width = max(lam_max - lam_min, WIDTH_FLOOR * lam_max)
        ratio = width / ((1 - 2 * MARGIN) * epsilon * lam_min)
    return max(MIN_CLOCK_QUBITS, int(np.ceil(np.log2(max(ratio, 1.0)))))


@dataclass(frozen=True)
class ClockDesign:
    """Eigenvalue grid of the clock register and the inversion rotation angles.

    Attributes
    ----------
    num_clock_qubits : int
        ``m``.
    signed : bool
        Two's-complement reading of the clock.
    shift : float
        ``lambda_0``; the evolution is ``exp(i (H - lambda_0) t)``.
    bin_width : float
        ``Delta = 2 pi / (2**m t)``.
    evolution_time : float
        ``t``.
    constant : float
        ``C`` in the amplitude ``C / lambda``.
    amplification : float
        ``Gamma``, the factor by which the embedding can amplify the relative error of ``y``
        in ``x`` (``cond(S)`` for a symmetrised matrix, 1 otherwise).
    error_bound : float or None
        ``Gamma * max_j |rho_j|``: bound on the relative error of ``x`` of an exact
        state-vector run with the exact evolution, for every right-hand side (module
        docstring); ``None`` when no eigenvalues were given.
    """

    num_clock_qubits: int
    signed: bool
    shift: float
    bin_width: float
    evolution_time: float
    constant: float
    amplification: float = 1.0
    error_bound: float | None = None

    def bin_eigenvalues(self) -> np.ndarray:
        """Eigenvalue ``lambda_k`` that clock value ``k`` stands for, ``k = 0..2**m-1``."""
        K = 1 << self.num_clock_qubits
        k = np.arange(K)
        if self.signed:
            return self.bin_width * np.where(k < K // 2, k, k - K)
        return self.shift + self.bin_width * k

    def amplitudes(self) -> np.ndarray:
        """Flag amplitude ``f_k = clip(C / lambda_k, -1, 1)`` per clock value."""
        lam = self.bin_eigenvalues()
        f = np.zeros_like(lam)
        nz = lam != 0
        f[nz] = np.clip(self.constant / lam[nz], -1.0, 1.0)
        if not self.signed:
            f[lam <= self.constant] = 1.0
        return f

    def angles(self) -> np.ndarray:
        """``R_Y`` angles ``theta_k = 2 arcsin f_k`` indexed by the clock integer ``k``."""
        return 2.0 * np.arcsin(self.amplitudes())

    def phases(self, eigenvalues: np.ndarray) -> np.ndarray:
        """Phases ``(lambda - lambda_0) t`` of ``U`` on the eigenvectors."""
        return (np.asarray(eigenvalues) - self.shift) * self.evolution_time


def inversion_errors(design: ClockDesign, eigenvalues) -> np.ndarray:
    r"""Relative inversion error :math:`\rho_j = \lambda_j g(\lambda_j)/C - 1` per eigenvalue.

    :math:`g(\lambda) = \sum_k p(k|\lambda) f_k` with the closed-form phase-estimation
    distribution :math:`p(k|\lambda) = (\sin\pi d / (K\sin(\pi d/K)))^2`,
    :math:`d = K(\lambda-\lambda_0)t/2\pi - k` (module docstring).  In an exact state-vector
    run with the exact evolution, an eigenvector :math:`u_j` of :math:`H` is returned as
    :math:`(1+\rho_j)\,\lambda_j^{-1} u_j`.

    Parameters
    ----------
    design : ClockDesign
    eigenvalues : array_like
        Eigenvalues :math:`\lambda_j` of the embedded matrix (non-zero).

    Returns
    -------
    numpy.ndarray
        :math:`\rho_j`, same length as ``eigenvalues``.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    K = 1 << design.num_clock_qubits
    f = design.amplitudes()
    k = np.arange(K, dtype=float)
    uniq, inverse = np.unique(lam, return_inverse=True)
    pos = design.phases(uniq) * K / (2 * np.pi)
    g = np.empty(uniq.size)
    rows = max(1, _KERNEL_CHUNK // K)
    for a in range(0, uniq.size, rows):
        d = pos[a : a + rows, None] - k[None, :]
        d -= K * np.round(d / K)  # the kernel has period K in d
        den = K * np.sin(np.pi * d / K)
        on_bin = np.abs(den) < 1e-12
        safe = np.where(on_bin, 1.0, den)
        p = np.where(on_bin, 1.0, (np.sin(np.pi * d) / safe) ** 2)
        g[a : a + rows] = p @ f
    return (uniq * g / design.constant - 1.0)[inverse]


def _grid(m: int, signed: bool, lo: float, hi: float) -> ClockDesign:
    """The eigenvalue grid of an ``m``-qubit clock for ``lo <= |lambda| <= hi``."""
    K = 1 << m
    if signed:
        delta = hi / (_signed_fill(hi / lo) * K / 2)
        shift = 0.0
    else:
        width = max(hi - lo, WIDTH_FLOOR * hi)
        delta = width / ((1 - 2 * MARGIN) * K)
        shift = lo - MARGIN * K * delta
    t = 2 * np.pi / (K * delta)
    return ClockDesign(
        num_clock_qubits=m,
        signed=signed,
        shift=float(shift),
        bin_width=float(delta),
        evolution_time=float(t),
        constant=lo,
    )


def _certified(design: ClockDesign, lam: np.ndarray, amplification: float) -> ClockDesign:
    bound = amplification * float(np.max(np.abs(inversion_errors(design, lam))))
    return replace(design, amplification=float(amplification), error_bound=bound)


def design_clock(
    eigenvalues: np.ndarray,
    epsilon: float = 0.01,
    num_clock_qubits: int | None = None,
    max_clock_qubits: int = 12,
    bounds: tuple[float, float] | None = None,
    amplification: float = 1.0,
    certify: bool = True,
) -> ClockDesign:
    r"""Choose the clock size, evolution time, shift and inversion constant.

    With ``num_clock_qubits=None`` the clock is the smallest :math:`m \ge m_0` (the
    formula of :func:`required_clock_qubits`) whose certified bound
    :math:`\Gamma\max_j|\rho_j(m)|` (module docstring) is at most ``epsilon``, so that
    ``epsilon`` bounds the relative error of :math:`x` for every right-hand side.

    Parameters
    ----------
    eigenvalues : numpy.ndarray
        Eigenvalues of the embedded ``H``: their sign pattern, their magnitude range
        (unless ``bounds`` is given) and the points where :math:`\rho` is certified.
    epsilon : float
        Target relative error of the solution ``x``.
    num_clock_qubits : int, optional
        Fixed clock size, overriding the ``epsilon`` rule (its bound is still reported).
    max_clock_qubits : int
        Upper limit on the clock size.
    bounds : (float, float), optional
        ``(min|lambda|, max|lambda|)`` to use instead of the exact ones.
    amplification : float
        :math:`\Gamma \ge 1`, the factor by which the embedding can amplify the relative
        error of ``y`` in ``x`` (``cond(S)`` of a symmetrising similarity).
    certify : bool
        Evaluate :math:`\rho` at ``eigenvalues`` and enlarge the clock until the bound
        holds.  ``False``: the formula :math:`m_0` alone, no ``error_bound`` (for
        closed-form estimates with a stand-in spectrum).

    Raises
    ------
    ValueError
        If the required (or requested) clock exceeds ``max_clock_qubits``, or no clock up to
        ``max_clock_qubits`` certifies ``epsilon``.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    signed = bool(lam.min() < 0 < lam.max())
    if not amplification >= 1:
        raise ValueError(f"amplification must be at least 1; got {amplification}.")
    if bounds is None:
        lo, hi = float(np.abs(lam).min()), float(np.abs(lam).max())
    else:
        lo, hi = (float(v) for v in bounds)
        if not 0 < lo <= hi:
            raise ValueError(f"eigenvalue_bounds must satisfy 0 < low <= high; got {bounds}.")
    if num_clock_qubits is not None:
        m = int(num_clock_qubits)
        if m < 2:
            raise ValueError(f"num_clock_qubits must be at least 2; got {num_clock_qubits}.")
        if m > max_clock_qubits:
            raise ValueError(
                f"num_clock_qubits = {m} exceeds max_clock_qubits = {max_clock_qubits}; "
                "raise max_clock_qubits."
            )
        design = _grid(m, signed, lo, hi)
        return _certified(design, lam, amplification) if certify else design
    m = required_clock_qubits(lo, hi, epsilon, signed)
    if m > max_clock_qubits:
        raise ValueError(
            f"kappa = {hi / lo:.4g} with epsilon = {epsilon:g} needs {m} clock qubits, more "
            f"than max_clock_qubits = {max_clock_qubits}; raise max_clock_qubits, increase "
            "epsilon, or set num_clock_qubits explicitly."
        )
    if not certify:
        return _grid(m, signed, lo, hi)
    while True:
        design = _certified(_grid(m, signed, lo, hi), lam, amplification)
        if design.error_bound <= epsilon:
            return design
        if m == max_clock_qubits:
            raise ValueError(
                f"epsilon = {epsilon:g} is not certified within max_clock_qubits = "
                f"{max_clock_qubits}: with {m} clock qubits the bound on the relative error of "
                f"x is amplification * max|rho| = {amplification:.3g} * "
                f"{design.error_bound / amplification:.3g} = {design.error_bound:.3g}; raise "
                "max_clock_qubits, increase epsilon, or set num_clock_qubits explicitly."
            )
        m += 1
