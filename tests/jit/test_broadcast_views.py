"""The NumPy backend's broadcast_in_dim (fnad/backends/numpy_backend.py): views built on the
operand's memory when it is C-contiguous, np.broadcast_to otherwise; the same values as
eager for every operand layout, and results the caller owns."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
from fnad import lax
from fnad.test_util import assert_allclose


def _layouts() -> list[np.ndarray]:
    base = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5
    return [base, np.asfortranarray(base), base[:, ::-1], np.ones((6, 8), np.float32)[::2, ::2],
            np.broadcast_to(base[:1], (3, 4)), base[:1]]


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("i", range(6))
def test_broadcast_of_any_layout_matches_eager(backend, i):
    x = _layouts()[i]
    f = lambda x: (lax.broadcast_in_dim(x, (2, x.shape[0], 5, x.shape[1]), (1, 3)) * 2.0,
                   lax.broadcast_in_dim(x, (2, *x.shape), (1, 2)))
    got = fnad.jit(f, backend=backend)(x)
    assert_allclose(got, f(x))
    assert got[1].flags.writeable and not np.shares_memory(got[1], x)


@pytest.mark.parametrize("x", [np.float32(2.5), np.array(-1.5, np.float64), np.int32(7)])
def test_broadcast_of_scalars(x):
    f = lambda x: lax.broadcast_in_dim(x, (3, 2), ()) + x
    assert_allclose(fnad.jit(f, backend="numpy")(x), f(x))
