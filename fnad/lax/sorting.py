"""Sorting along one axis: `sort` (several operands, lexicographic on the first `num_keys`),
`sort_key_val` and `argsort`.

Self-contained: a permutation is applied by sorting it along as one more operand, so the
jvp sorts the tangents with the same keys, and the transpose sorts cotangents back by the
permutation, all with the one `sort` primitive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from fnad.core.ir import ShapedArray, get_aval
from fnad.core.primitive import LibraryCall, Primitive, Zero
from fnad.device import array_module
from fnad.lax._rules import check_dtypes, is_undefined
from fnad.lax.elementwise import asarray_like

sort_p = Primitive("sort", multiple_results=True)


def _sort_impl(*operands: np.ndarray, dimension: int, is_stable: bool, num_keys: int
               ) -> list[np.ndarray]:
    """Always stable, so that sorting tangents with the same keys permutes them alike."""
    if any(op.shape != operands[0].shape for op in operands) or \
            not 1 <= num_keys <= len(operands):  # the abstract eval explains
        raise ArgumentError("bad sort operands")
    keys = operands[:num_keys]
    if num_keys == 1:
        perm = np.argsort(keys[0], axis=dimension, kind="stable")
    else:  # np.lexsort's primary key is its last one
        perm = np.lexsort(keys[::-1], axis=dimension)
    return [np.take_along_axis(op, perm, axis=dimension) for op in operands]


sort_p.def_impl(_sort_impl)


@sort_p.def_abstract_eval
def _sort_abstract_eval(*operands: ShapedArray, dimension: int, is_stable: bool, num_keys: int
                        ) -> list[ShapedArray]:
    if not operands:
        raise ShapeError("needs at least one operand")
    shape = operands[0].shape
    if any(op.shape != shape for op in operands):
        raise ShapeError("all operands must have the same shape")
    if not 0 <= dimension < len(shape):
        raise ShapeError(f"dimension {dimension} is out of range for rank {len(shape)}")
    if not 1 <= num_keys <= len(operands):
        raise ShapeError(f"num_keys={num_keys} must be between 1 and the number of operands "
                         f"({len(operands)})")
    for key in operands[:num_keys]:  # complex keys: by real part, then imaginary (NumPy's)
        check_dtypes([key], "fiubc")
    return list(operands)


def _sort_jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any):
    """Tangents move with their primals: sort them along with the same keys."""
    outs = sort_p.bind(*primals, **params)
    moving = [i for i, t in enumerate(tangents) if type(t) is not Zero]
    if not moving:
        return outs, [Zero(get_aval(o)) for o in outs]
    keys = primals[:params["num_keys"]]
    sorted_ts = iter(sort_p.bind(*keys, *(tangents[i] for i in moving), **params)[len(keys):])
    return outs, [next(sorted_ts) if i in moving else Zero(get_aval(o))
                  for i, o in enumerate(outs)]


def _sort_transpose(cts: Sequence[Any], *operands: Any, dimension: int, is_stable: bool,
                    num_keys: int) -> list[Any]:
    """Sort the cotangents back to where their elements came from: by the permutation."""
    from fnad.interpreters.jvp import instantiate
    if any(is_undefined(k) for k in operands[:num_keys]):
        raise ArgumentTypeError("sort is linear only in its non-key operands")
    linear = [i for i, op in enumerate(operands) if is_undefined(op)]
    shape = operands[linear[0]].aval.shape
    perm = sort_p.bind(*operands[:num_keys], _iota(shape, dimension), dimension=dimension,
                       is_stable=is_stable, num_keys=num_keys)[-1]
    back = iter(sort_p.bind(perm, *(instantiate(cts[i]) for i in linear), dimension=dimension,
                            is_stable=is_stable, num_keys=1)[1:])
    return [next(back) if i in linear else None for i in range(len(operands))]


def _sort_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], dimension: int,
                **params: Any):
    from fnad.interpreters.batching import moveaxis
    bd = next(d for d in dims if d is not None)
    vals = [moveaxis(v, d, bd, axis_size) for v, d in zip(vals, dims)]
    outs = sort_p.bind(*vals, dimension=dimension + (dimension >= bd), **params)
    return outs, [bd] * len(outs)


sort_p.def_jvp(_sort_jvp)
sort_p.def_transpose(_sort_transpose)
sort_p.def_batch(_sort_batch)
sort_p.kernel = LibraryCall()


def _iota(shape: Sequence[int], dimension: int, dtype: Any = np.int32) -> Any:
    from fnad.lax.structural import broadcast_in_dim
    return broadcast_in_dim(np.arange(shape[dimension], dtype=dtype), tuple(shape),
                            (dimension,))


def _dimension(dimension: int, ndim: int) -> int:
    if not -ndim <= dimension < ndim:
        raise ShapeError(f"dimension {dimension} is out of range for rank {ndim}")
    return dimension % ndim


def sort(operand: Any, dimension: int = -1, is_stable: bool = True, num_keys: int = 1) -> Any:
    """Sort along `dimension`, NaNs last. A sequence of operands is sorted together,
    lexicographically by the first `num_keys`; a tuple is returned then.

    >>> import numpy as np
    >>> sort((np.array([2, 1, 2]), np.array([0.5, 1.5, 2.5])))
    (array([1, 2, 2]), array([1.5, 0.5, 2.5]))
    """
    single = not isinstance(operand, (list, tuple))
    ops = asarray_like(*([operand] if single else operand))
    dim = _dimension(dimension, get_aval(ops[0]).ndim)
    outs = sort_p.bind(*ops, dimension=dim, is_stable=bool(is_stable), num_keys=int(num_keys))
    return outs[0] if single else tuple(outs)


def sort_key_val(keys: Any, values: Any, dimension: int = -1, is_stable: bool = True
                 ) -> tuple[Any, Any]:
    """`keys` sorted along `dimension`, and `values` permuted alike."""
    return sort((keys, values), dimension, is_stable, 1)


def argsort(operand: Any, dimension: int = -1, is_stable: bool = True,
            index_dtype: Any = np.int32) -> Any:
    """The indices that sort `operand` along `dimension` (ties keep their order).

    >>> import numpy as np
    >>> argsort(np.array([3.0, 1.0, 2.0]))
    array([1, 2, 0], dtype=int32)
    """
    (operand,) = asarray_like(operand)
    aval = get_aval(operand)
    dim = _dimension(dimension, aval.ndim)
    return sort((operand, _iota(aval.shape, dim, index_dtype)), dim, is_stable, 1)[1]


def _total_order(operand: Any) -> Any:
    """An integer key whose ascending order is JAX's total order of `operand`:
    -NaN < -inf < ... < -0.0 < 0.0 < ... < inf < NaN for floats (sign of NaNs and zeros
    included), False < True for bools."""
    from fnad.lax.elementwise import bitwise_xor, convert_element_type, lt, select_n
    from fnad.lax.structural import bitcast_convert_type
    dtype = get_aval(operand).dtype
    if dtype.kind == "b":
        return convert_element_type(operand, np.int8)
    if dtype.kind != "f":
        return operand
    bits = bitcast_convert_type(operand, np.dtype(f"int{8 * dtype.itemsize}"))
    int_dtype = get_aval(bits).dtype
    # a negative float's bits grow with its magnitude: flip all but the sign bit
    return select_n(lt(bits, np.zeros((), int_dtype)), bits,
                    bitwise_xor(bits, np.array(np.iinfo(int_dtype).max, int_dtype)))


def _extreme_k(operand: Any, k: int, axis: int, name: str, key: Any) -> tuple[Any, Any]:
    """The first `k` entries along `axis` in the ascending order of `key(operand)` (ties by
    index), and their int32 indices."""
    from fnad.lax.structural import slice as slice_
    (operand,) = asarray_like(operand)
    aval = get_aval(operand)
    dim = _dimension(axis, aval.ndim)
    if not 0 <= k <= aval.shape[dim]:
        raise ShapeError(f"{name}: k={k} must be between 0 and the size {aval.shape[dim]} of "
                         f"axis {axis} of {aval}")
    _, values, indices = sort((key(operand), operand, _iota(aval.shape, dim)), dim, True, 1)
    limit = tuple(int(k) if d == dim else n for d, n in enumerate(aval.shape))
    start = (0,) * aval.ndim
    return slice_(values, start, limit), slice_(indices, start, limit)


def top_k(operand: Any, k: int, *, axis: int = -1) -> tuple[Any, Any]:
    """The `k` largest entries along `axis`, largest first, and their int32 indices, as
    JAX's: among equal entries the lower index comes first, and floats are ranked by their
    total order (NaN above inf, 0.0 above -0.0).

    >>> import numpy as np
    >>> top_k(np.array([1.0, 4.0, np.nan, 4.0]), 2)
    (array([nan,  4.]), array([2, 1], dtype=int32))
    """
    from fnad.lax.elementwise import bitwise_not
    (operand,) = asarray_like(operand)
    if get_aval(operand).dtype.kind not in "fiub":
        raise DTypeError(f"top_k takes real or boolean operands, got {get_aval(operand).dtype}")
    # ~x = -x - 1 reverses the total order without overflow
    return _extreme_k(operand, k, axis, "top_k", lambda x: bitwise_not(_total_order(x)))


def _approx_k(name: str, largest: bool) -> Any:
    def approx(operand: Any, k: int, reduction_dimension: int = -1,
               recall_target: float = 0.95, reduction_input_size_override: int = -1,
               aggregate_to_topk: bool = True) -> tuple[Any, Any]:
        from fnad.lax.elementwise import neg
        (operand,) = asarray_like(operand)
        if get_aval(operand).dtype.kind != "f":
            raise DTypeError(f"{name} takes float operands, got {get_aval(operand).dtype}")
        if not aggregate_to_topk:
            raise ArgumentError(f"{name}: fnad computes the exact result, aggregated to k; "
                                "pass aggregate_to_topk=True")
        return _extreme_k(operand, k, reduction_dimension, name,
                          neg if largest else (lambda x: x))
    approx.__name__ = approx.__qualname__ = name
    approx.__doc__ = (f"JAX's `{name}`, computed exactly (recall 1, as on JAX's CPU): the k "
                      f"{'largest' if largest else 'smallest'} entries along "
                      "`reduction_dimension` (0.0 and -0.0 tie, ranked by index) and their "
                      "int32 indices.")
    return approx


approx_max_k = _approx_k("approx_max_k", True)
approx_min_k = _approx_k("approx_min_k", False)


def _sort_xp(*operands: Any, dimension: int, is_stable: bool, num_keys: int) -> list[Any]:
    """CuPy's impl: lexicographic on the first `num_keys` operands by stable sorts, last
    key first (CuPy's argsort is always stable). Written with the API NumPy and CuPy share."""
    xp = array_module(operands)
    keys = operands[:num_keys]
    perm = xp.argsort(keys[-1], axis=dimension, kind="stable")
    for key in reversed(keys[:-1]):
        ranked = xp.take_along_axis(key, perm, axis=dimension)
        perm = xp.take_along_axis(perm, xp.argsort(ranked, axis=dimension, kind="stable"),
                                  axis=dimension)
    return [xp.take_along_axis(op, perm, axis=dimension) for op in operands]


sort_p.def_impl(_sort_xp, "cupy")


__all__ = ["approx_max_k", "approx_min_k", "argsort", "sort", "sort_key_val", "top_k"]
