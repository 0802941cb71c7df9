"""Differences, gradients, integrals, interpolation and the array-API cumulative scans,
composed from `fnad.numpy` functions (so they are differentiable and jittable)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentError, ArgumentTypeError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.numpy._core import (
    asarray,
    is_scalar,
    normalize_axes,
    normalize_axis,
    result_type,
    shape_of,
)
from fnad.numpy._indexing import take
from fnad.numpy._reductions import cumprod, cumsum, sum
from fnad.numpy._shape import concatenate, moveaxis, ravel, slice_axis
from fnad.numpy._sorting import searchsorted
from fnad.numpy._ufuncs import (
    add,
    clip,
    divide,
    multiply,
    not_equal,
    remainder,
    subtract,
    where,
)


def _inexact(x: Any) -> Any:
    """`x` as a float array: floats keep their dtype, integers and bools become float64."""
    x = asarray(x)
    return x if get_aval(x).dtype.kind in "fc" else lax.convert_element_type(x, np.float64)


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """The n-th discrete difference along `axis` (`!=` for bools), after joining
    `prepend` and `append` (broadcast to the other axes) to the ends.

    >>> diff(np.array([1, 4, 9, 16]), n=2)
    array([2, 2])
    """
    a = asarray(a)
    nd = get_aval(a).ndim
    if nd == 0:
        raise ShapeError(f"diff needs an array of rank >= 1, got a scalar{user_line()}")
    if n < 0:
        raise ArgumentError(f"diff: order n must be non-negative, got {n}")
    ax = normalize_axis(axis, nd)
    ends = []
    for v in (prepend, append):
        if v is None:
            ends.append(None)
            continue
        # scalars are weak: a float meets an integer array as NumPy's promotion says
        v = asarray(v, result_type(a, v)) if is_scalar(v) else asarray(v)
        if get_aval(v).ndim == 0:
            shape = list(get_aval(a).shape)
            shape[ax] = 1
            v = lax.broadcast_in_dim(v, tuple(shape), ())
        ends.append(v)
    parts = [p for p in (ends[0], a, ends[1]) if p is not None]
    a = concatenate(parts, ax) if len(parts) > 1 else a
    for _ in range(n):
        k = get_aval(a).shape[ax]
        hi, lo = slice_axis(a, ax, min(1, k), k), slice_axis(a, ax, 0, max(k - 1, 0))
        a = not_equal(hi, lo) if get_aval(a).dtype == np.bool_ else subtract(hi, lo)
    return a


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    """The differences of the flattened array, with `to_begin` / `to_end` joined on.

    >>> ediff1d(np.array([1, 2, 4]), to_begin=0)
    array([0, 1, 2])
    """
    d = diff(ravel(asarray(ary)))
    dt = get_aval(d).dtype
    parts = [ravel(asarray(v, dt)) for v in (to_begin,) if v is not None] + [d]
    parts += [ravel(asarray(v, dt)) for v in (to_end,) if v is not None]
    return concatenate(parts) if len(parts) > 1 else d


def _spacing(h: Any, n: int, dt: np.dtype) -> Any:
    """The n - 1 steps along an axis: from a scalar spacing or from coordinates."""
    h = asarray(h)
    if get_aval(h).ndim == 0:
        return lax.broadcast_in_dim(lax.convert_element_type(h, dt), (n - 1,), ())
    if get_aval(h).shape != (n,):
        raise ShapeError(f"gradient: coordinates of shape {get_aval(h).shape} must match the "
                         f"axis length {n}{user_line()}")
    return lax.convert_element_type(diff(h), dt)


def _gradient_axis(f: Any, ax: int, dx: Any, edge_order: int) -> Any:
    f = moveaxis(f, ax, -1)
    n = shape_of(f)[-1]
    if n < edge_order + 1:
        raise ArgumentError(f"gradient: an axis of length {n} needs edge_order < {n} "
                         f"(got {edge_order}){user_line()}")
    dt = get_aval(f).dtype
    d1, d2 = slice_axis(dx, 0, 0, n - 2), slice_axis(dx, 0, 1, n - 1)
    s = add(d1, d2)
    inner = add(add(multiply(f[..., :-2], divide(-d2, multiply(d1, s))),
                    multiply(f[..., 1:-1], divide(subtract(d2, d1), multiply(d1, d2)))),
                multiply(f[..., 2:], divide(d1, multiply(d2, s))))
    if edge_order == 1:
        first = divide(subtract(f[..., 1:2], f[..., 0:1]), dx[0:1])
        last = divide(subtract(f[..., -1:], f[..., -2:-1]), dx[-1:])
    else:
        a1, a2 = dx[0:1], dx[1:2]
        first = add(add(multiply(f[..., 0:1], -(2 * a1 + a2) / (a1 * (a1 + a2))),
                        multiply(f[..., 1:2], (a1 + a2) / (a1 * a2))),
                    multiply(f[..., 2:3], -a1 / (a2 * (a1 + a2))))
        b1, b2 = dx[-2:-1], dx[-1:]
        last = add(add(multiply(f[..., -3:-2], b2 / (b1 * (b1 + b2))),
                       multiply(f[..., -2:-1], -(b1 + b2) / (b1 * b2))),
                   multiply(f[..., -1:], (2 * b2 + b1) / (b2 * (b1 + b2))))
    out = concatenate([first, inner, last], -1)
    return moveaxis(lax.convert_element_type(out, dt), -1, ax)


def gradient(f: Any, *varargs: Any, axis: int | Sequence[int] | None = None,
             edge_order: int | None = None) -> Any:
    """NumPy's `gradient`: second-order central differences inside, one-sided differences
    of `edge_order` (1 or 2) at the ends; spacings are scalars or coordinate arrays, one
    per axis. A tuple of arrays for several axes, one array for one.

    >>> gradient(np.array([1.0, 2.0, 4.0, 7.0]))
    array([1. , 1.5, 2.5, 3. ])
    """
    f = _inexact(f)
    nd = get_aval(f).ndim
    if axis is None or isinstance(axis, (int, np.integer)):
        axes = normalize_axes(axis, nd)
    else:  # NumPy keeps the order the axes are given in
        axes = tuple(normalize_axis(a, nd) for a in axis)
    edge_order = 1 if edge_order is None else edge_order
    if edge_order not in (1, 2):
        raise ArgumentError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    if len(varargs) == 0:
        spacings: list[Any] = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise ArgumentTypeError(f"gradient: give one spacing, or one per axis ({len(axes)}), got "
                        f"{len(varargs)}")
    dt = get_aval(f).dtype
    outs = [_gradient_axis(f, ax, _spacing(h, shape_of(f)[ax], dt), edge_order)
            for ax, h in zip(axes, spacings)]
    return outs[0] if len(outs) == 1 else tuple(outs)


def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> Any:
    """The integral of `y` along `axis` by the trapezoid rule, at sample points `x` (or
    spacing `dx`).

    >>> trapezoid(np.array([1.0, 2.0, 3.0]))
    array(4.)
    """
    y = _inexact(y)
    ax = normalize_axis(axis, get_aval(y).ndim)
    y = moveaxis(y, ax, -1)
    n = shape_of(y)[-1]
    if x is None:
        d: Any = dx
    else:
        x = _inexact(x)
        d = diff(x, axis=-1 if get_aval(x).ndim == 1 else ax)
        if get_aval(x).ndim > 1:
            d = moveaxis(d, ax, -1)
    mid = multiply(add(slice_axis(y, get_aval(y).ndim - 1, 1, n),
                       slice_axis(y, get_aval(y).ndim - 1, 0, max(n - 1, 0))), 0.5)
    return sum(multiply(mid, d), axis=-1)


def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None) -> Any:
    """Piecewise-linear interpolation of (xp, fp) at x (xp increasing); `left`/`right`
    outside (default fp[0], fp[-1]); with `period`, xp and x are taken modulo it. The
    result has the common float dtype of the inputs (float32 stays float32); a complex
    `fp` gives a complex result.

    >>> interp(np.array([0.5, 3.0]), np.array([0.0, 1.0, 2.0]), np.array([0.0, 10.0, 0.0]))
    array([5., 0.])
    """
    x, xp, fp = asarray(x), asarray(xp), asarray(fp)
    if get_aval(xp).ndim != 1 or get_aval(fp).ndim != 1 or shape_of(xp) != shape_of(fp):
        raise ShapeError(f"interp needs 1-d xp and fp of one length, got {shape_of(xp)} and "
                         f"{shape_of(fp)}{user_line()}")
    if shape_of(xp)[0] == 0:
        raise ArgumentError("interp: xp and fp must not be empty")
    dt = result_type(x, xp, fp, 1.0)
    if dt.kind not in "fc":
        dt = np.dtype(np.float64)
    # x and xp are real coordinates; a complex fp keeps its imaginary part
    x, xp = (lax.convert_element_type(v, np.finfo(dt).dtype) for v in (x, xp))
    fp = lax.convert_element_type(fp, dt)
    if period is not None:
        period = abs(period)
        x, xp = remainder(x, period), remainder(xp, period)
        from fnad.numpy._sorting import argsort
        order = argsort(xp)
        xp, fp = (take(v, order, mode="promise_in_bounds") for v in (xp, fp))
        xp = concatenate([xp[-1:] - period, xp, xp[0:1] + period])
        fp = concatenate([fp[-1:], fp, fp[0:1]])
    n = shape_of(xp)[0]
    if n == 1:
        j = lax.full_like(x, 0, np.int64)
        mid = lax.broadcast_in_dim(fp[0], shape_of(x), ())
    else:
        j = clip(subtract(searchsorted(xp, x, side="right"), 1), 0, n - 2)
        x0, x1, f0, f1 = (take(v, k, mode="promise_in_bounds") for v, k in
                          ((xp, j), (xp, j + 1), (fp, j), (fp, j + 1)))
        same = lax.eq(x1, x0)  # a repeated knot: no slope (a safe one, for the derivative)
        slope = divide(subtract(f1, f0), where(same, 1, subtract(x1, x0)))
        mid = add(f0, multiply(slope, subtract(x, x0)))  # NumPy's slope * (x - x0) + f0
        # exactly at the interval's right knot (the last one): its value, and the slope as
        # the derivative, as JAX's
        at_knot = where(same, f1, add(f1, multiply(slope, subtract(x, x1))))
        mid = where(lax.eq(x, x1), at_knot, mid)
    if period is not None:
        return mid
    lo = fp[0] if left is None else left
    hi = fp[-1] if right is None else right
    return where(lax.lt(x, xp[0]), lo, where(lax.gt(x, xp[-1]), hi, mid))


def _cumulative(fn: Any, identity: int, name: str) -> Any:
    def f(x: Any, /, *, axis: int | None = None, dtype: Any = None,
          include_initial: bool = False) -> Any:
        x = asarray(x)
        nd = get_aval(x).ndim
        if nd == 0:
            raise ShapeError(f"{name} needs an array of rank >= 1, got a scalar{user_line()}")
        if axis is None:
            if nd > 1:
                raise ArgumentError(f"{name}: axis must be given for arrays of rank > 1 "
                                 f"(got shape {shape_of(x)})")
            axis = 0
        ax = normalize_axis(axis, nd)
        out = fn(x, axis=ax, dtype=dtype)
        if include_initial:
            shape = list(shape_of(out))
            shape[ax] = 1
            init = lax.full(tuple(shape), identity, get_aval(out).dtype)
            out = concatenate([init, out], ax)
        return out

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"The array-API `{name}` along `axis` (required above rank 1), with the "
                 f"identity ({identity}) first if `include_initial`.")
    return f


cumulative_sum = _cumulative(cumsum, 0, "cumulative_sum")
cumulative_prod = _cumulative(cumprod, 1, "cumulative_prod")

__all__ = ["cumulative_prod", "cumulative_sum", "diff", "ediff1d", "gradient", "interp",
           "trapezoid"]
