"""Built-in filtering problems: a model, a grid, a prior and a seeded simulator of data.

Each :class:`Case` builds a :class:`Setup` — the grid, the SDE ``dx = f(x) dt + sigma dW``
(``D = sigma sigma^T`` diagonal), the observation ``y_k = h(x(t_k)) + v_k``, ``v_k ~ N(0, R)``,
the prior cell probabilities and the filter settings that suit the case. ``Setup.simulate``
draws a true path by Euler--Maruyama with fine sub-steps,

.. math:: x_{n+1} = x_n + f(x_n)\\,\\delta + \\sqrt{D\\,\\delta}\\;\\xi_n,
          \\qquad \\xi_n \\sim N(0, I),

starting from a draw of the prior, and observes it at the regular times ``t_k = k Delta``.

>>> from pfda import cases
>>> setup = cases.get_case("ou").build()
>>> sim = setup.simulate(seed=1)
>>> res = setup.filter().run(setup.prior, sim.times, sim.ys)
>>> win = cases.get_case("ou").build(cells=40, mesh="window")   # a grid that follows the posterior
>>> res = win.run(sim)   # the prior evaluated on the window's own cells
>>> res.mesh
'window'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .filter import Filter
from .grid import Grid
from .meshes import Fixed, Window, as_mesh
from .models import SDE, GaussianObservation
from .priors import gaussian
from .results import FilterResult
from .simulate import simulate

__all__ = ["Case", "Setup", "Simulation", "CASES", "get_case", "kalman_ou"]


@dataclass(frozen=True)
class Simulation:
    """A simulated true path and its observations; ``truth[k]`` is the state at ``times[k]``."""

    times: np.ndarray  # (K,)
    truth: np.ndarray  # (K, d)
    ys: np.ndarray  # (K, p)
    x0: np.ndarray  # (d,) the state at t = 0


@dataclass(frozen=True, eq=False)
class Setup:
    """Everything a filter run needs, plus the truth simulator.

    Attributes
    ----------
    grid, sde, observation : Grid, SDE, GaussianObservation
    prior : ndarray (N,)
        Cell probabilities of ``N(prior_mean, prior_cov)``.
    prior_mean, prior_cov : ndarray
        The Gaussian the true initial state is drawn from.
    drift : callable
        Vectorised drift ``f(x (d, m)) -> (d, m)`` (the SDE's; :meth:`simulate` runs
        :func:`pfda.simulate` on the SDE).
    noise : ndarray (d,)
        Diagonal of ``D``.
    obs_interval : float
        Time ``Delta`` between observations.
    steps : int
        Default number of observations.
    scheme : str
        Default time scheme.
    dt : float or None
        Default largest time step of the filter.
    substeps : int
        Euler--Maruyama steps per observation interval of :meth:`simulate`.
    wrap : callable, optional
        Maps a simulated state back into the grid box (e.g. an angle into ``[-pi, pi)``).
    mesh : {"fixed", "window"}, Fixed or Window
        Default mesh of :meth:`filter`: the grid itself, or a window of ``grid.cells`` cells
        that follows the posterior inside ``grid`` (:class:`pfda.Window`).
    """

    grid: Grid
    sde: SDE
    observation: GaussianObservation
    prior: np.ndarray
    prior_mean: np.ndarray
    prior_cov: np.ndarray
    drift: Callable
    noise: np.ndarray
    obs_interval: float
    steps: int
    scheme: str = "implicit"
    dt: float | None = None
    substeps: int = 20
    wrap: Callable | None = None
    mesh: str | Fixed | Window = "fixed"

    def simulate(self, seed: int = 0, steps: int | None = None) -> Simulation:
        """Draw ``x(0)`` from the prior and ``steps`` observations, reproducibly from ``seed``."""
        steps = self.steps if steps is None else int(steps)
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        rng = np.random.default_rng(seed)
        x = rng.multivariate_normal(self.prior_mean, self.prior_cov)
        x0 = np.clip(x, self.grid.lower, self.grid.upper)
        times = self.obs_interval * np.arange(1, steps + 1)
        truth, ys = simulate(self.sde, self.observation, x0, times, substeps=self.substeps,
                             seed=rng, wrap=self.wrap)  # fmt: skip
        return Simulation(times=times, truth=truth, ys=ys, x0=x0)

    def filter(self, **options) -> Filter:
        """A :class:`pfda.Filter` with this case's scheme, ``dt`` and mesh unless overridden
        (e.g. ``mesh="window"`` or ``mesh=pfda.Window(half_width=4.0)``)."""
        options.setdefault("scheme", self.scheme)
        options.setdefault("dt", self.dt)
        options.setdefault("mesh", self.mesh)
        return Filter(self.grid, self.sde, self.observation, **options)

    def prior_on(self, grid: Grid) -> np.ndarray:
        """Cell probabilities of ``N(prior_mean, prior_cov)`` on ``grid``: the prior as a
        function, which a window evaluates on its own cells."""
        return gaussian(grid, self.prior_mean, self.prior_cov)

    def prior_for(self, flt: Filter):
        """The prior to give ``flt.run``: :attr:`prior` on a fixed mesh, :meth:`prior_on` (the
        prior evaluated on the window's cells) on a window."""
        return self.prior if isinstance(flt.mesh, Fixed) else self.prior_on

    def run(self, sim: Simulation, **options) -> FilterResult:
        """Filter ``sim``'s observations with :meth:`filter` ``(**options)`` from the prior."""
        flt = self.filter(**options)
        return flt.run(self.prior_for(flt), sim.times, sim.ys)

    def with_mesh(self, mesh) -> Setup:
        """The same problem filtered on ``mesh`` (``"fixed"``, ``"window"`` or a policy)."""
        return replace(self, mesh=as_mesh(mesh))

    def with_cells(self, cells) -> Setup:
        """The same problem on a grid with ``cells`` per axis (one int for all axes)."""
        cells = np.broadcast_to(np.atleast_1d(np.asarray(cells, dtype=np.int64)), (self.grid.ndim,))
        grid = Grid(self.grid.lower, self.grid.upper, cells.tolist(), self.grid.boundary)
        prior = gaussian(grid, self.prior_mean, self.prior_cov)
        return replace(self, grid=grid, prior=prior)


@dataclass(frozen=True)
class Case:
    """A named built-in problem: ``build(cells=None, mesh=None)`` returns a fresh
    :class:`Setup` (``cells`` per axis, and the mesh its filter uses by default)."""

    name: str
    description: str
    make: Callable[[], Setup] = field(repr=False)
    exact: str | None = None  # name of an exact reference filter, if one exists

    def build(self, cells=None, mesh=None) -> Setup:
        setup = self.make()
        if cells is not None:
            setup = setup.with_cells(cells)
        return setup if mesh is None else setup.with_mesh(mesh)


def _setup(grid, drift, noise, h, R, mean, cov, **kw) -> Setup:
    d = grid.ndim
    noise = np.broadcast_to(np.asarray(noise, dtype=float), (d,)).copy()
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    return Setup(
        grid=grid,
        sde=SDE(drift=drift, diffusion=noise.tolist()),
        observation=GaussianObservation(h=h, noise_cov=R),
        prior=gaussian(grid, mean, cov),
        prior_mean=mean,
        prior_cov=cov,
        drift=drift,
        noise=noise,
        **kw,
    )


# -- the cases --------------------------------------------------------------------------------
def _double_well() -> Setup:
    return _setup(
        Grid(lower=[-2.5], upper=[2.5], cells=[250]),
        drift=lambda x: 4.0 * x * (1.0 - x**2),
        noise=0.5,
        h=lambda x: x**2,
        R=0.1,
        mean=[0.0],
        cov=[[0.25]],
        obs_interval=0.05,
        steps=100,
        dt=0.01,
    )


OU_THETA, OU_D, OU_R, OU_DELTA = 1.0, 0.5, 0.1, 0.1


def _ou() -> Setup:
    return _setup(
        Grid(lower=[-4.0], upper=[4.0], cells=[200]),
        drift=lambda x: -OU_THETA * x,
        noise=OU_D,
        h=lambda x: x,
        R=OU_R,
        mean=[0.5],
        cov=[[0.3]],
        obs_interval=OU_DELTA,
        steps=100,
        dt=0.01,
    )


def _benes() -> Setup:
    return _setup(
        Grid(lower=[-12.0], upper=[12.0], cells=[300]),
        drift=np.tanh,
        noise=1.0,
        h=lambda x: x,
        R=1.0,
        mean=[0.0],
        cov=[[1.0]],
        obs_interval=0.1,
        steps=60,
        dt=0.02,
    )


def _wrap_angle(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[0] = (x[0] + np.pi) % (2 * np.pi) - np.pi
    return x


def _pendulum() -> Setup:
    return _setup(
        Grid(
            lower=[-np.pi, -6.0],
            upper=[np.pi, 6.0],
            cells=[64, 64],
            boundary=["periodic", "reflecting"],
        ),
        drift=lambda x: np.stack([x[1], -9.81 * np.sin(x[0])]),
        noise=[0.0, 0.01],  # sigma = 0.1 on the angular velocity
        h=lambda x: np.sin(x[:1]),
        R=0.1,
        mean=[0.0, 0.0],
        cov=np.eye(2),
        obs_interval=0.01,
        steps=150,
        substeps=10,
        wrap=_wrap_angle,
        scheme="split-ppm",  # the angle moves by pure advection: upwind would smear it
    )


def _van_der_pol(mu: float = 1.0) -> Setup:
    return _setup(
        Grid(lower=[-4.0, -4.5], upper=[4.0, 4.5], cells=[64, 64]),
        drift=lambda x: np.stack([x[1], mu * (1.0 - x[0] ** 2) * x[1] - x[0]]),
        noise=[0.05, 0.05],
        h=lambda x: x[:1],
        R=0.1,
        mean=[0.0, 0.0],
        cov=np.eye(2),
        obs_interval=0.1,
        steps=60,
        dt=0.02,
    )


LORENZ_SIGMA, LORENZ_RHO, LORENZ_BETA = 10.0, 28.0, 8.0 / 3.0


def lorenz63_drift(x: np.ndarray) -> np.ndarray:
    """Lorenz-63 vector field on a point set ``(3, m)``."""
    return np.stack(
        [
            LORENZ_SIGMA * (x[1] - x[0]),
            x[0] * (LORENZ_RHO - x[2]) - x[1],
            x[0] * x[1] - LORENZ_BETA * x[2],
        ]
    )


def _lorenz63() -> Setup:
    return _setup(
        Grid(lower=[-25.0, -30.0, -2.0], upper=[25.0, 30.0, 55.0], cells=[24, 24, 24]),
        drift=lorenz63_drift,
        noise=[4.0, 4.0, 4.0],
        h=lambda x: x[:1],
        R=4.0,
        mean=[0.0, 0.0, 25.0],
        cov=np.diag([36.0, 36.0, 36.0]),
        obs_interval=0.1,
        steps=20,
        scheme="explicit",
        dt=None,
        substeps=100,
    )


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case(
            "double-well",
            "dx = 4x(1-x^2)dt + 0.71dW seen through y = x^2 + v: a bimodal posterior (1-D)",
            _double_well,
        ),
        Case(
            "ou",
            "Ornstein-Uhlenbeck dx = -x dt + 0.71dW, y = x + v: linear, exact Kalman reference",
            _ou,
            exact="kalman",
        ),
        Case("benes", "Benes SDE dx = tanh(x)dt + dW, y = x + v (1-D)", _benes),
        Case(
            "pendulum",
            "pendulum x1' = x2, x2' = -9.81 sin x1 + 0.1 noise, y = sin(x1) + v every 0.01 s (2-D)",
            _pendulum,
        ),
        Case("van-der-pol", "Van der Pol oscillator (mu = 1), y = x1 + v (2-D)", _van_der_pol),
        Case("lorenz63", "Lorenz-63 on a coarse 24^3 grid, only x observed (3-D)", _lorenz63),
    )
}

DEFAULT_CASE = "double-well"


def get_case(name: str) -> Case:
    """The built-in case called ``name`` (see :data:`CASES`)."""
    try:
        return CASES[name]
    except KeyError:
        raise ValueError(
            f"unknown case {name!r}: choose one of {', '.join(CASES)} (`pfda list` describes them)"
        ) from None


def kalman_ou(setup: Setup, sim: Simulation) -> tuple[np.ndarray, np.ndarray, float]:
    """Exact Kalman filter of the ``ou`` case: posterior means ``(K,)``, variances ``(K,)`` and
    the log-evidence.

    Over an interval ``Delta`` the OU transition is ``x' = a x + w`` with ``a = exp(-theta Delta)``
    and ``Var w = D (1 - a^2) / (2 theta)``; ``y = x + v``, ``v ~ N(0, R)``.
    """
    m, P = float(setup.prior_mean[0]), float(setup.prior_cov[0, 0])
    t_prev, log_ev = 0.0, 0.0
    means, variances = np.empty(sim.times.size), np.empty(sim.times.size)
    for k, (t, y) in enumerate(zip(sim.times, sim.ys[:, 0], strict=True)):
        a = np.exp(-OU_THETA * (t - t_prev))
        m, P = a * m, a * a * P + OU_D * (1 - a * a) / (2 * OU_THETA)
        S = P + OU_R
        log_ev += -0.5 * (np.log(2 * np.pi * S) + (y - m) ** 2 / S)
        gain = P / S
        m, P = m + gain * (y - m), (1 - gain) * P
        means[k], variances[k] = m, P
        t_prev = t
    return means, variances, float(log_ev)
