"""Time-error estimates of an observation interval, and the step they choose.

A scheme of order ``q`` with steps of length ``tau`` errs in the propagated density by
``e(tau) ~ C tau^q``. Taking the interval a second time with every step halved gives
``p_{tau/2}``, and with ``e(tau) - e(tau/2) = (1 - 2^-q) e(tau)`` (Richardson)

    err(tau) ~ ||p_tau - p_{tau/2}||_1 / ((1 - 2^-q) ||p_tau||_1),

the estimated relative L1 error of the interval's prior (the propagated density). The same two
densities weighed by the likelihood ``g`` of the next observation estimate the time error of the
log-evidence increment ``log sum(q g) - log sum(q)``:

    delta(tau) ~ (incr(p_tau) - incr(p_{tau/2})) / (1 - 2^-q).

:class:`StepControl` takes every ``check_every``-th interval twice (the first one always).
A checked interval keeps the finer density, whose estimates are ``err / 2^q`` and
``delta / 2^q``. While ``err > tol`` the steps halve (``fraction`` halves) and the interval is
taken again, the finer density of one round being the coarser of the next; the last step that
met ``tol`` is the step of the later intervals. Where ``2^q err < tol / 2`` after a refinement,
the steps double again (and are checked at once). An interval that is not checked carries the
estimates ``err`` and ``delta`` of the last check of its step.

Where a halving does not cut the estimate (below :data:`STALL` of the last one), the difference
is not a time error: an iterative or quantum solver's own error, or a window's remaps, dominate.
The control then stops refining that interval and goes back to the longer step (``stalled``,
and the filter warns); the estimate stays an upper bound on the time error, and later checks
try again. Where the estimate still exceeds ``tol`` at :data:`SMALLEST_FRACTION` of the step
bounds, the control keeps that step (``floored``, and the filter warns).

Schemes exact in time (``exponential`` with a time-independent generator: ``expm`` applied to
working precision) are never checked; their estimate is ``0``.

The split schemes (``split-ppm``, ``split-mc``) are estimated but never refined
(``refine=False``): their halved-step difference holds, besides the Strang splitting error
(``O(tau^2)``), the limiter's dependence on the Courant number, a spatial error that does not
vanish as the step shrinks (more, shorter steps diffuse more). The estimate, with the order-2
scaling, is then a measure of the interval's sensitivity to the step rather than an
asymptotically exact time error, and the density kept is the one of the unhalved steps, so
that ``tol`` changes nothing but the estimates.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ORDERS", "StepControl", "increment", "relative_l1"]

#: The order in time of each scheme (Strang splitting and the midpoint exponential: 2).
ORDERS = {
    "explicit": 1,
    "implicit": 1,
    "crank-nicolson": 2,
    "exponential": 2,
    "split-ppm": 2,
    "split-mc": 2,
}

#: A halving of the steps must cut the estimate below this factor of the last one (``2^-q`` in
#: the asymptotic regime); where it does not, the error is not the time error and the control
#: stops refining.
STALL = 0.75

#: The smallest fraction of the step bounds the control takes before it gives up refining.
SMALLEST_FRACTION = 2.0**-10


def relative_l1(p: np.ndarray, q: np.ndarray) -> float:
    """``||p - q||_1 / ||p||_1`` (``0`` when both are empty)."""
    total = float(np.sum(np.abs(p)))
    diff = float(np.sum(np.abs(p - q)))
    return diff / total if total > 0 else diff


def increment(q: np.ndarray, ll: np.ndarray) -> float:
    """The log-evidence increment ``log sum_i q_i g_i - log sum_i q_i`` with ``log g = ll``
    (cells without mass ignored; ``-inf`` when no cell with mass has positive likelihood)."""
    live = q > 0
    total = float(q[live].sum())
    if total <= 0:
        return -math.inf
    lw = np.log(q[live]) + ll[live]
    top = float(lw.max())
    if not math.isfinite(top):
        return -math.inf
    return top + math.log(float(np.exp(lw - top).sum())) - math.log(total)


class StepControl:
    """Checks the time error of observation intervals and sets the step fraction.

    Parameters
    ----------
    order : int
        Order in time of the scheme (:data:`ORDERS`).
    tol : float or None
        Tolerance on the estimated relative L1 error of each interval's propagated density;
        ``None``: nothing is checked, and the estimates are NaN (not estimated) unless the
        scheme is exact in time.
    check_every : int
        Take every ``check_every``-th interval twice (always the first).
    exact : bool
        The scheme is exact in time: nothing is checked, every estimate is ``0``.
    refine : bool
        Halve the steps where the estimate exceeds ``tol``; otherwise only estimate, and keep
        the unhalved density.
    """

    def __init__(self, order: int, tol: float, check_every: int, exact: bool = False,
                 refine: bool = True) -> None:  # fmt: skip
        self.order, self.tol, self.check_every, self.exact = order, tol, check_every, exact
        self.refine = refine
        self.fraction = 1.0
        self._due = True
        # the estimates of the last check at this fraction
        self._last = (0.0, 0.0) if exact or tol is not None else (math.nan, math.nan)
        self.refined = 0  # how often the steps halved
        self.stalled = False  # a halving that did not cut the estimate
        self._round = (math.inf, 0.0)  # the estimates of the previous round of this interval
        self.floored = False  # the estimate exceeded tol at the smallest fraction

    def begin(self) -> None:
        """A checked interval starts."""
        self._round = (math.inf, 0.0)

    def due(self, k: int) -> bool:
        """Whether interval ``k`` is taken twice."""
        if self.exact or self.tol is None:
            return False
        return self._due or k % self.check_every == 0

    def judge(self, p: np.ndarray, fine: np.ndarray, ll: np.ndarray) -> tuple[bool, float, float]:
        """Compare an interval's density ``p``, taken with the current :attr:`fraction`, with
        its twin ``fine`` taken with half of it (on the same cells); ``ll`` holds the next
        observation's log-likelihood at those cells.

        Returns ``(done, err, delta)``: the estimated relative L1 error and log-evidence error
        of ``fine``, the density the filter keeps. ``done`` is false while ``p``'s estimate
        exceeds ``tol`` (and the fraction is above :data:`SMALLEST_FRACTION`): the fraction has
        halved, and the interval is to be taken again with it. When done, the fraction is the
        one the next intervals take (doubled where the error allows).
        """
        scale = 1.0 / (1.0 - 2.0**-self.order)
        gain = 2.0**self.order
        err = relative_l1(p, fine) * scale
        a, b = increment(p, ll), increment(fine, ll)
        delta = (a - b) * scale if math.isfinite(a) and math.isfinite(b) else 0.0
        if not self.refine:  # estimated only: the unhalved density is kept
            self._due = False
            self._last = (err, delta)
            return True, err, delta
        previous = self._round
        self._round = (err, delta)
        self._due = False
        if not err < STALL * previous[0]:  # not the asymptotic regime: another error dominates
            self.stalled = True
            self.fraction = min(1.0, 2.0 * self.fraction)  # the halving bought nothing
            self._last = previous  # the estimates of that longer step
            return True, err / gain, delta / gain
        if err > self.tol:
            if self.fraction > SMALLEST_FRACTION:
                self.fraction *= 0.5
                self.refined += 1
                return False, err / gain, delta / gain
            self.floored = True
        elif self.fraction < 1.0 and gain * err < 0.5 * self.tol:
            self.fraction = min(1.0, 2.0 * self.fraction)
            self._due = True  # check the longer step at once
            self._last = (gain * err, gain * delta)
            return True, err / gain, delta / gain
        self._last = (err, delta)  # the estimates of a step of the next intervals
        return True, err / gain, delta / gain

    def carried(self) -> tuple[float, float]:
        """The estimates for an interval that is not checked."""
        return self._last
