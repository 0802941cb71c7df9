"""The OpInfo table: one entry per primitive fnad defines, driving tests/lax/test_opinfo.py.

An entry names the primitive, a wrapper that binds it, sample arguments (seeded NumPy draws
plus edge values: 0, ties, +-inf, NaN), the dtypes it takes, a NumPy/SciPy reference, the
derivative order to check, and each transform that does not apply with the reason why.
A new primitive needs a row here: the completeness test fails until it has one (or an
EXEMPT reason), and the generic tests then check every rule it defines.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.special as sps
from test_elementwise import away, bits, shift_amount  # the family table's generators

import fnad
import fnad.debug
from fnad import lax
from fnad.core.primitive import fnad_primitives
from fnad.lax import collectives
from fnad.lax.linalg_decomp import solve as lax_solve

F16, F32, F64, I32, U32, BOOL = (np.dtype(t) for t in (
    np.float16, np.float32, np.float64, np.int32, np.uint32, np.bool_))
FLOATS = (F16, F32, F64)
NUMS = (F16, F32, F64, I32, U32)
SIGNED = (F32, F64, I32)
INTS = (I32, U32)
BITS = (BOOL, I32, U32)
ANY = (F32, F64, I32, U32, BOOL)

# The transforms an entry is checked under; `OpInfo.skips` maps one to the reason it does
# not apply.
TRANSFORMS = ("value", "warnings", "typecheck", "jit", "lowering", "kernel", "jvp",
              "linearize", "vjp", "vmap", "transpose")


@dataclasses.dataclass(frozen=True)
class Sample:
    """Operands (arrays: differentiated and batched) and static keyword params."""

    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)


# (rng, dtype) -> samples; the shapes and params of the samples depend only on the dtype,
# so two draws stack into a batch for vmap.
Samples = Callable[[np.random.Generator, np.dtype], list[Sample]]


@dataclasses.dataclass(frozen=True)
class OpInfo:
    """One primitive's row: how to bind it, on what, against what, and which checks apply
    (every transform not in `skips`)."""

    name: str                                  # the primitive
    op: Callable[..., Any]                     # binds it: op(*sample.args, **sample.kwargs)
    samples: Samples
    ref: Callable[..., Any] | None = None      # NumPy/SciPy: ref(*args, **kwargs)
    dtypes: tuple[np.dtype, ...] = FLOATS
    grad_order: int = 2                        # 0: not differentiable
    grad_samples: Samples | None = None        # float64 points where `op` is smooth
    tol: float | None = None                   # value and derivative tolerance (float32)
    skips: dict[str, str] = dataclasses.field(default_factory=dict)  # transform -> reason
    axis_name: str | None = None               # a collective over this named axis
    transpose_op: Callable[..., Any] | None = None  # whose vjp transposes the primitive
    grad_eps: float | None = None              # finite-difference step, where not 1e-5

    def __str__(self) -> str:
        return self.name

    @property
    def prim(self) -> Any:
        return fnad_primitives()[self.name]

    def applies(self, transform: str) -> bool:
        return transform not in self.skips

    def draw(self, seed: int, dtype: np.dtype, grad: bool = False) -> list[Sample]:
        gen = self.grad_samples if grad and self.grad_samples is not None else self.samples
        return gen(np.random.default_rng(seed), np.dtype(dtype))


NOT_DIFFERENTIABLE = "integer or boolean valued, or piecewise constant: no derivative to check"

# ---------------------------------------------------------------------------- generators
# A generator maps (rng, shape, dtype) to an array of that shape in the function's domain.

Gen = Callable[[np.random.Generator, tuple, np.dtype], np.ndarray]


def uniform(lo: float, hi: float) -> Gen:
    """Floats in [lo, hi); integers in that range for integer dtypes; bools for bool."""
    def gen(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
        if dtype == BOOL:
            return rng.random(shape) < 0.5
        if dtype.kind in "iu":
            return rng.integers(max(int(lo), 0 if dtype.kind == "u" else int(lo)), int(hi),
                                size=shape).astype(dtype)
        return rng.uniform(lo, hi, size=shape).astype(dtype)
    return gen


def distinct(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Values with no ties (so extrema and sorts have a derivative), in about [-3, 3]."""
    n = int(np.prod(shape))
    vals = (rng.permutation(n) - n / 2) * (6.0 / max(n, 1)) + 0.1 * rng.random(n)
    return vals.reshape(shape).astype(dtype)


def edge_values(dtype: np.dtype) -> np.ndarray:
    """0 (both signs), ties, +-inf and NaN where the dtype has them."""
    if dtype == BOOL:
        return np.array([False, True])
    if dtype.kind == "u":
        return np.array([0, 1, 1, 2, 2 ** 32 - 1], dtype)
    if dtype.kind == "i":
        return np.array([-2, -1, 0, 0, 1, 2, 2 ** 31 - 1, -2 ** 31], dtype)
    return np.array([0.0, -0.0, 1.5, 1.5, -1.5, 0.5, np.inf, -np.inf, np.nan], dtype)


def edge_pairs(dtype: np.dtype, n: int) -> tuple[np.ndarray, ...]:
    """Every combination of `n` edge values (n operands of one shape)."""
    grid = np.meshgrid(*[edge_values(dtype)] * n, indexing="ij")
    return tuple(g.ravel() for g in grid)


# ---------------------------------------------------------------------------- elementwise

def _elementwise_samples(gens: tuple[Gen, ...], edges: bool) -> Samples:
    """All operands (2, 3); the first full and the rest rank 0; and edge values."""
    n = len(gens)
    layouts = [[(), (4,), (2, 3)][k:k + 1] * n for k in range(3)] if n == 1 else \
        [[(2, 3)] * n, [(2, 3)] + [()] * (n - 1), [()] + [(3,)] * (n - 1)]

    def samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
        out = [Sample(tuple(g(rng, s, dtype) for g, s in zip(gens, shapes)))
               for shapes in layouts]
        if edges:
            out.append(Sample(edge_pairs(dtype, n)))
        return out

    return samples


def _grad_skips(order: int, skips: dict[str, str] | None) -> dict[str, str]:
    skips = dict(skips or {})
    if order == 0:
        skips.setdefault("jvp", NOT_DIFFERENTIABLE)
        skips.setdefault("vjp", NOT_DIFFERENTIABLE)
    return skips


def elementwise(name: str, ref: Callable[..., Any] | None, *gens: Gen,
                op: Callable[..., Any] | None = None, dtypes: tuple = FLOATS, order: int = 2,
                edges: bool = True, grad_gens: tuple[Gen, ...] | None = None,
                skips: dict[str, str] | None = None, tol: float | None = None) -> OpInfo:
    """An entry for an elementwise primitive whose wrapper is `lax.<name>`."""
    return OpInfo(name, op or getattr(lax, name), _elementwise_samples(gens, edges), ref,
                  dtypes, order,
                  _elementwise_samples(grad_gens, False) if grad_gens else
                  _elementwise_samples(gens, False), tol, _grad_skips(order, skips))


def _round_away(x: np.ndarray) -> np.ndarray:
    t = np.trunc(x)
    return np.where(np.abs(x - t) == 0.5, t + np.sign(x), np.round(x))


def _trunc_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return x / y
    q = np.abs(x.astype(np.int64)) // np.abs(y.astype(np.int64))
    return (q * np.sign(x.astype(np.int64)) * np.sign(y.astype(np.int64))).astype(x.dtype)


def _popcount(x: np.ndarray) -> np.ndarray:
    u = np.asarray(x).view(np.uint32)
    return np.vectorize(lambda v: bin(int(v)).count("1"), otypes=[np.int64])(u).astype(x.dtype)


def _shift(kind: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """32-bit shifts as in XLA: the amount read as unsigned; 32 or more shifts every bit
    out (0, or copies of the sign bit for an arithmetic right shift)."""
    def ref(x: np.ndarray, s: np.ndarray) -> np.ndarray:
        amount = s.view(np.uint32).astype(np.int64)
        k = np.minimum(amount, 31)
        if kind == "arithmetic":
            out = x.view(np.int32).astype(np.int64) >> k
        else:
            u = x.view(np.uint32).astype(np.int64)
            out = np.where(amount < 32, ((u << k) if kind == "left" else (u >> k)), 0)
        return (out & 0xFFFFFFFF).astype(np.uint32).view(x.dtype)
    return ref


def _nonneg_int_pow(y: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: (x ** y).astype(x.dtype)


def _same(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """A SciPy function at the operand's dtype (SciPy computes float16 in float32 or 64)."""
    return lambda x: np.asarray(fn(x)).astype(x.dtype)


# lgamma(-inf) is +inf (as in `math.lgamma` and XLA), digamma's poles are NaN (XLA's
# choice, where SciPy gives +-inf).
_UNARY_SMOOTH = [
    ("exp", np.exp, uniform(-3, 3)),
    ("exp2", np.exp2, uniform(-3, 3)),
    ("log", np.log, uniform(0.1, 5)),
    ("log1p", np.log1p, uniform(-0.9, 3)),
    ("expm1", np.expm1, uniform(-2, 2)),
    ("sqrt", np.sqrt, uniform(0.1, 4)),
    ("rsqrt", lambda x: (1 / np.sqrt(x)).astype(x.dtype), uniform(0.1, 4)),
    ("cbrt", np.cbrt, away(0.2, 3)),
    ("sin", np.sin, uniform(-3, 3)),
    ("cos", np.cos, uniform(-3, 3)),
    ("tan", np.tan, uniform(-1.2, 1.2)),
    ("asin", np.arcsin, uniform(-0.9, 0.9)),
    ("acos", np.arccos, uniform(-0.9, 0.9)),
    ("atan", np.arctan, uniform(-3, 3)),
    ("sinh", np.sinh, uniform(-2, 2)),
    ("cosh", np.cosh, uniform(-2, 2)),
    ("tanh", np.tanh, uniform(-3, 3)),
    ("asinh", np.arcsinh, uniform(-3, 3)),
    ("acosh", np.arccosh, uniform(1.1, 4)),
    ("atanh", np.arctanh, uniform(-0.9, 0.9)),
    ("logistic", _same(sps.expit), uniform(-4, 4)),
    ("erf", _same(sps.erf), uniform(-2.5, 2.5)),
    ("erfc", _same(sps.erfc), uniform(-2, 4)),
    ("erf_inv", _same(sps.erfinv), uniform(-0.95, 0.95)),
    ("lgamma", _same(lambda x: np.where(np.isneginf(x), np.inf, sps.gammaln(x))),
     uniform(0.1, 6)),
    ("digamma", _same(lambda x: np.where((x <= 0) & (x == np.floor(x)), np.nan,
                                         sps.digamma(x))), uniform(0.2, 6)),
]

ELEMENTWISE = [
    *(elementwise(n, r, g, tol=1e-4 if n in ("lgamma", "digamma", "erf_inv") else None)
      for n, r, g in _UNARY_SMOOTH),
    elementwise("neg", np.negative, uniform(-3, 3), dtypes=NUMS),
    elementwise("sign", np.sign, uniform(-3, 3), dtypes=SIGNED, order=0),
    elementwise("floor", np.floor, uniform(-3, 3), order=0),
    elementwise("ceil", np.ceil, uniform(-3, 3), order=0),
    elementwise("round", _round_away, uniform(-3, 3), order=0),
    elementwise("is_finite", np.isfinite, uniform(-3, 3), order=0),
    elementwise("abs", np.abs, away(0.1, 3), dtypes=(F16, F32, F64, I32)),
    elementwise("square", np.square, uniform(-3, 3), dtypes=SIGNED),
    elementwise("polygamma", lambda x, m=2: sps.polygamma(m, x).astype(x.dtype),
                uniform(0.3, 5), op=lambda x, m=2: lax.polygamma(m, x), edges=False, tol=1e-4),
    elementwise("integer_pow", _nonneg_int_pow(3), uniform(-3, 3),
                op=lambda x: lax.integer_pow(x, 3), dtypes=SIGNED),
    elementwise("add", np.add, uniform(-3, 3), uniform(-3, 3), dtypes=NUMS),
    elementwise("sub", np.subtract, uniform(-3, 3), uniform(-3, 3), dtypes=NUMS),
    elementwise("mul", np.multiply, uniform(-3, 3), uniform(-3, 3), dtypes=NUMS),
    elementwise("div", _trunc_div, uniform(-9, 9), away(1, 4), dtypes=SIGNED, edges=False),
    elementwise("rem", np.fmod, uniform(-9, 9), away(1, 4), dtypes=SIGNED, edges=False),
    elementwise("pow", np.power, uniform(0.2, 3), uniform(-2, 2)),
    elementwise("max", np.maximum, uniform(-3, 3), uniform(-3, 3), dtypes=(*NUMS, BOOL)),
    elementwise("min", np.minimum, uniform(-3, 3), uniform(-3, 3), dtypes=(*NUMS, BOOL)),
    elementwise("atan2", np.arctan2, away(0.2, 3), away(0.2, 3)),
    elementwise("nextafter", np.nextafter, uniform(-3, 3), uniform(-3, 3), order=0),
    *(elementwise(n, getattr(np, r), uniform(-2, 2), uniform(-2, 2), dtypes=ANY, order=0)
      for n, r in (("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
                   ("gt", "greater"), ("ge", "greater_equal"))),
    *(elementwise(n, getattr(np, r), bits, bits, op=getattr(lax, w), dtypes=BITS, order=0)
      for n, r, w in (("and", "bitwise_and", "bitwise_and"), ("or", "bitwise_or", "bitwise_or"),
                      ("xor", "bitwise_xor", "bitwise_xor"))),
    elementwise("not", np.invert, bits, op=lax.bitwise_not, dtypes=BITS, order=0),
    *(elementwise(f"shift_{k}", _shift(kind), bits, shift_amount, dtypes=INTS, order=0)
      for k, kind in (("left", "left"), ("right_logical", "logical"),
                      ("right_arithmetic", "arithmetic"))),
    elementwise("population_count", _popcount, bits, dtypes=INTS, order=0),
    elementwise("clamp", lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi),
                uniform(-2, -0.5), uniform(-3, 3), uniform(0.5, 2), dtypes=SIGNED,
                edges=False),
]


# ---------------------------------------------------------------------------- the others

def samples(*make: Callable[[np.random.Generator, np.dtype], Sample]) -> Samples:
    """Samples from one maker per sample."""
    return lambda rng, dtype: [m(rng, dtype) for m in make]


_UNIFORM = uniform(-3, 3)


def arr(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Values in [-3, 3) of any dtype."""
    return _UNIFORM(rng, shape, dtype)


def _select_n_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    return [Sample((rng.random((2, 3)) < 0.5, arr(rng, (2, 3), dtype), arr(rng, (2, 3), dtype))),
            Sample((rng.integers(0, 3, (4,)).astype(np.int32), *(arr(rng, (4,), dtype)
                                                                  for _ in range(3)))),
            Sample((np.asarray(rng.random() < 0.5), arr(rng, (3,), dtype),
                    arr(rng, (3,), dtype)))]


def _convert_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    x = arr(rng, (2, 3), dtype)
    return [Sample((x,), {"new_dtype": t}) for t in (F64, F32, I32, BOOL)] + \
        [Sample((edge_values(dtype),), {"new_dtype": F64})]


def _complex_ref(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x + 1j * y part by part (NumPy's arithmetic would make inf * 0 a NaN)."""
    out = np.empty(np.broadcast_shapes(x.shape, y.shape),
                   np.complex64 if x.dtype == F32 else np.complex128)
    out.real, out.imag = x, y
    return out


def _complex_parts_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    e = edge_values(dtype)
    return [Sample((arr(rng, (2, 3), dtype), arr(rng, (2, 3), dtype))),
            Sample((arr(rng, (2, 3), dtype), np.asarray(arr(rng, (), dtype)))),
            Sample((e, e[::-1]))]


def _complex_operand_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    return [Sample((_complex_ref(*s.args),)) for s in _complex_parts_samples(rng, dtype)]


def _convert_grad_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    """float64 -> float32 (rounding: hence the entry's large finite-difference step)."""
    return [Sample((arr(rng, (2, 3), dtype),), {"new_dtype": F32})]


def _reduce_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    gen = uniform(-3, 3) if dtype.kind in "b" else distinct
    x = gen(rng, (2, 3, 2), dtype) if dtype != BOOL else arr(rng, (2, 3, 2), dtype)
    return [Sample((x,), {"axes": (1,)}), Sample((x,), {"axes": (0, 2)}),
            Sample((x,), {"axes": ()}), Sample((x[0, 0],), {"axes": (0,)})]


def _reduce_edge_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    e = edge_values(dtype)
    return _reduce_samples(rng, dtype) + [Sample((np.stack([e, e[::-1]]),), {"axes": (1,)})]


def _reduce(name: str, ref: Callable[..., Any], dtypes: tuple, order: int,
            edges: bool = True) -> OpInfo:
    return OpInfo(name, getattr(lax, name), _reduce_edge_samples if edges else _reduce_samples,
                  lambda x, axes: np.asarray(ref(x, axis=axes)).astype(x.dtype), dtypes, order,
                  _reduce_samples, skips=_grad_skips(order, None))


def _arg_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    x = uniform(-2, 2)(rng, (3, 4), dtype)  # few values: ties
    e = edge_values(dtype)
    return [Sample((x,), {"axis": 0}), Sample((x,), {"axis": 1, "index_dtype": U32}),
            Sample((np.stack([e, e[::-1]]),), {"axis": 1})]


def _argref(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda x, axis, index_dtype=I32: fn(x, axis=axis).astype(index_dtype)


def _cum_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    x = distinct(rng, (3, 4), dtype) if dtype.kind == "f" else arr(rng, (3, 4), dtype)
    return [Sample((x,), {"axis": 1, "reverse": False}), Sample((x,), {"axis": 0, "reverse": True})]


def _cum(name: str, ufunc: np.ufunc, dtypes: tuple, order: int) -> OpInfo:
    def ref(x: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
        if reverse:
            x = np.flip(x, axis)
        out = ufunc.accumulate(x, axis=axis, dtype=x.dtype)
        return np.flip(out, axis) if reverse else out
    return OpInfo(name, getattr(lax, name), _cum_samples, ref, dtypes, order,
                  skips=_grad_skips(order, None))


REDUCTIONS = [
    _reduce("reduce_sum", np.sum, NUMS, 2),
    _reduce("reduce_prod", np.prod, (F32, F64, I32), 2),
    _reduce("reduce_max", np.max, NUMS, 2),
    _reduce("reduce_min", np.min, NUMS, 2),
    _reduce("reduce_and", np.all, (BOOL,), 0),
    _reduce("reduce_or", np.any, (BOOL,), 0),
    OpInfo("argmax", lax.argmax, _arg_samples, _argref(np.argmax), NUMS, 0,
           skips=_grad_skips(0, None)),
    OpInfo("argmin", lax.argmin, _arg_samples, _argref(np.argmin), NUMS, 0,
           skips=_grad_skips(0, None)),
    _cum("cumsum", np.add, NUMS, 2),
    _cum("cumprod", np.multiply, (F32, F64, I32), 2),
    _cum("cummax", np.maximum, NUMS, 2),
    _cum("cummin", np.minimum, NUMS, 2),
]


# ---------------------------------------------------------------------------- structural

def _gather_ref(x: np.ndarray, indices: np.ndarray, axes: tuple, mode: str) -> np.ndarray:
    moved = np.moveaxis(x, axes, range(len(axes)))
    sizes = np.array(moved.shape[:len(axes)])
    valid = np.all((indices >= 0) & (indices < sizes), axis=-1)
    idx = np.clip(indices, 0, sizes - 1)
    out = moved[tuple(idx[..., j] for j in range(len(axes)))]
    if mode == "drop":
        out = np.where(valid.reshape(valid.shape + (1,) * (out.ndim - valid.ndim)), out, 0)
    return out.astype(x.dtype)


def _scatter_ref(combine: np.ufunc | None) -> Callable[..., np.ndarray]:
    def ref(x: np.ndarray, indices: np.ndarray, updates: np.ndarray, axes: tuple, mode: str
            ) -> np.ndarray:
        out = np.array(x, copy=True)
        moved = np.moveaxis(out, axes, range(len(axes)))
        sizes = np.array(moved.shape[:len(axes)])
        valid = np.all((indices >= 0) & (indices < sizes), axis=-1)
        if mode == "drop":
            indices, updates = indices[valid], updates[valid]
        else:
            indices = np.clip(indices, 0, sizes - 1)
        idx = tuple(indices[..., j] for j in range(len(axes)))
        if combine is None:
            for p in np.ndindex(*indices.shape[:-1]):  # in order: the last write wins
                moved[tuple(i[p] for i in idx)] = updates[p]
        else:
            combine.at(moved, idx, updates)
        return out
    return ref


def _points(rng: np.random.Generator, shape: tuple, bound: int, unique: bool) -> np.ndarray:
    """int32 indices in [-1, bound] (out of bounds included), or distinct in-bound ones."""
    n = int(np.prod(shape))
    if unique:
        return rng.permutation(bound)[:n].reshape(shape).astype(np.int32)
    return rng.integers(-1, bound + 1, shape).astype(np.int32)


def _gather_samples(unique: bool) -> Samples:
    def make(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
        x = arr(rng, (4, 3), dtype)
        out = [Sample((x, _points(rng, (3, 1), 4, unique)), {"axes": (0,), "mode": "clip"}),
               Sample((x, _points(rng, (2, 1), 3, unique)), {"axes": (1,), "mode": "drop"})]
        if not unique:  # points along both axes, repeated ones included
            out.append(Sample((x, np.stack([_points(rng, (5,), 4, False),
                                            _points(rng, (5,), 3, False)], -1)),
                              {"axes": (0, 1), "mode": "clip"}))
        return out
    return make


def _scatter_samples(unique: bool) -> Samples:
    def make(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
        x = distinct(rng, (4, 3), dtype) if dtype.kind == "f" else arr(rng, (4, 3), dtype)
        upd = distinct if dtype.kind == "f" else uniform(-3, 3)
        out = [Sample((x, _points(rng, (3, 1), 4, unique), upd(rng, (3, 3), dtype)),
                      {"axes": (0,), "mode": "drop"}),
               Sample((x, _points(rng, (2, 1), 3, unique), upd(rng, (2, 4), dtype)),
                      {"axes": (1,), "mode": "clip"})]
        if not unique:
            out.append(Sample((x, np.stack([_points(rng, (5,), 4, False),
                                            _points(rng, (5,), 3, False)], -1),
                               upd(rng, (5,), dtype)), {"axes": (0, 1), "mode": "drop"}))
        return out
    return make


def _scatter(name: str, combine: np.ufunc | None, dtypes: tuple) -> OpInfo:
    """Derivatives at distinct points, except for scatter_add (smooth at repeated ones)."""
    return OpInfo(name, getattr(lax, name), _scatter_samples(False), _scatter_ref(combine),
                  dtypes, 2, None if combine is np.add else _scatter_samples(True))


def _pad_ref(x: np.ndarray, value: np.ndarray, padding_config: tuple) -> np.ndarray:
    for axis, (lo, hi, interior) in enumerate(padding_config):
        n = x.shape[axis]
        size = lo + n + max(n - 1, 0) * interior + hi
        out = np.full(x.shape[:axis] + (size,) + x.shape[axis + 1:], value, x.dtype)
        for i in range(n):
            j = lo + i * (interior + 1)
            if 0 <= j < size:
                out[(slice(None),) * axis + (j,)] = np.take(x, i, axis)
        x = out
    return x


def _start(rng: np.random.Generator, lo: int, hi: int) -> np.ndarray:
    return np.asarray(rng.integers(lo, hi), np.int32)


def _dynamic_start(v: np.ndarray, n: int, k: int) -> int:
    """JAX's rule: a negative start counts from the end, then the window is clamped in."""
    return int(np.clip(v + n if v < 0 else v, 0, n - k))


def _dynamic_slice_ref(x: np.ndarray, *starts: np.ndarray, slice_sizes: tuple) -> np.ndarray:
    s = [_dynamic_start(v, n, k) for v, n, k in zip(starts, x.shape, slice_sizes)]
    return x[tuple(slice(a, a + k) for a, k in zip(s, slice_sizes))]


def _dynamic_update_slice_ref(x: np.ndarray, u: np.ndarray, *starts: np.ndarray) -> np.ndarray:
    s = [_dynamic_start(v, n, k) for v, n, k in zip(starts, x.shape, u.shape)]
    out = np.array(x, copy=True)
    out[tuple(slice(a, a + k) for a, k in zip(s, u.shape))] = u
    return out


def _bitcast_ref(x: np.ndarray, new_dtype: np.dtype) -> np.ndarray:
    y = np.ascontiguousarray(x).view(new_dtype)
    if np.dtype(new_dtype).itemsize > x.dtype.itemsize:  # the trailing axis is consumed
        return y.reshape(x.shape[:-1])
    return y.reshape(*x.shape, x.dtype.itemsize // np.dtype(new_dtype).itemsize) \
        if np.dtype(new_dtype).itemsize < x.dtype.itemsize else y


def _bitcast_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    """To the unsigned integer of the same width, to bytes (narrower), and from pairs of
    elements to one twice as wide where there is one."""
    wider = np.dtype(f"u{2 * dtype.itemsize}") if dtype.itemsize <= 4 else np.dtype("u1")
    return [Sample((arr(rng, (2, 3), dtype),), {"new_dtype": np.dtype(f"u{dtype.itemsize}")}),
            Sample((arr(rng, (3,), dtype),), {"new_dtype": np.dtype("u1")}),
            Sample((arr(rng, (3, 2) if dtype.itemsize <= 4 else (3,), dtype),),
                   {"new_dtype": wider})]


STRUCTURAL = [
    OpInfo("bitcast_convert_type", lax.bitcast_convert_type, _bitcast_samples, _bitcast_ref,
           (F32, F64, I32, U32), 0, skips=_grad_skips(0, None)),
    OpInfo("broadcast_in_dim", lax.broadcast_in_dim, samples(
        lambda r, d: Sample((arr(r, (3,), d),), {"shape": (2, 3), "broadcast_dimensions": (1,)}),
        lambda r, d: Sample((arr(r, (3, 1), d),), {"shape": (3, 2, 4),
                                                   "broadcast_dimensions": (0, 2)}),
        lambda r, d: Sample((arr(r, (), d),), {"shape": (2, 2), "broadcast_dimensions": ()})),
        lambda x, shape, broadcast_dimensions: np.broadcast_to(
            x.reshape([x.shape[broadcast_dimensions.index(i)] if i in broadcast_dimensions
                       else 1 for i in range(len(shape))]), shape), ANY, 2),
    OpInfo("concatenate", lambda *xs, dimension: lax.concatenate(xs, dimension), samples(
        lambda r, d: Sample((arr(r, (2, 3), d), arr(r, (1, 3), d)), {"dimension": 0}),
        lambda r, d: Sample((arr(r, (2, 1), d), arr(r, (2, 3), d), arr(r, (2, 2), d)),
                            {"dimension": 1})),
        lambda *xs, dimension: np.concatenate(xs, dimension), ANY, 2),
    OpInfo("dynamic_slice", lambda x, *s, slice_sizes: lax.dynamic_slice(x, s, slice_sizes),
           samples(lambda r, d: Sample((arr(r, (5, 4), d), _start(r, -7, 6), _start(r, -4, 3)),
                                       {"slice_sizes": (2, 2)}),
                   lambda r, d: Sample((arr(r, (4,), d), _start(r, -1, 5)),
                                       {"slice_sizes": (3,)})),
           _dynamic_slice_ref, ANY, 2),
    OpInfo("dynamic_update_slice",
           lambda x, u, *s: lax.dynamic_update_slice(x, u, s),
           samples(lambda r, d: Sample((arr(r, (5, 4), d), arr(r, (2, 3), d), _start(r, -7, 6),
                                        _start(r, -4, 3))),
                   lambda r, d: Sample((arr(r, (4,), d), arr(r, (2,), d), _start(r, -1, 5)))),
           _dynamic_update_slice_ref, ANY, 2),
    OpInfo("expand_dims", lax.expand_dims, samples(
        lambda r, d: Sample((arr(r, (2, 3), d),), {"dimensions": (0, 3)}),
        lambda r, d: Sample((arr(r, (), d),), {"dimensions": (0,)})),
        lambda x, dimensions: np.expand_dims(x, dimensions), ANY, 2),
    OpInfo("gather", lax.gather, _gather_samples(False), _gather_ref, NUMS, 2),
    OpInfo("pad", lax.pad, samples(
        lambda r, d: Sample((arr(r, (2, 3), d), arr(r, (), d)),
                            {"padding_config": ((1, 0, 0), (0, 2, 1))}),
        lambda r, d: Sample((arr(r, (4,), d), arr(r, (), d)),
                            {"padding_config": ((-1, 2, 2),)})),
        _pad_ref, NUMS, 2),
    OpInfo("reshape", lax.reshape, samples(
        lambda r, d: Sample((arr(r, (2, 3), d),), {"new_sizes": (3, 2)}),
        lambda r, d: Sample((arr(r, (2, 3, 2), d),), {"new_sizes": (12,)}),
        lambda r, d: Sample((arr(r, (1,), d),), {"new_sizes": ()})),
        lambda x, new_sizes: x.reshape(new_sizes), ANY, 2),
    OpInfo("rev", lax.rev, samples(
        lambda r, d: Sample((arr(r, (2, 3), d),), {"dimensions": (1,)}),
        lambda r, d: Sample((arr(r, (2, 3, 2), d),), {"dimensions": (0, 2)})),
        lambda x, dimensions: np.flip(x, dimensions), ANY, 2),
    _scatter("scatter_add", np.add, NUMS),
    _scatter("scatter", None, NUMS),
    _scatter("scatter_mul", np.multiply, (F32, F64, I32)),
    _scatter("scatter_min", np.minimum, NUMS),
    _scatter("scatter_max", np.maximum, NUMS),
    OpInfo("slice", lax.slice, samples(
        lambda r, d: Sample((arr(r, (4, 5), d),), {"start_indices": (1, 0),
                                                   "limit_indices": (3, 5)}),
        lambda r, d: Sample((arr(r, (7,), d),), {"start_indices": (1,), "limit_indices": (7,),
                                                 "strides": (2,)})),
        lambda x, start_indices, limit_indices, strides=None: x[tuple(
            slice(a, b, s) for a, b, s in zip(start_indices, limit_indices,
                                              strides or [1] * x.ndim))], ANY, 2),
    OpInfo("squeeze", lax.squeeze, samples(
        lambda r, d: Sample((arr(r, (2, 1, 3, 1), d),), {"dimensions": (1, 3)}),
        lambda r, d: Sample((arr(r, (1,), d),), {"dimensions": (0,)})),
        lambda x, dimensions: np.squeeze(x, dimensions), ANY, 2),
    OpInfo("transpose", lax.transpose, samples(
        lambda r, d: Sample((arr(r, (2, 3), d),), {"permutation": (1, 0)}),
        lambda r, d: Sample((arr(r, (2, 3, 4), d),), {"permutation": (2, 0, 1)})),
        lambda x, permutation: np.transpose(x, permutation), ANY, 2),
    OpInfo("select_n", lax.select_n, _select_n_samples,
           lambda which, *cases: np.choose(which.astype(np.int32), cases), ANY, 2),
    OpInfo("convert_element_type", lax.convert_element_type, _convert_samples,
           lambda x, new_dtype: x.astype(new_dtype), ANY, 2, _convert_grad_samples,
           grad_eps=1e-2),
    # complex from and to float parts: the row's dtype is the parts' (the complex operand of
    # imag has that precision), and the edges pair infinities with zeros
    OpInfo("imag", lax.imag, _complex_operand_samples, np.imag, (F32, F64), 2,
           lambda r, d: _complex_operand_samples(r, d)[:2]),
    OpInfo("complex", lax.complex, _complex_parts_samples, _complex_ref, (F32, F64), 2,
           lambda r, d: _complex_parts_samples(r, d)[:2]),
]


# ---------------------------------------------------------------------------- linalg, sort

def _dot_ref(x: np.ndarray, y: np.ndarray, dimension_numbers: tuple) -> np.ndarray:
    (lc, rc), (lb, rb) = dimension_numbers
    letters = iter("abcdefghijklmnop")
    xs = [next(letters) for _ in range(x.ndim)]
    ys = [next(letters) for _ in range(y.ndim)]
    for i, j in zip((*lc, *lb), (*rc, *rb)):
        ys[j] = xs[i]
    out = [xs[i] for i in lb] + [c for i, c in enumerate(xs) if i not in (*lc, *lb)] + \
        [c for j, c in enumerate(ys) if j not in (*rc, *rb)]
    return np.einsum(f"{''.join(xs)},{''.join(ys)}->{''.join(out)}", x, y).astype(x.dtype)


def _sort_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    ties = uniform(-2, 2)(rng, (3, 4), dtype)
    e = edge_values(dtype)
    return [Sample((distinct(rng, (3, 4), dtype),), {"dimension": 1}),
            Sample((distinct(rng, (3, 4), dtype),), {"dimension": 0}),
            Sample((ties, arr(rng, (3, 4), dtype)), {"dimension": 1, "num_keys": 1}),
            Sample((ties, distinct(rng, (3, 4), dtype)), {"dimension": 0, "num_keys": 2}),
            Sample((e,), {"dimension": 0})]


def _sort_grad_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    return _sort_samples(rng, dtype)[:2] + [Sample(
        (distinct(rng, (3, 4), dtype), arr(rng, (3, 4), dtype)), {"dimension": 1,
                                                                 "num_keys": 1})]


def _sort_op(*ops: Any, dimension: int, num_keys: int = 1) -> Any:
    out = lax.sort(ops if len(ops) > 1 else ops[0], dimension, True, num_keys)
    return out


def _sort_ref(*ops: np.ndarray, dimension: int, num_keys: int = 1) -> Any:
    keys = ops[:num_keys]
    perm = np.lexsort(keys[::-1], axis=dimension) if num_keys > 1 else \
        np.argsort(keys[0], axis=dimension, kind="stable")
    outs = tuple(np.take_along_axis(o, perm, axis=dimension) for o in ops)
    return outs if len(ops) > 1 else outs[0]


def _solve_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    """Well-conditioned stacks, and the edge stack: singular (all zeros, rank 1), a NaN in
    a, an inf in b."""
    def regular(batch: tuple, n: int) -> np.ndarray:
        return (arr(rng, (*batch, n, n), dtype) + 8 * np.eye(n)).astype(dtype)
    edge_a = np.array([[[0.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [2.0, 4.0]],
                       [[1.0, 0.0], [0.0, np.nan]], [[2.0, 1.0], [1.0, 3.0]]], dtype)
    edge_b = np.array([[[1.0], [1.0]], [[1.0], [-1.0]], [[1.0], [1.0]], [[np.inf], [1.0]]],
                      dtype)
    return [Sample((regular((), 3), arr(rng, (3, 2), dtype))),
            Sample((regular((2,), 4), arr(rng, (2, 4, 1), dtype))),
            Sample((edge_a, edge_b))]


def _solve_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LAPACK's solve; where it refuses a singular matrix, LU and substitution (SciPy's,
    one matrix at a time), which give inf/NaN as JAX's LU does."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        n, k = b.shape[-2:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sla.LinAlgWarning)  # singular, as meant
            return np.stack([sla.lu_solve(sla.lu_factor(m, check_finite=False), v,
                                          check_finite=False)
                             for m, v in zip(a.reshape(-1, n, n), b.reshape(-1, n, k))]
                            ).reshape(b.shape)


LINALG = [
    OpInfo("dot_general", lax.dot_general, samples(
        lambda r, d: Sample((arr(r, (2, 3), d), arr(r, (3, 4), d)),
                            {"dimension_numbers": (((1,), (0,)), ((), ()))}),
        lambda r, d: Sample((arr(r, (2, 3, 4), d), arr(r, (2, 4, 3), d)),
                            {"dimension_numbers": (((2,), (1,)), ((0,), (0,)))}),
        lambda r, d: Sample((arr(r, (3,), d), arr(r, (3,), d)),
                            {"dimension_numbers": (((0,), (0,)), ((), ()))}),
        lambda r, d: Sample((arr(r, (2,), d), arr(r, (3,), d)),
                            {"dimension_numbers": (((), ()), ((), ()))}),
        lambda r, d: Sample((arr(r, (3, 2, 4), d), arr(r, (4, 5, 3), d)),
                            {"dimension_numbers": (((0, 2), (2, 0)), ((), ()))}),
        lambda r, d: Sample((arr(r, (2, 3, 2), d), arr(r, (3, 2, 2), d)),
                            {"dimension_numbers": (((1,), (0,)), ((0, 2), (1, 2)))}),
        # batched outer products, a size-1 contraction and a batch axis not leading
        lambda r, d: Sample((arr(r, (3, 1, 2), d), arr(r, (2, 4, 1), d)),
                            {"dimension_numbers": (((1,), (2,)), ((2,), (0,)))})),
        _dot_ref, (F32, F64, I32), 2, tol=1e-4),
    OpInfo("sort", _sort_op, _sort_samples, _sort_ref, NUMS, 2, _sort_grad_samples),
    OpInfo("solve", lax_solve, _solve_samples, _solve_ref, (F32, F64), 2,
           lambda rng, dtype: _solve_samples(rng, dtype)[:2], tol=1e-4),
]


# ---------------------------------------------------------------------------- windows

def _window_params(window: tuple, strides: tuple | None = None, padding: tuple | None = None,
                   base_dilation: tuple | None = None, window_dilation: tuple | None = None
                   ) -> dict[str, Any]:
    ones = (1,) * len(window)
    return {"window_dimensions": window, "window_strides": strides or ones,
            "padding": padding or ((0, 0),) * len(window), "base_dilation": base_dilation or ones,
            "window_dilation": window_dilation or ones}


WINDOWS = [_window_params((2, 2)),
           _window_params((2, 3), (2, 1), ((1, 0), (1, 2))),
           _window_params((2, 2), (1, 2), ((0, 1), (0, 0)), (2, 1), (1, 2))]


def _windows(x: np.ndarray, fill: Any, window_dimensions: tuple, window_strides: tuple,
             padding: tuple, base_dilation: tuple, window_dilation: tuple) -> np.ndarray:
    """x dilated, padded with `fill`, and cut into windows: shape out + window."""
    dil = np.full([(n - 1) * d + 1 if n else 0 for n, d in zip(x.shape, base_dilation)], fill,
                  x.dtype)
    dil[tuple(slice(None, None, d) for d in base_dilation)] = x
    pads = [(max(lo, 0), max(hi, 0)) for lo, hi in padding]
    p = np.pad(dil, pads, constant_values=fill)
    p = p[tuple(slice(-min(lo, 0), p.shape[i] + min(hi, 0))
                for i, (lo, hi) in enumerate(padding))]
    span = [(k - 1) * wd + 1 for k, wd in zip(window_dimensions, window_dilation)]
    out = [(n - s) // st + 1 for n, s, st in zip(p.shape, span, window_strides)]
    res = np.empty(out + list(window_dimensions), x.dtype)
    for o in np.ndindex(*out):
        for k in np.ndindex(*window_dimensions):
            res[o + k] = p[tuple(oi * st + ki * wd for oi, st, ki, wd in
                                 zip(o, window_strides, k, window_dilation))]
    return res


def _window_reduce_ref(kind: str) -> Callable[..., np.ndarray]:
    def ref(x: np.ndarray, **params: Any) -> np.ndarray:
        identity = 0 if kind == "sum" else (
            (-np.inf if kind == "max" else np.inf) if x.dtype.kind == "f" else
            (np.iinfo(x.dtype).min if kind == "max" else np.iinfo(x.dtype).max))
        w = _windows(x, identity, **params)
        axes = tuple(range(x.ndim, w.ndim))
        return {"sum": np.sum, "max": np.max, "min": np.min}[kind](w, axis=axes).astype(x.dtype)
    return ref


def _chosen(x: np.ndarray, kind: str, params: dict[str, Any]) -> np.ndarray:
    """For each window, the flat index in x of its first extremum (-1 for padding)."""
    fill = -np.inf if kind == "max" else np.inf
    xw = _windows(x.astype(np.float64), fill, **params)
    iw = _windows(np.arange(x.size).reshape(x.shape), -1, **params)
    out = xw.shape[:x.ndim]
    flat_x, flat_i = xw.reshape(*out, -1), iw.reshape(*out, -1)
    pick = (np.argmax if kind == "max" else np.argmin)(flat_x, axis=-1)
    return np.take_along_axis(flat_i, pick[..., None], -1)[..., 0]


def _split_weights(x: np.ndarray, kind: str, params: dict[str, Any]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """For each window, the flat indices in x of its entries (-1 for padding) and their
    share of the window's derivative with `ties="split"`: 1/count for each extremum."""
    fill = -np.inf if kind == "max" else np.inf
    xw = _windows(x.astype(np.float64), fill, **params)
    iw = _windows(np.arange(x.size).reshape(x.shape), -1, **params)
    out = xw.shape[:x.ndim]
    flat_x, flat_i = xw.reshape(*out, -1), iw.reshape(*out, -1)
    best = (np.max if kind == "max" else np.min)(flat_x, axis=-1, keepdims=True)
    hit = (flat_x == best) & (flat_i >= 0)
    return flat_i, hit / np.maximum(hit.sum(-1, keepdims=True), 1)


def _select_gather_ref(t: np.ndarray, x: np.ndarray, kind: str, ties: str = "first",
                       **params: Any) -> np.ndarray:
    if ties == "split":
        idx, w = _split_weights(x, kind, params)
        return (t.ravel()[np.maximum(idx, 0)] * w).sum(-1).astype(t.dtype)
    idx = _chosen(x, kind, params)
    return np.where(idx >= 0, t.ravel()[np.maximum(idx, 0)], 0).astype(t.dtype)


def _select_scatter_ref(ct: np.ndarray, x: np.ndarray, kind: str, ties: str = "first",
                        **params: Any) -> np.ndarray:
    out = np.zeros(x.size, ct.dtype)
    if ties == "split":
        idx, w = _split_weights(x, kind, params)
        np.add.at(out, np.maximum(idx, 0), (ct[..., None] * w).astype(ct.dtype))
        return out.reshape(x.shape)
    idx = _chosen(x, kind, params)
    np.add.at(out, idx[idx >= 0], ct[idx >= 0])
    return out.reshape(x.shape)


def _window_samples(linear: str | None, kind: str = "max", edges: bool = True) -> Samples:
    """Operands of shape (4, 5) for each window in WINDOWS, and one of ties and edge values;
    with `linear`, a linear operand first, of x's shape ("gather") or the windowed shape
    ("scatter")."""
    def make(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
        xs = [distinct(rng, (4, 5), dtype) if dtype.kind == "f" else arr(rng, (4, 5), dtype)
              for _ in WINDOWS]
        params = list(WINDOWS)
        if edges:  # ties (and for floats +-inf, NaN) in every window
            e = edge_values(dtype)
            xs.append(np.resize(e if linear is None else np.array([-1, 0, 1, 1, 0], dtype),
                                (4, 5)))
            params.append(WINDOWS[1])
        out = []
        for x, p in zip(xs, params):
            if linear is None:
                out.append(Sample((x,), p))
                continue
            shape = x.shape if linear == "gather" else \
                _window_reduce_ref("sum")(np.zeros((4, 5)), **p).shape
            out.append(Sample((arr(rng, shape, dtype), x), {"kind": kind, **p}))
            if edges:  # the same with ties split evenly (reduce_max's derivative, pooled)
                out.append(Sample((arr(rng, shape, dtype), x),
                                  {"kind": kind, "ties": "split", **p}))
        return out
    return make


def _bind(prim_name: str) -> Callable[..., Any]:
    """A wrapper binding a primitive that has no public function of its own."""
    def op(*args: Any, **params: Any) -> Any:
        return fnad_primitives()[prim_name].bind(*args, **params)
    op.__name__ = prim_name
    return op


def _reduce_window_op(kind: str) -> Callable[..., Any]:
    init = {"sum": 0, "max": -np.inf, "min": np.inf}[kind]

    def op(x: Any, *, window_dimensions: tuple, window_strides: tuple, padding: tuple,
           base_dilation: tuple, window_dilation: tuple) -> Any:
        dtype = np.dtype(x.dtype)
        identity = init if dtype.kind == "f" or kind == "sum" else (
            np.iinfo(dtype).min if kind == "max" else np.iinfo(dtype).max)
        return lax.reduce_window(x, identity, kind, window_dimensions, window_strides,
                                 padding, base_dilation, window_dilation)
    return op


def _conv_ref(lhs: np.ndarray, rhs: np.ndarray, window_strides: tuple, padding: tuple,
              lhs_dilation: tuple, rhs_dilation: tuple, feature_group_count: int = 1,
              batch_group_count: int = 1, nhwc: bool = False) -> np.ndarray:
    """By explicit windows, in NCHW x OIHW -> NCHW (or NHWC x HWIO -> NHWC)."""
    if nhwc:
        out = _conv_ref(lhs.transpose(0, 3, 1, 2), rhs.transpose(3, 2, 0, 1), window_strides,
                        padding, lhs_dilation, rhs_dilation, feature_group_count,
                        batch_group_count)
        return out.transpose(0, 2, 3, 1)
    b = batch_group_count
    if b > 1:  # batch groups (outer) become feature groups (outer) of a smaller batch
        n, c = lhs.shape[:2]
        lhs = lhs.reshape(b, n // b, c, *lhs.shape[2:]).swapaxes(0, 1).reshape(
            n // b, b * c, *lhs.shape[2:])
        return _conv_ref(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, b)
    params = {"window_dimensions": (1, 1) + rhs.shape[2:], "window_strides": (1, 1) +
              tuple(window_strides), "padding": ((0, 0), (0, 0)) + tuple(padding),
              "base_dilation": (1, 1) + tuple(lhs_dilation),
              "window_dilation": (1, 1) + tuple(rhs_dilation)}
    w = _windows(lhs, 0, **params)[:, :, :, :, 0, 0]  # n, c, h, w, kh, kw
    g = feature_group_count
    n, c = lhs.shape[:2]
    o = rhs.shape[0]
    w = w.reshape(n, g, c // g, *w.shape[2:])
    r = rhs.reshape(g, o // g, *rhs.shape[1:])
    out = np.einsum("ngchwij,gocij->ngohw", w, r)
    return out.reshape(n, o, *out.shape[3:]).astype(lhs.dtype)


def _conv_op(lhs: Any, rhs: Any, nhwc: bool = False, **params: Any) -> Any:
    layout = ("NHWC", "HWIO", "NHWC") if nhwc else ("NCHW", "OIHW", "NCHW")
    return lax.conv_general_dilated(lhs, rhs, dimension_numbers=layout, **params)


CONV = [
    OpInfo("conv_general_dilated", _conv_op, samples(
        lambda r, d: Sample((arr(r, (1, 2, 4, 5), d), arr(r, (3, 2, 2, 2), d)),
                            {"window_strides": (1, 1), "padding": ((0, 0), (0, 0)),
                             "lhs_dilation": (1, 1), "rhs_dilation": (1, 1)}),
        lambda r, d: Sample((arr(r, (2, 2, 5, 4), d), arr(r, (2, 1, 3, 2), d)),
                            {"window_strides": (2, 1), "padding": ((1, 1), (0, 1)),
                             "lhs_dilation": (1, 2), "rhs_dilation": (1, 1),
                             "feature_group_count": 2}),
        lambda r, d: Sample((arr(r, (1, 1, 4, 4), d), arr(r, (2, 1, 2, 2), d)),
                            {"window_strides": (1, 1), "padding": ((1, 0), (0, 1)),
                             "lhs_dilation": (1, 1), "rhs_dilation": (2, 1)}),
        lambda r, d: Sample((arr(r, (4, 2, 3, 3), d), arr(r, (4, 2, 2, 1), d)),
                            {"window_strides": (1, 1), "padding": ((0, 0), (1, 0)),
                             "lhs_dilation": (1, 1), "rhs_dilation": (1, 1),
                             "batch_group_count": 2}),
        lambda r, d: Sample((arr(r, (2, 4, 3, 2), d), arr(r, (2, 2, 2, 3), d)),
                            {"window_strides": (1, 2), "padding": ((0, 1), (1, 1)),
                             "lhs_dilation": (1, 1), "rhs_dilation": (1, 1), "nhwc": True})),
        _conv_ref, (F32, F64), 2, tol=1e-4),
    *(OpInfo(f"reduce_window_{k}", _reduce_window_op(k), _window_samples(None),
             _window_reduce_ref(k), NUMS, 2, _window_samples(None, edges=False))
      for k in ("sum", "max", "min")),
    OpInfo("window_select_gather", _bind("window_select_gather"), _window_samples("gather"),
           _select_gather_ref, FLOATS, 2, _window_samples("gather", edges=False)),
    OpInfo("window_select_scatter", _bind("window_select_scatter"),
           _window_samples("scatter", "min"), _select_scatter_ref, FLOATS, 2,
           _window_samples("scatter", "min", edges=False)),
]


# ---------------------------------------------------------------------------- control flow,
# custom rules, calls

_BRANCHES = (lambda a, b: fnad.numpy.sin(a) * b, lambda a, b: a - b * b,
             lambda a, b: fnad.numpy.exp(a * 0.5) + b)
_BRANCHES_REF = (lambda a, b: np.sin(a) * b, lambda a, b: a - b * b,
                 lambda a, b: np.exp(a * 0.5) + b)


def _cond_op(p: Any, x: Any, y: Any, branches: int = 2) -> Any:
    """`cond` on the sign of p, or `switch` on p among `branches` (both bind cond)."""
    if branches == 2:
        return lax.cond(p > 0, *_BRANCHES[:2], x, y)
    return lax.switch(p, _BRANCHES[:branches], x, y)


def _cond_ref(p: np.ndarray, x: np.ndarray, y: np.ndarray, branches: int = 2) -> np.ndarray:
    k = (0 if p > 0 else 1) if branches == 2 else int(np.clip(p, 0, branches - 1))
    return np.asarray(_BRANCHES_REF[k](x, y)).astype(np.result_type(x, y))


def _pred(rng: np.random.Generator, lo: int, hi: int) -> np.ndarray:
    return np.asarray(rng.integers(lo, hi), np.int32)


def _scan_op(c: Any, xs: Any, w: Any, reverse: bool = False) -> Any:
    """A scan with a carry, a scanned input and a closed-over `w` (a constant of the body)."""
    def body(c: Any, x: Any) -> tuple[Any, Any]:
        return c * 0.5 + fnad.numpy.sin(x) * c * w, c + x
    return lax.scan(body, c, xs, reverse=reverse)


def _scan_ref(c: np.ndarray, xs: np.ndarray, w: np.ndarray, reverse: bool = False) -> tuple:
    ys = []
    for x in (xs[::-1] if reverse else xs):
        c, y = c * 0.5 + np.sin(x) * c * w, c + x
        ys.append(y)
    return c, np.stack(ys[::-1] if reverse else ys).astype(xs.dtype)


def _while_op(x: Any, n: Any) -> Any:
    """n steps of a smooth map: with `n` batched, the predicate is batched too."""
    return lax.while_loop(lambda s: s[0] < n, lambda s: (s[0] + 1, fnad.numpy.sin(s[1]) * 1.5),
                          (np.int32(0), x))[1]


def _while_ref(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    for _ in range(int(n)):
        x = (np.sin(x) * 1.5).astype(x.dtype)
    return x


@fnad.custom_jvp
def softplus(x: Any) -> Any:
    return fnad.numpy.logaddexp(x, 0.0)


@softplus.defjvp
def _softplus_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    return softplus(x), t * lax.logistic(x)


@fnad.custom_vjp
def sin_cv(x: Any, y: Any) -> Any:
    return fnad.numpy.sin(x) * y


sin_cv.defvjp(lambda x, y: (sin_cv(x, y), (x, y)),
              lambda res, g: (g * fnad.numpy.cos(res[0]) * res[1], g * fnad.numpy.sin(res[0])))


def _cv_tangent(x: Any, y: Any, tx: Any, ty: Any) -> Any:
    """The jvp of a custom_vjp function: its tangent goes through `custom_vjp_bwd`."""
    return fnad.jvp(sin_cv, (x, y), (tx, ty))[1]


def _debug_op(x: Any) -> Any:
    fnad.debug.print("opinfo debug_print: {}", x)
    return x * 2


def _iota_op(x: Any) -> Any:
    return x * lax.broadcasted_iota(x.dtype, x.shape, x.ndim - 1)


def _callback_op(x: Any, y: Any) -> Any:
    # operands of one shape, so that the callback takes a leading batch axis (expand_dims)
    return fnad.pure_callback(lambda a, b: np.sin(a) * b,
                              fnad.ShapeDtypeStruct(x.shape, x.dtype), x, y,
                              vmap_method="expand_dims")


_HOST_CODE = ("a Python callback has no derivative (as in JAX): its jvp rule raises, tested "
              "in tests/test_pure_callback.py with custom_vjp/custom_jvp giving it one")


def _two(shape_x: tuple, shape_y: tuple) -> Samples:
    return samples(lambda r, d: Sample((arr(r, shape_x, d), arr(r, shape_y, d))))


_STOPPED = ("its derivative is zero by definition, not that of its value (the identity): "
            "test_jvp_of_a_piecewise_constant_primitive_is_zero checks the rule")

CALLS = [
    OpInfo("cond", _cond_op, samples(
        lambda r, d: Sample((_pred(r, -1, 2), arr(r, (3,), d), arr(r, (3,), d))),
        lambda r, d: Sample((_pred(r, -1, 2), arr(r, (), d), arr(r, (2, 1), d))),
        lambda r, d: Sample((_pred(r, -1, 4), arr(r, (2,), d), arr(r, (2,), d)),
                            {"branches": 3})),
        _cond_ref, FLOATS, 2),
    OpInfo("scan", _scan_op, samples(
        lambda r, d: Sample((arr(r, (3,), d), arr(r, (4, 3), d), arr(r, (), d))),
        lambda r, d: Sample((arr(r, (), d), arr(r, (3,), d), arr(r, (), d)),
                            {"reverse": True})),
        _scan_ref, FLOATS, 2),
    OpInfo("while_loop", _while_op,
           samples(lambda r, d: Sample((arr(r, (3,), d), _pred(r, 0, 4)))),
           _while_ref, FLOATS, 2,
           skips={"vjp": "while_loop is forward-differentiable only (as in JAX): reverse mode "
                         "raises; the error is tested in tests/lax/test_control_flow.py",
                  "transpose": "its transpose rule only raises reverse mode's error "
                               "(tests/lax/test_control_flow.py)"}),
    OpInfo("checkpoint", fnad.checkpoint(lambda x, y: fnad.numpy.sin(x) * y), _two((3,), (3,)),
           lambda x, y: np.sin(x) * y, FLOATS, 2),
    OpInfo("custom_jvp_call", softplus, samples(lambda r, d: Sample((arr(r, (2, 3), d),))),
           lambda x: np.logaddexp(x, 0), FLOATS, 2),
    OpInfo("custom_vjp_call", sin_cv, _two((3,), (3,)), lambda x, y: np.sin(x) * y, FLOATS, 2),
    OpInfo("custom_vjp_bwd", _cv_tangent,
           samples(lambda r, d: Sample(tuple(arr(r, (3,), d) for _ in range(4)))),
           lambda x, y, tx, ty: tx * np.cos(x) * y + ty * np.sin(x), FLOATS, 2,
           transpose_op=lambda x, y, tx, ty: sin_cv(x, y) * tx),
    OpInfo("stop_gradient", lax.stop_gradient, samples(lambda r, d: Sample((arr(r, (3,), d),))),
           lambda x: x, NUMS, 0,
           skips=_grad_skips(0, {"jvp": _STOPPED, "vjp": _STOPPED})),
    OpInfo("jit_call", lambda x, y: fnad.jit(lambda a, b: fnad.numpy.sin(a) * b)(x, y),
           _two((2, 3), (3,)), lambda x, y: np.sin(x) * y, FLOATS, 2,
           skips={"lowering": "the jit's first pass inlines jit_call (nested jits compile as "
                              "one program); its impl runs in the typecheck test"}),
    OpInfo("debug_callback", _debug_op, samples(lambda r, d: Sample((arr(r, (3,), d),))),
           lambda x: x * 2, NUMS, 2),
    OpInfo("pure_callback", _callback_op, samples(
        lambda r, d: Sample((arr(r, (2, 3), d), arr(r, (2, 3), d))),
        lambda r, d: Sample((arr(r, (), d), arr(r, (), d)))),
           lambda x, y: np.sin(x) * y, FLOATS, 0,
           skips={"jvp": _HOST_CODE, "vjp": _HOST_CODE}),
    # more than the jit folds into a constant (passes.FOLD_MAX_SIZE), so iota is lowered
    OpInfo("iota", _iota_op, samples(lambda r, d: Sample((arr(r, (2, 3), d),)),
                                     lambda r, d: Sample((arr(r, (16, 20), d),))),
           lambda x: x * np.arange(x.shape[-1]).astype(x.dtype), NUMS, 2),
]


# ---------------------------------------------------------------------------- collectives
# Each runs per member of the named axis "i": under vmap(..., axis_name="i") on stacked
# members, or under `peers()`, where the axis is bound to a communicator whose members hold
# this member's value plus (j - rank), which runs the impls and the jit lowerings.

AXIS = "i"


class Peers:
    """Member `rank` of `size`, whose member j holds this member's value + (j - rank)."""

    def __init__(self, rank: int = 1, size: int = 3):
        self.rank, self.size = rank, size

    def members(self, x: Any) -> list[np.ndarray]:
        x = np.asarray(x)
        return [(x + np.asarray(j - self.rank).astype(x.dtype)).astype(x.dtype)
                for j in range(self.size)]

    def allreduce(self, xs: list[Any], op: str) -> list[Any]:
        fn = {"sum": np.sum, "max": np.max, "min": np.min}[op]
        return [fn(np.stack(self.members(x)), axis=0).astype(np.asarray(x).dtype) for x in xs]

    def allgather(self, x: Any) -> Any:
        return np.stack(self.members(x))


@contextlib.contextmanager
def peers() -> Iterator[Peers]:
    comm = Peers()
    with collectives.bind_axis(AXIS, comm):
        yield comm


def _repeat(r: np.ndarray, n: int) -> np.ndarray:
    """The same result on each of the n members."""
    return np.broadcast_to(r, (n, *np.shape(r)))


def _collective_samples(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    """Stacked members (3, ...), distinct across members so extrema have derivatives; two
    operands make one variadic equation."""
    return [Sample((distinct(rng, (3, 2), dtype),)),
            Sample((distinct(rng, (3, 2, 2), dtype), distinct(rng, (3,), dtype)))]


def _allreduce(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The collective of the operands, as a tuple (a pytree) when there are several."""
    return lambda *xs: fn(xs if len(xs) > 1 else xs[0], AXIS)


def _per_operand(ref: Callable[[np.ndarray], np.ndarray]) -> Callable[..., Any]:
    return lambda *xs: tuple(ref(x) for x in xs) if len(xs) > 1 else ref(xs[0])


def _gather_op(x: Any, axis: int = 0, tiled: bool = False) -> Any:
    return lax.all_gather(x, AXIS, axis=axis, tiled=tiled)


def _gather_samples_named(rng: np.random.Generator, dtype: np.dtype) -> list[Sample]:
    x = distinct(rng, (3, 2, 2), dtype)
    return [Sample((x,)), Sample((x,), {"axis": 1}), Sample((x,), {"tiled": True})]


def _all_gather_ref(x: np.ndarray, axis: int = 0, tiled: bool = False) -> np.ndarray:
    g = np.concatenate(list(x), axis) if tiled else np.moveaxis(x, 0, axis)
    return _repeat(g, len(x))


def _axis_index_ref(x: np.ndarray) -> np.ndarray:
    return x * np.arange(len(x)).reshape(-1, *[1] * (x.ndim - 1)).astype(x.dtype)


def _collective(name: str, fn: Callable[..., Any], ref: Callable[..., np.ndarray],
                dtypes: tuple, samples_: Samples = _collective_samples) -> OpInfo:
    """`fn` runs per member; `ref` maps the stacked members (n, ...) to the stacked results."""
    return OpInfo(name, fn, samples_, ref, dtypes, 2, axis_name=AXIS)


COLLECTIVES = [
    _collective("psum", _allreduce(lax.psum),
                _per_operand(lambda x: _repeat(x.sum(0, dtype=x.dtype), len(x))),
                (F32, F64, I32)),
    _collective("pmean", _allreduce(lax.pmean),
                _per_operand(lambda x: _repeat(x.mean(0).astype(x.dtype), len(x))), FLOATS),
    _collective("pmax", _allreduce(lax.pmax), _per_operand(lambda x: _repeat(x.max(0), len(x))),
                (F32, F64, I32)),
    _collective("pmin", _allreduce(lax.pmin), _per_operand(lambda x: _repeat(x.min(0), len(x))),
                (F32, F64, I32)),
    _collective("all_gather", _gather_op, _all_gather_ref, (F32, F64, I32),
                _gather_samples_named),
    _collective("axis_index",
                lambda x: x * lax.convert_element_type(lax.axis_index(AXIS), x.dtype),
                _axis_index_ref, (F32, I32),
                lambda rng, dtype: _collective_samples(rng, dtype)[:1]),
]

def _bind(name: str) -> Callable[..., Any]:
    """The primitive bound directly (for special functions whose public wrappers live in
    fnad.scipy.special)."""
    return lambda *args: fnad_primitives()[name].bind(*args)


_F = (F32, F64)
SPECIAL = [
    elementwise("ndtri", sps.ndtri, uniform(0.02, 0.98), op=_bind("ndtri"), dtypes=_F),
    elementwise("erfcx", sps.erfcx, uniform(-2, 5), op=_bind("erfcx"), dtypes=_F),
    elementwise("dawsn", sps.dawsn, uniform(-4, 4), op=_bind("dawsn"), dtypes=_F),
    elementwise("bessel_i0e", sps.i0e, uniform(-5, 5), op=_bind("bessel_i0e"), dtypes=_F),
    elementwise("bessel_i1e", sps.i1e, uniform(-5, 5), op=_bind("bessel_i1e"), dtypes=_F),
    elementwise("spence", sps.spence, uniform(0.1, 3), op=_bind("spence"), dtypes=_F),
    elementwise("expi", sps.expi, uniform(0.2, 3), op=_bind("expi"), dtypes=_F),
    # XLA's (so JAX's) domain: NaN for a <= 0, where SciPy gives a limit; edge values of
    # both operands are checked against SciPy in tests/scipy/test_special.py
    elementwise("igamma", lambda a, x: np.where(a > 0, sps.gammainc(a, x), np.nan),
                uniform(0.5, 4), uniform(0.1, 5), op=_bind("igamma"), dtypes=_F, order=1,
                edges=False),
    elementwise("igammac", lambda a, x: np.where(a > 0, sps.gammaincc(a, x), np.nan),
                uniform(0.5, 4), uniform(0.1, 5), op=_bind("igammac"), dtypes=_F, order=1,
                edges=False),
]

OPS: list[OpInfo] = [*ELEMENTWISE, *REDUCTIONS, *STRUCTURAL, *LINALG, *CONV, *CALLS,
                     *COLLECTIVES, *SPECIAL]

_SPECIAL_TESTS = ("a special function with parameter domains a generic row cannot draw: "
                  "values against SciPy, derivatives (or their documented absence), staging, "
                  "jit and vmap are tested in tests/scipy/test_special.py")
_SAMPLER_TESTS = ("a sampler's building block: values, derivatives, jit and vmap are tested "
                  "through the samplers in tests/test_samplers.py")

_DECOMPOSITION_TESTS = ("a matrix decomposition (or solve, or FFT) whose outputs are compared "
                        "by reconstruction and invariants, not against a reference's raw "
                        "outputs: its own table in tests/lax/test_linalg_decomp.py (or "
                        "test_fft_primitive.py) runs impl, abstract eval, jit, jvp, transpose, "
                        "vmap and the complex convention")

# Primitives with no entry, and why.
EXEMPT = {
    **dict.fromkeys(["cholesky", "triangular_solve", "lu", "qr", "eigh", "svd", "eig",
                     "custom_linear_solve", "fft"], _DECOMPOSITION_TESTS),
    **dict.fromkeys(["fresnel_s", "fresnel_c", "sine_integral", "cosine_integral",
                     "betainc", "zeta", "expn", "owens_t", "hyp1f1", "hyp2f1", "bessel_jn",
                     "bessel_yn", "bessel_ive", "wofz", "sph_legendre", "igamma_grad_a", "random_gamma_grad"],
                    _SPECIAL_TESTS),
    **dict.fromkeys(["random_loggamma", "random_loggamma_grad", "poisson_quantile",
                     "binomial_quantile"], _SAMPLER_TESTS),
    "fusion": "made only by the jit's fusion pass after every transform has run, from "
              "elementwise equations the table covers; it has no jvp, transpose or batch "
              "rule and its impl is the compiled kernel (tests/jit/test_fusion.py)",
}


