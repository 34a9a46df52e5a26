"""Parameter estimation from the filter's evidence, which carries no Monte Carlo noise.

For a model with parameters ``theta``, the filter's log-evidence
``l(theta) = log p(y_{1:K} | theta) = sum_k log p(y_k | y_{1:k-1}, theta)`` is a deterministic
function of ``theta``, smooth where the grid and the steps do not change with ``theta``
(give the filter a fixed ``dt`` or an exact-in-time scheme, and ``tol=None``, so that no step
halves between two nearby ``theta``). Then

- the maximum-likelihood estimate ``theta_hat = argmax l`` (:func:`estimate`, SciPy's
  optimisers);
- the observed information ``J = -grad^2 l(theta_hat)`` by central finite differences with
  steps ``h_i = rel_step * max(|theta_i|, 1)`` (error ``O(h^2)``), and the standard errors
  ``sqrt(diag(J^-1))``;
- profile likelihoods ``max over theta_{-i} of l`` at fixed values of ``theta_i``
  (:meth:`Estimate.profile`);
- the posterior over a grid of ``theta`` values, ``p(theta_j | y) = exp(l_j + log pi_j - L)``
  with ``L = log sum_j exp(l_j + log pi_j)`` the evidence of the model averaged over the grid
  (:func:`posterior_grid`); two models' evidences differ by the log Bayes factor.

``build(theta)`` returns ``(filter, prior)``; independent evaluations (the Hessian's points,
a profile's values) go through ``executor.map`` when an executor is given (a
``concurrent.futures.ProcessPoolExecutor`` needs a picklable ``build``: a module-level
function; any executor with ``map``, e.g. a ``dask.distributed`` client's, serves).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Estimate", "estimate", "log_likelihood", "posterior_grid"]


def log_likelihood(build, theta, times, ys, t0: float = 0.0) -> float:
    """``log p(y_{1:K} | theta)``: the evidence of the filter ``build(theta)`` returns."""
    flt, prior = build(np.asarray(theta, dtype=float))
    return flt.run(prior, times, ys, t0).log_evidence


def posterior_grid(build, thetas, times, ys, *, log_prior=None, t0: float = 0.0,
                   executor=None) -> tuple[np.ndarray, np.ndarray, float]:  # fmt: skip
    """The posterior over the parameter values ``thetas`` (``(J, n)``, or ``(J,)`` for one
    parameter) with prior weights ``exp(log_prior)`` (default uniform over the grid).

    Returns ``(log_likelihoods (J,), posterior (J,), log_evidence)``: ``log_evidence`` is
    ``log sum_j pi_j p(y | theta_j)`` with ``pi`` normalised, the evidence of the model with
    ``theta`` drawn from the grid's prior (two models' values differ by the log Bayes factor).
    """
    thetas = np.asarray(thetas, dtype=float)
    points = thetas[:, None] if thetas.ndim == 1 else thetas
    J = points.shape[0]
    log_prior = np.full(J, -np.log(J)) if log_prior is None else np.asarray(log_prior, float)
    if log_prior.shape != (J,):
        raise ValueError(f"log_prior must have one value per theta ({J}), got {log_prior.shape}")
    log_prior = log_prior - np.logaddexp.reduce(log_prior)
    objective = _Objective(build, np.asarray(times, dtype=float), ys, float(t0))
    ll = np.array(_map(objective, list(points), executor))
    joint = ll + log_prior
    log_evidence = float(np.logaddexp.reduce(joint))
    return ll, np.exp(joint - log_evidence), log_evidence


class _Objective:
    """A picklable ``theta -> l(theta)`` for executors."""

    def __init__(self, build, times, ys, t0):
        self.build, self.times, self.ys, self.t0 = build, times, ys, t0

    def __call__(self, theta) -> float:
        return log_likelihood(self.build, theta, self.times, self.ys, self.t0)


def _map(fn, points, executor):
    return list(map(fn, points) if executor is None else executor.map(fn, points))


def hessian(fn, theta: np.ndarray, steps: np.ndarray, executor=None) -> np.ndarray:
    """Central finite-difference Hessian of ``fn`` at ``theta`` (``O(h^2)``): the diagonal
    from ``f(theta +- h_i e_i)``, the off-diagonal from the four points ``+-h_i, +-h_j``."""
    n = theta.size
    points, keys = [theta], [("0",)]
    for i in range(n):
        for s in (1, -1):
            points.append(theta + s * steps[i] * np.eye(n)[i])
            keys.append(("d", i, s))
    for i in range(n):
        for j in range(i + 1, n):
            for si in (1, -1):
                for sj in (1, -1):
                    points.append(
                        theta + si * steps[i] * np.eye(n)[i] + sj * steps[j] * np.eye(n)[j]
                    )
                    keys.append(("o", i, j, si, sj))
    values = dict(zip(keys, _map(fn, points, executor), strict=True))
    H = np.empty((n, n))
    f0 = values[("0",)]
    for i in range(n):
        H[i, i] = (values[("d", i, 1)] - 2 * f0 + values[("d", i, -1)]) / steps[i] ** 2
        for j in range(i + 1, n):
            v = values
            H[i, j] = H[j, i] = (v[("o", i, j, 1, 1)] - v[("o", i, j, 1, -1)]
                                 - v[("o", i, j, -1, 1)] + v[("o", i, j, -1, -1)]) / (
                4 * steps[i] * steps[j])  # fmt: skip
    return H


@dataclass
class Estimate:
    """The result of :func:`estimate`.

    Attributes
    ----------
    theta : ndarray (n,)
        The maximum-likelihood estimate.
    log_likelihood : float
        ``l(theta_hat)``.
    information : ndarray (n, n)
        The observed information ``-grad^2 l(theta_hat)``.
    stderr : ndarray (n,)
        ``sqrt(diag(information^-1))`` (NaN where a diagonal entry of the inverse is not
        positive, or the information is singular). The Hessian's points are ``theta +- h``
        whatever the bounds: an estimate on a bound may need a model defined just beyond it.
    evaluations : int
        Filter runs of the optimisation.
    """

    theta: np.ndarray
    log_likelihood: float
    information: np.ndarray
    stderr: np.ndarray
    evaluations: int
    _objective: _Objective = field(repr=False)
    _bounds: object = field(repr=False, default=None)
    _executor: object = field(repr=False, default=None)

    def profile(self, i: int, values) -> np.ndarray:
        """The profile log-likelihood of parameter ``i``: ``max_{theta_{-i}} l`` with
        ``theta_i`` fixed at each of ``values`` (the others started from the estimate)."""
        from scipy import optimize

        values = np.atleast_1d(np.asarray(values, dtype=float))
        n = self.theta.size
        if n == 1:
            return np.array(_map(self._objective, [np.array([v]) for v in values],
                                 self._executor))  # fmt: skip
        rest = [k for k in range(n) if k != i]
        bounds = None if self._bounds is None else [self._bounds[k] for k in rest]
        out = []
        for v in values:

            def inner(x, v=v):
                theta = np.empty(n)
                theta[i], theta[rest] = v, x
                return -self._objective(theta)

            res = optimize.minimize(inner, self.theta[rest], method="Nelder-Mead" if bounds is None
                                    else "L-BFGS-B", bounds=bounds)  # fmt: skip
            out.append(-res.fun)
        return np.array(out)


def estimate(build, theta0, times, ys, *, t0: float = 0.0, bounds=None, method=None,
             rel_step: float = 1e-3, executor=None, options=None) -> Estimate:  # fmt: skip
    """Maximum-likelihood ``theta`` of the model ``build(theta) -> (filter, prior)`` given the
    observations, with standard errors from the observed information.

    Parameters
    ----------
    build : callable
        ``theta (n,) -> (pfda.Filter, prior)``.
    theta0 : array (n,)
        Starting point.
    bounds : sequence of (low, high), optional
        Passed to :func:`scipy.optimize.minimize`.
    method : str, optional
        SciPy's method (default: Nelder-Mead without bounds, L-BFGS-B with them).
    rel_step : float
        Relative step of the finite-difference Hessian.
    executor : concurrent.futures.Executor, optional
        Runs the Hessian's filter evaluations (and a profile's) in parallel.
    """
    from scipy import optimize

    theta0 = np.atleast_1d(np.asarray(theta0, dtype=float))
    times = np.asarray(times, dtype=float)
    objective = _Objective(build, times, ys, float(t0))
    if method is None:
        method = "Nelder-Mead" if bounds is None else "L-BFGS-B"
    opts = {"xatol": 1e-6, "fatol": 1e-8, "maxiter": 2000} if method == "Nelder-Mead" else {}
    opts.update(options or {})
    res = optimize.minimize(lambda th: -objective(th), theta0, method=method, bounds=bounds,
                            options=opts)  # fmt: skip
    theta = np.asarray(res.x, dtype=float)
    steps = rel_step * np.maximum(np.abs(theta), 1.0)
    info = -hessian(objective, theta, steps, executor)
    try:
        cov = np.linalg.inv(info)
        stderr = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    except np.linalg.LinAlgError:
        stderr = np.full(theta.size, np.nan)
    return Estimate(theta, float(-res.fun), info, stderr, int(res.nfev), objective, bounds,
                    executor)  # fmt: skip
