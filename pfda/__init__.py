"""pfda: full-density Bayesian filtering with a finite-volume Perron--Frobenius operator.

The state's density lives on a grid of finite volumes. Between observations it is carried by
the discrete Perron--Frobenius (transfer) operator of the Fokker--Planck equation, a Markov
matrix built by :func:`generator`; at each observation Bayes' rule multiplies it by the
likelihood and renormalises (in log space), which also gives the evidence.

>>> import pfda
>>> grid = pfda.Grid(lower=[-3.0], upper=[3.0], cells=[300])
>>> sde = pfda.SDE(drift=lambda x: 4 * x * (1 - x**2), diffusion=0.5)
>>> A = pfda.generator(grid, sde)   # (300, 300) sparse, column sums 0
"""

from ._warnings import PfdaWarning
from .assembly import cfl_dt, cfl_limit, generator
from .diagnostics import (
    covariance,
    credible_interval,
    entropy,
    hellinger,
    hpd_mask,
    map_estimate,
    marginal,
    mean,
    total_variation,
)
from .estimation import Estimate, estimate, log_likelihood, posterior_grid
from .filter import Filter, predict, update
from .grid import Grid
from .meshes import Fixed, Window
from .models import SDE, GaussianObservation, Observation
from .priors import discretize, gaussian
from .propagation import SCHEMES, Propagator, propagate, stationary
from .results import FilterResult, load
from .simulate import simulate
from .solvers import available_solvers, get_solver, register_solver
from .version import __version__ as __version__

__all__ = [
    "Grid",
    "SDE",
    "GaussianObservation",
    "Observation",
    "gaussian",
    "discretize",
    "generator",
    "cfl_dt",
    "cfl_limit",
    "Propagator",
    "propagate",
    "stationary",
    "SCHEMES",
    "get_solver",
    "register_solver",
    "available_solvers",
    "Filter",
    "FilterResult",
    "Fixed",
    "Window",
    "load",
    "simulate",
    "estimate",
    "Estimate",
    "log_likelihood",
    "posterior_grid",
    "predict",
    "update",
    "mean",
    "covariance",
    "marginal",
    "map_estimate",
    "credible_interval",
    "hpd_mask",
    "entropy",
    "hellinger",
    "total_variation",
    "PfdaWarning",
]
