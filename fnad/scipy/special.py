"""`jax.scipy.special` for fnad: special functions of statistics and physics, written with
the primitives of `fnad.lax` (`lgamma`, `igamma`, `betainc`, `zeta`, the Bessel and
exponential-integral families...), so each one differentiates, vectorizes and compiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.core.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.lax import special as _sp
from fnad.lax.custom import custom_jvp
from fnad.scipy._util import clamp, promote_inexact, quiet_all

Axis = int | Sequence[int] | None
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


# ------------------------------------------------------------------ gamma family

def gammaln(x: Any) -> Any:
    """log|Gamma(x)|.

    >>> round(float(gammaln(np.float64(5.0))), 9)  # log 4!
    3.17805383
    """
    (x,) = promote_inexact(x)
    return lax.lgamma(x)


def loggamma(x: Any) -> Any:
    """log Gamma(x) for real x > 0 (NaN for x <= 0, where Gamma's sign alternates or it
    has a pole, as in JAX)."""
    (x,) = promote_inexact(x)
    return fnp.where(x <= 0, np.nan, lax.lgamma(x))


def gammasgn(x: Any) -> Any:
    """The sign of Gamma(x): +1 or -1 (NaN at the poles 0, -1, -2, ... and for NaN).

    >>> gammasgn(np.array([2.5, -0.5, -1.5]))
    array([ 1., -1.,  1.])
    """
    (x,) = promote_inexact(x)
    fl = fnp.floor(x)
    neg = x < 0
    odd = fnp.not_equal(fnp.remainder(fl, 2.0), 0.0)
    negative_zero = (x == 0) & (fnp.arctan2(x, -1.0) < 0)  # -0.0: Gamma(-0) = -inf
    return fnp.where(neg & (x == fl) | fnp.isnan(x), np.nan,
                     fnp.where(neg & odd | negative_zero, -1.0, 1.0)).astype(get_aval(x).dtype)


def gamma(x: Any) -> Any:
    """The gamma function, `gammasgn(x) * exp(gammaln(x))`.

    >>> round(float(gamma(np.float64(5.0))), 9)
    24.0
    """
    (x,) = promote_inexact(x)
    return gammasgn(x) * fnp.exp(lax.lgamma(x))


def digamma(x: Any) -> Any:
    """The logarithmic derivative of the gamma function, psi(x)."""
    (x,) = promote_inexact(x)
    return lax.digamma(x)


psi = digamma


def rgamma(x: Any) -> Any:
    """1 / Gamma(x), SciPy's `rgamma`: entire, so 0 at the poles -n = 0, -1, -2, ... of
    Gamma, where its first derivative (-1)^n n! is kept exact.

    >>> rgamma(np.array([4.0, 0.0, -2.0]))
    array([0.16666667, 0.        , 0.        ])
    """
    (x,) = promote_inexact(x)
    pole = (x <= 0) & (x == fnp.floor(x)) & (x > -np.inf)
    safe = fnp.where(pole, 1.0, x)  # keeps lgamma's infinite derivative out of the pole
    n = fnp.where(pole, -x, 0.0)
    slope = fnp.where(fnp.remainder(n, 2.0) == 0, 1.0, -1.0) * fnp.exp(lax.lgamma(n + 1))
    at_pole = (x - lax.stop_gradient(x)) * slope  # 0, with the derivative (-1)^n n!
    regular = fnp.where(x == -np.inf, 0.0, gammasgn(safe) * fnp.exp(-lax.lgamma(safe)))
    return fnp.where(pole, at_pole, regular)


def polygamma(n: Any, x: Any) -> Any:
    """The n-th derivative of `digamma`; `n` a non-negative integer (or a concrete integer
    array, each order evaluated once).

    >>> round(float(polygamma(1, np.float64(1.0))), 12) == round(math.pi ** 2 / 6, 12)
    True
    """
    (x,) = promote_inexact(x)
    if isinstance(n, Tracer):
        raise DTypeError("polygamma: the order n must be concrete (a Python int or a NumPy "
                         "integer array), not a traced value; pass it as a static argument")
    orders = np.asarray(n)
    if orders.dtype.kind not in "iub" and not np.all(orders == np.floor(orders)):
        raise DTypeError(f"polygamma: the order n must be integers, got {n!r}")
    if orders.ndim == 0:
        return lax.polygamma(int(orders), x)
    shape = np.broadcast_shapes(orders.shape, get_aval(x).shape)
    x = fnp.broadcast_to(x, shape)
    orders = np.broadcast_to(orders, shape)
    out = fnp.zeros_like(x)
    for m in np.unique(orders):
        out = fnp.where(orders == m, lax.polygamma(int(m), x), out)
    return out


def multigammaln(a: Any, d: int) -> Any:
    """The log of the multivariate gamma function of dimension `d` (a static int).

    >>> round(float(multigammaln(np.float64(3.0), 1)), 12) == round(math.log(2.0), 12)
    True
    """
    (a,) = promote_inexact(a)
    d = int(d)
    terms = sum(lax.lgamma(a - j / 2) for j in range(d))
    return terms + d * (d - 1) / 4 * math.log(math.pi)


# B_2k / (2k (2k - 1)), k = 1..8: the coefficients of Stirling's series for lgamma
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156,
             -3617 / 122400)


def _stirling_tail(x: Any) -> Any:
    """lgamma(x) - ((x - 1/2) log x - x + log(2 pi) / 2) for x >= 8 (to ~1e-16)."""
    r = 1 / (x * x)
    total = _STIRLING[-1]
    for c in reversed(_STIRLING[:-1]):
        total = c + r * total
    return total / x


def betaln(a: Any, b: Any) -> Any:
    """log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b); when the larger argument is
    8 or more, gammaln(b) - gammaln(a + b) is taken from Stirling's series term by term, so
    nothing cancels for large arguments.

    >>> round(float(betaln(np.float64(1.0), np.float64(1e10))), 9)  # -log(1e10)
    -23.02585093
    """
    a, b = promote_inexact(a, b)
    small, big = fnp.minimum(a, b), fnp.maximum(a, b)
    safe = clamp(big, 8.0)
    c = small + safe
    diff = (-(safe - 0.5) * fnp.log1p(small / safe) - small * fnp.log(c) + small
            + _stirling_tail(safe) - _stirling_tail(c))
    plain = lax.lgamma(a) + lax.lgamma(b) - lax.lgamma(a + b)
    return fnp.where((big >= 8) & (small > 0), lax.lgamma(small) + diff, plain)


def beta(a: Any, b: Any) -> Any:
    """The beta function B(a, b), signed.

    >>> round(float(beta(np.float64(2.0), np.float64(3.0))), 12)
    0.083333333333
    """
    a, b = promote_inexact(a, b)
    return gammasgn(a) * gammasgn(b) * gammasgn(a + b) * fnp.exp(betaln(a, b))


def factorial(n: Any, exact: bool = False) -> Any:
    """n! = Gamma(n + 1) as a float (0 for negative n); `exact=True` is not offered, as in
    JAX."""
    if exact:
        raise ArgumentError("factorial: exact=True is not supported (use math.factorial)")
    (n,) = promote_inexact(n)
    return fnp.where(n < 0, 0.0, fnp.exp(lax.lgamma(n + 1))).astype(get_aval(n).dtype)


def comb(N: Any, k: Any, *, exact: bool = False, repetition: bool = False) -> Any:  # noqa: N803
    """The number of ways to choose k of N things, as a float (0 outside 0 <= k <= N);
    with `repetition`, multisets.

    >>> round(float(comb(np.float64(5.0), np.float64(2.0))), 9)
    10.0
    """
    if exact:
        raise ArgumentError("comb: exact=True is not supported (use math.comb)")
    N, k = promote_inexact(N, k)  # noqa: N806
    empty = None
    if repetition:  # multisets: C(N + k - 1, k); the empty one (k = 0) counts once, N = 0 too
        empty = (k == 0) & (N >= 0)
        N = N + k - 1  # noqa: N806
    out = fnp.exp(lax.lgamma(N + 1) - lax.lgamma(k + 1) - lax.lgamma(N - k + 1))
    out = fnp.where((k < 0) | (k > N) | (N < 0), 0.0, out)
    if empty is not None:
        out = fnp.where(empty, 1.0, out)
    return out.astype(get_aval(N).dtype)


def poch(z: Any, m: Any) -> Any:
    """The rising factorial (z)_m = Gamma(z + m) / Gamma(z).

    >>> round(float(poch(np.float64(3.0), np.float64(2.0))), 9)  # 3 * 4
    12.0
    """
    z, m = promote_inexact(z, m)
    out = gammasgn(z + m) * gammasgn(z) * fnp.exp(lax.lgamma(z + m) - lax.lgamma(z))
    return fnp.where(m == 0, 1.0, out).astype(get_aval(z).dtype)


def gammainc(a: Any, x: Any) -> Any:
    """The regularized lower incomplete gamma function P(a, x) (differentiable in both)."""
    a, x = promote_inexact(a, x)
    return lax.igamma(a, x)


def gammaincc(a: Any, x: Any) -> Any:
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    a, x = promote_inexact(a, x)
    return lax.igammac(a, x)


def betainc(a: Any, b: Any, x: Any) -> Any:
    """The regularized incomplete beta function I_x(a, b) (differentiable in x)."""
    a, b, x = promote_inexact(a, b, x)
    return lax.betainc(a, b, x)


def zeta(x: Any, q: Any = None) -> Any:
    """The Hurwitz zeta function sum_k (q + k)^-x; Riemann's (q = 1) without `q`.

    >>> round(float(zeta(np.float64(2.0))), 12) == round(math.pi ** 2 / 6, 12)
    True
    """
    x, q = promote_inexact(x, 1.0 if q is None else q)
    return lax.zeta(x, q)


def bernoulli(n: int) -> Any:
    """The Bernoulli numbers B_0 ... B_n (with B_1 = -1/2), a float32 array of n + 1.

    >>> bernoulli(4).tolist()[:3]
    [1.0, -0.5, 0.1666666716337204]
    """
    if isinstance(n, Tracer) or int(n) != n or n < 0:
        raise ShapeError(f"bernoulli: n must be a non-negative Python int, got {n!r}")
    b: list[Fraction] = []
    for m in range(int(n) + 1):  # sum_{k<=m} C(m+1, k) B_k = 0
        b.append(-sum((math.comb(m + 1, k) * b[k] for k in range(m)), Fraction(0)) / (m + 1)
                 if m else Fraction(1))
    return np.array([float(v) for v in b], np.float32)


# ------------------------------------------------------------------ error function family

def erf(x: Any) -> Any:
    """The error function."""
    (x,) = promote_inexact(x)
    return lax.erf(x)


def erfc(x: Any) -> Any:
    """The complementary error function 1 - erf(x), accurate where it is small."""
    (x,) = promote_inexact(x)
    return lax.erfc(x)


def erfinv(x: Any) -> Any:
    """The inverse of `erf` on (-1, 1) (+-inf at +-1)."""
    (x,) = promote_inexact(x)
    return lax.erf_inv(x)


def erfcinv(x: Any) -> Any:
    """The inverse of `erfc` on (0, 2), as -ndtri(x / 2) / sqrt(2): accurate where x is
    near 0, unlike erfinv(1 - x) (inf at 0, -inf at 2).

    >>> round(float(erfcinv(np.float64(1e-20))), 6)
    6.601581
    """
    (x,) = promote_inexact(x)
    return -ndtri(x / 2) / np.sqrt(2.0)


def erfcx(x: Any) -> Any:
    """The scaled complementary error function exp(x^2) erfc(x), finite for large x."""
    (x,) = promote_inexact(x)
    return _sp.erfcx(x)


def dawsn(x: Any) -> Any:
    """Dawson's integral exp(-x^2) int_0^x exp(t^2) dt."""
    (x,) = promote_inexact(x)
    return _sp.dawsn(x)


def ndtr(x: Any) -> Any:
    """The standard normal CDF.

    >>> float(ndtr(np.float64(0.0)))
    0.5
    """
    (x,) = promote_inexact(x)
    return 0.5 * lax.erfc(x * -math.sqrt(0.5))


def ndtri(p: Any) -> Any:
    """The standard normal quantile, the inverse of `ndtr` (-inf at 0, inf at 1).

    >>> round(float(ndtri(np.float64(0.975))), 6)
    1.959964
    """
    (p,) = promote_inexact(p)
    return _sp.ndtri(p)


def _log_ndtr_asymptotic(x: Any, series_order: int) -> Any:
    """log Phi(x) for x << 0: log(phi(x) / -x) + log(1 - 1/x^2 + 3/x^4 - ...), the series
    cut after `series_order` terms."""
    x2 = x * x
    term, total = fnp.ones_like(x), fnp.ones_like(x)
    for k in range(1, series_order + 1):
        term = term * -(2 * k - 1) / x2
        total = total + term
    return -0.5 * x2 - fnp.log(-x) - _HALF_LOG_2PI + fnp.log(total)


def log_ndtr(x: Any, series_order: int = 3) -> Any:
    """log of the standard normal CDF, accurate far into both tails; below -20 (-10 in
    float32) from the asymptotic series with `series_order` terms (0 to 30), as JAX's.

    >>> round(float(log_ndtr(np.float64(-40.0))), 4)
    -804.6084
    """
    if isinstance(series_order, bool) or not isinstance(series_order, (int, np.integer)):
        raise ArgumentTypeError(f"log_ndtr: series_order must be an integer, got "
                                f"{series_order!r}")
    if not 0 <= series_order <= 30:
        raise ArgumentError(f"log_ndtr: series_order must be in [0, 30], got {series_order}")
    (x,) = promote_inexact(x)
    lower = -10.0 if get_aval(x).dtype.itemsize <= 4 else -20.0  # where Phi nears underflow
    low = _log_ndtr_asymptotic(clamp(x, hi=lower), series_order)
    mid = fnp.log(ndtr(clamp(x, lower, 0.0)))
    high = fnp.log1p(-ndtr(-clamp(x, 0.0)))
    return fnp.where(x < lower, low, fnp.where(x <= 0, mid, high))


# ------------------------------------------------------------------ logistic, entropies

def expit(x: Any) -> Any:
    """The logistic sigmoid 1 / (1 + exp(-x))."""
    (x,) = promote_inexact(x)
    return lax.logistic(x)


@custom_jvp
def logit(x: Any) -> Any:
    """The log-odds log(x / (1 - x)), the inverse of `expit`; its derivative is
    1 / (x (1 - x)), +-inf at 0 and 1 (as JAX's), not the quotient rule's inf / inf."""
    (x,) = promote_inexact(x)
    return fnp.log(x / (1 - x))


@logit.defjvp
def _logit_jvp(primals: Any, tangents: Any) -> Any:
    (x,) = promote_inexact(*primals)
    return logit(x), tangents[0] / (x * (1 - x))


@custom_jvp
def xlogy(x: Any, y: Any) -> Any:
    """x * log(y), taken as 0 where x = 0 (even where y = 0; a NaN y stays NaN, as in JAX
    and SciPy).

    >>> float(xlogy(np.float64(0.0), np.float64(0.0)))
    0.0
    """
    x, y = promote_inexact(x, y)
    zero = (x == 0) & ~fnp.isnan(y)
    return fnp.where(zero, 0.0, x * fnp.log(y)).astype(get_aval(x).dtype)


@xlogy.defjvp
def _xlogy_jvp(primals: Any, tangents: Any) -> Any:
    x, y = promote_inexact(*primals)
    dx, dy = tangents
    return xlogy(x, y), dx * fnp.log(y) + dy * x / y


@custom_jvp
def xlog1py(x: Any, y: Any) -> Any:
    """x * log1p(y), taken as 0 where x = 0 (a NaN y stays NaN)."""
    x, y = promote_inexact(x, y)
    zero = (x == 0) & ~fnp.isnan(y)
    return fnp.where(zero, 0.0, x * fnp.log1p(y)).astype(get_aval(x).dtype)


@xlog1py.defjvp
def _xlog1py_jvp(primals: Any, tangents: Any) -> Any:
    x, y = promote_inexact(*primals)
    dx, dy = tangents
    return xlog1py(x, y), dx * fnp.log1p(y) + dy * x / (1 + y)


@custom_jvp
def entr(x: Any) -> Any:
    """The entropy term -x log x (0 at 0, -inf for negative x); its derivative is
    -(log x + 1) everywhere, as JAX's: +inf at 0, -inf at inf, NaN below 0 and at NaN."""
    (x,) = promote_inexact(x)
    safe = fnp.where(x > 0, x, 1.0)
    rest = fnp.where(x == 0, 0.0, fnp.where(fnp.isnan(x), np.nan, -np.inf))
    return fnp.where(x > 0, -x * fnp.log(safe), rest).astype(get_aval(x).dtype)


@entr.defjvp
def _entr_jvp(primals: Any, tangents: Any) -> Any:
    (x,) = promote_inexact(*primals)
    return entr(x), -tangents[0] * (fnp.log(x) + 1)


@custom_jvp
def _p_log_p_over_q(p: Any, q: Any) -> Any:
    """p * log(p / q) for p, q > 0 (accurate where p is close to q), with the derivatives
    log(p / q) + 1 and -p / q (finite at p = inf, where p / p is not)."""
    return p * fnp.log(p / q)


@_p_log_p_over_q.defjvp
def _p_log_p_over_q_jvp(primals: Any, tangents: Any) -> Any:
    (p, q), (dp, dq) = primals, tangents
    return _p_log_p_over_q(p, q), dp * (fnp.log(p / q) + 1) - dq * (p / q)


def rel_entr(p: Any, q: Any) -> Any:
    """The relative-entropy term p log(p / q) (0 at p = 0 <= q; inf elsewhere outside p, q >
    0, NaNs included, as in JAX). Outside p, q > 0 the derivative is 0: the operands the
    logarithms see there are replaced by 1, so no 0 * inf enters it."""
    p, q = promote_inexact(p, q)
    both = (p > 0) & (q > 0)
    sp, sq = fnp.where(both, p, 1.0), fnp.where(both, q, 1.0)
    inside = _p_log_p_over_q(sp, sq)
    out = fnp.where(both, inside, fnp.where((p == 0) & (q >= 0), 0.0, np.inf))
    return out.astype(get_aval(p).dtype)


def kl_div(p: Any, q: Any) -> Any:
    """The Kullback-Leibler term `rel_entr(p, q) - p + q` (q at p = 0 <= q; inf outside the
    domain, NaN for a NaN operand)."""
    p, q = promote_inexact(p, q)
    return (rel_entr(p, q) - p + q).astype(get_aval(p).dtype)


def boxcox(x: Any, lmbda: Any) -> Any:
    """The Box-Cox transform (x^lmbda - 1) / lmbda, log(x) at lmbda = 0."""
    x, lmbda = promote_inexact(x, lmbda)
    zero = lmbda == 0
    safe = fnp.where(zero, 1.0, lmbda)
    return fnp.where(zero, fnp.log(x), fnp.expm1(safe * fnp.log(x)) / safe)


def boxcox1p(x: Any, lmbda: Any) -> Any:
    """The Box-Cox transform of 1 + x, accurate for small x."""
    x, lmbda = promote_inexact(x, lmbda)
    zero = lmbda == 0
    safe = fnp.where(zero, 1.0, lmbda)
    return fnp.where(zero, fnp.log1p(x), fnp.expm1(safe * fnp.log1p(x)) / safe)


# ------------------------------------------------------------------ log-sum-exp, softmax

def logsumexp(a: Any, axis: Axis = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False, where: Any = None) -> Any:
    """log(sum(b * exp(a), axis)) over the entries in `where`, shifted by the maximum so it
    neither overflows nor underflows. With `return_sign`, `(log|sum|, sign(sum))`.

    >>> round(float(logsumexp(np.array([1000.0, 1000.0]))), 3)
    1000.693
    """
    (a,) = promote_inexact(a)
    if where is not None:
        a = fnp.where(where, a, -np.inf)
    if b is not None:
        a, b = promote_inexact(a, b)
        a = fnp.where(b != 0, a, -np.inf)  # a zero weight drops its entry, even a +inf one
    # initial=-inf: an empty reduction sums nothing, to -inf (as in JAX)
    m = fnp.max(lax.stop_gradient(a), axis=axis, keepdims=True, initial=-np.inf)
    m = fnp.where(fnp.isfinite(m), m, fnp.zeros_like(m))
    e = fnp.exp(a - m)
    total = fnp.sum(e if b is None else b * e, axis=axis, keepdims=True)
    out = fnp.log(fnp.abs(total) if return_sign else total) + m
    if not keepdims:
        out = fnp.squeeze(out, axis=axis)
    if not return_sign:
        return out
    sign = fnp.sign(total)
    return out, (sign if keepdims else fnp.squeeze(sign, axis=axis))


def log_softmax(x: Any, /, *, axis: Axis = None) -> Any:
    """x - logsumexp(x, axis): log-probabilities over `axis` (all axes by default)."""
    (x,) = promote_inexact(x)
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x: Any, /, *, axis: Axis = None) -> Any:
    """exp(x) / sum(exp(x)) over `axis` (all axes by default), shifted for stability.

    >>> softmax(np.array([0.0, 0.0]))
    array([0.5, 0.5])
    """
    (x,) = promote_inexact(x)
    m = fnp.max(lax.stop_gradient(x), axis=axis, keepdims=True, initial=-np.inf)
    e = fnp.exp(x - fnp.where(fnp.isfinite(m), m, fnp.zeros_like(m)))
    return e / fnp.sum(e, axis=axis, keepdims=True)


# ------------------------------------------------------------------ Bessel functions

def i0e(x: Any) -> Any:
    """exp(-|x|) I0(x)."""
    (x,) = promote_inexact(x)
    return lax.bessel_i0e(x)


def i1e(x: Any) -> Any:
    """exp(-|x|) I1(x)."""
    (x,) = promote_inexact(x)
    return lax.bessel_i1e(x)


def i0(x: Any) -> Any:
    """The modified Bessel function of the first kind of order 0.

    >>> round(float(i0(np.float64(1.0))), 6)
    1.266066
    """
    (x,) = promote_inexact(x)
    return lax.bessel_i0e(x) * fnp.exp(fnp.abs(x))


def i1(x: Any) -> Any:
    """The modified Bessel function of the first kind of order 1."""
    (x,) = promote_inexact(x)
    return lax.bessel_i1e(x) * fnp.exp(fnp.abs(x))


# ------------------------------------------------------------------ integrals and series

def expi(x: Any) -> Any:
    """The exponential integral Ei(x) (-E1(-x) for negative x).

    >>> round(float(expi(np.float64(1.0))), 6)
    1.895118
    """
    (x,) = promote_inexact(x)
    return _sp.expi(x)


def expn(n: Any, x: Any) -> Any:
    """The generalized exponential integral E_n(x) = int_1^inf e^(-xt) / t^n dt for
    integers n >= 0 and x >= 0 (differentiable in x: -E_{n-1})."""
    n, x = promote_inexact(n, x)
    return _sp.expn(n, x)


def exp1(x: Any) -> Any:
    """The exponential integral E1(x) = E_1(x) for x >= 0 (NaN for negative x)."""
    (x,) = promote_inexact(x)
    return _sp.expn(fnp.ones_like(x), x)


def fresnel(x: Any) -> tuple[Any, Any]:
    """The Fresnel integrals (S(x), C(x)) of sin and cos(pi t^2 / 2) over [0, x].

    >>> [round(float(v), 6) for v in fresnel(np.float64(1.0))]
    [0.438259, 0.779893]
    """
    (x,) = promote_inexact(x)
    return _sp.fresnel(x)


def sici(x: Any) -> tuple[Any, Any]:
    """The sine and cosine integrals (Si(x), Ci(x)); for x < 0, Ci(|x|) (the real part)."""
    (x,) = promote_inexact(x)
    return _sp.sici(x)


def spence(x: Any) -> Any:
    """The dilogarithm in SciPy's convention, spence(x) = Li2(1 - x), for x >= 0.

    >>> round(float(spence(np.float64(0.0))), 10) == round(math.pi ** 2 / 6, 10)
    True
    """
    (x,) = promote_inexact(x)
    return _sp.spence(x)


def owens_t(h: Any, a: Any) -> Any:
    """Owen's T function: the probability that X > h and 0 < Y < a X for independent
    standard normals X, Y."""
    h, a = promote_inexact(h, a)
    return _sp.owens_t(h, a)


def hyp1f1(a: Any, b: Any, x: Any) -> Any:
    """Kummer's confluent hypergeometric function 1F1(a; b; x) (differentiable in x)."""
    a, b, x = promote_inexact(a, b, x)
    return _sp.hyp1f1(a, b, x)


def hyp2f1(a: Any, b: Any, c: Any, x: Any) -> Any:
    """Gauss's hypergeometric function 2F1(a, b; c; x) for x <= 1 (differentiable in x)."""
    a, b, c, x = promote_inexact(a, b, c, x)
    return _sp.hyp2f1(a, b, c, x)


def bessel_jn(z: Any, *, v: int, n_iter: int = 50) -> Any:
    """The Bessel functions J_0 ... J_v of `z`, shape (v + 1, *z.shape). (`n_iter` is
    accepted for JAX's signature; the recurrence picks its own starting order.)

    >>> [round(float(j), 6) for j in bessel_jn(np.float64(1.0), v=1)]
    [0.765198, 0.440051]
    """
    del n_iter
    if isinstance(v, Tracer) or int(v) != v or v < 0:
        raise ShapeError(f"bessel_jn: v must be a non-negative Python int, got {v!r}")
    (z,) = promote_inexact(z)
    return fnp.stack([_sp.bessel_jn(z, k) for k in range(int(v) + 1)])


def _integer_order(name: str, n: Any, hint: str = "") -> int:
    """The static order of `jn`/`yn`: one concrete integer (the primitives' param)."""
    if isinstance(n, Tracer) or np.ndim(n) != 0 or int(n) != n:
        raise ArgumentError(f"{name}: the order n must be one concrete integer, got {n!r}"
                            f"{hint}")
    return int(n)


def jn(n: Any, x: Any) -> Any:
    """The Bessel function of the first kind J_n(x) of integer order `n` (a Python or
    concrete integer; SciPy's `jn`), differentiable in `x`.

    >>> round(float(jn(2, np.float64(1.0))), 6)
    0.114903
    """
    n = _integer_order("jn", n, "; for several orders use bessel_jn(x, v=max_order)")
    (x,) = promote_inexact(x)
    if n < 0:  # J_{-n} = (-1)^n J_n
        return _sp.bessel_jn(x, int(-n)) * (-1.0 if n % 2 else 1.0)
    return _sp.bessel_jn(x, int(n))


def j0(x: Any) -> Any:
    """The Bessel function of the first kind of order 0, J_0(x)."""
    return jn(0, x)


def j1(x: Any) -> Any:
    """The Bessel function of the first kind of order 1, J_1(x)."""
    return jn(1, x)


def yn(n: Any, x: Any) -> Any:
    """The Bessel function of the second kind Y_n(x) of integer order `n` (a Python or
    concrete integer; SciPy's `yn`), differentiable in `x`: -inf at 0, NaN for x < 0.

    >>> round(float(yn(2, np.float64(1.0))), 6)
    -1.650683
    """
    n = _integer_order("yn", n)
    (x,) = promote_inexact(x)
    return _sp.bessel_yn(x, n)


def y0(x: Any) -> Any:
    """The Bessel function of the second kind of order 0, Y_0(x)."""
    return yn(0, x)


def y1(x: Any) -> Any:
    """The Bessel function of the second kind of order 1, Y_1(x)."""
    return yn(1, x)


def ive(v: Any, x: Any) -> Any:
    """I_v(x) exp(-|x|), the exponentially scaled modified Bessel function of the first kind
    of real order `v` (SciPy's `ive`), differentiable in `x`. For x < 0 it is defined for
    integer v only (NaN otherwise).

    >>> round(float(ive(0.5, np.float64(2.0))), 6)
    0.276928
    """
    v, x = promote_inexact(v, x)
    return _sp.bessel_ive(v, x)


def iv(v: Any, x: Any) -> Any:
    """The modified Bessel function of the first kind I_v(x) of real order `v` (SciPy's
    `iv`), differentiable in `x`; computed as ive(v, x) exp(|x|), so inf once it overflows.

    >>> round(float(iv(1, np.float64(1.0))), 6)
    0.565159
    """
    v, x = promote_inexact(v, x)
    out = _sp.bessel_ive(v, x) * fnp.exp(fnp.abs(x))
    # at |x| = inf that is 0 * inf: the limit instead, +inf, or (-1)^v inf at -inf
    odd = fnp.remainder(v, 2.0) == 1
    at_minus_inf = fnp.where(v == fnp.floor(v), fnp.where(odd, -fnp.inf, fnp.inf), fnp.nan)
    return fnp.where(fnp.isinf(x), fnp.where(x > 0, fnp.inf, at_minus_inf), out)


def wofz(z: Any) -> Any:
    """The Faddeeva function w(z) = exp(-z^2) erfc(-iz), complex (complex64 for float32
    or complex64 input, complex128 otherwise).

    >>> complex(wofz(np.complex128(0.0)))
    (1+0j)
    """
    z = fnp.asarray(z)
    dtype = np.complex64 if get_aval(z).dtype in (np.float32, np.complex64, np.float16) or \
        get_aval(z).dtype.kind in "iub" else np.complex128
    return _sp.wofz(fnp.asarray(z, dtype))


def sph_harm_y(n: Any, m: Any, theta: Any, phi: Any, diff_n: int | None = None,
               n_max: int | None = None) -> Any:
    """The orthonormal spherical harmonic Y_n^m(theta, phi) (theta the colatitude, phi the
    longitude), complex; `n_max` is accepted for JAX's signature.

    >>> round(abs(complex(sph_harm_y(0, 0, np.float64(0.3), np.float64(0.1)))), 6)
    0.282095
    """
    del n_max
    if diff_n:
        raise NotImplementedError("sph_harm_y: diff_n > 0 is not supported")
    n, m, theta, phi = promote_inexact(n, m, theta, phi)
    am = fnp.abs(m)
    p = _sp.sph_legendre(n, am, theta)
    odd = fnp.remainder(am, 2.0) == 1
    p = fnp.where((m < 0) & odd, -p, p)
    return p * fnp.cos(m * phi) + 1j * (p * fnp.sin(m * phi))


__all__ = [
    "bernoulli", "bessel_jn", "beta", "betainc", "betaln", "boxcox", "boxcox1p", "comb",
    "dawsn", "digamma", "entr", "erf", "erfc", "erfcinv", "erfcx", "erfinv", "exp1", "expi", "expit",
    "expn", "factorial", "fresnel", "gamma", "gammainc", "gammaincc", "gammaln", "gammasgn",
    "hyp1f1", "hyp2f1", "i0", "i0e", "i1", "i1e", "iv", "ive", "j0", "j1", "jn", "kl_div", "log_ndtr", "log_softmax",
    "loggamma", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "owens_t", "poch",
    "polygamma", "psi", "rel_entr", "rgamma", "sici", "softmax", "spence", "sph_harm_y", "wofz", "xlog1py",
    "xlogy", "y0", "y1", "yn", "zeta",
]
quiet_all(globals(), __all__)
