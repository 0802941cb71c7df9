"""The samplers of `jax.random` beyond uniform and normal draws, re-exported by
`fnad.random`. Each is a pure function of the key: JAX's transforms of its uniforms (so
the same key gives JAX's numbers, to XLA's rounding of log and the like; the gamma family
and Poisson by JAX's rejection loops), or exact quantile functions (binomial: JAX's
rejection loop draws other numbers from the same distribution), so the numbers are the same eagerly,
under `jit` and under `vmap`, and never NaN or inf for valid parameters. Continuous ones are
differentiable in their parameters: through the transform, and for gamma, beta, Dirichlet
(and chi-squared, F, t) by implicit reparameterization (-(dP/da) / pdf, as JAX's).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.core.dtypes import default_float, default_int
from fnad.core.errors import ArgumentError, DTypeError, ShapeError, check_one_device
from fnad.core.ir import get_aval
from fnad.lax import special as _special
from fnad.lax.custom import custom_jvp
from fnad.random import (
    Key,
    Shape,
    _float_dtype,
    _fma,
    _log1p,
    _normal,
    _shape,
    _unit,
    bernoulli,
    categorical,
    normal,
    split,
    uniform,
)
from fnad.scipy._util import quiet_all
from fnad.scipy.stats._kde import gaussian_kde
from fnad.scipy.stats.multivariate_normal import _cholesky


def _params(name: str, shape: int | Shape | None, dtype: np.dtype, *params: Any
            ) -> tuple[tuple[int, ...], list[Any]]:
    """The draw shape (the parameters' broadcast shape when `shape` is None) and the
    parameters as `dtype` arrays broadcast to it; a `ShapeError` when they do not fit."""
    arrays = [fnp.asarray(p, dtype) for p in params]
    pshape = np.broadcast_shapes(*(get_aval(p).shape for p in arrays)) if arrays else ()
    out = tuple(pshape) if shape is None else _shape(shape)
    try:
        if np.broadcast_shapes(out, pshape) != out:
            raise ValueError
    except ValueError:
        raise ShapeError(f"{name}: the parameters' shape {tuple(pshape)} does not broadcast "
                         f"to shape {out}") from None
    return out, [fnp.broadcast_to(p, out) for p in arrays]


def _open_unit(key: Key, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Uniforms in the open interval (0, 1), each exact: every log and quantile below
    stays finite."""
    return _unit(key, shape, dtype, True)


def _fdtype(dtype: Any) -> np.dtype:
    """The draws' float dtype: JAX's `dtype=None` is the default float."""
    return _float_dtype(dtype)


def _int_dtype(name: str, dtype: Any) -> np.dtype:
    dtype = np.dtype(default_int() if dtype is None else dtype)
    if dtype.kind not in "iu":
        raise DTypeError(f"{name} draws integers; got dtype {dtype}")
    return dtype


def _check_method(name: str, method: str) -> None:
    """JAX's `method` argument: "exact" and "auto" both give the exact quantile draws here."""
    if method not in ("exact", "auto"):
        raise ArgumentError(f"{name}: method must be 'exact' or 'auto', got {method!r}")


# ------------------------------------------------------------------ location-scale families

def exponential(key: Key, shape: int | Shape = (), dtype: Any = None,
                *, out_sharding: Any = None) -> Any:
    """Standard exponential draws, JAX's -log1p(-u) for u uniform in [0, 1).

    >>> bool((exponential(key(0), (100,)) > 0).all())
    True
    """
    check_one_device("exponential", out_sharding=out_sharding)
    return fnp.negative(_log1p(fnp.negative(_unit(key, _shape(shape), _fdtype(dtype), False))))


def laplace(key: Key, shape: int | Shape = (), dtype: Any = None,
            *, out_sharding: Any = None) -> Any:
    """Standard Laplace draws (density exp(-abs(x)) / 2), JAX's: sign(u) log1p(-abs(u))
    for u uniform in (-1, 1)."""
    check_one_device("laplace", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    u = uniform(key, shape, dtype, -1 + np.finfo(dtype).epsneg, 1.0)
    return fnp.multiply(fnp.sign(u), _log1p(fnp.negative(fnp.abs(u))))


def logistic(key: Key, shape: int | Shape = (), dtype: Any = None,
             *, out_sharding: Any = None) -> Any:
    """Standard logistic draws, logit(u) for u uniform in (0, 1) (JAX's)."""
    check_one_device("logistic", out_sharding=out_sharding)
    u = _open_unit(key, _shape(shape), _fdtype(dtype))
    return fnp.subtract(fnp.log(u), _log1p(fnp.negative(u)))


def cauchy(key: Key, shape: int | Shape = (), dtype: Any = None,
           *, out_sharding: Any = None) -> Any:
    """Standard Cauchy draws, tan(pi (u - 1/2)) for u uniform in [eps, 1) (JAX's)."""
    check_one_device("cauchy", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    u = uniform(key, shape, dtype, np.finfo(dtype).eps, 1.0)
    return fnp.tan(fnp.multiply(np.asarray(math.pi, dtype), fnp.subtract(u, 0.5)))


def lognormal(key: Key, sigma: Any = 1.0, shape: int | Shape | None = None,
              dtype: Any = None, *, out_sharding: Any = None) -> Any:
    """exp(sigma z) for standard normal z (differentiable in sigma)."""
    check_one_device("lognormal", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    shape, (sigma,) = _params("lognormal", shape, dtype, sigma)
    return fnp.exp(sigma * normal(key, shape, dtype))


def rayleigh(key: Key, scale: Any = 1.0, shape: int | Shape | None = None,
             dtype: Any = None, *, out_sharding: Any = None) -> Any:
    """Rayleigh draws, scale sqrt(-2 log u)."""
    check_one_device("rayleigh", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    shape, (scale,) = _params("rayleigh", shape, dtype, scale)
    return scale * fnp.sqrt(-2 * fnp.log(_open_unit(key, shape, dtype)))


def pareto(key: Key, b: Any, shape: int | Shape | None = None, dtype: Any = None,
           *, out_sharding: Any = None
           ) -> Any:
    """Pareto draws with shape b on [1, inf), exp(E / b) for exponential E."""
    check_one_device("pareto", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    shape, (b,) = _params("pareto", shape, dtype, b)
    return fnp.exp(exponential(key, shape, dtype) / b)


def weibull_min(key: Key, scale: Any, concentration: Any, shape: int | Shape = (),
                dtype: Any = None) -> Any:
    """Weibull draws, scale E^(1 / concentration) for exponential E."""
    dtype = _fdtype(dtype)
    e = exponential(key, shape, dtype)
    return fnp.power(e, 1 / fnp.asarray(concentration, dtype)) * fnp.asarray(scale, dtype)


def triangular(key: Key, left: Any, mode: Any, right: Any, shape: int | Shape | None = None,
               dtype: Any = None, *, out_sharding: Any = None) -> Any:
    """Draws from the triangular distribution on [left, right] peaking at mode, by the
    inverse CDF (JAX's)."""
    check_one_device("triangular", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    shape, (lo, mid, hi) = _params("triangular", shape, dtype, left, mode, right)
    u = _unit(key, shape, dtype, False)
    width = hi - lo
    cut = (mid - lo) / width
    rising = lo + fnp.sqrt(u * width * (mid - lo))
    falling = hi - fnp.sqrt((1 - u) * width * (hi - mid))
    return fnp.where(u < cut, rising, falling)


def wald(key: Key, mean: Any, shape: int | Shape | None = None, dtype: Any = None,
         *, out_sharding: Any = None
         ) -> Any:
    """Inverse Gaussian (Wald) draws with the given mean and unit shape, by Michael,
    Schucany and Haas's transformation, written without cancellation."""
    check_one_device("wald", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    shape, (mu,) = _params("wald", shape, dtype, mean)
    k1, k2 = split(key)
    w = mu * fnp.square(normal(k1, shape, dtype))
    y = mu * (1 - 2 * w / (fnp.sqrt(w * (w + 4)) + w))
    u = _open_unit(k2, shape, dtype)
    return fnp.where(u <= mu / (mu + y), y, mu * mu / y)


def rademacher(key: Key, shape: int | Shape = (), dtype: Any = None,
               *, out_sharding: Any = None) -> Any:
    """Random signs, -1 or +1 with equal probability: 2 bernoulli(1/2) - 1 (JAX's)."""
    check_one_device("rademacher", out_sharding=out_sharding)
    dtype = np.dtype(default_int() if dtype is None else dtype)
    b = fnp.asarray(bernoulli(key, 0.5, _shape(shape)), dtype)
    return fnp.asarray(2 * b - 1, dtype)


def maxwell(key: Key, shape: int | Shape = (), dtype: Any = None,
            *, out_sharding: Any = None) -> Any:
    """Maxwell draws: the length of a standard normal 3-vector."""
    check_one_device("maxwell", out_sharding=out_sharding)
    shape, dtype = _shape(shape), _fdtype(dtype)
    return fnp.linalg.norm(normal(key, (*shape, 3), dtype), axis=-1)


def double_sided_maxwell(key: Key, loc: Any, scale: Any, shape: int | Shape = (),
                         dtype: Any = None) -> Any:
    """Maxwell draws with a random sign, scaled and shifted; the draws have shape
    `shape + broadcast(loc, scale).shape`, as in JAX."""
    dtype = _fdtype(dtype)
    loc, scale = fnp.asarray(loc, dtype), fnp.asarray(scale, dtype)
    full = _shape(shape) + tuple(np.broadcast_shapes(get_aval(loc).shape,
                                                      get_aval(scale).shape))
    k1, k2 = split(key)
    sign = fnp.asarray(rademacher(k2, full), dtype)
    return sign * maxwell(k1, full, dtype) * scale + loc


# ------------------------------------------------------------------ the gamma family

def _gamma_one(key: Key, alpha: Any, log_space: bool) -> Any:
    """One Gamma(alpha) draw (or its log) as JAX makes it: Marsaglia and Tsang's squeeze and
    rejection loop for alpha >= 1, each try splitting the key three ways (the rest, the
    normal's key, redrawn until 1 + c x > 0, and the uniform's); alpha < 1 draws
    Gamma(alpha + 1) times u**(1 / alpha), or in log space adds log(u) / alpha."""
    dtype = get_aval(alpha).dtype
    one = np.asarray(1.0, dtype)
    boost = alpha >= one
    shifted = fnp.where(boost, alpha, alpha + one)
    d = shifted - np.asarray(1 / 3, dtype)
    c = np.asarray(1 / 3, dtype) / fnp.sqrt(d)

    def rejected(state: tuple[Any, ...]) -> Any:
        _, x2, v, u = state
        squeezed_out = u >= _fma(np.asarray(-0.0331, dtype) * x2, x2, one)
        return fnp.logical_and(squeezed_out, fnp.log(u) >= x2 * np.asarray(0.5, dtype)
                               + d * (one - v + fnp.log(v)))

    def redraw(state: tuple[Any, ...]) -> tuple[Any, ...]:
        rest, sub = split(state[0])
        x = _normal(sub, (), dtype)
        return rest, x, _fma(x, c, one)

    def attempt(state: tuple[Any, ...]) -> tuple[Any, ...]:
        rest, x_key, u_key = split(state[0], 3)
        _, x, v = lax.while_loop(lambda s: s[2] <= 0, redraw,
                                 (x_key, np.asarray(0.0, dtype), -one))
        return rest, x * x, v * v * v, _unit(u_key, (), dtype, False)

    key, sub = split(key)
    _, _, v, _ = lax.while_loop(rejected, attempt, (key, np.asarray(0.0, dtype), one,
                                                    np.asarray(2.0, dtype)))
    u = _unit(sub, (), dtype, False)
    if log_space:
        log_u = _log1p(fnp.negative(u))
        log_boost = fnp.where(fnp.logical_or(boost, log_u == 0), np.asarray(0.0, dtype),
                              log_u * (one / alpha))
        return fnp.log(d) + fnp.log(v) + log_boost
    return d * v * fnp.where(boost, one, fnp.power(one - u, one / alpha))


def _gamma_draws(key: Key, a: Any, log_space: bool) -> Any:
    """JAX's gamma draws for each element of `a`, each from its own key of `split(key)`."""
    shape = get_aval(a).shape
    n = math.prod(shape)
    draws = _gamma_batch(log_space)(split(key, n), fnp.reshape(a, (n,)))
    return fnp.reshape(draws, shape)


@functools.cache
def _gamma_batch(log_space: bool) -> Callable[[Any, Any], Any]:
    """`_gamma_one` over a batch of keys and shapes, compiled once (its loops are slow to
    trace at every eager call)."""
    from fnad.api import vmap  # these import fnad.random
    from fnad.jit.api import jit
    return jit(vmap(functools.partial(_gamma_one, log_space=log_space)), backend="numpy")


def _gamma_tangent(log_space: bool, primals: tuple[Any, ...], tangents: tuple[Any, ...]
                   ) -> tuple[Any, Any]:
    """Implicit reparameterization: d x / d a = -(dP(a, x)/da) / pdf(a, x), as JAX's (the
    key, integer words, has no tangent)."""
    (key, a), (_, da) = primals, tangents
    out = _gamma_sample(key, a, log_space)
    if not log_space:
        return out, _special.random_gamma_grad(a, out) * da
    x = fnp.exp(out)
    x = fnp.where(x == 0, np.asarray(np.finfo(get_aval(x).dtype).tiny, get_aval(x).dtype), x)
    return out, _special.random_gamma_grad(a, x) / x * da


_gamma_sample = custom_jvp(_gamma_draws, nondiff_argnums=(2,))
_gamma_sample.defjvp(_gamma_tangent)


def loggamma(key: Key, a: Any, shape: int | Shape | None = None, dtype: Any = None,
             method: str = "exact", *, out_sharding: Any = None) -> Any:
    """log of Gamma(a, 1) draws, JAX's (its rejection loop in log space), finite even for
    tiny a where the draws underflow; differentiable in a (implicit reparameterization).

    >>> bool(np.isfinite(loggamma(key(0), 1e-3, (100,))).all())
    True
    """
    check_one_device("loggamma", out_sharding=out_sharding)
    _check_method("loggamma", method)
    dtype = _fdtype(dtype)
    shape, (a,) = _params("loggamma", shape, dtype, a)
    return _gamma_sample(key, a, True)


def gamma(key: Key, a: Any, shape: int | Shape | None = None, dtype: Any = None,
          method: str = "exact", *, out_sharding: Any = None) -> Any:
    """Gamma(a, 1) draws, JAX's (Marsaglia and Tsang's rejection loop, a key per draw),
    with the implicit reparameterization derivative d x / d a = -(dP/da) / pdf.

    >>> x = gamma(key(0), 2.0, (4000,)); bool(abs(float(x.mean()) - 2) < 0.1)
    True
    """
    check_one_device("gamma", out_sharding=out_sharding)
    _check_method("gamma", method)
    dtype = _fdtype(dtype)
    shape, (a,) = _params("gamma", shape, dtype, a)
    return _gamma_sample(key, a, False)


def chisquare(key: Key, df: Any, shape: int | Shape | None = None, dtype: Any = None,
              method: str = "exact", *, out_sharding: Any = None) -> Any:
    """Chi-squared draws with df degrees of freedom, 2 Gamma(df / 2)."""
    check_one_device("chisquare", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    shape, (df,) = _params("chisquare", shape, dtype, df)
    return 2 * gamma(key, df / 2, shape, dtype, method)


def f(key: Key, dfnum: Any, dfden: Any, shape: int | Shape | None = None,
      dtype: Any = None, *, out_sharding: Any = None) -> Any:
    """F draws, (X1 / dfnum) / (X2 / dfden) for chi-squared X1, X2 (ratio taken in log
    space, so no underflow makes it 0/0)."""
    check_one_device("f", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    shape, (dfnum, dfden) = _params("f", shape, dtype, dfnum, dfden)
    k_den, k_num = split(key)  # JAX's order
    t1, t2 = loggamma(k_num, dfnum / 2, shape, dtype), loggamma(k_den, dfden / 2, shape, dtype)
    return fnp.exp(t1 - t2) * (dfden / dfnum)


def t(key: Key, df: Any, shape: int | Shape | None = None, dtype: Any = None,
      *, out_sharding: Any = None) -> Any:
    """Student's t draws, z sqrt(df / X) for normal z and chi-squared X."""
    check_one_device("t", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    shape, (df,) = _params("t", shape, dtype, df)
    k1, k2 = split(key)
    half = df / 2
    return normal(k1, shape, dtype) * fnp.exp(0.5 * (fnp.log(half) - loggamma(k2, half, shape,
                                                                              dtype)))


def beta(key: Key, a: Any, b: Any, shape: int | Shape | None = None, dtype: Any = None,
         method: str = "exact", *, out_sharding: Any = None) -> Any:
    """Beta(a, b) draws, G1 / (G1 + G2) for gamma draws, computed from their logs so tiny a
    and b give 0s and 1s, never NaN.

    >>> x = beta(key(0), 2.0, 3.0, (4000,)); bool(abs(float(x.mean()) - 0.4) < 0.02)
    True
    """
    check_one_device("beta", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    shape, (a, b) = _params("beta", shape, dtype, a, b)
    k1, k2 = split(key)
    t1, t2 = loggamma(k1, a, shape, dtype, method), loggamma(k2, b, shape, dtype, method)
    return fnp.exp(t1 - fnp.logaddexp(t1, t2))


def dirichlet(key: Key, alpha: Any, shape: int | Shape | None = None, dtype: Any = None,
              *, out_sharding: Any = None
              ) -> Any:
    """Dirichlet(alpha) draws (alpha's last axis holds the categories): normalized gamma
    draws, a softmax of their logs. The draws have shape `shape + alpha.shape[-1:]`."""
    check_one_device("dirichlet", out_sharding=out_sharding)
    dtype = _fdtype(dtype)
    alpha = fnp.asarray(alpha, dtype)
    if get_aval(alpha).ndim < 1:
        raise ShapeError("dirichlet: alpha needs at least one axis (the categories)")
    k = get_aval(alpha).shape[-1]
    batch = get_aval(alpha).shape[:-1] if shape is None else _shape(shape)
    _params("dirichlet", batch, dtype, fnp.zeros(get_aval(alpha).shape[:-1], dtype))
    full = (*batch, k)
    logs = loggamma(key, fnp.broadcast_to(alpha, full), full, dtype)
    m = lax.stop_gradient(fnp.max(logs, axis=-1, keepdims=True))
    e = fnp.exp(logs - m)
    return e / fnp.sum(e, axis=-1, keepdims=True)


def generalized_normal(key: Key, p: float, shape: int | Shape = (), dtype: Any = None,
                       *, out_sharding: Any = None
                       ) -> Any:
    """Draws with density proportional to exp(-abs(x)**p): a random sign times G^(1/p) for G
    ~ Gamma(1/p)."""
    check_one_device("generalized_normal", out_sharding=out_sharding)
    shape, dtype = _shape(shape), _fdtype(dtype)
    k1, k2 = split(key)
    p = fnp.asarray(p, dtype)
    magnitude = fnp.exp(loggamma(k1, 1 / p, shape, dtype) / p)
    return fnp.asarray(rademacher(k2, shape), dtype) * magnitude


def ball(key: Key, d: int, p: float = 2, shape: int | Shape = (), dtype: Any = None,
         *, out_sharding: Any = None
         ) -> Any:
    """Uniform draws from the unit p-norm ball in d dimensions, shape `shape + (d,)`
    (Barthe, Guedon, Mendelson and Naor's construction)."""
    check_one_device("ball", out_sharding=out_sharding)
    shape, dtype = _shape(shape), _fdtype(dtype)
    k1, k2 = split(key)
    g = generalized_normal(k1, p, (*shape, int(d)), dtype)
    e = exponential(k2, shape, dtype)
    radius = fnp.power(fnp.sum(fnp.power(fnp.abs(g), p), axis=-1) + e, 1 / p)
    return g / radius[..., None]


# ------------------------------------------------------------------ discrete

def geometric(key: Key, p: Any, shape: int | Shape | None = None, dtype: Any = None,
              *, out_sharding: Any = None) -> Any:
    """The trial of the first success (1, 2, ...) with success probability p, JAX's:
    floor(log(u) / log1p(-p)) + 1 for u uniform in (0, 1] (a 0 draw taken as 1)."""
    check_one_device("geometric", out_sharding=out_sharding)
    dtype = _int_dtype("geometric", dtype)
    fdtype = get_aval(fnp.asarray(p)).dtype
    fdtype = fdtype if fdtype.kind == "f" else default_float()
    shape, (p,) = _params("geometric", shape, fdtype, p)
    u = _unit(key, shape, fdtype, False)
    u = fnp.where(u == 0, fnp.ones_like(u), u)
    return fnp.asarray(fnp.floor(fnp.log(u) / fnp.log1p(-p)) + 1, dtype)


def poisson(key: Key, lam: Any, shape: int | Shape | None = None, dtype: Any = None,
            method: str = "exact", *, out_sharding: Any = None) -> Any:
    """Poisson(lam) counts, JAX's: Knuth's product of uniforms below lam = 10, Hormann's
    transformed rejection (PTRS) above, both in float32 from the same key, as JAX's.

    >>> k = poisson(key(0), 3.0, (4000,)); bool(abs(float(k.mean()) - 3) < 0.15)
    True
    """
    check_one_device("poisson", out_sharding=out_sharding)
    _check_method("poisson", method)
    dtype = _int_dtype("poisson", dtype)
    shape, (lam,) = _params("poisson", shape, np.dtype(np.float32), lam)
    knuth = fnp.logical_or(fnp.isnan(lam), lam < 10)
    if isinstance(knuth, np.ndarray) and (knuth.all() or not knuth.any()):  # eager: one way
        counts = (_poisson_knuth if knuth.all() else _poisson_rejection)(key, lam, dtype)
    else:
        counts = fnp.where(knuth, _poisson_knuth(key, fnp.where(knuth, lam, 0.0), dtype),
                           _poisson_rejection(key, fnp.where(knuth, 1e5, lam), dtype))
    return fnp.where(lam == 0, fnp.zeros_like(counts), counts)


def _poisson_knuth(key: Key, lam: Any, dtype: np.dtype) -> Any:
    """Count uniforms until their product falls below exp(-lam) (in logs), all at once."""
    def more(state: tuple[Any, ...]) -> Any:
        return fnp.any(state[3] > -lam)

    def step(state: tuple[Any, ...]) -> tuple[Any, ...]:
        i, k, key, log_prod = state
        key, sub = split(key)
        k = fnp.where(log_prod > -lam, k + 1, k)
        return i + 1, k, key, log_prod + fnp.log(_unit(sub, get_aval(lam).shape, lam.dtype,
                                                       False))
    zeros = fnp.zeros(get_aval(lam).shape, dtype)
    _, k, _, _ = lax.while_loop(more, step, (0, zeros, key, fnp.zeros_like(lam)))
    return fnp.asarray(k - 1, dtype)


def _poisson_rejection(key: Key, lam: Any, dtype: np.dtype) -> Any:
    """Hormann's transformed rejection with squeeze (1993), every element each round."""
    shape, ftype = get_aval(lam).shape, get_aval(lam).dtype
    log_lam = fnp.log(lam)
    b = 0.931 + 2.53 * fnp.sqrt(lam)
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2)

    def pending(state: tuple[Any, ...]) -> Any:
        return fnp.any(fnp.logical_not(state[1]))

    def step(state: tuple[Any, ...]) -> tuple[Any, ...]:
        k_out, accepted, key = state
        key, k0, k1 = split(key, 3)
        u = _unit(k0, shape, ftype, False) - 0.5
        v = _unit(k1, shape, ftype, False)
        us = 0.5 - fnp.abs(u)
        k = fnp.floor((2 * a / us + b) * u + lam + 0.43)
        s = fnp.log(v * inv_alpha / (a / (us * us) + b))
        t = -lam + k * log_lam - lax.lgamma(k + 1)
        accept = fnp.logical_or(
            fnp.logical_and(us >= 0.07, v <= v_r),
            fnp.logical_and(fnp.logical_not(fnp.logical_or(
                k < 0, fnp.logical_and(us < 0.013, v > us))), s <= t))
        return fnp.where(accept, k, k_out), fnp.logical_or(accepted, accept), key

    init = (fnp.full(shape, -1.0, ftype), fnp.zeros(shape, bool), key)
    return fnp.asarray(lax.while_loop(pending, step, init)[0], dtype)


def binomial(key: Key, n: Any, p: Any, shape: int | Shape | None = None,
             dtype: Any = None) -> Any:
    """Binomial(n, p) counts (as floats, as in JAX), the exact quantile of a uniform."""
    dtype = _fdtype(dtype)
    shape, (n, p) = _params("binomial", shape, dtype, n, p)
    return _special.binomial_quantile(n, p, _unit(key, shape, dtype, False))


def multinomial(key: Key, n: Any, p: Any, *, shape: int | Shape | None = None,
                dtype: Any = None, unroll: int = 1) -> Any:
    """Counts of n draws over the categories of p (last axis), as successive binomials of
    what remains; the result has shape `shape` (JAX's: the whole result shape, categories
    last, broadcast-compatible with p), or `p.shape`."""
    del unroll  # JAX's scan unrolling; the categories are a Python loop here
    dtype = _fdtype(dtype)
    p = fnp.asarray(p, dtype)
    k = get_aval(p).shape[-1]
    full = get_aval(p).shape if shape is None else _shape(shape)
    if not full or full[-1] != k:
        raise ShapeError(f"multinomial: shape is the result's shape, categories last, so it "
                         f"ends with p's {k} categories; got shape {full}")
    p = fnp.broadcast_to(p, full)
    remaining = fnp.broadcast_to(fnp.asarray(n, dtype), full[:-1])
    mass = fnp.ones(full[:-1], dtype)
    keys = split(key, k)
    counts = []
    for i in range(k):
        pi = p[..., i]
        ratio = fnp.clip(pi / fnp.maximum(mass, np.finfo(dtype).tiny), 0, 1)
        if i == k - 1:
            ratio = fnp.ones_like(ratio)
        c = binomial(keys[i], remaining, ratio, full[:-1], dtype)
        counts.append(c)
        remaining, mass = remaining - c, mass - pi
    return fnp.stack(counts, axis=-1)


# ------------------------------------------------------------------ multivariate

def multivariate_normal(key: Key, mean: Any, cov: Any, shape: int | Shape | None = None,
                        dtype: Any = None, method: str = "cholesky",
                        *, out_sharding: Any = None) -> Any:
    """Draws of N(mean, cov), mean + L z with L L^T = cov: the Cholesky factor, or
    V sqrt(w) from `eigh` or U sqrt(s) from `svd` (these take a semi-definite cov);
    differentiable in mean and cov; shape `shape + mean.shape[-1:]`."""
    check_one_device("multivariate_normal", out_sharding=out_sharding)
    if method not in ("cholesky", "eigh", "svd"):
        raise ArgumentError(f"multivariate_normal: method must be 'cholesky', 'eigh' or "
                            f"'svd', got {method!r}")
    mean, cov = fnp.asarray(mean), fnp.asarray(cov)
    if dtype is None:
        dtype = np.result_type(get_aval(mean).dtype, get_aval(cov).dtype)
        dtype = dtype if dtype.kind == "f" else default_float()
    dtype = _fdtype(dtype)
    mean, cov = fnp.asarray(mean, dtype), fnp.asarray(cov, dtype)
    ma, ca = get_aval(mean), get_aval(cov)
    if ma.ndim < 1 or ca.ndim < 2 or ca.shape[-2:] != (ma.shape[-1],) * 2:
        raise ShapeError(f"multivariate_normal: mean must be (..., n) and cov (..., n, n); "
                         f"got {ma.shape} and {ca.shape}")
    batch = np.broadcast_shapes(ma.shape[:-1], ca.shape[:-2])
    shape = tuple(batch) if shape is None else _shape(shape)
    z = normal(key, (*shape, ma.shape[-1]), dtype)
    if method == "cholesky":
        factor = _cholesky(cov)
    elif method == "eigh":  # cov = V diag(w) V^T: V sqrt(w) (semi-definite cov too)
        w, v = fnp.linalg.eigh(cov)
        factor = v * fnp.sqrt(fnp.maximum(w, 0))[..., None, :]
    else:
        u, sv, _ = fnp.linalg.svd(cov)
        factor = u * fnp.sqrt(sv)[..., None, :]
    return mean + fnp.einsum("...ij,...j->...i", factor, z)


def orthogonal(key: Key, n: int, shape: int | Shape = (), dtype: Any = None,
               m: int | None = None, *, out_sharding: Any = None) -> Any:
    """Haar-distributed matrices with orthonormal columns (or rows), shape
    `shape + (n, m)`: the QR factor Q of a normal matrix, its columns' signs fixed by R's
    diagonal (JAX's)."""
    check_one_device("orthogonal", out_sharding=out_sharding)
    shape, dtype = _shape(shape), _fdtype(dtype)
    m = n if m is None else int(m)
    q, r = fnp.linalg.qr(normal(key, (*shape, max(n, m), min(n, m)), dtype))
    q = q * fnp.expand_dims(fnp.sign(fnp.diagonal(r, axis1=-2, axis2=-1)), -2)
    return q if n >= m else fnp.swapaxes(q, -1, -2)


# ------------------------------------------------------------------ kernel density draws

def _kde_resample(self: gaussian_kde, key: Key, shape: int | Shape = ()) -> Any:
    """Draws from a Gaussian kernel density estimate, shape (d, *shape): a data point
    (chosen by weight) plus N(0, covariance) noise."""
    shape = _shape(shape)
    k1, k2 = split(key)
    idx = categorical(k1, fnp.log(self.weights), shape=shape)
    centers = fnp.take(self.dataset, idx, axis=1)
    noise = multivariate_normal(k2, fnp.zeros(self.d, self.dataset.dtype), self.covariance,
                                shape, self.dataset.dtype)
    return centers + fnp.moveaxis(noise, -1, 0)


gaussian_kde.resample = _kde_resample  # the hook: fnad.scipy cannot import fnad.random


__all__ = ["ball", "beta", "binomial", "cauchy", "chisquare", "dirichlet",
           "double_sided_maxwell", "exponential", "f", "gamma", "generalized_normal",
           "geometric", "laplace", "loggamma", "logistic", "lognormal", "maxwell",
           "multinomial", "multivariate_normal", "orthogonal", "pareto", "poisson",
           "rademacher", "rayleigh", "t", "triangular", "wald", "weibull_min"]

# eager NumPy arithmetic on extreme parameters answers inf/NaN silently, as JAX's
quiet_all(globals(), __all__)
