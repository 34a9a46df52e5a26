"""Filter vs particle filter at equal accuracy: RMSE against wall time, pendulum and Lorenz-63.

pfda on grids of several sizes (fixed grids, and windows that follow the posterior,
``pfda.Filter(..., scheme="split-ppm", mesh=pfda.Window())``) and a bootstrap particle filter
(vectorised NumPy, stochastic Heun integration, systematic resampling at every observation,
several particle counts, each averaged over seeds) filter the same simulated data; the RMSE is
that of the posterior mean against the true path over all observation times. Because one path's
RMSE is itself noisy, each filter's posterior means are also compared with reference posterior
means computed far more accurately ("deviation"). Wall times include building the filter
(assembly) but not Numba compilation.

* Pendulum: ``dx1 = x2 dt``, ``dx2 = -g sin(x1) dt + 0.1 dW`` (g = 9.81, so D = diag(0, 0.01)),
  ``y = sin(x1) + v``, R = 0.1, every 0.01 s for 5 s, prior N(0, I), true x(0) = (1.5, 0).
  pfda runs the explicit scheme (first-order upwind flux on x1, which has no diffusion) and the
  high-resolution split schemes ``split-ppm`` and ``split-mc`` (second-order, positive), each at
  its largest positive step.
  The reference data set of Särkkä, Svensson and Corenflos (``shared/data/pendulum``) has the
  same g, q and R, but its states follow one forward-Euler step per 0.01 s, which gains about
  37 % energy over the 5 s (9.1 -> 12.5); the continuous SDE keeps it, so the data here are
  simulated from the SDE itself (Euler-Maruyama, 200 sub-steps per observation, seed 0).
* Lorenz-63 (sigma = 10, rho = 28, beta = 8/3) with D = 1 on each axis, all three components
  observed every 0.25 with R = 2 I, prior N(x(0), 2 I); pfda's explicit and split-ppm schemes
  with the jitted drift on growing grids, stopping before a run would exceed the time limit,
  and a report of how much of the grid the posterior occupies. The reference is the particle
  filter with 3e5 particles.

    python benchmarks/bench_filter_vs_pf.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from common import loglog_slope, lorenz_point_tuple, lorenz_vectorised, table

import pfda

G = 9.81
PEND_Q = 0.01  # D of the angular velocity (sigma = 0.1)
PEND_R = 0.1
PEND_DT = 0.01
PEND_X0 = (1.5, 0.0)
PEND_LOWER, PEND_UPPER = (-np.pi, -6.0), (np.pi, 6.0)

L63_D = 1.0
L63_R = 2.0
L63_DT = 0.25
L63_LOWER, L63_UPPER = (-25.0, -30.0, -5.0), (25.0, 30.0, 55.0)

FULL = {
    "pend_steps": 500,
    "pend_cells": (32, 48, 64, 96, 128, 192),
    "pend_split_cells": (32, 48, 64, 96, 128, 192),
    "pend_reference_cells": 384,
    "pend_other_schemes": (64,),
    "pend_window_cells": (24, 32, 40, 48, 56, 64),
    "pend_particles": (100, 300, 1000, 3000, 10000, 30000),
    "pend_pf_substeps": 2,
    "seeds": 5,
    "repeats": 2,
    "l63_steps": 40,
    "l63_cells": (24, 32, 48, 64, 96),
    "l63_split_cells": (24, 32, 48, 64),
    "l63_window_cells": (16, 24, 32, 48),
    "l63_reference_particles": 300000,
    "l63_particles": (1000, 10000, 100000),
    "l63_pf_substeps": 25,
    "l63_limit_s": 600.0,
}
QUICK = {
    "pend_steps": 40,
    "pend_cells": (12, 16),
    "pend_split_cells": (12, 16),
    "pend_reference_cells": 24,
    "pend_other_schemes": (12,),
    "pend_window_cells": (12,),
    "pend_particles": (100, 300),
    "pend_pf_substeps": 2,
    "seeds": 2,
    "repeats": 1,
    "l63_steps": 3,
    "l63_cells": (8, 10),
    "l63_split_cells": (8, 10),
    "l63_window_cells": (6, 8),
    "l63_reference_particles": 1000,
    "l63_particles": (100, 300),
    "l63_pf_substeps": 5,
    "l63_limit_s": 30.0,
}


# -- models ------------------------------------------------------------------------------------
@numba.njit
def pendulum_point(x):
    """Pendulum drift at one point (a Numba point function returning a tuple: no allocation)."""
    return (x[1], -G * np.sin(x[0]))


@numba.njit
def pendulum_h(x):
    """``h(x) = sin(x_1)`` at one point (a Numba point function)."""
    return (np.sin(x[0]),)


@numba.njit
def identity3(x):
    """``h(x) = x`` in 3-D at one point (a Numba point function)."""
    return (x[0], x[1], x[2])


def pendulum_observation() -> pfda.GaussianObservation:
    return pfda.GaussianObservation(h=pendulum_h, noise_cov=PEND_R)


def simulate_pendulum(steps: int, seed: int = 0, substeps: int = 200):
    """True path and observations of the pendulum SDE (Euler-Maruyama with fine sub-steps)."""
    rng = np.random.default_rng(seed)
    delta = PEND_DT / substeps
    x1, x2 = PEND_X0
    truth = np.empty((steps, 2))
    noise = np.sqrt(PEND_Q * delta) * rng.standard_normal((steps, substeps))
    for k in range(steps):
        for j in range(substeps):
            x1, x2 = x1 + x2 * delta, x2 - G * np.sin(x1) * delta + noise[k, j]
        truth[k] = x1, x2
    ys = np.sin(truth[:, :1]) + np.sqrt(PEND_R) * rng.standard_normal((steps, 1))
    times = PEND_DT * np.arange(1, steps + 1)
    return times, truth, ys


def simulate_lorenz(steps: int, seed: int = 0, substeps: int = 1000):
    """True Lorenz-63 path (started on the attractor) and observations of all components."""
    rng = np.random.default_rng(seed)
    x = np.array([1.0, 1.0, 1.0]) + rng.standard_normal(3)
    for _ in range(4000):  # 20 time units of deterministic spin-up onto the attractor
        x = x + 0.005 * lorenz_vectorised(x[:, None])[:, 0]
    x0 = x.copy()
    delta = L63_DT / substeps
    truth = np.empty((steps, 3))
    for k in range(steps):
        noise = np.sqrt(L63_D * delta) * rng.standard_normal((substeps, 3))
        for j in range(substeps):
            x = x + lorenz_vectorised(x[:, None])[:, 0] * delta + noise[j]
        truth[k] = x
    ys = truth + np.sqrt(L63_R) * rng.standard_normal((steps, 3))
    times = L63_DT * np.arange(1, steps + 1)
    return times, x0, truth, ys


# -- the bootstrap particle filter ---------------------------------------------------------------
def bootstrap_pf(x, advance, log_lik, ys, seed_rng) -> np.ndarray:
    """Bootstrap particle filter: ``advance(x, rng)`` moves particles ``(d, n)`` one observation
    interval ahead, ``log_lik(y, x)`` weighs them; systematic resampling at every observation.
    Returns the posterior means ``(K, d)``."""
    rng = seed_rng
    n = x.shape[1]
    means = np.empty((len(ys), x.shape[0]))
    base = np.arange(n) / n
    for k, y in enumerate(ys):
        x = advance(x, rng)
        lw = log_lik(y, x)
        w = np.exp(lw - lw.max())
        w /= w.sum()
        means[k] = x @ w
        cdf = np.cumsum(w)
        cdf[-1] = 1.0
        x = x[:, np.searchsorted(cdf, base + rng.random() / n)]
    return means


def pendulum_pf(n: int, seed: int, ys, substeps: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    delta = PEND_DT / substeps
    scale = np.sqrt(PEND_Q * delta)

    def advance(x, rng):
        x1, x2 = x[0], x[1]
        for _ in range(substeps):  # stochastic Heun (additive noise: weak order 2)
            dw = scale * rng.standard_normal(n)
            a1, a2 = x2, -G * np.sin(x1)
            p1, p2 = x1 + a1 * delta, x2 + a2 * delta + dw
            x1 = x1 + 0.5 * (a1 + p2) * delta
            x2 = x2 + 0.5 * (a2 - G * np.sin(p1)) * delta + dw
        return np.stack([x1, x2])

    def log_lik(y, x):
        return -0.5 * (y[0] - np.sin(x[0])) ** 2 / PEND_R

    return bootstrap_pf(rng.standard_normal((2, n)), advance, log_lik, ys, rng)


def lorenz_pf(n: int, seed: int, x0, ys, substeps: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    delta = L63_DT / substeps
    scale = np.sqrt(L63_D * delta)

    def advance(x, rng):
        for _ in range(substeps):  # stochastic Heun (additive noise: weak order 2)
            dw = scale * rng.standard_normal(x.shape)
            f0 = lorenz_vectorised(x)
            x_pred = x + f0 * delta + dw
            x = x + 0.5 * (f0 + lorenz_vectorised(x_pred)) * delta + dw
        return x

    def log_lik(y, x):
        return -0.5 * np.sum((y[:, None] - x) ** 2, axis=0) / L63_R

    x = np.asarray(x0)[:, None] + np.sqrt(L63_R) * rng.standard_normal((3, n))
    return bootstrap_pf(x, advance, log_lik, ys, rng)


def rmse(means, truth) -> float:
    return float(np.sqrt(np.mean(np.sum((means - truth) ** 2, axis=1))))


def deviation(means, reference) -> float:
    """RMS distance between two sequences of posterior means (over all steps)."""
    return rmse(means, reference)


def pf_rows(name, counts, seeds, run_one, truth, reference=None) -> list[dict]:
    """RMSE averaged over seeds, its standard error, the mean deviation from the reference
    posterior means (if given) and the fastest wall time of one run, per particle count;
    each row also keeps its posterior means averaged over the seeds (``"means"``)."""
    out = []
    for n in counts:
        errs, devs, secs, all_means = [], [], [], []
        for s in range(seeds):
            t0 = time.perf_counter()
            means = run_one(n, s)
            secs.append(time.perf_counter() - t0)
            all_means.append(means)
            errs.append(rmse(means, truth))
            if reference is not None:
                devs.append(deviation(means, reference))
        out.append(
            {
                "method": name,
                "size": f"{n} particles",
                "rmse": float(np.mean(errs)),
                "rmse_sd": float(np.std(errs)),
                "rmse_se": float(np.std(errs, ddof=1) / np.sqrt(seeds)) if seeds > 1 else 0.0,
                "dev": float(np.mean(devs)) if devs else None,
                "time": min(secs),
                "means": np.mean(all_means, axis=0),
            }
        )
    return out


# -- pfda ---------------------------------------------------------------------------------------
def pfda_run(grid, sde, obs, prior_args, scheme, dt, times, ys):
    """Build the filter and run it; returns the result and the wall time of both."""
    t0 = time.perf_counter()
    prior = pfda.gaussian(grid, *prior_args)
    flt = pfda.Filter(grid, sde, obs, scheme=scheme, dt=dt, mesh="fixed", progress=False)
    res = flt.run(prior, times, ys)
    return res, time.perf_counter() - t0


def pfda_window_run(grid, sde, obs, prior_args, times, ys):
    """A window (split-ppm, the default policy) of ``grid``'s shape in ``grid``'s box; returns
    the result and the time."""
    t0 = time.perf_counter()
    flt = pfda.Filter(grid, sde, obs, scheme="split-ppm", mesh=pfda.Window(), progress=False)
    res = flt.run(lambda g: pfda.gaussian(g, *prior_args), times, ys)
    return res, time.perf_counter() - t0


def pendulum_grid(c: int) -> pfda.Grid:
    return pfda.Grid(PEND_LOWER, PEND_UPPER, [c, c], boundary=["periodic", "reflecting"])


def equal_accuracy(pf: list[dict], grid_rows: list[dict], key: str, slack: float = 0.0):
    """Compare by ``key`` (``"rmse"`` or ``"dev"``): the particle filter's best row, and the
    fastest pfda row at least as good (within ``slack``); failing that, pfda's best row and the
    fastest particle-filter row as good as it (or ``None``)."""
    best = min(pf, key=lambda r: r[key])
    reach = [r for r in grid_rows if r[key] <= best[key] + slack]
    if reach:
        return best, min(reach, key=lambda r: r["time"]), None, None
    top = min(grid_rows, key=lambda r: r[key])
    pf_match = [r for r in pf if r[key] <= top[key]]
    return best, None, top, min(pf_match, key=lambda r: r["time"]) if pf_match else None


def headline(pf: list[dict], grid_rows: list[dict]) -> tuple[str, float | None]:
    """Time for pfda to reach the particle filter's best RMSE against the PF's time for it.

    The PF's RMSE is a mean over seeds; pfda "reaches" it when its (deterministic) RMSE is at
    most that mean plus one standard error of it, so that a lucky set of seeds does not set a
    target below what an exact filter attains on these data.
    """
    se = min(pf, key=lambda r: r["rmse"]).get("rmse_se", 0.0)
    best, fast, top, m = equal_accuracy(pf, grid_rows, "rmse", se)
    if fast is not None:
        ratio = best["time"] / fast["time"]
        return (
            f"The particle filter's best RMSE, {best['rmse']:.3g} +- {se:.2g} "
            f"({best['size']}), takes it {best['time']:.3g} s; pfda reaches RMSE "
            f"{fast['rmse']:.3g} (<= {best['rmse'] + se:.3g}) with {fast['size']} "
            f"({fast['method']}) in {fast['time']:.3g} s: PF time / pfda time = **{ratio:.3g}** "
            f"(goal >= 10: {'met' if ratio >= 10 else 'not met'}).",
            ratio,
        )
    text = (
        f"pfda does not reach the particle filter's best RMSE {best['rmse']:.3g} +- {se:.2g} "
        f"({best['size']}, {best['time']:.3g} s): its best is {top['rmse']:.3g} "
        f"({top['size']}, {top['time']:.3g} s), a gap of {top['rmse'] - best['rmse']:.3g}."
    )
    if m is not None:
        text += (
            f" The particle filter reaches pfda's best RMSE with {m['size']} "
            f"({m['rmse']:.3g}) in {m['time']:.3g} s: pfda takes "
            f"{top['time'] / m['time']:.3g}x its time (goal: a tenth; not met)."
        )
    return text, None


def accuracy_text(pf: list[dict], grid_rows: list[dict]) -> str:
    """Equal accuracy judged by the deviation from the reference posterior means."""
    best, fast, top, m = equal_accuracy(pf, grid_rows, "dev")
    text = (
        f"By deviation from the reference, the particle filter's most accurate run is "
        f"{best['size']} ({best['dev']:.3g}, {best['time']:.3g} s); "
    )
    if fast is not None:
        return text + (
            f"pfda is at least as close with {fast['method']} {fast['size']} "
            f"({fast['dev']:.3g}) in {fast['time']:.3g} s (PF time / pfda time = "
            f"{best['time'] / fast['time']:.3g})."
        )
    text += (
        f"pfda's closest is {top['method']} {top['size']} ({top['dev']:.3g}, {top['time']:.3g} s)"
    )
    if m is None:
        return text + "."
    return text + (
        f", which the particle filter matches with {m['size']} in {m['time']:.3g} s "
        f"(pfda time / PF time = {top['time'] / m['time']:.3g})."
    )


def occupancy_row(name: str, size: int, res, width) -> list:
    """Cells in the 99.9 % HPD region (median, max, median share), the cell widths, the median
    posterior standard deviations and the fewest cells per deviation."""
    occupied = np.array([pfda.hpd_mask(p, 0.999).sum() for p in res.probabilities])
    std = np.median(res.std, axis=0)
    return [
        name,
        size,
        int(np.median(occupied)),
        int(occupied.max()),
        float(np.median(occupied) / size),
        " / ".join(f"{w:.3g}" for w in width),
        " / ".join(f"{s:.2f}" for s in std),
        float(np.min(std / width)),
    ]


def window_text(rows: list[dict], best_pf: dict) -> str:
    """Lorenz-63: how the window filter's deviation falls with its cells per axis."""
    if not rows:
        return ""
    fine = rows[-1]
    text = (
        f"\n\nThe window filter (a {fine['cells']}^3 grid following the posterior, +-5 "
        f"standard deviations) deviates {fine['dev']:.3g} (RMSE {fine['rmse']:.3g}) in "
        f"{fine['time']:.3g} s; over the run it lost {fine['lost']:.2g} of the mass at its edges "
        f"and remapped {fine['remaps']} times. "
    )
    if len(rows) >= 3 and fine["dev"] > best_pf["dev"]:
        cells = np.array([r["cells"] for r in rows[-3:]], dtype=float)
        devs = np.array([r["dev"] for r in rows[-3:]])
        slope = -loglog_slope(cells, devs)
        if slope > 0.1:
            need = fine["cells"] * (fine["dev"] / best_pf["dev"]) ** (1 / slope)
            seconds = fine["time"] * (need / fine["cells"]) ** 4
            text += (
                f"Its deviation falls like cells^-{slope:.2f} over the three largest windows; "
                f"the best particle filter's deviation needs about {need:.0f} cells per axis "
                f"(~{seconds:.0f} s by the N^(4/3) rule). "
            )
    return text


def pendulum_study(cfg) -> tuple[str, str, float | None]:
    times, truth, ys = simulate_pendulum(cfg["pend_steps"])
    obs = pendulum_observation()
    sde = pfda.SDE(pendulum_point, diffusion=[0.0, PEND_Q])
    prior_args = ([0.0, 0.0], np.eye(2))
    # compile the fused kernel and the sweeps once, outside the timings
    for scheme in ("explicit", "split-ppm", "split-mc"):
        pfda_run(pendulum_grid(8), sde, obs, prior_args, scheme, None, times[:2], ys[:2])
    pfda_window_run(pendulum_grid(8), sde, obs, prior_args, times[:2], ys[:2])
    pendulum_pf(10, 0, ys[:2], 1)

    # the reference posterior means: split-ppm on a grid much finer than any in the table
    ref_cells = cfg["pend_reference_cells"]
    ref, ref_time = pfda_run(
        pendulum_grid(ref_cells), sde, obs, prior_args, "split-ppm", None, times, ys
    )
    reference = ref.mean

    rows = []
    configs = [("explicit (CFL)", c, "explicit", None) for c in cfg["pend_cells"]]
    for scheme in ("split-ppm", "split-mc"):
        configs += [(f"{scheme} (positive step)", c, scheme, None) for c in cfg["pend_split_cells"]]
    for c in cfg["pend_other_schemes"]:
        configs += [
            ("implicit, dt = 0.01", c, "implicit", PEND_DT),
            ("exponential, dt = 0.01", c, "exponential", PEND_DT),
        ]
    configs += [("window split-ppm (+-5 sd)", c, "window", None) for c in cfg["pend_window_cells"]]
    for label, c, scheme, dt in configs:
        grid = pendulum_grid(c)
        secs = []
        for _ in range(cfg["repeats"] * (3 if scheme == "window" else 1)):  # fast: noisier
            if scheme == "window":
                res, sec = pfda_window_run(grid, sde, obs, prior_args, times, ys)
            else:
                res, sec = pfda_run(grid, sde, obs, prior_args, scheme, dt, times, ys)
            secs.append(sec)
        rows.append(
            {
                "method": f"pfda {label}",
                "size": f"{c}x{c}",
                "rmse": res.rmse(truth),
                "rmse_sd": 0.0,
                "rmse_se": 0.0,
                "dev": deviation(res.mean, reference),
                "time": min(secs),
            }
        )
    pf = pf_rows(
        f"bootstrap PF (Heun, {cfg['pend_pf_substeps']} sub-steps)",
        cfg["pend_particles"],
        cfg["seeds"],
        lambda n, s: pendulum_pf(n, s, ys, cfg["pend_pf_substeps"]),
        truth,
        reference,
    )
    text, ratio = headline(pf, rows)
    text += " " + accuracy_text(pf, rows)
    text += (
        f" The reference posterior means (split-ppm on {ref_cells}x{ref_cells}, {ref_time:.3g} s) "
        f"have RMSE {ref.rmse(truth):.4g}: the RMSE an exact filter attains on these data, up "
        "to the reference's own error. The column 'deviation' is the RMS distance of each "
        "filter's posterior means from the reference's (PF: mean over seeds), a direct measure "
        "of how well a filter computes the posterior mean."
    )
    header = [
        "method",
        "size",
        "RMSE",
        "RMSE sd over seeds",
        "RMSE std. error",
        "deviation from reference",
        "wall time (s)",
    ]
    tab = table(
        header,
        [
            [r["method"], r["size"], r["rmse"], r["rmse_sd"], r["rmse_se"], r["dev"], r["time"]]
            for r in rows + pf
        ],
    )
    return tab, text, ratio


# -- Lorenz-63 ----------------------------------------------------------------------------------
def lorenz_study(cfg) -> tuple[str, str]:
    steps = cfg["l63_steps"]
    times, x0, truth, ys = simulate_lorenz(steps)
    inside = bool(np.all((truth > L63_LOWER) & (truth < L63_UPPER)))
    obs = pfda.GaussianObservation(h=identity3, noise_cov=L63_R * np.eye(3))
    sde = pfda.SDE(lorenz_point_tuple, diffusion=L63_D)
    prior_args = (x0, L63_R * np.eye(3))
    lower, upper = np.array(L63_LOWER), np.array(L63_UPPER)
    g = pfda.Grid(L63_LOWER, L63_UPPER, [6, 6, 6])
    for scheme in ("explicit", "split-ppm"):  # compile
        pfda_run(g, sde, obs, prior_args, scheme, None, times[:1], ys[:1])
    pfda_window_run(g, sde, obs, prior_args, times[:1], ys[:1])
    sub = cfg["l63_pf_substeps"]

    # reference posterior means: the particle filter with many particles, two seeds averaged
    n_ref = cfg["l63_reference_particles"]
    t0 = time.perf_counter()
    reference = np.mean([lorenz_pf(n_ref, 100 + s, x0, ys, sub) for s in range(2)], axis=0)
    ref_time = time.perf_counter() - t0
    ref_rmse = rmse(reference, truth)

    rows, grid_rows, diag_rows = [], [], []
    for scheme, cells in (("explicit", cfg["l63_cells"]), ("split-ppm", cfg["l63_split_cells"])):
        last = None
        for c in cells:
            if last is not None:
                estimate = last[1] * (c**3 / last[0] ** 3) ** (4 / 3)
                if estimate > cfg["l63_limit_s"]:
                    rows.append([f"pfda {scheme} {c}^3", "skipped", "", "", f"~{estimate:.0f}"])
                    break
            grid = pfda.Grid(L63_LOWER, L63_UPPER, [c, c, c])
            res, sec = pfda_run(grid, sde, obs, prior_args, scheme, None, times, ys)
            last = (c, sec)
            err = res.rmse(truth)
            dev = deviation(res.mean, reference)
            width = (upper - lower) / c
            diag_rows.append(occupancy_row(f"{scheme} {c}^3", grid.size, res, width))
            grid_rows.append(
                {
                    "method": f"pfda {scheme}",
                    "scheme": scheme,
                    "size": f"{c}^3",
                    "cells": c,
                    "h": float(np.mean(width)),
                    "rmse": err,
                    "dev": dev,
                    "time": sec,
                }
            )
            rows.append([f"pfda {scheme} {c}^3", grid.size, err, dev, sec])
    window_rows = []
    for c in cfg["l63_window_cells"]:
        grid = pfda.Grid(L63_LOWER, L63_UPPER, [c, c, c])
        res, sec = pfda_window_run(grid, sde, obs, prior_args, times, ys)
        err, dev = res.rmse(truth), deviation(res.mean, reference)
        width = np.median(res.widths, axis=0)
        diag_rows.append(occupancy_row(f"window {c}^3", grid.size, res, width))
        row = {
            "method": "pfda window split-ppm",
            "scheme": "window",
            "size": f"{c}^3 window",
            "cells": c,
            "rmse": err,
            "dev": dev,
            "time": sec,
            "lost": float(res.mass_lost.sum()),
            "remaps": int(res.remaps.sum()),
        }
        grid_rows.append(row)
        window_rows.append(row)
        rows.append([f"pfda window split-ppm {c}^3", grid.size, err, dev, sec])
    pf = pf_rows(
        f"bootstrap PF (Heun, {sub} sub-steps)",
        cfg["l63_particles"],
        cfg["seeds"],
        lambda n, s: lorenz_pf(n, s, x0, ys, sub),
        truth,
        reference,
    )
    for r in pf:
        rows.append([r["method"], r["size"], r["rmse"], r["dev"], r["time"]])
    text, _ = headline(pf, grid_rows)
    text += " " + accuracy_text(pf, grid_rows)
    text += (
        f" The reference posterior means (the same particle filter with {n_ref} particles, two "
        f"seeds averaged, {ref_time:.3g} s) have RMSE {ref_rmse:.4g}; 'deviation' is each "
        "filter's RMS distance from them. "
    )

    # the resolution at which pfda's best scheme would match the best particle filter
    best_pf = min(pf, key=lambda r: r["dev"])
    by_scheme = {}
    for r in grid_rows:
        if r["scheme"] != "window":  # full grids: their cell width is fixed
            by_scheme.setdefault(r["scheme"], []).append(r)
    scheme_rows = min(by_scheme.values(), key=lambda rs: rs[-1]["dev"])
    fine = scheme_rows[-1]
    text += (
        f"\n\nLorenz-63: the closest grid, {fine['method']} {fine['size']}, deviates "
        f"{fine['dev']:.3g} from the reference (RMSE {fine['rmse']:.3g}, {fine['time']:.3g} s); "
        f"the best particle filter ({best_pf['size']}) deviates {best_pf['dev']:.3g} "
        f"(RMSE {best_pf['rmse']:.3g}, {best_pf['time']:.3g} s). "
    )
    if len(scheme_rows) >= 3 and fine["dev"] > best_pf["dev"]:
        hs = np.array([r["h"] for r in scheme_rows[-3:]])
        devs = np.array([r["dev"] for r in scheme_rows[-3:]])
        slope = loglog_slope(hs, devs)
        if slope > 0.1:
            h_star = hs[-1] * (best_pf["dev"] / devs[-1]) ** (1 / slope)
            cells = float(np.mean((upper - lower) / h_star))
            seconds = fine["time"] * (cells / fine["cells"]) ** 4  # N^(4/3), N = cells^3
            text += (
                f"Its deviation falls like h^{slope:.2f} over the finest grids (mean cell width "
                f"h); matching the best particle filter needs h ~ {h_star:.2g}, about "
                f"{cells:.0f} cells per axis ({cells**3:.2e} cells, ~{seconds:.0f} s by the "
                "N^(4/3) rule) — the posterior occupies a small fraction of the box (table "
                "below), which a grid that follows it would exploit. "
            )
        else:
            text += (
                f"Its deviation does not fall with h over the finest grids (slope {slope:.2f}), "
                "so no resolution can be extrapolated from these sizes. "
            )
    text = (text + window_text(window_rows, best_pf)).rstrip()
    text += f" The true path stays inside the box: {inside}."
    caption = (
        f"Lorenz-63 (sigma = 10, rho = 28, beta = 8/3), dx = f(x) dt + dW (D = {L63_D:g} I), "
        f"y = x + v every {L63_DT} with R = {L63_R:g} I, {steps} observations, prior "
        f"N(x(0), {L63_R:g} I); box {list(L63_LOWER)} x {list(L63_UPPER)}, reflecting. The "
        f"particle filters integrate with the stochastic Heun method, {sub} sub-steps per "
        "observation interval (Euler-Maruyama with 50 sub-steps gave RMSE 1.67 against 1.29 "
        "for 500-1000 sub-steps: its time-discretisation bias dominated)."
    )
    tab = table(["method", "size", "RMSE", "deviation from reference", "wall time (s)"], rows)
    diag = table(
        [
            "grid",
            "cells",
            "99.9 % HPD cells (median)",
            "(max)",
            "occupied fraction",
            "cell widths",
            "posterior std (median)",
            "min std / width",
        ],
        diag_rows,
    )
    return caption + "\n\n" + tab + "\n\n" + diag, text


def run(quick: bool = False) -> dict:
    cfg = QUICK if quick else FULL
    pend_tab, pend_text, _ = pendulum_study(cfg)
    l63_tab, l63_text = lorenz_study(cfg)
    caption = (
        "Pendulum dx1 = x2 dt, dx2 = -9.81 sin(x1) dt + 0.1 dW, y = sin(x1) + v, R = 0.1 every "
        f"0.01 s, {cfg['pend_steps']} observations, prior N(0, I); grid [-pi, pi) periodic x "
        "[-6, 6] reflecting. RMSE of the posterior mean over all steps (PF: mean over "
        f"{cfg['seeds']} seeds; wall time: fastest run)."
    )
    note = "**Pendulum:** " + pend_text + "\n\n**Lorenz-63.** " + l63_tab + "\n\n" + l63_text
    return {
        "title": "Filter vs bootstrap particle filter at equal accuracy",
        "command": "python benchmarks/bench_filter_vs_pf.py" + (" --quick" if quick else ""),
        "table": caption + "\n\n" + pend_tab,
        "note": note,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    args = parser.parse_args(argv)
    res = run(args.quick)
    print(res["table"])
    print()
    print(res["note"])


if __name__ == "__main__":
    main()
