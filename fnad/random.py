"""Explicit, splittable, counter-based random numbers: Threefry-2x32 (Salmon et al., 2011)
written with `fnad.lax` uint32 primitives, so the same key gives the same numbers eagerly,
under `jit` and `vmap`, and on every backend. A key is a uint32 array of shape (2,).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.core.dtypes import default_float, default_int, float_or_default
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


def _key_words(key: Key) -> tuple[Any, Any]:
    if type(key) in (bool, int, float):
        raise ShapeError(f"a PRNG key is a uint32 array of shape (2,), got the number "
                         f"{key!r}; make one with fnad.random.key({key!r})")
    aval = get_aval(key)
    if aval.shape != (2,) or aval.dtype != _U32:
        raise ShapeError(f"a PRNG key is a uint32 array of shape (2,), got {aval.dtype}"
                         f"{list(aval.shape)}; make one with fnad.random.key(seed) (use vmap "
                         "for a batch of keys)")
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
    if dtype is not None and np.dtype(dtype) != _U32:
        raise DTypeError(f"key: fnad's keys are uint32 words, got dtype={dtype!r}")
    if isinstance(seed, (int, np.integer)):
        seed = int(seed) % 2 ** 64
        return np.array([seed >> 32, seed & 0xFFFFFFFF], _U32)
    aval = get_aval(seed)
    if aval.shape != () or aval.dtype.kind not in "iu":
        raise DTypeError(f"a seed is an integer scalar, got {aval.dtype}{list(aval.shape)}")
    low = lax.convert_element_type(seed, _U32)
    return lax.concatenate([lax.full((1,), 0, _U32), lax.reshape(low, (1,))], 0)


def PRNGKey(seed: int | Any, *, impl: Any = None) -> Key:  # noqa: N802  (JAX's name)
    """JAX's older name of `key`."""
    return key(seed, impl=impl)


def _check_impl(where: str, impl: Any) -> None:
    """JAX's PRNG implementations are named by string or by a `PRNGImpl` (its `.name`);
    fnad has the default one, Threefry-2x32."""
    if impl is not None and getattr(impl, "name", impl) != "threefry2x32":
        raise ArgumentError(f"{where}: fnad's keys are threefry2x32 (JAX's default), got "
                            f"impl={impl!r}")


def _hash(key: Key, n: int) -> Any:
    """`n` random uint32 words: counters 0..n-1, split into the two halves of the cipher's
    input block, as JAX does."""
    half = (n + 1) // 2
    counters = lax.iota(_U32, 2 * half)
    y0, y1 = threefry2x32(key, lax.slice(counters, (0,), (half,)),
                          lax.slice(counters, (half,), (2 * half,)))
    words = lax.concatenate([y0, y1], 0)
    return words if n == 2 * half else lax.slice(words, (0,), (n,))


def split(key: Key, num: int | Shape = 2) -> Any:
    """`num` new independent keys, shape (num, 2); a shape `num` gives (*num, 2) keys.

    >>> split(key(0)).shape
    (2, 2)
    """
    shape = _shape(num)
    return lax.reshape(_hash(key, 2 * math.prod(shape)), (*shape, 2))


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
    n = int(np.prod(shape, dtype=np.int64))
    if dtype.itemsize == 8:
        words = lax.reshape(_hash(key, 2 * n), (*shape, 2))
        hi, lo = (lax.convert_element_type(lax.reshape(lax.slice(
            words, (0,) * len(shape) + (i,), (*shape, i + 1)), shape), dtype) for i in (0, 1))
        return lax.bitwise_or(lax.shift_left(hi, np.uint64(32)), lo)
    words = lax.reshape(_hash(key, n), shape)
    return lax.convert_element_type(words, dtype)


# ------------------------------------------------------------------ continuous

_MANTISSA = {np.dtype(np.float16): 11, np.dtype(np.float32): 24, np.dtype(np.float64): 53}


def _float_dtype(dtype: Any) -> np.dtype:
    """`dtype` checked to be a float dtype random floats come in; None: the default float."""
    dtype = float_or_default(dtype)
    if dtype not in _MANTISSA:
        raise DTypeError(f"random floats are float16, float32 or float64, not {dtype}")
    return dtype


def _unit(key: Key, shape: tuple[int, ...], dtype: np.dtype, open_: bool) -> Any:
    """Uniform floats whose every value is exact: `k / 2**m` in [0, 1) for uniform integers k
    of the dtype's `m` mantissa bits, or with `open_` `(k + 1/2) / 2**(m-1)` in (0, 1) for k
    of m - 1 bits (k + 1/2 of m bits would round to 2**m, hence to 1, at the top)."""
    m = _MANTISSA[dtype] - open_
    if m <= 32:
        k = lax.convert_element_type(
            lax.shift_right_logical(bits(key, shape, _U32), np.uint32(32 - m)), dtype)
    else:
        k = lax.convert_element_type(lax.shift_right_logical(bits(key, shape, np.uint64),
                                                             np.uint64(64 - m)), dtype)
    if open_:
        k = lax.add(k, np.asarray(0.5, dtype))
    return lax.mul(k, np.asarray(2.0 ** -m, dtype))


def uniform(key: Key, shape: int | Shape = (), dtype: Any = None, minval: Any = 0.0,
            maxval: Any = 1.0, *, out_sharding: Any = None) -> Any:
    """Uniform floats in [minval, maxval). Each draw is an exact multiple of 2**-m, m the
    dtype's mantissa width (the integer form of the usual exponent-bits "mantissa trick");
    scaling can round the top draws up to `maxval`, so they are clamped just below it.

    >>> u = uniform(key(0), (1000,)); bool((u >= 0).all() and (u < 1).all())
    True
    """
    check_one_device("uniform", out_sharding=out_sharding)
    shape, dtype = _shape(shape), _float_dtype(dtype)
    u = _unit(key, shape, dtype, False)
    lo, hi = fnp.asarray(minval, dtype), fnp.asarray(maxval, dtype)
    x = fnp.add(fnp.multiply(u, fnp.subtract(hi, lo)), lo)
    return fnp.maximum(lo, fnp.minimum(x, _toward(hi, -np.inf)))


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


def normal(key: Key, shape: int | Shape = (), dtype: Any = None,
           *, out_sharding: Any = None) -> Any:
    """Standard normal draws, by the inverse CDF of uniforms in the open interval (0, 1).

    >>> normal(key(0), (2, 3)).shape
    (2, 3)
    """
    check_one_device("normal", out_sharding=out_sharding)
    if dtype is not None and np.dtype(dtype).kind == "c":  # JAX: (re + 1j im) / sqrt(2)
        real = np.dtype(np.float32 if np.dtype(dtype) == np.complex64 else np.float64)
        k_re, k_im = split(key)
        half = np.asarray(math.sqrt(0.5), real)
        return lax.complex(lax.mul(normal(k_re, shape, real), half),
                           lax.mul(normal(k_im, shape, real), half))
    shape, dtype = _shape(shape), _float_dtype(dtype)
    return ndtri(_unit(key, shape, dtype, True))


def _ndtr(x: Any) -> Any:
    """The standard normal CDF, in float64: the bounds' tail masses need the precision."""
    return 0.5 * lax.erfc(fnp.asarray(x, np.float64) * -math.sqrt(0.5))


def truncated_normal(key: Key, lower: Any, upper: Any, shape: int | Shape | None = None,
                     dtype: Any = None, *, out_sharding: Any = None) -> Any:
    """Standard normal draws conditioned on the open interval (lower, upper) (broadcast
    against `shape`), by the inverse CDF of uniforms between the bounds' CDF values. It is
    computed in float64 on the lower tail's side (an interval mostly above 0 is drawn as the
    negative of its mirror image: CDF values near 1 have too few floats between them), then
    clamped strictly inside the bounds, which rounding to `dtype` could reach.

    >>> x = truncated_normal(key(0), -2.0, 2.0, (1000,)); bool((abs(x) < 2).all())
    True
    """
    check_one_device("truncated_normal", out_sharding=out_sharding)
    dtype = _float_dtype(dtype)
    lo, hi = fnp.asarray(lower, np.float64), fnp.asarray(upper, np.float64)
    flip = fnp.greater(lo + hi, 0)
    a, b = _ndtr(fnp.where(flip, -hi, lo)), _ndtr(fnp.where(flip, -lo, hi))
    if shape is None:
        shape = np.broadcast_shapes(get_aval(a).shape, get_aval(b).shape)
    u = fnp.asarray(_unit(key, _shape(shape), dtype, True), np.float64)
    x = ndtri(a + u * (b - a))
    x = fnp.asarray(fnp.where(flip, -x, x), dtype)
    lo, hi = fnp.asarray(lower, dtype), fnp.asarray(upper, dtype)
    return fnp.clip(x, _toward(lo, np.inf), _toward(hi, -np.inf))


# ------------------------------------------------------------------ discrete

def _broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def bernoulli(key: Key, p: Any = 0.5, shape: int | Shape | None = None, mode: str = "low", *,
              out_sharding: Any = None) -> Any:
    """Booleans that are True with probability `p` (broadcast against `shape`). JAX's
    `mode` "high" draws finer uniforms than "low"; fnad's uniforms already have the
    dtype's full resolution, so both give the same draws."""
    if mode not in ("low", "high"):
        raise ArgumentError(f"bernoulli: mode must be 'low' or 'high', got {mode!r}")
    check_one_device("bernoulli", out_sharding=out_sharding)
    p = fnp.asarray(p)
    dtype = get_aval(p).dtype if get_aval(p).dtype.kind == "f" else default_float()
    shape = get_aval(p).shape if shape is None else _shape(shape)
    return fnp.less(uniform(key, shape, dtype), p)


def gumbel(key: Key, shape: int | Shape = (), dtype: Any = None, mode: str | None = None,
           *, out_sharding: Any = None
           ) -> Any:
    """Standard Gumbel draws, `-log(-log(u))`. Every `mode` of JAX's ("low", "high",
    "highest") gives the same draws: the uniforms already have the dtype's full resolution."""
    check_one_device("gumbel", out_sharding=out_sharding)
    if mode not in (None, "low", "high", "highest"):
        raise ArgumentError(f"gumbel: mode must be 'low', 'high' or 'highest', got {mode!r}")
    shape, dtype = _shape(shape), _float_dtype(dtype)
    return fnp.negative(fnp.log(fnp.negative(fnp.log(_unit(key, shape, dtype, True)))))


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
        return fnp.asarray(fnp.reshape(fnp.moveaxis(idx, -1, 0), shape), default_int())
    scores = fnp.add(gumbel(key, noise_shape, dtype, mode), logits)
    return fnp.asarray(fnp.argmax(scores, axis=len(shape) - len(batch) + axis), default_int())


def randint(key: Key, shape: int | Shape, minval: Any, maxval: Any, dtype: Any = None,
            *, out_sharding: Any = None
            ) -> Any:
    """Uniform integers in [minval, maxval), from 64 random bits reduced modulo the span
    (bias below span / 2**64, far beneath any test's reach)."""
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
    hi = fnp.add(fnp.clip(hi_given, int(info.min), top), fnp.asarray(
        fnp.logical_and(hi_given > top, hi_given > lo), np.int64))
    span = fnp.asarray(fnp.maximum(fnp.subtract(hi, lo), np.int64(1)), np.uint64)
    offset = fnp.remainder(bits(key, shape, np.uint64), span)
    return fnp.asarray(fnp.add(fnp.asarray(lo, np.int64), fnp.asarray(offset, np.int64)), dtype)


def permutation(key: Key, x: int | Any, axis: int = 0, independent: bool = False,
                *, out_sharding: Any = None) -> Any:
    """A random permutation of `range(x)`, or of `x` along `axis` (with `independent`, of
    each 1-d slice along `axis` separately): the order that sorts random 64-bit keys (ties,
    which would favour the identity, have probability n**2 / 2**65)."""
    check_one_device("permutation", out_sharding=out_sharding)
    if isinstance(x, (int, np.integer)):  # the default integer dtype, as JAX's draws
        return fnp.asarray(fnp.argsort(bits(key, (int(x),), np.uint64)), default_int())
    values = fnp.asarray(x)
    shape = get_aval(values).shape
    if independent:
        order = fnp.argsort(bits(key, shape, np.uint64), axis=axis)
        return fnp.take_along_axis(values, order, axis=axis)
    return _take(values, fnp.argsort(bits(key, (shape[axis],), np.uint64)), axis)


def choice(key: Key, a: int | Any, shape: int | Shape = (), replace: bool = True,
           p: Any = None, axis: int = 0, mode: str | None = None) -> Any:
    """Draws from `range(a)` or from the entries of `a` along `axis`, uniformly or with
    probabilities `p`; without replacement by a random permutation (uniform) or by the
    Gumbel top-k trick (weighted)."""
    shape = _shape(shape)
    n = int(a) if isinstance(a, (int, np.integer)) else get_aval(fnp.asarray(a)).shape[axis]
    k = int(np.prod(shape, dtype=np.int64))
    if not replace and k > n:
        raise ShapeError(f"choice: cannot draw {k} of {n} entries without replacement")
    if p is None:
        idx = randint(key, (k,), 0, n) if replace else \
            lax.slice(permutation(key, n), (0,), (k,))
    else:
        logp = fnp.log(fnp.asarray(p))
        if replace:
            idx = categorical(key, logp, shape=(k,), mode=mode)
        else:
            scores = fnp.add(gumbel(key, (n,), get_aval(logp).dtype, mode), logp)
            idx = fnp.asarray(lax.slice(fnp.argsort(fnp.negative(scores)), (0,), (k,)),
                              default_int())
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
from fnad._samplers import *; from fnad._samplers import __all__ as _more; __all__ += _more  # noqa: E402,E702,F403,I001
