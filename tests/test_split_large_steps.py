"""Large steps of the split schemes on lines of one velocity (pfda.highres).

Where every face of a grid line that carries flux has one velocity, a sweep may take up to
``UNIFORM_COURANT = 4`` cells per step: the whole cells of the Courant number move the masses
by a shift (round the circle or out through an absorbing edge) and the fraction by the usual
flux sweep. Lines against a reflecting wall keep the ordinary bound (a large step would pile
the mass crossing the wall into the wall cell, a first-order error). Checked here against
exact answers (an integer Courant number is an exact shift; a smooth bump's translation by the
normal CDF), the NumPy twin, and positivity and mass.
"""

from __future__ import annotations

import numpy as np
import pytest
from references import loglog_slope, normal_cell_masses
from scipy.stats import norm

import pfda
from pfda.assembly import face_velocities
from pfda.highres import (
    UNIFORM_COURANT,
    SplitPropagator,
    _Faces,
    _mc_numpy,
    _shift_numpy,
    _shift_row,
    _uniform_lines,
    _whole_cells,
    _whole_cells_numpy,
    mc_slope,
    positive_step,
)

KINDS = ("ppm", "mc")
BOUNDARIES = ("periodic", "reflecting", "absorbing")


def faces_of(grid, sde):
    return _Faces(grid, *face_velocities(grid, sde))


def largest_courant(faces, tau):
    cu, cl = faces.courant(tau)
    return max(np.abs(cu).max(), np.abs(cl).max())


def rotation(x):
    """Solid-body rotation, one turn per unit time: each velocity is constant along its axis."""
    return 2 * np.pi * np.stack([-x[1], x[0]])


def pendulum(x):
    return np.stack([x[1], -9.81 * np.sin(np.pi * x[0])])


# ---------------------------------------------------------------------------------------------
# (a) the Numba kernel against its NumPy twin where Courant numbers exceed 1
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("boundary", ["periodic", "absorbing", ["periodic", "absorbing"]])
@pytest.mark.parametrize("drift", [rotation, pendulum], ids=["rotation", "pendulum"])
def test_numba_matches_numpy_with_large_steps(rng, boundary, drift):
    grid = pfda.Grid([-1.0, -1.0], [1.0, 1.0], [12, 17], boundary=boundary)
    sde = pfda.SDE(drift=drift, diffusion=[0.0, 0.02])
    faces = faces_of(grid, sde)
    assert all(u.all() for u in faces.uniform)  # every line has one velocity
    speed = max(np.abs(a).max() for a, _, _, _ in faces.axes)
    tau = faces.positive_step()
    assert tau == pytest.approx(UNIFORM_COURANT / speed, rel=1e-14)
    assert tau == positive_step(grid, sde)
    assert largest_courant(faces, tau) > 3.0  # the whole-cell shifts run
    p0 = rng.random(grid.size) ** 3 * (rng.random(grid.size) < 0.8)
    p0 /= p0.sum()
    for kind in KINDS:
        fast = SplitPropagator(grid, sde, kind, method="numba")
        slow = SplitPropagator(grid, sde, kind, method="numpy")
        assert fast.steps(0.0, 0.37) == slow.steps(0.0, 0.37)
        assert fast.steps(0.0, 0.37)[1] > 0.75 * tau  # steps near the large limit
        p_fast, p_slow = fast(p0, 0.0, 0.37), slow(p0, 0.0, 0.37)
        assert np.abs(p_fast - p_slow).max() < 1e-13
        assert p_fast.min() >= 0.0


def test_helpers_match_their_twins(rng):
    """``_whole_cells`` / ``_whole_cells_numpy``, ``_shift_row`` / ``_shift_numpy``, and the
    MC-limited slope of the sweeps (``mc_slope``) / ``_mc_numpy``: ``minmod(2a, (a + b) / 2,
    2b)``, zero at an extremum."""
    a = rng.normal(size=200)
    b = rng.normal(size=200)
    a[:20], b[20:40], b[40:60], b[60:80] = 0.0, 0.0, -a[40:60], a[60:80]
    b[80:100] = 10 * a[80:100]  # 2a is the smallest
    slopes = np.array([mc_slope(x, y) for x, y in zip(a, b, strict=True)])
    np.testing.assert_array_equal(slopes, _mc_numpy(a, b))
    same = a * b > 0
    np.testing.assert_array_equal(slopes[~same], 0.0)
    np.testing.assert_allclose(
        np.abs(slopes[same]),
        np.minimum(np.minimum(2 * np.abs(a), 0.5 * np.abs(a + b)), 2 * np.abs(b))[same],
        rtol=0,
        atol=0,
    )
    np.testing.assert_array_equal(np.sign(slopes[same]), np.sign(a[same]))
    n = 9
    rows = []
    for v in (2.5, -2.5, 3.0, -1.0, 0.7, 4.0, -3.999):
        for walls in ("periodic", "reflecting", "upper-out", "lower-out"):
            c = np.full(n + 1, v)
            if walls == "reflecting":
                c[0] = c[n] = 0.0
            elif walls == "upper-out":
                c[0] = 0.0
            elif walls == "lower-out":
                c[n] = 0.0
            rows.append(c)
    bumpy = np.full(n + 1, 2.5)
    bumpy[4] = 2.4  # not one velocity
    rows.append(bumpy)
    rows = np.array(rows)
    got, whole = _whole_cells_numpy(rows)
    for row, g, w in zip(rows, got, whole, strict=True):
        c = row.copy()
        s = _whole_cells(c, n)
        assert s == w
        np.testing.assert_array_equal(c, g)
        v = row[1]
        if abs(v) > 1 and not np.array_equal(row, bumpy):
            assert s == int(np.trunc(v))  # towards zero: the fraction keeps the sign
            np.testing.assert_array_equal(g[row != 0], v - s)
        else:
            assert s == 0
            np.testing.assert_array_equal(g, row)
    x = rng.random(n)
    for s in (-11, -3, -1, 1, 4, 9):
        for periodic, absorbing in ((True, False), (False, False), (False, True)):
            row = np.zeros(n + 4)
            row[2 : n + 2] = x
            _shift_row(row, n, s, periodic, absorbing, np.empty(n + 2))
            expected = _shift_numpy(x, s, periodic, absorbing)
            # the wall cell sums its pile in another order: round-off
            np.testing.assert_allclose(row[2 : n + 2], expected, rtol=1e-15, atol=0)
            np.testing.assert_array_equal(row[2 : n + 2], wall_shift(x, s, absorbing)
                                          if not periodic else np.roll(x, s))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# (b) translation on a periodic line
# ---------------------------------------------------------------------------------------------
SD = 0.05


def periodic_bump(grid, mean):
    e = grid.edges[0]
    return sum(normal_cell_masses(e + s, mean, SD**2) for s in (-1.0, 0.0, 1.0))


@pytest.mark.parametrize("v", [1.0, -1.0])
def test_integer_courant_is_an_exact_roll(v):
    """``v = +-1`` on 64 cells of [0, 1) for ``3 / 64``: one step of Courant exactly 3."""
    grid = pfda.Grid([0.0], [1.0], [64], boundary="periodic")
    sde = pfda.SDE(drift=lambda x: np.full_like(x, v), diffusion=0.0)
    p0 = periodic_bump(grid, 0.5)
    for kind in KINDS:
        for method in ("numba", "numpy"):
            prop = SplitPropagator(grid, sde, kind, method=method)
            assert prop.steps(0.0, 3 / 64) == (1, 3 / 64)
            np.testing.assert_array_equal(prop(p0, 0.0, 3 / 64), np.roll(p0, int(3 * v)))


@pytest.mark.parametrize("v", [1.0, -1.0])
def test_fractional_courant_translates_a_bump(v):
    """A bump (sd 0.05) on [0, 1) moved by 0.3 in default steps (Courant 3.2--3.9 per step):
    L1 error against the exact translation, second order (measured 2.49: 4.5e-3, 8.7e-4, 1.9e-4,
    2.4e-5 on 64..512 cells), and no worse than steps of Courant 1/2 (measured 8.7e-4 against
    4.7e-3 on 128 cells). One step of Courant 2.5: third order (measured 2.99)."""
    hs, multi, single = [], [], []
    for n in (64, 128, 256, 512):
        grid = pfda.Grid([0.0], [1.0], [n], boundary="periodic")
        sde = pfda.SDE(drift=lambda x: np.full_like(x, v), diffusion=0.0)
        p0 = periodic_bump(grid, 0.5)
        prop = SplitPropagator(grid, sde, "ppm")
        steps, tau = prop.steps(0.0, 0.3)
        assert 3.0 < tau * n <= UNIFORM_COURANT
        p1 = prop(p0, 0.0, 0.3)
        assert abs(p1.sum() - p0.sum()) < 1e-14
        multi.append(np.abs(p1 - periodic_bump(grid, 0.5 + 0.3 * v)).sum())
        q = prop(p0, 0.0, 2.5 / n)
        single.append(np.abs(q - periodic_bump(grid, 0.5 + 2.5 * v / n)).sum())
        hs.append(1.0 / n)
        if n == 128:
            small = SplitPropagator(grid, sde, "ppm", dt=0.5 / n)(p0, 0.0, 0.3)
            assert multi[-1] <= np.abs(small - periodic_bump(grid, 0.5 + 0.3 * v)).sum()
    assert loglog_slope(hs, multi) > 1.8
    assert loglog_slope(hs, single) > 1.8
    assert multi[-1] < 5e-5


# ---------------------------------------------------------------------------------------------
# (c) reflecting and absorbing edges
# ---------------------------------------------------------------------------------------------
def wall_shift(p, s, absorbing):
    """The shift by ``s`` whole cells with everything past an end dropped (absorbing) or put
    into the end cell (reflecting), written out."""
    n = len(p)
    out = np.zeros(n)
    for j in range(n):
        to = j + s
        if 0 <= to < n:
            out[to] += p[j]
        elif not absorbing:
            out[min(max(to, 0), n - 1)] += p[j]
    return out


@pytest.mark.parametrize("boundary", ["absorbing"])
@pytest.mark.parametrize("v", [1.0, -1.0])
def test_integer_courant_at_an_edge(boundary, v):
    """Courant exactly 3 towards an edge, the bump a few cells from it: the masses move by 3
    cells; past a reflecting wall they pile onto the wall cell, past an absorbing edge they are
    gone (all of them, and nothing else)."""
    n = 64
    grid = pfda.Grid([0.0], [1.0], [n], boundary=boundary)
    sde = pfda.SDE(drift=lambda x: np.full_like(x, v), diffusion=0.0)
    e = grid.edges[0]
    p0 = normal_cell_masses(e, 0.97 if v > 0 else 0.03, 0.02**2)
    for kind in KINDS:
        prop = SplitPropagator(grid, sde, kind)
        assert prop.steps(0.0, 3 / n) == (1, 3 / n)
        p1 = prop(p0, 0.0, 3 / n)
        expected = wall_shift(p0, int(3 * v), boundary == "absorbing")
        np.testing.assert_array_equal(p1, expected)
        if boundary == "reflecting":
            assert p1.sum() == pytest.approx(p0.sum(), abs=1e-15)
            wall = -1 if v > 0 else 0
            assert p1[wall] > 0.8  # measured 0.88 of the 0.93 on the line
        else:
            gone = p0[-3:].sum() if v > 0 else p0[:3].sum()
            assert p0.sum() - p1.sum() == pytest.approx(gone, rel=1e-14)


@pytest.mark.parametrize("boundary", ["reflecting", "absorbing"])
def test_fractional_courant_at_an_edge(boundary):
    """A bump (sd 0.05) at 0.8 on [0, 1) moved by 0.2 towards the upper edge in default steps
    (Courant 3.1--3.9): half of it reaches the edge. The exact answer: the translated bump's
    cell masses inside, and past the edge nothing (absorbing) or everything that passes the
    wall cell's lower face in that cell (reflecting). L1 errors second order (measured orders
    2.55 and 2.53, 5.2e-6 and 5.5e-6 on 512 cells); so is the mass lost through the absorbing
    edge; the reflecting line keeps its mass to round-off. Moved by 0.25 on 64 cells the steps
    are four of Courant exactly 4: whole-cell shifts, exact."""
    hs, errs = [], []
    for n in (64, 128, 256, 512):
        grid = pfda.Grid([0.0], [1.0], [n], boundary=boundary)
        sde = pfda.SDE(drift=lambda x: np.full_like(x, 1.0), diffusion=0.0)
        e = grid.edges[0]
        p0 = normal_cell_masses(e, 0.8, SD**2)
        prop = SplitPropagator(grid, sde, "ppm")
        if boundary == "absorbing":
            assert prop.steps(0.0, 0.2)[1] * n > 3.0
        else:  # the ordinary bound against a wall
            assert prop.steps(0.0, 0.2)[1] * n <= 1.0 + 1e-12
        p1 = prop(p0, 0.0, 0.2)
        assert p1.min() >= 0.0
        exact = normal_cell_masses(e, 1.0, SD**2)
        if boundary == "reflecting":  # the grid's bump starts in [0, 1]: it ends in [0.2, 1.2]
            exact[-1] = norm.cdf(1.2, loc=1.0, scale=SD) - norm.cdf(e[-2], loc=1.0, scale=SD)
            assert p1.sum() == pytest.approx(p0.sum(), abs=1e-14)
        errs.append(np.abs(p1 - exact).sum())
        assert abs((p0.sum() - p1.sum()) - (p0.sum() - exact.sum())) <= errs[-1]
        hs.append(1.0 / n)
    assert loglog_slope(hs, errs) > 1.8
    assert errs[-1] < 1e-5
    if boundary == "reflecting":
        return
    grid = pfda.Grid([0.0], [1.0], [64], boundary=boundary)
    sde = pfda.SDE(drift=lambda x: np.full_like(x, 1.0), diffusion=0.0)
    p0 = normal_cell_masses(grid.edges[0], 0.8, SD**2)
    prop = SplitPropagator(grid, sde, "ppm")
    assert prop.steps(0.0, 0.25) == (4, 0.0625)
    expected = wall_shift(p0, 16, boundary == "absorbing")
    np.testing.assert_allclose(prop(p0, 0.0, 0.25), expected, rtol=1e-14, atol=0)


def test_large_steps_keep_the_profile_against_a_wall():
    """``dx = -2 dt + 0.3 dW`` on [0, 10] (2000 cells of 0.005) from ``N(3, 0.01)`` for t = 3:
    the exponential of scale 0.0225 against the wall at 0. Measured: the mean errs by 3.2e-3 in
    default steps (Courant 4) and by 3.6e-4 in steps of Courant 1/2 (L1: 0.18 and 0.028); the
    error of the default steps falls as h^1.2 (1000..8000 cells), that of the small ones as
    h^1.6."""
    n = 2000
    grid = pfda.Grid([0.0], [10.0], [n])
    sde = pfda.SDE(drift=lambda x: np.full_like(x, -2.0), diffusion=0.09)
    p0 = pfda.gaussian(grid, [3.0], [[0.01]])
    scale = 0.09 / 4.0
    default = pfda.propagate(grid, sde, p0, 0.0, 3.0, scheme="split-ppm")
    small = pfda.propagate(grid, sde, p0, 0.0, 3.0, scheme="split-ppm", dt=0.25 * 10.0 / n)
    err_default = abs(pfda.mean(grid, default)[0] - scale)
    err_small = abs(pfda.mean(grid, small)[0] - scale)
    assert err_small < 5e-4  # the reference is fine
    assert err_default < 2 * err_small


# ---------------------------------------------------------------------------------------------
# (d) positivity and mass
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("boundary", [*BOUNDARIES, ["absorbing", "reflecting"]])
def test_large_steps_stay_non_negative(rng, boundary):
    """Rough densities (a quarter of the cells empty) under random drifts constant along each
    line, Courant numbers up to 4, with and without diffusion."""
    for trial in range(4):
        a, b = rng.normal(size=2) * 3.0
        w = rng.uniform(1.0, 4.0, 2)

        def drift(x, a=a, b=b, w=w):
            return np.stack([a * np.sin(w[0] * x[1]) + 1.0, b * np.cos(w[1] * x[0])])

        grid = pfda.Grid([-1.0, -1.0], [1.0, 1.0], rng.integers(4, 20, 2), boundary=boundary)
        sde = pfda.SDE(drift=drift, diffusion=[0.0, 0.05 * (trial % 2)])
        faces = faces_of(grid, sde)
        for k, u in enumerate(faces.uniform):  # large steps but against reflecting walls
            assert u.all() == (grid.periodic[k] or grid.absorbing[k]) and (u.all() or not u.any())
        if all(p or a for p, a in zip(grid.periodic, grid.absorbing, strict=True)):
            assert largest_courant(faces, faces.positive_step()) > 1.0
        p0 = rng.random(grid.size) ** 4 * (rng.random(grid.size) < 0.75)
        p0 /= p0.sum()
        for kind in KINDS:
            prop = SplitPropagator(grid, sde, kind)
            p, mass = p0, 1.0
            for t in (0.0, 0.25, 0.5):
                p = prop(p, t, t + 0.25)
                assert p.min() >= 0.0
                if any(grid.absorbing):
                    assert p.sum() <= mass * (1 + 1e-14)
                    mass = p.sum()
                else:
                    assert p.sum() == pytest.approx(1.0, abs=1e-13)


# ---------------------------------------------------------------------------------------------
# (e) which lines count as one velocity
# ---------------------------------------------------------------------------------------------
def test_lines_of_varying_velocity_are_not_uniform():
    grid = pfda.Grid([-1.0], [1.0], [16])
    for drift in (lambda x: -x, lambda x: 1.0 + 1e-12 * x):  # varying, barely varying
        faces = faces_of(grid, pfda.SDE(drift=drift, diffusion=0.0))
        assert not faces.uniform[0].any()
        tau = faces.positive_step()
        assert largest_courant(faces, tau) <= 1.0 + 1e-12  # the ordinary bound
    # 2-D: along axis 0 the velocity x_0 varies, along axis 1 it is constant
    grid = pfda.Grid([-1.0, -1.0], [1.0, 1.0], [8, 8], boundary="absorbing")
    sde = pfda.SDE(drift=lambda x: np.stack([x[0], np.ones_like(x[1])]), diffusion=0.0)
    faces = faces_of(grid, sde)
    assert not faces.uniform[0].any() and faces.uniform[1].all()


def test_uniform_lines_rule():
    """``_uniform_lines(a, a_lo, periodic, absorbing)``: every flux-carrying face of the line
    has one velocity; faces without flux (0) at the ends are allowed, inside they are not;
    lines against reflecting walls never count."""
    v = 2.0
    line = np.full((1, 5), v)
    lo = np.zeros(1)
    assert _uniform_lines(line, lo, True, False)[0]
    wall = line.copy()
    wall[0, -1] = 0.0  # no flux through the upper face
    assert _uniform_lines(wall, lo, False, True)[0]  # absorbing: inflow there is zero
    assert not _uniform_lines(wall, lo, False, False)[0]  # reflecting: the ordinary bound
    assert not _uniform_lines(wall, lo, True, False)[0]  # periodic: the last face has flux
    assert _uniform_lines(line, np.array([v]), False, True)[0]  # out through the lower face
    assert not _uniform_lines(line, np.array([1.0]), False, True)[0]
    inner = line.copy()
    inner[0, 2] = 0.0  # a stagnant face inside the line
    assert not _uniform_lines(inner, lo, False, True)[0]
    assert not _uniform_lines(np.full((1, 1), v), lo, True, False)[0]  # one cell
    np.testing.assert_array_equal(
        _uniform_lines(np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 1.0]]), np.zeros(2), True, False),
        [True, False],
    )
