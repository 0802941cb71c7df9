"""Tests for fnad/numpy/_indexing.py: `x[idx]` and `at(x)[idx]` updates against NumPy for
random mixes of ints, slices, None, Ellipsis, integer arrays, lists and masks; with traced
indices, derivatives, batching, out-of-bounds rules and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy
from fnad.core.errors import ArgumentError, ConcretizationError
from fnad.numpy._indexing import (
    NonConcreteBooleanIndexError,
    at,
    getitem,
    take,
    take_along_axis,
)
from fnad.test_util import assert_allclose, check_grads, check_transforms, check_vmap

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


def distinct(shape, seed, dtype=np.float64):
    """Values with no ties (min/max are differentiable there), away from zero."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    flat = ((rng.permutation(size) + 1.0) / size + 0.5) * rng.choice([-1.0, 1.0], size)
    return flat.reshape(shape).astype(dtype)


@st.composite
def indices(draw, shape, masks=True, unique=False):
    """A NumPy index for `shape`; with `unique`, at most one index array, never repeating an
    element (so that `set` is defined whatever order the writes happen in)."""
    b = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n_arrays = [0]

    def items_for(sizes):
        items, axis = [], 0
        while axis < len(sizes):
            kind = draw(st.sampled_from(["int", "slice", "none", "array", "mask"]))
            n = sizes[axis]
            if kind == "none":
                items.append(None)
                continue
            if kind == "int":
                items.append(draw(st.integers(-n, n - 1)))
            elif kind == "slice":
                bound = st.one_of(st.none(), st.integers(-n - 1, n + 1))
                items.append(slice(draw(bound), draw(bound),
                                   draw(st.sampled_from([None, 1, 2, 3, -1, -2]))))
            elif kind == "array" and not (unique and n_arrays[0]):
                sub = tuple(1 if draw(st.booleans()) else s
                            for s in b[len(b) - draw(st.integers(0, len(b))):])
                if unique:
                    sub = sub if int(np.prod(sub)) <= n else (1,) * len(sub)
                    arr = rng.permutation(n)[:int(np.prod(sub))].reshape(sub) - \
                        n * rng.integers(0, 2)  # negative indices too
                else:
                    arr = rng.integers(-n, n, sub)
                items.append(arr.tolist() if draw(st.booleans()) and arr.ndim else arr)
                n_arrays[0] += 1
            elif kind == "mask" and masks and not unique:
                k = draw(st.integers(1, min(2, len(sizes) - axis)))
                items.append(rng.random(sizes[axis:axis + k]) < 0.5)
                axis += k - 1
            else:
                items.append(slice(None))
            axis += 1
        return items

    front = draw(st.integers(0, len(shape)))
    if draw(st.booleans()):
        items = items_for(shape[:front])
    else:
        back = draw(st.integers(0, len(shape) - front))
        items = items_for(shape[:front]) + [Ellipsis] + items_for(shape[len(shape) - back:])
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    return tuple(items) if draw(st.booleans()) or len(items) != 1 else items[0]


@st.composite
def cases(draw, **kw):
    shape = draw(shapes)
    return distinct(shape, draw(st.integers(0, 2**16)), np.float32), draw(indices(shape, **kw))


def split_traced(idx):
    """The index arrays and ints of `idx` as separate arguments (to trace them), and a
    function putting them back."""
    items = list(idx) if isinstance(idx, tuple) else [idx]
    pos = [k for k, i in enumerate(items) if isinstance(i, (np.ndarray, int))
           and not isinstance(i, bool) and np.asarray(i).dtype.kind in "iu"]
    args = [np.asarray(items[k], np.int32) for k in pos]

    def rebuild(*arrays):
        new = list(items)
        for k, a in zip(pos, arrays):
            new[k] = a
        return tuple(new) if isinstance(idx, tuple) else new[0]
    return args, rebuild


# ---------------------------------------------------------------- reading

@settings(max_examples=60, deadline=None)
@given(case=cases())
def test_getitem_matches_numpy(case):
    x, idx = case
    try:
        want = x[idx]
    except IndexError:  # e.g. masks whose index arrays do not broadcast
        with pytest.raises(IndexError):
            getitem(x, idx)
        return
    assert_allclose(getitem(x, idx), want)
    check_transforms(lambda x: getitem(x, idx), (x,))


@settings(max_examples=25, deadline=None)
@given(case=cases(masks=False), data=st.data())
def test_getitem_with_traced_indices(case, data):
    x, idx = case
    args, rebuild = split_traced(idx)
    f = lambda x, *a: getitem(x, rebuild(*a))  # x may stay a NumPy array
    assert_allclose(fnad.jvp(f, (x, *args), (x, *args))[0], x[idx])
    check_transforms(f, (x, *args))
    if args:  # batch the operand, the indices, or both
        which = data.draw(st.sampled_from(["x", "indices", "both"]))
        ax = data.draw(st.integers(-x.ndim - 1, x.ndim))
        xs = np.stack([x, -x], ax) if which != "indices" else x
        ins = [np.stack([a, np.zeros_like(a)], 0) if which != "x" else a for a in args]
        check_vmap(f, (xs, *ins), (ax if which != "indices" else None,
                                    *([0 if which != "x" else None] * len(args))))


@settings(max_examples=12, deadline=None)
@given(case=cases(masks=False))
def test_getitem_grads(case):
    x, idx = case
    check_grads(lambda x: getitem(x, idx), (x.astype(np.float64),), order=2)


def test_static_indices_lower_to_slices_not_gather():
    x = np.zeros((4, 5, 6))
    jaxpr = str(fnad.make_jaxpr(lambda x: x[1, ::-2, None, 2:5])(x))
    assert "gather" not in jaxpr and "slice" in jaxpr and "rev" in jaxpr
    assert "squeeze" in jaxpr and "expand_dims" in jaxpr
    jaxpr = str(fnad.make_jaxpr(lambda x, i: x[i])(x, np.int32(2)))
    assert "dynamic_slice" in jaxpr and "gather" not in jaxpr
    assert "gather" in str(fnad.make_jaxpr(lambda x: x[:, [0, 2]])(x))


def test_out_of_bounds_reads_are_clamped():
    x = np.arange(5.0)
    assert_allclose(getitem(x, np.array([7, -1, -9])), np.array([4.0, 4.0, 0.0]))
    f = fnad.vmap(lambda i: getitem(x, i))
    assert_allclose(f(np.array([-1, 9, -7], np.int32)), np.array([4.0, 4.0, 0.0]))


def test_grad_of_getitem_with_repeated_indices_accumulates():
    x = np.arange(4.0)
    g = fnad.grad(lambda x: (x[np.array([1, 1, 3])] * np.array([1.0, 2.0, 3.0])).sum())(x)
    assert_allclose(g, np.array([0.0, 3.0, 0.0, 3.0]))


# ---------------------------------------------------------------- updates

UPDATES = {
    "set": None, "add": np.add.at, "multiply": np.multiply.at, "min": np.minimum.at,
    "max": np.maximum.at,
}


def numpy_update(op, x, idx, v):
    out = x.copy()
    if UPDATES[op] is None:
        out[idx] = v
    else:
        UPDATES[op](out, idx, v)
    return out


@pytest.mark.parametrize("op", UPDATES)
@settings(max_examples=20, deadline=None)
@given(case=cases(unique=True), data=st.data())
def test_at_updates_match_numpy(op, case, data):
    x, idx = case
    target = x[idx].shape
    v = distinct(target, 1, np.float32) if data.draw(st.booleans()) else np.float32(0.25)
    before = x.copy()
    assert_allclose(getattr(at(x)[idx], op)(v), numpy_update(op, x, idx, v))
    assert_allclose(x, before)  # never mutated
    assert_allclose(at(x)[idx].get(), x[idx])
    check_transforms(lambda x, v: getattr(at(x)[idx], op)(v), (x, v))


@pytest.mark.parametrize("op", UPDATES)
def test_repeated_indices(op):
    x = np.array([5.0, 1.0, -2.0, 3.0])
    idx = np.array([0, 2, 0, 0, -1])
    v = np.array([2.0, -3.0, 7.0, 0.5, 4.0])
    assert_allclose(getattr(at(x)[idx], op)(v), numpy_update(op, x, idx, v))
    check_transforms(lambda x, v, i: getattr(at(x)[i], op)(v), (x, v, idx))


@pytest.mark.parametrize("op", UPDATES)
@settings(max_examples=6, deadline=None)
@given(case=cases(unique=True, masks=False))
def test_at_update_grads(op, case):
    x, idx = case
    target = x[idx].shape
    both = distinct((x.size + int(np.prod(target)),), 7)  # no ties between x and v
    x, v = both[:x.size].reshape(x.shape), both[x.size:].reshape(target)
    check_grads(lambda x, v: getattr(at(x)[idx], op)(v), (x, v), order=2)


@pytest.mark.parametrize("op", ["add", "multiply", "min", "max", "set"])
def test_at_update_grads_with_repeated_and_traced_indices(op):
    x = distinct((4, 3), 0)
    v = distinct((5, 3), 1)
    idx = np.array([1, 3, 1, 1, 0], np.int32)
    check_grads(lambda x, v: getattr(at(x)[idx], op)(v), (x, v), order=1)
    f = lambda x, v, i: getattr(at(x)[i, 1:], op)(v[:, 1:])
    check_transforms(f, (x, v, idx))
    check_vmap(f, (np.stack([x, -x]), v, idx), (0, None, None))
    check_vmap(f, (x, v, np.stack([idx, idx[::-1]], 1)), (None, None, 1))
    check_vmap(f, (np.stack([x, -x], 2), np.stack([v, v * 2]), np.stack([idx, idx[::-1]])),
               (2, 0, 0))


def test_grad_of_set_wrt_operand_and_values():
    x = np.arange(5.0)
    v = np.array([10.0, 20.0])
    gx, gv = fnad.grad(lambda x, v: (x.at[np.array([1, 3])].set(v * v) ** 2).sum(),
                       (0, 1))(x, v)
    assert_allclose(gx, np.array([0.0, 0, 4, 0, 8]))
    assert_allclose(gv, 4 * v ** 3)


def test_traced_scalar_updates_drop_out_of_bounds():
    x = np.zeros((3, 2))
    f = fnad.vmap(lambda i: at(x)[i].set(1.0))
    out = f(np.array([0, -1, 3, -4], np.int32))
    want = np.zeros((4, 3, 2))
    want[0, 0] = want[1, 2] = 1.0
    assert_allclose(out, want)
    assert_allclose(at(np.zeros(3))[np.array([5, -1, -9])].add(1.0), np.array([0.0, 0, 1]))


def test_updates_at_traced_scalar_indices_in_a_loop():
    def f(x, order):
        for k in range(3):
            i = getitem(order, k)  # a traced scalar under make_jaxpr and vmap
            x = at(x)[i].add(getitem(x, i + 1) * x[0])
        return x
    x, order = np.arange(1.0, 5.0), np.array([2, 0, 1], np.int32)
    want = x.copy()
    for i in order:
        want[i] += want[i + 1] * want[0]
    assert_allclose(f(x, order), want)
    check_transforms(f, (x, order))
    check_grads(lambda x: f(x, order), (x,), order=2)
    check_vmap(f, (np.stack([x, 2 * x]), np.stack([order, order[::-1]])), (0, 0))
    assert "dynamic_update_slice" in str(fnad.make_jaxpr(f)(x, order))


# ---------------------------------------------------------------- take

@settings(max_examples=15, deadline=None)
@given(shape=shapes, data=st.data())
def test_take_and_take_along_axis(shape, data):
    x = distinct(shape, 3)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    n = x.size if axis is None else shape[axis]
    i = np.random.default_rng(0).integers(-n, n, data.draw(shapes))
    assert_allclose(take(x, i, axis), np.take(x, i, axis))
    check_grads(lambda x: take(x, i, axis), (x,), order=1)
    along = (np.random.default_rng(1).integers(-n, n, (n,)) if axis is None else
             np.random.default_rng(1).integers(-n, n, tuple(
                 data.draw(st.integers(1, 3)) if d == axis % len(shape) else
                 data.draw(st.sampled_from([1, s])) for d, s in enumerate(shape))))
    assert_allclose(take_along_axis(x, along, axis), np.take_along_axis(x, along, axis))
    check_transforms(lambda x, a: take_along_axis(x, a, axis), (x, along))
    check_grads(lambda x: take_along_axis(x, along, axis), (x,), order=1)


def test_take_along_axis_vmap():
    x = distinct((2, 3, 4), 0)
    i = np.argsort(x, axis=-1)
    check_vmap(lambda x, i: take_along_axis(x, i, -1), (x, i), (0, 0))
    check_vmap(lambda x, i: take_along_axis(x, i, 0), (x, np.array([[1, 0, -1, 1]])), (1, None))


@pytest.mark.parametrize("mode", [None, "fill", "clip", "wrap", "promise_in_bounds"])
def test_take_out_of_bounds_modes(mode):
    """JAX's modes: 'fill' (the default) reads NaN / the most negative int, 'clip' clamps
    (take: negative indices to 0, as NumPy), 'wrap' wraps around."""
    x = np.arange(6.0).reshape(2, 3)
    i = np.array([[3, -1], [-4, 0]])
    clamped = np.take(x, np.clip(np.where(i < 0, i + 3, i), 0, 2), 1)
    want = {"clip": np.take(x, i, 1, mode="clip"), "wrap": np.take(x, i, 1, mode="wrap"),
            "promise_in_bounds": clamped}.get(mode, np.where((i >= -3) & (i < 3), clamped,
                                                              np.nan))
    assert_allclose(take(x, i, axis=1, mode=mode), want)
    assert_allclose(fnad.jit(lambda v: take(v, i, axis=1, mode=mode))(x), want)
    check_grads(lambda v: fnad.numpy.nan_to_num(take(v, i, axis=1, mode=mode)), (x,), order=1)
    along = np.array([[0, 5, -1, -4]])
    inside = np.take_along_axis(x, np.clip(np.where(along < 0, along + 3, along), 0, 2), 1)
    want_along = {"wrap": np.take_along_axis(x, along % 3, 1)}.get(mode, inside)
    if mode in (None, "fill"):
        want_along = np.where((along >= -3) & (along < 3), inside, np.nan)
    assert_allclose(take_along_axis(x, along, mode=mode), want_along)


def test_take_fill_values_follow_the_dtype():
    assert take(np.arange(5, dtype=np.int32), 7) == np.iinfo(np.int32).min
    assert take(np.arange(5, dtype=np.uint8), 7) == 255
    assert take(np.array([False]), 3)
    assert take(np.arange(3.0), np.array([4]), fill_value=-1.0)[0] == -1.0
    with pytest.raises(ArgumentError, match="mode must be"):
        take(np.arange(3.0), 1, mode="raise")


# ---------------------------------------------------------------- errors

def test_traced_boolean_mask_is_a_clear_error():
    x = np.arange(4.0)
    for transform in (fnad.make_jaxpr, fnad.vmap):
        with pytest.raises(NonConcreteBooleanIndexError, match="fnad.numpy.where"):
            transform(lambda x: x[x > 1])(x)
    assert issubclass(NonConcreteBooleanIndexError, ConcretizationError)
    # a concrete mask works, on arrays and on traced operands alike
    assert_allclose(getitem(x, x > 1), x[x > 1])
    mask = x > 1
    assert_allclose(fnad.grad(lambda x: x[mask].sum())(x), mask.astype(float))


@pytest.mark.parametrize("idx, message", [
    ((0, 0, 0), "too many indices"),
    ((5,), "out of bounds for axis 0 with size 3"),
    ((slice(None), -5), "out of bounds for axis 1"),
    ((np.array([0.5]),), "integers or booleans"),
    ((1.0,), "unsupported index"),
    ((Ellipsis, 0, Ellipsis), "single ellipsis"),
    ((np.array([True, False]),), "does not match"),
    ((np.zeros(2, int), np.zeros(3, int)), "shape mismatch"),
])
def test_index_errors(idx, message):
    x = np.zeros((3, 4))
    with pytest.raises(IndexError, match=message):
        getitem(x, idx)
    with pytest.raises(IndexError, match=message):
        at(x)[idx].set(1.0)


def test_traced_slice_bounds_are_an_error():
    with pytest.raises(IndexError, match="dynamic_slice"):
        fnad.make_jaxpr(lambda x, i: x[i:])(np.zeros(3), np.int32(1))


def test_tracer_methods_are_installed():
    def f(x):
        rows = [r * 2.0 for r in x]  # iteration uses __getitem__
        return x.at[0].set(rows[1]), x[..., ::-1]
    x = np.arange(6.0).reshape(3, 2)
    a, b = fnad.jvp(f, (x,), (x,))[0]
    assert_allclose(a, np.array([[4.0, 6], [2, 3], [4, 5]]))
    assert_allclose(b, x[..., ::-1])


R_C_CASES = {
    "r_ arrays": lambda m, a, v: m.r_[a, 2 * a, a],
    "r_ range": lambda m, a, v: m.r_[v, 1:10, 3.0],
    "r_ points": lambda m, a, v: m.r_[v, 0:1:5j],
    "r_ axis": lambda m, a, v: m.r_["-1", a, a],
    "r_ ndmin": lambda m, a, v: m.r_["0,2", v, v],
    "r_ trans1d": lambda m, a, v: m.r_["0,2,0", v, v],
    "r_ 3d": lambda m, a, v: m.r_["1,3,1", a, a],
    "r_ scalars": lambda m, a, v: m.r_[1, 2, v],
    "c_": lambda m, a, v: m.c_[a, a, v[:3]],
    "c_ vectors": lambda m, a, v: m.c_[v, 2 * v],
}


@pytest.mark.parametrize("name", list(R_C_CASES))
def test_r_and_c_are_numpys_and_trace(name):
    import fnad.numpy as fnp
    f = R_C_CASES[name]
    rng = np.random.default_rng(0)
    a, v = rng.standard_normal((3, 2)), rng.standard_normal(4)
    out, expected = f(fnp, a, v), f(np, a, v)
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    check_grads(lambda x, y: f(fnp, x, y), (a, v), order=1)
    assert_allclose(fnad.jit(lambda x, y: f(fnp, x, y))(a, v), expected)
    np.testing.assert_array_equal(fnp.c_[np.array([1, 2]), np.array([3, 4])],
                                  np.c_[np.array([1, 2]), np.array([3, 4])])
    assert fnp.s_[1:2, ::-1] == np.s_[1:2, ::-1]
