"""The Numba generator assembly equals the NumPy reference for every drift form and boundary.

``pfda.generator(..., method="numba")`` against the plain NumPy/SciPy COO reference
(``method="numpy"``), entry for entry: 1-4-D grids with reflecting, absorbing and periodic
axes (one and two cells on a periodic axis included), Numba point and vectorised drifts,
time-dependent drifts of both kinds, state-dependent diffusion, both fluxes, and grids large
enough for the parallel kernels. The diagonal is a sum of non-positive rates, so any summation
order agrees to a few ulps: rtol = 1e-13. The kernels under it are checked against their twins
too: the drift at the faces (a point drift through :func:`pfda.assembly.face_velocity_kernel`
and :func:`~pfda.assembly.face_velocity_serial`, a vectorised one in NumPy), the C-order
multi-index (:func:`~pfda.assembly.advance_index`) and the Scharfetter--Gummel rates.
"""

from __future__ import annotations

import decimal
import itertools

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import pfda
from pfda import assembly, fluxes


@numba.njit
def jitted_drift(x):
    out = np.empty(x.shape[0])
    for k in range(x.shape[0]):
        out[k] = x[k] - x[k] ** 3 + 0.3 * np.sin(x[(k + 1) % x.shape[0]])
    return out


@numba.njit
def jitted_forced(x, t):
    out = np.empty(x.shape[0])
    for k in range(x.shape[0]):
        out[k] = np.cos(t) * x[k] - x[k] ** 3 + 0.1 * k
    return out


def plain_drift(x):
    return x - x**3 + 0.3 * np.sin(np.roll(x, -1, axis=0))


def plain_forced(x, t):
    return np.cos(t) * x - x**3 + 0.1 * np.arange(x.shape[0])[:, None]


def state_diffusion(x):
    return 0.1 + 0.05 * x**2


DRIFTS = [(jitted_drift, False), (jitted_forced, True), (plain_drift, False), (plain_forced, True)]
DIFFUSIONS = [(0.0, "auto"), (0.3, "auto"), (0.3, "upwind"), (state_diffusion, "auto")]
BOUNDARIES = ("reflecting", "absorbing", "periodic")


def _assert_same(grid, sde, t, flux):
    A = pfda.generator(grid, sde, t, flux=flux, method="numba")
    B = pfda.generator(grid, sde, t, flux=flux, method="numpy")
    assert A.shape == B.shape == (grid.size, grid.size)
    # canonical CSR: sorted columns, no duplicates, as the flag claims
    assert A.has_canonical_format
    for i in range(grid.size):
        cols = A.indices[A.indptr[i] : A.indptr[i + 1]]
        assert np.all(np.diff(cols) > 0)
    np.testing.assert_allclose(A.toarray(), B.toarray(), rtol=1e-13, atol=0.0)


def _small_grids():
    for d, cells in ((1, (1, 2, 3, 5)), (2, (1, 2, 3)), (3, (1, 2, 4))):
        for cc in itertools.product(cells, repeat=d):
            for bnd in itertools.product(BOUNDARIES, repeat=d):
                if d == 3 and len(set(bnd)) < 3 and bnd[0] != bnd[1]:
                    continue
                yield pfda.Grid(lower=[-1.5] * d, upper=[1.7] * d, cells=list(cc), boundary=bnd)


SMALL = list(_small_grids())


@pytest.mark.parametrize(("drift", "time_dependent"), DRIFTS)
@pytest.mark.parametrize(("diffusion", "flux"), DIFFUSIONS)
def test_numba_matches_numpy_on_small_grids(drift, time_dependent, diffusion, flux):
    sde = pfda.SDE(drift=drift, diffusion=diffusion, time_dependent=time_dependent)
    for grid in SMALL:
        _assert_same(grid, sde, 0.7, flux)


@pytest.mark.parametrize(
    "boundary",
    [
        ("periodic", "absorbing", "reflecting"),
        ("absorbing", "periodic", "periodic"),
        ("reflecting", "reflecting", "reflecting"),
    ],
)
@pytest.mark.slow  # compiling the threaded kernels takes ~25 s a signature on a cold cache
@pytest.mark.parametrize(("drift", "time_dependent"), [DRIFTS[0], DRIFTS[1], DRIFTS[2]])
def test_numba_matches_numpy_with_parallel_kernels(boundary, drift, time_dependent):
    cells = (34, 33, 32)
    assert np.prod(cells) >= assembly._PARALLEL_MIN_CELLS
    grid = pfda.Grid(
        lower=[-1.5, -2.0, -1.0], upper=[1.7, 2.0, 1.2], cells=cells, boundary=boundary
    )
    for diffusion, flux in ((0.0, "auto"), (0.3, "auto"), (state_diffusion, "upwind")):
        sde = pfda.SDE(drift=drift, diffusion=diffusion, time_dependent=time_dependent)
        A = pfda.generator(grid, sde, 1.3, flux=flux)
        B = pfda.generator(grid, sde, 1.3, flux=flux, method="numpy")
        assert A.has_canonical_format
        diff = sp.csr_matrix(A - B)
        scale = np.abs(B).max()
        assert np.abs(diff.data).max(initial=0.0) <= 1e-13 * scale
        # the same entries where both are non-zero; the kernel leaves out zero inflows only
        assert A.count_nonzero() == B.count_nonzero()


@pytest.mark.slow  # as above: the threaded kernels' compile
def test_serial_and_parallel_kernels_agree(monkeypatch):
    grid = pfda.Grid(
        lower=[-2.0, -2.0], upper=[2.0, 2.0], cells=[30, 31], boundary=("periodic", "absorbing")
    )
    sde = pfda.SDE(drift=jitted_drift, diffusion=0.2)
    serial = pfda.generator(grid, sde)
    monkeypatch.setattr(assembly, "_PARALLEL_MIN_CELLS", 1)
    parallel = pfda.generator(grid, sde)
    np.testing.assert_array_equal(serial.indptr, parallel.indptr)
    np.testing.assert_array_equal(serial.indices, parallel.indices)
    np.testing.assert_array_equal(serial.data, parallel.data)


def test_repeated_calls_do_not_share_output():
    grid = pfda.Grid(lower=[-2.0], upper=[2.0], cells=[50])
    first = pfda.generator(grid, pfda.SDE(drift=jitted_drift, diffusion=0.2))
    kept = first.toarray()
    pfda.generator(grid, pfda.SDE(drift=plain_drift, diffusion=1.0))
    np.testing.assert_array_equal(first.toarray(), kept)


@numba.njit
def nan_left(x):  # NaN on the left half of the box
    out = np.empty(x.shape[0])
    for k in range(x.shape[0]):
        out[k] = np.nan if x[k] < 0.0 else x[k]
    return out


def test_nan_drift_is_reported_by_both_paths():
    bad = nan_left

    def bad_plain(x):
        return np.where(x < 0.0, np.nan, x)

    grid = pfda.Grid(lower=[-1.0], upper=[1.0], cells=[10])
    with pytest.raises(ValueError, match="NaN"):
        pfda.generator(grid, pfda.SDE(drift=bad, diffusion=0.1))
    with pytest.raises(ValueError, match="NaN"):
        pfda.generator(grid, pfda.SDE(drift=bad_plain, diffusion=0.1))


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_numba_matches_numpy_in_four_dimensions(boundary):
    # the kernels are compiled per dimension (the grid shape is passed as tuples)
    grid = pfda.Grid(lower=[-1.5] * 4, upper=[1.7] * 4, cells=[3, 2, 4, 3], boundary=boundary)
    for drift, _ in DRIFTS[:2]:
        _assert_same(grid, pfda.SDE(drift=drift, diffusion=[0.0, 0.3, 0.0, 0.1]), 0.4, "auto")


def _bernoulli_exact(z: float) -> float:
    """``z / (e^z - 1)`` in 60-digit decimal arithmetic."""
    if z == 0.0:
        return 1.0
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        x = decimal.Decimal(z)
        return float(x / (x.exp() - 1))


def test_bernoulli_to_the_last_digits():
    z = np.concatenate([-np.logspace(-12, 2.8, 250), [0.0], np.logspace(-12, 2.8, 250)])
    exact = np.array([_bernoulli_exact(v) for v in z])
    fast = np.array([fluxes.bernoulli(v) for v in z])
    plain = fluxes.bernoulli_numpy(z)
    eps = np.finfo(float).eps
    assert np.max(np.abs(fast - exact) / exact) <= 2 * eps
    assert np.max(np.abs(plain - exact) / exact) <= 2 * eps


def test_scaled_face_rates_match_the_reference():
    # one transcendental per Scharfetter-Gummel face: B(-z) = B(z) + z
    rng = np.random.default_rng(3)
    v = rng.normal(scale=30.0, size=400)
    h, dl, dr = 0.37, 0.02, 0.03
    for sg in (True, False):
        ref_f, ref_b = fluxes.face_rates_numpy(v, h, dl, dr, sg)
        got = np.array([fluxes.face_rates_scaled(x, h, 1 / h, 0.5 / h**2, dl, dr, sg) for x in v])
        np.testing.assert_allclose(got[:, 0], ref_f, rtol=4e-15, atol=0.0)
        np.testing.assert_allclose(got[:, 1], ref_b, rtol=4e-15, atol=0.0)


def test_advance_index_walks_the_cells_in_c_order():
    for cells in ((5,), (3, 4), (2, 1, 3), (2, 3, 1, 2)):
        ix = np.zeros(len(cells), dtype=np.int64)
        for want in np.ndindex(*cells):
            np.testing.assert_array_equal(ix, want)
            assembly.advance_index(cells, ix)


@pytest.mark.parametrize(
    ("drift", "plain", "t"),
    [(jitted_drift, plain_drift, 0.0), (jitted_forced, plain_forced, 0.7)],
    ids=["autonomous", "time-dependent"],
)
def test_face_velocity_kernels_match_the_vectorised_drift(drift, plain, t):
    """The threaded and the serial kernel of a point drift (a first-class function, as every
    kernel takes it) fill the same faces with the values of the vectorised drift: the upper
    face of every cell along every axis, the lower outer face of the first cells of absorbing
    axes (0 elsewhere)."""
    grid = pfda.Grid([-1.5, -1.0, -0.5], [1.7, 2.0, 0.9], [5, 4, 3],
                     ["absorbing", "periodic", "absorbing"])  # fmt: skip
    d = grid.ndim
    sde = pfda.SDE(drift=drift, diffusion=0.1)
    want_up, want_lo = assembly.face_velocities(grid, pfda.SDE(drift=plain, diffusion=0.1), t)
    args = (float(t), grid.lower, grid.widths, grid.cells, grid.strides, grid.absorbing)
    for kernel in (assembly.face_velocity_kernel, assembly.face_velocity_serial):
        vel_up, vel_lo = np.full((d, grid.size), np.nan), np.zeros((d, grid.size))
        assert kernel(sde.point_drift(d), *args, vel_up, vel_lo)
        np.testing.assert_allclose(vel_up, want_up, rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(vel_lo, want_lo, rtol=1e-14, atol=1e-14)
    assert np.any(want_lo[0] != 0) and not np.any(want_lo[1])  # absorbing, periodic


def test_face_velocities_agree_for_point_and_vectorised_drifts():
    grid = pfda.Grid(lower=[-1.5, -1.0], upper=[1.7, 2.0], cells=[7, 5], boundary="absorbing")
    fast = assembly.face_velocities(grid, pfda.SDE(drift=jitted_drift, diffusion=0.1))
    plain = assembly.face_velocities(grid, pfda.SDE(drift=plain_drift, diffusion=0.1))
    for a, b in zip(fast, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-14)
    # the upper face of cell (i, j) along axis 0 sits at x0 = lower + (i + 1) h0
    x = grid.centers.copy()
    x[0] += 0.5 * grid.widths[0]
    np.testing.assert_allclose(fast[0][0], plain_drift(x)[0], rtol=1e-14)
