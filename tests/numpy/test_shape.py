"""fnad.numpy's shape functions against NumPy on drawn shapes and arguments, eagerly and
staged; derivatives and batching of a sample (they are all linear)."""

from __future__ import annotations

import numpy as np
import pytest
from fnp_cases import ALL, arrays, check, nonempty_shapes, shapes
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fnad
import fnad.numpy as fnp
from fnad.core.errors import ArgumentError, ShapeError
from fnad.test_util import check_grads, check_vmap

SETTINGS = settings(max_examples=15, deadline=None)


def _array(data, shape=shapes):
    return data.draw(arrays(data.draw(st.sampled_from(ALL)), shape))


def _axis(data, ndim):
    return data.draw(st.integers(-ndim, ndim - 1))


def case_reshape(data):
    x = _array(data)
    new = list(data.draw(st.permutations(x.shape)))
    if new and data.draw(st.booleans()):
        new[data.draw(st.integers(0, len(new) - 1))] = -1
        if 0 in x.shape:
            new = list(x.shape)
    return [lambda a: fnp.reshape(a, new), lambda a: np.reshape(a, new)], (x,)


def case_transpose(data):
    x = _array(data)
    perm = data.draw(st.none() | st.permutations(range(x.ndim)))
    return [lambda a: fnp.transpose(a, perm), lambda a: np.transpose(a, perm)], (x,)


def case_swap_move(data):
    x = _array(data, nonempty_shapes)
    i, j = _axis(data, x.ndim), _axis(data, x.ndim)
    if data.draw(st.booleans()):
        return [lambda a: fnp.swapaxes(a, i, j), lambda a: np.swapaxes(a, i, j)], (x,)
    return [lambda a: fnp.moveaxis(a, i, j), lambda a: np.moveaxis(a, i, j)], (x,)


def case_squeeze_expand(data):
    x = _array(data, hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=2))
    if data.draw(st.booleans()):
        ones = [i for i, d in enumerate(x.shape) if d == 1]
        axis = data.draw(st.none() | st.sampled_from(ones or [None]))
        return [lambda a: fnp.squeeze(a, axis), lambda a: np.squeeze(a, axis)], (x,)
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim) | st.just((0, -1)))
    return [lambda a: fnp.expand_dims(a, axis), lambda a: np.expand_dims(a, axis)], (x,)


def case_broadcast(data):
    (s1, s2), out = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3))
    x, y = _array(data, s1), _array(data, s2)
    if data.draw(st.booleans()):
        return [lambda a: fnp.broadcast_to(a, out), lambda a: np.broadcast_to(a, out)], (x,)
    return [fnp.broadcast_arrays, np.broadcast_arrays], (x, y)


def case_join(data):
    s = data.draw(nonempty_shapes)
    xs = tuple(_array(data, s) for _ in range(data.draw(st.integers(1, 3))))
    axis = _axis(data, len(s))
    name = data.draw(st.sampled_from(["concatenate", "stack", "hstack", "vstack", "dstack",
                                      "column_stack"]))
    if name in ("concatenate", "stack"):
        axis = data.draw(st.sampled_from([axis, None])) if name == "concatenate" else axis
        return ([lambda *a: getattr(fnp, name)(a, axis), lambda *a: getattr(np, name)(a, axis)],
                xs)
    if name == "column_stack" and len(s) > 2:
        xs = tuple(x.reshape(x.shape[0], -1) for x in xs)
    return [lambda *a: getattr(fnp, name)(a), lambda *a: getattr(np, name)(a)], xs


def case_split(data):
    x = _array(data, nonempty_shapes)
    axis = _axis(data, x.ndim)
    n = x.shape[axis]
    sections = data.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0])
                         | st.lists(st.integers(-n, n + 1), max_size=3))
    name = "split" if isinstance(sections, int) else data.draw(st.sampled_from(
        ["split", "array_split"]))
    if name == "array_split":
        sections = data.draw(st.integers(1, n + 2))
    return [lambda a: getattr(fnp, name)(a, sections, axis),
            lambda a: getattr(np, name)(a, sections, axis)], (x,)


def case_tile_repeat(data):
    x = _array(data)
    if data.draw(st.booleans()):
        reps = data.draw(st.integers(0, 3) | st.lists(st.integers(0, 3), max_size=4))
        return [lambda a: fnp.tile(a, reps), lambda a: np.tile(a, reps)], (x,)
    axis = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1)) if x.ndim else None
    n = x.size if axis is None else x.shape[axis]
    reps = data.draw(st.integers(0, 3) | st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return [lambda a: fnp.repeat(a, reps, axis), lambda a: np.repeat(a, reps, axis)], (x,)


def case_flip_roll(data):
    x = _array(data, nonempty_shapes)
    axes = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1))
    name = data.draw(st.sampled_from(["flip", "roll", "rot90", "fliplr", "flipud"]))
    if name == "flip":
        return [lambda a: fnp.flip(a, axes), lambda a: np.flip(a, axes)], (x,)
    if name == "roll":
        shift = data.draw(st.integers(-7, 7))
        return [lambda a: fnp.roll(a, shift, axes), lambda a: np.roll(a, shift, axes)], (x,)
    x = x.reshape(x.shape[0], -1) if x.ndim == 1 else x
    if name == "rot90":
        k = data.draw(st.integers(-1, 4))
        return [lambda a: fnp.rot90(a, k), lambda a: np.rot90(a, k)], (x,)
    return [getattr(fnp, name), getattr(np, name)], (x,)


def case_pad(data):
    x = _array(data, nonempty_shapes)
    modes = ["constant", "edge", "reflect", "symmetric", "wrap"]
    if x.dtype.kind in "iuf":  # NumPy's statistics and ramps take numbers
        modes += ["maximum", "minimum", "mean", "median", "linear_ramp"]
    mode = data.draw(st.sampled_from(modes))
    width = data.draw(st.integers(0, 5) | st.lists(st.tuples(st.integers(0, 5), st.integers(
        0, 5)), min_size=x.ndim, max_size=x.ndim))
    kwargs = {}
    if mode == "constant" and data.draw(st.booleans()):
        kwargs["constant_values"] = ((1, 2),) * x.ndim if data.draw(st.booleans()) else 3
    if mode in ("reflect", "symmetric") and x.dtype.kind in "iuf":
        kwargs["reflect_type"] = data.draw(st.sampled_from(["even", "odd"]))
    if mode in ("maximum", "minimum", "mean", "median") and data.draw(st.booleans()):
        kwargs["stat_length"] = data.draw(st.integers(1, 4) | st.tuples(
            st.integers(1, 4), st.integers(1, 4)))
    if mode == "linear_ramp" and data.draw(st.booleans()):
        kwargs["end_values"] = (data.draw(st.integers(0, 9)), data.draw(st.integers(0, 9)))
    return [lambda a: fnp.pad(a, width, mode, **kwargs),
            lambda a: np.pad(a, width, mode, **kwargs)], (x,)


def case_ravel_atleast(data):
    x = _array(data)
    name = data.draw(st.sampled_from(["ravel", "atleast_1d", "atleast_2d", "atleast_3d"]))
    return [getattr(fnp, name), getattr(np, name)], (x,)


CASES = [case_reshape, case_transpose, case_swap_move, case_squeeze_expand, case_broadcast,
         case_join, case_split, case_tile_repeat, case_flip_roll, case_pad, case_ravel_atleast]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_against_numpy(case, data):
    (f, g), args = case(data)
    check(f, g, args)


def test_shape_helpers():
    x = np.zeros((2, 3), np.float32)
    assert (fnp.shape(x), fnp.ndim(x), fnp.size(x), fnp.size(x, -1)) == ((2, 3), 2, 6, 3)
    assert (fnp.shape([[1, 2]]), fnp.ndim(1.0)) == ((1, 2), 0)


def test_errors_name_the_shapes():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ShapeError, match="4 equal"):
        fnp.split(x, 4, 1)
    with pytest.raises(ShapeError, match="size 1"):
        fnp.squeeze(x, 0)
    with pytest.raises(ShapeError):
        fnp.reshape(x, (4, -1))
    with pytest.raises(ArgumentError, match="order must be"):
        fnp.reshape(x, (3, 2), order="A")


@pytest.mark.parametrize("new", [(4, 6), (-1,), (3, -1, 2), (2, 3, 4)])
def test_reshape_and_ravel_column_major(new):
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(fnp.reshape(x, new, order="F"), np.reshape(x, new, order="F"))
    np.testing.assert_array_equal(fnp.ravel(x, "F"), np.ravel(x, "F"))
    check_grads(lambda a: fnp.reshape(a, new, order="F") * 2.0, (x,), order=1)
    check_vmap(lambda a: fnp.ravel(a, order="F"), (np.stack([x, -x]),))


LINEAR = [
    lambda x: fnp.pad(x, ((1, 2), (3, 0)), "reflect"), lambda x: fnp.pad(x, 2, "wrap"),
    lambda x: fnp.tile(x, (2, 1)), lambda x: fnp.repeat(x, [1, 0, 2], 0),
    lambda x: fnp.concatenate([x, fnp.flip(x, 1)], 1), lambda x: fnp.roll(x, 2, 1),
    lambda x: fnp.split(x, [1], 1)[1] * 2.0, lambda x: fnp.moveaxis(fnp.stack([x, x]), 0, -1),
    lambda x: fnp.reshape(x, (2, 6), order="F"),
]


@pytest.mark.parametrize("f", LINEAR)
def test_grads_and_vmap(f):
    x = np.random.default_rng(0).standard_normal((3, 4))
    check_grads(f, (x,), order=1)
    check_vmap(f, (np.stack([x, 2 * x, -x], -1),), in_axes=-1)


@pytest.mark.parametrize("mode, kwargs", [("mean", {}), ("maximum", {"stat_length": 2}),
                                          ("median", {}), ("linear_ramp", {"end_values": 1.0}),
                                          ("reflect", {"reflect_type": "odd"})])
def test_pad_statistics_ramps_and_odd_reflections_differentiate_and_jit(mode, kwargs):
    x = np.random.default_rng(0).standard_normal((3, 4))
    check_grads(lambda a: fnp.pad(a, ((1, 2), (2, 1)), mode, **kwargs), (x,), order=2)
    np.testing.assert_allclose(fnad.jit(lambda a: fnp.pad(a, 2, mode, **kwargs))(x),
                               np.pad(x, 2, mode, **kwargs))
    with pytest.raises(fnad.FnadError, match="does not take"):
        fnp.pad(x, 1, "edge", **(kwargs or {"stat_length": 1}))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=5), st.integers(0, 12), st.booleans())
def test_repeat_to_a_total_length_traced_or_not(reps, length, per_element):
    """JAX's total_repeat_length: NumPy's repeat cut to the length, or continued with its
    last element; the repeats may then be traced (under jit)."""
    x = np.arange(len(reps) * 2, dtype=np.float32).reshape(len(reps), 2)
    r = np.array(reps) if per_element else reps[0]
    full = np.repeat(x, r, axis=0)
    expected = full[:length] if len(full) >= length else np.concatenate(
        [full, np.repeat(x[-1:], length - len(full), axis=0)])
    got = fnp.repeat(x, r, axis=0, total_repeat_length=length)
    np.testing.assert_array_equal(got, expected)
    jitted = fnad.jit(lambda r_: fnp.repeat(x, r_, axis=0, total_repeat_length=length))
    np.testing.assert_array_equal(jitted(np.asarray(r)), expected)


def test_rot90_needs_two_different_axes():
    """Equal axes (after wrapping) raise, as NumPy and JAX (a flip came back)."""
    x = np.arange(24.0).reshape(2, 3, 4)
    for axes in [(1, 1), (0, -3), (0, 1, 2)]:
        with pytest.raises(ShapeError, match="different"):
            fnp.rot90(x, 1, axes)
    check(lambda a: fnp.rot90(a, 3, (-1, 0)), lambda a: np.rot90(a, 3, (-1, 0)), (x,))
