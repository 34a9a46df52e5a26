"""Structural properties of the finite-volume generator and its time steps, over random models.

The monotone scheme must give, for *every* drift, diffusion, grid and boundary:

* a Markov generator: ``A[i, j] >= 0`` for ``i != j``; column sums ``0`` when mass cannot leave
  (reflecting, periodic), ``<= 0`` when it can (absorbing);
* a sharp explicit CFL limit: ``I + dt A >= 0`` for ``dt = cfl_dt`` and not for ``1.05 cfl_dt``;
* an M-matrix ``I - dt A`` for every ``dt > 0``, so a backward Euler step maps the probability
  simplex into itself;
* the same matrix from the fused Numba kernel and the plain NumPy reference, and from a
  from-scratch dense assembly of DESIGN.md's formulas (tests/references.py).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from references import fv_generator_dense

import pfda

EPS = np.finfo(float).eps
BOUNDARIES = ("reflecting", "absorbing", "periodic")


# --------------------------------------------------------------------------------------------
# random models
# --------------------------------------------------------------------------------------------
def cubic_drift(a: np.ndarray, B: np.ndarray, c: np.ndarray):
    """Vectorised drift ``f_k(x) = a_k + sum_j B_kj x_j + c_k x_k^3`` on point sets (d, m)."""

    def f(x):
        return a[:, None] + B @ x + c[:, None] * x**3

    return f


def cubic_drift_point(a, B, c):
    """The same drift on one point (d,), for the dense reference assembly."""
    return lambda x: a + B @ x + c * x**3


@numba.njit
def jitted_double_well(x):
    """A fixed nonlinear coupled drift written as a Numba point function (d,) -> (d,)."""
    d = x.shape[0]
    out = np.empty(d)
    for k in range(d):
        out[k] = x[k] - x[k] ** 3 + 0.7 * x[(k + 1) % d] - 0.2 * k
    return out


@numba.njit
def jitted_forced(x, t):
    """A time-dependent Numba point drift ``f(x, t)``."""
    d = x.shape[0]
    out = np.empty(d)
    for k in range(d):
        out[k] = -x[k] + np.sin(3.0 * t + x[(k + 1) % d]) * (k + 1.0)
    return out


def vectorised_double_well(x):
    """``jitted_double_well`` written as a vectorised NumPy drift."""
    d = x.shape[0]
    out = x - x**3 + 0.7 * np.roll(x, -1, axis=0)
    return out - 0.2 * np.arange(d)[:, None]


coefficient = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def grids(draw, min_dim: int = 1, max_dim: int = 2, max_cells: int | None = None):
    ndim = draw(st.integers(min_dim, max_dim))
    limit = max_cells or {1: 40, 2: 9, 3: 5}[ndim]
    cells = draw(st.lists(st.integers(1, limit), min_size=ndim, max_size=ndim))
    lower = draw(st.lists(st.floats(-3.0, 0.0), min_size=ndim, max_size=ndim))
    width = draw(st.lists(st.floats(0.5, 5.0), min_size=ndim, max_size=ndim))
    boundary = draw(st.lists(st.sampled_from(BOUNDARIES), min_size=ndim, max_size=ndim))
    upper = [lo + w for lo, w in zip(lower, width, strict=True)]
    return pfda.Grid(lower=lower, upper=upper, cells=cells, boundary=boundary)


@st.composite
def models(draw, grid: pfda.Grid):
    """A random cubic drift, a diffusion of one of four kinds, and a compatible flux."""
    d = grid.ndim
    a = draw(hnp.arrays(float, (d,), elements=coefficient))
    B = draw(hnp.arrays(float, (d, d), elements=coefficient))
    c = draw(hnp.arrays(float, (d,), elements=coefficient))
    kind = draw(st.sampled_from(["zero", "scalar", "per-axis", "state"]))
    if kind == "zero":
        diffusion = 0.0
    elif kind == "scalar":
        diffusion = draw(st.floats(1e-3, 5.0))
    elif kind == "per-axis":
        # zeros allowed on some axes: those axes fall back to upwind
        diffusion = draw(hnp.arrays(float, (d,), elements=st.sampled_from([0.0, 0.05, 0.5, 3.0])))
    else:
        base = draw(st.floats(0.0, 2.0))
        slope = draw(st.floats(0.0, 1.0))

        def diffusion(x):
            return base + slope * x**2

    fluxes = ["auto", "upwind"] if kind == "state" else ["auto", "upwind", "sg"]
    flux = draw(st.sampled_from(fluxes))
    sde = pfda.SDE(drift=cubic_drift(a, B, c), diffusion=diffusion)
    return sde, flux, (a, B, c, diffusion)


@st.composite
def grid_and_model(draw, max_dim: int = 2):
    grid = draw(grids(max_dim=max_dim))
    sde, flux, params = draw(models(grid))
    return grid, sde, flux, params


def _column_scale(A: sp.csr_matrix) -> np.ndarray:
    """Sum of |entries| of each column: the size that rounding errors in a column sum scale with."""
    return np.asarray(abs(A).sum(axis=0)).ravel()


# --------------------------------------------------------------------------------------------
# the generator is a Markov generator
# --------------------------------------------------------------------------------------------
@settings(max_examples=100)
@given(grid_and_model())
def test_generator_offdiagonals_nonnegative_and_columns_conserve_mass(case):
    grid, sde, flux, _ = case
    A = sp.csr_matrix(pfda.generator(grid, sde, flux=flux))
    assert A.shape == (grid.size, grid.size)
    assert np.all(np.isfinite(A.data))
    off = A - sp.diags(A.diagonal())
    assert off.nnz == 0 or off.data.min() >= 0.0
    colsum = np.asarray(A.sum(axis=0)).ravel()
    # summing 2d+1 terms of either sign: rounding is a few eps times the column's absolute sum
    tol = 1e-12 * _column_scale(A)
    if "absorbing" in grid.boundary:
        assert np.all(colsum <= tol)
    else:
        np.testing.assert_array_less(np.abs(colsum), tol + 1e-300)


@settings(max_examples=60)
@given(grid_and_model())
def test_cfl_limit_is_sharp(case):
    grid, sde, flux, _ = case
    A = sp.csr_matrix(pfda.generator(grid, sde, flux=flux))
    assume(np.max(-A.diagonal()) > 0)
    dt = pfda.cfl_dt(grid, sde, flux=flux)
    eye = sp.identity(grid.size, format="csr")
    # cfl_dt is documented as the largest dt with I + dt A >= 0: no tolerance needed
    assert (eye + dt * A).toarray().min() >= 0.0
    # the diagonal entry that sets the limit becomes 1 - 1.05 < 0
    assert (eye + 1.05 * dt * A).toarray().min() < 0.0


# --------------------------------------------------------------------------------------------
# backward Euler stays on the simplex for every dt
# --------------------------------------------------------------------------------------------
def _simplex_tolerance(A: sp.csr_matrix, dt: float) -> float:
    """Rounding bound for one sparse LU solve with ``I - dt A``.

    Exact arithmetic gives a non-negative answer (the inverse of an M-matrix is non-negative);
    LU in floating point has backward error ~ n eps |L||U|, which perturbs the answer by about
    ``n eps kappa`` with ``kappa <= 1 + 2 dt max|A_ii|`` for a column diagonally dominant matrix.
    """
    n = A.shape[0]
    kappa = 1.0 + 2.0 * dt * float(np.max(-A.diagonal(), initial=0.0))
    return 10.0 * n * EPS * kappa


@settings(max_examples=40)
@given(
    grid_and_model(),
    st.floats(1e-4, 1e3),
    st.integers(0, 2**32 - 1),
)
def test_implicit_step_stays_on_the_simplex(case, dt, seed):
    grid, sde, flux, _ = case
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(grid.size))
    A = sp.csc_matrix(pfda.generator(grid, sde, flux=flux))
    tol = _simplex_tolerance(A, dt)

    # the M-matrix property of the generator itself, with SciPy's own sparse LU
    reference = spla.spsolve(sp.identity(grid.size, format="csc") - dt * A, p)
    assert reference.min() >= -tol
    if "absorbing" in grid.boundary:
        assert reference.sum() <= 1.0 + tol
    else:
        assert abs(reference.sum() - 1.0) <= tol

    # pfda's implicit step is that same solve (pfda clips round-off negatives and restores the
    # mass, so compare with the unclipped reference: clipping may move it by ~tol, no more)
    q = pfda.propagate(
        grid, sde, p, t0=0.0, t1=dt, scheme="implicit", dt=dt, solver="splu", flux=flux
    )
    assert q.shape == (grid.size,)
    assert q.min() >= 0.0
    assert np.abs(q - reference).sum() <= 2 * grid.size * tol
    if "absorbing" not in grid.boundary:
        assert abs(q.sum() - 1.0) <= tol


# --------------------------------------------------------------------------------------------
# the Numba kernel, the NumPy reference and a from-scratch assembly agree
# --------------------------------------------------------------------------------------------
def _assert_same_matrix(A, B):
    np.testing.assert_allclose(
        sp.csr_matrix(A).toarray(), sp.csr_matrix(B).toarray(), rtol=1e-12, atol=0.0
    )


@settings(max_examples=50)
@given(grid_and_model(max_dim=3))
def test_numba_and_numpy_generators_agree_for_vectorised_drift(case):
    grid, sde, flux, _ = case
    _assert_same_matrix(
        pfda.generator(grid, sde, flux=flux, method="numba"),
        pfda.generator(grid, sde, flux=flux, method="numpy"),
    )


@settings(max_examples=30)
@given(
    grids(max_dim=3),
    st.sampled_from([0.0, 0.3, (0.0, 1.0, 0.2)]),
    st.sampled_from(["auto", "upwind", "sg"]),
)
def test_numba_and_numpy_generators_agree_for_jitted_drift(grid, diffusion, flux):
    if isinstance(diffusion, tuple):
        diffusion = diffusion[: grid.ndim]
    sde = pfda.SDE(drift=jitted_double_well, diffusion=diffusion)
    A = pfda.generator(grid, sde, flux=flux, method="numba")
    _assert_same_matrix(A, pfda.generator(grid, sde, flux=flux, method="numpy"))
    # the fused point drift and the same drift written vectorised give the same operator
    plain = pfda.SDE(drift=vectorised_double_well, diffusion=diffusion)
    np.testing.assert_allclose(
        sp.csr_matrix(A).toarray(),
        pfda.generator(grid, plain, flux=flux, method="numpy").toarray(),
        rtol=1e-12,
        atol=1e-12 * abs(A).max(),  # x**3 vs x*x*x: the drift itself may differ by an ulp
    )


@settings(max_examples=15)
@given(grids(max_dim=3), st.floats(0.0, 5.0))
def test_numba_and_numpy_generators_agree_for_time_dependent_drift(grid, t):
    sde = pfda.SDE(drift=jitted_forced, diffusion=0.4, time_dependent=True)
    _assert_same_matrix(
        pfda.generator(grid, sde, t, method="numba"),
        pfda.generator(grid, sde, t, method="numpy"),
    )


@settings(max_examples=40)
@given(grids(max_dim=2, max_cells=7), st.data())
def test_generator_matches_dense_reference_assembly(grid, data):
    assume("absorbing" not in grid.boundary)  # DESIGN.md fixes no outflow rate at the box edge
    d = grid.ndim
    a = data.draw(hnp.arrays(float, (d,), elements=coefficient))
    B = data.draw(hnp.arrays(float, (d, d), elements=coefficient))
    c = data.draw(hnp.arrays(float, (d,), elements=coefficient))
    diffusion = data.draw(hnp.arrays(float, (d,), elements=st.sampled_from([0.0, 0.1, 1.5])))
    flux = data.draw(st.sampled_from(["auto", "upwind", "sg"]))
    sde = pfda.SDE(drift=cubic_drift(a, B, c), diffusion=diffusion)
    expected = fv_generator_dense(
        grid.lower,
        grid.upper,
        grid.cells,
        grid.boundary,
        cubic_drift_point(a, B, c),
        diffusion,
        flux=flux,
    )
    actual = pfda.generator(grid, sde, flux=flux).toarray()
    # same formulas, different summation order: agreement to rounding of the largest rate
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())


# --------------------------------------------------------------------------------------------
# distances on probability vectors
# --------------------------------------------------------------------------------------------
@settings(max_examples=50)
@given(st.integers(2, 50), st.integers(0, 2**32 - 1))
def test_distances_match_their_definitions(n, seed):
    from references import hellinger, total_variation

    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(n)), rng.dirichlet(0.3 * np.ones(n))
    assert pfda.hellinger(p, q) == pytest.approx(hellinger(p, q), rel=1e-12, abs=1e-15)
    assert pfda.total_variation(p, q) == pytest.approx(total_variation(p, q), rel=1e-12)
    assert pfda.hellinger(p, p) == pytest.approx(0.0, abs=1e-7)  # sqrt of rounding ~ 1e-8
    assert pfda.total_variation(p, p) == 0.0
