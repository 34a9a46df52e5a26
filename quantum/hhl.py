r"""HHL linear solver: ``HHLSolver(**options).prepare(M).solve(b)`` and ``hhl_solve``.

Algorithm (Harrow, Hassidim, Lloyd, PRL 103, 2009).  :math:`Mx = b` is embedded as
:math:`Hy = b'` with :math:`H` real symmetric of size :math:`N = 2^n`
(:mod:`quantum.matrix`).  With :math:`|\hat b\rangle = b'/\|b'\rangle = \sum_j \beta_j
|u_j\rangle` in the eigenbasis of :math:`H`, the circuit

1. prepares :math:`|\hat b\rangle` on the system register,
2. runs phase estimation of :math:`U = e^{i(H-\lambda_0)t}` into an :math:`m`-qubit clock,
3. rotates a flag qubit by :math:`R_Y(2\arcsin f_k)`, :math:`f_k \approx C/\lambda_k`,
   uniformly controlled by the clock value :math:`k` (:mod:`quantum.inversion`),
4. uncomputes the phase estimation, and
5. keeps the runs with flag :math:`= 1` and clock :math:`= 0`.

The kept, unnormalised system state is :math:`\phi = \sum_j \beta_j g(\lambda_j)|u_j\rangle
\approx C H^{-1}|\hat b\rangle`, obtained with probability :math:`P = \|\phi\|^2`.

Scale recovery.  Since :math:`H^{-1}b' = \|b'\|\,H^{-1}|\hat b\rangle`,

.. math::

    y = \frac{\|b'\|}{C}\,\phi, \qquad \|y\| = \frac{\|b'\|}{C}\sqrt{P},

and :math:`x` follows from :math:`y` by the embedding (:math:`x = Sy`, second block of a
dilation, or :math:`x = y`).  State vector: :math:`\phi` is read exactly; its global phase
is removed (:math:`y \leftarrow y\,e^{-i\arg(\sum_i y_i^2)/2}`, then the real part) and the
sign fixed so that :math:`b^\top M x > 0` (true for the exact solution since
:math:`Mx = b`).  Shots: :math:`\hat P` is the kept fraction and
:math:`|y_i| = \sqrt{\hat p_i}\,\|y\|` from the kept histogram :math:`\hat p`; signs are not
observable, so this is exact only for a non-negative solution (``nonnegative=True``, e.g.
a probability vector through an M-matrix).  With ``mass=`` the result is finally rescaled
to :math:`\sum_i x_i` = ``mass``, which also cancels any common bias of :math:`g`.

Accuracy contract.  With :math:`\rho_j = \lambda_j g(\lambda_j)/C - 1` the relative
inversion error of eigenvalue :math:`\lambda_j` (known in closed form,
:mod:`quantum.inversion`), the exact state-vector output is :math:`\hat y = (I + \rho(H))y`.
The direct embedding and the dilation read :math:`x` off :math:`y` with
:math:`\|x\| = \|y\|`, so :math:`\|\hat x - x\| \le \max_j|\rho_j|\,\|x\|`.  The
symmetrisation reads :math:`x = Sy`, so :math:`\hat x - x = S\rho(H)S^{-1}x` and

.. math::

    \frac{\|\hat x - x\|}{\|x\|} \le \operatorname{cond}(S)\,\max_j|\rho_j|,

a factor :math:`\operatorname{cond}(S) = \max s/\min s` that is large when :math:`S`
varies strongly (:math:`s^2` is the stationary density of a Fokker-Planck step:
:math:`\operatorname{cond}(S) \approx 3\cdot 10^3` to :math:`5\cdot 10^5` for an
Ornstein-Uhlenbeck step on :math:`[-3, 3]`), and is approached in practice: the exact
worst case :math:`\|S\rho(H)S^{-1}\|_2` there is :math:`10^2` to :math:`4\cdot 10^4` times
:math:`\max_j|\rho_j|`.  The clock is therefore chosen
so that :math:`\Gamma\max_j|\rho_j| \le \varepsilon` with :math:`\Gamma =
\operatorname{cond}(S)` for the symmetrisation and :math:`\Gamma = 1` otherwise; where
no clock up to ``max_clock_qubits`` achieves that for the symmetrisation, ``"auto"``
dilates instead (see :class:`HHLSolver`).  ``error_norm="embedded"`` certifies
:math:`\|\hat y - y\| \le \varepsilon\|y\|` instead (:math:`\Gamma = 1`), which for the
symmetrisation is the :math:`S^{-1}`-weighted error of :math:`x`.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.sparse as sp

from .inversion import ClockDesign, design_clock, required_clock_qubits
from .matrix import HermitianEmbedding, as_real_matrix, check_rhs, embed
from .resources import DEFAULT_BASIS
from .results import HHLResult, MatrixInfo

__all__ = ["HHLResult", "HHLSolver", "MatrixInfo", "PreparedHHL", "hhl_solve"]

_UNSET = object()


def _check_shots(shots) -> int | None:
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ValueError(
            f"shots must be a positive integer, or None for the exact state vector; got {shots!r}."
        )
    return int(shots)


#: The Hermitian embeddings of :func:`pfda_quantum.matrix.embed`.
METHODS = ("auto", "direct", "symmetrise", "dilate")


class HHLSolver:
    r"""HHL on Qiskit >= 2 and Aer, with the two-phase ``prepare(M)`` / ``solve(b)`` protocol.

    Accuracy contract.  Unless ``num_clock_qubits`` is given, every exact state-vector
    solve (``shots=None``, ``hamiltonian="exact"``, ``mass=None``) returns :math:`\hat x`
    with

    .. math::

        \frac{\|\hat x - x\|_2}{\|x\|_2} \le \Gamma \max_j |\rho_j|
        \le \varepsilon \qquad \text{for every } b,

    where :math:`x = M^{-1}b`, :math:`\rho_j = \lambda_j g(\lambda_j)/C - 1` is the
    relative inversion error of eigenvalue :math:`\lambda_j` of the embedded :math:`H`
    (closed form, :func:`quantum.inversion.inversion_errors`), and :math:`\Gamma` bounds
    how much the embedding amplifies the error of :math:`y` in :math:`x`:
    :math:`\Gamma = 1` for ``"direct"`` and ``"dilate"``; for ``"symmetrise"``,
    :math:`x = Sy` gives :math:`\hat x - x = S\rho(H)S^{-1}x`, hence
    :math:`\Gamma = \|S\|\,\|S^{-1}\| = \operatorname{cond}(S) = \max s / \min s`.
    The clock is the smallest :math:`m \ge m_0` (the formula of
    :func:`quantum.inversion.required_clock_qubits`) with
    :math:`\Gamma\max_j|\rho_j(m)| \le \varepsilon`; the bound is reported as
    ``matrix_info.error_bound``.  Since :math:`\max_j|\rho_j(m)|` falls roughly like
    :math:`2^{-m}`, symmetrising costs about :math:`\log_2\operatorname{cond}(S)` extra
    clock qubits, dilating one extra system qubit and a signed clock.  Therefore:

    * ``method="auto"``: a symmetric ``M`` is embedded directly; a reversible ``M`` with
      ``cond(S) <= max_scaling_condition`` is symmetrised if some clock up to
      ``max_clock_qubits`` certifies ``epsilon`` with :math:`\Gamma = \operatorname{cond}(S)`
      and the symmetrised circuit needs no more system and clock qubits than the certified
      dilation, and dilated otherwise; any other ``M`` is dilated.  (The dilation's
      :math:`\sigma_{\max}/\sigma_{\min} \ge |\lambda|_{\max}/|\lambda|_{\min}` and its
      signed grid give it at least :math:`m_0` clock qubits, so it is only built when the
      budget costs the symmetrisation two clock qubits or more.)  With
      ``eigenvalue_bounds`` given, which describe one embedding only, ``"auto"`` raises
      ``ValueError`` instead of switching.
    * ``method="symmetrise"`` whose budget cannot be met raises ``ValueError`` (naming
      ``cond(S)`` and the bound reached); ``"direct"`` and ``"dilate"`` raise likewise if
      no clock up to ``max_clock_qubits`` certifies ``epsilon``.
    * A given ``num_clock_qubits`` replaces the rule: that clock is used, ``"auto"``
      symmetrises every reversible ``M`` within ``max_scaling_condition``, and
      ``matrix_info.error_bound`` reports the bound without enforcing it.

    ``error_norm="embedded"`` asks for the contract in the norm of the embedded system
    instead, :math:`\|\hat y - y\|_2 \le \varepsilon\|y\|_2`, i.e. :math:`\Gamma = 1`
    for every embedding.  For ``"direct"`` and ``"dilate"`` this still bounds
    :math:`\|\hat x - x\|_2/\|x\|_2`; for ``"symmetrise"`` it bounds the weighted error

    .. math::

        \frac{\|S^{-1}(\hat x - x)\|_2}{\|S^{-1}x\|_2} =
        \left(\frac{\sum_i (\hat x_i - x_i)^2 / d_i}{\sum_i x_i^2 / d_i}\right)^{1/2}
        \le \varepsilon, \qquad d = s^2,

    which for a Fokker-Planck step (:math:`d` the stationary density) is a
    :math:`\chi^2`-type distance that keeps the tails of a density accurate relative to
    :math:`d`; ``"auto"`` then symmetrises every reversible ``M`` within
    ``max_scaling_condition``.  The Euclidean error of :math:`x` is then only bounded by
    :math:`\operatorname{cond}(S)\,\varepsilon`.

    The sign recovery :math:`b^\top M\hat x > 0` is safe under the bound: since
    :math:`b^\top M x = \|b\|^2` and :math:`|b^\top M(\hat x - x)| \le
    \kappa_2(M)\,\varepsilon\,\|b\|^2`, it cannot pick the wrong sign while
    :math:`\kappa_2(M)\,\varepsilon < 1`; ``nonnegative=True`` clips negative entries,
    which only moves :math:`\hat x` closer to a non-negative :math:`x`.

    Shots add a sampling error on top of this bound (falling like
    :math:`1/\sqrt{\text{shots}}`); a product formula (``hamiltonian="trotter"``) adds its
    own, kept below :math:`\varepsilon/(2\kappa\Gamma)` in operator norm
    (:mod:`quantum.build`).

    Parameters
    ----------
    epsilon : float
        Target relative error of the solution ``x`` (the contract above); sets the clock.
    num_clock_qubits : int, optional
        Fixed clock size (overrides ``epsilon``; no contract).
    max_clock_qubits : int
        Largest clock allowed (default 12).
    method : {"auto", "direct", "symmetrise", "dilate"}
        Hermitian embedding (:func:`quantum.matrix.embed`), chosen as described above.
    max_scaling_condition : float
        ``"auto"`` never symmetrises a matrix whose similarity ``S`` has a larger
        ``max(s)/min(s)``, whatever the clock (a bound on ``S`` itself, checked first).
    eigenvalue_bounds : (float, float), optional
        ``(min|lambda|, max|lambda|)`` of the embedded matrix, instead of the exact ones.
        They set the clock grid; the contract is still certified at the exact eigenvalues.
    error_norm : {"solution", "embedded"}
        Norm of the contract: ``"solution"`` (default), ``||x - x*|| / ||x*||``;
        ``"embedded"``, ``||y - y*|| / ||y*||`` of the embedded system (see above).
    hamiltonian : {"exact", "trotter"}
        Dense ``exp(iHt)`` or a product formula over the Pauli decomposition.
    trotter_order : int
        1 (Lie-Trotter) or 2 (Suzuki).
    trotter_reps : int, optional
        Steps per ``U``; default: the smallest power of two whose circuit-level error bound
        ``2 (2**m - 1) ||U_r - U||`` is below ``epsilon / (2 kappa)`` (exact check up to 8
        system qubits, a commutator-free estimate above).
    simulation : {"auto", "circuit", "eigenbasis"}
        Realisation of the exact evolution for simulation (:mod:`quantum.circuits`);
        ``"auto"``: ``"circuit"`` up to 5 system qubits (N = 32), ``"eigenbasis"`` above.
    shots : int, optional
        ``None`` (default): exact state vector.  Otherwise sample.
    seed : int, optional
        Simulator seed for shots (the same seed is used for every solve).
    sampler : BaseSamplerV2, optional
        Any Qiskit sampler for shots.
    backend : BackendV2, optional
        Backend for shots (default ``AerSimulator``).
    noise_model : qiskit_aer.noise.NoiseModel, optional
        Noise for the default Aer simulator (needs ``shots``; errors should be defined on
        ``basis`` gates).
    nonnegative : bool
        The solution is known to be non-negative (shots: ``x_i ~ sqrt(p_i)``; state vector:
        tiny negative entries are clipped).
    mass : float, optional
        Rescale the result so that ``sum(x) == mass``.
    reference : bool
        ``solve_result`` computes a classical reference solution for ``fidelity``.
    resource_counts : {"auto", True, False}
        Transpile to ``basis`` for depth and two-qubit counts (``"auto"``: when cheap; an
        analytic count otherwise).
    basis : sequence of str
        Basis for counts and noisy simulation.
    aer_options : dict, optional
        Extra ``AerSimulator`` options (e.g. ``{"max_parallel_threads": 1}``); defaults in
        :data:`quantum.execution.AER_DEFAULTS`.
    """

    name = "hhl"

    def __init__(
        self,
        *,
        epsilon: float = 0.01,
        num_clock_qubits: int | None = None,
        max_clock_qubits: int = 12,
        method: str = "auto",
        max_scaling_condition: float = 1e6,
        eigenvalue_bounds: tuple[float, float] | None = None,
        error_norm: str = "solution",
        hamiltonian: str = "exact",
        trotter_order: int = 2,
        trotter_reps: int | None = None,
        simulation: str = "auto",
        shots: int | None = None,
        seed: int | None = None,
        sampler=None,
        backend=None,
        noise_model=None,
        nonnegative: bool = False,
        mass: float | None = None,
        reference: bool = True,
        resource_counts: str | bool = "auto",
        basis: tuple[str, ...] = DEFAULT_BASIS,
        aer_options: dict | None = None,
    ):
        if not 0 < epsilon < 1:
            raise ValueError(f"epsilon must lie in (0, 1); got {epsilon}.")
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
        if hamiltonian not in ("exact", "trotter"):
            raise ValueError(f"hamiltonian must be 'exact' or 'trotter'; got {hamiltonian!r}.")
        if simulation not in ("auto", "circuit", "eigenbasis"):
            raise ValueError(
                f"simulation must be 'auto', 'circuit' or 'eigenbasis'; got {simulation!r}."
            )
        if simulation == "eigenbasis" and hamiltonian == "trotter":
            raise ValueError("simulation='eigenbasis' applies to hamiltonian='exact' only.")
        if trotter_order != 1 and (trotter_order < 2 or trotter_order % 2):
            raise ValueError(f"trotter_order must be 1 or even; got {trotter_order}.")
        if trotter_reps is not None and int(trotter_reps) < 1:
            raise ValueError(f"trotter_reps must be a positive integer; got {trotter_reps}.")
        if error_norm not in ("solution", "embedded"):
            raise ValueError(f"error_norm must be 'solution' or 'embedded'; got {error_norm!r}.")
        if int(max_clock_qubits) < 2:
            raise ValueError(f"max_clock_qubits must be at least 2; got {max_clock_qubits}.")
        shots = _check_shots(shots)
        if noise_model is not None and shots is None:
            raise ValueError("noise_model needs shots (a noisy run is sampled); pass shots=.")
        if noise_model is not None and (sampler is not None or backend is not None):
            raise ValueError(
                "noise_model applies to the default Aer simulator only; "
                "configure noise on your own sampler/backend instead."
            )
        if mass is not None and not (np.isfinite(mass) and mass > 0):
            raise ValueError(f"mass must be a positive finite number; got {mass!r}.")
        if resource_counts not in ("auto", True, False):
            raise ValueError(
                f"resource_counts must be 'auto', True or False; got {resource_counts!r}."
            )
        self.options = dict(
            epsilon=float(epsilon),
            num_clock_qubits=num_clock_qubits,
            max_clock_qubits=int(max_clock_qubits),
            method=method,
            max_scaling_condition=float(max_scaling_condition),
            eigenvalue_bounds=eigenvalue_bounds,
            error_norm=error_norm,
            hamiltonian=hamiltonian,
            trotter_order=int(trotter_order),
            trotter_reps=None if trotter_reps is None else int(trotter_reps),
            simulation=simulation,
            shots=shots,
            seed=seed,
            sampler=sampler,
            backend=backend,
            noise_model=noise_model,
            nonnegative=bool(nonnegative),
            mass=mass,
            reference=bool(reference),
            resource_counts=resource_counts,
            basis=tuple(basis),
            aer_options=dict(aer_options or {}),
        )

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.options.items() if v is not None}
        return f"HHLSolver({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def prepare(self, M) -> PreparedHHL:
        """Analyse ``M``, build and transpile the circuit once (all but ``|b>``)."""
        return PreparedHHL(M, self.options)

    def solve(self, M, b) -> np.ndarray:
        """``prepare(M).solve(b)``."""
        return self.prepare(M).solve(b)


def hhl_solve(M, b, **options) -> HHLResult:
    """Solve ``M x = b`` with HHL and return the full report.

    ``options`` are those of :class:`HHLSolver`.  Equivalent to
    ``HHLSolver(**options).prepare(M).solve_result(b)``.
    """
    return HHLSolver(**options).prepare(M).solve_result(b)


class PreparedHHL:
    """HHL circuit for one matrix; ``solve(b)`` only loads ``b`` and runs.

    Attributes
    ----------
    matrix_info : MatrixInfo
    embedding : quantum.matrix.HermitianEmbedding
    design : quantum.inversion.ClockDesign
    timings : dict
        ``build`` and ``transpile`` seconds of the preparation.
    """

    def __init__(self, M, options: dict):
        from . import build as _build

        t0 = time.perf_counter()
        self.options = options
        self._M = as_real_matrix(M)
        emb, design = _embed_and_design(self._M, options)
        self.embedding, self.design = emb, design
        built = _build.build(emb, design, options)
        self._core, self._basis_change = built.core, built.basis_change
        self._trotter_gate = built.trotter_gate
        self._ref_core = None
        self.matrix_info = built.info
        self.timings = {"build": time.perf_counter() - t0, "transpile": 0.0}
        self._sv_runner = self._shot_runner = None
        self._counts: dict | None = None
        if options["shots"] is None:
            self._statevector_runner()

    # -- runners ---------------------------------------------------------------------
    def _statevector_runner(self):
        if self._sv_runner is None:
            from .execution import AerStatevectorRunner

            self._sv_runner = AerStatevectorRunner(
                self._core, self._basis_change, self.options["aer_options"]
            )
            self.timings["transpile"] += self._sv_runner.transpile_time
        return self._sv_runner

    def _shots_runner(self):
        if self._shot_runner is None:
            from .execution import ShotRunner

            o = self.options
            core, change = self._core, self._basis_change
            if (
                o["noise_model"] is not None
                or o["sampler"] is not None
                or (o["backend"] is not None and type(o["backend"]).__name__ != "AerSimulator")
            ):
                core, change = self._reference_core(), None
            self._shot_runner = ShotRunner(
                core,
                change,
                o["sampler"],
                o["backend"],
                o["noise_model"],
                o["basis"],
                o["aer_options"],
            )
            self.timings["transpile"] += self._shot_runner.transpile_time
        return self._shot_runner

    def _reference_core(self):
        from . import build as _build

        if self._ref_core is None:
            self._ref_core = _build.reference_core(self.embedding, self.design, self._trotter_gate)
        return self._ref_core

    def core_op(self):
        """Pauli operator of the Trotterised evolution (``hamiltonian="trotter"``)."""
        return self._trotter_gate.operator

    # -- resources -------------------------------------------------------------------
    def resource_counts(self, force: bool = False) -> dict:
        """Depth and two-qubit gates in ``basis`` (cached; transpiled or estimated).

        Returns
        -------
        dict
            ``{"depth", "two_qubit_gates", "counts", "basis", "seconds"}``.
        """
        if self._counts is None:
            from . import build as _build

            self._counts = _build.count_resources(self, force)
            self.timings["resources"] = self._counts["seconds"]
        return self._counts

    def circuit(self, b=None):
        """The measured HHL circuit (``StatePreparation`` of ``b``, or of a generic vector)."""
        from .circuits import measured_circuit

        N = self.embedding.dim
        if b is None:
            rhs = np.random.default_rng(0).uniform(0.5, 1.0, N)
        else:
            rhs = self.embedding.encode(check_rhs(b, self.embedding.size))
        return measured_circuit(self._reference_core(), rhs / np.linalg.norm(rhs))

    # -- solving ---------------------------------------------------------------------
    def solve(self, b, *, shots=_UNSET, seed=_UNSET) -> np.ndarray:
        """Solution ``x`` of ``M x = b`` (real, true scale)."""
        return self._solve(b, shots, seed)[0]

    def solve_result(self, b, *, shots=_UNSET, seed=_UNSET, reference=None) -> HHLResult:
        """Solve and report (see :class:`HHLResult`)."""
        x, state, prob, run_time, used_shots = self._solve(b, shots, seed)
        ref = self.options["reference"] if reference is None else reference
        fid = rel = None
        if ref:
            bb = check_rhs(b, self.embedding.size)
            xr = _classical_solve(self._M, bb)
            nx, nr = np.linalg.norm(x), np.linalg.norm(xr)
            fid = float(np.dot(x, xr) ** 2 / (nx**2 * nr**2)) if nx > 0 else 0.0
            rel = float(np.linalg.norm(x - xr) / nr)
        counts = {"depth": None, "two_qubit_gates": None, "counts": None}
        if self.options["resource_counts"] is not False:
            counts = self.resource_counts()
        info = self.matrix_info
        timings = dict(self.timings)
        timings["run"] = run_time
        return HHLResult(
            x=x,
            state=state,
            success_probability=prob,
            fidelity=fid,
            relative_error=rel,
            num_qubits=info.num_qubits,
            num_system_qubits=info.num_system_qubits,
            num_clock_qubits=info.num_clock_qubits,
            depth=counts["depth"],
            two_qubit_gates=counts["two_qubit_gates"],
            basis=tuple(self.options["basis"]),
            counts=counts["counts"],
            timings=timings,
            hamiltonian=info.hamiltonian,
            kappa=info.kappa,
            evolution_time=info.evolution_time,
            shots=used_shots,
            method=info.method,
            symmetrised=info.symmetrised,
            dilated=info.dilated,
            padded=info.padded,
            info=info,
        )

    def _solve(self, b, shots, seed):
        o = self.options
        shots = o["shots"] if shots is _UNSET else _check_shots(shots)
        seed = o["seed"] if seed is _UNSET else seed
        if shots is None and o["noise_model"] is not None:
            raise ValueError("noise_model needs shots (a noisy run is sampled); pass shots=.")
        emb = self.embedding
        bb = check_rhs(b, emb.size)
        rhs = emb.encode(bb)
        norm = float(np.linalg.norm(rhs))
        C = self.design.constant
        t0 = time.perf_counter()
        if shots is None:
            phi, prob = self._statevector_runner().run(rhs / norm)
            run_time = time.perf_counter() - t0
            if prob <= 0:
                raise RuntimeError("the post-selection probability is zero; check the matrix.")
            y = (norm / C) * phi
            alpha = np.sum(y * y)
            y = (y * np.exp(-0.5j * np.angle(alpha))).real if alpha != 0 else y.real
            x = emb.decode(y)
            if np.dot(bb, self._M @ x) < 0:
                x, y = -x, -y
            state = y / np.linalg.norm(y)
            if o["nonnegative"]:
                x = np.maximum(x, 0.0)
        else:
            from .execution import postselect_counts

            runner = self._shots_runner()
            counts = runner.counts(rhs / norm, shots, seed)
            run_time = time.perf_counter() - t0
            hist, kept = postselect_counts(counts, emb.dim, 1 << self.design.num_clock_qubits)
            if kept == 0:
                raise RuntimeError(
                    f"none of the {shots} shots passed post-selection (flag 1, clock 0); "
                    "increase shots."
                )
            prob = kept / shots
            state = np.sqrt(hist / kept)
            x = emb.decode((norm / C) * np.sqrt(prob) * state)
            if not o["nonnegative"] and o["mass"] is None:
                warnings.warn(
                    "shots give |x_i| only (signs are not observable); pass nonnegative=True "
                    "if the solution is non-negative, or use shots=None.",
                    stacklevel=3,
                )
        if o["mass"] is not None:
            total = x.sum()
            if total <= 0:
                raise RuntimeError("cannot rescale to the given mass: sum(x) <= 0.")
            x = x * (o["mass"] / total)
        x = np.array(x, dtype=float)
        return x, state, float(prob), run_time, shots


def _embed_and_design(M, options: dict) -> tuple[HermitianEmbedding, ClockDesign]:
    """Embedding and clock under the epsilon-contract (rule in :class:`HHLSolver`)."""
    method = options["method"]
    emb = embed(M, method, options["max_scaling_condition"])
    clock = dict(
        epsilon=options["epsilon"],
        num_clock_qubits=options["num_clock_qubits"],
        max_clock_qubits=options["max_clock_qubits"],
        bounds=options["eigenvalue_bounds"],
    )
    if emb.method != "symmetrise" or options["error_norm"] == "embedded":
        return emb, design_clock(emb.eigenvalues, **clock)
    gamma = emb.scaling_condition
    may_switch = (
        method == "auto"
        and options["num_clock_qubits"] is None
        and options["eigenvalue_bounds"] is None
    )
    try:
        design = design_clock(emb.eigenvalues, amplification=gamma, **clock)
    except ValueError as err:
        if may_switch:
            dilated = embed(M, "dilate")
            return dilated, design_clock(dilated.eigenvalues, **clock)
        way_out = (
            "use method='dilate' (whose eigenvalue_bounds are the singular values of M)"
            if method == "auto"
            else "use method='dilate' or 'auto' (which dilates such a matrix)"
        )
        way_out += ", or error_norm='embedded' for the contract in the S^-1-weighted norm"
        raise ValueError(
            f"the symmetrised system cannot meet epsilon = {options['epsilon']:g}: x = S y "
            f"amplifies the relative error of y by up to cond(S) = {gamma:.3g}, and {err} "
            f"Alternatively {way_out}."
        ) from err
    lam = np.abs(emb.eigenvalues)
    m0 = required_clock_qubits(lam.min(), lam.max(), options["epsilon"], signed=emb.signed)
    if not may_switch or design.num_clock_qubits < m0 + 2:
        return emb, design
    # The dilation needs one more system qubit and at least m0 clock qubits (its condition
    # number sigma_max / sigma_min is at least |lambda|_max / |lambda|_min, and its signed
    # grid is finer), so it can need fewer qubits only when the budget cost two or more.
    dilated = embed(M, "dilate")
    try:
        dil_design = design_clock(dilated.eigenvalues, **clock)
    except ValueError:
        return emb, design
    sym_qubits = emb.num_system_qubits + design.num_clock_qubits
    dil_qubits = dilated.num_system_qubits + dil_design.num_clock_qubits
    if dil_qubits < sym_qubits:
        return dilated, dil_design
    return emb, design


def _classical_solve(M, b: np.ndarray) -> np.ndarray:
    if sp.issparse(M):
        from scipy.sparse.linalg import spsolve

        return np.asarray(spsolve(sp.csc_matrix(M), b))
    return np.linalg.solve(M, b)
