"""Run every benchmark and write BENCHMARKS.md (tables of ratios, each with its command).

    python benchmarks/run_all.py [--quick] [--out DIR]

``--quick`` runs tiny sizes (the test suite does, so that the scripts keep working); its numbers
are not meant for BENCHMARKS.md. The HHL benchmark (bench_hhl.py) is included when present.

Sections of the existing BENCHMARKS.md whose heading carries a date, ``## Title (2026-12-02,
...)``, were measured by their own scripts (compile time, Lorenz-63, the HHL contract): they are
kept, ahead of the regenerated tables.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import io
import platform
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BENCHMARKS = (
    "bench_assembly",
    "bench_propagation",
    "bench_scaling",
    "bench_filter_vs_pf",
    "bench_hhl",
)
OPTIONAL = {"bench_hhl"}


def _load(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if name in OPTIONAL and getattr(exc, "name", None) in (name, "qiskit", "qiskit_aer"):
            return None
        raise


def run_all(quick: bool = False, only: list[str] | None = None) -> list[dict]:
    results = []
    for name in only or BENCHMARKS:
        module = _load(name)
        if module is None:
            continue
        t0 = time.perf_counter()
        if hasattr(module, "run"):
            res = module.run(quick=quick)
        else:  # a script whose main(argv) prints its Markdown table
            out = io.StringIO()
            argv = ["--quick"] if quick else []
            with contextlib.redirect_stdout(out):
                module.main(argv)
            res = {
                "title": (module.__doc__ or name).strip().splitlines()[0].rstrip("."),
                "command": f"python benchmarks/{name}.py" + (" --quick" if quick else ""),
                "table": out.getvalue().strip(),
            }
        res["seconds"] = time.perf_counter() - t0
        res["name"] = name
        results.append(res)
        print(f"{name}: {res['seconds']:.1f} s", flush=True)
    return results


DATED = re.compile(r"^## .*\(\d{4}-\d{2}-\d{2}")


def dated_sections(text: str) -> list[str]:
    """The ``## `` sections of a BENCHMARKS.md text whose heading carries a date."""
    parts = re.split(r"(?m)^(?=## )", text)
    return [part.rstrip() + "\n" for part in parts if DATED.match(part)]


def render(results: list[dict], quick: bool, kept: list[str] = ()) -> str:
    import numba
    import numpy as np
    import scipy

    lines = [
        "# pfda benchmarks",
        "",
        f"Measured {datetime.date.today().isoformat()} by `python benchmarks/run_all.py"
        + (" --quick" if quick else "")
        + "` (`make bench`).",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}; Python "
        f"{platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
        f"Numba {numba.__version__} ({numba.get_num_threads()} threads). The machine is shared, "
        "so compare the ratios within a table, not absolute times across runs.",
        "",
        "Timings exclude compilation: every kernel is cached on disk, and a filter's `wall_time`"
        " leaves\nout the seconds Numba spent compiling (its `compile_time`).",
        "",
    ]
    lines += list(kept)
    for res in results:
        lines += [f"## {res['title']}", "", f"`{res['command']}`", "", res["table"], ""]
        if res.get("note"):
            lines += [res["note"], ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--out", type=Path, default=HERE.parent, help="folder for BENCHMARKS.md")
    parser.add_argument("--only", nargs="*", help="run only these benchmark modules")
    args = parser.parse_args(argv)
    results = run_all(args.quick, args.only)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "BENCHMARKS.md"
    kept = dated_sections(path.read_text()) if path.exists() else []
    path.write_text(render(results, args.quick, kept))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
