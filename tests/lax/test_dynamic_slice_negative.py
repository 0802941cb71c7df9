"""Start indices of the dynamic slices read as JAX reads them (`_dynamic_slice_indices`, then
XLA's clamp): a negative start counts from the end (unless allow_negative_indices is False
for its axis), then the window moves to stay in bounds. Checked against that rule in NumPy,
eagerly, under jit on every backend with traced starts, under vmap with batched starts,
and through derivatives (whose transposes must not wrap a start twice)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.backends import available_backends
from fnad.test_util import assert_allclose, check_grads, check_vmap

RNG = np.random.default_rng(3)


def ref_start(i: int, n: int, k: int, allow: bool = True) -> int:
    """JAX's documented rule: i + n for a negative i (where allowed), clamped to [0, n - k]."""
    i = int(i)
    if allow and i < 0:
        i += n
    return min(max(i, 0), n - k)


def ref_slice(x: np.ndarray, starts, sizes, allow=True) -> np.ndarray:
    allow = [allow] * x.ndim if isinstance(allow, bool) else allow
    s = [ref_start(i, n, k, a) for i, n, k, a in zip(starts, x.shape, sizes, allow)]
    return x[tuple(slice(a, a + k) for a, k in zip(s, sizes))]


def ref_update(x: np.ndarray, u: np.ndarray, starts, allow=True) -> np.ndarray:
    allow = [allow] * x.ndim if isinstance(allow, bool) else allow
    s = [ref_start(i, n, k, a) for i, n, k, a in zip(starts, x.shape, u.shape, allow)]
    out = x.copy()
    out[tuple(slice(a, a + k) for a, k in zip(s, u.shape))] = u
    return out


@st.composite
def windows(draw):
    """An operand shape, a window inside it, and starts from far below -n to far past n."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    sizes = tuple(draw(st.integers(0, n)) for n in shape)
    starts = tuple(draw(st.integers(-2 * n - 2, 2 * n + 2)) for n in shape)
    return shape, sizes, starts


STARTS_DTYPES = (np.int32, np.int64, np.int8, np.int16)


@settings(max_examples=60, deadline=None)
@given(windows(), st.sampled_from(STARTS_DTYPES))
def test_dynamic_slice_eager_and_jit_follow_jax(case, dtype):
    shape, sizes, starts = case
    x = RNG.standard_normal(shape)
    want = ref_slice(x, starts, sizes)
    np.testing.assert_array_equal(lax.dynamic_slice(x, starts, sizes), want)  # static ints
    typed = [dtype(s) for s in starts]
    arrays = [np.asarray(s, dtype) for s in starts]
    np.testing.assert_array_equal(lax.dynamic_slice(x, typed, sizes), want)
    np.testing.assert_array_equal(lax.dynamic_slice(x, arrays, sizes), want)
    for backend in available_backends():  # traced starts
        f = fnad.jit(lambda x, *s: lax.dynamic_slice(x, s, sizes), backend=backend)
        np.testing.assert_array_equal(f(x, *arrays), want, err_msg=backend)


@settings(max_examples=60, deadline=None)
@given(windows(), st.sampled_from(STARTS_DTYPES))
def test_dynamic_update_slice_eager_and_jit_follow_jax(case, dtype):
    shape, sizes, starts = case
    x, u = RNG.standard_normal(shape), RNG.standard_normal(sizes)
    want = ref_update(x, u, starts)
    np.testing.assert_array_equal(lax.dynamic_update_slice(x, u, starts), want)
    arrays = [np.asarray(s, dtype) for s in starts]
    np.testing.assert_array_equal(lax.dynamic_update_slice(x, u, arrays), want)
    for backend in available_backends():
        f = fnad.jit(lambda x, u, *s: lax.dynamic_update_slice(x, u, s), backend=backend)
        np.testing.assert_array_equal(f(x, u, *arrays), want, err_msg=backend)


def test_jax_documented_examples_and_edges():
    x = np.arange(5, dtype=np.int32)
    cases = {-1: [3, 4], -2: [3, 4], -3: [2, 3], -5: [0, 1], -6: [0, 1], -100: [0, 1],
             4: [3, 4], 100: [3, 4], 0: [0, 1]}
    for i, want in cases.items():
        for start in (i, np.int32(i), np.asarray(i, np.int64)):
            np.testing.assert_array_equal(lax.dynamic_slice(x, (start,), (2,)), want)
            np.testing.assert_array_equal(lax.dynamic_slice_in_dim(x, start, 2), want)
    # a 1-D array of starts, concrete or traced, as JAX takes it
    m = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(lax.dynamic_slice(m, np.array([-1, -3]), (2, 2)),
                                  m[1:3, 1:3])
    np.testing.assert_array_equal(
        fnad.jit(lambda m, s: lax.dynamic_slice(m, s, (2, 2)))(m, np.array([-1, -3])),
        m[1:3, 1:3])
    # an index dtype too narrow for i + n: no wrap-around
    big = np.arange(300)
    np.testing.assert_array_equal(lax.dynamic_slice(big, (np.int8(-100),), (3,)),
                                  big[200:203])
    np.testing.assert_array_equal(
        fnad.jit(lambda b, i: lax.dynamic_slice(b, (i,), (3,)))(big, np.int8(-100)),
        big[200:203])
    # unsigned starts are never negative
    np.testing.assert_array_equal(lax.dynamic_slice(x, (np.uint32(3),), (2,)), [3, 4])


def test_allow_negative_indices_false():
    x = np.arange(6.0)
    with pytest.raises(IndexError, match="allow_negative_indices=False"):
        lax.dynamic_slice(x, (-2,), (2,), allow_negative_indices=False)
    with pytest.raises(IndexError, match="dynamic_update_slice"):
        lax.dynamic_update_slice(x, np.ones(2), (-1,), allow_negative_indices=False)
    # a traced negative start is out of bounds: clamped to the first index
    f = fnad.jit(lambda x, i: lax.dynamic_slice(x, (i,), (2,), allow_negative_indices=False))
    np.testing.assert_array_equal(f(x, np.int32(-2)), [0.0, 1.0])
    # per axis
    m = np.arange(20.0).reshape(4, 5)
    for starts in ((-1, -1), (np.int32(-1), np.int32(-1))):
        got = lax.dynamic_slice(m, (np.asarray(starts[0]), np.asarray(starts[1])), (2, 2),
                                allow_negative_indices=(True, False))
        np.testing.assert_array_equal(got, ref_slice(m, (-1, -1), (2, 2), [True, False]))
    with pytest.raises(fnad.ShapeError, match="allow_negative_indices has 1 entries"):
        lax.dynamic_slice(m, (0, 0), (2, 2), allow_negative_indices=(True,))
    with pytest.raises(fnad.ShapeError, match="1 start indices"):
        lax.dynamic_slice(m, (0,), (2, 2))
    with pytest.raises(fnad.DTypeError, match="integer"):
        lax.dynamic_slice(m, (np.float32(1), 0), (2, 2))


@pytest.mark.parametrize("i", [-9, -7, -5, -4, -1, 0, 2, 4, 8])
def test_in_dim_helpers(i):
    x = RNG.standard_normal((3, 5))
    n, a = 5, 1
    s = ref_start(i, n, 2)
    idx = np.int32(i)
    jit = fnad.jit
    np.testing.assert_array_equal(lax.dynamic_slice_in_dim(x, idx, 2, axis=a), x[:, s:s + 2])
    np.testing.assert_array_equal(
        jit(lambda x, i: lax.dynamic_slice_in_dim(x, i, 2, axis=1))(x, idx), x[:, s:s + 2])
    r = ref_start(i, n, 1)
    np.testing.assert_array_equal(
        jit(lambda x, i: lax.dynamic_index_in_dim(x, i, 1, keepdims=False))(x, idx), x[:, r])
    u = RNG.standard_normal((3, 2))
    want = x.copy()
    want[:, s:s + 2] = u
    np.testing.assert_array_equal(
        jit(lambda x, u, i: lax.dynamic_update_slice_in_dim(x, u, i, 1))(x, u, idx), want)
    want = x.copy()
    want[:, r] = u[:, 0]
    np.testing.assert_array_equal(lax.dynamic_update_index_in_dim(x, u[:, 0], idx, 1), want)
    np.testing.assert_array_equal(
        jit(lambda x, u, i: lax.dynamic_update_index_in_dim(x, u, i, 1))(x, u[:, 0], idx), want)


def test_vmap_with_batched_starts():
    x = RNG.standard_normal((6, 5))
    starts = np.array([-14, -7, -6, -3, -1, 0, 3, 6, 11], np.int32)
    f = lambda x, i, j: lax.dynamic_slice(x, (i, j), (3, 2))  # noqa: E731
    xs = RNG.standard_normal((len(starts), 6, 5))
    for in_axes, args in [((None, 0, None), (x, starts, np.int32(-2))),
                          ((None, 0, 0), (x, starts, starts[::-1].copy())),
                          ((0, 0, None), (xs, starts, np.int32(-1)))]:
        check_vmap(f, args, in_axes=in_axes)
        got = fnad.jit(fnad.vmap(f, in_axes=in_axes))(*args)
        assert_allclose(got, fnad.vmap(f, in_axes=in_axes)(*args), 0, 0)
    g = lambda x, u, i: lax.dynamic_update_slice(x, u, (i, np.int32(-3)))  # noqa: E731
    us = RNG.standard_normal((len(starts), 2, 2))
    check_vmap(g, (x, us, starts), in_axes=(None, 0, 0))
    check_vmap(g, (xs, us, starts), in_axes=(0, 0, 0))
    check_vmap(g, (xs, us[0], starts), in_axes=(0, None, 0))
    for k, i in enumerate(starts):  # against the rule itself, not only the loop
        np.testing.assert_array_equal(fnad.vmap(g, in_axes=(None, 0, 0))(x, us, starts)[k],
                                      ref_update(x, us[k], (i, -3)))


@pytest.mark.parametrize("i", [-11, -7, -6, -3, -1, 0, 4, 9])
def test_grads_with_negative_starts(i):
    """The transposes reuse the primitive's starts (already counted from the start):
    wrapping them again would send the cotangent to the wrong window for i < -n."""
    x, u = RNG.standard_normal(6), RNG.standard_normal(2)
    idx = np.int32(i)
    check_grads(lambda x: lax.dynamic_slice(x, (idx,), (2,)) ** 2, (x,), order=2)
    check_grads(lambda x, u: lax.dynamic_update_slice(x, u * u, (idx,)), (x, u), order=2)
    s = ref_start(i, 6, 2)
    w = np.array([2.0, 3.0])
    want = np.zeros(6)
    want[s:s + 2] = w
    g = fnad.grad(lambda x, j: fnp.sum(lax.dynamic_slice(x, (j,), (2,)) * w))
    np.testing.assert_array_equal(g(x, idx), want)
    np.testing.assert_array_equal(fnad.jit(g)(x, idx), want)  # a traced start
    gx, gu = fnad.jit(fnad.grad(lambda x, u, j: fnp.sum(
        lax.dynamic_update_slice(x, u, (j,)) * np.arange(6.0)), argnums=(0, 1)))(x, u, idx)
    mask = np.arange(6.0)
    mask[s:s + 2] = 0
    np.testing.assert_array_equal(gx, mask)
    np.testing.assert_array_equal(gu, np.arange(6.0)[s:s + 2])


def test_vmap_of_grad_with_batched_negative_starts():
    x = RNG.standard_normal(6)
    starts = np.array([-11, -7, -3, -1, 2, 5], np.int32)
    w = np.array([2.0, 3.0])
    g = fnad.vmap(fnad.grad(lambda x, i: fnp.sum(lax.dynamic_slice(x, (i,), (2,)) * w)),
                  in_axes=(None, 0))(x, starts)
    for row, i in zip(g, starts):
        want = np.zeros(6)
        s = ref_start(i, 6, 2)
        want[s:s + 2] = w
        np.testing.assert_array_equal(row, want)


def test_numpy_indexing_counts_a_negative_index_once():
    """fnad.numpy indexing wraps a traced index itself (as jnp does) and then asks the
    slice not to wrap it again."""
    x = np.arange(5.0)
    get = fnad.jit(lambda x, i: x[i])
    for i in (-7, -5, -2, 0, 3):
        want = x[ref_start(i, 5, 1)]
        np.testing.assert_array_equal(get(x, np.int32(i)), want)
    put = fnad.jit(lambda x, i: x.at[i].set(9.0))
    np.testing.assert_array_equal(put(x, np.int32(-2)), [0, 1, 2, 9, 4])
