"""Convolution and the `poly*` family on coefficient arrays (highest power first, as
NumPy's legacy polynomial functions): convolutions run on `lax.conv_general_dilated`,
least squares (`polyfit`) on a Gram-Schmidt QR made of products and sums, so all of
them are differentiable and jittable."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentError, ArgumentTypeError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.numpy._core import asarray, promote_dtypes, result_type, shape_of
from fnad.numpy._math import conj
from fnad.numpy._reductions import sum
from fnad.numpy._sets import concrete
from fnad.numpy._shape import concatenate, flip, reshape, stack
from fnad.numpy._ufuncs import add, divide, multiply, sqrt, subtract


def _conv_full(a: Any, v: Any, preferred_element_type: Any) -> Any:
    """The full discrete convolution of two 1-d arrays (length n + m - 1)."""
    dt = np.dtype(preferred_element_type) if preferred_element_type is not None else \
        result_type(a, v)
    a, v = (lax.convert_element_type(x, dt) for x in (a, v))
    n, m = shape_of(a)[0], shape_of(v)[0]
    if dt == np.bool_:
        a, v = (lax.convert_element_type(x, np.int32) for x in (a, v))
    out = lax.conv_general_dilated(reshape(a, (1, 1, n)), reshape(flip(v), (1, 1, m)), (1,),
                                   ((m - 1, m - 1),))
    out = reshape(out, (n + m - 1,))
    return lax.ne(out, 0) if dt == np.bool_ else out


def _mode_slice(full: Any, n: int, m: int, mode: str, fn: str) -> Any:
    big, small = max(n, m), min(n, m)
    if mode == "full":
        return full
    if mode == "same":
        lo = (small - 1) // 2
        return full[lo:lo + big]
    if mode == "valid":
        return full[small - 1:big]
    raise ArgumentError(f"{fn}: mode must be 'full', 'same' or 'valid', got {mode!r}")


def _check_1d(a: Any, v: Any, fn: str) -> tuple[Any, Any]:
    a, v = asarray(a), asarray(v)
    if get_aval(a).ndim != 1 or get_aval(v).ndim != 1:
        raise ShapeError(f"{fn} needs 1-d arrays, got shapes {shape_of(a)} and {shape_of(v)}"
                         f"{user_line()}")
    if not shape_of(a)[0] or not shape_of(v)[0]:
        raise ArgumentError(f"{fn}: inputs must not be empty")
    return a, v


def convolve(a: Any, v: Any, mode: str = "full", *, precision: Any = None,
             preferred_element_type: Any = None) -> Any:
    """The discrete linear convolution of two 1-d arrays ('full', 'same' or 'valid').

    >>> convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    del precision
    a, v = _check_1d(a, v, "convolve")
    n, m = shape_of(a)[0], shape_of(v)[0]
    return _mode_slice(_conv_full(a, v, preferred_element_type), n, m, mode, "convolve")


def correlate(a: Any, v: Any, mode: str = "valid", *, precision: Any = None,
              preferred_element_type: Any = None) -> Any:
    """The cross-correlation c[k] = sum_n a[n + k] conj(v[n]) of two 1-d arrays ('valid' by
    default, as NumPy).

    >>> correlate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([3.5])
    """
    del precision
    a, v = _check_1d(a, v, "correlate")
    n, m = shape_of(a)[0], shape_of(v)[0]
    if m > n:  # NumPy: swap the operands, reverse (and conjugate) the result
        return conj(flip(correlate(v, a, mode, preferred_element_type=preferred_element_type)))
    return _mode_slice(_conv_full(a, flip(conj(v)), preferred_element_type), n, m, mode,
                       "correlate")


# ------------------------------------------------------------------ polynomials


def _poly1d(p: Any, fn: str) -> Any:
    p = asarray(p)
    if get_aval(p).ndim != 1:
        raise ShapeError(f"{fn} needs a 1-d coefficient array, got shape {shape_of(p)}"
                         f"{user_line()}")
    return p


def polyval(p: Any, x: Any, *, unroll: int = 16) -> Any:
    """The polynomial with coefficients `p` (highest power first) at `x`, by Horner's rule.

    >>> polyval(np.array([1.0, 0.0, -1.0]), np.array([2.0, 3.0]))
    array([3., 8.])
    """
    del unroll
    p, x = promote_dtypes(_poly1d(p, "polyval"), asarray(x))
    out = lax.full(shape_of(x), 0, get_aval(x).dtype)
    for i in range(shape_of(p)[0]):
        out = add(multiply(out, x), p[i])
    return out


def _pad_front(a: Any, n: int) -> Any:
    k = shape_of(a)[0]
    return a if k >= n else concatenate([lax.full((n - k,), 0, get_aval(a).dtype), a])


def polyadd(a1: Any, a2: Any) -> Any:
    """The sum of two polynomials (aligned at the constant term)."""
    a1, a2 = promote_dtypes(_poly1d(a1, "polyadd"), _poly1d(a2, "polyadd"))
    n = max(shape_of(a1)[0], shape_of(a2)[0])
    return add(_pad_front(a1, n), _pad_front(a2, n))


def polysub(a1: Any, a2: Any) -> Any:
    """The difference of two polynomials."""
    a1, a2 = promote_dtypes(_poly1d(a1, "polysub"), _poly1d(a2, "polysub"))
    n = max(shape_of(a1)[0], shape_of(a2)[0])
    return subtract(_pad_front(a1, n), _pad_front(a2, n))


def _trim(p: Any, fn: str) -> Any:
    """`p` without leading zeros (keeping one); needs concrete values."""
    nz = np.flatnonzero(concrete(p, fn, "trim_leading_zeros=False under jit"))
    return p[int(nz[0]):] if nz.size else p[-1:]


def polymul(a1: Any, a2: Any, *, trim_leading_zeros: bool = False) -> Any:
    """The product of two polynomials (their coefficients' convolution).

    >>> polymul(np.array([1.0, 1.0]), np.array([1.0, -1.0]))
    array([ 1.,  0., -1.])
    """
    a1, a2 = _poly1d(a1, "polymul"), _poly1d(a2, "polymul")
    if trim_leading_zeros:
        a1, a2 = _trim(a1, "polymul"), _trim(a2, "polymul")
    if not shape_of(a1)[0] or not shape_of(a2)[0]:
        return lax.full((0,), 0, result_type(a1, a2))
    return convolve(a1, a2)


def polydiv(u: Any, v: Any, *, trim_leading_zeros: bool = False) -> tuple[Any, Any]:
    """(quotient, remainder) of polynomial division. The remainder keeps the length of
    `u` (leading zeros included, as JAX's) unless `trim_leading_zeros` (NumPy's form,
    which needs concrete values)."""
    u, v = _poly1d(u, "polydiv"), _poly1d(v, "polydiv")
    dt = result_type(u, v, 1.0)
    dt = dt if dt.kind in "fc" else np.dtype(np.float64)
    u, v = (lax.convert_element_type(x, dt) for x in (u, v))
    if trim_leading_zeros:
        v = _trim(v, "polydiv")
    n, m = shape_of(u)[0], shape_of(v)[0]
    lead = v[0]
    rem = u
    q = []
    for k in range(max(n - m + 1, 0)):
        c = divide(rem[k], lead)
        q.append(c)
        sub = concatenate([lax.full((k,), 0, dt), multiply(c, v),
                           lax.full((n - k - m,), 0, dt)])
        rem = subtract(rem, sub)
    quot = stack(q) if q else lax.full((1,), 0, dt)
    if trim_leading_zeros:
        r = concrete(rem, "polydiv", "trim_leading_zeros=False under jit")
        k = 0
        while k < r.shape[0] - 1 and np.allclose(r[k], 0, rtol=1e-14):
            k += 1
        rem = rem[k:]
    return quot, rem


def polyder(p: Any, m: int = 1) -> Any:
    """The m-th derivative of a polynomial.

    >>> polyder(np.array([1.0, 2.0, 3.0]))
    array([2., 2.])
    """
    if m < 0:
        raise ArgumentError(f"polyder: order m must be non-negative, got {m}")
    p = _poly1d(p, "polyder")
    for _ in range(m):
        n = shape_of(p)[0]
        if n <= 1:
            return lax.full((0,), 0, get_aval(p).dtype)
        p = multiply(p[:-1], np.arange(n - 1, 0, -1).astype(get_aval(p).dtype))
    return p


def polyint(p: Any, m: int = 1, k: Any = None) -> Any:
    """The m-th antiderivative, with integration constants `k` (a scalar or m values,
    the first used first).

    >>> polyint(np.array([3.0, 2.0, 1.0]))
    array([1., 1., 1., 0.])
    """
    if m < 0:
        raise ArgumentError(f"polyint: order m must be non-negative, got {m}")
    p = _poly1d(p, "polyint")
    dt = get_aval(p).dtype if get_aval(p).dtype.kind in "fc" else np.dtype(np.float64)
    p = lax.convert_element_type(p, dt)
    if k is None:
        ks = [0] * m
    else:
        ks = list(np.ravel(k)) if not isinstance(k, Tracer) else [k[i] for i in range(m)]
        if len(ks) == 1 and m > 1:
            ks = ks * m
        if len(ks) != m:
            raise ArgumentError(f"polyint: k needs {m} constants, got {len(ks)}")
    for c in ks:
        n = shape_of(p)[0]
        p = concatenate([divide(p, np.arange(n, 0, -1).astype(dt)),
                         reshape(asarray(c, dt), (1,))])
    return p


def poly(seq_of_zeros: Any) -> Any:
    """The coefficients of the monic polynomial with the given roots; for a square matrix,
    of its characteristic polynomial (Faddeev-LeVerrier: products and traces only).

    >>> poly(np.array([1.0, 2.0]))
    array([ 1., -3.,  2.])
    """
    z = asarray(seq_of_zeros)
    dt = get_aval(z).dtype if get_aval(z).dtype.kind in "fc" else np.dtype(np.float64)
    z = lax.convert_element_type(z, dt)
    if get_aval(z).ndim == 2 and shape_of(z)[0] == shape_of(z)[1] and shape_of(z)[0] > 0:
        from fnad.numpy._products import matmul, trace
        n = shape_of(z)[0]
        eye = np.eye(n, dtype=dt)
        coeffs = [np.asarray(1, dt)]
        mk = lax.full((n, n), 0, dt)
        for k in range(1, n + 1):
            mk = add(matmul(z, mk), multiply(coeffs[-1], eye))
            coeffs.append(divide(trace(matmul(z, mk)), -k))
        return stack([asarray(c, dt) for c in coeffs])
    if get_aval(z).ndim != 1:
        raise ShapeError(f"poly needs a 1-d sequence of roots or a square matrix, got shape "
                         f"{shape_of(z)}{user_line()}")
    out = np.ones((1,), dt)
    for i in range(shape_of(z)[0]):
        out = convolve(out, stack([np.asarray(1, dt), -z[i]]))
    return out


def roots(p: Any, *, strip_zeros: bool = True) -> Any:
    """The roots of a polynomial, as the eigenvalues of its companion matrix (NumPy's for
    concrete coefficients). With `strip_zeros=False` (JAX's option) there are len(p) - 1
    roots, NaN for each leading zero coefficient (an undefined root); that form works under
    transforms too (the count of roots must not depend on the values there).

    >>> roots(np.array([1.0, -3.0, 2.0]))
    array([2., 1.])
    """
    p = _poly1d(p, "roots")
    if isinstance(p, Tracer):
        if strip_zeros and shape_of(p)[0] > 1:
            raise ArgumentTypeError(f"roots: under a transform the number of roots cannot "
                                    f"depend on leading zeros; pass strip_zeros=False "
                                    f"(undefined roots are NaN), as in JAX ({p.aval})"
                                    f"{user_line()}")
        return _traced_roots(p)
    r = np.roots(p)
    if strip_zeros:
        return r
    r = r.astype(np.result_type(r.dtype, np.complex64))
    undefined = np.full(builtins.max(p.shape[0] - 1, 0) - r.shape[0], complex(np.nan, np.nan))
    return np.concatenate([r, undefined.astype(r.dtype)])


def _traced_roots(p: Any) -> Any:
    """roots(p, strip_zeros=False) of traced coefficients: the L leading zeros rolled to the
    end (adding L zero roots, sorted last and made NaN), eigenvalues of the companion."""
    from fnad.numpy import linalg
    from fnad.numpy._indexing import take
    from fnad.numpy._reductions import argmax
    from fnad.numpy._sorting import argsort
    n = shape_of(p)[0]
    cdt = np.result_type(get_aval(p).dtype, np.complex64)
    if n < 2:
        return lax.full((0,), 0, cdt)
    nonzero = lax.ne(p, lax.full_like(p, 0))
    lead = lax.select_n(lax.reduce_or(nonzero, (0,)), np.int64(n),
                        lax.convert_element_type(argmax(nonzero), np.int64))
    p = lax.select_n(lax.eq(lead, np.int64(n)), p, lax.full_like(p, 1))  # all zero: any
    q = take(p, lax.rem(lax.add(lax.iota(np.int64, n), lead), np.int64(n)))  # roll by -lead
    top = reshape(divide(lax.neg(q[1:]), q[0]), (1, n - 1))
    shift = lax.convert_element_type(np.eye(n - 2, n - 1), get_aval(top).dtype)  # subdiagonal
    companion = concatenate([top, shift])
    r = linalg.eigvals(companion)
    r = take(r, argsort(lax.eq(r, lax.full_like(r, 0)), stable=True))  # zero roots last
    defined = lax.lt(lax.iota(np.int64, n - 1), lax.sub(np.int64(n - 1), lead))
    return lax.select_n(defined, lax.full_like(r, complex(np.nan, np.nan)), r)


def polyfit(x: Any, y: Any, deg: int, rcond: float | None = None, full: bool = False,
            w: Any = None, cov: bool = False) -> Any:
    """Least-squares polynomial coefficients (highest power first) of degree `deg` for
    points (x, y) (y may hold several columns), with optional weights `w`. Solved by a
    column-scaled Vandermonde QR (modified Gram-Schmidt on [A | y]), differentiable.
    `full=True` adds the residuals, rank, singular values and rcond (default
    len(x) * eps) of the scaled system; `cov=True` (or "unscaled") the coefficients'
    covariance, as NumPy and JAX.

    >>> np.round(polyfit(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]), 1), 6)
    array([2., 1.])
    """
    x, y = asarray(x), asarray(y)
    dt = result_type(x, y, 1.0)
    dt = dt if dt.kind == "f" else np.dtype(np.float64)
    x, y = lax.convert_element_type(x, dt), lax.convert_element_type(y, dt)
    if get_aval(x).ndim != 1 or get_aval(y).ndim not in (1, 2) or \
            shape_of(y)[0] != shape_of(x)[0]:
        raise ShapeError(f"polyfit needs 1-d x and y (or 2-d y) of one length, got "
                         f"{shape_of(x)} and {shape_of(y)}{user_line()}")
    if deg < 0:
        raise ArgumentError(f"polyfit: deg must be non-negative, got {deg}")
    cols = [lax.full(shape_of(x), 1, dt)]
    for _ in range(deg):
        cols.append(multiply(cols[-1], x))
    a = stack(cols[::-1], 1)  # Vandermonde, highest power first
    ys = y if get_aval(y).ndim == 2 else reshape(y, (-1, 1))
    if w is not None:
        wv = lax.convert_element_type(asarray(w), dt)
        a = multiply(a, reshape(wv, (-1, 1)))
        ys = multiply(ys, reshape(wv, (-1, 1)))
    scale = sqrt(sum(multiply(a, a), 0))
    scale = lax.select_n(lax.eq(scale, 0), scale, lax.full_like(scale, 1))
    a = divide(a, scale)
    k = deg + 1
    qs, r = [], [[None] * k for _ in range(k)]
    for j in range(k):  # modified Gram-Schmidt
        v = a[:, j]
        for i in range(j):
            r[i][j] = sum(multiply(qs[i], v))
            v = subtract(v, multiply(r[i][j], qs[i]))
        r[j][j] = sqrt(sum(multiply(v, v)))
        qs.append(divide(v, r[j][j]))
    rhs = ys
    qty = []
    for i in range(k):  # Q^T y, orthogonalising y as it goes (the augmented system)
        c = sum(multiply(reshape(qs[i], (-1, 1)), rhs), 0)
        qty.append(c)
        rhs = subtract(rhs, multiply(reshape(qs[i], (-1, 1)), reshape(c, (1, -1))))
    coef: list[Any] = [None] * k
    for i in range(k - 1, -1, -1):  # back substitution
        acc = qty[i]
        for j in range(i + 1, k):
            acc = subtract(acc, multiply(r[i][j], coef[j]))
        coef[i] = divide(acc, r[i][i])
    c = divide(stack(coef), reshape(scale, (-1, 1)))
    c = c if get_aval(y).ndim == 2 else reshape(c, (k,))
    if not (full or cov):
        return c
    return (c, *_polyfit_extras(a, ys if get_aval(y).ndim == 2 else ys[:, 0], scale, full,
                                cov, rcond))


def _polyfit_extras(lhs: Any, rhs: Any, scale: Any, full: bool, cov: bool | str,
                    rcond: float | None) -> tuple[Any, ...]:
    """polyfit's `full` results (residuals, rank, singular values, rcond) or its `cov`,
    from the column-scaled weighted system lhs @ (c * scale) = rhs, as NumPy's."""
    from fnad.numpy import linalg
    from fnad.numpy._products import matmul, outer
    n, k = shape_of(lhs)
    dt = get_aval(lhs).dtype
    rcond = n * float(np.finfo(dt).eps) if rcond is None else rcond
    _, resids, rank, s = linalg.lstsq(lhs, rhs, rcond)
    if full:
        return resids, rank, s, np.asarray(rcond, dt)
    vbase = divide(linalg.inv(matmul(lax.transpose(lhs, (1, 0)), lhs)), outer(scale, scale))
    if cov == "unscaled":
        fac = np.ones(1, dt)
    elif n <= k:
        raise ArgumentError("polyfit: scaling the covariance needs more points than deg + 1;"
                            " use cov='unscaled'")
    else:
        fac = divide(resids, n - k)  # one per column of y
    if get_aval(rhs).ndim == 1:
        return (multiply(vbase, fac),)
    return (multiply(reshape(vbase, (k, k, 1)), reshape(fac, (1, 1, -1))),)


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:
    """The Vandermonde matrix: columns x**(N-1), ..., x, 1 (or increasing powers).

    >>> vander(np.array([2, 3]), 3)
    array([[4, 2, 1],
           [9, 3, 1]])
    """
    x = asarray(x)
    if get_aval(x).ndim != 1:
        raise ShapeError(f"vander needs a 1-d array, got shape {shape_of(x)}{user_line()}")
    n = shape_of(x)[0] if N is None else int(N)
    if n == 0:
        return lax.full((shape_of(x)[0], 0), 0, get_aval(x).dtype)
    cols = [lax.full(shape_of(x), 1, get_aval(x).dtype)]
    for _ in range(n - 1):
        cols.append(multiply(cols[-1], x))
    return stack(cols if increasing else cols[::-1], 1)


__all__ = ["convolve", "correlate", "poly", "polyadd", "polyder", "polydiv", "polyfit",
           "polyint", "polymul", "polysub", "polyval", "roots", "vander"]
