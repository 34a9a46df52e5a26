"""The benchmark scripts run in quick mode, so that they cannot rot (timings are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # a fresh process compiles every kernel again: ~110 s on a cold cache
def test_run_all_quick_writes_every_table(tmp_path):
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run_all.py"),
            "--quick",
            "--out",
            str(tmp_path),
        ],
        check=True,
        timeout=300,
        cwd=ROOT,
    )
    text = (tmp_path / "BENCHMARKS.md").read_text()
    for heading in ("## Assembly", "## Propagation", "## Scaling", "## Filter vs bootstrap"):
        assert heading in text
    assert "bootstrap PF" in text and "pfda explicit" in text and "pfda window" in text
    assert "Lorenz-63" in text and "99.9 % HPD cells" in text
    assert "nan" not in text.lower().replace("nanosec", "")


@pytest.mark.slow  # run_all above runs the same study; this checks the script's own output
def test_filter_vs_particle_filter_quick():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_filter_vs_pf.py"), "--quick"],
        check=True,
        timeout=120,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    assert "bootstrap PF" in out and "pfda explicit" in out
    assert "Lorenz-63" in out and "99.9 % HPD cells" in out
    assert "nan" not in out.lower()
