"""Reverse mode as transposition: walk a linear jaxpr backwards, accumulating cotangents.

Every equation that touches a linear input is linear in it; its primitive's `transpose`
rule maps the output cotangent to cotangents of its linear inputs, which arrive marked as
`UndefinedPrimal`. Equations that touch no linear input are evaluated forward first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.ir import ClosedJaxpr, Jaxpr, ShapedArray, Var
from fnad.core.primitive import Zero
from fnad.core.trace import state
from fnad.interpreters import ad_util
from fnad.interpreters.staging import trace_to_jaxpr


class UndefinedPrimal:
    """A linear input of a transpose rule: only its aval is known."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"UndefinedPrimal({self.aval})"


def is_undefined(x: Any) -> bool:
    return type(x) is UndefinedPrimal


def add_cotangents(a: Any, b: Any) -> Any:
    if a is None or type(a) is Zero:
        return b
    if b is None or type(b) is Zero:
        return a
    return ad_util.add(_instantiate_ones(a), _instantiate_ones(b))


class Ones:
    """grad's seed cotangent (a scalar 1), kept symbolic through the transposes that map
    ones to ones, so that the backward pass never multiplies by it."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval


def _is_seed_one(ct: Any) -> bool:
    return (isinstance(ct, (np.ndarray, np.generic)) and ct.shape == ()
            and ct.dtype.kind in "fc" and ct == 1)


def _instantiate_ones(ct: Any) -> Any:
    if type(ct) is not Ones:
        return ct
    one = np.ones((), ct.aval.dtype)
    if not ct.aval.shape:
        return one
    return ad_util.broadcast_in_dim(one, ct.aval.shape, ())


def ones_to_first_operand(ct: Ones, *ins: Any, **params: Any) -> list[Any] | None:
    """A `transpose_ones` rule of the linear maps that send an all-ones cotangent to an
    all-ones cotangent of their first operand (reshape, transpose, reduce_sum...)."""
    if is_undefined(ins[0]) and not any(is_undefined(x) for x in ins[1:]):
        return [Ones(ins[0].aval)] + [None] * (len(ins) - 1)
    return None


def backward_pass(jaxpr: Jaxpr, consts: Sequence[Any], args: Sequence[Any],
                  cts_out: Sequence[Any], transpose_of: Callable[..., Any] | None = None
                  ) -> list[Any]:
    """Cotangents of the `UndefinedPrimal` entries of `args` (Zero where none arrives).

    `transpose_of(eqn, linear, env, ct)`, when given, may return a faster way to transpose
    one equation: (linear input positions, defined input positions, a program of the
    defined inputs and `ct` giving the cotangents); None takes the equation's rule.
    """
    env: dict[Var, Any] = dict(zip(jaxpr.constvars, consts))
    linear: set[Var] = set()
    for v, a in zip(jaxpr.invars, args):
        if type(a) is UndefinedPrimal:
            linear.add(v)
        else:
            env[v] = a

    saved = state.source_info
    try:
        linear_eqns = []
        for eqn in jaxpr.eqns:
            for x in eqn.inputs:
                if x in linear:  # a Literal is never in it
                    linear_eqns.append(eqn)
                    linear.update(eqn.outputs)
                    break
            else:
                state.source_info = eqn.source_info
                out = eqn.prim.bind(*(env[x] if type(x) is Var else x.value
                                      for x in eqn.inputs), **eqn.params)
                env.update(zip(eqn.outputs, out if eqn.prim.multiple_results else [out]))

        cts: dict[Var, Any] = {}

        def accumulate(v: Any, ct: Any) -> None:
            if v in linear and ct is not None and type(ct) is not Zero:
                cts[v] = add_cotangents(cts.get(v), ct)

        for v, ct in zip(jaxpr.outvars, cts_out):
            accumulate(v, Ones(v.aval) if _is_seed_one(ct) else ct)
        for eqn in reversed(linear_eqns):
            prim = eqn.prim
            if prim.multiple_results:
                ct_outs = [cts.pop(v, None) for v in eqn.outputs]
                if all(ct is None for ct in ct_outs):
                    continue
                ct_arg: Any = [Zero(v.aval) if c is None else c
                               for v, c in zip(eqn.outputs, ct_outs)]
            else:
                ct_arg = cts.pop(eqn.outputs[0], None)
                if ct_arg is None:
                    continue
                if transpose_of is not None:
                    inputs = eqn.inputs
                    transpose = transpose_of(eqn, linear, env, ct_arg)
                    if transpose is not None:
                        _, defined_at, program = transpose
                        state.source_info = eqn.source_info
                        vals = [env[x] if type(x) is Var else x.value
                                for x in (inputs[i] for i in defined_at)]
                        for i, ct in zip(program.mask, program.run(*vals, ct_arg)):
                            x = inputs[i]
                            prev = cts.get(x)
                            cts[x] = ct if prev is None else add_cotangents(prev, ct)
                        continue
            if prim.transpose is None:
                raise prim.missing_rule("reverse-mode differentiation (transpose)")
            state.source_info = eqn.source_info
            ins = [UndefinedPrimal(x.aval) if x in linear else
                   env[x] if type(x) is Var else x.value for x in eqn.inputs]
            ct_ins = (prim.transpose_ones(ct_arg, *ins, **eqn.params)
                      if type(ct_arg) is Ones and prim.transpose_ones is not None else None)
            if ct_ins is None:
                ct_arg = ([_instantiate_ones(c) for c in ct_arg] if prim.multiple_results
                          else _instantiate_ones(ct_arg))
                ct_ins = prim.transpose(ct_arg, *ins, **eqn.params)
            for x, ct in zip(eqn.inputs, ct_ins):
                accumulate(x, ct)
    finally:
        state.source_info = saved
    return [_instantiate_ones(cts.get(v, Zero(v.aval))) if type(a) is UndefinedPrimal else None
            for v, a in zip(jaxpr.invars, args)]


def pull_back(lin: Any, cts: Sequence[Any]) -> list[Any]:
    """Reverse mode through a `Linearized` (from `linearize_flat`): the cotangent of every
    input (a `Zero` for those without a derivative) for the cotangents `cts` of the
    outputs that have one (`lin.out_mask`)."""
    args = [UndefinedPrimal(a) for a, m in zip(lin.in_avals, lin.in_mask) if m]
    hook = lin.transposer() if lin.transposer is not None else None
    ct_in = iter(backward_pass(lin.jaxpr.jaxpr, lin.jaxpr.consts, args, cts, hook))
    return [next(ct_in) if m else Zero(a) for a, m in zip(lin.in_avals, lin.in_mask)]


def transpose_jaxpr(closed: ClosedJaxpr, linear: Sequence[bool]) -> ClosedJaxpr:
    """The jaxpr (non-linear inputs, output cotangents) -> cotangents of the linear inputs."""
    from fnad.interpreters.jvp import instantiate

    in_avals = closed.in_avals
    fixed_avals = [a for a, lin in zip(in_avals, linear) if not lin]

    def f(*args: Any) -> list[Any]:
        fixed, cts_out = iter(args[:len(fixed_avals)]), args[len(fixed_avals):]
        ins = [UndefinedPrimal(a) if lin else next(fixed) for a, lin in zip(in_avals, linear)]
        cts = backward_pass(closed.jaxpr, closed.consts, ins, cts_out)
        return [instantiate(ct) for ct, lin in zip(cts, linear) if lin]

    return trace_to_jaxpr(f, fixed_avals + list(closed.out_avals))
