"""Statistics: the NaN-ignoring reductions, order statistics (median, quantile,
percentile), averages, covariance and histograms, composed from `fnad.numpy` and
`fnad.lax` (differentiable where NumPy's are smooth: quantiles through the sort)."""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import (
    ArgumentError,
    ArgumentTypeError,
    DTypeError,
    ShapeError,
    check_no_out,
    check_one_device,
    user_line,
)
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.lax.elementwise import abs_squared
from fnad.numpy._core import (
    asarray,
    broadcast_to,
    is_scalar,
    normalize_axes,
    normalize_axis,
    result_type,
    shape_of,
)
from fnad.numpy._indexing import at, take_along_axis
from fnad.numpy._products import diagonal, matmul
from fnad.numpy._reductions import (
    Axis,
    argmax,
    argmin,
    cumprod,
    cumsum,
    max,
    mean,
    min,
    prod,
    sqrt,
    sum,
)
from fnad.numpy._shape import concatenate, expand_dims, moveaxis, ravel, reshape, stack
from fnad.numpy._sorting import searchsorted, sort
from fnad.numpy._ufuncs import (
    add,
    ceil,
    clip,
    divide,
    equal,
    floor,
    isnan,
    less,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    subtract,
    where,
)

# ------------------------------------------------------------------ NaN-ignoring reductions


def _is_float(a: Any) -> bool:
    return get_aval(a).dtype.kind in "fc"


def _all_nan(a: Any, axis: Axis, keepdims: bool) -> Any:
    from fnad.numpy._reductions import all as all_
    return all_(isnan(a), axis, keepdims=keepdims)


def nanmax(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False,
           initial: Any = None, where: Any = None) -> Any:
    """The largest non-NaN element along `axis`: NaN where all are NaN, unless `initial`
    is given (it joins every slice; `where=` needs it, as in `max`).

    >>> nanmax(np.array([1.0, np.nan, 3.0]))
    array(3.)
    """
    return _nan_extremum(max, -np.inf, "nanmax", a, axis, out, keepdims, initial, where)


def nanmin(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False,
           initial: Any = None, where: Any = None) -> Any:
    """The smallest non-NaN element along `axis` (see `nanmax`)."""
    return _nan_extremum(min, np.inf, "nanmin", a, axis, out, keepdims, initial, where)


def _nan_extremum(fn: Any, fill: float, name: str, a: Any, axis: Axis, out: None,
                  keepdims: bool, initial: Any, where_: Any) -> Any:
    if out is not None:
        check_no_out(name, out)
    a = asarray(a)
    if not _is_float(a):
        return fn(a, axis, None, keepdims, initial, where_)
    result = fn(where(isnan(a), fill, a), axis, None, keepdims, initial, where_)
    if initial is not None:  # JAX's: the initial value answers for all-NaN slices
        return result
    return where(_all_nan(a, axis, keepdims), np.nan, result)


def _nan_arg(fn: Any, fill: float, name: str) -> Any:
    def f(a: Any, axis: int | None = None, out: None = None, keepdims: bool | None = None
          ) -> Any:
        if out is not None:
            check_no_out(name, out)
        keepdims = bool(keepdims)
        a = asarray(a)
        if not _is_float(a):
            return fn(a, axis, keepdims=keepdims)
        out = fn(where(isnan(a), fill, a), axis, keepdims=keepdims)
        return where(_all_nan(a, axis, keepdims), np.int64(-1), out)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"`{fn.__name__}` ignoring NaNs; -1 where a slice is all NaN (JAX's "
                 "answer: NumPy raises, which cannot happen under jit).")
    return f


nanargmax = _nan_arg(argmax, -np.inf, "nanargmax")
nanargmin = _nan_arg(argmin, np.inf, "nanargmin")


def _zero_nans(a: Any, value: float) -> Any:
    a = asarray(a)
    return where(isnan(a), value, a) if _is_float(a) else a


def nanprod(a: Any, axis: Axis = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
    """`prod` treating NaNs as one."""
    return prod(_zero_nans(a, 1), axis, dtype, out, keepdims, initial, where)


def nancumsum(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """`cumsum` treating NaNs as zero."""
    return cumsum(_zero_nans(a, 0), axis, dtype, out)


def nancumprod(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """`cumprod` treating NaNs as one."""
    return cumprod(_zero_nans(a, 1), axis, dtype, out)


_where = where  # nanvar's parameter `where` shadows the function


def nanvar(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False, where: Any = None, mean: Any = None) -> Any:
    """The variance of the non-NaN elements (of those `where` selects) about their mean,
    or about `mean` when given (shaped as with keepdims=True), divided by count - ddof
    (NaN where that is not positive)."""
    from fnad.numpy._reductions import _float_stat, _nan_stat_dtype, var
    if out is not None:
        check_no_out("nanvar", out)
    _nan_stat_dtype("nanvar", a, dtype)
    if get_aval(asarray(a)).dtype.kind in "iub":  # no NaNs: NumPy's nanvar is var
        return var(a, axis, dtype, None, ddof, keepdims, where=where, mean=mean)
    a, out_dtype = _float_stat(np.var, a, dtype)
    valid = logical_not(isnan(a))
    if where is not None:
        valid = logical_and(valid, broadcast_to(asarray(where), get_aval(a).shape))
    count = sum(valid, axis, get_aval(a).dtype, keepdims=True)
    center = divide(sum(_where(valid, a, 0), axis, keepdims=True), count) if mean is None \
        else asarray(mean)
    centered = _where(valid, subtract(a, center), 0)
    ssq = sum(abs_squared(centered), axis, keepdims=keepdims)  # |d|**2: real for complex
    dof = subtract(count if keepdims else _squeeze_axes(count, a, axis), ddof)
    out = _where(lax.gt(dof, 0), divide(ssq, _where(lax.gt(dof, 0), dof, 1)), np.nan)
    return lax.convert_element_type(out, out_dtype)


def _squeeze_axes(x: Any, like: Any, axis: Axis) -> Any:
    axes = normalize_axes(axis, get_aval(like).ndim)
    return lax.squeeze(x, axes) if axes else x


def nanstd(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False, where: Any = None, mean: Any = None) -> Any:
    """The standard deviation of the non-NaN elements (see `nanvar`)."""
    return sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where, mean))


# ------------------------------------------------------------------ order statistics

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf")


def _quantile(a: Any, q: Any, axis: Axis, method: str, keepdims: bool, ignore_nan: bool,
              name: str) -> Any:
    if method not in _METHODS:
        raise ArgumentError(f"{name}: method must be one of {_METHODS}, got {method!r}")
    a = asarray(a)
    in_dtype = get_aval(a).dtype
    if in_dtype.kind == "c":  # it was converted, keeping the real part
        raise DTypeError(f"{name} does not take complex input (as in JAX): apply it to the "
                         f"real and imaginary parts separately{user_line()}")
    dt = in_dtype if in_dtype.kind == "f" else np.dtype(np.float64)
    if is_scalar(q):  # weak, as NumPy 2: a float32 array gives float32 quantiles
        q = np.asarray(q, np.float64)
    else:
        q = q if isinstance(q, (np.ndarray, Tracer)) else np.asarray(q, np.float64)
        dt = result_type(lax.full((), 0, dt), q)
    a = lax.convert_element_type(a, dt)
    # positions in q's precision (float64 for Python numbers and lists, as NumPy): a tiny q
    # must still move 'higher' off the first element
    pdt = np.result_type(get_aval(q).dtype, dt) if get_aval(q).dtype.kind == "f" else dt
    q = lax.convert_element_type(q, pdt)
    if get_aval(q).ndim > 1:
        raise ShapeError(f"{name}: q must be a scalar or 1-d, got shape {shape_of(q)}")
    shape = shape_of(a)
    axes = normalize_axes(axis, len(shape))
    keep = [d for d in range(len(shape)) if d not in axes]
    n = math.prod(shape[d] for d in axes)
    x = reshape(lax.transpose(a, keep + list(axes)), tuple(shape[d] for d in keep) + (n,))
    x = sort(x, axis=-1)  # NaNs last
    nan = isnan(x)
    if ignore_nan:
        count = sum(logical_not(nan), -1, keepdims=True)
    else:
        count = lax.full(shape_of(x)[:-1] + (1,), n, np.int64)
    qs = reshape(q, (1,) * (len(keep)) + (-1,)) if get_aval(q).ndim else \
        reshape(q, (1,) * (len(keep) + 1))
    if method == "inverted_cdf":  # the first element whose empirical CDF reaches q
        pos = subtract(ceil(multiply(qs, lax.convert_element_type(count, pdt))), 1)
    else:
        pos = multiply(qs, lax.convert_element_type(subtract(count, 1), pdt))
    pos = clip(pos, 0, None)
    lo = floor(pos)
    frac_p = subtract(pos, lo)
    frac = lax.convert_element_type(frac_p, dt)
    lo_i = lax.convert_element_type(lo, np.int64)
    top = subtract(lax.max(count, np.int64(1)), 1)
    hi_i = lax.min(lax.add(lo_i, np.int64(1)), lax.broadcast_in_dim(top, shape_of(lo_i),
                                                                     tuple(range(len(keep)+1))))
    lo_i = lax.min(lo_i, lax.broadcast_in_dim(top, shape_of(lo_i), tuple(range(len(keep) + 1))))
    xb = x if n else lax.full(shape_of(x)[:-1] + (1,), np.nan, dt)
    if n == 0:
        lo_i, hi_i = lax.full_like(lo_i, 0), lax.full_like(hi_i, 0)
    v_lo = take_along_axis(xb, lo_i, -1, mode="promise_in_bounds")
    v_hi = take_along_axis(xb, hi_i, -1, mode="promise_in_bounds")
    if method == "linear":  # weights, not v_lo + frac * (v_hi - v_lo): -inf and 1 give -inf
        out = add(multiply(v_lo, subtract(1, frac)), multiply(v_hi, frac))
        out = where(equal(frac_p, 0), v_lo, out)
    elif method in ("lower", "inverted_cdf"):
        out = v_lo
    elif method == "higher":
        out = where(equal(frac_p, 0), v_lo, v_hi)
    elif method == "midpoint":
        out = multiply(add(v_lo, v_hi), 0.5)
        out = where(equal(frac_p, 0), v_lo, out)
    else:  # nearest: a position halfway between goes down, as in JAX (NumPy: to even)
        out = where(lax.le(frac_p, 0.5), v_lo, v_hi)
    if ignore_nan:
        out = where(lax.eq(count, 0), np.nan, out)
    else:
        from fnad.numpy._reductions import any as any_
        out = where(any_(nan, -1, keepdims=True), np.nan, out)
    out = moveaxis(out, -1, 0)  # q's axis first, as NumPy
    if method in ("lower", "higher", "nearest", "inverted_cdf"):  # elements of `a`: NumPy
        # keeps its dtype
        out = lax.convert_element_type(out, in_dtype)
    if keepdims:
        out = reshape(out, shape_of(out)[:1] + tuple(1 if d in axes else shape[d]
                                                      for d in range(len(shape))))
    return out if get_aval(q).ndim else lax.squeeze(out, (0,))


def _weighted_quantile(a: Any, q: Any, axis: Axis, keepdims: bool, ignore_nan: bool,
                       weights: Any, name: str) -> Any:
    """method='inverted_cdf' with `weights` (NumPy 2's and JAX's): the first sorted element
    whose cumulative weight reaches q times the total. Weights of `a`'s shape, or of the
    reduced axes' shape; a negative or NaN weight makes the slice NaN, as in JAX."""
    from fnad.numpy._reductions import all as all_, any as any_
    from fnad.numpy._sorting import argsort
    a, weights = asarray(a), asarray(weights)
    dt = result_type(a, weights)
    if dt.kind == "c":
        raise DTypeError(f"{name} does not take complex input or weights (as in JAX)")
    dt = dt if dt.kind == "f" else np.dtype(np.float64)
    shape = shape_of(a)
    axes = normalize_axes(axis, len(shape))
    if shape_of(weights) != shape:
        if axis is None or shape_of(weights) != tuple(shape[d] for d in axes):
            raise ShapeError(f"{name}: weights of shape {shape_of(weights)} fit neither `a` "
                             f"{shape} nor its reduced axes {axis}")
        weights = lax.broadcast_in_dim(weights, shape, axes)
    keep = [d for d in range(len(shape)) if d not in axes]
    n = math.prod(shape[d] for d in axes)
    flat = [reshape(lax.transpose(lax.convert_element_type(v, dt), keep + list(axes)),
                    tuple(shape[d] for d in keep) + (n,)) for v in (a, weights)]
    order = argsort(flat[0], axis=-1)  # NaNs last
    x, w = (take_along_axis(v, order, -1) for v in flat)
    nan, bad = isnan(x), logical_or(lax.lt(w, lax.full((), 0, dt)), isnan(w))
    cum = cumsum(where(logical_or(bad, nan), 0, w), -1)
    total = lax.slice_in_dim(cum, n - 1, n, axis=len(keep))
    qs = lax.convert_element_type(asarray(q), dt)
    ranked = reshape(qs, (-1,) + (1,) * (len(keep) + 1))
    idx = sum(less(expand_dims(cum, 0), multiply(ranked, expand_dims(total, 0))), -1)
    valid = sum(logical_not(nan), -1) if ignore_nan else np.int64(n)
    idx = maximum(minimum(idx, subtract(valid, 1)), 0)
    xs = lax.broadcast_in_dim(x, (shape_of(idx)[0], *shape_of(x)), tuple(range(1, x.ndim + 1)))
    out = lax.squeeze(take_along_axis(xs, expand_dims(idx, -1), -1), (xs.ndim - 1,))
    force = logical_or(any_(bad, -1), all_(nan, -1) if ignore_nan else any_(nan, -1))
    out = where(force, np.nan, out)
    if keepdims:
        out = reshape(out, shape_of(out)[:1] + tuple(1 if d in axes else shape[d]
                                                      for d in range(len(shape))))
    return out if get_aval(qs).ndim else lax.squeeze(out, (0,))


def _order_stat(name: str, ignore_nan: bool, scale: float, doc: str) -> Any:
    def f(a: Any, q: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False,
          method: str = "linear", keepdims: bool = False, *, weights: Any = None,
          interpolation: None = None, out_sharding: Any = None) -> Any:
        if out is not None:
            check_no_out(name, out)
        if out_sharding is not None:
            check_one_device(name, out_sharding=out_sharding)
        if interpolation is not None:
            raise ArgumentTypeError(f"{name}: `interpolation` was renamed `method` in NumPy 1.22")
        if scale != 1:
            q = q / scale if is_scalar(q) else divide(asarray(q, np.float64)
                                                        if isinstance(q, list) else q, scale)
        if weights is None:
            return _quantile(a, q, axis, method, keepdims, ignore_nan, name)
        if method != "inverted_cdf":
            raise ArgumentError(f"{name}: only method='inverted_cdf' takes weights (as in JAX "
                                f"and NumPy), got method={method!r}")
        return _weighted_quantile(a, q, axis, keepdims, ignore_nan, weights, name)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    return f


quantile = _order_stat("quantile", False, 1, """The q-th quantiles (q in [0, 1]) along `axis`
by `method` ('linear', 'lower', 'higher', 'midpoint', 'nearest', 'inverted_cdf'); q's axis
comes first.

>>> quantile(np.array([1.0, 2.0, 3.0, 4.0]), 0.5)
array(2.5)
""")
nanquantile = _order_stat("nanquantile", True, 1, "`quantile` ignoring NaNs.")
percentile = _order_stat("percentile", False, 100, "`quantile` with q in percent.")
nanpercentile = _order_stat("nanpercentile", True, 100, "`percentile` ignoring NaNs.")


def median(a: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    """The median along `axis` (NaN if a slice holds a NaN).

    >>> median(np.array([3.0, 1.0, 2.0, 10.0]))
    array(2.5)
    """
    return quantile(a, 0.5, axis, keepdims=keepdims)


def nanmedian(a: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Any:
    """The median of the non-NaN elements along `axis`."""
    return nanquantile(a, 0.5, axis, keepdims=keepdims)


# ------------------------------------------------------------------ averages and spreads


def average(a: Any, axis: Axis = None, weights: Any = None, returned: bool = False,
            keepdims: bool = False) -> Any:
    """The (weighted) mean along `axis`; with `returned`, also the sum of the weights.
    Weights shaped as `a`, or as `a` along the axes of `axis` (in their order, as NumPy 2).

    >>> average(np.array([1.0, 2.0, 4.0]), weights=np.array([1.0, 1.0, 2.0]))
    np.float64(2.75)
    """
    a = asarray(a)
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        axes = normalize_axes(axis, get_aval(a).ndim)
        count = math.prod(shape_of(a)[d] for d in axes)
        return (avg, lax.full_like(avg, count)) if returned else avg
    w = asarray(weights)
    dt = result_type(a, w, 1.0)
    dt = dt if dt.kind in "fc" else np.dtype(np.float64)
    if get_aval(a).dtype.kind in "iub" and get_aval(w).dtype.kind in "iub":
        dt = np.dtype(np.float64)
    a, w = lax.convert_element_type(a, dt), lax.convert_element_type(w, dt)
    if shape_of(w) != shape_of(a):
        axes = None if axis is None else [normalize_axis(d, get_aval(a).ndim) for d in
                                          ((axis,) if isinstance(axis, (int, np.integer))
                                           else axis)]
        if axes is None or shape_of(w) != tuple(shape_of(a)[d] for d in axes):
            raise ShapeError(f"average: weights of shape {shape_of(w)} fit neither a's shape "
                             f"{shape_of(a)} nor its shape along axis={axis}{user_line()}")
        order = [int(i) for i in np.argsort(axes)]
        w = lax.broadcast_in_dim(lax.transpose(w, order), shape_of(a), tuple(sorted(axes)))
    scl = sum(w, axis, keepdims=keepdims)
    avg = divide(sum(multiply(a, w), axis, keepdims=keepdims), scl)
    return (avg, lax.broadcast_in_dim(scl, shape_of(avg), tuple(range(get_aval(scl).ndim)))
            if get_aval(scl).shape != shape_of(avg) else scl) if returned else avg


def ptp(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False) -> Any:
    """max - min along `axis` (peak to peak)."""
    return subtract(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: int | None = None,
        fweights: Any = None, aweights: Any = None, dtype: Any = None) -> Any:
    """The covariance matrix of the variables (rows, or columns if not `rowvar`), with
    NumPy's frequency and analytic weights. Computed in `dtype` (a float or complex
    dtype) when given; else floats keep their dtype and integers give float64.

    >>> cov(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    if dtype is not None:
        if np.dtype(dtype).kind not in "fc":
            raise DTypeError(f"cov: dtype must be a float or complex dtype, got {dtype}")
        m, y = asarray(m, dtype), None if y is None else asarray(y, dtype)
    m = asarray(m)
    if get_aval(m).ndim > 2:
        raise ShapeError(f"cov: m must have rank <= 2, got shape {shape_of(m)}{user_line()}")
    dt = get_aval(m).dtype if _is_float(m) else np.dtype(np.float64)
    x = lax.convert_element_type(m, dt)
    if get_aval(x).ndim < 2:
        x = reshape(x, (1, -1))
    if not rowvar and shape_of(x)[0] != 1:
        x = x.T if isinstance(x, Tracer) else np.transpose(x)
        x = asarray(x)
    if y is not None:
        yy = asarray(y)
        yy = lax.convert_element_type(yy if get_aval(yy).ndim == 2 else reshape(yy, (1, -1)),
                                      dt)
        if not rowvar and shape_of(yy)[0] != 1:
            yy = lax.transpose(yy, (1, 0))
        x = concatenate([x, yy], 0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = shape_of(x)[1]
    w = None
    for wt in (fweights, aweights):
        if wt is not None:
            wt = lax.convert_element_type(asarray(wt), dt)
            w = wt if w is None else multiply(w, wt)
    if w is None:
        avg = mean(x, 1)
        fact: Any = n - ddof
        xc = subtract(x, expand_dims(avg, 1))
        c = matmul(xc, lax.transpose(xc, (1, 0)))
    else:
        w_sum = sum(w)
        avg = divide(sum(multiply(x, w), 1), w_sum)
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = subtract(w_sum, ddof)
        else:
            aw = lax.convert_element_type(asarray(aweights), dt)
            fact = subtract(w_sum, divide(multiply(ddof, sum(multiply(w, aw))), w_sum))
        xc = subtract(x, expand_dims(avg, 1))
        c = matmul(multiply(xc, w), lax.transpose(xc, (1, 0)))
    c = divide(c, fact)
    return lax.squeeze(c, (0, 1)) if shape_of(c) == (1, 1) else c


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, dtype: Any = None) -> Any:
    """The Pearson correlation coefficients: `cov` (in `dtype`, when given) normalized by
    the standard deviations, clipped to [-1, 1]."""
    c = cov(x, y, rowvar, dtype=dtype)
    if get_aval(c).ndim == 0:
        return divide(c, c)
    d = diagonal(c)
    s = sqrt(d)
    c = divide(divide(c, expand_dims(s, 1)), expand_dims(s, 0))
    return clip(c, -1, 1)


# ------------------------------------------------------------------ histograms


def _edges(a: Any, bins: Any, rng: Any, fn: str) -> Any:
    """Bin edges: the given (increasing) edges, or `bins + 1` evenly spaced over `range`
    (default the data's min and max, widened by 1/2 when they are equal)."""
    if not isinstance(bins, (int, np.integer)):
        e = asarray(bins)
        if get_aval(e).ndim != 1:
            raise ShapeError(f"{fn}: bin edges must be 1-d, got shape {shape_of(e)}"
                             f"{user_line()}")
        return e
    if bins < 1:
        raise ArgumentError(f"{fn}: bins must be a positive integer, got {bins}")
    dt = get_aval(a).dtype if _is_float(a) else np.dtype(np.float64)
    if rng is None:
        if get_aval(a).size == 0:
            lo, hi = np.asarray(0.0, dt), np.asarray(1.0, dt)
        else:
            lo = lax.convert_element_type(min(a), dt)
            hi = lax.convert_element_type(max(a), dt)
    else:
        lo, hi = (lax.convert_element_type(asarray(v), dt) for v in rng)
    same = equal(lo, hi)
    lo, hi = where(same, subtract(lo, 0.5), lo), where(same, add(hi, 0.5), hi)
    delta = subtract(hi, lo)
    step = divide(delta, np.asarray(bins, dt))  # as np.linspace: i * step + lo, exactly hi
    i = np.arange(int(bins), dtype=dt)          # last, and i / bins * delta + lo where the
    inner = add(where(equal(step, 0), multiply(divide(i, np.asarray(bins, dt)), delta),
                      multiply(i, step)), lo)   # step underflows (a subnormal range)
    return concatenate([inner, reshape(lax.convert_element_type(hi, dt), (1,))])


def _bin_index(a: Any, edges: Any) -> tuple[Any, Any]:
    """The bin of each value and whether it lies within the edges (the last bin closed)."""
    nb = shape_of(edges)[0] - 1
    idx = subtract(searchsorted(edges, a, side="right"), 1)
    idx = where(equal(a, edges[-1]), nb - 1, idx)
    inside = logical_and(lax.ge(idx, 0), lax.lt(idx, nb))
    return where(inside, idx, 0), inside


def histogram_bin_edges(a: Any, bins: Any = 10, range: Any = None,  # noqa: A002
                        weights: Any = None) -> Any:
    """The edges `histogram` would use.

    >>> histogram_bin_edges(np.array([0.0, 1.0]), bins=2)
    array([0. , 0.5, 1. ])
    """
    del weights
    return _edges(ravel(asarray(a)), bins, range, "histogram_bin_edges")


def histogramdd(sample: Any, bins: Any = 10, range: Any = None,  # noqa: A002
                weights: Any = None, density: bool | None = None) -> tuple[Any, list[Any]]:
    """The D-dimensional histogram of N points (an (N, D) array): counts (int64, or the
    weights' dtype with `weights`; densities with `density`) and the D edge arrays.
    Points outside the edges are not counted."""
    s = asarray(sample)
    if get_aval(s).ndim == 1:
        s = reshape(s, (-1, 1))
    if get_aval(s).ndim != 2:
        raise ShapeError(f"histogramdd: sample must be (N, D), got {shape_of(s)}{user_line()}")
    npts, d = shape_of(s)
    bins_list = list(bins) if isinstance(bins, (list, tuple)) else [bins] * d
    ranges = list(range) if range is not None else [None] * d
    if len(bins_list) != d or len(ranges) != d:
        raise ShapeError(f"histogramdd: {len(bins_list)} bins and {len(ranges)} ranges for "
                         f"{d} dimensions{user_line()}")
    cols = [s[:, k] for k in builtins.range(d)]
    edges = [_edges(c, b, r, "histogramdd") for c, b, r in zip(cols, bins_list, ranges)]
    sizes = [shape_of(e)[0] - 1 for e in edges]
    flat = lax.full((npts,), 0, np.int64)
    inside = lax.full((npts,), True, np.bool_)
    for c, e, nb in zip(cols, edges, sizes):
        i, ok = _bin_index(c, e)
        flat = add(multiply(flat, nb), i)
        inside = logical_and(inside, ok)
    if weights is None:
        w = lax.convert_element_type(inside, np.int64)
    else:
        w = asarray(weights)
        w = where(inside, w, lax.full_like(w, 0))
    total = math.prod(sizes)
    hist = at(lax.full((total,), 0, get_aval(w).dtype))[flat].add(w)
    hist = reshape(hist, tuple(sizes))
    if density:
        hist = lax.convert_element_type(hist, np.result_type(get_aval(w).dtype, np.float32)
                                        if get_aval(w).dtype.kind == "f" else np.float64)
        widths = [diff_(e) for e in edges]
        vol = widths[0]
        for k, wk in enumerate(widths[1:], 1):
            vol = multiply(expand_dims(vol, -1), reshape(wk, (1,) * k + (-1,)))
        hist = divide(divide(hist, sum(hist)), vol)
    return hist, edges


def diff_(e: Any) -> Any:
    return subtract(e[1:], e[:-1])


def histogram(a: Any, bins: Any = 10, range: Any = None, weights: Any = None,  # noqa: A002
              density: bool | None = None) -> tuple[Any, Any]:
    """Counts of the flattened `a` in `bins` (a count of equal bins over `range`, or
    increasing edges; the last bin includes its right edge) and the edges.

    >>> histogram(np.array([0.0, 0.2, 0.9, 1.0]), bins=2)
    (array([2, 2]), array([0. , 0.5, 1. ]))
    """
    a = ravel(asarray(a))
    w = None if weights is None else ravel(asarray(weights))
    edges = _edges(a, bins, range, "histogram")
    hist, _ = histogramdd(reshape(a, (-1, 1)), [edges], None, w, density)
    return hist, edges


def histogram2d(x: Any, y: Any, bins: Any = 10, range: Any = None,  # noqa: A002
                weights: Any = None, density: bool | None = None) -> tuple[Any, Any, Any]:
    """The 2-d histogram of the points (x, y): counts, x edges, y edges."""
    if isinstance(bins, (int, np.integer)) or (not isinstance(bins, (list, tuple))
                                               and np.ndim(bins) == 1):
        bins = [bins, bins]
    hist, edges = histogramdd(stack([ravel(asarray(x)), ravel(asarray(y))], 1), bins, range,
                              weights, density)
    return hist, edges[0], edges[1]


def bincount(x: Any, weights: Any = None, minlength: int = 0, *, length: int | None = None,
             out_sharding: Any = None) -> Any:
    """How often each value 0, 1, ... occurs in the non-negative int array `x` (or the sum
    of its `weights`). The length is max(x) + 1 (at least `minlength`) for concrete `x`;
    under jit give `length=` (larger values are dropped and negative ones counted in bin
    0, as in JAX; without `length`, negative values raise, as in NumPy).

    >>> bincount(np.array([0, 1, 1, 3]))
    array([1, 2, 0, 1])
    """
    if out_sharding is not None:
        check_one_device("bincount", out_sharding=out_sharding)
    x = asarray(x)
    if get_aval(x).ndim != 1 or get_aval(x).dtype.kind not in "iub":
        raise ShapeError(f"bincount needs a 1-d array of non-negative integers, got "
                         f"{get_aval(x)}{user_line()}")
    if length is None:
        from fnad.numpy._sets import concrete
        cx = concrete(x, "bincount", "length")
        if cx.size and cx.min() < 0:
            raise ArgumentError("bincount: x must hold non-negative integers")
        length = builtins.max(int(cx.max()) + 1 if cx.size else 0, minlength)
    w = lax.full(shape_of(x), 1, np.int64) if weights is None else asarray(weights)
    out = lax.full((int(length),), 0, get_aval(w).dtype)
    if get_aval(x).dtype.kind == "b":  # counts of False and True, not a mask
        x = lax.convert_element_type(x, np.int64)
    return at(out)[clip(x, 0, None)].add(w, mode="drop")


__all__ = [
    "average", "bincount", "corrcoef", "cov", "histogram", "histogram2d",
    "histogram_bin_edges", "histogramdd", "median", "nanargmax", "nanargmin", "nancumprod",
    "nancumsum", "nanmax", "nanmedian", "nanmin", "nanpercentile", "nanprod", "nanquantile",
    "nanstd", "nanvar", "percentile", "ptp", "quantile",
]
