"""Eager differentiation with each primitive's rules traced once per signature: the fast
path `fnad.eager` chooses for `linearize`, `vjp` and `grad` of eager NumPy code.

`linearize` (and so `vjp` and `grad`) of eager code runs `jvp` under partial evaluation:
every operation dispatches through three traces and stages its tangent equations one by
one, then the backward pass runs a transpose rule per equation. On NumPy arrays, what a
rule does depends only on the primitive, its params, its operands' avals and which operands
carry tangents (or are linear). So each is traced once per such signature into a jaxpr:

- `LinearizeTrace` traces the jvp rule and splits it with `partial_eval_jaxpr`; afterwards
  it calls the implementations of the known part directly and copies the linear equations
  into the linear jaxpr being built;
- the transposes of those equations are traced with them (`transpose_of` traces others
  per signature); the backward pass, given `transpose_of` as its hook, then calls the
  implementations of that jaxpr directly.

Everything else takes the general way: control flow and custom rules (their params hold
functions), tracers of enclosing transforms, CuPy arrays, and runs with `debug_nans` on.
Derived rules are cached by signature and `RULES_VERSION` (a redefined rule is used at
once); a signature whose rule cannot be derived is counted in `FALLBACKS`.
"""

from __future__ import annotations

import collections
import functools
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core import cache
from fnad.core.cache import Cache
from fnad.core.errors import current_source_info
from fnad.core.ir import ClosedJaxpr, Eqn, ShapedArray, Var, get_aval
from fnad.core.primitive import Zero
from fnad.core.trace import EvalTrace, state
from fnad.interpreters.jvp import JVPTrace, JVPTracer
from fnad.interpreters.partial_eval import partial_eval_jaxpr
from fnad.interpreters.staging import StagedTracer, trace_to_jaxpr
from fnad.interpreters.transpose import UndefinedPrimal

# (primitive name, exception type) -> how often deriving a rule failed and the general way
# ran instead: a derivation bug shows here instead of hiding as a slowdown
FALLBACKS: collections.Counter[tuple[str, str]] = collections.Counter()

_FILENAME = os.path.join(os.path.dirname(__file__), "<rule>")  # inside fnad: not a user line


class _Code:
    """Python source being generated, with the objects it names kept as its globals."""

    def __init__(self) -> None:
        self.scope: dict[str, Any] = {"copy": np.array}
        self.lines: list[str] = []
        self.names: dict[int, str] = {}  # id(Var) -> local name

    def global_(self, value: Any) -> str:
        name = f"g{len(self.scope)}"
        self.scope[name] = value
        return name

    def local(self, v: Var, prefix: str = "t") -> str:
        name = self.names[id(v)] = f"{prefix}{len(self.names)}"
        return name

    def atom(self, x: Any) -> str:
        return self.names[id(x)] if type(x) is Var else self.global_(x.value)

    def calls(self, closed: ClosedJaxpr, args: Sequence[str], indent: str) -> list[str]:
        """Implementation calls for `closed` with its invars named `args`; the outputs'
        expressions (a constant of the jaxpr is copied: callers never share it)."""
        jaxpr = closed.jaxpr
        for v, c in zip(jaxpr.constvars, closed.consts):
            self.names[id(v)] = self.global_(c)
        self.names.update((id(v), a) for v, a in zip(jaxpr.invars, args))
        for e in jaxpr.eqns:
            impl = e.prim.impls.get("numpy")
            if impl is None:
                raise _Unsupported
            fn = self.global_(functools.partial(impl, **e.params) if e.params else impl)
            ins = ", ".join(self.atom(x) for x in e.inputs)
            outs = ", ".join(self.local(v) for v in e.outputs)
            comma = "," if e.prim.multiple_results else ""
            self.lines.append(f"{indent}{outs}{comma} = {fn}({ins})")
        return [self.names[id(x)] if type(x) is Var and x not in jaxpr.constvars
                else f"copy({self.atom(x)})" for x in jaxpr.outvars]

    def function(self, args: Sequence[str]) -> Any:
        source = f"def run({', '.join(args)}):\n" + "\n".join(self.lines)
        exec(compile(source, _FILENAME, "exec"), self.scope)  # noqa: S102 -- our own code
        return self.scope["run"]


class Program:
    """A jaxpr of concrete work as a generated Python function of straight-line
    implementation calls (no dispatch and no eager checks: its avals were checked when it
    was traced). `program.run(*args)` returns the list of outputs."""

    __slots__ = ("run", "mask")

    def __init__(self, closed: ClosedJaxpr, mask: list[int]):
        code = _Code()
        args = [f"a{i}" for i in range(len(closed.jaxpr.invars))]
        outs = code.calls(closed, args, "    ")
        code.lines.append(f"    return [{', '.join(outs)}]")
        self.run = code.function(args)
        self.mask = mask  # for a transpose: the operands that get a cotangent


class _Unsupported(Exception):
    """The signature's linearization cannot be cached: use the general path."""


Transpose = tuple[list[int], list[int], "Program"]  # linear at, defined at, program


def _transpose_of(prim: Any, avals: list[ShapedArray], linear_in: list[bool],
                  ct_aval: ShapedArray, params: dict) -> Transpose | None:
    """The transpose rule at this signature, traced, or None for the general way (an error
    while tracing is left for the general way to raise, in its own words)."""
    if prim.multiple_results or prim.transpose is None or not any(linear_in):
        return None
    try:
        program = _transpose_program(prim, avals, linear_in, ct_aval, params)
    except Exception as e:  # noqa: BLE001 -- counted; the general way raises in its words
        FALLBACKS[prim.name, type(e).__name__] += 1
        return None
    return ([i for i, lin in enumerate(linear_in) if lin],
            [i for i, lin in enumerate(linear_in) if not lin], program)


def _linearize_rule(prim: Any, avals: list[ShapedArray], nonzero: Sequence[bool],
                    params: dict) -> Any:
    """One signature's linearization as a generated function
    `apply(trace, pe, *primals, *tangents)`: it runs the known part of the jvp rule
    (primals -> outputs and residuals), appends the linear equations (residuals, tangents
    -> output tangents) to `pe`'s jaxpr and returns the outputs as the trace's tracers."""
    n = len(avals)
    out_mask: list[bool] = []

    def jvp(*args: Any) -> list[Any]:
        ts = iter(args[n:])
        tangents = [next(ts) if nz else Zero(a) for a, nz in zip(avals, nonzero)]
        out, tout = prim.jvp(list(args[:n]), tangents, **params)
        if not prim.multiple_results:
            out, tout = [out], [tout]
        out_mask[:] = [t is not None and type(t) is not Zero for t in tout]
        return [*out, *(t for t, m in zip(tout, out_mask) if m)]

    t_avals = [a for a, nz in zip(avals, nonzero) if nz]
    closed = trace_to_jaxpr(jvp, avals + t_avals, transform="linearize")
    n_out, n_t = len(out_mask), sum(out_mask)
    known, linear, out_unknown, num_res = partial_eval_jaxpr(
        closed, [False] * n + [True] * len(t_avals),
        instantiate=[False] * n_out + [True] * n_t)
    if any(out_unknown[:n_out]):  # a primal output depends on a tangent
        raise _Unsupported

    code = _Code()
    code.scope.update(state=state, Var=Var, Eqn=Eqn, JVPTracer=JVPTracer,
                      StagedTracer=StagedTracer, current_source_info=current_source_info,
                      _tangent=_tangent)
    primals = [f"p{i}" for i in range(n)]
    tangents = [f"d{i}" for i in range(len(t_avals))]
    lines = code.lines
    lines += ["    saved = state.trace", "    state.trace = pe.parent", "    try:"]
    known_outs = code.calls(known, primals, "        ")
    lines += ["    finally:", "        state.trace = saved"]
    outs, residuals = known_outs[:n_out], known_outs[n_out:]
    jaxpr = linear.jaxpr
    lines.append("    const = pe.builder.const")
    atoms = [f"const({r})" for r in residuals]
    atoms += [f"{d}._var if type({d}) is StagedTracer and {d}._trace is pe else "
              f"pe.to_atom({d})" for d in tangents]
    for v, expr in zip(jaxpr.invars, atoms):
        lines.append(f"    {code.local(v, 'v')} = {expr}")
    if jaxpr.eqns:
        # skip this function and LinearizeTrace.process_primitive: the walk starts at bind
        lines += ["    info = state.source_info or current_source_info(skip=2)",
                  "    append = pe.builder.eqns.append", "    note = trace.transposes"]
    residuals_in = set(jaxpr.invars[:num_res])
    staged: set[Var] = set()  # eqn outputs: known to be variables
    for e in jaxpr.eqns:
        linear_in = [type(x) is Var and x not in residuals_in for x in e.inputs]
        staged.update(e.outputs)
        ins = ", ".join(code.names[id(x)] if type(x) is Var else code.global_(x)
                        for x in e.inputs)  # a Literal stays one
        for v in e.outputs:
            lines.append(f"    {code.local(v, 'v')} = Var({code.global_(v.aval)})")
        new_outs = ", ".join(code.names[id(v)] for v in e.outputs)
        transpose = _transpose_of(e.prim, [x.aval for x in e.inputs], linear_in,
                                  e.outputs[0].aval, e.params)
        lines.append(f"    eqn = Eqn({code.global_(e.prim)}, [{ins}], [{new_outs}], "
                     f"{code.global_(e.params)}, info)")
        lines.append("    append(eqn)")
        if transpose is not None:
            lines.append(f"    note[eqn] = {code.global_(transpose)}")
    touts = iter(f"StagedTracer(pe, {code.atom(x)})" if x in staged
                 else f"_tangent(pe, {code.atom(x)})" if type(x) is Var else code.atom(x)
                 for x in jaxpr.outvars)
    results = [f"JVPTracer(trace, {o}, {next(touts)}, {code.global_(a)})" if m else o
               for o, m, a in zip(outs, out_mask, known.out_avals)]
    lines.append(f"    return [{', '.join(results)}]" if prim.multiple_results
                 else f"    return {results[0]}")
    return code.function(["trace", "pe", *primals, *tangents])


def _tangent(pe: Any, atom: Any) -> Any:
    """A staged tangent for a jaxpr variable; the value itself for a literal."""
    return StagedTracer(pe, atom) if type(atom) is Var else atom.value


# signature -> its `_linearize_rule`, or None: the general way
_RULES = Cache(maxsize=20_000)
_NONE = object()


class LinearizeTrace(JVPTrace):
    """`JVPTrace` over a `PartialEvalTrace`, taking the cached way where it can. It notes
    the transpose traced with each linear equation it stages (`transposes`: eqn ->
    transpose) for the backward pass."""

    def __init__(self, parent: Any):
        super().__init__(parent)
        self.transposes: dict[Eqn, Transpose] = {}

    def process_primitive(self, prim: Any, args: tuple, params: dict) -> Any:
        pe = self.parent
        if (type(pe.parent) is not EvalTrace or EvalTrace.check_output is not None
                or prim.partial_eval is not None):
            return super().process_primitive(prim, args, params)
        key: list[Any] = [prim, cache.RULES_VERSION]
        primals, tangents = [], []
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
                if a.aval.weak_type:  # weak types: the general way
                    return super().process_primitive(prim, args, params)
                p = a.primal
                tangents.append(a.tangent)
                key.append(True)
            else:
                p = a
                key.append(False)
            if type(p) is not np.ndarray:
                return super().process_primitive(prim, args, params)
            primals.append(p)
            key += (p.shape, p.dtype)
        if not tangents:  # known values only: evaluate them (PartialEvalTrace.bind_known)
            saved = state.trace
            state.trace = pe.parent
            try:
                return pe.parent.process_primitive(prim, args, params)
            finally:
                state.trace = saved
        for name, v in params.items():
            if callable(v):  # sub-jaxprs and functions: rules that run user code
                return super().process_primitive(prim, args, params)
            key += (name, v)
        try:
            k = tuple(key)
            rule = _RULES.peek(k, _NONE)
        except TypeError:  # an unhashable param
            return super().process_primitive(prim, args, params)
        if rule is _NONE:
            rule = _RULES.put(k, _derive(prim, primals, key, params, pe))
        if rule is None:
            return super().process_primitive(prim, args, params)
        return rule(self, pe, *primals, *tangents)


def _derive(prim: Any, primals: list[np.ndarray], key: list[Any], params: dict,
            pe: Any) -> Any:
    """The rule for a signature, or None when it must take the general path (an error
    while deriving is left for the general path to raise, in its own words)."""
    if prim.effectful or prim.jvp is None:
        return None
    nonzero = [k is True for k in key[2:2 + 3 * len(primals):3]]
    saved = state.trace
    state.trace = pe.parent
    try:
        return _linearize_rule(prim, [get_aval(p) for p in primals], nonzero, params)
    except Exception as e:  # noqa: BLE001 -- counted; the general way raises in its words
        FALLBACKS[prim.name, type(e).__name__] += 1
        return None
    finally:
        state.trace = saved


_TRANSPOSES = Cache(maxsize=20_000)


def transposer(noted: dict[Eqn, Transpose]
               ) -> Callable[..., Transpose | None] | None:
    """The backward pass's hook (`transpose_of` over the transposes `noted` while
    linearizing), or None when a backward pass starting now must take the general way:
    cached rules apply only eagerly, without debug checks of each output."""
    if type(state.trace) is not EvalTrace or EvalTrace.check_output is not None:
        return None
    return functools.partial(transpose_of, noted)


def transpose_of(noted: dict[Eqn, Transpose], eqn: Eqn, linear: set[Var],
                 env: dict[Var, Any], ct: Any) -> Transpose | None:
    """How to transpose `eqn` eagerly, its inputs in `linear` being linear and the others
    read from `env`: the transpose traced with the equation when a cached linearization
    staged it (`noted`; its other inputs are residuals, never linear), else the one traced
    for this signature. None: the general way."""
    if type(ct) is not np.ndarray:
        return None
    inputs = eqn.inputs
    noted_transpose = noted.get(eqn)  # (Eqn hashes by identity)
    if noted_transpose is not None:
        for i in noted_transpose[0]:
            if inputs[i] not in linear:  # a tangent that was a known value
                break
        else:
            return noted_transpose
    linear_in = [x in linear for x in inputs]
    prim = eqn.prim
    key: list[Any] = [prim, cache.RULES_VERSION, ct.shape, ct.dtype]
    avals = []
    for x, lin in zip(inputs, linear_in):
        if lin:
            avals.append(x.aval)
            key += (None, x.aval)
            continue
        v = env[x] if type(x) is Var else x.value
        if type(v) is not np.ndarray:
            return None
        avals.append(ShapedArray.of_array(v.shape, v.dtype))
        key += (v.shape, v.dtype)
    for name, v in eqn.params.items():
        if callable(v):
            return None
        key += (name, v)
    try:
        k = tuple(key)
        transpose = _TRANSPOSES.peek(k, _NONE)
    except TypeError:
        return None
    if transpose is _NONE:
        transpose = _TRANSPOSES.put(
            k, _transpose_of(prim, avals, linear_in, get_aval(ct), eqn.params))
    return transpose


def _transpose_program(prim: Any, avals: list[ShapedArray], linear: list[bool],
                       ct_aval: ShapedArray, params: dict) -> Program:
    defined = [a for a, lin in zip(avals, linear) if not lin]
    zero: list[bool] = []

    def f(*args: Any) -> list[Any]:
        vals = iter(args[:-1])
        operands = [UndefinedPrimal(a) if lin else next(vals) for a, lin in zip(avals, linear)]
        cts = prim.transpose(args[-1], *operands, **params)
        zero[:] = [c is None or type(c) is Zero or not lin for c, lin in zip(cts, linear)]
        return [c for c, z in zip(cts, zero) if not z]

    closed = trace_to_jaxpr(f, [*defined, ct_aval], transform="grad")
    return Program(closed, [i for i, z in enumerate(zero) if not z])


__all__ = ["FALLBACKS", "LinearizeTrace", "Program", "transpose_of", "transposer"]
