"""The ``pfda`` command: subcommands, outputs, the OU case against the exact Kalman filter."""

from __future__ import annotations

import json

import numpy as np
import pytest

import pfda
from pfda import cases
from pfda.cli import main


def test_list_names_every_case(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in cases.CASES:
        assert name in out
    assert "(default)" in out


def test_demo_writes_pictures_and_summary(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--steps", "40"]) == 0
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["case"] == cases.DEFAULT_CASE and summary["steps"] == 40
    assert np.isfinite(summary["log_evidence"]) and summary["rmse"] >= 0
    assert summary["final_mass"] == pytest.approx(1.0, abs=1e-12)  # reflecting box
    assert "RMSE vs truth" in (tmp_path / "summary.txt").read_text()
    assert "log-evidence" in capsys.readouterr().out


def test_run_ou_matches_exact_kalman(tmp_path):
    """The OU case with 100 cells and dt = 0.01 against the exact Kalman filter.

    Backward Euler makes the predicted variance wrong by a relative O(theta * dt), which moves
    each update's gain by as much, so the posterior mean moves by about
    theta * dt * |y - m| <= theta * dt * max|y|; Scharfetter-Gummel's O(h^2) (h = 0.08) is
    smaller. The bound below is twice that, and the log-evidence must agree to 2e-3 per
    observation.
    """
    argv = ["run", "ou", "--cells", "100", "--dt", "0.01", "--steps", "100", "--seed", "3",
            "--tol", "none"]  # fmt: skip
    assert main(argv + ["--out", str(tmp_path), "--no-plots"]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    setup = cases.get_case("ou").build(cells=100)
    sim = setup.simulate(seed=3, steps=100)
    tol = 2 * cases.OU_THETA * 0.01 * np.abs(sim.ys).max()
    assert s["max_abs_mean_minus_kalman"] < tol
    assert abs(s["log_evidence"] - s["kalman_log_evidence"]) < 2e-3 * 100
    assert s["rmse"] == pytest.approx(s["kalman_rmse"], rel=0.05)
    assert not list(tmp_path.glob("*.png"))  # --no-plots

    # with fixed steps a ten times coarser step must be visibly worse: the error is O(dt);
    # the time-error control (the default --tol) takes that step back to the accuracy of 0.01
    coarse = ["run", "ou", "--cells", "100", "--dt", "0.1", "--steps", "100", "--seed", "3",
              "--no-plots"]  # fmt: skip
    assert main(coarse + ["--tol", "none", "--out", str(tmp_path / "fixed")]) == 0
    c = json.loads((tmp_path / "fixed" / "summary.json").read_text())
    assert c["max_abs_mean_minus_kalman"] > 3 * s["max_abs_mean_minus_kalman"]
    assert c["time_error_max"] is None  # not estimated
    assert main(coarse + ["--out", str(tmp_path / "controlled")]) == 0
    a = json.loads((tmp_path / "controlled" / "summary.json").read_text())
    assert a["max_abs_mean_minus_kalman"] < tol and a["time_error_max"] <= a["tol"]


def test_run_pendulum_on_a_window(tmp_path, capsys):
    """``--mesh window``: a 12x12 window follows the pendulum's posterior inside the box; the
    pictures are drawn on each step's window and the summary says which mesh ran."""
    argv = ["run", "pendulum", "--mesh", "window", "--cells", "12", "--steps", "10"]
    assert main(argv + ["--out", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["mesh"] == "window" and s["cells"] == [12, 12] and s["steps"] == 10
    assert s["scheme"] == "split-ppm"  # the case's scheme
    assert isinstance(s["remaps"], int) and s["remaps"] >= 0
    assert 0.99 < s["final_mass"] <= 1.0 and s["mass_lost"] >= 0
    assert np.isfinite(s["log_evidence"]) and np.isfinite(s["rmse"])
    widths = np.array(s["window_width_final"])
    assert np.all((widths > 0) & (widths <= np.array([2 * np.pi, 12.0]) + 1e-9))
    names = {p.name for p in tmp_path.glob("*.png")}
    assert {"window.png", "mean_band.png", "density_x1x2.png"} <= names
    assert all(p.stat().st_size > 1000 for p in tmp_path.glob("*.png"))
    out = capsys.readouterr().out
    assert "window" in out and "window remaps" in out


def test_demo_on_a_window(tmp_path):
    assert main(["demo", "--mesh", "window", "--cells", "40", "--steps", "15",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["case"] == cases.DEFAULT_CASE and s["mesh"] == "window" and s["steps"] == 15
    assert s["final_mass"] == pytest.approx(1.0, abs=1e-3)  # open edges lose a little
    names = {p.name for p in tmp_path.glob("*.png")}
    assert {"window.png", "density.png", "mean_band.png", "snapshots.png"} <= names


def test_fixed_is_the_default_mesh(tmp_path):
    assert main(["run", "ou", "--cells", "40", "--steps", "5", "--out", str(tmp_path),
                 "--no-plots"]) == 0  # fmt: skip
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["mesh"] == "fixed" and "remaps" not in s


def test_ou_window_follows_the_kalman_filter():
    """A 40-cell window on the OU case (the prior evaluated on the window's cells) against the
    exact Kalman filter. The window (~2.9 wide: 40 cells of ~0.07 across a posterior sd of
    ~0.2) resolves the posterior; what is left is backward Euler's O(theta dt) error (the means
    differ by ~0.01, the sds by ~3 %)."""
    setup = cases.get_case("ou").build(cells=40, mesh="window")
    sim = setup.simulate(seed=2, steps=30)
    res = setup.run(sim)
    km, kv, kev = cases.kalman_ou(setup, sim)
    assert res.mesh == "window" and res.grid is setup.grid
    assert np.max(np.abs(res.mean[:, 0] - km)) < 0.02
    assert np.max(np.abs(res.std[:, 0] / np.sqrt(kv) - 1)) < 0.05
    assert abs(res.log_evidence - kev) < 0.1
    assert np.all(res.widths[:, 0] * 40 < 0.5 * 8.0)  # narrower than the box


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["demo", "--help"], ["list", "--help"], ["run", "--help"], ["compare", "--help"]],
)
def test_help_exits_zero(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: pfda" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no-such-case"], "invalid choice"),
        (["run", "ou", "--cells", "0"], "must be >= 1"),
        (["run", "ou", "--dt", "-0.1"], "positive number"),
        (["run", "ou", "--scheme", "rk4"], "invalid choice"),
        (["run", "ou", "--solver", "magic"], "invalid choice"),
        (["run", "ou", "--mesh", "moving"], "invalid choice"),
        (["demo", "--mesh", "adaptive"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_options_error_out(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_compare_without_hhl_names_the_extra(monkeypatch, capsys):
    import pfda.solvers

    def missing(name, **options):
        raise ImportError("no module named 'qiskit'")

    monkeypatch.setattr(pfda.solvers, "get_solver", missing)
    assert main(["compare", "ou"]) != 0
    assert "pip install 'pfda[quantum]'" in capsys.readouterr().err


def _hhl_available() -> bool:
    try:
        import pfda

        pfda.get_solver("hhl")
    except (ImportError, AttributeError):
        return False
    return True


@pytest.mark.quantum
@pytest.mark.skipif(not _hhl_available(), reason="HHL solver (quantum extra) not available")
def test_compare_splu_and_hhl_agree(tmp_path):
    assert main(["compare", "ou", "--cells", "16", "--steps", "3", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "compare.json").read_text())
    assert report["cells"] == 16 and report["steps"] == 3
    # a 16-cell OU posterior has sd ~ 0.3: the two filters must describe the same density
    assert report["max_hellinger"] < 0.1
    assert report["max_abs_mean_difference"] < 0.1
    assert abs(report["log_evidence_difference"]) < 0.5


def test_version_settings_and_the_solver_where_one_is_used(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and pfda.__version__ in capsys.readouterr().out
    out = tmp_path / "split"
    assert main(["run", "pendulum", "--cells", "12", "--steps", "3", "--no-plots",
                 "--out", str(out)]) == 0  # fmt: skip
    s = json.loads((out / "summary.json").read_text())
    assert s["version"] == pfda.__version__ and s["scheme"] == "split-ppm"
    assert s["solver"] is None and s["settings"]["cells"] == 12 and s["settings"]["steps"] == 3
    assert "solver" not in capsys.readouterr().out.split("observations")[0]
    with pytest.raises(SystemExit, match="solves no linear system"):
        main(["run", "pendulum", "--solver", "dense", "--steps", "2", "--no-plots",
              "--out", str(tmp_path / "refused")])  # fmt: skip
    out = tmp_path / "implicit"
    assert main(["demo", "ou", "--solver", "dense", "--cells", "20", "--steps", "3",
                 "--no-plots", "--out", str(out)]) == 0  # fmt: skip
    assert json.loads((out / "summary.json").read_text())["solver"] == "dense"


def test_a_folder_of_another_run_is_refused_and_the_result_is_saved(tmp_path):
    base = ["--steps", "3", "--no-plots", "--out", str(tmp_path)]
    assert main(["run", "ou", "--cells", "20", *base]) == 0
    res = pfda.load(tmp_path / "result.npz")
    assert res.probabilities.shape == (3, 20)
    assert main(["run", "ou", "--cells", "30", *base]) == 0  # the same case: replaced
    (tmp_path / "holiday.png").write_bytes(b"not pfda's")
    with pytest.raises(SystemExit, match="holds the output of another run"):
        main(
            [
                "run",
                "benes",
                "--cells",
                "20",
                "--steps",
                "1000000",
                "--no-plots",
                "--out",
                str(tmp_path),
            ]
        )  # refused before a run of a million steps
    assert main(["run", "benes", "--cells", "20", "--overwrite", *base]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["case"] == "benes"
    assert (tmp_path / "holiday.png").exists()  # only what a pfda run listed is replaced
    (tmp_path / "summary.json").write_text("[]")  # not a summary: another run's, unknown
    with pytest.raises(SystemExit, match=r"another run \(\?\)"):
        main(["run", "ou", *base])
