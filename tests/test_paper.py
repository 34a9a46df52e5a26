"""The paper's studies, rerun small and seeded, against expectations from the mathematics."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "paper"))

import study  # noqa: E402

quantum = pytest.mark.quantum


def test_accuracy_orders_against_exact_filters():
    rows, v = study.accuracy_study(ou_cells=(25, 50, 100), benes_cells=(75, 150), steps=10)
    assert -2.3 < v["acc_slope_sg"] < -1.7  # Scharfetter-Gummel: second order
    assert -1.2 < v["acc_slope_upwind"] < -0.7  # upwind: first order
    assert v["acc_ou_sg_fine"] < v["acc_ou_upwind_fine"]
    assert v["acc_benes_slope"] < -1.5
    assert all(r["error"] > 0 for r in rows)


@quantum
def test_fidelity_rises_with_clock_qubits():
    pytest.importorskip("qiskit_aer")
    rows, v = study.clock_study(clocks=(3, 5, 7), cases=((1, 8),), steps=2)
    infid = [r["infidelity"] for r in rows]
    assert infid[0] > infid[1] > infid[2]
    assert v["clock_hell_max"] < v["clock_hell_min"]
    # posterior error of a few steps is of the order of the solve error (Hellinger ~ sqrt(1-F))
    assert v["clock_hell_max"] < 3 * np.sqrt(infid[-1]) * v["clock_steps"] + 1e-3


@quantum
def test_shot_error_follows_inverse_square_root():
    pytest.importorskip("qiskit_aer")
    _, v = study.shots_study(
        shots=(1000, 10_000, 100_000), cells=8, clock=6, seeds=3, methods=("dilate",)
    )
    assert -0.7 < v["shots_slope_dil"] < -0.3
    # the shots for the target follow from the fitted constant
    assert v["shots_target_dil"] == pytest.approx((v["shots_c_dil"] / 0.01) ** 2, rel=1e-6, abs=1)


@quantum
def test_kappa_within_analytic_estimate():
    pytest.importorskip("qiskit_aer")
    rows, v = study.kappa_study(cells_list=(8, 16, 32), dts=(1e-2, 1e-1, 1.0), measure_cells=(8,))
    for r in rows:
        # diffusion alone gives the estimate; the drift can only widen the spectrum a little
        assert 0.99 * r["estimate"] <= r["kappa"] <= 1.5 * r["estimate"]
        assert r["success_bound"] == pytest.approx(1 / r["kappa"] ** 2)
    meas = [r for r in rows if r["success_measured"] is not None]
    probs = [r["success_measured"] for r in meas]
    assert probs == sorted(probs, reverse=True)  # larger steps, larger kappa, rarer success
    for r in meas:  # C = lambda_min gives P >= 1/kappa^2 up to the clock's discretisation
        assert r["success_measured"] > 0.5 * r["success_bound"]
    clocks = [r["clock_qubits"] for r in rows if r["N"] == 32]
    assert clocks == sorted(clocks)


@quantum
def test_noise_degrades_and_resources_grow():
    pytest.importorskip("qiskit_aer")
    rows, _ = study.noise_study(levels=(0.0, 1e-2), sizes=(4,), shots=4000)
    assert rows[1]["hellinger"] > rows[0]["hellinger"]
    assert rows[1]["success_probability"] < rows[0]["success_probability"]
    res, _ = study.resources_study(
        transpiled_exact=(4, 8), transpiled_trotter=(), estimated=(16, 256)
    )
    tr = [r for r in res if r["source"] == "transpiled"]
    assert tr[1]["two_qubit_gates"] > tr[0]["two_qubit_gates"]
    assert tr[1]["qubits"] > tr[0]["qubits"]
    est = [r for r in res if r["source"] == "estimate" and r["hamiltonian"] == "exact"]
    assert est[1]["two_qubit_gates"] > est[0]["two_qubit_gates"]


def test_template_placeholders_are_all_produced(tmp_path):
    import make_all

    text = (Path(study.HERE) / "paper.template.md").read_text()
    names = {m.group(2) for m in make_all.PLACEHOLDER.finditer(text) if m.group(1) == "value"}
    assert names, "the template quotes no generated numbers"
    with pytest.raises(KeyError):
        make_all.fill_template("{{value:missing}}", {}, tmp_path)
    (tmp_path / "t.md").write_text("| a |\n")
    filled = make_all.fill_template("x {{value:a:.2f}} {{table:t}}", {"a": 1.234}, tmp_path)
    assert filled == "x 1.23 | a |"
