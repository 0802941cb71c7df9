"""The CuPy backend: every primitive's eager impl on `cupy.ndarray`s, and the jit backend
"cupy", whose fused kernels are CUDA C compiled by NVRTC through `cupy.RawModule`.

Importing this module does not import CuPy. `register()` does, and installs
`prim.impls["cupy"]` for every primitive from the pure-Python table `IMPLS` (tests check
that the table decides every primitive); `EvalTrace` calls it the first time a primitive
meets a CuPy array. Dedicated impls are written against the module global `cp` with the
API NumPy and CuPy share, so their logic is tested on NumPy too.

| primitives                                   | on CuPy                               |
| -------------------------------------------- | ------------------------------------- |
| ufunc-based elementwise (add, sin, div, rem, | NumPy impl as is: ufuncs dispatch by  |
| max, round, comparisons, and/or/xor...)      | `__array_ufunc__` (NEP 13)            |
| broadcast_in_dim, reshape, transpose,        | NumPy impl as is: `np.reshape`... by  |
| concatenate, slice, dynamic_slice            | `__array_function__` (NEP 18)         |
| cond, while_loop, custom_*, checkpoint,      | NumPy impl as is: they only call      |
| stop_gradient, debug_print, fusion           | sub-jaxprs or kernels                 |
| integer_pow, convert_element_type            | dedicated: impl calls `np.asarray`    |
| select_n (3+ cases)                          | dedicated: chain of `where`           |
| iota, axis_index                             | dedicated: made on the device         |
| shift_*, population_count                    | dedicated: `np.asarray` views; SWAR   |
|                                              | popcount (no `bitwise_count` in CuPy) |
| erf, erfc, erf_inv, lgamma, digamma,         | dedicated: `cupyx.scipy.special`, in  |
| polygamma                                    | float64 (the NumPy series use asarray)|
| squeeze, expand_dims, rev                    | dedicated: reshape / slicing (CuPy's  |
|                                              | tuple-axis support varies by version) |
| pad, dynamic_update_slice                    | dedicated: `np.full` / `np.array` copy|
| gather, scatter*                             | dedicated: fancy indexing;            |
|                                              | `cupyx.scatter_add` for atomic dtypes |
| reduce_*, argmax/argmin                      | dedicated: impls wrap `np.asarray`;   |
|                                              | CuPy's max has no `initial`           |
| cumsum/cumprod; cummax/cummin                | dedicated: cupy.cumsum; log-depth scan|
| dot_general                                  | dedicated: cuBLAS via `cupy.matmul`   |
| conv_general_dilated                         | dedicated: cuDNN when CuPy has it     |
|                                              | (`cupy.cudnn`, CuPy < 14), else im2col|
|                                              | (`as_strided`) + cuBLAS GEMM          |
| reduce_window_*, window_select_*             | dedicated: `as_strided` windows       |
| sort                                         | dedicated: stable `cupy.argsort`      |
| scan                                         | as is: stacks with the inputs' module |
| jit_call                                     | dedicated: compiled for "cupy"        |
| psum, pmean, pmax, pmin, all_gather          | OWN: registered by their module       |
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.backends.nvrtc import KernelCompileError
from fnad.core.cache import Cache
from fnad.core.ir import ClosedJaxpr, Jaxpr
from fnad.core.primitive import Primitive, fnad_primitives
from fnad.device import is_gpu_array, require_gpu
from fnad.jit import codegen_cuda
from fnad.jit.kernels import Kernel, arguments, source_hash
from fnad.lax import special
from fnad.lax.conv import (
    _crop_dilated,
    _dilated,
    _offset_slices,
    _out_size,
    _window_identity,
    conv_im2col,
)
from fnad.lax.reduction import _identity

cp: Any = None  # the cupy module, bound by `register()`

NUMPY = "numpy"  # the NumPy impl runs on CuPy arrays as it is
OWN = "own"      # the primitive's own module registers its CuPy impl


# ---------------------------------------------------------------------------- elementwise

def _integer_pow(x: Any, y: int) -> Any:
    return (x ** y if y >= 0 else 1 / x ** -y).astype(x.dtype, copy=False)


def _convert(x: Any, new_dtype: np.dtype) -> Any:
    return x.astype(new_dtype)


def _shape_of(*xs: Any) -> tuple[int, ...]:
    """The common shape of elementwise operands (rank-0 ones broadcast)."""
    return next((tuple(x.shape) for x in xs if getattr(x, "ndim", 0)), ())


def _select_n(which: Any, *cases: Any) -> Any:
    if len(cases) == 2:
        out = cp.where(which, cases[1], cases[0])
    else:  # a bool `which` has exactly two cases, so it is an integer here
        out = cp.broadcast_to(cases[-1], _shape_of(which, *cases))
        for i in range(len(cases) - 2, -1, -1):
            out = cp.where(which == i, cases[i], out)
    return cp.asarray(out).astype(cases[0].dtype, copy=False)


def _iota(dtype: np.dtype, shape: tuple[int, ...], dimension: int) -> Any:
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    line = cp.arange(shape[dimension], dtype=dtype).reshape(expanded)
    return cp.ascontiguousarray(cp.broadcast_to(line, shape))


def _bits(x: Any, kind: str) -> Any:
    """x's bits as the signed ('i') or unsigned ('u') integer of its width."""
    return x.view(np.dtype(f"{kind}{x.dtype.itemsize}"))


def _shift(op: str, kind: str) -> Callable[..., Any]:
    """XLA's shifts: amounts outside [0, bits) shift everything out (the sign bit, for an
    arithmetic shift)."""
    def impl(x: Any, s: Any) -> Any:
        bits = x.dtype.itemsize * 8
        v = _bits(x, kind)
        inside = (s >= 0) & (s < bits)
        amount = cp.where(inside, s, 0).astype(v.dtype)
        shifted = getattr(cp, op)(v, amount)
        out = v >> (bits - 1) if kind == "i" else cp.zeros((), v.dtype)
        return cp.where(inside, shifted, out).astype(v.dtype).view(x.dtype)
    return impl


def _population_count(x: Any) -> Any:
    """Bits set, by the SWAR sum on 64-bit words (bytes summed by shifts: no overflow)."""
    v = _bits(x, "u").astype(np.uint64)
    v = v - ((v >> 1) & 0x5555555555555555)
    v = (v & 0x3333333333333333) + ((v >> 2) & 0x3333333333333333)
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0F
    v = v + (v >> 8)
    v = v + (v >> 16)
    v = v + (v >> 32)
    return (v & 0x7F).astype(x.dtype)


def _special_module(x: Any) -> Any:
    """The SciPy-shaped special functions of x's library: cupyx.scipy.special on the GPU."""
    return importlib.import_module("cupyx.scipy.special" if is_gpu_array(x)
                                   else "scipy.special")


def _special(name: str) -> Callable[[Any], Any]:
    """A float64 special function (as the NumPy impls compute them), cast back."""
    def impl(x: Any) -> Any:
        return getattr(_special_module(x), name)(x.astype(np.float64)).astype(x.dtype)
    return impl


def _polygamma(x: Any, m: int) -> Any:
    """digamma (m = 0) or (-1)^(m+1) m! zeta(m+1, x); NaN at the poles (0, -1, -2, ...)."""
    special = _special_module(x)
    x64 = x.astype(np.float64)
    out = special.digamma(x64) if m == 0 else \
        (-1) ** (m + 1) * math.factorial(m) * special.zeta(m + 1.0, x64)
    poles = (x64 <= 0) & (x64 == cp.floor(x64))
    return cp.where(poles, np.nan, out).astype(x.dtype)


# ---------------------------------------------------------------------------- structural

def _normalized(dims: Sequence[int], ndim: int) -> list[int]:
    return sorted(d % ndim for d in dims) if ndim else []


def _squeeze(x: Any, dimensions: tuple[int, ...]) -> Any:
    gone = set(_normalized(dimensions, x.ndim))
    return x.reshape([n for i, n in enumerate(x.shape) if i not in gone])


def _expand_dims(x: Any, dimensions: tuple[int, ...]) -> Any:
    shape = list(x.shape)
    for d in _normalized(dimensions, x.ndim + len(dimensions)):
        shape.insert(d, 1)
    return x.reshape(shape)


def _rev(x: Any, dimensions: tuple[int, ...]) -> Any:
    flipped = set(_normalized(dimensions, x.ndim))
    return x[tuple(slice(None, None, -1) if i in flipped else slice(None)
                   for i in range(x.ndim))]


def _pad(x: Any, padding_value: Any, padding_config: tuple[tuple[int, int, int], ...]) -> Any:
    grown = [max(lo, 0) + _dilated(n, i + 1) + max(hi, 0)
             for n, (lo, hi, i) in zip(x.shape, padding_config)]
    out = cp.full(grown, padding_value, dtype=x.dtype)
    out[tuple(slice(max(lo, 0), max(lo, 0) + _dilated(n, i + 1), i + 1)
              for n, (lo, _, i) in zip(x.shape, padding_config))] = x
    return out[tuple(slice(-min(lo, 0), g + min(hi, 0))
                     for g, (lo, hi, _) in zip(grown, padding_config))]


def _dynamic_update_slice(x: Any, update: Any, *starts: Any) -> Any:
    out = x.copy()
    window = tuple(slice(s, s + k) for s, k in zip(
        (min(max(int(s), 0), n - k) for s, n, k in zip(starts, x.shape, update.shape)),
        update.shape))
    out[window] = update
    return out


def _points(x: Any, indices: Any, axes: tuple[int, ...]) -> tuple[Any, list[Any], Any]:
    """x with `axes` moved first (a view), the clipped index components (flat), and which
    points are in bounds (flat)."""
    rest = [i for i in range(x.ndim) if i not in axes]
    moved = cp.transpose(x, (*axes, *rest))
    flat = indices.reshape(-1, indices.shape[-1])
    comps, valid = [], cp.ones(flat.shape[0], dtype=bool)
    for j, a in enumerate(axes):
        c, n = flat[:, j], x.shape[a]
        valid = valid & (c >= 0) & (c < n)
        comps.append(cp.clip(c, 0, max(n - 1, 0)))
    return moved, comps, valid


def _gather(x: Any, indices: Any, axes: tuple[int, ...], mode: str) -> Any:
    moved, comps, valid = _points(x, indices, axes)
    shape = indices.shape[:-1] + moved.shape[len(axes):]
    if any(x.shape[a] == 0 for a in axes):
        return cp.zeros(shape, x.dtype)
    out = moved[tuple(comps)]
    if mode == "drop":
        out = cp.where(valid.reshape(valid.shape + (1,) * (out.ndim - 1)), out,
                       cp.zeros((), x.dtype))
    return out.reshape(shape)


_ATOMIC_ADD = ("float32", "int32", "uint32", "uint64")  # cupyx.scatter_add's dtypes


def _scatter(combine: str | None) -> Callable[..., Any]:
    """scatter (last update wins) or scatter_{add,mul,max,min} (every update combined, in
    order, as NumPy's ufunc.at): on a contiguous (points, rest) copy of the operand."""
    def impl(x: Any, indices: Any, updates: Any, axes: tuple[int, ...], mode: str) -> Any:
        if any(x.shape[a] == 0 for a in axes):
            return x.copy()
        rest = [i for i in range(x.ndim) if i not in axes]
        perm = (*axes, *rest)
        moved = cp.ascontiguousarray(cp.transpose(x, perm))
        lead = moved.shape[:len(axes)]
        table = moved.reshape(int(np.prod(lead, dtype=np.int64)),
                              int(np.prod(moved.shape[len(axes):], dtype=np.int64)))
        _, comps, valid = _points(x, indices, axes)
        rows = cp.zeros(valid.shape, dtype=np.int64)
        for c, n in zip(comps, lead):
            rows = rows * n + c.astype(np.int64)
        upd = updates.reshape(rows.shape[0], table.shape[1])
        if mode == "drop":
            rows, upd = rows[valid], upd[valid]
        _combine_rows(table, rows, upd, combine)
        return cp.ascontiguousarray(cp.transpose(moved, np.argsort(perm)))
    return impl


def _combine_rows(table: Any, rows: Any, upd: Any, combine: str | None) -> None:
    """table[rows[i]] = combine(table[rows[i]], upd[i]) for every i in order, in place."""
    if rows.shape[0] == 0:
        return
    if combine == "add" and table.dtype.name in _ATOMIC_ADD and is_gpu_array(table):
        importlib.import_module("cupyx").scatter_add(table, rows, upd)
        return
    order = cp.argsort(rows)  # stable: a row's updates keep their order
    ranked = rows[order]
    first = cp.searchsorted(ranked, ranked, side="left")
    position = cp.arange(ranked.shape[0]) - first  # the update's rank among its row's
    if combine is None:  # only each row's last update is written
        last = cp.searchsorted(ranked, ranked, side="right") - 1
        keep = order[cp.arange(ranked.shape[0]) == last]
        table[rows[keep]] = upd[keep]
        return
    fn = {"add": cp.add, "mul": cp.multiply, "max": cp.maximum, "min": cp.minimum}[combine]
    for r in range(int(position.max()) + 1):  # rounds touch each row at most once
        pick = order[position == r]
        table[rows[pick]] = fn(table[rows[pick]], upd[pick])


# ---------------------------------------------------------------------------- reductions

def _reduced_shape(x: Any, axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for i, n in enumerate(x.shape) if i not in axes)


def _reduce(name: str) -> Callable[..., Any]:
    def impl(x: Any, axes: tuple[int, ...]) -> Any:
        if name in ("sum", "prod"):
            return cp.asarray(getattr(cp, name)(x, axis=axes, dtype=x.dtype))
        return cp.asarray(getattr(cp, name)(x, axis=axes))
    return impl


def _extremum(name: str, largest: bool) -> Callable[..., Any]:
    """max/min, with the identity where nothing is reduced (CuPy has no `initial=`)."""
    def impl(x: Any, axes: tuple[int, ...]) -> Any:
        if any(x.shape[a] == 0 for a in axes):
            return cp.full(_reduced_shape(x, axes), _identity(x.dtype, largest), x.dtype)
        return cp.asarray(getattr(cp, name)(x, axis=axes))
    return impl


def _arg_reducer(name: str) -> Callable[..., Any]:
    def impl(x: Any, axes: tuple[int, ...], index_dtype: np.dtype) -> Any:
        return cp.asarray(getattr(cp, name)(x, axis=axes[0])).astype(index_dtype)
    return impl


def _cumulative(name: str) -> Callable[..., Any]:
    """cumsum/cumprod by CuPy; cummax/cummin by a log-depth (Hillis-Steele) scan."""
    def scan(x: Any, axis: int) -> Any:
        if name in ("cumsum", "cumprod"):
            return getattr(cp, name)(x, axis=axis, dtype=x.dtype)
        fn = cp.maximum if name == "cummax" else cp.minimum
        d, n = 1, x.shape[axis]
        while d < n:
            head = tuple(slice(d, None) if i == axis else slice(None) for i in range(x.ndim))
            tail = tuple(slice(None, -d) if i == axis else slice(None) for i in range(x.ndim))
            y = x.copy()
            y[head] = fn(x[head], x[tail])
            x, d = y, 2 * d
        return x

    def impl(x: Any, axis: int, reverse: bool) -> Any:
        if reverse:
            return cp.ascontiguousarray(cp.flip(scan(cp.flip(x, axis), axis), axis))
        return cp.asarray(scan(x, axis))
    return impl


def _dot_general(x: Any, y: Any, dimension_numbers: Any) -> Any:
    """Matrix products through cuBLAS (`cupy.matmul` / `cupy.dot`), batch axes first."""
    (xc, yc), (xb, yb) = dimension_numbers
    if not xb and len(xc) == 1 and x.ndim <= 2 and y.ndim <= 2:
        a = x if x.ndim < 2 or xc[0] == 1 else x.T
        b = y if y.ndim < 2 or yc[0] == 0 else y.T
        return cp.asarray(cp.dot(a, b))
    xf = [d for d in range(x.ndim) if d not in xc and d not in xb]
    yf = [d for d in range(y.ndim) if d not in yc and d not in yb]
    batch = [x.shape[d] for d in xb]
    k = int(np.prod([x.shape[d] for d in xc], dtype=np.int64))
    m = int(np.prod([x.shape[d] for d in xf], dtype=np.int64))
    n = int(np.prod([y.shape[d] for d in yf], dtype=np.int64))
    x3 = cp.transpose(x, (*xb, *xf, *xc)).reshape((*batch, m, k))
    y3 = cp.transpose(y, (*yb, *yc, *yf)).reshape((*batch, k, n))
    out = cp.matmul(x3, y3)
    return out.reshape((*batch, *(x.shape[d] for d in xf), *(y.shape[d] for d in yf)))


# ---------------------------------------------------------------------------- windows, conv

def _dilate_pad(x: Any, padding: Sequence[tuple[int, int]], dilation: Sequence[int],
                fill: Any) -> Any:
    """x with `dilation - 1` fills between elements, then padded (negative pads crop)."""
    grown = [max(lo, 0) + _dilated(n, d) + max(hi, 0)
             for n, d, (lo, hi) in zip(x.shape, dilation, padding)]
    out = cp.full(grown, fill, dtype=x.dtype)
    out[tuple(slice(max(lo, 0), max(lo, 0) + _dilated(n, d), d)
              for n, d, (lo, _) in zip(x.shape, dilation, padding))] = x
    return out[tuple(slice(max(-lo, 0), max(max(-lo, 0), g - max(-hi, 0)))
                     for g, (lo, hi) in zip(grown, padding))]


def _windows(x: Any, window: Sequence[int], strides: Sequence[int],
             padding: Sequence[tuple[int, int]], base_dilation: Sequence[int],
             window_dilation: Sequence[int], fill: Any) -> Any:
    """A view of shape (*out_shape, *window): every window of the padded, dilated x."""
    out = [_out_size(*a) for a in zip(x.shape, window, strides, padding, base_dilation,
                                      window_dilation)]
    if 0 in out or 0 in window:
        return cp.zeros((*out, *window), x.dtype)
    xp = _dilate_pad(x, padding, base_dilation, fill)
    shape = (*(o for o in out), *window)
    steps = (*(s * st for s, st in zip(xp.strides, strides)),
             *(s * d for s, d in zip(xp.strides, window_dilation)))
    return cp.lib.stride_tricks.as_strided(xp, shape, steps)


def _cudnn() -> Any:
    """cupy.cudnn, or None (CuPy 14 dropped cuDNN; older CuPy without the library)."""
    try:
        return importlib.import_module("cupy.cudnn")
    except Exception:  # ImportError, or cuDNN failing to load
        return None


def _cudnn_fits(lhs: Any, padding: Any, lhs_dilation: Any, batch_group_count: int) -> bool:
    """cuDNN takes 2-D and 3-D float convolutions with symmetric, non-negative padding and
    no input dilation; the im2col path takes the rest."""
    return (is_gpu_array(lhs) and lhs.ndim in (4, 5) and lhs.dtype.name in ("float32", "float64")
            and batch_group_count == 1 and all(d == 1 for d in lhs_dilation)
            and all(lo == hi >= 0 for lo, hi in padding) and lhs.size > 0)


def _conv(lhs: Any, rhs: Any, *, window_strides: tuple[int, ...], padding: Any,
          lhs_dilation: tuple[int, ...], rhs_dilation: tuple[int, ...],
          dimension_numbers: Any, feature_group_count: int, batch_group_count: int) -> Any:
    params = dict(window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
                  rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
                  feature_group_count=feature_group_count, batch_group_count=batch_group_count)
    if _cudnn_fits(lhs, padding, lhs_dilation, batch_group_count):
        cudnn = _cudnn()
        if cudnn is not None:
            return _conv_cudnn(cudnn, lhs, rhs, **params)
    return conv_im2col(lhs, rhs, xp=cp, windows=_windows, **params)


def _conv_cudnn(cudnn: Any, lhs: Any, rhs: Any, *, window_strides: tuple[int, ...],
                padding: Any, lhs_dilation: tuple[int, ...], rhs_dilation: tuple[int, ...],
                dimension_numbers: Any, feature_group_count: int, batch_group_count: int
                ) -> Any:
    """cuDNN's forward convolution on NC*spatial / OI*spatial contiguous copies. On Ampere
    and later, cuDNN may use TF32 tensor cores for float32 (about 1e-3 relative error)."""
    lspec, rspec, ospec = dimension_numbers
    x = cp.ascontiguousarray(cp.transpose(lhs, lspec))
    w = cp.ascontiguousarray(cp.transpose(rhs, rspec))
    out_sp = [_out_size(n, k, s, p, 1, d) for n, k, s, p, d in zip(
        x.shape[2:], w.shape[2:], window_strides, padding, rhs_dilation)]
    y = cp.empty((x.shape[0], w.shape[0], *out_sp), lhs.dtype)
    if y.size:
        cudnn.convolution_forward(x, w, None, y, tuple(lo for lo, _ in padding),
                                  tuple(window_strides), tuple(rhs_dilation),
                                  feature_group_count, auto_tune=False, tensor_core="never")
    return cp.transpose(y, np.argsort(ospec))


def _window_params(params: dict[str, Any]) -> tuple[Any, ...]:
    return (params["window_dimensions"], params["window_strides"], params["padding"],
            params["base_dilation"], params["window_dilation"])


def _reduce_window(kind: str) -> Callable[..., Any]:
    def impl(x: Any, **params: Any) -> Any:
        w = _windows(x, *_window_params(params), _window_identity(x.dtype, kind))
        axes = tuple(range(x.ndim, 2 * x.ndim))
        if kind == "sum":
            return cp.sum(w, axis=axes, dtype=x.dtype)
        return _extremum(kind, kind == "min")(w, axes)
    return impl


def _window_choice(x: Any, kind: str, params: dict[str, Any]) -> Any:
    """Flat in-window index of the first extremum of each window of x."""
    w = _windows(x, *_window_params(params), _window_identity(x.dtype, kind))
    flat = w.reshape(*w.shape[:x.ndim], -1)
    return (cp.argmax if kind == "max" else cp.argmin)(flat, axis=-1)


def _window_gather(t: Any, x: Any, kind: str, **params: Any) -> Any:
    idx = _window_choice(x, kind, params)
    tw = _windows(t, *_window_params(params), 0)
    tw = tw.reshape(*tw.shape[:t.ndim], -1)
    return cp.take_along_axis(tw, idx[..., None], axis=-1)[..., 0]


def _window_scatter(ct: Any, x: Any, kind: str, **params: Any) -> Any:
    """Add each window's cotangent at its chosen position; loops over window offsets."""
    idx = _window_choice(x, kind, params)
    _, _, padding, bdil, _ = _window_params(params)
    acc = cp.zeros([_dilated(n, d) + lo + hi for n, d, (lo, hi) in zip(x.shape, bdil, padding)],
                   ct.dtype)
    for k, sl in _offset_slices(params, ct.shape):
        acc[sl] += cp.where(idx == k, ct, cp.zeros((), ct.dtype))
    return _crop_dilated(acc, x.shape, padding, bdil, cp)


# ---------------------------------------------------------------------------- sort, loops

def _sort(*operands: Any, dimension: int, is_stable: bool, num_keys: int) -> list[Any]:
    """Lexicographic on the first `num_keys` operands by stable sorts, last key first."""
    keys = operands[:num_keys]
    perm = cp.argsort(keys[-1], axis=dimension)
    for key in reversed(keys[:-1]):
        ranked = cp.take_along_axis(key, perm, axis=dimension)
        perm = cp.take_along_axis(perm, cp.argsort(ranked, axis=dimension), axis=dimension)
    return [cp.take_along_axis(op, perm, axis=dimension) for op in operands]


def _jit_call(*args: Any, jaxpr: ClosedJaxpr, name: str) -> list[Any]:
    from fnad.jit.executable import compile_jaxpr
    return compile_jaxpr(jaxpr, "cupy", name=name)(*args)


def _on_host(prim: str) -> Callable[..., Any]:
    """The NumPy impl's (small) result copied to the device."""
    def impl(*args: Any, **params: Any) -> Any:
        return cp.asarray(_all_primitives()[prim].impls["numpy"](*args, **params))
    return impl


# ---------------------------------------------------------------------------- the table

_ELEMENTWISE_AS_IS = (
    "abs acos acosh add and asin asinh atan atan2 atanh cbrt ceil clamp cos cosh div eq exp "
    "exp2 expm1 floor ge gt is_finite le log log1p logistic lt max min mul ne neg nextafter "
    "not or pow rem round rsqrt sign sin sinh sqrt square sub tan tanh xor").split()
_OTHERS_AS_IS = (
    "broadcast_in_dim reshape transpose concatenate slice dynamic_slice cond while_loop scan "
    "custom_jvp_call custom_vjp_call custom_vjp_bwd checkpoint stop_gradient debug_print "
    "fusion").split()

IMPLS: dict[str, Any] = {
    **dict.fromkeys(_ELEMENTWISE_AS_IS + _OTHERS_AS_IS, NUMPY),
    **dict.fromkeys(["psum", "pmean", "pmax", "pmin", "all_gather"], OWN),
    "integer_pow": _integer_pow, "convert_element_type": _convert, "select_n": _select_n,
    "iota": _iota, "axis_index": _on_host("axis_index"),
    "shift_left": _shift("left_shift", "u"), "shift_right_logical": _shift("right_shift", "u"),
    "shift_right_arithmetic": _shift("right_shift", "i"),
    "population_count": _population_count,
    "erf": _special("erf"), "erfc": _special("erfc"), "erf_inv": _special("erfinv"),
    "lgamma": _special("gammaln"), "digamma": lambda x: _polygamma(x, 0),
    "polygamma": _polygamma,
    "squeeze": _squeeze, "expand_dims": _expand_dims, "rev": _rev, "pad": _pad,
    "dynamic_update_slice": _dynamic_update_slice, "gather": _gather,
    "scatter": _scatter(None), "scatter_add": _scatter("add"), "scatter_mul": _scatter("mul"),
    "scatter_max": _scatter("max"), "scatter_min": _scatter("min"),
    "reduce_sum": _reduce("sum"), "reduce_prod": _reduce("prod"), "reduce_and": _reduce("all"),
    "reduce_or": _reduce("any"), "reduce_max": _extremum("max", False),
    "reduce_min": _extremum("min", True),
    "argmax": _arg_reducer("argmax"), "argmin": _arg_reducer("argmin"),
    "cumsum": _cumulative("cumsum"), "cumprod": _cumulative("cumprod"),
    "cummax": _cumulative("cummax"), "cummin": _cumulative("cummin"),
    "dot_general": _dot_general, "conv_general_dilated": _conv,
    "reduce_window_sum": _reduce_window("sum"), "reduce_window_max": _reduce_window("max"),
    "reduce_window_min": _reduce_window("min"),
    "window_select_gather": _window_gather, "window_select_scatter": _window_scatter,
    "sort": _sort, "jit_call": _jit_call,
    **dict.fromkeys(special.HOST_PRIMITIVES, OWN),  # their impls copy through the host
}

def _all_primitives() -> dict[str, Primitive]:
    """Every primitive fnad defines, by name (they register themselves)."""
    return fnad_primitives()


def impl_for(prim: Primitive) -> Callable[..., Any] | None:
    """The function `register` installs as `prim.impls["cupy"]` (None for OWN ones)."""
    how = IMPLS.get(prim.name)
    if how is None:
        raise KeyError(f"the CuPy backend has no decision for the primitive '{prim.name}': "
                       "add it to fnad.backends.cupy_backend.IMPLS")
    if how == OWN:
        return None
    fn = prim.impls["numpy"] if how == NUMPY else how

    @functools.wraps(fn)
    def impl(*args: Any, **params: Any) -> Any:
        # NumPy operands (weak scalars, jaxpr literals and constants) move to the device, so
        # the work runs there and every result is a CuPy array
        return fn(*[cp.asarray(a) if isinstance(a, (np.ndarray, np.generic)) else a
                    for a in args], **params)

    return impl


def register() -> None:
    """Import CuPy and install every primitive's CuPy impl (idempotent)."""
    global cp
    if cp is not None:
        return
    cupy = require_gpu("the CuPy backend")
    impls = {prim: impl_for(prim) for prim in _all_primitives().values()}
    cp = cupy
    for prim, fn in impls.items():
        if fn is not None and "cupy" not in prim.impls:
            prim.def_impl(fn, "cupy")


# ---------------------------------------------------------------------------- kernels

BLOCK = 256          # threads per block
MAX_BLOCKS = 65535   # the grid-stride loop covers the rest
OPTIONS = ("--std=c++14",)


def kernel_source(kernel: Kernel) -> tuple[str, str]:
    """(function name, CUDA source) of a fused kernel, as `compile_cuda` compiles it."""
    name = kernel.name()
    return name, codegen_cuda.render(kernel, name)


def launch_args(kernel: Kernel, shape: Sequence[int], inputs: Sequence[Any],
                strides: Sequence[Sequence[int] | None], outputs: Sequence[Any]
                ) -> tuple[Any, ...]:
    """The kernel's arguments: arrays as they are, sizes and strides as `numpy.int64`
    (the kernel's `long long`), in `kernels.parameters` order."""
    return tuple(np.int64(a) if isinstance(a, (int, np.integer)) else a
                 for a in arguments(kernel, shape, inputs, strides, outputs, lambda x: x))


def grid_size(n: int) -> int:
    """Blocks for n threads' worth of work: ceil(n / BLOCK), at most MAX_BLOCKS."""
    return max(1, min(-(-int(n) // BLOCK), MAX_BLOCKS))


_MODULES = Cache()  # (device, source hash) -> RawKernel


class CudaKernel:
    """A fused kernel compiled with NVRTC through `cupy.RawModule`, per device, and cached
    by source hash (CuPy also caches the binary on disk)."""

    def __init__(self, kernel: Kernel):
        self.kernel = kernel
        self.name, self.source = kernel_source(kernel)
        self.key = source_hash(self.source, *OPTIONS)

    def function(self) -> Any:
        device = cp.cuda.runtime.getDevice()
        fn = _MODULES.get((device, self.key))
        if fn is None:
            try:
                module = cp.RawModule(code=self.source, options=OPTIONS)
                fn = module.get_function(self.name)  # compiles (NVRTC) and loads
            except importlib.import_module("cupy.cuda.compiler").CompileException as e:
                raise KernelCompileError(f"NVRTC (through CuPy) failed to compile a generated "
                                         f"kernel:\n{e}\n--- source ---\n{self.source}") from e
            _MODULES.put((device, self.key), fn)
        return fn

    def __call__(self, shape: Sequence[int], inputs: Sequence[Any],
                 strides: Sequence[Sequence[int] | None], outputs: Sequence[Any]) -> None:
        """Launch over the iteration space `shape` (see `c_backend.CompiledKernel`)."""
        args = launch_args(self.kernel, shape, inputs, strides, outputs)
        if args[0] > 0:
            self.function()((grid_size(args[0]),), (BLOCK,), args)

    def launcher(self, shape: Sequence[int], strides: Sequence[Sequence[int] | None]
                 ) -> Callable[[Sequence[Any], Sequence[Any]], None]:
        """`launch(inputs, outputs)` for arrays of this plan's shapes and strides."""
        return lambda inputs, outputs: self(shape, inputs, strides, outputs)


def compile_cuda(kernel: Kernel) -> CudaKernel:
    """The launcher of a fused kernel: `(shape, inputs, strides, outputs) -> None`."""
    return _LAUNCHERS.get_or_make(kernel, lambda: CudaKernel(kernel))


_LAUNCHERS = Cache()


# ---------------------------------------------------------------------------- lowering

def lower(closed: ClosedJaxpr, donated: Sequence[bool], name: str,
          compile_sub: Callable[[ClosedJaxpr], Any]) -> Any:
    """Fuse elementwise regions into CUDA kernels; lower the rest like the NumPy backend,
    calling the CuPy impls. Constants, and the literals fused kernels read, move to the
    device once, as leading inputs; NumPy arguments are moved at each call. Donation is
    not used on this backend."""
    register()
    return lower_with(closed, name, compile_sub, compile_cuda)


def lower_with(closed: ClosedJaxpr, name: str, compile_sub: Callable[[ClosedJaxpr], Any],
               compile_kernel: Callable[[Kernel], Any]) -> Any:
    """`lower` with the fused kernels compiled by `compile_kernel` (tests run this path on
    CPUs with NumPy standing in for CuPy and C kernels for CUDA ones)."""
    from fnad.backends import numpy_backend
    from fnad.jit.fusion import describe, fuse

    jaxpr = closed.jaxpr
    fused = fuse(closed, compile_kernel, min_work=0)  # a GPU launch is cheap: fuse it all
    # constants go to the device once, as leading arguments (fused kernels hold their
    # literals in their own code)
    lead, values = list(jaxpr.constvars), [cp.asarray(c) for c in closed.consts]
    flat = ClosedJaxpr(Jaxpr([], [*lead, *jaxpr.invars], fused.eqns, jaxpr.outvars), [])
    lowered = numpy_backend.lower(flat, (), name, compile_sub, impl_backend="cupy")
    run = lowered.fn

    def fn(*args: Any) -> list[Any]:
        args = [a if is_gpu_array(a) else cp.asarray(a) for a in args]
        return [o if is_gpu_array(o) else cp.asarray(o) for o in run(*values, *args)]

    lowered.fn = fn
    lowered.stats.update(constants=len(closed.consts), fusion=describe(closed, fused),
                         constant_bytes=sum(int(c.nbytes) for c in values))
    return lowered


__all__ = ["IMPLS", "NUMPY", "OWN", "compile_cuda", "grid_size", "impl_for", "kernel_source",
           "launch_args", "lower", "lower_with", "register"]
