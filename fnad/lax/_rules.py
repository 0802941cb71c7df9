"""Factories that keep a primitive's registration to a few lines.

`elementwise` makes an n-ary elementwise primitive (operands of equal shape, or rank-0
scalars that broadcast); `defjvp` takes one derivative per operand, written as short as the
math; `deflinear` marks a primitive linear in its operand. Shared helpers for rules live
here too (`unbroadcast`, `to_aval`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.errors import DTypeError, ShapeError
from fnad.core.ir import Eqn, Literal, ShapedArray, get_aval
from fnad.core.primitive import Elementwise, KernelRule, Primitive, Zero
from fnad.interpreters.transpose import is_undefined

FLOAT = "fc"
REAL = "f"  # primitives whose values or rules are not complex-correct
NUMBER = "fciu"
REAL_NUMBER = "fiu"
INTEGER = "iu"
BOOL_OR_INT = "biu"
ANY = "fciub"

_KIND_NAMES = {"f": "float", "c": "complex", "i": "signed int", "u": "unsigned int",
               "b": "bool"}


def _kinds(kinds: str) -> str:
    return " or ".join(_KIND_NAMES[k] for k in kinds)


def elementwise_shape(*avals: ShapedArray) -> tuple[int, ...]:
    """The common shape of elementwise operands: equal shapes, rank-0 ones broadcast."""
    shape: tuple[int, ...] = ()
    for a in avals:
        if a.shape and a.shape != shape:
            if shape:
                raise ShapeError(f"shapes {', '.join(str(b) for b in avals)} must be equal "
                                 "(or rank 0); use fnad.numpy for broadcasting")
            shape = a.shape
    return shape


def check_dtypes(avals: Sequence[ShapedArray], kinds: str) -> np.dtype:
    dtype = avals[0].dtype
    for a in avals:
        if a.dtype != dtype:
            raise DTypeError(f"dtypes {', '.join(str(b.dtype) for b in avals)} must be equal; "
                             "convert with fnad.lax.convert_element_type (fnad.numpy "
                             "promotes automatically)")
    if dtype.kind not in kinds:
        if dtype.kind == "c" and "f" in kinds:
            raise DTypeError(f"takes {_kinds(kinds)} operands, got {dtype}: its values or "
                             "derivatives would be wrong for complex numbers, which fnad does "
                             "not support there yet; work on the real and imaginary parts as "
                             "separate float arrays")
        raise DTypeError(f"takes {_kinds(kinds)} operands, got {dtype}")
    return dtype


def elementwise_batch(prim: Primitive) -> Callable[..., Any]:
    """Batch rule of an elementwise primitive: a batched operand keeps its axis when the
    others are unbatched scalars or share it; otherwise all move the batch axis to 0."""

    def rule(axis_size: int, vals: Sequence[Any], dims: Sequence[int | None], **params: Any):
        from fnad.interpreters.batching import moveaxis
        from fnad.lax.structural import broadcast_in_dim

        avals = [get_aval(v) for v in vals]
        ranks = [a.ndim - (d is not None) for a, d in zip(avals, dims)]
        out_rank = max(ranks)
        bd = next(d for d in dims if d is not None)
        if all((d == bd and r == out_rank) if d is not None else r == 0
               for d, r in zip(dims, ranks)):
            return prim.bind(*vals, **params), bd
        i = ranks.index(out_rank)
        shape = list(avals[i].shape)
        if dims[i] is not None:
            del shape[dims[i]]
        full = (axis_size, *shape)
        new = []
        for v, d, r in zip(vals, dims, ranks):
            if d is None:
                new.append(v if r == 0 else broadcast_in_dim(v, full, tuple(range(1, r + 1))))
            elif r == out_rank:
                new.append(moveaxis(v, d, 0, axis_size))
            else:
                new.append(broadcast_in_dim(v, full, (0,)))
        return prim.bind(*new, **params), 0

    return rule


def elementwise(name: str, impl: Callable[..., Any], kinds: str = NUMBER, *,
                out_dtype: Any = None, kernel: str | KernelRule | None = None) -> Primitive:
    """An elementwise primitive: impl, abstract eval, batch rule and kernel rule.

    `kernel` is an `Elementwise` rule, e.g. `Elementwise("sin{f}({0})", ufunc=np.sin)`, or
    just its C expression (`{0}`, `{1}`... operands, `{f}` the float32 suffix: `sinf(a)`
    / `sin(a)`); without one the primitive is elementwise but runs its impl (never fused).
    """
    prim = Primitive(name)
    prim.def_impl(impl)

    def abstract_eval(*avals: ShapedArray, **params: Any) -> ShapedArray:
        shape = elementwise_shape(*avals)
        dtype = check_dtypes(avals, kinds)
        return ShapedArray(shape, dtype if out_dtype is None else out_dtype)

    prim.def_abstract_eval(abstract_eval)
    prim.def_batch(elementwise_batch(prim))
    prim.kernel = (Elementwise(kernel) if isinstance(kernel, str) else
                   kernel if kernel is not None else Elementwise(fusable=False))
    return prim


def to_aval(x: Any, aval: ShapedArray) -> Any:
    """Broadcast a rank-0 contribution up to `aval`'s shape (elementwise results)."""
    if get_aval(x).shape == aval.shape:
        return x
    from fnad.lax.structural import broadcast_in_dim
    return broadcast_in_dim(x, aval.shape, ())


def unbroadcast(ct: Any, aval: ShapedArray) -> Any:
    """Sum a cotangent down to a rank-0 operand's shape (transpose of `to_aval`)."""
    if get_aval(ct).shape == aval.shape:
        return ct
    from fnad.lax.reduction import reduce_sum
    return reduce_sum(ct, tuple(range(get_aval(ct).ndim)))


def defjvp(prim: Primitive, *rules: Callable[..., Any] | None) -> None:
    """One rule per operand: `rule(g, ans, *primals, **params)` is that operand's
    contribution to the output tangent; `None` marks an operand with no derivative."""

    def jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any):
        ans = prim.bind(*primals, **params)
        aval = get_aval(ans)
        out = None
        for rule, t in zip(rules, tangents):
            if rule is None or type(t) is Zero:
                continue
            contribution = to_aval(rule(t, ans, *primals, **params), aval)
            out = contribution if out is None else add_tangents(out, contribution)
        return ans, Zero(aval) if out is None else out

    prim.def_jvp(jvp)


def defjvp_zero(prim: Primitive) -> None:
    """The primitive's output does not depend differentiably on its operands."""

    def jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any):
        ans = prim.bind(*primals, **params)
        if prim.multiple_results:
            return ans, [Zero(get_aval(a)) for a in ans]
        return ans, Zero(get_aval(ans))

    prim.def_jvp(jvp)


def deflinear(prim: Primitive, transpose: Callable[..., Any]) -> None:
    """A primitive linear in every operand: its jvp applies it to the tangents, and
    `transpose(ct, *args, **params)` returns one cotangent per operand."""

    def jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any):
        from fnad.interpreters.jvp import instantiate
        ans = prim.bind(*primals, **params)
        return ans, prim.bind(*(instantiate(t) for t in tangents), **params)

    prim.def_jvp(jvp)
    prim.def_transpose(transpose)


# ---------------------------------------------------------------------------- simplification
# Helpers for `Primitive.simplify` rules: `rule(eqn, producer, uses)` returns an atom that
# replaces the equation's output, a rewritten equation, or None (keep it).

def is_literal(a: Any, value: float) -> bool:
    """`a` is a literal equal to `value` everywhere."""
    return type(a) is Literal and bool(np.all(np.asarray(a.value) == value))


def same_aval(eqn: Eqn, a: Any) -> bool:
    """`a` could stand for the equation's single output (same shape, dtype)."""
    return len(eqn.outputs) == 1 and a.aval == eqn.outputs[0].aval


def identity_operand(*identities: tuple[int, float]) -> Callable[..., Any]:
    """A simplify rule: the output is operand i when operand j is the literal `value`
    (`(i, j)` pairs with their value, e.g. x * 1 -> x)."""

    def rule(eqn: Eqn, producer: Any, uses: Any) -> Any:
        for (keep, lit), value in identities:
            if is_literal(eqn.inputs[lit], value) and same_aval(eqn, eqn.inputs[keep]):
                return eqn.inputs[keep]
        return None

    return rule


def add_tangents(a: Any, b: Any) -> Any:
    from fnad.lax.elementwise import add_p
    return add_p.bind(a, b)


__all__ = ["identity_operand", "is_literal", "same_aval", "elementwise", "defjvp", "defjvp_zero", "deflinear", "unbroadcast", "to_aval",
           "is_undefined", "elementwise_shape", "check_dtypes", "elementwise_batch",
           "FLOAT", "NUMBER", "INTEGER", "BOOL_OR_INT", "ANY"]
