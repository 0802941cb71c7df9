"""Tests for fnad/lax/sorting.py: sort (one or several operands, lexicographic keys),
sort_key_val and argsort against NumPy, with derivatives and batching."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
from fnad import lax
from fnad.core.errors import ShapeError
from fnad.test_util import assert_allclose, check_grads, check_transforms, check_vmap


def distinct(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 3.0 - 2.0


@pytest.mark.parametrize("shape, dimension", [((5,), 0), ((3, 4), 0), ((3, 4), -1),
                                              ((2, 3, 4), 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_sort_and_argsort_values(shape, dimension, dtype):
    x = (distinct(shape) * 3).astype(dtype)
    out = lax.sort(x, dimension)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.sort(x, axis=dimension))
    idx = lax.argsort(x, dimension)
    assert idx.dtype == np.int32
    np.testing.assert_array_equal(idx, np.argsort(x, axis=dimension, kind="stable"))
    check_transforms(lambda x: lax.sort(x, dimension), (x,))
    check_transforms(lambda x: lax.argsort(x, dimension), (x,))


def test_sort_ties_nans_and_stability():
    x = np.array([3.0, np.nan, 1.0, 3.0, -np.inf, 1.0])
    np.testing.assert_array_equal(lax.sort(x), np.sort(x))  # NaN last
    np.testing.assert_array_equal(lax.argsort(x), np.argsort(x, kind="stable"))
    keys = np.array([1, 0, 1, 0, 1])
    _, vals = lax.sort_key_val(keys, np.arange(5.0))
    np.testing.assert_array_equal(vals, [1.0, 3.0, 0.0, 2.0, 4.0])


def test_lexicographic_keys():
    rng = np.random.default_rng(0)
    k1, k2 = rng.integers(0, 3, (4, 10)), rng.integers(0, 3, (4, 10))
    payload = rng.standard_normal((4, 10))
    s1, s2, sp = lax.sort((k1, k2, payload), dimension=1, num_keys=2)
    perm = np.lexsort((k2, k1), axis=1)
    for got, want in [(s1, k1), (s2, k2), (sp, payload)]:
        np.testing.assert_array_equal(got, np.take_along_axis(want, perm, axis=1))
    # with one key only, ties in k1 keep their original order
    s1, s2 = lax.sort((k1, k2), dimension=1, num_keys=1)
    perm = np.argsort(k1, axis=1, kind="stable")
    np.testing.assert_array_equal(s2, np.take_along_axis(k2, perm, axis=1))


@pytest.mark.parametrize("shape, dimension", [((6,), 0), ((3, 4), 0), ((2, 3, 4), -1)])
def test_sort_grads(shape, dimension):
    x = distinct(shape)
    check_grads(lambda x: lax.sort(x, dimension), (x,), order=2)
    check_transforms(lambda x: fnad.vjp(lambda x: lax.sort(x, dimension), x)[1](x * x), (x,))
    # payloads follow the keys: derivative w.r.t. both the key and a float payload
    y = np.random.default_rng(1).standard_normal(shape)
    check_grads(lambda x, y: lax.sort((x, y), dimension), (x, y), order=2)


def test_sort_gradient_is_the_inverse_permutation():
    x = np.array([3.0, 1.0, 2.0])
    g = fnad.grad(lambda x: lax.reduce_sum(lax.mul(lax.sort(x), np.array([1.0, 10.0, 100.0])),
                                           (0,)))(x)
    assert_allclose(g, np.array([100.0, 1.0, 10.0]))
    # an integer key with a float payload: only the payload is differentiated
    keys = np.array([2, 0, 1])
    g = fnad.grad(lambda v: lax.reduce_sum(
        lax.mul(lax.sort_key_val(keys, v)[1], np.array([1.0, 10.0, 100.0])), (0,)))(x)
    assert_allclose(g, np.array([100.0, 1.0, 10.0]))


@pytest.mark.parametrize("in_axes", [0, 1, -1])
@pytest.mark.parametrize("dimension", [0, -1])
def test_sort_vmap(in_axes, dimension):
    x = distinct((3, 4, 5))
    check_vmap(lambda x: lax.sort(x, dimension), (x,), in_axes, 0)
    check_vmap(lambda x: lax.argsort(x, dimension), (x,), in_axes, -1)
    check_vmap(lambda x: fnad.jvp(lambda x: lax.sort(x, dimension), (x,), (x * x,))[1], (x,),
               in_axes, 0)


@pytest.mark.parametrize("in_axes", [(0, None), (None, 1), (1, 0)])
def test_sort_vmap_several_operands(in_axes):
    keys = np.array([[2, 0, 1, 0], [1, 1, 0, 2], [0, 2, 2, 1]])
    vals = distinct((3, 4))
    keys_b = keys if in_axes[0] is None else np.moveaxis(np.stack([keys, keys[::-1]]), 0,
                                                         in_axes[0])
    vals_b = vals if in_axes[1] is None else np.moveaxis(np.stack([vals, -vals]), 0, in_axes[1])
    check_vmap(lambda k, v: lax.sort((k, v), 1), (keys_b, vals_b), in_axes, 0)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.data())
def test_sort_hypothesis(shape, data):
    dimension = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    x = rng.integers(-3, 3, shape).astype(np.float64)  # many ties
    payload = rng.standard_normal(shape)
    sx, sp = lax.sort((x, payload), dimension)
    perm = np.argsort(x, axis=dimension, kind="stable")
    np.testing.assert_array_equal(sx, np.sort(x, axis=dimension))
    np.testing.assert_array_equal(sp, np.take_along_axis(payload, perm, axis=dimension))
    np.testing.assert_array_equal(lax.argsort(x, dimension), perm)
    # the payload derivative is exact even with tied keys
    check_grads(lambda p: lax.sort((x, p), dimension)[1], (payload,), order=1)


def test_sort_errors():
    with pytest.raises(ShapeError, match="same shape"):
        lax.sort((np.ones(3), np.ones(4)))
    with pytest.raises(ShapeError, match="num_keys"):
        lax.sort((np.ones(3), np.ones(3)), num_keys=3)
    with pytest.raises(ShapeError, match="out of range"):
        lax.sort(np.ones((2, 3)), dimension=2)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8])
def test_top_k(dtype):
    x = np.array([[3, 1, 4, 1, 5, 9, 2, 6], [0, 255, 7, 7, 1, 255, 3, 2]]).astype(dtype)
    if dtype == np.int32:
        x[1, 0] = np.iinfo(np.int32).min
        x[1, 1] = np.iinfo(np.int32).max
    values, indices = lax.top_k(x, 3)
    order = np.argsort(-x.astype(np.float64), axis=-1, kind="stable")[:, :3]
    np.testing.assert_array_equal(indices, order)
    np.testing.assert_array_equal(values, np.take_along_axis(x, order, -1))
    assert values.dtype == dtype and indices.dtype == np.int32


def test_top_k_transforms():
    x = distinct((3, 6))
    f = lambda x: lax.top_k(x, 2)[0]
    check_transforms(f, (x,))
    check_grads(f, (x,), order=2)
    check_vmap(f, (distinct((3, 6, 4)),), -1, 0)
    with pytest.raises(ShapeError, match="k=7"):
        lax.top_k(x, 7)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_top_k_ranks_floats_by_their_total_order(dtype):
    """JAX ranks NaN above inf and 0.0 above -0.0 (and -NaN below -inf); fnad put NaNs last."""
    x = np.array([1.0, -0.0, 0.0, np.nan, -np.inf, 0.0, -0.0, np.inf, -np.nan, 1.0], dtype)
    want = [3, 7, 0, 9, 2, 5, 1, 6, 4, 8]  # ties: the lower index first
    for f in (lax.top_k, fnad.jit(lax.top_k, static_argnums=1)):
        values, indices = f(x, 10)
        np.testing.assert_array_equal(indices, want)
        np.testing.assert_array_equal(np.signbit(values), np.signbit(x[want]))
        np.testing.assert_array_equal(values, x[want])
    idx = fnad.vmap(lambda r: lax.top_k(r, 2)[1])(np.stack([x, x[::-1]]))
    np.testing.assert_array_equal(idx, [[3, 7], [6, 2]])


def test_top_k_of_bools_and_along_an_axis():
    values, indices = lax.top_k(np.array([False, True, False, True]), 3)
    np.testing.assert_array_equal(values, [True, True, False])
    np.testing.assert_array_equal(indices, [1, 3, 0])
    x = np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    values, indices = lax.top_k(x, 1, axis=0)
    np.testing.assert_array_equal(values, [[4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(indices, [[1, 0, 1]])
    check_grads(lambda x: lax.top_k(x, 1, axis=0)[0], (x,), order=1)
    with pytest.raises(ShapeError, match="k=3 .* axis 0"):
        lax.top_k(x, 3, axis=0)


def test_approx_max_k_and_min_k_are_exact():
    """jax.lax.approx_max_k/approx_min_k were missing; on JAX's CPU they are exact, and
    fnad computes them exactly: values ordered, ties by index, 0.0 and -0.0 equal."""
    x = np.array([[1.0, -0.0, 0.0, 2.5, -np.inf, 3.0], [2.0, 1.0, 0.0, -1.0, 5.0, -0.0]])
    values, indices = lax.approx_max_k(x, 3)
    np.testing.assert_array_equal(indices, [[5, 3, 0], [4, 0, 1]])
    np.testing.assert_array_equal(values, np.take_along_axis(x, indices, -1))
    values, indices = lax.approx_min_k(x, 2, reduction_dimension=0)
    np.testing.assert_array_equal(indices, [[0, 0, 0, 1, 0, 1], [1, 1, 1, 0, 1, 0]])
    check_grads(lambda v: lax.approx_max_k(v, 2)[0], (distinct((3, 5)),), order=1)
    with pytest.raises(fnad.DTypeError, match="float"):
        lax.approx_min_k(np.arange(3), 1)


def test_complex_keys_sort_lexicographically_as_numpys():
    rng = np.random.default_rng(4)
    x = rng.integers(-2, 3, (3, 7)) + 1j * rng.integers(-2, 3, (3, 7))  # ties in both parts
    np.testing.assert_array_equal(lax.sort(x, dimension=1), np.sort(x, axis=1))
    np.testing.assert_array_equal(lax.argsort(x, dimension=1),
                                  np.argsort(x, axis=1, kind="stable"))
    z = rng.standard_normal((3, 5)) + 1j * rng.standard_normal((3, 5))
    check_grads(lambda v: lax.sort(v, dimension=0), (z,), order=2)
