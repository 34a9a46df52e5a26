"""Compile time: a user's model in a first and in a second Python process.

    python benchmarks/bench_compile.py [--quick]

A 2-D Duffing oscillator ``dx1 = x2 dt, dx2 = (x1 - x1^3 - 0.2 x2) dt + 0.3 dW``, observed
through ``y = x1 + v`` (R = 0.05) every 0.05, filtered by ``pfda.Filter(..., scheme="split-ppm",
mesh=pfda.Window())`` on 40x40 cells, with the drift and ``h`` given as the user's own
``@numba.njit`` point functions, defined in the script the process runs (so Numba cannot cache
them across processes; pfda's kernels take them as first-class functions and are cached).

Each process starts Python, imports pfda, defines the model and runs the filter once. Its
times: the whole process (wall), the filter's ``compile_time`` (seconds Numba compiled during
``run``: pfda's kernels on a cold cache, the model's point functions always) and ``wall_time``
(the run without compiling). The first process starts from an empty Numba cache (a fresh
``NUMBA_CACHE_DIR``: what a new installation pays once), the second runs the same model from
the cache the first left, the third a model pfda has not seen (another damping) from that cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import table  # noqa: E402

USER_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import numba, numpy as np
import pfda
t_import = time.perf_counter() - t0

@numba.njit
def duffing(x):
    return (x[1], x[0] - x[0] ** 3 - 0.2 * x[1])

@numba.njit
def h(x):
    return (x[0],)

K = int(sys.argv[1])
n = int(sys.argv[2])
rng = np.random.default_rng(1)
x = np.array([1.0, 0.0]); xs = []
for k in range(K):
    for _ in range(50):
        f = np.array(duffing(x))
        x = x + f * 0.001 + 0.3 * np.sqrt(0.001) * rng.standard_normal(2) * np.array([0.0, 1.0])
    xs.append(x.copy())
times = 0.05 * np.arange(1, K + 1)
ys = np.array(xs)[:, :1] + np.sqrt(0.05) * rng.standard_normal((K, 1))
grid = pfda.Grid([-3.0, -3.0], [3.0, 3.0], [n, n])
sde = pfda.SDE(duffing, diffusion=[0.0, 0.09])
obs = pfda.GaussianObservation(h, noise_cov=0.05)
flt = pfda.Filter(grid, sde, obs, scheme="split-ppm", mesh=pfda.Window(), progress=False)
res = flt.run(lambda g: pfda.gaussian(g, [1.0, 0.0], [0.1, 0.1]), times, ys)
print(json.dumps({"import": t_import, "compile": res.compile_time, "run": res.wall_time,
                  "rmse": res.rmse(np.array(xs))}))
"""


def _process(script: Path, cache: str, K: int, n: int) -> dict:
    """One process running ``script``; its timings as a dict."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(script), str(K), str(n)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - t0
    record = json.loads(out.stdout.strip().splitlines()[-1])
    record["wall"] = wall
    return record


def main(argv=None) -> None:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    K, n = (20, 24) if quick else (200, 40)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "user_model.py"
        script.write_text(USER_SCRIPT)
        other = Path(tmp) / "another_model.py"  # a model pfda has not seen: damping 0.25
        other.write_text(USER_SCRIPT.replace("0.2 * x[1]", "0.25 * x[1]"))
        cache = str(Path(tmp) / "numba-cache")
        rows = []
        runs = (
            ("first process, empty cache", script),
            ("second process, same model", script),
            ("first process of a new model", other),
        )
        for label, path in runs:
            r = _process(path, cache, K, n)
            rows.append([label, r["wall"], r["import"], r["compile"], r["run"], r["rmse"]])
    print(
        table(
            [
                "process",
                "process wall (s)",
                "import pfda (s)",
                "compile_time (s)",
                "wall_time (s)",
                "RMSE",
            ],
            rows,
        )  # fmt: skip
    )
    print()
    print(
        f"2-D Duffing, {n}x{n} window, split-ppm, {K} observations, user @njit drift and h. "
        "compile_time: seconds Numba compiled during the run; wall_time: the run without them."
    )


if __name__ == "__main__":
    main()
