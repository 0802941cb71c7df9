"""Tests for fnad/lax/conv.py: conv_general_dilated and reduce_window against naive NumPy
references (explicit loops over output positions), derivatives and batching."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
from fnad import lax
from fnad.core.errors import ArgumentError, ShapeError
from fnad.test_util import assert_allclose, check_grads, check_transforms, check_vmap

# ---------------------------------------------------------------------------- references

def _dilate_pad(x, pads, dil, fill=0.0):
    """Dilate the trailing len(dil) axes of x with fill, then pad (negative crops)."""
    lead = x.ndim - len(dil)
    shape = list(x.shape[:lead]) + [(n - 1) * d + 1 if n else 0
                                    for n, d in zip(x.shape[lead:], dil)]
    out = np.full(shape, fill, x.dtype)
    out[(slice(None),) * lead + tuple(slice(None, None, d) for d in dil)] = x
    out = np.pad(out, [(0, 0)] * lead + [(max(lo, 0), max(hi, 0)) for lo, hi in pads],
                 constant_values=fill)
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0))
                 for (lo, hi), n in zip(pads, out.shape[lead:]))
    return out[(slice(None),) * lead + crop]


def conv_ref(x, w, strides, pads, lhs_dil, rhs_dil, groups=1, batch_groups=1):
    """Convolution in NC... / OI... layout, one output position and kernel tap at a time."""
    n, _ = x.shape[:2]
    o, i = w.shape[:2]
    xd = _dilate_pad(x, pads, lhs_dil)
    ks = w.shape[2:]
    eff = [(k - 1) * d + 1 for k, d in zip(ks, rhs_dil)]
    osp = [max((p - e) // s + 1, 0) for p, e, s in zip(xd.shape[2:], eff, strides)]
    out = np.zeros((n // batch_groups, o, *osp), np.float64)
    for pos in itertools.product(*map(range, osp)):
        for kpos in itertools.product(*map(range, ks)):
            idx = tuple(p * s + k * d for p, s, k, d in zip(pos, strides, kpos, rhs_dil))
            patch = xd[(slice(None), slice(None), *idx)]
            wk = w[(slice(None), slice(None), *kpos)]
            for oc in range(o):
                if groups > 1:
                    g = oc // (o // groups)
                    xs = patch[:, g * i:(g + 1) * i]
                elif batch_groups > 1:
                    g = oc // (o // batch_groups)
                    xs = patch[g * (n // batch_groups):(g + 1) * (n // batch_groups)]
                else:
                    xs = patch
                out[(slice(None), oc, *pos)] += xs @ wk[oc]
    return out


def window_ref(x, kind, window, strides, pads, base_dil=None, win_dil=None):
    """reduce_window by looping over output positions."""
    base_dil = base_dil or (1,) * x.ndim
    win_dil = win_dil or (1,) * x.ndim
    fill = {"sum": 0.0, "max": -np.inf, "min": np.inf}[kind]
    xd = _dilate_pad(x.astype(np.float64), pads, base_dil, fill)
    eff = [(k - 1) * d + 1 for k, d in zip(window, win_dil)]
    osp = [max((p - e) // s + 1, 0) for p, e, s in zip(xd.shape, eff, strides)]
    red = {"sum": np.sum, "max": np.max, "min": np.min}[kind]
    out = np.zeros(osp)
    for pos in itertools.product(*map(range, osp)):
        sl = tuple(slice(p * s, p * s + e, d) for p, s, e, d in zip(pos, strides, eff, win_dil))
        out[pos] = red(xd[sl])
    return out


def _spec_perm(spec: str, first: str, spatial: str) -> list[int]:
    return [spec.index(c) for c in first + spatial]


# ---------------------------------------------------------------------------- conv table

# lhs shape, rhs shape (in NC.../OI... order), strides, padding, lhs_dil, rhs_dil, G, B
CONV_CASES = [
    ((2, 3, 7), (4, 3, 3), (1,), "VALID", None, None, 1, 1),
    ((2, 3, 7), (4, 3, 3), (2,), "SAME", None, (2,), 1, 1),
    ((1, 2, 5, 6), (3, 2, 3, 2), (1, 1), "SAME", None, None, 1, 1),
    ((2, 2, 5, 6), (3, 2, 2, 3), (2, 1), ((1, 0), (2, -1)), (1, 2), (2, 1), 1, 1),
    ((2, 4, 5, 5), (6, 2, 3, 3), (1, 2), "SAME", None, None, 2, 1),
    ((4, 2, 6), (6, 2, 2), (1,), ((1, 1),), (2,), None, 1, 2),
    ((1, 2, 3, 4, 3), (2, 2, 2, 2, 2), (1, 2, 1), "VALID", None, (1, 1, 2), 1, 1),
]


def _case_args(case, dtype=np.float64, seed=0):
    ls, rs, *_ = case
    rng = np.random.default_rng(seed)
    return rng.standard_normal(ls).astype(dtype), rng.standard_normal(rs).astype(dtype)


def _conv_fn(case):
    _, _, strides, padding, ld, rd, g, b = case
    return lambda x, w: lax.conv_general_dilated(x, w, strides, padding, ld, rd,
                                                  feature_group_count=g, batch_group_count=b)


def _explicit_pads(case):
    ls, rs, strides, padding, ld, rd, *_ = case
    nsp = len(ls) - 2
    rd = rd or (1,) * nsp
    window = [(k - 1) * d + 1 for k, d in zip(rs[2:], rd)]
    return lax.padtype_to_pads(ls[2:], window, strides, padding)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_values(case):
    ls, rs, strides, padding, ld, rd, g, b = case
    x, w = _case_args(case, np.float32)
    nsp = len(ls) - 2
    expected = conv_ref(x.astype(np.float64), w.astype(np.float64), strides,
                        _explicit_pads(case), ld or (1,) * nsp, rd or (1,) * nsp, g, b)
    out = _conv_fn(case)(x, w)
    assert out.dtype == np.float32
    assert_allclose(out, expected.astype(np.float32), atol=1e-4, rtol=1e-4)
    check_transforms(_conv_fn(case), (x, w))


def test_same_padding_matches_jax_rule():
    # SAME: output size ceil(n / stride), total padding split with the extra on the high side
    assert lax.padtype_to_pads((7, 6), (3, 2), (2, 1), "SAME") == ((1, 1), (0, 1))
    assert lax.padtype_to_pads((4,), (1,), (3,), "SAME") == ((0, 0),)
    assert lax.padtype_to_pads((5,), (4,), (1,), "VALID") == ((0, 0),)


def test_same_lower_padding_puts_the_extra_element_low() -> None:
    """'SAME_LOWER' (JAX's and stax's): the same total as 'SAME', the odd one at the low end;
    a convolution with it equals one with those pairs, spelled out."""
    assert lax.padtype_to_pads((7, 6), (3, 2), (2, 1), "SAME_LOWER") == ((1, 1), (1, 0))
    x = np.random.default_rng(0).standard_normal((1, 1, 6, 7))
    w = np.random.default_rng(1).standard_normal((1, 1, 2, 4))
    np.testing.assert_allclose(lax.conv_general_dilated(x, w, (1, 1), "SAME_LOWER"),
                               lax.conv_general_dilated(x, w, (1, 1), ((1, 0), (2, 1))))
    pooled = lax.reduce_window(x, -np.inf, "max", (1, 1, 2, 2), (1, 1, 1, 1), "SAME_LOWER")
    padded = np.pad(x, ((0, 0), (0, 0), (1, 0), (1, 0)), constant_values=-np.inf)
    np.testing.assert_array_equal(pooled, np.maximum.reduce([
        padded[..., i:i + 6, j:j + 7] for i in (0, 1) for j in (0, 1)]))


def test_string_padding_with_lhs_dilation_raises_as_in_jax():
    """A transposed convolution's 'SAME' is ambiguous: JAX raises; fnad padded as if the
    input were not dilated."""
    x, w = np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 2, 2), np.float32)
    for padding in ("SAME", "VALID"):
        with pytest.raises(ArgumentError, match="lhs_dilation"):
            lax.conv_general_dilated(x, w, (1, 1), padding, lhs_dilation=(2, 1))
    assert lax.conv_general_dilated(x, w, (1, 1), ((0, 0), (0, 0)),
                                    lhs_dilation=(2, 1)).shape == (1, 1, 6, 3)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_grads(case):
    args = _case_args(case)
    check_grads(_conv_fn(case), args, order=2)
    check_transforms(lambda x, w: fnad.vjp(_conv_fn(case), x, w)[1](_conv_fn(case)(x, w)),
                     args)


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0), (-1, 1), (2, -1)])
def test_conv_vmap(case, in_axes):
    x, w = _case_args(case, np.float64)
    rng = np.random.default_rng(1)
    args = [np.stack([a + rng.standard_normal(a.shape) for _ in range(3)], axis=ax)
            if ax is not None else a for a, ax in zip((x, w), in_axes)]
    check_vmap(_conv_fn(case), args, in_axes, 0, atol=1e-8, rtol=1e-8)


@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0), (1, 2)])
@pytest.mark.parametrize("groups", [(1, 1), (2, 1), (1, 2)])
def test_conv_vmap_is_one_conv(in_axes, groups):
    g, b = groups
    x, w = np.ones((2 * b, 2 * g, 8), np.float32), np.ones((2 * g * b, 2, 3), np.float32)
    args = [np.stack([a] * 5, ax) if ax is not None else a for a, ax in zip((x, w), in_axes)]
    f = lambda x, w: lax.conv_general_dilated(x, w, (1,), "SAME", feature_group_count=g,
                                              batch_group_count=b)
    closed = fnad.make_jaxpr(fnad.vmap(f, in_axes))(*args)
    assert [e.prim.name for e in closed.eqns].count("conv_general_dilated") == 1, closed


@pytest.mark.parametrize("dn", [("NHWC", "HWIO", "NHWC"), ("NCHW", "OIHW", "NHWC"),
                                ("HNWC", "WHOI", "CHWN")])
def test_conv_dimension_number_strings(dn):
    # spatial axes are ordered as in the kernel string, for strides and padding too
    sizes = {"N": 2, "C": 3, "H": 5, "W": 6, "O": 4, "I": 3}
    kernel_sizes = {"H": 2, "W": 3}
    rng = np.random.default_rng(0)
    lhs = rng.standard_normal([sizes[c] for c in dn[0]])
    rhs = rng.standard_normal([kernel_sizes.get(c, sizes[c]) for c in dn[1]])
    spatial = "".join(c for c in dn[1] if c not in "OI")
    f = lambda x, w: lax.conv_general_dilated(x, w, (1, 2), "SAME", dimension_numbers=dn)
    pads = lax.padtype_to_pads([sizes[c] for c in spatial], [kernel_sizes[c] for c in spatial],
                               (1, 2), "SAME")
    ref_std = conv_ref(np.transpose(lhs, _spec_perm(dn[0], "NC", spatial)),
                       np.transpose(rhs, _spec_perm(dn[1], "OI", spatial)), (1, 2), pads,
                       (1, 1), (1, 1))
    expected = np.transpose(ref_std, np.argsort(_spec_perm(dn[2], "NC", spatial)))
    assert_allclose(f(lhs, rhs), expected, atol=1e-10, rtol=1e-10)
    check_grads(f, (lhs, rhs), order=1)
    check_vmap(f, (np.stack([lhs, lhs * 2]), rhs), (0, None))
    check_vmap(f, (np.stack([lhs, lhs * 2], 1), np.stack([rhs, -rhs], 2)), (1, 2))


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_conv_hypothesis_values(data):
    nsp = data.draw(st.integers(1, 2))
    g = data.draw(st.sampled_from([1, 1, 2]))
    b = 1 if g > 1 else data.draw(st.sampled_from([1, 2]))
    n = b * data.draw(st.integers(1, 2))
    c = g * data.draw(st.integers(1, 2))
    o = g * b * data.draw(st.integers(1, 2))
    sp = [data.draw(st.integers(1, 6)) for _ in range(nsp)]
    ks = [data.draw(st.integers(1, 3)) for _ in range(nsp)]
    strides = tuple(data.draw(st.integers(1, 3)) for _ in range(nsp))
    ld = tuple(data.draw(st.integers(1, 2)) for _ in range(nsp))
    rd = tuple(data.draw(st.integers(1, 2)) for _ in range(nsp))
    pads = tuple((data.draw(st.integers(-1, 2)), data.draw(st.integers(-1, 2)))
                 for _ in range(nsp))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, *sp))
    w = rng.standard_normal((o, c // g, *ks))
    expected = conv_ref(x, w, strides, pads, ld, rd, g, b)
    out = lax.conv_general_dilated(x, w, strides, pads, ld, rd, feature_group_count=g,
                                   batch_group_count=b)
    assert_allclose(out, expected, atol=1e-10, rtol=1e-10)
    if out.size:
        # one reverse-mode check per example: both transposes against finite differences
        check_grads(lambda x, w: lax.conv_general_dilated(
            x, w, strides, pads, ld, rd, feature_group_count=g, batch_group_count=b),
            (x, w), order=1, modes=("rev",))


def test_conv_errors():
    x, w = np.ones((1, 4, 5)), np.ones((2, 3, 3))
    with pytest.raises(ShapeError, match="input features"):
        lax.conv_general_dilated(x, w, (1,), "VALID")
    with pytest.raises(ShapeError, match="spatial letters"):
        lax.conv_general_dilated(x, np.ones((2, 4, 3)), (1,), "VALID",
                                 dimension_numbers=("NCW", "OIW", "NCC"))
    with pytest.raises(ShapeError, match="permutations"):
        lax.conv_general_dilated(x, np.ones((2, 4, 3)), (1,), "VALID",
                                 dimension_numbers=((0, 1, 2), (0, 1, 1), (0, 1, 2)))
    with pytest.raises(ShapeError, match="window_strides"):
        lax.conv_general_dilated(x, np.ones((2, 4, 3)), (1, 1), "VALID")
    with pytest.raises(ValueError, match="SAME"):
        lax.conv_general_dilated(x, np.ones((2, 4, 3)), (1,), "FULL")
    with pytest.raises(ShapeError, match="feature_group_count"):
        lax.conv_general_dilated(x, np.ones((3, 2, 3)), (1,), "VALID", feature_group_count=2)


def test_conv_int_dtype_exact():
    x = np.arange(2 * 3 * 6, dtype=np.int32).reshape(2, 3, 6)
    w = np.arange(4 * 3 * 2, dtype=np.int32).reshape(4, 3, 2) - 5
    out = lax.conv_general_dilated(x, w, (1,), "VALID")
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, conv_ref(x, w, (1,), ((0, 0),), (1,), (1,)))


def test_conv_dtype_mismatch_error():
    from fnad.core.errors import DTypeError
    with pytest.raises(DTypeError, match="float64"):
        lax.conv_general_dilated(np.ones((1, 1, 4), np.float32), np.ones((1, 1, 2)), (1,),
                                 "VALID")


# ---------------------------------------------------------------------------- reduce_window

# shape, window, strides, padding, base_dilation, window_dilation (no all-padding windows)
WINDOW_CASES = [
    ((7,), (3,), (1,), "VALID", None, None),
    ((7,), (3,), (2,), "SAME", None, None),
    ((2, 6, 5), (1, 2, 2), (1, 2, 2), "VALID", None, None),
    ((2, 5, 6), (1, 3, 3), (1, 2, 1), "SAME", None, None),
    ((5, 6), (2, 3), (2, 2), ((1, 0), (1, -1)), None, (1, 2)),
    ((4, 5), (2, 2), (1, 1), ((0, 1), (1, 0)), (2, 1), None),
    ((3, 4, 4), (2, 2, 2), (1, 1, 2), "VALID", None, None),
]
INIT = {"sum": 0.0, "max": -np.inf, "min": np.inf}


def _window_fn(kind, case):
    _, window, strides, padding, bdil, wdil = case
    return lambda x: lax.reduce_window(x, INIT[kind], kind, window, strides, padding, bdil, wdil)


def _window_pads(case):
    shape, window, strides, padding, _, wdil = case
    wdil = wdil or (1,) * len(shape)
    return lax.padtype_to_pads(shape, [(k - 1) * d + 1 for k, d in zip(window, wdil)], strides,
                               padding)


def _tie_free(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 - 1.0


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("case", WINDOW_CASES)
def test_reduce_window_values(kind, case):
    shape, window, strides, _, bdil, wdil = case
    x = _tie_free(shape).astype(np.float32)
    out = _window_fn(kind, case)(x)
    assert out.dtype == np.float32
    expected = window_ref(x, kind, window, strides, _window_pads(case), bdil, wdil)
    assert_allclose(out, expected.astype(np.float32), atol=1e-5, rtol=1e-5)
    check_transforms(_window_fn(kind, case), (x,))


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("case", WINDOW_CASES)
def test_reduce_window_grads(kind, case):
    f, x = _window_fn(kind, case), _tie_free(case[0])
    check_grads(f, (x,), order=2 if kind == "sum" else 1)
    check_transforms(lambda x: fnad.vjp(f, x)[1](f(x) ** 2), (x,))


@pytest.mark.parametrize("kind", ["sum", "max"])
@pytest.mark.parametrize("case", WINDOW_CASES[1:5])
@pytest.mark.parametrize("in_axes", [0, -1, 1])
def test_reduce_window_vmap(kind, case, in_axes):
    shape = list(case[0])
    shape.insert(in_axes % (len(shape) + 1), 3)
    x = _tie_free(shape)
    f = _window_fn(kind, case)
    check_vmap(f, (x,), in_axes, 0)
    check_vmap(fnad.grad(lambda x: lax.reduce_sum(f(x) ** 2, tuple(range(len(case[0]))))),
               (x,), in_axes, in_axes)


def test_max_pool_gradient_goes_to_the_argmax():
    x = np.array([[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 6.0]])
    g = fnad.grad(lambda x: lax.reduce_sum(
        lax.reduce_window(x, -np.inf, "max", (2, 2), (1, 2), "VALID"), (0, 1)))(x)
    assert_allclose(g, np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]))
    # overlapping windows: a shared maximum collects from every window it wins
    g = fnad.grad(lambda x: lax.reduce_sum(
        lax.reduce_window(x, -np.inf, lax.max, (1, 3), (1, 1), "VALID"), (0, 1)))(x)
    assert_allclose(g, np.array([[0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]]))


def test_max_pool_choice_with_ties_nans_and_infinite_cotangents():
    """The first maximum of a window wins a tie, a NaN wins over numbers (as np.argmax),
    and an infinite or NaN cotangent lands on the chosen element only."""
    x = np.array([[2.0, 2.0, 1.0, np.nan], [0.0, 1.0, 3.0, 7.0],
                  [-np.inf, -np.inf, 5.0, 5.0], [-np.inf, -np.inf, 4.0, 5.0]], np.float32)
    ct = np.array([[np.inf, 1.0], [2.0, np.nan]], np.float32)
    pool = lambda v: lax.reduce_window(v, -np.inf, "max", (2, 2), (2, 2), "VALID")
    out, f_vjp = fnad.vjp(pool, x)
    (g,) = f_vjp(ct)
    expected = np.zeros_like(x)
    for i in range(2):
        for j in range(2):
            w = x[2 * i:2 * i + 2, 2 * j:2 * j + 2].ravel()
            k = int(np.argmax(w))  # NaN first, else the first maximum
            expected[2 * i + k // 2, 2 * j + k % 2] = ct[i, j]
    np.testing.assert_array_equal(g, expected)
    np.testing.assert_array_equal(out, [[2.0, np.nan], [-np.inf, 5.0]])
    _, t = fnad.jvp(pool, (x,), (np.arange(16, dtype=np.float32).reshape(4, 4),))
    np.testing.assert_array_equal(t, [[0.0, 3.0], [8.0, 10.0]])


def test_avg_pool_as_window_sum_and_its_transpose():
    x = np.arange(16.0).reshape(1, 4, 4)
    out = lax.reduce_window(x, 0.0, lax.add, (1, 2, 2), (1, 2, 2), "VALID")
    assert_allclose(out, np.array([[[10.0, 18.0], [42.0, 50.0]]]))
    _, f_vjp = fnad.vjp(lambda x: lax.reduce_window(x, 0.0, "sum", (1, 2, 2), (1, 2, 2),
                                                    "VALID"), x)
    assert_allclose(f_vjp(np.ones((1, 2, 2)))[0], np.ones((1, 4, 4)))


def test_reduce_window_init_value_and_errors():
    x = np.array([-3.0, -1.0, -2.0, 4.0])
    # a non-identity init is reduced into every window, as in jax.lax.reduce_window
    assert_allclose(lax.reduce_window(x, 0.0, "max", (2,), (2,), "VALID"), np.array([0.0, 4.0]))
    assert_allclose(lax.reduce_window(x, -np.inf, "max", (3,), (1,), "SAME"),
                    np.array([-1.0, -1.0, 4.0, 4.0]))
    with pytest.raises(ValueError, match="init_value 0"):
        lax.reduce_window(x, 1.0, "sum", (2,), (1,), "VALID")
    with pytest.raises(ValueError, match="computation"):
        lax.reduce_window(x, 0.0, "mean", (2,), (1,), "VALID")
    with pytest.raises(ShapeError, match="window_dimensions"):
        lax.reduce_window(x, 0.0, "sum", (2, 2), (1, 1), "VALID")


def test_reduce_window_int_and_jaxpr():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    out = lax.reduce_window(x, 0, "sum", (2, 2), (1, 1), "VALID")
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, window_ref(x, "sum", (2, 2), (1, 1), ((0, 0), (0, 0))))
    closed = fnad.make_jaxpr(fnad.grad(lambda x: lax.reduce_sum(lax.reduce_window(
        x, -np.inf, "max", (2, 2), (2, 2), "VALID"), (0, 1))))(np.ones((4, 4)))
    names = [e.prim.name for e in closed.eqns]
    assert "window_select_scatter" in names, closed


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_reduce_window_hypothesis(data):
    nd = data.draw(st.integers(1, 3))
    shape = [data.draw(st.integers(1, 5)) for _ in range(nd)]
    window = [data.draw(st.integers(1, 3)) for _ in range(nd)]
    strides = [data.draw(st.integers(1, 3)) for _ in range(nd)]
    bdil = [data.draw(st.integers(1, 2)) for _ in range(nd)]
    wdil = [data.draw(st.integers(1, 2)) for _ in range(nd)]
    pads = [(data.draw(st.integers(-1, 2)), data.draw(st.integers(-1, 2))) for _ in range(nd)]
    x = _tie_free(shape)
    for kind in ("sum", "max", "min"):
        f = lambda x, kind=kind: lax.reduce_window(x, INIT[kind], kind, window, strides, pads,
                                                   bdil, wdil)
        assert_allclose(f(x), window_ref(x, kind, window, strides, pads, bdil, wdil))
    f = lambda x: lax.reduce_window(x, 0.0, "sum", window, strides, pads, bdil, wdil)
    if f(x).size:
        check_grads(f, (x,), order=1, modes=("rev",))
