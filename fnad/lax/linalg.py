"""`dot_general`: contractions with batch dimensions, the one matrix-product primitive."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core.cache import Cache
from fnad.core.errors import ShapeError
from fnad.core.ir import Eqn, ShapedArray, get_aval
from fnad.core.primitive import LibraryCall, Primitive
from fnad.device import array_module
from fnad.lax._rules import NUMBER, check_dtypes, defjvp, is_undefined
from fnad.lax.elementwise import asarray_like, convert_element_type

DimensionNumbers = tuple[tuple[tuple[int, ...], tuple[int, ...]],
                         tuple[tuple[int, ...], tuple[int, ...]]]


def _free(ndim: int, contract: Sequence[int], batch: Sequence[int]) -> list[int]:
    return [d for d in range(ndim) if d not in contract and d not in batch]


dot_general_p = Primitive("dot_general")


def _dot_general_impl(x: np.ndarray, y: np.ndarray, dimension_numbers: DimensionNumbers,
                      ) -> np.ndarray:
    (xc, yc), (xb, yb) = dimension_numbers
    if not xb and len(xc) == 1 and x.ndim <= 2 and y.ndim <= 2:
        # a matrix product: BLAS takes transposed views as they are, without copies
        a = x if x.ndim < 2 or xc[0] == 1 else x.T
        b = y if y.ndim < 2 or yc[0] == 0 else y.T
        return np.asarray(np.dot(a, b))
    xf, yf = _free(x.ndim, xc, xb), _free(y.ndim, yc, yb)
    if not xc:  # an outer product per batch element: a broadcast multiply, not a GEMM
        xs = np.transpose(x, (*xb, *xf)).reshape(tuple(x.shape[d] for d in (*xb, *xf))
                                                 + (1,) * len(yf))
        ys = np.transpose(y, (*yb, *yf)).reshape(tuple(y.shape[d] for d in yb) + (1,) * len(xf)
                                                 + tuple(y.shape[d] for d in yf))
        return np.multiply(xs, ys)
    batch = [x.shape[d] for d in xb]
    k = int(np.prod([x.shape[d] for d in xc], dtype=np.int64))
    m = int(np.prod([x.shape[d] for d in xf], dtype=np.int64))
    n = int(np.prod([y.shape[d] for d in yf], dtype=np.int64))
    x3 = np.transpose(x, (*xb, *xf, *xc)).reshape((*batch, m, k))
    y3 = np.transpose(y, (*yb, *yc, *yf)).reshape((*batch, k, n))
    out = np.matmul(x3, y3)
    return out.reshape((*batch, *(x.shape[d] for d in xf), *(y.shape[d] for d in yf)))


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
        raise TypeError("dot_general is not linear in both operands at once")
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
dot_general_p.kernel = LibraryCall()


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


def dot_general(x: Any, y: Any, dimension_numbers: Any, precision: Any = None,
                preferred_element_type: Any = None) -> Any:
    """Contract `x` and `y`: dimension_numbers = ((x_contract, y_contract), (x_batch, y_batch)).

    Output axes: batch, then x's free axes, then y's free axes. `preferred_element_type`
    is the result's dtype (the operands are converted to it, so the products accumulate in
    it); `precision` is accepted for JAX compatibility (NumPy's BLAS has one precision).
    """
    del precision  # every product runs at full precision
    x, y = asarray_like(x, y)
    if preferred_element_type is not None:  # JAX: accumulate in (and return) that dtype
        x, y = (convert_element_type(v, preferred_element_type) for v in (x, y))
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


def dot(x: Any, y: Any, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Vector/matrix product contracting the last axis of `x` with the first of `y`."""
    x, y = asarray_like(x, y)
    return dot_general(x, y, (((get_aval(x).ndim - 1,), (0,)), ((), ())), precision,
                       preferred_element_type)


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
