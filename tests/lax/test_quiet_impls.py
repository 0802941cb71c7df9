"""Elementwise primitives answer out-of-range inputs with inf or NaN, as JAX does, and no
NumPy warning escapes: not from the computation, nor from casting a wider result back to
the input's dtype (expi of a large float32 overflowed in that cast)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fnad.core.errors import FnadError
from fnad.core.primitive import Elementwise, fnad_primitives

EDGES = np.array([0.0, -0.0, 1e-38, -1e-38, 1.0, -1.0, 88.7, 89.0, 295.9, -295.9, 1e30,
                  -1e30, np.inf, -np.inf, np.nan])


def _unary(prim) -> bool:
    try:
        prim.bind(np.ones(2, np.float32))
    except (FnadError, TypeError):  # more operands, parameters, or integers only
        return False
    return True


UNARY = sorted(name for name, p in fnad_primitives().items()
               if type(p.kernel) is Elementwise and _unary(p))


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_elementwise_edges_are_silent(name: str, dtype: type) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fnad_primitives()[name].bind(EDGES.astype(dtype))


def test_expi_overflows_to_inf() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fnad_primitives()["expi"].bind(np.float32(295.9)) == np.inf
