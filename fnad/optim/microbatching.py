"""`microbatch`: evaluate a function over a large batch in slices of `microbatch_size` and
combine the results (sum, mean, running mean or concatenation), so the memory a step needs
is that of one slice. The slices are a `scan`, so the result stays differentiable.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.api import value_and_grad, vmap
from fnad.optim.errors import OptimizerArgumentError, OptimizerTypeError
from fnad.optim.numerics import dtype_of
from fnad.tree import tree_leaves, tree_map


@dataclasses.dataclass(frozen=True)
class Accumulator:
    """How to combine one leaf of the per-microbatch outputs: `init(first_value)`,
    `update(carry, value, index)`, `finalize(carry)`; `aggregate(values)` reduces a
    leading batch axis the same way (`micro_vmap` needs it)."""

    init: Callable[[Any], Any]
    update: Callable[[Any, Any, Any], Any]
    finalize: Callable[[Any], Any]
    aggregate: Callable[[Any], Any] | None = None


class AccumulationType(enum.Enum):
    """The built-in ways to combine microbatch outputs."""

    MEAN = enum.auto()
    SUM = enum.auto()
    RUNNING_MEAN = enum.auto()
    CONCAT = enum.auto()


def _floating(value: Any, kind: str) -> Any:
    if not np.issubdtype(dtype_of(value), np.floating):
        raise OptimizerTypeError(f"microbatch: the {kind} accumulator needs floating-point outputs, got "
                        f"{dtype_of(value)}")
    return fnp.zeros_like(value)


def _accumulator(kind: Any, n: int) -> Accumulator:
    if isinstance(kind, Accumulator):
        return kind
    if kind is AccumulationType.SUM:
        return Accumulator(fnp.zeros_like, lambda c, v, i: c + v, lambda c: c)
    if kind is AccumulationType.MEAN:
        return Accumulator(lambda v: _floating(v, "MEAN"), lambda c, v, i: c + v,
                           lambda c: c / n)
    if kind is AccumulationType.RUNNING_MEAN:
        return Accumulator(lambda v: _floating(v, "RUNNING_MEAN"),
                           lambda c, v, i: c + (v - c) / (fnp.asarray(i, dtype_of(c)) + 1),
                           lambda c: c)
    if kind is AccumulationType.CONCAT:
        return Accumulator(lambda v: fnp.zeros((n,) + tuple(fnp.shape(v)), dtype_of(v)),
                           lambda c, v, i: fnp.at(c)[i].set(v),
                           lambda c: fnp.reshape(c, (-1,) + tuple(fnp.shape(c))[2:], order="F"))
    raise OptimizerArgumentError(f"microbatch: unknown accumulator {kind!r}; use an AccumulationType")


def _split(x: Any, size: int, axis: int) -> Any:
    """`x` with its batch axis split into (microbatches, size) and moved first; microbatch i
    holds examples i, i + n, i + 2n, ... (as optax slices them)."""
    x = fnp.moveaxis(fnp.asarray(x), axis, 0)
    n = fnp.shape(x)[0] // size
    return fnp.swapaxes(fnp.reshape(x, (size, n) + tuple(fnp.shape(x))[1:]), 0, 1)


def microbatch(fun: Callable[..., Any], argnums: int | Sequence[int], microbatch_size: int | None,
               accumulator: Any = AccumulationType.SUM, *, argnames: str | Sequence[str] = (),
               in_axes: int | Sequence[int] = 0, num_real_microbatches: Any = None
               ) -> Callable[..., Any]:
    """`fun` evaluated on slices of `microbatch_size` examples of its batch arguments
    (`argnums`, `argnames`, batched along `in_axes`), the outputs combined by `accumulator`
    (an `AccumulationType` or a pytree of them that is a prefix of the output). With
    `num_real_microbatches`, only that many leading slices count (the rest is padding).

    >>> f = microbatch(lambda x: fnp.sum(x), 0, 2)
    >>> float(f(np.arange(6.0)))
    15.0
    """
    if microbatch_size is None:
        return fun
    signature = inspect.signature(fun)
    argnums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    argnames = (argnames,) if isinstance(argnames, str) else tuple(argnames)
    axes = (in_axes,) * (len(argnums) + len(argnames)) if isinstance(in_axes, int) \
        else tuple(in_axes)

    def microbatched(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        args, kwargs = list(bound.args), dict(bound.kwargs)
        batched = [(i, a) for i, a in zip(argnums, axes)] + \
            [(k, a) for k, a in zip(argnames, axes[len(argnums):])]
        get = lambda key: args[key] if isinstance(key, int) else kwargs[key]
        sizes = {fnp.shape(x)[a] for key, a in batched for x in tree_leaves(get(key))}
        if len(sizes) != 1:
            raise OptimizerArgumentError(f"microbatch: batch arguments must share one batch size, got "
                             f"{sorted(sizes)}")
        (size,) = sizes
        if size % microbatch_size:
            raise OptimizerArgumentError(f"microbatch: batch size {size} is not divisible by "
                             f"microbatch_size {microbatch_size}")
        n = size // microbatch_size
        xs = [tree_map(lambda x, a=a: _split(x, microbatch_size, a), get(key))
              for key, a in batched]

        def call(parts: list) -> Any:
            new_args, new_kwargs = list(args), dict(kwargs)
            for (key, a), part in zip(batched, parts):
                part = tree_map(lambda x, a=a: fnp.moveaxis(x, 0, a), part)
                if isinstance(key, int):
                    new_args[key] = part
                else:
                    new_kwargs[key] = part
            return fun(*new_args, **new_kwargs)

        is_acc = lambda x: isinstance(x, (AccumulationType, Accumulator))
        first = call([tree_map(lambda x: x[0], x) for x in xs])
        accs = tree_map(lambda kind: _accumulator(kind, n), accumulator, is_leaf=is_acc)
        if isinstance(accs, Accumulator):
            accs = tree_map(lambda _: accs, first)
        # `accumulator` may be a prefix of the output: each one covers a subtree's leaves.
        over = lambda f, *trees: tree_map(
            lambda acc, *subs: tree_map(lambda *leaves: f(acc, *leaves), *subs), accs, *trees,
            is_leaf=lambda x: isinstance(x, Accumulator))

        def step(carry: Any, index: Any, out: Any) -> Any:
            new = over(lambda acc, c, v: acc.update(c, v, index), carry, out)
            if num_real_microbatches is None:
                return new
            return tree_map(lambda a, b: fnp.where(index < num_real_microbatches, a, b),
                            new, carry)

        def body(carry: Any, item: tuple) -> tuple:
            index, parts = item
            return step(carry, index, call(list(parts))), None

        carry = step(over(lambda acc, v: acc.init(v), first), np.int32(0), first)
        if n > 1:
            rest = tuple(tree_map(lambda x: x[1:], x) for x in xs)
            carry, _ = lax.scan(body, carry, (np.arange(1, n, dtype=np.int32), rest))
        return over(lambda acc, c: acc.finalize(c), carry)

    return microbatched


def reshape_batch_axis(tree: Any, microbatch_size: int, axis: int = 0) -> Any:
    """Every leaf with its batch `axis` split into `(num_microbatches, microbatch_size)` in
    column-major order, so microbatch i holds examples i, i + n, ... (as `microbatch`
    slices them)."""
    def split(x: Any) -> Any:
        shape = tuple(fnp.shape(x))
        return fnp.reshape(x, shape[:axis] + (-1, microbatch_size) + shape[axis + 1:], order="F")

    return tree_map(split, tree)


def _aggregate(kind: Any, values: Any) -> Any:
    """Reduce the leading batch axis of `values` as accumulating them one by one would."""
    if isinstance(kind, Accumulator):
        if kind.aggregate is None:
            raise OptimizerArgumentError("micro_vmap: a custom Accumulator needs `aggregate`, "
                                         "the reduction of a batch axis")
        return tree_map(kind.aggregate, values)
    if kind is AccumulationType.CONCAT:
        return values
    if kind is AccumulationType.SUM:
        return tree_map(lambda v: fnp.sum(v, axis=0), values)
    for v in tree_leaves(values):
        _floating(v, kind.name)  # MEAN and RUNNING_MEAN average: floats only
    return tree_map(lambda v: fnp.mean(v, axis=0), values)


def micro_vmap(fun: Callable[..., Any], in_axes: int | Sequence[int | None] = 0,
               out_axes: int = 0, *, microbatch_size: int | None = None,
               vmap_fn: Callable[..., Any] | None = None,
               accumulator: Any = AccumulationType.CONCAT,
               num_real_microbatches: Any = None) -> Callable[..., Any]:
    """`vmap(fun, in_axes)` run `microbatch_size` examples at a time, its outputs combined
    by `accumulator` (CONCAT: stacked as `vmap` stacks them; SUM, MEAN: reduced over the
    batch). Keyword arguments are mapped along their leading axis, as `vmap` maps them.

    >>> micro_vmap(lambda x: x ** 2, microbatch_size=2)(np.arange(4.0))
    array([0., 1., 4., 9.])
    """
    if out_axes != 0:
        raise OptimizerArgumentError(f"micro_vmap: out_axes must be 0, got {out_axes!r}")
    axes = (in_axes,) if isinstance(in_axes, int) else tuple(in_axes)
    vmap_fn = vmap_fn or vmap
    is_acc = lambda x: isinstance(x, (AccumulationType, Accumulator))

    def vmapped(*args: Any, kwargs: dict) -> Any:
        out = vmap_fn(lambda *a: fun(*a[:-1], **a[-1]), (*axes, 0))(*args, kwargs)
        if is_acc(accumulator):
            return _aggregate(accumulator, out)
        return tree_map(_aggregate, accumulator, out, is_leaf=is_acc)

    batched = tuple(i for i, a in enumerate(axes) if a is not None)
    run = microbatch(vmapped, batched, microbatch_size, accumulator, argnames="kwargs",
                     in_axes=tuple(axes[i] for i in batched) + (0,),
                     num_real_microbatches=num_real_microbatches)
    return lambda *args, **kwargs: run(*args, kwargs=kwargs)


class IndividualOutputs(NamedTuple):
    """What `micro_grad` returns per example besides the combined gradient."""

    values: Any
    metrics: Any
    aux: Any


def micro_grad(fun: Callable[..., Any], has_aux: bool = False,
               argnums: int | Sequence[int] = 0, *, batch_argnums: int | Sequence[int] = 1,
               keep_batch_dim: bool = True, microbatch_size: int | None = None,
               accumulator: Any = AccumulationType.SUM,
               transform_fn: Callable[[Any], Any] = lambda g: g,
               metrics_fn: Callable[[Any], Any] = lambda g: None,
               num_real_microbatches: Any = None) -> Callable[..., Any]:
    """Per-example gradients of `fun`, each passed through `transform_fn` and combined by
    `accumulator`, computed `microbatch_size` examples at a time. Returns `(combined,
    IndividualOutputs(values, metrics_fn(grads), aux))`, the last per example. With
    `keep_batch_dim`, `fun` sees each example with a batch axis of size 1.
    """
    batch_argnums = (batch_argnums,) if isinstance(batch_argnums, int) else tuple(batch_argnums)
    with_aux = fun if has_aux else lambda *a, **k: (fun(*a, **k), None)
    value_and_grad_fn = value_and_grad(with_aux, argnums, has_aux=True)

    def grad_fn(*args: Any, **kwargs: Any) -> tuple:
        if keep_batch_dim:
            args = tuple(tree_map(lambda x: fnp.expand_dims(x, 0), a) if i in batch_argnums
                         else a for i, a in enumerate(args))
        (value, aux), grad = value_and_grad_fn(*args, **kwargs)
        return transform_fn(grad), IndividualOutputs(value, metrics_fn(grad), aux)

    in_axes = [0 if i in batch_argnums else None for i in range(max(batch_argnums) + 1)]
    return micro_vmap(grad_fn, in_axes, microbatch_size=microbatch_size,
                      accumulator=(accumulator, AccumulationType.CONCAT),
                      num_real_microbatches=num_real_microbatches)
