"""Eager differentiation with each primitive's rules traced once per signature.

`linearize` (and so `vjp` and `grad`) of eager code runs `jvp` under partial evaluation:
every operation dispatches through three traces and stages its tangent equations one by
one, then the backward pass runs a transpose rule per equation. On NumPy arrays, what a
rule does depends only on the primitive, its params, its operands' avals and which operands
carry tangents (or are linear). So each is traced once per such signature into a jaxpr:

- `LinearizeTrace` traces the jvp rule and splits it with `partial_eval_jaxpr`; afterwards
  it calls the implementations of the known part directly and copies the linear equations
  into the linear jaxpr being built;
- `transpose_program` traces the transpose rule; `backward_pass` then calls the
  implementations of that jaxpr directly.

Everything else takes the general way: control flow and custom rules (their params hold
functions), tracers of enclosing transforms, CuPy arrays, and runs with `debug_nans` on.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core.errors import current_source_info
from fnad.core.ir import ClosedJaxpr, Eqn, ShapedArray, Var, get_aval
from fnad.core.primitive import Zero
from fnad.core.trace import EvalTrace, state
from fnad.interpreters.jvp import JVPTrace, JVPTracer
from fnad.interpreters.staging import StagedTracer, trace_to_jaxpr


class Program:
    """A jaxpr of concrete work as a generated Python function of straight-line
    implementation calls (no dispatch and no eager checks: its avals were checked when it
    was traced). `program(*args)` returns the list of outputs."""

    __slots__ = ("run", "mask")

    def __init__(self, closed: ClosedJaxpr, n_args: int):
        jaxpr = closed.jaxpr
        names: dict[int, str] = {}
        scope: dict[str, Any] = {"copy": np.array}

        def global_(value: Any) -> str:
            name = f"g{len(scope)}"
            scope[name] = value
            return name

        def atom(x: Any) -> str:
            return names[id(x)] if type(x) is Var else global_(x.value)

        for v, c in zip(jaxpr.constvars, closed.consts):
            names[id(v)] = global_(c)
        args = [f"a{i}" for i in range(n_args)]
        names.update((id(v), a) for v, a in zip(jaxpr.invars, args))
        body = []
        for e in jaxpr.eqns:
            impl = e.prim.impls.get("numpy")
            if impl is None:
                raise _Unsupported
            fn = global_(functools.partial(impl, **e.params) if e.params else impl)
            outs = []
            for v in e.outputs:
                names[id(v)] = f"t{len(names)}"
                outs.append(names[id(v)])
            target = ", ".join(outs) + ("," if e.prim.multiple_results else "")
            body.append(f"    {target} = {fn}({', '.join(atom(x) for x in e.inputs)})")
        # an output that is a constant of the rule is copied: callers never share it
        results = [names[id(x)] if type(x) is Var and x not in jaxpr.constvars
                   else f"copy({atom(x)})" for x in jaxpr.outvars]
        body.append(f"    return [{', '.join(results)}]")
        source = f"def run({', '.join(args)}):\n" + "\n".join(body)
        exec(compile(source, "<fnad rule>", "exec"), scope)  # noqa: S102 -- our own code
        self.run = scope["run"]
        self.mask: list[bool] | None = None  # set by `transpose_program`

    def __call__(self, *args: Any) -> list[Any]:
        return self.run(*args)


class _Unsupported(Exception):
    """The signature's linearization cannot be cached: use the general path."""


class CachedEqn(Eqn):
    """A linear equation copied from a `_LinearizeRule`, with its transpose `Program`
    traced in advance for the inputs that were linear in the rule (`linear_in`)."""

    __slots__ = ("transpose",)  # (linear_in, Program), or None

    def __init__(self, prim: Any, inputs: list[Any], outputs: list[Var], params: dict,
                 source_info: Any, transpose: tuple[list[bool], Program] | None):
        super().__init__(prim, inputs, outputs, params, source_info)
        self.transpose = transpose


def _template_transpose(eqn: Eqn, linear_in: list[bool]
                        ) -> tuple[list[bool], Program] | None:
    if eqn.prim.multiple_results or eqn.prim.transpose is None or not any(linear_in):
        return None
    try:
        return linear_in, _transpose_program(
            eqn.prim, [x.aval for x in eqn.inputs], linear_in, eqn.outputs[0].aval,
            eqn.params)
    except Exception:  # noqa: BLE001 -- the general way raises it in its own words
        return None


class _LinearizeRule:
    """One signature's linearization: known work (primals -> outputs and residuals) and
    the linear equations (residuals, tangents -> output tangents) as a template."""

    __slots__ = ("known", "n_out", "out_mask", "eqns", "n_in", "out_refs")

    def __init__(self, prim: Any, avals: list[ShapedArray], nonzero: Sequence[bool],
                 params: dict):
        from fnad.interpreters.partial_eval import partial_eval_jaxpr

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
        self.known = Program(known, n)
        self.n_out, self.out_mask = n_out, out_mask
        jaxpr = linear.jaxpr
        refs: dict[int, int] = {id(v): i for i, v in enumerate(jaxpr.invars)}
        self.n_in = len(jaxpr.invars)  # residuals, then tangents

        def ref(x: Any) -> Any:
            return refs[id(x)] if type(x) is Var else x

        self.eqns: list[tuple[Any, list[Any], list[ShapedArray], dict, Any]] = []
        for e in jaxpr.eqns:
            ins = [ref(x) for x in e.inputs]
            linear_in = [type(r) is int and r >= num_res for r in ins]
            self.eqns.append((e.prim, ins, [v.aval for v in e.outputs], e.params,
                              _template_transpose(e, linear_in)))
            for v in e.outputs:
                refs[id(v)] = len(refs)
        self.out_refs = [ref(x) for x in jaxpr.outvars]

    def stage(self, pe: Any, residuals: Sequence[Any], tangents: Sequence[Any]) -> list[Any]:
        """Copy the linear equations into `pe`'s jaxpr; returns the output tangents."""
        const = pe.builder.const
        atoms = [const(r) for r in residuals]
        for t in tangents:
            atoms.append(t._var if type(t) is StagedTracer and t._trace is pe
                         else pe.to_atom(t))
        if self.eqns:
            info = state.source_info or current_source_info()
            append = pe.builder.eqns.append
            for prim, ins, out_avals, params, transpose in self.eqns:
                if len(out_avals) == 1:
                    outs = [Var(out_avals[0])]
                    atoms.append(outs[0])
                else:
                    outs = [Var(a) for a in out_avals]
                    atoms += outs
                append(CachedEqn(prim, [atoms[i] if type(i) is int else i for i in ins],
                                 outs, params, info, transpose))
        out = []
        for r in self.out_refs:
            atom = atoms[r] if type(r) is int else r
            out.append(StagedTracer(pe, atom) if type(atom) is Var else atom.value)
        return out


_RULES: dict[tuple, _LinearizeRule | None] = {}  # signature -> rule, or None for the general path


class LinearizeTrace(JVPTrace):
    """`JVPTrace` over a `PartialEvalTrace`, taking the cached way where it can."""

    def process_primitive(self, prim: Any, args: tuple, params: dict) -> Any:
        pe = self.parent
        if (type(pe.parent) is not EvalTrace or EvalTrace.check_output is not None
                or prim.partial_eval is not None):
            return super().process_primitive(prim, args, params)
        key: list[Any] = [prim]
        primals, tangents = [], []
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
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
        if not tangents:
            return super().process_primitive(prim, args, params)
        for name, v in params.items():
            if callable(v):  # sub-jaxprs and functions: rules that run user code
                return super().process_primitive(prim, args, params)
            key += (name, v)
        try:
            k = tuple(key)
            rule = _RULES[k]
        except TypeError:  # an unhashable param
            return super().process_primitive(prim, args, params)
        except KeyError:
            rule = _derive(prim, primals, key, params, pe)
            if len(_RULES) > 20_000:
                _RULES.clear()
            _RULES[k] = rule
        if rule is None:
            return super().process_primitive(prim, args, params)
        saved = state.trace
        state.trace = pe.parent  # an implementation may bind primitives itself
        try:
            known = rule.known.run(*primals)
        finally:
            state.trace = saved
        n_out = rule.n_out
        touts = rule.stage(pe, known[n_out:], tangents)
        if not prim.multiple_results:
            return JVPTracer(self, known[0], touts[0]) if touts else known[0]
        touts = iter(touts)
        return [JVPTracer(self, p, next(touts)) if m else p
                for p, m in zip(known[:n_out], rule.out_mask)]


def _derive(prim: Any, primals: list[np.ndarray], key: list[Any], params: dict,
            pe: Any) -> _LinearizeRule | None:
    """The rule for a signature, or None when it must take the general path (an error
    while deriving is left for the general path to raise, in its own words)."""
    if getattr(prim, "effectful", False) or prim.jvp is None:
        return None
    nonzero = [k is True for k in key[1:1 + 3 * len(primals):3]]
    saved = state.trace
    state.trace = pe.parent
    try:
        return _LinearizeRule(prim, [get_aval(p) for p in primals], nonzero, params)
    except Exception:  # noqa: BLE001 -- see the docstring
        return None
    finally:
        state.trace = saved


def eager_rules() -> bool:
    """Rules may be cached: operations run on the eval trace, with no output checks."""
    return type(state.trace) is EvalTrace and EvalTrace.check_output is None


_TRANSPOSES: dict[tuple, Program | None] = {}


def transpose_program(eqn: Eqn, ins: Sequence[Any], ct: np.ndarray) -> Program | None:
    """The transpose rule of `eqn` for these operands (arrays, and `UndefinedPrimal`s for
    the linear ones) as a `Program`: the defined operands, then the cotangent -> the
    nonzero cotangents, `mask` telling which operands get none. None means the general way.
    """
    from fnad.interpreters.transpose import UndefinedPrimal

    if not eager_rules():
        return None
    prim = eqn.prim
    if prim.multiple_results or prim.transpose is None:
        return None
    key: list[Any] = [prim, ct.shape, ct.dtype]
    for x in ins:
        if type(x) is np.ndarray:
            key += (x.shape, x.dtype)
        elif type(x) is UndefinedPrimal:
            key += (None, x.aval)
        else:
            return None
    for name, v in eqn.params.items():
        if callable(v):
            return None
        key += (name, v)
    try:
        k = tuple(key)
        return _TRANSPOSES[k]
    except TypeError:
        return None
    except KeyError:
        pass
    try:
        program = _transpose_program(prim, [get_aval(x) for x in ins],
                                     [type(x) is UndefinedPrimal for x in ins],
                                     get_aval(ct), eqn.params)
    except Exception:  # noqa: BLE001 -- the general way raises it in its own words
        program = None
    if len(_TRANSPOSES) > 20_000:
        _TRANSPOSES.clear()
    _TRANSPOSES[k] = program
    return program


def _transpose_program(prim: Any, avals: list[ShapedArray], linear: list[bool],
                       ct_aval: ShapedArray, params: dict) -> Program:
    from fnad.interpreters.transpose import UndefinedPrimal

    defined = [a for a, lin in zip(avals, linear) if not lin]
    zero: list[bool] = []

    def f(*args: Any) -> list[Any]:
        vals = iter(args[:-1])
        operands = [UndefinedPrimal(a) if lin else next(vals) for a, lin in zip(avals, linear)]
        cts = prim.transpose(args[-1], *operands, **params)
        zero[:] = [c is None or type(c) is Zero or not lin for c, lin in zip(cts, linear)]
        return [c for c, z in zip(cts, zero) if not z]

    closed = trace_to_jaxpr(f, [*defined, ct_aval], transform="grad")
    program = Program(closed, len(defined) + 1)
    program.mask = zero
    return program


__all__ = ["CachedEqn", "LinearizeTrace", "Program", "eager_rules", "transpose_program"]
