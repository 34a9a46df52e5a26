"""A user's Numba point functions as first-class functions, and what compiling costs.

A model may give its drift ``f(x) -> (d,)`` (or ``f(x, t)``) and its observation function
``h(x) -> (p,)`` as Numba ``@njit`` point functions. Passing such a dispatcher to a compiled
kernel would specialise the kernel on that one function, and Numba cannot cache that kernel on
disk: every new process would compile it again (tens of seconds for the window's kernels).
Instead each point function is wrapped once per process in a small C callback of one fixed
signature,

.. code-block:: text

    void point(double *x, double t, double *out)      # out[0:n_out] = f(x[0:n_in], t)

and the kernels take the callback's address, an integer, and call it through
:func:`call_point`. Their machine code then depends on no user function, so they are cached on
disk like every other kernel; only the few-line wrapper is compiled in each process. (Passing
the callback as a Numba first-class function works too, but Numba types and unboxes such an
argument in Python at every call: about 10 us, a fair part of a small window's observation.)

:func:`check_point_function` calls the function once, at a point of the box, before any
kernel does: a point function that returns fewer values than the kernels read would make them
read past its end.

:class:`CompileClock` measures the time Numba spends compiling (so that a run's ``wall_time``
can leave it out) and says on stderr when compiling takes more than a second.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref

import numba
import numpy as np
from llvmlite import ir
from numba import carray, types
from numba.core import event
from numba.extending import intrinsic

__all__ = [
    "CompileClock",
    "call_point",
    "apply_points",
    "check_point_function",
    "point_function",
]

POINT_SIGNATURE = types.void(
    types.CPointer(types.float64), types.float64, types.CPointer(types.float64)
)


@intrinsic
def call_point(typingctx, address, x, t, out):
    """``out[:n_out] = f(x[:n_in], t)`` for the wrapped point function at ``address`` (an
    int64 from :func:`point_function`); ``x`` and ``out`` are C-contiguous float64 arrays."""
    sig = types.void(address, x, types.float64, out)

    def codegen(context, builder, signature, args):
        addr, xv, tv, ov = args
        xa = context.make_array(signature.args[1])(context, builder, xv)
        oa = context.make_array(signature.args[3])(context, builder, ov)
        tv = context.cast(builder, tv, signature.args[2], types.float64)
        dbl = ir.DoubleType()
        fnty = ir.FunctionType(ir.VoidType(), [dbl.as_pointer(), dbl, dbl.as_pointer()])
        builder.call(builder.inttoptr(addr, fnty.as_pointer()), [xa.data, tv, oa.data])
        return context.get_dummy_value()

    return sig, codegen


_WRAPPED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_CLOCKS: list[CompileClock] = []  # the clocks running now (a wrapper's compile is no event)


def _wrap(f, n_in: int, n_out: int, time_dependent: bool):
    if time_dependent:

        def point(x_ptr, t, out_ptr):  # pragma: no cover - compiled
            x = carray(x_ptr, (n_in,))
            out = carray(out_ptr, (n_out,))
            v = f(x, t)
            for k in range(n_out):
                out[k] = v[k]
    else:

        def point(x_ptr, t, out_ptr):  # pragma: no cover - compiled
            x = carray(x_ptr, (n_in,))
            out = carray(out_ptr, (n_out,))
            v = f(x)
            for k in range(n_out):
                out[k] = v[k]

    return numba.cfunc(POINT_SIGNATURE)(point)


def point_function(f, n_in: int, n_out: int, time_dependent: bool = False) -> int:
    """The address of ``f`` (a Numba dispatcher) wrapped as a C callback for
    :func:`call_point`; the callback lives as long as ``f``.

    Compiled once per function, shape and process; check the function with
    :func:`check_point_function` first.
    """
    key = (int(n_in), int(n_out), bool(time_dependent))
    with _LOCK:
        table = _WRAPPED.setdefault(f, {})
        wrapped = table.get(key)
        if wrapped is None:
            start = time.perf_counter()
            wrapped = table[key] = _wrap(f, *key)
            for clock in _CLOCKS:
                clock.seconds += time.perf_counter() - start
    return int(wrapped.address)


@numba.njit(cache=True)
def apply_points(f, x, t, out):
    """``out[:, j] = f(x[:, j], t)`` for the point function at address ``f`` on the points ``x``
    (``(d, m)``, C order) into ``out`` (``(n_out, m)``)."""
    d, m = x.shape
    point = np.empty(d)
    value = np.empty(out.shape[0])
    for j in range(m):
        for k in range(d):
            point[k] = x[k, j]
        call_point(f, point, t, value)
        for k in range(out.shape[0]):
            out[k, j] = value[k]


def check_point_function(f, x: np.ndarray, n_out: int, time_dependent: bool, name: str) -> None:
    """Call the point function ``f`` at the point ``x`` and check it returns ``n_out`` finite
    values; raise a ``ValueError`` that says what is wrong otherwise."""
    x = np.ascontiguousarray(x, dtype=float)
    try:
        value = f(x, 0.0) if time_dependent else f(x)
    except Exception as exc:  # a typing error of Numba, an IndexError, ...
        raise ValueError(
            f"{name} failed at the point {x.tolist()} of the box: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc
    try:
        values = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must return {n_out} numbers, got {value!r}") from exc
    if values.size != n_out:
        raise ValueError(
            f"{name} returned {values.size} value(s) at the point {x.tolist()}, expected "
            f"{n_out}: a point function maps (d,) -> ({n_out},)"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} returned {values.tolist()} at {x.tolist()}: NaN or inf")


class _Listener(event.Listener):
    def __init__(self, clock: CompileClock) -> None:
        self.clock = clock
        self.depth = 0
        self.started = 0.0

    def on_start(self, ev) -> None:
        if self.depth == 0:
            self.started = time.perf_counter()
            self.clock._arm()
        self.depth += 1

    def on_end(self, ev) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.clock.seconds += time.perf_counter() - self.started
            self.clock._disarm()


class CompileClock:
    """Context manager: ``seconds`` spent compiling with Numba inside it (outermost compiles
    only), and a note on stderr once a compile has run for ``notice`` seconds.

    >>> with CompileClock("the kernels") as clock:
    ...     pass
    >>> clock.seconds
    0.0
    """

    def __init__(self, what: str = "the kernels", notice: float = 1.0) -> None:
        self.what = what
        self.notice = notice
        self.seconds = 0.0
        self._timer: threading.Timer | None = None
        self._said = False
        self._listener = _Listener(self)

    def _arm(self) -> None:
        if self._said or self._timer is not None or self.notice is None:
            return
        self._timer = threading.Timer(self.notice, self._say)
        self._timer.daemon = True
        self._timer.start()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _say(self) -> None:
        if self._listener.depth > 0 and not self._said:
            self._said = True
            print(f"pfda: compiling {self.what}... (once; cached on disk)", file=sys.stderr)
        self._timer = None

    def __enter__(self) -> CompileClock:
        event.register("numba:compile", self._listener)
        _CLOCKS.append(self)
        return self

    def __exit__(self, *exc) -> None:
        event.unregister("numba:compile", self._listener)
        _CLOCKS.remove(self)
        self._disarm()
