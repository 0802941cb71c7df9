"""Products and contractions: dot, matmul, einsum, tensordot and friends, plus diagonals.

All lower to `lax.dot_general` (with transposes, slices and reductions around it); NumPy's
rules for 1-d operands and batch broadcasting are applied here.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentError, ShapeError, check_no_out, check_one_device, user_line
from fnad.core.ir import get_aval
from fnad.lax.elementwise import conj_value
from fnad.numpy._core import (
    asarray,
    broadcast_shapes,
    broadcast_to,
    fresh,
    normalize_axis,
    promote_dtypes,
)
from fnad.numpy._reductions import sum
from fnad.numpy._shape import moveaxis, ravel, slice_axis
from fnad.numpy._ufuncs import multiply, where


def _shape(x: Any) -> tuple[int, ...]:
    return get_aval(x).shape


def _operands(*xs: Any, precision: Any, preferred_element_type: Any) -> list[Any]:
    """The operands in their common dtype, or in `preferred_element_type` (which is then
    the result's dtype, as in JAX). `precision` (None, a `lax.Precision`, its name, or a
    pair) is checked and accepted: fnad computes every product at full precision."""
    for p in (precision if isinstance(precision, (tuple, list)) else (precision,)):
        try:
            if p is not None:
                lax.Precision(p)
        except ValueError:
            raise ArgumentError(f"precision must be None, a fnad.lax.Precision, one of its names "
                             f"('default', 'high', 'highest', ...) or a pair, got {p!r}"
                             f"{user_line()}") from None
    return promote_dtypes(*xs, dtype=preferred_element_type)


def dot(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None,
        out_sharding: Any = None) -> Any:
    """NumPy's dot: a sum product over the last axis of `a` and the second-to-last of `b`
    (the only one for 1-d `b`); a product when either is a scalar. `precision` and
    `preferred_element_type` as in JAX (see `_operands`)."""
    if out_sharding is not None:
        check_one_device("dot", out_sharding=out_sharding)
    a, b = _operands(a, b, precision=precision, preferred_element_type=preferred_element_type)
    na, nb = len(_shape(a)), len(_shape(b))
    if na == 0 or nb == 0:
        return multiply(a, b)
    return lax.dot_general(a, b, (((na - 1,), (max(nb - 2, 0),)), ((), ())))


def matmul(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None,
           out_sharding: Any = None) -> Any:
    """The matrix product with NumPy's rules: a 1-d operand is a vector (its axis removed
    from the result), leading axes are batch axes broadcast together.

    >>> matmul(np.ones((4, 2, 3)), np.ones((3, 5))).shape
    (4, 2, 5)
    """
    if out_sharding is not None:
        check_one_device("matmul", out_sharding=out_sharding)
    a, b = _operands(a, b, precision=precision, preferred_element_type=preferred_element_type)
    sa, sb = _shape(a), _shape(b)
    na, nb = len(sa), len(sb)
    if na == 0 or nb == 0:
        raise ShapeError(f"matmul: operands must not be scalars, got shapes {sa} and {sb}"
                         f"{user_line()}")
    if sa[-1] != sb[max(nb - 2, 0)]:
        raise ShapeError(f"matmul: shapes {sa} and {sb} do not match in the contracted axis "
                         f"({sa[-1]} vs {sb[max(nb - 2, 0)]}){user_line()}")
    if nb <= 2:  # b has no batch axes: contract a's last axis directly
        return lax.dot_general(a, b, (((na - 1,), (max(nb - 2, 0),)), ((), ())))
    if na == 1:
        return lax.dot_general(a, b, (((0,), (nb - 2,)), ((), ())))
    batch = broadcast_shapes(sa[:-2], sb[:-2])
    a = broadcast_to(a, (*batch, *sa[-2:]))
    b = broadcast_to(b, (*batch, *sb[-2:]))
    k = len(batch)
    return lax.dot_general(a, b, (((k + 1,), (k,)), (tuple(range(k)), tuple(range(k)))))


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1, precision: Any = None,
           preferred_element_type: Any = None) -> Any:
    """The dot product of vectors along `axis`, broadcasting the other axes; complex `x1`
    is conjugated (NumPy's and the array API's vecdot)."""
    x1, x2 = _operands(x1, x2, precision=precision,
                       preferred_element_type=preferred_element_type)
    if get_aval(x1).dtype.kind == "c":
        x1 = conj_value(x1)
    return sum(multiply(x1, x2), axis, get_aval(x1).dtype)  # int32 stays int32, as NumPy


def inner(a: Any, b: Any, *, precision: Any = None,
          preferred_element_type: Any = None) -> Any:
    """A sum product over the last axes of `a` and `b`."""
    a, b = _operands(a, b, precision=precision, preferred_element_type=preferred_element_type)
    na, nb = len(_shape(a)), len(_shape(b))
    if na == 0 or nb == 0:
        return multiply(a, b)
    return lax.dot_general(a, b, (((na - 1,), (nb - 1,)), ((), ())))


def outer(a: Any, b: Any, out: None = None) -> Any:
    """`a.ravel()[:, None] * b.ravel()[None, :]`."""
    if out is not None:
        check_no_out("outer", out)
    a, b = ravel(a), ravel(b)
    return multiply(lax.reshape(a, (_shape(a)[0], 1)), lax.reshape(b, (1, _shape(b)[0])))


def vdot(a: Any, b: Any, *, precision: Any = None,
         preferred_element_type: Any = None) -> Any:
    """The dot product of the flattened arrays, conjugating the first (NumPy's rule).

    >>> vdot(np.array([1j, 2.0]), np.array([1j, 3.0]))
    np.complex128(7+0j)
    """
    a, b = _operands(ravel(a), ravel(b), precision=precision,
                     preferred_element_type=preferred_element_type)
    return lax.dot_general(conj_value(a), b, (((0,), (0,)), ((), ())))


def tensordot(a: Any, b: Any, axes: int | Sequence[Any] = 2, *, precision: Any = None,
              preferred_element_type: Any = None, out_sharding: Any = None) -> Any:
    """A sum product over `axes`: the last N axes of `a` with the first N of `b`, or the
    pair of axis lists given."""
    if out_sharding is not None:
        check_one_device("tensordot", out_sharding=out_sharding)
    a, b = _operands(a, b, precision=precision, preferred_element_type=preferred_element_type)
    na, nb = len(_shape(a)), len(_shape(b))
    if isinstance(axes, (int, np.integer)):
        xa, xb = tuple(range(na - int(axes), na)), tuple(range(int(axes)))
    else:
        xa, xb = ((int(ax),) if isinstance(ax, (int, np.integer)) else tuple(ax) for ax in axes)
    xa = tuple(normalize_axis(i, na) for i in xa)
    xb = tuple(normalize_axis(i, nb) for i in xb)
    return lax.dot_general(a, b, ((xa, xb), ((), ())))


# ------------------------------------------------------------------ diagonals


def _diag_last2(x: Any) -> Any:
    """The main diagonal of the last two (equal) axes, as the last axis: flatten them and
    take every (n + 1)-th element."""
    s = _shape(x)
    n = s[-1]
    if n == 0:
        return lax.reshape(x, (*s[:-2], 0))
    return slice_axis(lax.reshape(x, (*s[:-2], n * n)), len(s) - 2, 0, n * n, n + 1)


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The `offset` diagonal of the (axis1, axis2) planes, as a new last axis."""
    a = asarray(a)
    nd = len(_shape(a))
    a = moveaxis(a, (normalize_axis(axis1, nd), normalize_axis(axis2, nd)), (-2, -1))
    n, m = _shape(a)[-2:]
    rows = slice_axis(a, nd - 2, min(-offset, n), n) if offset < 0 else a
    cols = slice_axis(rows, nd - 1, min(offset, m), m) if offset > 0 else rows
    size = max(min(_shape(cols)[-2:]), 0)
    square = slice_axis(slice_axis(cols, nd - 2, 0, size), nd - 1, 0, size)
    return fresh(_diag_last2(square), a)  # NumPy's is a read-only view; JAX's a new array


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: None = None) -> Any:
    """The sum along a diagonal (NumPy's accumulator dtype: int64 for int32)."""
    return sum(diagonal(a, offset, axis1, axis2), -1, dtype, out)


def diag(v: Any, k: int = 0) -> Any:
    """The `k` diagonal of a 2-d array, or a 2-d array with the 1-d `v` on its `k` diagonal."""
    v = asarray(v)
    if len(_shape(v)) == 2:
        return diagonal(v, k)
    if len(_shape(v)) != 1:
        raise ShapeError(f"diag takes a 1-d or 2-d array, got shape {_shape(v)}{user_line()}")
    n = _shape(v)[0] + abs(k)
    line = lax.pad(v, np.zeros((), get_aval(v).dtype), ((0, abs(k), 0),))
    line = lax.reshape(line, (n, 1) if k >= 0 else (1, n))
    return where(np.eye(n, k=k, dtype=bool), line, np.zeros((), get_aval(v).dtype))


def _tri_mask(m: Any, k: int, upper: bool) -> Any:
    m = asarray(m)
    n, c = _shape(m)[-2:]
    mask = np.tri(n, c, k - 1 if upper else k, dtype=bool)
    return where(~mask if upper else mask, m, np.zeros((), get_aval(m).dtype))


def tril(m: Any, k: int = 0) -> Any:
    """`m` with the elements above the `k` diagonal zeroed (last two axes)."""
    return _tri_mask(m, k, upper=False)


def triu(m: Any, k: int = 0) -> Any:
    """`m` with the elements below the `k` diagonal zeroed (last two axes)."""
    return _tri_mask(m, k, upper=True)


# ------------------------------------------------------------------ einsum


def _parse(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> tuple[list[str], str]:
    """Input and output terms with '...' replaced by private labels (right-aligned, as
    broadcasting aligns them) and the implicit output made explicit."""
    subscripts = subscripts.replace(" ", "")
    lhs, arrow, out = subscripts.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ArgumentError(f"einsum: {len(terms)} operand terms in {subscripts!r} for "
                         f"{len(shapes)} operands")
    n_ell = max((len(s) - len(t) + 3 for t, s in zip(terms, shapes) if "..." in t), default=0)
    ell = "".join(chr(0x100 + i) for i in range(n_ell))
    expanded = []
    for t, s in zip(terms, shapes):
        k = len(s) - len(t) + 3
        if "..." in t and k >= 0:
            t = t.replace("...", ell[n_ell - k:])
        if len(t) != len(s) or not all(c.isalpha() for c in t):
            raise ArgumentError(f"einsum: term {t!r} does not fit an operand of shape {s}")
        expanded.append(t)
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = {c: "".join(expanded).count(c) for c in "".join(expanded) if c not in ell}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    if len(set(out)) != len(out) or any(c not in "".join(expanded) for c in out):
        raise ArgumentError(f"einsum: output {out!r} must list distinct labels of the inputs")
    return expanded, out


def _take_diagonals(x: Any, term: str) -> tuple[Any, str]:
    """Collapse a label repeated within one term to its diagonal (e.g. 'ii' -> 'i')."""
    while len(set(term)) != len(term):
        c = next(c for c in term if term.count(c) > 1)
        i = term.index(c)
        j = term.index(c, i + 1)
        x = _diag_last2(moveaxis(x, (i, j), (-2, -1)))
        term = "".join(t for k, t in enumerate(term) if k not in (i, j)) + c
    return x, term


def _sum_out(x: Any, term: str, keep: set[str]) -> tuple[Any, str]:
    axes = tuple(i for i, c in enumerate(term) if c not in keep)
    return (lax.reduce_sum(x, axes) if axes else x), "".join(c for c in term if c in keep)


def _broadcast_labels(x: Any, term: str, sizes: dict[str, int]) -> Any:
    """Stretch size-1 axes to the size their label has elsewhere (broadcasting)."""
    target = tuple(sizes[c] for c in term)
    return x if _shape(x) == target else broadcast_to(x, target)


def _label(k: Any) -> str:
    if k is Ellipsis:
        return "..."
    if isinstance(k, (int, np.integer)) and 0 <= k < 52:
        return string.ascii_letters[k]
    raise ArgumentError(f"einsum: a sublist holds integers 0..51 and Ellipsis, got {k!r}")


def _from_sublists(*args: Any) -> tuple[str, tuple[Any, ...]]:
    """NumPy's interleaved form `einsum(a, [0, 1], b, [1, 2], [0, 2])` as
    `('ab,bc->ac', (a, b))`."""
    out = args[-1] if len(args) % 2 else None
    pairs = args[:-1] if len(args) % 2 else args
    terms = ",".join("".join(map(_label, sub)) for sub in pairs[1::2])
    arrow = "" if out is None else "->" + "".join(map(_label, out))
    return terms + arrow, tuple(pairs[0::2])


def einsum(subscripts: Any, /, *operands: Any, out: None = None, optimize: Any = "auto",
           precision: Any = None, preferred_element_type: Any = None,
           out_sharding: Any = None) -> Any:
    """Einstein summation, e.g. `einsum('bij,bjk->bik', a, b)`, with '->' or the implicit
    output (labels seen once, sorted), '...' for broadcast axes and repeated labels for
    diagonals; or NumPy's interleaved form `einsum(a, [0, 1], b, [1, 2], [0, 2])`.
    Operands are contracted pairwise from left to right with `dot_general`.

    >>> einsum('ij,jk', np.eye(2), np.ones((2, 3))).shape
    (2, 3)
    """
    del optimize  # contraction order is always left to right
    if out is not None:
        check_no_out("einsum", out)
    if out_sharding is not None:
        check_one_device("einsum", out_sharding=out_sharding)
    if not isinstance(subscripts, str):
        subscripts, operands = _from_sublists(subscripts, *operands)
    if not operands:
        raise ArgumentError("einsum needs at least one operand")
    operands = _operands(*operands, precision=precision,
                         preferred_element_type=preferred_element_type)
    terms, out_labels = _parse(subscripts, [_shape(x) for x in operands])
    sizes: dict[str, int] = {}
    for t, x in zip(terms, operands):
        for c, d in zip(t, _shape(x)):
            if sizes.get(c, 1) == 1:
                sizes[c] = d
            elif d not in (1, sizes[c]):
                raise ShapeError(f"einsum: label {c!r} has sizes {sizes[c]} and {d}"
                                 f"{user_line()}")
    ops = []
    for k, (x, t) in enumerate(zip(operands, terms)):
        x, t = _take_diagonals(x, t)
        later = set(out_labels).union(*terms[:k], *terms[k + 1:])
        ops.append(_sum_out(x, t, later))
    x, xt = ops[0]
    for k, (y, yt) in enumerate(ops[1:], start=1):
        keep = set(out_labels).union(*(t for _, t in ops[k + 1:]))
        x, xt = _sum_out(x, xt, keep | set(yt))
        y, yt = _sum_out(y, yt, keep | set(xt))
        x, y = _broadcast_labels(x, xt, sizes), _broadcast_labels(y, yt, sizes)
        batch = [c for c in xt if c in yt and c in keep]
        contract = [c for c in xt if c in yt and c not in keep]
        dims = ((tuple(xt.index(c) for c in contract), tuple(yt.index(c) for c in contract)),
                (tuple(xt.index(c) for c in batch), tuple(yt.index(c) for c in batch)))
        x = lax.dot_general(x, y, dims)
        xt = ("".join(batch) + "".join(c for c in xt if c not in yt)
              + "".join(c for c in yt if c not in xt))
    x, xt = _sum_out(x, xt, set(out_labels))
    x = _broadcast_labels(x, xt, sizes)
    return lax.transpose(x, tuple(xt.index(c) for c in out_labels))


__all__ = ["diag", "diagonal", "dot", "einsum", "inner", "matmul", "outer", "tensordot",
           "trace", "tril", "triu", "vdot", "vecdot"]
