"""Linear solvers: every registered solver agrees with numpy.linalg.solve."""

import numpy as np
import pytest
import scipy.sparse as sp

import pfda


def fokker_planck_step(n=60, dt=0.05):
    grid = pfda.Grid([-3.0], [3.0], [n])
    A = pfda.generator(grid, pfda.SDE(drift=lambda x: 2 * np.sin(x), diffusion=0.3))
    return (sp.identity(n) - dt * A).tocsc()


def random_system(rng, n=40):
    M = sp.random(n, n, density=0.1, random_state=rng) + sp.identity(n) * 4.0
    return M.tocsc()


@pytest.mark.parametrize("name", ["splu", "dense", "gmres", "bicgstab"])
@pytest.mark.parametrize("system", ["fokker-planck", "random"])
def test_solver_matches_numpy(name, system, rng):
    M = fokker_planck_step() if system == "fokker-planck" else random_system(rng)
    prepared = pfda.get_solver(name).prepare(M)
    dense = M.toarray()
    cond = np.linalg.cond(dense)
    for _ in range(3):
        b = rng.random(M.shape[0])
        x = prepared.solve(b)
        ref = np.linalg.solve(dense, b)
        # direct solvers: backward stable, error <~ cond * eps; Krylov: rtol 1e-12 on the residual
        tol = cond * (1e-12 if name in ("gmres", "bicgstab") else 1e-14)
        assert np.linalg.norm(x - ref) <= tol * np.linalg.norm(ref)


def test_solver_names_and_passthrough():
    assert {"splu", "dense", "gmres", "bicgstab", "hhl"} <= set(pfda.available_solvers())
    solver = pfda.get_solver("dense")
    assert pfda.get_solver(solver) is solver
    with pytest.raises(ValueError, match="options go with a solver name"):
        pfda.get_solver(solver, rtol=1e-3)
    with pytest.raises(TypeError):
        pfda.get_solver(42)


def test_register_solver():
    class Doubling:
        name = "doubling"

        def prepare(self, M):
            dense = pfda.get_solver("dense").prepare(M)
            return type("P", (), {"solve": lambda self, b: dense.solve(b)})()

    pfda.register_solver("doubling", Doubling)
    M = fokker_planck_step(10)
    b = np.ones(10)
    assert np.allclose(
        pfda.get_solver("doubling").prepare(M).solve(b), np.linalg.solve(M.toarray(), b)
    )


@pytest.mark.parametrize("name", ["splu", "dense"])
def test_singular_matrix(name):
    M = sp.csc_matrix(np.array([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(ValueError, match="singular"):
        pfda.get_solver(name).prepare(M)


@pytest.mark.parametrize("name", ["splu", "dense", "gmres"])
def test_solver_input_checks(name):
    with pytest.raises(ValueError, match="square"):
        pfda.get_solver(name).prepare(sp.csc_matrix(np.ones((2, 3))))
    with pytest.raises(ValueError, match="NaN"):
        pfda.get_solver(name).prepare(sp.csc_matrix(np.array([[1.0, np.nan], [0.0, 1.0]])))
    prepared = pfda.get_solver(name).prepare(sp.identity(3, format="csc"))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        prepared.solve(np.ones(4))


def test_krylov_non_convergence_is_an_error(rng):
    M = random_system(rng, 60)
    prepared = pfda.get_solver("gmres", maxiter=1, rtol=1e-15, drop_tol=1.0, fill_factor=1).prepare(
        M
    )
    with pytest.raises(RuntimeError, match="did not converge"):
        prepared.solve(rng.random(60))
