"""The forward-backward smoother on a fixed grid: ``p(x_k | y_{1:K})`` for every ``k``.

With ``p_k`` the filter's posterior after observation ``k``, ``q_{k+1} = T_k p_k`` its forecast
for observation ``k+1`` (``T_k`` the transfer operator of the interval, the steps the filter
took), the smoothed cell probabilities follow backwards from ``s_K = p_K`` (Kitagawa 1987):

    s_k = p_k * T_k^T [ s_{k+1} / q_{k+1} ]        (elementwise; 0 where q_{k+1} = 0),

normalised. ``T_k^T`` is the adjoint of the interval's linear steps
(:meth:`pfda.Propagator.adjoint`), so the smoother needs a linear scheme; the filter stores the
``K`` forecasts (``K N`` floats) and the step of each interval, which the backward pass takes
again. With a linear-Gaussian model and a converged grid, ``s_k`` is the Rauch--Tung--Striebel
smoother's Gaussian.
"""

from __future__ import annotations

import time as _time

import numpy as np

from .compiled import CompileClock
from .kernels import moments
from .meshes import Fixed
from .results import FilterResult

__all__ = ["smooth"]


def smooth(flt, prior, times, ys, t0: float = 0.0) -> FilterResult:
    """Smoothed densities of ``flt`` (a :class:`pfda.Filter` on a fixed mesh with a linear
    scheme) given all the observations; a :class:`FilterResult` whose ``probabilities``,
    ``mean`` and ``cov`` are the smoothed ones (the evidence, the time-error estimates and the
    mass lost are the filter's)."""
    if not isinstance(flt.mesh, Fixed):
        raise ValueError(
            "the smoother runs on a fixed mesh (mesh='fixed'): the backward pass through a "
            "window's remaps is not available"
        )
    if flt.scheme.startswith("split-"):
        raise ValueError(
            f"the smoother needs a linear scheme: {flt.scheme} is nonlinear in p (its "
            "limiters); use scheme='exponential' (exact in time) or 'implicit' "
            "(crank-nicolson only with dt under its positivity bound, where no clipping "
            "makes the forward steps nonlinear)"
        )
    times, ys = flt.check_series(times, ys, float(t0))
    K, N = times.size, flt.grid.size
    store = {"q": np.empty((K, N)), "fraction": np.ones(K)}
    with CompileClock("the filter's kernels") as clock:
        start = _time.perf_counter()
        prop = flt.propagator
        try:
            out = flt.run_records(prior, times, ys, float(t0), forecasts=store)
            post, q = out["probabilities"], store["q"]
            s = np.empty_like(post)
            s[-1] = post[-1]
            for k in range(K - 2, -1, -1):
                ratio = np.divide(s[k + 1], q[k + 1], out=np.zeros(N), where=q[k + 1] > 0)
                prop.fraction = store["fraction"][k + 1]
                back = prop.adjoint(ratio, times[k], times[k + 1])
                s[k] = post[k] * np.maximum(back, 0.0)
                total = s[k].sum()
                if not total > 0:
                    raise ValueError(f"the smoothed density at update {k} has no mass")
                s[k] /= total
        finally:
            prop.fraction = 1.0
        lower, widths = out["lower"][0], out["widths"][0]
        cells = np.asarray(flt.grid.cells, dtype=np.int64)
        for k in range(K):
            moments(s[k], cells, lower, widths, out["mean"][k], out["cov"][k])
        out["probabilities"] = s
        elapsed = _time.perf_counter() - start
    return FilterResult(**out, wall_time=max(elapsed - clock.seconds, 0.0),
                        compile_time=clock.seconds)  # fmt: skip
