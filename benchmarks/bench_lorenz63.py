"""Lorenz-63 in DAPPER's sakov2012 setting: pfda's window filter against bootstrap particle filters.

The setting is that of ``dapper.mods.Lorenz63.sakov2012``, simulated here without DAPPER:

* truth: Lorenz-63 (sigma = 10, rho = 28, beta = 8/3) integrated by RK4 with step 0.01 and no
  model noise, from ``x(0) ~ N(mu0, P0 I)``, ``mu0 = (1.509, -1.531, 25.46)``, ``P0 = 2``
  (DAPPER's ``X0 = GaussRV(C=2, mu=x0)``); seed 3000;
* observations of all three components every 0.25 time units, ``y = x + v``, ``v ~ N(0, 2 I)``,
  ``Ko = 200`` of them (t = 0.25, ..., 50);
* both filters start from the prior ``N(mu0, P0 I)`` and filter the same SDE
  ``dx = f(x) dt + sqrt(2 D) dW`` (generator ``D * Laplacian``) with a small regularising
  ``D`` (0.01 and 0.05). pfda's ``SDE(drift, diffusion)`` takes ``diffusion`` as the variance
  rate ``sigma sigma^T`` (its Fokker--Planck equation carries ``(1/2) sum_k d_k^2 (D_kk rho)``),
  so this SDE is ``pfda.SDE(f, diffusion=2 D)``.

Filters (all single-threaded: ``numba.set_num_threads(1)`` for the run, and the particle
filter's kernel is a serial Numba loop):

* pfda: ``pfda.Filter(grid, sde, obs, scheme="split-ppm", mesh=pfda.Window())`` with 16^3 and
  24^3 cells (and 32^3 with ``--full``) in the domain [-25, 25] x [-30, 30] x [-5, 55]
  (reflecting). One short warm-up run per size compiles the kernels first; its
  ``FilterResult.compile_time`` (Numba compilation, or loading from Numba's disk cache) is
  reported as the compile time. The time per cycle is the wall time of building the filter
  and running it over all observations, minus that run's own compile time, divided by the
  number of observations. Also reported: the mass the window lost at its edges over the run
  (``FilterResult.mass_lost`` summed) and how many of pfda's mass-loss warnings it raised.
* bootstrap particle filter (``bench_filter_vs_pf.bootstrap_pf``: weights by the likelihood,
  systematic resampling at every observation), N = 25, 200, 800 particles, each run with three
  seeds; the particles follow the same SDE by RK4 steps of 0.01 with the Gaussian increment
  ``sqrt(2 D 0.01) xi`` added after each step (a serial Numba kernel; the normal draws are
  NumPy's). Its time per cycle is the fastest seed's wall time divided by the observations.

Scores: ``rmse.a`` as DAPPER defines it, the time average over the analysis times after the
burn-in (the first 20 cycles, t <= 5, excluded) of the root-mean-square over the components of
``mean - truth``, where "mean" is the posterior (analysis) mean; for the particle filter, the
mean and the standard deviation over the seeds. The column "pfda / PF N=800 time" is pfda's
time per cycle divided by the N = 800 particle filter's at the same D.

A second table measures how accurately pfda computes the posterior mean: over the first 60
observations with D = 0.05, the mean over cycles of ``||m_pfda - m_PF||`` (Euclidean), where
``m_PF`` is a bootstrap particle filter with 10^5 particles (seed 100), and the same metric
between two such particle filters (seeds 100 and 101): their seed-to-seed noise. The smaller
particle filters of the first table are scored the same way.

When DAPPER is importable, its ``PartFilt`` (N = 200: ``reg=2.4, NER=0.3``; N = 800:
``reg=0.9, NER=0.2``, the tunings suggested in ``sakov2012.py``) filters the same truth and
observations (its own model, RK4 at 0.01 with no model noise; it regularises by jittering the
resampled particles) and is scored by DAPPER's own ``rmse.a`` with ``BurnIn = 5``.

``--quick`` runs 40 cycles (burn-in 10), 16^3 only, N = 200 with one seed, and a reference of
10^4 particles over 20 cycles; the sizes can also be set one by one (``--help``).

    python benchmarks/bench_lorenz63.py [--quick | --full]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numba
import numpy as np
from bench_filter_vs_pf import L63_LOWER, L63_UPPER, bootstrap_pf, identity3, pfda_window_run
from common import BETA, RHO, SIGMA, lorenz_point_tuple, table

import pfda

MU0 = np.array([1.509, -1.531, 25.46])
P0 = 2.0  # prior (and initial truth) variance per component, DAPPER's X0 = GaussRV(C=2)
R = 2.0  # observation noise variance per component
DTO = 0.25  # observation interval
DT = 0.01  # RK4 step of the truth and of the particle filters
TRUTH_SEED = 3000
REFERENCE_SEEDS = (100, 101)

FULL = {
    "cycles": 200,
    "burn_in": 20,
    "cells": (16, 24),
    "particles": (25, 200, 800),
    "seeds": 3,
    "diffusions": (0.01, 0.05),
    "deviation_cycles": 60,
    "deviation_diffusion": 0.05,
    "reference_particles": 100_000,
}
QUICK = {
    "cycles": 40,
    "burn_in": 10,
    "cells": (16,),
    "particles": (200,),
    "seeds": 1,
    "diffusions": (0.01, 0.05),
    "deviation_cycles": 20,
    "deviation_diffusion": 0.05,
    "reference_particles": 10_000,
}


# -- model and truth ----------------------------------------------------------------------------
@numba.njit
def rk4_noise(x, noise, delta):
    """Each column of ``x`` (3, n) takes ``noise.shape[1]`` RK4 steps of length ``delta`` of the
    Lorenz-63 ODE, ``noise[i, j]`` (3 values) added to particle ``i`` after step ``j``."""
    n, steps = x.shape[1], noise.shape[1]
    out = np.empty((3, n))
    h2 = 0.5 * delta
    for i in range(n):
        a, b, c = x[0, i], x[1, i], x[2, i]
        for j in range(steps):
            a1, b1, c1 = SIGMA * (b - a), a * (RHO - c) - b, a * b - BETA * c
            xa, xb, xc = a + h2 * a1, b + h2 * b1, c + h2 * c1
            a2, b2, c2 = SIGMA * (xb - xa), xa * (RHO - xc) - xb, xa * xb - BETA * xc
            xa, xb, xc = a + h2 * a2, b + h2 * b2, c + h2 * c2
            a3, b3, c3 = SIGMA * (xb - xa), xa * (RHO - xc) - xb, xa * xb - BETA * xc
            xa, xb, xc = a + delta * a3, b + delta * b3, c + delta * c3
            a4, b4, c4 = SIGMA * (xb - xa), xa * (RHO - xc) - xb, xa * xb - BETA * xc
            a += delta / 6.0 * (a1 + 2.0 * (a2 + a3) + a4) + noise[i, j, 0]
            b += delta / 6.0 * (b1 + 2.0 * (b2 + b3) + b4) + noise[i, j, 1]
            c += delta / 6.0 * (c1 + 2.0 * (c2 + c3) + c4) + noise[i, j, 2]
        out[0, i], out[1, i], out[2, i] = a, b, c
    return out


def simulate(cycles: int, seed: int = TRUTH_SEED):
    """Truth and observations of sakov2012: ``x(0) ~ N(mu0, P0 I)``, RK4 steps of ``DT`` without
    noise, ``y_k = x(t_k) + N(0, R I)`` at ``t_k = DTO k``, k = 1..cycles.

    Returns ``times (K,)``, ``truth (K, 3)`` at the observation times, ``ys (K, 3)`` and the
    path at every RK4 step from t = 0, ``(K * DTO / DT + 1, 3)``."""
    rng = np.random.default_rng(seed)
    steps = round(DTO / DT)
    x = (MU0 + np.sqrt(P0) * rng.standard_normal(3))[:, None]
    zero = np.zeros((1, 1, 3))
    path = [x[:, 0]]
    for _ in range(cycles * steps):
        x = rk4_noise(x, zero, DT)
        path.append(x[:, 0])
    path = np.array(path)
    truth = path[steps::steps]
    ys = truth + np.sqrt(R) * rng.standard_normal(truth.shape)
    return DTO * np.arange(1, cycles + 1), truth, ys, path


def rmse_a(means, truth, burn_in: int) -> float:
    """DAPPER's ``rmse.a``: the time average, over the cycles after ``burn_in``, of the
    root-mean-square over the components of the analysis mean's error."""
    err = np.sqrt(np.mean((means - truth) ** 2, axis=1))
    return float(np.mean(err[burn_in:]))


def mean_distance(a, b) -> float:
    """Mean over cycles of the Euclidean distance between two sequences of means."""
    return float(np.mean(np.linalg.norm(a - b, axis=1)))


# -- filters ------------------------------------------------------------------------------------
def particle_filter(n: int, seed: int, ys, diffusion: float) -> np.ndarray:
    """Bootstrap particle filter of ``dx = f dt + sqrt(2 D) dW`` (RK4 steps of ``DT`` plus the
    Gaussian increments) from ``N(mu0, P0 I)``; returns the analysis means ``(K, 3)``."""
    rng = np.random.default_rng(seed)
    steps = round(DTO / DT)
    scale = np.sqrt(2.0 * diffusion * DT)

    def advance(x, rng):
        return rk4_noise(x, scale * rng.standard_normal((x.shape[1], steps, 3)), DT)

    def log_lik(y, x):
        return -0.5 * np.sum((y[:, None] - x) ** 2, axis=0) / R

    x = MU0[:, None] + np.sqrt(P0) * rng.standard_normal((3, n))
    return bootstrap_pf(x, advance, log_lik, ys, rng)


def pfda_window(cells: int, diffusion: float, times, ys):
    """pfda's window filter (split-ppm) with ``cells^3`` cells; returns the result, the wall
    time of building and running it less the run's compile time, and the number of
    ``PfdaWarning`` s it raised (the window losing mass at its edges)."""
    grid = pfda.Grid(L63_LOWER, L63_UPPER, [cells] * 3)
    sde = pfda.SDE(lorenz_point_tuple, diffusion=2.0 * diffusion)
    obs = pfda.GaussianObservation(h=identity3, noise_cov=R * np.eye(3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pfda.PfdaWarning)
        res, sec = pfda_window_run(grid, sde, obs, (MU0, P0 * np.eye(3)), times, ys)
    count = 0
    for w in caught:
        if issubclass(w.category, pfda.PfdaWarning):
            count += 1
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return res, sec - res.compile_time, count


def dapper_rows(path, ys, burn_in: int) -> list[list] | str:
    """DAPPER's ``PartFilt`` on the same truth and observations, or why it was not run."""
    try:
        import dapper
        import dapper.da_methods as da
        import dapper.tools.progressbar as progressbar
        from dapper.mods.Lorenz63.sakov2012 import HMM as SAKOV
    except ImportError as exc:
        return f"DAPPER is not importable here ({exc}); its PartFilt was not run."
    progressbar.disable_progbar = True
    hmm = SAKOV.copy()
    cycles = len(ys)
    hmm.tseq = dapper.mods.Chronology(DT, dko=round(DTO / DT), Ko=cycles - 1, BurnIn=burn_in * DTO)
    rows = []
    for n, reg, ner in ((200, 2.4, 0.3), (800, 0.9, 0.2)):
        dapper.set_seed(TRUTH_SEED)
        xp = da.PartFilt(N=n, reg=reg, NER=ner)
        t0 = time.perf_counter()
        xp.assimilate(hmm, path, ys)
        sec = time.perf_counter() - t0
        xp.stats.average_in_time()
        label = f"DAPPER PartFilt (reg={reg}, NER={ner})"
        rows.append([label, f"N = {n}", float(xp.avrgs.rmse.a.val), 1e3 * sec / cycles])
    return rows


# -- the study ----------------------------------------------------------------------------------
def warm_up(cells, times, ys) -> dict:
    """Compile every kernel before the timings: pfda per window size (its reported compile
    time), and the particle filter's kernel."""
    compile_s = {}
    for c in cells:
        res, _, _ = pfda_window(c, 0.05, times[:2], ys[:2])
        compile_s[c] = res.compile_time
    particle_filter(10, 0, ys[:2], 0.05)
    return compile_s


def run(cfg: dict) -> dict:
    """All filters on one simulated path; returns the rows of both tables and the texts."""
    times, truth, ys, path = simulate(cfg["cycles"])
    burn = cfg["burn_in"]
    compile_s = warm_up(cfg["cells"], times, ys)
    rows, pf_means, pfda_means = [], {}, {}
    for dif in cfg["diffusions"]:
        pf = {}
        for n in cfg["particles"]:
            scores, secs = [], []
            for s in range(cfg["seeds"]):
                t0 = time.perf_counter()
                means = particle_filter(n, s, ys, dif)
                secs.append(time.perf_counter() - t0)
                scores.append(rmse_a(means, truth, burn))
                if s == 0:
                    pf_means[dif, n] = means
            pf[n] = {
                "method": "bootstrap PF (RK4 + noise)",
                "size": f"N = {n}",
                "rmse": float(np.mean(scores)),
                "sd": float(np.std(scores)),
                "ms": 1e3 * min(secs) / len(ys),
            }
        ref_ms = pf[800]["ms"] if 800 in pf else None
        for c in cfg["cells"]:
            res, sec, count = pfda_window(c, dif, times, ys)
            pfda_means[dif, c] = res.mean
            ms = 1e3 * sec / len(ys)
            rows.append(
                {
                    "method": "pfda window split-ppm",
                    "D": dif,
                    "size": f"{c}^3",
                    "rmse": rmse_a(res.mean, truth, burn),
                    "sd": "",
                    "ms": ms,
                    "compile": compile_s[c],
                    "ratio": ms / ref_ms if ref_ms else "",
                    "lost": float(res.mass_lost.sum()),
                    "warnings": count,
                }
            )
        for n in cfg["particles"]:
            rows.append({**pf[n], "D": dif, "compile": "", "ratio": "", "lost": "", "warnings": ""})

    # accuracy of the posterior mean against a large particle filter
    k = min(cfg["deviation_cycles"], len(ys))
    dif = cfg["deviation_diffusion"]
    n_ref = cfg["reference_particles"]
    t0 = time.perf_counter()
    refs = [particle_filter(n_ref, s, ys[:k], dif) for s in REFERENCE_SEEDS]
    ref_s = (time.perf_counter() - t0) / len(REFERENCE_SEEDS)
    dev_rows = [
        [
            f"pfda window split-ppm {c}^3",
            mean_distance(pfda_means[dif, c][:k], refs[0]),
            mean_distance(pfda_means[dif, c][:k], refs[1]),
        ]
        for c in cfg["cells"]
        if (dif, c) in pfda_means
    ]
    dev_rows += [
        [
            f"bootstrap PF N = {n} (seed 0)",
            mean_distance(pf_means[dif, n][:k], refs[0]),
            mean_distance(pf_means[dif, n][:k], refs[1]),
        ]
        for n in cfg["particles"]
        if (dif, n) in pf_means
    ]
    noise = mean_distance(refs[0], refs[1])
    dev_rows.append([f"bootstrap PF N = {n_ref}, seed {REFERENCE_SEEDS[1]}", noise, 0.0])
    return {
        "rows": rows,
        "deviation_rows": dev_rows,
        "reference_noise": noise,
        "reference_seconds": ref_s,
        "dapper": dapper_rows(path, ys, burn),
        "cycles": len(ys),
        "truth_inside": bool(np.all((truth > L63_LOWER) & (truth < L63_UPPER))),
    }


def render(cfg: dict, out: dict) -> str:
    """The Markdown report: settings, the rmse.a table, the deviation table, DAPPER's rows."""
    dif = cfg["deviation_diffusion"]
    k = min(cfg["deviation_cycles"], out["cycles"])
    n_ref = cfg["reference_particles"]
    header = [
        "filter",
        "D",
        "size",
        "rmse.a",
        "rmse.a sd over seeds",
        "ms / cycle",
        "compile (s)",
        "pfda / PF N=800 time",
        "mass lost",
        "mass-loss warnings",
    ]
    keys = ("method", "D", "size", "rmse", "sd", "ms", "compile", "ratio", "lost", "warnings")
    main_table = table(header, [[r[key] for key in keys] for r in out["rows"]])
    caption = (
        f"Lorenz-63, DAPPER sakov2012 setting: {out['cycles']} observations of x every {DTO} "
        f"(R = {R:g} I), truth by RK4 (dt = {DT}) without noise from N(mu0, {P0:g} I), seed "
        f"{TRUTH_SEED}; filters of dx = f dt + sqrt(2 D) dW (pfda diffusion = 2 D) from "
        f"N(mu0, {P0:g} I). rmse.a averaged over cycles {cfg['burn_in'] + 1}..{out['cycles']} "
        f"(the first {cfg['burn_in']} excluded); PF: mean and sd over {cfg['seeds']} seed(s), "
        "fastest seed's time. Single thread. Truth inside the pfda domain: "
        f"{out['truth_inside']}."
    )
    dev_caption = (
        f"Posterior-mean accuracy, D = {dif:g}, first {k} observations: mean over cycles of "
        f"||m - m_PF|| against a bootstrap PF with {n_ref} particles (seed "
        f"{REFERENCE_SEEDS[0]}, and seed {REFERENCE_SEEDS[1]}; {out['reference_seconds']:.3g} s "
        f"per run). The PF's own seed-to-seed noise at {n_ref} particles: "
        f"{out['reference_noise']:.3g}."
    )
    dev_table = table(
        ["filter", f"vs PF seed {REFERENCE_SEEDS[0]}", f"vs PF seed {REFERENCE_SEEDS[1]}"],
        out["deviation_rows"],
    )
    text = [caption, "", main_table, "", dev_caption, "", dev_table, ""]
    if isinstance(out["dapper"], str):
        text.append(out["dapper"])
    else:
        text += [
            "DAPPER on the same truth and observations (its rmse.a, BurnIn = "
            f"{cfg['burn_in'] * DTO:g}):",
            "",
            table(["filter", "size", "rmse.a", "ms / cycle"], out["dapper"]),
        ]
    return "\n".join(text)


def main(argv=None) -> dict:
    """Run the benchmark, print its Markdown report and return the measured rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="40 cycles, 16^3, N = 200 (<1 min)")
    size.add_argument("--full", action="store_true", help="also the 32^3 window")
    parser.add_argument("--cycles", type=int, help="number of observations")
    parser.add_argument("--burn-in", type=int, help="cycles left out of rmse.a")
    parser.add_argument("--particles", type=int, nargs="+", help="particle counts")
    parser.add_argument("--seeds", type=int, help="particle-filter seeds per count")
    parser.add_argument("--cells", type=int, nargs="+", help="window cells per axis")
    parser.add_argument("--reference-particles", type=int, help="particles of the reference PF")
    parser.add_argument("--deviation-cycles", type=int, help="cycles of the deviation table")
    args = parser.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.full:
        cfg["cells"] = (*cfg["cells"], 32)
    for key in (
        "cycles",
        "burn_in",
        "particles",
        "seeds",
        "cells",
        "reference_particles",
        "deviation_cycles",
    ):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    cfg["burn_in"] = min(cfg["burn_in"], cfg["cycles"] - 1)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        out = run(cfg)
    finally:
        numba.set_num_threads(threads)
    print(render(cfg, out))
    return out


if __name__ == "__main__":
    main()
