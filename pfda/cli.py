"""The ``pfda`` command: run the built-in cases of :mod:`pfda.cases` from a shell.

::

    pfda demo                 # the bimodal double-well case; pictures + summary in ./pfda-output/
    pfda list                 # the built-in cases
    pfda run pendulum --cells 48 --steps 100 --out runs/pendulum
    pfda run lorenz63 --mesh window   # a 24^3 grid that follows the posterior
    pfda compare ou           # sparse LU against HHL (simulated) on a 16-cell grid

Each run simulates a true path and its observations from a seeded generator, filters them,
and reports the root-mean-square error of the posterior mean against the truth, the
log-evidence ``log p(y_{1:K})``, the probability mass still on the grid, and the wall time.
``--mesh window`` filters on a window of ``--cells`` cells per axis that follows the posterior
inside the case's box (:class:`pfda.Window`); the summary then also counts its remaps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import diagnostics
from .cases import CASES, DEFAULT_CASE, get_case, kalman_ou
from .filter import TOL
from .propagation import SCHEMES
from .solvers import available_solvers
from .version import __version__

__all__ = ["main", "build_parser"]

DEFAULT_OUT = "pfda-output"
MESHES = ("fixed", "window")
QUANTUM_HINT = "pip install 'pfda[quantum]'"


# -- argument parsing -------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _number(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def _tolerance(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    return _positive_float(text)


def _add_run_options(p: argparse.ArgumentParser, out_default: str | None = DEFAULT_OUT) -> None:
    p.add_argument("--cells", type=_positive_int, help="cells per axis (default: the case's)")
    p.add_argument("--scheme", choices=("auto", *SCHEMES),
                   help="time scheme (default: the case's)")  # fmt: skip
    p.add_argument("--dt", type=_positive_float, help="largest time step (default: the case's)")
    p.add_argument("--steps", type=_positive_int, help="number of observations")
    p.add_argument(
        "--tol",
        type=_tolerance,
        default=TOL,
        help=f"tolerance on each interval's estimated time error, or 'none' for fixed steps "
        f"(default {TOL:g})",
    )
    p.add_argument(
        "--mesh",
        choices=MESHES,
        default="fixed",
        help="fixed: the case's grid; window: a grid of --cells cells per axis that follows "
        "the posterior inside the case's box (default fixed)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated data (default 0)")
    p.add_argument(
        "--flux",
        choices=("auto", "upwind", "sg"),
        default="auto",
        help="face flux of the generator (default auto)",
    )
    p.add_argument(
        "--out",
        default=out_default,
        help=f"output folder for pictures and summary (default ./{out_default}/)",
    )
    p.add_argument(
        "--solver",
        default=None,
        choices=available_solvers(),
        help="linear solver of the implicit schemes (default: splu where one is used)",
    )
    p.add_argument("--no-plots", action="store_true", help="write the summary only")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the output of another run in --out (refused otherwise)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: on an interactive terminal)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pfda",
        description="Full-density Bayesian filtering on a grid (finite-volume Fokker-Planck "
        "transfer operator + Bayes update).",
    )
    parser.add_argument("--version", action="version", version=f"pfda {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="run a built-in case with no configuration",
        description="Run a built-in case (default: the bimodal double well), "
        "print a summary and write pictures and summary.json.",
    )
    demo.add_argument(
        "case",
        nargs="?",
        default=DEFAULT_CASE,
        choices=list(CASES),
        metavar="CASE",
        help=f"built-in case (default {DEFAULT_CASE})",
    )
    _add_run_options(demo)

    sub.add_parser("list", help="list the built-in cases", description="List the built-in cases.")

    run = sub.add_parser(
        "run",
        help="run one built-in case with options",
        description="Run one built-in case with options.",
    )
    run.add_argument(
        "case", choices=list(CASES), metavar="CASE", help=f"one of: {', '.join(CASES)}"
    )
    _add_run_options(run)

    cmp_ = sub.add_parser(
        "compare",
        help="run a case with splu and with hhl and print their agreement",
        description="Run a case with the sparse LU solver and with HHL (simulated on Qiskit Aer, "
        f"needs {QUANTUM_HINT}) on a small grid, and print how closely the two filters agree.",
    )
    cmp_.add_argument(
        "case",
        nargs="?",
        default="ou",
        choices=list(CASES),
        metavar="CASE",
        help="built-in case (default ou)",
    )
    cmp_.add_argument(
        "--cells",
        type=_positive_int,
        default=16,
        help="cells per axis (default 16; HHL is simulated, keep it small)",
    )
    cmp_.add_argument(
        "--steps", type=_positive_int, default=10, help="number of observations (default 10)"
    )
    cmp_.add_argument(
        "--dt",
        type=_positive_float,
        help="time step (default: the observation interval, one solve per step)",
    )
    cmp_.add_argument("--seed", type=int, default=0, help="seed of the simulated data")
    cmp_.add_argument("--out", default=None, help="folder for compare.json (optional)")
    return parser


# -- running ----------------------------------------------------------------------------------
def _run_case(args, solver: str | None = None):
    case = get_case(args.case)
    setup = case.build(cells=args.cells)
    sim = setup.simulate(seed=args.seed, steps=args.steps)
    options = {"flux": args.flux, "progress": args.progress, "tol": args.tol}
    if solver is not None:
        options["solver"] = solver
    if args.scheme is not None:
        options["scheme"] = args.scheme
    if args.dt is not None:
        options["dt"] = args.dt
    setup = setup.with_mesh(args.mesh)
    flt = setup.filter(**options)
    solves = flt.scheme in ("implicit", "crank-nicolson")  # the schemes with linear systems
    if solver is not None and not solves:
        raise SystemExit(
            f"pfda: --solver {solver} does not apply: the {flt.scheme} scheme solves no linear "
            "system (give --scheme implicit or crank-nicolson to use a solver)"
        )
    res = flt.run(setup.prior_for(flt), sim.times, sim.ys)
    summary = {
        "case": case.name,
        "description": case.description,
        "mesh": res.mesh,
        "cells": list(setup.grid.cells),
        "cells_total": setup.grid.size,
        "version": __version__,
        "scheme": flt.scheme,
        "solver": (solver or "splu") if solves else None,
        "settings": {k: vars(args)[k] for k in sorted(vars(args)) if k != "func"},
        "dt": options.get("dt", setup.dt),
        "steps": int(sim.times.size),
        "seed": args.seed,
        "rmse": res.rmse(sim.truth),
        "log_evidence": res.log_evidence,
        "tol": args.tol,
        "time_error_max": _number(np.max(res.time_error)),  # None: not estimated (--tol none)
        "log_evidence_time_error": _number(res.log_evidence_error),
        "final_mass": float(np.prod(1.0 - res.mass_lost)),
        "wall_time_s": res.wall_time,
        "compile_time_s": res.compile_time,
    }
    if res.mesh == "window":
        summary["remaps"] = int(res.remaps.sum())
        summary["mass_lost"] = float(res.mass_lost.sum())
        summary["window_width_final"] = (res.widths[-1] * np.asarray(setup.grid.cells)).tolist()
    if case.exact == "kalman":
        km, kv, kev = kalman_ou(setup, sim)
        summary["kalman_rmse"] = float(np.sqrt(np.mean((km - sim.truth[:, 0]) ** 2)))
        summary["kalman_log_evidence"] = kev
        summary["max_abs_mean_minus_kalman"] = float(np.max(np.abs(res.mean[:, 0] - km)))
    return setup, sim, res, summary


_LABELS = [
    ("case", "case", "{}"),
    ("mesh", "mesh", "{}"),
    ("cells", "cells", "{}"),
    ("scheme", "scheme", "{}"),
    ("solver", "solver", "{}"),
    ("steps", "observations", "{}"),
    ("rmse", "RMSE vs truth", "{:.4f}"),
    ("kalman_rmse", "RMSE of exact Kalman", "{:.4f}"),
    ("max_abs_mean_minus_kalman", "max |mean - Kalman mean|", "{:.2e}"),
    ("log_evidence", "log-evidence", "{:.3f}"),
    ("kalman_log_evidence", "Kalman log-evidence", "{:.3f}"),
    ("time_error_max", "time error (max, est.)", "{:.1e}"),
    ("log_evidence_time_error", "log-evidence time error", "{:.1e}"),
    ("final_mass", "final mass on grid", "{:.6f}"),
    ("remaps", "window remaps", "{}"),
    ("wall_time_s", "filter wall time [s]", "{:.2f}"),
    ("total_time_s", "total wall time [s]", "{:.2f}"),
]


def _table(summary: dict) -> str:
    rows = []
    for key, label, fmt in _LABELS:
        if summary.get(key) is None:
            continue
        value = summary[key]
        if key == "cells":
            value = " x ".join(str(c) for c in value) + f" = {summary['cells_total']}"
        rows.append((label, fmt.format(value)))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


def _previous_run(out: Path) -> dict | None:
    """The summary of the run in ``out``, if any (``{}`` if unreadable)."""
    path = out / "summary.json"
    if not path.exists():
        return None
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return previous if isinstance(previous, dict) else {}


def _check_out(out: Path, case: str, overwrite: bool) -> None:
    """Refuse a folder that holds another case's run (its pictures would sit beside ours),
    before anything runs."""
    previous = _previous_run(out)
    if overwrite or previous is None or previous.get("case") == case:
        return
    raise SystemExit(
        f"pfda: {out} holds the output of another run ({previous.get('case', '?')}); give "
        "another --out, or --overwrite to replace it"
    )


def _clear_previous(out: Path) -> None:
    """Remove the files the previous run in ``out`` listed as its own (and no other)."""
    previous = _previous_run(out) or {}
    for name in previous.get("files", []):
        path = out / Path(str(name)).name
        if path.is_file():
            path.unlink()


def _write_outputs(args, res, sim, summary) -> list[Path]:
    out = Path(args.out)
    _check_out(out, summary["case"], args.overwrite)
    _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    res.save(out / "result.npz")  # every density, box and estimate, with the pfda version
    written = [out / "result.npz"]
    if not args.no_plots:
        try:
            from .plotting import save_summary_figures
        except ImportError as err:  # pragma: no cover - depends on the environment
            print(f"pfda: no pictures ({err})", file=sys.stderr)
        else:
            try:
                written += save_summary_figures(res, sim.truth, out)
            except ImportError as err:
                print(f"pfda: no pictures ({err})", file=sys.stderr)
    written += [out / "summary.json", out / "summary.txt"]
    summary["files"] = [p.name for p in written]  # what a later run in this folder may remove
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.txt").write_text(_table(summary) + "\n")
    return written


def _cmd_run(args, title: str) -> int:
    start = time.perf_counter()
    _check_out(Path(args.out), args.case, args.overwrite)  # before the run, not after it
    _, sim, res, summary = _run_case(args, solver=args.solver)
    written = _write_outputs(args, res, sim, summary)
    summary["total_time_s"] = time.perf_counter() - start
    print(f"{title}: {summary['description']}")
    print(_table(summary))
    print(f"wrote {len(written)} files to {Path(args.out).resolve()}")
    return 0


def _cmd_list() -> int:
    width = max(len(n) for n in CASES)
    for name, case in CASES.items():
        flag = " (default)" if name == DEFAULT_CASE else ""
        print(f"  {name:<{width}}  {case.description}{flag}")
    return 0


def _cmd_compare(args) -> int:
    from .solvers import get_solver

    try:
        get_solver("hhl")
    except (ImportError, AttributeError) as err:
        print(
            f"pfda compare: the HHL solver is not available ({err}).\n"
            f"Install the quantum extra: {QUANTUM_HINT}",
            file=sys.stderr,
        )
        return 3
    case = get_case(args.case)
    setup = case.build(cells=args.cells)
    if setup.grid.size > 64:
        print(
            f"pfda compare: {setup.grid.size} cells is too many for a simulated HHL solve; "
            "use a 1-D case or lower --cells",
            file=sys.stderr,
        )
        return 2
    sim = setup.simulate(seed=args.seed, steps=args.steps)
    dt = args.dt if args.dt is not None else setup.obs_interval
    results = {}
    for solver in ("splu", "hhl"):
        # the same fixed steps for both solvers: the comparison is of the solves
        flt = setup.filter(scheme="implicit", solver=solver, dt=dt, progress=None, tol=None)
        results[solver] = flt.run(setup.prior, sim.times, sim.ys)
    a, b = results["splu"], results["hhl"]
    report = {
        "case": case.name,
        "cells": setup.grid.size,
        "steps": int(sim.times.size),
        "dt": dt,
        "max_hellinger": float(np.max(diagnostics.hellinger(a.probabilities, b.probabilities))),
        "max_abs_mean_difference": float(np.max(np.abs(a.mean - b.mean))),
        "log_evidence_splu": a.log_evidence,
        "log_evidence_hhl": b.log_evidence,
        "log_evidence_difference": b.log_evidence - a.log_evidence,
        "wall_time_splu_s": a.wall_time,
        "wall_time_hhl_s": b.wall_time,
    }
    print(
        f"compare splu vs hhl on {case.name}: {report['cells']} cells, "
        f"{report['steps']} observations, dt={dt:g}"
    )
    print(f"  max Hellinger distance per step   {report['max_hellinger']:.3e}")
    print(f"  max |mean(splu) - mean(hhl)|      {report['max_abs_mean_difference']:.3e}")
    print(f"  log-evidence splu / hhl           {a.log_evidence:.4f} / {b.log_evidence:.4f}")
    print(f"  log-evidence difference           {report['log_evidence_difference']:.3e}")
    print(f"  wall time splu / hhl [s]          {a.wall_time:.2f} / {b.wall_time:.2f}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pfda`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return _cmd_list()
        if args.command == "demo":
            return _cmd_run(args, "pfda demo")
        if args.command == "run":
            return _cmd_run(args, f"pfda run {args.case}")
        return _cmd_compare(args)
    except (ValueError, ImportError) as err:
        print(f"pfda {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
