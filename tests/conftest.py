"""Shared test configuration: seeded randomness and fatal floating-point errors."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# tests/references.py is imported as a plain module by the numerical tests
sys.path.insert(0, str(Path(__file__).parent))

SEED = 20240607

# Hypothesis draws from a fixed seed: every run explores the same examples.
settings.register_profile(
    "pfda",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("pfda")


@pytest.fixture
def rng() -> np.random.Generator:
    """A freshly seeded generator for each test."""
    return np.random.default_rng(SEED)


FLOATING_POINT_ERRORS = dict(over="raise", invalid="raise", divide="raise", under="ignore")


@pytest.fixture(scope="session", autouse=True)
def _fatal_floating_point_errors_in_shared_fixtures():
    """The same strictness for module- and session-scoped fixtures."""
    with np.errstate(**FLOATING_POINT_ERRORS):
        yield


@pytest.fixture(autouse=True)
def _fatal_floating_point_errors():
    """Overflow, invalid operations and division by zero fail the test.

    Underflow is allowed: densities legitimately decay to below the smallest normal double.
    Code that means to take ``log(0)`` should say so with its own ``np.errstate``.
    """
    with np.errstate(**FLOATING_POINT_ERRORS):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            yield


def pytest_configure(config):
    """Under xdist, compile the shared kernels once before the workers start: two processes
    fill Numba's disk cache side by side (tests/warmup.py), where each worker would otherwise
    compile every kernel again on a cold cache."""
    if getattr(config, "workerinput", None) is not None:  # a worker
        return
    if not (config.pluginmanager.hasplugin("xdist") and config.getoption("numprocesses", None)):
        return
    script = str(Path(__file__).parent / "warmup.py")
    procs = [
        subprocess.Popen(
            [sys.executable, script, group], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )  # fmt: skip
        for group in ("fixed", "window")
    ]
    for proc in procs:
        proc.wait()
