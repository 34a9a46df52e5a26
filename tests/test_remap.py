"""Conservative, positive, second-order remapping between uniform tensor grids (pfda.remap).

The remap is checked against independent references:

* a from-scratch line remap (``reference_remap``): the MC slopes by explicit loops, the new
  masses as differences of the reconstruction's cumulative mass function at the new faces
  (a different algorithm from the module's overlap sums), applied axis by axis;
* exact answers: the identity, shifts by whole cells (a shifted array), masses of linear
  densities (reproduced exactly) and of a Gaussian (erf products, second-order convergence);
* the Numba kernel against its NumPy twin.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

from pfda.remap import remap

METHODS = ("numba", "numpy")


# --------------------------------------------------------------------------------------------
# independent reference
# --------------------------------------------------------------------------------------------
def reference_line(m, x0, h, y0, H, N):
    """Remap one line: MC-limited linear reconstruction (flat end cells), new masses as
    differences of its cumulative mass ``C(x)``. Returns ``(q, outside)``."""
    m = [float(v) for v in m]
    n = len(m)
    slopes = []
    for j in range(n):
        a = m[j] - m[j - 1] if j > 0 else 0.0
        b = m[j + 1] - m[j] if j < n - 1 else 0.0
        if a * b <= 0:
            slopes.append(0.0)
        else:
            s = min(2 * abs(a), abs(a + b) / 2, 2 * abs(b))
            slopes.append(math.copysign(s, a))
    before = np.concatenate([[0.0], np.cumsum(m)])

    def cumulative(x):
        t = (x - x0) / h  # in old cells
        if t <= 0:
            return 0.0
        if t >= n:
            return before[n]
        j = int(math.floor(t))
        xi = t - j
        # integral of m_j + s_j (u - 1/2) over [0, xi]
        return before[j] + xi * (m[j] + 0.5 * slopes[j] * (xi - 1.0))

    c = np.array([cumulative(y0 + k * H) for k in range(N + 1)])
    q = np.diff(c)
    return q, before[n] - (c[-1] - c[0])


def reference_remap(p, cells, x0, h, y0, H, new_cells):
    """Axis by axis with :func:`reference_line`; returns ``(q, outside)``."""
    a = np.asarray(p, dtype=float).reshape(cells)
    outside = 0.0
    for k in range(len(cells)):
        moved = np.moveaxis(a, k, -1)
        lines = moved.reshape(-1, moved.shape[-1])
        out = np.empty((lines.shape[0], new_cells[k]))
        for i, line in enumerate(lines):
            out[i], lost = reference_line(line, x0[k], h[k], y0[k], H[k], new_cells[k])
            outside += lost
        a = np.moveaxis(out.reshape(*moved.shape[:-1], new_cells[k]), -1, k)
    return a.ravel(), outside


def random_case(rng, d, finer):
    """Random masses (with zeros) on a random grid, and an overlapping random new grid with
    more (``finer``) or fewer cells per axis."""
    cells = tuple(int(c) for c in rng.integers(3, 9, d))
    p = rng.random(math.prod(cells)) * (rng.random(math.prod(cells)) < 0.8)
    x0 = rng.normal(size=d)
    h = rng.uniform(0.5, 2.0, d)
    length = h * np.array(cells)
    y0 = x0 + rng.uniform(-0.4, 0.4, d) * length
    factor = rng.uniform(1.3, 2.2, d) if finer else rng.uniform(0.3, 0.7, d)
    new_cells = tuple(max(1, round(c * f)) for c, f in zip(cells, factor, strict=True))
    H = length * rng.uniform(0.7, 1.3, d) / np.array(new_cells)
    return p, cells, x0, h, y0, H, new_cells


# --------------------------------------------------------------------------------------------
# twins and the reference
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("finer", [True, False])
def test_twins_agree_with_each_other_and_the_reference(d, finer):
    rng = np.random.default_rng(100 * d + finer)
    for _ in range(4):
        p, cells, x0, h, y0, H, new_cells = random_case(rng, d, finer)
        total = p.sum()
        q_nb, out_nb = remap(p, cells, x0, h, y0, H, new_cells, method="numba")
        q_np, out_np = remap(p, cells, x0, h, y0, H, new_cells, method="numpy")
        q_ref, out_ref = reference_remap(p, cells, x0, h, y0, H, new_cells)
        assert q_nb.shape == q_np.shape == (math.prod(new_cells),)
        np.testing.assert_allclose(q_nb, q_np, rtol=1e-13, atol=1e-15 * total)
        assert out_nb == pytest.approx(out_np, rel=1e-13, abs=1e-15 * total)
        np.testing.assert_allclose(q_nb, q_ref, rtol=0, atol=1e-13 * total)
        assert out_nb == pytest.approx(out_ref, rel=0, abs=1e-13 * total)


@pytest.mark.parametrize("method", METHODS)
def test_cells_of_any_relative_size_and_disjoint_boxes(method):
    rng = np.random.default_rng(7)
    p = rng.random(5)
    for y0, H, N in [(0.3, 0.01, 97), (-2.0, 3.7, 2), (-1.0, 9.0, 1), (1.7, 0.45, 3)]:
        q, out = remap(p, (5,), (0.0,), (1.0,), (y0,), (H,), (N,), method=method)
        q_ref, out_ref = reference_line(p, 0.0, 1.0, y0, H, N)
        np.testing.assert_allclose(q, q_ref, rtol=0, atol=1e-14)
        assert out == pytest.approx(out_ref, abs=1e-14)
    # a new box beside the old one: everything is outside
    q, out = remap(p, (5,), (0.0,), (1.0,), (5.0,), (1.0,), method=method)
    assert np.all(q == 0.0)
    assert out == pytest.approx(p.sum(), rel=1e-15)


# --------------------------------------------------------------------------------------------
# exact answers
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("cells", [(7,), (5, 6), (3, 4, 5)])
def test_identity(method, cells):
    rng = np.random.default_rng(3)
    p = rng.random(math.prod(cells))
    d = len(cells)
    lower, widths = rng.normal(size=d), rng.uniform(0.1, 2.0, d)
    q, out = remap(p, cells, lower, widths, lower.copy(), widths.copy(), method=method)
    np.testing.assert_allclose(q, p, rtol=1e-15, atol=0)
    assert out == 0.0
    assert q is not p


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shift", [(2, 0, 0), (0, -1, 0), (0, 0, 3), (1, -2, 1), (-3, 2, -1)])
def test_whole_cell_shift(method, shift):
    rng = np.random.default_rng(11)
    cells = (6, 5, 7)
    p = rng.random(math.prod(cells))
    old_lower = np.array([0.1, -0.7, 12.3])
    widths = np.array([0.1, 0.3, 0.07])
    new_lower = old_lower + np.array(shift) * widths
    q, out = remap(p, cells, old_lower, widths, new_lower, widths, method=method)
    # new cell i is old cell i + shift where that exists
    a = p.reshape(cells)
    expected = np.zeros(cells)
    src = tuple(slice(max(s, 0), n + min(s, 0)) for s, n in zip(shift, cells, strict=True))
    dst = tuple(slice(max(-s, 0), n + min(-s, 0)) for s, n in zip(shift, cells, strict=True))
    expected[dst] = a[src]
    np.testing.assert_array_equal(q, expected.ravel())
    assert out == pytest.approx(p.sum() - expected.sum(), rel=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_whole_cell_shift_with_refinement(method):
    """New cells a third of the old ones, shifted by whole old cells: each old mass splits in
    three (a flat end cell in equal parts)."""
    p = np.array([1.0, 2.0, 4.0, 4.0, 1.0])
    q, out = remap(p, (5,), (0.0,), (1.0,), (1.0,), (1.0 / 3.0,), (9,), method=method)
    np.testing.assert_allclose(q.reshape(3, 3).sum(axis=1), p[1:4], rtol=1e-15)
    assert out == pytest.approx(p[0] + p[4], rel=1e-15)


@pytest.mark.parametrize("method", METHODS)
def test_linear_density_is_reproduced(method):
    """Masses of a product of densities linear on each line (no extrema, limiter inactive)
    are remapped exactly onto any new grid that stays off the flat end cells."""
    x0, h, n = np.array([-1.0, 0.5]), np.array([0.25, 0.4]), (12, 9)

    def masses(lower, widths, cells):
        # density (2 + x)(3 - y/2): masses are products of the lines' masses
        ex = lower[0] + widths[0] * np.arange(cells[0] + 1)
        ey = lower[1] + widths[1] * np.arange(cells[1] + 1)
        mx = np.diff(2 * ex + ex**2 / 2)
        my = np.diff(3 * ey - ey**2 / 4)
        return np.multiply.outer(mx, my).ravel()

    p = masses(x0, h, n)
    # inside [x0 + h, x0 + (n - 1) h] on both axes, coarser on one, finer on the other
    y0 = x0 + np.array([1.13, 1.37]) * h
    N = (7, 19)
    H = (np.array(n) - 2.6) * h / np.array(N)
    q, out = remap(p, n, x0, h, y0, H, N, method=method)
    exact = masses(y0, H, N)
    np.testing.assert_allclose(q, exact, rtol=1e-12)
    assert out == pytest.approx(p.sum() - exact.sum(), rel=1e-12)


# --------------------------------------------------------------------------------------------
# conservation and positivity
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_conservation_when_the_new_box_contains_the_old(method, d):
    rng = np.random.default_rng(5 + d)
    cells = tuple(int(c) for c in rng.integers(4, 10, d))
    p = rng.random(math.prod(cells)) * 10.0 ** rng.uniform(-8, 0, math.prod(cells))
    x0, h = rng.normal(size=d), rng.uniform(0.2, 1.0, d)
    length = h * np.array(cells)
    y0 = x0 - rng.uniform(0.0, 0.3, d) * length
    for new_cells in (tuple(c + 5 for c in cells), tuple(max(1, c // 3) for c in cells)):
        H = length * rng.uniform(1.3, 1.6, d) / np.array(new_cells)
        assert np.all(y0 + H * np.array(new_cells) >= x0 + length)
        q, out = remap(p, cells, x0, h, y0, H, new_cells, method=method)
        assert q.sum() == pytest.approx(p.sum(), rel=1e-14)
        assert abs(out) <= 1e-15 * p.sum()
        assert q.min() >= 0.0


@st.composite
def remap_cases(draw):
    d = draw(st.integers(1, 3))
    cells = tuple(draw(st.integers(1, 6)) for _ in range(d))
    new_cells = tuple(draw(st.integers(1, 8)) for _ in range(d))
    size = math.prod(cells)
    mass = st.one_of(st.just(0.0), st.floats(0.0, 1.0), st.floats(1e-12, 1e-6))
    p = np.array(draw(st.lists(mass, min_size=size, max_size=size)))
    scale = st.floats(0.05, 3.0)
    x0 = [draw(st.floats(-5.0, 5.0)) for _ in range(d)]
    h = [draw(scale) for _ in range(d)]
    y0 = [draw(st.floats(-5.0, 5.0)) for _ in range(d)]
    H = [draw(scale) for _ in range(d)]
    return p, cells, x0, h, y0, H, new_cells


@settings(max_examples=50, deadline=None)
@given(remap_cases())
def test_positive_and_conservative(case):
    p, cells, x0, h, y0, H, new_cells = case
    total = p.sum()
    q, out = remap(p, cells, x0, h, y0, H, new_cells)
    q_np, out_np = remap(p, cells, x0, h, y0, H, new_cells, method="numpy")
    # the unclipped reference: the MC reconstruction's integrals are non-negative by themselves
    q_ref, _ = reference_remap(p, cells, x0, h, y0, H, new_cells)
    assert q.min() >= 0.0 and q_np.min() >= 0.0
    assert q_ref.min() >= -1e-13 * total
    np.testing.assert_allclose(q, q_ref, rtol=0, atol=1e-13 * total)
    np.testing.assert_allclose(q, q_np, rtol=1e-12, atol=1e-15 * total)
    assert out >= -1e-15 * total
    assert q.sum() + out == pytest.approx(total, rel=1e-13, abs=1e-300)


# --------------------------------------------------------------------------------------------
# accuracy: second order for a smooth density
# --------------------------------------------------------------------------------------------
MU = np.array([0.3, -0.2])
SIGMA = np.array([0.9, 0.6])


def gaussian_masses(lower, widths, cells):
    """Exact cell masses of the Gaussian N(MU, diag(SIGMA^2)): products of erf differences."""
    parts = []
    for k in range(2):
        faces = lower[k] + widths[k] * np.arange(cells[k] + 1)
        parts.append(np.diff(0.5 * erf((faces - MU[k]) / (math.sqrt(2.0) * SIGMA[k]))))
    return np.multiply.outer(parts[0], parts[1]).ravel()


@pytest.mark.parametrize("method", METHODS)
def test_second_order_for_a_smooth_density(method):
    old_lower, old_upper = np.array([-6.0, -5.0]), np.array([6.5, 5.0])
    new_lower, new_upper = np.array([-4.9, -4.4]), np.array([5.6, 3.8])
    ns = np.array([32, 64, 128])
    errors = []
    for n in ns:
        h = (old_upper - old_lower) / n
        p = gaussian_masses(old_lower, h, (n, n))
        new_cells = (round(0.7 * n), round(1.4 * n))  # coarser along x, finer along y
        H = (new_upper - new_lower) / np.array(new_cells)
        q, out = remap(p, (n, n), old_lower, h, new_lower, H, new_cells, method=method)
        exact = gaussian_masses(new_lower, H, new_cells)
        errors.append(np.abs(q - exact).sum())
        assert q.sum() + out == pytest.approx(p.sum(), rel=1e-14)
    order = -np.polyfit(np.log(ns), np.log(errors), 1)[0]
    # measured: L1 errors 6.3e-3, 1.5e-3, 3.2e-4, fitted order 2.15 (2.0 asymptotically)
    assert order >= 1.8, (errors, order)
    assert errors[-1] < 5e-4


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
GOOD = dict(
    p=np.ones(6) / 6,
    cells=(2, 3),
    old_lower=(0.0, 0.0),
    old_widths=(1.0, 1.0),
    new_lower=(0.5, 0.5),
    new_widths=(1.0, 1.0),
)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(p=np.ones(5)), "prod"),
        (dict(p=np.ones((2, 3))), "flat"),
        (dict(cells=(2, 3.5)), "integers"),
        (dict(cells=(2, 0), p=np.ones(0)), "positive"),
        (dict(cells=()), "integers"),
        (dict(new_cells=(2, 3, 4)), "new_cells"),
        (dict(new_cells=(2, -1)), "positive"),
        (dict(old_lower=(0.0,)), "old_lower"),
        (dict(new_widths=(1.0, 1.0, 1.0)), "new_widths"),
        (dict(old_widths=(1.0, 0.0)), "positive"),
        (dict(new_widths=(-1.0, 1.0)), "positive"),
        (dict(new_lower=(np.nan, 0.0)), "finite"),
        (dict(old_widths=(np.inf, 1.0)), "finite"),
        (dict(p=np.array([0.5, np.nan, 0, 0, 0, 0])), "finite"),
        (dict(p=np.array([0.5, -1e-3, 0, 0, 0, 0.5])), "non-negative"),
        (dict(method="fortran"), "unknown method"),
    ],
)
def test_bad_input(change, match):
    kwargs = {**GOOD, **change}
    with pytest.raises(ValueError, match=match):
        remap(**kwargs)


@pytest.mark.parametrize("method", METHODS)
def test_round_off_negatives_are_accepted_as_zero(method):
    p = np.array([0.5, -1e-18, 0.0, 0.0, 0.2, 0.3])
    q, out = remap(p, (2, 3), (0.0, 0.0), (1.0, 1.0), (0.0, 0.0), (1.0, 1.0), method=method)
    np.testing.assert_array_equal(q, np.maximum(p, 0.0))
    assert out == 0.0
