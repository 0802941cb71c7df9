"""Explicit, splittable, counter-based random numbers: Threefry-2x32 (Salmon et al., 2011)
written with `fnad.lax` uint32 primitives, so the same key gives the same numbers eagerly,
under `jit` and `vmap`, and on every backend. A key is a uint32 array of shape (2,).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.core.dtypes import default_float, default_int, float_or_default, x64_enabled
from fnad.core.errors import ArgumentError, DTypeError, ShapeError, check_one_device
from fnad.core.ir import get_aval

Key = Any
Shape = Sequence[int]

_U32 = np.dtype(np.uint32)
_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
_PARITY = 0x1BD11BDA  # Threefish's key-schedule constant


# ------------------------------------------------------------------ Threefry-2x32

def _rotl(x: Any, r: int) -> Any:
    return lax.bitwise_or(lax.shift_left(x, np.uint32(r)),
                          lax.shift_right_logical(x, np.uint32(32 - r)))


def threefry2x32(key: Key, x0: Any, x1: Any) -> tuple[Any, Any]:
    """The Threefry-2x32 block cipher with 20 rounds: encrypt the counter pairs (x0, x1)
    (uint32 arrays of one shape) under `key`; the outputs are independent uniform words.

    >>> [hex(int(w)) for w in threefry2x32(np.zeros(2, np.uint32), np.uint32(0), np.uint32(0))]
    ['0x6b200159', '0x99ba4efe']
    """
    _check_key(key)
    if all(type(v) is np.ndarray or isinstance(v, np.uint32) for v in (key, x0, x1)):
        return _threefry2x32_numpy(key, x0, x1)
    k0, k1 = _key_words(key)
    ks = (k0, k1, lax.bitwise_xor(lax.bitwise_xor(k0, k1), np.uint32(_PARITY)))
    x0, x1 = lax.add(x0, ks[0]), lax.add(x1, ks[1])
    for block in range(5):
        for r in _ROTATIONS[4 * (block % 2):4 * (block % 2) + 4]:
            x0 = lax.add(x0, x1)
            x1 = lax.bitwise_xor(_rotl(x1, r), x0)
        x0 = lax.add(x0, ks[(block + 1) % 3])
        x1 = lax.add(lax.add(x1, ks[(block + 2) % 3]), np.uint32(block + 1))
    return x0, x1


def _threefry2x32_numpy(key: np.ndarray, x0: Any, x1: Any) -> tuple[np.ndarray, np.ndarray]:
    """`threefry2x32` on NumPy values, updating two arrays in place: eager draws are bound by
    memory traffic, and this makes 3 arrays where the lax form makes ~200."""
    ks = [int(w) for w in key]
    ks.append(ks[0] ^ ks[1] ^ _PARITY)
    x0, x1 = (np.array(x, _U32) for x in np.broadcast_arrays(x0, x1))  # writable copies
    np.add(x0, np.uint32(ks[0]), out=x0)
    np.add(x1, np.uint32(ks[1]), out=x1)
    spare = np.empty_like(x1)
    for block in range(5):
        for r in _ROTATIONS[4 * (block % 2):4 * (block % 2) + 4]:
            np.add(x0, x1, out=x0)
            np.left_shift(x1, np.uint32(r), out=spare)
            np.right_shift(x1, np.uint32(32 - r), out=x1)
            np.bitwise_or(x1, spare, out=x1)
            np.bitwise_xor(x1, x0, out=x1)
        np.add(x0, np.uint32(ks[(block + 1) % 3]), out=x0)
        np.add(x1, np.uint32((ks[(block + 2) % 3] + block + 1) % 2 ** 32), out=x1)
    return x0, x1


def _check_key(key: Key) -> None:
    if type(key) in (bool, int, float):
        raise ShapeError(f"a PRNG key is a uint32 array of shape (2,), got the number "
                         f"{key!r}; make one with fnad.random.key({key!r})")
    aval = get_aval(key)
    if aval.shape != (2,) or aval.dtype != _U32:
        raise ShapeError(f"a PRNG key is a uint32 array of shape (2,), got {aval.dtype}"
                         f"{list(aval.shape)}; make one with fnad.random.key(seed) (use vmap "
                         "for a batch of keys)")


def _key_words(key: Key) -> tuple[Any, Any]:
    words = lax.reshape(key, (2, 1))
    return (lax.reshape(lax.slice(words, (0, 0), (1, 1)), ()),
            lax.reshape(lax.slice(words, (1, 0), (2, 1)), ()))


def key(seed: int | Any, *, impl: Any = None, dtype: Any = None) -> Key:
    """A key from an integer seed (a Python int of up to 64 bits, or an integer array).
    fnad's keys are JAX's default implementation, "threefry2x32" (`impl`), as raw uint32
    words (`dtype` None or uint32).

    >>> key(42)
    array([ 0, 42], dtype=uint32)
    """
    _check_impl("key", impl)
    if dtype is not None and not _is_u32(dtype):
        raise DTypeError(f"key: fnad's keys are uint32 words, got dtype={dtype!r}")
    # the seed's two's-complement bits at JAX's width: 32 bits without x64 (the high
    # word is then 0), and a 64-bit seed's own width with it
    x64 = x64_enabled()
    if isinstance(seed, (int, np.integer)):
        width = 64 if x64 and (type(seed) is int or seed.dtype.itemsize == 8) else 32
        seed = int(seed) % 2 ** width
        return np.array([seed >> 32, seed & 0xFFFFFFFF], _U32)
    aval = get_aval(seed)
    if aval.shape != () or aval.dtype.kind not in "iu":
        raise DTypeError(f"a seed is an integer scalar, got {aval.dtype}{list(aval.shape)}")
    low = lax.reshape(lax.convert_element_type(seed, _U32), (1,))
    if not (x64 and aval.dtype.itemsize == 8):
        return lax.concatenate([lax.full((1,), 0, _U32), low], 0)
    high = lax.convert_element_type(lax.shift_right_logical(seed, np.asarray(32, aval.dtype)),
                                    _U32)
    return lax.concatenate([lax.reshape(high, (1,)), low], 0)


def _is_u32(dtype: Any) -> bool:
    try:
        return np.dtype(dtype) == _U32
    except TypeError:  # not a dtype at all
        return False


def PRNGKey(seed: int | Any, *, impl: Any = None) -> Key:  # noqa: N802  (JAX's name)
    """JAX's older name of `key`."""
    return key(seed, impl=impl)


def _check_impl(where: str, impl: Any) -> None:
    """JAX's PRNG implementations are named by string or by a `PRNGImpl` (its `.name`);
    fnad has the default one, Threefry-2x32."""
    if impl is not None and getattr(impl, "name", impl) != "threefry2x32":
        raise ArgumentError(f"{where}: fnad's keys are threefry2x32 (JAX's default), got "
                            f"impl={impl!r}")


def _blocks(key: Key, shape: tuple[int, ...]) -> tuple[Any, Any]:
    """The cipher's two output words for each element of `shape`, whose input block is the
    element's flat index as a 64-bit counter (high word, low word): JAX's partitionable
    Threefry scheme, so any slice of a draw can be computed on its own."""
    n = math.prod(shape)
    if n >= 2 ** 32:
        raise ShapeError(f"random draws of {n} elements exceed the 2**32 counters fnad makes")
    y0, y1 = threefry2x32(key, lax.full((n,), 0, _U32), lax.iota(_U32, n))
    return lax.reshape(y0, shape), lax.reshape(y1, shape)


def split(key: Key, num: int | Shape = 2) -> Any:
    """`num` new independent keys, shape (num, 2); a shape `num` gives (*num, 2) keys.

    >>> split(key(0)).shape
    (2, 2)
    """
    shape = _shape(num)
    y0, y1 = _blocks(key, shape)
    return lax.concatenate([lax.reshape(y0, (*shape, 1)), lax.reshape(y1, (*shape, 1))],
                           len(shape))


def key_data(keys: Key) -> Any:
    """The uint32 words of `keys`: fnad's keys are those words already (JAX's raw keys)."""
    return keys


def wrap_key_data(key_bits_array: Any, *, impl: Any = None) -> Key:
    """A key from its uint32 words (`key_data`'s inverse): the words themselves in fnad."""
    _check_impl("wrap_key_data", impl)
    return key_bits_array


def clone(key: Key) -> Key:
    """The key itself: keys are immutable values (JAX's `clone` guards reused buffers)."""
    return key


def key_impl(keys: Key) -> str:
    """The name of the keys' generator: fnad's are all threefry2x32."""
    return "threefry2x32"


def fold_in(key: Key, data: int | Any) -> Key:
    """A new key from `key` and an integer (a step number, a device index...)."""
    d = np.asarray(int(data) % 2 ** 32, _U32) if isinstance(data, (int, np.integer)) else \
        lax.convert_element_type(data, _U32)
    y0, y1 = threefry2x32(key, np.uint32(0), d)
    return lax.concatenate([lax.reshape(y0, (1,)), lax.reshape(y1, (1,))], 0)


def _shape(shape: int | Shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def bits(key: Key, shape: int | Shape = (), dtype: Any = None, *, out_sharding: Any = None) -> Any:
    """Uniform random bits of an unsigned dtype (uint8, uint16, uint32 or uint64; by
    default the width of the default integer, as in JAX: uint64 with enable_x64)."""
    check_one_device("bits", out_sharding=out_sharding)
    shape = _shape(shape)
    dtype = np.dtype(f"uint{8 * default_int().itemsize}" if dtype is None else dtype)
    if dtype.kind != "u":
        raise DTypeError(f"bits makes unsigned integers, not {dtype}")
    y0, y1 = _blocks(key, shape)
    if dtype.itemsize == 8:
        hi, lo = lax.convert_element_type(y0, dtype), lax.convert_element_type(y1, dtype)
        return lax.bitwise_or(lax.shift_left(hi, np.uint64(32)), lo)
    words = lax.bitwise_xor(y0, y1)
    return words if dtype == _U32 else lax.convert_element_type(words, dtype)


# ------------------------------------------------------------------ continuous

_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _float_dtype(dtype: Any) -> np.dtype:
    """`dtype` checked to be a float dtype random floats come in; None: the default float."""
    dtype = float_or_default(dtype)
    if dtype not in _FLOATS:
        raise DTypeError(f"random floats are float16, float32 or float64, not {dtype}")
    return dtype


def _unit(key: Key, shape: tuple[int, ...], dtype: np.dtype, open_: bool) -> Any:
    """JAX's uniform floats in [0, 1): random mantissa bits under the exponent of 1.0, a
    float in [1, 2), minus 1 (so multiples of 2**-nmant). With `open_`, 0 becomes the
    smallest normal float, which is JAX's `uniform(minval=tiny)`: (0, 1), safe for logs."""
    width = 8 * dtype.itemsize
    udtype = np.dtype(f"uint{width}")
    mantissa = lax.shift_right_logical(bits(key, shape, udtype),
                                       udtype.type(width - np.finfo(dtype).nmant))
    one = np.asarray(1.0, dtype)
    u = lax.sub(lax.bitcast_convert_type(lax.bitwise_or(mantissa, one.view(udtype)), dtype),
                one)
    return lax.max(u, np.asarray(np.finfo(dtype).tiny, dtype)) if open_ else u


def uniform(key: Key, shape: int | Shape = (), dtype: Any = None, minval: Any = 0.0,
            maxval: Any = 1.0, *, out_sharding: Any = None) -> Any:
    """Uniform floats in [minval, maxval), JAX's draws: `u * (maxval - minval) + minval`
    for `u` in [0, 1) a multiple of 2**-nmant, raised to `minval` where rounding undershoots
    (rounding can reach `maxval`, as in JAX).

    >>> u = uniform(key(0), (1000,)); bool((u >= 0).all() and (u < 1).all())
    True
    """
    check_one_device("uniform", out_sharding=out_sharding)
    shape, dtype = _shape(shape), _float_dtype(dtype)
    u = _unit(key, shape, dtype, False)
    lo, hi = fnp.asarray(minval, dtype), fnp.asarray(maxval, dtype)
    return fnp.maximum(lo, _fma(u, fnp.subtract(hi, lo), lo))


def _halves(x: Any) -> tuple[Any, Any]:
    """x as hi + lo, each with at most 26 significant bits (Veltkamp's split)."""
    big = lax.mul(x, np.float64(134217729.0))  # 2**27 + 1 (lax: overflow stays quiet)
    hi = lax.sub(big, lax.sub(big, x))
    return hi, lax.sub(x, hi)


def _fma(a: Any, b: Any, c: Any) -> Any:
    """a * b + c rounded once, as XLA's CPU code computes it (it contracts a multiply and
    an add into a fused multiply-add): for float16 and float32 the product is exact in
    float64 and the float64 sum rounds to the same float (but in a 2**-29 fraction of
    ties); float64 carries the product's rounding error (Dekker's exact product) and the
    sum's (Knuth's two-sum) into one last rounding."""
    dtype = get_aval(a).dtype
    if dtype == np.float64:
        a, b, c = fnp.broadcast_arrays(*(fnp.asarray(v, dtype) for v in (a, b, c)))
        add, sub, mul = lax.add, lax.sub, lax.mul
        p = mul(a, b)
        (ah, al), (bh, bl) = _halves(a), _halves(b)
        err = add(add(add(sub(mul(ah, bh), p), mul(ah, bl)), mul(al, bh)), mul(al, bl))
        total = add(p, c)  # p + err + c: Knuth's error-free sum of p and c, then err
        back = sub(total, p)
        fused = add(total, add(add(sub(p, sub(total, back)), sub(c, back)), err))
        return fnp.where(fnp.isfinite(fused), fused, total)  # the splits overflow near max
    wide = [fnp.asarray(v, np.float64) for v in (a, b, c)]
    return fnp.asarray(fnp.add(fnp.multiply(wide[0], wide[1]), wide[2]), dtype)


def _toward(x: Any, direction: float) -> Any:
    """The next float after each element of `x` toward `direction` (an infinity)."""
    return lax.nextafter(x, fnp.full_like(x, direction))


# Wichura's AS241 (PPND16) rational approximations of the normal quantile, ~1e-16 relative.
_AS241_CENTRAL = (
    (3.387132872796366608, 133.14166789178437745, 1971.5909503065514427,
     13731.693765509461125, 45921.953931549871457, 67265.770927008700853,
     33430.575583588128105, 2509.0809287301226727),
    (1.0, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077,
     21213.794301586595867, 39307.89580009271061, 28729.085735721942674,
     5226.495278852545925))
_AS241_NEAR = (
    (1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055,
     3.64784832476320460504, 1.27045825245236838258, 0.24178072517745061177,
     0.0227238449892691845833, 7.7454501427834140764e-4),
    (1.0, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455,
     0.14810397642748007459, 0.0151986665636164571966, 5.475938084995344946e-4,
     1.05075007164441684324e-9))
_AS241_FAR = (
    (6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358,
     0.29656057182850489123, 0.026532189526576123093, 0.0012426609473880784386,
     2.71155556874348757815e-5, 2.01033439929228813265e-7),
    (1.0, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525,
     7.868691311456132591e-4, 1.8463183175100546818e-5, 1.4215117583164458887e-7,
     2.04426310338993978564e-15))


def _ratio(coeffs: tuple[tuple[float, ...], tuple[float, ...]], x: Any) -> Any:
    num = den = None
    for a, b in zip(reversed(coeffs[0]), reversed(coeffs[1])):
        num = a if num is None else num * x + a
        den = b if den is None else den * x + b
    return num / den


def ndtri(p: Any) -> Any:
    """The standard normal quantile function (AS241): -inf at 0, inf at 1, NaN outside
    [0, 1], as SciPy's.

    >>> float(ndtri(np.float64(0.975)))  # doctest: +ELLIPSIS
    1.959963984540...
    """
    p = fnp.asarray(p)
    if get_aval(p).dtype == np.float16:  # AS241's coefficients overflow float16
        return fnp.asarray(ndtri(fnp.asarray(p, np.float32)), np.float16)
    q = p - 0.5
    central = q * _ratio(_AS241_CENTRAL, 0.180625 - q * q)
    tail_mass = fnp.minimum(p, 1 - p)  # 0 at the ends and < 0 outside: kept off the log
    r = fnp.sqrt(-fnp.log(fnp.maximum(tail_mass, np.finfo(get_aval(p).dtype).tiny)))
    tail = fnp.where(r <= 5.0, _ratio(_AS241_NEAR, r - 1.6), _ratio(_AS241_FAR, r - 5.0))
    tail = fnp.where(q < 0, -tail, tail)
    out = fnp.where(fnp.abs(q) <= 0.425, central, tail)
    out = fnp.where(p == 0, -np.inf, fnp.where(p == 1, np.inf, out))
    return fnp.where(tail_mass < 0, np.nan, out)


# Giles' polynomial approximations of erfinv ("Approximating the erfinv function", 2010),
# in w = -log1p(-x*x): XLA's erf_inv, through which JAX's normal draws pass. Each entry is
# (the w bound below which it applies, the shift of w or sqrt(w), highest-degree first).
_GILES = {
    np.dtype(np.float32): (
        (5.0, False, 2.5, (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                           0.00021858087, -0.00125372503, -0.00417768164, 0.246640727,
                           1.50140941)),
        (np.inf, True, 3.0, (-0.000200214257, 0.000100950558, 0.00134934322,
                             -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
                             1.00167406, 2.83297682))),
    np.dtype(np.float64): (
        (6.25, False, 3.125, (
            -3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
            1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
            6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
            2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
            1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
            4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
            0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
            0.24015818242558961693, 1.6536545626831027356)),
        (16.0, True, 3.25, (
            2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
            1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
            2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05,
            6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796,
            0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066,
            -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334,
            3.0838856104922207635)),
        (np.inf, True, 5.0, (
            -2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
            -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08,
            2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07,
            -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05,
            7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026,
            1.0103004648645343977, 4.8499064014085844221))),
}


# Cephes' rational approximation of (log1p(x) - x + x**2 / 2) / x**3 for |x| < sqrt(2) - 1,
# highest degree first: XLA's log1p, inside its erf_inv
_LOG1P_SMALL = (
    (4.5270000862445199635215e-5, 4.9854102823193375972212e-1, 6.5787325942061044846969,
     2.9911919328553073277375e1, 6.0949667980987787057556e1, 5.7112963590585538103336e1,
     2.0039553499201281259648e1),
    (1.0, 1.5062909083469192043167e1, 8.3047565967967209469434e1, 2.2176239823732856465394e2,
     3.0909872225312059774938e2, 2.1642788614495947685003e2, 6.0118660497603843919306e1))


def _horner(coeffs: tuple[float, ...], t: Any) -> Any:
    """The polynomial with `coeffs` (highest degree first) at `t`, each step fused as XLA's."""
    dtype = get_aval(t).dtype
    p = fnp.full_like(t, coeffs[0])
    if dtype == np.float64:
        for c in coeffs[1:]:
            p = _fma(p, t, np.asarray(c, dtype))
        return p
    wide = fnp.asarray(t, np.float64)  # `_fma`'s exact products, converting t once
    if type(t) is np.ndarray:  # eagerly in place: no array allocated per step
        sums = np.empty_like(wide)
        for c in coeffs[1:]:
            np.multiply(p, wide, out=sums)
            np.add(sums, float(np.asarray(c, dtype)), out=sums)
            np.copyto(p, sums, casting="same_kind")
        return p
    for c in coeffs[1:]:
        p = fnp.asarray(fnp.add(fnp.multiply(fnp.asarray(p, np.float64), wide),
                                float(np.asarray(c, dtype))), dtype)
    return p


def _piecewise(x: Any, first: Any, f: Callable[[Any], Any], g: Callable[[Any], Any]) -> Any:
    """f(x) where `first`, else g(x). On NumPy values each sees only its own elements (the
    eager draws' time goes into passes over memory); traced values go through both."""
    if type(x) is not np.ndarray or x.ndim == 0:
        return fnp.where(first, f(x), g(x))
    rest = np.flatnonzero(~first)
    if 8 * rest.size < x.size:  # g is rare (erf_inv's tails): f on all, g patched in
        out = f(x)  # a fresh array
    else:
        out = np.empty_like(x)
        out[first] = f(x[first])
    out.flat[rest] = g(x.flat[rest])
    return out


def _log1p(x: Any) -> Any:
    """log1p as XLA computes it: Cephes' rational for small |x|, else log(1 + x)."""
    def small(x: Any) -> Any:
        x2 = fnp.multiply(x, x)
        ratio = fnp.divide(_horner(_LOG1P_SMALL[0], x), _horner(_LOG1P_SMALL[1], x))
        return fnp.add(x, _fma(x2, np.asarray(-0.5, get_aval(x).dtype),
                               fnp.multiply(fnp.multiply(x, x2), ratio)))
    return _piecewise(x, fnp.abs(x) < 0.41421356237309504880, small,
                      lambda x: fnp.log(fnp.add(1, x)))


def _erf_inv(x: Any) -> Any:
    """erfinv as XLA computes it (Giles' polynomials in x's own precision; float16 in
    float32), so that draws built on it are JAX's: fnad.lax.erf_inv is the exact inverse,
    which differs from these in the last bits."""
    dtype = get_aval(x).dtype
    if dtype == np.float16:
        return fnp.asarray(_erf_inv(fnp.asarray(x, np.float32)), np.float16)
    def giles(w: Any, pieces: tuple[Any, ...]) -> Any:
        (bound, root, shift, coeffs), rest = pieces[0], pieces[1:]
        def piece(w: Any) -> Any:
            return _horner(coeffs, fnp.subtract(fnp.sqrt(w) if root else w,
                                                np.asarray(shift, dtype)))
        return piece(w) if not rest else \
            _piecewise(w, fnp.less(w, np.asarray(bound, dtype)), piece, lambda w: giles(w, rest))
    out = giles(fnp.negative(_log1p(fnp.negative(fnp.multiply(x, x)))), _GILES[dtype])
    return fnp.where(fnp.equal(fnp.abs(x), 1), fnp.multiply(x, np.asarray(np.inf, dtype)),
                     fnp.multiply(out, x))


def normal(key: Key, shape: int | Shape = (), dtype: Any = None,
           *, out_sharding: Any = None) -> Any:
    """Standard normal draws, JAX's: sqrt(2) erfinv(u) for u uniform in (-1, 1).

    >>> normal(key(0), (2, 3)).shape
    (2, 3)
    """
    check_one_device("normal", out_sharding=out_sharding)
    if dtype is not None and np.dtype(dtype).kind == "c":  # JAX: (re + 1j im) / sqrt(2)
        dtype = np.dtype(dtype)
        real = np.dtype(np.float32 if dtype == np.complex64 else np.float64)
        k_re, k_im = split(key)
        z = lax.complex(normal(k_re, shape, real), normal(k_im, shape, real))
        return fnp.divide(z, np.asarray(math.sqrt(2), dtype))
    shape, dtype = _shape(shape), _float_dtype(dtype)
    return _normal(key, shape, dtype)


def _normal(key: Key, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    lo = np.nextafter(np.asarray(-1.0, dtype), np.asarray(0.0, dtype))
    u = uniform(key, shape, dtype, lo, 1.0)
    return fnp.multiply(np.asarray(math.sqrt(2), dtype), _erf_inv(u))


def _ndtr(x: Any) -> Any:
    """The standard normal CDF, in float64: the bounds' tail masses need the precision."""
    return 0.5 * lax.erfc(fnp.asarray(x, np.float64) * -math.sqrt(0.5))


def truncated_normal(key: Key, lower: Any, upper: Any, shape: int | Shape | None = None,
                     dtype: Any = None, *, out_sharding: Any = None) -> Any:
    """Standard normal draws conditioned on the open interval (lower, upper) (broadcast
    against `shape`), clamped strictly inside the bounds, which rounding could reach.
    They are JAX's, sqrt(2) erfinv(u) for u uniform between erf(bound / sqrt(2)), except
    far in a tail, where fewer than 2**16 floats lie between those erf values and JAX's
    draws collapse onto a few values: there the same uniforms go through the inverse CDF
    in float64 on the lower tail's side (an interval above 0 drawn as its mirror image).

    >>> x = truncated_normal(key(0), -2.0, 2.0, (1000,)); bool((abs(x) < 2).all())
    True
    """
    check_one_device("truncated_normal", out_sharding=out_sharding)
    dtype = _float_dtype(dtype)
    lo, hi = fnp.asarray(lower, dtype), fnp.asarray(upper, dtype)
    if shape is None:
        shape = np.broadcast_shapes(get_aval(lo).shape, get_aval(hi).shape)
    f = _unit(key, _shape(shape), dtype, False)
    sqrt2 = np.asarray(math.sqrt(2), dtype)
    a, b = lax.erf(fnp.divide(lo, sqrt2)), lax.erf(fnp.divide(hi, sqrt2))
    x = fnp.multiply(sqrt2, _erf_inv(fnp.maximum(a, _fma(f, fnp.subtract(b, a), a))))
    sparse = fnp.less(fnp.subtract(b, a), np.asarray(2.0 ** 16 * float(np.finfo(dtype).eps),
                                                     dtype) * fnp.maximum(fnp.abs(a), fnp.abs(b)))
    if not (isinstance(sparse, (np.ndarray, np.generic)) and not sparse.any()):
        # (eagerly, only when some bounds are that far out)
        lo64, hi64 = fnp.asarray(lo, np.float64), fnp.asarray(hi, np.float64)
        flip = fnp.greater(lo64 + hi64, 0)
        a64, b64 = _ndtr(fnp.where(flip, -hi64, lo64)), _ndtr(fnp.where(flip, -lo64, hi64))
        u64 = fnp.asarray(lax.max(f, np.finfo(dtype).tiny), np.float64)
        tail = ndtri(a64 + u64 * (b64 - a64))
        x = fnp.where(sparse, fnp.asarray(fnp.where(flip, -tail, tail), dtype), x)
    return fnp.clip(x, _toward(lax.stop_gradient(lo), np.inf),
                    _toward(lax.stop_gradient(hi), -np.inf))


# ------------------------------------------------------------------ discrete

def _broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def bernoulli(key: Key, p: Any = 0.5, shape: int | Shape | None = None, mode: str = "low", *,
              out_sharding: Any = None) -> Any:
    """Booleans that are True with probability `p` (broadcast against `shape`), JAX's:
    `uniform < p`, or with `mode` "high" (probabilities below 2**-nmant) `u2 2**-nmant <
    p - u1` for two uniforms."""
    if mode not in ("low", "high"):
        raise ArgumentError(f"bernoulli: mode must be 'low' or 'high', got {mode!r}")
    check_one_device("bernoulli", out_sharding=out_sharding)
    p = fnp.asarray(p)
    dtype = get_aval(p).dtype if get_aval(p).dtype.kind == "f" else default_float()
    shape = get_aval(p).shape if shape is None else _shape(shape)
    p = fnp.asarray(p, dtype)
    if mode == "low":
        return fnp.less(uniform(key, shape, dtype), p)
    u = uniform(key, (2, *shape), dtype)
    return fnp.less(u[1] * np.asarray(2.0 ** -np.finfo(dtype).nmant, dtype), p - u[0])


def gumbel(key: Key, shape: int | Shape = (), dtype: Any = None, mode: str | None = None,
           *, out_sharding: Any = None
           ) -> Any:
    """Standard Gumbel draws, JAX's `-log(-log(u))` for u uniform in [tiny, 1), or with
    `mode` "high" u from two uniforms, resolving the lower tail finer ("highest" draws
    those too: JAX's float32 "highest" bit construction is not reproduced)."""
    check_one_device("gumbel", out_sharding=out_sharding)
    if mode not in (None, "low", "high", "highest"):
        raise ArgumentError(f"gumbel: mode must be 'low', 'high' or 'highest', got {mode!r}")
    shape, dtype = _shape(shape), _float_dtype(dtype)
    if mode in (None, "low"):
        return fnp.negative(fnp.log(fnp.negative(fnp.log(_unit(key, shape, dtype, True)))))
    high, low = _unit(key, (2, *shape), dtype, False)
    x = fnp.where(high >= 0.5, high,
                  high + 2.0 ** -np.finfo(dtype).nmant * low + np.finfo(dtype).tiny)
    return fnp.negative(fnp.log(fnp.negative(fnp.log1p(fnp.negative(x)))))


def categorical(key: Key, logits: Any, axis: int = -1, shape: int | Shape | None = None,
                replace: bool = True, mode: str | None = None, *, out_sharding: Any = None) -> Any:
    """Category indices drawn with probabilities `softmax(logits, axis)`, by the Gumbel-max
    trick. `shape` (default: the batch shape of `logits`) must broadcast that batch shape;
    without `replace`, the leading `shape` entries are distinct categories (Gumbel top-k,
    as JAX)."""
    check_one_device("categorical", out_sharding=out_sharding)
    logits = fnp.asarray(logits)
    aval = get_aval(logits)
    axis = axis % aval.ndim
    batch = aval.shape[:axis] + aval.shape[axis + 1:]
    shape = batch if shape is None else _shape(shape)
    if _broadcast(shape, batch) != shape:
        raise ShapeError(f"categorical: shape {shape} does not broadcast the logits' batch "
                         f"shape {batch}")
    noise_shape = shape[:len(shape) - len(batch) + axis] + (aval.shape[axis],) + \
        shape[len(shape) - len(batch) + axis:]
    dtype = aval.dtype if aval.dtype.kind == "f" else default_float()
    if not replace:
        k = math.prod(shape[:len(shape) - len(batch)])
        if k > aval.shape[axis]:
            raise ShapeError(f"categorical: {k} draws without replacement exceed the "
                             f"{aval.shape[axis]} categories of axis {axis} of {aval}")
        scores = fnp.moveaxis(fnp.add(gumbel(key, aval.shape, dtype, mode), logits), axis, -1)
        _, idx = lax.top_k(scores, k)  # batch + (k,): the draws first, as JAX orders them
        return fnp.asarray(fnp.reshape(fnp.moveaxis(idx, -1, 0), shape), np.int32)  # JAX's
    scores = fnp.add(gumbel(key, noise_shape, dtype, mode), logits)
    return fnp.asarray(fnp.argmax(scores, axis=len(shape) - len(batch) + axis), default_int())


def randint(key: Key, shape: int | Shape, minval: Any, maxval: Any, dtype: Any = None,
            *, out_sharding: Any = None
            ) -> Any:
    """Uniform integers in [minval, maxval), JAX's draws: two words of the dtype's width
    from the two halves of `split(key)`, combined modulo the span (bias below span /
    2**(2 width))."""
    check_one_device("randint", out_sharding=out_sharding)
    shape, dtype = _shape(shape), np.dtype(default_int() if dtype is None else dtype)
    if dtype.kind not in "iu":
        raise DTypeError(f"randint makes integers, not {dtype}")
    # bounds beyond the dtype are clipped to it, a maxval above its largest value making
    # that value possible too, as in JAX
    info = np.iinfo(dtype)
    top = min(int(info.max), np.iinfo(np.int64).max)
    lo = fnp.broadcast_to(fnp.clip(fnp.asarray(minval, np.int64), int(info.min), top), shape)
    hi_given = fnp.broadcast_to(fnp.asarray(maxval, np.int64), shape)
    if dtype.itemsize < 4:  # 8- and 16-bit draws: int32 ones, bounds clipped to the dtype
        hi_given = fnp.clip(hi_given, int(info.min), top + 1)
        info, top = np.iinfo(np.int32), int(np.iinfo(np.int32).max)
    hi = fnp.clip(hi_given, int(info.min), top)
    udtype = np.dtype(f"uint{max(32, 8 * dtype.itemsize)}")
    span = fnp.where(hi <= lo, udtype.type(1), fnp.asarray(fnp.subtract(hi, lo), udtype))
    span = fnp.where(fnp.logical_and(hi_given > top, hi_given > lo),
                     fnp.add(span, udtype.type(1)), span)
    whole = span == 0  # the dtype's whole range (the span wrapped): the low word itself
    span = fnp.where(whole, udtype.type(1), span)
    k1, k2 = split(key)
    higher, lower = bits(k1, shape, udtype), bits(k2, shape, udtype)
    half = udtype.type(2 ** (4 * udtype.itemsize))  # 2**width mod span, squared in halves
    multiplier = fnp.remainder(half, span)
    multiplier = fnp.remainder(lax.mul(multiplier, multiplier), span)  # wrapping, as JAX's
    offset = fnp.remainder(lax.add(lax.mul(fnp.remainder(higher, span), multiplier),
                                   fnp.remainder(lower, span)), span)
    offset = fnp.where(whole, lower, offset)
    return fnp.asarray(fnp.add(fnp.asarray(lo, np.int64), fnp.asarray(offset, np.int64)), dtype)


def permutation(key: Key, x: int | Any, axis: int = 0, independent: bool = False,
                *, out_sharding: Any = None) -> Any:
    """A random permutation of `range(x)`, or of `x` along `axis` (with `independent`, of
    each 1-d slice along `axis` separately), JAX's: rounds of a stable sort by random 32-bit
    words, enough rounds (3 log n / log 2**32) that ties are unlikely to survive all."""
    check_one_device("permutation", out_sharding=out_sharding)
    if isinstance(x, (int, np.integer)):  # the default integer dtype, as JAX's draws
        return _shuffle(key, fnp.arange(int(x), dtype=default_int()), 0)
    values = fnp.asarray(x)
    aval = get_aval(values)
    if aval.ndim == 0:
        raise ShapeError("permutation: x must be an integer or at least 1-dimensional")
    axis = axis % aval.ndim
    if independent or aval.ndim == 1:
        return _shuffle(key, values, axis)
    return _take(values, _shuffle(key, fnp.arange(aval.shape[axis], dtype=default_int()), 0),
                 axis)


def _shuffle(key: Key, x: Any, axis: int) -> Any:
    shape = get_aval(x).shape
    size = math.prod(shape)
    for _ in range(math.ceil(3 * math.log(max(1, size)) / math.log(2 ** 32 - 1))):
        key, subkey = split(key)
        _, x = lax.sort_key_val(bits(subkey, shape, _U32), x, axis)
    return x


def choice(key: Key, a: int | Any, shape: int | Shape = (), replace: bool = True,
           p: Any = None, axis: int = 0, mode: str | None = None) -> Any:
    """Draws from `range(a)` or from the entries of `a` along `axis`, JAX's: uniformly by
    `randint` (with replacement) or a permutation's first entries (without), or with
    probabilities `p` by inverting their cumulative sum at uniforms (with) or the Gumbel
    top-k trick (without)."""
    shape = _shape(shape)
    n = int(a) if isinstance(a, (int, np.integer)) else get_aval(fnp.asarray(a)).shape[axis]
    k = int(np.prod(shape, dtype=np.int64))
    if not replace and k > n:
        raise ShapeError(f"choice: cannot draw {k} of {n} entries without replacement")
    if p is None:
        idx = randint(key, (k,), 0, n) if replace else \
            lax.slice(permutation(key, n), (0,), (k,))
    else:
        p = fnp.asarray(p)
        p = p if get_aval(p).dtype.kind == "f" else fnp.asarray(p, default_float())
        if replace:
            cdf = fnp.cumsum(p)
            u = fnp.subtract(1, uniform(key, (k,), get_aval(cdf).dtype))
            idx = fnp.asarray(fnp.searchsorted(cdf, fnp.multiply(cdf[-1], u)), default_int())
        else:
            scores = fnp.add(gumbel(key, (n,), get_aval(p).dtype, mode), fnp.log(p))
            idx = fnp.asarray(lax.top_k(scores, k)[1], default_int())
    idx = fnp.reshape(idx, shape)
    return idx if isinstance(a, (int, np.integer)) else _take(fnp.asarray(a), idx, axis)


def _take(values: Any, idx: Any, axis: int) -> Any:
    """`values` indexed by `idx` along `axis` (NumPy's `take`)."""
    out = lax.gather(values, fnp.expand_dims(idx, -1), (axis,))
    nd = get_aval(idx).ndim
    return fnp.moveaxis(out, tuple(range(nd)), tuple(range(axis, axis + nd)))


__all__ = ["bernoulli", "bits", "categorical", "choice", "clone", "fold_in", "gumbel", "key",
           "key_data", "key_impl", "ndtri", "normal", "permutation", "PRNGKey", "randint",
           "split", "threefry2x32", "truncated_normal", "uniform", "wrap_key_data"]
# eager NumPy arithmetic on extreme bounds answers inf/NaN silently, as JAX's
from fnad.scipy._util import quiet_all  # noqa: E402,I001
quiet_all(globals(), __all__)
from fnad._samplers import *; from fnad._samplers import __all__ as _more; __all__ += _more  # noqa: E402,E702,F403,I001
