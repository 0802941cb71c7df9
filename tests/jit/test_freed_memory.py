"""Compiled programs reuse the memory of the large temporaries they free: calling one again
touches no fresh pages (glibc would otherwise return each block to the system, and every
call would pay a page fault per 4 KB)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax

resource = pytest.importorskip("resource")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")


def faults_per_call(f, *args, calls: int = 10) -> float:
    f(*args)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        f(*args)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def test_a_scan_with_large_stacked_outputs_touches_no_fresh_pages_per_call() -> None:
    def f(w, xs):  # 1 MB of stacked ys and 1 MB of batched products per call
        def body(h, x):
            h = fnp.tanh(h @ w + x)
            return h, h * 2.0
        return lax.scan(body, fnp.zeros((64, 128), np.float32), xs @ w)

    w = np.eye(128, dtype=np.float32) * 0.5
    xs = np.ones((32, 64, 128), np.float32)
    g = fnad.jit(f, backend="numpy")
    # 3 MB fresh each call would be 750 faults; allow some for the results handed back
    assert faults_per_call(g, w, xs) < 150
    h, ys = g(w, xs)
    assert np.allclose(ys[-1], 2 * h)
