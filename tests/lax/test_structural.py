"""Tests for fnad/lax/structural.py: squeeze, expand_dims, rev, pad, concatenate, slice,
dynamic_slice, dynamic_update_slice, gather and the scatters against NumPy references
written as loops, their derivatives (float64, order 2) and batching on every operand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
from fnad import lax
from fnad.core.errors import DTypeError, ShapeError
from fnad.test_util import assert_allclose, check_grads, check_transforms, check_vmap

SETTINGS = settings(max_examples=12, deadline=None)
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


def values(draw, *shapes):
    """float32 arrays of `shapes`, no two elements equal (so min/max have no ties) and
    none near zero."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    sizes = [int(np.prod(s)) for s in shapes]
    flat = (rng.permutation(sum(sizes)) + 1.0) / sum(sizes) + 0.5
    flat *= rng.choice([-1.0, 1.0], flat.shape)
    parts = np.split(flat.astype(np.float32), np.cumsum(sizes)[:-1])
    return parts[0].reshape(shapes[0]) if len(shapes) == 1 else \
        [p.reshape(s) for p, s in zip(parts, shapes)]


# ---------------------------------------------------------------- NumPy references (loops)

def ref_pad(x, v, config):
    out = np.asarray(v, x.dtype)[()] * np.ones(
        [max(lo, 0) + (n + (n - 1) * i if n else 0) + max(hi, 0)
         for n, (lo, hi, i) in zip(x.shape, config)], x.dtype)
    for pos in np.ndindex(*x.shape):
        out[tuple(max(lo, 0) + p * (i + 1) for p, (lo, _, i) in zip(pos, config))] = x[pos]
    return out[tuple(slice(-min(lo, 0), out.shape[d] + min(hi, 0))
                     for d, (lo, hi, _) in enumerate(config))]


def ref_window(starts, shape, sizes):
    """JAX's rule: a negative start counts from the end, then the window is clamped in."""
    return tuple(slice(s, s + k) for s, k in
                 zip((int(np.clip(s + n if s < 0 else s, 0, n - k))
                      for s, n, k in zip(starts, shape, sizes)), sizes))


def ref_point(x, point, axes, mode):
    """The operand index of one gather/scatter point, or None when it is dropped."""
    idx = [slice(None)] * x.ndim
    for c, a in zip(point, axes):
        if not 0 <= c < x.shape[a]:
            if mode == "drop":
                return None
            c = int(np.clip(c, 0, x.shape[a] - 1))
        idx[a] = int(c)
    return tuple(idx)


def ref_gather(x, indices, axes, mode):
    rest = [n for d, n in enumerate(x.shape) if d not in axes]
    out = np.zeros(indices.shape[:-1] + tuple(rest), x.dtype)
    for p in np.ndindex(*indices.shape[:-1]):
        where = ref_point(x, indices[p], axes, mode)
        if where is not None:
            out[p] = x[where]
    return out


def ref_scatter(combine):
    def ref(x, indices, updates, axes, mode):
        out = x.copy()
        for p in np.ndindex(*indices.shape[:-1]):  # in order: the last write wins
            where = ref_point(x, indices[p], axes, mode)
            if where is not None:
                out[where] = combine(out[where], updates[p])
        return out
    return ref


SCATTERS = {
    "scatter": (lax.scatter, ref_scatter(lambda old, new: new)),
    "scatter_add": (lax.scatter_add, ref_scatter(np.add)),
    "scatter_mul": (lax.scatter_mul, ref_scatter(np.multiply)),
    "scatter_min": (lax.scatter_min, ref_scatter(np.minimum)),
    "scatter_max": (lax.scatter_max, ref_scatter(np.maximum)),
}


# ---------------------------------------------------------------- the table
# A case draws (f, float operands, index operands, reference); f takes the floats first.

def case_squeeze(draw):
    shape = draw(shapes)
    shape = tuple(1 if draw(st.booleans()) else n for n in shape)
    dims = tuple(d for d, n in enumerate(shape) if n == 1 and draw(st.booleans()))
    return (lambda x: lax.squeeze(x, dims)), [values(draw, shape)], [], \
        (lambda x: np.squeeze(x, dims))


def case_expand_dims(draw):
    shape = draw(shapes)
    rank = len(shape) + draw(st.integers(1, 2))
    dims = tuple(draw(st.permutations(range(rank)))[:rank - len(shape)])
    return (lambda x: lax.expand_dims(x, dims)), [values(draw, shape)], [], \
        (lambda x: np.expand_dims(x, dims))


def case_rev(draw):
    shape = draw(shapes)
    dims = tuple(d for d in range(len(shape)) if draw(st.booleans()))
    return (lambda x: lax.rev(x, dims)), [values(draw, shape)], [], \
        (lambda x: np.flip(x, dims))


def case_pad(draw):
    shape = draw(shapes)
    config = []
    for n in shape:
        i = draw(st.integers(0, 2))
        lo, hi = draw(st.integers(-1, 2)), draw(st.integers(-1, 2))
        if lo + hi + n + (n - 1) * i < 0:
            lo = hi = 0
        config.append((lo, hi, i))
    return (lambda x, v: lax.pad(x, v, config)), [values(draw, shape),
                                                 np.float32(draw(st.floats(-2, 2)))], [], \
        (lambda x, v: ref_pad(x, v, config))


def case_concatenate(draw):
    shape = draw(shapes)
    d = draw(st.integers(0, len(shape) - 1))
    parts = [values(draw, shape[:d] + (draw(st.integers(1, 3)),) + shape[d + 1:])
             for _ in range(draw(st.integers(2, 3)))]
    return (lambda *xs: lax.concatenate(xs, d)), parts, [], \
        (lambda *xs: np.concatenate(xs, d))


def case_slice(draw):
    shape = draw(shapes)
    starts, limits, strides = [], [], []
    for n in shape:
        s = draw(st.integers(0, n))
        starts.append(s)
        limits.append(draw(st.integers(s, n)))
        strides.append(draw(st.integers(1, 3)))
    return (lambda x: lax.slice(x, starts, limits, strides)), [values(draw, shape)], [], \
        (lambda x: x[tuple(slice(*a) for a in zip(starts, limits, strides))])


def case_dynamic_slice(draw):
    shape = draw(shapes)
    sizes = [draw(st.integers(0, n)) for n in shape]
    starts = [np.int32(draw(st.integers(-n - 2, n + 1))) for n in shape]
    return (lambda x, *s: lax.dynamic_slice(x, s, sizes)), [values(draw, shape)], starts, \
        (lambda x, *s: x[ref_window(s, x.shape, sizes)])


def case_dynamic_update_slice(draw):
    shape = draw(shapes)
    sizes = [draw(st.integers(0, n)) for n in shape]
    starts = [np.int32(draw(st.integers(-n - 2, n + 1))) for n in shape]

    def ref(x, u, *s):
        out = x.copy()
        out[ref_window(s, x.shape, u.shape)] = u
        return out
    return (lambda x, u, *s: lax.dynamic_update_slice(x, u, s)), \
        [values(draw, shape), values(draw, sizes)], starts, ref


def point_indices(draw, shape):
    """axes, and indices with a few repeated and out-of-bounds points."""
    axes = tuple(draw(st.permutations(range(len(shape))))[:draw(st.integers(1, len(shape)))])
    points = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    cols = [rng.integers(-1, shape[a] + 1, points) for a in axes]
    indices = np.stack(cols, -1).astype(np.int32)
    return axes, indices


def case_gather(draw):
    shape = draw(shapes)
    axes, indices = point_indices(draw, shape)
    mode = draw(st.sampled_from(["clip", "drop"]))
    return (lambda x, i: lax.gather(x, i, axes, mode)), [values(draw, shape)], [indices], \
        (lambda x, i: ref_gather(x, i, axes, mode))


def scatter_case(name):
    f, ref = SCATTERS[name]

    def case(draw):
        shape = draw(shapes)
        axes, indices = point_indices(draw, shape)
        mode = draw(st.sampled_from(["clip", "drop"]))
        rest = tuple(n for d, n in enumerate(shape) if d not in axes)
        return (lambda x, u, i: f(x, i, u, axes, mode)), \
            values(draw, shape, indices.shape[:-1] + rest), [indices], \
            (lambda x, u, i: ref(x, i, u, axes, mode))
    return case


CASES = {
    "squeeze": case_squeeze, "expand_dims": case_expand_dims, "rev": case_rev,
    "pad": case_pad, "concatenate": case_concatenate, "slice": case_slice,
    "dynamic_slice": case_dynamic_slice, "dynamic_update_slice": case_dynamic_update_slice,
    "gather": case_gather, **{name: scatter_case(name) for name in SCATTERS},
}


@pytest.mark.parametrize("name", CASES)
@SETTINGS
@given(data=st.data())
def test_values_and_staging(name, data):
    f, floats, ints, ref = CASES[name](data.draw)
    out = f(*floats, *ints)
    assert out.dtype == np.float32
    assert_allclose(out, ref(*floats, *ints))
    check_transforms(f, (*floats, *ints))


@pytest.mark.parametrize("name", CASES)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_grads(name, data):
    f, floats, ints, _ = CASES[name](data.draw)
    floats = [x.astype(np.float64) for x in floats]
    check_grads(lambda *xs: f(*xs, *ints), floats, order=2)


def batched(x, axis, seed):
    """`x` and a variant stacked along `axis` (ints shift by one: in or out of bounds)."""
    rng = np.random.default_rng(seed)
    other = x + 1 if x.dtype.kind in "iu" else rng.standard_normal(x.shape).astype(x.dtype)
    return np.stack([x, other], axis)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("which", ["operands", "indices", "both"])
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_vmap(name, which, data):
    f, floats, ints, _ = CASES[name](data.draw)
    if which != "operands" and not ints:
        return
    args, axes = [], []
    for k, x in enumerate(floats + ints):
        on = (k < len(floats)) != (which == "indices") or which == "both"
        if which == "operands" and k > 0 and k < len(floats):
            on = data.draw(st.booleans())  # some operands batched, some not
        ax = data.draw(st.integers(-np.ndim(x) - 1, np.ndim(x))) if on else None
        args.append(batched(x, ax, k) if on else x)
        axes.append(ax)
    out_axis = data.draw(st.sampled_from([0, -1]))
    check_vmap(f, args, tuple(axes), out_axis)


# ---------------------------------------------------------------- specific behaviour

def test_pad_negative_and_interior_with_traced_value_grad():
    x = np.arange(1.0, 5.0)
    # [1, 2, 3, 4] interior 1 -> 1 v 2 v 3 v 4, cropped 2 on the left, padded 1 on the right
    f = lambda x, v: lax.pad(x, v, [(-2, 1, 1)])
    assert_allclose(f(x, 9.0), np.array([2.0, 9, 3, 9, 4, 9]))
    _, vjp = fnad.vjp(f, x, np.float64(9.0))
    gx, gv = vjp(np.arange(6.0))
    assert_allclose(gx, np.array([0.0, 0, 2, 4]))
    assert_allclose(gv, np.float64(1 + 3 + 5))


def test_dynamic_slice_clamps_like_xla():
    x = np.arange(10)
    assert_allclose(lax.dynamic_slice(x, [np.int32(8)], [4]), np.arange(6, 10))
    assert_allclose(lax.dynamic_slice(x, [np.int32(-3)], [2]), np.arange(7, 9))  # from the end
    assert_allclose(lax.dynamic_slice(x, [np.int32(-13)], [2]), np.arange(0, 2))
    assert_allclose(lax.dynamic_update_slice(x, -np.ones(3, int), [np.int32(9)]),
                    np.r_[np.arange(7), -1, -1, -1])


def test_scatter_duplicates_and_out_of_bounds():
    x = np.zeros(4)
    i = np.array([[1], [1], [5], [-1], [2]])
    u = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert_allclose(lax.scatter_add(x, i, u, (0,)), np.array([0.0, 3, 5, 0]))
    assert_allclose(lax.scatter_add(x, i, u, (0,), mode="clip"), np.array([4.0, 3, 5, 3]))
    assert_allclose(lax.scatter(x, i, u, (0,)), np.array([0.0, 2, 5, 0]))
    assert_allclose(lax.gather(np.arange(4.0), i, (0,), mode="drop"), np.array([1.0, 1, 0, 0, 2]))
    assert_allclose(lax.gather(np.arange(4.0), i, (0,)), np.array([1.0, 1, 3, 0, 2]))


def test_scatter_derivatives_with_repeated_indices():
    i = np.array([[0], [2], [0], [0]])
    x = np.array([1.5, -2.0, 0.5])
    u = np.array([2.0, 3.0, -1.0, 4.0])
    # set: the last of the repeated points wins, the others get no gradient
    gx, gu = fnad.grad(lambda x, u: lax.reduce_sum(lax.scatter(x, i, u, (0,)) ** 2, (0,)),
                       (0, 1))(x, u)
    assert_allclose(gx, np.array([0.0, -4.0, 0.0]))
    assert_allclose(gu, np.array([0.0, 6.0, 0.0, 8.0]))
    # mul: x0 * 2 * -1 * 4 = -12; d/du_j is x0 times the other two updates at point 0
    gu = fnad.grad(lambda u: lax.reduce_sum(lax.scatter_mul(x, i, u, (0,)), (0,)))(u)
    assert_allclose(gu, np.array([1.5 * -1 * 4, 0.5, 1.5 * 2 * 4, 1.5 * 2 * -1]))
    # a zero update: only its own derivative survives at that point
    uz = np.array([2.0, 3.0, 0.0, 4.0])
    gu = fnad.grad(lambda u: lax.reduce_sum(lax.scatter_mul(x, i, u, (0,)), (0,)))(uz)
    assert_allclose(gu, np.array([0.0, 0.5, 1.5 * 2 * 4, 0.0]))
    # max with a tie between the operand and an update: the tangent is shared evenly
    gx, gu = fnad.grad(lambda x, u: lax.reduce_sum(lax.scatter_max(x, i, u, (0,)), (0,)),
                       (0, 1))(np.array([4.0, 0.0, 9.0]), u)
    assert_allclose(gx, np.array([0.5, 1.0, 1.0]))
    assert_allclose(gu, np.array([0.0, 0.0, 0.0, 0.5]))


@pytest.mark.parametrize("f, message, error", [
    (lambda: lax.squeeze(np.zeros((2, 3)), (0,)), "size 1", ShapeError),
    (lambda: lax.pad(np.zeros(2), 0.0, [(-3, 0, 0)]), "crops more", ShapeError),
    (lambda: lax.pad(np.zeros(2), np.zeros(2), [(1, 0, 0)]), "scalar", ShapeError),
    (lambda: lax.concatenate([np.zeros((2, 3)), np.zeros((3, 2))], 0), "agree", ShapeError),
    (lambda: lax.concatenate([np.zeros(2), np.zeros(2, np.int32)], 0), "dtypes", DTypeError),
    (lambda: lax.slice(np.zeros(3), (2,), (4,)), "not within", ShapeError),
    (lambda: lax.dynamic_slice(np.zeros(3), [np.float32(0)], [1]), "integer", DTypeError),
    (lambda: lax.dynamic_slice(np.zeros(3), [0, 0], [1]), "start indices", ShapeError),
    (lambda: lax.gather(np.zeros(3), np.zeros((2, 2), np.int32), (0,)), "size len",
     ShapeError),
    (lambda: lax.gather(np.zeros(3), np.zeros((2, 1)), (0,)), "integers", DTypeError),
    (lambda: lax.scatter_add(np.zeros(3), np.zeros((2, 1), np.int32), np.zeros(3), (0,)),
     "updates", ShapeError),
])
def test_errors_name_the_problem(f, message, error):
    with pytest.raises(error, match=message):
        f()
    # the same rule speaks under tracing
    with pytest.raises(error, match=message):
        fnad.make_jaxpr(f)()


def test_batched_index_combinations_compose_with_grad():
    # vmap of grad through gather with batched indices and operand (iota path)
    x = np.random.default_rng(0).standard_normal((3, 5))
    i = np.array([[[1], [4]], [[0], [0]], [[2], [3]]])

    def loss(x, i):
        return lax.reduce_sum(lax.gather(x, i, (0,)) ** 2, (0,))

    got = fnad.vmap(fnad.grad(loss))(x, i)
    want = np.stack([fnad.grad(loss)(x[b], i[b]) for b in range(3)])
    assert_allclose(got, want)
    assert got.shape == (3, 5)


def test_reshape_with_dimensions_transposes_first() -> None:
    """JAX's lax.reshape(x, sizes, dimensions) reads x in the axis order `dimensions`."""
    x = np.arange(24.0).reshape(2, 3, 4)
    want = np.transpose(x, (2, 1, 0)).reshape(4, 6)
    np.testing.assert_array_equal(lax.reshape(x, (4, 6), dimensions=(2, 1, 0)), want)
    np.testing.assert_array_equal(
        fnad.jit(lambda v: lax.reshape(v, (4, 6), (2, 1, 0)))(x), want)
    check_grads(lambda v: lax.reshape(v, (6, 4), (1, 0, 2)), (x,), order=1)
