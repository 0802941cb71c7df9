"""Creation functions: NumPy's values, with fnad's documented dtype defaults (float32 for
created floats, int32 for Python ints); `full` with a traced fill value stays traced."""

from __future__ import annotations

import numpy as np
import pytest
from fnp_cases import assert_same, check

import fnad
import fnad.numpy as fnp


@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
def test_filled(name):
    ref = np.zeros if name == "empty" else getattr(np, name)
    assert_same(getattr(fnp, name)((2, 3)), ref((2, 3), np.float32))
    assert_same(getattr(fnp, name)(3, np.int32), ref(3, np.int32))
    like = getattr(fnp, name + "_like")
    assert_same(like(np.ones((2, 1), np.float64)), ref((2, 1), np.float64))
    assert_same(like(np.ones((2, 1)), dtype=np.int32, shape=(4,)), ref(4, np.int32))


def test_full():
    assert_same(fnp.full((2, 2), 1.5), np.full((2, 2), 1.5, np.float32))
    assert_same(fnp.full(3, 7), np.full(3, 7, np.int32))
    assert_same(fnp.full(3, np.float64(2)), np.full(3, 2.0))
    assert_same(fnp.full_like(np.ones(2, np.int32), 2.7), np.full(2, 2, np.int32))
    check(lambda v: fnp.full((2, 3), v), lambda v: np.full((2, 3), v), (np.float32(1.5),))
    check(lambda v: fnp.full((2, 3), v * 2), lambda v: np.full((2, 3), v * 2),
          (np.arange(3, dtype=np.float32),))


def test_full_of_a_tracer_is_traced():
    jaxpr = fnad.make_jaxpr(lambda v: fnp.full((2,), v))(np.float32(1))
    assert any(e.prim.name == "broadcast_in_dim" for e in jaxpr.eqns)


def test_ranges():
    assert_same(fnp.arange(5), np.arange(5, dtype=np.int32))
    assert_same(fnp.arange(1, 7, 2), np.arange(1, 7, 2, dtype=np.int32))
    assert_same(fnp.arange(0.0, 1.0, 0.25), np.arange(0, 1, 0.25, dtype=np.float32))
    assert_same(fnp.arange(3, dtype=np.float64), np.arange(3.0))
    assert_same(fnp.linspace(0, 1, 5), np.linspace(0, 1, 5, dtype=np.float32))
    out, step = fnp.linspace(0, 1, 4, endpoint=False, retstep=True)
    assert_same((out, step), (np.linspace(0, 1, 4, endpoint=False, dtype=np.float32), 0.25))
    assert_same(fnp.linspace(np.zeros(2), np.ones(2), 3, axis=1),
                np.linspace(np.zeros(2), np.ones(2), 3, axis=1))


def test_matrices():
    assert_same(fnp.eye(3, 4, 1), np.eye(3, 4, 1, np.float32))
    assert_same(fnp.identity(2, np.int32), np.identity(2, np.int32))
    assert_same(fnp.tri(3, k=-1), np.tri(3, k=-1, dtype=np.float32))


def test_meshgrid():
    x, y, z = np.arange(2.0), np.arange(3.0), np.arange(4.0)
    for indexing in ("xy", "ij"):
        for args in ((x, y, z), (x, y)):
            check(lambda *a, i=indexing: fnp.meshgrid(*a, indexing=i),
                  lambda *a, i=indexing: np.meshgrid(*a, indexing=i), args)


def test_array_copies_and_asarray_does_not():
    x = np.ones(3, np.float32)
    assert fnp.asarray(x) is x
    assert fnp.array(x) is not x and fnp.copy(x) is not x
    assert_same(fnp.array([1, 2], np.float64), np.array([1.0, 2.0]))
