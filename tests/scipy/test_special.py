"""fnad.scipy.special and the special-function primitives of fnad.lax.special: values
against SciPy across the domain (edges included), derivatives against finite differences,
and the primitives under jit and vmap."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import scipy.special as sp

import fnad
from fnad import lax
from fnad.lax import special as lax_special
from fnad.scipy import special
from fnad.test_util import check_grads, check_transforms, check_vmap

RNG = np.random.default_rng(0)
EDGES = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])


def wide(n: int = 400) -> np.ndarray:
    """Values over many magnitudes, both signs, plus the edges."""
    mags = 10.0 ** RNG.uniform(-4, 2.5, n)
    return np.concatenate([mags * RNG.choice([-1, 1], n), RNG.uniform(-5, 5, n), EDGES])


def positive(n: int = 400, lo: float = -4, hi: float = 3) -> np.ndarray:
    return 10.0 ** RNG.uniform(lo, hi, n)


def unit(n: int = 400) -> np.ndarray:
    return np.concatenate([RNG.uniform(0, 1, n), 10.0 ** -RNG.uniform(3, 300, 50),
                           1 - 10.0 ** -RNG.uniform(3, 15, 50), [0.0, 1.0, 0.5, -0.1, 1.1]])


def close(actual, expected, rtol=1e-12, atol=1e-300):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)


# (name, fnad function, scipy function, argument generators, rtol in float64)
UNARY = [
    ("gammaln", special.gammaln, sp.gammaln, wide, 1e-10),
    ("digamma", special.digamma, sp.digamma, lambda: positive(), 1e-11),
    ("erf", special.erf, sp.erf, wide, 1e-13),
    ("erfc", special.erfc, sp.erfc, wide, 1e-12),
    ("erfinv", special.erfinv, sp.erfinv, lambda: np.concatenate([2 * unit() - 1]), 1e-11),
    ("erfcx", special.erfcx, sp.erfcx, wide, 1e-12),
    ("dawsn", special.dawsn, sp.dawsn, wide, 1e-12),
    ("expit", special.expit, sp.expit, wide, 1e-13),
    ("logit", special.logit, sp.logit, unit, 1e-10),
    ("ndtr", special.ndtr, sp.ndtr, wide, 1e-12),
    ("ndtri", special.ndtri, sp.ndtri, unit, 1e-12),
    # JAX's default series_order=3 is ~1e-11 off in the far tail; 8 terms reach 1e-12
    ("log_ndtr", lambda x: special.log_ndtr(x, 8), sp.log_ndtr, wide, 1e-12),
    ("i0", special.i0, sp.i0, wide, 1e-12),
    ("i0e", special.i0e, sp.i0e, wide, 1e-12),
    ("i1", special.i1, sp.i1, wide, 1e-12),
    ("i1e", special.i1e, sp.i1e, wide, 1e-12),
    ("entr", special.entr, sp.entr, wide, 1e-13),
    ("gamma", special.gamma, sp.gamma, lambda: RNG.uniform(-20, 170, 400), 1e-11),
    ("gammasgn", special.gammasgn, sp.gammasgn, lambda: np.concatenate(
        [RNG.uniform(-20, 20, 400), [-3.0, -1.0, 0.0, np.nan]]), 0),
    # loggamma(0) is NaN in JAX (SciPy: inf)
    ("loggamma", special.loggamma, lambda x: np.where(x == 0, np.nan, sp.loggamma(x)),
     lambda: np.concatenate(
        [positive(), [-1.5, 0.0, np.inf]]), 1e-10),
]


@pytest.mark.parametrize("name,fn,ref,gen,rtol", UNARY, ids=[c[0] for c in UNARY])
def test_unary_values_float64(name, fn, ref, gen, rtol):
    x = gen()
    with np.errstate(all="ignore"):
        want = ref(x)
    got = fn(x)
    assert got.dtype == np.float64
    if name == "gammaln":  # lgamma's zeros near -2.5, -2.75...: compare absolutely there;
        want[x == -np.inf] = np.inf  # and lgamma(-inf) is +inf, as in JAX (SciPy: -inf)
        close(got, want, rtol=rtol, atol=1e-12)
    else:
        close(got, want, rtol=rtol)


@pytest.mark.parametrize("name,fn,ref,gen,rtol", UNARY, ids=[c[0] for c in UNARY])
def test_unary_float32_keeps_dtype_and_is_accurate(name, fn, ref, gen, rtol):
    x = gen().astype(np.float32)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64)).astype(np.float32)
    got = fn(x)
    assert got.dtype == np.float32
    if name == "gammaln":
        want[x == -np.inf] = np.inf
    # float32 arithmetic on the argument (x / sqrt 2, exp|x|) costs a few ulps times |x|
    rtol = 2e-5 if name in ("gammaln", "gamma", "loggamma", "logit") else 2e-6 * (
        1 + np.minimum(np.abs(np.nan_to_num(x.astype(np.float64))), 1e3))
    atol = 1e-6 if name in ("gammaln", "logit") else 1e-30  # zeros of the function
    if name in ("i0", "i1"):  # exp(|x|) i0e(x) overflows float32 just below the true limit
        want[np.abs(x) > 85] = got[np.abs(x) > 85]
    g, w = got.astype(np.float64), want.astype(np.float64)
    same = (g == w) | (np.isnan(g) & np.isnan(w))
    with np.errstate(invalid="ignore"):  # inf - inf where both are inf: `same` covers it
        bad = ~same & ~(np.abs(g - w) <= rtol * np.abs(w) + atol)
    assert not bad.any(), (x[bad][:5], g[bad][:5], w[bad][:5])


def test_integers_become_float32():
    assert special.gammaln(np.arange(1, 4)).dtype == np.float32
    assert special.xlogy(2, 3).dtype == np.float32


BINARY = [
    ("gammainc", special.gammainc, sp.gammainc),
    ("gammaincc", special.gammaincc, sp.gammaincc),
]


@pytest.mark.parametrize("name,fn,ref", BINARY, ids=[c[0] for c in BINARY])
def test_incomplete_gamma(name, fn, ref):
    a = positive(600, -3, 4)
    x = np.concatenate([a[:300] * np.exp(RNG.normal(0, 0.3, 300)), positive(300, -5, 4)])
    close(fn(a, x), ref(a, x), rtol=1e-10)
    # the edges: x = 0, inf, a = 0 (JAX's and SciPy's limit), and invalid a or x (NaN, as JAX)
    edge_a = np.array([1.0, 1.0, 0.0, -1.0, 1.0, np.nan])
    edge_x = np.array([0.0, np.inf, 1.0, 1.0, -1.0, 1.0])
    got = fn(edge_a, edge_x)
    want = ref(edge_a[:3], edge_x[:3])
    close(got[:3], want)
    assert np.isnan(got[3:]).all()


def test_betainc():
    a, b = positive(800, -2, 3), positive(800, -2, 3)
    x = RNG.uniform(0, 1, 800)
    close(special.betainc(a, b, x), sp.betainc(a, b, x), rtol=1e-9, atol=1e-14)
    got = special.betainc(np.array([2.0, 2.0, 2.0, -1.0]), 3.0, np.array([0.0, 1.0, 1.5, 0.5]))
    close(got[:2], [0.0, 1.0])
    assert np.isnan(got[2:]).all()


def test_zeta():
    s, q = RNG.uniform(1.01, 60, 500), positive(500, -2, 3)
    close(special.zeta(s, q), sp.zeta(s, q), rtol=1e-12)
    close(special.zeta(np.array([2.0, 3.0])), sp.zeta(np.array([2.0, 3.0])))
    s2 = np.array([1.0, 0.5, 2.0, 2.0, 3.0])
    q2 = np.array([1.0, 1.0, -1.0, -1.5, np.inf])
    close(special.zeta(s2, q2), sp.zeta(s2, q2))


def test_polygamma_scalar_and_array_orders():
    x = positive(200, -2, 2)
    for n in range(4):
        close(special.polygamma(n, x), sp.polygamma(n, x), rtol=1e-10)
    n = RNG.integers(0, 4, 200)
    close(special.polygamma(n, x), sp.polygamma(n, x), rtol=1e-10)
    with pytest.raises(fnad.DTypeError, match="polygamma"):
        fnad.jit(lambda n, x: special.polygamma(n, x))(1, x)


def test_gamma_family_and_combinatorics():
    a, b = RNG.uniform(0.1, 30, 300), RNG.uniform(0.1, 30, 300)
    close(special.betaln(a, b), sp.betaln(a, b), rtol=1e-11)
    # large arguments: SciPy's three lgammas cancel (~1e-9 off), so check exact identities
    big = np.array([8.0, 9.5, 30.0, 1e3, 1e6, 1e12])
    close(special.betaln(1.0, big), -np.log(big), rtol=3e-15)
    close(special.betaln(big, 2.0), -np.log(big) - np.log1p(big), rtol=3e-15)
    big_a, big_b = 10.0 ** RNG.uniform(-2, 12, 300), 10.0 ** RNG.uniform(-2, 12, 300)
    close(special.betaln(big_a, big_b), sp.betaln(big_a, big_b), rtol=1e-9, atol=1e-8)
    close(special.beta(a, b), sp.beta(a, b), rtol=1e-11)
    close(special.beta(np.array([-0.5, -1.5]), 2.2), sp.beta(np.array([-0.5, -1.5]), 2.2),
          rtol=1e-11)
    n = np.arange(-2.0, 30.0)
    close(special.factorial(n), sp.factorial(n), rtol=1e-12)
    big, k = RNG.integers(0, 60, 300).astype(float), RNG.integers(-2, 60, 300).astype(float)
    close(special.comb(big, k), sp.comb(big, k), rtol=1e-10)
    # with repetition SciPy 1.17 gives NaN for some k < 0 (where N + k - 1 < 0): JAX's 0
    rep = special.comb(big, k, repetition=True)
    close(rep[k >= 0], sp.comb(big, k, repetition=True)[k >= 0], rtol=1e-10)
    np.testing.assert_array_equal(rep[k < 0], 0.0)
    np.testing.assert_array_equal(special.comb(np.array([0.0, 3.0, -1.0]), 0.0, repetition=True),
                                  [1.0, 1.0, 0.0])  # the empty multiset, as JAX's
    z, m = RNG.uniform(-5, 20, 300), RNG.uniform(-3, 10, 300)
    close(special.poch(z, m), sp.poch(z, m), rtol=1e-9)
    for d in (1, 2, 5):
        x = RNG.uniform((d - 1) / 2 + 0.1, 40, 100)
        close(special.multigammaln(x, d), sp.multigammaln(x, d), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(special.bernoulli(12), sp.bernoulli(12), rtol=1e-7)
    with pytest.raises(ValueError, match="exact"):
        special.factorial(3, exact=True)


def test_entropies_and_logs():
    # (NaN operands give inf in rel_entr, as in JAX; kl_div, xlogy and xlog1py are SciPy's)
    p = np.concatenate([RNG.uniform(0, 3, 200), [0.0, 0.0, -1.0, 1.0, np.nan, 0.0, 1.0]])
    q = np.concatenate([RNG.uniform(0, 3, 200), [0.0, 1.0, 1.0, -1.0, 1.0, np.nan, np.nan]])
    rel_entr = lambda p, q: np.where(np.isnan(p) | np.isnan(q), np.inf, sp.rel_entr(p, q))
    for fn, ref in ((special.rel_entr, rel_entr), (special.kl_div, sp.kl_div),
                    (special.xlogy, sp.xlogy), (special.xlog1py, sp.xlog1py)):
        with np.errstate(all="ignore"):
            close(fn(p, q), ref(p, q), rtol=1e-13)
    x, lam = positive(200, -3, 2), RNG.uniform(-3, 3, 200)
    lam[:20] = 0.0
    close(special.boxcox(x, lam), sp.boxcox(x, lam), rtol=1e-11)
    close(special.boxcox1p(x, lam), sp.boxcox1p(x, lam), rtol=1e-11)


def test_logsumexp_matches_scipy_with_weights_axes_and_signs():
    a = RNG.normal(size=(3, 4, 5)) * 10
    b = RNG.normal(size=(3, 4, 5))
    for axis in (None, 0, (1, 2), -1):
        for keepdims in (False, True):
            close(special.logsumexp(a, axis=axis, keepdims=keepdims),
                  sp.logsumexp(a, axis=axis, keepdims=keepdims), rtol=1e-13, atol=1e-14)
            got, sign = special.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
            want, wsign = sp.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
            close(got, want, rtol=1e-12, atol=1e-14)
            np.testing.assert_array_equal(sign, wsign)
    close(special.logsumexp(np.array([-np.inf, -np.inf])), -np.inf)
    close(special.logsumexp(np.array([1000.0, 1000.0])), 1000 + math.log(2))
    for axis in (None, 0, -1):
        close(special.softmax(a, axis=axis), sp.softmax(a, axis=axis), rtol=1e-12)
        close(special.log_softmax(a, axis=axis), sp.log_softmax(a, axis=axis), rtol=1e-12,
              atol=1e-14)


def test_integrals_and_series():
    x = np.concatenate([10.0 ** RNG.uniform(-3, 2.5, 300), [0.0, np.inf, np.nan, 1.0]])
    xx = np.concatenate([x, -x])
    for n in (0, 1, 2, 7, 30):
        close(special.expn(n, x), sp.expn(n, x), rtol=1e-13)
    xp = x[(x > 0) & np.isfinite(x)]
    close(special.expn(-2, xp), 2 * np.exp(-xp) * (1 + xp + xp * xp / 2) / xp ** 3, rtol=1e-11)
    close(special.exp1(xx), sp.exp1(xx), rtol=1e-13)
    close(special.expi(xx), sp.expi(xx), rtol=1e-13)
    for got, want in zip(special.fresnel(xx), sp.fresnel(xx)):
        close(got, want, rtol=1e-11, atol=1e-15)
    for got, want in zip(special.sici(xx), sp.sici(xx)):
        close(got, want, rtol=1e-9, atol=1e-14)  # Ci has a zero at 0.6165
    z = np.concatenate([10.0 ** RNG.uniform(-3, 3, 300), [0.0, 1.0, 2.0, np.inf, -1.0]])
    close(special.spence(z), sp.spence(z), rtol=1e-13)
    h, a = RNG.normal(0, 3, 300), RNG.normal(0, 3, 300)
    a[:10] = np.inf
    close(special.owens_t(h, a), sp.owens_t(h, a), rtol=1e-12, atol=1e-300)
    a, b, x1 = RNG.uniform(-5, 5, 300), RNG.uniform(0.5, 10, 300), RNG.uniform(-30, 30, 300)
    # near its zeros, 1F1 is a sum of terms far larger than itself: an absolute tolerance
    close(special.hyp1f1(a, b, x1), sp.hyp1f1(a, b, x1), rtol=1e-11, atol=1e-14)
    a, b = RNG.uniform(-3, 3, 300), RNG.uniform(-3, 3, 300)
    c, x2 = RNG.uniform(0.5, 8, 300), np.concatenate([RNG.uniform(-5, 0.95, 299), [1.0]])
    c[-1] = a[-1] + b[-1] + 1.5
    close(special.hyp2f1(a, b, c, x2), sp.hyp2f1(a, b, c, x2), rtol=1e-10)
    zj = np.concatenate([RNG.uniform(-50, 50, 300), [0.0]])
    jn = special.bessel_jn(zj, v=12)
    assert jn.shape == (13, zj.size)
    for n in range(13):
        close(jn[n], sp.jv(n, zj), rtol=1e-10, atol=1e-13)
    w = (RNG.normal(0, 5, 300) + 1j * RNG.normal(0, 5, 300))
    ref = sp.wofz(w)
    finite = np.isfinite(ref)
    got = special.wofz(w)
    assert got.dtype == np.complex128
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-12)
    assert special.wofz(np.float32(1.0)).dtype == np.complex64
    n = RNG.integers(0, 12, 300)
    m = RNG.integers(-12, 13, 300)
    m = np.clip(m, -n, n)
    theta, phi = RNG.uniform(0, np.pi, 300), RNG.uniform(0, 2 * np.pi, 300)
    np.testing.assert_allclose(special.sph_harm_y(n, m, theta, phi),
                               sp.sph_harm_y(n, m, theta, phi), atol=1e-12)


GRADS = [
    ("gammaln", special.gammaln, (np.array([0.3, 2.5, -1.7]),)),
    ("gammainc_a_x", special.gammainc, (np.array([0.5, 3.0, 40.0]), np.array([0.7, 1.5, 45.0]))),
    ("gammaincc_a_x", special.gammaincc, (np.array([0.5, 3.0, 40.0]), np.array([2.0, 1.5, 35.0]))),
    ("betainc_x", lambda x: special.betainc(2.5, 0.7, x), (np.array([0.1, 0.5, 0.9]),)),
    ("zeta_q", lambda q: special.zeta(3.0, q), (np.array([0.5, 2.0, 20.0]),)),
    ("i0e", special.i0e, (np.array([-3.0, 0.5, 30.0]),)),
    ("i1e", special.i1e, (np.array([-3.0, 0.0, 0.5, 30.0]),)),
    ("i0", special.i0, (np.array([-3.0, 0.5, 3.0]),)),
    ("i1", special.i1, (np.array([-3.0, 0.5, 3.0]),)),
    ("ndtri", special.ndtri, (np.array([0.05, 0.3, 0.9]),)),
    ("log_ndtr", special.log_ndtr, (np.array([-30.0, -3.0, 0.5, 9.0]),)),
    ("erfcx", special.erfcx, (np.array([-1.0, 0.5, 3.0, 30.0]),)),
    ("dawsn", special.dawsn, (np.array([-1.0, 0.5, 3.0, 30.0]),)),
    ("xlogy", special.xlogy, (np.array([0.5, 2.0]), np.array([1.5, 0.3]))),
    ("xlog1py", special.xlog1py, (np.array([0.5, 2.0]), np.array([1.5, -0.3]))),
    ("entr", special.entr, (np.array([0.5, 2.0]),)),
    ("logit", special.logit, (np.array([0.2, 0.7]),)),
    ("betaln", special.betaln, (np.array([0.5, 3.0]), np.array([2.0, 7.0]))),
    ("multigammaln", lambda a: special.multigammaln(a, 3), (np.array([2.5, 7.0]),)),
    ("boxcox", special.boxcox, (np.array([0.5, 3.0]), np.array([0.3, -1.2]))),
    ("logsumexp_b", lambda a, b: special.logsumexp(a, b=b), (RNG.normal(size=4),
                                                              RNG.uniform(0.5, 2, 4))),
    ("softmax", lambda x: special.softmax(x, axis=-1), (RNG.normal(size=(2, 3)),)),
    ("expi", special.expi, (np.array([-2.0, 0.5, 3.0, 60.0]),)),
    ("expn_x", lambda x: special.expn(3, x), (np.array([0.5, 3.0]),)),
    ("exp1", special.exp1, (np.array([0.5, 3.0]),)),
    ("fresnel", lambda x: special.fresnel(x)[0] + special.fresnel(x)[1],
     (np.array([-2.0, 0.5, 3.0]),)),
    ("sici", lambda x: special.sici(x)[0] * special.sici(x)[1], (np.array([-2.0, 0.5, 3.0]),)),
    ("spence", special.spence, (np.array([0.3, 2.0, 4.0]),)),
    ("owens_t", special.owens_t, (np.array([-1.0, 0.5, 2.0]), np.array([0.5, -3.0, 2.0]))),
    ("hyp1f1_x", lambda x: special.hyp1f1(0.5, 2.5, x), (np.array([-3.0, 0.5, 4.0]),)),
    ("hyp2f1_x", lambda x: special.hyp2f1(0.5, 1.5, 2.5, x), (np.array([-3.0, 0.5, 0.8]),)),
    ("bessel_jn", lambda z: special.bessel_jn(z, v=3), (np.array([-2.0, 0.5, 7.0]),)),
    ("log_softmax", lambda x: special.log_softmax(x, axis=0), (RNG.normal(size=(2, 3)),)),
]


@pytest.mark.parametrize("name,fn,args", GRADS, ids=[c[0] for c in GRADS])
def test_derivatives(name, fn, args):
    order = 1 if name.startswith(("gammainc", "zeta", "betainc", "hyp", "expn")) else 2
    check_grads(fn, args, order=order, eps=1e-6 if order == 1 else 1e-5)


def test_spence_derivative_at_one():
    g = fnad.grad(special.spence)(np.float64(1.0))
    assert g == -1.0


def test_xlogy_derivative_at_zero_is_finite():
    g = fnad.grad(lambda x: special.xlogy(x, 0.0 * x + 2.0))(np.float64(0.0))
    assert np.isclose(g, math.log(2.0))


def test_derivatives_jax_does_not_define_raise():
    with pytest.raises(fnad.TransformError, match="betainc.*with respect to a"):
        fnad.grad(lambda a: special.betainc(a, 2.0, 0.5))(np.float64(1.0))
    with pytest.raises(fnad.TransformError, match="zeta.*with respect to s"):
        fnad.grad(lambda s: special.zeta(s, 2.0))(np.float64(3.0))


def test_igamma_grad_a_and_random_gamma_grad_against_finite_differences():
    a = positive(200, -2, 3)
    x = a * np.exp(RNG.normal(0, 0.5, 200))
    h = 1e-6
    fd = (sp.gammainc(a * (1 + h), x) - sp.gammainc(a * (1 - h), x)) / (2 * a * h)
    close(lax.igamma_grad_a(a, x), fd, rtol=1e-4, atol=1e-8)
    p = sp.gammainc(a, x)
    ok = (p > 1e-8) & (p < 1 - 1e-8)
    with np.errstate(invalid="ignore"):  # inf - inf at p outside `ok`, masked below
        fdx = (sp.gammaincinv(a * (1 + h), p) - sp.gammaincinv(a * (1 - h), p)) / (2 * a * h)
    close(lax.random_gamma_grad(a, x)[ok], fdx[ok], rtol=1e-4, atol=1e-8)
    # the exponential distribution: x = -log(1 - u) does not depend on a at a = 1... only
    # through the shape, and dx/da = -(dP/da) / pdf is exactly what the quantile changes by
    assert lax.random_gamma_grad(np.float64(1.0), np.float64(0.0)) == 0.0


PRIMITIVES = [
    ("igamma", lambda a, x: lax.igamma(a, x), (positive(6, -1, 1), positive(6, -1, 1))),
    ("igammac", lambda a, x: lax.igammac(a, x), (positive(6, -1, 1), positive(6, -1, 1))),
    ("betainc", lambda x: lax.betainc(2.0, 3.0, x), (RNG.uniform(0, 1, 6),)),
    ("zeta", lambda q: lax.zeta(2.5, q), (positive(6, -1, 1),)),
    ("bessel_i0e", lax.bessel_i0e, (RNG.normal(size=6) * 5,)),
    ("bessel_i1e", lax.bessel_i1e, (RNG.normal(size=6) * 5,)),
    ("ndtri", lax_special.ndtri, (RNG.uniform(0, 1, 6),)),
    ("erfcx", lax_special.erfcx, (RNG.normal(size=6) * 5,)),
    ("dawsn", lax_special.dawsn, (RNG.normal(size=6) * 5,)),
    ("expi", lax_special.expi, (RNG.normal(size=6) * 5,)),
    ("fresnel", lambda x: lax_special.fresnel(x)[0], (RNG.normal(size=6) * 3,)),
    ("sici", lambda x: lax_special.sici(x)[1], (RNG.normal(size=6) * 3,)),
    ("owens_t", lax_special.owens_t, (RNG.normal(size=6), RNG.normal(size=6) * 2)),
    ("bessel_jn", lambda z: lax_special.bessel_jn(z, 2), (RNG.normal(size=6) * 5,)),
    ("bessel_yn", lambda x: lax_special.bessel_yn(x, 2), (positive(6, -1, 1),)),
    ("bessel_ive", lax_special.bessel_ive, (RNG.uniform(-3, 8, 6), RNG.normal(size=6) * 5)),
    ("random_loggamma", lax_special.random_loggamma, (positive(6, -2, 2), RNG.uniform(0, 1, 6))),
    ("poisson_quantile", lax_special.poisson_quantile, (positive(6, -1, 2), RNG.uniform(0, 1, 6))),
    ("binomial_quantile", lambda p, u: lax_special.binomial_quantile(20.0, p, u),
     (RNG.uniform(0, 1, 6), RNG.uniform(0, 1, 6))),
]


@pytest.mark.parametrize("name,fn,args", PRIMITIVES, ids=[c[0] for c in PRIMITIVES])
def test_primitives_staged_jitted_and_vmapped(name, fn, args):
    args32 = tuple(a.astype(np.float32) for a in args)
    check_transforms(fn, args)
    check_transforms(fn, args32)
    check_vmap(fn, tuple(a.reshape(2, 3) for a in args))
    check_vmap(fn, tuple(a.reshape(3, 2) for a in args), in_axes=1)


def test_random_loggamma_derivatives():
    """dt/da is the implicit-reparameterization gradient (the quantile's derivative at fixed
    u), and dt/du is 1 / (x pdf(x))."""
    a, u = np.array([0.05, 0.8, 3.0, 300.0]), np.array([0.3, 0.01, 0.9, 0.5])
    check_grads(lax_special.random_loggamma, (a, u), order=1, eps=1e-7, rtol=1e-3)
    t = lax_special.random_loggamma(a, u)
    close(np.exp(t), sp.gammaincinv(a, u), rtol=1e-10)


def test_module_doctests():
    for mod in (special, lax_special):
        result = doctest.testmod(mod, extraglobs={"np": np, "math": math},
                                 optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted >= 5, (mod.__name__, result)


def test_no_numpy_warning_escapes():
    with np.errstate(all="raise"):
        x = np.array([-1.0, 0.0, np.inf, np.nan])
        for fn in (special.logit, special.entr, special.i0, special.log_ndtr, special.gamma,
                   special.ndtri, special.erfcx, special.gammasgn, special.y0):
            fn(x)
        special.ive(x, x)
        special.iv(x, x)
        special.gammainc(x, x)
        special.betainc(x, x, x)
        special.rel_entr(x, x[::-1])


@pytest.mark.parametrize("a, b, c", [(1.7, -0.9, 1.2), (2.7, -2.1, 1.2), (0.3, 0.4, 2.0),
                                     (-0.5, -1.6, -0.8)])
def test_hyp2f1_at_one_is_gauss_sum_with_gamma_signs(a, b, c):
    """2F1(a, b; c; 1) = Gamma(c) Gamma(c-a-b) / (Gamma(c-a) Gamma(c-b)), negative gammas
    included (c - a = -0.5 makes it negative)."""
    a, b, c, one = (np.float64(v) for v in (a, b, c, 1.0))
    close(special.hyp2f1(a, b, c, one), sp.hyp2f1(a, b, c, one), rtol=1e-12)


def test_rgamma_erfcinv_psi_are_scipys():
    x = np.array([4.0, 0.0, -2.0, -3.0, -2.5, 0.3, 1.7, 180.0, np.inf, -np.inf, np.nan])
    np.testing.assert_allclose(special.rgamma(x), sp.rgamma(x), rtol=1e-13, atol=0)
    y = np.array([1e-20, 0.05, 0.5, 1.0, 1.5, 1.95, 2.0, 0.0, 2.5, -1.0])
    np.testing.assert_allclose(special.erfcinv(y), sp.erfcinv(y), rtol=1e-13)
    z = np.array([0.3, 1.7, 5.0])
    np.testing.assert_allclose(special.psi(z), sp.psi(z), rtol=1e-13)
    check_grads(special.rgamma, (np.array([0.3, 1.7, -2.5]),), order=2)
    check_grads(special.erfcinv, (np.array([0.05, 1.0, 1.9]),), order=2)
    for n in range(4):  # at the poles, the derivative of 1/Gamma is (-1)^n n!
        assert fnad.grad(special.rgamma)(np.float64(-n)) == pytest.approx(
            (-1) ** n * math.factorial(n))


def test_j0_j1_jn_are_scipys():
    x = np.linspace(0.2, 20.0, 50)
    for n in (0, 1, 2, -3, 5):
        np.testing.assert_allclose(special.jn(n, x), sp.jn(n, x), atol=1e-15)
    np.testing.assert_allclose(special.j0(x), sp.j0(x), atol=1e-15)
    np.testing.assert_allclose(special.j1(x), sp.j1(x), atol=1e-15)
    check_grads(special.j0, (x[:6],), order=2)
    check_grads(lambda t: special.jn(-3, t), (x[:6],), order=2)
    with pytest.raises(ValueError, match="one concrete integer"):
        special.jn(np.array([1, 2]), x)


def test_yn_y0_y1_are_scipys_inside_and_limits_at_the_edges():
    x = np.concatenate([positive(300, -3, 3), np.linspace(0.2, 20.0, 50)])
    for n in (0, 1, 2, 5, -3, 12):
        # Y_n has zeros: near them only an absolute error is meaningful
        close(special.yn(n, x), sp.yn(n, x), rtol=1e-11, atol=1e-12 * np.abs(sp.yn(n, x)).max())
    close(special.y0(x), sp.y0(x), rtol=1e-11, atol=1e-13)
    close(special.y1(x), sp.y1(x), rtol=1e-11, atol=1e-13)
    edges = np.array([0.0, -1.0, np.nan, np.inf])
    # -inf at 0 (SciPy's), NaN below 0, and the limit 0 at +inf (SciPy 1.17 gives NaN there;
    # fnad's jn gives the limit too)
    np.testing.assert_array_equal(special.yn(2, edges), [-np.inf, np.nan, np.nan, 0.0])
    np.testing.assert_array_equal(special.yn(-3, edges[:1]), [np.inf])
    assert special.y0(np.float32(2.0)).dtype == np.float32
    assert special.y1(3).dtype == np.float32
    check_grads(special.y0, (x[-6:],), order=2)
    check_grads(special.y1, (x[-6:],), order=2)
    check_grads(lambda t: special.yn(2, t), (x[-6:],), order=2)
    with pytest.raises(ValueError, match="one concrete integer"):
        special.yn(1.5, x)


def test_iv_ive_are_scipys_for_real_orders_and_both_signs():
    v = np.concatenate([RNG.uniform(0, 50, 400), RNG.uniform(-5, 0, 100), np.arange(-5, 6.0)])
    x = np.concatenate([positive(400, -3, 3.5), RNG.uniform(0.01, 30, 100),
                        RNG.uniform(-10, 10, 11)])
    ref = sp.ive(v, x)
    big = np.abs(ref) > 1e-290  # below that the float64 answers are subnormal
    close(special.ive(v, x)[big], ref[big], rtol=1e-11)
    small = x < 300
    close(special.iv(v[small], x[small]), sp.iv(v[small], x[small]), rtol=1e-11, atol=1e-290)
    # x < 0: (-1)^v I_v(|x|) for integer orders, NaN otherwise
    np.testing.assert_allclose(special.iv(3, np.float64(-1.0)), sp.iv(3, -1.0), rtol=1e-13)
    assert np.isnan(special.iv(0.5, np.float64(-1.0)))
    # the edges: I_v(0) (signed infinities for negative non-integer v, as x -> 0+), +inf
    zero = special.iv(np.array([0.0, 2.0, -2.0, -0.5, -1.5]), np.zeros(5))
    np.testing.assert_array_equal(zero, [1.0, 0.0, 0.0, np.inf, -np.inf])
    np.testing.assert_array_equal(special.ive(1.0, np.array([np.inf, np.nan])), [0.0, np.nan])
    assert special.iv(2.0, np.float64(np.inf)) == np.inf
    assert special.iv(1, np.float32(2.0)).dtype == np.float32


def test_iv_ive_derivatives_as_autograds_tests_draw_them():
    """Real orders up to 50 against float64 finite differences, to second order; none in v."""
    v, x = RNG.uniform(1.0, 50.0, 4), RNG.normal(size=4) ** 2 + 1.3
    check_grads(lambda t: special.iv(v, t), (x,), order=2)
    check_grads(lambda t: special.ive(v, t), (x,), order=2)
    check_grads(lambda t: special.ive(2.0, t), (-x,), order=2)
    with pytest.raises(fnad.TransformError, match="bessel_ive.*with respect to v"):
        fnad.grad(lambda a: special.iv(a, 2.0))(np.float64(1.5))


def test_rel_entr_kl_div_derivatives_at_the_domain_edges_as_jax():
    """Outside p, q > 0 (p = 0, q = 0, NaN) rel_entr is a constant, so its derivative is 0
    there (it was NaN: 0 * inf through p / q), and kl_div's is that of -p + q; inside, the
    derivative in p is log(p / q) + 1 and in q is -p / q (finite differences)."""
    p = np.array([0.0, 0.0, 1.0, 1.0, -1.0, np.nan])
    q = np.array([0.0, 1.0, 0.0, np.nan, 1.0, 1.0])
    for argnum, kl_slope in ((0, -1.0), (1, 1.0)):
        g = fnad.grad(lambda *a: special.rel_entr(*a).sum(), argnums=argnum)(p, q)
        np.testing.assert_array_equal(g, np.zeros(6))
        g = fnad.grad(lambda *a: special.kl_div(*a).sum(), argnums=argnum)(p, q)
        np.testing.assert_array_equal(g, np.full(6, kl_slope))
    inside = (np.array([0.3, 2.0, 1.5]), np.array([1.2, 0.5, 1.5]))
    check_grads(special.rel_entr, inside, order=2)
    check_grads(special.kl_div, inside, order=2)
    g = fnad.grad(lambda v: special.rel_entr(v, np.array([2.0])).sum())(np.array([np.inf]))
    assert g[0] == np.inf


def test_logsumexp_and_softmax_of_empty_axes_as_jax():
    assert special.logsumexp(np.zeros(0, np.float32)) == -np.inf
    out = special.logsumexp(np.zeros((3, 0)), axis=1)
    np.testing.assert_array_equal(out, np.full(3, -np.inf))
    assert special.softmax(np.zeros((0, 2)), axis=0).shape == (0, 2)
    assert special.log_softmax(np.zeros((2, 0)), axis=1).shape == (2, 0)


def test_lax_bessel_ie_take_python_scalars_as_jax():
    # jax.lax.bessel_i0e(2.5) works (a weak float32 scalar); fnad raised
    for fn, ref in ((lax.bessel_i0e, sp.i0e), (lax.bessel_i1e, sp.i1e)):
        out = fn(2.5)
        assert out.dtype == np.float32 and out.shape == ()
        np.testing.assert_allclose(out, ref(2.5), rtol=1e-6)
        assert fn(np.float64(-2.5)).dtype == np.float64


def test_log_ndtr_series_order_errors() -> None:
    with pytest.raises(fnad.FnadError, match="series_order must be an integer"):
        special.log_ndtr(np.float32(-30.0), 2.5)
    with pytest.raises(fnad.FnadError, match=r"series_order must be in \[0, 30\]"):
        special.log_ndtr(np.float32(-30.0), 31)
    np.testing.assert_allclose(special.log_ndtr(np.float64(-40.0), np.int64(8)),
                               sp.log_ndtr(-40.0), rtol=1e-12)
