"""Tests for fnad.lax.elementwise: one table of cases drives values (against NumPy, `math`
and series references), staging, derivatives to second order and vmap; then the integer,
NaN, special-function and kernel-template semantics that the table cannot express.
"""

from __future__ import annotations

import ctypes
import dataclasses
import decimal
import math
import shutil
import subprocess
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
from fnad import lax
from fnad.backends import nvrtc
from fnad.core.errors import DTypeError, ShapeError
from fnad.core.primitive import Elementwise
from fnad.jit.backends import available_backends
from fnad.lax import elementwise as ew
from fnad.test_util import assert_allclose, check_grads, check_transforms, check_vmap

F32, F64, I32, U32, BOOL = (np.dtype(t) for t in (np.float32, np.float64, np.int32, np.uint32,
                                                  np.bool_))
FLOATS = (F32, F64)
EULER = 0.57721566490153286  # the Euler-Mascheroni constant
ZETA3 = 1.2020569031595942   # Apery's constant, zeta(3)

# ---------------------------------------------------------------------------- generators
# A generator maps (rng, shape, dtype) to an array of that shape in the function's domain.

Gen = Callable[[np.random.Generator, tuple, np.dtype], np.ndarray]


def uniform(lo: float, hi: float) -> Gen:
    """Floats in [lo, hi); for integer dtypes, integers in that range."""
    def gen(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
        if dtype.kind in "iu":
            return rng.integers(int(lo), int(hi), size=shape).astype(dtype)
        if dtype.kind == "b":
            return rng.random(shape) < 0.5
        return rng.uniform(lo, hi, size=shape).astype(dtype)
    return gen


def away(lo: float, hi: float) -> Gen:
    """Magnitudes in [lo, hi) with a random sign: keeps off zero and the kinks there."""
    mag = uniform(lo, hi)

    def gen(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
        sign = np.where(rng.random(shape) < 0.5, -1, 1).astype(dtype)
        return (mag(rng, shape, dtype) * sign).astype(dtype)
    return gen


def bits(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Any bit pattern of the dtype (bools for bool)."""
    if dtype == BOOL:
        return rng.random(shape) < 0.5
    return rng.integers(0, 2 ** 32, size=shape, dtype=np.uint64).astype(np.uint32).view(dtype)


def boolean(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    return rng.random(shape) < 0.5


def shift_amount(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    return rng.integers(0, 32, size=shape).astype(dtype)


def small_ints(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Few distinct values, so comparisons see ties; for floats also nan and +-inf."""
    values = [-2, -1, 0, 1, 2] + ([np.nan, np.inf, -np.inf] if dtype.kind == "f" else [])
    if dtype == BOOL:
        return rng.random(shape) < 0.5
    if dtype.kind == "u":
        values = [0, 1, 2, 3]
    return np.asarray(rng.choice(values, size=shape)).astype(dtype)


# ---------------------------------------------------------------------------- references

def vectorized(fn: Callable[..., float]) -> Callable[..., np.ndarray]:
    return lambda *xs: np.vectorize(fn, otypes=[np.float64])(*xs)


def digamma_ref(x: np.ndarray) -> np.ndarray:
    """psi(x) = -gamma + sum_k (1/(k+1) - 1/(k+x)), the tail past N by Euler-Maclaurin."""
    x = np.asarray(x, np.float64)[..., None]
    n = 2000
    k = np.arange(n)
    head = np.sum(1 / (k + 1) - 1 / (k + x), axis=-1)
    x = x[..., 0]
    f = 1 / (n + 1) - 1 / (n + x)
    df = -1 / (n + 1) ** 2 + 1 / (n + x) ** 2
    return -EULER + head + np.log((n + x) / (n + 1)) + f / 2 - df / 12


def polygamma_ref(m: int, x: np.ndarray) -> np.ndarray:
    """psi_m(x) = (-1)^(m+1) m! sum_k (x+k)^-(m+1) (m >= 1), tail by Euler-Maclaurin."""
    x = np.asarray(x, np.float64)[..., None]
    n = 2000
    head = np.sum((x + np.arange(n)) ** -(m + 1.0), axis=-1)
    z = x[..., 0] + n
    tail = z ** -m / m + z ** -(m + 1.0) / 2 + (m + 1) * z ** -(m + 2.0) / 12
    return (-1) ** (m + 1) * math.factorial(m) * (head + tail)


def trunc_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """C division: true division for floats, truncation toward zero for integers."""
    return x / y if x.dtype.kind == "f" else np.trunc(x / y).astype(x.dtype)


def round_ref(x: np.ndarray, mode: str) -> np.ndarray:
    """Exact decimal rounding of each float (ROUND_HALF_UP ties away from zero)."""
    def one(v: float) -> float:
        if not math.isfinite(v):
            return v
        return math.copysign(float(decimal.Decimal(v).quantize(decimal.Decimal(1), mode)), v)
    return vectorized(one)(x)


def popcount_ref(x: np.ndarray) -> np.ndarray:
    u = np.asarray(x).view(np.uint32)
    return np.vectorize(lambda v: bin(int(v)).count("1"))(u).astype(x.dtype)


# ---------------------------------------------------------------------------- the table

@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    fn: Callable[..., Any]
    ref: Callable[..., Any]
    gens: tuple[Gen, ...]
    dtypes: tuple[np.dtype, ...] = FLOATS
    grad: bool = True
    out: np.dtype | None = None   # output dtype when not the operands'
    grad_gens: tuple[Gen, ...] | None = None

    def __str__(self) -> str:
        return self.name


def unary(name: str, ref: Callable[..., Any], gen: Gen, **kw: Any) -> Case:
    return Case(name, getattr(lax, name), ref, (gen,), **kw)


def binary(name: str, ref: Callable[..., Any], gx: Gen, gy: Gen, **kw: Any) -> Case:
    return Case(name, getattr(lax, name), ref, (gx, gy), **kw)


NUMS = (F32, F64, I32, U32)
INTS = (I32, U32)
BITS = (BOOL, I32, U32)
ANY = (F32, F64, I32, U32, BOOL)

CASES = [
    unary("neg", np.negative, uniform(-3, 3), dtypes=NUMS),
    unary("sign", np.sign, uniform(-3, 3), dtypes=(F32, F64, I32), grad=False),
    unary("floor", np.floor, uniform(-3, 3), grad=False),
    unary("ceil", np.ceil, uniform(-3, 3), grad=False),
    Case("round", lax.round, lambda x: round_ref(x, decimal.ROUND_HALF_UP),
         (uniform(-3, 3),), grad=False),
    Case("round_even", lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN),
         lambda x: round_ref(x, decimal.ROUND_HALF_EVEN), (uniform(-3, 3),), grad=False),
    unary("is_finite", np.isfinite, small_ints, grad=False, out=BOOL),
    unary("abs", np.abs, away(0.1, 3), dtypes=(F32, F64, I32)),
    unary("square", np.square, uniform(-3, 3), dtypes=(F32, F64, I32)),
    unary("exp", np.exp, uniform(-3, 3)),
    unary("exp2", np.exp2, uniform(-3, 3)),
    unary("log", np.log, uniform(0.1, 5)),
    unary("log1p", np.log1p, uniform(-0.9, 3)),
    unary("expm1", np.expm1, uniform(-2, 2)),
    unary("sqrt", np.sqrt, uniform(0.1, 4)),
    unary("rsqrt", lambda x: 1 / np.sqrt(x), uniform(0.1, 4)),
    unary("cbrt", np.cbrt, away(0.2, 3)),
    unary("sin", np.sin, uniform(-3, 3)),
    unary("cos", np.cos, uniform(-3, 3)),
    unary("tan", np.tan, uniform(-1.2, 1.2)),
    unary("asin", np.arcsin, uniform(-0.9, 0.9)),
    unary("acos", np.arccos, uniform(-0.9, 0.9)),
    unary("atan", np.arctan, uniform(-3, 3)),
    unary("sinh", np.sinh, uniform(-2, 2)),
    unary("cosh", np.cosh, uniform(-2, 2)),
    unary("tanh", np.tanh, uniform(-3, 3)),
    unary("asinh", np.arcsinh, uniform(-3, 3)),
    unary("acosh", np.arccosh, uniform(1.1, 4)),
    unary("atanh", np.arctanh, uniform(-0.9, 0.9)),
    unary("logistic", lambda x: 1 / (1 + np.exp(-x)), uniform(-4, 4)),
    unary("erf", vectorized(math.erf), uniform(-2.5, 2.5)),
    unary("erfc", vectorized(math.erfc), uniform(-2, 4)),
    unary("erf_inv", None, uniform(-0.95, 0.95)),  # checked by inversion below
    unary("lgamma", vectorized(math.lgamma), uniform(0.1, 6)),
    unary("digamma", digamma_ref, uniform(0.2, 6)),
    Case("lgamma_negative", lax.lgamma, vectorized(math.lgamma), (uniform(0.2, 0.8),),
         grad_gens=(uniform(-2.8, -2.2),)),
    Case("polygamma_2", lambda x: lax.polygamma(2, x), lambda x: polygamma_ref(2, x),
         (uniform(0.3, 5),)),
    Case("integer_pow_3", lambda x: lax.integer_pow(x, 3), lambda x: x ** 3,
         (uniform(-3, 3),), dtypes=(F32, F64, I32)),
    Case("integer_pow_-2", lambda x: lax.integer_pow(x, -2), lambda x: x ** -2.0,
         (away(0.3, 3),)),
    binary("add", np.add, uniform(-3, 3), uniform(-3, 3), dtypes=NUMS),
    binary("sub", np.subtract, uniform(-3, 3), uniform(-3, 3), dtypes=NUMS),
    binary("mul", np.multiply, uniform(-3, 3), uniform(-3, 3), dtypes=NUMS),
    binary("div", trunc_div, uniform(-9, 9), away(1, 4), dtypes=(F32, F64, I32)),
    binary("rem", np.fmod, uniform(-9, 9), away(1, 4), dtypes=(F32, F64, I32), grad=False),
    binary("pow", np.power, uniform(0.2, 3), uniform(-2, 2)),
    binary("max", np.maximum, small_ints, small_ints, dtypes=NUMS, grad=False),
    binary("min", np.minimum, small_ints, small_ints, dtypes=NUMS, grad=False),
    Case("max_smooth", lax.max, np.maximum, (uniform(-3, 3), uniform(-3, 3))),
    Case("min_smooth", lax.min, np.minimum, (uniform(-3, 3), uniform(-3, 3))),
    binary("atan2", np.arctan2, away(0.2, 3), away(0.2, 3)),
    binary("nextafter", np.nextafter, uniform(-3, 3), small_ints, grad=False),
    *(binary(n, getattr(np, r), small_ints, small_ints, dtypes=ANY, grad=False, out=BOOL)
      for n, r in (("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
                   ("gt", "greater"), ("ge", "greater_equal"))),
    binary("bitwise_and", np.bitwise_and, bits, bits, dtypes=BITS, grad=False),
    binary("bitwise_or", np.bitwise_or, bits, bits, dtypes=BITS, grad=False),
    binary("bitwise_xor", np.bitwise_xor, bits, bits, dtypes=BITS, grad=False),
    unary("bitwise_not", np.invert, bits, dtypes=BITS, grad=False),
    binary("shift_left", np.left_shift, bits, shift_amount, dtypes=INTS, grad=False),
    binary("shift_right_logical",
           lambda x, s: (x.view(np.uint32) >> s.astype(np.uint32)).view(x.dtype),
           bits, shift_amount, dtypes=INTS, grad=False),
    binary("shift_right_arithmetic",
           lambda x, s: (x.view(np.int32) >> s.astype(np.int32)).view(x.dtype),
           bits, shift_amount, dtypes=INTS, grad=False),
    unary("population_count", popcount_ref, bits, dtypes=INTS, grad=False),
    Case("clamp", lax.clamp, lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi),
         (uniform(-2, -0.5), uniform(-3, 3), uniform(0.5, 2)), dtypes=(F32, F64, I32)),
    Case("select_n", lax.select_n, lambda c, a, b: np.where(c, b, a),
         (boolean, uniform(-3, 3), uniform(-3, 3)), dtypes=(F32, F64, I32)),
    Case("select_n_3", lax.select_n, lambda c, *xs: np.choose(c, xs),
         (uniform(0, 3), uniform(-3, 3), uniform(-3, 3), uniform(-3, 3)), dtypes=(F32, F64)),
    Case("convert_to_f64", lambda x: lax.convert_element_type(x, np.float64),
         lambda x: x.astype(np.float64), (uniform(-3, 3),), dtypes=(F32, I32, U32),
         grad=False),
    Case("convert_to_i32", lambda x: lax.convert_element_type(x, np.int32),
         lambda x: x.astype(np.int32), (uniform(-3, 3),), dtypes=(F32, F64, U32),
         grad=False, out=I32),
]
GRAD_CASES = [c for c in CASES if c.grad]


def operand_dtype(case: Case, i: int, dtype: np.dtype) -> np.dtype:
    """select_n's selector is bool (two cases) or int32 (more); the rest share `dtype`."""
    if case.name.startswith("select_n") and i == 0:
        return BOOL if len(case.gens) == 3 else I32
    return dtype


def make_args(case: Case, rng: np.random.Generator, shape: tuple, scalars: list[bool],
              dtype: np.dtype, gens: tuple[Gen, ...] | None = None) -> list[np.ndarray]:
    return [np.asarray(g(rng, () if s else shape, operand_dtype(case, i, dtype)))
            for i, (g, s) in enumerate(zip(gens or case.gens, scalars))]


def expected(case: Case, args: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    wide = [a.astype(np.float64) if a.dtype == F32 else a for a in args]
    with np.errstate(all="ignore"):
        ref = np.asarray(case.ref(*wide))
    out = case.out or (ref.dtype if case.name.startswith("convert") else dtype)
    return ref.astype(out)


shapes = st.lists(st.integers(1, 3), max_size=3).map(tuple)


@pytest.mark.parametrize("case", CASES, ids=str)
@settings(max_examples=12, deadline=None)
@given(data=st.data(), shape=shapes, seed=st.integers(0, 2 ** 32 - 1))
def test_values_and_staging(case: Case, data: st.DataObject, shape: tuple, seed: int) -> None:
    dtype = data.draw(st.sampled_from(case.dtypes), label="dtype")
    scalars = data.draw(st.lists(st.booleans(), min_size=len(case.gens),
                                 max_size=len(case.gens)), label="rank-0 operands")
    args = make_args(case, np.random.default_rng(seed), shape, scalars, dtype)
    out = case.fn(*args)
    full = shape if not all(scalars) else ()
    assert np.shape(out) == full
    if case.ref is not None:
        want = expected(case, args, dtype)
        assert np.asarray(out).dtype == want.dtype
        tol = 1e-5 if dtype == F32 else 1e-12
        assert_allclose(out, want, atol=tol, rtol=tol)
    else:  # erf_inv inverts erf
        assert np.asarray(out).dtype == dtype
        assert_allclose(lax.erf(out), args[0], atol=1e-6 if dtype == F32 else 1e-14)
    check_transforms(case.fn, args)


@pytest.mark.parametrize("case", GRAD_CASES, ids=str)
@settings(max_examples=4, deadline=None)
@given(data=st.data(), shape=shapes, seed=st.integers(0, 2 ** 32 - 1))
def test_grads(case: Case, data: st.DataObject, shape: tuple, seed: int) -> None:
    scalars = data.draw(st.lists(st.booleans(), min_size=len(case.gens),
                                 max_size=len(case.gens)), label="rank-0 operands")
    args = make_args(case, np.random.default_rng(seed), shape, scalars, F64, case.grad_gens)
    check_grads(case.fn, args, order=2)


def vmap_axes(n: int) -> list[tuple[tuple, tuple]]:
    """(in_axes, which operands are rank 0 before batching) combinations for n operands."""
    if n == 1:
        return [((0,), (False,)), ((1,), (False,)), ((-1,), (False,)), ((0,), (True,))]
    if n == 2:
        return [((0, None), (False, False)), ((0, None), (False, True)),
                ((1, 0), (False, False)), ((-1, None), (False, True)),
                ((None, 0), (True, False)), ((0, 0), (True, False))]
    rest = (None,) * (n - 2)
    return [((0, None, *rest), (False,) * n), ((None, 1, *rest), (True, False, *(True,) * (n - 2))),
            ((-1, 0, *(0,) * (n - 2)), (False,) * n), ((0,) + rest + (0,), (True,) * n)]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_vmap(case: Case) -> None:
    rng = np.random.default_rng(0)
    dtype = case.dtypes[-1] if case.grad is False else F64
    for axes, scalars in vmap_axes(len(case.gens)):
        args = []
        for i, (g, ax, s) in enumerate(zip(case.gens, axes, scalars)):
            shape = [] if s else [2, 3]
            if ax is not None:
                shape.insert(ax % (len(shape) + 1), 4)
            args.append(np.asarray(g(rng, tuple(shape), operand_dtype(case, i, dtype))))
        check_vmap(case.fn, args, in_axes=axes)
    check_vmap(case.fn, args, in_axes=axes, out_axes=-1)


# ---------------------------------------------------------------------------- integers

def test_integer_div_and_rem_follow_c() -> None:
    """Division truncates toward zero; the remainder takes the dividend's sign."""
    pairs = [(7, 2), (-7, 2), (7, -2), (-7, -2), (6, 3), (-6, 3), (0, -5), (1, 7), (-1, 7)]
    x = np.array([p[0] for p in pairs], np.int32)
    y = np.array([p[1] for p in pairs], np.int32)
    assert lax.div(x, y).tolist() == [math.trunc(a / b) for a, b in pairs]
    assert lax.rem(x, y).tolist() == [int(math.fmod(a, b)) for a, b in pairs]
    assert lax.div(x, y).dtype == I32 and lax.rem(x, y).dtype == I32
    xf, yf = x.astype(np.float64) + 0.5, y.astype(np.float64)
    assert_allclose(lax.rem(xf, yf), np.array([math.fmod(a, b) for a, b in zip(xf, yf)]))
    int_min = np.int32(-2 ** 31)
    assert lax.div(int_min, np.int32(-1)) == int_min  # wraps, as in C on two's complement
    assert lax.div(np.int32(5), np.int32(0)) == 0 and lax.rem(np.int32(5), np.int32(0)) == 0


def test_uint32_wraps_around() -> None:
    """Threefry needs modular uint32 arithmetic, eagerly and staged, without warnings."""
    rng = np.random.default_rng(1)
    x, y = bits(rng, (64,), U32), bits(rng, (64,), U32)
    r = shift_amount(rng, (64,), U32)
    px, py, pr = (v.astype(object) for v in (x, y, r))
    mask = 2 ** 32 - 1
    checks = [
        (lax.add, (x, y), (px + py) & mask), (lax.sub, (x, y), (px - py) & mask),
        (lax.mul, (x, y), (px * py) & mask), (lax.bitwise_xor, (x, y), px ^ py),
        (lax.shift_left, (x, r), (px << pr) & mask), (lax.shift_right_logical, (x, r), px >> pr),
        (lambda a, s: lax.bitwise_or(lax.shift_left(a, s), lax.shift_right_logical(a, 32 - s)),
         (x, r), ((px << pr) | (px >> (32 - pr))) & mask),  # rotate left
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f, args, want in checks:
            out = f(*args)
            assert out.dtype == U32
            assert out.astype(object).tolist() == want.tolist()
            check_transforms(f, args)
            assert int(f(*(a[0] for a in args))) == want[0]  # 0-d operands wrap too
        assert lax.add(np.uint32(mask), 1) == 0 and lax.mul(np.uint32(2 ** 31), 2) == 0


def test_shifts_out_of_range_and_signed_bits() -> None:
    """Amounts outside [0, bits) shift everything out; arithmetic shifts read the bits as
    signed, also for unsigned types (XLA semantics)."""
    x = np.array([-8, 8, -1], np.int32)
    for s in (32, 33, 100, -1):
        amount = np.full(3, s, np.int32)
        assert lax.shift_left(x, amount).tolist() == [0, 0, 0]
        assert lax.shift_right_logical(x, amount).tolist() == [0, 0, 0]
        assert lax.shift_right_arithmetic(x, amount).tolist() == [-1, 0, -1]
    assert lax.shift_right_logical(np.int32(-8), np.int32(1)) == (2 ** 32 - 8) >> 1
    assert lax.shift_right_arithmetic(np.int32(-8), np.int32(1)) == -4
    top = np.uint32(2 ** 31)
    assert lax.shift_right_arithmetic(top, np.uint32(4)) == 0xF8000000
    assert lax.shift_right_arithmetic(top, np.uint32(40)) == 0xFFFFFFFF
    assert lax.shift_right_logical(top, np.uint32(4)) == 0x08000000


def test_bool_logic() -> None:
    t, f = np.array([True, True, False, False]), np.array([True, False, True, False])
    assert lax.bitwise_and(t, f).tolist() == [True, False, False, False]
    assert lax.bitwise_or(t, f).tolist() == [True, True, True, False]
    assert lax.bitwise_xor(t, f).tolist() == [False, True, True, False]
    assert lax.bitwise_not(t).tolist() == [False, False, True, True]
    assert lax.bitwise_not(np.int32(5)) == -6


# ---------------------------------------------------------------------------- floats

def test_nan_and_inf_propagation() -> None:
    nan, inf = np.float32(np.nan), np.float32(np.inf)
    x = np.array([nan, 1, nan, inf, -inf, 2], np.float32)
    y = np.array([1, nan, nan, 1, 1, -inf], np.float32)
    np.testing.assert_array_equal(lax.max(x, y), [nan, nan, nan, inf, 1, 2])
    np.testing.assert_array_equal(lax.min(x, y), [nan, nan, nan, 1, -inf, -inf])
    assert lax.lt(x, y).tolist() == [False, False, False, False, True, False]
    assert lax.eq(x, y).tolist() == [False, False, False, False, False, False]
    assert lax.ne(x, y).tolist() == [True] * 6
    assert lax.eq(inf, inf) and lax.ge(inf, np.float32(3.4e38))
    assert lax.is_finite(x).tolist() == [False, True, False, False, False, True]
    for f in (lax.sin, lax.exp, lax.erf, lax.lgamma, lax.digamma, lax.erf_inv):
        assert np.isnan(f(nan))


def test_round_ties() -> None:
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.49999999999999994, -0.0, 4.0], np.float64)
    np.testing.assert_array_equal(lax.round(x), round_ref(x, decimal.ROUND_HALF_UP))
    np.testing.assert_array_equal(lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN),
                                  round_ref(x, decimal.ROUND_HALF_EVEN))
    with pytest.raises(ValueError):
        lax.round(x, 7)


def test_derivatives_at_edges() -> None:
    assert fnad.grad(lax.sqrt)(0.0) == np.inf
    assert fnad.grad(lax.cbrt)(0.0) == np.inf
    assert fnad.grad(lambda y: lax.pow(0.0, y))(2.0) == 0  # log(0) * 0^y read as 0
    assert fnad.grad(lambda x: lax.pow(x, 0.0))(0.0) == 0  # 0 * 0^-1 read as 0
    # ...to every order (autograd's test_power_arg0: the second derivative was 0 * inf)
    assert fnad.grad(fnad.grad(lambda x: lax.pow(x, 0.0)))(0.0) == 0
    assert fnad.grad(fnad.grad(fnad.grad(lambda x: lax.pow(x, 0.0))))(0.0) == 0
    # only at x == 0: d2/dxdy x^y at y == 0 is 1/x (it was 0), as JAX has it
    assert fnad.grad(fnad.grad(lax.pow), argnums=1)(np.float64(0.5), np.float64(0.0)) == 2.0
    check_grads(lax.pow, (np.array([0.5, 2.0, 3.0]), np.array([0.0, 1.5, -2.0])), order=3)
    assert fnad.grad(lambda x: lax.pow(x, 2.0))(3.0) == 6
    # abs: JAX's select(x >= 0, g, -g): +1 at 0 and -0 (not sign(x)'s 0), -1 at NaN
    edges = np.array([-2.0, 0.0, -0.0, 3.0, np.nan])
    expected = np.array([-1.0, 1.0, 1.0, 1.0, -1.0])
    assert np.array_equal(fnad.grad(lambda x: lax.abs(x).sum())(edges), expected)
    assert np.array_equal(fnad.jit(fnad.grad(lambda x: lax.abs(x).sum()))(edges), expected)
    assert np.array_equal(fnad.vmap(fnad.grad(lax.abs))(edges), expected)
    assert np.array_equal(fnad.jvp(lax.abs, (edges,), (np.ones(5),))[1], expected)
    assert fnad.grad(lax.logistic)(np.float64(100)) == 0
    assert fnad.grad(lax.tanh)(np.float64(30)) == 0
    for f in (lax.floor, lax.ceil, lax.round, lax.sign):
        assert fnad.grad(f)(1.3) == 0
    # atan2 is differentiable in both operands: d/dx atan2(x, y) = y / (x^2 + y^2)
    gx, gy = fnad.grad(lax.atan2, argnums=(0, 1))(1.0, 2.0)
    assert np.isclose(gx, 2 / 5) and np.isclose(gy, -1 / 5)
    # rem is smooth between its jumps (where x / y is an integer)
    check_grads(lax.rem, (np.array([2.5, -2.5, 7.1]), np.array([2.0, 2.0, -3.0])), order=2)


def test_clamp_gradients() -> None:
    x = np.array([-3.0, -0.5, 0.5, 3.0])
    lo, hi = np.float64(-1), np.float64(1)
    np.testing.assert_array_equal(lax.clamp(lo, x, hi), [-1, -0.5, 0.5, 1])
    g_lo, g_x, g_hi = fnad.grad(lambda a, b, c: lax.clamp(a, b, c).sum(),
                                argnums=(0, 1, 2))(lo, x, hi)
    np.testing.assert_array_equal(g_x, [0, 1, 1, 0])
    assert g_lo == 1 and g_hi == 1


def test_convert_element_type_is_linear() -> None:
    x = np.array([1.5, -2.0], np.float32)
    y, pullback = fnad.vjp(lambda v: lax.convert_element_type(v, np.float64), x)
    assert y.dtype == F64
    (ct,) = pullback(np.array([3.0, 4.0]))
    assert ct.dtype == F32 and ct.tolist() == [3.0, 4.0]
    _, t = fnad.jvp(lambda v: lax.convert_element_type(v, np.int32), (x,), (x,))
    assert np.all(np.asarray(t) == 0)


# ---------------------------------------------------------------------------- special functions

def test_erf_erfc_against_math() -> None:
    x = np.concatenate([np.linspace(-6, 6, 1201), np.geomspace(1e-300, 27, 300), [0.0]])
    assert_allclose(lax.erf(x), vectorized(math.erf)(x), atol=0, rtol=1e-14)
    assert_allclose(lax.erfc(x), vectorized(math.erfc)(x), atol=0, rtol=5e-14)
    assert_allclose(lax.erfc(-x), vectorized(math.erfc)(-x), atol=0, rtol=5e-14)
    assert lax.erf(np.inf) == 1 and lax.erf(-np.inf) == -1 and lax.erfc(np.inf) == 0
    x32 = x.astype(np.float32)
    assert lax.erf(x32).dtype == F32
    assert_allclose(lax.erf(x32), vectorized(math.erf)(x32).astype(np.float32))


def test_erf_inv() -> None:
    x = np.linspace(-5, 5, 401)
    assert_allclose(lax.erf_inv(lax.erf(x[np.abs(x) < 3])), x[np.abs(x) < 3], rtol=1e-10)
    y = np.concatenate([np.linspace(-0.999999, 0.999999, 501), 1 - np.geomspace(1e-16, 1, 50)])
    assert_allclose(lax.erf(lax.erf_inv(y)), y, atol=2e-16, rtol=1e-14)
    np.testing.assert_array_equal(lax.erf_inv(np.array([1.0, -1.0, 1.5, 0.0])),
                                  [np.inf, -np.inf, np.nan, 0.0])


def test_lgamma_against_math() -> None:
    x = np.concatenate([np.linspace(-20.25, 40, 2001), np.geomspace(1e-300, 1e300, 300)])
    x = x[(x > 0) | (np.abs(x - np.round(x)) > 1e-3)]  # off the poles
    ref = vectorized(math.lgamma)(x)
    assert_allclose(lax.lgamma(x), ref, atol=1e-13, rtol=1e-13)
    poles = lax.lgamma(np.array([0.0, -1.0, -7.0, np.inf, -np.inf]))
    np.testing.assert_array_equal(poles, [np.inf] * 5)


def test_digamma_identities() -> None:
    assert np.isclose(lax.digamma(np.float64(1)), -EULER, rtol=1e-15)
    assert np.isclose(lax.digamma(np.float64(0.5)), -EULER - 2 * math.log(2), rtol=1e-15)
    grid = np.linspace(-9.9, 30, 997)
    grid = grid[np.abs(grid - np.round(grid)) > 1e-3]  # off the poles of psi(x), psi(1 - x)
    x = np.concatenate([grid, np.geomspace(1e-6, 1e6, 100)])
    assert_allclose(lax.digamma(x), digamma_ref(x), atol=1e-11, rtol=1e-12)
    psi = lax.digamma(grid)
    assert_allclose(lax.digamma(grid + 1), psi + 1 / grid, atol=1e-12, rtol=1e-12)
    assert_allclose(lax.digamma(1 - grid) - psi, np.pi / np.tan(np.pi * grid),
                    atol=1e-9, rtol=1e-11)
    assert np.all(np.isnan(lax.digamma(np.array([0.0, -1.0, -5.0]))))
    # digamma is the derivative of lgamma
    assert_allclose(fnad.vmap(fnad.grad(lax.lgamma))(grid), psi, rtol=1e-15)


def test_polygamma() -> None:
    assert np.isclose(lax.polygamma(1, np.float64(1)), np.pi ** 2 / 6, rtol=1e-15)
    assert np.isclose(lax.polygamma(1, np.float64(0.5)), np.pi ** 2 / 2, rtol=1e-15)
    assert np.isclose(lax.polygamma(2, np.float64(1)), -2 * ZETA3, rtol=1e-14)
    assert np.isclose(lax.polygamma(3, np.float64(1)), np.pi ** 4 / 15, rtol=1e-14)
    x = np.linspace(-4.9, 20, 300)
    x = x[np.abs(x - np.round(x)) > 1e-2]
    for m in (1, 2, 3):
        assert_allclose(lax.polygamma(m, x), polygamma_ref(m, x), atol=1e-12, rtol=1e-11)
    assert_allclose(lax.polygamma(0, x), lax.digamma(x), atol=0, rtol=0)
    with pytest.raises(ValueError, match="polygamma"):
        lax.polygamma(-1, x)


def test_pow_with_an_integer_exponent_array() -> None:
    """JAX's lax.pow takes an integer exponent with a float base; fnad refused it."""
    x, n = np.array([2.0, -1.5, 0.5]), np.array([3, -2, 0], np.int32)
    out = lax.pow(x.astype(np.float32), n)
    assert out.dtype == np.float32
    assert_allclose(out, (x ** n).astype(np.float32))
    check_grads(lambda x: lax.pow(x, n), (x,), order=2)


def test_polygamma_of_an_array_of_orders() -> None:
    """JAX takes the order as an array of x's shape and dtype (elementwise) and refuses
    others; fnad.scipy.special.polygamma broadcasts."""
    m, x = np.array([0.0, 1.0, 3.0]), np.array([0.5, 2.5, -1.5])
    want = np.array([lax.polygamma(k, v) for k, v in zip((0, 1, 3), x)])
    assert_allclose(lax.polygamma(m, x), want, rtol=0, atol=0)
    assert_allclose(fnad.jit(lambda x: lax.polygamma(m, x))(x), want)
    check_grads(lambda x: lax.polygamma(m, x), (x,), order=1)
    with pytest.raises(ValueError, match="concrete"):
        fnad.jit(lax.polygamma)(m, x)
    for bad, error in [(m[:, None], ShapeError), (m.astype(np.float32), DTypeError),
                       (np.array([0, 1, 3]), DTypeError)]:
        with pytest.raises(error, match=r"polygamma.*f64\[3\].*scipy.special.polygamma"):
            lax.polygamma(bad, x)
    assert_allclose(fnad.scipy.special.polygamma(np.array([[0], [1]]), x),
                    np.array([[lax.polygamma(k, v) for v in x] for k in (0, 1)]), rtol=0, atol=0)


def test_polygamma_at_the_poles_as_jax() -> None:
    """Odd orders diverge to +inf at 0, -1, -2, ... (JAX and SciPy); fnad gave NaN, so the
    derivative of digamma there was NaN too. Even orders stay NaN, as JAX's."""
    poles = np.array([0.0, -1.0, -2.0])
    for impl in (lax.polygamma, lambda m, x: ew._polygamma_xp(x, m)):  # NumPy, CuPy impls
        assert np.isposinf(impl(1, poles)).all() and np.isposinf(impl(3, poles)).all()
        assert np.isnan(impl(2, poles)).all()
    assert np.isposinf(fnad.vmap(fnad.grad(lax.digamma))(poles)).all()


# ---------------------------------------------------------------------------- iota

def test_iota() -> None:
    np.testing.assert_array_equal(lax.iota(np.int32, 5), np.arange(5, dtype=np.int32))
    assert lax.iota(np.float32, 3).dtype == F32
    b = lax.broadcasted_iota(np.uint32, (2, 3, 4), -2)
    assert b.dtype == U32 and b.shape == (2, 3, 4)
    np.testing.assert_array_equal(b, np.broadcast_to(np.arange(3)[:, None], (2, 3, 4)))
    closed = fnad.make_jaxpr(lambda: lax.broadcasted_iota(np.int32, (2, 3), 1))()
    fnad.typecheck(closed)
    assert [e.prim.name for e in closed.eqns] == ["iota"] and not closed.eqns[0].inputs
    out = fnad.vmap(lambda v: lax.add(v, lax.iota(np.float32, 3)))(np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(out, [[1, 2, 3], [1, 2, 3]])
    with pytest.raises(ShapeError, match="iota"):
        lax.broadcasted_iota(np.int32, (2, 3), 2)
    with pytest.raises(DTypeError, match="iota"):
        lax.iota(np.bool_, 3)


# ---------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call, error, words", [
    (lambda: lax.add(np.ones(3, np.float32), np.ones(4, np.float32)), ShapeError,
     ["add", "f32[3]", "f32[4]"]),
    (lambda: lax.mul(np.ones(3, np.float32), np.ones(3)), DTypeError,
     ["mul", "float32", "float64", "convert_element_type"]),
    (lambda: lax.sin(np.ones(3, np.int32)), DTypeError, ["sin", "float", "int32"]),
    (lambda: lax.pow(np.int32(2), np.int32(3)), DTypeError, ["pow", "float"]),
    (lambda: lax.bitwise_and(np.ones(2), np.ones(2)), DTypeError, ["and", "float64"]),
    (lambda: lax.shift_left(np.ones(2, np.float32), np.ones(2, np.float32)), DTypeError,
     ["shift_left", "float32"]),
    (lambda: lax.neg(np.array([True])), DTypeError, ["neg", "bool"]),
    (lambda: lax.clamp(np.zeros(2), np.zeros(3), np.ones(3)), ShapeError, ["clamp", "f64[2]"]),
    (lambda: lax.select_n(np.ones(2, np.float32), np.zeros(2), np.ones(2)), DTypeError,
     ["select_n", "selector"]),
    (lambda: lax.integer_pow(np.int32(2), -1), DTypeError, ["integer_pow", "negative"]),
    (lambda: lax.abs(np.ones(2, np.uint8)), DTypeError, ["abs", "uint8", "signed"]),
])
def test_errors_name_primitive_and_operands(call: Callable[[], Any], error: type,
                                            words: list[str]) -> None:
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value)
    with pytest.raises(error):  # the same error when staged
        fnad.make_jaxpr(call)()


def test_fused_abs_of_signed_zeros_is_positive_zero() -> None:
    x = np.tile(np.array([0.0, -0.0, -1.5], np.float32), 1 << 16)
    for f in (lambda v: lax.abs(v) * 2, lambda v: fnad.numpy.copysign(v, 1.0) + 0):
        out = fnad.jit(f)(x)
        assert not np.signbit(out[:3]).any() and out[2] > 0


def test_python_scalars_are_weak() -> None:
    x = np.ones(2, np.float64)
    assert lax.add(x, 1).dtype == F64 and lax.add(1.5, x).dtype == F64
    assert lax.shift_left(np.ones(2, np.uint32), 3).dtype == U32
    assert lax.exp(1.0).dtype == F32 and lax.add(np.float64(1.0), 2.0).dtype == F64


# ---------------------------------------------------------------------------- kernels

_C_TYPES = {F32: "float", F64: "double", I32: "int", U32: "unsigned int",
            BOOL: "unsigned char"}  # as fnad's kernels spell them (bools are bytes)
# imag and complex: the exact parts of complex values, which fused kernels do not take apart
_NO_KERNEL = {"erf_inv", "digamma", "polygamma", "population_count", "imag", "complex"}
_NOT_ELEMENTWISE = {"iota"}  # makes an array from params alone


def _primitives() -> list[Any]:
    return [p for p in vars(ew).values() if isinstance(p, ew.Primitive)]


def test_every_primitive_has_a_kernel_rule() -> None:
    for p in _primitives():
        if p.name in _NOT_ELEMENTWISE:
            assert p.kernel is None
            continue
        assert isinstance(p.kernel, Elementwise), p.name
        if p.name in _NO_KERNEL:
            assert p.kernel.expr is None and not p.kernel.fusable
        elif isinstance(p.kernel.expr, tuple):
            templates = dict(p.kernel.expr)
            assert "*" in templates and all(isinstance(t, str) for t in templates.values())
        else:
            assert p.kernel.fusable and (callable(p.kernel.expr) or p.kernel.expr), p.name


def _kernel_jobs() -> list[tuple[str, list[np.ndarray], np.ndarray, str]]:
    """(label, operands, what the NumPy impl gives, the C expression on `a0[i]`...) for each
    expression template and each dtype of its table case, C's trapping corners included."""
    rng = np.random.default_rng(3)
    jobs = []
    for case in CASES:
        prim = ew.round_p if case.name.startswith("round") else getattr(
            ew, f"{case.fn.__name__.removeprefix('bitwise_')}_p", None)
        if prim is None or prim.kernel is None or not prim.kernel.fusable:
            continue
        params = {"rounding_method": int(case.name == "round_even")} \
            if prim is ew.round_p else {}
        for dtype in case.dtypes:
            args = make_args(case, rng, (64,), [False] * len(case.gens), dtype)
            if prim.name in ("div", "rem") and dtype == I32:  # x / 0, INT_MIN / -1
                edges = ([5, -5, -2 ** 31, -2 ** 31, 7, 0], [0, 0, -1, 1, -1, 0])
                args = [np.concatenate([a, np.array(e).astype(dtype)])
                        for a, e in zip(args, edges)]
            want = np.asarray(prim.impls["numpy"](*args, **params))
            expr = prim.kernel.render([f"a{i}[i]" for i in range(len(args))],
                                      [a.dtype for a in args], want.dtype, params)
            jobs.append((f"{prim.name}[{dtype}]", args, want, expr))
    return jobs


def _signature(k: int, args: list[np.ndarray], want: np.ndarray) -> str:
    ins = ", ".join(f"const {_C_TYPES[a.dtype]}* a{i}" for i, a in enumerate(args))
    return f"void k{k}(long long n, {ins}, {_C_TYPES[want.dtype]}* out)"


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_kernel_templates_compute_what_the_impls_compute(tmp_path: Any) -> None:
    """Each expression template, compiled as C for each dtype of the table, agrees with the
    NumPy impl: C integer semantics (no trap on x / 0 or INT_MIN / -1), NaN handling and
    the shifts' bit tricks included."""
    jobs = _kernel_jobs()
    src = ["#include <math.h>"] + [
        f"{_signature(k, args, want)} {{ for (long long i = 0; i < n; i++) "
        f"out[i] = ({_C_TYPES[want.dtype]})({expr}); }}"
        for k, (_, args, want, expr) in enumerate(jobs)]
    (tmp_path / "k.c").write_text("\n".join(src))
    lib_path = tmp_path / "k.so"
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(lib_path), str(tmp_path / "k.c"),
                    "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(lib_path))
    for k, (name, args, want, _) in enumerate(jobs):
        out = np.zeros_like(want)
        ptrs = [np.ascontiguousarray(a).ctypes.data_as(ctypes.c_void_p) for a in args]
        getattr(lib, f"k{k}")(ctypes.c_longlong(want.size), *ptrs,
                              out.ctypes.data_as(ctypes.c_void_p))
        assert_allclose(out, want, atol=1e-12, rtol=1e-5 if want.dtype == F32 else 1e-12,
                        err_msg=name)


@pytest.mark.skipif(nvrtc.library() is None, reason="no libnvrtc")
def test_kernel_templates_compile_as_cuda() -> None:
    """The same expressions are valid CUDA device code (compiled by NVRTC, no GPU needed)."""
    src = [f'extern "C" __global__ {_signature(k, args, want)} {{ '
           "long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; "
           f"if (i < n) out[i] = ({_C_TYPES[want.dtype]})({expr}); }}"
           for k, (_, args, want, expr) in enumerate(_kernel_jobs())]
    assert ".entry k0" in nvrtc.compile_ptx("\n".join(src))


# ------------------------------------------------------------ curvature at ties

def _stable_formulas() -> dict[str, tuple[Callable[..., Any], Callable[..., float]]]:
    """Overflow-safe formulas written with a max/abs kink, and their exact second derivative
    in the first argument at the tie point."""
    import fnad.numpy as fnp
    from fnad import nn
    sig2 = lambda t: math.exp(-abs(t)) / (1 + math.exp(-abs(t))) ** 2  # noqa: E731  sigma'
    return {
        "logaddexp": (lambda x, y: fnp.logaddexp(x, y), lambda x, y: sig2(x - y)),
        "logaddexp2": (lambda x, y: fnp.logaddexp2(x, y),
                       lambda x, y: math.log(2) * sig2((x - y) * math.log(2))),
        "softplus": (lambda x, y: nn.softplus(x - y), lambda x, y: sig2(x - y)),
        "logsumexp": (lambda x, y: nn.logsumexp(fnad.numpy.stack([x, y])),
                      lambda x, y: sig2(x - y)),
        "log_softmax": (lambda x, y: nn.log_softmax(fnad.numpy.stack([x, y]))[1],
                        lambda x, y: -sig2(x - y)),
        "binary_cross_entropy": (
            lambda x, y: nn.binary_cross_entropy_with_logits(x - y, np.float64(0.3)),
            lambda x, y: sig2(x - y)),
    }


@pytest.mark.parametrize("point", [(0.0, 0.0), (1.5, 1.5), (-40.0, -40.0), (0.3, -0.2)])
@pytest.mark.parametrize("name", list(_stable_formulas()))
def test_second_derivatives_at_ties(name, point) -> None:
    """logaddexp's Hessian at x == y was 0 (sign(0) in its stable form); the truth is
    [[1/4, -1/4], [-1/4, 1/4]]."""
    f, d2 = _stable_formulas()[name]
    x, y = (np.float64(v) for v in point)
    check_grads(f, (x, y), order=2)
    h = fnad.hessian(lambda v: f(v[0], v[1]))(np.array([x, y]))
    np.testing.assert_allclose(h, d2(x, y) * np.array([[1.0, -1.0], [-1.0, 1.0]]), rtol=1e-9,
                               atol=1e-300)
    assert fnad.grad(fnad.grad(f))(np.float32(x), np.float32(y)) == pytest.approx(d2(x, y),
                                                                                   rel=1e-5)


@pytest.mark.parametrize("src", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("dst", [np.int8, np.uint8, np.int32, np.uint32, np.int64, np.uint64])
def test_float_to_integer_conversion_saturates_as_jax(src, dst) -> None:
    """JAX (XLA) clamps out-of-range floats to the integer bounds and maps NaN to 0; fnad
    gave NumPy's undefined casts (300.0 -> 44 as uint8, inf -> INT_MIN)."""
    info = np.iinfo(dst)
    x = np.array([np.nan, np.inf, -np.inf, 6e4, -6e4, 300.0, -1.5, 2.7, 0.0], src)
    with np.errstate(invalid="ignore"):
        inner = np.clip(np.nan_to_num(x.astype(np.float64)), -1e300, 1e300)
    want = np.array([0, info.max, info.min] + [
        info.max if v >= info.max else info.min if v <= info.min else int(v) for v in inner[3:]],
        dtype=object).astype(dst)
    np.testing.assert_array_equal(lax.convert_element_type(x, dst), want)
    for backend in available_backends():  # the fused kernels too
        jitted = fnad.jit(lambda v: lax.convert_element_type(v * v.dtype.type(1), dst),
                          backend=backend)
        np.testing.assert_array_equal(jitted(x), want, err_msg=backend)


def test_lgamma_is_exactly_zero_at_one_and_two() -> None:
    for dt in (F32, F64):
        x = np.array([1.0, 2.0], dt)
        np.testing.assert_array_equal(lax.lgamma(x), [0.0, 0.0])
        np.testing.assert_array_equal(fnad.jit(lax.lgamma)(x), [0.0, 0.0])


def test_acosh_derivative_is_real_below_minus_one_and_inf_at_plus_minus_one() -> None:
    """1 / sqrt(x^2 - 1), as JAX's rule gives it outside acosh's domain too; computed as
    (x - 1)(x + 1), exact near 1."""
    x = np.array([-2.5, -1.0, 1.0, 1.0 + 2.0 ** -40, 2.5, -0.5])
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fnad.vmap(fnad.grad(lax.acosh))(x)
    want = np.array([1 / math.sqrt(5.25), np.inf, np.inf,
                     1 / math.sqrt(2.0 ** -39 + 2.0 ** -80), 1 / math.sqrt(5.25), np.nan])
    assert_allclose(got, want, rtol=1e-15)


def test_lgamma_keeps_relative_accuracy_beside_its_zeros() -> None:
    """About 1 and 2 lgamma is small: values within 0.3 of them come from its Taylor series
    (Stirling's series less log(12!) left 1e-15 absolute, 1e-5 relative at 1 - 1e-10).
    References: mpmath.loggamma at 30 digits."""
    x = np.array([0.9999999999, 1.0000001, 0.9, 1.999999999, 2.2])
    want = np.array([5.7721571274281786e-11, -5.772155829918507e-08, 0.06637623973474295,
                     -4.227843697573328e-10, 0.09694746679063887])
    assert_allclose(lax.lgamma(x), want, rtol=1e-15)
    check_grads(lax.lgamma, (np.array([0.8, 1.1, 1.9, 2.25]),), order=2)
