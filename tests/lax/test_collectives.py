"""Tests for fnad/lax/collectives.py: collectives over named vmap axes against their NumPy
definitions, their derivatives in SPMD form (grad inside the named vmap, which runs the
transpose rules), jit in both orders, nested names, and the unbound-name error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.errors import FnadError
from fnad.test_util import assert_allclose, check_grads, check_transforms, check_vmap


def distinct(shape, seed=0, dtype=np.float64):
    """Values without ties, so pmax / pmin derivatives are defined."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    vals = (rng.permutation(size) + 1.0) / size * rng.choice([-1.0, 1.0], size)
    return (vals + 0.01 * rng.standard_normal(size)).reshape(shape).astype(dtype)


def repeat(r, n):
    """The same result on each of the n members."""
    return np.broadcast_to(r, (n, *np.shape(r)))


# name, per-member function, reference on the stacked members (n, ...) -> stacked outputs,
# dtypes, differentiable
CASES = [
    ("psum", lambda x: lax.psum(x, "i"), lambda X: repeat(X.sum(0, dtype=X.dtype), len(X)),
     (np.float32, np.float64, np.int32), True),
    ("pmean", lambda x: lax.pmean(x, "i"), lambda X: repeat(X.mean(0), len(X)),
     (np.float32, np.float64), True),
    ("pmax", lambda x: lax.pmax(x, "i"), lambda X: repeat(X.max(0), len(X)),
     (np.float32, np.int32), True),
    ("pmin", lambda x: lax.pmin(x, "i"), lambda X: repeat(X.min(0), len(X)),
     (np.float64, np.int32), True),
    ("all_gather", lambda x: lax.all_gather(x, "i"), lambda X: repeat(X, len(X)),
     (np.float32, np.int32), True),
    ("all_gather_axis_last", lambda x: lax.all_gather(x, "i", axis=-1),
     lambda X: repeat(np.moveaxis(X, 0, -1), len(X)), (np.float64,), True),
    ("all_gather_tiled", lambda x: lax.all_gather(x, "i", tiled=True),
     lambda X: repeat(X.reshape(-1, *X.shape[2:]), len(X)), (np.float32,), True),
    ("axis_index", lambda x: x + lax.convert_element_type(lax.axis_index("i"), x.dtype),
     lambda X: X + np.arange(len(X)).reshape(-1, *[1] * (X.ndim - 1)).astype(X.dtype),
     (np.float32, np.int32), True),
    ("psum_pytree", lambda x: lax.psum({"a": x, "b": (2 * x, x * x)}, "i")["b"][1],
     lambda X: repeat((X * X).sum(0), len(X)), (np.float64,), True),
    ("psum_of_unbatched", lambda x: x + lax.psum(np.float32(1.5), "i").astype(x.dtype),
     lambda X: X + 1.5 * len(X), (np.float32,), False),
]
IDS = [c[0] for c in CASES]
DIFF = [c for c in CASES if c[4]]
DIFF_IDS = [c[0] for c in DIFF]


def named(f, in_axes=0):
    return fnad.vmap(f, in_axes=in_axes, axis_name="i")


@pytest.mark.parametrize("name,f,ref,dtypes,diff", CASES, ids=IDS)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_values_against_numpy(name, f, ref, dtypes, diff, data):
    dtype = data.draw(st.sampled_from(dtypes))
    min_rank = 2 if "tiled" in name else 1  # a tiled gather needs members of rank >= 1
    shape = tuple(data.draw(st.lists(st.integers(1, 3), min_size=min_rank, max_size=3)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    X = distinct(shape, data.draw(st.integers(0, 99)), np.float64)
    X = (X * 10).astype(dtype)
    out = named(f, axis)(X)
    expected = ref(np.moveaxis(X, axis, 0))
    assert out.dtype == expected.dtype
    assert_allclose(out, expected)


@pytest.mark.parametrize("name,f,ref,dtypes,diff", CASES, ids=IDS)
def test_staging_and_jit(name, f, ref, dtypes, diff):
    X = distinct((3, 2, 4), dtype=dtypes[0])
    check_transforms(named(f), (X,))
    expected = ref(X)
    assert_allclose(fnad.jit(named(f))(X), expected)
    assert_allclose(named(fnad.jit(f))(X), expected)  # the jitted body is batched by name


@pytest.mark.parametrize("name,f,ref,dtypes,diff", CASES, ids=IDS)
def test_other_unnamed_vmaps_pass_through(name, f, ref, dtypes, diff):
    X = distinct((2, 3, 4), dtype=dtypes[0])
    # an unnamed vmap around the named one: check_vmap loops over its axis
    check_vmap(named(f), (X,), in_axes=1, out_axes=-1)
    # an unnamed vmap inside: the collective passes through it, batch axis in place
    inner = named(fnad.vmap(f, in_axes=1, out_axes=1))(X)
    assert_allclose(inner, np.stack([ref(X[:, :, k]) for k in range(4)], axis=2))


@pytest.mark.parametrize("name,f,ref,dtypes,diff", DIFF, ids=DIFF_IDS)
def test_grads_of_the_mapped_function(name, f, ref, dtypes, diff):
    check_grads(lambda X: fnp.sin(named(f)(X)), (distinct((3, 2)),), order=2)


def spmd_loss(f):
    """Each member's own scalar loss; SPMD differentiation of it (grad inside the named
    vmap) gives the gradient of the sum of all members' losses."""
    return lambda x: fnp.sum(fnp.sin(f(x))) + 0.5 * fnp.sum(x * x)


@pytest.mark.parametrize("name,f,ref,dtypes,diff", DIFF, ids=DIFF_IDS)
def test_spmd_grad_uses_transpose_rules(name, f, ref, dtypes, diff):
    X = distinct((3, 2, 2))
    loss = spmd_loss(f)
    total = lambda X: fnp.sum(named(loss)(X))
    assert_allclose(named(fnad.grad(loss))(X), fnad.grad(total)(X), atol=1e-10, rtol=1e-10)
    # derivatives of the SPMD gradient itself: jvp/transpose of the rules' own output
    check_grads(named(fnad.grad(loss)), (X,), order=1)


@pytest.mark.parametrize("name,f,ref,dtypes,diff", DIFF, ids=DIFF_IDS)
def test_spmd_jvp(name, f, ref, dtypes, diff):
    X, T = distinct((3, 2), 1), distinct((3, 2), 2)
    loss = spmd_loss(f)
    per_member = named(lambda x, t: fnad.jvp(loss, (x,), (t,))[1])(X, T)
    _, expected = fnad.jvp(lambda X: fnp.sum(named(loss)(X)), (X,), (T,))
    assert_allclose(np.sum(per_member), expected, atol=1e-10, rtol=1e-10)


def test_pmax_ties_share_the_gradient():
    # sum over the 3 members of pmax(x) = 3 * max: its derivative goes to the tied maxima,
    # split evenly between them
    x = np.array([1.0, 3.0, 3.0])
    assert_allclose(named(fnad.grad(lambda v: lax.pmax(v, "i")))(x), np.array([0.0, 1.5, 1.5]))


def test_nested_names():
    X = distinct((2, 3, 4))
    both = fnad.vmap(fnad.vmap(lambda x: (lax.psum(x, "a"), lax.psum(x, ("a", "b")),
                                          lax.pmean(x, "b"), lax.axis_index("a"),
                                          lax.all_gather(x, "a")),
                               axis_name="b"), axis_name="a")
    sa, sab, mb, ia, ga = both(X)
    assert_allclose(sa, np.broadcast_to(X.sum(0), X.shape))
    assert_allclose(sab, np.broadcast_to(X.sum((0, 1)), X.shape))
    assert_allclose(mb, np.broadcast_to(X.mean(1, keepdims=True), X.shape))
    assert_allclose(ia, np.broadcast_to(np.arange(2)[:, None], (2, 3)))
    assert ga.shape == (2, 3, 2, 4)
    for a in range(2):
        for b in range(3):
            assert_allclose(ga[a, b], X[:, b])


def test_inside_control_flow_under_named_vmap():
    X = distinct((3, 5))

    def f(x):
        return lax.scan(lambda c, v: (c + lax.psum(v, "i"), lax.axis_index("i")),
                        np.float64(0), x)

    total, idx = named(f)(X)
    assert_allclose(total, np.full(3, X.sum()))
    assert_allclose(idx, np.repeat(np.arange(3)[:, None], 5, 1))


def test_axis_size():
    out = named(lambda x: x * lax.axis_size("i"))(np.ones(4, np.float32))
    assert_allclose(out, np.full(4, 4.0, np.float32))


@pytest.mark.parametrize("call", [
    lambda x: lax.psum(x, "batch"),
    lambda x: fnad.jit(lambda v: lax.pmean(v, "batch"))(x),
    lambda x: lax.axis_index("batch"),
    lambda x: fnad.vmap(lambda v: lax.pmax(v, "batch"), axis_name="other")(x),
    lambda x: lax.all_gather(x, "batch"),
], ids=["psum", "jit_pmean", "axis_index", "other_name", "all_gather"])
def test_unbound_axis_name(call):
    with pytest.raises(FnadError, match="unbound axis name 'batch'"):
        call(np.ones(3, np.float32))


def test_wrong_dtype_and_axis():
    with pytest.raises(fnad.DTypeError, match="pmean"):
        named(lambda x: lax.pmean(x, "i"))(np.ones(3, np.int32))
    with pytest.raises(fnad.ShapeError, match="out of range"):
        named(lambda x: lax.all_gather(x, "i", axis=2))(np.ones((3, 2)))


def test_regression_jitted_collective_retraces_for_another_axis_size():
    gather = fnad.jit(lambda x: fnad.lax.all_gather(x, "i"))
    f = fnad.vmap(lambda x: gather(x), axis_name="i")
    np.testing.assert_array_equal(f(np.arange(2.0)), np.tile(np.arange(2.0), (2, 1)))
    np.testing.assert_array_equal(f(np.arange(3.0)), np.tile(np.arange(3.0), (3, 1)))
