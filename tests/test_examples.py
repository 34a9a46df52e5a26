"""Every example script runs in its quick mode and writes at least one picture."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("0*.py"))


def _param(path: Path):
    marks = [pytest.mark.quantum] if re.search("quantum|hhl", path.name) else []
    return pytest.param(path, id=path.stem, marks=marks)


def _rmse(stdout: str, name: str) -> float | None:
    match = re.search(rf"^RMSE {name} ([0-9.eE+-]+)$", stdout, re.MULTILINE)
    return float(match.group(1)) if match else None


@pytest.mark.parametrize("script", [_param(p) for p in EXAMPLES])
def test_example_runs_quick(script, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pngs = list(tmp_path.rglob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)
    # where an example prints comparable errors, pfda approximates the same posterior as the
    # particle filter: it may not be worse than the particle filter's Monte Carlo answer by
    # more than 25% (plus 0.05 for the discretisation), nor than the exact Kalman filter's
    pfda = _rmse(proc.stdout, "pfda")
    for ref in ("pf", "kalman"):
        other = _rmse(proc.stdout, ref)
        if pfda is not None and other is not None:
            assert pfda <= 1.25 * other + 0.05, proc.stdout
    slope = re.search(r"^slope sg ([0-9.eE+-]+)$", proc.stdout, re.MULTILINE)
    if slope:  # Scharfetter-Gummel is second order
        assert -2.4 < float(slope.group(1)) < -1.6, proc.stdout
