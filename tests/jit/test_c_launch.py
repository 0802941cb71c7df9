"""The C backend's launch extension: kernels called through their packed entry compute what
the ctypes call computes, on dense, strided, broadcast and reversed operands, and bad
arguments raise instead of crashing."""

from __future__ import annotations

import os
import sysconfig

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.backends import c_backend
from fnad.test_util import assert_allclose

pytestmark = pytest.mark.skipif(not c_backend.available(), reason="no C compiler")
HEADERS = os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))


def _programs() -> list[tuple]:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 40)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    return [
        (lambda x, y: fnp.tanh(x * y + 1.0) * x, (a, b)),          # broadcast row
        (lambda x: fnp.exp(-x * x) - x / 3.0, (a.T,)),              # transposed view
        (lambda x: fnp.sin(x) * x + 2.0, (a[::-1, ::2],)),           # reversed, strided
        (lambda x: (fnp.sum(fnp.tanh(x) * x, axis=1), x * 2 + 1), (a.astype(np.float64),)),
        (lambda x, y: (x * y + x, x - y * 3), (a.astype(np.int64), a.astype(np.int64))),
    ]


@pytest.mark.skipif(not HEADERS, reason="no Python headers: kernels launch through ctypes")
def test_the_extension_builds_where_python_headers_are() -> None:
    assert c_backend._launch_extension() is not None


@pytest.mark.parametrize("case", range(5))
def test_packed_launch_matches_ctypes(case: int, monkeypatch) -> None:
    f, args = _programs()[case]
    fast = fnad.jit(f, backend="c")(*args)
    monkeypatch.setattr(c_backend, "_launch_extension", lambda: None)
    slow = fnad.jit(f, backend="c")(*args)
    assert_allclose(fast, slow, rtol=0, atol=0)
    assert_allclose(fast, fnad.jit(f, backend="numpy")(*args))


@pytest.mark.skipif(not HEADERS, reason="no Python headers: kernels launch through ctypes")
def test_bad_launch_arguments_raise() -> None:
    launch = c_backend._launch_extension()
    x = np.ones(4, np.float32)
    packed = np.zeros(3, np.int64).tobytes()
    with pytest.raises(TypeError, match="NumPy array was expected"):
        launch(1, packed, (1, 2), [[1.0, 2.0]], [x])
    with pytest.raises(ValueError, match="2 slots for 1 arrays"):
        launch(1, packed, (1, 2), [x], [])
    with pytest.raises(ValueError, match="slot 7 outside the 3 arguments"):
        launch(1, packed, (1, 7), [x], [x])
    with pytest.raises(TypeError, match="launch\\(kernel"):
        launch(1, packed, [1], [x], [])
