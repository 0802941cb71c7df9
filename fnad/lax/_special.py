"""Special functions of `jax.lax` composed from fnad's primitives: the regularized
incomplete gamma and beta functions (series and continued fractions in a `while_loop`
that runs until every element has converged) and Hurwitz's zeta (Euler-Maclaurin).

The loops are forward-differentiable only, so `igamma`, `igammac` and `betainc` carry a
`custom_jvp` whose tangent is a primal-only coefficient times each input tangent: the
analytic derivative in x, and the derivative in a (and b) obtained by running the loop
in forward mode with a unit tangent. That keeps reverse mode (`grad`) working.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad.core.errors import DTypeError
from fnad.core.ir import get_aval
from fnad.interpreters.jvp import instantiate, jvp_flat
from fnad.lax import elementwise as ew, reduction as red
from fnad.lax.control_flow import while_loop
from fnad.lax.custom import custom_jvp
from fnad.lax.structural import broadcast_in_dim

_MAX_ITERATIONS = 5000  # the loops stop as soon as every element has converged


def _floats(fn: str, *args: Any) -> list[Any]:
    """The operands as arrays of their common float dtype, broadcast to one shape."""
    args = ew.asarray_like(*args)
    dts = [get_aval(a).dtype for a in args]
    dt = np.result_type(*dts)
    if dt.kind != "f":
        raise DTypeError(f"lax.{fn} needs float operands, got {', '.join(map(str, dts))}")
    shape = np.broadcast_shapes(*(get_aval(a).shape for a in args))
    out = []
    for a in args:
        a = ew.convert_element_type(a, dt)
        s = get_aval(a).shape
        if s != shape:
            a = broadcast_in_dim(a, shape, tuple(range(len(shape) - len(s), len(shape))))
        out.append(a)
    return out


def _c(value: float, like: Any) -> Any:
    return np.asarray(value, get_aval(like).dtype)


def _any(mask: Any) -> Any:
    nd = get_aval(mask).ndim
    return red.reduce_or(mask, tuple(range(nd))) if nd else mask


def _guard(v: Any, tiny: Any) -> Any:
    """Lentz's guard: a value too close to zero becomes `tiny`."""
    return ew.select_n(ew.lt(ew.abs(v), tiny), v, ew.full_like(v, tiny))


def _iterate(body: Any, state: tuple, done_index: int) -> tuple:
    """Run `body` on the (n, ...) state until every element is done (or the cap)."""
    def cond(s: tuple) -> Any:
        return ew.bitwise_and(ew.lt(s[0], _MAX_ITERATIONS),
                              _any(ew.bitwise_not(s[done_index])))
    return while_loop(cond, body, state)


# ------------------------------------------------------------------ incomplete gamma


def _gamma_pq(a: Any, x: Any) -> tuple[Any, Any]:
    """(P(a, x), Q(a, x)): the series for P where x < a + 1, the continued fraction for Q
    elsewhere, each run on inputs made safe for the other elements."""
    dt = get_aval(a).dtype
    eps, tiny = np.finfo(dt).eps, np.asarray(np.finfo(dt).tiny / np.finfo(dt).eps, dt)
    bad = ew.bitwise_or(ew.bitwise_or(ew.le(a, _c(0, a)), ew.lt(x, _c(0, x))),
                        ew.bitwise_or(ew.ne(a, a), ew.ne(x, x)))
    a = ew.select_n(bad, a, ew.full_like(a, 1))
    x = ew.select_n(bad, x, ew.full_like(x, 1))
    series = ew.lt(x, ew.add(a, _c(1, a)))
    finite = ew.is_finite(x)
    xs = ew.select_n(series, ew.full_like(x, 0), x)  # the series' inputs (x < a + 1)
    xc = ew.select_n(ew.bitwise_and(ew.bitwise_not(series), finite), ew.add(a, _c(1, a)), x)

    def series_step(s: tuple) -> tuple:
        n, term, total, done = s
        n1 = ew.add(n, 1)
        term = ew.mul(term, ew.div(xs, ew.add(a, ew.convert_element_type(n1, dt))))
        total = ew.add(total, term)
        done = ew.bitwise_or(done, ew.le(ew.abs(term), ew.mul(ew.abs(total), _c(eps, a))))
        return n1, term, total, done

    one = ew.full_like(a, 1)
    _, _, total, _ = _iterate(series_step, (np.int32(0), one, one, ew.eq(xs, 0)), 3)
    log_x = ew.log(ew.select_n(ew.eq(xs, 0), xs, ew.full_like(xs, 1)))
    p_series = ew.mul(total, ew.exp(ew.sub(ew.sub(ew.mul(a, log_x), xs),
                                           ew.lgamma(ew.add(a, _c(1, a))))))
    p_series = ew.select_n(ew.eq(xs, 0), p_series, ew.full_like(xs, 0))

    def cf_step(s: tuple) -> tuple:
        n, b, c, d, h, done = s
        n1 = ew.add(n, 1)
        i = ew.convert_element_type(n1, dt)
        an = ew.neg(ew.mul(i, ew.sub(i, a)))
        b = ew.add(b, _c(2, b))
        d = ew.div(_c(1, d), _guard(ew.add(ew.mul(an, d), b), tiny))
        c = _guard(ew.add(b, ew.div(an, c)), tiny)
        delta = ew.mul(d, c)
        h = ew.select_n(done, ew.mul(h, delta), h)
        done = ew.bitwise_or(done, ew.lt(ew.abs(ew.sub(delta, _c(1, delta))), _c(eps, a)))
        return n1, b, c, d, h, done

    b0 = ew.sub(ew.add(xc, _c(1, xc)), a)
    d0 = ew.div(_c(1, b0), _guard(b0, tiny))
    c0 = ew.full_like(a, 1 / float(tiny))
    _, _, _, _, h, _ = _iterate(cf_step, (np.int32(0), b0, c0, d0, d0, ew.bitwise_not(finite)),
                                5)
    q_cf = ew.mul(h, ew.exp(ew.sub(ew.sub(ew.mul(a, ew.log(xc)), xc), ew.lgamma(a))))
    q_cf = ew.select_n(finite, ew.full_like(x, 0), q_cf)
    p = ew.select_n(series, ew.sub(_c(1, q_cf), q_cf), p_series)
    q = ew.select_n(series, q_cf, ew.sub(_c(1, p_series), p_series))
    nan = ew.full_like(p, np.nan)
    return ew.select_n(bad, p, nan), ew.select_n(bad, q, nan)


def _unit_tangent_coefficients(fn: Any, args: list[Any], which: list[int]) -> list[Any]:
    """d fn / d args[i] for each i in `which`, by forward mode with a unit tangent (the
    loops inside are forward-differentiable); primal values only."""
    out = []
    for i in which:
        tangents = [ew.full_like(v, 1 if k == i else 0) for k, v in enumerate(args)]
        _, (t,) = jvp_flat(lambda *vs: [fn(*vs)], args, tangents)
        out.append(instantiate(t))
    return out


def _density_gamma(a: Any, x: Any) -> Any:
    """dP/dx = x^(a-1) exp(-x) / Gamma(a) (0 at x = 0 for a > 1)."""
    safe = ew.select_n(ew.gt(x, _c(0, x)), ew.full_like(x, 1), x)
    dens = ew.exp(ew.sub(ew.sub(ew.mul(ew.sub(a, _c(1, a)), ew.log(safe)), x), ew.lgamma(a)))
    return ew.select_n(ew.gt(x, _c(0, x)), ew.full_like(x, 0), dens)


def igamma_grad_a(a: Any, x: Any) -> Any:
    """d/da of the regularized lower incomplete gamma function P(a, x)."""
    a, x = _floats("igamma_grad_a", a, x)
    return _unit_tangent_coefficients(lambda s, t: _gamma_pq(s, t)[0], [a, x], [0])[0]


@custom_jvp
def _igamma(a: Any, x: Any) -> Any:
    return _gamma_pq(a, x)[0]


@custom_jvp
def _igammac(a: Any, x: Any) -> Any:
    return _gamma_pq(a, x)[1]


def _gamma_jvp(sign: float, which: int) -> Any:
    def rule(primals: tuple, tangents: tuple) -> tuple:
        (a, x), (ta, tx) = primals, tangents
        out = _gamma_pq(a, x)[which]
        ga = igamma_grad_a(a, x)
        t = ew.add(ew.mul(ga, instantiate(ta)), ew.mul(_density_gamma(a, x), instantiate(tx)))
        return out, (t if sign > 0 else ew.neg(t))
    return rule


_igamma.defjvp(_gamma_jvp(1.0, 0))
_igammac.defjvp(_gamma_jvp(-1.0, 1))


def igamma(a: Any, x: Any) -> Any:
    """The regularized lower incomplete gamma function P(a, x) = gamma(a, x) / Gamma(a);
    NaN for a <= 0 or x < 0. Differentiable in both arguments.

    >>> round(float(igamma(np.float64(2.0), np.float64(1.0))), 12)
    0.264241117657
    """
    return _igamma(*_floats("igamma", a, x))


def igammac(a: Any, x: Any) -> Any:
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x), computed
    directly (accurate where it is tiny)."""
    return _igammac(*_floats("igammac", a, x))


def random_gamma_grad(a: Any, x: Any) -> Any:
    """d x / d a for a Gamma(a, 1) sample x held at fixed P(a, x) (implicit
    reparameterization): -(dP/da) / (dP/dx)."""
    a, x = _floats("random_gamma_grad", a, x)
    return ew.neg(ew.div(igamma_grad_a(a, x), _density_gamma(a, x)))


# ------------------------------------------------------------------ incomplete beta


def _beta_cf(a: Any, b: Any, x: Any) -> Any:
    """I_x(a, b) by the continued fraction, valid for x < (a + 1) / (a + b + 2)."""
    dt = get_aval(a).dtype
    eps, tiny = np.finfo(dt).eps, np.asarray(np.finfo(dt).tiny / np.finfo(dt).eps, dt)
    qab, qap, qam = ew.add(a, b), ew.add(a, _c(1, a)), ew.sub(a, _c(1, a))
    one = ew.full_like(a, 1)

    def step(s: tuple) -> tuple:
        n, c, d, h, done = s
        n1 = ew.add(n, 1)
        m = ew.convert_element_type(n1, dt)
        m2 = ew.mul(m, _c(2, m))
        aa = ew.div(ew.mul(ew.mul(m, ew.sub(b, m)), x), ew.mul(ew.add(qam, m2), ew.add(a, m2)))
        d = ew.div(one, _guard(ew.add(one, ew.mul(aa, d)), tiny))
        c = _guard(ew.add(one, ew.div(aa, c)), tiny)
        h2 = ew.mul(h, ew.mul(d, c))
        aa = ew.neg(ew.div(ew.mul(ew.mul(ew.add(a, m), ew.add(qab, m)), x),
                           ew.mul(ew.add(a, m2), ew.add(qap, m2))))
        d = ew.div(one, _guard(ew.add(one, ew.mul(aa, d)), tiny))
        c = _guard(ew.add(one, ew.div(aa, c)), tiny)
        delta = ew.mul(d, c)
        h = ew.select_n(done, ew.mul(h2, delta), h)
        done = ew.bitwise_or(done, ew.lt(ew.abs(ew.sub(delta, one)), _c(eps, a)))
        return n1, c, d, h, done

    d0 = ew.div(one, _guard(ew.sub(one, ew.div(ew.mul(qab, x), qap)), tiny))
    _, _, _, h, _ = _iterate(step, (np.int32(0), one, d0, d0, ew.eq(x, 0)), 4)
    log_front = ew.sub(ew.add(ew.mul(a, ew.log(ew.select_n(ew.eq(x, 0), x, one))),
                              ew.mul(b, ew.log1p(ew.neg(x)))),
                       ew.sub(ew.add(ew.lgamma(a), ew.lgamma(b)), ew.lgamma(qab)))
    out = ew.div(ew.mul(ew.exp(log_front), h), a)
    return ew.select_n(ew.eq(x, 0), out, ew.full_like(x, 0))


def _betainc_impl(a: Any, b: Any, x: Any) -> Any:
    bad = ew.bitwise_or(ew.bitwise_or(ew.le(a, _c(0, a)), ew.le(b, _c(0, b))),
                        ew.bitwise_or(ew.lt(x, _c(0, x)), ew.gt(x, _c(1, x))))
    bad = ew.bitwise_or(bad, ew.bitwise_or(ew.ne(a, a), ew.bitwise_or(ew.ne(b, b),
                                                                       ew.ne(x, x))))
    one = ew.full_like(a, 1)
    a = ew.select_n(bad, a, one)
    b = ew.select_n(bad, b, one)
    x = ew.select_n(bad, x, ew.full_like(x, 0.5))
    flip = ew.gt(x, ew.div(ew.add(a, one), ew.add(ew.add(a, b), _c(2, a))))
    xa = ew.select_n(flip, x, ew.full_like(x, 0))
    xb = ew.select_n(flip, ew.full_like(x, 0), ew.sub(one, x))
    direct = _beta_cf(a, b, xa)
    mirrored = ew.sub(one, _beta_cf(b, a, xb))
    out = ew.select_n(flip, direct, mirrored)
    return ew.select_n(bad, out, ew.full_like(out, np.nan))


@custom_jvp
def _betainc(a: Any, b: Any, x: Any) -> Any:
    return _betainc_impl(a, b, x)


@_betainc.defjvp
def _betainc_jvp(primals: tuple, tangents: tuple) -> tuple:
    a, b, x = primals
    ga, gb = _unit_tangent_coefficients(_betainc_impl, [a, b, x], [0, 1])
    inside = ew.bitwise_and(ew.gt(x, _c(0, x)), ew.lt(x, _c(1, x)))
    one = ew.full_like(x, 1)
    xs = ew.select_n(inside, ew.full_like(x, 0.5), x)
    log_dens = ew.sub(ew.add(ew.mul(ew.sub(a, one), ew.log(xs)),
                             ew.mul(ew.sub(b, one), ew.log1p(ew.neg(xs)))),
                      ew.sub(ew.add(ew.lgamma(a), ew.lgamma(b)), ew.lgamma(ew.add(a, b))))
    gx = ew.select_n(inside, ew.full_like(x, 0), ew.exp(log_dens))
    ta, tb, tx = (instantiate(t) for t in tangents)
    t = ew.add(ew.add(ew.mul(ga, ta), ew.mul(gb, tb)), ew.mul(gx, tx))
    return _betainc_impl(a, b, x), t


def betainc(a: Any, b: Any, x: Any) -> Any:
    """The regularized incomplete beta function I_x(a, b); NaN outside a, b > 0 and
    0 <= x <= 1. Differentiable in all three arguments.

    >>> round(float(betainc(np.float64(2.0), np.float64(3.0), np.float64(0.4))), 12)
    0.5248
    """
    return _betainc(*_floats("betainc", a, b, x))


# ------------------------------------------------------------------ Hurwitz zeta

_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
              43867 / 798, -174611 / 330, 854513 / 138, -236364091 / 2730)
_DIRECT_TERMS = 9


def zeta(x: Any, q: Any) -> Any:
    """Hurwitz's zeta function sum_k (k + q)^-x for x > 1 (inf at x = 1, NaN below),
    by Euler-Maclaurin summation: nine terms, then the integral and twelve Bernoulli
    corrections. Differentiable in x and q.

    >>> round(float(zeta(np.float64(2.0), np.float64(1.0))), 12)
    1.644934066848
    """
    x, q = _floats("zeta", x, q)
    one = ew.full_like(x, 1)
    ok = ew.bitwise_and(ew.gt(x, one), ew.gt(q, ew.full_like(q, 0)))
    xs = ew.select_n(ok, ew.full_like(x, 2), x)
    qs = ew.select_n(ok, one, q)
    total = ew.full_like(x, 0)
    for k in range(_DIRECT_TERMS):
        total = ew.add(total, ew.pow(ew.add(qs, _c(k, qs)), ew.neg(xs)))
    w = ew.add(qs, _c(_DIRECT_TERMS, qs))
    total = ew.add(total, ew.div(ew.pow(w, ew.sub(one, xs)), ew.sub(xs, one)))
    w_pow = ew.pow(w, ew.neg(xs))
    total = ew.add(total, ew.mul(w_pow, _c(0.5, w)))
    rising = xs  # x (x + 1) ... (x + 2j - 2)
    fact = 2.0   # (2j)!
    w_pow = ew.div(w_pow, w)  # w^(-x - 1)
    inv_w2 = ew.div(one, ew.mul(w, w))
    for j, b2j in enumerate(_BERNOULLI, start=1):
        total = ew.add(total, ew.mul(ew.mul(_c(b2j / fact, x), rising), w_pow))
        rising = ew.mul(rising, ew.mul(ew.add(xs, _c(2 * j - 1, xs)), ew.add(xs, _c(2 * j, xs))))
        fact *= (2 * j + 1) * (2 * j + 2)
        w_pow = ew.mul(w_pow, inv_w2)
    at_one = ew.eq(x, one)
    int_pole = ew.bitwise_and(ew.le(q, ew.full_like(q, 0)), ew.eq(q, ew.floor(q)))
    out = ew.select_n(ok, ew.full_like(x, np.nan), total)
    return ew.select_n(ew.bitwise_or(at_one, ew.bitwise_and(int_pole, ew.gt(x, one))), out,
                       ew.full_like(x, np.inf))


__all__ = ["betainc", "igamma", "igamma_grad_a", "igammac", "random_gamma_grad", "zeta"]
