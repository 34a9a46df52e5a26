"""``expm(tau A) p`` by uniformisation (:mod:`pfda.uniformisation`) against SciPy's dense
``expm`` of the same generator, its compiled kernel against its NumPy twin, and the Markov
property of the operator it applies."""

import numpy as np
import pytest
import scipy.linalg

import pfda
from pfda.uniformisation import MU_MAX, TAIL, expm_apply, poisson_weights


def generator(boundary="reflecting", cells=(40,), drift=lambda x: -2.0 * x, D=0.3):
    d = len(cells)
    grid = pfda.Grid([-3.0] * d, [3.0] * d, list(cells), boundary=boundary)
    return pfda.generator(grid, pfda.SDE(drift=drift, diffusion=D))


@pytest.mark.parametrize("boundary", ["reflecting", "absorbing", "periodic"])
@pytest.mark.parametrize("tau", [1e-3, 0.3, 5.0])  # Lambda tau from ~0.1 to ~1e3 (pieces)
def test_matches_dense_expm(boundary, tau):
    A = generator(boundary)
    p = np.random.default_rng(1).dirichlet(np.ones(A.shape[0]))
    ref = scipy.linalg.expm(tau * A.toarray()) @ p
    for method in ("numba", "numpy"):
        x = expm_apply(A, p, tau, method=method)
        assert np.abs(x - ref).sum() <= 1e-12 * (1 + tau * -A.diagonal().min() / MU_MAX)


def test_compiled_kernel_and_twin_agree_in_two_dimensions():
    A = generator(cells=(12, 10), drift=lambda x: np.stack([x[1], -x[0] - 0.5 * x[1]]), D=0.1)
    p = np.random.default_rng(2).dirichlet(np.ones(A.shape[0]))
    fast, slow = expm_apply(A, p, 0.7), expm_apply(A, p, 0.7, method="numpy")
    np.testing.assert_allclose(fast, slow, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("boundary", ["reflecting", "absorbing"])
def test_the_operator_is_markov(boundary):
    """Every column of the applied operator is non-negative and sums to 1 (reflecting), or to
    at most 1 (absorbing: the mass that leaves), up to the Poisson tail."""
    A = generator(boundary, cells=(30,))
    T = np.column_stack([expm_apply(A, e, 2.0) for e in np.eye(A.shape[0])])
    assert T.min() >= 0.0
    sums = T.sum(axis=0)
    pieces = np.ceil(2.0 * -A.diagonal().min() / MU_MAX)
    if boundary == "reflecting":
        assert np.all(np.abs(sums - 1.0) <= pieces * TAIL + 1e-13)
    else:
        assert np.all(sums <= 1.0 + 1e-13) and sums.min() < 1.0 - 1e-4  # edge cells leak


def test_poisson_weights():
    for mu in (0.0, 1.0, 37.5, MU_MAX):
        w = poisson_weights(mu)
        assert w.min() >= 0 and 1.0 - TAIL <= w.sum() <= 1.0 + 1e-12
        assert w.size < mu + 10 * np.sqrt(mu) + 20  # about mu + 6 sqrt(mu) products
    with pytest.raises(ValueError, match="must lie in"):
        poisson_weights(MU_MAX + 1)
    with pytest.raises(ValueError, match="unknown method"):
        expm_apply(generator(), np.ones(40) / 40, 0.1, method="fortran")
