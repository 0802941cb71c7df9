"""`dot_general`: contractions with batch dimensions, the one matrix-product primitive."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core import buffers
from fnad.core.cache import Cache
from fnad.core.errors import ArgumentTypeError, DTypeError, ShapeError, check_one_device
from fnad.core.ir import Eqn, ShapedArray, get_aval
from fnad.core.primitive import CLoop, Primitive, c_source, c_type
from fnad.core.quiet import quiet_enter, quiet_exit
from fnad.device import array_module
from fnad.lax._rules import NUMBER, check_dtypes, defjvp, is_undefined
from fnad.lax.elementwise import asarray_like, convert_element_type, ne

DimensionNumbers = tuple[tuple[tuple[int, ...], tuple[int, ...]],
                         tuple[tuple[int, ...], tuple[int, ...]]]


def _free(ndim: int, contract: Sequence[int], batch: Sequence[int]) -> list[int]:
    return [d for d in range(ndim) if d not in contract and d not in batch]


dot_general_p = Primitive("dot_general")


# ---------------------------------------------------------------------------- NumPy lowering
# np.matmul hands a product to BLAS only for float32/64 and complex64/128 matrices that BLAS
# can address: one of the last two axes with unit stride, the other a whole row (column)
# apart. Otherwise, and for a contraction of size 1 (an outer product), it runs a naive
# triple loop that zeroes its output first; NumPy 1.26 does so for any such operand,
# NumPy 2 for vector operands (matrix-vector products). `dot_runner` never gives it one.

BLAS_DTYPES = frozenset(map(np.dtype, ("float32", "float64", "complex64", "complex128")))


def _vector_stride(stride: int, itemsize: int) -> bool:
    return stride > 0 and stride % itemsize == 0


def _blas_matrix(a: np.ndarray) -> bool:
    """NumPy's test that the last two axes of `a` are a matrix BLAS takes in place, in C or
    in Fortran order."""
    s0, s1 = a.strides[-2:]
    d0, d1 = a.shape[-2:]
    it = a.itemsize
    return ((s1 == it and s0 % it == 0 and s0 >= d1 * it)
            or (s0 == it and s1 % it == 0 and s1 >= d0 * it))


def matmul_uses_blas(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether `np.matmul(a, b)` of stacks of matrices (..., m, k) @ (..., k, n) reaches BLAS
    for every pair (a dot, gemv or gemm call) rather than NumPy's naive loop: a BLAS dtype,
    k > 1, no empty axis, and operands BLAS can address (for a vector, a positive stride).

    >>> a = np.ones((3, 4), np.float32)
    >>> matmul_uses_blas(a, a.T), matmul_uses_blas(a[:, :1], a[:1])  # k == 1: NumPy's loop
    (True, False)
    """
    if a.dtype not in BLAS_DTYPES or b.dtype != a.dtype or a.ndim < 2 or b.ndim < 2:
        return False
    (m, k), n, it = a.shape[-2:], b.shape[-1], a.itemsize
    if k < 2 or m == 0 or n == 0:
        return False
    if m == 1:  # a dot product, or vector @ matrix (gemv)
        return _vector_stride(a.strides[-1], it) and (
            _vector_stride(b.strides[-2], it) if n == 1 else _blas_matrix(b))
    if n == 1:  # matrix @ vector (gemv)
        return _blas_matrix(a) and _vector_stride(b.strides[-2], it)
    return _blas_matrix(a) and _blas_matrix(b)


def _dot_runner(x_shape: tuple[int, ...], y_shape: tuple[int, ...],
                dimension_numbers: DimensionNumbers, dtype: np.dtype) -> Any:
    """`run(x, y, out=None)`: dot_general of operands of these shapes on NumPy, writing into
    `out` (an array of the result's shape and dtype) when it is given and usable.

    A contraction of size 1 is an outer product, a broadcast multiply; an empty one is
    zeros. A product of vectors and matrices is `np.dot`. Any other is one `matmul` of
    (batch..., m, k) @ (batch..., k, n) operands, views where the strides allow, copied only
    when BLAS could not take them as they are (see `matmul_uses_blas`); float16 computes in
    float32, as NumPy's own float16 loop does.
    """
    (xc, yc), (xb, yb) = dimension_numbers
    xf, yf = _free(len(x_shape), xc, xb), _free(len(y_shape), yc, yb)
    batch = tuple(x_shape[d] for d in xb)
    x_free, y_free = tuple(x_shape[d] for d in xf), tuple(y_shape[d] for d in yf)
    out_shape = batch + x_free + y_free
    k = math.prod(x_shape[d] for d in xc)
    if k == 0 or 0 in out_shape:
        def zeros(x: Any, y: Any, out: np.ndarray | None = None) -> np.ndarray:
            if out is None:
                return np.zeros(out_shape, dtype)
            out.fill(0)
            return out
        return zeros

    if k == 1:  # an outer product per batch element (no contraction, or a size-1 one)
        xs = _reshaper((*xb, *xf, *xc), x_shape, batch + x_free + (1,) * len(yf))
        ys = _reshaper((*yb, *yc, *yf), y_shape, batch + (1,) * len(xf) + y_free)
        if not out_shape:
            return lambda x, y, out=None: np.asarray(np.multiply(xs(x), ys(y)))
        return lambda x, y, out=None: np.multiply(xs(x), ys(y), out=out)

    m, n = math.prod(x_free), math.prod(y_free)
    if not xb and len(xc) == 1 and len(x_shape) <= 2 and len(y_shape) <= 2 and (
            dtype in BLAS_DTYPES):
        return _dot(len(x_shape) == 2 and xc[0] == 0, len(y_shape) == 2 and yc[0] == 1,
                    not out_shape, len(out_shape) == 2 and m > 1 and n > 1 and m * n * k >= 1 << 16)
    # Contracted pairs in the larger operand's axis order: its merge into k stays a view.
    pairs = sorted(zip(xc, yc), key=lambda p: p[math.prod(y_shape) > math.prod(x_shape)])
    xc, yc = tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    xs = _reshaper((*xb, *xf, *xc), x_shape, batch + (m, k))
    ys = _reshaper((*yb, *yc, *yf), y_shape, batch + (k, n))
    out3 = batch + (m, n)
    cast = np.dtype(np.float32) if dtype == np.float16 else None
    blas = dtype in BLAS_DTYPES or cast is not None
    x_ok = (lambda a: True) if not blas else (
        (lambda a: _vector_stride(a.strides[-1], a.itemsize)) if m == 1 else _blas_matrix)
    y_ok = (lambda a: True) if not blas else (
        (lambda a: _vector_stride(a.strides[-2], a.itemsize)) if n == 1 else _blas_matrix)
    direct_out = out3 == out_shape and len(out3) == 2 and cast is None

    def run(x: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        x3, y3 = xs(x), ys(y)
        if cast is not None:
            x3, y3 = x3.astype(cast), y3.astype(cast)
        if not x_ok(x3):
            x3 = np.ascontiguousarray(x3)
        if not y_ok(y3):
            y3 = np.ascontiguousarray(y3)
        if out is not None:
            if direct_out:  # a fresh 2-D buffer is C or Fortran ordered: BLAS writes it
                return np.matmul(x3, y3, out=out)
            if cast is None and out.flags.c_contiguous:
                np.matmul(x3, y3, out=out.reshape(out3))
                return out
        r = np.matmul(x3, y3)
        return (r if cast is None else r.astype(dtype)).reshape(out_shape)

    return run


def _dot(x_transposed: bool, y_transposed: bool, scalar: bool, matrices: bool) -> Any:
    """`run` for a product of vectors and matrices (the common case, kept to a few
    attribute reads), on transposed views. Two large matrices go to matmul, as C- or
    Fortran-contiguous operands (np.dot would first zero the result: 5% of a 784x128x256
    product); the rest to np.dot (half a microsecond cheaper to call), which copies the
    operands BLAS cannot address."""
    def run(x: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        a = x.T if x_transposed else x
        b = y.T if y_transposed else y
        if matrices:
            f = a.flags
            if not (f.c_contiguous or f.f_contiguous):
                a = np.ascontiguousarray(a)
            f = b.flags
            if not (f.c_contiguous or f.f_contiguous):
                b = np.ascontiguousarray(b)
            return np.matmul(a, b, out=out)  # a fresh 2-D `out` is C or Fortran ordered
        if out is not None and out.flags.c_contiguous:  # np.dot writes only those
            return np.dot(a, b, out=out)
        return np.asarray(np.dot(a, b)) if scalar else np.dot(a, b)

    return run


def _reshaper(perm: tuple[int, ...], shape: tuple[int, ...], to: tuple[int, ...]) -> Any:
    """`a -> a.transpose(perm).reshape(to)` for arrays of `shape`, without the steps that
    change nothing."""
    identity = perm == tuple(range(len(shape)))
    if to == tuple(shape[p] for p in perm):
        return (lambda a: a) if identity else (lambda a: a.transpose(perm))
    if identity:
        return lambda a: a.reshape(to)
    return lambda a: a.transpose(perm).reshape(to)


_RUNNERS = Cache(maxsize=4096)  # (shapes, dimension numbers, dtype) -> run


def dot_runner(x_shape: tuple[int, ...], y_shape: tuple[int, ...],
               dimension_numbers: DimensionNumbers, dtype: np.dtype) -> Any:
    """The NumPy function computing dot_general for operands of these shapes and dtype,
    `run(x, y, out=None)` (cached); the eager impl and the jit's NumPy code both call it."""
    key = (x_shape, y_shape, dimension_numbers, dtype)
    run = _RUNNERS.peek(key)
    if run is None:
        run = _RUNNERS.put(key, _dot_runner(*key))
    return run


def _dot_general_impl(x: np.ndarray, y: np.ndarray, dimension_numbers: DimensionNumbers,
                      ) -> np.ndarray:
    token = quiet_enter()  # inf * 0: NaN is the answer, without NumPy's warning
    try:
        return dot_runner(x.shape, y.shape, dimension_numbers, x.dtype)(x, y)
    finally:
        quiet_exit(token)


dot_general_p.def_impl(_dot_general_impl)


@dot_general_p.def_abstract_eval
def _dot_general_abstract_eval(x: ShapedArray, y: ShapedArray,
                               dimension_numbers: DimensionNumbers) -> ShapedArray:
    (xc, yc), (xb, yb) = dimension_numbers
    check_dtypes([x, y], NUMBER)
    if len(xc) != len(yc) or len(xb) != len(yb):
        raise ShapeError(f"dimension_numbers {dimension_numbers} pair unequal numbers of axes")
    for dims, a in ((xc + xb, x), (yc + yb, y)):
        if len(set(dims)) != len(dims) or any(not 0 <= d < a.ndim for d in dims):
            raise ShapeError(f"dimension_numbers {dimension_numbers} name invalid or repeated "
                             f"axes of {a}")
    for i, j in zip(xc + xb, yc + yb):
        if x.shape[i] != y.shape[j]:
            raise ShapeError(f"axis {i} of {x} (size {x.shape[i]}) does not match axis {j} of "
                             f"{y} (size {y.shape[j]}); dimension_numbers {dimension_numbers}")
    shape = ([x.shape[d] for d in xb] + [x.shape[d] for d in _free(x.ndim, xc, xb)]
             + [y.shape[d] for d in _free(y.ndim, yc, yb)])
    return ShapedArray(shape, x.dtype)


def _transpose_operand(ct: Any, other: Any, dimension_numbers: DimensionNumbers,
                       aval: ShapedArray, swap: bool) -> Any:
    """Cotangent of one operand: contract `ct` with the other operand over the other's free
    axes, then put the axes back in the operand's order."""
    (xc, yc), (xb, yb) = dimension_numbers
    if swap:
        xc, yc, xb, yb = yc, xc, yb, xb
    other_ndim = get_aval(other).ndim
    nb = len(xb)
    nxf = len(_free(aval.ndim, xc, xb))
    yf = _free(other_ndim, yc, yb)
    ct_other_free = (list(range(nb + nxf, nb + nxf + len(yf))) if not swap
                     else list(range(nb, nb + len(yf))))
    dims = ((tuple(ct_other_free), tuple(yf)), (tuple(range(nb)), tuple(yb)))
    # dot_general(ct, other) has axes: batch, this operand's free axes, then its contracted
    # axes in `other` order; dot_general(other, ct) has the last two groups swapped. Take
    # the one already in the operand's order when there is one (a weight gradient
    # x^T g, say), so no transpose copies the result.
    free = _free(aval.ndim, xc, xb)
    contracted = [x for _, x in sorted(zip(yc, xc))]
    ct_first = list(xb) + free + contracted
    other_first = list(xb) + contracted + free
    if other_first == sorted(other_first) and ct_first != sorted(ct_first):
        (c_ct, c_other), (b_ct, b_other) = dims
        return dot_general(other, ct, ((c_other, c_ct), (b_other, b_ct)))
    out = dot_general(ct, other, dims)
    from fnad.lax.structural import transpose
    return transpose(out, tuple(int(i) for i in np.argsort(ct_first)))


def _dot_general_transpose(ct: Any, x: Any, y: Any,
                           dimension_numbers: DimensionNumbers) -> list[Any]:
    if is_undefined(x) and is_undefined(y):
        raise ArgumentTypeError("dot_general is not linear in both operands at once")
    if is_undefined(x):
        return [_transpose_operand(ct, y, dimension_numbers, x.aval, swap=False), None]
    return [None, _transpose_operand(ct, x, dimension_numbers, y.aval, swap=True)]


def _dot_general_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                       dimension_numbers: DimensionNumbers):
    (x, y), (xd, yd) = vals, dims
    (xc, yc), (xb, yb) = dimension_numbers

    def shift(axes: Sequence[int], bd: int | None) -> tuple[int, ...]:
        return tuple(a + (bd is not None and a >= bd) for a in axes)

    xc2, xb2, yc2, yb2 = shift(xc, xd), shift(xb, xd), shift(yc, yd), shift(yb, yd)
    if xd is not None and yd is not None:  # a new leading batch dimension
        dn = ((xc2, yc2), ((xd, *xb2), (yd, *yb2)))
        return dot_general_p.bind(x, y, dimension_numbers=dn), 0
    dn = ((xc2, yc2), (xb2, yb2))
    out = dot_general_p.bind(x, y, dimension_numbers=dn)
    if xd is not None:  # the batch axis is one of x's free axes
        xf = _free(get_aval(x).ndim, xc2, xb2)
        return out, len(xb) + xf.index(xd)
    yf = _free(get_aval(y).ndim, yc2, yb2)
    return out, len(xb) + len(_free(get_aval(x).ndim, xc2, xb2)) + yf.index(yd)


defjvp(dot_general_p,
       lambda g, ans, x, y, dimension_numbers: dot_general(g, y, dimension_numbers),
       lambda g, ans, x, y, dimension_numbers: dot_general(x, g, dimension_numbers))
dot_general_p.def_transpose(_dot_general_transpose)
dot_general_p.def_batch(_dot_general_batch)


_OUTER_LOOP = r"""
#include <stdint.h>
typedef long long i64;
#if defined(__AVX512F__) || defined(__AVX__) || defined(__SSE2__)
#  include <immintrin.h>
#endif
#if defined(__AVX512F__)
#  define VBYTES 64
#  define VSTREAM(p, a, v) STREAM512(p, a, v)
#elif defined(__AVX__)
#  define VBYTES 32
#  define VSTREAM(p, a, v) STREAM256(p, a, v)
#elif defined(__SSE2__)
#  define VBYTES 16
#  define VSTREAM(p, a, v) STREAM128(p, a, v)
#endif
#if DOUBLE
#  define STREAM512(p, a, v) _mm512_stream_pd(p, _mm512_mul_pd(_mm512_set1_pd(a), _mm512_loadu_pd(v)))
#  define STREAM256(p, a, v) _mm256_stream_pd(p, _mm256_mul_pd(_mm256_set1_pd(a), _mm256_loadu_pd(v)))
#  define STREAM128(p, a, v) _mm_stream_pd(p, _mm_mul_pd(_mm_set1_pd(a), _mm_loadu_pd(v)))
#else
#  define STREAM512(p, a, v) _mm512_stream_ps(p, _mm512_mul_ps(_mm512_set1_ps(a), _mm512_loadu_ps(v)))
#  define STREAM256(p, a, v) _mm256_stream_ps(p, _mm256_mul_ps(_mm256_set1_ps(a), _mm256_loadu_ps(v)))
#  define STREAM128(p, a, v) _mm_stream_ps(p, _mm_mul_ps(_mm_set1_ps(a), _mm_loadu_ps(v)))
#endif
/* out[b][i][j] = x[b][i] * y[b][j]: a batch of outer products, one vectorized row of the
   result at a time. p: B, M, N, stream. With `stream` (a large result on pages mapped
   already), the aligned part of each row is written with non-temporal stores, which skip
   reading the destination into the cache: half the memory traffic. The same products. */
void NAME(const T* restrict x, const T* restrict y, T* restrict out, const i64* p) {
  const i64 B = p[0], M = p[1], N = p[2];
  for (i64 b = 0; b < B; ++b)
    for (i64 i = 0; i < M; ++i) {
      const T xi = x[b * M + i];
      const T* restrict yb = y + b * N;
      T* restrict row = out + (b * M + i) * N;
      i64 j = 0;
#ifdef VBYTES
      if (p[3]) {  /* plain stores up to an aligned address, then streaming ones */
        for (; j < N && ((uintptr_t)(row + j) % VBYTES); ++j) row[j] = xi * yb[j];
        for (; j + VBYTES / (i64)sizeof(T) <= N; j += VBYTES / (i64)sizeof(T))
          VSTREAM(row + j, xi, yb + j);
      }
#endif
      for (; j < N; ++j) row[j] = xi * yb[j];
    }
#ifdef VBYTES
  if (p[3]) _mm_sfence();
#endif
}"""


def _dot_loops(avals: Sequence[ShapedArray], params: dict[str, Any]) -> Any:
    """On the C backend, a contraction of size 1 (an outer product per batch element: a
    per-example weight gradient) is a C loop writing each row of the result once; NumPy's
    broadcast multiply runs about half as fast on such large results. The same products, so
    the same numbers. Other products are BLAS calls through the impl."""
    x, y = avals
    (xc, yc), (xb, yb) = params["dimension_numbers"]
    xf, yf = _free(x.ndim, xc, xb), _free(y.ndim, yc, yb)
    if x.dtype not in (np.float32, np.float64) or math.prod(x.shape[d] for d in xc) != 1:
        return None
    batch = tuple(x.shape[d] for d in xb)
    b, m, n = (math.prod(batch), math.prod(x.shape[d] for d in xf),
               math.prod(y.shape[d] for d in yf))
    out_shape = batch + tuple(x.shape[d] for d in xf) + tuple(y.shape[d] for d in yf)
    if b * m * n == 0:
        return None
    xs = _reshaper((*xb, *xf, *xc), x.shape, (b, m))
    ys = _reshaper((*yb, *yf, *yc), y.shape, (b, n))
    symbol = f"outer_products_{x.dtype.name}"
    source = c_source(_OUTER_LOOP, T=c_type(x.dtype), NAME=symbol,
                      DOUBLE=int(x.dtype == np.float64))
    sizes = {s: np.array([b, m, n, s], np.int64) for s in (0, 1)}  # by `stream`

    def run(fn: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x2, y2 = np.ascontiguousarray(xs(x)), np.ascontiguousarray(ys(y))
        out, mapped = buffers.take(out_shape, x2.dtype)
        fn(x2.ctypes.data, y2.ctypes.data, out.ctypes.data, sizes[mapped].ctypes.data)
        return out

    return source, symbol, run


dot_general_p.kernel = CLoop(_dot_loops)


def swapped_dot(transpose_eqn: Eqn, dot: Eqn) -> Eqn | None:
    """transpose(dot_general(a, b)) that only swaps the free axes of a and b is
    dot_general(b, a) (for transpose's simplify rule); None when it is another permutation."""
    (ac, bc), (ab, bb) = dot.params["dimension_numbers"]
    if ab or bb:
        return None
    na = dot.inputs[0].aval.ndim - len(ac)
    nb = dot.inputs[1].aval.ndim - len(bc)
    if transpose_eqn.params["permutation"] != (*range(na, na + nb), *range(na)):
        return None
    return dot.replace(inputs=[dot.inputs[1], dot.inputs[0]], outputs=transpose_eqn.outputs,
                       params={**dot.params, "dimension_numbers": ((bc, ac), (bb, ab))})


def _dtype_rank(dtype: np.dtype) -> tuple:
    """XLA's HigherPrecisionType order (JAX's dot_general dtype rule): complex over real,
    then exponent range, mantissa, width, and signed over unsigned."""
    real = np.dtype(dtype.char.lower()) if dtype.kind == "c" else dtype
    fi = np.finfo(real) if real.kind == "f" else None
    width = 1 if real.kind == "b" else 8 * real.itemsize
    return (dtype.kind == "c", fi.maxexp if fi else -1, fi.nmant if fi else -1, width,
            real.kind != "u")


def _dot_dtype(x: np.dtype, y: np.dtype, preferred: Any) -> np.dtype:
    """The dtype of dot_general's result, by JAX's rule."""
    dtype = max(x, y, key=_dtype_rank)
    if x != y and _dtype_rank(x) == _dtype_rank(y):
        raise DTypeError(f"dot_general: operands of dtypes {x} and {y} have no common "
                         "precision; convert one with fnad.lax.convert_element_type")
    if preferred is None:
        return dtype
    preferred = np.dtype(preferred)
    if (preferred != dtype and dtype.kind != "f"
            and _dtype_rank(preferred)[3] < _dtype_rank(dtype)[3]):
        raise DTypeError(f"dot_general: preferred_element_type={preferred} is narrower than "
                         f"the product's dtype {dtype} of operands {x} and {y}; ask for a "
                         "dtype at least as wide, or convert the result afterwards")
    return preferred


def dot_general(lhs: Any, rhs: Any, dimension_numbers: Any, precision: Any = None,
                preferred_element_type: Any = None, *, out_sharding: Any = None) -> Any:
    """Contract `lhs` and `rhs`: dimension_numbers = ((lhs_contract, rhs_contract),
    (lhs_batch, rhs_batch)).

    Output axes: batch, then lhs's free axes, then rhs's free axes. Operands of different
    dtypes are multiplied in the wider one, as in JAX (int8 with float16 gives float16);
    `preferred_element_type` is the result's dtype (the operands are converted to it, so
    the products accumulate in it); `precision` is accepted for JAX compatibility (NumPy's
    BLAS has one precision).
    """
    del precision  # every product runs at full precision
    if out_sharding is not None:
        check_one_device("dot_general", out_sharding=out_sharding)
    x, y = asarray_like(lhs, rhs)
    dtype = _dot_dtype(get_aval(x).dtype, get_aval(y).dtype, preferred_element_type)
    if dtype.kind == "b":  # JAX: any of the pairs is true (count them, compare with 0)
        count = dot_general(x, y, dimension_numbers, preferred_element_type=np.int32)
        return ne(count, np.zeros((), np.int32))
    # JAX: the products are computed in (and accumulate in) the result dtype
    x, y = (v if get_aval(v).dtype == dtype else convert_element_type(v, dtype) for v in (x, y))
    try:
        dn = _DIMENSION_NUMBERS.peek(dimension_numbers)
    except TypeError:  # given as lists
        dn = None
    if dn is None:
        (xc, yc), (xb, yb) = dimension_numbers
        dn = ((tuple(int(a) for a in xc), tuple(int(a) for a in yc)),
              (tuple(int(a) for a in xb), tuple(int(a) for a in yb)))
        if isinstance(dimension_numbers, tuple):
            _DIMENSION_NUMBERS.put(dimension_numbers, dn)
    return dot_general_p.bind(x, y, dimension_numbers=dn)


_DIMENSION_NUMBERS = Cache(maxsize=10_000)  # as given -> normalized (ints, tuples)


def dot(lhs: Any, rhs: Any, *, dimension_numbers: Any = None, precision: Any = None,
        preferred_element_type: Any = None, out_sharding: Any = None) -> Any:
    """Vector/matrix product contracting the last axis of `lhs` with the first of `rhs`, or
    `dot_general` with `dimension_numbers` when given."""
    x, y = asarray_like(lhs, rhs)
    if dimension_numbers is None:
        dimension_numbers = (((get_aval(x).ndim - 1,), (0,)), ((), ()))
    return dot_general(x, y, dimension_numbers, precision, preferred_element_type,
                       out_sharding=out_sharding)


def _dot_general_xp(x: Any, y: Any, dimension_numbers: Any) -> Any:
    """CuPy's impl: matrix products through cuBLAS (`matmul` / `dot`), batch axes first.
    Written with the API NumPy and CuPy share."""
    xp = array_module([x, y])
    (xc, yc), (xb, yb) = dimension_numbers
    if not xb and len(xc) == 1 and x.ndim <= 2 and y.ndim <= 2:
        a = x if x.ndim < 2 or xc[0] == 1 else x.T
        b = y if y.ndim < 2 or yc[0] == 0 else y.T
        return xp.asarray(xp.dot(a, b))
    xf = [d for d in range(x.ndim) if d not in xc and d not in xb]
    yf = [d for d in range(y.ndim) if d not in yc and d not in yb]
    batch = [x.shape[d] for d in xb]
    k = math.prod(x.shape[d] for d in xc)
    m = math.prod(x.shape[d] for d in xf)
    n = math.prod(y.shape[d] for d in yf)
    x3 = xp.transpose(x, (*xb, *xf, *xc)).reshape((*batch, m, k))
    y3 = xp.transpose(y, (*yb, *yc, *yf)).reshape((*batch, k, n))
    out = xp.matmul(x3, y3)
    return out.reshape((*batch, *(x.shape[d] for d in xf), *(y.shape[d] for d in yf)))


dot_general_p.def_impl(_dot_general_xp, "cupy")


__all__ = ["dot", "dot_general"]


# `jax.lax.linalg`'s decompositions, spelled as programs import them
# (`lax.linalg.cholesky`); they live in `linalg_decomp`, which builds on this module
_DECOMPOSITIONS = ("cholesky", "eig", "eigh", "lu", "qr", "svd", "triangular_solve")


def __getattr__(name: str) -> Any:
    if name in _DECOMPOSITIONS:
        from fnad.lax import linalg_decomp
        return getattr(linalg_decomp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
