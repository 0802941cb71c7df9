"""Convolutions and windowed reductions: `conv_general_dilated` and `reduce_window_*`.

Both evaluate with im2col (a strided window view, then one matmul or reduction). Their
transposes are convolutions / window sums again, with strides and dilations swapped, so
every derivative stays inside these primitives and composes to any order.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fnad.core.errors import (
    ArgumentError,
    ArgumentTypeError,
    DTypeError,
    ShapeError,
    check_one_device,
    user_line,
)
from fnad.core.ir import ShapedArray, get_aval
from fnad.core.primitive import CLoop, Primitive, Zero, c_source, c_type
from fnad.core.quiet import quiet_enter, quiet_exit
from fnad.device import array_module, is_gpu_array
from fnad.lax._rules import NUMBER, check_dtypes, defjvp, is_undefined
from fnad.lax.elementwise import asarray_like, convert_element_type
from fnad.lax.reduction import _extremum_xp

Pairs = tuple[tuple[int, int], ...]
ConvDimensionNumbers = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


# ------------------------------------------------------------------ window arithmetic

def _dilated(n: int, d: int) -> int:
    return 0 if n == 0 else (n - 1) * d + 1


def _out_size(n: int, k: int, stride: int, pad: tuple[int, int], base_dil: int,
              win_dil: int) -> int:
    padded = _dilated(n, base_dil) + pad[0] + pad[1]
    eff = _dilated(k, win_dil)
    return 0 if padded < eff or eff == 0 else (padded - eff) // stride + 1


def padtype_to_pads(in_shape: Sequence[int], window_shape: Sequence[int],
                    window_strides: Sequence[int], padding: str | Sequence[Sequence[int]]
                    ) -> Pairs:
    """Explicit (low, high) pairs for 'SAME' (output size ceil(n / stride); an odd total
    puts the extra element at the high end, 'SAME_LOWER' at the low end), 'VALID' or
    given pairs; `window_shape` holds the dilated window sizes."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return tuple((0, 0) for _ in in_shape)
        if mode not in ("SAME", "SAME_LOWER"):
            raise ArgumentError(f"padding must be 'SAME', 'SAME_LOWER', 'VALID' or (low, high) "
                                f"pairs, got {padding!r}")
        pads = []
        for n, k, s in zip(in_shape, window_shape, window_strides):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            small, large = total // 2, total - total // 2
            pads.append((small, large) if mode == "SAME" else (large, small))
        return tuple(pads)
    pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
    if len(pairs) != len(in_shape):
        raise ShapeError(f"padding {padding} needs one (low, high) pair per spatial axis "
                         f"({len(in_shape)})")
    return pairs


def _transpose_padding(n: int, k: int, stride: int, pad: tuple[int, int], base_dil: int,
                       win_dil: int) -> tuple[int, int]:
    """Padding of the window op that maps an output cotangent back onto the input: the
    (flipped) window slides over the stride-dilated cotangent with stride `base_dil`."""
    out = _out_size(n, k, stride, pad, base_dil, win_dil)
    eff = _dilated(k, win_dil)
    lo = eff - 1 - pad[0]
    return lo, (n - 1) * base_dil + eff - _dilated(out, stride) - lo


def _dilate_pad(x: np.ndarray, padding: Pairs, dilation: Sequence[int], fill: Any
                ) -> np.ndarray:
    """`x` with `dilation - 1` fill values between elements, then padded (negative
    padding crops)."""
    if any(d > 1 for d in dilation):
        out = np.full([_dilated(n, d) for n, d in zip(x.shape, dilation)], fill, x.dtype)
        out[tuple(slice(None, None, d) for d in dilation)] = x
        x = out
    if any(lo > 0 or hi > 0 for lo, hi in padding):
        x = np.pad(x, [(max(lo, 0), max(hi, 0)) for lo, hi in padding],
                   constant_values=fill)
    if any(lo < 0 or hi < 0 for lo, hi in padding):
        x = x[tuple(slice(max(-lo, 0), max(max(-lo, 0), n - max(-hi, 0)))
                    for (lo, hi), n in zip(padding, x.shape))]
    return x


def _windows(x: np.ndarray, window: Sequence[int], strides: Sequence[int], padding: Pairs,
             base_dilation: Sequence[int], window_dilation: Sequence[int], fill: Any
             ) -> np.ndarray:
    """A view of shape (*out_shape, *window): every window of the padded, dilated `x`."""
    out = [_out_size(*a) for a in zip(x.shape, window, strides, padding, base_dilation,
                                      window_dilation)]
    if 0 in out or 0 in window:
        return np.zeros((*out, *window), x.dtype)
    xp = _dilate_pad(x, padding, base_dilation, fill)
    eff = [_dilated(k, d) for k, d in zip(window, window_dilation)]
    view = sliding_window_view(xp, eff)
    return view[tuple(slice(None, None, s) for s in strides)
                + tuple(slice(None, None, d) for d in window_dilation)]


# ------------------------------------------------------------------ conv_general_dilated

def conv_dimension_numbers(lhs_ndim: int, rhs_ndim: int, dimension_numbers: Any
                           ) -> ConvDimensionNumbers:
    """(lhs_spec, rhs_spec, out_spec) as axis tuples: (batch, feature, *spatial),
    (out feature, in feature, *spatial), (batch, feature, *spatial). Strings like
    ("NHWC", "HWIO", "NHWC") order the spatial axes as the kernel string does."""
    if lhs_ndim != rhs_ndim or lhs_ndim < 2:
        raise ShapeError(f"lhs and rhs need the same rank >= 2, got {lhs_ndim} and {rhs_ndim}")
    if dimension_numbers is None:
        return (tuple(range(lhs_ndim)),) * 3
    lhs, rhs, out = dimension_numbers
    if isinstance(lhs, str):
        if not (isinstance(rhs, str) and isinstance(out, str)) or \
                any(len(s) != lhs_ndim for s in (lhs, rhs, out)):
            raise ShapeError(f"dimension_numbers {dimension_numbers} must be three strings of "
                             f"length {lhs_ndim}")
        spatial = [c for c in rhs if c not in "OI"]
        try:
            specs = ((lhs.index("N"), lhs.index("C"), *(lhs.index(c) for c in spatial)),
                     (rhs.index("O"), rhs.index("I"), *(rhs.index(c) for c in spatial)),
                     (out.index("N"), out.index("C"), *(out.index(c) for c in spatial)))
        except ValueError:
            raise ShapeError(f"dimension_numbers {dimension_numbers}: lhs/out need 'N' and "
                             "'C', rhs 'O' and 'I', and all three the same spatial letters"
                             ) from None
    else:
        specs = tuple(tuple(int(d) for d in s) for s in (lhs, rhs, out))
    for s in specs:
        if sorted(s) != list(range(lhs_ndim)):
            raise ShapeError(f"dimension_numbers {dimension_numbers} are not permutations of "
                             f"{lhs_ndim} axes")
    return specs  # type: ignore[return-value]


conv_general_dilated_p = Primitive("conv_general_dilated")
_MAX_TAPS = 32  # im2col tap by tap (one strided copy each) up to this many taps


def conv_im2col(lhs: Any, rhs: Any, *, window_strides: tuple[int, ...], padding: Pairs,
                lhs_dilation: tuple[int, ...], rhs_dilation: tuple[int, ...],
                dimension_numbers: ConvDimensionNumbers, feature_group_count: int,
                batch_group_count: int, xp: Any = np,
                windows: Callable[..., Any] | None = None,
                loop: Callable[..., None] | None = None) -> Any:
    """The convolution as im2col + one batched GEMM per group, in the array module `xp`
    (NumPy, or CuPy with its own `windows` view function); NumPy's ungrouped ones tap by
    tap (`_taps_plan`), where `loop` can run the tap loops (see `_conv_loops`)."""
    windows = windows or _windows
    lspec, rspec, ospec = dimension_numbers
    x, w = xp.transpose(lhs, lspec), xp.transpose(rhs, rspec)  # N C *sp, O I *k (views)
    (n, c), (o, ci), ksp = x.shape[:2], w.shape[:2], w.shape[2:]
    b, g, nsp = batch_group_count, feature_group_count, len(ksp)
    h = b * g
    plan = _taps_plan(x.shape, w.shape, window_strides, padding, lhs_dilation, rhs_dilation)
    if h == 1 and xp is np and plan == "products":
        return _conv_by_products(x, w, window_strides, padding, rhs_dilation, ospec,
                                 loop).astype(lhs.dtype, copy=False)
    if h == 1 and xp is np and plan is not None:
        return _conv_by_taps(x, w, window_strides, padding, lhs_dilation, rhs_dilation,
                             ospec, plan == "outputs", loop).astype(lhs.dtype, copy=False)
    win = windows(x, (1, 1, *ksp), (1, 1, *window_strides), ((0, 0), (0, 0), *padding),
                  (1, 1, *lhs_dilation), (1, 1, *rhs_dilation), 0)
    win = win[(slice(None),) * (2 + nsp) + (0, 0)]  # drop the unit batch/feature window
    osp = win.shape[2:2 + nsp]
    # one copy (im2col): rows (group, batch, out position), columns (in feature, tap), with
    # the taps or the features innermost, whichever is contiguous in the input's memory
    win = win.reshape(b, n // b, g, c // g, *win.shape[2:])
    sp_axes, k_axes = list(range(4, 4 + nsp)), list(range(4 + nsp, 4 + 2 * nsp))
    chan_last = nsp > 0 and abs(x.strides[1]) < abs(x.strides[-1])
    cols_order = [*k_axes, 3] if chan_last else [3, *k_axes]
    m, k = int(np.prod(osp, dtype=np.int64)), int(np.prod(ksp, dtype=np.int64))
    cols = win.transpose(0, 2, 1, *sp_axes, *cols_order).reshape(h, n // b * m, ci * k)
    w = w.reshape(h, o // h, ci, *ksp)
    kern_order = [*range(3, 3 + nsp), 2] if chan_last else [2, *range(3, 3 + nsp)]
    kern = w.transpose(0, *kern_order, 1).reshape(h, ci * k, o // h)
    out = xp.matmul(cols, kern).reshape(h, n // b, *osp, o // h)
    if h > 1:
        out = xp.moveaxis(out, 0, -2).reshape(n // b, *osp, o)
    else:
        out = out.reshape(n // b, *osp, o)
    std = xp.moveaxis(out, -1, 1)  # N O *sp
    # one GEMM for the whole batch, then one copy into the output layout: later kernels
    # then read it densely (per-image GEMMs writing it directly are slower)
    return xp.ascontiguousarray(xp.transpose(std, np.argsort(ospec)), dtype=lhs.dtype)


def _taps_plan(x_shape: Sequence[int], w_shape: Sequence[int], strides: Sequence[int],
               padding: Pairs, lhs_dilation: Sequence[int], rhs_dilation: Sequence[int]
               ) -> str | None:
    """How NumPy runs an ungrouped convolution of N C *sp by O I *k: "taps" (im2col tap by
    tap), "outputs" (im2col by output position: a kernel of many taps, a weight gradient's
    shape), "products" (each tap's products summed per output: fewer output than input
    features, as in an input gradient, where im2col would copy the larger operand once
    per tap), or None (im2col of window views)."""
    ksp, sp = w_shape[2:], x_shape[2:]
    osp = [_out_size(*a) for a in zip(sp, ksp, strides, padding, lhs_dilation, rhs_dilation)]
    taps, positions, inputs = math.prod(ksp), math.prod(osp), math.prod(sp)
    if not sp or min(taps, positions) > _MAX_TAPS:
        return None
    if taps > _MAX_TAPS:
        return "outputs"
    if (all(d == 1 for d in lhs_dilation) and w_shape[0] * inputs < w_shape[1] * positions
            and 2 * inputs <= 3 * positions):
        return "products"
    return "taps"


def _conv_by_products(x: np.ndarray, w: np.ndarray, strides: Sequence[int], padding: Pairs,
                      rhs_dilation: Sequence[int], ospec: Sequence[int],
                      loop: Callable[..., None] | None = None) -> np.ndarray:
    """Every tap's products with every input position (one GEMM per image: taps x O by
    C, with C by positions), then each output position sums its taps' products, tap after
    tap (shifted strided views)."""
    (n, c), o, ksp, sp = x.shape[:2], w.shape[0], w.shape[2:], x.shape[2:]
    osp = [_out_size(*a, 1, d) for a, d in zip(zip(sp, ksp, strides, padding), rhs_dilation)]
    taps = math.prod(ksp)
    per_tap = np.moveaxis(w.reshape(o, c, taps), 2, 0).reshape(taps * o, c)
    y = np.matmul(per_tap, x.reshape(n, c, math.prod(sp))).reshape(n, taps, o, *sp)
    out = np.zeros((n, o, *osp), y.dtype)
    lows = [lo for lo, _ in padding]
    if loop is not None and 0 not in osp:
        e = y.itemsize
        loop(y, out, (n, o), (y.strides[0] // e, y.strides[2] // e, y.strides[1] // e),
             (out.strides[0] // e, out.strides[1] // e, 0), ksp, rhs_dilation, osp, strides,
             lows)
    elif 0 not in osp:
        for t, k in enumerate(np.ndindex(*ksp)):
            spans = [_tap_span(*a) for a in zip(k, rhs_dilation, lows, strides, sp, osp)]
            if all(p0 < p1 for (p0, p1), _ in spans):
                out[(..., *(slice(*p) for p, _ in spans))] += y[
                    (slice(None), t, slice(None), *(q for _, q in spans))]
    return np.ascontiguousarray(np.transpose(out, np.argsort(ospec)))


def _tap_span(k: int, dilation: int, lo: int, stride: int, size: int, out: int
              ) -> tuple[tuple[int, int], slice]:
    """Along one axis, for kernel offset k: the output positions [p0, p1) whose input
    position p * stride + k * dilation - lo lies in [0, size), and the slice of those."""
    off = k * dilation - lo
    p0 = min(out, max(0, -(off // stride) if off < 0 else 0))
    p1 = max(p0, min(out, (size - 1 - off) // stride + 1)) if size - 1 - off >= 0 else p0
    q0 = p0 * stride + off
    return (p0, p1), slice(q0, q0 + (p1 - p0 - 1) * stride + 1, stride)


def _conv_by_taps(x: np.ndarray, w: np.ndarray, strides: Sequence[int], padding: Pairs,
                  lhs_dilation: Sequence[int], rhs_dilation: Sequence[int],
                  ospec: Sequence[int], by_output: bool = False,
                  loop: Callable[..., None] | None = None) -> np.ndarray:
    """im2col one tap at a time, then GEMMs over the whole batch's columns. Each tap is one
    large strided copy (a window view copied whole moves a few elements per inner loop).
    The taps are the kernel's offsets, for small kernels; or (`by_output`) the output
    positions, for a large kernel and a small output, which is the shape of a small-kernel
    convolution's weight gradient: its columns are the forward's, built the same way, and
    one GEMM contracts them over batch and positions. `loop` writes the same columns from
    the unpadded x (the C backend's loop nest)."""
    (n, c), o, ksp = x.shape[:2], w.shape[0], w.shape[2:]
    osp = [_out_size(*a) for a in zip(x.shape[2:], ksp, strides, padding, lhs_dilation,
                                       rhs_dilation)]
    # the taps loop over `outer` positions; every tap copies `inner` positions
    outer, inner = (osp, ksp) if by_output else (ksp, osp)
    outer_step, inner_step = (strides, rhs_dilation) if by_output else (rhs_dilation, strides)
    taps, size = math.prod(outer), math.prod(inner)
    # columns by tap (weight gradient: rows of batch x tap, contracted whole) or by image
    # (each image's (tap x c, positions) block contiguous for its GEMM)
    cols = np.empty((taps, n, c, *inner) if by_output else (n, taps, c, *inner), x.dtype)
    if loop is not None and 0 not in osp and 0 not in ksp:
        e = x.itemsize
        t_at, n_at, c_at = (0, 1, 2) if by_output else (1, 0, 2)
        loop(x, cols, (n, c), (x.strides[0] // e, x.strides[1] // e, 0),
             (cols.strides[n_at] // e, cols.strides[c_at] // e, cols.strides[t_at] // e),
             outer, outer_step, inner, inner_step, [lo for lo, _ in padding])
    elif 0 not in osp and 0 not in ksp:
        padded = _dilate_pad(x, ((0, 0), (0, 0), *padding), (1, 1, *lhs_dilation), 0)
        for t, offset in enumerate(np.ndindex(*outer)):
            tap = padded[(slice(None), slice(None), *(
                slice(k * a, k * a + (m - 1) * b + 1, b)
                for k, a, m, b in zip(offset, outer_step, inner, inner_step)))]
            if by_output:
                cols[t] = tap
            else:
                cols[:, t] = tap
    nsp = len(ksp)
    if by_output and 4 * taps * n < size:  # per c: (taps x n, kernel) @ (kernel, o), summed:
        # few rows, where a single GEMM would first copy w into (o, c x kernel) order
        out = np.matmul(cols.reshape(taps * n, c, size).transpose(1, 0, 2),
                        w.reshape(o, c, size).transpose(1, 2, 0)).sum(0)
        std = np.moveaxis(out.reshape(*osp, n, o), (nsp, nsp + 1), (0, 1))
    elif by_output:  # (taps x n, c x kernel) @ (c x kernel, o) -> (*osp, n, o)
        kern = w.reshape(o, c * size).T
        out = np.matmul(cols.reshape(taps * n, c * size), kern)
        std = np.moveaxis(out.reshape(*osp, n, o), (nsp, nsp + 1), (0, 1))
    else:  # (o, tap x c) @ (tap x c, positions) for every image: N O *sp directly,
        # without a copy of the output
        kern = np.moveaxis(w, 1, -1).reshape(o, taps * c)
        std = np.matmul(kern, cols.reshape(n, taps * c, size)).reshape(n, o, *osp)
    return np.ascontiguousarray(np.transpose(std, np.argsort(ospec)))


def _conv_impl(lhs: np.ndarray, rhs: np.ndarray, **params: Any) -> np.ndarray:
    token = quiet_enter()  # inf * 0, inf - inf in the products: NaN is the answer, silently
    try:
        return conv_im2col(lhs, rhs, **params)
    finally:
        quiet_exit(token)


conv_general_dilated_p.def_impl(_conv_impl)


@conv_general_dilated_p.def_abstract_eval
def _conv_abstract_eval(lhs: ShapedArray, rhs: ShapedArray, *, window_strides: tuple[int, ...],
                        padding: Pairs, lhs_dilation: tuple[int, ...],
                        rhs_dilation: tuple[int, ...], dimension_numbers: ConvDimensionNumbers,
                        feature_group_count: int, batch_group_count: int) -> ShapedArray:
    check_dtypes([lhs, rhs], NUMBER)
    lspec, rspec, ospec = conv_dimension_numbers(lhs.ndim, rhs.ndim, dimension_numbers)
    nsp = lhs.ndim - 2
    for name, v in (("window_strides", window_strides), ("padding", padding),
                    ("lhs_dilation", lhs_dilation), ("rhs_dilation", rhs_dilation)):
        if len(v) != nsp:
            raise ShapeError(f"{name} {v} needs one entry per spatial axis ({nsp})")
    if any(s < 1 for s in (*window_strides, *lhs_dilation, *rhs_dilation)):
        raise ShapeError("window_strides and dilations must be >= 1")
    g, b = feature_group_count, batch_group_count
    n, c = lhs.shape[lspec[0]], lhs.shape[lspec[1]]
    o, ci = rhs.shape[rspec[0]], rhs.shape[rspec[1]]
    if g < 1 or b < 1 or (g > 1 and b > 1):
        raise ShapeError(f"feature_group_count {g} and batch_group_count {b} must be >= 1, "
                         "and at most one of them > 1")
    if c != ci * g:
        raise ShapeError(f"lhs has {c} input features but rhs expects {ci} x "
                         f"feature_group_count {g} = {ci * g}")
    if o % g or o % b or n % b:
        raise ShapeError(f"rhs output features ({o}) must divide by feature_group_count {g} "
                         f"and batch_group_count {b}, and the lhs batch ({n}) by the latter")
    osp = [_out_size(lhs.shape[ld], rhs.shape[rd], s, p, dl, dr) for ld, rd, s, p, dl, dr in
           zip(lspec[2:], rspec[2:], window_strides, padding, lhs_dilation, rhs_dilation)]
    std = (n // b, o, *osp)
    return ShapedArray(tuple(std[i] for i in np.argsort(ospec)), lhs.dtype)


def _regroup(x: Any, src: int, dst: int, groups: int) -> Any:
    """Move the major `groups` factor of axis `src` into axis `dst` (as its major factor)."""
    from fnad.lax.structural import reshape, transpose
    if groups == 1:
        return x
    shape = list(get_aval(x).shape)
    split = [*shape[:src], groups, shape[src] // groups, *shape[src + 1:]]
    order = [i for i in range(len(split)) if i != src]
    at = order.index(dst + (dst > src))
    order.insert(at, src)
    shape[src] //= groups
    shape[dst] *= groups
    return reshape(transpose(reshape(x, split), order), shape)


def _conv_transpose_lhs(ct: Any, rhs: Any, lhs_aval: ShapedArray, *, window_strides: Any,
                        padding: Pairs, lhs_dilation: Any, rhs_dilation: Any,
                        dimension_numbers: ConvDimensionNumbers, feature_group_count: int,
                        batch_group_count: int) -> Any:
    """A conv of the cotangent with the flipped kernel, its in/out features swapped;
    strides become lhs dilation and vice versa. Batch groups run as feature groups and
    are folded back into the batch afterwards."""
    from fnad.lax.structural import rev
    lspec, rspec, ospec = dimension_numbers
    groups = feature_group_count * batch_group_count
    kernel = rev(_regroup(rhs, rspec[0], rspec[1], groups), rspec[2:])
    rhs_shape = get_aval(rhs).shape
    pads = tuple(_transpose_padding(lhs_aval.shape[ld], rhs_shape[rd], s, p, dl, dr)
                 for ld, rd, s, p, dl, dr in zip(lspec[2:], rspec[2:], window_strides, padding,
                                                 lhs_dilation, rhs_dilation))
    out = conv_general_dilated_p.bind(
        ct, kernel, window_strides=lhs_dilation, padding=pads, lhs_dilation=window_strides,
        rhs_dilation=rhs_dilation, dimension_numbers=(ospec, (rspec[1], rspec[0], *rspec[2:]),
                                                      lspec),
        feature_group_count=groups, batch_group_count=1)
    return _regroup(out, lspec[1], lspec[0], batch_group_count)


def _conv_transpose_rhs(ct: Any, lhs: Any, rhs_aval: ShapedArray, *, window_strides: Any,
                        padding: Pairs, lhs_dilation: Any, rhs_dilation: Any,
                        dimension_numbers: ConvDimensionNumbers, feature_group_count: int,
                        batch_group_count: int) -> Any:
    """A conv of lhs (batch and feature roles swapped) with the cotangent as kernel: the
    kernel dilation is the forward stride and the stride the forward kernel dilation.
    Feature groups become batch groups and vice versa."""
    lspec, rspec, ospec = dimension_numbers
    lhs_shape = get_aval(lhs).shape
    pads = []
    for ld, rd, od, s, (lo, hi), dl, dr in zip(lspec[2:], rspec[2:], ospec[2:], window_strides,
                                               padding, lhs_dilation, rhs_dilation):
        padded = _dilated(lhs_shape[ld], dl) + lo + hi
        used = _dilated(get_aval(ct).shape[od], s) + _dilated(rhs_aval.shape[rd], dr) - 1
        pads.append((lo, hi - (padded - used)))
    return conv_general_dilated_p.bind(
        lhs, ct, window_strides=rhs_dilation, padding=tuple(pads), lhs_dilation=lhs_dilation,
        rhs_dilation=window_strides,
        dimension_numbers=((lspec[1], lspec[0], *lspec[2:]), (ospec[1], ospec[0], *ospec[2:]),
                           (rspec[1], rspec[0], *rspec[2:])),
        feature_group_count=batch_group_count, batch_group_count=feature_group_count)


def _conv_transpose(ct: Any, lhs: Any, rhs: Any, **params: Any) -> list[Any]:
    if is_undefined(lhs) and is_undefined(rhs):
        raise ArgumentTypeError("conv_general_dilated is not linear in both operands at once")
    if is_undefined(lhs):
        return [_conv_transpose_lhs(ct, rhs, lhs.aval, **params), None]
    return [None, _conv_transpose_rhs(ct, lhs, rhs.aval, **params)]


def _fold(x: Any, bdim: int, axis: int, groups: int) -> Any:
    """Merge the batch axis `bdim` into `axis` (numbered without it), inside each of the
    axis's `groups` major groups: (groups, rest) becomes (groups, batch, rest)."""
    from fnad.lax.structural import reshape, transpose
    shape = list(get_aval(x).shape)
    size = shape.pop(bdim)
    rest = shape[axis] // groups
    split = [*shape[:axis], groups, rest, *shape[axis + 1:]]
    order = [i + (i >= bdim) for i in range(len(shape))]
    x = reshape(transpose(x, [bdim, *order]), [size, *split])  # batch first, axis split
    perm = list(range(1, len(split) + 1))
    perm.insert(axis + 1, 0)
    shape[axis] *= size
    return reshape(transpose(x, perm), shape)


def _unfold(x: Any, axis: int, size: int, groups: int) -> tuple[Any, int]:
    """Inverse of `_fold`: split the batch back out of `axis`, to a new axis `axis`."""
    from fnad.lax.structural import reshape, transpose
    shape = list(get_aval(x).shape)
    rest = shape[axis] // (groups * size)
    x = reshape(x, [*shape[:axis], groups, size, rest, *shape[axis + 1:]])
    perm = list(range(len(shape) + 2))
    perm.insert(axis, perm.pop(axis + 1))
    shape[axis] //= size
    return reshape(transpose(x, perm), [*shape[:axis], size, *shape[axis:]]), axis


def _conv_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], **params: Any):
    """Fold the vmapped axis into the conv: lhs-only into its batch, rhs-only into the
    output features, both into the features as extra feature groups (or batch groups)."""
    (lhs, rhs), (ld, rd) = vals, dims
    lspec, rspec, ospec = params["dimension_numbers"]
    g, b = params["feature_group_count"], params["batch_group_count"]
    if rd is None:
        out = conv_general_dilated_p.bind(_fold(lhs, ld, lspec[0], b), rhs, **params)
        return _unfold(out, ospec[0], axis_size, 1)
    if ld is None:
        out = conv_general_dilated_p.bind(lhs, _fold(rhs, rd, rspec[0], g * b), **params)
        return _unfold(out, ospec[1], axis_size, g * b)
    rhs = _fold(rhs, rd, rspec[0], 1)
    if b > 1:
        params = {**params, "batch_group_count": b * axis_size}
        lhs = _fold(lhs, ld, lspec[0], 1)
    else:
        params = {**params, "feature_group_count": g * axis_size}
        lhs = _fold(lhs, ld, lspec[1], 1)
    return _unfold(conv_general_dilated_p.bind(lhs, rhs, **params), ospec[1], axis_size, 1)


defjvp(conv_general_dilated_p,
       lambda g, ans, lhs, rhs, **params: conv_general_dilated_p.bind(g, rhs, **params),
       lambda g, ans, lhs, rhs, **params: conv_general_dilated_p.bind(lhs, g, **params))
conv_general_dilated_p.def_transpose(_conv_transpose)
conv_general_dilated_p.def_batch(_conv_batch)


# On the C backend, the tap loops of `_conv_by_taps` and `_conv_by_products` are one C
# loop nest (`_conv_loops`); the products stay BLAS calls.

_TAPS_LOOP = r"""
typedef long long i64;
/* Tap by tap, a row of positions at a time: for every plane pair (a, b) and tap t, the
   source plane src + a * sa + b * sb + t * st read at the `inner` positions
   outer(t) * outer_step + inner * inner_step - lo (per spatial axis), copied to the
   destination plane dst + a * da + b * db + t * dt with 0 where they fall in the
   padding (im2col: x's planes (n, c) into tap t's columns), or added to it, tap after
   tap, where they fall in the source (ADD: each tap's products y[n, t, o] summed into
   the output plane (n, o)). R (the spatial rank), IS (the inner step along the last
   axis) and XL (the source's stride there) are constants of the source. p: A, B, taps,
   sa, sb, st, da, db, dt, then per spatial axis: the source's stride and size, the
   outer size and step, the inner size and step, the low padding. */
void NAME(const T* restrict src, T* restrict dst, const i64* p) {
  const i64 A = p[0], B = p[1], taps = p[2], sa = p[3], sb = p[4], st = p[5], da = p[6],
            db = p[7], dt = p[8];
  const i64 *xs = p + 9, *size = xs + R, *outer = size + R, *ostep = outer + R,
            *inner = ostep + R, *istep = inner + R, *lo = istep + R;
  const i64 L = R - 1, row = inner[L];
  i64 rows = 1;
  for (i64 d = 0; d < L; ++d) rows *= inner[d];
  for (i64 a = 0; a < A; ++a)
    for (i64 b = 0; b < B; ++b)
      for (i64 t = 0; t < taps; ++t) {
        const T* plane = src + a * sa + b * sb + t * st;
        i64 base[R], q[R];
        for (i64 d = L, rest = t; d >= 0; rest /= outer[d], --d) {
          base[d] = rest % outer[d] * ostep[d] - lo[d];
          q[d] = 0;
        }
        const i64 first = base[L];
        i64 ja = first >= 0 ? 0 : (-first + IS - 1) / IS;
        i64 jb = size[L] - 1 - first < 0 ? 0 : (size[L] - 1 - first) / IS + 1;
        ja = ja < row ? ja : row;
        jb = jb < ja ? ja : jb < row ? jb : row;
        T* out = dst + a * da + b * db + t * dt;
        for (i64 r = 0; r < rows; ++r, out += row) {
          i64 valid = 1, at = first * XL;
          for (i64 d = 0; d < L; ++d) {
            const i64 i = base[d] + q[d] * istep[d];
            valid &= i >= 0 && i < size[d];
            at += i * xs[d];
          }
          const i64 hi = valid ? jb : 0, from = valid ? ja : 0;
          const T* in = plane + at;
#if ADD
          for (i64 j = from; j < hi; ++j) out[j] += in[j * IS * XL];
#else
          for (i64 j = 0; j < from; ++j) out[j] = 0;
          for (i64 j = from; j < hi; ++j) out[j] = in[j * IS * XL];
          for (i64 j = hi; j < row; ++j) out[j] = 0;
#endif
          for (i64 d = L - 1; d >= 0 && ++q[d] == inner[d]; --d) q[d] = 0;
        }
      }
}
"""


def _conv_loops(avals: Sequence[ShapedArray], params: dict[str, Any]) -> Any:
    """The C backend's convolution: `conv_im2col` with its tap loops (the columns, or the
    sums of each tap's products) written by a C loop nest, the columns from the unpadded
    operand (no padded copy). The same values in the same order, so the same numbers.
    Ungrouped convolutions without lhs dilation that run tap by tap."""
    lhs, rhs = avals
    lspec, rspec, _ = params["dimension_numbers"]
    x_shape = [lhs.shape[d] for d in lspec]
    w_shape = [rhs.shape[d] for d in rspec]
    plan = _taps_plan(x_shape, w_shape, params["window_strides"], params["padding"],
                      params["lhs_dilation"], params["rhs_dilation"])
    if (lhs.dtype not in (np.float32, np.float64) or plan is None
            or params["feature_group_count"] != 1 or params["batch_group_count"] != 1
            or any(d != 1 for d in params["lhs_dilation"])):
        return None
    elem = [math.prod(lhs.shape[d + 1:]) for d in range(lhs.ndim)]  # C-order strides
    inner_step = params["rhs_dilation"] if plan == "outputs" else params["window_strides"]
    symbol = f"conv_taps_{plan}_{lhs.dtype.name}"
    source = c_source(_TAPS_LOOP, T=c_type(lhs.dtype), NAME=symbol, R=len(x_shape) - 2,
                      IS=inner_step[-1], XL=1 if plan == "products" else elem[lspec[-1]],
                      ADD=int(plan == "products"))

    def run(fn: Any, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        def loop(src: np.ndarray, dst: np.ndarray, planes: Sequence[int],
                 src_strides: Sequence[int], dst_strides: Sequence[int],
                 outer: Sequence[int], outer_step: Sequence[int], inner: Sequence[int],
                 inner_step: Sequence[int], lows: Sequence[int]) -> None:
            nsp = len(outer)
            geometry = np.array([*planes, math.prod(outer), *src_strides, *dst_strides,
                                 *(s // src.itemsize for s in src.strides[-nsp:]),
                                 *src.shape[-nsp:], *outer, *outer_step, *inner,
                                 *inner_step, *lows], np.int64)
            fn(src.ctypes.data, dst.ctypes.data, geometry.ctypes.data)

        return conv_im2col(np.ascontiguousarray(lhs), rhs, **params, loop=loop)

    return source, symbol, run


conv_general_dilated_p.kernel = CLoop(_conv_loops)


def _ints(v: Sequence[int] | None, n: int, name: str) -> tuple[int, ...]:
    if v is None:
        return (1,) * n
    v = tuple(int(a) for a in v)
    if len(v) != n:
        raise ShapeError(f"{name} {v} needs one entry per spatial axis ({n})")
    return v


def conv_general_dilated(lhs: Any, rhs: Any, window_strides: Sequence[int],
                         padding: str | Sequence[tuple[int, int]],
                         lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None,
                         dimension_numbers: Any = None, feature_group_count: int = 1,
                         batch_group_count: int = 1, precision: Any = None,
                         preferred_element_type: Any = None, out_sharding: Any = None) -> Any:
    """N-d convolution (cross-correlation, as in `jax.lax`), default layout NCHW/OIHW/NCHW.

    >>> import numpy as np
    >>> x, w = np.ones((1, 1, 4, 4), np.float32), np.ones((2, 1, 3, 3), np.float32)
    >>> conv_general_dilated(x, w, (1, 1), "SAME").shape
    (1, 2, 4, 4)
    """
    del precision  # accepted for JAX compatibility: NumPy's BLAS has one precision
    if out_sharding is not None:
        check_one_device("conv_general_dilated", out_sharding=out_sharding)
    lhs, rhs = asarray_like(lhs, rhs)
    if preferred_element_type is not None:  # the result's dtype: compute in it
        lhs = convert_element_type(lhs, preferred_element_type)
        rhs = convert_element_type(rhs, preferred_element_type)
    la, ra = get_aval(lhs), get_aval(rhs)
    dn = conv_dimension_numbers(la.ndim, ra.ndim, dimension_numbers)
    nsp = la.ndim - 2
    strides = _ints(window_strides, nsp, "window_strides")
    lhs_dil, rhs_dil = _ints(lhs_dilation, nsp, "lhs_dilation"), _ints(rhs_dilation, nsp,
                                                                       "rhs_dilation")
    if isinstance(padding, str) and any(d != 1 for d in lhs_dil):
        raise ArgumentError(f"conv_general_dilated: padding {padding!r} is ambiguous with "
                            f"lhs_dilation {lhs_dil} (a transposed convolution), as in JAX: "
                            f"give the padding pairs explicitly, or use lax.conv_transpose"
                            f"{user_line()}")
    window = [_dilated(ra.shape[d], r) for d, r in zip(dn[1][2:], rhs_dil)]
    pads = padtype_to_pads([la.shape[d] for d in dn[0][2:]], window, strides, padding)
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=strides, padding=pads, lhs_dilation=lhs_dil,
        rhs_dilation=rhs_dil, dimension_numbers=dn, feature_group_count=int(feature_group_count),
        batch_group_count=int(batch_group_count))


# ------------------------------------------------------------------ reduce_window

def _window_out_shape(x: ShapedArray, window_dimensions: tuple[int, ...],
                      window_strides: tuple[int, ...], padding: Pairs,
                      base_dilation: tuple[int, ...], window_dilation: tuple[int, ...]
                      ) -> tuple[int, ...]:
    for name, v in (("window_dimensions", window_dimensions), ("window_strides", window_strides),
                    ("padding", padding), ("base_dilation", base_dilation),
                    ("window_dilation", window_dilation)):
        if len(v) != x.ndim:
            raise ShapeError(f"{name} {v} needs one entry per operand axis ({x.ndim})")
    if any(s < 1 for s in (*window_strides, *base_dilation, *window_dilation)):
        raise ShapeError("window strides and dilations must be >= 1")
    return tuple(_out_size(*a) for a in zip(x.shape, window_dimensions, window_strides,
                                            padding, base_dilation, window_dilation))


def _window_params_batch(params: dict[str, Any], bd: int) -> dict[str, Any]:
    """Window params with a size-1, unpadded window inserted at the batch axis."""
    out = dict(params)
    for name, unit in (("window_dimensions", 1), ("window_strides", 1), ("padding", (0, 0)),
                       ("base_dilation", 1), ("window_dilation", 1)):
        v = list(params[name])
        v.insert(bd, unit)
        out[name] = tuple(v)
    return out


def _param_out_shape(x: np.ndarray, params: dict[str, Any]) -> list[int]:
    return [_out_size(*a) for a in zip(x.shape, params["window_dimensions"],
                                       params["window_strides"], params["padding"],
                                       params["base_dilation"], params["window_dilation"])]


def _window_offsets(x: np.ndarray, params: dict[str, Any], fill: Any
                    ) -> tuple[np.ndarray, list[tuple[int, tuple[slice, ...]]]]:
    """`x` padded (with `fill`) and dilated, and for each window offset (flat index k) the
    strided slice of it holding that offset's element of every window: a window reduction
    is one whole-array operation per offset (a 2x2 pool: four), not a reduction over tiny
    window axes."""
    offsets = _offset_slices(params, _param_out_shape(x, params))
    if not offsets:
        return x, []
    return _dilate_pad(x, params["padding"], params["base_dilation"], fill), offsets


def _offset_slices(params: dict[str, Any], out: Sequence[int]
                   ) -> list[tuple[int, tuple[slice, ...]]]:
    """For each window offset (flat index k), the strided slice of the padded, dilated
    operand that holds that offset's element of every one of the `out` windows."""
    window, strides = params["window_dimensions"], params["window_strides"]
    if 0 in out or 0 in window:
        return []
    return [(k, tuple(slice(o * wd, o * wd + (n - 1) * s + 1, s) for o, wd, n, s in
                      zip(offset, params["window_dilation"], out, strides)))
            for k, offset in enumerate(np.ndindex(*window))]


def _crop_dilated(acc: Any, shape: Sequence[int], padding: Pairs, base_dilation: Sequence[int],
                  xp: Any = np) -> Any:
    """The inverse of `_dilate_pad` for cotangents: the entries of the padded, dilated `acc`
    that correspond to an operand of `shape` (padding dropped, zeros for cropped parts)."""
    if all(d == 1 for d in base_dilation) and all(p == (0, 0) for p in padding):
        return acc
    out = xp.zeros([_dilated(n, d) for n, d in zip(shape, base_dilation)], acc.dtype)
    # dilated index q sits at padded index q + lo; copy where both exist
    spans = [(max(0, -lo), max(max(0, -lo), min(n, p - lo)), lo)
             for (lo, _), n, p in zip(padding, out.shape, acc.shape)]
    out[tuple(slice(a, b) for a, b, _ in spans)] = acc[tuple(slice(a + lo, b + lo)
                                                             for a, b, lo in spans)]
    return out[tuple(slice(None, None, d) for d in base_dilation)]


# ------------------------------------------------------------------ window loops in C
# On the C backend the window primitives run as one loop over the windows: a 2x2 max
# pool's scatter is one pass writing each window's cotangent at its first maximum, where
# NumPy makes several strided whole-array passes per window offset. The arithmetic is the
# impls' own (NaN-propagating extremum, ties in offset order, tie counts in the dtype, the
# same sums in the same order), so both give the same numbers; only zeros' signs differ.

_WINDOW_LOOPS = r"""
#include <math.h>
#include <string.h>
typedef long long i64;
/* COMBINE is NumPy's maximum (minimum): the first operand on ties, NaN if either is,
   spelled as one-comparison selects (a compound condition makes gcc branch per element
   instead of vectorizing). AHEAD(v, m): v beats m strictly, or is a NaN; it takes over
   in a first-extremum search unless m is a NaN. */
#if KIND_MAX
#define COMBINE(a, b) ((b) == (b) ? (!((a) < (b)) ? (a) : (b)) : (b))
#define AHEAD(v, m) (!((v) <= (m)))
#elif KIND_MIN
#define COMBINE(a, b) ((b) == (b) ? (!((a) > (b)) ? (a) : (b)) : (b))
#define AHEAD(v, m) (!((v) >= (m)))
#else
#define COMBINE(a, b) ((a) + (b))
#endif
#define CHUNK 256
/* the window's elements unrolled before vectorizing: a loop over windows holding
   several loops over their elements is not vectorized otherwise */
#define UNROLLED _Pragma("GCC unroll 16")

/* The flat position in x of element k of the chunk's window j, -1 in the padding: x
   holds windows [ja[k], jb[k]) of the chunk at off[k] + shift + j * SL. FULL: all of
   them. R (the rank), ROW (the output's last axis, at most CHUNK), SL (its stride), K
   (the window's size), WL and WDL (the window and its dilation along the last axis) are
   constants of the source: a full row is a loop of constant length and strides, its
   windows' elements unrolled, and the elements along the last axis (which differ by
   constants: AT) share their loads. */
#define AT(k) (off[(k) - (k) % WL] + (k) % WL * WDL + shift + j * SL)
#define POS(k) (FULL ? AT(k) : j >= ja[k] && j < jb[k] ? AT(k) : -1)
#define IN(pos) (FULL || (pos) >= 0)
#define VALUE(pos) (IN(pos) ? x[pos] : (T)IDENT)
#define ROW_ARGS const T* restrict x, const T* restrict t, T* restrict out, i64 w0, i64 jn, \
    const i64* off, const i64 shift, const i64* ja, const i64* jb, i64 overlap, i64* restrict chosen, \
    T* restrict mark, T* restrict shares

/* The windows of one chunk of an output row: each window's reduction, its gathered
   tangent, or its scatter. Where windows overlap, a scatter only notes each window's
   choice (its chosen element, or its extremum and share) for `add_row`. */
static inline __attribute__((always_inline)) void row(const int FULL, ROW_ARGS) {
#if OP_SCATTER && TIES_SPLIT
  T extremum[CHUNK], share[CHUNK];  /* scattered in a second loop, vectorized apart */
#endif
  _Pragma("omp simd")
  for (i64 j = 0; j < (FULL ? ROW : jn); ++j) {
    const i64 w = w0 + j;
#if OP_REDUCE
    T acc = (T)IDENT;
    for (i64 k = 0; k < K; ++k) acc = COMBINE(acc, VALUE(POS(k)));
    out[w] = acc;
#elif TIES_SPLIT
    T m = (T)IDENT, count = 0, v[K];
    UNROLLED for (i64 k = 0; k < K; ++k) {
      v[k] = VALUE(POS(k));
      m = COMBINE(m, v[k]);
    }
    UNROLLED for (i64 k = 0; k < K; ++k) count += (T)(v[k] == m);
#if OP_SCATTER
    extremum[j] = m;
    share[j] = t[w] / count;
#else
    T acc = 0;
    UNROLLED for (i64 k = 0; k < K; ++k) {
      const i64 pos = POS(k);
      acc += (IN(pos) ? t[pos] : (T)0) * (T)(v[k] == m);
    }
    out[w] = acc / count;
#endif
#else
    T best = (T)IDENT;
    i64 c = 0, pos = POS(0);
    for (i64 k = 0; k < K; ++k) {
      const i64 at = POS(k);
      const T v = VALUE(at), nb = AHEAD(v, best) ? v : best;
      const i64 nc = AHEAD(v, best) ? k : c, npos = AHEAD(v, best) ? at : pos;
      c = best == best ? nc : c;
      pos = best == best ? npos : pos;
      best = best == best ? nb : best;
    }
#if OP_SCATTER
    if (overlap) chosen[w] = c;
    else if (IN(pos)) out[pos] = t[w];
#else
    out[w] = IN(pos) ? t[pos] : (T)0;
#endif
#endif
  }
#if OP_SCATTER && TIES_SPLIT
  if (overlap) {
    for (i64 j = 0; j < (FULL ? ROW : jn); ++j) {
      mark[w0 + j] = extremum[j];
      shares[w0 + j] = share[j];
    }
  } else {
    for (i64 k = 0; k < K; ++k) {
      _Pragma("omp simd")
      for (i64 j = 0; j < (FULL ? ROW : jn); ++j) {
        const i64 pos = POS(k);
        if (IN(pos)) out[pos] = share[j] * (T)(x[pos] == extremum[j]);
      }
    }
  }
#endif
}

/* Where scatter windows overlap: add element k of the chunk's windows, as the impl adds
   offset by offset (the windows' elements k are distinct positions). */
static inline __attribute__((always_inline)) void add_row(const int FULL, const i64 k,
                                                          ROW_ARGS) {
#if OP_SCATTER
  _Pragma("omp simd")
  for (i64 j = 0; j < (FULL ? ROW : jn); ++j) {
    const i64 w = w0 + j, pos = POS(k);
#if TIES_SPLIT
    if (IN(pos)) out[pos] += shares[w] * (T)(x[pos] == mark[w]);
#else
    if (IN(pos) && chosen[w] == k) out[pos] += t[w];
#endif
  }
#endif
}

/* p: overlap, then per axis: x's shape, the output's shape,
   strides, low padding, window dilation, window. t: the cotangent (scatter, one value
   per window) or the tangent (gather, x's shape); x for a reduction. notes: 3 words per
   window where scatter windows overlap. */
void NAME(const T* restrict x, const T* restrict t, T* restrict out, const i64* p,
          i64* restrict notes) {
  const i64 r = R, overlap = p[0];
  const i64 *n = p + 1, *on = n + r, *st = on + r, *lo = st + r, *wd = lo + r, *win = wd + r;
  const i64 last = r - 1, row_len = on[last];
  i64 xs[r], o[r], span[r], kidx[K * r], kother[K], klast[K], off[K], ja[K], jb[K];
  i64 la[K], lb[K], windows = 1, size = 1, rows = 1;
  for (i64 d = last; d >= 0; --d) {
    xs[d] = size;
    size *= n[d];
    windows *= on[d];
    span[d] = (win[d] - 1) * wd[d] + 1;
    if (d < last) rows *= on[d];
  }
  for (i64 k = 0; k < K; ++k) {
    kother[k] = 0;
    for (i64 d = last, rest = k; d >= 0; rest /= win[d], --d) {
      kidx[k * r + d] = rest % win[d] * wd[d];
      if (d < last) kother[k] += kidx[k * r + d] * xs[d];
    }
    klast[k] = kidx[k * r + last];
  }
  i64* chosen = notes;
  T *mark = (T*)(notes + windows), *shares = (T*)(notes + 2 * windows);
#if OP_SCATTER
  memset(out, 0, size * sizeof(T));
  const i64 phases = overlap ? K + 1 : 1;
#else
  const i64 phases = 1;
#endif
  for (i64 phase = 0; phase < phases; ++phase)
    for (i64 j0 = 0; j0 < row_len; j0 += CHUNK) {
      const i64 jn = row_len - j0 < CHUNK ? row_len - j0 : CHUNK, at0 = j0 * SL - lo[last];
      int whole = jn == ROW;  /* every element of the chunk's windows in x, along the last axis */
      for (i64 k = 0; k < K; ++k) {
        const i64 i0 = at0 + klast[k];
        const i64 lo_j = i0 >= 0 ? 0 : (-i0 + SL - 1) / SL;
        const i64 hi_j = n[last] - 1 - i0 < 0 ? 0 : (n[last] - 1 - i0) / SL + 1;
        la[k] = lo_j < jn ? lo_j : jn;
        lb[k] = hi_j < la[k] ? la[k] : hi_j < jn ? hi_j : jn;
        whole &= la[k] == 0 && lb[k] == jn;
      }
      for (i64 d = 0; d < r; ++d) o[d] = 0;
      for (i64 rw = 0; rw < rows;) {
        i64 inside = 1, base_lin = 0;
        for (i64 d = 0; d < last; ++d) {
          const i64 base = o[d] * st[d] - lo[d];
          inside &= base >= 0 && base + span[d] <= n[d];
          base_lin += base * xs[d];
        }
        for (i64 k = 0; k < K; ++k) {
          i64 in_k = 1, at = base_lin + kother[k];
          if (!inside) {
            at = 0;
            for (i64 d = 0; d < last; ++d) {
              const i64 i = o[d] * st[d] - lo[d] + kidx[k * r + d];
              in_k &= i >= 0 && i < n[d];
              at += i * xs[d];
            }
          }
          ja[k] = in_k ? la[k] : 0;
          jb[k] = in_k ? lb[k] : 0;
          off[k] = at + at0 + klast[k];
        }
        /* a run of rows along the axis before the last whose windows all lie in x:
           the same loop, shifted */
        const int full = whole && inside;
        const i64 d = last - 1, step = last > 0 ? st[d] * xs[d] : 0;
        i64 run = 1;
        if (full && last > 0) {
          const i64 top = (n[d] - span[d] + lo[d]) / st[d] + 1;
          run = (top < on[d] ? top : on[d]) - o[d];
        }
        for (i64 i = 0; i < run; ++i) {
#define ARGS x, t, out, (rw + i) * row_len + j0, jn, off, i * step, ja, jb, overlap, chosen, \
             mark, shares
          if (phase == 0 && full) row(1, ARGS);
          else if (phase == 0) row(0, ARGS);
          else if (full) add_row(1, phase - 1, ARGS);
          else add_row(0, phase - 1, ARGS);
        }
        rw += run;
        if (last > 0 && (o[d] += run) == on[d])
          for (i64 e = d; e >= 0 && o[e] == on[e]; --e) {
            o[e] = 0;
            if (e > 0) ++o[e - 1];
          }
      }
    }
}
"""


_MAX_LOOP_WINDOW = 1024


def _window_loops(op: str, kind: str | None = None) -> CLoop:
    """The C loop of a window primitive: `op` is "reduce" (reduce_window_`kind`),
    "scatter" (window_select_scatter) or "gather" (window_select_gather, whose `kind` and
    `ties` are params). Floating operands without base dilation, windows of at most
    `_MAX_LOOP_WINDOW` elements (the loop keeps a few words per element on the stack);
    the impl runs the rest."""

    def lower(avals: Sequence[ShapedArray], params: dict[str, Any]) -> Any:
        params = dict(params)
        x, kind_, ties = avals[-1], params.pop("kind", kind), params.pop("ties", "first")
        window = params["window_dimensions"]
        if (x.dtype not in (np.float32, np.float64) or x.ndim == 0
                or not 0 < math.prod(window) <= _MAX_LOOP_WINDOW
                or any(d != 1 for d in params["base_dilation"])):
            return None
        out_shape = _window_out_shape(x, **params)
        split = op != "reduce" and ties == "split"
        symbol = f"window_{op}_{kind_}{'_split' if split else ''}_{x.dtype.name}"
        source = c_source(
            _WINDOW_LOOPS, T=c_type(x.dtype), NAME=symbol,
            IDENT={"max": "(-INFINITY)", "min": "INFINITY", "sum": "0"}[kind_],
            ROW=min(out_shape[-1], 256), SL=params["window_strides"][-1],
            K=math.prod(window), R=x.ndim, WL=window[-1], WDL=params["window_dilation"][-1],
            KIND_MAX=int(kind_ == "max"), KIND_MIN=int(kind_ == "min"),
            OP_REDUCE=int(op == "reduce"), OP_SCATTER=int(op == "scatter"),
            TIES_SPLIT=int(split))
        overlap = any(s < _dilated(k, d) for k, s, d in
                      zip(window, params["window_strides"], params["window_dilation"]))
        geometry = np.array([overlap, *x.shape, *out_shape,
                             *params["window_strides"], *(lo for lo, _ in params["padding"]),
                             *params["window_dilation"], *window], np.int64)
        result_shape = x.shape if op == "scatter" else out_shape
        scratch = 3 * math.prod(out_shape) if op == "scatter" and overlap else 0

        def run(fn: Any, *operands: np.ndarray) -> np.ndarray:
            *t, x = (np.ascontiguousarray(a) for a in operands)
            out, notes = np.empty(result_shape, x.dtype), np.empty(scratch, np.int64)
            fn(x.ctypes.data, (t or [x])[0].ctypes.data, out.ctypes.data,
               geometry.ctypes.data, notes.ctypes.data)
            return out

        return source, symbol, run

    return CLoop(lower)


def _window_identity(dtype: np.dtype, kind: str) -> Any:
    from fnad.lax.reduction import _identity
    return 0 if kind == "sum" else _identity(dtype, kind == "min")


def _window_primitive(name: str, kind: str) -> Primitive:
    """reduce_window_{sum,max,min}: impl, abstract eval and batch rule."""
    prim = Primitive(name)

    combine = {"sum": np.add, "max": np.maximum, "min": np.minimum}[kind]

    def impl(x: np.ndarray, **params: Any) -> np.ndarray:
        identity = _window_identity(x.dtype, kind)
        padded, offsets = _window_offsets(x, params, identity)
        acc = np.full(_param_out_shape(x, params), identity, x.dtype)
        token = quiet_enter()  # inf - inf in a window: NaN is the answer, with no warning
        try:
            for _, sl in offsets:
                combine(acc, padded[sl], out=acc)
        finally:
            quiet_exit(token)
        return acc

    def abstract_eval(x: ShapedArray, **params: Any) -> ShapedArray:
        check_dtypes([x], NUMBER if kind == "sum" else "fiub")
        return ShapedArray(_window_out_shape(x, **params), x.dtype)

    def batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], **params: Any):
        return prim.bind(vals[0], **_window_params_batch(params, dims[0])), dims[0]

    prim.def_impl(impl)
    prim.def_abstract_eval(abstract_eval)
    prim.def_batch(batch)
    prim.kernel = _window_loops("reduce", kind)
    return prim


reduce_window_sum_p = _window_primitive("reduce_window_sum", "sum")


def _reduce_window_sum_transpose(ct: Any, x: Any, *, window_dimensions: Any,
                                 window_strides: Any, padding: Pairs, base_dilation: Any,
                                 window_dilation: Any) -> list[Any]:
    """A window sum over the stride-dilated cotangent: like conv's lhs transpose with a
    kernel of ones, which flipping leaves unchanged."""
    pads = tuple(_transpose_padding(*a) for a in zip(x.aval.shape, window_dimensions,
                                                     window_strides, padding, base_dilation,
                                                     window_dilation))
    return [reduce_window_sum_p.bind(ct, window_dimensions=window_dimensions,
                                     window_strides=base_dilation, padding=pads,
                                     base_dilation=window_strides,
                                     window_dilation=window_dilation)]


def _linear_in_first(prim: Primitive) -> None:
    """jvp of a primitive linear in its first operand; any others only steer it (their
    derivative is zero almost everywhere)."""

    def jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any):
        ans = prim.bind(*primals, **params)
        if type(tangents[0]) is Zero:
            return ans, Zero(get_aval(ans))
        return ans, prim.bind(tangents[0], *primals[1:], **params)

    prim.def_jvp(jvp)


_linear_in_first(reduce_window_sum_p)
reduce_window_sum_p.def_transpose(_reduce_window_sum_transpose)

# The derivative of a window max/min picks, in each window, the tangent at the position
# of the extremum of x. `_select_gather` does that; its transpose `_select_scatter` adds
# each output cotangent at that position. Both are linear in their first operand.
# With `ties="first"` (reduce_window's derivative, JAX's select_and_scatter_add) the first
# extremum of a window gets it all; with `ties="split"` (reduce_max's derivative, which the
# jit's pooling pass rewrites into window form) tied positions share it evenly, computed
# as reduce_max's rule computes it: (t / count) * hit, so NaN windows give NaN as there.


def _first_hits(x: np.ndarray, kind: str, params: dict[str, Any]
                ) -> Iterator[tuple[tuple[slice, ...], np.ndarray]]:
    """For each window offset, its slice of the padded operand and a mask of the windows
    whose first extremum sits there (a NaN counts as the extremum, as in `np.argmax`).
    Boolean whole-array operations only: a mask of the windows not yet served is
    narrowed offset by offset, so no index array is built."""
    identity = _window_identity(x.dtype, kind)
    padded, offsets = _window_offsets(x, params, identity)
    extremum = np.full(_param_out_shape(x, params), identity, x.dtype)
    combine = np.maximum if kind == "max" else np.minimum  # NaN wins, as in np.argmax
    for _, sl in offsets:
        combine(extremum, padded[sl], out=extremum)
    nan = np.isnan(extremum) if x.dtype.kind in "fc" else None
    if nan is not None and not nan.any():
        nan = None  # no NaN window: equality alone finds the extremum
    open_ = None  # windows whose extremum is not found yet (None: all)
    for i, (_, sl) in enumerate(offsets):
        hit = padded[sl] == extremum
        if nan is not None:
            hit |= nan & np.isnan(padded[sl])
        if open_ is not None:
            hit &= open_
        yield sl, hit
        if i + 1 < len(offsets):
            open_ = ~hit if open_ is None else np.logical_xor(open_, hit, out=open_)


def _picker(values: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """`pick(v, chosen)`: `v` where `chosen`, else 0, for parts `v` of `values`. A product
    when every value is finite (a select on a scattered mask is several times slower), a
    select otherwise (inf * 0 is NaN)."""
    if values.dtype.kind in "fc" and not np.isfinite(values).all():
        return lambda v, chosen: np.where(chosen, v, 0)
    return np.multiply


def _window_hits(x: Any, kind: str, params: dict[str, Any]
                 ) -> tuple[list[tuple[int, tuple[slice, ...]]], list[Any], Any]:
    """For tie splitting: the window offsets, for each a mask of the windows whose element
    there equals the window's extremum, and the count of such elements per window (in
    x's dtype; 0 in a window holding a NaN, as `x == max` is false there)."""
    xp = array_module([x])
    identity = _window_identity(x.dtype, kind)
    offsets = _offset_slices(params, _param_out_shape(x, params))
    padded = _dilate_pad_xp(x, params["padding"], params["base_dilation"], identity)
    extremum = xp.full(_param_out_shape(x, params), identity, x.dtype)
    for _, sl in offsets:
        (xp.maximum if kind == "max" else xp.minimum)(extremum, padded[sl], out=extremum)
    hits = [padded[sl] == extremum for _, sl in offsets]
    count = xp.zeros(extremum.shape, x.dtype)
    for hit in hits:
        count += hit
    return offsets, hits, count


def _split_gather(t: Any, x: Any, kind: str, params: dict[str, Any]) -> Any:
    """sum(t * hit) / count per window, as reduce_max's jvp computes it."""
    offsets, hits, count = _window_hits(x, kind, params)
    padded = _dilate_pad_xp(t, params["padding"], params["base_dilation"], 0)
    out = array_module([t]).zeros(count.shape, t.dtype)
    token = quiet_enter()  # inf * 0 and 0 / 0: NaN is the answer, as in reduce_max's rule
    try:
        for (_, sl), hit in zip(offsets, hits):
            out += padded[sl] * hit
        return out / count
    finally:
        quiet_exit(token)


def _split_scatter(ct: Any, x: Any, kind: str, params: dict[str, Any]) -> Any:
    """(ct / count) * hit at every position of every window, as reduce_max's transpose."""
    offsets, hits, count = _window_hits(x, kind, params)
    xp = array_module([ct])
    token = quiet_enter()
    try:
        share = ct / count
        acc, put = _scatter_acc(xp, x.shape, ct.dtype, params)
        for (_, sl), hit in zip(offsets, hits):
            put(acc, sl, share, hit)
    finally:
        quiet_exit(token)
    return _crop_dilated(acc, x.shape, params["padding"], params["base_dilation"], xp)


def _scatter_acc(xp: Any, shape: Sequence[int], dtype: Any, params: dict[str, Any]
                 ) -> tuple[Any, Callable[..., None]]:
    """What a window scatter writes into (x padded and dilated), and `put(acc, sl, v, m)`
    writing `v * m` into `acc[sl]`: added where windows overlap, else stored in place
    (into an uninitialized `acc` when the windows tile it exactly)."""
    window, strides = params["window_dimensions"], params["window_strides"]
    wdil = params["window_dilation"]
    padded = [_dilated(n, d) + lo + hi
              for n, d, (lo, hi) in zip(shape, params["base_dilation"], params["padding"])]
    if any(s < _dilated(k, d) for k, s, d in zip(window, strides, wdil)):
        def add(acc: Any, sl: Any, v: Any, m: Any) -> None:
            acc[sl] += v * m
        return xp.zeros(padded, dtype), add

    def store(acc: Any, sl: Any, v: Any, m: Any) -> None:
        xp.multiply(v, m, out=acc[sl])
    tiled = all(d == 1 and s == k > 0 and p % k == 0
                for k, s, d, p in zip(window, strides, wdil, padded))
    return (xp.empty if tiled else xp.zeros)(padded, dtype), store


def _gather_impl(t: np.ndarray, x: np.ndarray, kind: str, ties: str = "first",
                 **params: Any) -> np.ndarray:
    if ties == "split":
        return _split_gather(t, x, kind, params)
    padded, _ = _window_offsets(t, params, 0)
    out, pick = np.zeros(_param_out_shape(x, params), t.dtype), _picker(t)
    for sl, hit in _first_hits(x, kind, params):
        out += pick(padded[sl], hit)
    return out


def _scatter_impl(ct: np.ndarray, x: np.ndarray, kind: str, ties: str = "first",
                  **params: Any) -> np.ndarray:
    """Add each window's cotangent at its chosen position; loops over window offsets only
    (and assigns, where windows do not overlap)."""
    if ties == "split":
        return _split_scatter(ct, x, kind, params)
    acc, put = _scatter_acc(np, x.shape, ct.dtype, params)
    finite = _picker(ct) is np.multiply  # else a select: inf * 0 would be NaN
    token = quiet_enter()  # inf - inf where overlapping windows add: NaN is the answer
    try:
        for sl, hit in _first_hits(x, kind, params):
            put(acc, sl, ct if finite else np.where(hit, ct, 0), hit)
    finally:
        quiet_exit(token)
    return _crop_dilated(acc, x.shape, params["padding"], params["base_dilation"])


def _select_primitive(name: str, impl: Callable[..., Any], windowed_in: bool) -> Primitive:
    """A primitive linear in its first operand, with `x` choosing the positions; the
    linear operand has x's shape and the output the windowed shape, or (`windowed_in`)
    the other way round."""
    prim = Primitive(name)
    prim.def_impl(impl)

    @prim.def_abstract_eval
    def abstract_eval(t: ShapedArray, x: ShapedArray, kind: str, ties: str = "first",
                      **params: Any) -> ShapedArray:
        if kind not in ("max", "min") or ties not in ("first", "split"):
            raise ArgumentError(f"{name}: kind must be 'max' or 'min' and ties 'first' or "
                             f"'split', got {kind!r} and {ties!r}")
        if t.dtype != x.dtype:
            raise DTypeError(f"dtypes {t.dtype} and {x.dtype} must be equal")
        windowed = _window_out_shape(x, **params)
        linear, out = (windowed, x.shape) if windowed_in else (x.shape, windowed)
        if t.shape != linear:
            raise ShapeError(f"the linear operand must have shape {linear}")
        return ShapedArray(out, t.dtype)

    def batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], kind: str,
              ties: str = "first", **params: Any):
        from fnad.interpreters.batching import moveaxis
        bd = next(d for d in dims if d is not None)
        t, x = (moveaxis(v, d, bd, axis_size) for v, d in zip(vals, dims))
        return prim.bind(t, x, kind=kind, ties=ties, **_window_params_batch(params, bd)), bd

    prim.def_batch(batch)
    prim.kernel = _window_loops("scatter" if windowed_in else "gather")
    _linear_in_first(prim)
    return prim


select_gather_p = _select_primitive("window_select_gather", _gather_impl, False)
select_scatter_p = _select_primitive("window_select_scatter", _scatter_impl, True)
select_gather_p.def_transpose(
    lambda ct, t, x, **params: [select_scatter_p.bind(ct, x, **params), None])
select_scatter_p.def_transpose(
    lambda ct, c, x, **params: [select_gather_p.bind(ct, x, **params), None])


def _window_extremum(name: str, kind: str) -> Primitive:
    prim = _window_primitive(name, kind)

    def jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, **params)
        if type(t) is Zero:
            return ans, Zero(get_aval(ans))
        return ans, select_gather_p.bind(t, x, kind=kind, ties="first", **params)

    prim.def_jvp(jvp)
    return prim


reduce_window_max_p = _window_extremum("reduce_window_max", "max")
reduce_window_min_p = _window_extremum("reduce_window_min", "min")

_WINDOW_PRIMS = {"sum": reduce_window_sum_p, "max": reduce_window_max_p,
                 "min": reduce_window_min_p}




def reduce_window(operand: Any, init_value: Any, computation: str | Callable[..., Any],
                  window_dimensions: Sequence[int], window_strides: Sequence[int] | None = None,
                  padding: str | Sequence[tuple[int, int]] = "VALID",
                  base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None) -> Any:
    """Reduce every window of `operand` with 'sum', 'max' or 'min' (or `lax.add`,
    `lax.max`, `lax.min`); padding is filled with `init_value`, which is also reduced
    into every window, as in `jax.lax.reduce_window`.

    >>> import numpy as np
    >>> reduce_window(np.arange(4.0), -np.inf, "max", (2,), (2,))
    array([1., 3.])
    """
    from fnad.lax import elementwise as ew
    kind = {ew.add: "sum", ew.max: "max", ew.min: "min"}.get(computation, computation)
    if kind not in _WINDOW_PRIMS:
        raise ArgumentError(f"computation must be 'sum', 'max' or 'min', got {computation!r}")
    (operand,) = asarray_like(operand)
    aval = get_aval(operand)
    window = _ints(window_dimensions, aval.ndim, "window_dimensions")
    strides = _ints(window_strides, aval.ndim, "window_strides")
    bdil = _ints(base_dilation, aval.ndim, "base_dilation")
    wdil = _ints(window_dilation, aval.ndim, "window_dilation")
    pads = padtype_to_pads(aval.shape, [_dilated(k, d) for k, d in zip(window, wdil)], strides,
                           padding)
    init = np.asarray(init_value, aval.dtype) if not hasattr(init_value, "aval") else init_value
    identity = _window_identity(aval.dtype, kind)
    if kind == "sum" and (hasattr(init, "aval") or init != identity):
        raise ArgumentError("reduce_window 'sum' needs init_value 0 (the padding is filled with "
                         "it); add a constant to the result instead")
    out = _WINDOW_PRIMS[kind].bind(operand, window_dimensions=window, window_strides=strides,
                                   padding=pads, base_dilation=bdil, window_dilation=wdil)
    if kind != "sum" and (hasattr(init, "aval") or init != identity):
        out = (ew.max if kind == "max" else ew.min)(out, init)
    return out


# ------------------------------------------------------------------ CuPy implementations
# cuDNN for the convolutions it takes; window views (`as_strided`) for window reductions
# and max-pool's choice. Written with the API NumPy and CuPy share (tests run them on NumPy
# arrays); the CuPy backend moves NumPy operands to the device before calling them.

def _dilate_pad_xp(x: Any, padding: Sequence[tuple[int, int]], dilation: Sequence[int],
                   fill: Any) -> Any:
    """x with `dilation - 1` fills between elements, then padded (negative pads crop);
    x itself when there is neither."""
    if all(d == 1 for d in dilation) and all(p == (0, 0) for p in padding):
        return x
    xp = array_module([x])
    grown = [max(lo, 0) + _dilated(n, d) + max(hi, 0)
             for n, d, (lo, hi) in zip(x.shape, dilation, padding)]
    out = xp.full(grown, fill, dtype=x.dtype)
    out[tuple(slice(max(lo, 0), max(lo, 0) + _dilated(n, d), d)
              for n, d, (lo, _) in zip(x.shape, dilation, padding))] = x
    return out[tuple(slice(max(-lo, 0), max(max(-lo, 0), g - max(-hi, 0)))
                     for g, (lo, hi) in zip(grown, padding))]


def _windows_xp(x: Any, window: Sequence[int], strides: Sequence[int],
                padding: Sequence[tuple[int, int]], base_dilation: Sequence[int],
                window_dilation: Sequence[int], fill: Any) -> Any:
    """A view of shape (*out_shape, *window): every window of the padded, dilated x."""
    xp = array_module([x])
    out = [_out_size(*a) for a in zip(x.shape, window, strides, padding, base_dilation,
                                      window_dilation)]
    if 0 in out or 0 in window:
        return xp.zeros((*out, *window), x.dtype)
    padded = _dilate_pad_xp(x, padding, base_dilation, fill)
    steps = (*(s * st for s, st in zip(padded.strides, strides)),
             *(s * d for s, d in zip(padded.strides, window_dilation)))
    return xp.lib.stride_tricks.as_strided(padded, (*out, *window), steps)


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


def _conv_xp(lhs: Any, rhs: Any, **params: Any) -> Any:
    if _cudnn_fits(lhs, params["padding"], params["lhs_dilation"],
                   params["batch_group_count"]):
        cudnn = _cudnn()
        if cudnn is not None:
            return _conv_cudnn(cudnn, lhs, rhs, **params)
    return conv_im2col(lhs, rhs, xp=array_module([lhs, rhs]), windows=_windows_xp, **params)


def _conv_cudnn(cudnn: Any, lhs: Any, rhs: Any, *, window_strides: tuple[int, ...],
                padding: Any, lhs_dilation: tuple[int, ...], rhs_dilation: tuple[int, ...],
                dimension_numbers: Any, feature_group_count: int, batch_group_count: int
                ) -> Any:
    """cuDNN's forward convolution on NC*spatial / OI*spatial contiguous copies. On Ampere
    and later, cuDNN may use TF32 tensor cores for float32 (about 1e-3 relative error)."""
    xp = array_module([lhs, rhs])
    lspec, rspec, ospec = dimension_numbers
    x = xp.ascontiguousarray(xp.transpose(lhs, lspec))
    w = xp.ascontiguousarray(xp.transpose(rhs, rspec))
    out_sp = [_out_size(n, k, s, p, 1, d) for n, k, s, p, d in zip(
        x.shape[2:], w.shape[2:], window_strides, padding, rhs_dilation)]
    y = xp.empty((x.shape[0], w.shape[0], *out_sp), lhs.dtype)
    if y.size:
        cudnn.convolution_forward(x, w, None, y, tuple(lo for lo, _ in padding),
                                  tuple(window_strides), tuple(rhs_dilation),
                                  feature_group_count, auto_tune=False, tensor_core="never")
    return xp.transpose(y, np.argsort(ospec))


def _window_params(params: dict[str, Any]) -> tuple[Any, ...]:
    return (params["window_dimensions"], params["window_strides"], params["padding"],
            params["base_dilation"], params["window_dilation"])


def _reduce_window_xp(kind: str) -> Callable[..., Any]:
    def impl(x: Any, **params: Any) -> Any:
        w = _windows_xp(x, *_window_params(params), _window_identity(x.dtype, kind))
        axes = tuple(range(x.ndim, 2 * x.ndim))
        if kind == "sum":
            return array_module([x]).sum(w, axis=axes, dtype=x.dtype)
        return _extremum_xp(kind, kind == "min")(w, axes)
    return impl


def _window_choice_xp(x: Any, kind: str, params: dict[str, Any]) -> Any:
    """Flat in-window index of the first extremum of each window of x."""
    xp = array_module([x])
    w = _windows_xp(x, *_window_params(params), _window_identity(x.dtype, kind))
    flat = w.reshape(*w.shape[:x.ndim], -1)
    return (xp.argmax if kind == "max" else xp.argmin)(flat, axis=-1)


def _window_gather_xp(t: Any, x: Any, kind: str, ties: str = "first", **params: Any) -> Any:
    if ties == "split":
        return _split_gather(t, x, kind, params)
    xp = array_module([t, x])
    idx = _window_choice_xp(x, kind, params)
    tw = _windows_xp(t, *_window_params(params), 0)
    tw = tw.reshape(*tw.shape[:t.ndim], -1)
    return xp.take_along_axis(tw, idx[..., None], axis=-1)[..., 0]


def _window_scatter_xp(ct: Any, x: Any, kind: str, ties: str = "first", **params: Any
                       ) -> Any:
    """Add each window's cotangent at its chosen position; loops over window offsets."""
    if ties == "split":
        return _split_scatter(ct, x, kind, params)
    xp = array_module([ct, x])
    idx = _window_choice_xp(x, kind, params)
    _, _, padding, bdil, _ = _window_params(params)
    acc = xp.zeros([_dilated(n, d) + lo + hi for n, d, (lo, hi) in zip(x.shape, bdil, padding)],
                   ct.dtype)
    for k, sl in _offset_slices(params, ct.shape):
        acc[sl] += xp.where(idx == k, ct, xp.zeros((), ct.dtype))
    return _crop_dilated(acc, x.shape, padding, bdil, xp)


for _p, _fn in [(conv_general_dilated_p, _conv_xp),
                (reduce_window_sum_p, _reduce_window_xp("sum")),
                (reduce_window_max_p, _reduce_window_xp("max")),
                (reduce_window_min_p, _reduce_window_xp("min")),
                (select_gather_p, _window_gather_xp),
                (select_scatter_p, _window_scatter_xp)]:
    _p.def_impl(_fn, "cupy")


__all__ = ["conv_dimension_numbers", "conv_general_dilated", "padtype_to_pads",
           "reduce_window"]
