"""The benchmark scripts run in quick mode, so that they cannot rot (timings are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
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


def test_lorenz63_sakov2012_quick(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from bench_lorenz63 import main

    argv = ["--quick", "--cycles", "12", "--burn-in", "4", "--particles", "200", "800"]
    out = main([*argv, "--reference-particles", "2000", "--deviation-cycles", "8"])
    rows = out["rows"]
    assert {r["method"] for r in rows} == {"pfda window split-ppm", "bootstrap PF (RK4 + noise)"}
    assert all(np.isfinite(r["rmse"]) and r["ms"] > 0 for r in rows)
    pf800 = [r["rmse"] for r in rows if r["size"] == "N = 800"]
    assert len(pf800) == 2 and max(pf800) < 1.5  # DAPPER's PartFilt N = 800 scores about 0.2
    assert all(np.isfinite(r[1]) for r in out["deviation_rows"])
    assert out["truth_inside"]
