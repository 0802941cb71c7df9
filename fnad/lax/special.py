"""Special-function primitives of probability: the regularized incomplete gamma and beta
functions, the derivative of the gamma sampler, Hurwitz's zeta and the scaled Bessel
functions, each in one block with its rules.

NumPy has none of these, so each impl is a series, continued fraction or asymptotic
expansion evaluated in float64 (accurate to ~1e-13), then cast back to the operand dtype.
Derivatives in `a` of the incomplete gamma function come from the same series run on dual
numbers, so the gamma sampler's implicit reparameterization is exact too.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from fnad.core.errors import TransformError
from fnad.device import is_gpu_array
from fnad.lax._rules import FLOAT, defjvp, defjvp_zero
from fnad.lax.elementwise import (
    _BERNOULLI,
    _SQRT_PI,
    _erf_inv,
    _erfc,
    _lgamma,
    _polygamma,
    _prim,
    add,
    asarray_like,
    cos,
    digamma,
    div,
    eq,
    erf,
    exp,
    full_like,
    lgamma,
    log,
    log1p,
    mul,
    neg,
    select_n,
    sign,
    sin,
    square,
    sub,
)

_EPS = 4e-16  # a couple of float64 ulps: where a series or fraction has converged
_TINY = 1e-300
_MAX_TERMS = 100_000


def _no_derivative(prim: str, operand: str) -> Callable[..., Any]:
    """A jvp rule for an operand whose derivative JAX does not define either."""
    def rule(g: Any, ans: Any, *args: Any, **params: Any) -> Any:
        raise TransformError(f"{prim}: the derivative with respect to {operand} is not "
                             f"implemented (as in JAX); differentiate with respect to the "
                             f"other operands, or wrap {operand} in stop_gradient")
    return rule


def _f64(*args: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(a, np.float64) for a in np.broadcast_arrays(*args)]


# ------------------------------------------------------------------ dual numbers

class _Dual:
    """A value and its derivative in one direction, for NumPy arrays (forward mode)."""

    __slots__ = ("v", "d")

    def __init__(self, v: Any, d: Any) -> None:
        self.v, self.d = v, d

    def __add__(self, o: Any) -> _Dual:
        return _Dual(self.v + o.v, self.d + o.d) if isinstance(o, _Dual) else \
            _Dual(self.v + o, self.d)

    def __mul__(self, o: Any) -> _Dual:
        return _Dual(self.v * o.v, self.d * o.v + self.v * o.d) if isinstance(o, _Dual) \
            else _Dual(self.v * o, self.d * o)

    def recip(self) -> _Dual:
        r = 1 / self.v
        return _Dual(r, -self.d * r * r)

    def floor_abs(self, tiny: float) -> _Dual:
        """Lentz's guard: values smaller than `tiny` in magnitude become `tiny`."""
        return _Dual(np.where(np.abs(self.v) < tiny, tiny, self.v), self.d)


# ------------------------------------------------------------------ incomplete gamma

def _igamma_series(a: np.ndarray, x: np.ndarray) -> tuple[_Dual, np.ndarray]:
    """S with P(a, x) = x^a e^-x / Gamma(a + 1) * S, S = sum_n x^n / ((a+1)...(a+n)), and
    dS/da (for x < a + 1, where the terms fall at least geometrically); and where it
    converged within _MAX_TERMS (near x = a, huge a needs more)."""
    ad = _Dual(a, np.ones_like(a))
    term = total = _Dual(np.ones_like(a), np.zeros_like(a))
    for n in range(1, _MAX_TERMS):
        term = term * (ad + float(n)).recip() * x
        total = total + term
        done = (np.abs(term.v) <= _EPS * np.abs(total.v)) & \
            (np.abs(term.d) <= _EPS * (np.abs(total.d) + np.abs(total.v)))
        if np.all(done):
            break
    return total, done


def _igammac_fraction(a: np.ndarray, x: np.ndarray) -> tuple[_Dual, np.ndarray]:
    """h with Q(a, x) = x^a e^-x / Gamma(a) * h, by Legendre's continued fraction
    (modified Lentz), and dh/da (for x >= a + 1); and where it converged."""
    ad = _Dual(a, np.ones_like(a))
    b = ad * -1.0 + (x + 1)
    c = _Dual(np.full_like(a, 1 / _TINY), np.zeros_like(a))
    d = b.floor_abs(_TINY).recip()
    h = d
    for i in range(1, _MAX_TERMS):
        an = (ad + float(-i)) * float(i)  # -i (i - a)
        b = b + 2.0
        d = (d * an + b).floor_abs(_TINY).recip()
        c = (c.recip() * an + b).floor_abs(_TINY)
        delta = d * c
        h = h * delta
        done = (np.abs(delta.v - 1) <= _EPS) & (np.abs(delta.d) <= _EPS * (1 + np.abs(h.d / h.v)))
        if np.all(done):
            break
    return h, done


def _igamma_all(a: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """(P, Q, dP/da, dx/da at fixed P) for a > 0, x >= 0, in float64; NaN elsewhere."""
    a, x = _f64(a, x)
    valid = (a > 0) & (x >= 0)
    finite = valid & (x > 0) & np.isfinite(x) & np.isfinite(a)
    use_series = x < a + 1
    aa = np.where(finite, a, 1.0)
    xs = np.where(finite & use_series, x, 0.5)
    xc = np.where(finite & ~use_series, x, 3.0)
    s, s_done = _igamma_series(np.where(use_series, aa, 1.0), xs)
    h, h_done = _igammac_fraction(np.where(use_series, 1.0, aa), xc)
    # NaN, never a truncated sum: a huge a next to x (a = x = 1e10) outruns _MAX_TERMS
    valid &= np.where(use_series, s_done, h_done) | ~finite
    logx = np.log(np.where(finite, x, 1.0))
    log_s = aa * logx - x - _lgamma(aa + 1)
    log_h = aa * logx - x - _lgamma(aa)
    ds = s.v * (logx - _polygamma(aa + 1, 0)) + s.d
    dh = h.v * (logx - _polygamma(aa, 0)) + h.d
    p_series = np.exp(log_s) * s.v
    q_fraction = np.exp(log_h) * h.v
    p = np.where(use_series, p_series, 1 - q_fraction)
    dp = np.where(use_series, np.exp(log_s) * ds, -np.exp(log_h) * dh)
    dx = np.where(use_series, -x / aa * ds, x * dh)
    at_inf = valid & (x == np.inf)
    # the limits JAX and SciPy give: all the mass at 0 for a = 0, none at finite x for a = inf
    a_zero, a_inf = (a == 0) & (x > 0), (a == np.inf) & (x >= 0) & (x < np.inf)
    p = np.select([a_zero, a_inf, ~valid | np.isnan(a), x == 0, at_inf],
                  [1.0, 0.0, np.nan, 0.0, 1.0], p)
    no_derivative = ~valid | np.isnan(a) | (a_inf & (x > 0)) | (x == np.inf)  # as JAX
    dp = np.select([no_derivative, x == 0], [np.nan, 0.0], dp)
    dx = np.select([no_derivative, x == 0], [np.nan, 0.0], dx)
    q = np.where(use_series, 1 - p_series, q_fraction)
    q = np.select([a_zero, a_inf, np.isnan(p), x == 0, at_inf], [0.0, 1.0, np.nan, 1.0, 0.0], q)
    return p, q, dp, dx


def _igamma_density(x: Any, a: Any) -> Any:
    """The Gamma(a, 1) density, written with lax (for derivatives in x)."""
    return exp(sub(sub(mul(sub(a, 1.0), log(x)), x), lgamma(a)))


igamma_grad_a_p = _prim("igamma_grad_a", lambda a, x: _igamma_all(a, x)[2], FLOAT)
defjvp(igamma_grad_a_p, _no_derivative("igamma_grad_a", "a"),
       lambda g, ans, a, x: mul(g, mul(_igamma_density(x, a),
                                       sub(log(x), digamma(a)))))

random_gamma_grad_p = _prim("random_gamma_grad", lambda a, x: _igamma_all(a, x)[3], FLOAT)
defjvp(random_gamma_grad_p, _no_derivative("random_gamma_grad", "a"),
       _no_derivative("random_gamma_grad", "x"))

igamma_p = _prim("igamma", lambda a, x: _igamma_all(a, x)[0], FLOAT)
defjvp(igamma_p, lambda g, ans, a, x: mul(g, igamma_grad_a(a, x)),
       lambda g, ans, a, x: mul(g, _igamma_density(x, a)))

igammac_p = _prim("igammac", lambda a, x: _igamma_all(a, x)[1], FLOAT)
defjvp(igammac_p, lambda g, ans, a, x: neg(mul(g, igamma_grad_a(a, x))),
       lambda g, ans, a, x: neg(mul(g, _igamma_density(x, a))))


# ------------------------------------------------------------------ gamma sampling, in log space

def _log_igamma(a: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    """For x = e^t (t may be far below log of the smallest float): (log P, log Q, log of the
    density of t, dt/da at fixed P). Valid for a > 0 and finite t."""
    x = np.exp(t)
    use_series = x < a + 1
    s, _ = _igamma_series(np.where(use_series, a, 1.0), np.where(use_series, x, 0.5))
    h, _ = _igammac_fraction(np.where(use_series, 1.0, a), np.where(use_series, 3.0, x))
    log_pdf = a * t - x - _lgamma(a)
    log_s = np.log(np.where(use_series, s.v, 1.0)) + log_pdf - np.log(a)
    log_h = np.log(np.where(use_series, 1.0, h.v)) + log_pdf
    log_p = np.where(use_series, log_s, np.log1p(-np.exp(log_h)))
    log_q = np.where(use_series, np.log1p(-np.exp(log_s)), log_h)
    ds = s.v * (t - _polygamma(a + 1, 0)) + s.d
    dh = h.v * (t - _polygamma(a, 0)) + h.d
    return log_p, log_q, log_pdf, np.where(use_series, -ds / a, dh)


def _random_loggamma(a: np.ndarray, u: np.ndarray) -> np.ndarray:
    """log of the Gamma(a, 1) quantile at u: Newton steps on log P(a, e^t) = log u (log Q
    for u > 1/2), both concave in t, so the steps converge monotonically after the first;
    from a Wilson-Hilferty start (a >= 1) or the small-x expansion (a < 1)."""
    a, u = _f64(a, u)
    valid = (a > 0) & np.isfinite(a) & (u > 0) & (u < 1)
    a, u = np.where(valid, a, 1.0), np.where(valid, u, 0.5)
    lower = u <= 0.5
    target = np.where(lower, np.log(u), np.log1p(-u))
    z = _ndtri(u)
    wh = 1 - 1 / (9 * a) + z / (3 * np.sqrt(a))
    t_small = (np.log(u) + _lgamma(a + 1)) / a
    t = np.where((a >= 1) & (wh > 0), np.log(a) + 3 * np.log(np.where(wh > 0, wh, 1.0)),
                 np.minimum(t_small, np.log(a + 1)))
    t = t.ravel()
    active = np.arange(t.size)  # the entries still moving: only those are evaluated
    a, lower, target = (np.broadcast_to(v, u.shape).ravel() for v in (a, lower, target))
    for _ in range(200):
        aa, tt, low = a[active], t[active], lower[active]
        log_p, log_q, log_pdf, _ = _log_igamma(aa, tt)
        f = np.where(low, log_p, log_q) - target[active]
        slope = np.where(low, np.exp(log_pdf - log_p), -np.exp(log_pdf - log_q))
        step = np.clip(f / slope, -50.0, 50.0)
        step = np.where(np.isfinite(step), step, 0.0)
        t[active] = tt - step
        active = active[np.abs(step) > 1e-11 * np.maximum(1.0, np.abs(tt))]
        if active.size == 0:
            break
    return np.where(valid, t.reshape(u.shape), np.nan)


random_loggamma_grad_p = _prim("random_loggamma_grad",
                               lambda a, t: _log_igamma(*_f64(a, t))[3], FLOAT)
defjvp(random_loggamma_grad_p, _no_derivative("random_loggamma_grad", "a"),
       _no_derivative("random_loggamma_grad", "t"))

random_loggamma_p = _prim("random_loggamma", _random_loggamma, FLOAT)
defjvp(random_loggamma_p,
       lambda g, ans, a, u: mul(g, random_loggamma_grad_p.bind(a, ans)),
       lambda g, ans, a, u: mul(g, exp(sub(add(lgamma(a), exp(ans)), mul(a, ans)))))


# ------------------------------------------------------------------ discrete quantiles

def _walk_to_quantile(k: np.ndarray, u: np.ndarray, high: np.ndarray,
                      cdf: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The smallest integer k in [0, high] with cdf(k) >= u, from a guess: steps up while
    cdf(k) < u, then down while cdf(k - 1) >= u."""
    for _ in range(_MAX_TERMS):
        up = (cdf(k) < u) & (k < high)
        if not up.any():
            break
        k = k + up
    for _ in range(_MAX_TERMS):
        down = (k > 0) & (cdf(np.maximum(k - 1, 0)) >= u)
        if not down.any():
            break
        k = k - down
    return k


def _poisson_quantile(lam: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The Poisson(lam) quantile at u, from a Cornish-Fisher guess (CDF: Q(k + 1, lam))."""
    lam, u = _f64(lam, u)
    valid = (lam >= 0) & np.isfinite(lam) & (u >= 0) & (u < 1)
    lam, u = np.where(valid, lam, 1.0), np.where(valid, u, 0.5)
    z = _ndtri(u)
    guess = np.floor(np.maximum(lam + np.sqrt(lam) * z + (z * z - 1) / 6, 0))
    k = _walk_to_quantile(guess, u, np.full_like(lam, np.inf),
                          lambda k: _igamma_all(k + 1, lam)[1])
    return np.where(valid, np.where(lam == 0, 0.0, k), np.nan)


def _binomial_quantile(n: np.ndarray, p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The Binomial(n, p) quantile at u, from a Cornish-Fisher guess (CDF: the incomplete
    beta function I_{1-p}(n - k, k + 1))."""
    n, p, u = _f64(n, p, u)
    valid = (n >= 0) & (n == np.floor(n)) & np.isfinite(n) & (p >= 0) & (p <= 1) & \
        (u >= 0) & (u < 1)
    n, p, u = np.where(valid, n, 1.0), np.where(valid, p, 0.5), np.where(valid, u, 0.5)
    z = _ndtri(u)
    sd = np.sqrt(n * p * (1 - p))
    guess = np.clip(np.floor(n * p + sd * z + (z * z - 1) * (1 - 2 * p) / 6), 0, n)

    def cdf(k: np.ndarray) -> np.ndarray:
        inside = k < n
        return np.where(inside, _betainc(np.where(inside, n - k, 1.0), k + 1, 1 - p), 1.0)

    k = _walk_to_quantile(guess, u, n, cdf)
    return np.where(valid, np.select([p == 0, p == 1], [0.0, n], k), np.nan)


poisson_quantile_p = _prim("poisson_quantile", _poisson_quantile, FLOAT)
defjvp_zero(poisson_quantile_p)
binomial_quantile_p = _prim("binomial_quantile", _binomial_quantile, FLOAT)
defjvp_zero(binomial_quantile_p)


# ------------------------------------------------------------------ incomplete beta

def _betainc_fraction(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The continued fraction of I_x(a, b) / (x^a (1-x)^b / (a B(a, b))), modified Lentz;
    converges fast for x < (a + 1) / (a + b + 2)."""
    qab, qap, qam = a + b, a + 1, a - 1
    c = np.ones_like(x)
    d = 1 - qab * x / qap
    d = 1 / np.where(np.abs(d) < _TINY, _TINY, d)
    h = d
    for m in range(1, _MAX_TERMS):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / np.where(np.abs(d) < _TINY, _TINY, d)
            c = 1 + aa / c
            c = np.where(np.abs(c) < _TINY, _TINY, c)
            delta = d * c
            h = h * delta
        if np.all(np.abs(delta - 1) <= _EPS):
            break
    return h


def _betainc(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    a, b, x = _f64(a, b, x)
    valid = (a > 0) & (b > 0) & (x >= 0) & (x <= 1)
    # the limits JAX and SciPy give: the mass all at 0 (a = 0 or b = inf) or all at 1
    mass_at_0, mass_at_1 = (a == 0) | (b == np.inf), (b == 0) | (a == np.inf)
    limit = (mass_at_0 != mass_at_1) & (a >= 0) & (b >= 0) & (x >= 0) & (x <= 1)
    inner = valid & (x > 0) & (x < 1) & np.isfinite(a) & np.isfinite(b)
    flip = x > (a + 1) / (a + b + 2)
    a1, b1 = np.where(flip, b, a), np.where(flip, a, b)
    x1 = np.where(flip, 1 - x, x)
    a1, b1, x1 = (np.where(inner, v, fill) for v, fill in ((a1, 1.0), (b1, 1.0), (x1, 0.5)))
    log_front = (a1 * np.log(x1) + b1 * np.log1p(-x1) - np.log(a1) -
                 (_lgamma(a1) + _lgamma(b1) - _lgamma(a1 + b1)))
    part = np.exp(log_front) * _betainc_fraction(a1, b1, x1)
    out = np.where(flip, 1 - part, part)
    return np.select([(~valid & ~limit) | (mass_at_0 & mass_at_1), x == 0, x == 1, limit],
                     [np.nan, 0.0, 1.0, mass_at_0.astype(np.float64)], out)


betainc_p = _prim("betainc", _betainc, FLOAT)
defjvp(betainc_p, _no_derivative("betainc", "a"), _no_derivative("betainc", "b"),
       lambda g, ans, a, b, x: mul(g, exp(sub(
           add(mul(sub(a, 1.0), log(x)), mul(sub(b, 1.0), log1p(neg(x)))),
           sub(add(lgamma(a), lgamma(b)), lgamma(add(a, b)))))))


# ------------------------------------------------------------------ Hurwitz zeta

_ZETA_SHIFT = 12.0  # sum the first terms until q + n >= this + s, then Euler-Maclaurin


def _zeta(s: np.ndarray, q: np.ndarray) -> np.ndarray:
    """zeta(s, q) = sum_k (q + k)^-s for s > 1: direct terms until q + k >= 12 + s, then
    the Euler-Maclaurin tail with Bernoulli numbers up to B16. A pole (inf) at q = 0, -1, ...; NaN for s < 1."""
    s, q = _f64(s, q)
    target = _ZETA_SHIFT + np.clip(np.nan_to_num(s), 0, 1000)  # the tail's terms fall fast
    n = np.where(np.isfinite(q), np.maximum(np.ceil(target - q), 0), 0)
    direct = np.zeros_like(s)
    for k in range(int(n.max(initial=0))):
        direct = direct + np.where(k < n, (q + k) ** -s, 0.0)
    z = q + n
    tail = z ** (1 - s) / (s - 1) + 0.5 * z ** -s
    rising, zp = s.copy(), z ** (-s - 1)
    for j, b in enumerate(_BERNOULLI, 1):
        tail = tail + b / math.factorial(2 * j) * rising * zp
        rising, zp = rising * (s + 2 * j - 1) * (s + 2 * j), zp / (z * z)
    out = direct + tail
    pole = (q <= 0) & (q == np.floor(q))
    return np.select([np.isnan(s) | np.isnan(q) | (s < 1), (s == 1) | pole,
                      q == np.inf], [np.nan, np.inf, 0.0], out)


zeta_p = _prim("zeta", _zeta, FLOAT)
defjvp(zeta_p, _no_derivative("zeta", "s"),
       lambda g, ans, s, q: mul(g, neg(mul(s, zeta(add(s, 1.0), q)))))


# ------------------------------------------------------------------ scaled Bessel I0, I1

_BESSEL_SERIES_UNTIL = 20.0


def _bessel_ie(x: np.ndarray, nu: int) -> np.ndarray:
    """exp(-|x|) I_nu(|x|) (nu = 0, 1): the power series for |x| <= 20 (positive terms),
    Hankel's asymptotic series beyond (its terms keep falling until k ~ 2|x|)."""
    ax = np.abs(np.asarray(x, np.float64))
    small = np.where(ax <= _BESSEL_SERIES_UNTIL, ax, 0.0)
    quarter = small * small / 4
    term = (small / 2) ** nu
    series = term
    for k in range(1, 80):
        term = term * quarter / (k * (k + nu))
        series = series + term
    big = np.where(ax > _BESSEL_SERIES_UNTIL, ax, 2 * _BESSEL_SERIES_UNTIL)
    term = np.ones_like(big)
    asym = term
    for k in range(1, 30):
        term = -term * (4 * nu * nu - (2 * k - 1) ** 2) / (k * 8 * big)
        asym = asym + term
    out = np.where(ax <= _BESSEL_SERIES_UNTIL, series * np.exp(-small),
                   asym / math.sqrt(2 * math.pi) / np.sqrt(big))  # no overflow at huge |x|
    out = np.select([np.isnan(ax), ax == np.inf], [np.nan, 0.0], out)
    return out if nu == 0 else np.copysign(out, x)


bessel_i0e_p = _prim("bessel_i0e", lambda x: _bessel_ie(x, 0), FLOAT)
bessel_i1e_p = _prim("bessel_i1e", lambda x: _bessel_ie(x, 1), FLOAT)
defjvp(bessel_i0e_p, lambda g, ans, x: mul(g, sub(bessel_i1e(x), mul(sign(x), ans))))


def _i1e_jvp(g: Any, ans: Any, x: Any) -> Any:
    """i1e' = i0e - i1e (sign(x) + 1/x); at x = 0 the limit 1/2 (i1e(x)/x -> 1/2)."""
    zero = eq(x, 0.0)
    over_x = select_n(zero, div(ans, select_n(zero, x, full_like(x, 1.0))), full_like(x, 0.5))
    return mul(g, sub(sub(bessel_i0e(x), mul(sign(x), ans)), over_x))


defjvp(bessel_i1e_p, _i1e_jvp)


# ------------------------------------------------------------------ normal quantile, erfcx, Dawson

_SQRT_HALF = math.sqrt(0.5)


def _ndtri(p: np.ndarray) -> np.ndarray:
    """The standard normal quantile: an erf_inv (or tail-asymptotic) start, then Newton
    steps on log Phi(x) = log p, with Phi from erfc, so the far tails keep full accuracy."""
    p = np.asarray(p, np.float64)
    q = np.where((p > 0) & (p < 1), np.minimum(p, 1 - p), 0.25)
    log_q = np.log(q)
    big = -2 * log_q
    x = np.where(q > 1e-4, -_erf_inv(1 - 2 * q) / _SQRT_HALF,
                 -np.sqrt(big - np.log(big) - math.log(2 * math.pi)))
    for _ in range(5):
        cdf = 0.5 * _erfc(-x * _SQRT_HALF)
        pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        x = x - (np.log(cdf) - log_q) * cdf / pdf
    out = np.where(p < 0.5, x, -x)
    return np.select([np.isnan(p) | (p < 0) | (p > 1), p == 0, p == 1],
                     [np.nan, -np.inf, np.inf], out)


ndtri_p = _prim("ndtri", _ndtri, FLOAT)
defjvp(ndtri_p, lambda g, ans, p: mul(g, mul(math.sqrt(2 * math.pi),
                                             exp(mul(square(ans), 0.5)))))


def _erfcx(x: np.ndarray) -> np.ndarray:
    """exp(x^2) erfc(x): directly below 1.5, by erfc's continued fraction above (without its
    exp(-x^2), so nothing underflows)."""
    x = np.asarray(x, np.float64)
    big = np.where(x >= 1.5, x, 2.0)
    t = big
    for k in range(100, 0, -1):
        t = big + (k / 2) / t
    small = np.where(x < 1.5, x, 0.0)
    out = np.where(x >= 1.5, 1 / (_SQRT_PI * t), np.exp(small * small) * _erfc(small))
    return np.select([np.isnan(x), x == np.inf], [np.nan, 0.0], out)


erfcx_p = _prim("erfcx", _erfcx, FLOAT)
defjvp(erfcx_p, lambda g, ans, x: mul(g, sub(mul(mul(x, 2.0), ans), 2 / _SQRT_PI)))

_DAWSON_SERIES_UNTIL = 10.0


def _dawsn(x: np.ndarray) -> np.ndarray:
    """Dawson's integral: exp(-x^2) sum_n x^(2n+1) / (n! (2n+1)) for |x| <= 10 (positive
    terms), the asymptotic series sum_k (2k-1)!! / (2 x^2)^k / (2x) beyond."""
    x = np.asarray(x, np.float64)
    ax = np.abs(x)
    s = np.where(ax <= _DAWSON_SERIES_UNTIL, ax, 0.0)
    s2 = s * s
    power, total = s, s
    for n in range(1, 400):
        power = power * s2 / n
        total = total + power / (2 * n + 1)
    b = np.where(ax > _DAWSON_SERIES_UNTIL, ax, 2 * _DAWSON_SERIES_UNTIL)
    term, asym = np.ones_like(b), np.ones_like(b)
    for k in range(1, 30):
        term = term * (2 * k - 1) / (2 * b * b)
        asym = asym + term
    out = np.where(ax <= _DAWSON_SERIES_UNTIL, np.exp(-s2) * total, asym / (2 * b))
    out = np.select([np.isnan(x), ax == np.inf], [np.nan, 0.0], out)
    return np.copysign(out, x)


dawsn_p = _prim("dawsn", _dawsn, FLOAT)
defjvp(dawsn_p, lambda g, ans, x: mul(g, sub(1.0, mul(mul(x, 2.0), ans))))


# ------------------------------------------------------------------ exponential integrals

_EULER = 0.5772156649015329


def _lentz(b: np.ndarray, terms: Callable[[int], tuple[Any, Any]]) -> np.ndarray:
    """The continued fraction 1 / (b + a1 / (b1 + a2 / (b2 + ...))) by modified Lentz, for
    real or complex arrays; `terms(i)` gives (a_i, b_i) for i = 1, 2, ..."""
    c = np.full_like(b, 1 / _TINY)
    d = 1 / np.where(np.abs(b) < _TINY, _TINY, b)
    h = d
    for i in range(1, _MAX_TERMS):
        a, b = terms(i)
        d = a * d + b
        d = 1 / np.where(np.abs(d) < _TINY, _TINY, d)
        c = b + a / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        delta = c * d
        h = h * delta
        if np.all(np.abs(delta - 1) <= _EPS):
            break
    return h


def _expn(n: np.ndarray, x: np.ndarray) -> np.ndarray:
    """E_n(x) = int_1^inf e^(-xt) / t^n dt for integers n, x >= 0: its series for x <= 1,
    its continued fraction beyond (n >= 1); an incomplete gamma function for n <= 0."""
    n, x = _f64(n, x)
    valid = (n == np.floor(n)) & (x >= 0)
    inner = valid & (x > 0) & np.isfinite(x) & (n >= 1)
    small = inner & (x <= 1)
    xs, ns = np.where(small, x, 0.5), np.where(small, n, 1.0)
    psi = _polygamma(ns, 0)
    total = np.where(ns != 1, 1 / np.where(ns != 1, ns - 1, 1.0), -np.log(xs) - _EULER)
    fact = np.ones_like(xs)
    for i in range(1, _MAX_TERMS):
        fact = fact * -xs / i
        at_pole = i == ns - 1
        term = np.where(at_pole, fact * (psi - np.log(xs)),
                        -fact / np.where(at_pole, 1.0, i - ns + 1))
        total = total + term
        if np.all(np.abs(term) <= _EPS * np.abs(total)):
            break
    big = inner & (x > 1)
    xb, nb = np.where(big, x, 2.0), np.where(big, n, 1.0)
    fraction = _lentz(xb + nb, lambda i: (-i * (nb - 1 + i), xb + nb + 2 * i)) * np.exp(-xb)
    out = np.where(small, total, fraction)
    k = 1 - np.where(valid & (n <= 0), n, 0.0)  # n <= 0: E_n(x) = x^(n-1) Gamma(1-n, x)
    low = np.exp(_lgamma(k) - k * np.log(np.where(x > 0, x, 1.0))) * _igamma_all(k, x)[1]
    out = np.where(n <= 0, low, out)
    at_zero = np.where(n <= 1, np.inf, 1 / np.where(n <= 1, 1.0, n - 1))
    return np.select([~valid, x == 0, x == np.inf], [np.nan, at_zero, 0.0], out)


def _expi(x: np.ndarray) -> np.ndarray:
    """Ei(x): gamma + log x + sum x^k / (k k!) for 0 < x <= 40 (positive terms), the
    asymptotic e^x / x sum k! / x^k beyond, and -E1(-x) for x < 0."""
    x = np.asarray(x, np.float64)
    mid = (x > 0) & (x <= 40)
    xm = np.where(mid, x, 1.0)
    term, total = np.ones_like(xm), np.zeros_like(xm)
    for k in range(1, 200):
        term = term * xm / k
        total = total + term / k
    series = _EULER + np.log(xm) + total
    xb = np.where(x > 40, x, 41.0)
    term, asym = np.ones_like(xb), np.ones_like(xb)
    for k in range(1, 40):
        term = term * k / xb
        asym = asym + term
    out = np.where(mid, series, np.exp(xb) / xb * asym)
    out = np.where(x < 0, -_expn(np.ones_like(x), -np.where(x < 0, x, -1.0)), out)
    return np.select([np.isnan(x), x == 0, x == np.inf], [np.nan, -np.inf, np.inf], out)


expn_p = _prim("expn", _expn, FLOAT)
defjvp(expn_p, _no_derivative("expn", "n"),
       lambda g, ans, n, x: neg(mul(g, expn_p.bind(sub(n, 1.0), x))))
expi_p = _prim("expi", _expi, FLOAT)
defjvp(expi_p, lambda g, ans, x: mul(g, div(exp(x), x)))


# ------------------------------------------------------------------ Fresnel, sine and cosine integrals

def _fresnel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, C): power series for |x| <= 1.5, the complex continued fraction of erfc beyond."""
    x = np.asarray(x, np.float64)
    ax = np.abs(x)
    small = ax <= 1.5
    t = np.where(small, ax, 0.0)
    half_pi = math.pi / 2
    s = np.zeros_like(t)
    c = np.zeros_like(t)
    term = t  # (pi/2)^k t^(2k+1) / k!, alternately feeding C (k even) and S (k odd)
    for k in range(0, 40):
        sign = -1.0 if k % 4 >= 2 else 1.0
        if k % 2 == 0:
            c = c + sign * term / (2 * k + 1)
        else:
            s = s + sign * term / (2 * k + 1)
        term = term * half_pi * t * t / (k + 1)
    b = np.where(small, 2.0, ax)
    pix2 = math.pi * b * b
    h = _lentz((1 - 1j * pix2), lambda i: (-(2 * i - 1) * (2 * i), 1 - 1j * pix2 + 4 * i))
    h = h * (b - 1j * b)
    cs = (0.5 + 0.5j) * (1 - h * np.exp(0.5j * pix2))
    s = np.where(small, s, cs.imag)
    c = np.where(small, c, cs.real)
    s = np.select([np.isnan(x), ax == np.inf], [np.nan, 0.5], s)
    c = np.select([np.isnan(x), ax == np.inf], [np.nan, 0.5], c)
    return np.copysign(s, x), np.copysign(c, x)


fresnel_s_p = _prim("fresnel_s", lambda x: _fresnel(x)[0], FLOAT)
fresnel_c_p = _prim("fresnel_c", lambda x: _fresnel(x)[1], FLOAT)
defjvp(fresnel_s_p, lambda g, ans, x: mul(g, sin(mul(square(x), math.pi / 2))))
defjvp(fresnel_c_p, lambda g, ans, x: mul(g, cos(mul(square(x), math.pi / 2))))


def _sici(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Si, Ci) (Ci of |x|, its real part, for x < 0): series for |x| <= 2, the complex
    continued fraction of E1(ix) beyond."""
    x = np.asarray(x, np.float64)
    ax = np.abs(x)
    small = ax <= 2
    t = np.where(small & (ax > 0), ax, 1.0)
    si, ci, term = np.zeros_like(t), np.zeros_like(t), np.ones_like(t)
    for k in range(1, 40):  # term = t^k / k!
        term = term * t / k
        sign = -1.0 if (k // 2) % 2 else 1.0
        if k % 2:
            si = si + sign * term / k
        else:
            ci = ci + sign * term / k
    ci = ci + _EULER + np.log(t)
    b = np.where(small, 3.0, ax)
    h = _lentz(1 + 1j * b, lambda i: (-float(i * i), 1 + 1j * b + 2 * i))
    h = h * (np.cos(b) - 1j * np.sin(b))
    si = np.where(small, si, math.pi / 2 + h.imag)
    ci = np.where(small, ci, -h.real)
    si = np.select([np.isnan(x), ax == np.inf, ax == 0], [np.nan, math.pi / 2, 0.0], si)
    ci = np.select([np.isnan(x) | (x == -np.inf), x == np.inf, ax == 0], [np.nan, 0.0, -np.inf],
                   ci)  # Ci(-inf) is NaN, as in SciPy
    return np.copysign(si, x), ci


si_p = _prim("sine_integral", lambda x: _sici(x)[0], FLOAT)
ci_p = _prim("cosine_integral", lambda x: _sici(x)[1], FLOAT)


def _sinc_like(f: Callable[[Any], Any], at_zero: float) -> Callable[..., Any]:
    """The rule g * f(x) / x, with its limit at x = 0 (where f(0) = 0) or its pole."""
    def rule(g: Any, ans: Any, x: Any) -> Any:
        zero = eq(x, 0.0)
        safe = select_n(zero, x, full_like(x, 1.0))
        return mul(g, select_n(zero, div(f(x), safe), full_like(x, at_zero)))
    return rule


defjvp(si_p, _sinc_like(sin, 1.0))
defjvp(ci_p, _sinc_like(cos, math.inf))


# ------------------------------------------------------------------ dilogarithm, Owen's T

def _li2_unit(w: np.ndarray) -> np.ndarray:
    """Li2(w) for 0 <= w <= 1: its series below 1/2, Euler's reflection above."""
    high = w > 0.5
    v = np.where(high, 1 - w, w)
    term, total = np.ones_like(v), np.zeros_like(v)
    for k in range(1, 60):
        term = term * v
        total = total + term / (k * k)
    reflected = math.pi ** 2 / 6 - np.log(np.where(high, w, 0.5)) * np.log(v) - total
    return np.where(high, np.where(w == 1, math.pi ** 2 / 6, reflected), total)


def _spence(z: np.ndarray) -> np.ndarray:
    """SciPy's spence(z) = Li2(1 - z) for z >= 0 (NaN below); for 1 - z < 0 through
    Li2(y) = -Li2(y / (y - 1)) - log(1 - y)^2 / 2."""
    z = np.asarray(z, np.float64)
    y = 1 - np.where(z >= 0, z, 1.0)
    neg = y < 0
    w = np.where(neg, y / (y - 1), y)
    out = np.where(neg, -_li2_unit(w) - 0.5 * np.log1p(-np.where(neg, y, 0.0)) ** 2,
                   _li2_unit(np.clip(w, 0, 1)))
    return np.where(np.isnan(z) | (z < 0) | (z == np.inf), np.nan, out)


spence_p = _prim("spence", _spence, FLOAT)


def _spence_jvp(g: Any, ans: Any, z: Any) -> Any:
    one = eq(z, 1.0)
    safe = select_n(one, z, full_like(z, 2.0))
    slope = select_n(one, div(log(safe), sub(1.0, safe)), full_like(z, -1.0))
    return mul(g, slope)


defjvp(spence_p, _spence_jvp)

@functools.cache
def _gauss_legendre() -> tuple[np.ndarray, np.ndarray]:
    """120-point nodes and weights, made on first use (30 ms: not at import)."""
    return np.polynomial.legendre.leggauss(120)


def _owens_t(h: np.ndarray, a: np.ndarray) -> np.ndarray:
    """T(h, a) = (1/2pi) int_0^a exp(-h^2 (1+x^2)/2) / (1+x^2) dx: Gauss-Legendre
    quadrature for |a| <= 1, Owen's identity T(h, a) = (Q(h) + Q(ah))/2 - Q(h) Q(ah)
    - T(ah, 1/a) beyond, Q = 1 - Phi (h >= 0; T is even in h and odd in a)."""
    h, a = _f64(h, a)
    hh, aa = np.abs(h), np.abs(a)

    def quad(h: np.ndarray, a: np.ndarray) -> np.ndarray:
        nodes, weights = _gauss_legendre()
        x = (a[..., None] / 2) * (nodes + 1)
        f = np.exp(-0.5 * h[..., None] ** 2 * (1 + x * x)) / (1 + x * x)
        return (a / 2) * np.sum(weights * f, axis=-1) / (2 * math.pi)

    inside = aa <= 1
    big_a = np.where(inside, 2.0, np.where(np.isfinite(aa), aa, 2.0))
    q_h = 0.5 * _erfc(hh * _SQRT_HALF)  # upper tails: no cancellation for large h
    q_ah = 0.5 * _erfc(hh * big_a * _SQRT_HALF)
    outside = 0.5 * (q_h + q_ah) - q_h * q_ah - quad(hh * big_a, 1 / big_a)
    out = np.where(inside, quad(hh, np.where(inside, aa, 0.0)), outside)
    at_inf_a = 0.5 * (0.5 * _erfc(hh * _SQRT_HALF))  # T(h, inf) = (1 - Phi(|h|)) / 2
    out = np.where(aa == np.inf, at_inf_a, out)
    out = np.where(hh == np.inf, 0.0, out)
    return np.where(np.isnan(h) | np.isnan(a), np.nan, np.copysign(out, a))


owens_t_p = _prim("owens_t", _owens_t, FLOAT)
defjvp(owens_t_p,
       lambda g, ans, h, a: mul(g, mul(mul(exp(mul(square(h), -0.5)), -1 / (2 * math.sqrt(
           2 * math.pi))), erf(mul(mul(a, h), _SQRT_HALF)))),
       lambda g, ans, h, a: mul(g, div(exp(mul(mul(square(h), add(square(a), 1.0)), -0.5)),
                                       mul(add(square(a), 1.0), 2 * math.pi))))


# ------------------------------------------------------------------ hypergeometric functions

def _hyp_series(num: list[np.ndarray], den: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """sum_k prod (num)_k / prod (den)_k x^k / k!, until the terms stop mattering."""
    term, total = np.ones_like(x), np.ones_like(x)
    for k in range(_MAX_TERMS):
        ratio = x / (k + 1)
        for v in num:
            ratio = ratio * (v + k)
        for v in den:
            ratio = ratio / (v + k)
        term = term * ratio
        total = total + term
        if np.all((np.abs(term) <= _EPS * np.abs(total)) | (term == 0)) and k > 2:
            break
    return total


def _hyp1f1(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Kummer's 1F1(a; b; x): its series for x >= 0, Kummer's transformation e^x 1F1(b - a;
    b; -x) for x < 0 (so the terms keep one sign when b > a)."""
    a, b, x = _f64(a, b, x)
    neg = x < 0
    finite = np.isfinite(a) & np.isfinite(b) & np.isfinite(x)
    xs = np.where(finite, np.abs(x), 0.0)
    series = _hyp_series([np.where(neg, b - a, a)], [b], xs)
    out = np.where(neg, np.exp(-xs) * series, series)
    return np.where(finite, out, np.nan)


hyp1f1_p = _prim("hyp1f1", _hyp1f1, FLOAT)
defjvp(hyp1f1_p, _no_derivative("hyp1f1", "a"), _no_derivative("hyp1f1", "b"),
       lambda g, ans, a, b, x: mul(g, mul(div(a, b), hyp1f1_p.bind(add(a, 1.0), add(b, 1.0),
                                                                      x))))


def _gamma_sign(x: np.ndarray) -> np.ndarray:
    """The sign of Gamma(x) (1 at the poles, where 1/Gamma is 0 whatever the sign)."""
    return np.where((x < 0) & (np.floor(x) % 2 == 1), -1.0, 1.0)


def _hyp2f1(a: np.ndarray, b: np.ndarray, c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gauss's 2F1(a, b; c; x) for x <= 1: the series on [0, 1), Pfaff's transformation
    (1 - x)^-a 2F1(a, c - b; c; x / (x - 1)) for x < 0, Gauss's sum at x = 1."""
    a, b, c, x = _f64(a, b, c, x)
    neg = x < 0
    ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(c) & np.isfinite(x) & (x < 1)
    z = np.where(ok, np.where(neg, x / (x - 1), x), 0.0)
    series = _hyp_series([a, np.where(neg, c - b, b)], [c], z)
    out = np.where(neg, (1 - np.where(ok, x, 0.0)) ** -a * series, series)
    s = c - a - b
    s = np.where(s > 0, s, 1.0)
    gauss = (_gamma_sign(c) * _gamma_sign(c - a) * _gamma_sign(c - b)
             * np.exp(_lgamma(c) + _lgamma(s) - _lgamma(c - a) - _lgamma(c - b)))
    at_one = np.where(c - a - b > 0, gauss, np.inf)
    return np.select([x == 1, ~ok], [at_one, np.nan], out)


hyp2f1_p = _prim("hyp2f1", _hyp2f1, FLOAT)
defjvp(hyp2f1_p, _no_derivative("hyp2f1", "a"), _no_derivative("hyp2f1", "b"),
       _no_derivative("hyp2f1", "c"),
       lambda g, ans, a, b, c, x: mul(g, mul(div(mul(a, b), c), hyp2f1_p.bind(
           add(a, 1.0), add(b, 1.0), add(c, 1.0), x))))


# ------------------------------------------------------------------ Bessel J of integer order

def _miller_start(top: float) -> int:
    """The even order Miller's backward recurrence starts from, well above the order and
    the argument `top` for J up to that order to come out at double precision."""
    return 2 * ((int(top + math.sqrt(160 * top)) + 20) // 2)


def _bessel_jn(z: np.ndarray, n: int) -> np.ndarray:
    """J_n(z) by Miller's backward recurrence from an order well above n and |z|, rescaled
    as it grows and normalized by J_0 + 2 J_2 + 2 J_4 + ... = 1."""
    z = np.asarray(z, np.float64)
    az = np.where(np.isfinite(z) & (z != 0), np.abs(z), 1.0)
    m = _miller_start(max(n, float(az.max(initial=1.0))))
    two_over = 2 / az
    bjp, bj = np.zeros_like(az), np.ones_like(az)
    ans, total = np.zeros_like(az), np.zeros_like(az)
    for j in range(m, 0, -1):
        bjm = j * two_over * bj - bjp
        bjp, bj = bj, bjm
        big = np.abs(bj) > 1e100
        scale = np.where(big, 1e-100, 1.0)
        bj, bjp, ans, total = bj * scale, bjp * scale, ans * scale, total * scale
        if (m - j) % 2 == 1:  # bj is now J of the even order j - 1
            total = total + bj
        if j == n:
            ans = bjp
    if n == 0:
        ans = bj
    out = ans / (2 * total - bj)
    out = np.where(z == 0, 1.0 if n == 0 else 0.0, out)
    out = np.where(np.isnan(z), np.nan, np.where(np.isinf(z), 0.0, out))
    return out * np.where((z < 0) & (n % 2 == 1), -1.0, 1.0)


bessel_jn_p = _prim("bessel_jn", _bessel_jn, FLOAT)


def _integer_order_jvp(prim: Any) -> Callable[..., Any]:
    """The derivative of a Bessel function of integer order n, J or Y alike:
    C_n' = (C_{n-1} - C_{n+1}) / 2, and C_0' = -C_1."""

    def rule(g: Any, ans: Any, z: Any, n: int) -> Any:
        up = prim.bind(z, n=n + 1)
        if n == 0:
            return neg(mul(g, up))
        return mul(g, mul(sub(prim.bind(z, n=n - 1), up), 0.5))

    return rule


defjvp(bessel_jn_p, _integer_order_jvp(bessel_jn_p))


# ------------------------------------------------------------------ Bessel Y of integer order

def _bessel_y01(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Y_0 and Y_1 of x > 0 from Neumann's series over the J_k of one Miller recurrence:
    pi Y_0 / 2 = (log(x/2) + gamma) J_0 - 2 sum_k (-1)^k J_2k / k, and its derivative."""
    m = _miller_start(float(x.max(initial=1.0)))
    two_over = 2 / x
    bjp, bj = np.zeros_like(x), np.ones_like(x)  # J_m+1 and J_m, up to a common factor
    total, s0, s1 = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    for j in range(m, 0, -1):
        bjp, bj = bj, j * two_over * bj - bjp  # bj is now J_{j-1}
        big = np.abs(bj) > 1e100
        if big.any():
            scale = np.where(big, 1e-100, 1.0)
            bj, bjp, total, s0, s1 = (a * scale for a in (bj, bjp, total, s0, s1))
        order = j - 1
        k = order // 2
        if order % 2 == 0 and order > 0:  # J_2k: in the normalization and in Y_0's sum
            total += bj
            s0 += (-1) ** k / k * bj
        elif order % 2 == 1:  # J_2k+1: once from term k + 1 of Y_1's sum, once from term k
            s1 += (-1) ** (k + 1) / (k + 1) * bj
            if k > 0:
                s1 += (-1) ** (k + 1) / k * bj
    norm = 2 * total + bj  # J_0 + 2 (J_2 + J_4 + ...) = 1
    j0, j1, s0, s1 = bj / norm, bjp / norm, s0 / norm, s1 / norm
    log_term = np.log(x / 2) + np.euler_gamma
    y0 = 2 / np.pi * (log_term * j0 - 2 * s0)
    y1 = 2 / np.pi * (log_term * j1 - j0 / x + s1)
    return y0, y1


def _bessel_yn(x: np.ndarray, n: int) -> np.ndarray:
    """Y_n(x) of integer order: Y_0 and Y_1, then the upward recurrence Y_k+1 = 2k/x Y_k -
    Y_k-1 (stable for Y, which grows with k); Y_-n = (-1)^n Y_n. At the edges: -inf at 0,
    the limit 0 at +inf (as J_n), NaN for x < 0."""
    x = np.asarray(x, np.float64)
    ok = np.isfinite(x) & (x > 0)
    xs = np.where(ok, x, 1.0)
    y_prev, y = _bessel_y01(xs)
    if n == 0:
        y = y_prev
    for k in range(1, abs(n)):
        y_prev, y = y, 2 * k / xs * y - y_prev
    if n < 0 and n % 2:
        y = -y
    edge = np.where(x == 0, -np.inf if n >= 0 or n % 2 == 0 else np.inf,
                    np.where(x == np.inf, 0.0, np.nan))
    return np.where(ok, y, edge)


bessel_yn_p = _prim("bessel_yn", _bessel_yn, FLOAT)


defjvp(bessel_yn_p, _integer_order_jvp(bessel_yn_p))


# ------------------------------------------------------------------ Bessel I of real order

def _ive_series(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """I_v(x) exp(-x) for x > 0 from the power series sum_k (x/2)^(2k+v) / (k! Gamma(k+v+1))
    (terms of one sign once k > -v), summed relative to its first term with rescaling."""
    log_first = v * np.log(x / 2) - _lgamma(v + 1) - x
    sign = np.where((v + 1 < 0) & (np.floor(v + 1) % 2 == 1), -1.0, 1.0)  # of Gamma(v + 1)
    q = (x / 2) ** 2
    term, total = np.ones_like(x), np.ones_like(x)
    k = 0
    while True:
        k += 1
        term = term * q / (k * (k + v))
        total = total + term
        big = np.abs(total) > 1e250
        if big.any():
            term, total = np.where(big, term * 1e-250, term), np.where(big, total * 1e-250, total)
            log_first = np.where(big, log_first + 250 * np.log(10.0), log_first)
        if k > q.max(initial=0.0) ** 0.5 and not np.any(np.abs(term) > 1e-17 * np.abs(total)):
            break
    return sign * np.sign(total) * np.exp(log_first + np.log(np.abs(total)))


def _ive_asymptotic(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """I_v(x) exp(-x) for x large against v^2: sum_k (-1)^k a_k(v) / x^k / sqrt(2 pi x),
    a_k(v) = prod_j (4v^2 - (2j-1)^2) / (k! 8^k), up to its smallest term."""
    mu = 4 * v * v
    term, total = np.ones_like(x), np.ones_like(x)
    for k in range(1, 60):
        step = -(mu - (2 * k - 1) ** 2) / (8 * k * x)
        term = np.where(np.abs(step) < 1, term * step, 0.0)  # past the smallest term: stop
        total = total + term
    return total / np.sqrt(2 * np.pi * x)


def _bessel_ive(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """I_v(x) exp(-|x|), the exponentially scaled modified Bessel function of real order v
    (SciPy's `ive`): I_-n = I_n for integers n; I_v(-x) = (-1)^v I_v(x) for integer v, NaN
    otherwise."""
    v, x = _f64(v, x)
    integer = v == np.floor(v)
    v = np.where(integer & (v < 0), -v, v)
    ax = np.abs(x)
    ok = np.isfinite(v) & np.isfinite(x) & (ax > 0)
    asym = ok & (ax >= 50) & (v * v <= ax)
    series = ok & ~asym
    out = np.zeros_like(ax)
    if series.any():
        out[series] = _ive_series(v[series], ax[series])
    if asym.any():
        out[asym] = _ive_asymptotic(v[asym], ax[asym])
    gamma_sign = np.where(np.floor(v + 1) % 2 == 1, -1.0, 1.0)  # of Gamma(v + 1), v < 0
    at_zero = np.where(v == 0, 1.0, np.where(integer | (v > 0), 0.0, gamma_sign * np.inf))
    edge = np.where(x == 0, at_zero, np.where(np.isinf(x) & np.isfinite(v), 0.0, np.nan))
    out = np.where(ok, out, np.where((v == np.inf) & np.isfinite(x), 0.0, edge))
    odd = integer & (np.abs(v) % 2 == 1)
    out = np.where(x < 0, np.where(integer, np.where(odd, -out, out), np.nan), out)
    return np.where(np.isnan(v) | np.isnan(x), np.nan, out)


bessel_ive_p = _prim("bessel_ive", _bessel_ive, FLOAT)
defjvp(bessel_ive_p, _no_derivative("bessel_ive", "v"),
       lambda g, ans, v, x: mul(g, sub(mul(add(bessel_ive_p.bind(sub(v, 1.0), x),
                                               bessel_ive_p.bind(add(v, 1.0), x)), 0.5),
                                       mul(sign(x), ans))))


# ------------------------------------------------------------------ Faddeeva, spherical harmonics

_WOFZ_N = 40
_WOFZ_L = math.sqrt(_WOFZ_N / math.sqrt(2))


def _wofz_coefficients() -> np.ndarray:
    """Weideman's (1994) polynomial coefficients for w(z) in the upper half-plane."""
    m = 2 * _WOFZ_N
    k = np.arange(-m + 1, m)
    t = _WOFZ_L * np.tan(k * math.pi / m / 2)
    f = np.concatenate([[0.0], np.exp(-t * t) * (_WOFZ_L ** 2 + t * t)])
    a = np.real(np.fft.fft(np.fft.fftshift(f))) / (2 * m)
    return a[1:_WOFZ_N + 1][::-1]


_WOFZ_A = _wofz_coefficients()


def _wofz(z: np.ndarray) -> np.ndarray:
    """The Faddeeva function w(z) = exp(-z^2) erfc(-iz): Weideman's rational approximation in
    the upper half-plane, w(z) = 2 exp(-z^2) - w(-z) below it."""
    z = np.asarray(z, np.complex128)
    upper = z.imag >= 0
    zu = np.where(upper, z, -z)
    big = np.abs(zu) > 1e8  # w(z) ~ i / (sqrt(pi) z) out there
    zs = np.where(big, 1j, zu)
    den = _WOFZ_L - 1j * zs
    p = np.polyval(_WOFZ_A, (_WOFZ_L + 1j * zs) / den)
    w = 2 * p / (den * den) + 1 / (_SQRT_PI * den)
    w = np.where(big, 1j / (_SQRT_PI * np.where(big, zu, 1.0)), w)
    return np.where(upper, w, 2 * np.exp(-z * z) - w)


wofz_p = _prim("wofz", _wofz, "c")
defjvp(wofz_p, lambda g, ans, z: mul(g, add(mul(mul(z, -2.0), ans),
                                            np.asarray(2j / _SQRT_PI, ans.dtype))))


def _sph_legendre(n: np.ndarray, m: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The orthonormalized associated Legendre function of cos(theta), Condon-Shortley phase
    included, for integers 0 <= m <= n (0 elsewhere): the stable recurrence up in m, then in
    n."""
    n, m, theta = _f64(n, m, theta)
    ok = (n >= 0) & (m >= 0) & (m <= n) & (n == np.floor(n)) & (m == np.floor(m))
    n, m = np.where(ok, n, 0.0), np.where(ok, m, 0.0)
    x, s = np.cos(theta), np.sin(theta)
    p = np.full_like(x, 1 / math.sqrt(4 * math.pi))
    for k in range(1, int(m.max(initial=0)) + 1):
        p = np.where(k <= m, -math.sqrt((2 * k + 1) / (2 * k)) * s * p, p)
    prev, cur = np.zeros_like(p), p  # orders l - 1 and l = m
    out = np.where(n == m, cur, 0.0)
    for step in range(1, int((n - m).max(initial=0)) + 1):
        lvl = m + step
        a = np.sqrt((4 * lvl * lvl - 1) / np.maximum(lvl * lvl - m * m, 1))
        a_prev = np.sqrt((4 * (lvl - 1) ** 2 - 1) / np.maximum((lvl - 1) ** 2 - m * m, 1))
        nxt = a * (x * cur - np.where(step > 1, prev / a_prev, 0.0))
        prev, cur = cur, nxt
        out = np.where(n == lvl, cur, out)
    return np.where(ok, out, np.nan)


sph_legendre_p = _prim("sph_legendre", _sph_legendre, FLOAT)
defjvp(sph_legendre_p, _no_derivative("sph_legendre", "n"),
       _no_derivative("sph_legendre", "m"), _no_derivative("sph_legendre", "theta"))


# ------------------------------------------------------------------ the CuPy impls

_PRIMITIVES = (
    igamma_p, igammac_p, igamma_grad_a_p, random_gamma_grad_p, random_loggamma_p,
    random_loggamma_grad_p, poisson_quantile_p, binomial_quantile_p, betainc_p, zeta_p,
    bessel_i0e_p, bessel_i1e_p, ndtri_p, erfcx_p, dawsn_p, expn_p, expi_p, fresnel_s_p,
    fresnel_c_p, si_p, ci_p, spence_p, owens_t_p, hyp1f1_p, hyp2f1_p, bessel_jn_p, bessel_yn_p,
    bessel_ive_p, wofz_p, sph_legendre_p)


def _on_host(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A CuPy impl: the float64 series run on the host, the result moved to the device (these
    functions have no CuPy kernels; they are elementwise and small next to matrix work)."""
    def impl(*args: Any, **params: Any) -> Any:
        if not any(is_gpu_array(a) for a in args):  # already on the host
            return fn(*args, **params)
        import cupy
        return cupy.asarray(fn(*(cupy.asnumpy(a) for a in args), **params))
    return impl


for _p in _PRIMITIVES:
    _p.def_impl(_on_host(_p.impls["numpy"]), backend="cupy")


# ------------------------------------------------------------------ wrappers

def igamma(a: Any, x: Any) -> Any:
    """The regularized lower incomplete gamma function P(a, x).

    >>> round(float(igamma(np.float64(1.0), np.float64(1.0))), 6)  # 1 - 1/e
    0.632121
    """
    return igamma_p.bind(*asarray_like(a, x))


def igammac(a: Any, x: Any) -> Any:
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x), accurate where
    it is small.

    >>> round(float(igammac(np.float64(1.0), np.float64(30.0))) * 1e14, 4)  # e^-30
    9.3576
    """
    return igammac_p.bind(*asarray_like(a, x))


def igamma_grad_a(a: Any, x: Any) -> Any:
    """dP(a, x)/da, the derivative of `igamma` in its first operand."""
    return igamma_grad_a_p.bind(*asarray_like(a, x))


def random_gamma_grad(a: Any, x: Any) -> Any:
    """d x / d a for a Gamma(a, 1) draw x at a fixed quantile: -(dP/da) / (dP/dx), the
    implicit reparameterization gradient (Figurnov et al., 2018).

    >>> round(float(random_gamma_grad(np.float64(1.0), np.float64(1.0))), 6)
    1.173563
    """
    return random_gamma_grad_p.bind(*asarray_like(a, x))


def betainc(a: Any, b: Any, x: Any) -> Any:
    """The regularized incomplete beta function I_x(a, b).

    >>> round(float(betainc(np.float64(2.0), np.float64(2.0), np.float64(0.5))), 12)
    0.5
    """
    return betainc_p.bind(*asarray_like(a, b, x))


def zeta(x: Any, q: Any) -> Any:
    """The Hurwitz zeta function sum_k (q + k)^-x (x > 1).

    >>> round(float(zeta(np.float64(2.0), np.float64(1.0))), 10) == round(math.pi**2 / 6, 10)
    True
    """
    return zeta_p.bind(*asarray_like(x, q))


def bessel_i0e(x: Any) -> Any:
    """exp(-abs(x)) I0(x), the exponentially scaled modified Bessel function of order 0."""
    return bessel_i0e_p.bind(*asarray_like(x))


def bessel_i1e(x: Any) -> Any:
    """exp(-abs(x)) I1(x), the exponentially scaled modified Bessel function of order 1."""
    return bessel_i1e_p.bind(*asarray_like(x))


def expn(n: Any, x: Any) -> Any:
    """The generalized exponential integral E_n(x) for integers n >= 0."""
    return expn_p.bind(*asarray_like(n, x))


def expi(x: Any) -> Any:
    """The exponential integral Ei(x)."""
    return expi_p.bind(x)


def fresnel(x: Any) -> tuple[Any, Any]:
    """The Fresnel integrals (S(x), C(x))."""
    return fresnel_s_p.bind(x), fresnel_c_p.bind(x)


def sici(x: Any) -> tuple[Any, Any]:
    """The sine and cosine integrals (Si(x), Ci(x))."""
    return si_p.bind(x), ci_p.bind(x)


def spence(z: Any) -> Any:
    """SciPy's spence(z) = Li2(1 - z), the dilogarithm, for z >= 0."""
    return spence_p.bind(z)


def owens_t(h: Any, a: Any) -> Any:
    """Owen's T function T(h, a)."""
    return owens_t_p.bind(*asarray_like(h, a))


def hyp1f1(a: Any, b: Any, x: Any) -> Any:
    """Kummer's confluent hypergeometric function 1F1(a; b; x)."""
    return hyp1f1_p.bind(*asarray_like(a, b, x))


def hyp2f1(a: Any, b: Any, c: Any, x: Any) -> Any:
    """Gauss's hypergeometric function 2F1(a, b; c; x) for x <= 1."""
    return hyp2f1_p.bind(*asarray_like(a, b, c, x))


def bessel_jn(z: Any, n: int) -> Any:
    """The Bessel function of the first kind J_n(z) of integer order n (static)."""
    return bessel_jn_p.bind(z, n=int(n))


def bessel_yn(x: Any, n: int) -> Any:
    """The Bessel function of the second kind Y_n(x) of integer order n (static)."""
    return bessel_yn_p.bind(x, n=int(n))


def bessel_ive(v: Any, x: Any) -> Any:
    """I_v(x) exp(-|x|), the exponentially scaled modified Bessel function of real order v."""
    return bessel_ive_p.bind(*asarray_like(v, x))


def wofz(z: Any) -> Any:
    """The Faddeeva function exp(-z^2) erfc(-iz) of complex z."""
    return wofz_p.bind(z)


def sph_legendre(n: Any, m: Any, theta: Any) -> Any:
    """The orthonormalized associated Legendre function of cos(theta) (0 <= m <= n)."""
    return sph_legendre_p.bind(*asarray_like(n, m, theta))


def ndtri(p: Any) -> Any:
    """The standard normal quantile function (the inverse of the normal CDF)."""
    return ndtri_p.bind(p)


def erfcx(x: Any) -> Any:
    """exp(x^2) erfc(x), the scaled complementary error function."""
    return erfcx_p.bind(x)


def dawsn(x: Any) -> Any:
    """Dawson's integral exp(-x^2) int_0^x exp(t^2) dt."""
    return dawsn_p.bind(x)


def random_loggamma(a: Any, u: Any) -> Any:
    """log of the Gamma(a, 1) quantile at u in (0, 1): finite even where the quantile itself
    underflows (small a), with the implicit-reparameterization derivative in a."""
    return random_loggamma_p.bind(*asarray_like(a, u))


def poisson_quantile(lam: Any, u: Any) -> Any:
    """The smallest k with P(K <= k) >= u for K ~ Poisson(lam), as a float."""
    return poisson_quantile_p.bind(*asarray_like(lam, u))


def binomial_quantile(n: Any, p: Any, u: Any) -> Any:
    """The smallest k with P(K <= k) >= u for K ~ Binomial(n, p), as a float."""
    return binomial_quantile_p.bind(*asarray_like(n, p, u))


# the jax.lax names; ndtri, erfcx, dawsn and the samplers' quantiles are used through this
# module by fnad.scipy and fnad.random
__all__ = ["bessel_i0e", "bessel_i1e", "betainc", "igamma", "igamma_grad_a", "igammac",
           "random_gamma_grad", "zeta"]
