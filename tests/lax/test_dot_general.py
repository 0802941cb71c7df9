"""Tests for fnad/lax/linalg.py: dot_general over arbitrary dimension numbers against
np.einsum, its derivatives, its batch rule (and the jaxpr that rule makes), and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.errors import DTypeError, ShapeError
from fnad.test_util import assert_allclose, check_grads, check_transforms, check_vmap

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _einsum_spec(x_ndim, y_ndim, dn):
    """The einsum string for dot_general's dimension numbers (batch, x free, y free)."""
    (xc, yc), (xb, yb) = dn
    x_sub, y_sub = list(LETTERS[:x_ndim]), [None] * y_ndim
    for i, j in zip(xc + xb, yc + yb):
        y_sub[j] = x_sub[i]
    fresh = iter(LETTERS[x_ndim:])
    y_sub = [s if s is not None else next(fresh) for s in y_sub]
    out = ([x_sub[i] for i in xb] + [x_sub[i] for i in range(x_ndim) if i not in xc + xb]
           + [y_sub[j] for j in range(y_ndim) if j not in yc + yb])
    return f"{''.join(x_sub)},{''.join(y_sub)}->{''.join(out)}"


@st.composite
def dot_problems(draw, max_free=2, min_size=1, max_size=3):
    """Shapes and dimension numbers with batch, contracting and free axes anywhere."""
    nb, nc = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    nxf, nyf = draw(st.integers(0, max_free)), draw(st.integers(0, max_free))
    sizes = lambda n: [draw(st.integers(min_size, max_size)) for _ in range(n)]
    bs, cs, xfs, yfs = sizes(nb), sizes(nc), sizes(nxf), sizes(nyf)
    x_pos = draw(st.permutations(range(nb + nc + nxf)))
    y_pos = draw(st.permutations(range(nb + nc + nyf)))
    x_shape, y_shape = [0] * len(x_pos), [0] * len(y_pos)
    for p, s in zip(x_pos, bs + cs + xfs):
        x_shape[p] = s
    for p, s in zip(y_pos, bs + cs + yfs):
        y_shape[p] = s
    dn = ((tuple(x_pos[nb:nb + nc]), tuple(y_pos[nb:nb + nc])),
          (tuple(x_pos[:nb]), tuple(y_pos[:nb])))
    return tuple(x_shape), tuple(y_shape), dn


def _args(x_shape, y_shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(x_shape).astype(dtype),
            rng.standard_normal(y_shape).astype(dtype))


@settings(max_examples=40, deadline=None)
@given(dot_problems(), st.sampled_from([np.float32, np.float64, np.int32]))
def test_values_against_einsum(problem, dtype):
    x_shape, y_shape, dn = problem
    x, y = _args(x_shape, y_shape)
    x, y = (x * 3).astype(dtype), (y * 3).astype(dtype)
    out = lax.dot_general(x, y, dn)
    expected = np.einsum(_einsum_spec(x.ndim, y.ndim, dn), x, y)
    assert out.dtype == dtype
    assert_allclose(out, expected.astype(dtype))


@settings(max_examples=15, deadline=None)
@given(dot_problems())
def test_transforms_and_grads(problem):
    x_shape, y_shape, dn = problem
    args = _args(x_shape, y_shape)
    f = lambda x, y: lax.dot_general(x, y, dn)
    check_transforms(f, args)
    check_grads(f, args, order=2)


@settings(max_examples=15, deadline=None)
@given(dot_problems(), st.data())
def test_vmap_any_batch_position(problem, data):
    x_shape, y_shape, dn = problem
    x, y = _args(x_shape, y_shape)
    which = data.draw(st.sampled_from(["x", "y", "both"]))
    xa = data.draw(st.integers(-x.ndim - 1, x.ndim)) if which != "y" else None
    ya = data.draw(st.integers(-y.ndim - 1, y.ndim)) if which != "x" else None
    out_axis = data.draw(st.integers(0, len(lax.dot_general(x, y, dn).shape)))
    rng = np.random.default_rng(1)
    bx = np.stack([x + rng.standard_normal(x.shape) for _ in range(3)], xa) if xa is not None \
        else x
    by = np.stack([y + rng.standard_normal(y.shape) for _ in range(3)], ya) if ya is not None \
        else y
    check_vmap(lambda x, y: lax.dot_general(x, y, dn), (bx, by), (xa, ya), out_axis,
               atol=1e-10, rtol=1e-10)


def test_nested_vmap_and_grads_of_vmap():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3, 5)), rng.standard_normal((3, 5, 2))
    f = lambda x, y: lax.dot(x, y)
    out = fnad.vmap(fnad.vmap(f, in_axes=(0, None)), in_axes=(2, 1))(x, y)
    assert_allclose(out, np.einsum("abk,bkc->kac", x, y), atol=1e-12, rtol=1e-12)
    check_grads(lambda x, y: fnad.vmap(f, (2, 1))(x, y), (x, y), order=2)
    check_vmap(fnad.grad(lambda x, y: lax.reduce_sum(f(x, y) ** 2, (0, 1)), argnums=(0, 1)),
               (x, y), (2, 1), 0, atol=1e-10, rtol=1e-10)


def test_vmap_of_matmul_is_one_dot_general():
    w = np.ones((3, 4), np.float32)
    closed = fnad.make_jaxpr(fnad.vmap(lambda x: x @ w))(np.ones((5, 3), np.float32))
    names = [e.prim.name for e in closed.eqns]
    assert names.count("dot_general") == 1, closed
    assert not {"broadcast_in_dim", "transpose"} & set(names), closed
    assert closed.out_avals[0].shape == (5, 4)


def test_vmap_over_contracted_rhs_keeps_one_dot_general():
    x = np.ones((2, 3), np.float32)
    closed = fnad.make_jaxpr(fnad.vmap(lambda w: lax.dot(x, w), in_axes=1))(
        np.ones((3, 6, 4), np.float32))
    names = [e.prim.name for e in closed.eqns]
    assert names.count("dot_general") == 1 and "broadcast_in_dim" not in names, closed


@pytest.mark.parametrize("x_shape, y_shape, dn, err, match", [
    ((2, 3), (4, 5), (((1,), (0,)), ((), ())), ShapeError, "does not match"),
    ((2, 3), (3, 5), (((1,), (0, 1)), ((), ())), ShapeError, "unequal"),
    ((2, 3), (3, 5), (((2,), (0,)), ((), ())), ShapeError, "invalid or repeated"),
    ((2, 3), (3, 5), (((1, 1), (0, 0)), ((), ())), ShapeError, "invalid or repeated"),
    ((2, 3), (2, 3), (((1,), (1,)), ((0,), (1,))), ShapeError, "invalid or repeated"),
])
def test_errors(x_shape, y_shape, dn, err, match):
    with pytest.raises(err, match=match) as info:
        lax.dot_general(np.ones(x_shape), np.ones(y_shape), dn)
    assert "dot_general" in str(info.value)


# (x dtype, y dtype, preferred_element_type) -> result dtype, from JAX 0.10.2 with x64
MIXED_DTYPES = {
    ("float32", "float64", None): "float64", ("int8", "float16", None): "float16",
    ("int8", "uint8", None): "int8", ("uint8", "int32", None): "int32",
    ("bool", "int8", None): "int8", ("int64", "float32", None): "float32",
    ("int32", "complex64", None): "complex64", ("bool", "bool", None): "bool",
    ("int8", "int8", "int32"): "int32", ("int8", "uint8", "float32"): "float32",
    ("float32", "float32", "float16"): "float16", ("bool", "bool", "int32"): "int32",
}


@pytest.mark.parametrize("dtypes", list(MIXED_DTYPES))
def test_mixed_dtypes_multiply_in_the_wider_one_as_jax(dtypes):
    """fnad refused operands of different dtypes; JAX multiplies in the higher-precision one
    (XLA's order: complex, exponent range, mantissa, width, signed), or in the
    preferred_element_type."""
    xd, yd, preferred = dtypes
    rng = np.random.default_rng(0)
    x, y = (rng.integers(0, 3, s).astype(d) for s, d in (((2, 3), xd), ((3, 4), yd)))
    out = lax.dot_general(x, y, (((1,), (0,)), ((), ())), preferred_element_type=preferred)
    assert out.dtype == MIXED_DTYPES[dtypes]
    want = np.real(x).astype(np.int64) @ np.real(y).astype(np.int64)
    np.testing.assert_array_equal(out, want > 0 if out.dtype == bool else want)
    if out.dtype.kind == "f":
        check_grads(lambda a, b: lax.dot_general(a, b, (((1,), (0,)), ((), ()))),
                    (x.astype(np.float64), y.astype(np.float64)), order=1)


@pytest.mark.parametrize("xd, yd, preferred", [("int32", "int32", "float16"),
                                               ("int64", "int8", "int32"),
                                               ("complex64", "float32", "float16")])
def test_preferred_element_type_narrower_than_an_integer_product_is_refused(xd, yd, preferred):
    """JAX refuses a narrower preferred_element_type unless the product is a float."""
    with pytest.raises(DTypeError, match=f"preferred_element_type={preferred} is narrower"):
        lax.dot_general(np.ones((2, 3), xd), np.ones((3,), yd), (((1,), (0,)), ((), ())),
                        preferred_element_type=preferred)


def test_dot_weak_python_scalar_and_vectors():
    v = np.arange(3.0, dtype=np.float32)
    assert lax.dot(v, v).dtype == np.float32
    assert_allclose(lax.dot(v, v), np.float32(5.0))
    assert_allclose(lax.dot(np.ones((2, 3)), v.astype(np.float64)), np.full(2, 3.0))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("shapes", [((2, 2), (2, 2)), ((2,), (2,)), ((3, 2), (2,))])
def test_inf_times_zero_is_nan_without_a_numpy_warning(shapes):
    """NaN is the answer (as in JAX); no NumPy RuntimeWarning escapes fnad."""
    a = np.zeros(shapes[0], np.float32)
    a.flat[0] = np.inf
    b = np.zeros(shapes[1], np.float32)
    with np.errstate(all="ignore"):
        expected = np.dot(a, b)
    for f in (fnp.dot, fnad.jit(fnp.dot, backend="numpy")):
        np.testing.assert_array_equal(f(a, b), expected)
