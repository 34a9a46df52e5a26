"""Every example script runs in its quick mode, writes at least one picture and prints the
accuracy lines it promises.

The scripts run in this process (``runpy``, as ``__main__``, with ``sys.argv`` set to
``--quick --out <tmp>``), so the Numba kernels compiled or loaded for one example serve the
next instead of being loaded again by a fresh interpreter per script. Each runs as it would
from a shell: the Agg backend, NumPy's default floating-point handling and default warning
filters (not the strict ones of conftest.py), its own directory on ``sys.path``, and
matplotlib's settings restored afterwards.
"""

from __future__ import annotations

import re
import runpy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("0*.py"))

# The accuracy lines each example must print, ``RMSE <name> <value>``: pfda's line and the
# reference filters it is compared with; ``None`` for an example that prints no comparable
# error (its own diagnostics, solver comparisons, tables). A missing line fails the test, and
# so does an example not listed here: say what it promises.
ACCURACY: dict[str, tuple[str, tuple[str, ...]] | None] = {
    "01_ornstein_uhlenbeck": ("pfda", ("kalman",)),
    "02_double_well": ("pfda", ("pf",)),
    "03_pendulum": ("pfda split-ppm", ("pf",)),
    "04_van_der_pol": None,
    "05_lorenz63": ("pfda", ()),
    "06_quantum_filter": None,
    "07_hhl_study": None,
    "08_window": ("pfda", ()),
    "09_estimation": ("pfda", ("of E|x| filter",)),
}
# examples that print the convergence slope of the Scharfetter--Gummel flux, ``slope sg <s>``
SLOPES = {"01_ornstein_uhlenbeck"}


def _param(path: Path):
    marks = [pytest.mark.quantum] if re.search("quantum|hhl", path.name) else []
    return pytest.param(path, id=path.stem, marks=marks)


def _number(stdout: str, line: str, script: str) -> float:
    """The number at the end of the line ``<line> <number>``; fails if there is none."""
    match = re.search(rf"^{re.escape(line)} ([0-9.eE+-]+)$", stdout, re.MULTILINE)
    assert match, f"{script} printed no line {line!r} <number>; its output:\n{stdout[-3000:]}"
    return float(match.group(1))


def run_example(path: Path, out: Path, monkeypatch) -> None:
    """``python <path> --quick --out <out>`` in this process."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    matplotlib.use("Agg")
    monkeypatch.setattr(sys, "argv", [str(path), "--quick", "--out", str(out)])
    monkeypatch.syspath_prepend(str(path.parent))
    monkeypatch.chdir(out)
    import matplotlib.pyplot as plt

    code = 0
    try:
        with (
            matplotlib.rc_context(),
            np.errstate(all="warn", under="ignore"),
            warnings.catch_warnings(),
        ):
            warnings.resetwarnings()
            warnings.simplefilter("default")
            runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exc:  # raise SystemExit(main())
        code = exc.code
    finally:
        plt.close("all")
    assert code in (0, None), f"{path.name} exited with {code!r}"


def test_every_example_declares_its_accuracy_lines():
    assert EXAMPLES, "no examples found"
    missing = [p.stem for p in EXAMPLES if p.stem not in ACCURACY]
    assert not missing, f"add these examples to ACCURACY (their printed errors): {missing}"


@pytest.mark.parametrize("script", [_param(p) for p in EXAMPLES])
def test_example_runs_quick(script, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    run_example(script, out, monkeypatch)
    stdout = capsys.readouterr().out
    pngs = list(out.rglob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs), sorted(p.name for p in pngs)
    expected = ACCURACY.get(script.stem)
    if expected is not None:
        ours, refs = expected
        pfda_rmse = _number(stdout, f"RMSE {ours}", script.name)
        # pfda approximates the same posterior as the reference: it may not be worse than the
        # particle filter's Monte Carlo answer by more than 25% (plus 0.05 for the
        # discretisation), nor than the exact Kalman filter's
        for ref in refs:
            other = _number(stdout, f"RMSE {ref}", script.name)
            assert pfda_rmse <= 1.25 * other + 0.05, stdout
    if script.stem in SLOPES:  # Scharfetter-Gummel is second order
        assert -2.4 < _number(stdout, "slope sg", script.name) < -1.6, stdout
