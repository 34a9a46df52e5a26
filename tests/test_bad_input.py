"""Every kind of bad input gets an exception that says what is wrong and what to do."""

import numpy as np
import pytest

import pfda


def drift(x):
    return -x


@pytest.fixture
def grid():
    return pfda.Grid(lower=[-3.0], upper=[3.0], cells=[30])


@pytest.fixture
def sde():
    return pfda.SDE(drift=drift, diffusion=0.5)


@pytest.fixture
def obs():
    return pfda.GaussianObservation(h=lambda x: x, noise_cov=0.1)


# -- grids -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lower": [np.nan], "upper": [1.0], "cells": [5]}, "finite"),
        ({"lower": [0.0], "upper": [np.inf], "cells": [5]}, "finite"),
        ({"lower": [1.0], "upper": [0.0], "cells": [5]}, "swap or widen"),
        ({"lower": [0.0], "upper": [0.0], "cells": [5]}, "upper must exceed lower"),
        ({"lower": [0.0], "upper": [1.0], "cells": [0]}, "at least one cell"),
        ({"lower": [0.0, 0.0], "upper": [1.0, 1.0, 1.0], "cells": [5]}, "entries"),
        ({"lower": [0.0], "upper": [1.0], "cells": [2.5]}, "whole numbers"),
        ({"lower": [0.0], "upper": [1.0], "cells": [5], "boundary": "sticky"}, "unknown boundary"),
        (
            {"lower": [0.0, 0.0], "upper": [1.0, 1.0], "cells": [5, 5], "boundary": ["a"] * 3},
            "one entry per axis",
        ),
    ],
)
def test_bad_grid(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pfda.Grid(**kwargs)


# -- models ----------------------------------------------------------------------------------
def test_negative_diffusion():
    with pytest.raises(ValueError, match="non-negative"):
        pfda.SDE(drift=drift, diffusion=-0.1)
    with pytest.raises(ValueError, match="non-negative"):
        pfda.SDE(drift=drift, diffusion=[0.1, -0.2])


def test_diffusion_and_sigma_exclusive():
    with pytest.raises(ValueError, match="exactly one"):
        pfda.SDE(drift=drift, diffusion=0.1, sigma=0.3)
    with pytest.raises(ValueError, match="exactly one"):
        pfda.SDE(drift=drift)


def test_drift_not_callable():
    with pytest.raises(TypeError, match="callable"):
        pfda.SDE(drift=3.0, diffusion=0.1)


def test_diffusion_per_axis_mismatch():
    grid = pfda.Grid([-1, -1], [1, 1], [4, 4])
    sde = pfda.SDE(drift=lambda x: -x, diffusion=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="3 entries but the grid has 2 axes"):
        pfda.generator(grid, sde)


def test_negative_state_dependent_diffusion(grid):
    sde = pfda.SDE(drift=drift, diffusion=lambda x: x)
    with pytest.raises(ValueError, match="negative"):
        pfda.generator(grid, sde)


def test_drift_returning_nan(grid):
    sde = pfda.SDE(drift=lambda x: np.where(x > 1, np.nan, -x), diffusion=0.1)
    with pytest.raises(ValueError, match="NaN or inf"):
        pfda.generator(grid, sde)


def test_drift_wrong_shape(grid):
    sde = pfda.SDE(drift=lambda x: -x[0], diffusion=0.1)
    with pytest.raises(ValueError, match=r"must map \(d, m\) -> \(d, m\)"):
        pfda.generator(grid, sde)
    grid2 = pfda.Grid([-1, -1], [1, 1], [4, 4])
    sde2 = pfda.SDE(drift=lambda x: -x[:1], diffusion=0.1)
    with pytest.raises(ValueError, match="returned shape"):
        pfda.generator(grid2, sde2)


def test_sg_needs_constant_diffusion(grid):
    sde = pfda.SDE(drift=drift, diffusion=lambda x: 0.1 + 0 * x)
    with pytest.raises(ValueError, match="constant diffusion"):
        pfda.generator(grid, sde, flux="sg")
    with pytest.raises(ValueError, match="unknown flux"):
        pfda.generator(grid, pfda.SDE(drift=drift, diffusion=0.1), flux="central")


@pytest.mark.parametrize(
    ("cov", "match"),
    [
        ([[1.0, 2.0], [2.0, 1.0]], "not positive definite"),
        ([[1.0, 0.5], [0.0, 1.0]], "symmetric"),
        (-1.0, "> 0"),
        ([[1.0, 0.0, 0.0]], "square"),
        (np.nan, "finite"),
    ],
)
def test_bad_noise_cov(cov, match):
    with pytest.raises(ValueError, match=match):
        pfda.GaussianObservation(h=lambda x: x, noise_cov=cov)


# -- priors ----------------------------------------------------------------------------------
def test_gaussian_prior_errors(grid):
    with pytest.raises(ValueError, match=r"mean must have shape \(1,\)"):
        pfda.gaussian(grid, mean=[0.0, 1.0], cov=[[1.0]])
    with pytest.raises(ValueError, match="not positive definite"):
        pfda.gaussian(grid, mean=[0.0], cov=[[-1.0]])
    with pytest.raises(ValueError, match="finite"):
        pfda.gaussian(grid, mean=[np.nan], cov=[[1.0]])
    grid2 = pfda.Grid([-1, -1], [1, 1], [4, 4])
    with pytest.raises(ValueError, match="not positive definite"):
        pfda.gaussian(grid2, mean=[0, 0], cov=[[1.0, 1.0], [1.0, 1.0]])


def test_prior_mostly_outside_grid_warns(grid):
    with pytest.warns(pfda.PfdaWarning, match="mass inside the grid box"):
        pfda.gaussian(grid, mean=[2.9], cov=[[1.0]])


def test_prior_with_no_mass_on_grid(grid):
    with pytest.raises(ValueError, match="no mass on the grid"):
        pfda.gaussian(grid, mean=[1e3], cov=[[1e-4]])


@pytest.mark.parametrize(
    ("prior", "match"),
    [
        (np.full(29, 1 / 29), r"shape \(30,\)"),
        (np.r_[-0.1, np.full(29, 1.1 / 29)], "negative"),
        (np.r_[np.nan, np.full(29, 1 / 29)], "NaN"),
        (np.zeros(30), "zero total mass"),
    ],
)
def test_bad_prior(grid, sde, obs, prior, match):
    flt = pfda.Filter(grid, sde, obs)
    with pytest.raises(ValueError, match=match):
        flt.run(prior, [0.1], [[0.0]])


# -- filter ----------------------------------------------------------------------------------
def test_non_finite_observation(grid, sde, obs):
    """An infinite value, or NaN in some components only, is an error; NaN in every component
    is a time without an observation (tests/test_smoother.py)."""
    flt = pfda.Filter(grid, sde, obs)
    prior = pfda.gaussian(grid, [0.0], [[1.0]])
    with pytest.raises(ValueError, match="not finite"):
        flt.run(prior, [0.1, 0.2], [[0.0], [np.inf]])
    grid2 = pfda.Grid([-3.0, -3.0], [3.0, 3.0], [8, 8])
    obs2 = pfda.GaussianObservation(lambda x: x, np.eye(2))
    flt2 = pfda.Filter(grid2, pfda.SDE(lambda x: -x, 0.5), obs2, mesh="fixed")
    with pytest.raises(ValueError, match="NaN in every component"):
        flt2.run(pfda.gaussian(grid2, [0.0, 0.0], np.eye(2)), [0.1], [[0.0, np.nan]])


@pytest.mark.parametrize("times", [[0.2, 0.1], [0.1, 0.1], [np.inf, 1.0]])
def test_times_must_increase(grid, sde, obs, times):
    flt = pfda.Filter(grid, sde, obs)
    prior = pfda.gaussian(grid, [0.0], [[1.0]])
    with pytest.raises(ValueError, match="increase strictly|finite"):
        flt.run(prior, times, [[0.0], [0.0]])


def test_times_before_prior(grid, sde, obs):
    flt = pfda.Filter(grid, sde, obs)
    with pytest.raises(ValueError, match="precedes the prior"):
        flt.run(pfda.gaussian(grid, [0.0], [[1.0]]), [0.5], [[0.0]], t0=1.0)


def test_ys_length_mismatch(grid, sde, obs):
    flt = pfda.Filter(grid, sde, obs)
    with pytest.raises(ValueError, match="K = len"):
        flt.run(pfda.gaussian(grid, [0.0], [[1.0]]), [0.1, 0.2], [[0.0]])


def test_unknown_scheme_and_solver(grid, sde, obs):
    with pytest.raises(ValueError, match="unknown scheme 'rk4'"):
        pfda.Filter(grid, sde, obs, scheme="rk4")
    with pytest.raises(ValueError, match="unknown solver 'magic'.*splu"):
        pfda.Filter(grid, sde, obs, solver="magic")


@pytest.mark.parametrize("dt", [-0.01, 0.0, np.nan, np.inf])
def test_bad_dt(grid, sde, obs, dt):
    with pytest.raises(ValueError, match="positive finite"):
        pfda.Filter(grid, sde, obs, dt=dt)


def test_explicit_dt_above_cfl(grid, sde, obs):
    limit = pfda.cfl_dt(grid, sde)
    with pytest.raises(ValueError, match="CFL limit") as err:
        pfda.Filter(grid, sde, obs, scheme="explicit", dt=2 * limit)
    assert f"{limit:.3g}" in str(err.value)
    assert "scheme='implicit'" in str(err.value)


def test_crank_nicolson_positivity_warning(grid, sde, obs):
    limit = pfda.cfl_dt(grid, sde)
    with pytest.warns(pfda.PfdaWarning, match="positivity bound"):
        pfda.Filter(grid, sde, obs, scheme="crank-nicolson", dt=3 * limit)


def test_observation_far_from_grid_warns(grid, sde, obs):
    flt = pfda.Filter(grid, sde, obs)
    with pytest.warns(pfda.PfdaWarning, match="grid may be too small"):
        flt.run(pfda.gaussian(grid, [0.0], [[1.0]]), [0.1], [[40.0]])


def test_zero_likelihood_everywhere_raises(grid, sde):
    # a uniform sensor that cannot produce y outside [-1, 1]
    obs = pfda.Observation(lambda y, x: np.where(np.abs(y[0] - x[0]) < 0.01, 0.0, -np.inf), dim=1)
    flt = pfda.Filter(grid, sde, obs)
    with pytest.raises(ValueError, match="zero likelihood at every cell"):
        flt.run(pfda.gaussian(grid, [0.0], [[1.0]]), [0.1], [[10.0]])


def test_log_likelihood_nan_raises(grid, sde):
    obs = pfda.Observation(lambda y, x: np.full(x.shape[1], np.nan))
    flt = pfda.Filter(grid, sde, obs)
    with pytest.raises(ValueError, match="NaN"):
        flt.run(pfda.gaussian(grid, [0.0], [[1.0]]), [0.1], [[0.0]])


def test_log_likelihood_wrong_shape(grid, sde):
    obs = pfda.Observation(lambda y, x: np.zeros(3))
    flt = pfda.Filter(grid, sde, obs)
    with pytest.raises(ValueError, match="one value per point"):
        flt.run(pfda.gaussian(grid, [0.0], [[1.0]]), [0.1], [[0.0]])


def test_observation_dimension_mismatch(grid, sde):
    obs = pfda.GaussianObservation(h=lambda x: x, noise_cov=[0.1, 0.2])
    flt = pfda.Filter(grid, sde, obs)
    with pytest.raises(ValueError, match="length 1, the model expects 2"):
        flt.run(pfda.gaussian(grid, [0.0], [[1.0]]), [0.1], [[0.0]])


def test_wrong_types(grid, sde, obs):
    with pytest.raises(TypeError, match="pfda.Grid"):
        pfda.Filter("grid", sde, obs)
    with pytest.raises(TypeError, match="pfda.SDE"):
        pfda.Filter(grid, drift, obs)
    with pytest.raises(TypeError, match="pfda.Observation"):
        pfda.Filter(grid, sde, lambda y, x: 0)


def test_stationary_with_absorbing_boundary(sde):
    grid = pfda.Grid([-3.0], [3.0], [20], boundary="absorbing")
    with pytest.raises(ValueError, match="no stationary density"):
        pfda.stationary(grid, sde)


def test_stationary_reducible_chain():
    # pure outward drift: the two end cells trap the mass, so every mix of them is stationary
    grid = pfda.Grid([-3.0], [3.0], [20])
    with pytest.raises(ValueError, match="reducible"):
        pfda.stationary(grid, pfda.SDE(drift=lambda x: x, diffusion=0.0))


def test_backwards_propagation(grid, sde):
    with pytest.raises(ValueError, match="backwards"):
        pfda.propagate(grid, sde, pfda.gaussian(grid, [0.0], [[1.0]]), t0=1.0, t1=0.5)


def test_hhl_missing_extra_message(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "qiskit" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"pip install 'pfda\[quantum\]'"):
        pfda.get_solver("hhl")
