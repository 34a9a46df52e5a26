r"""The classical-versus-quantum study behind the paper: one function per table and figure.

Every implicit Fokker--Planck step solves ``M p' = p`` with ``M = I - dt A``, ``A`` the
finite-volume generator (:func:`pfda.generator`).  The functions below measure how well, and at
what cost, the HHL solver of :mod:`quantum` does this against sparse LU:

* :func:`clock_study`     fidelity, success probability and filter Hellinger vs clock qubits;
* :func:`shots_study`     error vs shots and the fitted ``c / sqrt(shots)`` law;
* :func:`noise_study`     error under depolarising noise on every CX;
* :func:`kappa_study`     ``kappa(I - dt A)`` vs ``dt`` and grid size, against
  ``1 + 4 dt Dfp / h^2`` (``Dfp = D / 2`` is the Fokker--Planck diffusion coefficient);
* :func:`resources_study` qubits, depth and CX vs ``N`` (transpiled, then estimated);
* :func:`timing_study`    wall time per solve, splu vs simulated HHL;
* :func:`accuracy_study`  pfda against exact filters (OU/Kalman, Benes).

Each returns ``(rows, values)``: ``rows`` a list of dicts (the table) and ``values`` named
numbers quoted in the paper.  :func:`write_table` writes ``tables/<name>.csv`` and ``.md``.
Sizes are arguments so that the tests can rerun each study small.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import pfda

try:  # imported as ``paper.study`` (tests) or as ``study`` (scripts in paper/)
    from . import exact
except ImportError:  # pragma: no cover
    import exact

HERE = Path(__file__).parent
D_OU = 0.5  # D = sigma^2 of dx = -x dt + sigma dW
DT = 0.05  # time step of the implicit steps
EPSILON = 0.01


# -- problems ---------------------------------------------------------------------------------
def ou_problem(ndim: int = 1, cells: int = 16, steps: int = 3, seed: int = 7, dt: float = DT):
    """OU ``dx = -x dt + sigma dW`` on ``[-3, 3]^d``, first coordinate observed every ``dt``."""
    grid = pfda.Grid([-3.0] * ndim, [3.0] * ndim, [cells] * ndim)
    sde = pfda.SDE(drift=lambda x: -x, diffusion=D_OU)
    obs = pfda.GaussianObservation(h=lambda x: x[:1], noise_cov=0.3)
    prior = pfda.gaussian(grid, [0.0] * ndim, np.eye(ndim))
    rng = np.random.default_rng(seed)
    times = dt * np.arange(1, steps + 1)
    ys = rng.normal(0.3, 0.5, size=(steps, 1))
    return grid, sde, obs, prior, times, ys


def step_matrix(grid, sde, dt: float = DT) -> sp.csc_matrix:
    """``M = I - dt A`` of one implicit step."""
    A = pfda.generator(grid, sde)
    return (sp.identity(grid.size) - dt * A).tocsc()


def _hellinger_normalised(x, ref) -> float:
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    return float(pfda.hellinger(x / x.sum(), ref / ref.sum()))


def _fit_loglog(x, y) -> tuple[float, float]:
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(intercept)


# -- tables -----------------------------------------------------------------------------------
def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "–"
        a = abs(float(v))
        if a != 0 and (a < 1e-3 or a >= 1e5):
            return f"{float(v):.2e}"
        return f"{float(v):.4g}"
    return "–" if v is None else str(v)


def markdown_table(rows: list[dict]) -> str:
    """A GitHub/pandoc pipe table of ``rows``."""
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_table(name: str, rows: list[dict], root: Path = HERE) -> Path:
    """Write ``tables/<name>.csv`` and ``tables/<name>.md``; return the markdown path."""
    out = Path(root) / "tables"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{name}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / f"{name}.md").write_text(markdown_table(rows))
    return out / f"{name}.md"


def _figure(name: str, root: Path, draw) -> Path:
    from pfda.plotting import pyplot

    plt = pyplot()
    out = Path(root) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    fig = draw(plt)
    path = out / f"{name}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# -- 1. clock qubits --------------------------------------------------------------------------
def clock_study(clocks=range(3, 9), cases=((1, 16), (2, 4)), steps: int = 3, dt: float = 0.5):
    """Fidelity of one step, success probability and posterior Hellinger vs clock qubits.

    ``dt = 0.5`` (observations every ``dt``) makes ``kappa`` large enough (about 5 on 16
    cells) for the clock resolution to matter.
    """
    import pfda_quantum as quantum

    rows = []
    for ndim, cells in cases:
        grid, sde, obs, prior, times, ys = ou_problem(ndim, cells, steps, dt=dt)
        M = step_matrix(grid, sde, dt)
        ref = pfda.Filter(grid, sde, obs, scheme="implicit", dt=dt, tol=None).run(prior, times, ys)
        for m in clocks:
            solver = quantum.HHLSolver(num_clock_qubits=m, resource_counts=False)
            r = solver.prepare(M).solve_result(prior)
            run = pfda.Filter(
                grid, sde, obs, scheme="implicit", solver=solver, dt=dt, tol=None
            ).run(prior, times, ys)
            dist = pfda.hellinger(run.probabilities, ref.probabilities)
            rows.append(
                dict(
                    grid=f"{ndim}-D {'x'.join([str(cells)] * ndim)}",
                    N=grid.size,
                    kappa=r.kappa,
                    clock_qubits=m,
                    qubits=r.num_qubits,
                    fidelity=r.fidelity,
                    infidelity=1 - r.fidelity,
                    success_probability=r.success_probability,
                    hellinger_posterior=float(np.max(dist)),
                )
            )
    first = [r for r in rows if r["grid"].startswith("1-D")]
    values = {
        "clock_min": first[0]["clock_qubits"],
        "clock_max": first[-1]["clock_qubits"],
        "clock_fid_min": first[0]["fidelity"],
        "clock_fid_max": first[-1]["fidelity"],
        "clock_hell_min": first[0]["hellinger_posterior"],
        "clock_hell_max": first[-1]["hellinger_posterior"],
        "clock_steps": steps,
        "clock_dt": dt,
        "clock_kappa": first[0]["kappa"],
    }
    return rows, values


def plot_clock(rows, root: Path = HERE) -> Path:
    def draw(plt):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
        for g in dict.fromkeys(r["grid"] for r in rows):
            sel = [r for r in rows if r["grid"] == g]
            m = [r["clock_qubits"] for r in sel]
            axes[0].semilogy(m, [max(r["infidelity"], 1e-16) for r in sel], "o-", label=g)
            axes[1].semilogy(m, [r["hellinger_posterior"] for r in sel], "o-", label=g)
        axes[0].set_ylabel("1 - fidelity of one solve")
        axes[1].set_ylabel("max Hellinger(HHL, splu) posterior")
        for ax in axes:
            ax.set_xlabel("clock qubits")
            ax.legend()
        return fig

    return _figure("clock", root, draw)


# -- 2. shots ---------------------------------------------------------------------------------
def shots_study(
    shots=(100, 1000, 10_000, 100_000, 1_000_000),
    cells: int = 16,
    clock: int = 8,
    seeds: int = 3,
    methods=("symmetrise", "dilate"),
    target: float = 0.01,
):
    """Hellinger error of the sampled solution vs shots; fits ``err = c * shots^slope``.

    ``symmetrise`` measures ``y = S^-1 x`` (the reversible similarity), ``dilate`` measures
    ``x`` itself with one more qubit.  Two errors: against the exact solution (``hellinger_rms``,
    which includes the clock's bias, ``hellinger_statevector``) and against HHL's own
    state-vector output (``sampling_rms``, the shot noise alone).  The law
    ``sampling = c * shots^slope`` is fitted on shots ``>= 1000``; the shots needed for a
    ``target`` Hellinger error follow from ``c / sqrt(shots)`` with
    ``c = geometric mean of sampling * sqrt(shots)`` over the fit range.
    """
    import pfda_quantum as quantum

    grid, sde, _, prior, _, _ = ou_problem(1, cells)
    M = step_matrix(grid, sde)
    x_ref = np.linalg.solve(M.toarray(), prior)
    rows, values = [], {}
    for method in methods:
        prep = quantum.HHLSolver(
            num_clock_qubits=clock,
            method=method,
            shots=shots[0],
            nonnegative=True,
            resource_counts=False,
        ).prepare(M)
        x_sv = prep.solve(prior, shots=None)
        floor = _hellinger_normalised(x_sv, x_ref)
        errs = []
        for s in shots:
            xs = [prep.solve(prior, shots=s, seed=k) for k in range(seeds)]
            e_ref = [_hellinger_normalised(x, x_ref) for x in xs]
            e_sv = [_hellinger_normalised(x, x_sv) for x in xs]
            errs.append(float(np.sqrt(np.mean(np.square(e_sv)))))
            rows.append(
                dict(
                    method=method,
                    qubits=prep.matrix_info.num_qubits,
                    shots=int(s),
                    hellinger_rms=float(np.sqrt(np.mean(np.square(e_ref)))),
                    hellinger_statevector=floor,
                    sampling_rms=errs[-1],
                    sampling_sqrt_shots=errs[-1] * np.sqrt(s),
                )
            )
        fit = [i for i, s in enumerate(shots) if s >= 1000] or list(range(len(shots)))
        slope, _ = _fit_loglog(np.array(shots)[fit], np.array(errs)[fit])
        c = float(np.exp(np.mean(np.log(np.array(errs)[fit] * np.sqrt(np.array(shots)[fit])))))
        key = method[:3]
        values[f"shots_slope_{key}"] = slope
        values[f"shots_c_{key}"] = c
        values[f"shots_target_{key}"] = int(np.ceil((c / target) ** 2))
        values[f"shots_floor_{key}"] = floor
    values["shots_target"] = target
    values["shots_N"] = grid.size
    values["shots_clock"] = clock
    return rows, values


def plot_shots(rows, values, root: Path = HERE) -> Path:
    def draw(plt):
        fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
        for method in dict.fromkeys(r["method"] for r in rows):
            sel = [r for r in rows if r["method"] == method]
            s = np.array([r["shots"] for r in sel], dtype=float)
            (line,) = ax.loglog(s, [r["sampling_rms"] for r in sel], "o", label=method)
            ax.loglog(
                s,
                [r["hellinger_rms"] for r in sel],
                "x",
                color=line.get_color(),
                label=f"{method}, against the exact solution",
            )
            c = values[f"shots_c_{method[:3]}"]
            slope = values[f"shots_slope_{method[:3]}"]
            ax.loglog(
                s,
                c / np.sqrt(s),
                "--",
                color=line.get_color(),
                label=f"{c:.2f}/sqrt(shots); fitted slope {slope:.2f}",
            )
        ax.axhline(values["shots_target"], color="k", lw=0.6)
        ax.set_xlabel("shots")
        ax.set_ylabel("Hellinger(sampled, state vector)")
        ax.legend(fontsize=8)
        return fig

    return _figure("shots", root, draw)


# -- 3. noise ---------------------------------------------------------------------------------
def noise_study(levels=(0.0, 1e-4, 1e-3, 1e-2), sizes=(4, 8), shots: int = 10_000, clock: int = 4):
    """Error of the sampled solution with a depolarising error of probability ``p`` on each CX."""
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    import pfda_quantum as quantum

    rows = []
    for cells in sizes:
        grid, sde, _, prior, _, _ = ou_problem(1, cells)
        M = step_matrix(grid, sde)
        x_ref = np.linalg.solve(M.toarray(), prior)
        for p in levels:
            noise = None
            if p > 0:
                noise = NoiseModel()
                noise.add_all_qubit_quantum_error(depolarizing_error(p, 2), ["cx"])
            r = quantum.hhl_solve(
                M,
                prior,
                num_clock_qubits=clock,
                shots=shots,
                seed=1,
                noise_model=noise,
                nonnegative=True,
                resource_counts=True,
            )
            rows.append(
                dict(
                    N=grid.size,
                    cx_error=p,
                    two_qubit_gates=r.two_qubit_gates,
                    expected_cx_faults=p * (r.two_qubit_gates or 0),
                    success_probability=r.success_probability,
                    hellinger=_hellinger_normalised(r.x, x_ref),
                    total_variation=float(
                        pfda.total_variation(r.x / r.x.sum(), x_ref / x_ref.sum())
                    ),
                )
            )
    values = {
        "noise_shots": shots,
        "noise_N": rows[0]["N"],
        "noise_hell_0": rows[0]["hellinger"],
        "noise_hell_max": rows[len(levels) - 1]["hellinger"],
        "noise_p_max": levels[-1],
        "noise_cx": rows[0]["two_qubit_gates"],
    }
    for r in rows[: len(levels)]:
        if r["cx_error"] == 1e-3:
            values["noise_tv_1e-3"] = r["total_variation"]
    return rows, values


def plot_noise(rows, root: Path = HERE) -> Path:
    def draw(plt):
        fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
        for n in dict.fromkeys(r["N"] for r in rows):
            sel = [r for r in rows if r["N"] == n]
            p = [max(r["cx_error"], 1e-5) for r in sel]
            ax.loglog(p, [r["hellinger"] for r in sel], "o-", label=f"N = {n}")
        ax.set_xlabel("depolarising probability per CX (0 plotted at 1e-5)")
        ax.set_ylabel("Hellinger(noisy HHL, exact)")
        ax.legend()
        return fig

    return _figure("noise", root, draw)


# -- 4. condition number ----------------------------------------------------------------------
def kappa_study(
    cells_list=(8, 16, 32, 64, 128, 256),
    dts=(1e-3, 1e-2, 1e-1, 1.0),
    measure_cells=(16,),
    epsilon: float = EPSILON,
):
    """``kappa(I - dt A)`` (eigenvalue ratio of the symmetrised step) vs ``dt`` and ``N``.

    Compared with ``1 + 4 dt Dfp / h^2`` (``Dfp = D/2``), the clock qubits it calls for
    (:func:`quantum.required_clock_qubits`), the ``1/kappa^2`` success-probability bound and,
    for ``measure_cells``, the success probability of an actual HHL solve.
    """
    import pfda_quantum as quantum

    rows = []
    for cells in cells_list:
        grid = pfda.Grid([-3.0], [3.0], [cells])
        sde = pfda.SDE(drift=lambda x: -x, diffusion=D_OU)
        A = pfda.generator(grid, sde)
        lam_A = np.linalg.eigvals(A.toarray()).real
        h = float(grid.upper[0] - grid.lower[0]) / cells
        dt_cfl = float(pfda.cfl_dt(grid, sde))
        prior = pfda.gaussian(grid, [0.0], [[1.0]])
        for dt in dts:
            lam = 1.0 - dt * lam_A
            kappa = float(lam.max() / lam.min())
            estimate = 1.0 + 4.0 * dt * (D_OU / 2) / h**2
            m = quantum.required_clock_qubits(lam.min(), lam.max(), epsilon, signed=False)
            p_meas = None
            if cells in measure_cells:
                r = quantum.hhl_solve(
                    step_matrix(grid, sde, dt),
                    prior,
                    epsilon=epsilon,
                    max_clock_qubits=14,
                    resource_counts=False,
                )
                p_meas = r.success_probability
            rows.append(
                dict(
                    N=cells,
                    dt=dt,
                    dt_over_cfl=dt / dt_cfl,
                    kappa=kappa,
                    estimate=estimate,
                    ratio=kappa / estimate,
                    clock_qubits=m,
                    success_bound=1 / kappa**2,
                    success_measured=p_meas,
                )
            )
    ratios = np.array([r["ratio"] for r in rows])
    big = max(rows, key=lambda r: r["kappa"])
    values = {
        "kappa_ratio_min": float(ratios.min()),
        "kappa_ratio_max": float(ratios.max()),
        "kappa_max": big["kappa"],
        "kappa_max_N": big["N"],
        "kappa_max_dt": big["dt"],
        "kappa_max_clock": big["clock_qubits"],
    }
    meas = [r for r in rows if r["success_measured"] is not None]
    if meas:
        values["kappa_meas_N"] = meas[0]["N"]
        values["kappa_p_first"] = meas[0]["success_measured"]
        values["kappa_p_last"] = meas[-1]["success_measured"]
        values["kappa_dt_first"] = meas[0]["dt"]
        values["kappa_dt_last"] = meas[-1]["dt"]
    return rows, values


def plot_kappa(rows, root: Path = HERE) -> Path:
    def draw(plt):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
        for n in dict.fromkeys(r["N"] for r in rows):
            sel = [r for r in rows if r["N"] == n]
            dt = [r["dt"] for r in sel]
            (line,) = axes[0].loglog(dt, [r["kappa"] for r in sel], "o-", label=f"N = {n}")
            axes[0].loglog(dt, [r["estimate"] for r in sel], "--", color=line.get_color())
            axes[1].semilogx(dt, [r["clock_qubits"] for r in sel], "o-", color=line.get_color())
        axes[0].set_ylabel("kappa(I - dt A)  (dashed: 1 + 4 dt Dfp / h^2)")
        axes[1].set_ylabel("clock qubits for epsilon = 0.01")
        for ax in axes:
            ax.set_xlabel("dt")
        axes[0].legend(fontsize=8)
        return fig

    return _figure("kappa", root, draw)


# -- 5. resources -----------------------------------------------------------------------------
def resources_study(
    transpiled_exact=(4, 8, 16, 32),
    transpiled_trotter=(4, 8),
    estimated=tuple(2**k for k in range(2, 21, 2)),
    epsilon: float = EPSILON,
):
    """Qubits, depth and CX of one HHL step vs ``N`` (1-D OU, ``dt = DT``, ``[-3, 3]``)."""
    import pfda_quantum as quantum

    rows = []
    for hamiltonian, sizes in (("exact", transpiled_exact), ("trotter", transpiled_trotter)):
        for cells in sizes:
            grid, sde, *_ = ou_problem(1, cells)
            prep = quantum.HHLSolver(
                epsilon=epsilon,
                hamiltonian=hamiltonian,
                shots=1,
                nonnegative=True,
                resource_counts=True,
            ).prepare(step_matrix(grid, sde))
            counts = prep.resource_counts(force=True)
            rows.append(
                dict(
                    N=cells,
                    hamiltonian=hamiltonian,
                    source="transpiled",
                    kappa=prep.matrix_info.kappa,
                    qubits=prep.matrix_info.num_qubits,
                    clock_qubits=prep.matrix_info.num_clock_qubits,
                    depth=counts["depth"],
                    two_qubit_gates=counts["two_qubit_gates"],
                )
            )
    for cells in estimated:
        h = 6.0 / cells
        kappa = 1.0 + 4.0 * DT * (D_OU / 2) / h**2
        for hamiltonian in ("exact", "trotter"):
            est = quantum.estimate_resources(cells, kappa, epsilon, hamiltonian=hamiltonian)
            rows.append(
                dict(
                    N=cells,
                    hamiltonian=hamiltonian,
                    source="estimate",
                    kappa=kappa,
                    qubits=est.num_qubits,
                    clock_qubits=est.num_clock_qubits,
                    depth=None,
                    two_qubit_gates=est.two_qubit_gates,
                )
            )
    tr = [r for r in rows if r["source"] == "transpiled" and r["hamiltonian"] == "exact"]
    big = [r for r in rows if r["source"] == "estimate"][-2:]
    values = {
        "res_N_tr": tr[-1]["N"],
        "res_cx_tr": tr[-1]["two_qubit_gates"],
        "res_depth_tr": tr[-1]["depth"],
        "res_qubits_tr": tr[-1]["qubits"],
        "res_N_big": big[0]["N"],
        "res_qubits_big": big[0]["qubits"],
        "res_cx_big_exact": big[0]["two_qubit_gates"],
        "res_cx_big_trotter": big[1]["two_qubit_gates"],
        "res_kappa_big": big[0]["kappa"],
    }
    trot = [r for r in rows if r["source"] == "transpiled" and r["hamiltonian"] == "trotter"]
    if trot:
        values["res_N_trot"] = trot[-1]["N"]
        values["res_cx_trot"] = trot[-1]["two_qubit_gates"]
        same = [r for r in tr if r["N"] == trot[-1]["N"]]
        if same:
            values["res_cx_exact_same"] = same[0]["two_qubit_gates"]
    return rows, values


def plot_resources(rows, root: Path = HERE) -> Path:
    def draw(plt):
        fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
        styles = {"exact": "C0", "trotter": "C1"}
        for ham, color in styles.items():
            for source, mark in (("transpiled", "o"), ("estimate", "--")):
                sel = [r for r in rows if r["hamiltonian"] == ham and r["source"] == source]
                if sel:
                    ax.loglog(
                        [r["N"] for r in sel],
                        [r["two_qubit_gates"] for r in sel],
                        mark,
                        color=color,
                        label=f"{ham}, {source}",
                    )
        ax.set_xlabel("N (cells)")
        ax.set_ylabel("CX gates per implicit step")
        ax.legend(fontsize=8)
        return fig

    return _figure("resources", root, draw)


# -- 6. wall time -----------------------------------------------------------------------------
def _median_time(fn, repeat: int, *args, **kwargs) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def timing_study(sizes=(4, 8, 16, 32, 64), repeat: int = 3, shots: int = 10_000):
    """Seconds per prepare and per solve: splu vs HHL (state vector and ``shots``) on Aer."""
    import pfda_quantum as quantum

    rows = []
    for cells in sizes:
        grid, sde, _, prior, _, _ = ou_problem(1, cells)
        M = step_matrix(grid, sde)
        splu = pfda.get_solver("splu")
        t_lu_prep = _median_time(splu.prepare, repeat, M)
        lu = splu.prepare(M)
        t_lu = _median_time(lu.solve, max(repeat, 20), prior)
        hhl = quantum.HHLSolver(epsilon=EPSILON, nonnegative=True, resource_counts=False)
        t0 = time.perf_counter()
        prep = hhl.prepare(M)
        t_q_prep = time.perf_counter() - t0
        prep.solve(prior)  # warm the simulator
        t_q = _median_time(prep.solve, repeat, prior)
        prep.solve(prior, shots=shots, seed=0)
        t_qs = _median_time(prep.solve, repeat, prior, shots=shots, seed=0)
        rows.append(
            dict(
                N=cells,
                qubits=prep.matrix_info.num_qubits,
                splu_prepare_s=t_lu_prep,
                splu_solve_s=t_lu,
                hhl_prepare_s=t_q_prep,
                hhl_statevector_solve_s=t_q,
                hhl_shots_solve_s=t_qs,
                slowdown=t_q / t_lu,
            )
        )
    values = {
        "time_N": rows[-1]["N"],
        "time_splu": rows[-1]["splu_solve_s"],
        "time_hhl": rows[-1]["hhl_statevector_solve_s"],
        "time_hhl_shots": rows[-1]["hhl_shots_solve_s"],
        "time_slowdown": rows[-1]["slowdown"],
        "time_shots": shots,
    }
    return rows, values


def plot_timing(rows, root: Path = HERE) -> Path:
    def draw(plt):
        fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
        n = [r["N"] for r in rows]
        for key, label in (
            ("splu_solve_s", "splu solve"),
            ("hhl_statevector_solve_s", "HHL solve, state vector (Aer)"),
            ("hhl_shots_solve_s", "HHL solve, shots (Aer)"),
            ("hhl_prepare_s", "HHL prepare (build + transpile)"),
        ):
            ax.loglog(n, [r[key] for r in rows], "o-", label=label)
        ax.set_xlabel("N (cells)")
        ax.set_ylabel("seconds")
        ax.legend(fontsize=8)
        return fig

    return _figure("timing", root, draw)


# -- 7. accuracy against exact filters --------------------------------------------------------
def accuracy_study(ou_cells=(25, 50, 100, 200, 400), benes_cells=(75, 150, 300), steps: int = 30):
    """pfda vs the exact OU (Kalman) and Benes filters; exponential time scheme (no time error)."""
    from pfda import cases

    rows = []
    ou = cases.get_case("ou").build()
    sim = ou.simulate(seed=1, steps=steps)
    km, _ = exact.kalman_ou(
        sim.times,
        sim.ys[:, 0],
        ou.prior_mean[0],
        ou.prior_cov[0, 0],
        cases.OU_THETA,
        cases.OU_D,
        cases.OU_R,
    )
    slopes = {}
    for flux in ("upwind", "sg"):
        errs = []
        for n in ou_cells:
            s = ou.with_cells(n)
            res = s.filter(scheme="exponential", dt=None, flux=flux).run(s.prior, sim.times, sim.ys)
            errs.append(float(np.sqrt(np.mean((res.mean[:, 0] - km) ** 2))))
            rows.append(
                dict(
                    case="OU vs Kalman", flux=flux, cells=n, error=errs[-1], metric="RMS mean error"
                )
            )
        slopes[flux] = _fit_loglog(ou_cells, errs)[0]

    benes = cases.get_case("benes").build()
    bsim = benes.simulate(seed=2, steps=steps)
    m0, P0 = 0.0, 1.0
    params = exact.benes_filter(bsim.times, bsim.ys[:, 0], m0, P0, 1.0)
    hell = []
    for n in benes_cells:
        s = benes.with_cells(n)
        edges = np.linspace(s.grid.lower[0], s.grid.upper[0], n + 1)
        prior = exact.benes_cell_masses(edges, m0, P0)
        res = s.filter(scheme="exponential", dt=None).run(prior, bsim.times, bsim.ys)
        d = [
            pfda.hellinger(res.probabilities[k], exact.benes_cell_masses(edges, *params[k]))
            for k in range(len(params))
        ]
        hell.append(float(np.max(d)))
        rows.append(dict(case="Benes", flux="sg", cells=n, error=hell[-1], metric="max Hellinger"))
    values = {
        "acc_slope_upwind": slopes["upwind"],
        "acc_slope_sg": slopes["sg"],
        "acc_ou_sg_fine": rows[len(ou_cells) * 2 - 1]["error"],
        "acc_ou_upwind_fine": rows[len(ou_cells) - 1]["error"],
        "acc_ou_cells_fine": ou_cells[-1],
        "acc_benes_hell": hell[-1],
        "acc_benes_cells": benes_cells[-1],
        "acc_benes_slope": _fit_loglog(benes_cells, hell)[0],
        "acc_steps": steps,
    }
    return rows, values


def plot_accuracy(rows, root: Path = HERE) -> Path:
    def draw(plt):
        fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
        for case, flux in dict.fromkeys((r["case"], r["flux"]) for r in rows):
            sel = [r for r in rows if r["case"] == case and r["flux"] == flux]
            ax.loglog(
                [r["cells"] for r in sel],
                [r["error"] for r in sel],
                "o-",
                label=f"{case}, {flux} ({sel[0]['metric']})",
            )
        ax.set_xlabel("cells")
        ax.set_ylabel("error against the exact filter")
        ax.legend(fontsize=8)
        return fig

    return _figure("accuracy", root, draw)
